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
