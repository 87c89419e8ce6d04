/*
 * crl-fetch.h - CRLs from a certificate's distribution points (RFC 5280
 * 4.2.1.13) for the revocation check: fetched over HTTP with bounded time
 * and size, verified against the issuing CA, cached (revcache.h) until
 * their nextUpdate and, in the daemon, refreshed in the background before
 * then.  Also the check of CRLs embedded in a signature or a document.
 * Never prints.
 */
#ifndef KYSO_CRL_FETCH_H
#define KYSO_CRL_FETCH_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>
#include "reasons.h"

struct kyso_verifier;

/*
 * crl_dp_check - revocation of CERT (issued by ISSUER, already validated)
 * at AT from the CRLs of its http(s) distribution points, judged fresh at
 * NOW.  Returns REASON_OK (a verified current CRL does not list it before
 * AT), REASON_CERT_REVOKED, or REASON_REVOCATION_UNKNOWN (no distribution
 * point, fetch failed, CRL refused), with DETAIL filled for the last two.
 * When CRL is not NULL and the answer is not unknown, *crl is a new
 * reference to the CRL used (for revocation_collect).
 */
kyso_reason crl_dp_check(const struct kyso_verifier *v, X509 *cert, X509 *issuer, time_t at,
                         time_t now, X509_CRL **crl, char *detail, size_t dlen);

/*
 * crl_check_der - an embedded CRL (DER, LEN bytes) about CERT: it must
 * parse, be signed by ISSUER for CERT's issuer, be in scope and have been
 * current at AT (nextUpdate not before AT minus the tolerance) and issued
 * by NOW.  REASON_OK, REASON_CERT_REVOKED or REASON_REVOCATION_UNKNOWN
 * (unusable: DETAIL says why).  *BEFORE (may be NULL) is set when the
 * answer is REASON_OK from a CRL made before AT (minus the tolerance): an
 * old CRL a signer chose could predate the revocation of its key, so the
 * caller lets another source that says revoked win over it.
 */
kyso_reason crl_check_der(const struct kyso_verifier *v, const unsigned char *der, size_t len,
                          X509 *cert, X509 *issuer, time_t at, time_t now, int *before,
                          char *detail, size_t dlen);

/* crl_parse - LEN bytes of DER (or PEM) as one CRL, or NULL with why. */
X509_CRL *crl_parse(const unsigned char *der, size_t len, char *why, size_t wl);

#endif
