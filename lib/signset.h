/*
 * signset.h - the organisation keys ready for use: the SignerTable and
 * KeyTable of a configuration with one token handle per key, the glue
 * that lets cms_sign_detached use a token, and the audit record of each
 * signature applied or refused.  Shared by the milter and `kyso sign`;
 * never prints.
 */
#ifndef KYSO_SIGNSET_H
#define KYSO_SIGNSET_H

#include <stddef.h>
#include "config.h"
#include "keytable.h"
#include "pdf-sign.h"
#include "token.h"
#include "verifier.h"

typedef struct signset {
    keytable *kt;
    token **tokens;             /* tokens[i] for kt->keys[i] */
    int timeout_ms;             /* SignTimeout; also bounds a TSA request */
    kyso_verifier v;            /* trust for TSA answers and B-LT collection, built
                                 * from the configuration when a key has tsa= or lt= */
    int has_v;
} signset;

/*
 * signset_open - load CFG's KeyTable and SignerTable (PIN files owned by
 * the UserID user, or the current user) and open a token per key.  With
 * CHECK each key signs a challenge that its certificate must verify: a
 * certificate that does not belong to the key, or a wrong PIN, is an
 * error; an absent token only a warning (WARN, "" when none), since
 * signing resumes when it is inserted.  Returns NULL with ERR for any
 * error.  A configuration without SignerTable gives an empty set.
 */
signset *signset_open(const kyso_config *cfg, int check, char *warn, size_t warnlen,
                      char *err, size_t errlen);
void signset_free(signset *ss);

/* signset_token - the token of KEY (a key of ss->kt). */
token *signset_token(const signset *ss, const kt_key *key);

/* signset_signer - fill S so that cms_sign_detached signs with KEY's
 * token and certificate chain; CTX is storage the caller keeps alive. */
struct signset_ctx {
    token *t;
    int timeout_ms;
};
void signset_signer(const signset *ss, const kt_key *key, struct signset_ctx *ctx,
                    cms_signer *s);

/* signset_sign_pdf - sign PDF with KEY (appearance from KEY's seal and
 * name, KIND and DOC_NUMBER as given, time WHEN; KEY's tsa= adds a
 * signature time-stamp, PAdES B-T, asked for within SignTimeout, and lt=yes
 * a DSS, B-LT).  Returns what pdf_sign returns: a TSA or validation data
 * that cannot be had is TOKEN_ETEMP.  D, when not NULL, gets the SHA-256
 * of the document before and after, for the audit record. */
int signset_sign_pdf(const signset *ss, const kt_key *key, ap_kind kind,
                     const char *doc_number, time_t when, const unsigned char *pdf,
                     size_t len, unsigned char **out, size_t *outlen, pdf_sign_digests *d,
                     char *err, size_t errlen);

/* What an audit record tells (STREAM_AUDIT). */
typedef struct signset_audit {
    const char *event;          /* "signed", "sign_refused", "sign_failed" */
    const char *node, *account, *queue_id, *message_id, *document, *why;
    const kt_key *key;          /* NULL when no key was chosen */
    const unsigned char *before, *after;    /* the document bytes, or NULL */
    size_t before_len, after_len;
    const char *ref;
    const pdf_sign_digests *digests;        /* their SHA-256 when already known
                                             * (then BEFORE and AFTER are not read) */
} signset_audit;

/* signset_audit_json - one JSON object: time, event, node, account,
 * organisation, key, certificate serial and subject, queue id, message id,
 * document, SHA-256 before and after, why, ref.  malloc'd, NULL when out
 * of memory. */
char *signset_audit_json(const signset_audit *a);

#endif
