#!/bin/sh
# run-cases.sh - the verifier against fixtures made at test time: builds the
# test PKI and documents with independent tools (tests/fixtures), then runs
# "kyso verify --json" on each file listed in cases.txt and checks the
# verdict and reason the case expects.  Prints TAP.
set -u
top_srcdir=${top_srcdir:-.}
KYSO=${KYSO:-./milter/kyso}
out=${KYSO_FIXTURES:-$PWD/tests/out/fixtures}
cases="$top_srcdir/tests/verify/cases.txt"

# the fixtures are rebuilt whenever their scripts change
stamp=$(cat "$top_srcdir"/tests/fixtures/* | cksum | cut -d' ' -f1)
if [ "$(cat "$out/.done" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$out"
    mkdir -p "$out"
    if ! bash "$top_srcdir/tests/fixtures/mkfixtures.sh" "$out" >"$out.log" 2>&1; then
        echo "1..1"
        echo "not ok 1 - fixtures: tests/fixtures/mkfixtures.sh failed, see $out.log"
        tail -20 "$out.log" | sed 's/^/# /'
        exit 1
    fi
    echo "$stamp" >"$out/.done"
fi

# case_opts REST - kyso options for the words before '#': crl=DIR replaces
# the CRL folder, at=TIME sets --at, other words are passed as they are.
case_opts() {
    crl=$out/pki/crl
    extra=""
    for w in $(printf '%s\n' "$1" | sed 's/#.*//'); do
        case $w in
            crl=*) crl=$out/${w#crl=} ;;
            at=*) extra="$extra --at ${w#at=}" ;;
            *) extra="$extra $w" ;;
        esac
    done
    echo "--trust-anchors $out/pki/root.pem --intermediates $out/pki/sub.pem --crl $crl$extra"
}
n=0
fail=0
plan=$(grep -cv '^[[:space:]]*\(#\|$\)' "$cases")
echo "1..$plan"
grep -v '^[[:space:]]*\(#\|$\)' "$cases" | while read -r file verdict reason rest; do
    n=$((n + 1))
    opts=$(case_opts "$rest")
    # shellcheck disable=SC2086
    got=$($KYSO verify --json $opts "$out/$file" 2>"$out/stderr.txt")
    rc=$?
    gv=$(printf '%s\n' "$got" | jq -r '.verdict + " " + .reason' 2>/dev/null | head -1)
    if [ "$gv" = "$verdict $reason" ] && { [ $rc -eq 0 ] || [ $rc -eq 1 ]; }; then
        shown=$(printf '%s' "$rest" | sed 's/#.*//;s/ *$//')
        echo "ok $n - $file: $verdict $reason${shown:+ ($shown)}"
    else
        echo "not ok $n - $file: expected $verdict $reason, got '${gv:-nothing}' (exit $rc)"
        printf '%s\n' "$got" | head -c 1500 | sed 's/^/# /'
        echo
        sed 's/^/# stderr: /' "$out/stderr.txt" | head -5
    fi
done
