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

/* trust_get_chain - the path from LEAF to an anchor at AT (validity and
 * signatures only), LEAF first, into *chain (caller frees with
 * sk_X509_pop_free).  REASON_OK, or the failure with detail. */
kyso_reason trust_get_chain(const struct kyso_verifier *v, X509 *leaf, STACK_OF(X509) *extra,
                            time_t at, STACK_OF(X509) **chain, char *detail, size_t dlen);

/* trust_check_crl_files - revocation of CERT (issued by ISSUER) at AT from
 * the CRLs configured in T: REASON_OK when a covering CRL does not list it
 * before AT, REASON_CERT_REVOKED, or REASON_REVOCATION_UNKNOWN when no
 * configured CRL covers it; detail filled for the last two. */
kyso_reason trust_check_crl_files(const kyso_trust *t, X509 *cert, X509 *issuer,
                                  time_t at, char *detail, size_t dlen);

/* trust_crl_count - how many CRLs are configured in T. */
int trust_crl_count(const kyso_trust *t);

/* trust_find_crl - a configured CRL covering CERT (issued by ISSUER) at
 * AT, borrowed, or NULL. */
X509_CRL *trust_find_crl(const kyso_trust *t, X509 *cert, X509 *issuer, time_t at);

/* trust_crl_covers - is CRL signed by ISSUER's key under CERT's issuer
 * name, issued by NOW (thisUpdate), current at or after AT (nextUpdate),
 * and in scope for CERT (trust_crl_scope_ok)?  1 or 0. */
int trust_crl_covers(X509_CRL *crl, X509 *cert, X509 *issuer, time_t at, time_t now);

/* trust_crl_scope_ok - may CRL be used for CERT?  Unknown critical
 * extensions, delta, indirect and reason-partitioned CRLs, CRLs scoped to
 * the other kind of certificate or to a distribution point CERT does not
 * name: 0; else 1. */
int trust_crl_scope_ok(X509_CRL *crl, X509 *cert);

/* trust_crl_entry - CERT's entry in a usable CRL judged at AT: REASON_OK
 * (absent, removeFromCRL, or revoked after AT), REASON_CERT_REVOKED with
 * detail naming SOURCE, REASON_REVOCATION_UNKNOWN for an entry with an
 * unknown critical extension. */
kyso_reason trust_crl_entry(X509_CRL *crl, X509 *cert, time_t at, const char *source,
                            char *detail, size_t dlen);

/* trust_describe_revocation - one line for a revocation at WHEN with CRL
 * reason CODE (-1: none; 6, certificateHold, reads "suspended") found by
 * SOURCE, into DETAIL. */
void trust_describe_revocation(time_t when, int code, const char *source,
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
/* trust_name_of - NAME as one RFC 2253 UTF-8 line in BUF (truncated to
 * LEN); returns BUF, "" when it cannot be printed. */
char *trust_name_of(const X509_NAME *name, char *buf, size_t len);
/* trust_format_time - "2026-11-22T10:00:00Z" into buf (>= 21 bytes); returns buf. */
char *trust_format_time(time_t t, char *buf, size_t len);

#endif
