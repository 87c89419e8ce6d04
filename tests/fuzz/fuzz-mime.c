/*
 * fuzz-mime.c - libFuzzer target for whole-message verification
 * (lib/msg-verify.c, lib/mime-walk.c with GMime, then every attachment
 * through verify_buffer: PDF, .p7s, .p7m, S/MIME).  The input is one
 * RFC 5322 message.  A finding is a crash, a sanitizer report, a leak (the
 * one-time GLib/GMime allocations are suppressed by tests/lsan.supp) or a
 * timeout.
 */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "result.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - verify DATA as a message and free the result.
 * Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kyso_verifier *v = fuzz_verifier();
    kyso_doc_result res = {0};

    (void)msg_verify(v, data, size, &res);
    result_free_doc(&res);
    return 0;
}
