/*
 * ocsp.c - OCSP for the revocation check (see ocsp.h): the OCSPResponders
 * table, the request, the answer's checks and the cache in front of it.
 *
 * Must never: print; count an answer that is not signed by the issuing CA
 * or by a responder certificate that CA issued with id-kp-OCSPSigning;
 * count an answer about another certificate, out of its time window, or
 * with a nonce that is not ours; wait for the network longer than
 * RevocationTimeout per transfer or read more than ocsp_max_size bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "ocsp.h"
#include "trust.h"
#include "verifier.h"

#define OCSP_MAX_URLS 4         /* AIA addresses tried per certificate */
#define OCSP_MAX_SINGLES 100    /* single responses looked at per answer */

enum { BY_HASH, BY_NAME, BY_URL };

typedef struct ocsp_entry {
    int kind;
    unsigned char hash[32];     /* BY_HASH */
    char *match;                /* BY_NAME: normalised name; BY_URL: the address */
    char *url;                  /* where to ask, or NULL for "none" */
} ocsp_entry;

struct kyso_ocsp_table {
    ocsp_entry *v;
    size_t n;
};

/* ---- the table ---------------------------------------------------------- */

kyso_ocsp_table *ocsp_table_new(void)
{
    return calloc(1, sizeof(kyso_ocsp_table));
}

void ocsp_table_free(kyso_ocsp_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].match);
        free(t->v[i].url);
    }
    free(t->v);
    free(t);
}

kyso_ocsp_table *ocsp_table_dup(const kyso_ocsp_table *t)
{
    kyso_ocsp_table *d = ocsp_table_new();

    if (d == NULL || (t->n && (d->v = calloc(t->n, sizeof *d->v)) == NULL))
        goto fail;
    for (; d->n < t->n; d->n++) {
        ocsp_entry *e = &d->v[d->n];

        *e = t->v[d->n];
        e->match = e->url = NULL;
        if ((t->v[d->n].match && (e->match = strdup(t->v[d->n].match)) == NULL)
            || (t->v[d->n].url && (e->url = strdup(t->v[d->n].url)) == NULL)) {
            d->n++;
            goto fail;
        }
    }
    return d;
fail:
    ocsp_table_free(d);
    return NULL;
}

size_t ocsp_table_count(const kyso_ocsp_table *t)
{
    return t ? t->n : 0;
}

/* ocsp_is_url - does S start with http:// or https://? */
static int ocsp_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* ocsp_norm_name - NAME lower-cased, without spaces around ',', '+' and
 * '=', into a new string (NULL when out of memory). */
static char *ocsp_norm_name(const char *name)
{
    char *out = malloc(strlen(name) + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (const char *s = name; *s; s++) {
        if (*s == ' ' && (o == out || strchr(",+=", o[-1]) || strchr(",+= ", s[1])))
            continue;
        *o++ = (char)tolower((unsigned char)*s);
    }
    *o = '\0';
    return out;
}

/* ocsp_parse_hash - "sha256:HEX" or 64 hex digits (colons allowed) into
 * OUT.  1 when S is such a hash, 0 when it is not one. */
static int ocsp_parse_hash(const char *s, unsigned char out[32])
{
    size_t n = 0;

    if (strncasecmp(s, "sha256:", 7) == 0)
        s += 7;
    for (; *s; s++) {
        if (*s == ':')
            continue;
        if (!isxdigit((unsigned char)*s) || n >= 64)
            return 0;
        int d = isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10;
        out[n / 2] = (unsigned char)((n % 2) ? (out[n / 2] | d) : (d << 4));
        n++;
    }
    return n == 64;
}

int ocsp_table_add_line(kyso_ocsp_table *t, const char *line, char *why, size_t whylen)
{
    const char *sp = line + strlen(line);
    ocsp_entry e = { 0 }, *nv;
    char *lhs;

    while (sp > line && !isspace((unsigned char)sp[-1]))
        sp--;
    if (sp == line) {
        snprintf(why, whylen, "want \"ISSUER URL\", e.g. \"sha256:<64 hex digits> "
                 "http://ocsp.ca.gov.vn\" or \"http://dead.example/ocsp http://new.example/\"");
        return -1;
    }
    if (strcasecmp(sp, "none") != 0 && !ocsp_is_url(sp)) {
        snprintf(why, whylen, "responder \"%s\" is not an http:// or https:// URL (or none)", sp);
        return -1;
    }
    if ((lhs = strndup(line, (size_t)(sp - line))) == NULL)
        goto oom;
    for (size_t n = strlen(lhs); n > 0 && isspace((unsigned char)lhs[n - 1]); n--)
        lhs[n - 1] = '\0';
    if (ocsp_is_url(lhs)) {
        e.kind = BY_URL;
        e.match = lhs;
    } else if (ocsp_parse_hash(lhs, e.hash)) {
        e.kind = BY_HASH;
        free(lhs);
    } else if (strncasecmp(lhs, "sha256:", 7) == 0 || strchr(lhs, '=') == NULL) {
        snprintf(why, whylen, "issuer \"%s\" is neither sha256:<64 hex digits>, a URL nor "
                 "a subject like \"CN=...,O=...,C=VN\"", lhs);
        free(lhs);
        return -1;
    } else {
        e.kind = BY_NAME;
        e.match = ocsp_norm_name(lhs);
        free(lhs);
        if (e.match == NULL)
            goto oom;
    }
    if (strcasecmp(sp, "none") != 0 && (e.url = strdup(sp)) == NULL)
        goto oom_e;
    if ((nv = realloc(t->v, (t->n + 1) * sizeof *nv)) == NULL)
        goto oom_e;
    t->v = nv;
    t->v[t->n++] = e;
    return 0;
oom_e:
    free(e.match);
    free(e.url);
oom:
    snprintf(why, whylen, "out of memory");
    return -1;
}

/* ocsp_trim - S without leading and trailing space and a '#' comment. */
static char *ocsp_trim(char *s)
{
    char *h = strchr(s, '#');

    if (h)
        *h = '\0';
    while (isspace((unsigned char)*s))
        s++;
    for (size_t n = strlen(s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
        s[n - 1] = '\0';
    return s;
}

kyso_ocsp_table *ocsp_table_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    kyso_ocsp_table *t;
    char line[4096], why[300];
    unsigned no = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if ((t = ocsp_table_new()) == NULL) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    while (fgets(line, sizeof line, f)) {
        char *s = ocsp_trim(line);

        no++;
        if (*s && ocsp_table_add_line(t, s, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%u: %s", path, no, why);
            ocsp_table_free(t);
            fclose(f);
            return NULL;
        }
    }
    fclose(f);
    return t;
}

/* ocsp_name_of - NAME as one normalised RFC 2253 line (malloc'd), or NULL. */
static char *ocsp_name_of(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char buf[1024];
    int n = -1;

    if (b && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
        n = BIO_read(b, buf, (int)sizeof buf - 1);
    BIO_free(b);
    buf[n > 0 ? n : 0] = '\0';
    return ocsp_norm_name(buf);
}

/* ocsp_table_issuer - the entry for ISSUER (by certificate hash, then by
 * subject), or NULL. */
static const ocsp_entry *ocsp_table_issuer(const kyso_ocsp_table *t, X509 *issuer)
{
    unsigned char h[32];
    unsigned int hl = 0;
    char *name = NULL;
    const ocsp_entry *hit = NULL;

    if (t == NULL || t->n == 0)
        return NULL;
    if (!X509_digest(issuer, EVP_sha256(), h, &hl))
        hl = 0;
    for (size_t i = 0; hit == NULL && i < t->n; i++)
        if (t->v[i].kind == BY_HASH && hl == 32 && memcmp(t->v[i].hash, h, 32) == 0)
            hit = &t->v[i];
    for (size_t i = 0; hit == NULL && i < t->n; i++) {
        if (t->v[i].kind != BY_NAME)
            continue;
        if (name == NULL && (name = ocsp_name_of(X509_get_subject_name(issuer))) == NULL)
            break;
        if (strcmp(t->v[i].match, name) == 0)
            hit = &t->v[i];
    }
    free(name);
    return hit;
}

/* ocsp_table_url - the rewrite of AIA address URL: 1 with *to (NULL for
 * none), or 0 when the table does not name URL. */
static int ocsp_table_url(const kyso_ocsp_table *t, const char *url, const char **to)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->v[i].kind == BY_URL && strcasecmp(t->v[i].match, url) == 0) {
            *to = t->v[i].url;
            return 1;
        }
    return 0;
}

/* ---- the answer ---------------------------------------------------------- */

/* ocsp_is_delegate - did ISSUER issue SIGNER as an OCSP responder (its
 * signature, id-kp-OCSPSigning) valid at WHEN?  1 or 0 with why. */
static int ocsp_is_delegate(X509 *signer, X509 *issuer, time_t when, char *why, size_t wl)
{
    time_t nb, na;
    EVP_PKEY *ik = X509_get0_pubkey(issuer);

    if (X509_check_issued(issuer, signer) != X509_V_OK || ik == NULL
        || X509_verify(signer, ik) != 1) {
        ERR_clear_error();
        snprintf(why, wl, "answer signed by a responder the issuing CA did not certify");
        return 0;
    }
    if (!(X509_get_extension_flags(signer) & EXFLAG_XKUSAGE)
        || !(X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN)) {
        snprintf(why, wl, "responder certificate lacks id-kp-OCSPSigning");
        return 0;
    }
    if (trust_time_of(X509_get0_notBefore(signer), &nb) < 0
        || trust_time_of(X509_get0_notAfter(signer), &na) < 0 || when < nb || when > na) {
        snprintf(why, wl, "responder certificate not valid at the answer's time");
        return 0;
    }
    return 1;
}

/* ocsp_check_signature - is BS signed by ISSUER or a delegate of it (see
 * ocsp_is_delegate) at WHEN?  1, or 0 with why. */
static int ocsp_check_signature(OCSP_BASICRESP *bs, X509 *issuer, time_t when,
                                char *why, size_t wl)
{
    STACK_OF(X509) *extra = sk_X509_new_null();
    X509 *signer = NULL;
    int ok = 0;

    if (extra == NULL || !sk_X509_push(extra, issuer)
        || OCSP_resp_get0_signer(bs, &signer, extra) != 1 || signer == NULL) {
        snprintf(why, wl, "answer signed by an unknown responder");
        goto done;
    }
    if (X509_cmp(signer, issuer) != 0 && !ocsp_is_delegate(signer, issuer, when, why, wl))
        goto done;
    ok = ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA),
                          (X509_ALGOR *)OCSP_resp_get0_tbs_sigalg(bs),
                          (ASN1_BIT_STRING *)OCSP_resp_get0_signature(bs),
                          (void *)OCSP_resp_get0_respdata(bs), X509_get0_pubkey(signer)) == 1;
    if (!ok)
        snprintf(why, wl, "answer signature does not verify with the key of %s",
                 X509_cmp(signer, issuer) == 0 ? "the issuing CA" : "its responder");
done:
    ERR_clear_error();
    sk_X509_free(extra);
    return ok;
}

/* ocsp_find_single - the single response of BS about CERT (issued by
 * ISSUER), whatever hash its certID uses; NULL when there is none. */
static OCSP_SINGLERESP *ocsp_find_single(OCSP_BASICRESP *bs, X509 *cert, X509 *issuer)
{
    int n = OCSP_resp_count(bs);

    for (int i = 0; i < n && i < OCSP_MAX_SINGLES; i++) {
        OCSP_SINGLERESP *s = OCSP_resp_get0(bs, i);
        ASN1_OBJECT *mdo = NULL;
        const EVP_MD *md;
        OCSP_CERTID *id;
        int same;

        if (!OCSP_id_get0_info(NULL, &mdo, NULL, NULL, (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(s))
            || (md = EVP_get_digestbyobj(mdo)) == NULL
            || (id = OCSP_cert_to_id(md, cert, issuer)) == NULL)
            continue;
        same = OCSP_id_cmp(id, OCSP_SINGLERESP_get0_id(s)) == 0;
        OCSP_CERTID_free(id);
        if (same)
            return s;
    }
    ERR_clear_error();
    return NULL;
}

/* ocsp_check_times - thisUpdate THIS and nextUpdate NEXT (0: absent)
 * against NOW, or for EMBEDDED answers against AT.  Sets OUT->expires.
 * 1, or 0 with why. */
static int ocsp_check_times(const kyso_verifier *v, time_t this_up, time_t next_up,
                            time_t now, int embedded, time_t at, revcache_item *out,
                            char *why, size_t wl)
{
    long tol = v->rev.tolerance;
    char ts[32];

    if (this_up > now + tol) {
        snprintf(why, wl, "answer dated in the future (thisUpdate %s); check the clocks",
                 trust_format_time(this_up, ts, sizeof ts));
        return 0;
    }
    if (embedded && this_up + tol < at && out->status != V_OCSP_CERTSTATUS_REVOKED) {
        snprintf(why, wl, "embedded answer made before the signature (thisUpdate %s)",
                 trust_format_time(this_up, ts, sizeof ts));
        return 0;
    }
    out->expires = next_up ? next_up + tol : this_up + tol;
    if (!embedded && out->expires < now) {
        snprintf(why, wl, "stale answer (%s %s)", next_up ? "nextUpdate" : "thisUpdate",
                 trust_format_time(next_up ? next_up : this_up, ts, sizeof ts));
        return 0;
    }
    return 1;
}

/* ocsp_judge - the checks of ocsp_check_response on a parsed RESP; REQ is
 * the request sent (its nonce is compared), or NULL. */
static int ocsp_judge(const kyso_verifier *v, OCSP_RESPONSE *resp, OCSP_REQUEST *req,
                      X509 *cert, X509 *issuer, time_t now, int embedded, time_t at,
                      revcache_item *out, char *why, size_t wl)
{
    int st = OCSP_response_status(resp), ok = 0, reason = -1, status;
    OCSP_BASICRESP *bs = NULL;
    OCSP_SINGLERESP *single;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    time_t this_up = 0, next_up = 0;

    if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(why, wl, "responder answered %s", OCSP_response_status_str(st));
        return 0;
    }
    if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
        snprintf(why, wl, "answer is not a basic OCSP response");
        goto done;
    }
    if ((single = ocsp_find_single(bs, cert, issuer)) == NULL) {
        snprintf(why, wl, "answer is about another certificate");
        goto done;
    }
    status = OCSP_single_get0_status(single, &reason, &rev, &thisu, &nextu);
    if (status < 0 || trust_time_of(thisu, &this_up) < 0
        || (nextu && trust_time_of(nextu, &next_up) < 0)
        || (status == V_OCSP_CERTSTATUS_REVOKED && trust_time_of(rev, &out->rev_time) < 0)) {
        snprintf(why, wl, "answer has unreadable status or times");
        goto done;
    }
    if (!ocsp_check_signature(bs, issuer, embedded ? this_up : now, why, wl))
        goto done;
    if (req != NULL && OCSP_check_nonce(req, bs) == 0) {
        snprintf(why, wl, "answer nonce does not match the request");
        goto done;
    }
    out->status = status;
    out->reason = status == V_OCSP_CERTSTATUS_REVOKED ? reason : -1;
    out->this_update = this_up;
    ok = ocsp_check_times(v, this_up, next_up, now, embedded, at, out, why, wl);
done:
    ERR_clear_error();
    OCSP_BASICRESP_free(bs);
    return ok;
}

/* ocsp_parse - DER as exactly one OCSPResponse, or NULL with why. */
static OCSP_RESPONSE *ocsp_parse(const unsigned char *der, size_t len, char *why, size_t wl)
{
    const unsigned char *p = der;
    OCSP_RESPONSE *r = len <= LONG_MAX ? d2i_OCSP_RESPONSE(NULL, &p, (long)len) : NULL;

    if (r == NULL || p != der + len) {
        OCSP_RESPONSE_free(r);
        ERR_clear_error();
        snprintf(why, wl, "answer is not an OCSP response (%zu bytes)", len);
        return NULL;
    }
    return r;
}

int ocsp_check_response(const kyso_verifier *v, const unsigned char *der, size_t len,
                        X509 *cert, X509 *issuer, time_t now, int embedded, time_t at,
                        revcache_item *out, char *why, size_t whylen)
{
    OCSP_RESPONSE *r = ocsp_parse(der, len, why, whylen);
    int ok = r != NULL && ocsp_judge(v, r, NULL, cert, issuer, now, embedded, at,
                                     out, why, whylen);

    OCSP_RESPONSE_free(r);
    return ok;
}

/* ---- asking ------------------------------------------------------------- */

/* ocsp_cache_key - "ocsp:", the hex SHA-1 of the issuer certificate (the
 * hash OpenSSL keeps with each certificate: no hashing per call) and the
 * hex serial of CERT. */
static void ocsp_cache_key(X509 *cert, X509 *issuer, char *key, size_t len)
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
    size_t o = (size_t)snprintf(key, len, "ocsp:");

    X509_digest(issuer, EVP_sha1(), h, &hl);
    for (unsigned i = 0; i < hl && o + 3 < len; i++)
        o += (size_t)snprintf(key + o, len - o, "%02x", h[i]);
    for (int i = 0; i < sn->length && o + 3 < len; i++)
        o += (size_t)snprintf(key + o, len - o, "%02x", sn->data[i]);
}

/* ocsp_request - the DER request about CERT (with a nonce when NONCE),
 * and the parsed request in *req.  0, or -1 (out of memory). */
static int ocsp_request(X509 *cert, X509 *issuer, int nonce, OCSP_REQUEST **req,
                        unsigned char **der, int *len)
{
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);

    *der = NULL;
    if ((*req = OCSP_REQUEST_new()) == NULL || id == NULL || !OCSP_request_add0_id(*req, id)) {
        OCSP_CERTID_free(id);
        goto fail;
    }
    if (nonce && !OCSP_request_add1_nonce(*req, NULL, -1))
        goto fail;
    if ((*len = i2d_OCSP_REQUEST(*req, der)) > 0)
        return 0;
fail:
    ERR_clear_error();
    OCSP_REQUEST_free(*req);
    *req = NULL;
    return -1;
}

/* ocsp_ask_one - ask URL about CERT; 1 with OUT (DER included), or 0 with why. */
static int ocsp_ask_one(const kyso_verifier *v, const char *url, X509 *cert, X509 *issuer,
                        time_t now, revcache_item *out, char *why, size_t wl)
{
    OCSP_REQUEST *req;
    OCSP_RESPONSE *resp = NULL;
    unsigned char *body, *ans = NULL;
    int blen, ok = 0;
    size_t alen = 0;
    char e[300];

    if (ocsp_request(cert, issuer, v->rev.nonce, &req, &body, &blen) < 0) {
        snprintf(why, wl, "cannot build the OCSP request");
        return 0;
    }
    http_req r = { url, "application/ocsp-request", body, (size_t)blen,
                   v->rev.timeout_ms, v->rev.ocsp_max_size };
    if (http_fetch(&r, &ans, &alen, NULL, 0, e, sizeof e) < 0)
        snprintf(why, wl, "%s", e);
    else if ((resp = ocsp_parse(ans, alen, why, wl)) != NULL
             && ocsp_judge(v, resp, req, cert, issuer, now, 0, now, out, why, wl)) {
        out->der = ans;
        out->len = alen;
        ans = NULL;
        ok = 1;
    }
    OPENSSL_free(body);
    OCSP_REQUEST_free(req);
    OCSP_RESPONSE_free(resp);
    free(ans);
    return ok;
}

/* ocsp_urls - where to ask about CERT: the table's responder for ISSUER,
 * else the AIA addresses rewritten by the table.  Fills URLS (borrowed
 * from the table or from *aia, which the caller frees) and returns their
 * count; 0 with why when there is none. */
static int ocsp_urls(const kyso_verifier *v, X509 *cert, X509 *issuer,
                     STACK_OF(OPENSSL_STRING) **aia, const char **urls,
                     char *why, size_t wl)
{
    const ocsp_entry *e = ocsp_table_issuer(v->rev.responders, issuer);
    const char *to;
    int n = 0;

    *aia = NULL;
    if (e != NULL) {
        if (e->url == NULL)
            snprintf(why, wl, "OCSPResponders says none for this issuer");
        urls[0] = e->url;
        return e->url != NULL;
    }
    *aia = X509_get1_ocsp(cert);
    for (int i = 0; *aia && i < sk_OPENSSL_STRING_num(*aia) && n < OCSP_MAX_URLS; i++) {
        const char *u = sk_OPENSSL_STRING_value(*aia, i);

        if (ocsp_table_url(v->rev.responders, u, &to))
            u = to;
        if (u != NULL && ocsp_is_url(u))
            urls[n++] = u;
    }
    if (n == 0)
        snprintf(why, wl, "no OCSP responder (no usable AIA address)");
    return n;
}

/* ocsp_from_remote - an answer for KEY from the remote cache tier that
 * verifies now: 1 with OUT (and stored locally), else 0. */
static int ocsp_from_remote(const kyso_verifier *v, const char *key, X509 *cert,
                            X509 *issuer, time_t now, revcache_item *out)
{
    unsigned char *der;
    size_t len;
    char why[200];

    if (revcache_get_remote(v->rev.cache, key, &der, &len) != 1)
        return 0;
    if (!ocsp_check_response(v, der, len, cert, issuer, now, 0, now, out, why, sizeof why)) {
        free(der);
        memset(out, 0, sizeof *out);
        return 0;
    }
    out->der = der;
    out->len = len;
    revcache_put(v->rev.cache, key, out, 0);
    return 1;
}

/* ocsp_try_urls - ask each of URLS in turn (skipping those that failed
 * lately); 1 with OUT from the first good answer, else 0 with why. */
static int ocsp_try_urls(const kyso_verifier *v, const char **urls, int n, X509 *cert,
                         X509 *issuer, time_t now, revcache_item *out, char *why, size_t wl)
{
    char ukey[2100], e[300];
    revcache_item neg;

    for (int i = 0; i < n; i++) {
        snprintf(ukey, sizeof ukey, "ocspurl:%s", urls[i]);
        if (revcache_get(v->rev.cache, ukey, now, 0, &neg) == 1 && neg.negative) {
            snprintf(why, wl, "OCSP %s failed lately: %s", urls[i], neg.error);
            revcache_item_clear(&neg);
            continue;
        }
        revcache_item_clear(&neg);
        if (ocsp_ask_one(v, urls[i], cert, issuer, now, out, e, sizeof e))
            return 1;
        revcache_item_clear(out);
        snprintf(why, wl, "OCSP %s: %s", urls[i], e);
        revcache_put_failure(v->rev.cache, ukey, e, now + v->rev.fail_ttl);
    }
    return 0;
}

int ocsp_check(const kyso_verifier *v, X509 *cert, X509 *issuer, time_t now,
               int want_der, revcache_item *out, char *why, size_t whylen)
{
    STACK_OF(OPENSSL_STRING) *aia = NULL;
    const char *urls[OCSP_MAX_URLS];
    char key[256];
    int n, ok = 0;

    memset(out, 0, sizeof *out);
    if (X509_get_ext_by_NID(cert, NID_info_access, -1) < 0
        && ocsp_table_issuer(v->rev.responders, issuer) == NULL) {
        snprintf(why, whylen, "no OCSP responder (no AIA address)");
        return 0;
    }
    ocsp_cache_key(cert, issuer, key, sizeof key);
    if (revcache_get(v->rev.cache, key, now, want_der, out) == 1) {
        if (!out->negative && (out->der || !want_der))
            return 1;
        revcache_item_clear(out);
    }
    if (ocsp_from_remote(v, key, cert, issuer, now, out))
        return 1;
    if ((n = ocsp_urls(v, cert, issuer, &aia, urls, why, whylen)) > 0
        && (ok = ocsp_try_urls(v, urls, n, cert, issuer, now, out, why, whylen)))
        revcache_put(v->rev.cache, key, out, 1);
    X509_email_free(aia);
    return ok;
}
