/*
 * fuzz_console.c - what the console parses from a client before it knows who is asking: the
 * sign-in form (console_form_field), text shown through the API (console_utf8_valid), and time
 * parameters (config_parse_time: since=, until=).
 *
 * Properties: no crash, no read past the input; a decoded field is NUL-terminated within its
 * buffer and never longer than the input; the UTF-8 check agrees with jansson's (which refuses
 * exactly what is not UTF-8); a parsed time is never a value of an age's multiplication overflow.
 */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "console.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    char out[64];
    memset(out, 'x', sizeof out);
    if (console_form_field(text, "token", out, sizeof out))
        assert(strlen(out) < sizeof out && strlen(out) <= size);

    json_t *j = json_stringn((const char *)data, size);
    assert(console_utf8_valid((const char *)data, size) == (j != NULL));
    json_decref(j);

    int64_t us = 0;
    if (config_parse_time(text, 1764300000, &us))
        assert(us > INT64_MIN);
    free(text);
    return 0;
}
