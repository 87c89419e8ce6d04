/*
 * store-file.c - the embedded store, "file:DIR": each stream is a JSON Lines
 * file in DIR (decisions.jsonl, audit.jsonl) that any number of threads and
 * processes append to.  One record is one write() of the line and its '\n'
 * under flock(LOCK_EX), so lines never interleave; a file renamed or removed
 * by logrotate is noticed before the next append and created again.
 *
 * Must never print, never leave a partial line behind without saying so,
 * and never write a record anywhere but at the end of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
} file_store;

static const char *const stream_files[2] = {
    [STREAM_DECISIONS] = "decisions.jsonl",
    [STREAM_AUDIT] = "audit.jsonl",
};

/* file_check_dir - is DIR an absolute path to a folder we may write in?
 * Returns 0, or -1 with the reason in err. */
static int file_check_dir(const char *dir, char *err, size_t errlen)
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
    if (access(dir, W_OK | X_OK) < 0) {
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

/* file_write_all - write N bytes at the end of fd; loops on short writes
 * and EINTR.  Returns 0, or -1 with errno set. */
static int file_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* file_append_locked - LINE (N bytes, '\n' included) at the end of the
 * file, with fd's flock held around it.  A write that fails half way is
 * cut back to the size before it.  Returns 0, or -1 with err. */
static int file_append_locked(file_stream *fs, const char *line, size_t n,
                              char *err, size_t errlen)
{
    struct stat st;
    int rc = 0;
    while (flock(fs->fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "%s: flock: %s", fs->path, strerror(errno));
            return -1;
        }
    }
    if (fstat(fs->fd, &st) < 0) {
        snprintf(err, errlen, "%s: fstat: %s", fs->path, strerror(errno));
        rc = -1;
    } else if (file_write_all(fs->fd, line, n) < 0) {
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
        rc = file_append_locked(fs, line, n + 1, err, errlen);
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

/* file_open - the backend's open: DIR checked, both files opened now so
 * that a file we may not write is reported at load time.  Returns the
 * store, or NULL with the reason (without the "Store URI: " prefix). */
static kyso_store *file_open(const char *dir, char *err, size_t errlen)
{
    if (file_check_dir(dir, err, errlen) < 0)
        return NULL;
    file_store *f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->base.ops = &store_file_ops;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    for (int i = 0; i < 2; i++) {
        file_stream *fs = &f->streams[i];
        fs->fd = -1;
        pthread_mutex_init(&fs->mu, NULL);
        if (asprintf(&fs->path, "%.*s/%s", (int)dl, dir, stream_files[i]) < 0)
            fs->path = NULL;
    }
    for (int i = 0; i < 2; i++) {
        file_stream *fs = &f->streams[i];
        if (fs->path == NULL) {
            snprintf(err, errlen, "out of memory");
            file_close(&f->base);
            return NULL;
        }
        if (file_stream_open(fs, err, errlen) < 0) {
            file_close(&f->base);
            return NULL;
        }
    }
    return &f->base;
}

const kyso_store_ops store_file_ops = {
    .scheme = "file",
    .open = file_open,
    .append = file_append,
    .close = file_close,
};
