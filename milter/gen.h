/*
 * gen.h - configuration generations: everything built from one reading of
 * the configuration file (config, verifier, store), shared read-only by the
 * messages that started under it.  A reload builds a whole new generation
 * and swaps it in only when it is complete; a message keeps the generation
 * it started with until it ends.
 */
#ifndef KYSO_GEN_H
#define KYSO_GEN_H

#include <stddef.h>
#include "config.h"
#include "signset.h"
#include "store.h"
#include "verifier.h"

typedef struct kyso_gen {
    kyso_config *cfg;
    kyso_verifier v;
    kyso_store *store;          /* NULL until gen_open_store */
    signset *ss;                /* the organisation keys (empty without SignerTable) */
    unsigned long id;           /* 1, 2, ...: which generation */
    int refs;                   /* guarded by the generation lock */
} kyso_gen;

/* gen_load - read PATH and build config, verifier and the organisation
 * keys (each checked against its certificate; an absent token is logged
 * as a warning, a wrong PIN or a foreign certificate is an error).  Returns the new
 * generation (not current yet, one reference held by the caller), or NULL
 * with "FILE:LINE: reason" in err. */
kyso_gen *gen_load(const char *path, char *err, size_t errlen);

/* gen_open_store - open the store of G (done after privileges are
 * dropped, so that files are created by the daemon user).  0, or -1 with
 * err. */
int gen_open_store(kyso_gen *g, char *err, size_t errlen);

/* gen_install - make G current; the caller's reference passes to the
 * generation table.  The old generation is freed when its last message
 * ends (then in a thread of its own).  gen_install(NULL) at exit frees the
 * last one in the caller when no message holds it, so that its store
 * flushes before the process ends. */
void gen_install(kyso_gen *g);

/* gen_acquire - the current generation with one more reference, or NULL
 * before the first gen_install. */
kyso_gen *gen_acquire(void);

/* gen_release - drop one reference; when it was the last and G is no
 * longer current, G is freed in a thread of its own.  NULL is fine. */
void gen_release(kyso_gen *g);

/* gen_active - messages in flight (references held by messages). */
int gen_active(void);

#endif
