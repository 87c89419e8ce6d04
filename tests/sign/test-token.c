/*
 * test-token.c - lib/token.c against a SoftHSM2 token that
 * tests/sign/run-token.sh makes (tests/sign/mktoken.sh) and describes in
 * the environment; alone it has no token and skips.  TAP on stdout.
 *
 *   SOFTHSM2_CONF   the private SoftHSM2 configuration
 *   TOKEN_MODULE    libsofthsm2.so
 *   TOKEN_SPY       pkcs11-spy.so (optional), with PKCS11SPY and
 *   TOKEN_SPY_LOG     PKCS11SPY_OUTPUT set: the calls it logged
 *   TOKEN_DIR       the tokendir (moved away to "remove" the token)
 *   TOKEN_PIN       the user PIN of the token "Kyso Org"
 *   ORG_CERT, PERSONAL_CERT      the matching and a foreign certificate
 *   ORG_KEY, ORG_KEY_ENC, ORG_P12  org's key as PEM, as PEM encrypted with
 *                   the PIN, and as PKCS#12 with password "test"
 *
 * What is checked is what a user sees: return codes, messages, signatures
 * that verify with the certificate, and how often the PIN reached the
 * token (C_Login in the spy's log).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../unit/tap.h"
#include "token.h"

#define URI_ORG "pkcs11:token=Kyso%20Org;object=org;id=%01;type=private"
#define TBS "%PDF signed attributes stand-in"

static const char *module, *pin;
static X509 *org_cert, *personal_cert;
static void *spy_handle;

/* ------------------------------------------------------------- helpers */

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f != NULL)
        fclose(f);
    if (x == NULL) {
        printf("Bail out! cannot read certificate %s\n", path);
        exit(1);
    }
    return x;
}

/* verifies - does SIG over TBS verify with org.pem (PSS when PSS)? */
static int verifies(const unsigned char *sig, size_t siglen, int pss)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
                                  X509_get0_pubkey(org_cert)) == 1
        && (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
                     && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0
                     && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0))
        && EVP_DigestVerify(md, sig, siglen, (const unsigned char *)TBS, strlen(TBS)) == 1;

    EVP_MD_CTX_free(md);
    return ok;
}

/* sign - token_sign over TBS; the signature is checked and freed. *OK is
 * set to whether it verified (when it was made). */
static int sign(token *t, int pss, int timeout_ms, char *err, size_t errlen, int *ok)
{
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc;

    err[0] = '\0';
    rc = token_sign(t, pss, (const unsigned char *)TBS, strlen(TBS), &sig, &siglen,
                    timeout_ms, err, errlen);
    if (ok != NULL)
        *ok = rc == TOKEN_OK && verifies(sig, siglen, pss);
    free(sig);
    if (rc != TOKEN_OK)
        printf("# token_sign: %d %s\n", rc, err);
    return rc;
}

static token *open_or_note(const char *key, const char *mod, const char *p)
{
    char err[1024] = "";
    token *t = token_open(key, mod, p, err, sizeof err);

    if (t == NULL)
        printf("# token_open(%s): %s\n", key, err);
    return t;
}

/* spy_logins - C_Login calls in the spy's log so far (-1 without a spy). */
static int spy_logins(void)
{
    const char *path = getenv("TOKEN_SPY_LOG");
    char line[4096];
    int n = 0;
    FILE *f;

    if (path == NULL)
        return -1;
    if ((f = fopen(path, "r")) == NULL)
        return 0;                       /* the spy has not written yet */
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, "C_Login") != NULL)
            n++;
    fclose(f);
    return n;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -------------------------------------------------------------- checks */

/* refused - token_open refuses KEY, with WANT in the reason. */
static void refused(const char *key, const char *want, const char *name)
{
    char err[1024] = "";
    token *t = token_open(key, module, pin, err, sizeof err);

    ok(t == NULL && strstr(err, want) != NULL, "refused: %s (\"%s\")", name, err);
    token_close(t);
}

static void test_malformed(void)
{
    refused("", "no key", "empty key");
    refused("pkcs11:", "empty", "empty URI");
    refused("pkcs11:token=Kyso%2GOrg;object=org", "percent-encoding", "bad hex after %");
    refused("pkcs11:object=org;token=Kyso%2", "percent-encoding", "truncated %");
    refused("pkcs11:token=Kyso%00Org;object=org", "percent-encoding", "%00 in a label");
    refused("pkcs11:token=Kyso Org;object=org", "must be percent-encoded", "raw space");
    refused("pkcs11:token=Kyso;colour=red;object=org", "unknown attribute 'colour'",
            "unknown attribute");
    refused("pkcs11:object=org;object=org2", "twice", "repeated attribute");
    refused("pkcs11:object=org;;id=%01", "empty attribute", "empty attribute");
    refused("pkcs11:object=org;id", "not name=value", "attribute without value");
    refused("pkcs11:token=Kyso%20Org", "names no key", "no object or id");
    refused("pkcs11:object=org;type=cert", "type=private", "type=cert");
    refused("pkcs11:object=org;slot-id=1x", "decimal", "slot-id not a number");
    refused("pkcs11:object=org?module-name=softhsm2", "module-path", "module-name");
    refused("pkcs11:object=org;module-path=/x.so", "query", "module-path in the path part");
    refused("pkcs11:object=org?module-path=/no/such/module.so", "/no/such/module.so",
            "module that is not there");
    refused("/no/such/key.pem", "cannot open key file", "missing key file");
}

static void test_sign(void)
{
    char err[1024];
    int good = 0, rc;
    token *t = open_or_note(URI_ORG, module, pin);

    ok(t != NULL, "token_open with the token URI");
    if (t == NULL)
        return;
    rc = sign(t, 0, 10000, err, sizeof err, &good);
    ok(rc == TOKEN_OK && good, "PKCS#1 v1.5 signature by the token verifies with org.pem");
    rc = sign(t, 1, 10000, err, sizeof err, &good);
    ok(rc == TOKEN_OK && good, "RSASSA-PSS signature by the token verifies with org.pem");
    rc = token_check_cert(t, org_cert, err, sizeof err);
    ok(rc == TOKEN_OK, "token_check_cert: org.pem belongs to the key (%s)", err);
    rc = token_check_cert(t, personal_cert, err, sizeof err);
    ok(rc == TOKEN_ECONFIG && strstr(err, "certificate does not match the key") != NULL,
       "token_check_cert: personal.pem -> ECONFIG \"%s\"", err);
    token_close(t);
}

static void test_module_arg(void)
{
    char err[1024];
    int good = 0, rc;
    char uri[1024];
    token *t;

    snprintf(uri, sizeof uri, "pkcs11:model=SoftHSM%%20v2;manufacturer=SoftHSM%%20project;"
             "object=org?module-path=%s&pin-source=file:/dev/null", module);
    t = open_or_note(uri, NULL, pin);
    rc = t ? sign(t, 0, 10000, err, sizeof err, &good) : -99;
    ok(rc == TOKEN_OK && good, "module-path= in the URI, token found by model/manufacturer");
    token_close(t);
    snprintf(uri, sizeof uri, "pkcs11:token=Kyso%%20Org;id=%%01?module-path=%s&pin-value=%s",
             module, pin);
    t = open_or_note(uri, "/no/such/module.so", NULL);
    rc = t ? sign(t, 1, 10000, err, sizeof err, &good) : -99;
    ok(rc == TOKEN_OK && good, "pin-value= used when no PIN file, module-path= beats MODULE");
    token_close(t);
}

static void test_absent(void)
{
    char err[1024];
    int rc;
    token *t = open_or_note("pkcs11:token=No%20Such%20Token;object=org", module, pin);

    rc = t ? sign(t, 0, 10000, err, sizeof err, NULL) : -99;
    ok(rc == TOKEN_ETEMP && strstr(err, "token 'No Such Token' not present") != NULL
       && strstr(err, module) != NULL, "missing token label -> ETEMP naming it and the module");
    token_close(t);

    t = open_or_note("pkcs11:slot-id=4242;token=Kyso%20Org;object=org", module, pin);
    rc = t ? sign(t, 0, 10000, err, sizeof err, NULL) : -99;
    ok(rc == TOKEN_ETEMP && strstr(err, "'Kyso Org' in slot-id 4242 not present") != NULL,
       "missing slot -> ETEMP naming the label and the slot");
    token_close(t);

    t = open_or_note("pkcs11:token=Kyso%20Org;object=org;id=%99", module, pin);
    rc = t ? sign(t, 0, 10000, err, sizeof err, NULL) : -99;
    ok(rc == TOKEN_EKEY && strstr(err, "object 'org' id %99") != NULL,
       "missing key id -> EKEY naming the key");
    rc = t ? token_check_cert(t, org_cert, err, sizeof err) : -99;
    ok(rc == TOKEN_EKEY, "token_check_cert on the missing key -> EKEY");
    token_close(t);

    t = open_or_note(URI_ORG, module, NULL);
    rc = t ? sign(t, 0, 10000, err, sizeof err, NULL) : -99;
    ok(rc == TOKEN_ECONFIG && strstr(err, "needs a PIN") != NULL, "no PIN -> ECONFIG");
    token_close(t);
}

static void test_wrong_pin(void)
{
    const char *spy = getenv("TOKEN_SPY");
    char err[1024], err2[1024];
    int rc, i, all = 1, before = spy_logins();
    token *t;

    if (spy == NULL || before < 0) {
        ok(1, "# SKIP pkcs11-spy not available");
        return;
    }
    t = open_or_note(URI_ORG, spy, "999999");
    rc = t ? sign(t, 0, 10000, err, sizeof err, NULL) : -99;
    ok(rc == TOKEN_EPIN && strstr(err, "PIN for token 'Kyso Org' rejected") != NULL
       && strstr(err, "reload") != NULL, "wrong PIN -> EPIN telling to fix and reload");
    for (i = 0; i < 5 && t != NULL; i++) {
        rc = sign(t, i % 2, 10000, err2, sizeof err2, NULL);
        all = all && rc == TOKEN_EPIN && strcmp(err, err2) == 0;
    }
    rc = t ? token_check_cert(t, org_cert, err2, sizeof err2) : -99;
    ok(all && rc == TOKEN_EPIN, "5 more signatures and a certificate check -> EPIN");
    token_close(t);
    ok(spy_logins() - before == 1, "the token saw exactly one C_Login (%d)",
       spy_logins() - before);
}

typedef struct worker {
    token *t;
    int n, good;
    char first_err[300];        /* the first failure's message */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char err[1024];
    int i, good;

    for (i = 0; i < w->n; i++) {
        if (sign(w->t, i % 2, 30000, err, sizeof err, &good) == TOKEN_OK && good)
            w->good++;
        else if (w->first_err[0] == '\0')
            snprintf(w->first_err, sizeof w->first_err, "%.290s", err);
    }
    return NULL;
}

static void test_threads(void)
{
    const char *spy = getenv("TOKEN_SPY");
    worker w[8];
    pthread_t th[8];
    int i, good = 0, before = spy_logins();
    token *t = open_or_note(URI_ORG, spy ? spy : module, pin);
    long long t0 = mono_ms();

    if (t == NULL) {
        ok(0, "token_open for the threads");
        return;
    }
    for (i = 0; i < 8; i++) {
        w[i].t = t, w[i].n = 50, w[i].good = 0, w[i].first_err[0] = '\0';
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        good += w[i].good;
    }
    token_close(t);
    ok(good == 400, "8 threads x 50 signatures: %d verify (%lld ms)", good, mono_ms() - t0);
    if (spy != NULL && before >= 0)
        ok(spy_logins() - before == 1, "one C_Login for all 400 (%d)", spy_logins() - before);
}

/*
 * test_shared_module - two keys on the same module, one of them on a token
 * that is not there: every signature of the other must still succeed.
 * C_Initialize and C_Finalize act on the whole process; a handle that reset
 * the module after each failure would finalise it under the other's feet.
 */
static void test_shared_module(void)
{
    worker good_w = { 0 }, absent_w = { 0 };
    pthread_t g, a;
    char err[1024];
    token *t = open_or_note(URI_ORG, module, pin);
    token *gone = token_open("pkcs11:token=Not%20Here;object=org;type=private", module, pin,
                             err, sizeof err);

    if (t == NULL || gone == NULL) {
        ok(0, "token_open for the shared module (%s)", err);
        token_close(t);
        token_close(gone);
        return;
    }
    good_w.t = t, good_w.n = 200;
    absent_w.t = gone, absent_w.n = 200;
    pthread_create(&g, NULL, work, &good_w);
    pthread_create(&a, NULL, work, &absent_w);
    pthread_join(g, NULL);
    pthread_join(a, NULL);
    ok(good_w.good == 200 && absent_w.good == 0, "a key on a token that is not there, tried "
       "200 times alongside: the other key's 200 signatures all verify (%d; absent: %d)",
       good_w.good, absent_w.good);
    if (good_w.first_err[0])
        printf("# the other key's first failure: %s\n", good_w.first_err);
    token_close(gone);
    ok(sign(t, 0, 30000, err, sizeof err, &good_w.good) == TOKEN_OK,
       "the other key still signs once that handle is closed (%s)", err);
    token_close(t);
}

/* move - rename FROM to TO, reporting failures. */
static int move(const char *from, const char *to)
{
    if (rename(from, to) == 0)
        return 0;
    printf("# rename %s %s failed\n", from, to);
    return -1;
}

static void test_removed(void)
{
    const char *dir = getenv("TOKEN_DIR");
    char away[4096], err[1024];
    int rc, good = 0;
    token *t;

    if (dir == NULL) {
        ok(1, "# SKIP TOKEN_DIR not set");
        return;
    }
    snprintf(away, sizeof away, "%s.away", dir);
    t = open_or_note(URI_ORG, module, pin);
    rc = t ? sign(t, 0, 10000, err, sizeof err, &good) : -99;
    ok(rc == TOKEN_OK && good, "signing before the token goes");
    if (t == NULL || move(dir, away) < 0 || mkdir(dir, 0700) < 0) {
        ok(0, "token removed");
        token_close(t);
        return;
    }
    rc = sign(t, 0, 10000, err, sizeof err, NULL);
    ok(rc == TOKEN_ETEMP && strstr(err, "'Kyso Org'") != NULL,
       "token removed -> ETEMP naming it (\"%s\")", err);
    rc = sign(t, 1, 10000, err, sizeof err, NULL);
    ok(rc == TOKEN_ETEMP && strstr(err, "not present") != NULL, "and again: not present");
    rmdir(dir);
    move(away, dir);
    rc = sign(t, 1, 10000, err, sizeof err, &good);
    ok(rc == TOKEN_OK && good, "token back -> the same handle signs again");
    token_close(t);
}

/* The stalled token: SOFTHSM2_CONF names a FIFO, so the module's
 * C_Initialize waits in open() until release() writes the configuration. */
typedef struct crowd {
    token *t;
    int rc, good;
    char err[1024];
} crowd;

static pthread_mutex_t crowd_mu = PTHREAD_MUTEX_INITIALIZER;
static int crowd_rejected;

static void *crowd_sign(void *arg)
{
    crowd *c = arg;

    c->rc = sign(c->t, 0, 30000, c->err, sizeof c->err, &c->good);
    if (c->rc == TOKEN_ETEMP) {
        pthread_mutex_lock(&crowd_mu);
        crowd_rejected++;
        pthread_mutex_unlock(&crowd_mu);
    }
    return NULL;
}

/* release - write the real configuration (CONF) into the FIFO. */
static void release(const char *fifo, const char *conf)
{
    FILE *in = fopen(conf, "r"), *out = fopen(fifo, "w");
    char buf[4096];
    size_t n;

    while (in != NULL && out != NULL && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
}

/* wait_rejected - until WANT crowd threads were turned away (10 s at most). */
static int wait_rejected(int want)
{
    long long end = mono_ms() + 10000;
    int n;

    do {
        pthread_mutex_lock(&crowd_mu);
        n = crowd_rejected;
        pthread_mutex_unlock(&crowd_mu);
        if (n >= want)
            break;
        usleep(2000);
    } while (mono_ms() < end);
    usleep(20000);              /* one too many would show now */
    pthread_mutex_lock(&crowd_mu);
    n = crowd_rejected;
    pthread_mutex_unlock(&crowd_mu);
    return n;
}

#define CROWD 260

static void test_stalled(void)
{
    const char *fifo = getenv("TOKEN_SLOW_CONF"), *conf = getenv("SOFTHSM2_CONF");
    static crowd c[CROWD];
    pthread_t th[CROWD];
    char err[1024], err2[1024], saved[4096];
    int rc, rc2, i, good = 0, full = 0;
    token *t = open_or_note(URI_ORG, module, pin);

    if (fifo == NULL || conf == NULL || t == NULL || mkfifo(fifo, 0600) < 0) {
        ok(0, "stalled token set up");
        token_close(t);
        return;
    }
    snprintf(saved, sizeof saved, "%s", conf);
    setenv("SOFTHSM2_CONF", fifo, 1);   /* before the signer thread reads it */
    rc = sign(t, 0, 100, err, sizeof err, NULL);
    ok(rc == TOKEN_ETEMP && strstr(err, "token busy: no answer from token 'Kyso Org'"),
       "stalled token -> ETEMP \"%s\"", err);
    rc2 = sign(t, 0, 50, err2, sizeof err2, NULL);
    ok(rc2 == TOKEN_ETEMP && strstr(err2, "token busy"), "a queued request times out too");
    for (i = 0; i < CROWD; i++) {
        c[i].t = t;
        pthread_create(&th[i], NULL, crowd_sign, &c[i]);
    }
    rc = wait_rejected(CROWD - 256);
    for (i = 0; i < CROWD; i++)
        full += c[i].rc == TOKEN_ETEMP && strstr(c[i].err, "signing queue full") != NULL;
    ok(rc == CROWD - 256 && full == CROWD - 256,
       "%d requests wait: %d turned away with \"signing queue full\"", CROWD, rc);
    release(fifo, saved);
    for (i = 0; i < CROWD; i++) {
        pthread_join(th[i], NULL);
        good += c[i].rc == TOKEN_OK && c[i].good;
    }
    ok(good == 256, "token back: the 256 queued requests are signed (%d)", good);
    setenv("SOFTHSM2_CONF", saved, 1);
    token_close(t);
    unlink(fifo);

    t = open_or_note(URI_ORG, module, pin);
    rc = t ? sign(t, 0, 1, err, sizeof err, NULL) : -99;
    token_close(t);             /* while the abandoned request may still be signed */
    ok(rc == TOKEN_ETEMP || rc == TOKEN_OK, "token_close right after a 1 ms request");
}

/* file_key - KEY (PIN P) signs verifiably and matches org.pem. */
static void file_key(const char *key, const char *p, const char *name)
{
    char err[1024];
    int good1 = 0, good2 = 0, rc1 = -99, rc2 = -99, rc3 = -99;
    token *t = key ? open_or_note(key, NULL, p) : NULL;

    if (t != NULL) {
        rc1 = sign(t, 0, 1000, err, sizeof err, &good1);
        rc2 = sign(t, 1, 1000, err, sizeof err, &good2);
        rc3 = token_check_cert(t, org_cert, err, sizeof err);
    }
    ok(rc1 == TOKEN_OK && good1 && rc2 == TOKEN_OK && good2 && rc3 == TOKEN_OK,
       "%s: PKCS#1 v1.5 and PSS verify, org.pem matches", name);
    rc3 = t ? token_check_cert(t, personal_cert, err, sizeof err) : -99;
    ok(rc3 == TOKEN_ECONFIG, "%s: personal.pem does not match", name);
    token_close(t);
}

static void test_files(void)
{
    char err[1024];
    token *t;

    file_key(getenv("ORG_KEY"), NULL, "PEM key file");
    file_key(getenv("ORG_KEY_ENC"), pin, "PEM key file encrypted with the PIN");
    file_key(getenv("ORG_P12"), "test", "PKCS#12 file, password = PIN");
    t = token_open(getenv("ORG_P12"), NULL, "wrong", err, sizeof err);
    ok(t == NULL && strstr(err, "wrong password") != NULL, "PKCS#12 with a wrong PIN: \"%s\"",
       err);
    token_close(t);
    t = token_open(getenv("ORG_KEY_ENC"), NULL, "wrong", err, sizeof err);
    ok(t == NULL && strstr(err, "PIN") != NULL, "encrypted PEM with a wrong PIN: \"%s\"", err);
    token_close(t);
    t = token_open(getenv("ORG_CERT"), NULL, NULL, err, sizeof err);
    ok(t == NULL && strstr(err, "private key") != NULL, "a certificate is no key: \"%s\"",
       err);
    token_close(t);
}

int main(void)
{
    module = getenv("TOKEN_MODULE");
    pin = getenv("TOKEN_PIN");
    if (module == NULL || pin == NULL || getenv("ORG_CERT") == NULL
        || getenv("PERSONAL_CERT") == NULL) {
        printf("1..0 # SKIP run by tests/sign/run-token.sh\n");
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* pkcs11-spy never closes its log: kept loaded, LeakSanitizer sees
     * the FILE still referenced instead of a leak in an unloaded module */
    if (getenv("TOKEN_SPY") != NULL)
        spy_handle = dlopen(getenv("TOKEN_SPY"), RTLD_NOW | RTLD_NODELETE);
    org_cert = load_cert(getenv("ORG_CERT"));
    personal_cert = load_cert(getenv("PERSONAL_CERT"));
    test_malformed();
    test_sign();
    test_module_arg();
    test_absent();
    test_wrong_pin();
    test_threads();
    test_shared_module();
    test_removed();
    test_stalled();
    test_files();
    X509_free(org_cert);
    X509_free(personal_cert);
    if (spy_handle != NULL)
        dlclose(spy_handle);
    return tap_done();
}
