/*
 * pki.h - a small test PKI built at run time with the OpenSSL API:
 * keys, certificates with chosen names, validity and extensions, CRLs with
 * revocation dates and reasons, and PEM files in a temporary folder.
 * For unit tests only; aborts on an OpenSSL failure (a broken test setup).
 */
#ifndef KYSO_PKI_H
#define KYSO_PKI_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define PKI_DAY 86400L

/* pki_die - a failed setup step: say which and stop. */
static inline void pki_die(const char *what)
{
    fprintf(stderr, "test PKI: %s failed\n", what);
    abort();
}

/* pki_key_ec - a new P-256 key. */
static inline EVP_PKEY *pki_key_ec(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    if (k == NULL)
        pki_die("EC key");
    return k;
}

/* pki_key_rsa - a new RSA key of BITS bits. */
static inline EVP_PKEY *pki_key_rsa(unsigned int bits)
{
    EVP_PKEY *k = EVP_RSA_gen(bits);

    if (k == NULL)
        pki_die("RSA key");
    return k;
}

/* pki_name - "CN=a/O=b/UID=MST:1" as an X509_NAME (UTF-8 values). */
static inline X509_NAME *pki_name(const char *spec)
{
    X509_NAME *n = X509_NAME_new();
    char *dup = strdup(spec), *save = NULL, *tok, *eq;

    for (tok = strtok_r(dup, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if ((eq = strchr(tok, '=')) == NULL)
            pki_die("name syntax");
        *eq = '\0';
        if (!X509_NAME_add_entry_by_txt(n, tok, MBSTRING_UTF8,
                                        (unsigned char *)eq + 1, -1, -1, 0))
            pki_die(tok);
    }
    free(dup);
    return n;
}

/* pki_cert - a certificate for KEY named SUBJ, serial SERIAL, valid from
 * now+NB to now+NA seconds, with extensions EXTS ("name", "value" pairs,
 * NULL-terminated), signed by IKEY as ISSUER (NULL: self-signed) with MD. */
static inline X509 *pki_cert(const char *subj, X509 *issuer, EVP_PKEY *ikey,
                             EVP_PKEY *key, long serial, long nb, long na,
                             const char *const *exts, const EVP_MD *md)
{
    X509 *x = X509_new();
    X509_NAME *n = pki_name(subj);
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    X509_time_adj_ex(X509_getm_notBefore(x), 0, nb, NULL);
    X509_time_adj_ex(X509_getm_notAfter(x), 0, na, NULL);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    for (; exts && exts[0]; exts += 2) {
        if ((e = X509V3_EXT_nconf(NULL, &ctx, exts[0], exts[1])) == NULL)
            pki_die(exts[0]);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, ikey ? ikey : key, md ? md : EVP_sha256()))
        pki_die("X509_sign");
    return x;
}

/* pki_crl_new - an empty CRL of ISSUER, thisUpdate now+THIS, nextUpdate
 * now+NEXT (no nextUpdate when NEXT is 0). */
static inline X509_CRL *pki_crl_new(X509 *issuer, long this_up, long next_up)
{
    X509_CRL *c = X509_CRL_new();
    ASN1_TIME *t = X509_time_adj_ex(NULL, 0, this_up, NULL);

    X509_CRL_set_version(c, 1);
    X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer));
    X509_CRL_set1_lastUpdate(c, t);
    if (next_up != 0) {
        X509_time_adj_ex(t, 0, next_up, NULL);
        X509_CRL_set1_nextUpdate(c, t);
    }
    ASN1_TIME_free(t);
    return c;
}

/* pki_crl_revoke - list CERT in CRL, revoked at now+WHEN with reason code
 * REASON (-1: no reason extension). */
static inline void pki_crl_revoke(X509_CRL *c, X509 *cert, long when, int reason)
{
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_TIME *t = X509_time_adj_ex(NULL, 0, when, NULL);
    ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(cert));
    X509_REVOKED_set_revocationDate(r, t);
    if (reason >= 0) {
        ASN1_ENUMERATED_set(e, reason);
        X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0);
    }
    X509_CRL_add0_revoked(c, r);
    ASN1_ENUMERATED_free(e);
    ASN1_TIME_free(t);
}

/* pki_crl_sign - sort and sign CRL with KEY. */
static inline void pki_crl_sign(X509_CRL *c, EVP_PKEY *key)
{
    X509_CRL_sort(c);
    if (!X509_CRL_sign(c, key, EVP_sha256()))
        pki_die("X509_CRL_sign");
}

/* pki_write_certs - write N certificates to PATH as PEM. */
static inline void pki_write_certs(const char *path, X509 **certs, int n)
{
    FILE *f = fopen(path, "w");
    int i;

    if (f == NULL)
        pki_die(path);
    for (i = 0; i < n; i++)
        PEM_write_X509(f, certs[i]);
    fclose(f);
}

/* pki_write_crls - write N CRLs to PATH as PEM. */
static inline void pki_write_crls(const char *path, X509_CRL **crls, int n)
{
    FILE *f = fopen(path, "w");
    int i;

    if (f == NULL)
        pki_die(path);
    for (i = 0; i < n; i++)
        PEM_write_X509_CRL(f, crls[i]);
    fclose(f);
}

#endif
