/*
 * harness.h - the one kyso_verifier every libFuzzer target of
 * tests/fuzz shares: built once per process, never freed, with limits small
 * enough that each input runs in milliseconds.  Trust material comes from
 * the environment so that a campaign can reach the chain and revocation
 * code: KYSO_FUZZ_ANCHORS (PEM file or folder of trust anchors),
 * KYSO_FUZZ_INTERMEDIATES and KYSO_FUZZ_CRL (same, optional).  Without
 * them the store is empty and every chain is untrusted.
 *
 * Must never be included by anything but a fuzz target: it aborts the
 * process on a setup error, which only a harness may do.
 */
#ifndef KYSO_FUZZ_HARNESS_H
#define KYSO_FUZZ_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "trust.h"
#include "verifier.h"

/* fuzz_load - add the PEM objects named by environment variable VAR to
 * V's trust store with ADD; nothing when VAR is unset or empty.  Aborts
 * the process (a harness error, not a finding) when loading fails. */
static void fuzz_load(kyso_verifier *v, const char *var,
                      int (*add)(kyso_trust *, const char *, char *, size_t))
{
    const char *path = getenv(var);
    char err[512];

    if (path == NULL || *path == '\0')
        return;
    if (add(v->trust, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz: %s=%s: %s\n", var, path, err);
        abort();
    }
}

/* fuzz_verifier - the shared verifier, built on the first call: defaults
 * from verifier_init, then small limits, a validation time fixed at
 * start-up (one run gives one verdict per input), trust from the
 * environment.  Never returns NULL: aborts when out of memory. */
static const kyso_verifier *fuzz_verifier(void)
{
    static kyso_verifier v;
    static int ready;

    if (ready)
        return &v;
    if (verifier_init(&v) != 0) {
        fprintf(stderr, "fuzz: verifier_init failed\n");
        abort();
    }
    v.lim.max_doc_size = 4u << 20;
    v.lim.max_message_size = 4u << 20;
    v.lim.max_parts = 64;
    v.lim.max_depth = 8;
    v.lim.max_pdf_objects = 20000;
    v.lim.max_signatures = 8;
    v.lim.max_cms_size = 256u << 10;
    v.lim.max_cms_certs = 16;
    v.lim.max_pdf_nesting = 16;
    v.at = time(NULL);
    fuzz_load(&v, "KYSO_FUZZ_ANCHORS", trust_add_anchors);
    fuzz_load(&v, "KYSO_FUZZ_INTERMEDIATES", trust_add_intermediates);
    fuzz_load(&v, "KYSO_FUZZ_CRL", trust_add_crls);
    ready = 1;
    return &v;
}

#endif
