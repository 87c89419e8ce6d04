#!/bin/bash
# run-milter.sh - kyso-milter driven by miltertest (the MTA side of the
# milter protocol), on a private local socket, with the test PKI and mail
# fixtures: enforce-mode decisions, a reload to other actions, a broken
# reload that keeps the running configuration, the decision records in the
# store, "kyso-milter -n", and a clean stop on SIGTERM.  TAP output.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/milter/common.sh"

common_need miltertest
common_fixtures
common_workdir kyso-milter-test

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
mkdir -p "$work/fx/mail" && ln -sf "$fx"/mail/*.eml "$work/fx/mail/" &&
  cp "$work/tampered-pdf.eml" "$work/fx/mail/"

echo "pilot.demo.gov.vn monitor" >"$work/modes.table"
write_conf "CRLs $fx/pki/crl"
"$milter" -n -c "$work/kyso-milter.conf" >/dev/null 2>&1
ok $? "kyso-milter -n accepts a good configuration"

start_milter; ok $? "daemon listens on its local socket"
[ "$(cat "$work/milter.pid" 2>/dev/null)" = "$pid" ]; ok $? "PidFile holds the daemon's pid"

run_lua "$here/enforce.lua"

# every message above has one decision record, and refusals are explained
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

stop_milter; ok $? "SIGTERM stops the daemon"
[ "$exit_rc" = 0 ]; ok $? "it exits 0"
[ ! -e "$work/milter.pid" ]; ok $? "and removes its pid file"

# as a daemon (no -f), a start-up failure is the parent's exit status
sed -e "s|^Socket .*|Socket local:$work/missing/milter.sock|" -e "/^EnforceDomain /d" \
  "$work/kyso-milter.conf" >"$work/bad.conf"
"$milter" -c "$work/bad.conf" 2>"$work/daemon.err"
[ $? -eq 1 ] && grep -q "cannot listen" "$work/daemon.err"
ok $? "daemon mode: a socket that cannot be opened makes kyso-milter exit 1 and say why"
[ ! -e "$work/milter.pid" ]; ok $? "and leaves no pid file behind"

# UserID: the daemon gives up root for good after opening its socket
if id nobody >/dev/null 2>&1; then
  mkdir -p "$work/priv" && chown nobody "$work/priv" && chmod 0711 "$work"
  sed -e "s|^Store .*|Store file:$work/priv|" -e "s|^PidFile .*|PidFile $work/priv/milter.pid|" \
      -e '/^EnforceDomain /d' -e '/^On-Unsigned /d' "$work/kyso-milter.conf" >"$work/priv.conf"
  echo "UserID nobody" >>"$work/priv.conf"
  cp "$work/priv.conf" "$work/kyso-milter.conf"
  start_milter; ok $? "with UserID nobody the daemon starts"
  uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
  [ "$uids" = "65534 65534 65534 65534" ]; ok $? "real, effective, saved and fs uid are nobody's ($uids)"
  [ "$(stat -c %U "$work/milter.sock")" = nobody ]; ok $? "the socket belongs to nobody"
  run_lua "$here/privileges.lua"
  [ "$(stat -c %U "$work/priv/decisions.jsonl" 2>/dev/null)" = nobody ]
  ok $? "the decision record is written by nobody"
  stop_milter; ok $? "and it stops on SIGTERM"
  [ ! -e "$work/priv/milter.pid" ]; ok $? "removing its pid file as nobody"
fi
tap_finish
