#!/bin/bash
# run-milter.sh - kyso-milter driven by miltertest (the MTA side of the
# milter protocol), on a private local socket, with the test PKI and mail
# fixtures: enforce-mode decisions, a reload to other actions, a broken
# reload that keeps the running configuration, the decision records in the
# store, "kyso-milter -n", and a clean stop on SIGTERM.  TAP output.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
milter=$top_builddir/milter/kyso-milter
fx=${KYSO_FIXTURES:-$top_builddir/tests/out/fixtures}
here=$top_srcdir/tests/milter
n=0
failed=0

ok() {  # ok COND-STATUS NAME
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

if ! command -v miltertest >/dev/null; then echo "1..0 # SKIP miltertest not installed"; exit 0; fi
if [ ! -f "$fx/mail/unsigned-pdf.eml" ]; then
  bash "$top_srcdir/tests/fixtures/mkfixtures.sh" "$fx" >"$fx.log" 2>&1 ||
    { echo "1..1"; echo "not ok 1 - fixtures failed, see $fx.log"; exit 1; }
fi

work=$(mktemp -d /tmp/kyso-milter-test.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ "${KYSO_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/store"

# a message with the tampered PDF, built from the fixture
python3 - "$fx/pdf/attack/digest-mismatch.pdf" "$work/tampered-pdf.eml" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "vanthu@sotttt.demo.gov.vn"; m["To"] = "tiepnhan@ubnd.demo.gov.vn"
m["Subject"] = "Công văn đã bị sửa"; m["Message-ID"] = "<tampered@fixtures.kyso.test>"
m.set_content("Kính gửi,\n")
m.add_attachment(open(sys.argv[1], "rb").read(), maintype="application", subtype="pdf",
                 filename="cong-van-so-12.pdf")
open(sys.argv[2], "wb").write(bytes(m))
PY
mkdir -p "$work/fx/mail" && ln -sf "$fx"/mail/*.eml "$work/fx/mail/" && cp "$work/tampered-pdf.eml" "$work/fx/mail/"

echo "pilot.demo.gov.vn monitor" >"$work/modes.table"
write_conf() {  # write_conf EXTRA-LINES...
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

write_conf "CRLs $fx/pki/crl"
"$milter" -n -c "$work/kyso-milter.conf" >/dev/null 2>&1
ok $? "kyso-milter -n accepts a good configuration"

"$milter" -f -c "$work/kyso-milter.conf" 2>"$work/milter.log" &
pid=$!
for _ in $(seq 50); do [ -S "$work/milter.sock" ] && break; sleep 0.1; done
[ -S "$work/milter.sock" ]; ok $? "daemon listens on its local socket"
[ "$(cat "$work/milter.pid" 2>/dev/null)" = "$pid" ]; ok $? "PidFile holds the daemon's pid"

# run_lua FILE - run one miltertest suite, renumbering its checks
run_lua() {
  local out line
  out=$(MILTER_SOCKET="local:$work/milter.sock" MILTER_LIB="$here/lib.lua" FIXTURES="$work/fx" \
        miltertest -s "$1" 2>&1)
  local rc=$?
  while IFS= read -r line; do
    case $line in
      "ok - "*) ok 0 "${line#ok - }" ;;
      "not ok - "*) ok 1 "${line#not ok - }" ;;
      *) echo "# $line" ;;
    esac
  done <<<"$out"
  ok $rc "$(basename "$1") ran to its end"
}
run_lua "$here/enforce.lua"

# every message above has one decision record, and refusals are explained
recs=$work/store/decisions.jsonl
# jq_all FILTER - FILTER (a select and a test) gives at least one result
# and all are true.  (jq 1.6's -e looks only at the last input line.)
jq_all() { jq -s -e "[.[] | $1] | (length > 0 and all)" "$recs" >/dev/null; }
[ "$(wc -l <"$recs")" -eq 9 ]; ok $? "one decision record per message (9)"
jq_all 'select(.reason == "unsigned" and .action == "reject") |
       (.ref | test("^KS-[0-9A-Z]{12}$")) and (.smtp_reply | test("^550 5.7.1 .*unsigned"))
       and .env_from == "vanthu@sotttt.demo.gov.vn" and .node == "node-a"'
ok $? "the unsigned refusal is recorded with ref, reply, sender and node"
jq_all 'select(.reason == "digest_mismatch") | .documents[0].name == "cong-van-so-12.pdf"
  and (.smtp_reply | test("^550 5.7.7 Thu bi tu choi: tep dinh kem .cong-van-so-12.pdf.: .* [|] " +
                          "Message refused: attachment .cong-van-so-12.pdf.: .*Reference: KS-"))'
ok $? "the tampered document: 550 5.7.7, named in Vietnamese and English lines"
jq_all 'select(.reason == "limit_exceeded") | .smtp_reply | test("^550 5.7.1 ")'
ok $? "over MaxParts: 550 5.7.1 limit_exceeded"
ref=$(jq -r 'select(.reason == "unsigned" and .action == "reject") | .ref' "$recs" | head -1)
grep -q "ref=$ref" "$work/milter.log"; ok $? "the log line carries the same reference id"
jq_all 'select(.mode == "monitor") | .action == "accept" and .would == "reject"'
ok $? "monitor mode records what enforce would have done"

# reload: quarantine unsigned mail, and no CRLs (revocation unknown)
write_conf "On-Unsigned quarantine"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "generation 2" "$work/milter.log" && break; sleep 0.1; done
grep -q "reloaded: generation 2" "$work/milter.log"; ok $? "SIGHUP reloads the configuration"
run_lua "$here/actions.lua"
jq_all 'select(.reason == "revocation_unknown") | .action == "tempfail" and
       (.smtp_reply | test("^451 4.7.1 Thu tam thoi chua duoc nhan"))'
ok $? "revocation unknown: 451 4.7.1, recorded"

# a broken file keeps the running configuration, and says where it is wrong
write_conf "On-Unsigned quarantine" "EnforceDomain *.gov.vn"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "reload failed" "$work/milter.log" && break; sleep 0.1; done
grep -q "reload failed, still running generation 2: .*kyso-milter.conf:14: unknown key" \
  "$work/milter.log"
ok $? "a broken reload names file and line and keeps generation 2"
kill -0 "$pid" 2>/dev/null; ok $? "the daemon is still running after a broken reload"
run_lua "$here/actions.lua"

"$milter" -n -c "$work/kyso-milter.conf" >/dev/null 2>"$work/n.err"
[ $? -eq 1 ] && grep -q "kyso-milter.conf:14: unknown key \"EnforceDomain\"" "$work/n.err"
ok $? "kyso-milter -n refuses the broken file with file and line"

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null; ok $? "SIGTERM stops the daemon"
wait "$pid"; ok $? "it exits 0"
[ ! -e "$work/milter.pid" ]; ok $? "and removes its pid file"
pid=
if [ "$failed" -ne 0 ]; then echo "# daemon log:"; sed 's/^/#   /' "$work/milter.log" | tail -40; fi
echo "1..$n"
[ "$failed" -eq 0 ]
