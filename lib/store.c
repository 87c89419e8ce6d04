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

/* Every backend this build has; store-redis.c adds its ops here. */
static const kyso_store_ops *const store_backends[] = {
    &store_file_ops,
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

/* store_open - see store.h.  The backend's reason is prefixed with
 * "Store URI: "; an unknown scheme names itself and the supported ones. */
kyso_store *store_open(const char *uri, char *err, size_t errlen)
{
    char schemes[128], reason[512] = "";
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
            snprintf(err, errlen, "Store %s: %s", uri, reason);
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

/* store_close - see store.h. */
void store_close(kyso_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}
