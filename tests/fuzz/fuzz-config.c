/*
 * fuzz-config.c - libFuzzer target for the configuration parser
 * (lib/config.c): any bytes as a kyso-milter.conf must load or give an
 * error with a file and line, never crash, hang or leak.  The input goes
 * to a private temporary file because config_load reads a path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/kyso-fuzz-config.%ld", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char err[512];
    kyso_config *c = config_load(path, err, sizeof err);
    config_free(c);
    unlink(path);
    return 0;
}
