/*
 * token.c - the organisation key on a PKCS#11 token, or in a PEM / PKCS#12
 * file for labs.
 *
 * A token key is named by an RFC 7512 URI.  Path attributes: token,
 * serial, manufacturer, model, slot-id, slot-description,
 * slot-manufacturer, library-manufacturer, library-description (which
 * token), object, id (which key; at least one of them) and type (only
 * "private").  Query attributes: module-path (the module), pin-value (the
 * PIN when the caller has none), pin-source (accepted and ignored: the
 * KeyTable PIN file, read by keytable.c, is the PIN).  Values are strictly
 * percent-decoded; any other attribute, a repeated one or a stray
 * character is refused by token_open with the reason.
 *
 * The module is the URI's module-path, else the MODULE argument, else the
 * p11-kit proxy /usr/lib/x86_64-linux-gnu/p11-kit-proxy.so when installed
 * (it loads every module registered with p11-kit), else SoftHSM2's
 * /usr/lib/softhsm/libsofthsm2.so.
 *
 * libp11 is not fully thread-safe, so each token handle has one signer
 * thread that alone calls libp11: it loads the module, finds the token,
 * logs in once and keeps the login and the key across requests.  Callers
 * queue requests (at most TOKEN_QUEUE_MAX waiting) and wait for the answer
 * with a timeout; a request whose caller gave up is freed by whichever side
 * drops the last of its two references.  After any failure the thread
 * releases everything, down to PKCS11_CTX_unload: modules such as SoftHSM2
 * look for tokens only in C_Initialize, so a token that comes back is
 * found by the next request.
 *
 * C_Initialize, C_CloseAllSessions and C_Finalize act on the whole process,
 * so handles on the same module (several keys, or the next configuration's
 * during a reload) affect each other: every libp11 call holds tk_p11_rw, to
 * read while attached handles sign side by side, to write while one
 * attaches (loading the module; up to its first signature) or releases it,
 * which ends the others' sessions (their next signature fails and is tried
 * again at once, logged in afresh).  A handle
 * whose token or key is not there, while other handles use its module,
 * looks again only every TOKEN_SHARED_RETRY_MS, so that it does not end
 * their sessions for every message.  A login refused for any reason other than a
 * missing token latches pin_bad: the PIN is never presented again by this
 * handle (tokens lock after a few wrong PINs); the caller reloads.
 *
 * File keys are loaded by token_open and used directly by the calling
 * threads (signing with an OpenSSL key is thread-safe); no thread.
 *
 * Never prints; errors are returned as text with what to do.
 */
#include "token.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define TOKEN_QUEUE_MAX     256         /* requests waiting for the thread */
#define TOKEN_CHECK_MS      10000       /* token_check_cert's wait */
#define TOKEN_FILE_MAX      (1 << 20)   /* largest key file read */
#define TOKEN_MSG           512
#define TOKEN_P11KIT_PROXY  "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
#define TOKEN_SOFTHSM       "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN_SHARED_RETRY_MS 30000     /* see the file comment */

/* The CK_RV values (PKCS#11 2.40) that libp11 leaves as ERR reasons. */
#define TK_CKR_GENERAL_ERROR            0x05UL
#define TK_CKR_FUNCTION_FAILED          0x06UL
#define TK_CKR_DEVICE_ERROR             0x30UL
#define TK_CKR_DEVICE_MEMORY            0x31UL
#define TK_CKR_DEVICE_REMOVED           0x32UL
#define TK_CKR_KEY_HANDLE_INVALID       0x60UL
#define TK_CKR_OBJECT_HANDLE_INVALID    0x82UL
#define TK_CKR_PIN_INCORRECT            0xA0UL
#define TK_CKR_PIN_INVALID              0xA1UL
#define TK_CKR_PIN_LEN_RANGE            0xA2UL
#define TK_CKR_PIN_EXPIRED              0xA3UL
#define TK_CKR_PIN_LOCKED               0xA4UL
#define TK_CKR_SESSION_CLOSED           0xB0UL
#define TK_CKR_SESSION_HANDLE_INVALID   0xB3UL
#define TK_CKR_TOKEN_NOT_PRESENT        0xE0UL
#define TK_CKR_TOKEN_NOT_RECOGNIZED     0xE1UL
#define TK_CKR_USER_ALREADY_LOGGED_IN   0x100UL
#define TK_CKR_USER_NOT_LOGGED_IN       0x101UL
#define TK_CKR_USER_PIN_NOT_INITIALIZED 0x102UL

/* One signing request.  Owned by the caller and the signer thread (refs). */
typedef struct token_req {
    struct token_req *next;
    int refs;                   /* 2 while both sides hold it */
    int taken;                  /* the thread dequeued it */
    int done;                   /* rc, sig, err are final */
    int pss;
    unsigned char *tbs;         /* a copy: the caller may leave early */
    size_t len;
    int rc;
    unsigned char *sig;
    size_t siglen;
    char err[TOKEN_MSG];
} token_req;

/* The URI attributes that select a token and a key (NULL: not given). */
typedef struct token_uri {
    char *token, *serial, *manufacturer, *model;
    char *slot_desc, *slot_manuf, *lib_manuf, *lib_desc;
    char *object, *type, *module, *pin_value, *pin_source;
    char *slot_id_text;
    char *id;                   /* binary, id_len bytes */
    size_t id_len;
    unsigned long slot_id;
} token_uri;

struct token {
    /* fixed by token_open */
    char *what;                 /* "token 'Kyso Org'" */
    char *shown;                /* the key as shown in messages (no query part) */
    char *module;
    char *pin;
    token_uri uri;
    EVP_PKEY *file_key;         /* a file key: no thread */

    /* guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t work;        /* a request arrived, or stop */
    pthread_cond_t done;        /* some request is done */
    token_req *head, *tail;
    int queued;
    int stop;
    int pin_bad;
    char pin_msg[TOKEN_MSG];
    int started;
    pthread_t thread;

    /* the signer thread's own */
    PKCS11_CTX *ctx;
    PKCS11_SLOT *slots;
    unsigned int nslots;
    PKCS11_SLOT *slot;
    int logged_in;
    EVP_PKEY *key;
    int absent;                 /* the last attach found no token or no key */
    long long retry_at_ms;      /* shared module: do not look before (CLOCK_MONOTONIC) */
    char retry_msg[TOKEN_MSG];  /* the answer until then */
};

/* ================================================================ helpers */

/* token_errf - format into ERR (may be NULL or 0 long). */
static void token_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void token_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* token_free_secret - wipe and free a NUL-terminated secret (NULL is fine). */
static void token_free_secret(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* token_ckr_name - the name of the CK_RV values we meet, else NULL. */
static const char *token_ckr_name(unsigned long rv)
{
    static const struct { unsigned long rv; const char *name; } names[] = {
        { TK_CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
        { TK_CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
        { TK_CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
        { TK_CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
        { TK_CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
        { TK_CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
        { TK_CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
        { TK_CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
        { TK_CKR_PIN_INVALID, "CKR_PIN_INVALID" },
        { TK_CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
        { TK_CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
        { TK_CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
        { TK_CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
        { TK_CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
        { TK_CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
        { TK_CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
        { TK_CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
        { TK_CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
    };
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].rv == rv)
            return names[i].name;
    return NULL;
}

/* token_ckr_last - the CK_RV of libp11's latest error in this thread's
 * OpenSSL error queue, 0 when the latest error is not a PKCS#11 one. */
static unsigned long token_ckr_last(void)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0 || ERR_GET_LIB(e) != ERR_get_CKR_code())
        return 0;
    return (unsigned long)ERR_GET_REASON(e);
}

/* token_reason - the latest OpenSSL / libp11 error as text in BUF ("no
 * detail" when none); clears this thread's error queue. */
static const char *token_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    unsigned long rv = token_ckr_last();
    const char *name = token_ckr_name(rv);

    if (rv != 0 && name != NULL)
        snprintf(buf, len, "%s", name);
    else if (rv != 0)
        snprintf(buf, len, "CKR 0x%lx", rv);
    else if (e != 0)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "no detail");
    ERR_clear_error();
    return buf;
}

/* ============================================================== URI parse */

/* token_uri_char_ok - may C stand unencoded in a value (RFC 7512
 * pk11-pchar, or pk11-qchar when QUERY)? */
static int token_uri_char_ok(int c, int query)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    if (c != '\0' && strchr("-._~:[]@!$'()*+,=", c) != NULL)
        return 1;
    if (query)
        return c != '\0' && strchr("/?|", c) != NULL;
    return c == '&';
}

/* token_hex - the value of hex digit C, or -1. */
static int token_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * token_uri_decode - percent-decode the N bytes at S into a new
 * NUL-terminated buffer (*OUT, length *OUTLEN).  Strict: '%' must be
 * followed by two hex digits, other bytes must be allowed unencoded, and
 * a decoded NUL is refused unless BINARY.  -1 with the reason in ERR.
 */
static int token_uri_decode(const char *name, const char *s, size_t n, int query, int binary,
                            char **out, size_t *outlen, char *err, size_t errlen)
{
    char *d = malloc(n + 1);
    size_t i, k = 0;
    int hi, lo;

    if (d == NULL) {
        token_errf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] != '%') {
            if (!token_uri_char_ok((unsigned char)s[i], query))
                goto bad_char;
            d[k++] = s[i];
            continue;
        }
        hi = i + 2 < n ? token_hex((unsigned char)s[i + 1]) : -1;
        lo = hi >= 0 ? token_hex((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            goto bad_pct;
        d[k] = (char)(hi << 4 | lo);
        if (d[k] == 0 && !binary)
            goto bad_pct;
        k++;
        i += 2;
    }
    d[k] = '\0';
    *out = d;
    *outlen = k;
    return 0;
bad_char:
    token_errf(err, errlen, "PKCS#11 URI attribute %s: character 0x%02x ('%c') must be "
               "percent-encoded (e.g. a space as %%20)", name, (unsigned char)s[i],
               s[i] >= ' ' && s[i] < 127 ? s[i] : '?');
    free(d);
    return -1;
bad_pct:
    token_errf(err, errlen, "PKCS#11 URI attribute %s: bad percent-encoding at \"%.3s\""
               " (want %% and two hex digits, not %%00)", name, s + i);
    free(d);
    return -1;
}

/* The attributes token_open knows: where each goes in token_uri. */
typedef struct token_attr {
    const char *name;
    int query;                  /* after '?' */
    size_t off;                 /* offsetof the char * in token_uri */
} token_attr;

#define TA(n, q, f) { n, q, offsetof(token_uri, f) }
static const token_attr token_attrs[] = {
    TA("token", 0, token), TA("serial", 0, serial), TA("manufacturer", 0, manufacturer),
    TA("model", 0, model), TA("slot-description", 0, slot_desc),
    TA("slot-manufacturer", 0, slot_manuf), TA("slot-id", 0, slot_id_text),
    TA("library-manufacturer", 0, lib_manuf), TA("library-description", 0, lib_desc),
    TA("object", 0, object), TA("type", 0, type), TA("id", 0, id),
    TA("module-path", 1, module), TA("pin-value", 1, pin_value),
    TA("pin-source", 1, pin_source),
};
#undef TA

/* token_attr_find - the known attribute NAME (N bytes), or NULL. */
static const token_attr *token_attr_find(const char *name, size_t n, int query)
{
    size_t i;

    for (i = 0; i < sizeof token_attrs / sizeof token_attrs[0]; i++)
        if (token_attrs[i].query == query && strlen(token_attrs[i].name) == n
            && memcmp(token_attrs[i].name, name, n) == 0)
            return &token_attrs[i];
    return NULL;
}

/* token_uri_unknown - the reason for refusing attribute NAME (N bytes). */
static void token_uri_unknown(const char *name, size_t n, int query, char *err, size_t errlen)
{
    if (n == 11 && memcmp(name, "module-name", 11) == 0)
        token_errf(err, errlen, "PKCS#11 URI: module-name is not supported; "
                   "give the module's file with module-path=");
    else if (token_attr_find(name, n, !query) != NULL)
        token_errf(err, errlen, "PKCS#11 URI: %.*s belongs in the %s part", (int)n, name,
                   query ? "path (before '?')" : "query (after '?')");
    else
        token_errf(err, errlen, "PKCS#11 URI: unknown attribute '%.*s' (known: token, serial,"
                   " manufacturer, model, slot-id, slot-description, slot-manufacturer, "
                   "library-manufacturer, library-description, object, id, type; "
                   "?module-path, pin-value, pin-source)", (int)n, name);
}

/* token_uri_attr - store one "name=value" (N bytes at S) in U.  -1 with
 * the reason for an unknown, repeated, empty or badly encoded attribute. */
static int token_uri_attr(token_uri *u, const char *s, size_t n, int query,
                          char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', n);
    const token_attr *a;
    char **slot, *v;
    size_t nl = eq ? (size_t)(eq - s) : n, vl;

    if (n == 0) {
        token_errf(err, errlen, "PKCS#11 URI: empty attribute (stray '%c')", query ? '&' : ';');
        return -1;
    }
    if (eq == NULL || nl == 0) {
        token_errf(err, errlen, "PKCS#11 URI: '%.*s' is not name=value", (int)n, s);
        return -1;
    }
    if ((a = token_attr_find(s, nl, query)) == NULL) {
        token_uri_unknown(s, nl, query, err, errlen);
        return -1;
    }
    slot = (char **)(void *)((char *)u + a->off);
    if (*slot != NULL) {
        token_errf(err, errlen, "PKCS#11 URI: %s given twice", a->name);
        return -1;
    }
    if (nl + 1 == n) {
        token_errf(err, errlen, "PKCS#11 URI: %s has an empty value", a->name);
        return -1;
    }
    if (token_uri_decode(a->name, eq + 1, n - nl - 1, query, slot == &u->id, &v, &vl,
                         err, errlen) < 0)
        return -1;
    *slot = v;
    if (slot == &u->id)
        u->id_len = vl;
    return 0;
}

/* token_uri_split - each SEP-separated attribute of S (N bytes) into U. */
static int token_uri_split(token_uri *u, const char *s, size_t n, int sep, int query,
                           char *err, size_t errlen)
{
    const char *end = s + n, *p;

    for (;;) {
        p = memchr(s, sep, (size_t)(end - s));
        if (p == NULL)
            p = end;
        if (token_uri_attr(u, s, (size_t)(p - s), query, err, errlen) < 0)
            return -1;
        if (p == end)
            return 0;
        s = p + 1;
    }
}

/* token_uri_check - the attributes make sense together.  -1 with why. */
static int token_uri_check(token_uri *u, char *err, size_t errlen)
{
    char *end;

    if (u->type != NULL && strcmp(u->type, "private") != 0) {
        token_errf(err, errlen, "PKCS#11 URI: type=%s, but the signing key must be "
                   "type=private (or leave type out)", u->type);
        return -1;
    }
    if (u->object == NULL && u->id == NULL) {
        token_errf(err, errlen, "PKCS#11 URI names no key: add object=LABEL or id=%%NN "
                   "(pkcs11-tool --list-objects shows them)");
        return -1;
    }
    if (u->slot_id_text != NULL) {
        errno = 0;
        u->slot_id = strtoul(u->slot_id_text, &end, 10);
        if (errno != 0 || *end != '\0' || u->slot_id_text[0] < '0'
            || u->slot_id_text[0] > '9') {
            token_errf(err, errlen, "PKCS#11 URI: slot-id=%s is not a decimal number",
                       u->slot_id_text);
            return -1;
        }
    }
    return 0;
}

/* token_uri_parse - KEY ("pkcs11:...") into U.  -1 with the reason. */
static int token_uri_parse(token_uri *u, const char *key, char *err, size_t errlen)
{
    const char *path = key + 7, *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);

    if (plen == 0 && (q == NULL || q[1] == '\0')) {
        token_errf(err, errlen, "PKCS#11 URI '%s' is empty: name the token and the key, "
                   "e.g. pkcs11:token=Kyso%%20Org;object=org", key);
        return -1;
    }
    if (plen > 0 && token_uri_split(u, path, plen, ';', 0, err, errlen) < 0)
        return -1;
    if (q != NULL && token_uri_split(u, q + 1, strlen(q + 1), '&', 1, err, errlen) < 0)
        return -1;
    return token_uri_check(u, err, errlen);
}

/* token_uri_free - release U's values, wiping pin-value. */
static void token_uri_free(token_uri *u)
{
    size_t i;
    char **v;

    token_free_secret(u->pin_value);
    u->pin_value = NULL;
    for (i = 0; i < sizeof token_attrs / sizeof token_attrs[0]; i++) {
        v = (char **)(void *)((char *)u + token_attrs[i].off);
        free(*v);
        *v = NULL;
    }
}

/* ============================================================ descriptions */

/* token_id_text - U's id as %XX%YY (at most 16 bytes shown) in BUF. */
static const char *token_id_text(const token_uri *u, char *buf, size_t len)
{
    size_t i, k = 0;

    buf[0] = '\0';
    for (i = 0; i < u->id_len && i < 16 && k + 4 < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%%%02X", (unsigned char)u->id[i]);
    if (i < u->id_len && k + 4 < len)
        snprintf(buf + k, len - k, "...");
    return buf;
}

/* token_describe - "token 'Kyso Org'" (or by serial, model...), plus the
 * slot when the URI names one.  NULL when out of memory. */
static char *token_describe(const token_uri *u)
{
    char buf[512], slot[64] = "";

    if (u->slot_id_text != NULL)
        snprintf(slot, sizeof slot, " in slot-id %lu", u->slot_id);
    else if (u->slot_desc != NULL)
        snprintf(slot, sizeof slot, " in slot '%.40s'", u->slot_desc);
    if (u->token != NULL)
        snprintf(buf, sizeof buf, "token '%s'%s", u->token, slot);
    else if (u->serial != NULL)
        snprintf(buf, sizeof buf, "token with serial '%s'%s", u->serial, slot);
    else if (u->model != NULL)
        snprintf(buf, sizeof buf, "token of model '%s'%s", u->model, slot);
    else
        snprintf(buf, sizeof buf, "the token%s", slot[0] ? slot : " (any)");
    return strdup(buf);
}

/* token_key_describe - "object 'org' id %01" for messages, in BUF. */
static const char *token_key_describe(const token_uri *u, char *buf, size_t len)
{
    char id[80];

    if (u->object != NULL && u->id != NULL)
        snprintf(buf, len, "object '%s' id %s", u->object, token_id_text(u, id, sizeof id));
    else if (u->object != NULL)
        snprintf(buf, len, "object '%s'", u->object);
    else
        snprintf(buf, len, "id %s", token_id_text(u, id, sizeof id));
    return buf;
}

/* ============================================================ EVP signing */

/*
 * token_pkey_sign - sign TBS with PKEY: SHA-256 and PKCS#1 v1.5, or PSS
 * (MGF1-SHA-256, salt 32) when PSS.  *SIG is malloc'd.  Returns 0, or -1
 * with the OpenSSL / libp11 reason in WHY (the error queue is cleared).
 */
static int token_pkey_sign(EVP_PKEY *pkey, int pss, const unsigned char *tbs, size_t len,
                           unsigned char **sig, size_t *siglen, char *why, size_t whylen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *s = NULL;
    size_t n = 0;
    int ok = md != NULL
        && EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) == 1
        && (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
                     && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0
                     && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0))
        && EVP_DigestSign(md, NULL, &n, tbs, len) == 1
        && (s = malloc(n ? n : 1)) != NULL
        && EVP_DigestSign(md, s, &n, tbs, len) == 1;

    EVP_MD_CTX_free(md);
    if (!ok) {
        free(s);
        token_reason(why, whylen);
        return -1;
    }
    ERR_clear_error();
    *sig = s;
    *siglen = n;
    return 0;
}

/* token_pkey_usable - can PKEY do what is asked?  TOKEN_OK, or TOKEN_EKEY
 * with the reason in ERR. */
static int token_pkey_usable(const token *t, EVP_PKEY *pkey, int pss, char *err, size_t errlen)
{
    int type = EVP_PKEY_get_base_id(pkey);

    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        token_errf(err, errlen, "key %s is neither RSA nor EC: use an RSA key", t->shown);
        return TOKEN_EKEY;
    }
    if (pss && type != EVP_PKEY_RSA) {
        token_errf(err, errlen, "key %s is not RSA, so it cannot sign with alg=pss: "
                   "remove alg=pss from the KeyTable or use an RSA key", t->shown);
        return TOKEN_EKEY;
    }
    return TOKEN_OK;
}

/* ============================================================== file keys */

/* token_pem_pass - OpenSSL's passphrase callback: the PIN, never a prompt. */
static int token_pem_pass(char *buf, int size, int rwflag, void *u)
{
    size_t n;

    (void)rwflag;
    if (u == NULL || size <= 0)
        return -1;
    n = strlen(u);
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy(buf, u, n);
    return (int)n;
}

/* token_file_read - the whole of PATH (at most TOKEN_FILE_MAX bytes) in a
 * new buffer.  NULL with the reason in ERR. */
static unsigned char *token_file_read(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    size_t n;

    if (f == NULL) {
        token_errf(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
        return NULL;
    }
    b = malloc(TOKEN_FILE_MAX + 1);
    n = b ? fread(b, 1, TOKEN_FILE_MAX + 1, f) : 0;
    if (b == NULL || ferror(f) || n > TOKEN_FILE_MAX || n == 0) {
        token_errf(err, errlen, "cannot read key file %s: %s", path,
                   b == NULL ? "out of memory" : n == 0 ? "empty or unreadable" : "too large");
        if (b != NULL)
            OPENSSL_cleanse(b, n > TOKEN_FILE_MAX ? TOKEN_FILE_MAX + 1 : n);
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return b;
}

/* token_file_pem - the private key in PEM bytes B.  NULL with why. */
static EVP_PKEY *token_file_pem(const char *path, const unsigned char *b, size_t n,
                                const char *pin, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(b, (int)n);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, token_pem_pass, (void *)pin) : NULL;
    char why[256];

    BIO_free(bio);
    if (k == NULL && strstr((const char *)b, "ENCRYPTED") != NULL)
        token_errf(err, errlen, "cannot decrypt the private key in %s (%s): it must be "
                   "encrypted with the PIN of the KeyTable PIN file", path,
                   token_reason(why, sizeof why));
    else if (k == NULL)
        token_errf(err, errlen, "no private key in %s (%s)", path,
                   token_reason(why, sizeof why));
    return k;
}

/* token_file_p12 - the private key in PKCS#12 bytes B, whose password is
 * PIN.  NULL with why. */
static EVP_PKEY *token_file_p12(const char *path, const unsigned char *b, size_t n,
                                const char *pin, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(b, (int)n);
    PKCS12 *p12 = bio ? d2i_PKCS12_bio(bio, NULL) : NULL;
    EVP_PKEY *k = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    char why[256];

    BIO_free(bio);
    if (p12 == NULL) {
        ERR_clear_error();
        token_errf(err, errlen, "%s is neither a PEM nor a PKCS#12 key file", path);
        return NULL;
    }
    if (PKCS12_verify_mac(p12, pin ? pin : "", -1) != 1
        && (pin != NULL || PKCS12_verify_mac(p12, NULL, 0) != 1)) {
        ERR_clear_error();
        token_errf(err, errlen, "the PIN does not open the PKCS#12 file %s (wrong password): "
                   "fix the KeyTable PIN file", path);
    } else if (PKCS12_parse(p12, pin ? pin : "", &k, &cert, &ca) != 1 || k == NULL) {
        token_errf(err, errlen, "cannot read the private key in PKCS#12 file %s (%s)", path,
                   token_reason(why, sizeof why));
        EVP_PKEY_free(k);
        k = NULL;
    }
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
    return k;
}

/* token_file_load - T's key from file PATH (PEM or PKCS#12).  -1 with why. */
static int token_file_load(token *t, const char *path, char *err, size_t errlen)
{
    size_t n;
    unsigned char *b = token_file_read(path, &n, err, errlen);
    int pem;

    if (b == NULL)
        return -1;
    b[n] = '\0';
    pem = strstr((char *)b, "-----BEGIN") != NULL;
    t->file_key = pem ? token_file_pem(path, b, n, t->pin, err, errlen)
                      : token_file_p12(path, b, n, t->pin, err, errlen);
    OPENSSL_cleanse(b, n);
    free(b);
    if (t->file_key == NULL)
        return -1;
    if (token_pkey_usable(t, t->file_key, 0, err, errlen) != TOKEN_OK)
        return -1;
    return 0;
}

/* ======================================================= the signer thread */

/* ============================================================ modules */

/* How many handles have each module (by path) loaded: changed with
 * tk_p11_rw held to write.  The entries live as long as the process. */
typedef struct tk_module {
    struct tk_module *next;
    char *path;
    int loaded;
} tk_module;

static tk_module *tk_modules;
static pthread_rwlock_t tk_p11_rw;
static pthread_once_t tk_p11_once = PTHREAD_ONCE_INIT;

/* tk_p11_rw_init - tk_p11_rw, writers first (so that a release or a load
 * is not starved by signing). */
static void tk_p11_rw_init(void)
{
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&tk_p11_rw, &a);
    pthread_rwlockattr_destroy(&a);
}

/* tk_p11_lock - hold tk_p11_rw to write (WRITE) or to read. */
static void tk_p11_lock(int write)
{
    pthread_once(&tk_p11_once, tk_p11_rw_init);
    if (write)
        pthread_rwlock_wrlock(&tk_p11_rw);
    else
        pthread_rwlock_rdlock(&tk_p11_rw);
}

static void tk_p11_unlock(void)
{
    pthread_rwlock_unlock(&tk_p11_rw);
}

/* tk_module_count - add DELTA to the handles that have PATH loaded (with
 * tk_p11_rw held to write, or to read for DELTA 0) and return the count;
 * 0 when out of memory (as if no other handle had it). */
static int tk_module_count(const char *path, int delta)
{
    tk_module *m;
    for (m = tk_modules; m != NULL && strcmp(m->path, path) != 0; m = m->next)
        ;
    if (m == NULL && delta > 0 && (m = calloc(1, sizeof *m)) != NULL) {
        if ((m->path = strdup(path)) == NULL) {
            free(m);
            return 0;
        }
        m->next = tk_modules;
        tk_modules = m;
    }
    if (m == NULL)
        return 0;
    m->loaded += delta;
    return m->loaded;
}

/* token_mono_ms - CLOCK_MONOTONIC in ms. */
static long long token_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* token_p11_drop - log out, drop the key, the slots and the module; the
 * caller holds tk_p11_rw to write.  Signer thread only; safe on a partly
 * attached token. */
static void token_p11_drop(token *t)
{
    EVP_PKEY_free(t->key);
    t->key = NULL;
    if (t->logged_in && t->slot != NULL)
        PKCS11_logout(t->slot);
    t->logged_in = 0;
    t->slot = NULL;
    if (t->slots != NULL)
        PKCS11_release_all_slots(t->ctx, t->slots, t->nslots);
    t->slots = NULL;
    t->nslots = 0;
    if (t->ctx != NULL) {
        PKCS11_CTX_unload(t->ctx);
        PKCS11_CTX_free(t->ctx);
        tk_module_count(t->module, -1);
    }
    t->ctx = NULL;
    ERR_clear_error();
}

/* token_p11_release - token_p11_drop with tk_p11_rw taken to write. */
static void token_p11_release(token *t)
{
    tk_p11_lock(1);
    token_p11_drop(t);
    tk_p11_unlock();
}

/* token_p11_ctx - load the module (the caller holds tk_p11_rw to write).
 * TOKEN_OK, or TOKEN_ETEMP with what to check in ERR. */
static int token_p11_ctx(token *t, char *err, size_t errlen)
{
    char why[256];
    int rc = TOKEN_OK;

    if ((t->ctx = PKCS11_CTX_new()) == NULL) {
        token_errf(err, errlen, "cannot set up libp11 (out of memory?)");
        return TOKEN_ETEMP;
    }
    if (PKCS11_CTX_load(t->ctx, t->module) < 0) {
        token_reason(why, sizeof why);
        PKCS11_CTX_free(t->ctx);
        t->ctx = NULL;
        token_errf(err, errlen, "cannot load PKCS#11 module %s (%s): check that it is "
                   "installed, that its configuration is readable, and its log", t->module,
                   why);
        rc = TOKEN_ETEMP;
    } else {
        tk_module_count(t->module, 1);
    }
    return rc;
}

/* token_p11_load - list the slots of the loaded module.  TOKEN_OK, or
 * TOKEN_ETEMP with what to check in ERR. */
static int token_p11_load(token *t, char *err, size_t errlen)
{
    char why[256];

    if (PKCS11_enumerate_slots(t->ctx, &t->slots, &t->nslots) < 0) {
        token_errf(err, errlen, "PKCS#11 module %s cannot list its slots (%s): check the "
                   "reader and the module's log", t->module, token_reason(why, sizeof why));
        return TOKEN_ETEMP;
    }
    return TOKEN_OK;
}

/* token_str_match - does WANT (NULL: anything) equal HAVE? */
static int token_str_match(const char *want, const char *have)
{
    return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

/* token_slot_match - does slot S hold the token T's URI names? */
static int token_slot_match(const token *t, PKCS11_SLOT *s)
{
    const token_uri *u = &t->uri;
    PKCS11_TOKEN *k = s->token;

    if (k == NULL || !k->initialized)
        return 0;
    if (u->slot_id_text != NULL && PKCS11_get_slotid_from_slot(s) != u->slot_id)
        return 0;
    return token_str_match(u->token, k->label) && token_str_match(u->serial, k->serialnr)
        && token_str_match(u->manufacturer, k->manufacturer)
        && token_str_match(u->model, k->model)
        && token_str_match(u->slot_desc, s->description)
        && token_str_match(u->slot_manuf, s->manufacturer)
        && token_str_match(u->lib_manuf, t->ctx->manufacturer)
        && token_str_match(u->lib_desc, t->ctx->description);
}

/* token_present_list - "'A', 'B'" (the labels of the tokens present) in BUF. */
static const char *token_present_list(const token *t, char *buf, size_t len)
{
    unsigned int i;
    size_t k = 0;

    buf[0] = '\0';
    for (i = 0; i < t->nslots && k + 1 < len; i++) {
        PKCS11_TOKEN *tk = t->slots[i].token;
        if (tk != NULL && tk->initialized)
            k += (size_t)snprintf(buf + k, len - k, "%s'%s' (slot-id %lu)", k ? ", " : "",
                                  tk->label ? tk->label : "",
                                  PKCS11_get_slotid_from_slot(&t->slots[i]));
    }
    if (k >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    return buf[0] ? buf : "none";
}

/* token_p11_find - the slot of T's token into t->slot.  TOKEN_OK, or
 * TOKEN_ETEMP with "token 'x' not present in module ...: insert it". */
static int token_p11_find(token *t, char *err, size_t errlen)
{
    unsigned int i;
    char present[256];

    for (i = 0; i < t->nslots; i++) {
        if (token_slot_match(t, &t->slots[i])) {
            t->slot = &t->slots[i];
            return TOKEN_OK;
        }
    }
    t->absent = 1;
    token_errf(err, errlen, "%s not present in module %s: insert it or check KeyTable key=%s"
               " (tokens present: %s)", t->what, t->module, t->shown,
               token_present_list(t, present, sizeof present));
    return TOKEN_ETEMP;
}

/* token_pin_latch - remember that the PIN was refused: from now on every
 * request is answered with MSG (also copied to ERR), without logging in. */
static void token_pin_latch(token *t, const char *msg, char *err, size_t errlen)
{
    pthread_mutex_lock(&t->mu);
    t->pin_bad = 1;
    snprintf(t->pin_msg, sizeof t->pin_msg, "%s", msg);
    pthread_mutex_unlock(&t->mu);
    token_errf(err, errlen, "%s", msg);
}

/* token_login_transient - is RV a login failure that says nothing about
 * the PIN (the token went away), so that logging in again is safe? */
static int token_login_transient(unsigned long rv)
{
    return rv == TK_CKR_TOKEN_NOT_PRESENT || rv == TK_CKR_DEVICE_REMOVED
        || rv == TK_CKR_DEVICE_ERROR || rv == TK_CKR_DEVICE_MEMORY
        || rv == TK_CKR_SESSION_CLOSED || rv == TK_CKR_SESSION_HANDLE_INVALID
        || rv == TK_CKR_TOKEN_NOT_RECOGNIZED;
}

/* token_login_refused - a login failed with RV: latch, TOKEN_EPIN. */
static int token_login_refused(token *t, unsigned long rv, char *err, size_t errlen)
{
    char msg[TOKEN_MSG], code[32];
    const char *name = token_ckr_name(rv);

    if (name == NULL)
        snprintf(code, sizeof code, "CKR 0x%lx", rv);
    if (rv == TK_CKR_PIN_LOCKED)
        snprintf(msg, sizeof msg, "PIN for %s is locked (CKR_PIN_LOCKED): unlock it with the "
                 "SO PIN (e.g. pkcs11-tool --init-pin --login --login-type so), then reload "
                 "kyso-milter (SIGHUP)", t->what);
    else if (rv == TK_CKR_PIN_EXPIRED)
        snprintf(msg, sizeof msg, "PIN for %s has expired (CKR_PIN_EXPIRED): change it on "
                 "the token, update the pin file and reload kyso-milter (SIGHUP)", t->what);
    else
        snprintf(msg, sizeof msg, "PIN for %s rejected (%s); it will not be tried again "
                 "(tokens lock after a few wrong PINs): fix the pin file and reload "
                 "kyso-milter (SIGHUP)", t->what, name ? name : code);
    token_pin_latch(t, msg, err, errlen);
    return TOKEN_EPIN;
}

/* token_p11_login - log in to t->slot with the user PIN, once.  TOKEN_OK;
 * TOKEN_EPIN (latched) when the token refuses the PIN or is locked;
 * TOKEN_ECONFIG when there is no PIN; TOKEN_ETEMP when the token left. */
static int token_p11_login(token *t, char *err, size_t errlen)
{
    PKCS11_TOKEN *tk = t->slot->token;
    unsigned long rv;
    char why[128];

    if (!tk->loginRequired)
        return TOKEN_OK;
    if (tk->userPinLocked)
        return token_login_refused(t, TK_CKR_PIN_LOCKED, err, errlen);
    if (t->pin == NULL) {
        token_errf(err, errlen, "%s needs a PIN: give KeyTable key %s a PIN file",
                   t->what, t->shown);
        return TOKEN_ECONFIG;
    }
    PKCS11_open_session(t->slot, 0);
    ERR_clear_error();
    if (PKCS11_login(t->slot, 0, t->pin) == 0) {
        t->logged_in = 1;
        ERR_clear_error();
        return TOKEN_OK;
    }
    rv = token_ckr_last();
    if (rv == TK_CKR_USER_ALREADY_LOGGED_IN) {
        /* another handle of this process (another key on the token, or the
         * next configuration's) has logged the user in: that login is ours */
        t->logged_in = 1;
        ERR_clear_error();
        return TOKEN_OK;
    }
    if (token_login_transient(rv)) {
        token_errf(err, errlen, "%s left during login (%s): insert it; signing resumes by "
                   "itself", t->what, token_reason(why, sizeof why));
        return TOKEN_ETEMP;
    }
    ERR_clear_error();
    return token_login_refused(t, rv, err, errlen);
}

/* token_key_match - is K the key T's URI names? */
static int token_key_match(const token *t, const PKCS11_KEY *k)
{
    const token_uri *u = &t->uri;

    if (u->id != NULL && (k->id_len != u->id_len || memcmp(k->id, u->id, u->id_len) != 0))
        return 0;
    return token_str_match(u->object, k->label);
}

/* token_p11_key - find the private key and its EVP_PKEY into t->key.
 * TOKEN_OK; TOKEN_EKEY when the token has no such key; TOKEN_ETEMP. */
static int token_p11_key(token *t, char *err, size_t errlen)
{
    PKCS11_KEY *keys = NULL;
    unsigned int n = 0, i;
    char why[256], kd[256];

    if (PKCS11_enumerate_keys(t->slot->token, &keys, &n) < 0) {
        token_errf(err, errlen, "cannot list the keys on %s (%s): check the token",
                   t->what, token_reason(why, sizeof why));
        return TOKEN_ETEMP;
    }
    for (i = 0; i < n && !token_key_match(t, &keys[i]); i++)
        ;
    if (i == n) {
        t->absent = 1;
        token_errf(err, errlen, "no private key with %s on %s (%u private key%s there): "
                   "import it or fix object=/id= in KeyTable key=%s",
                   token_key_describe(&t->uri, kd, sizeof kd), t->what, n,
                   n == 1 ? "" : "s", t->shown);
        return TOKEN_EKEY;
    }
    if ((t->key = PKCS11_get_private_key(&keys[i])) == NULL) {
        token_errf(err, errlen, "cannot use the private key %s on %s (%s)",
                   token_key_describe(&t->uri, kd, sizeof kd), t->what,
                   token_reason(why, sizeof why));
        return TOKEN_EKEY;
    }
    return TOKEN_OK;
}

/* token_p11_attach - module, token, login, key, with tk_p11_rw held to
 * write (C_Initialize must not meet another call; and no other handle can
 * finalise the module between the attach and the first signature).
 * TOKEN_OK, or a TOKEN_E* code with what to do in ERR, everything released
 * again.  When the token or the key was not there and other handles use
 * the module, the next look waits TOKEN_SHARED_RETRY_MS (the answer until
 * then is this one). */
static int token_p11_attach(token *t, char *err, size_t errlen)
{
    long long now = token_mono_ms();
    if (now < t->retry_at_ms) {
        token_errf(err, errlen, "%s", t->retry_msg);
        return TOKEN_ETEMP;
    }
    int rc = token_p11_ctx(t, err, errlen);
    t->absent = 0;
    if (rc == TOKEN_OK)
        rc = token_p11_load(t, err, errlen);
    if (rc == TOKEN_OK)
        rc = token_p11_find(t, err, errlen);
    if (rc == TOKEN_OK)
        rc = token_p11_login(t, err, errlen);
    if (rc == TOKEN_OK)
        rc = token_p11_key(t, err, errlen);
    if (rc == TOKEN_OK)
        return rc;
    token_p11_drop(t);
    if (t->absent && tk_module_count(t->module, 0) > 0) {
        t->retry_at_ms = now + TOKEN_SHARED_RETRY_MS;
        snprintf(t->retry_msg, sizeof t->retry_msg, "%.*s (looked for again within %d s)",
                 (int)sizeof t->retry_msg - 40, err, TOKEN_SHARED_RETRY_MS / 1000);
    }
    return rc;
}

/* token_p11_try - attach when needed, then sign R.  TOKEN_OK, or a
 * TOKEN_E* code in R (the token released after a signing failure). */
static int token_p11_try(token *t, token_req *r)
{
    char why[256];
    int rc;

    int attach = t->key == NULL;
    tk_p11_lock(attach);
    if (attach && (rc = token_p11_attach(t, r->err, sizeof r->err)) != TOKEN_OK) {
        tk_p11_unlock();
        return rc;
    }
    if ((rc = token_pkey_usable(t, t->key, r->pss, r->err, sizeof r->err)) != TOKEN_OK) {
        tk_p11_unlock();
        return rc;
    }
    rc = token_pkey_sign(t->key, r->pss, r->tbs, r->len, &r->sig, &r->siglen, why, sizeof why);
    tk_p11_unlock();
    if (rc == 0)
        return TOKEN_OK;
    token_p11_release(t);
    snprintf(r->err, sizeof r->err, "signing with %s failed (%s): the module is reset and "
             "the token looked for again on the next message", t->what, why);
    return TOKEN_ETEMP;
}

/* token_p11_serve - answer R.  A failure on a token that was attached
 * before is retried once, with the module loaded afresh. */
static void token_p11_serve(token *t, token_req *r)
{
    int fresh = t->key == NULL;

    r->rc = token_p11_try(t, r);
    if (r->rc == TOKEN_ETEMP && !fresh && t->key == NULL)
        r->rc = token_p11_try(t, r);
    if (r->rc == TOKEN_OK)
        r->err[0] = '\0';
}

/* token_req_free - release R (its signature too, unless handed over). */
static void token_req_free(token_req *r)
{
    if (r == NULL)
        return;
    free(r->sig);
    if (r->tbs != NULL)
        OPENSSL_cleanse(r->tbs, r->len);
    free(r->tbs);
    free(r);
}

/* token_req_drop - drop one reference to R; frees it on the last.  With mu. */
static void token_req_drop(token_req *r)
{
    if (--r->refs == 0)
        token_req_free(r);
}

/* token_thread_next - wait for a request and dequeue it, or NULL when
 * stopping with an empty queue.  Called and returns with mu held. */
static token_req *token_thread_next(token *t)
{
    token_req *r;

    while (!t->stop && t->head == NULL)
        pthread_cond_wait(&t->work, &t->mu);
    if ((r = t->head) == NULL)
        return NULL;
    t->head = r->next;
    if (t->head == NULL)
        t->tail = NULL;
    t->queued--;
    r->taken = 1;
    return r;
}

/* token_thread - the signer thread: serves the queue until token_close. */
static void *token_thread(void *arg)
{
    token *t = arg;
    token_req *r;
    int bad, stop;

    pthread_mutex_lock(&t->mu);
    while ((r = token_thread_next(t)) != NULL) {
        bad = t->pin_bad;
        stop = t->stop;
        if (bad)
            snprintf(r->err, sizeof r->err, "%s", t->pin_msg);
        pthread_mutex_unlock(&t->mu);
        if (bad)
            r->rc = TOKEN_EPIN;
        else if (stop)
            r->rc = TOKEN_ETEMP, snprintf(r->err, sizeof r->err, "%s is being closed", t->what);
        else
            token_p11_serve(t, r);
        pthread_mutex_lock(&t->mu);
        r->done = 1;
        token_req_drop(r);
        pthread_cond_broadcast(&t->done);
    }
    pthread_mutex_unlock(&t->mu);
    token_p11_release(t);
    OPENSSL_thread_stop();
    return NULL;
}

/* token_thread_start - start T's signer thread with every signal blocked
 * (signals belong to the daemon's own threads).  -1 with why. */
static int token_thread_start(token *t, char *err, size_t errlen)
{
    sigset_t all, old;
    int e;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&t->thread, NULL, token_thread, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        token_errf(err, errlen, "cannot start the signer thread: %s", strerror(e));
        return -1;
    }
    t->started = 1;
    return 0;
}

/* =================================================================== open */

/* token_module_pick - the module: URI, else MODULE, else the default.
 * NULL with why when the file is not there. */
static char *token_module_pick(const token_uri *u, const char *module, char *err,
                               size_t errlen)
{
    const char *m = u->module ? u->module : module;

    if (m == NULL || *m == '\0')
        m = access(TOKEN_P11KIT_PROXY, R_OK) == 0 ? TOKEN_P11KIT_PROXY : TOKEN_SOFTHSM;
    if (access(m, R_OK) != 0) {
        token_errf(err, errlen, "PKCS#11 module %s: %s: install it, or name the module with "
                   "module-path= in the URI", m, strerror(errno));
        return NULL;
    }
    return strdup(m);
}

/* token_open_uri - set T up for the PKCS#11 URI KEY.  -1 with why. */
static int token_open_uri(token *t, const char *key, const char *module, char *err,
                          size_t errlen)
{
    const char *q;

    if (token_uri_parse(&t->uri, key, err, errlen) < 0)
        return -1;
    if ((t->module = token_module_pick(&t->uri, module, err, errlen)) == NULL)
        return -1;
    if (t->pin == NULL && t->uri.pin_value != NULL
        && (t->pin = strdup(t->uri.pin_value)) == NULL)
        goto nomem;
    q = strchr(key, '?');
    t->shown = q ? strndup(key, (size_t)(q - key)) : strdup(key);
    t->what = token_describe(&t->uri);
    if (t->shown == NULL || t->what == NULL)
        goto nomem;
    return token_thread_start(t, err, errlen);
nomem:
    token_errf(err, errlen, "out of memory");
    return -1;
}

/* token_new - an empty handle with its lock and conditions, or NULL. */
static token *token_new(void)
{
    token *t = calloc(1, sizeof *t);
    pthread_condattr_t ca;

    if (t == NULL)
        return NULL;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->work, &ca);
    pthread_cond_init(&t->done, &ca);
    pthread_condattr_destroy(&ca);
    return t;
}

token *token_open(const char *key, const char *module, const char *pin,
                  char *err, size_t errlen)
{
    token *t;
    int rc;

    if (key == NULL || *key == '\0') {
        token_errf(err, errlen, "no key: give a pkcs11: URI or the path of a key file");
        return NULL;
    }
    if ((t = token_new()) == NULL || (pin != NULL && (t->pin = strdup(pin)) == NULL)) {
        token_errf(err, errlen, "out of memory");
        token_close(t);
        return NULL;
    }
    if (strncasecmp(key, "pkcs11:", 7) == 0) {
        rc = token_open_uri(t, key, module, err, errlen);
    } else {
        t->shown = strdup(key);
        t->what = strdup(key);
        rc = t->shown && t->what ? token_file_load(t, key, err, errlen) : -1;
        if (t->shown == NULL || t->what == NULL)
            token_errf(err, errlen, "out of memory");
    }
    if (rc < 0) {
        token_close(t);
        return NULL;
    }
    return t;
}

/* =================================================================== sign */

/* token_deadline - now + MS on the monotonic clock, in TS. */
static void token_deadline(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* token_queue_add - queue R.  TOKEN_OK, or why not (PIN latched, queue
 * full, closing) with the message in ERR.  With mu. */
static int token_queue_add(token *t, token_req *r, char *err, size_t errlen)
{
    if (t->pin_bad) {
        token_errf(err, errlen, "%s", t->pin_msg);
        return TOKEN_EPIN;
    }
    if (t->stop) {
        token_errf(err, errlen, "%s is being closed", t->what);
        return TOKEN_ETEMP;
    }
    if (t->queued >= TOKEN_QUEUE_MAX) {
        token_errf(err, errlen, "signing queue full (%d messages wait for %s): the token is "
                   "slow or stuck; check it", t->queued, t->what);
        return TOKEN_ETEMP;
    }
    if (t->tail != NULL)
        t->tail->next = r;
    else
        t->head = r;
    t->tail = r;
    t->queued++;
    pthread_cond_signal(&t->work);
    return TOKEN_OK;
}

/* token_queue_unlink - take R, still waiting, out of the queue.  With mu. */
static void token_queue_unlink(token *t, token_req *r)
{
    token_req **pp, *prev = NULL;

    for (pp = &t->head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            if (t->tail == r)
                t->tail = prev;
            t->queued--;
            return;
        }
    }
}

/* token_wait - wait for R until TIMEOUT_MS (<= 0: no limit).  1 when done,
 * 0 on timeout.  With mu. */
static int token_wait(token *t, token_req *r, int timeout_ms)
{
    struct timespec dl;

    if (timeout_ms > 0)
        token_deadline(&dl, timeout_ms);
    while (!r->done) {
        if (timeout_ms <= 0)
            pthread_cond_wait(&t->done, &t->mu);
        else if (pthread_cond_timedwait(&t->done, &t->mu, &dl) == ETIMEDOUT)
            return r->done;
    }
    return 1;
}

/* token_file_sign - token_sign for a file key: in the caller's thread. */
static int token_file_sign(token *t, int pss, const unsigned char *tbs, size_t len,
                           unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
    char why[256];
    int rc = token_pkey_usable(t, t->file_key, pss, err, errlen);

    if (rc != TOKEN_OK)
        return rc;
    if (token_pkey_sign(t->file_key, pss, tbs, len, sig, siglen, why, sizeof why) < 0) {
        token_errf(err, errlen, "signing with key file %s failed (%s)", t->shown, why);
        return TOKEN_EKEY;
    }
    return TOKEN_OK;
}

/* token_req_new - a request for TBS with two references, or NULL. */
static token_req *token_req_new(int pss, const unsigned char *tbs, size_t len)
{
    token_req *r = calloc(1, sizeof *r);

    if (r == NULL || (r->tbs = malloc(len ? len : 1)) == NULL) {
        free(r);
        return NULL;
    }
    if (len > 0)
        memcpy(r->tbs, tbs, len);
    r->len = len;
    r->pss = pss;
    r->refs = 2;
    return r;
}

/* token_req_answer - the answer of R (done) into the caller's variables. */
static int token_req_answer(token_req *r, unsigned char **sig, size_t *siglen,
                            char *err, size_t errlen)
{
    if (r->rc == TOKEN_OK) {
        *sig = r->sig;
        *siglen = r->siglen;
        r->sig = NULL;
    } else {
        token_errf(err, errlen, "%s", r->err);
    }
    return r->rc;
}

int token_sign(token *t, int pss, const unsigned char *tbs, size_t len,
               unsigned char **sig, size_t *siglen, int timeout_ms,
               char *err, size_t errlen)
{
    token_req *r;
    int rc;

    *sig = NULL;
    *siglen = 0;
    if (t->file_key != NULL)
        return token_file_sign(t, pss, tbs, len, sig, siglen, err, errlen);
    if ((r = token_req_new(pss, tbs, len)) == NULL) {
        token_errf(err, errlen, "out of memory");
        return TOKEN_ETEMP;
    }
    pthread_mutex_lock(&t->mu);
    if ((rc = token_queue_add(t, r, err, errlen)) != TOKEN_OK) {
        pthread_mutex_unlock(&t->mu);
        token_req_free(r);
        return rc;
    }
    if (token_wait(t, r, timeout_ms)) {
        rc = token_req_answer(r, sig, siglen, err, errlen);
    } else {
        rc = TOKEN_ETEMP;
        token_errf(err, errlen, "token busy: no answer from %s within %d ms", t->what,
                   timeout_ms);
        if (!r->taken) {
            token_queue_unlink(t, r);
            r->refs = 1;                /* the thread never saw it */
        }
    }
    token_req_drop(r);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* ============================================================= check, close */

/* token_verify - does PUB verify SIG over MSG (SHA-256, PKCS#1 v1.5)? */
static int token_verify(EVP_PKEY *pub, const unsigned char *msg, size_t len,
                        const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1
        && EVP_DigestVerify(md, sig, siglen, msg, len) == 1;

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

int token_check_cert(token *t, X509 *cert, char *err, size_t errlen)
{
    unsigned char chal[32], *sig = NULL;
    size_t siglen = 0;
    EVP_PKEY *pub = cert ? X509_get0_pubkey(cert) : NULL;
    int rc;

    if (pub == NULL) {
        ERR_clear_error();
        token_errf(err, errlen, "certificate does not match the key: it has no usable "
                   "public key; check KeyTable cert=");
        return TOKEN_ECONFIG;
    }
    if (RAND_bytes(chal, sizeof chal) != 1) {
        token_errf(err, errlen, "no random bytes for the key check");
        return TOKEN_ETEMP;
    }
    rc = token_sign(t, 0, chal, sizeof chal, &sig, &siglen, TOKEN_CHECK_MS, err, errlen);
    if (rc != TOKEN_OK)
        return rc;
    if (!token_verify(pub, chal, sizeof chal, sig, siglen)) {
        token_errf(err, errlen, "certificate does not match the key: a signature made with "
                   "%s does not verify with the certificate's public key; check KeyTable "
                   "cert= and key=", t->shown);
        rc = TOKEN_ECONFIG;
    }
    free(sig);
    return rc;
}

void token_close(token *t)
{
    if (t == NULL)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        t->stop = 1;
        pthread_cond_broadcast(&t->work);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    EVP_PKEY_free(t->file_key);
    token_uri_free(&t->uri);
    token_free_secret(t->pin);
    OPENSSL_cleanse(t->pin_msg, sizeof t->pin_msg);
    free(t->module);
    free(t->shown);
    free(t->what);
    pthread_cond_destroy(&t->work);
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
