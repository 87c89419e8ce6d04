/*
 * cmd-store.h - how the command line tools (kyso log, kyso report, kyso
 * reindex) find and open the store: --store URI, or the Store key of the
 * daemon's configuration.  Readers open it read-only, so that they never
 * create files (a root-owned decisions.jsonl the daemon could not write)
 * or a spool; only kyso reindex, which writes Redis indexes, does not.
 */
#ifndef KYSO_CMD_STORE_H
#define KYSO_CMD_STORE_H

#include "store.h"

/* The daemon's configuration file, where the tools look without -c. */
#define CMD_DEFAULT_CONFIG "/etc/kyso/kyso-milter.conf"

enum { CMD_STORE_READ, CMD_STORE_WRITE };

/* cmd_open_store - the store named by STORE_URI, or when it is NULL by the
 * Store key of the configuration file CONFIG, opened read-only unless MODE
 * is CMD_STORE_WRITE.  Returns it, or NULL after printing why on standard
 * error, prefixed "PROG: ". */
kyso_store *cmd_open_store(const char *prog, const char *config, const char *store_uri,
                           int mode);

#endif
