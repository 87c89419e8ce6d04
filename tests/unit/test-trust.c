/*
 * test-trust.c - unit test of lib/trust.c and lib/cert-class.c against a
 * PKI generated at run time: root, sub CA, leaves good, expired, not yet
 * valid, revoked (point in time), on hold, RSA-1024, SHA-1, bad key usage;
 * CRLs signed by the wrong key or with unknown critical extensions; PEM
 * loading from files and folders; certificate classes and descriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert-class.h"
#include "tap.h"
#include "pki.h"
#include "trust.h"
#include "verifier.h"

static const char *const ca_ext[] = {
    "basicConstraints", "critical,CA:TRUE", "keyUsage", "critical,keyCertSign,cRLSign",
    "subjectKeyIdentifier", "hash", NULL
};
static const char *const leaf_ext[] = {
    "basicConstraints", "CA:FALSE", "keyUsage", "critical,digitalSignature,nonRepudiation",
    "extendedKeyUsage", "emailProtection", NULL
};
static const char *const badku_ext[] = {
    "basicConstraints", "CA:FALSE", "keyUsage", "critical,keyEncipherment",
    "extendedKeyUsage", "serverAuth", NULL
};

typedef struct pki {
    EVP_PKEY *rkey, *skey, *lkey, *wkey, *rsakey;
    X509 *root, *sub, *good, *expired, *future, *revoked, *later, *hold,
         *rsa1024, *sha1, *badku, *stranger, *wrongsub;
    X509_CRL *rcrl, *scrl, *wrongcrl, *critcrl;
    char dir[64];
} pki;

/* make_pki - the whole test PKI and its CRLs. */
static void make_pki(pki *p)
{
    const char *sub = "CN=Kyso Test Sub CA/O=Kyso Test";

    p->rkey = pki_key_ec(); p->skey = pki_key_ec(); p->lkey = pki_key_ec();
    p->wkey = pki_key_ec(); p->rsakey = pki_key_rsa(1024);
    p->root = pki_cert("CN=Kyso Test Root/O=Kyso Test", NULL, NULL, p->rkey, 1,
                       -30 * PKI_DAY, 3650 * PKI_DAY, ca_ext, NULL);
    p->sub = pki_cert(sub, p->root, p->rkey, p->skey, 2, -20 * PKI_DAY,
                      3000 * PKI_DAY, ca_ext, NULL);
#define LEAF(f, name, serial, nb, na, key, ext, md) \
    p->f = pki_cert(name, p->sub, p->skey, key, serial, nb, na, ext, md)
    LEAF(good, "CN=Nguyễn Văn An/O=Sở Nội vụ/UID=CCCD:001099012345", 10,
         -PKI_DAY, 365 * PKI_DAY, p->lkey, leaf_ext, NULL);
    LEAF(expired, "CN=Expired", 11, -10 * PKI_DAY, -PKI_DAY, p->lkey, leaf_ext, NULL);
    LEAF(future, "CN=Future", 12, PKI_DAY, 10 * PKI_DAY, p->lkey, leaf_ext, NULL);
    LEAF(revoked, "CN=Revoked", 13, -5 * PKI_DAY, 365 * PKI_DAY, p->lkey, leaf_ext, NULL);
    LEAF(later, "CN=Revoked Later", 14, -5 * PKI_DAY, 365 * PKI_DAY, p->lkey, leaf_ext, NULL);
    LEAF(hold, "CN=On Hold", 15, -5 * PKI_DAY, 365 * PKI_DAY, p->lkey, leaf_ext, NULL);
    LEAF(rsa1024, "CN=Small RSA", 16, -PKI_DAY, 365 * PKI_DAY, p->rsakey, leaf_ext, NULL);
    LEAF(sha1, "CN=SHA-1 Signed", 17, -PKI_DAY, 365 * PKI_DAY, p->lkey, leaf_ext, EVP_sha1());
    LEAF(badku, "CN=Server/O=Kyso Test", 18, -PKI_DAY, 365 * PKI_DAY, p->lkey, badku_ext, NULL);
#undef LEAF
    /* same issuer name as the sub CA, other key: its CRL must not count */
    p->wrongsub = pki_cert(sub, NULL, NULL, p->wkey, 3, -PKI_DAY, PKI_DAY, ca_ext, NULL);
    p->stranger = pki_cert("CN=Stranger", p->wrongsub, p->wkey, p->lkey, 19,
                           -PKI_DAY, PKI_DAY, leaf_ext, NULL);
    p->rcrl = pki_crl_new(p->root, -PKI_DAY, 30 * PKI_DAY);
    pki_crl_sign(p->rcrl, p->rkey);
    p->scrl = pki_crl_new(p->sub, -3600, 7 * PKI_DAY);
    pki_crl_revoke(p->scrl, p->revoked, -2 * PKI_DAY, 1);    /* keyCompromise */
    pki_crl_revoke(p->scrl, p->later, 3 * PKI_DAY, 4);       /* future date */
    pki_crl_revoke(p->scrl, p->hold, -PKI_DAY, 6);           /* certificateHold */
    pki_crl_sign(p->scrl, p->skey);
    p->wrongcrl = pki_crl_new(p->sub, -3600, 7 * PKI_DAY);
    pki_crl_revoke(p->wrongcrl, p->good, -PKI_DAY, 1);
    pki_crl_sign(p->wrongcrl, p->wkey);
}

/* add_critical_unknown - mark CRL with a critical extension nobody knows. */
static X509_CRL *make_crit_crl(pki *p)
{
    X509_CRL *c = pki_crl_new(p->sub, -3600, 7 * PKI_DAY);
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e;

    ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2);
    e = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, os);
    X509_CRL_add_ext(c, e, -1);
    pki_crl_revoke(c, p->good, -PKI_DAY, 1);
    pki_crl_sign(c, p->skey);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(oid);
    return c;
}

/* write_files - anchors.pem, inter/ (two files), crls.pem, empty.txt. */
static void write_files(pki *p)
{
    char path[128];
    X509_CRL *crls[2] = { p->rcrl, p->scrl };
    FILE *f;

    strcpy(p->dir, "/tmp/kyso-test-trust-XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        pki_die("mkdtemp");
    snprintf(path, sizeof(path), "%s/anchors.pem", p->dir);
    pki_write_certs(path, &p->root, 1);
    snprintf(path, sizeof(path), "%s/inter", p->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/inter/10-sub.pem", p->dir);
    pki_write_certs(path, &p->sub, 1);
    snprintf(path, sizeof(path), "%s/inter/20-other.pem", p->dir);
    pki_write_certs(path, &p->wrongsub, 1);
    snprintf(path, sizeof(path), "%s/crls.pem", p->dir);
    pki_write_crls(path, crls, 2);
    snprintf(path, sizeof(path), "%s/empty.txt", p->dir);
    if ((f = fopen(path, "w")) == NULL)
        pki_die(path);
    fputs("no PEM here\n", f);
    fclose(f);
}

/* remove_files - undo write_files. */
static void remove_files(pki *p)
{
    const char *names[] = { "anchors.pem", "inter/10-sub.pem", "inter/20-other.pem",
                            "crls.pem", "empty.txt", "inter", NULL };
    char path[128];
    int i;

    for (i = 0; names[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", p->dir, names[i]);
        remove(path);
    }
    rmdir(p->dir);
}

/* init_verifier - defaults as documented in verifier.h, with a fresh store. */
static void init_verifier(kyso_verifier *v)
{
    memset(v, 0, sizeof(*v));
    v->trust = trust_new();
    v->lim.max_cms_size = 1 << 20;
    v->lim.max_cms_certs = 50;
    v->algo.min_rsa_bits = 2048;
    v->algo.min_ec_bits = 256;
    v->rev_missing = REVMISSING_UNKNOWN;
}

/* add_crl - push one CRL into the store through a PEM file. */
static void add_crl(kyso_verifier *v, pki *p, X509_CRL *c)
{
    char path[128], err[256];

    snprintf(path, sizeof(path), "%s/one-crl.pem", p->dir);
    pki_write_crls(path, &c, 1);
    if (trust_add_crls(v->trust, path, err, sizeof(err)) != 1)
        pki_die(err);
    remove(path);
}

static void test_loading(kyso_verifier *v, pki *p)
{
    char path[128], err[256];
    int n;

    snprintf(path, sizeof(path), "%s/anchors.pem", p->dir);
    ok(trust_add_anchors(v->trust, path, err, sizeof(err)) == 1, "anchor file loads");
    snprintf(path, sizeof(path), "%s/inter", p->dir);
    n = trust_add_intermediates(v->trust, path, err, sizeof(err));
    ok(n == 2, "intermediates folder loads two files (got %d: %s)", n, n < 0 ? err : "");
    snprintf(path, sizeof(path), "%s/crls.pem", p->dir);
    ok(trust_add_crls(v->trust, path, err, sizeof(err)) == 2, "CRL file loads two CRLs");
    n = trust_add_anchors(v->trust, p->dir, err, sizeof(err));
    ok(n == -1 && strstr(err, "/crls.pem: no PEM certificate") != NULL,
       "a folder with a file holding no certificate fails naming it (%s)", err);
    snprintf(path, sizeof(path), "%s/empty.txt", p->dir);
    ok(trust_add_crls(v->trust, path, err, sizeof(err)) == -1
       && strstr(err, "empty.txt: no PEM CRL") != NULL, "a file without PEM fails (%s)", err);
    snprintf(path, sizeof(path), "%s/nonexistent.pem", p->dir);
    ok(trust_add_crls(v->trust, path, err, sizeof(err)) == -1
       && strstr(err, "nonexistent.pem") != NULL, "missing file fails naming it");
    snprintf(path, sizeof(path), "%s/anchors.pem", p->dir);
    ok(trust_add_crls(v->trust, path, err, sizeof(err)) == -1,
       "a certificate file is not a CRL file");
}

/* check - trust_check_cert of LEAF at now+OFF is WANT (and detail has SUB). */
static void check(kyso_verifier *v, X509 *leaf, STACK_OF(X509) *extra, long off,
                  kyso_reason want, const char *sub, const char *what)
{
    char detail[512];
    kyso_reason r = trust_check_cert(v, leaf, extra, time(NULL) + off,
                                     detail, sizeof(detail));

    ok(r == want && (sub == NULL || strstr(detail, sub) != NULL),
       "%s: %s (got %s, detail \"%s\")", what, reason_name(want), reason_name(r), detail);
}

static void test_chain(kyso_verifier *v, pki *p)
{
    check(v, p->good, NULL, 0, REASON_OK, NULL, "good leaf");
    check(v, p->expired, NULL, 0, REASON_CERT_EXPIRED, NULL, "expired leaf");
    check(v, p->expired, NULL, -5 * PKI_DAY, REASON_OK, NULL,
          "expired leaf checked at a time it was valid");
    check(v, p->future, NULL, 0, REASON_CERT_NOT_YET_VALID, NULL, "not yet valid leaf");
    check(v, p->revoked, NULL, 0, REASON_CERT_REVOKED, "(keyCompromise) by CRL of O=Kyso Test,CN=Kyso Test Sub CA",
          "revoked leaf");
    check(v, p->revoked, NULL, -3 * PKI_DAY, REASON_OK, NULL,
          "revoked leaf before its revocation date");
    check(v, p->later, NULL, 0, REASON_OK, NULL, "revocation date after AT: not revoked");
    check(v, p->hold, NULL, 0, REASON_CERT_REVOKED, "certificateHold", "certificate on hold");
    check(v, p->rsa1024, NULL, 0, REASON_WEAK_ALGORITHM, "1024", "RSA-1024 leaf");
    check(v, p->sha1, NULL, 0, REASON_WEAK_ALGORITHM, "SHA1", "SHA-1 signed leaf");
    v->algo.allow_sha1 = 1;
    check(v, p->sha1, NULL, 0, REASON_OK, NULL, "SHA-1 signed leaf when allowed");
    v->algo.allow_sha1 = 0;
    check(v, p->badku, NULL, 0, REASON_OK, NULL,
          "key usage is not trust's business (no OpenSSL purpose)");
    check(v, p->stranger, NULL, 0, REASON_UNTRUSTED_CHAIN, NULL,
          "leaf of a look-alike CA with another key");
    check(v, p->good, NULL, 20 * PKI_DAY, REASON_REVOCATION_UNKNOWN, "no CRL",
          "no CRL current at AT");
    v->rev_missing = REVMISSING_IGNORE;
    check(v, p->good, NULL, 20 * PKI_DAY, REASON_OK, NULL, "no CRL, policy ignore");
    v->rev_missing = REVMISSING_UNKNOWN;
}

static void test_extra_and_crls(pki *p)
{
    kyso_verifier v;
    char path[128], err[256];
    STACK_OF(X509) *extra = sk_X509_new_null();

    init_verifier(&v);
    snprintf(path, sizeof(path), "%s/anchors.pem", p->dir);
    trust_add_anchors(v.trust, path, err, sizeof(err));
    check(&v, p->good, NULL, 0, REASON_UNTRUSTED_CHAIN, NULL,
          "no intermediate configured or supplied");
    sk_X509_push(extra, p->sub);
    check(&v, p->good, extra, 0, REASON_REVOCATION_UNKNOWN, NULL,
          "sub CA from the signature, no CRL at all");
    add_crl(&v, p, p->rcrl);
    add_crl(&v, p, p->wrongcrl);
    check(&v, p->good, extra, 0, REASON_REVOCATION_UNKNOWN, "no CRL of O=Kyso Test,CN=Kyso Test Sub CA",
          "CRL signed by the wrong key is ignored");
    p->critcrl = make_crit_crl(p);
    add_crl(&v, p, p->critcrl);
    check(&v, p->good, extra, 0, REASON_REVOCATION_UNKNOWN, NULL,
          "CRL with an unknown critical extension is ignored");
    add_crl(&v, p, p->scrl);
    check(&v, p->good, extra, 0, REASON_OK, NULL, "good leaf with the right CRL");
    sk_X509_free(extra);
    trust_free(v.trust);
}

static void test_revoked_ca(pki *p)
{
    kyso_verifier v;
    char path[128], err[256];
    X509_CRL *c = pki_crl_new(p->root, -PKI_DAY, 30 * PKI_DAY);

    pki_crl_revoke(c, p->sub, -6 * 3600, 2);    /* cACompromise */
    pki_crl_sign(c, p->rkey);
    init_verifier(&v);
    snprintf(path, sizeof(path), "%s/anchors.pem", p->dir);
    trust_add_anchors(v.trust, path, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/inter/10-sub.pem", p->dir);
    trust_add_intermediates(v.trust, path, err, sizeof(err));
    add_crl(&v, p, c);
    add_crl(&v, p, p->scrl);
    check(&v, p->good, NULL, 0, REASON_CERT_REVOKED, "CA certificate O=Kyso Test,CN=Kyso Test Sub CA: revoked",
          "revoked sub CA revokes its leaves");
    check(&v, p->good, NULL, -12 * 3600, REASON_OK, NULL,
          "before the sub CA revocation date: still valid");
    X509_CRL_free(c);
    trust_free(v.trust);
}

/* cls - a certificate named SUBJ with extensions EXTS, classified. */
static kyso_cert_class cls(pki *p, const kyso_class_rules *r, const char *subj,
                           const char *const *exts)
{
    X509 *x = pki_cert(subj, p->sub, p->skey, p->lkey, 99, -PKI_DAY, PKI_DAY, exts, NULL);
    kyso_cert_class c = cert_classify(r, x);

    X509_free(x);
    return c;
}

static void test_classes(pki *p)
{
    static const char *const san[] = { "subjectAltName", "email:an@khanhhoa.gov.vn", NULL };
    kyso_class_rules *r = class_rules_default();
    char err[128];
    kyso_signer s;

    ok(cls(p, NULL, "CN=Sở Nội vụ/O=UBND tỉnh/UID=MST:4200123456", NULL)
       == CLASS_ORGANISATION, "UID MST: is an organisation");
    ok(cls(p, NULL, "CN=Nguyễn Văn An/UID=CMND:123456789", NULL) == CLASS_PERSONAL,
       "UID CMND: is personal");
    ok(cls(p, r, "CN=Trần Thị Bình/UID=CCCD:001099012345", NULL) == CLASS_PERSONAL,
       "UID CCCD: is personal");
    ok(cls(p, NULL, "CN=Nguyễn Văn B/O=Sở Nội vụ/UID=CCCD:001085099999/UID=MST:4200123456",
           NULL) == CLASS_PERSONAL &&
       cls(p, NULL, "CN=Nguyễn Văn B/UID=MST:4200123456/UID=CMND:123456789", NULL)
           == CLASS_PERSONAL,
       "an employee's certificate with the agency's MST and a CCCD/CMND is personal");
    ok(cls(p, NULL, "CN=Sở Tư pháp/O=Sở Tư pháp", NULL) == CLASS_ORGANISATION,
       "CN equal to O without e-mail is an organisation");
    ok(cls(p, NULL, "CN=Sở Tư pháp/O=Sở Tư pháp", san) == CLASS_UNKNOWN,
       "CN equal to O with an e-mail is unknown");
    ok(cls(p, NULL, "CN=Lê Văn Cường/O=Sở Tư pháp", NULL) == CLASS_UNKNOWN,
       "a plain name is unknown");
    ok(class_rules_add(r, "ou", "Văn thư", "organisation", err, sizeof(err)) == 0,
       "rule on OU added");
    ok(class_rules_add(r, "street", "x", "personal", err, sizeof(err)) == -1
       && strstr(err, "street"), "unknown field refused (%s)", err);
    ok(class_rules_add(r, "cn", "x", "robot", err, sizeof(err)) == -1,
       "unknown class refused");
    ok(cls(p, r, "CN=Lê Văn Cường/OU=Văn thư/UID=CCCD:1", NULL) == CLASS_ORGANISATION,
       "an added rule comes before the defaults");
    memset(&s, 0, sizeof(s));
    ok(cert_describe(NULL, p->good, &s) == 0, "describe the good leaf");
    ok(s.subject && strstr(s.subject, "CN=Nguyễn Văn An") && strstr(s.subject, "O=Sở Nội vụ"),
       "subject keeps Vietnamese readable: %s", s.subject ? s.subject : "(null)");
    ok(s.issuer && strcmp(s.issuer, "O=Kyso Test,CN=Kyso Test Sub CA") == 0,
       "issuer in RFC 2253 order: %s", s.issuer ? s.issuer : "(null)");
    ok(s.serial && strcmp(s.serial, "0A") == 0, "serial in upper-case hex: %s",
       s.serial ? s.serial : "(null)");
    ok(s.cls == CLASS_PERSONAL && s.email == NULL && s.not_after > s.not_before
       && s.not_before > 0, "class, no e-mail, validity");
    free(s.subject); free(s.issuer); free(s.serial); free(s.email);
    {
        X509 *x = pki_cert("CN=Mail/emailAddress=subj@example.vn", p->sub, p->skey,
                           p->lkey, 255, -PKI_DAY, PKI_DAY, san, NULL);

        memset(&s, 0, sizeof(s));
        cert_describe(NULL, x, &s);
        ok(s.email && strcmp(s.email, "an@khanhhoa.gov.vn") == 0 && strcmp(s.serial, "FF") == 0,
           "e-mail from SAN before subject emailAddress: %s", s.email ? s.email : "(null)");
        free(s.subject); free(s.issuer); free(s.serial); free(s.email);
        X509_free(x);
    }
    class_rules_free(r);
}

static void free_pki(pki *p)
{
    X509 *certs[] = { p->root, p->sub, p->good, p->expired, p->future, p->revoked,
                      p->later, p->hold, p->rsa1024, p->sha1, p->badku, p->stranger,
                      p->wrongsub };
    EVP_PKEY *keys[] = { p->rkey, p->skey, p->lkey, p->wkey, p->rsakey };
    size_t i;

    for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        X509_free(certs[i]);
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    X509_CRL_free(p->rcrl);
    X509_CRL_free(p->scrl);
    X509_CRL_free(p->wrongcrl);
    X509_CRL_free(p->critcrl);
}

int main(void)
{
    pki p;
    kyso_verifier v;

    memset(&p, 0, sizeof(p));
    make_pki(&p);
    write_files(&p);
    init_verifier(&v);
    test_loading(&v, &p);
    test_chain(&v, &p);
    trust_free(v.trust);
    test_extra_and_crls(&p);
    test_revoked_ca(&p);
    test_classes(&p);
    remove_files(&p);
    free_pki(&p);
    return tap_done();
}
