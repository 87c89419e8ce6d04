#!/bin/bash
# demo.sh - the main job at this stage: make a demo PKI and documents signed
# by independent tools (pdfsig, mutool, openssl), tamper with some, and show
# what "kyso verify" decides for each, in the table a postmaster reads.
# Usage: bash tests/demo.sh [OUTDIR]   (run from the build directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kyso=${KYSO:-$PWD/milter/kyso}
out=${1:-$PWD/tests/out/demo}
[ -x "$kyso" ] || { echo "demo: $kyso not built; run ./configure && make first" >&2; exit 2; }

echo "== making the demo PKI and documents in $out"
rm -rf "$out"; mkdir -p "$out"
bash "$here/fixtures/mkfixtures.sh" "$out" >"$out.log" 2>&1 || {
  echo "demo: fixture generation failed, see $out.log" >&2; exit 2; }

trust=(--trust-anchors "$out/pki/root.pem" --intermediates "$out/pki/sub.pem" --crl "$out/pki/crl")
show() {
  echo
  echo "== $1"
  shift
  "$kyso" verify "${trust[@]}" "$@" || true
}
show "signed by the organisation with pdfsig (poppler)" "$out/pdf/pdfsig-org.pdf"
show "personal signature, then the organisation's (two revisions)" "$out/pdf/two-sigs.pdf"
show "one byte of the page changed after signing" "$out/pdf/attack/digest-mismatch.pdf"
show "content replaced by an incremental update after signing" "$out"/pdf/attack/isa-*.pdf
show "a certificate revoked before the document was checked" "$out/pdf/cms-revoked.pdf"
show "a document with an empty signature field only" "$out/pdf/plain.pdf"
show "an e-mail with a signed PDF sent as application/octet-stream" "$out"/mail/*octet*.eml
echo
echo "== the same, as JSON for scripts (first file)"
"$kyso" verify --json "${trust[@]}" "$out/pdf/pdfsig-org.pdf" || true
