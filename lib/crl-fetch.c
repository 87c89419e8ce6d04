/*
 * crl-fetch.c - CRLs from distribution points (see crl-fetch.h).
 *
 * A fetched CRL is used only when it parses as exactly one CRL, names the
 * certificate's issuer, verifies with the issuing CA's key, is in scope
 * for the certificate (trust_crl_scope_ok), was issued by now (within the
 * tolerance) and has not passed its nextUpdate.  The signature is checked
 * once, before the CRL enters the cache; what the cache hands back is
 * trusted for that issuer and address.
 *
 * Must never: print, read more than CRLMaxSize bytes or wait longer than
 * RevocationTimeout per transfer, follow a redirect to another host, or
 * keep a CRL past its nextUpdate.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crl-fetch.h"
#include "http.h"
#include "revcache.h"
#include "trust.h"
#include "verifier.h"

#define CRL_MAX_DPS 4           /* distribution point addresses tried */
#define CRL_NO_NEXT_TTL 3600    /* seconds a CRL without nextUpdate is kept */

X509_CRL *crl_parse(const unsigned char *der, size_t len, char *why, size_t wl)
{
    const unsigned char *p = der;
    X509_CRL *crl = NULL;
    BIO *b;

    if (len > 10 && memcmp(der, "-----BEGIN", 10) == 0 && len <= INT_MAX
        && (b = BIO_new_mem_buf(der, (int)len)) != NULL) {
        crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
        BIO_free(b);
    } else if (len <= LONG_MAX && (crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL
               && p != der + len) {
        X509_CRL_free(crl);
        crl = NULL;
    }
    ERR_clear_error();
    if (crl == NULL)
        snprintf(why, wl, "not a CRL (%zu bytes)", len);
    return crl;
}

/* crl_times - thisUpdate and nextUpdate (0 when absent) of CRL; 0, or -1. */
static int crl_times(X509_CRL *crl, time_t *this_up, time_t *next_up)
{
    *next_up = 0;
    return trust_time_of(X509_CRL_get0_lastUpdate(crl), this_up) < 0
        || (X509_CRL_get0_nextUpdate(crl) != NULL
            && trust_time_of(X509_CRL_get0_nextUpdate(crl), next_up) < 0) ? -1 : 0;
}

/* crl_accept - the checks of a fetched CRL (see the file comment) with
 * the cache item for it in OUT (CRL taken, expiry and refresh time).  1, or
 * 0 with why (CRL freed). */
static int crl_accept(const kyso_verifier *v, X509_CRL *crl, X509 *cert, X509 *issuer,
                      time_t now, revcache_item *out, char *why, size_t wl)
{
    time_t this_up, next_up;
    EVP_PKEY *pk = X509_get0_pubkey(issuer);
    char ts[32];
    long tol = v->rev.tolerance;

    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0)
        snprintf(why, wl, "CRL of another issuer");
    else if (pk == NULL || X509_CRL_verify(crl, pk) != 1)
        snprintf(why, wl, "CRL signature does not verify with the issuer's key");
    else if (!trust_crl_scope_ok(crl, cert))
        snprintf(why, wl, "CRL not usable for this certificate (scope or critical extension)");
    else if (crl_times(crl, &this_up, &next_up) < 0)
        snprintf(why, wl, "CRL has unreadable dates");
    else if (this_up > now + tol)
        snprintf(why, wl, "CRL issued in the future (%s); check the clocks",
                 trust_format_time(this_up, ts, sizeof ts));
    else if (next_up && next_up + tol < now)
        snprintf(why, wl, "CRL expired (nextUpdate %s)", trust_format_time(next_up, ts, sizeof ts));
    else {
        ERR_clear_error();
        out->crl = crl;
        out->this_update = this_up;
        out->expires = next_up ? next_up + tol : now + CRL_NO_NEXT_TTL;
        out->refresh = next_up ? this_up + (next_up - this_up) * 4 / 5 : out->expires;
        return 1;
    }
    ERR_clear_error();
    X509_CRL_free(crl);
    return 0;
}

/* crl_fetch - fetch URL and check it for CERT; 1 with OUT (DER kept for
 * the remote tier), or 0 with why. */
static int crl_fetch(const kyso_verifier *v, const char *url, X509 *cert, X509 *issuer,
                     time_t now, revcache_item *out, char *why, size_t wl)
{
    http_req r = { url, NULL, NULL, 0, v->rev.timeout_ms, v->rev.crl_max_size };
    unsigned char *der = NULL;
    size_t len = 0;
    X509_CRL *crl;

    memset(out, 0, sizeof *out);
    if (http_fetch(&r, &der, &len, NULL, 0, why, wl) < 0)
        return 0;
    if ((crl = crl_parse(der, len, why, wl)) == NULL
        || !crl_accept(v, crl, cert, issuer, now, out, why, wl)) {
        free(der);
        return 0;
    }
    out->der = der;
    out->len = len;
    return 1;
}

/* crl_cache_key - "crl:" + hex SHA-1 of ISSUER (kept by OpenSSL with the
 * certificate) + " " + URL. */
static void crl_cache_key(X509 *issuer, const char *url, char *key, size_t len)
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    size_t o = (size_t)snprintf(key, len, "crl:");

    X509_digest(issuer, EVP_sha1(), h, &hl);
    for (unsigned i = 0; i < hl && o + 3 < len; i++)
        o += (size_t)snprintf(key + o, len - o, "%02x", h[i]);
    snprintf(key + o, len - o, " %s", url);
}

typedef struct crl_job {
    kyso_verifier v;            /* the revocation settings only (copied) */
    kyso_revcache *cache;       /* a reference */
    X509 *cert, *issuer;        /* references */
    char *url, *key;
} crl_job;

/* crl_refresh_main - the background refresh of one cached CRL. */
static void *crl_refresh_main(void *arg)
{
    crl_job *j = arg;
    revcache_item it;
    char why[300];

    if (crl_fetch(&j->v, j->url, j->cert, j->issuer, time(NULL), &it, why, sizeof why))
        revcache_put(j->cache, j->key, &it, 1);
    else
        revcache_put_failure(j->cache, j->key, why, time(NULL) + j->v.rev.fail_ttl);
    revcache_item_clear(&it);
    revcache_unref(j->cache);
    X509_free(j->cert);
    X509_free(j->issuer);
    free(j->url);
    free(j->key);
    free(j);
    return NULL;
}

/* crl_refresh_start - refresh KEY from URL in a detached thread (the
 * cached CRL stays in use meanwhile).  Silent when it cannot start. */
static void crl_refresh_start(const kyso_verifier *v, const char *key, const char *url,
                              X509 *cert, X509 *issuer)
{
    crl_job *j = calloc(1, sizeof *j);
    pthread_t t;
    pthread_attr_t a;

    if (j == NULL || (j->url = strdup(url)) == NULL || (j->key = strdup(key)) == NULL) {
        if (j)
            free(j->url);
        free(j);
        return;
    }
    j->v.rev = v->rev;
    j->v.rev.responders = NULL;
    j->cache = revcache_ref(v->rev.cache);
    X509_up_ref(cert);
    X509_up_ref(issuer);
    j->cert = cert;
    j->issuer = issuer;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, crl_refresh_main, j) != 0) {
        revcache_unref(j->cache);
        X509_free(cert);
        X509_free(issuer);
        free(j->url);
        free(j->key);
        free(j);
    }
    pthread_attr_destroy(&a);
}

/* crl_get - the verified CRL for ISSUER at URL: the cache (refreshing it
 * in the background when due), the remote tier, or the network.  1 with
 * *crl (a new reference), or 0 with why. */
static int crl_get(const kyso_verifier *v, const char *url, X509 *cert, X509 *issuer,
                   time_t now, X509_CRL **crl, char *why, size_t wl)
{
    char key[2200];
    revcache_item it;
    unsigned char *der;
    size_t len;
    X509_CRL *c;
    int ok = 0;

    crl_cache_key(issuer, url, key, sizeof key);
    if (revcache_get(v->rev.cache, key, now, 0, &it) == 1) {
        if (it.negative)
            snprintf(why, wl, "failed lately: %s", it.error);
        else if (v->rev.refresh && now >= it.refresh
                 && revcache_claim_refresh(v->rev.cache, key))
            crl_refresh_start(v, key, url, cert, issuer);
        ok = !it.negative;
        *crl = it.crl;
        it.crl = NULL;
        revcache_item_clear(&it);
        return ok;
    }
    der = NULL;
    if (revcache_get_remote(v->rev.cache, key, &der, &len) == 1
        && (c = crl_parse(der, len, why, wl)) != NULL
        && crl_accept(v, c, cert, issuer, now, &it, why, wl)) {
        ok = 1;
        it.len = len;
        revcache_put(v->rev.cache, key, &it, 0);
    } else if ((ok = crl_fetch(v, url, cert, issuer, now, &it, why, wl))) {
        revcache_put(v->rev.cache, key, &it, 1);
    } else {
        revcache_put_failure(v->rev.cache, key, why, now + v->rev.fail_ttl);
    }
    free(der);
    *crl = it.crl;
    it.crl = NULL;
    revcache_item_clear(&it);
    return ok;
}

/* crl_dp_urls - the http(s) addresses of CERT's distribution points (at
 * most CRL_MAX_DPS, borrowed from *dps, which the caller frees). */
static int crl_dp_urls(X509 *cert, STACK_OF(DIST_POINT) **dps, const char **urls)
{
    int n = 0;

    *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    for (int i = 0; *dps && i < sk_DIST_POINT_num(*dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(*dps, i);

        if (dp->distpoint == NULL || dp->distpoint->type != 0 || dp->reasons != NULL
            || dp->CRLissuer != NULL)
            continue;       /* relative names, partitioned and indirect CRLs: unsupported */
        for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
            const char *u;

            if (g->type != GEN_URI || n >= CRL_MAX_DPS)
                continue;
            u = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
            if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)
                urls[n++] = u;
        }
    }
    ERR_clear_error();
    return n;
}

kyso_reason crl_dp_check(const kyso_verifier *v, X509 *cert, X509 *issuer, time_t at,
                         time_t now, X509_CRL **crl, char *detail, size_t dlen)
{
    STACK_OF(DIST_POINT) *dps;
    const char *urls[CRL_MAX_DPS];
    int n = crl_dp_urls(cert, &dps, urls);
    kyso_reason r = REASON_REVOCATION_UNKNOWN;
    char why[300], src[2200];

    if (crl)
        *crl = NULL;
    if (n == 0)
        snprintf(detail, dlen, "no CRL distribution point");
    for (int i = 0; i < n && r == REASON_REVOCATION_UNKNOWN; i++) {
        X509_CRL *c = NULL;

        if (!crl_get(v, urls[i], cert, issuer, now, &c, why, sizeof why)) {
            snprintf(detail, dlen, "CRL %s: %s", urls[i], why);
            continue;
        }
        snprintf(src, sizeof src, "CRL %s", urls[i]);
        r = trust_crl_entry(c, cert, at, src, detail, dlen);
        if (r != REASON_REVOCATION_UNKNOWN && crl)
            *crl = c;
        else
            X509_CRL_free(c);
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return r;
}

kyso_reason crl_check_der(const kyso_verifier *v, const unsigned char *der, size_t len,
                          X509 *cert, X509 *issuer, time_t at, time_t now, int *before,
                          char *detail, size_t dlen)
{
    X509_CRL *crl = crl_parse(der, len, detail, dlen);
    kyso_reason r = REASON_REVOCATION_UNKNOWN;
    long tol = v->rev.tolerance;

    if (crl == NULL)
        return r;
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0)
        snprintf(detail, dlen, "embedded CRL of another issuer");
    else if (!trust_crl_covers(crl, cert, issuer, at - tol, now + tol))
        snprintf(detail, dlen, "embedded CRL does not verify or does not cover the signing time");
    else
        r = trust_crl_entry(crl, cert, at, "embedded CRL", detail, dlen);
    time_t this_up;
    if (before)
        *before = r == REASON_OK && (trust_time_of(X509_CRL_get0_lastUpdate(crl), &this_up) < 0
                                     || this_up + tol < at);
    ERR_clear_error();
    X509_CRL_free(crl);
    return r;
}
