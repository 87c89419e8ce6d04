/*
 * fuzz-cms.c - libFuzzer target for the CMS verifier (lib/cms.c).  The
 * input is one CMS blob (DER, or PEM/base64 for the attached form), fed in
 * turn to every entry point that takes untrusted CMS:
 *   - cms_verify_detached over a fixed content split in two spans, like a
 *     PDF ByteRange (the content is the fixtures' cms/doc.txt, so the
 *     fixtures' doc.txt.p7s is a seed that verifies all the way);
 *   - cms_verify_attached (.p7m), freeing the extracted content;
 *   - cms_verify_timestamp over the same spans;
 *   - cms_describe_signer.
 * A finding is a crash, a sanitizer report, a leak or a timeout.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cms.h"
#include "harness.h"
#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The signed content: two spans around an imaginary /Contents gap. */
static const char content_a[] = "Cong van so 123/STTTT-VP\r\n";
static const char content_b[] = "So tien tam ung: 1.000.000 dong.\r\n";

/* fuzz_new_sig - a zeroed signature result owned by DOC; aborts when out of
 * memory (result_add_sig returned NULL). */
static kyso_sig_result *fuzz_new_sig(kyso_doc_result *doc)
{
    kyso_sig_result *s = result_add_sig(doc);

    if (s == NULL)
        abort();
    return s;
}

/* LLVMFuzzerTestOneInput - run every CMS entry point on DATA; results are
 * collected in one document result and freed together.  Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kyso_verifier *v = fuzz_verifier();
    kyso_span spans[2] = {
        { (const unsigned char *)content_a, sizeof(content_a) - 1 },
        { (const unsigned char *)content_b, sizeof(content_b) - 1 },
    };
    kyso_doc_result doc = {0};
    unsigned char *content = NULL;
    size_t content_len = 0;

    (void)cms_verify_detached(v, data, size, spans, 2, CMSV_ONE_SIGNER,
                              fuzz_new_sig(&doc));
    (void)cms_verify_detached(v, data, size, spans, 2, CMSV_TEXT_CRLF,
                              fuzz_new_sig(&doc));
    (void)cms_verify_attached(v, data, size, &content, &content_len,
                              fuzz_new_sig(&doc));
    if (content != NULL) {
        /* touch every byte so ASan sees a short buffer */
        volatile unsigned char sink = 0;
        for (size_t i = 0; i < content_len; i++)
            sink ^= content[i];
        (void)sink;
        free(content);
    }
    (void)cms_verify_timestamp(v, data, size, spans, 2, fuzz_new_sig(&doc));
    (void)cms_describe_signer(v, data, size, fuzz_new_sig(&doc));
    result_free_doc(&doc);
    return 0;
}
