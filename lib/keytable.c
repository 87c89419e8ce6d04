/*
 * keytable.c - load and check the KeyTable ("KEY-NAME key=... cert=...
 * [option=value...]") and the SignerTable ("AUTH-USER FROM-PATTERN
 * KEY-NAME"), and answer which key an authenticated account may use for a
 * From address.  Formats: kyso-milter.conf(5), SIGNER TABLE AND KEY TABLE.
 * Every problem is fatal and reported once as "FILE:LINE: what is wrong;
 * the fix", in the style of config.c.
 *
 * Must never: print; return a half-loaded table; accept an option, a value
 * or a line it does not understand; read a PIN from a file that others may
 * read or that is a symbolic link; leave a PIN in memory it frees; keep
 * global mutable state.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "appearance.h"
#include "config.h"
#include "keytable.h"

#define KT_LINE_MAX 4096            /* longest table line, as config.c */
#define KT_NAME_MAX 64              /* KEY-NAME */
#define KT_USER_MAX 256             /* AUTH-USER */
#define KT_ORG_MAX 256              /* name=, in bytes */
#define KT_POSITION_MAX 128         /* position= */
#define KT_URL_MAX 1024             /* tsa= */
#define KT_PIN_MAX 256              /* the PIN file, in bytes */
#define KT_CERT_MAX (1u << 20)      /* a certificate or chain file */
#define KT_SEAL_MAX (4u << 20)      /* a seal PNG */
#define KT_DOMAIN_MAX 253
#define KT_LABEL_MAX 63
#define KT_SPACE " \t\r\n\f\v"
#define KT_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* The options of a KeyTable line, in the order of kt_options. */
enum kt_opt { O_KEY, O_CERT, O_CHAIN, O_SEAL, O_NAME, O_PIN, O_SMIME, O_POSITION, O_ALG,
              O_TSA, O_LT, O_N };

static const char *const kt_options[O_N] = {
    "key", "cert", "chain", "seal", "name", "pin", "smime", "position", "alg", "tsa", "lt"
};

/* The values given on one KeyTable line: pointers into the line. */
typedef struct kt_opts {
    char *val[O_N];
} kt_opts;

/* Where we are: the tables being built, the file and line being read, the
 * line of each key and signer row (for "already at line N"). */
typedef struct kt_parser {
    keytable *kt;
    const char *file;
    const char *key_path;           /* the KeyTable, named by signer errors */
    unsigned line;
    unsigned *key_lines, *signer_lines;
    uid_t daemon_uid;
    char *err;
    size_t errlen;
} kt_parser;

typedef int (*kt_line_fn)(kt_parser *p, char *line);

/* ---- messages ---------------------------------------------------------- */

/* kt_fail - "FILE:LINE: " and the formatted text into p->err; returns -1. */
static int kt_fail(kt_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int kt_fail(kt_parser *p, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);

    if (n >= 0 && (size_t)n < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    ERR_clear_error();                  /* leave no OpenSSL errors behind */
    return -1;
}

/* kt_oom - the out-of-memory failure at the current line; returns -1. */
static int kt_oom(kt_parser *p)
{
    return kt_fail(p, "out of memory");
}

/* kt_unknown_option - the error for option NAME, with the nearest known
 * option when it is at most two edits away; returns -1. */
static int kt_unknown_option(kt_parser *p, const char *name)
{
    size_t i, d, best = 3, at = 0;

    for (i = 0; i < O_N; i++)
        if ((d = config_edit_distance(name, kt_options[i])) < best) {
            best = d;
            at = i;
        }
    if (best <= 2)
        return kt_fail(p, "unknown option \"%.64s\" (did you mean %s=?)", name, kt_options[at]);
    return kt_fail(p, "unknown option \"%.64s\"; use key, cert, chain, seal, name, pin, smime, "
                   "position, alg, tsa or lt (see kyso-milter.conf(5))", name);
}

/* ---- reading files ----------------------------------------------------- */

/* kt_open_fd - open PATH read-only, not following a last symbolic link
 * when NOFOLLOW, without blocking on a FIFO; *st is its fstat.  Returns the
 * descriptor, or -1 with *why (errno text or static). */
static int kt_open_fd(const char *path, int nofollow, struct stat *st, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));

    if (fd < 0) {
        *why = errno == ELOOP && nofollow ? "a symbolic link" : strerror(errno);
        return -1;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        *why = "not a regular file";
        close(fd);
        return -1;
    }
    return fd;
}

/* kt_read_fd - all of FD, at most MAX bytes, into a new buffer (one spare
 * NUL byte after the end).  Returns 0 with *buf and *len; -1 with *why
 * ("too large" or errno text), what was read then wiped.  Closes FD. */
static int kt_read_fd(int fd, size_t max, unsigned char **buf, size_t *len, const char **why)
{
    unsigned char *b = malloc(max + 2);
    size_t n = 0;
    ssize_t r = -1;

    *why = "out of memory";
    while (b != NULL && n <= max && (r = read(fd, b + n, max + 1 - n)) != 0) {
        if (r < 0 && errno != EINTR) {
            *why = strerror(errno);
            break;
        }
        n += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    if (b == NULL || n > max || r != 0) {
        if (b != NULL && n > max)
            *why = "too large";
        if (b != NULL)
            OPENSSL_cleanse(b, max + 2);
        free(b);
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* kt_read_whole - the contents of regular file PATH, at most MAX bytes.
 * Returns 0 with *buf (NUL-terminated; free it) and *len, or -1 with *why. */
static int kt_read_whole(const char *path, size_t max, unsigned char **buf, size_t *len,
                         const char **why)
{
    struct stat st;
    int fd = kt_open_fd(path, 0, &st, why);

    return fd < 0 ? -1 : kt_read_fd(fd, max, buf, len, why);
}

/* kt_strip_end - cut the white space at the end of S (CR LF included). */
static void kt_strip_end(char *s)
{
    char *end = s + strlen(s);

    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
}

/* kt_read_lines - call FN for each line of F with p->line set (FN skips
 * blank and comment lines itself).  Returns 0, or -1 with p->err filled. */
static int kt_read_lines(kt_parser *p, FILE *f, kt_line_fn fn)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        p->line++;
        if ((size_t)n > KT_LINE_MAX) {
            rc = kt_fail(p, "line longer than %d bytes; shorten it", KT_LINE_MAX);
        } else if (strlen(line) != (size_t)n) {
            rc = kt_fail(p, "line holds a NUL byte; this is not a text file");
        } else {
            kt_strip_end(line);
            rc = fn(p, line);
        }
    }
    if (rc == 0 && ferror(f))
        rc = kt_fail(p, "read error: %s", strerror(errno));
    free(line);
    return rc;
}

/* kt_read_table - read table PATH (named KEY in messages: "KeyTable" or
 * "SignerTable") with FN.  PATH must be a regular file that others cannot
 * write.  Returns 0, or -1 with p->err filled ("PATH: ..." for the file
 * itself, "PATH:LINE: ..." for its lines). */
static int kt_read_table(kt_parser *p, const char *key, const char *path, kt_line_fn fn)
{
    struct stat st;
    const char *why;
    FILE *f;
    int fd, rc;

    if (path == NULL || path[0] != '/') {
        snprintf(p->err, p->errlen, "%s \"%s\": want an absolute path", key,
                 path != NULL ? path : "");
        return -1;
    }
    if ((fd = kt_open_fd(path, 0, &st, &why)) < 0) {
        snprintf(p->err, p->errlen, "%s %s: cannot read: %s; check the path", key, path, why);
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        snprintf(p->err, p->errlen, "%s: writable by others; chmod o-w %s", path, path);
        close(fd);
        return -1;
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        snprintf(p->err, p->errlen, "%s: cannot read: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    p->file = path;
    p->line = 0;
    rc = kt_read_lines(p, f, fn);
    fclose(f);
    return rc;
}

/* ---- words ------------------------------------------------------------- */

/* kt_quoted - unquote in place the quoted value starting at **S (on the
 * opening '"'), writing at **W; \" and \\ are the only escapes.  Returns 0
 * with *s past the closing quote, or -1 with p->err filled. */
static int kt_quoted(kt_parser *p, char **s, char **w)
{
    char *r = *s + 1, *o = *w;

    for (; *r != '"'; *o++ = *r++) {
        if (*r == '\0')
            return kt_fail(p, "quoted value not closed; end it with \"");
        if (*r == '\\' && r[1] != '"' && r[1] != '\\')
            return kt_fail(p, "a backslash in a quoted value must be followed by \" or \\; "
                           "write \\\" for a quote and \\\\ for a backslash");
        if (*r == '\\')
            r++;
    }
    r++;
    if (*r != '\0' && !isspace((unsigned char)*r))
        return kt_fail(p, "text right after a closing quote; put white space after it");
    *s = r;
    *w = o;
    return 0;
}

/* kt_next_word - the next word of *CUR, NUL-terminated in place.  White
 * space separates words; a '#' starting a word starts a comment to the end
 * of the line; a value right after '=' may be quoted ("..." with \" and \\),
 * which *quoted then tells.  Returns 1 with *word, 0 at the end of the
 * line, -1 with p->err filled. */
static int kt_next_word(kt_parser *p, char **cur, char **word, int *quoted)
{
    char *s = *cur + strspn(*cur, KT_SPACE), *w = s;
    int more;

    *quoted = 0;
    if (*s == '\0' || *s == '#')
        return 0;
    *word = s;
    while (*s != '\0' && !isspace((unsigned char)*s)) {
        if (*s != '"') {
            *w++ = *s++;
            continue;
        }
        if (*quoted || w == *word || w[-1] != '=')
            return kt_fail(p, "stray '\"'; only a whole value after '=' may be quoted, "
                           "e.g. name=\"S\xe1\xbb\x9f T\xc3\xa0i ch\xc3\xadnh\"");
        if (kt_quoted(p, &s, &w) < 0)
            return -1;
        *quoted = 1;
    }
    more = *s != '\0';
    *w = '\0';
    *cur = more ? s + 1 : s;
    return 1;
}

/* kt_has_ctl - does S hold a control character (C0, DEL)? */
static int kt_has_ctl(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* kt_utf8_ok - is S well-formed UTF-8 (no overlong forms, surrogates or
 * values past U+10FFFF) without C0 or C1 control characters? */
static int kt_utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned long cp;
    unsigned n, i;

    while (*s != '\0') {
        if (*s < 0x80) {
            if (*s < 0x20 || *s == 0x7f)
                return 0;
            s++;
            continue;
        }
        if (*s < 0xc2 || *s > 0xf4)
            return 0;
        n = *s >= 0xf0 ? 3 : *s >= 0xe0 ? 2 : 1;
        cp = *s & (0x3fu >> n);
        for (i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* kt_domain_ok - is S a domain name: labels of ASCII letters, digits and
 * '-' (not at either end of a label), none empty, none over 63 bytes, at
 * most 253 bytes in all? */
static int kt_domain_ok(const char *s)
{
    size_t i, n = strlen(s), label = 0;

    if (n == 0 || n > KT_DOMAIN_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (!isalnum((unsigned char)s[i]) && s[i] != '-') {
            return 0;
        } else if (++label > KT_LABEL_MAX
                   || (s[i] == '-' && (label == 1 || i + 1 == n || s[i + 1] == '.'))) {
            return 0;
        }
    }
    return label > 0;
}

/* ---- the KeyTable: loading what a key line names ----------------------- */

/* kt_path_ok - is VAL, the value of option OPT, an absolute path?  0, or -1
 * with p->err filled. */
static int kt_path_ok(kt_parser *p, const char *opt, const char *val)
{
    if (val[0] != '/')
        return kt_fail(p, "%s=%s: want an absolute path, e.g. %s=/etc/kyso/%s", opt, val, opt,
                       strcmp(opt, "seal") == 0 ? "seal.png" : "org.pem");
    return 0;
}

/* kt_read_certs - certificates from BUF (LEN bytes): PEM ones, or one DER.
 * Pushes them on OUT; returns how many, -1 when out of memory. */
static int kt_read_certs(const unsigned char *buf, size_t len, STACK_OF(X509) *out)
{
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    const unsigned char *d = buf;
    X509 *x;
    int n = 0;

    if (b == NULL)
        return -1;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(out, x)) {
            X509_free(x);
            n = -1;
            break;
        }
        n++;
    }
    BIO_free(b);
    if (n == 0 && (x = d2i_X509(NULL, &d, (long)len)) != NULL) {
        n = sk_X509_push(out, x) ? 1 : -1;
        if (n < 0)
            X509_free(x);
    }
    ERR_clear_error();
    return n;
}

/* kt_load_certs - the certificates in file PATH (option OPT) onto OUT.
 * Returns how many (0 is a valid answer), or -1 with p->err filled. */
static int kt_load_certs(kt_parser *p, const char *opt, const char *path, STACK_OF(X509) *out)
{
    unsigned char *buf;
    size_t len;
    const char *why;
    int n;

    if (kt_path_ok(p, opt, path) < 0)
        return -1;
    if (kt_read_whole(path, KT_CERT_MAX, &buf, &len, &why) < 0)
        return kt_fail(p, "%s=%s: cannot read: %s; check the path", opt, path, why);
    n = kt_read_certs(buf, len, out);
    free(buf);
    return n < 0 ? kt_oom(p) : n;
}

/* kt_load_cert - cert=PATH: its first certificate is the key's, any
 * others go to the front of the chain.  0, or -1 with p->err filled. */
static int kt_load_cert(kt_parser *p, kt_key *k, const char *path)
{
    int n = kt_load_certs(p, "cert", path, k->chain);

    if (n < 0)
        return -1;
    if (n == 0)
        return kt_fail(p, "cert=%s is not a certificate (PEM or DER); give the organisation's "
                       "certificate", path);
    k->cert = sk_X509_shift(k->chain);
    return 0;
}

/* kt_load_chain - chain=PATH: one or more certificates, appended to the
 * chain.  0, or -1 with p->err filled. */
static int kt_load_chain(kt_parser *p, kt_key *k, const char *path)
{
    int n = kt_load_certs(p, "chain", path, k->chain);

    if (n == 0)
        return kt_fail(p, "chain=%s holds no certificate; give the issuing CA certificates "
                       "in PEM", path);
    return n < 0 ? -1 : 0;
}

/* kt_load_seal - seal=PATH: a PNG that ap_check_png accepts.  0, or -1
 * with p->err filled. */
static int kt_load_seal(kt_parser *p, kt_key *k, const char *path)
{
    const char *why;
    char reason[256];

    if (kt_path_ok(p, "seal", path) < 0)
        return -1;
    if (kt_read_whole(path, KT_SEAL_MAX, &k->seal, &k->seal_len, &why) < 0)
        return kt_fail(p, "seal=%s: cannot read: %s; check the path (at most %u MiB)", path,
                       why, KT_SEAL_MAX >> 20);
    reason[0] = '\0';
    if (ap_check_png(k->seal, k->seal_len, reason, sizeof reason) < 0)
        return kt_fail(p, "seal=%s is not a usable PNG image (%s); give the seal as a PNG with "
                       "a transparent background", path, reason[0] != '\0' ? reason : "rejected");
    return 0;
}

/* kt_pin_file_ok - the checks of PIN file PATH made before it is opened:
 * a regular file (not a link), no group or other permission bits, owned
 * by p->daemon_uid or root.  *st is its lstat.  0, or -1 with p->err. */
static int kt_pin_file_ok(kt_parser *p, const char *path, struct stat *st)
{
    if (lstat(path, st) < 0)
        return kt_fail(p, "PIN file %s: cannot read: %s; check the path", path, strerror(errno));
    if (!S_ISREG(st->st_mode))
        return kt_fail(p, "PIN file %s is not a regular file%s; name the file itself", path,
                       S_ISLNK(st->st_mode) ? " (a symbolic link)" : "");
    if ((st->st_mode & 077) != 0)
        return kt_fail(p, "PIN file %s is readable by group or others (mode %04o); chmod 600 %s "
                       "and chown it to the daemon user", path,
                       (unsigned)(st->st_mode & 07777), path);
    if (p->daemon_uid != (uid_t)-1 && st->st_uid != p->daemon_uid && st->st_uid != 0)
        return kt_fail(p, "PIN file %s is owned by uid %lu, not by the daemon user (uid %lu) "
                       "or root; chown it to the daemon user", path,
                       (unsigned long)st->st_uid, (unsigned long)p->daemon_uid);
    return 0;
}

/* kt_pin_text - make the N bytes read from PIN file PATH the PIN: cut the
 * line ends at the end, refuse empty or NUL-holding contents.  Returns the
 * length, or -1 with p->err filled. */
static long kt_pin_text(kt_parser *p, const char *path, unsigned char *buf, size_t n)
{
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n == 0)
        return kt_fail(p, "PIN file %s is empty; write the token's user PIN in it", path);
    if (memchr(buf, '\0', n) != NULL)
        return kt_fail(p, "PIN file %s holds a NUL byte; write the PIN alone, as text", path);
    return (long)n;
}

/* kt_load_pin - pin=file:PATH: check the file (kt_pin_file_ok), read it
 * (at most 256 bytes) and keep the PIN.  0, or -1 with p->err filled; no
 * copy of the PIN is left in freed memory. */
static int kt_load_pin(kt_parser *p, kt_key *k, const char *spec)
{
    struct stat ls, st;
    unsigned char *buf;
    const char *path = spec + 5, *why;
    size_t n;
    long len;
    int fd;

    if (strncmp(spec, "file:", 5) != 0)
        return kt_fail(p, "pin= takes only file:/PATH; put the PIN in a file that only the "
                       "daemon user can read and write pin=file:/etc/kyso/token.pin");
    if (path[0] != '/')
        return kt_fail(p, "pin=%s: want an absolute path, e.g. pin=file:/etc/kyso/token.pin",
                       spec);
    if (kt_pin_file_ok(p, path, &ls) < 0)
        return -1;
    if ((fd = kt_open_fd(path, 1, &st, &why)) < 0)
        return kt_fail(p, "PIN file %s: cannot read: %s; check the path", path, why);
    if (st.st_dev != ls.st_dev || st.st_ino != ls.st_ino) {
        close(fd);
        return kt_fail(p, "PIN file %s changed while being read; try again", path);
    }
    if (kt_read_fd(fd, KT_PIN_MAX, &buf, &n, &why) < 0)
        return kt_fail(p, "PIN file %s: %s; it must hold the PIN alone", path,
                       strcmp(why, "too large") == 0 ? "larger than 256 bytes" : why);
    if ((len = kt_pin_text(p, path, buf, n)) >= 0 && (k->pin = malloc((size_t)len + 1)) != NULL)
        memcpy(k->pin, buf, (size_t)len + 1);
    OPENSSL_cleanse(buf, KT_PIN_MAX + 2);
    free(buf);
    if (len >= 0 && k->pin == NULL)
        return kt_oom(p);
    return len < 0 ? -1 : 0;
}

/* kt_cert_org - the UTF-8 text of the subject's O, else its CN, of X, into
 * *out.  Returns 1, 0 when it has neither (or it is not clean UTF-8 text),
 * -1 when out of memory. */
static int kt_cert_org(X509 *x, char **out)
{
    X509_NAME *n = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(n, NID_organizationName, -1), len;
    unsigned char *u = NULL;

    if (i < 0)
        i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    if (i < 0)
        return 0;
    len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
    if (len < 0) {
        ERR_clear_error();
        return 0;
    }
    if (len == 0 || strlen((char *)u) != (size_t)len || !kt_utf8_ok((char *)u)
        || len > KT_ORG_MAX) {
        OPENSSL_free(u);
        return 0;
    }
    *out = strdup((char *)u);
    OPENSSL_free(u);
    return *out != NULL ? 1 : -1;
}

/* kt_set_org - the organisation name: VAL (name=) when given, else from
 * the certificate.  0, or -1 with p->err filled. */
static int kt_set_org(kt_parser *p, kt_key *k, const char *val)
{
    int rc;

    if (val != NULL) {
        if (val[0] == '\0' || strlen(val) > KT_ORG_MAX || !kt_utf8_ok(val))
            return kt_fail(p, "name= must be 1 to %d bytes of UTF-8 text without control "
                           "characters; e.g. name=\"S\xe1\xbb\x9f T\xc3\xa0i ch\xc3\xadnh\"",
                           KT_ORG_MAX);
        return (k->org_name = strdup(val)) != NULL ? 0 : kt_oom(p);
    }
    if ((rc = kt_cert_org(k->cert, &k->org_name)) < 0)
        return kt_oom(p);
    if (rc == 0)
        return kt_fail(p, "the certificate of key %s has no usable O or CN to name the "
                       "organisation; add name=\"...\"", k->name);
    return 0;
}

/* kt_set_key - key=: a PKCS#11 URI ("pkcs11:...") or the absolute path of
 * an existing regular file (PEM or PKCS#12).  0, or -1 with p->err filled. */
static int kt_set_key(kt_parser *p, kt_key *k, const char *val)
{
    struct stat st;

    if (strncasecmp(val, "pkcs11:", 7) == 0) {
        if (val[7] == '\0')
            return kt_fail(p, "key=pkcs11: names no object; e.g. key=pkcs11:token=kyso;object=org "
                           "(p11tool --list-all shows the URIs)");
    } else if (val[0] != '/') {
        return kt_fail(p, "key=%s: want a PKCS#11 URI (pkcs11:...) or an absolute path to a "
                       "PEM or PKCS#12 file", val);
    } else if (stat(val, &st) < 0) {
        return kt_fail(p, "key=%s: %s; check the path", val, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        return kt_fail(p, "key=%s: not a regular file; check the path", val);
    }
    return (k->key = strdup(val)) != NULL ? 0 : kt_oom(p);
}

/* kt_set_flag - smime=yes|no, lt=yes|no or alg=rsa|pss into *OUT.  0, or -1. */
static int kt_set_flag(kt_parser *p, int opt, const char *val, int *out)
{
    int yesno = opt != O_ALG;
    const char *no = yesno ? "no" : "rsa", *yes = yesno ? "yes" : "pss";

    if (strcasecmp(val, no) == 0)
        *out = 0;
    else if (strcasecmp(val, yes) == 0)
        *out = 1;
    else
        return kt_fail(p, "%s=%s is not valid; use %s", kt_options[opt], val,
                       yesno ? "yes or no" : "rsa (PKCS#1 v1.5) or pss");
    return 0;
}

/* kt_set_tsa - tsa=URL: an http:// or https:// URL of at most KT_URL_MAX
 * bytes, without spaces or control characters.  0, or -1. */
static int kt_set_tsa(kt_parser *p, kt_key *k, const char *val)
{
    if (strncasecmp(val, "http://", 7) != 0 && strncasecmp(val, "https://", 8) != 0)
        return kt_fail(p, "tsa=%.64s: want the http:// or https:// URL of an RFC 3161 "
                       "time-stamping authority", val);
    if (strlen(val) > KT_URL_MAX || kt_has_ctl(val) || strpbrk(val, " \t") != NULL)
        return kt_fail(p, "tsa= is longer than %d bytes or holds spaces or control "
                       "characters", KT_URL_MAX);
    return (k->tsa_url = strdup(val)) != NULL ? 0 : kt_oom(p);
}

/* kt_set_position - position=: kept as given for the signer to interpret;
 * here only 1 to 128 bytes without control characters.  0, or -1. */
static int kt_set_position(kt_parser *p, kt_key *k, const char *val)
{
    if (strlen(val) > KT_POSITION_MAX || kt_has_ctl(val))
        return kt_fail(p, "position= is longer than %d bytes or holds control characters",
                       KT_POSITION_MAX);
    return (k->position = strdup(val)) != NULL ? 0 : kt_oom(p);
}

/* kt_key_fill - everything the options O name, loaded into K (whose name
 * is set).  0, or -1 with p->err filled; K then holds what was loaded. */
static int kt_key_fill(kt_parser *p, kt_key *k, char *const *o)
{
    if ((k->chain = sk_X509_new_null()) == NULL)
        return kt_oom(p);
    if (kt_set_key(p, k, o[O_KEY]) < 0 || kt_load_cert(p, k, o[O_CERT]) < 0
        || (o[O_CHAIN] != NULL && kt_load_chain(p, k, o[O_CHAIN]) < 0)
        || (o[O_SEAL] != NULL && kt_load_seal(p, k, o[O_SEAL]) < 0)
        || kt_set_org(p, k, o[O_NAME]) < 0
        || (o[O_PIN] != NULL && kt_load_pin(p, k, o[O_PIN]) < 0)
        || (o[O_SMIME] != NULL && kt_set_flag(p, O_SMIME, o[O_SMIME], &k->smime) < 0)
        || (o[O_ALG] != NULL && kt_set_flag(p, O_ALG, o[O_ALG], &k->pss) < 0)
        || (o[O_POSITION] != NULL && kt_set_position(p, k, o[O_POSITION]) < 0)
        || (o[O_TSA] != NULL && kt_set_tsa(p, k, o[O_TSA]) < 0)
        || (o[O_LT] != NULL && kt_set_flag(p, O_LT, o[O_LT], &k->lt) < 0))
        return -1;
    return 0;
}

/* kt_key_paths - copies of the file paths of O into K.  0, or -1 (OOM). */
static int kt_key_paths(kt_parser *p, kt_key *k, char *const *o)
{
    static const int which[4] = { O_CERT, O_CHAIN, O_SEAL, O_PIN };
    char **dst[4] = { &k->cert_path, &k->chain_path, &k->seal_path, &k->pin_path };
    size_t i;

    for (i = 0; i < 4; i++) {
        const char *v = o[which[i]];
        if (v != NULL && (*dst[i] = strdup(which[i] == O_PIN ? v + 5 : v)) == NULL)
            return kt_oom(p);
    }
    return 0;
}

/* kt_key_clear - free what K holds, wiping its PIN. */
static void kt_key_clear(kt_key *k)
{
    if (k->pin != NULL)
        OPENSSL_cleanse(k->pin, strlen(k->pin));
    free(k->pin);
    free(k->name);
    free(k->key);
    free(k->cert_path);
    free(k->chain_path);
    free(k->seal_path);
    free(k->pin_path);
    free(k->org_name);
    free(k->position);
    free(k->tsa_url);
    free(k->seal);
    X509_free(k->cert);
    sk_X509_pop_free(k->chain, X509_free);
    memset(k, 0, sizeof *k);
}

/* ---- the KeyTable: lines ------------------------------------------------ */

/* kt_option - one OPTION=VALUE word W of a key line into O (QUOTED: the
 * value was quoted).  0, or -1 with p->err filled. */
static int kt_option(kt_parser *p, char **o, char *w, int quoted)
{
    char *val = strchr(w, '=');
    size_t i;

    if (val == NULL || val == w || strspn(w, "abcdefghijklmnopqrstuvwxyz"
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != (size_t)(val - w))
        return kt_fail(p, "\"%.64s\" is not OPTION=VALUE; write e.g. key=pkcs11:... or "
                       "cert=/etc/kyso/org.pem (one KEY-NAME first, then options)", w);
    *val++ = '\0';
    for (i = 0; i < O_N && strcasecmp(w, kt_options[i]) != 0; i++)
        ;
    if (i == O_N)
        return kt_unknown_option(p, w);
    if (o[i] != NULL)
        return kt_fail(p, "%s= given twice; keep one", kt_options[i]);
    if (quoted && i != O_NAME)
        return kt_fail(p, "only name= takes a quoted value; write %s=VALUE without quotes",
                       kt_options[i]);
    if (val[0] == '\0' && i != O_NAME)
        return kt_fail(p, "%s= has no value; give one or remove the option", kt_options[i]);
    o[i] = val;
    return 0;
}

/* kt_key_name_ok - the checks of KEY-NAME W: its syntax and that it is not
 * a duplicate.  0, or -1 with p->err filled. */
static int kt_key_name_ok(kt_parser *p, const char *w, int quoted)
{
    size_t i, n = strlen(w);

    if (strchr(w, '=') != NULL)
        return kt_fail(p, "the line must start with the KEY-NAME, e.g. \"sotttt key=pkcs11:... "
                       "cert=/etc/kyso/sotttt.pem\"");
    if (quoted || n > KT_NAME_MAX || strspn(w, KT_NAME_CHARS) != n)
        return kt_fail(p, "key name \"%.64s\": use 1 to %d letters, digits, '.', '_' or '-'",
                       w, KT_NAME_MAX);
    for (i = 0; i < p->kt->nkeys; i++)
        if (strcmp(p->kt->keys[i].name, w) == 0)
            return kt_fail(p, "key name \"%s\" already defined at line %u; use another name or "
                           "remove one", w, p->key_lines[i]);
    return 0;
}

/* kt_key_add - append K (moved: K is cleared) to the table.  0, or -1. */
static int kt_key_add(kt_parser *p, kt_key *k)
{
    keytable *kt = p->kt;
    kt_key *nk = realloc(kt->keys, (kt->nkeys + 1) * sizeof *nk);
    unsigned *nl;

    if (nk != NULL)
        kt->keys = nk;
    if (nk == NULL || (nl = realloc(p->key_lines, (kt->nkeys + 1) * sizeof *nl)) == NULL)
        return kt_oom(p);
    p->key_lines = nl;
    nl[kt->nkeys] = p->line;
    kt->keys[kt->nkeys++] = *k;
    memset(k, 0, sizeof *k);
    return 0;
}

/* kt_key_line - one "KEY-NAME key=... cert=... [option=value...]" line. */
static int kt_key_line(kt_parser *p, char *line)
{
    char *cur = line, *name, *w, *o[O_N] = { NULL };
    kt_key k;
    int rc, q;

    if ((rc = kt_next_word(p, &cur, &name, &q)) <= 0)
        return rc;
    if (kt_key_name_ok(p, name, q) < 0)
        return -1;
    while ((rc = kt_next_word(p, &cur, &w, &q)) > 0)
        if (kt_option(p, o, w, q) < 0)
            return -1;
    if (rc < 0)
        return -1;
    if (o[O_KEY] == NULL || o[O_CERT] == NULL)
        return kt_fail(p, "key %s has no %s; add %s", name, o[O_KEY] == NULL ? "key=" : "cert=",
                       o[O_KEY] == NULL ? "key=pkcs11:... (a token object) or key=/path/to/key.pem"
                       : "cert=/path/to/the-organisation-certificate.pem");
    memset(&k, 0, sizeof k);
    if ((k.name = strdup(name)) == NULL)
        return kt_oom(p);
    if (kt_key_fill(p, &k, o) < 0 || kt_key_paths(p, &k, o) < 0 || kt_key_add(p, &k) < 0) {
        kt_key_clear(&k);
        return -1;
    }
    return 0;
}

/* ---- the SignerTable --------------------------------------------------- */

/* kt_from_norm - check From pattern S ("local@domain" or "*@domain") and
 * lower-case it in place.  0, or -1 with p->err filled. */
static int kt_from_norm(kt_parser *p, char *s)
{
    char *at = strrchr(s, '@'), *c;
    size_t nl = at != NULL ? (size_t)(at - s) : 0;

    for (c = s; *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    if (at != NULL && at[1] == '*')
        return kt_fail(p, "From pattern \"%s\": subdomains are not matched; list each domain "
                       "as *@domain", s);
    if (at == NULL || nl == 0 || !kt_domain_ok(at + 1)
        || (memchr(s, '*', nl) != NULL && nl != 1)
        || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~.") < nl)
        return kt_fail(p, "bad From pattern \"%.128s\"; want addr@domain or *@domain, e.g. "
                       "*@sotttt.example.gov.vn", s);
    return 0;
}

/* kt_signer_dup - is USER FROM KEY a repeat of an earlier row?  0, or -1
 * with p->err filled (an identical row, or one the first would shadow). */
static int kt_signer_dup(kt_parser *p, const char *user, const char *from, const kt_key *key)
{
    const keytable *kt = p->kt;
    size_t i;

    for (i = 0; i < kt->nsigners; i++) {
        const kt_signer *s = &kt->signers[i];
        if (strcmp(s->user, user) != 0 || strcmp(s->from, from) != 0)
            continue;
        if (s->key == key)
            return kt_fail(p, "the same row as line %u; remove one", p->signer_lines[i]);
        return kt_fail(p, "line %u already gives %s key %s for %s, and the first matching row "
                       "wins; remove one", p->signer_lines[i], user, s->key->name, from);
    }
    return 0;
}

/* kt_signer_add - append the row USER FROM KEY.  0, or -1 (OOM). */
static int kt_signer_add(kt_parser *p, const char *user, const char *from, kt_key *key)
{
    keytable *kt = p->kt;
    kt_signer *ns = realloc(kt->signers, (kt->nsigners + 1) * sizeof *ns), *s;
    unsigned *nl;

    if (ns != NULL)
        kt->signers = ns;
    if (ns == NULL || (nl = realloc(p->signer_lines, (kt->nsigners + 1) * sizeof *nl)) == NULL)
        return kt_oom(p);
    p->signer_lines = nl;
    s = &kt->signers[kt->nsigners];
    s->user = strdup(user);
    s->from = strdup(from);
    s->key = key;
    if (s->user == NULL || s->from == NULL) {
        free(s->user);
        free(s->from);
        return kt_oom(p);
    }
    nl[kt->nsigners++] = p->line;
    return 0;
}

/* kt_signer_line - one "AUTH-USER FROM-PATTERN KEY-NAME" line. */
static int kt_signer_line(kt_parser *p, char *line)
{
    char *cur = line, *w[4] = { NULL };
    int rc = 1, q = 0, i;
    kt_key *key;

    for (i = 0; i < 4 && rc > 0 && !q; i++)
        rc = kt_next_word(p, &cur, &w[i], &q);
    if (rc < 0 || w[0] == NULL)
        return rc < 0 ? -1 : 0;
    if (q)
        return kt_fail(p, "quotes are not used in the SignerTable; write the three fields bare");
    if (w[2] == NULL || w[3] != NULL)
        return kt_fail(p, "want \"AUTH-USER FROM-PATTERN KEY-NAME\", e.g. \"vanthu@sotttt."
                       "example.gov.vn *@sotttt.example.gov.vn sotttt\"");
    if (strlen(w[0]) > KT_USER_MAX || kt_has_ctl(w[0]))
        return kt_fail(p, "AUTH-USER is longer than %d bytes or holds control characters",
                       KT_USER_MAX);
    if (kt_from_norm(p, w[1]) < 0)
        return -1;
    if ((key = (kt_key *)keytable_find(p->kt, w[2])) == NULL)
        return kt_fail(p, "key '%.64s' is not in KeyTable %s; add it there or correct the name",
                       w[2], p->key_path);
    if (kt_signer_dup(p, w[0], w[1], key) < 0)
        return -1;
    return kt_signer_add(p, w[0], w[1], key);
}

/* ---- the interface ----------------------------------------------------- */

keytable *keytable_load(const char *key_path, const char *signer_path, uid_t daemon_uid,
                        char *err, size_t errlen)
{
    kt_parser p;
    keytable *kt = calloc(1, sizeof *kt);

    if (kt == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memset(&p, 0, sizeof p);
    p.kt = kt;
    p.key_path = key_path;
    p.daemon_uid = daemon_uid;
    p.err = err;
    p.errlen = errlen;
    if (kt_read_table(&p, "KeyTable", key_path, kt_key_line) < 0
        || kt_read_table(&p, "SignerTable", signer_path, kt_signer_line) < 0) {
        keytable_free(kt);
        kt = NULL;
    }
    free(p.key_lines);
    free(p.signer_lines);
    return kt;
}

/* kt_from_matches - does address FROM match pattern PAT (lower case):
 * the whole address in any case, or for "*@dom" any non-empty local part
 * at exactly dom? */
static int kt_from_matches(const char *pat, const char *from)
{
    const char *at;

    if (pat[0] == '*' && pat[1] == '@') {
        at = strrchr(from, '@');
        return at != NULL && at != from && strcasecmp(at + 1, pat + 2) == 0;
    }
    return strcasecmp(pat, from) == 0;
}

const kt_key *keytable_match(const keytable *kt, const char *auth_user, const char *from,
                             const char **why)
{
    size_t i;
    int known = 0;

    if (auth_user == NULL || auth_user[0] == '\0') {
        *why = "not authenticated";
        return NULL;
    }
    for (i = 0; kt != NULL && i < kt->nsigners; i++) {
        if (strcmp(kt->signers[i].user, auth_user) != 0)
            continue;
        known = 1;
        if (from != NULL && kt_from_matches(kt->signers[i].from, from))
            return kt->signers[i].key;
    }
    *why = known ? "From address not allowed for this account" : "account not in SignerTable";
    return NULL;
}

const kt_key *keytable_find(const keytable *kt, const char *name)
{
    size_t i;

    for (i = 0; kt != NULL && name != NULL && i < kt->nkeys; i++)
        if (strcmp(kt->keys[i].name, name) == 0)
            return &kt->keys[i];
    return NULL;
}

void keytable_free(keytable *kt)
{
    size_t i;

    if (kt == NULL)
        return;
    for (i = 0; i < kt->nkeys; i++)
        kt_key_clear(&kt->keys[i]);
    for (i = 0; i < kt->nsigners; i++) {
        free(kt->signers[i].user);
        free(kt->signers[i].from);
    }
    free(kt->keys);
    free(kt->signers);
    free(kt);
}

