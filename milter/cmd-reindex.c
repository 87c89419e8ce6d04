/*
 * cmd-reindex.c - "kyso reindex": build the Redis decision indexes
 * (kyso:ix:*) for the records written before any gateway kept them, so
 * that a filtered "kyso log" reads those through the indexes too
 * (doc/redis.md, "Older records").  Run once, after every gateway has been
 * upgraded.  A store without indexes (file:) says so and exits 2.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cmd-reindex.h"
#include "cmd-store.h"

/* reindex_usage - the synopsis on FP. */
static void reindex_usage(FILE *fp)
{
    fputs("usage: kyso reindex [-c CONFIG | --store URI]\n"
          "Indexes the decision records of a Redis store written before the gateways\n"
          "kept indexes (doc/redis.md).  Exit 0 when done, 2 on error.  See kyso(1).\n", fp);
}

/* reindex_now - seconds on the monotonic clock. */
static double reindex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_reindex(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "store", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = CMD_DEFAULT_CONFIG, *uri = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'S': uri = optarg; break;
        case 'h': reindex_usage(stdout); return 0;
        default: reindex_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        reindex_usage(stderr);
        return 2;
    }
    kyso_store *s = cmd_open_store("kyso reindex", config, uri, CMD_STORE_WRITE);
    if (s == NULL)
        return 2;
    char err[512];
    long long done = 0;
    double t0 = reindex_now();
    int rc = store_reindex(s, &done, err, sizeof err);
    double secs = reindex_now() - t0;
    store_close(s);
    if (rc < 0) {
        fprintf(stderr, "kyso reindex: %s%s\n", err, strstr(err, "not supported")
                ? " (only redis:// and sentinel:// stores keep indexes; a file store needs "
                  "none)" : "");
        return 2;
    }
    printf("kyso reindex: %lld decision records indexed in %.1f s\n", done, secs);
    return 0;
}
