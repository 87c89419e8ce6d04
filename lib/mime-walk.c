/*
 * mime-walk.c - take a message apart with GMime and hand every leaf part,
 * decoded, to a callback: nested multiparts of every kind (the content of
 * a multipart/signed included, its signature part as a KIND_P7S leaf),
 * forwarded message/rfc822, message/partial and external-body as opaque
 * leaves.  Also locates the raw bytes of the first part of a top-level
 * multipart, which S/MIME signs and which GMime would re-serialise.
 *
 * The message is untrusted: parts, nesting and decoded sizes are bounded by
 * kyso_limits before anything grows, and every recursion here carries its
 * depth (GMime's own parser stops nesting at 1024 levels).  Must never
 * print, never verify anything, and never keep a GObject past the walk.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gmime/gmime.h>
#include "mime-walk.h"
#include "sniff.h"

/* One walk: the callback, the limits and what has been counted so far. */
typedef struct walk_state {
    const kyso_verifier *v;
    mime_part_fn fn;
    void *arg;
    size_t nparts;
    kyso_reason *why;
    char *detail;
    size_t dlen;
    GPtrArray *keep;            /* decoded bodies, alive until the walk ends */
} walk_state;

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static int walk_object(walk_state *st, GMimeObject *obj, const char *path,
                       int depth, const char *parent_type, int is_sig);

/* mime_init_call - the pthread_once body. */
static void mime_init_call(void)
{
    g_mime_init();
}

void mime_init_once(void)
{
    pthread_once(&mime_once, mime_init_call);
}

/* walk_fail - record REASON and a formatted detail line (either may be
 * absent at the caller's choice) and return -1. */
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

/* mime_object_param - the lower-case value of parameter NAME of OBJ's
 * Content-Type (malloc'd), or NULL when absent. */
static char *mime_object_param(GMimeObject *obj, const char *name)
{
    return mime_strdup_lower(g_mime_object_get_content_type_parameter(obj, name));
}

/* walk_child_path - the IMAP number of child N (from 1) of a container
 * numbered PATH ("" for the top of the message); g_free it. */
static char *walk_child_path(const char *path, int n)
{
    return *path ? g_strdup_printf("%s.%d", path, n) : g_strdup_printf("%d", n);
}

/* walk_decode - decode the body of PART into a memory stream kept in
 * st->keep.  Sets *out to its bytes; returns 0, or -1 (reason recorded)
 * when the part decodes to more than MaxDocSize bytes or fails to. */
static int walk_decode(walk_state *st, GMimePart *part, const char *path,
                       GByteArray **out)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GMimeStream *mem = g_mime_stream_mem_new();

    g_ptr_array_add(st->keep, mem);
    if (w != NULL && g_mime_data_wrapper_write_to_stream(w, mem) < 0)
        return walk_fail(st, REASON_MALFORMED, "part %s cannot be decoded", path);
    *out = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    if ((*out)->len > st->v->lim.max_doc_size)
        return walk_fail(st, REASON_LIMIT_EXCEEDED,
                         "part %s decodes to more than %zu bytes (limit MaxDocSize)",
                         path, st->v->lim.max_doc_size);
    return 0;
}

/* walk_leaf - decode and classify one leaf and call FN.  Parts of type
 * message/* that are not a whole message (partial, external-body) are
 * given undecoded, empty, as KIND_OTHER.  Returns FN's value or -1. */
static int walk_leaf(walk_state *st, GMimeObject *obj, const char *path,
                     int depth, const char *parent_type, int is_sig)
{
    kyso_part p = {.path = *path ? path : "1", .depth = depth,
                   .parent_type = parent_type, .data = (const unsigned char *)""};
    char *ctype = mime_object_type(obj);
    int rc = 0;

    if (ctype == NULL)
        return walk_fail(st, REASON_INTERNAL_ERROR, "out of memory");
    p.content_type = ctype;
    if (strncmp(ctype, "message/", 8) == 0 || !GMIME_IS_PART(obj)) {
        p.kind = KIND_OTHER;
    } else {
        GByteArray *ba = NULL;
        p.filename = g_mime_part_get_filename(GMIME_PART(obj));
        rc = walk_decode(st, GMIME_PART(obj), p.path, &ba);
        if (rc == 0 && ba->len > 0) {
            p.data = ba->data;
            p.len = ba->len;
        }
        p.kind = is_sig ? KIND_P7S : sniff_kind(p.data, p.len, p.filename, ctype);
    }
    if (rc == 0)
        rc = st->fn(&p, st->arg);
    free(ctype);
    return rc;
}

/* walk_multipart - every child of MP in order, numbered below PATH.  The
 * second child of a multipart/signed with a PKCS#7 protocol is its
 * signature.  Returns 0, FN's non-zero value, or -1. */
static int walk_multipart(walk_state *st, GMimeMultipart *mp, const char *path,
                          int depth)
{
    GMimeObject *obj = GMIME_OBJECT(mp);
    char *ctype = mime_object_type(obj);
    char *proto = mime_object_param(obj, "protocol");
    int smime = GMIME_IS_MULTIPART_SIGNED(mp) && proto != NULL &&
                strstr(proto, "pkcs7-signature") != NULL;
    int n = g_mime_multipart_get_count(mp), rc = 0;

    if (ctype == NULL)
        rc = walk_fail(st, REASON_INTERNAL_ERROR, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        char *cpath = walk_child_path(path, i + 1);
        rc = walk_object(st, g_mime_multipart_get_part(mp, i), cpath, depth + 1,
                         ctype, smime && i == 1);
        g_free(cpath);
    }
    free(proto);
    free(ctype);
    return rc;
}

/* walk_message_part - the body of a forwarded message, one level deeper:
 * a multipart body's children are PATH.1, PATH.2..., a single body is
 * PATH.1.  An empty message/rfc822 has nothing to visit.  Returns 0,
 * FN's non-zero value, or -1. */
static int walk_message_part(walk_state *st, GMimeMessagePart *mp,
                             const char *path, int depth)
{
    GMimeMessage *msg = g_mime_message_part_get_message(mp);
    GMimeObject *body = msg ? g_mime_message_get_mime_part(msg) : NULL;
    const char *self = *path ? path : "1";
    int rc;

    if (body == NULL)
        return 0;
    if (GMIME_IS_MULTIPART(body))
        return walk_object(st, body, self, depth + 1, "message/rfc822", 0);
    char *bpath = g_strdup_printf("%s.1", self);
    rc = walk_object(st, body, bpath, depth + 1, "message/rfc822", 0);
    g_free(bpath);
    return rc;
}

/* walk_object - count OBJ against MaxParts and MaxDepth, then walk it as
 * a container or visit it as a leaf.  Returns 0, FN's non-zero value, or
 * -1 with the reason recorded. */
static int walk_object(walk_state *st, GMimeObject *obj, const char *path,
                       int depth, const char *parent_type, int is_sig)
{
    const kyso_limits *lim = &st->v->lim;

    if (obj == NULL)
        return 0;
    if (++st->nparts > lim->max_parts)
        return walk_fail(st, REASON_LIMIT_EXCEEDED,
                         "message has more than %zu MIME parts (limit MaxParts)",
                         lim->max_parts);
    if ((size_t)depth > lim->max_depth)
        return walk_fail(st, REASON_LIMIT_EXCEEDED,
                         "MIME parts nested deeper than %zu levels (limit MaxDepth)",
                         lim->max_depth);
    if (GMIME_IS_MULTIPART(obj))
        return walk_multipart(st, GMIME_MULTIPART(obj), path, depth);
    if (GMIME_IS_MESSAGE_PART(obj))
        return walk_message_part(st, GMIME_MESSAGE_PART(obj), path, depth);
    return walk_leaf(st, obj, path, depth, parent_type, is_sig);
}

/* mime_first_mailbox - the addr-spec of the first mailbox in LIST, looking
 * one level into groups; malloc'd, or NULL when there is none. */
static char *mime_first_mailbox(InternetAddressList *list)
{
    int n = list ? internet_address_list_length(list) : 0;

    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            if (addr != NULL && *addr != '\0')
                return strdup(addr);
        } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
            InternetAddressList *m = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
            int k = m ? internet_address_list_length(m) : 0;
            for (int j = 0; j < k; j++) {
                InternetAddress *b = internet_address_list_get_address(m, j);
                if (INTERNET_ADDRESS_IS_MAILBOX(b))
                    return strdup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(b)));
            }
        }
    }
    return NULL;
}

/* mime_fill_head - copy what the top of MSG says into HEAD (already
 * zeroed).  Strings that cannot be copied stay NULL. */
static void mime_fill_head(GMimeMessage *msg, kyso_mime_head *head)
{
    GMimeObject *body = g_mime_message_get_mime_part(msg);
    const char *subject = g_mime_message_get_subject(msg);

    head->subject = subject ? strdup(subject) : NULL;
    head->from = mime_first_mailbox(g_mime_message_get_from(msg));
    if (body == NULL)
        return;
    head->content_type = mime_object_type(body);
    head->protocol = mime_object_param(body, "protocol");
    head->smime_type = mime_object_param(body, "smime-type");
    if (GMIME_IS_MULTIPART(body)) {
        const char *b = g_mime_multipart_get_boundary(GMIME_MULTIPART(body));
        head->boundary = b ? strdup(b) : NULL;
    }
}

/* mime_parse - GMime's reading of BUF as a message, or NULL when it is
 * none: unparseable, or without a single header field.  Caller unrefs. */
static GMimeMessage *mime_parse(const unsigned char *buf, size_t len)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer((const char *)buf, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);

    g_object_unref(parser);
    g_object_unref(stream);
    if (msg != NULL &&
        g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(msg))) <= 0) {
        g_object_unref(msg);
        msg = NULL;
    }
    return msg;
}

int mime_walk_head(const kyso_verifier *v, const unsigned char *buf,
                   size_t len, kyso_mime_head *head, mime_part_fn fn,
                   void *arg, kyso_reason *why, char *detail, size_t dlen)
{
    walk_state st = {.v = v, .fn = fn, .arg = arg, .why = why,
                     .detail = detail, .dlen = dlen};
    GMimeMessage *msg;
    int rc;

    if (head != NULL)
        memset(head, 0, sizeof *head);
    if (len > v->lim.max_message_size)
        return walk_fail(&st, REASON_LIMIT_EXCEEDED,
                         "message of %zu bytes is larger than %zu bytes (limit MaxMessageSize)",
                         len, v->lim.max_message_size);
    mime_init_once();
    if (buf == NULL || len == 0 || (msg = mime_parse(buf, len)) == NULL)
        return walk_fail(&st, REASON_MALFORMED, "not an RFC 5322 message: no header fields");
    if (head != NULL)
        mime_fill_head(msg, head);
    st.keep = g_ptr_array_new_with_free_func(g_object_unref);
    rc = walk_object(&st, g_mime_message_get_mime_part(msg), "", 0, NULL, 0);
    g_ptr_array_free(st.keep, TRUE);
    g_object_unref(msg);
    return rc;
}

int mime_walk(const kyso_verifier *v, const unsigned char *buf, size_t len,
              mime_part_fn fn, void *arg, kyso_reason *why,
              char *detail, size_t dlen)
{
    return mime_walk_head(v, buf, len, NULL, fn, arg, why, detail, dlen);
}

void mime_head_free(kyso_mime_head *head)
{
    free(head->subject);
    free(head->from);
    free(head->content_type);
    free(head->protocol);
    free(head->smime_type);
    free(head->boundary);
    memset(head, 0, sizeof *head);
}

/* mime_delim_line - is the line LINE (LEN bytes, without its LF) a
 * delimiter line of BOUNDARY?  Returns 1 for "--boundary" followed only by
 * transport padding, 2 for the close delimiter "--boundary--", else 0. */
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

int mime_find_first_part(const unsigned char *buf, size_t len,
                         const char *boundary, size_t *off, size_t *plen)
{
    size_t blen = boundary ? strlen(boundary) : 0;
    size_t p = mime_body_offset(buf, len), start = (size_t)-1;

    if (blen == 0 || blen > 200 || p == (size_t)-1)
        return -1;
    while (p < len) {
        const unsigned char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - buf) : len;
        int d = mime_delim_line(buf + p, e - p, boundary, blen);
        if (d != 0 && start != (size_t)-1) {
            size_t end = p - 1;             /* the LF before this line */
            if (end > start && buf[end - 1] == '\r')
                end--;
            *off = start;
            *plen = end > start ? end - start : 0;
            return 0;
        }
        if (d == 1 && start == (size_t)-1)
            start = e + 1;
        if (d == 2 && start == (size_t)-1)
            return -1;
        p = e + 1;
    }
    return -1;
}
