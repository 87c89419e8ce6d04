/*
 * vcache.h - the verification cache: results of documents already checked,
 * keyed by the SHA-256 of their bytes (and of the content a detached
 * signature signs), so that the same PDF sent to many agencies is checked
 * once.  One cache belongs to one verifier, that is to one trust and policy
 * configuration: a reload starts an empty one.  Entries live at most TTL
 * seconds (a certificate may expire, a CRL be replaced), the least recently
 * used go first.  Thread-safe.  Never prints.
 *
 * A second, shared tier (the Redis store, for several gateways) plugs in
 * with vcache_set_remote: a miss here asks it, a result found there is
 * used only when this version reads it back exactly as it was written, and
 * each new result is handed to it.  Its key holds the fingerprint of the
 * trust and verifier configuration (lib/config-fp.h), so that only
 * gateways configured alike share entries.
 */
#ifndef KYSO_VCACHE_H
#define KYSO_VCACHE_H

#include <stddef.h>
#include <time.h>
#include "result.h"

#define VCACHE_KEY_LEN 32

typedef struct kyso_vcache kyso_vcache;

/* The shared tier.  Both calls must be thread-safe and bounded in time;
 * their failures only mean a miss, or nothing shared.
 *   get: the value under KEY into *val (malloc'd, NUL-terminated) and
 *        *len; 1 when found, 0 when absent, -1 on error.
 *   put: keep LEN bytes of VAL under KEY for TTL seconds. */
typedef struct vcache_remote {
    void *ctx;
    int (*get)(void *ctx, const char *key, char **val, size_t *len);
    void (*put)(void *ctx, const char *key, const char *val, size_t len, unsigned ttl);
    char fp[65];                /* configuration fingerprint, hex */
    char node[64];              /* this gateway (NodeName), written with each entry */
} vcache_remote;

/* Where the results of this thread's lookups came from since the last
 * vcache_tally_reset (the milter marks its decisions with it). */
typedef struct vcache_tally {
    unsigned local;             /* hits in this process's cache */
    unsigned shared;            /* hits in the shared tier */
    char by[64];                /* the node that verified the last shared hit */
} vcache_tally;

/* vcache_new - a cache of at most MAX entries living TTL seconds; NULL
 * when out of memory. */
kyso_vcache *vcache_new(size_t max, unsigned ttl);

/* vcache_free - release the cache and every entry; NULL is fine. */
void vcache_free(kyso_vcache *c);

/* vcache_key - KEY from the document's KIND, BUF and the detached CONTENT
 * (may be NULL).  Returns 0, or -1 when hashing failed (do not cache). */
int vcache_key(kyso_kind kind, const unsigned char *buf, size_t len,
               const unsigned char *content, size_t clen, unsigned char key[VCACHE_KEY_LEN]);

/* vcache_get - when KEY holds an entry younger than the TTL at NOW, fill
 * OUT (zeroed first) with a copy and return 1; else 0 (OUT zeroed).  Out of
 * memory while copying is a miss. */
int vcache_get(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
               kyso_doc_result *out);

/* vcache_put - remember a copy of R under KEY at NOW, evicting the least
 * recently used entry when full.  Results that may change on retry
 * (indeterminate: revocation unknown, internal error) are not kept.
 * Failure (out of memory) only means nothing is cached. */
void vcache_put(kyso_vcache *c, const unsigned char key[VCACHE_KEY_LEN], time_t now,
                const kyso_doc_result *r);

/* vcache_stats - hits and misses so far (for logs and benchmarks); a
 * shared hit counts as a hit. */
void vcache_stats(kyso_vcache *c, unsigned long *hits, unsigned long *misses);

/* vcache_set_remote - plug in (R) or remove (NULL) the shared tier.  Call
 * before the cache is shared between threads. */
void vcache_set_remote(kyso_vcache *c, const vcache_remote *r);

/* vcache_tally_reset / vcache_tally_get - this thread's tally: zero it;
 * copy it into T. */
void vcache_tally_reset(void);
void vcache_tally_get(vcache_tally *t);

#endif
