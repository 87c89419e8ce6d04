/*
 * test-revshare.c - one verification of a certificate's revocation status
 * in its own process, with the revocation cache's remote tier on a Redis
 * store, as milter/gen.c plugs it in (gen_share_revcache).  Run twice by
 * tests/redis/run-redis.sh against one redis-server: the second process
 * starts with an empty cache and no responder, and must find the first
 * one's OCSP answer in Redis.
 *
 *   test-revshare URI ANCHOR CHAIN LEAF RESPONDERS CACRL
 *       the leaf by OCSP only, through the responder table RESPONDERS
 *       (the CA certificate by CACRL, its issuer's CRL in DER, given as
 *       embedded data); prints "REASON<TAB>DETAIL".  The store is closed before exiting, which
 *       waits for its writer: an answer fetched here is in Redis then.
 *
 * Exit 0 when it ran, 2 on a usage or setup error.  Test tooling only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/pem.h>

#include "ocsp.h"
#include "reasons.h"
#include "revocation.h"
#include "revcache.h"
#include "store.h"
#include "trust.h"
#include "verifier.h"

/* die - a setup error. */
static void die(const char *what)
{
    fprintf(stderr, "test-revshare: %s\n", what);
    exit(2);
}

/* load_cert - the PEM certificate at PATH. */
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

/* load_der - the DER file PATH into D as a CRL. */
static void load_der(kyso_revdata *d, const char *path)
{
    static unsigned char buf[1 << 20];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    if (n == 0 || revdata_add(d, 0, buf, n) < 0)
        die(path);
}

/* rev_get / rev_put - the remote tier on the store, as milter/gen.c. */
static int rev_get(void *ctx, const char *key, unsigned char **der, size_t *len)
{
    return store_cache_get(ctx, CACHE_REVOCATION, key, (char **)der, len);
}

static void rev_put(void *ctx, const char *key, const unsigned char *der, size_t len,
                    time_t expires)
{
    time_t now = time(NULL);
    if (expires > now)
        store_cache_put(ctx, CACHE_REVOCATION, key, (const char *)der, len,
                        (unsigned)(expires - now));
}

int main(int argc, char **argv)
{
    kyso_verifier v;
    char err[512], detail[1500];
    kyso_revdata d = { 0 };
    if (argc != 7) {
        printf("1..0 # SKIP driver of tests/redis/run-redis.sh\n");
        return argc == 1 ? 0 : 2;
    }
    kyso_store *s = store_open(argv[1], err, sizeof err);
    if (s == NULL)
        die(err);
    if (verifier_init(&v) < 0 || trust_add_anchors(v.trust, argv[2], err, sizeof err) < 0)
        die(err);
    v.rev.timeout_ms = 2000;
    v.rev.order[0] = REVSRC_OCSP;
    v.rev.order[1] = REVSRC_END;
    ocsp_table_free(v.rev.responders);
    if ((v.rev.responders = ocsp_table_load(argv[5], err, sizeof err)) == NULL)
        die(err);
    revcache_set_remote(v.rev.cache, &(revcache_remote){ s, rev_get, rev_put });
    X509 *leaf = load_cert(argv[4]);
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, load_cert(argv[3]));
    load_der(&d, argv[6]);
    kyso_reason r = trust_check_cert_ex(&v, leaf, chain, time(NULL), &d, detail, sizeof detail);
    revdata_free(&d);
    printf("%s\t%s\n", reason_name(r), detail);
    revcache_set_remote(v.rev.cache, NULL);
    store_close(s);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    verifier_free(&v);
    return 0;
}
