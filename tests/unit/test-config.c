/*
 * test-config.c - unit test of lib/config.c: a full configuration parsed
 * key by key, the defaults, the error messages a postmaster sees (file,
 * line, what is wrong, the fix), list files and the ModeTable, pattern
 * matching, the verifier built from a configuration, and the sample
 * conf/kyso-milter.conf (found through $top_srcdir).
 * Files go to a mkdtemp folder under /tmp, removed at the end.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "ocsp.h"
#include "pki.h"
#include "tap.h"
#include "verifier.h"

#define REQUIRED "Socket inet:8891@127.0.0.1\nTrustAnchors /etc/kyso/ca.pem\n" \
                 "Store file:/var/lib/kyso\n"

static char dir[64];
static char conf[128];
static char err[1024];

/* path_of - DIR/NAME in a static buffer (one of four in turn). */
static const char *path_of(const char *name)
{
    static char bufs[4][160];
    static int k;
    char *b = bufs[k++ % 4];

    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

/* put - write TEXT to DIR/NAME, mode 0644; returns the path. */
static const char *put(const char *name, const char *text)
{
    const char *path = path_of(name);
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
    chmod(path, 0644);
    return path;
}

/* load - TEXT as kyso-milter.conf, loaded; NULL with err filled on error. */
static kyso_config *load(const char *text)
{
    put("kyso-milter.conf", text);
    err[0] = '\0';
    return config_load(conf, err, sizeof err);
}

/* fails_with - does TEXT fail to load with an error that starts with
 * "CONF:LINE: " (LINE 0: "CONF: ") and contains WHAT? */
static int fails_with(const char *text, unsigned line, const char *what)
{
    kyso_config *c = load(text);
    char head[200];

    if (c != NULL) {
        config_free(c);
        printf("#   loaded, but should not have\n");
        return 0;
    }
    if (line)
        snprintf(head, sizeof head, "%s:%u: ", conf, line);
    else
        snprintf(head, sizeof head, "%s: ", conf);
    if (strncmp(err, head, strlen(head)) != 0 || strstr(err, what) == NULL) {
        printf("#   got: %s\n", err);
        return 0;
    }
    return 1;
}

/* load_fails - does TEXT fail to load?  (err then says why.) */
static int load_fails(const char *text)
{
    kyso_config *c = load(text);

    config_free(c);
    return c == NULL;
}

/* err_is - does the error start with PREFIX and contain WHAT? */
static int err_is(const char *prefix, const char *what)
{
    int good = strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, what) != NULL;

    if (!good)
        printf("#   got: %s\n", err);
    return good;
}

/* load_full - a file that sets every key to something not its default. */
static kyso_config *load_full(void)
{
    const char *mt = put("modes", "# agencies, one by one\n"
                         "*.gov.vn   monitor\nsotc.hanoi.gov.vn enforce # done\n"
                         ".test.gov.vn OFF\n");
    const char *ex = put("exempt", "# who is never checked\n\nNoReply@Example.gov.vn\n"
                         "@bulk.gov.vn  \n");
    char text[4096];

    snprintf(text, sizeof text,
             "# full\nsocket local:/run/kyso/kyso.sock\nSocketMode 0600\n"
             "UserID kyso:mail\nPidFile /run/kyso/kyso.pid\nSyslog no\n"
             "SyslogFacility local3\nLogStderr yes\nNodeName mx1.hanoi.gov.vn\n"
             "AuthservID mx.hanoi.gov.vn\nTempDirectory /var/tmp/kyso\nSpoolThreshold 8M\n"
             "TrustAnchors /etc/kyso/anchors\nIntermediates /etc/kyso/sub.pem\n"
             "CRLs /var/lib/kyso/crls\nRevocationCheck none\n"
             "CertificateClass uid MST: organisation\n"
             "CertificateClass ou Phong personal\n"
             "EnforceDomains *.gov.vn, Hanoi.GOV.VN  .dangcongsan.vn\n"
             "EnforceFlow either\nMode monitor   # first weeks\nModeTable %s\n"
             "ExemptAddresses %s\nLocalDomains hanoi.gov.vn,*.hanoi.gov.vn\n"
             "DocumentTypes pdf, p7s p7m,docx, xls\n"
             "RequireSignature personal+organisation\nOn-Unsigned quarantine\n"
             "On-Invalid tempfail\nOn-Indeterminate accept\nOn-InternalError reject\n"
             "On-Unsupported accept\nOn-LimitExceeded tempfail\nNotify false\n"
             "NoticeFrom kyso@hanoi.gov.vn\n"
             "NoticeContact Phong CNTT (phong#3), 024 3825 0000 # ask\n"
             "NoticeRateLimit 5/600\nMTACommand /usr/lib/sendmail -t\n"
             "Store FILE:/srv/kyso\nMaxMessageSize 50M\nMaxParts 200\nMaxDepth 8\n"
             "MaxDocumentSize 1g\nMaxPdfObjects 50000\nMaxSignatures 10\n", mt, ex);
    return load(text);
}

/* test_full - every key of load_full parsed to the right value. */
static void test_full(void)
{
    kyso_config *c = load_full();

    ok(c != NULL, "a full configuration loads (%s)", err);
    if (c == NULL)
        return;
    ok(strcmp(c->path, conf) == 0, "path kept");
    ok(strcmp(c->socket, "local:/run/kyso/kyso.sock") == 0 && c->socket_mode == 0600
       && strcmp(c->user_id, "kyso:mail") == 0 && strcmp(c->pid_file, "/run/kyso/kyso.pid") == 0,
       "Socket, SocketMode (octal), UserID, PidFile");
    ok(c->syslog == 0 && c->syslog_facility == LOG_LOCAL3 && c->log_stderr == 1,
       "Syslog, SyslogFacility, LogStderr");
    ok(strcmp(c->node, "mx1.hanoi.gov.vn") == 0 && strcmp(c->authserv_id, "mx.hanoi.gov.vn") == 0
       && strcmp(c->temp_dir, "/var/tmp/kyso") == 0 && c->spool_threshold == 8u * 1024 * 1024,
       "NodeName, AuthservID, TempDirectory, SpoolThreshold 8M");
    ok(strcmp(c->trust_anchors, "/etc/kyso/anchors") == 0
       && strcmp(c->intermediates, "/etc/kyso/sub.pem") == 0
       && strcmp(c->crls, "/var/lib/kyso/crls") == 0 && c->revcheck == REVCHECK_NONE
       && c->classes != NULL, "trust keys, RevocationCheck, CertificateClass");
    ok(c->enforce_domains.n == 3 && strcmp(c->enforce_domains.v[0], "*.gov.vn") == 0
       && strcmp(c->enforce_domains.v[1], "hanoi.gov.vn") == 0
       && strcmp(c->enforce_domains.v[2], "*.dangcongsan.vn") == 0,
       "EnforceDomains inline, lower-cased, .x written as *.x");
    ok(c->flow == FLOW_EITHER && c->mode == MODE_MONITOR, "EnforceFlow, Mode with a comment");
    ok(c->nmode_table == 3 && strcmp(c->mode_table[0].pattern, "*.gov.vn") == 0
       && c->mode_table[0].mode == MODE_MONITOR && c->mode_table[1].mode == MODE_ENFORCE
       && strcmp(c->mode_table[2].pattern, "*.test.gov.vn") == 0
       && c->mode_table[2].mode == MODE_OFF, "ModeTable read in order");
    ok(c->exempt.n == 2 && strcmp(c->exempt.v[0], "noreply@example.gov.vn") == 0
       && strcmp(c->exempt.v[1], "*@bulk.gov.vn") == 0, "ExemptAddresses from a file");
    ok(c->local_domains.n == 2, "LocalDomains with a comma");
    ok(c->doc_types == (DOC_PDF | DOC_P7S | DOC_P7M | DOC_OFFICE | DOC_OLE),
       "DocumentTypes with aliases");
    ok(c->require == REQUIRE_PERSONAL_ORG && c->on_unsigned == ACTION_QUARANTINE
       && c->on_invalid == ACTION_TEMPFAIL && c->on_indeterminate == ACTION_ACCEPT
       && c->on_internal_error == ACTION_REJECT && c->on_unsupported == ACTION_ACCEPT
       && c->on_limit == ACTION_TEMPFAIL, "RequireSignature and the On-* actions");
    ok(c->notify == 0 && strcmp(c->notice_from, "kyso@hanoi.gov.vn") == 0
       && strcmp(c->notice_contact, "Phong CNTT (phong#3), 024 3825 0000") == 0
       && c->notice_rate_max == 5 && c->notice_rate_window == 600
       && strcmp(c->mta_command, "/usr/lib/sendmail -t") == 0,
       "notice keys ('#' inside a word kept, ' #' starts a comment)");
    ok(strcmp(c->store, "file:/srv/kyso?max_size=268435456") == 0,
       "Store, with the StoreMaxSize default as its option");
    ok(c->lim.max_message_size == 50u << 20 && c->lim.max_parts == 200
       && c->lim.max_depth == 8 && c->lim.max_doc_size == 1u << 30
       && c->lim.max_pdf_objects == 50000 && c->lim.max_signatures == 10, "limits set");
    config_free(c);
}

/* test_defaults - what a file with only the required keys means. */
static void test_defaults(void)
{
    char host[256] = "", from[300];
    kyso_config *c = load("  # nothing but what is required\n\n" REQUIRED);

    gethostname(host, sizeof host);
    snprintf(from, sizeof from, "postmaster@%s", host);
    ok(c != NULL, "the three required keys are enough (%s)", err);
    if (c == NULL)
        return;
    ok(c->socket_mode == 0660 && c->user_id == NULL && c->pid_file == NULL && c->syslog == 1
       && c->syslog_facility == LOG_MAIL && c->log_stderr == 0
       && strcmp(c->temp_dir, "/tmp") == 0 && c->spool_threshold == 4u << 20,
       "daemon defaults");
    ok(strcmp(c->node, host) == 0 && strcmp(c->authserv_id, host) == 0,
       "NodeName and AuthservID default to the host name");
    ok(c->intermediates == NULL && c->crls == NULL && c->revcheck == REVCHECK_OCSP_CRL
       && c->classes == NULL, "trust defaults");
    ok(c->ocsp_responders == NULL && c->revocation_timeout == 5000 && c->ocsp_tolerance == 300
       && c->crl_max_size == 32u << 20 && c->ocsp_nonce == 1 && !c->revocation_defer
       && c->on_revocation_unknown == ACTION_TEMPFAIL && c->revocation_max_defer == 86400,
       "revocation defaults: ocsp,crl, 5 s, 300 s, 32M, nonce, no defer");
    ok(c->enforce_domains.n == 0 && c->flow == FLOW_BOTH && c->mode == MODE_ENFORCE
       && c->mode_table == NULL && c->nmode_table == 0 && c->exempt.n == 0
       && c->local_domains.n == 0, "which-mail defaults");
    ok(c->doc_types == DOC_PDF && c->require == REQUIRE_ANY && c->on_unsigned == ACTION_REJECT
       && c->on_invalid == ACTION_REJECT && c->on_indeterminate == ACTION_TEMPFAIL
       && c->on_internal_error == ACTION_TEMPFAIL && c->on_unsupported == ACTION_REJECT
       && c->on_limit == ACTION_REJECT, "what-is-required defaults");
    ok(c->notify == 1 && strcmp(c->notice_from, from) == 0
       && strcmp(c->notice_contact, from) == 0 && c->notice_rate_max == 10
       && c->notice_rate_window == 3600 && strcmp(c->mta_command, "/usr/sbin/sendmail") == 0,
       "notice defaults (postmaster@host)");
    ok(c->lim.max_message_size == 100u << 20 && c->lim.max_doc_size == 64u << 20
       && c->lim.max_parts == 1000 && c->lim.max_depth == 20
       && c->lim.max_pdf_objects == 200000 && c->lim.max_signatures == 50, "limit defaults");
    ok(c->log_retention == 190 && c->audit_retention == 0 && c->redis_timeout == 200
       && strcmp(c->redis_spool, "/var/spool/kyso") == 0
       && c->store_max_size == 256u << 20
       && strcmp(c->store, "file:/var/lib/kyso?max_size=268435456") == 0,
       "record defaults (LogRetention 190, AuditRetention 0, RedisTimeout 200, RedisSpool, "
       "StoreMaxSize 256M)");
    ok(strcmp(action_name(ACTION_QUARANTINE), "quarantine") == 0
       && strcmp(mode_name(MODE_MONITOR), "monitor") == 0, "action_name, mode_name");
    config_free(c);
}

/* test_redis_store - a Redis Store is accepted, and store_open gets the
 * Redis keys as options of its URI. */
static void test_redis_store(void)
{
    char want[512];
    kyso_config *c = load("Socket inet:8891@127.0.0.1\nTrustAnchors /etc/kyso/ca.pem\n"
                          "Store REDIS://kyso:p%40ss@127.0.0.1:6379/2\n"
                          "NodeName mx1.hanoi.gov.vn\n");

    ok(c != NULL, "Store redis://USER:PASS@HOST:PORT/DB loads (%s)", err);
    ok(c && strcmp(c->store, "redis://kyso:p%40ss@127.0.0.1:6379/2?timeout=200&retention=190"
                   "&audit_retention=0&node=mx1.hanoi.gov.vn&spool=/var/spool/kyso") == 0,
       "the scheme in lower case, the defaults added as options (%s)", c ? c->store : "");
    config_free(c);
    c = load("Socket inet:8891@127.0.0.1\nTrustAnchors /etc/kyso/ca.pem\nNodeName mx2\n"
             "Store sentinel://10.0.0.1:26379,[2001:db8::1]:26379,s3/kyso-master?replicas=0\n"
             "RedisTimeout 500\nLogRetention 365\nAuditRetention 3650\n"
             "RedisSpool /var/spool/kyso milter\n");
    snprintf(want, sizeof want, "sentinel://10.0.0.1:26379,[2001:db8::1]:26379,s3/kyso-master"
             "?replicas=0&timeout=500&retention=365&audit_retention=3650&node=mx2"
             "&spool=/var/spool/kyso%%20milter");
    ok(c != NULL, "Store sentinel://HOSTS/MASTER?replicas=0 loads (%s)", err);
    ok(c && strcmp(c->store, want) == 0 && c->redis_timeout == 500 && c->log_retention == 365
       && c->audit_retention == 3650, "the keys become options, the spool path escaped (%s)",
       c ? c->store : "");
    config_free(c);
}

/* test_errors - the message for each kind of mistake in the file. */
static void test_errors(void)
{
    ok(fails_with(REQUIRED "\n# watch\nEnforceDomain gov.vn\n", 6,
                  "unknown key \"EnforceDomain\" (did you mean EnforceDomains?)"),
       "unknown key with a suggestion, at its line");
    ok(fails_with(REQUIRED "Frobnicate yes\n", 4, "unknown key \"Frobnicate\"; see"),
       "unknown key far from any: no suggestion");
    ok(fails_with(REQUIRED "mode enforced\n", 4,
                  "Mode \"enforced\" is not valid; use off, monitor or enforce"), "bad enum");
    ok(fails_with(REQUIRED "On-Unsigned bounce\n", 4,
                  "use accept, reject, tempfail or quarantine"), "bad action");
    ok(fails_with(REQUIRED "Syslog maybe\n", 4, "use yes or no"), "bad boolean");
    ok(fails_with(REQUIRED "RevocationCheck ocsp+crl\n", 4,
                  "RevocationCheck \"ocsp+crl\" is not valid; use ocsp,crl"),
       "bad RevocationCheck lists the forms");
    ok(fails_with(REQUIRED "RevocationTimeout 10\n", 4, "RevocationTimeout 10 is out of range"),
       "RevocationTimeout below 100 ms refused");
    ok(fails_with(REQUIRED "OCSPResponder /x\n", 4, "(did you mean OCSPResponders?)"),
       "OCSPResponder: did you mean");
    ok(fails_with(REQUIRED "OCSPResponders relative.table\n", 4, "want an absolute path"),
       "OCSPResponders wants an absolute path");
    ok(fails_with(REQUIRED "MaxMessageSize 10MB\n", 4, "MaxMessageSize \"10MB\": want a size"),
       "bad size suffix");
    ok(fails_with(REQUIRED "MaxParts 0\n", 4, "MaxParts 0 is out of range; use 1 to"),
       "zero limit refused");
    ok(fails_with(REQUIRED "MaxDepth 100000\n", 4, "out of range"), "absurd limit refused");
    ok(fails_with(REQUIRED "SocketMode 0689\n", 4, "want octal"), "bad octal");
    ok(fails_with(REQUIRED "NoticeRateLimit 10 per hour\n", 4, "want N/SECONDS"),
       "bad rate");
    ok(fails_with("Socket inet:8891@127.0.0.1\nStore file:/var/lib/kyso\n", 0,
                  "missing required key TrustAnchors; add e.g."), "missing required key");
    ok(fails_with(REQUIRED "\nMode monitor\nmode enforce\n", 6,
                  "duplicate key Mode (first set at line 5)"), "duplicate key");
    ok(fails_with("Socket inet:8891\n", 1, "no @ADDR"), "socket without address");
    ok(fails_with("Socket inet:70000@127.0.0.1\n", 1, "PORT from 1 to 65535"),
       "socket port out of range");
    ok(fails_with("Socket local:kyso.sock\n", 1, "must be absolute"), "relative local socket");
    ok(fails_with("Socket tcp://127.0.0.1:8891\n", 1, "want inet:PORT@ADDR"),
       "socket of no known kind");
    ok(fails_with("Store redis://:secret@10.0.0.1:99999/0\n", 1, "Store: bad port"),
       "redis store with a bad port refused");
    ok(strstr(err, "secret") == NULL, "a redis URL (and its password) is not echoed");
    ok(fails_with("Store redis://secret@10.0.0.1/0\n", 1, "credentials must be USER:PASSWORD@")
       && strstr(err, "secret") == NULL, "credentials without a colon refused, not echoed");
    ok(fails_with("Store redis://10.0.0.1,10.0.0.2/0\n", 1, "use sentinel:// for several"),
       "redis:// with two servers refused");
    ok(fails_with("Store redis://10.0.0.1/db1\n", 1, "bad database number"), "bad database");
    ok(fails_with("Store sentinel://10.0.0.1:26379\n", 1, "name the master"),
       "sentinel without a master name refused");
    ok(fails_with("Store redis://10.0.0.1/0?timeout=5\n", 1, "the only option written in Store"),
       "options other than replicas refused, pointing to the keys");
    ok(fails_with("Store rediss://10.0.0.1/0\n", 1, "TLS (rediss://) is not available"),
       "rediss:// refused with the reason");
    ok(fails_with(REQUIRED "RedisTimeout 5\n", 4, "RedisTimeout 5 is out of range; use 10 to"),
       "RedisTimeout below 10 ms refused");
    ok(fails_with(REQUIRED "RedisSpool var/spool\n", 4, "want an absolute path"),
       "relative RedisSpool refused");
    ok(fails_with(REQUIRED "Mode\n", 4, "Mode has no value"), "key without a value");
    ok(fails_with(REQUIRED "EnforceDomains gov..vn\n", 4, "bad domain pattern \"gov..vn\""),
       "bad inline domain pattern");
    ok(fails_with(REQUIRED "ExemptAddresses a*b@gov.vn\n", 4, "bad address pattern"),
       "bad address pattern");
    ok(fails_with(REQUIRED "DocumentTypes pdf exe\n", 4, "unknown type \"exe\""),
       "bad document type");
    ok(fails_with(REQUIRED "CertificateClass uid MST:\n", 4, "want FIELD PREFIX CLASS"),
       "short CertificateClass");
    ok(fails_with(REQUIRED "CertificateClass uid MST: company\n", 4, "unknown class"),
       "CertificateClass error from cert-class");

}

/* test_file_errors - errors in list files and tables, and files that
 * others may write. */
static void test_file_errors(void)
{
    char head[400], text[512];
    const char *list, *table;

    list = put("domains", "# agencies\nhanoi.gov.vn\n\n*.hanoi.gov.vn\nbad_domain.vn\n");
    snprintf(text, sizeof text, REQUIRED "EnforceDomains %s\n", list);
    ok(load_fails(text) && err_is(list, ":5: EnforceDomains: bad domain pattern"),
       "bad list-file line names the list file and its line");
    table = put("modes", "*.gov.vn monitor\nhanoi.gov.vn enforce  extra\n");
    snprintf(text, sizeof text, REQUIRED "ModeTable %s\n", table);
    snprintf(head, sizeof head, "%s:2: ", table);
    ok(load_fails(text) && err_is(head, "want \"DOMAIN-PATTERN MODE\""),
       "bad ModeTable line names the table and its line");
    table = put("modes", "*.gov.vn monitor\n.gov.vn enforce\n");
    snprintf(text, sizeof text, REQUIRED "ModeTable %s\n", table);
    ok(load_fails(text) && err_is(head, "already listed at line 1"),
       "duplicate ModeTable pattern");
    snprintf(text, sizeof text, REQUIRED "ModeTable %s\n", path_of("absent"));
    ok(fails_with(text, 4, "cannot read"), "missing ModeTable file, at the key's line");

    put("kyso-milter.conf", REQUIRED);
    chmod(conf, 0666);
    snprintf(head, sizeof head, "%s: writable by others; chmod o-w %s", conf, conf);
    ok(config_load(conf, err, sizeof err) == NULL && strcmp(err, head) == 0,
       "a world-writable configuration is refused");
    list = put("domains", "gov.vn\n");
    chmod(list, 0646);
    snprintf(text, sizeof text, REQUIRED "LocalDomains %s\n", list);
    ok(fails_with(text, 4, "writable by others; chmod o-w"), "so is a world-writable list");
}

/* test_matching - domain and address patterns. */
static void test_matching(void)
{
    kyso_config *c = load(REQUIRED "EnforceDomains gov.vn *.hanoi.gov.vn\n"
                          "ExemptAddresses NoReply@gov.vn, *@*.bulk.vn @relay.vn\n"
                          "LocalDomains *\n");

    ok(c != NULL, "patterns load (%s)", err);
    if (c == NULL)
        return;
    ok(config_match_domain(&c->enforce_domains, "gov.vn"), "exact domain");
    ok(config_match_domain(&c->enforce_domains, "GOV.VN."), "any case, one trailing dot");
    ok(!config_match_domain(&c->enforce_domains, "xgov.vn"), "xgov.vn is not gov.vn");
    ok(!config_match_domain(&c->enforce_domains, "a.gov.vn"), "exact does not take subdomains");
    ok(config_match_domain(&c->enforce_domains, "sotc.Hanoi.gov.vn"), "*.x takes a subdomain");
    ok(!config_match_domain(&c->enforce_domains, "hanoi.gov.vn"), "*.x does not take x");
    ok(!config_match_domain(&c->enforce_domains, "xhanoi.gov.vn"), "*.x needs the dot");
    ok(config_match_domain(&c->local_domains, "anything.example")
       && !config_match_domain(&c->local_domains, ""), "* takes any domain, not an empty one");
    ok(config_match_address(&c->exempt, "noreply@GOV.vn"), "user@domain, any case");
    ok(!config_match_address(&c->exempt, "other@gov.vn"), "another user does not match");
    ok(config_match_address(&c->exempt, "x@a.bulk.vn")
       && !config_match_address(&c->exempt, "x@bulk.vn"), "*@*.domain");
    ok(config_match_address(&c->exempt, "anyone@relay.vn."), "@domain is *@domain");
    ok(!config_match_address(&c->exempt, "") && !config_match_address(&c->exempt, "relay.vn"),
       "null sender and a bare domain match nothing");
    config_free(c);

}

/* test_table_mode - the most specific ModeTable entry wins. */
static void test_table_mode(void)
{
    const char *modes = put("modes", "*.gov.vn monitor\nhanoi.gov.vn off\n"
                            "*.hanoi.gov.vn enforce\n* off\n");
    char text[512];
    kyso_mode m = MODE_OFF;
    kyso_config *c;

    snprintf(text, sizeof text, REQUIRED "ModeTable %s\n", modes);
    c = load(text);
    ok(c != NULL, "a ModeTable loads (%s)", err);
    if (c == NULL)
        return;
    ok(config_table_mode(c, "hanoi.gov.vn", &m) && m == MODE_OFF, "exact beats wildcards");
    ok(config_table_mode(c, "sotc.hanoi.gov.vn", &m) && m == MODE_ENFORCE,
       "longer wildcard beats shorter");
    ok(config_table_mode(c, "danang.gov.vn", &m) && m == MODE_MONITOR, "shorter wildcard");
    ok(config_table_mode(c, "example.com", &m) && m == MODE_OFF, "* last");
    config_free(c);
    c = load(REQUIRED);
    m = MODE_MONITOR;
    ok(c != NULL && !config_table_mode(c, "gov.vn", &m) && m == MODE_MONITOR,
       "no table: no mode, *mode untouched");
    config_free(c);
}

static const char *const ca_ext[] = {
    "basicConstraints", "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign", NULL
};

/* test_verifier - config_build_verifier: trust, limits, rules, errors. */
/* test_revocation_keys - the revocation keys, the OCSPResponders table
 * (its errors name its own file and line) and what the verifier gets. */
static void test_revocation_keys(const char *anchors)
{
    char text[1024], table[200], want[300];
    kyso_verifier v;
    kyso_config *c;
    FILE *f;

    snprintf(table, sizeof table, "%s", path_of("responders.table"));
    f = fopen(table, "w");
    fprintf(f, "# issuer  responder\nsha256:%064d http://ocsp.ca.gov.vn/\n"
            "O=Ban Co yeu Chinh phu, CN=CA phuc vu cac co quan  http://ocsp2.ca.gov.vn\n"
            "http://dead.example/ocsp  http://ocsp.ca.gov.vn/\n"
            "http://old.example/ocsp none\n", 0);
    fclose(f);
    chmod(table, 0644);
    snprintf(text, sizeof text, "Socket inet:8891@127.0.0.1\nTrustAnchors %s\nStore file:/x\n"
             "RevocationCheck crl, ocsp\nOCSPResponders %s\nRevocationTimeout 800\n"
             "OCSPTolerance 60\nCRLMaxSize 2M\nOCSPNonce no\nOn-RevocationUnknown reject\n"
             "RevocationMaxDefer 7200\n", anchors, table);
    c = load(text);
    memset(&v, 0, sizeof v);
    ok(c != NULL && c->revcheck == REVCHECK_CRL_OCSP && ocsp_table_count(c->ocsp_responders) == 4
       && c->revocation_timeout == 800 && c->ocsp_tolerance == 60 && c->crl_max_size == 2u << 20
       && !c->ocsp_nonce && c->revocation_defer && c->on_revocation_unknown == ACTION_REJECT
       && c->revocation_max_defer == 7200, "revocation keys and the OCSPResponders table");
    ok(c != NULL && config_build_verifier(c, &v, err, sizeof err) == 0
       && v.rev.order[0] == REVSRC_CRL && v.rev.order[1] == REVSRC_OCSP
       && v.rev.timeout_ms == 800 && v.rev.tolerance == 60 && v.rev.nonce == 0
       && ocsp_table_count(v.rev.responders) == 4 && v.rev.responders != c->ocsp_responders
       && v.rev.cache != NULL && v.rev.refresh, "the verifier gets them (its own table copy)");
    if (v.trust)
        verifier_free(&v);
    config_free(c);
    f = fopen(table, "w");
    fprintf(f, "sha256:abcd http://x/\n");
    fclose(f);
    snprintf(text, sizeof text, "Socket inet:8891@127.0.0.1\nTrustAnchors %s\nStore file:/x\n"
             "OCSPResponders %s\n", anchors, table);
    c = load(text);
    snprintf(want, sizeof want, "%s:1: issuer \"sha256:abcd\" is neither", table);
    ok(c == NULL && strstr(err, want) != NULL, "a bad table line: FILE:LINE and why (%s)", err);
    f = fopen(table, "w");
    fprintf(f, "O=X,CN=Y ftp://x/\n");
    fclose(f);
    c = load(text);
    ok(c == NULL && strstr(err, "is not an http:// or https:// URL") != NULL,
       "a responder that is not http(s) is refused");
    unlink(table);
}

static void test_verifier(void)
{
    EVP_PKEY *k = pki_key_ec();
    X509 *root = pki_cert("CN=Kyso Config Test Root/O=Kyso Test", NULL, NULL, k, 1,
                          -PKI_DAY, 365 * PKI_DAY, ca_ext, NULL);
    char anchors[200], text[512], want[300];
    kyso_verifier v;
    kyso_config *c;

    memset(&v, 0, sizeof v);
    snprintf(anchors, sizeof anchors, "%s", path_of("anchors.pem"));
    pki_write_certs(anchors, &root, 1);
    snprintf(text, sizeof text, "Socket inet:8891@127.0.0.1\nTrustAnchors %s\nStore file:/x\n"
             "RevocationCheck none\nCertificateClass ou Phong personal\nMaxParts 7\n", anchors);
    c = load(text);
    ok(c != NULL && config_build_verifier(c, &v, err, sizeof err) == 0,
       "a verifier is built (%s)", err);
    if (c != NULL && v.trust != NULL) {
        ok(v.rev_missing == REVMISSING_IGNORE && v.lim.max_parts == 7 && v.classes != NULL
           && v.classes != c->classes, "limits, revocation rule and its own class rules");
        verifier_free(&v);
    }
    config_free(c);
    test_revocation_keys(anchors);
    c = load(REQUIRED);
    ok(c != NULL && config_build_verifier(c, &v, err, sizeof err) < 0 && v.trust == NULL
       && err_is("TrustAnchors /etc/kyso/ca.pem: ", strerror(ENOENT)),
       "a bad TrustAnchors names the key and the file");
    config_free(c);
    snprintf(text, sizeof text, "Socket inet:8891@127.0.0.1\nTrustAnchors %s\nStore file:/x\n"
             "CRLs %s\n", anchors, path_of("absent.pem"));
    c = load(text);
    snprintf(want, sizeof want, "CRLs %s: ", path_of("absent.pem"));
    ok(c != NULL && config_build_verifier(c, &v, err, sizeof err) < 0 && v.trust == NULL
       && err_is(want, strerror(ENOENT)), "so does a bad CRLs");
    config_free(c);
    unlink(anchors);
    X509_free(root);
    EVP_PKEY_free(k);
}

/* read_all - the whole of PATH plus room for EXTRA more bytes, or NULL. */
static char *read_all(const char *path, size_t extra)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0
        && (text = calloc(1, (size_t)n + extra + 1)) != NULL
        && fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

/* test_sample - conf/kyso-milter.conf loads once the three required keys
 * are added, and so does conf/modes.table as its ModeTable (skipped
 * without $top_srcdir). */
static void test_sample(void)
{
    const char *top = getenv("top_srcdir");
    char path[PATH_MAX], table[PATH_MAX], tail[PATH_MAX + 300], *text;
    kyso_config *c;
    kyso_mode m = MODE_OFF;

    if (top == NULL) {
        printf("ok %d - # SKIP top_srcdir is not set\n", ++tap_n);
        return;
    }
    snprintf(path, sizeof path, "%s/conf/kyso-milter.conf", top);
    text = read_all(path, sizeof tail);
    ok(text != NULL, "the sample %s can be read", path);
    if (text == NULL)
        return;
    strcat(text, "\n" REQUIRED);
    c = load(text);
    ok(c != NULL && c->mode == MODE_ENFORCE && c->enforce_domains.n == 0,
       "the sample loads with Socket, TrustAnchors, Store added (%s)", err);
    config_free(c);
    snprintf(path, sizeof path, "%s/conf/modes.table", top);
    if (realpath(path, table) == NULL)
        snprintf(table, sizeof table, "%s", path);
    snprintf(tail, sizeof tail, "ModeTable %s\n", table);
    strcat(text, tail);
    c = load(text);
    ok(c != NULL && config_table_mode(c, "sotttt.hanoi.gov.vn", &m) && m == MODE_ENFORCE
       && config_table_mode(c, "quan1.hanoi.gov.vn", &m) && m == MODE_MONITOR,
       "the sample modes.table loads and applies (%s)", err);
    config_free(c);
    free(text);
}

int main(void)
{
    const char *names[] = { "kyso-milter.conf", "modes", "exempt", "domains", "anchors.pem", NULL };
    int i;

    strcpy(dir, "/tmp/kyso-config-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(conf, sizeof conf, "%s/kyso-milter.conf", dir);
    test_full();
    test_defaults();
    test_redis_store();
    test_errors();
    test_file_errors();
    test_matching();
    test_table_mode();
    test_verifier();
    test_sample();
    for (i = 0; names[i] != NULL; i++)
        unlink(path_of(names[i]));
    rmdir(dir);
    return tap_done();
}
