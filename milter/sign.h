/*
 * sign.h - the organisation signature at the end of a message: is the
 * sender an authorised văn thư sending as an address the SignerTable
 * allows, and if so, every PDF of the message signed with the key of that
 * row, or the message refused or deferred as a whole (nothing ever leaves
 * half-signed).
 */
#ifndef KYSO_SIGN_H
#define KYSO_SIGN_H

#include <stddef.h>
#include <libmilter/mfapi.h>
#include "msgctx.h"
#include "reasons.h"
#include "smime-sign.h"

typedef enum {
    MSIGN_NONE = 0,         /* no signing for this message (not a signer, no PDF) */
    MSIGN_NOT_ALLOWED,      /* looks like a signer's mail but may not be signed:
                             * goes on unsigned, logged as sign_refused */
    MSIGN_SIGNED,           /* msg holds the message with the PDFs signed (and,
                             * with smime=yes, wrapped in multipart/signed) */
    MSIGN_REJECT,           /* a document cannot be signed: refuse, tell the văn thư */
    MSIGN_TEMPFAIL          /* the token failed: defer, the MTA retries */
} msign_state;

typedef struct msign {
    msign_state state;
    unsigned char *msg;     /* MSIGN_SIGNED: whole message, CRLF line ends */
    size_t len;
    size_t body_off;        /* where its body starts in msg */
    int top_cte;            /* the message's own Content-Transfer-Encoding changed */
    int smime;              /* wrapped in multipart/signed: sm holds the header edits */
    smime_output sm;
    size_t nsigned, nkept;  /* PDFs signed; PDFs already carrying our signature */
    char **applied;         /* one line per PDF signed: "NAME (key KEY)" */
    size_t napplied;
    kyso_reason reason;     /* MSIGN_REJECT: the reason to give */
    char doc[200];          /* the document concerned, or "" */
    char why[512];          /* one line for the log, the record and the notice */
} msign;

/*
 * msign_run - decide and do the signing for M (BUF: its bytes; FROM: the
 * header From address; REF: the decision's reference id), telling the MTA
 * through CTX (when not NULL) that work goes on while the token signs.  Records one
 * audit entry per document signed and one per refusal in the store of M's
 * generation.  Fills OUT; never fails without a state (out of memory is
 * MSIGN_TEMPFAIL).
 */
void msign_run(SMFICTX *ctx, kyso_msg *m, const unsigned char *buf, size_t len,
               const char *from, const char *ref, msign *out);

/* msign_due - would M (header From address FROM) be signed, were its bytes
 * readable: its AUTH login and FROM match a SignerTable row (and the
 * service SignDaemonName)?  For the messages that cannot be read, which
 * must then be refused or deferred, never sent unsigned.  Never fails. */
int msign_due(kyso_msg *m, const char *from);

/* msign_concerns - may signing have something to do or to log for M:
 * SMTP AUTH was used, or its From is one a SignerTable row covers?  (Then
 * the message must reach end-of-message even where nothing is enforced.) */
int msign_concerns(const kyso_msg *m);

/* msign_free - release what OUT owns. */
void msign_free(msign *out);

#endif
