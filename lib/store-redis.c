/*
 * store-redis.c - the shared store on Redis, "redis://[USER:PASS@]HOST:PORT/DB"
 * or "sentinel://[USER:PASS@]HOST:PORT[,HOST:PORT...]/MASTER", each with
 * optional "?timeout=MS&retention=DAYS&audit_retention=DAYS&spool=DIR&node=NAME
 * &replicas=N" (lib/config.c adds them from RedisTimeout, LogRetention,
 * AuditRetention, RedisSpool and NodeName), and "ro" for a reader (no spool
 * folder needed, appends refused).  Each stream is a Redis Stream,
 * kyso:decisions and kyso:audit, one entry per record: field "n" the node,
 * field "r" the record, ID chosen by Redis (its clock, in ms).
 *
 * Writing: store_append only puts the record in a bounded queue; one writer
 * thread owns the hiredis connection (contexts are not thread-safe) and sends
 * batches.  Each record carries this store's instance id and a sequence
 * number; a small Lua script adds it to the stream only if the instance's
 * high-water mark (key kyso:seq:INSTANCE) is below it, so that a record sent
 * twice (a reply lost when Redis died, a spool replayed after a crash) is
 * stored once.  This is exact only because records of one instance reach
 * Redis in sequence order: the spool always holds older records than the
 * queue, and is replayed first.  With replicas=N (default 1 for sentinel://)
 * a batch counts as stored only once WAIT says N replicas hold it, so that a
 * failover cannot silently drop it.  When Redis cannot be reached, answers
 * with an error, or the queue is full, records go to this instance's spool
 * file DIR/redis-INSTANCE.jsonl (flock'ed while the instance lives); a spool
 * left by an instance that is gone is adopted and replayed by a live one.
 *
 * Reading: store_query and store_follow use a connection of their own.
 *
 * Shared state (caches, counters, the notice rate limit): reads come from
 * mail threads, each taking a connection from a small pool (RS_POOL_MAX
 * idle ones kept) with the RedisTimeout; writes (cache entries, counters)
 * are formatted commands in a second bounded queue that the writer sends
 * after the records, and drops, never spools, while Redis is away.  Once a
 * call has failed, Redis counts as down: reads fail at once and only one
 * of them a second tries again; the writer keeps reconnecting.  Each
 * change between up and down is told once to the status callback.
 *
 * Must never: make store_append wait on Redis; lose a record it accepted
 * (short of a power cut within a second of spooling it, or a spool folder
 * that cannot be written while Redis is away: then store_append fails once
 * the queue is full, and what is queued when the store closes is lost);
 * send one instance's records out of order; print; let SIGPIPE from a dead
 * socket reach the process (the writer blocks all signals, readers block
 * SIGPIPE).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "buf.h"
#include "json.h"
#include "store.h"

/* The two schemes' ops, registered in lib/store.c. */
extern const kyso_store_ops store_redis_ops, store_sentinel_ops;

#define RS_WINDOW_SLACK_MS 60000LL     /* see the window in the query */
#define RS_QUEUE_MAX    10000           /* records waiting in memory */
#define RS_BATCH        256             /* records per pipelined round trip */
#define RS_FLUSH_MS     5000            /* what close waits for the queue */
#define RS_TRIM_MS      60000           /* XTRIM at most this often */
#define RS_ORPHAN_MS    5000            /* look for abandoned spools */
#define RS_BACKOFF_MAX  1000            /* ms between attempts to reconnect */
#define RS_SEQ_TTL      "2592000"       /* high-water mark kept 30 days */
#define RS_PAGE         1000            /* entries per XRANGE page */
#define RS_FOLLOW_GIVEUP_MS 30000       /* follow: unreachable this long -> -1 */
#define RS_GRACE_MS     3000            /* a master alone this long: stop WAITing */
#define DAY_MS          86400000LL
#define RS_POOL_MAX     16              /* idle mail-thread connections kept */
#define RS_OPS_MAX      65536           /* fire-and-forget commands waiting */
#define RS_RETRY_MS     1000            /* a down server is tried again after */
#define RS_COUNT_TTL    "69120000"      /* counters kept 800 days */

/* Adds a record unless this instance already stored one at or past its
 * sequence, then indexes it (decisions): KEYS stream, mark, index marker,
 * domain registry, then the record's index keys (its domain keys first);
 * ARGV seq, node, record, mark TTL, index cut (ms, 0: none), index key TTL
 * (s, 0: none), how many domain keys.  With seq "" it only indexes the
 * existing entry whose ID is ARGV[3] (store_reindex).  Each index key is a
 * sorted set: score the entry's ms, member "MS-" then a letter giving the
 * length of SEQ, then SEQ, so that members of one ms sort as the stream
 * does.  Index writes use pcall: one refused (an ACL without +zadd) moves
 * the marker past the record, so readers scan instead of missing it.
 * Returns 0 (skipped), 1, or -1 (an index write failed). */
static const char rs_script[] =
    "local id\n"
    "if ARGV[1] == '' then id = ARGV[3] else\n"
    "  local hw = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "  if tonumber(ARGV[1]) <= hw then return 0 end\n"
    "  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4])\n"
    "  id = redis.call('XADD', KEYS[1], '*', 'n', ARGV[2], 'r', ARGV[3])\n"
    "end\n"
    "if #KEYS < 4 then return 1 end\n"
    "local ms, seq = string.match(id, '^(%d+)%-(%d+)$')\n"
    "local m = ms .. '-' .. string.char(96 + #seq) .. seq\n"
    "local cut, ttl, nd = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local ok = true\n"
    "for i = 5, #KEYS do\n"
    "  local r = redis.pcall('ZADD', KEYS[i], ms, m)\n"
    "  if type(r) == 'table' and r.err then ok = false end\n"
    "  if cut > 0 then redis.pcall('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. cut) end\n"
    "  if ttl > 0 then redis.pcall('EXPIRE', KEYS[i], ttl) end\n"
    "  if i < 5 + nd then redis.pcall('ZADD', KEYS[4], ms, string.sub(KEYS[i], 16)) end\n"
    "end\n"
    "if ARGV[1] == '' then return ok and 1 or -1 end\n"
    "if ok then redis.pcall('SET', KEYS[3], ms, 'NX')\n"
    "else redis.pcall('SET', KEYS[3], tostring(tonumber(ms) + 1)) end\n"
    "return 1\n";

/* The decision indexes (see doc/redis.md): key prefixes of each filter,
 * the marker (every decision from its ms + 1 on is indexed) and the
 * registry of domains (score: the last time one was seen). */
#define RS_IX_DOMAIN    "kyso:ix:domain:"       /* 15 bytes: the script knows */
#define RS_IX_SENDER    "kyso:ix:sender:"
#define RS_IX_RCPT      "kyso:ix:rcpt:"
#define RS_IX_ACTION    "kyso:ix:action:"
#define RS_IX_REASON    "kyso:ix:reason:"
#define RS_IX_SINCE     "kyso:ix:since"
#define RS_IX_DOMAINS   "kyso:ix:domains"
#define RS_IX_MAXVAL    320             /* longer values are not indexed, nor looked up */
#define RS_IX_MAXUNION  64              /* --domain: at most this many keys merged */
#define RS_IX_PAGE      500             /* members per index page, entries per fetch */

static const char *const rs_stream_key[2] = {
    [STREAM_DECISIONS] = "kyso:decisions",
    [STREAM_AUDIT] = "kyso:audit",
};

typedef struct rs_addr {
    char *host;
    int port;
} rs_addr;

/* What the URI says; read-only once parsed. */
typedef struct rs_conf {
    int sentinel;
    rs_addr *addrs;             /* the server, or the sentinels */
    size_t naddrs;
    char *master;               /* sentinel: the master's name */
    char *user, *pass;          /* AUTH [user] pass when pass is set */
    int db;
    int timeout_ms;
    int retention_days;         /* decisions; 0: never trimmed */
    int audit_days;             /* audit; 0: never trimmed */
    char *spool_dir;
    char *node;
    int replicas;               /* WAIT for this many; 0: do not wait */
    int readonly;               /* "ro": a reader; no spool, no append */
} rs_conf;

typedef struct rs_entry {
    char *rec;
    unsigned long long seq;
    int stream;
} rs_entry;

/* A spool file being written (ours) or replayed (ours, or an orphan). */
typedef struct rs_spool {
    int fd;                     /* -1: none */
    char *path;
    off_t size;                 /* ours: bytes written (under mu) */
    off_t done;                 /* bytes replayed (writer only) */
    int dirty;                  /* ours: written since the last fdatasync */
} rs_spool;

typedef struct redis_store {
    kyso_store base;
    rs_conf cf;
    char inst[17];              /* this instance's id, hex */
    pthread_mutex_t mu;         /* guards everything down to "writer only" */
    pthread_cond_t cv;          /* wakes the writer */
    rs_entry *q;                /* ring of RS_QUEUE_MAX */
    size_t qhead, qlen;
    size_t inflight;            /* head entries the writer is sending */
    int inflight_spooled;       /* ...and an overflow copied them to the spool */
    unsigned long long next_seq;
    int started, stopping;
    pthread_t thread;
    rs_spool own;
    /* writer only */
    redisContext *c;
    char sha[48];
    int next_sentinel;
    char mhost[256];            /* the server connected to */
    int mport;
    int no_replica;             /* sentinel: master alone, WAIT not required */
    long long next_master_check;
    long long next_trim, next_orphan_scan, backoff_ms;
    rs_spool orphan;
    int turn;                   /* alternates queue and orphan */
    char *rbuf;                 /* spool read buffer */
    size_t rcap;
    char names[RS_BATCH][2][256];   /* instance and node of parsed lines */
    char last_err[256];
    /* fire-and-forget commands (caches, counters): a ring under mu */
    char **op_cmd;
    size_t *op_len;
    size_t op_head, op_count;
    char last_expire[512];      /* the key an EXPIRE was queued for last (under mu) */
    /* mail threads' connections */
    pthread_mutex_t pool_mu;
    redisContext *pool[RS_POOL_MAX];
    size_t npool;
    unsigned pool_epoch;        /* bumped when Redis goes down: older ones are dropped */
    int down;                   /* atomic: the last call to Redis failed */
    long long next_try;         /* atomic: monotonic ms when a reader may try again */
    pthread_mutex_t st_mu;      /* guards the status fields below */
    store_status_fn status_fn;
    void *status_arg;
    int told_down;              /* the last change told was "down" */
} redis_store;

/* One record on its way: from the queue or from a spool line. */
typedef struct rs_item {
    const char *inst, *node, *rec;
    size_t len;
    unsigned long long seq;
    int stream;
} rs_item;

/* One command of a mail-thread call or a reader. */
typedef struct rs_cmd {
    int argc;
    const char *argv[8];
    size_t len[8];
} rs_cmd;

static void rs_state(redis_store *s, int up, const char *why);
static int rs_ask_once(redisContext *c, const rs_cmd *cmds, size_t n, redisReply **r,
                       char *why, size_t whylen);
static void rs_arg(rs_cmd *cmd, const char *s, size_t len);
static void rs_send_ops(redis_store *s);
static void rs_ops_drop(redis_store *s);
static void redis_set_status(kyso_store *st, store_status_fn fn, void *arg);

/* ---- small helpers ----------------------------------------------------- */

/* rs_now_ms - CLOCK_REALTIME (for retention) or CLOCK_MONOTONIC in ms. */
static long long rs_now_ms(int monotonic)
{
    struct timespec ts;
    clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rs_tv - MS as a struct timeval. */
static struct timeval rs_tv(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

/* rs_set_err - printf into err when err is not NULL. */
__attribute__((format(printf, 3, 4)))
static void rs_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* rs_name_ok - S non-empty, at most MAX bytes of letters, digits, '-',
 * '.', '_' (node and master names, instance ids). */
static int rs_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z')
            && !(*s >= '0' && *s <= '9') && *s != '-' && *s != '.' && *s != '_')
            return 0;
    return 1;
}

/* rs_drain_sigpipe - consume a SIGPIPE left pending on this thread (where
 * it is blocked) by a write to a dead socket. */
static void rs_drain_sigpipe(void)
{
    sigset_t set;
    struct timespec zero = { 0, 0 };
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
}

/* rs_wait - wait (mu held) up to MS for work or for close. */
static void rs_wait(redis_store *s, long long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* ---- the URI ----------------------------------------------------------- */

/* rs_hexval - the value of hex digit C, or -1. */
static int rs_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* rs_pct_decode - a malloc'd copy of S (N bytes) with %XX decoded; NULL
 * when out of memory or a % escape is malformed or decodes to NUL. */
static char *rs_pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? rs_hexval(s[i + 1]) : -1, lo = hi >= 0 ? rs_hexval(s[i + 2]) : -1;
        if (lo < 0 || (hi | lo) == 0) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

/* rs_parse_int - S (N bytes) as a decimal in [MIN, MAX]; 0 or -1. */
static int rs_parse_int(const char *s, size_t n, long min, long max, long *out)
{
    long v = 0;
    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* rs_parse_userinfo - "USER:PASS" (N bytes, %-escapes allowed) into cf.
 * 0, or -1 with err (never quoting the password). */
static int rs_parse_userinfo(rs_conf *cf, const char *s, size_t n, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL) {
        rs_set_err(err, errlen, "credentials must be USER:PASSWORD@ (or :PASSWORD@ for the "
                   "default user)");
        return -1;
    }
    size_t ul = (size_t)(colon - s);
    cf->user = ul ? rs_pct_decode(s, ul) : NULL;
    cf->pass = rs_pct_decode(colon + 1, n - ul - 1);
    if ((ul && cf->user == NULL) || cf->pass == NULL || cf->pass[0] == '\0') {
        rs_set_err(err, errlen, "bad credentials: empty password or a malformed %%-escape");
        return -1;
    }
    return 0;
}

/* rs_parse_hostport - "HOST[:PORT]" or "[V6]:PORT" (N bytes) into A, with
 * DEFPORT when no port.  0, or -1 with err. */
static int rs_parse_hostport(rs_addr *a, const char *s, size_t n, int defport,
                             char *err, size_t errlen)
{
    const char *h = s, *colon;
    size_t hl;
    long port = defport;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (rb == NULL)
            goto bad;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1 < s + n && rb[1] == ':' ? rb + 1 : NULL;
        if (colon == NULL && rb + 1 != s + n)
            goto bad;
    } else {
        colon = memchr(s, ':', n);
        hl = colon ? (size_t)(colon - s) : n;
    }
    if (colon && rs_parse_int(colon + 1, (size_t)(s + n - colon - 1), 1, 65535, &port) < 0)
        goto bad;
    if (hl == 0 || hl > 253 || memchr(h, '/', hl) || memchr(h, '@', hl))
        goto bad;
    if ((a->host = strndup(h, hl)) == NULL)
        goto bad;
    a->port = (int)port;
    return 0;
bad:
    rs_set_err(err, errlen, "bad server \"%.*s\"; want HOST:PORT, e.g. 127.0.0.1:6379",
               (int)(n > 100 ? 100 : n), s);
    return -1;
}

/* rs_parse_hosts - a comma-separated list of servers (N bytes).  0, or -1. */
static int rs_parse_hosts(rs_conf *cf, const char *s, size_t n, char *err, size_t errlen)
{
    size_t count = 1;
    for (size_t i = 0; i < n; i++)
        count += s[i] == ',';
    if (!cf->sentinel && count > 1) {
        rs_set_err(err, errlen, "redis:// takes one server; use sentinel:// for several");
        return -1;
    }
    if ((cf->addrs = calloc(count, sizeof *cf->addrs)) == NULL) {
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    const char *p = s, *end = s + n;
    while (cf->naddrs < count) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (rs_parse_hostport(&cf->addrs[cf->naddrs], p, (size_t)(e - p),
                              cf->sentinel ? 26379 : 6379, err, errlen) < 0)
            return -1;
        cf->naddrs++;
        p = e + 1;
    }
    return 0;
}

/* The numeric options of the query string and where they go. */
typedef struct rs_numopt {
    const char *name;
    long min, max;
    size_t off;
} rs_numopt;

static const rs_numopt rs_numopts[] = {
    { "timeout", 1, 600000, offsetof(rs_conf, timeout_ms) },
    { "retention", 0, 36500, offsetof(rs_conf, retention_days) },
    { "audit_retention", 0, 36500, offsetof(rs_conf, audit_days) },
    { "replicas", 0, 16, offsetof(rs_conf, replicas) },
};

/* rs_set_option - option KEY = V (decoded) into cf.  0, or -1 with err. */
static int rs_set_option(rs_conf *cf, const char *key, char *v, char *err, size_t errlen)
{
    long num;
    for (size_t i = 0; i < sizeof rs_numopts / sizeof rs_numopts[0]; i++) {
        const rs_numopt *o = &rs_numopts[i];
        if (strcmp(key, o->name) != 0)
            continue;
        if (rs_parse_int(v, strlen(v), o->min, o->max, &num) < 0) {
            rs_set_err(err, errlen, "option %s: want a whole number from %ld to %ld",
                       key, o->min, o->max);
            return -1;
        }
        *(int *)((char *)cf + o->off) = (int)num;
        return 0;
    }
    char **field = strcmp(key, "spool") == 0 ? &cf->spool_dir
                 : strcmp(key, "node") == 0 ? &cf->node : NULL;
    if (field == NULL) {
        rs_set_err(err, errlen, "unknown option \"%.40s\"; known: timeout, retention, "
                   "audit_retention, replicas, spool, node, ro", key);
        return -1;
    }
    if (field == &cf->spool_dir ? v[0] != '/' : !rs_name_ok(v, 253)) {
        rs_set_err(err, errlen, "option %s: want %s", key, field == &cf->spool_dir
                   ? "an absolute folder" : "a host name");
        return -1;
    }
    char *copy = strdup(v);
    if (copy == NULL) {
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

/* rs_parse_option - one "key=value" of the query (N bytes).  0, or -1. */
static int rs_parse_option(rs_conf *cf, const char *s, size_t n, char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', n);
    char key[24];
    if ((n == 2 && memcmp(s, "ro", 2) == 0) || (n == 4 && memcmp(s, "ro=1", 4) == 0)) {
        cf->readonly = 1;
        return 0;
    }
    if (eq == NULL || (size_t)(eq - s) >= sizeof key) {
        rs_set_err(err, errlen, "option \"%.*s\": want KEY=VALUE", (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    memcpy(key, s, (size_t)(eq - s));
    key[eq - s] = '\0';
    char *v = rs_pct_decode(eq + 1, (size_t)(s + n - eq - 1));
    if (v == NULL) {
        rs_set_err(err, errlen, "option %s: bad %%-escape", key);
        return -1;
    }
    int rc = rs_set_option(cf, key, v, err, errlen);
    free(v);
    return rc;
}

/* rs_parse_query - "k=v&k=v" (N bytes).  0, or -1 with err. */
static int rs_parse_query(rs_conf *cf, const char *s, size_t n, char *err, size_t errlen)
{
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e > p && rs_parse_option(cf, p, (size_t)(e - p), err, errlen) < 0)
            return -1;
        p = e + 1;
    }
    return 0;
}

/* rs_parse_path - what follows the servers: "/DB" (redis) or "/MASTER"
 * (sentinel), N bytes.  0, or -1 with err. */
static int rs_parse_path(rs_conf *cf, const char *s, size_t n, char *err, size_t errlen)
{
    long db = 0;
    if (cf->sentinel) {
        if (n < 2 || (cf->master = strndup(s + 1, n - 1)) == NULL || !rs_name_ok(cf->master, 128)) {
            rs_set_err(err, errlen, "name the master after the sentinels, e.g. "
                       "sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster");
            return -1;
        }
        return 0;
    }
    if (n > 1 && rs_parse_int(s + 1, n - 1, 0, 9999, &db) < 0) {
        rs_set_err(err, errlen, "bad database number \"%.*s\"; want /0 to /9999",
                   (int)(n > 20 ? 20 : n - 1), s + 1);
        return -1;
    }
    cf->db = (int)db;
    return 0;
}

/* rs_conf_defaults - documented defaults; 0, or -1 when out of memory. */
static int rs_conf_defaults(rs_conf *cf, int sentinel)
{
    char host[256];
    cf->sentinel = sentinel;
    cf->timeout_ms = 200;
    cf->retention_days = 190;
    cf->replicas = sentinel ? 1 : 0;
    if (gethostname(host, sizeof host) != 0 || !rs_name_ok(host, 253))
        strcpy(host, "localhost");
    cf->node = strdup(host);
    cf->spool_dir = strdup("/var/spool/kyso");
    return cf->node && cf->spool_dir ? 0 : -1;
}

/* rs_conf_parse - REST is what follows "redis:" or "sentinel:".  0, or -1
 * with err (cf then holds what was parsed; free it with rs_conf_free). */
static int rs_conf_parse(rs_conf *cf, const char *rest, int sentinel, char *err, size_t errlen)
{
    if (rs_conf_defaults(cf, sentinel) < 0) {
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    if (strncmp(rest, "//", 2) != 0 || strpbrk(rest, " \t\r\n") != NULL) {
        rs_set_err(err, errlen, "want %s", sentinel ? "sentinel://HOST:PORT[,HOST:PORT...]/MASTER"
                   : "redis://[USER:PASSWORD@]HOST:PORT/DB");
        return -1;
    }
    rest += 2;
    size_t all = strcspn(rest, "?"), auth = strcspn(rest, "/?");
    const char *at = NULL;
    for (const char *p = rest; p < rest + auth; p++)
        if (*p == '@')
            at = p;
    const char *hosts = at ? at + 1 : rest;
    if (at && rs_parse_userinfo(cf, rest, (size_t)(at - rest), err, errlen) < 0)
        return -1;
    if (rs_parse_hosts(cf, hosts, (size_t)(rest + auth - hosts), err, errlen) < 0
        || rs_parse_path(cf, rest + auth, all - auth, err, errlen) < 0)
        return -1;
    if (rest[all] == '?' && rs_parse_query(cf, rest + all + 1, strlen(rest + all + 1),
                                           err, errlen) < 0)
        return -1;
    return 0;
}

/* rs_conf_free - release what rs_conf_parse allocated. */
static void rs_conf_free(rs_conf *cf)
{
    for (size_t i = 0; i < cf->naddrs; i++)
        free(cf->addrs[i].host);
    free(cf->addrs);
    free(cf->master);
    free(cf->user);
    if (cf->pass)
        explicit_bzero(cf->pass, strlen(cf->pass));
    free(cf->pass);
    free(cf->spool_dir);
    free(cf->node);
}

/* ---- connections ------------------------------------------------------- */

/* rs_dial - a connection to HOST:PORT with connect and command timeouts of
 * MS.  The context, or NULL with err. */
static redisContext *rs_dial(const char *host, int port, int ms, char *err, size_t errlen)
{
    redisContext *c = redisConnectWithTimeout(host, port, rs_tv(ms));
    if (c == NULL || c->err) {
        rs_set_err(err, errlen, "%s:%d: %s", host, port, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, rs_tv(ms)) != REDIS_OK) {
        rs_set_err(err, errlen, "%s:%d: cannot set the timeout", host, port);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* rs_call - run ARGV on C; the reply, or NULL with err ("I/O error" or the
 * server's error text; *fatal set to 1 for an error reply). */
static redisReply *rs_call(redisContext *c, int argc, const char **argv, int *fatal,
                           char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL) {
        rs_set_err(err, errlen, "%s: %s", argv[0], c->errstr[0] ? c->errstr : "no answer");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        rs_set_err(err, errlen, "%s: %s", argv[0], r->str);
        if (fatal)
            *fatal = 1;
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* rs_sentinel_ask - ask the sentinel at A for the master's address.
 * 0 with HOST and *port, or -1 with err. */
static int rs_sentinel_ask(const rs_conf *cf, const rs_addr *a, char *host, size_t hostlen,
                           int *port, char *err, size_t errlen)
{
    redisContext *c = rs_dial(a->host, a->port, cf->timeout_ms, err, errlen);
    const char *argv[] = { "SENTINEL", "get-master-addr-by-name", cf->master };
    redisReply *r = c ? rs_call(c, 3, argv, NULL, err, errlen) : NULL;
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(host, hostlen, "%s", r->element[0]->str);
        *port = atoi(r->element[1]->str);
        rc = 0;
    } else if (r) {
        rs_set_err(err, errlen, "sentinel %s:%d knows no master named %s", a->host, a->port,
                   cf->master);
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* rs_find_master - the master's address, asking the sentinels in turn from
 * *next (left at the one that answered).  0, or -1 with the last reason. */
static int rs_find_master(const rs_conf *cf, int *next, char *host, size_t hostlen, int *port,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < cf->naddrs; i++) {
        size_t k = ((size_t)*next + i) % cf->naddrs;
        if (rs_sentinel_ask(cf, &cf->addrs[k], host, hostlen, port, err, errlen) == 0) {
            *next = (int)k;
            return 0;
        }
    }
    return -1;
}

/* rs_login - AUTH, SELECT, and for sentinel:// a check that the server is
 * still a master.  0, or -1 with err; *fatal is set for answers a retry
 * will not change (wrong password, no such database). */
static int rs_login(redisContext *c, const rs_conf *cf, int *fatal, char *err, size_t errlen)
{
    char db[16];
    const char *auth[] = { "AUTH", cf->user ? cf->user : cf->pass, cf->pass };
    const char *sel[] = { "SELECT", db };
    const char *role[] = { "ROLE" };
    redisReply *r;
    if (cf->pass) {
        if ((r = rs_call(c, cf->user ? 3 : 2, auth, fatal, err, errlen)) == NULL)
            return -1;
        freeReplyObject(r);
    }
    snprintf(db, sizeof db, "%d", cf->db);
    if (cf->db != 0) {
        if ((r = rs_call(c, 2, sel, fatal, err, errlen)) == NULL)
            return -1;
        freeReplyObject(r);
    }
    if (!cf->sentinel)
        return 0;
    if ((r = rs_call(c, 1, role, NULL, err, errlen)) == NULL)
        return -1;
    int master = r->type == REDIS_REPLY_ARRAY && r->elements > 0
              && r->element[0]->type == REDIS_REPLY_STRING
              && strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    if (!master)
        rs_set_err(err, errlen, "the server the sentinels name is not a master (yet)");
    return master ? 0 : -1;
}

/* rs_connect - a logged-in connection to the master with timeouts of MS;
 * HOST (256 bytes) and *port say which server it is.  The context, or NULL
 * with err (*fatal as for rs_login). */
static redisContext *rs_connect(const rs_conf *cf, int *next_sentinel, int ms, char *host,
                                int *port, int *fatal, char *err, size_t errlen)
{
    if (cf->sentinel) {
        if (rs_find_master(cf, next_sentinel, host, 256, port, err, errlen) < 0)
            return NULL;
    } else {
        snprintf(host, 256, "%s", cf->addrs[0].host);
        *port = cf->addrs[0].port;
    }
    redisContext *c = rs_dial(host, *port, ms, err, errlen);
    if (c && rs_login(c, cf, fatal, err, errlen) < 0) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

/* ---- the spool --------------------------------------------------------- */

/* rs_spool_close - close SP's file (unlinking it when UNLINK) and forget it. */
static void rs_spool_close(rs_spool *sp, int unlink_it)
{
    if (sp->fd >= 0) {
        if (unlink_it && sp->path)
            unlink(sp->path);
        close(sp->fd);
    }
    free(sp->path);
    memset(sp, 0, sizeof *sp);
    sp->fd = -1;
}

/* rs_spool_create - our spool file, created under a temporary name, locked,
 * then renamed into view (so nobody can take it for an orphan).  Called
 * with mu held.  0, or -1 with err. */
static int rs_spool_create(redis_store *s, char *err, size_t errlen)
{
    rs_spool *sp = &s->own;
    char *tmp = NULL;
    if (sp->fd >= 0)
        return 0;
    if (asprintf(&sp->path, "%s/redis-%s.jsonl", s->cf.spool_dir, s->inst) < 0
        || asprintf(&tmp, "%s/.redis-%s.tmp", s->cf.spool_dir, s->inst) < 0) {
        sp->path = NULL;
        free(tmp);
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    int fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 || rename(tmp, sp->path) < 0) {
        rs_set_err(err, errlen, "RedisSpool %s: %s", tmp, strerror(errno));
        if (fd >= 0) {
            unlink(tmp);
            close(fd);
        }
        free(tmp);
        free(sp->path);
        sp->path = NULL;
        return -1;
    }
    free(tmp);
    sp->fd = fd;
    sp->size = sp->done = 0;
    return 0;
}

/* rs_spool_write - one record as one line at the end of our spool; called
 * with mu held.  A write that fails half way is cut back.  0, or -1 with err
 * (the record is then not in the spool). */
static int rs_spool_write(redis_store *s, const rs_entry *e, char *err, size_t errlen)
{
    if (rs_spool_create(s, err, errlen) < 0)
        return -1;
    char *line = NULL;
    int n = asprintf(&line, "{\"u\":\"%s\",\"q\":%llu,\"s\":\"%c\",\"n\":\"%s\",\"r\":%s}\n",
                     s->inst, e->seq, e->stream == STREAM_AUDIT ? 'a' : 'd', s->cf.node, e->rec);
    if (n < 0) {
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    int rc = buf_write_all(s->own.fd, line, (size_t)n);
    if (rc < 0) {
        rs_set_err(err, errlen, "RedisSpool %s: write: %s", s->own.path, strerror(errno));
        if (ftruncate(s->own.fd, s->own.size) < 0)
            rs_set_err(err, errlen, "RedisSpool %s: write failed and a partial line remains",
                       s->own.path);
    } else {
        s->own.size += n;
        s->own.dirty = 1;
    }
    free(line);
    return rc;
}

/* rs_queue_at - the I-th entry from the head. */
static rs_entry *rs_queue_at(redis_store *s, size_t i)
{
    return &s->q[(s->qhead + i) % RS_QUEUE_MAX];
}

/* rs_queue_pop - drop N entries from the head, freeing their records. */
static void rs_queue_pop(redis_store *s, size_t n)
{
    for (size_t i = 0; i < n && s->qlen > 0; i++) {
        free(rs_queue_at(s, 0)->rec);
        s->qhead = (s->qhead + 1) % RS_QUEUE_MAX;
        s->qlen--;
    }
}

/* rs_queue_to_spool - move up to MAX queue entries, from the head, to the
 * spool, in order; called with mu held and nothing in flight.  Stops at the
 * first write that fails.  Returns how many moved; -1 with err on failure. */
static long rs_queue_to_spool(redis_store *s, size_t max, char *err, size_t errlen)
{
    size_t moved = 0;
    while (moved < max && s->qlen > 0) {
        if (rs_spool_write(s, rs_queue_at(s, 0), err, errlen) < 0)
            return -1;
        rs_queue_pop(s, 1);
        moved++;
    }
    return (long)moved;
}

/* rs_overflow - the queue is full: copy it all to the spool (the entries in
 * flight too, so that order holds whatever their fate), keep only those in
 * flight in memory; called with mu held.  0, or -1 with err. */
static int rs_overflow(redis_store *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->qlen; i++)
        if ((i >= s->inflight || !s->inflight_spooled)
            && rs_spool_write(s, rs_queue_at(s, i), err, errlen) < 0)
            return -1;
    if (s->inflight > 0)
        s->inflight_spooled = 1;
    while (s->qlen > s->inflight) {
        size_t last = (s->qhead + s->qlen - 1) % RS_QUEUE_MAX;
        free(s->q[last].rec);
        s->qlen--;
    }
    return 0;
}

/* ---- parsing spool lines ----------------------------------------------- */

/* rs_expect - skip literal LIT at *p (before END); 0 or -1. */
static int rs_expect(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return -1;
    *p += n;
    return 0;
}

/* rs_token - the bytes up to the next '"' (at most MAX) copied into OUT.
 * 0 with *p past the quote, or -1. */
static int rs_token(const char **p, const char *end, char *out, size_t max)
{
    const char *q = memchr(*p, '"', (size_t)(end - *p));
    if (q == NULL || q == *p || (size_t)(q - *p) >= max)
        return -1;
    memcpy(out, *p, (size_t)(q - *p));
    out[q - *p] = '\0';
    *p = q + 1;
    return 0;
}

/* rs_parse_line - one spool line (N bytes, no newline) into IT, pointing
 * into the line; INST and NODE receive copies.  0, or -1 when malformed. */
static int rs_parse_line(const char *line, size_t n, rs_item *it, char *inst, size_t instlen,
                         char *node, size_t nodelen)
{
    const char *p = line, *end = line + n;
    char *num_end, kind;
    if (rs_expect(&p, end, "{\"u\":\"") < 0 || rs_token(&p, end, inst, instlen) < 0
        || !rs_name_ok(inst, instlen - 1) || rs_expect(&p, end, ",\"q\":") < 0)
        return -1;
    errno = 0;
    it->seq = strtoull(p, &num_end, 10);
    if (num_end == p || num_end >= end || errno != 0)
        return -1;
    p = num_end;
    if (rs_expect(&p, end, ",\"s\":\"") < 0 || p >= end)
        return -1;
    kind = *p++;
    if ((kind != 'd' && kind != 'a') || rs_expect(&p, end, "\",\"n\":\"") < 0
        || rs_token(&p, end, node, nodelen) < 0 || rs_expect(&p, end, ",\"r\":{") < 0
        || end[-1] != '}')
        return -1;
    it->stream = kind == 'a' ? STREAM_AUDIT : STREAM_DECISIONS;
    it->inst = inst;
    it->node = node;
    it->rec = p - 1;
    it->len = (size_t)(end - 1 - it->rec);
    return 0;
}

/* ---- the decision indexes: which keys a record goes to ------------------ */

/* The index keys of one decision; the first ndom are domain keys. */
typedef struct rs_ix {
    char **keys;
    size_t n, cap, ndom;
} rs_ix;

/* rs_ix_free - the keys, and IX emptied. */
static void rs_ix_free(rs_ix *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        free(ix->keys[i]);
    free(ix->keys);
    memset(ix, 0, sizeof *ix);
}

/* rs_ix_key - PREFIX then the N bytes at V (ASCII lower case when LOWER)
 * into OUT (RS_IX_MAXVAL + 32 bytes).  0, or -1 when V is too long to be
 * indexed.  The writer and the reader both build keys here. */
static int rs_ix_key(char *out, const char *prefix, const char *v, size_t n, int lower)
{
    size_t pl = strlen(prefix);
    if (n > RS_IX_MAXVAL)
        return -1;
    memcpy(out, prefix, pl);
    for (size_t i = 0; i < n; i++)
        out[pl + i] = (char)(lower && v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
    out[pl + n] = '\0';
    return 0;
}

/* rs_ix_add - PREFIX+V (N bytes) into IX unless already there or too long
 * (never indexed then: a reader does not look it up either).  0, or -1
 * when out of memory. */
static int rs_ix_add(rs_ix *ix, const char *prefix, const char *v, size_t n, int lower)
{
    char key[RS_IX_MAXVAL + 32];
    if (rs_ix_key(key, prefix, v, n, lower) < 0)
        return 0;
    for (size_t i = 0; i < ix->n; i++)
        if (strcmp(ix->keys[i], key) == 0)
            return 0;
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 16;
        char **k = realloc(ix->keys, cap * sizeof *k);
        if (k == NULL)
            return -1;
        ix->keys = k;
        ix->cap = cap;
    }
    return (ix->keys[ix->n++] = strdup(key)) ? 0 : -1;
}

/* rs_ix_common - is V a value too common to index (found at once by a
 * scan): the action "accept", the reason "ok"? */
static int rs_ix_common(const char *prefix, const char *v)
{
    return (strcmp(prefix, RS_IX_ACTION) == 0 && strcmp(v, "accept") == 0)
        || (strcmp(prefix, RS_IX_REASON) == 0 && strcmp(v, "ok") == 0);
}

/* rs_ix_addrs - calls FN on env_from (when a string) and on each string
 * of rcpts of record R, with IS_RCPT.  Stops at the first -1. */
static int rs_ix_addrs(const json_value *r, rs_ix *ix,
                       int (*fn)(rs_ix *, const char *, int))
{
    const char *from = json_get_string(r, "env_from");
    const json_value *rc = json_get(r, "rcpts");
    if (from && fn(ix, from, 0) < 0)
        return -1;
    for (size_t i = 0; rc && rc->type == JSON_ARRAY && i < rc->n; i++)
        if (rc->items[i].type == JSON_STRING && fn(ix, rc->items[i].s, 1) < 0)
            return -1;
    return 0;
}

/* rs_ix_domain_of - the domain of address A (after its last '@'). */
static int rs_ix_domain_of(rs_ix *ix, const char *a, int is_rcpt)
{
    const char *at = strrchr(a, '@');
    (void)is_rcpt;
    return at && at[1] ? rs_ix_add(ix, RS_IX_DOMAIN, at + 1, strlen(at + 1), 1) : 0;
}

/* rs_ix_addr_of - the sender or recipient key of address A. */
static int rs_ix_addr_of(rs_ix *ix, const char *a, int is_rcpt)
{
    return rs_ix_add(ix, is_rcpt ? RS_IX_RCPT : RS_IX_SENDER, a, strlen(a), 1);
}

/* rs_ix_value - the key of the string member NAME of R under PREFIX,
 * unless absent or too common. */
static int rs_ix_value(rs_ix *ix, const json_value *r, const char *name, const char *prefix)
{
    const char *v = json_get_string(r, name);
    return v && !rs_ix_common(prefix, v) ? rs_ix_add(ix, prefix, v, strlen(v), 0) : 0;
}

/* rs_ix_build - the index keys of decision record REC (LEN bytes) into IX,
 * with kyso log's meaning of each filter (milter/cmd-log.c): the domains
 * of the sender and of each recipient, exact and in lower case (a reader
 * finds subdomains in the registry); the sender and each recipient in
 * lower case; action and would; reason.  A record that does not parse has
 * no keys.  0, or -1 when out of memory. */
static int rs_ix_build(const char *rec, size_t len, rs_ix *ix)
{
    char err[64];
    memset(ix, 0, sizeof *ix);
    json_doc *d = json_parse(rec, len, 0, 0, err, sizeof err);
    if (d == NULL || json_root(d)->type != JSON_OBJECT) {
        json_free(d);
        return 0;
    }
    const json_value *r = json_root(d);
    int rc = rs_ix_addrs(r, ix, rs_ix_domain_of);
    ix->ndom = ix->n;
    if (rc == 0)
        rc = rs_ix_addrs(r, ix, rs_ix_addr_of);
    if (rc == 0)
        rc = rs_ix_value(ix, r, "action", RS_IX_ACTION);
    if (rc == 0)
        rc = rs_ix_value(ix, r, "would", RS_IX_ACTION);
    if (rc == 0)
        rc = rs_ix_value(ix, r, "reason", RS_IX_REASON);
    json_free(d);
    if (rc < 0)
        rs_ix_free(ix);
    return rc;
}

/* rs_ix_cut - the index cut (ms) and key TTL (s) of a retention of DAYS,
 * as text; "0" for both when nothing is trimmed. */
static void rs_ix_cut(int days, char *cut, char *ttl, size_t len)
{
    snprintf(cut, len, "%lld", days ? rs_now_ms(0) - (long long)days * DAY_MS : 0);
    snprintf(ttl, len, "%lld", days ? ((long long)days + 1) * 86400 : 0);
}

/* rs_append_script - queue on C the script call for one record: SEQ ("" to
 * index the existing entry ID given as REC), NODE, REC (LEN bytes), with
 * the index keys IX (NULL: none, the audit stream).  REDIS_OK or not. */
static int rs_append_script(redisContext *c, const char *sha, int stream, const char *mark,
                            const char *seq, const char *node, const char *rec, size_t len,
                            const rs_ix *ix, int days)
{
    char nkeys[16], cut[24], ttl[24], ndom[24];
    size_t nk = ix ? 4 + ix->n : 2, argc = 3 + nk + (ix ? 7 : 4), k = 0;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    int rc = REDIS_ERR;
    if (argv && lens) {
        snprintf(nkeys, sizeof nkeys, "%zu", nk);
        rs_ix_cut(days, cut, ttl, sizeof cut);
        snprintf(ndom, sizeof ndom, "%zu", ix ? ix->ndom : 0);
        argv[k++] = "EVALSHA", argv[k++] = sha, argv[k++] = nkeys;
        argv[k++] = rs_stream_key[stream], argv[k++] = mark;
        if (ix) {
            argv[k++] = RS_IX_SINCE, argv[k++] = RS_IX_DOMAINS;
            for (size_t i = 0; i < ix->n; i++)
                argv[k++] = ix->keys[i];
        }
        argv[k++] = seq, argv[k++] = node, argv[k++] = rec, argv[k++] = RS_SEQ_TTL;
        if (ix)
            argv[k++] = cut, argv[k++] = ttl, argv[k++] = ndom;
        for (size_t i = 0; i < argc; i++)       /* the record is not NUL-terminated */
            lens[i] = argv[i] == rec ? len : strlen(argv[i]);
        rc = redisAppendCommandArgv(c, (int)argc, argv, lens);
    }
    free(argv);
    free(lens);
    return rc;
}

/* ---- the writer: sending ----------------------------------------------- */

/* rs_disconnect - drop the writer's connection after a failure; the next
 * attempt to connect waits a little longer each time (up to RS_BACKOFF_MAX). */
static void rs_disconnect(redis_store *s)
{
    redisFree(s->c);
    s->c = NULL;
    rs_drain_sigpipe();
    rs_state(s, 0, s->last_err);
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 50;
    if (s->backoff_ms > RS_BACKOFF_MAX)
        s->backoff_ms = RS_BACKOFF_MAX;
}

/* rs_append_item - queue the script call for IT on the writer's pipeline,
 * a decision with its index keys. */
static int rs_append_item(redis_store *s, const rs_item *it, char *keybuf, size_t keylen)
{
    char seq[24];
    rs_ix ix;
    int decision = it->stream == STREAM_DECISIONS;
    snprintf(seq, sizeof seq, "%llu", it->seq);
    snprintf(keybuf, keylen, "kyso:seq:%s", it->inst);
    if (decision && rs_ix_build(it->rec, it->len, &ix) < 0)
        return REDIS_ERR;
    int rc = rs_append_script(s->c, s->sha, it->stream, keybuf, seq, it->node, it->rec,
                              it->len, decision ? &ix : NULL, s->cf.retention_days);
    if (decision)
        rs_ix_free(&ix);
    return rc;
}

/* rs_wait_ms - the WAIT timeout: below the socket's, so that the answer
 * comes before the read gives up; 1 ms when the master is known alone. */
static int rs_wait_ms(const redis_store *s)
{
    if (s->no_replica)
        return 1;
    return s->cf.timeout_ms > 4 ? s->cf.timeout_ms * 3 / 4 : 1;
}

/* rs_wait_read - read the answer to a WAIT of rs_wait_ms(s): Redis times
 * blocked clients out only every 100 ms (hz 10), so the socket waits that
 * much longer than for other answers.  The reply, or NULL on I/O error. */
static redisReply *rs_wait_read(redis_store *s)
{
    redisReply *r = NULL;
    redisSetTimeout(s->c, rs_tv(s->cf.timeout_ms + rs_wait_ms(s) + 200));
    if (redisGetReply(s->c, (void **)&r) != REDIS_OK)
        r = NULL;
    redisSetTimeout(s->c, rs_tv(s->cf.timeout_ms));
    if (r == NULL)
        snprintf(s->last_err, sizeof s->last_err, "WAIT: %s", s->c->errstr);
    return r;
}

/* rs_wait_reply - what WAIT answered in R: -1 unusable, 0 enough replicas
 * (or the master is known alone), 1 too few.  Leaves no_replica once
 * enough replicas are back. */
static int rs_wait_reply(redis_store *s, const redisReply *r)
{
    if (r->type != REDIS_REPLY_INTEGER)
        return -1;
    if (r->integer >= s->cf.replicas) {
        s->no_replica = 0;
        return 0;
    }
    if (s->no_replica)
        return 0;
    snprintf(s->last_err, sizeof s->last_err, "WAIT: %lld of %d replicas hold the records",
             r->integer, s->cf.replicas);
    return 1;
}

/* rs_send - the N items in one pipelined round trip, then WAIT for the
 * replicas when asked.  0 when every item is stored (or was already);
 * 1 when they are on the master but fewer replicas than asked hold them;
 * -1 with s->last_err otherwise (some may be stored: a resend is harmless). */
static int rs_send(redis_store *s, const rs_item *items, size_t n)
{
    char key[64];
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (rs_append_item(s, &items[i], key, sizeof key) != REDIS_OK)
            return -1;
    if (s->cf.replicas > 0)
        redisAppendCommand(s->c, "WAIT %d %d", s->cf.replicas, rs_wait_ms(s));
    for (size_t i = 0; i < n + (s->cf.replicas > 0); i++) {
        redisReply *r = NULL;
        if (i == n)
            r = rs_wait_read(s);
        else if (redisGetReply(s->c, (void **)&r) != REDIS_OK)
            r = NULL;
        if (r == NULL) {
            if (i < n)
                snprintf(s->last_err, sizeof s->last_err, "I/O: %s", s->c->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(s->last_err, sizeof s->last_err, "%s", r->str);
            rc = -1;
        } else if (i == n && rc == 0) {
            rc = rs_wait_reply(s, r);
        }
        freeReplyObject(r);
    }
    return rc;
}

/* rs_is_master - do the sentinels name the server we are connected to as
 * the master?  1 yes, 0 no, -1 no sentinel answered. */
static int rs_is_master(redis_store *s)
{
    char host[256], why[256];
    int port;
    if (rs_find_master(&s->cf, &s->next_sentinel, host, sizeof host, &port, why,
                       sizeof why) < 0)
        return -1;
    return strcmp(host, s->mhost) == 0 && port == s->mport;
}

/* rs_settle - WAIT came back short after a batch: are the records safe
 * enough?  Only with sentinel://: while the sentinels name this server as
 * the master, WAIT again for up to RS_GRACE_MS (a failover in progress shows
 * in that time); if no replica catches up and the server is still the
 * master, the records count as stored and the writer stops requiring
 * replicas until one is back (no_replica).  0 stored, -1 not. */
static int rs_settle(redis_store *s)
{
    long long end = rs_now_ms(1) + RS_GRACE_MS;
    if (!s->cf.sentinel)
        return -1;
    for (;;) {
        if (rs_is_master(s) != 1)
            return -1;
        redisReply *r = NULL;
        if (redisAppendCommand(s->c, "WAIT %d %d", s->cf.replicas, rs_wait_ms(s)) == REDIS_OK)
            r = rs_wait_read(s);
        int w = r ? rs_wait_reply(s, r) : -1;
        if (r)
            freeReplyObject(r);
        if (w <= 0)
            return w;
        if (rs_now_ms(1) >= end) {
            s->no_replica = 1;
            s->next_master_check = rs_now_ms(1) + 1000;
            return 0;
        }
    }
}

/* rs_send_sure - rs_send, and rs_settle when WAIT came back short; on
 * failure the connection is dropped.  0 stored, -1 not. */
static int rs_send_sure(redis_store *s, const rs_item *items, size_t n)
{
    int rc = rs_send(s, items, n);
    if (rc == 1)
        rc = rs_settle(s);
    if (rc != 0) {
        rs_disconnect(s);
        return -1;
    }
    s->backoff_ms = 0;
    return 0;
}

/* rs_send_queue - send the head of the queue; on success drop it.  On
 * failure the entries stay (they go to the spool if Redis stays away). */
static void rs_send_queue(redis_store *s)
{
    rs_item items[RS_BATCH];
    pthread_mutex_lock(&s->mu);
    size_t n = s->qlen < RS_BATCH ? s->qlen : RS_BATCH;
    for (size_t i = 0; i < n; i++) {
        rs_entry *e = rs_queue_at(s, i);
        items[i] = (rs_item){ s->inst, s->cf.node, e->rec, strlen(e->rec), e->seq, e->stream };
    }
    s->inflight = n;
    s->inflight_spooled = 0;
    pthread_mutex_unlock(&s->mu);
    int rc = rs_send_sure(s, items, n);
    pthread_mutex_lock(&s->mu);
    if (rc == 0 || s->inflight_spooled)
        rs_queue_pop(s, n);
    s->inflight = 0;
    s->inflight_spooled = 0;
    pthread_mutex_unlock(&s->mu);
}

/* rs_parse_chunk - up to RS_BATCH complete lines of BUF (N bytes) into
 * ITEMS; malformed lines are skipped.  Returns the count, *used the bytes
 * of the lines looked at. */
static long rs_parse_chunk(redis_store *s, const char *buf, size_t n, rs_item *items,
                           size_t *used)
{
    const char *p = buf, *end = buf + n, *nl;
    long k = 0;
    while (k < RS_BATCH && p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (rs_parse_line(p, (size_t)(nl - p), &items[k], s->names[k][0], 40,
                          s->names[k][1], 256) == 0)
            k++;
        p = nl + 1;
    }
    *used = (size_t)(p - buf);
    return k;
}

/* rs_read_lines - read SP from sp->done up to LIMIT and parse up to
 * RS_BATCH lines into ITEMS, growing the buffer for a long line.  Returns
 * the count and *used; *tail is set when all that is left is a line
 * without its newline (cut by a crash).  -1 on a read error. */
static long rs_read_lines(redis_store *s, rs_spool *sp, off_t limit, rs_item *items,
                          size_t *used, int *tail)
{
    size_t left = (size_t)(limit - sp->done);
    *used = 0;
    *tail = 0;
    for (;;) {
        size_t want = left < s->rcap ? left : s->rcap, got = 0;
        while (got < want) {
            ssize_t r = pread(sp->fd, s->rbuf + got, want - got, sp->done + (off_t)got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
            got += (size_t)r;
        }
        long k = rs_parse_chunk(s, s->rbuf, got, items, used);
        if (*used > 0 || got == 0)
            return k;
        if (got == left) {
            *tail = 1;
            return 0;
        }
        char *nb = realloc(s->rbuf, s->rcap * 2);
        if (nb == NULL)
            return -1;
        s->rbuf = nb;
        s->rcap *= 2;
    }
}

/* rs_replay_step - send the next batch of SP's lines up to LIMIT.  0 on
 * progress or nothing to do; -1 when Redis failed (connection dropped);
 * -2 when the spool could not be read. */
static int rs_replay_step(redis_store *s, rs_spool *sp, off_t limit)
{
    rs_item items[RS_BATCH];
    size_t used;
    int tail;
    if (s->rbuf == NULL && (s->rbuf = malloc(s->rcap = 1u << 20)) == NULL)
        return -2;
    long n = rs_read_lines(s, sp, limit, items, &used, &tail);
    if (n < 0) {
        snprintf(s->last_err, sizeof s->last_err, "RedisSpool %s: read: %s", sp->path,
                 strerror(errno));
        return -2;
    }
    if (n > 0 && rs_send_sure(s, items, (size_t)n) < 0)
        return -1;
    sp->done = tail ? limit : sp->done + (off_t)used;
    return 0;
}

/* rs_replay_own - one step of our own spool; when it is all in Redis, the
 * file is emptied (under mu, so that no record slips in between).  A spool
 * that cannot be read is tried again a second later. */
static void rs_replay_own(redis_store *s)
{
    pthread_mutex_lock(&s->mu);
    off_t limit = s->own.size;
    pthread_mutex_unlock(&s->mu);
    int rc = rs_replay_step(s, &s->own, limit);
    pthread_mutex_lock(&s->mu);
    if (rc == 0 && s->own.done >= s->own.size && ftruncate(s->own.fd, 0) == 0)
        s->own.size = s->own.done = 0;
    if (rc == -2 && !s->stopping)
        rs_wait(s, 1000);
    pthread_mutex_unlock(&s->mu);
}

/* ---- the writer: orphans, trimming, the loop --------------------------- */

/* rs_adopt - take the spool file NAME in the spool folder if nobody holds
 * it (its writer is gone).  1 adopted, 0 not. */
static int rs_adopt(redis_store *s, const char *name)
{
    size_t nl = strlen(name);
    if (strncmp(name, "redis-", 6) != 0 || nl < 13 || strcmp(name + nl - 6, ".jsonl") != 0
        || (nl - 12 == strlen(s->inst) && strncmp(name + 6, s->inst, nl - 12) == 0))
        return 0;
    char *path = NULL;
    if (asprintf(&path, "%s/%s", s->cf.spool_dir, name) < 0)
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (fd >= 0)
            close(fd);
        free(path);
        return 0;
    }
    s->orphan.fd = fd;
    s->orphan.path = path;
    s->orphan.done = 0;
    return 1;
}

/* rs_scan_orphans - adopt the first abandoned spool of the folder, if any. */
static void rs_scan_orphans(redis_store *s)
{
    DIR *d = opendir(s->cf.spool_dir);
    struct dirent *de;
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL)
        if (rs_adopt(s, de->d_name))
            break;
    closedir(d);
}

/* rs_replay_orphan - one step of the adopted spool; removed once done. */
static void rs_replay_orphan(redis_store *s)
{
    struct stat st;
    int rc = fstat(s->orphan.fd, &st) < 0 ? -2 : rs_replay_step(s, &s->orphan, st.st_size);
    if (rc == -2)
        rs_spool_close(&s->orphan, 0);          /* unreadable: let go, try later */
    else if (rc == 0 && s->orphan.done >= st.st_size)
        rs_spool_close(&s->orphan, 1);
}

/* rs_trim - XTRIM MINID on a stream with a retention of DAYS (0: none). */
static void rs_trim(redis_store *s, int stream, int days)
{
    char minid[32];
    if (days == 0 || s->c == NULL)
        return;
    snprintf(minid, sizeof minid, "%lld-0", rs_now_ms(0) - (long long)days * DAY_MS);
    const char *argv[] = { "XTRIM", rs_stream_key[stream], "MINID", minid };
    const char *zargv[] = { "ZREMRANGEBYSCORE", RS_IX_DOMAINS, "-inf", minid };
    int fatal = 0;
    redisReply *r = rs_call(s->c, 4, argv, &fatal, s->last_err, sizeof s->last_err);
    if (r && stream == STREAM_DECISIONS) {      /* the registry of domains: same cut */
        freeReplyObject(r);
        minid[strlen(minid) - 2] = '\0';
        r = rs_call(s->c, 4, zargv, &fatal, s->last_err, sizeof s->last_err);
    }
    if (r)
        freeReplyObject(r);
    else if (!fatal)
        rs_disconnect(s);
}

/* rs_maintain - the periodic chores of a connected writer: trimming once
 * a minute, looking for orphans every 5 s, and while the master is
 * alone, asking the sentinels once a second whether it still is the master. */
static void rs_maintain(redis_store *s)
{
    long long now = rs_now_ms(1);
    if (now >= s->next_trim) {
        rs_trim(s, STREAM_DECISIONS, s->cf.retention_days);
        rs_trim(s, STREAM_AUDIT, s->cf.audit_days);
        s->next_trim = now + RS_TRIM_MS;
    }
    if (s->no_replica && now >= s->next_master_check) {
        s->next_master_check = now + 1000;
        if (rs_is_master(s) == 0) {
            snprintf(s->last_err, sizeof s->last_err, "the sentinels name another master");
            rs_disconnect(s);
            return;
        }
    }
    if (s->orphan.fd < 0 && now >= s->next_orphan_scan) {
        rs_scan_orphans(s);
        s->next_orphan_scan = now + RS_ORPHAN_MS;
    }
}

/* rs_sync_spool - fdatasync our spool if written since the last time. */
static void rs_sync_spool(redis_store *s)
{
    pthread_mutex_lock(&s->mu);
    int fd = s->own.dirty ? s->own.fd : -1;
    s->own.dirty = 0;
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0)
        fdatasync(fd);
}

/* rs_writer_connect - connect and load the script.  0, or -1. */
static int rs_writer_connect(redis_store *s)
{
    int fatal = 0;
    const char *argv[] = { "SCRIPT", "LOAD", rs_script };
    s->no_replica = 0;
    s->c = rs_connect(&s->cf, &s->next_sentinel, s->cf.timeout_ms, s->mhost, &s->mport, &fatal,
                      s->last_err,
                      sizeof s->last_err);
    redisReply *r = s->c ? rs_call(s->c, 3, argv, NULL, s->last_err, sizeof s->last_err) : NULL;
    if (r && r->type == REDIS_REPLY_STRING) {
        snprintf(s->sha, sizeof s->sha, "%s", r->str);
        freeReplyObject(r);
        rs_state(s, 1, NULL);
        return 0;
    }
    if (r)
        freeReplyObject(r);
    redisFree(s->c);
    s->c = NULL;
    rs_drain_sigpipe();
    rs_state(s, 0, s->last_err);
    return -1;
}

/* rs_spool_all - Redis is away: everything queued goes to the spool, in
 * chunks so that appenders are not held up long. */
static void rs_spool_all(redis_store *s)
{
    char err[256];
    long moved;
    do {
        pthread_mutex_lock(&s->mu);
        moved = rs_queue_to_spool(s, RS_BATCH, err, sizeof err);
        pthread_mutex_unlock(&s->mu);
    } while (moved > 0);
    rs_sync_spool(s);
}

/* rs_has_work - called with mu held: is there something to send? */
static int rs_has_work(redis_store *s)
{
    return s->qlen > 0 || s->own.size > s->own.done || s->orphan.fd >= 0 || s->op_count > 0;
}

/* rs_writer_step - one turn of the loop once connected: the spool first
 * (it holds the oldest records), then the queue, then an orphan. */
static void rs_writer_step(redis_store *s)
{
    pthread_mutex_lock(&s->mu);
    int own = s->own.size > s->own.done, queued = s->qlen > 0;
    pthread_mutex_unlock(&s->mu);
    s->turn ^= 1;
    if (s->orphan.fd >= 0 && (s->turn || (!own && !queued)))
        rs_replay_orphan(s);
    else if (own)
        rs_replay_own(s);
    else if (queued)
        rs_send_queue(s);
    if (s->c != NULL)
        rs_send_ops(s);
}

/* rs_writer_reconnect - after a pause that grows with each failure, a new
 * connection.  When there is none, everything queued goes to the spool.
 * 0 connected, -1 not. */
static int rs_writer_reconnect(redis_store *s, int stopping)
{
    if (s->backoff_ms > 0 && !stopping) {
        pthread_mutex_lock(&s->mu);
        if (!s->stopping)
            rs_wait(s, s->backoff_ms);
        pthread_mutex_unlock(&s->mu);
    }
    if (rs_writer_connect(s) == 0)
        return 0;
    rs_spool_all(s);
    rs_ops_drop(s);
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 50;
    if (s->backoff_ms > RS_BACKOFF_MAX)
        s->backoff_ms = RS_BACKOFF_MAX;
    return -1;
}

/* rs_writer - the thread that owns the connection.  Runs until close; then
 * flushes for at most RS_FLUSH_MS and spools what is left. */
static void *rs_writer(void *arg)
{
    redis_store *s = arg;
    long long deadline = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (!s->stopping && !rs_has_work(s))
            rs_wait(s, 1000);
        int stopping = s->stopping, work = rs_has_work(s);
        pthread_mutex_unlock(&s->mu);
        if (stopping && deadline == 0)
            deadline = rs_now_ms(1) + RS_FLUSH_MS;
        if (stopping && (!work || rs_now_ms(1) >= deadline))
            break;
        if (s->c == NULL && rs_writer_reconnect(s, stopping) < 0) {
            if (stopping)
                break;
            continue;
        }
        rs_maintain(s);
        if (s->c != NULL)               /* a chore may have lost the connection */
            rs_writer_step(s);
        rs_sync_spool(s);
    }
    rs_spool_all(s);
    rs_ops_drop(s);
    redisFree(s->c);
    s->c = NULL;
    rs_drain_sigpipe();
    return NULL;
}

/* ---- the store's operations -------------------------------------------- */

/* rs_start - start the writer thread (mu held), all signals blocked in it.
 * 0, or -1 with err. */
static int rs_start(redis_store *s, char *err, size_t errlen)
{
    sigset_t all, old;
    if (s->started)
        return 0;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&s->thread, NULL, rs_writer, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        rs_set_err(err, errlen, "cannot start the Redis writer thread: %s", strerror(e));
        return -1;
    }
    s->started = 1;
    return 0;
}

/* redis_append - the backend's append: the record joins the queue, or the
 * spool when the queue is full (or no writer could be started).  Never
 * talks to Redis.  0, or -1 with err when the record could be put nowhere. */
static int redis_append(kyso_store *st, kyso_stream stream, const char *json,
                        char *err, size_t errlen)
{
    redis_store *s = (redis_store *)st;
    rs_entry e = { strdup(json), 0, (int)stream };
    char why[256] = "";
    int rc = 0;
    if (s->cf.readonly) {
        rs_set_err(err, errlen, "the store was opened read-only (ro)");
        free(e.rec);
        return -1;
    }
    if (e.rec == NULL) {
        rs_set_err(err, errlen, "out of memory for a record of %zu bytes", strlen(json));
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    e.seq = s->next_seq++;
    int started = !s->stopping && rs_start(s, why, sizeof why) == 0;
    if (started && s->qlen < RS_QUEUE_MAX) {
        *rs_queue_at(s, s->qlen++) = e;
        e.rec = NULL;
        pthread_cond_signal(&s->cv);
    } else if (rs_overflow(s, err, errlen) < 0 || rs_spool_write(s, &e, err, errlen) < 0) {
        rc = -1;
    } else {
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc < 0 && why[0]) {
        char spool_why[256];
        snprintf(spool_why, sizeof spool_why, "%s", err);
        rs_set_err(err, errlen, "%s; and the spool failed too: %s", why, spool_why);
    }
    free(e.rec);
    return rc;
}

/* redis_close - the backend's close: no more records; the writer has
 * RS_FLUSH_MS to empty queue and spool, the rest stays in the spool file
 * for the next instance.  Frees everything. */
static void redis_close(kyso_store *st)
{
    redis_store *s = (redis_store *)st;
    redis_set_status(st, NULL, NULL);   /* a store going away has nothing to tell */
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    int started = s->started;
    pthread_mutex_unlock(&s->mu);
    if (started)
        pthread_join(s->thread, NULL);
    rs_queue_pop(s, s->qlen);           /* nothing is left unless the spool failed */
    if (s->own.fd >= 0)
        fdatasync(s->own.fd);
    rs_spool_close(&s->own, s->own.size <= s->own.done);
    rs_spool_close(&s->orphan, 0);
    rs_ops_drop(s);
    for (size_t i = 0; i < s->npool; i++)
        redisFree(s->pool[i]);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->st_mu);
    free(s->op_cmd);
    free(s->op_len);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->q);
    free(s->rbuf);
    rs_conf_free(&s->cf);
    free(s);
}

/* ---- reading ------------------------------------------------------------ */

/* rs_reader - a connection for a reader, with a read timeout of MS.  NULL
 * with err. */
static redisContext *rs_reader(redis_store *s, int ms, char *err, size_t errlen)
{
    int next = 0;
    char why[256];
    char host[256];
    int port;
    redisContext *c = rs_connect(&s->cf, &next, ms, host, &port, NULL, why, sizeof why);
    if (c == NULL)
        rs_set_err(err, errlen, "Redis: %s", why);
    return c;
}

/* rs_entry_record - the "r" field of one stream entry E ([id, [f, v...]]):
 * 0 with *id, *rec and *len, or -1 when the entry has none. */
static int rs_entry_record(const redisReply *e, const char **id, const char **rec, size_t *len)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, "r") == 0
            && f->element[i + 1]->type == REDIS_REPLY_STRING) {
            *rec = f->element[i + 1]->str;
            *len = f->element[i + 1]->len;
            return 0;
        }
    return -1;
}

/* rs_has_ci - does REC (LEN bytes) contain NEEDLE, ignoring ASCII case? */
static int rs_has_ci(const char *rec, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (strncasecmp(rec + i, needle, n) == 0)
            return 1;
    return 0;
}

/* rs_match - does the record (LEN bytes) pass Q's ref and needle? */
static int rs_match(const kyso_query *q, const char *rec, size_t len)
{
    if (q->ref != NULL) {
        char pat[300];
        int n = snprintf(pat, sizeof pat, "\"ref\":\"%s\"", q->ref);
        if (n < 0 || (size_t)n >= sizeof pat || memmem(rec, len, pat, (size_t)n) == NULL)
            return 0;
    }
    if (q->needle != NULL && !rs_has_ci(rec, len, q->needle))
        return 0;
    long long t;                /* the window, exactly, on the record's own time */
    if ((q->since_ms > 0 || q->until_ms > 0) && json_record_time(rec, len, &t) == 0 &&
        ((q->since_ms > 0 && t < q->since_ms) || (q->until_ms > 0 && t > q->until_ms)))
        return 0;
    return 1;
}

/* rs_id_step - the stream ID just after (DIR > 0) or before ID, into OUT;
 * 0, or -1 when there is none. */
static int rs_id_step(const char *id, int dir, char *out, size_t len)
{
    unsigned long long ms, seq;
    if (sscanf(id, "%llu-%llu", &ms, &seq) != 2)
        return -1;
    if (dir > 0) {
        if (seq == ULLONG_MAX)
            snprintf(out, len, "%llu-0", ms + 1);
        else
            snprintf(out, len, "%llu-%llu", ms, seq + 1);
    } else if (seq > 0) {
        snprintf(out, len, "%llu-%llu", ms, seq - 1);
    } else if (ms > 0) {
        snprintf(out, len, "%llu-%llu", ms - 1, ULLONG_MAX);
    } else {
        return -1;
    }
    return 0;
}

/* rs_range - XRANGE (or XREVRANGE when REV) KEY A B COUNT RS_PAGE; the
 * array reply, or NULL with err. */
static redisReply *rs_range(redisContext *c, const char *key, const char *a, const char *b,
                            int rev, char *err, size_t errlen)
{
    char count[16];
    snprintf(count, sizeof count, "%d", RS_PAGE);
    const char *argv[] = { rev ? "XREVRANGE" : "XRANGE", key, a, b, "COUNT", count };
    char why[256];
    redisReply *r = rs_call(c, 6, argv, NULL, why, sizeof why);
    if (r && r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        r = NULL;
        snprintf(why, sizeof why, "%s: unexpected answer", argv[0]);
    }
    if (r == NULL)
        rs_set_err(err, errlen, "Redis %s", why);
    return r;
}

/* rs_query_forward - every match from LO to HI, oldest first.  0, 1 when FN
 * stopped, or -1. */
static int rs_query_forward(redisContext *c, const char *key, char *lo, const char *hi,
                            const kyso_query *q, store_record_fn fn, void *arg,
                            char *err, size_t errlen)
{
    for (;;) {
        redisReply *r = rs_range(c, key, lo, hi, 0, err, errlen);
        const char *id = NULL, *rec;
        size_t len;
        int stop = 0;
        if (r == NULL)
            return -1;
        for (size_t i = 0; i < r->elements && !stop; i++)
            if (rs_entry_record(r->element[i], &id, &rec, &len) == 0 && rs_match(q, rec, len))
                stop = fn(rec, len, arg) != 0;
        int last = stop || r->elements < RS_PAGE || id == NULL || rs_id_step(id, 1, lo, 48) < 0;
        freeReplyObject(r);
        if (last)
            return stop;
    }
}

/* Records kept by a backward read, the newest first, up to cap. */
typedef struct rs_keep {
    char **rec;
    size_t *len, n, cap;
} rs_keep;

/* rs_keep_init - room for CAP records.  0, or -1 with err. */
static int rs_keep_init(rs_keep *k, size_t cap, char *err, size_t errlen)
{
    k->n = 0;
    k->cap = cap;
    k->rec = calloc(cap, sizeof *k->rec);
    k->len = calloc(cap, sizeof *k->len);
    if (k->rec && k->len)
        return 0;
    rs_set_err(err, errlen, "out of memory");
    return -1;
}

/* rs_keep_add - a copy of REC (LEN bytes, NUL after it) at the end (the
 * oldest so far).  0, or -1 with err. */
static int rs_keep_add(rs_keep *k, const char *rec, size_t len, char *err, size_t errlen)
{
    if ((k->rec[k->n] = malloc(len + 1)) == NULL) {
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(k->rec[k->n], rec, len + 1);
    k->len[k->n++] = len;
    return 0;
}

/* rs_keep_flush - FN for each kept record, oldest first, until it stops. */
static void rs_keep_flush(const rs_keep *k, store_record_fn fn, void *arg)
{
    for (size_t i = k->n; i > 0; i--)
        if (fn(k->rec[i - 1], k->len[i - 1], arg) != 0)
            break;
}

/* rs_keep_free - the records and the arrays. */
static void rs_keep_free(rs_keep *k)
{
    for (size_t i = 0; k->rec && i < k->n; i++)
        free(k->rec[i]);
    free(k->rec);
    free(k->len);
}

/* rs_scan_back - matches from HI back to LO into K until it is full.  0,
 * or -1 with err. */
static int rs_scan_back(redisContext *c, const char *key, const char *lo, char *hi,
                        const kyso_query *q, rs_keep *k, char *err, size_t errlen)
{
    int rc = 0, done = k->n >= k->cap;
    while (rc == 0 && !done) {
        redisReply *r = rs_range(c, key, hi, lo, 1, err, errlen);
        const char *id = NULL, *rec;
        size_t len;
        if (r == NULL)
            return -1;
        for (size_t i = 0; i < r->elements && k->n < k->cap && rc == 0; i++)
            if (rs_entry_record(r->element[i], &id, &rec, &len) == 0 && rs_match(q, rec, len))
                rc = rs_keep_add(k, rec, len, err, errlen);
        done = k->n >= k->cap || r->elements < RS_PAGE || id == NULL
            || rs_id_step(id, -1, hi, 48) < 0;
        freeReplyObject(r);
    }
    return rc;
}

/* rs_query_last - the last q->limit matches between LO and HI, handed to FN
 * oldest first.  0, or -1. */
static int rs_query_last(redisContext *c, const char *key, const char *lo, char *hi,
                         const kyso_query *q, store_record_fn fn, void *arg,
                         char *err, size_t errlen)
{
    rs_keep k;
    int rc = rs_keep_init(&k, q->limit, err, errlen);
    if (rc == 0)
        rc = rs_scan_back(c, key, lo, hi, q, &k, err, errlen);
    if (rc == 0)
        rs_keep_flush(&k, fn, arg);
    rs_keep_free(&k);
    return rc;
}

/* ---- reading through the indexes ---------------------------------------- */

/* A stream entry ID, compared as the stream orders entries. */
typedef struct rs_id {
    long long ms;
    unsigned long long seq;
} rs_id;

/* rs_id_cmp - <0, 0, >0 as A is before, equal to, after B. */
static int rs_id_cmp(const rs_id *a, const rs_id *b)
{
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* rs_member_id - an index member ("MS-" a letter SEQ) as an ID.  0, or -1
 * when it is not one. */
static int rs_member_id(const char *m, rs_id *id)
{
    char *end;
    errno = 0;
    id->ms = strtoll(m, &end, 10);
    if (end == m || end[0] != '-' || end[1] < 'a' || end[1] > 't')
        return -1;
    const char *p = end + 2;
    id->seq = strtoull(p, &end, 10);
    return end == p || *end != '\0' || errno ? -1 : 0;
}

/* rs_score_arg - score bound V as text for ZRANGEBYSCORE ("+inf" for
 * LLONG_MAX, "-inf" for 0). */
static void rs_score_arg(long long v, char *out, size_t len)
{
    if (v == LLONG_MAX || v <= 0)
        snprintf(out, len, "%s", v <= 0 ? "-inf" : "+inf");
    else
        snprintf(out, len, "%lld", v);
}

/* One index key read a page at a time, forward or backward (rev). */
typedef struct rs_cur {
    const char *key;
    long long edge, end;        /* the next page's first and last score */
    size_t skip;                /* members of score edge already taken */
    rs_id ids[RS_IX_PAGE];      /* the page */
    size_t n, pos;
    int last;                   /* no page after this one */
} rs_cur;

/* rs_cur_page - the next page of CUR (REV: backward), with the members of
 * score edge taken before skipped (members of one score come in the
 * stream's order: see rs_script).  0, or -1 with err. */
static int rs_cur_page(redisContext *c, rs_cur *cur, int rev, char *err, size_t errlen)
{
    char a[24], b[24], skip[24], count[16], why[256];
    rs_cmd cmd = { 0 };
    redisReply *r = NULL;
    rs_score_arg(cur->edge, a, sizeof a);
    rs_score_arg(cur->end, b, sizeof b);
    snprintf(skip, sizeof skip, "%zu", cur->skip);
    snprintf(count, sizeof count, "%d", RS_IX_PAGE);
    const char *w[] = { rev ? "ZREVRANGEBYSCORE" : "ZRANGEBYSCORE", cur->key, a, b, "LIMIT",
                        skip, count };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        rs_arg(&cmd, w[i], (size_t)-1);
    if (rs_ask_once(c, &cmd, 1, &r, why, sizeof why) < 0 || r->type != REDIS_REPLY_ARRAY) {
        rs_set_err(err, errlen, "Redis %s: %s", w[0],
                   r == NULL ? why : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
        if (r)
            freeReplyObject(r);
        return -1;
    }
    cur->n = cur->pos = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING
            && rs_member_id(r->element[i]->str, &cur->ids[cur->n]) == 0)
            cur->n++;
    cur->last = r->elements < RS_IX_PAGE;
    if (cur->n > 0) {
        long long ms = cur->ids[cur->n - 1].ms;
        size_t same = 0;
        for (size_t i = cur->n; i > 0 && cur->ids[i - 1].ms == ms; i--)
            same++;
        cur->skip = ms == cur->edge ? cur->skip + same : same;
        cur->edge = ms;
    }
    if (r->elements > cur->n && cur->n == 0)
        cur->skip += r->elements;       /* only foreign members: step over them */
    freeReplyObject(r);
    return 0;
}

/* The union of the index keys of one filter, read in the stream's order
 * (REV: newest first), each ID once. */
typedef struct rs_merge {
    rs_cur *cur;
    size_t n;
    int rev;
    rs_id last;
    int has_last;
} rs_merge;

/* rs_merge_open - cursors on the KEYS (N) for scores LO to HI.  0, or -1. */
static int rs_merge_open(rs_merge *m, char *const *keys, size_t n, int rev, long long lo,
                         long long hi, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if ((m->cur = calloc(n ? n : 1, sizeof *m->cur)) == NULL) {
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    m->n = n;
    m->rev = rev;
    for (size_t i = 0; i < n; i++) {
        m->cur[i].key = keys[i];
        m->cur[i].edge = rev ? hi : lo;
        m->cur[i].end = rev ? lo : hi;
    }
    return 0;
}

/* rs_merge_next - the next ID of the union into *ID: 1, 0 at the end,
 * -1 with err. */
static int rs_merge_next(redisContext *c, rs_merge *m, rs_id *id, char *err, size_t errlen)
{
    for (;;) {
        rs_cur *best = NULL;
        for (size_t i = 0; i < m->n; i++) {
            rs_cur *cu = &m->cur[i];
            while (cu->pos == cu->n && !cu->last)
                if (rs_cur_page(c, cu, m->rev, err, errlen) < 0)
                    return -1;
            if (cu->pos < cu->n && (best == NULL || (m->rev ? 1 : -1)
                                    * rs_id_cmp(&cu->ids[cu->pos], &best->ids[best->pos]) > 0))
                best = cu;
        }
        if (best == NULL)
            return 0;
        *id = best->ids[best->pos++];
        if (m->has_last && rs_id_cmp(id, &m->last) == 0)
            continue;
        m->last = *id;
        m->has_last = 1;
        return 1;
    }
}

/* Where the records read through an index go: FN oldest first (forward),
 * or KEEP (backward, until full). */
typedef struct rs_sink {
    const kyso_query *q;
    store_record_fn fn;
    void *arg;
    rs_keep *keep;
} rs_sink;

/* rs_fetch - the entries of the N IDS of stream KEY (pipelined XRANGE ID ID;
 * an ID trimmed away since it was indexed gives nothing) into SK, those
 * passing rs_match.  0, 1 when SK wants no more, -1 with err. */
static int rs_fetch(redisContext *c, const char *key, const rs_id *ids, size_t n,
                    rs_sink *sk, char *err, size_t errlen)
{
    char idtext[48];
    size_t i, got = 0;
    int rc = 0;
    for (i = 0; i < n; i++) {
        snprintf(idtext, sizeof idtext, "%lld-%llu", ids[i].ms, ids[i].seq);
        const char *argv[] = { "XRANGE", key, idtext, idtext };
        if (redisAppendCommandArgv(c, 4, argv, NULL) != REDIS_OK)
            break;
    }
    for (; got < i; got++) {
        redisReply *r = NULL;
        const char *id, *rec;
        size_t len;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
            rs_set_err(err, errlen, "Redis XRANGE: %s", c->errstr[0] ? c->errstr : "no answer");
            return -1;
        }
        if (rc == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 1
            && rs_entry_record(r->element[0], &id, &rec, &len) == 0 && rs_match(sk->q, rec, len)) {
            if (sk->keep == NULL)
                rc = sk->fn(rec, len, sk->arg) != 0;
            else if ((rc = rs_keep_add(sk->keep, rec, len, err, errlen)) == 0)
                rc = sk->keep->n >= sk->keep->cap;
        }
        freeReplyObject(r);             /* every answer is read, even after a stop */
    }
    if (i < n)
        rs_set_err(err, errlen, "Redis XRANGE: %s", c->errstr);
    return i < n ? -1 : rc;
}

/* rs_ix_read - the entries of the union of KEYS (N) between scores LO and
 * HI into SK, in the stream's order (backward when SK keeps).  0, 1 when SK
 * wants no more, -1 with err. */
static int rs_ix_read(redisContext *c, const char *stream, char *const *keys, size_t n,
                      long long lo, long long hi, rs_sink *sk, char *err, size_t errlen)
{
    rs_merge m;
    rs_id batch[RS_IX_PAGE];
    int rc = rs_merge_open(&m, keys, n, sk->keep != NULL, lo, hi, err, errlen);
    while (rc == 0) {
        size_t want = RS_IX_PAGE, k = 0;
        if (sk->keep && sk->keep->cap - sk->keep->n < want / 2)
            want = 2 * (sk->keep->cap - sk->keep->n) + 8;      /* no more than needed */
        int more = 1;
        while (k < want && (more = rs_merge_next(c, &m, &batch[k], err, errlen)) == 1)
            k++;
        if (more < 0)
            rc = -1;
        else if (k > 0)
            rc = rs_fetch(c, stream, batch, k, sk, err, errlen);
        if (more == 0)
            break;
    }
    free(m.cur);
    return rc;
}

/* rs_ix_marker - *MS from the marker kyso:ix:since: 1, 0 when there is none
 * (no gateway has written the indexes), -1 with err. */
static int rs_ix_marker(redisContext *c, long long *ms, char *err, size_t errlen)
{
    const char *argv[] = { "GET", RS_IX_SINCE };
    redisReply *r = rs_call(c, 2, argv, NULL, err, errlen);
    int rc = 0;
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING) {
        *ms = atoll(r->str);
        rc = 1;
    }
    freeReplyObject(r);
    return rc;
}

/* rs_ix_subdomains - add to IX the domain keys of the registry under DOM
 * (lower case): the domains seen since score LO that end in ".DOM".  0,
 * 1 when Redis refused (an ACL without the index commands), -1 with err. */
static int rs_ix_subdomains(redisContext *c, rs_ix *ix, const char *dom, long long lo,
                            char *err, size_t errlen)
{
    char a[24];
    rs_score_arg(lo, a, sizeof a);
    const char *argv[] = { "ZRANGEBYSCORE", RS_IX_DOMAINS, a, "+inf" };
    int refused = 0;
    redisReply *r = rs_call(c, 4, argv, &refused, err, errlen);
    size_t dl = strlen(dom);
    int rc = r ? 0 : refused ? 1 : -1;
    for (size_t i = 0; r && rc == 0 && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING && e->len > dl + 1 && e->str[e->len - dl - 1] == '.'
            && memcmp(e->str + e->len - dl, dom, dl) == 0)
            rc = rs_ix_add(ix, RS_IX_DOMAIN, e->str, e->len, 0);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* rs_ix_hint - the keys of one hint of H (which: 0 sender ... 4 domain)
 * into IX: none when the hint is absent or has no index (too long, too
 * common, a domain with too many subdomains).  0, or -1 with err. */
static int rs_ix_hint(redisContext *c, const kyso_hints *h, int which, long long lo, rs_ix *ix,
                      char *err, size_t errlen)
{
    static const char *const prefix[] = { RS_IX_SENDER, RS_IX_RCPT, RS_IX_ACTION,
                                          RS_IX_REASON, RS_IX_DOMAIN };
    const char *v[] = { h->sender, h->rcpt, h->action, h->reason, h->domain };
    memset(ix, 0, sizeof *ix);
    if (v[which] == NULL || rs_ix_common(prefix[which], v[which])
        || (which == 4 && v[which][0] == '\0'))
        return 0;
    if (rs_ix_add(ix, prefix[which], v[which], strlen(v[which]), which != 2 && which != 3) < 0) {
        rs_set_err(err, errlen, "out of memory");
        return -1;
    }
    if (which != 4 || ix->n == 0)
        return 0;
    int rc = rs_ix_subdomains(c, ix, ix->keys[0] + strlen(RS_IX_DOMAIN), lo, err, errlen);
    if (rc != 0 || ix->n > RS_IX_MAXUNION)
        rs_ix_free(ix);
    return rc < 0 ? -1 : 0;
}

/* rs_ix_count - how many members the keys of IX hold between scores LO
 * and HI (pipelined ZCOUNT).  The sum, or -1 with err. */
static long long rs_ix_count(redisContext *c, const rs_ix *ix, long long lo, long long hi,
                             char *err, size_t errlen)
{
    char a[24], b[24];
    long long sum = 0;
    rs_score_arg(lo, a, sizeof a);
    rs_score_arg(hi, b, sizeof b);
    for (size_t i = 0; i < ix->n; i++) {
        const char *argv[] = { "ZCOUNT", ix->keys[i], a, b };
        if (redisAppendCommandArgv(c, 4, argv, NULL) != REDIS_OK)
            return -1;
    }
    for (size_t i = 0; i < ix->n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
            rs_set_err(err, errlen, "Redis ZCOUNT: %s", c->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_INTEGER)
            sum += r->integer;
        else if (sum >= 0)
            sum = -2;                   /* an error answer: this hint is not used */
        freeReplyObject(r);
    }
    if (sum == -2)
        return LLONG_MAX;
    return sum;
}

/* rs_ix_choose - the keys of the most selective hint of H between scores
 * LO and HI into BEST (empty: no hint has an index).  0, or -1 with err. */
static int rs_ix_choose(redisContext *c, const kyso_hints *h, long long lo, long long hi,
                        rs_ix *best, char *err, size_t errlen)
{
    long long best_n = LLONG_MAX;
    memset(best, 0, sizeof *best);
    for (int w = 0; w < 5; w++) {
        rs_ix ix;
        long long n = 0;
        if (rs_ix_hint(c, h, w, lo, &ix, err, errlen) < 0)
            return -1;
        if (ix.n > 0 && (n = rs_ix_count(c, &ix, lo, hi, err, errlen)) == -1) {
            rs_ix_free(&ix);
            rs_ix_free(best);
            return -1;
        }
        if (ix.n > 0 && n < best_n) {
            rs_ix_free(best);
            *best = ix;
            best_n = n;
        } else {
            rs_ix_free(&ix);
        }
    }
    return 0;
}

/* rs_query_ix - Q through the indexes: the entries of the chosen keys
 * from the marker on, and a scan (XRANGE with the needle) of the part of
 * the window before the marker, if any.  LO_MS and HI_MS: the window
 * (slack included; HI_MS LLONG_MAX: no end), LO and HI the same as IDs.
 * 0, -1 with err, or 1 when the indexes cannot serve Q (no marker, no
 * hint with an index): the caller scans. */
static int rs_query_ix(redisContext *c, const char *key, const kyso_query *q,
                       const kyso_hints *h, long long lo_ms, long long hi_ms, char *lo, char *hi,
                       store_record_fn fn, void *arg, char *err, size_t errlen)
{
    long long mark = 0;
    rs_ix ix;
    int rc = rs_ix_marker(c, &mark, err, errlen);
    if (rc <= 0)
        return rc < 0 ? -1 : 1;
    long long ilo = lo_ms > mark + 1 ? lo_ms : mark + 1;
    if (rs_ix_choose(c, h, ilo, hi_ms, &ix, err, errlen) < 0)
        return -1;
    if (ix.n == 0)
        return 1;
    int scan = mark > 0 && lo_ms <= mark;       /* records before the marker: no index */
    if (scan && hi_ms > mark)
        snprintf(hi, 48, "%lld-%llu", mark, ULLONG_MAX);
    rs_sink sk = { q, fn, arg, NULL };
    if (q->limit == 0) {
        rc = scan ? rs_query_forward(c, key, lo, hi, q, fn, arg, err, errlen) : 0;
        if (rc == 0)
            rc = rs_ix_read(c, key, ix.keys, ix.n, ilo, hi_ms, &sk, err, errlen);
    } else {
        rs_keep k;
        sk.keep = &k;
        rc = rs_keep_init(&k, q->limit, err, errlen);
        if (rc == 0)
            rc = rs_ix_read(c, key, ix.keys, ix.n, ilo, hi_ms, &sk, err, errlen);
        if (rc >= 0 && scan && k.n < k.cap)
            rc = rs_scan_back(c, key, lo, hi, q, &k, err, errlen);
        if (rc >= 0)
            rs_keep_flush(&k, fn, arg);
        rs_keep_free(&k);
    }
    rs_ix_free(&ix);
    return rc < 0 ? -1 : 0;
}

/* rs_read_timeout - readers wait longer than the writer: 10 x RedisTimeout,
 * at least a second. */
static int rs_read_timeout(const redis_store *s)
{
    return s->cf.timeout_ms * 10 > 1000 ? s->cf.timeout_ms * 10 : 1000;
}

/* rs_has_hint - does H carry a hint an index could serve? */
static int rs_has_hint(const kyso_hints *h)
{
    return h && (h->sender || h->rcpt || h->domain || h->action || h->reason);
}

/* redis_query_hinted - the backend's query_hinted: through the indexes
 * when H has hints and Q no ref (a ref is a day's XRANGE already), else
 * XRANGE pages (or XREVRANGE for the last q->limit) between q->since_ms
 * and q->until_ms, both inclusive. */
static int redis_query_hinted(kyso_store *st, kyso_stream stream, const kyso_query *q,
                              const kyso_hints *h, store_record_fn fn, void *arg, char *err,
                              size_t errlen)
{
    redis_store *s = (redis_store *)st;
    char lo[48] = "-", hi[48] = "+";
    long long lo_ms = 0, hi_ms = LLONG_MAX;
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    /* stream IDs are the times Redis received the records, not their own
     * "time": widen the window so that clock differences between gateways
     * and Redis still give a superset (the caller filters exactly) */
    if (q->since_ms > RS_WINDOW_SLACK_MS) {
        lo_ms = q->since_ms - RS_WINDOW_SLACK_MS;
        snprintf(lo, sizeof lo, "%lld-0", lo_ms);
    }
    if (q->until_ms > 0) {
        hi_ms = q->until_ms + RS_WINDOW_SLACK_MS;
        snprintf(hi, sizeof hi, "%lld-%llu", hi_ms, ULLONG_MAX);
    }
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    redisContext *c = rs_reader(s, rs_read_timeout(s), err, errlen);
    const char *key = rs_stream_key[stream];
    int rc = c == NULL ? -1 : 1;
    if (rc == 1 && stream == STREAM_DECISIONS && q->ref == NULL && rs_has_hint(h))
        rc = rs_query_ix(c, key, q, h, lo_ms, hi_ms, lo, hi, fn, arg, err, errlen);
    if (rc == 1)
        rc = q->limit > 0 ? rs_query_last(c, key, lo, hi, q, fn, arg, err, errlen)
           : rs_query_forward(c, key, lo, hi, q, fn, arg, err, errlen) < 0 ? -1 : 0;
    redisFree(c);
    rs_drain_sigpipe();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* redis_query - the backend's query: redis_query_hinted without hints. */
static int redis_query(kyso_store *st, kyso_stream stream, const kyso_query *q,
                       store_record_fn fn, void *arg, char *err, size_t errlen)
{
    return redis_query_hinted(st, stream, q, NULL, fn, arg, err, errlen);
}

/* rs_last_id - the ID of the newest entry of KEY ("0-0" when empty) into
 * ID.  0, or -1 with err. */
static int rs_last_id(redisContext *c, const char *key, char *id, size_t len,
                      char *err, size_t errlen)
{
    const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", "1" };
    redisReply *r = rs_call(c, 6, argv, NULL, err, errlen);
    if (r == NULL)
        return -1;
    snprintf(id, len, "0-0");
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements > 0)
        snprintf(id, len, "%s", r->element[0]->element[0]->str);
    freeReplyObject(r);
    return 0;
}

/* rs_follow_once - one XREAD BLOCK 1000 after ID; FN for each entry.
 * 1 when FN asked to stop, 0 to go on, -1 on a connection error. */
static int rs_follow_once(redisContext *c, const char *key, char *id, size_t idlen,
                          store_record_fn fn, void *arg, char *err, size_t errlen)
{
    const char *argv[] = { "XREAD", "COUNT", "1000", "BLOCK", "1000", "STREAMS", key, id };
    redisReply *r = rs_call(c, 8, argv, NULL, err, errlen);
    int rc = 0;
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2) {
        const redisReply *ents = r->element[0]->element[1];
        for (size_t i = 0; i < ents->elements && rc == 0; i++) {
            const char *eid, *rec;
            size_t len;
            if (rs_entry_record(ents->element[i], &eid, &rec, &len) < 0)
                continue;
            snprintf(id, idlen, "%s", eid);
            rc = fn(rec, len, arg) != 0;
        }
    }
    freeReplyObject(r);
    return rc;
}

/* rs_follow_loop - follow until FN or STOP says so, reconnecting (and
 * asking the sentinels again) after an error; gives up after
 * RS_FOLLOW_GIVEUP_MS without a connection.  0, or -1 with err. */
static int rs_follow_loop(redis_store *s, const char *key, store_record_fn fn, void *arg,
                          volatile int *stop, char *err, size_t errlen)
{
    char id[48] = "";
    redisContext *c = NULL;
    long long down_since = 0;
    int rc = 0;
    while (rc == 0 && !(stop && __atomic_load_n(stop, __ATOMIC_RELAXED))) {
        if (c == NULL && (c = rs_reader(s, 1000 + s->cf.timeout_ms, err, errlen)) != NULL
            && id[0] == '\0' && rs_last_id(c, key, id, sizeof id, err, errlen) < 0) {
            redisFree(c);
            c = NULL;
        }
        if (c == NULL) {
            long long now = rs_now_ms(1);
            down_since = down_since ? down_since : now;
            if (now - down_since > RS_FOLLOW_GIVEUP_MS)
                return -1;
            sleep(1);
            continue;
        }
        down_since = 0;
        if ((rc = rs_follow_once(c, key, id, sizeof id, fn, arg, err, errlen)) < 0) {
            redisFree(c);
            c = NULL;
            rs_drain_sigpipe();
            rc = 0;
        }
    }
    redisFree(c);
    return 0;
}

/* redis_follow - the backend's follow (see store.h). */
static int redis_follow(kyso_store *st, kyso_stream stream, store_record_fn fn, void *arg,
                        volatile int *stop, char *err, size_t errlen)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int rc = rs_follow_loop((redis_store *)st, rs_stream_key[stream], fn, arg, stop, err, errlen);
    rs_drain_sigpipe();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- building the indexes of older records (store_reindex) --------------- */

/* rs_reindex_page - the script, in its index-only mode, for each entry of
 * the XRANGE answer R, pipelined; *DONE counts them.  0, or -1 with err. */
static int rs_reindex_page(redisContext *c, const char *sha, const redisReply *r, int days,
                           long long *done, char *err, size_t errlen)
{
    size_t sent = 0;
    int rc = 0;
    for (size_t i = 0; i < r->elements && rc == 0; i++) {
        const char *id, *rec;
        size_t len;
        rs_ix ix;
        if (rs_entry_record(r->element[i], &id, &rec, &len) < 0)
            continue;
        if (rs_ix_build(rec, len, &ix) < 0
            || rs_append_script(c, sha, STREAM_DECISIONS, RS_IX_SINCE, "", "", id,
                                strlen(id), &ix, days) != REDIS_OK) {
            rs_set_err(err, errlen, "out of memory");
            rc = -1;
        }
        rs_ix_free(&ix);
        sent += rc == 0;
    }
    for (size_t i = 0; i < sent; i++) {
        redisReply *a = NULL;
        if (redisGetReply(c, (void **)&a) != REDIS_OK || a == NULL) {
            rs_set_err(err, errlen, "Redis EVALSHA: %s", c->errstr);
            return -1;
        }
        if (rc == 0 && (a->type != REDIS_REPLY_INTEGER || a->integer < 0)) {
            rs_set_err(err, errlen, "Redis refused an index write%s%s (the ACL of "
                       "doc/redis.md allows them)", a->type == REDIS_REPLY_ERROR ? ": " : "",
                       a->type == REDIS_REPLY_ERROR ? a->str : "");
            rc = -1;
        }
        freeReplyObject(a);
    }
    *done += rc == 0 ? (long long)sent : 0;
    return rc;
}

/* rs_reindex_run - index every decision up to the marker (or the newest
 * when there is none) on C, then move the marker to 0: everything is
 * indexed.  0, or -1 with err. */
static int rs_reindex_run(redis_store *s, redisContext *c, long long *done, char *err,
                          size_t errlen)
{
    const char *load[] = { "SCRIPT", "LOAD", rs_script };
    const char *key = rs_stream_key[STREAM_DECISIONS];
    char sha[48], lo[48] = "-", hi[48];
    long long mark;
    redisReply *r = rs_call(c, 3, load, NULL, err, errlen);
    if (r == NULL)
        return -1;
    snprintf(sha, sizeof sha, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    int had = rs_ix_marker(c, &mark, err, errlen);
    if (had < 0 || (had == 0 && rs_last_id(c, key, hi, sizeof hi, err, errlen) < 0))
        return -1;
    if (had)
        snprintf(hi, sizeof hi, "%lld-%llu", mark, ULLONG_MAX);
    for (int last = 0; !last;) {
        if ((r = rs_range(c, key, lo, hi, 0, err, errlen)) == NULL)
            return -1;
        int rc = rs_reindex_page(c, sha, r, s->cf.retention_days, done, err, errlen);
        last = rc < 0 || r->elements < RS_PAGE
            || r->element[r->elements - 1]->type != REDIS_REPLY_ARRAY
            || rs_id_step(r->element[r->elements - 1]->element[0]->str, 1, lo, sizeof lo) < 0;
        freeReplyObject(r);
        if (rc < 0)
            return -1;
    }
    const char *set[] = { "SET", RS_IX_SINCE, "0", "NX" };
    long long now_mark = mark;
    if (had && rs_ix_marker(c, &now_mark, err, errlen) < 0)
        return -1;
    if (now_mark != mark)               /* a writer moved it meanwhile: leave it */
        return 0;
    r = rs_call(c, had ? 3 : 4, set, NULL, err, errlen);
    if (r)
        freeReplyObject(r);
    return r ? 0 : -1;
}

/* redis_reindex - the backend's reindex (see store.h), on a connection of
 * its own. */
static int redis_reindex(kyso_store *st, long long *done, char *err, size_t errlen)
{
    redis_store *s = (redis_store *)st;
    sigset_t pipe_set, old;
    if (s->cf.readonly) {
        rs_set_err(err, errlen, "the store was opened read-only (ro)");
        return -1;
    }
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    redisContext *c = rs_reader(s, rs_read_timeout(s), err, errlen);
    int rc = c ? rs_reindex_run(s, c, done, err, errlen) : -1;
    redisFree(c);
    rs_drain_sigpipe();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- up, down and the status callback ----------------------------------- */

/* rs_state - Redis answered (UP 1) or failed (UP 0, WHY): remember it for
 * the readers' fast path, and tell the status callback when this is a
 * change (once per change, whoever notices it first). */
static void rs_state(redis_store *s, int up, const char *why)
{
    int was = __atomic_exchange_n(&s->down, !up, __ATOMIC_ACQ_REL);
    if (!up) {
        __atomic_store_n(&s->next_try, rs_now_ms(1) + RS_RETRY_MS, __ATOMIC_RELEASE);
        if (!was) {
            pthread_mutex_lock(&s->pool_mu);
            s->pool_epoch++;            /* pooled connections are likely dead too */
            while (s->npool > 0)
                redisFree(s->pool[--s->npool]);
            pthread_mutex_unlock(&s->pool_mu);
        }
    }
    pthread_mutex_lock(&s->st_mu);
    if (s->told_down != !up) {
        s->told_down = !up;
        if (s->status_fn)
            s->status_fn(s->status_arg, up, why && *why ? why : "no answer");
    }
    pthread_mutex_unlock(&s->st_mu);
}

/* redis_set_status - the backend's set_status (see store.h). */
static void redis_set_status(kyso_store *st, store_status_fn fn, void *arg)
{
    redis_store *s = (redis_store *)st;
    pthread_mutex_lock(&s->st_mu);
    s->status_fn = fn;
    s->status_arg = arg;
    pthread_mutex_unlock(&s->st_mu);
}

/* rs_kick - make sure the writer runs (it is the one that notices Redis
 * is back); a read-only store has none. */
static void rs_kick(redis_store *s)
{
    char why[256];
    if (s->cf.readonly)
        return;
    pthread_mutex_lock(&s->mu);
    if (!s->stopping)
        rs_start(s, why, sizeof why);
    pthread_mutex_unlock(&s->mu);
}

/* ---- fire-and-forget commands (caches, counters) ------------------------ */

/* rs_ops_drop - forget every queued command (Redis is away, or closing). */
static void rs_ops_drop(redis_store *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->op_count > 0) {
        redisFreeCommand(s->op_cmd[s->op_head]);
        s->op_head = (s->op_head + 1) % RS_OPS_MAX;
        s->op_count--;
    }
    s->last_expire[0] = '\0';
    pthread_mutex_unlock(&s->mu);
}

/* rs_op_push - queue the command ARGV (ARGC words, lengths LENS) for the
 * writer.  Dropped when Redis is known down, the queue is full, the store
 * is read-only or closing: these are caches and statistics, never records. */
static void rs_op_push(redis_store *s, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL, why[256];
    if (s->cf.readonly)
        return;
    int n = __atomic_load_n(&s->down, __ATOMIC_ACQUIRE) ? -1
          : redisFormatCommandArgv(&cmd, argc, argv, lens);
    pthread_mutex_lock(&s->mu);
    if (!s->stopping && rs_start(s, why, sizeof why) == 0 && n > 0
        && s->op_count < RS_OPS_MAX) {
        size_t at = (s->op_head + s->op_count++) % RS_OPS_MAX;
        s->op_cmd[at] = cmd;
        s->op_len[at] = (size_t)n;
        cmd = NULL;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (cmd)
        redisFreeCommand(cmd);
}

/* rs_send_ops - the writer sends up to RS_BATCH queued commands in one
 * round trip.  Error answers are ignored (a cache entry lost); an I/O
 * error drops the connection, and the commands with it. */
static void rs_send_ops(redis_store *s)
{
    char *cmd[RS_BATCH];
    size_t len[RS_BATCH], n = 0, i;
    pthread_mutex_lock(&s->mu);
    while (n < RS_BATCH && s->op_count > 0) {
        cmd[n] = s->op_cmd[s->op_head];
        len[n++] = s->op_len[s->op_head];
        s->op_head = (s->op_head + 1) % RS_OPS_MAX;
        s->op_count--;
    }
    pthread_mutex_unlock(&s->mu);
    int ok = 1;
    for (i = 0; i < n && ok; i++)
        ok = redisAppendFormattedCommand(s->c, cmd[i], len[i]) == REDIS_OK;
    for (i = 0; i < n && ok; i++) {
        redisReply *r = NULL;
        ok = redisGetReply(s->c, (void **)&r) == REDIS_OK && r != NULL;
        if (r)
            freeReplyObject(r);
    }
    for (i = 0; i < n; i++)
        redisFreeCommand(cmd[i]);
    if (!ok) {
        snprintf(s->last_err, sizeof s->last_err, "I/O: %s", s->c->errstr);
        rs_disconnect(s);
    }
}

/* ---- mail threads' connections ------------------------------------------ */

/* rs_pool_take - a connection for a mail thread: an idle one (*reused
 * set), or a new one.  NULL at once while Redis is down and its second of
 * rest is not over (or another thread is already trying), NULL after at
 * most RedisTimeout when it cannot be reached (Redis then counts as down). */
static redisContext *rs_pool_take(redis_store *s, int *reused, unsigned *epoch)
{
    if (__atomic_load_n(&s->down, __ATOMIC_ACQUIRE)) {
        long long now = rs_now_ms(1), t = __atomic_load_n(&s->next_try, __ATOMIC_ACQUIRE);
        if (now < t || !__atomic_compare_exchange_n(&s->next_try, &t, now + RS_RETRY_MS, 0,
                                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return NULL;
    }
    pthread_mutex_lock(&s->pool_mu);
    redisContext *c = s->npool > 0 ? s->pool[--s->npool] : NULL;
    *epoch = s->pool_epoch;
    pthread_mutex_unlock(&s->pool_mu);
    if ((*reused = c != NULL))
        return c;
    char host[256], why[256];
    int port, next = 0;
    if ((c = rs_connect(&s->cf, &next, s->cf.timeout_ms, host, &port, NULL, why,
                        sizeof why)) == NULL) {
        rs_state(s, 0, why);
        rs_kick(s);
    }
    return c;
}

/* rs_pool_give - C back to the pool (freed when the pool is full or Redis
 * went down since it was taken, in EPOCH). */
static void rs_pool_give(redis_store *s, redisContext *c, unsigned epoch)
{
    pthread_mutex_lock(&s->pool_mu);
    if (epoch == s->pool_epoch && s->npool < RS_POOL_MAX) {
        s->pool[s->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    redisFree(c);
}

/* rs_ask_once - the N commands pipelined on C, answers into R (all NULL
 * on failure).  0, or -1 on an I/O error, with WHY. */
static int rs_ask_once(redisContext *c, const rs_cmd *cmds, size_t n, redisReply **r,
                       char *why, size_t whylen)
{
    size_t i, got = 0;
    for (i = 0; i < n; i++)
        if (redisAppendCommandArgv(c, cmds[i].argc, (const char **)cmds[i].argv,
                                   cmds[i].len) != REDIS_OK)
            break;
    while (i == n && got < n && redisGetReply(c, (void **)&r[got]) == REDIS_OK && r[got])
        got++;
    if (got == n)
        return 0;
    snprintf(why, whylen, "%s", c->errstr[0] ? c->errstr : "no answer");
    for (i = 0; i < got; i++)
        freeReplyObject(r[i]);
    memset(r, 0, n * sizeof *r);
    return -1;
}

/* rs_ask - run the N commands for a mail thread, answers into R (the
 * caller frees them).  A connection from the pool that fails is replaced
 * once by a new one (Redis may have restarted since it was used).  0, or
 * -1 when Redis is down or did not answer within RedisTimeout. */
static int rs_ask(redis_store *s, const rs_cmd *cmds, size_t n, redisReply **r)
{
    sigset_t pipe_set, old;
    char why[256];
    int rc = -1, reused = 0;
    unsigned epoch;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        redisContext *c = rs_pool_take(s, &reused, &epoch);
        if (c == NULL)
            break;
        if ((rc = rs_ask_once(c, cmds, n, r, why, sizeof why)) == 0) {
            rs_pool_give(s, c, epoch);
            rs_state(s, 1, NULL);
            break;
        }
        redisFree(c);
        if (!reused) {
            rs_state(s, 0, why);
            rs_kick(s);
            break;
        }
    }
    rs_drain_sigpipe();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- caches, counters, rate limit ---------------------------------------- */

/* rs_cache_key - the Redis key of KEY in cache NS, into OUT; -1 when too long. */
static int rs_cache_key(kyso_cache_ns ns, const char *key, char *out, size_t len)
{
    int n = snprintf(out, len, "kyso:%s:%s", ns == CACHE_REVOCATION ? "rev" : "vc", key);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* rs_arg - word I of CMD is S (LEN bytes, or strlen when LEN is -1). */
static void rs_arg(rs_cmd *cmd, const char *s, size_t len)
{
    cmd->argv[cmd->argc] = s;
    cmd->len[cmd->argc++] = len == (size_t)-1 ? strlen(s) : len;
}

/* redis_cache_get - the backend's cache_get: GET. */
static int redis_cache_get(kyso_store *st, kyso_cache_ns ns, const char *key, char **val,
                           size_t *len)
{
    redis_store *s = (redis_store *)st;
    char k[512];
    rs_cmd cmd = { 0 };
    redisReply *r = NULL;
    if (rs_cache_key(ns, key, k, sizeof k) < 0)
        return -1;
    rs_arg(&cmd, "GET", -1);
    rs_arg(&cmd, k, -1);
    if (rs_ask(s, &cmd, 1, &r) < 0)
        return -1;
    int rc = r->type == REDIS_REPLY_STRING ? 1 : r->type == REDIS_REPLY_NIL ? 0 : -1;
    if (rc == 1 && (*val = malloc(r->len + 1)) == NULL)
        rc = -1;
    if (rc == 1) {
        memcpy(*val, r->str, r->len);
        (*val)[r->len] = '\0';
        *len = r->len;
    }
    freeReplyObject(r);
    return rc;
}

/* redis_cache_put - the backend's cache_put: SET ... EX, through the writer. */
static void redis_cache_put(kyso_store *st, kyso_cache_ns ns, const char *key,
                            const char *val, size_t len, unsigned ttl)
{
    char k[512], t[16];
    if (rs_cache_key(ns, key, k, sizeof k) < 0)
        return;
    snprintf(t, sizeof t, "%u", ttl);
    const char *argv[] = { "SET", k, val, "EX", t };
    size_t lens[] = { 3, strlen(k), len, 2, strlen(t) };
    rs_op_push((redis_store *)st, 5, argv, lens);
}

/* rs_count_key - "kyso:PREFIX:DAY:ORG" into OUT; -1 when too long. */
static int rs_count_key(const char *prefix, const char *day, const char *org, char *out,
                        size_t len)
{
    int n = snprintf(out, len, "kyso:%s:%s:%s", prefix, day, org);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* rs_op_expire - queue EXPIRE KEY (the counters' 800 days), unless it was
 * the key of the last EXPIRE queued: a record's counters come in runs of
 * one key. */
static void rs_op_expire(redis_store *s, const char *key)
{
    pthread_mutex_lock(&s->mu);
    int same = strcmp(s->last_expire, key) == 0;
    if (!same)
        snprintf(s->last_expire, sizeof s->last_expire, "%s", key);
    pthread_mutex_unlock(&s->mu);
    if (same)
        return;
    const char *argv[] = { "EXPIRE", key, RS_COUNT_TTL };
    size_t lens[] = { 6, strlen(key), strlen(RS_COUNT_TTL) };
    rs_op_push(s, 3, argv, lens);
}

/* redis_counter_incr - the backend's counter_incr: HINCRBY, EXPIRE. */
static void redis_counter_incr(kyso_store *st, const char *day, const char *org,
                               const char *field, long long n)
{
    char k[512], v[24];
    if (rs_count_key("count", day, org, k, sizeof k) < 0)
        return;
    snprintf(v, sizeof v, "%lld", n);
    const char *argv[] = { "HINCRBY", k, field, v };
    size_t lens[] = { 7, strlen(k), strlen(field), strlen(v) };
    rs_op_push((redis_store *)st, 4, argv, lens);
    rs_op_expire((redis_store *)st, k);
}

/* redis_counter_member - the backend's counter_member: SADD, EXPIRE. */
static void redis_counter_member(kyso_store *st, const char *day, const char *org,
                                 const char *member)
{
    char k[512];
    if (rs_count_key("certs", day, org, k, sizeof k) < 0)
        return;
    const char *argv[] = { "SADD", k, member };
    size_t lens[] = { 4, strlen(k), strlen(member) };
    rs_op_push((redis_store *)st, 3, argv, lens);
    rs_op_expire((redis_store *)st, k);
}

/* rs_counter_reply - hand the answers R (HGETALL, SMEMBERS) of day I to FN. */
static int rs_counter_reply(size_t i, redisReply *const r[2], store_counter_fn fn, void *arg)
{
    int stop = 0;
    if (r[0]->type == REDIS_REPLY_ARRAY)
        for (size_t j = 0; j + 1 < r[0]->elements && !stop; j += 2)
            if (r[0]->element[j]->type == REDIS_REPLY_STRING
                && r[0]->element[j + 1]->type == REDIS_REPLY_STRING)
                stop = fn(i, r[0]->element[j]->str, atoll(r[0]->element[j + 1]->str), arg);
    if (r[1]->type == REDIS_REPLY_ARRAY)
        for (size_t j = 0; j < r[1]->elements && !stop; j++)
            if (r[1]->element[j]->type == REDIS_REPLY_STRING)
                stop = fn(i, r[1]->element[j]->str, -1, arg);
    return stop;
}

/* rs_counter_day - HGETALL and SMEMBERS of ORG on DAY (I-th) on C, to FN.
 * 0, 1 when FN stopped, -1 with err. */
static int rs_counter_day(redisContext *c, const char *org, const char *day, size_t i,
                          store_counter_fn fn, void *arg, char *err, size_t errlen)
{
    char k[2][512], why[256];
    redisReply *r[2] = { NULL, NULL };
    if (rs_count_key("count", day, org, k[0], sizeof k[0]) < 0
        || rs_count_key("certs", day, org, k[1], sizeof k[1]) < 0)
        return 0;
    rs_cmd cmds[2] = { { 0 }, { 0 } };
    rs_arg(&cmds[0], "HGETALL", -1);
    rs_arg(&cmds[0], k[0], -1);
    rs_arg(&cmds[1], "SMEMBERS", -1);
    rs_arg(&cmds[1], k[1], -1);
    if (rs_ask_once(c, cmds, 2, r, why, sizeof why) < 0) {
        rs_set_err(err, errlen, "Redis: %s", why);
        return -1;
    }
    int rc = rs_counter_reply(i, r, fn, arg) ? 1 : 0;
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    return rc;
}

/* redis_counter_read - the backend's counter_read, on a reader's own
 * connection. */
static int redis_counter_read(kyso_store *st, const char *org, const char *const *days,
                              size_t ndays, store_counter_fn fn, void *arg, char *err,
                              size_t errlen)
{
    redis_store *s = (redis_store *)st;
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    redisContext *c = rs_reader(s, rs_read_timeout(s), err, errlen);
    int rc = c == NULL ? -1 : 0;
    for (size_t i = 0; i < ndays && rc == 0; i++)
        rc = rs_counter_day(c, org, days[i], i, fn, arg, err, errlen);
    redisFree(c);
    rs_drain_sigpipe();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc < 0 ? -1 : 0;
}

/* redis_rate_allow - the backend's rate_allow: INCR and EXPIRE of
 * kyso:rl:KEY:WINDOWSTART in one round trip. */
static int redis_rate_allow(kyso_store *st, const char *key, unsigned max, unsigned window,
                            time_t now)
{
    char k[400], t[16];
    size_t n = 0;
    n = (size_t)snprintf(k, sizeof k, "kyso:rl:");
    for (; *key && n < 8 + 320; key++)
        k[n++] = *key >= 'A' && *key <= 'Z' ? (char)(*key - 'A' + 'a') : *key;
    snprintf(k + n, sizeof k - n, ":%lld", (long long)(now - now % (time_t)window));
    snprintf(t, sizeof t, "%u", window + 1);
    rs_cmd cmds[2] = { { 0 }, { 0 } };
    redisReply *r[2] = { NULL, NULL };
    rs_arg(&cmds[0], "INCR", -1);
    rs_arg(&cmds[0], k, -1);
    rs_arg(&cmds[1], "EXPIRE", -1);
    rs_arg(&cmds[1], k, -1);
    rs_arg(&cmds[1], t, -1);
    if (rs_ask((redis_store *)st, cmds, 2, r) < 0)
        return -1;
    int rc = r[0]->type != REDIS_REPLY_INTEGER ? -1 : r[0]->integer <= (long long)max;
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    return rc;
}

/* ---- opening ------------------------------------------------------------ */

/* rs_check_spool_dir - the spool folder exists and we may write in it.
 * 0, or -1 with err. */
static int rs_check_spool_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        rs_set_err(err, errlen, "RedisSpool %s: no such directory; create it and give it "
                   "to the UserID", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        rs_set_err(err, errlen, "RedisSpool %s: not writable by uid %ld (%s)", dir,
                   (long)geteuid(), strerror(errno));
        return -1;
    }
    return 0;
}

/* rs_make_inst - a random 64-bit instance id in hex into S->inst. */
static void rs_make_inst(redis_store *s)
{
    unsigned long long v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = ((unsigned long long)rs_now_ms(0) << 20) ^ (unsigned long long)getpid()
          ^ (unsigned long long)(uintptr_t)s;
    snprintf(s->inst, sizeof s->inst, "%016llx", v);
}

/* rs_probe - try the server once (login and PING), so that a wrong
 * password, a user without rights or a bad database is reported at load
 * time.  An unreachable server is fine (the spool takes over).  0, or -1
 * with err. */
static int rs_probe(redis_store *s, char *err, size_t errlen)
{
    int fatal = 0, next = 0;
    char why[256];
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    char host[256];
    int port;
    const char *ping[] = { "PING" };
    redisContext *c = rs_connect(&s->cf, &next, s->cf.timeout_ms, host, &port, &fatal, why,
                                 sizeof why);
    redisReply *r = c ? rs_call(c, 1, ping, &fatal, why, sizeof why) : NULL;
    if (r)
        freeReplyObject(r);
    else
        redisFree(c), c = NULL;
    redisFree(c);
    rs_drain_sigpipe();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (c == NULL && fatal) {
        rs_set_err(err, errlen, "Redis refused the login%s%s: %s", s->cf.user ? " as " : "",
                   s->cf.user ? s->cf.user : "", why);
        return -1;
    }
    return 0;
}

/* rs_open - parse, check the spool folder, probe.  The store, or NULL with
 * err (never quoting the password). */
static kyso_store *rs_open(const char *rest, int sentinel, char *err, size_t errlen)
{
    redis_store *s = calloc(1, sizeof *s);
    pthread_condattr_t ca;
    if (s == NULL || (s->q = calloc(RS_QUEUE_MAX, sizeof *s->q)) == NULL
        || (s->op_cmd = calloc(RS_OPS_MAX, sizeof *s->op_cmd)) == NULL
        || (s->op_len = calloc(RS_OPS_MAX, sizeof *s->op_len)) == NULL) {
        if (s) {
            free(s->q);
            free(s->op_cmd);
        }
        free(s);
        rs_set_err(err, errlen, "out of memory");
        return NULL;
    }
    s->own.fd = s->orphan.fd = -1;
    if (rs_conf_parse(&s->cf, rest, sentinel, err, errlen) < 0
        || (!s->cf.readonly && rs_check_spool_dir(s->cf.spool_dir, err, errlen) < 0)
        || rs_probe(s, err, errlen) < 0) {
        rs_conf_free(&s->cf);
        free(s->q);
        free(s->op_cmd);
        free(s->op_len);
        free(s);
        return NULL;
    }
    s->base.ops = sentinel ? &store_sentinel_ops : &store_redis_ops;
    s->next_seq = 1;
    rs_make_inst(s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->st_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    return &s->base;
}

/* redis_open / sentinel_open - the two schemes' open. */
static kyso_store *redis_open(const char *rest, char *err, size_t errlen)
{
    return rs_open(rest, 0, err, errlen);
}

static kyso_store *sentinel_open(const char *rest, char *err, size_t errlen)
{
    return rs_open(rest, 1, err, errlen);
}

/* The two schemes differ only in how the master is found. */
#define RS_OPS(SCHEME, OPEN) {                                              \
    .scheme = SCHEME, .open = OPEN, .append = redis_append,                 \
    .close = redis_close, .query = redis_query, .follow = redis_follow,     \
    .cache_get = redis_cache_get, .cache_put = redis_cache_put,             \
    .counter_incr = redis_counter_incr, .counter_member = redis_counter_member, \
    .counter_read = redis_counter_read, .rate_allow = redis_rate_allow,     \
    .set_status = redis_set_status, .query_hinted = redis_query_hinted,     \
    .reindex = redis_reindex }

const kyso_store_ops store_redis_ops = RS_OPS("redis", redis_open);
const kyso_store_ops store_sentinel_ops = RS_OPS("sentinel", sentinel_open);
