/*
 * pdf-sig.c - find and check every signature of a PDF: the signature
 * dictionary of each signed field, its ByteRange (ours, byte-exact), the
 * CMS or time-stamp token over it (cms.c), and the changes made after the
 * signed revision (pdf-diff.c).  Defeats Universal Signature Forgery,
 * Incremental Saving and Signature Wrapping (Mladenov et al., CCS 2019) and
 * the Shadow attacks (Mainka et al., NDSS 2021) by requiring:
 *   - ByteRange = [0 a b c], four non-negative integers, the gap [a, b)
 *     being exactly one hex string, right after a /Contents key, decoding
 *     to this dictionary's /Contents, and b + c the end of a revision;
 *   - the signature dictionary to be part of the revision it signs;
 *   - every change after that revision to be an allowed one.
 * Document time-stamps are checked first: a valid one is the proof of
 * existence of every signature in the revisions it covers.  The OCSP
 * responses, CRLs and certificates of the DSS (PAdES B-LT) go to every
 * signature's check as embedded validation data.
 * Never prints; never repairs a file; a file it cannot read strictly is
 * malformed.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cms.h"
#include "pdf-rev.h"
#include "pdf-sig.h"
#include "verify.h"
#include <openssl/x509.h>
#include <zlib.h>

#define DSS_MAX_ITEMS 500           /* streams read from /DSS (Certs, OCSPs, CRLs) */
#define DOCTS_MAX 64                /* document time-stamps remembered for POE */

/* per-document state while checking signatures */
struct pdf_check {
    const kyso_verifier *v;
    const unsigned char *buf;
    size_t len;
    pdf_doc final;
    int certified_p;            /* DocMDP P of the certification signature, 0 if none */
    size_t nprefix;             /* parsed signed revisions, by end offset */
    size_t prefix_end[8];
    pdf_doc prefix[8];
    kyso_revdata dss;           /* /DSS /OCSPs and /CRLs */
    STACK_OF(X509) *dss_certs;  /* /DSS /Certs */
    int gens;                   /* -1 not known yet; else does the file define an
                                 * object of generation > 0 (pdf_diff_check) */
    size_t nts;                 /* valid document time-stamps: revision end, genTime */
    size_t ts_end[DOCTS_MAX];
    time_t ts_gen[DOCTS_MAX];
};

/* sig_fail - set the result of one signature to R with the line WHY;
 * returns R. */
static kyso_reason sig_fail(kyso_sig_result *s, kyso_reason r, const char *why)
{
    s->reason = r;
    result_set_detail(&s->detail, "%s", why);
    return r;
}

/* byterange_get - read /ByteRange of SIG into br[4]: 0, or -1 when it is
 * not an array of exactly four non-negative integers. */
static int byterange_get(pdf_doc *d, qpdf_oh sig, long long br[4])
{
    qpdf_oh a = pdf_get(d->q, sig, "/ByteRange");
    if (!qpdf_oh_is_array(d->q, a) || qpdf_oh_get_array_n_items(d->q, a) != 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        qpdf_oh x = qpdf_oh_get_array_item(d->q, a, i);
        if (!qpdf_oh_is_integer(d->q, x))
            return -1;
        br[i] = qpdf_oh_get_int_value(d->q, x);
        if (br[i] < 0)
            return -1;
    }
    return 0;
}

/* hexval - value of hex digit C, or -1. */
static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* gap_follows_contents_key - is the token before offset A "/Contents"? */
static int gap_follows_contents_key(const unsigned char *buf, size_t a)
{
    size_t i = a;
    while (i > 0 && (buf[i - 1] == ' ' || buf[i - 1] == '\r' || buf[i - 1] == '\n' ||
                     buf[i - 1] == '\t' || buf[i - 1] == '\f' || buf[i - 1] == '\0'))
        i--;
    return i >= 9 && memcmp(buf + i - 9, "/Contents", 9) == 0;
}

/* gap_matches_contents - is BUF[a, b) "<hex>" decoding to exactly C (N bytes)? */
static int gap_matches_contents(const unsigned char *buf, size_t a, size_t b,
                                const unsigned char *c, size_t n)
{
    if (b - a < 2 || buf[a] != '<' || buf[b - 1] != '>')
        return 0;
    size_t digits = b - a - 2;
    if (digits % 2 != 0 || digits / 2 != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(buf[a + 1 + 2 * i]), lo = hexval(buf[a + 2 + 2 * i]);
        if (hi < 0 || lo < 0 || (unsigned char)(hi << 4 | lo) != c[i])
            return 0;
    }
    return 1;
}

/* pdf_date_to_iso - "D:20261123101500+07'00'" to "2026-11-23T10:15:00+07:00". */
static void pdf_date_to_iso(const char *m, char *out, size_t outlen)
{
    int Y = 0, M = 1, D = 1, h = 0, mi = 0, s = 0, oh = 0, om = 0;
    char tz = 'Z';
    if (strncmp(m, "D:", 2) == 0)
        m += 2;
    int n = sscanf(m, "%4d%2d%2d%2d%2d%2d%c%2d'%2d", &Y, &M, &D, &h, &mi, &s, &tz, &oh, &om);
    if (n < 1 || Y < 1000)
        return;
    if (tz == '+' || tz == '-')
        snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", Y, M, D, h, mi, s,
                 tz, oh, om);
    else
        snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", Y, M, D, h, mi, s);
}

/* check_prefix - the parsed signed revision ending at END (cached), or NULL
 * with err filled when it does not parse. */
static pdf_doc *check_prefix(struct pdf_check *c, size_t end, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nprefix; i++)
        if (c->prefix_end[i] == end)
            return &c->prefix[i];
    if (c->nprefix == sizeof c->prefix_end / sizeof c->prefix_end[0]) {
        pdf_doc_close(&c->prefix[0]);
        memmove(c->prefix, c->prefix + 1, (c->nprefix - 1) * sizeof c->prefix[0]);
        memmove(c->prefix_end, c->prefix_end + 1, (c->nprefix - 1) * sizeof c->prefix_end[0]);
        c->nprefix--;
    }
    pdf_doc *d = &c->prefix[c->nprefix];
    if (pdf_doc_open(d, c->buf, end, c->v->lim.max_pdf_objects, err, errlen) < 0)
        return NULL;
    c->prefix_end[c->nprefix++] = end;
    return d;
}

/* same_sig_in_prefix - does the signed revision S hold this signature
 * dictionary (by object id, or through field FID) with the same
 * /ByteRange and /Contents?  1 yes, 0 no. */
static int same_sig_in_prefix(struct pdf_check *c, pdf_doc *s, qpdf_oh sig, int fid)
{
    pdf_doc *f = &c->final;
    qpdf_oh ssig;
    if (qpdf_oh_is_indirect(f->q, sig)) {
        ssig = qpdf_get_object_by_id(s->q, qpdf_oh_get_object_id(f->q, sig),
                                     qpdf_oh_get_generation(f->q, sig));
    } else if (fid > 0) {
        ssig = pdf_get(s->q, qpdf_get_object_by_id(s->q, fid, 0), "/V");
    } else {
        return 0;
    }
    if (!qpdf_oh_is_dictionary(s->q, ssig))
        return 0;
    static const char *const keys[] = {"/ByteRange", "/Contents", "/SubFilter"};
    for (size_t i = 0; i < 3; i++) {
        char *a = strdup(qpdf_oh_unparse(f->q, pdf_get(f->q, sig, keys[i])));
        const char *b = qpdf_oh_unparse(s->q, pdf_get(s->q, ssig, keys[i]));
        int same = a && strcmp(a, b) == 0;
        free(a);
        if (!same)
            return 0;
    }
    return 1;
}

/* check_byterange - structural checks of /ByteRange against /Contents.
 * Fills spans; returns REASON_OK or the failure (set in out). */
static kyso_reason check_byterange(struct pdf_check *c, qpdf_oh sig,
                                   const unsigned char *contents, size_t clen,
                                   kyso_span spans[2], size_t *end, kyso_sig_result *out)
{
    long long br[4];
    if (byterange_get(&c->final, sig, br) < 0)
        return sig_fail(out, REASON_BAD_BYTERANGE,
                        "/ByteRange is not an array of four non-negative integers");
    unsigned long long a = (unsigned long long)br[1], b = (unsigned long long)br[2],
                       l2 = (unsigned long long)br[3];
    if (br[0] != 0 || a == 0 || b <= a || l2 > c->len || b > c->len - l2)
        return sig_fail(out, REASON_BAD_BYTERANGE,
                        "/ByteRange does not start at 0 or runs outside the file");
    if (!gap_follows_contents_key(c->buf, a) ||
        !gap_matches_contents(c->buf, a, b, contents, clen))
        return sig_fail(out, REASON_BAD_BYTERANGE,
                        "the unsigned gap of /ByteRange is not exactly this /Contents");
    *end = b + l2;
    if (!pdf_rev_is_end(c->buf, c->len, *end))
        return sig_fail(out, REASON_BAD_BYTERANGE,
                        "/ByteRange does not end at the end of a revision");
    spans[0].p = c->buf;
    spans[0].len = a;
    spans[1].p = c->buf + b;
    spans[1].len = l2;
    return REASON_OK;
}

/* doc_poe - the earliest genTime of a valid document time-stamp covering
 * the revision that ends at END, or 0. */
static time_t doc_poe(const struct pdf_check *c, size_t end)
{
    time_t poe = 0;
    for (size_t i = 0; i < c->nts; i++)
        if (c->ts_end[i] >= end && (poe == 0 || c->ts_gen[i] < poe))
            poe = c->ts_gen[i];
    return poe;
}

/* check_crypto - verify the signature value by SubFilter; END is where
 * its revision ends.  A valid document time-stamp is remembered. */
static kyso_reason check_crypto(struct pdf_check *c, const char *subfilter,
                                const unsigned char *der, size_t derlen,
                                const kyso_span spans[2], size_t end, kyso_sig_result *out)
{
    cms_verify_opts o = { doc_poe(c, end), &c->dss, c->dss_certs };
    if (strcmp(subfilter, "/adbe.pkcs7.detached") == 0 ||
        strcmp(subfilter, "/ETSI.CAdES.detached") == 0)
        return cms_verify_detached_ex(c->v, der, derlen, spans, 2, CMSV_ONE_SIGNER, &o, out);
    if (strcmp(subfilter, "/ETSI.RFC3161") == 0) {
        time_t gen = 0;
        kyso_reason r = cms_verify_timestamp_ex(c->v, der, derlen, spans, 2, &o, out, &gen);
        if (r == REASON_OK && gen && c->nts < DOCTS_MAX) {
            c->ts_end[c->nts] = end;
            c->ts_gen[c->nts++] = gen;
        }
        return r;
    }
    if (strcmp(subfilter, "/adbe.pkcs7.sha1") == 0 ||
        strcmp(subfilter, "/adbe.x509.rsa_sha1") == 0) {
        cms_describe_signer(c->v, der, derlen, out);
        result_set_detail(&out->detail, "SubFilter %s relies on SHA-1", subfilter + 1);
        return out->reason = REASON_WEAK_ALGORITHM;
    }
    result_set_detail(&out->detail, "unknown SubFilter %s", subfilter);
    return out->reason = REASON_MALFORMED;
}

/* integrity_failed - did R already say the signed bytes cannot be
 * trusted?  Such reasons outrank what later revisions changed. */
static int integrity_failed(kyso_reason r)
{
    return r == REASON_MALFORMED || r == REASON_BAD_BYTERANGE || r == REASON_DIGEST_MISMATCH ||
           r == REASON_BAD_SIGNATURE || r == REASON_INTERNAL_ERROR;
}

/* check_changes - are the revisions after END allowed for this signature? */
static kyso_reason check_changes(struct pdf_check *c, qpdf_oh sig, int fid, size_t end,
                                 kyso_reason r, kyso_sig_result *out)
{
    char err[512] = "";
    if (end == c->len)
        return r;   /* the signed revision is the document itself */
    pdf_doc *s = check_prefix(c, end, err, sizeof err);
    if (s == NULL)
    {
        result_set_detail(&out->detail, "the signed revision does not parse: %s", err);
        return out->reason = REASON_BAD_BYTERANGE;
    }
    if (!same_sig_in_prefix(c, s, sig, fid))
        return sig_fail(out, REASON_BAD_BYTERANGE,
                        "the signature dictionary is not part of the revision it signs");
    long num, gen;
    if (pdf_rev_find_generation(c->buf, end, c->len, &num, &gen)) {
        result_set_detail(&out->detail, "an update after signing uses generation %ld "
                          "(object %ld): viewers that ignore generations see other content",
                          gen, num);
        return out->reason = REASON_MODIFIED_AFTER_SIGNING;
    }
    int p = c->certified_p ? c->certified_p : 2;
    if (c->gens < 0)
        c->gens = pdf_rev_find_generation(c->buf, 0, c->len, &num, &gen);
    int rc = pdf_diff_check(s, &c->final, p, c->v->lim.max_pdf_nesting, c->gens, err,
                            sizeof err);
    if (rc < 0) {
        result_set_detail(&out->detail, "cannot compare revisions: %s", err);
        return out->reason = REASON_MALFORMED;
    }
    if (rc > 0)
        return sig_fail(out, REASON_MODIFIED_AFTER_SIGNING, err);
    return r;
}

/* set_coverage - "whole" or "revision i of n". */
static void set_coverage(struct pdf_check *c, size_t end, kyso_sig_result *out)
{
    size_t total;
    if (end == c->len) {
        result_set_detail(&out->coverage, "whole");
    } else {
        size_t i = pdf_rev_count(c->buf, c->len, end, &total);
        result_set_detail(&out->coverage, "revision %zu of %zu", i, total);
    }
}

/* check_one - check the signature held by field F; returns its reason. */
static kyso_reason check_one(struct pdf_check *c, const pdf_field *f, kyso_sig_result *out)
{
    pdf_doc *d = &c->final;
    qpdf_oh sig = pdf_get(d->q, f->oh, "/V");
    out->field = f->name ? strdup(f->name) : NULL;
    if (!qpdf_oh_is_dictionary(d->q, sig))
        return sig_fail(out, REASON_MALFORMED, "the signature value is not a dictionary");
    qpdf_oh sf = pdf_get(d->q, sig, "/SubFilter");
    if (!qpdf_oh_is_name(d->q, sf))
        return sig_fail(out, REASON_MALFORMED, "the signature has no /SubFilter");
    const char *subfilter = qpdf_oh_get_name(d->q, sf);
    out->subfilter = strdup(subfilter + 1);
    char subf[128];
    snprintf(subf, sizeof subf, "%s", subfilter);
    out->docmdp = pdf_sig_docmdp(d, sig);
    qpdf_oh m = pdf_get(d->q, sig, "/M");
    char mtime[40] = "";
    if (qpdf_oh_is_string(d->q, m))
        pdf_date_to_iso(qpdf_oh_get_utf8_value(d->q, m), mtime, sizeof mtime);
    qpdf_oh co = pdf_get(d->q, sig, "/Contents");
    if (!qpdf_oh_is_string(d->q, co))
        return sig_fail(out, REASON_MALFORMED, "the signature has no /Contents string");
    size_t clen = 0;
    const char *cv = qpdf_oh_get_binary_string_value(d->q, co, &clen);
    if (clen == 0)
        return sig_fail(out, REASON_MALFORMED, "the signature has an empty /Contents");
    unsigned char *contents = malloc(clen ? clen : 1);
    if (contents == NULL)
        return sig_fail(out, REASON_INTERNAL_ERROR, "out of memory");
    memcpy(contents, cv, clen);
    kyso_span spans[2];
    size_t end = 0;
    kyso_reason r = check_byterange(c, sig, contents, clen, spans, &end, out);
    if (r == REASON_OK) {
        set_coverage(c, end, out);
        r = check_crypto(c, subf, contents, clen, spans, end, out);
        /* the comparison of revisions costs time in the number of objects:
         * not spent on a signature already invalid (an untrusted certificate
         * anyone can make would otherwise buy it for free) */
        if (!integrity_failed(r) && reason_verdict(r) != VERDICT_INVALID)
            r = check_changes(c, sig, f->objid, end, r, out);
    }
    free(contents);
    out->reason = r;
    if (!out->signing_time[0])
        snprintf(out->signing_time, sizeof out->signing_time, "%s", mtime);
    return r;
}

/* is_doc_timestamp - does field F hold a /SubFilter /ETSI.RFC3161 value? */
static int is_doc_timestamp(struct pdf_check *c, const pdf_field *f)
{
    qpdf_data q = c->final.q;
    qpdf_oh sig = pdf_get(q, f->oh, "/V");
    return qpdf_oh_is_name_and_equals(q, pdf_get(q, sig, "/SubFilter"), "/ETSI.RFC3161");
}

/* dss_inflate - IN (LEN bytes of zlib data) inflated into *out (malloc'd),
 * at most MAX bytes.  0, or -1 when damaged, larger or out of memory. */
static int dss_inflate(const unsigned char *in, size_t len, size_t max,
                       unsigned char **out, size_t *outlen)
{
    z_stream z;
    unsigned char *buf;
    int rc;

    if (len > UINT_MAX || max >= UINT_MAX || (buf = malloc(max + 1)) == NULL)
        return -1;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        free(buf);
        return -1;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)(max + 1);
    rc = inflate(&z, Z_FINISH);
    *outlen = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END || *outlen > max) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* dss_stream_data - the data of stream OH, stored plain or with
 * /FlateDecode alone (no parameters), at most MAX bytes, into *out
 * (malloc'd).  0, or -1 for anything else: such an entry is skipped. */
static int dss_stream_data(pdf_doc *d, qpdf_oh oh, size_t max, unsigned char **out,
                           size_t *outlen)
{
    qpdf_data q = d->q;
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (!qpdf_oh_is_stream(q, oh))
        return -1;
    qpdf_oh f = pdf_get(q, oh, "/Filter");
    if (qpdf_oh_is_array(q, f) && qpdf_oh_get_array_n_items(q, f) == 1)
        f = qpdf_oh_get_array_item(q, f, 0);
    int flate = qpdf_oh_is_name_and_equals(q, f, "/FlateDecode");
    if ((!flate && !qpdf_oh_is_null(q, f)) || !qpdf_oh_is_null(q, pdf_get(q, oh, "/DecodeParms")))
        return -1;
    if (qpdf_oh_get_stream_data(q, oh, qpdf_dl_none, NULL, &raw, &rawlen) != QPDF_SUCCESS
        || raw == NULL) {
        free(raw);
        return -1;
    }
    if (flate) {
        int rc = dss_inflate(raw, rawlen, max, out, outlen);
        free(raw);
        return rc;
    }
    if (rawlen > max) {
        free(raw);
        return -1;
    }
    *out = raw;
    *outlen = rawlen;
    return 0;
}

/* dss_take - the streams of array KEY of DSS: certificates into
 * c->dss_certs (KIND 0), OCSP responses (1) or CRLs (2) into c->dss; at
 * most DSS_MAX_ITEMS in all (*budget counts down).  Entries that are not
 * such streams are skipped: they only help, and count only if they verify. */
static void dss_take(struct pdf_check *c, qpdf_oh dss, const char *key, int kind,
                     size_t *budget)
{
    qpdf_data q = c->final.q;
    qpdf_oh a = pdf_get(q, dss, key);
    int n = qpdf_oh_is_array(q, a) ? qpdf_oh_get_array_n_items(q, a) : 0;
    for (int i = 0; i < n && *budget > 0; i++, (*budget)--) {
        unsigned char *data = NULL;
        size_t len = 0;
        if (dss_stream_data(&c->final, qpdf_oh_get_array_item(q, a, i),
                            c->v->lim.max_cms_size, &data, &len) != 0)
            continue;
        if (kind > 0) {
            revdata_add(&c->dss, kind == 1, data, len);
        } else if (len <= LONG_MAX) {
            const unsigned char *p = data;
            X509 *x = d2i_X509(NULL, &p, (long)len);
            if (x != NULL && (p != data + len || !sk_X509_push(c->dss_certs, x)))
                X509_free(x);
        }
        free(data);
    }
}

/* dss_collect - the catalog's /DSS, when there is one, into c->dss and
 * c->dss_certs.  Never fails: what cannot be read is not there. */
static void dss_collect(struct pdf_check *c)
{
    qpdf_data q = c->final.q;
    qpdf_oh dss = pdf_get(q, qpdf_get_root(q), "/DSS");
    size_t budget = DSS_MAX_ITEMS;
    if (!qpdf_oh_is_dictionary(q, dss) || qpdf_oh_is_stream(q, dss))
        return;
    if (c->dss_certs == NULL && (c->dss_certs = sk_X509_new_null()) == NULL)
        return;
    dss_take(c, dss, "/Certs", 0, &budget);
    dss_take(c, dss, "/OCSPs", 1, &budget);
    dss_take(c, dss, "/CRLs", 2, &budget);
}

/* shared_values - two signed fields of FS with one signature dictionary
 * (/V) as their value: a signature vouches for one field, so each such
 * field's result (OUT's sigs, in FS order) becomes modified_after_signing
 * (a field added later borrowing a signature, with an appearance of its
 * own, would show a second "valid" signature). */
static void shared_values(struct pdf_check *c, const pdf_fields *fs, kyso_doc_result *out)
{
    qpdf_data q = c->final.q;
    int *vid = calloc(out->nsigs ? out->nsigs : 1, sizeof *vid);
    if (vid == NULL)
        return;
    for (size_t i = 0, k = 0; i < fs->n && k < out->nsigs; i++)
        if (fs->f[i].is_sig && fs->f[i].has_value)
            vid[k++] = qpdf_oh_get_object_id(q, pdf_get(q, fs->f[i].oh, "/V"));
    for (size_t k = 0; k < out->nsigs; k++)
        for (size_t j = 0; j < out->nsigs && vid[k] > 0; j++)
            if (j != k && vid[j] == vid[k] && !integrity_failed(out->sigs[k].reason)) {
                sig_fail(&out->sigs[k], REASON_MODIFIED_AFTER_SIGNING, "another signature "
                         "field has the same signature as its value: a signature vouches "
                         "for one field");
                break;
            }
    free(vid);
}

/* check_all - every signed field of the document, into out->sigs. */
static kyso_reason check_all(struct pdf_check *c, kyso_doc_result *out)
{
    char err[512] = "";
    pdf_fields fs;
    if (pdf_fields_collect(&c->final, c->v->lim.max_pdf_nesting, 4096, &fs, err, sizeof err) < 0) {
        result_set_detail(&out->detail, "%s", err);
        return REASON_MALFORMED;
    }
    c->certified_p = pdf_doc_certification(&c->final);
    size_t nsig = 0;
    kyso_reason r = REASON_OK;
    size_t tail = pdf_rev_tail(c->buf, c->len);
    for (size_t i = 0; i < fs.n && r == REASON_OK; i++) {
        if (!fs.f[i].is_sig || !fs.f[i].has_value)
            continue;
        if (++nsig > c->v->lim.max_signatures) {
            result_set_detail(&out->detail, "more than %zu signatures (limit)",
                              c->v->lim.max_signatures);
            r = REASON_LIMIT_EXCEEDED;
            break;
        }
        if (result_add_sig(out) == NULL)
            r = REASON_INTERNAL_ERROR;
    }
    if (r == REASON_OK && nsig > 0)
        dss_collect(c);
    /* document time-stamps first: they are the POE of what they cover */
    for (int pass = 0; r == REASON_OK && pass < 2; pass++)
        for (size_t i = 0, k = 0; i < fs.n && k < out->nsigs; i++) {
            if (!fs.f[i].is_sig || !fs.f[i].has_value)
                continue;
            if (is_doc_timestamp(c, &fs.f[i]) == !pass)
                check_one(c, &fs.f[i], &out->sigs[k]);
            k++;
        }
    if (r == REASON_OK)
        shared_values(c, &fs, out);
    pdf_fields_free(&fs);
    if (r == REASON_OK && nsig > 0 && tail > 0) {
        result_set_detail(&out->detail, "%zu bytes follow the last revision without a "
                          "cross-reference: content added after signing", tail);
        r = REASON_MODIFIED_AFTER_SIGNING;
        for (size_t i = 0; i < out->nsigs; i++)     /* it follows every signature */
            if (!integrity_failed(out->sigs[i].reason))
                sig_fail(&out->sigs[i], r, out->detail);
    }
    if (r == REASON_OK && nsig > 0 && pdf_doc_scan(&c->final, err, sizeof err) < 0) {
        result_set_detail(&out->detail, "%s", err);
        r = REASON_MALFORMED;
    }
    if (r == REASON_OK && pdf_doc_check(&c->final, err, sizeof err) < 0) {
        result_set_detail(&out->detail, "%s", err);
        r = REASON_MALFORMED;
    }
    return r;
}

kyso_reason pdf_sig_verify(const kyso_verifier *v, const unsigned char *buf,
                           size_t len, kyso_doc_result *out)
{
    struct pdf_check c = {.v = v, .buf = buf, .len = len, .gens = -1};
    char err[512] = "";
    out->kind = KIND_PDF;
    if (len > v->lim.max_doc_size) {
        result_set_detail(&out->detail, "file larger than %zu bytes (limit MaxDocumentSize)",
                          v->lim.max_doc_size);
        return out->reason = REASON_LIMIT_EXCEEDED;
    }
    if (len < 8 || memmem(buf, len < 1024 ? len : 1024, "%PDF-", 5) == NULL) {
        result_set_detail(&out->detail, "no %%PDF- header in the first 1024 bytes");
        return out->reason = REASON_MALFORMED;
    }
    int open = pdf_doc_open(&c.final, buf, len, v->lim.max_pdf_objects, err, sizeof err);
    if (open < 0) {
        result_set_detail(&out->detail, "%s", err);
        return out->reason = open == -2 ? REASON_LIMIT_EXCEEDED : REASON_MALFORMED;
    }
    kyso_reason r = check_all(&c, out);
    for (size_t i = 0; i < c.nprefix; i++)
        pdf_doc_close(&c.prefix[i]);
    pdf_doc_close(&c.final);
    revdata_free(&c.dss);
    sk_X509_pop_free(c.dss_certs, X509_free);
    out->reason = r;
    result_finish_doc(out);
    return out->reason;
}
