/*
 * dispatch.c - run the handlers: exec a program or forward a signed request, at least once.
 *
 * Deliveries are written in the same transaction as their event (the store's event_upsert), so a
 * stored event always has them and a duplicate creates none. The scheduler thread reads due
 * deliveries through a store reader of its own every DISPATCH_POLL_MS (or when the writer says
 * some became due), one handler at a time (so one handler's backlog never hides another's),
 * honours each handler's concurrency and order = call, and starts one thread per attempt. For an
 * order = call handler, a due delivery blocked behind the head of its call is parked ('waiting',
 * re-examined within DISPATCH_PARK_RECHECK_S, woken when the head ends), so the scan never walks
 * a growing pile of blocked rows and never stalls behind them.
 *
 * Every state change (in flight, parked, attempt recorded, succeeded / retry / dead) goes through
 * the store's writer queue like events do, so dispatch never holds the store's write lock. Nor
 * does the writer ever wait for dispatch: its callbacks only push onto a lock-free list and write
 * to an eventfd (so no wake-up is lost), and the scheduler reaps that list. A delivery stays
 * claimed in memory until its attempt is committed; one found in flight at start (hookd died) is
 * owed again: at least once.
 *
 *   exec     the program without a shell, the raw body on stdin, HOOKD_* in the environment, in
 *            its own process group (a timeout kills the whole group); exit 0 is success
 *   forward  POST the original body signed as Standard Webhooks (webhook-id = the event id,
 *            v1 and/or v1a); any 2xx is success; Retry-After on 429/503 is honoured; 410 makes
 *            the handler's queued deliveries dead
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "dispatch.h"
#include "log.h"
#include "route.h"

extern char **environ;

/* A handler's settings that SIGHUP may change (dispatch_reload); each attempt takes a copy. */
typedef struct handler_limits {
    unsigned timeout, concurrency, max_attempts, retry_base, retry_max;
} handler_limits;

/* One attempt: a copy of everything it needs, so the scheduler's rows can go. */
typedef struct attempt {
    dispatcher *d;
    size_t handler;           /* index into cfg->handlers */
    handler_limits lim;       /* as they were when it was scheduled */
    int64_t delivery_id;
    int number;               /* 1-based */
    int64_t lease_token;      /* its claim's fencing token (shared stores), or 0 */
    char *call_key;
    /* the event */
    char *event_id, *endpoint, *event_type, *occurred_at, *content_type;
    char *call_control_id, *call_session_id, *call_leg_id, *failure_cause, *hangup_cause;
    uint8_t *body;
    size_t body_len;
    /* the outcome */
    char output[HANDLER_OUTPUT_KEEP];
    size_t output_len;
    char error[256];
    long retry_after;         /* seconds asked for by the target, 0 when not */
    store_attempt record;
    store_job record_job;
    store_outcome record_outcome; /* set by the writer before the attempt goes on `finished` */
    bool resubmit;            /* its record did not commit: the scheduler submits it again */
    int64_t resubmit_at_us;   /* ... not before this (the store may be full: back off) */
    int resubmit_ms;          /* the current wait, doubling to DISPATCH_RECORD_RETRY_MAX_MS */
    struct attempt *next;     /* in the running list */
    struct attempt *next_finished;
} attempt;

/* order = call on a shared store: a lane whose wake-up after a commit failed (the database went
 * away), tried again until it works, so its parked deliveries do not wait for the recheck. */
typedef struct lane_wake {
    size_t handler;
    char *call_key;
    int64_t at_us;
    int ms;
    struct lane_wake *next;
} lane_wake;

struct dispatcher {
    const config *cfg;
    store *store;
    metrics *m;
    store_reader *reader;     /* the scheduler's own connection to the store */
    hookd_signer *signers[SRV_MAX_HANDLERS][2]; /* forward: v1, v1a */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    int wake_fd;              /* eventfd: anyone may kick the scheduler without waiting */
    bool stopping;
    attempt *running;         /* claimed: running, or waiting for their record to commit */
    _Atomic(attempt *) finished; /* records committed (or not): pushed by the writer, lock-free */
    unsigned inflight[SRV_MAX_HANDLERS];
    handler_limits lim[SRV_MAX_HANDLERS]; /* under lock; replaced on SIGHUP */
    int64_t record_error_logged_us; /* "cannot record" is logged once per interval, not per try */
    bool claims;              /* the store is shared: claim with leases (store_claim) */
    int64_t next_rescue_us;   /* ... and look for leases that ran out then */
    unsigned record_errors_quiet;   /* failures not logged since */
    lane_wake *wakes;         /* lanes to wake again (scheduler thread only) */
    size_t nwakes;
};

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void attempt_free(attempt *a)
{
    char *strings[] = {a->call_key,        a->event_id,        a->endpoint,    a->event_type,
                       a->occurred_at,     a->content_type,    a->call_control_id,
                       a->call_session_id, a->call_leg_id,     a->failure_cause,
                       a->hangup_cause};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
    free(a->body);
    free(a);
}

static void keep_output(attempt *a, const char *data, size_t n)
{
    size_t room = sizeof a->output - a->output_len;
    if (n > room)
        n = room;
    memcpy(a->output + a->output_len, data, n);
    a->output_len += n;
}

/* ---- exec ----------------------------------------------------------------------------------- */

static char *env_pair(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value != NULL ? value : "") + 2;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s=%s", name, value != NULL ? value : "");
    return s;
}

/* The variables hookd sets for a handler; any of the daemon's own with these names are replaced. */
static const char *const event_vars[] = {
    "HOOKD_EVENT_ID",        "HOOKD_EVENT_TYPE",    "HOOKD_ENDPOINT",     "HOOKD_CALL_CONTROL_ID",
    "HOOKD_CALL_SESSION_ID", "HOOKD_CALL_LEG_ID",   "HOOKD_FAILURE_CAUSE", "HOOKD_HANGUP_CAUSE",
    "HOOKD_OCCURRED_AT",     "HOOKD_DELIVERY_ATTEMPT",
};
#define NEVENT_VARS (sizeof event_vars / sizeof event_vars[0])

static bool is_event_var(const char *entry)
{
    for (size_t i = 0; i < NEVENT_VARS; i++) {
        size_t n = strlen(event_vars[i]);
        if (strncmp(entry, event_vars[i], n) == 0 && entry[n] == '=')
            return true;
    }
    return false;
}

/* Does the handler pass this "NAME=value" entry of the daemon's environment on? */
static bool passes(const cfg_handler *h, const char *entry)
{
    if (is_event_var(entry))
        return false;
    if (!h->env_clear)
        return true;
    for (size_t i = 0; i < h->nenv_pass; i++) {
        size_t n = strlen(h->env_pass[i]);
        if (strncmp(entry, h->env_pass[i], n) == 0 && entry[n] == '=')
            return true;
    }
    return false;
}

/* The daemon's environment (so PATH, API keys and the like reach handlers), or with env_clear /
 * env_pass only the variables named, and this event's HOOKD_* variables in place of any the
 * daemon had. NULL-terminated. */
static char **exec_env(const attempt *a, const cfg_handler *h)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + NEVENT_VARS + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (passes(h, environ[i]))
            env[k++] = strdup(environ[i]);
    }
    char attempt_no[16];
    snprintf(attempt_no, sizeof attempt_no, "%d", a->number);
    const char *values[NEVENT_VARS] = {
        a->event_id,        a->event_type,  a->endpoint,      a->call_control_id, a->call_session_id,
        a->call_leg_id,     a->failure_cause, a->hangup_cause, a->occurred_at,  attempt_no,
    };
    for (size_t i = 0; i < NEVENT_VARS; i++)
        env[k++] = env_pair(event_vars[i], values[i]);
    env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

/* Feed stdin, collect output, until the child exits or the deadline passes. */
static bool supervise(attempt *a, pid_t pid, int in, int out, double deadline, int *status)
{
    size_t written = 0;
    for (;;) {
        if (waitpid(pid, status, WNOHANG) == pid)
            break;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double left = deadline - ((double)t.tv_sec + (double)t.tv_nsec / 1e9);
        if (left <= 0)
            return false;
        struct pollfd p[2] = {{out, POLLIN, 0}, {in, POLLOUT, 0}};
        int np = in >= 0 ? 2 : 1;
        int ms = left < 0.05 ? 1 : 50; /* also notice an exit that closes no pipe */
        if (poll(p, (nfds_t)np, ms) < 0 && errno != EINTR)
            return false;
        if (p[0].revents & (POLLIN | POLLHUP)) {
            char buf[4096];
            ssize_t n = read(out, buf, sizeof buf);
            if (n > 0)
                keep_output(a, buf, (size_t)n);
        }
        if (in >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = written < a->body_len ? write(in, a->body + written, a->body_len - written) : 0;
            if (n > 0)
                written += (size_t)n;
            if (n < 0 || written >= a->body_len) { /* all written, or the child closed stdin */
                close(in);
                in = -1;
            }
        }
    }
    if (in >= 0)
        close(in);
    char buf[4096];
    ssize_t n;
    while ((n = read(out, buf, sizeof buf)) > 0) /* what the child wrote before exiting */
        keep_output(a, buf, (size_t)n);
    return true;
}

static attempt_outcome run_exec(attempt *a, const cfg_handler *h, int *exit_code)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
        snprintf(a->error, sizeof a->error, "pipe: %s", strerror(errno));
        return OUTCOME_FAILED;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        snprintf(a->error, sizeof a->error, "pipe: %s", strerror(errno));
        return OUTCOME_FAILED;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0); /* its own process group, so a timeout kills it all */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                        | POSIX_SPAWN_SETSIGDEF);
    char **env = exec_env(a, h);
    pid_t pid = 0;
    int rc = env != NULL ? posix_spawn(&pid, h->argv[0], &fa, &attr, h->argv, env) : ENOMEM;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free_env(env);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        snprintf(a->error, sizeof a->error, "cannot run %s: %s", h->argv[0], strerror(rc));
        return OUTCOME_FAILED;
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int status = 0;
    bool finished = supervise(a, pid, in[1], out[0], (double)t.tv_sec + (double)t.tv_nsec / 1e9 + a->lim.timeout,
                              &status);
    if (!finished) {
        kill(-pid, SIGKILL); /* the whole process group */
        waitpid(pid, &status, 0);
        close(out[0]);
        snprintf(a->error, sizeof a->error, "no exit within %u s: process group killed", a->lim.timeout);
        return OUTCOME_TIMEOUT;
    }
    close(out[0]);
    if (WIFEXITED(status)) {
        *exit_code = WEXITSTATUS(status);
        if (*exit_code == 0)
            return OUTCOME_SUCCEEDED;
        snprintf(a->error, sizeof a->error, "exit status %d", *exit_code);
        return OUTCOME_FAILED;
    }
    snprintf(a->error, sizeof a->error, "killed by signal %d", WTERMSIG(status));
    return OUTCOME_FAILED;
}

/* ---- forward -------------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    keep_output(ud, ptr, size * n);
    return size * n;
}

/* Retry-After: delay-seconds or an HTTP-date; 0 when absent, malformed or in the past. Any size
 * is safe here: it is clamped to a week, and backoff_us() caps it at the handler's retry_max. */
long dispatch_parse_retry_after(const char *value, size_t len, time_t now)
{
    char text[128];
    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' || value[len - 1] == ' '))
        len--;
    if (len == 0 || len >= sizeof text)
        return 0;
    memcpy(text, value, len);
    text[len] = '\0';
    const long week = 7L * 86400;
    if (strspn(text, "0123456789") == len) {
        size_t digits = strspn(text, "0");
        if (len - digits > 7) /* more than 9,999,999 s: clamp without converting */
            return week;
        long v = strtol(text, NULL, 10);
        return v > week ? week : v;
    }
    time_t when = curl_getdate(text, NULL);
    if (when == (time_t)-1 || when <= now)
        return 0;
    return when - now > week ? week : (long)(when - now);
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    attempt *a = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0)
        a->retry_after = dispatch_parse_retry_after(ptr + 12, len - 12, time(NULL));
    return len;
}

/* The webhook-signature value: a v1 entry and/or a v1a entry. */
static bool sign_forward(const dispatcher *d, const attempt *a, const char *ts, char *out, size_t cap)
{
    out[0] = '\0';
    size_t used = 0;
    for (int k = 0; k < 2; k++) {
        const hookd_signer *s = d->signers[a->handler][k];
        if (s == NULL)
            continue;
        if (used > 0 && used + 1 < cap)
            out[used++] = ' ';
        if (hookd_sign(s, a->event_id, ts, a->body, a->body_len, out + used, cap - used) != HOOKD_OK)
            return false;
        used += strlen(out + used);
    }
    return true;
}

static attempt_outcome run_forward(attempt *a, const cfg_handler *h, int *http_status)
{
    char ts[32], sig[2 * HOOKD_SIGNATURE_BUFSIZE];
    char line[3][HOOKD_MAX_ID_LEN + 2 * HOOKD_SIGNATURE_BUFSIZE + 32];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    if (!sign_forward(a->d, a, ts, sig, sizeof sig)) {
        /* This event can never be signed: no retry would help, and no other delivery is at
         * fault, so only this one goes dead. The id is not echoed (it may hold control bytes). */
        snprintf(a->error, sizeof a->error,
                 "the event id (%zu bytes) cannot be a webhook-id: it is over %d bytes or holds '.' "
                 "or a control byte", strlen(a->event_id), HOOKD_MAX_ID_LEN);
        return OUTCOME_INVALID;
    }
    snprintf(line[0], sizeof line[0], "webhook-id: %s", a->event_id);
    snprintf(line[1], sizeof line[1], "webhook-timestamp: %s", ts);
    snprintf(line[2], sizeof line[2], "webhook-signature: %s", sig);
    char ctype[300];
    snprintf(ctype, sizeof ctype, "Content-Type: %s", a->content_type ? a->content_type : "application/json");
    struct curl_slist *hdrs = NULL;
    static const char user_agent[] = "User-Agent: hookd/" HOOKD_VERSION_STRING;
    const char *all[] = {ctype, user_agent, "Expect:", line[0], line[1], line[2]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        struct curl_slist *next = curl_slist_append(hdrs, all[i]);
        if (next == NULL)
            break;
        hdrs = next;
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        curl_slist_free_all(hdrs);
        snprintf(a->error, sizeof a->error, "cannot create an HTTP client");
        return OUTCOME_FAILED;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->body_len > 0 ? (const char *)a->body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)a->lim.timeout * 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        snprintf(a->error, sizeof a->error, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
        return rc == CURLE_OPERATION_TIMEDOUT ? OUTCOME_TIMEOUT : OUTCOME_FAILED;
    }
    *http_status = (int)status;
    if (status >= 200 && status < 300)
        return OUTCOME_SUCCEEDED;
    if (status == 410) {
        snprintf(a->error, sizeof a->error, "HTTP 410 Gone: the handler's queued deliveries are dead");
        return OUTCOME_GONE;
    }
    if (status != 429 && status != 503)
        a->retry_after = 0;
    snprintf(a->error, sizeof a->error, "HTTP %ld", status);
    return OUTCOME_FAILED;
}

/* ---- one attempt ---------------------------------------------------------------------------- */

/* The wait before attempt n + 1: retry_base doubling, capped at retry_max, +-20% jitter. A
 * target's Retry-After lengthens it, but never past retry_max. */
static int64_t backoff_us(const handler_limits *h, int n, long retry_after)
{
    double wait = h->retry_base;
    for (int i = 1; i < n && wait < h->retry_max; i++)
        wait *= 2;
    if (wait > h->retry_max)
        wait = h->retry_max;
    wait *= 0.8 + 0.4 * (double)randombytes_uniform(1001) / 1000.0;
    if (retry_after > 0 && (double)retry_after > wait)
        wait = retry_after < (long)h->retry_max ? (double)retry_after : (double)h->retry_max;
    return (int64_t)(wait * 1e6);
}

/* Wake the scheduler: one write to an eventfd, which never blocks and is never lost. */
static void kick(dispatcher *d)
{
    uint64_t one = 1;
    ssize_t n = write(d->wake_fd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is full, so a wake-up is pending anyway */
}

/* Sleep until kicked (by this process, or by another node through the store's notices) or until
 * ms have passed; called without d->lock, on the scheduler's thread (the reader is its own). */
static void nap(dispatcher *d, int ms)
{
    struct pollfd p[2] = {{d->wake_fd, POLLIN, 0}, {d->claims ? store_wait_fd(d->reader) : -1, POLLIN, 0}};
    if (poll(p, p[1].fd >= 0 ? 2 : 1, ms) > 0) {
        if (p[0].revents & POLLIN) {
            uint64_t v;
            ssize_t n = read(d->wake_fd, &v, sizeof v);
            (void)n;
        }
        if (p[1].fd >= 0 && p[1].revents != 0)
            store_drain_notices(d->reader);
    }
}

/* Called by the store's writer once the attempt's record committed (or could not be). The writer
 * must not wait for dispatch: push the attempt for the scheduler to reap, and kick. */
static void recorded(void *ctx, store_outcome outcome, const char *error)
{
    attempt *a = ctx;
    dispatcher *d = a->d;
    a->record_outcome = outcome;
    if (outcome == STORE_FAILED) { /* one line per interval, however many records are refused */
        int64_t now = now_us();
        pthread_mutex_lock(&d->lock);
        if (now - d->record_error_logged_us >= (int64_t)DISPATCH_RECORD_RETRY_MAX_MS * 1000) {
            log_json(LOG_ERROR, "cannot record delivery attempts; retrying with backoff",
                     json_pack("{s:s, s:i}", "error", error != NULL ? error : "?", "since_last_log",
                               (int)d->record_errors_quiet));
            d->record_error_logged_us = now;
            d->record_errors_quiet = 0;
        } else {
            d->record_errors_quiet++;
        }
        pthread_mutex_unlock(&d->lock);
    }
    attempt *head = atomic_load(&d->finished);
    do {
        a->next_finished = head;
    } while (!atomic_compare_exchange_weak(&d->finished, &head, a));
    kick(d);
}

/* Take in what the writer finished; called with d->lock held. A record that did not commit is
 * submitted again (the handler is not run again), after 100 ms doubling to
 * DISPATCH_RECORD_RETRY_MAX_MS (a full disk stays full for a while), unless hookd is stopping;
 * then the delivery is let go, still owed in the store, and runs after the restart. */
static void defer_wake(dispatcher *d, size_t handler, const char *call_key, int64_t now)
{
    lane_wake *w = d->nwakes < DISPATCH_WAKE_RETRY_MAX ? calloc(1, sizeof *w) : NULL;
    if (w == NULL || (w->call_key = strdup(call_key)) == NULL) {
        free(w); /* past the bound: the parked deliveries' recheck still comes */
        return;
    }
    w->handler = handler;
    w->ms = 100;
    w->at_us = now + 100000;
    w->next = d->wakes;
    d->wakes = w;
    d->nwakes++;
}

static void retry_wakes(dispatcher *d, int64_t now)
{
    for (lane_wake **p = &d->wakes, *w; (w = *p) != NULL;) {
        if (w->at_us > now) {
            p = &w->next;
        } else if (store_wake_lane(d->reader, d->cfg->handlers[w->handler].name, w->call_key)) {
            *p = w->next;
            d->nwakes--;
            free(w->call_key);
            free(w);
        } else {
            w->ms = w->ms * 2 > DISPATCH_RECORD_RETRY_MAX_MS ? DISPATCH_RECORD_RETRY_MAX_MS : w->ms * 2;
            w->at_us = now + (int64_t)w->ms * 1000;
            p = &w->next;
        }
    }
}

static void reap(dispatcher *d)
{
    int64_t now = now_us();
    for (attempt *a = atomic_exchange(&d->finished, NULL), *next; a != NULL; a = next) {
        next = a->next_finished;
        if (a->record_outcome == STORE_FAILED && !d->stopping) {
            a->resubmit_ms = a->resubmit_ms == 0 ? 100 : a->resubmit_ms * 2;
            if (a->resubmit_ms > DISPATCH_RECORD_RETRY_MAX_MS)
                a->resubmit_ms = DISPATCH_RECORD_RETRY_MAX_MS;
            a->resubmit_at_us = now + (int64_t)a->resubmit_ms * 1000;
            a->resubmit = true;
            continue;
        }
        for (attempt **p = &d->running; *p != NULL; p = &(*p)->next) {
            if (*p == a) {
                *p = a->next;
                break;
            }
        }
        /* A shared store wakes the call's parked deliveries now that the end is committed, under
         * the claimers' lock (SQLite's writer did it in the record's own transaction). */
        if (d->claims && a->record_outcome != STORE_FAILED && a->call_key != NULL
            && a->record.new_state != DELIVERY_RETRY && d->cfg->handlers[a->handler].order_call
            && !store_wake_lane(d->reader, d->cfg->handlers[a->handler].name, a->call_key))
            defer_wake(d, a->handler, a->call_key, now);
        d->inflight[a->handler]--;
        attempt_free(a);
    }
    if (d->wakes != NULL && !d->stopping)
        retry_wakes(d, now);
    for (attempt *a = d->running; a != NULL; a = a->next) {
        if (a->resubmit && (a->resubmit_at_us <= now || d->stopping)) {
            a->resubmit = false;
            if (!store_submit(d->store, &a->record_job))
                recorded(a, STORE_FAILED, "the store is closing");
        }
    }
}

/* A mark on a delivery (in flight, parked): a small job of its own, freed when written. Whether
 * it was written does not matter: the in-flight mark is for people (the attempt runs either way),
 * and a delivery not parked is seen again at the next look. */
static void marked(void *ctx, store_outcome outcome, const char *error)
{
    (void)outcome;
    (void)error;
    free(ctx);
}

static void mark(dispatcher *d, store_job_kind kind, int64_t id, int attempts)
{
    store_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return;
    *j = (store_job){.kind = kind, .delivery_id = id, .attempts = attempts, .done = marked};
    j->ctx = j;
    if (!store_submit(d->store, j))
        free(j);
}

static void *run_attempt(void *arg)
{
    attempt *a = arg;
    dispatcher *d = a->d;
    const cfg_handler *h = &d->cfg->handlers[a->handler];
    int64_t started = now_us();
    int exit_code = -1, http_status = 0;
    attempt_outcome outcome = h->action == ACTION_EXEC ? run_exec(a, h, &exit_code)
                                                       : run_forward(a, h, &http_status);
    int64_t finished = now_us();
    metrics_attempt(d->m, a->handler, outcome, (double)(finished - started) / 1e6);
    bool ok = outcome == OUTCOME_SUCCEEDED, gone = outcome == OUTCOME_GONE;
    bool dead = gone || outcome == OUTCOME_INVALID || (!ok && a->number >= (int)a->lim.max_attempts);
    store_attempt *r = &a->record;
    *r = (store_attempt){
        .delivery_id = a->delivery_id,
        .handler = h->name,
        .attempt = a->number,
        .started_us = started,
        .finished_us = finished,
        .outcome = outcome,
        .http_status = http_status,
        .exit_code = exit_code,
        .error = a->error[0] ? a->error : NULL,
        .output = a->output_len > 0 ? a->output : NULL,
        .output_len = a->output_len,
        .new_state = ok ? DELIVERY_SUCCEEDED : dead ? DELIVERY_DEAD : DELIVERY_RETRY,
        .next_attempt_us = ok || dead ? finished : finished + backoff_us(&a->lim, a->number, a->retry_after),
        .handler_gone = gone && h->action == ACTION_FORWARD,
        .lease_token = a->lease_token,
    };
    log_json(ok ? LOG_INFO : LOG_WARN, "delivery attempt",
             json_pack("{s:s, s:I, s:s, s:i, s:s, s:s*, s:s}", "handler", h->name, "delivery",
                       (json_int_t)a->delivery_id, "event_id", a->event_id, "attempt", a->number,
                       "outcome", attempt_outcome_name(outcome), "error", r->error, "state",
                       delivery_state_name(r->new_state)));
    a->record_job = (store_job){.kind = JOB_ATTEMPT, .attempt = r, .done = recorded, .ctx = a};
    if (!store_submit(d->store, &a->record_job))
        recorded(a, STORE_FAILED, "the store is closing");
    return NULL;
}

/* ---- the scheduler -------------------------------------------------------------------------- */

static bool is_running(const dispatcher *d, int64_t id, size_t handler, const char *call_key,
                       bool by_call)
{
    for (const attempt *a = d->running; a != NULL; a = a->next) {
        if (a->delivery_id == id)
            return true;
        if (by_call && a->handler == handler && a->call_key != NULL && call_key != NULL
            && strcmp(a->call_key, call_key) == 0)
            return true;
    }
    return false;
}

static char *dup_text(const char *t)
{
    return t != NULL ? strdup(t) : NULL;
}

static attempt *attempt_from_due(dispatcher *d, const store_due *row, size_t handler)
{
    attempt *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->d = d;
    a->handler = handler;
    a->delivery_id = row->id;
    a->number = row->attempts + 1;
    a->lease_token = row->lease_token;
    a->call_key = dup_text(row->call_key);
    a->event_id = dup_text(row->event_id);
    a->endpoint = dup_text(row->endpoint);
    a->event_type = dup_text(row->event_type);
    a->occurred_at = dup_text(row->occurred_at);
    a->content_type = dup_text(row->content_type);
    a->call_control_id = dup_text(row->call_control_id);
    a->call_session_id = dup_text(row->call_session_id);
    a->call_leg_id = dup_text(row->call_leg_id);
    a->failure_cause = dup_text(row->failure_cause);
    a->hangup_cause = dup_text(row->hangup_cause);
    a->body_len = row->body_len;
    a->body = malloc(a->body_len + 1);
    if (a->body == NULL || a->event_id == NULL) {
        attempt_free(a);
        return NULL;
    }
    if (a->body_len > 0)
        memcpy(a->body, row->body, a->body_len);
    a->body[a->body_len] = 0;
    return a;
}

/* Start what is due and allowed for handler hi; false when out of memory or threads. */
static bool start_attempt(dispatcher *d, const store_due *row, size_t hi)
{
    attempt *a = attempt_from_due(d, row, hi);
    if (a == NULL)
        return false;
    a->lim = d->lim[hi];
    a->next = d->running;
    d->running = a;
    d->inflight[hi]++;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, run_attempt, a);
    pthread_attr_destroy(&attr);
    if (rc != 0) { /* nothing was submitted for it: let it go, it stays owed */
        d->running = a->next;
        d->inflight[hi]--;
        attempt_free(a);
        return false;
    }
    if (!d->claims) /* a claim from a shared store is durable already */
        mark(d, JOB_CLAIM, row->id, a->number - 1);
    return true;
}

/* One handler's look, row by row (store_due_walk's callback). */
typedef struct look {
    dispatcher *d;
    size_t hi;
    unsigned concurrency;
    bool ok;
} look;

static bool consider(void *ctx, const store_due *row)
{
    look *l = ctx;
    dispatcher *d = l->d;
    const cfg_handler *h = &d->cfg->handlers[l->hi];
    bool by_call = h->order_call && row->call_key != NULL;
    if (is_running(d, row->id, l->hi, row->call_key, by_call))
        return true;
    if (by_call && store_blocked(d->reader, h->name, row->call_key, row->occurred_at_us, row->id)) {
        mark(d, JOB_PARK, row->id, 0);
        return true;
    }
    l->ok = start_attempt(d, row, l->hi);
    return l->ok && d->inflight[l->hi] < l->concurrency;
}

/* A shared store's claim handed over a delivery: it is this node's to run now. */
static bool claimed(void *ctx, const store_due *row)
{
    look *l = ctx;
    if (l->ok)
        l->ok = start_attempt(l->d, row, l->hi);
    return true; /* the claim holds every row: each must start, or wait for its lease to run out */
}

/* One handler's look: its due deliveries in due order. An unordered handler needs at most
 * `concurrency` rows (those already running, whose in-flight mark may not be written yet, and
 * the free slots); an ordered one reads up to DISPATCH_BATCH and parks what is blocked. */
static bool schedule_handler(dispatcher *d, size_t hi, int64_t now)
{
    const cfg_handler *h = &d->cfg->handlers[hi];
    look l = {.d = d, .hi = hi, .concurrency = d->lim[hi].concurrency, .ok = true};
    if (d->inflight[hi] >= l.concurrency)
        return true;
    if (d->claims) {
        int64_t lease_us = ((int64_t)d->lim[hi].timeout + d->cfg->lease_grace) * 1000000;
        store_claim(d->reader, h->name, (int)(l.concurrency - d->inflight[hi]), h->order_call,
                    lease_us, claimed, &l);
        return l.ok;
    }
    store_due_walk(d->reader, h->name, now, h->order_call ? DISPATCH_BATCH : (int)l.concurrency,
                   consider, &l);
    return l.ok;
}

/* Shared stores: deliveries whose claim ran out (a node died or stalled) are owed again. */
static void rescue(dispatcher *d)
{
    int64_t now = now_us();
    if (!d->claims || now < d->next_rescue_us)
        return;
    d->next_rescue_us = now + (int64_t)STORE_RESCUE_INTERVAL_S * 1000000;
    for (size_t hi = 0; hi < d->cfg->nhandlers; hi++)
        store_rescue(d->reader, d->cfg->handlers[hi].name, (int)d->lim[hi].max_attempts);
}

/* Start what is due and allowed, handler by handler; called with d->lock held. */
static void schedule(dispatcher *d)
{
    int64_t now = now_us();
    rescue(d);
    for (size_t hi = 0; hi < d->cfg->nhandlers; hi++) {
        if (!schedule_handler(d, hi, now))
            break;
    }
}

/* Queue depth, the oldest owed delivery, dead letters: for /metrics. */
static void measure(dispatcher *d)
{
    store_gauges g;
    if (!store_gauges_read(d->reader, &g))
        return;
    atomic_store(&d->m->queue_depth, g.owed);
    atomic_store(&d->m->oldest_pending_s, g.oldest_owed_us > 0 ? (now_us() - g.oldest_owed_us) / 1000000 : 0);
    atomic_store(&d->m->dead_letters, g.dead);
}

static void *scheduler_main(void *arg)
{
    dispatcher *d = arg;
    int ticks = 0;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        reap(d);
        schedule(d);
        if (ticks++ % 5 == 0)
            measure(d);
        pthread_mutex_unlock(&d->lock);
        nap(d, DISPATCH_POLL_MS);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

void dispatch_kick(dispatcher *d)
{
    if (d != NULL)
        kick(d);
}

/* Called by the store's writer after a commit that queued deliveries: kick, never wait. */
static void wake(void *ctx)
{
    kick(ctx);
}

/* Deliveries queued for handlers the config no longer has: kept, reported, not run. */
typedef struct orphans {
    const dispatcher *d;
    int64_t total;
} orphans;

static void count_orphans(void *ctx, const char *handler, int64_t n)
{
    orphans *o = ctx;
    if (route_handler(o->d->cfg, handler) != NULL)
        return;
    o->total += n;
    log_json(LOG_WARN, "deliveries of a removed handler are kept, not run",
             json_pack("{s:s, s:I}", "handler", handler, "deliveries", (json_int_t)n));
}

static void report_orphans(dispatcher *d)
{
    orphans o = {.d = d};
    if (store_owed_by_handler(d->reader, count_orphans, &o))
        atomic_store(&d->m->orphaned, o.total);
}

bool dispatch_start(const config *cfg, store *st, metrics *m, dispatcher **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (cfg->nhandlers == 0)
        return true;
    dispatcher *d = calloc(1, sizeof *d);
    if (d == NULL)
        return false;
    d->cfg = cfg;
    d->store = st;
    d->m = m;
    pthread_mutex_init(&d->lock, NULL);
    d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        pthread_mutex_destroy(&d->lock);
        free(d);
        return false;
    }
    const char *names[SRV_MAX_HANDLERS];
    for (size_t i = 0; i < cfg->nhandlers; i++) {
        const cfg_handler *h = &cfg->handlers[i];
        names[i] = h->name;
        d->lim[i] = (handler_limits){h->timeout, h->concurrency, h->max_attempts, h->retry_base,
                                     h->retry_max};
        if (h->sign_secret != NULL)
            hookd_signer_new(HOOKD_SCHEME_STANDARD, h->sign_secret, &d->signers[i][0]);
        if (h->sign_key != NULL)
            hookd_signer_new(HOOKD_SCHEME_STANDARD, h->sign_key, &d->signers[i][1]);
    }
    metrics_set_handlers(m, names, cfg->nhandlers);
    char why[384];
    d->reader = store_reader_open(st, why, sizeof why);
    if (d->reader == NULL) {
        snprintf(err, errlen, "dispatch cannot read the store: %s", why);
        dispatch_stop(d);
        return false;
    }
    d->claims = store_reader_claims(d->reader);
    report_orphans(d);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pthread_create(&d->thread, NULL, scheduler_main, d) != 0) {
        snprintf(err, errlen, "cannot start the dispatch thread");
        dispatch_stop(d);
        return false;
    }
    d->thread_started = true;
    store_on_deliveries(st, wake, d);
    *out = d;
    return true;
}

void dispatch_reload(dispatcher *d, const config *fresh)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->cfg->nhandlers; i++) {
        const cfg_handler *h = route_handler(fresh, d->cfg->handlers[i].name);
        if (h != NULL)
            d->lim[i] = (handler_limits){h->timeout, h->concurrency, h->max_attempts, h->retry_base,
                                         h->retry_max};
    }
    pthread_mutex_unlock(&d->lock);
    kick(d); /* a higher concurrency takes effect at once */
}

void dispatch_stop(dispatcher *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_mutex_unlock(&d->lock);
    kick(d);
    if (d->thread_started)
        pthread_join(d->thread, NULL);
    /* Running attempts finish (each within its timeout) and are recorded before the store closes;
     * one whose record cannot be written is let go: still owed in the store, run after restart. */
    pthread_mutex_lock(&d->lock);
    for (reap(d); d->running != NULL; reap(d)) {
        pthread_mutex_unlock(&d->lock);
        nap(d, 50);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    store_on_deliveries(d->store, NULL, NULL);
    for (size_t i = 0; i < SRV_MAX_HANDLERS; i++) {
        hookd_signer_free(d->signers[i][0]);
        hookd_signer_free(d->signers[i][1]);
    }
    for (lane_wake *w = d->wakes, *next; w != NULL; w = next) {
        next = w->next;
        free(w->call_key);
        free(w);
    }
    store_reader_close(d->reader);
    close(d->wake_fd);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
