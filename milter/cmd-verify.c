/*
 * cmd-verify.c - "kyso verify": verify PDFs, detached or attached CMS and
 * whole messages, and print one result per file, as a table for people or
 * as one JSON object per line (--json) for scripts.  The contract (options,
 * JSON fields, exit status) is in DESIGN.md and kyso(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cert-class.h"
#include "ocsp.h"
#include "trust.h"
#include "verify.h"

/* parse_time - ISO 8601 "YYYY-MM-DDTHH:MM:SSZ" (or +hh:mm) or epoch seconds;
 * returns 0 and sets *t, or -1. */
static int parse_time(const char *s, time_t *t)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*end == '\0' && n > 0) {
        *t = (time_t)n;
        return 0;
    }
    struct tm tm = {0};
    int oh = 0, om = 0;
    char sign = 'Z';
    int k = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%2d:%2d", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &sign, &oh, &om);
    if (k < 3)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t base = timegm(&tm);
    int off = (oh * 3600 + om * 60) * (sign == '-' ? -1 : sign == '+' ? 1 : 0);
    *t = base - off;
    return 0;
}

/* print_sig_line - one indented line per signature of the table output. */
static void print_sig_line(const kyso_sig_result *s, int indent)
{
    printf("%*s- %s%s%s: %s (%s)", indent, "", s->field ? "field " : "",
           s->field ? s->field : "", s->field ? "" : "signature",
           verdict_name(reason_verdict(s->reason)), reason_name(s->reason));
    if (s->signer.subject)
        printf(", signer %s [%s]", s->signer.subject, cert_class_name(s->signer.cls));
    if (s->signing_time[0])
        printf(", signed %s", s->signing_time);
    if (s->timestamp_time[0])
        printf(", time-stamped %s", s->timestamp_time);
    if (s->poe_time[0] && strcmp(s->poe_time, s->timestamp_time) != 0)
        printf(", existed by %s", s->poe_time);
    if (s->coverage)
        printf(", covers %s", s->coverage);
    if (s->subfilter)
        printf(", %s", s->subfilter);
    printf("\n");
    if (s->reason != REASON_OK)
        printf("%*s  %s / %s%s%s\n", indent, "", reason_text_vi(s->reason),
               reason_text_en(s->reason), s->detail ? " - " : "", s->detail ? s->detail : "");
    if (s->warning)
        printf("%*s  warning: %s\n", indent, "", s->warning);
}

/* print_doc - the table form of one result, nested for attachments. */
static void print_doc(const kyso_doc_result *d, const char *label, int indent)
{
    printf("%*s%s: %s (%s) [%s]\n", indent, "", label, verdict_name(reason_verdict(d->reason)),
           reason_name(d->reason), kind_name(d->kind));
    if (d->detail)
        printf("%*s  %s / %s - %s\n", indent, "", reason_text_vi(d->reason),
               reason_text_en(d->reason), d->detail);
    else if (d->nsigs == 0 && d->reason != REASON_OK && d->natts == 0)
        printf("%*s  %s / %s\n", indent, "", reason_text_vi(d->reason), reason_text_en(d->reason));
    for (size_t i = 0; i < d->nsigs; i++)
        print_sig_line(&d->sigs[i], indent + 2);
    for (size_t i = 0; i < d->natts; i++)
        print_doc(&d->atts[i], d->atts[i].name ? d->atts[i].name : "(attachment)", indent + 2);
}

struct verify_opts {
    int json;
    const char *content;
};

/* load_trust - apply one trust option; returns 0 or -1 after printing. */
static int load_trust(kyso_verifier *v, int opt, const char *path)
{
    char err[512];
    int n = opt == 'a' ? trust_add_anchors(v->trust, path, err, sizeof err)
          : opt == 'i' ? trust_add_intermediates(v->trust, path, err, sizeof err)
                       : trust_add_crls(v->trust, path, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "kyso verify: %s\n", err);
        return -1;
    }
    return 0;
}

/* add_class_rule - "--class-rule 'FIELD PREFIX CLASS'"; 0, or -1 after printing. */
static int add_class_rule(kyso_verifier *v, const char *arg)
{
    char field[16], prefix[128], cls[16], err[256];
    if (sscanf(arg, "%15s %127s %15s", field, prefix, cls) != 3) {
        fprintf(stderr, "kyso verify: --class-rule '%s': want 'FIELD PREFIX CLASS', "
                "e.g. 'uid MST: organisation'\n", arg);
        return -1;
    }
    if (v->classes == NULL && (v->classes = class_rules_default()) == NULL) {
        fprintf(stderr, "kyso verify: out of memory\n");
        return -1;
    }
    if (class_rules_add(v->classes, field, prefix, cls, err, sizeof err) < 0) {
        fprintf(stderr, "kyso verify: --class-rule '%s': %s\n", arg, err);
        return -1;
    }
    return 0;
}

/* parse_limit - a positive count for a limit option; 0, or -1 after printing. */
static int parse_limit(const char *opt, const char *arg, size_t *out)
{
    char *end;
    unsigned long long n = strtoull(arg, &end, 10);
    if (*end != '\0' || n == 0 || arg[0] == '-') {
        fprintf(stderr, "kyso verify: --%s %s: want a positive whole number\n", opt, arg);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

/* parse_revocation - "--revocation ocsp,crl|crl,ocsp|crl|ocsp|none" into
 * v->rev.order (none: no check at all); 0, or -1 after printing. */
static int parse_revocation(kyso_verifier *v, const char *arg)
{
    static const struct { const char *name; kyso_rev_source o[3]; } modes[] = {
        { "ocsp,crl", { REVSRC_OCSP, REVSRC_CRL, REVSRC_END } },
        { "crl,ocsp", { REVSRC_CRL, REVSRC_OCSP, REVSRC_END } },
        { "crl", { REVSRC_CRL, REVSRC_END, REVSRC_END } },
        { "ocsp", { REVSRC_OCSP, REVSRC_END, REVSRC_END } },
        { "none", { REVSRC_END, REVSRC_END, REVSRC_END } },
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(arg, modes[i].name) == 0) {
            memcpy(v->rev.order, modes[i].o, sizeof v->rev.order);
            if (strcmp(arg, "none") == 0)
                v->rev_missing = REVMISSING_IGNORE;
            return 0;
        }
    fprintf(stderr, "kyso verify: --revocation %s: use ocsp,crl, crl,ocsp, crl, ocsp "
            "or none\n", arg);
    return -1;
}

/* load_responders - "--ocsp-responders FILE"; 0, or -1 after printing. */
static int load_responders(kyso_verifier *v, const char *path)
{
    char err[512];
    kyso_ocsp_table *t = ocsp_table_load(path, err, sizeof err);
    if (t == NULL) {
        fprintf(stderr, "kyso verify: --ocsp-responders %s\n", err);
        return -1;
    }
    ocsp_table_free(v->rev.responders);
    v->rev.responders = t;
    return 0;
}

/* parse_revocation_opt - the revocation options of parse_opts; 0, or -1
 * after printing. */
static int parse_revocation_opt(kyso_verifier *v, int c, const char *arg)
{
    size_t n;
    switch (c) {
    case 'r': return parse_revocation(v, arg);
    case 'O': return load_responders(v, arg);
    case 'N': v->rev.nonce = 0; return 0;
    case 'T':
        if (parse_limit("revocation-timeout", arg, &n) < 0)
            return -1;
        v->rev.timeout_ms = (long)n;
        return 0;
    case 'L':
        if (strcmp(arg, "0") != 0 && parse_limit("ocsp-tolerance", arg, &n) < 0)
            return -1;
        v->rev.tolerance = strcmp(arg, "0") == 0 ? 0 : (long)n;
        return 0;
    default:
        return parse_limit("crl-max-size", arg, &v->rev.crl_max_size);
    }
}

/* parse_opts - options into V and O; returns optind, or -1 after printing. */
static int parse_opts(int argc, char **argv, kyso_verifier *v, struct verify_opts *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"trust-anchors", required_argument, NULL, 'a'},
        {"intermediates", required_argument, NULL, 'i'},
        {"crl", required_argument, NULL, 'c'},
        {"at", required_argument, NULL, 't'},
        {"content", required_argument, NULL, 'C'},
        {"allow-missing-crl", no_argument, NULL, 'M'},
        {"class-rule", required_argument, NULL, 'R'},
        {"max-parts", required_argument, NULL, 'P'},
        {"max-depth", required_argument, NULL, 'D'},
        {"max-size", required_argument, NULL, 'S'},
        {"max-pdf-objects", required_argument, NULL, 'J'},
        {"revocation", required_argument, NULL, 'r'},
        {"ocsp-responders", required_argument, NULL, 'O'},
        {"revocation-timeout", required_argument, NULL, 'T'},
        {"ocsp-tolerance", required_argument, NULL, 'L'},
        {"crl-max-size", required_argument, NULL, 'X'},
        {"no-ocsp-nonce", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0}
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = 1; break;
        case 'a': case 'i': case 'c':
            if (load_trust(v, c, optarg) < 0)
                return -1;
            break;
        case 't':
            if (parse_time(optarg, &v->at) < 0) {
                fprintf(stderr, "kyso verify: --at %s: not a time (2026-11-23T10:00:00Z)\n", optarg);
                return -1;
            }
            break;
        case 'C': o->content = optarg; break;
        case 'M': v->rev_missing = REVMISSING_IGNORE; break;
        case 'R':
            if (add_class_rule(v, optarg) < 0)
                return -1;
            break;
        case 'P':
            if (parse_limit("max-parts", optarg, &v->lim.max_parts) < 0)
                return -1;
            break;
        case 'D':
            if (parse_limit("max-depth", optarg, &v->lim.max_depth) < 0)
                return -1;
            break;
        case 'S':
            if (parse_limit("max-size", optarg, &v->lim.max_doc_size) < 0)
                return -1;
            break;
        case 'J':
            if (parse_limit("max-pdf-objects", optarg, &v->lim.max_pdf_objects) < 0)
                return -1;
            break;
        case 'r': case 'O': case 'T': case 'L': case 'X': case 'N':
            if (parse_revocation_opt(v, c, optarg) < 0)
                return -1;
            break;
        default: return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "kyso verify: no FILE given (kyso help)\n");
        return -1;
    }
    return optind;
}

int cmd_verify(int argc, char **argv)
{
    kyso_verifier v;
    struct verify_opts o = {0};
    if (verifier_init(&v) < 0) {
        fprintf(stderr, "kyso verify: out of memory\n");
        return 2;
    }
    int first = parse_opts(argc, argv, &v, &o);
    if (first < 0) {
        verifier_free(&v);
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; i++) {
        kyso_doc_result d;
        char err[512];
        if (verify_file(&v, argv[i], o.content, &d, err, sizeof err) < 0) {
            fprintf(stderr, "kyso verify: %s\n", err);
            status = 2;
            continue;
        }
        kyso_verdict vd = reason_verdict(d.reason);
        if (vd != VERDICT_VALID && vd != VERDICT_NONE && status == 0)
            status = 1;
        if (o.json) {
            char *js = result_to_json(&d, argv[i]);
            printf("%s\n", js ? js : "{}");
            free(js);
        } else {
            print_doc(&d, argv[i], 0);
        }
        result_free_doc(&d);
    }
    verifier_free(&v);
    return status;
}
