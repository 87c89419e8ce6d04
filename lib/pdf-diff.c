/*
 * pdf-diff.c - what changed between a signed revision and the final
 * document, and whether each change is one a later signer may make.
 *
 * Objects are compared one by one, as the final cross-reference resolves
 * them, so it does not matter how an attacker arranged the incremental
 * updates (Shadow hide/replace, Incremental Saving Attack): what counts is
 * the document a viewer shows.  Each changed object is judged by the role
 * it had in the signed revision (catalog, AcroForm, page, field, ...);
 * anything without an allowed role is modified_after_signing.  New objects
 * matter only through a reference, so new references are judged where they
 * appear, and a reference the signed revision left dangling may not be
 * filled in later.  Stream dictionaries are compared as well as their
 * bytes.  Rules against overlays ("sneaky signatures", Shadow replace):
 * an empty signature field's widget may change only in the update that
 * signs it, and never moves; a new signature field must be a widget
 * without actions that is signed or drawn nowhere; a form field's
 * appearance may change only with its value; an appearance stream may
 * change in place only if nothing but fields and widgets uses it; Info,
 * XMP metadata and DSS may change only if nothing drawn uses them; the
 * catalog may gain a first AcroForm of signature fields but not point to
 * another one.  Never prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pdf-sig.h"

enum role {
    ROLE_NONE = 0, ROLE_CATALOG, ROLE_ACROFORM, ROLE_FIELDS, ROLE_PAGE, ROLE_ANNOTS,
    ROLE_SIG_EMPTY, ROLE_SIG_SIGNED, ROLE_FORM_FIELD, ROLE_APPEARANCE, ROLE_INFO, ROLE_DSS,
    ROLE_METADATA
};

#define REF_ANY     1   /* some S object refers to the id */
#define REF_FOREIGN 2   /* an S object other than a field, widget or appearance does */
#define REF_RENDER  4   /* an S object other than the catalog, Info, DSS, metadata does */

#define CHG_APPEARANCE 1    /* an appearance stream changed in place */
#define CHG_LENIENT    2    /* an Info, DSS or metadata object changed */

struct diff {
    pdf_doc *s, *f;
    int p;                      /* DocMDP permission, 1..3 */
    int gens;                   /* the file has objects of generation > 0 */
    size_t max_depth;
    pdf_fields ff;              /* the fields of F, once asked (ff_state 1) */
    int ff_state;               /* 0 not collected, 1 collected, -1 failed */
    unsigned char *role;        /* per object id of S */
    unsigned char *referenced;  /* REF_* flags per id, from S objects */
    unsigned char *changed;     /* CHG_* flags per id of S, judged at the end */
    unsigned char *added;       /* ids that exist in F only */
    int *owner;                 /* per appearance id of S: its terminal field's id, or 0 */
    char *detail;
    size_t dlen;
};

/* ----- small helpers ----------------------------------------------------- */

/* unparse_copy - malloc'd unparse of OH (resolved when RESOLVE), or NULL. */
static char *unparse_copy(pdf_doc *d, qpdf_oh oh, int resolve)
{
    const char *u = resolve ? qpdf_oh_unparse_resolved(d->q, oh) : qpdf_oh_unparse(d->q, oh);
    return strdup(u ? u : "");
}

/* same_value - do S's A and F's B unparse identically (not resolved)? */
static int same_value(struct diff *x, qpdf_oh a, qpdf_oh b)
{
    char *ua = unparse_copy(x->s, a, 0);
    const char *ub = qpdf_oh_unparse(x->f->q, b);
    int same = ua && ub && strcmp(ua, ub) == 0;
    free(ua);
    return same;
}

/* set_role - give S object OH role R (direct objects have none). */
static void set_role(struct diff *x, qpdf_oh oh, enum role r)
{
    if (!qpdf_oh_is_indirect(x->s->q, oh))
        return;
    int id = qpdf_oh_get_object_id(x->s->q, oh);
    if (id > 0 && id < x->s->size && x->role[id] == ROLE_NONE)
        x->role[id] = (unsigned char)r;
}

/* mark_refs - note the object id of every "N G R" in the unparsed text U
 * as referenced.  Text inside strings may match too; that only makes the
 * check stricter. */
static void mark_refs(struct diff *x, const char *u, enum role from)
{
    unsigned char flag = REF_ANY;
    if (from != ROLE_FORM_FIELD && from != ROLE_SIG_EMPTY && from != ROLE_SIG_SIGNED &&
        from != ROLE_APPEARANCE)
        flag |= REF_FOREIGN;
    if (from != ROLE_CATALOG && from != ROLE_INFO && from != ROLE_DSS && from != ROLE_METADATA)
        flag |= REF_RENDER;
    for (const char *p = u; *p; p++) {
        if (*p < '0' || *p > '9' || (p > u && p[-1] >= '0' && p[-1] <= '9'))
            continue;
        char *e;
        long id = strtol(p, &e, 10);
        if (*e != ' ' || e[1] < '0' || e[1] > '9')
            continue;
        strtol(e + 1, &e, 10);
        if (e[0] != ' ' || e[1] != 'R' || (e[2] && e[2] != ' ' && e[2] != ']' &&
                                          e[2] != '>' && e[2] != '/' && e[2] != '\n'))
            continue;
        if (id > 0 && id < x->f->size)
            x->referenced[id] |= flag;
    }
}

/* ----- roles of the signed revision --------------------------------------- */

/* set_owner - OH (an appearance of S) belongs to the field FIELD (0: a
 * direct field, whose appearance may then never change in place). */
static void set_owner(struct diff *x, qpdf_oh oh, int field)
{
    int id = qpdf_oh_is_indirect(x->s->q, oh) ? qpdf_oh_get_object_id(x->s->q, oh) : 0;
    if (id > 0 && id < x->s->size && x->owner[id] == 0)
        x->owner[id] = field;
}

/* roles_of_appearance - appearance streams of widget or field W (of the
 * terminal field FIELD) get ROLE_APPEARANCE and FIELD as their owner. */
static void roles_of_appearance(struct diff *x, qpdf_oh w, int field)
{
    pdf_doc *s = x->s;
    qpdf_oh ap = pdf_get(s->q, w, "/AP");
    static const char *const k[] = {"/N", "/R", "/D"};
    set_role(x, ap, ROLE_APPEARANCE);
    set_owner(x, ap, field);
    for (size_t i = 0; i < 3; i++) {
        qpdf_oh st = pdf_get(s->q, ap, k[i]);
        set_role(x, st, ROLE_APPEARANCE);
        set_owner(x, st, field);
        if (qpdf_oh_is_dictionary(s->q, st) && !qpdf_oh_is_stream(s->q, st)) {
            qpdf_oh_begin_dict_key_iter(s->q, st);
            char keys[8][64];
            int n = 0;
            while (qpdf_oh_dict_more_keys(s->q) && n < 8)
                snprintf(keys[n++], sizeof keys[0], "%s", qpdf_oh_dict_next_key(s->q));
            for (int j = 0; j < n; j++) {
                set_role(x, pdf_get(s->q, st, keys[j]), ROLE_APPEARANCE);
                set_owner(x, pdf_get(s->q, st, keys[j]), field);
            }
        }
    }
}

/* roles_of_fields - terminal fields, their widgets and appearances. */
static int roles_of_fields(struct diff *x, size_t max_depth)
{
    pdf_fields fs;
    char err[256];
    if (pdf_fields_collect(x->s, max_depth, 100000, &fs, err, sizeof err) < 0)
        return -1;
    for (size_t i = 0; i < fs.n; i++) {
        pdf_field *f = &fs.f[i];
        enum role r = !f->is_sig ? ROLE_FORM_FIELD
                    : f->has_value ? ROLE_SIG_SIGNED : ROLE_SIG_EMPTY;
        set_role(x, f->oh, r);
        if (r != ROLE_SIG_SIGNED)
            roles_of_appearance(x, f->oh, f->objid);
        qpdf_oh kids = pdf_get(x->s->q, f->oh, "/Kids");
        int n = qpdf_oh_is_array(x->s->q, kids) ? qpdf_oh_get_array_n_items(x->s->q, kids) : 0;
        for (int k = 0; k < n && k < 1000; k++) {
            qpdf_oh w = qpdf_oh_get_array_item(x->s->q, kids, k);
            set_role(x, w, r);
            if (r != ROLE_SIG_SIGNED)
                roles_of_appearance(x, w, f->objid);
        }
    }
    pdf_fields_free(&fs);
    return 0;
}

/* is_plain_dict - a dictionary that is not a stream. */
static int is_plain_dict(pdf_doc *d, qpdf_oh oh)
{
    return qpdf_oh_is_dictionary(d->q, oh) && !qpdf_oh_is_stream(d->q, oh);
}

/* roles_lenient - Info, XMP metadata and DSS may change freely, so they
 * get their role last (an object that is also a page or field keeps that
 * role) and only when they are of their own kind; whether anything that
 * is drawn uses them is judged at the end (REF_RENDER). */
static void roles_lenient(struct diff *x, qpdf_oh root)
{
    pdf_doc *s = x->s;
    qpdf_oh info = pdf_get(s->q, qpdf_get_trailer(s->q), "/Info");
    if (is_plain_dict(s, info))
        set_role(x, info, ROLE_INFO);
    qpdf_oh md = pdf_get(s->q, root, "/Metadata");
    if (qpdf_oh_is_stream(s->q, md) &&
        (qpdf_oh_is_name_and_equals(s->q, pdf_get(s->q, md, "/Type"), "/Metadata") ||
         qpdf_oh_is_name_and_equals(s->q, pdf_get(s->q, md, "/Subtype"), "/XML")))
        set_role(x, md, ROLE_METADATA);
    qpdf_oh dss = pdf_get(s->q, root, "/DSS");
    if (!is_plain_dict(s, dss))
        return;
    set_role(x, dss, ROLE_DSS);
    static const char *const dk[] = {"/VRI", "/Certs", "/OCSPs", "/CRLs"};
    for (size_t i = 0; i < 4; i++) {
        qpdf_oh v = pdf_get(s->q, dss, dk[i]);
        if (qpdf_oh_is_array(s->q, v) || is_plain_dict(s, v))
            set_role(x, v, ROLE_DSS);
    }
}

/* roles_collect - the role of each object of the signed revision. */
static int roles_collect(struct diff *x, size_t max_depth)
{
    pdf_doc *s = x->s;
    qpdf_oh root = qpdf_get_root(s->q);
    set_role(x, root, ROLE_CATALOG);
    qpdf_oh form = pdf_get(s->q, root, "/AcroForm");
    set_role(x, form, ROLE_ACROFORM);
    set_role(x, pdf_get(s->q, form, "/Fields"), ROLE_FIELDS);
    int npages = qpdf_get_num_pages(s->q);
    if (npages < 0)
        return -1;
    for (int i = 0; i < npages; i++) {
        qpdf_oh pg = qpdf_get_page_n(s->q, (size_t)i);
        set_role(x, pg, ROLE_PAGE);
        set_role(x, pdf_get(s->q, pg, "/Annots"), ROLE_ANNOTS);
    }
    if (roles_of_fields(x, max_depth) < 0)
        return -1;
    roles_lenient(x, root);
    return 0;
}

/* ----- judging one change ------------------------------------------------- */

/* widget_invisible - is the widget IT drawn nowhere (a zero-size /Rect, or
 * the Hidden or NoView flag)? */
static int widget_invisible(pdf_doc *f, qpdf_oh it)
{
    qpdf_oh fl = pdf_get(f->q, it, "/F");
    if (qpdf_oh_is_integer(f->q, fl) && (qpdf_oh_get_int_value(f->q, fl) & (2 | 32)))
        return 1;
    qpdf_oh r = pdf_get(f->q, it, "/Rect");
    if (!qpdf_oh_is_array(f->q, r) || qpdf_oh_get_array_n_items(f->q, r) != 4)
        return 0;
    double v[4];
    for (int i = 0; i < 4; i++) {
        qpdf_oh n = qpdf_oh_get_array_item(f->q, r, i);
        if (!qpdf_oh_is_number(f->q, n))
            return 0;
        v[i] = qpdf_oh_get_numeric_value(f->q, n);
    }
    return v[0] == v[2] || v[1] == v[3];
}

/* in_final_fields - is widget IT of F, or its /Parent, a signature field of
 * F's /Fields tree (so that check_all verifies its value)? */
static int in_final_fields(struct diff *x, qpdf_oh it)
{
    pdf_doc *f = x->f;
    char err[256];
    if (x->ff_state == 0)
        x->ff_state = pdf_fields_collect(f, x->max_depth, 100000, &x->ff, err, sizeof err) < 0
                          ? -1 : 1;
    if (x->ff_state < 0)
        return 0;
    int id = qpdf_oh_get_object_id(f->q, it);
    int parent = qpdf_oh_get_object_id(f->q, pdf_get(f->q, it, "/Parent"));
    for (size_t i = 0; i < x->ff.n; i++)
        if (x->ff.f[i].is_sig && x->ff.f[i].objid > 0 &&
            (x->ff.f[i].objid == id || x->ff.f[i].objid == parent))
            return 1;
    return 0;
}

/* new_item_allowed - may item IT (of F) be added to a /Fields or /Annots
 * array (ANNOTS)?  A signature field or its widget, without actions, that
 * is signed in the same document or drawn nowhere: an unsigned visible one
 * would be an overlay in disguise.  Other annotations only with P = 3. */
static int new_item_allowed(struct diff *x, qpdf_oh it, int annots)
{
    pdf_doc *f = x->f;
    qpdf_oh parent = pdf_get(f->q, it, "/Parent");
    qpdf_oh ft = pdf_get(f->q, it, "/FT");
    if (!qpdf_oh_is_name(f->q, ft))
        ft = pdf_get(f->q, parent, "/FT");
    qpdf_oh st = pdf_get(f->q, it, "/Subtype");
    if (qpdf_oh_is_name_and_equals(f->q, ft, "/Sig")) {
        if (annots && !qpdf_oh_is_name_and_equals(f->q, st, "/Widget"))
            return 0;
        if (qpdf_oh_has_key(f->q, it, "/A") || qpdf_oh_has_key(f->q, it, "/AA"))
            return 0;
        qpdf_oh v = pdf_get(f->q, it, "/V");
        if (qpdf_oh_is_null(f->q, v))
            v = pdf_get(f->q, parent, "/V");
        /* a visible widget must be a field the verifier checks: one only in
         * /Annots, with any dictionary as its value, would show a signature
         * nobody verified */
        return !annots || widget_invisible(f, it) ||
               (is_plain_dict(f, v) && in_final_fields(x, it));
    }
    return annots && x->p == 3 && qpdf_oh_is_name(f->q, st) &&
           !qpdf_oh_is_name_and_equals(f->q, st, "/Widget");
}

/* array_grows - does F's array B hold every item of S's array A, in order,
 * with only allowed items added?  A or B may be null (empty). */
static int array_grows(struct diff *x, qpdf_oh a, qpdf_oh b, int annots)
{
    int na = qpdf_oh_is_array(x->s->q, a) ? qpdf_oh_get_array_n_items(x->s->q, a) : 0;
    int nb = qpdf_oh_is_array(x->f->q, b) ? qpdf_oh_get_array_n_items(x->f->q, b) : 0;
    int i = 0;
    for (int j = 0; j < nb; j++) {
        qpdf_oh it = qpdf_oh_get_array_item(x->f->q, b, j);
        if (i < na && same_value(x, qpdf_oh_get_array_item(x->s->q, a, i), it)) {
            i++;
            continue;
        }
        if (!new_item_allowed(x, it, annots))
            return 0;
    }
    return i == na;
}

/* dict_keys - the keys of dictionary OH of D (at most MAX) into keys. */
static int dict_keys(pdf_doc *d, qpdf_oh oh, char keys[][64], int max, int n)
{
    if (!qpdf_oh_is_dictionary(d->q, oh))
        return n;
    qpdf_oh_begin_dict_key_iter(d->q, oh);
    while (qpdf_oh_dict_more_keys(d->q)) {
        const char *k = qpdf_oh_dict_next_key(d->q);
        if (strlen(k) >= 60)
            return -1;      /* no PDF key is that long; do not compare a prefix */
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= strcmp(keys[i], k) == 0;
        if (!dup && n < max)
            snprintf(keys[n++], 64, "%.60s", k);
        else if (!dup)
            return -1;
    }
    return n;
}

/* key_in - is K one of the NULL-terminated LIST? */
static int key_in(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(k, *list) == 0)
            return 1;
    return 0;
}

/* dict_changes_allowed - do dictionaries A (S) and B (F) differ only in
 * keys of ALLOWED?  Keys in GROW hold arrays that may only grow.  On
 * failure the first offending key goes to bad (64 bytes). */
static int dict_changes_allowed(struct diff *x, qpdf_oh a, qpdf_oh b,
                                const char *const *allowed, const char *const *grow,
                                int annots, char *bad)
{
    char keys[128][64];
    int n = dict_keys(x->s, a, keys, 128, 0);
    if (n >= 0)
        n = dict_keys(x->f, b, keys, 128, n);
    if (n < 0) {
        snprintf(bad, 64, "(too many keys)");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        qpdf_oh va = pdf_get(x->s->q, a, keys[i]);
        qpdf_oh vb = pdf_get(x->f->q, b, keys[i]);
        if (same_value(x, va, vb))
            continue;
        if (grow && key_in(keys[i], grow) && array_grows(x, va, vb, annots))
            continue;
        if (allowed && key_in(keys[i], allowed))
            continue;
        snprintf(bad, 64, "%.60s", keys[i]);
        return 0;
    }
    return 1;
}

/* readonly_only - did field flags /Ff change only by gaining ReadOnly
 * (bit 1), as a signature's /Lock asks?  1 yes (or unchanged), 0 no. */
static int readonly_only(struct diff *x, qpdf_oh a, qpdf_oh b, char *bad)
{
    qpdf_oh fa = pdf_get(x->s->q, a, "/Ff"), fb = pdf_get(x->f->q, b, "/Ff");
    long long va = qpdf_oh_is_integer(x->s->q, fa) ? qpdf_oh_get_int_value(x->s->q, fa) : 0;
    long long vb = qpdf_oh_is_integer(x->f->q, fb) ? qpdf_oh_get_int_value(x->f->q, fb) : 0;
    if (!qpdf_oh_is_null(x->f->q, fb) && !qpdf_oh_is_integer(x->f->q, fb))
        vb = -1;
    if (vb == va || vb == (va | 1))
        return 1;
    snprintf(bad, 64, "/Ff (field flags beyond ReadOnly)");
    return 0;
}

/* field_value - the /V of field or widget OH, or of its parent field. */
static qpdf_oh field_value(pdf_doc *d, qpdf_oh oh)
{
    qpdf_oh v = pdf_get(d->q, oh, "/V");
    return qpdf_oh_is_null(d->q, v) ? pdf_get(d->q, pdf_get(d->q, oh, "/Parent"), "/V") : v;
}

/* appearance_follows_value - a field's appearance may change only with
 * its value: a new look for the same value is the Shadow "replace" attack
 * (the signed appearance said one thing, the new one says another). */
static int appearance_follows_value(struct diff *x, qpdf_oh a, qpdf_oh b, char *bad)
{
    if (!same_value(x, field_value(x->s, a), field_value(x->f, b)))
        return 1;
    if (same_value(x, pdf_get(x->s->q, a, "/AP"), pdf_get(x->f->q, b, "/AP")) &&
        same_value(x, pdf_get(x->s->q, a, "/AS"), pdf_get(x->f->q, b, "/AS")))
        return 1;
    snprintf(bad, 64, "/AP changed, the value did not");
    return 0;
}

/* catalog_acroform_ok - may the catalog's /AcroForm go from S's A to F's
 * B?  Unchanged, always.  Otherwise, with P >= 2: a first AcroForm holding
 * only signature fields and bookkeeping, or a direct one changed as an
 * AcroForm object may be.  Another indirect AcroForm is never judged by
 * the old one's rules, so it is refused. */
static int catalog_acroform_ok(struct diff *x, qpdf_oh a, qpdf_oh b, char *bad)
{
    static const char *const form[] = {"/SigFlags", "/DR", "/DA", NULL};
    static const char *const fields[] = {"/Fields", NULL};
    qpdf_oh fa = qpdf_oh_get_key(x->s->q, a, "/AcroForm");
    qpdf_oh fb = qpdf_oh_get_key(x->f->q, b, "/AcroForm");
    if (same_value(x, fa, fb))
        return 1;
    snprintf(bad, 64, "/AcroForm");
    if (x->p == 1 || !is_plain_dict(x->f, fb))
        return 0;
    if (qpdf_oh_is_null(x->s->q, fa))
        return dict_changes_allowed(x, qpdf_oh_new_dictionary(x->s->q), fb, form, fields, 0,
                                    bad);
    if (qpdf_oh_is_indirect(x->s->q, fa) || qpdf_oh_is_indirect(x->f->q, fb))
        return 0;
    return dict_changes_allowed(x, fa, fb, form, fields, 0, bad);
}

/* change_allowed - may S object A become F object B, given its ROLE? */
static int change_allowed(struct diff *x, enum role r, qpdf_oh a, qpdf_oh b, char *bad)
{
    static const char *const cat[] = {"/DSS", "/Extensions", "/Metadata", "/Version",
                                      "/AcroForm", NULL};
    static const char *const form[] = {"/SigFlags", "/DR", "/DA", NULL};
    static const char *const fields[] = {"/Fields", NULL};
    static const char *const annots[] = {"/Annots", NULL};
    static const char *const sig_fixed[] = {"/FT", "/T", "/Parent", "/Kids", "/Lock",
                                            "/Rect", NULL};
    static const char *const filling[] = {"/V", "/AP", "/AS", "/Ff", NULL};
    switch (r) {
    case ROLE_INFO: case ROLE_DSS: case ROLE_METADATA:
        return 1;   /* never rendered: signers update dates and LTV data */
    case ROLE_CATALOG:
        return catalog_acroform_ok(x, a, b, bad) &&
               dict_changes_allowed(x, a, b, cat, NULL, 0, bad);
    case ROLE_ACROFORM:
        return x->p > 1 && dict_changes_allowed(x, a, b, form, fields, 0, bad);
    case ROLE_FIELDS:
        return x->p > 1 && array_grows(x, a, b, 0);
    case ROLE_ANNOTS:
        return x->p > 1 && array_grows(x, a, b, 1);
    case ROLE_PAGE:
        return x->p > 1 && dict_changes_allowed(x, a, b, NULL, annots, 1, bad);
    case ROLE_SIG_EMPTY: {
        static const char *const lock[] = {"/Ff", NULL};
        if (x->p > 1 && dict_changes_allowed(x, a, b, lock, NULL, 0, bad) &&
            readonly_only(x, a, b, bad))
            return 1;   /* made read-only by another signature's /Lock */
        bad[0] = '\0';
        /* only the update that signs the field may touch its widget */
        qpdf_oh v = pdf_get(x->f->q, b, "/V");
        if (qpdf_oh_is_null(x->f->q, v))    /* a widget: the value is on its field */
            v = pdf_get(x->f->q, pdf_get(x->f->q, b, "/Parent"), "/V");
        if (x->p == 1 || qpdf_oh_is_null(x->f->q, v)) {
            snprintf(bad, 64, "an empty signature field changed without being signed");
            return 0;
        }
        /* every key may change except those that define the field */
        char keys[128][64];
        int n = dict_keys(x->s, a, keys, 128, 0);
        n = n < 0 ? n : dict_keys(x->f, b, keys, 128, n);
        for (int i = 0; i < n; i++)
            if (key_in(keys[i], sig_fixed) &&
                !same_value(x, pdf_get(x->s->q, a, keys[i]),
                            pdf_get(x->f->q, b, keys[i]))) {
                snprintf(bad, 64, "%.60s", keys[i]);
                return 0;
            }
        return n >= 0 && readonly_only(x, a, b, bad);
    }
    case ROLE_FORM_FIELD:
        return x->p > 1 && dict_changes_allowed(x, a, b, filling, NULL, 0, bad) &&
               readonly_only(x, a, b, bad) && appearance_follows_value(x, a, b, bad);
    case ROLE_APPEARANCE:
        return x->p > 1;
    case ROLE_SIG_SIGNED: case ROLE_NONE:
        break;
    }
    return 0;
}

/* ----- the comparison ----------------------------------------------------- */

/* is_structure - is A a cross-reference or object stream?  They name
 * /Root and /Info like a trailer does, but nothing draws them. */
static int is_structure(pdf_doc *d, qpdf_oh a)
{
    qpdf_oh t = pdf_get(d->q, a, "/Type");
    return qpdf_oh_is_stream(d->q, a) && (qpdf_oh_is_name_and_equals(d->q, t, "/XRef") ||
                                          qpdf_oh_is_name_and_equals(d->q, t, "/ObjStm"));
}

/* object_differs - 1 when S object A and F object B differ, 0 when equal,
 * -1 on a read error.  Streams compare dictionary and raw data. */
static int object_differs(struct diff *x, qpdf_oh a, qpdf_oh b, enum role r)
{
    int stream = qpdf_oh_is_stream(x->s->q, a);
    if (stream != qpdf_oh_is_stream(x->f->q, b))
        return 1;
    /* a stream unparses as its reference: compare its dictionary */
    char *ua = unparse_copy(x->s, stream ? qpdf_oh_get_dict(x->s->q, a) : a, 1);
    if (ua == NULL)
        return -1;
    if (!is_structure(x->s, a))
        mark_refs(x, ua, r);
    const char *ub = qpdf_oh_unparse_resolved(x->f->q, stream ? qpdf_oh_get_dict(x->f->q, b) : b);
    int differ = !ub || strcmp(ua, ub) != 0;
    free(ua);
    if (differ || !stream)
        return differ;
    unsigned char *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    QPDF_BOOL fa, fb;
    if (qpdf_oh_get_stream_data(x->s->q, a, qpdf_dl_none, &fa, &da, &la) != QPDF_SUCCESS ||
        qpdf_oh_get_stream_data(x->f->q, b, qpdf_dl_none, &fb, &db, &lb) != QPDF_SUCCESS) {
        free(da);
        free(db);
        return -1;
    }
    differ = la != lb || (la && memcmp(da, db, la) != 0);
    free(da);
    free(db);
    return differ;
}

static const char *const role_names[] = {
    "object", "catalog", "AcroForm", "field list", "page", "annotation list",
    "empty signature field", "signed signature field", "form field", "appearance",
    "document information", "DSS", "XMP metadata"
};

/* describe_object - a word for S object A with role R: its role, else its
 * /Type, else "content stream" or "object". */
static void describe_object(struct diff *x, enum role r, qpdf_oh a, char what[64])
{
    qpdf_oh t = pdf_get(x->s->q, a, "/Type");
    if (r != ROLE_NONE)
        snprintf(what, 64, "%s", role_names[r]);
    else if (qpdf_oh_is_name(x->s->q, t))
        snprintf(what, 64, "%.60s", qpdf_oh_get_name(x->s->q, t) + 1);
    else
        snprintf(what, 64, "%s", qpdf_oh_is_stream(x->s->q, a) ? "stream" : "object");
}

/* compare_id - judge object ID (generation GEN); 0 allowed, 1 not, -1 error. */
static int compare_id(struct diff *x, int id, int gen)
{
    qpdf_oh a = id < x->s->size ? qpdf_get_object_by_id(x->s->q, id, gen) : 0;
    qpdf_oh b = id < x->f->size ? qpdf_get_object_by_id(x->f->q, id, gen) : 0;
    int in_s = a && !qpdf_oh_is_null(x->s->q, a);
    int in_f = b && !qpdf_oh_is_null(x->f->q, b);
    if (!in_s) {
        if (id < x->f->size)        /* ADDED has F's size, the loop goes to the larger */
            x->added[id] = (unsigned char)in_f;
        if (b)
            qpdf_oh_release(x->f->q, b);
        return 0;
    }
    if (!in_f) {
        snprintf(x->detail, x->dlen, "object %d was removed after signing", id);
        return 1;
    }
    char bad[64] = "";
    enum role r = (enum role)x->role[id];
    int d = object_differs(x, a, b, r);
    if (d > 0 && r == ROLE_APPEARANCE)  /* judged once every reference is known */
        x->changed[id] |= CHG_APPEARANCE;
    if (d > 0 && (r == ROLE_INFO || r == ROLE_DSS || r == ROLE_METADATA))
        x->changed[id] |= CHG_LENIENT;
    if (d <= 0 || change_allowed(x, r, a, b, bad)) {
        qpdf_oh_release(x->f->q, b);
        return d < 0 ? -1 : 0;
    }
    char what[64];
    describe_object(x, r, a, what);
    snprintf(x->detail, x->dlen, "object %d (%s) changed after signing%s%s%s", id,
             what, bad[0] ? ": " : "", bad, x->p == 1 ? " (DocMDP P=1)" : "");
    return 1;
}

/* present - does ID exist under generation G in D?  The handle is released
 * (the caller's handles of D stay valid). */
static int present(pdf_doc *d, int id, int g)
{
    if (id >= d->size)
        return 0;
    qpdf_oh h = qpdf_get_object_by_id(d->q, id, g);
    int is = !qpdf_oh_is_null(d->q, h);
    qpdf_oh_release(d->q, h);
    return is;
}

/* first_gen - the generation (0..3) under which ID exists in S or F, or 0
 * (at once when the file has no object of another generation). */
static int first_gen(struct diff *x, int id)
{
    for (int g = 0; x->gens && g < 4; g++)
        if (present(x->s, id, g) || present(x->f, id, g))
            return g;
    return 0;
}

/* appearance_change_ok - may appearance ID, changed in place, change?  Only
 * with the value of its field: a fillable field (not a pushbutton) or an
 * empty signature field whose /V changed in the same comparison; a blank
 * appearance of an empty signature field, or a button's logo, redrawn in
 * place would otherwise show anything under the signature. */
static int appearance_change_ok(struct diff *x, int id)
{
    int fid = x->owner[id];
    if (fid <= 0 || fid >= x->s->size || fid >= x->f->size ||
        (x->role[fid] != ROLE_FORM_FIELD && x->role[fid] != ROLE_SIG_EMPTY))
        return 0;
    qpdf_oh a = qpdf_get_object_by_id(x->s->q, fid, 0), b = qpdf_get_object_by_id(x->f->q, fid, 0);
    qpdf_oh ft = pdf_get(x->s->q, a, "/FT"), ff = pdf_get(x->s->q, a, "/Ff");
    int push = qpdf_oh_is_name_and_equals(x->s->q, ft, "/Btn") &&
               qpdf_oh_is_integer(x->s->q, ff) && (qpdf_oh_get_int_value(x->s->q, ff) & 65536);
    int ok = !push && !same_value(x, pdf_get(x->s->q, a, "/V"), pdf_get(x->f->q, b, "/V"));
    qpdf_oh_release(x->f->q, b);
    return ok;
}

int pdf_diff_check(pdf_doc *s, pdf_doc *f, int p, size_t max_depth, int gens,
                   char *detail, size_t dlen)
{
    struct diff x = {s, f, p, gens, max_depth, {0}, 0, calloc((size_t)s->size, 1),
                     calloc((size_t)f->size, 1),
                     calloc((size_t)s->size, 1), calloc((size_t)f->size, 1),
                     calloc((size_t)s->size, sizeof(int)), detail, dlen};
    int rc = -1;
    detail[0] = '\0';
    if (!x.role || !x.referenced || !x.changed || !x.added || !x.owner) {
        snprintf(detail, dlen, "out of memory");
        goto out;
    }
    if (!same_value(&x, pdf_get(s->q, qpdf_get_trailer(s->q), "/Root"),
                    pdf_get(f->q, qpdf_get_trailer(f->q), "/Root"))) {
        snprintf(detail, dlen, "the document catalog was replaced after signing");
        rc = 1;
        goto out;
    }
    if (roles_collect(&x, max_depth) < 0) {
        snprintf(detail, dlen, "cannot read the form fields or pages of the signed revision");
        goto out;
    }
    rc = 0;
    /* handles of F stay valid for the caller: release only our own */
    int max = s->size > f->size ? s->size : f->size;
    for (int id = 1; id < max && rc == 0; id++) {
        rc = compare_id(&x, id, first_gen(&x, id));
        qpdf_oh_release_all(s->q);
    }
    for (int id = 1; id < f->size && rc == 0; id++) {
        if (x.added[id] && x.referenced[id]) {
            snprintf(detail, dlen, "object %d was referenced but missing when signed, "
                     "and was added later", id);
            rc = 1;
        } else if (id < s->size && (x.changed[id] & CHG_APPEARANCE) &&
                   (x.referenced[id] & REF_FOREIGN)) {
            snprintf(detail, dlen, "object %d, the appearance of a field, changed after signing "
                     "and is also used outside form fields (page content or elsewhere)", id);
            rc = 1;
        } else if (id < s->size && (x.changed[id] & CHG_APPEARANCE) &&
                   !appearance_change_ok(&x, id)) {
            snprintf(detail, dlen, "object %d, the appearance of a field, was redrawn in place "
                     "after signing while the field's value stayed as it was", id);
            rc = 1;
        } else if (id < s->size && (x.changed[id] & CHG_LENIENT) &&
                   (x.referenced[id] & REF_RENDER)) {
            snprintf(detail, dlen, "object %d (%s) changed after signing and is also used by "
                     "what the pages draw", id, role_names[x.role[id]]);
            rc = 1;
        }
    }
    if (rc == 0 && (pdf_doc_check(s, detail, dlen) < 0 || pdf_doc_check(f, detail, dlen) < 0))
        rc = -1;
out:
    if (x.ff_state > 0)
        pdf_fields_free(&x.ff);
    free(x.role);
    free(x.referenced);
    free(x.changed);
    free(x.added);
    free(x.owner);
    return rc;
}
