/*
 * spool.h - a message as it arrives through the milter: kept in memory up
 * to a threshold, then spilled to an unlinked temporary file, and mapped
 * as one contiguous buffer at the end for the MIME walk.  Bounded by a
 * maximum size: bytes past it are counted, not kept.  Never prints.
 */
#ifndef KYSO_SPOOL_H
#define KYSO_SPOOL_H

#include <stddef.h>

typedef struct kyso_spool {
    unsigned char *mem;             /* in-memory part while small */
    size_t len, cap;                /* bytes kept, allocated */
    size_t seen;                    /* bytes offered, kept or not */
    size_t threshold, max;
    int fd;                         /* spill file, or -1 */
    const char *dir;                /* where spill files go (not owned) */
    unsigned char *map;             /* spool_map() result while mapped */
} kyso_spool;

/* spool_init - an empty spool spilling to DIR past THRESHOLD bytes and
 * keeping at most MAX bytes. */
void spool_init(kyso_spool *s, const char *dir, size_t threshold, size_t max);

/* spool_write - append N bytes.  Returns 0; 1 when the spool is over MAX
 * (the bytes are counted but dropped: spool_over() tells); -1 with err on
 * an I/O or memory failure (the spool is then unusable: tempfail). */
int spool_write(kyso_spool *s, const void *data, size_t n, char *err, size_t errlen);

/* spool_over - 1 when more than MAX bytes were offered. */
int spool_over(const kyso_spool *s);

/* spool_map - the kept bytes as one read-only buffer, valid until
 * spool_free.  Returns 0, or -1 with err (mmap failure). */
int spool_map(kyso_spool *s, const unsigned char **data, size_t *len, char *err, size_t errlen);

/* spool_free - release memory, mapping and file; the spool is empty and
 * may be used again with the same settings. */
void spool_free(kyso_spool *s);

#endif
