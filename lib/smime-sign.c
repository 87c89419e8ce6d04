/*
 * smime-sign.c - wrapping a message in multipart/signed (RFC 8551 3.5).
 *
 * The header is split by hand, so that the fields that stay on top and
 * the Content-* fields that move into the signed part keep their bytes
 * and folding.  GMime parses the moved entity once to find parts that
 * would not survive a relay without 8BITMIME; only when one must be
 * re-encoded is the entity written back by GMime (which keeps the raw
 * form of everything it did not change).  The entity is canonicalised to
 * CRLF, signed with cms_sign_detached and put between boundary lines; the
 * signed bytes end before the CRLF that precedes the next delimiter
 * (RFC 2046 5.1.1).  No global state besides GMime's one-time init.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gmime/gmime.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "buf.h"
#include "mime-walk.h"
#include "smime-sign.h"
#include "token.h"

#define SMIME_LINE_MAX 998         /* RFC 5322 2.1.1, without the CRLF */
#define SMIME_PREAMBLE "This is an S/MIME signed message\r\n"

/* One header field: its raw bytes (continuation lines and line ends
 * included) at OFF, LEN long; the name is the first NLEN bytes. */
typedef struct smime_field {
    size_t off, len, nlen;
} smime_field;

typedef struct smime_head {
    smime_field *f;
    size_t n, cap;
    size_t body;                /* offset of the body */
} smime_head;

/* What a scan of raw part content found. */
#define SC_8BIT 0x01
#define SC_NUL  0x02
#define SC_LONG 0x04

/* The state of the re-encoding walk. */
typedef struct smime_conv {
    int changed;                /* parts re-encoded or relabelled */
    int refused;
    char *err;
    size_t errlen;
} smime_conv;

/* smime_fail - format the reason into ERR; returns CODE. */
__attribute__((format(printf, 4, 5)))
static int smime_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* smime_name_len - the length of the field name at the start of LINE (LL
 * bytes): printable ASCII but ':', then optional WSP (RFC 5322 obs-
 * optional) and ':'.  0 when LINE does not start a field. */
static size_t smime_name_len(const unsigned char *line, size_t ll)
{
    size_t i = 0, n;

    while (i < ll && line[i] >= 33 && line[i] <= 126 && line[i] != ':')
        i++;
    n = i;
    while (i < ll && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return n > 0 && i < ll && line[i] == ':' ? n : 0;
}

/* smime_push_field - append a field to H.  0, or -1 when out of memory. */
static int smime_push_field(smime_head *h, size_t off, size_t len, size_t nlen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 32;
        smime_field *f = realloc(h->f, cap * sizeof *f);
        if (f == NULL)
            return -1;
        h->f = f;
        h->cap = cap;
    }
    h->f[h->n++] = (smime_field){ off, len, nlen };
    return 0;
}

/*
 * smime_scan_line - one header line of M at P (its LF at E, content LL
 * bytes), number LINE: a new field or the continuation of the last.
 * Returns 0, SMIME_EREFUSED or TOKEN_ECONFIG with ERR.
 */
static int smime_scan_line(const unsigned char *m, size_t p, size_t e, size_t ll,
                           size_t line, smime_head *h, char *err, size_t errlen)
{
    size_t nlen;

    if (ll > SMIME_LINE_MAX)
        return smime_fail(err, errlen, SMIME_EREFUSED, "header line %zu is longer than "
                          "998 bytes (RFC 5322 2.1.1)", line);
    if (memchr(m + p, '\r', ll) || memchr(m + p, '\0', ll))
        return smime_fail(err, errlen, SMIME_EREFUSED,
                          "header line %zu holds a bare CR or a NUL", line);
    if (m[p] == ' ' || m[p] == '\t') {
        if (h->n == 0)
            return smime_fail(err, errlen, SMIME_EREFUSED,
                              "the header starts with a continuation line");
        h->f[h->n - 1].len = e + 1 - h->f[h->n - 1].off;
        return 0;
    }
    if ((nlen = smime_name_len(m + p, ll)) == 0)
        return smime_fail(err, errlen, SMIME_EREFUSED,
                          "header line %zu is not a header field (name and colon)", line);
    if (h->n == SMIME_MAX_FIELDS)
        return smime_fail(err, errlen, SMIME_EREFUSED,
                          "the message has more than %d header fields", SMIME_MAX_FIELDS);
    if (smime_push_field(h, p, e + 1 - p, nlen) != 0)
        return smime_fail(err, errlen, TOKEN_ECONFIG, "out of memory");
    return 0;
}

/*
 * smime_scan_header - split the header of M (LEN bytes) into fields and find
 * the body.  Returns 0 (H filled; free h->f), or SMIME_EREFUSED /
 * TOKEN_ECONFIG with ERR (H empty).
 */
static int smime_scan_header(const unsigned char *m, size_t len, smime_head *h,
                             char *err, size_t errlen)
{
    size_t p = 0, line = 0;
    int rc = 0;

    memset(h, 0, sizeof *h);
    if (len == 0)
        return smime_fail(err, errlen, SMIME_EREFUSED, "the message is empty");
    if (len > SMIME_MAX_INPUT)
        return smime_fail(err, errlen, SMIME_EREFUSED, "the message is larger than %zu bytes",
                          SMIME_MAX_INPUT);
    for (;;) {
        const unsigned char *nl = p < len ? memchr(m + p, '\n', len - p) : NULL;
        if (nl == NULL) {
            rc = smime_fail(err, errlen, SMIME_EREFUSED,
                            "no blank line between the header and the body");
            break;
        }
        size_t e = (size_t)(nl - m);
        size_t ll = e - p - (e > p && m[e - 1] == '\r');
        line++;
        if (ll == 0) {
            h->body = e + 1;
            if (h->n == 0)
                rc = smime_fail(err, errlen, SMIME_EREFUSED, "the message has no header fields");
            break;
        }
        if ((rc = smime_scan_line(m, p, e, ll, line, h, err, errlen)) != 0)
            break;
        p = e + 1;
    }
    if (rc != 0) {
        free(h->f);
        memset(h, 0, sizeof *h);
    }
    return rc;
}

/* smime_is_named - is field F of M named NAME (without case)? */
static int smime_is_named(const unsigned char *m, const smime_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->nlen == n && strncasecmp((const char *)m + f->off, name, n) == 0;
}

/* smime_moves - does field F go into the signed part (a Content-* field)? */
static int smime_moves(const unsigned char *m, const smime_field *f)
{
    return f->nlen > 8 && strncasecmp((const char *)m + f->off, "Content-", 8) == 0;
}

/* smime_index - the place (from 1) of field K of H among the fields of H
 * named like it, as smfi_chgheader counts. */
static int smime_index(const unsigned char *m, const smime_head *h, size_t k)
{
    const smime_field *f = &h->f[k];
    int n = 0;

    for (size_t i = 0; i <= k; i++)
        n += h->f[i].nlen == f->nlen &&
             strncasecmp((const char *)m + h->f[i].off, (const char *)m + f->off, f->nlen) == 0;
    return n;
}

/* smime_check_unique - at most one Content-Type, Content-Transfer-Encoding
 * and Content-Disposition (RFC 2045, RFC 2183): readers disagree on which
 * of two counts.  0 or SMIME_EREFUSED with ERR. */
static int smime_check_unique(const unsigned char *m, const smime_head *h, char *err, size_t errlen)
{
    static const char *const once[] = {
        "Content-Type", "Content-Transfer-Encoding", "Content-Disposition"
    };
    for (size_t k = 0; k < sizeof once / sizeof once[0]; k++) {
        int n = 0;
        for (size_t i = 0; i < h->n; i++)
            n += smime_is_named(m, &h->f[i], once[k]);
        if (n > 1)
            return smime_fail(err, errlen, SMIME_EREFUSED,
                              "the message has %d %s header fields", n, once[k]);
    }
    return 0;
}

/* smime_bare_cr - offset in P (N bytes) of the first CR not followed by LF,
 * or -1. */
static long smime_bare_cr(const unsigned char *p, size_t n)
{
    const unsigned char *q = p, *end = p + n;

    while ((q = memchr(q, '\r', (size_t)(end - q))) != NULL) {
        if (q + 1 == end || q[1] != '\n')
            return (long)(q - p);
        q++;
    }
    return -1;
}

/* smime_append_crlf - append P (N bytes, no bare CR) to B with every bare LF
 * made CRLF.  0, or -1 when out of memory. */
static int smime_append_crlf(kyso_buf *b, const unsigned char *p, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n' || (i > 0 && p[i - 1] == '\r'))
            continue;
        buf_append(b, p + start, i - start);
        buf_append(b, "\r\n", 2);
        start = i + 1;
    }
    buf_append(b, p + start, n - start);
    return b->oom ? -1 : 0;
}

/*
 * smime_build_entity - the MIME entity that will be signed, CRLF: the moved
 * fields of H (or a default Content-Type first when there is none), a
 * blank line, the body.  0, or -1 when out of memory.
 */
static int smime_build_entity(const unsigned char *m, size_t len, const smime_head *h,
                              kyso_buf *ent)
{
    int has_ct = 0;

    for (size_t i = 0; i < h->n; i++)
        has_ct |= smime_is_named(m, &h->f[i], "Content-Type");
    if (!has_ct)
        buf_append(ent, "Content-Type: text/plain; charset=us-ascii\r\n", 44);
    for (size_t i = 0; i < h->n; i++)
        if (smime_moves(m, &h->f[i]))
            smime_append_crlf(ent, m + h->f[i].off, h->f[i].len);
    buf_append(ent, "\r\n", 2);
    return smime_append_crlf(ent, m + h->body, len - h->body);
}

/* smime_scan_stream - SC_* flags of the bytes of S (read from its start;
 * lines end with LF, as GMime was given them). */
static unsigned smime_scan_stream(GMimeStream *s)
{
    unsigned char b[8192];
    unsigned flags = 0;
    size_t col = 0;
    ssize_t n;

    g_mime_stream_reset(s);
    while ((n = g_mime_stream_read(s, (char *)b, sizeof b)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (b[i] == '\n') {
                col = 0;
                continue;
            }
            if (++col > SMIME_LINE_MAX)
                flags |= SC_LONG;
            flags |= b[i] >= 0x80 ? SC_8BIT : b[i] == 0 ? SC_NUL : 0;
        }
    }
    g_mime_stream_reset(s);
    return flags;
}

/* smime_reencode - make part P's content ENC: decode what it holds (the
 * decoding stream), then let GMime encode it.  0 or -1. */
static int smime_reencode(GMimePart *p, GMimeContentEncoding enc)
{
    GMimeDataWrapper *w = g_mime_part_get_content(p);
    GMimeStream *dec;
    GMimeDataWrapper *nw;

    if (w == NULL)
        return -1;
    if (g_mime_data_wrapper_get_encoding(w) <= GMIME_CONTENT_ENCODING_8BIT) {
        g_mime_part_set_content_encoding(p, enc);
        return 0;
    }
    dec = g_mime_stream_mem_new();
    if (g_mime_data_wrapper_write_to_stream(w, dec) < 0) {
        g_object_unref(dec);
        return -1;
    }
    g_mime_stream_reset(dec);
    nw = g_mime_data_wrapper_new_with_stream(dec, GMIME_CONTENT_ENCODING_DEFAULT);
    g_object_unref(dec);
    g_mime_part_set_content(p, nw);
    g_object_unref(nw);
    g_mime_part_set_content_encoding(p, enc);
    return 0;
}

/* smime_conv_refuse - record a refusal in C; returns -1. */
__attribute__((format(printf, 2, 3)))
static int smime_conv_refuse(smime_conv *c, const char *fmt, ...)
{
    va_list ap;

    c->refused = 1;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* smime_leaf_target - the encoding leaf P (declared ENC, content FLAGS) must
 * get, or 0 when it may stay; -1 when it cannot be sent (C has why). */
static int smime_leaf_target(smime_conv *c, GMimePart *p, GMimeContentEncoding enc,
                             unsigned flags, const char *path)
{
    const char *cte = g_mime_object_get_header(GMIME_OBJECT(p), "Content-Transfer-Encoding");
    char *v;
    int seven;

    switch (enc) {
    case GMIME_CONTENT_ENCODING_8BIT:
        return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    case GMIME_CONTENT_ENCODING_BINARY:
        return smime_conv_refuse(c, "part %s is binary (Content-Transfer-Encoding: binary), "
                                 "which a signed message cannot carry", path);
    case GMIME_CONTENT_ENCODING_BASE64:
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
    case GMIME_CONTENT_ENCODING_UUENCODE:
        if (flags & (SC_8BIT | SC_NUL))
            return smime_conv_refuse(c, "part %s holds 8-bit bytes or NULs although encoded",
                                     path);
        if (!(flags & SC_LONG))
            return 0;
        if (enc == GMIME_CONTENT_ENCODING_UUENCODE)
            return smime_conv_refuse(c, "part %s is uuencoded with lines over 998 bytes", path);
        return (int)enc;
    default:
        if (flags == 0)
            return 0;
        if (cte == NULL || enc != GMIME_CONTENT_ENCODING_DEFAULT)
            return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
        v = g_strstrip(g_strdup(cte));
        seven = g_ascii_strcasecmp(v, "7bit") == 0;
        g_free(v);
        if (!seven)
            return smime_conv_refuse(c, "part %s has an unknown Content-Transfer-Encoding "
                                     "and 8-bit data or long lines", path);
        return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    }
}

/* smime_conv_leaf - re-encode leaf P when it would not survive a 7-bit
 * relay.  FROZEN: inside a signed or encrypted part, where any change
 * breaks that signature.  0, or -1 (C says why). */
static int smime_conv_leaf(smime_conv *c, GMimePart *p, int frozen, const char *path)
{
    GMimeDataWrapper *w = g_mime_part_get_content(p);
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(p);
    unsigned flags = w ? smime_scan_stream(g_mime_data_wrapper_get_stream(w)) : 0;
    int target = smime_leaf_target(c, p, enc, flags, path);

    if (target <= 0)
        return target;
    if (frozen)
        return smime_conv_refuse(c, "part %s, inside a signed or encrypted part, would have to "
                                 "be re-encoded", path);
    if (smime_reencode(p, (GMimeContentEncoding)target) != 0)
        return smime_conv_refuse(c, "part %s could not be re-encoded", path);
    c->changed++;
    return 0;
}

/* smime_conv_label - a container (multipart, message) labelled 8bit or
 * binary becomes 7bit once its parts are.  0 or -1. */
static int smime_conv_label(smime_conv *c, GMimeObject *o, int frozen, const char *path)
{
    const char *cte = g_mime_object_get_header(o, "Content-Transfer-Encoding");
    char *v;
    int eight;

    if (cte == NULL)
        return 0;
    v = g_strstrip(g_strdup(cte));
    eight = g_ascii_strcasecmp(v, "8bit") == 0 || g_ascii_strcasecmp(v, "binary") == 0;
    g_free(v);
    if (!eight)
        return 0;
    if (frozen)
        return smime_conv_refuse(c, "part %s, inside a signed or encrypted part, is labelled "
                                 "8bit", path);
    g_mime_object_set_header(o, "Content-Transfer-Encoding", "7bit", NULL);
    c->changed++;
    return 0;
}

static int smime_conv_object(smime_conv *c, GMimeObject *o, int depth, int frozen,
                             const char *path);

/* smime_conv_multipart - every child of MP, then MP's own label. */
static int smime_conv_multipart(smime_conv *c, GMimeMultipart *mp, int depth, int frozen,
                                const char *path)
{
    int n = g_mime_multipart_get_count(mp);

    frozen |= GMIME_IS_MULTIPART_SIGNED(mp) || GMIME_IS_MULTIPART_ENCRYPTED(mp);
    for (int i = 0; i < n; i++) {
        char *cpath = *path ? g_strdup_printf("%s.%d", path, i + 1) : g_strdup_printf("%d", i + 1);
        int rc = smime_conv_object(c, g_mime_multipart_get_part(mp, i), depth + 1, frozen, cpath);
        g_free(cpath);
        if (rc != 0)
            return rc;
    }
    return smime_conv_label(c, GMIME_OBJECT(mp), frozen, *path ? path : "1");
}

/* smime_conv_object - walk O (at DEPTH, numbered PATH, "" for the entity)
 * and re-encode what must be.  0, or -1 (C says why). */
static int smime_conv_object(smime_conv *c, GMimeObject *o, int depth, int frozen,
                             const char *path)
{
    if (o == NULL)
        return 0;
    if (depth > SMIME_MAX_DEPTH)
        return smime_conv_refuse(c, "the message nests MIME parts deeper than %d",
                                 SMIME_MAX_DEPTH);
    if (GMIME_IS_MULTIPART(o))
        return smime_conv_multipart(c, GMIME_MULTIPART(o), depth, frozen, path);
    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        GMimeObject *body = msg ? g_mime_message_get_mime_part(msg) : NULL;
        char *cpath = g_strdup_printf("%s%s1", path, *path ? "." : "");
        int rc = smime_conv_object(c, body, depth + 1, frozen, cpath);
        g_free(cpath);
        return rc != 0 ? rc : smime_conv_label(c, o, frozen, *path ? path : "1");
    }
    if (GMIME_IS_PART(o))
        return smime_conv_leaf(c, GMIME_PART(o), frozen, *path ? path : "1");
    return 0;
}

/* smime_unix - P (N bytes, CRLF, no bare CR) with LF line ends, malloc'd. */
static unsigned char *smime_unix(const unsigned char *p, size_t n, size_t *outlen)
{
    unsigned char *d = malloc(n + 1);
    size_t j = 0;

    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\r')
            d[j++] = p[i];
    *outlen = j;
    return d;
}

/* smime_write_object - O written by GMime, canonicalised to CRLF into OUT
 * (reset first).  0, or -1 when out of memory. */
static int smime_write_object(GMimeObject *o, kyso_buf *out)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    GByteArray *ba;
    int rc = -1;

    if (g_mime_object_write_to_stream(o, NULL, mem) >= 0) {
        ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        buf_free(out);
        rc = smime_append_crlf(out, ba->data, ba->len);
    }
    g_object_unref(mem);
    return rc;
}

/*
 * smime_convert - parse the entity ENT (CRLF) with GMime and re-encode what
 * would not survive a 7-bit relay; when something changed, ENT is
 * replaced by GMime's rendering in CRLF.  Returns the number of changes,
 * SMIME_EREFUSED or TOKEN_ECONFIG with ERR.
 */
static int smime_convert(kyso_buf *ent, char *err, size_t errlen)
{
    size_t ulen;
    unsigned char *u = smime_unix((const unsigned char *)ent->p, ent->len, &ulen);
    smime_conv c = { 0, 0, err, errlen };
    int rc;

    if (u == NULL)
        return smime_fail(err, errlen, TOKEN_ECONFIG, "out of memory");
    mime_init_once();
    GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)u, ulen);
    GMimeParser *parser = g_mime_parser_new_with_stream(st);
    GMimeObject *obj = g_mime_parser_construct_part(parser, NULL);
    if (obj == NULL)
        rc = smime_fail(err, errlen, SMIME_EREFUSED, "the message body does not parse as MIME");
    else if (smime_conv_object(&c, obj, 0, 0, "") != 0)
        rc = c.refused ? SMIME_EREFUSED : smime_fail(err, errlen, TOKEN_ECONFIG, "out of memory");
    else if (c.changed > 0 && smime_write_object(obj, ent) != 0)
        rc = smime_fail(err, errlen, TOKEN_ECONFIG, "out of memory");
    else
        rc = c.changed;
    if (obj != NULL)
        g_object_unref(obj);
    g_object_unref(parser);
    g_object_unref(st);
    free(u);
    return rc;
}

/* smime_check_signed - the signed entity P (N bytes, CRLF) holds no NUL and
 * no line over 998 bytes.  0 or SMIME_EREFUSED with ERR. */
static int smime_check_signed(const unsigned char *p, size_t n, char *err, size_t errlen)
{
    size_t line = 1, start = 0;

    if (memchr(p, '\0', n) != NULL)
        return smime_fail(err, errlen, SMIME_EREFUSED, "the message holds a NUL byte that "
                          "cannot be re-encoded");
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '\n')
            continue;
        size_t ll = i - start - (i > start && i < n && p[i - 1] == '\r');
        if (ll > SMIME_LINE_MAX)
            return smime_fail(err, errlen, SMIME_EREFUSED, "line %zu of the signed part is "
                              "longer than 998 bytes and cannot be re-encoded", line);
        line++;
        start = i + 1;
    }
    return 0;
}

/* smime_make_boundary - a random boundary (into B, at least 48 bytes) that
 * does not occur in P (N bytes).  0, or TOKEN_ECONFIG with ERR. */
static int smime_make_boundary(char *b, const unsigned char *p, size_t n,
                               char *err, size_t errlen)
{
    unsigned char r[16];

    for (int tries = 0; tries < 8; tries++) {
        if (RAND_bytes(r, sizeof r) != 1)
            return smime_fail(err, errlen, TOKEN_ECONFIG, "no random bytes for the boundary");
        int k = snprintf(b, 48, "----kyso-");
        for (size_t i = 0; i < sizeof r; i++)
            k += snprintf(b + k, 48 - (size_t)k, "%02x", r[i]);
        if (memmem(p, n, b, (size_t)k) == NULL)
            return 0;
    }
    return smime_fail(err, errlen, TOKEN_ECONFIG, "no boundary found that is not in the message");
}

/* smime_append_base64 - DER (LEN bytes) as base64 lines of 76 characters
 * joined by CRLF (no CRLF after the last).  0 or -1. */
static int smime_append_base64(kyso_buf *b, const unsigned char *der, size_t len)
{
    unsigned char line[80];

    for (size_t off = 0; off < len; off += 57) {
        size_t n = len - off < 57 ? len - off : 57;
        int k = EVP_EncodeBlock(line, der + off, (int)n);
        if (off > 0)
            buf_append(b, "\r\n", 2);
        buf_append(b, line, (size_t)k);
    }
    return b->oom ? -1 : 0;
}

/*
 * smime_build_body - the multipart/signed body: preamble, ENT between
 * delimiter lines of boundary BND, the signature part, the close
 * delimiter.  Sets o->body, bodylen, signed_off, signed_len.  0 or -1.
 */
static int smime_build_body(smime_output *o, const kyso_buf *ent, const char *bnd,
                            const unsigned char *der, size_t derlen)
{
    kyso_buf b = {0};

    buf_printf(&b, SMIME_PREAMBLE "\r\n--%s\r\n", bnd);
    o->signed_off = b.len;
    buf_append(&b, ent->p, ent->len);
    buf_printf(&b, "\r\n--%s\r\n"
               "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
               "Content-Transfer-Encoding: base64\r\n"
               "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
               "Content-Description: S/MIME Cryptographic Signature\r\n\r\n", bnd);
    smime_append_base64(&b, der, derlen);
    buf_printf(&b, "\r\n\r\n--%s--\r\n", bnd);
    if (b.oom) {
        buf_free(&b);
        return -1;
    }
    o->signed_len = ent->len;
    o->bodylen = b.len;
    o->body = (unsigned char *)buf_steal(&b);
    return o->body ? 0 : -1;
}

/* smime_add_edit - append an edit (copies of NAME, NAMELEN bytes, and VALUE
 * or NULL).  0 or -1. */
static int smime_add_edit(smime_output *o, const char *name, size_t namelen, int index,
                          const char *value)
{
    smime_hdr_edit *e = realloc(o->edits, (o->nedits + 1) * sizeof *e);

    if (e == NULL)
        return -1;
    o->edits = e;
    e = &o->edits[o->nedits];
    e->name = strndup(name, namelen);
    e->value = value ? strdup(value) : NULL;
    e->index = index;
    if (e->name == NULL || (value && e->value == NULL)) {
        free(e->name);
        free(e->value);
        return -1;
    }
    o->nedits++;
    return 0;
}

/*
 * smime_build_edits - the header edits for H of M: every moved field but
 * Content-Type deleted (last first), Content-Type replaced or added with
 * boundary BND, MIME-Version added when missing.  0 or -1.
 */
static int smime_build_edits(smime_output *o, const unsigned char *m, const smime_head *h,
                             const char *bnd)
{
    char ct[200];
    int has_ct = 0, has_mv = 0, rc = 0;

    snprintf(ct, sizeof ct, "multipart/signed; protocol=\"application/pkcs7-signature\";"
             " micalg=sha-256;\n\tboundary=\"%s\"", bnd);
    for (size_t k = h->n; rc == 0 && k-- > 0;) {
        const smime_field *f = &h->f[k];
        has_mv |= smime_is_named(m, f, "MIME-Version");
        if (!smime_moves(m, f))
            continue;
        int idx = smime_index(m, h, k);
        if (smime_is_named(m, f, "Content-Type"))
            has_ct = idx;
        else
            rc = smime_add_edit(o, (const char *)m + f->off, f->nlen, idx, NULL);
    }
    if (rc == 0)
        rc = smime_add_edit(o, "Content-Type", 12, has_ct ? 1 : 0, ct);
    if (rc == 0 && !has_mv)
        rc = smime_add_edit(o, "MIME-Version", 12, 0, "1.0");
    return rc;
}

/* smime_prepare - check M's header and body and build the entity to sign
 * into ENT (CRLF, re-encoded as needed; *reencoded set).  0,
 * SMIME_EREFUSED or TOKEN_ECONFIG with ERR. */
static int smime_prepare(const unsigned char *m, size_t len, const smime_head *h,
                         kyso_buf *ent, int *reencoded, char *err, size_t errlen)
{
    long cr;
    int rc;

    if ((rc = smime_check_unique(m, h, err, errlen)) != 0)
        return rc;
    if ((cr = smime_bare_cr(m + h->body, len - h->body)) >= 0)
        return smime_fail(err, errlen, SMIME_EREFUSED, "the body holds a bare CR at byte %ld "
                          "(RFC 5322 2.3)", cr);
    if (smime_build_entity(m, len, h, ent) != 0)
        return smime_fail(err, errlen, TOKEN_ECONFIG, "out of memory");
    if ((rc = smime_convert(ent, err, errlen)) < 0)
        return rc;
    *reencoded = rc;
    return smime_check_signed((const unsigned char *)ent->p, ent->len, err, errlen);
}

int smime_sign_message(const cms_signer *s, const unsigned char *msg, size_t len,
                       smime_output *out, char *err, size_t errlen)
{
    smime_head h;
    kyso_buf ent = {0};
    unsigned char *der = NULL;
    size_t derlen = 0;
    char bnd[48];
    int rc;

    memset(out, 0, sizeof *out);
    if (msg == NULL)
        len = 0;
    if ((rc = smime_scan_header(msg, len, &h, err, errlen)) != 0)
        return rc;
    rc = smime_prepare(msg, len, &h, &ent, &out->reencoded, err, errlen);
    if (rc == 0)
        rc = smime_make_boundary(bnd, (const unsigned char *)ent.p, ent.len, err, errlen);
    if (rc == 0) {
        kyso_span span = { (const unsigned char *)ent.p, ent.len };
        rc = cms_sign_detached(s, &span, 1, CMSS_SMIME, &der, &derlen, err, errlen);
    }
    if (rc == 0 && (smime_build_body(out, &ent, bnd, der, derlen) != 0 ||
                    smime_build_edits(out, msg, &h, bnd) != 0))
        rc = smime_fail(err, errlen, TOKEN_ECONFIG, "out of memory");
    if (rc != 0)
        smime_output_free(out);
    free(der);
    buf_free(&ent);
    free(h.f);
    return rc;
}

/* smime_find_edit - the edit of O for field K of H (in M), or NULL. */
static const smime_hdr_edit *smime_find_edit(const smime_output *o, const unsigned char *m,
                                             const smime_head *h, size_t k)
{
    const smime_field *f = &h->f[k];
    int index = -1;

    for (size_t i = 0; i < o->nedits; i++) {
        const smime_hdr_edit *e = &o->edits[i];
        if (e->index == 0 || strlen(e->name) != f->nlen ||
            strncasecmp(e->name, (const char *)m + f->off, f->nlen) != 0)
            continue;
        if (index < 0)
            index = smime_index(m, h, k);      /* only for the few named fields */
        if (e->index == index)
            return e;
    }
    return NULL;
}

/* smime_append_field - "NAME: VALUE" with VALUE's LF made CRLF, then CRLF. */
static void smime_append_field(kyso_buf *b, const char *name, const char *value)
{
    buf_printf(b, "%s: ", name);
    smime_append_crlf(b, (const unsigned char *)value, strlen(value));
    buf_append(b, "\r\n", 2);
}

int smime_apply(const unsigned char *msg, size_t len, const smime_output *o,
                unsigned char **res, size_t *reslen, char *err, size_t errlen)
{
    smime_head h;
    kyso_buf b = {0};
    int rc;

    *res = NULL;
    *reslen = 0;
    if ((rc = smime_scan_header(msg, msg ? len : 0, &h, err, errlen)) != 0)
        return rc;
    for (size_t i = 0; i < h.n; i++) {
        const smime_field *f = &h.f[i];
        const smime_hdr_edit *e = smime_find_edit(o, msg, &h, i);
        if (e == NULL)
            smime_append_crlf(&b, msg + f->off, f->len);
        else if (e->value != NULL)
            smime_append_field(&b, e->name, e->value);
    }
    for (size_t i = 0; i < o->nedits; i++)
        if (o->edits[i].index == 0)
            smime_append_field(&b, o->edits[i].name, o->edits[i].value);
    buf_append(&b, "\r\n", 2);
    buf_append(&b, o->body, o->bodylen);
    free(h.f);
    if (b.oom) {
        buf_free(&b);
        return smime_fail(err, errlen, TOKEN_ECONFIG, "out of memory");
    }
    *reslen = b.len;
    *res = (unsigned char *)buf_steal(&b);
    return 0;
}

void smime_output_free(smime_output *o)
{
    for (size_t i = 0; i < o->nedits; i++) {
        free(o->edits[i].name);
        free(o->edits[i].value);
    }
    free(o->edits);
    free(o->body);
    memset(o, 0, sizeof *o);
}
