/*
 * cmd-store.h - how the command line tools (kyso log, kyso report) find and
 * open the store: --store URI, or the Store key of the daemon's
 * configuration; always read-only, so that a reader never creates files
 * (a root-owned decisions.jsonl the daemon could not write) or a spool.
 */
#ifndef KYSO_CMD_STORE_H
#define KYSO_CMD_STORE_H

#include "store.h"

/* cmd_open_store - the store named by STORE_URI, or when it is NULL by the
 * Store key of the configuration file CONFIG, opened read-only.  Returns
 * it, or NULL after printing why on standard error, prefixed "PROG: ". */
kyso_store *cmd_open_store(const char *prog, const char *config, const char *store_uri);

#endif
