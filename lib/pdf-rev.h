/*
 * pdf-rev.h - the revisions of a PDF file: where each incremental update
 * ends.  A revision ends after a "%%EOF" marker and its end-of-line, and is
 * preceded by a startxref.  Pure byte scanning; never prints.
 */
#ifndef KYSO_PDF_REV_H
#define KYSO_PDF_REV_H

#include <stddef.h>

typedef struct pdf_revs {
    size_t *end;        /* offsets just past each revision, ascending */
    size_t n;
} pdf_revs;

/* pdf_revs_find - fill R with the revision ends of BUF.  An end is the
 * offset after "%%EOF" and its optional CR, LF or CRLF, when "startxref"
 * appears within the 1024 bytes before the marker and after the end of
 * the previous revision.  Returns 0, -1 when out of memory, -2 when more than MAX
 * revisions were found (R is empty on failure). */
int pdf_revs_find(const unsigned char *buf, size_t len, size_t max, pdf_revs *r);

/* pdf_revs_tail - how many bytes, white space aside, follow the end of the
 * last revision: data no cross-reference covers, which a repairing viewer
 * might still show.  0 for a well-formed file. */
size_t pdf_revs_tail(const pdf_revs *r, const unsigned char *buf, size_t len);

/* pdf_revs_index - index (0-based) of the revision ending at END, or -1
 * when END is not the end of a revision. */
long pdf_revs_index(const pdf_revs *r, size_t end);

void pdf_revs_free(pdf_revs *r);

#endif
