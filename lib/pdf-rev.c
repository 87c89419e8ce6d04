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
    for (size_t pos = real; pos >= 5;) {
        const unsigned char *m = last_find(buf, 0, pos, "%%EOF");
        if (m == NULL)
            break;
        size_t end = (size_t)(m - buf) + 5;
        if (pdf_rev_is_end(buf, len, end))
            return real > end ? real - end : 0;
        pos = end - 1;
    }
    return len;
}

size_t pdf_rev_count(const unsigned char *buf, size_t len, size_t end, size_t *total)
{
    size_t before = 0, n = 0;
    for (size_t pos = 0; pos + 5 <= len;) {
        const unsigned char *m = memchr(buf + pos, '%', len - pos - 4);
        if (m == NULL)
            break;
        pos = (size_t)(m - buf) + 1;
        if (memcmp(m, "%%EOF", 5) != 0 || !pdf_rev_is_end(buf, len, pos + 4))
            continue;
        n++;
        if (pos + 4 <= end)
            before++;
    }
    *total = n;
    return before;
}
