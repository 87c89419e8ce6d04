/*
 * ocsp.h - OCSP (RFC 6960) for the revocation check: which responder to
 * ask for a certificate (the OCSPResponders table, else the certificate's
 * AIA), the request, and the strict check of the answer: response status,
 * signature by the issuing CA or by a responder it delegated with
 * id-kp-OCSPSigning, the certID asked for, thisUpdate/nextUpdate within a
 * tolerance, the nonce when the responder echoes one.  Verified answers
 * are cached (revcache.h) until their nextUpdate.  Never prints.
 */
#ifndef KYSO_OCSP_H
#define KYSO_OCSP_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>
#include "revcache.h"

struct kyso_verifier;

/*
 * The OCSPResponders table.  One entry per line: "ISSUER URL", the URL
 * being the last field and ISSUER everything before it:
 *   sha256:HEX (or 64 hex digits, colons allowed): the SHA-256 of the
 *       issuing CA's certificate (DER);
 *   a URL (http:// or https://): an AIA address to rewrite, e.g. one that
 *       no longer resolves;
 *   otherwise the issuer's subject as an RFC 2253 string ("CN=...,O=...,C=VN"),
 *       compared ignoring case and spaces after commas.
 * URL "none" means: never ask OCSP for that issuer or address.
 */
typedef struct kyso_ocsp_table kyso_ocsp_table;

/* ocsp_table_new / ocsp_table_free - an empty table (NULL when out of
 * memory); free releases everything, NULL is fine. */
kyso_ocsp_table *ocsp_table_new(void);
void ocsp_table_free(kyso_ocsp_table *t);

/* ocsp_table_dup - a deep copy of T, or NULL when out of memory. */
kyso_ocsp_table *ocsp_table_dup(const kyso_ocsp_table *t);

/* ocsp_table_add_line - parse one non-comment LINE (trimmed) into T.
 * 0, or -1 with what is wrong and the fix in WHY (T unchanged). */
int ocsp_table_add_line(kyso_ocsp_table *t, const char *line, char *why, size_t whylen);

/* ocsp_table_load - every line of file PATH ('#' comments, blank lines).
 * Returns a new table, or NULL with "PATH:LINE: why" in ERR. */
kyso_ocsp_table *ocsp_table_load(const char *path, char *err, size_t errlen);

/* ocsp_table_count - entries in T (0 for NULL). */
size_t ocsp_table_count(const kyso_ocsp_table *t);

/*
 * ocsp_check - the status of CERT, issued by ISSUER (already validated),
 * from the cache or the responders, judged at NOW.  Returns 1 with OUT
 * filled (status good, revoked with time and reason, or unknown to the
 * responder), or 0 when no usable answer was had, with why in WHY (no
 * responder, timed out, refused answer, ...).  With WANT_DER the answer's
 * DER is in OUT too.  OUT is cleared by the caller (revcache_item_clear).
 */
int ocsp_check(const struct kyso_verifier *v, X509 *cert, X509 *issuer, time_t now,
               int want_der, revcache_item *out, char *why, size_t whylen);

/*
 * ocsp_check_response - is DER (LEN bytes) an OCSP answer about CERT
 * (issued by ISSUER) that verifies, with the time checks done against
 * NOW (fresh answers) or, when EMBEDDED, against AT (thisUpdate no earlier
 * than AT minus the tolerance: the answer was made after the signature)?
 * Returns 1 with OUT's status fields filled (no DER), or 0 with why.
 */
int ocsp_check_response(const struct kyso_verifier *v, const unsigned char *der, size_t len,
                        X509 *cert, X509 *issuer, time_t now, int embedded, time_t at,
                        revcache_item *out, char *why, size_t whylen);

#endif
