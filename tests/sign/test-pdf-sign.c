/*
 * test-pdf-sign.c - pdf_sign on the generated fixtures with the test
 * organisation key from a file: what the update looks like (original
 * bytes kept, the file's own cross-reference kind, /Prev, /ID), what is
 * refused and why, and that a token failure leaves nothing behind; a
 * B-LT document (DSS from CRLs and an OCSP response made by run-sign.sh).  The
 * signed files go to tests/out/sign/ where run-sign.sh checks them with
 * kyso verify, pdfsig, mutool and qpdf.  Alone (no fixtures) it skips.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "../unit/tap.h"
#include "buf.h"
#include "pdf-sign.h"
#include "token.h"
#include "../unit/memsign.h"

static char fx[1024], outdir[1024];

static X509 *load_cert(const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/pki/%s", fx, name);
    FILE *f = fopen(p, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return x;
}

static EVP_PKEY *load_key(const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/pki/%s", fx, name);
    FILE *f = fopen(p, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

static int read_fixture(const char *name, const unsigned char **p, size_t *n)
{
    char path[2400];
    if (strncmp(name, "in/", 3) == 0)      /* made by run-sign.sh */
        snprintf(path, sizeof path, "%s/%s", outdir, name);
    else
        snprintf(path, sizeof path, "%s/pdf/%s", fx, name);
    return buf_map_file(path, 64 << 20, p, n);
}

static void write_out(const char *name, const unsigned char *p, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* tail_has - does the part after the original LEN bytes contain S? */
static int tail_has(const unsigned char *p, size_t n, size_t len, const char *s)
{
    return memmem(p + len, n - len, s, strlen(s)) != NULL;
}

/* startxref_of - the last startxref value of a file. */
static long long startxref_of(const unsigned char *p, size_t n)
{
    const unsigned char *hit = NULL;
    for (const unsigned char *q = p; (q = memmem(q, n - (size_t)(q - p), "startxref", 9)); q++)
        hit = q;
    return hit ? strtoll((const char *)hit + 9, NULL, 10) : -1;
}

/*
 * sign_one - sign fixture IN into OUT (under outdir) with REQ; checks the
 * update keeps the original bytes and chains to the old section.
 */
static void sign_one(pdf_sign_req *req, const char *in, const char *out, int xref_stream)
{
    const unsigned char *p;
    size_t n, m;
    unsigned char *o = NULL;
    char err[512] = "";
    if (read_fixture(in, &p, &n) != 0) {
        ok(0, "%s: fixture readable", in);
        return;
    }
    int rc = pdf_sign(req, p, n, &o, &m, err, sizeof err);
    ok(rc == TOKEN_OK, "%s signed (%s)", in, err);
    if (rc == TOKEN_OK) {
        char prev[40];
        snprintf(prev, sizeof prev, "/Prev %lld", startxref_of(p, n));
        ok(m > n && memcmp(o, p, n) == 0, "%s: the original bytes are kept as they were", in);
        ok(tail_has(o, m, n, prev), "%s: the new section has %s", in, prev);
        ok(tail_has(o, m, n, xref_stream ? "/Type/XRef" : "\nxref\n"),
           "%s: the new section is a cross-reference %s, like the file's", in,
           xref_stream ? "stream" : "table");
        ok(tail_has(o, m, n, "/SubFilter/ETSI.CAdES.detached"), "%s: PAdES sub-filter", in);
        write_out(out, o, m);
    }
    free(o);
    buf_unmap_file(p, n);
}

/* refused - fixture IN is refused with a reason containing WANT. */
static void refused(pdf_sign_req *req, const char *in, const char *want)
{
    const unsigned char *p;
    size_t n, m;
    unsigned char *o = (unsigned char *)"x";
    char err[512] = "";
    if (read_fixture(in, &p, &n) != 0) {
        ok(0, "%s: fixture readable", in);
        return;
    }
    int rc = pdf_sign(req, p, n, &o, &m, err, sizeof err);
    ok(rc == PDFS_EREFUSED && o == NULL && strstr(err, want),
       "%s refused: '%s' (want '%s')", in, err, want);
    buf_unmap_file(p, n);
}

/* last_rect - the four numbers of the last "/Rect[" in P (ours). */
static int last_rect(const unsigned char *p, size_t n, double r[4])
{
    const unsigned char *hit = NULL;
    for (const unsigned char *q = p; (q = memmem(q, n - (size_t)(q - p), "/Rect[", 6)); q++)
        hit = q;
    return hit && sscanf((const char *)hit + 6, "%lf %lf %lf %lf", &r[0], &r[1], &r[2], &r[3]) == 4
           ? 0 : -1;
}

/*
 * placement_over_personal - the document run-sign.sh made, whose personal
 * signature is drawn at [72 560 252 620], signed with run-sign.sh's seal:
 * the seal (the square of the box's height at its left) is centred on the
 * middle of that signature's left third, (102, 590), as Decree 30/2020
 * draws a seal over a signature.
 */
static void placement_over_personal(pdf_sign_req *req)
{
    char path[1200];
    const unsigned char *p;
    size_t n, m;
    unsigned char *o = NULL;
    char err[512] = "";
    double r[4];
    const unsigned char *seal;
    size_t seal_len;
    snprintf(path, sizeof path, "%s/in/seal.png", outdir);
    if (buf_map_file(path, 1 << 20, &seal, &seal_len) != 0) {
        ok(0, "seal.png (made by run-sign.sh) readable");
        return;
    }
    snprintf(path, sizeof path, "%s/in/visible-personal.pdf", outdir);
    if (buf_map_file(path, 64 << 20, &p, &n) != 0) {
        ok(0, "visible-personal.pdf (made by run-sign.sh) readable");
        buf_unmap_file(seal, seal_len);
        return;
    }
    req->seal = seal;
    req->seal_len = seal_len;
    int rc = pdf_sign(req, p, n, &o, &m, err, sizeof err);
    req->seal = NULL;
    req->seal_len = 0;
    ok(rc == TOKEN_OK, "visible-personal.pdf signed (%s)", err);
    if (rc == TOKEN_OK && last_rect(o, m, r) == 0) {
        double h = r[3] - r[1], cx = r[0] + h / 2, cy = (r[1] + r[3]) / 2;
        ok(cx > 101.5 && cx < 102.5 && cy > 589.5 && cy < 590.5,
           "the seal is centred on the left third of the personal signature: (%.1f, %.1f)",
           cx, cy);
        write_out("visible-then-org.pdf", o, m);
    } else {
        ok(0, "our widget has a /Rect");
    }
    free(o);
    buf_unmap_file(p, n);
    buf_unmap_file(seal, seal_len);
}

/* add_der_file - the DER of PATH (a PEM CRL when PEM_CRL, else raw DER)
 * into RD as an OCSP response (IS_OCSP) or a CRL.  0, or -1. */
static int add_der_file(kyso_revdata *rd, const char *path, int is_ocsp, int pem_crl)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[65536], *der = NULL;
    int n = -1;
    if (f == NULL)
        return -1;
    if (pem_crl) {
        X509_CRL *c = PEM_read_X509_CRL(f, NULL, NULL, NULL);
        n = c ? i2d_X509_CRL(c, &der) : -1;
        X509_CRL_free(c);
    } else {
        n = (int)fread(buf, 1, sizeof buf, f);
    }
    fclose(f);
    int rc = n > 0 ? revdata_add(rd, is_ocsp, pem_crl ? der : buf, (size_t)n) : -1;
    OPENSSL_free(der);
    return rc;
}

/* sign_lt - plain.pdf as PAdES B-LT with the fixtures' CRLs and the OCSP
 * response run-sign.sh made (tests/out/sign/in/org.ocsp), into
 * plain-lt.pdf; then a second DSS merged into the first. */
static void sign_lt(pdf_sign_req *req)
{
    kyso_revdata rd = { 0 };
    char p1[1200], p2[1200], p3[1200], err[256] = "";
    const unsigned char *p;
    unsigned char *o = NULL, *o2 = NULL;
    size_t n, m = 0, m2 = 0;
    snprintf(p1, sizeof p1, "%s/pki/crl/sub.crl", fx);
    snprintf(p2, sizeof p2, "%s/pki/crl/root.crl", fx);
    snprintf(p3, sizeof p3, "%s/in/org.ocsp", outdir);
    int have = add_der_file(&rd, p1, 0, 1) == 0 && add_der_file(&rd, p2, 0, 1) == 0;
    int have_ocsp = add_der_file(&rd, p3, 1, 0) == 0;
    ok(have, "B-LT: CRLs loaded (OCSP response %s)", have_ocsp ? "too" : "absent");
    req->lt = 1;
    req->lt_data = &rd;
    if (read_fixture("plain.pdf", &p, &n) == 0) {
        int rc = pdf_sign(req, p, n, &o, &m, err, sizeof err);
        ok(rc == TOKEN_OK && memmem(o, m, "/DSS", 4) && memmem(o, m, "/VRI", 4) &&
           memmem(o, m, "/OCSPs", 6) && memmem(o, m, "/CRLs", 5),
           "B-LT: signed with a DSS (/Certs /OCSPs /CRLs /VRI) in a second update (%s)", err);
        if (rc == TOKEN_OK) {
            write_out("plain-lt.pdf", o, m);
            rc = pdf_sign_add_dss(o, m, 100000, NULL, &rd, NULL, 0, &o2, &m2, err, sizeof err);
            ok(rc == 0 && m2 > m && memcmp(o2, o, m) == 0,
               "a second DSS update keeps the first and adds to it (%s)", err);
            if (rc == 0)
                write_out("plain-lt2.pdf", o2, m2);
        }
        buf_unmap_file(p, n);
    }
    req->lt = 0;
    req->lt_data = NULL;
    free(o);
    free(o2);
    revdata_free(&rd);
}

int main(void)
{
    const char *b = getenv("top_builddir");
    snprintf(fx, sizeof fx, "%s", getenv("KYSO_FIXTURES") ? getenv("KYSO_FIXTURES") : "");
    /* only through run-sign.sh, which owns tests/out/sign */
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/.done", fx);
    if (!fx[0] || access(probe, R_OK) != 0 || getenv("KYSO_RUN_SIGN") == NULL) {
        printf("1..0 # SKIP no fixtures (run by tests/sign/run-sign.sh)\n");
        return 0;
    }
    snprintf(outdir, sizeof outdir, "%s/tests/out/sign", b ? b : ".");
    mkdir(outdir, 0755);

    X509 *cert = load_cert("org.pem"), *sub = load_cert("sub.pem");
    EVP_PKEY *key = load_key("org.key");
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, sub);
    cms_signer s = { cert, chain, 0, memsign_key, key, NULL };
    pdf_sign_req req = { .signer = &s, .kind = AP_SEAL, .place = PDFS_PLACE_AUTO,
                         .org_name = "Sở Thông tin và Truyền thông Tỉnh Demo",
                         .when = 1798777509, .max_objects = 100000 };
    ok(cert && key && sub, "test PKI loaded");

    sign_one(&req, "plain.pdf", "plain-org.pdf", 0);
    sign_one(&req, "hybrid.pdf", "hybrid-org.pdf", 0);
    sign_one(&req, "objstm.pdf", "objstm-org.pdf", 1);
    sign_one(&req, "cms-personal.pdf", "personal-then-org.pdf", 0);
    sign_one(&req, "mutool-personal.pdf", "mutool-then-org.pdf", 0);
    sign_one(&req, "certified-p2.pdf", "certified-p2-org.pdf", 0);
    req.place = PDFS_PLACE_INVISIBLE;
    sign_one(&req, "plain.pdf", "plain-invisible.pdf", 0);
    req.place = PDFS_PLACE_AUTO;
    req.kind = AP_ATTACHMENT;
    req.doc_number = "Số: 123/QĐ-UBND";
    sign_one(&req, "plain.pdf", "plain-attachment.pdf", 0);
    req.kind = AP_SEAL;
    req.doc_number = NULL;
    s.pss = 1;
    sign_one(&req, "plain.pdf", "plain-pss.pdf", 0);
    s.pss = 0;

    sign_lt(&req);
    placement_over_personal(&req);
    refused(&req, "certified-p1.pdf", "DocMDP P=1");
    refused(&req, "bad/broken-xref.pdf", "damaged");
    refused(&req, "bad/truncated.pdf", "complete PDF revision");
    refused(&req, "bad/notapdf.pdf", "complete PDF revision");
    refused(&req, "in/encrypted.pdf", "encrypted");
    refused(&req, "in/gen1-catalog.pdf", "generation other than 0");
    refused(&req, "in/gen1-page.pdf", "generation other than 0");
    refused(&req, "in/direct-root.pdf", "generation other than 0");

    /* the token is absent: its code and words come back, nothing is made */
    const unsigned char *p;
    size_t n, m;
    unsigned char *o = (unsigned char *)"x";
    char err[256] = "";
    cms_signer absent = { cert, chain, 0, memsign_absent, NULL, NULL };
    req.signer = &absent;
    if (read_fixture("plain.pdf", &p, &n) == 0) {
        int rc = pdf_sign(&req, p, n, &o, &m, err, sizeof err);
        ok(rc == TOKEN_ETEMP && o == NULL && strstr(err, "not present"),
           "token absent: TOKEN_ETEMP and no output (%s)", err);
        buf_unmap_file(p, n);
    }
    char t[64];
    pdf_sign_time_text(1798777509, t, sizeof t);
    ok(strcmp(t, "01/01/2027 11:25:09 +07:00") == 0, "signing time shown at +07:00: %s", t);
    pdf_sign_time_pdf(1798777509, t, sizeof t);
    ok(strcmp(t, "D:20270101112509+07'00'") == 0, "/M at +07'00': %s", t);

    sk_X509_pop_free(chain, X509_free);
    X509_free(cert);
    EVP_PKEY_free(key);
    return tap_done();
}
