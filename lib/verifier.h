/*
 * verifier.h - the verification context: trust material, limits, algorithm
 * policy and certificate-class rules shared by every check of one run (the
 * CLI) or one configuration generation (the milter).  Read-only once built,
 * so several threads may verify with the same context.
 */
#ifndef KYSO_VERIFIER_H
#define KYSO_VERIFIER_H

#include <stddef.h>
#include <time.h>
#include "result.h"

typedef struct kyso_trust kyso_trust;           /* trust.h */
typedef struct kyso_class_rules kyso_class_rules; /* cert-class.h */
typedef struct kyso_vcache kyso_vcache;         /* vcache.h */
typedef struct kyso_revcache kyso_revcache;     /* revcache.h */
typedef struct kyso_ocsp_table kyso_ocsp_table; /* ocsp.h */

typedef struct kyso_limits {
    size_t max_doc_size;        /* bytes of one decoded document (default 64 MiB) */
    size_t max_message_size;    /* bytes of a whole message (default 100 MiB) */
    size_t max_parts;           /* MIME parts in a message (default 1000) */
    size_t max_depth;           /* MIME nesting, message/rfc822 included (default 20) */
    size_t max_pdf_objects;     /* /Size of a PDF (default 200000) */
    size_t max_signatures;      /* signatures in one PDF (default 50) */
    size_t max_cms_size;        /* bytes of one CMS blob (default 1 MiB) */
    size_t max_cms_certs;       /* certificates in one CMS (default 50) */
    size_t max_pdf_nesting;     /* form field tree depth (default 32) */
} kyso_limits;

typedef struct kyso_algo_policy {
    int min_rsa_bits;           /* default 2048 */
    int min_ec_bits;            /* default 256 */
    int allow_sha1;             /* default 0: SHA-1 digests are weak_algorithm */
} kyso_algo_policy;

typedef enum kyso_rev_missing {
    REVMISSING_UNKNOWN = 0,     /* no covering CRL: revocation_unknown (default) */
    REVMISSING_IGNORE           /* no covering CRL: treat as not revoked */
} kyso_rev_missing;

/* Online revocation sources, tried in the order of kyso_revconf.order. */
typedef enum kyso_rev_source {
    REVSRC_END = 0,
    REVSRC_OCSP,                /* OCSP: configured responder, else the AIA address */
    REVSRC_CRL                  /* CRLs from the certificate's distribution points */
} kyso_rev_source;

/* How revocation is checked (RevocationCheck and friends in
 * kyso-milter.conf(5)).  Embedded validation data and the configured CRL
 * files are always consulted first; ORDER lists the network sources. */
typedef struct kyso_revconf {
    kyso_rev_source order[3];   /* REVSRC_END-terminated; default OCSP, CRL */
    long timeout_ms;            /* RevocationTimeout: one transfer, default 5000 */
    long tolerance;             /* OCSPTolerance: seconds of clock skew, default 300 */
    size_t crl_max_size;        /* CRLMaxSize: bytes, default 32 MiB */
    size_t ocsp_max_size;       /* bytes of one OCSP answer, default 64 KiB */
    int nonce;                  /* OCSPNonce: send a nonce, default 1 */
    long fail_ttl;              /* seconds a failed fetch is remembered, default 60 */
    int refresh;                /* refresh cached CRLs in the background (daemon) */
    kyso_ocsp_table *responders;    /* owned; OCSPResponders, or NULL */
    kyso_revcache *cache;           /* one reference owned; NULL: no cache */
} kyso_revconf;

typedef struct kyso_verifier {
    kyso_trust *trust;                  /* owned */
    kyso_class_rules *classes;          /* owned; NULL means the defaults */
    kyso_limits lim;
    kyso_algo_policy algo;
    kyso_rev_missing rev_missing;
    time_t at;                          /* validation time; 0 means now */
    kyso_vcache *cache;                 /* owned; NULL: no verification cache */
    kyso_revconf rev;                   /* online revocation */
} kyso_verifier;

/* verifier_init - fills v with defaults, an empty trust store and an
 * empty revocation cache (10000 entries, 256 MiB).
 * Returns 0, or -1 when out of memory (v is then zeroed). */
int verifier_init(kyso_verifier *v);
/* verifier_free - releases what v owns; v is zeroed. */
void verifier_free(kyso_verifier *v);
/* verifier_time - the validation time: v->at, or now. */
time_t verifier_time(const kyso_verifier *v);

#endif
