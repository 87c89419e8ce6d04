/*
 * revocation.c - whether the certificates of a validated chain were
 * revoked or suspended at the validation time (see revocation.h).
 *
 * For each certificate below the anchor, from the top of the chain down
 * (an issuer is judged before what it issued), the sources in this order,
 * the first that gives an answer deciding:
 *   1. validation data embedded in the signature or document, only when it
 *      verifies (OCSP: ocsp_check_response; CRL: crl_check_der);
 *   2. the configured CRL files (offline sites: no network when they cover);
 *   3. the network sources of v->rev.order: OCSP (ocsp.h), CRL distribution
 *      points (crl-fetch.h), each behind the revocation cache.
 * Point in time: a revocation dated after AT does not count against the
 * signature; certificateHold before AT is a suspension, which R5 counts
 * as invalid just like a revocation.  A revocation anywhere in the chain
 * wins over an unknown status elsewhere.
 *
 * Must never: print; count validation data that does not verify; let a
 * network failure look like "not revoked" (it is revocation_unknown, and
 * the policy decides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "crl-fetch.h"
#include "ocsp.h"
#include "revcache.h"
#include "revocation.h"
#include "trust.h"
#include "verifier.h"

int revdata_add(kyso_revdata *d, int is_ocsp, const unsigned char *der, size_t len)
{
    kyso_blob **v = is_ocsp ? &d->ocsp : &d->crls;
    size_t *n = is_ocsp ? &d->nocsp : &d->ncrls;
    kyso_blob *nv = realloc(*v, (*n + 1) * sizeof *nv);
    unsigned char *copy = malloc(len ? len : 1);

    if (nv == NULL || copy == NULL) {
        free(copy);
        if (nv)
            *v = nv;
        return -1;
    }
    memcpy(copy, der, len);
    *v = nv;
    nv[(*n)++] = (kyso_blob){ copy, len };
    return 0;
}

void revdata_free(kyso_revdata *d)
{
    for (size_t i = 0; i < d->nocsp; i++)
        free(d->ocsp[i].p);
    for (size_t i = 0; i < d->ncrls; i++)
        free(d->crls[i].p);
    free(d->ocsp);
    free(d->crls);
    memset(d, 0, sizeof *d);
}

/* rev_from_ocsp - the reason a verified OCSP answer IT from SRC gives at
 * AT: REASON_OK, REASON_CERT_REVOKED (dated no later than AT), or
 * REASON_REVOCATION_UNKNOWN (the responder does not know the certificate). */
static kyso_reason rev_from_ocsp(const revcache_item *it, time_t at, const char *src,
                                 char *detail, size_t dlen)
{
    if (it->status == V_OCSP_CERTSTATUS_GOOD)
        return REASON_OK;
    if (it->status != V_OCSP_CERTSTATUS_REVOKED) {
        snprintf(detail, dlen, "%s: responder does not know the certificate", src);
        return REASON_REVOCATION_UNKNOWN;
    }
    if (it->rev_time > at || it->reason == 8)
        return REASON_OK;       /* revoked after the signature, or removeFromCRL */
    trust_describe_revocation(it->rev_time, it->reason, src, detail, dlen);
    return REASON_CERT_REVOKED;
}

/* rev_note - append "; WHAT" to the reasons collected in NOTE. */
static void rev_note(char *note, size_t len, const char *what)
{
    size_t o = strlen(note);

    if (o + 3 < len)
        snprintf(note + o, len - o, "%s%s", o ? "; " : "", what);
}

/* rev_embedded - the embedded data about CERT: a decided reason, or
 * REASON_REVOCATION_UNKNOWN when none of it answers (why noted).  *WEAK is
 * set when the answer is "not revoked" only from a CRL made before AT
 * (crl_check_der): another source saying revoked then wins. */
static kyso_reason rev_embedded(const kyso_verifier *v, X509 *cert, X509 *issuer, time_t at,
                                time_t now, const kyso_revdata *emb, char *detail,
                                size_t dlen, char *note, size_t nlen, int *weak)
{
    revcache_item it;
    char why[300];
    kyso_reason r;

    for (size_t i = 0; emb && i < emb->nocsp; i++) {
        memset(&it, 0, sizeof it);
        if (!ocsp_check_response(v, emb->ocsp[i].p, emb->ocsp[i].len, cert, issuer, now,
                                 1, at, &it, why, sizeof why)) {
            if (strstr(why, "another certificate") == NULL) {
                char w[340];
                snprintf(w, sizeof w, "embedded OCSP: %s", why);
                rev_note(note, nlen, w);
            }
            continue;
        }
        if ((r = rev_from_ocsp(&it, at, "embedded OCSP answer", detail, dlen))
            != REASON_REVOCATION_UNKNOWN)
            return r;
    }
    *weak = 0;
    for (size_t i = 0; emb && i < emb->ncrls; i++) {
        int before = 0;
        r = crl_check_der(v, emb->crls[i].p, emb->crls[i].len, cert, issuer, at, now, &before,
                          why, sizeof why);
        if (r == REASON_OK && before) {
            *weak = 1;              /* keep looking for a CRL made after AT */
            continue;
        }
        if (r != REASON_REVOCATION_UNKNOWN) {
            if (r == REASON_CERT_REVOKED)
                snprintf(detail, dlen, "%s", why);
            *weak = 0;
            return r;
        }
        if (strstr(why, "another issuer") == NULL)
            rev_note(note, nlen, why);
    }
    return *weak ? REASON_OK : REASON_REVOCATION_UNKNOWN;
}

/* rev_online - the network sources of v->rev.order for CERT. */
static kyso_reason rev_online(const kyso_verifier *v, X509 *cert, X509 *issuer, time_t at,
                              time_t now, char *detail, size_t dlen, char *note, size_t nlen)
{
    revcache_item it;
    char why[600];
    kyso_reason r;

    for (int i = 0; i < 2 && v->rev.order[i] != REVSRC_END; i++) {
        why[0] = '\0';
        if (v->rev.order[i] == REVSRC_OCSP) {
            if (ocsp_check(v, cert, issuer, now, 0, &it, why, sizeof why)) {
                r = rev_from_ocsp(&it, at, "OCSP", detail, dlen);
                revcache_item_clear(&it);
                if (r != REASON_REVOCATION_UNKNOWN)
                    return r;
                snprintf(why, sizeof why, "%s", detail);
            }
        } else {
            r = crl_dp_check(v, cert, issuer, at, now, NULL, why, sizeof why);
            if (r != REASON_REVOCATION_UNKNOWN) {
                if (r == REASON_CERT_REVOKED)
                    snprintf(detail, dlen, "%s", why);
                return r;
            }
        }
        rev_note(note, nlen, why);
    }
    return REASON_REVOCATION_UNKNOWN;
}

/* rev_check_one - CERT, issued by ISSUER, at AT from every source; the
 * reason and detail as for revocation_check_chain. */
static kyso_reason rev_check_one(const kyso_verifier *v, X509 *cert, X509 *issuer, time_t at,
                                 const kyso_revdata *emb, char *detail, size_t dlen)
{
    time_t now = time(NULL);
    char note[1024] = "", why[512];
    kyso_reason r;
    int weak = 0;

    r = rev_embedded(v, cert, issuer, at, now, emb, detail, dlen, note, sizeof note, &weak);
    if (r == REASON_OK && weak) {
        /* only an embedded CRL older than the signature says "not revoked":
         * the configured CRLs, when they know better, win */
        if (trust_check_crl_files(v->trust, cert, issuer, at, why, sizeof why)
            == REASON_CERT_REVOKED) {
            snprintf(detail, dlen, "%s", why);
            return REASON_CERT_REVOKED;
        }
        return REASON_OK;
    }
    if (r != REASON_REVOCATION_UNKNOWN)
        return r;
    r = trust_check_crl_files(v->trust, cert, issuer, at, why, sizeof why);
    if (r != REASON_REVOCATION_UNKNOWN) {
        if (r == REASON_CERT_REVOKED)
            snprintf(detail, dlen, "%s", why);
        return r;
    }
    if (trust_crl_count(v->trust) > 0)
        rev_note(note, sizeof note, why);
    r = rev_online(v, cert, issuer, at, now, detail, dlen, note, sizeof note);
    if (r == REASON_REVOCATION_UNKNOWN)
        snprintf(detail, dlen, "%s", note[0] ? note
                 : v->rev.order[0] == REVSRC_END ? "no revocation source (RevocationCheck none)"
                 : "no revocation source");
    return r;
}

kyso_reason revocation_check_chain(const struct kyso_verifier *v, STACK_OF(X509) *chain,
                                   time_t at, const kyso_revdata *embedded,
                                   char *detail, size_t dlen)
{
    kyso_reason r, first = REASON_OK;
    char d[1200], name[256];

    for (int i = sk_X509_num(chain) - 2; i >= 0; i--) {
        X509 *x = sk_X509_value(chain, i);

        d[0] = '\0';
        r = rev_check_one(v, x, sk_X509_value(chain, i + 1), at, embedded, d, sizeof d);
        if (r == REASON_REVOCATION_UNKNOWN && v->rev_missing != REVMISSING_UNKNOWN)
            r = REASON_OK;
        if (r == REASON_OK || (first != REASON_OK && r == REASON_REVOCATION_UNKNOWN))
            continue;
        name[0] = '\0';
        if (i > 0)
            trust_name_of(X509_get_subject_name(x), name, sizeof name);
        snprintf(detail, dlen, "%s%s%s%s", i > 0 ? "CA certificate " : "", name,
                 i > 0 ? ": " : "", d);
        if (r == REASON_CERT_REVOKED)
            return r;
        first = r;
    }
    return first;
}

/* rev_collect_one - the proof for CERT (issued by ISSUER) now into OUT:
 * OCSP or CRL per v->rev.order, then a covering configured CRL.  0, or -1
 * with err. */
static int rev_collect_one(const kyso_verifier *v, X509 *cert, X509 *issuer,
                           kyso_revdata *out, char *err, size_t errlen)
{
    time_t now = time(NULL);
    char why[600], note[1024] = "";
    revcache_item it;
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    int len, rc = -1;

    for (int i = 0; i < 2 && v->rev.order[i] != REVSRC_END && crl == NULL; i++) {
        why[0] = '\0';
        if (v->rev.order[i] == REVSRC_OCSP) {
            if (ocsp_check(v, cert, issuer, now, 1, &it, why, sizeof why)) {
                int good = it.status == V_OCSP_CERTSTATUS_GOOD && it.der;
                rc = good ? revdata_add(out, 1, it.der, it.len) : -1;
                snprintf(why, sizeof why, "OCSP: certificate %s",
                         it.status == V_OCSP_CERTSTATUS_REVOKED ? "revoked" : "unknown");
                revcache_item_clear(&it);
                if (good) {
                    if (rc < 0)
                        snprintf(err, errlen, "out of memory");
                    return rc;
                }
            }
        } else if (crl_dp_check(v, cert, issuer, now, now, &crl, why, sizeof why)
                   == REASON_CERT_REVOKED) {
            X509_CRL_free(crl);
            crl = NULL;
        }
        rev_note(note, sizeof note, why);
    }
    if (crl == NULL && (crl = trust_find_crl(v->trust, cert, issuer, now)) != NULL)
        X509_CRL_up_ref(crl);
    if (crl == NULL) {
        snprintf(err, errlen, "no revocation proof: %s", note[0] ? note : "no source");
        return -1;
    }
    if ((len = i2d_X509_CRL(crl, &der)) > 0)
        rc = revdata_add(out, 0, der, (size_t)len);
    if (rc < 0)
        snprintf(err, errlen, "cannot encode the CRL");
    OPENSSL_free(der);
    X509_CRL_free(crl);
    return rc;
}

int revocation_collect(const struct kyso_verifier *v, X509 *cert, STACK_OF(X509) *chain,
                       kyso_revdata *out, char *err, size_t errlen)
{
    STACK_OF(X509) *full = NULL;
    char d[512];
    int rc = 0;

    if (trust_get_chain(v, cert, chain, time(NULL), &full, d, sizeof d) != REASON_OK) {
        snprintf(err, errlen, "no trusted chain: %s", d);
        return -1;
    }
    for (int i = 0; rc == 0 && i + 1 < sk_X509_num(full); i++)
        rc = rev_collect_one(v, sk_X509_value(full, i), sk_X509_value(full, i + 1),
                             out, err, errlen);
    sk_X509_pop_free(full, X509_free);
    ERR_clear_error();
    return rc;
}
