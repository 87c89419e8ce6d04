/*
 * test-notice.c - the notice to the sender and the per-sender rate limit
 * (lib/notice.h): what the clerk reads once the notice is decoded, that no
 * value from the refused message can forge a header, that the MTA gets the
 * right argv and bytes and is bounded in time, and that the rate limit
 * counts per address, forgets after the window and stays bounded.
 * Must never leave files behind (all under one mkdtemp directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "notice.h"
#include "tap.h"

static char tmpdir[64];

/* ------------------------------------------------------------------ */
/* Small independent decoders                                          */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* qp_decode - RFC 2045 quoted-printable body (LF line ends) to bytes. */
static char *qp_decode(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    while (*s) {
        if (s[0] == '=' && s[1] == '\n') {
            s += 2;
        } else if (s[0] == '=' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 3;
        } else
            *o++ = *s++;
    }
    *o = '\0';
    return out;
}

static int b64val(int c)
{
    const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(t, c) : NULL;
    return p ? (int)(p - t) : -1;
}

/* b64_decode_into - decode N base64 chars of S, appending to O. */
static char *b64_decode_into(char *o, const char *s, size_t n)
{
    unsigned v = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        int d = b64val(s[i]);
        if (d < 0)
            continue;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (char)(v >> bits & 0xFF);
        }
    }
    return o;
}

/* ew_decode - an unfolded header value with "=?UTF-8?B?...?=" words (blanks
 * between adjacent words ignored, as RFC 2047 says) to UTF-8. */
static char *ew_decode(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    int prev_word = 0;
    while (*s) {
        if (strncasecmp(s, "=?UTF-8?B?", 10) == 0) {
            const char *end = strstr(s + 10, "?=");
            if (!end)
                break;
            o = b64_decode_into(o, s + 10, (size_t)(end - s - 10));
            s = end + 2;
            prev_word = 1;
            continue;
        }
        if (prev_word && (*s == ' ' || *s == '\t')) {
            const char *t = s;
            while (*t == ' ' || *t == '\t')
                t++;
            if (strncasecmp(t, "=?UTF-8?B?", 10) == 0) {
                s = t;
                continue;
            }
        }
        prev_word = 0;
        *o++ = *s++;
    }
    *o = '\0';
    return out;
}

/* header_get - the unfolded value of header NAME in HDRS, or NULL. */
static char *header_get(const char *hdrs, const char *name)
{
    size_t nl = strlen(name);
    for (const char *l = hdrs; *l; ) {
        const char *eol = strchr(l, '\n');
        if (!eol)
            eol = l + strlen(l);
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            char *v = malloc(strlen(l) + 1), *o = v;
            const char *p = l + nl + 1;
            while (*p == ' ')
                p++;
            for (;;) {
                while (p < eol)
                    *o++ = *p++;
                if (*eol == '\n' && (eol[1] == ' ' || eol[1] == '\t')) {
                    p = eol + 1;
                    eol = strchr(p, '\n');
                    if (!eol)
                        eol = p + strlen(p);
                } else
                    break;
            }
            *o = '\0';
            return v;
        }
        l = *eol ? eol + 1 : eol;
    }
    return NULL;
}

/* max_line - the longest line of S (bytes, LF ends). */
static size_t max_line(const char *s)
{
    size_t max = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\n') {
            cur = 0;
            continue;
        }
        if (++cur > max)
            max = cur;
    }
    return max;
}

/* line_starts - 1 when some line of S starts with PREFIX. */
static int line_starts(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *l = s; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncasecmp(l, prefix, n) == 0)
            return 1;
    return 0;
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static long pos_of(const char *s, const char *needle)
{
    const char *p = strstr(s, needle);
    return p ? (long)(p - s) : -1;
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* is_encoded_only - 1 when header value V is only encoded words and blanks. */
static int is_encoded_only(const char *v)
{
    while (*v) {
        if (*v == ' ' || *v == '\t') {
            v++;
            continue;
        }
        if (strncmp(v, "=?UTF-8?B?", 10) != 0)
            return 0;
        const char *end = strstr(v + 10, "?=");
        if (!end)
            return 0;
        v = end + 2;
    }
    return 1;
}

/* split_message - headers and body of MSG, both malloc'd; 0 or -1. */
static int split_message(const char *msg, char **hdrs, char **body)
{
    const char *sep = strstr(msg, "\n\n");
    if (!sep)
        return -1;
    *hdrs = strndup(msg, (size_t)(sep - msg + 1));
    *body = strdup(sep + 2);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Compose                                                             */

static char name_unsigned[] = "Quyết định 123.pdf";
static char name_changed[] = "Công văn 45\r\nX-Name: y.pdf";
static char name_ok[] = "Phụ lục kèm theo.pdf";
static char name_nc[] = "logo-co-quan.png";
static char detail_changed[] = "ByteRange digest differs\r\nX-Injected: 1";

#define REF "KS-0123456789AB"
#define CONTACT "hotro@gw.example.vn"

static const char *rcpt_list[25];
static char rcpt_store[25][40];

static void fill_notice(kyso_notice *n, kyso_doc_result *res, kyso_doc_decision *dd)
{
    memset(res, 0, 4 * sizeof *res);
    res[0].name = name_unsigned, res[0].kind = KIND_PDF, res[0].reason = REASON_UNSIGNED;
    res[1].name = name_changed, res[1].kind = KIND_PDF, res[1].reason = REASON_DIGEST_MISMATCH;
    res[1].detail = detail_changed;
    res[2].name = name_ok, res[2].kind = KIND_PDF, res[2].reason = REASON_OK;
    res[3].name = name_nc, res[3].kind = KIND_OTHER, res[3].reason = REASON_UNSIGNED;
    dd[0] = (kyso_doc_decision){ &res[0], 1, REASON_UNSIGNED, 1 };
    dd[1] = (kyso_doc_decision){ &res[1], 1, REASON_DIGEST_MISMATCH, 1 };
    dd[2] = (kyso_doc_decision){ &res[2], 1, REASON_OK, 0 };
    dd[3] = (kyso_doc_decision){ &res[3], 0, REASON_UNSIGNED, 0 };
    for (int i = 0; i < 25; i++) {
        snprintf(rcpt_store[i], sizeof rcpt_store[i], "rcpt%d@bo.example.vn", i + 1);
        rcpt_list[i] = rcpt_store[i];
    }
    memset(n, 0, sizeof *n);
    n->to = "sender@agency.example.vn";
    n->from = "Văn thư điện tử <vanthu@gw.example.vn>";
    n->contact = CONTACT;
    n->node = "gw1.example.vn";
    n->ref = REF;
    n->action = "reject";
    n->subject = "Báo cáo tháng 11/2023\r\nBcc: victim@example.org";
    n->date = "Mon, 13 Nov 2023 10:00:00 +0700";
    n->message_id = "<abc@agency.example.vn>\nX-Evil: 1";
    n->rcpts = rcpt_list;
    n->nrcpts = 25;
    n->docs = dd;
    n->ndocs = 4;
    n->now = 1699913600;        /* 2023-11-13 22:13:20 UTC */
}

static void check_headers(const char *hdrs)
{
    char *v;
    ok(max_line(hdrs) <= 78, "no header line passes 78 columns (longest %zu)", max_line(hdrs));
    ok(!line_starts(hdrs, "Bcc:"), "a Subject with \"\\nBcc:\" creates no Bcc header");
    ok(!line_starts(hdrs, "X-Evil:") && !line_starts(hdrs, "X-Name:")
       && !line_starts(hdrs, "X-Injected:"), "no other injected header");
    v = header_get(hdrs, "Subject");
    char *dec = v ? ew_decode(v) : NULL;
    ok(streq(dec, "Thư bị từ chối / Message refused: Báo cáo tháng 11/2023 "
                  "Bcc: victim@example.org"), "Subject decodes to the bilingual text: %s", dec);
    ok(v && is_encoded_only(v), "Subject is made of RFC 2047 encoded words only");
    free(dec), free(v);
    v = header_get(hdrs, "From");
    dec = v ? ew_decode(v) : NULL;
    ok(streq(dec, "Văn thư điện tử <vanthu@gw.example.vn>"), "From decodes: %s", dec);
    free(dec), free(v);
    struct { const char *name, *want; } exact[] = {
        { "To", "sender@agency.example.vn" },
        { "Date", "Tue, 14 Nov 2023 05:13:20 +0700" },
        { "Message-ID", "<" REF ".notice@gw1.example.vn>" },
        { "Auto-Submitted", "auto-replied" },
        { "X-Kyso-Notice", REF },
        { "MIME-Version", "1.0" },
        { "Content-Transfer-Encoding", "quoted-printable" },
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        v = header_get(hdrs, exact[i].name);
        ok(streq(v, exact[i].want), "%s: %s", exact[i].name, v ? v : "(missing)");
        free(v);
    }
    v = header_get(hdrs, "Content-Type");
    ok(v && strstr(v, "text/plain") && strcasestr(v, "charset=UTF-8"), "Content-Type: %s", v);
    free(v);
}

static void check_body(const char *raw, const char *body)
{
    ok(max_line(raw) <= 76, "encoded body lines <= 76 (longest %zu)", max_line(raw));
    long en = pos_of(body, "Dear sender");
    ok(pos_of(body, "Kính gửi") >= 0 && en > pos_of(body, "Kính gửi"),
       "Vietnamese part comes before the English part");
    ok(pos_of(body, "Thư của bạn CHƯA được gửi đến người nhận") >= 0
       && pos_of(body, "Thư của bạn CHƯA được gửi đến người nhận") < en,
       "says in Vietnamese that the message was NOT delivered");
    ok(pos_of(body, "has NOT been delivered") > en, "and in English");
    kyso_reason bad[] = { REASON_UNSIGNED, REASON_DIGEST_MISMATCH };
    for (int i = 0; i < 2; i++) {
        long vi = pos_of(body, reason_text_vi(bad[i])), e = pos_of(body, reason_text_en(bad[i]));
        ok(vi >= 0 && vi < en, "Vietnamese reason for %s listed", reason_name(bad[i]));
        ok(e > en, "English reason for %s listed after", reason_name(bad[i]));
    }
    ok(count_of(body, "Quyết định 123.pdf") == 2, "unsigned document named in both parts");
    ok(count_of(body, "Công văn 45 X-Name: y.pdf") == 2,
       "changed document named in both parts, its CR LF made a space");
    ok(!strstr(body, "Phụ lục kèm theo") && !strstr(body, "logo-co-quan"),
       "the valid and the not-counted documents are not listed as faults");
    ok(!strstr(body, reason_text_vi(REASON_OK)), "no 'valid' sentence among the faults");
    ok(strstr(body, "Chi tiết kỹ thuật: ByteRange digest differs X-Injected: 1") != NULL,
       "technical detail shown, labelled, controls removed");
    ok(!line_starts(body, "X-Injected") && !line_starts(body, "X-Evil"),
       "no decoded body line starts with an injected text");
    ok(strstr(body, "Ký lại bản gốc") && strstr(body, "không sửa văn bản sau khi đã ký"),
       "advice for a changed document: sign the original again, do not edit after signing");
    ok(strstr(body, "Ký số văn bản") && strstr(body, "rồi gửi lại"),
       "advice for an unsigned document: sign, then send again");
    ok(strstr(body, "Sign the original again") != NULL, "English advice present");
    ok(count_of(body, REF) >= 4, "reference id shown (fields and contact sentence, twice)");
    ok(strstr(body, "Mã tra cứu: " REF) && strstr(body, "Reference: " REF),
       "reference labelled Mã tra cứu / Reference");
    ok(strstr(body, "Nếu bạn cho rằng đây là nhầm lẫn, xin liên hệ " CONTACT)
       && strstr(body, "If you believe this is a mistake, contact " CONTACT), "contact given");
    ok(strstr(body, "gw1.example.vn") != NULL, "gateway named");
    ok(strstr(body, "Báo cáo tháng 11/2023 Bcc: victim@example.org") != NULL,
       "original subject shown, on one line");
    ok(strstr(body, "Mon, 13 Nov 2023 10:00:00 +0700") != NULL, "original date shown");
    ok(strstr(body, "<abc@agency.example.vn> X-Evil: 1") != NULL, "message id shown, cleaned");
    ok(strstr(body, "rcpt20@bo.example.vn") && !strstr(body, "rcpt21@"),
       "at most 20 recipients listed");
    ok(strstr(body, "và 5 người nhận khác") && strstr(body, "and 5 other recipients"),
       "the others counted");
}

/* python_oracle - let Python's email package decode MSG; 1 when its
 * subject and body equal SUBJECT and BODY, 0 when not, -1 without python. */
static int python_oracle(const char *msg, const char *subject, const char *body)
{
    char path[128], out[128], cmd[512];
    snprintf(path, sizeof path, "%s/notice.eml", tmpdir);
    snprintf(out, sizeof out, "%s/decoded", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(msg, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "python3 -c 'import sys,email,email.policy\n"
             "m=email.message_from_binary_file(open(sys.argv[1],\"rb\"),policy=email.policy.default)\n"
             "sys.stdout.buffer.write((m[\"subject\"]+\"\\0\"+m.get_content()).encode())'"
             " %s > %s 2>/dev/null", path, out);
    if (system(cmd) != 0)
        return -1;
    f = fopen(out, "rb");
    if (!f)
        return -1;
    static char got[65536];
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = '\0';
    unlink(out);
    unlink(path);
    return strcmp(got, subject) == 0 && strcmp(got + strlen(got) + 1, body) == 0;
}

static void test_compose(void)
{
    kyso_notice n;
    kyso_doc_result res[4];
    kyso_doc_decision dd[4];
    fill_notice(&n, res, dd);
    size_t len = 0;
    char *msg = notice_compose(&n, &len), *hdrs = NULL, *raw = NULL;
    ok(msg != NULL && len == strlen(msg), "notice composed, length returned");
    if (!msg)
        return;
    ok(!strchr(msg, '\r'), "lines end in LF only");
    ok(max_line(msg) <= 998, "no line over 998");
    ok(split_message(msg, &hdrs, &raw) == 0, "headers and body separated by an empty line");
    if (!hdrs)
        return;
    check_headers(hdrs);
    char *body = qp_decode(raw);
    check_body(raw, body);
    char *subj = header_get(hdrs, "Subject"), *dsubj = ew_decode(subj);
    int py = python_oracle(msg, dsubj, body);
    if (py < 0)
        ok(1, "python email oracle # SKIP python3 not usable");
    else
        ok(py == 1, "python's email package decodes the same subject and body");
    free(subj), free(dsubj), free(body), free(hdrs), free(raw), free(msg);
}

/* test_held - quarantine wording, shared advice printed once, long subject. */
static void test_held(void)
{
    kyso_notice n;
    kyso_doc_result res[4];
    kyso_doc_decision dd[4];
    fill_notice(&n, res, dd);
    dd[0].reason = REASON_CERT_EXPIRED;
    dd[1].reason = REASON_CERT_REVOKED;
    n.action = "quarantine";
    char longsub[2000] = "";
    for (int i = 0; i < 60; i++)
        strcat(longsub, "Tiếng Việt có dấu ");
    n.subject = longsub;
    n.nrcpts = 2;
    char *msg = notice_compose(&n, NULL), *hdrs = NULL, *raw = NULL;
    if (!msg || split_message(msg, &hdrs, &raw) < 0) {
        ok(0, "held notice composed");
        free(msg);
        return;
    }
    char *body = qp_decode(raw), *subj = header_get(hdrs, "Subject"), *d = ew_decode(subj);
    ok(max_line(hdrs) <= 78, "long subject folded: header lines <= 78 (%zu)", max_line(hdrs));
    const char *want = "Thư bị giữ lại / Message held: Tiếng Việt có dấu";
    ok(strncmp(d, want, strlen(want)) == 0, "held subject: %s", want);
    ok(strlen(d) < strlen(longsub) && strstr(d, "…") != NULL, "long subject cut with …");
    ok(strstr(body, "đang được giữ lại để kiểm tra") != NULL, "quarantine: held for inspection");
    ok(!strstr(body, "đã bị từ chối"), "quarantine: not called refused");
    ok(count_of(body, "Ban Cơ yếu Chính phủ") == 1,
       "expired and revoked share one advice, given once in Vietnamese");
    ok(!strstr(body, "người nhận khác") && !strstr(body, "other recipient"),
       "two recipients: no 'others' line");
    free(d), free(subj), free(body), free(hdrs), free(raw), free(msg);
}

/* ------------------------------------------------------------------ */
/* Send                                                                */

static void write_script(const char *name, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

static char *read_file(const char *name, size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = malloc(4 << 20);
    size_t n = fread(p, 1, (4 << 20) - 1, f);
    fclose(f);
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

static void *send_thread(void *arg)
{
    char cmd[160], err[256];
    snprintf(cmd, sizeof cmd, "%s/mta-quiet.sh", tmpdir);
    const char *msg = arg;
    return (void *)(long)notice_send(cmd, "t@x", msg, strlen(msg), 10, err, sizeof err);
}

static void test_send_ok(const char *msg, size_t len)
{
    char cmd[256], err[256] = "", script[512];
    snprintf(script, sizeof script,
             "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > %s/argv\n"
             "if [ -e /proc/$$/fd/50 ]; then echo leaked > %s/leak; fi\n"
             "cat > %s/stdin\nexit 0", tmpdir, tmpdir, tmpdir);
    write_script("mta-ok.sh", script);
    snprintf(cmd, sizeof cmd, "  %s/mta-ok.sh  -X   fixed ", tmpdir);
    int fd = open("/dev/null", O_RDONLY);
    dup2(fd, 50);
    close(fd);
    int before = count_fds();
    int rc = notice_send(cmd, "to@x", msg, len, 10, err, sizeof err);
    ok(rc == 0, "fake MTA accepts the notice (%s)", err);
    char *argv = read_file("argv", NULL), *in;
    size_t inlen = 0;
    ok(streq(argv, "-X\nfixed\n-oi\n-f\n<>\n--\nto@x\n"),
       "argv: fixed words, then -oi -f <> -- to@x");
    in = read_file("stdin", &inlen);
    ok(in && inlen == len && memcmp(in, msg, len) == 0, "stdin is exactly the message");
    ok(read_file("leak", NULL) == NULL, "the MTA inherits no other descriptor");
    ok(count_fds() == before, "no descriptor leaked in the caller");
    ok(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "child reaped");
    close(50);
    free(argv), free(in);
}

static void test_send_failures(const char *msg, size_t len)
{
    char cmd[256], err[256] = "", want[256];
    struct timespec t0;
    write_script("mta-75.sh", "cat >/dev/null\nexit 75");
    snprintf(cmd, sizeof cmd, "%s/mta-75.sh", tmpdir);
    snprintf(want, sizeof want, "MTACommand %s/mta-75.sh: exit 75", tmpdir);
    ok(notice_send(cmd, "to@x", msg, len, 10, err, sizeof err) == -1 && streq(err, want),
       "exit 75 reported: %s", err);

    write_script("mta-sleep.sh", "exec sleep 30");
    snprintf(cmd, sizeof cmd, "%s/mta-sleep.sh", tmpdir);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = notice_send(cmd, "to@x", msg, len, 1, err, sizeof err);
    ok(rc == -1 && strstr(err, "killed after 1 s") && since(&t0) < 5,
       "a hanging MTA is killed after the 1 s timeout (%.2f s): %s", since(&t0), err);
    size_t big = 4 << 20;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = notice_send(cmd, "to@x", huge, big, 1, err, sizeof err);
    ok(rc == -1 && strstr(err, "killed after 1 s") && since(&t0) < 5,
       "an MTA that never reads is killed in time, not a blocked write (%.2f s)", since(&t0));

    write_script("mta-deaf.sh", "exit 0");
    snprintf(cmd, sizeof cmd, "%s/mta-deaf.sh", tmpdir);
    rc = notice_send(cmd, "to@x", huge, big, 10, err, sizeof err);
    sigset_t pending;
    sigpending(&pending);
    ok(rc == -1 && strstr(err, "without reading"), "MTA gone before reading: error, we live: %s",
       err);
    ok(!sigismember(&pending, SIGPIPE), "no SIGPIPE left pending");
    free(huge);

    snprintf(cmd, sizeof cmd, "%s/no-such-sendmail -t", tmpdir);
    snprintf(want, sizeof want, "cannot run: %s", strerror(ENOENT));
    ok(notice_send(cmd, "to@x", msg, len, 10, err, sizeof err) == -1 && strstr(err, want),
       "missing program: %s", err);
}

static void test_send_refused(const char *msg, size_t len)
{
    char cmd[256], err[256] = "", path[160];
    snprintf(cmd, sizeof cmd, "%s/mta-ok.sh", tmpdir);
    snprintf(path, sizeof path, "%s/argv", tmpdir);
    const char *bad[] = { "-oQ/tmp", "a b@x", "a@x\nb@y", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unlink(path);
        ok(notice_send(cmd, bad[i], msg, len, 10, err, sizeof err) == -1
           && strstr(err, "recipient") && access(path, F_OK) != 0,
           "recipient #%zu refused, MTA not run: %s", i, err);
    }
    ok(notice_send(cmd, NULL, msg, len, 10, err, sizeof err) == -1, "NULL recipient refused");
    snprintf(cmd, sizeof cmd, "%s/mta-ok.sh 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", tmpdir);
    ok(notice_send(cmd, "to@x", msg, len, 10, err, sizeof err) == -1, "17 words refused: %s",
       err);
    ok(notice_send("   ", "to@x", msg, len, 10, err, sizeof err) == -1, "empty command refused");
}

static void test_send_threads(const char *msg)
{
    pthread_t th[8];
    long fails = 0;
    write_script("mta-quiet.sh", "cat >/dev/null\nexit 0");
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, send_thread, (void *)msg);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        fails += (long)r != 0;
    }
    ok(fails == 0, "8 threads send at once, all succeed (%ld failed)", fails);
}

/* ------------------------------------------------------------------ */
/* Rate limit                                                          */

static void test_ratelimit(void)
{
    kyso_ratelimit *rl = ratelimit_new(3, 60);
    time_t t = 1700000000;
    ok(rl != NULL, "rate limit created");
    int a = ratelimit_allow(rl, "a@x.vn", t), b = ratelimit_allow(rl, "A@X.vn", t + 1);
    int c = ratelimit_allow(rl, "a@X.VN", t + 2);
    ok(a && b && c, "3 notices allowed, whatever the case");
    ok(!ratelimit_allow(rl, "a@x.vn", t + 3), "the 4th within 60 s refused");
    ok(ratelimit_allow(rl, "b@x.vn", t + 3), "another sender allowed");
    ok(!ratelimit_allow(rl, "a@x.vn", t + 59), "still refused at 59 s");
    ok(ratelimit_allow(rl, "a@x.vn", t + 60), "allowed again once the first left the window");
    ok(!ratelimit_allow(rl, "a@x.vn", t + 60), "but only one slot came free");
    ok(ratelimit_allow(rl, "a@x.vn", t + 1000) && ratelimit_allow(rl, "a@x.vn", t + 1000),
       "long after, allowed again");
    ratelimit_free(rl);

    rl = ratelimit_new(1, 3600);
    char key[64];
    ok(ratelimit_allow(rl, "first@x.vn", t) && !ratelimit_allow(rl, "first@x.vn", t),
       "max 1: second refused");
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "s%d@x.vn", i);
        ratelimit_allow(rl, key, t + 1);
    }
    ok(!ratelimit_allow(rl, "s19999@x.vn", t + 2) && !ratelimit_allow(rl, "s10000@x.vn", t + 2),
       "the 10000 most recent senders are remembered");
    ok(ratelimit_allow(rl, "first@x.vn", t + 2), "the oldest was forgotten: allowed again");
    ok(ratelimit_allow(rl, "s9999@x.vn", t + 2), "sender 10001 from the end forgotten too");
    ratelimit_free(rl);
    rl = ratelimit_new(0, 60);
    ok(rl && !ratelimit_allow(rl, "a@x", t), "max 0 allows nothing");
    ratelimit_free(rl);
}

int main(void)
{
    setenv("TZ", "ICT-7", 1);
    tzset();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test-notice.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_compose();
    test_held();
    kyso_notice n;
    kyso_doc_result res[4];
    kyso_doc_decision dd[4];
    fill_notice(&n, res, dd);
    size_t len = 0;
    char *msg = notice_compose(&n, &len);
    test_send_ok(msg, len);
    test_send_failures(msg, len);
    test_send_refused(msg, len);
    test_send_threads(msg);
    free(msg);
    test_ratelimit();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        ok(0, "temporary directory removed");
    return tap_done();
}
