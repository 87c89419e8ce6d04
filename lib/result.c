/*
 * result.c - building and freeing verification results, and the rule that
 * makes a document's verdict out of its signatures and parts.
 * Never prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "result.h"

const char *kind_name(kyso_kind k)
{
    switch (k) {
    case KIND_PDF: return "pdf";
    case KIND_P7S: return "p7s";
    case KIND_P7M: return "p7m";
    case KIND_MESSAGE: return "message";
    case KIND_OFFICE: return "office";
    case KIND_OLE: return "ole";
    case KIND_TEXT: return "text";
    case KIND_OTHER: break;
    }
    return "other";
}

kyso_sig_result *result_add_sig(kyso_doc_result *d)
{
    kyso_sig_result *n = realloc(d->sigs, (d->nsigs + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    d->sigs = n;
    memset(&n[d->nsigs], 0, sizeof *n);
    return &n[d->nsigs++];
}

kyso_doc_result *result_add_att(kyso_doc_result *d)
{
    kyso_doc_result *n = realloc(d->atts, (d->natts + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    d->atts = n;
    memset(&n[d->natts], 0, sizeof *n);
    return &n[d->natts++];
}

void result_set_detail(char **slot, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    free(*slot);
    *slot = s;
}

void result_finish_doc(kyso_doc_result *d)
{
    if (d->reason != REASON_OK)
        return;
    if (d->nsigs == 0 && d->natts == 0) {
        d->reason = d->kind == KIND_MESSAGE ? REASON_NO_DOCUMENTS : REASON_UNSIGNED;
        return;
    }
    kyso_reason r = d->nsigs ? d->sigs[0].reason : d->atts[0].reason;
    for (size_t i = 0; i < d->nsigs; i++)
        r = reason_worse(r, d->sigs[i].reason);
    for (size_t i = 0; i < d->natts; i++)
        r = reason_worse(r, d->atts[i].reason);
    d->reason = r;
}

void result_free_signer(kyso_signer *s)
{
    free(s->subject);
    free(s->issuer);
    free(s->serial);
    free(s->email);
    memset(s, 0, sizeof *s);
}

void result_free_doc(kyso_doc_result *d)
{
    for (size_t i = 0; i < d->nsigs; i++) {
        kyso_sig_result *s = &d->sigs[i];
        free(s->subfilter);
        free(s->field);
        free(s->coverage);
        free(s->detail);
        free(s->warning);
        result_free_signer(&s->signer);
    }
    free(d->sigs);
    for (size_t i = 0; i < d->natts; i++)
        result_free_doc(&d->atts[i]);
    free(d->atts);
    free(d->name);
    free(d->detail);
    memset(d, 0, sizeof *d);
}

/* copy_str - *dst = a copy of SRC (NULL stays NULL); 0, or -1 when out of
 * memory. */
static int copy_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && *dst == NULL ? -1 : 0;
}

/* copy_sig - deep copy of S into D (D's pointers are fresh). */
static int copy_sig(kyso_sig_result *d, const kyso_sig_result *s)
{
    *d = *s;
    d->subfilter = d->field = d->coverage = d->detail = d->warning = NULL;
    d->signer.subject = d->signer.issuer = d->signer.serial = d->signer.email = NULL;
    int rc = copy_str(&d->subfilter, s->subfilter) | copy_str(&d->field, s->field) |
             copy_str(&d->coverage, s->coverage) | copy_str(&d->detail, s->detail) |
             copy_str(&d->warning, s->warning) |
             copy_str(&d->signer.subject, s->signer.subject) |
             copy_str(&d->signer.issuer, s->signer.issuer) |
             copy_str(&d->signer.serial, s->signer.serial) |
             copy_str(&d->signer.email, s->signer.email);
    return rc ? -1 : 0;
}

int result_copy_doc(kyso_doc_result *dst, const kyso_doc_result *src)
{
    memset(dst, 0, sizeof *dst);
    dst->kind = src->kind;
    dst->reason = src->reason;
    int rc = copy_str(&dst->name, src->name) | copy_str(&dst->detail, src->detail);
    if (rc == 0 && src->nsigs) {
        if ((dst->sigs = calloc(src->nsigs, sizeof *dst->sigs)) == NULL)
            rc = -1;
        for (size_t i = 0; rc == 0 && i < src->nsigs; i++, dst->nsigs++)
            rc = copy_sig(&dst->sigs[i], &src->sigs[i]);
    }
    if (rc == 0 && src->natts) {
        if ((dst->atts = calloc(src->natts, sizeof *dst->atts)) == NULL)
            rc = -1;
        for (size_t i = 0; rc == 0 && i < src->natts; i++, dst->natts++)
            rc = result_copy_doc(&dst->atts[i], &src->atts[i]);
    }
    if (rc != 0)
        result_free_doc(dst);
    return rc ? -1 : 0;
}
