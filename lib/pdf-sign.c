/*
 * pdf-sign.c - the organisation signature as an incremental update (see
 * pdf-sign.h).  The file is read strictly with qpdf (no repair: a damaged
 * file is refused, never rewritten); the objects that change (the first
 * page for its /Annots, the catalog or AcroForm for /Fields) are copied
 * from qpdf's view with the change applied, new objects are numbered from
 * the trailer's /Size, and the new cross-reference section has the kind of
 * the last one (table or stream) with /Prev to it and the same /ID.  The
 * signature value is made last, over the final bytes, through the
 * signing function, and written into the reserved /Contents.  With a
 * TSA the /Contents room includes the time-stamp token (cms-sign.c asks
 * for it); for B-LT a second update adds the DSS with the certificates
 * and the OCSP / CRL answers a recipient needs to validate offline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "buf.h"
#include "pdf-rev.h"
#include "pdf-sig.h"
#include "pdf-sign.h"
#include "pdfw.h"
#include "token.h"

#define BR_WIDTH 36             /* "[0 0000000000 0000000000 0000000000]" */

struct upd {
    const pdf_sign_req *r;
    const unsigned char *pdf;
    size_t len;
    pdf_doc d;
    int doc_open;
    long long prev;             /* offset of the last cross-reference section */
    int xref_stream;            /* that section is a stream (else a table) */
    qpdf_oh page;               /* the first page */
    int page_num;
    double rect[4];             /* where the widget goes */
    pdfw_objs objs;             /* new and changed objects, in writing order */
    int sig_num, widget_num;
    size_t contents_cap;        /* bytes of DER the /Contents can hold */
    EVP_MD_CTX *orig_md;        /* SHA-256 state after the original bytes */
    int dss_only;               /* an update that only adds a DSS */
    unsigned char *sig_der;     /* the SignedData written into /Contents */
    size_t sig_der_len;
    char *err;
    size_t errlen;
};

/* refuse - the document cannot be signed: WHY (and DETAIL, or "") into
 * the error; returns PDFS_EREFUSED. */
static int refuse(struct upd *u, const char *why, const char *detail)
{
    snprintf(u->err, u->errlen, "%s%s", why, detail);
    return PDFS_EREFUSED;
}

void pdf_sign_time_text(time_t when, char *out, size_t outlen)
{
    time_t vn = when + 7 * 3600;
    struct tm tm;
    gmtime_r(&vn, &tm);
    snprintf(out, outlen, "%02d/%02d/%04d %02d:%02d:%02d +07:00", tm.tm_mday, tm.tm_mon + 1,
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void pdf_sign_time_pdf(time_t when, char *out, size_t outlen)
{
    time_t vn = when + 7 * 3600;
    struct tm tm;
    gmtime_r(&vn, &tm);
    snprintf(out, outlen, "D:%04d%02d%02d%02d%02d%02d+07'00'", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * find_last_xref - the offset after the last "startxref" of the file and
 * the kind of section found there.  -1 when the file does not end with a
 * revision or the offset does not point at "xref" or "N G obj".
 */
static int find_last_xref(struct upd *u)
{
    if (pdf_rev_tail(u->pdf, u->len) != 0)
        return -1;
    size_t from = u->len > 1024 ? u->len - 1024 : 0;
    const unsigned char *hit = NULL;
    for (const unsigned char *p = u->pdf + from;
         (p = memmem(p, u->len - (size_t)(p - u->pdf), "startxref", 9)) != NULL; p += 9)
        hit = p;
    if (hit == NULL)
        return -1;
    char *end;
    char num[24] = "";
    size_t i = (size_t)(hit - u->pdf) + 9, k = 0;
    while (i < u->len && strchr(" \t\r\n", u->pdf[i]))
        i++;
    while (i < u->len && k + 1 < sizeof num && u->pdf[i] >= '0' && u->pdf[i] <= '9')
        num[k++] = (char)u->pdf[i++];
    u->prev = strtoll(num, &end, 10);
    if (k == 0 || u->prev <= 0 || (size_t)u->prev >= u->len)
        return -1;
    const unsigned char *x = u->pdf + u->prev;
    u->xref_stream = !(u->len - (size_t)u->prev >= 4 && memcmp(x, "xref", 4) == 0);
    return 0;
}

/* inherited - KEY of PAGE or of its nearest ancestor that has it. */
static qpdf_oh inherited(qpdf_data q, qpdf_oh page, const char *key)
{
    qpdf_oh n = page;
    for (int depth = 0; depth < 64; depth++) {
        qpdf_oh v = pdf_get(q, n, key);
        if (!qpdf_oh_is_null(q, v))
            return v;
        n = pdf_get(q, n, "/Parent");
        if (!qpdf_oh_is_dictionary(q, n))
            break;
    }
    return qpdf_oh_new_null(q);
}

/* get_box - four numbers of array OH into B, normalised; 0 or -1. */
static int get_box(qpdf_data q, qpdf_oh oh, double b[4])
{
    if (!qpdf_oh_is_array(q, oh) || qpdf_oh_get_array_n_items(q, oh) != 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        qpdf_oh v = qpdf_oh_get_array_item(q, oh, i);
        if (!qpdf_oh_is_number(q, v))
            return -1;
        b[i] = qpdf_oh_get_numeric_value(q, v);
    }
    if (b[0] > b[2]) { double t = b[0]; b[0] = b[2]; b[2] = t; }
    if (b[1] > b[3]) { double t = b[1]; b[1] = b[3]; b[3] = t; }
    return b[2] - b[0] >= 1 && b[3] - b[1] >= 1 ? 0 : -1;
}

/*
 * personal_widget_rect - the rectangle of the first signed signature field
 * drawn on the first page (the personal signature), into R.  0 when found,
 * -1 when there is none.
 */
static int personal_widget_rect(struct upd *u, const pdf_fields *fs, double r[4])
{
    qpdf_data q = u->d.q;
    for (size_t i = 0; i < fs->n; i++) {
        if (!fs->f[i].is_sig || !fs->f[i].has_value)
            continue;
        qpdf_oh p = pdf_get(q, fs->f[i].oh, "/P");
        if (qpdf_oh_is_indirect(q, p) && qpdf_oh_get_object_id(q, p) != u->page_num)
            continue;
        if (get_box(q, pdf_get(q, fs->f[i].oh, "/Rect"), r) == 0)
            return 0;
    }
    return -1;
}

/*
 * place_widget - choose u->rect for a box of W x H on the first page:
 * over the left third of the personal signature (Decree 30/2020: the seal
 * covers a third of the signature, on its left), top centre, or top right.
 */
static void place_widget(struct upd *u, const pdf_fields *fs, const double page[4],
                         double w, double h)
{
    double pw = page[2] - page[0], ph = page[3] - page[1], margin = 14, pr[4];
    pdfs_place pl = u->r->place;
    if (w > pw - 2 * margin) {
        h *= (pw - 2 * margin) / w;
        w = pw - 2 * margin;
    }
    /* over the personal signature only with a seal to put there: text
     * alone over a signature would make both unreadable */
    if (pl == PDFS_PLACE_AUTO)
        pl = u->r->kind == AP_ATTACHMENT ? PDFS_PLACE_TOP_RIGHT
             : u->r->seal && personal_widget_rect(u, fs, pr) == 0 ? PDFS_PLACE_AUTO
             : PDFS_PLACE_TOP_CENTER;
    double x = page[0] + (pw - w) / 2, y = page[3] - margin - h;
    if (pl == PDFS_PLACE_TOP_RIGHT) {
        x = page[2] - margin - w;
    } else if (pl == PDFS_PLACE_AUTO) {
        /* the seal (a square of side h at the left of the box) centred on
         * the middle of the signature's left third */
        x = pr[0] + (pr[2] - pr[0]) / 6 - h / 2;
        y = (pr[1] + pr[3]) / 2 - h / 2;
    }
    if (x < page[0]) x = page[0];
    if (y < page[1]) y = page[1];
    if (ph < h) h = ph;
    u->rect[0] = x;
    u->rect[1] = y;
    u->rect[2] = x + w;
    u->rect[3] = y + h;
}

/* field_name - "KysoOrg", or "KysoOrgN" when taken, into OUT.  0, or -1
 * when every name up to KysoOrg10000 is taken (pdf_fields_collect stops at
 * 10,000 fields, so only a file built to collide gets there). */
static int field_name(const pdf_fields *fs, char *out, size_t outlen)
{
    for (int n = 1; n <= 10000; n++) {
        if (n == 1)
            snprintf(out, outlen, "KysoOrg");
        else
            snprintf(out, outlen, "KysoOrg%d", n);
        size_t i = 0;
        while (i < fs->n && (fs->f[i].name == NULL || strcmp(fs->f[i].name, out) != 0))
            i++;
        if (i == fs->n)
            return 0;
    }
    return -1;
}

/* gen_zero - may the update rewrite OH in place?  An indirect object must
 * have a number and generation 0 (the update writes "N 0 obj"); a direct
 * one is rewritten with its holder, unless MUST_BE_INDIRECT. */
static int gen_zero(qpdf_data q, qpdf_oh oh, int must_be_indirect)
{
    if (!qpdf_oh_is_indirect(q, oh))
        return !must_be_indirect;
    return qpdf_oh_get_object_id(q, oh) > 0 && qpdf_oh_get_generation(q, oh) == 0;
}

/* check_updatable - the objects the update may rewrite (the catalog, the
 * first page and its /Annots, the AcroForm and its /Fields) can be written
 * as generation 0.  0, or PDFS_EREFUSED with the reason: a file whose
 * objects were reused with a higher generation would otherwise come out
 * with its old catalog or page still in force and no signature seen. */
static int check_updatable(struct upd *u)
{
    qpdf_data q = u->d.q;
    qpdf_oh root = qpdf_get_root(q), af = pdf_get(q, root, "/AcroForm");
    if (gen_zero(q, root, 1) && gen_zero(q, u->page, 1) &&
        gen_zero(q, pdf_get(q, u->page, "/Annots"), 0) && gen_zero(q, af, 0) &&
        (!qpdf_oh_is_dictionary(q, af) || gen_zero(q, pdf_get(q, af, "/Fields"), 0)))
        return 0;
    return refuse(u, "the PDF's catalog, first page or form is stored as an object of a "
                  "generation other than 0, which this signer does not update: save the "
                  "file again with a PDF tool (e.g. qpdf in.pdf out.pdf) and resend", "");
}

/* add_unparsed - add OH's value (indirect object NUM) as changed. */
static int add_unparsed(struct upd *u, int num, qpdf_oh oh)
{
    const char *s = qpdf_oh_unparse_resolved(u->d.q, oh);
    return pdfw_add(&u->objs, num, s, strlen(s));
}

/*
 * append_ref - append "NUM 0 R" to array KEY of dictionary DICT (creating
 * it).  When the array is an indirect object, that object is what
 * changes: it is added to the update and *dict_changed stays 0.
 */
static int append_ref(struct upd *u, qpdf_oh dict, const char *key, int num, int *dict_changed)
{
    qpdf_data q = u->d.q;
    /* a reference to an object qpdf does not have yet: unparsed as "NUM 0 R" */
    qpdf_oh item = qpdf_get_object_by_id(q, num, 0);
    qpdf_oh arr = pdf_get(q, dict, key);
    if (qpdf_oh_is_array(q, arr)) {
        qpdf_oh_append_item(q, arr, item);
        if (qpdf_oh_is_indirect(q, arr))
            return add_unparsed(u, qpdf_oh_get_object_id(q, arr), arr);
    } else {
        qpdf_oh fresh = qpdf_oh_new_array(q);
        qpdf_oh_append_item(q, fresh, item);
        qpdf_oh_replace_key(q, dict, key, fresh);
    }
    *dict_changed = 1;
    return 0;
}

/* link_widget - the widget into the page's /Annots and the AcroForm's
 * /Fields (with /SigFlags 3), adding every object that changes. */
static int link_widget(struct upd *u)
{
    qpdf_data q = u->d.q;
    qpdf_oh root = qpdf_get_root(q);
    int page_changed = 0, root_changed = 0, af_changed = 0;
    if (append_ref(u, u->page, "/Annots", u->widget_num, &page_changed) != 0)
        return -1;
    if (page_changed && add_unparsed(u, u->page_num, u->page) != 0)
        return -1;
    qpdf_oh af = pdf_get(q, root, "/AcroForm");
    if (!qpdf_oh_is_dictionary(q, af)) {
        af = qpdf_oh_parse(q, "<< >>");
        qpdf_oh_replace_key(q, root, "/AcroForm", af);
        af = pdf_get(q, root, "/AcroForm");
        root_changed = 1;
    }
    if (append_ref(u, af, "/Fields", u->widget_num, &af_changed) != 0)
        return -1;
    qpdf_oh_replace_key(q, af, "/SigFlags", qpdf_oh_new_integer(q, 3));
    if (qpdf_oh_is_indirect(q, af)) {
        if (add_unparsed(u, qpdf_oh_get_object_id(q, af), af) != 0)
            return -1;
    } else {
        root_changed = 1;
    }
    if (root_changed && add_unparsed(u, qpdf_oh_get_object_id(q, root), root) != 0)
        return -1;
    char perr[256];
    return pdf_doc_check(&u->d, perr, sizeof perr);
}

/* add_signature_dict - the /Sig dictionary with a reserved /ByteRange and
 * /Contents big enough for the SignedData. */
static int add_signature_dict(struct upd *u)
{
    kyso_buf b = { 0 };
    char m[40];
    pdf_sign_time_pdf(u->r->when, m, sizeof m);
    buf_printf(&b, "<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/M(%s)", m);
    if (u->r->org_name) {
        buf_append(&b, "/Name", 5);
        pdfw_append_text(&b, u->r->org_name);
    }
    buf_printf(&b, "/ByteRange%-*s/Contents<", BR_WIDTH, "[0 0 0 0]");
    for (size_t i = 0; i < 2 * u->contents_cap; i++)
        buf_append(&b, "0", 1);
    buf_append(&b, ">>>", 3);
    int rc = b.oom ? -1 : pdfw_add(&u->objs, u->sig_num, b.p, b.len);
    buf_free(&b);
    return rc;
}

/* add_widget - the signature field NAME merged with its widget, and its
 * appearance (built by ap_build unless invisible). */
static int add_widget(struct upd *u, const char *name, const ap_spec *ap, int xobj)
{
    kyso_buf b = { 0 };
    buf_printf(&b, "<</Type/Annot/Subtype/Widget/FT/Sig/T(%s)/V %d 0 R/F 132/P %d 0 R",
               name, u->sig_num, u->page_num);
    buf_printf(&b, "/Rect[%.2f %.2f %.2f %.2f]", u->rect[0], u->rect[1], u->rect[2], u->rect[3]);
    if (ap)
        buf_printf(&b, "/AP<</N %d 0 R>>", xobj);
    buf_append(&b, ">>", 2);
    int rc = b.oom ? -1 : pdfw_add(&u->objs, u->widget_num, b.p, b.len);
    buf_free(&b);
    return rc;
}

/*
 * build_objects - the new objects (signature, widget, appearance) and the
 * changed ones.  0; PDFS_EREFUSED for a document we must not change;
 * TOKEN_ECONFIG for out of memory or an appearance that cannot be built
 * (a seal or font problem).  ERR says which.
 */
static int build_objects(struct upd *u)
{
    qpdf_data q = u->d.q;
    pdf_fields fs = { 0 };
    double page[4] = { 0, 0, 0, 0 }, w = 0, h = 0;
    char when[40];
    int rc = TOKEN_ECONFIG, xobj = 0;
    char perr[256];
    if (qpdf_get_num_pages(q) < 1 || pdf_doc_check(&u->d, perr, sizeof perr) != 0)
        return refuse(u, "the PDF file is damaged: no page tree", "");
    u->page = qpdf_get_page_n(q, 0);
    u->page_num = qpdf_oh_get_object_id(q, u->page);
    if (get_box(q, inherited(q, u->page, "/CropBox"), page) != 0 &&
        get_box(q, inherited(q, u->page, "/MediaBox"), page) != 0)
        return refuse(u, "the first page has no usable /MediaBox", "");
    if (check_updatable(u) != 0)
        return PDFS_EREFUSED;
    if (pdf_fields_collect(&u->d, 32, 10000, &fs, u->err, u->errlen) != 0)
        return PDFS_EREFUSED;
    char fname[32];
    if (field_name(&fs, fname, sizeof fname) != 0) {
        pdf_fields_free(&fs);
        return refuse(u, "the PDF already has fields KysoOrg to KysoOrg10000: no name is free "
                      "for the signature field", "");
    }
    pdf_sign_time_text(u->r->when, when, sizeof when);
    ap_spec ap = { u->r->kind, 0, 0, u->r->org_name, when, u->r->doc_number,
                   u->r->seal, u->r->seal_len, u->r->font_path };
    int visible = u->r->place != PDFS_PLACE_INVISIBLE;
    if (visible)
        ap_default_size(&ap, &w, &h);
    u->objs.next_num = u->d.size;
    u->sig_num = pdfw_new_num(&u->objs);
    u->widget_num = pdfw_new_num(&u->objs);
    if (visible) {
        place_widget(u, &fs, page, w, h);
        ap.w = u->rect[2] - u->rect[0];
        ap.h = u->rect[3] - u->rect[1];
        if (ap_build(&ap, &u->objs, &xobj, u->err, u->errlen) != 0)
            goto out;
    }
    if (add_signature_dict(u) != 0 || add_widget(u, fname, visible ? &ap : NULL, xobj) != 0 ||
        link_widget(u) != 0) {
        snprintf(u->err, u->errlen, "cannot build the update (out of memory?)");
        goto out;
    }
    rc = 0;
out:
    pdf_fields_free(&fs);
    return rc;
}

static int num_cmp(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* write_index_runs - the /Index array (or table subsection headers are
 * written by the caller) of the sorted numbers NUMS: "first count" pairs. */
static void write_index_runs(kyso_buf *o, const int *nums, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && nums[j] == nums[j - 1] + 1)
            j++;
        buf_printf(o, "%s%d %zu", i ? " " : "", nums[i], j - i);
        i = j;
    }
}

/* trailer_keys - /Size /Root /Info /ID /Prev of the new section. */
static void trailer_keys(struct upd *u, kyso_buf *o, int size)
{
    qpdf_data q = u->d.q;
    qpdf_oh tr = qpdf_get_trailer(q);
    buf_printf(o, "/Size %d/Root %s", size, qpdf_oh_unparse(q, pdf_get(q, tr, "/Root")));
    qpdf_oh info = pdf_get(q, tr, "/Info");
    if (!qpdf_oh_is_null(q, info))
        buf_printf(o, "/Info %s", qpdf_oh_unparse(q, info));
    qpdf_oh id = pdf_get(q, tr, "/ID");
    if (qpdf_oh_is_array(q, id))
        buf_printf(o, "/ID %s", qpdf_oh_unparse(q, id));
    buf_printf(o, "/Prev %lld", u->prev);
}

/*
 * write_xref - the cross-reference section for the objects at OFFS, in the
 * kind of the file's last one, with its trailer and %%EOF.
 */
static int write_xref(struct upd *u, kyso_buf *o, const size_t *offs)
{
    size_t n = u->objs.n, xoff = o->len;
    int xnum = u->xref_stream ? pdfw_new_num(&u->objs) : 0;
    size_t m = n + (u->xref_stream ? 1 : 0);
    int *nums = malloc(m * sizeof *nums);
    size_t *at = malloc(m * sizeof *at);
    if (nums == NULL || at == NULL) {
        free(nums);
        free(at);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        nums[i] = u->objs.v[i].num;
    if (u->xref_stream)
        nums[n] = xnum;
    qsort(nums, m, sizeof *nums, num_cmp);
    for (size_t i = 0; i < m; i++) {
        at[i] = xoff;           /* the xref stream itself unless found below */
        for (size_t k = 0; k < n; k++)
            if (u->objs.v[k].num == nums[i])
                at[i] = offs[k];
    }
    int size = u->d.size > nums[m - 1] + 1 ? u->d.size : nums[m - 1] + 1;
    if (!u->xref_stream) {
        buf_append(o, "xref\n", 5);
        for (size_t i = 0; i < m;) {
            size_t j = i + 1;
            while (j < m && nums[j] == nums[j - 1] + 1)
                j++;
            buf_printf(o, "%d %zu\n", nums[i], j - i);
            for (; i < j; i++)
                buf_printf(o, "%010zu 00000 n\r\n", at[i]);
        }
        buf_append(o, "trailer\n<<", 10);
        trailer_keys(u, o, size);
        buf_append(o, ">>\n", 3);
    } else {
        buf_printf(o, "%d 0 obj\n<</Type/XRef/W[1 4 2]/Index[", xnum);
        write_index_runs(o, nums, m);
        buf_append(o, "]", 1);
        trailer_keys(u, o, size);
        buf_printf(o, "/Length %zu>>\nstream\n", m * 7);
        for (size_t i = 0; i < m; i++) {
            unsigned char row[7] = { 1, (unsigned char)(at[i] >> 24), (unsigned char)(at[i] >> 16),
                                     (unsigned char)(at[i] >> 8), (unsigned char)at[i], 0, 0 };
            buf_append(o, row, sizeof row);
        }
        buf_append(o, "\nendstream\nendobj\n", 18);
    }
    buf_printf(o, "startxref\n%zu\n%%%%EOF\n", xoff);
    free(nums);
    free(at);
    return o->oom ? -1 : 0;
}

/*
 * write_update - the original bytes, the objects and the new section into
 * O; *sig_at is where the signature object's body starts.
 */
static int write_update(struct upd *u, kyso_buf *o, size_t *sig_at)
{
    size_t *offs = malloc((u->objs.n ? u->objs.n : 1) * sizeof *offs);
    if (offs == NULL)
        return -1;
    buf_append(o, u->pdf, u->len);
    if (u->pdf[u->len - 1] != '\n' && u->pdf[u->len - 1] != '\r')
        buf_append(o, "\n", 1);
    for (size_t i = 0; i < u->objs.n; i++) {
        offs[i] = o->len;
        buf_printf(o, "%d 0 obj\n", u->objs.v[i].num);
        if (u->objs.v[i].num == u->sig_num)
            *sig_at = o->len;
        buf_append(o, u->objs.v[i].data, u->objs.v[i].len);
        buf_append(o, "\nendobj\n", 8);
    }
    int rc = o->oom ? -1 : write_xref(u, o, offs);
    free(offs);
    return rc;
}

/*
 * seal_update - fill /ByteRange, sign the covered bytes, write the
 * SignedData into /Contents.  SIG_AT is where the signature dictionary
 * starts in O.  TOKEN_OK or a TOKEN_* code.
 */
static int seal_update(struct upd *u, kyso_buf *o, size_t sig_at)
{
    unsigned char *p = (unsigned char *)o->p;
    unsigned char *br = memmem(p + sig_at, o->len - sig_at, "/ByteRange", 10);
    unsigned char *ct = memmem(p + sig_at, o->len - sig_at, "/Contents<", 10);
    if (br == NULL || ct == NULL)
        return TOKEN_ECONFIG;
    size_t a = (size_t)(ct + 9 - p), b = a + 2 * u->contents_cap + 2;
    char range[BR_WIDTH + 1];
    int w = snprintf(range, sizeof range, "[0 %zu %zu %zu]", a, b, o->len - b);
    if (w < 0 || w > BR_WIDTH)
        return TOKEN_ECONFIG;
    memset(br + 10, ' ', BR_WIDTH);
    memcpy(br + 10, range, (size_t)w);
    /* one pass over the original bytes, which start both the output and
     * the first span: the signed digest and the audit's digests share it */
    unsigned char md[32];
    u->orig_md = EVP_MD_CTX_new();
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = u->orig_md && c && EVP_DigestInit_ex(u->orig_md, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(u->orig_md, p, u->len) && EVP_MD_CTX_copy_ex(c, u->orig_md) &&
             EVP_DigestUpdate(c, p + u->len, a - u->len) &&
             EVP_DigestUpdate(c, p + b, o->len - b) && EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    if (!ok) {
        snprintf(u->err, u->errlen, "cannot hash the document");
        return TOKEN_ECONFIG;
    }
    unsigned char *der = NULL;
    size_t derlen = 0;
    int rc = cms_sign_digest(u->r->signer, md, 0, &der, &derlen, u->err, u->errlen);
    if (rc != TOKEN_OK)
        return rc;
    if (derlen > u->contents_cap) {
        snprintf(u->err, u->errlen, "signature of %zu bytes does not fit the %zu reserved",
                 derlen, u->contents_cap);
        free(der);
        return TOKEN_ECONFIG;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < derlen; i++) {
        p[a + 1 + 2 * i] = (unsigned char)hex[der[i] >> 4];
        p[a + 2 + 2 * i] = (unsigned char)hex[der[i] & 15];
    }
    u->sig_der = der;
    u->sig_der_len = derlen;
    return TOKEN_OK;
}

/* open_checked - open the file strictly and refuse what must not be
 * signed.  0 or PDFS_EREFUSED. */
static int open_checked(struct upd *u)
{
    char perr[512];
    if (u->len == 0 || find_last_xref(u) != 0)
        return refuse(u, "the file does not end with a complete PDF revision "
                      "(missing startxref or data after %%EOF)", "");
    /* the last section's trailer (or xref stream dictionary) names the
     * encryption; qpdf cannot even open a file with a user password */
    size_t at = (size_t)u->prev, span = u->len - at > 65536 ? 65536 : u->len - at;
    if (memmem(u->pdf + at, span, "/Encrypt", 8) != NULL)
        return refuse(u, "encrypted (password-protected) PDF files cannot be signed: "
                      "send the document without protection", "");
    if (pdf_doc_open(&u->d, u->pdf, u->len, u->r->max_objects, perr, sizeof perr) != 0)
        return refuse(u, "the PDF file is damaged or unsupported: ", perr);
    u->doc_open = 1;
    if (pdf_doc_scan(&u->d, perr, sizeof perr) != 0)
        return refuse(u, "the PDF file is damaged: ", perr);
    if (!qpdf_oh_is_null(u->d.q, pdf_get(u->d.q, qpdf_get_trailer(u->d.q), "/Encrypt")))
        return refuse(u, "encrypted (password-protected) PDF files cannot be signed: "
                      "send the document without protection", "");
    if (!u->dss_only && pdf_doc_certification(&u->d) == 1)
        return refuse(u, "the document is certified with no changes allowed "
                      "(DocMDP P=1); a new signature would invalidate it", "");
    return 0;
}

/* add_stream - a new stream object holding LEN bytes of DATA; its number,
 * or -1 when out of memory. */
static int add_stream(struct upd *u, const unsigned char *data, size_t len)
{
    kyso_buf b = { 0 };
    int num = pdfw_new_num(&u->objs);
    buf_printf(&b, "<</Length %zu>>\nstream\n", len);
    buf_append(&b, data, len);
    buf_append(&b, "\nendstream", 10);
    int rc = b.oom ? -1 : pdfw_add(&u->objs, num, b.p, b.len);
    buf_free(&b);
    return rc == 0 ? num : -1;
}

/* dss_old_items - the items of array KEY of the existing DSS OLD, as
 * " N G R" (or their direct text), into B. */
static void dss_old_items(struct upd *u, qpdf_oh old, const char *key, kyso_buf *b)
{
    qpdf_data q = u->d.q;
    qpdf_oh a = pdf_get(q, old, key);
    int n = qpdf_oh_is_array(q, a) ? qpdf_oh_get_array_n_items(q, a) : 0;
    for (int i = 0; i < n; i++)
        buf_printf(b, " %s", qpdf_oh_unparse(q, qpdf_oh_get_array_item(q, a, i)));
}

/* dss_old_vri - the entries of the existing DSS's /VRI into B. */
static void dss_old_vri(struct upd *u, qpdf_oh old, kyso_buf *b)
{
    qpdf_data q = u->d.q;
    qpdf_oh vri = pdf_get(q, old, "/VRI");
    if (!qpdf_oh_is_dictionary(q, vri))
        return;
    qpdf_oh_begin_dict_key_iter(q, vri);
    while (qpdf_oh_dict_more_keys(q)) {
        const char *k = qpdf_oh_dict_next_key(q);
        buf_printf(b, "%s %s", k, qpdf_oh_unparse(q, pdf_get(q, vri, k)));
    }
}

/* dss_new_streams - one stream per certificate of CERTS, OCSP response and
 * CRL of RD; their references into C, O and L.  0 or -1. */
static int dss_new_streams(struct upd *u, STACK_OF(X509) *certs, const kyso_revdata *rd,
                           kyso_buf *c, kyso_buf *o, kyso_buf *l)
{
    for (int i = 0; certs && i < sk_X509_num(certs); i++) {
        unsigned char *der = NULL;
        int n = i2d_X509(sk_X509_value(certs, i), &der), num;
        num = n > 0 ? add_stream(u, der, (size_t)n) : -1;
        OPENSSL_free(der);
        if (num < 0)
            return -1;
        buf_printf(c, " %d 0 R", num);
    }
    for (size_t i = 0; rd && i < rd->nocsp + rd->ncrls; i++) {
        const kyso_blob *bl = i < rd->nocsp ? &rd->ocsp[i] : &rd->crls[i - rd->nocsp];
        int num = add_stream(u, bl->p, bl->len);
        if (num < 0)
            return -1;
        buf_printf(i < rd->nocsp ? o : l, " %d 0 R", num);
    }
    return c->oom || o->oom || l->oom ? -1 : 0;
}

/* build_dss - the DSS object (the old one's entries and ours) and the
 * catalog pointing at it.  0, or TOKEN_ECONFIG with ERR. */
static int build_dss(struct upd *u, STACK_OF(X509) *certs, const kyso_revdata *rd,
                     const unsigned char *vri, size_t vrilen)
{
    qpdf_data q = u->d.q;
    qpdf_oh root = qpdf_get_root(q), old = pdf_get(q, root, "/DSS");
    kyso_buf c = { 0 }, o = { 0 }, l = { 0 }, d = { 0 };
    int rc = TOKEN_ECONFIG, has_old = qpdf_oh_is_dictionary(q, old);
    u->objs.next_num = u->d.size;
    if (dss_new_streams(u, certs, rd, &c, &o, &l) != 0)
        goto out;
    buf_append(&d, "<</Type/DSS/Certs[", 18);
    if (has_old)
        dss_old_items(u, old, "/Certs", &d);
    buf_printf(&d, "%s]/OCSPs[", c.len ? c.p : "");
    if (has_old)
        dss_old_items(u, old, "/OCSPs", &d);
    buf_printf(&d, "%s]/CRLs[", o.len ? o.p : "");
    if (has_old)
        dss_old_items(u, old, "/CRLs", &d);
    buf_printf(&d, "%s]/VRI<<", l.len ? l.p : "");
    if (has_old)
        dss_old_vri(u, old, &d);
    if (vri != NULL) {
        unsigned char h[20];
        EVP_Digest(vri, vrilen, h, NULL, EVP_sha1(), NULL);
        buf_append(&d, "/", 1);
        for (int i = 0; i < 20; i++)
            buf_printf(&d, "%02X", h[i]);
        buf_printf(&d, "<</Cert[%s]/OCSP[%s]/CRL[%s]>>", c.len ? c.p : "", o.len ? o.p : "",
                   l.len ? l.p : "");
    }
    buf_append(&d, ">>>>", 4);
    int num = pdfw_new_num(&u->objs);
    if (d.oom || pdfw_add(&u->objs, num, d.p, d.len) != 0)
        goto out;
    /* qpdf drops a key whose value refers to an object it does not have
     * yet: the catalog is written with the key put in front by hand */
    qpdf_oh_remove_key(q, root, "/DSS");
    kyso_buf cat = { 0 };
    const char *body = qpdf_oh_unparse_resolved(q, root);
    char perr[256];
    if (strncmp(body, "<<", 2) == 0) {
        buf_printf(&cat, "<< /DSS %d 0 R %s", num, body + 2);
        if (!cat.oom && pdfw_add(&u->objs, qpdf_oh_get_object_id(q, root), cat.p, cat.len) == 0
            && pdf_doc_check(&u->d, perr, sizeof perr) == 0)
            rc = 0;
    }
    buf_free(&cat);
out:
    if (rc != 0)
        snprintf(u->err, u->errlen, "cannot build the DSS update (out of memory?)");
    buf_free(&c);
    buf_free(&o);
    buf_free(&l);
    buf_free(&d);
    return rc;
}

int pdf_sign_add_dss(const unsigned char *pdf, size_t len, size_t max_objects,
                     STACK_OF(X509) *certs, const kyso_revdata *rd,
                     const unsigned char *vri_contents, size_t vri_len,
                     unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    pdf_sign_req r = { .max_objects = max_objects };
    struct upd u = { .r = &r, .pdf = pdf, .len = len, .dss_only = 1, .err = err,
                     .errlen = errlen };
    kyso_buf o = { 0 };
    size_t unused = 0;
    *out = NULL;
    err[0] = '\0';
    int rc = open_checked(&u);
    if (rc == 0)
        rc = build_dss(&u, certs, rd, vri_contents, vri_len);
    if (rc == 0 && write_update(&u, &o, &unused) != 0) {
        snprintf(err, errlen, "out of memory writing the DSS update");
        rc = TOKEN_ECONFIG;
    }
    if (rc == 0) {
        *outlen = o.len;
        if ((*out = (unsigned char *)buf_steal(&o)) == NULL)
            rc = TOKEN_ECONFIG;
    }
    buf_free(&o);
    pdfw_free(&u.objs);
    if (u.doc_open)
        pdf_doc_close(&u.d);
    return rc;
}

/* tsa_certs - the certificates of the signature time-stamp in our
 * SignedData DER, and the TSA's own among them (*tsa, borrowed from
 * *certs).  *certs is NULL when there is no time-stamp. */
static void tsa_certs(const unsigned char *der, size_t len, STACK_OF(X509) **certs, X509 **tsa)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len), *tok = NULL;
    STACK_OF(CMS_SignerInfo) *sis = cms ? CMS_get0_SignerInfos(cms) : NULL;
    *certs = NULL;
    *tsa = NULL;
    if (sis && sk_CMS_SignerInfo_num(sis) > 0) {
        CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, 0);
        int idx = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1);
        ASN1_TYPE *t = idx >= 0 ? X509_ATTRIBUTE_get0_type(CMS_unsigned_get_attr(si, idx), 0)
                                : NULL;
        if (t && t->type == V_ASN1_SEQUENCE) {
            p = ASN1_STRING_get0_data(t->value.sequence);
            tok = d2i_CMS_ContentInfo(NULL, &p, ASN1_STRING_length(t->value.sequence));
        }
    }
    STACK_OF(CMS_SignerInfo) *tsis = tok ? CMS_get0_SignerInfos(tok) : NULL;
    if (tsis && sk_CMS_SignerInfo_num(tsis) > 0 && (*certs = CMS_get1_certs(tok)) != NULL)
        for (int i = 0; i < sk_X509_num(*certs) && *tsa == NULL; i++)
            if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(tsis, 0),
                                        sk_X509_value(*certs, i)) == 0)
                *tsa = sk_X509_value(*certs, i);
    CMS_ContentInfo_free(tok);
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
}

/* cert_push_new - X (one more reference) onto CERTS unless already there.
 * 0, or -1 when out of memory. */
static int cert_push_new(STACK_OF(X509) *certs, X509 *x)
{
    for (int k = 0; k < sk_X509_num(certs); k++)
        if (X509_cmp(sk_X509_value(certs, k), x) == 0)
            return 0;
    if (!X509_up_ref(x))
        return -1;
    if (!sk_X509_push(certs, x)) {
        X509_free(x);
        return -1;
    }
    return 0;
}

/* collect_lt - the certificates (signer, chain, TSA and its chain) into
 * CERTS and, unless R->lt_data gives them, the OCSP/CRL answers for them
 * from revocation_collect into GOT.  TOKEN_OK, or TOKEN_ETEMP with ERR. */
static int collect_lt(struct upd *u, STACK_OF(X509) *certs, kyso_revdata *got)
{
    const cms_signer *s = u->r->signer;
    STACK_OF(X509) *tcerts = NULL;
    X509 *tsa = NULL;
    char why[512] = "no verifier to collect with";
    int rc = TOKEN_OK;
    tsa_certs(u->sig_der, u->sig_der_len, &tcerts, &tsa);
    if (cert_push_new(certs, s->cert) != 0)
        rc = TOKEN_ECONFIG;
    for (int i = 0; rc == TOKEN_OK && s->chain && i < sk_X509_num(s->chain); i++)
        if (cert_push_new(certs, sk_X509_value(s->chain, i)) != 0)
            rc = TOKEN_ECONFIG;
    if (rc == TOKEN_OK && u->r->lt_data == NULL) {
        kyso_revdata t = { 0 };
        if (u->r->v == NULL || revocation_collect(u->r->v, s->cert, s->chain, got, why,
                                                  sizeof why) != 0 ||
            (tsa && revocation_collect(u->r->v, tsa, tcerts, &t, why, sizeof why) != 0))
            rc = TOKEN_ETEMP;
        for (size_t i = 0; rc == TOKEN_OK && i < t.nocsp + t.ncrls; i++) {
            const kyso_blob *b = i < t.nocsp ? &t.ocsp[i] : &t.crls[i - t.nocsp];
            if (revdata_add(got, i < t.nocsp, b->p, b->len) != 0)
                rc = TOKEN_ETEMP;
        }
        revdata_free(&t);
        if (rc != TOKEN_OK)
            snprintf(u->err, u->errlen, "long-term validation data (lt=yes): %s", why);
    }
    for (int i = 0; rc == TOKEN_OK && tcerts && i < sk_X509_num(tcerts); i++)
        if (cert_push_new(certs, sk_X509_value(tcerts, i)) != 0)
            rc = TOKEN_ECONFIG;
    sk_X509_pop_free(tcerts, X509_free);
    if (rc == TOKEN_ECONFIG)
        snprintf(u->err, u->errlen, "out of memory collecting certificates");
    return rc;
}

/* add_lt - replace the signed file in O by itself plus the DSS update.
 * TOKEN_OK, TOKEN_ETEMP (no validation data) or TOKEN_ECONFIG. */
static int add_lt(struct upd *u, kyso_buf *o)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    kyso_revdata got = { 0 };
    unsigned char *contents = calloc(1, u->contents_cap), *res = NULL;
    size_t reslen = 0;
    int rc = certs && contents ? TOKEN_OK : TOKEN_ECONFIG;
    if (rc == TOKEN_OK) {
        memcpy(contents, u->sig_der, u->sig_der_len);
        rc = collect_lt(u, certs, &got);
    }
    if (rc == TOKEN_OK) {
        rc = pdf_sign_add_dss((unsigned char *)o->p, o->len, u->r->max_objects, certs,
                              u->r->lt_data ? u->r->lt_data : &got, contents, u->contents_cap,
                              &res, &reslen, u->err, u->errlen);
        if (rc == PDFS_EREFUSED)
            rc = TOKEN_ECONFIG;     /* we just wrote that file */
    }
    if (rc == TOKEN_OK) {
        buf_free(o);
        o->p = (char *)res;
        o->len = o->cap = reslen;
    }
    sk_X509_pop_free(certs, X509_free);
    revdata_free(&got);
    free(contents);
    return rc;
}

/* fill_digests - SHA-256 of the original bytes and of the whole output
 * O, from the state kept after hashing the original (only the update's
 * bytes are hashed again).  0, or -1. */
static int fill_digests(struct upd *u, const kyso_buf *o, pdf_sign_digests *d)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && u->orig_md && EVP_MD_CTX_copy_ex(c, u->orig_md) &&
             EVP_DigestFinal_ex(c, d->before, NULL) && EVP_MD_CTX_copy_ex(c, u->orig_md) &&
             EVP_DigestUpdate(c, o->p + u->len, o->len - u->len) &&
             EVP_DigestFinal_ex(c, d->after, NULL);
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

int pdf_sign(const pdf_sign_req *r, const unsigned char *pdf, size_t len,
             unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    struct upd u = { .r = r, .pdf = pdf, .len = len, .err = err, .errlen = errlen };
    kyso_buf o = { 0 };
    size_t sig_at = 0;
    *out = NULL;
    err[0] = '\0';
    u.contents_cap = cms_sign_size_bound(r->signer);
    int rc = open_checked(&u);
    if (rc == 0)
        rc = build_objects(&u);
    if (rc == 0 && write_update(&u, &o, &sig_at) != 0) {
        snprintf(err, errlen, "out of memory writing the update");
        rc = TOKEN_ECONFIG;
    }
    if (rc == 0)
        rc = seal_update(&u, &o, sig_at);
    if (rc == TOKEN_OK && r->lt)
        rc = add_lt(&u, &o);
    if (rc == TOKEN_OK && r->digests && fill_digests(&u, &o, r->digests) != 0) {
        snprintf(err, errlen, "cannot hash the document");
        rc = TOKEN_ECONFIG;
    }
    if (rc == TOKEN_OK) {
        *outlen = o.len;
        *out = (unsigned char *)buf_steal(&o);
        if (*out == NULL)
            rc = TOKEN_ECONFIG;
    }
    buf_free(&o);
    free(u.sig_der);
    EVP_MD_CTX_free(u.orig_md);
    pdfw_free(&u.objs);
    if (u.doc_open)
        pdf_doc_close(&u.d);
    return rc;
}
