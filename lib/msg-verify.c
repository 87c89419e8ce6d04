/*
 * msg-verify.c - verify a whole message: its S/MIME signature, if any
 * (multipart/signed over the exact signed bytes, or application/pkcs7-mime
 * signed-data whose content is walked in turn), the signer's address
 * against From, and every document attachment at any depth.  A detached
 * X.p7s is checked against the part named X of the same message.
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
    int failed;                 /* out of memory, or a nested walk hit a limit */
};

static int msgv_on_part(const kyso_part *p, void *arg);

/* msgv_remember - keep a copy of a named part for a later X.p7s. */
static void msgv_remember(struct msgv *m, const kyso_part *p)
{
    if (p->filename == NULL || m->seen_bytes + p->len > m->v->lim.max_message_size)
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

/* msgv_smime_detached - the signature of a multipart/signed. */
static int msgv_smime_detached(struct msgv *m, const kyso_part *p)
{
    kyso_sig_result *sig = result_add_sig(m->out);
    if (sig == NULL)
        return m->failed = 1;
    sig->subfilter = strdup("smime");
    kyso_span span = {p->signed_content, p->signed_len};
    cms_verify_detached(m->v, p->data, p->len, &span, 1, CMSV_TEXT_CRLF, sig);
    msgv_check_signer(p, sig);
    return 0;
}

/* msgv_smime_opaque - application/pkcs7-mime signed-data: verify, then
 * walk the MIME entity it holds. */
static int msgv_smime_opaque(struct msgv *m, const kyso_part *p)
{
    kyso_sig_result *sig = result_add_sig(m->out);
    if (sig == NULL)
        return m->failed = 1;
    sig->subfilter = strdup("smime");
    unsigned char *content = NULL;
    size_t clen = 0;
    cms_verify_attached(m->v, p->data, p->len, &content, &clen, sig);
    msgv_check_signer(p, sig);
    if (content == NULL)
        return 0;
    kyso_reason why = REASON_OK;
    char detail[256];
    int rc = mime_walk_entity(m->v, content, clen, p->depth + 1, p->msg_from, msgv_on_part,
                              m, &why, detail, sizeof detail);
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

/* msgv_is_smime_body - is a pkcs7-mime part the S/MIME body rather than a
 * .p7m document attached to the message? */
static int msgv_is_smime_body(const kyso_part *p)
{
    return p->filename == NULL || strcasecmp(p->filename, "smime.p7m") == 0;
}

static int msgv_on_part(const kyso_part *p, void *arg)
{
    struct msgv *m = arg;
    switch (p->kind) {
    case KIND_P7S:
        if (p->signed_content)
            return msgv_smime_detached(m, p);
        return msgv_document(m, p, msgv_find_signed_file(m, p->filename));
    case KIND_P7M:
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

kyso_reason msg_verify(const kyso_verifier *v, const unsigned char *buf, size_t len,
                       kyso_doc_result *out)
{
    struct msgv m = {.v = v, .out = out};
    kyso_reason why = REASON_OK;
    char detail[256];
    out->kind = KIND_MESSAGE;
    int rc = mime_walk(v, buf, len, msgv_on_part, &m, &why, detail, sizeof detail);
    if (rc < 0 && why != REASON_OK) {
        out->reason = why;
        result_set_detail(&out->detail, "%s", detail);
    } else if (m.failed) {
        out->reason = REASON_INTERNAL_ERROR;
        result_set_detail(&out->detail, "out of memory while checking the message");
    }
    for (size_t i = 0; i < m.nseen; i++) {
        free(m.seen[i].name);
        free(m.seen[i].data);
    }
    free(m.seen);
    result_finish_doc(out);
    return out->reason;
}
