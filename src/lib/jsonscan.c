/*
 * jsonscan.c - how deep does this JSON nest? A bounded scan, before any parser builds anything.
 *
 * jansson's own depth limit is fixed at build time (2048), far deeper than any webhook, and a deep
 * document costs memory before it is refused. This scan follows only strings (with their escapes)
 * and brackets, in one pass with no allocation; it does not validate JSON, the parser does that.
 */
#include "internal.h"

hookd_err hookd_json_depth_check(const void *body, size_t len, unsigned max_depth, size_t *offset)
{
    if (body == NULL && len > 0)
        return HOOKD_ERR_INVALID_ARGUMENT;
    const unsigned char *p = body;
    unsigned depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if (in_string) {
            if (ch == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (ch == '"')
                in_string = false;
            continue;
        }
        switch (ch) {
        case '"':
            in_string = true;
            break;
        case '{':
        case '[':
            if (++depth > max_depth) {
                if (offset != NULL)
                    *offset = i;
                return HOOKD_ERR_JSON_TOO_DEEP;
            }
            break;
        case '}':
        case ']':
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
    }
    return HOOKD_OK;
}
