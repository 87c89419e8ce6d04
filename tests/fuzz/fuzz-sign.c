/*
 * fuzz-sign.c - libFuzzer target for the organisation signer's side of a
 * PDF (lib/pdf-sign.c: strict open, page tree, form fields, widget
 * placement, the incremental update writer; lib/cms-sign.c).  The input is
 * one PDF file; the first byte picks the placement (invisible, top centre,
 * top right, over the personal signature) so the appearance path is
 * reached too.  The key is a P-256 key made once per process and held in
 * memory.  A finding is a crash, a sanitizer report, a leak or a timeout;
 * a refusal is fine.  When a file is signed, the output must start with
 * the input unchanged (else abort: an update that rewrote the original).
 * Seeds: the PDFs of tests/fixtures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pdf-sign.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_key;
static X509 *fuzz_cert;

/* fuzz_setup - the key and a self-signed certificate; aborts on failure. */
static void fuzz_setup(void)
{
    fuzz_key = EVP_EC_gen("P-256");
    fuzz_cert = X509_new();
    if (!fuzz_key || !fuzz_cert)
        abort();
    X509_set_version(fuzz_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(fuzz_cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(fuzz_cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(fuzz_cert), 86400);
    X509_NAME *n = X509_get_subject_name(fuzz_cert);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(fuzz_cert, n);
    X509_set_pubkey(fuzz_cert, fuzz_key);
    if (!X509_sign(fuzz_cert, fuzz_key, EVP_sha256()))
        abort();
}

/* mem_sign - cms_sign_fn over the in-memory key. */
static int mem_sign(void *ctx, int pss, const unsigned char *tbs, size_t len,
                    unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
    (void)ctx; (void)pss; (void)err; (void)errlen;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, fuzz_key) > 0 &&
             EVP_DigestSign(c, NULL, siglen, tbs, len) > 0 && (*sig = malloc(*siglen)) &&
             EVP_DigestSign(c, *sig, siglen, tbs, len) > 0;
    EVP_MD_CTX_free(c);
    return ok ? TOKEN_OK : TOKEN_EKEY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pdfs_place places[4] = { PDFS_PLACE_INVISIBLE, PDFS_PLACE_TOP_CENTER,
                                          PDFS_PLACE_TOP_RIGHT, PDFS_PLACE_AUTO };
    if (fuzz_key == NULL)
        fuzz_setup();
    if (size < 2)
        return 0;
    cms_signer s = { .cert = fuzz_cert, .sign = mem_sign };
    pdf_sign_req r = { .signer = &s, .kind = data[0] & 4 ? AP_ATTACHMENT : AP_SEAL,
                       .place = places[data[0] & 3], .org_name = "Sở Thông tin và Truyền thông",
                       .doc_number = data[0] & 8 ? "Số: 12/QĐ-UBND" : NULL,
                       .when = 1798777509, .max_objects = 20000 };
    unsigned char *out = NULL;
    size_t outlen = 0;
    char err[512];
    if (pdf_sign(&r, data + 1, size - 1, &out, &outlen, err, sizeof err) == TOKEN_OK &&
        (outlen <= size - 1 || memcmp(out, data + 1, size - 1) != 0))
        abort();
    free(out);
    return 0;
}
