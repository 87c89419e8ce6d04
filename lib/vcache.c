/*
 * vcache.c - the verification cache (see vcache.h): a chained hash table
 * on the key for lookups and a doubly linked list in use order for
 * eviction, under one mutex.  Entries hold deep copies of results, so a
 * caller never shares memory with the cache.  Never prints.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vcache.h"

typedef struct vc_entry {
    unsigned char key[VCACHE_KEY_LEN];
    time_t born;
    kyso_doc_result res;
    struct vc_entry *chain;             /* next in the same bucket */
    struct vc_entry *prev, *next;       /* use order: head is the most recent */
} vc_entry;

struct kyso_vcache {
    pthread_mutex_t lock;
    vc_entry **buckets;
    size_t nbuckets, n, max;
    unsigned ttl;
    vc_entry *head, *tail;
    unsigned long hits, misses;
};

kyso_vcache *vcache_new(size_t max, unsigned ttl)
{
    kyso_vcache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->nbuckets = 64;
    while (c->nbuckets < max && c->nbuckets < (1u << 20))
        c->nbuckets *= 2;
    if ((c->buckets = calloc(c->nbuckets, sizeof *c->buckets)) == NULL) {
        free(c);
        return NULL;
    }
    c->max = max;
    c->ttl = ttl;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void vcache_free(kyso_vcache *c)
{
    if (c == NULL)
        return;
    for (vc_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        result_free_doc(&e->res);
        free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int vcache_key(kyso_kind kind, const unsigned char *buf, size_t len,
               const unsigned char *content, size_t clen, unsigned char key[VCACHE_KEY_LEN])
{
    unsigned char head[1 + 2 * sizeof(uint64_t)];
    uint64_t l1 = len, l2 = content ? clen : UINT64_MAX;
    head[0] = (unsigned char)kind;
    memcpy(head + 1, &l1, sizeof l1);
    memcpy(head + 1 + sizeof l1, &l2, sizeof l2);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(md, head, sizeof head) && EVP_DigestUpdate(md, buf, len) &&
             (content == NULL || EVP_DigestUpdate(md, content, clen)) &&
             EVP_DigestFinal_ex(md, key, NULL);
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/* vc_bucket - the bucket of KEY. */
static vc_entry **vc_bucket(kyso_vcache *c, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return &c->buckets[h & (c->nbuckets - 1)];
}

/* vc_unlink - take E out of the use list. */
static void vc_unlink(kyso_vcache *c, vc_entry *e)
{
    if (e->prev) e->prev->next = e->next; else c->head = e->next;
    if (e->next) e->next->prev = e->prev; else c->tail = e->prev;
    e->prev = e->next = NULL;
}

/* vc_push - put E at the head of the use list. */
static void vc_push(kyso_vcache *c, vc_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e; else c->tail = e;
    c->head = e;
}

/* vc_remove - drop E from table and list and free it. */
static void vc_remove(kyso_vcache *c, vc_entry *e)
{
    vc_entry **p = vc_bucket(c, e->key);
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    vc_unlink(c, e);
    result_free_doc(&e->res);
    free(e);
    c->n--;
}

/* vc_find - the entry of KEY, or NULL. */
static vc_entry *vc_find(kyso_vcache *c, const unsigned char *key)
{
    for (vc_entry *e = *vc_bucket(c, key); e; e = e->chain)
        if (memcmp(e->key, key, VCACHE_KEY_LEN) == 0)
            return e;
    return NULL;
}

int vcache_get(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
               kyso_doc_result *out)
{
    int hit = 0;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->lock);
    vc_entry *e = vc_find(c, key);
    if (e && (now < e->born || now - e->born >= (time_t)c->ttl)) {
        vc_remove(c, e);
        e = NULL;
    }
    if (e && result_copy_doc(out, &e->res) == 0) {
        vc_unlink(c, e);
        vc_push(c, e);
        hit = 1;
    }
    if (hit) c->hits++; else c->misses++;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* vc_keepable - may R be served again within the TTL? */
static int vc_keepable(const kyso_doc_result *r)
{
    return reason_verdict(r->reason) != VERDICT_INDETERMINATE;
}

void vcache_put(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
                const kyso_doc_result *r)
{
    if (c->max == 0 || !vc_keepable(r))
        return;
    vc_entry *e = calloc(1, sizeof *e);
    if (e == NULL || result_copy_doc(&e->res, r) < 0) {
        free(e);
        return;
    }
    memcpy(e->key, key, VCACHE_KEY_LEN);
    e->born = now;
    pthread_mutex_lock(&c->lock);
    vc_entry *old = vc_find(c, key);
    if (old)
        vc_remove(c, old);
    while (c->n >= c->max && c->tail)
        vc_remove(c, c->tail);
    vc_entry **b = vc_bucket(c, key);
    e->chain = *b;
    *b = e;
    vc_push(c, e);
    c->n++;
    pthread_mutex_unlock(&c->lock);
}

void vcache_stats(kyso_vcache *c, unsigned long *hits, unsigned long *misses)
{
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}
