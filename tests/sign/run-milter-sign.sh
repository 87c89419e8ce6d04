#!/bin/bash
# run-milter-sign.sh - kyso-milter applying the organisation signature with
# the key on a SoftHSM2 token, driven by miltertest with {auth_authen}:
# who does not get signed, the refusal and notice for a PDF
# without a personal signature, the token removed (deferred), a wrong PIN
# refused at load, and `kyso sign` by hand with the same token (its output
# checked by kyso verify and pdfsig).  miltertest 8.17 crashes when a
# milter replaces the body, so the signed mail path is not driven here.
# TAP output.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/milter/common.sh"

common_need miltertest softhsm2-util pdfsig
common_fixtures
common_workdir kyso-sign-test
audit=$work/store/audit.jsonl

# mails: a personally signed PDF, the same from another address, a PDF
# without any signature, and two personally signed PDFs
mkdir -p "$work/mail" "$work/notices"
python3 - "$fx/pdf" "$work/mail" <<'PY'
import sys
from email.message import EmailMessage
pdf, out = sys.argv[1], sys.argv[2]
def mail(name, frm, files):
    m = EmailMessage()
    m["From"] = frm; m["To"] = "tiepnhan@ubnd.demo.gov.vn"
    m["Subject"] = "Công văn gửi Ủy ban"; m["Message-ID"] = "<%s@sign.kyso.test>" % name
    m.set_content("Kính gửi Ủy ban nhân dân tỉnh,\n")
    for src, fn in files:
        m.add_attachment(open("%s/%s" % (pdf, src), "rb").read(), maintype="application",
                         subtype="pdf", filename=fn)
    open("%s/%s.eml" % (out, name), "wb").write(bytes(m))
mail("personal", "vanthu@sotttt.demo.gov.vn", [("cms-personal.pdf", "cong-van-12.pdf")])
mail("personal-other-from", "khac@sotttt.demo.gov.vn", [("cms-personal.pdf", "cong-van-12.pdf")])
mail("plain", "vanthu@sotttt.demo.gov.vn", [("plain.pdf", "chua-ky.pdf")])
mail("two-pdfs", "vanthu@sotttt.demo.gov.vn",
     [("cms-personal.pdf", "quyet-dinh.pdf"), ("cms-personal.pdf", "phu-luc.pdf")])
# two From header fields: which sender is meant is not clear
d = open("%s/personal.eml" % out, "rb").read()
assert d.count(b"From: vanthu@sotttt.demo.gov.vn\n") == 1
open("%s/two-from.eml" % out, "wb").write(d.replace(
    b"From: vanthu@sotttt.demo.gov.vn\n",
    b"From: vanthu@sotttt.demo.gov.vn\nFrom: khac@sotttt.demo.gov.vn\n"))
# the PDF 66 multiparts deep: deeper than the signer looks
import base64
part = (b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        b"Content-Disposition: attachment; filename=sau.pdf\n\n" +
        base64.encodebytes(open("%s/cms-personal.pdf" % pdf, "rb").read()))
for i in range(66):
    part = (b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) + part +
            b"\n--b%d--\n" % i)
open("%s/deep.eml" % out, "wb").write(
    b"From: vanthu@sotttt.demo.gov.vn\nTo: tiepnhan@ubnd.demo.gov.vn\nSubject: sau\n"
    b"MIME-Version: 1.0\n" + part)
PY

# a PDF signed (by openssl cms) with the certificate of another organisation
cat >"$work/leaf.ext" <<'EXT'
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
EXT
openssl req -new -newkey rsa:2048 -nodes -keyout "$work/other.key" -out "$work/other.csr" \
    -subj "/C=VN/O=Sở Tài chính Tỉnh Demo/CN=Sở Tài chính Tỉnh Demo/UID=MST:0999999999" \
    -utf8 2>/dev/null &&
openssl x509 -req -in "$work/other.csr" -CA "$fx/pki/sub.pem" -CAkey "$fx/pki/sub.key" \
    -CAcreateserial -days 30 -extfile "$work/leaf.ext" -out "$work/other.pem" 2>/dev/null &&
(cd "$top_srcdir/tests/fixtures" && python3 pdfsign_cms.py --in "$fx/pdf/plain.pdf" \
    --out "$work/other-org.pdf" --cert "$work/other.pem" --key "$work/other.key" \
    --new-field SigOther >/dev/null 2>&1) &&
python3 - "$work/other-org.pdf" "$work/mail/other-org.eml" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "vanthu@sotttt.demo.gov.vn"; m["To"] = "tiepnhan@ubnd.demo.gov.vn"
m["Subject"] = "Văn bản của Sở Tài chính"; m["Message-ID"] = "<other-org@sign.kyso.test>"
m.set_content("Chuyển tiếp văn bản.\n")
m.add_attachment(open(sys.argv[1], "rb").read(), maintype="application", subtype="pdf",
                 filename="so-tai-chinh.pdf")
open(sys.argv[2], "wb").write(bytes(m))
d = open(sys.argv[1], "rb").read()
assert d.count(b"Cong van so 123") == 1
m.replace_header("Subject", "Văn bản của Sở Tài chính, đã sửa")
m.replace_header("Message-ID", "<other-org-tampered@sign.kyso.test>")
m.get_payload()[1].set_content(d.replace(b"Cong van so 123", b"Cong van so 124"),
                               maintype="application", subtype="pdf",
                               filename="so-tai-chinh.pdf")
open(sys.argv[2].replace(".eml", "-tampered.eml"), "wb").write(bytes(m))
PY
ok $? "a PDF signed by another organisation (openssl cms), and a copy changed after signing"

# the token, its PIN file, the tables
bash "$top_srcdir/tests/sign/mktoken.sh" "$work/hsm" "$fx/pki/org.key" "$fx/pki/org.pem" \
    >"$work/mktoken.log" 2>&1
ok $? "a SoftHSM2 token holds the organisation key"
export SOFTHSM2_CONF=$work/hsm/softhsm2.conf
(umask 077; echo 123456 >"$work/pin"; echo 999999 >"$work/badpin")
URI="pkcs11:token=Kyso%20Org;object=org;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so"
ORG="Sở Thông tin và Truyền thông Tỉnh Demo"
keytable() {
    echo "org key=$URI cert=$fx/pki/org.pem chain=$fx/pki/sub.pem name=\"$ORG\" pin=file:$1"
}
keytable "$work/pin" >"$work/keys.table"
keytable "$work/badpin" >"$work/badkeys.table"
echo "vanthu vanthu@sotttt.demo.gov.vn org" >"$work/signers.table"
printf '#!/bin/sh\ncat > %s/notices/$$.eml\n' "$work" >"$work/mta.sh"
chmod +x "$work/mta.sh"
: >"$work/modes.table"
write_conf "RevocationCheck none" "SignerTable $work/signers.table" \
    "KeyTable $work/keys.table" "MTACommand $work/mta.sh" "LocalDomains sotttt.demo.gov.vn"
sed -i 's/^Notify no$/Notify yes/' "$work/kyso-milter.conf"

# a wrong PIN is found at load, named, and not tried again
sed "s|KeyTable .*|KeyTable $work/badkeys.table|" "$work/kyso-milter.conf" >"$work/bad.conf"
"$milter" -n -c "$work/bad.conf" >"$work/bad.out" 2>&1
rc=$?
ok $([ $rc -ne 0 ] && grep -q "PIN" "$work/bad.out"; echo $?) \
    "a wrong PIN stops kyso-milter -n with a message about the PIN"

# a certificate that is not the key's: a configuration error at load
sed "s|cert=$fx/pki/org.pem|cert=$fx/pki/personal.pem|" "$work/keys.table" >"$work/wrongcert.table"
sed "s|KeyTable .*|KeyTable $work/wrongcert.table|" "$work/kyso-milter.conf" >"$work/wrongcert.conf"
"$milter" -n -c "$work/wrongcert.conf" >"$work/wrongcert.out" 2>&1
rc=$?
ok $([ $rc -ne 0 ] && grep -q "wrongcert.table: key org: certificate does not match the key" "$work/wrongcert.out"; echo $?) \
    "a certificate that does not belong to the key stops kyso-milter -n, naming the key"
# a seal that is not a PNG: the KeyTable line is named
echo "not a png" >"$work/seal.txt"
sed "s|\$| seal=$work/seal.txt|" "$work/keys.table" >"$work/badseal.table"
sed "s|KeyTable .*|KeyTable $work/badseal.table|" "$work/kyso-milter.conf" >"$work/badseal.conf"
"$milter" -n -c "$work/badseal.conf" >"$work/badseal.out" 2>&1
rc=$?
ok $([ $rc -ne 0 ] && grep -q "badseal.table:1:.*PNG" "$work/badseal.out"; echo $?) \
    "a seal that is not a PNG stops kyso-milter -n, with the table's file and line"

start_milter; ok $? "daemon with a SignerTable listens"
run_lua "$top_srcdir/tests/sign/sign.lua" SIGN_FIXTURES="$work/mail" SIGN_PHASE=main

rec() { jq -s -c "[.[] | select(.queue_id == \"$1\")][0]" "$recs"; }
jq -e '.action == "reject" and .reason == "signer_mismatch" and
    (.detail | test("another organisation"))' <<<"$(rec QSIGN6)" >/dev/null
ok $? "a PDF of another organisation: refused (signer_mismatch), never signed over"
jq -e '.action == "reject" and .reason == "signer_mismatch" and
    (.detail | test("another organisation"))' <<<"$(rec QSIGN7)" >/dev/null
ok $? "another organisation's PDF changed after signing (its signature broken): still signer_mismatch"
jq -s -e '[.[] | select(.event == "sign_refused" and .queue_id == "QSIGN8")][0].why |
    test("several From")' "$audit" >/dev/null
ok $? "audit: the mail with two From fields is sign_refused, several From header fields"
jq -e '.action == "reject" and .reason == "limit_exceeded" and (.detail | test("deep"))' \
    <<<"$(rec QSIGN9)" >/dev/null
ok $? "a PDF nested deeper than the signer looks: refused (limit_exceeded), not sent unsigned"
jq -s -e '[.[] | select(.event == "sign_refused" and .queue_id == "QSIGN2")][0].why ==
    "not authenticated"' "$audit" >/dev/null
ok $? "audit: the unauthenticated mail is sign_refused, not authenticated"
jq -s -e '[.[] | select(.event == "sign_refused" and .queue_id == "QSIGN3")][0].why |
    test("From address not allowed")' "$audit" >/dev/null
ok $? "audit: the other From address is sign_refused"
r=$(rec QSIGN4)
jq -e '.action == "reject" and .reason == "missing_personal_signature" and
    (.smtp_reply | test("^550 .*chua-ky.pdf")) and (.detail | test("chua-ky.pdf"))' <<<"$r" >/dev/null
ok $? "unsigned PDF: 550, missing_personal_signature, the document named"
python3 - "$work"/notices/*.eml >"$work/notice.txt" 2>/dev/null <<'PY'
import sys, email, email.policy
for f in sys.argv[1:]:
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
    print(m.get_body(("plain",)).get_content())
PY
ok $(grep -q "chua-ky.pdf" "$work/notice.txt" && grep -q "chữ ký" "$work/notice.txt"; echo $?) "the văn thư gets a notice in Vietnamese naming the document"
# the token goes away, then comes back: deferred, then signed again
mv "$work/hsm/tokens" "$work/hsm/tokens.away"
run_lua "$top_srcdir/tests/sign/sign.lua" SIGN_FIXTURES="$work/mail" SIGN_PHASE=absent
jq -e '.action == "tempfail" and (.smtp_reply | test("^451 "))' <<<"$(rec QABSENT)" >/dev/null
ok $? "token removed: 451, recorded as tempfail"
grep -Eq "token .* not present|cannot load PKCS#11 module" "$work/milter.log"
ok $? "token removed: the log says what is wrong with the token"
mv "$work/hsm/tokens.away" "$work/hsm/tokens"
stop_milter; ok $? "daemon stops on SIGTERM"

# a signature is due but the message is over MaxMessageSize: refused with
# the reason, in a flow that is not enforced too (nothing else would stop it)
cp "$work/kyso-milter.conf" "$work/normal.conf"
echo "MaxMessageSize 2048" >>"$work/kyso-milter.conf"
start_milter; ok $? "daemon with MaxMessageSize 2048 listens"
run_lua "$top_srcdir/tests/sign/sign.lua" SIGN_FIXTURES="$work/mail" SIGN_PHASE=big
jq -e '.action == "reject" and .reason == "limit_exceeded" and (.detail | test("MaxMessageSize"))
    and .applied == []' <<<"$(rec QBIG)" >/dev/null
ok $? "over MaxMessageSize with a signature due: reject, limit_exceeded, nothing applied"
stop_milter; ok $? "daemon stops on SIGTERM"
cp "$work/normal.conf" "$work/kyso-milter.conf"

# kyso sign by hand, the same token and tables
"$top_builddir/milter/kyso" sign -c "$work/kyso-milter.conf" --key org "$fx/pdf/plain.pdf" \
    -o "$work/plain-signed.pdf" 2>"$work/sign.err"
ok $? "kyso sign signs a file with the token"
T="--trust-anchors $fx/pki/root.pem --intermediates $fx/pki/sub.pem --allow-missing-crl"
# shellcheck disable=SC2086
"$top_builddir/milter/kyso" verify $T "$work/plain-signed.pdf" >/dev/null 2>&1
ok $? "kyso verify: its output is valid"
pdfsig -nssdir "sql:$fx/nss" "$work/plain-signed.pdf" 2>/dev/null | grep -q "Signature is Valid"
ok $? "pdfsig: its output is valid"
mkdir -p "$work/many"
"$top_builddir/milter/kyso" sign -c "$work/kyso-milter.conf" --key org -o "$work/many" \
    "$fx/pdf/plain.pdf" "$fx/pdf/hybrid.pdf" "$fx/pdf/objstm.pdf" 2>>"$work/sign.err"
ok $([ $? -eq 0 ] && [ "$(ls "$work/many" | wc -l)" -eq 3 ]; echo $?) \
    "kyso sign: several files in one process into a folder"
"$top_builddir/milter/kyso" sign -c "$work/kyso-milter.conf" --key org \
    "$fx/pdf/certified-p1.pdf" -o "$work/p1.pdf" 2>"$work/p1.err"
ok $([ $? -eq 1 ] && grep -q "DocMDP P=1" "$work/p1.err" && [ ! -e "$work/p1.pdf" ]; echo $?) \
    "kyso sign: a certified P=1 document is refused with the reason, nothing written"
jq -s -e '[.[] | select(.account // "" | test("^kyso sign"))] | length == 5' "$audit" >/dev/null
ok $? "kyso sign: every file signed or refused is in the audit"
jq -s -e '[.[] | select(.event == "signed" and (.account // "" | test("^kyso sign")))][0] |
    .key == "org" and (.sha256_before | length == 64) and .sha256_before != .sha256_after
    and (.cert_serial | length > 0)' "$audit" >/dev/null
ok $? "audit of kyso sign: key, certificate serial, SHA-256 before and after"
b=$(sha256sum <"$fx/pdf/plain.pdf" | cut -d' ' -f1)
a=$(sha256sum <"$work/plain-signed.pdf" | cut -d' ' -f1)
jq -s -e --arg b "$b" --arg a "$a" '[.[] | select(.event == "signed" and
    (.document | endswith("/plain.pdf")))][0] | .sha256_before == $b and .sha256_after == $a' \
    "$audit" >/dev/null
ok $? "audit of kyso sign: the digests are those of the file given and the file written"

# B-LT by hand: lt=yes embeds the chain's revocation answers (here from
# the CRL files) in a DSS, so the document verifies with no CRL at hand
echo "org key=$URI cert=$fx/pki/org.pem chain=$fx/pki/sub.pem name=\"$ORG\" pin=file:$work/pin lt=yes" \
    >"$work/lt.table"
sed "s|KeyTable .*|KeyTable $work/lt.table|" "$work/kyso-milter.conf" >"$work/lt.conf"
echo "CRLs $fx/pki/crl" >>"$work/lt.conf"
"$top_builddir/milter/kyso" sign -c "$work/lt.conf" --key org "$fx/pdf/plain.pdf" \
    -o "$work/plain-lt.pdf" 2>"$work/lt.err"
ok $? "kyso sign with lt=yes (PAdES B-LT)"
NOCRL="--trust-anchors $fx/pki/root.pem --intermediates $fx/pki/sub.pem"
# shellcheck disable=SC2086
lt=$("$top_builddir/milter/kyso" verify --json $NOCRL "$work/plain-lt.pdf" 2>/dev/null | jq -r .verdict)
# shellcheck disable=SC2086
bb=$("$top_builddir/milter/kyso" verify --json $NOCRL --revocation crl "$work/plain-signed.pdf" \
    2>/dev/null | jq -r '.signatures[0].reason')
ok $([ "$lt" = valid ] && [ "$bb" = revocation_unknown ]; echo $?) \
    "B-LT verifies with no CRL and no network; the same signature without its DSS does not ($bb)"

# a certificate 10 days from expiry (R14): the log warns at start, the
# văn thư of the key and the postmaster get a notice in Vietnamese
openssl req -new -key "$fx/pki/org.key" -subj "/C=VN/O=$ORG/CN=$ORG" -out "$work/soon.csr" \
    2>/dev/null &&
openssl x509 -req -in "$work/soon.csr" -CA "$fx/pki/sub.pem" -CAkey "$fx/pki/sub.key" \
    -CAcreateserial -days 10 -out "$work/soon.pem" 2>/dev/null
ok $? "a certificate of the organisation key that expires in 10 days"
echo "org key=$fx/pki/org.key cert=$work/soon.pem chain=$fx/pki/sub.pem name=\"$ORG\"" \
    >"$work/keys.table"
rm -f "$work"/notices/*.eml
sed -i 's/^NoticeContact .*//' "$work/kyso-milter.conf"
echo "NoticeContact postmaster@sotttt.demo.gov.vn" >>"$work/kyso-milter.conf"
start_milter; ok $? "daemon starts with the expiring certificate"
for _ in $(seq 50); do [ "$(ls "$work"/notices/*.eml 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
stop_milter
grep -q "key org: the certificate expires on .* (9 days\|(10 days" "$work/milter.log"
ok $? "the log warns that the certificate expires, with the date and days left"
python3 - "$work"/notices/*.eml >"$work/expiry.txt" 2>/dev/null <<'PY'
import sys, email, email.policy
for f in sys.argv[1:]:
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
    print("TO", m["To"]); print("SUBJECT", m["Subject"]); print(m.get_body(("plain",)).get_content())
PY
grep -q "^TO vanthu@sotttt.demo.gov.vn" "$work/expiry.txt" &&
    grep -q "^TO postmaster@sotttt.demo.gov.vn" "$work/expiry.txt"
ok $? "notices to the văn thư of the key and to the postmaster"
grep -q "SUBJECT Chứng thư số sắp hết hạn" "$work/expiry.txt" && grep -q "Ban Cơ yếu" "$work/expiry.txt" &&
    grep -q "cert= " "$work/expiry.txt"
ok $? "the notice says, in Vietnamese first, what expires and what to do"

tap_finish
