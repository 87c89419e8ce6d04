/*
 * memsign.h - signing functions (cms_sign_fn, cms-sign.h) for the tests
 * that sign without a token: one over an EVP_PKEY held in memory (the CTX
 * argument), and one that behaves like an absent token.  Test code only.
 */
#ifndef KYSO_MEMSIGN_H
#define KYSO_MEMSIGN_H

#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include "token.h"

/* memsign_key - sign TBS with the key CTX (SHA-256; RSASSA-PSS, salt 32,
 * when PSS).  TOKEN_OK, or TOKEN_EKEY with "test key failed". */
static inline int memsign_key(void *ctx, int pss, const unsigned char *tbs, size_t len,
                              unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    int ok = c && EVP_DigestSignInit(c, &pc, EVP_sha256(), NULL, ctx) > 0;
    if (ok && pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) > 0;
    ok = ok && EVP_DigestSign(c, NULL, siglen, tbs, len) > 0;
    *sig = ok ? malloc(*siglen) : NULL;
    ok = ok && *sig && EVP_DigestSign(c, *sig, siglen, tbs, len) > 0;
    EVP_MD_CTX_free(c);
    if (!ok)
        snprintf(err, errlen, "test key failed");
    return ok ? TOKEN_OK : TOKEN_EKEY;
}

/* memsign_absent - a token that is not there: TOKEN_ETEMP. */
static inline int memsign_absent(void *ctx, int pss, const unsigned char *tbs, size_t len,
                                 unsigned char **sig, size_t *siglen, char *err,
                                 size_t errlen)
{
    (void)ctx; (void)pss; (void)tbs; (void)len; (void)sig; (void)siglen;
    snprintf(err, errlen, "token 'Kyso Org' not present");
    return TOKEN_ETEMP;
}

#endif
