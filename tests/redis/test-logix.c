/*
 * test-logix.c - a driver for the decision indexes of the Redis store
 * (doc/redis.md, "Indexes"); tests/redis/run-redis.sh and
 * bench/store/run-redis.sh run it against a redis-server they started.
 *
 *   test-logix append URI FILE [FIRST [COUNT]]
 *       store_append each line of FILE (a decision record) from line FIRST
 *       (0-based), COUNT of them (all by default), through the store's
 *       writer as the milter does, then close the store (which waits for
 *       the writer).  Prints "# appended=N seconds=S rate=R/s".
 *       (Older records are indexed with "kyso reindex".)
 *
 * Exit 0 on success, 1 on failure (reason on stderr), 77 on bad usage;
 * without arguments (make check) it says it skips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

/* secs - monotonic seconds. */
static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* open_or_die - the store of URI, or exit 1. */
static kyso_store *open_or_die(const char *uri)
{
    char err[512];
    kyso_store *s = store_open(uri, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "test-logix: %s\n", err);
        exit(1);
    }
    return s;
}

/* cmd_append - see the header. */
static int cmd_append(const char *uri, const char *path, long first, long count)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL, err[512];
    size_t cap = 0;
    long i = 0, n = 0;
    ssize_t len;
    if (fp == NULL) {
        perror(path);
        return 1;
    }
    kyso_store *s = open_or_die(uri);
    double t0 = secs();
    int rc = 0;
    while (rc == 0 && (count < 0 || n < count) && (len = getline(&line, &cap, fp)) > 0) {
        if (i++ < first)
            continue;
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (store_append(s, STREAM_DECISIONS, line, err, sizeof err) < 0) {
            fprintf(stderr, "test-logix: append: %s\n", err);
            rc = 1;
        }
        n++;
    }
    store_close(s);
    double dt = secs() - t0;
    printf("# appended=%ld seconds=%.3f rate=%.0f/s\n", n, dt, dt > 0 ? (double)n / dt : 0.0);
    free(line);
    fclose(fp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 1) {            /* run by make check on its own */
        printf("1..0 # SKIP driver of tests/redis/run-redis.sh\n");
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "append") == 0)
        return cmd_append(argv[2], argv[3], argc > 4 ? atol(argv[4]) : 0,
                          argc > 5 ? atol(argv[5]) : -1);
    fprintf(stderr, "usage: test-logix append URI FILE [FIRST [COUNT]]\n");
    return 77;
}
