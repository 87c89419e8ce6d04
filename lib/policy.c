/*
 * policy.c - from verification results to a decision (see policy.h): the
 * flow and mode of a message, the documents that count, RequireSignature,
 * and the On-* actions.  Must never turn a document it did not see checked
 * into an accept: anything not plainly valid asks its On-* action.
 * No I/O, never prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "policy.h"

/* addr_domain - the domain part of ADDR, or NULL when there is none. */
static const char *addr_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] ? at + 1 : NULL;
}

/* flow_mode - the strictest ModeTable mode among the sender's and the
 * counted recipients' domains, or Mode when none has an entry. */
static kyso_mode flow_mode(const kyso_config *c, const kyso_envelope *e)
{
    int found = 0;
    kyso_mode best = MODE_OFF, m;
    const char *d = addr_domain(e->sender);
    if (d && config_table_mode(c, d, &m)) {
        found = 1;
        best = m;
    }
    for (size_t i = 0; i < e->nrcpts; i++) {
        if (config_match_address(&c->exempt, e->rcpts[i]))
            continue;
        d = addr_domain(e->rcpts[i]);
        if (d && config_table_mode(c, d, &m)) {
            if (!found || m > best)
                best = m;
            found = 1;
        }
    }
    return found ? best : c->mode;
}

void policy_flow(const kyso_config *c, const kyso_envelope *e, kyso_flow *f)
{
    static const char *const rule[] = {"both", "either", "sender", "recipient"};
    memset(f, 0, sizeof *f);
    f->mode = MODE_OFF;
    const char *sender = e->sender ? e->sender : "";
    if (sender[0] && config_match_address(&c->exempt, sender)) {
        f->exempt = 1;
        snprintf(f->why, sizeof f->why, "sender is in ExemptAddresses");
        return;
    }
    const char *sd = addr_domain(sender);
    int smatch = sd && config_match_domain(&c->enforce_domains, sd);
    size_t rmatch = 0, counted = 0;
    for (size_t i = 0; i < e->nrcpts; i++) {
        const char *rd = addr_domain(e->rcpts[i]);
        if (config_match_address(&c->exempt, e->rcpts[i]))
            continue;
        counted++;
        if (rd && config_match_domain(&c->enforce_domains, rd))
            rmatch++;
    }
    switch (c->flow) {
    case FLOW_BOTH: f->watched = smatch && rmatch > 0; break;
    case FLOW_EITHER: f->watched = smatch || rmatch > 0; break;
    case FLOW_SENDER: f->watched = smatch; break;
    case FLOW_RECIPIENT: f->watched = rmatch > 0; break;
    }
    snprintf(f->why, sizeof f->why,
             "%s: sender domain %s, %zu of %zu recipients match EnforceDomains (EnforceFlow %s)",
             f->watched ? "watched" : "not watched", smatch ? "matches" : "does not match",
             rmatch, counted, rule[c->flow]);
    if (f->watched)
        f->mode = flow_mode(c, e);
}

unsigned policy_doc_type(kyso_kind k)
{
    switch (k) {
    case KIND_PDF: return DOC_PDF;
    case KIND_P7S: return DOC_P7S;
    case KIND_P7M: return DOC_P7M;
    case KIND_OFFICE: return DOC_OFFICE;
    case KIND_OLE: return DOC_OLE;
    default: return 0;
    }
}

kyso_action policy_action_for(const kyso_config *c, kyso_reason reason)
{
    switch (reason) {
    case REASON_OK:
    case REASON_NO_DOCUMENTS: return ACTION_ACCEPT;
    case REASON_UNSUPPORTED_TYPE: return c->on_unsupported;
    case REASON_LIMIT_EXCEEDED: return c->on_limit;
    case REASON_INTERNAL_ERROR: return c->on_internal_error;
    default: break;
    }
    switch (reason_verdict(reason)) {
    case VERDICT_UNSIGNED: return c->on_unsigned;
    case VERDICT_INDETERMINATE: return c->on_indeterminate;
    case VERDICT_VALID:
    case VERDICT_NONE: return ACTION_ACCEPT;
    default: return c->on_invalid;
    }
}

int policy_action_severity(kyso_action a)
{
    switch (a) {
    case ACTION_REJECT: return 3;
    case ACTION_QUARANTINE: return 2;
    case ACTION_TEMPFAIL: return 1;
    default: return 0;
    }
}

/* att_named - is attachment name AN exactly NAME followed by SUFFIX (case
 * of the suffix ignored)? */
static int att_named(const char *an, const char *name, const char *suffix)
{
    size_t n = strlen(name);
    return an && strlen(an) == n + strlen(suffix) && strncmp(an, name, n) == 0 &&
           strcasecmp(an + n, suffix) == 0;
}

/* find_att - the attachment of MSG named NAME followed by SUFFIX, or NULL. */
static const kyso_doc_result *find_att(const kyso_doc_result *msg, const char *name,
                                       const char *suffix)
{
    for (size_t i = 0; i < msg->natts; i++)
        if (att_named(msg->atts[i].name, name, suffix))
            return &msg->atts[i];
    return NULL;
}

/* count_att - how many attachments of MSG are named NAME SUFFIX. */
static size_t count_att(const kyso_doc_result *msg, const char *name, const char *suffix)
{
    size_t k = 0;
    for (size_t i = 0; i < msg->natts; i++)
        k += att_named(msg->atts[i].name, name, suffix);
    return k;
}

/* p7s_for - the detached NAME.p7s whose result stands for attachment D,
 * or NULL: only when the message holds exactly one part of D's name and
 * one NAME.p7s (with several, which one it signed is not known, and a
 * signature must not vouch for a file it was not checked against). */
static const kyso_doc_result *p7s_for(const kyso_doc_result *msg, const kyso_doc_result *d)
{
    if (d->name == NULL || count_att(msg, d->name, "") != 1 ||
        count_att(msg, d->name, ".p7s") != 1)
        return NULL;
    return find_att(msg, d->name, ".p7s");
}

/* pairs_with_file - is D the one NAME.p7s of the message, with exactly one
 * part named NAME (whose result it then stands in, see p7s_for)? */
static int pairs_with_file(const kyso_doc_result *msg, const kyso_doc_result *d)
{
    size_t n = d->name ? strlen(d->name) : 0;
    if (d->kind != KIND_P7S || n <= 4 || strcasecmp(d->name + n - 4, ".p7s") != 0)
        return 0;
    char *base = strndup(d->name, n - 4);
    int one = base != NULL && count_att(msg, base, "") == 1 && count_att(msg, base, ".p7s") == 1;
    free(base);
    return one;
}

/* count_classes - valid signatures of D by class, added to *org, *pers. */
static void count_classes(const kyso_doc_result *d, int *org, int *pers)
{
    for (size_t i = 0; d && i < d->nsigs; i++) {
        if (d->sigs[i].reason != REASON_OK)
            continue;
        if (d->sigs[i].signer.cls == CLASS_ORGANISATION)
            (*org)++;
        else if (d->sigs[i].signer.cls == CLASS_PERSONAL)
            (*pers)++;
    }
    for (size_t i = 0; d && i < d->natts; i++)
        count_classes(&d->atts[i], org, pers);
}

/* require_reason - REASON_OK, or what RequireSignature finds missing in a
 * document whose signatures (in D and its detached P7S) are valid. */
static kyso_reason require_reason(const kyso_config *c, const kyso_doc_result *d,
                                  const kyso_doc_result *p7s)
{
    int org = 0, pers = 0;
    count_classes(d, &org, &pers);
    count_classes(p7s, &org, &pers);
    if (c->require != REQUIRE_ANY && org == 0)
        return REASON_MISSING_ORG_SIGNATURE;
    if (c->require == REQUIRE_PERSONAL_ORG && pers == 0)
        return REASON_MISSING_PERSONAL_SIGNATURE;
    return REASON_OK;
}

/* doc_key_add - one field of the first-seen key; NULL counts as "". */
static void doc_key_add(EVP_MD_CTX *m, const char *s)
{
    EVP_DigestUpdate(m, s ? s : "", s ? strlen(s) + 1 : 1);
}

void policy_doc_key(const kyso_doc_result *d, unsigned char key[FIRSTSEEN_KEY_LEN])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    char kind[16];

    memset(key, 0, FIRSTSEEN_KEY_LEN);
    if (m == NULL || !EVP_DigestInit_ex(m, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(m);
        return;
    }
    snprintf(kind, sizeof kind, "%d", (int)d->kind);
    doc_key_add(m, kind);
    doc_key_add(m, d->name);
    for (size_t i = 0; i < d->nsigs; i++) {
        doc_key_add(m, d->sigs[i].field);
        doc_key_add(m, d->sigs[i].signer.issuer);
        doc_key_add(m, d->sigs[i].signer.serial);
        doc_key_add(m, d->sigs[i].signing_time);
    }
    EVP_DigestFinal_ex(m, key, NULL);
    EVP_MD_CTX_free(m);
}

/* Where the first-seen times come from, for one decision. */
typedef struct seen_ctx {
    kyso_firstseen *fs;
    time_t now;
} seen_ctx;

/* unknown_action - the action for a document D whose revocation status is
 * unknown (see policy_decide_seen). */
static kyso_action unknown_action(const kyso_config *c, const kyso_doc_result *d,
                                  const seen_ctx *sc)
{
    unsigned char key[FIRSTSEEN_KEY_LEN];
    time_t first = sc->now, ttl = (time_t)c->revocation_max_defer * 2 + 86400;

    if (!c->revocation_defer)
        return c->on_indeterminate;
    if (c->on_revocation_unknown == ACTION_TEMPFAIL)
        return ACTION_TEMPFAIL;
    if (sc->fs != NULL) {
        policy_doc_key(d, key);
        first = firstseen_note(sc->fs, key, sc->now, ttl);
    }
    return sc->now - first >= (time_t)c->revocation_max_defer ? c->on_revocation_unknown
                                                              : ACTION_TEMPFAIL;
}

/* decide_doc - fill DD for attachment D of MSG. */
static void decide_doc(const kyso_config *c, const kyso_doc_result *msg,
                       const kyso_doc_result *d, kyso_doc_decision *dd, const seen_ctx *sc)
{
    const kyso_doc_result *p7s = p7s_for(msg, d);
    kyso_reason r = d->reason;
    dd->doc = d;
    if (pairs_with_file(msg, d)) {
        dd->counted = 0;            /* folded into the file it signs */
    } else {
        dd->counted = (policy_doc_type(d->kind) & c->doc_types) != 0;
        if (p7s && reason_verdict(r) != VERDICT_VALID &&
            (reason_verdict(p7s->reason) == VERDICT_VALID || r == REASON_UNSIGNED ||
             r == REASON_UNSUPPORTED_TYPE))
            r = p7s->reason;
        if (dd->counted && r == REASON_OK)
            r = require_reason(c, d, p7s);
    }
    dd->reason = r;
    dd->action = !dd->counted ? (int)ACTION_ACCEPT
        : r == REASON_REVOCATION_UNKNOWN ? (int)unknown_action(c, d, sc)
        : (int)policy_action_for(c, r);
}

/* message_failure - the reason of a failure of the message as a whole
 * (msg_verify sets a message-level detail only then), or REASON_OK. */
static kyso_reason message_failure(const kyso_doc_result *msg)
{
    if (msg->detail == NULL)
        return REASON_OK;
    switch (msg->reason) {
    case REASON_LIMIT_EXCEEDED:
    case REASON_MALFORMED:
    case REASON_INTERNAL_ERROR:
        return msg->reason;
    default:
        return REASON_OK;
    }
}

int policy_decide(const kyso_config *c, const kyso_doc_result *msg, kyso_policy_result *out)
{
    return policy_decide_seen(c, msg, NULL, time(NULL), out);
}

int policy_decide_seen(const kyso_config *c, const kyso_doc_result *msg, kyso_firstseen *fs,
                       time_t now, kyso_policy_result *out)
{
    seen_ctx sc = { fs, now };

    memset(out, 0, sizeof *out);
    out->culprit = (size_t)-1;
    out->reason = REASON_NO_DOCUMENTS;
    if (msg->natts > 0 && (out->docs = calloc(msg->natts, sizeof *out->docs)) == NULL) {
        out->reason = REASON_INTERNAL_ERROR;
        out->action = c->on_internal_error;
        return -1;
    }
    out->ndocs = msg->natts;
    int worst = -1;
    for (size_t i = 0; i < msg->natts; i++) {
        kyso_doc_decision *dd = &out->docs[i];
        decide_doc(c, msg, &msg->atts[i], dd, &sc);
        if (!dd->counted)
            continue;
        int sev = policy_action_severity((kyso_action)dd->action);
        int first_fault = out->culprit == (size_t)-1 && dd->reason != REASON_OK;
        if (sev > worst || (sev == worst && first_fault)) {
            worst = sev;
            out->action = (kyso_action)dd->action;
            out->reason = dd->reason;
            out->culprit = dd->reason == REASON_OK ? (size_t)-1 : i;
        }
    }
    kyso_reason mf = message_failure(msg);
    kyso_action a = mf == REASON_MALFORMED ? c->on_invalid : policy_action_for(c, mf);
    if (mf != REASON_OK && policy_action_severity(a) >= worst) {
        out->action = a;
        out->reason = mf;
        out->culprit = (size_t)-1;
    }
    return 0;
}

void policy_free(kyso_policy_result *out)
{
    free(out->docs);
    memset(out, 0, sizeof *out);
    out->culprit = (size_t)-1;
}
