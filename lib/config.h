/*
 * config.h - the kyso-milter configuration: OpenDKIM-style "Key value"
 * lines, keys case-insensitive, '#' comments, unknown keys and malformed
 * values fatal at load time with "FILE:LINE: what is wrong (the fix)".
 * A kyso_config is read-only once loaded, so every thread of one
 * configuration generation may read it without locks.  Never prints.
 */
#ifndef KYSO_CONFIG_H
#define KYSO_CONFIG_H

#include <stddef.h>
#include "verifier.h"

typedef enum kyso_action {
    ACTION_ACCEPT = 0,
    ACTION_REJECT,
    ACTION_TEMPFAIL,
    ACTION_QUARANTINE
} kyso_action;

typedef enum kyso_mode {
    MODE_OFF = 0,           /* not checked at all */
    MODE_MONITOR,           /* checked, logged and tagged, never refused */
    MODE_ENFORCE
} kyso_mode;

typedef enum kyso_require {
    REQUIRE_ANY = 0,        /* one valid signature of any class */
    REQUIRE_ORGANISATION,   /* a valid organisation signature */
    REQUIRE_PERSONAL_ORG    /* a valid personal and a valid organisation one */
} kyso_require;

typedef enum kyso_flow_rule {
    FLOW_BOTH = 0,          /* sender's domain and a recipient's domain match */
    FLOW_EITHER,            /* sender's domain or a recipient's domain matches */
    FLOW_SENDER,            /* sender's domain matches */
    FLOW_RECIPIENT          /* a recipient's domain matches */
} kyso_flow_rule;

/* A list of lower-case patterns.  Domain patterns: "gov.vn" (exactly that
 * domain), "*.gov.vn" or ".gov.vn" (any subdomain, not gov.vn itself), "*"
 * (any).  Address patterns: "user@domain", "*@domain", "*@*.domain",
 * "@domain" (= "*@domain"). */
typedef struct kyso_patterns {
    char **v;
    size_t n;
} kyso_patterns;

/* ModeTable: one "DOMAIN-PATTERN MODE" per line, in file order. */
typedef struct kyso_mode_entry {
    char *pattern;
    kyso_mode mode;
} kyso_mode_entry;

/* DocumentTypes bits: which documents must be signed (default DOC_PDF). */
#define DOC_PDF     0x01u   /* "pdf" */
#define DOC_P7S     0x02u   /* "p7s": detached CMS with its file */
#define DOC_P7M     0x04u   /* "p7m": CMS with the content inside */
#define DOC_OFFICE  0x08u   /* "office" (aliases docx xlsx pptx odt ods) */
#define DOC_OLE     0x10u   /* "ole" (aliases doc xls ppt) */

/* RevocationCheck: the network sources, in order.  Embedded validation
 * data and the CRLs files are consulted first in every mode but none. */
typedef enum kyso_revcheck {
    REVCHECK_CRL = 0,       /* "crl": CRL distribution points */
    REVCHECK_NONE,          /* "none": no revocation check at all (labs only) */
    REVCHECK_OCSP_CRL,      /* "ocsp,crl" (default): OCSP, then CRL distribution points */
    REVCHECK_CRL_OCSP,      /* "crl,ocsp" */
    REVCHECK_OCSP           /* "ocsp": OCSP only */
} kyso_revcheck;

typedef struct kyso_ocsp_table kyso_ocsp_table;    /* ocsp.h */

typedef enum kyso_sign_policy {
    SIGN_PERSONAL_FIRST = 0,    /* a PDF needs a valid personal signature first (R6) */
    SIGN_ANY                    /* every PDF is signed */
} kyso_sign_policy;

typedef struct kyso_config {
    char *path;                 /* file it was read from */
    /* daemon */
    char *socket;               /* Socket: "inet:PORT@ADDR" or "local:PATH"; required */
    unsigned socket_mode;       /* SocketMode (octal), default 0660 */
    char *user_id;              /* UserID "user" or "user:group", or NULL */
    char *pid_file;             /* PidFile, or NULL */
    int syslog;                 /* Syslog yes|no, default yes */
    int syslog_facility;        /* SyslogFacility (mail, local0..7), LOG_MAIL */
    int log_stderr;             /* LogStderr yes|no, default no (yes with -f) */
    char *node;                 /* NodeName, default the host name */
    char *authserv_id;          /* AuthservID, default the host name */
    char *temp_dir;             /* TempDirectory, default /tmp */
    size_t spool_threshold;     /* SpoolThreshold: body bytes kept in memory
                                 * before spilling to a file, default 4 MiB */
    /* trust */
    char *trust_anchors;        /* TrustAnchors: PEM file or folder; required */
    char *intermediates;        /* Intermediates, or NULL */
    char *crls;                 /* CRLs, or NULL */
    kyso_revcheck revcheck;     /* RevocationCheck, default ocsp,crl */
    kyso_ocsp_table *ocsp_responders;   /* OCSPResponders FILE, parsed, or NULL */
    size_t revocation_timeout;  /* RevocationTimeout: ms per transfer, default 5000 */
    size_t ocsp_tolerance;      /* OCSPTolerance: seconds of clock skew, default 300 */
    size_t crl_max_size;        /* CRLMaxSize: bytes of one CRL, default 32M */
    int ocsp_nonce;             /* OCSPNonce yes|no, default yes */
    kyso_action on_revocation_unknown;  /* On-RevocationUnknown: the final action
                                     * once RevocationMaxDefer has passed since a
                                     * document was first seen; default tempfail */
    size_t revocation_max_defer;    /* RevocationMaxDefer: seconds, default 86400 */
    int revocation_defer;           /* On-RevocationUnknown was set: revocation_unknown
                                     * follows it (policy_decide_seen); otherwise
                                     * it asks On-Indeterminate */
    kyso_class_rules *classes;  /* CertificateClass lines (repeatable key:
                                 * "FIELD PREFIX CLASS"); NULL = defaults */
    /* which mail */
    kyso_patterns enforce_domains;  /* EnforceDomains; empty = nothing watched */
    kyso_flow_rule flow;            /* EnforceFlow both|either|sender|recipient */
    kyso_mode mode;                 /* Mode, default enforce */
    kyso_mode_entry *mode_table;    /* ModeTable FILE, or NULL */
    size_t nmode_table;
    kyso_patterns exempt;           /* ExemptAddresses */
    kyso_patterns local_domains;    /* LocalDomains: our own domains (notices) */
    /* what is required */
    unsigned doc_types;             /* DocumentTypes, DOC_* bits */
    kyso_require require;           /* RequireSignature */
    kyso_action on_unsigned;        /* On-Unsigned, default reject */
    kyso_action on_invalid;         /* On-Invalid, default reject */
    kyso_action on_indeterminate;   /* On-Indeterminate, default tempfail */
    kyso_action on_internal_error;  /* On-InternalError, default tempfail */
    kyso_action on_unsupported;     /* On-Unsupported: a listed type the engine
                                     * cannot verify (office, ole), default reject */
    kyso_action on_limit;           /* On-LimitExceeded: message over MaxParts,
                                     * MaxDepth, MaxMessageSize, default reject */
    /* notices */
    int notify;                     /* Notify yes|no, default yes */
    char *notice_from;              /* NoticeFrom, default postmaster@<host> */
    char *notice_contact;           /* NoticeContact: whom the sender may ask,
                                     * default NoticeFrom */
    unsigned notice_rate_max;       /* NoticeRateLimit "N/SECONDS", default 10/3600 */
    unsigned notice_rate_window;
    char *mta_command;              /* MTACommand, default /usr/sbin/sendmail */
    /* records */
    size_t store_max_size;          /* StoreMaxSize: a file store's file is renamed
                                     * aside past this size, then a new one is
                                     * begun; 0 never; default 256M */
    char *store;                    /* Store "file:DIR", "redis://..." or
                                     * "sentinel://..."; required.  For Redis
                                     * the URI handed to store_open: lower-case
                                     * scheme, and the four keys below added as
                                     * "?timeout=&retention=&audit_retention=
                                     * &spool=&node=" (it may hold a password:
                                     * never log it whole) */
    size_t log_retention;           /* LogRetention: days of decisions kept in
                                     * Redis, 0 = never trimmed; default 190 */
    size_t audit_retention;         /* AuditRetention: days, 0 (default) = never */
    size_t redis_timeout;           /* RedisTimeout: ms per Redis call, default 200 */
    char *redis_spool;              /* RedisSpool: folder of the records waiting
                                     * for Redis, default /var/spool/kyso */
    /* limits */
    kyso_limits lim;                /* MaxMessageSize, MaxParts, MaxDepth,
                                     * MaxDocumentSize; rest defaults */
    /* the verification cache (lib/vcache.h), one per configuration */
    size_t vcache_size;             /* VerifyCacheSize: entries, 0 = none; 1000 */
    size_t vcache_ttl;              /* VerifyCacheTTL: seconds, default 3600 */
    /* the organisation signature (keytable.h, token.h) */
    char *signer_table;             /* SignerTable: who may sign; NULL = no signing */
    char *key_table;                /* KeyTable: the keys; needed with SignerTable */
    kyso_sign_policy sign_policy;   /* SignPolicy, default personal-first */
    char *sign_daemon;              /* SignDaemonName: only mail received by this
                                     * {daemon_name} is signed; NULL = any */
    char *pkcs11_module;            /* PKCS11Module: module for URIs without
                                     * module-path; NULL = token.h's default */
    size_t cert_expiry_warning;     /* CertExpiryWarning: days, default 30 */
    size_t sign_timeout;            /* SignTimeout: ms to wait for the token, 30000 */
} kyso_config;

/* config_load - read and check the file at PATH.  Returns a new config, or
 * NULL with "FILE:LINE: reason" (or "FILE: reason") in err; nothing is
 * half-loaded.  Table files named by keys (ModeTable, and list values given
 * as a path) are read too, and their errors name their own file and line.
 * Trust files are not read here (see config_build_verifier). */
kyso_config *config_load(const char *path, char *err, size_t errlen);

/* config_free - release c and all it owns; NULL is fine. */
void config_free(kyso_config *c);

/* config_build_verifier - a verifier from c: trust anchors, intermediates,
 * CRLs, class rules (copied), limits, revocation settings (RevocationCheck,
 * OCSPResponders copied, timeouts; CRLs refreshed in the background).  Returns 0, or -1
 * with "KEY FILE: reason" in err (v is then freed and zeroed). */
int config_build_verifier(const kyso_config *c, kyso_verifier *v, char *err, size_t errlen);

/* config_match_domain - does DOMAIN (any case) match one of P?  1 or 0. */
int config_match_domain(const kyso_patterns *p, const char *domain);

/* config_match_address - does ADDR (local@domain, any case) match one of P? */
int config_match_address(const kyso_patterns *p, const char *addr);

/* config_table_mode - the ModeTable mode for DOMAIN: the most specific
 * matching entry (an exact domain beats a wildcard, a longer wildcard beats
 * a shorter one).  Returns 1 and sets *mode, or 0 when no entry matches. */
int config_table_mode(const kyso_config *c, const char *domain, kyso_mode *mode);

/* action_name / mode_name - "accept", "reject", "tempfail", "quarantine";
 * "off", "monitor", "enforce". */
const char *action_name(kyso_action a);
const char *mode_name(kyso_mode m);

/* config_edit_distance - Levenshtein distance of A and B ignoring ASCII
 * case, for "did you mean" hints; SIZE_MAX for words over 63 bytes. */
size_t config_edit_distance(const char *a, const char *b);

#endif
