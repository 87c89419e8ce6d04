/*
 * msg-verify.c - verify a whole message: its S/MIME signature, if any
 * (multipart/signed over the exact signed bytes, or application/pkcs7-mime
 * signed-data whose content is walked in turn), the signer's address
 * against From, and every document attachment at any depth.  A detached
 * X.p7s is checked against the part named X of the same message, whichever
 * comes first.  Encrypted S/MIME cannot be looked into: unsupported_type.
 * A message with a bare CR is malformed as a whole (see msgv_bare_cr).
 * Must never call a message valid when a document in it was not checked.
 * Never prints.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cms.h"
#include "mime-walk.h"
#include "verify.h"

struct seen_part {
    char *name;
    unsigned char *data;
    size_t len;
};

struct msgv {
    const kyso_verifier *v;
    kyso_doc_result *out;
    struct seen_part *seen;     /* named parts so far, for detached .p7s */
    size_t nseen, seen_bytes;
    struct seen_part *pending;  /* .p7s parts whose file has not come yet */
    size_t npending;
    int failed;                 /* out of memory, or a nested walk hit a limit */
    int may_pair;               /* the message may hold a detached .p7s */
    int fwd_base;               /* forwarded levels above a pkcs7-mime entity walk */
};

static int msgv_on_part(const kyso_part *p, void *arg);
static void msgv_match_pending(struct msgv *m);

/* msgv_may_pair - could the message in BUF hold a detached X.p7s?  Only
 * then are named parts copied for pairing (a copy of every attachment
 * costs memory and time).  Looks for ".p7s" or "pkcs7-signature" in any
 * case, in one pass: memchr finds each '7' (both marks have one) and the
 * bytes around it are compared; a signature named some other way is then
 * checked without its file and found malformed: refused, never passed. */
static int msgv_may_pair(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf, *end = buf + len;
    while ((p = memchr(p, '7', (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - buf);
        if (i >= 2 && i + 1 < len && buf[i - 2] == '.' && (buf[i - 1] | 0x20) == 'p' &&
            (buf[i + 1] | 0x20) == 's')
            return 1;
        if (i >= 4 && i + 10 < len && buf[i + 1] == '-' && (buf[i - 4] | 0x20) == 'p' &&
            strncasecmp((const char *)buf + i - 4, "pkcs", 4) == 0 &&
            strncasecmp((const char *)buf + i + 1, "-signature", 10) == 0)
            return 1;
        p++;
    }
    return 0;
}

/* msgv_remember - keep a copy of a named part for a later X.p7s. */
static void msgv_remember(struct msgv *m, const kyso_part *p)
{
    if (!m->may_pair || p->filename == NULL || m->seen_bytes + p->len > m->v->lim.max_message_size)
        return;
    struct seen_part *n = realloc(m->seen, (m->nseen + 1) * sizeof *n);
    if (n == NULL)
        return;
    m->seen = n;
    n[m->nseen].name = strdup(p->filename);
    n[m->nseen].data = malloc(p->len ? p->len : 1);
    if (n[m->nseen].name == NULL || n[m->nseen].data == NULL) {
        free(n[m->nseen].name);
        free(n[m->nseen].data);
        return;
    }
    memcpy(n[m->nseen].data, p->data, p->len);
    n[m->nseen].len = p->len;
    m->seen_bytes += p->len;
    m->nseen++;
    if (m->npending > 0)
        msgv_match_pending(m);
}

/* msgv_find_signed_file - the part a detached NAME.p7s signs, or NULL. */
static const struct seen_part *msgv_find_signed_file(struct msgv *m, const char *p7s)
{
    size_t n = p7s ? strlen(p7s) : 0;
    if (n <= 4 || strcasecmp(p7s + n - 4, ".p7s") != 0)
        return NULL;
    for (size_t i = m->nseen; i-- > 0;)
        if (strlen(m->seen[i].name) == n - 4 && strncmp(m->seen[i].name, p7s, n - 4) == 0)
            return &m->seen[i];
    return NULL;
}

/* msgv_add_detached - an attachment result for the detached signature
 * named P7S (DER bytes SIG) over CONTENT, or over nothing when CONTENT is
 * NULL (then malformed: its file is not in the message). */
static void msgv_add_detached(struct msgv *m, const char *p7s, const unsigned char *sig,
                              size_t siglen, const struct seen_part *content)
{
    kyso_doc_result *att = result_add_att(m->out);
    if (att == NULL) {
        m->failed = 1;
        return;
    }
    verify_buffer(m->v, sig, siglen, p7s, "application/pkcs7-signature",
                  content ? content->data : NULL, content ? content->len : 0, att);
    if (content == NULL && att->reason == REASON_MALFORMED)
        result_set_detail(&att->detail, "no part named as the signed file in this message");
    free(att->name);
    att->name = strdup(p7s);
}

/* msgv_defer_p7s - keep a copy of a .p7s that came before its file.
 * Returns 0, or -1 when it cannot be kept (too big for a CMS blob, or out
 * of memory): the caller then checks it at once, without content. */
static int msgv_defer_p7s(struct msgv *m, const kyso_part *p)
{
    if (p->len > m->v->lim.max_cms_size)
        return -1;
    struct seen_part *n = realloc(m->pending, (m->npending + 1) * sizeof *n);
    if (n == NULL)
        return -1;
    m->pending = n;
    n[m->npending].name = strdup(p->filename);
    n[m->npending].data = malloc(p->len ? p->len : 1);
    if (n[m->npending].name == NULL || n[m->npending].data == NULL) {
        free(n[m->npending].name);
        free(n[m->npending].data);
        return -1;
    }
    memcpy(n[m->npending].data, p->data, p->len);
    n[m->npending].len = p->len;
    m->npending++;
    return 0;
}

/* msgv_match_pending - check every deferred NAME.p7s against the part
 * just remembered (the last of m->seen), and drop them from the list. */
static void msgv_match_pending(struct msgv *m)
{
    const struct seen_part *c = &m->seen[m->nseen - 1];
    size_t n = strlen(c->name), k = 0;
    for (size_t i = 0; i < m->npending; i++) {
        struct seen_part *d = &m->pending[i];
        if (strlen(d->name) == n + 4 && strncmp(d->name, c->name, n) == 0 &&
            strcasecmp(d->name + n, ".p7s") == 0) {
            msgv_add_detached(m, d->name, d->data, d->len, c);
            free(d->name);
            free(d->data);
        } else {
            m->pending[k++] = *d;
        }
    }
    m->npending = k;
}

/* msgv_check_signer - a valid S/MIME signature whose certificate does not
 * name the From address is signer_mismatch. */
static void msgv_check_signer(const kyso_part *p, kyso_sig_result *sig)
{
    if (sig->reason != REASON_OK || p->msg_from == NULL)
        return;
    if (sig->signer.email && strcasecmp(sig->signer.email, p->msg_from) == 0)
        return;
    sig->reason = REASON_SIGNER_MISMATCH;
    result_set_detail(&sig->detail, "signed by %s, but the message is from %s",
                      sig->signer.email ? sig->signer.email : "a certificate without e-mail",
                      p->msg_from);
}

/* msgv_smime_sig - a new S/MIME signature result: the message's own, or,
 * for a message forwarded inside it, one of an attachment result standing
 * for that message (a forwarded signed mail must not make the message that
 * carries it look signed).  NULL when out of memory (m->failed set). */
static kyso_sig_result *msgv_smime_sig(struct msgv *m, const kyso_part *p)
{
    kyso_doc_result *holder = m->out;
    if (p->forwarded + m->fwd_base > 0) {
        holder = result_add_att(m->out);
        if (holder != NULL) {
            holder->kind = KIND_MESSAGE;
            result_set_detail(&holder->name, "forwarded message (part %s)", p->path);
        }
    }
    kyso_sig_result *sig = holder ? result_add_sig(holder) : NULL;
    if (sig == NULL) {
        m->failed = 1;
        return NULL;
    }
    sig->subfilter = strdup("smime");
    return sig;
}

/* msgv_finish_holder - settle the verdict of a forwarded-message holder. */
static void msgv_finish_holder(struct msgv *m, const kyso_part *p)
{
    if (p->forwarded + m->fwd_base > 0 && m->out->natts > 0)
        result_finish_doc(&m->out->atts[m->out->natts - 1]);
}

/* msgv_smime_detached - the signature of a multipart/signed. */
static int msgv_smime_detached(struct msgv *m, const kyso_part *p)
{
    kyso_sig_result *sig = msgv_smime_sig(m, p);
    if (sig == NULL)
        return 1;
    kyso_span span = {p->signed_content, p->signed_len};
    cms_verify_detached(m->v, p->data, p->len, &span, 1, CMSV_TEXT_CRLF, sig);
    msgv_check_signer(p, sig);
    msgv_finish_holder(m, p);
    return 0;
}

/* msgv_smime_opaque - application/pkcs7-mime signed-data: verify, then
 * walk the MIME entity it holds. */
static int msgv_smime_opaque(struct msgv *m, const kyso_part *p)
{
    kyso_sig_result *sig = msgv_smime_sig(m, p);
    if (sig == NULL)
        return 1;
    unsigned char *content = NULL;
    size_t clen = 0;
    cms_verify_attached(m->v, p->data, p->len, &content, &clen, sig);
    msgv_check_signer(p, sig);
    msgv_finish_holder(m, p);
    if (content == NULL)
        return 0;
    kyso_reason why = REASON_OK;
    char detail[256];
    int outer = m->fwd_base;
    m->fwd_base += p->forwarded;
    m->may_pair |= msgv_may_pair(content, clen);     /* the content was not visible before */
    int rc = mime_walk_entity(m->v, content, clen, p->depth + 1, p->msg_from, msgv_on_part,
                              m, &why, detail, sizeof detail);
    m->fwd_base = outer;
    free(content);
    if (rc < 0 && why != REASON_OK) {
        m->out->reason = why;
        result_set_detail(&m->out->detail, "%s", detail);
        return -1;
    }
    return rc;
}

/* msgv_document - one document attachment, verified on its own. */
static int msgv_document(struct msgv *m, const kyso_part *p, const struct seen_part *signs)
{
    kyso_doc_result *att = result_add_att(m->out);
    if (att == NULL)
        return m->failed = 1;
    verify_buffer(m->v, p->data, p->len, p->filename, p->content_type,
                  signs ? signs->data : NULL, signs ? signs->len : 0, att);
    if (p->kind == KIND_P7S && signs == NULL && att->reason == REASON_MALFORMED)
        result_set_detail(&att->detail, "no part named as the signed file in this message");
    if (p->filename)
        att->name = strdup(p->filename);
    else
        result_set_detail(&att->name, "part %s", p->path);
    return 0;
}

/* msgv_is_enveloped - does DER (decoded CMS) hold EnvelopedData or
 * AuthEnvelopedData?  Looks for the content-type OID near the start. */
static int msgv_is_enveloped(const unsigned char *der, size_t len)
{
    static const unsigned char env[] = {0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7,
                                        0x0D, 0x01, 0x07, 0x03};
    static const unsigned char aenv[] = {0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7,
                                         0x0D, 0x01, 0x09, 0x10, 0x01, 0x17};
    size_t lim = len < 24 ? len : 24;
    for (size_t i = 0; i < lim; i++) {
        if (len - i >= sizeof env && memcmp(der + i, env, sizeof env) == 0)
            return 1;
        if (len - i >= sizeof aenv && memcmp(der + i, aenv, sizeof aenv) == 0)
            return 1;
    }
    return 0;
}

/* msgv_encrypted - encrypted S/MIME content: nothing inside can be checked. */
static int msgv_encrypted(struct msgv *m, const kyso_part *p)
{
    kyso_doc_result *att = result_add_att(m->out);
    if (att == NULL)
        return m->failed = 1;
    att->kind = KIND_P7M;
    att->reason = REASON_UNSUPPORTED_TYPE;
    result_set_detail(&att->detail, "encrypted S/MIME content cannot be checked");
    if (p->filename)
        att->name = strdup(p->filename);
    else
        result_set_detail(&att->name, "part %s", p->path);
    return 0;
}

/* msgv_is_pkcs7_mime - is P declared application/(x-)pkcs7-mime?  The
 * declared type, not sniffing, makes an S/MIME body (RFC 8551 3.2): the
 * bytes of a SignedData may well hold "%PDF-" near their start. */
static int msgv_is_pkcs7_mime(const kyso_part *p)
{
    return p->content_type && (strcmp(p->content_type, "application/pkcs7-mime") == 0 ||
                               strcmp(p->content_type, "application/x-pkcs7-mime") == 0);
}

/* msgv_is_smime_body - is a pkcs7-mime part the S/MIME body rather than a
 * .p7m document attached to the message? */
static int msgv_is_smime_body(const kyso_part *p)
{
    return p->filename == NULL || strcasecmp(p->filename, "smime.p7m") == 0;
}

static int msgv_on_part(const kyso_part *p, void *arg)
{
    struct msgv *m = arg;
    const struct seen_part *signs;
    if (m->out->name == NULL && p->top_subject != NULL)
        m->out->name = strdup(p->top_subject);
    if (msgv_is_pkcs7_mime(p) && p->kind != KIND_P7M) {
        if (msgv_is_enveloped(p->data, p->len))
            return msgv_encrypted(m, p);
        if (msgv_is_smime_body(p))
            return msgv_smime_opaque(m, p);
    }
    switch (p->kind) {
    case KIND_P7S:
        if (p->signed_content)
            return msgv_smime_detached(m, p);
        signs = msgv_find_signed_file(m, p->filename);
        if (signs == NULL && p->filename && msgv_defer_p7s(m, p) == 0)
            return 0;
        return msgv_document(m, p, signs);
    case KIND_P7M:
        if (msgv_is_enveloped(p->data, p->len))
            return msgv_encrypted(m, p);
        if (msgv_is_smime_body(p))
            return msgv_smime_opaque(m, p);
        return msgv_document(m, p, NULL);
    case KIND_PDF: case KIND_OFFICE: case KIND_OLE:
        msgv_remember(m, p);
        return msgv_document(m, p, NULL);
    case KIND_MESSAGE: case KIND_TEXT: case KIND_OTHER:
        msgv_remember(m, p);    /* a detached .p7s may sign any file */
        break;
    }
    return 0;
}

/* msgv_bare_cr - the offset of the first CR that is not followed by LF,
 * or -1.  RFC 5322 2.3 forbids them, and readers disagree on whether one
 * ends a line (GMime: no; Python's email package and others: yes), so a
 * message holding one could show a reader parts that we never saw. */
static long msgv_bare_cr(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf, *end = buf + len;
    while ((p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
        if (p + 1 == end || p[1] != '\n')
            return (long)(p - buf);
        p += 2;
    }
    return -1;
}

kyso_reason msg_verify(const kyso_verifier *v, const unsigned char *buf, size_t len,
                       kyso_doc_result *out)
{
    struct msgv m = {.v = v, .out = out, .may_pair = msgv_may_pair(buf, len)};
    kyso_reason why = REASON_OK;
    char detail[256];
    out->kind = KIND_MESSAGE;
    long cr = msgv_bare_cr(buf, len);
    if (cr >= 0) {
        out->reason = REASON_MALFORMED;
        result_set_detail(&out->detail, "a CR without LF at byte %ld (RFC 5322 2.3): mail "
                          "readers disagree on where its lines end", cr);
        return out->reason;
    }
    int rc = mime_walk(v, buf, len, msgv_on_part, &m, &why, detail, sizeof detail);
    if (rc < 0 && why != REASON_OK) {
        out->reason = why;
        result_set_detail(&out->detail, "%s", detail);
    } else if (m.failed) {
        out->reason = REASON_INTERNAL_ERROR;
        result_set_detail(&out->detail, "out of memory while checking the message");
    }
    for (size_t i = 0; i < m.npending; i++) {
        if (rc >= 0 && !m.failed)
            msgv_add_detached(&m, m.pending[i].name, m.pending[i].data, m.pending[i].len, NULL);
        free(m.pending[i].name);
        free(m.pending[i].data);
    }
    free(m.pending);
    for (size_t i = 0; i < m.nseen; i++) {
        free(m.seen[i].name);
        free(m.seen[i].data);
    }
    free(m.seen);
    result_finish_doc(out);
    return out->reason;
}
