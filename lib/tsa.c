/*
 * tsa.c - RFC 3161 client (see tsa.h): build the TimeStampReq, POST it
 * through http.c, and judge the TimeStampResp: status, nonce, imprint,
 * time, size, then the token itself with cms_verify_timestamp (the same
 * checks a recipient makes: signature, ESS, TSA chain to an anchor,
 * critical timeStamping EKU).
 *
 * Must never: print, trust a size found in the answer, or return a token
 * that a recipient of ours would refuse.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "cms.h"
#include "http.h"
#include "trust.h"
#include "tsa.h"

/* tsa_fail - "time-stamp from URL: " and the formatted text into ERR;
 * returns -1. */
static int tsa_fail(const tsa_conf *c, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int tsa_fail(const tsa_conf *c, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "time-stamp from %s: ", c->url);

    if (n >= 0 && (size_t)n < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    ERR_clear_error();
    return -1;
}

/* tsa_make_request - the DER TimeStampReq for the SHA-256 digest MD with
 * NONCE, certReq true, into *der (OPENSSL_malloc'd) and *len.  0 or -1. */
static int tsa_make_request(const unsigned char md[32], const ASN1_INTEGER *nonce,
                            unsigned char **der, int *len)
{
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    int ok = req && mi && alg;

    *der = NULL;
    if (ok) {
        X509_ALGOR_set_md(alg, EVP_sha256());
        ok = TS_MSG_IMPRINT_set_algo(mi, alg) && TS_MSG_IMPRINT_set_msg(mi,
                                                                        (unsigned char *)md, 32)
             && TS_REQ_set_version(req, 1) && TS_REQ_set_msg_imprint(req, mi)
             && TS_REQ_set_nonce(req, nonce) && TS_REQ_set_cert_req(req, 1);
    }
    if (ok)
        ok = (*len = i2d_TS_REQ(req, der)) > 0;
    TS_REQ_free(req);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    return ok ? 0 : -1;
}

/* tsa_new_nonce - a random positive 64-bit INTEGER, or NULL. */
static ASN1_INTEGER *tsa_new_nonce(void)
{
    unsigned char r[8];
    BIGNUM *bn;
    ASN1_INTEGER *n = NULL;

    if (RAND_bytes(r, sizeof r) != 1)
        return NULL;
    r[0] &= 0x7f;
    r[0] |= 0x01;               /* never zero, never a short encoding */
    if ((bn = BN_bin2bn(r, sizeof r, NULL)) != NULL)
        n = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    return n;
}

/* tsa_status_text - the PKIStatusInfo of RESP as "status N: text". */
static void tsa_status_text(TS_RESP *resp, char *out, size_t outlen)
{
    TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
    const STACK_OF(ASN1_UTF8STRING) *txt = TS_STATUS_INFO_get0_text(si);
    const ASN1_UTF8STRING *t = txt && sk_ASN1_UTF8STRING_num(txt) > 0
        ? sk_ASN1_UTF8STRING_value(txt, 0) : NULL;
    long st = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));

    snprintf(out, outlen, "status %ld%s%.*s", st, t ? ": " : "",
             t ? (ASN1_STRING_length(t) > 200 ? 200 : ASN1_STRING_length(t)) : 0,
             t ? (const char *)ASN1_STRING_get0_data(t) : "");
}

/* tsa_check_tst - nonce, imprint and genTime of the TSTInfo in RESP.
 * 0, or -1 with ERR. */
static int tsa_check_tst(const tsa_conf *c, TS_RESP *resp, const ASN1_INTEGER *nonce,
                         const unsigned char md[32], char *err, size_t errlen)
{
    TS_TST_INFO *tst = TS_RESP_get_tst_info(resp);
    TS_MSG_IMPRINT *mi;
    ASN1_OCTET_STRING *msg;
    const ASN1_INTEGER *n;
    time_t gen, now = time(NULL);

    if (tst == NULL)
        return tsa_fail(c, err, errlen, "the answer holds no TSTInfo");
    n = TS_TST_INFO_get_nonce(tst);
    if (n == NULL || ASN1_INTEGER_cmp(n, nonce) != 0)
        return tsa_fail(c, err, errlen, "the answer does not carry our nonce (replayed?)");
    mi = TS_TST_INFO_get_msg_imprint(tst);
    msg = TS_MSG_IMPRINT_get_msg(mi);
    if (msg == NULL || ASN1_STRING_length(msg) != 32
        || OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(mi)->algorithm) != NID_sha256
        || memcmp(ASN1_STRING_get0_data(msg), md, 32) != 0)
        return tsa_fail(c, err, errlen, "the token's message imprint is not the one asked for");
    if (trust_time_of(TS_TST_INFO_get_time(tst), &gen) != 0)
        return tsa_fail(c, err, errlen, "the token's genTime does not parse");
    if (gen > now + TSA_MAX_SKEW || gen < now - TSA_MAX_SKEW)
        return tsa_fail(c, err, errlen, "the TSA's clock is %ld seconds away from ours",
                        (long)(gen - now));
    return 0;
}

/* tsa_take_token - the token of RESP as DER into *token (malloc'd), at
 * most TSA_TOKEN_MAX bytes.  0, or -1 with ERR. */
static int tsa_take_token(const tsa_conf *c, TS_RESP *resp, unsigned char **token,
                          size_t *toklen, char *err, size_t errlen)
{
    PKCS7 *p7 = TS_RESP_get_token(resp);
    unsigned char *der = NULL;
    int n = p7 ? i2d_PKCS7(p7, &der) : -1;

    if (n <= 0)
        return tsa_fail(c, err, errlen, "granted, but the answer holds no token");
    if ((size_t)n > TSA_TOKEN_MAX) {
        OPENSSL_free(der);
        return tsa_fail(c, err, errlen, "token of %d bytes is larger than the %d reserved",
                        n, TSA_TOKEN_MAX);
    }
    if ((*token = malloc((size_t)n)) == NULL) {
        OPENSSL_free(der);
        return tsa_fail(c, err, errlen, "out of memory");
    }
    memcpy(*token, der, (size_t)n);
    *toklen = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

/* tsa_judge - parse the answer ANS and keep its token when everything
 * holds.  0, or -1 with ERR. */
static int tsa_judge(const tsa_conf *c, const unsigned char *ans, size_t anslen,
                     const ASN1_INTEGER *nonce, const unsigned char md[32],
                     const unsigned char *data, size_t len,
                     unsigned char **token, size_t *toklen, char *err, size_t errlen)
{
    const unsigned char *p = ans;
    TS_RESP *resp = anslen <= LONG_MAX ? d2i_TS_RESP(NULL, &p, (long)anslen) : NULL;
    char st[300];
    long status;
    int rc = -1;

    if (resp == NULL || p != ans + anslen) {
        tsa_fail(c, err, errlen, "the answer is not a TimeStampResp");
        goto out;
    }
    status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
    if (status != 0 && status != 1) {
        tsa_status_text(resp, st, sizeof st);
        tsa_fail(c, err, errlen, "refused (%s)", st);
        goto out;
    }
    if (tsa_check_tst(c, resp, nonce, md, err, errlen) != 0
        || tsa_take_token(c, resp, token, toklen, err, errlen) != 0)
        goto out;
    kyso_span span = { data, len };
    kyso_sig_result r = { 0 };
    kyso_reason why = cms_verify_timestamp(c->v, *token, *toklen, &span, 1, &r);
    if (why != REASON_OK) {
        tsa_fail(c, err, errlen, "the token does not verify (%s): %s", reason_name(why),
                 r.detail ? r.detail : "no detail");
        free(*token);
        *token = NULL;
    } else {
        rc = 0;
    }
    free(r.subfilter); free(r.field); free(r.coverage); free(r.detail); free(r.warning);
    result_free_signer(&r.signer);
out:
    TS_RESP_free(resp);
    ERR_clear_error();
    return rc;
}

int tsa_stamp(const tsa_conf *c, const unsigned char *data, size_t len,
              unsigned char **token, size_t *toklen, char *err, size_t errlen)
{
    unsigned char md[32], *req = NULL, *ans = NULL;
    int reqlen = 0, rc = -1;
    size_t anslen = 0;
    char ctype[128], why[512];
    ASN1_INTEGER *nonce = tsa_new_nonce();

    *token = NULL;
    if (c->v == NULL)
        return tsa_fail(c, err, errlen, "no trust anchors to check the TSA against");
    if (nonce == NULL || !EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL)
        || tsa_make_request(md, nonce, &req, &reqlen) != 0) {
        ASN1_INTEGER_free(nonce);
        return tsa_fail(c, err, errlen, "cannot build the request");
    }
    http_req hr = { c->url, "application/timestamp-query", req, (size_t)reqlen,
                    c->timeout_ms > 0 ? c->timeout_ms : TSA_TIMEOUT_MS,
                    c->max_size > 0 ? c->max_size : TSA_MAX_ANSWER };
    if (http_fetch(&hr, &ans, &anslen, ctype, sizeof ctype, why, sizeof why) != 0)
        tsa_fail(c, err, errlen, "%s", why);
    else
        rc = tsa_judge(c, ans, anslen, nonce, md, data, len, token, toklen, err, errlen);
    free(ans);
    OPENSSL_free(req);
    ASN1_INTEGER_free(nonce);
    return rc;
}
