/*
 * test-revdata.c - the revocation tests' C driver, for what `kyso verify`
 * cannot reach yet: trust_check_cert_ex with embedded validation data,
 * revocation_collect, and the revocation cache.  run-revocation.sh calls
 *   test-revdata check ANCHOR CHAIN LEAF [--mode M] [--responders F]
 *                [--ocsp DER]... [--crl DER]... [--at-offset SECONDS]
 *                [--crl-file PEM]
 *       prints "REASON<TAB>DETAIL" for LEAF (untrusted CHAIN as helpers);
 *       --crl-file adds a configured CRL (CRLs key) beside the embedded data;
 *   test-revdata collect ANCHOR CHAIN LEAF PREFIX
 *       writes PREFIX-ocsp-N.der / PREFIX-crl-N.der, prints "ocsp N crl M";
 *   test-revdata cache ANCHOR CHAIN LEAF DEAD_RESPONDERS
 *       checks twice, the second time with every responder dead: prints
 *       both reasons and the cache size ("ok ok 2");
 *   test-revdata bench ANCHOR CHAIN LEAF N
 *       microseconds per chain check, no revocation against a warm cache.
 * Exit 0 when it ran, 2 on a usage or setup error.  Test tooling only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/pem.h>

#include "ocsp.h"
#include "reasons.h"
#include "revcache.h"
#include "revocation.h"
#include "trust.h"
#include "verifier.h"

/* die - a setup error. */
static void die(const char *what)
{
    fprintf(stderr, "test-revdata: %s\n", what);
    exit(2);
}

/* load_cert / load_chain - PEM from PATH. */
static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f)
        fclose(f);
    if (x == NULL)
        die(path);
    return x;
}

static STACK_OF(X509) *load_chain(const char *path)
{
    STACK_OF(X509) *s = sk_X509_new_null();

    sk_X509_push(s, load_cert(path));
    return s;
}

/* add_file - the DER file PATH into D as OCSP or CRL. */
static void add_file(kyso_revdata *d, int is_ocsp, const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[1 << 20];
    size_t n;

    if (f == NULL)
        die(path);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (revdata_add(d, is_ocsp, buf, n) < 0)
        die("out of memory");
}

/* set_mode - --mode M into V. */
static void set_mode(kyso_verifier *v, const char *m)
{
    v->rev.order[0] = strstr(m, "ocsp") == m ? REVSRC_OCSP : strstr(m, "crl") == m
        ? REVSRC_CRL : REVSRC_END;
    v->rev.order[1] = strcmp(m, "ocsp,crl") == 0 ? REVSRC_CRL
        : strcmp(m, "crl,ocsp") == 0 ? REVSRC_OCSP : REVSRC_END;
}

/* set_responders - --responders F into V. */
static void set_responders(kyso_verifier *v, const char *path)
{
    char err[300];

    ocsp_table_free(v->rev.responders);
    if ((v->rev.responders = ocsp_table_load(path, err, sizeof err)) == NULL)
        die(err);
}

/* cmd_check - see the file comment. */
static int cmd_check(kyso_verifier *v, X509 *leaf, STACK_OF(X509) *chain, int argc, char **argv)
{
    kyso_revdata d = { 0 };
    time_t at = time(NULL);
    char detail[1500];

    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--mode") == 0)
            set_mode(v, argv[i + 1]);
        else if (strcmp(argv[i], "--responders") == 0)
            set_responders(v, argv[i + 1]);
        else if (strcmp(argv[i], "--ocsp") == 0 || strcmp(argv[i], "--crl") == 0)
            add_file(&d, argv[i][2] == 'o', argv[i + 1]);
        else if (strcmp(argv[i], "--at-offset") == 0)
            at += atol(argv[i + 1]);
        else if (strcmp(argv[i], "--crl-file") == 0 &&
                 trust_add_crls(v->trust, argv[i + 1], detail, sizeof detail) >= 0)
            ;
        else
            die(argv[i]);
    }
    kyso_reason r = trust_check_cert_ex(v, leaf, chain, at, &d, detail, sizeof detail);
    printf("%s\t%s\n", reason_name(r), detail);
    revdata_free(&d);
    return 0;
}

/* write_blobs - N blobs of B as PREFIX-KIND-I.der. */
static void write_blobs(const char *prefix, const char *kind, const kyso_blob *b, size_t n)
{
    char path[1024];

    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s-%s-%zu.der", prefix, kind, i);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(b[i].p, 1, b[i].len, f) != b[i].len)
            die(path);
        fclose(f);
    }
}

/* cmd_collect - see the file comment. */
static int cmd_collect(kyso_verifier *v, X509 *leaf, STACK_OF(X509) *chain, const char *prefix)
{
    kyso_revdata d = { 0 };
    char err[1000];

    if (revocation_collect(v, leaf, chain, &d, err, sizeof err) < 0) {
        printf("error %s\n", err);
        return 0;
    }
    write_blobs(prefix, "ocsp", d.ocsp, d.nocsp);
    write_blobs(prefix, "crl", d.crls, d.ncrls);
    printf("ocsp %zu crl %zu\n", d.nocsp, d.ncrls);
    revdata_free(&d);
    return 0;
}

/* cmd_cache - see the file comment. */
static int cmd_cache(kyso_verifier *v, X509 *leaf, STACK_OF(X509) *chain, const char *dead)
{
    char d1[1000], d2[1000];
    kyso_reason r1 = trust_check_cert(v, leaf, chain, time(NULL), d1, sizeof d1);

    set_responders(v, dead);
    kyso_reason r2 = trust_check_cert(v, leaf, chain, time(NULL), d2, sizeof d2);
    printf("%s %s %zu\t%s | %s\n", reason_name(r1), reason_name(r2),
           revcache_count(v->rev.cache), d1, d2);
    return 0;
}

/* us_per_check - microseconds per trust_check_cert of LEAF over N calls. */
static double us_per_check(kyso_verifier *v, X509 *leaf, STACK_OF(X509) *chain, int n)
{
    struct timespec a, b;
    char d[1000];

    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        trust_check_cert(v, leaf, chain, time(NULL), d, sizeof d);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
}

/* cmd_bench - the chain check with no revocation and with a warm cache. */
static int cmd_bench(kyso_verifier *v, X509 *leaf, STACK_OF(X509) *chain, int n)
{
    kyso_rev_source order[3];
    char d[1000];

    memcpy(order, v->rev.order, sizeof order);
    trust_check_cert(v, leaf, chain, time(NULL), d, sizeof d);      /* fills the cache */
    for (int r = 0; r < 3; r++) {
        v->rev.order[0] = REVSRC_END;
        v->rev_missing = REVMISSING_IGNORE;
        double none = us_per_check(v, leaf, chain, n);
        memcpy(v->rev.order, order, sizeof order);
        v->rev_missing = REVMISSING_UNKNOWN;
        double warm = us_per_check(v, leaf, chain, n);
        printf("none %.1f us, warm %.1f us per chain check\n", none, warm);
    }
    return 0;
}

int main(int argc, char **argv)
{
    kyso_verifier v;
    char err[512];
    int rc;

    if (argc == 1) {            /* run by make check on its own */
        printf("1..0 # SKIP driver of tests/revocation/run-revocation.sh\n");
        return 0;
    }
    if (argc < 5)
        die("usage: test-revdata check|collect|cache ANCHOR CHAIN LEAF ...");
    if (verifier_init(&v) < 0 || trust_add_anchors(v.trust, argv[2], err, sizeof err) < 0)
        die(err);
    v.rev.timeout_ms = 2000;
    X509 *leaf = load_cert(argv[4]);
    STACK_OF(X509) *chain = load_chain(argv[3]);
    if (strcmp(argv[1], "check") == 0)
        rc = cmd_check(&v, leaf, chain, argc - 5, argv + 5);
    else if (strcmp(argv[1], "collect") == 0 && argc == 6)
        rc = cmd_collect(&v, leaf, chain, argv[5]);
    else if (strcmp(argv[1], "bench") == 0 && argc == 6)
        rc = cmd_bench(&v, leaf, chain, atoi(argv[5]));
    else if (strcmp(argv[1], "cache") == 0 && argc == 6)
        rc = cmd_cache(&v, leaf, chain, argv[5]);
    else
        die("unknown command");
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    verifier_free(&v);
    return rc;
}
