/*
 * buf.c - growable byte buffer, JSON string escaping, bounded file reads,
 * writing a whole buffer to a descriptor.  Never prints; every failure is
 * reported to the caller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include "buf.h"

/* buf_grow - make room for N more bytes plus a NUL; -1 on overflow or OOM. */
static int buf_grow(kyso_buf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (n > SIZE_MAX / 2 - b->len - 1) {
        b->oom = 1;
        return -1;
    }
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int buf_append(kyso_buf *b, const void *data, size_t n)
{
    if (buf_grow(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

void *buf_extend(kyso_buf *b, size_t n)
{
    if (buf_grow(b, n) < 0)
        return NULL;
    char *at = b->p + b->len;
    b->len += n;
    b->p[b->len] = '\0';
    return at;
}

int buf_printf(kyso_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_grow(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* utf8_seq_len - length of the valid UTF-8 sequence at S (max N bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80) return 1;
    else if ((s[0] & 0xE0) == 0xC0 && s[0] >= 0xC2) len = 2;
    else if ((s[0] & 0xF0) == 0xE0) len = 3;
    else if ((s[0] & 0xF8) == 0xF0 && s[0] <= 0xF4) len = 4;
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

int buf_append_json_string(kyso_buf *b, const char *s)
{
    if (s == NULL)
        return buf_append(b, "null", 4);
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    buf_append(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_seq_len(p + i, n - i);
            if (l == 0) {
                buf_append(b, "\xEF\xBF\xBD", 3);
                l = 1;
            } else {
                buf_append(b, p + i, l);
            }
            i += l;
        }
    }
    return buf_append(b, "\"", 1);
}

char *buf_steal(kyso_buf *b)
{
    char *p = b->oom ? NULL : b->p;
    if (b->oom)
        free(b->p);
    if (p == NULL && !b->oom)
        p = strdup("");
    memset(b, 0, sizeof *b);
    return p;
}

void buf_free(kyso_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int buf_map_file(const char *path, size_t max, const unsigned char **out, size_t *len)
{
    static const unsigned char empty[1];
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    if ((uintmax_t)st.st_size > max) {
        close(fd);
        return -2;
    }
    if (st.st_size == 0) {
        close(fd);
        *out = empty;
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        errno = e;
        return -1;
    }
    *out = p;
    *len = (size_t)st.st_size;
    return 0;
}

void buf_unmap_file(const unsigned char *p, size_t len)
{
    if (p != NULL && len > 0)
        munmap((void *)p, len);
}

int buf_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}
