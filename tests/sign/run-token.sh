#!/bin/bash
# run-token.sh - lib/token.c on a real PKCS#11 module: makes a private
# SoftHSM2 token (tests/sign/mktoken.sh) holding the test PKI's org key in a
# temporary folder, then runs the driver tests/sign/test-token with the
# token, the module, the PIN, OpenSC's pkcs11-spy (to count C_Login calls)
# and the certificates in its environment, and relays its TAP.
#
# The test PKI comes from $top_builddir/tests/out/fixtures/pki when
# tests/verify/run-cases.sh built it; otherwise tests/fixtures/mkpki.sh
# builds a private one in the temporary folder (never the shared one, which
# another test may be building at the same time).  The folder is removed
# at exit unless KYSO_KEEP=1.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
DRIVER=$top_builddir/tests/sign/test-token
MODULE=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SPY=${PKCS11_SPY_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11-spy.so}
PIN=123456

skip() { echo "1..0 # SKIP $*"; exit 0; }
[ -x "$DRIVER" ] || skip "$DRIVER is not built (make check builds it)"
command -v softhsm2-util >/dev/null || skip "softhsm2-util not installed (apt-get install softhsm2)"
[ -r "$MODULE" ] || skip "$MODULE not installed (apt-get install softhsm2)"

TMP=$(mktemp -d /tmp/kyso-token.XXXXXX) || { echo "1..1"; echo "not ok 1 - mktemp"; exit 1; }
cleanup() {
    if [ "${KYSO_KEEP:-0}" = 1 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "1..1"; echo "not ok 1 - $1"; sed 's/^/# /' "$2" 2>/dev/null; exit 1; }

PKI=$top_builddir/tests/out/fixtures/pki
if [ ! -r "$PKI/org.key" ] || [ ! -r "$PKI/org.pem" ] || [ ! -r "$PKI/org.p12" ] ||
    [ ! -r "$PKI/personal.pem" ]; then
    PKI=$TMP/pki
    sh "$top_srcdir/tests/fixtures/mkpki.sh" "$PKI" > "$TMP/mkpki.log" 2>&1 ||
        fail "test PKI (tests/fixtures/mkpki.sh)" "$TMP/mkpki.log"
fi

SOFTHSM2_MODULE=$MODULE sh "$top_srcdir/tests/sign/mktoken.sh" "$TMP/hsm" "$PKI/org.key" \
    "$PKI/org.pem" > "$TMP/mktoken.log" 2>&1 ||
    fail "SoftHSM2 token (mktoken.sh)" "$TMP/mktoken.log"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$PKI/org.key" -passout "pass:$PIN" \
    -out "$TMP/org-enc.pem" 2> "$TMP/pkcs8.log" || fail "encrypted PEM key" "$TMP/pkcs8.log"

export SOFTHSM2_CONF=$TMP/hsm/softhsm2.conf
export TOKEN_MODULE=$MODULE TOKEN_PIN=$PIN TOKEN_DIR=$TMP/hsm/tokens TOKEN_SLOW_CONF=$TMP/slow.conf
export ORG_CERT=$PKI/org.pem PERSONAL_CERT=$PKI/personal.pem
export ORG_KEY=$PKI/org.key ORG_KEY_ENC=$TMP/org-enc.pem ORG_P12=$PKI/org.p12
if [ -r "$SPY" ]; then
    export TOKEN_SPY=$SPY TOKEN_SPY_LOG=$TMP/spy.log
    export PKCS11SPY=$MODULE PKCS11SPY_OUTPUT=$TMP/spy.log
else
    echo "# $SPY not installed (apt-get install opensc-pkcs11): C_Login calls not counted"
fi
# under --enable-sanitizers: the project's suppressions, plus pkcs11-spy's
# own allocation that it never frees (a test tool, not linked by kyso)
if [ -z "${LSAN_OPTIONS:-}" ]; then
    { cat "$top_srcdir/tests/lsan.supp" 2>/dev/null; echo "leak:pkcs11-spy.so"; } > "$TMP/lsan.supp"
    export LSAN_OPTIONS=suppressions=$TMP/lsan.supp:print_suppressions=0
fi

"$DRIVER"
