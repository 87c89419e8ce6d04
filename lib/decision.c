/*
 * decision.c - the decision record: reference ids, the JSON line the store
 * keeps and the one-line syslog summary of what was decided about a message.
 *
 * Builds text only.  Must never print, store, or emit anything but ASCII
 * into a syslog line, and never a newline into either form.  The only
 * shared state is the reference clock, an atomic, and the node hash, set
 * once under pthread_once: every function here is thread-safe.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "decision.h"
#include "result.h"

/* ------------------------------------------------------------------ refs */

#define REF_EPOCH_MS   1704067200000ULL     /* 2024-01-01T00:00:00Z */
#define REF_TIME_BITS  40                   /* ms, wraps after 34.8 years */
#define REF_TAG_BITS   20                   /* node and process */
#define REF_CHARS      12                   /* 60 bits, 5 per character */

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static _Atomic uint64_t ref_clock;          /* last logical ms handed out */
static pthread_once_t ref_once = PTHREAD_ONCE_INIT;
static uint32_t ref_node_hash;              /* written once, under ref_once */

/* ref_init_node - hash the node name (FNV-1a); "" when it is unknown. */
static void ref_init_node(void)
{
    char host[256] = "";
    uint32_t h = 2166136261u;
    if (gethostname(host, sizeof host - 1) < 0)
        host[0] = '\0';
    for (const unsigned char *p = (const unsigned char *)host; *p; p++)
        h = (h ^ *p) * 16777619u;
    ref_node_hash = h;
}

/* ref_next_ms - a logical millisecond clock: the wall clock, or one more
 * than the last value handed out by this process, whichever is later.
 * Two calls in one process never get the same value. */
static uint64_t ref_next_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint64_t last = atomic_load(&ref_clock);
    uint64_t next;
    do {
        next = now > last ? now : last + 1;
    } while (!atomic_compare_exchange_weak(&ref_clock, &last, next));
    return next;
}

/* decision_make_ref - the value is 40 bits of the logical clock (unique
 * within a process, even in bursts: a burst borrows the next milliseconds)
 * followed by 20 bits of node hash plus pid times an odd constant
 * (distinct for two processes of one node unless their pids are 2^20
 * apart; two nodes collide only if these tags and the millisecond agree).
 * Writes "" when len is too small for the 16 bytes it needs. */
void decision_make_ref(char *buf, size_t len)
{
    if (len < 4 + REF_CHARS) {
        if (len > 0)
            buf[0] = '\0';
        return;
    }
    pthread_once(&ref_once, ref_init_node);
    uint64_t t = (ref_next_ms() - REF_EPOCH_MS) & ((1ULL << REF_TIME_BITS) - 1);
    uint64_t tag = (ref_node_hash + (uint64_t)getpid() * 0x9E3779B1u)
                   & ((1ULL << REF_TAG_BITS) - 1);
    uint64_t v = t << REF_TAG_BITS | tag;
    memcpy(buf, "KS-", 3);
    for (int i = REF_CHARS - 1; i >= 0; i--) {
        buf[3 + i] = crockford[v & 31];
        v >>= 5;
    }
    buf[3 + REF_CHARS] = '\0';
}

/* ------------------------------------------------------------------ JSON */

/* decision_action_name - the name of a kyso_action, "unknown" outside it. */
static const char *decision_action_name(int a)
{
    static const char *const names[] = {
        [ACTION_ACCEPT] = "accept", [ACTION_REJECT] = "reject",
        [ACTION_TEMPFAIL] = "tempfail", [ACTION_QUARANTINE] = "quarantine"
    };
    if (a < 0 || (size_t)a >= sizeof names / sizeof names[0] || names[a] == NULL)
        return "unknown";
    return names[a];
}

/* json_time - "2026-11-30T10:42:43.123+07:00" in local time. */
static void json_time(kyso_buf *b, const struct timeval *tv)
{
    struct tm tm;
    char s[64];
    time_t t = tv->tv_sec;
    if (localtime_r(&t, &tm) == NULL) {
        buf_append(b, "null", 4);
        return;
    }
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    long ms = (long)(tv->tv_usec / 1000);
    if (ms < 0 || ms > 999)
        ms = 0;
    buf_printf(b, "\"%s.%03ld%c%02ld:%02ld\"", s, ms, sign, off / 60, off % 60);
}

/* json_key_string - ,"KEY":"value" (or null), KEY trusted ASCII. */
static void json_key_string(kyso_buf *b, const char *key, const char *val)
{
    buf_printf(b, ",\"%s\":", key);
    buf_append_json_string(b, val);
}

/* json_string_array - ["a","b"]; NULL with n == 0 is []. */
static void json_string_array(kyso_buf *b, const char *const *v, size_t n)
{
    buf_append(b, "[", 1);
    for (size_t i = 0; v && i < n; i++) {
        if (i)
            buf_append(b, ",", 1);
        buf_append_json_string(b, v[i]);
    }
    buf_append(b, "]", 1);
}

/* json_doc_decision - the result_json_append_doc object of the document,
 * with the policy's verdict and reason in place of the engine's, and the
 * keys "counted", "engine_reason" (only when it differs) and "action". */
static void json_doc_decision(kyso_buf *b, const kyso_doc_decision *dd)
{
    static const kyso_doc_result none = {0};
    kyso_doc_result d = dd->doc ? *dd->doc : none;
    kyso_reason engine = d.reason;
    d.reason = dd->reason;
    if (result_json_append_doc(b, &d) < 0 || b->len == 0 || b->p[b->len - 1] != '}')
        return;
    b->len--;       /* reopen the object to add the policy keys */
    buf_printf(b, ",\"counted\":%s", dd->counted ? "true" : "false");
    if (engine != dd->reason)
        buf_printf(b, ",\"engine_reason\":\"%s\"", reason_name(engine));
    buf_printf(b, ",\"action\":\"%s\"}", decision_action_name(dd->action));
}

/* json_array_end - index of the ']' closing the array that opens at S[0],
 * skipping strings; 0 when there is none. */
static size_t json_array_end(const char *s, size_t n)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if ((c == ']' || c == '}') && --depth == 0) {
            return i;
        }
    }
    return 0;
}

/* json_smime - the "signatures" array of the S/MIME result, taken from its
 * result_json_append_doc form so that signatures are written in one place;
 * null when there is no S/MIME result. */
static void json_smime(kyso_buf *b, const kyso_doc_result *smime)
{
    static const char key[] = ",\"signatures\":[";
    if (smime == NULL) {
        buf_append(b, "null", 4);
        return;
    }
    kyso_doc_result d = *smime;
    d.atts = NULL;
    d.natts = 0;
    kyso_buf t = {0};
    result_json_append_doc(&t, &d);
    char *s = buf_steal(&t);
    char *k = s ? strstr(s, key) : NULL;    /* keys precede it: no string holds it */
    size_t end = k ? json_array_end(k + sizeof key - 2, strlen(k + sizeof key - 2)) : 0;
    if (end == 0)
        b->oom = 1;             /* only out of memory gets here */
    else
        buf_append(b, k + sizeof key - 2, end + 1);
    free(s);
}

/* json_head - time through smtp_reply, without the opening brace. */
static void json_head(kyso_buf *b, const kyso_decision_rec *r)
{
    buf_printf(b, "\"time\":");
    json_time(b, &r->time);
    json_key_string(b, "node", r->node);
    json_key_string(b, "queue_id", r->queue_id);
    json_key_string(b, "message_id", r->message_id);
    buf_printf(b, ",\"client\":{\"addr\":");
    buf_append_json_string(b, r->client_addr);
    buf_printf(b, ",\"name\":");
    buf_append_json_string(b, r->client_name);
    buf_append(b, "}", 1);
    json_key_string(b, "auth_user", r->auth_user);
    json_key_string(b, "env_from", r->env_from);
    json_key_string(b, "hdr_from", r->hdr_from);
    json_key_string(b, "subject", r->subject);
    buf_printf(b, ",\"rcpts\":");
    json_string_array(b, r->rcpts, r->nrcpts);
    json_key_string(b, "flow", r->flow);
    json_key_string(b, "mode", r->mode);
    json_key_string(b, "action", r->action);
    json_key_string(b, "would", r->would);
    json_key_string(b, "reason", r->reason);
    json_key_string(b, "detail", r->detail);
    json_key_string(b, "ref", r->ref);
    json_key_string(b, "smtp_reply", r->smtp_reply);
}

/* decision_to_json - see decision.h; NULL only when out of memory. */
char *decision_to_json(const kyso_decision_rec *r)
{
    kyso_buf b = {0};
    buf_append(&b, "{", 1);
    json_head(&b, r);
    buf_printf(&b, ",\"notice\":{\"sent\":%s,\"why\":",
               r->notice_sent == 1 ? "true" : "false");
    buf_append_json_string(&b, r->notice_why);
    buf_printf(&b, "},\"documents\":[");
    for (size_t i = 0; r->docs && i < r->ndocs; i++) {
        if (i)
            buf_append(&b, ",", 1);
        json_doc_decision(&b, &r->docs[i]);
    }
    buf_printf(&b, "],\"smime\":");
    json_smime(&b, r->smime);
    buf_printf(&b, ",\"applied\":");
    json_string_array(&b, r->applied, r->napplied);
    buf_printf(&b, ",\"elapsed_ms\":%ld}", r->elapsed_ms);
    return buf_steal(&b);
}

/* ---------------------------------------------------------------- syslog */

/* A bounded writer: every token goes in whole or not at all; once one does
 * not fit, nothing more is written except the quote closing an open value. */
typedef struct slog {
    char *p;
    size_t cap;         /* bytes usable for text (len - 1) */
    size_t pos;
    size_t reserve;     /* kept free for a closing quote */
    int full;
} slog;

/* slog_put - append N bytes as one token; 0, or -1 (and full) if no room. */
static int slog_put(slog *w, const char *s, size_t n)
{
    if (w->full || w->pos + n + w->reserve > w->cap) {
        w->full = 1;
        return -1;
    }
    memcpy(w->p + w->pos, s, n);
    w->pos += n;
    return 0;
}

/* slog_needs_quotes - does S contain what an unquoted value may not? */
static int slog_needs_quotes(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
            return 1;
    return 0;
}

/* slog_escaped - the bytes of S, each one token: itself, or \" \\ \xNN.
 * Returns how many bytes of S went in. */
static size_t slog_escaped(slog *w, const char *s)
{
    size_t done = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, done++) {
        char tok[5] = { (char)*p };
        size_t n = 1;
        if (*p == '"' || *p == '\\')
            tok[0] = '\\', tok[1] = (char)*p, n = 2;
        else if (*p < ' ' || *p >= 0x7f)
            n = (size_t)snprintf(tok, sizeof tok, "\\x%02X", *p);
        if (slog_put(w, tok, n) < 0)
            break;
    }
    return done;
}

/* slog_value - PRE S POST (PRE and POST plain ASCII, each kept whole or
 * left out), quoted when S needs it.  Returns 0, or -1 when not a byte of
 * it fit (nothing is then written). */
static int slog_value(slog *w, const char *pre, const char *s, const char *post)
{
    size_t start = w->pos;
    int quoted = slog_needs_quotes(s) || (*pre == '\0' && *s == '\0' && *post == '\0');
    w->reserve = (size_t)quoted;
    if (quoted && slog_put(w, "\"", 1) < 0) {
        w->reserve = 0;
        return -1;
    }
    size_t done = 0;
    if (slog_put(w, pre, strlen(pre)) == 0) {
        done = strlen(pre) + slog_escaped(w, s);
        if (slog_put(w, post, strlen(post)) == 0)
            done += strlen(post);
    }
    w->reserve = 0;
    if (done == 0 && strlen(pre) + strlen(s) + strlen(post) > 0) {
        w->pos = start;
        return -1;
    }
    if (quoted)
        w->p[w->pos++] = '"';       /* room was reserved */
    return 0;
}

/* slog_field - " KEY=PRE VALUE POST" (VALUE NULL is "-"); left out whole
 * when not a byte of the value fits (a cut value is kept, quote closed). */
static void slog_field(slog *w, const char *key, const char *pre, const char *val,
                       const char *post)
{
    size_t start = w->pos;
    char k[32];
    int n = snprintf(k, sizeof k, " %s=", key);
    if (slog_put(w, k, (size_t)n) < 0)
        return;
    if (slog_value(w, pre, val ? val : "-", post) < 0)
        w->pos = start;
}

/* slog_num - " KEY=N" followed by UNIT; whole or not at all. */
static void slog_num(slog *w, const char *key, long v, const char *unit)
{
    char s[64];
    int n = snprintf(s, sizeof s, " %s=%ld%s", key, v, unit);
    slog_put(w, s, (size_t)n);
}

/* slog_bad_doc - the name of the first document policy did not pass. */
static const char *slog_bad_doc(const kyso_decision_rec *r)
{
    for (size_t i = 0; r->docs && i < r->ndocs; i++) {
        const kyso_doc_decision *dd = &r->docs[i];
        if (dd->reason != REASON_OK || dd->action != ACTION_ACCEPT)
            return dd->doc && dd->doc->name ? dd->doc->name : "(unnamed)";
    }
    return NULL;
}

/* decision_to_syslog - see decision.h.  The queue id (or NOQUEUE) comes
 * first; "would" only in monitor mode, "bad" only when a document failed;
 * NULL values show as "-".  With len == 0 buf is returned untouched. */
char *decision_to_syslog(const kyso_decision_rec *r, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    slog w = { .p = buf, .cap = len - 1 };
    const char *qid = r->queue_id && *r->queue_id ? r->queue_id : "NOQUEUE";
    if (slog_value(&w, "", qid, "") == 0)
        slog_put(&w, ":", 1);
    slog_field(&w, "ref", "", r->ref, "");
    slog_field(&w, "action", "", r->action, "");
    if (r->would)
        slog_field(&w, "would", "", r->would, "");
    slog_field(&w, "reason", "", r->reason, "");
    slog_field(&w, "mode", "", r->mode, "");
    slog_field(&w, "from", "<", r->env_from ? r->env_from : "", ">");
    slog_num(&w, "rcpts", (long)r->nrcpts, "");
    slog_num(&w, "docs", (long)r->ndocs, "");
    const char *bad = slog_bad_doc(r);
    if (bad)
        slog_field(&w, "bad", "", bad, "");
    slog_num(&w, "elapsed", r->elapsed_ms, "ms");
    buf[w.pos] = '\0';
    return buf;
}
