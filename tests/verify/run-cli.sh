#!/bin/sh
# run-cli.sh - the "kyso verify" contract of DESIGN.md as a user sees it:
# exit status 0/1/2, one JSON object per file with the documented fields,
# signer classes and their override, detached signatures with --content,
# and the table output in Vietnamese and English.  Prints TAP.
# Needs the fixtures that run-cases.sh builds (it builds them if missing).
set -u
top_srcdir=${top_srcdir:-.}
KYSO=${KYSO:-./milter/kyso}
out=${KYSO_FIXTURES:-$PWD/tests/out/fixtures}
if [ ! -f "$out/.done" ]; then
    KYSO_FIXTURES=$out sh "$top_srcdir/tests/verify/run-cases.sh" >/dev/null 2>&1
    [ -f "$out/.done" ] || { echo "1..1"; echo "not ok 1 - fixtures could not be built"; exit 1; }
fi
T="--trust-anchors $out/pki/root.pem --intermediates $out/pki/sub.pem --crl $out/pki/crl"
n=0

# check NAME COND... - one TAP line for a shell condition.
check() {
    name=$1; shift
    n=$((n + 1))
    if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; fi
}
# jqf FILE FILTER [OPTIONS...] - run kyso --json on FILE and apply FILTER.
jqf() {
    f=$1; flt=$2; shift 2
    # shellcheck disable=SC2086
    $KYSO verify --json $T "$@" "$out/$f" 2>/dev/null | jq -r "$flt"
}
eq() { [ "$1" = "$2" ] || { echo "# got '$1', want '$2'"; return 1; }; }

echo "1..17"
# shellcheck disable=SC2086
$KYSO verify $T "$out/pdf/cms-org.pdf" >/dev/null 2>&1; rc=$?
check "exit 0 when every file is valid" eq "$rc" 0
# shellcheck disable=SC2086
$KYSO verify $T "$out/pdf/cms-org.pdf" "$out/pdf/attack/digest-mismatch.pdf" >/dev/null 2>&1; rc=$?
check "exit 1 when any file is not valid" eq "$rc" 1
$KYSO verify --no-such-option x >/dev/null 2>&1; rc=$?
check "exit 2 on a usage error" eq "$rc" 2
$KYSO verify "$out/no/such/file.pdf" >/dev/null 2>&1; rc=$?
check "exit 2 on an I/O error" eq "$rc" 2
$KYSO verify --trust-anchors "$out/pdf/plain.pdf" "$out/pdf/cms-org.pdf" >/dev/null 2>&1; rc=$?
check "exit 2 when a trust file holds no certificate" eq "$rc" 2

# shellcheck disable=SC2086
lines=$($KYSO verify --json $T "$out/pdf/cms-org.pdf" "$out/pdf/two-sigs.pdf" | wc -l)
check "--json prints one line per file" eq "$lines" 2
check "JSON carries the documented fields" eq "$(jqf pdf/two-sigs.pdf \
    '[has("file"),has("kind"),has("verdict"),has("reason"),has("signatures"),has("attachments"),
      (.signatures[0]|has("etsi") and has("subfilter") and has("signer") and has("signing_time") and has("coverage"))]|all')" true
check "organisation certificate (UID MST:) is classed organisation" \
    eq "$(jqf pdf/cms-org.pdf '.signatures[0].signer.class')" organisation
check "personal certificate (UID CCCD:) is classed personal" \
    eq "$(jqf pdf/cms-personal.pdf '.signatures[0].signer.class')" personal
check "a configured class rule comes before the defaults" \
    eq "$(jqf pdf/cms-personal.pdf '.signatures[0].signer.class' --class-rule 'o Sở organisation')" organisation
check "two signatures: first covers an earlier revision, second the whole file" \
    eq "$(jqf pdf/two-sigs.pdf '[.signatures[].coverage]|join(",")')" "revision 2 of 3,whole"
check "the signer's e-mail comes from the certificate" \
    eq "$(jqf pdf/cms-personal.pdf '.signatures[0].signer.email')" an.nv@sotttt.demo.gov.vn
check "ETSI indication for a changed document is HASH_FAILURE" \
    eq "$(jqf pdf/attack/digest-mismatch.pdf '.signatures[0].etsi')" HASH_FAILURE
cp "$out/cms/doc.txt.p7s" "$out/cms/renamed.p7s"
check "a detached signature is checked against --content" \
    eq "$(jqf cms/renamed.p7s '.verdict' --content "$out/cms/doc.txt")" valid
# shellcheck disable=SC2086
table=$($KYSO verify $T "$out/pdf/attack/digest-mismatch.pdf")
check "the table says what is wrong in Vietnamese" \
    eval 'printf "%s" "$table" | grep -q "Nội dung văn bản đã bị thay đổi sau khi ký"'
check "and in English" eval 'printf "%s" "$table" | grep -q "The signed content has been changed"'
# shellcheck disable=SC2086
table=$($KYSO verify $T "$out/pdf/org-then-timestamp.pdf")
ts=$(jqf pdf/org-then-timestamp.pdf '.signatures[1].timestamp_time')
check "the table shows the time-stamp and the time the signature existed by" \
    eval 'printf "%s" "$table" | grep -q "time-stamped $ts" &&
          printf "%s" "$table" | grep -q "existed by $ts"'
