/*
 * kyso.c - the command line tool: "kyso verify ...", "kyso log ...",
 * "kyso report ...", "kyso sign ..." and "kyso reindex" for postmasters
 * and scripts.  Subcommands live in
 * cmd-*.c; this file only dispatches and prints usage.  Exit status 2 means a usage or I/O error.
 */
#include <stdio.h>
#include <string.h>
#include "cmd-log.h"
#include "cmd-reindex.h"
#include "cmd-report.h"
#include "cmd-sign.h"
#include "cmd-verify.h"

static void kyso_usage(FILE *fp)
{
    fputs("usage: kyso verify [--json] [--trust-anchors P] [--intermediates P] [--crl P]\n"
          "                   [--at TIME] [--content F] [--allow-missing-crl]\n"
          "                   [--class-rule 'FIELD PREFIX CLASS'] [--max-parts N]\n"
          "                   [--max-depth N] [--max-size BYTES] [--max-pdf-objects N]\n"
          "                   [--revocation ocsp,crl|crl,ocsp|ocsp|crl|none]\n"
          "                   [--ocsp-responders FILE] [--revocation-timeout MS]\n"
          "                   [--ocsp-tolerance S] [--crl-max-size BYTES] [--no-ocsp-nonce]\n"
          "                   FILE...\n"
          "       kyso log [-c CONFIG] [--store URI] [--limit N] [--since WHEN] [--until WHEN]\n"
          "                [--sender ADDR] [--rcpt ADDR] [--domain DOMAIN] [--action ACTION]\n"
          "                [--reason REASON] [--ref REF] [--json | --csv] [-f]\n"
          "       kyso log [-c CONFIG] [--store URI] [--json] show REF\n"
          "       kyso report [-c CONFIG | --store URI] [--org DOMAIN] [--since DATE]\n"
          "                   [--until DATE] [--year YYYY] [--csv | --html FILE]\n"
          "                   [--from-counters]\n"
          "       kyso sign [-c CONFIG] --key NAME [--attachment] [--doc-number TEXT]\n"
          "                 IN.pdf -o OUT.pdf   (or: -o DIR IN.pdf...)\n"
          "       kyso reindex [-c CONFIG | --store URI]\n"
          "       kyso help\n"
          "P is a PEM file or a folder of them; TIME is ISO 8601 (2026-11-23T10:00:00Z)\n"
          "or seconds since 1970.  Exit 0: every FILE valid; 1: some are not; 2: error.\n"
          "kyso log: exit 0 when something was printed, 1 when nothing matched, 2 on error.\n"
          "kyso report: exit 0 when written, 1 when no record was in the period, 2 on error.\n"
          "See kyso(1).\n", fp);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        kyso_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "log") == 0)
        return cmd_log(argc - 1, argv + 1);
    if (strcmp(argv[1], "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    if (strcmp(argv[1], "reindex") == 0)
        return cmd_reindex(argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        kyso_usage(stdout);
        return 0;
    }
    fprintf(stderr, "kyso: unknown command '%s'\n", argv[1]);
    kyso_usage(stderr);
    return 2;
}
