/*
 * verify.c - the engine's front door: take one file or buffer, decide what
 * it is (sniff.c) and hand it to the checker for its kind.  Must never
 * return without a reason set, and never call a document valid that no
 * checker has looked at.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "buf.h"
#include "cms.h"
#include "sniff.h"
#include "vcache.h"
#include "verify.h"

/* verify_p7s - a detached CMS signature over CONTENT. */
static kyso_reason verify_p7s(const kyso_verifier *v, const unsigned char *buf, size_t len,
                              const unsigned char *content, size_t clen, kyso_doc_result *out)
{
    if (content == NULL) {
        result_set_detail(&out->detail, "a detached signature needs the file it signs");
        return out->reason = REASON_MALFORMED;
    }
    kyso_sig_result *s = result_add_sig(out);
    if (s == NULL)
        return out->reason = REASON_INTERNAL_ERROR;
    s->subfilter = strdup("cms");
    kyso_span span = {content, clen};
    cms_verify_detached(v, buf, len, &span, 1, 0, s);
    result_finish_doc(out);
    return out->reason;
}

/* verify_p7m - CMS with the content inside; the content is checked too
 * when it is itself a document (a signed PDF inside a .p7m). */
static kyso_reason verify_p7m(const kyso_verifier *v, const unsigned char *buf, size_t len,
                              kyso_doc_result *out)
{
    kyso_sig_result *s = result_add_sig(out);
    if (s == NULL)
        return out->reason = REASON_INTERNAL_ERROR;
    s->subfilter = strdup("cms");
    unsigned char *content = NULL;
    size_t clen = 0;
    cms_verify_attached(v, buf, len, &content, &clen, s);
    if (content) {
        kyso_kind k = sniff_kind(content, clen, NULL, NULL);
        if (k == KIND_PDF) {    /* not P7M again: nesting would be unbounded */
            kyso_doc_result *att = result_add_att(out);
            if (att) {
                verify_buffer(v, content, clen, NULL, NULL, NULL, 0, att);
                att->name = strdup("(signed content)");
            }
        }
        free(content);
    }
    result_finish_doc(out);
    return out->reason;
}

/* verify_kind - verify BUF as a document of KIND (OUT zeroed, kind set). */
static kyso_reason verify_kind(const kyso_verifier *v, const unsigned char *buf, size_t len,
                               const unsigned char *detached_content, size_t detached_len,
                               kyso_doc_result *out)
{
    switch (out->kind) {
    case KIND_PDF:
        return pdf_sig_verify(v, buf, len, out);
    case KIND_P7S:
        return verify_p7s(v, buf, len, detached_content, detached_len, out);
    case KIND_P7M:
        return verify_p7m(v, buf, len, out);
    case KIND_MESSAGE:
        return msg_verify(v, buf, len, out);
    case KIND_OFFICE: case KIND_OLE:
        result_set_detail(&out->detail, "signatures inside %s files are not checked yet",
                          kind_name(out->kind));
        return out->reason = REASON_UNSUPPORTED_TYPE;
    case KIND_TEXT: case KIND_OTHER:
        break;
    }
    result_set_detail(&out->detail, "not a document kyso knows (PDF, CMS or e-mail)");
    return out->reason = REASON_UNSUPPORTED_TYPE;
}

kyso_reason verify_buffer(const kyso_verifier *v, const unsigned char *buf,
                          size_t len, const char *name, const char *ctype,
                          const unsigned char *detached_content,
                          size_t detached_len, kyso_doc_result *out)
{
    unsigned char key[VCACHE_KEY_LEN];
    kyso_kind kind = sniff_kind(buf, len, name, ctype);
    if (detached_content && kind == KIND_P7M)
        kind = KIND_P7S;
    int cacheable = v->cache && (kind == KIND_PDF || kind == KIND_P7S || kind == KIND_P7M) &&
                    vcache_key(kind, buf, len, detached_content, detached_len, key) == 0;
    time_t now = time(NULL);
    if (cacheable && vcache_get(v->cache, key, now, out))
        return out->reason;
    memset(out, 0, sizeof *out);
    out->kind = kind;
    verify_kind(v, buf, len, detached_content, detached_len, out);
    if (cacheable)
        vcache_put(v->cache, key, now, out);
    return out->reason;
}

/* strip_p7s - PATH without a trailing ".p7s" (malloc'd), or NULL. */
static char *strip_p7s(const char *path)
{
    size_t n = strlen(path);
    if (n <= 4 || strcasecmp(path + n - 4, ".p7s") != 0)
        return NULL;
    return strndup(path, n - 4);
}

/* read_bounded - map PATH into *p; -1 with err filled on failure. */
static int read_bounded(const char *path, size_t max, const unsigned char **p, size_t *len,
                        char *err, size_t errlen)
{
    int rc = buf_map_file(path, max, p, len);
    if (rc == -2)
        snprintf(err, errlen, "%s: larger than %zu bytes (limit)", path, max);
    else if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return rc < 0 ? -1 : 0;
}

int verify_file(const kyso_verifier *v, const char *path, const char *content_path,
                kyso_doc_result *out, char *err, size_t errlen)
{
    const unsigned char *buf = NULL, *content = NULL;
    size_t len = 0, clen = 0;
    memset(out, 0, sizeof *out);
    size_t max = v->lim.max_message_size > v->lim.max_doc_size ? v->lim.max_message_size
                                                                : v->lim.max_doc_size;
    if (read_bounded(path, max, &buf, &len, err, errlen) < 0)
        return -1;
    char *guess = content_path ? NULL : strip_p7s(path);
    const char *cpath = content_path ? content_path : guess;
    int rc = 0;
    if (cpath && read_bounded(cpath, v->lim.max_doc_size, &content, &clen, err, errlen) < 0)
        rc = -1;
    free(guess);
    if (rc == 0) {
        const char *base = strrchr(path, '/');
        rc = (int)verify_buffer(v, buf, len, base ? base + 1 : path, NULL, content, clen, out);
        if (out->name == NULL)
            out->name = strdup(base ? base + 1 : path);
    }
    buf_unmap_file(buf, len);
    buf_unmap_file(content, clen);
    return rc;
}
