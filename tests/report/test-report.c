/*
 * test-report.c - lib/report.c on hand-written decision records: which
 * records are in scope (period edges, sender or recipient domain,
 * subdomains, a look-alike domain), which documents count (counted only,
 * valid only when the message was accepted), personal + organisation,
 * refused / monitor / accepted by reason (unknown codes too), distinct
 * certificates, gateway signatures, messages by action, months, nodes,
 * damaged records.  Each expected number is worked out by hand in the
 * comment next to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "../unit/tap.h"

/* Building blocks of a record, with the keys of lib/decision.c. */
#define SIG(v, cls, serial, issuer) \
    "{\"verdict\":\"" v "\",\"reason\":\"ok\",\"signer\":{\"subject\":\"CN=x\"," \
    "\"issuer\":\"" issuer "\",\"serial\":\"" serial "\",\"class\":\"" cls "\"}}"
#define DOC(counted, verdict, reason, action, sigs) \
    "{\"name\":\"a.pdf\",\"kind\":\"pdf\",\"verdict\":\"" verdict "\",\"reason\":\"" reason \
    "\",\"signatures\":[" sigs "],\"attachments\":[],\"counted\":" counted \
    ",\"action\":\"" action "\"}"
#define REC(time, node, from, rcpts, mode, action, would, docs, applied) \
    "{\"time\":\"" time "\",\"node\":\"" node "\",\"env_from\":\"" from "\",\"rcpts\":[" \
    rcpts "],\"mode\":\"" mode "\",\"action\":\"" action "\",\"would\":" would \
    ",\"documents\":[" docs "],\"applied\":[" applied "],\"x_future\":{\"k\":[1]}}"

static const char *const records[] = {
    /* 0: sent by sotc.khanhhoa, accepted; doc valid with personal + org
     * (both), a second counted doc valid with personal only, a third not
     * counted; two applied signatures */
    REC("2025-03-10T09:00:00.000+07:00", "mx1", "vt@sotc.khanhhoa.gov.vn",
        "\"a@dongthap.gov.vn\"", "enforce", "accept", "null",
        DOC("true", "valid", "ok", "accept",
            SIG("valid", "personal", "0a01", "CN=CA1") "," SIG("valid", "organisation", "0B02",
                                                                "CN=CA1"))
        "," DOC("true", "valid", "ok", "accept", SIG("valid", "personal", "0A01", "CN=CA1"))
        "," DOC("false", "unsigned", "unsigned", "accept", ""),
        "\"s1\",\"s2\""),
    /* 1: received by KhanhHoa (upper case), rejected: its valid doc does
     * not count; its unsigned doc is refused; cert 0B02 under another
     * issuer is a new certificate */
    REC("2025-03-11T10:00:00+07:00", "mx2", "x@congty.vn",
        "\"b@other.vn\",\"VanThu@KhanhHoa.Gov.VN\"", "enforce", "reject", "null",
        DOC("true", "valid", "ok", "accept", SIG("valid", "organisation", "0B02", "CN=CA2"))
        "," DOC("true", "unsigned", "unsigned", "reject", ""),
        ""),
    /* 2: the look-alike notkhanhhoa.gov.vn: out of scope for khanhhoa */
    REC("2025-03-12T10:00:00+07:00", "mx1", "a@notkhanhhoa.gov.vn", "\"b@other.vn\"",
        "enforce", "accept", "null",
        DOC("true", "valid", "ok", "accept", SIG("valid", "personal", "0C03", "CN=CA1")), ""),
    /* 3: monitor mode, sent by khanhhoa.gov.vn itself: would tempfail; an
     * unknown future reason; a personal cert in an invalid signature */
    REC("2025-04-01T00:00:00+07:00", "gw3", "lanhdao@khanhhoa.gov.vn", "\"c@other.vn\"",
        "monitor", "accept", "\"tempfail\"",
        DOC("true", "indeterminate", "revocation_unknown", "tempfail",
            SIG("indeterminate", "personal", "0D04", "CN=CA1"))
        "," DOC("true", "invalid", "quantum_broken", "reject", ""),
        "\"s3\""),
    /* 4: enforce, a document not valid but let through by On-* (accept),
     * the message accepted: applied counts, the doc is "accepted" */
    REC("2025-04-02T08:00:00+07:00", "mx1", "vt@sotc.khanhhoa.gov.vn", "\"d@other.vn\"",
        "enforce", "accept", "null",
        DOC("true", "invalid", "missing_personal_signature", "accept",
            SIG("valid", "organisation", "0B02", "CN=CA1")),
        "\"s4\""),
    /* 5: the first instant after the period */
    REC("2025-05-01T00:00:00.000+07:00", "mx1", "vt@sotc.khanhhoa.gov.vn", "\"e@other.vn\"",
        "enforce", "accept", "null",
        DOC("true", "valid", "ok", "accept", SIG("valid", "personal", "0E05", "CN=CA1")), ""),
    /* 6: the last millisecond before the period */
    REC("2025-02-28T23:59:59.999+07:00", "mx1", "vt@sotc.khanhhoa.gov.vn", "\"e@other.vn\"",
        "enforce", "accept", "null",
        DOC("true", "valid", "ok", "accept", SIG("valid", "personal", "0F06", "CN=CA1")), ""),
    /* 7, 8, 9: damaged */
    "not json at all",
    "{\"time\":\"yesterday\",\"node\":\"mx1\"}",
    "[1,2,3]",
};

/* feed - every record into a report for ORG over March and April 2025
 * (+07:00), how many were counted and how many were damaged into *COUNTED
 * and *DAMAGED. */
static kyso_report *feed(const char *org, int *counted, int *damaged)
{
    char err[256];
    long long since = 1740762000000LL;     /* 2025-03-01T00:00:00+07:00 */
    long long until = 1746032400000LL;     /* 2025-05-01T00:00:00+07:00 */
    kyso_report *r = report_new(org, since, until, err, sizeof err);
    *counted = *damaged = 0;
    for (size_t i = 0; r && i < sizeof records / sizeof records[0]; i++) {
        int rc = report_add_json(r, records[i], strlen(records[i]), err, sizeof err);
        *counted += rc == 1;
        *damaged += rc < 0;
    }
    return r;
}

/* reason - the entry of code NAME, or NULL. */
static const report_reason *reason(const report_counts *c, const char *name)
{
    for (size_t i = 0; i < c->nreasons; i++)
        if (strcmp(c->reasons[i].name, name) == 0)
            return &c->reasons[i];
    return NULL;
}

static void test_khanhhoa(void)
{
    int counted, damaged;
    kyso_report *r = feed("@KhanhHoa.gov.vn.", &counted, &damaged);
    ok(r != NULL, "an organisation written @Domain. is taken");
    if (r == NULL)
        return;
    const report_counts *c = report_get(r);
    ok(strcmp(report_org(r), "khanhhoa.gov.vn") == 0, "normalised to khanhhoa.gov.vn");
    ok(counted == 4 && c->records == 4, "records 0, 1, 3, 4 in scope (got %d)", counted);
    ok(damaged == 3 && c->damaged == 3, "three damaged records (got %d)", damaged);
    ok(c->out_of_scope == 3, "the look-alike and the two edge records are out (got %llu)",
       c->out_of_scope);
    ok(c->docs_checked == 7, "counted documents: 2 + 2 + 2 + 1 (got %llu)", c->docs_checked);
    ok(c->sent.valid == 2 && c->sent.both == 1, "sent: 2 valid, 1 with both");
    ok(c->received.valid == 0, "received: the valid one was in a rejected message");
    ok(c->all.valid == 2 && c->all.both == 1, "all: 2 and 1");
    const report_reason *u = reason(c, "unsigned"), *q = reason(c, "quantum_broken");
    const report_reason *rv = reason(c, "revocation_unknown");
    const report_reason *mp = reason(c, "missing_personal_signature");
    ok(u && u->refused == 1 && u->would == 0, "unsigned refused once (the uncounted one not)");
    ok(rv && rv->would == 1 && rv->refused == 0, "revocation_unknown: monitor would");
    ok(q && q->code == -1 && q->would == 1, "an unknown reason gets its own line");
    ok(mp && mp->accepted == 1, "a document the On-* keys accepted");
    ok(c->nreasons == 4 && strcmp(c->reasons[0].name, "unsigned") == 0
       && strcmp(c->reasons[3].name, "quantum_broken") == 0,
       "reasons in reasons.h order, unknown last");
    ok(c->refused == 1 && c->would == 2 && c->accepted == 1, "reason sums");
    ok(c->applied == 4, "applied: 2 (record 0) + 1 (record 3, accepted in monitor mode) "
       "+ 1 (record 4): got %llu", c->applied);
    /* certificates: 0A01/CA1 personal (twice, any case), 0B02/CA1 org,
     * 0B02/CA2 org, 0D04/CA1 personal (not valid) */
    ok(c->certs[REPORT_CLASS_PERSONAL] == 2 && c->certs_valid[REPORT_CLASS_PERSONAL] == 1,
       "personal certificates: 2 seen, 1 valid (got %llu, %llu)",
       c->certs[REPORT_CLASS_PERSONAL], c->certs_valid[REPORT_CLASS_PERSONAL]);
    ok(c->certs[REPORT_CLASS_ORGANISATION] == 2
       && c->certs_valid[REPORT_CLASS_ORGANISATION] == 2,
       "organisation certificates: serial + issuer distinct");
    ok(c->actions[REPORT_ACT_ACCEPT] == 3 && c->actions[REPORT_ACT_REJECT] == 1,
       "messages: 3 accepted, 1 rejected");
    ok(c->would_act[REPORT_ACT_TEMPFAIL] == 1 && c->would_act[REPORT_ACT_ACCEPT] == 0,
       "monitor: 1 would tempfail");
    ok(c->nmonths == 2 && c->months[0].month == 3 && c->months[0].sent == 2
       && c->months[0].refused == 1 && c->months[1].month == 4 && c->months[1].all == 0,
       "months: March 2 sent, 1 refused; April none valid");
    ok(c->nnodes == 3 && strcmp(c->nodes[0].name, "mx1") == 0 && c->nodes[0].records == 2
       && strcmp(c->nodes[2].name, "gw3") == 0, "nodes in order of appearance");
    report_free(r);
}

static void test_all_and_sub(void)
{
    int counted, damaged;
    kyso_report *r = feed(NULL, &counted, &damaged);
    const report_counts *c = r ? report_get(r) : NULL;
    ok(c && c->records == 5, "all organisations: records 0..4");
    ok(c && c->sent.valid == 3 && c->received.valid == 3 && c->all.valid == 3,
       "without an organisation every side is counted");
    report_free(r);
    r = feed("sotc.khanhhoa.gov.vn", &counted, &damaged);
    c = r ? report_get(r) : NULL;
    ok(c && c->records == 2 && c->applied == 3, "a subdomain: its two records, 3 applied");
    report_free(r);
    char err[128] = "";
    r = report_new("bad domain@x", 0, 0, err, sizeof err);
    ok(r == NULL && strstr(err, "not a domain") != NULL, "a wrong --org is refused: %s", err);
    r = report_new("a..b", 0, 0, err, sizeof err);
    ok(r == NULL, "an empty label is refused");
}

static void test_nodes_cap(void)
{
    char err[128], rec[200];
    kyso_report *r = report_new(NULL, 0, 0, err, sizeof err);
    for (int i = 0; r && i < REPORT_MAX_NODES + 50; i++) {
        snprintf(rec, sizeof rec, "{\"time\":\"2025-01-01T00:00:00Z\",\"node\":\"n%d\","
                 "\"action\":\"accept\"}", i);
        report_add_json(r, rec, strlen(rec), err, sizeof err);
    }
    const report_counts *c = r ? report_get(r) : NULL;
    ok(c && c->nnodes == REPORT_MAX_NODES
       && strcmp(c->nodes[REPORT_MAX_NODES - 1].name, "(other)") == 0
       && c->nodes[REPORT_MAX_NODES - 1].records == 51, "node names are bounded");
    report_free(r);
}

int main(void)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    test_khanhhoa();
    test_all_and_sub();
    test_nodes_cap();
    return tap_done();
}
