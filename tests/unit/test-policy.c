/*
 * test-policy.c - which messages are watched and in which mode, which
 * documents count, RequireSignature, and the action a message gets, on
 * results built by hand (the engine itself is tested elsewhere).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "policy.h"
#include "tap.h"

static char dir[] = "/tmp/kyso-test-policy.XXXXXX";

/* load - a configuration from TEXT (Socket, TrustAnchors and Store added). */
static kyso_config *load(const char *text)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/k.conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "Socket local:%s/s\nTrustAnchors %s\nStore file:%s\n%s", dir, path, dir, text);
    fclose(f);
    kyso_config *c = config_load(path, err, sizeof err);
    if (c == NULL)
        printf("# %s\n", err);
    return c;
}

static kyso_flow flow(const kyso_config *c, const char *from, const char *r1, const char *r2)
{
    const char *rcpts[2] = {r1, r2};
    kyso_envelope e = {.sender = from, .rcpts = rcpts, .nrcpts = r2 ? 2 : 1};
    kyso_flow f;
    policy_flow(c, &e, &f);
    return f;
}

static void test_flow(void)
{
    kyso_config *c = load("EnforceDomains *.gov.vn\nExemptAddresses postmaster@ubnd.gov.vn\n");
    ok(c != NULL, "flow config loads");
    if (c == NULL)
        return;
    kyso_flow f = flow(c, "a@so.gov.vn", "b@ubnd.gov.vn", NULL);
    ok(f.watched && f.mode == MODE_ENFORCE, "between two *.gov.vn domains: watched, enforce");
    f = flow(c, "a@gmail.com", "b@ubnd.gov.vn", NULL);
    ok(!f.watched && f.mode == MODE_OFF, "from outside: not watched (EnforceFlow both)");
    f = flow(c, "a@so.gov.vn", "b@gmail.com", NULL);
    ok(!f.watched, "to outside only: not watched");
    f = flow(c, "a@so.gov.vn", "b@gmail.com", "c@ubnd.gov.vn");
    ok(f.watched, "one watched recipient among others: watched");
    f = flow(c, "a@so.gov.vn", "postmaster@ubnd.gov.vn", NULL);
    ok(!f.watched, "an exempt recipient does not count");
    f = flow(c, "", "b@ubnd.gov.vn", NULL);
    ok(!f.watched, "null sender: not watched under EnforceFlow both");
    f = flow(c, "a@gov.vn", "b@ubnd.gov.vn", NULL);
    ok(!f.watched, "*.gov.vn does not match gov.vn itself");
    ok(strstr(f.why, "EnforceFlow both") != NULL, "the flow line says which rule decided");
    config_free(c);
    c = load("EnforceDomains *.gov.vn\nEnforceFlow recipient\n"
             "ExemptAddresses *@scanner.so.gov.vn\n");
    f = flow(c, "a@gmail.com", "b@ubnd.gov.vn", NULL);
    ok(f.watched, "EnforceFlow recipient: incoming from outside is watched");
    f = flow(c, "x@scanner.so.gov.vn", "b@ubnd.gov.vn", NULL);
    ok(!f.watched && f.exempt, "exempt sender pattern: not checked");
    config_free(c);
}

static void test_modes(void)
{
    char path[256], text[512];
    snprintf(path, sizeof path, "%s/modes", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "*.gov.vn monitor\nso.gov.vn enforce\nlab.gov.vn off\n");
    fclose(f);
    snprintf(text, sizeof text, "EnforceDomains *.gov.vn\nMode off\nModeTable %s\n", path);
    kyso_config *c = load(text);
    ok(c != NULL, "ModeTable config loads");
    if (c == NULL)
        return;
    ok(flow(c, "a@so.gov.vn", "b@x.gov.vn", NULL).mode == MODE_ENFORCE,
       "the strictest entry among sender and recipients wins (enforce)");
    ok(flow(c, "a@y.gov.vn", "b@x.gov.vn", NULL).mode == MODE_MONITOR,
       "wildcard entry: monitor");
    ok(flow(c, "a@lab.gov.vn", "b@lab.gov.vn", NULL).mode == MODE_OFF,
       "an exact entry beats the wildcard: off");
    config_free(c);
}

/* doc - an attachment result with one signature of class CLS (or none). */
static void doc(kyso_doc_result *d, const char *name, kyso_kind k, kyso_reason r, int cls)
{
    memset(d, 0, sizeof *d);
    d->name = (char *)name;
    d->kind = k;
    d->reason = r;
    if (cls >= 0) {
        d->sigs = calloc(1, sizeof *d->sigs);
        d->nsigs = 1;
        d->sigs[0].reason = r;
        d->sigs[0].signer.cls = (kyso_cert_class)cls;
    }
}

static void free_docs(kyso_doc_result *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].sigs);
}

static void test_decide(void)
{
    kyso_config *c = load("EnforceDomains *.gov.vn\nOn-Indeterminate quarantine\n");
    kyso_doc_result atts[4], msg = {.kind = KIND_MESSAGE};
    kyso_policy_result p;
    if (c == NULL)
        return;
    doc(&atts[0], "a.pdf", KIND_PDF, REASON_OK, CLASS_ORGANISATION);
    doc(&atts[1], "b.pdf", KIND_PDF, REASON_REVOCATION_UNKNOWN, CLASS_PERSONAL);
    doc(&atts[2], "c.pdf", KIND_PDF, REASON_UNSIGNED, -1);
    doc(&atts[3], "d.docx", KIND_OFFICE, REASON_UNSUPPORTED_TYPE, -1);
    msg.atts = atts;
    msg.natts = 4;
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_REJECT && p.reason == REASON_UNSIGNED && p.culprit == 2,
       "reject beats quarantine; the unsigned c.pdf decides");
    ok(!p.docs[3].counted && p.docs[3].action == ACTION_ACCEPT,
       "a .docx does not count with DocumentTypes pdf");
    ok(p.docs[1].action == ACTION_QUARANTINE, "On-Indeterminate quarantine for b.pdf");
    policy_free(&p);
    msg.natts = 2;
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_QUARANTINE && p.culprit == 1, "without c.pdf: quarantine for b.pdf");
    policy_free(&p);
    msg.natts = 1;
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_ACCEPT && p.reason == REASON_OK && p.culprit == (size_t)-1,
       "one valid document: accept, reason ok");
    policy_free(&p);
    msg.natts = 0;
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_ACCEPT && p.reason == REASON_NO_DOCUMENTS, "no documents: accept");
    policy_free(&p);
    msg.reason = REASON_LIMIT_EXCEEDED;
    msg.detail = "MaxParts 1000 exceeded";
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_REJECT && p.reason == REASON_LIMIT_EXCEEDED,
       "a message over a limit: On-LimitExceeded (reject)");
    policy_free(&p);
    msg.reason = REASON_OK;
    msg.detail = NULL;
    config_free(c);

    c = load("EnforceDomains *.gov.vn\nDocumentTypes pdf office\nOn-Unsupported tempfail\n"
             "RequireSignature organisation\n");
    msg.natts = 4;
    policy_decide(c, &msg, &p);
    ok(p.docs[3].counted && p.docs[3].action == ACTION_TEMPFAIL,
       "DocumentTypes office: the .docx counts and asks On-Unsupported");
    ok(p.docs[1].reason == REASON_REVOCATION_UNKNOWN,
       "RequireSignature does not hide an engine failure");
    policy_free(&p);
    kyso_doc_result pers[1];
    doc(&pers[0], "p.pdf", KIND_PDF, REASON_OK, CLASS_PERSONAL);
    msg.atts = pers;
    msg.natts = 1;
    policy_decide(c, &msg, &p);
    ok(p.reason == REASON_MISSING_ORG_SIGNATURE && p.action == ACTION_REJECT,
       "RequireSignature organisation: a personal signature alone is missing_org_signature");
    policy_free(&p);
    config_free(c);

    c = load("EnforceDomains *.gov.vn\nRequireSignature personal+organisation\n");
    msg.atts = atts;
    msg.natts = 1;
    policy_decide(c, &msg, &p);
    ok(p.reason == REASON_MISSING_PERSONAL_SIGNATURE,
       "personal+organisation: the organisation's alone is missing_personal_signature");
    policy_free(&p);
    config_free(c);
    free_docs(pers, 1);

    /* a detached x.pdf.p7s that verifies makes the unsigned x.pdf valid */
    c = load("EnforceDomains *.gov.vn\n");
    kyso_doc_result pair[2];
    doc(&pair[0], "x.pdf", KIND_PDF, REASON_UNSIGNED, -1);
    doc(&pair[1], "x.pdf.p7s", KIND_P7S, REASON_OK, CLASS_ORGANISATION);
    msg.atts = pair;
    msg.natts = 2;
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_ACCEPT && p.docs[0].reason == REASON_OK && !p.docs[1].counted,
       "x.pdf with a valid x.pdf.p7s: accepted, the .p7s folded into it");
    policy_free(&p);
    pair[1].reason = pair[1].sigs[0].reason = REASON_DIGEST_MISMATCH;
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_REJECT && p.docs[0].reason == REASON_DIGEST_MISMATCH,
       "x.pdf with a failing x.pdf.p7s: the signature's failure is the reason");
    policy_free(&p);
    free_docs(pair, 2);
    /* a second attachment named x.pdf beside a genuine pair: the .p7s was
     * checked against one of them only, so it vouches for neither */
    kyso_doc_result dup[3];
    doc(&dup[0], "x.pdf", KIND_PDF, REASON_UNSIGNED, -1);
    doc(&dup[1], "x.pdf", KIND_PDF, REASON_UNSIGNED, -1);
    doc(&dup[2], "x.pdf.p7s", KIND_P7S, REASON_OK, CLASS_ORGANISATION);
    msg.atts = dup;
    msg.natts = 3;
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_REJECT && p.docs[0].reason == REASON_UNSIGNED &&
       p.docs[1].reason == REASON_UNSIGNED,
       "two parts named x.pdf and one valid x.pdf.p7s: neither is valid, rejected");
    policy_free(&p);
    free_docs(dup, 3);
    free_docs(atts, 4);
    config_free(c);
}

/* test_defer - On-RevocationUnknown and RevocationMaxDefer through the
 * first-seen map: tempfail first, the final action once the document was
 * first seen long enough ago; without the key, On-Indeterminate as before. */
static void test_defer(void)
{
    kyso_config *c = load("EnforceDomains *.gov.vn\nOn-RevocationUnknown reject\n"
                          "RevocationMaxDefer 3600\n");
    kyso_doc_result atts[2], msg = {.kind = KIND_MESSAGE};
    kyso_policy_result p;
    kyso_firstseen *fs = firstseen_new(4);
    time_t t0 = 1000000;
    if (c == NULL || fs == NULL)
        return;
    doc(&atts[0], "a.pdf", KIND_PDF, REASON_REVOCATION_UNKNOWN, CLASS_ORGANISATION);
    doc(&atts[1], "b.pdf", KIND_PDF, REASON_OK, CLASS_ORGANISATION);
    msg.atts = atts;
    msg.natts = 2;
    policy_decide_seen(c, &msg, fs, t0, &p);
    ok(p.action == ACTION_TEMPFAIL && p.reason == REASON_REVOCATION_UNKNOWN && p.culprit == 0,
       "revocation_unknown first seen now: tempfail");
    policy_free(&p);
    policy_decide_seen(c, &msg, fs, t0 + 3599, &p);
    ok(p.action == ACTION_TEMPFAIL, "retry within RevocationMaxDefer: still tempfail");
    policy_free(&p);
    policy_decide_seen(c, &msg, fs, t0 + 3600, &p);
    ok(p.action == ACTION_REJECT && p.reason == REASON_REVOCATION_UNKNOWN,
       "retry after RevocationMaxDefer: On-RevocationUnknown reject");
    policy_free(&p);
    atts[0].name = (char *)"other.pdf";
    policy_decide_seen(c, &msg, fs, t0 + 7200, &p);
    ok(p.action == ACTION_TEMPFAIL, "another document has its own first-seen time");
    policy_free(&p);
    policy_decide(c, &msg, &p);
    ok(p.action == ACTION_TEMPFAIL, "without a first-seen map: tempfail (never an accident)");
    policy_free(&p);
    config_free(c);
    c = load("EnforceDomains *.gov.vn\nOn-RevocationUnknown accept\nRevocationMaxDefer 0\n");
    policy_decide_seen(c, &msg, fs, t0, &p);
    ok(c && p.action == ACTION_ACCEPT, "RevocationMaxDefer 0: the final action at once");
    policy_free(&p);
    config_free(c);
    c = load("EnforceDomains *.gov.vn\nOn-RevocationUnknown tempfail\nRevocationMaxDefer 1\n");
    policy_decide_seen(c, &msg, fs, t0 + 100000, &p);
    ok(c && p.action == ACTION_TEMPFAIL, "On-RevocationUnknown tempfail: tempfail for ever");
    policy_free(&p);
    config_free(c);
    c = load("EnforceDomains *.gov.vn\nOn-Indeterminate reject\n");
    policy_decide_seen(c, &msg, fs, t0, &p);
    ok(c && p.action == ACTION_REJECT, "without On-RevocationUnknown: On-Indeterminate");
    policy_free(&p);
    config_free(c);
    firstseen_free(fs);
    free_docs(atts, 2);
}

/* test_firstseen - the map's bound and forgetting. */
static void test_firstseen(void)
{
    kyso_firstseen *fs = firstseen_new(3);
    unsigned char k[FIRSTSEEN_KEY_LEN] = {0};
    int kept = 1;
    for (int i = 0; i < 50; i++) {
        k[0] = (unsigned char)i;
        firstseen_note(fs, k, 100 + i, 1000);
    }
    k[0] = 49;
    kept = firstseen_note(fs, k, 500, 1000) == 149;
    ok(kept, "a bounded map keeps the newest entries");
    ok(firstseen_note(fs, k, 149 + 1001, 1000) == 149 + 1001, "entries older than TTL start again");
    firstseen_free(fs);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    test_flow();
    test_modes();
    test_decide();
    test_defer();
    test_firstseen();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
