/*
 * config.c - load and check kyso-milter.conf: OpenDKIM-style "Key value"
 * lines, the list files and the ModeTable they name, and the pattern
 * matching the policy asks of them.  Every problem is fatal and reported
 * once as "FILE:LINE: what is wrong; the fix".
 *
 * Must never: print; return a half-loaded configuration; accept a key, a
 * value or a table line it does not understand; read a file that others
 * may write; read trust material at load time (config_build_verifier does
 * that); keep global mutable state.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "cert-class.h"
#include "config.h"
#include "ocsp.h"
#include "vcache.h"
#include "trust.h"

#define CFG_LINE_MAX 4096       /* longest line of any file we read */
#define CFG_DOMAIN_MAX 253      /* RFC 1035 */
#define CFG_LABEL_MAX 63

/* One CertificateClass line, kept so that each verifier gets its own rules. */
typedef struct class_line {
    char *field, *prefix, *cls;
} class_line;

/* What config_load allocates: the public part first, so that a
 * kyso_config pointer from config_load is also a config_priv pointer. */
typedef struct config_priv {
    kyso_config pub;
    class_line *class_lines;
    size_t nclass;
} config_priv;

enum cfg_type {
    T_SOCKET, T_OCTAL, T_USER, T_ABSPATH, T_BOOL, T_FACILITY, T_NAME, T_SIZE,
    T_COUNT, T_SIGNPOLICY, T_REVCHECK, T_CLASS, T_DOMAINS, T_ADDRESSES, T_FLOW, T_MODE,
    T_MODETABLE, T_DOCTYPES, T_REQUIRE, T_ACTION, T_ADDRESS, T_TEXT, T_RATE,
    T_COMMAND, T_STORE, T_OCSPTABLE
};

#define F_REQUIRED 1u
#define F_REPEAT 2u

typedef struct cfg_key {
    const char *name;
    enum cfg_type type;
    unsigned flags;
    size_t off;                         /* field in kyso_config */
    unsigned long long min, max;        /* T_SIZE, T_COUNT bounds */
} cfg_key;

#define OFF(m) offsetof(kyso_config, m)
#define GIB (1ull << 30)

static const cfg_key cfg_keys[] = {
    { "Socket", T_SOCKET, F_REQUIRED, OFF(socket), 0, 0 },
    { "SocketMode", T_OCTAL, 0, OFF(socket_mode), 0, 0 },
    { "UserID", T_USER, 0, OFF(user_id), 0, 0 },
    { "PidFile", T_ABSPATH, 0, OFF(pid_file), 0, 0 },
    { "Syslog", T_BOOL, 0, OFF(syslog), 0, 0 },
    { "SyslogFacility", T_FACILITY, 0, OFF(syslog_facility), 0, 0 },
    { "LogStderr", T_BOOL, 0, OFF(log_stderr), 0, 0 },
    { "NodeName", T_NAME, 0, OFF(node), 0, 0 },
    { "AuthservID", T_NAME, 0, OFF(authserv_id), 0, 0 },
    { "TempDirectory", T_ABSPATH, 0, OFF(temp_dir), 0, 0 },
    { "SpoolThreshold", T_SIZE, 0, OFF(spool_threshold), 0, GIB },
    { "TrustAnchors", T_ABSPATH, F_REQUIRED, OFF(trust_anchors), 0, 0 },
    { "Intermediates", T_ABSPATH, 0, OFF(intermediates), 0, 0 },
    { "CRLs", T_ABSPATH, 0, OFF(crls), 0, 0 },
    { "RevocationCheck", T_REVCHECK, 0, OFF(revcheck), 0, 0 },
    { "OCSPResponders", T_OCSPTABLE, 0, 0, 0, 0 },
    { "RevocationTimeout", T_COUNT, 0, OFF(revocation_timeout), 100, 120000 },
    { "OCSPTolerance", T_COUNT, 0, OFF(ocsp_tolerance), 0, 86400 },
    { "CRLMaxSize", T_SIZE, 0, OFF(crl_max_size), 1024, GIB },
    { "OCSPNonce", T_BOOL, 0, OFF(ocsp_nonce), 0, 0 },
    { "On-RevocationUnknown", T_ACTION, 0, OFF(on_revocation_unknown), 0, 0 },
    { "RevocationMaxDefer", T_COUNT, 0, OFF(revocation_max_defer), 0, 30 * 86400 },
    { "CertificateClass", T_CLASS, F_REPEAT, 0, 0, 0 },
    { "EnforceDomains", T_DOMAINS, 0, OFF(enforce_domains), 0, 0 },
    { "EnforceFlow", T_FLOW, 0, OFF(flow), 0, 0 },
    { "Mode", T_MODE, 0, OFF(mode), 0, 0 },
    { "ModeTable", T_MODETABLE, 0, 0, 0, 0 },
    { "ExemptAddresses", T_ADDRESSES, 0, OFF(exempt), 0, 0 },
    { "LocalDomains", T_DOMAINS, 0, OFF(local_domains), 0, 0 },
    { "DocumentTypes", T_DOCTYPES, 0, OFF(doc_types), 0, 0 },
    { "RequireSignature", T_REQUIRE, 0, OFF(require), 0, 0 },
    { "On-Unsigned", T_ACTION, 0, OFF(on_unsigned), 0, 0 },
    { "On-Invalid", T_ACTION, 0, OFF(on_invalid), 0, 0 },
    { "On-Indeterminate", T_ACTION, 0, OFF(on_indeterminate), 0, 0 },
    { "On-InternalError", T_ACTION, 0, OFF(on_internal_error), 0, 0 },
    { "On-Unsupported", T_ACTION, 0, OFF(on_unsupported), 0, 0 },
    { "On-LimitExceeded", T_ACTION, 0, OFF(on_limit), 0, 0 },
    { "Notify", T_BOOL, 0, OFF(notify), 0, 0 },
    { "NoticeFrom", T_ADDRESS, 0, OFF(notice_from), 0, 0 },
    { "NoticeContact", T_TEXT, 0, OFF(notice_contact), 0, 0 },
    { "NoticeRateLimit", T_RATE, 0, 0, 0, 0 },
    { "MTACommand", T_COMMAND, 0, OFF(mta_command), 0, 0 },
    { "Store", T_STORE, F_REQUIRED, OFF(store), 0, 0 },
    { "LogRetention", T_COUNT, 0, OFF(log_retention), 0, 36500 },
    { "AuditRetention", T_COUNT, 0, OFF(audit_retention), 0, 36500 },
    { "RedisTimeout", T_COUNT, 0, OFF(redis_timeout), 10, 60000 },
    { "RedisSpool", T_ABSPATH, 0, OFF(redis_spool), 0, 0 },
    { "MaxMessageSize", T_SIZE, 0, OFF(lim.max_message_size), 1024, 4 * GIB },
    { "MaxParts", T_COUNT, 0, OFF(lim.max_parts), 1, 100000 },
    { "MaxDepth", T_COUNT, 0, OFF(lim.max_depth), 1, 100 },
    { "MaxDocumentSize", T_SIZE, 0, OFF(lim.max_doc_size), 1024, 4 * GIB },
    { "MaxPdfObjects", T_COUNT, 0, OFF(lim.max_pdf_objects), 1000, 10000000 },
    { "MaxSignatures", T_COUNT, 0, OFF(lim.max_signatures), 1, 1000 },
    { "StoreMaxSize", T_SIZE, 0, OFF(store_max_size), 0, 1024 * GIB },
    { "VerifyCacheSize", T_COUNT, 0, OFF(vcache_size), 0, 1000000 },
    { "VerifyCacheTTL", T_COUNT, 0, OFF(vcache_ttl), 1, 86400 },
    { "SignerTable", T_ABSPATH, 0, OFF(signer_table), 0, 0 },
    { "KeyTable", T_ABSPATH, 0, OFF(key_table), 0, 0 },
    { "SignPolicy", T_SIGNPOLICY, 0, OFF(sign_policy), 0, 0 },
    { "SignDaemonName", T_NAME, 0, OFF(sign_daemon), 0, 0 },
    { "PKCS11Module", T_ABSPATH, 0, OFF(pkcs11_module), 0, 0 },
    { "CertExpiryWarning", T_COUNT, 0, OFF(cert_expiry_warning), 0, 3650 },
    { "SignTimeout", T_COUNT, 0, OFF(sign_timeout), 100, 600000 },
};

#define NKEYS (sizeof cfg_keys / sizeof cfg_keys[0])

/* Where we are: the file being read, its line, the error buffer. */
typedef struct cfg_parser {
    config_priv *cp;
    const char *file;
    unsigned line;
    unsigned seen[NKEYS];           /* line that set each key, 0 if none */
    char *err;
    size_t errlen;
} cfg_parser;

typedef struct cfg_name {
    const char *name;
    int val;
} cfg_name;

static const cfg_name action_names[] = {
    { "accept", ACTION_ACCEPT }, { "reject", ACTION_REJECT },
    { "tempfail", ACTION_TEMPFAIL }, { "quarantine", ACTION_QUARANTINE }, { NULL, 0 }
};
static const cfg_name mode_names[] = {
    { "off", MODE_OFF }, { "monitor", MODE_MONITOR }, { "enforce", MODE_ENFORCE }, { NULL, 0 }
};
static const cfg_name flow_names[] = {
    { "both", FLOW_BOTH }, { "either", FLOW_EITHER }, { "sender", FLOW_SENDER },
    { "recipient", FLOW_RECIPIENT }, { NULL, 0 }
};
static const cfg_name require_names[] = {
    { "any", REQUIRE_ANY }, { "organisation", REQUIRE_ORGANISATION },
    { "personal+organisation", REQUIRE_PERSONAL_ORG }, { NULL, 0 }
};
static const cfg_name signpolicy_names[] = {
    { "personal-first", SIGN_PERSONAL_FIRST }, { "any", SIGN_ANY }, { NULL, 0 }
};
static const cfg_name revcheck_names[] = {
    { "ocsp,crl", REVCHECK_OCSP_CRL }, { "crl,ocsp", REVCHECK_CRL_OCSP },
    { "crl", REVCHECK_CRL }, { "ocsp", REVCHECK_OCSP }, { "none", REVCHECK_NONE }, { NULL, 0 }
};
static const cfg_name facility_names[] = {
    { "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 },
    { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
    { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
    { "local7", LOG_LOCAL7 }, { NULL, 0 }
};
static const cfg_name bool_names[] = {
    { "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 }, { "1", 1 }, { "0", 0 },
    { NULL, 0 }
};
static const cfg_name doctype_names[] = {
    { "pdf", DOC_PDF }, { "p7s", DOC_P7S }, { "p7m", DOC_P7M }, { "office", DOC_OFFICE },
    { "ole", DOC_OLE }, { "docx", DOC_OFFICE }, { "xlsx", DOC_OFFICE },
    { "pptx", DOC_OFFICE }, { "odt", DOC_OFFICE }, { "ods", DOC_OFFICE },
    { "doc", DOC_OLE }, { "xls", DOC_OLE }, { "ppt", DOC_OLE }, { NULL, 0 }
};

/* ---- messages ---------------------------------------------------------- */

/* cfg_fail - "FILE:LINE: " and the formatted text into p->err; returns -1. */
static int cfg_fail(cfg_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int cfg_fail(cfg_parser *p, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);

    if (n >= 0 && (size_t)n < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* cfg_oom - the out-of-memory failure at the current line; returns -1. */
static int cfg_oom(cfg_parser *p)
{
    return cfg_fail(p, "out of memory");
}

/* cfg_list_names - "a, b or c" from the first N names of T (all if 0). */
static void cfg_list_names(const cfg_name *t, size_t n, char *out, size_t len)
{
    size_t i, k, used = 0;

    for (k = 0; t[k].name != NULL && (n == 0 || k < n); k++)
        ;
    out[0] = '\0';
    for (i = 0; i < k && used < len; i++) {
        int w = snprintf(out + used, len - used, "%s%s", i == 0 ? "" : i + 1 == k
                         ? " or " : ", ", t[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* config_edit_distance - see config.h: case-insensitive Levenshtein distance of A and B
 * (each at most 63 bytes; longer strings count as far apart). */
size_t config_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, row[64], diag, up;

    if (la > 63 || lb > 63)
        return SIZE_MAX;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        diag = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            up = row[j];
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* cfg_unknown_key - the error for KEY, with the nearest known key when it
 * is at most two edits away; returns -1. */
static int cfg_unknown_key(cfg_parser *p, const char *key)
{
    size_t i, d, best = 3, at = 0;

    for (i = 0; i < NKEYS; i++)
        if ((d = config_edit_distance(key, cfg_keys[i].name)) < best) {
            best = d;
            at = i;
        }
    if (best <= 2)
        return cfg_fail(p, "unknown key \"%.64s\" (did you mean %s?)", key, cfg_keys[at].name);
    return cfg_fail(p, "unknown key \"%.64s\"; see kyso-milter.conf(5) for the keys", key);
}

/* ---- reading files ----------------------------------------------------- */

typedef int (*cfg_line_fn)(cfg_parser *p, char *line, void *arg);

/* cfg_clean_line - cut a '#' comment (at line start or after white space)
 * and the white space around what is left; returns the start, in S. */
static char *cfg_clean_line(char *s)
{
    char *q, *end;

    for (q = s; *q != '\0'; q++)
        if (*q == '#' && (q == s || isspace((unsigned char)q[-1]))) {
            *q = '\0';
            break;
        }
    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* cfg_open - open PATH for reading if it is a regular file that others
 * cannot write.  Returns the stream, or NULL with *why set (static text,
 * or errno text for open failures) and *writable set when that is why. */
static FILE *cfg_open(const char *path, const char **why, int *writable)
{
    struct stat st;
    FILE *f;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* a FIFO must not block */

    *writable = 0;
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
    } else if (st.st_mode & S_IWOTH) {
        *writable = 1;
        *why = "writable by others";
    } else if ((f = fdopen(fd, "r")) != NULL) {
        return f;
    } else {
        *why = strerror(errno);
    }
    close(fd);
    return NULL;
}

/* cfg_open_fail - the error for PATH that cannot be used: from the main
 * file "PATH: why", from a key "FILE:LINE: KEY PATH: why"; returns -1. */
static int cfg_open_fail(cfg_parser *p, const char *key, const char *path,
                         const char *why, int writable)
{
    if (writable && key == NULL)
        snprintf(p->err, p->errlen, "%s: writable by others; chmod o-w %s", path, path);
    else if (writable)
        cfg_fail(p, "%s %s: writable by others; chmod o-w %s", key, path, path);
    else if (key == NULL)
        snprintf(p->err, p->errlen, "%s: cannot read: %s", path, why);
    else
        cfg_fail(p, "%s %s: cannot read: %s; check the path", key, path, why);
    return -1;
}

/* cfg_read_lines - call FN for each line of F that is not blank once
 * cleaned, with p->line set.  Returns 0, or -1 with p->err filled. */
static int cfg_read_lines(cfg_parser *p, FILE *f, cfg_line_fn fn, void *arg)
{
    char *line = NULL, *s;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        p->line++;
        if ((size_t)n > CFG_LINE_MAX)
            rc = cfg_fail(p, "line longer than %d bytes; shorten it", CFG_LINE_MAX);
        else if (strlen(line) != (size_t)n)
            rc = cfg_fail(p, "line holds a NUL byte; this is not a text file");
        else if (*(s = cfg_clean_line(line)) != '\0')
            rc = fn(p, s, arg);
    }
    if (rc == 0 && ferror(f))
        rc = cfg_fail(p, "read error: %s", strerror(errno));
    free(line);
    return rc;
}

/* cfg_read_file - read PATH line by line with FN.  KEY is the key that
 * names PATH, NULL for the configuration file itself; open errors are then
 * reported at the key's line.  p->file and p->line are restored after.
 * Returns 0, or -1 with p->err filled. */
static int cfg_read_file(cfg_parser *p, const char *key, const char *path,
                         cfg_line_fn fn, void *arg)
{
    const char *why, *ofile = p->file;
    unsigned oline = p->line;
    int writable, rc;
    FILE *f = cfg_open(path, &why, &writable);

    if (f == NULL)
        return cfg_open_fail(p, key, path, why, writable);
    p->file = path;
    p->line = 0;
    rc = cfg_read_lines(p, f, fn, arg);
    fclose(f);
    p->file = ofile;
    p->line = oline;
    return rc;
}

/* ---- values ------------------------------------------------------------ */

/* cfg_lookup - the value of NAME (any case) in T: 0 and *val, or -1. */
static int cfg_lookup(const cfg_name *t, const char *name, int *val)
{
    for (; t->name != NULL; t++)
        if (strcasecmp(t->name, name) == 0) {
            *val = t->val;
            return 0;
        }
    return -1;
}

/* cfg_parse_number - decimal digits with, when SUFFIX, one optional K, M
 * or G (binary multiples).  Returns 0 and *out, or -1 (malformed or too
 * large for 64 bits). */
static int cfg_parse_number(const char *s, int suffix, unsigned long long *out)
{
    unsigned long long n;
    unsigned shift = 0;
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    if (suffix && *end != '\0' && end[1] == '\0') {
        char c = (char)toupper((unsigned char)*end);
        shift = c == 'K' ? 10 : c == 'M' ? 20 : c == 'G' ? 30 : 0;
        if (shift != 0)
            end++;
    }
    if (*end != '\0' || (shift != 0 && n > (ULLONG_MAX >> shift)))
        return -1;
    *out = n << shift;
    return 0;
}

/* cfg_is_hostchars - S (N bytes) only letters, digits, '-' and '.'. */
static int cfg_is_hostchars(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

/* cfg_domain_ok - is S (N bytes) a domain name: labels of letters, digits
 * and '-' (not at either end of a label), none empty, none over 63 bytes,
 * at most 253 bytes in all? */
static int cfg_domain_ok(const char *s, size_t n)
{
    size_t i, label = 0;

    if (n == 0 || n > CFG_DOMAIN_MAX || !cfg_is_hostchars(s, n))
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] != '.') {
            if (++label > CFG_LABEL_MAX || (s[i] == '-' && (label == 1 || i + 1 == n
                                                            || s[i + 1] == '.')))
                return 0;
        } else if (label == 0) {
            return 0;
        } else {
            label = 0;
        }
    }
    return label > 0;
}

/* cfg_socket_inet - the part of an inet or inet6 socket after "inet:" or
 * "inet6:": "PORT@ADDR".  Returns NULL when fine, else what is wrong. */
static const char *cfg_socket_inet(const char *s, int v6)
{
    unsigned char a[16];
    unsigned long long port;
    const char *at = strchr(s, '@');
    char num[8];

    if (at == NULL)
        return "no @ADDR; name the address to listen on, e.g. inet:8891@127.0.0.1";
    if (at - s == 0 || at - s > 5)
        return "bad port; want PORT@ADDR with PORT from 1 to 65535";
    memcpy(num, s, (size_t)(at - s));
    num[at - s] = '\0';
    if (cfg_parse_number(num, 0, &port) < 0 || port < 1 || port > 65535)
        return "bad port; want PORT@ADDR with PORT from 1 to 65535";
    at++;
    if (v6 ? inet_pton(AF_INET6, at, a) == 1 : inet_pton(AF_INET, at, a) == 1)
        return NULL;
    if (cfg_domain_ok(at, strlen(at)))
        return NULL;
    return v6 ? "bad address; want an IPv6 address or a host name, e.g. inet6:8891@::1"
              : "bad address; want an IPv4 address or a host name, e.g. inet:8891@127.0.0.1";
}

/* cfg_socket_problem - NULL when S is a milter socket we accept, else
 * what is wrong and the fix. */
static const char *cfg_socket_problem(const char *s)
{
    const char *path;

    if (strncasecmp(s, "inet:", 5) == 0)
        return cfg_socket_inet(s + 5, 0);
    if (strncasecmp(s, "inet6:", 6) == 0)
        return cfg_socket_inet(s + 6, 1);
    if (strncasecmp(s, "local:", 6) == 0 || strncasecmp(s, "unix:", 5) == 0) {
        path = strchr(s, ':') + 1;
        if (path[0] != '/')
            return "the path must be absolute, e.g. local:/run/kyso-milter/kyso-milter.sock";
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return "the path is too long for a socket; use a shorter one";
        return NULL;
    }
    return "want inet:PORT@ADDR, inet6:PORT@ADDR or local:/PATH, e.g. inet:8891@127.0.0.1";
}

/* cfg_user_problem - NULL when S is "user" or "user:group" (letters,
 * digits, '.', '_', '-'; not starting with '-'), else the fix. */
static const char *cfg_user_problem(const char *s)
{
    const char *colon = strchr(s, ':');
    size_t i, n = strlen(s);

    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && strchr("._-:", s[i]) == NULL)
            return "want USER or USER:GROUP, e.g. kyso:kyso";
    if (s[0] == '-' || s[0] == ':' || (colon != NULL
        && (colon[1] == '\0' || colon[1] == '-' || strchr(colon + 1, ':') != NULL)))
        return "want USER or USER:GROUP, e.g. kyso:kyso";
    return NULL;
}

/* cfg_has_ctl - does S hold a control character or white space other than
 * a plain space (when SPACE_OK)? */
static int cfg_has_ctl(const char *s, int space_ok)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (*s == ' ' && !space_ok))
            return 1;
    return 0;
}

/* cfg_address_problem - NULL when S is a plain "local@domain" address. */
static const char *cfg_address_problem(const char *s)
{
    const char *at = strrchr(s, '@');
    if (at == NULL || at == s || cfg_has_ctl(s, 0) || s[strcspn(s, " <>\"(),;:\\[]")] != '\0')
        return "want a plain address local@domain, e.g. postmaster@example.gov.vn";
    if (!cfg_domain_ok(at + 1, strlen(at + 1)))
        return "bad domain; want a plain address local@domain";
    return NULL;
}

/* cfg_string_problem - NULL when VAL fits the string key type TYPE, else
 * what is wrong and the fix. */
static const char *cfg_string_problem(enum cfg_type type, const char *val)
{
    switch (type) {
    case T_SOCKET:
        return cfg_socket_problem(val);
    case T_USER:
        return cfg_user_problem(val);
    case T_ABSPATH:
        return val[0] != '/' || cfg_has_ctl(val, 1) ? "want an absolute path" : NULL;
    case T_NAME:
        return cfg_domain_ok(val, strlen(val)) ? NULL
             : "want a host name (letters, digits, '-' and '.'), e.g. mx1.example.gov.vn";
    case T_ADDRESS:
        return cfg_address_problem(val);
    case T_TEXT:
        return cfg_has_ctl(val, 1) || strlen(val) > 512
             ? "want one line of text, at most 512 bytes" : NULL;
    case T_COMMAND:
        return val[0] != '/' || cfg_has_ctl(val, 1)
             ? "want an absolute program path and fixed arguments, e.g. /usr/sbin/sendmail"
             : NULL;
    default:
        return "internal: not a string key";
    }
}

/* cfg_redis_host_problem - NULL when S (N bytes) is "HOST[:PORT]" or
 * "[IPV6]:PORT", else what is wrong. */
static const char *cfg_redis_host_problem(const char *s, size_t n)
{
    char host[CFG_DOMAIN_MAX + 1], num[8];
    unsigned char a[16];
    unsigned long long port;
    const char *colon;
    size_t hl;

    if (n > 0 && s[0] == '[') {
        colon = memchr(s, ']', n);
        hl = colon != NULL ? (size_t)(colon - s) - 1 : 0;
        if (colon == NULL || hl == 0 || hl > CFG_DOMAIN_MAX || colon[1] != ':')
            return "want [IPV6]:PORT";
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        if (inet_pton(AF_INET6, host, a) != 1)
            return "bad IPv6 address";
        colon++;
    } else {
        colon = memchr(s, ':', n);
        hl = colon != NULL ? (size_t)(colon - s) : n;
        if (!cfg_domain_ok(s, hl))          /* an IPv4 address passes too */
            return "bad host; want HOST:PORT, e.g. 10.0.0.5:6379";
    }
    if (colon == NULL)
        return NULL;
    hl = (size_t)(s + n - colon - 1);
    if (hl == 0 || hl >= sizeof num)
        return "bad port; want 1 to 65535";
    memcpy(num, colon + 1, hl);
    num[hl] = '\0';
    if (cfg_parse_number(num, 0, &port) < 0 || port < 1 || port > 65535)
        return "bad port; want 1 to 65535";
    return NULL;
}

/* cfg_redis_authority_problem - NULL when S (N bytes: "[USER:PASS@]HOSTS")
 * is fine for the scheme (one host for redis, a list for sentinel). */
static const char *cfg_redis_authority_problem(const char *s, size_t n, int sentinel)
{
    const char *at = NULL, *p, *e, *why;
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] == '@')
            at = s + i;
    if (at != NULL && (memchr(s, ':', (size_t)(at - s)) == NULL || at[-1] == ':'))
        return "credentials must be USER:PASSWORD@ (or :PASSWORD@ for the default user)";
    p = at != NULL ? at + 1 : s;
    if (!sentinel && memchr(p, ',', (size_t)(s + n - p)) != NULL)
        return "redis:// takes one server; use sentinel:// for several";
    for (; p <= s + n; p = e + 1) {
        e = memchr(p, ',', (size_t)(s + n - p));
        e = e != NULL ? e : s + n;
        if ((why = cfg_redis_host_problem(p, (size_t)(e - p))) != NULL)
            return why;
    }
    return NULL;
}

/* cfg_redis_problem - NULL when VAL (after "redis://" or "sentinel://")
 * is a Redis store we accept, else what is wrong (never quoting VAL: it may
 * hold a password). */
static const char *cfg_redis_problem(const char *val, int sentinel)
{
    size_t all = strcspn(val, "?"), auth = strcspn(val, "/?");
    const char *path = val + auth, *query = val[all] == '?' ? val + all + 1 : NULL;
    const char *why;
    unsigned long long n;

    if (cfg_has_ctl(val, 0))
        return "no spaces or control characters";
    if ((why = cfg_redis_authority_problem(val, auth, sentinel)) != NULL)
        return why;
    if (sentinel && (all - auth < 2 || path[0] != '/'
                     || strspn(path + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789._-") != all - auth - 1))
        return "name the master after the sentinels, e.g. "
               "sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster";
    if (!sentinel && all - auth > 1 && (strspn(path + 1, "0123456789") != all - auth - 1
                                        || all - auth > 5))
        return "bad database number; want /0 to /9999";
    if (query != NULL && (strncmp(query, "replicas=", 9) != 0
                          || cfg_parse_number(query + 9, 0, &n) < 0 || n > 16))
        return "the only option written in Store is ?replicas=N (0 to 16); "
               "the others are the keys RedisTimeout, LogRetention, AuditRetention, RedisSpool";
    return NULL;
}

/* cfg_set_store - Store: "file:/absolute/dir", "redis://..." or
 * "sentinel://..." (scheme in any case, kept in lower case). */
static int cfg_set_store(cfg_parser *p, const cfg_key *k, const char *val)
{
    char **field = (char **)((char *)&p->cp->pub + k->off);
    const char *why;
    size_t skip;
    int sentinel = strncasecmp(val, "sentinel://", 11) == 0;

    if (sentinel || strncasecmp(val, "redis://", 8) == 0) {
        skip = sentinel ? 11 : 8;
        if ((why = cfg_redis_problem(val + skip, sentinel)) != NULL)
            return cfg_fail(p, "Store: %s; want %s", why, sentinel
                            ? "sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER"
                            : "redis://[USER:PASSWORD@]HOST:PORT/DB");
    } else if (strncasecmp(val, "rediss://", 9) == 0) {
        return cfg_fail(p, "Store: TLS (rediss://) is not available with this hiredis; "
                        "see doc/redis.md for a TLS tunnel");
    } else if (strncasecmp(val, "file:", 5) != 0 || val[5] != '/' || cfg_has_ctl(val, 1)) {
        return cfg_fail(p, "Store \"%s\": want file:/absolute/dir, e.g. file:/var/lib/kyso",
                        val);
    } else {
        skip = 5;
    }
    if ((*field = malloc(strlen(val) + 1)) == NULL)
        return cfg_oom(p);
    memcpy(*field, sentinel ? "sentinel://" : skip == 8 ? "redis://" : "file:", skip);
    strcpy(*field + skip, val + skip);
    return 0;
}

/* cfg_set_string - a checked copy of VAL into K's char * field. */
static int cfg_set_string(cfg_parser *p, const cfg_key *k, const char *val)
{
    char **field = (char **)((char *)&p->cp->pub + k->off);
    const char *why = cfg_string_problem(k->type, val);

    if (why != NULL)
        return cfg_fail(p, "%s \"%s\": %s", k->name, val, why);
    free(*field);
    if ((*field = strdup(val)) == NULL)
        return cfg_oom(p);
    return 0;
}

/* cfg_set_enum - one of K's names into its field. */
static int cfg_set_enum(cfg_parser *p, const cfg_key *k, const char *val)
{
    const cfg_name *t = k->type == T_ACTION ? action_names : k->type == T_MODE ? mode_names
        : k->type == T_FLOW ? flow_names : k->type == T_REQUIRE ? require_names
        : k->type == T_REVCHECK ? revcheck_names : k->type == T_FACILITY ? facility_names
        : k->type == T_SIGNPOLICY ? signpolicy_names
        : bool_names;
    void *f = (char *)&p->cp->pub + k->off;
    char names[160], packed[64];
    size_t n = 0;
    int v;

    if (k->type == T_REVCHECK) {            /* "ocsp, crl" is "ocsp,crl" */
        for (const char *s = val; *s && n + 1 < sizeof packed; s++)
            if (*s != ' ' && *s != '\t')
                packed[n++] = *s;
        packed[n] = '\0';
        val = packed;
    }
    if (cfg_lookup(t, val, &v) < 0) {
        cfg_list_names(t, t == bool_names ? 2 : 0, names, sizeof names);
        return cfg_fail(p, "%s \"%s\" is not valid; use %s", k->name, val, names);
    }
    switch (k->type) {
    case T_ACTION: *(kyso_action *)f = (kyso_action)v; break;
    case T_MODE: *(kyso_mode *)f = (kyso_mode)v; break;
    case T_FLOW: *(kyso_flow_rule *)f = (kyso_flow_rule)v; break;
    case T_REQUIRE: *(kyso_require *)f = (kyso_require)v; break;
    case T_REVCHECK: *(kyso_revcheck *)f = (kyso_revcheck)v; break;
    case T_SIGNPOLICY: *(kyso_sign_policy *)f = (kyso_sign_policy)v; break;
    default: *(int *)f = v; break;          /* T_FACILITY, T_BOOL */
    }
    return 0;
}

/* cfg_set_number - SocketMode (octal), a size or a count within K's bounds. */
static int cfg_set_number(cfg_parser *p, const cfg_key *k, const char *val)
{
    void *f = (char *)&p->cp->pub + k->off;
    unsigned long long n, max = k->max < SIZE_MAX ? k->max : SIZE_MAX;
    char *end;

    if (k->type == T_OCTAL) {
        n = strtoull(val, &end, 8);
        if (strspn(val, "01234567") != strlen(val) || strlen(val) > 4 || n > 0777)
            return cfg_fail(p, "SocketMode \"%s\": want octal permissions, e.g. 0660", val);
        *(unsigned *)f = (unsigned)n;
        return 0;
    }
    if (cfg_parse_number(val, k->type == T_SIZE, &n) < 0)
        return cfg_fail(p, k->type == T_SIZE ? "%s \"%s\": want a size in bytes with an "
                        "optional K, M or G suffix, e.g. 64M" : "%s \"%s\": want a "
                        "whole number, e.g. 100", k->name, val);
    if (n < k->min || n > max)
        return cfg_fail(p, "%s %s is out of range; use %llu to %llu%s", k->name, val,
                        k->min, max, k->type == T_SIZE ? " bytes" : "");
    *(size_t *)f = (size_t)n;
    return 0;
}

/* cfg_set_rate - NoticeRateLimit "N/SECONDS". */
static int cfg_set_rate(cfg_parser *p, const char *val)
{
    unsigned long long n, w;
    const char *slash = strchr(val, '/');
    char num[24];

    if (slash == NULL || slash - val >= (ptrdiff_t)sizeof num)
        return cfg_fail(p, "NoticeRateLimit \"%s\": want N/SECONDS, e.g. 10/3600", val);
    memcpy(num, val, (size_t)(slash - val));
    num[slash - val] = '\0';
    if (cfg_parse_number(num, 0, &n) < 0 || cfg_parse_number(slash + 1, 0, &w) < 0)
        return cfg_fail(p, "NoticeRateLimit \"%s\": want N/SECONDS, e.g. 10/3600", val);
    if (n < 1 || n > 1000000 || w < 1 || w > 30 * 86400)
        return cfg_fail(p, "NoticeRateLimit %s is out of range; use 1 to 1000000 "
                        "notices per 1 to 2592000 seconds (Notify no turns notices off)", val);
    p->cp->pub.notice_rate_max = (unsigned)n;
    p->cp->pub.notice_rate_window = (unsigned)w;
    return 0;
}

#define CFG_SPACE " \t\r\n\f\v"
#define CFG_LIST_SEP ", \t\r\n\f\v"

/* cfg_next_item - the next item of CURSOR, items separated by runs of the
 * bytes in SEP, NUL-terminated in place; NULL at the end. */
static char *cfg_next_item(char **cursor, const char *sep)
{
    char *s = *cursor, *item;

    s += strspn(s, sep);
    if (*s == '\0')
        return NULL;
    item = s;
    s += strcspn(s, sep);
    if (*s != '\0')
        *s++ = '\0';
    *cursor = s;
    return item;
}

/* cfg_set_doctypes - DocumentTypes: a list of pdf p7s p7m office ole (and
 * aliases). */
static int cfg_set_doctypes(cfg_parser *p, const char *val)
{
    char *copy = strdup(val), *cur = copy, *item;
    unsigned bits = 0;
    int v;

    if (copy == NULL)
        return cfg_oom(p);
    while ((item = cfg_next_item(&cur, CFG_LIST_SEP)) != NULL) {
        if (cfg_lookup(doctype_names, item, &v) < 0) {
            cfg_fail(p, "DocumentTypes: unknown type \"%s\"; use pdf, p7s, p7m, office "
                     "(docx xlsx pptx odt ods) or ole (doc xls ppt)", item);
            free(copy);
            return -1;
        }
        bits |= (unsigned)v;
    }
    free(copy);
    if (bits == 0)
        return cfg_fail(p, "DocumentTypes: empty list; name at least one type, e.g. pdf");
    p->cp->pub.doc_types = bits;
    return 0;
}

/* ---- patterns ---------------------------------------------------------- */

/* cfg_norm_domain - the lower-case canonical form of domain pattern S
 * ("*", "*.dom.ain" for both "*.x" and ".x", "dom.ain"; one trailing dot
 * dropped) into OUT (at least strlen(S) + 2 bytes).  0, or -1 if bad. */
static int cfg_norm_domain(const char *s, char *out)
{
    size_t n = strlen(s), i;
    const char *d = s;

    if (n > 1 && s[n - 1] == '.')
        n--;
    if (n == 1 && s[0] == '*') {
        strcpy(out, "*");
        return 0;
    }
    if (n > 2 && s[0] == '*' && s[1] == '.')
        d = s + 2;
    else if (n > 1 && s[0] == '.')
        d = s + 1;
    if (!cfg_domain_ok(d, n - (size_t)(d - s)))
        return -1;
    i = d == s ? 0 : 2;
    if (i)
        memcpy(out, "*.", 2);
    memcpy(out + i, d, n - (size_t)(d - s));
    out[i + n - (size_t)(d - s)] = '\0';
    for (i = 0; out[i] != '\0'; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return 0;
}

/* cfg_norm_address - the canonical form of address pattern S
 * ("user@DOM", "*@DOM", "@DOM" = "*@DOM"; DOM a domain pattern) into OUT
 * (at least strlen(S) + 4 bytes).  0, or -1 if bad. */
static int cfg_norm_address(const char *s, char *out)
{
    const char *at = strchr(s, '@');
    size_t i, nl;

    if (at == NULL || strchr(at + 1, '@') != NULL)
        return -1;
    nl = (size_t)(at - s);
    for (i = 0; i < nl; i++)
        if (!isalnum((unsigned char)s[i]) && strchr("!#$%&'+-/=?^_`{|}~.", s[i]) == NULL
            && !(s[i] == '*' && nl == 1))
            return -1;
    if (nl == 0)
        memcpy(out, "*", 2);
    else {
        for (i = 0; i < nl; i++)
            out[i] = (char)tolower((unsigned char)s[i]);
        out[nl] = '\0';
    }
    nl = strlen(out);
    out[nl] = '@';
    return cfg_norm_domain(at + 1, out + nl + 1);
}

/* cfg_add_pattern - check ITEM as a domain (or, when ADDR, an address)
 * pattern and append its canonical form to L.  0, or -1 with p->err. */
static int cfg_add_pattern(cfg_parser *p, const char *key, kyso_patterns *l,
                           const char *item, int addr)
{
    char *norm = malloc(strlen(item) + 4), **nv;

    if (norm == NULL)
        return cfg_oom(p);
    if ((addr ? cfg_norm_address(item, norm) : cfg_norm_domain(item, norm)) < 0) {
        free(norm);
        return addr ? cfg_fail(p, "%s: bad address pattern \"%s\"; use user@dom.ain, "
                               "*@dom.ain, *@*.dom.ain or @dom.ain", key, item)
                    : cfg_fail(p, "%s: bad domain pattern \"%s\"; use dom.ain, *.dom.ain, "
                               ".dom.ain or * (letters, digits, '-' and '.')", key, item);
    }
    if ((nv = realloc(l->v, (l->n + 1) * sizeof *nv)) == NULL) {
        free(norm);
        return cfg_oom(p);
    }
    l->v = nv;
    l->v[l->n++] = norm;
    return 0;
}

typedef struct list_ctx {
    const char *key;
    kyso_patterns *list;
    int addr;
} list_ctx;

/* cfg_list_line - one entry of a list file. */
static int cfg_list_line(cfg_parser *p, char *line, void *arg)
{
    list_ctx *lc = arg;

    if (line[strcspn(line, " \t,")] != '\0')
        return cfg_fail(p, "%s: \"%s\" holds more than one entry; write one per line",
                        lc->key, line);
    return cfg_add_pattern(p, lc->key, lc->list, line, lc->addr);
}

/* cfg_set_list - EnforceDomains, ExemptAddresses, LocalDomains: inline, or
 * a file when the value starts with '/'. */
static int cfg_set_list(cfg_parser *p, const cfg_key *k, const char *val)
{
    list_ctx lc = { k->name, (kyso_patterns *)((char *)&p->cp->pub + k->off),
                    k->type == T_ADDRESSES };
    char *copy, *cur, *item;
    int rc = 0;

    if (val[0] == '/')
        return cfg_read_file(p, k->name, val, cfg_list_line, &lc);
    if ((copy = strdup(val)) == NULL)
        return cfg_oom(p);
    cur = copy;
    while (rc == 0 && (item = cfg_next_item(&cur, CFG_LIST_SEP)) != NULL)
        rc = cfg_add_pattern(p, k->name, lc.list, item, lc.addr);
    free(copy);
    if (rc == 0 && lc.list->n == 0)
        rc = cfg_fail(p, "%s: empty list; name at least one entry", k->name);
    return rc;
}

typedef struct table_ctx {
    unsigned *lines;            /* line of each entry, for duplicates */
} table_ctx;

/* cfg_table_add - append PATTERN (canonical, owned on success) and MODE. */
static int cfg_table_add(cfg_parser *p, table_ctx *tc, char *pattern, kyso_mode mode)
{
    kyso_config *c = &p->cp->pub;
    kyso_mode_entry *nv = realloc(c->mode_table, (c->nmode_table + 1) * sizeof *nv);
    unsigned *nl;

    if (nv == NULL)
        return cfg_oom(p);
    c->mode_table = nv;
    if ((nl = realloc(tc->lines, (c->nmode_table + 1) * sizeof *nl)) == NULL)
        return cfg_oom(p);
    tc->lines = nl;
    nl[c->nmode_table] = p->line;
    nv[c->nmode_table].pattern = pattern;
    nv[c->nmode_table++].mode = mode;
    return 0;
}

/* cfg_table_line - one "DOMAIN-PATTERN MODE" line of the ModeTable. */
static int cfg_table_line(cfg_parser *p, char *line, void *arg)
{
    kyso_config *c = &p->cp->pub;
    char *cur = line, *pat = cfg_next_item(&cur, CFG_SPACE), *norm;
    char *mode = cfg_next_item(&cur, CFG_SPACE);
    size_t i;
    int m;

    if (mode == NULL || cfg_next_item(&cur, CFG_SPACE) != NULL)
        return cfg_fail(p, "want \"DOMAIN-PATTERN MODE\", e.g. \"*.hanoi.gov.vn monitor\"");
    if (cfg_lookup(mode_names, mode, &m) < 0)
        return cfg_fail(p, "mode \"%s\" is not valid; use off, monitor or enforce", mode);
    if ((norm = malloc(strlen(pat) + 2)) == NULL)
        return cfg_oom(p);
    if (cfg_norm_domain(pat, norm) < 0) {
        free(norm);
        return cfg_fail(p, "bad domain pattern \"%s\"; use dom.ain, *.dom.ain, .dom.ain "
                        "or *", pat);
    }
    for (i = 0; i < c->nmode_table; i++)
        if (strcmp(c->mode_table[i].pattern, norm) == 0) {
            free(norm);
            return cfg_fail(p, "pattern \"%s\" already listed at line %u; keep one",
                            pat, ((table_ctx *)arg)->lines[i]);
        }
    if (cfg_table_add(p, arg, norm, (kyso_mode)m) < 0) {
        free(norm);
        return -1;
    }
    return 0;
}

/* cfg_set_modetable - ModeTable FILE. */
static int cfg_set_modetable(cfg_parser *p, const char *val)
{
    table_ctx tc = { NULL };
    int rc;

    if (val[0] != '/')
        return cfg_fail(p, "ModeTable \"%s\": want an absolute path", val);
    rc = cfg_read_file(p, "ModeTable", val, cfg_table_line, &tc);
    free(tc.lines);
    return rc;
}

/* cfg_responders_line - one "ISSUER URL" line of the OCSPResponders table. */
static int cfg_responders_line(cfg_parser *p, char *line, void *arg)
{
    char why[400];

    (void)arg;
    if (ocsp_table_add_line(p->cp->pub.ocsp_responders, line, why, sizeof why) < 0)
        return cfg_fail(p, "%s", why);
    return 0;
}

/* cfg_set_responders - OCSPResponders FILE (see ocsp.h for the format). */
static int cfg_set_responders(cfg_parser *p, const char *val)
{
    if (val[0] != '/')
        return cfg_fail(p, "OCSPResponders \"%s\": want an absolute path", val);
    if ((p->cp->pub.ocsp_responders = ocsp_table_new()) == NULL)
        return cfg_oom(p);
    return cfg_read_file(p, "OCSPResponders", val, cfg_responders_line, NULL);
}

/* cfg_set_class - CertificateClass "FIELD PREFIX CLASS": checked with
 * class_rules_add into c->classes, and kept for config_build_verifier. */
static int cfg_set_class(cfg_parser *p, const char *val)
{
    config_priv *cp = p->cp;
    char *copy = strdup(val), *cur = copy, *f, *pre, *cls, why[256];
    class_line *nv;

    if (copy == NULL)
        return cfg_oom(p);
    f = cfg_next_item(&cur, CFG_SPACE);
    pre = cfg_next_item(&cur, CFG_SPACE);
    cls = cfg_next_item(&cur, CFG_SPACE);
    if (cls == NULL || cfg_next_item(&cur, CFG_SPACE) != NULL) {
        free(copy);
        return cfg_fail(p, "CertificateClass \"%s\": want FIELD PREFIX CLASS, e.g. "
                        "\"uid MST: organisation\"", val);
    }
    if ((cp->pub.classes == NULL && (cp->pub.classes = class_rules_default()) == NULL)
        || (nv = realloc(cp->class_lines, (cp->nclass + 1) * sizeof *nv)) == NULL) {
        free(copy);
        return cfg_oom(p);
    }
    cp->class_lines = nv;
    if (class_rules_add(cp->pub.classes, f, pre, cls, why, sizeof why) < 0) {
        free(copy);
        return cfg_fail(p, "CertificateClass \"%s\": %s", val, why);
    }
    nv[cp->nclass].field = copy;          /* owns the three strings */
    nv[cp->nclass].prefix = pre;
    nv[cp->nclass++].cls = cls;
    return 0;
}

/* cfg_set - check VAL for key K and store it. */
static int cfg_set(cfg_parser *p, const cfg_key *k, const char *val)
{
    switch (k->type) {
    case T_OCTAL: case T_SIZE: case T_COUNT:
        return cfg_set_number(p, k, val);
    case T_BOOL: case T_FACILITY: case T_REVCHECK: case T_FLOW: case T_MODE:
    case T_REQUIRE: case T_ACTION: case T_SIGNPOLICY:
        return cfg_set_enum(p, k, val);
    case T_DOMAINS: case T_ADDRESSES:
        return cfg_set_list(p, k, val);
    case T_STORE:
        return cfg_set_store(p, k, val);
    case T_CLASS:
        return cfg_set_class(p, val);
    case T_MODETABLE:
        return cfg_set_modetable(p, val);
    case T_OCSPTABLE:
        return cfg_set_responders(p, val);
    case T_DOCTYPES:
        return cfg_set_doctypes(p, val);
    case T_RATE:
        return cfg_set_rate(p, val);
    default:
        return cfg_set_string(p, k, val);
    }
}

/* cfg_config_line - one "Key value" line of the configuration file. */
static int cfg_config_line(cfg_parser *p, char *line, void *arg)
{
    char *val = line + strcspn(line, CFG_SPACE);
    size_t i;

    (void)arg;
    if (*val != '\0') {
        *val++ = '\0';
        val += strspn(val, CFG_SPACE);
    }
    for (i = 0; i < NKEYS; i++)
        if (strcasecmp(line, cfg_keys[i].name) == 0)
            break;
    if (i == NKEYS)
        return cfg_unknown_key(p, line);
    if (*val == '\0')
        return cfg_fail(p, "%s has no value; write \"%s VALUE\" or remove the line",
                        cfg_keys[i].name, cfg_keys[i].name);
    if (p->seen[i] != 0 && !(cfg_keys[i].flags & F_REPEAT))
        return cfg_fail(p, "duplicate key %s (first set at line %u); keep only one",
                        cfg_keys[i].name, p->seen[i]);
    p->seen[i] = p->line;
    return cfg_set(p, &cfg_keys[i], val);
}

/* ---- load and free ----------------------------------------------------- */

/* cfg_set_defaults - the documented defaults that need no string copy.
 * Returns 0, or -1 when out of memory. */
static int cfg_set_defaults(kyso_config *c)
{
    kyso_verifier v;

    c->socket_mode = 0660;
    c->syslog = 1;
    c->syslog_facility = LOG_MAIL;
    c->spool_threshold = 4u << 20;
    c->vcache_size = 1000;
    c->store_max_size = 256u << 20;
    c->vcache_ttl = 3600;
    c->sign_policy = SIGN_PERSONAL_FIRST;
    c->cert_expiry_warning = 30;
    c->sign_timeout = 30000;
    c->log_retention = 190;
    c->redis_timeout = 200;
    c->revcheck = REVCHECK_OCSP_CRL;
    c->revocation_timeout = 5000;
    c->ocsp_tolerance = 300;
    c->crl_max_size = 32u << 20;
    c->ocsp_nonce = 1;
    c->on_revocation_unknown = ACTION_TEMPFAIL;
    c->revocation_max_defer = 86400;
    c->flow = FLOW_BOTH;
    c->mode = MODE_ENFORCE;
    c->doc_types = DOC_PDF;
    c->require = REQUIRE_ANY;
    c->on_unsigned = c->on_invalid = c->on_unsupported = c->on_limit = ACTION_REJECT;
    c->on_indeterminate = c->on_internal_error = ACTION_TEMPFAIL;
    c->notify = 1;
    c->notice_rate_max = 10;
    c->notice_rate_window = 3600;
    if (verifier_init(&v) < 0)          /* the limits' defaults live there */
        return -1;
    c->lim = v.lim;
    verifier_free(&v);
    return 0;
}

/* cfg_default_string - *F = a copy of S when *F is unset; 0 or -1 (oom). */
static int cfg_default_string(char **f, const char *s)
{
    if (*f == NULL && (*f = strdup(s)) == NULL)
        return -1;
    return 0;
}

/* cfg_append_escaped - S into B (of LEN, at *pos) with every byte other
 * than letters, digits and "/._-" written as %XX.  0, or -1 when B is full. */
static int cfg_append_escaped(char *b, size_t len, size_t *pos, const char *s)
{
    int n;

    for (; *s != '\0'; s++) {
        if (isalnum((unsigned char)*s) || strchr("/._-", *s) != NULL)
            n = snprintf(b + *pos, len - *pos, "%c", *s);
        else
            n = snprintf(b + *pos, len - *pos, "%%%02X", (unsigned char)*s);
        if (n < 0 || (size_t)n >= len - *pos)
            return -1;
        *pos += (size_t)n;
    }
    return 0;
}

/* cfg_store_options - a Redis Store gets RedisTimeout, LogRetention,
 * AuditRetention, RedisSpool and NodeName as URI options (what
 * lib/store-redis.c reads).  0, or -1 when out of memory. */
static int cfg_store_options(kyso_config *c)
{
    size_t len, pos;
    char *uri;
    int n;

    if (strncmp(c->store, "file:", 5) == 0 && c->store_max_size > 0) {
        if (asprintf(&uri, "%s%cmax_size=%zu", c->store, strchr(c->store, '?') ? '&' : '?',
                     c->store_max_size) < 0)
            return -1;
        free(c->store);
        c->store = uri;
        return 0;
    }
    if (strncmp(c->store, "redis://", 8) != 0 && strncmp(c->store, "sentinel://", 11) != 0)
        return 0;
    len = strlen(c->store) + 3 * strlen(c->redis_spool) + strlen(c->node) + 128;
    if ((uri = malloc(len)) == NULL)
        return -1;
    n = snprintf(uri, len, "%s%ctimeout=%zu&retention=%zu&audit_retention=%zu&node=%s&spool=",
                 c->store, strchr(c->store, '?') ? '&' : '?', c->redis_timeout,
                 c->log_retention, c->audit_retention, c->node);
    pos = (size_t)n;
    if (n < 0 || (size_t)n >= len || cfg_append_escaped(uri, len, &pos, c->redis_spool) < 0) {
        free(uri);
        return -1;
    }
    free(c->store);
    c->store = uri;
    return 0;
}

/* cfg_fill_strings - the string defaults, once the file is read. */
static int cfg_fill_strings(kyso_config *c)
{
    char host[256], from[300];

    if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(from, sizeof from, "postmaster@%s", host);
    if (cfg_default_string(&c->node, host) < 0 || cfg_default_string(&c->authserv_id, host) < 0
        || cfg_default_string(&c->temp_dir, "/tmp") < 0
        || cfg_default_string(&c->redis_spool, "/var/spool/kyso") < 0
        || cfg_default_string(&c->mta_command, "/usr/sbin/sendmail") < 0
        || cfg_default_string(&c->notice_from, from) < 0
        || cfg_default_string(&c->notice_contact, c->notice_from) < 0)
        return -1;
    return cfg_store_options(c);
}

/* cfg_check_required - every required key present?  0, or -1 with err. */
static int cfg_check_required(cfg_parser *p)
{
    size_t i;
    const char *eg;

    for (i = 0; i < NKEYS; i++) {
        if (!(cfg_keys[i].flags & F_REQUIRED) || p->seen[i] != 0)
            continue;
        eg = cfg_keys[i].type == T_SOCKET ? "inet:8891@127.0.0.1"
           : cfg_keys[i].type == T_STORE ? "file:/var/lib/kyso" : "/etc/kyso/anchors.pem";
        snprintf(p->err, p->errlen, "%s: missing required key %s; add e.g. \"%s %s\"",
                 p->file, cfg_keys[i].name, cfg_keys[i].name, eg);
        return -1;
    }
    if ((p->cp->pub.signer_table == NULL) != (p->cp->pub.key_table == NULL)) {
        snprintf(p->err, p->errlen, "%s: %s is set but %s is not; signing needs both "
                 "(see kyso-milter.conf(5))", p->file,
                 p->cp->pub.signer_table ? "SignerTable" : "KeyTable",
                 p->cp->pub.signer_table ? "KeyTable" : "SignerTable");
        return -1;
    }
    return 0;
}

/* cfg_note_explicit - what depends on whether a key was written at all. */
static void cfg_note_explicit(cfg_parser *p)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(cfg_keys[i].name, "On-RevocationUnknown") == 0)
            p->cp->pub.revocation_defer = p->seen[i] != 0;
}

/* config_load - see config.h.  Defaults first, then the file; on any error
 * everything read so far is released. */
kyso_config *config_load(const char *path, char *err, size_t errlen)
{
    config_priv *cp = calloc(1, sizeof *cp);
    cfg_parser p;

    if (cp == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    memset(&p, 0, sizeof p);
    p.cp = cp;
    p.file = path;
    p.err = err;
    p.errlen = errlen;
    if (cfg_set_defaults(&cp->pub) < 0 || (cp->pub.path = strdup(path)) == NULL)
        cfg_oom(&p);
    else if (cfg_read_file(&p, NULL, path, cfg_config_line, NULL) == 0
             && cfg_check_required(&p) == 0) {
        cfg_note_explicit(&p);
        if (cfg_fill_strings(&cp->pub) == 0)
            return &cp->pub;
        snprintf(err, errlen, "%s: out of memory", path);
    }
    config_free(&cp->pub);
    return NULL;
}

/* cfg_free_patterns - release the entries of L. */
static void cfg_free_patterns(kyso_patterns *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* config_free - see config.h; C must come from config_load. */
void config_free(kyso_config *c)
{
    config_priv *cp = (config_priv *)c;
    size_t i;

    if (c == NULL)
        return;
    free(c->path); free(c->socket); free(c->user_id); free(c->pid_file);
    free(c->node); free(c->authserv_id); free(c->temp_dir); free(c->redis_spool);
    free(c->trust_anchors); free(c->intermediates); free(c->crls);
    free(c->notice_from); free(c->notice_contact); free(c->mta_command); free(c->store);
    free(c->signer_table); free(c->key_table); free(c->sign_daemon); free(c->pkcs11_module);
    class_rules_free(c->classes);
    ocsp_table_free(c->ocsp_responders);
    cfg_free_patterns(&c->enforce_domains);
    cfg_free_patterns(&c->exempt);
    cfg_free_patterns(&c->local_domains);
    for (i = 0; i < c->nmode_table; i++)
        free(c->mode_table[i].pattern);
    free(c->mode_table);
    for (i = 0; i < cp->nclass; i++)
        free(cp->class_lines[i].field);         /* the three share one block */
    free(cp->class_lines);
    free(cp);
}

/* ---- the verifier ------------------------------------------------------ */

/* cfg_build_fail - "KEY WHY" into err, v freed and zeroed; returns -1. */
static int cfg_build_fail(kyso_verifier *v, const char *key, const char *why,
                          char *err, size_t errlen)
{
    snprintf(err, errlen, "%s %s", key, why);
    verifier_free(v);
    return -1;
}

/* cfg_build_classes - v->classes rebuilt from the CertificateClass lines,
 * so that the verifier owns its copy.  0, or -1 with WHY filled. */
static int cfg_build_classes(const config_priv *cp, kyso_verifier *v, char *why, size_t len)
{
    size_t i;

    if (cp->nclass == 0)
        return 0;
    if ((v->classes = class_rules_default()) == NULL) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    for (i = 0; i < cp->nclass; i++)
        if (class_rules_add(v->classes, cp->class_lines[i].field, cp->class_lines[i].prefix,
                            cp->class_lines[i].cls, why, len) < 0)
            return -1;
    return 0;
}

/* cfg_build_revocation - v->rev and v->rev_missing from the revocation
 * keys; the OCSPResponders table is copied.  0, or -1 when out of memory. */
static int cfg_build_revocation(const kyso_config *c, kyso_verifier *v)
{
    static const kyso_rev_source orders[][3] = {
        [REVCHECK_CRL] = { REVSRC_CRL, REVSRC_END, REVSRC_END },
        [REVCHECK_NONE] = { REVSRC_END, REVSRC_END, REVSRC_END },
        [REVCHECK_OCSP_CRL] = { REVSRC_OCSP, REVSRC_CRL, REVSRC_END },
        [REVCHECK_CRL_OCSP] = { REVSRC_CRL, REVSRC_OCSP, REVSRC_END },
        [REVCHECK_OCSP] = { REVSRC_OCSP, REVSRC_END, REVSRC_END },
    };

    v->rev_missing = c->revcheck == REVCHECK_NONE ? REVMISSING_IGNORE : REVMISSING_UNKNOWN;
    memcpy(v->rev.order, orders[c->revcheck], sizeof v->rev.order);
    v->rev.timeout_ms = (long)c->revocation_timeout;
    v->rev.tolerance = (long)c->ocsp_tolerance;
    v->rev.crl_max_size = c->crl_max_size;
    v->rev.nonce = c->ocsp_nonce;
    v->rev.refresh = 1;
    if (c->ocsp_responders != NULL
        && (v->rev.responders = ocsp_table_dup(c->ocsp_responders)) == NULL)
        return -1;
    return 0;
}

/* config_build_verifier - see config.h.  C must come from config_load. */
int config_build_verifier(const kyso_config *c, kyso_verifier *v, char *err, size_t errlen)
{
    char why[512];

    if (verifier_init(v) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (trust_add_anchors(v->trust, c->trust_anchors, why, sizeof why) < 0)
        return cfg_build_fail(v, "TrustAnchors", why, err, errlen);
    if (c->intermediates != NULL
        && trust_add_intermediates(v->trust, c->intermediates, why, sizeof why) < 0)
        return cfg_build_fail(v, "Intermediates", why, err, errlen);
    if (c->crls != NULL && trust_add_crls(v->trust, c->crls, why, sizeof why) < 0)
        return cfg_build_fail(v, "CRLs", why, err, errlen);
    if (cfg_build_classes((const config_priv *)c, v, why, sizeof why) < 0)
        return cfg_build_fail(v, "CertificateClass", why, err, errlen);
    v->lim = c->lim;
    if (cfg_build_revocation(c, v) < 0)
        return cfg_build_fail(v, "OCSPResponders", "out of memory", err, errlen);
    if (c->vcache_size > 0 &&
        (v->cache = vcache_new(c->vcache_size, (unsigned)c->vcache_ttl)) == NULL)
        return cfg_build_fail(v, "VerifyCacheSize", "out of memory", err, errlen);
    return 0;
}

/* ---- matching ---------------------------------------------------------- */

/* cfg_rank - how specifically canonical pattern PAT matches domain D of N
 * bytes (trailing dot already dropped): 0 not at all, 1 for "*", 2 plus the
 * suffix length for "*.x", SIZE_MAX for the exact domain. */
static size_t cfg_rank(const char *pat, const char *d, size_t n)
{
    size_t pl;

    if (n == 0)
        return 0;
    if (pat[0] == '*' && pat[1] == '\0')
        return 1;
    if (pat[0] == '*') {
        pl = strlen(pat + 1);                   /* ".x": a label must come before */
        return n > pl && strncasecmp(d + n - pl, pat + 1, pl) == 0 ? 2 + pl : 0;
    }
    pl = strlen(pat);
    return pl == n && strncasecmp(d, pat, n) == 0 ? SIZE_MAX : 0;
}

/* cfg_domain_len - length of D without one trailing dot. */
static size_t cfg_domain_len(const char *d)
{
    size_t n = strlen(d);

    return n > 0 && d[n - 1] == '.' ? n - 1 : n;
}

/* config_match_domain - see config.h; an empty domain (null sender)
 * matches nothing, not even "*". */
int config_match_domain(const kyso_patterns *p, const char *domain)
{
    size_t i, n;

    if (p == NULL || domain == NULL)
        return 0;
    n = cfg_domain_len(domain);
    for (i = 0; i < p->n; i++)
        if (cfg_rank(p->v[i], domain, n) > 0)
            return 1;
    return 0;
}

/* cfg_match_one_address - does canonical "local@dompat" PAT match the
 * address whose local part is L (LN bytes) and domain D? */
static int cfg_match_one_address(const char *pat, const char *l, size_t ln, const char *d)
{
    const char *at = strchr(pat, '@');
    size_t pl = (size_t)(at - pat);

    if (!(pl == 1 && pat[0] == '*') && (pl != ln || strncasecmp(pat, l, ln) != 0))
        return 0;
    return cfg_rank(at + 1, d, cfg_domain_len(d)) > 0;
}

/* config_match_address - see config.h; the domain is what follows the last
 * '@'; an address without one, or with an empty local part, matches nothing. */
int config_match_address(const kyso_patterns *p, const char *addr)
{
    const char *at;
    size_t i;

    if (p == NULL || addr == NULL || (at = strrchr(addr, '@')) == NULL || at == addr)
        return 0;
    for (i = 0; i < p->n; i++)
        if (cfg_match_one_address(p->v[i], addr, (size_t)(at - addr), at + 1))
            return 1;
    return 0;
}

/* config_table_mode - see config.h; *mode is untouched when 0 is returned. */
int config_table_mode(const kyso_config *c, const char *domain, kyso_mode *mode)
{
    size_t i, r, best = 0, n;

    if (c == NULL || domain == NULL)
        return 0;
    n = cfg_domain_len(domain);
    for (i = 0; i < c->nmode_table; i++)
        if ((r = cfg_rank(c->mode_table[i].pattern, domain, n)) > best) {
            best = r;
            *mode = c->mode_table[i].mode;
        }
    return best > 0;
}

/* action_name - see config.h; "unknown" for a value out of the enum. */
const char *action_name(kyso_action a)
{
    switch (a) {
    case ACTION_ACCEPT: return "accept";
    case ACTION_REJECT: return "reject";
    case ACTION_TEMPFAIL: return "tempfail";
    case ACTION_QUARANTINE: return "quarantine";
    }
    return "unknown";
}

/* mode_name - see config.h; "unknown" for a value out of the enum. */
const char *mode_name(kyso_mode m)
{
    switch (m) {
    case MODE_OFF: return "off";
    case MODE_MONITOR: return "monitor";
    case MODE_ENFORCE: return "enforce";
    }
    return "unknown";
}
