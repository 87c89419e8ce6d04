#!/bin/bash
# run-timestamp.sh - time-stamps (RFC 3161) end to end, with a local TSA
# (tsa-server.py: `openssl ts -reply` behind a small HTTP server on
# 127.0.0.1): kyso sign with tsa= makes PAdES B-T documents that kyso
# verify, pdfsig and `openssl ts -verify` (on the extracted token) accept;
# a document signed with a certificate that has since expired but
# time-stamped while it was valid is valid; a time-stamp over the wrong
# imprint is timestamp_invalid; a TSA that is slow, too large, refusing,
# wrong or broken leaves no document and a clear reason.  Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
KYSO=${KYSO:-$top_builddir/milter/kyso}
fx=${KYSO_FIXTURES:-$top_builddir/tests/out/fixtures}
work=$top_builddir/tests/out/timestamp
here=$top_srcdir/tests/timestamp
n=0
failed=0
srv=

ok() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; }
trap cleanup EXIT

for t in python3 openssl jq pdfsig; do
    command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed"; exit 0; }
done
if [ ! -f "$fx/.done" ]; then
    KYSO_FIXTURES=$fx sh "$top_srcdir/tests/verify/run-cases.sh" >/dev/null 2>&1
    [ -f "$fx/.done" ] || { echo "1..1"; echo "not ok 1 - fixtures could not be built"; exit 1; }
fi
rm -rf "$work"
mkdir -p "$work/store"
pki=$fx/pki

# the TSA
python3 "$here/tsa-server.py" "$pki" "$work/port" 2>"$work/tsa.log" &
srv=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port" 2>/dev/null)
[ -n "$port" ]; ok $? "the local TSA listens on 127.0.0.1:${port:-?}"
TSA=http://127.0.0.1:$port

# a certificate valid for two days only (expired at --at +10 days)
sed -n '/^\[ v3_leaf \]/,/^\[/p' "$pki/sub-ca.cnf" | sed '$d' >"$work/leaf.ext"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/short.key" 2>/dev/null &&
  openssl req -new -key "$work/short.key" -subj "/C=VN/O=Sở Ngắn Hạn/CN=Sở Ngắn Hạn" -utf8 \
    -out "$work/short.csr" 2>/dev/null &&
  LEAF_EMAIL=vanthu@songanhan.demo.gov.vn openssl x509 -req -in "$work/short.csr" \
    -CA "$pki/sub.pem" -CAkey "$pki/sub.key" -set_serial 0x5A01 -days 2 -sha256 \
    -extfile "$work/leaf.ext" -extensions v3_leaf -out "$work/short.pem" 2>"$work/x509.log"
ok $? "a certificate valid for two days (openssl x509 -req)"

# the tables and the configuration of kyso sign
keys() { # FILE TSA-URL [more options]
    local f=$1 url=$2; shift 2
    {
        echo "org key=$pki/org.key cert=$pki/org.pem chain=$pki/sub.pem tsa=$url $*"
        echo "short key=$work/short.key cert=$work/short.pem chain=$pki/sub.pem tsa=$url $*"
        echo "plain key=$pki/org.key cert=$pki/org.pem chain=$pki/sub.pem"
    } >"$f"
}
conf() { # FILE KEYTABLE
    printf '%s\n' "Socket local:$work/milter.sock" "TrustAnchors $pki/anchors" "Intermediates $pki/intermediates" \
        "CRLs $pki/crl" "Store file:$work/store" "Syslog no" "SignTimeout 2000" \
        "SignerTable $work/signers.table" "KeyTable $2" >"$1"
}
echo "vanthu vanthu@sotttt.demo.gov.vn org" >"$work/signers.table"
keys "$work/keys.table" "$TSA/"
conf "$work/kyso.conf" "$work/keys.table"
in=$fx/pdf/plain.pdf
T="--trust-anchors $pki/anchors --intermediates $pki/intermediates --crl $pki/crl"

# --- B-T: signed and time-stamped --------------------------------------------
"$KYSO" sign -c "$work/kyso.conf" --key org "$in" -o "$work/bt.pdf" 2>"$work/sign.err"
ok $? "kyso sign with tsa=: a PAdES B-T document ($(head -c 200 "$work/sign.err"))"
# shellcheck disable=SC2086
"$KYSO" verify --json $T "$work/bt.pdf" >"$work/bt.json"
ok $? "kyso verify: the B-T document is valid"
[ -s "$work/bt.json" ] && jq -e '.signatures[-1] | .reason == "ok" and (.timestamp_time | test("^20")) and
       (.poe_time | test("^20")) and .warning == null' "$work/bt.json" >/dev/null
ok $? "kyso verify --json: timestamp_time and poe_time of the signature, no warning"
python3 "$here/tstool.py" extract "$work/bt.pdf" "$work/bt.tst" "$work/bt.sigval"
ok $? "the signature time-stamp token is in the unsigned attributes"
cat "$pki/sub.pem" "$pki/root.pem" >"$work/ca.pem"
openssl ts -verify -token_in -in "$work/bt.tst" -data "$work/bt.sigval" -CAfile "$work/ca.pem" \
    >"$work/tsverify.log" 2>&1
ok $? "openssl ts -verify: the token covers the signature value, TSA trusted"
openssl ts -reply -token_in -in "$work/bt.tst" -text 2>/dev/null | grep -q "Nonce: 0x"
ok $? "the token answers our request: it carries a nonce"
mkdir -p "$work/nss"
certutil -N -d "sql:$work/nss" --empty-password 2>/dev/null &&
  certutil -A -d "sql:$work/nss" -n root -t "C,C,C" -i "$pki/root.pem" 2>/dev/null &&
  certutil -A -d "sql:$work/nss" -n sub -t ",," -i "$pki/sub.pem" 2>/dev/null
pdfsig -nssdir "sql:$work/nss" "$work/bt.pdf" >"$work/pdfsig.log" 2>&1
grep -q "Signature Validation: Signature is Valid" "$work/pdfsig.log"
ok $? "pdfsig: the B-T signature is valid (poppler does not show the time-stamp)"

# --- proof of existence: an expired certificate time-stamped while valid ----
"$KYSO" sign -c "$work/kyso.conf" --key short "$in" -o "$work/short-bt.pdf" 2>"$work/sign.err"
ok $? "kyso sign with a two-day certificate and a time-stamp"
"$KYSO" sign -c "$work/kyso.conf" --key plain "$in" -o "$work/org-bb.pdf" 2>>"$work/sign.err"
sed -i "s|^plain key=$pki/org.key cert=$pki/org.pem|plain key=$work/short.key cert=$work/short.pem|" \
    "$work/keys.table"
"$KYSO" sign -c "$work/kyso.conf" --key plain "$in" -o "$work/short-bb.pdf" 2>>"$work/sign.err"
ok $? "the same certificate without a time-stamp (B-B)"
later=$(date -u -d '10 days' +%Y-%m-%dT%H:%M:%SZ)
# shellcheck disable=SC2086
"$KYSO" verify --json $T --at "$later" "$work/short-bt.pdf" >"$work/short-bt.json"
ok $? "ten days later, certificate expired, time-stamped while valid: valid"
[ -s "$work/short-bt.json" ] && jq -e '.signatures[-1].poe_time != null' "$work/short-bt.json" >/dev/null
ok $? "the certificate was checked at the time-stamp's time (poe_time)"
# shellcheck disable=SC2086
"$KYSO" verify --json $T --at "$later" "$work/short-bb.pdf" >"$work/short-bb.json"
[ $? -eq 1 ] && jq -e '.reason == "cert_expired"' "$work/short-bb.json" >/dev/null
ok $? "ten days later without a time-stamp: cert_expired"

# --- a time-stamp over the wrong imprint ------------------------------------
"$KYSO" sign -c "$work/kyso.conf" --key org "$fx/pdf/hybrid.pdf" -o "$work/donor.pdf" 2>/dev/null &&
  python3 "$here/tstool.py" swap "$work/bt.pdf" "$work/donor.pdf" "$work/wrong-imprint.pdf"
ok $? "a B-T document whose token is another signature's (same length)"
# shellcheck disable=SC2086
"$KYSO" verify --json $T "$work/wrong-imprint.pdf" >"$work/wrong.json"
[ $? -eq 1 ] && jq -e '.reason == "timestamp_invalid" and
    (.signatures[-1].detail | test("imprint"))' "$work/wrong.json" >/dev/null
ok $? "time-stamp over the wrong imprint: timestamp_invalid, the imprint named"

# --- a TSA that misbehaves: bounded, a clear reason, no document --------------
bad_tsa() { # PATH WORDS WHAT
    keys "$work/bad.table" "$TSA$1"
    conf "$work/bad.conf" "$work/bad.table"
    rm -f "$work/bad.pdf"
    local t0 t1 rc
    t0=$(date +%s)
    "$KYSO" sign -c "$work/bad.conf" --key org "$in" -o "$work/bad.pdf" 2>"$work/bad.err"
    rc=$?
    t1=$(date +%s)
    [ $rc -eq 2 ] && [ ! -e "$work/bad.pdf" ] && grep -q "$2" "$work/bad.err" &&
        [ $((t1 - t0)) -le 4 ]
    ok $? "$3: refused within $((t1 - t0)) s, no document ($(head -c 160 "$work/bad.err"))"
}
bad_tsa /slow "timed out after 2000 ms" "a TSA slower than SignTimeout"
bad_tsa /big "larger than" "a TSA answering 200 KB"
bad_tsa /error "HTTP 500" "a TSA answering HTTP 500"
bad_tsa /rejection "refused (status 2" "a TSA refusing the request"
bad_tsa /other "nonce" "a TSA answering another request"
bad_tsa /garbage "not a TimeStampResp" "a TSA answering garbage"
keys "$work/bad.table" "http://127.0.0.1:1/"
conf "$work/bad.conf" "$work/bad.table"
"$KYSO" sign -c "$work/bad.conf" --key org "$in" -o "$work/bad.pdf" 2>"$work/bad.err"
[ $? -eq 2 ] && grep -q "time-stamp from http://127.0.0.1:1/" "$work/bad.err"
ok $? "a TSA that is down: refused, the TSA named ($(head -c 160 "$work/bad.err"))"
# a TSA the anchors do not know: the answer is refused
sed 's|^TrustAnchors .*|TrustAnchors '"$pki"'/otherroot.pem|' "$work/kyso.conf" >"$work/other.conf"
"$KYSO" sign -c "$work/other.conf" --key org "$in" -o "$work/bad.pdf" 2>"$work/bad.err"
[ $? -eq 2 ] && grep -q "does not verify (untrusted_chain)" "$work/bad.err"
ok $? "a TSA not chained to TrustAnchors: refused ($(head -c 160 "$work/bad.err"))"
# the KeyTable refuses what it does not understand
echo "org key=$pki/org.key cert=$pki/org.pem tsa=ftp://x/" >"$work/bad.table"
conf "$work/bad.conf" "$work/bad.table"
"$KYSO" sign -c "$work/bad.conf" --key org "$in" -o "$work/bad.pdf" 2>"$work/bad.err"
[ $? -eq 2 ] && grep -q "bad.table:1: tsa=ftp://x/" "$work/bad.err"
ok $? "KeyTable: tsa= must be http(s), named with file and line"
echo "org key=$pki/org.key cert=$pki/org.pem lt=maybe" >"$work/bad.table"
"$KYSO" sign -c "$work/bad.conf" --key org "$in" -o "$work/bad.pdf" 2>"$work/bad.err"
[ $? -eq 2 ] && grep -q "lt=maybe is not valid" "$work/bad.err"
ok $? "KeyTable: lt= is yes or no"

echo "1..$n"
[ $failed -eq 0 ]
