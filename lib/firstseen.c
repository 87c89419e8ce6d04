/*
 * firstseen.c - the first-seen map (see firstseen.h): an open-addressing
 * table of twice the bound, swept of old entries when it fills.
 *
 * Must never: print, grow past its bound, or hold its mutex while the
 * shared tier is called.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "firstseen.h"

typedef struct fs_slot {
    unsigned char key[FIRSTSEEN_KEY_LEN];
    time_t first;               /* 0: empty */
} fs_slot;

struct kyso_firstseen {
    pthread_mutex_t mu;
    fs_slot *slots;
    size_t nslots, count, max;
    firstseen_remote remote;
    int has_remote;
};

kyso_firstseen *firstseen_new(size_t max)
{
    kyso_firstseen *f = calloc(1, sizeof *f);

    if (f == NULL)
        return NULL;
    f->max = max ? max : 1;
    f->nslots = 2 * f->max + 1;
    if ((f->slots = calloc(f->nslots, sizeof *f->slots)) == NULL
        || pthread_mutex_init(&f->mu, NULL) != 0) {
        free(f->slots);
        free(f);
        return NULL;
    }
    return f;
}

void firstseen_free(kyso_firstseen *f)
{
    if (f == NULL)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f->slots);
    free(f);
}

void firstseen_set_remote(kyso_firstseen *f, const firstseen_remote *r)
{
    f->has_remote = r != NULL && r->note != NULL;
    if (f->has_remote)
        f->remote = *r;
}

/* fs_slot_of - the slot holding KEY, or the empty slot where it goes. */
static fs_slot *fs_slot_of(kyso_firstseen *f, const unsigned char *key)
{
    size_t h;

    memcpy(&h, key, sizeof h);
    for (size_t i = h % f->nslots;; i = (i + 1) % f->nslots)
        if (f->slots[i].first == 0 || memcmp(f->slots[i].key, key, FIRSTSEEN_KEY_LEN) == 0)
            return &f->slots[i];
}

/* fs_count_from - entries of the N slots of V first seen at LO or later. */
static size_t fs_count_from(const fs_slot *v, size_t n, time_t lo)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        k += v[i].first != 0 && v[i].first >= lo;
    return k;
}

/* fs_sweep - rebuild the table keeping entries first seen at LIMIT or
 * later; when that would keep it full, only the newer half of the span. */
static void fs_sweep(kyso_firstseen *f, time_t limit)
{
    fs_slot *old = f->slots;
    size_t n = f->nslots;
    time_t lo = limit, min = 0, max = 0;

    if (fs_count_from(old, n, lo) + 1 >= f->max) {
        for (size_t i = 0; i < n; i++) {
            if (old[i].first && (!min || old[i].first < min))
                min = old[i].first;
            if (old[i].first > max)
                max = old[i].first;
        }
        lo = min + (max - min) / 2 + 1;
    }
    if ((f->slots = calloc(n, sizeof *f->slots)) == NULL) {
        f->slots = old;                 /* out of memory: forget everything */
        memset(old, 0, n * sizeof *old);
        f->count = 0;
        return;
    }
    f->count = 0;
    for (size_t i = 0; i < n; i++)
        if (old[i].first && old[i].first >= lo && f->count + 1 < f->max) {
            *fs_slot_of(f, old[i].key) = old[i];
            f->count++;
        }
    free(old);
}

time_t firstseen_note(kyso_firstseen *f, const unsigned char key[FIRSTSEEN_KEY_LEN],
                      time_t now, time_t ttl)
{
    time_t first = now, remote;
    fs_slot *s;

    if (f == NULL)
        return now;
    if (f->has_remote && f->remote.note(f->remote.ctx, key, now, ttl, &remote) == 0)
        first = remote;
    pthread_mutex_lock(&f->mu);
    s = fs_slot_of(f, key);
    if (s->first != 0 && s->first + ttl < now) {
        s->first = first;               /* forgotten: starts again */
    } else if (s->first == 0) {
        if (f->count + 1 > f->max) {
            fs_sweep(f, now - ttl);
            s = fs_slot_of(f, key);
        }
        memcpy(s->key, key, FIRSTSEEN_KEY_LEN);
        s->first = first;
        f->count++;
    } else if (first < s->first) {
        s->first = first;
    }
    first = s->first;
    pthread_mutex_unlock(&f->mu);
    return first;
}
