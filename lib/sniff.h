/*
 * sniff.h - what a file is, by its bytes first (magic), then by its name and
 * declared type.  A PDF named .bin or sent as application/octet-stream is
 * still a PDF; a text file named .pdf is not.  Never prints.
 */
#ifndef KYSO_SNIFF_H
#define KYSO_SNIFF_H

#include <stddef.h>
#include "result.h"

/* sniff_kind - classify BUF (LEN bytes).  NAME (file name) and CTYPE
 * (declared MIME type, "type/subtype") may be NULL; they are used only when
 * the content is not recognised by itself: a name ending in .pdf or a
 * declared application/pdf whose bytes are not a PDF is still reported as
 * KIND_PDF, so that it is verified and found malformed rather than skipped.
 * Detached signatures (.p7s, application/pkcs7-signature) are KIND_P7S. */
kyso_kind sniff_kind(const unsigned char *buf, size_t len,
                     const char *name, const char *ctype);

#endif
