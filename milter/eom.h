/*
 * eom.h - the end of a message: verify, decide, act (reply, quarantine,
 * headers), tell the sender, record.  Every message that reaches here
 * leaves with exactly one of accept, reject, tempfail, quarantine.
 */
#ifndef KYSO_EOM_H
#define KYSO_EOM_H

#include <libmilter/mfapi.h>
#include "msgctx.h"
#include "notice.h"

/* eom_set_ratelimit - the notice rate limit shared by all messages. */
void eom_set_ratelimit(kyso_ratelimit *rl);

/* eom_set_firstseen - when each document with revocation_unknown was
 * first seen (On-RevocationUnknown, RevocationMaxDefer), for the whole
 * process, across reloads.  NULL: every document is new. */
struct kyso_firstseen;
void eom_set_firstseen(struct kyso_firstseen *fs);

/* eom_skip_at_eoh - at the end of the headers: when the message will not
 * be checked (exempt, not watched, mode off) and carries no forged header
 * to remove, record the decision and return 1 (the caller accepts at
 * once, without reading the body); else 0. */
int eom_skip_at_eoh(SMFICTX *ctx, kyso_conn *c, kyso_msg *m);

/* eom_run - decide about M and act through CTX; returns what the
 * end-of-message callback returns. */
sfsistat eom_run(SMFICTX *ctx, kyso_conn *c, kyso_msg *m);

#endif
