# common.sh - what the kyso-milter test drivers share (run-milter.sh,
# run-badinput.sh): TAP counting, the fixtures, a private work folder
# removed at exit, the configuration file, starting and stopping the
# daemon with bounded waits, running a miltertest suite with its checks
# renumbered, and assertions over the decision records.
#
# Sourced by bash, never run.  It starts nothing by itself; it must never
# signal a process it did not start (only $pid, the daemon it launched),
# and never leave the work folder behind unless KYSO_KEEP=1.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
milter=$top_builddir/milter/kyso-milter
fx=${KYSO_FIXTURES:-$top_builddir/tests/out/fixtures}
here=$top_srcdir/tests/milter
n=0
failed=0
pid=
work=

# ok STATUS NAME - one TAP line, "ok" when STATUS is 0; counts failures.
ok() {
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# common_need TOOL... - skip the whole script (TAP plan 1..0) when a tool
# is missing.  Exits on a skip.
common_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed"; exit 0; }
  done
}

# common_fixtures - make sure the generated fixtures exist, building them
# when they do not.  Exits with one failed check when they cannot be built.
common_fixtures() {
  if [ ! -f "$fx/mail/unsigned-pdf.eml" ]; then
    bash "$top_srcdir/tests/fixtures/mkfixtures.sh" "$fx" >"$fx.log" 2>&1 ||
      { echo "1..1"; echo "not ok 1 - fixtures failed, see $fx.log"; exit 1; }
  fi
}

# common_cleanup - the EXIT trap: stop our daemon (if still running) and
# remove the work folder unless KYSO_KEEP=1.
common_cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$work" ] && [ "${KYSO_KEEP:-0}" != 1 ] && rm -rf "$work"
}

# common_workdir PREFIX - a new folder /tmp/PREFIX.XXXXXX in $work, with
# store/ inside, removed at exit.  Exits (one failed check) on failure.
common_workdir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX") || { echo "1..1"; echo "not ok 1 - mktemp"; exit 1; }
  trap common_cleanup EXIT
  mkdir -p "$work/store"
  recs=$work/store/decisions.jsonl
}

# write_conf EXTRA-LINES... - the daemon's configuration in
# $work/kyso-milter.conf: a private socket, file store, no syslog, no
# notices, the test PKI, *.demo.gov.vn watched; EXTRA-LINES come last
# (line 13 onwards).
write_conf() {
  {
    echo "Socket local:$work/milter.sock"
    echo "PidFile $work/milter.pid"
    echo "Syslog no"
    echo "AuthservID mt.test"
    echo "NodeName node-a"
    echo "TrustAnchors $fx/pki/anchors"
    echo "Intermediates $fx/pki/intermediates"
    echo "EnforceDomains *.demo.gov.vn"
    echo "ModeTable $work/modes.table"
    echo "ExemptAddresses scanner@sotttt.demo.gov.vn"
    echo "Store file:$work/store"
    echo "Notify no"
    printf '%s\n' "$@"
  } >"$work/kyso-milter.conf"
}

# start_milter - run the daemon in the foreground (background job, log in
# $work/milter.log, pid in $pid) and wait at most 5 s for its socket.
# Returns 0 when the socket is there, 1 when it is not (daemon died or
# too slow; $pid stays set so that the trap stops it).
start_milter() {
  rm -f "$work/milter.sock"
  "$milter" -f -c "$work/kyso-milter.conf" 2>"$work/milter.log" &
  pid=$!
  for _ in $(seq 50); do
    [ -S "$work/milter.sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  [ -S "$work/milter.sock" ]
}

# stop_milter - SIGTERM the daemon and wait at most 10 s for it to end.
# Returns 0 when it ended, with its exit status in $exit_rc and $pid
# cleared; 1 when it is still running ($pid kept for the trap).
stop_milter() {
  exit_rc=
  [ -n "$pid" ] || return 1
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && return 1
  wait "$pid"
  # shellcheck disable=SC2034  # read by the drivers
  exit_rc=$?
  pid=
  return 0
}

# run_lua FILE [NAME=VALUE...] - run one miltertest suite against the
# daemon, with the given extra environment, killed after 300 s; its
# "ok -"/"not ok -" lines become numbered checks, anything else a TAP
# comment, and one more check says whether the script ran to its end.
run_lua() {
  local out line script=$1
  shift
  out=$(env MILTER_SOCKET="local:$work/milter.sock" MILTER_LIB="$here/lib.lua" \
        FIXTURES="$work/fx" "$@" timeout 300 miltertest -s "$script" 2>&1)
  local rc=$?
  while IFS= read -r line; do
    case $line in
      "ok - "*) ok 0 "${line#ok - }" ;;
      "not ok - "*) ok 1 "${line#not ok - }" ;;
      *) echo "# $line" ;;
    esac
  done <<<"$out"
  ok $rc "$(basename "$script") ran to its end"
}

# jq_all FILTER - FILTER (a select and a test) gives at least one result
# over the records in $recs and all are true.  (jq 1.6's -e looks only at
# the last input line, hence -s.)
jq_all() { jq -s -e "[.[] | $1] | (length > 0 and all)" "$recs" >/dev/null; }

# tap_finish - the daemon log's tail as comments when a check failed, the
# TAP plan, and the script's status (0 only when every check passed).
tap_finish() {
  if [ "$failed" -ne 0 ] && [ -n "$work" ] && [ -f "$work/milter.log" ]; then
    echo "# daemon log:"
    sed 's/^/#   /' "$work/milter.log" | tail -40
  fi
  echo "1..$n"
  [ "$failed" -eq 0 ]
}
