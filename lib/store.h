/*
 * store.h - where decisions and audit records go: one interface, several
 * backends (a vtable, as OpenSMTPD does its tables).  "file:DIR" is the
 * embedded JSON Lines store (lib/store-file.c); "redis://..." comes with
 * lib/store-redis.c.  A store is shared by every thread of a configuration
 * generation: each operation is thread-safe.  Never prints.
 */
#ifndef KYSO_STORE_H
#define KYSO_STORE_H

#include <stddef.h>
#include <time.h>

typedef enum kyso_stream {
    STREAM_DECISIONS = 0,       /* one record per message decided */
    STREAM_AUDIT                /* signatures applied, key use, refusals to sign */
} kyso_stream;

typedef struct kyso_store kyso_store;

/* What a reader (kyso log) asks of a store: the records of one stream in a
 * time window, optionally only one reference id, optionally only records
 * whose raw JSON text contains NEEDLE (a cheap prefilter: the caller still
 * checks its real filters on the parsed record).  A backend may return
 * more than asked (a superset: records near the window's edges, say), never
 * less. */
typedef struct kyso_query {
    long long since_ms;         /* epoch milliseconds, 0: from the start */
    long long until_ms;         /* epoch milliseconds, 0: up to now */
    const char *ref;            /* exact "ref" of a decision record, or NULL */
    const char *needle;         /* substring of the raw record, matched
                                 * ignoring ASCII case, or NULL */
    size_t limit;               /* the LAST limit matching records; 0: all */
} kyso_query;

/* kyso log's filters in structured form (decisions only; NULL: not asked),
 * for store_query_hinted: a backend with indexes (Redis) may hand over
 * only the records matching one or more of them, and "the last LIMIT" then
 * counts among those; a backend without (file) ignores them.  Either way
 * the caller checks every filter again on the parsed records. */
typedef struct kyso_hints {
    const char *sender;         /* "env_from" equal, ignoring ASCII case */
    const char *rcpt;           /* one of "rcpts" equal, ignoring ASCII case */
    const char *domain;         /* the domain (after the last '@') of env_from or
                                 * of a recipient is DOMAIN or ends in ".DOMAIN",
                                 * ignoring ASCII case */
    const char *action;         /* "action" or "would" equal */
    const char *reason;         /* "reason" equal */
} kyso_hints;

/* The shared caches (Redis: keys kyso:vc:KEY and kyso:rev:KEY). */
typedef enum kyso_cache_ns {
    CACHE_VERIFY = 0,           /* verification results (lib/vcache.c) */
    CACHE_REVOCATION            /* CRL / OCSP answers, shared by all gateways */
} kyso_cache_ns;

/* Told when the shared server becomes unreachable (UP 0, WHY the reason)
 * and when it answers again (UP 1): once per change, never per message.
 * Called from the store's threads or a mail thread; must not call back
 * into the store. */
typedef void (*store_status_fn)(void *arg, int up, const char *why);

/* Called by store_counter_read for each count of day number DAY (an index
 * into the caller's list): NAME a counter field with VALUE >= 0, or a
 * member of the day's certificate set with VALUE -1.  0 to go on. */
typedef int (*store_counter_fn)(size_t day, const char *name, long long value, void *arg);

/* Called once per record, oldest first; JSON is one record (no newline),
 * valid during the call.  Return 0 to go on, non-zero to stop. */
typedef int (*store_record_fn)(const char *json, size_t len, void *arg);

typedef struct kyso_store_ops {
    const char *scheme;         /* "file", "redis" */
    /* open - parse what follows "scheme:" and get ready; NULL with err. */
    kyso_store *(*open)(const char *rest, char *err, size_t errlen);
    /* append - add one JSON object (no newline) to STREAM; 0, or -1 with err. */
    int (*append)(kyso_store *s, kyso_stream stream, const char *json,
                  char *err, size_t errlen);
    void (*close)(kyso_store *s);
    /* query - FN for each record of STREAM matching Q, oldest first; 0, or
     * -1 with err.  NULL when the backend cannot be read back. */
    int (*query)(kyso_store *s, kyso_stream stream, const kyso_query *q,
                 store_record_fn fn, void *arg, char *err, size_t errlen);
    /* follow - FN for each record appended to STREAM from now on, until
     * FN returns non-zero or STOP (polled at least every second) is set;
     * 0, or -1 with err.  NULL when the backend cannot do it. */
    int (*follow)(kyso_store *s, kyso_stream stream, store_record_fn fn, void *arg,
                  volatile int *stop, char *err, size_t errlen);
    /* The shared state; NULL in a backend that has none (see the store_*
     * functions below for the contracts). */
    int (*cache_get)(kyso_store *s, kyso_cache_ns ns, const char *key, char **val,
                     size_t *len);
    void (*cache_put)(kyso_store *s, kyso_cache_ns ns, const char *key, const char *val,
                      size_t len, unsigned ttl);
    void (*counter_incr)(kyso_store *s, const char *day, const char *org, const char *field,
                         long long n);
    void (*counter_member)(kyso_store *s, const char *day, const char *org,
                           const char *member);
    int (*counter_read)(kyso_store *s, const char *org, const char *const *days, size_t ndays,
                        store_counter_fn fn, void *arg, char *err, size_t errlen);
    int (*rate_allow)(kyso_store *s, const char *key, unsigned max, unsigned window,
                      time_t now);
    void (*set_status)(kyso_store *s, store_status_fn fn, void *arg);
    /* query_hinted - query with hints (see kyso_hints); NULL: query is used. */
    int (*query_hinted)(kyso_store *s, kyso_stream stream, const kyso_query *q,
                        const kyso_hints *h, store_record_fn fn, void *arg, char *err,
                        size_t errlen);
    /* reindex - see store_reindex; NULL in a backend without indexes. */
    int (*reindex)(kyso_store *s, long long *done, char *err, size_t errlen);
} kyso_store_ops;

/* Every backend's handle starts with this. */
struct kyso_store {
    const kyso_store_ops *ops;
};

/* store_open - open the store named by URI ("file:/var/lib/kyso").  Returns
 * the store, or NULL with "Store URI: reason" in err (unknown scheme, folder
 * missing or not writable). */
kyso_store *store_open(const char *uri, char *err, size_t errlen);

/* store_append - append one record, as one line, to STREAM.  JSON must be a
 * single-line JSON object.  Safe against concurrent writers, in this process
 * and in others, and against the file being rotated away.  Returns 0, or -1
 * with err filled (the record is then not stored: the caller logs it). */
int store_append(kyso_store *s, kyso_stream stream, const char *json,
                 char *err, size_t errlen);

/* store_query / store_follow - through the vtable; -1 with "not supported
 * by this store" when the backend has no such operation. */
int store_query(kyso_store *s, kyso_stream stream, const kyso_query *q,
                store_record_fn fn, void *arg, char *err, size_t errlen);
int store_follow(kyso_store *s, kyso_stream stream, store_record_fn fn, void *arg,
                 volatile int *stop, char *err, size_t errlen);

/* store_query_hinted - store_query with kyso log's filters as hints H
 * (NULL: none): the same contract, where "matching" may include the hints. */
int store_query_hinted(kyso_store *s, kyso_stream stream, const kyso_query *q,
                       const kyso_hints *h, store_record_fn fn, void *arg, char *err,
                       size_t errlen);

/* ---- shared state (Redis); every call below is a no-op or a miss on a
 * store without it (file:).  None of them ever waits longer than the
 * store's timeout (RedisTimeout), and while the server is known to be
 * down, reads fail at once (the server is tried again at most once a
 * second).  Writes are fire and forget: queued for the store's writer,
 * dropped (never spooled) when the server is down or the queue full. */

/* store_cache_get - the value under KEY in cache NS: 1 with *VAL (malloc'd,
 * NUL-terminated, *LEN bytes before the NUL), 0 when absent, -1 when it
 * cannot be known (no shared cache, server down, timeout): a miss. */
int store_cache_get(kyso_store *s, kyso_cache_ns ns, const char *key, char **val, size_t *len);

/* store_cache_put - keep VAL (LEN bytes) under KEY in cache NS for TTL
 * seconds.  Never fails visibly: at worst nothing is kept. */
void store_cache_put(kyso_store *s, kyso_cache_ns ns, const char *key, const char *val,
                     size_t len, unsigned ttl);

/* store_has_shared - does S keep shared state (caches, counters, rate limit)? */
int store_has_shared(const kyso_store *s);

/* store_counter_incr - add N to counter FIELD of organisation ORG on DAY
 * ("YYYY-MM-DD"); Redis: HINCRBY kyso:count:DAY:ORG FIELD N, the key kept
 * 800 days.  Lost when the server is down. */
void store_counter_incr(kyso_store *s, const char *day, const char *org, const char *field,
                        long long n);

/* store_counter_member - add MEMBER to the set of ORG on DAY (the distinct
 * certificates of kyso report; Redis: SADD kyso:certs:DAY:ORG). */
void store_counter_member(kyso_store *s, const char *day, const char *org,
                          const char *member);

/* store_counter_read - FN for every counter and member of ORG on each of
 * the NDAYS DAYS.  0, or -1 with err (not supported, server unreachable). */
int store_counter_read(kyso_store *s, const char *org, const char *const *days, size_t ndays,
                       store_counter_fn fn, void *arg, char *err, size_t errlen);

/* store_rate_allow - one more event of KEY (compared without case) in the
 * fixed window of WINDOW seconds holding NOW: 1 when it is at most the
 * MAX-th of that window, 0 when over, -1 when the store cannot say (no
 * shared state, server down, timeout): the caller then falls back to its
 * own limiter. */
int store_rate_allow(kyso_store *s, const char *key, unsigned max, unsigned window,
                     time_t now);

/* store_set_status - FN (NULL: nobody) is told when the server goes away
 * and comes back; no-op on a store without a server. */
void store_set_status(kyso_store *s, store_status_fn fn, void *arg);

/* store_reindex - build the decision indexes (Redis: kyso:ix:*) for the
 * records stored before any gateway wrote them (an older kyso-milter, or
 * records loaded by hand), so that filtered queries need not scan that
 * part; *DONE (may be NULL) receives how many records were indexed.  Run
 * it once every gateway writes the indexes (doc/redis.md).  0, or -1 with
 * err ("not supported by this store" on a store without indexes). */
int store_reindex(kyso_store *s, long long *done, char *err, size_t errlen);

/* store_close - release the store; NULL is fine. */
void store_close(kyso_store *s);

/* The file backend's ops (lib/store-file.c). */
extern const kyso_store_ops store_file_ops;

#endif
