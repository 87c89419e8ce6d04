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

typedef struct kyso_store_ops {
    const char *scheme;         /* "file", "redis" */
    /* open - parse what follows "scheme:" and get ready; NULL with err. */
    kyso_store *(*open)(const char *rest, char *err, size_t errlen);
    /* append - add one JSON object (no newline) to STREAM; 0, or -1 with err. */
    int (*append)(kyso_store *s, kyso_stream stream, const char *json,
                  char *err, size_t errlen);
    void (*close)(kyso_store *s);
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

/* store_close - release the store; NULL is fine. */
void store_close(kyso_store *s);

/* The file backend's ops (lib/store-file.c). */
extern const kyso_store_ops store_file_ops;

#endif
