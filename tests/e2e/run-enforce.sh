#!/bin/bash
# tests/e2e/run-enforce.sh - kyso-milter in front of a real, private Postfix
# (tests/e2e/postfix.sh): what senders, recipients and the postmaster see.
# Mail goes in over SMTP; we check the SMTP replies the client gets, the
# headers on delivered mail, the notice in the sender's mailbox (Vietnamese
# first, null envelope sender), no notice to outside senders, the hold
# queue for quarantine, a tempfail, monitor mode, the notice rate limit,
# and the decision records.  TAP output.  Needs root (Postfix's master).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/common.sh"

e2e_require
e2e_fixtures mail/unsigned-pdf.eml
e2e_workdir enforce
pf=$base/pf
mkdir -p "$pf"

# mkmail OUT FROM SUBJECT [PDF] [EXTRA-HEADER] - a message with one PDF
mkmail() {
  python3 - "$@" <<'PY'
import sys
from email.message import EmailMessage
out, frm, subj = sys.argv[1:4]
pdf = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
m = EmailMessage()
m["From"] = frm
m["To"] = "tiepnhan@ubnd.demo.gov.vn"
m["Subject"] = subj
if len(sys.argv) > 5:
    k, v = sys.argv[5].split(": ", 1)
    m[k] = v
m.set_content("Kính gửi Văn phòng UBND tỉnh,\nXin gửi kèm công văn.\n")
if pdf:
    m.add_attachment(open(pdf, "rb").read(), maintype="application", subtype="pdf",
                     filename="cong-van-123.pdf")
open(out, "wb").write(bytes(m))
PY
}
mkmail "$base/unsigned.eml" vanthu@sotttt.demo.gov.vn "Công văn số 123 về kế hoạch" "$fx/pdf/plain.pdf"
mkmail "$base/signed.eml" vanthu@sotttt.demo.gov.vn "Công văn đã ký" "$fx/pdf/pdfsig-org.pdf" \
  "X-Kyso-Document: name=\"forged.pdf\"; verdict=valid; reason=ok"
mkmail "$base/outside.eml" vanthu@ubnd.demo.gov.vn "Thư từ đơn vị khác" "$fx/pdf/plain.pdf"

# enforce_conf [--no-crls] [LINE...] - the daemon's configuration for this
# test: notices from the local domain through this instance's sendmail,
# at most 2 an hour per sender, the pilot agency in monitor mode.
enforce_conf() {
  local opt=()
  if [ "${1:-}" = --no-crls ]; then opt=(--no-crls); shift; fi
  e2e_write_conf "${opt[@]}" gw-1 "LocalDomains sotttt.demo.gov.vn" "ModeTable $base/modes" \
    "NoticeFrom postmaster@sotttt.demo.gov.vn" "MTACommand /usr/sbin/sendmail -C $pf/etc" \
    "NoticeRateLimit 2/3600" "$@"
}
echo "pilot.demo.gov.vn monitor" >"$base/modes"
enforce_conf
e2e_milter_start
pf_start "$pf" "unix:$base/milter.sock" >"$base/pf-start.log" 2>&1
ok $? "a private Postfix starts with kyso-milter as its milter"
pf_add_user "$pf" vanthu secret >/dev/null 2>&1
port=$(pf_port "$pf") sub=$(pf_submit_port "$pf")
jq_all() { jq -s -e "[.[] | $1] | (length > 0 and all)" "$recs" >/dev/null; }

# 1. an authenticated văn thư sends an unsigned PDF: refused at DATA, told why
r=$(python3 "$send" --port "$sub" --auth vanthu secret --from vanthu@sotttt.demo.gov.vn \
    --to tiepnhan@ubnd.demo.gov.vn "$base/unsigned.eml")
echo "# $r"
case $r in "RESULT 550 5.7.1 Thu bi tu choi: tep dinh kem \"cong-van-123.pdf\": Van ban chua duoc ky so"*" | "*"5.7.1 Message refused: attachment \"cong-van-123.pdf\": The document has no digital signature"*) s=0 ;; *) s=1 ;; esac
ok $s "unsigned PDF: the client gets 550 5.7.1, Vietnamese then English, naming the attachment"
ref=$(echo "$r" | grep -o 'KS-[0-9A-Z]\{12\}' | head -1)
[ -n "$ref" ]; ok $? "the reply carries a reference id ($ref)"
note=$(pf_wait_mail "$pf" vanthu@sotttt.demo.gov.vn 1 20 | head -1)
[ -n "$note" ]; ok $? "a notice reaches the sender's mailbox"
python3 - "$note" "$ref" >"$base/notice.txt" <<'PY'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print("RP", m["Return-Path"]); print("AS", m["Auto-Submitted"]); print("XN", m["X-Kyso-Notice"])
print("SUBJ", m["Subject"]); print(m.get_body(("plain",)).get_content())
PY
grep -q "^RP <>" "$base/notice.txt"; ok $? "the notice has a null envelope sender"
grep -q "^AS auto-replied" "$base/notice.txt" && grep -q "^XN $ref" "$base/notice.txt"
ok $? "the notice is marked Auto-Submitted and carries the reference id"
grep -q "^SUBJ Thư bị từ chối.*Công văn số 123 về kế hoạch" "$base/notice.txt"
ok $? "the notice's subject is Vietnamese and names the refused message"
vi=$(grep -n "Văn bản chưa được ký số" "$base/notice.txt" | head -1 | cut -d: -f1)
en=$(grep -n "The document has no digital signature" "$base/notice.txt" | head -1 | cut -d: -f1)
[ -n "$vi" ] && [ -n "$en" ] && [ "$vi" -lt "$en" ] && grep -q "cong-van-123.pdf" "$base/notice.txt"
ok $? "the notice names the attachment and the reason, Vietnamese before English"
pf_wait_mail "$pf" tiepnhan@ubnd.demo.gov.vn 1 1 >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "the refused message was not delivered"

# 2. a signed PDF is delivered with our headers; the forged copy is gone
r=$(python3 "$send" --port "$port" --from vanthu@sotttt.demo.gov.vn --to tiepnhan@ubnd.demo.gov.vn \
    "$base/signed.eml")
case $r in "RESULT 250 "*) s=0 ;; *) s=1 ;; esac
ok $s "signed PDF: 250 accepted ($r)"
got=$(pf_wait_mail "$pf" tiepnhan@ubnd.demo.gov.vn 1 20 | head -1)
[ "$(grep -c '^X-Kyso-Document:' "$got" 2>/dev/null)" = 1 ] &&
  grep -q '^X-Kyso-Document: name="cong-van-123.pdf"; type=pdf; required=yes; verdict=valid' "$got"
ok $? "delivered with exactly one X-Kyso-Document, ours, saying valid"
grep -q "^Authentication-Results: mx.kyso.test;" "$got" && grep -A1 "^Authentication-Results: mx.kyso" "$got" | grep -q "x-kyso=pass"
ok $? "delivered with Authentication-Results: mx.kyso.test; x-kyso=pass"

# 3. a refusal for an agency on another server: reply, but no notice (no backscatter)
r=$(python3 "$send" --port "$port" --from vanthu@ubnd.demo.gov.vn --to tiepnhan@sotttt.demo.gov.vn \
    "$base/outside.eml")
case $r in "RESULT 550 5.7.1 "*) s=0 ;; *) s=1 ;; esac
ok $s "unsigned from another agency's server: 550 5.7.1"
jq_all 'select(.env_from == "vanthu@ubnd.demo.gov.vn") | .notice.sent == false and
        (.notice.why | test("backscatter"))'
ok $? "no notice for a sender outside LocalDomains, and the record says why"

# 4. the notice rate limit: 2 per hour per sender
for _ in 1 2; do
  python3 "$send" --port "$sub" --auth vanthu secret --from vanthu@sotttt.demo.gov.vn \
    --to tiepnhan@ubnd.demo.gov.vn "$base/unsigned.eml" >/dev/null
done
sleep 2
[ "$(pf_wait_mail "$pf" vanthu@sotttt.demo.gov.vn 2 5 | wc -l)" -eq 2 ]
ok $? "the third refusal within the hour sends no third notice (NoticeRateLimit 2/3600)"
jq_all 'select(.notice.why != null and (.notice.why | test("NoticeRateLimit"))) | .action == "reject"'
ok $? "the record says the rate limit held the notice back"

# 5. notices pass through the milter too (non_smtpd_milters) and are left alone
jq_all 'select(.env_from == "") | .action == "accept" and .notice.sent == false'
ok $? "the notices went through the milter and were accepted, with no notice about them"

# 6. monitor mode for a pilot agency: delivered, tagged
mkmail "$base/pilot.eml" vanthu@pilot.demo.gov.vn "Thí điểm" "$fx/pdf/plain.pdf"
r=$(python3 "$send" --port "$port" --from vanthu@pilot.demo.gov.vn --to tiepnhan@ubnd.demo.gov.vn \
    "$base/pilot.eml")
case $r in "RESULT 250 "*) s=0 ;; *) s=1 ;; esac
ok $s "monitor mode: the unsigned PDF is accepted"
got=$(pf_wait_mail "$pf" tiepnhan@ubnd.demo.gov.vn 2 20 | tail -1)
grep -q '^X-Kyso-Monitor: would=reject; reason=unsigned' "$got"
ok $? "monitor mode: delivered with X-Kyso-Monitor: would=reject"

# 7. quarantine and tempfail after a reload
enforce_conf --no-crls "On-Unsigned quarantine"
kill -HUP "$mpid"
for _ in $(seq 50); do grep -q "generation 2" "$base/milter.log" && break; sleep 0.1; done
r=$(python3 "$send" --port "$port" --from vanthu@sotttt.demo.gov.vn --to tiepnhan@ubnd.demo.gov.vn \
    "$base/unsigned.eml")
case $r in "RESULT 250 "*) s=0 ;; *) s=1 ;; esac
ok $s "On-Unsigned quarantine: the client gets 250"
sleep 1
[ -n "$(pf_hold_list "$pf")" ]; ok $? "the message waits in Postfix's hold queue"
qref=$(jq -r 'select(.action == "quarantine") | .ref' "$recs" | tail -1)
postcat -c "$pf/etc" -hq "$(pf_hold_list "$pf" | head -1)" 2>/dev/null |
  grep -q "^X-Kyso-Document: name=\"cong-van-123.pdf\".*reason=unsigned.*ref=$qref"
ok $? "the held message carries X-Kyso-Document with the reason and reference id"
r=$(python3 "$send" --port "$port" --from vanthu@sotttt.demo.gov.vn --to tiepnhan@ubnd.demo.gov.vn \
    "$base/signed.eml")
case $r in "RESULT 451 4.7.1 Thu tam thoi chua duoc nhan"*"revocation_unknown"*) s=0 ;; *) s=1 ;; esac
ok $s "no CRL configured: 451 4.7.1, the MTA will retry ($r)"

# 8. one syslog line and one record per message, the same reference id
for ref1 in $(jq -r .ref "$recs"); do grep -q "ref=$ref1 " "$base/milter.log" || { s=1; break; }; s=0; done
ok $s "every decision record has its log line with the same reference id"

e2e_milter_stop; ok $? "kyso-milter stops cleanly"
e2e_finish "postfix log" "$pf"
