/*
 * test-store-redis.c - the driver that tests/redis/run-redis.sh runs against
 * real redis-server processes it starts; alone (no arguments) it has
 * nothing to talk to and skips.  Subcommands:
 *
 *   append URI TAG THREADS PER [DELAY_US [LINGER_MS]]
 *       THREADS threads append PER decision records each (refs TAG-w-i),
 *       then the store is closed.  Prints "# ..." lines with the rate and
 *       the slowest append; exits 1 when any append failed.
 *   check URI TAG THREADS PER
 *       TAP: reading back through store_query, every record of TAG is there
 *       once, and each writer's records are in the order it appended them.
 *   query URI TAG
 *       TAP: time window, ref, limit, needle, the audit stream, follow.
 *   openfail URI SECRET
 *       TAP: store_open refuses URI, and its message does not hold SECRET.
 *   shared URI
 *       TAP: the shared state: cache put and get, absent keys, TTL expiry,
 *       the rate limit (case-blind keys, shared by two store instances),
 *       counters and certificate sets read back.
 *   downup URI DIR N
 *       TAP: a cache entry, then (once DIR/go-down exists: the script has
 *       stopped Redis) N lookups miss within N ms in all, the status
 *       callback said "down" once; then (DIR/go-up: Redis restarted)
 *       lookups hit again within 3 s and the callback said "up" once.
 *       Writes DIR/ready-down and DIR/ready-up when it waits.
 *   counters URI FILE...
 *       the per-organisation counters of every decision record of the
 *       JSON Lines FILEs, through report_counters and the store (kyso
 *       report --from-counters then reads them back).
 *
 * Never talks to a Redis it was not given, never leaves a thread behind.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "store.h"
#include "tap.h"

/* ------------------------------------------------------------- helpers */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* open_or_die - the store at URI, or exit 2 with the reason. */
static kyso_store *open_or_die(const char *uri)
{
    char err[1024];
    kyso_store *s = store_open(uri, err, sizeof err);
    if (s == NULL) {
        printf("# store_open: %s\n", err);
        exit(2);
    }
    return s;
}

/* make_record - a decision-like record of writer W, number I, in BUF. */
static void make_record(char *buf, size_t len, const char *tag, const char *part, int w, int i)
{
    struct timespec ts;         /* the record's own time is now, as the milter writes it */
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", gmtime_r(&ts.tv_sec, &tm));
    snprintf(buf, len, "{\"time\":\"%s.%03ldZ\",\"node\":\"test\",\"tag\":\"%s\","
             "\"ref\":\"%s%s-%d-%d\",\"w\":%d,\"i\":%d,\"action\":\"accept\","
             "\"subject\":\"Ky so \\\"van ban\\\" %d\"}", when, ts.tv_nsec / 1000000, tag,
             tag, part, w, i, w, i, i);
}

/* ------------------------------------------------------------- append */

typedef struct writer {
    kyso_store *s;
    const char *tag;
    int w, per, delay_us, failed;
    long long max_us;
} writer;

static void *writer_run(void *arg)
{
    writer *wr = arg;
    char rec[512], err[512];
    for (int i = 0; i < wr->per; i++) {
        make_record(rec, sizeof rec, wr->tag, "", wr->w, i);
        long long t0 = mono_us();
        if (store_append(wr->s, STREAM_DECISIONS, rec, err, sizeof err) < 0) {
            if (wr->failed++ == 0)
                printf("# append failed: %s\n", err);
        }
        long long dt = mono_us() - t0;
        if (dt > wr->max_us)
            wr->max_us = dt;
        if (wr->delay_us > 0)
            usleep((useconds_t)wr->delay_us);
    }
    return NULL;
}

static int cmd_append(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    int nt = atoi(argv[4]), per = atoi(argv[5]);
    int delay = argc > 6 ? atoi(argv[6]) : 0, linger = argc > 7 ? atoi(argv[7]) : 0;
    kyso_store *s = open_or_die(argv[2]);
    writer *w = calloc((size_t)nt, sizeof *w);
    pthread_t *t = calloc((size_t)nt, sizeof *t);
    long long t0 = mono_us(), max_us = 0;
    int failed = 0;
    for (int i = 0; i < nt; i++) {
        w[i] = (writer){ s, argv[3], i, per, delay, 0, 0 };
        pthread_create(&t[i], NULL, writer_run, &w[i]);
    }
    for (int i = 0; i < nt; i++) {
        pthread_join(t[i], NULL);
        failed += w[i].failed;
        max_us = w[i].max_us > max_us ? w[i].max_us : max_us;
    }
    long long t1 = mono_us();
    if (linger > 0)
        usleep((useconds_t)linger * 1000);
    store_close(s);
    long long t2 = mono_us();
    double secs = (double)(t1 - t0) / 1e6;
    printf("# appended %d records in %.3f s (%.0f/s), slowest append %lld us, close %lld ms\n",
           nt * per, secs, secs > 0 ? nt * per / secs : 0.0, max_us,
           (t2 - t1 - linger * 1000LL) / 1000);
    printf("max_append_us=%lld failed=%d\n", max_us, failed);
    free(w);
    free(t);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------- check */

typedef struct seen {
    int nw, per;
    int *next;                  /* per writer: the i expected next */
    int count, dup_or_order, foreign;
    char tag[64];
} seen;

/* json_int - the integer after "KEY": in J, or -1. */
static int json_int(const char *j, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(j, pat);
    return p ? atoi(p + strlen(pat)) : -1;
}

static int check_one(const char *json, size_t len, void *arg)
{
    seen *sn = arg;
    (void)len;
    char pat[96];
    snprintf(pat, sizeof pat, "\"tag\":\"%s\"", sn->tag);
    if (strstr(json, pat) == NULL) {
        sn->foreign++;
        return 0;
    }
    int w = json_int(json, "w"), i = json_int(json, "i");
    sn->count++;
    if (w < 0 || w >= sn->nw || i != sn->next[w])
        sn->dup_or_order++;
    else
        sn->next[w]++;
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    seen sn = { atoi(argv[4]), atoi(argv[5]), NULL, 0, 0, 0, "" };
    char err[1024], needle[96];
    snprintf(sn.tag, sizeof sn.tag, "%s", argv[3]);
    snprintf(needle, sizeof needle, "\"tag\":\"%s\"", argv[3]);
    sn.next = calloc((size_t)sn.nw, sizeof *sn.next);
    kyso_store *s = open_or_die(argv[2]);
    kyso_query q = { 0, 0, NULL, needle, 0 };
    int rc = store_query(s, STREAM_DECISIONS, &q, check_one, &sn, err, sizeof err);
    ok(rc == 0, "%s: store_query reads the stream back%s%s", argv[3], rc ? ": " : "",
       rc ? err : "");
    ok(sn.count == sn.nw * sn.per, "%s: %d records read back, %d appended", argv[3], sn.count,
       sn.nw * sn.per);
    ok(sn.dup_or_order == 0, "%s: no record twice or out of its writer's order (%d bad)",
       argv[3], sn.dup_or_order);
    int complete = 1;
    for (int w = 0; w < sn.nw; w++)
        complete &= sn.next[w] == sn.per;
    ok(complete, "%s: every writer's records all there, in order", argv[3]);
    ok(sn.foreign == 0, "%s: the needle kept out other records (%d)", argv[3], sn.foreign);
    store_close(s);
    free(sn.next);
    return tap_done();
}

/* ------------------------------------------------------------- query */

typedef struct got {
    char refs[64][64];
    int n, total;
} got;

/* collect - keep the "ref" of each record handed over, in order. */
static int collect(const char *json, size_t len, void *arg)
{
    got *g = arg;
    (void)len;
    const char *p = strstr(json, "\"ref\":\"");
    g->total++;
    if (p && g->n < 64) {
        p += 7;
        size_t n = strcspn(p, "\"");
        snprintf(g->refs[g->n++], 64, "%.*s", (int)(n < 63 ? n : 63), p);
    }
    return 0;
}

/* append_phase - open, append COUNT records of PART, close (so that they
 * are in Redis when this returns). */
static void append_phase(const char *uri, const char *tag, const char *part, int count,
                         kyso_stream stream)
{
    kyso_store *s = open_or_die(uri);
    char rec[512], err[512];
    for (int i = 0; i < count; i++) {
        make_record(rec, sizeof rec, tag, part, 0, i);
        if (store_append(s, stream, rec, err, sizeof err) < 0)
            printf("# append: %s\n", err);
    }
    store_close(s);
}

/* run_query - store_query with the given filters into G (zeroed first). */
static int run_query(kyso_store *s, kyso_stream st, long long since, long long until,
                     const char *ref, const char *needle, size_t limit, got *g)
{
    char err[512];
    kyso_query q = { since, until, ref, needle, limit };
    memset(g, 0, sizeof *g);
    int rc = store_query(s, st, &q, collect, g, err, sizeof err);
    if (rc < 0)
        printf("# store_query: %s\n", err);
    return rc;
}

/* refs_are - G holds exactly the refs TAG+PARTS[k]-0-IDX[k], in order. */
static int refs_are(const got *g, const char *tag, const char *const *parts, const int *idx, int n)
{
    char want[64];
    if (g->n != n)
        return 0;
    for (int k = 0; k < n; k++) {
        snprintf(want, sizeof want, "%s%s-0-%d", tag, parts[k], idx[k]);
        if (strcmp(g->refs[k], want) != 0)
            return 0;
    }
    return 1;
}

typedef struct follower {
    kyso_store *s;
    volatile int stop;
    got g;
    int rc;
    char err[512];
} follower;

/* collect_shared - collect, for a follower: another thread polls g->n
 * (only this one writes it). */
static int collect_shared(const char *json, size_t len, void *arg)
{
    got *g = arg;
    int n = g->n;
    const char *p = strstr(json, "\"ref\":\"");
    (void)len;
    g->total++;
    if (p && n < 64) {
        p += 7;
        size_t k = strcspn(p, "\"");
        snprintf(g->refs[n], 64, "%.*s", (int)(k < 63 ? k : 63), p);
        __atomic_store_n(&g->n, n + 1, __ATOMIC_RELEASE);
    }
    return 0;
}

static void *follow_run(void *arg)
{
    follower *f = arg;
    f->rc = store_follow(f->s, STREAM_DECISIONS, collect_shared, &f->g, &f->stop, f->err,
                         sizeof f->err);
    return NULL;
}

/* check_follow - a follower sees the 10 records appended after it started. */
static void check_follow(const char *uri, const char *tag)
{
    follower f;
    memset(&f, 0, sizeof f);
    f.s = open_or_die(uri);
    pthread_t t;
    pthread_create(&t, NULL, follow_run, &f);
    usleep(500000);
    append_phase(uri, tag, "f", 10, STREAM_DECISIONS);
    for (int i = 0; i < 50 && __atomic_load_n(&f.g.n, __ATOMIC_ACQUIRE) < 10; i++)
        usleep(100000);
    long long t0 = mono_us();
    __atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    long long stop_ms = (mono_us() - t0) / 1000;
    const char *parts[10];
    int idx[10];
    for (int i = 0; i < 10; i++)
        parts[i] = "f", idx[i] = i;
    ok(f.rc == 0, "follow returns 0 when stopped%s%s", f.rc ? ": " : "", f.rc ? f.err : "");
    ok(refs_are(&f.g, tag, parts, idx, 10) && f.g.total == 10,
       "follow saw the 10 new records in order (%d)", f.g.total);
    ok(stop_ms < 2500, "follow noticed STOP within a poll (%lld ms)", stop_ms);
    store_close(f.s);
}

/* check_windows - time window, ref, and the audit stream kept apart.  The
 * middle phase "b" was appended between T1 and T2. */
static void check_windows(kyso_store *s, const char *tag, const char *needle,
                          long long t1, long long t2)
{
    got g;
    char ref[64];
    const char *b7[7] = { "b", "b", "b", "b", "b", "b", "b" }, *one[1] = { "b" };
    int i7[7] = { 0, 1, 2, 3, 4, 5, 6 }, i3[1] = { 3 };
    ok(run_query(s, STREAM_DECISIONS, t1, t2, NULL, needle, 0, &g) == 0
       && refs_are(&g, tag, b7, i7, 7), "since..until: the 7 records of the middle phase (%d)",
       g.n);
    ok(run_query(s, STREAM_DECISIONS, t1, 0, NULL, needle, 0, &g) == 0 && g.n == 10,
       "since alone: the last two phases, 10 records (%d)", g.n);
    ok(run_query(s, STREAM_DECISIONS, 0, t2, NULL, needle, 0, &g) == 0 && g.n == 12,
       "until alone: the first two phases, 12 records (%d)", g.n);
    snprintf(ref, sizeof ref, "%sb-0-3", tag);
    ok(run_query(s, STREAM_DECISIONS, 0, 0, ref, NULL, 0, &g) == 0
       && refs_are(&g, tag, one, i3, 1), "ref: exactly the one record (%d)", g.n);
    ok(run_query(s, STREAM_DECISIONS, 0, 0, "KS-NOSUCHREF", NULL, 0, &g) == 0 && g.n == 0,
       "ref that does not exist: nothing (%d)", g.n);
    ok(run_query(s, STREAM_DECISIONS, now_ms() + 3600000, 0, NULL, needle, 0, &g) == 0
       && g.n == 0, "since in the future: nothing, no error");
    ok(run_query(s, STREAM_AUDIT, 0, 0, NULL, needle, 0, &g) == 0 && g.n == 2,
       "the audit stream holds its 2 records, apart from decisions (%d)", g.n);
}

/* check_limits - "the last N", alone and within the window T1..T2. */
static void check_limits(kyso_store *s, const char *tag, const char *needle,
                         long long t1, long long t2)
{
    got g;
    const char *last4p[4] = { "b", "c", "c", "c" }, *last2p[2] = { "b", "b" };
    int last4i[4] = { 6, 0, 1, 2 }, last2i[2] = { 5, 6 };
    ok(run_query(s, STREAM_DECISIONS, 0, 0, NULL, needle, 4, &g) == 0
       && refs_are(&g, tag, last4p, last4i, 4), "limit 4: the last four, oldest first");
    ok(run_query(s, STREAM_DECISIONS, 0, 0, NULL, needle, 100, &g) == 0 && g.n == 15
       && strstr(g.refs[0], "a-0-0") && strstr(g.refs[14], "c-0-2"),
       "limit above the count: all 15, oldest first (%d)", g.n);
    ok(run_query(s, STREAM_DECISIONS, t1, t2, NULL, needle, 2, &g) == 0
       && refs_are(&g, tag, last2p, last2i, 2), "limit within a window: its last two");
}

/* cmd_query - three phases of decisions (5, 7, 3) with pauses between
 * them, two audit records, then the queries and follow. */
static int cmd_query(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const char *uri = argv[2], *tag = argv[3];
    char needle[96];
    snprintf(needle, sizeof needle, "\"tag\":\"%s\"", tag);
    append_phase(uri, tag, "a", 5, STREAM_DECISIONS);
    usleep(30000);
    long long t1 = now_ms();
    usleep(30000);
    append_phase(uri, tag, "b", 7, STREAM_DECISIONS);
    usleep(30000);
    long long t2 = now_ms();
    usleep(30000);
    append_phase(uri, tag, "c", 3, STREAM_DECISIONS);
    append_phase(uri, tag, "audit", 2, STREAM_AUDIT);
    kyso_store *s = open_or_die(uri);
    check_windows(s, tag, needle, t1, t2);
    check_limits(s, tag, needle, t1, t2);
    store_close(s);
    check_follow(uri, tag);
    return tap_done();
}

/* ------------------------------------------------------------- shared */

/* cache_wait - store_cache_get of KEY until it answers 1 (at most 2 s);
 * the value in *VAL (freed by the caller), or NULL. */
static char *cache_wait(kyso_store *s, const char *key)
{
    char *val = NULL;
    size_t len;
    for (int i = 0; i < 200; i++) {
        if (store_cache_get(s, CACHE_VERIFY, key, &val, &len) == 1)
            return val;
        usleep(10000);
    }
    return NULL;
}

typedef struct counts_got {
    long long n;
    int member;
} counts_got;

static int on_count(size_t day, const char *name, long long value, void *arg)
{
    counts_got *g = arg;
    if (day == 1 && value >= 0 && strcmp(name, "records") == 0)
        g->n += value;
    if (day == 1 && value < 0 && strcmp(name, "01ABC\x1f" "CN=CA") == 0)
        g->member = 1;
    return 0;
}

static int cmd_shared(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    kyso_store *a = open_or_die(argv[2]), *b = open_or_die(argv[2]);
    char key[64], *val = NULL, err[256];
    size_t len = 0;
    snprintf(key, sizeof key, "t%lld", now_ms());
    ok(store_has_shared(a), "the Redis store keeps shared state");
    ok(store_cache_get(a, CACHE_VERIFY, key, &val, &len) == 0, "an absent key: 0 (a miss)");
    store_cache_put(a, CACHE_VERIFY, key, "{\"x\":1}", 7, 60);
    val = cache_wait(b, key);
    ok(val && strcmp(val, "{\"x\":1}") == 0, "put by one store, found by another");
    free(val);
    store_cache_put(a, CACHE_REVOCATION, key, "\x30\x00\x01", 3, 60);
    usleep(100000);
    val = NULL;
    ok(store_cache_get(b, CACHE_REVOCATION, key, &val, &len) == 1 && len == 3
       && memcmp(val, "\x30\x00\x01", 3) == 0, "the revocation cache keeps binary values");
    free(val);
    strcat(key, "-ttl");
    store_cache_put(a, CACHE_VERIFY, key, "v", 1, 1);
    val = cache_wait(a, key);
    ok(val != NULL, "an entry with a TTL of 1 s is there at first");
    free(val);
    sleep(2);
    ok(store_cache_get(a, CACHE_VERIFY, key, &val, &len) == 0, "and gone 2 s later");
    time_t now = time(NULL);
    int allowed = 0, denied = 0;
    for (int i = 0; i < 5; i++) {
        int r = store_rate_allow(i % 2 ? a : b, i % 2 ? key : "X", 3, 3600, now);
        (void)r;
    }
    for (int i = 0; i < 5; i++) {
        int r = store_rate_allow(i % 2 ? a : b, i % 2 ? "Sender@Example.GOV.vn"
                                 : "sender@example.gov.vn", 3, 3600, now);
        allowed += r == 1;
        denied += r == 0;
    }
    ok(allowed == 3 && denied == 2, "rate limit 3: two stores, any case: 3 allowed, 2 denied "
       "(%d, %d)", allowed, denied);
    store_counter_incr(a, "2031-01-02", "test.gov.vn", "records", 2);
    store_counter_incr(b, "2031-01-02", "test.gov.vn", "records", 3);
    store_counter_member(a, "2031-01-02", "test.gov.vn", "01ABC\x1f" "CN=CA");
    store_close(a);
    store_close(b);
    a = open_or_die(argv[2]);
    const char *days[] = { "2031-01-01", "2031-01-02" };
    counts_got g = { 0, 0 };
    int rc = store_counter_read(a, "test.gov.vn", days, 2, on_count, &g, err, sizeof err);
    ok(rc == 0 && g.n == 5 && g.member, "counters of two stores add up, the set is read back "
       "(%lld)", g.n);
    store_close(a);
    return tap_done();
}

/* ------------------------------------------------------------- downup */

static int ups, downs;

static void on_status(void *arg, int up, const char *why)
{
    (void)arg;
    printf("# status: %s%s%s\n", up ? "up" : "down", up ? "" : ": ", up ? "" : why);
    if (up)
        ups++;
    else
        downs++;
}

/* wait_file - until DIR/NAME exists (at most 30 s); 0 or -1. */
static int wait_file(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    for (int i = 0; i < 3000; i++) {
        if (access(p, F_OK) == 0)
            return 0;
        usleep(10000);
    }
    return -1;
}

/* touch - create DIR/NAME. */
static void touch(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
}

static int cmd_downup(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    kyso_store *s = open_or_die(argv[2]);
    const char *dir = argv[3];
    int n = atoi(argv[4]), miss = 0;
    char key[64], *val;
    size_t len;
    store_set_status(s, on_status, NULL);
    snprintf(key, sizeof key, "du%lld", now_ms());
    store_cache_put(s, CACHE_VERIFY, key, "v", 1, 60);
    val = cache_wait(s, key);
    ok(val != NULL, "Redis up: the entry is found");
    free(val);
    touch(dir, "ready-down");
    if (wait_file(dir, "go-down") < 0)
        return 1;
    long long t0 = mono_us();
    for (int i = 0; i < n; i++) {
        val = NULL;
        miss += store_cache_get(s, CACHE_VERIFY, key, &val, &len) < 0;
        free(val);
        store_cache_put(s, CACHE_VERIFY, key, "w", 1, 60);
    }
    long long us = mono_us() - t0;
    printf("# %d lookups with Redis stopped: %.1f ms in all (%.1f us each)\n", n, us / 1e3,
           (double)us / n);
    ok(miss == n, "Redis stopped: every lookup misses (%d of %d)", miss, n);
    ok(us < n * 1000LL, "and %d lookups take less than %d ms in all (%.1f ms)", n, n, us / 1e3);
    ok(downs == 1 && ups == 0, "the status callback said \"down\" once (%d, %d)", downs, ups);
    touch(dir, "ready-up");
    if (wait_file(dir, "go-up") < 0)
        return 1;
    int back = 0;
    for (int i = 0; i < 300 && !back; i++) {
        val = NULL;
        back = store_cache_get(s, CACHE_VERIFY, key, &val, &len) >= 0;
        free(val);
        if (!back)
            usleep(10000);
    }
    ok(back, "Redis restarted: lookups answer again within 3 s");
    usleep(1500000);                /* time for the writer to reconnect too */
    ok(downs == 1 && ups == 1, "the status callback said \"up\" once, \"down\" still once "
       "(%d, %d)", downs, ups);
    store_close(s);
    return tap_done();
}

/* ------------------------------------------------------------- counters */

static void sink_incr(void *arg, const char *day, const char *org, const char *field,
                      long long n)
{
    store_counter_incr(arg, day, org, field, n);
}

static void sink_member(void *arg, const char *day, const char *org, const char *member)
{
    store_counter_member(arg, day, org, member);
}

static int cmd_counters(int argc, char **argv)
{
    char *line = NULL, err[256];
    size_t cap = 0, records = 0, skipped = 0;
    kyso_store *s = open_or_die(argv[2]);
    report_counter_sink k = { sink_incr, sink_member, s };
    for (int i = 3; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        ssize_t n;
        while (f && (n = getline(&line, &cap, f)) > 0) {
            if (report_counters(line, (size_t)n, &k, err, sizeof err) < 0) {
                skipped++;
                continue;
            }
            if (++records % 200 == 0) {     /* close flushes: stay under the queue bound */
                store_close(s);
                k.arg = s = open_or_die(argv[2]);
            }
        }
        if (f)
            fclose(f);
    }
    store_close(s);
    free(line);
    printf("# counters of %zu records kept, %zu lines skipped\n", records, skipped);
    return 0;
}

/* ------------------------------------------------------------- openfail */

static int cmd_openfail(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    char err[1024] = "";
    kyso_store *s = store_open(argv[2], err, sizeof err);
    ok(s == NULL, "store_open refuses it");
    printf("# %s\n", err);
    ok(strstr(err, argv[3]) == NULL, "the message does not show the password");
    ok(strncmp(err, "Store ", 6) == 0 && strlen(err) > 20, "the message says what is wrong");
    store_close(s);
    return tap_done();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        printf("1..0 # SKIP needs the Redis servers that tests/redis/run-redis.sh starts\n");
        return 0;
    }
    int rc = strcmp(argv[1], "append") == 0 ? cmd_append(argc, argv)
           : strcmp(argv[1], "check") == 0 ? cmd_check(argc, argv)
           : strcmp(argv[1], "query") == 0 ? cmd_query(argc, argv)
           : strcmp(argv[1], "openfail") == 0 ? cmd_openfail(argc, argv)
           : strcmp(argv[1], "shared") == 0 ? cmd_shared(argc, argv)
           : strcmp(argv[1], "downup") == 0 ? cmd_downup(argc, argv)
           : strcmp(argv[1], "counters") == 0 && argc > 3 ? cmd_counters(argc, argv) : 2;
    if (rc == 2)
        fprintf(stderr, "usage: test-store-redis append|check|query|openfail|shared|downup|"
                "counters URI ...\n");
    return rc;
}
