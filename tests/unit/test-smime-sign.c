/*
 * test-smime-sign.c - smime_sign_message over a PKI made at run time (root,
 * sub CA, organisation certificate with emailProtection) and a key held in
 * memory: a multipart/mixed with a PDF, Vietnamese text in
 * quoted-printable and in 8bit (re-encoded), LF-only input, a message
 * without Content-Type, over-long lines; each result checked by
 * `openssl smime -verify` (when openssl is installed) and by msg_verify,
 * with the signed entity compared to what the input held, the other
 * header fields still on top, and one changed byte failing both
 * verifiers.  Then the refusals and a token that is not there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gmime/gmime.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include "mime-walk.h"
#include "pki.h"
#include "smime-sign.h"
#include "token.h"
#include "memsign.h"
#include "trust.h"
#include "verifier.h"
#include "verify.h"
#include "tap.h"

static const char *const ca_ext[] = {
    "basicConstraints", "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign", NULL
};
static const char *const org_ext[] = {
    "keyUsage", "critical,digitalSignature,nonRepudiation",
    "extendedKeyUsage", "emailProtection", "subjectAltName", "email:vanthu@hanoi.gov.vn", NULL
};

static char dir[256];
static int have_openssl;

/* setup - the PKI; the root goes to DIR/root.pem and into V's anchors. */
static void setup(kyso_verifier *v, cms_signer *s, EVP_PKEY **okey)
{
    EVP_PKEY *rkey = pki_key_ec(), *skey = pki_key_ec();
    X509 *root = pki_cert("CN=Kyso SMIME Root", NULL, NULL, rkey, 1, -10 * PKI_DAY,
                          100 * PKI_DAY, ca_ext, NULL);
    X509 *sub = pki_cert("CN=Kyso SMIME Sub CA", root, rkey, skey, 2, -10 * PKI_DAY,
                         100 * PKI_DAY, ca_ext, NULL);
    const char *tmp = getenv("TMPDIR");
    char path[300], err[256];

    *okey = pki_key_rsa(2048);
    s->cert = pki_cert("CN=UBND Thành phố Hà Nội/O=UBND Thành phố Hà Nội", sub, skey,
                       *okey, 7, -PKI_DAY, 30 * PKI_DAY, org_ext, NULL);
    s->chain = sk_X509_new_null();
    sk_X509_push(s->chain, sub);
    s->pss = 0;
    s->sign = memsign_key;
    s->ctx = *okey;
    snprintf(dir, sizeof dir, "%s/kyso-test-smime-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        pki_die("mkdtemp");
    snprintf(path, sizeof path, "%s/root.pem", dir);
    pki_write_certs(path, &root, 1);
    if (verifier_init(v) != 0 || trust_add_anchors(v->trust, path, err, sizeof err) != 1)
        pki_die(err);
    v->rev_missing = REVMISSING_IGNORE;
    X509_free(root);
    EVP_PKEY_free(rkey);
    EVP_PKEY_free(skey);
}

/* write_file - DIR/NAME holds P (N bytes). */
static void write_file(const char *name, const void *p, size_t n)
{
    char path[400];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL)
        pki_die(path);
    fwrite(p, 1, n, f);
    fclose(f);
}

/* read_file - DIR/NAME, malloc'd, or NULL. */
static unsigned char *read_file(const char *name, size_t *n)
{
    char path[400];
    FILE *f;
    unsigned char *p;
    long sz;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "rb")) == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    rewind(f);
    p = malloc((size_t)sz + 1);
    *n = fread(p, 1, (size_t)sz, f);
    fclose(f);
    return p;
}

/* openssl_verify - `openssl smime -verify` of DIR/NAME against the root;
 * the content goes to DIR/NAME.out.  Returns openssl's exit status. */
static int openssl_verify(const char *name)
{
    char cmd[1500];

    snprintf(cmd, sizeof cmd, "openssl smime -verify -in '%s/%s' -CAfile '%s/root.pem' "
             "-purpose any -out '%s/%s.out' >/dev/null 2>&1", dir, name, dir, dir, name);
    return system(cmd);
}

/* header_of - the header of message M (up to the blank line), malloc'd. */
static char *header_of(const unsigned char *m, size_t n)
{
    const unsigned char *e = memmem(m, n, "\r\n\r\n", 4);
    return strndup((const char *)m, e ? (size_t)(e - m) + 2 : n);
}

/* has_field - does header H hold a line starting with FIELD? */
static int has_field(const char *h, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = h; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncasecmp(p, field, n) == 0)
            return 1;
    return 0;
}

/* crlf - S with every bare LF made CRLF, malloc'd. */
static char *crlf(const char *s)
{
    char *d = malloc(strlen(s) * 2 + 1), *q = d;
    for (const char *p = s; *p; p++) {
        if (*p == '\n' && (p == s || p[-1] != '\r'))
            *q++ = '\r';
        *q++ = *p;
    }
    *q = '\0';
    return d;
}

/* all_crlf - does every LF of P (N bytes) follow a CR, and every CR
 * precede an LF? */
static int all_crlf(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            return 0;
        if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
            return 0;
    }
    return n > 0;
}

/* smime_reason - msg_verify of M: its one S/MIME signature's reason, or
 * REASON__COUNT when there is none. */
static kyso_reason smime_reason(const kyso_verifier *v, const unsigned char *m, size_t n,
                                char *detail, size_t dlen)
{
    kyso_doc_result r = {0};
    kyso_reason got = REASON__COUNT;

    msg_verify(v, m, n, &r);
    if (r.nsigs == 1 && r.sigs[0].subfilter && strcmp(r.sigs[0].subfilter, "smime") == 0)
        got = r.sigs[0].reason;
    snprintf(detail, dlen, "%s", r.nsigs && r.sigs[0].detail ? r.sigs[0].detail
                                 : r.detail ? r.detail : "");
    result_free_doc(&r);
    return got;
}

/* decoded_first_leaf - the decoded content of the first leaf of entity E
 * (N bytes) with CRs dropped, malloc'd, or NULL. */
static char *decoded_first_leaf(const unsigned char *e, size_t n)
{
    GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)e, n);
    GMimeParser *pa = g_mime_parser_new_with_stream(st);
    GMimeObject *o = g_mime_parser_construct_part(pa, NULL), *leaf = o;
    char *res = NULL;

    while (leaf && GMIME_IS_MULTIPART(leaf))
        leaf = g_mime_multipart_get_part(GMIME_MULTIPART(leaf), 0);
    if (leaf && GMIME_IS_PART(leaf) && g_mime_part_get_content(GMIME_PART(leaf))) {
        GMimeStream *mem = g_mime_stream_mem_new();
        g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(leaf)), mem);
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        res = malloc(ba->len + 1);
        size_t j = 0;
        for (size_t i = 0; i < ba->len; i++)
            if (ba->data[i] != '\r')
                res[j++] = (char)ba->data[i];
        res[j] = '\0';
        g_object_unref(mem);
    }
    if (o)
        g_object_unref(o);
    g_object_unref(pa);
    g_object_unref(st);
    return res;
}

/* What one case expects. */
typedef struct sm_case {
    const char *name;           /* file name base */
    const char *msg;
    const char *entity;         /* the exact signed bytes wanted, or NULL */
    const char *text;           /* the decoded first leaf wanted (LF), or NULL */
    int reencoded;
    size_t nedits;
} sm_case;

/* check_top - the header of the new message M: From, To, Subject kept,
 * multipart/signed on top, no Content-Transfer-Encoding there. */
static void check_top(const sm_case *c, const unsigned char *m, size_t n)
{
    char *h = header_of(m, n);

    ok(has_field(h, "From: ") && has_field(h, "To: ") && has_field(h, "Subject: ") &&
       has_field(h, "MIME-Version: 1.0"), "%s: From, To, Subject, MIME-Version on top", c->name);
    ok(has_field(h, "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
                 " micalg=sha-256;") && !has_field(h, "Content-Transfer-Encoding:") &&
       !has_field(h, "Content-Disposition:") && strstr(h, "\n\tboundary=\"----kyso-"),
       "%s: the top Content-Type is multipart/signed, nothing else Content-*", c->name);
    free(h);
}

/* check_openssl - openssl verifies M and gives back the signed entity
 * (ENT, N bytes); one changed byte at TAMPER makes it fail. */
static void check_openssl(const sm_case *c, unsigned char *m, size_t n,
                          const unsigned char *ent, size_t elen, size_t tamper)
{
    char name[64], out[80];
    size_t olen = 0;
    unsigned char *o;

    if (!have_openssl) {
        ok(1, "# SKIP %s: openssl not installed", c->name);
        return;
    }
    snprintf(name, sizeof name, "%s.eml", c->name);
    snprintf(out, sizeof out, "%s.out", name);
    write_file(name, m, n);
    ok(openssl_verify(name) == 0, "%s: openssl smime -verify accepts it", c->name);
    o = read_file(out, &olen);
    ok(o && olen == elen && memcmp(o, ent, elen) == 0,
       "%s: openssl gives back exactly the signed entity (%zu of %zu bytes)", c->name, olen,
       elen);
    free(o);
    m[tamper] ^= 0x01;
    snprintf(name, sizeof name, "%s-tampered.eml", c->name);
    write_file(name, m, n);
    m[tamper] ^= 0x01;
    ok(openssl_verify(name) != 0, "%s: one changed byte of the signed part fails openssl",
       c->name);
}

/* check_case - sign C's message and check everything about the result. */
static void check_case(const kyso_verifier *v, const cms_signer *s, const sm_case *c)
{
    smime_output o;
    unsigned char *m = NULL;
    size_t n = 0;
    char err[512] = "", detail[512];
    int rc = smime_sign_message(s, (const unsigned char *)c->msg, strlen(c->msg), &o,
                                err, sizeof err);

    ok(rc == TOKEN_OK, "%s: signed (%s)", c->name, err);
    if (rc != TOKEN_OK)
        return;
    ok(smime_apply((const unsigned char *)c->msg, strlen(c->msg), &o, &m, &n,
                   err, sizeof err) == 0, "%s: smime_apply (%s)", c->name, err);
    const unsigned char *ent = o.body + o.signed_off;
    ok(o.reencoded == c->reencoded && o.nedits == c->nedits,
       "%s: %d parts re-encoded (want %d), %zu header edits (want %zu)", c->name,
       o.reencoded, c->reencoded, o.nedits, c->nedits);
    ok(all_crlf(o.body, o.bodylen), "%s: the body is CRLF throughout", c->name);
    if (c->entity)
        ok(o.signed_len == strlen(c->entity) && memcmp(ent, c->entity, o.signed_len) == 0,
           "%s: the signed entity is the original one in CRLF", c->name);
    if (c->reencoded) {
        int eight = 0;
        for (size_t i = 0; i < o.signed_len; i++)
            eight |= ent[i] >= 0x80;
        ok(!eight && !memmem(ent, o.signed_len, "8bit", 4),
           "%s: the signed part is 7-bit and labelled so", c->name);
    }
    if (c->text) {
        char *t = decoded_first_leaf(ent, o.signed_len);
        ok(t && strcmp(t, c->text) == 0, "%s: the decoded text is the original", c->name);
        free(t);
    }
    check_top(c, m, n);
    kyso_reason got = smime_reason(v, m, n, detail, sizeof detail);
    ok(got == REASON_OK, "%s: msg_verify finds a valid S/MIME signature (%s: %s)", c->name,
       got == REASON__COUNT ? "none" : reason_name(got), detail);
    size_t tamper = (n - o.bodylen) + o.signed_off + o.signed_len - 3;   /* in the entity */
    m[tamper] ^= 0x01;
    got = smime_reason(v, m, n, detail, sizeof detail);
    m[tamper] ^= 0x01;
    ok(got == REASON_DIGEST_MISMATCH, "%s: one changed byte is digest_mismatch (%s)", c->name,
       got == REASON__COUNT ? "none" : reason_name(got));
    check_openssl(c, m, n, ent, o.signed_len, tamper);
    free(m);
    smime_output_free(&o);
}

#define PDF_B64 "JVBERi0xLjcKJeLjz9MKMSAwIG9iago8PD4+CmVuZG9iagolJUVPRgo="

static const char mixed[] =
    "Received: from mail.hanoi.gov.vn by mx; Mon, 1 Jan 2024 00:00:00 +0700\r\n"
    "From: Van Thu <vanthu@hanoi.gov.vn>\r\nTo: so-ttt@hanoi.gov.vn\r\n"
    "Subject: =?UTF-8?B?Q8O0bmcgdsSDbg==?=\r\n =?UTF-8?B?IHPhu5EgMTI=?=\r\n"
    "Date: Mon, 1 Jan 2024 00:00:00 +0700\r\nMessage-ID: <1@hanoi.gov.vn>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;\r\n\tboundary=\"=_mix\"\r\n"
    "X-Mailer: test\r\n\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "--=_mix\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=ADnh g=E1=BB=ADi\r\n"
    "--=_mix\r\nContent-Type: application/pdf; name=\"cv.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"cv.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" PDF_B64 "\r\n"
    "--=_mix--\r\n";
static const char mixed_entity[] =
    "Content-Type: multipart/mixed;\r\n\tboundary=\"=_mix\"\r\n\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "--=_mix\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=ADnh g=E1=BB=ADi\r\n"
    "--=_mix\r\nContent-Type: application/pdf; name=\"cv.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"cv.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" PDF_B64 "\r\n"
    "--=_mix--\r\n";

static const char qp_text[] =
    "From: vanthu@hanoi.gov.vn\r\nTo: a@b.gov.vn\r\nSubject: qp\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "Content-Description: =?UTF-8?Q?C=C3=B4ng_v=C4=83n?=\r\n\r\n"
    "K=C3=ADnh g=E1=BB=ADi: S=E1=BB=9F Th=C3=B4ng tin v=C3=A0 Truy=E1=BB=81n th=C3=B4ng\r\n";
static const char qp_entity[] =
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "Content-Description: =?UTF-8?Q?C=C3=B4ng_v=C4=83n?=\r\n\r\n"
    "K=C3=ADnh g=E1=BB=ADi: S=E1=BB=9F Th=C3=B4ng tin v=C3=A0 Truy=E1=BB=81n th=C3=B4ng\r\n";

#define VI_TEXT "Kính gửi: Sở Thông tin và Truyền thông  \nĐề nghị xem xét.\n"
static const char eight_text[] =
    "From: vanthu@hanoi.gov.vn\r\nTo: a@b.gov.vn\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Kính gửi: Sở Thông tin và Truyền thông  \r\nĐề nghị xem xét.\r\n";

static const char lf_only[] =
    "From: vanthu@hanoi.gov.vn\nTo: a@b.gov.vn\nSubject: lf\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=lf\nContent-ID: <x@y>\n\n"
    "--lf\nContent-Type: text/plain\n\nline one\n\n"
    "--lf\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=a.pdf\n\n" PDF_B64 "\n--lf--\n";

static const char no_ctype[] =
    "From: vanthu@hanoi.gov.vn\r\nTo: a@b.gov.vn\r\nSubject: plain\r\n\r\n"
    "Just text, no MIME at all.\r\n";
static const char no_ctype_entity[] =
    "Content-Type: text/plain; charset=us-ascii\r\n\r\nJust text, no MIME at all.\r\n";

/* A forwarded message labelled 8bit inside a multipart labelled 8bit:
 * the inner text becomes quoted-printable, both labels 7bit. */
static const char fwd_8bit[] =
    "From: vanthu@hanoi.gov.vn\nTo: a@b.gov.vn\nSubject: Fwd\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"o\"\nContent-Transfer-Encoding: 8bit\n\n"
    "--o\nContent-Type: text/plain; charset=utf-8\n\nXem th\xc6\xb0 d\xc6\xb0\xe1\xbb\x9bi.\n"
    "--o\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n"
    "From: x@y.gov.vn\nSubject: inner\nMIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    "C\xc3\xb4ng v\xc4\x83n\n--o--\n";

static void test_cases(const kyso_verifier *v, const cms_signer *s)
{
    char *lf_entity = crlf("Content-Type: multipart/mixed; boundary=lf\nContent-ID: <x@y>\n\n"
                           "--lf\nContent-Type: text/plain\n\nline one\n\n"
                           "--lf\nContent-Type: application/pdf\n"
                           "Content-Transfer-Encoding: base64\n"
                           "Content-Disposition: attachment; filename=a.pdf\n\n"
                           PDF_B64 "\n--lf--\n");
    const sm_case cases[] = {
        { "mixed-pdf", mixed, mixed_entity, NULL, 0, 1 },
        { "text-qp", qp_text, qp_entity, NULL, 0, 3 },
        { "text-8bit", eight_text, NULL, VI_TEXT, 1, 2 },
        { "lf-only", lf_only, lf_entity, NULL, 0, 2 },
        { "no-ctype", no_ctype, no_ctype_entity, NULL, 0, 2 },
        { "forward-8bit", fwd_8bit, NULL, "Xem th\xc6\xb0 d\xc6\xb0\xe1\xbb\x9bi.", 4, 2 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(v, s, &cases[i]);
    free(lf_entity);
}

/* long_line_msg - a message whose one part has a line of 1500 bytes, in
 * 7bit text or in base64 (B64), malloc'd. */
static char *long_line_msg(int b64, char **want)
{
    char *line = malloc(1501), *m = malloc(4000);
    for (int i = 0; i < 1500; i++)
        line[i] = b64 ? "QUJD"[i % 4] : (char)('a' + i % 26);
    line[1500] = '\0';
    snprintf(m, 4000, "From: vanthu@hanoi.gov.vn\r\nTo: a@b.gov.vn\r\nSubject: long\r\n"
             "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
             "--b\r\nContent-Type: %s\r\n%s\r\n%s\r\n--b--\r\n",
             b64 ? "application/octet-stream" : "text/plain",
             b64 ? "Content-Transfer-Encoding: base64\r\n" : "", line);
    if (b64)
        for (int i = 0; i < 1125; i++)
            line[i] = "ABC"[i % 3];
    line[b64 ? 1125 : 1500] = '\0';
    *want = line;
    return m;
}

/* test_long_lines - a 7bit text line and a base64 line over 998 bytes
 * are re-encoded; both still verify and decode to the same content. */
static void test_long_lines(const kyso_verifier *v, const cms_signer *s)
{
    for (int b64 = 0; b64 <= 1; b64++) {
        char *want, *msg = long_line_msg(b64, &want), err[512] = "", detail[512];
        smime_output o;
        unsigned char *m = NULL;
        size_t n = 0;
        int rc = smime_sign_message(s, (const unsigned char *)msg, strlen(msg), &o,
                                    err, sizeof err);
        ok(rc == TOKEN_OK && o.reencoded == 1, "long %s line: signed, re-encoded (%s)",
           b64 ? "base64" : "text", err);
        if (rc != TOKEN_OK) {
            free(msg);
            free(want);
            continue;
        }
        char *t = decoded_first_leaf(o.body + o.signed_off, o.signed_len);
        size_t wl = strlen(want);
        ok(t && strncmp(t, want, wl) == 0 && (t[wl] == '\0' || strcmp(t + wl, "\n") == 0),
           "long %s line: same content once decoded", b64 ? "base64" : "text");
        free(t);
        smime_apply((const unsigned char *)msg, strlen(msg), &o, &m, &n, err, sizeof err);
        kyso_reason got = smime_reason(v, m, n, detail, sizeof detail);
        ok(got == REASON_OK, "long %s line: msg_verify valid (%s)", b64 ? "base64" : "text",
           got == REASON__COUNT ? "none" : reason_name(got));
        if (have_openssl) {
            write_file("long.eml", m, n);
            ok(openssl_verify("long.eml") == 0, "long %s line: openssl verifies",
               b64 ? "base64" : "text");
        } else {
            ok(1, "# SKIP openssl not installed");
        }
        free(m);
        free(msg);
        free(want);
        smime_output_free(&o);
    }
}

/* refused - MSG is refused with a reason containing WANT, and OUT empty. */
static void refused(const cms_signer *s, const char *what, const char *msg, size_t len,
                    const char *want)
{
    smime_output o;
    char err[512] = "";
    int rc = smime_sign_message(s, (const unsigned char *)msg, len, &o, err, sizeof err);

    ok(rc == SMIME_EREFUSED && o.body == NULL && o.nedits == 0 && strstr(err, want),
       "refused: %s ('%s')", what, err);
    smime_output_free(&o);
}

static void test_refusals(const cms_signer *s)
{
    char longhdr[1200];
    int k = snprintf(longhdr, sizeof longhdr, "From: a@b.gov.vn\r\nX-Long: ");
    memset(longhdr + k, 'x', 1000);
    strcpy(longhdr + k + 1000, "\r\n\r\nbody\r\n");

    refused(s, "empty input", "", 0, "empty");
    refused(s, "no blank line", "From: a@b.gov.vn\r\nSubject: x\r\n", 31, "no blank line");
    refused(s, "header line over 998 bytes", longhdr, strlen(longhdr), "998");
    refused(s, "no header fields", "\r\nbody\r\n", 8, "no header fields");
    refused(s, "continuation first", " x: y\r\n\r\nb\r\n", 12, "continuation");
    refused(s, "not a field", "From a@b Mon Jan 1\nSubject: x\n\nb\n", 33, "not a header field");
    refused(s, "bare CR in the body",
            "From: a@b.gov.vn\r\n\r\nline\rmore\r\n", 32, "bare CR");
    refused(s, "two Content-Type fields",
            "From: a@b.gov.vn\nContent-Type: text/plain\nContent-type: text/html\n\nx\n", 70,
            "2 Content-Type");
    static const char binary[] =
        "From: a@b.gov.vn\nMIME-Version: 1.0\nContent-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: binary\n\nab\xff\n";
    refused(s, "binary content", binary, sizeof binary - 1, "binary");
    static const char inner_signed[] =
        "From: a@b.gov.vn\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n"
        "--o\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
        " micalg=sha-256; boundary=s\n\n"
        "--s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "K\xc3\xadnh\n--s\nContent-Type: application/pkcs7-signature\n"
        "Content-Transfer-Encoding: base64\n\nMIIB\n--s--\n--o--\n";
    refused(s, "8bit inside a signed part", inner_signed, sizeof inner_signed - 1,
            "inside a signed");
    static const char b64_8bit[] =
        "From: a@b.gov.vn\nMIME-Version: 1.0\nContent-Type: application/pdf\n"
        "Content-Transfer-Encoding: base64\n\nJVBE\xc3\xad\n";
    refused(s, "8-bit bytes in base64", b64_8bit, sizeof b64_8bit - 1, "although encoded");
}

/* test_edits - the edits of a message with every kind of moved field, in
 * the order a milter must apply them, and two signatures that differ in
 * their boundary; then a token that is not there. */
static void test_edits(const cms_signer *s)
{
    static const char m[] =
        "From: vanthu@hanoi.gov.vn\nContent-ID: <a@b>\nSubject: x\n"
        "content-type: text/plain; charset=utf-8\nContent-ID: <c@d>\n"
        "Content-Transfer-Encoding: 7bit\n\nxin chao\n";
    smime_output o, o2;
    char err[512] = "";
    int rc = smime_sign_message(s, (const unsigned char *)m, sizeof m - 1, &o, err, sizeof err);

    ok(rc == 0 && o.nedits == 5 &&
       strcmp(o.edits[0].name, "Content-Transfer-Encoding") == 0 && o.edits[0].index == 1 &&
       !o.edits[0].value &&
       strcmp(o.edits[1].name, "Content-ID") == 0 && o.edits[1].index == 2 && !o.edits[1].value &&
       strcmp(o.edits[2].name, "Content-ID") == 0 && o.edits[2].index == 1 && !o.edits[2].value &&
       strcmp(o.edits[3].name, "Content-Type") == 0 && o.edits[3].index == 1 &&
       o.edits[3].value && !strchr(o.edits[3].value, '\r') &&
       strcmp(o.edits[4].name, "MIME-Version") == 0 && o.edits[4].index == 0 &&
       strcmp(o.edits[4].value, "1.0") == 0,
       "edits: deletions last first, Content-Type changed, MIME-Version added (%s)", err);
    static const char ent[] =
        "Content-ID: <a@b>\r\ncontent-type: text/plain; charset=utf-8\r\nContent-ID: <c@d>\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\nxin chao\r\n";
    ok(rc == 0 && o.signed_len == sizeof ent - 1 &&
       memcmp(o.body + o.signed_off, ent, sizeof ent - 1) == 0,
       "edits: the moved fields keep their order and spelling in the signed part");
    rc = smime_sign_message(s, (const unsigned char *)m, sizeof m - 1, &o2, err, sizeof err);
    ok(rc == 0 && strcmp(o.edits[3].value, o2.edits[3].value) != 0,
       "two signatures of one message have different boundaries");
    smime_output_free(&o);
    smime_output_free(&o2);

    cms_signer absent = *s;
    absent.sign = memsign_absent;
    rc = smime_sign_message(&absent, (const unsigned char *)m, sizeof m - 1, &o, err,
                            sizeof err);
    ok(rc == TOKEN_ETEMP && o.body == NULL && strstr(err, "not present"),
       "an absent token: its code and words come back, nothing is made (%s)", err);
}

/* cleanup - remove the files of DIR and DIR itself. */
static void cleanup(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    kyso_verifier v;
    cms_signer s = { 0 };
    EVP_PKEY *okey;

    mime_init_once();
    setup(&v, &s, &okey);
    have_openssl = system("openssl version >/dev/null 2>&1") == 0;
    test_cases(&v, &s);
    test_long_lines(&v, &s);
    test_refusals(&s);
    test_edits(&s);
    if (getenv("KYSO_KEEP") == NULL)
        cleanup();
    else
        printf("# files kept in %s\n", dir);
    verifier_free(&v);
    X509_free(s.cert);
    sk_X509_pop_free(s.chain, X509_free);
    EVP_PKEY_free(okey);
    return tap_done();
}
