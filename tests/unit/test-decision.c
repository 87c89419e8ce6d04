/*
 * test-decision.c - the decision record: reference ids (format, uniqueness
 * across threads and processes), the JSON line (parsed back by Python's
 * json module, an independent reader) and the syslog line (ASCII, quoting,
 * clean truncation).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decision.h"
#include "tap.h"

#define NREFS 10000

static char tmpdir[64];

static int cmp_ref(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* count_dups - sort N refs of 16 bytes and count equal neighbours. */
static size_t count_dups(char (*refs)[16], size_t n)
{
    size_t d = 0;
    qsort(refs, n, 16, cmp_ref);
    for (size_t i = 1; i < n; i++)
        d += strcmp(refs[i - 1], refs[i]) == 0;
    return d;
}

static void test_ref_format(void)
{
    const char *alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    char ref[32];
    int good = 1;
    for (int i = 0; i < 1000; i++) {
        decision_make_ref(ref, sizeof ref);
        if (strncmp(ref, "KS-", 3) != 0 || strlen(ref) != 15
            || strspn(ref + 3, alphabet) != 12 || strpbrk(ref + 3, "ILOU") != NULL)
            good = 0;
    }
    ok(good, "ref is KS- and 12 Crockford base32 characters (last: %s)", ref);
    char small[8] = "xxxxxxx";
    decision_make_ref(small, sizeof small);
    ok(small[0] == '\0', "ref into a too small buffer is empty, not cut");
}

static void test_ref_unique(void)
{
    static char refs[NREFS][16];
    for (int i = 0; i < NREFS; i++)
        decision_make_ref(refs[i], sizeof refs[i]);
    ok(count_dups(refs, NREFS) == 0, "%d refs in a row are all different", NREFS);
}

static void *ref_thread(void *arg)
{
    char (*refs)[16] = arg;
    for (int i = 0; i < NREFS / 4; i++)
        decision_make_ref(refs[i], 16);
    return NULL;
}

static void test_ref_threads(void)
{
    static char refs[NREFS][16];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, ref_thread, refs + i * (NREFS / 4));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ok(count_dups(refs, NREFS) == 0, "4 threads x %d refs: all different", NREFS / 4);
}

/* test_ref_processes - two children started together write their refs to
 * one file each; none of the 2 x NREFS may repeat. */
static void test_ref_processes(void)
{
    static char refs[2 * NREFS][16];
    char path[2][128];
    pid_t pid[2];
    for (int c = 0; c < 2; c++) {
        snprintf(path[c], sizeof path[c], "%s/refs%d", tmpdir, c);
        pid[c] = fork();
        if (pid[c] == 0) {
            FILE *f = fopen(path[c], "w");
            char ref[16];
            for (int i = 0; f && i < NREFS; i++) {
                decision_make_ref(ref, sizeof ref);
                fprintf(f, "%s\n", ref);
            }
            _exit(f && fclose(f) == 0 ? 0 : 1);
        }
    }
    int good = 1, n = 0;
    for (int c = 0; c < 2; c++) {
        int st;
        good &= waitpid(pid[c], &st, 0) == pid[c] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        FILE *f = fopen(path[c], "r");
        char line[64];
        while (f && n < 2 * NREFS && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            if (strlen(line) != 15)
                good = 0;
            else
                memcpy(refs[n++], line, 16);
        }
        if (f)
            fclose(f);
        unlink(path[c]);
    }
    ok(good && n == 2 * NREFS, "two processes made %d refs", n);
    ok(count_dups(refs, (size_t)n) == 0, "no ref of one process repeats in the other");
}

/* ------------------------------------------------------------------ JSON */

/* The checker: argv[1] a JSON line, argv[2] the case; prints one line
 * "1 name" or "0 name" per check.  Expected values come from the records
 * built below, not from any output. */
static const char checker[] =
    "import json, re, sys, datetime\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "case = sys.argv[2]\n"
    "def check(name, f):\n"
    "    try: r = bool(f())\n"
    "    except Exception as e: r = False; name += ' (' + repr(e) + ')'\n"
    "    print(('1 ' if r else '0 ') + name)\n"
    "d = json.loads(raw.decode('utf-8'))\n"
    "check('one line, no newline', lambda: b'\\n' not in raw)\n"
    "check('keys in contract order', lambda: list(d) == ['time', 'node', 'queue_id',\n"
    "  'message_id', 'client', 'auth_user', 'env_from', 'hdr_from', 'subject', 'rcpts',\n"
    "  'flow', 'mode', 'action', 'would', 'reason', 'detail', 'ref', 'smtp_reply', 'notice',\n"
    "  'documents', 'smime', 'applied', 'elapsed_ms'])\n"
    "rx = r'^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d\\d:\\d\\d$'\n"
    "check('time is ISO 8601 with ms and offset', lambda: re.match(rx, d['time']))\n"
    "check('time is the instant recorded', lambda: abs(datetime.datetime.fromisoformat(\n"
    "  d['time']).timestamp() - 1795934563.123) < 0.0005)\n"
    "if case == 'full':\n"
    "  check('offset is local (+07:00)', lambda: d['time'].endswith('.123+07:00'))\n"
    "  check('node', lambda: d['node'] == 'gw1' and d['queue_id'] == '4XyZ12')\n"
    "  check('NULL strings are null', lambda: d['message_id'] is None and\n"
    "    d['auth_user'] is None and d['hdr_from'] is None and d['would'] is None)\n"
    "  check('client', lambda: d['client'] == {'addr': '192.0.2.1', 'name': 'mx.so.vn'})\n"
    "  check('rcpts array', lambda: d['rcpts'] == ['a@so.gov.vn', 'b@bo.gov.vn'])\n"
    "  subj = 'C\\u00f4ng v\\u0103n s\\u1ed1 12\\x01 v\\u1ec1 \"h\\u1ecdp\"'\n"
    "  check('subject survives', lambda: d['subject'] == subj)\n"
    "  check('subject kept as UTF-8', lambda: 'Công văn số'.encode() in raw)\n"
    "  check('control char escaped', lambda: b'\\x01' not in raw and b'\\\\u0001' in raw)\n"
    "  check('flow/mode/action', lambda: (d['flow'], d['mode'], d['action'], d['reason'])\n"
    "    == ('inbound', 'enforce', 'reject', 'missing_org_signature'))\n"
    "  check('ref and reply', lambda: d['ref'].startswith('KS-') and\n"
    "    d['smtp_reply'] == '5.7.1 Van ban chua ky so')\n"
    "  check('notice sent', lambda: d['notice'] == {'sent': True, 'why': None})\n"
    "  docs = d['documents']\n"
    "  check('two documents', lambda: len(docs) == 2)\n"
    "  a, b = docs[0], docs[1]\n"
    "  check('doc 1 policy reason', lambda: a['name'] == 'CV 12.pdf' and a['kind'] == 'pdf'\n"
    "    and a['reason'] == 'missing_org_signature' and a['verdict'] == 'invalid')\n"
    "  check('doc 1 engine reason', lambda: a['engine_reason'] == 'ok')\n"
    "  check('doc 1 counted, action', lambda: a['counted'] is True and a['action'] == 'reject')\n"
    "  s = a['signatures']\n"
    "  check('doc 1 signature', lambda: len(s) == 1 and s[0]['reason'] == 'ok' and\n"
    "    s[0]['signer']['subject'] == 'CN=Nguy\\u1ec5n V\\u0103n A' and\n"
    "    s[0]['signer']['class'] == 'personal' and s[0]['field'] == 'Sig1')\n"
    "  check('doc 1 attachments', lambda: a['attachments'] == [])\n"
    "  check('doc 2 same reason: no engine_reason', lambda: 'engine_reason' not in b\n"
    "    and b['reason'] == 'ok' and b['verdict'] == 'valid')\n"
    "  check('doc 2 not counted, accept', lambda: b['counted'] is False and\n"
    "    b['action'] == 'accept' and b['name'] is None and b['kind'] == 'other')\n"
    "  check('smime: its signatures', lambda: len(d['smime']) == 1 and\n"
    "    d['smime'][0]['subfilter'] == 'smime' and d['smime'][0]['reason'] == 'cert_expired'\n"
    "    and d['smime'][0]['signer']['email'] == 'vanthu@so.gov.vn')\n"
    "  check('applied', lambda: d['applied'] == ['organisation: CN=So A'])\n"
    "  check('elapsed_ms', lambda: d['elapsed_ms'] == 42)\n"
    "else:\n"
    "  check('negative offset', lambda: d['time'].endswith('.123-03:30'))\n"
    "  nul = ['node', 'queue_id', 'message_id', 'auth_user', 'hdr_from', 'subject', 'flow',\n"
    "    'mode', 'action', 'would', 'reason', 'detail', 'ref', 'smtp_reply']\n"
    "  check('all NULL strings null', lambda: all(d[k] is None for k in nul))\n"
    "  check('empty sender is \"\"', lambda: d['env_from'] == '')\n"
    "  check('client of NULLs', lambda: d['client'] == {'addr': None, 'name': None})\n"
    "  check('no rcpts: []', lambda: d['rcpts'] == [] and d['documents'] == [])\n"
    "  check('smime null', lambda: d['smime'] is None and d['applied'] == [])\n"
    "  check('notice due, not sent', lambda: d['notice'] == {'sent': False,\n"
    "    'why': 'rate limit'})\n"
    "  check('negative elapsed kept', lambda: d['elapsed_ms'] == -1)\n";

/* run_checker - JSON through the checker; one ok() per line it prints.
 * Returns how many lines it printed. */
static int run_checker(const char *json, const char *name)
{
    char jpath[128], ppath[128], cmd[512], line[512];
    snprintf(jpath, sizeof jpath, "%s/%s.json", tmpdir, name);
    snprintf(ppath, sizeof ppath, "%s/check.py", tmpdir);
    FILE *f = fopen(jpath, "w");
    FILE *p = fopen(ppath, "w");
    if (f) fputs(json, f), fclose(f);
    if (p) fputs(checker, p), fclose(p);
    snprintf(cmd, sizeof cmd, "python3 %s %s %s 2>&1", ppath, jpath, name);
    FILE *out = popen(cmd, "r");
    int n = 0;
    while (out && fgets(line, sizeof line, out)) {
        line[strcspn(line, "\n")] = '\0';
        ok(line[0] == '1' && line[1] == ' ', "json %s: %s", name, line);
        n++;
    }
    if (out)
        pclose(out);
    unlink(jpath);
    unlink(ppath);
    return n;
}

static kyso_sig_result pdf_sig = {
    .reason = REASON_OK, .subfilter = "adbe.pkcs7.detached", .field = "Sig1",
    .coverage = "whole", .signing_time = "2026-11-30T10:00:00+07:00",
    .signer = { .subject = "CN=Nguy\xe1\xbb\x85n V\xc4\x83n A", .issuer = "CN=CA",
                .serial = "0A1B", .cls = CLASS_PERSONAL },
};
static kyso_sig_result smime_sig = {
    .reason = REASON_CERT_EXPIRED, .subfilter = "smime",
    .signer = { .subject = "CN=So A", .email = "vanthu@so.gov.vn",
                .cls = CLASS_ORGANISATION },
};
static kyso_doc_result pdf_doc = {
    .name = "CV 12.pdf", .kind = KIND_PDF, .reason = REASON_OK, .sigs = &pdf_sig, .nsigs = 1,
};
static kyso_doc_result other_doc = { .kind = KIND_OTHER, .reason = REASON_OK };
static kyso_doc_result msg_doc = {
    .kind = KIND_MESSAGE, .reason = REASON_CERT_EXPIRED, .sigs = &smime_sig, .nsigs = 1,
    .atts = &pdf_doc, .natts = 1,
};
static const char *const rcpts[] = { "a@so.gov.vn", "b@bo.gov.vn" };
static const char *const applied[] = { "organisation: CN=So A" };
static kyso_doc_decision docs[] = {
    { .doc = &pdf_doc, .counted = 1, .reason = REASON_MISSING_ORG_SIGNATURE, .action = 1 },
    { .doc = &other_doc, .counted = 0, .reason = REASON_OK, .action = 0 },
};

/* full_record - every field set; SUBJECT has a control character. */
static kyso_decision_rec full_record(char *ref)
{
    decision_make_ref(ref, 16);
    kyso_decision_rec r = {
        .time = { .tv_sec = 1795934563, .tv_usec = 123456 },
        .node = "gw1", .queue_id = "4XyZ12", .client_addr = "192.0.2.1",
        .client_name = "mx.so.vn", .env_from = "vanthu@so.gov.vn",
        .subject = "C\xc3\xb4ng v\xc4\x83n s\xe1\xbb\x91 12\x01 v\xe1\xbb\x81 "
                   "\"h\xe1\xbb\x8dp\"",
        .rcpts = rcpts, .nrcpts = 2, .flow = "inbound", .mode = "enforce",
        .action = "reject", .reason = "missing_org_signature", .ref = ref,
        .smtp_reply = "5.7.1 Van ban chua ky so", .notice_sent = 1,
        .smime = &msg_doc, .docs = docs, .ndocs = 2, .applied = applied, .napplied = 1,
        .elapsed_ms = 42,
    };
    return r;
}

static void test_json(void)
{
    char ref[16];
    setenv("TZ", "ICT-7", 1);
    tzset();
    kyso_decision_rec r = full_record(ref);
    char *j = decision_to_json(&r);
    ok(j != NULL, "decision_to_json gives a line");
    ok(run_checker(j ? j : "", "full") == 26, "every check of the full record ran");
    free(j);

    setenv("TZ", "XST+3:30", 1);
    tzset();
    kyso_decision_rec e = {
        .time = { .tv_sec = 1795934563, .tv_usec = 123999 }, .env_from = "",
        .notice_sent = -1, .notice_why = "rate limit", .elapsed_ms = -1,
    };
    j = decision_to_json(&e);
    ok(j != NULL, "decision_to_json of a record of NULLs");
    ok(run_checker(j ? j : "", "nulls") == 12, "every check of the NULL record ran");
    free(j);
}

/* ---------------------------------------------------------------- syslog */

/* escapes_sound - every backslash starts \" \\ or \xHH, quotes balance,
 * every byte printable ASCII. */
static int escapes_sound(const char *s)
{
    int quotes = 0;
    for (const char *p = s; *p; p++) {
        if (*p < 0x20 || *p > 0x7e)
            return 0;
        if (*p == '"')
            quotes++;
        if (*p != '\\')
            continue;
        if (p[1] == '"' || p[1] == '\\')
            p++;
        else if (p[1] == 'x' && strchr("0123456789ABCDEF", p[2]) && p[2]
                 && strchr("0123456789ABCDEF", p[3]) && p[3])
            p += 3;
        else
            return 0;
    }
    return quotes % 2 == 0;
}

static void test_syslog(void)
{
    char ref[16], full[1024], cut[1024];
    kyso_decision_rec r = full_record(ref);
    kyso_doc_result odd = { .name = "C\xc3\xb4ng \"v\\n\"\n.pdf", .kind = KIND_PDF };
    kyso_doc_decision d2[] = {
        { .doc = &other_doc, .reason = REASON_OK, .action = 0 },
        { .doc = &odd, .counted = 1, .reason = REASON_UNSIGNED, .action = 1 },
    };
    r.docs = d2;
    decision_to_syslog(&r, full, sizeof full);
    char want[256];
    snprintf(want, sizeof want, "4XyZ12: ref=%s action=reject reason=missing_org_signature "
             "mode=enforce from=<vanthu@so.gov.vn> rcpts=2 docs=2 "
             "bad=\"C\\xC3\\xB4ng \\\"v\\\\n\\\"\\x0A.pdf\" elapsed=42ms", ref);
    ok(strcmp(full, want) == 0, "syslog line: %s", full);
    ok(escapes_sound(full) && strchr(full, '\n') == NULL, "ASCII only, no newline");

    int good = 1, prefix = 1;
    size_t flen = strlen(full);
    for (size_t len = 1; len <= flen + 3; len++) {
        memset(cut, 'Z', sizeof cut);
        decision_to_syslog(&r, cut, len);
        size_t n = strlen(cut);
        if (n >= len || !escapes_sound(cut) || (len > flen && strcmp(cut, full) != 0))
            good = 0;
        /* a cut value gets its closing quote: all but it is a prefix */
        if (strncmp(cut, full, n) != 0
            && !(n > 0 && cut[n - 1] == '"' && strncmp(cut, full, n - 1) == 0))
            prefix = 0;
        if (len > 8 && strncmp(cut, "4XyZ12:", 7) != 0)
            prefix = 0;
        if (cut[n - (n > 0)] == '=')
            good = 0;
    }
    ok(good, "every length: fits, escapes whole, quotes closed, no dangling key=");
    ok(prefix, "every length: a prefix of the full line (plus a closing quote)");

    decision_to_syslog(&r, cut, 60);
    ok(strlen(cut) < 60 && strncmp(cut, full, strlen(cut)) == 0, "cut at 60: %s", cut);

    kyso_decision_rec e = { .env_from = "", .would = "reject", .mode = "monitor",
                            .action = "accept", .reason = "unsigned" };
    decision_to_syslog(&e, cut, sizeof cut);
    ok(strcmp(cut, "NOQUEUE: ref=- action=accept would=reject reason=unsigned "
                   "mode=monitor from=<> rcpts=0 docs=0 elapsed=0ms") == 0,
       "NOQUEUE, NULL as -, null sender <>, would: %s", cut);
    e.queue_id = "";
    e.env_from = "a b@x";
    decision_to_syslog(&e, cut, sizeof cut);
    ok(strncmp(cut, "NOQUEUE: ", 9) == 0 && strstr(cut, " from=\"<a b@x>\" ") != NULL,
       "a value with a space is quoted: %s", cut);
    cut[0] = 'Q';
    decision_to_syslog(&e, cut, 0);
    ok(cut[0] == 'Q', "len 0 writes nothing");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test-decision.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        ok(0, "mkdtemp");
        return tap_done();
    }
    test_ref_format();
    test_ref_unique();
    test_ref_threads();
    test_ref_processes();
    test_json();
    test_syslog();
    rmdir(tmpdir);
    return tap_done();
}
