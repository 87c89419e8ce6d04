/*
 * fuzz-json.c - libFuzzer target for the record reader: lib/json.c (the
 * strict JSON parser, its accessors and the RFC 3339 time reader) and the
 * read side of the file store (lib/store-file.c: binary search by time,
 * backward and forward block scans, reference and needle search) over a
 * decisions.jsonl holding the input.  Any bytes must parse or give an
 * error, and any file must be scanned without a crash, a hang or a leak.
 *
 * The first byte chooses: even, the rest is one JSON text; odd, the rest
 * is a store file, queried four ways (its other bits pick the window).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* walk - touch every value under V the way kyso log does. */
static size_t walk(const json_value *v, unsigned depth)
{
    size_t n = 1;
    long long ms;
    if (v->type == JSON_STRING || v->type == JSON_NUMBER)
        n += json_time_ms(v->s, v->n, &ms) == 0;
    for (size_t i = 0; (v->type == JSON_ARRAY || v->type == JSON_OBJECT) && i < v->n; i++) {
        n += walk(&v->items[i], depth + 1);
        if (v->type == JSON_OBJECT)
            n += json_get(v, v->keys[i]) == &v->items[i];
        else
            n += json_at(v, i) == &v->items[i];
    }
    n += json_get_string(v, "time") != NULL;
    return n;
}

/* fuzz_parse - the input as one JSON text. */
static void fuzz_parse(const uint8_t *data, size_t size)
{
    char err[128];
    json_doc *d = json_parse((const char *)data, size, 0, 0, err, sizeof err);
    if (d != NULL && walk(json_root(d), 0) == 0)
        abort();
    json_free(d);
    long long ms;
    json_time_ms((const char *)data, size < 64 ? size : 64, &ms);
}

/* count - a store callback that parses what it gets, as kyso log does. */
static int count(const char *json, size_t len, void *arg)
{
    char err[64];
    json_doc *d = json_parse(json, len, 0, 0, err, sizeof err);
    json_free(d);
    (*(size_t *)arg)++;
    return 0;
}

static char fuzz_dir[64];

/* fuzz_cleanup - at exit, the private folder goes (it is empty then). */
static void fuzz_cleanup(void)
{
    rmdir(fuzz_dir);
}

/* fuzz_store - the input as decisions.jsonl of a private folder. */
static void fuzz_store(uint8_t sel, const uint8_t *data, size_t size)
{
    static char path[96];
    const char *dir = fuzz_dir;
    char err[512];
    if (fuzz_dir[0] == '\0') {
        snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/kyso-fuzz-json.%ld", (long)getpid());
        mkdir(fuzz_dir, 0700);
        atexit(fuzz_cleanup);
        snprintf(path, sizeof path, "%s/decisions.jsonl", dir);
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return;
    fwrite(data, 1, size, f);
    fclose(f);
    char uri[80];
    snprintf(uri, sizeof uri, "file:%s?ro", dir);
    kyso_store *s = store_open(uri, err, sizeof err);
    if (s == NULL)
        return;
    long long base = 1764460800000LL;      /* 2025-11-30, near the seeds' times */
    kyso_query q[4] = {
        { .limit = 0 },
        { .limit = 3, .needle = "\"reject\"" },
        { .since_ms = base + (long long)(sel >> 1) * 3600000LL * 24, .limit = 0,
          .ref = "KS-2NKD86DZ00FF" },
        { .since_ms = base, .until_ms = base + (long long)(sel >> 1) * 86400000LL * 30,
          .limit = (size_t)(sel >> 4) + 1, .needle = "@example.vn" },
    };
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        store_query(s, STREAM_DECISIONS, &q[i], count, &n, err, sizeof err);
    store_close(s);
    unlink(path);
}

/* LLVMFuzzerTestOneInput - one input: see the top of this file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_store(data[0], data + 1, size - 1);
    else
        fuzz_parse(data + 1, size - 1);
    return 0;
}
