/*
 * policy.h - turning verification results into decisions: which messages
 * are watched (flow and mode), which documents must be signed, what a
 * document lacks under RequireSignature, and which action a message gets
 * under the On-* keys.  Pure functions of the configuration and the
 * results: no I/O, never prints.
 */
#ifndef KYSO_POLICY_H
#define KYSO_POLICY_H

#include <stddef.h>
#include <time.h>
#include "config.h"
#include "decision.h"
#include "firstseen.h"
#include "result.h"

typedef struct kyso_envelope {
    const char *sender;             /* envelope sender without <>, "" for null */
    const char *const *rcpts;       /* envelope recipients without <> */
    size_t nrcpts;
} kyso_envelope;

typedef struct kyso_flow {
    int watched;                    /* the message is in a flow we check */
    int exempt;                     /* the sender is in ExemptAddresses */
    kyso_mode mode;                 /* mode for a watched message, else MODE_OFF */
    char why[200];                  /* one line: why watched or not */
} kyso_flow;

/* policy_flow - is the message of envelope E watched, and in which mode?
 * Never fails; a null or malformed sender is simply not matched. */
void policy_flow(const kyso_config *c, const kyso_envelope *e, kyso_flow *f);

/* policy_doc_type - the DOC_* bit of a document kind, or 0 for kinds that
 * are never documents (text, other, message). */
unsigned policy_doc_type(kyso_kind k);

/* policy_action_for - the action the On-* keys give REASON. */
kyso_action policy_action_for(const kyso_config *c, kyso_reason reason);

typedef struct kyso_policy_result {
    kyso_action action;             /* what enforcement asks for the message */
    kyso_reason reason;             /* the deciding reason (ok, no_documents,
                                     * or the deciding document's) */
    size_t culprit;                 /* index in docs of the deciding document,
                                     * or (size_t)-1 */
    kyso_doc_decision *docs;        /* one per entry of msg->atts (owned) */
    size_t ndocs;
} kyso_policy_result;

/* policy_decide - the decision for message result MSG (from msg_verify):
 * each attachment is counted when its type is listed in DocumentTypes (a
 * file with a NAME.p7s next to it takes the better of its own result and
 * that signature's), is checked against RequireSignature, and asks an
 * action; the message gets the most severe (reject > quarantine > tempfail
 * > accept) and, among equals, the first.  A message-level failure (limits,
 * unparseable, internal error) decides unless a document asks for more.
 * Returns 0, or -1 when out of memory (OUT then asks On-InternalError with
 * reason internal_error). */
int policy_decide(const kyso_config *c, const kyso_doc_result *msg, kyso_policy_result *out);

/*
 * policy_decide_seen - policy_decide, with revocation_unknown deferred:
 * when On-RevocationUnknown is set to an action other than tempfail, a
 * document whose revocation status cannot be decided gets tempfail until
 * it was first seen (firstseen_note on FS with its policy_doc_key, at NOW)
 * RevocationMaxDefer seconds ago, and that action afterwards.  Without
 * On-RevocationUnknown, revocation_unknown asks On-Indeterminate as before.
 * FS may be NULL (every document is then first seen NOW).  Same returns.
 */
int policy_decide_seen(const kyso_config *c, const kyso_doc_result *msg, kyso_firstseen *fs,
                       time_t now, kyso_policy_result *out);

/* policy_doc_key - the first-seen key of document D: SHA-256 over its
 * kind, name and, per signature, field, signer issuer and serial and
 * signing time (the same document resent gives the same key). */
void policy_doc_key(const kyso_doc_result *d, unsigned char key[FIRSTSEEN_KEY_LEN]);

/* policy_free - release what OUT owns. */
void policy_free(kyso_policy_result *out);

/* policy_action_severity - the order used above: accept 0 ... reject 3. */
int policy_action_severity(kyso_action a);

#endif
