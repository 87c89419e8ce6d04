/*
 * pdf-rev.h - the revisions of a PDF file: where each incremental update
 * ends.  A revision ends after a "%%EOF" marker (and its end-of-line, if
 * any) that has its own "startxref" in the 1024 bytes before it, with no
 * other marker in between.  Pure byte scanning; never prints.
 */
#ifndef KYSO_PDF_REV_H
#define KYSO_PDF_REV_H

#include <stddef.h>

/* pdf_rev_is_end - does a revision end at offset END of BUF?  Looks only
 * at the bytes just before END, so it costs nothing on big files. */
int pdf_rev_is_end(const unsigned char *buf, size_t len, size_t end);

/* pdf_rev_tail - how many bytes, white space aside, follow the end of the
 * last revision: data no cross-reference covers, which a repairing viewer
 * might still show.  0 for a well-formed file; LEN when no revision ends
 * anywhere. */
size_t pdf_rev_tail(const unsigned char *buf, size_t len);

/* pdf_rev_count - how many revisions end at or before END (so the index,
 * from 1, of the revision ending at END), and in *total how many the file
 * has.  Scans the whole file: call it only when a figure is needed. */
size_t pdf_rev_count(const unsigned char *buf, size_t len, size_t end, size_t *total);

/* pdf_rev_find_generation - does BUF[from, len) define an object ("N G
 * obj") or list one in a cross-reference table ("offset G n") under a
 * generation G other than 0?  1 (with *num, or 0 for a table entry, and
 * *gen set) or 0.  qpdf keys objects by number and
 * generation but many viewers by number only, so an update that defines
 * "8 1 obj" beside the signed "8 0 obj" shows one thing to us and
 * another to them.  *num and *gen are set when found. */
int pdf_rev_find_generation(const unsigned char *buf, size_t from, size_t len,
                            long *num, long *gen);

#endif
