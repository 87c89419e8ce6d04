/*
 * reasons.h - the verdict vocabulary (DESIGN.md): reason codes, the verdict
 * each one implies, its ETSI EN 319 102-1 indication, and one Vietnamese and
 * one English sentence per reason.  Tools, logs, notices and tests all use
 * these names; never invent a reason string elsewhere.
 */
#ifndef KYSO_REASONS_H
#define KYSO_REASONS_H

typedef enum kyso_verdict {
    VERDICT_VALID = 0,
    VERDICT_NONE,           /* nothing to verify (a message with no document) */
    VERDICT_UNSIGNED,
    VERDICT_INDETERMINATE,
    VERDICT_INVALID
} kyso_verdict;

/* Order matters only for reason_worse(): later is not "worse"; see there. */
typedef enum kyso_reason {
    REASON_OK = 0,
    REASON_NO_DOCUMENTS,
    REASON_UNSIGNED,
    REASON_MALFORMED,
    REASON_BAD_BYTERANGE,
    REASON_DIGEST_MISMATCH,
    REASON_BAD_SIGNATURE,
    REASON_MODIFIED_AFTER_SIGNING,
    REASON_CERT_EXPIRED,
    REASON_CERT_NOT_YET_VALID,
    REASON_CERT_REVOKED,
    REASON_UNTRUSTED_CHAIN,
    REASON_BAD_KEY_USAGE,
    REASON_WEAK_ALGORITHM,
    REASON_REVOCATION_UNKNOWN,
    REASON_TIMESTAMP_INVALID,
    REASON_SIGNER_MISMATCH,
    REASON_MISSING_ORG_SIGNATURE,
    REASON_MISSING_PERSONAL_SIGNATURE,
    REASON_LIMIT_EXCEEDED,
    REASON_UNSUPPORTED_TYPE,
    REASON_INTERNAL_ERROR,
    REASON__COUNT
} kyso_reason;

/* reason_name - the stable ASCII code ("digest_mismatch"); never NULL. */
const char *reason_name(kyso_reason r);
/* reason_from_name - inverse of reason_name; returns -1 when unknown. */
int reason_from_name(const char *name);
/* reason_verdict - the verdict a reason implies. */
kyso_verdict reason_verdict(kyso_reason r);
/* verdict_name - "valid", "unsigned", "invalid", "indeterminate", "none". */
const char *verdict_name(kyso_verdict v);
/* reason_etsi - ETSI EN 319 102-1 sub-indication, or "" when none applies. */
const char *reason_etsi(kyso_reason r);
/* reason_text_vi / reason_text_en - one sentence for people (UTF-8). */
const char *reason_text_vi(kyso_reason r);
const char *reason_text_en(kyso_reason r);
/* reason_text_ascii_vi - the Vietnamese sentence without diacritics, for
 * SMTP replies, which must be ASCII. */
const char *reason_text_ascii_vi(kyso_reason r);
/* reason_worse - returns the reason of the two that decides a document:
 * invalid beats indeterminate beats unsigned beats valid; between equals
 * the first one stays. */
kyso_reason reason_worse(kyso_reason a, kyso_reason b);

#endif
