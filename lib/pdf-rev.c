/*
 * pdf-rev.c - where the revisions (incremental updates) of a PDF end, so
 * that a signature's ByteRange can be required to end exactly at one and
 * bytes appended without a cross-reference can be seen.  Checks are local
 * (the bytes before a candidate end) so that verifying a 10 MB file does
 * not mean scanning it; only pdf_rev_count walks the whole file.
 * Scans bytes only; it never decides validity by itself.
 */
#include <string.h>
#include "pdf-rev.h"

/* marker_before - offset of the "%%EOF" that ends right before END or
 * before END's end-of-line, or (size_t)-1. */
static size_t marker_before(const unsigned char *buf, size_t end)
{
    size_t m = end;
    if (m > 0 && buf[m - 1] == '\n')
        m--;
    if (m > 0 && buf[m - 1] == '\r')
        m--;
    for (int pass = 0; pass < 2; pass++) {
        if (m >= 5 && memcmp(buf + m - 5, "%%EOF", 5) == 0)
            return m - 5;
        m = end;    /* END itself may be right after the marker */
    }
    return (size_t)-1;
}

/* last_find - the last occurrence of NEEDLE in BUF[from, to), or NULL. */
static const unsigned char *last_find(const unsigned char *buf, size_t from, size_t to,
                                      const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = to; i >= from + n; i--)
        if (buf[i - n] == (unsigned char)needle[0] && memcmp(buf + i - n, needle, n) == 0)
            return buf + i - n;
    return NULL;
}

int pdf_rev_is_end(const unsigned char *buf, size_t len, size_t end)
{
    if (end > len || end < 5)
        return 0;
    size_t at = marker_before(buf, end);
    if (at == (size_t)-1)
        return 0;
    size_t from = at > 1024 ? at - 1024 : 0;
    const unsigned char *sx = last_find(buf, from, at, "startxref");
    if (sx == NULL)
        return 0;
    /* another marker between that startxref and this one belongs to an
     * earlier revision: this "%%EOF" closes bytes no xref describes */
    return last_find(buf, (size_t)(sx - buf), at, "%%EOF") == NULL;
}

/* is_space - PDF white space, and NUL padding some writers leave. */
static int is_space(unsigned char c)
{
    return c == ' ' || c == '\r' || c == '\n' || c == '\t' || c == '\f' || c == '\0';
}

size_t pdf_rev_tail(const unsigned char *buf, size_t len)
{
    size_t real = len;
    while (real > 0 && is_space(buf[real - 1]))
        real--;
    const unsigned char *m = last_find(buf, 0, real, "%%EOF");
    if (m == NULL)
        return len;
    size_t end = (size_t)(m - buf) + 5;
    if (!pdf_rev_is_end(buf, len, end))
        return real - (size_t)(m - buf);    /* a marker without its own xref */
    return real > end ? real - end : 0;
}

size_t pdf_rev_count(const unsigned char *buf, size_t len, size_t end, size_t *total)
{
    size_t before = 0, n = 0, prev = 0;     /* prev: just past the previous marker */
    for (size_t pos = 0; pos + 5 <= len;) {
        const unsigned char *m = memchr(buf + pos, '%', len - pos - 4);
        if (m == NULL)
            break;
        size_t at = (size_t)(m - buf);
        pos = at + 1;
        if (memcmp(m, "%%EOF", 5) != 0)
            continue;
        /* each stretch between markers is searched once: linear overall */
        size_t from = at > 1024 ? at - 1024 : 0;
        if (last_find(buf, from > prev ? from : prev, at, "startxref") != NULL) {
            n++;
            if (at + 5 <= end)
                before++;
        }
        prev = at + 5;
        pos = prev;
    }
    *total = n;
    return before;
}

/* pdf_ws - is C white space in PDF (ISO 32000-1 7.2.2)? */
static int pdf_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\0';
}

/* ws_back - P moved back over the white space right before it (not before
 * FLOOR); NULL when there is none. */
static const unsigned char *ws_back(const unsigned char *floor, const unsigned char *p)
{
    const unsigned char *q = p;
    while (q > floor && pdf_ws(q[-1]))
        q--;
    return q == p ? NULL : q;
}

/* int_back - the integer (digits, with an optional sign, as qpdf reads
 * them) ending right before P, not before FLOOR: *start gets its start,
 * and the value, or 1 for any value other than 0 (leading zeros, a sign,
 * more digits than a long holds), or -1 when there is no digit there. */
static long int_back(const unsigned char *floor, const unsigned char *p,
                     const unsigned char **start)
{
    const unsigned char *q = p;
    int nonzero = 0;
    while (q > floor && q[-1] >= '0' && q[-1] <= '9') {
        nonzero |= q[-1] != '0';
        q--;
    }
    if (q == p)
        return -1;
    if (q > floor && (q[-1] == '+' || q[-1] == '-')) {
        nonzero |= q[-1] == '-';
        q--;
    }
    *start = q;
    if (!nonzero)
        return 0;
    long v = 0;
    for (const unsigned char *d = q; d < p && v < 1000000000L; d++)
        if (*d >= '0' && *d <= '9')
            v = v * 10 + (*d - '0');
    return v > 0 ? v : 1;
}

/* header_generation - at P, an "obj" keyword after "N G" (any PDF white
 * space between, any number of digits)?  Returns G, 1 for any non-zero
 * way of writing it, and N in *num; or -1. */
static long header_generation(const unsigned char *buf, const unsigned char *p, long *num)
{
    const unsigned char *g_end = ws_back(buf, p), *g0, *n_end, *n0;
    long gen = g_end ? int_back(buf, g_end, &g0) : -1;
    if (gen < 0 || (n_end = ws_back(buf, g0)) == NULL)
        return -1;
    *num = int_back(buf, n_end, &n0);
    if (*num < 0 || (n0 > buf && !pdf_ws(n0[-1]) && strchr("<>[]()/{}%", n0[-1]) == NULL))
        return -1;
    return gen;
}

/* all_digits - are the N bytes at P decimal digits? */
static int all_digits(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* table_generation - at P ('n'), an in-use xref table entry
 * "oooooooooo ggggg n"?  Returns its generation, or -1. */
static long table_generation(const unsigned char *floor, const unsigned char *p)
{
    if (p - floor < 17 || p[-1] != ' ' || p[-7] != ' ' || !all_digits(p - 6, 5) ||
        !all_digits(p - 17, 10))
        return -1;
    long g = 0;
    for (const unsigned char *d = p - 6; d < p - 1; d++)
        g = g * 10 + (*d - '0');
    return g;
}

int pdf_rev_find_generation(const unsigned char *buf, size_t from, size_t len,
                            long *num, long *gen)
{
    for (size_t i = from; i + 3 <= len; i++) {
        const unsigned char *p = buf + i;
        long n = 0, g = -1;
        if (p[0] == 'o' && p[1] == 'b' && p[2] == 'j')
            g = header_generation(buf + from, p, &n);
        else if (p[0] == 'n')
            g = table_generation(buf + from, p);
        if (g > 0) {
            *num = n;
            *gen = g;
            return 1;
        }
    }
    return 0;
}
