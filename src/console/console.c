/*
 * console.c - the console's HTTP side: its listener, who may use it, its pages and its live
 * stream. The API's answers are api.c's.
 *
 * Who may use it ([console] token):
 *   - with a token, an API request carries "Authorization: Bearer TOKEN" or the session cookie
 *     that POST /login sets (HttpOnly, SameSite=Strict, an HMAC of its expiry under a key made at
 *     start: a restart signs everyone out, and no session table is kept);
 *   - without one, the console listens on loopback only (config.c refuses anything else) and
 *     answers only requests whose Host names loopback, so a web page cannot reach it through a
 *     DNS name rebound to 127.0.0.1;
 *   - a POST not carrying the bearer token must come from the console's own origin (Origin
 *     equal to its scheme and Host): a foreign, "null" or (with a cookie) missing Origin is 403.
 * Every response carries Content-Security-Policy: default-src 'self' (no inline script or style),
 * nosniff, no framing and no referrer. Every refusal has its reason in the body, a log line and
 * hookd_console_rejections_total{reason}.
 *
 * Threads: libmicrohttpd's thread per connection (a live stream blocks in its own); the store
 * view is one connection shared under view_lock; the writer thread feeds the live ring.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "console.h"
#include "log.h"
#include "server.h"
#include "tls.h"

#define COOKIE "hookd_console"
#define SLOT_BYTES 1024 /* one event's fields in the live ring */
#define STREAM_BATCH 32 /* slots a stream copies out of the ring per wake-up */

/* The fields a stream shows, copied raw by the writer (no formatting on its thread: a stream
 * escapes and formats them on its own). */
enum { F_ID, F_ENDPOINT, F_TYPE, F_OCCURRED, F_CONTROL, F_SESSION, F_FAILURE, F_HANGUP, F__COUNT };
static const char *const field_names[F__COUNT] = {
    "id", "endpoint", "event_type", "occurred_at", "call_control_id", "call_session_id",
    "failure_cause", "hangup_cause",
};
#define ABSENT 0xffff

typedef struct live_slot {
    uint64_t seq;
    int64_t received_at_us;
    bool parsed, truncated;
    uint16_t at[F__COUNT];     /* offset of each field in data, or ABSENT */
    char data[SLOT_BYTES];
} live_slot;

typedef struct sample {
    int64_t t_us, owed, dead;
} sample;

struct console {
    const config *cfg;
    store *store;
    metrics *m;
    dispatcher *dispatch;
    struct MHD_Daemon *daemon;
    bool tls;
    unsigned char session_key[crypto_auth_hmacsha256_KEYBYTES];
    unsigned char token_hash[crypto_hash_sha256_BYTES];
    bool has_token;
    pthread_mutex_t view_lock;
    store_view *view;
    /* live: the last SRV_CONSOLE_RING new events, seq 1, 2, ... */
    pthread_mutex_t live_lock;
    pthread_cond_t live_cond;
    uint64_t live_next;
    live_slot *ring;
    bool stopping;
    /* queue depth and dead letters, every SRV_CONSOLE_SAMPLE_S, for a day */
    pthread_t sampler;
    bool sampler_started;
    pthread_mutex_t sample_lock; /* not live_lock: reading a day of samples never holds up the
                                  * writer's on_event */
    sample *samples;
    size_t nsamples, sample_head;
};

/* One request's own state (libmicrohttpd's con_cls). */
typedef struct creq {
    char *body;
    size_t len;
    bool too_large;
} creq;

static int64_t wall_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* ---- what api.c uses ---------------------------------------------------------------------- */

const config *console_config(const console *c)
{
    return c->cfg;
}

metrics *console_metrics(console *c)
{
    return c->m;
}

void console_kick_dispatch(console *c)
{
    dispatch_kick(c->dispatch);
}

bool console_with_view(console *c, console_view_fn *fn, void *ctx)
{
    pthread_mutex_lock(&c->view_lock);
    if (c->view == NULL) {
        char err[512];
        c->view = store_view_open(c->cfg->store_url, true, err, sizeof err);
        if (c->view == NULL)
            log_msg(LOG_ERROR, "console: cannot open the store", "%s", err);
    }
    bool ok = c->view != NULL && fn(ctx, c->view);
    if (!ok && c->view != NULL) {
        log_msg(LOG_WARN, "console: a store read failed", "%s", store_view_errmsg(c->view));
        store_view_close(c->view); /* reopened by the next request (a database restart) */
        c->view = NULL;
    }
    pthread_mutex_unlock(&c->view_lock);
    return ok;
}

void console_samples(console *c, int64_t since_us,
                     void (*fn)(void *ctx, int64_t t_us, int64_t owed, int64_t dead), void *ctx)
{
    pthread_mutex_lock(&c->sample_lock);
    size_t first = (c->sample_head + SRV_CONSOLE_SAMPLES - c->nsamples) % SRV_CONSOLE_SAMPLES;
    for (size_t k = 0; k < c->nsamples; k++) {
        const sample *s = &c->samples[(first + k) % SRV_CONSOLE_SAMPLES];
        if (s->t_us >= since_us)
            fn(ctx, s->t_us, s->owed, s->dead);
    }
    pthread_mutex_unlock(&c->sample_lock);
}

static void take_sample(console *c)
{
    sample s = {wall_us(), atomic_load(&c->m->queue_depth), atomic_load(&c->m->dead_letters)};
    pthread_mutex_lock(&c->sample_lock);
    c->samples[c->sample_head] = s;
    c->sample_head = (c->sample_head + 1) % SRV_CONSOLE_SAMPLES;
    if (c->nsamples < SRV_CONSOLE_SAMPLES)
        c->nsamples++;
    pthread_mutex_unlock(&c->sample_lock);
}

static void *sampler_main(void *arg)
{
    console *c = arg;
    pthread_mutex_lock(&c->live_lock);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->live_lock);
        take_sample(c);
        pthread_mutex_lock(&c->live_lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SRV_CONSOLE_SAMPLE_S;
        while (!c->stopping && pthread_cond_timedwait(&c->live_cond, &c->live_lock, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&c->live_lock);
    return NULL;
}

/* ---- the live ring ------------------------------------------------------------------------ */

/* Append "key":"value" (escaped by http_json_quote) to the object that starts at start; false
 * when it does not fit. */
static bool put_field(char *buf, size_t cap, size_t *off, size_t start, const char *key,
                      const char *value)
{
    int n = snprintf(buf + *off, cap - *off, "%s\"%s\":", *off > start + 1 ? "," : "", key);
    if (n < 0 || (size_t)n >= cap - *off)
        return false;
    size_t q = http_json_quote(buf + *off + (size_t)n, cap - *off - (size_t)n, value);
    if (q == 0)
        return false;
    *off += (size_t)n + q;
    return true;
}

/* The writer thread, after a commit: the new event's fields into the ring, raw. Fields that do
 * not fit SLOT_BYTES are left out and the event marked truncated (the API has all of them). */
static void on_event(void *ctx, const store_record *r)
{
    console *c = ctx;
    const char *const values[F__COUNT] = {
        r->id, r->endpoint, r->parsed ? r->event_type : NULL, r->occurred_at, r->call_control_id,
        r->call_session_id, r->failure_cause, r->hangup_cause,
    };
    pthread_mutex_lock(&c->live_lock);
    live_slot *s = &c->ring[c->live_next % SRV_CONSOLE_RING];
    s->seq = ++c->live_next;
    s->received_at_us = r->received_at_us;
    s->parsed = r->parsed;
    s->truncated = false;
    size_t used = 0;
    for (size_t i = 0; i < F__COUNT; i++) {
        size_t n = values[i] != NULL ? strlen(values[i]) : 0;
        s->at[i] = ABSENT;
        if (values[i] == NULL)
            continue;
        if (used + n + 1 > sizeof s->data) {
            s->truncated = true;
            continue;
        }
        memcpy(s->data + used, values[i], n + 1);
        s->at[i] = (uint16_t)used;
        used += n + 1;
    }
    pthread_cond_broadcast(&c->live_cond);
    pthread_mutex_unlock(&c->live_lock);
}

/* One SSE message for a slot, appended to out (at least 6 x SLOT_BYTES + 512 free): text that is
 * not UTF-8 is left out. */
static size_t format_event(const live_slot *s, char *out, size_t cap)
{
    char received[HOOKD_ISO8601_BUFSIZE] = "";
    hookd_iso8601_format(s->received_at_us, received, sizeof received);
    int n = snprintf(out, cap, "id: %" PRIu64 "\nevent: event\ndata: {", s->seq);
    size_t off = n > 0 ? (size_t)n : 0, start = off - 1;
    for (size_t i = 0; i < F__COUNT; i++) {
        const char *v = s->at[i] != ABSENT ? s->data + s->at[i] : NULL;
        if (v != NULL && console_utf8_valid(v, strlen(v)))
            put_field(out, cap, &off, start, field_names[i], v);
        if (i == F_OCCURRED)
            put_field(out, cap, &off, start, "received_at", received);
    }
    put_field(out, cap, &off, start, "parse", s->parsed ? "parsed" : "unparsed");
    n = snprintf(out + off, cap - off, "%s}\n\n", s->truncated ? ",\"truncated\":true" : "");
    return off + (n > 0 ? (size_t)n : 0);
}

/* ---- responses ---------------------------------------------------------------------------- */

static void secure_headers(struct MHD_Response *resp, bool tls)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; base-uri 'none'; form-action 'self'; "
                            "frame-ancestors 'none'; object-src 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    /* same-origin, not no-referrer: under no-referrer a browser's form POST says "Origin: null",
     * which the CSRF check refuses */
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    if (tls)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
}

static enum MHD_Result send_bytes(console *c, struct MHD_Connection *conn, unsigned status,
                                  const char *type, const void *data, size_t len, bool copy,
                                  const char *cache)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    secure_headers(resp, c->tls);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", cache != NULL ? cache : "no-store");
    if (status == 401 && c->has_token)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"hookd console\"");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json(console *c, struct MHD_Connection *conn, unsigned status,
                                 json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(body);
    if (text == NULL)
        return send_bytes(c, conn, 500, "application/json", "{\"error\":\"out of memory\"}", 25,
                          false, NULL);
    enum MHD_Result rc = send_bytes(c, conn, status, "application/json", text, strlen(text), true,
                                    NULL);
    free(text);
    return rc;
}

/* A refusal: {"error": reason, "message": why}, a log line, a metric. */
static enum MHD_Result refuse(console *c, struct MHD_Connection *conn, unsigned status,
                              const char *reason, const char *why)
{
    metrics_console_reject(c->m, reason);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[INET6_ADDRSTRLEN];
    http_address_text(ci != NULL ? ci->client_addr : NULL, addr, sizeof addr);
    log_json(LOG_INFO, "console: refused",
             json_pack("{s:s, s:i, s:s}", "reason", reason, "status", (int)status, "remote", addr));
    return send_json(c, conn, status, json_pack("{s:s, s:s}", "error", reason, "message", why));
}

static enum MHD_Result redirect(console *c, struct MHD_Connection *conn, const char *to,
                                const char *cookie)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    secure_headers(resp, c->tls);
    MHD_add_response_header(resp, "Location", to);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (cookie != NULL)
        MHD_add_response_header(resp, "Set-Cookie", cookie);
    enum MHD_Result rc = MHD_queue_response(conn, 303, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_asset(console *c, struct MHD_Connection *conn, unsigned status,
                                  const char *path)
{
    const console_asset *a = console_asset_find(path);
    if (a == NULL)
        return refuse(c, conn, 404, "not_found", "no such page");
    return send_bytes(c, conn, status, a->type, a->data, a->len, false, "no-cache");
}

/* ---- who is asking ------------------------------------------------------------------------ */

typedef enum who { WHO_NOBODY, WHO_OPEN, WHO_BEARER, WHO_COOKIE, WHO_BAD_BEARER } who;

static bool token_matches(const console *c, const char *given, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)given, len);
    return sodium_memcmp(h, c->token_hash, sizeof h) == 0;
}

/* "EXPIRY.HEX(HMAC(EXPIRY))" */
static void make_cookie(const console *c, char *out, size_t cap)
{
    char expiry[24];
    snprintf(expiry, sizeof expiry, "%lld", (long long)time(NULL) + SRV_CONSOLE_SESSION_S);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)expiry, strlen(expiry), c->session_key);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, cap, COOKIE "=%s.%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", expiry,
             hex, SRV_CONSOLE_SESSION_S, c->tls ? "; Secure" : "");
}

static bool cookie_valid(const console *c, const char *value)
{
    const char *dot = value != NULL ? strchr(value, '.') : NULL;
    if (dot == NULL || dot - value > 20 || strlen(dot + 1) != (size_t)2 * crypto_auth_hmacsha256_BYTES)
        return false;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    size_t n = 0;
    if (sodium_hex2bin(mac, sizeof mac, dot + 1, strlen(dot + 1), NULL, &n, NULL) != 0
        || n != sizeof mac
        || crypto_auth_hmacsha256_verify(mac, (const unsigned char *)value, (size_t)(dot - value),
                                         c->session_key) != 0)
        return false;
    return strtoll(value, NULL, 10) > (long long)time(NULL);
}

static who identify(const console *c, struct MHD_Connection *conn)
{
    if (!c->has_token)
        return WHO_OPEN;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth != NULL) {
        if (strncasecmp(auth, "Bearer ", 7) != 0)
            return WHO_BAD_BEARER;
        return token_matches(c, auth + 7, strlen(auth + 7)) ? WHO_BEARER : WHO_BAD_BEARER;
    }
    return cookie_valid(c, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE)) ? WHO_COOKIE
                                                                                       : WHO_NOBODY;
}

/* Without a token: the Host must name loopback (no DNS rebinding). */
static bool host_is_loopback(const char *host)
{
    if (host == NULL)
        return false;
    char name[128];
    snprintf(name, sizeof name, "%s", host);
    char *end = name[0] == '[' ? strchr(name, ']') : strrchr(name, ':');
    if (name[0] == '[') {
        if (end == NULL)
            return false;
        *end = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, name + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    if (end != NULL)
        *end = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, name, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return strcasecmp(name, "localhost") == 0;
}

/* A POST must come from the console's own pages, unless it carries the bearer token. */
static const char *origin_refusal(const console *c, struct MHD_Connection *conn, who w)
{
    if (w == WHO_BEARER)
        return NULL;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (origin == NULL)
        return w == WHO_OPEN ? NULL : "a POST with the session cookie must carry Origin";
    char own[300];
    snprintf(own, sizeof own, "%s://%s", c->tls ? "https" : "http", host != NULL ? host : "");
    if (host == NULL || strcasecmp(origin, own) != 0)
        return "Origin is not this console's (cross-site request refused)";
    return NULL;
}

/* ---- login -------------------------------------------------------------------------------- */

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of field name in an application/x-www-form-urlencoded body, decoded, into out. */
bool console_form_field(const char *body, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = body; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || p[n] != '=')
            continue;
        size_t k = 0;
        for (const char *v = p + n + 1; *v && *v != '&'; v++) {
            char ch = *v;
            if (ch == '+') {
                ch = ' ';
            } else if (ch == '%') {
                int hi = hex_digit(v[1]), lo = hi >= 0 ? hex_digit(v[2]) : -1;
                if (lo < 0)
                    return false;
                ch = (char)(hi * 16 + lo);
                v += 2;
            }
            if (k + 1 >= cap)
                return false;
            out[k++] = ch;
        }
        out[k] = '\0';
        return true;
    }
    return false;
}

static enum MHD_Result login_page(console *c, struct MHD_Connection *conn, unsigned status,
                                  bool failed)
{
    const console_asset *a = console_asset_find("/login.html");
    if (a == NULL)
        return refuse(c, conn, 404, "not_found", "no login page");
    if (!failed)
        return send_bytes(c, conn, status, a->type, a->data, a->len, false, NULL);
    /* The page holds <p id="failed" hidden>; a failed attempt shows it (no script needed). */
    char *page = malloc(a->len + 1);
    if (page == NULL)
        return MHD_NO;
    memcpy(page, a->data, a->len);
    page[a->len] = '\0';
    char *mark = strstr(page, " hidden data-failed");
    if (mark != NULL)
        memset(mark, ' ', strlen(" hidden"));
    enum MHD_Result rc = send_bytes(c, conn, status, a->type, page, a->len, true, NULL);
    free(page);
    return rc;
}

static enum MHD_Result login(console *c, struct MHD_Connection *conn, const creq *q)
{
    if (!c->has_token)
        return redirect(c, conn, "/", NULL);
    const char *why = origin_refusal(c, conn, WHO_NOBODY);
    if (why != NULL && MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin") != NULL)
        return refuse(c, conn, 403, "origin_refused", why);
    char token[HOOKD_MAX_BEARER_LEN + 1];
    bool ok = q->body != NULL && console_form_field(q->body, "token", token, sizeof token)
              && token_matches(c, token, strlen(token));
    sodium_memzero(token, sizeof token);
    if (!ok) {
        metrics_console_reject(c->m, "login_failed");
        log_json(LOG_WARN, "console: sign-in refused", json_pack("{s:s}", "reason", "login_failed"));
        struct timespec pause = {0, SRV_CONSOLE_LOGIN_DELAY_MS * 1000000L};
        nanosleep(&pause, NULL); /* this connection's thread only */
        return login_page(c, conn, 401, true);
    }
    atomic_fetch_add(&c->m->console_logins, 1);
    char cookie[256];
    make_cookie(c, cookie, sizeof cookie);
    return redirect(c, conn, "/", cookie);
}

/* ---- the live stream (Server-Sent Events) ------------------------------------------------- */

typedef struct stream {
    console *c;
    uint64_t next;             /* the seq to copy out of the ring next */
    bool started;
    live_slot batch[STREAM_BATCH]; /* copied out under the lock, formatted outside it */
    char *text;                /* formatted, not yet sent: text[sent..len) */
    size_t len, sent, cap;
} stream;

/* Wait for new events (gathering SRV_CONSOLE_GATHER_MS of them), copy up to STREAM_BATCH out of
 * the ring and format them into st->text outside the lock. False when the console stops. */
static bool stream_refill(stream *st)
{
    console *c = st->c;
    pthread_mutex_lock(&c->live_lock);
    if (st->next >= c->live_next + 1 && !c->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SRV_CONSOLE_HEARTBEAT_S;
        while (st->next >= c->live_next + 1 && !c->stopping
               && pthread_cond_timedwait(&c->live_cond, &c->live_lock, &until) == 0) {
        }
        /* Woken by a commit: let the next ones gather for a moment, so a busy receiver wakes a
         * stream a few times a second, not once per commit (the writer never waits for it). */
        if (!c->stopping && st->next < c->live_next + 1) {
            pthread_mutex_unlock(&c->live_lock);
            struct timespec gather = {0, SRV_CONSOLE_GATHER_MS * 1000000L};
            nanosleep(&gather, NULL);
            pthread_mutex_lock(&c->live_lock);
        }
    }
    if (c->stopping) {
        pthread_mutex_unlock(&c->live_lock);
        return false;
    }
    uint64_t oldest = c->live_next > SRV_CONSOLE_RING ? c->live_next - SRV_CONSOLE_RING + 1 : 1;
    uint64_t missed = st->next < oldest ? oldest - st->next : 0;
    if (missed > 0)
        st->next = oldest;
    size_t n = 0;
    while (n < STREAM_BATCH && st->next <= c->live_next)
        st->batch[n++] = c->ring[(st->next++ - 1) % SRV_CONSOLE_RING];
    pthread_mutex_unlock(&c->live_lock);
    st->len = st->sent = 0;
    size_t need = 128 + n * (6 * SLOT_BYTES + 512);
    if (need > st->cap) {
        char *grown = realloc(st->text, need);
        if (grown == NULL)
            return true; /* nothing formatted: a keep-alive this time */
        st->text = grown;
        st->cap = need;
    }
    if (missed > 0) {
        int k = snprintf(st->text, st->cap, "event: gap\ndata: {\"missed\":%" PRIu64 "}\n\n", missed);
        st->len = k > 0 ? (size_t)k : 0;
    }
    for (size_t i = 0; i < n; i++)
        st->len += format_event(&st->batch[i], st->text + st->len, st->cap - st->len);
    return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *st = cls;
    if (!st->started) {
        st->started = true;
        return snprintf(buf, max, "retry: 2000\n: hookd console stream\n\n");
    }
    if (st->sent == st->len && !stream_refill(st))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (st->sent == st->len) /* the heartbeat: proxies and the connection timeout see traffic */
        return snprintf(buf, max, ": keep-alive\n\n");
    size_t n = st->len - st->sent < max ? st->len - st->sent : max;
    memcpy(buf, st->text + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    atomic_fetch_sub(&st->c->m->console_streams, 1);
    free(st->text);
    free(st);
}

static enum MHD_Result open_stream(console *c, struct MHD_Connection *conn)
{
    stream *st = calloc(1, sizeof *st);
    if (st == NULL)
        return MHD_NO;
    st->c = c;
    pthread_mutex_lock(&c->live_lock);
    st->next = c->live_next + 1;
    /* A reconnecting browser says where it was: what the ring still holds is sent again. */
    const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    if (last != NULL) {
        char *end = NULL;
        unsigned long long id = strtoull(last, &end, 10);
        if (end != last && *end == '\0' && id <= c->live_next)
            st->next = id + 1;
    }
    pthread_mutex_unlock(&c->live_lock);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
                                                                  stream_read, st, stream_free);
    if (resp == NULL) {
        free(st);
        return MHD_NO;
    }
    atomic_fetch_add(&c->m->console_streams, 1);
    secure_headers(resp, c->tls);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- routing ------------------------------------------------------------------------------ */

static enum MHD_Result api(console *c, struct MHD_Connection *conn, const char *url,
                           const char *method, const creq *q)
{
    api_request r = {.c = c, .conn = conn, .method = method, .path = url + strlen("/api/v1"),
                     .body = q->body, .body_len = q->len};
    api_response out = {0};
    api_handle(&r, &out);
    if (out.reason != NULL)
        metrics_console_reject(c->m, out.reason);
    if (out.raw != NULL) {
        enum MHD_Result rc = send_bytes(c, conn, out.status, out.raw_type, out.raw, out.raw_len,
                                        true, NULL);
        free(out.raw);
        return rc;
    }
    return send_json(c, conn, out.status, out.json);
}

static enum MHD_Result route(console *c, struct MHD_Connection *conn, const char *url,
                             const char *method, const creq *q)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (!c->has_token
        && !host_is_loopback(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host")))
        return refuse(c, conn, 403, "host_refused",
                      "this console has no token and answers only to a loopback Host (127.0.0.1, "
                      "[::1], localhost)");
    if (!get && !post)
        return refuse(c, conn, 405, "method_not_allowed", "GET or POST");
    if (q->too_large)
        return refuse(c, conn, 413, "body_too_large", "a console request body is at most 16 KiB");
    if (get && strncmp(url, "/assets/", 8) == 0)
        return send_asset(c, conn, 200, url);
    if (get && strcmp(url, "/favicon.ico") == 0)
        return send_asset(c, conn, 200, "/assets/icon.svg");
    if (strcmp(url, "/login") == 0)
        return post ? login(c, conn, q)
                    : c->has_token ? login_page(c, conn, 200, false) : redirect(c, conn, "/", NULL);
    who w = identify(c, conn);
    if (strcmp(url, "/logout") == 0 && post) {
        const char *why = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin") != NULL
                              ? origin_refusal(c, conn, WHO_NOBODY)
                              : NULL;
        if (why != NULL) /* another site cannot sign anyone out either */
            return refuse(c, conn, 403, "origin_refused", why);
        char gone[128];
        snprintf(gone, sizeof gone, COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 c->tls ? "; Secure" : "");
        return redirect(c, conn, c->has_token ? "/login" : "/", gone);
    }
    bool api_path = strncmp(url, "/api/v1/", 8) == 0 || strcmp(url, "/api/v1") == 0;
    if (w == WHO_NOBODY || w == WHO_BAD_BEARER) {
        if (!api_path && get && strcmp(url, "/") == 0)
            return redirect(c, conn, "/login", NULL);
        return refuse(c, conn, 401, "unauthorized",
                      w == WHO_BAD_BEARER ? "the bearer token is not this console's"
                                          : "sign in at /login, or send Authorization: Bearer TOKEN");
    }
    if (post) {
        const char *why = origin_refusal(c, conn, w);
        if (why != NULL)
            return refuse(c, conn, 403, "origin_refused", why);
    }
    if (get && (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0))
        return send_asset(c, conn, 200, "/index.html");
    if (get && strcmp(url, "/api/v1/stream") == 0)
        return open_stream(c, conn);
    if (api_path)
        return api(c, conn, url, method, q);
    return refuse(c, conn, 404, "not_found", "no such page");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    console *c = cls;
    creq *q = *con_cls;
    if (q == NULL) {
        q = calloc(1, sizeof *q);
        if (q == NULL)
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (q->len + *upload_size > SRV_CONSOLE_MAX_BODY) {
            q->too_large = true;
        } else if (!q->too_large) {
            char *grown = realloc(q->body, q->len + *upload_size + 1);
            if (grown == NULL)
                return MHD_NO;
            q->body = grown;
            memcpy(q->body + q->len, upload_data, *upload_size);
            q->len += *upload_size;
            q->body[q->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return route(c, conn, url, method, q);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    creq *q = *con_cls;
    if (q != NULL) {
        free(q->body);
        free(q);
    }
    *con_cls = NULL;
}

/* ---- start and stop ----------------------------------------------------------------------- */

bool console_start(const config *cfg, store *st, metrics *m, dispatcher *d, console **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->console_listen[0] == '\0')
        return true;
    console *c = calloc(1, sizeof *c);
    if (c == NULL || (c->ring = calloc(SRV_CONSOLE_RING, sizeof *c->ring)) == NULL
        || (c->samples = calloc(SRV_CONSOLE_SAMPLES, sizeof *c->samples)) == NULL) {
        if (c != NULL)
            free(c->ring);
        free(c);
        snprintf(err, errlen, "console: out of memory");
        return false;
    }
    c->cfg = cfg;
    c->store = st;
    c->m = m;
    c->dispatch = d;
    c->tls = strncmp(cfg->console_listen, "tls:", 4) == 0;
    c->has_token = cfg->console_token != NULL;
    if (c->has_token)
        crypto_hash_sha256(c->token_hash, (const unsigned char *)cfg->console_token,
                           strlen(cfg->console_token));
    randombytes_buf(c->session_key, sizeof c->session_key);
    pthread_mutex_init(&c->view_lock, NULL);
    pthread_mutex_init(&c->live_lock, NULL);
    pthread_mutex_init(&c->sample_lock, NULL);
    pthread_cond_init(&c->live_cond, NULL);
    struct sockaddr_storage ss;
    bool ok = http_parse_listen(cfg->console_listen + (c->tls ? 4 : 0), &ss);
    if (!ok)
        snprintf(err, errlen, "[console] listen %s: expected HOST:PORT or [IPv6]:PORT", cfg->console_listen);
    if (ok && c->tls)
        ok = tls_load(cfg->tls_cert, cfg->tls_key, err, errlen);
    if (ok) {
        struct MHD_OptionItem tls_options[] = {
            {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_retrieve},
            {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
            {MHD_OPTION_END, 0, NULL},
        };
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                         | MHD_USE_POLL | MHD_USE_ERROR_LOG
                         | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (c->tls ? MHD_USE_TLS : 0);
        c->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, c,
            MHD_OPTION_ARRAY, c->tls ? tls_options : tls_options + 2,
            MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, (void *)"console: libmicrohttpd",
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_CONSOLE_MAX_CONNECTIONS,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SRV_CONSOLE_PER_IP,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_CONSOLE_TIMEOUT_S,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, c,
            MHD_OPTION_END);
        ok = c->daemon != NULL;
        if (!ok)
            snprintf(err, errlen, "[console] cannot listen on %s (in use, or not an address of this "
                                  "machine)", cfg->console_listen);
    }
    if (ok) {
        c->sampler_started = pthread_create(&c->sampler, NULL, sampler_main, c) == 0;
        store_on_event(st, on_event, c);
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_BIND_PORT);
        log_json(LOG_NOTICE, "console listening",
                 json_pack("{s:s, s:i, s:b, s:b}", "address", cfg->console_listen, "port",
                           di != NULL ? (int)di->port : 0, "tls", c->tls, "token", c->has_token));
        *out = c;
        return true;
    }
    console_stop(c);
    return false;
}

void console_stop(console *c)
{
    if (c == NULL)
        return;
    if (c->store != NULL)
        store_on_event(c->store, NULL, NULL);
    pthread_mutex_lock(&c->live_lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->live_cond);
    pthread_mutex_unlock(&c->live_lock);
    if (c->daemon != NULL)
        MHD_stop_daemon(c->daemon);
    if (c->sampler_started)
        pthread_join(c->sampler, NULL);
    if (c->view != NULL)
        store_view_close(c->view);
    pthread_mutex_destroy(&c->view_lock);
    pthread_cond_destroy(&c->live_cond);
    pthread_mutex_destroy(&c->live_lock);
    pthread_mutex_destroy(&c->sample_lock);
    free(c->samples);
    free(c->ring);
    sodium_memzero(c->session_key, sizeof c->session_key);
    free(c);
}
