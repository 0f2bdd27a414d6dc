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
 *   - framing a proxy could read differently (smuggling): more than one Content-Length,
 *     Content-Length with Transfer-Encoding, a header name with a space or other non-token byte
 *     ("Content-Length : 5"), a CR or LF inside a value (obs-fold), HTTP/1.1 without one Host: 400;
 *     a Transfer-Encoding other than chunked: 501;
 *   - headers over max_header bytes: 431 (its own limit is a memory pool, not a byte count);
 *   - deadlines: its timeout is an idle timeout, so a client trickling a byte a second would
 *     hold a connection forever (slowloris). A reaper thread shuts down any connection whose
 *     headers are not in within header_timeout, or whose request is not complete within
 *     request_timeout, of its start or of its previous request;
 *   - nothing of a body is buffered before the checks that need no body (allow-list, bearer,
 *     signature headers present, timestamp in the window), and all connections together hold at
 *     most max_buffered bytes of bodies;
 *   - a body that grows past max_body (chunked) or past max_buffered mid-upload is answered 413
 *     or 503 and the connection closed: libmicrohttpd refuses to queue a response in the middle
 *     of an upload, so that answer is written on the socket here (abort_upload).
 * Sockets are watched with poll(), not epoll: with epoll, libmicrohttpd 0.9.75 does not notice a
 * client closing a half-sent request, and such connections held their slots until the deadline.
 * When every endpoint has an allow-list, other addresses are refused at accept time.
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
#include "route.h"
#include "server.h"
#include "tls.h"

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
    bool cached;                 /* ... answered from the last probe's result */
    double started;
    int64_t received_at_us;
    uint8_t *body;
    size_t len, cap;             /* cap bytes are counted in srv->buffered */
    size_t declared;             /* Content-Length, or 0 */
    size_t discarded;            /* bytes dropped after an answer mid-upload */
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

/* One line per second at most while the store fails (a database outage fails every request),
 * with how many failures it stands for. */
static void log_store_failure(const char *error)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static time_t last;
    static unsigned quiet;
    time_t now = time(NULL);
    pthread_mutex_lock(&lock);
    bool say = now != last;
    unsigned also = quiet;
    if (say) {
        last = now;
        quiet = 0;
    } else {
        quiet++;
    }
    pthread_mutex_unlock(&lock);
    if (say)
        log_json(LOG_ERROR, "store failed", json_pack("{s:s, s:i}", "detail", error != NULL ? error : "?",
                                                      "also_failed_since_last_line", (int)also));
}

/* ---- deadlines ------------------------------------------------------------------------------ */

/* One open connection, as the reaper sees it. Created and freed in on_connection(); libmicrohttpd
 * reports a connection closed before it closes the socket, and the entry leaves the list under
 * watch_lock first, so the reaper never shuts down a descriptor that was reused. */
typedef struct conn_watch {
    int fd;
    _Atomic double since;    /* connection start, or the end of its previous request */
    atomic_bool headers_in;  /* the current request's headers are complete */
    atomic_bool waiting;     /* suspended for the store: our delay, not the client's */
    atomic_bool cut;         /* the reaper shut it down */
    char remote[INET6_ADDRSTRLEN];
    struct conn_watch *prev, *next;
} conn_watch;

void http_address_text(const struct sockaddr *a, char *out, size_t cap)
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
            bool headers_in = atomic_load(&w->headers_in);
            unsigned limit = srv->cfg->request_timeout;
            if (!headers_in && srv->cfg->header_timeout < limit)
                limit = srv->cfg->header_timeout;
            if (!atomic_load(&w->waiting) && !atomic_load(&w->cut)
                && now - atomic_load(&w->since) > limit) {
                const char *reason = headers_in ? "request_timeout" : "header_timeout";
                atomic_store(&w->cut, true);
                shutdown(w->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
                metrics_reject(&srv->metrics, reason);
                log_json(LOG_WARN, "connection cut",
                         json_pack("{s:i, s:s, s:s, s:i}", "status", 408, "reason", reason,
                                   "remote", w->remote, "timeout_s", (int)limit));
            }
        }
        pthread_mutex_unlock(&srv->watch_lock);
    }
    return NULL;
}

/* ---- responses ------------------------------------------------------------------------------ */

/* Queue a JSON text as the response (copied). */
static enum MHD_Result send_text(request *r, unsigned status, const char *payload, size_t len,
                                 const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)payload, MHD_RESPMEM_MUST_COPY);
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

/* Queue a JSON response; takes the reference to body. */
static enum MHD_Result send_json(request *r, unsigned status, json_t *body, const char *allow)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    enum MHD_Result ok = text != NULL ? send_text(r, status, text, strlen(text), allow)
                                      : send_text(r, status, "{}", 2, allow);
    free(text);
    return ok;
}

/* s as a JSON string, quotes included, as json_dumps writes it (JSON_COMPACT): ", \ and the
 * ASCII controls escaped, every other byte as it is (the caller vouches for UTF-8). Its length,
 * or 0 when out is too small. The console's live stream writes its fields with it too. */
size_t http_json_quote(char *out, size_t cap, const char *s)
{
    static const char esc[0x20] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    size_t n = 0;
    if (cap < 3)
        return 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (n + 8 > cap)
            return 0;
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20 && esc[*p] != 0) {
            out[n++] = '\\';
            out[n++] = esc[*p];
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04X", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

static bool ascii(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s >= 0x80)
            return false;
    }
    return true;
}

/* The answer to a stored delivery, {"status":"accepted","id":ID} (and "parse":"unparsed"), written
 * from a template, byte for byte what json_pack and json_dumps would write, without building a
 * document per request. An id beyond ASCII goes through jansson, which checks its UTF-8 (a
 * webhook-id header can hold any bytes). */
static enum MHD_Result send_stored(request *r, const char *word, bool unparsed)
{
    char id[400], text[512];
    if (!ascii(r->event_id) || http_json_quote(id, sizeof id, r->event_id) == 0) {
        json_t *j = json_pack("{s:s, s:s}", "status", word, "id", r->event_id);
        if (j != NULL && unparsed)
            json_object_set_new(j, "parse", json_string("unparsed"));
        return send_json(r, 200, j, NULL);
    }
    int n = snprintf(text, sizeof text, "{\"status\":\"%s\",\"id\":%s%s}", word, id,
                     unparsed ? ",\"parse\":\"unparsed\"" : "");
    return send_text(r, 200, text, (size_t)n, NULL);
}

/* Record a refusal (reason, message, metric) and build its JSON body. */
static json_t *refusal(request *r, const char *reason, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static json_t *refusal(request *r, const char *reason, const char *fmt, va_list ap)
{
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    r->reason = reason;
    metrics_reject(&r->srv->metrics, reason);
    return json_pack("{s:s, s:s, s:s}", "status", "rejected", "reason", reason, "message",
                     r->message);
}

/* Refuse with a reason code and a message (never a secret or an expected signature). */
static enum MHD_Result reject(request *r, unsigned status, const char *reason, const char *allow,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result reject(request *r, unsigned status, const char *reason, const char *allow,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *body = refusal(r, reason, fmt, ap);
    va_end(ap);
    return send_json(r, status, body, allow);
}

/* Answer in the middle of an upload, and close. libmicrohttpd 0.9.75 will not queue a response
 * while a body is arriving, so the response is written on the socket directly (it is small and
 * the socket's send buffer is empty while we read) and the write side is shut (FIN after it).
 * Closing at once would reset the connection while the client is still sending, and a client
 * whose send fails may never read the answer; so the connection lingers: what still arrives is
 * dropped, up to SRV_DISCARD_MAX bytes, and the reaper cuts it SRV_LINGER_S later. Clients
 * (curl, Node, Go) stop sending when an error response arrives mid-upload. */
static enum MHD_Result abort_upload(request *r, unsigned status, const char *reason,
                                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result abort_upload(request *r, unsigned status, const char *reason,
                                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *j = refusal(r, reason, fmt, ap);
    va_end(ap);
    r->status = status;
    r->phase = PHASE_ANSWERED;
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (body != NULL && ci != NULL) {
        char head[256];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "%sConnection: close\r\n\r\n",
                         status, status == 413 ? "Content Too Large" : "Service Unavailable",
                         strlen(body), status == 503 ? "Retry-After: " SRV_RETRY_AFTER "\r\n" : "");
        struct iovec iov[2] = {{head, (size_t)n}, {body, strlen(body)}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t sent = sendmsg(ci->connect_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)sent; /* a client that stopped reading gets the close alone */
        shutdown(ci->connect_fd, SHUT_WR);
    }
    free(body);
    conn_watch *w = watch_of(r->conn);
    if (w == NULL)
        return MHD_NO;
    atomic_store(&w->since, now_seconds() - r->srv->cfg->request_timeout + SRV_LINGER_S);
    return MHD_YES;
}

/* 401 with what the verifier found (never a key or an expected signature). */
static enum MHD_Result reject_unverified(request *r, hookd_err e, const hookd_verify_result *vr)
{
    char why[200];
    hookd_verify_describe(vr, why, sizeof why);
    return reject(r, 401, hookd_errname(e), NULL, "%s", why);
}

/* The answer once the store has spoken. */
static enum MHD_Result respond(request *r)
{
    /* The next second's probes get a real probe's answer. (A cached answer once renewed the
     * cache: polled more than once a second, /readyz repeated its first answer for ever, and a
     * node stayed "not ready" after its database came back.) */
    if (r->probe && !r->cached) {
        atomic_store(&r->srv->ready_ok, r->outcome == STORE_PROBED);
        atomic_store(&r->srv->ready_until_ms, (long long)(now_seconds() * 1000) + SRV_READY_CACHE_MS);
    }
    switch (r->outcome) {
    case STORE_PROBED:
        return send_json(r, 200, json_pack("{s:s}", "status", "ready"), NULL);
    case STORE_NEW:
        return send_stored(r, "accepted", !r->rec.parsed);
    case STORE_DUPLICATE:
        return send_stored(r, "duplicate", false);
    case STORE_WRITTEN: /* not a request's outcome */
    case STORE_FAILED:
        break;
    }
    log_store_failure(r->store_error);
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

/* What the header lines say about framing, gathered in one pass. */
typedef struct framing {
    unsigned content_length, transfer_encoding, host;
    size_t bytes;             /* of all header lines, as "name: value\r\n" */
    const char *bad_name;     /* the first name that is not a token, or that only starts like
                               * Content-Length / Transfer-Encoding */
    const char *bad_value;    /* the name of the first value holding a CR or LF (obs-fold) */
} framing;

/* RFC 9110 token characters. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return false;
    }
    return true;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    framing *h = cls;
    h->bytes += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
    bool cl = strcasecmp(key, "Content-Length") == 0, te = strcasecmp(key, "Transfer-Encoding") == 0;
    h->content_length += cl;
    h->transfer_encoding += te;
    h->host += strcasecmp(key, "Host") == 0;
    if (h->bad_name == NULL
        && (!is_token(key) || (!cl && strncasecmp(key, "Content-Length", 14) == 0)
            || (!te && strncasecmp(key, "Transfer-Encoding", 17) == 0)))
        h->bad_name = key;
    if (h->bad_value == NULL && value != NULL && strpbrk(value, "\r\n") != NULL)
        h->bad_value = key;
    return MHD_YES;
}

/* Reject what a proxy in front of us could frame differently; MHD_YES when all is well. */
static enum MHD_Result check_framing(request *r, const char *url, const char *method,
                                     const char *version, bool *rejected)
{
    server *srv = r->srv;
    framing h = {.bytes = strlen(url) + strlen(method) + 12};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &h);
    *rejected = true;
    if (h.bytes > srv->cfg->max_header)
        return reject(r, 431, "header_too_large", NULL, "headers of %zu bytes are over the %zu byte limit",
                      h.bytes, srv->cfg->max_header);
    if (h.bad_name != NULL)
        return reject(r, 400, "bad_header_name", NULL,
                      "a header name is not a token, or only begins like a framing header");
    if (h.bad_value != NULL)
        return reject(r, 400, "bad_header_value", NULL,
                      "a header value holds a CR or LF (line folding is not accepted)");
    if (h.content_length > 1)
        return reject(r, 400, "ambiguous_length", NULL, "more than one Content-Length header");
    if (h.content_length > 0 && h.transfer_encoding > 0)
        return reject(r, 400, "ambiguous_length", NULL,
                      "Content-Length together with Transfer-Encoding");
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if (h.transfer_encoding > 1 || (te != NULL && strcasecmp(te, "chunked") != 0))
        return reject(r, 501, "transfer_encoding_unsupported", NULL,
                      "only Transfer-Encoding: chunked is understood");
    if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && h.host != 1)
        return reject(r, 400, "host_missing", NULL, "an HTTP/1.1 request needs exactly one Host header");
    *rejected = false;
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

static const struct sockaddr *client_addr(const request *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci != NULL ? ci->client_addr : NULL;
}

static bool allowed(server *srv, const allow_list *l, const struct sockaddr *addr)
{
    pthread_rwlock_rdlock(&srv->keys_lock);
    bool ok = allow_match(l, addr);
    pthread_rwlock_unlock(&srv->keys_lock);
    return ok;
}

/* /healthz for everyone; /readyz and /metrics for ops_allow (a probe is a 64 KiB write + fsync,
 * and metrics name endpoints and handlers). */
static enum MHD_Result health(request *r, const char *url, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reject(r, 405, "method_not_allowed", "GET, HEAD", "%s takes GET", url);
    if (strcmp(url, "/healthz") == 0)
        return send_json(r, 200, json_pack("{s:s}", "status", "alive"), NULL);
    if (!allowed(r->srv, &r->srv->ops_allow, client_addr(r)))
        return reject(r, 403, "source_not_allowed", NULL, "%s may not read %s ([server] ops_allow)",
                      r->remote, url);
    if (strcmp(url, "/readyz") == 0) {
        r->probe = true;
        if ((long long)(now_seconds() * 1000) < atomic_load(&r->srv->ready_until_ms)) {
            r->outcome = atomic_load(&r->srv->ready_ok) ? STORE_PROBED : STORE_FAILED;
            snprintf(r->store_error, sizeof r->store_error, "the last probe failed");
            r->cached = true;
            return respond(r);
        }
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

static const char *header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static enum MHD_Result begin(request *r, const char *url, const char *method, const char *version)
{
    server *srv = r->srv;
    bool rejected = false;
    enum MHD_Result framing_result = check_framing(r, url, method, version, &rejected);
    if (rejected)
        return framing_result;
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    unsigned long long declared = cl != NULL ? strtoull(cl, NULL, 10) : 0;
    if (declared > srv->cfg->max_body)
        return reject(r, 413, "body_too_large", NULL, "body of %s bytes is over the %zu byte limit",
                      cl, srv->cfg->max_body);
    r->declared = (size_t)declared;

    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 || strcmp(url, "/metrics") == 0)
        return health(r, url, method);
    r->endpoint = find_endpoint(srv, url);
    if (r->endpoint < 0)
        return reject(r, 404, "not_found", NULL, "no endpoint at %s", url);
    if (strcmp(method, "POST") != 0)
        return reject(r, 405, "method_not_allowed", "POST", "webhooks are delivered with POST");
    if (!allowed(srv, &srv->allow[r->endpoint], client_addr(r)))
        return reject(r, 403, "source_not_allowed", NULL, "%s may not deliver to this endpoint",
                      r->remote);
    /* Everything that needs no body, before a byte of it is buffered. */
    hookd_verify_result vr;
    pthread_rwlock_rdlock(&srv->keys_lock);
    hookd_err e = hookd_verify_headers(srv->verifiers[r->endpoint], header, r->conn,
                                       (int64_t)time(NULL), &vr);
    pthread_rwlock_unlock(&srv->keys_lock);
    if (e != HOOKD_OK)
        return reject_unverified(r, e, &vr);
    return MHD_YES;
}

/* ---- append: a chunk of body ---------------------------------------------------------------- */

/* The buffer grows with what arrives (doubling, up to the declared length), so a client holds
 * only about what it sent; every byte of capacity is counted against max_buffered. */
static enum MHD_Result append(request *r, const char *data, size_t n)
{
    server *srv = r->srv;
    if (n > srv->cfg->max_body - r->len)
        return abort_upload(r, 413, "body_too_large", "body is over the %zu byte limit",
                            srv->cfg->max_body);
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n)
            cap *= 2;
        if (r->declared >= r->len + n && cap > r->declared)
            cap = r->declared;
        if (cap > srv->cfg->max_body)
            cap = srv->cfg->max_body;
        size_t more = cap - r->cap;
        if (atomic_fetch_add(&srv->buffered, more) + more > srv->cfg->max_buffered) {
            atomic_fetch_sub(&srv->buffered, more);
            return abort_upload(r, 503, "server_busy",
                                "request bodies in progress fill the %zu byte buffer; retry later",
                                srv->cfg->max_buffered);
        }
        uint8_t *b = realloc(r->body, cap);
        if (b == NULL) {
            atomic_fetch_sub(&srv->buffered, more);
            return MHD_NO;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

/* ---- finish: the whole body is in ----------------------------------------------------------- */

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
    if (r->has_event) {
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
    rec->nhandlers = route_event(r->srv->cfg, ep->name, rec->parsed ? rec->event_type : NULL,
                                 rec->handlers, SRV_MAX_HANDLERS);
}
static enum MHD_Result finish(request *r)
{
    server *srv = r->srv;
    const cfg_endpoint *ep = &srv->cfg->endpoints[r->endpoint];
    hookd_verify_result vr;
    pthread_rwlock_rdlock(&srv->keys_lock);
    hookd_err e = hookd_verify(srv->verifiers[r->endpoint], header, r->conn, r->body, r->len,
                               (int64_t)time(NULL), &vr);
    pthread_rwlock_unlock(&srv->keys_lock);
    if (e != HOOKD_OK)
        return reject_unverified(r, e, &vr);
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
    http_address_text(ci != NULL ? ci->client_addr : NULL, r->remote, sizeof r->remote);
    atomic_fetch_add(&srv->inflight, 1);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    request *r = *con_cls;
    if (r == NULL) {
        r = request_new(cls, conn);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        snprintf(r->path, sizeof r->path, "%s", url);
        conn_watch *w = watch_of(conn);
        if (w != NULL)
            atomic_store(&w->headers_in, true);
        return begin(r, url, method, version);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->phase == PHASE_READING)
            return append(r, upload_data, n);
        r->discarded += n; /* answered mid-upload: drop, then close */
        return r->discarded > SRV_DISCARD_MAX ? MHD_NO : MHD_YES;
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
    if (r->status == 0 && r->phase == PHASE_READING && r->endpoint >= 0
        && toe != MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) {
        r->reason = "client_closed"; /* closed before the end of its body */
        snprintf(r->message, sizeof r->message, "the client closed the connection after %zu bytes "
                 "of its body", r->len);
        metrics_reject(&srv->metrics, "client_closed");
    }
    if (r->status == 0) /* closed without a response: timeout, client gone, or refused early */
        r->status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 400;
    if (w != NULL) {
        atomic_store(&w->since, now_seconds()); /* the next request's deadline starts now */
        atomic_store(&w->headers_in, false);
        atomic_store(&w->waiting, false);
    }
    atomic_fetch_sub(&srv->buffered, r->cap);
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
        http_address_text(ai != NULL ? ai->client_addr : NULL, w->remote, sizeof w->remote);
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

void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    log_msg(LOG_WARN, cls != NULL ? (const char *)cls : "libmicrohttpd", "%s", text);
}

/* ---- start and stop ------------------------------------------------------------------------- */

void server_set_allow(server *srv, const config *cfg)
{
    srv->accept_any = false;
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        srv->allow[i] = cfg->endpoints[i].allow;
        if (cfg->endpoints[i].allow.count == 0)
            srv->accept_any = true;
    }
    srv->ops_allow = cfg->ops_allow;
    if (cfg->ops_allow.count == 0)
        srv->accept_any = true;
}

/* At accept time: when every endpoint (and ops_allow) has an allow-list, an address on none of
 * them gets no connection slot at all (it never reaches a header or a deadline). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    server *srv = cls;
    pthread_rwlock_rdlock(&srv->keys_lock);
    bool ok = srv->accept_any || allow_match(&srv->ops_allow, addr);
    for (size_t i = 0; !ok && i < srv->cfg->nendpoints; i++)
        ok = allow_match(&srv->allow[i], addr);
    pthread_rwlock_unlock(&srv->keys_lock);
    if (!ok)
        metrics_reject(&srv->metrics, "source_refused_at_accept");
    return ok ? MHD_YES : MHD_NO;
}

bool http_parse_listen(const char *text, struct sockaddr_storage *ss)
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
    bool tls_ready = false;
    if (!MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK)) {
        for (size_t i = 0; i < c->nlisten; i++) {
            if (strncmp(c->listen[i], "tls:", 4) == 0) {
                snprintf(err, errlen, "this libmicrohttpd has no TLS certificate callback: tls: listeners are not possible");
                return false;
            }
        }
    }
    pthread_mutex_init(&srv->watch_lock, NULL);
    if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
        snprintf(err, errlen, "cannot start the deadline thread");
        return false;
    }
    srv->reaper_started = true;
    for (size_t i = 0; i < c->nlisten; i++) {
        struct sockaddr_storage ss;
        bool tls = strncmp(c->listen[i], "tls:", 4) == 0;
        if (tls && !tls_ready) {
            if (!tls_load(c->tls_cert, c->tls_key, err, errlen))
                return false;
            tls_ready = true;
        }
        if (!http_parse_listen(c->listen[i] + (tls ? 4 : 0), &ss)) {
            snprintf(err, errlen, "listen address %s: expected HOST:PORT or [IPv6]:PORT", c->listen[i]);
            return false;
        }
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME
                         | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0)
                         | (tls ? MHD_USE_TLS : 0);
        /* A plain listener ends its option list at the first MHD_OPTION_END below. */
        struct MHD_OptionItem tls_options[] = {
            {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_retrieve},
            {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
            {MHD_OPTION_END, 0, NULL},
        };
        srv->daemons[i] = MHD_start_daemon(
            flags, 0, accept_policy, srv, on_request, srv,
            MHD_OPTION_ARRAY, tls ? tls_options : tls_options + 2,
            MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL, /* first, or early messages miss it */
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
                 json_pack("{s:s, s:i, s:b}", "address", c->listen[i], "port", di ? (int)di->port : 0,
                           "tls", tls));
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
