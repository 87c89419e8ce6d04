/*
 * trust.h - trust anchors, configured intermediates and CRLs, and the chain
 * check of a signer certificate at a validation time.  Certificates found
 * inside a signature are untrusted helpers only.  Revocation is decided here
 * with point-in-time semantics (OpenSSL ignores revocation dates).
 * Never prints; errors go to the caller's buffer.
 */
#ifndef KYSO_TRUST_H
#define KYSO_TRUST_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>
#include "reasons.h"

struct kyso_verifier;
typedef struct kyso_trust kyso_trust;

/* trust_new - an empty store, or NULL when out of memory. */
kyso_trust *trust_new(void);
void trust_free(kyso_trust *t);

/* trust_add_anchors / trust_add_intermediates / trust_add_crls - load every
 * PEM certificate (or CRL) from PATH, a file or a folder (files of a folder
 * in name order, non-recursive; files that hold no PEM object are an error).
 * Return the number loaded (>= 1), or -1 with a message naming the file and
 * what is wrong in err; t keeps what it had before the call on failure. */
int trust_add_anchors(kyso_trust *t, const char *path, char *err, size_t errlen);
int trust_add_intermediates(kyso_trust *t, const char *path, char *err, size_t errlen);
int trust_add_crls(kyso_trust *t, const char *path, char *err, size_t errlen);

/* trust_check_cert - is LEAF trusted at time AT?  EXTRA holds untrusted
 * certificates from the signature (may be NULL).  Checks, in this order:
 * a path to an anchor (REASON_UNTRUSTED_CHAIN), validity of every
 * certificate of the path at AT (REASON_CERT_EXPIRED, ..._NOT_YET_VALID),
 * weak keys or signature digests in the path (REASON_WEAK_ALGORITHM per
 * v->algo), revocation of every non-anchor certificate from the configured
 * CRLs (REASON_CERT_REVOKED; certificateHold counts as revoked;
 * REASON_REVOCATION_UNKNOWN when no CRL signed by the issuer covers AT and
 * v->rev_missing says so).  Returns REASON_OK or the first failure, with a
 * one-line explanation in detail. */
kyso_reason trust_check_cert(const struct kyso_verifier *v, X509 *leaf,
                             STACK_OF(X509) *extra, time_t at,
                             char *detail, size_t dlen);

/* trust_get0_intermediates - the configured intermediates, borrowed (never
 * NULL for a store from trust_new); helpers for finding a signer cert. */
STACK_OF(X509) *trust_get0_intermediates(const kyso_trust *t);

/* trust_check_key - RSA/DSA key below v->algo.min_rsa_bits, EC below
 * min_ec_bits, or no key: REASON_WEAK_ALGORITHM with detail naming WHAT;
 * otherwise REASON_OK (detail untouched). */
kyso_reason trust_check_key(const struct kyso_verifier *v, EVP_PKEY *pk,
                            const char *what, char *detail, size_t dlen);
/* trust_check_digest - MD2/MD4/MD5 always, SHA-1 unless v->algo.allow_sha1:
 * REASON_WEAK_ALGORITHM with detail; otherwise REASON_OK. */
kyso_reason trust_check_digest(const struct kyso_verifier *v, int mdnid,
                               const char *what, char *detail, size_t dlen);

/* trust_time_of - an ASN1_TIME as time_t; 0, or -1 when it does not parse. */
int trust_time_of(const ASN1_TIME *a, time_t *out);
/* trust_format_time - "2026-11-22T10:00:00Z" into buf (>= 21 bytes); returns buf. */
char *trust_format_time(time_t t, char *buf, size_t len);

#endif
