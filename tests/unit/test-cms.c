/*
 * test-cms.c - unit test of lib/cms.c: detached CMS signatures made with
 * CMS_sign over a PKI generated at run time, verified over two spans (like
 * a PDF ByteRange), and the failure reasons: digest mismatch, bad
 * signature, weak algorithm, bad key usage, two signers, garbage; then an
 * attached (.p7m) signature and cms_describe_signer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>

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

static EVP_PKEY *rkey, *skey, *lkey;
static X509 *root, *sub, *leaf, *badku;
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

int main(void)
{
    kyso_verifier v;

    setup(&v);
    test_detached(&v);
    test_attached(&v);
    trust_free(v.trust);
    X509_free(root); X509_free(sub); X509_free(leaf); X509_free(badku);
    EVP_PKEY_free(rkey); EVP_PKEY_free(skey); EVP_PKEY_free(lkey);
    return tap_done();
}
