#!/bin/bash
# demo.sh - the main job, on the spot: a demo PKI and documents signed by
# independent tools, a SoftHSM2 token holding the organisation key,
# kyso-milter in front of a real (private, loopback) Postfix, demo mails
# going through it, and what each party sees: the SMTP reply, the headers
# on delivered mail, the organisation signature applied to the văn thư's
# document, the notice in the sender's mailbox, and the postmaster's
# decision and audit logs.
# Usage, as root, from the build directory: bash tests/demo.sh [OUTDIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
milter=${KYSO_MILTER:-$PWD/milter/kyso-milter}
out=${1:-$PWD/tests/out/demo}
[ -x "$milter" ] || { echo "demo: $milter not built; run ./configure && make first" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "demo: run as root (Postfix's master starts as root)" >&2; exit 2; }
. "$here/e2e/postfix.sh"

echo "== making the demo PKI and documents in $out"
rm -rf "$out"; mkdir -p "$out"; chmod 0755 "$out"
bash "$here/fixtures/mkfixtures.sh" "$out/fx" >"$out/fixtures.log" 2>&1 || {
  echo "demo: fixture generation failed, see $out/fixtures.log" >&2; exit 2; }
fx=$out/fx pf=$out/postfix mpid=
cleanup() { [ -n "$mpid" ] && kill "$mpid" 2>/dev/null; pf_stop "$pf" >/dev/null 2>&1 || true; }
trap cleanup EXIT

mkdir -p "$out/store"
echo "pilot.demo.gov.vn monitor" >"$out/modes.table"

echo "== a SoftHSM2 token with the organisation key (PIN in a file only root reads)"
bash "$here/sign/mktoken.sh" "$out/hsm" "$fx/pki/org.key" "$fx/pki/org.pem" \
  >"$out/mktoken.log" 2>&1 || { echo "demo: token set-up failed, see $out/mktoken.log" >&2; exit 2; }
export SOFTHSM2_CONF=$out/hsm/softhsm2.conf
(umask 077; echo 123456 >"$out/pin")
python3 - "$out/seal.png" <<'PY'
import math, struct, sys, zlib
n, rows = 160, b""
for y in range(n):
    rows += b"\0"
    for x in range(n):
        r = math.hypot(x - n / 2, y - n / 2)
        ring = 58 < r < 76 or 44 < r < 48 or (r < 16 and abs(x - n / 2) + abs(y - n / 2) < 20)
        rows += bytes([200, 16, 16, 255]) if ring else bytes(4)
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 6, 0, 0, 0))
open(sys.argv[1], "wb").write(png + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
URI="pkcs11:token=Kyso%20Org;object=org;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so"
echo "org key=$URI cert=$fx/pki/org.pem chain=$fx/pki/sub.pem seal=$out/seal.png" \
  "name=\"Sở Thông tin và Truyền thông Tỉnh Demo\" pin=file:$out/pin" >"$out/keys.table"
echo "vanthu vanthu@sotttt.demo.gov.vn org" >"$out/signers.table"
cat >"$out/kyso-milter.conf" <<CONF
# the demo configuration: the province watches mail between its agencies
Socket local:$out/milter.sock
SocketMode 0666
Syslog no
AuthservID mx.demo.gov.vn
NodeName gw-demo
TrustAnchors $fx/pki/anchors
Intermediates $fx/pki/intermediates
CRLs $fx/pki/crl
EnforceDomains *.demo.gov.vn
LocalDomains sotttt.demo.gov.vn
ModeTable $out/modes.table
Store file:$out/store
NoticeFrom postmaster@sotttt.demo.gov.vn
MTACommand /usr/sbin/sendmail -C $pf/etc
# the organisation signature for the văn thư account "vanthu"
KeyTable $out/keys.table
SignerTable $out/signers.table
CONF
"$milter" -n -c "$out/kyso-milter.conf"
"$milter" -f -c "$out/kyso-milter.conf" 2>"$out/milter.log" &
mpid=$!
for _ in $(seq 50); do [ -S "$out/milter.sock" ] && break; sleep 0.1; done
pf_start "$pf" "unix:$out/milter.sock" >"$out/postfix-start.log" 2>&1 || {
  echo "demo: Postfix did not start, see $out/postfix-start.log" >&2; exit 2; }
pf_add_user "$pf" vanthu demo >/dev/null
echo "== kyso-milter runs in front of Postfix on 127.0.0.1:$(pf_port "$pf") (submission $(pf_submit_port "$pf"))"

# mail FILE FROM SUBJECT PDF - a demo message with one attached PDF
mail() {
  python3 - "$@" <<'PY'
import sys
from email.message import EmailMessage
out, frm, subj, pdf = sys.argv[1:5]
m = EmailMessage()
m["From"] = frm; m["To"] = "tiepnhan@ubnd.demo.gov.vn"; m["Subject"] = subj
m.set_content("Kính gửi Văn phòng UBND tỉnh,\nXin gửi kèm công văn.\n")
m.add_attachment(open(pdf, "rb").read(), maintype="application", subtype="pdf",
                 filename="cong-van-so-45.pdf")
open(out, "wb").write(bytes(m))
PY
}
# send WHAT FROM PDF [AUTH] - send one, show the reply and our headers
send() {
  local what=$1 from=$2 pdf=$3 auth=${4:-} r port
  mail "$out/m.eml" "$from" "$what" "$pdf"
  port=$(pf_port "$pf")
  set --
  [ -n "$auth" ] && { port=$(pf_submit_port "$pf"); set -- --auth vanthu demo; }
  echo
  echo "== $what"
  echo "   from <$from>${auth:+ (SMTP AUTH vanthu)} to <tiepnhan@ubnd.demo.gov.vn>"
  r=$(python3 "$here/e2e/smtp-send.py" --port "$port" "$@" --from "$from" \
      --to tiepnhan@ubnd.demo.gov.vn "$out/m.eml")
  echo "   SMTP: ${r#RESULT }" | sed 's/ | /\n         /'
}
send "Công văn đã ký số (tổ chức, ký bằng pdfsig)" vanthu@sotttt.demo.gov.vn "$fx/pdf/pdfsig-org.pdf"
send "Công văn ký cá nhân rồi ký tổ chức" vanthu@sotttt.demo.gov.vn "$fx/pdf/two-sigs.pdf"
send "Công văn chưa ký số" vanthu@sotttt.demo.gov.vn "$fx/pdf/plain.pdf" auth
send "Công văn bị sửa sau khi ký" vanthu@sotttt.demo.gov.vn "$fx/pdf/attack/digest-mismatch.pdf"
send "Công văn ký bằng chứng thư đã bị thu hồi" vanthu@sotttt.demo.gov.vn "$fx/pdf/cms-revoked.pdf"
send "Đơn vị thí điểm (monitor): chưa ký" vanthu@pilot.demo.gov.vn "$fx/pdf/plain.pdf"
send "Văn thư gửi công văn đã có chữ ký cá nhân (ký số cơ quan khi gửi)" \
  vanthu@sotttt.demo.gov.vn "$fx/pdf/cms-personal.pdf" auth
sleep 1

echo
echo "== headers on the mail delivered to tiepnhan@ubnd.demo.gov.vn"
python3 - $(pf_wait_mail "$pf" tiepnhan@ubnd.demo.gov.vn 4 20) <<'PY'
import sys, email, email.policy
for path in sys.argv[1:]:
    m = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
    print("-- Subject: %s" % m["Subject"])
    for name, value in m.items():
        if name.startswith("X-Kyso") or name == "Authentication-Results":
            print("   %s: %s" % (name, " ".join(str(value).split())))
PY
echo
echo "== the document the văn thư sent, as delivered: signed by the person, then the organisation"
signed=$(pf_wait_mail "$pf" tiepnhan@ubnd.demo.gov.vn 4 20 | tail -1)
python3 - "$signed" "$out/signed.pdf" <<'PY'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for p in m.walk():
    if p.get_filename() == "cong-van-so-45.pdf":
        open(sys.argv[2], "wb").write(p.get_content())
PY
"${milter%-milter}" verify --trust-anchors "$fx/pki/anchors" \
  --intermediates "$fx/pki/intermediates" --crl "$fx/pki/crl" "$out/signed.pdf" | sed 's/^/   /'
pdftoppm -png -r 60 -f 1 -l 1 "$out/signed.pdf" "$out/signed-page" 2>/dev/null &&
  echo "   first page, with the seal: $out/signed-page-1.png"
echo "   audit: $(jq -c 'select(.event == "signed") | {account, key, document,
  cert_serial, sha256_after: .sha256_after[0:16]}' "$out/store/audit.jsonl")"

echo
echo "== the notice the văn thư received (sent because the mail was refused)"
note=$(pf_wait_mail "$pf" vanthu@sotttt.demo.gov.vn 1 20 | head -1)
python3 - "$note" <<'PY'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for h in ("From", "To", "Subject", "Auto-Submitted", "X-Kyso-Notice"):
    print("   %s: %s" % (h, m[h]))
print()
for line in m.get_body(("plain",)).get_content().splitlines():
    print("   " + line)
PY

echo
echo "== the postmaster's decision log ($out/store/decisions.jsonl)"
jq -r '[.time[11:19], .ref, (if .env_from == "" then "<> (a notice)" else .env_from end), .mode, .action, (.would // "-"), (.reason // "-"),
        ((.documents // []) | map(.name) | join(","))] | @tsv' "$out/store/decisions.jsonl" |
  column -t -s $'\t' -N TIME,REF,SENDER,MODE,ACTION,WOULD,REASON,DOCUMENTS | sed 's/^/   /'
echo
echo "   one record in full:  jq 'select(.reason == \"digest_mismatch\")' $out/store/decisions.jsonl"
echo "   the daemon's log:    $out/milter.log     Postfix's log: $pf/maillog"
