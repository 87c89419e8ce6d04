/*
 * cmd-log.c - "kyso log": what kyso-milter decided, for postmasters.  The
 * decision records are read through lib/store.h (query, follow), so the
 * output is the same from the file store and from Redis: a table of recent
 * decisions with filters, one record in full ("show REF", reasons in
 * Vietnamese and English), new decisions as they come (-f), and exports
 * (--json as stored, --csv).  The contract (options, columns, exit status)
 * is in kyso(1).
 *
 * Must never write to the store, never crash on a damaged record (it is
 * skipped with a warning), never send record text to the terminal raw
 * (control and bidirectional-override characters are shown escaped), and
 * never print a record the filters do not match: what a store hands over
 * is only a superset, so every filter is checked again on the parsed
 * record here.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd-log.h"
#include "cmd-store.h"
#include "config.h"
#include "json.h"
#include "reasons.h"
#include "store.h"

#define DEFAULT_LIMIT   50
#define ROUND_MAX       20000           /* past this many candidates, read all;
                                         * a bigger --limit is done in two passes */
#define REF_EPOCH_MS    1704067200000LL /* decision.c: refs count from 2024-01-01 */
#define REF_WINDOW_MS   86400000LL      /* a record is within a day of its ref */
#define MAX_WARNINGS    10
#define NCOLS           8
#define ELLIPSIS        "\xE2\x80\xA6"

enum { FMT_TABLE = 0, FMT_JSON, FMT_CSV };

typedef struct log_opts {
    const char *config, *store;
    size_t limit;
    long long since_ms, until_ms;   /* 0: not asked */
    const char *sender, *rcpt, *domain;     /* normalised (see log_norm_*) */
    const char *action, *reason;
    char ref[40];                   /* normalised, "" when not asked */
    char sender_buf[320], rcpt_buf[320], domain_buf[256];
    int fmt, follow, show;
    int doc_width;                  /* the documents column, in columns */
} log_opts;

/* What the table, the filters and the CSV use of one record. */
typedef struct log_view {
    long long t;
    int has_t;
    const char *time_text, *ref, *node, *env_from, *action, *would, *reason;
    const json_value *rcpts, *docs;
} log_view;

/* A matching record: its text, parsed again when printed (a kept row
 * costs its bytes, not a tree ten times their size). */
typedef struct log_row {
    char *raw;
    size_t n;
    json_doc *doc;          /* NULL once kept */
} log_row;

/* One pass over what the store hands over. */
typedef struct log_run {
    const log_opts *o;
    size_t candidates, matched, printed;
    log_row *rows;          /* a ring of cap rows; cap 0: all, growing */
    size_t cap, len, pos, alloc;
    int stream;             /* print each match at once (--limit 0, -f) */
    int count_only;         /* only count the matches */
    size_t skip;            /* streaming: the first SKIP matches are not printed */
    int warn_now;           /* -f: warnings at once, not at the end */
    int header_done;
    kyso_buf warn;          /* the first warnings of the pass */
    size_t nwarn;
    int oom;
} log_run;

static const struct log_col {
    const char *title, *csv;
    int cap;                /* widest a column grows in the table */
    int fixed;              /* its width when rows stream (-f, --limit 0) */
} log_cols[NCOLS] = {
    {"TIME", "time", 19, 19}, {"REF", "ref", 15, 15}, {"NODE", "node", 20, 12},
    {"SENDER", "sender", 40, 30}, {"RECIPIENTS", "recipients", 44, 30},
    {"ACTION", "action", 30, 21}, {"REASON", "reason", 28, 20},
    {"DOCUMENTS", "documents", 0, 0},
};

/* Set by SIGINT and SIGTERM, only while following: the one piece of
 * global state, written by the handler and read by the store's poll. */
static volatile int log_stop;

/* ============================================================== text */

/* utf8_next - the code point at *P (UTF-8 that json.c checked), *P moved
 * past it; never past a NUL. */
static unsigned long utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned long c = s[0];
    int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4, i;
    if (n == 1) {
        *p += 1;
        return c;
    }
    c &= 0x3Fu >> (n - 1);
    for (i = 1; i < n && s[i] != '\0'; i++)
        c = c << 6 | (s[i] & 0x3Fu);
    *p += i;
    return c;
}

/* cp_width - columns a code point takes on a terminal: 0 for combining
 * marks (Vietnamese tone marks may come decomposed), 2 for wide ones. */
static int cp_width(unsigned long c)
{
    if ((c >= 0x300 && c <= 0x36F) || (c >= 0x1AB0 && c <= 0x1AFF)
        || (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x20D0 && c <= 0x20FF)
        || (c >= 0xFE20 && c <= 0xFE2F) || (c >= 0x200B && c <= 0x200D) || c == 0xFEFF)
        return 0;
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF)
        || (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF)
        || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60)
        || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1FAFF)
        || (c >= 0x20000 && c <= 0x3FFFD))
        return 2;
    return 1;
}

/* cp_unsafe - would the code point act on a terminal rather than show:
 * C0 and C1 controls, DEL, bidirectional marks and overrides? */
static int cp_unsafe(unsigned long c)
{
    return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == 0x200E || c == 0x200F
           || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/* text_clean - S into B, unsafe code points written as \xNN or \uNNNN. */
static void text_clean(kyso_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *q = p;
        unsigned long c = utf8_next(&p);
        if (cp_unsafe(c))
            buf_printf(b, c < 0x80 ? "\\x%02lX" : "\\u%04lX", c);
        else
            buf_append(b, q, (size_t)(p - q));
    }
}

/* text_width - columns S (clean) takes. */
static int text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int w = 0;
    while (*p)
        w += cp_width(utf8_next(&p));
    return w;
}

/* text_fit - S (clean) into B, cut to W columns with an ellipsis marking
 * the cut; returns the columns written. */
static int text_fit(kyso_buf *b, const char *s, int w)
{
    int total = text_width(s), used = 0;
    if (total <= w) {
        buf_append(b, s, strlen(s));
        return total;
    }
    const unsigned char *p = (const unsigned char *)s;
    while (*p && w > 1) {
        const unsigned char *q = p;
        int cw = cp_width(utf8_next(&p));
        if (used + cw > w - 1)
            break;
        buf_append(b, q, (size_t)(p - q));
        used += cw;
    }
    buf_append(b, ELLIPSIS, 3);
    return used + 1;
}

/* raw_snippet - the first bytes of a line that is not a record, printable
 * ASCII kept and everything else as \xNN, into B. */
static void raw_snippet(kyso_buf *b, const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n && i < 60; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7F)
            buf_append(b, &c, 1);
        else
            buf_printf(b, "\\x%02X", c);
    }
    if (i < n)
        buf_append(b, "...", 3);
}

/* ============================================================ records */

/* view_from - the fields of record R that the table and filters use;
 * absent or mistyped ones are NULL. */
static void view_from(const json_value *r, log_view *v)
{
    memset(v, 0, sizeof *v);
    v->time_text = json_get_string(r, "time");
    v->has_t = v->time_text && json_time_ms(v->time_text, strlen(v->time_text), &v->t) == 0;
    v->ref = json_get_string(r, "ref");
    v->node = json_get_string(r, "node");
    v->env_from = json_get_string(r, "env_from");
    v->action = json_get_string(r, "action");
    v->would = json_get_string(r, "would");
    v->reason = json_get_string(r, "reason");
    v->rcpts = json_get(r, "rcpts");
    if (v->rcpts && v->rcpts->type != JSON_ARRAY)
        v->rcpts = NULL;
    v->docs = json_get(r, "documents");
    if (v->docs && v->docs->type != JSON_ARRAY)
        v->docs = NULL;
}

/* addr_is - is A the address WANT (ASCII case-insensitive)? */
static int addr_is(const char *a, const char *want)
{
    return a != NULL && strcasecmp(a, want) == 0;
}

/* addr_in_domain - is the domain of address A DOM or a subdomain of it? */
static int addr_in_domain(const char *a, const char *dom)
{
    const char *at = a ? strrchr(a, '@') : NULL;
    if (at == NULL)
        return 0;
    const char *d = at + 1;
    size_t dl = strlen(d), wl = strlen(dom);
    if (dl == wl)
        return strcasecmp(d, dom) == 0;
    return dl > wl && d[dl - wl - 1] == '.' && strcasecmp(d + dl - wl, dom) == 0;
}

/* rcpts_any - does TEST hold for one of the recipients RCPTS? */
static int rcpts_any(const json_value *rcpts, int (*test)(const char *, const char *),
                     const char *want)
{
    for (size_t i = 0; rcpts && i < rcpts->n; i++)
        if (rcpts->items[i].type == JSON_STRING && test(rcpts->items[i].s, want))
            return 1;
    return 0;
}

/* str_is - is S (maybe NULL) equal to WANT? */
static int str_is(const char *s, const char *want)
{
    return s != NULL && strcmp(s, want) == 0;
}

/* log_match - does the record V pass every filter of O?  A time window
 * leaves out records without a readable time. */
static int log_match(const log_opts *o, const log_view *v)
{
    if ((o->since_ms || o->until_ms) && !v->has_t)
        return 0;
    if ((o->since_ms && v->t < o->since_ms) || (o->until_ms && v->t >= o->until_ms))
        return 0;
    if (o->ref[0] && !str_is(v->ref, o->ref))
        return 0;
    if (o->sender && !addr_is(v->env_from, o->sender))
        return 0;
    if (o->rcpt && !rcpts_any(v->rcpts, addr_is, o->rcpt))
        return 0;
    if (o->domain && !addr_in_domain(v->env_from, o->domain)
        && !rcpts_any(v->rcpts, addr_in_domain, o->domain))
        return 0;
    if (o->action && !str_is(v->action, o->action) && !str_is(v->would, o->action))
        return 0;
    if (o->reason && !str_is(v->reason, o->reason))
        return 0;
    return 1;
}

/* ============================================================== cells */

/* cell_time - local "YYYY-MM-DD HH:MM:SS" of the record into B, or its
 * time text as written when it cannot be read, or "-". */
static void cell_time(kyso_buf *b, const log_view *v)
{
    struct tm tm;
    time_t t = (time_t)(v->t / 1000 - (v->t % 1000 < 0));
    char s[32];
    if (v->has_t && localtime_r(&t, &tm) && strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S", &tm))
        buf_append(b, s, strlen(s));
    else
        text_clean(b, v->time_text ? v->time_text : "-");
}

/* cell_rcpts - the recipients into B: all of them, or the first and
 * "+N" for the others (SHORT). */
static void cell_rcpts(kyso_buf *b, const log_view *v, int shorten)
{
    size_t n = v->rcpts ? v->rcpts->n : 0, shown = 0;
    for (size_t i = 0; i < n && !(shorten && shown == 1); i++) {
        const json_value *r = &v->rcpts->items[i];
        if (r->type != JSON_STRING)
            continue;
        if (shown++)
            buf_append(b, ", ", 2);
        text_clean(b, r->s);
    }
    if (shown == 0)
        buf_append(b, "-", 1);
    else if (shorten && n > 1)
        buf_printf(b, " +%zu", n - 1);
}

/* cell_docs - the document names into B, ", " between them. */
static void cell_docs(kyso_buf *b, const log_view *v)
{
    size_t n = v->docs ? v->docs->n : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_get_string(&v->docs->items[i], "name");
        if (i)
            buf_append(b, ", ", 2);
        text_clean(b, name ? name : "(unnamed)");
    }
    if (n == 0)
        buf_append(b, "-", 1);
}

/* row_cells - the NCOLS cells of record V (clean UTF-8, malloc'd, into
 * CELLS; recipients shortened when SHORT).  Returns 0, or -1 when out of
 * memory (CELLS then all NULL). */
static int row_cells(const log_view *v, int shorten, char *cells[NCOLS])
{
    kyso_buf b[NCOLS];
    memset(b, 0, sizeof b);
    cell_time(&b[0], v);
    text_clean(&b[1], v->ref ? v->ref : "-");
    text_clean(&b[2], v->node ? v->node : "-");
    text_clean(&b[3], v->env_from == NULL ? "-" : *v->env_from ? v->env_from : "<>");
    cell_rcpts(&b[4], v, shorten);
    text_clean(&b[5], v->action ? v->action : "-");
    if (v->would) {
        buf_append(&b[5], " (would ", 8);
        text_clean(&b[5], v->would);
        buf_append(&b[5], ")", 1);
    }
    text_clean(&b[6], v->reason ? v->reason : "-");
    cell_docs(&b[7], v);
    int bad = 0;
    for (int i = 0; i < NCOLS; i++)
        bad |= (cells[i] = buf_steal(&b[i])) == NULL;
    if (bad)
        for (int i = 0; i < NCOLS; i++) {
            free(cells[i]);
            cells[i] = NULL;
        }
    return bad ? -1 : 0;
}

/* cells_free - what row_cells made. */
static void cells_free(char *cells[NCOLS])
{
    for (int i = 0; i < NCOLS; i++)
        free(cells[i]);
}

/* ============================================================ output */

/* table_line - one row of the table: each cell cut to its width W[i] and
 * padded, two spaces between columns, the last one not padded. */
static void table_line(char *const cells[NCOLS], const int *w)
{
    kyso_buf b = {0};
    for (int i = 0; i < NCOLS; i++) {
        int used = text_fit(&b, cells[i], w[i]);
        if (i < NCOLS - 1)
            buf_printf(&b, "%*s", w[i] - used + 2, "");
    }
    buf_append(&b, "\n", 1);
    if (!b.oom)
        fwrite(b.p, 1, b.len, stdout);
    buf_free(&b);
}

/* table_header - the column titles at widths W. */
static void table_header(const int *w)
{
    char *titles[NCOLS];
    for (int i = 0; i < NCOLS; i++)
        titles[i] = (char *)log_cols[i].title;
    table_line(titles, w);
}

/* csv_field - one RFC 4180 field: quoted when it holds a comma, a quote,
 * CR, LF or starts or ends with a space; a field a spreadsheet would run
 * as a formula (= + @ first) gets a leading apostrophe. */
static void csv_field(const char *s, int last)
{
    int quote = strpbrk(s, ",\"\r\n") != NULL || s[0] == ' '
                || (*s && s[strlen(s) - 1] == ' ');
    if (s[0] == '=' || s[0] == '+' || s[0] == '@')
        quote = 1;
    if (quote)
        putchar('"');
    if (s[0] == '=' || s[0] == '+' || s[0] == '@')
        putchar('\'');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            putchar('"');
        putchar(*p);
    }
    if (quote)
        putchar('"');
    fputs(last ? "\r\n" : ",", stdout);
}

/* csv_header - the first line of --csv. */
static void csv_header(void)
{
    for (int i = 0; i < NCOLS; i++)
        csv_field(log_cols[i].csv, i == NCOLS - 1);
}

/* row_root - the parsed record of ROW: its own tree, or one parsed again
 * into *TMP (the caller frees it).  NULL only when out of memory. */
static const json_value *row_root(const log_row *row, json_doc **tmp)
{
    char err[64];
    *tmp = NULL;
    if (row->doc != NULL)
        return json_root(row->doc);
    *tmp = json_parse(row->raw, row->n, 0, 0, err, sizeof err);
    return *tmp ? json_root(*tmp) : NULL;
}

/* row_print - one matching record in the chosen form (W: table widths).
 * Returns 0, or -1 when out of memory. */
static int row_print(const log_opts *o, const log_row *row, const int *w)
{
    if (o->fmt == FMT_JSON) {
        fwrite(row->raw, 1, row->n, stdout);
        putchar('\n');
        return 0;
    }
    log_view v;
    char *cells[NCOLS];
    json_doc *tmp;
    const json_value *root = row_root(row, &tmp);
    if (root == NULL)
        return -1;
    view_from(root, &v);
    int rc = row_cells(&v, o->fmt == FMT_TABLE, cells);
    json_free(tmp);
    if (rc < 0)
        return -1;
    if (o->fmt == FMT_CSV)
        for (int i = 0; i < NCOLS; i++)
            csv_field(cells[i], i == NCOLS - 1);
    else
        table_line(cells, w);
    cells_free(cells);
    return 0;
}

/* widths_fixed - the table widths used when rows stream. */
static void widths_fixed(const log_opts *o, int *w)
{
    for (int i = 0; i < NCOLS - 1; i++)
        w[i] = log_cols[i].fixed;
    w[NCOLS - 1] = o->doc_width;
}

/* widths_fit - the table widths for ROWS: each column as wide as its
 * widest cell (or title), up to its cap; the documents column what the
 * terminal has left (O->doc_width, which is 40 off a terminal). */
static void widths_fit(const log_opts *o, log_row *const *rows, size_t n, int *w)
{
    int used = 0;
    for (int i = 0; i < NCOLS - 1; i++)
        w[i] = (int)strlen(log_cols[i].title);
    for (size_t r = 0; r < n; r++) {
        log_view v;
        char *cells[NCOLS];
        json_doc *tmp;
        const json_value *root = row_root(rows[r], &tmp);
        if (root != NULL)
            view_from(root, &v);
        int rc = root ? row_cells(&v, 1, cells) : -1;
        json_free(tmp);
        if (rc < 0)
            continue;
        for (int i = 0; i < NCOLS - 1; i++) {
            int cw = text_width(cells[i]);
            w[i] = cw > w[i] ? (cw < log_cols[i].cap ? cw : log_cols[i].cap) : w[i];
        }
        cells_free(cells);
    }
    for (int i = 0; i < NCOLS - 1; i++)
        used += w[i] + 2;
    w[NCOLS - 1] = o->doc_width;
    if (isatty(STDOUT_FILENO)) {
        struct winsize ws;
        int cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
        w[NCOLS - 1] = cols - used > 20 ? cols - used : 20;
    }
}

/* ================================================================ runs */

static void row_free(log_row *r)
{
    free(r->raw);
    json_free(r->doc);
    memset(r, 0, sizeof *r);
}

/* run_reset - forget what a pass kept, for the next one. */
static void run_reset(log_run *r)
{
    for (size_t i = 0; i < r->alloc; i++)
        row_free(&r->rows[i]);
    r->len = r->pos = 0;
    r->candidates = r->matched = 0;
    r->nwarn = 0;
    r->oom = 0;
    buf_free(&r->warn);
}

/* run_free - everything a run holds. */
static void run_free(log_run *r)
{
    run_reset(r);
    free(r->rows);
    r->rows = NULL;
    r->alloc = 0;
}

/* run_warn - a line that is not a record: said at once (-f) or kept for
 * the end of the pass (the first MAX_WARNINGS; the others are counted). */
static void run_warn(log_run *r, const char *why, const char *p, size_t n)
{
    kyso_buf b = {0};
    buf_printf(&b, "kyso log: skipped a damaged record (%s): ", why);
    raw_snippet(&b, p, n);
    buf_append(&b, "\n", 1);
    if (r->warn_now && !b.oom)
        fwrite(b.p, 1, b.len, stderr);
    else if (r->nwarn < MAX_WARNINGS && !b.oom)
        buf_append(&r->warn, b.p, b.len);
    r->nwarn++;
    buf_free(&b);
}

/* run_keep - keep ROW (taken over) in the ring or the growing list;
 * the oldest row leaves a full ring.  Returns 0, or -1 out of memory. */
static int run_keep(log_run *r, log_row *row)
{
    if (r->cap > 0) {
        if (r->alloc == 0) {
            if ((r->rows = calloc(r->cap, sizeof *r->rows)) == NULL)
                return -1;
            r->alloc = r->cap;
        }
        row_free(&r->rows[r->pos]);
        r->rows[r->pos] = *row;
        r->pos = (r->pos + 1) % r->cap;
        r->len += r->len < r->cap;
        return 0;
    }
    if (r->len == r->alloc) {
        size_t a = r->alloc ? r->alloc * 2 : 16;
        log_row *nr = realloc(r->rows, a * sizeof *nr);
        if (nr == NULL)
            return -1;
        memset(nr + r->alloc, 0, (a - r->alloc) * sizeof *nr);
        r->rows = nr;
        r->alloc = a;
    }
    r->rows[r->len++] = *row;
    return 0;
}

/* run_rows - the kept rows, oldest first, as pointers (caller frees the
 * array only), or NULL when there are none or out of memory. */
static log_row **run_rows(const log_run *r)
{
    log_row **v = r->len ? malloc(r->len * sizeof *v) : NULL;
    for (size_t i = 0; v && i < r->len; i++)
        v[i] = &r->rows[r->cap ? (r->pos + r->cap - r->len + i) % r->cap : i];
    return v;
}

/* run_stream_row - print a match at once (streaming), header first. */
static int run_stream_row(log_run *r, const log_row *row)
{
    int w[NCOLS];
    widths_fixed(r->o, w);
    if (!r->header_done && r->o->fmt != FMT_JSON)
        r->o->fmt == FMT_CSV ? csv_header() : table_header(w);
    r->header_done = 1;
    if (row_print(r->o, row, w) < 0)
        return -1;
    r->printed++;
    if (r->warn_now)
        fflush(stdout);
    return 0;
}

/* log_on_record - the store's callback: parse, check the filters, then
 * keep or print.  A line that does not parse as an object is skipped
 * with a warning.  Returns non-zero to stop (out of memory, or -f
 * interrupted). */
static int log_on_record(const char *json, size_t len, void *arg)
{
    log_run *r = arg;
    char err[128];
    r->candidates++;
    json_doc *d = json_parse(json, len, 0, 0, err, sizeof err);
    if (d == NULL || json_root(d)->type != JSON_OBJECT) {
        run_warn(r, d ? "not a JSON object" : err, json, len);
        json_free(d);
        return log_stop;
    }
    log_view v;
    view_from(json_root(d), &v);
    if (!log_match(r->o, &v)) {
        json_free(d);
        return log_stop;
    }
    if (++r->matched <= r->skip || r->count_only) {
        json_free(d);
        return log_stop;
    }
    log_row row = { .raw = malloc(len ? len : 1), .n = len, .doc = d };
    if (row.raw == NULL) {
        json_free(d);
        r->oom = 1;
        return 1;
    }
    memcpy(row.raw, json, len);
    if (!r->stream) {
        json_free(row.doc);
        row.doc = NULL;
    }
    int rc = r->stream ? run_stream_row(r, &row) : run_keep(r, &row);
    if (r->stream || rc < 0)
        row_free(&row);
    if (rc < 0)
        r->oom = 1;
    return rc < 0 || log_stop;
}

/* run_print_warnings - what was kept for the end of the pass. */
static void run_print_warnings(log_run *r)
{
    if (r->warn.len)
        fwrite(r->warn.p, 1, r->warn.len, stderr);
    if (r->nwarn > MAX_WARNINGS)
        fprintf(stderr, "kyso log: and %zu more damaged records\n", r->nwarn - MAX_WARNINGS);
}

/* ================================================================ show */

/* show_kv - "LABEL  VALUE" at INDENT, VALUE cleaned; nothing when NULL. */
static void show_kv(int indent, const char *label, const char *value)
{
    if (value == NULL)
        return;
    kyso_buf b = {0}, l = {0};
    text_clean(&b, value);
    text_clean(&l, label);
    printf("%*s%-*.*s %.*s\n", indent, "", 18 - indent, (int)l.len, l.p ? l.p : "",
           (int)b.len, b.p ? b.p : "");
    buf_free(&b);
    buf_free(&l);
}

/* show_reason - the reason name, then its Vietnamese and English
 * sentences (or a note when this version has none for it). */
static void show_reason(int indent, const char *label, const char *name)
{
    if (name == NULL)
        return;
    show_kv(indent, label, name);
    int r = reason_from_name(name);
    if (r < 0) {
        show_kv(indent, "", "(no sentence for this reason in this version of kyso)");
        return;
    }
    printf("%*s%-*s vi: %s\n", indent, "", 18 - indent, "", reason_text_vi((kyso_reason)r));
    printf("%*s%-*s en: %s\n", indent, "", 18 - indent, "", reason_text_en((kyso_reason)r));
}

/* show_scalar - a number, boolean or string member KEY of V, as text. */
static void show_scalar(int indent, const char *label, const json_value *v, const char *key)
{
    const json_value *m = json_get(v, key);
    if (m == NULL || m->type == JSON_NULL)
        return;
    if (m->type == JSON_STRING || m->type == JSON_NUMBER)
        show_kv(indent, label, m->s);
    else if (m->type == JSON_TRUE || m->type == JSON_FALSE)
        show_kv(indent, label, m->type == JSON_TRUE ? "yes" : "no");
}

/* show_signer - the certificate of a signature. */
static void show_signer(int indent, const json_value *signer)
{
    show_kv(indent, "Signer", json_get_string(signer, "subject"));
    show_kv(indent, "Issuer", json_get_string(signer, "issuer"));
    show_kv(indent, "Serial", json_get_string(signer, "serial"));
    show_kv(indent, "E-mail", json_get_string(signer, "email"));
    show_kv(indent, "Class", json_get_string(signer, "class"));
    const char *nb = json_get_string(signer, "not_before");
    const char *na = json_get_string(signer, "not_after");
    if (nb || na) {
        char v[160];
        snprintf(v, sizeof v, "%s to %s", nb ? nb : "?", na ? na : "?");
        show_kv(indent, "Validity", v);
    }
}

/* show_sigs - each signature of a "signatures" array. */
static void show_sigs(int indent, const char *what, const json_value *sigs)
{
    for (size_t i = 0; sigs && sigs->type == JSON_ARRAY && i < sigs->n; i++) {
        const json_value *s = &sigs->items[i];
        printf("%*s%s %zu\n", indent, "", what, i + 1);
        show_kv(indent + 2, "Verdict", json_get_string(s, "verdict"));
        show_reason(indent + 2, "Reason", json_get_string(s, "reason"));
        show_kv(indent + 2, "ETSI", json_get_string(s, "etsi"));
        show_kv(indent + 2, "SubFilter", json_get_string(s, "subfilter"));
        show_kv(indent + 2, "Field", json_get_string(s, "field"));
        show_signer(indent + 2, json_get(s, "signer"));
        show_kv(indent + 2, "Signing time", json_get_string(s, "signing_time"));
        show_kv(indent + 2, "Coverage", json_get_string(s, "coverage"));
        show_scalar(indent + 2, "DocMDP", s, "docmdp");
        show_kv(indent + 2, "Detail", json_get_string(s, "detail"));
    }
}

/* show_doc - one document (and its attachments, nested). */
static void show_doc(int indent, const char *what, size_t i, const json_value *d)
{
    const char *name = json_get_string(d, "name"), *kind = json_get_string(d, "kind");
    kyso_buf b = {0};
    text_clean(&b, name ? name : "(unnamed)");
    printf("%*s%s %zu: %.*s [%s]\n", indent, "", what, i + 1, (int)b.len, b.p ? b.p : "",
           kind ? kind : "?");
    buf_free(&b);
    show_kv(indent + 2, "Verdict", json_get_string(d, "verdict"));
    show_reason(indent + 2, "Reason", json_get_string(d, "reason"));
    show_reason(indent + 2, "Engine reason", json_get_string(d, "engine_reason"));
    show_scalar(indent + 2, "Counted", d, "counted");
    show_kv(indent + 2, "Action", json_get_string(d, "action"));
    show_kv(indent + 2, "Detail", json_get_string(d, "detail"));
    const json_value *sigs = json_get(d, "signatures");
    if (sigs == NULL || sigs->type != JSON_ARRAY || sigs->n == 0)
        show_kv(indent + 2, "Signatures", "none");
    show_sigs(indent + 2, "Signature", sigs);
    const json_value *atts = json_get(d, "attachments");
    for (size_t k = 0; atts && atts->type == JSON_ARRAY && k < atts->n && indent < 12; k++)
        show_doc(indent + 2, "Attachment", k, &atts->items[k]);
}

/* show_list - the strings of array KEY of R on one line, ", " between. */
static void show_list(const char *label, const json_value *r, const char *key)
{
    const json_value *a = json_get(r, key);
    kyso_buf b = {0};
    for (size_t i = 0; a && a->type == JSON_ARRAY && i < a->n; i++)
        if (a->items[i].type == JSON_STRING)
            buf_printf(&b, "%s%s", b.len ? ", " : "", a->items[i].s);
    char *s = buf_steal(&b);
    if (s && *s)
        show_kv(0, label, s);
    free(s);
}

/* show_notice - whether a notice went to the sender, and why not. */
static void show_notice(const json_value *r)
{
    const json_value *n = json_get(r, "notice");
    const json_value *sent = json_get(n, "sent");
    const char *why = json_get_string(n, "why");
    char v[600];
    if (n == NULL)
        return;
    if (sent && sent->type == JSON_TRUE)
        snprintf(v, sizeof v, "sent to the sender");
    else if (why)
        snprintf(v, sizeof v, "not sent: %s", why);
    else
        snprintf(v, sizeof v, "not sent (none was due)");
    show_kv(0, "Notice", v);
}

/* show_head - the message-level fields of record R. */
static void show_head(const json_value *r)
{
    log_view v;
    kyso_buf t = {0};
    view_from(r, &v);
    show_kv(0, "Reference", v.ref);
    cell_time(&t, &v);
    if (v.time_text)
        buf_printf(&t, " (recorded as %s)", v.time_text);
    char *ts = buf_steal(&t);
    show_kv(0, "Time", ts);
    free(ts);
    show_kv(0, "Node", v.node);
    show_kv(0, "Queue ID", json_get_string(r, "queue_id"));
    show_kv(0, "Message-ID", json_get_string(r, "message_id"));
    const json_value *c = json_get(r, "client");
    const char *cn = json_get_string(c, "name"), *ca = json_get_string(c, "addr");
    if (cn || ca) {
        char cl[600];
        snprintf(cl, sizeof cl, "%s [%s]", cn ? cn : "unknown", ca ? ca : "?");
        show_kv(0, "Client", cl);
    }
    show_kv(0, "Auth user", json_get_string(r, "auth_user"));
    show_kv(0, "Sender", v.env_from && !*v.env_from ? "<>" : v.env_from);
    show_kv(0, "From", json_get_string(r, "hdr_from"));
    show_kv(0, "Subject", json_get_string(r, "subject"));
    show_list("Recipients", r, "rcpts");
    show_kv(0, "Flow", json_get_string(r, "flow"));
    show_kv(0, "Mode", json_get_string(r, "mode"));
}

/* show_unknown - top-level keys this version does not know (a newer
 * kyso-milter wrote them): scalars shown, the others named. */
static void show_unknown(const json_value *r)
{
    static const char *const known[] = {
        "time", "node", "queue_id", "message_id", "client", "auth_user", "env_from",
        "hdr_from", "subject", "rcpts", "flow", "mode", "action", "would", "reason",
        "detail", "ref", "smtp_reply", "notice", "documents", "smime", "applied",
        "elapsed_ms", NULL
    };
    for (size_t i = 0; i < r->n; i++) {
        size_t k = 0;
        while (known[k] && strcmp(known[k], r->keys[i]) != 0)
            k++;
        if (known[k])
            continue;
        const json_value *m = &r->items[i];
        int scalar = m->type == JSON_STRING || m->type == JSON_NUMBER;
        show_kv(0, r->keys[i], scalar ? m->s : m->type == JSON_NULL ? "null"
                : m->type == JSON_TRUE ? "true" : m->type == JSON_FALSE ? "false"
                : "(structured value; see --json)");
    }
}

/* show_record - everything of one record, for people. */
static void show_record(const json_value *r)
{
    show_head(r);
    const char *action = json_get_string(r, "action"), *would = json_get_string(r, "would");
    char a[160];
    if (action)
        snprintf(a, sizeof a, "%s%s%s%s", action, would ? " (would " : "", would ? would : "",
                 would ? ")" : "");
    show_kv(0, "Action", action ? a : NULL);
    show_reason(0, "Reason", json_get_string(r, "reason"));
    show_kv(0, "Detail", json_get_string(r, "detail"));
    show_kv(0, "SMTP reply", json_get_string(r, "smtp_reply"));
    show_notice(r);
    show_scalar(0, "Elapsed ms", r, "elapsed_ms");
    show_list("Applied", r, "applied");
    show_unknown(r);
    const json_value *docs = json_get(r, "documents");
    size_t nd = docs && docs->type == JSON_ARRAY ? docs->n : 0;
    printf("%-18s %zu\n", "Documents", nd);
    for (size_t i = 0; i < nd; i++)
        show_doc(2, "Document", i, &docs->items[i]);
    const json_value *smime = json_get(r, "smime");
    if (smime && smime->type == JSON_ARRAY && smime->n > 0) {
        printf("S/MIME\n");
        show_sigs(2, "Signature", smime);
    }
}

/* ============================================================= queries */

/* json_safe - would S appear byte for byte inside a JSON string of the
 * record (nothing decision.c escapes)?  Then it can be a needle. */
static int json_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7F)
            return 0;
    return *s != '\0';
}

/* log_needle - the most selective raw substring the filters imply, into
 * BUF: a whole quoted address, a domain at the end of a string, a
 * quoted action or reason.  "" when none is usable. */
static void log_needle(const log_opts *o, char *buf, size_t len)
{
    buf[0] = '\0';
    if (o->sender && json_safe(o->sender))
        snprintf(buf, len, "\"%s\"", o->sender);
    else if (o->rcpt && json_safe(o->rcpt))
        snprintf(buf, len, "\"%s\"", o->rcpt);
    else if (o->domain && json_safe(o->domain))
        snprintf(buf, len, "%s\"", o->domain);
    else if (o->reason)
        snprintf(buf, len, "\"%s\"", o->reason);
    else if (o->action)
        snprintf(buf, len, "\"%s\"", o->action);
}

/* ref_time_ms - the time a reference id was made at (decision.c: 60 bits
 * of Crockford base32, the top 40 milliseconds since 2024); -1 when REF
 * is not of that form. */
static long long ref_time_ms(const char *ref)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned long long v = 0;
    if (strncmp(ref, "KS-", 3) != 0 || strlen(ref) != 15)
        return -1;
    for (int i = 3; i < 15; i++) {
        const char *k = strchr(alphabet, ref[i]);
        if (k == NULL || ref[i] == '\0')
            return -1;
        v = v << 5 | (unsigned long long)(k - alphabet);
    }
    return (long long)(v >> 20) + REF_EPOCH_MS;
}

/* log_pass - one query with limit K, into R (reset first).  Returns 0,
 * or -1 after printing the store's error. */
static int log_pass(kyso_store *s, const kyso_query *base, size_t k, log_run *r)
{
    char err[512];
    kyso_query q = *base;
    q.limit = k;
    run_reset(r);
    kyso_hints h = { .sender = r->o->sender, .rcpt = r->o->rcpt, .domain = r->o->domain,
                     .action = r->o->action, .reason = r->o->reason };
    if (store_query_hinted(s, STREAM_DECISIONS, &q, &h, log_on_record, r, err,
                           sizeof err) < 0) {
        fprintf(stderr, "kyso log: %s\n", err);
        return -1;
    }
    if (r->oom) {
        fprintf(stderr, "kyso log: out of memory\n");
        return -1;
    }
    return 0;
}

/* log_collect - the last o->limit matches into R (or all of them, printed
 * as they come, with --limit 0).  The store is asked for the last K
 * candidates, K growing eightfold, until K of them hold enough matches
 * or K covers everything.  Returns 0, or -1 after printing. */
static int log_collect(kyso_store *s, const log_opts *o, const kyso_query *base, log_run *r)
{
    if (o->limit == 0 || o->limit > ROUND_MAX || o->show)
        return log_pass(s, base, 0, r);
    for (size_t k = o->limit;; k = k > ROUND_MAX / 8 ? 0 : k * 8) {
        if (log_pass(s, base, k, r) < 0)
            return -1;
        if (k == 0 || r->len >= o->limit || r->candidates < k)
            return 0;
    }
}

/* log_search - log_collect within the day of the reference id when one
 * is asked for (most of a big store is then never read), and again
 * without that bound when it found nothing.  The filters go to the store
 * as hints too (store.h): Redis then reads only what its indexes name. */
static int log_search(kyso_store *s, const log_opts *o, log_run *r)
{
    char needle[600];
    log_needle(o, needle, sizeof needle);
    kyso_query q = { .since_ms = o->since_ms, .until_ms = o->until_ms,
                     .ref = o->ref[0] ? o->ref : NULL, .needle = needle[0] ? needle : NULL };
    long long t = o->ref[0] ? ref_time_ms(o->ref) : -1;
    if (t > 0) {
        kyso_query nq = q;
        if (nq.since_ms < t - REF_WINDOW_MS)
            nq.since_ms = t - REF_WINDOW_MS;
        if (nq.until_ms == 0 || nq.until_ms > t + REF_WINDOW_MS)
            nq.until_ms = t + REF_WINDOW_MS;
        if (log_collect(s, o, &nq, r) < 0)
            return -1;
        if (r->matched > 0)
            return 0;
    }
    return log_collect(s, o, &q, r);
}

/* log_list - the table (or --json, --csv) of the last matches.  A limit
 * over ROUND_MAX is two passes, counting then printing the last ones as
 * they come, so that memory does not grow with it. */
static int log_list(kyso_store *s, const log_opts *o)
{
    int big = o->limit > ROUND_MAX;
    log_run r = { .o = o, .cap = o->limit, .stream = o->limit == 0, .count_only = big };
    int rc = log_search(s, o, &r) < 0 ? 2 : 0;
    if (rc == 0 && big) {
        r.skip = r.matched > o->limit ? r.matched - o->limit : 0;
        r.count_only = 0;
        r.stream = 1;
        rc = log_search(s, o, &r) < 0 ? 2 : 0;
    }
    log_row **rows = rc == 0 ? run_rows(&r) : NULL;
    if (rows) {
        int w[NCOLS];
        widths_fit(o, rows, r.len, w);
        if (o->fmt != FMT_JSON)
            o->fmt == FMT_CSV ? csv_header() : table_header(w);
        for (size_t i = 0; i < r.len; i++)
            r.printed += row_print(o, rows[i], w) == 0;
        free(rows);
    }
    run_print_warnings(&r);
    if (rc == 0 && r.printed == 0) {
        fprintf(stderr, "kyso log: no decision matched\n");
        rc = 1;
    }
    run_free(&r);
    return rc;
}

/* log_show - "show REF": every record of the reference, in full. */
static int log_show(kyso_store *s, const log_opts *o)
{
    log_run r = { .o = o };
    int rc = log_search(s, o, &r) < 0 ? 2 : 0;
    for (size_t i = 0; rc == 0 && i < r.len; i++) {
        if (o->fmt == FMT_JSON) {
            fwrite(r.rows[i].raw, 1, r.rows[i].n, stdout);
            putchar('\n');
        } else {
            json_doc *tmp;
            const json_value *root = row_root(&r.rows[i], &tmp);
            if (i)
                putchar('\n');
            if (root != NULL)
                show_record(root);
            json_free(tmp);
        }
        r.printed++;
    }
    run_print_warnings(&r);
    if (rc == 0 && r.printed == 0) {
        fprintf(stderr, "kyso log: no record with reference %s\n", o->ref);
        rc = 1;
    }
    run_free(&r);
    return rc;
}

/* log_on_signal - SIGINT, SIGTERM while following: stop at the next poll. */
static void log_on_signal(int sig)
{
    (void)sig;
    log_stop = 1;
}

/* log_follow - -f: new decisions as they are recorded, until interrupted. */
static int log_follow(kyso_store *s, const log_opts *o)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = log_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    log_run r = { .o = o, .stream = 1, .warn_now = 1 };
    int w[NCOLS];
    widths_fixed(o, w);
    if (o->fmt != FMT_JSON)
        o->fmt == FMT_CSV ? csv_header() : table_header(w);
    r.header_done = 1;
    fflush(stdout);
    char err[512];
    int rc = store_follow(s, STREAM_DECISIONS, log_on_record, &r, &log_stop, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "kyso log: %s\n", err);
    else if (r.oom)
        fprintf(stderr, "kyso log: out of memory\n");
    rc = rc < 0 || r.oom ? 2 : r.printed ? 0 : 1;
    run_free(&r);
    return rc;
}

/* ============================================================= options */

/* when_num - N digits at *P as a number, *P moved past them; -1 when
 * they are not N digits. */
static int when_num(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

/* when_local - local Y-M-D h:m:s as epoch ms; -1 when no such day. */
static int when_local(int y, int mo, int d, int h, int mi, int sec, long long *ms)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = sec, .tm_isdst = -1 };
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return -1;
    *ms = (long long)t * 1000;
    return 0;
}

/* when_date - "YYYY-MM-DD[( |T)HH:MM[:SS[.fff]]][Z|+hh:mm]": local time
 * unless an offset is given.  Returns 0, or -1. */
static int when_date(const char *s, long long *ms)
{
    const char *p = s;
    int y = when_num(&p, 4), mo = -1, d = -1, h = 0, mi = 0, sec = 0;
    if (y >= 0 && *p == '-' && (p++, mo = when_num(&p, 2)) >= 0 && *p == '-')
        p++, d = when_num(&p, 2);
    if (d < 0)
        return -1;
    if (*p == 'T' || *p == ' ') {
        p++;
        if ((h = when_num(&p, 2)) < 0 || *p++ != ':' || (mi = when_num(&p, 2)) < 0)
            return -1;
        if (*p == ':' && (p++, sec = when_num(&p, 2)) < 0)
            return -1;
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++)
                ;
    }
    if (*p == '\0')
        return when_local(y, mo, d, h, mi, sec, ms);
    char iso[80];
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, mo, d, h, mi, sec, p);
    return json_time_ms(iso, strlen(iso), ms);
}

/* parse_when - a --since or --until value: a duration back from now
 * (30s, 15m, 2h, 7d, 4w), now, today, yesterday, @EPOCH, or a date as
 * when_date reads it.  Returns 0 with *ms, or -1. */
static int parse_when(const char *s, long long *ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char *end;
    if (s[0] >= '0' && s[0] <= '9') {
        static const char units[] = "smhdw";
        static const long long unit_ms[] = {1000, 60000, 3600000, 86400000, 604800000};
        unsigned long long n = strtoull(s, &end, 10);
        const char *u = *end ? strchr(units, *end) : NULL;
        if (u && end[1] == '\0') {
            long long per = unit_ms[u - units];
            if (n > (unsigned long long)(now / per))
                return -1;
            *ms = now - (long long)n * per;
            return 0;
        }
    }
    if (strcmp(s, "now") == 0 || strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
        time_t t = (time_t)ts.tv_sec - (s[0] == 'y' ? 86400 : 0);
        struct tm tm;
        localtime_r(&t, &tm);
        if (s[0] == 'n') {
            *ms = now;
            return 0;
        }
        return when_local(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, 0, 0, 0, ms);
    }
    if (s[0] == '@') {
        long long v = strtoll(s + 1, &end, 10);
        if (end == s + 1 || *end || v < 0 || v > 32503680000LL)
            return -1;
        *ms = v * 1000;
        return 0;
    }
    return when_date(s, ms);
}

/* norm_ref - a reference as typed into OUT: trimmed, upper case, "KS-"
 * added when missing, and the characters Crockford base32 reads alike
 * (O as 0, I and L as 1) mapped when that gives a well-formed id. */
static void norm_ref(const char *in, char *out, size_t len)
{
    char t[40];
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < sizeof t; p++)
        if (*p != ' ' && *p != '\t')
            t[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    t[n] = '\0';
    if (strncmp(t, "KS-", 3) == 0 || strlen(t) != 12)
        snprintf(out, len, "%s", t);
    else
        snprintf(out, len, "KS-%s", t);
    if (strlen(out) == 15 && strncmp(out, "KS-", 3) == 0) {
        char m[16];
        memcpy(m, out, 16);
        for (int i = 3; i < 15; i++)
            m[i] = m[i] == 'O' ? '0' : m[i] == 'I' || m[i] == 'L' ? '1' : m[i];
        if (ref_time_ms(m) >= 0)
            memcpy(out, m, 16);
    }
}

/* norm_addr - an address as typed: "<a@b>" and "a@b" are the same, "<>"
 * the null sender (""), into BUF. */
static const char *norm_addr(const char *in, char *buf, size_t len)
{
    size_t n = strlen(in);
    if (n >= 2 && in[0] == '<' && in[n - 1] == '>')
        snprintf(buf, len, "%.*s", (int)(n - 2), in + 1);
    else
        snprintf(buf, len, "%s", in);
    return buf;
}

/* log_usage - the synopsis of kyso log, on FP. */
static void log_usage(FILE *fp)
{
    fputs("usage: kyso log [-c CONFIG] [--store URI] [--limit N] [--since WHEN] [--until WHEN]\n"
          "                [--sender ADDR] [--rcpt ADDR] [--domain DOMAIN] [--action ACTION]\n"
          "                [--reason REASON] [--ref REF] [--json | --csv] [-f]\n"
          "       kyso log [-c CONFIG] [--store URI] [--json] show REF\n"
          "WHEN: 2h, 30m, 7d, today, yesterday, 2026-11-30, '2026-11-30 08:00'.\n"
          "Exit 0: something printed; 1: nothing matched; 2: error.  See kyso(1).\n", fp);
}

/* check_action - is A an action name? */
static int check_action(const char *a)
{
    static const char *const names[] = {"accept", "reject", "tempfail", "quarantine"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(a, names[i]) == 0)
            return 0;
    fprintf(stderr, "kyso log: --action %s: want accept, reject, tempfail or quarantine\n", a);
    return -1;
}

/* opt_when - --since/--until VALUE into *MS; 0, or -1 after printing. */
static int opt_when(const char *opt, const char *value, long long *ms)
{
    if (parse_when(value, ms) == 0)
        return 0;
    fprintf(stderr, "kyso log: --%s '%s': not a time; write a duration back from now "
            "(30m, 2h, 7d), today, yesterday, a date (2026-11-30) or a local date and "
            "time ('2026-11-30 08:00')\n", opt, value);
    return -1;
}

/* opt_limit - --limit VALUE; 0, or -1 after printing. */
static int opt_limit(const char *value, size_t *out)
{
    char *end;
    unsigned long long n = strtoull(value, &end, 10);
    if (*value == '\0' || *end != '\0' || value[0] == '-' || n > 100000000ULL) {
        fprintf(stderr, "kyso log: --limit %s: want a whole number (0: every match)\n",
                value);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

/* opt_one - one option C with ARG into O; 0, or -1 after printing. */
static int opt_one(log_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'c': o->config = arg; return 0;
    case 'S': o->store = arg; return 0;
    case 'n': return opt_limit(arg, &o->limit);
    case 's': return opt_when("since", arg, &o->since_ms);
    case 'u': return opt_when("until", arg, &o->until_ms);
    case 'F': o->sender = norm_addr(arg, o->sender_buf, sizeof o->sender_buf); return 0;
    case 'R': o->rcpt = norm_addr(arg, o->rcpt_buf, sizeof o->rcpt_buf); return 0;
    case 'D':
        arg += arg[0] == '@' || arg[0] == '.';
        snprintf(o->domain_buf, sizeof o->domain_buf, "%s", arg);
        o->domain = o->domain_buf;
        return 0;
    case 'A': o->action = arg; return check_action(arg);
    case 'W':
        o->reason = arg;
        if (reason_from_name(arg) >= 0)
            return 0;
        fprintf(stderr, "kyso log: --reason %s: not a reason name (see REASONS in kyso(1))\n",
                arg);
        return -1;
    case 'r': norm_ref(arg, o->ref, sizeof o->ref); return 0;
    case 'j': o->fmt = o->fmt == FMT_CSV ? -1 : FMT_JSON; return 0;
    case 'C': o->fmt = o->fmt == FMT_JSON ? -1 : FMT_CSV; return 0;
    case 'f': o->follow = 1; return 0;
    case 'h': log_usage(stdout); exit(0);
    default: log_usage(stderr); return -1;
    }
}

/* log_check_opts - what the options say together; 0, or -1 after printing. */
static int log_check_opts(log_opts *o, int argc, char **argv, int first)
{
    if (o->fmt < 0) {
        fprintf(stderr, "kyso log: --json and --csv exclude each other\n");
        return -1;
    }
    if (first < argc && strcmp(argv[first], "show") == 0 && first + 2 == argc) {
        o->show = 1;
        norm_ref(argv[first + 1], o->ref, sizeof o->ref);
    } else if (first < argc) {
        fprintf(stderr, "kyso log: unexpected '%s'%s\n", argv[first],
                strcmp(argv[first], "show") == 0 ? " (show takes one REF)" : "");
        log_usage(stderr);
        return -1;
    }
    if (o->show && (o->follow || o->fmt == FMT_CSV)) {
        fprintf(stderr, "kyso log: show prints one record: no -f or --csv with it\n");
        return -1;
    }
    if (o->since_ms && o->until_ms && o->since_ms >= o->until_ms) {
        fprintf(stderr, "kyso log: --since is not before --until: nothing could match\n");
        return -1;
    }
    return 0;
}

/* log_parse_opts - the command line into O; 0, or -1 after printing. */
static int log_parse_opts(int argc, char **argv, log_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"store", required_argument, NULL, 'S'},
        {"limit", required_argument, NULL, 'n'}, {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'}, {"sender", required_argument, NULL, 'F'},
        {"rcpt", required_argument, NULL, 'R'}, {"domain", required_argument, NULL, 'D'},
        {"action", required_argument, NULL, 'A'}, {"reason", required_argument, NULL, 'W'},
        {"ref", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
        {"csv", no_argument, NULL, 'C'}, {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
    };
    int c;
    memset(o, 0, sizeof *o);
    o->config = CMD_DEFAULT_CONFIG;
    o->limit = DEFAULT_LIMIT;
    o->doc_width = 40;
    while ((c = getopt_long(argc, argv, "c:fn:h", longopts, NULL)) != -1)
        if (opt_one(o, c, optarg) < 0)
            return -1;
    return log_check_opts(o, argc, argv, optind);
}


/* log_future - a --since later than now: said, and nothing can match. */
static int log_future(const log_opts *o)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (o->follow || o->since_ms <= now)
        return 0;
    log_view v = { .t = o->since_ms, .has_t = 1 };
    kyso_buf b = {0};
    cell_time(&b, &v);
    fprintf(stderr, "kyso log: --since is in the future (%s): no decision can match yet\n",
            b.p ? b.p : "?");
    buf_free(&b);
    return 1;
}

/* cmd_log - see cmd-log.h: options, then one of list, show, follow on
 * the store; a failed write of the output is an error too (exit 2). */
int cmd_log(int argc, char **argv)
{
    log_opts o;
    if (log_parse_opts(argc, argv, &o) < 0)
        return 2;
    if (log_future(&o))
        return 1;
    kyso_store *s = cmd_open_store("kyso log", o.config, o.store, CMD_STORE_READ);
    if (s == NULL)
        return 2;
    int rc = o.follow ? log_follow(s, &o) : o.show ? log_show(s, &o) : log_list(s, &o);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kyso log: writing the output: %s\n", strerror(errno));
        rc = 2;
    }
    store_close(s);
    return rc;
}
