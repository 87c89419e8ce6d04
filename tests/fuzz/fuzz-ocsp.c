/*
 * fuzz-ocsp.c - libFuzzer target for the revocation answers kyso reads
 * from the network or from inside a signature (lib/ocsp.c,
 * lib/crl-fetch.c): the first byte chooses what the rest is -
 *   0: an OCSP response, checked as a fresh answer about a fixed leaf;
 *   1: the same, as an embedded answer judged at a past time;
 *   2: a CRL, parsed and checked as an embedded CRL for the leaf;
 *   3: lines of an OCSPResponders table.
 * Each must give a verdict or a reason, never crash, hang or leak.  The
 * issuer and leaf are made once in memory (P-256), so answers signed by
 * anything else exercise the refusal paths; seeds from the test suite's
 * canned answers (tests/revocation) reach the acceptance paths only when
 * they match, which a campaign may find by mutating the certID.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crl-fetch.h"
#include "ocsp.h"
#include "revcache.h"
#include "verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_cert - a certificate for KEY named CN, signed by IKEY (self when
 * NULL); aborts on failure (a harness error). */
static X509 *fuzz_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();

    if (x == NULL || n == NULL)
        abort();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), issuer ? 2 : 1);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_set_pubkey(x, key);
    if (!X509_sign(x, ikey ? ikey : key, EVP_sha256()))
        abort();
    X509_NAME_free(n);
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kyso_verifier v;
    static X509 *issuer, *leaf;
    revcache_item it;
    char why[512];
    time_t now = time(NULL);

    if (issuer == NULL) {
        EVP_PKEY *ik = EVP_EC_gen("P-256"), *lk = EVP_EC_gen("P-256");
        if (ik == NULL || lk == NULL || verifier_init(&v) != 0)
            abort();
        issuer = fuzz_cert("Fuzz CA", ik, NULL, NULL);
        leaf = fuzz_cert("Fuzz Leaf", lk, issuer, ik);
        EVP_PKEY_free(ik);
        EVP_PKEY_free(lk);
    }
    if (size < 1)
        return 0;
    memset(&it, 0, sizeof it);
    switch (data[0] % 4) {
    case 0:
    case 1:
        ocsp_check_response(&v, data + 1, size - 1, leaf, issuer, now, data[0] % 4,
                            now - 86400, &it, why, sizeof why);
        revcache_item_clear(&it);
        break;
    case 2:
        crl_check_der(&v, data + 1, size - 1, leaf, issuer, now - 3600, now, NULL, why,
                      sizeof why);
        break;
    default: {
        kyso_ocsp_table *t = ocsp_table_new();
        char *text = malloc(size);
        if (t && text) {
            memcpy(text, data + 1, size - 1);
            text[size - 1] = '\0';
            for (char *s = text, *nl; s; s = nl) {
                if ((nl = strchr(s, '\n')) != NULL)
                    *nl++ = '\0';
                if (*s)
                    ocsp_table_add_line(t, s, why, sizeof why);
            }
        }
        free(text);
        ocsp_table_free(t);
    }
    }
    return 0;
}
