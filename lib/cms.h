/*
 * cms.h - verification of CMS SignedData (RFC 5652) with OpenSSL: detached
 * signatures over byte spans (PDF ByteRange, .p7s), attached ones (.p7m,
 * application/pkcs7-mime), and RFC 3161 time-stamp tokens used as PDF
 * document time-stamps.  Key usage, EKU and algorithm strength are our own
 * checks, not OpenSSL's S/MIME purpose.  Never prints.
 */
#ifndef KYSO_CMS_H
#define KYSO_CMS_H

#include <stddef.h>
#include <openssl/x509.h>
#include "result.h"
#include "revocation.h"

struct kyso_verifier;

typedef struct kyso_span {
    const unsigned char *p;
    size_t len;
} kyso_span;

/* Flags for cms_verify_detached. */
#define CMSV_ONE_SIGNER   0x01  /* exactly one SignerInfo (PDF signatures) */
#define CMSV_TEXT_CRLF    0x02  /* content is MIME text: verify as given (already canonical) */

/*
 * cms_verify_detached - verify DER (a ContentInfo with SignedData and no
 * eContent) over the concatenation of SPANS.  Signed attributes must be
 * present with content-type and messageDigest; ESS signing-certificate(-v2)
 * is checked when present.  Fills out->signer (subject, issuer, serial,
 * email, class), out->signing_time (from the signingTime attribute, when
 * present), out->reason and out->detail.  Returns out->reason:
 * REASON_MALFORMED (not parseable, not SignedData, too big, too many certs,
 * more than one signer with CMSV_ONE_SIGNER, missing signed attributes),
 * REASON_DIGEST_MISMATCH, REASON_BAD_SIGNATURE, REASON_WEAK_ALGORITHM,
 * REASON_BAD_KEY_USAGE, then whatever trust_check_cert says.
 */
kyso_reason cms_verify_detached(const struct kyso_verifier *v,
                                const unsigned char *der, size_t derlen,
                                const kyso_span *spans, size_t nspans,
                                unsigned flags, kyso_sig_result *out);

/* What the container of a signature adds to its check (a PDF's DSS, a
 * later document time-stamp).  All fields may be zero / NULL. */
typedef struct cms_verify_opts {
    time_t poe;                     /* proof of existence of the signature from
                                     * outside (a valid document time-stamp that
                                     * covers it), or 0 */
    const kyso_revdata *embedded;   /* OCSP responses and CRLs from the document */
    STACK_OF(X509) *extra_certs;    /* untrusted certificates from the document */
} cms_verify_opts;

/*
 * cms_verify_detached_ex - cms_verify_detached with the signature's
 * time-stamps and embedded validation data.  A signature time-stamp
 * (unsigned attribute id-aa-signatureTimeStampToken, RFC 3161 appendix A)
 * must have the hash of the signature value as its imprint and verify like
 * a document time-stamp; otherwise REASON_TIMESTAMP_INVALID (or
 * REASON_REVOCATION_UNKNOWN when only the TSA certificate's status is
 * unknown).  The earliest genTime of a valid one, or O->poe when earlier,
 * is the proof-of-existence time: the signer certificate is checked at it
 * (out->poe_time) instead of the validation time.  The signed signingTime
 * is informative only: far from the time-stamp it gives out->warning.
 * Validation data inside the CMS (SignedData crls and RFC 5940
 * id-ri-ocsp-response, the adbe-revocationInfoArchival signed attribute)
 * and O->embedded go to trust_check_cert_ex.  O may be NULL.
 */
kyso_reason cms_verify_detached_ex(const struct kyso_verifier *v,
                                   const unsigned char *der, size_t derlen,
                                   const kyso_span *spans, size_t nspans,
                                   unsigned flags, const cms_verify_opts *o,
                                   kyso_sig_result *out);

/*
 * cms_verify_attached - like cms_verify_detached for a SignedData that holds
 * its content (.p7m).  On any verdict where the content could be extracted,
 * *content (malloc'd, caller frees) and *content_len are set; otherwise
 * *content is NULL.  DER or PEM/base64 input is accepted.
 */
kyso_reason cms_verify_attached(const struct kyso_verifier *v,
                                const unsigned char *der, size_t derlen,
                                unsigned char **content, size_t *content_len,
                                kyso_sig_result *out);

/*
 * cms_verify_timestamp - verify an RFC 3161 TimeStampToken (a PDF
 * ETSI.RFC3161 document time-stamp) whose message imprint must be the hash
 * of SPANS.  The TSA certificate must chain to an anchor and carry the
 * critical timeStamping EKU.  Returns REASON_OK, REASON_MALFORMED,
 * REASON_DIGEST_MISMATCH (imprint), REASON_TIMESTAMP_INVALID (token
 * signature or TSA certificate), or a trust reason; out->signing_time is
 * the genTime.
 */
kyso_reason cms_verify_timestamp(const struct kyso_verifier *v,
                                 const unsigned char *der, size_t derlen,
                                 const kyso_span *spans, size_t nspans,
                                 kyso_sig_result *out);
/* cms_verify_timestamp_ex - the same with the document's validation data
 * (O->poe is ignored; O may be NULL); out->timestamp_time is the genTime
 * too.  *gen (may be NULL) gets the genTime when the token parses, else 0. */
kyso_reason cms_verify_timestamp_ex(const struct kyso_verifier *v,
                                    const unsigned char *der, size_t derlen,
                                    const kyso_span *spans, size_t nspans,
                                    const cms_verify_opts *o, kyso_sig_result *out,
                                    time_t *gen);

/*
 * cms_get_revdata - the validation data embedded in DER (SignedData crls:
 * CertificateList and RFC 5940 id-ri-ocsp-response; every signer's
 * adbe-revocationInfoArchival attribute), appended to OUT, unverified.
 * Returns 0, or -1 when DER does not parse as SignedData (OUT untouched).
 */
int cms_get_revdata(const struct kyso_verifier *v, const unsigned char *der,
                    size_t derlen, kyso_revdata *out);

/*
 * cms_describe_signer - fill out->signer (and signing_time) from the first
 * SignerInfo of DER without verifying anything, for signatures refused
 * before cryptography (adbe.pkcs7.sha1).  Returns 0, or -1 when DER does
 * not parse (out untouched).
 */
int cms_describe_signer(const struct kyso_verifier *v,
                        const unsigned char *der, size_t derlen,
                        kyso_sig_result *out);

/*
 * cms_check_key_usage - is CERT fit for signing documents (our rule, not
 * OpenSSL's S/MIME purpose)?  KeyUsage, when present, must allow
 * digitalSignature or nonRepudiation; ExtendedKeyUsage, when present, must
 * hold emailProtection, documentSigning (1.3.6.1.5.5.7.3.36), Adobe
 * (1.2.840.113583.1.1.5), Microsoft document signing
 * (1.3.6.1.4.1.311.10.3.12) or anyExtendedKeyUsage.  Returns REASON_OK or
 * REASON_BAD_KEY_USAGE with DETAIL filled.
 */
kyso_reason cms_check_key_usage(X509 *cert, char *detail, size_t dlen);

#endif
