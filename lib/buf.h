/*
 * buf.h - a growable byte buffer, and mapping whole files with a size
 * bound.  Used for JSON output and for reading documents; never prints.
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
/* buf_extend - make the buffer N bytes longer and return where those N
 * bytes start, for the caller to fill (their contents are undefined until
 * then); NULL, with b->oom set, on out of memory. */
void *buf_extend(kyso_buf *b, size_t n);
/* buf_printf - append formatted text; -1 (and b->oom) on failure. */
int buf_printf(kyso_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_append_json_string - append S as a JSON string (quoted, escaped;
 * invalid UTF-8 bytes become U+FFFD); NULL appends null. */
int buf_append_json_string(kyso_buf *b, const char *s);
/* buf_steal - the NUL-terminated contents (caller frees), or NULL when an
 * append failed; b is reset either way. */
char *buf_steal(kyso_buf *b);
void buf_free(kyso_buf *b);

/* buf_write_all - write N bytes of P to FD, looping on short writes and
 * EINTR.  Returns 0, or -1 with errno set (ENOSPC when write returns 0). */
int buf_write_all(int fd, const void *p, size_t n);

/* buf_map_file - map all of PATH read-only into *out if it is at most MAX
 * bytes (no copy: documents are read at memory speed).  Returns 0; -1 with
 * errno set on I/O error; -2 when the file is larger than MAX.  Release
 * with buf_unmap_file(*out, *len); the file must not be truncated while
 * mapped (a reader of files that others may rewrite should copy). */
int buf_map_file(const char *path, size_t max, const unsigned char **out, size_t *len);
void buf_unmap_file(const unsigned char *p, size_t len);

#endif
