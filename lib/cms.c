/*
 * cms.c - verification of CMS SignedData (RFC 5652): detached signatures
 * over byte spans (PDF ByteRange, .p7s), attached ones (.p7m), and RFC 3161
 * time-stamp tokens.
 *
 * OpenSSL parses the structure and checks the signature value over the
 * signed attributes; we hash the spans ourselves (no copy of the document),
 * and do the key usage, EKU, algorithm and trust checks with our own code
 * (trust.c), never with OpenSSL's S/MIME purpose.
 *
 * Must never: print, trust a size or count found inside the data, accept a
 * signature without signed attributes, or let a certificate that came with
 * the signature act as a trust anchor.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "cert-class.h"
#include "cms.h"
#include "trust.h"
#include "verifier.h"

typedef struct cms_job {
    const struct kyso_verifier *v;
    CMS_ContentInfo *cms;
    STACK_OF(X509) *certs;          /* embedded certificates, owned */
    const kyso_span *spans;         /* what the signature covers */
    size_t nspans;
    int tsa;                        /* a time-stamp token: crypto -> TIMESTAMP_INVALID */
    char detail[512];
} cms_job;

/* cms_fail - format the job's detail line and return R. */
static kyso_reason cms_fail(cms_job *j, kyso_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static kyso_reason cms_fail(cms_job *j, kyso_reason r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(j->detail, sizeof(j->detail), fmt, ap);
    va_end(ap);
    return r;
}

/* cms_ssl_error - the newest OpenSSL error reason, or FALLBACK; clears the
 * error queue. */
static const char *cms_ssl_error(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *s = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return s ? s : fallback;
}

/* cms_parse - parse DER (LEN bytes, at most MAX) as a ContentInfo holding
 * SignedData, with at most v->lim.max_cms_certs certificates, into j->cms
 * and j->certs.  Trailing zero bytes (PDF /Contents padding) are allowed,
 * anything else after the structure is not.  Returns REASON_OK or
 * REASON_MALFORMED with detail; j->cms may be set either way. */
static kyso_reason cms_parse(cms_job *j, const unsigned char *der, size_t len,
                             size_t max)
{
    const unsigned char *p = der;
    size_t i;

    if (der == NULL || len == 0)
        return cms_fail(j, REASON_MALFORMED, "empty CMS signature");
    if (len > max || len > (size_t)LONG_MAX)
        return cms_fail(j, REASON_MALFORMED, "CMS signature of %zu bytes exceeds "
                        "the limit of %zu", len, max);
    j->cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    if (j->cms == NULL)
        return cms_fail(j, REASON_MALFORMED, "not a CMS ContentInfo: %s",
                        cms_ssl_error("parse error"));
    for (i = (size_t)(p - der); i < len; i++)
        if (der[i] != 0)
            return cms_fail(j, REASON_MALFORMED, "%zu bytes of garbage after "
                            "the CMS structure", len - (size_t)(p - der));
    if (OBJ_obj2nid(CMS_get0_type(j->cms)) != NID_pkcs7_signed)
        return cms_fail(j, REASON_MALFORMED, "CMS content type is %s, not SignedData",
                        OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(j->cms))));
    j->certs = CMS_get1_certs(j->cms);
    if (j->certs == NULL && (j->certs = sk_X509_new_null()) == NULL)
        return cms_fail(j, REASON_INTERNAL_ERROR, "out of memory");
    if ((size_t)sk_X509_num(j->certs) > j->v->lim.max_cms_certs)
        return cms_fail(j, REASON_MALFORMED, "%d certificates in the signature, "
                        "limit %zu", sk_X509_num(j->certs), j->v->lim.max_cms_certs);
    ERR_clear_error();
    return REASON_OK;
}

/* cms_check_structure - signer count (one with CMSV_ONE_SIGNER), eContent
 * absent (DETACHED) or present, and for detached signatures eContentType
 * id-data.  Returns REASON_OK or REASON_MALFORMED. */
static kyso_reason cms_check_structure(cms_job *j, unsigned flags, int detached)
{
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(j->cms);
    ASN1_OCTET_STRING **content = CMS_get0_content(j->cms);
    int n = sis != NULL ? sk_CMS_SignerInfo_num(sis) : 0;
    int has_content = content != NULL && *content != NULL;

    if (n <= 0)
        return cms_fail(j, REASON_MALFORMED, "no SignerInfo");
    if ((flags & CMSV_ONE_SIGNER) && n > 1)
        return cms_fail(j, REASON_MALFORMED, "%d SignerInfos, exactly one allowed", n);
    if (detached && has_content)
        return cms_fail(j, REASON_MALFORMED, "detached signature holds eContent");
    if (!detached && !has_content)
        return cms_fail(j, REASON_MALFORMED, "SignedData holds no content");
    if (detached && OBJ_obj2nid(CMS_get0_eContentType(j->cms)) != NID_pkcs7_data)
        return cms_fail(j, REASON_MALFORMED, "eContentType %s, not id-data",
                        OBJ_nid2sn(OBJ_obj2nid(CMS_get0_eContentType(j->cms))));
    return REASON_OK;
}

/* cms_find_signer - the certificate SI names, among the embedded ones and
 * the configured intermediates; borrowed, NULL when absent. */
static X509 *cms_find_signer(cms_job *j, CMS_SignerInfo *si)
{
    STACK_OF(X509) *inter = j->v->trust != NULL
        ? trust_get0_intermediates(j->v->trust) : NULL;
    int i;

    for (i = 0; i < sk_X509_num(j->certs); i++)
        if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(j->certs, i)) == 0)
            return sk_X509_value(j->certs, i);
    for (i = 0; inter != NULL && i < sk_X509_num(inter); i++)
        if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(inter, i)) == 0)
            return sk_X509_value(inter, i);
    ERR_clear_error();
    return NULL;
}

/* cms_get_message_digest - check that SI has signed attributes with exactly
 * one content-type equal to the eContentType and exactly one messageDigest;
 * *md gets the latter (borrowed).  Returns REASON_OK or REASON_MALFORMED. */
static kyso_reason cms_get_message_digest(cms_job *j, CMS_SignerInfo *si,
                                          ASN1_OCTET_STRING **md)
{
    ASN1_OBJECT *ct;

    if (CMS_signed_get_attr_count(si) <= 0)
        return cms_fail(j, REASON_MALFORMED, "no signed attributes");
    ct = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType),
                                     -3, V_ASN1_OBJECT);
    if (ct == NULL)
        return cms_fail(j, REASON_MALFORMED, "missing or repeated content-type attribute");
    if (OBJ_cmp(ct, CMS_get0_eContentType(j->cms)) != 0)
        return cms_fail(j, REASON_MALFORMED, "content-type attribute %s differs "
                        "from eContentType", OBJ_nid2sn(OBJ_obj2nid(ct)));
    *md = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest),
                                      -3, V_ASN1_OCTET_STRING);
    if (*md == NULL)
        return cms_fail(j, REASON_MALFORMED, "missing or repeated messageDigest attribute");
    ERR_clear_error();
    return REASON_OK;
}

/* cms_digest_spans - hash SPANS with MD into OUT (EVP_MAX_MD_SIZE bytes),
 * *outlen bytes; SHAKE256 gives the 64 bytes RFC 8419 fixes for CMS.
 * Returns 0, or -1 on an OpenSSL failure. */
static int cms_digest_spans(const EVP_MD *md, const kyso_span *spans, size_t n,
                            unsigned char *out, unsigned int *outlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;
    size_t i;

    for (i = 0; ok && i < n; i++)
        if (spans[i].len > 0)
            ok = EVP_DigestUpdate(ctx, spans[i].p, spans[i].len) == 1;
    if (ok && EVP_MD_get_type(md) == NID_shake256) {
        ok = EVP_DigestFinalXOF(ctx, out, 64) == 1;
        *outlen = 64;
    } else {
        ok = ok && EVP_DigestFinal_ex(ctx, out, outlen) == 1;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? 0 : -1;
}

/* cms_check_digest - does the hash of the job's spans, with SI's digest
 * algorithm, equal the messageDigest MD?  Returns REASON_OK,
 * REASON_DIGEST_MISMATCH (REASON_TIMESTAMP_INVALID for a token), or
 * REASON_MALFORMED (unknown digest). */
static kyso_reason cms_check_digest(cms_job *j, CMS_SignerInfo *si,
                                    const ASN1_OCTET_STRING *md)
{
    X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *obj = NULL;
    const EVP_MD *evp;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &alg, NULL);
    if (alg != NULL)
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
    if (obj == NULL || (evp = EVP_get_digestbyobj(obj)) == NULL)
        return cms_fail(j, REASON_MALFORMED, "unsupported digest algorithm %s",
                        obj != NULL ? OBJ_nid2sn(OBJ_obj2nid(obj)) : "(none)");
    if (cms_digest_spans(evp, j->spans, j->nspans, h, &hlen) < 0)
        return cms_fail(j, REASON_INTERNAL_ERROR, "cannot compute %s",
                        OBJ_nid2sn(OBJ_obj2nid(obj)));
    if ((size_t)ASN1_STRING_length(md) != hlen
        || CRYPTO_memcmp(ASN1_STRING_get0_data(md), h, hlen) != 0)
        return cms_fail(j, j->tsa ? REASON_TIMESTAMP_INVALID : REASON_DIGEST_MISMATCH,
                        "%s of the signed content "
                        "differs from the messageDigest attribute",
                        OBJ_nid2sn(OBJ_obj2nid(obj)));
    return REASON_OK;
}

/* cms_check_signature - the signature value of SI over its signed
 * attributes, with SIGNER's key.  Returns REASON_OK or REASON_BAD_SIGNATURE
 * (REASON_TIMESTAMP_INVALID for a token). */
static kyso_reason cms_check_signature(cms_job *j, CMS_SignerInfo *si, X509 *signer)
{
    kyso_reason bad = j->tsa ? REASON_TIMESTAMP_INVALID : REASON_BAD_SIGNATURE;

    CMS_SignerInfo_set1_signer_cert(si, signer);
    if (CMS_SignerInfo_verify(si) != 1)
        return cms_fail(j, bad, "%ssignature value does not verify: %s",
                        j->tsa ? "time-stamp " : "", cms_ssl_error("verify failure"));
    ERR_clear_error();
    return REASON_OK;
}

/* cms_get_ess_attr - the single-valued signed attribute NID of SI decoded
 * with D2I into *out (NULL when absent).  Returns 0, or -1 when present
 * but not decodable or repeated. */
static int cms_get_ess_attr(CMS_SignerInfo *si, int nid, void **out,
                            void *(*d2i)(void **, const unsigned char **, long))
{
    ASN1_STRING *s;
    const unsigned char *p;

    *out = NULL;
    if (CMS_signed_get_attr_by_NID(si, nid, -1) < 0)
        return 0;
    s = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(nid), -3, V_ASN1_SEQUENCE);
    if (s == NULL)
        return -1;
    p = ASN1_STRING_get0_data(s);
    *out = d2i(NULL, &p, ASN1_STRING_length(s));
    return *out != NULL ? 0 : -1;
}

static void *cms_d2i_ess_v1(void **a, const unsigned char **p, long n)
{
    return d2i_ESS_SIGNING_CERT((ESS_SIGNING_CERT **)a, p, n);
}

static void *cms_d2i_ess_v2(void **a, const unsigned char **p, long n)
{
    return d2i_ESS_SIGNING_CERT_V2((ESS_SIGNING_CERT_V2 **)a, p, n);
}

/* cms_check_ess - when SI carries ESS signing-certificate(-v2), its first
 * certificate hash must be SIGNER's (the others must be among the
 * certificates we have).  Returns REASON_OK, REASON_MALFORMED (attribute
 * does not parse) or REASON_BAD_SIGNATURE (TIMESTAMP_INVALID for a token). */
static kyso_reason cms_check_ess(cms_job *j, CMS_SignerInfo *si, X509 *signer)
{
    void *v1 = NULL, *v2 = NULL;
    STACK_OF(X509) *chain = NULL, *inter;
    kyso_reason r = REASON_OK;
    int i;

    if (cms_get_ess_attr(si, NID_id_smime_aa_signingCertificate, &v1, cms_d2i_ess_v1) < 0
        || cms_get_ess_attr(si, NID_id_smime_aa_signingCertificateV2, &v2,
                            cms_d2i_ess_v2) < 0) {
        r = cms_fail(j, REASON_MALFORMED, "bad ESS signing-certificate attribute");
        goto done;
    }
    if (v1 == NULL && v2 == NULL)
        goto done;
    inter = j->v->trust != NULL ? trust_get0_intermediates(j->v->trust) : NULL;
    if ((chain = sk_X509_new_null()) == NULL || !sk_X509_push(chain, signer)) {
        r = cms_fail(j, REASON_INTERNAL_ERROR, "out of memory");
        goto done;
    }
    for (i = 0; i < sk_X509_num(j->certs); i++)
        if (sk_X509_value(j->certs, i) != signer)
            sk_X509_push(chain, sk_X509_value(j->certs, i));
    for (i = 0; inter != NULL && i < sk_X509_num(inter); i++)
        sk_X509_push(chain, sk_X509_value(inter, i));
    if (OSSL_ESS_check_signing_certs(v1, v2, chain, 0) <= 0)
        r = cms_fail(j, j->tsa ? REASON_TIMESTAMP_INVALID : REASON_BAD_SIGNATURE,
                     "ESS signing-certificate%s does not name the signer "
                     "certificate: %s", v2 != NULL ? "-v2" : "",
                     cms_ssl_error("mismatch"));
done:
    ERR_clear_error();
    sk_X509_free(chain);
    ESS_SIGNING_CERT_free(v1);
    ESS_SIGNING_CERT_V2_free(v2);
    return r;
}

/* cms_check_algorithms - SI's digest algorithm and SIGNER's key under
 * v->algo.  Returns REASON_OK or REASON_WEAK_ALGORITHM. */
static kyso_reason cms_check_algorithms(cms_job *j, CMS_SignerInfo *si, X509 *signer)
{
    X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *obj = NULL;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &alg, NULL);
    if (alg != NULL)
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
    if (trust_check_digest(j->v, OBJ_obj2nid(obj), "signature digest", j->detail,
                           sizeof(j->detail)) != REASON_OK)
        return REASON_WEAK_ALGORITHM;
    return trust_check_key(j->v, X509_get0_pubkey(signer), "signer certificate",
                           j->detail, sizeof(j->detail));
}

static const char *const cms_signing_ekus[] = {
    "1.3.6.1.5.5.7.3.4",        /* emailProtection */
    "1.3.6.1.5.5.7.3.36",       /* documentSigning (RFC 9336) */
    "1.2.840.113583.1.1.5",     /* Adobe Authentic Documents Trust */
    "1.3.6.1.4.1.311.10.3.12",  /* Microsoft document signing */
    "2.5.29.37.0",              /* anyExtendedKeyUsage */
};

/* cms_eku_has - does EKU hold one of the dotted OIDS (N of them)? */
static int cms_eku_has(EXTENDED_KEY_USAGE *eku, const char *const *oids, size_t n)
{
    char buf[80];
    size_t k;
    int i;

    for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        if (OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 1) <= 0)
            continue;
        for (k = 0; k < n; k++)
            if (strcmp(buf, oids[k]) == 0)
                return 1;
    }
    return 0;
}

/* cms_check_key_usage - is CERT fit for signing documents?  KeyUsage, when
 * present, must have digitalSignature or nonRepudiation; ExtendedKeyUsage,
 * when present, one of emailProtection, documentSigning, Adobe, Microsoft
 * document signing or anyExtendedKeyUsage.  Returns REASON_OK or
 * REASON_BAD_KEY_USAGE with detail filled. */
kyso_reason cms_check_key_usage(X509 *cert, char *detail, size_t dlen)
{
    uint32_t ku = X509_get_key_usage(cert);
    EXTENDED_KEY_USAGE *eku;
    int crit = -1, ok;

    if (X509_get_extension_flags(cert) & EXFLAG_INVALID) {
        snprintf(detail, dlen, "signer certificate has invalid extensions");
        return REASON_BAD_KEY_USAGE;
    }
    if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))) {
        snprintf(detail, dlen, "key usage lacks digitalSignature and nonRepudiation");
        return REASON_BAD_KEY_USAGE;
    }
    eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
    if (eku == NULL && crit == -1)
        return REASON_OK;
    ok = eku != NULL && cms_eku_has(eku, cms_signing_ekus,
                                    sizeof(cms_signing_ekus) / sizeof(cms_signing_ekus[0]));
    EXTENDED_KEY_USAGE_free(eku);
    ERR_clear_error();
    if (!ok) {
        snprintf(detail, dlen, "extended key usage allows no document signing");
        return REASON_BAD_KEY_USAGE;
    }
    return REASON_OK;
}

/* cms_check_tsa_usage - CERT must carry a critical ExtendedKeyUsage with
 * timeStamping as its only purpose.  Returns REASON_OK or
 * REASON_TIMESTAMP_INVALID. */
static kyso_reason cms_check_tsa_usage(cms_job *j, X509 *cert)
{
    int crit = -1, ok;
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);

    ok = eku != NULL && crit == 1 && sk_ASN1_OBJECT_num(eku) == 1
        && OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) == NID_time_stamp;
    EXTENDED_KEY_USAGE_free(eku);
    ERR_clear_error();
    if (!ok)
        return cms_fail(j, REASON_TIMESTAMP_INVALID, "TSA certificate lacks the "
                        "critical extended key usage timeStamping (alone)");
    return REASON_OK;
}

/* cms_fill_signer - out->signer from SIGNER (replacing what was there) and
 * out->signing_time from SI's signingTime attribute ("" when absent). */
static void cms_fill_signer(cms_job *j, CMS_SignerInfo *si, X509 *signer,
                            kyso_sig_result *out)
{
    int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    ASN1_TYPE *t = idx >= 0 ? X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, idx), 0)
                            : NULL;
    time_t when;

    if (signer != NULL) {
        result_free_signer(&out->signer);
        memset(&out->signer, 0, sizeof(out->signer));
        cert_describe(j->v->classes, signer, &out->signer);
    }
    out->signing_time[0] = '\0';
    if (t != NULL && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME)
        && trust_time_of(t->value.asn1_string, &when) == 0)
        trust_format_time(when, out->signing_time, sizeof(out->signing_time));
    ERR_clear_error();
}

/* cms_check_signer - every check of one SignerInfo in the documented order;
 * *signer gets its certificate (borrowed, NULL when not found).  Returns
 * REASON_OK or the first failure with the job's detail filled. */
static kyso_reason cms_check_signer(cms_job *j, CMS_SignerInfo *si, X509 **signer)
{
    ASN1_OCTET_STRING *md = NULL;
    kyso_reason r;

    r = cms_get_message_digest(j, si, &md);
    if (r != REASON_OK)
        return r;
    if ((*signer = cms_find_signer(j, si)) == NULL)
        return cms_fail(j, REASON_MALFORMED, "signer certificate is neither in the "
                        "signature nor among the configured intermediates");
    r = cms_check_digest(j, si, md);
    if (r == REASON_OK)
        r = cms_check_signature(j, si, *signer);
    if (r == REASON_OK)
        r = cms_check_ess(j, si, *signer);
    if (r == REASON_OK)
        r = cms_check_algorithms(j, si, *signer);
    if (r == REASON_OK)
        r = j->tsa ? cms_check_tsa_usage(j, *signer)
                   : cms_check_key_usage(*signer, j->detail, sizeof(j->detail));
    if (r == REASON_OK)
        r = trust_check_cert(j->v, *signer, j->certs, verifier_time(j->v),
                             j->detail, sizeof(j->detail));
    return r;
}

/* cms_verify_signers - check every SignerInfo; stop at the first failure.
 * out->signer describes the first signer, or the failing one. */
static kyso_reason cms_verify_signers(cms_job *j, kyso_sig_result *out)
{
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(j->cms);
    kyso_reason r = REASON_OK;
    int i;

    for (i = 0; r == REASON_OK && i < sk_CMS_SignerInfo_num(sis); i++) {
        CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
        X509 *signer = NULL;

        r = cms_check_signer(j, si, &signer);
        if (i == 0 || r != REASON_OK)
            cms_fill_signer(j, si, signer, out);
    }
    return r;
}

/* cms_finish - record R and the job's detail in OUT, release the job;
 * returns R. */
static kyso_reason cms_finish(cms_job *j, kyso_reason r, kyso_sig_result *out)
{
    out->reason = r;
    if (j->detail[0] != '\0')
        result_set_detail(&out->detail, "%s", j->detail);
    CMS_ContentInfo_free(j->cms);
    sk_X509_pop_free(j->certs, X509_free);
    ERR_clear_error();
    return r;
}

/* cms_verify_detached - see cms.h.  Also REASON_INTERNAL_ERROR when out of
 * memory. */
kyso_reason cms_verify_detached(const struct kyso_verifier *v,
                                const unsigned char *der, size_t derlen,
                                const kyso_span *spans, size_t nspans,
                                unsigned flags, kyso_sig_result *out)
{
    cms_job j = { .v = v, .spans = spans, .nspans = nspans };
    kyso_reason r;

    r = cms_parse(&j, der, derlen, v->lim.max_cms_size);
    if (r == REASON_OK)
        r = cms_check_structure(&j, flags, 1);
    if (r == REASON_OK)
        r = cms_verify_signers(&j, out);
    return cms_finish(&j, r, out);
}

/* cms_decode_text - IN as DER: unchanged when it starts like DER, else the
 * base64 body (PEM armour optional) decoded into *buf (caller frees).
 * Returns 0 with *der and *dlen set, or -1 when it is neither. */
static int cms_decode_text(const unsigned char *in, size_t len, unsigned char **buf,
                           const unsigned char **der, size_t *dlen)
{
    const unsigned char *p = in, *end = in + len, *e;
    EVP_ENCODE_CTX *ctx;
    int n = 0, m = 0, ok;

    *buf = NULL;
    if (len > 0 && in[0] == 0x30) {
        *der = in;
        *dlen = len;
        return 0;
    }
    if (len > 10 && memcmp(in, "-----BEGIN", 10) == 0) {
        while (p < end && *p != '\n')
            p++;
        for (e = p; e + 8 <= end && memcmp(e, "-----END", 8) != 0; e++)
            ;
        end = e + 8 <= end ? e : end;
    }
    if (end - p > INT_MAX || (*buf = malloc((size_t)(end - p) / 4 * 3 + 4)) == NULL
        || (ctx = EVP_ENCODE_CTX_new()) == NULL) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    EVP_DecodeInit(ctx);
    ok = EVP_DecodeUpdate(ctx, *buf, &n, p, (int)(end - p)) >= 0
        && EVP_DecodeFinal(ctx, *buf + n, &m) == 1 && n + m > 0;
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    *der = *buf;
    *dlen = (size_t)(n + m);
    return 0;
}

/* cms_verify_attached - see cms.h.  The CMS may be as large as
 * v->lim.max_doc_size + v->lim.max_cms_size (it carries the document). */
kyso_reason cms_verify_attached(const struct kyso_verifier *v,
                                const unsigned char *der, size_t derlen,
                                unsigned char **content, size_t *content_len,
                                kyso_sig_result *out)
{
    cms_job j = { .v = v };
    unsigned char *buf = NULL;
    const unsigned char *d = NULL;
    size_t dlen = 0, max = v->lim.max_doc_size + v->lim.max_cms_size;
    ASN1_OCTET_STRING **pos;
    kyso_span span;
    kyso_reason r;

    *content = NULL;
    *content_len = 0;
    if (derlen > max / 3 * 4 + 4096 || cms_decode_text(der, derlen, &buf, &d, &dlen) < 0)
        r = cms_fail(&j, REASON_MALFORMED, "neither DER nor base64 CMS");
    else
        r = cms_parse(&j, d, dlen, max);
    if (r == REASON_OK)
        r = cms_check_structure(&j, 0, 0);
    if (r == REASON_OK) {
        pos = CMS_get0_content(j.cms);
        span.p = ASN1_STRING_get0_data(*pos);
        span.len = (size_t)ASN1_STRING_length(*pos);
        if ((*content = malloc(span.len + 1)) == NULL)
            r = cms_fail(&j, REASON_INTERNAL_ERROR, "out of memory");
        else {
            memcpy(*content, span.p, span.len);
            (*content)[span.len] = '\0';
            *content_len = span.len;
            j.spans = &span;
            j.nspans = 1;
            r = cms_verify_signers(&j, out);
        }
    }
    r = cms_finish(&j, r, out);
    free(buf);
    return r;
}

/* cms_check_imprint - the message imprint of TST against the hash of
 * SPANS.  Returns REASON_OK, REASON_DIGEST_MISMATCH, REASON_MALFORMED
 * (unknown algorithm) or REASON_WEAK_ALGORITHM (per policy). */
static kyso_reason cms_check_imprint(cms_job *j, TS_TST_INFO *tst,
                                     const kyso_span *spans, size_t nspans)
{
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
    X509_ALGOR *alg = TS_MSG_IMPRINT_get_algo(mi);
    ASN1_OCTET_STRING *msg = TS_MSG_IMPRINT_get_msg(mi);
    const ASN1_OBJECT *obj = NULL;
    const EVP_MD *md;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;

    if (alg != NULL)
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
    if (obj == NULL || msg == NULL || (md = EVP_get_digestbyobj(obj)) == NULL)
        return cms_fail(j, REASON_MALFORMED, "time-stamp imprint algorithm unknown");
    if (cms_digest_spans(md, spans, nspans, h, &hlen) < 0)
        return cms_fail(j, REASON_INTERNAL_ERROR, "cannot compute the imprint hash");
    if ((size_t)ASN1_STRING_length(msg) != hlen
        || CRYPTO_memcmp(ASN1_STRING_get0_data(msg), h, hlen) != 0)
        return cms_fail(j, REASON_DIGEST_MISMATCH, "time-stamp message imprint (%s) "
                        "differs from the document hash", OBJ_nid2sn(OBJ_obj2nid(obj)));
    if (trust_check_digest(j->v, OBJ_obj2nid(obj), "time-stamp imprint", j->detail,
                           sizeof(j->detail)) != REASON_OK)
        return REASON_WEAK_ALGORITHM;
    return REASON_OK;
}

/* cms_parse_tst - the TSTInfo inside the token's eContent into *tst
 * (caller frees).  Returns REASON_OK or REASON_MALFORMED. */
static kyso_reason cms_parse_tst(cms_job *j, TS_TST_INFO **tst)
{
    ASN1_OCTET_STRING **pos = CMS_get0_content(j->cms);
    const unsigned char *p, *start;
    long len;

    if (OBJ_obj2nid(CMS_get0_eContentType(j->cms)) != NID_id_smime_ct_TSTInfo)
        return cms_fail(j, REASON_MALFORMED, "eContentType is not id-ct-TSTInfo");
    start = p = ASN1_STRING_get0_data(*pos);
    len = ASN1_STRING_length(*pos);
    *tst = d2i_TS_TST_INFO(NULL, &p, len);
    if (*tst == NULL || p != start + len)
        return cms_fail(j, REASON_MALFORMED, "TSTInfo does not parse: %s",
                        cms_ssl_error("trailing data"));
    return REASON_OK;
}

/* cms_verify_timestamp - see cms.h.  The imprint is judged first
 * (DIGEST_MISMATCH wins over a bad token), but the token is always checked
 * too so that out->signer names the TSA when its certificate is found. */
kyso_reason cms_verify_timestamp(const struct kyso_verifier *v,
                                 const unsigned char *der, size_t derlen,
                                 const kyso_span *spans, size_t nspans,
                                 kyso_sig_result *out)
{
    cms_job j = { .v = v, .tsa = 1 };
    TS_TST_INFO *tst = NULL;
    ASN1_OCTET_STRING **pos;
    kyso_span span;
    time_t gen;
    kyso_reason r, ri;
    char idetail[sizeof(j.detail)];

    r = cms_parse(&j, der, derlen, v->lim.max_cms_size);
    if (r == REASON_OK)
        r = cms_check_structure(&j, CMSV_ONE_SIGNER, 0);
    if (r == REASON_OK)
        r = cms_parse_tst(&j, &tst);
    if (r == REASON_OK) {
        ri = cms_check_imprint(&j, tst, spans, nspans);
        memcpy(idetail, j.detail, sizeof(idetail));
        j.detail[0] = '\0';
        pos = CMS_get0_content(j.cms);
        span.p = ASN1_STRING_get0_data(*pos);
        span.len = (size_t)ASN1_STRING_length(*pos);
        j.spans = &span;
        j.nspans = 1;
        r = cms_verify_signers(&j, out);    /* describes the TSA either way */
        if (ri != REASON_OK && (r == REASON_OK || ri != REASON_WEAK_ALGORITHM)) {
            r = ri;
            memcpy(j.detail, idetail, sizeof(idetail));
        }
    }
    if (tst != NULL && trust_time_of(TS_TST_INFO_get_time(tst), &gen) == 0)
        trust_format_time(gen, out->signing_time, sizeof(out->signing_time));
    TS_TST_INFO_free(tst);
    return cms_finish(&j, r, out);
}

/* cms_describe_signer - see cms.h.  The signer is looked up among the
 * embedded certificates and the configured intermediates; when it is not
 * found only signing_time is filled. */
int cms_describe_signer(const struct kyso_verifier *v,
                        const unsigned char *der, size_t derlen,
                        kyso_sig_result *out)
{
    cms_job j = { .v = v };
    STACK_OF(CMS_SignerInfo) *sis;
    CMS_SignerInfo *si;
    int ok = 0;

    if (cms_parse(&j, der, derlen, v->lim.max_cms_size) == REASON_OK
        && (sis = CMS_get0_SignerInfos(j.cms)) != NULL
        && sk_CMS_SignerInfo_num(sis) > 0) {
        si = sk_CMS_SignerInfo_value(sis, 0);
        cms_fill_signer(&j, si, cms_find_signer(&j, si), out);
        ok = 1;
    }
    CMS_ContentInfo_free(j.cms);
    sk_X509_pop_free(j.certs, X509_free);
    ERR_clear_error();
    return ok ? 0 : -1;
}
