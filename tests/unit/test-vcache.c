/*
 * test-vcache.c - the verification cache: keys tell documents apart by
 * every byte, kind and detached content; hits return a faithful,
 * independent copy; entries expire after the TTL; the least recently used
 * go first; indeterminate results are never kept.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "vcache.h"

/* sample - a result with one signature, reason R. */
static void sample(kyso_doc_result *d, kyso_reason r, const char *who)
{
    memset(d, 0, sizeof *d);
    d->kind = KIND_PDF;
    d->reason = r;
    d->detail = strdup("detail");
    kyso_sig_result *s = result_add_sig(d);
    s->reason = r;
    s->subfilter = strdup("adbe.pkcs7.detached");
    s->signer.subject = strdup(who);
    s->signer.cls = CLASS_ORGANISATION;
    strcpy(s->signing_time, "2026-01-01T08:00:00+07:00");
}

static void test_keys(void)
{
    unsigned char a[VCACHE_KEY_LEN], b[VCACHE_KEY_LEN];
    unsigned char doc[64] = "%PDF-1.7 same bytes", doc2[64] = "%PDF-1.7 same bytes";
    doc2[63] ^= 1;
    vcache_key(KIND_PDF, doc, sizeof doc, NULL, 0, a);
    vcache_key(KIND_PDF, doc, sizeof doc, NULL, 0, b);
    ok(memcmp(a, b, sizeof a) == 0, "the same bytes give the same key");
    vcache_key(KIND_PDF, doc2, sizeof doc2, NULL, 0, b);
    ok(memcmp(a, b, sizeof a) != 0, "one bit changed anywhere gives another key");
    vcache_key(KIND_P7M, doc, sizeof doc, NULL, 0, b);
    ok(memcmp(a, b, sizeof a) != 0, "another kind gives another key");
    vcache_key(KIND_P7S, doc, sizeof doc, (const unsigned char *)"x", 1, a);
    vcache_key(KIND_P7S, doc, sizeof doc, (const unsigned char *)"y", 1, b);
    ok(memcmp(a, b, sizeof a) != 0, "another signed content gives another key");
    vcache_key(KIND_P7S, doc, 32, doc + 32, 32, a);
    vcache_key(KIND_P7S, doc, 33, doc + 33, 31, b);
    ok(memcmp(a, b, sizeof a) != 0, "the split between signature and content counts");
}

static void test_cache(void)
{
    kyso_vcache *c = vcache_new(2, 60);
    unsigned char k1[VCACHE_KEY_LEN] = {1}, k2[VCACHE_KEY_LEN] = {2}, k3[VCACHE_KEY_LEN] = {3};
    kyso_doc_result r, got;
    sample(&r, REASON_OK, "CN=So A");
    ok(vcache_get(c, k1, 1000, &got) == 0, "empty cache: a miss");
    vcache_put(c, k1, 1000, &r);
    result_free_doc(&r);                        /* the cache holds its own copy */
    ok(vcache_get(c, k1, 1010, &got) == 1, "put then get: a hit");
    ok(got.reason == REASON_OK && got.nsigs == 1 && got.sigs[0].signer.subject &&
       strcmp(got.sigs[0].signer.subject, "CN=So A") == 0 &&
       strcmp(got.sigs[0].signing_time, "2026-01-01T08:00:00+07:00") == 0 &&
       got.sigs[0].signer.cls == CLASS_ORGANISATION && strcmp(got.detail, "detail") == 0,
       "the hit is a faithful copy (reason, signer, time, class, detail)");
    got.sigs[0].signer.subject[3] = 'X';
    result_free_doc(&got);
    vcache_get(c, k1, 1011, &got);
    ok(strcmp(got.sigs[0].signer.subject, "CN=So A") == 0,
       "changing a copy does not change the cache");
    result_free_doc(&got);
    ok(vcache_get(c, k1, 1060, &got) == 0, "after the TTL: a miss");
    ok(vcache_get(c, k1, 1061, &got) == 0, "and the entry is gone");

    sample(&r, REASON_OK, "CN=1");
    vcache_put(c, k1, 2000, &r);
    vcache_put(c, k2, 2000, &r);
    vcache_get(c, k1, 2001, &got);              /* k1 used last: k2 is the oldest */
    result_free_doc(&got);
    vcache_put(c, k3, 2002, &r);
    ok(vcache_get(c, k2, 2003, &got) == 0, "full: the least recently used entry was evicted");
    ok(vcache_get(c, k1, 2003, &got) == 1, "the recently used one stayed");
    result_free_doc(&got);
    ok(vcache_get(c, k3, 2003, &got) == 1, "the new one is there");
    result_free_doc(&got);
    result_free_doc(&r);

    sample(&r, REASON_REVOCATION_UNKNOWN, "CN=2");
    vcache_put(c, k2, 3000, &r);
    ok(vcache_get(c, k2, 3001, &got) == 0, "revocation_unknown is never cached (retry may differ)");
    result_free_doc(&r);
    sample(&r, REASON_DIGEST_MISMATCH, "CN=3");
    vcache_put(c, k2, 3000, &r);
    ok(vcache_get(c, k2, 3001, &got) == 1 && got.reason == REASON_DIGEST_MISMATCH,
       "an invalid result is cached like a valid one");
    result_free_doc(&got);
    result_free_doc(&r);
    unsigned long hits, misses;
    vcache_stats(c, &hits, &misses);
    ok(hits == 6 && misses == 5, "hits and misses are counted (%lu, %lu)", hits, misses);
    vcache_free(c);

    c = vcache_new(0, 60);
    sample(&r, REASON_OK, "CN=4");
    vcache_put(c, k1, 1, &r);
    ok(vcache_get(c, k1, 2, &got) == 0, "VerifyCacheSize 0 keeps nothing");
    result_free_doc(&r);
    vcache_free(c);
}

int main(void)
{
    test_keys();
    test_cache();
    return tap_done();
}
