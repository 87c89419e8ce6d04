/*
 * test-vcache.c - the verification cache: keys tell documents apart by
 * every byte, kind and detached content; hits return a faithful,
 * independent copy; entries expire after the TTL; the least recently used
 * go first; indeterminate results are never kept.  The shared tier (a
 * fake store: one slot): what one cache puts another with the same
 * fingerprint finds, marked as a shared hit with the node that verified
 * it; another fingerprint, a damaged or tampered entry, an entry past the
 * TTL are misses; a result read back from JSON is the same result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "result-read.h"
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

/* The fake shared store: one key, one value. */
static char fake_key[200], *fake_val;
static size_t fake_len;
static int fake_gets, fake_puts;

static int fake_get(void *ctx, const char *key, char **val, size_t *len)
{
    (void)ctx;
    fake_gets++;
    if (fake_val == NULL || strcmp(key, fake_key) != 0)
        return 0;
    *val = malloc(fake_len + 1);
    memcpy(*val, fake_val, fake_len + 1);
    *len = fake_len;
    return 1;
}

static void fake_put(void *ctx, const char *key, const char *val, size_t len, unsigned ttl)
{
    (void)ctx;
    (void)ttl;
    fake_puts++;
    snprintf(fake_key, sizeof fake_key, "%s", key);
    free(fake_val);
    fake_val = malloc(len + 1);
    memcpy(fake_val, val, len);
    fake_val[len] = '\0';
    fake_len = len;
}

/* gateway - a cache with the fake shared tier, fingerprint FP, node NODE. */
static kyso_vcache *gateway(const char *fp, const char *node)
{
    kyso_vcache *c = vcache_new(10, 60);
    vcache_remote r = { .ctx = NULL, .get = fake_get, .put = fake_put };
    snprintf(r.fp, sizeof r.fp, "%s", fp);
    snprintf(r.node, sizeof r.node, "%s", node);
    vcache_set_remote(c, &r);
    return c;
}

static void test_remote(void)
{
    unsigned char k[VCACHE_KEY_LEN];
    unsigned char doc[] = "%PDF-1.7 shared";
    kyso_doc_result r, got;
    vcache_tally t;
    vcache_key(KIND_PDF, doc, sizeof doc, NULL, 0, k);
    kyso_vcache *a = gateway("fp1", "gw-a"), *b = gateway("fp1", "gw-b"),
                *other = gateway("fp2", "gw-c");
    sample(&r, REASON_OK, "CN=Shared");
    r.sigs[0].signer.serial = strdup("0A1B");
    r.sigs[0].signer.not_before = 1700000000;
    r.sigs[0].signer.not_after = 1800000000;
    r.sigs[0].docmdp = 2;
    kyso_doc_result *att = result_add_att(&r);
    att->kind = KIND_PDF;
    att->reason = REASON_UNSIGNED;
    vcache_put(a, k, 1000, &r);
    ok(fake_puts == 1 && strncmp(fake_key, "fp1:", 4) == 0, "a result goes to the shared "
       "tier under FINGERPRINT:KEY");
    vcache_tally_reset();
    ok(vcache_get(b, k, 1010, &got) == 1, "another gateway, same fingerprint: a hit");
    vcache_tally_get(&t);
    ok(t.shared == 1 && t.local == 0 && strcmp(t.by, "gw-a") == 0,
       "tallied as a shared hit, verified by gw-a (%u, %u, %s)", t.shared, t.local, t.by);
    kyso_buf x = {0}, y = {0};
    result_json_append_doc(&x, &r);
    result_json_append_doc(&y, &got);
    ok(x.len == y.len && memcmp(x.p, y.p, x.len) == 0, "the result read back is the same");
    buf_free(&y);
    result_free_doc(&got);
    ok(vcache_get(b, k, 1011, &got) == 1, "then a local hit in that gateway");
    vcache_tally_get(&t);
    ok(t.shared == 1 && t.local == 1, "tallied as local (%u, %u)", t.shared, t.local);
    result_free_doc(&got);
    ok(vcache_get(other, k, 1010, &got) == 0, "another fingerprint: a miss");
    ok(vcache_get(b, k, 1061, &got) == 0, "past the TTL of the first verification: a miss");
    kyso_vcache *d;
    d = gateway("fp1", "gw-d");
    fake_val[fake_len - 3] = '?';               /* damaged */
    ok(vcache_get(d, k, 1010, &got) == 0, "a damaged entry: a miss");
    vcache_free(d);
    d = gateway("fp1", "gw-d");
    free(fake_val);
    fake_val = strdup("{\"v\":1,\"node\":\"x\",\"at\":1000,\"doc\":{\"name\":null,"
                      "\"kind\":\"pdf\",\"verdict\":\"valid\",\"reason\":\"ok\",\"detail\":null,"
                      "\"signatures\":[],\"attachments\":[],\"future\":1}}");
    fake_len = strlen(fake_val);
    ok(vcache_get(d, k, 1010, &got) == 0, "a field this version does not know: a miss");
    vcache_free(d);
    int puts = fake_puts;
    sample(&got, REASON_REVOCATION_UNKNOWN, "CN=R");
    vcache_put(a, k, 1000, &got);
    ok(fake_puts == puts, "indeterminate results are not shared");
    result_free_doc(&got);
    char err[100];
    ok(result_from_json(x.p, x.len, &got, err, sizeof err) == 0 && got.natts == 1 &&
       got.sigs[0].docmdp == 2 && got.sigs[0].signer.not_after == 1800000000,
       "result_from_json reads what result_json_append_doc wrote");
    result_free_doc(&got);
    ok(result_from_json("{\"kind\":\"pdf\"}", 14, &got, err, sizeof err) < 0,
       "and refuses an incomplete result");
    buf_free(&x);
    result_free_doc(&r);
    vcache_free(a);
    vcache_free(b);
    vcache_free(other);
    free(fake_val);
}

int main(void)
{
    test_keys();
    test_cache();
    test_remote();
    return tap_done();
}
