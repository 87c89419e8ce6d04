/*
 * store.c - the storage front end: picks the backend from the scheme of a
 * store URI ("file:/var/lib/kyso") and calls through its ops.  Checks that
 * a record is one line of JSON object before any backend sees it.
 *
 * Never prints, never writes anything itself, and never lets a record with
 * a line break through: one record must stay one line of the log.
 */
#include <stdio.h>
#include <string.h>

#include "store.h"

/* The Redis backend's two schemes (lib/store-redis.c). */
extern const kyso_store_ops store_redis_ops, store_sentinel_ops;

/* Every backend this build has. */
static const kyso_store_ops *const store_backends[] = {
    &store_file_ops,
    &store_redis_ops,
    &store_sentinel_ops,
};
#define NBACKENDS (sizeof store_backends / sizeof store_backends[0])

/* store_list_schemes - "file, redis" into S (for error messages). */
static void store_list_schemes(char *s, size_t len)
{
    size_t pos = 0;
    s[0] = '\0';
    for (size_t i = 0; i < NBACKENDS && pos < len; i++) {
        int n = snprintf(s + pos, len - pos, "%s%s:", i ? ", " : "",
                         store_backends[i]->scheme);
        if (n < 0)
            break;
        pos += (size_t)n;
    }
}

/* store_uri_shown - URI as it may appear in a message: in a "scheme://"
 * URI the password ("user:SECRET@", or all of "SECRET@") becomes "***" and
 * the options ("?...") are left out.  Returns OUT. */
static const char *store_uri_shown(const char *uri, char *out, size_t len)
{
    const char *host = strstr(uri, "//"), *at = NULL, *colon = NULL;
    size_t end = host != NULL ? strcspn(uri, "?") : strlen(uri);
    if (host != NULL && (size_t)(host - uri) < end) {
        host += 2;
        for (const char *p = host; p < uri + end && *p != '/'; p++)
            if (*p == '@')
                at = p;
        if (at != NULL)
            colon = memchr(host, ':', (size_t)(at - host));
    }
    if (at == NULL)
        snprintf(out, len, "%.*s", (int)end, uri);
    else                            /* keep "user:" when there is one */
        snprintf(out, len, "%.*s%s***%.*s", (int)((colon ? colon : host) - uri), uri,
                 colon ? ":" : "", (int)(uri + end - at), at);
    return out;
}

/* store_open - see store.h.  The backend's reason is prefixed with
 * "Store URI: " (URI without password or options); an unknown scheme names
 * itself and the supported ones. */
kyso_store *store_open(const char *uri, char *err, size_t errlen)
{
    char schemes[128], reason[512] = "", shown[512];
    store_list_schemes(schemes, sizeof schemes);
    const char *colon = uri ? strchr(uri, ':') : NULL;
    if (colon == NULL || colon == uri) {
        snprintf(err, errlen, "Store %s: no scheme; write one of %s followed by its "
                 "argument, e.g. file:/var/lib/kyso", uri ? uri : "(null)", schemes);
        return NULL;
    }
    size_t n = (size_t)(colon - uri);
    for (size_t i = 0; i < NBACKENDS; i++) {
        const kyso_store_ops *ops = store_backends[i];
        if (strlen(ops->scheme) != n || strncmp(ops->scheme, uri, n) != 0)
            continue;
        kyso_store *s = ops->open(colon + 1, reason, sizeof reason);
        if (s == NULL)
            snprintf(err, errlen, "Store %s: %s", store_uri_shown(uri, shown, sizeof shown),
                     reason);
        return s;
    }
    snprintf(err, errlen, "Store %s: scheme \"%.*s\" is not supported by this build "
             "(supported: %s)", uri, (int)n, uri, schemes);
    return NULL;
}

/* store_append - see store.h.  A record that is not a single-line JSON
 * object (or a stream that does not exist) is refused before the backend. */
int store_append(kyso_store *s, kyso_stream stream, const char *json,
                 char *err, size_t errlen)
{
    if (s == NULL || json == NULL) {
        snprintf(err, errlen, "store_append: no %s", s == NULL ? "store" : "record");
        return -1;
    }
    if (stream != STREAM_DECISIONS && stream != STREAM_AUDIT) {
        snprintf(err, errlen, "store_append: no stream %d", (int)stream);
        return -1;
    }
    if (json[0] != '{' || strpbrk(json, "\r\n") != NULL) {
        snprintf(err, errlen, "store_append: the record is not a JSON object on one line");
        return -1;
    }
    return s->ops->append(s, stream, json, err, errlen);
}

/* store_query - see store.h.  Missing arguments are refused before the
 * backend is called. */
int store_query(kyso_store *s, kyso_stream stream, const kyso_query *q,
                store_record_fn fn, void *arg, char *err, size_t errlen)
{
    if (s == NULL || q == NULL || fn == NULL) {
        snprintf(err, errlen, "store_query: no %s", s == NULL ? "store" : q == NULL
                 ? "query" : "callback");
        return -1;
    }
    if (stream != STREAM_DECISIONS && stream != STREAM_AUDIT) {
        snprintf(err, errlen, "store_query: no stream %d", (int)stream);
        return -1;
    }
    if (s->ops->query == NULL) {
        snprintf(err, errlen, "store_query: reading back is not supported by this store "
                 "(%s:)", s->ops->scheme);
        return -1;
    }
    return s->ops->query(s, stream, q, fn, arg, err, errlen);
}

/* store_query_hinted - see store.h: the backend's query_hinted when it has
 * one and there are hints, else store_query. */
int store_query_hinted(kyso_store *s, kyso_stream stream, const kyso_query *q,
                       const kyso_hints *h, store_record_fn fn, void *arg, char *err,
                       size_t errlen)
{
    if (h == NULL || s == NULL || q == NULL || fn == NULL || s->ops->query_hinted == NULL
        || (stream != STREAM_DECISIONS && stream != STREAM_AUDIT))
        return store_query(s, stream, q, fn, arg, err, errlen);
    return s->ops->query_hinted(s, stream, q, h, fn, arg, err, errlen);
}

/* store_follow - see store.h.  A NULL STOP is refused: it could not end. */
int store_follow(kyso_store *s, kyso_stream stream, store_record_fn fn, void *arg,
                 volatile int *stop, char *err, size_t errlen)
{
    if (s == NULL || fn == NULL || stop == NULL) {
        snprintf(err, errlen, "store_follow: no %s", s == NULL ? "store" : fn == NULL
                 ? "callback" : "stop flag");
        return -1;
    }
    if (stream != STREAM_DECISIONS && stream != STREAM_AUDIT) {
        snprintf(err, errlen, "store_follow: no stream %d", (int)stream);
        return -1;
    }
    if (s->ops->follow == NULL) {
        snprintf(err, errlen, "store_follow: following is not supported by this store "
                 "(%s:)", s->ops->scheme);
        return -1;
    }
    return s->ops->follow(s, stream, fn, arg, stop, err, errlen);
}

/* store_cache_get - see store.h: -1 without a shared cache. */
int store_cache_get(kyso_store *s, kyso_cache_ns ns, const char *key, char **val, size_t *len)
{
    if (s == NULL || s->ops->cache_get == NULL || key == NULL)
        return -1;
    return s->ops->cache_get(s, ns, key, val, len);
}

/* store_cache_put - see store.h. */
void store_cache_put(kyso_store *s, kyso_cache_ns ns, const char *key, const char *val,
                     size_t len, unsigned ttl)
{
    if (s != NULL && s->ops->cache_put != NULL && key != NULL && val != NULL && ttl > 0)
        s->ops->cache_put(s, ns, key, val, len, ttl);
}

/* store_has_shared - see store.h. */
int store_has_shared(const kyso_store *s)
{
    return s != NULL && s->ops->counter_incr != NULL;
}

/* store_counter_incr - see store.h. */
void store_counter_incr(kyso_store *s, const char *day, const char *org, const char *field,
                        long long n)
{
    if (store_has_shared(s) && day && org && field && n != 0)
        s->ops->counter_incr(s, day, org, field, n);
}

/* store_counter_member - see store.h. */
void store_counter_member(kyso_store *s, const char *day, const char *org,
                          const char *member)
{
    if (s != NULL && s->ops->counter_member != NULL && day && org && member)
        s->ops->counter_member(s, day, org, member);
}

/* store_counter_read - see store.h. */
int store_counter_read(kyso_store *s, const char *org, const char *const *days, size_t ndays,
                       store_counter_fn fn, void *arg, char *err, size_t errlen)
{
    if (s == NULL || s->ops->counter_read == NULL) {
        snprintf(err, errlen, "this store keeps no counters (%s:); counters need Redis",
                 s ? s->ops->scheme : "no store");
        return -1;
    }
    return s->ops->counter_read(s, org, days, ndays, fn, arg, err, errlen);
}

/* store_rate_allow - see store.h: -1 without shared state. */
int store_rate_allow(kyso_store *s, const char *key, unsigned max, unsigned window,
                     time_t now)
{
    if (s == NULL || s->ops->rate_allow == NULL || key == NULL || window == 0)
        return -1;
    return s->ops->rate_allow(s, key, max, window, now);
}

/* store_set_status - see store.h. */
void store_set_status(kyso_store *s, store_status_fn fn, void *arg)
{
    if (s != NULL && s->ops->set_status != NULL)
        s->ops->set_status(s, fn, arg);
}

/* store_reindex - see store.h. */
int store_reindex(kyso_store *s, long long *done, char *err, size_t errlen)
{
    if (done)
        *done = 0;
    if (s == NULL || s->ops->reindex == NULL) {
        snprintf(err, errlen, "not supported by this store");
        return -1;
    }
    return s->ops->reindex(s, done, err, errlen);
}

/* store_close - see store.h. */
void store_close(kyso_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}
