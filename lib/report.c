/*
 * report.c - the counting behind "kyso report" (REGULATIONS.md R15): each
 * decision record is parsed (lib/json.h), placed in or out of the period
 * and the organisation, and its documents, signatures, certificates and
 * actions added to the counts of report.h, which also says what each
 * count means.
 *
 * Records come from disk and may be damaged, hand-edited or written by a
 * newer version: a record that cannot be read is counted as damaged and
 * said in err, unknown keys are ignored, unknown reason codes and actions
 * get their own line, and nothing here ever crashes on a wrong type.  The
 * tables grow within fixed bounds (reasons, nodes; certificates one entry
 * each).  Must never print, never read a file, never keep a pointer into a
 * record after report_add_json returns.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"
#include "reasons.h"
#include "report.h"

typedef struct cert_slot {
    char *key;                  /* upper-case serial, '\x1f', issuer; NULL: free */
    uint32_t hash;
    unsigned char valid;        /* seen in a valid signature */
} cert_slot;

struct kyso_report {
    char org[256];              /* lower case, "" for all */
    long long since_ms, until_ms;
    report_counts c;
    size_t cap_reasons, cap_months, cap_nodes;
    size_t last_node;           /* index found last: records come in runs */
    cert_slot *certs;
    size_t ncerts, cap_certs;   /* cap: a power of two, or 0 */
    int oom;
};

/* What one record contributes to its documents' counts. */
typedef struct rec_ctx {
    int sent, received;         /* the organisation's side(s) */
    int accepted;               /* the message went out */
    int monitor;                /* mode monitor: nothing was refused */
    report_month *month;        /* its month, NULL when out of memory */
} rec_ctx;

static const char *const action_names[REPORT_NACT] = {
    "accept", "reject", "tempfail", "quarantine", "other"
};
static const char *const class_names[REPORT_NCLASS] = {
    "organisation", "personal", "unknown"
};

const char *report_action_name(int i)
{
    return i >= 0 && i < REPORT_NACT ? action_names[i] : "other";
}

const char *report_class_name(int i)
{
    return i >= 0 && i < REPORT_NCLASS ? class_names[i] : "unknown";
}

/* ============================================================== scope */

/* org_normalise - IN as a domain into OUT (lower case, no leading '@' or
 * '.', no trailing '.').  Returns 0, or -1 when it is not a domain name. */
static int org_normalise(const char *in, char *out, size_t len)
{
    in += in[0] == '@' || in[0] == '.';
    size_t n = strlen(in);
    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n == 0 || n > 253 || n >= len || in[0] == '.' || in[0] == '-')
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        int okc = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'
                  || (ch == '.' && i > 0 && out[i - 1] != '.');
        if (!okc)
            return -1;
        out[i] = ch;
    }
    out[n] = '\0';
    return out[n - 1] == '.' ? -1 : 0;
}

/* addr_in_org - is the domain of address A (maybe NULL) ORG or one of its
 * subdomains, letters in any case? */
static int addr_in_org(const char *a, const char *org)
{
    const char *at = a ? strrchr(a, '@') : NULL;
    if (at == NULL)
        return 0;
    const char *d = at + 1;
    size_t dl = strlen(d), ol = strlen(org);
    if (dl > 0 && d[dl - 1] == '.')
        dl--;                   /* "x@khanhhoa.gov.vn." is the same domain */
    if (dl == ol)
        return strncasecmp(d, org, ol) == 0;
    return dl > ol && d[dl - ol - 1] == '.' && strncasecmp(d + dl - ol, org, ol) == 0;
}

/* rec_sides - which sides of record V are the organisation's, into X.
 * Without an organisation both are. */
static void rec_sides(const kyso_report *r, const json_value *v, rec_ctx *x)
{
    if (r->org[0] == '\0') {
        x->sent = x->received = 1;
        return;
    }
    x->sent = addr_in_org(json_get_string(v, "env_from"), r->org);
    const json_value *rc = json_get(v, "rcpts");
    for (size_t i = 0; rc && rc->type == JSON_ARRAY && i < rc->n && !x->received; i++)
        if (rc->items[i].type == JSON_STRING)
            x->received = addr_in_org(rc->items[i].s, r->org);
}

/* ============================================================= tables */

/* grow - make room for one more element in *P (N used, *CAP allocated, each
 * SIZE bytes).  Returns 0, or -1 when out of memory (*P untouched). */
static int grow(void **p, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, nc * size);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* month_key - the local calendar month of T_MS as year * 12 + month - 1. */
static long month_key(long long t_ms)
{
    time_t t = (time_t)(t_ms / 1000 - (t_ms % 1000 < 0));
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL)
        return 0;
    return (long)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* month_get - the month entry of T_MS, added in order when new; NULL when
 * out of memory (r->oom set). */
static report_month *month_get(kyso_report *r, long long t_ms)
{
    long key = month_key(t_ms);
    size_t lo = 0, hi = r->c.nmonths;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        long k = (long)r->c.months[mid].year * 12 + r->c.months[mid].month - 1;
        if (k == key)
            return &r->c.months[mid];
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (grow((void **)&r->c.months, r->c.nmonths, &r->cap_months, sizeof *r->c.months) < 0) {
        r->oom = 1;
        return NULL;
    }
    report_month *m = &r->c.months[lo];
    memmove(m + 1, m, (r->c.nmonths - lo) * sizeof *m);
    r->c.nmonths++;
    memset(m, 0, sizeof *m);
    m->year = (int)(key / 12);
    m->month = (int)(key % 12) + 1;
    return m;
}

/* node_count - N more records from node NAME (NULL: "(unknown)"). */
static void node_count(kyso_report *r, const char *name, report_n n)
{
    if (name == NULL)
        name = "(unknown)";
    if (r->last_node < r->c.nnodes && strcmp(r->c.nodes[r->last_node].name, name) == 0) {
        r->c.nodes[r->last_node].records += n;
        return;
    }
    for (size_t i = 0; i < r->c.nnodes; i++)
        if (strcmp(r->c.nodes[i].name, name) == 0) {
            r->c.nodes[r->last_node = i].records += n;
            return;
        }
    if (r->c.nnodes >= REPORT_MAX_NODES - 1 && strcmp(name, "(other)") != 0) {
        node_count(r, "(other)", n);    /* the last slot is kept for it */
        return;
    }
    char *copy = strndup(name, 255);
    if (copy == NULL || grow((void **)&r->c.nodes, r->c.nnodes, &r->cap_nodes,
                             sizeof *r->c.nodes) < 0) {
        free(copy);
        r->oom = 1;
        return;
    }
    r->c.nodes[r->c.nnodes] = (report_node){ .name = copy, .records = n };
    r->last_node = r->c.nnodes++;
}

/* reason_cmp - the sort order of reasons: known codes by their enum value, the
 * unknown ones after them by name, "other" last. */
static int reason_cmp(const report_reason *a, const report_reason *b)
{
    int oa = strcmp(a->name, "other") == 0, ob = strcmp(b->name, "other") == 0;
    if (oa != ob)
        return oa - ob;
    long ka = a->code < 0 ? REASON__COUNT : a->code, kb = b->code < 0 ? REASON__COUNT : b->code;
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* reason_plain - is NAME a plausible reason code: [a-z0-9_], 1..47 bytes? */
static int reason_plain(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof ((report_reason *)0)->name)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* reason_get - the entry of reason code NAME (NULL, odd text or past
 * REPORT_MAX_REASONS: "other"), added in order when new; NULL when out of
 * memory (r->oom set). */
static report_reason *reason_get(kyso_report *r, const char *name)
{
    if (name == NULL || !reason_plain(name))
        name = "other";
    for (size_t i = 0; i < r->c.nreasons; i++)
        if (strcmp(r->c.reasons[i].name, name) == 0)
            return &r->c.reasons[i];
    if (r->c.nreasons >= REPORT_MAX_REASONS - 1 && strcmp(name, "other") != 0)
        return reason_get(r, "other");
    if (grow((void **)&r->c.reasons, r->c.nreasons, &r->cap_reasons,
             sizeof *r->c.reasons) < 0) {
        r->oom = 1;
        return NULL;
    }
    report_reason n = { .code = reason_from_name(name) };
    snprintf(n.name, sizeof n.name, "%s", name);
    size_t at = 0;
    while (at < r->c.nreasons && reason_cmp(&r->c.reasons[at], &n) < 0)
        at++;
    memmove(&r->c.reasons[at + 1], &r->c.reasons[at],
            (r->c.nreasons - at) * sizeof n);
    r->c.reasons[at] = n;
    r->c.nreasons++;
    return &r->c.reasons[at];
}

/* ======================================================= certificates */

/* cert_hash - FNV-1a of the upper-case SERIAL, 0x1f and ISSUER. */
static uint32_t cert_hash(const char *serial, const char *issuer)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)serial; *p; p++)
        h = (h ^ (unsigned char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p)) * 16777619u;
    h = (h ^ 0x1fu) * 16777619u;
    for (const unsigned char *p = (const unsigned char *)issuer; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* cert_same - does slot key K name SERIAL (any case) and ISSUER? */
static int cert_same(const char *k, const char *serial, const char *issuer)
{
    size_t sl = strlen(serial);
    return strncasecmp(k, serial, sl) == 0 && k[sl] == '\x1f' && strcmp(k + sl + 1, issuer) == 0;
}

/* cert_slot_for - the slot holding SERIAL/ISSUER (hash H), or the free
 * slot where it goes; the table is never full. */
static cert_slot *cert_slot_for(kyso_report *r, uint32_t h, const char *serial,
                                const char *issuer)
{
    size_t mask = r->cap_certs - 1, i = h & mask;
    while (r->certs[i].key && !(r->certs[i].hash == h && cert_same(r->certs[i].key, serial,
                                                                   issuer)))
        i = (i + 1) & mask;
    return &r->certs[i];
}

/* cert_grow - double the table when it is half full.  0, or -1 when out
 * of memory (the table is then as it was). */
static int cert_grow(kyso_report *r)
{
    if (r->cap_certs && r->ncerts + 1 <= r->cap_certs / 2)
        return 0;
    size_t nc = r->cap_certs ? r->cap_certs * 2 : 256;
    cert_slot *n = calloc(nc, sizeof *n);
    if (n == NULL)
        return -1;
    for (size_t i = 0; i < r->cap_certs; i++) {
        if (r->certs[i].key == NULL)
            continue;
        size_t j = r->certs[i].hash & (nc - 1);
        while (n[j].key)
            j = (j + 1) & (nc - 1);
        n[j] = r->certs[i];
    }
    free(r->certs);
    r->certs = n;
    r->cap_certs = nc;
    return 0;
}

/* cert_seen - count the signer certificate SERIAL/ISSUER of class CLS once,
 * and once more in certs_valid the first time it signed validly. */
static void cert_seen(kyso_report *r, const char *serial, const char *issuer, int cls,
                      int valid)
{
    if (cert_grow(r) < 0) {
        r->oom = 1;
        return;
    }
    uint32_t h = cert_hash(serial, issuer);
    cert_slot *s = cert_slot_for(r, h, serial, issuer);
    if (s->key == NULL) {
        size_t sl = strlen(serial), il = strlen(issuer);
        if ((s->key = malloc(sl + il + 2)) == NULL) {
            r->oom = 1;
            return;
        }
        for (size_t i = 0; i < sl; i++)
            s->key[i] = (char)(serial[i] >= 'a' && serial[i] <= 'z' ? serial[i] - 32 : serial[i]);
        s->key[sl] = '\x1f';
        memcpy(s->key + sl + 1, issuer, il + 1);
        s->hash = h;
        s->valid = (unsigned char)(cls << 1);   /* bit 0: valid; above: class */
        r->ncerts++;
        r->c.certs[cls]++;
    }
    if (valid && !(s->valid & 1)) {
        s->valid |= 1;
        r->c.certs_valid[s->valid >> 1]++;
    }
}

/* ========================================================== documents */

/* is_valid - does object V (a document or signature) say verdict valid,
 * or, without a verdict, a reason that implies it? */
static int is_valid(const json_value *v)
{
    const char *verdict = json_get_string(v, "verdict");
    if (verdict)
        return strcmp(verdict, "valid") == 0;
    const char *reason = json_get_string(v, "reason");
    int code = reason ? reason_from_name(reason) : -1;
    return code >= 0 && reason_verdict((kyso_reason)code) == VERDICT_VALID;
}

/* class_index - the REPORT_CLASS_* of a signer.class text. */
static int class_index(const char *cls)
{
    if (cls && strcmp(cls, "organisation") == 0)
        return REPORT_CLASS_ORGANISATION;
    if (cls && strcmp(cls, "personal") == 0)
        return REPORT_CLASS_PERSONAL;
    return REPORT_CLASS_UNKNOWN;
}

/* doc_signatures - count the signer certificates of document D; returns
 * whether its valid signatures hold both a personal and an organisation
 * one. */
static int doc_signatures(kyso_report *r, const json_value *d)
{
    const json_value *sigs = json_get(d, "signatures");
    int have[REPORT_NCLASS] = {0};
    for (size_t i = 0; sigs && sigs->type == JSON_ARRAY && i < sigs->n; i++) {
        const json_value *sig = &sigs->items[i];
        const json_value *signer = json_get(sig, "signer");
        int cls = class_index(json_get_string(signer, "class")), valid = is_valid(sig);
        const char *serial = json_get_string(signer, "serial");
        const char *issuer = json_get_string(signer, "issuer");
        if (serial && *serial)
            cert_seen(r, serial, issuer ? issuer : "", cls, valid);
        if (valid)
            have[cls] = 1;
    }
    return have[REPORT_CLASS_PERSONAL] && have[REPORT_CLASS_ORGANISATION];
}

/* docs_add - one valid document into D. */
static void docs_add(report_docs *d, int both)
{
    d->valid++;
    d->both += both != 0;
}

/* doc_count - document D of a record described by X. */
static void doc_count(kyso_report *r, const json_value *d, const rec_ctx *x)
{
    const json_value *counted = json_get(d, "counted");
    if (counted == NULL || counted->type != JSON_TRUE)
        return;
    r->c.docs_checked++;
    int both = doc_signatures(r, d);
    if (is_valid(d)) {
        if (!x->accepted)
            return;             /* held back with the rest of its message */
        docs_add(&r->c.all, both);
        if (x->sent)
            docs_add(&r->c.sent, both);
        if (x->received)
            docs_add(&r->c.received, both);
        if (x->month) {
            x->month->all++;
            x->month->sent += x->sent != 0;
            x->month->received += x->received != 0;
        }
        return;
    }
    report_reason *rr = reason_get(r, json_get_string(d, "reason"));
    if (rr == NULL)
        return;
    const char *action = json_get_string(d, "action");
    int asks = action ? strcmp(action, "accept") != 0 : !x->accepted;
    if (!asks) {
        rr->accepted++;
        r->c.accepted++;
    } else if (x->monitor) {
        rr->would++;
        r->c.would++;
    } else {
        rr->refused++;
        r->c.refused++;
        if (x->month)
            x->month->refused++;
    }
}

/* ============================================================ records */

/* action_index - the REPORT_ACT_* of an action text (NULL: other). */
static int action_index(const char *a)
{
    for (int i = 0; a && i < REPORT_ACT_OTHER; i++)
        if (strcmp(a, action_names[i]) == 0)
            return i;
    return REPORT_ACT_OTHER;
}

/* rec_count - record V at T_MS, in scope, with sides X filled. */
static void rec_count(kyso_report *r, const json_value *v, long long t_ms, rec_ctx *x)
{
    report_counts *c = &r->c;
    c->records++;
    if (c->first_ms == 0 || t_ms < c->first_ms)
        c->first_ms = t_ms;
    if (c->last_ms == 0 || t_ms > c->last_ms)
        c->last_ms = t_ms;
    node_count(r, json_get_string(v, "node"), 1);
    const char *action = json_get_string(v, "action");
    const char *mode = json_get_string(v, "mode");
    x->accepted = action != NULL && strcmp(action, "accept") == 0;
    x->monitor = mode != NULL && strcmp(mode, "monitor") == 0;
    x->month = month_get(r, t_ms);
    c->actions[action_index(action)]++;
    const char *would = json_get_string(v, "would");
    if (x->monitor && would)
        c->would_act[action_index(would)]++;
    const json_value *docs = json_get(v, "documents");
    for (size_t i = 0; docs && docs->type == JSON_ARRAY && i < docs->n; i++)
        doc_count(r, &docs->items[i], x);
    const json_value *applied = json_get(v, "applied");
    if (x->sent && x->accepted && applied && applied->type == JSON_ARRAY)
        c->applied += applied->n;
}

/* report_add_value - see report_add_json, for a parsed record V. */
static int report_add_value(kyso_report *r, const json_value *v, char *err, size_t errlen)
{
    if (v->type != JSON_OBJECT) {
        snprintf(err, errlen, "not a JSON object");
        r->c.damaged++;
        return -1;
    }
    const char *t = json_get_string(v, "time");
    long long t_ms;
    if (t == NULL || json_time_ms(t, strlen(t), &t_ms) < 0) {
        snprintf(err, errlen, "no readable \"time\"");
        r->c.damaged++;
        return -1;
    }
    rec_ctx x = {0};
    if ((r->since_ms && t_ms < r->since_ms) || (r->until_ms && t_ms >= r->until_ms)) {
        r->c.out_of_scope++;
        return 0;
    }
    rec_sides(r, v, &x);
    if (!x.sent && !x.received) {
        r->c.out_of_scope++;
        return 0;
    }
    rec_count(r, v, t_ms, &x);
    if (r->oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 1;
}


/* =========================================================== counters */

/* cnt_put - FIELD = N (when not 0) to SINK. */
static void cnt_put(const report_counter_sink *k, const char *day, const char *org,
                    const char *field, report_n n)
{
    if (n != 0)
        k->incr(k->arg, day, org, field, (long long)n);
}

/* cnt_put_named - "PREFIX:NAME" = N to SINK. */
static void cnt_put_named(const report_counter_sink *k, const char *day, const char *org,
                          const char *prefix, const char *name, report_n n)
{
    char f[300];
    snprintf(f, sizeof f, "%s:%s", prefix, name);
    cnt_put(k, day, org, f, n);
}

/* cnt_emit - what ONE (a report of one record) counted for ORG, to SINK. */
static void cnt_emit(const kyso_report *one, const char *day, const char *org,
                     const report_counter_sink *k)
{
    const report_counts *c = &one->c;
    char m[600];
    cnt_put(k, day, org, "records", c->records);
    cnt_put(k, day, org, "docs", c->docs_checked);
    cnt_put(k, day, org, "sent.valid", c->sent.valid);
    cnt_put(k, day, org, "sent.both", c->sent.both);
    cnt_put(k, day, org, "recv.valid", c->received.valid);
    cnt_put(k, day, org, "recv.both", c->received.both);
    cnt_put(k, day, org, "all.valid", c->all.valid);
    cnt_put(k, day, org, "all.both", c->all.both);
    cnt_put(k, day, org, "applied", c->applied);
    for (size_t i = 0; i < c->nreasons; i++) {
        cnt_put_named(k, day, org, "refused", c->reasons[i].name, c->reasons[i].refused);
        cnt_put_named(k, day, org, "would", c->reasons[i].name, c->reasons[i].would);
        cnt_put_named(k, day, org, "accepted", c->reasons[i].name, c->reasons[i].accepted);
    }
    for (int i = 0; i < REPORT_NACT; i++) {
        cnt_put_named(k, day, org, "act", action_names[i], c->actions[i]);
        cnt_put_named(k, day, org, "wact", action_names[i], c->would_act[i]);
    }
    for (size_t i = 0; i < c->nnodes; i++)
        cnt_put_named(k, day, org, "node", c->nodes[i].name, c->nodes[i].records);
    for (size_t i = 0; k->member && i < one->cap_certs; i++)
        if (one->certs[i].key) {
            snprintf(m, sizeof m, "%d%d%s", one->certs[i].valid >> 1, one->certs[i].valid & 1,
                     one->certs[i].key);
            k->member(k->arg, day, org, m);
        }
}

/* cnt_orgs_add - the domain of address A and its parent domains into
 * ORGS (*N used), each once, up to REPORT_MAX_ORGS. */
static void cnt_orgs_add(char (*orgs)[256], size_t *n, const char *a)
{
    const char *at = a ? strrchr(a, '@') : NULL;
    char d[256];
    if (at == NULL || org_normalise(at + 1, d, sizeof d) < 0)
        return;
    for (const char *p = d; p != NULL; p = (p = strchr(p, '.')) ? p + 1 : NULL) {
        size_t i = 0;
        while (i < *n && strcmp(orgs[i], p) != 0)
            i++;
        if (i == *n && *n < REPORT_MAX_ORGS)
            snprintf(orgs[(*n)++], 256, "%s", p);
    }
}

/* cnt_day - the local day of record V ("YYYY-MM-DD") into DAY.  0, or -1. */
static int cnt_day(const json_value *v, char day[16])
{
    const char *t = json_get_string(v, "time");
    long long ms;
    struct tm tm;
    if (t == NULL || json_time_ms(t, strlen(t), &ms) < 0)
        return -1;
    time_t sec = (time_t)(ms / 1000 - (ms % 1000 < 0));
    if (localtime_r(&sec, &tm) == NULL || strftime(day, 16, "%Y-%m-%d", &tm) == 0)
        return -1;
    return 0;
}

/* cnt_record - the counters of record V on DAY for each organisation. */
static int cnt_record(const json_value *v, const char *day, const report_counter_sink *k,
                      char *err, size_t errlen)
{
    static const char all[] = "";
    char (*orgs)[256] = calloc(REPORT_MAX_ORGS, 256);
    size_t n = 1;
    const json_value *rc = json_get(v, "rcpts");
    if (orgs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(orgs[0], 256, "%s", all);
    cnt_orgs_add(orgs, &n, json_get_string(v, "env_from"));
    for (size_t i = 0; rc && rc->type == JSON_ARRAY && i < rc->n; i++)
        if (rc->items[i].type == JSON_STRING)
            cnt_orgs_add(orgs, &n, rc->items[i].s);
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        kyso_report *one = report_new(orgs[i], 0, 0, err, errlen);
        if (one == NULL || report_add_value(one, v, err, errlen) < 0)
            ret = -1;
        else if (one->c.records > 0)
            cnt_emit(one, day, orgs[i][0] ? orgs[i] : "*", k);
        report_free(one);
    }
    free(orgs);
    return ret;
}

int report_counters(const char *json, size_t len, const report_counter_sink *sink,
                    char *err, size_t errlen)
{
    char day[16];
    json_doc *d = json_parse(json, len, 0, 0, err, errlen);
    if (d == NULL)
        return -1;
    int rc = -1;
    if (json_root(d)->type != JSON_OBJECT || cnt_day(json_root(d), day) < 0)
        snprintf(err, errlen, "not a decision record with a readable \"time\"");
    else
        rc = cnt_record(json_root(d), day, sink, err, errlen);
    json_free(d);
    return rc;
}

/* cnt_field_named - FIELD is "PREFIX:NAME"?  Then NAME, else NULL. */
static const char *cnt_field_named(const char *field, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(field, prefix, n) == 0 && field[n] == ':' ? field + n + 1 : NULL;
}

/* cnt_add_reason - a "refused:", "would:" or "accepted:" counter. */
static int cnt_add_reason(kyso_report *r, report_month *m, const char *field, report_n v)
{
    const char *name;
    report_reason *rr;
    if ((name = cnt_field_named(field, "refused")) && (rr = reason_get(r, name))) {
        rr->refused += v;
        r->c.refused += v;
        if (m)
            m->refused += v;
    } else if ((name = cnt_field_named(field, "would")) && (rr = reason_get(r, name))) {
        rr->would += v;
        r->c.would += v;
    } else if ((name = cnt_field_named(field, "accepted")) && (rr = reason_get(r, name))) {
        rr->accepted += v;
        r->c.accepted += v;
    } else {
        return 0;
    }
    return 1;
}

/* cnt_add_docs - a "sent.", "recv." or "all." counter. */
static int cnt_add_docs(kyso_report *r, report_month *m, const char *field, report_n v)
{
    static const char *const side[3] = { "sent.", "recv.", "all." };
    report_docs *d[3] = { &r->c.sent, &r->c.received, &r->c.all };
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(side[i]);
        if (strncmp(field, side[i], n) != 0)
            continue;
        if (strcmp(field + n, "both") == 0) {
            d[i]->both += v;
        } else if (strcmp(field + n, "valid") == 0) {
            d[i]->valid += v;
            if (m)
                *(i == 0 ? &m->sent : i == 1 ? &m->received : &m->all) += v;
        }
        return 1;
    }
    return 0;
}

void report_add_counter(kyso_report *r, long long day_ms, const char *field, long long n)
{
    report_counts *c = &r->c;
    report_n v = (report_n)n;
    const char *name;
    if (n <= 0 || field == NULL)
        return;
    report_month *m = month_get(r, day_ms);
    if (strcmp(field, "records") == 0) {
        c->records += v;
        if (c->first_ms == 0 || day_ms < c->first_ms)
            c->first_ms = day_ms;
        if (c->last_ms == 0 || day_ms > c->last_ms)
            c->last_ms = day_ms;
    } else if (strcmp(field, "docs") == 0) {
        c->docs_checked += v;
    } else if (strcmp(field, "applied") == 0) {
        c->applied += v;
    } else if ((name = cnt_field_named(field, "act")) != NULL) {
        c->actions[action_index(name)] += v;
    } else if ((name = cnt_field_named(field, "wact")) != NULL) {
        c->would_act[action_index(name)] += v;
    } else if ((name = cnt_field_named(field, "node")) != NULL) {
        node_count(r, name, v);
    } else if (!cnt_add_docs(r, m, field, v)) {
        cnt_add_reason(r, m, field, v);
    }
}

void report_add_member(kyso_report *r, const char *member)
{
    const char *sep = member ? strchr(member, '\x1f') : NULL;
    char serial[256];
    if (sep == NULL || member[0] < '0' || member[0] >= '0' + REPORT_NCLASS
        || (member[1] != '0' && member[1] != '1') || sep - member - 2 >= (long)sizeof serial)
        return;
    memcpy(serial, member + 2, (size_t)(sep - member - 2));
    serial[sep - member - 2] = '\0';
    cert_seen(r, serial, sep + 1, member[0] - '0', member[1] == '1');
}

/* ================================================================ API */

kyso_report *report_new(const char *org, long long since_ms, long long until_ms,
                        char *err, size_t errlen)
{
    kyso_report *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (org && *org && org_normalise(org, r->org, sizeof r->org) < 0) {
        snprintf(err, errlen, "'%.200s' is not a domain name (want e.g. khanhhoa.gov.vn)",
                 org);
        free(r);
        return NULL;
    }
    r->since_ms = since_ms;
    r->until_ms = until_ms;
    return r;
}

int report_add_json(kyso_report *r, const char *json, size_t len, char *err, size_t errlen)
{
    json_doc *d = json_parse(json, len, 0, 0, err, errlen);
    if (d == NULL) {
        r->c.damaged++;
        return -1;
    }
    int rc = report_add_value(r, json_root(d), err, errlen);
    json_free(d);
    return rc;
}

const report_counts *report_get(const kyso_report *r)
{
    return &r->c;
}

const char *report_org(const kyso_report *r)
{
    return r->org;
}

void report_free(kyso_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->c.nnodes; i++)
        free(r->c.nodes[i].name);
    for (size_t i = 0; i < r->cap_certs; i++)
        free(r->certs[i].key);
    free(r->c.nodes);
    free(r->c.reasons);
    free(r->c.months);
    free(r->certs);
    free(r);
}
