/*
 * test-reasons.c - the verdict vocabulary table is complete and consistent:
 * every reason has a name that maps back to it, a verdict, sentences in
 * both languages, and an ASCII-only Vietnamese sentence for SMTP replies.
 */
#include <string.h>
#include "reasons.h"
#include "tap.h"

/* is_ascii - does S hold only printable ASCII? */
static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

int main(void)
{
    for (int r = 0; r < REASON__COUNT; r++) {
        const char *n = reason_name((kyso_reason)r);
        ok(n && *n && reason_from_name(n) == r, "reason %d has a name (%s) that maps back", r, n);
        ok(*reason_text_vi((kyso_reason)r) && *reason_text_en((kyso_reason)r),
           "%s has Vietnamese and English sentences", n);
        ok(is_ascii(reason_text_ascii_vi((kyso_reason)r)), "%s has an ASCII Vietnamese sentence", n);
    }
    /* the contract of DESIGN.md, spelled out */
    ok(strcmp(reason_etsi(REASON_DIGEST_MISMATCH), "HASH_FAILURE") == 0, "digest_mismatch is HASH_FAILURE");
    ok(reason_verdict(REASON_REVOCATION_UNKNOWN) == VERDICT_INDETERMINATE, "revocation_unknown is indeterminate");
    ok(reason_verdict(REASON_UNSIGNED) == VERDICT_UNSIGNED, "unsigned is its own verdict");
    ok(reason_verdict(REASON_CERT_EXPIRED) == VERDICT_INVALID, "cert_expired is invalid");
    ok(reason_from_name("no_such_reason") == -1, "unknown names are refused");
    ok(reason_worse(REASON_OK, REASON_CERT_REVOKED) == REASON_CERT_REVOKED, "invalid beats valid");
    ok(reason_worse(REASON_REVOCATION_UNKNOWN, REASON_UNSIGNED) == REASON_REVOCATION_UNKNOWN,
       "indeterminate beats unsigned");
    ok(reason_worse(REASON_DIGEST_MISMATCH, REASON_BAD_SIGNATURE) == REASON_DIGEST_MISMATCH,
       "between two invalid reasons the first stays");
    return tap_done();
}
