/*
 * keytable.h - who may use the organisation key: the SignerTable (SMTP
 * AUTH login, From addresses it may sign for, key name) and the KeyTable
 * (key URI or file, certificate, chain, seal, organisation name, PIN file,
 * options).  Formats are in kyso-milter.conf(5).  Never prints.
 */
#ifndef KYSO_KEYTABLE_H
#define KYSO_KEYTABLE_H

#include <stddef.h>
#include <sys/types.h>
#include <openssl/x509.h>

typedef struct kt_key {
    char *name;                 /* KEY-NAME */
    char *key;                  /* PKCS#11 URI or key file path */
    char *cert_path, *chain_path, *seal_path, *pin_path;
    char *org_name;             /* name="..."; else the certificate's O or CN */
    char *position;             /* position=...; NULL = default placement */
    int smime;                  /* smime=yes */
    int pss;                    /* alg=pss (default rsa PKCS#1 v1.5) */
    char *tsa_url;              /* tsa=URL: time-stamp each PDF signature (PAdES B-T) */
    int lt;                     /* lt=yes: embed the chain's OCSP/CRL answers (B-LT) */
    X509 *cert;                 /* loaded certificate */
    STACK_OF(X509) *chain;      /* loaded chain (may be empty, never NULL) */
    unsigned char *seal;        /* the seal PNG bytes, or NULL */
    size_t seal_len;
    char *pin;                  /* PIN read from pin_path, or NULL */
} kt_key;

typedef struct kt_signer {
    char *user;                 /* AUTH-USER, compared exactly */
    char *from;                 /* "addr@dom" or "*@dom", case-insensitive */
    kt_key *key;
} kt_signer;

typedef struct keytable {
    kt_key *keys;
    size_t nkeys;
    kt_signer *signers;
    size_t nsigners;
} keytable;

/*
 * keytable_load - read KEY_PATH then SIGNER_PATH (SIGNER_PATH may name keys
 * only from KEY_PATH).  Loads certificates, chains, seals (checked with
 * ap_check_png) and PINs.  A PIN file must be a regular file readable by
 * its owner only (no group or other bits) and owned by DAEMON_UID (or by
 * root; DAEMON_UID (uid_t)-1 skips the owner check).  Any error is fatal:
 * NULL with "FILE:LINE: what is wrong; how to fix it" in ERR.
 */
keytable *keytable_load(const char *key_path, const char *signer_path, uid_t daemon_uid,
                        char *err, size_t errlen);

/*
 * keytable_match - the key AUTH_USER may use to sign mail whose header From
 * address is FROM: the first row whose user equals AUTH_USER and whose
 * pattern matches FROM.  NULL when none, with *why set to a static reason:
 * "not authenticated", "account not in SignerTable", "From address not
 * allowed for this account".
 */
const kt_key *keytable_match(const keytable *kt, const char *auth_user, const char *from,
                             const char **why);

/* keytable_find - the key named NAME, or NULL. */
const kt_key *keytable_find(const keytable *kt, const char *name);

/* keytable_free - release everything, wiping PINs from memory. */
void keytable_free(keytable *kt);

#endif
