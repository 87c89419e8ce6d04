/*
 * decision.h - the decision record of DESIGN.md: what was decided about one
 * message and why, as one JSON object for the store and one key=value line
 * for syslog, plus the reference id a postmaster looks the record up by.
 * Builds text only; never prints, never stores.
 */
#ifndef KYSO_DECISION_H
#define KYSO_DECISION_H

#include <stddef.h>
#include <sys/time.h>
#include "result.h"

/* Per document, after policy: the engine's result and what policy made of
 * it (a valid document may still lack the required organisation signature). */
typedef struct kyso_doc_decision {
    const kyso_doc_result *doc;     /* an entry of the message result's atts */
    int counted;                    /* its type is one DocumentTypes lists */
    kyso_reason reason;             /* reason after policy */
    int action;                     /* kyso_action this document alone asks */
} kyso_doc_decision;

typedef struct kyso_decision_rec {
    struct timeval time;            /* when the decision was taken */
    const char *node;               /* NodeName */
    const char *queue_id;           /* {i}, or NULL */
    const char *message_id;         /* Message-ID header, or NULL */
    const char *client_addr;        /* "192.0.2.1", or NULL */
    const char *client_name;
    const char *auth_user;          /* {auth_authen}, or NULL */
    const char *env_from;           /* envelope sender, "" for <> */
    const char *hdr_from;           /* header From address, or NULL */
    const char *subject;            /* decoded Subject (UTF-8), or NULL */
    const char *const *rcpts;
    size_t nrcpts;
    const char *flow;               /* why the message was (not) watched */
    const char *mode;               /* "enforce", "monitor", "off" */
    const char *action;             /* action applied: "accept", "reject", ... */
    const char *would;              /* monitor: what enforce would have done, or NULL */
    const char *reason;             /* reason name of the deciding document, or "ok" */
    const char *detail;             /* what failed when the message as a whole did
                                     * (which limit, for instance), or NULL */
    const char *ref;                /* reference id */
    const char *smtp_reply;         /* reply text given to the client, or NULL */
    int notice_sent;                /* 1 sent, 0 not due, -1 due but not sent */
    const char *notice_why;         /* why no notice (rate limit, outside sender), or NULL */
    const kyso_doc_result *smime;   /* message result (its sigs: S/MIME), or NULL */
    const kyso_doc_decision *docs;
    size_t ndocs;
    const char *const *applied;     /* signatures applied (issue 4), may be NULL */
    size_t napplied;
    long elapsed_ms;
} kyso_decision_rec;

/* decision_make_ref - a new reference id, "KS-" and 12 characters of
 * Crockford base32 from the time, the node and a counter: unique per node,
 * short enough to read over the phone.  Writes into buf (>= 20 bytes). */
void decision_make_ref(char *buf, size_t len);

/* decision_to_json - the record as one JSON line (no newline): keys time,
 * node, queue_id, message_id, client, auth_user, env_from, hdr_from,
 * subject, rcpts, flow, mode, action, would, reason, detail, ref, smtp_reply,
 * notice, documents (name, kind, counted, verdict, reason, detail,
 * signatures as in result_to_json), smime, applied, elapsed_ms.  Returns a
 * malloc'd string, or NULL when out of memory. */
char *decision_to_json(const kyso_decision_rec *r);

/* decision_to_syslog - "QUEUEID: ref=... action=... reason=... mode=...
 * from=<...> rcpts=N docs=N bad=\"name\" elapsed=Nms" in buf, ASCII only
 * (anything else escaped), truncated to len.  Returns buf. */
char *decision_to_syslog(const kyso_decision_rec *r, char *buf, size_t len);

#endif
