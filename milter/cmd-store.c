/*
 * cmd-store.c - opening the store for a command line reader (see
 * cmd-store.h).  Read-only is asked with the "ro" option every backend
 * understands; the option is ours, so it is taken out of error messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd-store.h"
#include "config.h"

kyso_store *cmd_open_store(const char *prog, const char *config, const char *store_uri,
                           int mode)
{
    char err[1024];
    kyso_config *cfg = NULL;
    const char *uri = store_uri;
    if (uri == NULL) {
        if ((cfg = config_load(config, err, sizeof err)) == NULL) {
            fprintf(stderr, "%s: %s\n(give the store with --store URI, "
                    "e.g. --store file:/var/lib/kyso)\n", prog, err);
            return NULL;
        }
        uri = cfg->store;
    }
    char *ro = NULL;
    if (mode != CMD_STORE_WRITE && asprintf(&ro, "%s%cro", uri, strchr(uri, '?') ? '&' : '?') < 0)
        ro = NULL;
    kyso_store *s = store_open(ro ? ro : uri, err, sizeof err);
    char *mark = ro && s == NULL ? strstr(err, "?ro:") : NULL;
    if (mark != NULL)
        memmove(mark, mark + 3, strlen(mark + 3) + 1);
    if (s == NULL)
        fprintf(stderr, "%s: %s\n", prog, err);
    free(ro);
    config_free(cfg);
    return s;
}
