/*
 * verify_bench.c - what does libhookd add on top of one Ed25519 verification?
 *
 * Measures, in operations per CPU-second of this process (CLOCK_PROCESS_CPUTIME_ID, so a busy
 * machine slows the clock and the work alike):
 *   the ceiling:  libsodium crypto_sign_verify_detached over "timestamp|body"
 *   hookd_verify  for Telnyx (headers, timestamp, strict base64, message, Ed25519)
 *   hookd_verify  for Standard Webhooks v1 (HMAC-SHA256) and v1a (Ed25519)
 *   hookd_event_parse_telnyx on the same siprec.failed body
 * and prints a Markdown table, with each row as a ratio of the ceiling. Rows are measured in
 * interleaved rounds and the best round of each is kept, so a frequency ramp or a burst of other
 * load does not favour whichever row ran first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "hookd/hookd.h"

static const char body[] =
    "{\"data\":{\"record_type\":\"event\",\"event_type\":\"siprec.failed\","
    "\"id\":\"25dc3731-e51e-4927-a50d-a61cc25984b1\",\"occurred_at\":\"2021-12-15T14:11:24.613295Z\","
    "\"payload\":{\"call_control_id\":\"v3:31f19208-5db0-11ec-9ea7-02420a0d3a69\","
    "\"connection_id\":\"1494404757140276705\",\"call_leg_id\":\"31f19208-5db0-11ec-9ea7-02420a0d3a69\","
    "\"call_session_id\":\"31f19208-5db0-11ec-9ea7-02420a0d3a69\","
    "\"client_state\":\"aGF2ZSBhIG5pY2UgZGF5ID1d\",\"failure_cause\":\"no_answer\"}},"
    "\"meta\":{\"attempt\":1,\"delivered_to\":\"https://example.com/webhooks/telnyx\"}}";

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define ROUNDS 3

typedef int (*bench_fn)(void *ctx);

/* Run fn until min_seconds of CPU have passed; operations per CPU-second. */
static double rate(bench_fn fn, void *ctx, double min_seconds)
{
    long n = 0;
    double start = cpu_seconds(), now;
    do {
        for (int i = 0; i < 64; i++) {
            if (fn(ctx) != 0) {
                fprintf(stderr, "benchmark operation failed\n");
                exit(1);
            }
        }
        n += 64;
        now = cpu_seconds();
    } while (now - start < min_seconds);
    return (double)n / (now - start);
}

typedef struct ctx {
    uint8_t pk[32];
    uint8_t sig[64];
    uint8_t *msg;
    size_t mlen;
    hookd_verifier *v;
    hookd_header_list *headers;
} ctx;

static int raw_verify(void *p)
{
    ctx *c = p;
    return crypto_sign_verify_detached(c->sig, c->msg, c->mlen, c->pk);
}

static int hookd_path(void *p)
{
    ctx *c = p;
    return hookd_verify(c->v, hookd_header_list_lookup, c->headers, body, sizeof body - 1,
                        1700000000, NULL) != HOOKD_OK;
}

static int parse(void *p)
{
    (void)p;
    hookd_event ev;
    if (hookd_event_parse_telnyx(body, sizeof body - 1, &ev, NULL) != HOOKD_OK)
        return 1;
    hookd_event_free(&ev);
    return 0;
}

static hookd_verifier *verifier_for(hookd_scheme scheme, const char *key)
{
    hookd_verifier *v = NULL;
    if (hookd_verifier_new(scheme, &v) != HOOKD_OK || hookd_verifier_add_key(v, key) != HOOKD_OK)
        exit(1);
    return v;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
    if (hookd_init() != HOOKD_OK)
        return 1;
    char pub[HOOKD_KEY_BUFSIZE], priv[HOOKD_KEY_BUFSIZE], sig[HOOKD_SIGNATURE_BUFSIZE];
    char spub[HOOKD_KEY_BUFSIZE], spriv[HOOKD_KEY_BUFSIZE], secret[HOOKD_KEY_BUFSIZE];
    char v1[HOOKD_SIGNATURE_BUFSIZE], v1a[HOOKD_SIGNATURE_BUFSIZE];
    hookd_signer *ts = NULL, *ss = NULL, *hs = NULL;
    if (hookd_keygen(HOOKD_SCHEME_TELNYX, pub, sizeof pub, priv, sizeof priv) != HOOKD_OK
        || hookd_keygen(HOOKD_SCHEME_STANDARD, spub, sizeof spub, spriv, sizeof spriv) != HOOKD_OK
        || hookd_secret_generate(secret, sizeof secret) != HOOKD_OK
        || hookd_signer_new(HOOKD_SCHEME_TELNYX, priv, &ts) != HOOKD_OK
        || hookd_signer_new(HOOKD_SCHEME_STANDARD, spriv, &ss) != HOOKD_OK
        || hookd_signer_new(HOOKD_SCHEME_STANDARD, secret, &hs) != HOOKD_OK
        || hookd_sign(ts, NULL, "1700000000", body, sizeof body - 1, sig, sizeof sig) != HOOKD_OK
        || hookd_sign(ss, "msg_1", "1700000000", body, sizeof body - 1, v1a, sizeof v1a) != HOOKD_OK
        || hookd_sign(hs, "msg_1", "1700000000", body, sizeof body - 1, v1, sizeof v1) != HOOKD_OK)
        return 1;

    ctx c = {0};
    hookd_base64_decode_exact(pub, strlen(pub), c.pk, 32);
    hookd_base64_decode_exact(sig, strlen(sig), c.sig, 64);
    c.mlen = strlen("1700000000|") + sizeof body - 1;
    c.msg = malloc(c.mlen);
    memcpy(c.msg, "1700000000|", 11);
    memcpy(c.msg + 11, body, sizeof body - 1);

    hookd_header th[] = {{"telnyx-timestamp", "1700000000"}, {"telnyx-signature-ed25519", sig}};
    hookd_header_list tl = {th, 2};
    hookd_header h1[] = {{"webhook-id", "msg_1"}, {"webhook-timestamp", "1700000000"},
                         {"webhook-signature", v1}};
    hookd_header_list l1 = {h1, 3};
    hookd_header h1a[] = {{"webhook-id", "msg_1"}, {"webhook-timestamp", "1700000000"},
                          {"webhook-signature", v1a}};
    hookd_header_list l1a = {h1a, 3};

    hookd_verifier *tv = verifier_for(HOOKD_SCHEME_TELNYX, pub);
    hookd_verifier *v1v = verifier_for(HOOKD_SCHEME_STANDARD, secret);
    hookd_verifier *v1av = verifier_for(HOOKD_SCHEME_STANDARD, spub);
    ctx cs[] = {c, c, c, c, c};
    cs[1].v = tv;
    cs[1].headers = &tl;
    cs[2].v = v1v;
    cs[2].headers = &l1;
    cs[3].v = v1av;
    cs[3].headers = &l1a;
    const bench_fn fns[] = {raw_verify, hookd_path, hookd_path, hookd_path, parse};
    double best[5] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < 5; i++) {
            double r = rate(fns[i], &cs[i], secs);
            if (r > best[i])
                best[i] = r;
        }
    }
    double ceiling = best[0], telnyx = best[1], std_v1 = best[2], std_v1a = best[3], parsed = best[4];
    hookd_verifier_free(tv);
    hookd_verifier_free(v1v);
    hookd_verifier_free(v1av);

    printf("Body: the %zu-byte siprec.failed delivery; best of %d interleaved rounds of %.1f "
           "CPU-seconds per row.\n\n",
           sizeof body - 1, ROUNDS, secs);
    printf("| operation | per CPU-second | vs. raw Ed25519 verify |\n|---|---:|---:|\n");
    printf("| libsodium `crypto_sign_verify_detached` (the ceiling) | %.0f | 100%% |\n", ceiling);
    printf("| `hookd_verify`, Telnyx (headers, window, base64, Ed25519) | %.0f | %.1f%% |\n", telnyx,
           100.0 * telnyx / ceiling);
    printf("| `hookd_verify`, Standard Webhooks `v1` (HMAC-SHA256) | %.0f | %.1f%% |\n", std_v1,
           100.0 * std_v1 / ceiling);
    printf("| `hookd_verify`, Standard Webhooks `v1a` (Ed25519) | %.0f | %.1f%% |\n", std_v1a,
           100.0 * std_v1a / ceiling);
    printf("| `hookd_event_parse_telnyx` (jansson) | %.0f | %.1f%% |\n", parsed,
           100.0 * parsed / ceiling);
    free(c.msg);
    hookd_signer_free(ts);
    hookd_signer_free(ss);
    hookd_signer_free(hs);
    return 0;
}
