/*
 * gen.c - configuration generations (see gen.h): one mutex guards the
 * current pointer and the reference counts; building a generation happens
 * outside the lock, so a slow reload never holds up mail.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "gen.h"
#include "logmsg.h"

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static kyso_gen *gen_current;
static unsigned long gen_next_id = 1;
static int gen_in_flight;

/* gen_free - release everything G owns (closing a store may wait for it
 * to flush queued records). */
static void gen_free(kyso_gen *g)
{
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

int gen_open_store(kyso_gen *g, char *err, size_t errlen)
{
    if (g->store == NULL && (g->store = store_open(g->cfg->store, err, errlen)) == NULL)
        return -1;
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
