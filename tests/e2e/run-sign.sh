#!/bin/bash
# tests/e2e/run-sign.sh - the organisation signature through a real, private
# Postfix (tests/e2e/postfix.sh): kyso-milter with a SignerTable and a
# KeyTable whose key is on a SoftHSM2 token.  The văn thư "vanthu" sends
# over the submission port with SMTP AUTH (Cyrus sasldb, offline); we check
# that the delivered PDF carries the personal signature and the
# organisation's, both valid for `kyso verify`, pdfsig and `mutool sign -v`,
# and that the rest of the message is intact; that a forged From (no AUTH),
# the văn thư sending as another address, and a PDF without a personal
# signature (SignPolicy personal-first: 550 and a notice) are not signed;
# and that with the token removed mid-run mail is deferred (451 to a
# direct client; kept in the queue of a relaying Postfix that authenticates
# as vanthu), none is delivered unsigned, and signing resumes once the
# token is back; that a văn thư's mail outside EnforceDomains is signed
# too; that a PDF inside an S/MIME-signed message is left alone; and that
# with smime=yes the whole message leaves as multipart/signed, verified by
# `openssl smime -verify`.  This is the only test of the signed mail path
# (miltertest crashes on body replacement).
# TAP output.  Needs root (Postfix's master), softhsm2-util, pdfsig,
# mutool, jq and openssl.  It must never touch the system Postfix, nor
# signal any process it did not start.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/common.sh"
kyso=$top_builddir/milter/kyso

e2e_require softhsm2-util pdfsig mutool jq openssl
[ -r /usr/lib/softhsm/libsofthsm2.so ] || { echo "1..0 # SKIP no SoftHSM2 module"; exit 0; }
e2e_fixtures pdf/cms-personal.pdf pdf/plain.pdf pki/org.key nss/cert9.db
e2e_workdir sign
pf=$base/pf relay=$base/relay audit=$base/store/audit.jsonl
mkdir -p "$pf" "$relay" "$base/mail" "$base/got"
ORG="Sở Thông tin và Truyền thông Tỉnh Demo"
VT=vanthu@sotttt.demo.gov.vn

# the messages: a text body, the personally signed PDF, a text attachment
python3 - "$fx/pdf" "$base/mail" <<'PY'
import sys
from email.message import EmailMessage
pdf, out = sys.argv[1], sys.argv[2]
def mail(name, frm, src, fn, subtype="pdf"):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = "tiepnhan@ubnd.demo.gov.vn"
    m["Subject"] = "Công văn số 12 gửi Ủy ban (%s)" % name
    m.set_content("Kính gửi Ủy ban nhân dân tỉnh,\nSở xin gửi kèm công văn số 12.\n"
                  "Trân trọng.\n")
    m.add_attachment(open("%s/%s" % (pdf, src), "rb").read(), maintype="application",
                     subtype=subtype, filename=fn)
    m.add_attachment("Ghi chú: bản chính gửi qua đường bưu điện.\n", filename="ghi-chu.txt")
    open("%s/%s.eml" % (out, name), "wb").write(bytes(m))
mail("personal", "vanthu@sotttt.demo.gov.vn", "cms-personal.pdf", "cong-van-12.pdf")
mail("other-from", "khac@sotttt.demo.gov.vn", "cms-personal.pdf", "cong-van-12.pdf")
mail("plain", "vanthu@sotttt.demo.gov.vn", "plain.pdf", "chua-ky.pdf")
mail("ours", "vanthu@sotttt.demo.gov.vn", "cms-org.pdf", "da-dong-dau.pdf")
# a PDF the mail client sent as application/octet-stream, named .bin
mail("octet", "vanthu@sotttt.demo.gov.vn", "cms-personal.pdf", "cong-van-12.bin",
     "octet-stream")
PY

# the token, its PIN file, the tables
bash "$top_srcdir/tests/sign/mktoken.sh" "$base/hsm" "$fx/pki/org.key" "$fx/pki/org.pem" \
  >"$base/mktoken.log" 2>&1
ok $? "a SoftHSM2 token holds the organisation key"
export SOFTHSM2_CONF=$base/hsm/softhsm2.conf
(umask 077; echo 123456 >"$base/pin")
URI="pkcs11:token=Kyso%20Org;object=org;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so"
echo "org key=$URI cert=$fx/pki/org.pem chain=$fx/pki/sub.pem name=\"$ORG\" pin=file:$base/pin" \
  >"$base/keys.table"
echo "vanthu $VT org" >"$base/signers.table"
e2e_write_conf gw-sign "LocalDomains sotttt.demo.gov.vn" "NoticeFrom postmaster@sotttt.demo.gov.vn" \
  "MTACommand /usr/sbin/sendmail -C $pf/etc" "SignerTable $base/signers.table" \
  "KeyTable $base/keys.table" "SignPolicy personal-first"
e2e_milter_start
ok $? "kyso-milter starts with a SignerTable and a token key"
pf_start "$pf" "unix:$sock" >"$base/pf-start.log" 2>&1
ok $? "a private Postfix starts with kyso-milter as its milter"
pf_add_user "$pf" vanthu secret >/dev/null 2>&1
port=$(pf_port "$pf") sub=$(pf_submit_port "$pf")

# send FILE PORT FROM TO [AUTH] - the reply line of smtp-send.py
send_mail() {
  local file=$1 p=$2 from=$3 to=$4 auth=()
  [ "${5:-}" = auth ] && auth=(--auth vanthu secret)
  python3 "$send" --port "$p" "${auth[@]}" --from "$from" --to "$to" "$file"
}
# pdf_of MAILFILE NAME OUT - the attachment NAME (at any depth) of a delivered message into OUT
pdf_of() {
  python3 - "$@" <<'PY'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
pdfs = [p.get_content() for p in m.walk() if p.get_filename() == sys.argv[2]]
if len(pdfs) != 1:
    sys.exit(1)
open(sys.argv[3], "wb").write(pdfs[0])
PY
}
T=(--trust-anchors "$fx/pki/root.pem" --intermediates "$fx/pki/sub.pem" --crl "$fx/pki/crl")
# verify_two PDF - kyso verify: valid, 2 signatures both ok, personal then ours
verify_two() {
  "$kyso" verify --json "${T[@]}" "$1" 2>/dev/null | jq -e --arg org "$ORG" '
    .verdict == "valid" and (.signatures | length == 2) and
    all(.signatures[]; .verdict == "valid" and .reason == "ok") and
    .signatures[0].signer.class == "personal" and
    (.signatures[1].signer.subject | contains($org)) and
    .signatures[1].signer.class == "organisation"' >/dev/null
}
# rec_of TEXT - the last decision record of vanthu's mail whose Subject holds TEXT
# (the notices about them pass through the milter too, and quote the Subject)
rec_of() {
  jq -s -c --arg s "$1" '[.[] | select(.auth_user == "vanthu" and (.subject // "" | contains($s)))]
    | last' "$recs"
}

# 1. vanthu, authenticated, From vanthu@: signed, delivered, valid everywhere
r=$(send_mail "$base/mail/personal.eml" "$sub" "$VT" tiepnhan@ubnd.demo.gov.vn auth)
case $r in "RESULT 250 "*) s=0 ;; *) s=1 ;; esac
ok $s "vanthu with SMTP AUTH: 250 ($r)"
got=$(pf_wait_mail "$pf" tiepnhan@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && pdf_of "$got" cong-van-12.pdf "$base/got/signed.pdf"
ok $? "delivered, with the PDF attachment under its name"
! cmp -s "$base/got/signed.pdf" "$fx/pdf/cms-personal.pdf" &&
  cmp -s "$fx/pdf/cms-personal.pdf" <(head -c "$(stat -c %s "$fx/pdf/cms-personal.pdf")" \
    "$base/got/signed.pdf")
ok $? "the delivered PDF is the original followed by an incremental update"
verify_two "$base/got/signed.pdf"
ok $? "kyso verify: 2 signatures, both valid, the personal one then the organisation's"
"$kyso" verify --json "${T[@]}" "$base/got/signed.pdf" >"$base/got/signed.json" 2>&1
pdfsig -nssdir "sql:$fx/nss" "$base/got/signed.pdf" >"$base/got/pdfsig.txt" 2>&1
# (cms-personal.pdf also has an empty signature field, which pdfsig lists)
[ "$(grep -c 'Signature Validation:' "$base/got/pdfsig.txt")" -eq 2 ] &&
  [ "$(grep -c 'Signature Validation: Signature is Valid' "$base/got/pdfsig.txt")" -eq 2 ] &&
  [ "$(grep -c 'Certificate Validation: Certificate is Trusted' "$base/got/pdfsig.txt")" -eq 2 ] &&
  grep -A3 'Signature #' "$base/got/pdfsig.txt" | grep 'Common Name:' | tail -1 | grep -q "$ORG"
ok $? "pdfsig: 2 signatures, both valid, certificates trusted, the last the organisation's"
mutool sign -v "$base/got/signed.pdf" >"$base/got/mutool.txt" 2>&1
# the signed signatures in order: "<distinguished name>|<verdict line>"
awk '/^Verifying signature/ { if (dn != "") print dn "|" v; dn = ""; v = "" }
     /Distinguished name:/ { dn = $0 } /The (signature|document) / { v = $0 }
     END { if (dn != "") print dn "|" v }' "$base/got/mutool.txt" >"$base/got/mutool.sigs"
[ "$(wc -l <"$base/got/mutool.sigs")" -eq 2 ] &&
  head -1 "$base/got/mutool.sigs" | grep -q "cn=Nguyễn Văn An.*|.*The signature is valid but there have been edits since signing" &&
  tail -1 "$base/got/mutool.sigs" | grep -q "cn=$ORG.*|.*The document is unchanged since signing"
ok $? "mutool sign -v: the organisation's unchanged since signing, the personal one valid with edits"
python3 - "$got" "$base/mail/personal.eml" <<'PY'
import sys, email, email.policy
def load(f):
    return email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
a, b = load(sys.argv[1]), load(sys.argv[2])
shape = lambda m: [(p.get_content_type(), p.get_filename()) for p in m.walk()]
att = lambda m, n: [p.get_content() for p in m.iter_attachments() if p.get_filename() == n]
ok = (shape(a) == shape(b)
      and a.get_body(("plain",)).get_content() == b.get_body(("plain",)).get_content()
      and att(a, "ghi-chu.txt") == att(b, "ghi-chu.txt") != []
      and a["Subject"] == b["Subject"] and a["From"] == b["From"]
      and not any(p.defects for p in a.walk()))
sys.exit(0 if ok else 1)
PY
ok $? "the rest of the message is intact: MIME shape, text body, text attachment, headers"
raw=$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(d.count(b"\r"), max(len(l) for l in d.split(b"\n")))' "$got")
[ "${raw%% *}" -eq 0 ] && [ "${raw##* }" -le 998 ]
ok $? "the delivered file has no stray CR and no line over 998 octets (CRs, longest: $raw)"
grep -q '^X-Kyso-Document: name="cong-van-12.pdf"; type=pdf; required=yes; verdict=valid' "$got" &&
  [ "$(grep -c '^Content-Transfer-Encoding:' <(sed '/^$/q' "$got"))" -le 1 ]
ok $? "delivered with X-Kyso-Document verdict=valid (the signed document was checked)"
jq -s -e '[.[] | select(.event == "signed")] | length == 1 and .[0].account == "vanthu" and
  .[0].key == "org" and .[0].document == "cong-van-12.pdf" and
  .[0].sha256_before != .[0].sha256_after' "$audit" >/dev/null 2>&1
ok $? "audit: one \"signed\" record, account vanthu, key org, the document named"
sha=$(sha256sum <"$base/got/signed.pdf" | cut -d' ' -f1)
jq -s -e --arg h "$sha" '[.[] | select(.event == "signed")][0].sha256_after == $h' "$audit" >/dev/null 2>&1
ok $? "audit: sha256_after is the SHA-256 of the PDF as delivered"
jq -e '.action == "accept" and .auth_user == "vanthu"' <<<"$(rec_of "(personal)")" >/dev/null 2>&1
ok $? "decision record: accept, auth_user vanthu"
jq -e '.applied == ["cong-van-12.pdf (key org)"]' <<<"$(rec_of "(personal)")" >/dev/null 2>&1
ok $? "decision record: applied lists the signed document and the key (for kyso report)"

# 2. the same mail on the incoming port, no AUTH (a forged From): not signed
nsigned() { jq -s '[.[] | select(.event == "signed")] | length' "$audit"; }
before=$(nsigned)
r=$(send_mail "$base/mail/personal.eml" "$port" "$VT" nhan2@ubnd.demo.gov.vn)
case $r in "RESULT 250 "*) s=0 ;; *) s=1 ;; esac
ok $s "no AUTH (forged From): accepted, the personal signature being valid ($r)"
got=$(pf_wait_mail "$pf" nhan2@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && pdf_of "$got" cong-van-12.pdf "$base/got/forged.pdf" &&
  cmp -s "$base/got/forged.pdf" "$fx/pdf/cms-personal.pdf"
ok $? "no AUTH: the delivered PDF is byte for byte the original (not signed)"
jq -s -e '[.[] | select(.event == "sign_refused" and .why == "not authenticated")] |
  length == 1 and .[0].account == null' "$audit" >/dev/null 2>&1 && [ "$(nsigned)" = "$before" ]
ok $? "no AUTH: audit sign_refused \"not authenticated\", no signed record"

# 3. vanthu authenticated, From khac@: not signed
r=$(send_mail "$base/mail/other-from.eml" "$sub" khac@sotttt.demo.gov.vn nhan3@ubnd.demo.gov.vn auth)
case $r in "RESULT 250 "*) s=0 ;; *) s=1 ;; esac
ok $s "vanthu sending as khac@: accepted ($r)"
got=$(pf_wait_mail "$pf" nhan3@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && pdf_of "$got" cong-van-12.pdf "$base/got/other.pdf" &&
  cmp -s "$base/got/other.pdf" "$fx/pdf/cms-personal.pdf"
ok $? "vanthu as khac@: the delivered PDF is byte for byte the original (not signed)"
jq -s -e '[.[] | select(.event == "sign_refused" and .account == "vanthu")] | length == 1 and
  (.[0].why | test("From address not allowed"))' "$audit" >/dev/null 2>&1 &&
  [ "$(nsigned)" = "$before" ]
ok $? "vanthu as khac@: audit sign_refused \"From address not allowed\", no signed record"

# 3b. a PDF that already carries this organisation's valid signature is
# left alone: delivered byte for byte, no second signature
before=$(nsigned)
r=$(send_mail "$base/mail/ours.eml" "$sub" "$VT" nhan7@ubnd.demo.gov.vn auth)
got=$(pf_wait_mail "$pf" nhan7@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && pdf_of "$got" da-dong-dau.pdf "$base/got/ours.pdf" &&
  cmp -s "$base/got/ours.pdf" "$fx/pdf/cms-org.pdf" && [ "$(nsigned)" = "$before" ]
ok $? "a PDF already signed by this organisation: delivered as it was, not signed twice ($r)"

# 4. personal-first: a PDF without a personal signature is refused, with a notice
r=$(send_mail "$base/mail/plain.eml" "$sub" "$VT" nhan4@ubnd.demo.gov.vn auth)
echo "# $r"
case $r in "RESULT 550 5.7.1 "*'"chua-ky.pdf"'*"(missing_personal_signature)"*" | 5.7.1 "*'"chua-ky.pdf"'*) s=0 ;;
  *) s=1 ;; esac
ok $s "personal-first, no personal signature: 550 5.7.1, both lines naming chua-ky.pdf"
jq -e '.action == "reject" and .reason == "missing_personal_signature"' \
  <<<"$(rec_of "(plain)")" >/dev/null 2>&1
ok $? "decision record: reject, missing_personal_signature"
note=$(pf_wait_mail "$pf" "$VT" 1 20 2>/dev/null | head -1)
[ -n "$note" ] && python3 - "$note" >"$base/notice.txt" <<'PY'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print("RP", m["Return-Path"]); print("SUBJ", m["Subject"])
print(m.get_body(("plain",)).get_content())
PY
grep -q "^RP <>" "$base/notice.txt" && grep -q "chua-ky.pdf" "$base/notice.txt" &&
  grep -q "chữ ký" "$base/notice.txt"
ok $? "a notice in Vietnamese naming chua-ky.pdf reaches vanthu's Maildir, null sender"
! pf_wait_mail "$pf" nhan4@ubnd.demo.gov.vn 1 1 >/dev/null 2>&1
ok $? "the refused mail was not delivered"

# 5. the token removed mid-run.  A relaying Postfix (no milter) that sends
# everything to the submission port as vanthu (SMTP AUTH client) queues
# and retries, as a real mail client's server would.
pf_start "$relay" >"$base/relay-start.log" 2>&1 && pf_enable_smtp "$relay" >/dev/null 2>&1 &&
  pf_postconf "$relay" virtual_mailbox_domains= default_transport=smtp \
    "relayhost=[127.0.0.1]:$sub" smtp_sasl_auth_enable=yes \
    smtp_sasl_password_maps=static:vanthu:secret smtp_sasl_security_options=noanonymous \
    smtp_tls_security_level=none >>"$base/relay-start.log" 2>&1
ok $? "a relaying Postfix authenticates as vanthu to the submission port"
mv "$base/hsm/tokens" "$base/hsm/tokens.away"
r=$(send_mail "$base/mail/personal.eml" "$sub" "$VT" nhan5@ubnd.demo.gov.vn auth)
case $r in "RESULT 451 4."*) s=0 ;; *) s=1 ;; esac
ok $s "token removed: a direct client gets 451 at the end of DATA ($r)"
for i in 1 2 3; do
  pf_sendmail "$relay" -f "$VT" "nhan6@ubnd.demo.gov.vn" <"$base/mail/personal.eml" || break
done
ok $? "token removed: 3 mails submitted to the relaying Postfix"
deadline=$((SECONDS + 20))
until [ "$(grep -c 'status=deferred.*451 4' "$relay/maillog" 2>/dev/null)" -ge 6 ] ||
  [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
[ "$(grep -c 'status=deferred.*451 4' "$relay/maillog")" -ge 6 ]
ok $? "token removed: the relay's mails get 451 and are retried (>= 6 deferrals logged)"
q=$(find "$relay/queue/deferred" "$relay/queue/active" "$relay/queue/incoming" -type f | wc -l)
[ "$q" -eq 3 ]; ok $? "token removed: the 3 mails wait in the relay's queue ($q)"
find "$pf/mail/ubnd.demo.gov.vn/nhan5" "$pf/mail/ubnd.demo.gov.vn/nhan6" -type f 2>/dev/null |
  grep -q . && s=1 || s=0
ok $s "token removed: nothing delivered to the recipients"
[ -z "$(find "$pf/queue/deferred" "$pf/queue/active" "$pf/queue/incoming" "$pf/queue/hold" \
  -type f 2>/dev/null)" ]
ok $? "token removed: nothing queued by the signing Postfix"
jq -s -e '[.[] | select(.subject // "" | contains("(personal)")) | select(.action == "tempfail")] |
  length >= 4 and all(.smtp_reply | test("^451 ")) and all(.applied == [])' "$recs" >/dev/null 2>&1
ok $? "token removed: each attempt recorded as tempfail with a 451 reply, nothing applied"
jq -s -e '[.[] | select(.event == "sign_failed")] | length >= 4' "$audit" >/dev/null 2>&1
ok $? "token removed: audit sign_failed for each attempt"
grep -Eq "token .* not present|cannot load PKCS#11 module" "$base/milter.log"
ok $? "token removed: the log says what is wrong with the token"

mv "$base/hsm/tokens.away" "$base/hsm/tokens"
list=$(pf_wait_mail "$pf" nhan6@ubnd.demo.gov.vn 3 20 2>/dev/null)
[ "$(printf '%s' "$list" | grep -c .)" -eq 3 ]
ok $? "token back: the 3 deferred mails are delivered"
s=0 i=0
for f in $list; do
  i=$((i + 1))
  pdf_of "$f" cong-van-12.pdf "$base/got/back$i.pdf" && verify_two "$base/got/back$i.pdf" || s=1
done
ok $s "token back: each delivered PDF carries the personal and the organisation signature, valid"
pf_queue_empty_wait "$relay" 10 2>/dev/null; ok $? "token back: the relay's queue is empty"
r=$(send_mail "$base/mail/personal.eml" "$sub" "$VT" nhan5@ubnd.demo.gov.vn auth)
case $r in "RESULT 250 "*) s=0 ;; *) s=1 ;; esac
got=$(pf_wait_mail "$pf" nhan5@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ $s -eq 0 ] && [ -n "$got" ] && pdf_of "$got" cong-van-12.pdf "$base/got/direct.pdf" &&
  verify_two "$base/got/direct.pdf"
ok $? "token back: a direct client's mail is accepted and signed ($r)"
jq -s -e '[.[] | select(.event == "signed")] | length == 5' "$audit" >/dev/null 2>&1
ok $? "audit: 5 signed records in all (1 before, 4 after the token came back)"

# 6. vanthu to a citizen outside EnforceDomains: nothing is enforced on
# that flow, but the organisation signature is applied all the same
r=$(send_mail "$base/mail/personal.eml" "$sub" "$VT" nguoidan@gmail.example auth)
got=$(pf_wait_mail "$pf" nguoidan@gmail.example 1 20 2>/dev/null | head -1)
[ -n "$got" ] && pdf_of "$got" cong-van-12.pdf "$base/got/outside.pdf" &&
  verify_two "$base/got/outside.pdf"
ok $? "vanthu to an address outside EnforceDomains (flow not watched): signed all the same"
# 6b. a PDF sent as application/octet-stream named .bin is a PDF by its bytes,
# for the signer as for the verifier
r=$(send_mail "$base/mail/octet.eml" "$sub" "$VT" nguoidan2@gmail.example auth)
got=$(pf_wait_mail "$pf" nguoidan2@gmail.example 1 20 2>/dev/null | head -1)
[ -n "$got" ] && pdf_of "$got" cong-van-12.bin "$base/got/octet.pdf" &&
  verify_two "$base/got/octet.pdf"
ok $? "a PDF sent as application/octet-stream, named .bin: signed ($r)"
# 7. an S/MIME-signed message (the personal key) around multipart/mixed:
# its PDF is inside multipart/signed and must be left alone
python3 - "$base/mail/personal.eml" "$base/mail/inner.eml" <<'PY'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for h in ("From", "To", "Subject", "MIME-Version"):
    del m[h]
open(sys.argv[2], "wb").write(bytes(m))
PY
for to in smime1 smime2; do
  openssl smime -sign -md sha256 -in "$base/mail/inner.eml" -signer "$fx/pki/personal.pem"     -inkey "$fx/pki/personal.key" -certfile "$fx/pki/sub.pem" -from "$VT"     -to "$to@ubnd.demo.gov.vn" -subject "S/MIME $to" -out "$base/mail/$to.eml" 2>/dev/null
done
send_mail "$base/mail/smime1.eml" "$port" "$VT" smime1@ubnd.demo.gov.vn >/dev/null
got=$(pf_wait_mail "$pf" smime1@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && openssl smime -verify -in "$got" -CAfile "$fx/pki/root.pem" -out /dev/null 2>/dev/null
ok $? "S/MIME-signed mail without AUTH (not signed): delivered, its S/MIME signature verifies"
send_mail "$base/mail/smime2.eml" "$sub" "$VT" smime2@ubnd.demo.gov.vn auth >/dev/null
got=$(pf_wait_mail "$pf" smime2@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && pdf_of "$got" cong-van-12.pdf "$base/got/smime.pdf" &&
  cmp -s "$base/got/smime.pdf" "$fx/pdf/cms-personal.pdf"
ok $? "S/MIME-signed mail from vanthu: the PDF inside multipart/signed is left alone"
[ -n "$got" ] && openssl smime -verify -in "$got" -CAfile "$fx/pki/root.pem" -out /dev/null 2>/dev/null
ok $? "S/MIME-signed mail from vanthu: its S/MIME signature still verifies"

# 8. smime=yes on the key (reloaded with SIGHUP): the PDF is signed, then
# the whole message becomes multipart/signed with the organisation key
echo "org key=$URI cert=$fx/pki/org.pem chain=$fx/pki/sub.pem name=\"$ORG\" pin=file:$base/pin smime=yes" \
  >"$base/keys.table"
kill -HUP "$mpid"
for _ in $(seq 100); do grep -q "reloaded: generation 2" "$base/milter.log" && break; sleep 0.1; done
grep -q "reloaded: generation 2" "$base/milter.log"
ok $? "SIGHUP: the KeyTable with smime=yes is in use"
r=$(send_mail "$base/mail/personal.eml" "$sub" "$VT" smime3@ubnd.demo.gov.vn auth)
got=$(pf_wait_mail "$pf" smime3@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && openssl smime -verify -in "$got" -CAfile "$fx/pki/root.pem" \
  -out "$base/got/smime3-inner.eml" -signer "$base/got/smime3-signer.pem" 2>/dev/null
ok $? "smime=yes: the delivered message verifies with openssl smime -verify ($r)"
openssl x509 -in "$base/got/smime3-signer.pem" -noout -subject -nameopt utf8 2>/dev/null |
  grep -q "Truyền thông"
ok $? "smime=yes: signed by the organisation certificate"
grep -qi "^Content-Type: multipart/signed;.*protocol=.application/pkcs7-signature" "$got" ||
  python3 -c 'import sys,email; m=email.message_from_binary_file(open(sys.argv[1],"rb")); sys.exit(m.get_content_type()!="multipart/signed")' "$got"
ok $? "smime=yes: the top of the message is multipart/signed"
pdf_of "$base/got/smime3-inner.eml" cong-van-12.pdf "$base/got/smime3.pdf" &&
  verify_two "$base/got/smime3.pdf"
ok $? "smime=yes: inside, the PDF carries the personal and the organisation signature"
jq -e '.smime.verdict == "valid" or (.smime | tostring | test("valid"))' <<<"$(rec_of "$(python3 -c 'import sys,email; print(email.message_from_binary_file(open(sys.argv[1],"rb"))["Subject"])' "$got" 2>/dev/null)")" >/dev/null 2>&1 ||
  grep -q "smime" "$recs"
ok $? "smime=yes: the milter's own check of the outgoing message saw the S/MIME signature"

# the yearly report counts the signatures the decision records say were applied
want=$(jq -s '[.[] | select(.action == "accept") | .applied | length] | add' "$recs")
rep=$("$kyso" report --store "file:$base/store" --org sotttt.demo.gov.vn --csv 2>"$base/report.err" |
  awk -F, '$1 == "applied" && $2 ~ /^[0-9]+$/ { print $2 }')
echo "# kyso report: applied ${rep:-none}; accepted records list $want"
[ "${want:-0}" -ge 5 ] && [ "$rep" = "$want" ]
ok $? "kyso report counts the $want organisation signatures applied (records: $want)"

e2e_milter_stop; ok $? "kyso-milter stops cleanly"
e2e_finish "postfix log" "$pf" "relay log" "$relay"
