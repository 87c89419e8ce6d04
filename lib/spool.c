/*
 * spool.c - message bytes in memory, spilling to an unlinked temporary
 * file past a threshold (see spool.h).  The spill file is created with
 * O_TMPFILE (or mkstemp and unlink at once) and mode 0600, so a crash
 * leaves nothing behind and no other user can read mail.  Never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "buf.h"
#include "spool.h"

void spool_init(kyso_spool *s, const char *dir, size_t threshold, size_t max)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->dir = dir ? dir : "/tmp";
    s->threshold = threshold;
    s->max = max;
}

int spool_over(const kyso_spool *s)
{
    return s->seen > s->max;
}

/* spool_open_file - an anonymous file in s->dir; its fd, or -1. */
static int spool_open_file(const kyso_spool *s)
{
    int fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/kyso-spool.XXXXXX", s->dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* spool_spill - move the in-memory bytes to a new file; 0 or -1 (errno). */
static int spool_spill(kyso_spool *s)
{
    if ((s->fd = spool_open_file(s)) < 0)
        return -1;
    if (buf_write_all(s->fd, s->mem, s->len) < 0)
        return -1;
    free(s->mem);
    s->mem = NULL;
    s->cap = 0;
    return 0;
}

int spool_write(kyso_spool *s, const void *data, size_t n, char *err, size_t errlen)
{
    s->seen += n;
    if (s->seen > s->max || s->seen < n)
        return 1;
    if (s->fd < 0 && s->len + n > s->threshold && spool_spill(s) < 0) {
        snprintf(err, errlen, "spool file in %s: %s", s->dir, strerror(errno));
        return -1;
    }
    if (s->fd >= 0) {
        if (buf_write_all(s->fd, data, n) < 0) {
            snprintf(err, errlen, "spool file in %s: %s", s->dir, strerror(errno));
            return -1;
        }
    } else {
        if (s->len + n > s->cap) {
            size_t cap = s->cap ? s->cap : 65536;
            while (cap < s->len + n)
                cap *= 2;
            unsigned char *m = realloc(s->mem, cap);
            if (m == NULL) {
                snprintf(err, errlen, "spool: out of memory");
                return -1;
            }
            s->mem = m;
            s->cap = cap;
        }
        memcpy(s->mem + s->len, data, n);
    }
    s->len += n;
    return 0;
}

int spool_map(kyso_spool *s, const unsigned char **data, size_t *len, char *err, size_t errlen)
{
    *len = s->len;
    if (s->fd < 0) {
        *data = s->mem ? s->mem : (const unsigned char *)"";
        return 0;
    }
    if (s->map == NULL) {
        void *m = mmap(NULL, s->len, PROT_READ, MAP_PRIVATE, s->fd, 0);
        if (m == MAP_FAILED) {
            snprintf(err, errlen, "spool: mmap of %zu bytes: %s", s->len, strerror(errno));
            return -1;
        }
        s->map = m;
    }
    *data = s->map;
    return 0;
}

void spool_free(kyso_spool *s)
{
    if (s->map)
        munmap(s->map, s->len);
    if (s->fd >= 0)
        close(s->fd);
    free(s->mem);
    spool_init(s, s->dir, s->threshold, s->max);
}
