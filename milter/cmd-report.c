/*
 * cmd-report.c - "kyso report": what an agency owes in its yearly or
 * half-yearly report on digital signatures (REGULATIONS.md R15: Khánh Hòa
 * Mẫu số 12, the Đồng Tháp appendix), counted from the decision records
 * of the store for one organisation (a domain) or all, over a period.
 * The counting is lib/report.c; this file reads the store (lib/store.h,
 * the same for the file store and Redis), and writes a plain text table,
 * CSV (RFC 4180, one section per table) or one self-contained HTML page
 * (inline CSS and SVG chart, no script, no external asset).  The contract
 * (options, what each number means, exit status) is in kyso(1).
 *
 * Must never write to the store, never crash on a damaged record (it is
 * skipped, counted and said on standard error), never send record text raw
 * to a terminal, a CSV cell a spreadsheet would run, or an HTML page
 * (every text from a record is escaped for where it goes).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cmd-report.h"
#include "cmd-store.h"
#include "config.h"
#include "reasons.h"
#include "report.h"
#include "store.h"

#define MAX_WARNINGS    10
#define MAX_FILL_MONTHS 240     /* a longer span shows only months with records */
#define DAY_MS          86400000LL

enum { FMT_TEXT = 0, FMT_CSV, FMT_HTML };

typedef struct rep_opts {
    const char *config, *store, *org, *html;
    long long since_ms, until_ms;   /* 0: not bounded */
    int year;                       /* --year, 0 when not given */
    int fmt;
    int dup;                        /* --csv and --html both given */
    int counters;                   /* --from-counters */
} rep_opts;

/* What the output needs besides the counts. */
typedef struct rep_ctx {
    const rep_opts *o;
    const report_counts *c;
    const char *org;                /* normalised, "" for all */
    long long now_ms;
    report_month *months;           /* the months to show, gaps filled */
    size_t nmonths;
} rep_ctx;

/* One pass over the store. */
typedef struct rep_run {
    kyso_report *r;
    size_t warned;
    int oom;
} rep_run;

/* A row label: stable key (CSV), Vietnamese and English. */
typedef struct rep_label {
    const char *key, *vi, *en;
} rep_label;

static const rep_label act_labels[REPORT_NACT] = {
    {"accept", "Chấp nhận, chuyển tiếp", "accepted"},
    {"reject", "Từ chối", "rejected"},
    {"tempfail", "Tạm hoãn, yêu cầu gửi lại", "temporarily refused"},
    {"quarantine", "Cách ly", "quarantined"},
    {"other", "Khác", "other"},
};
static const rep_label class_labels[REPORT_NCLASS] = {
    {"organisation", "Chứng thư số tổ chức", "organisation certificates"},
    {"personal", "Chứng thư số cá nhân", "personal certificates"},
    {"unknown", "Chưa xác định loại", "class not known"},
};
static const rep_label dir_labels[3] = {
    {"sent", "Văn bản gửi đi", "sent"},
    {"received", "Văn bản nhận đến", "received"},
    {"all", "Tổng số (mỗi văn bản tính một lần)", "total, each document once"},
};

/* The headings, after the forms: Mẫu số 12 II.2, the Đồng Tháp table. */
#define H_TITLE_VI  "Tình hình ứng dụng chữ ký số"
#define H_TITLE_EN  "Report on the use of digital signatures"
#define H_DOCS_VI   "Số lượng văn bản ứng dụng chữ ký số"
#define H_DOCS_EN   "Documents with valid digital signatures"
#define C_DOCS_VI   "Tổng số văn bản ứng dụng chữ ký số"
#define C_DOCS_EN   "with valid signatures"
#define C_BOTH_VI   "Trong đó: ứng dụng đồng thời chữ ký số cá nhân và chữ ký số " \
                    "của cơ quan, tổ chức"
#define C_BOTH_EN   "of which with both a personal and an organisation signature"
#define H_REF_VI    "Văn bản bị từ chối, theo lý do"
#define H_REF_EN    "Documents refused, by reason"
#define H_APP_VI    "Chữ ký số của cơ quan, tổ chức do cổng thư điện tử ký"
#define H_APP_EN    "Organisation signatures applied by the gateway"
#define H_CERT_VI   "Tình hình sử dụng chứng thư số, theo loại"
#define H_CERT_EN   "Certificates seen, by class"
#define H_MSG_VI    "Thư điện tử theo kết quả xử lý"
#define H_MSG_EN    "Messages by action"
#define H_MON_VI    "Số văn bản theo tháng"
#define H_MON_EN    "Documents per month"
#define N_APPLIED_VI "Không có chữ ký số nào do cổng ký được ghi nhận trong kỳ: cổng chỉ " \
                    "ghi nhận khi chức năng ký số tại cổng được sử dụng."
#define N_APPLIED_EN "None recorded in this period: the gateway records the signatures " \
                    "it applies only when gateway signing is in use (not configured, " \
                    "or not yet in this version)."

/* ============================================================== text */

/* now_ms - the wall clock in epoch milliseconds. */
static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* local_tm - the local broken-down time of MS into TM; 0, or -1. */
static int local_tm(long long ms, struct tm *tm)
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    return localtime_r(&t, tm) ? 0 : -1;
}

/* fmt_time - MS as local time in FMT (strftime) into OUT; "?" when it
 * cannot be shown. */
static const char *fmt_time(long long ms, const char *fmt, char *out, size_t len)
    __attribute__((format(strftime, 2, 0)));
static const char *fmt_time(long long ms, const char *fmt, char *out, size_t len)
{
    struct tm tm;
    size_t n = 0;
    if (local_tm(ms, &tm) == 0) {
#pragma GCC diagnostic push     /* FMT is checked at each call (the attribute) */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        n = strftime(out, len, fmt, &tm);
#pragma GCC diagnostic pop
    }
    if (n == 0)
        snprintf(out, len, "?");
    return out;
}

/* iso_time - MS as RFC 3339 local time ("2026-11-30T10:42:43+07:00") in OUT. */
static const char *iso_time(long long ms, char *out, size_t len)
{
    char z[8];
    fmt_time(ms, "%Y-%m-%dT%H:%M:%S", out, len);
    fmt_time(ms, "%z", z, sizeof z);
    size_t n = strlen(out);
    if (strlen(z) == 5 && n + 7 <= len)
        snprintf(out + n, len - n, "%.3s:%s", z, z + 3);
    return out;
}

/* is_midnight - is MS a local midnight? */
static int is_midnight(long long ms)
{
    struct tm tm;
    return ms % 1000 == 0 && local_tm(ms, &tm) == 0 && tm.tm_hour == 0 && tm.tm_min == 0
           && tm.tm_sec == 0;
}

/* text_width - terminal columns of UTF-8 S: each code point one, the
 * combining marks (U+0300..U+036F) none. */
static int text_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80 && !(*p == 0xCC || (*p == 0xCD && p[1] < 0xB0)))
            w++;
    return w;
}

/* term_clean - S (valid UTF-8: json.c checks) into B with what would act
 * on a terminal (controls, DEL, C1, bidirectional marks) written \xNN or
 * \uNNNN. */
static void term_clean(kyso_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            buf_printf(b, "\\x%02X", *p);
        } else if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            buf_printf(b, "\\u00%02X", p[1]);
            p++;
        } else if (p[0] == 0xE2 && ((p[1] == 0x80 && (p[2] == 0x8E || p[2] == 0x8F
                                                      || (p[2] >= 0xAA && p[2] <= 0xAE)))
                                    || (p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9))) {
            buf_printf(b, "\\u%04X", 0x2000 | (p[1] & 0x3F) << 6 | (p[2] & 0x3F));
            p += 2;
        } else {
            buf_append(b, p, 1);
        }
    }
}

/* html_esc - S into B with & < > " ' as character references. */
static void html_esc(kyso_buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': buf_append(b, "&amp;", 5); break;
        case '<': buf_append(b, "&lt;", 4); break;
        case '>': buf_append(b, "&gt;", 4); break;
        case '"': buf_append(b, "&quot;", 6); break;
        case '\'': buf_append(b, "&#39;", 5); break;
        default: buf_append(b, p, 1);
        }
    }
}

/* csv_field - one RFC 4180 field into B, then ',' or CRLF (LAST): quoted
 * when it holds a comma, quote, CR or LF or begins or ends with a space; a
 * text a spreadsheet would run as a formula (= + - @ first) gets a leading
 * apostrophe. */
static void csv_field(kyso_buf *b, const char *s, int last)
{
    int formula = s[0] == '=' || s[0] == '+' || s[0] == '@' || (s[0] == '-' && s[1]);
    size_t n = strlen(s);
    int quote = formula || strpbrk(s, ",\"\r\n") || s[0] == ' ' || (n && s[n - 1] == ' ');
    if (quote)
        buf_append(b, "\"", 1);
    if (formula)
        buf_append(b, "'", 1);
    for (const char *p = s; *p; p++) {
        buf_append(b, p, 1);
        if (*p == '"')
            buf_append(b, "\"", 1);            /* a quote twice: "" */
    }
    if (quote)
        buf_append(b, "\"", 1);
    buf_append(b, last ? "\r\n" : ",", last ? 2 : 1);
}

/* csv_row - the N fields of a row into B. */
static void csv_row(kyso_buf *b, const char *const *f, int n)
{
    for (int i = 0; i < n; i++)
        csv_field(b, f[i], i == n - 1);
}

/* ============================================================= period */

/* period_words - the period in words: Vietnamese into VI, English into
 * EN ("từ ngày 01/01/2025 đến hết ngày 31/12/2025"). */
static void period_words(const rep_ctx *x, char *vi, size_t vl, char *en, size_t el)
{
    char a[40], b[40], c[40], d[40];
    long long s = x->o->since_ms, u = x->o->until_ms;
    if (s == 0) {
        snprintf(a, sizeof a, "bản ghi đầu tiên");
        snprintf(c, sizeof c, "the first record");
    } else {
        fmt_time(s, is_midnight(s) ? "ngày %d/%m/%Y" : "%H:%M ngày %d/%m/%Y", a, sizeof a);
        fmt_time(s, is_midnight(s) ? "%Y-%m-%d" : "%Y-%m-%d %H:%M", c, sizeof c);
    }
    if (u == 0) {
        snprintf(b, sizeof b, "nay");
        snprintf(d, sizeof d, "now");
    } else if (is_midnight(u)) {
        fmt_time(u - 1, "hết ngày %d/%m/%Y", b, sizeof b);
        fmt_time(u - 1, "%Y-%m-%d inclusive", d, sizeof d);
    } else {
        fmt_time(u, "trước %H:%M ngày %d/%m/%Y", b, sizeof b);
        fmt_time(u, "before %Y-%m-%d %H:%M", d, sizeof d);
    }
    snprintf(vi, vl, "từ %s đến %s", a, b);
    snprintf(en, el, "from %s to %s", c, d);
}

/* month_index - a month as year * 12 + month - 1. */
static long month_index(int year, int month)
{
    return (long)year * 12 + month - 1;
}

/* months_fill - the months to show: from the period's first month (or the
 * first with records) to its last, those without records as zeros; only
 * the months with records when that span is over MAX_FILL_MONTHS.  Into
 * X; 0, or -1 when out of memory. */
static int months_fill(rep_ctx *x)
{
    const report_counts *c = x->c;
    struct tm tm;
    long lo = c->nmonths ? month_index(c->months[0].year, c->months[0].month) : -1;
    long hi = c->nmonths ? month_index(c->months[c->nmonths - 1].year,
                                       c->months[c->nmonths - 1].month) : -1;
    if (x->o->since_ms && local_tm(x->o->since_ms, &tm) == 0)
        lo = month_index(tm.tm_year + 1900, tm.tm_mon + 1);
    if (x->o->until_ms && local_tm(x->o->until_ms - 1, &tm) == 0)
        hi = month_index(tm.tm_year + 1900, tm.tm_mon + 1);
    if (lo < 0 || hi < lo || hi - lo >= MAX_FILL_MONTHS) {
        x->months = c->nmonths ? malloc(c->nmonths * sizeof *x->months) : NULL;
        if (c->nmonths && x->months == NULL)
            return -1;
        if (c->nmonths)
            memcpy(x->months, c->months, c->nmonths * sizeof *x->months);
        x->nmonths = c->nmonths;
        return 0;
    }
    x->nmonths = (size_t)(hi - lo + 1);
    if ((x->months = calloc(x->nmonths, sizeof *x->months)) == NULL)
        return -1;
    for (size_t i = 0; i < x->nmonths; i++) {
        x->months[i].year = (int)((lo + (long)i) / 12);
        x->months[i].month = (int)((lo + (long)i) % 12) + 1;
    }
    for (size_t i = 0; i < c->nmonths; i++) {
        long k = month_index(c->months[i].year, c->months[i].month);
        if (k >= lo && k <= hi)
            x->months[k - lo] = c->months[i];
    }
    return 0;
}

/* ============================================================ plain text */

/* pad - S then spaces up to W columns into B. */
static void pad(kyso_buf *b, const char *s, int w)
{
    buf_append(b, s, strlen(s));
    for (int n = text_width(s); n < w; n++)
        buf_append(b, " ", 1);
}

/* text_wrap - TEXT into B as lines of at most WIDTH columns, each one
 * after INDENT; breaks at spaces only. */
static void text_wrap(kyso_buf *b, const char *indent, const char *text, int width)
{
    int col = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, " ");
        char word[256];
        snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1), p);
        int w = text_width(word);
        if (col > 0 && col + 1 + w > width) {
            buf_append(b, "\n", 1);
            col = 0;
        }
        buf_printf(b, "%s%s", col ? " " : indent, word);
        col += col ? 1 + w : text_width(indent) + w;
        p += n;
        p += *p == ' ';
    }
    buf_append(b, "\n", 1);
}

/* text_head - the block naming organisation, period, time and nodes. */
static void text_head(kyso_buf *b, const rep_ctx *x)
{
    char vi[160], en[160], t[64];
    const report_counts *c = x->c;
    buf_printf(b, "KYSO REPORT - %s\n%s\n\n", "BÁO CÁO " H_TITLE_VI, H_TITLE_EN);
    if (x->org[0])
        buf_printf(b, "Organisation:  %s and its subdomains\n", x->org);
    else
        buf_printf(b, "Organisation:  all (every sender and recipient domain)\n");
    period_words(x, vi, sizeof vi, en, sizeof en);
    buf_printf(b, "Period:        %s (local time)\n", en);
    buf_printf(b, "Generated:     %s\n", fmt_time(x->now_ms, "%Y-%m-%d %H:%M:%S %z", t,
                                                   sizeof t));
    buf_printf(b, "Records:       %llu decision records", c->records);
    if (c->records) {
        char t2[64];
        buf_printf(b, ", %s to %s", fmt_time(c->first_ms, "%Y-%m-%d %H:%M", t, sizeof t),
                   fmt_time(c->last_ms, "%Y-%m-%d %H:%M", t2, sizeof t2));
    }
    if (c->damaged)
        buf_printf(b, "; %llu damaged records skipped", c->damaged);
    buf_printf(b, "\nGateway nodes: ");
    for (size_t i = 0; i < c->nnodes; i++) {
        buf_printf(b, "%s", i ? ", " : "");
        term_clean(b, c->nodes[i].name);
        buf_printf(b, " (%llu)", c->nodes[i].records);
    }
    buf_printf(b, "%s\n\n", c->nnodes ? "" : "none");
}

/* text_docs - table I. */
static void text_docs(kyso_buf *b, const rep_ctx *x)
{
    const report_docs *d[3] = {&x->c->sent, &x->c->received, &x->c->all};
    buf_printf(b, "I. %s\n   %s\n", H_DOCS_EN, H_DOCS_VI);
    buf_printf(b, "   %-34s %12s %24s\n", "", "valid", "personal + organisation");
    for (int i = x->org[0] ? 0 : 2; i < 3; i++) {
        char l[64];
        snprintf(l, sizeof l, "%s", x->org[0] || i < 2 ? dir_labels[i].en : "all documents");
        buf_printf(b, "   ");
        pad(b, l, 34);
        buf_printf(b, " %12llu %24llu\n", d[i]->valid, d[i]->both);
    }
    buf_printf(b, "   Only documents of a checked type (DocumentTypes), in messages that were "
               "accepted.\n\n");
}

/* text_reasons - table II. */
static void text_reasons(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    buf_printf(b, "II. %s\n    %s\n", H_REF_EN, H_REF_VI);
    buf_printf(b, "   %8s %8s %8s  %-26s %s\n", "refused", "monitor", "accepted", "reason",
               "(lý do)");
    for (size_t i = 0; i < c->nreasons; i++) {
        const report_reason *r = &c->reasons[i];
        buf_printf(b, "   %8llu %8llu %8llu  %-26s %s\n", r->refused, r->would, r->accepted,
                   r->name, r->code >= 0 ? reason_text_vi((kyso_reason)r->code)
                                         : "(lý do chưa biết / unknown reason)");
    }
    buf_printf(b, "   %8llu %8llu %8llu  %s\n", c->refused, c->would, c->accepted,
               "total (tổng cộng)");
    buf_printf(b, "   monitor: not refused because of monitor mode, enforce would have;\n"
               "   accepted: not valid, but the On-* keys let it through.\n\n");
}

/* text_applied - table III and its footnote. */
static void text_applied(kyso_buf *b, const rep_ctx *x)
{
    buf_printf(b, "III. %s\n     %s\n", H_APP_EN, H_APP_VI);
    buf_printf(b, "   %-34s %12llu%s\n", "applied", x->c->applied, x->c->applied ? "" : " (*)");
    if (x->c->applied == 0)
        text_wrap(b, "   ", "(*) " N_APPLIED_EN, 90);
    buf_printf(b, "\n");
}

/* text_certs - table IV. */
static void text_certs(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    report_n seen = 0, valid = 0;
    buf_printf(b, "IV. %s (distinct serial + issuer)\n    %s\n", H_CERT_EN, H_CERT_VI);
    buf_printf(b, "   %-34s %12s %24s\n", "", "seen", "in a valid signature");
    for (int i = 0; i < REPORT_NCLASS; i++) {
        buf_printf(b, "   ");
        pad(b, report_class_name(i), 34);
        buf_printf(b, " %12llu %24llu\n", c->certs[i], c->certs_valid[i]);
        seen += c->certs[i];
        valid += c->certs_valid[i];
    }
    buf_printf(b, "   %-34s %12llu %24llu\n\n", "total", seen, valid);
}

/* text_actions - table V. */
static void text_actions(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    report_n n = 0, w = 0;
    buf_printf(b, "V. %s\n   %s\n", H_MSG_EN, H_MSG_VI);
    buf_printf(b, "   %-34s %12s %24s\n", "", "messages", "monitor mode: would");
    for (int i = 0; i < REPORT_NACT; i++) {
        if (i == REPORT_ACT_OTHER && !c->actions[i] && !c->would_act[i])
            continue;
        buf_printf(b, "   %-34s %12llu %24llu\n", report_action_name(i), c->actions[i],
                   c->would_act[i]);
        n += c->actions[i];
        w += c->would_act[i];
    }
    buf_printf(b, "   %-34s %12llu %24llu\n\n", "total", n, w);
}

/* text_months - table VI. */
static void text_months(kyso_buf *b, const rep_ctx *x)
{
    buf_printf(b, "VI. %s\n    %s\n", H_MON_EN, H_MON_VI);
    if (x->org[0])
        buf_printf(b, "   %-8s %10s %10s %10s %10s\n", "month", "sent", "received", "total",
                   "refused");
    else
        buf_printf(b, "   %-8s %10s %10s\n", "month", "valid", "refused");
    for (size_t i = 0; i < x->nmonths; i++) {
        const report_month *m = &x->months[i];
        if (x->org[0])
            buf_printf(b, "   %04d-%02d  %10llu %10llu %10llu %10llu\n", m->year, m->month,
                       m->sent, m->received, m->all, m->refused);
        else
            buf_printf(b, "   %04d-%02d  %10llu %10llu\n", m->year, m->month, m->all,
                       m->refused);
    }
}

/* out_text - the whole plain text report into B. */
static void out_text(kyso_buf *b, const rep_ctx *x)
{
    text_head(b, x);
    text_docs(b, x);
    text_reasons(b, x);
    text_applied(b, x);
    text_certs(b, x);
    text_actions(b, x);
    text_months(b, x);
}

/* ================================================================= CSV */

/* csv_num - N as text in S. */
static const char *csv_num(report_n n, char *s, size_t len)
{
    snprintf(s, len, "%llu", n);
    return s;
}

/* csv_head - section "report": key, value. */
static void csv_head(kyso_buf *b, const rep_ctx *x)
{
    char vi[160], en[160], t[64], n[32];
    const report_counts *c = x->c;
    period_words(x, vi, sizeof vi, en, sizeof en);
    const char *h[] = {"section", "key", "value"};
    csv_row(b, h, 3);
    const char *rows[][3] = {
        {"report", "organisation", x->org[0] ? x->org : "all"},
        {"report", "period", en},
        {"report", "period_vi", vi},
        {"report", "generated", iso_time(x->now_ms, t, sizeof t)},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        csv_row(b, rows[i], 3);
    const char *r1[] = {"report", "records", csv_num(c->records, n, sizeof n)};
    csv_row(b, r1, 3);
    const char *r2[] = {"report", "damaged_records_skipped", csv_num(c->damaged, n, sizeof n)};
    csv_row(b, r2, 3);
    buf_append(b, "\r\n", 2);
    const char *nh[] = {"section", "node", "records"};
    csv_row(b, nh, 3);
    for (size_t i = 0; i < c->nnodes; i++) {
        kyso_buf clean = {0};
        term_clean(&clean, c->nodes[i].name);
        buf_append(&clean, "", 1);
        const char *r[] = {"nodes", clean.oom ? "?" : clean.p,
                           csv_num(c->nodes[i].records, n, sizeof n)};
        csv_row(b, r, 3);
        buf_free(&clean);
    }
}

/* csv_docs - section "documents". */
static void csv_docs(kyso_buf *b, const rep_ctx *x)
{
    const report_docs *d[3] = {&x->c->sent, &x->c->received, &x->c->all};
    const char *h[] = {"section", "direction", "valid", "valid_personal_and_organisation"};
    buf_append(b, "\r\n", 2);
    csv_row(b, h, 4);
    for (int i = 0; i < 3; i++) {
        char v[32], w[32];
        const char *r[] = {"documents", dir_labels[i].key, csv_num(d[i]->valid, v, sizeof v),
                           csv_num(d[i]->both, w, sizeof w)};
        csv_row(b, r, 4);
    }
}

/* csv_reasons - section "refused". */
static void csv_reasons(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    const char *h[] = {"section", "reason", "reason_vi", "refused", "monitor_would_refuse",
                       "accepted_by_policy"};
    buf_append(b, "\r\n", 2);
    csv_row(b, h, 6);
    for (size_t i = 0; i < c->nreasons; i++) {
        const report_reason *r = &c->reasons[i];
        char a[32], w[32], p[32];
        const char *row[] = {"refused", r->name,
                             r->code >= 0 ? reason_text_vi((kyso_reason)r->code) : "",
                             csv_num(r->refused, a, sizeof a), csv_num(r->would, w, sizeof w),
                             csv_num(r->accepted, p, sizeof p)};
        csv_row(b, row, 6);
    }
}

/* csv_rest - sections "applied", "certificates", "messages", "months". */
static void csv_rest(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    char s1[32], s2[32], s3[32], s4[32], s5[32], mo[16];
    const char *ha[] = {"section", "applied", "note"};
    const char *ra[] = {"applied", csv_num(c->applied, s1, sizeof s1),
                        c->applied ? "" : N_APPLIED_EN};
    const char *hc[] = {"section", "class", "seen", "valid"};
    const char *hm[] = {"section", "action", "messages", "monitor_would"};
    const char *hs[] = {"section", "month", "sent_valid", "received_valid", "all_valid",
                        "refused"};
    buf_append(b, "\r\n", 2);
    csv_row(b, ha, 3);
    csv_row(b, ra, 3);
    buf_append(b, "\r\n", 2);
    csv_row(b, hc, 4);
    for (int i = 0; i < REPORT_NCLASS; i++) {
        const char *r[] = {"certificates", report_class_name(i),
                           csv_num(c->certs[i], s1, sizeof s1),
                           csv_num(c->certs_valid[i], s2, sizeof s2)};
        csv_row(b, r, 4);
    }
    buf_append(b, "\r\n", 2);
    csv_row(b, hm, 4);
    for (int i = 0; i < REPORT_NACT; i++) {
        const char *r[] = {"messages", report_action_name(i),
                           csv_num(c->actions[i], s1, sizeof s1),
                           csv_num(c->would_act[i], s2, sizeof s2)};
        csv_row(b, r, 4);
    }
    buf_append(b, "\r\n", 2);
    csv_row(b, hs, 6);
    for (size_t i = 0; i < x->nmonths; i++) {
        const report_month *m = &x->months[i];
        snprintf(mo, sizeof mo, "%04d-%02d", m->year, m->month);
        const char *r[] = {"months", mo, csv_num(m->sent, s2, sizeof s2),
                           csv_num(m->received, s3, sizeof s3), csv_num(m->all, s4, sizeof s4),
                           csv_num(m->refused, s5, sizeof s5)};
        csv_row(b, r, 6);
    }
}

/* out_csv - the whole CSV report into B. */
static void out_csv(kyso_buf *b, const rep_ctx *x)
{
    csv_head(b, x);
    csv_docs(b, x);
    csv_reasons(b, x);
    csv_rest(b, x);
}

/* ================================================================ HTML */

static const char html_style[] =
    "body{font-family:'Times New Roman',Times,serif;color:#111;background:#fff;"
    "max-width:62em;margin:2em auto;padding:0 1.5em;line-height:1.4}\n"
    "h1{text-align:center;font-size:1.5em;margin:.2em 0 1em}\n"
    "h1 .up{display:block;font-size:1.1em;letter-spacing:.05em}\n"
    "h2{font-size:1.15em;margin:1.8em 0 .5em;border-bottom:1px solid #999}\n"
    ".en{display:block;font-size:.75em;font-weight:normal;color:#555;"
    "font-family:Arial,Helvetica,sans-serif}\n"
    "h2 .en,dt .en{display:inline;margin-left:.5em}\n"
    ".form{text-align:right;font-style:italic;font-size:.9em;margin:0}\n"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em}\n"
    "dl.meta dt{font-weight:bold}dl.meta dd{margin:0}\n"
    "table{border-collapse:collapse;width:100%;margin:.5em 0}\n"
    "th,td{border:1px solid #777;padding:.3em .5em;vertical-align:top}\n"
    "thead th{background:#eef1f5;text-align:center}\n"
    "tbody th{text-align:left;font-weight:normal}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "tr.total th,tr.total td{font-weight:bold;background:#f6f6f6}\n"
    "code{font-size:.9em}\n"
    ".note{font-size:.85em;color:#333}\n"
    "svg{max-width:100%;height:auto;font-family:Arial,Helvetica,sans-serif}\n"
    ".legend span{display:inline-block;margin-right:1.5em;font-size:.85em}\n"
    ".legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;"
    "vertical-align:middle}\n"
    "@media print{body{margin:0;max-width:none}h2{break-after:avoid}}\n";

/* Series of the chart: colour, label, and the value of a month. */
typedef struct chart_series {
    const char *color, *vi, *en, *cls;
    report_n (*value)(const report_month *m);
} chart_series;

static report_n mv_sent(const report_month *m) { return m->sent; }
static report_n mv_received(const report_month *m) { return m->received; }
static report_n mv_all(const report_month *m) { return m->all; }
static report_n mv_refused(const report_month *m) { return m->refused; }

static const chart_series series_org[3] = {
    {"#1f5fa8", "Gửi đi, chữ ký hợp lệ", "sent, valid", "sent", mv_sent},
    {"#4aa35a", "Nhận đến, chữ ký hợp lệ", "received, valid", "received", mv_received},
    {"#c8452f", "Bị từ chối", "refused", "refused", mv_refused},
};
static const chart_series series_all[2] = {
    {"#1f5fa8", "Chữ ký hợp lệ", "valid", "all", mv_all},
    {"#c8452f", "Bị từ chối", "refused", "refused", mv_refused},
};

/* th_bi - a header cell with Vietnamese and smaller English. */
static void th_bi(kyso_buf *b, const char *vi, const char *en)
{
    buf_printf(b, "<th>%s<span class=\"en\">%s</span></th>", vi, en);
}

/* td_num - a number cell with id ID (may be NULL). */
static void td_num(kyso_buf *b, const char *id, report_n n)
{
    if (id)
        buf_printf(b, "<td class=\"num\" id=\"%s\">%llu</td>", id, n);
    else
        buf_printf(b, "<td class=\"num\">%llu</td>", n);
}

/* html_head - document start, title block and the facts of the report. */
static void html_head(kyso_buf *b, const rep_ctx *x)
{
    char vi[160], en[160], t[64], t2[64];
    const report_counts *c = x->c;
    period_words(x, vi, sizeof vi, en, sizeof en);
    buf_printf(b, "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<meta name=\"generator\" content=\"kyso report\">\n<title>Báo cáo %s – ",
               H_TITLE_VI);
    html_esc(b, x->org[0] ? x->org : "tất cả");
    buf_printf(b, " – %s</title>\n<style>\n%s</style>\n</head>\n<body>\n", vi, html_style);
    buf_printf(b, "<p class=\"form\">Theo Mẫu số 12 (Khánh Hòa) và Phụ lục mẫu báo cáo "
               "(Đồng Tháp)<span class=\"en\">After the R15 reporting forms: Khánh Hòa "
               "form 12, Đồng Tháp appendix</span></p>\n");
    buf_printf(b, "<h1><span class=\"up\">BÁO CÁO</span>%s", H_TITLE_VI);
    if (x->o->year)
        buf_printf(b, " năm %d", x->o->year);
    buf_printf(b, "<span class=\"en\">%s</span></h1>\n<dl class=\"meta\">\n", H_TITLE_EN);
    buf_printf(b, "<dt>Cơ quan, đơn vị<span class=\"en\">organisation</span></dt>"
               "<dd id=\"org\">");
    if (x->org[0]) {
        html_esc(b, x->org);
        buf_printf(b, " <span class=\"en\">và các tên miền con / and its subdomains</span>");
    } else {
        buf_printf(b, "Tất cả <span class=\"en\">all organisations</span>");
    }
    buf_printf(b, "</dd>\n<dt>Kỳ báo cáo<span class=\"en\">period</span></dt>"
               "<dd id=\"period\">%s<span class=\"en\">%s (local time)</span></dd>\n", vi, en);
    buf_printf(b, "<dt>Thời điểm lập<span class=\"en\">generated</span></dt>"
               "<dd id=\"generated\">%s</dd>\n",
               fmt_time(x->now_ms, "%H:%M:%S ngày %d/%m/%Y (UTC%z)", t, sizeof t));
    buf_printf(b, "<dt>Số bản ghi<span class=\"en\">decision records</span></dt>"
               "<dd id=\"records\">%llu", c->records);
    if (c->records)
        buf_printf(b, " <span class=\"en\">from %s to %s</span>",
                   fmt_time(c->first_ms, "%Y-%m-%d %H:%M", t, sizeof t),
                   fmt_time(c->last_ms, "%Y-%m-%d %H:%M", t2, sizeof t2));
    if (c->damaged)
        buf_printf(b, " <span class=\"en\">(%llu bản ghi hỏng bị bỏ qua / damaged records "
                   "skipped)</span>", c->damaged);
    buf_printf(b, "</dd>\n<dt>Cổng thư điện tử<span class=\"en\">gateway nodes</span></dt>"
               "<dd id=\"nodes\">");
    for (size_t i = 0; i < c->nnodes; i++) {
        kyso_buf clean = {0};
        term_clean(&clean, c->nodes[i].name);      /* no control character in the page */
        buf_append(&clean, "", 1);
        buf_printf(b, "%s<span class=\"node\">", i ? ", " : "");
        html_esc(b, clean.oom ? "?" : clean.p);
        buf_free(&clean);
        buf_printf(b, "</span> (%llu)", c->nodes[i].records);
    }
    buf_printf(b, "%s</dd>\n</dl>\n", c->nnodes ? "" : "không có <span class=\"en\">none</span>");
}

/* html_docs - section I. */
static void html_docs(kyso_buf *b, const rep_ctx *x)
{
    const report_docs *d[3] = {&x->c->sent, &x->c->received, &x->c->all};
    buf_printf(b, "<section id=\"s-documents\">\n<h2>I. %s<span class=\"en\">%s</span></h2>\n"
               "<table>\n<thead><tr>", H_DOCS_VI, H_DOCS_EN);
    th_bi(b, "Văn bản", "documents");
    th_bi(b, C_DOCS_VI, C_DOCS_EN);
    th_bi(b, C_BOTH_VI, C_BOTH_EN);
    buf_printf(b, "</tr></thead>\n<tbody>\n");
    for (int i = x->org[0] ? 0 : 2; i < 3; i++) {
        char id[48];
        const char *vi = x->org[0] || i < 2 ? dir_labels[i].vi : "Tất cả văn bản";
        const char *en = x->org[0] || i < 2 ? dir_labels[i].en : "all documents";
        buf_printf(b, "<tr%s>", i == 2 && x->org[0] ? " class=\"total\"" : "");
        th_bi(b, vi, en);
        snprintf(id, sizeof id, "docs-%s-valid", dir_labels[i].key);
        td_num(b, id, d[i]->valid);
        snprintf(id, sizeof id, "docs-%s-both", dir_labels[i].key);
        td_num(b, id, d[i]->both);
        buf_printf(b, "</tr>\n");
    }
    buf_printf(b, "</tbody>\n</table>\n<p class=\"note\">Chỉ tính văn bản thuộc loại phải "
               "kiểm tra, trong thư đã được chấp nhận. <span class=\"en\">Only documents of "
               "a type that is checked, in messages that were accepted.</span></p>\n"
               "</section>\n");
}

/* html_reasons - section II. */
static void html_reasons(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    buf_printf(b, "<section id=\"s-refused\">\n<h2>II. %s<span class=\"en\">%s</span></h2>\n"
               "<table>\n<thead><tr>", H_REF_VI, H_REF_EN);
    th_bi(b, "STT", "no.");
    th_bi(b, "Mã lý do", "reason code");
    th_bi(b, "Lý do", "reason");
    th_bi(b, "Bị từ chối", "refused");
    th_bi(b, "Chế độ giám sát: lẽ ra bị từ chối", "monitor mode: would be refused");
    th_bi(b, "Vẫn chấp nhận theo cấu hình On-*", "accepted under the On-* keys");
    buf_printf(b, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < c->nreasons; i++) {
        const report_reason *r = &c->reasons[i];
        char id[80];
        buf_printf(b, "<tr id=\"reason-%s\"><td class=\"num\">%zu</td><td><code>%s</code></td>"
                   "<td>", r->name, i + 1, r->name);
        if (r->code >= 0)
            buf_printf(b, "%s<span class=\"en\">%s</span>", reason_text_vi((kyso_reason)r->code),
                       reason_text_en((kyso_reason)r->code));
        else
            buf_printf(b, "Lý do chưa biết<span class=\"en\">a reason this version does not "
                       "know</span>");
        buf_printf(b, "</td>");
        snprintf(id, sizeof id, "refused-%s", r->name);
        td_num(b, id, r->refused);
        snprintf(id, sizeof id, "would-%s", r->name);
        td_num(b, id, r->would);
        snprintf(id, sizeof id, "accepted-%s", r->name);
        td_num(b, id, r->accepted);
        buf_printf(b, "</tr>\n");
    }
    buf_printf(b, "<tr class=\"total\"><th colspan=\"3\">Tổng cộng<span class=\"en\">total"
               "</span></th>");
    td_num(b, "refused-total", c->refused);
    td_num(b, "would-total", c->would);
    td_num(b, "accepted-total", c->accepted);
    buf_printf(b, "</tr>\n</tbody>\n</table>\n</section>\n");
}

/* html_applied - section III. */
static void html_applied(kyso_buf *b, const rep_ctx *x)
{
    buf_printf(b, "<section id=\"s-applied\">\n<h2>III. %s<span class=\"en\">%s</span></h2>\n"
               "<table>\n<tbody>\n<tr>", H_APP_VI, H_APP_EN);
    th_bi(b, "Số chữ ký số của cơ quan, tổ chức do cổng ký", "signatures applied");
    buf_printf(b, "<td class=\"num\" id=\"applied\">%llu%s</td></tr>\n</tbody>\n</table>\n",
               x->c->applied, x->c->applied ? "" : " (*)");
    if (x->c->applied == 0)
        buf_printf(b, "<p class=\"note\" id=\"applied-note\">(*) %s<span class=\"en\">%s"
                   "</span></p>\n", N_APPLIED_VI, N_APPLIED_EN);
    buf_printf(b, "</section>\n");
}

/* html_certs - section IV, laid out as the Đồng Tháp table. */
static void html_certs(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    report_n seen = 0, valid = 0;
    buf_printf(b, "<section id=\"s-certificates\">\n<h2>IV. %s<span class=\"en\">%s</span>"
               "</h2>\n<table>\n<thead><tr>", H_CERT_VI, H_CERT_EN);
    th_bi(b, "STT", "no.");
    th_bi(b, "Tên loại chứng thư số", "certificate class");
    th_bi(b, "Tổng số chứng thư số đã sử dụng", "distinct certificates seen (serial + issuer)");
    th_bi(b, "Trong đó: có chữ ký số hợp lệ", "of which in a valid signature");
    buf_printf(b, "</tr></thead>\n<tbody>\n");
    for (int i = 0; i < REPORT_NCLASS; i++) {
        char id[48];
        buf_printf(b, "<tr><td class=\"num\">%d</td>", i + 1);
        th_bi(b, class_labels[i].vi, class_labels[i].en);
        snprintf(id, sizeof id, "certs-%s", class_labels[i].key);
        td_num(b, id, c->certs[i]);
        snprintf(id, sizeof id, "certs-%s-valid", class_labels[i].key);
        td_num(b, id, c->certs_valid[i]);
        buf_printf(b, "</tr>\n");
        seen += c->certs[i];
        valid += c->certs_valid[i];
    }
    buf_printf(b, "<tr class=\"total\"><th colspan=\"2\">Tổng cộng<span class=\"en\">total"
               "</span></th>");
    td_num(b, "certs-total", seen);
    td_num(b, "certs-total-valid", valid);
    buf_printf(b, "</tr>\n</tbody>\n</table>\n</section>\n");
}

/* html_actions - section V. */
static void html_actions(kyso_buf *b, const rep_ctx *x)
{
    const report_counts *c = x->c;
    report_n n = 0, w = 0;
    buf_printf(b, "<section id=\"s-messages\">\n<h2>V. %s<span class=\"en\">%s</span></h2>\n"
               "<table>\n<thead><tr>", H_MSG_VI, H_MSG_EN);
    th_bi(b, "Kết quả xử lý", "action");
    th_bi(b, "Số thư", "messages");
    th_bi(b, "Chế độ giám sát: lẽ ra", "monitor mode: would");
    buf_printf(b, "</tr></thead>\n<tbody>\n");
    for (int i = 0; i < REPORT_NACT; i++) {
        char id[48];
        if (i == REPORT_ACT_OTHER && !c->actions[i] && !c->would_act[i])
            continue;
        buf_printf(b, "<tr>");
        th_bi(b, act_labels[i].vi, act_labels[i].key);
        snprintf(id, sizeof id, "msgs-%s", act_labels[i].key);
        td_num(b, id, c->actions[i]);
        snprintf(id, sizeof id, "would-msgs-%s", act_labels[i].key);
        td_num(b, id, c->would_act[i]);
        buf_printf(b, "</tr>\n");
        n += c->actions[i];
        w += c->would_act[i];
    }
    buf_printf(b, "<tr class=\"total\"><th>Tổng cộng<span class=\"en\">total</span></th>");
    td_num(b, "msgs-total", n);
    td_num(b, "would-msgs-total", w);
    buf_printf(b, "</tr>\n</tbody>\n</table>\n</section>\n");
}

/* nice_max - the smallest 1, 2 or 5 times a power of ten at least N. */
static report_n nice_max(report_n n)
{
    report_n p = 1;
    while (1) {
        if (n <= p)
            return p;
        if (n <= 2 * p)
            return 2 * p;
        if (n <= 5 * p)
            return 5 * p;
        if (p > (report_n)-1 / 20)
            return n;
        p *= 10;
    }
}

/* chart_frame - the SVG start, grid lines and their numbers for TOP. */
static void chart_frame(kyso_buf *b, int w, int h, report_n top)
{
    buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"chart\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"chart-t\">"
               "\n<title id=\"chart-t\">%s – %s</title>\n", w, h, w, h, H_MON_VI, H_MON_EN);
    for (int g = 0; g <= 4; g++) {
        int y = 20 + (h - 60) * (4 - g) / 4;
        buf_printf(b, "<line x1=\"50\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\"/>"
                   "<text x=\"45\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%llu</text>\n",
                   y, w - 10, y, g ? "#ddd" : "#333", y + 4, top * (report_n)g / 4);
    }
}

/* chart_month - the bars of month M from X on, scaled to TOP over PH pixels. */
static void chart_month(kyso_buf *b, const report_month *m, const chart_series *s, int ns,
                        int x, report_n top, int ph)
{
    buf_printf(b, "<g data-month=\"%04d-%02d\">", m->year, m->month);
    for (int i = 0; i < ns; i++) {
        report_n v = s[i].value(m);
        int bh = top ? (int)((double)v * ph / (double)top + 0.5) : 0;
        buf_printf(b, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"8\" height=\"%d\" "
                   "fill=\"%s\"><title>%02d/%04d – %s: %llu</title></rect>", s[i].cls,
                   x + 9 * i, 20 + ph - bh, bh, s[i].color, m->month, m->year, s[i].vi, v);
    }
    int mid = x + (9 * ns) / 2;
    buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%02d</text>",
               mid, 20 + ph + 14, m->month);
    buf_printf(b, "</g>\n");
}

/* html_chart - the inline SVG bar chart of documents per month. */
static void html_chart(kyso_buf *b, const rep_ctx *x)
{
    const chart_series *s = x->org[0] ? series_org : series_all;
    int ns = x->org[0] ? 3 : 2, gw = 9 * ns + 8, ph = 180;
    int w = 60 + gw * (int)x->nmonths + 10, h = ph + 60;
    report_n max = 0;
    for (size_t i = 0; i < x->nmonths; i++)
        for (int k = 0; k < ns; k++)
            if (s[k].value(&x->months[i]) > max)
                max = s[k].value(&x->months[i]);
    report_n top = nice_max(max ? max : 1);
    if (w < 320)
        w = 320;
    chart_frame(b, w, h, top);
    for (size_t i = 0; i < x->nmonths; i++) {
        int gx = 60 + gw * (int)i;
        chart_month(b, &x->months[i], s, ns, gx, top, ph);
        if (i == 0 || x->months[i].month == 1)
            buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" font-weight=\"bold\">%d"
                       "</text>\n", gx, 20 + ph + 30, x->months[i].year);
    }
    buf_printf(b, "</svg>\n<p class=\"legend\">");
    for (int k = 0; k < ns; k++)
        buf_printf(b, "<span><i style=\"background:%s\"></i>%s <span class=\"en\" "
                   "style=\"display:inline\">%s</span></span>", s[k].color, s[k].vi, s[k].en);
    buf_printf(b, "</p>\n");
}

/* html_months - section VI: the chart and its numbers. */
static void html_months(kyso_buf *b, const rep_ctx *x)
{
    buf_printf(b, "<section id=\"s-months\">\n<h2>VI. %s<span class=\"en\">%s</span></h2>\n",
               H_MON_VI, H_MON_EN);
    if (x->nmonths == 0) {
        buf_printf(b, "<p>Không có dữ liệu.<span class=\"en\">No records.</span></p>\n"
                   "</section>\n");
        return;
    }
    html_chart(b, x);
    buf_printf(b, "<table>\n<thead><tr>");
    th_bi(b, "Tháng", "month");
    if (x->org[0]) {
        th_bi(b, "Gửi đi, chữ ký hợp lệ", "sent, valid");
        th_bi(b, "Nhận đến, chữ ký hợp lệ", "received, valid");
    }
    th_bi(b, "Tổng số, chữ ký hợp lệ", "valid, each document once");
    th_bi(b, "Bị từ chối", "refused");
    buf_printf(b, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < x->nmonths; i++) {
        const report_month *m = &x->months[i];
        char id[48];
        buf_printf(b, "<tr><th>%02d/%04d</th>", m->month, m->year);
        if (x->org[0]) {
            snprintf(id, sizeof id, "m-%04d-%02d-sent", m->year, m->month);
            td_num(b, id, m->sent);
            snprintf(id, sizeof id, "m-%04d-%02d-received", m->year, m->month);
            td_num(b, id, m->received);
        }
        snprintf(id, sizeof id, "m-%04d-%02d-all", m->year, m->month);
        td_num(b, id, m->all);
        snprintf(id, sizeof id, "m-%04d-%02d-refused", m->year, m->month);
        td_num(b, id, m->refused);
        buf_printf(b, "</tr>\n");
    }
    buf_printf(b, "</tbody>\n</table>\n</section>\n");
}

/* out_html - the whole page into B. */
static void out_html(kyso_buf *b, const rep_ctx *x)
{
    html_head(b, x);
    html_docs(b, x);
    html_reasons(b, x);
    html_applied(b, x);
    html_certs(b, x);
    html_actions(b, x);
    html_months(b, x);
    buf_printf(b, "<p class=\"note\">Lập bằng <code>kyso report</code> từ nhật ký quyết định "
               "của cổng thư điện tử.<span class=\"en\">Made by kyso report from the gateways' "
               "decision records; see kyso(1).</span></p>\n</body>\n</html>\n");
}

/* ============================================================= options */

/* digits_at - are the N bytes at S digits? */
static int digits_at(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* local_ms - local Y-M-D h:m:s as epoch ms; 0, or -1 when there is no
 * such time. */
static int local_ms(int y, int mo, int d, int h, int mi, int sec, long long *ms)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = sec, .tm_isdst = -1 };
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return -1;
    *ms = (long long)t * 1000;
    return 0;
}

/* parse_date - "YYYY-MM", "YYYY-MM-DD" or "YYYY-MM-DD HH:MM[:SS]" ('T'
 * for the space too), local time: *START its first instant, *END the
 * first instant after the month or day it names (a time names an instant:
 * *END = *START).  Returns 0, or -1 when S is not such a date. */
static int parse_date(const char *s, long long *start, long long *end)
{
    size_t n = strlen(s);
    int y, mo, d = 1, h = 0, mi = 0, sec = 0;
    if (n < 7 || !digits_at(s, 4) || s[4] != '-' || !digits_at(s + 5, 2))
        return -1;
    y = atoi(s), mo = atoi(s + 5);
    if (n == 7) {
        if (local_ms(y, mo, 1, 0, 0, 0, start) < 0)
            return -1;
        return local_ms(y + mo / 12, mo % 12 + 1, 1, 0, 0, 0, end);
    }
    if (n < 10 || s[7] != '-' || !digits_at(s + 8, 2))
        return -1;
    d = atoi(s + 8);
    if (n == 10) {
        if (local_ms(y, mo, d, 0, 0, 0, start) < 0)
            return -1;
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d + 1,
                         .tm_isdst = -1 };
        time_t t = mktime(&tm);     /* the next local midnight, DST or not */
        *end = (long long)t * 1000;
        return t == (time_t)-1 ? -1 : 0;
    }
    if ((n != 16 && n != 19) || (s[10] != ' ' && s[10] != 'T') || !digits_at(s + 11, 2)
        || s[13] != ':' || !digits_at(s + 14, 2)
        || (n == 19 && (s[16] != ':' || !digits_at(s + 17, 2))))
        return -1;
    h = atoi(s + 11), mi = atoi(s + 14), sec = n == 19 ? atoi(s + 17) : 0;
    if (local_ms(y, mo, d, h, mi, sec, start) < 0)
        return -1;
    *end = *start;
    return 0;
}

/* rep_usage - the synopsis of kyso report, on FP. */
static void rep_usage(FILE *fp)
{
    fputs("usage: kyso report [-c CONFIG | --store URI] [--org DOMAIN]\n"
          "                   [--since DATE] [--until DATE] [--year YYYY] [--csv | --html FILE]\n"
          "                   [--from-counters]\n"
          "DATE: 2025-07 (a month), 2025-07-01 (a day), '2025-07-01 08:00' (local time);\n"
          "--until includes the month or day it names.  --html - writes to standard output.\n"
          "Exit 0: report written; 1: no record in the period; 2: error.  See kyso(1).\n", fp);
}

/* opt_date - --since or --until VALUE into O; 0, or -1 after printing. */
static int opt_date(rep_opts *o, int until, const char *value)
{
    long long start, end;
    if (parse_date(value, &start, &end) < 0) {
        fprintf(stderr, "kyso report: --%s '%s': not a date; write a month (2025-07), a "
                "day (2025-07-31) or a local date and time ('2025-07-31 17:00')\n",
                until ? "until" : "since", value);
        return -1;
    }
    if (until)
        o->until_ms = end;
    else
        o->since_ms = start;
    return 0;
}

/* opt_year - --year VALUE into O; 0, or -1 after printing. */
static int opt_year(rep_opts *o, const char *value)
{
    if (strlen(value) != 4 || !digits_at(value, 4) || atoi(value) < 1970
        || local_ms(atoi(value), 1, 1, 0, 0, 0, &o->since_ms) < 0
        || local_ms(atoi(value) + 1, 1, 1, 0, 0, 0, &o->until_ms) < 0) {
        fprintf(stderr, "kyso report: --year '%s': want a year such as 2025\n", value);
        return -1;
    }
    o->year = atoi(value);
    return 0;
}

/* opt_one - one option C with ARG into O; 0, or -1 after printing. */
static int opt_one(rep_opts *o, int c, const char *arg, int *dates)
{
    switch (c) {
    case 'c': o->config = arg; return 0;
    case 'S': o->store = arg; return 0;
    case 'o': o->org = arg; return 0;
    case 's': (*dates)++; return opt_date(o, 0, arg);
    case 'u': (*dates)++; return opt_date(o, 1, arg);
    case 'y': return opt_year(o, arg);
    case 'C': o->dup |= o->fmt == FMT_HTML; o->fmt = FMT_CSV; return 0;
    case 'H': o->dup |= o->fmt == FMT_CSV; o->fmt = FMT_HTML; o->html = arg; return 0;
    case 'F': o->counters = 1; return 0;
    case 'h': rep_usage(stdout); exit(0);
    default: rep_usage(stderr); return -1;
    }
}

/* rep_parse_opts - the command line into O; 0, or -1 after printing. */
static int rep_parse_opts(int argc, char **argv, rep_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"store", required_argument, NULL, 'S'},
        {"org", required_argument, NULL, 'o'}, {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'}, {"year", required_argument, NULL, 'y'},
        {"csv", no_argument, NULL, 'C'}, {"html", required_argument, NULL, 'H'},
        {"from-counters", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
    };
    int c, dates = 0;
    memset(o, 0, sizeof *o);
    o->config = CMD_DEFAULT_CONFIG;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1)
        if (opt_one(o, c, optarg, &dates) < 0)
            return -1;
    if (optind < argc) {
        fprintf(stderr, "kyso report: unexpected '%s'\n", argv[optind]);
        rep_usage(stderr);
        return -1;
    }
    if (o->dup) {
        fprintf(stderr, "kyso report: --csv and --html exclude each other\n");
        return -1;
    }
    if (o->year && dates) {
        fprintf(stderr, "kyso report: --year is a period already: no --since or --until "
                "with it\n");
        return -1;
    }
    if (o->since_ms && o->until_ms && o->since_ms >= o->until_ms) {
        fprintf(stderr, "kyso report: --since is not before --until: the period is empty\n");
        return -1;
    }
    return 0;
}

/* ============================================================== store */


/* rep_on_record - the store's callback: one record into the report; a
 * damaged one is said (the first MAX_WARNINGS of them). */
static int rep_on_record(const char *json, size_t len, void *arg)
{
    rep_run *run = arg;
    char err[256];
    if (report_add_json(run->r, json, len, err, sizeof err) >= 0)
        return 0;
    if (strcmp(err, "out of memory") == 0) {
        run->oom = 1;
        return 1;
    }
    if (run->warned++ < MAX_WARNINGS) {
        fprintf(stderr, "kyso report: skipped a damaged record (%s): ", err);
        for (size_t i = 0; i < len && i < 60; i++) {
            unsigned char ch = (unsigned char)json[i];
            fprintf(stderr, ch >= 0x20 && ch < 0x7F ? "%c" : "\\x%02X", ch);
        }
        fprintf(stderr, "%s\n", len > 60 ? "..." : "");
    }
    return 0;
}

/* rep_read - every record of the period (and, as a prefilter, holding the
 * organisation's domain) into R; 0, or -1 after printing. */
static int rep_read(kyso_store *s, const rep_opts *o, kyso_report *r)
{
    kyso_query q = { .since_ms = o->since_ms, .until_ms = o->until_ms,
                     .needle = *report_org(r) ? report_org(r) : NULL };
    rep_run run = { .r = r };
    char err[512];
    if (store_query(s, STREAM_DECISIONS, &q, rep_on_record, &run, err, sizeof err) < 0) {
        fprintf(stderr, "kyso report: reading the decision records: %s\n", err);
        return -1;
    }
    if (run.warned > MAX_WARNINGS)
        fprintf(stderr, "kyso report: %zu more damaged records skipped\n",
                run.warned - MAX_WARNINGS);
    if (run.oom) {
        fprintf(stderr, "kyso report: out of memory\n");
        return -1;
    }
    return 0;
}

/* One pass over the counters: the days asked, and their starts. */
typedef struct rep_days {
    kyso_report *r;
    char (*name)[16];
    const char **names;
    long long *start;
    size_t n;
} rep_days;

/* rep_on_counter - the store's callback: one counter or member of day I. */
static int rep_on_counter(size_t i, const char *name, long long value, void *arg)
{
    rep_days *d = arg;
    if (value >= 0)
        report_add_counter(d->r, d->start[i], name, value);
    else
        report_add_member(d->r, name);
    return 0;
}

/* rep_midnight - the local midnight starting the day of MS, plus DAYS days
 * (mktime normalises); -1 when there is none. */
static long long rep_midnight(long long ms, int days)
{
    struct tm tm;
    if (local_tm(ms, &tm) < 0)
        return -1;
    tm.tm_mday += days;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? -1 : (long long)t * 1000;
}

/* rep_days_make - the local days from SINCE to UNTIL (ms, UNTIL excluded)
 * into D.  0, or -1 when out of memory. */
static int rep_days_make(rep_days *d, long long since, long long until)
{
    size_t max = (size_t)((until - since) / DAY_MS) + 2;
    d->name = calloc(max, sizeof *d->name);
    d->names = calloc(max, sizeof *d->names);
    d->start = calloc(max, sizeof *d->start);
    if (d->name == NULL || d->names == NULL || d->start == NULL)
        return -1;
    for (long long t = since; t >= 0 && t < until && d->n < max; t = rep_midnight(t, 1)) {
        fmt_time(t, "%Y-%m-%d", d->name[d->n], sizeof d->name[0]);
        d->names[d->n] = d->name[d->n];
        d->start[d->n++] = t;
    }
    return 0;
}

/* rep_whole_day - is MS (non-zero) a local midnight? */
static int rep_whole_day(long long ms)
{
    return ms == 0 || is_midnight(ms);
}

/* rep_read_counters - the period's days from the store's per-organisation
 * counters into R (--from-counters); 0, or -1 after printing. */
static int rep_read_counters(kyso_store *s, const rep_opts *o, kyso_report *r)
{
    char err[512];
    long long now = now_ms(), since = o->since_ms, until = o->until_ms ? o->until_ms : now;
    if (!rep_whole_day(o->since_ms) || !rep_whole_day(o->until_ms)) {
        fprintf(stderr, "kyso report: --from-counters counts whole days: give --since and "
                "--until as days or months\n");
        return -1;
    }
    if (since == 0)                         /* the counters' lifetime */
        since = rep_midnight(until - 800 * DAY_MS, 0);
    rep_days d = { .r = r };
    int rc = rep_days_make(&d, since, until);
    if (rc < 0)
        fprintf(stderr, "kyso report: out of memory\n");
    else if ((rc = store_counter_read(s, *report_org(r) ? report_org(r) : "*", d.names, d.n,
                                      rep_on_counter, &d, err, sizeof err)) < 0)
        fprintf(stderr, "kyso report: reading the counters: %s\n", err);
    free(d.name);
    free(d.names);
    free(d.start);
    return rc;
}

/* ============================================================== output */

/* rep_write - the report in O's format to standard output or the --html
 * file; 0, or -1 after printing. */
static int rep_write(const rep_ctx *x)
{
    kyso_buf b = {0};
    const rep_opts *o = x->o;
    if (o->fmt == FMT_CSV)
        out_csv(&b, x);
    else if (o->fmt == FMT_HTML)
        out_html(&b, x);
    else
        out_text(&b, x);
    if (b.oom) {
        fprintf(stderr, "kyso report: out of memory\n");
        buf_free(&b);
        return -1;
    }
    int to_file = o->fmt == FMT_HTML && strcmp(o->html, "-") != 0;
    FILE *fp = to_file ? fopen(o->html, "w") : stdout;
    int rc = 0;
    if (fp == NULL || fwrite(b.p, 1, b.len, fp) != b.len || fflush(fp) != 0 || ferror(fp))
        rc = -1;
    if (to_file && fp && fclose(fp) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "kyso report: writing %s: %s\n", to_file ? o->html : "the output",
                strerror(errno));
    buf_free(&b);
    return rc;
}

/* rep_future - a period starting later than now: said; nothing can be in it. */
static int rep_future(const rep_opts *o)
{
    char t[40];
    if (o->since_ms <= now_ms())
        return 0;
    fprintf(stderr, "kyso report: the period starts in the future (%s): no decision can be "
            "in it yet\n", fmt_time(o->since_ms, "%Y-%m-%d %H:%M", t, sizeof t));
    return 1;
}

/* cmd_report - see cmd-report.h: options, the store read into the counts,
 * the report written. */
int cmd_report(int argc, char **argv)
{
    rep_opts o;
    char err[512];
    if (rep_parse_opts(argc, argv, &o) < 0)
        return 2;
    if (rep_future(&o))
        return 1;
    kyso_report *r = report_new(o.org, o.since_ms, o.until_ms, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "kyso report: --org %s\n", err);
        return 2;
    }
    kyso_store *s = cmd_open_store("kyso report", o.config, o.store, CMD_STORE_READ);
    int rc = s == NULL || (o.counters ? rep_read_counters(s, &o, r) : rep_read(s, &o, r)) < 0
             ? 2 : 0;
    store_close(s);
    rep_ctx x = { .o = &o, .c = report_get(r), .org = report_org(r), .now_ms = now_ms() };
    if (rc == 0 && months_fill(&x) < 0) {
        fprintf(stderr, "kyso report: out of memory\n");
        rc = 2;
    }
    if (rc == 0 && rep_write(&x) < 0)
        rc = 2;
    if (rc == 0 && x.c->records == 0) {
        fprintf(stderr, "kyso report: no decision record %s%s in the period\n",
                x.org[0] ? "for " : "", x.org);
        rc = 1;
    }
    free(x.months);
    report_free(r);
    return rc;
}
