/*
 * eom.c - what happens at the end of a message (see eom.h).  Order:
 * the organisation signature (sign.c) for an authorised văn thư, flow
 * and mode, verification (of the signed message when it was signed),
 * policy, the action (with monitor mode turning refusals into tags), the
 * signed body, headers, notice, record.  A failure of any
 * step before the action is an internal error, which asks
 * On-InternalError (tempfail by default): never an unchecked accept.
 */
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "decision.h"
#include "firstseen.h"
#include "logmsg.h"
#include "mime-walk.h"
#include "eom.h"
#include "policy.h"
#include "reply.h"
#include "report.h"
#include "sign.h"
#include "vcache.h"
#include "verify.h"

static kyso_ratelimit *eom_rl;

void eom_set_ratelimit(kyso_ratelimit *rl)
{
    eom_rl = rl;
}

static kyso_firstseen *eom_fs;

void eom_set_firstseen(kyso_firstseen *fs)
{
    eom_fs = fs;
}

typedef struct eom_state {
    SMFICTX *ctx;
    kyso_conn *c;
    kyso_msg *m;
    const kyso_config *cfg;
    struct timeval t0;
    kyso_flow flow;
    int checked;                    /* documents were looked at */
    kyso_doc_result res;            /* message result (msg_verify) */
    kyso_policy_result pol;
    kyso_action action;             /* applied */
    kyso_action would;              /* what enforce asks */
    char ref[24];
    char *subject;                  /* decoded Subject, UTF-8 */
    char *from;                     /* header From address */
    kyso_reply reply;
    int replied;
    char detail[200];               /* message-level failure, or "" */
    int notice;                     /* 1 sent, 0 not due, -1 failed */
    const char *notice_why;
    char notice_err[200];
    msign sg;                       /* the organisation signature */
    int sent_signed;                /* the MTA took the signed body */
    kyso_doc_result sg_doc;         /* the document signing refused, for the notice */
    kyso_doc_decision sg_dec;
    vcache_tally tally;             /* where the verification results came from */
} eom_state;

/* msg_flow - the flow and mode of M's envelope, into F. */
static void msg_flow(const kyso_msg *m, kyso_flow *f)
{
    kyso_envelope e = {.sender = m->sender ? m->sender : "",
                       .rcpts = (const char *const *)m->rcpts, .nrcpts = m->nrcpts};
    policy_flow(m->gen->cfg, &e, f);
}

/* eom_headers_text - decoded Subject and From address for records. */
static void eom_headers_text(eom_state *s)
{
    mime_init_once();
    if (s->m->subject)
        s->subject = g_mime_utils_header_decode_text(NULL, s->m->subject);
    if (s->m->hdr_from) {
        InternetAddressList *l = internet_address_list_parse(NULL, s->m->hdr_from);
        InternetAddress *a = l && internet_address_list_length(l) > 0
                                 ? internet_address_list_get_address(l, 0) : NULL;
        if (a && INTERNET_ADDRESS_IS_MAILBOX(a))
            s->from = g_strdup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
        if (l)
            g_object_unref(l);
    }
}

/* eom_internal - the message could not be checked: On-InternalError. */
static void eom_internal(eom_state *s, const char *why)
{
    log_msg(LOG_ERR, "%s: cannot check the message: %s",
            s->m->queue_id ? s->m->queue_id : "NOQUEUE", why);
    s->pol.reason = REASON_INTERNAL_ERROR;
    s->pol.action = s->cfg->on_internal_error;
    s->pol.culprit = (size_t)-1;
    snprintf(s->detail, sizeof s->detail, "%s", why);
}

/* eom_check - verify the documents and run the policy. */
static void eom_check(eom_state *s)
{
    const unsigned char *buf;
    size_t len;
    char err[200];
    s->checked = 1;
    s->pol.culprit = (size_t)-1;
    if (s->m->spool_failed) {
        eom_internal(s, s->m->spool_err);
    } else if (spool_over(&s->m->spool)) {
        s->pol.reason = REASON_LIMIT_EXCEEDED;
        s->pol.action = s->cfg->on_limit;
        snprintf(s->detail, sizeof s->detail, "message of %zu bytes is over MaxMessageSize %zu",
                 s->m->spool.seen, s->cfg->lim.max_message_size);
    } else if (s->sg.state != MSIGN_SIGNED &&
               spool_map(&s->m->spool, &buf, &len, err, sizeof err) < 0) {
        eom_internal(s, err);
    } else {
        if (s->sg.state == MSIGN_SIGNED) {
            buf = s->sg.msg;
            len = s->sg.len;
        }
        vcache_tally_reset();
        msg_verify(&s->m->gen->v, buf, len, &s->res);
        vcache_tally_get(&s->tally);
        if (policy_decide_seen(s->cfg, &s->res, eom_fs, time(NULL), &s->pol) < 0)
            eom_internal(s, "out of memory");
        else if (s->pol.culprit == (size_t)-1 && s->res.detail)
            snprintf(s->detail, sizeof s->detail, "%s", s->res.detail);
    }
    s->would = s->pol.action;
    s->action = s->flow.mode == MODE_ENFORCE ? s->pol.action : ACTION_ACCEPT;
}

/* culprit_name - the name of the deciding document, or NULL. */
static const char *culprit_name(const eom_state *s)
{
    if ((s->sg.state == MSIGN_REJECT || s->sg.state == MSIGN_TEMPFAIL) && s->sg.doc[0])
        return s->sg.doc;
    if (s->pol.culprit == (size_t)-1 || s->pol.culprit >= s->pol.ndocs)
        return NULL;
    const char *n = s->pol.docs[s->pol.culprit].doc->name;
    return n ? n : "(no name)";
}

/* eom_remove_forged - delete copies of our headers that came from outside,
 * last first so that the earlier indexes stay right. */
static void eom_remove_forged(eom_state *s)
{
    for (size_t i = s->m->nforged_doc; i-- > 0;)
        smfi_chgheader(s->ctx, "X-Kyso-Document", s->m->forged_doc[i], NULL);
    for (size_t i = s->m->nforged_mon; i-- > 0;)
        smfi_chgheader(s->ctx, "X-Kyso-Monitor", s->m->forged_mon[i], NULL);
    for (size_t i = s->m->nforged_ar; i-- > 0;)
        smfi_chgheader(s->ctx, "Authentication-Results", s->m->forged_ar[i], NULL);
}

/* eom_header - add header NAME: VALUE (taking VALUE, which may be NULL),
 * first when FIRST; with a leading space when the MTA asked for header
 * values as they are on the wire (SMFIP_HDR_LEADSPC). */
static void eom_header(eom_state *s, const char *name, char *value, int first)
{
    if (value == NULL)
        return;
    char *v = value;
    if (s->c->leadspc && asprintf(&v, " %s", value) < 0)
        v = NULL;
    if (v && first)
        smfi_insheader(s->ctx, 0, (char *)name, v);
    else if (v)
        smfi_addheader(s->ctx, (char *)name, v);
    if (v != value)
        free(v);
    free(value);
}

/* eom_add_headers - our result headers on a message that goes on. */
static void eom_add_headers(eom_state *s)
{
    for (size_t i = 0; i < s->pol.ndocs; i++)
        eom_header(s, "X-Kyso-Document", reply_doc_header(&s->pol.docs[i], s->ref), 0);
    eom_header(s, "Authentication-Results",
               reply_ar_header(s->cfg->authserv_id, &s->res, s->pol.docs, s->pol.ndocs), 1);
    if (s->flow.mode == MODE_MONITOR && s->would != ACTION_ACCEPT) {
        char name[100], *line = NULL;
        if (asprintf(&line, "would=%s; reason=%s; name=\"%s\"; ref=%s",
                     action_name(s->would), reason_name(s->pol.reason),
                     reply_ascii(culprit_name(s) ? culprit_name(s) : "", name, sizeof name),
                     s->ref) < 0)
            line = NULL;
        eom_header(s, "X-Kyso-Monitor", line, 0);
    }
}

/* eom_act - carry out s->action; returns the milter status. */
static sfsistat eom_act(eom_state *s)
{
    eom_remove_forged(s);
    switch (s->action) {
    case ACTION_REJECT:
    case ACTION_TEMPFAIL:
        reply_build(&s->reply, s->action, s->pol.reason, culprit_name(s), s->ref);
        s->replied = 1;
        if (smfi_setmlreply(s->ctx, s->reply.code, s->reply.xcode, s->reply.vi, s->reply.en,
                            NULL) != MI_SUCCESS)
            smfi_setreply(s->ctx, (char *)s->reply.code, (char *)s->reply.xcode, s->reply.en);
        return s->action == ACTION_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    case ACTION_QUARANTINE: {
        char why[200], name[100];
        snprintf(why, sizeof why, "kyso %s %s \"%s\"", s->ref, reason_name(s->pol.reason),
                 reply_ascii(culprit_name(s) ? culprit_name(s) : "", name, sizeof name));
        if (smfi_quarantine(s->ctx, why) != MI_SUCCESS) {
            log_msg(LOG_ERR, "%s: quarantine refused by the MTA; tempfail instead",
                    s->m->queue_id ? s->m->queue_id : "NOQUEUE");
            s->action = ACTION_TEMPFAIL;
            return eom_act(s);
        }
        eom_add_headers(s);
        return SMFIS_CONTINUE;
    }
    default:
        if (s->checked)
            eom_add_headers(s);
        return SMFIS_CONTINUE;
    }
}

/* notice_due - NULL when a notice should go to the sender, else why not. */
static const char *notice_due(const eom_state *s)
{
    const kyso_msg *m = s->m;
    if (s->action != ACTION_REJECT && s->action != ACTION_QUARANTINE)
        return "no refusal";
    if (!s->cfg->notify)
        return "Notify no";
    if (m->sender == NULL || m->sender[0] == '\0')
        return "null sender";
    if (m->auto_submitted)
        return "auto-submitted message";
    const char *at = strrchr(m->sender, '@');
    int local = at != NULL && config_match_domain(&s->cfg->local_domains, at + 1);
    if (m->auth_user == NULL && !local)
        return "sender outside LocalDomains and not authenticated (no backscatter)";
    return NULL;
}

/* eom_notice - tell the sender, when due. */
static void eom_notice(eom_state *s)
{
    if ((s->notice_why = notice_due(s)) != NULL)
        return;
    int allowed = store_rate_allow(s->m->gen->store, s->m->sender, s->cfg->notice_rate_max,
                                   s->cfg->notice_rate_window, time(NULL));
    if (allowed < 0)            /* no shared limit (file store, Redis down): this gateway's */
        allowed = eom_rl == NULL || ratelimit_allow(eom_rl, s->m->sender, time(NULL));
    if (!allowed) {
        s->notice_why = "NoticeRateLimit reached for this sender";
        return;
    }
    kyso_notice n = {.to = s->m->sender, .from = s->cfg->notice_from,
                     .contact = s->cfg->notice_contact, .node = s->cfg->node, .ref = s->ref,
                     .action = action_name(s->action), .subject = s->subject,
                     .date = s->m->date, .message_id = s->m->message_id,
                     .rcpts = (const char *const *)s->m->rcpts, .nrcpts = s->m->nrcpts,
                     .docs = s->pol.docs, .ndocs = s->pol.ndocs, .now = time(NULL)};
    if (s->sg.state == MSIGN_REJECT) {
        n.docs = &s->sg_dec;
        n.ndocs = 1;
    }
    size_t len;
    char *text = notice_compose(&n, &len);
    if (text == NULL) {
        s->notice = -1;
        s->notice_why = "out of memory";
        return;
    }
    if (notice_send(s->cfg->mta_command, s->m->sender, text, len, 30, s->notice_err,
                    sizeof s->notice_err) == 0) {
        s->notice = 1;
    } else {
        s->notice = -1;
        s->notice_why = s->notice_err;
        log_msg(LOG_WARNING, "%s: notice to <%s> not sent: %s",
                s->m->queue_id ? s->m->queue_id : "NOQUEUE", s->m->sender, s->notice_err);
    }
    free(text);
}

/* eom_cache_mark - results from the verification cache, in the log and as
 * "cache":{"local":N,"shared":N,"by":NODE} at the end of the record JSON
 * (replaced by a longer copy; left as it is when out of memory). */
static void eom_cache_mark(eom_state *s, char **json)
{
    const vcache_tally *t = &s->tally;
    char *marked = NULL;
    size_t n = *json ? strlen(*json) : 0;
    if (t->local == 0 && t->shared == 0)
        return;
    if (t->shared)
        log_msg(LOG_INFO, "%s: %u document(s) from the shared verification cache (verified "
                "by %s)", s->m->queue_id ? s->m->queue_id : "NOQUEUE", t->shared, t->by);
    if (n < 2 || (*json)[n - 1] != '}' ||
        asprintf(&marked, "%.*s,\"cache\":{\"local\":%u,\"shared\":%u,\"by\":\"%s\"}}",
                 (int)(n - 1), *json, t->local, t->shared,
                 strspn(t->by, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789.-_") == strlen(t->by) ? t->by : "?") < 0)
        return;
    free(*json);
    *json = marked;
}

/* eom_count_incr / eom_count_member - report_counters' sink on the store. */
static void eom_count_incr(void *arg, const char *day, const char *org, const char *field,
                           long long n)
{
    store_counter_incr(arg, day, org, field, n);
}

static void eom_count_member(void *arg, const char *day, const char *org, const char *member)
{
    store_counter_member(arg, day, org, member);
}

/* eom_count - the per-organisation, per-day counters of kyso report, on a
 * store that keeps them (Redis). */
static void eom_count(eom_state *s, const char *json)
{
    kyso_store *st = s->m->gen->store;
    report_counter_sink k = { eom_count_incr, eom_count_member, st };
    char err[200];
    if (json == NULL || !store_has_shared(st))
        return;
    if (report_counters(json, strlen(json), &k, err, sizeof err) < 0)
        log_msg(LOG_WARNING, "%s: counters not kept: %s",
                s->m->queue_id ? s->m->queue_id : "NOQUEUE", err);
}

/* eom_record - the syslog line and the decision record. */
static void eom_record(eom_state *s)
{
    struct timeval t1;
    gettimeofday(&t1, NULL);
    char reply[2 * REPLY_LINE + 16];
    if (s->replied)
        snprintf(reply, sizeof reply, "%s %s %s | %s", s->reply.code, s->reply.xcode,
                 s->reply.vi, s->reply.en);
    kyso_decision_rec r = {
        .time = t1, .node = s->cfg->node, .queue_id = s->m->queue_id,
        .message_id = s->m->message_id, .client_addr = s->c->client_addr,
        .client_name = s->c->client_name, .auth_user = s->m->auth_user,
        .env_from = s->m->sender ? s->m->sender : "", .hdr_from = s->from,
        .subject = s->subject, .rcpts = (const char *const *)s->m->rcpts,
        .nrcpts = s->m->nrcpts, .flow = s->flow.why,
        .mode = mode_name(s->checked || s->sg.state >= MSIGN_REJECT ? s->flow.mode : MODE_OFF),
        .action = action_name(s->action),
        .would = s->checked && s->flow.mode == MODE_MONITOR ? action_name(s->would) : NULL,
        .reason = s->checked || s->sg.state >= MSIGN_REJECT ? reason_name(s->pol.reason) : NULL,
        .ref = s->ref,
        .detail = s->detail[0] ? s->detail : NULL,
        .smtp_reply = s->replied ? reply : NULL, .notice_sent = s->notice,
        .notice_why = s->notice_why, .smime = s->checked ? &s->res : NULL,
        .docs = s->pol.docs, .ndocs = s->pol.ndocs,
        .applied = s->sent_signed ? (const char *const *)s->sg.applied : NULL,
        .napplied = s->sent_signed ? s->sg.napplied : 0,
        .elapsed_ms = (t1.tv_sec - s->t0.tv_sec) * 1000L + (t1.tv_usec - s->t0.tv_usec) / 1000,
    };
    char line[1024];
    log_msg(LOG_INFO, "%s", decision_to_syslog(&r, line, sizeof line));
    char *json = decision_to_json(&r), err[256];
    eom_cache_mark(s, &json);
    eom_count(s, json);
    if (json == NULL || s->m->gen->store == NULL ||
        store_append(s->m->gen->store, STREAM_DECISIONS, json, err, sizeof err) < 0)
        log_msg(LOG_ERR, "%s: decision record not stored (%s): %s",
                s->m->queue_id ? s->m->queue_id : "NOQUEUE",
                json == NULL ? "out of memory" : s->m->gen->store ? err : "no store",
                json ? json : "");
    free(json);
}

/* eom_sign - the organisation signature, when the sender may have it. */
static void eom_sign(eom_state *s)
{
    const unsigned char *buf;
    size_t len;
    char err[200];
    if (s->cfg->signer_table == NULL)
        return;
    int over = !s->m->spool_failed && spool_over(&s->m->spool);
    if (!s->m->spool_failed && !over && spool_map(&s->m->spool, &buf, &len, err, sizeof err) == 0) {
        msign_run(s->ctx, s->m, buf, len, s->from, s->ref, &s->sg);
    } else if (msign_due(s->m, s->from)) {
        /* a signature is due but the message cannot be read: never unsigned */
        s->sg.state = over ? MSIGN_REJECT : MSIGN_TEMPFAIL;
        s->sg.reason = over ? REASON_LIMIT_EXCEEDED : REASON_INTERNAL_ERROR;
        if (over)
            snprintf(s->sg.why, sizeof s->sg.why, "the message is over MaxMessageSize (%zu "
                     "bytes) and cannot be signed: send the documents in smaller messages",
                     s->cfg->lim.max_message_size);
        else
            snprintf(s->sg.why, sizeof s->sg.why, "the message cannot be read for signing "
                     "(%s): deferred, never sent unsigned",
                     s->m->spool_failed ? s->m->spool_err : err);
    }                           /* else not ours to sign: eom_check decides */
    if (s->sg.state == MSIGN_SIGNED && !s->c->chgbody) {
        s->sg.state = MSIGN_TEMPFAIL;
        snprintf(s->sg.why, sizeof s->sg.why, "the MTA does not allow body changes "
                 "(milter protocol without SMFIF_CHGBODY): nothing is sent unsigned");
    }
    const char *q = s->m->queue_id ? s->m->queue_id : "NOQUEUE";
    if (s->sg.state == MSIGN_SIGNED)
        log_msg(LOG_INFO, "%s: organisation signature applied to %zu PDF(s) for %s", q,
                s->sg.nsigned, s->m->auth_user);
    else if (s->sg.state != MSIGN_NONE)
        log_msg(s->sg.state == MSIGN_TEMPFAIL ? LOG_ERR : LOG_NOTICE,
                "%s: sign_refused for %s <%s>%s%s: %s", q,
                s->m->auth_user ? s->m->auth_user : "(not authenticated)",
                s->from ? s->from : "", s->sg.doc[0] ? " document " : "", s->sg.doc, s->sg.why);
}

/* eom_sign_refused - the message cannot leave signed: reject (the văn thư
 * is told which document and why) or tempfail (the token). */
static void eom_sign_refused(eom_state *s)
{
    int reject = s->sg.state == MSIGN_REJECT;
    s->action = s->would = reject ? ACTION_REJECT : ACTION_TEMPFAIL;
    s->pol.reason = reject ? s->sg.reason : REASON_INTERNAL_ERROR;
    s->pol.culprit = (size_t)-1;
    snprintf(s->detail, sizeof s->detail, "organisation signature not applied: %.60s%s%.100s",
             s->sg.doc, s->sg.doc[0] ? ": " : "", s->sg.why);
    s->sg_doc.name = strdup(s->sg.doc);
    s->sg_doc.kind = KIND_PDF;
    s->sg_doc.reason = s->sg.reason;
    s->sg_doc.detail = strdup(s->sg.why);
    s->sg_dec = (kyso_doc_decision){ &s->sg_doc, 1, s->sg.reason, ACTION_REJECT };
    s->notice_why = reject ? NULL : "deferred, not refused";
}

/* eom_smime_headers - the header edits of the S/MIME wrapping.  0 or -1. */
static int eom_smime_headers(eom_state *s)
{
    const smime_output *o = &s->sg.sm;
    for (size_t i = 0; i < o->nedits; i++) {
        const smime_hdr_edit *e = &o->edits[i];
        char *v = NULL;
        if (e->value && asprintf(&v, "%s%s", s->c->leadspc ? " " : "", e->value) < 0)
            return -1;
        int rc = e->index == 0 ? smfi_addheader(s->ctx, e->name, v)
                               : smfi_chgheader(s->ctx, e->name, e->index, v);
        free(v);
        if (rc != MI_SUCCESS)
            return -1;
    }
    return 0;
}

/* eom_replace_body - send the signed message's body (and its changed
 * Content-Transfer-Encoding, or the S/MIME header edits) to the MTA.  0,
 * or -1: then the message is tempfailed, never sent unsigned. */
static int eom_replace_body(eom_state *s)
{
    msign *g = &s->sg;
    int hdr_ok = g->smime ? eom_smime_headers(s) == 0
                 : !g->top_cte || smfi_chgheader(s->ctx, "Content-Transfer-Encoding", 1,
                                                 " base64") == MI_SUCCESS;
    if (smfi_replacebody(s->ctx, g->msg + g->body_off, (int)(g->len - g->body_off)) != MI_SUCCESS ||
        !hdr_ok) {
        log_msg(LOG_ERR, "%s: the MTA refused the signed body; deferred",
                s->m->queue_id ? s->m->queue_id : "NOQUEUE");
        s->action = ACTION_TEMPFAIL;
        snprintf(s->detail, sizeof s->detail, "the MTA refused the signed body");
        return -1;
    }
    if (!s->detail[0])
        snprintf(s->detail, sizeof s->detail, "organisation signature applied to %zu "
                 "document(s)", g->nsigned);
    s->sent_signed = 1;
    return 0;
}

/* eom_state_init - common start of eom_run and eom_skip_at_eoh. */
static void eom_state_init(eom_state *s, SMFICTX *ctx, kyso_conn *c, kyso_msg *m)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->c = c;
    s->m = m;
    s->cfg = m->gen->cfg;
    gettimeofday(&s->t0, NULL);
    decision_make_ref(s->ref, sizeof s->ref);
    s->pol.culprit = (size_t)-1;
    const char *qid = smfi_getsymval(ctx, "i");
    if (qid && (m->queue_id == NULL || strcmp(m->queue_id, qid) != 0)) {
        free(m->queue_id);
        m->queue_id = strdup(qid);
    }
    msg_flow(s->m, &s->flow);
    eom_headers_text(s);
}

/* eom_state_free - release what eom_state owns. */
static void eom_state_free(eom_state *s)
{
    policy_free(&s->pol);
    result_free_doc(&s->res);
    msign_free(&s->sg);
    free(s->sg_doc.name);
    free(s->sg_doc.detail);
    g_free(s->subject);
    g_free(s->from);
}

int eom_skip_at_eoh(SMFICTX *ctx, kyso_conn *c, kyso_msg *m)
{
    eom_state s;
    kyso_flow f;
    msg_flow(m, &f);
    if ((f.watched && f.mode != MODE_OFF) || m->nforged_ar || m->nforged_doc || m->nforged_mon ||
        msign_concerns(m))
        return 0;
    eom_state_init(&s, ctx, c, m);
    s.action = ACTION_ACCEPT;
    s.notice_why = "not checked";
    eom_record(&s);
    eom_state_free(&s);
    return 1;
}

sfsistat eom_run(SMFICTX *ctx, kyso_conn *c, kyso_msg *m)
{
    eom_state s;
    eom_state_init(&s, ctx, c, m);
    eom_sign(&s);
    if (s.sg.state == MSIGN_REJECT || s.sg.state == MSIGN_TEMPFAIL) {
        eom_sign_refused(&s);
    } else if (s.flow.watched && s.flow.mode != MODE_OFF) {
        eom_check(&s);
    } else {
        s.action = ACTION_ACCEPT;
        s.notice_why = "not checked";
    }
    sfsistat rc = eom_act(&s);
    if (rc == SMFIS_CONTINUE && s.sg.state == MSIGN_SIGNED && eom_replace_body(&s) != 0)
        rc = SMFIS_TEMPFAIL;
    if ((s.checked && s.flow.mode == MODE_ENFORCE) || s.sg.state == MSIGN_REJECT)
        eom_notice(&s);
    else if (s.checked)
        s.notice_why = "monitor mode";
    eom_record(&s);
    eom_state_free(&s);
    return rc;
}
