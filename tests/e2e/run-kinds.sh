#!/bin/bash
# tests/e2e/run-kinds.sh - every kind of bad document, as an SMTP client sees
# it, through a real private Postfix (tests/e2e/postfix.sh) with kyso-milter.
# Mail is sent with swaks, an SMTP client that is not ours: each unsigned or
# invalid fixture must be refused with our two-line reply (enhanced code per
# kyso-milter(8) "SMTP REPLIES", the attachment's name and the reason code
# that tests/verify/cases.txt gives for that fixture); each valid one
# delivered; mail outside EnforceDomains delivered untouched; and a SIGHUP
# with a broken configuration must leave the daemon serving the old one.
# TAP output.  Needs root (Postfix's master) and swaks.  It must never touch
# the system Postfix, nor signal any process it did not start.
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/common.sh"

e2e_require swaks
e2e_fixtures pdf/attack/digest-mismatch.pdf
e2e_workdir kinds
pf=$base/pf
mkdir -p "$pf" "$base/out"

e2e_write_conf gw-kinds "Notify no"
e2e_milter_start
pf_start "$pf" "unix:$sock" >"$base/pf-start.log" 2>&1
ok $? "a private Postfix starts with kyso-milter as its milter"
port=$(pf_port "$pf")

# swaks_send FROM TO FILE NAME OUT - send one message with FILE attached as
# application/pdf named NAME; swaks's whole transcript goes to OUT.
swaks_send() {
  swaks --server "127.0.0.1:$port" --timeout 30 --helo client.kyso.test \
    --from "$1" --to "$2" --header "Subject: kinds $4" \
    --body "Kinh gui, xin gui kem van ban $4." \
    --attach-type application/pdf --attach-name "$4" --attach "@$3" >"$5" 2>&1
}

# reply_of OUT - print the server's reply to the end of DATA from a swaks
# transcript (the lines after the "." line, up to QUIT), prefixes removed.
reply_of() {
  awk '/^ *-> \.$/ { d = 1; next } d && /^ *(<-|<\*\*) / { sub(/^ *(<-|<\*\*) +/, ""); print }
       d && /-> QUIT/ { exit }' "$1"
}

# check_refused FIXTURE REASON CODE - send FIXTURE (relative to $fx) and check
# the 550 reply: CODE on both lines, the attachment name and (REASON) on both,
# Vietnamese first then English, one reference id.
check_refused() {
  local rel=$1 reason=$2 code=$3 name r l1 l2 refs
  name=$(basename "$rel")
  swaks_send vanthu@sotttt.demo.gov.vn "k-${name%.pdf}@ubnd.demo.gov.vn" "$fx/$rel" "$name" \
    "$base/out/$name.txt"
  r=$(reply_of "$base/out/$name.txt")
  l1=$(printf '%s\n' "$r" | sed -n 1p) l2=$(printf '%s\n' "$r" | sed -n 2p)
  refs=$(printf '%s\n' "$r" | grep -o 'KS-[0-9A-Z]\{12\}' | sort -u | wc -l)
  local vi="550-$code Thu bi tu choi: tep dinh kem \"$name\": "
  [[ $l1 == "$vi"*"($reason)."*"Ma tra cuu: KS-"* ]] &&
    [[ $l2 == "550 $code Message refused: attachment \"$name\": "*"($reason). Reference: KS-"* ]] &&
    [ "$(printf '%s\n' "$r" | grep -c .)" -eq 2 ] && [ "$refs" -eq 1 ]
  local st=$?
  ok $st "$rel: 550 $code, both lines name \"$name\" and ($reason)"
  [ $st -eq 0 ] || printf '%s\n' "$r" | sed 's/^/#   got: /'
}

# check_delivered FIXTURE - send FIXTURE and check 250, then delivery with our
# X-Kyso-Document header saying valid for it.
check_delivered() {
  local rel=$1 name rcpt r got
  name=$(basename "$rel") rcpt="k-$(basename "$rel" .pdf)@ubnd.demo.gov.vn"
  swaks_send vanthu@sotttt.demo.gov.vn "$rcpt" "$fx/$rel" "$name" "$base/out/$name.txt"
  r=$(reply_of "$base/out/$name.txt")
  got=$(pf_wait_mail "$pf" "$rcpt" 1 20 2>/dev/null | head -1)
  [[ $r == "250 "* ]] && [ -n "$got" ] &&
    grep -q "^X-Kyso-Document: name=\"$name\"; type=pdf; required=yes; verdict=valid; reason=ok" \
      "$got"
  local st=$?
  ok $st "$rel: 250, delivered with X-Kyso-Document verdict=valid"
  [ $st -eq 0 ] || printf '%s\n' "$r" | sed 's/^/#   got: /'
}

# 1. each kind of refusal; reasons from tests/verify/cases.txt, codes from
# kyso-milter(8): 5.7.7 for integrity failures, 5.7.1 for the rest.
while read -r rel reason code; do
  check_refused "$rel" "$reason" "$code"
done <<'LIST'
pdf/plain.pdf                          unsigned                5.7.1
pdf/attack/digest-mismatch.pdf         digest_mismatch         5.7.7
pdf/attack/bad-signature.pdf           bad_signature           5.7.7
pdf/cms-revoked.pdf                    cert_revoked            5.7.1
pdf/cms-expired.pdf                    cert_expired            5.7.1
pdf/cms-untrusted.pdf                  untrusted_chain         5.7.1
pdf/cms-badku.pdf                      bad_key_usage           5.7.1
pdf/cms-sha1.pdf                       weak_algorithm          5.7.1
pdf/cms-rsa1024.pdf                    weak_algorithm          5.7.1
pdf/sha1-subfilter.pdf                 weak_algorithm          5.7.1
pdf/mutool-personal.pdf                weak_algorithm          5.7.1
pdf/attack/isa-content-xref.pdf        modified_after_signing  5.7.7
pdf/attack/usf-byterange-not-zero.pdf  bad_byterange           5.7.7
pdf/bad/truncated.pdf                  malformed               5.7.1
LIST
found=$(find "$pf/mail/ubnd.demo.gov.vn" -type f 2>/dev/null | wc -l)
[ "$found" -eq 0 ]; ok $? "none of the refused messages was delivered ($found found)"

# 2. valid documents, from three writers (pdfsig, our CMS signer over an xref
# table and over an xref stream), are delivered
for rel in pdf/two-sigs.pdf pdf/hybrid-signed.pdf pdf/objstm-signed.pdf; do
  check_delivered "$rel"
done

# 3. out of scope (sender outside EnforceDomains): delivered untouched
swaks_send vanthu@gmail.example tiepnhan@ubnd.demo.gov.vn "$fx/pdf/plain.pdf" outside.pdf \
  "$base/out/outside.txt"
r=$(reply_of "$base/out/outside.txt")
[[ $r == "250 "* ]]; ok $? "out of scope (gmail.example -> gov): 250 ($r)"
got=$(pf_wait_mail "$pf" tiepnhan@ubnd.demo.gov.vn 1 20 2>/dev/null | head -1)
[ -n "$got" ] && ! grep -qi '^X-Kyso-' "$got" && ! grep -qi '^Authentication-Results:' "$got"
ok $? "out of scope: delivered with no X-Kyso-* and no Authentication-Results header"
python3 - "$got" "$fx/pdf/plain.pdf" <<'PY'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
pdfs = [p.get_content() for p in m.iter_attachments() if p.get_filename() == "outside.pdf"]
sys.exit(0 if pdfs == [open(sys.argv[2], "rb").read()] else 1)
PY
ok $? "out of scope: the attachment arrives byte for byte as sent"
jq -s -e '[.[] | select(.env_from == "vanthu@gmail.example")] |
  length == 1 and .[0].mode == "off" and .[0].action == "accept"' \
  "$recs" >/dev/null
ok $? "out of scope: one record, mode off, action accept"

# 4. SIGHUP with a broken file: the old configuration keeps serving
e2e_write_conf gw-kinds "Notify no" "NoSuchKey yes"
kill -HUP "$mpid"
for _ in $(seq 50); do grep -q "reload failed" "$base/milter.log" && break; sleep 0.1; done
grep -q "reload failed, still running generation 1: $conf:[0-9]*: .*NoSuchKey" "$base/milter.log"
ok $? "SIGHUP with an unknown key: \"reload failed, still running generation 1\", file:line, key"
kill -0 "$mpid" 2>/dev/null; ok $? "the daemon is still running"
check_refused pdf/plain.pdf unsigned 5.7.1
check_delivered pdf/pdfsig-org.pdf

e2e_milter_stop; ok $? "kyso-milter stops cleanly"
e2e_finish "postfix log" "$pf"
