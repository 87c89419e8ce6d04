/*
 * revcache.c - the revocation cache (see revcache.h): a chained hash table
 * of entries on a least-recently-used list, one mutex, a reference count.
 *
 * Must never: print, hand out an entry past its expiry, keep more than its
 * bounds, or call the remote tier with the mutex held.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "revcache.h"

typedef struct rc_entry {
    char *key;
    revcache_item it;
    int refreshing;
    struct rc_entry *hnext;             /* bucket chain */
    struct rc_entry *prev, *next;       /* LRU list: head is the newest */
} rc_entry;

struct kyso_revcache {
    pthread_mutex_t mu;
    int refs;
    size_t max_entries, max_bytes, count, bytes, nbuckets;
    rc_entry **buckets;
    rc_entry *head, *tail;
    revcache_remote remote;
    int has_remote;
    pthread_rwlock_t remote_lock;       /* held for reading across each remote call,
                                         * for writing to change the remote: once
                                         * revcache_set_remote returns, the old one
                                         * is no longer in use */
};

/* rc_hash - FNV-1a of KEY. */
static size_t rc_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ull;
    return (size_t)h;
}

kyso_revcache *revcache_new(size_t max_entries, size_t max_bytes)
{
    kyso_revcache *c = calloc(1, sizeof *c);
    size_t n = 16;

    if (c == NULL)
        return NULL;
    while (n < 2 * max_entries && n < ((size_t)1 << 24))
        n <<= 1;
    c->buckets = calloc(n, sizeof *c->buckets);
    if (c->buckets == NULL || pthread_mutex_init(&c->mu, NULL) != 0 ||
        pthread_rwlock_init(&c->remote_lock, NULL) != 0) {
        free(c->buckets);
        free(c);
        return NULL;
    }
    c->nbuckets = n;
    c->max_entries = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    c->refs = 1;
    return c;
}

void revcache_item_clear(revcache_item *it)
{
    free(it->der);
    X509_CRL_free(it->crl);
    memset(it, 0, sizeof *it);
}

/* rc_unlink - take E off its bucket and the LRU list (not freed). */
static void rc_unlink(kyso_revcache *c, rc_entry *e)
{
    rc_entry **pp = &c->buckets[rc_hash(e->key) & (c->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    c->count--;
    c->bytes -= e->it.len;
}

/* rc_drop - unlink and free E. */
static void rc_drop(kyso_revcache *c, rc_entry *e)
{
    rc_unlink(c, e);
    revcache_item_clear(&e->it);
    free(e->key);
    free(e);
}

/* rc_find - the entry under KEY, or NULL; moved to the LRU head. */
static rc_entry *rc_find(kyso_revcache *c, const char *key)
{
    rc_entry *e = c->buckets[rc_hash(key) & (c->nbuckets - 1)];

    while (e && strcmp(e->key, key) != 0)
        e = e->hnext;
    if (e && e != c->head) {
        e->prev->next = e->next;
        if (e->next)
            e->next->prev = e->prev;
        else
            c->tail = e->prev;
        e->prev = NULL;
        e->next = c->head;
        c->head->prev = e;
        c->head = e;
    }
    return e;
}

/* rc_link - put new entry E at the LRU head and in its bucket. */
static void rc_link(kyso_revcache *c, rc_entry *e)
{
    size_t b = rc_hash(e->key) & (c->nbuckets - 1);

    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
    c->count++;
    c->bytes += e->it.len;
}

kyso_revcache *revcache_ref(kyso_revcache *c)
{
    if (c) {
        pthread_mutex_lock(&c->mu);
        c->refs++;
        pthread_mutex_unlock(&c->mu);
    }
    return c;
}

void revcache_unref(kyso_revcache *c)
{
    int last;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (!last)
        return;
    while (c->head)
        rc_drop(c, c->head);
    pthread_mutex_destroy(&c->mu);
    pthread_rwlock_destroy(&c->remote_lock);
    free(c->buckets);
    free(c);
}

void revcache_set_remote(kyso_revcache *c, const revcache_remote *r)
{
    pthread_rwlock_wrlock(&c->remote_lock);
    pthread_mutex_lock(&c->mu);
    c->has_remote = r != NULL && r->get != NULL && r->put != NULL;
    if (c->has_remote)
        c->remote = *r;
    pthread_mutex_unlock(&c->mu);
    pthread_rwlock_unlock(&c->remote_lock);
}

/* rc_copy - a copy of SRC into DST (DER when WANT_DER).  0, or -1 when
 * out of memory (DST zeroed). */
static int rc_copy(revcache_item *dst, const revcache_item *src, int want_der)
{
    *dst = *src;
    dst->der = NULL;
    dst->len = 0;
    if (want_der && src->der) {
        if ((dst->der = malloc(src->len)) == NULL) {
            memset(dst, 0, sizeof *dst);
            return -1;
        }
        memcpy(dst->der, src->der, src->len);
        dst->len = src->len;
    }
    if (dst->crl)
        X509_CRL_up_ref(dst->crl);
    return 0;
}

int revcache_get(kyso_revcache *c, const char *key, time_t now, int want_der,
                 revcache_item *out)
{
    rc_entry *e;
    int r = 0;

    memset(out, 0, sizeof *out);
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    e = rc_find(c, key);
    if (e && e->it.expires < now)
        rc_drop(c, e);
    else if (e)
        r = rc_copy(out, &e->it, want_der) == 0 ? 1 : -1;
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* rc_evict - drop entries from the LRU tail until NEED_BYTES more bytes
 * and one more entry fit. */
static void rc_evict(kyso_revcache *c, size_t need_bytes)
{
    while (c->tail && (c->count + 1 > c->max_entries
                       || (c->max_bytes && c->bytes + need_bytes > c->max_bytes)))
        rc_drop(c, c->tail);
}

int revcache_put(kyso_revcache *c, const char *key, const revcache_item *it, int to_remote)
{
    rc_entry *e, *old;
    revcache_remote rem;
    int send;

    if (c == NULL || (c->max_bytes && it->len > c->max_bytes))
        return 0;
    if ((e = calloc(1, sizeof *e)) == NULL || (e->key = strdup(key)) == NULL
        || rc_copy(&e->it, it, it->crl == NULL) < 0) {
        if (e)
            free(e->key);
        free(e);
        return -1;
    }
    e->it.len = it->len;                /* a CRL's DER is not kept, but counted */
    pthread_mutex_lock(&c->mu);
    if ((old = rc_find(c, key)) != NULL)
        rc_drop(c, old);
    rc_evict(c, e->it.len);
    rc_link(c, e);
    pthread_mutex_unlock(&c->mu);
    pthread_rwlock_rdlock(&c->remote_lock);
    pthread_mutex_lock(&c->mu);
    rem = c->remote;
    send = c->has_remote && to_remote && !it->negative && it->der != NULL;
    pthread_mutex_unlock(&c->mu);
    if (send)
        rem.put(rem.ctx, key, it->der, it->len, it->expires);
    pthread_rwlock_unlock(&c->remote_lock);
    return 0;
}

void revcache_put_failure(kyso_revcache *c, const char *key, const char *why, time_t until)
{
    revcache_item it;
    rc_entry *e;
    int keep;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    e = rc_find(c, key);
    keep = e != NULL && !e->it.negative && e->it.expires >= time(NULL);
    if (e)
        e->refreshing = 0;
    pthread_mutex_unlock(&c->mu);
    if (keep)
        return;
    memset(&it, 0, sizeof it);
    it.negative = 1;
    it.expires = until;
    snprintf(it.error, sizeof it.error, "%s", why);
    revcache_put(c, key, &it, 0);
}

int revcache_get_remote(kyso_revcache *c, const char *key, unsigned char **der, size_t *len)
{
    revcache_remote rem;
    int has;

    *der = NULL;
    *len = 0;
    if (c == NULL)
        return 0;
    pthread_rwlock_rdlock(&c->remote_lock);
    pthread_mutex_lock(&c->mu);
    has = c->has_remote;
    rem = c->remote;
    pthread_mutex_unlock(&c->mu);
    int rc = has ? rem.get(rem.ctx, key, der, len) : 0;
    pthread_rwlock_unlock(&c->remote_lock);
    return rc;
}

int revcache_claim_refresh(kyso_revcache *c, const char *key)
{
    rc_entry *e;
    int mine = 0;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    e = rc_find(c, key);
    if (e && !e->refreshing)
        mine = e->refreshing = 1;
    pthread_mutex_unlock(&c->mu);
    return mine;
}

size_t revcache_count(kyso_revcache *c)
{
    size_t n;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}
