/*
 * result-read.c - a verification result from its JSON form (see
 * result-read.h).  The text comes from a shared cache other processes
 * write, so it is untrusted: every field is checked for its type, names
 * must be ones this version knows, and any doubt gives -1, never a
 * half-filled result.  Never prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cert-class.h"
#include "result-read.h"

/* rr_str - member KEY of V into *OUT: a copy of the string, NULL for null
 * or absent.  0, or -1 for another type or out of memory. */
static int rr_str(const json_value *v, const char *key, char **out)
{
    const json_value *m = json_get(v, key);
    *out = NULL;
    if (m == NULL || m->type == JSON_NULL)
        return 0;
    if (m->type != JSON_STRING || (*out = strdup(m->s)) == NULL)
        return -1;
    return 0;
}

/* rr_fixed - member KEY of V (string or null) into the LEN-byte OUT. */
static int rr_fixed(const json_value *v, const char *key, char *out, size_t len)
{
    const json_value *m = json_get(v, key);
    out[0] = '\0';
    if (m == NULL || m->type == JSON_NULL)
        return 0;
    if (m->type != JSON_STRING || m->n >= len)
        return -1;
    memcpy(out, m->s, m->n + 1);
    return 0;
}

/* rr_time - member KEY of V ("2026-11-22T10:00:00Z") into *T; absent: 0. */
static int rr_time(const json_value *v, const char *key, time_t *t)
{
    const char *s = json_get_string(v, key);
    long long ms;
    *t = 0;
    if (s == NULL)
        return json_get(v, key) == NULL ? 0 : -1;
    if (json_time_ms(s, strlen(s), &ms) < 0)
        return -1;
    *t = (time_t)(ms / 1000);
    return 0;
}

/* rr_reason - the "reason" of V as a kyso_reason into *R.  0 or -1. */
static int rr_reason(const json_value *v, kyso_reason *r)
{
    const char *s = json_get_string(v, "reason");
    int code = s ? reason_from_name(s) : -1;
    if (code < 0)
        return -1;
    *r = (kyso_reason)code;
    return 0;
}

/* rr_signer - the "signer" object S into OUT.  0 or -1. */
static int rr_signer(const json_value *s, kyso_signer *out)
{
    const char *cls = json_get_string(s, "class");
    if (s == NULL || s->type != JSON_OBJECT || cls == NULL)
        return -1;
    int c = -1;
    for (int i = CLASS_UNKNOWN; i <= CLASS_PERSONAL; i++)
        if (strcmp(cls, cert_class_name((kyso_cert_class)i)) == 0)
            c = i;
    if (c < 0)
        return -1;
    out->cls = (kyso_cert_class)c;
    return rr_str(s, "subject", &out->subject) | rr_str(s, "issuer", &out->issuer)
         | rr_str(s, "serial", &out->serial) | rr_str(s, "email", &out->email)
         | rr_time(s, "not_before", &out->not_before) | rr_time(s, "not_after", &out->not_after);
}

/* rr_sig - one element V of "signatures" into OUT (zeroed).  0 or -1. */
static int rr_sig(const json_value *v, kyso_sig_result *out)
{
    const json_value *mdp = json_get(v, "docmdp");
    if (v->type != JSON_OBJECT || rr_reason(v, &out->reason) < 0)
        return -1;
    if (mdp) {
        if (mdp->type != JSON_NUMBER || mdp->num < 1 || mdp->num > 3)
            return -1;
        out->docmdp = (int)mdp->num;
    }
    return rr_str(v, "subfilter", &out->subfilter) | rr_str(v, "field", &out->field)
         | rr_str(v, "coverage", &out->coverage) | rr_str(v, "detail", &out->detail)
         | rr_fixed(v, "signing_time", out->signing_time, sizeof out->signing_time)
         | rr_fixed(v, "timestamp_time", out->timestamp_time, sizeof out->timestamp_time)
         | rr_fixed(v, "poe_time", out->poe_time, sizeof out->poe_time)
         | rr_str(v, "warning", &out->warning)
         | rr_signer(json_get(v, "signer"), &out->signer);
}

/* rr_kind - the "kind" of V into *K.  0 or -1. */
static int rr_kind(const json_value *v, kyso_kind *k)
{
    const char *s = json_get_string(v, "kind");
    for (int i = KIND_OTHER; s && i <= KIND_TEXT; i++)
        if (strcmp(s, kind_name((kyso_kind)i)) == 0) {
            *k = (kyso_kind)i;
            return 0;
        }
    return -1;
}

/* rr_doc - the body of result_from_value; OUT may be half filled on -1. */
static int rr_doc(const json_value *v, kyso_doc_result *out)
{
    const json_value *sigs = json_get(v, "signatures"), *atts = json_get(v, "attachments");
    if (v == NULL || v->type != JSON_OBJECT || rr_kind(v, &out->kind) < 0
        || rr_reason(v, &out->reason) < 0 || rr_str(v, "name", &out->name) < 0
        || rr_str(v, "detail", &out->detail) < 0
        || sigs == NULL || sigs->type != JSON_ARRAY || atts == NULL || atts->type != JSON_ARRAY)
        return -1;
    for (size_t i = 0; i < sigs->n; i++) {
        kyso_sig_result *s = result_add_sig(out);
        if (s == NULL || rr_sig(&sigs->items[i], s) < 0)
            return -1;
    }
    for (size_t i = 0; i < atts->n; i++) {
        kyso_doc_result *a = result_add_att(out);
        if (a == NULL || rr_doc(&atts->items[i], a) < 0)
            return -1;
    }
    return 0;
}

int result_from_value(const json_value *v, kyso_doc_result *out)
{
    memset(out, 0, sizeof *out);
    if (rr_doc(v, out) == 0)
        return 0;
    result_free_doc(out);
    return -1;
}

int result_from_json(const char *json, size_t len, kyso_doc_result *out, char *err,
                     size_t errlen)
{
    json_doc *d = json_parse(json, len, 0, 0, err, errlen);
    memset(out, 0, sizeof *out);
    if (d == NULL)
        return -1;
    int rc = result_from_value(json_root(d), out);
    if (rc < 0)
        snprintf(err, errlen, "not a verification result this version reads");
    json_free(d);
    return rc;
}
