/*
 * cmd-sign.c - "kyso sign": apply the organisation signature by hand with
 * the same code the milter uses (KeyTable key, token, appearance, audit
 * record).  One file to -o FILE, or many files in one process to -o DIR
 * (what bench/sign measures).  Exit 0 when every file was signed, 1 when
 * some document was refused, 2 on a usage, configuration or token error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "cmd-sign.h"
#include "cmd-store.h"
#include "signset.h"
#include "store.h"


struct sign_opts {
    const char *config, *key, *out, *doc_number;
    int attachment;
};

static void sign_usage(void)
{
    fputs("usage: kyso sign [-c CONFIG] --key NAME [--attachment] [--doc-number TEXT]\n"
          "                 IN.pdf -o OUT.pdf\n"
          "       kyso sign [-c CONFIG] --key NAME -o DIR IN.pdf...\n", stderr);
}

/* copy_prefix - the first N bytes of file IN (all of it; MAPPED is its
 * mapping) into the open file OUT, by the kernel (copy_file_range: no copy
 * through this process, and a reflink on file systems that share blocks),
 * else by write() from MAPPED.  0, or -1 with errno (EAGAIN when the file
 * changed while it was copied). */
static int copy_prefix(const char *in, int out, const unsigned char *mapped, size_t n)
{
    int fd = open(in, O_RDONLY | O_CLOEXEC);
    loff_t off_in = 0;
    size_t done = 0;
    struct stat before, after;
    /* the kernel copies the file as it is now: it must still be what was
     * signed (same size and modification time before and after) */
    if (fd < 0 || fstat(fd, &before) != 0 || (size_t)before.st_size != n) {
        if (fd >= 0)
            close(fd);
        return buf_write_all(out, mapped, n);
    }
    while (fd >= 0 && done < n) {
        ssize_t k = copy_file_range(fd, &off_in, out, NULL, n - done, 0);
        if (k <= 0)
            break;
        done += (size_t)k;
    }
    int same = fstat(fd, &after) == 0 && after.st_size == before.st_size &&
               after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
               after.st_mtim.tv_nsec == before.st_mtim.tv_nsec;
    close(fd);
    if (!same) {
        errno = EAGAIN;
        return -1;              /* changed under us: the caller writes nothing */
    }
    /* not supported across these files, or cut short: write the rest */
    return done == n ? 0 : buf_write_all(out, mapped + done, n - done);
}

/*
 * write_signed - the signed file to PATH (0644), whole or not at all: P
 * (N bytes) starts with the LEN bytes of the input file IN (MAPPED), which
 * the kernel copies; only the update is written from here.
 */
static int write_signed(const char *path, const char *in, const unsigned char *mapped,
                        size_t len, const unsigned char *p, size_t n)
{
    char tmp[4400];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0 && len <= n && copy_prefix(in, fd, mapped, len) == 0 &&
             buf_write_all(fd, p + len, n - len) == 0;
    ok = (fd >= 0 && close(fd) == 0) && ok;
    if (ok && rename(tmp, path) == 0)
        return 0;
    unlink(tmp);
    return -1;
}

/* audit_one - the audit record of a signature made (or refused) by hand. */
static void audit_one(kyso_store *st, const kyso_config *cfg, const kt_key *k, const char *in,
                      const char *why, const unsigned char *a, size_t alen,
                      const unsigned char *b, size_t blen, const pdf_sign_digests *d)
{
    char account[300];
    const char *u = getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
    snprintf(account, sizeof account, "kyso sign (%s)", u ? u : "unknown user");
    signset_audit r = { b ? "signed" : "sign_refused", cfg->node, account, NULL, NULL, in, why,
                        k, a, b, alen, blen, NULL, d };
    char *json = signset_audit_json(&r), err[256];
    if (st && json && store_append(st, STREAM_AUDIT, json, err, sizeof err) < 0)
        fprintf(stderr, "kyso sign: audit record not stored: %s\n", err);
    free(json);
}

/* sign_file - sign IN into OUT.  0 done, 1 refused, 2 error. */
static int sign_file(const signset *ss, const kt_key *k, kyso_store *st, const kyso_config *cfg,
                     const struct sign_opts *o, const char *in, const char *out)
{
    const unsigned char *p;
    size_t n, m;
    unsigned char *res = NULL;
    char err[512];
    pdf_sign_digests dg;
    if (buf_map_file(in, cfg->lim.max_doc_size, &p, &n) != 0) {
        fprintf(stderr, "kyso sign: %s: cannot read (or larger than MaxDocumentSize)\n", in);
        return 2;
    }
    int rc = signset_sign_pdf(ss, k, o->attachment ? AP_ATTACHMENT : AP_SEAL, o->doc_number,
                              time(NULL), p, n, &res, &m, &dg, err, sizeof err);
    int status = 0;
    if (rc == TOKEN_OK && write_signed(out, in, p, n, res, m) != 0) {
        fprintf(stderr, "kyso sign: %s: cannot write: %s\n", out, strerror(errno));
        status = 2;
    } else if (rc != TOKEN_OK) {
        fprintf(stderr, "kyso sign: %s: %s\n", in, err);
        status = rc == PDFS_EREFUSED ? 1 : 2;
    }
    audit_one(st, cfg, k, in, rc == TOKEN_OK ? NULL : err, p, n, rc == TOKEN_OK ? res : NULL, m,
              rc == TOKEN_OK ? &dg : NULL);
    free(res);
    buf_unmap_file(p, n);
    return status;
}

/* parse_opts - options into O; the index of the first file, or -1. */
static int parse_opts(int argc, char **argv, struct sign_opts *o)
{
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
        { "output", required_argument, NULL, 'o' }, { "attachment", no_argument, NULL, 'a' },
        { "doc-number", required_argument, NULL, 'd' }, { NULL, 0, NULL, 0 } };
    int c;
    o->config = CMD_DEFAULT_CONFIG;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:k:o:", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'k': o->key = optarg; break;
        case 'o': o->out = optarg; break;
        case 'a': o->attachment = 1; break;
        case 'd': o->doc_number = optarg; break;
        default: return -1;
        }
    }
    return o->key && o->out && optind < argc ? optind : -1;
}

int cmd_sign(int argc, char **argv)
{
    struct sign_opts o = { 0 };
    char err[1024], warn[1024];
    int first = parse_opts(argc, argv, &o);
    if (first < 0) {
        sign_usage();
        return 2;
    }
    struct stat sb;
    int to_dir = stat(o.out, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (argc - first > 1 && !to_dir) {
        fprintf(stderr, "kyso sign: several files need -o DIR (an existing folder)\n");
        return 2;
    }
    kyso_config *cfg = config_load(o.config, err, sizeof err);
    signset *ss = cfg ? signset_open(cfg, 0, warn, sizeof warn, err, sizeof err) : NULL;
    const kt_key *k = ss && ss->kt ? keytable_find(ss->kt, o.key) : NULL;
    if (k == NULL) {
        fprintf(stderr, "kyso sign: %s\n", !cfg || !ss ? err : !ss->kt
                ? "no SignerTable/KeyTable in the configuration" : "no such key in KeyTable");
        signset_free(ss);
        config_free(cfg);
        return 2;
    }
    kyso_store *st = store_open(cfg->store, err, sizeof err);
    if (st == NULL)
        fprintf(stderr, "kyso sign: store %s: %s (signing goes on, unrecorded)\n", cfg->store, err);
    int worst = 0;
    for (int i = first; i < argc && worst < 2; i++) {
        char out[4200], name[4096];
        snprintf(name, sizeof name, "%s", argv[i]);
        if (to_dir)
            snprintf(out, sizeof out, "%s/%s", o.out, basename(name));
        else
            snprintf(out, sizeof out, "%s", o.out);
        int rc = sign_file(ss, k, st, cfg, &o, argv[i], out);
        worst = rc > worst ? rc : worst;
    }
    store_close(st);
    signset_free(ss);
    config_free(cfg);
    return worst;
}
