/*
 * result-json.c - the JSON form of a verification result (DESIGN.md
 * "kyso verify --json"): one object per file, on one line.  The same form
 * goes into decision records, so field names here are a contract.
 */
#include "buf.h"
#include "cert-class.h"
#include "result.h"
#include "trust.h"

/* json_signer - the "signer" object of one signature. */
static void json_signer(kyso_buf *b, const kyso_signer *s)
{
    buf_printf(b, "{\"subject\":");
    buf_append_json_string(b, s->subject);
    buf_printf(b, ",\"issuer\":");
    buf_append_json_string(b, s->issuer);
    buf_printf(b, ",\"serial\":");
    buf_append_json_string(b, s->serial);
    buf_printf(b, ",\"email\":");
    buf_append_json_string(b, s->email);
    buf_printf(b, ",\"class\":\"%s\"", cert_class_name(s->cls));
    if (s->not_before || s->not_after) {
        char nb[40], na[40];
        buf_printf(b, ",\"not_before\":\"%s\",\"not_after\":\"%s\"",
                   trust_format_time(s->not_before, nb, sizeof nb),
                   trust_format_time(s->not_after, na, sizeof na));
    }
    buf_append(b, "}", 1);
}

/* json_sig - one element of "signatures". */
static void json_sig(kyso_buf *b, const kyso_sig_result *s)
{
    buf_printf(b, "{\"verdict\":\"%s\",\"reason\":\"%s\",\"etsi\":\"%s\",\"subfilter\":",
               verdict_name(reason_verdict(s->reason)), reason_name(s->reason),
               reason_etsi(s->reason));
    buf_append_json_string(b, s->subfilter);
    buf_printf(b, ",\"field\":");
    buf_append_json_string(b, s->field);
    buf_printf(b, ",\"signer\":");
    json_signer(b, &s->signer);
    buf_printf(b, ",\"signing_time\":");
    buf_append_json_string(b, s->signing_time[0] ? s->signing_time : NULL);
    buf_printf(b, ",\"timestamp_time\":");
    buf_append_json_string(b, s->timestamp_time[0] ? s->timestamp_time : NULL);
    buf_printf(b, ",\"poe_time\":");
    buf_append_json_string(b, s->poe_time[0] ? s->poe_time : NULL);
    buf_printf(b, ",\"coverage\":");
    buf_append_json_string(b, s->coverage);
    if (s->docmdp)
        buf_printf(b, ",\"docmdp\":%d", s->docmdp);
    buf_printf(b, ",\"detail\":");
    buf_append_json_string(b, s->detail);
    buf_printf(b, ",\"warning\":");
    buf_append_json_string(b, s->warning);
    buf_append(b, "}", 1);
}

/* json_doc - a document object; FILE is given only at the top level. */
static void json_doc(kyso_buf *b, const kyso_doc_result *d, const char *file)
{
    buf_append(b, "{", 1);
    if (file) {
        buf_printf(b, "\"file\":");
        buf_append_json_string(b, file);
        buf_append(b, ",", 1);
    }
    buf_printf(b, "\"name\":");
    buf_append_json_string(b, d->name);
    buf_printf(b, ",\"kind\":\"%s\",\"verdict\":\"%s\",\"reason\":\"%s\",\"detail\":",
               kind_name(d->kind), verdict_name(reason_verdict(d->reason)),
               reason_name(d->reason));
    buf_append_json_string(b, d->detail);
    buf_printf(b, ",\"signatures\":[");
    for (size_t i = 0; i < d->nsigs; i++) {
        if (i)
            buf_append(b, ",", 1);
        json_sig(b, &d->sigs[i]);
    }
    buf_printf(b, "],\"attachments\":[");
    for (size_t i = 0; i < d->natts; i++) {
        if (i)
            buf_append(b, ",", 1);
        json_doc(b, &d->atts[i], NULL);
    }
    buf_append(b, "]}", 2);
}

int result_json_append_doc(kyso_buf *b, const kyso_doc_result *d)
{
    json_doc(b, d, NULL);
    return b->oom ? -1 : 0;
}

char *result_to_json(const kyso_doc_result *d, const char *file)
{
    kyso_buf b = {0};
    json_doc(&b, d, file);
    return buf_steal(&b);
}
