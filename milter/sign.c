/*
 * sign.c - the organisation signature at the end of a message (see
 * sign.h).  Who: the SMTP AUTH login must have a SignerTable row whose
 * pattern matches the header From address (and the mail must come through
 * SignDaemonName when set).  What: every PDF part of the message itself
 * (not of forwarded messages, not inside S/MIME signed parts, which a
 * change would break).  With SignPolicy personal-first a PDF needs a valid
 * personal signature first (R6); one already carrying a valid signature
 * of this key's certificate is left alone.  The message is rewritten with
 * GMime only when every PDF was signed.
 */
#include <gmime/gmime.h>
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "buf.h"
#include "cert-class.h"
#include "logmsg.h"
#include "mime-walk.h"
#include "sign.h"
#include "signset.h"
#include "smime-sign.h"
#include "sniff.h"
#include "verify.h"

struct sign_walk {
    SMFICTX *ctx;               /* for smfi_progress while the token works */
    kyso_msg *m;
    const kt_key *key;
    const char *ref;
    GPtrArray *pdfs;            /* GMimePart * to sign */
    GMimeObject *top;
    struct sign_edit *edits;    /* the signed documents, not yet in the message */
    size_t nedits;
    int too_deep;               /* parts nested deeper than SIGN_MAX_DEPTH */
    kyso_signer me;             /* KEY's certificate described, once (check_pdf) */
    int me_ok;                  /* 1 described, -1 could not be */
};

/* How deep collect_pdfs looks for documents; a message nested deeper is
 * refused rather than signed in part. */
#define SIGN_MAX_DEPTH 64

/* One signed document waiting to replace its part's content. */
struct sign_edit {
    GMimePart *part;
    unsigned char *pdf;
    size_t len;
    size_t start, end;          /* its base64 in the original message, when known */
    int decoded_fast;           /* part_bytes decoded that base64 where it lies */
};

/* SIGN_SNIFF_HEAD - how much of a part's decoded content part_is_pdf reads
 * to class it the way the verifier does (sniff_kind looks for "%PDF-" in
 * the first 1024 bytes, after a CMS wrapper). */
#define SIGN_SNIFF_HEAD 2048

/* part_head - up to N bytes of P's decoded content from its start, read
 * through GMime's decoder for its Content-Transfer-Encoding (only as far as
 * needed) into HEAD; the count, 0 when there is none or it cannot be read. */
static size_t part_head(GMimePart *p, unsigned char *head, size_t n)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(p);
    GMimeStream *raw = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;
    if (raw == NULL || g_mime_stream_reset(raw) != 0)
        return 0;
    GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(dw);
    GMimeStream *f = g_mime_stream_filter_new(raw);
    GMimeFilter *dec = enc == GMIME_CONTENT_ENCODING_BASE64 ||
                       enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
                       enc == GMIME_CONTENT_ENCODING_UUENCODE
                           ? g_mime_filter_basic_new(enc, FALSE) : NULL;
    if (dec)
        g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), dec);
    size_t got = 0;
    ssize_t r;
    while (got < n && (r = g_mime_stream_read(f, (char *)head + got, n - got)) > 0)
        got += (size_t)r;
    if (dec)
        g_object_unref(dec);
    g_object_unref(f);
    g_mime_stream_reset(raw);
    return got;
}

/* part_is_pdf - is P a PDF document, as the verifier classes parts: by its
 * first bytes (a PDF sent as application/octet-stream, or named .bin, is
 * one), else by its type or name (application/pdf, .pdf)? */
static int part_is_pdf(GMimeObject *o)
{
    GMimePart *p = GMIME_PART(o);
    unsigned char head[SIGN_SNIFF_HEAD];
    size_t n = part_head(p, head, sizeof head);
    char *ctype = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(o));
    int pdf = sniff_kind(head, n, g_mime_part_get_filename(p), ctype) == KIND_PDF;
    g_free(ctype);
    return pdf;
}

/* collect_pdfs - the PDF leaves under O, in order, except those inside a
 * multipart/signed or multipart/encrypted (a change would break that
 * signature) and those of forwarded messages (not ours to sign). */
static void collect_pdfs(struct sign_walk *w, GMimeObject *o, int depth)
{
    if (depth > SIGN_MAX_DEPTH) {
        w->too_deep = 1;
        return;
    }
    if (GMIME_IS_MULTIPART_SIGNED(o) || GMIME_IS_MULTIPART_ENCRYPTED(o))
        return;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
            collect_pdfs(w, g_mime_multipart_get_part(mp, i), depth + 1);
    } else if (GMIME_IS_PART(o) && part_is_pdf(o)) {
        g_ptr_array_add(w->pdfs, o);
    }
}

/* part_bytes - the decoded content of P (caller frees the array with
 * g_byte_array_free(ba, TRUE)); NULL when it cannot be decoded.  *FAST
 * says whether it was plain base64 decoded where it lies in the message
 * (then only base64 characters, CR and LF are within its bounds). */
static GByteArray *part_bytes(GMimePart *p, int *fast)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(p);
    GByteArray *ba = dw ? mime_decode_base64_part(dw, SIZE_MAX / 2) : NULL;
    *fast = ba != NULL;
    if (ba != NULL)
        return ba;              /* the usual base64, decoded in place */
    GMimeStream *mem = g_mime_stream_mem_new();
    /* the stream must not free the bytes when it goes: they are ours */
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    if (dw == NULL || g_mime_data_wrapper_write_to_stream(dw, mem) < 0) {
        g_byte_array_free(ba, TRUE);
        ba = NULL;
    }
    g_object_unref(mem);
    return ba;
}

/* audit_d - one audit record into the store of M's generation; D, when
 * not NULL, holds the SHA-256 of BEFORE and AFTER already. */
static void audit_d(struct sign_walk *w, const char *event, const char *doc, const char *why,
                    const unsigned char *before, size_t blen,
                    const unsigned char *after, size_t alen, const pdf_sign_digests *d)
{
    kyso_msg *m = w->m;
    signset_audit a = { event, m->gen->cfg->node, m->auth_user, m->queue_id, m->message_id,
                        doc, why, w->key, before, after, blen, alen, w->ref, d };
    char *json = signset_audit_json(&a), err[256];
    if (json == NULL || m->gen->store == NULL ||
        store_append(m->gen->store, STREAM_AUDIT, json, err, sizeof err) < 0)
        log_msg(LOG_ERR, "%s: audit record not stored: %s", m->queue_id ? m->queue_id : "NOQUEUE",
                json ? json : "out of memory");
    free(json);
}

/* audit - audit_d whose digests are still to be computed. */
static void audit(struct sign_walk *w, const char *event, const char *doc, const char *why,
                  const unsigned char *before, size_t blen,
                  const unsigned char *after, size_t alen)
{
    audit_d(w, event, doc, why, before, blen, after, alen, NULL);
}

/* sig_is_ours - was SG made with the certificate ME describes (the same
 * issuer and serial number: a serial alone may repeat across CAs)? */
static int sig_is_ours(const kyso_sig_result *sg, const kyso_signer *me)
{
    return sg->signer.serial && sg->signer.issuer && me->serial && me->issuer &&
           g_ascii_strcasecmp(sg->signer.serial, me->serial) == 0 &&
           strcmp(sg->signer.issuer, me->issuer) == 0;
}

/* carries_our_signature - does R hold a valid signature by ME's certificate? */
static int carries_our_signature(const kyso_doc_result *r, const kyso_signer *me)
{
    for (size_t i = 0; i < r->nsigs; i++)
        if (r->sigs[i].reason == REASON_OK && sig_is_ours(&r->sigs[i], me))
            return 1;
    return 0;
}

/* other_org - the subject of an organisation signature in R by another
 * certificate than ME's, valid or not (a tampered copy of another agency's
 * document is not ours to seal either), or NULL. */
static const char *other_org(const kyso_doc_result *r, const kyso_signer *me)
{
    for (size_t i = 0; i < r->nsigs; i++)
        if (r->sigs[i].signer.cls == CLASS_ORGANISATION && !sig_is_ours(&r->sigs[i], me))
            return r->sigs[i].signer.subject ? r->sigs[i].signer.subject : "?";
    return NULL;
}

/* has_personal - does R hold a valid personal signature? */
static int has_personal(const kyso_doc_result *r)
{
    for (size_t i = 0; i < r->nsigs; i++)
        if (r->sigs[i].reason == REASON_OK && r->sigs[i].signer.cls == CLASS_PERSONAL)
            return 1;
    return 0;
}

/* check_failed - the document could not be checked before signing (R's
 * reason says why): a malformed or oversized one is refused, any other
 * failure deferred.  Sets OUT; returns -1. */
static int check_failed(const kyso_doc_result *r, msign *out)
{
    int refuse = r->reason == REASON_MALFORMED || r->reason == REASON_LIMIT_EXCEEDED;
    out->state = refuse ? MSIGN_REJECT : MSIGN_TEMPFAIL;
    out->reason = refuse ? r->reason : REASON_INTERNAL_ERROR;
    snprintf(out->why, sizeof out->why, "the document cannot be checked before signing "
             "(%s%s%s)%s", reason_name(r->reason), r->detail ? ": " : "",
             r->detail ? r->detail : "", refuse ? "" : ": deferred");
    return -1;
}

/*
 * check_pdf - may this PDF be signed?  0 yes; 1 already ours (leave it);
 * -1 no (out->state MSIGN_REJECT with the reason): it cannot be checked
 * (malformed, over a limit; MSIGN_TEMPFAIL for an internal error), it
 * carries another organisation's signature (valid or not), or
 * (personal-first) it has no valid personal signature.
 */
static int check_pdf(struct sign_walk *w, const char *name, const unsigned char *p, size_t n,
                     msign *out)
{
    kyso_doc_result r;
    const kyso_signer *me = &w->me;
    verify_buffer(&w->m->gen->v, p, n, name, "application/pdf", NULL, 0, &r);
    int rc = 0;
    const char *org;
    if (w->me_ok == 0)
        w->me_ok = cert_describe(w->m->gen->v.classes, w->key->cert, &w->me) == 0 ? 1 : -1;
    if (w->me_ok < 0) {
        out->state = MSIGN_TEMPFAIL;
        snprintf(out->why, sizeof out->why, "out of memory");
        rc = -1;
    } else if (r.reason == REASON_MALFORMED || r.reason == REASON_LIMIT_EXCEEDED ||
               r.reason == REASON_INTERNAL_ERROR) {
        rc = check_failed(&r, out);
    } else if (carries_our_signature(&r, me)) {
        rc = 1;
    } else if ((org = other_org(&r, me)) != NULL) {
        out->state = MSIGN_REJECT;
        out->reason = REASON_SIGNER_MISMATCH;
        snprintf(out->why, sizeof out->why, "already signed by another organisation (%.300s): "
                 "an agency signs only its own documents", org);
        rc = -1;
    } else if (w->m->gen->cfg->sign_policy == SIGN_PERSONAL_FIRST && !has_personal(&r)) {
        out->state = MSIGN_REJECT;
        out->reason = r.reason == REASON_OK || r.reason == REASON_UNSIGNED
                          ? REASON_MISSING_PERSONAL_SIGNATURE : r.reason;
        snprintf(out->why, sizeof out->why, "no valid personal signature (%s%s%s): "
                 "SignPolicy personal-first signs only documents the signer has signed",
                 reason_name(r.reason), r.detail ? ": " : "", r.detail ? r.detail : "");
        rc = -1;
    }
    result_free_doc(&r);
    return rc;
}

/* replace_content - P's content becomes the N bytes of DATA, in base64. */
static void replace_content(GMimePart *p, unsigned char *data, size_t n)
{
    GByteArray *ba = g_byte_array_new_take(data, n);
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(ba);
    GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(p, dw);
    g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_BASE64);
    g_object_unref(dw);
    g_object_unref(s);
}

/* note_applied - add "DOC (key KEY)" to OUT's list of signatures applied,
 * for the decision record; when out of memory the line is left out (the
 * audit record of the signature is written all the same). */
static void note_applied(msign *out, const char *doc, const char *key)
{
    char **a = realloc(out->applied, (out->napplied + 1) * sizeof *a);
    if (a == NULL)
        return;
    out->applied = a;
    if (asprintf(&a[out->napplied], "%s (key %s)", doc, key) >= 0)
        out->napplied++;
}

/* sign_token_state - the message state for a pdf_sign failure RC. */
static msign_state sign_failure_state(int rc)
{
    return rc == PDFS_EREFUSED ? MSIGN_REJECT : MSIGN_TEMPFAIL;
}

/* sign_one - check and sign part P in place.  0 when done (or left
 * alone), -1 with OUT set otherwise. */
static int sign_one(struct sign_walk *w, GMimePart *p, msign *out)
{
    const char *name = g_mime_part_get_filename(p);
    int fast;
    GByteArray *ba = part_bytes(p, &fast);
    unsigned char *signed_pdf = NULL;
    pdf_sign_digests dg;
    size_t slen = 0;
    snprintf(out->doc, sizeof out->doc, "%s", name ? name : "(unnamed PDF)");
    if (ba == NULL) {
        out->state = MSIGN_TEMPFAIL;
        snprintf(out->why, sizeof out->why, "cannot decode the document");
        return -1;
    }
    int c = check_pdf(w, out->doc, ba->data, ba->len, out);
    if (c != 0) {
        if (c > 0)
            out->nkept++;
        else
            audit(w, "sign_refused", out->doc, out->why, ba->data, ba->len, NULL, 0);
        g_byte_array_free(ba, TRUE);
        return c > 0 ? 0 : -1;
    }
    if (w->ctx)
        smfi_progress(w->ctx);  /* a USB token takes up to half a second */
    int rc = signset_sign_pdf(w->m->gen->ss, w->key, w->pdfs->len > 1 && out->nsigned +
                              out->nkept > 0 ? AP_ATTACHMENT : AP_SEAL, NULL, time(NULL),
                              ba->data, ba->len, &signed_pdf, &slen, &dg, out->why,
                              sizeof out->why);
    if (rc != TOKEN_OK) {
        out->state = sign_failure_state(rc);
        out->reason = rc == PDFS_EREFUSED ? REASON_MALFORMED : REASON_INTERNAL_ERROR;
        audit(w, out->state == MSIGN_REJECT ? "sign_refused" : "sign_failed", out->doc,
              out->why, ba->data, ba->len, NULL, 0);
    } else {
        audit_d(w, "signed", out->doc, NULL, ba->data, ba->len, signed_pdf, slen, &dg);
        struct sign_edit *e = realloc(w->edits, (w->nedits + 1) * sizeof *e);
        if (e == NULL) {
            free(signed_pdf);
            out->state = MSIGN_TEMPFAIL;
            snprintf(out->why, sizeof out->why, "out of memory");
            rc = TOKEN_ECONFIG;
        } else {
            w->edits = e;
            e[w->nedits++] = (struct sign_edit){ p, signed_pdf, slen, 0, 0, fast };
            out->nsigned++;
            note_applied(out, out->doc, w->key->name);
        }
    }
    g_byte_array_free(ba, TRUE);
    return rc == TOKEN_OK ? 0 : -1;
}

/* is_b64_text - may C stand in a base64 body (alphabet, padding, line
 * breaks and the blanks a decoder skips)? */
static int is_b64_text(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

/* edit_span - where E's part keeps its base64 in the original message
 * BUF (LEN bytes): the bounds of the parser's substream.  0, or -1 when
 * the part is not base64 or its bytes are not where the bounds say.  A
 * part that part_bytes decoded straight from BUF within those bounds is
 * known to hold base64 there; any other is checked byte by byte. */
static int edit_span(struct sign_edit *e, const unsigned char *buf, size_t len)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(e->part);
    GMimeStream *st = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;
    if (st == NULL || g_mime_data_wrapper_get_encoding(dw) != GMIME_CONTENT_ENCODING_BASE64 ||
        st->bound_start < 0 || st->bound_end <= st->bound_start || (size_t)st->bound_end > len)
        return -1;
    e->start = (size_t)st->bound_start;
    e->end = (size_t)st->bound_end;
    GByteArray *raw = GMIME_IS_STREAM_MEM(st)
                          ? g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(st)) : NULL;
    if (e->decoded_fast && raw && raw->data == buf)
        return 0;
    for (size_t i = e->start; i < e->end; i++)
        if (!is_b64_text(buf[i]))
            return -1;
    return 0;
}

/* edit_cmp - order edits by where they start. */
static int edit_cmp(const void *a, const void *b)
{
    const struct sign_edit *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* append_base64 - N bytes of P as base64 lines of 76 characters, CRLF
 * between them, and after the last when FINAL_CRLF (o->oom on failure). */
static void append_base64(kyso_buf *o, const unsigned char *p, size_t n, int final_crlf)
{
    unsigned char *at = buf_extend(o, mime_b64_encoded_len(n, final_crlf));
    if (at != NULL)
        mime_b64_encode_lines(p, n, at, final_crlf);
}

/*
 * splice_message - the signed message as the original bytes of BUF with
 * only the signed parts' base64 replaced, into OUT: the rest of the
 * message stays byte for byte, and nothing is parsed or encoded again.
 * 0, or -1 when a part's place is not known for sure (then the caller
 * rewrites the message with GMime).
 */
static int splice_message(struct sign_walk *w, const unsigned char *buf, size_t len, msign *out)
{
    kyso_buf o = { 0 };
    size_t at = 0;
    for (size_t i = 0; i < w->nedits; i++)
        if (edit_span(&w->edits[i], buf, len) != 0)
            return -1;
    qsort(w->edits, w->nedits, sizeof *w->edits, edit_cmp);
    for (size_t i = 0; i < w->nedits; i++) {
        struct sign_edit *e = &w->edits[i];
        if (e->start < at) {
            buf_free(&o);
            return -1;
        }
        buf_append(&o, buf + at, e->start - at);
        append_base64(&o, e->pdf, e->len, buf[e->end - 1] == '\n');
        at = e->end;
    }
    buf_append(&o, buf + at, len - at);
    const unsigned char *end = o.oom ? NULL : memmem(o.p, o.len, "\r\n\r\n", 4);
    if (end == NULL || (size_t)(end - (unsigned char *)o.p) + 4 > w->edits[0].start) {
        buf_free(&o);
        return -1;
    }
    out->body_off = (size_t)(end - (unsigned char *)o.p) + 4;
    out->len = o.len;
    out->msg = (unsigned char *)buf_steal(&o);
    return out->msg ? 0 : -1;
}

/* apply_edits - put the signed documents into the parsed message (which
 * then owns them), for write_message. */
static void apply_edits(struct sign_walk *w, msign *out)
{
    for (size_t i = 0; i < w->nedits; i++) {
        replace_content(w->edits[i].part, w->edits[i].pdf, w->edits[i].len);
        w->edits[i].pdf = NULL;
        if (GMIME_OBJECT(w->edits[i].part) == w->top)
            out->top_cte = 1;
    }
}

/* write_message - MSG serialised with CRLF line ends into OUT. */
static int write_message(GMimeMessage *msg, msign *out)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeStream *f = g_mime_stream_filter_new(mem);
    GMimeFilter *crlf = g_mime_filter_unix2dos_new(FALSE);
    GMimeFormatOptions *fo = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), crlf);
    int ok = g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, f) >= 0 &&
             g_mime_stream_flush(f) == 0;
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    const unsigned char *end = ok ? memmem(ba->data, ba->len, "\r\n\r\n", 4) : NULL;
    if (end) {
        out->len = ba->len;
        out->body_off = (size_t)(end - ba->data) + 4;
        out->msg = malloc(ba->len);
        if (out->msg)
            memcpy(out->msg, ba->data, ba->len);
    }
    g_mime_format_options_free(fo);
    g_object_unref(crlf);
    g_object_unref(f);
    g_object_unref(mem);
    return out->msg ? 0 : -1;
}

/*
 * sign_smime - the whole message (with its PDFs signed, when they were)
 * as multipart/signed with W's key.  Sets out->smime (the header edits),
 * out->msg and out->body_off to the final message, or out->state to
 * MSIGN_REJECT / MSIGN_TEMPFAIL with the reason.
 */
static void sign_smime(struct sign_walk *w, const unsigned char *buf, size_t len, msign *out)
{
    const unsigned char *cur = out->msg ? out->msg : buf;
    size_t curlen = out->msg ? out->len : len;
    struct signset_ctx ctx;
    cms_signer s;
    unsigned char *res = NULL;
    size_t reslen = 0;
    signset_signer(w->m->gen->ss, w->key, &ctx, &s);
    if (w->ctx)
        smfi_progress(w->ctx);
    int rc = smime_sign_message(&s, cur, curlen, &out->sm, out->why, sizeof out->why);
    int have_sm = rc == TOKEN_OK;
    if (rc == TOKEN_OK)
        rc = smime_apply(cur, curlen, &out->sm, &res, &reslen, out->why, sizeof out->why);
    const unsigned char *end = rc == TOKEN_OK ? memmem(res, reslen, "\r\n\r\n", 4) : NULL;
    snprintf(out->doc, sizeof out->doc, "(the message, S/MIME)");
    if (end == NULL) {
        if (have_sm)
            smime_output_free(&out->sm);
        out->state = rc == SMIME_EREFUSED ? MSIGN_REJECT : MSIGN_TEMPFAIL;
        out->reason = rc == SMIME_EREFUSED ? REASON_MALFORMED : REASON_INTERNAL_ERROR;
        audit(w, out->state == MSIGN_REJECT ? "sign_refused" : "sign_failed", out->doc,
              out->why, cur, curlen, NULL, 0);
        free(res);
        return;
    }
    audit(w, "signed", out->doc, NULL, cur, curlen, res, reslen);
    free(out->msg);
    out->msg = res;
    out->len = reslen;
    out->body_off = (size_t)(end - res) + 4;
    out->smime = 1;
    out->state = MSIGN_SIGNED;
    out->doc[0] = '\0';
}

/* from_mailboxes - how many addresses the From field value RAW names
 * (0 when it cannot be parsed). */
static int from_mailboxes(const char *raw)
{
    InternetAddressList *l = raw ? internet_address_list_parse(NULL, raw) : NULL;
    int n = l ? internet_address_list_length(l) : 0;
    for (int i = 0; i < n; i++)
        if (!INTERNET_ADDRESS_IS_MAILBOX(internet_address_list_get_address(l, i)))
            n = 2;          /* a group: several senders, or none */
    if (l)
        g_object_unref(l);
    return n;
}

/* who_signs - the key for M, or NULL with OUT's state and why set. */
static const kt_key *who_signs(kyso_msg *m, const char *from, msign *out)
{
    const keytable *kt = m->gen->ss ? m->gen->ss->kt : NULL;
    const char *why = NULL;
    if (kt == NULL || from == NULL)
        return NULL;
    const kt_key *k = keytable_match(kt, m->auth_user, from, &why);
    if (k == NULL) {
        /* silent for mail nobody could sign: only an account in the table,
         * or a From one of its rows covers, makes it a refusal worth logging */
        int near = m->auth_user != NULL;
        for (size_t i = 0; !near && i < kt->nsigners; i++)
            near = keytable_match(kt, kt->signers[i].user, from, &why) != NULL;
        keytable_match(kt, m->auth_user, from, &why);
        if (near) {
            out->state = MSIGN_NOT_ALLOWED;
            snprintf(out->why, sizeof out->why, "%s", why ? why : "not allowed");
        }
        return NULL;
    }
    int nmbox = from_mailboxes(m->hdr_from);
    if (m->nfrom != 1 || nmbox != 1) {
        out->state = MSIGN_NOT_ALLOWED;
        snprintf(out->why, sizeof out->why, "%s: which sender is meant is not clear",
                 m->nfrom != 1 ? "several From header fields"
                               : "a From header field with several addresses");
        return NULL;
    }
    const char *dn = m->gen->cfg->sign_daemon;
    if (dn && (m->daemon == NULL || strcmp(dn, m->daemon) != 0)) {
        out->state = MSIGN_NOT_ALLOWED;
        snprintf(out->why, sizeof out->why, "received by service %s, not SignDaemonName %s",
                 m->daemon ? m->daemon : "(unknown)", dn);
        return NULL;
    }
    return k;
}

void msign_run(SMFICTX *ctx, kyso_msg *m, const unsigned char *buf, size_t len,
               const char *from, const char *ref, msign *out)
{
    memset(out, 0, sizeof *out);
    struct sign_walk w = { .ctx = ctx, .m = m, .ref = ref };
    if ((w.key = who_signs(m, from, out)) == NULL) {
        if (out->state == MSIGN_NOT_ALLOWED)
            audit(&w, "sign_refused", NULL, out->why, NULL, 0, NULL, 0);
        return;
    }
    mime_init_once();
    GByteArray *wrap;
    GMimeStream *s = mime_stream_borrow(buf, len, &wrap);
    GMimeParser *parser = g_mime_parser_new_with_stream(s);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(s);
    if (msg == NULL) {
        mime_stream_unborrow(wrap);
        out->state = MSIGN_REJECT;
        out->reason = REASON_MALFORMED;
        snprintf(out->why, sizeof out->why, "the message cannot be parsed as MIME");
        return;
    }
    w.top = g_mime_message_get_mime_part(msg);
    w.pdfs = g_ptr_array_new();
    if (w.top)
        collect_pdfs(&w, w.top, 0);
    out->state = MSIGN_NONE;
    int failed = 0;
    if (w.too_deep) {
        out->state = MSIGN_REJECT;
        out->reason = REASON_LIMIT_EXCEEDED;
        snprintf(out->why, sizeof out->why, "the message nests its parts more than %d deep: "
                 "its documents cannot all be found to be signed", SIGN_MAX_DEPTH);
        audit(&w, "sign_refused", NULL, out->why, NULL, 0, NULL, 0);
        failed = 1;
    }
    for (guint i = 0; i < w.pdfs->len && !failed; i++)
        failed = sign_one(&w, g_ptr_array_index(w.pdfs, i), out) != 0;
    if (!failed && out->nsigned > 0) {
        out->state = MSIGN_SIGNED;
        out->doc[0] = '\0';
        if (splice_message(&w, buf, len, out) != 0) {
            apply_edits(&w, out);
            if (write_message(msg, out) != 0) {
                out->state = MSIGN_TEMPFAIL;
                snprintf(out->why, sizeof out->why, "out of memory writing the signed message");
            }
        }
    }
    for (size_t i = 0; i < w.nedits; i++)
        free(w.edits[i].pdf);
    free(w.edits);
    g_ptr_array_free(w.pdfs, TRUE);
    result_free_signer(&w.me);
    g_object_unref(msg);
    mime_stream_unborrow(wrap);
    if (!failed && w.key->smime && out->state != MSIGN_TEMPFAIL)
        sign_smime(&w, buf, len, out);
}

int msign_due(kyso_msg *m, const char *from)
{
    msign scratch;
    memset(&scratch, 0, sizeof scratch);
    return who_signs(m, from, &scratch) != NULL;
}

int msign_concerns(const kyso_msg *m)
{
    const keytable *kt = m->gen->ss ? m->gen->ss->kt : NULL;
    const char *why;
    if (kt == NULL)
        return 0;
    if (m->auth_user)
        return 1;
    char *from = m->hdr_from ? msg_strip_addr(m->hdr_from) : NULL;
    int near = 0;
    for (size_t i = 0; from && !near && i < kt->nsigners; i++)
        near = keytable_match(kt, kt->signers[i].user, from, &why) != NULL;
    free(from);
    return near;
}

void msign_free(msign *out)
{
    free(out->msg);
    out->msg = NULL;
    for (size_t i = 0; i < out->napplied; i++)
        free(out->applied[i]);
    free(out->applied);
    out->applied = NULL;
    out->napplied = 0;
    if (out->smime)
        smime_output_free(&out->sm);
    out->smime = 0;
}
