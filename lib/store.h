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

/* store_close - release the store; NULL is fine. */
void store_close(kyso_store *s);

/* The file backend's ops (lib/store-file.c). */
extern const kyso_store_ops store_file_ops;

#endif
