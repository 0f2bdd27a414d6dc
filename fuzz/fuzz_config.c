/*
 * fuzz_config.c - hookd.conf, through libinih and our handler, reader and validation.
 *
 * Properties: no crash or leak; a rejected file always gets a message that starts with the file
 * name; an accepted one has at least one endpoint, each with a scheme, and keys unless none; and
 * no accepted value holds the bytes the reader uses to keep libinih from cutting at " ;" (they
 * are put back, or the value is refused).
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static config cfg;

static void no_marks(const char *s)
{
    assert(s == NULL || strpbrk(s, "\x1e\x1f") == NULL);
}

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
        for (size_t i = 0; i < cfg.nendpoints; i++)
            no_marks(cfg.endpoints[i].bearer);
        for (size_t i = 0; i < cfg.nhandlers; i++) {
            for (size_t k = 0; cfg.handlers[i].argv[k] != NULL; k++)
                no_marks(cfg.handlers[i].argv[k]);
            no_marks(cfg.handlers[i].url);
        }
    } else {
        assert(strncmp(err, "fuzz.conf", 9) == 0);
    }
    config_free(&cfg);
    return 0;
}
