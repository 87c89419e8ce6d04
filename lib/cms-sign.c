/*
 * cms-sign.c - detached CMS SignedData whose signature value comes from a
 * signing function (the token), so that the private key never passes
 * through here.  OpenSSL builds the structure with a partial signer whose
 * only key is the certificate's public one; the signed attributes are
 * added, DER-encoded and signed by us, which also keeps out the
 * signingTime attribute that CMS_final would add (PAdES B-B forbids it).
 * A signature time-stamp (PAdES B-T) is asked for over the finished
 * signature value and added as an unsigned attribute.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include "cms-sign.h"
#include "token.h"
#include "tsa.h"

/* ossl_fail - put WHAT and OpenSSL's first queued error into ERR. */
static int ossl_fail(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char why[200] = "failed";
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, why);
    ERR_clear_error();
    return TOKEN_ECONFIG;
}

/* digest_spans - SHA-256 of the concatenated spans into MD. 0 or -1. */
static int digest_spans(const kyso_span *spans, size_t n, unsigned char md[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(c, spans[i].p, spans[i].len);
    ok = ok && EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

/* set_pss_algorithm - make SI's signatureAlgorithm RSASSA-PSS with SHA-256,
 * MGF1-SHA-256 and a 32-byte salt (RFC 4056).  0 or -1. */
static int set_pss_algorithm(CMS_SignerInfo *si)
{
    X509_ALGOR *alg = NULL, *mgfmd = X509_ALGOR_new();
    RSA_PSS_PARAMS *pp = RSA_PSS_PARAMS_new();
    ASN1_STRING *mgfp = NULL, *params = NULL;
    int ok = 0;
    CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &alg);
    if (alg == NULL || mgfmd == NULL || pp == NULL)
        goto out;
    pp->hashAlgorithm = X509_ALGOR_new();
    pp->maskGenAlgorithm = X509_ALGOR_new();
    pp->saltLength = ASN1_INTEGER_new();
    if (!pp->hashAlgorithm || !pp->maskGenAlgorithm || !pp->saltLength)
        goto out;
    X509_ALGOR_set_md(pp->hashAlgorithm, EVP_sha256());
    X509_ALGOR_set_md(mgfmd, EVP_sha256());
    mgfp = ASN1_item_pack(mgfmd, ASN1_ITEM_rptr(X509_ALGOR), NULL);
    if (mgfp == NULL || !ASN1_INTEGER_set(pp->saltLength, 32))
        goto out;
    X509_ALGOR_set0(pp->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgfp);
    mgfp = NULL;
    params = ASN1_item_pack(pp, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL);
    if (params == NULL)
        goto out;
    ok = X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params);
    if (ok)
        params = NULL;
out:
    ASN1_STRING_free(mgfp);
    ASN1_STRING_free(params);
    X509_ALGOR_free(mgfmd);
    RSA_PSS_PARAMS_free(pp);
    return ok ? 0 : -1;
}

struct der_item {
    unsigned char *p;
    int len;
};

/* der_item_cmp - DER order of SET OF members: bytes, then length. */
static int der_item_cmp(const void *a, const void *b)
{
    const struct der_item *x = a, *y = b;
    int r = memcmp(x->p, y->p, (size_t)(x->len < y->len ? x->len : y->len));
    return r ? r : x->len - y->len;
}

/*
 * encode_signed_attrs - the DER SET OF SI's signed attributes, sorted as
 * DER wants (this is what the signature covers, RFC 5652 5.4).  Returns
 * the malloc'd bytes with *len, or NULL.
 */
static unsigned char *encode_signed_attrs(CMS_SignerInfo *si, size_t *len)
{
    int n = CMS_signed_get_attr_count(si);
    struct der_item *it = n > 0 ? calloc((size_t)n, sizeof *it) : NULL;
    unsigned char *out = NULL;
    size_t body = 0;
    if (it == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        it[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &it[i].p);
        if (it[i].len <= 0)
            goto out;
        body += (size_t)it[i].len;
    }
    qsort(it, (size_t)n, sizeof *it, der_item_cmp);
    out = malloc(body + 6);
    if (out == NULL)
        goto out;
    size_t h = 0;
    out[h++] = 0x31;
    if (body < 0x80) {
        out[h++] = (unsigned char)body;
    } else {
        int nb = body > 0xffffff ? 4 : body > 0xffff ? 3 : body > 0xff ? 2 : 1;
        out[h++] = (unsigned char)(0x80 | nb);
        for (int k = nb - 1; k >= 0; k--)
            out[h++] = (unsigned char)(body >> (8 * k));
    }
    for (int i = 0; i < n; i++) {
        memcpy(out + h, it[i].p, (size_t)it[i].len);
        h += (size_t)it[i].len;
    }
    *len = h;
out:
    for (int i = 0; i < n; i++)
        OPENSSL_free(it[i].p);
    free(it);
    return out;
}

/* add_attributes - content-type, message-digest and, for S/MIME, the
 * signing time.  (signing-certificate-v2 comes from CMS_CADES.)  0 or -1. */
static int add_attributes(CMS_SignerInfo *si, const unsigned char md[32], unsigned flags)
{
    if (!CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                     OBJ_nid2obj(NID_pkcs7_data), -1))
        return -1;
    if (!CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, md, 32))
        return -1;
    if (flags & CMSS_SMIME) {
        ASN1_TIME *t = X509_time_adj(NULL, 0, NULL);
        int ok = t && CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type,
                                                  t->data, t->length);
        ASN1_TIME_free(t);
        if (!ok)
            return -1;
    }
    return 0;
}

/* add_chain - every certificate of S->chain other than the signer's. */
static int add_chain(CMS_ContentInfo *cms, const cms_signer *s)
{
    for (int i = 0; s->chain && i < sk_X509_num(s->chain); i++) {
        X509 *c = sk_X509_value(s->chain, i);
        if (X509_cmp(c, s->cert) == 0)
            continue;
        if (!CMS_add1_cert(cms, c))
            return -1;
    }
    return 0;
}

/* sign_attributes - have S sign SI's signed attributes, store the value. */
static int sign_attributes(const cms_signer *s, CMS_SignerInfo *si, char *err, size_t errlen)
{
    size_t tbslen = 0, siglen = 0;
    unsigned char *sig = NULL, *tbs = encode_signed_attrs(si, &tbslen);
    if (tbs == NULL)
        return ossl_fail(err, errlen, "encoding the signed attributes");
    int rc = s->sign(s->ctx, s->pss, tbs, tbslen, &sig, &siglen, err, errlen);
    free(tbs);
    if (rc != TOKEN_OK)
        return rc;
    ASN1_OCTET_STRING *val = CMS_SignerInfo_get0_signature(si);
    rc = val && ASN1_STRING_set(val, sig, (int)siglen) ? TOKEN_OK
         : ossl_fail(err, errlen, "storing the signature value");
    free(sig);
    return rc;
}

/* add_timestamp - a token from S->tsa over SI's signature value, as the
 * unsigned attribute id-aa-signatureTimeStampToken (RFC 3161 appendix A).
 * TOKEN_OK, TOKEN_ETEMP with the TSA's reason, or TOKEN_ECONFIG. */
static int add_timestamp(const cms_signer *s, CMS_SignerInfo *si, char *err, size_t errlen)
{
    ASN1_OCTET_STRING *val = CMS_SignerInfo_get0_signature(si);
    unsigned char *tok = NULL;
    size_t toklen = 0;
    if (val == NULL)
        return ossl_fail(err, errlen, "no signature value to time-stamp");
    if (tsa_stamp(s->tsa, ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val),
                  &tok, &toklen, err, errlen) != 0)
        return TOKEN_ETEMP;
    int ok = CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken,
                                           V_ASN1_SEQUENCE, tok, (int)toklen);
    free(tok);
    return ok ? TOKEN_OK : ossl_fail(err, errlen, "adding the signature time-stamp");
}

int cms_sign_detached(const cms_signer *s, const kyso_span *spans, size_t nspans,
                      unsigned flags, unsigned char **der, size_t *derlen,
                      char *err, size_t errlen)
{
    unsigned char md[32];
    *der = NULL;
    if (digest_spans(spans, nspans, md) != 0)
        return ossl_fail(err, errlen, "hashing the content");
    return cms_sign_digest(s, md, flags, der, derlen, err, errlen);
}

int cms_sign_digest(const cms_signer *s, const unsigned char md[32], unsigned flags,
                    unsigned char **der, size_t *derlen, char *err, size_t errlen)
{
    unsigned char *out = NULL;
    int rc;
    *der = NULL;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
                                    CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
    if (cms == NULL)
        return ossl_fail(err, errlen, "creating the SignedData");
    unsigned sflags = CMS_PARTIAL | CMS_BINARY | CMS_CADES;
    if (!(flags & CMSS_SMIME))
        sflags |= CMS_NOSMIMECAP;
    /* the public key stands in for the private one: nothing is signed here */
    CMS_SignerInfo *si = CMS_add1_signer(cms, s->cert, X509_get0_pubkey(s->cert),
                                         EVP_sha256(), sflags);
    if (si == NULL || add_chain(cms, s) != 0 || add_attributes(si, md, flags) != 0 ||
        (s->pss && set_pss_algorithm(si) != 0)) {
        rc = ossl_fail(err, errlen, "building the SignedData");
        goto out;
    }
    rc = sign_attributes(s, si, err, errlen);
    if (rc == TOKEN_OK && s->tsa != NULL && !(flags & CMSS_SMIME))
        rc = add_timestamp(s, si, err, errlen);
    if (rc != TOKEN_OK)
        goto out;
    int n = i2d_CMS_ContentInfo(cms, &out);
    if (n <= 0) {
        rc = ossl_fail(err, errlen, "encoding the SignedData");
        goto out;
    }
    *der = malloc((size_t)n);
    if (*der == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = TOKEN_ECONFIG;
        goto out;
    }
    memcpy(*der, out, (size_t)n);
    *derlen = (size_t)n;
out:
    OPENSSL_free(out);
    CMS_ContentInfo_free(cms);
    return rc;
}

size_t cms_sign_size_bound(const cms_signer *s)
{
    size_t n = (size_t)i2d_X509(s->cert, NULL);
    for (int i = 0; s->chain && i < sk_X509_num(s->chain); i++)
        n += (size_t)i2d_X509(sk_X509_value(s->chain, i), NULL);
    n += 2 * (size_t)EVP_PKEY_get_size(X509_get0_pubkey(s->cert));
    if (s->tsa != NULL)
        n += TSA_TOKEN_MAX + 64;    /* the token and its attribute */
    return n + 2048;            /* attributes, names, algorithm identifiers */
}
