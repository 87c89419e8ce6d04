/*
 * reply.c - SMTP reply texts and result headers (see reply.h).  Everything
 * here ends up in front of people or in headers, so it is ASCII, short,
 * and carries the reference id.  Never sends anything itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "policy.h"
#include "reply.h"

/* fold_cp - the ASCII letter for Vietnamese code point CP, 0 to drop it
 * (combining marks), or '?' when there is none. */
static char fold_cp(unsigned cp)
{
    static const char latin1[] = "AAAAAAACEEEEIIIIDNOOOOO?OUUUUY?saaaaaaaceeeeiiiidnooooo?ouuuuy?y";
    if (cp >= 0x20 && cp < 0x7f)
        return (cp == '%' || cp == '"' || cp == '\\') ? '?' : (char)cp;
    if (cp >= 0xC0 && cp <= 0xFF)
        return latin1[cp - 0xC0];
    if (cp >= 0x300 && cp <= 0x36F)
        return 0;
    int lower = cp & 1;
    char c = 0;
    switch (cp & ~1u) {
    case 0x102: c = 'A'; break;     /* Ă ă */
    case 0x110: c = 'D'; break;     /* Đ đ */
    case 0x128: c = 'I'; break;     /* Ĩ ĩ */
    case 0x168: c = 'U'; break;     /* Ũ ũ */
    case 0x1A0: c = 'O'; break;     /* Ơ ơ */
    default: break;
    }
    if (cp == 0x1AF || cp == 0x1B0)  /* Ư ư: odd upper case, unlike the rest */
        return cp == 0x1AF ? 'U' : 'u';
    if (c == 0 && cp >= 0x1EA0 && cp <= 0x1EF9)
        c = cp <= 0x1EB7 ? 'A' : cp <= 0x1EC7 ? 'E' : cp <= 0x1ECB ? 'I'
          : cp <= 0x1EE3 ? 'O' : cp <= 0x1EF1 ? 'U' : 'Y';
    if (c == 0)
        return '?';
    return lower ? (char)(c + 32) : c;
}

/* next_cp - decode one UTF-8 sequence at *P (advancing it); a bad byte
 * decodes as U+FFFD and advances one byte. */
static unsigned next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned cp, need;
    if (s[0] < 0x80) { *p += 1; return s[0]; }
    if ((s[0] & 0xE0) == 0xC0) { cp = s[0] & 0x1F; need = 1; }
    else if ((s[0] & 0xF0) == 0xE0) { cp = s[0] & 0x0F; need = 2; }
    else if ((s[0] & 0xF8) == 0xF0) { cp = s[0] & 0x07; need = 3; }
    else { *p += 1; return 0xFFFD; }
    for (unsigned i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80) { *p += 1; return 0xFFFD; }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *p += need + 1;
    return cp;
}

char *reply_ascii(const char *in, char *out, size_t len)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    while (*p && o + 1 < len) {
        char c = fold_cp(next_cp(&p));
        if (c)
            out[o++] = c;
    }
    if (len)
        out[o] = '\0';
    return out;
}

/* reply_xcode - the enhanced status code for ACTION and REASON. */
static const char *reply_xcode(kyso_action action, kyso_reason reason)
{
    if (action == ACTION_TEMPFAIL)
        return reason == REASON_INTERNAL_ERROR ? "4.3.0" : "4.7.1";
    switch (reason) {
    case REASON_DIGEST_MISMATCH:
    case REASON_BAD_SIGNATURE:
    case REASON_MODIFIED_AFTER_SIGNING:
    case REASON_BAD_BYTERANGE:
        return "5.7.7";     /* RFC 3463: message integrity failure */
    default:
        return "5.7.1";     /* delivery not authorised, message refused */
    }
}

void reply_build(kyso_reply *r, kyso_action action, kyso_reason reason, const char *docname,
                 const char *ref)
{
    char name[96], what_vi[120], what_en[120];
    int temp = action == ACTION_TEMPFAIL;
    r->code = temp ? "451" : "550";
    r->xcode = reply_xcode(action, reason);
    if (docname) {
        reply_ascii(docname, name, sizeof name);
        snprintf(what_vi, sizeof what_vi, "tep dinh kem \"%s\"", name);
        snprintf(what_en, sizeof what_en, "attachment \"%s\"", name);
    } else {
        snprintf(what_vi, sizeof what_vi, "ca thu");
        snprintf(what_en, sizeof what_en, "the whole message");
    }
    char vi[200], en[200];
    reply_ascii(reason_text_ascii_vi(reason), vi, sizeof vi);
    reply_ascii(reason_text_en(reason), en, sizeof en);
    vi[strcspn(vi, ".")] = en[strcspn(en, ".")] = '\0';   /* one sentence each */
    snprintf(r->vi, sizeof r->vi, "%s: %s: %s (%s). %s Ma tra cuu: %s",
             temp ? "Thu tam thoi chua duoc nhan" : "Thu bi tu choi", what_vi, vi,
             reason_name(reason), temp ? "Se gui lai sau." : "Hay sua va gui lai.", ref);
    snprintf(r->en, sizeof r->en, "%s: %s: %s (%s). Reference: %s",
             temp ? "Message temporarily refused, retry later" : "Message refused", what_en,
             en, reason_name(reason), ref);
}

/* class_word - the class of a signer certificate, as a header word. */
static const char *class_word(kyso_cert_class c)
{
    return c == CLASS_ORGANISATION ? "organisation" : c == CLASS_PERSONAL ? "personal" : "unknown";
}

char *reply_doc_header(const kyso_doc_decision *dd, const char *ref)
{
    kyso_buf b = {0};
    char tmp[256];
    const kyso_doc_result *d = dd->doc;
    buf_printf(&b, "name=\"%s\"; type=%s; required=%s; verdict=%s; reason=%s",
               reply_ascii(d->name ? d->name : "", tmp, 120), kind_name(d->kind),
               dd->counted ? "yes" : "no", verdict_name(reason_verdict(dd->reason)),
               reason_name(dd->reason));
    /* each signature, in document order: signer, signer2, ... (at most 9) */
    for (size_t i = 0, k = 0; i < d->nsigs && k < 9; i++) {
        const kyso_sig_result *s = &d->sigs[i];
        if (s->signer.subject == NULL)
            continue;
        char num[4] = "";
        if (k++ > 0)
            snprintf(num, sizeof num, "%zu", k);
        buf_printf(&b, ";\n\tsigner%s=\"%s\"; class%s=%s; result%s=%s", num,
                   reply_ascii(s->signer.subject, tmp, sizeof tmp), num,
                   class_word(s->signer.cls), num, reason_name(s->reason));
    }
    buf_printf(&b, "; ref=%s", ref);
    return buf_steal(&b);
}

/* docs_result - the x-kyso result word over the counted documents. */
static const char *docs_result(const kyso_doc_decision *docs, size_t ndocs)
{
    int counted = 0, indeterminate = 0;
    for (size_t i = 0; i < ndocs; i++) {
        if (!docs[i].counted)
            continue;
        counted++;
        kyso_verdict v = reason_verdict(docs[i].reason);
        if (v == VERDICT_INVALID || v == VERDICT_UNSIGNED)
            return "fail";
        if (v == VERDICT_INDETERMINATE)
            indeterminate = 1;
    }
    return counted == 0 ? "none" : indeterminate ? "neutral" : "pass";
}

/* smime_result - the RFC 7281 result word of an S/MIME signature. */
static const char *smime_result(kyso_reason r)
{
    switch (reason_verdict(r)) {
    case VERDICT_VALID: return "pass";
    case VERDICT_INDETERMINATE: return r == REASON_REVOCATION_UNKNOWN ? "temperror" : "neutral";
    default: return r == REASON_MALFORMED ? "permerror" : "fail";
    }
}

char *reply_ar_header(const char *authserv, const kyso_doc_result *msg,
                      const kyso_doc_decision *docs, size_t ndocs)
{
    kyso_buf b = {0};
    char tmp[256];
    size_t counted = 0;
    for (size_t i = 0; i < ndocs; i++)
        counted += docs[i].counted != 0;
    buf_printf(&b, "%s;\n\tx-kyso=%s (%zu document%s checked)", authserv,
               docs_result(docs, ndocs), counted, counted == 1 ? "" : "s");
    for (size_t i = 0; msg && i < msg->nsigs; i++) {
        const kyso_sig_result *s = &msg->sigs[i];
        buf_printf(&b, ";\n\tsmime=%s", smime_result(s->reason));
        if (s->signer.email)
            buf_printf(&b, " body.smime-identifier=%s",
                       reply_ascii(s->signer.email, tmp, sizeof tmp));
        if (s->signer.serial)
            buf_printf(&b, " body.smime-serial=%s", reply_ascii(s->signer.serial, tmp, 80));
    }
    return buf_steal(&b);
}
