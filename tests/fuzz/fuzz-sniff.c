/*
 * fuzz-sniff.c - libFuzzer target for content sniffing (lib/sniff.c) and
 * the dispatch above it (verify_buffer).  The first input byte picks the
 * declared name and type, as a mail part would give them; the rest is the
 * document.  sniff_kind must return a known kind for any bytes, and
 * verify_buffer must give a verdict for whatever it dispatched to.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "result.h"
#include "sniff.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Declared (name, type) pairs a sender could put on a part. */
static const struct { const char *name, *ctype; } declared[] = {
    { NULL, NULL },
    { "a.pdf", "application/pdf" },
    { "a.bin", "application/octet-stream" },
    { "a.txt.p7s", "application/pkcs7-signature" },
    { "a.p7m", "application/pkcs7-mime" },
    { "a.eml", "message/rfc822" },
    { "a.docx", NULL },
    { "a.doc", NULL },
};

/* LLVMFuzzerTestOneInput - sniff, then verify, the input after its first
 * byte.  Aborts (a finding) when sniff_kind returns an unknown kind;
 * otherwise returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kyso_verifier *v = fuzz_verifier();
    kyso_doc_result res = {0};
    size_t pick;
    kyso_kind k;

    if (size < 1)
        return 0;
    pick = data[0] % (sizeof(declared) / sizeof(declared[0]));
    data++, size--;
    k = sniff_kind(data, size, declared[pick].name, declared[pick].ctype);
    if ((int)k < KIND_OTHER || k > KIND_TEXT)
        abort();
    (void)verify_buffer(v, data, size, declared[pick].name, declared[pick].ctype,
                        NULL, 0, &res);
    result_free_doc(&res);
    return 0;
}
