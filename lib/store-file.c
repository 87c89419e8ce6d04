/*
 * store-file.c - the embedded store, "file:DIR": each stream is a JSON Lines
 * file in DIR (decisions.jsonl, audit.jsonl) that any number of threads and
 * processes append to.  One record is one write() of the line and its '\n'
 * under flock(LOCK_EX), so lines never interleave; a file renamed or removed
 * by logrotate is noticed before the next append and created again.
 *
 * The read side (kyso log) sees the rotated files too (decisions.jsonl.1,
 * decisions.jsonl-20261130, their .gz), oldest first.  Records are appended
 * in time order, so a time window is found by binary search on file offsets
 * and the last N records by reading backwards from the end; a reference or
 * a needle is searched in the raw bytes before any line is parsed.  A line
 * that cannot be read as a record is handed to the caller as it is, so
 * that the reader can say so; a line still being written is left alone.
 * "file:DIR?ro" opens for reading only: nothing is created or written.
 *
 * Must never print, never leave a partial line behind without saying so,
 * never write a record anywhere but at the end of the file, and never
 * write anything at all from the read side.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "json.h"
#include "store.h"

typedef struct file_stream {
    pthread_mutex_t mu;     /* one writer per process at a time */
    char *path;
    int fd;                 /* -1 until opened */
    pid_t pid;              /* the process that opened fd */
} file_stream;

typedef struct file_store {
    kyso_store base;
    file_stream streams[2]; /* indexed by kyso_stream */
    int read_only;          /* "?ro": query and follow only */
    unsigned long long max_size;    /* "max_size=N": rotate past N bytes; 0 never */
} file_store;

static const char *const stream_files[2] = {
    [STREAM_DECISIONS] = "decisions.jsonl",
    [STREAM_AUDIT] = "audit.jsonl",
};

/* file_check_dir - is DIR an absolute path to a folder we may write in
 * (or, when RO, read)?  Returns 0, or -1 with the reason in err. */
static int file_check_dir(const char *dir, int ro, char *err, size_t errlen)
{
    struct stat st;
    if (dir[0] != '/') {
        snprintf(err, errlen, "not an absolute path; write file:/path/to/folder");
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "no such directory; create it and give it to the UserID");
        return -1;
    }
    if (ro && access(dir, R_OK | X_OK) < 0) {
        snprintf(err, errlen, "directory not readable by uid %ld (%s); run as its owner "
                 "or a member of its group", (long)geteuid(), strerror(errno));
        return -1;
    }
    if (!ro && access(dir, W_OK | X_OK) < 0) {
        snprintf(err, errlen, "directory not writable by uid %ld (%s); give it to the "
                 "UserID", (long)geteuid(), strerror(errno));
        return -1;
    }
    return 0;
}

/* file_stream_open - (re)open the stream's file for appending, creating it
 * 0640.  Returns 0, or -1 with "PATH: open: why" in err (fd stays -1). */
static int file_stream_open(file_stream *fs, char *err, size_t errlen)
{
    if (fs->fd >= 0)
        close(fs->fd);
    fs->fd = open(fs->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fs->fd < 0) {
        snprintf(err, errlen, "%s: open: %s", fs->path, strerror(errno));
        return -1;
    }
    fs->pid = getpid();
    return 0;
}

/* file_stream_fresh - make fd refer to the file now at the path: reopen
 * when it was never opened, opened before a fork (flock would not keep
 * parent and child apart), or renamed or removed since (logrotate).
 * Returns 0, or -1 with err. */
static int file_stream_fresh(file_stream *fs, char *err, size_t errlen)
{
    struct stat at_path, at_fd;
    if (fs->fd < 0 || fs->pid != getpid())
        return file_stream_open(fs, err, errlen);
    if (stat(fs->path, &at_path) < 0 || fstat(fs->fd, &at_fd) < 0
        || at_path.st_dev != at_fd.st_dev || at_path.st_ino != at_fd.st_ino)
        return file_stream_open(fs, err, errlen);
    return 0;
}

/* file_rotate_locked - FS's file (locked, of SIZE bytes) is full: rename
 * it to PATH-YYYYMMDD-HHMMSS (with -01, -02... when taken), open a new file
 * and lock it.  Other writers notice the rename before their next append
 * (file_stream_fresh); kyso log reads the renamed files too.  Returns 0,
 * or -1 with err (the old file is then kept and used). */
static int file_rotate_locked(file_stream *fs, char *err, size_t errlen)
{
    char stamp[32], *to = NULL;
    struct tm tm;
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
    for (int i = 0; i < 100 && to == NULL; i++) {
        if ((i == 0 ? asprintf(&to, "%s-%s", fs->path, stamp)
                    : asprintf(&to, "%s-%s-%02d", fs->path, stamp, i)) < 0)
            to = NULL;
        else if (access(to, F_OK) == 0) {
            free(to);
            to = NULL;
        }
    }
    if (to == NULL || rename(fs->path, to) < 0) {
        snprintf(err, errlen, "%s: cannot rotate: %s", fs->path,
                 to ? strerror(errno) : "no free name");
        free(to);
        return -1;
    }
    free(to);
    int old = fs->fd;
    fs->fd = -1;
    int rc = file_stream_open(fs, err, errlen);
    flock(old, LOCK_UN);
    if (rc < 0) {
        fs->fd = old;           /* keep writing where we were */
        return -1;
    }
    close(old);
    while (flock(fs->fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* file_append_locked - LINE (N bytes, '\n' included) at the end of the
 * file, with fd's flock held around it.  A write that fails half way is
 * cut back to the size before it.  Returns 0, or -1 with err. */
static int file_append_locked(file_stream *fs, const char *line, size_t n,
                              unsigned long long max_size, char *err, size_t errlen)
{
    struct stat st;
    int rc = 0;
    while (flock(fs->fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "%s: flock: %s", fs->path, strerror(errno));
            return -1;
        }
    }
    if (fstat(fs->fd, &st) == 0 && max_size > 0 && st.st_size > 0 &&
        (unsigned long long)st.st_size + n > max_size) {
        char why[256];
        if (file_rotate_locked(fs, why, sizeof why) == 0 && fstat(fs->fd, &st) < 0)
            st.st_size = 0;     /* a new file: nothing to cut back to */
    }
    if (fstat(fs->fd, &st) < 0) {
        snprintf(err, errlen, "%s: fstat: %s", fs->path, strerror(errno));
        rc = -1;
    } else if (buf_write_all(fs->fd, line, n) < 0) {
        int e = errno;
        rc = -1;
        if (ftruncate(fs->fd, st.st_size) < 0)
            snprintf(err, errlen, "%s: write: %s; a partial line may remain at "
                     "offset %lld (truncate: %s)", fs->path, strerror(e),
                     (long long)st.st_size, strerror(errno));
        else
            snprintf(err, errlen, "%s: write: %s", fs->path, strerror(e));
    }
    flock(fs->fd, LOCK_UN);
    return rc;
}

/* file_append - the backend's append: JSON and '\n' in one write.
 * Returns 0, or -1 with "PATH: what: why" in err. */
static int file_append(kyso_store *s, kyso_stream stream, const char *json,
                       char *err, size_t errlen)
{
    file_stream *fs = &((file_store *)s)->streams[stream];
    if (((file_store *)s)->read_only) {
        snprintf(err, errlen, "%s: the store was opened read-only", fs->path);
        return -1;
    }
    size_t n = strlen(json);
    char *line = malloc(n + 1);
    if (line == NULL) {
        snprintf(err, errlen, "%s: out of memory for a record of %zu bytes", fs->path, n);
        return -1;
    }
    memcpy(line, json, n);
    line[n] = '\n';
    pthread_mutex_lock(&fs->mu);
    int rc = file_stream_fresh(fs, err, errlen);
    if (rc == 0)
        rc = file_append_locked(fs, line, n + 1, ((file_store *)s)->max_size, err, errlen);
    pthread_mutex_unlock(&fs->mu);
    free(line);
    return rc;
}

/* file_close - the backend's close: files closed, memory freed. */
static void file_close(kyso_store *s)
{
    file_store *f = (file_store *)s;
    for (int i = 0; i < 2; i++) {
        if (f->streams[i].fd >= 0)
            close(f->streams[i].fd);
        free(f->streams[i].path);
        pthread_mutex_destroy(&f->streams[i].mu);
    }
    free(f);
}

/* ----------------------------------------------------------- read side */

#define READ_CHUNK      (4u << 20)  /* bytes read at a time */
#define READ_MAX_LINE   (16u << 20) /* a longer line is handed over cut */
#define PROBE_BYTES     16384       /* read around a binary search point */
#define TIME_SLACK_MS   60000LL     /* how far out of time order records may be */
#define FOLLOW_POLL_NS  200000000L  /* follow: look for new records every 0.2 s */

/* One file of a stream: a rotated one or the current one. */
typedef struct file_part {
    char *path;
    int gz;                     /* compressed by logrotate */
    long long mtime_ms;         /* no record in it is later than this */
} file_part;

/* A substring to look for in raw lines: exact (a reference, through
 * memmem) or ASCII case-insensitive (a needle: 16 positions at a time are
 * tested on two of its rarest-looking bytes, then compared whole). */
typedef struct finder {
    unsigned char *pat;         /* lower-cased when icase */
    size_t len;
    int icase;
    size_t i1, i2;              /* the two bytes tested first */
} finder;

/* A line of a block that passed the raw filters. */
typedef struct line_ref {
    size_t off, len;
} line_ref;

/* A kept record (limit mode): a copy, since blocks are reused. */
typedef struct kept_rec {
    char *p;
    size_t n;
} kept_rec;

/* A query in progress. */
typedef struct file_scan {
    const kyso_query *q;
    store_record_fn fn;
    void *arg;
    finder ref, needle;         /* pat NULL when not asked for */
    line_ref *lines;            /* candidates of the current block */
    size_t nlines, caplines;
    kept_rec *kept;             /* limit mode: newest first */
    size_t nkept;
    kept_rec *ring;             /* limit mode, forward files: the last ones */
    size_t ringcap, ringlen, ringpos;
    char *buf;                  /* the block buffer */
    size_t bufcap;
    int stop;                   /* FN asked to stop, or the limit is reached */
    char *err;
    size_t errlen;
} file_scan;

typedef unsigned char v16u __attribute__((vector_size(16)));
typedef signed char v16s __attribute__((vector_size(16)));

/* byte_rarity - how rare byte C (lower case) looks in a record, higher
 * meaning rarer, to pick the bytes a search tests first. */
static int byte_rarity(unsigned char c)
{
    if (c == '"' || c == ' ' || c == ',' || c == ':')
        return 0;
    if (c >= 'a' && c <= 'z')
        return strchr("kxjqz", c) ? 4 : strchr("gmfpywbv", c) ? 3 : 2;
    if (c == '@')
        return 6;
    if ((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
        return 3;
    return 5;
}

/* fold_mask - what OR-ing a byte with makes both cases of C equal to C:
 * 0x20 for a (lower-case) letter, 0 for anything else. */
static unsigned char fold_mask(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? 0x20 : 0;
}

/* finder_init - F finds PAT (exactly, or ASCII case-insensitively when
 * ICASE); PAT NULL or "" leaves F empty.  Returns 0, or -1 when out of
 * memory. */
static int finder_init(finder *f, const char *pat, int icase)
{
    memset(f, 0, sizeof *f);
    if (pat == NULL || *pat == '\0')
        return 0;
    f->len = strlen(pat);
    if ((f->pat = malloc(f->len)) == NULL)
        return -1;
    f->icase = icase;
    for (size_t i = 0; i < f->len; i++) {
        unsigned char c = (unsigned char)pat[i];
        f->pat[i] = icase && c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
    }
    for (size_t i = 1; i < f->len; i++)
        if (byte_rarity(f->pat[i]) > byte_rarity(f->pat[f->i1]))
            f->i1 = i;
    f->i2 = f->i1 == 0 && f->len > 1 ? 1 : 0;
    for (size_t i = 0; i < f->len; i++)
        if (i != f->i1 && byte_rarity(f->pat[i]) > byte_rarity(f->pat[f->i2]))
            f->i2 = i;
    return 0;
}

/* finder_equal - does the text at P equal the pattern (in F's sense)? */
static int finder_equal(const finder *f, const unsigned char *p)
{
    if (!f->icase)
        return memcmp(p, f->pat, f->len) == 0;
    for (size_t i = 0; i < f->len; i++) {
        unsigned char c = p[i];
        if ((c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c) != f->pat[i])
            return 0;
    }
    return 1;
}

/* finder_next - the first match in [P, END), or NULL.  Case-insensitive:
 * blocks of 16 candidate starts are tested on bytes i1 and i2 of the
 * pattern with vector compares (GCC/clang vector extensions, any target),
 * the rare survivors compared whole; the last starts one by one. */
static const char *finder_next(const finder *f, const char *p, const char *end)
{
    if ((size_t)(end - p) < f->len)
        return NULL;
    if (!f->icase)
        return memmem(p, (size_t)(end - p), f->pat, f->len);
    const unsigned char *s = (const unsigned char *)p;
    const unsigned char *stop = (const unsigned char *)end - f->len;   /* last start */
    unsigned char c1 = f->pat[f->i1], c2 = f->pat[f->i2];
    unsigned char m1 = fold_mask(c1), m2 = fold_mask(c2);
    v16u want1 = c1 - (v16u){0}, want2 = c2 - (v16u){0};
    v16u mask1 = m1 - (v16u){0}, mask2 = m2 - (v16u){0};
    for (; stop - s >= 15; s += 16) {
        v16u a, b;
        unsigned long long w[2];
        memcpy(&a, s + f->i1, 16);
        memcpy(&b, s + f->i2, 16);
        v16s hit = ((a | mask1) == want1) & ((b | mask2) == want2);
        memcpy(w, &hit, sizeof w);
        for (int k = 0; (w[0] | w[1]) != 0 && k < 16; k++)
            if (hit[k] && finder_equal(f, s + k))
                return (const char *)(s + k);
    }
    for (; s <= stop; s++)
        if ((s[f->i1] | m1) == c1 && finder_equal(f, s))
            return (const char *)s;
    return NULL;
}

/* finder_in - does the N bytes at P contain F's pattern? */
static int finder_in(const finder *f, const char *p, size_t n)
{
    return finder_next(f, p, p + n) != NULL;
}

/* line_ref_is - is the record in the N bytes at P the one of reference
 * REF?  1 yes, 0 no, and 1 too when the line cannot be parsed (the caller
 * then says it is damaged rather than have it vanish). */
static int line_ref_is(const char *p, size_t n, const char *ref)
{
    char err[8];
    json_doc *d = json_parse(p, n, 0, 0, err, sizeof err);
    if (d == NULL)
        return 1;
    const char *r = json_get_string(json_root(d), "ref");
    int same = r != NULL && strcmp(r, ref) == 0;
    json_free(d);
    return same;
}

/* line_passes - the raw filters of the query for a line the first finder
 * found (or any line when there is none): needle, reference, window.  A
 * line whose time cannot be read stays in. */
static int line_passes(file_scan *sc, const char *p, size_t n)
{
    const kyso_query *q = sc->q;
    if (n == 0)
        return 0;
    if (sc->ref.pat != NULL && sc->needle.pat != NULL && !finder_in(&sc->needle, p, n))
        return 0;
    if (sc->ref.pat != NULL && !line_ref_is(p, n, q->ref))
        return 0;
    long long t;
    if ((q->since_ms > 0 || q->until_ms > 0) && json_record_time(p, n, &t) == 0) {
        if (q->since_ms > 0 && t < q->since_ms)
            return 0;
        if (q->until_ms > 0 && t > q->until_ms)
            return 0;
    }
    return 1;
}

/* scan_push_line - remember a candidate; 0, or -1 when out of memory. */
static int scan_push_line(file_scan *sc, size_t off, size_t len)
{
    if (sc->nlines == sc->caplines) {
        size_t cap = sc->caplines ? sc->caplines * 2 : 256;
        line_ref *l = realloc(sc->lines, cap * sizeof *l);
        if (l == NULL)
            return -1;
        sc->lines = l;
        sc->caplines = cap;
    }
    sc->lines[sc->nlines].off = off;
    sc->lines[sc->nlines++].len = len;
    return 0;
}

/* scan_block - the candidates among the complete lines of the N bytes at
 * BUF, in text order, into sc->lines.  With a reference or a needle, only
 * the lines holding it are looked at.  Returns 0, or -1 with err. */
static int scan_block(file_scan *sc, const char *buf, size_t n)
{
    finder *f = sc->ref.pat ? &sc->ref : sc->needle.pat ? &sc->needle : NULL;
    const char *p = buf, *end = buf + n;
    sc->nlines = 0;
    while (p < end) {
        const char *ls = p, *le;
        if (f) {
            const char *h = finder_next(f, p, end);
            if (h == NULL)
                break;
            const char *nl = memrchr(p, '\n', (size_t)(h - p));
            ls = nl ? nl + 1 : p;
            le = memchr(h, '\n', (size_t)(end - h));
        } else {
            le = memchr(p, '\n', (size_t)(end - p));
        }
        if (le == NULL)
            le = end;
        if (line_passes(sc, ls, (size_t)(le - ls))
            && scan_push_line(sc, (size_t)(ls - buf), (size_t)(le - ls)) < 0) {
            snprintf(sc->err, sc->errlen, "out of memory");
            return -1;
        }
        p = le + 1;
    }
    return 0;
}

/* rec_copy - a kept copy of N bytes at P; 0, or -1 when out of memory. */
static int rec_copy(kept_rec *k, const char *p, size_t n)
{
    if ((k->p = malloc(n ? n : 1)) == NULL)
        return -1;
    memcpy(k->p, p, n);
    k->n = n;
    return 0;
}

/* scan_keep - limit mode, newest first: keep one more record; the limit
 * reached sets sc->stop.  Returns 0, or -1 with err. */
static int scan_keep(file_scan *sc, const char *p, size_t n)
{
    if (rec_copy(&sc->kept[sc->nkept], p, n) < 0) {
        snprintf(sc->err, sc->errlen, "out of memory");
        return -1;
    }
    if (++sc->nkept >= sc->q->limit)
        sc->stop = 1;
    return 0;
}

/* scan_ring_put - limit mode, a file read forwards: keep the last
 * ringcap records seen.  Returns 0, or -1 with err. */
static int scan_ring_put(file_scan *sc, const char *p, size_t n)
{
    kept_rec *slot = &sc->ring[sc->ringpos];
    free(slot->p);
    slot->p = NULL;
    if (rec_copy(slot, p, n) < 0) {
        snprintf(sc->err, sc->errlen, "out of memory");
        return -1;
    }
    sc->ringpos = (sc->ringpos + 1) % sc->ringcap;
    if (sc->ringlen < sc->ringcap)
        sc->ringlen++;
    return 0;
}

/* scan_deliver - hand the block's candidates over: to FN in text order
 * (no limit), into the ring (limit, forwards), or kept newest first
 * (limit, BACKWARDS).  Returns 0, or -1 with err. */
static int scan_deliver(file_scan *sc, const char *buf, int backwards)
{
    for (size_t i = 0; i < sc->nlines && !sc->stop; i++) {
        const line_ref *l = &sc->lines[backwards ? sc->nlines - 1 - i : i];
        int rc = 0;
        if (sc->q->limit == 0) {
            if (sc->fn(buf + l->off, l->len, sc->arg) != 0)
                sc->stop = 1;
        } else if (backwards) {
            rc = scan_keep(sc, buf + l->off, l->len);
        } else {
            rc = scan_ring_put(sc, buf + l->off, l->len);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* read_at - up to N bytes at OFF into BUF (loops on short reads and
 * EINTR).  Returns the bytes read (fewer at end of file), or -1. */
static ssize_t read_at(int fd, char *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* scan_grow - double the block buffer (up to READ_MAX_LINE); 0, or -1
 * when it is at its bound already or out of memory. */
static int scan_grow(file_scan *sc)
{
    if (sc->bufcap >= READ_MAX_LINE)
        return -1;
    char *b = realloc(sc->buf, sc->bufcap * 2);
    if (b == NULL)
        return -1;
    sc->buf = b;
    sc->bufcap *= 2;
    return 0;
}

/* last_line_end - the offset just past the last '\n' of the first SIZE
 * bytes of FD: a last line without one is still being written.  -1 on a
 * read error. */
static off_t last_line_end(int fd, off_t size)
{
    char tail[4096];
    off_t end = size;
    while (end > 0) {
        off_t start = end > (off_t)sizeof tail ? end - (off_t)sizeof tail : 0;
        ssize_t r = read_at(fd, tail, (size_t)(end - start), start);
        if (r < 0)
            return -1;
        const char *nl = memrchr(tail, '\n', (size_t)r);
        if (nl != NULL)
            return start + (nl - tail) + 1;
        end = start;
    }
    return 0;
}

/* probe_time - the time of the first line with a readable time among
 * those starting in [P, HI) and within PROBE_BYTES of P; its start in
 * *LS.  Returns 1, 0 when no line starts in [P, HI), -1 when none of the
 * lines looked at has a readable time (or on a read error). */
static int probe_time(int fd, off_t p, off_t hi, long long *t, off_t *ls)
{
    char w[PROBE_BYTES];
    off_t from = p > 0 ? p - 1 : 0;
    off_t to = hi - from < (off_t)sizeof w ? hi : from + (off_t)sizeof w;
    ssize_t r = read_at(fd, w, (size_t)(to - from), from);
    if (r < 0)
        return -1;
    const char *q = w, *end = w + r;
    if (p > 0) {
        q = memchr(w, '\n', (size_t)r);
        if (q == NULL)
            return to >= hi ? 0 : -1;
        q++;
    }
    if (q >= end)
        return to >= hi ? 0 : -1;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (nl == NULL)
            return -1;
        if (json_record_time(q, (size_t)(nl - q), t) == 0) {
            *ls = from + (q - w);
            return 1;
        }
        q = nl + 1;
    }
    return to >= hi ? 0 : -1;
}

/* line_start_from - the first line start at or after P (P itself when it
 * follows a '\n'), or HI when there is none before HI. */
static off_t line_start_from(int fd, off_t p, off_t hi)
{
    char w[4096];
    if (p <= 0)
        return 0;
    for (off_t at = p - 1; at < hi; at += (off_t)sizeof w) {
        size_t want = hi - at < (off_t)sizeof w ? (size_t)(hi - at) : sizeof w;
        ssize_t r = read_at(fd, w, want, at);
        if (r <= 0)
            return hi;
        const char *nl = memchr(w, '\n', (size_t)r);
        if (nl != NULL)
            return at + (nl - w) + 1 < hi ? at + (nl - w) + 1 : hi;
    }
    return hi;
}

/* seek_time - the start of the first line in [LO, HI) of a time-ordered
 * file whose time is TARGET or later (HI when none is), by binary search
 * on offsets.  A stretch without readable times counts as late, which
 * only makes the scan that follows start earlier. */
static off_t seek_time(int fd, off_t lo, off_t hi, long long target)
{
    off_t a = lo, b = hi;
    while (a < b) {
        off_t mid = a + (b - a) / 2, ls;
        long long t;
        int r = probe_time(fd, mid, hi, &t, &ls);
        if (r == 1 && t < target)
            a = ls + 1;
        else
            b = mid;
    }
    return a == lo ? lo : line_start_from(fd, a, hi);
}

/* scan_plain_forward - the lines in [LO, HI) of FD, block by block, in
 * text order.  Returns 0, or -1 with err. */
static int scan_plain_forward(file_scan *sc, const char *path, int fd, off_t lo, off_t hi)
{
    off_t pos = lo;
    while (pos < hi && !sc->stop) {
        size_t want = hi - pos < (off_t)sc->bufcap ? (size_t)(hi - pos) : sc->bufcap;
        off_t next = pos + (off_t)want;
        if (next < hi)      /* keep two blocks in flight while this one is scanned */
            posix_fadvise(fd, next, hi - next < 2 * (off_t)want ? hi - next : 2 * (off_t)want,
                          POSIX_FADV_WILLNEED);
        ssize_t r = read_at(fd, sc->buf, want, pos);
        if (r <= 0) {
            if (r < 0)
                snprintf(sc->err, sc->errlen, "%s: read: %s", path, strerror(errno));
            return r < 0 ? -1 : 0;
        }
        const char *nl = memrchr(sc->buf, '\n', (size_t)r);
        size_t n = nl ? (size_t)(nl - sc->buf) + 1 : (size_t)r;
        if (nl == NULL && pos + r < hi && scan_grow(sc) == 0)
            continue;       /* a line longer than the buffer: read it whole */
        if (scan_block(sc, sc->buf, n) < 0 || scan_deliver(sc, sc->buf, 0) < 0)
            return -1;
        pos += (off_t)n;
    }
    return 0;
}

/* scan_plain_backward - the lines in [LO, HI) of FD, block by block from
 * the end, newest first (limit mode).  Returns 0, or -1 with err. */
static int scan_plain_backward(file_scan *sc, const char *path, int fd, off_t lo, off_t hi)
{
    off_t end = hi;
    while (end > lo && !sc->stop) {
        size_t want = end - lo < (off_t)sc->bufcap ? (size_t)(end - lo) : sc->bufcap;
        off_t start = end - (off_t)want;
        off_t ahead = start - lo < 2 * (off_t)want ? start - lo : 2 * (off_t)want;
        if (ahead > 0)      /* the kernel reads ahead forwards only: ask for ours */
            posix_fadvise(fd, start - ahead, ahead, POSIX_FADV_WILLNEED);
        ssize_t r = read_at(fd, sc->buf, want, start);
        if (r != (ssize_t)want) {
            snprintf(sc->err, sc->errlen, "%s: read: %s", path,
                     r < 0 ? strerror(errno) : "file shrank while read");
            return -1;
        }
        size_t skip = 0;
        if (start > lo) {
            const char *nl = memchr(sc->buf, '\n', want);
            if ((nl == NULL || (size_t)(nl - sc->buf) + 1 == want) && scan_grow(sc) == 0)
                continue;   /* the block holds no whole line: read more */
            skip = nl && (size_t)(nl - sc->buf) + 1 < want ? (size_t)(nl - sc->buf) + 1 : 0;
        }
        if (scan_block(sc, sc->buf + skip, want - skip) < 0
            || scan_deliver(sc, sc->buf + skip, 1) < 0)
            return -1;
        end = start + (off_t)skip;
    }
    return 0;
}

/* scan_plain - one uncompressed file: the window found by binary search,
 * then read forwards, or backwards in limit mode.  A file gone since it
 * was listed is skipped.  Returns 0, or -1 with err. */
static int scan_plain(file_scan *sc, const file_part *part)
{
    int fd = open(part->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(sc->err, sc->errlen, "%s: open: %s", part->path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    off_t lo = 0, hi;
    if (fstat(fd, &st) < 0 || (hi = last_line_end(fd, st.st_size)) < 0) {
        snprintf(sc->err, sc->errlen, "%s: read: %s", part->path, strerror(errno));
        goto out;
    }
    if (sc->q->since_ms > 0)
        lo = seek_time(fd, 0, hi, sc->q->since_ms - TIME_SLACK_MS);
    if (sc->q->until_ms > 0)
        hi = seek_time(fd, lo, hi, sc->q->until_ms + TIME_SLACK_MS);
    rc = sc->q->limit ? scan_plain_backward(sc, part->path, fd, lo, hi)
                      : scan_plain_forward(sc, part->path, fd, lo, hi);
out:
    close(fd);
    return rc;
}

/* scan_gz - one compressed file, read forwards whole (no seeking in a
 * gzip stream); a last line without '\n' is dropped, a line longer than
 * READ_MAX_LINE is handed over cut.  Returns 0, or -1 with err. */
static int scan_gz(file_scan *sc, const file_part *part)
{
    gzFile gz = gzopen(part->path, "rb");
    if (gz == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(sc->err, sc->errlen, "%s: open: %s", part->path, strerror(errno));
        return -1;
    }
    gzbuffer(gz, 256u << 10);
    size_t have = 0;
    int rc = 0;
    while (!sc->stop) {
        int got = 1, full = have == sc->bufcap && scan_grow(sc) < 0;
        if (!full && (got = gzread(gz, sc->buf + have, (unsigned)(sc->bufcap - have))) < 0) {
            int e;
            snprintf(sc->err, sc->errlen, "%s: gzip: %s", part->path, gzerror(gz, &e));
            rc = -1;
            break;
        }
        if (!full)
            have += (size_t)got;
        const char *nl = memrchr(sc->buf, '\n', have);
        size_t n = nl ? (size_t)(nl - sc->buf) + 1 : full ? have : 0;
        if (n > 0 && (scan_block(sc, sc->buf, n) < 0 || scan_deliver(sc, sc->buf, 0) < 0)) {
            rc = -1;
            break;
        }
        memmove(sc->buf, sc->buf + n, have - n);
        have -= n;
        if (!full && got == 0)
            break;
    }
    gzclose(gz);
    return rc;
}

/* part_is_rotated - is NAME a rotated copy of BASE: BASE, '.' or '-',
 * digits (and '-', '_' of a date format), optionally ".gz"?  Sets *gz. */
static int part_is_rotated(const char *name, const char *base, int *gz)
{
    size_t bl = strlen(base), nl = strlen(name);
    if (nl <= bl + 1 || strncmp(name, base, bl) != 0 || (name[bl] != '.' && name[bl] != '-'))
        return 0;
    *gz = nl > bl + 4 && strcmp(name + nl - 3, ".gz") == 0;
    size_t end = *gz ? nl - 3 : nl, digits = 0;
    for (size_t i = bl + 1; i < end; i++) {
        if (name[i] >= '0' && name[i] <= '9')
            digits++;
        else if (name[i] != '-' && name[i] != '_')
            return 0;
    }
    return digits > 0;
}

/* part_cmp - oldest first: by modification time, then by name. */
static int part_cmp(const void *a, const void *b)
{
    const file_part *x = a, *y = b;
    if (x->mtime_ms != y->mtime_ms)
        return x->mtime_ms < y->mtime_ms ? -1 : 1;
    /* same time: dated names (ours, logrotate's dateext) sort as written,
     * numbered ones (logrotate's .1 is the newest) the other way round */
    int xd = strstr(x->path, ".jsonl-") != NULL, yd = strstr(y->path, ".jsonl-") != NULL;
    if (xd && yd)
        return strcmp(x->path, y->path);
    return strcmp(y->path, x->path);
}

/* parts_free - N parts and the array. */
static void parts_free(file_part *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

/* parts_add - one more part at PATH if it is a regular file; 0, or -1
 * when out of memory. */
static int parts_add(file_part **v, size_t *n, size_t *cap, char *path, int gz)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return 0;
    }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        file_part *nv = realloc(*v, c * sizeof *nv);
        if (nv == NULL) {
            free(path);
            return -1;
        }
        *v = nv;
        *cap = c;
    }
    (*v)[*n].path = path;
    (*v)[*n].gz = gz;
    (*v)[*n].mtime_ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    (*n)++;
    return 0;
}

/* parts_list - the files of the stream at PATH, oldest first: rotated
 * copies in its folder, then PATH itself (when they exist).  Returns 0
 * with *out and *n, or -1 with err. */
static int parts_list(const char *path, file_part **out, size_t *n, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char *dir = strndup(path, slash > path ? (size_t)(slash - path) : 1);
    const char *base = slash + 1;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    DIR *d = dir ? opendir(dir) : NULL;
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", dir ? dir : path, dir ? strerror(errno) : "out of memory");
        free(dir);
        return -1;
    }
    struct dirent *e;
    int rc = 0, gz;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *p;
        if (part_is_rotated(e->d_name, base, &gz))
            rc = asprintf(&p, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name) < 0
                 ? -1 : parts_add(out, n, &cap, p, gz);
    }
    closedir(d);
    free(dir);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, part_cmp);
    char *cur = rc == 0 ? strdup(path) : NULL;
    if (rc == 0)
        rc = cur ? parts_add(out, n, &cap, cur, 0) : -1;
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        parts_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* scan_part - one file, unless its time rules it out: no record in a file
 * is later than its modification time.  Returns 0, or -1 with err. */
static int scan_part(file_scan *sc, const file_part *part)
{
    if (sc->q->since_ms > 0 && part->mtime_ms < sc->q->since_ms - TIME_SLACK_MS)
        return 0;
    if (!part->gz)
        return scan_plain(sc, part);
    if (sc->q->limit == 0)
        return scan_gz(sc, part);
    /* limit mode: the file's last records go through the ring */
    sc->ringcap = sc->q->limit - sc->nkept;
    sc->ringlen = sc->ringpos = 0;
    if ((sc->ring = calloc(sc->ringcap, sizeof *sc->ring)) == NULL) {
        snprintf(sc->err, sc->errlen, "out of memory");
        return -1;
    }
    int rc = scan_gz(sc, part);
    for (size_t i = 0; i < sc->ringlen; i++) {
        size_t at = (sc->ringpos + sc->ringcap - 1 - i) % sc->ringcap;
        sc->kept[sc->nkept++] = sc->ring[at];
        sc->ring[at].p = NULL;
    }
    for (size_t i = 0; i < sc->ringcap; i++)
        free(sc->ring[i].p);
    free(sc->ring);
    sc->ring = NULL;
    if (sc->nkept >= sc->q->limit)
        sc->stop = 1;
    return rc;
}

/* scan_free - what a scan holds. */
static void scan_free(file_scan *sc)
{
    free(sc->ref.pat);
    free(sc->needle.pat);
    free(sc->lines);
    for (size_t i = 0; i < sc->nkept; i++)
        free(sc->kept[i].p);
    free(sc->kept);
    free(sc->buf);
}

/* scan_init - set up a scan of Q; 0, or -1 with err. */
static int scan_init(file_scan *sc, const kyso_query *q, store_record_fn fn, void *arg,
                     char *err, size_t errlen)
{
    memset(sc, 0, sizeof *sc);
    sc->q = q;
    sc->fn = fn;
    sc->arg = arg;
    sc->err = err;
    sc->errlen = errlen;
    sc->bufcap = READ_CHUNK;
    if (finder_init(&sc->ref, q->ref, 0) < 0 || finder_init(&sc->needle, q->needle, 1) < 0
        || (sc->buf = malloc(sc->bufcap)) == NULL
        || (q->limit && (sc->kept = calloc(q->limit, sizeof *sc->kept)) == NULL)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* file_query - the backend's query: see store.h.  The needle is matched
 * ASCII case-insensitively (still a superset of the exact match), the
 * reference exactly, the window with the records' own "time" (inclusive
 * at both ends); limit mode reads newest first, then hands the kept
 * records to FN oldest first.  Returns 0, or -1 with "PATH: what: why". */
static int file_query(kyso_store *s, kyso_stream stream, const kyso_query *q,
                      store_record_fn fn, void *arg, char *err, size_t errlen)
{
    file_stream *fs = &((file_store *)s)->streams[stream];
    file_scan sc;
    file_part *parts;
    size_t nparts;
    if (scan_init(&sc, q, fn, arg, err, errlen) < 0
        || parts_list(fs->path, &parts, &nparts, err, errlen) < 0) {
        scan_free(&sc);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < nparts && rc == 0 && !sc.stop; i++)
        rc = scan_part(&sc, &parts[q->limit ? nparts - 1 - i : i]);
    for (size_t i = sc.nkept; rc == 0 && i > 0; i--)
        if (fn(sc.kept[i - 1].p, sc.kept[i - 1].n, arg) != 0)
            break;
    parts_free(parts, nparts);
    scan_free(&sc);
    return rc;
}

/* follow_line - one complete line to FN (joined to the PART kept from
 * the last read when there is one).  Returns FN's answer, or 0 for an
 * empty line. */
static int follow_line(kyso_buf *part, const char *p, size_t n, store_record_fn fn, void *arg)
{
    if (part->len > 0) {
        buf_append(part, p, n);
        p = part->p;
        n = part->len;
    }
    int rc = n > 0 && !part->oom ? fn(p, n, arg) : 0;
    part->len = 0;
    part->oom = 0;
    return rc;
}

/* follow_drain - the bytes of FD from *OFF to its end: complete lines to
 * FN, a last partial one kept in PART (dropped past READ_MAX_LINE).
 * Returns 0, 1 when FN asked to stop, or -1 with err. */
static int follow_drain(int fd, const char *path, off_t *off, kyso_buf *part,
                        store_record_fn fn, void *arg, char *err, size_t errlen)
{
    char chunk[65536];
    for (;;) {
        ssize_t r = read_at(fd, chunk, sizeof chunk, *off);
        if (r < 0) {
            snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
            return -1;
        }
        if (r == 0)
            return 0;
        *off += r;
        const char *p = chunk, *end = chunk + r;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL) {
                if (part->len + (size_t)(end - p) > READ_MAX_LINE)
                    part->len = 0;
                else
                    buf_append(part, p, (size_t)(end - p));
                break;
            }
            if (follow_line(part, p, (size_t)(nl - p), fn, arg) != 0)
                return 1;
            p = nl + 1;
        }
    }
}

/* follow_sleep - wait one poll interval (less when a signal comes). */
static void follow_sleep(void)
{
    struct timespec ts = {0, FOLLOW_POLL_NS};
    nanosleep(&ts, NULL);
}

/* follow_check - after a drain: has the file at PATH been rotated away or
 * removed (then *FD is drained once more for a record that was being
 * written, closed and set to -1) or truncated in place (then *OFF goes
 * back to 0)?  Returns what follow_drain returned for the last drain. */
static int follow_check(const char *path, int *fd, off_t *off, kyso_buf *part,
                        store_record_fn fn, void *arg, char *err, size_t errlen)
{
    struct stat at_path, at_fd;
    int gone = stat(path, &at_path) < 0;
    if (fstat(*fd, &at_fd) < 0)
        gone = 1;
    if (gone || at_path.st_ino != at_fd.st_ino || at_path.st_dev != at_fd.st_dev) {
        int rc = follow_drain(*fd, path, off, part, fn, arg, err, errlen);
        close(*fd);
        *fd = -1;
        *off = 0;
        part->len = 0;
        return rc;
    }
    if (at_path.st_size < *off) {
        *off = 0;
        part->len = 0;
    }
    return 0;
}

/* follow_open - open the stream's file for reading; -1 with errno when it
 * is not there (yet). */
static int follow_open(const char *path)
{
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* file_follow - the backend's follow: see store.h.  Starts at the end of
 * the last complete line; polls every 0.2 s; a rotated file is read to its
 * end before the new one is read from its start; a file truncated in
 * place is read again from its start.  Returns 0 (FN or STOP ended it),
 * or -1 with "PATH: what: why". */
static int file_follow(kyso_store *s, kyso_stream stream, store_record_fn fn, void *arg,
                       volatile int *stop, char *err, size_t errlen)
{
    const char *path = ((file_store *)s)->streams[stream].path;
    kyso_buf part = {0};
    off_t off = 0;
    struct stat st;
    int rc = 0, fd = follow_open(path);
    if (fd < 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    if (fd >= 0 && (fstat(fd, &st) < 0 || (off = last_line_end(fd, st.st_size)) < 0)) {
        snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    while (!*stop && rc == 0) {
        if (fd >= 0 && (rc = follow_drain(fd, path, &off, &part, fn, arg, err, errlen)) == 0)
            rc = follow_check(path, &fd, &off, &part, fn, arg, err, errlen);
        if (rc != 0)
            break;
        if (fd < 0 && (fd = follow_open(path)) >= 0)
            continue;
        follow_sleep();
    }
    if (fd >= 0)
        close(fd);
    buf_free(&part);
    return rc < 0 ? -1 : 0;
}

/* file_options - the options after '?' in OPTS ("" or "?ro&max_size=N"):
 * "ro" reads only, "max_size=N" rotates a file past N bytes.  0, or -1
 * with err for anything else. */
static int file_options(const char *opts, int *ro, unsigned long long *max_size,
                        char *err, size_t errlen)
{
    const char *p = *opts == '?' ? opts + 1 : opts;
    while (*p) {
        size_t n = strcspn(p, "&");
        char *end = NULL;
        int known = n == 2 && strncmp(p, "ro", 2) == 0;
        if (known)
            *ro = 1;
        else if (n > 9 && strncmp(p, "max_size=", 9) == 0 && p[9] >= '0' && p[9] <= '9')
            known = (*max_size = strtoull(p + 9, &end, 10), end == p + n);
        if (!known) {
            snprintf(err, errlen, "unknown option \"%.*s\" (ro, max_size=BYTES)", (int)n, p);
            return -1;
        }
        p += n + (p[n] == '&');
    }
    return 0;
}

/* file_open - the backend's open: "DIR", or "DIR?ro" to read only.  DIR
 * is checked; for writing, both files are opened now so that a file we
 * may not write is reported at load time; read-only, nothing is opened or
 * created.  Returns the store, or NULL with the reason (without the
 * "Store URI: " prefix). */
static kyso_store *file_open(const char *rest, char *err, size_t errlen)
{
    size_t dl = strcspn(rest, "?");
    int ro = 0;
    unsigned long long max_size = 0;
    if (file_options(rest + dl, &ro, &max_size, err, errlen) < 0)
        return NULL;
    char *dir = strndup(rest, dl);
    file_store *f = dir ? calloc(1, sizeof *f) : NULL;
    if (f == NULL) {
        free(dir);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->base.ops = &store_file_ops;
    f->read_only = ro;
    f->max_size = max_size;
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    for (int i = 0; i < 2; i++) {
        file_stream *fs = &f->streams[i];
        fs->fd = -1;
        pthread_mutex_init(&fs->mu, NULL);
        if (asprintf(&fs->path, "%.*s/%s", (int)dl, dir, stream_files[i]) < 0)
            fs->path = NULL;
    }
    int rc = file_check_dir(dir, ro, err, errlen);
    free(dir);
    for (int i = 0; i < 2 && rc == 0; i++) {
        file_stream *fs = &f->streams[i];
        if (fs->path == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else if (!ro) {
            rc = file_stream_open(fs, err, errlen);
        }
    }
    if (rc < 0) {
        file_close(&f->base);
        return NULL;
    }
    return &f->base;
}

const kyso_store_ops store_file_ops = {
    .scheme = "file",
    .open = file_open,
    .append = file_append,
    .close = file_close,
    .query = file_query,
    .follow = file_follow,
};
