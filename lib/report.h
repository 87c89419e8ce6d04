/*
 * report.h - the numbers of "kyso report" (REGULATIONS.md R15): decision
 * records in, counts out, for one organisation (a domain and its
 * subdomains) or all, over a period.  Pure: no I/O, never prints; a report
 * is used by one thread at a time (separate reports share nothing).
 *
 * What is counted (kyso(1) "KYSO REPORT" says the same for users):
 *  - a record is in scope when its time is in [since, until) and, with an
 *    organisation, its envelope sender ("sent") or one of its recipients
 *    ("received") is in that domain;
 *  - only documents the policy checked ("counted": true) are counted;
 *  - a document "with valid signatures" has verdict valid and went out: the
 *    message was accepted (monitor mode accepts);  "both" when among its
 *    valid signatures there are personal and organisation ones;
 *  - a document not valid is "refused" when it asked a non-accept action
 *    in enforce mode, "would" be refused in monitor mode, and "accepted"
 *    when the On-* keys let it through;
 *  - certificates are distinct signer serial + issuer, in the class of
 *    their first sighting;
 *  - gateway signatures are the entries of "applied" of accepted messages
 *    the organisation sent.
 */
#ifndef KYSO_REPORT_H
#define KYSO_REPORT_H

#include <stddef.h>

/* Indexes of the message action tables; REPORT_ACT_OTHER: any other text. */
enum { REPORT_ACT_ACCEPT = 0, REPORT_ACT_REJECT, REPORT_ACT_TEMPFAIL,
       REPORT_ACT_QUARANTINE, REPORT_ACT_OTHER, REPORT_NACT };
/* Indexes of the certificate tables, as signer.class names them. */
enum { REPORT_CLASS_ORGANISATION = 0, REPORT_CLASS_PERSONAL, REPORT_CLASS_UNKNOWN,
       REPORT_NCLASS };

#define REPORT_MAX_REASONS  64      /* distinct reason codes kept; then "other" */
#define REPORT_MAX_NODES    256     /* distinct node names kept; then "(other)" */

typedef unsigned long long report_n;

/* Valid documents of one direction. */
typedef struct report_docs {
    report_n valid;             /* verdict valid, message accepted */
    report_n both;              /* of which with personal and organisation
                                 * signatures among the valid ones */
} report_docs;

/* The documents that were not valid, under one reason code. */
typedef struct report_reason {
    char name[48];              /* the code as recorded ([a-z0-9_]), or "other" */
    int code;                   /* its kyso_reason, -1 when this version does not
                                 * know it */
    report_n refused;           /* enforce: the document asked reject, tempfail
                                 * or quarantine */
    report_n would;             /* monitor mode: would have been refused */
    report_n accepted;          /* not valid, but its action was accept (On-*) */
} report_reason;

/* One calendar month, local time. */
typedef struct report_month {
    int year, month;            /* month 1..12 */
    report_n sent, received, all;   /* valid documents, as in report_docs */
    report_n refused;           /* documents refused (enforce) */
} report_month;

typedef struct report_node {
    char *name;                 /* NodeName as recorded, "(unknown)" when absent,
                                 * "(other)" past REPORT_MAX_NODES */
    report_n records;
} report_node;

typedef struct report_counts {
    report_n records;           /* decision records in scope */
    report_n out_of_scope;      /* read but outside the period or organisation */
    report_n damaged;           /* not a record, or no readable time */
    long long first_ms, last_ms;    /* times of the first and last record in
                                     * scope, epoch ms (0 when none) */
    report_n docs_checked;      /* counted documents in scope */
    report_docs sent, received; /* an organisation's side; everything without one */
    report_docs all;            /* each document once */
    report_reason *reasons;     /* sorted: known codes in reasons.h order, then
                                 * unknown ones by name */
    size_t nreasons;
    report_n refused, would, accepted;  /* sums over reasons */
    report_n applied;           /* organisation signatures applied by the gateway */
    report_n certs[REPORT_NCLASS];      /* distinct certificates seen */
    report_n certs_valid[REPORT_NCLASS];    /* of which in a valid signature */
    report_n actions[REPORT_NACT];  /* messages by the action applied */
    report_n would_act[REPORT_NACT];    /* monitor mode: by the "would" action */
    report_month *months;       /* months with records in scope, oldest first */
    size_t nmonths;
    report_node *nodes;         /* in order of first appearance */
    size_t nnodes;
} report_counts;

typedef struct kyso_report kyso_report;

/* report_new - an empty report for ORG (a domain, any case, "" or NULL: all
 * organisations) over [SINCE_MS, UNTIL_MS) (0: no bound).  Returns it, or
 * NULL with the reason in err (ORG not a domain, out of memory). */
kyso_report *report_new(const char *org, long long since_ms, long long until_ms,
                        char *err, size_t errlen);

/* report_add_json - count the decision record of the LEN bytes at JSON.
 * Returns 1 when counted, 0 when outside the scope, -1 when it is not a
 * record (not JSON, not an object, no readable time: counted as damaged,
 * what is wrong in err) or when out of memory (err says so; the counts may
 * then miss part of this record).  Unknown keys are ignored. */
int report_add_json(kyso_report *r, const char *json, size_t len, char *err, size_t errlen);

/* report_counts - the counts so far; valid until the next add or free. */
const report_counts *report_get(const kyso_report *r);

/* report_org - the organisation as normalised (lower case), "" for all. */
const char *report_org(const kyso_report *r);

/* ---- counters: the same numbers kept per organisation and day ----------
 * (the Redis store's kyso:count:DAY:ORG hashes and kyso:certs:DAY:ORG sets,
 * so that a report can cover more than the decisions Redis keeps).  A
 * record adds, for "*" (all organisations) and for each domain of its
 * sender and recipients and each parent domain of those (at most
 * REPORT_MAX_ORGS), exactly what report_add_json would count for that
 * organisation, on the local day of its time.  Fields: "records", "docs",
 * "sent.valid", "sent.both", "recv.valid", "recv.both", "all.valid",
 * "all.both", "refused:R", "would:R", "accepted:R" (R a reason code),
 * "act:A", "wact:A" (A an action), "applied", "node:N"; set members are
 * the certificates: class digit, valid digit, upper-case serial, 0x1f,
 * issuer. */

#define REPORT_MAX_ORGS 64

/* Where report_counters sends what a record adds. */
typedef struct report_counter_sink {
    void (*incr)(void *arg, const char *day, const char *org, const char *field, long long n);
    void (*member)(void *arg, const char *day, const char *org, const char *member);
    void *arg;
} report_counter_sink;

/* report_counters - the counters the decision record of the LEN bytes at
 * JSON adds, to SINK (DAY "YYYY-MM-DD" in local time, ORG a domain or
 * "*").  Returns 0, or -1 with err when it is not a record or out of
 * memory (then part of the counters may have been sent). */
int report_counters(const char *json, size_t len, const report_counter_sink *sink,
                    char *err, size_t errlen);

/* report_add_counter - add N of counter FIELD (as report_counters names
 * it) of the local day starting at DAY_MS to R; an unknown field is
 * ignored.  The period and organisation of R are the caller's business:
 * give it the counters of R's organisation and days only. */
void report_add_counter(kyso_report *r, long long day_ms, const char *field, long long n);

/* report_add_member - a certificate set member (see above) into R;
 * members that are not one are ignored. */
void report_add_member(kyso_report *r, const char *member);

/* report_free - release R; NULL is fine. */
void report_free(kyso_report *r);

/* report_action_name / report_class_name - "accept" ... "other";
 * "organisation", "personal", "unknown".  Never NULL. */
const char *report_action_name(int i);
const char *report_class_name(int i);

#endif
