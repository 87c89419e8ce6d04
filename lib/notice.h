/*
 * notice.h - the notice to the sender of a refused message (REGULATIONS R3):
 * a UTF-8 mail, Vietnamese with diacritics first, then English, saying which
 * message, which attachment, what is wrong in plain words, what to do, and
 * the reference id; sent through the local MTA with a null envelope sender
 * and marked (Auto-Submitted, X-Kyso-Notice) so that nobody answers it and
 * no notice is ever sent about a notice.  Plus the per-sender rate limit.
 * Never prints.
 */
#ifndef KYSO_NOTICE_H
#define KYSO_NOTICE_H

#include <stddef.h>
#include <time.h>
#include "decision.h"

typedef struct kyso_notice {
    const char *to;                 /* the sender being told (envelope sender) */
    const char *from;               /* NoticeFrom */
    const char *contact;            /* NoticeContact: whom to ask */
    const char *node;               /* the gateway's name */
    const char *ref;                /* reference id */
    const char *action;             /* "reject", "quarantine" */
    const char *subject;            /* Subject of the refused message (UTF-8), or NULL */
    const char *date;               /* its Date header, or NULL */
    const char *message_id;         /* its Message-ID, or NULL */
    const char *const *rcpts;       /* its recipients */
    size_t nrcpts;
    const kyso_doc_decision *docs;  /* its documents; those not counted or
                                     * with reason ok are not listed as faults */
    size_t ndocs;
    time_t now;                     /* Date of the notice */
} kyso_notice;

/* notice_compose - the whole notice message (headers and a text/plain
 * UTF-8 body, quoted-printable or base64, lines ending in LF).  Headers:
 * From, To, Subject (RFC 2047, Vietnamese and English), Date, Message-ID,
 * Auto-Submitted: auto-replied, X-Kyso-Notice: REF, MIME-Version,
 * Content-Type.  Returns a malloc'd string and its length in *len, or NULL
 * when out of memory.  Header values taken from the refused message are
 * cleaned of CR, LF and other controls (no header injection). */
char *notice_compose(const kyso_notice *n, size_t *len);

/* What the certificate expiry warning (R14) tells. */
typedef struct kyso_expiry_notice {
    const char *to;                 /* a văn thư address of the key, or the postmaster */
    const char *from;               /* NoticeFrom */
    const char *node;               /* the gateway's name */
    const char *org_name;           /* the organisation (UTF-8) */
    const char *key_name;           /* KeyTable key name */
    const char *key_table;          /* KeyTable file path */
    const char *serial;             /* certificate serial, hex */
    time_t not_after;               /* when the certificate expires */
    long days_left;                 /* whole days until then (0: today, <0: expired) */
    time_t now;
} kyso_expiry_notice;

/* notice_compose_expiry - the warning that KEY's certificate expires soon
 * (or has expired): Vietnamese first, then English; what it is, when, and
 * what to do (renew with the CA, update cert= in the KeyTable, reload).
 * Same form and headers as notice_compose; NULL when out of memory. */
char *notice_compose_expiry(const kyso_expiry_notice *n, size_t *len);

/* notice_send - pipe MSG to MTA_COMMAND (a program path and fixed arguments
 * separated by spaces; no shell) with "-oi -f <> -- TO" appended.  Waits at
 * most TIMEOUT seconds, then kills it.  Returns 0 when the command exited
 * 0, else -1 with err filled ("MTACommand /usr/sbin/sendmail: exit 75"). */
int notice_send(const char *mta_command, const char *to, const char *msg, size_t len,
                int timeout, char *err, size_t errlen);

/* The per-sender rate limit: at most MAX notices per WINDOW seconds for one
 * address (case-insensitive).  Thread-safe.  Memory is bounded: at most
 * 10000 senders are tracked; the oldest are forgotten first. */
typedef struct kyso_ratelimit kyso_ratelimit;

/* ratelimit_new - NULL when out of memory. */
kyso_ratelimit *ratelimit_new(unsigned max, unsigned window);
/* ratelimit_allow - 1 and counts one notice when KEY is under its limit at
 * time NOW, else 0 (nothing counted). */
int ratelimit_allow(kyso_ratelimit *rl, const char *key, time_t now);
void ratelimit_free(kyso_ratelimit *rl);

#endif
