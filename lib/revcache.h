/*
 * revcache.h - the revocation cache: OCSP answers and CRLs that have
 * already been fetched and verified, kept until their nextUpdate, so that
 * the mail path asks the network once per certificate (OCSP) or issuer and
 * distribution point (CRL).  Failures are kept too, briefly ("negative"
 * entries), so that a dead responder costs one timeout, not one per mail.
 *
 * Keys are strings: "ocsp:" + hex SHA-1 of the issuer certificate + hex
 * serial, "crl:" + hex SHA-1 of the issuer certificate + " " + the
 * distribution point URL.
 *
 * Bounded (entries and bytes), least recently used first out, thread-safe
 * (one mutex), reference counted so that a background refresh may outlive
 * the verifier that started it.  A second, shared tier (the Redis store)
 * plugs in with revcache_set_remote: it holds DER only, and whatever comes
 * back from it is verified again before use.  Never prints.
 */
#ifndef KYSO_REVCACHE_H
#define KYSO_REVCACHE_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

typedef struct kyso_revcache kyso_revcache;

/* What a cache entry holds; revcache_get fills a copy. */
typedef struct revcache_item {
    unsigned char *der;         /* the OCSP response or CRL as fetched, or NULL */
    size_t len;
    time_t expires;             /* unusable from then on (nextUpdate + tolerance) */
    time_t refresh;             /* CRLs: fetch again in the background from then */
    int negative;               /* 1: the last fetch failed; error says why */
    char error[200];
    /* OCSP, decoded once verified */
    int status;                 /* V_OCSP_CERTSTATUS_GOOD, _REVOKED, _UNKNOWN */
    int reason;                 /* CRL reason code of a revocation, or -1 */
    time_t rev_time;            /* revocationTime when revoked */
    time_t this_update;
    X509_CRL *crl;              /* CRLs: a reference (revcache_item_clear drops it) */
} revcache_item;

/*
 * The remote tier, for several milter nodes sharing answers.  Both calls
 * must be thread-safe and bounded in time; their failures are ignored
 * (the local tier and the network still work).
 *   get: the DER stored under KEY into *der (malloc'd) and *len; 1 when
 *        found, 0 when absent, -1 on error.
 *   put: store LEN bytes of DER under KEY until EXPIRES (Unix time).
 */
typedef struct revcache_remote {
    void *ctx;
    int (*get)(void *ctx, const char *key, unsigned char **der, size_t *len);
    void (*put)(void *ctx, const char *key, const unsigned char *der, size_t len,
                time_t expires);
} revcache_remote;

/* revcache_new - a cache of at most MAX_ENTRIES entries and MAX_BYTES
 * bytes of DER; NULL when out of memory.  The caller holds one reference. */
kyso_revcache *revcache_new(size_t max_entries, size_t max_bytes);

/* revcache_ref / revcache_unref - take or drop a reference; the last
 * unref frees the cache and every entry.  NULL is fine for both. */
kyso_revcache *revcache_ref(kyso_revcache *c);
void revcache_unref(kyso_revcache *c);

/* revcache_set_remote - plug in (or, with NULL, remove) the remote tier.
 * Waits for remote calls in progress: once it returns, the old remote is
 * not used any more (so its store may be closed). */
void revcache_set_remote(kyso_revcache *c, const revcache_remote *r);

/* revcache_get - the entry under KEY still usable at NOW into OUT (a copy:
 * DER only when WANT_DER, the CRL as a new reference).  Returns 1 when
 * found, 0 when absent or expired (an expired entry is dropped), -1 when
 * out of memory (a miss).  OUT is zeroed on 0 and -1. */
int revcache_get(kyso_revcache *c, const char *key, time_t now, int want_der,
                 revcache_item *out);

/* revcache_put - store a copy of IT under KEY (replacing what was there),
 * evicting the least recently used entries to stay within the bounds; an
 * item larger than the byte bound is not stored.  With TO_REMOTE and a
 * remote tier, a positive item's DER goes there too.  0, or -1 when out
 * of memory (the cache is unchanged).  An item with a CRL keeps the
 * parsed CRL only (its DER goes to the remote tier, not to memory; LEN
 * still counts against the byte bound). */
int revcache_put(kyso_revcache *c, const char *key, const revcache_item *it, int to_remote);

/* revcache_put_failure - remember that fetching KEY failed with WHY until
 * UNTIL, unless a usable positive entry is there.  Silent on failure. */
void revcache_put_failure(kyso_revcache *c, const char *key, const char *why, time_t until);

/* revcache_get_remote - the DER the remote tier holds under KEY (malloc'd
 * into *der); 1 found, 0 absent or no remote tier, -1 error. */
int revcache_get_remote(kyso_revcache *c, const char *key, unsigned char **der, size_t *len);

/* revcache_claim_refresh - 1 when the caller is the one to refresh KEY in
 * the background (the entry exists and nobody else is refreshing it),
 * else 0.  revcache_put of KEY ends the claim. */
int revcache_claim_refresh(kyso_revcache *c, const char *key);

/* revcache_count - entries now held (tests, statistics). */
size_t revcache_count(kyso_revcache *c);

/* revcache_item_clear - free what IT holds and zero it. */
void revcache_item_clear(revcache_item *it);

#endif
