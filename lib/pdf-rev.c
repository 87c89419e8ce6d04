/*
 * pdf-rev.c - find where the revisions (incremental updates) of a PDF end,
 * so that a signature's ByteRange can be required to end exactly at one.
 * Scans bytes only; it never decides validity by itself.
 */
#include <stdlib.h>
#include <string.h>
#include "pdf-rev.h"

/* revs_push - append END (skipping duplicates); -1 when out of memory. */
static int revs_push(pdf_revs *r, size_t end)
{
    if (r->n && r->end[r->n - 1] == end)
        return 0;
    size_t *p = realloc(r->end, (r->n + 1) * sizeof *p);
    if (p == NULL)
        return -1;
    r->end = p;
    r->end[r->n++] = end;
    return 0;
}

/* find_eof_marker - the first "%%EOF" in BUF[pos, len), or NULL.  memchr
 * for '%' runs at memory speed on the binary streams that fill big PDFs,
 * where memmem would compare at every byte. */
static const unsigned char *find_eof_marker(const unsigned char *buf, size_t pos, size_t len)
{
    while (pos + 5 <= len) {
        const unsigned char *m = memchr(buf + pos, '%', len - pos - 4);
        if (m == NULL)
            return NULL;
        if (memcmp(m, "%%EOF", 5) == 0)
            return m;
        pos = (size_t)(m - buf) + 1;
    }
    return NULL;
}

/* has_startxref - is "startxref" within the 1024 bytes before POS and
 * after FLOOR (the end of the previous revision)? */
static int has_startxref(const unsigned char *buf, size_t floor, size_t pos)
{
    size_t from = pos > 1024 ? pos - 1024 : 0;
    if (from < floor)
        from = floor;
    return pos > from && memmem(buf + from, pos - from, "startxref", 9) != NULL;
}

int pdf_revs_find(const unsigned char *buf, size_t len, size_t max, pdf_revs *r)
{
    memset(r, 0, sizeof *r);
    size_t pos = 0;
    for (;;) {
        const unsigned char *m = find_eof_marker(buf, pos, len);
        if (m == NULL)
            break;
        size_t at = (size_t)(m - buf), end = at + 5;
        pos = end;
        if (!has_startxref(buf, r->n ? r->end[r->n - 1] : 0, at))
            continue;
        if (end < len && buf[end] == '\r')
            end++;
        if (end < len && buf[end] == '\n')
            end++;
        if (r->n >= max) {
            pdf_revs_free(r);
            return -2;
        }
        if (revs_push(r, end) < 0) {
            pdf_revs_free(r);
            return -1;
        }
    }
    return 0;
}

size_t pdf_revs_tail(const pdf_revs *r, const unsigned char *buf, size_t len)
{
    size_t end = r->n ? r->end[r->n - 1] : 0;
    while (len > end && (buf[len - 1] == ' ' || buf[len - 1] == '\r' ||
                         buf[len - 1] == '\n' || buf[len - 1] == '\0' || buf[len - 1] == '\t'))
        len--;
    return len - end;
}

long pdf_revs_index(const pdf_revs *r, size_t end)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->end[i] == end)
            return (long)i;
    return -1;
}

void pdf_revs_free(pdf_revs *r)
{
    free(r->end);
    memset(r, 0, sizeof *r);
}
