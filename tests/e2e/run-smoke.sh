#!/bin/bash
# tests/e2e/run-smoke.sh - TAP smoke test of the end-to-end harness itself
# (tests/e2e/postfix.sh and smtp-send.py), with no milter: a private Postfix
# instance receives on its incoming port, on its submission port with SMTP
# AUTH, and from its sendmail command, delivers into per-recipient Maildirs
# and logs to its own maillog; a second instance runs beside it; both stop
# without leaving a process behind.
#
# It must never touch the system Postfix, and never leave an instance
# running or files behind (unless KYSO_E2E_KEEP=1 asks to keep them).
# KYSO_E2E_SKIP set: prints "1..0 # SKIP" and exits 0. Needs root.
set -u

if [ -n "${KYSO_E2E_SKIP:-}" ]; then
  echo "1..0 # SKIP KYSO_E2E_SKIP is set"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP a private Postfix instance needs root"
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=postfix.sh
. "$here/postfix.sh"

base=$(mktemp -d /tmp/kyso-e2e-smoke.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
chmod 0755 "$base"
A=$base/a
B=$base/b

# cleanup - stop both instances and remove their files, unless
# KYSO_E2E_KEEP=1, which leaves files and still-running instances alone.
cleanup() {
  local dir
  if [ "${KYSO_E2E_KEEP:-0}" = 1 ]; then
    echo "# KYSO_E2E_KEEP=1: files kept in $base"
    for dir in "$A" "$B"; do
      if pf_running "$dir"; then echo "# still running: $dir (stop it with pf_stop $dir)"; fi
    done
    return
  fi
  pf_stop "$A" >/dev/null 2>&1
  pf_stop "$B" >/dev/null 2>&1
  rm -rf "$base"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
failed=0
# t NAME CMD... - run CMD in a subshell; print "ok N - NAME" when it
# succeeds, else "not ok N - NAME" and CMD's output as TAP comments and
# return 1.
t() {
  local name=$1 t_out; shift
  n=$((n + 1))
  if t_out=$("$@" 2>&1); then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name"
    failed=$((failed + 1))
    printf '%s\n' "$t_out" | sed 's/^/#   /'
    return 1
  fi
}

# bail WHY - give up: the rest cannot run.
bail() {
  echo "Bail out! $*"
  exit 1
}

# send PORT ARGS... - smtp-send.py to 127.0.0.1:PORT; prints its output.
send() {
  local port=$1; shift
  python3 "$here/smtp-send.py" --port "$port" "$@"
}

# expect_result WANT OUTPUT - succeed when OUTPUT is "RESULT WANT ...".
expect_result() {
  case "$2" in
    "RESULT $1 "*) return 0 ;;
    *) echo "wanted RESULT $1, got: $2"; return 1 ;;
  esac
}

# has_mail DIR ADDR N HEADERLINE... - ADDR's Maildir holds N messages and the
# newest one contains each HEADERLINE as a whole line.
has_mail() {
  local dir=$1 addr=$2 n=$3 list newest line; shift 3
  list=$(pf_wait_mail "$dir" "$addr" "$n" 20) || return 1
  newest=$(printf '%s\n' "$list" | tail -n 1)
  for line in "$@"; do
    grep -qxF "$line" "$newest" || { echo "no line '$line' in $newest:"; cat "$newest"; return 1; }
  done
}

# count_mail DIR ADDR WANT - ADDR's Maildir holds exactly WANT messages now.
count_mail() {
  local got
  got=$(find "$(pf_maildir "$1" "$2")/new" "$(pf_maildir "$1" "$2")/cur" -type f 2>/dev/null |
    wc -l)
  [ "$got" -eq "$3" ] || { echo "$2 has $got message(s) in $1, wanted $3"; return 1; }
}

# log_has DIR PATTERN COUNT - the maillog has at least COUNT lines matching
# the extended regular expression PATTERN.
log_has() {
  local got
  got=$(pf_log "$1" | grep -cE "$2") || true
  [ "$got" -ge "$3" ] || { echo "$got line(s) match '$2', wanted $3"; pf_log "$1"; return 1; }
}

# gone DIR MASTER_PID - no process of the instance is left and its master
# is gone.
gone() {
  local left
  left=$(pf_pids "$1")
  [ -z "$left" ] || { echo "left: $left"; return 1; }
  ! pf__alive "$2" || { echo "master $2 still alive"; return 1; }
}

echo "1..19"
tag="smoke-$$-$RANDOM"
msg=$base/msg.eml

# A message whose Subject carries this run's tag.
# write_msg FROM TO SUBJECT - write $msg.
write_msg() {
  printf 'From: <%s>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s@one.example>\n\n%s\n%s\n' \
    "$1" "$2" "$3" "$3" "body of $3" ".line with a dot" >"$msg"
}

start=$SECONDS
t "instance A starts without a milter" pf_start "$A" || bail "instance A did not start"
pa=$(pf_port "$A")
sa=$(pf_submit_port "$A")
masterA=$(pf_master_pid "$A")

# 1. incoming port, two recipients
write_msg a@one.example b@two.example "$tag plain"
out=$(send "$pa" --from a@one.example --to b@two.example --to c@two.example "$msg")
t "incoming port accepts a plain message (250)" expect_result 250 "$out"
t "b@two.example got it, right Subject" has_mail "$A" b@two.example 1 \
  "Subject: $tag plain" "Return-Path: <a@one.example>" ".line with a dot"
t "c@two.example got it, right Subject" has_mail "$A" c@two.example 1 "Subject: $tag plain"

# 2. submission port, SMTP AUTH
t "pf_add_user creates an AUTH user" pf_add_user "$A" vanthu@one.example "pw-$tag"
write_msg vanthu@one.example b@two.example "$tag auth"
out=$(send "$sa" --auth vanthu@one.example "pw-$tag" --from vanthu@one.example \
  --to b@two.example "$msg")
t "submission with the right password is accepted (250)" expect_result 250 "$out"
t "the authenticated message is delivered" has_mail "$A" b@two.example 2 "Subject: $tag auth"
t "the log names the SASL user" \
  log_has "$A" "postfix/submission/smtpd.*sasl_method=PLAIN, sasl_username=vanthu@one.example" 1
out=$(send "$sa" --auth vanthu@one.example "wrong-$tag" --from vanthu@one.example \
  --to b@two.example "$msg")
t "submission with a wrong password is refused (535)" expect_result 535 "$out"
out=$(send "$sa" --from a@one.example --to b@two.example "$msg")
t "submission without AUTH is refused (554)" expect_result 554 "$out"

# 3. the sendmail command, null sender
write_msg MAILER-DAEMON@one.example c@two.example "$tag notice"
t "pf_sendmail -f '' succeeds" pf_sendmail "$A" -f '' c@two.example <"$msg"
t "the null-sender notice is delivered" has_mail "$A" c@two.example 2 \
  "Subject: $tag notice" "Return-Path: <>"

# 4. log and queue
t "the maillog shows the deliveries by virtual(8)" \
  log_has "$A" "to=<[bc]@two.example>, relay=virtual, .*status=sent \(delivered to maildir\)" 4
# queue_clean - A's queue drained and its hold queue is empty.
queue_clean() {
  pf_queue_empty_wait "$A" 10 && [ -z "$(pf_hold_list "$A")" ]
}
t "the queue drains and nothing is on hold" queue_clean

# 5. a second instance beside the first
# start_b - B starts while A runs, on ports other than A's.
start_b() {
  pf_start "$B" && [ "$(pf_port "$B")" != "$pa" ] && [ "$(pf_submit_port "$B")" != "$sa" ]
}
t "instance B starts while A runs, on other ports" start_b
masterB=$(pf_master_pid "$B")
write_msg a@one.example b@two.example "$tag second"
# send_b - a message sent to B lands in B's Maildir, and A's is unchanged.
send_b() {
  expect_result 250 "$(send "$(pf_port "$B")" --from a@one.example --to b@two.example "$msg")" &&
    has_mail "$B" b@two.example 1 "Subject: $tag second" && count_mail "$A" b@two.example 2
}
t "B delivers into its own Maildir only" send_b

# 6. stopping
# stop_a - stopping A leaves none of its processes and B running.
stop_a() {
  pf_stop "$A" && gone "$A" "$masterA" && pf_running "$B"
}
t "pf_stop A leaves no process of A, B still runs" stop_a
# send_nobody - smtp-send.py exits 2 when nothing listens on the port.
send_nobody() {
  local rc=0
  send "$pa" --from a@one.example --to b@two.example "$msg" || rc=$?
  [ "$rc" -eq 2 ] || { echo "exit status $rc, wanted 2"; return 1; }
}
t "smtp-send.py exits 2 when nobody listens" send_nobody
# stop_b - stopping B leaves none of its processes.
stop_b() {
  pf_stop "$B" && gone "$B" "$masterB"
}
t "pf_stop B leaves no process of B" stop_b

echo "# $((SECONDS - start)) s"
[ "$failed" -eq 0 ]
