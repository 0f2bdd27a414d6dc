/*
 * fuzz_config.c - hookd.conf, through libinih and our handler, reader and validation.
 *
 * Properties: no crash or leak; a rejected file always gets a message that starts with the file
 * name; an accepted one has at least one endpoint, each with a scheme, and keys unless none.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 16384)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    char err[768] = "";
    config_defaults(&cfg);
    bool ok = config_load_stream(&cfg, f, "fuzz.conf", err, sizeof err);
    fclose(f);
    if (ok) {
        assert(cfg.nendpoints > 0 && cfg.nlisten > 0);
        for (size_t i = 0; i < cfg.nendpoints; i++)
            assert(cfg.endpoints[i].scheme_set
                   && (cfg.endpoints[i].scheme == HOOKD_SCHEME_NONE || cfg.endpoints[i].nkeys > 0));
    } else {
        assert(strncmp(err, "fuzz.conf", 9) == 0);
    }
    config_free(&cfg);
    return 0;
}
