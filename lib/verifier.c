/*
 * verifier.c - defaults of the verification context.  The defaults are
 * documented in kyso-milter.conf(5); change both together.
 */
#include <string.h>
#include <time.h>
#include "cert-class.h"
#include "ocsp.h"
#include "revcache.h"
#include "trust.h"
#include "vcache.h"
#include "verifier.h"

int verifier_init(kyso_verifier *v)
{
    memset(v, 0, sizeof *v);
    v->trust = trust_new();
    if (v->trust == NULL)
        return -1;
    v->lim.max_doc_size = 64u << 20;
    v->lim.max_message_size = 100u << 20;
    v->lim.max_parts = 1000;
    v->lim.max_depth = 20;
    v->lim.max_pdf_objects = 200000;   /* each signature compares every number */
    v->lim.max_signatures = 50;
    v->lim.max_cms_size = 1u << 20;
    v->lim.max_cms_certs = 50;
    v->lim.max_pdf_nesting = 32;
    v->algo.min_rsa_bits = 2048;
    v->algo.min_ec_bits = 256;
    v->algo.allow_sha1 = 0;
    v->rev_missing = REVMISSING_UNKNOWN;
    v->rev.order[0] = REVSRC_OCSP;
    v->rev.order[1] = REVSRC_CRL;
    v->rev.order[2] = REVSRC_END;
    v->rev.timeout_ms = 5000;
    v->rev.tolerance = 300;
    v->rev.crl_max_size = 32u << 20;
    v->rev.ocsp_max_size = 64u << 10;
    v->rev.nonce = 1;
    v->rev.fail_ttl = 60;
    v->rev.cache = revcache_new(10000, 256u << 20);
    if (v->rev.cache == NULL) {
        verifier_free(v);
        return -1;
    }
    return 0;
}

void verifier_free(kyso_verifier *v)
{
    trust_free(v->trust);
    class_rules_free(v->classes);
    vcache_free(v->cache);
    ocsp_table_free(v->rev.responders);
    revcache_unref(v->rev.cache);
    memset(v, 0, sizeof *v);
}

time_t verifier_time(const kyso_verifier *v)
{
    return v->at ? v->at : time(NULL);
}
