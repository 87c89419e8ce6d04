# shellcheck shell=bash
# tests/e2e/common.sh - what the end-to-end TAP scripts share (run-enforce.sh,
# run-kinds.sh, run-restart.sh): the skip rules, the paths, postfix.sh, TAP
# counting, the fixtures, a private work folder whose EXIT trap stops what
# the script started, the kyso-milter configuration, starting and stopping
# the daemon with bounded waits, and the closing TAP plan.
#
# Sourced by bash, never run.  Apart from defining variables and functions
# it starts nothing.  It must never signal a process the script did not
# start (only $mpid, the daemon, $bgpid, one helper job, and the private
# Postfix instances under $base), never touch the system Postfix, and
# never leave the work folder behind unless KYSO_E2E_KEEP=1.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
. "$top_srcdir/tests/e2e/postfix.sh"
milter=$top_builddir/milter/kyso-milter
fx=${KYSO_FIXTURES:-$top_builddir/tests/out/fixtures}
# shellcheck disable=SC2034  # the SMTP client the scripts run
send=$top_srcdir/tests/e2e/smtp-send.py
n=0 failed=0
base='' conf='' sock='' recs='' mpid='' bgpid=''

# ok STATUS NAME - one TAP line, "ok" when STATUS is 0; counts failures.
ok() {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# e2e_require [TOOL...] - skip the whole script (TAP plan 1..0, exit 0)
# when KYSO_E2E_SKIP is set, when not run as root (Postfix's master needs
# it), or when a TOOL is not installed.  Returns only when none applies.
e2e_require() {
  local t
  if [ -n "${KYSO_E2E_SKIP:-}" ]; then echo "1..0 # SKIP KYSO_E2E_SKIP is set"; exit 0; fi
  if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP a private Postfix instance needs root"; exit 0; fi
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "1..0 # SKIP $t is not installed"; exit 0; }
  done
}

# e2e_fixtures FILE... - make sure the generated fixtures exist (FILE is
# relative to $fx), building them all with tests/fixtures/mkfixtures.sh
# when one is missing.  Exits with one failed check when that fails.
e2e_fixtures() {
  local f
  for f in "$@"; do
    [ -f "$fx/$f" ] && continue
    bash "$top_srcdir/tests/fixtures/mkfixtures.sh" "$fx" >"$fx.log" 2>&1 ||
      { echo "1..1"; echo "not ok 1 - fixtures failed, see $fx.log"; exit 1; }
    return 0
  done
}

# e2e_cleanup - the EXIT trap: kill the helper job $bgpid and the daemon
# $mpid when still set, stop every Postfix instance laid out directly under
# $base (DIR/etc/main.cf), and remove $base unless KYSO_E2E_KEEP=1 (then
# say where it is).  Never fails the script.
e2e_cleanup() {
  local cf
  [ -n "$bgpid" ] && kill "$bgpid" 2>/dev/null && wait "$bgpid" 2>/dev/null
  [ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
  [ -n "$base" ] || return 0
  for cf in "$base"/*/etc/main.cf; do
    [ -f "$cf" ] && pf_stop "${cf%/etc/main.cf}" >/dev/null 2>&1
  done
  if [ "${KYSO_E2E_KEEP:-0}" = 1 ]; then echo "# kept: $base"; else rm -rf "$base"; fi
}

# e2e_workdir NAME - a new folder /tmp/kyso-e2e-NAME.XXXXXX in $base, mode
# 0755 (the postfix and nobody users must reach the instances below it),
# with store/ inside and e2e_cleanup as the EXIT trap.  Sets $conf (the
# daemon's configuration file), $sock (its socket) and $recs (the decision
# records).  Exits with one failed check when the folder cannot be made.
e2e_workdir() {
  if ! base=$(mktemp -d "/tmp/kyso-e2e-$1.XXXXXX") || ! chmod 0755 "$base"; then
    echo "1..1"; echo "not ok 1 - cannot make the work folder"; exit 1
  fi
  trap e2e_cleanup EXIT
  mkdir -p "$base/store"
  # shellcheck disable=SC2034  # read by the scripts
  conf=$base/kyso-milter.conf sock=$base/milter.sock recs=$base/store/decisions.jsonl
}

# e2e_write_conf [--no-crls] NODENAME [LINE...] - write $conf: the socket
# $sock (mode 0666, for Postfix), no syslog, AuthservID mx.kyso.test, node
# NODENAME, the fixtures' trust anchors, intermediates and (unless
# --no-crls) CRLs, *.demo.gov.vn watched, the file store in $base/store;
# then each LINE as given.  Fails when the file cannot be written.
e2e_write_conf() {
  local crls="CRLs $fx/pki/crl"
  if [ "$1" = --no-crls ]; then crls=''; shift; fi
  {
    echo "Socket local:$sock"
    echo "SocketMode 0666"
    echo "Syslog no"
    echo "AuthservID mx.kyso.test"
    echo "NodeName $1"
    echo "TrustAnchors $fx/pki/anchors"
    echo "Intermediates $fx/pki/intermediates"
    [ -z "$crls" ] || echo "$crls"
    echo "EnforceDomains *.demo.gov.vn"
    echo "Store file:$base/store"
    shift
    [ $# -eq 0 ] || printf '%s\n' "$@"
  } >"$conf"
}

# e2e_milter_start [STARTS] - run the daemon on $conf in the foreground as a
# background job (stderr appended to $base/milter.log, pid in $mpid) and
# wait at most 5 s until $sock exists and the log holds at least STARTS
# (default 1) "started on local:" lines, so that a stale socket file left
# by an earlier daemon does not count.  Returns 0 then, 1 when the daemon
# died or was too slow ($mpid stays set for the trap).
e2e_milter_start() {
  local want=${1:-1}
  "$milter" -f -c "$conf" 2>>"$base/milter.log" &
  mpid=$!
  for _ in $(seq 50); do
    [ -S "$sock" ] && [ "$(grep -c ' started on local:' "$base/milter.log")" -ge "$want" ] &&
      return 0
    kill -0 "$mpid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# e2e_milter_stop - SIGTERM the daemon $mpid and wait at most 10 s for it.
# Returns its exit status and clears $mpid when it ended; returns 1 when
# there is none or it still runs ($mpid kept for the trap).
e2e_milter_stop() {
  local rc=0 tenths=0
  [ -n "$mpid" ] || return 1
  kill -TERM "$mpid" 2>/dev/null
  while kill -0 "$mpid" 2>/dev/null; do
    [ $((tenths += 1)) -le 100 ] || return 1
    sleep 0.1
  done
  wait "$mpid" || rc=$?
  mpid=
  return "$rc"
}

# e2e_finish [LABEL DIR]... - when a check failed, the last 20 lines of the
# daemon's log and of each Postfix instance DIR's maillog (headed LABEL) as
# TAP comments; then the plan.  Returns 0 only when every check passed.
e2e_finish() {
  if [ "$failed" -ne 0 ]; then
    echo "# milter log:"; tail -20 "$base/milter.log" | sed 's/^/#   /'
    while [ $# -ge 2 ]; do
      echo "# $1:"; tail -20 "$2/maillog" | sed 's/^/#   /'
      shift 2
    done
  fi
  echo "1..$n"
  [ "$failed" -eq 0 ]
}
