/*
 * gen.c - configuration generations (see gen.h): one mutex guards the
 * current pointer and the reference counts; building a generation happens
 * outside the lock, so a slow reload never holds up mail.  Opening the
 * store also plugs its shared state in: the shared tier of the
 * verification cache (keyed by the configuration fingerprint) and the log
 * lines saying when Redis goes away and comes back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "config-fp.h"
#include "gen.h"
#include "revcache.h"
#include "logmsg.h"
#include "vcache.h"

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static kyso_gen *gen_current;
static unsigned long gen_next_id = 1;
static int gen_in_flight;

/* gen_free - release everything G owns (closing a store may wait for it
 * to flush queued records). */
static void gen_free(kyso_gen *g)
{
    if (g->v.rev.cache)
        revcache_set_remote(g->v.rev.cache, NULL);  /* a CRL refresh may outlive G */
    store_close(g->store);
    signset_free(g->ss);
    verifier_free(&g->v);
    config_free(g->cfg);
    free(g);
}

/* gen_free_thread - gen_free off to the side. */
static void *gen_free_thread(void *arg)
{
    gen_free(arg);
    return NULL;
}

/* gen_free_later - free G in a thread of its own, so that the mail thread
 * that happened to drop the last reference after a reload does not wait
 * for the old store to flush; inline when no thread can be started. */
static void gen_free_later(kyso_gen *g)
{
    pthread_t t;
    pthread_attr_t a;
    int ok = pthread_attr_init(&a) == 0;
    ok = ok && pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) == 0 &&
         pthread_create(&t, &a, gen_free_thread, g) == 0;
    if (!ok)
        gen_free(g);
}

kyso_gen *gen_load(const char *path, char *err, size_t errlen)
{
    kyso_gen *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if ((g->cfg = config_load(path, err, errlen)) == NULL) {
        free(g);
        return NULL;
    }
    char warn[1024];
    if (config_build_verifier(g->cfg, &g->v, err, errlen) < 0) {
        config_free(g->cfg);
        free(g);
        return NULL;
    }
    if ((g->ss = signset_open(g->cfg, 1, warn, sizeof warn, err, errlen)) == NULL) {
        verifier_free(&g->v);
        config_free(g->cfg);
        free(g);
        return NULL;
    }
    if (warn[0])
        log_msg(LOG_WARNING, "signing will wait for the token: %s", warn);
    g->refs = 1;
    pthread_mutex_lock(&gen_lock);
    g->id = gen_next_id++;
    pthread_mutex_unlock(&gen_lock);
    return g;
}

/* gen_store_status - the store's changes between reachable and not, in
 * the log: once each, never per message. */
static void gen_store_status(void *arg, int up, const char *why)
{
    (void)arg;
    if (up)
        log_msg(LOG_NOTICE, "Redis back: records, shared caches, counters and the shared "
                "notice limit use it again");
    else
        log_msg(LOG_WARNING, "Redis unreachable: %s; records wait in RedisSpool, the shared "
                "cache misses, counters are skipped, notices are limited per gateway", why);
}

/* gen_vc_get / gen_vc_put - the verification cache's shared tier on the
 * store (vcache.h's remote calls; CTX is the store). */
static int gen_vc_get(void *ctx, const char *key, char **val, size_t *len)
{
    return store_cache_get(ctx, CACHE_VERIFY, key, val, len);
}

static void gen_vc_put(void *ctx, const char *key, const char *val, size_t len, unsigned ttl)
{
    store_cache_put(ctx, CACHE_VERIFY, key, val, len, ttl);
}

/* gen_share_cache - plug the store in behind G's verification cache, when
 * both exist; a fingerprint that cannot be computed only means no sharing
 * (logged). */
static void gen_share_cache(kyso_gen *g)
{
    char why[512];
    vcache_remote r = { .ctx = g->store, .get = gen_vc_get, .put = gen_vc_put };
    if (g->v.cache == NULL || !store_has_shared(g->store))
        return;
    if (config_fp(g->cfg, &g->v, r.fp, why, sizeof why) < 0) {
        log_msg(LOG_WARNING, "shared verification cache off: %s", why);
        return;
    }
    snprintf(r.node, sizeof r.node, "%s", g->cfg->node ? g->cfg->node : "");
    vcache_set_remote(g->v.cache, &r);
}

/* gen_rev_get / gen_rev_put - the revocation cache's remote tier on the
 * store (OCSP and CRL answers shared by the gateways; whatever is read back
 * is verified again before use). */
static int gen_rev_get(void *ctx, const char *key, unsigned char **der, size_t *len)
{
    return store_cache_get(ctx, CACHE_REVOCATION, key, (char **)der, len);
}

static void gen_rev_put(void *ctx, const char *key, const unsigned char *der, size_t len,
                        time_t expires)
{
    time_t now = time(NULL);
    if (expires > now)
        store_cache_put(ctx, CACHE_REVOCATION, key, (const char *)der, len,
                        (unsigned)(expires - now));
}

/* gen_share_revcache - plug the store in behind G's revocation cache. */
static void gen_share_revcache(kyso_gen *g)
{
    if (g->v.rev.cache != NULL && store_has_shared(g->store))
        revcache_set_remote(g->v.rev.cache,
                            &(revcache_remote){ g->store, gen_rev_get, gen_rev_put });
}

int gen_open_store(kyso_gen *g, char *err, size_t errlen)
{
    if (g->store != NULL)
        return 0;
    if ((g->store = store_open(g->cfg->store, err, errlen)) == NULL)
        return -1;
    store_set_status(g->store, gen_store_status, g);
    gen_share_cache(g);
    gen_share_revcache(g);
    return 0;
}

void gen_install(kyso_gen *g)
{
    pthread_mutex_lock(&gen_lock);
    kyso_gen *old = gen_current;
    gen_current = g;
    int free_old = old != NULL && --old->refs == 0;
    pthread_mutex_unlock(&gen_lock);
    if (free_old)
        gen_free(old);
}

kyso_gen *gen_acquire(void)
{
    pthread_mutex_lock(&gen_lock);
    kyso_gen *g = gen_current;
    if (g) {
        g->refs++;
        gen_in_flight++;
    }
    pthread_mutex_unlock(&gen_lock);
    return g;
}

void gen_release(kyso_gen *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&gen_lock);
    gen_in_flight--;
    int last = --g->refs == 0;
    pthread_mutex_unlock(&gen_lock);
    if (last)
        gen_free_later(g);
}

int gen_active(void)
{
    pthread_mutex_lock(&gen_lock);
    int n = gen_in_flight;
    pthread_mutex_unlock(&gen_lock);
    return n;
}
