/*
 * result.h - what verification found, per signature and per document.
 * A kyso_doc_result owns every string and array it points to; free it with
 * result_free_doc().  lib/ fills these, milter/ and the CLI print them.
 */
#ifndef KYSO_RESULT_H
#define KYSO_RESULT_H

#include <stddef.h>
#include <time.h>
#include "reasons.h"

typedef enum kyso_cert_class {
    CLASS_UNKNOWN = 0,
    CLASS_ORGANISATION,
    CLASS_PERSONAL
} kyso_cert_class;

typedef enum kyso_kind {
    KIND_OTHER = 0,     /* not a document we know */
    KIND_PDF,
    KIND_P7S,           /* detached CMS signature */
    KIND_P7M,           /* CMS SignedData with the content inside */
    KIND_MESSAGE,       /* RFC 5322 message */
    KIND_OFFICE,        /* OOXML / ODF (zip container) */
    KIND_OLE,           /* legacy MS Office (.doc, .xls) */
    KIND_TEXT
} kyso_kind;

typedef struct kyso_signer {
    char *subject;              /* RFC 2253, UTF-8; NULL when unknown */
    char *issuer;
    char *serial;               /* hex, upper case */
    char *email;                /* SAN rfc822Name or emailAddress, or NULL */
    kyso_cert_class cls;
    time_t not_before, not_after;
} kyso_signer;

typedef struct kyso_sig_result {
    kyso_reason reason;
    char *subfilter;            /* PDF SubFilter, or "cms", "smime" */
    char *field;                /* PDF field name, or NULL */
    char *coverage;             /* "whole", "revision 1 of 2", or NULL */
    char *detail;               /* one technical line for postmasters, or NULL */
    char signing_time[40];      /* ISO 8601 with offset, or "" */
    char timestamp_time[40];    /* genTime of the signature's own valid time-stamp
                                 * (RFC 3161 unsigned attribute), or "" */
    char poe_time[40];          /* proof-of-existence time the certificate was
                                 * checked at (a valid signature or document
                                 * time-stamp), or "" when checked at the
                                 * validation time */
    char *warning;              /* what is odd but not a failure (signingTime far
                                 * from the time-stamp), or NULL */
    int docmdp;                 /* 0: approval signature; 1..3: certification P */
    kyso_signer signer;
} kyso_sig_result;

typedef struct kyso_doc_result {
    char *name;                 /* file name or attachment name (UTF-8), or NULL */
    kyso_kind kind;
    kyso_reason reason;         /* the worst of its signatures and parts */
    char *detail;               /* why, for reasons found at document level */
    kyso_sig_result *sigs;
    size_t nsigs;
    struct kyso_doc_result *atts;   /* attachments (messages, p7m content) */
    size_t natts;
} kyso_doc_result;

/* kind_name - "pdf", "p7s", "p7m", "message", "office", "ole", "text", "other". */
const char *kind_name(kyso_kind k);

/* result_add_sig - appends a zeroed signature result and returns it, or NULL
 * when out of memory (the document is left unchanged). */
kyso_sig_result *result_add_sig(kyso_doc_result *d);
/* result_add_att - same for an attachment result. */
kyso_doc_result *result_add_att(kyso_doc_result *d);
/* result_set_detail - replaces *slot with a formatted copy; keeps the old
 * value when out of memory. */
void result_set_detail(char **slot, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* result_finish_doc - sets d->reason from its signatures and attachments
 * (reason_worse) unless a document-level failure is already set. A PDF
 * without signatures is REASON_UNSIGNED; call only after filling d. */
void result_finish_doc(kyso_doc_result *d);
/* result_copy_doc - DST (overwritten) becomes a deep copy of SRC.  Returns
 * 0, or -1 when out of memory (DST is then empty). */
int result_copy_doc(kyso_doc_result *dst, const kyso_doc_result *src);
/* result_free_doc - frees what d owns (not d itself); d is zeroed. */
void result_free_doc(kyso_doc_result *d);
void result_free_signer(kyso_signer *s);

/* result_to_json - the DESIGN.md JSON object for one file, one line, no
 * trailing newline; NULL when out of memory. Caller frees. */
char *result_to_json(const kyso_doc_result *d, const char *file);

struct kyso_buf;
/* result_json_append_doc - append to B the object result_to_json makes for
 * D, without the "file" key (the form nested in decision records).
 * Returns 0, or -1 when an append ran out of memory (b->oom is then set). */
int result_json_append_doc(struct kyso_buf *b, const kyso_doc_result *d);

#endif
