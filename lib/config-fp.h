/*
 * config-fp.h - the fingerprint of a verification configuration: what a
 * verification result depends on besides the document (the trust anchors,
 * intermediates and CRLs, the certificate-class rules, the verifier's
 * limits and algorithm policy, this version).  Two gateways configured
 * alike get the same fingerprint, so they can share cached results (the
 * shared tier of lib/vcache.h); any change gives another one.  Never prints.
 */
#ifndef KYSO_CONFIG_FP_H
#define KYSO_CONFIG_FP_H

#include <stddef.h>
#include "config.h"

#define CONFIG_FP_HEX 65        /* 64 hex digits and a NUL */

/* config_fp - the fingerprint of C (as loaded) and V (built from it) as
 * hex into HEX.  The trust files are read again: a file's content counts,
 * not its name, and a folder counts as the set of its files' contents.
 * Returns 0, or -1 with err when a file cannot be read (then nothing
 * should be shared). */
int config_fp(const kyso_config *c, const kyso_verifier *v, char hex[CONFIG_FP_HEX],
              char *err, size_t errlen);

#endif
