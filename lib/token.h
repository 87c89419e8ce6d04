/*
 * token.h - the organisation key: on a PKCS#11 token (libp11, RFC 7512
 * URI) or, for labs, in a PEM or PKCS#12 file.  One signer thread per key
 * owns the module, the session and the single login (libp11 is not fully
 * thread-safe); callers queue requests to it.  Never prints.
 */
#ifndef KYSO_TOKEN_H
#define KYSO_TOKEN_H

#include <stddef.h>
#include <openssl/x509.h>

typedef struct token token;

/* Results of token_sign and token_check. */
#define TOKEN_OK        0
#define TOKEN_ETEMP     (-1)    /* token absent, module or session failure: retry later */
#define TOKEN_EPIN      (-2)    /* PIN wrong (or locked): never tried again until reload */
#define TOKEN_EKEY      (-3)    /* no such key on the token, or the key cannot do this */
#define TOKEN_ECONFIG   (-4)    /* unusable URI, file or PIN file */

/*
 * token_open - prepare the key named by KEY: "pkcs11:..." (RFC 7512; the
 * module comes from the URI's module-path attribute, else MODULE, else the
 * Debian p11-kit proxy) or the path of a PEM / PKCS#12 file.  PIN may be
 * NULL.  Starts the signer thread but does not touch the token (so a daemon
 * starts with the token absent).  Returns the handle, or NULL with the
 * reason in ERR for a malformed URI, an unreadable key file or out of memory.
 */
token *token_open(const char *key, const char *module, const char *pin,
                  char *err, size_t errlen);

/*
 * token_sign - sign TBS (LEN bytes; hashed with SHA-256 here) with the key:
 * RSA PKCS#1 v1.5, or RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) when PSS
 * is set.  Blocks until the signer thread answers or TIMEOUT_MS passes.  On
 * TOKEN_OK *sig (malloc'd) and *siglen hold the signature.  Otherwise one of
 * the TOKEN_E* codes with what to do in ERR ("token 'x' not present: insert
 * it ..."); after TOKEN_EPIN every later call returns TOKEN_EPIN without
 * logging in again.  A token that comes back is found again on the next
 * call (the module is reloaded after a failure).
 */
int token_sign(token *t, int pss, const unsigned char *tbs, size_t len,
               unsigned char **sig, size_t *siglen, int timeout_ms,
               char *err, size_t errlen);

/* token_check_cert - does CERT's public key belong to this key?  Signs a
 * random challenge and verifies it with CERT.  TOKEN_OK, a TOKEN_E* code,
 * or TOKEN_ECONFIG with "certificate does not match the key" in ERR. */
int token_check_cert(token *t, X509 *cert, char *err, size_t errlen);

/* token_close - stop the signer thread, log out, unload the module. */
void token_close(token *t);

#endif
