/*
 * vcache.c - the verification cache (see vcache.h): a chained hash table
 * on the key for lookups and a doubly linked list in use order for
 * eviction, under one mutex.  Entries hold deep copies of results, so a
 * caller never shares memory with the cache.  The shared tier is asked
 * outside the mutex.  Its entries are {"v":1,"node":N,"at":T,"doc":{...}}
 * (T the Unix time the result was found, doc as in decision records) under
 * "FINGERPRINT:KEY" in hex.  Never prints.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "json.h"
#include "result-read.h"
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
    int has_remote;
    vcache_remote remote;
};

static _Thread_local vcache_tally vc_tally;

static void vc_put_local(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
                         const kyso_doc_result *r);

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

/* vc_get_local - the lookup in this process's table (see vcache_get);
 * counts a hit, not a miss. */
static int vc_get_local(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
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
        c->hits++;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* vc_remote_key - "FP:KEY" in hex into OUT (at least 130 bytes). */
static void vc_remote_key(const kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN],
                          char *out)
{
    int n = snprintf(out, 66, "%s:", c->remote.fp);
    for (size_t i = 0; i < VCACHE_KEY_LEN; i++)
        snprintf(out + n + 2 * i, 3, "%02x", key[i]);
}

/* vc_same_doc - does R serialise to exactly the LEN bytes at JSON?  (A
 * field this version does not read would otherwise be lost silently.) */
static int vc_same_doc(const kyso_doc_result *r, const char *json, size_t len)
{
    kyso_buf b = {0};
    int same = result_json_append_doc(&b, r) == 0 && b.len == len && memcmp(b.p, json, len) == 0;
    buf_free(&b);
    return same;
}

/* vc_parse_entry - a shared entry (LEN bytes at VAL) into OUT, *born and
 * BY (64 bytes).  0, or -1 when it is not an entry this version reads back
 * whole, or is older than the TTL at NOW (OUT is then empty). */
static int vc_parse_entry(const kyso_vcache *c, const char *val, size_t len, time_t now,
                          kyso_doc_result *out, time_t *born, char *by)
{
    char err[128];
    json_doc *d = json_parse(val, len, 0, 0, err, sizeof err);
    const json_value *root = d ? json_root(d) : NULL, *v = json_get(root, "v");
    const json_value *at = json_get(root, "at"), *doc = json_get(root, "doc");
    const char *node = json_get_string(root, "node");
    int rc = -1;
    if (v && v->type == JSON_NUMBER && v->num == 1 && at && at->type == JSON_NUMBER
        && doc && doc->type == JSON_OBJECT && (time_t)at->num <= now
        && now - (time_t)at->num < (time_t)c->ttl && result_from_value(doc, out) == 0) {
        const char *start = memmem(val, len, "\"doc\":", 6);
        size_t dlen = start ? len - (size_t)(start + 6 - val) - 1 : 0;
        rc = start && val[len - 1] == '}' && vc_same_doc(out, start + 6, dlen) ? 0 : -1;
        *born = (time_t)at->num;
        snprintf(by, 64, "%s", node ? node : "");
    }
    if (rc < 0)
        result_free_doc(out);
    json_free(d);
    return rc;
}

/* vc_get_remote - ask the shared tier for KEY; on a hit fill OUT, keep a
 * copy here too (born when the other node found it), and return 1. */
static int vc_get_remote(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
                         kyso_doc_result *out)
{
    char k[140], *val = NULL, by[64];
    size_t len = 0;
    time_t born = now;
    vc_remote_key(c, key, k);
    int found = c->remote.get(c->remote.ctx, k, &val, &len) == 1
                && vc_parse_entry(c, val, len, now, out, &born, by) == 0;
    free(val);
    if (!found)
        return 0;
    vc_put_local(c, key, born, out);
    vc_tally.shared++;
    snprintf(vc_tally.by, sizeof vc_tally.by, "%s", by);
    pthread_mutex_lock(&c->lock);
    c->hits++;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

int vcache_get(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
               kyso_doc_result *out)
{
    if (vc_get_local(c, key, now, out)) {
        vc_tally.local++;
        return 1;
    }
    if (c->has_remote && vc_get_remote(c, key, now, out))
        return 1;
    pthread_mutex_lock(&c->lock);
    c->misses++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* vc_keepable - may R be served again within the TTL? */
static int vc_keepable(const kyso_doc_result *r)
{
    return reason_verdict(r->reason) != VERDICT_INDETERMINATE;
}

/* vc_put_local - vcache_put in this process's table only. */
static void vc_put_local(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
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

/* vc_put_remote - hand R, found at NOW, to the shared tier. */
static void vc_put_remote(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
                          const kyso_doc_result *r)
{
    char k[140];
    kyso_buf b = {0};
    vc_remote_key(c, key, k);
    buf_printf(&b, "{\"v\":1,\"node\":");
    buf_append_json_string(&b, c->remote.node);
    buf_printf(&b, ",\"at\":%lld,\"doc\":", (long long)now);
    if (result_json_append_doc(&b, r) == 0 && buf_append(&b, "}", 1) == 0 && !b.oom)
        c->remote.put(c->remote.ctx, k, b.p, b.len, c->ttl);
    buf_free(&b);
}

void vcache_put(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
                const kyso_doc_result *r)
{
    vc_put_local(c, key, now, r);
    if (c->has_remote && vc_keepable(r))
        vc_put_remote(c, key, now, r);
}

void vcache_set_remote(kyso_vcache *c, const vcache_remote *r)
{
    if (c == NULL)
        return;
    c->has_remote = r != NULL && r->get != NULL && r->put != NULL;
    if (c->has_remote)
        c->remote = *r;
}

void vcache_tally_reset(void)
{
    memset(&vc_tally, 0, sizeof vc_tally);
}

void vcache_tally_get(vcache_tally *t)
{
    *t = vc_tally;
}

void vcache_stats(kyso_vcache *c, unsigned long *hits, unsigned long *misses)
{
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}
