/*
 * revocation.h - whether a certificate was revoked, from every source the
 * regulations allow (REGULATIONS R5; Circular 41/2017 Art. 8): validation
 * data embedded in the signature or the document (RFC 5940 in CMS, DSS/VRI
 * in PDF; it counts only if it verifies), configured CRL files, CRLs from
 * the certificate's distribution points and OCSP (AIA or a configured
 * responder), answers cached until their nextUpdate.  Never prints.
 */
#ifndef KYSO_REVOCATION_H
#define KYSO_REVOCATION_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>
#include "reasons.h"

struct kyso_verifier;

/* One DER object: an OCSPResponse or a CertificateList. */
typedef struct kyso_blob {
    unsigned char *p;
    size_t len;
} kyso_blob;

/* Validation data: OCSP responses and CRLs, DER. */
typedef struct kyso_revdata {
    kyso_blob *ocsp;
    size_t nocsp;
    kyso_blob *crls;
    size_t ncrls;
} kyso_revdata;

/* revdata_add - append a copy of LEN bytes of DER as an OCSP response
 * (IS_OCSP) or a CRL.  0, or -1 when out of memory. */
int revdata_add(kyso_revdata *d, int is_ocsp, const unsigned char *der, size_t len);
void revdata_free(kyso_revdata *d);

/*
 * trust_check_cert_ex - trust_check_cert (trust.h) with validation data
 * EMBEDDED in the signature or document (may be NULL), used before
 * anything else and only when it verifies.
 */
kyso_reason trust_check_cert_ex(const struct kyso_verifier *v, X509 *leaf,
                                STACK_OF(X509) *extra, time_t at,
                                const kyso_revdata *embedded, char *detail, size_t dlen);

/*
 * revocation_check_chain - revocation of every certificate of CHAIN (leaf
 * first, anchor last; the anchor itself is not checked) at AT: embedded
 * data (may be NULL), configured CRL files, then OCSP and CRL distribution
 * points in v->rev.order.  REASON_OK, REASON_CERT_REVOKED (also for a
 * suspension, certificateHold, dated no later than AT), or
 * REASON_REVOCATION_UNKNOWN when some certificate has no answer and
 * v->rev_missing is REVMISSING_UNKNOWN; detail says which source said
 * what.  Network transfers are bounded by v->rev.timeout_ms each.
 */
kyso_reason revocation_check_chain(const struct kyso_verifier *v, STACK_OF(X509) *chain,
                                   time_t at, const kyso_revdata *embedded,
                                   char *detail, size_t dlen);

/*
 * revocation_collect - the answers that prove CERT and every certificate
 * of CHAIN below the anchor not revoked now (OCSP preferred, else CRL),
 * from the cache or the network, into OUT: what a signer embeds for
 * long-term validation (PAdES B-LT).  0, or -1 with the reason in ERR.
 */
int revocation_collect(const struct kyso_verifier *v, X509 *cert, STACK_OF(X509) *chain,
                       kyso_revdata *out, char *err, size_t errlen);

#endif
