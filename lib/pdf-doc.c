/*
 * pdf-doc.c - strict PDF object access through libqpdf's C API: open a
 * file with recovery off (a damaged xref is an error, never rebuilt) and
 * list the form fields of its AcroForm.  Never prints; never repairs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pdf-sig.h"

/* pdf_sig_docmdp - see pdf-sig.h; the DocMDP P of signature dictionary SIG, or 0. */
int pdf_sig_docmdp(pdf_doc *d, qpdf_oh sig)
{
    qpdf_oh refs = pdf_get(d->q, sig, "/Reference");
    int n = qpdf_oh_is_array(d->q, refs) ? qpdf_oh_get_array_n_items(d->q, refs) : 0;
    for (int i = 0; i < n; i++) {
        qpdf_oh r = qpdf_oh_get_array_item(d->q, refs, i);
        qpdf_oh tm = pdf_get(d->q, r, "/TransformMethod");
        if (!qpdf_oh_is_name_and_equals(d->q, tm, "/DocMDP"))
            continue;
        qpdf_oh tp = pdf_get(d->q, r, "/TransformParams");
        qpdf_oh p = pdf_get(d->q, tp, "/P");
        long long pv = qpdf_oh_is_integer(d->q, p) ? qpdf_oh_get_int_value(d->q, p) : 2;
        return pv >= 1 && pv <= 3 ? (int)pv : 2;
    }
    return 0;
}

/* pdf_doc_certification - see pdf-sig.h. */
int pdf_doc_certification(pdf_doc *d)
{
    qpdf_oh perms = pdf_get(d->q, qpdf_get_root(d->q), "/Perms");
    qpdf_oh sig = pdf_get(d->q, perms, "/DocMDP");
    return qpdf_oh_is_dictionary(d->q, sig) ? pdf_sig_docmdp(d, sig) : 0;
}

/* doc_error - copy the pending qpdf error or warning into err; 1 if any. */
static int doc_error(pdf_doc *d, char *err, size_t errlen)
{
    if (qpdf_has_error(d->q)) {
        qpdf_error e = qpdf_get_error(d->q);
        snprintf(err, errlen, "%s", qpdf_get_error_full_text(d->q, e));
        return 1;
    }
    if (qpdf_more_warnings(d->q)) {
        qpdf_error e = qpdf_next_warning(d->q);
        snprintf(err, errlen, "%s", qpdf_get_error_full_text(d->q, e));
        return 1;
    }
    return 0;
}

int pdf_doc_open(pdf_doc *d, const unsigned char *buf, size_t len,
                 size_t max_objects, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->q = qpdf_init();
    if (d->q == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    qpdf_silence_errors(d->q);
    qpdf_set_suppress_warnings(d->q, QPDF_TRUE);
    qpdf_set_attempt_recovery(d->q, QPDF_FALSE);
    QPDF_ERROR_CODE rc = qpdf_read_memory(d->q, "pdf", (const char *)buf, len, "");
    if (doc_error(d, err, errlen) || (rc & QPDF_ERRORS)) {
        if (!err[0])
            snprintf(err, errlen, "cannot parse the file");
        pdf_doc_close(d);
        return -1;
    }
    if (qpdf_is_encrypted(d->q)) {
        snprintf(err, errlen, "encrypted PDF files are not supported");
        pdf_doc_close(d);
        return -1;
    }
    qpdf_oh tr = qpdf_get_trailer(d->q);
    qpdf_oh sz = pdf_get(d->q, tr, "/Size");
    long long size = qpdf_oh_is_integer(d->q, sz) ? qpdf_oh_get_int_value(d->q, sz) : -1;
    if (size < 1 || (unsigned long long)size > max_objects) {
        snprintf(err, errlen, size < 1 ? "trailer /Size is missing"
                 : "trailer /Size %lld is over the limit %zu (MaxPdfObjects)", size, max_objects);
        pdf_doc_close(d);
        return size < 1 ? -1 : -2;
    }
    d->size = (int)size;
    return 0;
}

qpdf_oh pdf_get(qpdf_data q, qpdf_oh oh, const char *key)
{
    if (qpdf_oh_is_stream(q, oh))
        return qpdf_oh_get_key(q, qpdf_oh_get_dict(q, oh), key);
    if (qpdf_oh_is_dictionary(q, oh))
        return qpdf_oh_get_key(q, oh, key);
    return qpdf_oh_new_null(q);
}

int pdf_doc_scan(pdf_doc *d, char *err, size_t errlen)
{
    for (int id = 1; id < d->size; id++) {
        qpdf_oh oh = qpdf_get_object_by_id(d->q, id, 0);
        (void)qpdf_oh_get_type_code(d->q, oh);
        qpdf_oh_release(d->q, oh);
        if (doc_error(d, err, errlen))
            return -1;
    }
    return 0;
}

int pdf_doc_check(pdf_doc *d, char *err, size_t errlen)
{
    return doc_error(d, err, errlen) ? -1 : 0;
}

void pdf_doc_close(pdf_doc *d)
{
    if (d->q)
        qpdf_cleanup(&d->q);
    memset(d, 0, sizeof *d);
}

/* walk state for pdf_fields_collect */
struct field_walk {
    pdf_doc *d;
    unsigned char *seen;        /* one byte per object id */
    size_t max_depth, max_fields;
    pdf_fields *out;
    char *err;
    size_t errlen;
};

/* field_partial_name - the /T of FIELD as UTF-8 (malloc'd), or NULL. */
static char *field_partial_name(pdf_doc *d, qpdf_oh field)
{
    qpdf_oh t = pdf_get(d->q, field, "/T");
    if (!qpdf_oh_is_string(d->q, t))
        return NULL;
    return strdup(qpdf_oh_get_utf8_value(d->q, t));
}

/* field_join - "parent.child", either part may be NULL; malloc'd or NULL. */
static char *field_join(const char *parent, const char *child)
{
    char *s = NULL;
    if (parent && child) {
        if (asprintf(&s, "%s.%s", parent, child) < 0)
            s = NULL;
    } else if (parent || child) {
        s = strdup(parent ? parent : child);
    }
    return s;
}

/* field_add - append a terminal field; -1 when over the limit or OOM. */
static int field_add(struct field_walk *w, qpdf_oh f, char *name, int is_sig)
{
    pdf_fields *o = w->out;
    if (o->n >= w->max_fields) {
        snprintf(w->err, w->errlen, "more than %zu form fields", w->max_fields);
        return -1;
    }
    pdf_field *n = realloc(o->f, (o->n + 1) * sizeof *n);
    if (n == NULL) {
        snprintf(w->err, w->errlen, "out of memory");
        return -1;
    }
    o->f = n;
    pdf_doc *d = w->d;
    qpdf_oh v = pdf_get(d->q, f, "/V");
    n[o->n].oh = f;
    n[o->n].objid = qpdf_oh_is_indirect(d->q, f) ? qpdf_oh_get_object_id(d->q, f) : 0;
    n[o->n].name = name;
    n[o->n].is_sig = is_sig;
    n[o->n].has_value = qpdf_oh_is_initialized(d->q, v) && !qpdf_oh_is_null(d->q, v);
    o->n++;
    return 0;
}

/* field_mark_seen - record F; -1 (with err) when F was seen before. */
static int field_mark_seen(struct field_walk *w, qpdf_oh f)
{
    pdf_doc *d = w->d;
    if (!qpdf_oh_is_indirect(d->q, f))
        return 0;
    int id = qpdf_oh_get_object_id(d->q, f);
    if (id <= 0 || id >= d->size) {
        snprintf(w->err, w->errlen, "field object %d outside the xref", id);
        return -1;
    }
    if (w->seen[id]) {
        snprintf(w->err, w->errlen, "form field object %d is reached twice (reference loop)", id);
        return -1;
    }
    w->seen[id] = 1;
    return 0;
}

/* field_is_kid_field - does KID carry field keys (not a bare widget)? */
static int field_is_kid_field(pdf_doc *d, qpdf_oh kid)
{
    return qpdf_oh_has_key(d->q, kid, "/T") || qpdf_oh_has_key(d->q, kid, "/FT") ||
           qpdf_oh_has_key(d->q, kid, "/Kids");
}

/* field_walk_node - visit FIELD and its kids; -1 on any error. */
static int field_walk_node(struct field_walk *w, qpdf_oh f, const char *parent,
                           int parent_sig, size_t depth)
{
    pdf_doc *d = w->d;
    if (depth > w->max_depth) {
        snprintf(w->err, w->errlen, "form field tree deeper than %zu", w->max_depth);
        return -1;
    }
    if (!qpdf_oh_is_dictionary(d->q, f)) {
        snprintf(w->err, w->errlen, "a form field is not a dictionary");
        return -1;
    }
    if (field_mark_seen(w, f) < 0)
        return -1;
    char *part = field_partial_name(d, f);
    char *name = field_join(parent, part);
    free(part);
    qpdf_oh ft = pdf_get(d->q, f, "/FT");
    int is_sig = qpdf_oh_is_name(d->q, ft) ? qpdf_oh_is_name_and_equals(d->q, ft, "/Sig")
                                            : parent_sig;
    qpdf_oh kids = pdf_get(d->q, f, "/Kids");
    int nkids = qpdf_oh_is_array(d->q, kids) ? qpdf_oh_get_array_n_items(d->q, kids) : 0;
    int field_kids = 0;
    for (int i = 0; i < nkids; i++) {
        qpdf_oh kid = qpdf_oh_get_array_item(d->q, kids, i);
        if (!field_is_kid_field(d, kid))
            continue;
        field_kids++;
        if (field_walk_node(w, kid, name, is_sig, depth + 1) < 0) {
            free(name);
            return -1;
        }
    }
    if (field_kids > 0) {
        free(name);
        return 0;
    }
    if (field_add(w, f, name, is_sig) < 0) {
        free(name);
        return -1;
    }
    return 0;
}

int pdf_fields_collect(pdf_doc *d, size_t max_depth, size_t max_fields,
                       pdf_fields *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    qpdf_oh root = qpdf_get_root(d->q);
    qpdf_oh form = pdf_get(d->q, root, "/AcroForm");
    if (!qpdf_oh_is_dictionary(d->q, form))
        return 0;
    qpdf_oh fields = pdf_get(d->q, form, "/Fields");
    if (!qpdf_oh_is_array(d->q, fields))
        return 0;
    struct field_walk w = {d, calloc((size_t)d->size, 1), max_depth, max_fields,
                           out, err, errlen};
    if (w.seen == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int n = qpdf_oh_get_array_n_items(d->q, fields), rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = field_walk_node(&w, qpdf_oh_get_array_item(d->q, fields, i), NULL, 0, 1);
    free(w.seen);
    if (rc < 0)
        pdf_fields_free(out);
    return rc;
}

void pdf_fields_free(pdf_fields *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->f[i].name);
    free(fs->f);
    memset(fs, 0, sizeof *fs);
}
