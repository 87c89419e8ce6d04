/*
 * fuzz-pdf.c - libFuzzer target for the PDF signature checker
 * (lib/pdf-sig.c and what it calls: qpdf parsing, revisions, ByteRange,
 * CMS, incremental-update diff).  The input is one PDF file.  A finding is
 * a crash, a sanitizer report, a leak or a timeout; any verdict is fine.
 * Seeds: the PDFs of tests/fixtures (see tests/fuzz/README.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "result.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - verify DATA as a PDF and free the result.
 * Always returns 0 (libFuzzer's "keep going"). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kyso_verifier *v = fuzz_verifier();
    kyso_doc_result res = {0};

    (void)pdf_sig_verify(v, data, size, &res);
    result_free_doc(&res);
    return 0;
}
