/*
 * pdf-sig.h - internal interface shared by the PDF signature checker
 * (pdf-sig.c) and the change analysis (pdf-diff.c): a strictly parsed PDF
 * (qpdf, recovery off) and its form fields.  Not for use outside lib/.
 */
#ifndef KYSO_PDF_SIG_H
#define KYSO_PDF_SIG_H

#include <stddef.h>
#include <qpdf/qpdf-c.h>

typedef struct pdf_doc {
    qpdf_data q;
    int size;                   /* trailer /Size */
} pdf_doc;

typedef struct pdf_field {
    qpdf_oh oh;                 /* the terminal field dictionary */
    int objid;                  /* 0 when the field is a direct object */
    char *name;                 /* fully qualified name, "a.b.c" */
    int is_sig;                 /* /FT /Sig, own or inherited */
    int has_value;              /* /V present and not null */
} pdf_field;

typedef struct pdf_fields {
    pdf_field *f;
    size_t n;
} pdf_fields;

/* pdf_doc_open - parse LEN bytes of BUF strictly (no recovery, no repair;
 * any warning counts as an error).  BUF must outlive the document.
 * Returns 0, or -1 with the parser's message in err (doc closed), or -2
 * when its /Size is over MAX_OBJECTS (MaxPdfObjects; doc closed). */
int pdf_doc_open(pdf_doc *d, const unsigned char *buf, size_t len,
                 size_t max_objects, char *err, size_t errlen);
/* pdf_doc_scan - parse every object of the cross-reference once, so that
 * damage anywhere (bad stream lengths, nesting beyond qpdf's limit, broken
 * objects no signature check touched) is found.  Stream data is not read.
 * Returns 0, or -1 with the parser's message in err. */
int pdf_doc_scan(pdf_doc *d, char *err, size_t errlen);

/* pdf_doc_check - 0 while no parse error or warning happened since open;
 * -1 with the message in err otherwise. */
int pdf_doc_check(pdf_doc *d, char *err, size_t errlen);
void pdf_doc_close(pdf_doc *d);

/* pdf_get - the value of KEY in dictionary (or stream dictionary) OH, or
 * a null object when OH is neither: asking qpdf for a key of something
 * else would raise a warning, and warnings mean a damaged file to us. */
qpdf_oh pdf_get(qpdf_data q, qpdf_oh oh, const char *key);

/* pdf_sig_docmdp - the DocMDP P (1..3) of signature dictionary SIG when
 * it carries a DocMDP transform (2 when P is absent or out of range), else
 * 0.  pdf_doc_certification - the same for the signature the catalog's
 * /Perms /DocMDP names (the certification), or 0 when not certified. */
int pdf_sig_docmdp(pdf_doc *d, qpdf_oh sig);
int pdf_doc_certification(pdf_doc *d);

/* pdf_fields_collect - every terminal field of the AcroForm tree, in
 * document order, at most MAX_DEPTH deep and MAX_FIELDS many.  A field
 * visited twice (a reference loop) or a tree too deep is an error.
 * Returns 0 (possibly with no field), or -1 with err filled. */
int pdf_fields_collect(pdf_doc *d, size_t max_depth, size_t max_fields,
                       pdf_fields *out, char *err, size_t errlen);
void pdf_fields_free(pdf_fields *fs);

/* pdf_diff_check - lib/pdf-diff.c: are the changes from the signed
 * revision S to the final document F allowed for a signature under DocMDP
 * permission P (1..3; 2 when the document is not certified)?  Allowed:
 * new signatures in signature fields (signed, or new fields drawn
 * nowhere) with their widgets and appearances, DSS/VRI, document
 * time-stamps, the AcroForm and /Annots bookkeeping they need, Info and
 * XMP metadata that nothing drawn uses, ReadOnly set by a /Lock, and form
 * filling (value with its appearance) when P >= 2; other annotations when
 * P = 3.  P = 1 allows only DSS, Info and metadata.  Returns 0 when
 * allowed, 1 when not (detail names the object and the change), -1 when
 * either document cannot be read.  GENS says whether the file defines any
 * object under a generation other than 0 (pdf_rev_find_generation over the
 * whole file); without, only generation 0 is looked up, which saves most
 * of the lookups of a sparse /Size. */
int pdf_diff_check(pdf_doc *s, pdf_doc *f, int p, size_t max_depth, int gens,
                   char *detail, size_t dlen);

#endif
