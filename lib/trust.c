/*
 * trust.c - trust anchors, configured intermediates and CRLs, and the
 * decision whether a signer certificate is trusted at a validation time.
 *
 * OpenSSL builds the path (X509_STORE holding the anchors only) and checks
 * validity periods and certificate signatures.  Everything else is ours:
 * algorithm strength per kyso_algo_policy, and revocation with
 * point-in-time semantics from the configured CRLs (OpenSSL's CRL check
 * ignores revocation dates, and its purpose check is for S/MIME or TLS,
 * not for signing documents).
 *
 * Must never: print, read the network, let OpenSSL decide purpose or
 * revocation, count a CRL that is not signed by the certificate's issuer,
 * or modify a kyso_trust after loading (concurrent readers share it).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "revocation.h"
#include "trust.h"
#include "verifier.h"

struct kyso_trust {
    X509_STORE *store;              /* anchors only */
    STACK_OF(X509) *anchors;
    STACK_OF(X509) *inter;
    STACK_OF(X509_CRL) *crls;
};

enum { LOAD_CERTS, LOAD_CRLS };

/* trust_new - an empty store, or NULL when out of memory. */
kyso_trust *trust_new(void)
{
    kyso_trust *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->store = X509_STORE_new();
    t->anchors = sk_X509_new_null();
    t->inter = sk_X509_new_null();
    t->crls = sk_X509_CRL_new_null();
    if (t->store == NULL || t->anchors == NULL || t->inter == NULL
        || t->crls == NULL) {
        trust_free(t);
        return NULL;
    }
    return t;
}

/* trust_free - releases T and everything it holds; NULL is a no-op. */
void trust_free(kyso_trust *t)
{
    if (t == NULL)
        return;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->anchors, X509_free);
    sk_X509_pop_free(t->inter, X509_free);
    sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
    free(t);
}

/* trust_get0_intermediates - the configured intermediates (borrowed;
 * never NULL for a store made by trust_new). */
STACK_OF(X509) *trust_get0_intermediates(const kyso_trust *t)
{
    return t->inter;
}

/* trust_last_ssl_error - the reason string of the newest OpenSSL error,
 * or FALLBACK; the error queue is cleared. */
static const char *trust_last_ssl_error(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *s = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return s ? s : fallback;
}

/* trust_load_file - append the certificates (KIND LOAD_CERTS) or CRLs of
 * the PEM file PATH to CERTS or CRLS.  Returns the number found (>= 1), or
 * -1 with err filled: unreadable, bad PEM, or no object of that kind. */
static int trust_load_file(const char *path, int kind, STACK_OF(X509) *certs,
                           STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
    BIO *in = BIO_new_file(path, "r");
    STACK_OF(X509_INFO) *infos;
    int i, n = 0, oom;

    if (in == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        ERR_clear_error();
        return -1;
    }
    infos = PEM_X509_INFO_read_bio(in, NULL, NULL, NULL);
    BIO_free(in);
    if (infos == NULL) {
        snprintf(err, errlen, "%s: bad PEM data: %s", path,
                 trust_last_ssl_error("parse error"));
        return -1;
    }
    for (i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *xi = sk_X509_INFO_value(infos, i);

        if (kind == LOAD_CERTS && xi->x509 != NULL) {
            if (!sk_X509_push(certs, xi->x509))
                break;
            xi->x509 = NULL;
            n++;
        } else if (kind == LOAD_CRLS && xi->crl != NULL) {
            if (!sk_X509_CRL_push(crls, xi->crl))
                break;
            xi->crl = NULL;
            n++;
        }
    }
    oom = i < sk_X509_INFO_num(infos);
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    if (oom || n == 0) {
        snprintf(err, errlen, "%s: %s", path, oom ? "out of memory"
                 : kind == LOAD_CERTS ? "no PEM certificate in file"
                 : "no PEM CRL in file");
        return -1;
    }
    return n;
}

/* trust_cmp_names - qsort comparator for an array of char *. */
static int trust_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* trust_list_dir - the regular, non-hidden files of folder DIR as full
 * paths sorted by name in *names (*count entries; caller frees each and
 * the array).  Returns 0, or -1 with err filled. */
static int trust_list_dir(const char *dir, char ***names, size_t *count,
                          char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL, **nv;
    size_t n = 0;
    struct stat st;

    if (d == NULL) {
        snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char *full;

        if (de->d_name[0] == '.')
            continue;
        if (asprintf(&full, "%s/%s", dir, de->d_name) < 0)
            goto oom;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
            free(full);
            goto oom;
        }
        v = nv;
        v[n++] = full;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), trust_cmp_names);
    *names = v;
    *count = n;
    return 0;
oom:
    closedir(d);
    while (n > 0)
        free(v[--n]);
    free(v);
    snprintf(err, errlen, "%s: out of memory", dir);
    return -1;
}

/* trust_load_path - load PATH (file or folder) into new stacks.  Returns
 * the number loaded, or -1 with err filled (nothing returned then). */
static int trust_load_path(const char *path, int kind, STACK_OF(X509) **certs,
                           STACK_OF(X509_CRL) **crls, char *err, size_t errlen)
{
    struct stat st;
    char **names = NULL;
    size_t i, count = 0;
    int n, total = 0;

    *certs = sk_X509_new_null();
    *crls = sk_X509_CRL_new_null();
    if (*certs == NULL || *crls == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        if ((total = trust_load_file(path, kind, *certs, *crls, err, errlen)) > 0)
            return total;
        goto fail;
    }
    if (trust_list_dir(path, &names, &count, err, errlen) < 0)
        goto fail;
    if (count == 0)
        snprintf(err, errlen, "%s: folder holds no file", path);
    for (i = 0; i < count; i++) {
        if (total >= 0 && (n = trust_load_file(names[i], kind, *certs, *crls,
                                               err, errlen)) >= 0)
            total += n;
        else
            total = -1;
        free(names[i]);
    }
    free(names);
    if (total > 0)
        return total;
fail:
    sk_X509_pop_free(*certs, X509_free);
    sk_X509_CRL_pop_free(*crls, X509_CRL_free);
    *certs = NULL;
    *crls = NULL;
    return -1;
}

/* trust_take_certs - move every certificate of CERTS (freed) to DST, and
 * into STORE too when it is not NULL.  Returns N, or -1 with err filled on
 * an out-of-memory failure, after which DST may keep part of CERTS. */
static int trust_take_certs(STACK_OF(X509) *dst, X509_STORE *store, STACK_OF(X509) *certs,
                            int n, const char *path, char *err, size_t errlen)
{
    while (sk_X509_num(certs) > 0) {
        X509 *x = sk_X509_shift(certs);

        if ((store != NULL && !X509_STORE_add_cert(store, x)) || !sk_X509_push(dst, x)) {
            X509_free(x);
            sk_X509_pop_free(certs, X509_free);
            snprintf(err, errlen, "%s: cannot add certificate: %s", path,
                     trust_last_ssl_error("out of memory"));
            return -1;
        }
    }
    sk_X509_free(certs);
    return n;
}

/* trust_add_anchors - see trust.h.  On an out-of-memory failure while
 * committing, T may keep part of the new anchors. */
int trust_add_anchors(kyso_trust *t, const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *certs;
    STACK_OF(X509_CRL) *crls;
    int n = trust_load_path(path, LOAD_CERTS, &certs, &crls, err, errlen);

    if (n < 0)
        return -1;
    sk_X509_CRL_free(crls);
    return trust_take_certs(t->anchors, t->store, certs, n, path, err, errlen);
}

/* trust_add_intermediates - see trust.h. */
int trust_add_intermediates(kyso_trust *t, const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *certs;
    STACK_OF(X509_CRL) *crls;
    int n = trust_load_path(path, LOAD_CERTS, &certs, &crls, err, errlen);

    if (n < 0)
        return -1;
    sk_X509_CRL_free(crls);
    return trust_take_certs(t->inter, NULL, certs, n, path, err, errlen);
}

/* trust_add_crls - see trust.h. */
int trust_add_crls(kyso_trust *t, const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *certs;
    STACK_OF(X509_CRL) *crls;
    int n = trust_load_path(path, LOAD_CRLS, &certs, &crls, err, errlen);

    if (n < 0)
        return -1;
    sk_X509_free(certs);
    while (sk_X509_CRL_num(crls) > 0) {
        X509_CRL *c = sk_X509_CRL_shift(crls);

        if (!sk_X509_CRL_push(t->crls, c)) {
            X509_CRL_free(c);
            sk_X509_CRL_pop_free(crls, X509_CRL_free);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
    }
    sk_X509_CRL_free(crls);
    return n;
}

/* trust_time_of - ASN1_TIME as time_t in *out.  Returns 0, or -1 when the
 * time does not parse (*out untouched). */
int trust_time_of(const ASN1_TIME *a, time_t *out)
{
    struct tm tm;

    if (a == NULL || !ASN1_TIME_to_tm(a, &tm))
        return -1;
    *out = timegm(&tm);
    return 0;
}

/* trust_format_time - T as "2026-11-22T10:00:00Z" in BUF (at least 21
 * bytes); returns BUF. */
char *trust_format_time(time_t t, char *buf, size_t len)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "?");
    return buf;
}

/* trust_name_of - NAME as one RFC 2253 UTF-8 line in BUF (truncated to
 * LEN); returns BUF, "" when it cannot be printed. */
char *trust_name_of(const X509_NAME *name, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = -1;

    buf[0] = '\0';
    if (b != NULL && X509_NAME_print_ex(b, name, 0,
                                        XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
        n = BIO_read(b, buf, (int)len - 1);
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
    return buf;
}

/* trust_check_key - is public key PK strong enough under v->algo?  WHAT
 * names its holder in the detail.  Returns REASON_OK or
 * REASON_WEAK_ALGORITHM with detail filled; key types without a size rule
 * (Ed25519, ...) pass. */
kyso_reason trust_check_key(const struct kyso_verifier *v, EVP_PKEY *pk,
                            const char *what, char *detail, size_t dlen)
{
    int bits, min = 0;
    const char *type = "RSA";

    if (pk == NULL) {
        snprintf(detail, dlen, "%s: no usable public key", what);
        return REASON_WEAK_ALGORITHM;
    }
    bits = EVP_PKEY_get_bits(pk);
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        min = v->algo.min_rsa_bits;
        break;
    case EVP_PKEY_DSA:
        type = "DSA";
        min = v->algo.min_rsa_bits;
        break;
    case EVP_PKEY_EC:
        type = "EC";
        min = v->algo.min_ec_bits;
        break;
    default:
        return REASON_OK;
    }
    if (bits < min) {
        snprintf(detail, dlen, "%s: %s key of %d bits, policy minimum %d",
                 what, type, bits, min);
        return REASON_WEAK_ALGORITHM;
    }
    return REASON_OK;
}

/* trust_check_digest - is digest MDNID acceptable under v->algo?  MD5 (and
 * MD2/MD4) never; SHA-1 only with allow_sha1.  Returns REASON_OK or
 * REASON_WEAK_ALGORITHM with detail naming WHAT. */
kyso_reason trust_check_digest(const struct kyso_verifier *v, int mdnid,
                               const char *what, char *detail, size_t dlen)
{
    if (mdnid == NID_md5 || mdnid == NID_md4 || mdnid == NID_md2
        || mdnid == NID_md5_sha1 || (mdnid == NID_sha1 && !v->algo.allow_sha1)) {
        snprintf(detail, dlen, "%s: weak digest %s", what, OBJ_nid2sn(mdnid));
        return REASON_WEAK_ALGORITHM;
    }
    return REASON_OK;
}

/* trust_build_chain - let OpenSSL find a path from LEAF to an anchor at
 * time AT, checking validity periods and signatures only (no purpose, no
 * revocation).  Returns REASON_OK with *chain (caller frees) or a failure
 * reason with detail. */
static kyso_reason trust_build_chain(const kyso_trust *t, X509 *leaf,
                                     STACK_OF(X509) *extra, time_t at,
                                     STACK_OF(X509) **chain,
                                     char *detail, size_t dlen)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_dup(t->inter);
    kyso_reason r = REASON_INTERNAL_ERROR;
    int i, err;
    char name[256];

    *chain = NULL;
    snprintf(detail, dlen, "out of memory");
    for (i = 0; untrusted != NULL && extra != NULL && i < sk_X509_num(extra); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(extra, i)))
            goto done;
    if (ctx == NULL || untrusted == NULL
        || !X509_STORE_CTX_init(ctx, t->store, leaf, untrusted))
        goto done;
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
    X509_VERIFY_PARAM_clear_flags(X509_STORE_CTX_get0_param(ctx),
                                  X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    /* a configured anchor is trusted even when it is not self-signed */
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
                                X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_verify_cert(ctx) == 1) {
        *chain = X509_STORE_CTX_get1_chain(ctx);
        r = *chain != NULL ? REASON_OK : REASON_INTERNAL_ERROR;
        detail[0] = '\0';
        goto done;
    }
    err = X509_STORE_CTX_get_error(ctx);
    r = err == X509_V_ERR_CERT_HAS_EXPIRED ? REASON_CERT_EXPIRED
        : err == X509_V_ERR_CERT_NOT_YET_VALID ? REASON_CERT_NOT_YET_VALID
        : REASON_UNTRUSTED_CHAIN;
    trust_name_of(X509_get_subject_name(X509_STORE_CTX_get_current_cert(ctx)
                                        ? X509_STORE_CTX_get_current_cert(ctx) : leaf),
                  name, sizeof(name));
    snprintf(detail, dlen, "%s (depth %d: %s)", X509_verify_cert_error_string(err),
             X509_STORE_CTX_get_error_depth(ctx), name);
done:
    ERR_clear_error();
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    return r;
}

/* trust_is_self_signed - CERT's issuer is its subject and its own key
 * verifies its signature. */
static int trust_is_self_signed(X509 *cert)
{
    int r = X509_self_signed(cert, 1) == 1;

    ERR_clear_error();
    return r;
}

/* trust_check_chain_algorithms - keys and signature digests of CHAIN
 * under v->algo; the self-signed anchor's own signature is not judged.
 * Returns REASON_OK or REASON_WEAK_ALGORITHM with detail. */
static kyso_reason trust_check_chain_algorithms(const struct kyso_verifier *v,
                                                STACK_OF(X509) *chain,
                                                char *detail, size_t dlen)
{
    int i, n = sk_X509_num(chain), mdnid, pknid;
    char name[256], what[300];

    for (i = 0; i < n; i++) {
        X509 *x = sk_X509_value(chain, i);

        trust_name_of(X509_get_subject_name(x), name, sizeof(name));
        snprintf(what, sizeof(what), "certificate %s", name);
        if (trust_check_key(v, X509_get0_pubkey(x), what, detail, dlen) != REASON_OK)
            return REASON_WEAK_ALGORITHM;
        if (i == n - 1 && trust_is_self_signed(x))
            continue;
        if (!X509_get_signature_info(x, &mdnid, &pknid, NULL, NULL)) {
            ERR_clear_error();
            snprintf(detail, dlen, "%s: unknown signature algorithm", what);
            return REASON_WEAK_ALGORITHM;
        }
        if (mdnid != NID_undef
            && trust_check_digest(v, mdnid, what, detail, dlen) != REASON_OK)
            return REASON_WEAK_ALGORITHM;
    }
    return REASON_OK;
}

/* trust_crl_scope_ok - does the critical or scoping content of CRL allow
 * using it for CERT?  Unknown critical extensions, delta CRLs, indirect
 * CRLs, reason-partitioned CRLs and CRLs scoped to the other kind of
 * certificate or to a distribution point CERT does not name all refuse. */
int trust_crl_scope_ok(X509_CRL *crl, X509 *cert)
{
    int i, j, k, ok = 1, crit = 0;
    ISSUING_DIST_POINT *idp;
    STACK_OF(DIST_POINT) *dps;

    for (i = 0; i < X509_CRL_get_ext_count(crl); i++) {
        X509_EXTENSION *e = X509_CRL_get_ext(crl, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

        if (X509_EXTENSION_get_critical(e) && nid != NID_crl_number
            && nid != NID_authority_key_identifier
            && nid != NID_issuing_distribution_point)
            return 0;
        if (nid == NID_delta_crl)
            return 0;
    }
    idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    if (idp == NULL)
        return crit == -1;      /* absent: usable; present but bad: not */
    if (idp->onlysomereasons != NULL || idp->indirectCRL || idp->onlyattr
        || (idp->onlyuser && X509_check_ca(cert))
        || (idp->onlyCA && !X509_check_ca(cert)))
        ok = 0;
    if (ok && idp->distpoint != NULL) {
        ok = 0;
        dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
        for (i = 0; dps != NULL && !ok && i < sk_DIST_POINT_num(dps); i++) {
            DIST_POINT_NAME *dn = sk_DIST_POINT_value(dps, i)->distpoint;

            if (dn == NULL || dn->type != 0 || idp->distpoint->type != 0)
                continue;
            for (j = 0; !ok && j < sk_GENERAL_NAME_num(dn->name.fullname); j++)
                for (k = 0; !ok && k < sk_GENERAL_NAME_num(idp->distpoint->name.fullname); k++)
                    ok = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(dn->name.fullname, j),
                                          sk_GENERAL_NAME_value(idp->distpoint->name.fullname, k)) == 0;
        }
        sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    }
    ISSUING_DIST_POINT_free(idp);
    return ok;
}

/* trust_crl_covers - see trust.h. */
int trust_crl_covers(X509_CRL *crl, X509 *cert, X509 *issuer,
                            time_t at, time_t now)
{
    time_t this_up, next_up;
    EVP_PKEY *pk = X509_get0_pubkey(issuer);
    int ok;

    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0)
        return 0;
    if (trust_time_of(X509_CRL_get0_lastUpdate(crl), &this_up) < 0 || this_up > now)
        return 0;
    if (X509_CRL_get0_nextUpdate(crl) != NULL
        && (trust_time_of(X509_CRL_get0_nextUpdate(crl), &next_up) < 0 || next_up < at))
        return 0;
    ok = pk != NULL && X509_CRL_verify(crl, pk) == 1;
    ERR_clear_error();
    return ok && trust_crl_scope_ok(crl, cert);
}

static const char *const trust_crl_reasons[] = {
    "unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
    "superseded", "cessationOfOperation", "certificateHold", "7",
    "removeFromCRL", "privilegeWithdrawn", "aACompromise"
};

/* trust_crl_entry_reason - the CRL reason code of REV (-1 when absent),
 * or -2 when REV carries a critical extension we do not understand. */
static int trust_crl_entry_reason(X509_REVOKED *rev)
{
    const STACK_OF(X509_EXTENSION) *exts = X509_REVOKED_get0_extensions(rev);
    ASN1_ENUMERATED *e;
    int i, code = -1, crit;

    for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(x));

        if (X509_EXTENSION_get_critical(x) && nid != NID_crl_reason
            && nid != NID_invalidity_date)
            return -2;
    }
    e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
    if (e != NULL) {
        code = (int)ASN1_ENUMERATED_get(e);
        ASN1_ENUMERATED_free(e);
    } else if (crit != -1) {
        code = -2;      /* present but undecodable */
    }
    return code;
}

/* trust_crl_entry - CERT's entry in CRL (a CRL already found usable)
 * judged at AT: REASON_OK (not listed, removed, or revoked only after AT),
 * REASON_CERT_REVOKED with detail ("revoked ..." or "suspended ..." for
 * certificateHold, SOURCE naming the CRL), or REASON_REVOCATION_UNKNOWN
 * when the entry carries what we cannot interpret (detail filled). */
kyso_reason trust_crl_entry(X509_CRL *crl, X509 *cert, time_t at, const char *source,
                            char *detail, size_t dlen)
{
    X509_REVOKED *rev = NULL;
    int found = X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(cert)), code;
    time_t when;

    ERR_clear_error();
    if (found == 0 || rev == NULL)
        return REASON_OK;
    if ((code = trust_crl_entry_reason(rev)) == -2) {
        snprintf(detail, dlen, "%s: entry with an unknown critical extension", source);
        return REASON_REVOCATION_UNKNOWN;
    }
    if (found == 2 || code == 8)
        return REASON_OK;       /* removeFromCRL: not revoked */
    if (trust_time_of(X509_REVOKED_get0_revocationDate(rev), &when) < 0 || when > at)
        return REASON_OK;       /* revoked only after AT */
    trust_describe_revocation(when, code, source, detail, dlen);
    return REASON_CERT_REVOKED;
}

/* trust_describe_revocation - "revoked 2026-...Z (keyCompromise) by SOURCE",
 * or "suspended since ... (certificateHold) by SOURCE", into DETAIL. */
void trust_describe_revocation(time_t when, int code, const char *source,
                               char *detail, size_t dlen)
{
    char ts[32];

    snprintf(detail, dlen, "%s %s%s%s%s%s by %s", code == 6 ? "suspended since" : "revoked",
             trust_format_time(when, ts, sizeof(ts)),
             code >= 0 ? " (" : "",
             code >= 0 && code <= 10 ? trust_crl_reasons[code]
             : code >= 0 ? "unknown reason" : "",
             code >= 0 ? ")" : "", "", source);
}

/* trust_check_crl_files - revocation of CERT (issued by ISSUER) at AT from
 * the configured CRLs.  Returns REASON_OK (some covering CRL, not revoked
 * at AT), REASON_CERT_REVOKED, or REASON_REVOCATION_UNKNOWN (no covering
 * CRL), with detail filled for the last two. */
kyso_reason trust_check_crl_files(const kyso_trust *t, X509 *cert, X509 *issuer,
                                  time_t at, char *detail, size_t dlen)
{
    int i, covered = 0;
    time_t now = time(NULL);
    kyso_reason r;
    char iname[256], atbuf[32], src[300];

    trust_name_of(X509_get_issuer_name(cert), iname, sizeof(iname));
    snprintf(src, sizeof src, "CRL of %s", iname);
    for (i = 0; i < sk_X509_CRL_num(t->crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(t->crls, i);

        if (!trust_crl_covers(crl, cert, issuer, at, now))
            continue;
        r = trust_crl_entry(crl, cert, at, src, detail, dlen);
        if (r == REASON_CERT_REVOKED)
            return r;
        covered |= r == REASON_OK;
    }
    ERR_clear_error();
    if (covered)
        return REASON_OK;
    snprintf(detail, dlen, "no CRL of %s covers %s", iname,
             trust_format_time(at, atbuf, sizeof(atbuf)));
    return REASON_REVOCATION_UNKNOWN;
}

/* trust_crl_count - see trust.h. */
int trust_crl_count(const kyso_trust *t)
{
    return sk_X509_CRL_num(t->crls);
}

/* trust_find_crl - see trust.h. */
X509_CRL *trust_find_crl(const kyso_trust *t, X509 *cert, X509 *issuer, time_t at)
{
    time_t now = time(NULL);

    for (int i = 0; i < sk_X509_CRL_num(t->crls); i++)
        if (trust_crl_covers(sk_X509_CRL_value(t->crls, i), cert, issuer, at, now))
            return sk_X509_CRL_value(t->crls, i);
    ERR_clear_error();
    return NULL;
}

/* trust_get_chain - see trust.h. */
kyso_reason trust_get_chain(const struct kyso_verifier *v, X509 *leaf, STACK_OF(X509) *extra,
                            time_t at, STACK_OF(X509) **chain, char *detail, size_t dlen)
{
    *chain = NULL;
    if (v == NULL || v->trust == NULL || leaf == NULL) {
        snprintf(detail, dlen, "no trust store");
        return REASON_INTERNAL_ERROR;
    }
    return trust_build_chain(v->trust, leaf, extra, at, chain, detail, dlen);
}

/* trust_check_cert - see trust.h: trust_check_cert_ex without embedded data. */
kyso_reason trust_check_cert(const struct kyso_verifier *v, X509 *leaf,
                             STACK_OF(X509) *extra, time_t at,
                             char *detail, size_t dlen)
{
    return trust_check_cert_ex(v, leaf, extra, at, NULL, detail, dlen);
}

/* trust_check_cert_ex - see revocation.h.  Also REASON_INTERNAL_ERROR when
 * out of memory or when v has no trust store. */
kyso_reason trust_check_cert_ex(const struct kyso_verifier *v, X509 *leaf,
                                STACK_OF(X509) *extra, time_t at,
                                const kyso_revdata *embedded, char *detail, size_t dlen)
{
    STACK_OF(X509) *chain = NULL;
    kyso_reason r;

    if (dlen > 0)
        detail[0] = '\0';
    r = trust_get_chain(v, leaf, extra, at, &chain, detail, dlen);
    if (r == REASON_OK)
        r = trust_check_chain_algorithms(v, chain, detail, dlen);
    if (r == REASON_OK)
        r = revocation_check_chain(v, chain, at, embedded, detail, dlen);
    sk_X509_pop_free(chain, X509_free);
    return r;
}
