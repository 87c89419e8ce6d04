/*
 * revocation.c - revocation from every source (see revocation.h).
 * (Placeholder until the OCSP / CRL distribution point work lands: embedded
 * data is ignored and nothing is fetched.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "revocation.h"
#include "trust.h"

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

kyso_reason trust_check_cert_ex(const struct kyso_verifier *v, X509 *leaf,
                                STACK_OF(X509) *extra, time_t at,
                                const kyso_revdata *embedded, char *detail, size_t dlen)
{
    (void)embedded;
    return trust_check_cert(v, leaf, extra, at, detail, dlen);
}

int revocation_collect(const struct kyso_verifier *v, X509 *cert, STACK_OF(X509) *chain,
                       kyso_revdata *out, char *err, size_t errlen)
{
    (void)v; (void)cert; (void)chain; (void)out;
    snprintf(err, errlen, "online revocation is not built yet");
    return -1;
}
