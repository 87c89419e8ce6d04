/*
 * test-store.c - the store front end and the "file:DIR" backend: open
 * errors, records read back as written, concurrent writers in several
 * processes and threads (no line lost, cut or interleaved), logrotate's
 * rename and copytruncate, a write that fails half way, a folder removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

#define NPROC   4
#define NTHREAD 2
#define NREC    2000

static char tmpdir[64];

/* ------------------------------------------------------------- helpers */

/* path_in - TMPDIR/NAME in a static buffer (one of four, rotating). */
static const char *path_in(const char *name)
{
    static char bufs[4][256];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, 256, "%s/%s", tmpdir, name);
    return b;
}

/* slurp - the whole file as a string (caller frees), NULL if unreadable. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *s = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&s, &n);
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(f);
    fclose(m);
    return s;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* open_ok - store_open that must work. */
static kyso_store *open_ok(const char *dir)
{
    char uri[300], err[512] = "";
    snprintf(uri, sizeof uri, "file:%s", dir);
    kyso_store *s = store_open(uri, err, sizeof err);
    if (s == NULL)
        printf("# store_open(%s): %s\n", uri, err);
    return s;
}

/* open_fails - store_open must fail with every one of the NEED strings. */
static void open_fails(const char *uri, const char *what, const char *need1,
                       const char *need2)
{
    char err[512] = "";
    kyso_store *s = store_open(uri, err, sizeof err);
    ok(s == NULL && strstr(err, need1) && (need2 == NULL || strstr(err, need2)),
       "%s refused: %s", what, err);
    store_close(s);
}

/* ---------------------------------------------------------- open errors */

static void test_open_errors(void)
{
    char uri[300];
    snprintf(uri, sizeof uri, "file:%s/missing", tmpdir);
    open_fails(uri, "missing folder", "no such directory; create it", uri);
    open_fails("file:relative/dir", "relative path", "absolute", "file:relative/dir");
    open_fails("file:", "empty path", "absolute", NULL);
    open_fails("nosql:/x", "unknown scheme", "\"nosql\"", "file:");
    open_fails("rediss://127.0.0.1:6379/0", "TLS redis (no TLS in Debian 12's hiredis)",
               "\"rediss\"", "supported: file:");
    char err[512] = "";
    kyso_store *bad = store_open("redis://u:SECRET@:nope/0", err, sizeof err);
    ok(bad == NULL && strstr(err, "Store redis://u:***@") && !strstr(err, "SECRET"),
       "a malformed redis URI is refused without showing its password: %s", err);
    store_close(bad);
    open_fails("/var/lib/kyso", "no scheme", "no scheme", "file:");
    open_fails(NULL, "NULL uri", "no scheme", NULL);

    FILE *f = fopen(path_in("plain"), "w");
    if (f)
        fclose(f);
    snprintf(uri, sizeof uri, "file:%s", path_in("plain"));
    open_fails(uri, "a file, not a folder", "no such directory", NULL);
    unlink(path_in("plain"));

    const char *ro = path_in("ro");
    mkdir(ro, 0500);
    if (geteuid() == 0) {
        ok(1, "# SKIP unwritable folder: root writes anywhere");
    } else {
        snprintf(uri, sizeof uri, "file:%s", ro);
        open_fails(uri, "unwritable folder", "not writable", "UserID");
    }
    rmdir(ro);
}

/* fd_cloexec_to - is there an fd of ours open on PATH, and close-on-exec? */
static int fd_cloexec_to(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = 0, cloexec = 1;
    while (d && (e = readdir(d)) != NULL) {
        char link[300], target[300];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, path) == 0) {
            found = 1;
            cloexec &= (fcntl(atoi(e->d_name), F_GETFD) & FD_CLOEXEC) != 0;
        }
    }
    if (d)
        closedir(d);
    return found && cloexec;
}

/* --------------------------------------------------------- read back */

static void test_append_read(void)
{
    char err[512] = "";
    kyso_store *s = open_ok(tmpdir);
    ok(s != NULL, "open file:%s", tmpdir);
    if (s == NULL)
        return;
    const char *dec = path_in("decisions.jsonl"), *aud = path_in("audit.jsonl");
    struct stat st;
    ok(stat(dec, &st) == 0 && (st.st_mode & 0777) == 0640
       && stat(aud, &st) == 0 && (st.st_mode & 0777) == 0640,
       "both streams created at open, mode 0640");
    ok(fd_cloexec_to(dec), "its descriptor is close-on-exec");
    int rc = store_append(s, STREAM_DECISIONS, "{\"a\":1}", err, sizeof err);
    rc |= store_append(s, STREAM_DECISIONS, "{\"b\":\"C\xc3\xb4ng v\xc4\x83n\"}", err,
                       sizeof err);
    rc |= store_append(s, STREAM_AUDIT, "{\"key\":\"used\"}", err, sizeof err);
    ok(rc == 0, "three appends: %s", rc ? err : "ok");
    char *d = slurp(dec), *a = slurp(aud);
    ok(d && strcmp(d, "{\"a\":1}\n{\"b\":\"C\xc3\xb4ng v\xc4\x83n\"}\n") == 0,
       "decisions read back line by line");
    ok(a && strcmp(a, "{\"key\":\"used\"}\n") == 0, "audit went to its own file");
    free(d);
    free(a);

    long before = file_size(dec);
    err[0] = '\0';
    ok(store_append(s, STREAM_DECISIONS, "{\"a\":\n1}", err, sizeof err) < 0
       && err[0], "a record with a newline refused: %s", err);
    ok(store_append(s, STREAM_DECISIONS, "[1,2]", err, sizeof err) < 0,
       "a record that is not an object refused");
    ok(store_append(s, STREAM_DECISIONS, NULL, err, sizeof err) < 0, "NULL refused");
    ok(store_append(s, (kyso_stream)7, "{}", err, sizeof err) < 0, "unknown stream refused");
    ok(file_size(dec) == before, "refused records left the file alone");
    store_close(s);
    store_close(NULL);
    unlink(dec);
    unlink(aud);
}

/* ------------------------------------------------------ concurrency */

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

/* pad_len - the payload length of record (w, t, seq): mostly short, every
 * 97th one between 4 KiB and just under 64 KiB for the whole line. */
static size_t pad_len(int w, int t, int seq)
{
    uint32_t h = mix((uint32_t)(w * 1000003 + t * 7919 + seq));
    if (seq % 97 == 0)
        return 4096 + h % (65536 - 4096 - 64);
    return h % 600;
}

static char pad_char(int w, int t, int seq, size_t i)
{
    static const char set[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    return set[((size_t)w * 31 + (size_t)t * 17 + (size_t)seq + i * 7) % 62];
}

/* make_record - the JSON of record (w, t, seq) in a malloc'd string. */
static char *make_record(int w, int t, int seq)
{
    size_t n = pad_len(w, t, seq);
    char *s = malloc(n + 64);
    if (s == NULL)
        return NULL;
    int h = sprintf(s, "{\"w\":%d,\"t\":%d,\"seq\":%d,\"pad\":\"", w, t, seq);
    for (size_t i = 0; i < n; i++)
        s[h + i] = pad_char(w, t, seq, i);
    strcpy(s + h + n, "\"}");
    return s;
}

/* check_record - is LINE (N bytes, newline included) exactly the record
 * it claims to be?  Sets the ids; returns 1 or 0. */
static int check_record(const char *line, size_t n, int *w, int *t, int *seq)
{
    int off = -1;
    if (sscanf(line, "{\"w\":%d,\"t\":%d,\"seq\":%d,\"pad\":\"%n", w, t, seq, &off) != 3
        || off < 0 || *w < 0 || *w >= NPROC || *t < 0 || *t >= NTHREAD
        || *seq < 0 || *seq >= NREC)
        return 0;
    size_t len = pad_len(*w, *t, *seq);
    if (n != (size_t)off + len + 3 || strcmp(line + off + len, "\"}\n") != 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (line[off + i] != pad_char(*w, *t, *seq, i))
            return 0;
    return 1;
}

typedef struct writer {
    kyso_store *s;
    int w, t, failed;
} writer;

static void *writer_thread(void *arg)
{
    writer *wr = arg;
    char err[512];
    for (int seq = 0; seq < NREC; seq++) {
        char *rec = make_record(wr->w, wr->t, seq);
        if (rec == NULL || store_append(wr->s, STREAM_DECISIONS, rec, err, sizeof err) < 0) {
            if (wr->failed++ == 0)
                printf("# writer %d/%d: %s\n", wr->w, wr->t, rec ? err : "oom");
        }
        free(rec);
    }
    return NULL;
}

/* writer_process - NTHREAD threads appending to S (or to a store of its
 * own when S is NULL); exits 0 when every append succeeded. */
static void writer_process(kyso_store *s, int w)
{
    if (s == NULL)
        s = open_ok(tmpdir);
    writer wr[NTHREAD];
    pthread_t th[NTHREAD];
    int failed = s == NULL;
    for (int t = 0; s && t < NTHREAD; t++) {
        wr[t] = (writer){ .s = s, .w = w, .t = t };
        pthread_create(&th[t], NULL, writer_thread, &wr[t]);
    }
    for (int t = 0; s && t < NTHREAD; t++) {
        pthread_join(th[t], NULL);
        failed += wr[t].failed;
    }
    fflush(stdout);
    _exit(failed ? 1 : 0);
}

/* tally - check every line of PATH, counting each record seen and
 * marking in WHERE which file (MARK) it was found in. */
static int tally(const char *path, unsigned char (*seen)[NTHREAD][NREC],
                 unsigned char (*where)[NTHREAD][NREC], unsigned char mark, int *bad)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lines = 0;
    while (f && (n = getline(&line, &cap, f)) > 0) {
        int w, t, seq;
        lines++;
        if (check_record(line, (size_t)n, &w, &t, &seq))
            seen[w][t][seq]++, where[w][t][seq] = mark;
        else if ((*bad)++ == 0)
            printf("# bad line %d of %s: %.80s\n", lines, path, line);
    }
    free(line);
    if (f)
        fclose(f);
    return lines;
}

/* test_concurrent - NPROC processes of NTHREAD threads, NREC records each;
 * half share a store opened before fork, half open their own.  The file
 * is renamed away mid-run, as logrotate does. */
static void test_concurrent(void)
{
    static unsigned char seen[NPROC][NTHREAD][NREC], where[NPROC][NTHREAD][NREC];
    const char *dec = path_in("decisions.jsonl"), *old = path_in("decisions.jsonl.1");
    kyso_store *shared = open_ok(tmpdir);
    pid_t pid[NPROC];
    fflush(stdout);
    for (int w = 0; w < NPROC; w++)
        if ((pid[w] = fork()) == 0)
            writer_process(w % 2 ? NULL : shared, w);
    long seen_size = 0;
    for (int i = 0; i < 20000 && (seen_size = file_size(dec)) < 2000000; i++)
        usleep(500);
    int renamed = rename(dec, old) == 0;
    int children_ok = 1;
    for (int w = 0; w < NPROC; w++) {
        int st;
        children_ok &= waitpid(pid[w], &st, 0) == pid[w] && WIFEXITED(st)
                       && WEXITSTATUS(st) == 0;
    }
    store_close(shared);
    ok(children_ok, "%d processes x %d threads appended %d records each", NPROC, NTHREAD,
       NREC);
    ok(renamed && seen_size >= 2000000, "decisions.jsonl renamed away mid-run at %ld bytes",
       seen_size);
    int bad = 0;
    int n_old = tally(old, seen, where, 1, &bad), n_new = tally(dec, seen, where, 2, &bad);
    ok(bad == 0, "every line is exactly a record written (%d bad)", bad);
    ok(n_old > 0 && n_new > 0, "records before the rename stayed (%d), later ones went to "
       "a new decisions.jsonl (%d)", n_old, n_new);
    int lost = 0, twice = 0;
    for (int w = 0; w < NPROC; w++)
        for (int t = 0; t < NTHREAD; t++)
            for (int s = 0; s < NREC; s++)
                lost += seen[w][t][s] == 0, twice += seen[w][t][s] > 1;
    ok(lost == 0 && twice == 0 && n_old + n_new == NPROC * NTHREAD * NREC,
       "none lost (%d), none twice (%d) across both files", lost, twice);
    int back = 0;
    for (int w = 0; w < NPROC; w++)
        for (int t = 0; t < NTHREAD; t++)
            for (int s = 1; s < NREC; s++)
                back += where[w][t][s] < where[w][t][s - 1];
    ok(back == 0, "no writer went back to the old file once it used the new one");
    unlink(dec);
    unlink(old);
    unlink(path_in("audit.jsonl"));
}

/* ---------------------------------------------------------- rotation */

static int count_lines(const char *path)
{
    char *s = slurp(path);
    int n = 0;
    for (char *p = s; p && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

static void test_rotation(void)
{
    char err[512];
    const char *dec = path_in("decisions.jsonl"), *old = path_in("decisions.jsonl.1");
    kyso_store *s = open_ok(tmpdir);
    int rc = 0;
    for (int i = 0; s && i < 10; i++)
        rc |= store_append(s, STREAM_DECISIONS, "{\"before\":1}", err, sizeof err);
    rc |= rename(dec, old);
    for (int i = 0; s && i < 7; i++)
        rc |= store_append(s, STREAM_DECISIONS, "{\"after\":1}", err, sizeof err);
    ok(s && rc == 0 && count_lines(old) == 10 && count_lines(dec) == 7,
       "after mv: 10 records in the old file, 7 in a new one");

    /* logrotate's "create": the new, empty file is there before we write */
    const char *old2 = path_in("decisions.jsonl.2");
    rc = rename(dec, old2);
    int fd = open(dec, O_WRONLY | O_CREAT | O_EXCL, 0640);
    rc |= fd < 0 ? -1 : close(fd);
    for (int i = 0; s && i < 5; i++)
        rc |= store_append(s, STREAM_DECISIONS, "{\"created\":1}", err, sizeof err);
    ok(s && rc == 0 && count_lines(old2) == 7 && count_lines(dec) == 5,
       "after mv and create: 7 records in the old file, 5 in the created one");
    unlink(old2);

    unlink(dec);
    rc = s ? store_append(s, STREAM_DECISIONS, "{\"x\":1}", err, sizeof err) : -1;
    char *c = slurp(dec);
    ok(rc == 0 && c && strcmp(c, "{\"x\":1}\n") == 0, "a removed file is created again");
    free(c);

    if (truncate(dec, 0) < 0)
        printf("# truncate: %s\n", strerror(errno));
    rc = s ? store_append(s, STREAM_DECISIONS, "{\"y\":22}", err, sizeof err) : -1;
    c = slurp(dec);
    ok(rc == 0 && file_size(dec) == 9 && c && strcmp(c, "{\"y\":22}\n") == 0,
       "copytruncate: the next record starts the file, no hole");
    free(c);
    store_close(s);
    unlink(dec);
    unlink(old);
    unlink(path_in("audit.jsonl"));
}

/* ------------------------------------------------------ write failures */

/* test_short_write - a file size limit lets only part of a record in: the
 * append fails and the file is cut back to the records before it. */
static void test_short_write(void)
{
    const char *dec = path_in("decisions.jsonl");
    char *big = make_record(0, 0, 0);       /* seq 0: a large record */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char err[512] = "";
        kyso_store *s = open_ok(tmpdir);
        if (s == NULL || store_append(s, STREAM_DECISIONS, "{\"first\":1}", err,
                                      sizeof err) < 0)
            _exit(2);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 4096, 4096 };
        setrlimit(RLIMIT_FSIZE, &rl);
        int rc = store_append(s, STREAM_DECISIONS, big, err, sizeof err);
        printf("# %s\n", err);
        fflush(stdout);
        _exit(rc < 0 && strstr(err, dec) && strstr(err, strerror(EFBIG)) ? 0 : 3);
    }
    int st;
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "a write cut short by the file size limit fails, naming the path and why");
    char *c = slurp(dec);
    ok(c && strcmp(c, "{\"first\":1}\n") == 0, "and leaves no partial line behind");
    free(c);
    free(big);
    unlink(dec);
    unlink(path_in("audit.jsonl"));
}

/* test_dir_removed - the folder goes away under an open store. */
static void test_dir_removed(void)
{
    char err[512] = "", sub[300];
    snprintf(sub, sizeof sub, "%s/gone", tmpdir);
    mkdir(sub, 0750);
    char uri[320];
    snprintf(uri, sizeof uri, "file:%s/", sub);
    kyso_store *s = store_open(uri, err, sizeof err);
    int rc = s ? store_append(s, STREAM_AUDIT, "{\"a\":1}", err, sizeof err) : -1;
    ok(rc == 0, "append to %s works", uri);
    char dec[340], aud[340];
    snprintf(dec, sizeof dec, "%s/decisions.jsonl", sub);
    snprintf(aud, sizeof aud, "%s/audit.jsonl", sub);
    unlink(dec);
    unlink(aud);
    rmdir(sub);
    err[0] = '\0';
    rc = s ? store_append(s, STREAM_DECISIONS, "{\"a\":2}", err, sizeof err) : 0;
    ok(rc == -1 && strstr(err, dec) && strstr(err, strerror(ENOENT)),
       "append after the folder was removed fails: %s", err);
    rc = s ? store_append(s, STREAM_AUDIT, "{\"a\":3}", err, sizeof err) : 0;
    ok(rc == -1 && strstr(err, aud), "so does the audit stream: %s", err);
    store_close(s);
}

/* count_rec - store_query callback: counts records and checks their order. */
static int count_rec(const char *json, size_t len, void *arg)
{
    int *seen = arg, i = -1;
    (void)len;
    const char *p = strstr(json, "\"i\":");
    if (p)
        i = atoi(p + 4);
    if (i != seen[0])
        seen[1]++;              /* out of order or missing */
    seen[0]++;
    return 0;
}

/* test_size_rotation - "max_size=N": past N bytes the file is renamed
 * aside and a new one begun; no record is lost, and reading back (kyso
 * log's query) sees them all, in order, across the files. */
static void test_size_rotation(void)
{
    char uri[300], err[512], rec[200];
    char *dir = strdup(path_in("rot"));
    mkdir(dir, 0755);
    snprintf(uri, sizeof uri, "file:%s?max_size=2000", dir);
    kyso_store *s = store_open(uri, err, sizeof err);
    ok(s != NULL, "file store with max_size opens: %s", s ? "" : err);
    int failed = 0;
    for (int i = 0; s && i < 100; i++) {
        snprintf(rec, sizeof rec, "{\"time\":\"2026-11-30T10:00:%02d.000+07:00\",\"i\":%d,"
                 "\"pad\":\"%080d\"}", i % 60, i, i);
        failed += store_append(s, STREAM_DECISIONS, rec, err, sizeof err) < 0;
    }
    ok(failed == 0, "100 records of ~130 bytes appended");
    int files = 0, small = 1;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, "decisions.jsonl", 15) != 0)
            continue;
        char *p = NULL;
        struct stat st;
        if (asprintf(&p, "%s/%s", dir, e->d_name) > 0 && stat(p, &st) == 0 && st.st_size > 2000)
            small = 0;
        free(p);
        files++;
    }
    if (d)
        closedir(d);
    ok(files >= 6 && small, "the log was rotated into %d files of at most 2000 bytes", files);
    int seen[2] = {0, 0};
    kyso_query q = {0};
    ok(s && store_query(s, STREAM_DECISIONS, &q, count_rec, seen, err, sizeof err) == 0 &&
       seen[0] == 100 && seen[1] == 0,
       "reading back finds all 100, in order, across the rotated files (%d, %d)",
       seen[0], seen[1]);
    store_close(s);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    free(dir);
}

int main(void)
{
    umask(022);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test-store.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        ok(0, "mkdtemp");
        return tap_done();
    }
    test_open_errors();
    test_append_read();
    test_concurrent();
    test_rotation();
    test_size_rotation();
    test_short_write();
    test_dir_removed();
    rmdir(tmpdir);
    return tap_done();
}
