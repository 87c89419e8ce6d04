#!/bin/bash
# run-badinput.sh - bad input through kyso-milter between two watched
# domains: no From, several From, broken MIME, 8-bit headers, 10,000
# parts, 200 levels of nesting, a 60 MB attachment over MaxMessageSize,
# 100 KB header lines, odd header names, empty body, bare CR, NUL bytes.
# Each must end with the decision doc/bad-input.md gives, one decision
# record and one ASCII log line, and the daemon must go on answering with
# bounded memory.  The messages are made by mkbad.py in the work folder at
# test time.  TAP output.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/milter/common.sh"

common_need miltertest jq python3
common_fixtures
common_workdir kyso-badinput
bad=$work/bad
mkdir -p "$work/tmp"

python3 "$here/mkbad.py" gen "$fx" "$bad"; ok $? "mkbad.py made the bad messages"
: >"$work/modes.table"
write_conf "CRLs $fx/pki/crl" "MaxMessageSize 50M" "SpoolThreshold 1M" \
  "TempDirectory $work/tmp"
start_milter; ok $? "daemon listens on its local socket"

# the cases miltertest can send
run_lua "$here/badinput.lua" BAD="$bad" MILTER_PID="$pid"

# rawsend NAME WANT - a case miltertest cannot send, through mkbad.py's
# client; WANT is a pattern for its one-line answer.
rawsend() {
  local got
  got=$(python3 "$here/mkbad.py" send "$work/milter.sock" "$bad/$1.eml" "BI-$1" 60)
  echo "# $1: $got"
  # shellcheck disable=SC2053  # $2 is a pattern
  [[ $got == $2 ]]
}
rawsend long-subject-60k-signed continue; ok $? "long-subject-60k-signed: accept"
rawsend long-subject-100k-signed continue; ok $? "long-subject-100k-signed: accept"
rawsend long-junk-100k-unsigned "reply 550*"; ok $? "long-junk-100k-unsigned: reject"
rawsend empty-body continue; ok $? "empty-body: accept"
kill -0 "$pid" 2>/dev/null; ok $? "the daemon is still running"

# rec NAME FILTER - exactly one decision record for NAME's Message-ID,
# and FILTER is true of it.
rec() {
  jq -s -e --arg id "<$1@bad.kyso.test>" \
    "[.[] | select(.message_id == \$id)] | length == 1 and (.[0] | $2)" "$recs" >/dev/null
}
# logline NAME - exactly one decision line for NAME's queue id in the log,
# printable ASCII only and shorter than 1024 bytes.
logline() {
  local lines
  lines=$(LC_ALL=C grep -a " info: BI-$1: ref=KS-" "$work/milter.log")
  [ -n "$lines" ] && [ "$(printf '%s\n' "$lines" | wc -l)" -eq 1 ] &&
    ! printf '%s' "$lines" | LC_ALL=C grep -q '[^ -~]' && [ "${#lines}" -lt 1024 ]
}
# decided NAME WHAT FILTER - record and log line for NAME.
decided() {
  rec "$1" "$3"; ok $? "$1: recorded: $2"
  logline "$1"; ok $? "$1: one ASCII log line"
}

reject() {  # reject REASON-PATTERN XCODE - the filter of a refusal
  echo ".action == \"reject\" and (.reason | test(\"^($1)\$\")) and
        (.smtp_reply | test(\"^550 $2 .*[(]($1)[)].* [|] Message refused: \"))"
}
accept_ok='.action == "accept" and .reason == "ok" and .documents[0].reason == "ok"'
limit=$(reject limit_exceeded 5.7.1)
unsigned=$(reject unsigned 5.7.1)
notvalid=$(reject 'unsigned|malformed|digest_mismatch|bad_byterange|bad_signature' '5.7.[17]')

decided big-60m "reject limit_exceeded, 550 5.7.1" "$limit and .documents == []"
grep -q "BI-big-60m: .*reason=limit_exceeded" "$work/milter.log"
ok $? "big-60m: the log line says limit_exceeded"
decided parts-10000 "reject limit_exceeded" "$limit"
decided depth-multipart-200 "reject limit_exceeded" "$limit"
decided depth-rfc822-200 "reject limit_exceeded" "$limit"

decided nofrom-signed "accept, hdr_from null" "$accept_ok and .hdr_from == null"
decided nofrom-unsigned "reject unsigned, hdr_from null" "$unsigned and .hdr_from == null"
decided twofrom-signed "accept, hdr_from the first" \
  "$accept_ok and .hdr_from == \"vanthu@sotttt.demo.gov.vn\""
decided twofrom-unsigned "reject unsigned, hdr_from the first" \
  "$unsigned and .hdr_from == \"vanthu@sotttt.demo.gov.vn\""

decided unclosed-signed "accept (the PDF is whole)" "$accept_ok"
decided unclosed-unsigned "reject unsigned" "$unsigned"
decided garbage-unsigned "reject unsigned" "$unsigned"
decided nocolon-unsigned "reject (unsigned or malformed)" "$notvalid"
decided nocolon-signed "valid only when decoded whole" \
  "($accept_ok) or ($notvalid)"
decided b64-inserted-signed "accept (characters outside base64 are skipped)" "$accept_ok"
decided b64-replaced-signed "reject, not valid" "$notvalid"
decided b64-replaced-unsigned "reject, not valid" "$notvalid"

decided utf8-signed "accept, subject and file name in UTF-8" \
  "$accept_ok and .subject == \"Công văn số 12 về việc ký số\" and
   .documents[0].name == \"Công văn số 12.pdf\""
decided latin1-unsigned "reject unsigned, subject kept as text" \
  "$unsigned and (.subject | test(\"^Th.+ng b.+o .+t.+\$\"))"
for c in utf8-signed latin1-unsigned; do
  grep -a "\"message_id\":\"<$c@bad.kyso.test>\"" "$recs" | iconv -f UTF-8 -t UTF-8 >/dev/null
  ok $? "$c: the record is valid UTF-8"
done
decided hdrname-space "reject unsigned" "$unsigned"
decided hdrname-8bit "accept" "$accept_ok"
decided cr-only-unsigned "reject, not no_documents (CR-splitting parsers see the PDF)" \
  "$notvalid"
decided nul-unsigned "reject unsigned" "$unsigned"

decided long-subject-60k-signed "accept" "$accept_ok and (.subject | length) > 60000"
decided long-subject-100k-signed "accept" "$accept_ok"
decided long-junk-100k-unsigned "reject unsigned" "$unsigned"
decided empty-body "accept, no documents" '.action == "accept" and .reason == "no_documents"'

hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
echo "# VmHWM of the daemon at the end: ${hwm:-?} kB"
[ -n "$hwm" ] && [ "$hwm" -lt $((300 * 1024)) ]
ok $? "peak memory of the whole run under 300 MB"
[ -z "$(ls -A "$work/tmp")" ]; ok $? "no spool file left behind"
! grep -q -i "sanitizer\|segmentation\|assert" "$work/milter.log"
ok $? "no crash report in the log"
stop_milter; ok $? "SIGTERM stops the daemon"
[ "$exit_rc" = 0 ]; ok $? "it exits 0"
tap_finish
