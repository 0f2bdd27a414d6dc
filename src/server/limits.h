/*
 * limits.h - every limit and default of the receiver daemon, in one place.
 *
 * libmicrohttpd has no time-out unless one is set, so every one is set here and passed to it in
 * http.c. The library's own limits (keys, signature sizes, JSON depth) are in hookd/limits.h.
 */
#ifndef HOOKD_SERVER_LIMITS_H
#define HOOKD_SERVER_LIMITS_H

/* [server] defaults */
#define SRV_DEFAULT_LISTEN "127.0.0.1:8080"
#define SRV_DEFAULT_THREADS 2             /* libmicrohttpd polling threads */
#define SRV_DEFAULT_MAX_CONNECTIONS 1024  /* open connections in all */
#define SRV_DEFAULT_PER_IP_CONNECTIONS 256 /* from one address (slowloris) */
#define SRV_DEFAULT_REQUEST_TIMEOUT 10    /* seconds: a whole request, body included */
#define SRV_DEFAULT_HEADER_TIMEOUT 5      /* seconds until the headers are in, or a keep-alive idles */
#define SRV_DEFAULT_MAX_BUFFERED ((size_t)64 * 1024 * 1024) /* body bytes held, all connections */
#define SRV_DEFAULT_OPS_ALLOW "127.0.0.0/8, ::1" /* /metrics and /readyz */
#define SRV_READY_CACHE_MS 1000           /* a /readyz answer is reused this long */
#define SRV_LINGER_S 1                    /* after an answer mid-upload, the connection lingers */
#define SRV_DISCARD_MAX ((size_t)16 * 1024 * 1024) /* ... dropping at most this much of the rest
                                          * (what a client had in flight when it was told) */
#define SRV_DEFAULT_MAX_BODY ((size_t)1024 * 1024) /* bytes; larger gets 413 */
#define SRV_MAX_BODY_LIMIT ((int64_t)64 * 1024 * 1024) /* the largest max_body allowed */
#define SRV_DEFAULT_MAX_HEADER 16384      /* bytes of request line and headers */
#define SRV_MAX_HEADER_LIMIT ((int64_t)1024 * 1024) /* the largest max_header allowed */
#define SRV_MAX_LISTEN 4                  /* listen addresses */
#define SRV_MAX_ENDPOINTS 32
#define SRV_MAX_ALLOW 64                  /* CIDRs in one allow list */
#define SRV_MAX_SECRET_FILE 4096          /* bytes read from a file:PATH secret */
#define SRV_MAX_WARNINGS 16               /* config warnings kept (and env: names remembered) */
#define SRV_MAX_ENV_PASS 32               /* variables in one handler's env_pass */
#define SRV_SHUTDOWN_GRACE_MS 15000       /* SIGTERM waits this long for in-flight requests */
#define SRV_RETRY_AFTER "5"               /* seconds, on 503 */

/* [store] */
/* A limit as text, for SQL and messages: HK_STR(STORE_COUNT_CAP) is "10000". */
#define HK_STR_(x) #x
#define HK_STR(x) HK_STR_(x)

#define STORE_DEFAULT_URL "sqlite:./var/hookd.db"
#define STORE_PAGE_BYTES 2048             /* SQLite page of a new store: each commit rewrites a
                                           * dozen partly changed pages (index ends, header, pointer
                                           * map) whatever its size; at 2 KiB they cost half, and
                                           * rows of 1.7-2 KB no longer take a 4 KiB page alone */
#define STORE_MAX_BATCH 1024              /* requests sharing one transaction */
#define STORE_COMMIT_WAIT_US 1000         /* [store] commit_wait's default: the longest a queued
                                           * request waits for others to share its commit */
#define STORE_COMMIT_WAIT_MAX_US 100000   /* commit_wait's ceiling (100 ms) */
#define STORE_COMMIT_TARGET 64            /* queued jobs that end the wait at once */
#define STORE_COMMIT_COMPANY 2.0          /* jobs the recent arrival rate must predict within the
                                           * wait for the writer to wait at all */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_CHECKPOINT_PAGES 1000       /* WAL pages (2 MiB; 4 MiB in a 4 KiB store) at which
                                           * the writer finishes a checkpoint (the thread starts
                                           * at 1/8) */
#define STORE_WAL_TRUNCATE_PAGES 16384    /* past this (32-64 MiB), a checkpoint also truncates */
#define STORE_WAL_KEEP_BYTES (64 * 1024 * 1024) /* journal_size_limit: the WAL file is cut back to
                                          * this on reset; below it, it is reused in place */
#define STORE_CHECKPOINT_INTERVAL_MS 100
#define STORE_COUNT_CAP 10000             /* "... N more" under a cut list counts this far: a count
                                           * of every match cost events list 25 ms per 100,000
                                           * (a bare number: the SQL spells it with HK_STR) */
#define STORE_WALBUF_BYTES ((size_t)1024 * 1024) /* a transaction's WAL frames gathered for one
                                          * pwrite (walbuf.c); a larger one writes every 1 MiB */
#define STORE_IDSUM_BLOCK 4096           /* events per id summary (idsum.h): a power of two */
#define STORE_IDSUM_SLICES 32             /* a summary's Bloom filter in slices; a lookup reads one */
#define STORE_IDSUM_SLICE_BYTES 640       /* 32 x 640 B = 160 Kbit per block of up to 4 x 4,096
                                           * ids: 10 bits an id, under 1% false yeses */
#define STORE_IDSUM_PROBES 6              /* bits set per id, all in its slice */
#define STORE_IDSUM_TYPE_BYTES 4096       /* the open block's event types, each once, kept for its
                                           * event_types entries; more (types of 4 KiB in all, or
                                           * over 255 of them) and they are read back from rows */
#define STORE_DEDUPE_PENDING 65536        /* keys of the newest events kept in memory (dedupe.h)
                                           * before they move into event_keys: 16 B each, and
                                           * the fewer, the more pages a move dirties per key */
#define STORE_DEDUPE_STEP 1024            /* keys moved per transaction, between two batches */
#define STORE_PRUNE_BATCH 64              /* events removed per transaction: a batch's time is
                                           * what an acknowledgement may wait behind it (500
                                           * took ~80 ms: p50 5 -> 96 ms while pruning) */
#define STORE_PRUNE_PAUSE_MS 20          /* between two prune batches: the writer is the requests' */
#define STORE_VACUUM_PAGES 1024           /* pages given back per step after pruning */
#define STORE_RETAIN_INTERVAL_S 60        /* retention looks for old events this often */
#define STORE_LEASE_GRACE_S 30            /* PostgreSQL: a claim lasts the handler's timeout + this */
#define STORE_LEASE_GRACE_MAX_S 30
#define STORE_RESCUE_INTERVAL_S 5         /* PostgreSQL: expired leases are looked for this often */
#define STORE_RECONNECT_MAX_MS 5000       /* PostgreSQL: reconnects back off from 100 ms to this */
#define STORE_MEASURE_INTERVAL_S 10       /* store size and oldest event, for /metrics */

/* [handler] defaults and bounds. The default backoff (10 s doubling to a 6 h cap, 15 attempts)
 * spreads retries over about a day: 10 s x (2^12 - 1) + 2 x 6 h = 23.4 h. */
#define SRV_MAX_HANDLERS 32
#define SRV_MAX_PATTERNS 16               /* entries in one "on =" */
#define SRV_MAX_ARGS 32                   /* words of one "exec =" */
#define HANDLER_DEFAULT_TIMEOUT 30        /* seconds per attempt */
#define HANDLER_DEFAULT_CONCURRENCY 4     /* attempts in flight per handler */
#define HANDLER_DEFAULT_MAX_ATTEMPTS 15
#define HANDLER_DEFAULT_RETRY_BASE 10     /* seconds before the first retry */
#define HANDLER_DEFAULT_RETRY_MAX 21600   /* seconds, the cap of one wait */
#define HANDLER_OUTPUT_KEEP 4096          /* bytes of output or response body kept per attempt */
#define DISPATCH_POLL_MS 200              /* the scheduler looks for due deliveries this often */
#define DISPATCH_BATCH 256                /* due deliveries of one order = call handler read per look */
#define DISPATCH_PARK_RECHECK_S 60        /* a parked delivery is re-examined at least this often */
#define DISPATCH_WAKE_RETRY_MAX 4096      /* lanes (order = call, shared store) whose wake-up after a
                                           * commit failed, tried again; past it, the recheck */
#define DISPATCH_RECORD_RETRY_MAX_MS 5000 /* an attempt record that failed (disk full) is retried
                                           * after 100 ms doubling up to this */

/* [console] (src/console) */
#define SRV_CONSOLE_TOKEN_MIN 16          /* bytes: a token is a password nobody types often */
#define SRV_CONSOLE_MAX_CONNECTIONS 64    /* a thread each (live streams hold theirs) */
#define SRV_CONSOLE_PER_IP 32
#define SRV_CONSOLE_TIMEOUT_S 60          /* idle connection; a stream sends a comment every 15 s */
#define SRV_CONSOLE_MAX_BODY 16384        /* a login form or a replay request */
#define SRV_CONSOLE_SESSION_S (12 * 3600) /* a sign-in lasts this long (and ends at a restart) */
#define SRV_CONSOLE_LOGIN_DELAY_MS 250    /* after a wrong token, before answering */
#define SRV_CONSOLE_PAGE_MAX 500          /* events or deliveries per API page */
#define SRV_CONSOLE_RING 2048             /* new events kept for live streams to catch up on */
#define SRV_CONSOLE_HEARTBEAT_S 15        /* a stream's keep-alive comment */
#define SRV_CONSOLE_GATHER_MS 50          /* a stream sends what 50 ms brought (at 10,000/s: 500) */
#define SRV_CONSOLE_SAMPLE_S 10           /* queue depth and dead letters sampled this often ... */
#define SRV_CONSOLE_SAMPLES 8640          /* ... for a day */
#define SRV_CONSOLE_MAX_BUCKETS 1440      /* per chart */

/* Metrics: distinct event types counted by name before the rest count as "other". */
#define METRICS_MAX_TYPES 128

#endif
