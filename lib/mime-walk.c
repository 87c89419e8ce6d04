/*
 * mime-walk.c - take a message apart with GMime and hand every leaf part,
 * decoded, to a callback: nested multiparts of every kind (the content of
 * a multipart/signed included; its PKCS#7 signature part arrives as a
 * KIND_P7S leaf with the exact bytes it signs, found in the raw message,
 * never re-serialised by GMime), forwarded message/rfc822 one level deeper,
 * message/partial and external-body as opaque KIND_OTHER leaves.
 *
 * The message is untrusted: parts, nesting and decoded sizes are bounded by
 * kyso_limits, every recursion here carries its depth (GMime's own parser
 * stops nesting at 1024 levels), and boundary scans are linear.  Must never
 * print, never verify anything, and never keep a GObject past the walk.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>
#include "mime-walk.h"
#include "sniff.h"

/* The signed bytes handed to the signature leaf of a multipart/signed. */
typedef struct walk_signed {
    const unsigned char *p;
    size_t len;
} walk_signed;

/* One walk: the callback, the limits, the raw bytes and what has been
 * counted so far. */
typedef struct walk_state {
    const kyso_verifier *v;
    mime_part_fn fn;
    void *arg;
    const unsigned char *raw;   /* the buffer GMime parsed */
    size_t rawlen;
    const char *from;           /* From of the message being walked, or NULL */
    const char *subject;        /* Subject of the outermost message, or NULL */
    int forwarded;              /* message/rfc822 levels entered */
    size_t nparts;
    kyso_reason *why;
    char *detail;
    size_t dlen;
} walk_state;

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static int walk_object(walk_state *st, GMimeObject *obj, const char *path,
                       int depth, const walk_signed *sig);

/* mime_init_call - the pthread_once body. */
static void mime_init_call(void)
{
    g_mime_init();
}

void mime_init_once(void)
{
    pthread_once(&mime_once, mime_init_call);
}

/* walk_fail - record REASON and a formatted detail line in the caller's
 * slots (either may be absent) and return -1. */
__attribute__((format(printf, 3, 4)))
static int walk_fail(walk_state *st, kyso_reason reason, const char *fmt, ...)
{
    va_list ap;

    if (st->why != NULL)
        *st->why = reason;
    if (st->detail != NULL && st->dlen > 0) {
        va_start(ap, fmt);
        vsnprintf(st->detail, st->dlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* mime_strdup_lower - a malloc'd lower-case copy of S, or NULL when S is
 * NULL or memory is short. */
static char *mime_strdup_lower(const char *s)
{
    char *d = s ? strdup(s) : NULL;

    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

/* mime_object_type - "type/subtype" of OBJ in lower case (malloc'd), or
 * NULL when memory is short.  A part without a type is text/plain. */
static char *mime_object_type(GMimeObject *obj)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    char *t = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    char *d = mime_strdup_lower(t ? t : "text/plain");

    g_free(t);
    return d;
}

/* mime_first_mailbox - the addr-spec of the first mailbox in LIST, looking
 * one level into groups (not owned, lives as long as LIST), or NULL. */
static const char *mime_first_mailbox(InternetAddressList *list)
{
    int n = list ? internet_address_list_length(list) : 0;

    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(list, i);
        InternetAddressList *members = NULL;
        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            if (addr != NULL && *addr != '\0')
                return addr;
        } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
            members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
        }
        int k = members ? internet_address_list_length(members) : 0;
        for (int j = 0; j < k; j++) {
            InternetAddress *b = internet_address_list_get_address(members, j);
            if (INTERNET_ADDRESS_IS_MAILBOX(b))
                return internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(b));
        }
    }
    return NULL;
}

/* walk_child_path - the IMAP number of child N (from 1) of a container
 * numbered PATH ("" for the top of the message); g_free it. */
static char *walk_child_path(const char *path, int n)
{
    return *path ? g_strdup_printf("%s.%d", path, n) : g_strdup_printf("%d", n);
}

/* The base64 alphabet's values; 0x80 for every other byte. */
static const unsigned char b64_value[256] = {
#define X 0x80
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

/* b64_tail - the end of base64 from '=' at IN[I]: only '=', CR and LF may
 * follow, and the group must have had 2 or 3 characters (K).  The bytes
 * that group still gives into OUT at *O.  0, or -1. */
static int b64_tail(const unsigned char *in, size_t i, size_t n, unsigned acc, int k,
                    unsigned char *out, size_t *o)
{
    for (; i < n; i++)
        if (in[i] != '=' && in[i] != '\r' && in[i] != '\n')
            return -1;
    if (k == 2) {
        out[(*o)++] = (unsigned char)(acc >> 4);
    } else if (k == 3) {
        out[(*o)++] = (unsigned char)(acc >> 10);
        out[(*o)++] = (unsigned char)(acc >> 2);
    } else {
        return -1;
    }
    return 0;
}

int mime_b64_decode(const unsigned char *in, size_t n, unsigned char *out, size_t *outlen)
{
    size_t i = 0, o = 0;
    unsigned acc = 0;
    int k = 0;
    while (i < n) {
        /* whole groups of four, the common case inside a line */
        while (k == 0 && i + 4 <= n) {
            unsigned a = b64_value[in[i]], b = b64_value[in[i + 1]],
                     c = b64_value[in[i + 2]], d = b64_value[in[i + 3]];
            if ((a | b | c | d) & 0x80)
                break;
            unsigned v = a << 18 | b << 12 | c << 6 | d;
            out[o] = (unsigned char)(v >> 16);
            out[o + 1] = (unsigned char)(v >> 8);
            out[o + 2] = (unsigned char)v;
            o += 3;
            i += 4;
        }
        if (i >= n)
            break;
        unsigned char ch = in[i++];
        if (ch == '\r' || ch == '\n')
            continue;
        if (ch == '=') {
            if (b64_tail(in, i, n, acc, k, out, &o) < 0)
                return -1;
            *outlen = o;
            return 0;
        }
        if (b64_value[ch] & 0x80)
            return -1;
        acc = acc << 6 | b64_value[ch];
        if (++k == 4) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
            k = 0;
        }
    }
    if (k != 0)
        return -1;
    *outlen = o;
    return 0;
}

size_t mime_b64_encoded_len(size_t n, int final_crlf)
{
    size_t lines = (n + 56) / 57;
    return (n + 2) / 3 * 4 + (lines ? (lines - 1) * 2 : 0) + (lines && final_crlf ? 2 : 0);
}

size_t mime_b64_encode_lines(const unsigned char *in, size_t n, unsigned char *out,
                             int final_crlf)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *o = out;
    size_t i = 0;
    while (i < n) {
        size_t end = n - i < 57 ? n : i + 57;
        for (; i + 3 <= end; i += 3) {  /* a 57-byte line is 19 whole groups */
            unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
            o[0] = (unsigned char)abc[v >> 18];
            o[1] = (unsigned char)abc[v >> 12 & 63];
            o[2] = (unsigned char)abc[v >> 6 & 63];
            o[3] = (unsigned char)abc[v & 63];
            o += 4;
        }
        if (i < end) {                  /* the last one or two bytes */
            unsigned v = (unsigned)in[i] << 16 | (end - i > 1 ? (unsigned)in[i + 1] << 8 : 0);
            o[0] = (unsigned char)abc[v >> 18];
            o[1] = (unsigned char)abc[v >> 12 & 63];
            o[2] = end - i > 1 ? (unsigned char)abc[v >> 6 & 63] : '=';
            o[3] = '=';
            o += 4;
            i = end;
        }
        if (i < n || final_crlf) {
            o[0] = '\r';
            o[1] = '\n';
            o += 2;
        }
    }
    return (size_t)(o - out);
}

struct _GByteArray *mime_decode_base64_part(struct _GMimeDataWrapper *w, size_t max)
{
    GMimeStream *src = g_mime_data_wrapper_get_stream(w);
    if (g_mime_data_wrapper_get_encoding(w) != GMIME_CONTENT_ENCODING_BASE64 ||
        !GMIME_IS_STREAM_MEM(src))
        return NULL;
    GByteArray *raw = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(src));
    if (raw == NULL)
        return NULL;
    gint64 from = src->bound_start, to = src->bound_end < 0 ? (gint64)raw->len : src->bound_end;
    if (from < 0 || to < from || to > (gint64)raw->len ||
        (size_t)(to - from) / 4 * 3 > max + 3)
        return NULL;
    size_t n = (size_t)(to - from), outlen = 0;
    GByteArray *dec = g_byte_array_sized_new((guint)(n / 4 * 3 + 3));
    g_byte_array_set_size(dec, (guint)(n / 4 * 3 + 3));
    if (mime_b64_decode(raw->data + from, n, dec->data, &outlen) < 0) {
        g_byte_array_free(dec, TRUE);
        return NULL;
    }
    g_byte_array_set_size(dec, (guint)outlen);
    return dec;
}

/* walk_decode_fast - the usual case, a base64 part of a message held in
 * memory (mime_decode_base64_part).  0 with *mem and *ba set; -1 when the
 * part is not like that (the caller then lets GMime decode, which also
 * skips the stray bytes this decoder refuses). */
static int walk_decode_fast(walk_state *st, GMimeDataWrapper *w, GMimeStream **mem,
                            GByteArray **ba)
{
    GByteArray *dec = mime_decode_base64_part(w, st->v->lim.max_doc_size);
    if (dec == NULL)
        return -1;
    *mem = g_mime_stream_mem_new_with_byte_array(dec);
    *ba = dec;
    return 0;
}

/* walk_decode - decode the body of PART into a new memory stream (*mem,
 * caller unrefs, set even on failure) and point *ba at its bytes.  Returns
 * 0, or -1 (reason recorded) when the part decodes to more than MaxDocSize
 * bytes or cannot be decoded. */
static int walk_decode(walk_state *st, GMimePart *part, const char *path,
                       GMimeStream **mem, GByteArray **ba)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);

    if (w == NULL || walk_decode_fast(st, w, mem, ba) != 0) {
        *mem = g_mime_stream_mem_new();
        if (w != NULL && g_mime_data_wrapper_write_to_stream(w, *mem) < 0)
            return walk_fail(st, REASON_MALFORMED, "part %s cannot be decoded", path);
        *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(*mem));
    }
    if ((*ba)->len > st->v->lim.max_doc_size)
        return walk_fail(st, REASON_LIMIT_EXCEEDED,
                         "part %s decodes to more than %zu bytes (limit MaxDocSize)",
                         path, st->v->lim.max_doc_size);
    return 0;
}

/* walk_leaf - decode and classify one leaf and call FN; the decoded bytes
 * are released when FN returns.  Parts of type message/ that are not a
 * whole message (partial, external-body) are given empty, as KIND_OTHER.
 * SIG, when not NULL, makes the leaf the KIND_P7S signature over SIG's
 * bytes.  Returns FN's value or -1. */
static int walk_leaf(walk_state *st, GMimeObject *obj, const char *path,
                     int depth, const walk_signed *sig)
{
    kyso_part p = {.path = *path ? path : "1", .depth = depth, .msg_from = st->from,
                   .forwarded = st->forwarded,
                   .top_subject = st->subject, .data = (const unsigned char *)""};
    GMimeStream *mem = NULL;
    GByteArray *ba = NULL;
    char *ctype = mime_object_type(obj);
    int rc = 0;

    if (ctype == NULL)
        return walk_fail(st, REASON_INTERNAL_ERROR, "out of memory");
    p.content_type = ctype;
    if (strncmp(ctype, "message/", 8) != 0 && GMIME_IS_PART(obj)) {
        p.filename = g_mime_part_get_filename(GMIME_PART(obj));
        rc = walk_decode(st, GMIME_PART(obj), p.path, &mem, &ba);
        if (rc == 0 && ba->len > 0) {
            p.data = ba->data;
            p.len = ba->len;
        }
        p.kind = sniff_kind(p.data, p.len, p.filename, ctype);
    }
    if (sig != NULL) {
        p.kind = KIND_P7S;
        p.signed_content = sig->p;
        p.signed_len = sig->len;
    }
    if (rc == 0)
        rc = st->fn(&p, st->arg);
    if (mem != NULL)
        g_object_unref(mem);
    free(ctype);
    return rc;
}

/* mime_canon_crlf - a malloc'd copy of P (N bytes) with every bare LF made
 * CRLF; *outlen is its length.  NULL when memory is short. */
static unsigned char *mime_canon_crlf(const unsigned char *p, size_t n, size_t *outlen)
{
    size_t bare = 0, j = 0;
    unsigned char *d;

    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            bare++;
    if ((d = malloc(n + bare + 1)) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            d[j++] = '\r';
        d[j++] = p[i];
    }
    *outlen = j;
    return d;
}

/* walk_content_bounds - where leaf O's content lies in the walked buffer
 * (its parser substream over st->raw): 0 with *from, *to; -1 when O is not
 * a leaf read in place from that buffer. */
static int walk_content_bounds(const walk_state *st, GMimeObject *o, size_t *from, size_t *to)
{
    GMimeDataWrapper *w = GMIME_IS_PART(o) ? g_mime_part_get_content(GMIME_PART(o)) : NULL;
    GMimeStream *s = w ? g_mime_data_wrapper_get_stream(w) : NULL;
    GByteArray *a = s && GMIME_IS_STREAM_MEM(s)
                        ? g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s)) : NULL;
    if (a == NULL || a->data != st->raw || s->bound_start < 0 || s->bound_end < s->bound_start ||
        (size_t)s->bound_end > st->rawlen)
        return -1;
    *from = (size_t)s->bound_start;
    *to = (size_t)s->bound_end;
    return 0;
}

/* walk_signed_bytes - the canonical bytes a PKCS#7 multipart/signed MP
 * (exactly two parts) signs, from the raw buffer (malloc'd, *len set): the
 * part right before the signature part, found from where the parser put
 * the signature, and holding what the parser took for the first part when
 * that is a leaf.  NULL when they cannot be found or do not agree (the
 * signature then fails), or memory is short. */
static unsigned char *walk_signed_bytes(walk_state *st, GMimeMultipart *mp, size_t *len)
{
    const char *b = g_mime_multipart_get_boundary(mp);
    size_t off, plen, sig_at, sig_end, from, to;

    if (g_mime_multipart_get_count(mp) != 2 ||
        walk_content_bounds(st, g_mime_multipart_get_part(mp, 1), &sig_at, &sig_end) < 0 ||
        mime_find_signed_part(st->raw, st->rawlen, b, sig_at, &off, &plen) < 0)
        return NULL;
    if (walk_content_bounds(st, g_mime_multipart_get_part(mp, 0), &from, &to) == 0 &&
        (from < off || to > off + plen + 2))
        return NULL;                /* not the part the parser saw */
    return mime_canon_crlf(st->raw + off, plen, len);
}

/* walk_multipart - every child of MP in order, numbered below PATH.  The
 * second child of a multipart/signed with a PKCS#7 protocol is its
 * signature and gets the bytes it signs.  Returns 0, FN's non-zero value,
 * or -1. */
static int walk_multipart(walk_state *st, GMimeMultipart *mp, const char *path,
                          int depth)
{
    const char *proto = g_mime_object_get_content_type_parameter(GMIME_OBJECT(mp), "protocol");
    int smime = GMIME_IS_MULTIPART_SIGNED(mp) && proto != NULL &&
                (g_ascii_strcasecmp(proto, "application/pkcs7-signature") == 0 ||
                 g_ascii_strcasecmp(proto, "application/x-pkcs7-signature") == 0);
    int n = g_mime_multipart_get_count(mp), rc = 0;
    walk_signed sig = {NULL, 0};
    unsigned char *canon = NULL;

    if (smime && n >= 2) {
        canon = walk_signed_bytes(st, mp, &sig.len);
        sig.p = canon;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        char *cpath = walk_child_path(path, i + 1);
        rc = walk_object(st, g_mime_multipart_get_part(mp, i), cpath, depth + 1,
                         smime && i == 1 && canon != NULL ? &sig : NULL);
        g_free(cpath);
    }
    free(canon);
    return rc;
}

/* walk_message_part - the body of a forwarded message, one level deeper
 * and with that message's From: a multipart body's children are PATH.1,
 * PATH.2..., a single body is PATH.1.  An empty message/rfc822 has nothing
 * to visit.  Returns 0, FN's non-zero value, or -1. */
static int walk_message_part(walk_state *st, GMimeMessagePart *mp,
                             const char *path, int depth)
{
    GMimeMessage *msg = g_mime_message_part_get_message(mp);
    GMimeObject *body = msg ? g_mime_message_get_mime_part(msg) : NULL;
    const char *self = *path ? path : "1", *outer = st->from;
    char *bpath = NULL;
    int rc;

    if (body == NULL)
        return 0;
    if (!GMIME_IS_MULTIPART(body))
        bpath = g_strdup_printf("%s.1", self);
    st->from = mime_first_mailbox(g_mime_message_get_from(msg));
    st->forwarded++;
    rc = walk_object(st, body, bpath ? bpath : self, depth + 1, NULL);
    st->forwarded--;
    st->from = outer;
    g_free(bpath);
    return rc;
}

/* walk_object - count OBJ against MaxParts and MaxDepth, then walk it as
 * a container or visit it as a leaf.  Returns 0, FN's non-zero value, or
 * -1 with the reason recorded. */
static int walk_object(walk_state *st, GMimeObject *obj, const char *path,
                       int depth, const walk_signed *sig)
{
    const kyso_limits *lim = &st->v->lim;

    if (obj == NULL)
        return 0;
    if (++st->nparts > lim->max_parts)
        return walk_fail(st, REASON_LIMIT_EXCEEDED,
                         "message has more than %zu MIME parts (limit MaxParts)",
                         lim->max_parts);
    if (depth < 0 || (size_t)depth > lim->max_depth)
        return walk_fail(st, REASON_LIMIT_EXCEEDED,
                         "MIME parts nested deeper than %zu levels (limit MaxDepth)",
                         lim->max_depth);
    if (GMIME_IS_MULTIPART(obj))
        return walk_multipart(st, GMIME_MULTIPART(obj), path, depth);
    if (GMIME_IS_MESSAGE_PART(obj))
        return walk_message_part(st, GMIME_MESSAGE_PART(obj), path, depth);
    return walk_leaf(st, obj, path, depth, sig);
}

/* mime_parse - GMime's reading of BUF as a message (ENTITY == 0) or as a
 * MIME entity (ENTITY != 0), or NULL when it is none; a message must have
 * at least one header field.  GMime reads BUF in place, through *WRAP (a
 * GByteArray that does not own it): after unreffing the object, the caller
 * releases *WRAP with mime_unwrap.  Caller unrefs. */
static GMimeObject *mime_parse(const unsigned char *buf, size_t len, int entity,
                               GByteArray **wrap)
{
    /* no copy of the message: GMime only ever reads this buffer, and the
     * stream, not owning it, never frees it */
    GMimeStream *stream = mime_stream_borrow(buf, len, wrap);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeObject *obj = entity ? g_mime_parser_construct_part(parser, NULL)
                              : (GMimeObject *)g_mime_parser_construct_message(parser, NULL);

    g_object_unref(parser);
    g_object_unref(stream);
    if (obj != NULL && !entity &&
        g_mime_header_list_get_count(g_mime_object_get_header_list(obj)) <= 0) {
        g_object_unref(obj);
        obj = NULL;
    }
    return obj;
}

/* mime_unwrap - free the wrapper mime_parse made, not the bytes. */
static void mime_unwrap(GByteArray *wrap)
{
    (void)g_byte_array_free(wrap, FALSE);
}

struct _GMimeStream *mime_stream_borrow(const unsigned char *buf, size_t len,
                                        struct _GByteArray **wrap)
{
    *wrap = g_byte_array_new_take((guint8 *)(uintptr_t)buf, len);
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(*wrap);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    return stream;
}

void mime_stream_unborrow(struct _GByteArray *wrap)
{
    if (wrap)
        mime_unwrap(wrap);
}

int mime_walk(const kyso_verifier *v, const unsigned char *buf, size_t len,
              mime_part_fn fn, void *arg, kyso_reason *why,
              char *detail, size_t dlen)
{
    walk_state st = {.v = v, .fn = fn, .arg = arg, .raw = buf, .rawlen = len,
                     .why = why, .detail = detail, .dlen = dlen};
    GMimeObject *msg;
    GByteArray *wrap = NULL;
    int rc;

    if (len > v->lim.max_message_size)
        return walk_fail(&st, REASON_LIMIT_EXCEEDED,
                         "message of %zu bytes is larger than %zu bytes (limit MaxMessageSize)",
                         len, v->lim.max_message_size);
    mime_init_once();
    if (buf == NULL || len == 0 || (msg = mime_parse(buf, len, 0, &wrap)) == NULL) {
        if (wrap)
            mime_unwrap(wrap);
        return walk_fail(&st, REASON_MALFORMED, "not an RFC 5322 message: no header fields");
    }
    st.from = mime_first_mailbox(g_mime_message_get_from(GMIME_MESSAGE(msg)));
    st.subject = g_mime_message_get_subject(GMIME_MESSAGE(msg));
    rc = walk_object(&st, g_mime_message_get_mime_part(GMIME_MESSAGE(msg)), "", 0, NULL);
    g_object_unref(msg);
    mime_unwrap(wrap);
    return rc;
}

int mime_walk_entity(const kyso_verifier *v, const unsigned char *buf, size_t len,
                     int depth, const char *from, mime_part_fn fn, void *arg,
                     kyso_reason *why, char *detail, size_t dlen)
{
    walk_state st = {.v = v, .fn = fn, .arg = arg, .raw = buf, .rawlen = len,
                     .from = from, .why = why, .detail = detail, .dlen = dlen};
    GMimeObject *ent;
    GByteArray *wrap = NULL;
    int rc;

    if (len > v->lim.max_message_size)
        return walk_fail(&st, REASON_LIMIT_EXCEEDED,
                         "MIME entity of %zu bytes is larger than %zu bytes (limit MaxMessageSize)",
                         len, v->lim.max_message_size);
    mime_init_once();
    if (buf == NULL || len == 0 || (ent = mime_parse(buf, len, 1, &wrap)) == NULL) {
        if (wrap)
            mime_unwrap(wrap);
        return walk_fail(&st, REASON_MALFORMED, "signed content is not a MIME entity");
    }
    rc = walk_object(&st, ent, "", depth, NULL);
    g_object_unref(ent);
    mime_unwrap(wrap);
    return rc;
}

/* mime_delim_line - is the line LINE (LEN bytes, without its LF) a
 * delimiter line of BOUNDARY (BLEN bytes)?  Returns 1 for "--boundary"
 * followed only by transport padding, 2 for the close delimiter, else 0. */
static int mime_delim_line(const unsigned char *line, size_t len,
                           const char *boundary, size_t blen)
{
    size_t i = blen + 2;
    int close = 0;

    if (len < i || line[0] != '-' || line[1] != '-' || memcmp(line + 2, boundary, blen) != 0)
        return 0;
    if (len >= i + 2 && line[i] == '-' && line[i + 1] == '-') {
        close = 1;
        i += 2;
    }
    for (; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return 0;
    return close ? 2 : 1;
}

/* mime_body_offset - offset of the first byte after the empty line that
 * ends the header of BUF, or (size_t)-1 when there is none. */
static size_t mime_body_offset(const unsigned char *buf, size_t len)
{
    size_t p = 0;

    while (p < len) {
        const unsigned char *nl = memchr(buf + p, '\n', len - p);
        if (nl == NULL)
            break;
        size_t e = (size_t)(nl - buf);
        if (e == p || (e == p + 1 && buf[p] == '\r'))
            return e + 1;
        p = e + 1;
    }
    return (size_t)-1;
}

int mime_find_signed_part(const unsigned char *buf, size_t len, const char *boundary,
                          size_t before, size_t *off, size_t *plen)
{
    size_t blen = boundary ? strlen(boundary) : 0;
    size_t p = buf ? mime_body_offset(buf, len) : (size_t)-1;
    size_t start = (size_t)-1, end = (size_t)-1;    /* of the part between the last two */
    size_t open = (size_t)-1;                       /* after the last delimiter line */

    if (blen == 0 || blen > 200 || p == (size_t)-1 || before > len)
        return -1;
    while (p < before) {
        const unsigned char *nl = memchr(buf + p, '\n', before - p);
        size_t e = nl ? (size_t)(nl - buf) : before;
        int d = mime_delim_line(buf + p, e - p, boundary, blen);
        if (d == 1) {
            if (open != (size_t)-1) {
                start = open;
                end = p - 1;                        /* the LF that ends the part */
                if (end > start && buf[end - 1] == '\r')
                    end--;
            }
            open = e + 1;
        } else if (d == 2) {
            start = open = (size_t)-1;              /* that multipart is closed */
        }
        p = e + 1;
    }
    if (start == (size_t)-1)
        return -1;
    *off = start;
    *plen = end > start ? end - start : 0;
    return 0;
}
