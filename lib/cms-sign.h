/*
 * cms-sign.h - making CMS SignedData (RFC 5652) with a key we never hold:
 * the signed attributes are built here and their DER handed to a signing
 * function (the token's signer thread, see token.h).  PAdES baseline B-B
 * (ETSI EN 319 142-1) for PDF signatures, and S/MIME (RFC 8551) bodies.
 * Never prints.
 */
#ifndef KYSO_CMS_SIGN_H
#define KYSO_CMS_SIGN_H

#include <stddef.h>
#include <openssl/x509.h>
#include "cms.h"

struct tsa_conf;

/* cms_sign_fn - sign TBS with the organisation key (SHA-256 inside);
 * returns a TOKEN_* code (token.h) with a reason in ERR on failure. */
typedef int (*cms_sign_fn)(void *ctx, int pss, const unsigned char *tbs, size_t len,
                           unsigned char **sig, size_t *siglen, char *err, size_t errlen);

typedef struct cms_signer {
    X509 *cert;                 /* the organisation certificate */
    STACK_OF(X509) *chain;      /* its issuers, all put in the SignedData; may be NULL */
    int pss;                    /* RSASSA-PSS instead of PKCS#1 v1.5 */
    cms_sign_fn sign;
    void *ctx;
    const struct tsa_conf *tsa; /* ask this TSA for a signature time-stamp (PAdES
                                 * B-T), or NULL */
} cms_signer;

/* Flags for cms_sign_detached. */
#define CMSS_SMIME  0x01        /* S/MIME: add signingTime and SMIMECapabilities */

/*
 * cms_sign_detached - a detached SignedData over the concatenation of
 * SPANS, SHA-256: signed attributes content-type, message-digest and ESS
 * signing-certificate-v2 (CAdES), and no signingTime (PAdES B-B keeps the
 * time in the PDF's /M) unless CMSS_SMIME.  Certificates: CERT and the
 * whole chain.  With S->tsa (PDF only: ignored with CMSS_SMIME), the
 * SignerInfo also gets the unsigned
 * attribute id-aa-signatureTimeStampToken: a token from that TSA over the
 * signature value (tsa_stamp, verified before use); when the TSA fails the
 * signature is not made: TOKEN_ETEMP with the TSA's reason (retry later).
 * On TOKEN_OK *der (malloc'd) and *derlen hold the ContentInfo; otherwise
 * the signing function's TOKEN_* code, or TOKEN_ECONFIG for an OpenSSL
 * failure, with the reason in ERR.
 */
int cms_sign_detached(const cms_signer *s, const kyso_span *spans, size_t nspans,
                      unsigned flags, unsigned char **der, size_t *derlen,
                      char *err, size_t errlen);

/* cms_sign_digest - cms_sign_detached for content whose SHA-256 MD the
 * caller has already computed (in the pass it makes over the content
 * anyway). */
int cms_sign_digest(const cms_signer *s, const unsigned char md[32], unsigned flags,
                    unsigned char **der, size_t *derlen, char *err, size_t errlen);

/* cms_sign_size_bound - an upper bound of the DER size cms_sign_detached
 * produces for S (a time-stamp token included when S->tsa), for sizing a
 * PDF /Contents placeholder. */
size_t cms_sign_size_bound(const cms_signer *s);

#endif
