/*
 * ratelimit.c - the per-sender rate limit of notices (notice.h): at most
 * MAX notices in any WINDOW seconds per address, compared without case.
 *
 * A sliding window: each tracked address keeps the times of its last MAX
 * notices in a ring, so the limit holds over any WINDOW-long span, not
 * only within fixed slots.  Addresses live in a chained hash table and in a
 * least-recently-seen list; past RL_MAX_KEYS addresses the one seen least
 * recently is forgotten.  Memory is thus bounded by RL_MAX_KEYS entries of
 * MAX times each.  One mutex guards everything.  Never prints.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "notice.h"

#define RL_MAX_KEYS 10000
#define RL_BUCKETS 16384        /* a power of two */
#define RL_KEY_MAX 320          /* longer keys are compared on this prefix */
#define RL_MAX_RING 1000        /* a larger MAX is treated as this */

typedef struct rl_entry {
    struct rl_entry *next;              /* hash chain */
    struct rl_entry *older, *newer;     /* least-recently-seen list */
    uint64_t hash;
    char *key;                          /* lower case, in the same block */
    unsigned n, head;                   /* times held; index of the oldest */
    time_t times[];                     /* ring of rl->max notice times */
} rl_entry;

struct kyso_ratelimit {
    pthread_mutex_t lock;
    unsigned max, window;
    size_t count;
    rl_entry *oldest, *newest;
    rl_entry *buckets[RL_BUCKETS];
};

kyso_ratelimit *ratelimit_new(unsigned max, unsigned window)
{
    kyso_ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL)
        return NULL;
    if (pthread_mutex_init(&rl->lock, NULL) != 0) {
        free(rl);
        return NULL;
    }
    rl->max = max > RL_MAX_RING ? RL_MAX_RING : max;
    rl->window = window;
    return rl;
}

/* rl_key - KEY lower-cased (ASCII) into OUT, cut at RL_KEY_MAX bytes;
 * returns its length.  NULL is the empty key. */
static size_t rl_key(const char *key, char *out)
{
    size_t n = 0;
    for (; key && key[n] && n < RL_KEY_MAX; n++) {
        char c = key[n];
        out[n] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return n;
}

/* rl_hash - FNV-1a of N bytes of S. */
static uint64_t rl_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* rl_unlink_list - take E out of the least-recently-seen list. */
static void rl_unlink_list(kyso_ratelimit *rl, rl_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        rl->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        rl->newest = e->older;
    e->older = e->newer = NULL;
}

/* rl_push_newest - put E at the recently-seen end of the list. */
static void rl_push_newest(kyso_ratelimit *rl, rl_entry *e)
{
    e->older = rl->newest;
    e->newer = NULL;
    if (rl->newest)
        rl->newest->newer = e;
    else
        rl->oldest = e;
    rl->newest = e;
}

/* rl_find - the entry for KEY (N bytes, hash H), or NULL. */
static rl_entry *rl_find(kyso_ratelimit *rl, const char *key, size_t n, uint64_t h)
{
    for (rl_entry *e = rl->buckets[h & (RL_BUCKETS - 1)]; e; e = e->next)
        if (e->hash == h && strlen(e->key) == n && memcmp(e->key, key, n) == 0)
            return e;
    return NULL;
}

/* rl_forget_oldest - drop the entry seen least recently (if any). */
static void rl_forget_oldest(kyso_ratelimit *rl)
{
    rl_entry *e = rl->oldest;
    if (e == NULL)
        return;
    rl_entry **pp = &rl->buckets[e->hash & (RL_BUCKETS - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    rl_unlink_list(rl, e);
    free(e);
    rl->count--;
}

/* rl_insert - a new, empty entry for KEY, making room first; NULL when
 * out of memory (the table is left as it was, but for a forgotten entry). */
static rl_entry *rl_insert(kyso_ratelimit *rl, const char *key, size_t n, uint64_t h)
{
    if (rl->count >= RL_MAX_KEYS)
        rl_forget_oldest(rl);
    size_t times = (size_t)rl->max * sizeof(time_t);
    rl_entry *e = calloc(1, sizeof *e + times + n + 1);
    if (e == NULL)
        return NULL;
    e->key = (char *)e->times + times;
    memcpy(e->key, key, n + 1);
    e->hash = h;
    rl_entry **bucket = &rl->buckets[h & (RL_BUCKETS - 1)];
    e->next = *bucket;
    *bucket = e;
    rl_push_newest(rl, e);
    rl->count++;
    return e;
}

/* rl_expire - drop from E the times that left the window ending at NOW. */
static void rl_expire(const kyso_ratelimit *rl, rl_entry *e, time_t now)
{
    while (e->n > 0 && now - e->times[e->head] >= (time_t)rl->window) {
        e->head = (e->head + 1) % rl->max;
        e->n--;
    }
}

/* ratelimit_allow - see notice.h.  Out of memory answers 0 (no notice):
 * the limit exists to protect others from floods, so it fails closed. */
int ratelimit_allow(kyso_ratelimit *rl, const char *key, time_t now)
{
    char low[RL_KEY_MAX + 1];
    size_t n = rl_key(key, low);
    uint64_t h = rl_hash(low, n);
    int allowed = 0;
    if (rl == NULL || rl->max == 0)
        return 0;
    pthread_mutex_lock(&rl->lock);
    rl_entry *e = rl_find(rl, low, n, h);
    if (e == NULL)
        e = rl_insert(rl, low, n, h);
    if (e != NULL) {
        rl_unlink_list(rl, e);
        rl_push_newest(rl, e);
        rl_expire(rl, e, now);
        if (e->n < rl->max) {
            e->times[(e->head + e->n) % rl->max] = now;
            e->n++;
            allowed = 1;
        }
    }
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}

/* ratelimit_free - frees RL and every entry; NULL is allowed. */
void ratelimit_free(kyso_ratelimit *rl)
{
    if (rl == NULL)
        return;
    while (rl->oldest)
        rl_forget_oldest(rl);
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}
