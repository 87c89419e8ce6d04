/*
 * sniff.c - recognise documents by content (magic bytes), then by name and
 * declared type.  Must never decide "not a document" for something that
 * claims to be one: a claimed PDF with foreign bytes is still a PDF, so that
 * it is verified (and found malformed) rather than waved through.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include "sniff.h"

static const unsigned char oid_signed_data[] = {
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02
};

/* mem_find - first occurrence of NEEDLE in the first N bytes of HAY, or NULL. */
static const unsigned char *mem_find(const unsigned char *hay, size_t n,
                                     const char *needle)
{
    size_t m = strlen(needle);
    return m <= n ? memmem(hay, n, needle, m) : NULL;
}

/* name_has_ext - does NAME end with EXT (".pdf"), case-insensitively? */
static int name_has_ext(const char *name, const char *ext)
{
    if (name == NULL)
        return 0;
    size_t n = strlen(name), e = strlen(ext);
    return n >= e && strcasecmp(name + n - e, ext) == 0;
}

/* ctype_is - is CTYPE (may carry parameters) the type T? */
static int ctype_is(const char *ctype, const char *t)
{
    size_t n = strlen(t);
    return ctype && strncasecmp(ctype, t, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* sniff_cms - is BUF a DER or PEM CMS SignedData? */
static int sniff_cms(const unsigned char *buf, size_t len)
{
    if (len >= 2 && buf[0] == 0x30) {
        size_t lim = len < 24 ? len : 24;
        return memmem(buf, lim, oid_signed_data, sizeof oid_signed_data) != NULL;
    }
    return mem_find(buf, len < 64 ? len : 64, "-----BEGIN PKCS7-----") != NULL ||
           mem_find(buf, len < 64 ? len : 64, "-----BEGIN CMS-----") != NULL;
}

/* sniff_message - do the first lines look like RFC 5322 headers? */
static int sniff_message(const unsigned char *buf, size_t len)
{
    size_t lim = len < 8192 ? len : 8192;
    const unsigned char *end = mem_find(buf, lim, "\n\n");
    const unsigned char *end2 = mem_find(buf, lim, "\r\n\r\n");
    if (end2 && (!end || end2 < end))
        end = end2;
    if (end == NULL)
        return 0;
    for (const unsigned char *p = buf; p < end && *p != ':'; p++)
        if (*p <= ' ' || *p > '~')
            return 0;
    size_t hl = (size_t)(end - buf);
    return mem_find(buf, hl, "From:") || mem_find(buf, hl, "MIME-Version:") ||
           mem_find(buf, hl, "Received:") || mem_find(buf, hl, "Message-ID:");
}

/* sniff_by_content - KIND_OTHER when the bytes say nothing. */
static kyso_kind sniff_by_content(const unsigned char *buf, size_t len,
                                  const char *name, const char *ctype)
{
    static const unsigned char ole[] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    /* CMS first: a .p7m of a PDF holds "%PDF-" within its first bytes */
    if (sniff_cms(buf, len)) {
        if (name_has_ext(name, ".p7s") || ctype_is(ctype, "application/pkcs7-signature") ||
            ctype_is(ctype, "application/x-pkcs7-signature"))
            return KIND_P7S;
        return KIND_P7M;
    }
    if (mem_find(buf, len < 1024 ? len : 1024, "%PDF-"))
        return KIND_PDF;
    if (len >= sizeof ole && memcmp(buf, ole, sizeof ole) == 0)
        return KIND_OLE;
    if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0) {
        size_t lim = len < 4096 ? len : 4096;
        if (mem_find(buf, lim, "[Content_Types].xml") ||
            mem_find(buf, lim, "mimetypeapplication/vnd.oasis") ||
            mem_find(buf, lim, "word/") || mem_find(buf, lim, "xl/"))
            return KIND_OFFICE;
        return KIND_OTHER;
    }
    if (sniff_message(buf, len))
        return KIND_MESSAGE;
    return KIND_OTHER;
}

kyso_kind sniff_kind(const unsigned char *buf, size_t len,
                     const char *name, const char *ctype)
{
    kyso_kind k = sniff_by_content(buf, len, name, ctype);
    if (k != KIND_OTHER && k != KIND_MESSAGE)
        return k;
    /* what it claims to be, so that a document in disguise is still checked */
    if (name_has_ext(name, ".pdf") || ctype_is(ctype, "application/pdf"))
        return KIND_PDF;
    if (name_has_ext(name, ".p7s") || ctype_is(ctype, "application/pkcs7-signature"))
        return KIND_P7S;
    if (name_has_ext(name, ".p7m") || ctype_is(ctype, "application/pkcs7-mime"))
        return KIND_P7M;
    if (name_has_ext(name, ".docx") || name_has_ext(name, ".xlsx") ||
        name_has_ext(name, ".odt") || name_has_ext(name, ".ods"))
        return KIND_OFFICE;
    if (name_has_ext(name, ".doc") || name_has_ext(name, ".xls"))
        return KIND_OLE;
    if (k == KIND_MESSAGE || name_has_ext(name, ".eml") || ctype_is(ctype, "message/rfc822"))
        return KIND_MESSAGE;
    if (ctype_is(ctype, "text/plain") || ctype_is(ctype, "text/html"))
        return KIND_TEXT;
    return KIND_OTHER;
}
