/*
 * vcache.h - the verification cache: results of documents already checked,
 * keyed by the SHA-256 of their bytes (and of the content a detached
 * signature signs), so that the same PDF sent to many agencies is checked
 * once.  One cache belongs to one verifier, that is to one trust and policy
 * configuration: a reload starts an empty one.  Entries live at most TTL
 * seconds (a certificate may expire, a CRL be replaced), the least recently
 * used go first.  Thread-safe.  Never prints.
 */
#ifndef KYSO_VCACHE_H
#define KYSO_VCACHE_H

#include <stddef.h>
#include <time.h>
#include "result.h"

#define VCACHE_KEY_LEN 32

typedef struct kyso_vcache kyso_vcache;

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

/* vcache_stats - hits and misses so far (for logs and benchmarks). */
void vcache_stats(kyso_vcache *c, unsigned long *hits, unsigned long *misses);

#endif
