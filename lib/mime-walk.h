/*
 * mime-walk.h - every leaf part of a message, with GMime: nested multiparts,
 * forwarded message/rfc822, inline parts with file names, octet-stream.
 * Bounded by kyso_limits (parts, depth, decoded size).  Never prints.
 */
#ifndef KYSO_MIME_WALK_H
#define KYSO_MIME_WALK_H

#include <stddef.h>
#include "result.h"
#include "verifier.h"

typedef struct kyso_part {
    const char *path;           /* "1.2.1": position in the MIME tree */
    const char *filename;       /* decoded (UTF-8), or NULL */
    const char *content_type;   /* "type/subtype", lower case */
    const unsigned char *data;  /* decoded body */
    size_t len;
    kyso_kind kind;             /* sniff_kind() of the part */
    int depth;
} kyso_part;

/* Return 0 to go on, non-zero to stop the walk (that value is returned). */
typedef int (*mime_part_fn)(const kyso_part *part, void *arg);

/* mime_walk - call FN for each leaf part of the message in BUF.  Returns
 * 0 when every part was visited, FN's non-zero value when it stopped the
 * walk, or -1 with REASON in *why (REASON_MALFORMED: not a message;
 * REASON_LIMIT_EXCEEDED: parts, depth or size over the limit) and a line
 * naming the limit in detail. */
int mime_walk(const kyso_verifier *v, const unsigned char *buf, size_t len,
              mime_part_fn fn, void *arg, kyso_reason *why,
              char *detail, size_t dlen);

#endif
