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
 * A signature time-stamp (RFC 3161 appendix A) gives the proof-of-existence
 * time at which the signer certificate is judged; validation data embedded
 * in the CMS (RFC 5940, adbe-revocationInfoArchival) is handed, with the
 * document's, to trust_check_cert_ex, which uses it only when it verifies.
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
#include "revocation.h"
#include "trust.h"
#include "verifier.h"

typedef struct cms_job {
    const struct kyso_verifier *v;
    CMS_ContentInfo *cms;
    STACK_OF(X509) *certs;          /* embedded certificates, owned */
    const kyso_span *spans;         /* what the signature covers */
    size_t nspans;
    int tsa;                        /* a time-stamp token: crypto -> TIMESTAMP_INVALID */
    const cms_verify_opts *o;       /* from the container, or NULL */
    kyso_revdata own;               /* validation data found in this CMS */
    time_t ts_gen;                  /* current signer: earliest valid time-stamp, or 0 */
    time_t poe;                     /* current signer: the time it was checked at, or 0 */
    char warn[256];                 /* current signer: a warning, or "" */
    char detail[512];
} cms_job;

#define CMS_REV_MAX 200             /* embedded OCSP responses + CRLs kept per CMS */

/* id-ri-ocsp-response (RFC 5940), content octets of the OID */
static const unsigned char cms_oid_ri_ocsp[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x10, 0x02 };

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

/* One DER TLV: the whole of it and its contents. */
typedef struct der_tlv {
    const unsigned char *tlv, *c;
    long tlvlen, clen;
    int tag, cls;
} der_tlv;

/* der_read - the TLV at *p (before END) into T, *p moved past it.  0, or
 * -1 when malformed, running past END or of indefinite length (BER: we
 * then simply find no embedded data). */
static int der_read(const unsigned char **p, const unsigned char *end, der_tlv *t)
{
    const unsigned char *q = *p;
    int r;

    if (*p >= end)
        return -1;
    r = ASN1_get_object(&q, &t->clen, &t->tag, &t->cls, end - *p);
    if ((r & 0x80) || (r & 0x01)) {
        ERR_clear_error();
        return -1;
    }
    t->tlv = *p;
    t->c = q;
    t->tlvlen = (long)(q - *p) + t->clen;
    *p = q + t->clen;
    return 0;
}

/* cms_keep_rev - keep a copy of T (an OCSPResponse when IS_OCSP, else a
 * CertificateList) as validation data found in the CMS; silently dropped
 * past CMS_REV_MAX or when out of memory (it is only a help). */
static void cms_keep_rev(cms_job *j, int is_ocsp, const der_tlv *t)
{
    if (t->tag != V_ASN1_SEQUENCE || t->cls != V_ASN1_UNIVERSAL
        || j->own.nocsp + j->own.ncrls >= CMS_REV_MAX)
        return;
    revdata_add(&j->own, is_ocsp, t->tlv, (size_t)t->tlvlen);
}

/* cms_collect_choices - the RevocationInfoChoices of SignedData (contents
 * P..END of [1]): CertificateList, or [1] OtherRevocationInfoFormat with
 * id-ri-ocsp-response (RFC 5940); other formats are ignored. */
static void cms_collect_choices(cms_job *j, const unsigned char *p, const unsigned char *end)
{
    der_tlv t, oid, val;

    while (p < end && der_read(&p, end, &t) == 0) {
        if (t.cls == V_ASN1_UNIVERSAL) {
            cms_keep_rev(j, 0, &t);
            continue;
        }
        const unsigned char *q = t.c, *qe = t.c + t.clen;
        if (t.cls != V_ASN1_CONTEXT_SPECIFIC || t.tag != 1
            || der_read(&q, qe, &oid) != 0 || der_read(&q, qe, &val) != 0)
            continue;
        if (oid.tag == V_ASN1_OBJECT && oid.clen == (long)sizeof cms_oid_ri_ocsp
            && memcmp(oid.c, cms_oid_ri_ocsp, sizeof cms_oid_ri_ocsp) == 0)
            cms_keep_rev(j, 1, &val);
    }
}

/* cms_collect_crls - the crls field of the SignedData in DER (LEN bytes),
 * walked by hand because OpenSSL does not expose the "other" choice.
 * Finds nothing (no error) in what it cannot walk. */
static void cms_collect_crls(cms_job *j, const unsigned char *der, size_t len)
{
    const unsigned char *p = der, *end = der + len;
    der_tlv t;
    int k;

    if (len > (size_t)LONG_MAX || der_read(&p, end, &t) != 0 || t.tag != V_ASN1_SEQUENCE)
        return;                                         /* ContentInfo */
    p = t.c;
    end = t.c + t.clen;
    if (der_read(&p, end, &t) != 0 || t.tag != V_ASN1_OBJECT
        || der_read(&p, end, &t) != 0 || t.cls != V_ASN1_CONTEXT_SPECIFIC || t.tag != 0)
        return;                                         /* contentType, [0] */
    p = t.c;
    end = t.c + t.clen;
    if (der_read(&p, end, &t) != 0 || t.tag != V_ASN1_SEQUENCE)
        return;                                         /* SignedData */
    p = t.c;
    end = t.c + t.clen;
    for (k = 0; k < 3; k++)                             /* version, digests, encap */
        if (der_read(&p, end, &t) != 0)
            return;
    while (p < end && der_read(&p, end, &t) == 0 && t.cls == V_ASN1_CONTEXT_SPECIFIC)
        if (t.tag == 1)
            cms_collect_choices(j, t.c, t.c + t.clen);
}

/* cms_collect_adbe - the adbe-revocationInfoArchival signed attribute of
 * SI (1.2.840.113583.1.1.8): SEQUENCE { crl [0] EXPLICIT SEQUENCE OF
 * CertificateList, ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse, ... }. */
static void cms_collect_adbe(cms_job *j, CMS_SignerInfo *si)
{
    ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113583.1.1.8", 1);
    ASN1_STRING *s = obj ? CMS_signed_get0_data_by_OBJ(si, obj, -3, V_ASN1_SEQUENCE) : NULL;
    const unsigned char *p, *end;
    der_tlv t, seq, item;

    ASN1_OBJECT_free(obj);
    ERR_clear_error();
    if (s == NULL)
        return;
    p = ASN1_STRING_get0_data(s);
    end = p + ASN1_STRING_length(s);
    if (der_read(&p, end, &t) != 0 || t.tag != V_ASN1_SEQUENCE)
        return;
    p = t.c;
    end = t.c + t.clen;
    while (p < end && der_read(&p, end, &t) == 0) {
        const unsigned char *q = t.c, *qe = t.c + t.clen;
        if (t.cls != V_ASN1_CONTEXT_SPECIFIC || t.tag > 1
            || der_read(&q, qe, &seq) != 0 || seq.tag != V_ASN1_SEQUENCE)
            continue;
        q = seq.c;
        qe = seq.c + seq.clen;
        while (q < qe && der_read(&q, qe, &item) == 0)
            cms_keep_rev(j, t.tag == 1, &item);
    }
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
    cms_collect_crls(j, der, (size_t)(p - der));
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

/* cms_digest_nid - the digest OBJ names, as the NID of the digest itself:
 * a signature algorithm OID given as digestAlgorithm (sha1WithRSAEncryption,
 * which OpenSSL maps to SHA-1) counts as its digest, so that the policy on
 * weak digests sees SHA-1 or MD5 whatever OID names them.  NID_undef when
 * OpenSSL has no such digest. */
static int cms_digest_nid(const ASN1_OBJECT *obj)
{
    const EVP_MD *evp = obj != NULL ? EVP_get_digestbyobj(obj) : NULL;
    return evp != NULL ? EVP_MD_get_type(evp) : NID_undef;
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
    if (trust_check_digest(j->v, cms_digest_nid(obj), "signature digest", j->detail,
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

/* cms_signing_time - SI's signingTime attribute into *when: 0, or -1 when
 * absent or unreadable. */
static int cms_signing_time(CMS_SignerInfo *si, time_t *when)
{
    int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    ASN1_TYPE *t = idx >= 0 ? X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, idx), 0)
                            : NULL;
    int ok = t != NULL && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME)
             && trust_time_of(t->value.asn1_string, when) == 0;

    ERR_clear_error();
    return ok ? 0 : -1;
}

/* cms_fill_signer - out->signer from SIGNER (replacing what was there),
 * out->signing_time from SI's signingTime attribute ("" when absent), and
 * the job's time-stamp, proof-of-existence and warning of this signer. */
static void cms_fill_signer(cms_job *j, CMS_SignerInfo *si, X509 *signer,
                            kyso_sig_result *out)
{
    time_t when;

    if (signer != NULL) {
        result_free_signer(&out->signer);
        memset(&out->signer, 0, sizeof(out->signer));
        cert_describe(j->v->classes, signer, &out->signer);
    }
    out->signing_time[0] = '\0';
    if (cms_signing_time(si, &when) == 0)
        trust_format_time(when, out->signing_time, sizeof(out->signing_time));
    if (j->tsa)
        return;
    out->timestamp_time[0] = out->poe_time[0] = '\0';
    if (j->ts_gen)
        trust_format_time(j->ts_gen, out->timestamp_time, sizeof(out->timestamp_time));
    if (j->poe)
        trust_format_time(j->poe, out->poe_time, sizeof(out->poe_time));
    if (j->warn[0])
        result_set_detail(&out->warning, "%s", j->warn);
}

/* cms_merge_rev - ALL (arrays malloc'd, blobs borrowed) = the validation
 * data of the CMS and of the document.  0, or -1 when out of memory. */
static int cms_merge_rev(cms_job *j, kyso_revdata *all)
{
    const kyso_revdata *e = j->o != NULL ? j->o->embedded : NULL;
    size_t no = j->own.nocsp + (e ? e->nocsp : 0), nc = j->own.ncrls + (e ? e->ncrls : 0);

    memset(all, 0, sizeof(*all));
    if ((no && (all->ocsp = malloc(no * sizeof(kyso_blob))) == NULL)
        || (nc && (all->crls = malloc(nc * sizeof(kyso_blob))) == NULL)) {
        free(all->ocsp);
        return -1;
    }
    for (size_t i = 0; i < j->own.nocsp; i++)
        all->ocsp[all->nocsp++] = j->own.ocsp[i];
    for (size_t i = 0; e && i < e->nocsp; i++)
        all->ocsp[all->nocsp++] = e->ocsp[i];
    for (size_t i = 0; i < j->own.ncrls; i++)
        all->crls[all->ncrls++] = j->own.crls[i];
    for (size_t i = 0; e && i < e->ncrls; i++)
        all->crls[all->ncrls++] = e->crls[i];
    return 0;
}

/* cms_check_trust - SIGNER's path, validity and revocation, at the
 * proof-of-existence time when there is one earlier than the validation
 * time (j->poe then records it), with the certificates and validation
 * data of the CMS and of the document.  Returns what trust_check_cert_ex
 * says, or REASON_INTERNAL_ERROR. */
static kyso_reason cms_check_trust(cms_job *j, X509 *signer)
{
    time_t at = verifier_time(j->v), poe = j->ts_gen;
    STACK_OF(X509) *extra = j->certs, *more = j->o ? j->o->extra_certs : NULL;
    kyso_revdata all;
    kyso_reason r;

    if (!j->tsa && j->o != NULL && j->o->poe && (poe == 0 || j->o->poe < poe))
        poe = j->o->poe;
    j->poe = poe && poe <= at ? poe : 0;
    if (j->poe)
        at = j->poe;
    if (more != NULL && sk_X509_num(more) > 0) {
        if ((extra = sk_X509_dup(j->certs)) == NULL)
            return cms_fail(j, REASON_INTERNAL_ERROR, "out of memory");
        for (int i = 0; i < sk_X509_num(more); i++)
            sk_X509_push(extra, sk_X509_value(more, i));
    }
    if (cms_merge_rev(j, &all) < 0) {
        r = cms_fail(j, REASON_INTERNAL_ERROR, "out of memory");
    } else {
        r = trust_check_cert_ex(j->v, signer, extra, at,
                                all.nocsp + all.ncrls ? &all : NULL,
                                j->detail, sizeof(j->detail));
        free(all.ocsp);
        free(all.crls);
    }
    if (extra != j->certs)
        sk_X509_free(extra);
    return r;
}

/* cms_compare_signing_time - the signed signingTime of SI against the
 * time-stamp j->ts_gen: more than 5 minutes apart is a warning (about 7
 * hours: Vietnam time written as UTC), never a failure. */
static void cms_compare_signing_time(cms_job *j, CMS_SignerInfo *si)
{
    time_t st;
    char a[40], b[40];
    long d, ad;

    if (cms_signing_time(si, &st) != 0)
        return;
    d = (long)(st - j->ts_gen);
    ad = d < 0 ? -d : d;
    if (ad <= 300)
        return;
    trust_format_time(st, a, sizeof(a));
    trust_format_time(j->ts_gen, b, sizeof(b));
    if (ad >= 7 * 3600 - 900 && ad <= 7 * 3600 + 900)
        snprintf(j->warn, sizeof(j->warn), "signingTime %s is about 7 hours %s the "
                 "time-stamp %s: a local (+07:00) time written as UTC? The time-stamp "
                 "is what counts", a, d > 0 ? "after" : "before", b);
    else
        snprintf(j->warn, sizeof(j->warn), "signingTime %s is %ld minutes %s the "
                 "time-stamp %s; the time-stamp is what counts", a, ad / 60,
                 d > 0 ? "after" : "before", b);
}

/* cms_check_one_ts - one signature time-stamp T over SPAN (the signature
 * value); a valid one lowers j->ts_gen to its genTime.  Returns REASON_OK,
 * REASON_TIMESTAMP_INVALID, REASON_REVOCATION_UNKNOWN (the TSA
 * certificate's status only) or REASON_INTERNAL_ERROR, with detail. */
static kyso_reason cms_check_one_ts(cms_job *j, const ASN1_TYPE *t, const kyso_span *span)
{
    kyso_sig_result tr;
    time_t gen = 0;
    kyso_reason r, out;
    const char *why;

    if (t == NULL || t->type != V_ASN1_SEQUENCE)
        return cms_fail(j, REASON_TIMESTAMP_INVALID, "signature time-stamp is not a "
                        "ContentInfo");
    memset(&tr, 0, sizeof(tr));
    r = cms_verify_timestamp_ex(j->v, ASN1_STRING_get0_data(t->value.sequence),
                                (size_t)ASN1_STRING_length(t->value.sequence), span, 1,
                                j->o, &tr, &gen);
    if (r == REASON_OK) {
        if (j->ts_gen == 0 || gen < j->ts_gen)
            j->ts_gen = gen;
        out = REASON_OK;
    } else {
        out = r == REASON_REVOCATION_UNKNOWN || r == REASON_INTERNAL_ERROR
            ? r : REASON_TIMESTAMP_INVALID;
        why = r == REASON_DIGEST_MISMATCH ? "its message imprint is not the hash of the "
              "signature value" : tr.detail ? tr.detail : reason_name(r);
        cms_fail(j, out, "signature time-stamp%s%.200s (%s): %s",
                 tr.signer.subject ? " by " : "", tr.signer.subject ? tr.signer.subject : "",
                 reason_name(r), why);
    }
    free(tr.detail);
    free(tr.warning);
    result_free_signer(&tr.signer);
    return out;
}

/* cms_check_sig_timestamps - every id-aa-signatureTimeStampToken value of
 * SI (at most 8), over SI's signature value.  Sets j->ts_gen to the
 * earliest genTime and j->warn from signingTime.  Returns REASON_OK (none,
 * or all valid) or cms_check_one_ts's failure. */
static kyso_reason cms_check_sig_timestamps(cms_job *j, CMS_SignerInfo *si)
{
    ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
    kyso_span span = { ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig) };
    int idx = -1, n = 0;
    kyso_reason r;

    while ((idx = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken,
                                               idx)) >= 0) {
        X509_ATTRIBUTE *a = CMS_unsigned_get_attr(si, idx);
        for (int k = 0; k < X509_ATTRIBUTE_count(a); k++) {
            if (++n > 8)
                return cms_fail(j, REASON_TIMESTAMP_INVALID, "more than 8 signature "
                                "time-stamps");
            if ((r = cms_check_one_ts(j, X509_ATTRIBUTE_get0_type(a, k), &span)) != REASON_OK)
                return r;
        }
    }
    ERR_clear_error();
    if (j->ts_gen)
        cms_compare_signing_time(j, si);
    return REASON_OK;
}

/* cms_check_signer - every check of one SignerInfo in the documented order;
 * *signer gets its certificate (borrowed, NULL when not found).  Returns
 * REASON_OK or the first failure with the job's detail filled. */
static kyso_reason cms_check_signer(cms_job *j, CMS_SignerInfo *si, X509 **signer)
{
    ASN1_OCTET_STRING *md = NULL;
    kyso_reason r;

    j->ts_gen = j->poe = 0;
    j->warn[0] = '\0';
    if (!j->tsa)
        cms_collect_adbe(j, si);
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
    if (r == REASON_OK && !j->tsa)
        r = cms_check_sig_timestamps(j, si);
    if (r == REASON_OK)
        r = cms_check_trust(j, *signer);
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
    revdata_free(&j->own);
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
    return cms_verify_detached_ex(v, der, derlen, spans, nspans, flags, NULL, out);
}

/* cms_verify_detached_ex - see cms.h. */
kyso_reason cms_verify_detached_ex(const struct kyso_verifier *v,
                                   const unsigned char *der, size_t derlen,
                                   const kyso_span *spans, size_t nspans,
                                   unsigned flags, const cms_verify_opts *o,
                                   kyso_sig_result *out)
{
    cms_job j = { .v = v, .spans = spans, .nspans = nspans, .o = o };
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
    if (trust_check_digest(j->v, cms_digest_nid(obj), "time-stamp imprint", j->detail,
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
    return cms_verify_timestamp_ex(v, der, derlen, spans, nspans, NULL, out, NULL);
}

/* cms_verify_timestamp_ex - see cms.h. */
kyso_reason cms_verify_timestamp_ex(const struct kyso_verifier *v,
                                    const unsigned char *der, size_t derlen,
                                    const kyso_span *spans, size_t nspans,
                                    const cms_verify_opts *o, kyso_sig_result *out,
                                    time_t *genp)
{
    cms_job j = { .v = v, .tsa = 1, .o = o };
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
    if (genp != NULL)
        *genp = 0;
    if (tst != NULL && trust_time_of(TS_TST_INFO_get_time(tst), &gen) == 0) {
        trust_format_time(gen, out->signing_time, sizeof(out->signing_time));
        memcpy(out->timestamp_time, out->signing_time, sizeof(out->timestamp_time));
        if (genp != NULL)
            *genp = gen;
    }
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

/* cms_get_revdata - see cms.h.  Out of memory drops items silently (the
 * data only helps). */
int cms_get_revdata(const struct kyso_verifier *v, const unsigned char *der,
                    size_t derlen, kyso_revdata *out)
{
    cms_job j = { .v = v };
    STACK_OF(CMS_SignerInfo) *sis;
    int ok = cms_parse(&j, der, derlen, v->lim.max_cms_size) == REASON_OK;

    sis = ok ? CMS_get0_SignerInfos(j.cms) : NULL;
    for (int i = 0; sis != NULL && i < sk_CMS_SignerInfo_num(sis); i++)
        cms_collect_adbe(&j, sk_CMS_SignerInfo_value(sis, i));
    for (size_t i = 0; ok && i < j.own.nocsp; i++)
        revdata_add(out, 1, j.own.ocsp[i].p, j.own.ocsp[i].len);
    for (size_t i = 0; ok && i < j.own.ncrls; i++)
        revdata_add(out, 0, j.own.crls[i].p, j.own.crls[i].len);
    CMS_ContentInfo_free(j.cms);
    sk_X509_pop_free(j.certs, X509_free);
    revdata_free(&j.own);
    ERR_clear_error();
    return ok ? 0 : -1;
}
