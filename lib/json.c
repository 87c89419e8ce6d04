/*
 * json.c - the strict JSON reader of json.h: recursive descent with an
 * explicit depth bound, values and decoded strings in one arena per
 * document, members gathered on a scratch stack and copied once a
 * container closes.  Also the RFC 3339 time reader our records need.
 *
 * Must never read outside the given bytes, never recurse deeper than the
 * caller's bound, never accept what RFC 8259 refuses (a record that does
 * not parse is reported, not guessed at), and never print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ------------------------------------------------------------- arena */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

struct json_doc {
    arena_block *blocks;        /* newest first */
    json_value root;
};

/* arena_alloc - N bytes (aligned like max_align_t) owned by D, or NULL
 * when out of memory.  Blocks grow with the document. */
static void *arena_alloc(json_doc *d, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    arena_block *b = d->blocks;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : 4096;
        if (cap < n)
            cap = n;
        if (cap > (1u << 20) && n <= (1u << 20))
            cap = 1u << 20;
        arena_block *nb = malloc(sizeof *nb + cap);
        if (nb == NULL)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        d->blocks = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

/* ------------------------------------------------------------ parser */

typedef struct json_parser {
    const unsigned char *start, *p, *end;
    unsigned depth, max_depth;
    json_doc *doc;
    json_value *stack;          /* members of the open containers */
    const char **kstack;        /* their keys (objects only) */
    size_t sp, scap;
    char *err;
    size_t errlen;
    int failed;
} json_parser;

/* parse_fail - record the first error at the current offset; returns -1. */
static int parse_fail(json_parser *ps, const char *what)
{
    if (!ps->failed) {
        ps->failed = 1;
        if (ps->errlen > 0)
            snprintf(ps->err, ps->errlen, "offset %zu: %s", (size_t)(ps->p - ps->start), what);
    }
    return -1;
}

/* skip_ws - past the four white space bytes JSON allows. */
static void skip_ws(json_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'
                               || *ps->p == '\r'))
        ps->p++;
}

/* utf8_len - length of the valid UTF-8 sequence at P (before END), or 0
 * when it is not one (overlong forms, surrogates, > U+10FFFF refused). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80
            || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

/* hex4 - the four hex digits at P as a number, or -1. */
static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* put_utf8 - code point CP as UTF-8 at OUT; returns the bytes written. */
static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* parse_uescape - "\uXXXX" (and its low surrogate "\uXXXX" when it is a
 * high one) at ps->p, which points at the 'u'; the code point in *cp.
 * Returns 0, or -1 with the error recorded. */
static int parse_uescape(json_parser *ps, unsigned long *cp)
{
    if (ps->end - ps->p < 5)
        return parse_fail(ps, "short \\u escape");
    long hi = hex4(ps->p + 1);
    if (hi < 0)
        return parse_fail(ps, "bad hex digit in a \\u escape");
    ps->p += 5;
    if (hi == 0)
        return parse_fail(ps, "\\u0000 in a string");
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return parse_fail(ps, "lone low surrogate in a \\u escape");
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = (unsigned long)hi;
        return 0;
    }
    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u')
        return parse_fail(ps, "high surrogate not followed by a low one");
    long lo = hex4(ps->p + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return parse_fail(ps, "high surrogate not followed by a low one");
    ps->p += 6;
    *cp = 0x10000 + ((unsigned long)(hi - 0xD800) << 10) + (unsigned long)(lo - 0xDC00);
    return 0;
}

/* string_raw_len - bytes from ps->p (just past the opening quote) to the
 * closing quote, escapes skipped; -1 when the string never closes. */
static long string_raw_len(const json_parser *ps)
{
    const unsigned char *q = ps->p;
    while (q < ps->end) {
        if (*q == '"')
            return (long)(q - ps->p);
        q += *q == '\\' ? 2 : 1;
    }
    return -1;
}

/* parse_escape - one escape at ps->p (pointing after the backslash) into
 * OUT; returns the bytes written, or -1 with the error recorded. */
static long parse_escape(json_parser *ps, char *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = memchr(from, *ps->p, sizeof from - 1);
    if (k != NULL) {
        *out = to[k - from];
        ps->p++;
        return 1;
    }
    if (*ps->p != 'u')
        return parse_fail(ps, "unknown escape in a string");
    unsigned long cp;
    if (parse_uescape(ps, &cp) < 0)
        return -1;
    return (long)put_utf8(out, cp);
}

/* parse_string - the string at ps->p (its opening quote) decoded into the
 * arena: *out and *outlen.  Returns 0, or -1 with the error recorded. */
static int parse_string(json_parser *ps, const char **out, size_t *outlen)
{
    ps->p++;
    long raw = string_raw_len(ps);
    if (raw < 0)
        return parse_fail(ps, "unterminated string");
    char *s = arena_alloc(ps->doc, (size_t)raw + 1);
    if (s == NULL)
        return parse_fail(ps, "out of memory");
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = *ps->p;
        if (c < 0x20)
            return parse_fail(ps, "control character in a string");
        if (c == '\\') {
            ps->p++;
            long w = parse_escape(ps, s + n);
            if (w < 0)
                return -1;
            n += (size_t)w;
            continue;
        }
        size_t l = utf8_len(ps->p, ps->end);
        if (l == 0)
            return parse_fail(ps, "invalid UTF-8 in a string");
        memcpy(s + n, ps->p, l);
        n += l;
        ps->p += l;
    }
    ps->p++;
    s[n] = '\0';
    *out = s;
    *outlen = n;
    return 0;
}

/* scan_digits - past a run of digits; returns how many there were. */
static size_t scan_digits(json_parser *ps)
{
    const unsigned char *q = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    return (size_t)(ps->p - q);
}

/* number_value - the value of the number text T (already checked against
 * the grammar): digits summed as a double, then scaled by ten. */
static double number_value(const unsigned char *t, const unsigned char *end)
{
    double v = 0;
    long exp10 = 0;
    int neg = *t == '-';
    t += neg;
    for (; t < end && *t >= '0' && *t <= '9'; t++)
        v = v * 10 + (*t - '0');
    if (t < end && *t == '.')
        for (t++; t < end && *t >= '0' && *t <= '9'; t++, exp10--)
            v = v * 10 + (*t - '0');
    if (t < end && (*t == 'e' || *t == 'E')) {
        t++;
        int eneg = *t == '-';
        t += *t == '-' || *t == '+';
        long e = 0;
        for (; t < end && *t >= '0' && *t <= '9'; t++)
            if (e < 100000)
                e = e * 10 + (*t - '0');
        exp10 += eneg ? -e : e;
    }
    for (; exp10 > 0 && v != 0 && v < 1e308; exp10--)
        v *= 10;
    for (; exp10 < 0 && v != 0 && v < 1e308; exp10++)
        v /= 10;
    return neg ? -v : v;
}

/* parse_number - the number at ps->p into V.  Returns 0, or -1. */
static int parse_number(json_parser *ps, json_value *v)
{
    const unsigned char *t = ps->p;
    if (*ps->p == '-')
        ps->p++;
    if (ps->p < ps->end && *ps->p == '0')
        ps->p++;
    else if (scan_digits(ps) == 0)
        return parse_fail(ps, "bad number");
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (scan_digits(ps) == 0)
            return parse_fail(ps, "no digit after the decimal point");
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (scan_digits(ps) == 0)
            return parse_fail(ps, "no digit in an exponent");
    }
    size_t n = (size_t)(ps->p - t);
    char *s = arena_alloc(ps->doc, n + 1);
    if (s == NULL)
        return parse_fail(ps, "out of memory");
    memcpy(s, t, n);
    s[n] = '\0';
    v->type = JSON_NUMBER;
    v->s = s;
    v->n = n;
    v->num = number_value(t, ps->p);
    return 0;
}

/* parse_literal - "true", "false" or "null" at ps->p into V. */
static int parse_literal(json_parser *ps, json_value *v)
{
    static const struct { const char *word; json_type type; } lits[] = {
        {"true", JSON_TRUE}, {"false", JSON_FALSE}, {"null", JSON_NULL},
    };
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i].word);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, lits[i].word, n) == 0) {
            ps->p += n;
            v->type = lits[i].type;
            return 0;
        }
    }
    return parse_fail(ps, "unexpected character");
}

/* stack_push - room for one more member on the scratch stack; returns its
 * index, or -1 with the error recorded. */
static long stack_push(json_parser *ps)
{
    if (ps->sp == ps->scap) {
        size_t cap = ps->scap ? ps->scap * 2 : 64;
        json_value *s = realloc(ps->stack, cap * sizeof *s);
        if (s == NULL)
            return parse_fail(ps, "out of memory");
        ps->stack = s;
        const char **k = realloc(ps->kstack, cap * sizeof *k);
        if (k == NULL)
            return parse_fail(ps, "out of memory");
        ps->kstack = k;
        ps->scap = cap;
    }
    memset(&ps->stack[ps->sp], 0, sizeof ps->stack[0]);
    ps->kstack[ps->sp] = NULL;
    return (long)ps->sp++;
}

/* stack_pop_into - move the members from BASE up into the arena as V's
 * items (and keys when KEYED).  Returns 0, or -1. */
static int stack_pop_into(json_parser *ps, size_t base, int keyed, json_value *v)
{
    size_t n = ps->sp - base;
    v->n = n;
    if (n > 0) {
        json_value *items = arena_alloc(ps->doc, n * sizeof *items);
        const char **keys = keyed ? arena_alloc(ps->doc, n * sizeof *keys) : NULL;
        if (items == NULL || (keyed && keys == NULL))
            return parse_fail(ps, "out of memory");
        memcpy(items, ps->stack + base, n * sizeof *items);
        if (keyed)
            memcpy(keys, ps->kstack + base, n * sizeof *keys);
        v->items = items;
        v->keys = keys;
    }
    ps->sp = base;
    return 0;
}

static int parse_value(json_parser *ps, json_value *v);

/* parse_array - the array at ps->p ('[') into V. */
static int parse_array(json_parser *ps, json_value *v)
{
    size_t base = ps->sp;
    ps->p++;
    skip_ws(ps);
    v->type = JSON_ARRAY;
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return stack_pop_into(ps, base, 0, v);
    }
    for (;;) {
        json_value item = {0};
        if (parse_value(ps, &item) < 0)
            return -1;
        long i = stack_push(ps);
        if (i < 0)
            return -1;
        ps->stack[i] = item;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return stack_pop_into(ps, base, 0, v);
        }
        return parse_fail(ps, ps->p < ps->end ? "expected ',' or ']'" : "unexpected end");
    }
}

/* key_cmp - qsort order of key pointers. */
static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* keys_unique - are the N keys from BASE on the stack all different?
 * 1, 0, or -1 when out of memory. */
static int keys_unique(json_parser *ps, size_t base, size_t n)
{
    const char **k = ps->kstack + base;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(k[i], k[j]) == 0)
                    return 0;
        return 1;
    }
    const char **sorted = malloc(n * sizeof *sorted);
    if (sorted == NULL)
        return -1;
    memcpy(sorted, k, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, key_cmp);
    int ok = 1;
    for (size_t i = 1; i < n && ok; i++)
        ok = strcmp(sorted[i], sorted[i - 1]) != 0;
    free(sorted);
    return ok;
}

/* parse_member - one "key": value of an object onto the stack. */
static int parse_member(json_parser *ps)
{
    const char *key;
    size_t klen;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"')
        return parse_fail(ps, ps->p < ps->end ? "expected a key" : "unexpected end");
    if (parse_string(ps, &key, &klen) < 0)
        return -1;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':')
        return parse_fail(ps, "expected ':'");
    ps->p++;
    json_value item = {0};
    if (parse_value(ps, &item) < 0)
        return -1;
    long i = stack_push(ps);
    if (i < 0)
        return -1;
    ps->stack[i] = item;
    ps->kstack[i] = key;
    return 0;
}

/* parse_object - the object at ps->p ('{') into V. */
static int parse_object(json_parser *ps, json_value *v)
{
    size_t base = ps->sp;
    ps->p++;
    skip_ws(ps);
    v->type = JSON_OBJECT;
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return stack_pop_into(ps, base, 1, v);
    }
    for (;;) {
        if (parse_member(ps) < 0)
            return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}')
            break;
        return parse_fail(ps, ps->p < ps->end ? "expected ',' or '}'" : "unexpected end");
    }
    int u = keys_unique(ps, base, ps->sp - base);
    if (u <= 0)
        return parse_fail(ps, u < 0 ? "out of memory" : "duplicate key in an object");
    ps->p++;
    return stack_pop_into(ps, base, 1, v);
}

/* parse_value - any value at ps->p (white space first) into V. */
static int parse_value(json_parser *ps, json_value *v)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return parse_fail(ps, "unexpected end");
    unsigned char c = *ps->p;
    if (c == '{' || c == '[') {
        if (++ps->depth > ps->max_depth)
            return parse_fail(ps, "nested too deep");
        int rc = c == '{' ? parse_object(ps, v) : parse_array(ps, v);
        ps->depth--;
        return rc;
    }
    if (c == '"') {
        v->type = JSON_STRING;
        return parse_string(ps, &v->s, &v->n);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(ps, v);
    return parse_literal(ps, v);
}

/* json_parse - see json.h.  All or nothing: on any error the partial
 * document is freed. */
json_doc *json_parse(const char *text, size_t len, size_t max_size, unsigned max_depth,
                     char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    json_parser ps = {
        .start = (const unsigned char *)text, .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len,
        .max_depth = max_depth ? max_depth : JSON_MAX_DEPTH, .err = err, .errlen = errlen,
    };
    if (len > (max_size ? max_size : JSON_MAX_SIZE)) {
        parse_fail(&ps, "text too long");
        return NULL;
    }
    json_doc *d = calloc(1, sizeof *d);
    if (d == NULL) {
        parse_fail(&ps, "out of memory");
        return NULL;
    }
    ps.doc = d;
    int rc = parse_value(&ps, &d->root);
    if (rc == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            rc = parse_fail(&ps, "bytes after the value");
    }
    free(ps.stack);
    free(ps.kstack);
    if (rc < 0) {
        json_free(d);
        return NULL;
    }
    return d;
}

/* ---------------------------------------------------------- accessors */

/* json_root - see json.h; NULL only for a NULL document. */
const json_value *json_root(const json_doc *d)
{
    return d ? &d->root : NULL;
}

/* json_free - see json.h: every arena block, then the document. */
void json_free(json_doc *d)
{
    if (d == NULL)
        return;
    while (d->blocks) {
        arena_block *b = d->blocks;
        d->blocks = b->next;
        free(b);
    }
    free(d);
}

/* json_get - see json.h; a linear search (our objects have few keys). */
const json_value *json_get(const json_value *v, const char *key)
{
    if (v == NULL || v->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return &v->items[i];
    return NULL;
}

/* json_get_string - see json.h. */
const char *json_get_string(const json_value *v, const char *key)
{
    const json_value *m = json_get(v, key);
    return m && m->type == JSON_STRING ? m->s : NULL;
}

/* json_at - see json.h. */
const json_value *json_at(const json_value *v, size_t i)
{
    if (v == NULL || v->type != JSON_ARRAY || i >= v->n)
        return NULL;
    return &v->items[i];
}

/* --------------------------------------------------------------- time */

/* time_num - the W digits at *P (before END) as a number, *P moved past
 * them; -1 when they are not all digits. */
static long time_num(const char **p, const char *end, int w)
{
    long v = 0;
    if (end - *p < w)
        return -1;
    for (int i = 0; i < w; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += w;
    return v;
}

/* time_expect - is *P the byte C?  Then step over it: 0; else -1. */
static int time_expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    (*p)++;
    return 0;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date. */
static long long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (long long)era * 146097 + doe - 719468;
}

/* time_days_in - days in month M of year Y. */
static int time_days_in(long y, long m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

/* time_fraction - ".123456" at *P: milliseconds (truncated) in *ms. */
static int time_fraction(const char **p, const char *end, long *ms)
{
    *ms = 0;
    if (*p >= end || **p != '.')
        return 0;
    (*p)++;
    int digits = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (digits < 3)
            *ms = *ms * 10 + (**p - '0');
        digits++;
        (*p)++;
    }
    if (digits == 0)
        return -1;
    for (int i = digits; i < 3; i++)
        *ms *= 10;
    return 0;
}

/* time_offset - "Z" or "+hh:mm" at *P: seconds east of UTC in *off. */
static int time_offset(const char **p, const char *end, long *off)
{
    if (*p < end && (**p == 'Z' || **p == 'z')) {
        (*p)++;
        *off = 0;
        return 0;
    }
    if (*p >= end || (**p != '+' && **p != '-'))
        return -1;
    int neg = **p == '-';
    (*p)++;
    long oh = time_num(p, end, 2);
    if (oh < 0 || oh > 23 || time_expect(p, end, ':') < 0)
        return -1;
    long om = time_num(p, end, 2);
    if (om < 0 || om > 59)
        return -1;
    *off = (oh * 3600 + om * 60) * (neg ? -1 : 1);
    return 0;
}

/* json_time_ms - see json.h. */
int json_time_ms(const char *s, size_t n, long long *ms)
{
    const char *p = s, *end = s + n;
    long y = time_num(&p, end, 4);
    if (y < 0 || time_expect(&p, end, '-') < 0)
        return -1;
    long mo = time_num(&p, end, 2);
    if (mo < 1 || mo > 12 || time_expect(&p, end, '-') < 0)
        return -1;
    long d = time_num(&p, end, 2);
    if (d < 1 || d > time_days_in(y, mo))
        return -1;
    if (p >= end || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    long h = time_num(&p, end, 2);
    if (h < 0 || h > 23 || time_expect(&p, end, ':') < 0)
        return -1;
    long mi = time_num(&p, end, 2);
    if (mi < 0 || mi > 59 || time_expect(&p, end, ':') < 0)
        return -1;
    long sec = time_num(&p, end, 2);
    long frac, off;
    if (sec < 0 || sec > 60 || time_fraction(&p, end, &frac) < 0
        || time_offset(&p, end, &off) < 0 || p != end)
        return -1;
    if (sec == 60)
        sec = 59;       /* a leap second: the instant just before */
    long long t = days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + sec - off;
    *ms = t * 1000 + frac;
    return 0;
}

int json_record_time(const char *p, size_t n, long long *t)
{
    static const char key[] = "{\"time\":\"";
    if (n > sizeof key && memcmp(p, key, sizeof key - 1) == 0) {
        const char *v = p + sizeof key - 1;
        const char *q = memchr(v, '"', n - (sizeof key - 1) < 64 ? n - (sizeof key - 1) : 64);
        if (q != NULL && json_time_ms(v, (size_t)(q - v), t) == 0)
            return 0;
    }
    char err[8];
    json_doc *d = json_parse(p, n, 0, 0, err, sizeof err);
    const char *s = json_get_string(json_root(d), "time");
    int rc = s ? json_time_ms(s, strlen(s), t) : -1;
    json_free(d);
    return rc;
}
