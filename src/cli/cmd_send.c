/*
 * cmd_send.c - hookd send: deliver a signed event the way Telnyx does.
 *
 * Telnyx POSTs JSON with its signature headers, counts only HTTP 200 as delivered, retries the same
 * URL, then moves to the failover URL. Every attempt keeps data.id and re-signs with a fresh
 * timestamp; meta.attempt counts attempts across both URLs and meta.delivered_to names the URL.
 * One line per attempt on stdout; exit 0 once delivered, 1 when every attempt failed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli.h"

static const char help[] =
    "usage: hookd send URL [--failover URL] --private-key KEY [--event TYPE] [--file BODY]\n"
    "                  [--attempts N] [--timeout S] [--retry-delay MS]\n\n"
    "Deliver a signed event like Telnyx: POST with Content-Type: application/json,\n"
    "User-Agent: telnyx-webhooks, telnyx-timestamp and telnyx-signature-ed25519. Only HTTP 200\n"
    "counts as delivered. Each URL gets up to N attempts (default 3), the failover URL after the\n"
    "primary. Without --file a realistic event of TYPE (default siprec.failed) is built with a\n"
    "fresh id, occurred_at now, meta.attempt and meta.delivered_to; with --file the body is sent\n"
    "as it is. --timeout is per attempt in seconds (default 2), --retry-delay the pause between\n"
    "attempts in milliseconds (default 1000).\n\n"
    "Exit status: 0 delivered, 1 not delivered, 2 usage error.\n";

typedef struct send_args {
    const char *urls[2];
    size_t nurls;
    const char *key, *event_type, *file;
    long long attempts, timeout_s, retry_delay_ms;
} send_args;

/* ---- the event ------------------------------------------------------------------------------ */

static json_t *call_payload(const char *type)
{
    char ccid[HOOKD_UUID_BUFSIZE], leg[HOOKD_UUID_BUFSIZE], session[HOOKD_UUID_BUFSIZE];
    hookd_uuid_v4(ccid, sizeof ccid);
    hookd_uuid_v4(leg, sizeof leg);
    hookd_uuid_v4(session, sizeof session);
    char ccid_v3[64];
    snprintf(ccid_v3, sizeof ccid_v3, "v3:%s", ccid);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "call_control_id", ccid_v3, "call_leg_id",
                          leg, "call_session_id", session, "connection_id", "1494404757140276705",
                          "client_state", "aG9va2Qgc2VuZA==" /* "hookd send" */);
    if (p == NULL)
        return NULL;
    if (strcmp(type, "siprec.failed") == 0) {
        json_object_set_new(p, "failure_cause", json_string("no_answer"));
    } else if (strcmp(type, "siprec.stopped") == 0) {
        json_object_set_new(p, "hangup_cause", json_string("normal_clearing"));
    } else if (strcmp(type, "call.hangup") == 0) {
        json_object_set_new(p, "hangup_cause", json_string("normal_clearing"));
        json_object_set_new(p, "hangup_source", json_string("caller"));
        json_object_set_new(p, "sip_hangup_cause", json_string("200"));
    } else if (strncmp(type, "call.", 5) == 0) {
        json_object_set_new(p, "from", json_string("+13125550100"));
        json_object_set_new(p, "to", json_string("+13125550199"));
        json_object_set_new(p, "direction", json_string("incoming"));
        json_object_set_new(p, "state", json_string("parked"));
    }
    return p;
}

/* {"data":{...},"meta":{...}}; meta is filled in per attempt. */
static json_t *build_event(const char *type)
{
    char id[HOOKD_UUID_BUFSIZE], at[HOOKD_ISO8601_BUFSIZE];
    if (hookd_uuid_v4(id, sizeof id) != HOOKD_OK
        || hookd_iso8601_format(cli_now_us(), at, sizeof at) != HOOKD_OK)
        return NULL;
    json_t *payload = call_payload(type);
    if (payload == NULL)
        return NULL;
    return json_pack("{s:{s:s, s:s, s:s, s:s, s:o}, s:{}}", "data", "record_type", "event",
                     "event_type", type, "id", id, "occurred_at", at, "payload", payload, "meta");
}

/* ---- one attempt ---------------------------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

/* POST once; the HTTP status (0 when there was no response) and curl's error text. */
static long post(CURL *h, const char *url, const hookd_signer *signer, const char *body,
                 size_t len, long timeout_ms, char *err, size_t errcap)
{
    char ts[32], sig[HOOKD_SIGNATURE_BUFSIZE], h_ts[64], h_sig[160];
    snprintf(ts, sizeof ts, "%" PRId64, cli_now());
    if (hookd_sign(signer, NULL, ts, body, len, sig, sizeof sig) != HOOKD_OK) {
        snprintf(err, errcap, "signing failed");
        return 0;
    }
    snprintf(h_ts, sizeof h_ts, "%s: %s", HOOKD_HDR_TELNYX_TIMESTAMP, ts);
    snprintf(h_sig, sizeof h_sig, "%s: %s", HOOKD_HDR_TELNYX_SIGNATURE, sig);
    struct curl_slist *hdrs = NULL;
    const char *lines[] = {"Content-Type: application/json", "User-Agent: telnyx-webhooks",
                           "Expect:", h_ts, h_sig};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *next = curl_slist_append(hdrs, lines[i]);
        if (next == NULL) {
            curl_slist_free_all(hdrs);
            snprintf(err, errcap, "out of memory");
            return 0;
        }
        hdrs = next;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errcap, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    return status;
}

static void sleep_ms(long long ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* The body for one attempt: the file's bytes as they are, or the event with meta filled in. */
static char *attempt_body(json_t *event, const uint8_t *file_body, size_t file_len,
                          long long attempt, const char *url, size_t *len)
{
    if (event == NULL) {
        *len = file_len;
        return (char *)file_body;
    }
    json_t *meta = json_object_get(event, "meta");
    json_object_set_new(meta, "attempt", json_integer(attempt));
    json_object_set_new(meta, "delivered_to", json_string(url));
    char *s = json_dumps(event, JSON_COMPACT);
    *len = s != NULL ? strlen(s) : 0;
    return s;
}

static int deliver(const send_args *a, const hookd_signer *signer, json_t *event,
                   const uint8_t *file_body, size_t file_len)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        return CLI_EXIT_FAIL;
    const char *id = event != NULL ? json_string_value(json_object_get(
                                         json_object_get(event, "data"), "id"))
                                   : NULL;
    long long attempt = 0;
    for (size_t u = 0; u < a->nurls; u++) {
        for (long long i = 0; i < a->attempts; i++) {
            if (attempt > 0 && a->retry_delay_ms > 0)
                sleep_ms(a->retry_delay_ms);
            attempt++;
            size_t len = 0;
            char *body = attempt_body(event, file_body, file_len, attempt, a->urls[u], &len);
            if (body == NULL) {
                curl_easy_cleanup(h);
                return CLI_EXIT_FAIL;
            }
            char err[CURL_ERROR_SIZE] = "";
            int64_t t0 = cli_now_us();
            long status = post(h, a->urls[u], signer, body, len, (long)a->timeout_s * 1000, err,
                               sizeof err);
            int64_t ms = (cli_now_us() - t0) / 1000;
            if (event != NULL)
                free(body);
            const char *outcome = status == 200 ? "delivered" : "failed";
            printf("attempt=%lld url=%s status=%ld ms=%" PRId64 " outcome=%s%s%s%s\n", attempt,
                   a->urls[u], status, ms, outcome, err[0] ? " error=\"" : "", err,
                   err[0] ? "\"" : "");
            fflush(stdout);
            if (status == 200) {
                printf("delivered id=%s url=%s attempts=%lld\n", id ? id : "-", a->urls[u], attempt);
                curl_easy_cleanup(h);
                return CLI_EXIT_OK;
            }
        }
    }
    curl_easy_cleanup(h);
    printf("not delivered id=%s attempts=%lld\n", id ? id : "-", attempt);
    return CLI_EXIT_FAIL;
}

typedef struct send_ctx {
    send_args *a;
    const char *failover;
} send_ctx;

static int send_option(void *ctx, int opt, const char *arg)
{
    send_ctx *c = ctx;
    send_args *a = c->a;
    switch (opt) {
    case 'F': c->failover = arg; break;
    case 'k': a->key = arg; break;
    case 'e': a->event_type = arg; break;
    case 'f': a->file = arg; break;
    case 'a':
        if (!cli_parse_int(arg, 1, 100, &a->attempts))
            return cli_usage_error("send", "--attempts must be 1 to 100");
        break;
    case 't':
        if (!cli_parse_int(arg, 1, 3600, &a->timeout_s))
            return cli_usage_error("send", "--timeout must be 1 to 3600 seconds");
        break;
    case 'r':
        if (!cli_parse_int(arg, 0, 3600000, &a->retry_delay_ms))
            return cli_usage_error("send", "--retry-delay must be 0 to 3600000 ms");
        break;
    default: return cli_usage_error("send", "unknown option");
    }
    return CLI_CONTINUE;
}

static int parse_args(int argc, char **argv, send_args *a)
{
    static const struct option opts[] = {
        {"failover", required_argument, NULL, 'F'}, {"private-key", required_argument, NULL, 'k'},
        {"event", required_argument, NULL, 'e'},    {"file", required_argument, NULL, 'f'},
        {"attempts", required_argument, NULL, 'a'}, {"timeout", required_argument, NULL, 't'},
        {"retry-delay", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    send_ctx ctx = {.a = a};
    const char *url = NULL;
    int rc = cli_getopt("send", argc, argv, "h", opts, help, send_option, &ctx, &url);
    if (rc != CLI_CONTINUE)
        return rc;
    if (url == NULL)
        return cli_usage_error("send", "exactly one URL is required");
    a->urls[a->nurls++] = url;
    if (ctx.failover != NULL)
        a->urls[a->nurls++] = ctx.failover;
    if (a->key == NULL)
        return cli_usage_error("send", "--private-key is required");
    if (a->file != NULL && a->event_type != NULL)
        return cli_usage_error("send", "--event and --file exclude each other");
    if (a->event_type != NULL && (a->event_type[0] == '\0' || strlen(a->event_type) > 128))
        return cli_usage_error("send", "--event must be 1 to 128 characters");
    return CLI_CONTINUE;
}

int cmd_send(int argc, char **argv)
{
    send_args a = {.attempts = 3, .timeout_s = 2, .retry_delay_ms = 1000};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    hookd_signer *signer = NULL;
    hookd_err e = hookd_signer_new(HOOKD_SCHEME_TELNYX, a.key, &signer);
    if (e != HOOKD_OK)
        return cli_usage_error("send", "--private-key: %s", hookd_strerror(e));

    uint8_t *file_body = NULL;
    size_t file_len = 0;
    json_t *event = NULL;
    if (a.file != NULL) {
        if (!cli_read_body("send", a.file, &file_body, &file_len)) {
            hookd_signer_free(signer);
            return CLI_EXIT_FAIL;
        }
    } else if ((event = build_event(a.event_type ? a.event_type : "siprec.failed")) == NULL) {
        hookd_signer_free(signer);
        fprintf(stderr, "hookd send: cannot build the event\n");
        return CLI_EXIT_FAIL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = deliver(&a, signer, event, file_body, file_len);
    curl_global_cleanup();
    json_decref(event);
    free(file_body);
    hookd_signer_free(signer);
    return rc;
}
