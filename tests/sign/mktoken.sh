#!/bin/sh
# mktoken.sh DIR KEYPEM [CERTPEM] -- a private SoftHSM2 token for the
# signing tests: DIR/softhsm2.conf (tokendir DIR/tokens, file object store)
# and, in it, the token "Kyso Org" (SO PIN 12345678, user PIN 123456) that
# holds KEYPEM as the private key "org", CKA_ID 01, and CERTPEM (when given
# and pkcs11-tool is installed) as the certificate "org", CKA_ID 01.
#
# Use it with: export SOFTHSM2_CONF=DIR/softhsm2.conf.  Touches nothing
# outside DIR (the key is converted to PKCS#8 in DIR, then removed).
# Exits non-zero, with the failing command's output on stderr, on failure.
set -eu

die() { echo "mktoken.sh: $*" >&2; exit 1; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then die "usage: mktoken.sh DIR KEYPEM [CERTPEM]"; fi
DIR=$1 KEY=$2 CERT=${3:-}
MODULE=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
LABEL="Kyso Org" SO_PIN=12345678 PIN=123456

command -v softhsm2-util >/dev/null || die "softhsm2-util not installed (apt-get install softhsm2)"
[ -r "$KEY" ] || die "cannot read $KEY"

# run CMD...: run quietly; on failure show its output and stop.
run() { "$@" >"$DIR/.out" 2>&1 || { cat "$DIR/.out" >&2; die "failed: $*"; }; }

mkdir -p "$DIR/tokens"
DIR=$(cd "$DIR" && pwd)
cat > "$DIR/softhsm2.conf" <<EOF
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
SOFTHSM2_CONF=$DIR/softhsm2.conf
export SOFTHSM2_CONF

run softhsm2-util --init-token --free --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN"
# softhsm2-util --import wants an unencrypted PKCS#8 PEM
umask 077
run openssl pkcs8 -topk8 -nocrypt -in "$KEY" -out "$DIR/key.p8"
run softhsm2-util --import "$DIR/key.p8" --token "$LABEL" --label org --id 01 --pin "$PIN"
rm -f "$DIR/key.p8" "$DIR/.out"

if [ -n "$CERT" ] && command -v pkcs11-tool >/dev/null; then
    run openssl x509 -in "$CERT" -outform DER -out "$DIR/cert.der"
    run pkcs11-tool --module "$MODULE" --token-label "$LABEL" --login --pin "$PIN" \
        --write-object "$DIR/cert.der" --type cert --label org --id 01
    rm -f "$DIR/cert.der" "$DIR/.out"
fi
exit 0
