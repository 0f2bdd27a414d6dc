/*
 * test_crosscheck.c - vectors from an independent implementation (Node's crypto, see
 * tests/vectors/gen.js) must verify, and must stop verifying when one bit of the body changes.
 * The vector file is the first argument.
 */
#include <stdlib.h>

#include "testutil.h"

static const char *vector_path;

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    if (strcmp(hex, "-") == 0)
        return 0;
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
    return n;
}

static void check_one(hookd_scheme scheme, const char *key, req *r, uint8_t *body, size_t len,
                      int64_t now)
{
    hookd_verifier *v = verifier(scheme, key);
    hookd_verify_result res;
    hookd_err e = hookd_verify(v, hookd_header_list_lookup, req_list(r), body, len, now, &res);
    if (e != HOOKD_OK)
        fail_msg("independent vector rejected: %s", hookd_errname(e));
    if (len > 0) {
        body[len / 2] ^= 0x04;
        e = hookd_verify(v, hookd_header_list_lookup, req_list(r), body, len, now, NULL);
        assert_int_equal(e, HOOKD_ERR_SIGNATURE_MISMATCH);
        body[len / 2] ^= 0x04;
    }
    hookd_verifier_free(v);
}

static void node_vectors_verify(void **state)
{
    (void)state;
    FILE *f = fopen(vector_path, "r");
    assert_non_null(f);
    static char line[16384];
    static uint8_t body[8192];
    int counts[3] = {0, 0, 0};
    while (fgets(line, sizeof line, f) != NULL) {
        char *save = NULL, *kind = strtok_r(line, " \n", &save);
        if (kind == NULL)
            continue;
        req r = {0};
        if (strcmp(kind, "telnyx") == 0) {
            char *key = strtok_r(NULL, " \n", &save), *ts = strtok_r(NULL, " \n", &save);
            char *sig = strtok_r(NULL, " \n", &save), *hex = strtok_r(NULL, " \n", &save);
            size_t len = unhex(hex, body, sizeof body);
            req_set(&r, "telnyx-timestamp", ts);
            req_set(&r, "telnyx-signature-ed25519", sig);
            check_one(HOOKD_SCHEME_TELNYX, key, &r, body, len, strtoll(ts, NULL, 10));
            counts[0]++;
        } else {
            char *key = strtok_r(NULL, " \n", &save), *id = strtok_r(NULL, " \n", &save);
            char *ts = strtok_r(NULL, " \n", &save), *sig = strtok_r(NULL, " \n", &save);
            char *hex = strtok_r(NULL, " \n", &save);
            size_t len = unhex(hex, body, sizeof body);
            req_set(&r, "webhook-id", id);
            req_set(&r, "webhook-timestamp", ts);
            req_set(&r, "webhook-signature", sig);
            check_one(HOOKD_SCHEME_STANDARD, key, &r, body, len, strtoll(ts, NULL, 10));
            counts[strcmp(kind, "v1") == 0 ? 1 : 2]++;
        }
    }
    fclose(f);
    /* A vector file that silently lost its lines must not pass. */
    assert_true(counts[0] >= 40 && counts[1] >= 40 && counts[2] >= 40);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s VECTOR_FILE\n", argv[0]);
        return 2;
    }
    vector_path = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(node_vectors_verify)};
    assert_int_equal(hookd_init(), HOOKD_OK);
    return cmocka_run_group_tests_name("crosscheck", tests, NULL, NULL);
}
