/*
 * test-cms.c - unit test of lib/cms.c: detached CMS signatures made with
 * CMS_sign over a PKI generated at run time, verified over two spans (like
 * a PDF ByteRange), and the failure reasons: digest mismatch, bad
 * signature, weak algorithm, bad key usage, two signers, garbage; then an
 * attached (.p7m) signature and cms_describe_signer; then signature
 * time-stamps made in-process by OpenSSL's TSA code (valid, wrong
 * imprint, damaged, not a token, an expired signer time-stamped while
 * valid, signingTime 7 hours away) and the validation data embedded in a
 * CMS (CertificateList choice, adbe-revocationInfoArchival).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/ts.h>

#include "cms.h"
#include "tap.h"
#include "pki.h"
#include "trust.h"
#include "verifier.h"

static const char *const ca_ext[] = {
    "basicConstraints", "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign", NULL
};
static const char *const leaf_ext[] = {
    "keyUsage", "critical,digitalSignature,nonRepudiation", NULL
};
static const char *const badku_ext[] = {
    "keyUsage", "critical,keyEncipherment", "extendedKeyUsage", "serverAuth", NULL
};

static const char *const tsa_ext[] = {
    "keyUsage", "critical,digitalSignature", "extendedKeyUsage", "critical,timeStamping", NULL
};

static EVP_PKEY *rkey, *skey, *lkey;
static X509 *root, *sub, *leaf, *badku, *tsa, *oldleaf;
static char dir[64];

/* setup - the PKI, written as anchors, intermediates and CRLs into V. */
static void setup(kyso_verifier *v)
{
    X509_CRL *crls[2];
    char path[128], err[256];

    rkey = pki_key_ec(); skey = pki_key_ec(); lkey = pki_key_ec();
    root = pki_cert("CN=Kyso Test Root", NULL, NULL, rkey, 1, -10 * PKI_DAY,
                    100 * PKI_DAY, ca_ext, NULL);
    sub = pki_cert("CN=Kyso Test Sub CA", root, rkey, skey, 2, -10 * PKI_DAY,
                   100 * PKI_DAY, ca_ext, NULL);
    leaf = pki_cert("CN=Sở Nội vụ/O=Sở Nội vụ/UID=MST:4200123456", sub, skey, lkey, 10,
                    -PKI_DAY, 30 * PKI_DAY, leaf_ext, NULL);
    badku = pki_cert("CN=Server", sub, skey, lkey, 11, -PKI_DAY, 30 * PKI_DAY,
                     badku_ext, NULL);
    tsa = pki_cert("CN=Kyso Test TSA", sub, skey, lkey, 12, -10 * PKI_DAY, 90 * PKI_DAY,
                   tsa_ext, NULL);
    oldleaf = pki_cert("CN=Sở Cũ/O=Sở Cũ/UID=MST:4200999999", sub, skey, lkey, 13,
                       -9 * PKI_DAY, -2 * PKI_DAY, leaf_ext, NULL);
    crls[0] = pki_crl_new(root, -3600, 7 * PKI_DAY);
    pki_crl_sign(crls[0], rkey);
    crls[1] = pki_crl_new(sub, -3600, 7 * PKI_DAY);
    pki_crl_sign(crls[1], skey);
    strcpy(dir, "/tmp/kyso-test-cms-XXXXXX");
    if (mkdtemp(dir) == NULL)
        pki_die("mkdtemp");
    memset(v, 0, sizeof(*v));
    v->trust = trust_new();
    v->lim.max_cms_size = 1 << 20;
    v->lim.max_cms_certs = 50;
    v->lim.max_doc_size = 1 << 24;
    v->algo.min_rsa_bits = 2048;
    v->algo.min_ec_bits = 256;
    snprintf(path, sizeof(path), "%s/a.pem", dir);
    pki_write_certs(path, &root, 1);
    if (trust_add_anchors(v->trust, path, err, sizeof(err)) != 1)
        pki_die(err);
    pki_write_certs(path, &sub, 1);
    if (trust_add_intermediates(v->trust, path, err, sizeof(err)) != 1)
        pki_die(err);
    pki_write_crls(path, crls, 2);
    if (trust_add_crls(v->trust, path, err, sizeof(err)) != 2)
        pki_die(err);
    remove(path);
    rmdir(dir);
    X509_CRL_free(crls[0]);
    X509_CRL_free(crls[1]);
}

/* sign - DER of a CMS over DATA by CERT (and CERT2 when not NULL) with MD;
 * CORRUPT flips a byte of the first signature value. */
static unsigned char *sign(X509 *cert, X509 *cert2, const EVP_MD *md, int flags,
                           const char *data, int corrupt, int *len)
{
    BIO *in = BIO_new_mem_buf(data, (int)strlen(data));
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
                                    CMS_PARTIAL | CMS_BINARY | flags);
    unsigned char *der = NULL;

    if (cms == NULL || !CMS_add1_signer(cms, cert, lkey, md, CMS_BINARY | CMS_CADES)
        || (cert2 && !CMS_add1_signer(cms, cert2, lkey, md, CMS_BINARY))
        || !CMS_add1_cert(cms, sub) || !CMS_final(cms, in, NULL, CMS_BINARY | flags))
        pki_die("CMS_sign");
    if (corrupt) {
        CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
        ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
        unsigned char *p = (unsigned char *)ASN1_STRING_get0_data(sig);

        p[ASN1_STRING_length(sig) - 2] ^= 0x55;
    }
    *len = i2d_CMS_ContentInfo(cms, &der);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    return der;
}

/* verify - cms_verify_detached of DER over BUF minus its 4-byte gap at GAP. */
static kyso_reason verify(kyso_verifier *v, const unsigned char *der, int len,
                          const char *buf, size_t gap, unsigned flags, kyso_sig_result *out)
{
    kyso_span spans[2] = {
        { (const unsigned char *)buf, gap },
        { (const unsigned char *)buf + gap + 4, strlen(buf) - gap - 4 }
    };

    memset(out, 0, sizeof(*out));
    return cms_verify_detached(v, der, (size_t)len, spans, 2, flags, out);
}

/* expect - one detached case, with its signature freed afterwards. */
/* alias_digest - DER (freed) with signer 0's digestAlgorithm renamed to
 * NID (a signature algorithm OID that OpenSSL maps to the same digest);
 * the new DER, *len updated. */
static unsigned char *alias_digest(unsigned char *der, int *len, int nid)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, *len);
    X509_ALGOR *dig = NULL;
    unsigned char *out = NULL;

    if (cms == NULL)
        pki_die("d2i_CMS_ContentInfo");
    CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), NULL, NULL,
                             &dig, NULL);
    X509_ALGOR_set0(dig, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL);
    *len = i2d_CMS_ContentInfo(cms, &out);
    CMS_ContentInfo_free(cms);
    OPENSSL_free(der);
    return out;
}

static void expect(kyso_verifier *v, unsigned char *der, int len, const char *buf,
                   unsigned flags, kyso_reason want, const char *what)
{
    kyso_sig_result out;
    kyso_reason r = verify(v, der, len, buf, 6, flags, &out);

    ok(r == want && out.reason == r, "%s: %s (got %s: %s)", what, reason_name(want),
       reason_name(r), out.detail ? out.detail : "");
    result_free_signer(&out.signer);
    free(out.detail);
    OPENSSL_free(der);
}

static void test_detached(kyso_verifier *v)
{
    /* BUF minus bytes 6..9 ("gap>") is what is signed, as with a ByteRange */
    const char *buf = "%PDF-<gap>1.7 body of the document";
    const char *signed_data = "%PDF-<1.7 body of the document";
    char flipped[64];
    kyso_sig_result out;
    unsigned char *der;
    int len;

    der = sign(leaf, NULL, EVP_sha256(), CMS_DETACHED, signed_data, 0, &len);
    ok(verify(v, der, len, buf, 6, CMSV_ONE_SIGNER, &out) == REASON_OK,
       "good signature over two spans (%s)", out.detail ? out.detail : "");
    ok(out.signer.subject && strstr(out.signer.subject, "CN=Sở Nội vụ")
       && out.signer.cls == CLASS_ORGANISATION && out.signing_time[0] != '\0',
       "signer described: %s, %s", out.signer.subject ? out.signer.subject : "",
       out.signing_time);
    result_free_signer(&out.signer);
    free(out.detail);
    strcpy(flipped, buf);
    flipped[20] ^= 1;
    expect(v, der, len, flipped, 0, REASON_DIGEST_MISMATCH, "content byte flipped");
    der = sign(leaf, NULL, EVP_sha256(), CMS_DETACHED, signed_data, 1, &len);
    expect(v, der, len, buf, 0, REASON_BAD_SIGNATURE, "signature value corrupted");
    der = sign(leaf, NULL, EVP_sha1(), CMS_DETACHED, signed_data, 0, &len);
    expect(v, der, len, buf, 0, REASON_WEAK_ALGORITHM, "SHA-1 digest");
    der = sign(leaf, NULL, EVP_sha1(), CMS_DETACHED, signed_data, 0, &len);
    der = alias_digest(der, &len, NID_sha1WithRSAEncryption);
    expect(v, der, len, buf, 0, REASON_WEAK_ALGORITHM,
           "SHA-1 named by sha1WithRSAEncryption as the digest algorithm");
    der = sign(badku, NULL, EVP_sha256(), CMS_DETACHED, signed_data, 0, &len);
    expect(v, der, len, buf, 0, REASON_BAD_KEY_USAGE, "keyEncipherment/serverAuth leaf");
    der = sign(leaf, badku, EVP_sha256(), CMS_DETACHED, signed_data, 0, &len);
    expect(v, der, len, buf, CMSV_ONE_SIGNER, REASON_MALFORMED, "two signers, one allowed");
    der = sign(leaf, NULL, EVP_sha256(), 0, signed_data, 0, &len);
    expect(v, der, len, buf, 0, REASON_MALFORMED, "eContent in a detached signature");
    der = OPENSSL_malloc(64);
    memset(der, 0x30, 64);
    expect(v, der, 64, buf, 0, REASON_MALFORMED, "garbage");
    der = sign(leaf, NULL, EVP_sha256(), CMS_DETACHED, signed_data, 0, &len);
    v->lim.max_cms_size = (size_t)len - 1;
    expect(v, der, len, buf, 0, REASON_MALFORMED, "larger than max_cms_size");
    v->lim.max_cms_size = 1 << 20;
}

static void test_attached(kyso_verifier *v)
{
    const char *doc = "attached document";
    kyso_sig_result out;
    unsigned char *der, *content = NULL;
    size_t clen = 0;
    int len;

    der = sign(leaf, NULL, EVP_sha256(), 0, doc, 0, &len);
    memset(&out, 0, sizeof(out));
    ok(cms_verify_attached(v, der, (size_t)len, &content, &clen, &out) == REASON_OK
       && clen == strlen(doc) && memcmp(content, doc, clen) == 0,
       "attached signature verifies and yields its content (%s)",
       out.detail ? out.detail : "");
    free(content);
    result_free_signer(&out.signer);
    free(out.detail);
    memset(&out, 0, sizeof(out));
    ok(cms_describe_signer(v, der, (size_t)len, &out) == 0 && out.signer.serial
       && strcmp(out.signer.serial, "0A") == 0, "cms_describe_signer");
    result_free_signer(&out.signer);
    ok(cms_describe_signer(v, (const unsigned char *)"junk", 4, &out) == -1,
       "cms_describe_signer on junk");
    OPENSSL_free(der);
}

static long ts_offset;      /* genTime of the test TSA: now + ts_offset */

/* ts_time - TS_time_cb giving now + ts_offset. */
static int ts_time(struct TS_resp_ctx *ctx, void *data, long *sec, long *usec)
{
    (void)ctx; (void)data;
    *sec = (long)time(NULL) + ts_offset;
    *usec = 0;
    return 1;
}

/* make_token - a TimeStampToken by the test TSA over DATA (LEN bytes);
 * WRONG flips a byte of the imprint asked for.  DER, *tlen bytes. */
static unsigned char *make_token(const unsigned char *data, size_t len, int wrong, int *tlen)
{
    unsigned char md[32], *der = NULL, *tok = NULL;
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    TS_RESP_CTX *c = TS_RESP_CTX_new();
    STACK_OF(X509) *certs = sk_X509_new_null();
    ASN1_OBJECT *pol = OBJ_txt2obj("1.2.3.4.1", 1);
    BIO *in;
    TS_RESP *resp;
    int n;

    EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    md[0] ^= wrong ? 0xff : 0;
    X509_ALGOR_set_md(alg, EVP_sha256());
    sk_X509_push(certs, sub);
    if (!TS_MSG_IMPRINT_set_algo(mi, alg) || !TS_MSG_IMPRINT_set_msg(mi, md, 32)
        || !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi)
        || !TS_REQ_set_cert_req(req, 1) || (n = i2d_TS_REQ(req, &der)) <= 0
        || !TS_RESP_CTX_set_signer_cert(c, tsa) || !TS_RESP_CTX_set_signer_key(c, lkey)
        || !TS_RESP_CTX_set_def_policy(c, pol) || !TS_RESP_CTX_add_md(c, EVP_sha256())
        || !TS_RESP_CTX_set_signer_digest(c, EVP_sha256())
        || !TS_RESP_CTX_set_ess_cert_id_digest(c, EVP_sha256())
        || !TS_RESP_CTX_set_certs(c, certs))
        pki_die("time-stamp request");
    TS_RESP_CTX_set_time_cb(c, ts_time, NULL);
    in = BIO_new_mem_buf(der, n);
    resp = TS_RESP_create_response(c, in);
    if (resp == NULL || TS_RESP_get_token(resp) == NULL
        || (*tlen = i2d_PKCS7(TS_RESP_get_token(resp), &tok)) <= 0)
        pki_die("time-stamp response");
    TS_RESP_free(resp);
    BIO_free(in);
    OPENSSL_free(der);
    TS_REQ_free(req);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    TS_RESP_CTX_free(c);
    sk_X509_free(certs);
    ASN1_OBJECT_free(pol);
    return tok;
}

/* TOKEN_* kinds for sign_ts */
enum { TS_GOOD, TS_WRONG_IMPRINT, TS_DAMAGED, TS_NOT_A_TOKEN };

/* sign_ts - a detached CMS over DATA by CERT with a signature time-stamp
 * of KIND made at now + OFFSET seconds.  DER, *len bytes. */
static unsigned char *sign_ts(X509 *cert, const char *data, int kind, long offset, int *len)
{
    BIO *in = BIO_new_mem_buf(data, (int)strlen(data));
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
                                    CMS_PARTIAL | CMS_BINARY | CMS_DETACHED);
    CMS_SignerInfo *si;
    unsigned char *der = NULL, *tok, junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
    ASN1_OCTET_STRING *sig;
    int tlen;

    if (cms == NULL || (si = CMS_add1_signer(cms, cert, lkey, EVP_sha256(),
                                             CMS_BINARY | CMS_CADES)) == NULL
        || !CMS_add1_cert(cms, sub) || !CMS_final(cms, in, NULL, CMS_BINARY | CMS_DETACHED))
        pki_die("CMS_sign");
    sig = CMS_SignerInfo_get0_signature(si);
    ts_offset = offset;
    tok = make_token(ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig),
                     kind == TS_WRONG_IMPRINT, &tlen);
    if (kind == TS_DAMAGED)
        tok[tlen - 3] ^= 0x55;          /* inside the TSA's signature value */
    if (!CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE,
                                       kind == TS_NOT_A_TOKEN ? junk : tok,
                                       kind == TS_NOT_A_TOKEN ? (int)sizeof junk : tlen))
        pki_die("unsigned attribute");
    *len = i2d_CMS_ContentInfo(cms, &der);
    OPENSSL_free(tok);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    return der;
}

/* free_sig - what a kyso_sig_result filled by cms owns. */
static void free_sig(kyso_sig_result *out)
{
    result_free_signer(&out->signer);
    free(out->detail);
    free(out->warning);
    memset(out, 0, sizeof(*out));
}

static void test_timestamps(kyso_verifier *v)
{
    const char *buf = "%PDF-<gap>1.7 body of the document";
    const char *signed_data = "%PDF-<1.7 body of the document";
    kyso_sig_result out;
    unsigned char *der;
    kyso_reason r;
    int len;

    der = sign_ts(leaf, signed_data, TS_GOOD, -60, &len);
    r = verify(v, der, len, buf, 6, CMSV_ONE_SIGNER, &out);
    ok(r == REASON_OK && out.timestamp_time[0] && out.poe_time[0] && out.warning == NULL,
       "signature time-stamp: valid, time-stamp %s, checked at %s (%s)", out.timestamp_time,
       out.poe_time, out.detail ? out.detail : "");
    free_sig(&out);
    OPENSSL_free(der);

    der = sign_ts(leaf, signed_data, TS_WRONG_IMPRINT, -60, &len);
    r = verify(v, der, len, buf, 6, CMSV_ONE_SIGNER, &out);
    ok(r == REASON_TIMESTAMP_INVALID && out.detail && strstr(out.detail, "imprint"),
       "time-stamp over the wrong imprint: timestamp_invalid (%s)",
       out.detail ? out.detail : "");
    free_sig(&out);
    OPENSSL_free(der);

    der = sign_ts(leaf, signed_data, TS_DAMAGED, -60, &len);
    r = verify(v, der, len, buf, 6, CMSV_ONE_SIGNER, &out);
    ok(r == REASON_TIMESTAMP_INVALID, "damaged time-stamp token: timestamp_invalid (%s)",
       out.detail ? out.detail : "");
    free_sig(&out);
    OPENSSL_free(der);

    der = sign_ts(leaf, signed_data, TS_NOT_A_TOKEN, -60, &len);
    r = verify(v, der, len, buf, 6, CMSV_ONE_SIGNER, &out);
    ok(r == REASON_TIMESTAMP_INVALID, "a SEQUENCE that is no token: timestamp_invalid (%s)",
       out.detail ? out.detail : "");
    free_sig(&out);
    OPENSSL_free(der);

    der = sign(oldleaf, NULL, EVP_sha256(), CMS_DETACHED, signed_data, 0, &len);
    expect(v, der, len, buf, 0, REASON_CERT_EXPIRED, "expired signer, no time-stamp");
    der = sign_ts(oldleaf, signed_data, TS_GOOD, -5 * PKI_DAY, &len);
    r = verify(v, der, len, buf, 6, CMSV_ONE_SIGNER, &out);
    ok(r == REASON_OK && out.poe_time[0],
       "expired signer time-stamped while valid: valid, checked at %s (%s)", out.poe_time,
       out.detail ? out.detail : "");
    free_sig(&out);
    OPENSSL_free(der);

    der = sign_ts(leaf, signed_data, TS_GOOD, -7 * 3600, &len);
    r = verify(v, der, len, buf, 6, CMSV_ONE_SIGNER, &out);
    ok(r == REASON_OK && out.warning && strstr(out.warning, "7 hours"),
       "signingTime 7 hours from the time-stamp: a warning, still valid (%s)",
       out.warning ? out.warning : "no warning");
    free_sig(&out);
    OPENSSL_free(der);
}

static void test_embedded(kyso_verifier *v)
{
    const char *data = "document";
    BIO *in = BIO_new_mem_buf(data, (int)strlen(data));
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
                                    CMS_PARTIAL | CMS_BINARY | CMS_DETACHED);
    X509_CRL *crl = pki_crl_new(sub, -3600, 7 * PKI_DAY);
    CMS_SignerInfo *si;
    unsigned char *der = NULL, *cder = NULL, adbe[4096];
    static const unsigned char ocsp[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
    kyso_revdata rd = { 0 };
    ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113583.1.1.8", 1);
    int len, clen;
    size_t k = 0;

    pki_crl_sign(crl, skey);
    clen = i2d_X509_CRL(crl, &cder);
    /* SEQUENCE { [0] { SEQUENCE { crl } } [1] { SEQUENCE { ocsp } } }, long forms */
    int s0 = clen + 4, t0 = s0 + 4, s1 = (int)sizeof ocsp + 2, t1 = s1 + 2, all = t0 + t1;
    adbe[k++] = 0x30; adbe[k++] = 0x82; adbe[k++] = (unsigned char)(all >> 8);
    adbe[k++] = (unsigned char)all;
    adbe[k++] = 0xa0; adbe[k++] = 0x82; adbe[k++] = (unsigned char)(s0 >> 8);
    adbe[k++] = (unsigned char)s0;
    adbe[k++] = 0x30; adbe[k++] = 0x82; adbe[k++] = (unsigned char)(clen >> 8);
    adbe[k++] = (unsigned char)clen;
    memcpy(adbe + k, cder, (size_t)clen);
    k += (size_t)clen;
    adbe[k++] = 0xa1; adbe[k++] = (unsigned char)s1;
    adbe[k++] = 0x30; adbe[k++] = (unsigned char)sizeof ocsp;
    memcpy(adbe + k, ocsp, sizeof ocsp);
    k += sizeof ocsp;
    if (cms == NULL || (si = CMS_add1_signer(cms, leaf, lkey, EVP_sha256(),
                                             CMS_BINARY | CMS_CADES)) == NULL
        || !CMS_signed_add1_attr_by_OBJ(si, obj, V_ASN1_SEQUENCE, adbe, (int)k)
        || !CMS_add1_crl(cms, crl) || !CMS_final(cms, in, NULL, CMS_BINARY | CMS_DETACHED))
        pki_die("CMS with validation data");
    len = i2d_CMS_ContentInfo(cms, &der);
    ok(cms_get_revdata(v, der, (size_t)len, &rd) == 0 && rd.ncrls == 2 && rd.nocsp == 1
       && rd.crls[0].len == (size_t)clen && memcmp(rd.crls[0].p, cder, (size_t)clen) == 0
       && rd.ocsp[0].len == sizeof ocsp,
       "embedded validation data: SignedData crls and adbe-revocationInfoArchival "
       "(%zu CRLs, %zu OCSP)", rd.ncrls, rd.nocsp);
    revdata_free(&rd);
    kyso_span span = { (const unsigned char *)data, strlen(data) };
    kyso_sig_result out = { 0 };
    ok(cms_verify_detached(v, der, (size_t)len, &span, 1, 0, &out) == REASON_OK,
       "a signature carrying validation data verifies (%s)", out.detail ? out.detail : "");
    free_sig(&out);
    ok(cms_get_revdata(v, (const unsigned char *)"junk", 4, &rd) == -1 && rd.ncrls == 0,
       "cms_get_revdata on junk");
    OPENSSL_free(der);
    OPENSSL_free(cder);
    X509_CRL_free(crl);
    ASN1_OBJECT_free(obj);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
}

int main(void)
{
    kyso_verifier v;

    setup(&v);
    test_detached(&v);
    test_attached(&v);
    test_timestamps(&v);
    test_embedded(&v);
    trust_free(v.trust);
    X509_free(root); X509_free(sub); X509_free(leaf); X509_free(badku);
    X509_free(tsa); X509_free(oldleaf);
    EVP_PKEY_free(rkey); EVP_PKEY_free(skey); EVP_PKEY_free(lkey);
    return tap_done();
}
