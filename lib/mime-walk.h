/*
 * mime-walk.h - every leaf part of a message, with GMime: nested multiparts,
 * forwarded message/rfc822, inline parts with file names, octet-stream.
 * Bounded by kyso_limits (parts, depth, decoded size).  A multipart/signed
 * yields its signature as a leaf carrying the exact bytes it signs.  Part
 * data is valid only during the callback.  Never prints.
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
    const char *msg_from;       /* From address of the enclosing message, or NULL */
    int forwarded;              /* message/rfc822 levels above this part */
    const char *top_subject;    /* decoded Subject of the outermost message
                                 * (mime_walk only), or NULL */
    /* For the signature of a multipart/signed (kind KIND_P7S): the exact
     * bytes it signs, the first body part in canonical CRLF form. */
    const unsigned char *signed_content;
    size_t signed_len;
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

/* mime_walk_entity - the same for a MIME entity without message headers
 * (the content of an S/MIME application/pkcs7-mime), nested at DEPTH and
 * counted as part of the message whose From is FROM (may be NULL). */
int mime_walk_entity(const kyso_verifier *v, const unsigned char *buf, size_t len,
                     int depth, const char *from, mime_part_fn fn, void *arg,
                     kyso_reason *why, char *detail, size_t dlen);

/* mime_find_signed_part - locate in BUF (a message or MIME entity: header,
 * empty line, body) the body part of the multipart with BOUNDARY that comes
 * just before offset BEFORE (where the signature part's content starts):
 * the bytes between the last two delimiter lines before BEFORE, without the
 * line break that belongs to the second (RFC 2046 5.1.1).  Delimiter lines
 * earlier in BUF (a preamble or another part quoting the boundary) do not
 * count, so only the part the parser saw next to the signature is signed
 * content.  Sets *off and *plen and returns 0, or -1 when there is no such
 * part or a close delimiter lies between it and BEFORE (nothing set).
 * Linear in BEFORE. */
int mime_find_signed_part(const unsigned char *buf, size_t len, const char *boundary,
                          size_t before, size_t *off, size_t *plen);

/* mime_b64_decode - decode N bytes of base64 in its plain form (the
 * alphabet in lines ended by CR LF or LF, '=' padding only at the end)
 * into OUT, which has room for N / 4 * 3 + 3 bytes; *outlen is set.  0, or
 * -1 for anything else (a stray byte, data after the padding, a group cut
 * short): callers then use a lenient decoder. */
int mime_b64_decode(const unsigned char *in, size_t n, unsigned char *out, size_t *outlen);

/* GMime and GLib types, for the callers that use GMime themselves. */
struct _GByteArray;
struct _GMimeDataWrapper;
struct _GMimeStream;

/* mime_b64_encoded_len - the length mime_b64_encode_lines gives N bytes. */
size_t mime_b64_encoded_len(size_t n, int final_crlf);
/* mime_b64_encode_lines - N bytes of IN as MIME base64 (RFC 2045: lines of
 * 76 characters, CRLF between them, and after the last when FINAL_CRLF)
 * into OUT, which has room for mime_b64_encoded_len(N, FINAL_CRLF) bytes.
 * Returns the bytes written; never fails. */
size_t mime_b64_encode_lines(const unsigned char *in, size_t n, unsigned char *out,
                             int final_crlf);

/* mime_decode_base64_part - the content of W decoded with mime_b64_decode
 * straight from the parser's buffer, when W is base64 held in memory and
 * decodes to at most MAX bytes: a new GByteArray (free with
 * g_byte_array_free(ba, TRUE)); NULL when W is not like that or not in
 * the plain form (decode it with GMime then). */
struct _GByteArray *mime_decode_base64_part(struct _GMimeDataWrapper *w, size_t max);

/* mime_stream_borrow - a GMime memory stream over LEN bytes of BUF
 * without a copy (GMime only reads them; BUF must outlive every object
 * parsed from the stream).  Unref the stream as usual, then, once those
 * objects are gone too, call mime_stream_unborrow(*WRAP). */
struct _GMimeStream *mime_stream_borrow(const unsigned char *buf, size_t len,
                                        struct _GByteArray **wrap);
void mime_stream_unborrow(struct _GByteArray *wrap);

/* mime_init_once - initialise GMime once per process (thread-safe). */
void mime_init_once(void);

#endif
