/*
 * buf.h - a growable byte buffer and whole-file reading with a size bound.
 * Used for JSON output and for reading documents; never prints.
 */
#ifndef KYSO_BUF_H
#define KYSO_BUF_H

#include <stddef.h>

typedef struct kyso_buf {
    char *p;
    size_t len, cap;
    int oom;            /* set once an append failed; later appends do nothing */
} kyso_buf;

/* buf_append - append N bytes; on out of memory sets b->oom and returns -1. */
int buf_append(kyso_buf *b, const void *data, size_t n);
/* buf_printf - append formatted text; -1 (and b->oom) on failure. */
int buf_printf(kyso_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_append_json_string - append S as a JSON string (quoted, escaped;
 * invalid UTF-8 bytes become U+FFFD); NULL appends null. */
int buf_append_json_string(kyso_buf *b, const char *s);
/* buf_steal - the NUL-terminated contents (caller frees), or NULL when an
 * append failed; b is reset either way. */
char *buf_steal(kyso_buf *b);
void buf_free(kyso_buf *b);

/* buf_read_file - read all of PATH into *out (malloc'd, NUL-terminated
 * for convenience) if it is at most MAX bytes.  Returns 0; -1 with errno
 * set on I/O error; -2 when the file is larger than MAX. */
int buf_read_file(const char *path, size_t max, unsigned char **out, size_t *len);

#endif
