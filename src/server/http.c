/*
 * http.c - the request path on libmicrohttpd.
 *
 * libmicrohttpd calls on_request() once when the headers are in (begin: limits, method and path,
 * allow-list), once per chunk of body (append), and once more at the end (finish: verify, parse,
 * submit to the store). The connection is then suspended, so no polling thread waits for an
 * fsync; the store's writer resumes it after COMMIT, libmicrohttpd calls on_request() again, and
 * respond() answers from the committed outcome. on_completed() logs the request and frees it.
 *
 * Every libmicrohttpd limit is set in http_start(): connections, per address, idle timeout,
 * header memory. What libmicrohttpd 0.9.75 does not enforce is enforced here:
 *   - more than one Content-Length, or Content-Length with Transfer-Encoding: 400 (smuggling);
 *   - headers over max_header bytes: 431 (its own limit is a memory pool, not a byte count);
 *   - a deadline: its timeout is an idle timeout, so a client trickling a byte a second would
 *     hold a connection forever (slowloris). A reaper thread shuts down any connection that has
 *     not completed a request within request_timeout of its start or of its previous request.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sys/socket.h>
#include <sodium.h>

#include "log.h"
#include "server.h"

typedef enum phase {
    PHASE_READING,    /* headers in, body arriving */
    PHASE_COMMITTING, /* suspended, waiting for the store */
    PHASE_COMMITTED,  /* resumed with an outcome */
    PHASE_ANSWERED,   /* a response is queued */
} phase;

typedef struct request {
    server *srv;
    struct MHD_Connection *conn;
    phase phase;
    int endpoint;                /* index, or -1 */
    bool probe;                  /* GET /readyz */
    double started;
    int64_t received_at_us;
    uint8_t *body;
    size_t len, cap;
    bool too_large;              /* a chunked body grew past max_body */
    unsigned status;
    const char *reason;          /* rejection reason code, or NULL */
    char message[256];
    char remote[INET6_ADDRSTRLEN];
    char path[128];              /* the URL path asked for, cut short for the log */
    /* what is being stored */
    hookd_event ev;
    bool has_event;
    char id[80];                 /* "sha256:" + 64 hex, or a copy of a short id */
    const char *event_id;
    char parse_error[160];
    store_record rec;
    store_job job;
    store_outcome outcome;
    char store_error[256];
} request;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* ---- deadlines ------------------------------------------------------------------------------ */

/* One open connection, as the reaper sees it. Created and freed in on_connection(); libmicrohttpd
 * reports a connection closed before it closes the socket, and the entry leaves the list under
 * watch_lock first, so the reaper never shuts down a descriptor that was reused. */
typedef struct conn_watch {
    int fd;
    _Atomic double since;    /* connection start, or the end of its previous request */
    atomic_bool waiting;     /* suspended for the store: our delay, not the client's */
    atomic_bool cut;         /* the reaper shut it down */
    char remote[INET6_ADDRSTRLEN];
    struct conn_watch *prev, *next;
} conn_watch;

static void address_text(const struct sockaddr *a, char *out, size_t cap)
{
    out[0] = '\0';
    if (a != NULL && a->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)a)->sin_addr, out,
                  (socklen_t)cap);
    else if (a != NULL && a->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, out,
                  (socklen_t)cap);
}

static conn_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void *reaper_main(void *arg)
{
    server *srv = arg;
    struct timespec pause = {0, 250 * 1000000L};
    while (!atomic_load(&srv->stop_reaper)) {
        nanosleep(&pause, NULL);
        double now = now_seconds();
        pthread_mutex_lock(&srv->watch_lock);
        for (conn_watch *w = srv->watches; w != NULL; w = w->next) {
            if (!atomic_load(&w->waiting) && !atomic_load(&w->cut)
                && now - atomic_load(&w->since) > srv->cfg->request_timeout) {
                atomic_store(&w->cut, true);
                shutdown(w->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
                metrics_reject(&srv->metrics, "request_timeout");
                log_json(LOG_WARN, "connection cut",
                         json_pack("{s:i, s:s, s:s, s:i}", "status", 408, "reason",
                                   "request_timeout", "remote", w->remote, "timeout_s",
                                   (int)srv->cfg->request_timeout));
            }
        }
        pthread_mutex_unlock(&srv->watch_lock);
    }
    return NULL;
}

/* ---- responses ------------------------------------------------------------------------------ */

/* Queue a JSON response; takes the reference to body. */
static enum MHD_Result send_json(request *r, unsigned status, json_t *body, const char *allow)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    const char *payload = text != NULL ? text : "{}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(payload), (void *)payload, MHD_RESPMEM_MUST_COPY);
    free(text);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (allow != NULL)
        MHD_add_response_header(resp, "Allow", allow);
    if (status == 503)
        MHD_add_response_header(resp, "Retry-After", SRV_RETRY_AFTER);
    if (atomic_load(&r->srv->draining))
        MHD_add_response_header(resp, "Connection", "close");
    r->status = status;
    r->phase = PHASE_ANSWERED;
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Refuse with a reason code and a message (never a secret or an expected signature). */
static enum MHD_Result reject(request *r, unsigned status, const char *reason, const char *allow,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result reject(request *r, unsigned status, const char *reason, const char *allow,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->reason = reason;
    metrics_reject(&r->srv->metrics, reason);
    return send_json(r, status,
                     json_pack("{s:s, s:s, s:s}", "status", "rejected", "reason", reason, "message",
                               r->message),
                     allow);
}

/* The answer once the store has spoken. */
static enum MHD_Result respond(request *r)
{
    switch (r->outcome) {
    case STORE_PROBED:
        return send_json(r, 200, json_pack("{s:s}", "status", "ready"), NULL);
    case STORE_NEW:
        if (!r->rec.parsed)
            return send_json(r, 200, json_pack("{s:s, s:s, s:s}", "status", "accepted", "id",
                                               r->event_id, "parse", "unparsed"), NULL);
        return send_json(r, 200, json_pack("{s:s, s:s}", "status", "accepted", "id", r->event_id),
                         NULL);
    case STORE_DUPLICATE:
        return send_json(r, 200, json_pack("{s:s, s:s}", "status", "duplicate", "id", r->event_id),
                         NULL);
    case STORE_WRITTEN: /* not a request's outcome */
    case STORE_FAILED:
        break;
    }
    log_msg(LOG_ERROR, "store failed", "%s", r->store_error);
    return reject(r, 503, "store_unavailable", NULL, "the store could not commit; retry later");
}

/* ---- the store's side ----------------------------------------------------------------------- */

/* Called by the store's writer thread after COMMIT (or its failure). */
static void committed(void *ctx, store_outcome outcome, const char *error)
{
    request *r = ctx;
    r->outcome = outcome;
    if (error != NULL)
        snprintf(r->store_error, sizeof r->store_error, "%s", error);
    r->phase = PHASE_COMMITTED;
    MHD_resume_connection(r->conn);
}

/* Suspend, then hand the job to the store (suspending first: the writer may resume at once). */
static enum MHD_Result submit(request *r, const store_record *rec)
{
    r->job.kind = rec != NULL ? JOB_EVENT : JOB_PROBE;
    r->job.rec = rec;
    r->job.done = committed;
    r->job.ctx = r;
    r->phase = PHASE_COMMITTING;
    conn_watch *w = watch_of(r->conn);
    if (w != NULL)
        atomic_store(&w->waiting, true);
    MHD_suspend_connection(r->conn);
    if (!store_submit(r->srv->store, &r->job)) {
        r->outcome = STORE_FAILED;
        snprintf(r->store_error, sizeof r->store_error, "shutting down");
        r->phase = PHASE_COMMITTED;
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

/* ---- begin: headers are in ------------------------------------------------------------------ */

typedef struct length_headers {
    unsigned content_length, transfer_encoding;
    size_t bytes; /* of all header lines, as "name: value\r\n" */
} length_headers;

static enum MHD_Result count_lengths(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    length_headers *h = cls;
    h->bytes += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
    if (strcasecmp(key, "Content-Length") == 0)
        h->content_length++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0)
        h->transfer_encoding++;
    return MHD_YES;
}

static int find_endpoint(const server *srv, const char *url)
{
    for (size_t i = 0; i < srv->cfg->nendpoints; i++) {
        if (strcmp(srv->cfg->endpoints[i].path, url) == 0)
            return (int)i;
    }
    return -1;
}

static enum MHD_Result health(request *r, const char *url, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reject(r, 405, "method_not_allowed", "GET, HEAD", "%s takes GET", url);
    if (strcmp(url, "/healthz") == 0)
        return send_json(r, 200, json_pack("{s:s}", "status", "alive"), NULL);
    if (strcmp(url, "/readyz") == 0) {
        r->probe = true;
        return submit(r, NULL);
    }
    size_t len = 0;
    char *text = metrics_render(&r->srv->metrics, &len);
    if (text == NULL)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    r->status = 200;
    r->phase = PHASE_ANSWERED;
    enum MHD_Result ok = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result begin(request *r, const char *url, const char *method)
{
    server *srv = r->srv;
    length_headers lh = {0, 0, strlen(url) + strlen(method) + 12};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_lengths, &lh);
    if (lh.bytes > srv->cfg->max_header)
        return reject(r, 431, "header_too_large", NULL, "headers of %zu bytes are over the %zu byte limit",
                      lh.bytes, srv->cfg->max_header);
    if (lh.content_length > 1)
        return reject(r, 400, "ambiguous_length", NULL, "more than one Content-Length header");
    if (lh.content_length > 0 && lh.transfer_encoding > 0)
        return reject(r, 400, "ambiguous_length", NULL,
                      "Content-Length together with Transfer-Encoding");
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl != NULL && strtoull(cl, NULL, 10) > srv->cfg->max_body)
        return reject(r, 413, "body_too_large", NULL, "body of %s bytes is over the %zu byte limit",
                      cl, srv->cfg->max_body);

    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 || strcmp(url, "/metrics") == 0)
        return health(r, url, method);
    r->endpoint = find_endpoint(srv, url);
    if (r->endpoint < 0)
        return reject(r, 404, "not_found", NULL, "no endpoint at %s", url);
    if (strcmp(method, "POST") != 0)
        return reject(r, 405, "method_not_allowed", "POST", "webhooks are delivered with POST");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *addr = ci != NULL ? ci->client_addr : NULL;
    if (!allow_match(&srv->cfg->endpoints[r->endpoint].allow, addr))
        return reject(r, 403, "source_not_allowed", NULL, "%s may not deliver to this endpoint",
                      r->remote);
    return MHD_YES;
}

/* ---- append: a chunk of body ---------------------------------------------------------------- */

static enum MHD_Result append(request *r, const char *data, size_t n)
{
    if (r->too_large || n > r->srv->cfg->max_body - r->len) {
        r->too_large = true; /* keep reading to the end, keep nothing */
        return MHD_YES;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > r->srv->cfg->max_body)
            cap = r->srv->cfg->max_body;
        uint8_t *b = realloc(r->body, cap);
        if (b == NULL)
            return MHD_NO;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

/* ---- finish: the whole body is in ----------------------------------------------------------- */

static const char *header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static const char *hex_sha256(request *r)
{
    uint8_t h[32];
    crypto_hash_sha256(h, r->body != NULL ? r->body : (const uint8_t *)"", r->len);
    memcpy(r->id, "sha256:", 7);
    sodium_bin2hex(r->id + 7, sizeof r->id - 7, h, sizeof h);
    return r->id;
}

/* Parse the verified body and fill the record. A body that does not parse is still stored. */
static void build_record(request *r, const cfg_endpoint *ep)
{
    hookd_parse_error pe;
    hookd_err e = ep->scheme == HOOKD_SCHEME_STANDARD
                      ? hookd_event_parse_standard(r->body, r->len, &r->ev, &pe)
                      : hookd_event_parse_telnyx(r->body, r->len, &r->ev, &pe);
    r->has_event = e == HOOKD_OK;
    store_record *rec = &r->rec;
    memset(rec, 0, sizeof *rec);
    rec->parsed = r->has_event;
    if (!r->has_event)
        snprintf(r->parse_error, sizeof r->parse_error, "%s", pe.text);
    /* The id: webhook-id for Standard Webhooks (it is signed); data.id for Telnyx. */
    r->event_id = ep->scheme == HOOKD_SCHEME_STANDARD ? header(r->conn, HOOKD_HDR_WEBHOOK_ID)
                                                      : (r->has_event ? r->ev.id : NULL);
    if (r->event_id == NULL) {
        if (r->has_event) {
            rec->parsed = false;
            snprintf(r->parse_error, sizeof r->parse_error, "the event has no id");
        }
        r->event_id = hex_sha256(r);
    }
    rec->id = r->event_id;
    rec->endpoint = ep->name;
    rec->scheme = hookd_scheme_name(ep->scheme);
    rec->received_at_us = r->received_at_us;
    rec->remote_addr = r->remote;
    rec->content_type = header(r->conn, "Content-Type");
    rec->parse_error = rec->parsed ? NULL : r->parse_error;
    rec->body = r->body;
    rec->body_len = r->len;
    if (!r->has_event)
        return;
    const hookd_event *ev = &r->ev;
    rec->event_type = ev->event_type;
    rec->occurred_at = ev->occurred_at;
    rec->occurred_at_us = ev->occurred_at_us;
    rec->call_control_id = ev->call_control_id;
    rec->call_session_id = ev->call_session_id;
    rec->call_leg_id = ev->call_leg_id;
    rec->connection_id = ev->connection_id;
    rec->failure_cause = ev->failure_cause;
    rec->hangup_cause = ev->hangup_cause;
    rec->meta_attempt = ev->attempt;
    rec->delivered_to = ev->delivered_to;
}

static enum MHD_Result finish(request *r)
{
    server *srv = r->srv;
    if (r->too_large)
        return reject(r, 413, "body_too_large", NULL, "body is over the %zu byte limit",
                      srv->cfg->max_body);
    const cfg_endpoint *ep = &srv->cfg->endpoints[r->endpoint];
    hookd_verify_result vr;
    pthread_rwlock_rdlock(&srv->keys_lock);
    hookd_err e = hookd_verify(srv->verifiers[r->endpoint], header, r->conn, r->body, r->len,
                               (int64_t)time(NULL), &vr);
    pthread_rwlock_unlock(&srv->keys_lock);
    if (e != HOOKD_OK) {
        char why[200];
        hookd_verify_describe(&vr, why, sizeof why);
        return reject(r, 401, hookd_errname(e), NULL, "%s", why);
    }
    build_record(r, ep);
    if (!r->rec.parsed)
        atomic_fetch_add(&srv->metrics.unparsed, 1);
    return submit(r, &r->rec);
}

/* ---- libmicrohttpd callbacks ---------------------------------------------------------------- */

static request *request_new(server *srv, struct MHD_Connection *conn)
{
    request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->srv = srv;
    r->conn = conn;
    r->endpoint = -1;
    r->started = now_seconds();
    r->received_at_us = now_us();
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    address_text(ci != NULL ? ci->client_addr : NULL, r->remote, sizeof r->remote);
    atomic_fetch_add(&srv->inflight, 1);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    request *r = *con_cls;
    if (r == NULL) {
        r = request_new(cls, conn);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        snprintf(r->path, sizeof r->path, "%s", url);
        return begin(r, url, method);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return r->phase == PHASE_READING ? append(r, upload_data, n) : MHD_YES;
    }
    switch (r->phase) {
    case PHASE_READING:
        return finish(r);
    case PHASE_COMMITTED:
        return respond(r);
    case PHASE_COMMITTING:
    case PHASE_ANSWERED:
        break;
    }
    return MHD_YES;
}

static void log_request(const request *r, double seconds)
{
    log_level level = r->status >= 500 ? LOG_ERROR : r->status >= 400 ? LOG_WARN : LOG_INFO;
    if (!log_enabled(level) || r->probe)
        return;
    const char *ep = r->endpoint >= 0 ? r->srv->cfg->endpoints[r->endpoint].name : NULL;
    json_t *f = json_pack("{s:s*, s:s, s:i, s:s*, s:s*, s:s*, s:f, s:s}", "endpoint", ep, "path",
                          r->path, "status", (int)r->status, "reason", r->reason, "message",
                          r->reason ? r->message : NULL, "event_id", r->event_id, "latency_ms",
                          (double)(int64_t)(seconds * 1e6) / 1000.0, "remote", r->remote);
    if (f != NULL && r->has_event && r->ev.event_type != NULL)
        json_object_set_new(f, "event_type", json_string(r->ev.event_type));
    if (f != NULL && r->outcome == STORE_DUPLICATE && r->phase == PHASE_ANSWERED && r->status == 200)
        json_object_set_new(f, "duplicate", json_true());
    log_json(level, "request", f);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *srv = cls;
    request *r = *con_cls;
    if (r == NULL)
        return;
    *con_cls = NULL;
    double seconds = now_seconds() - r->started;
    conn_watch *w = watch_of(conn);
    if (w != NULL && r->status == 0 && atomic_load(&w->cut)) { /* counted by the reaper */
        r->status = 408;
        r->reason = "request_timeout";
        snprintf(r->message, sizeof r->message, "no complete request within %u s",
                 srv->cfg->request_timeout);
    }
    if (r->status == 0) /* closed without a response: timeout, client gone, or refused early */
        r->status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 400;
    if (w != NULL) {
        atomic_store(&w->since, now_seconds()); /* the next request's deadline starts now */
        atomic_store(&w->waiting, false);
    }
    metrics_request(&srv->metrics, r->endpoint, r->status, seconds);
    log_request(r, seconds);
    if (r->has_event)
        hookd_event_free(&r->ev);
    free(r->body);
    free(r);
    atomic_fetch_sub(&srv->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->metrics.connections, 1);
        atomic_fetch_add(&srv->metrics.connections_total, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_watch *w = ci != NULL ? calloc(1, sizeof *w) : NULL;
        if (w == NULL)
            return; /* no deadline for this one; libmicrohttpd's idle timeout still applies */
        w->fd = ci->connect_fd;
        atomic_store(&w->since, now_seconds());
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        address_text(ai != NULL ? ai->client_addr : NULL, w->remote, sizeof w->remote);
        pthread_mutex_lock(&srv->watch_lock);
        w->next = srv->watches;
        if (srv->watches != NULL)
            srv->watches->prev = w;
        srv->watches = w;
        pthread_mutex_unlock(&srv->watch_lock);
        *socket_context = w;
        return;
    }
    atomic_fetch_sub(&srv->metrics.connections, 1);
    conn_watch *w = *socket_context;
    if (w == NULL)
        return;
    pthread_mutex_lock(&srv->watch_lock);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        srv->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&srv->watch_lock);
    *socket_context = NULL;
    free(w);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    log_msg(LOG_WARN, "libmicrohttpd", "%s", text);
}

/* ---- start and stop ------------------------------------------------------------------------- */

/* "127.0.0.1:8080", "[::1]:8080", ":8080" (all IPv4 addresses). */
static bool parse_listen(const char *text, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon - text >= (long)sizeof host)
        return false;
    snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port > 65535)
        return false;
    memset(ss, 0, sizeof *ss);
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (hl == 0 || strcmp(host, "*") == 0) {
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        return true;
    }
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

bool http_start(server *srv, char *err, size_t errlen)
{
    const config *c = srv->cfg;
    pthread_mutex_init(&srv->watch_lock, NULL);
    if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
        snprintf(err, errlen, "cannot start the deadline thread");
        return false;
    }
    srv->reaper_started = true;
    for (size_t i = 0; i < c->nlisten; i++) {
        struct sockaddr_storage ss;
        if (!parse_listen(c->listen[i], &ss)) {
            snprintf(err, errlen, "listen address %s: expected HOST:PORT or [IPv6]:PORT", c->listen[i]);
            return false;
        }
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                         | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
        srv->daemons[i] = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, srv,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, or early messages miss it */
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_THREAD_POOL_SIZE, c->threads,
            MHD_OPTION_CONNECTION_LIMIT, c->max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->per_ip_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, c->request_timeout,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->max_header * 2,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
            MHD_OPTION_END);
        if (srv->daemons[i] == NULL) {
            snprintf(err, errlen, "cannot listen on %s (in use, or not an address of this machine)",
                     c->listen[i]);
            return false;
        }
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemons[i], MHD_DAEMON_INFO_BIND_PORT);
        log_json(LOG_NOTICE, "listening",
                 json_pack("{s:s, s:i}", "address", c->listen[i], "port", di ? (int)di->port : 0));
    }
    return true;
}

void http_quiesce(server *srv)
{
    for (size_t i = 0; i < SRV_MAX_LISTEN; i++) {
        if (srv->daemons[i] != NULL) {
            MHD_socket fd = MHD_quiesce_daemon(srv->daemons[i]);
            if (fd != MHD_INVALID_SOCKET)
                close(fd);
        }
    }
}

void http_stop(server *srv)
{
    for (size_t i = 0; i < SRV_MAX_LISTEN; i++) {
        if (srv->daemons[i] != NULL)
            MHD_stop_daemon(srv->daemons[i]);
        srv->daemons[i] = NULL;
    }
    if (srv->reaper_started) {
        atomic_store(&srv->stop_reaper, true);
        pthread_join(srv->reaper, NULL);
        srv->reaper_started = false;
        pthread_mutex_destroy(&srv->watch_lock);
    }
}
