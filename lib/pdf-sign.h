/*
 * pdf-sign.h - applying the organisation signature to a PDF file as an
 * incremental update: earlier revisions (and the signatures over them)
 * stay byte for byte; the update adds the signature dictionary, its
 * widget and appearance, the changed page and form objects and a new
 * cross-reference section of the file's own kind.  Never prints.
 */
#ifndef KYSO_PDF_SIGN_H
#define KYSO_PDF_SIGN_H

#include <stddef.h>
#include <time.h>
#include "appearance.h"
#include "cms-sign.h"
#include "revocation.h"

struct kyso_verifier;

/* Where the appearance goes on the first page. */
typedef enum {
    PDFS_PLACE_AUTO,            /* the seal over the personal signature if both exist,
                                 * else top centre */
    PDFS_PLACE_TOP_CENTER,      /* Decree 30/2020 Annex I, BT 13.2 */
    PDFS_PLACE_TOP_RIGHT,       /* separate attached documents */
    PDFS_PLACE_INVISIBLE        /* no appearance at all */
} pdfs_place;

/* SHA-256 of the document before and after signing (for the audit). */
typedef struct pdf_sign_digests {
    unsigned char before[32], after[32];
} pdf_sign_digests;

typedef struct pdf_sign_req {
    const cms_signer *signer;
    ap_kind kind;               /* AP_SEAL (main document) or AP_ATTACHMENT */
    pdfs_place place;
    const char *org_name;       /* UTF-8, shown and put in /Name */
    const unsigned char *seal;  /* PNG bytes or NULL */
    size_t seal_len;
    const char *doc_number;     /* UTF-8 or NULL */
    const char *font_path;      /* NULL = AP_DEFAULT_FONT */
    time_t when;                /* the signing time, shown at +07:00 and put in /M */
    size_t max_objects;         /* refuse files whose /Size is larger */
    int lt;                     /* PAdES B-LT: add a DSS with the chain's certificates
                                 * and OCSP/CRL answers in a second update */
    const struct kyso_verifier *v;  /* for revocation_collect when lt */
    const kyso_revdata *lt_data;    /* embed this instead of collecting (tests,
                                     * answers fetched beforehand), or NULL */
    pdf_sign_digests *digests;      /* filled on success when not NULL, from the
                                     * one pass over the document the signature
                                     * makes anyway */
} pdf_sign_req;

/* The document cannot be signed: encrypted, damaged, certified with no
 * changes allowed (DocMDP P=1), or data after the last %%EOF.  (The other
 * failures are the TOKEN_* codes of token.h.) */
#define PDFS_EREFUSED   (-10)

/*
 * pdf_sign - sign LEN bytes of PDF as R says (with R->signer->tsa, PAdES
 * B-T: the /Contents room grows by the token's bound; with R->lt, B-LT:
 * a second update adds the DSS, and failing to get its validation data is
 * TOKEN_ETEMP).  On TOKEN_OK (0) *out
 * (malloc'd) and *outlen hold the signed file, which starts with the LEN
 * original bytes.  Otherwise PDFS_EREFUSED with the reason for the sender
 * in ERR, or a TOKEN_* code from the signing function (ERR says what to
 * do); *out is NULL then.  Thread-safe.
 */
int pdf_sign(const pdf_sign_req *r, const unsigned char *pdf, size_t len,
             unsigned char **out, size_t *outlen, char *err, size_t errlen);

/*
 * pdf_sign_add_dss - append to LEN bytes of PDF an incremental update whose
 * catalog /DSS (ISO 32000-2 12.8.4.3, PAdES B-LT) holds CERTS (may be
 * NULL) and the OCSP responses and CRLs of RD as streams, merged with the
 * DSS the file already has; with VRI_CONTENTS (the /Contents bytes of a
 * signature, VRI_LEN of them) a /VRI entry keyed by their SHA-1 names
 * them too.  Returns 0 with *out (malloc'd, starting with the LEN bytes),
 * PDFS_EREFUSED for a file that cannot take an update, or TOKEN_ECONFIG
 * when out of memory; ERR says why.
 */
int pdf_sign_add_dss(const unsigned char *pdf, size_t len, size_t max_objects,
                     STACK_OF(X509) *certs, const kyso_revdata *rd,
                     const unsigned char *vri_contents, size_t vri_len,
                     unsigned char **out, size_t *outlen, char *err, size_t errlen);

/* pdf_sign_time_text - WHEN as "dd/mm/yyyy HH:MM:SS +07:00" (Vietnam
 * time, whatever the TZ of the process) into OUT; pdf_sign_time_pdf - as
 * a PDF date "D:YYYYMMDDHHmmSS+07'00'". */
void pdf_sign_time_text(time_t when, char *out, size_t outlen);
void pdf_sign_time_pdf(time_t when, char *out, size_t outlen);

#endif
