/*
 * signset.c - the organisation keys of one configuration, ready to sign
 * (see signset.h).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "buf.h"
#include "signset.h"
#include "tsa.h"

/* daemon_uid - the uid of CFG's UserID ("user" or "user:group"), else ours. */
static uid_t daemon_uid(const kyso_config *cfg)
{
    if (cfg->user_id == NULL)
        return geteuid();
    char name[256];
    snprintf(name, sizeof name, "%s", cfg->user_id);
    name[strcspn(name, ":")] = '\0';
    struct passwd pw, *res = NULL;
    char tmp[4096];
    if (getpwnam_r(name, &pw, tmp, sizeof tmp, &res) != 0 || res == NULL)
        return geteuid();
    return res->pw_uid;
}

/* check_key - does key I's certificate belong to its key?  0; -1 with ERR
 * ("TABLE: key NAME: why") for a mismatch or a refused PIN; an absent
 * token adds to WARN. */
static int check_key(signset *ss, const char *table, size_t i, char *warn, size_t warnlen,
                     char *err, size_t errlen)
{
    const kt_key *k = &ss->kt->keys[i];
    char why[512];
    int rc = token_check_cert(ss->tokens[i], k->cert, why, sizeof why);
    if (rc == TOKEN_OK)
        return 0;
    if (rc == TOKEN_ETEMP) {
        size_t used = strlen(warn);
        snprintf(warn + used, warnlen - used, "%skey %s: %s", used ? "; " : "", k->name, why);
        return 0;
    }
    snprintf(err, errlen, "%s: key %s: %s", table, k->name, why);
    return -1;
}

/* needs_verifier - does some key of KT ask for a TSA or B-LT? */
static int needs_verifier(const keytable *kt)
{
    for (size_t i = 0; i < kt->nkeys; i++)
        if (kt->keys[i].tsa_url || kt->keys[i].lt)
            return 1;
    return 0;
}

signset *signset_open(const kyso_config *cfg, int check, char *warn, size_t warnlen,
                      char *err, size_t errlen)
{
    signset *ss = calloc(1, sizeof *ss);
    warn[0] = '\0';
    if (ss == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ss->timeout_ms = (int)cfg->sign_timeout;
    if (cfg->signer_table == NULL)
        return ss;
    ss->kt = keytable_load(cfg->key_table, cfg->signer_table, daemon_uid(cfg), err, errlen);
    if (ss->kt == NULL)
        goto fail;
    ss->tokens = calloc(ss->kt->nkeys ? ss->kt->nkeys : 1, sizeof *ss->tokens);
    if (ss->tokens == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (needs_verifier(ss->kt)) {
        if (config_build_verifier(cfg, &ss->v, err, errlen) < 0)
            goto fail;
        ss->has_v = 1;
    }
    for (size_t i = 0; i < ss->kt->nkeys; i++) {
        const kt_key *k = &ss->kt->keys[i];
        char why[400];
        ss->tokens[i] = token_open(k->key, cfg->pkcs11_module, k->pin, why, sizeof why);
        if (ss->tokens[i] == NULL) {
            snprintf(err, errlen, "%s: key %s: %s", cfg->key_table, k->name, why);
            goto fail;
        }
        if (check && check_key(ss, cfg->key_table, i, warn, warnlen, err, errlen) != 0)
            goto fail;
    }
    return ss;
fail:
    signset_free(ss);
    return NULL;
}

void signset_free(signset *ss)
{
    if (ss == NULL)
        return;
    for (size_t i = 0; ss->kt && ss->tokens && i < ss->kt->nkeys; i++)
        token_close(ss->tokens[i]);
    free(ss->tokens);
    keytable_free(ss->kt);
    if (ss->has_v)
        verifier_free(&ss->v);
    free(ss);
}

token *signset_token(const signset *ss, const kt_key *key)
{
    for (size_t i = 0; ss->kt && i < ss->kt->nkeys; i++)
        if (&ss->kt->keys[i] == key)
            return ss->tokens[i];
    return NULL;
}

/* token_signfn - cms_sign_fn over a token. */
static int token_signfn(void *ctx, int pss, const unsigned char *tbs, size_t len,
                        unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
    struct signset_ctx *c = ctx;
    return token_sign(c->t, pss, tbs, len, sig, siglen, c->timeout_ms, err, errlen);
}

void signset_signer(const signset *ss, const kt_key *key, struct signset_ctx *ctx,
                    cms_signer *s)
{
    ctx->t = signset_token(ss, key);
    ctx->timeout_ms = ss->timeout_ms;
    *s = (cms_signer){ key->cert, key->chain, key->pss, token_signfn, ctx, NULL };
}

int signset_sign_pdf(const signset *ss, const kt_key *key, ap_kind kind,
                     const char *doc_number, time_t when, const unsigned char *pdf,
                     size_t len, unsigned char **out, size_t *outlen, pdf_sign_digests *d,
                     char *err, size_t errlen)
{
    struct signset_ctx ctx;
    cms_signer s;
    signset_signer(ss, key, &ctx, &s);
    tsa_conf tsa = { key->tsa_url, ss->timeout_ms, 0, ss->has_v ? &ss->v : NULL };
    if (key->tsa_url)
        s.tsa = &tsa;
    pdf_sign_req r = { .signer = &s, .kind = kind, .place = PDFS_PLACE_AUTO,
                       .org_name = key->org_name, .seal = key->seal, .seal_len = key->seal_len,
                       .doc_number = doc_number, .when = when, .max_objects = 1000000,
                       .lt = key->lt, .v = ss->has_v ? &ss->v : NULL, .digests = d };
    if (key->position && strcmp(key->position, "invisible") == 0)
        r.place = PDFS_PLACE_INVISIBLE;
    else if (key->position && strcmp(key->position, "top-right") == 0)
        r.place = PDFS_PLACE_TOP_RIGHT;
    else if (key->position && strcmp(key->position, "top-center") == 0)
        r.place = PDFS_PLACE_TOP_CENTER;
    return pdf_sign(&r, pdf, len, out, outlen, err, errlen);
}

/* append_sha256 - ,"KEY":"hex" of MD when given, else of P (or null). */
static void append_sha256(kyso_buf *b, const char *key, const unsigned char *given,
                          const unsigned char *p, size_t n)
{
    unsigned char md[32];
    buf_printf(b, ",\"%s\":", key);
    if (given)
        memcpy(md, given, 32);
    else if (p == NULL || !EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL)) {
        buf_append(b, "null", 4);
        return;
    }
    buf_append(b, "\"", 1);
    for (int i = 0; i < 32; i++)
        buf_printf(b, "%02x", md[i]);
    buf_append(b, "\"", 1);
}

/* append_str - ,"KEY":"value" (or null). */
static void append_str(kyso_buf *b, const char *key, const char *v)
{
    buf_printf(b, ",\"%s\":", key);
    buf_append_json_string(b, v);
}

/* append_cert - serial (hex) and subject of KEY's certificate. */
static void append_cert(kyso_buf *b, const kt_key *key)
{
    char *serial = NULL, subject[512] = "";
    if (key && key->cert) {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(key->cert), NULL);
        serial = bn ? BN_bn2hex(bn) : NULL;
        BN_free(bn);
        X509_NAME_oneline(X509_get_subject_name(key->cert), subject, sizeof subject);
    }
    append_str(b, "cert_serial", serial);
    append_str(b, "cert_subject", key ? subject : NULL);
    OPENSSL_free(serial);
}

char *signset_audit_json(const signset_audit *a)
{
    kyso_buf b = { 0 };
    struct timeval tv;
    struct tm tm;
    char when[40];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(&b, "{\"time\":\"%s.%03ldZ\"", when, (long)tv.tv_usec / 1000);
    append_str(&b, "event", a->event);
    append_str(&b, "node", a->node);
    append_str(&b, "ref", a->ref);
    append_str(&b, "account", a->account);
    append_str(&b, "organisation", a->key ? a->key->org_name : NULL);
    append_str(&b, "key", a->key ? a->key->name : NULL);
    append_cert(&b, a->key);
    append_str(&b, "queue_id", a->queue_id);
    append_str(&b, "message_id", a->message_id);
    append_str(&b, "document", a->document);
    const pdf_sign_digests *d = a->digests;
    append_sha256(&b, "sha256_before", d ? d->before : NULL, a->before, a->before_len);
    append_sha256(&b, "sha256_after", d && a->after ? d->after : NULL, a->after, a->after_len);
    append_str(&b, "why", a->why);
    buf_append(&b, "}", 1);
    return buf_steal(&b);
}
