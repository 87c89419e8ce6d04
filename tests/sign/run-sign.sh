#!/bin/bash
# run-sign.sh - the organisation signature as the people who receive the
# documents see it.  test-pdf-sign signs the generated fixtures (plain,
# hybrid-reference, object streams, personally signed by our fixtures and by
# mutool, certified P=2, attached document, RSASSA-PSS) with the test
# organisation key; every result is then checked by three verifiers that
# are not the signer: kyso verify, poppler's pdfsig (NSS database trusting
# the test root) and MuPDF's mutool sign -v, and by qpdf --check.  The first
# page of each is rendered with pdftoppm into tests/out/sign/ for a person
# to look at.  Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
KYSO=${KYSO:-$top_builddir/milter/kyso}
fx=${KYSO_FIXTURES:-$top_builddir/tests/out/fixtures}
out=$top_builddir/tests/out/sign
n=0
failed=0

ok() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

for t in pdfsig mutool qpdf pdftoppm pdftotext jq; do
    command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed"; exit 0; }
done
if [ ! -f "$fx/.done" ]; then
    KYSO_FIXTURES=$fx sh "$top_srcdir/tests/verify/run-cases.sh" >/dev/null 2>&1
    [ -f "$fx/.done" ] || { echo "1..1"; echo "not ok 1 - fixtures could not be built"; exit 1; }
fi
rm -rf "$out"
mkdir -p "$out"

# the signing itself, its checks renumbered into ours
while IFS= read -r line; do
    case $line in
        "ok "*) ok 0 "${line#ok [0-9]* - }" ;;
        "not ok "*) ok 1 "${line#not ok [0-9]* - }" ;;
        "#"*) echo "$line" ;;
    esac
done < <(KYSO_FIXTURES=$fx top_builddir=$top_builddir "$top_builddir/tests/sign/test-pdf-sign")

T="--trust-anchors $fx/pki/root.pem --intermediates $fx/pki/sub.pem --crl $fx/pki/crl"
ORG="Sở Thông tin và Truyền thông Tỉnh Demo"

# verify_all FILE NSIGS - every signature of FILE valid for all verifiers;
# the last one is the organisation's.
verify_all() {
    local f=$out/$1 want=$2 v sigs valid
    # shellcheck disable=SC2086
    v=$($KYSO verify --json $T "$f" 2>/dev/null)
    sigs=$(jq -r '[.signatures[] | select(.reason == "ok")] | length' <<<"$v")
    ok $([ "$(jq -r .verdict <<<"$v")" = valid ] && [ "$sigs" = "$want" ]; echo $?) \
        "$1: kyso verify: valid, $want of $want signatures ok (got $sigs)"
    ok $(jq -e -r --arg o "$ORG" '.signatures[-1].signer.subject | contains($o)' \
        <<<"$v" >/dev/null; echo $?) "$1: kyso verify: the last signature is the organisation's"
    valid=$(pdfsig -nssdir "sql:$fx/nss" "$f" 2>/dev/null | grep -c "Signature is Valid")
    ok $([ "$valid" = "$want" ]; echo $?) "$1: pdfsig: $want valid signatures (got $valid)"
    qpdf --check "$f" >/dev/null 2>&1
    ok $? "$1: qpdf --check finds nothing wrong"
}

# mutool_last FILE - MuPDF finds the last signature over the whole file.
mutool_last() {
    mutool sign -v "$out/$1" 2>&1 | tail -1 | grep -q "unchanged since signing"
    ok $? "$1: mutool sign -v: the document is unchanged since the last signature"
}

# render FILE - the first page as a PNG artifact, and its text.
render() {
    pdftoppm -png -r 80 -f 1 -l 1 "$out/$1" "$out/${1%.pdf}" 2>/dev/null
    ls "$out/${1%.pdf}"*.png >/dev/null 2>&1
    ok $? "$1: rendered to tests/out/sign/${1%.pdf}-1.png"
}

for f in plain-org.pdf hybrid-org.pdf objstm-org.pdf certified-p2-org.pdf plain-invisible.pdf \
         plain-attachment.pdf; do
    want=1
    [ "$f" = certified-p2-org.pdf ] && want=2
    verify_all $f $want
    mutool_last $f
    render $f
done
# the earlier personal signatures stay valid
verify_all personal-then-org.pdf 2
mutool_last personal-then-org.pdf
render personal-then-org.pdf
mutool sign -v "$out/personal-then-org.pdf" 2>&1 | grep -q "valid but there have been edits"
ok $? "personal-then-org.pdf: mutool: the personal signature is valid, with our update after it"
# mutool's personal signature (SHA-1 digest: weak for us, still intact for all)
mutool_last mutool-then-org.pdf
valid=$(pdfsig -nssdir "sql:$fx/nss" "$out/mutool-then-org.pdf" 2>/dev/null | grep -c "Signature is Valid")
ok $([ "$valid" = 2 ]; echo $?) "mutool-then-org.pdf: pdfsig: both signatures valid"
# RSASSA-PSS: kyso verify and pdfsig (MuPDF does not verify PSS)
verify_all plain-pss.pdf 1

# what a person reads on the page
for f in plain-org.pdf personal-then-org.pdf; do
    pdftotext -f 1 -l 1 "$out/$f" - 2>/dev/null | tr -s ' \n' '  ' | grep -q "Thông tin và Truyền"
    ok $? "$f: the organisation name is on the first page, in Vietnamese"
done
pdftotext -f 1 -l 1 "$out/plain-attachment.pdf" - 2>/dev/null | grep -q "123/QĐ-UBND"
ok $? "plain-attachment.pdf: the document number is on the first page"
pdftotext -f 1 -l 1 "$out/plain-invisible.pdf" - 2>/dev/null | grep -q "Truyền thông"
ok $([ $? -ne 0 ]; echo $?) "plain-invisible.pdf: nothing drawn"

echo "1..$n"
[ $failed -eq 0 ]
