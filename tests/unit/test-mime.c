/*
 * test-mime.c - the MIME walk finds every document wherever it hides
 * (nested multiparts, forwarded messages, octet-stream with a .bin name,
 * RFC 2231 file names), hands a multipart/signed signature the exact bytes
 * it signs, and stops at the limits; msg_verify turns what the walk found
 * into attachment results and checks S/MIME made with OpenSSL over a PKI
 * generated at run time.  Messages are built in memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include "mime-walk.h"
#include "pki.h"
#include "trust.h"
#include "verifier.h"
#include "verify.h"
#include "tap.h"

#define MAXSEEN 64

/* What the walk showed us of one leaf (copies: part data dies after FN). */
typedef struct seen {
    char path[64], filename[128], ctype[64], from[64], head[16];
    char *signed_content;
    size_t len, signed_len;
    kyso_kind kind;
    int depth;
} seen;

typedef struct walk_log {
    seen s[MAXSEEN];
    size_t n, total;
} walk_log;

#define CPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

/* log_part - mime_part_fn that records each leaf. */
static int log_part(const kyso_part *p, void *arg)
{
    walk_log *w = arg;
    w->total++;
    if (w->n == MAXSEEN)
        return 0;
    seen *s = &w->s[w->n++];
    memset(s, 0, sizeof *s);
    CPY(s->path, p->path);
    CPY(s->filename, p->filename);
    CPY(s->ctype, p->content_type);
    CPY(s->from, p->msg_from);
    memcpy(s->head, p->data, p->len < sizeof s->head - 1 ? p->len : sizeof s->head - 1);
    s->len = p->len;
    s->kind = p->kind;
    s->depth = p->depth;
    if (p->signed_content) {
        s->signed_content = malloc(p->signed_len + 1);
        memcpy(s->signed_content, p->signed_content, p->signed_len);
        s->signed_content[p->signed_len] = '\0';
        s->signed_len = p->signed_len;
    }
    return 0;
}

static void log_free(walk_log *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->s[i].signed_content);
    memset(w, 0, sizeof *w);
}

/* walk - run mime_walk over the string MSG into W. */
static int walk(const kyso_verifier *v, const char *msg, size_t len, walk_log *w,
                kyso_reason *why, char *detail, size_t dlen)
{
    log_free(w);
    *why = REASON_OK;
    detail[0] = '\0';
    return mime_walk(v, (const unsigned char *)msg, len, log_part, w, why, detail, dlen);
}

static const seen *find_kind(const walk_log *w, kyso_kind k)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->s[i].kind == k)
            return &w->s[i];
    return NULL;
}

#define PDF_B64 "JVBERi0xLjcKJeLjz9MKMSAwIG9iago8PD4+CmVuZG9iagolJUVPRgo="  /* %PDF-1.7 ... */

static const char nested4[] =
    "From: Van thu <vanthu@hanoi.gov.vn>\r\n"
    "To: a@b.gov.vn\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"A\"\r\n\r\n"
    "--A\r\nContent-Type: text/plain\r\n\r\nxin chao\r\n"
    "--A\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
    "--B\r\nContent-Type: multipart/alternative; boundary=\"C\"\r\n\r\n"
    "--C\r\nContent-Type: multipart/related; boundary=\"D\"\r\n\r\n"
    "--D\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" PDF_B64 "\r\n"
    "--D--\r\n--C--\r\n--B--\r\n--A--\r\n";

static const char forwarded[] =
    "From: outer@x.gov.vn\nSubject: Fwd: cong van\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=outer\n\n"
    "--outer\nContent-Type: text/plain\n\nsee below\n"
    "--outer\nContent-Type: message/rfc822\n\n"
    "From: inner@y.gov.vn\nSubject: cong van\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=inner\n\n"
    "--inner\nContent-Type: text/plain\n\nbody\n"
    "--inner\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=cv.pdf\n\n"
    "%PDF-1.7\n%%EOF\n"
    "--inner--\n"
    "--outer--\n";

static const char octet[] =
    "From: a@b.gov.vn\nMIME-Version: 1.0\n"
    "Content-Type: application/octet-stream; name=\"congvan.bin\"\n\n"
    "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n";

static const char rfc2231[] =
    "From: a@b.gov.vn\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=z\n\n"
    "--z\nContent-Type: application/pdf\n"
    "Content-Disposition: attachment;\n"
    " filename*=UTF-8''C%C3%B4ng%20v%C4%83n%20s%E1%BB%91%2012.pdf\n\n"
    "%PDF-1.7\n"
    "--z\nContent-Type: application/pdf;\n"
    " name=\"=?UTF-8?B?Q8O0bmcgdsSDbiBz4buRIDEyLnBkZg==?=\"\n\n"
    "%PDF-1.7\n"
    "--z--\n";

/* LF line ends on purpose: the signed bytes must come out CRLF. */
static const char smime_signed[] =
    "From: Van Thu <VanThu@Hanoi.gov.vn>\nMIME-Version: 1.0\n"
    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
    " micalg=sha-256; boundary=\"sig\"\n\n"
    "This is an S/MIME signed message\n"
    "--sig\nContent-Type: text/plain\n\nline one\nline two\n\n"
    "--sig\nContent-Type: application/pkcs7-signature; name=smime.p7s\n"
    "Content-Transfer-Encoding: base64\n\nMIIBAA==\n"
    "--sig--\n";

static const char partial[] =
    "From: a@b.gov.vn\nMIME-Version: 1.0\n"
    "Content-Type: message/partial; id=\"x@y\"; number=1; total=2\n\n"
    "%PDF-1.7\n";

static const char detached[] =
    "From: a@b.gov.vn\nSubject: =?UTF-8?Q?C=C3=B4ng_v=C4=83n?=\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=q\n\n"
    "--q\nContent-Type: application/xml\nContent-Disposition: attachment; filename=doc.xml\n\n"
    "<doc/>\n"
    "--q\nContent-Type: application/pkcs7-signature\nContent-Disposition: attachment; filename=doc.xml.p7s\n"
    "Content-Transfer-Encoding: base64\n\nMIIBAA==\n"
    "--q--\n";

/* many_parts - a multipart/mixed with N text parts (malloc'd). */
static char *many_parts(size_t n, size_t *len)
{
    size_t cap = 200 + n * 64, o = 0;
    char *m = malloc(cap);
    o += (size_t)snprintf(m + o, cap - o, "From: a@b.gov.vn\nMIME-Version: 1.0\n"
                          "Content-Type: multipart/mixed; boundary=m\n\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(m + o, cap - o, "--m\nContent-Type: text/plain\n\npart %zu\n", i);
    o += (size_t)snprintf(m + o, cap - o, "--m--\n");
    *len = o;
    return m;
}

/* deep_parts - multiparts nested N deep around one PDF (malloc'd). */
static char *deep_parts(int n, size_t *len)
{
    size_t cap = 200 + (size_t)n * 120, o = 0;
    char *m = malloc(cap);
    o += (size_t)snprintf(m + o, cap - o, "From: a@b.gov.vn\nMIME-Version: 1.0\n");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(m + o, cap - o,
                              "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    o += (size_t)snprintf(m + o, cap - o, "Content-Type: application/pdf\n\n%%PDF-1.7\n");
    for (int i = n - 1; i >= 0; i--)
        o += (size_t)snprintf(m + o, cap - o, "--b%d--\n", i);
    *len = o;
    return m;
}

static void test_walk(const kyso_verifier *v)
{
    walk_log w = {0};
    kyso_reason why;
    char detail[256];
    const seen *s;

    ok(walk(v, nested4, sizeof nested4 - 1, &w, &why, detail, sizeof detail) == 0, "nested: walked");
    s = find_kind(&w, KIND_PDF);
    ok(w.n == 2 && s != NULL, "nested: two leaves, one PDF");
    ok(s && strcmp(s->path, "2.1.1.1") == 0 && s->depth == 4, "nested: PDF at 2.1.1.1, depth 4 (%s, %d)",
       s ? s->path : "-", s ? s->depth : -1);
    ok(s && strcmp(s->filename, "a.pdf") == 0 && memcmp(s->head, "%PDF-1.7", 8) == 0,
       "nested: file name and base64 decoded");
    ok(s && strcmp(s->from, "vanthu@hanoi.gov.vn") == 0, "nested: From address of the message");
    ok(strcmp(w.s[0].path, "1") == 0 && w.s[0].kind == KIND_TEXT, "nested: text part is 1");

    ok(walk(v, forwarded, sizeof forwarded - 1, &w, &why, detail, sizeof detail) == 0 &&
       (s = find_kind(&w, KIND_PDF)) != NULL, "forwarded: PDF inside message/rfc822 found");
    ok(s && strcmp(s->path, "2.2") == 0 && strcmp(s->filename, "cv.pdf") == 0 && s->depth == 3,
       "forwarded: at 2.2, named cv.pdf, depth 3 (rfc822 part 1, its multipart 2)");
    ok(s && strcmp(s->from, "inner@y.gov.vn") == 0 && strcmp(w.s[0].from, "outer@x.gov.vn") == 0,
       "forwarded: parts carry the From of their own message");

    ok(walk(v, octet, sizeof octet - 1, &w, &why, detail, sizeof detail) == 0 && w.n == 1 &&
       w.s[0].kind == KIND_PDF && strcmp(w.s[0].filename, "congvan.bin") == 0 &&
       strcmp(w.s[0].path, "1") == 0 && strcmp(w.s[0].ctype, "application/octet-stream") == 0,
       "octet-stream congvan.bin holding a PDF is a PDF, single body is part 1");

    ok(walk(v, rfc2231, sizeof rfc2231 - 1, &w, &why, detail, sizeof detail) == 0 && w.n == 2 &&
       strcmp(w.s[0].filename, "C\xc3\xb4ng v\xc4\x83n s\xe1\xbb\x91 12.pdf") == 0,
       "RFC 2231 file name decoded to UTF-8 (%s)", w.n ? w.s[0].filename : "-");
    ok(w.n == 2 && strcmp(w.s[1].filename, "C\xc3\xb4ng v\xc4\x83n s\xe1\xbb\x91 12.pdf") == 0,
       "encoded-word name= decoded to UTF-8 (%s)", w.n > 1 ? w.s[1].filename : "-");

    ok(walk(v, partial, sizeof partial - 1, &w, &why, detail, sizeof detail) == 0 && w.n == 1 &&
       w.s[0].kind == KIND_OTHER && w.s[0].len == 0, "message/partial is an opaque leaf");
    log_free(&w);
}

static void test_smime_bytes(const kyso_verifier *v)
{
    walk_log w = {0};
    kyso_reason why;
    char detail[256];
    const seen *s;

    ok(walk(v, smime_signed, sizeof smime_signed - 1, &w, &why, detail, sizeof detail) == 0 &&
       w.n == 2, "signed: content and signature visited");
    s = find_kind(&w, KIND_P7S);
    ok(s && strcmp(s->path, "2") == 0 && s->len == 4, "signed: signature is a P7S leaf at 2");
    static const char want[] = "Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n";
    ok(s && s->signed_content && s->signed_len == sizeof want - 1 &&
       memcmp(s->signed_content, want, sizeof want - 1) == 0,
       "signed: exact first part, CRLF, without the break before the delimiter");
    ok(w.s[0].signed_content == NULL, "signed: only the signature carries signed bytes");

    size_t off = 0, plen = 0;
    static const char crlf[] = "A: b\r\n\r\npre\r\n--x \r\nbody\r\n--xy\r\n\r\n--x\r\nsig\r\n--x--\r\n";
    size_t sig_at = (size_t)(strstr(crlf, "sig") - crlf);
    ok(mime_find_signed_part((const unsigned char *)crlf, sizeof crlf - 1, "x", sig_at, &off,
                             &plen) == 0 &&
       plen == 12 && memcmp(crlf + off, "body\r\n--xy\r\n", 12) == 0,
       "signed part: padding allowed, a longer boundary is not a delimiter");
    ok(mime_find_signed_part((const unsigned char *)crlf, sizeof crlf - 1, "nope", sig_at, &off,
                             &plen) < 0,
       "signed part: unknown boundary is not found");
    ok(mime_find_signed_part((const unsigned char *)"A: b", 4, "x", 4, &off, &plen) < 0,
       "signed part: no body");
    static const char quoted[] = "A: b\r\n\r\n--x\r\nquoted\r\n--x\r\n--x--\r\n"
                                 "--x\r\nreal\r\n--x\r\nsig\r\n--x--\r\n";
    ok(mime_find_signed_part((const unsigned char *)quoted, sizeof quoted - 1, "x",
                             (size_t)(strstr(quoted, "sig") - quoted), &off, &plen) == 0 &&
       plen == 4 && memcmp(quoted + off, "real", 4) == 0,
       "signed part: the part next to the signature, not an earlier quoted pair of delimiters");
    log_free(&w);
}

static void test_limits(kyso_verifier *v)
{
    walk_log w = {0};
    kyso_reason why;
    char detail[256];
    size_t len;

    char *m = many_parts(1500, &len);
    ok(walk(v, m, len, &w, &why, detail, sizeof detail) == -1 && why == REASON_LIMIT_EXCEEDED &&
       strstr(detail, "MaxParts") != NULL, "1500 parts: limit exceeded (%s)", detail);
    ok(w.total < 1000, "1500 parts: stopped before the limit");
    free(m);

    m = deep_parts(30, &len);
    ok(walk(v, m, len, &w, &why, detail, sizeof detail) == -1 && why == REASON_LIMIT_EXCEEDED &&
       strstr(detail, "MaxDepth") != NULL && w.total == 0, "depth 30: limit exceeded (%s)", detail);
    free(m);

    m = deep_parts(19, &len);
    ok(walk(v, m, len, &w, &why, detail, sizeof detail) == 0 && w.n == 1 && w.s[0].kind == KIND_PDF &&
       w.s[0].depth == 19, "depth 19: walked");
    free(m);

    size_t keep = v->lim.max_doc_size;
    v->lim.max_doc_size = 8;
    ok(walk(v, nested4, sizeof nested4 - 1, &w, &why, detail, sizeof detail) == -1 &&
       why == REASON_LIMIT_EXCEEDED && strstr(detail, "MaxDocSize") != NULL,
       "decoded part over MaxDocSize (%s)", detail);
    v->lim.max_doc_size = keep;
    keep = v->lim.max_message_size;
    v->lim.max_message_size = 100;
    ok(walk(v, nested4, sizeof nested4 - 1, &w, &why, detail, sizeof detail) == -1 &&
       why == REASON_LIMIT_EXCEEDED && strstr(detail, "MaxMessageSize") != NULL,
       "message over MaxMessageSize");
    v->lim.max_message_size = keep;
    log_free(&w);
}

static void test_garbage(const kyso_verifier *v)
{
    walk_log w = {0};
    kyso_reason why;
    char detail[256];
    unsigned char junk[4096];
    unsigned x = 12345;

    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    int rc = walk(v, (const char *)junk, sizeof junk, &w, &why, detail, sizeof detail);
    ok(rc == 0 || (rc == -1 && why == REASON_MALFORMED), "random bytes: no crash (rc %d)", rc);
    ok(walk(v, "", 0, &w, &why, detail, sizeof detail) == -1 && why == REASON_MALFORMED,
       "empty buffer is malformed");
    static const char noheads[] = "\n\njust text, no header at all\n";
    ok(walk(v, noheads, sizeof noheads - 1, &w, &why, detail, sizeof detail) == -1 &&
       why == REASON_MALFORMED, "no header fields is malformed");
    static const char cut[] = "From: a@b\nContent-Type: multipart/mixed; boundary=a\n\n--a\n"
                              "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
                              " boundary=b\n\n--b\nContent-Type: text/plain\n\nx";
    rc = walk(v, cut, sizeof cut - 1, &w, &why, detail, sizeof detail);
    ok(rc == 0, "truncated multipart/signed: no crash, no signature (rc %d, %zu leaves)", rc, w.n);
    log_free(&w);
}

/* test_forwarded_smime - a signed mail forwarded inside another must not
 * make the carrying message look signed: its signature belongs to an
 * attachment result standing for the forwarded message. */
static void test_forwarded_smime(const kyso_verifier *v)
{
    char *msg = NULL;
    int n = asprintf(&msg, "From: someone@other.gov.vn\nMIME-Version: 1.0\n"
                     "Content-Type: multipart/mixed; boundary=\"fw\"\n\n"
                     "--fw\nContent-Type: text/plain\n\nsee below\n"
                     "--fw\nContent-Type: message/rfc822\n\n%s\n--fw--\n", smime_signed);
    kyso_doc_result r = {0};
    if (n > 0)
        msg_verify(v, (const unsigned char *)msg, (size_t)n, &r);
    ok(r.nsigs == 0, "forwarded S/MIME: not a signature of the carrying message (%zu)", r.nsigs);
    ok(r.natts == 1 && r.atts[0].kind == KIND_MESSAGE && r.atts[0].nsigs == 1 &&
       strcmp(r.atts[0].sigs[0].subfilter, "smime") == 0,
       "forwarded S/MIME: reported on the forwarded message");
    result_free_doc(&r);
    free(msg);
}

static const kyso_doc_result *find_att(const kyso_doc_result *d, const char *name)
{
    for (size_t i = 0; i < d->natts; i++)
        if (d->atts[i].name && strcmp(d->atts[i].name, name) == 0)
            return &d->atts[i];
    return NULL;
}

static void test_msg_verify(const kyso_verifier *v)
{
    static const char encrypted[] =
        "From: a@b.gov.vn\nSubject: mat\nMIME-Version: 1.0\n"
        "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n"
        "Content-Transfer-Encoding: base64\n\nMIIBAAYJKoZIhvcNAQcDoIIA\n";
    static const char p7s_first[] =
        "From: a@b.gov.vn\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=q\n\n"
        "--q\nContent-Type: application/pkcs7-signature\n"
        "Content-Disposition: attachment; filename=doc.xml.p7s\n"
        "Content-Transfer-Encoding: base64\n\nMIIBAA==\n"
        "--q\nContent-Type: application/xml\nContent-Disposition: attachment; filename=doc.xml\n\n"
        "<doc/>\n--q--\n";
    kyso_doc_result r = {0};
    const kyso_doc_result *a;
    size_t len;

    msg_verify(v, (const unsigned char *)nested4, sizeof nested4 - 1, &r);
    a = find_att(&r, "a.pdf");
    ok(r.kind == KIND_MESSAGE && r.natts == 1 && a && a->kind == KIND_PDF,
       "msg_verify: the nested PDF is an attachment result");
    ok(r.reason != REASON_OK && r.reason != REASON_NO_DOCUMENTS,
       "msg_verify: a broken PDF does not make the message valid (%s)", reason_name(r.reason));
    result_free_doc(&r);

    msg_verify(v, (const unsigned char *)forwarded, sizeof forwarded - 1, &r);
    ok(r.natts == 1 && find_att(&r, "cv.pdf"), "msg_verify: PDF in a forwarded message checked");
    result_free_doc(&r);

    static const char text[] = "From: a@b.gov.vn\nSubject: hi\n\nhello\n";
    msg_verify(v, (const unsigned char *)text, sizeof text - 1, &r);
    ok(r.reason == REASON_NO_DOCUMENTS && r.natts == 0, "msg_verify: text only is no_documents");
    result_free_doc(&r);

    msg_verify(v, (const unsigned char *)detached, sizeof detached - 1, &r);
    a = find_att(&r, "doc.xml.p7s");
    ok(a && a->kind == KIND_P7S && a->reason == REASON_MALFORMED,
       "msg_verify: doc.xml.p7s checked against doc.xml (%s)", a ? reason_name(a->reason) : "-");
    result_free_doc(&r);

    msg_verify(v, (const unsigned char *)smime_signed, sizeof smime_signed - 1, &r);
    ok(r.nsigs == 1 && r.sigs[0].subfilter && strcmp(r.sigs[0].subfilter, "smime") == 0 &&
       r.sigs[0].reason != REASON_OK, "msg_verify: a bogus S/MIME signature is a failing smime signature");
    result_free_doc(&r);

    msg_verify(v, (const unsigned char *)encrypted, sizeof encrypted - 1, &r);
    ok(r.natts == 1 && r.atts[0].reason == REASON_UNSUPPORTED_TYPE && r.nsigs == 0 &&
       r.name && strcmp(r.name, "mat") == 0,
       "msg_verify: encrypted S/MIME is unsupported_type; name is the Subject");
    result_free_doc(&r);

    msg_verify(v, (const unsigned char *)p7s_first, sizeof p7s_first - 1, &r);
    a = find_att(&r, "doc.xml.p7s");
    ok(r.natts == 1 && a && a->nsigs == 1 && a->sigs[0].subfilter &&
       strcmp(a->sigs[0].subfilter, "cms") == 0,
       "msg_verify: a .p7s before its file is still checked against it");
    result_free_doc(&r);

    char *m = many_parts(1500, &len);
    msg_verify(v, (const unsigned char *)m, len, &r);
    ok(r.reason == REASON_LIMIT_EXCEEDED && r.detail && strstr(r.detail, "MaxParts"),
       "msg_verify: too many parts is limit_exceeded");
    result_free_doc(&r);
    free(m);

    msg_verify(v, (const unsigned char *)"\x00\x01garbage", 9, &r);
    ok(r.reason == REASON_MALFORMED, "msg_verify: garbage is malformed (%s)", reason_name(r.reason));
    result_free_doc(&r);
}

/* ---- S/MIME with a real PKI ------------------------------------------ */

static const char *const ca_ext[] = {
    "basicConstraints", "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign", NULL
};
static const char *const leaf_ext[] = {
    "keyUsage", "critical,digitalSignature,nonRepudiation",
    "extendedKeyUsage", "emailProtection", "subjectAltName", "email:vanthu@hanoi.gov.vn", NULL
};

/* smime_setup - a root trusted by V and a signer for vanthu@hanoi.gov.vn. */
static void smime_setup(kyso_verifier *v, EVP_PKEY **key, X509 **signer)
{
    EVP_PKEY *rkey = pki_key_ec();
    X509 *root = pki_cert("CN=Kyso Mime Root", NULL, NULL, rkey, 1, -10 * PKI_DAY,
                          100 * PKI_DAY, ca_ext, NULL);
    char dir[] = "/tmp/kyso-test-mime-XXXXXX", path[64], err[256];

    *key = pki_key_ec();
    *signer = pki_cert("CN=Van thu/O=UBND Ha Noi", root, rkey, *key, 7, -PKI_DAY,
                       30 * PKI_DAY, leaf_ext, NULL);
    if (mkdtemp(dir) == NULL)
        pki_die("mkdtemp");
    snprintf(path, sizeof path, "%s/a.pem", dir);
    pki_write_certs(path, &root, 1);
    if (trust_add_anchors(v->trust, path, err, sizeof err) != 1)
        pki_die(err);
    remove(path);
    rmdir(dir);
    v->rev_missing = REVMISSING_IGNORE;
    X509_free(root);
    EVP_PKEY_free(rkey);
}

/* smime_sign_b64 - base64 (one line, malloc'd) of a CMS SignedData over
 * DATA by CERT, detached or with the content inside. */
static char *smime_sign_b64(X509 *cert, EVP_PKEY *key, const char *data, int apart)
{
    int flags = CMS_BINARY | (apart ? CMS_DETACHED : 0);
    BIO *in = BIO_new_mem_buf(data, (int)strlen(data));
    CMS_ContentInfo *cms = CMS_sign(cert, key, NULL, in, flags);
    unsigned char *der = NULL;
    int len = cms ? i2d_CMS_ContentInfo(cms, &der) : -1;

    if (len <= 0)
        pki_die("CMS_sign");
    char *b64 = malloc((size_t)len * 4 / 3 + 8);
    EVP_EncodeBlock((unsigned char *)b64, der, len);
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    return b64;
}

/* smime_check - msg_verify of MSG: its one smime signature's reason. */
static kyso_reason smime_check(const kyso_verifier *v, const char *msg, kyso_doc_result *r)
{
    msg_verify(v, (const unsigned char *)msg, strlen(msg), r);
    if (r->nsigs != 1 || r->sigs[0].subfilter == NULL || strcmp(r->sigs[0].subfilter, "smime") != 0)
        return REASON__COUNT;
    return r->sigs[0].reason;
}

static void test_smime(kyso_verifier *v)
{
    EVP_PKEY *key;
    X509 *signer;
    kyso_doc_result r = {0};
    char msg[8192];

    smime_setup(v, &key, &signer);
    /* the content as it will appear in the message (LF), signed as CRLF */
    static const char body_lf[] = "Content-Type: text/plain; charset=utf-8\n\nK\xc3\xad s\xe1\xbb\x91\n";
    static const char body_crlf[] = "Content-Type: text/plain; charset=utf-8\r\n\r\nK\xc3\xad s\xe1\xbb\x91\r\n";
    char *b64 = smime_sign_b64(signer, key, body_crlf, 1);
    static const char fmt[] =
        "From: %s\nSubject: ky so\nMIME-Version: 1.0\n"
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\n"
        " boundary=\"----S1\"\n\nThis is an S/MIME signed message\n\n"
        "------S1\n%s\n------S1\nContent-Type: application/pkcs7-signature; name=smime.p7s\n"
        "Content-Transfer-Encoding: base64\n\n%s\n\n------S1--\n";

    snprintf(msg, sizeof msg, fmt, "Van Thu <VanThu@Hanoi.gov.vn>", body_lf, b64);
    kyso_reason got = smime_check(v, msg, &r);
    ok(got == REASON_OK, "smime multipart/signed verifies over the raw first part (%s: %s)",
       got == REASON__COUNT ? "no smime signature" : reason_name(got),
       r.nsigs && r.sigs[0].detail ? r.sigs[0].detail : "");
    ok(r.reason == REASON_OK, "smime: a signed message without documents is valid (%s)",
       reason_name(r.reason));
    result_free_doc(&r);

    snprintf(msg, sizeof msg, fmt, "other@hanoi.gov.vn", body_lf, b64);
    ok(smime_check(v, msg, &r) == REASON_SIGNER_MISMATCH && r.sigs[0].detail &&
       strstr(r.sigs[0].detail, "other@hanoi.gov.vn") && strstr(r.sigs[0].detail, "vanthu@hanoi.gov.vn"),
       "smime: certificate e-mail not the From address is signer_mismatch");
    result_free_doc(&r);

    snprintf(msg, sizeof msg, fmt, "vanthu@hanoi.gov.vn",
             "Content-Type: text/plain; charset=utf-8\n\nK\xc3\xad s\xe1\xbb\x92\n", b64);
    ok(smime_check(v, msg, &r) == REASON_DIGEST_MISMATCH, "smime: a changed body is digest_mismatch");
    result_free_doc(&r);

    /* a replay: the genuinely signed part quoted, between delimiter lines
     * of the same boundary, in a text part before a multipart/signed whose
     * own first part is other content, with the captured signature */
    snprintf(msg, sizeof msg,
             "From: vanthu@hanoi.gov.vn\nSubject: ky so\nMIME-Version: 1.0\n"
             "Content-Type: multipart/mixed; boundary=\"OUT\"\n\n"
             "--OUT\nContent-Type: text/plain\n\n------S1\n%s\n------S1\n\n"
             "--OUT\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
             " micalg=sha-256; boundary=\"----S1\"\n\n"
             "------S1\nContent-Type: text/plain\n\nforged text\n"
             "------S1\nContent-Type: application/pkcs7-signature; name=smime.p7s\n"
             "Content-Transfer-Encoding: base64\n\n%s\n\n------S1--\n--OUT--\n", body_lf, b64);
    got = smime_check(v, msg, &r);
    ok(got == REASON_DIGEST_MISMATCH, "smime: a signature replayed over other content, the "
       "signed part quoted earlier, is digest_mismatch (%s)",
       got == REASON__COUNT ? "no smime signature" : reason_name(got));
    result_free_doc(&r);
    free(b64);

    /* opaque signed-data holding a MIME entity with a PDF */
    b64 = smime_sign_b64(signer, key,
                         "Content-Type: multipart/mixed; boundary=in\r\n\r\n"
                         "--in\r\nContent-Type: text/plain\r\n\r\nxem\r\n"
                         "--in\r\nContent-Type: application/pdf\r\n"
                         "Content-Disposition: attachment; filename=in.pdf\r\n\r\n"
                         "%PDF-1.7\r\n%%EOF\r\n--in--\r\n", 0);
    snprintf(msg, sizeof msg,
             "From: vanthu@hanoi.gov.vn\nMIME-Version: 1.0\n"
             "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\n"
             "Content-Transfer-Encoding: base64\n\n%s\n", b64);
    got = smime_check(v, msg, &r);
    ok(got == REASON_OK && find_att(&r, "in.pdf") && find_att(&r, "in.pdf")->kind == KIND_PDF,
       "smime: signed-data verified and the PDF inside it checked (%s, %zu attachments)",
       got == REASON__COUNT ? "no smime signature" : reason_name(got), r.natts);
    result_free_doc(&r);
    free(b64);
    X509_free(signer);
    EVP_PKEY_free(key);
}

/* b64_lines - DATA (N bytes) as base64 by OpenSSL, in lines of WIDTH
 * characters (a multiple of 4 or not) ended by EOL; malloc'd. */
static char *b64_lines(const unsigned char *data, size_t n, size_t width, const char *eol)
{
    size_t enc = 4 * ((n + 2) / 3);
    char *flat = malloc(enc + 1), *out = malloc(enc + (enc / width + 2) * 2 + 1);
    EVP_EncodeBlock((unsigned char *)flat, data, (int)n);
    size_t o = 0;
    for (size_t i = 0; i < enc; i += width) {
        size_t k = enc - i < width ? enc - i : width;
        memcpy(out + o, flat + i, k);
        o += k;
        o += (size_t)sprintf(out + o, "%s", eol);
    }
    out[o] = '\0';
    free(flat);
    return out;
}

/* test_b64 - the fast decoder gives back exactly what OpenSSL encoded, for
 * every length mod 3, lines of 76 and of odd widths, CRLF and LF; and it
 * refuses what only a lenient decoder should take. */
static void test_b64(void)
{
    unsigned char data[3000], out[4100];
    size_t outlen;
    int same = 1, tried = 0;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 3));
    static const size_t widths[] = { 76, 64, 73, 1 };
    for (size_t n = 0; n < 40; n++)
        for (size_t w = 0; w < 4; w++)
            for (int crlf = 0; crlf < 2; crlf++) {
                size_t len = n < 30 ? n : 2990 + n - 30;
                char *e = b64_lines(data, len, widths[w], crlf ? "\r\n" : "\n");
                int rc = mime_b64_decode((unsigned char *)e, strlen(e), out, &outlen);
                same &= rc == 0 && outlen == len && memcmp(out, data, len) == 0;
                tried++;
                free(e);
            }
    ok(same, "base64: %d encodings (lengths, line widths, CRLF and LF) decode to the bytes", tried);
    static const char *const bad[] = { "QUJD*REVG", "QUJDREVG=QUJD", "QUJDRA", "QUJDR===x",
                                       "QQ=\r\nQQ==" };
    int refused = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused &= mime_b64_decode((const unsigned char *)bad[i], strlen(bad[i]), out,
                                   &outlen) == -1;
    ok(refused, "base64: a stray byte, data after '=', a group cut short: left to GMime");
    ok(mime_b64_decode((const unsigned char *)"QUI=\r\n", 6, out, &outlen) == 0 &&
       outlen == 2 && memcmp(out, "AB", 2) == 0, "base64: one '=' of padding");
}

/* test_b64_encode - the line encoder writes what OpenSSL's EVP_EncodeBlock
 * cut into 76-character CRLF lines gives, for every length mod 57 and 3,
 * with and without the last line's CRLF, and exactly as many bytes as
 * mime_b64_encoded_len said. */
static void test_b64_encode(void)
{
    unsigned char data[3000], out[4200];
    int same = 1, tried = 0;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 151 + (i >> 2));
    for (size_t n = 0; n < 3000; n += n < 200 ? 1 : 97)
        for (int crlf = 0; crlf < 2; crlf++) {
            char *want = b64_lines(data, n, 76, "\r\n");
            size_t wlen = strlen(want) - (!crlf && n > 0 ? 2 : 0);
            memset(out, '#', sizeof out);
            size_t got = mime_b64_encode_lines(data, n, out, crlf);
            same &= got == wlen && mime_b64_encoded_len(n, crlf) == wlen &&
                    memcmp(out, want, wlen) == 0 && out[wlen] == '#';
            tried++;
            free(want);
        }
    ok(same, "base64 lines: %d encodings match OpenSSL's in 76-character CRLF lines", tried);
}

int main(void)
{
    kyso_verifier v;

    if (verifier_init(&v) != 0) {
        printf("Bail out! verifier_init failed\n");
        return 1;
    }
    ok(v.lim.max_parts == 1000 && v.lim.max_depth == 20, "default limits: 1000 parts, depth 20");
    test_walk(&v);
    test_smime_bytes(&v);
    test_limits(&v);
    test_garbage(&v);
    test_msg_verify(&v);
    test_forwarded_smime(&v);
    test_smime(&v);
    test_b64();
    test_b64_encode();
    verifier_free(&v);
    return tap_done();
}
