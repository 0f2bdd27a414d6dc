/*
 * consumer.c - a program outside the tree, built against the installed libhookd with pkg-config:
 * the public headers must stand alone and the shared library must export what they declare.
 */
#include <stdio.h>
#include <string.h>

#include <hookd/hookd.h>

int main(void)
{
    hookd_verifier *v = NULL;
    if (hookd_verifier_new(HOOKD_SCHEME_TELNYX, &v) != HOOKD_OK
        || hookd_verifier_add_key(v, "jrMBoswHlhhVx2W2Www72WU/xn4UMpjreslD0m2u0qs=") != HOOKD_OK)
        return 1;
    const char *body = "{\"event_type\":\"test\",\"id\":\"abc123\"}";
    hookd_header h[] = {{"telnyx-timestamp", "1700000000"},
                        {"telnyx-signature-ed25519",
                         "7o3u2izfEtn5PFPE0nDvo9y8RErRmfHM5wIO04wRV6VTNaq6RiLj1ehc7uMJuIMihJobi2u3HYyB1Ie61c2XCQ=="}};
    hookd_header_list l = {h, 2};
    hookd_err e = hookd_verify(v, hookd_header_list_lookup, &l, body, strlen(body), 1700000000, NULL);
    hookd_verifier_free(v);
    printf("libhookd %s: %s\n", hookd_version(), hookd_errname(e));
    return e == HOOKD_OK ? 0 : 1;
}
