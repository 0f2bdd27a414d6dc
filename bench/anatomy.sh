# bench/anatomy.sh - sourced by bench/run: sections 3 and 8 of bench/RESULTS.md (issue #11).
#   3. One request, before and after: hookd at BENCH_BASELINE (the commit before the performance
#      work; built from git into build-bench/), hookd as it is (also with [store] commit_wait = 0,
#      and with the deliveries grouped into calls of 10 events, as telephony sends them), and the
#      Node receiver on the official Telnyx SDK (bench/node, npm "telnyx", stores nothing). Rounds
#      interleave them all (medians of ANAT_ROUNDS); each gives requests per CPU-second of the
#      server process, bytes written to storage per request (/proc/PID/io write_bytes,
#      checkpoints included; and what the disk holding the store was sent over the same span,
#      /sys/class/block/DEV/stat, journal included), system calls per request (perf stat on the
#      raw_syscalls:sys_enter tracepoint: exact counts, and unlike strace it does not slow the
#      process down and so change its batching), RSS; then
#      one perf record of each hookd: CPU per request by library, and the kernel's by system call.
#   8. Queries on a store of QUERY_EVENTS events (100,000 calls of 10 events, written with SQL):
#      events list --type (a rare and a common type, and the commonest with a call), calls show
#      (by session and by control id), events show, before and after; medians of 5 runs of the
#      command, process start included; and the same store on PostgreSQL (bench/run's throwaway
#      server, when section 5 ran).
# Uses from bench/run: HOOKD, TMP, SECS, CONNS, CEILING, K_public_key, K_private_key, cpu_seconds,
# json, and SERVER (killed on exit).

BASELINE=${BENCH_BASELINE:-1c86c45}
ANAT_ROUNDS=${ANAT_ROUNDS:-5}
QUERY_EVENTS=${QUERY_EVENTS:-1000000}

# base_build: BASE_HOOKD, hookd at BASELINE built for release, or empty (not a git checkout).
base_build() {
  BASE_HOOKD=
  git rev-parse -q --verify "$BASELINE^{commit}" >/dev/null 2>&1 || return 0
  local dir="build-bench/baseline-$BASELINE"
  if [ ! -x "$dir/build/hookd" ]; then
    rm -rf "$dir"; mkdir -p "$dir/src"
    git archive "$BASELINE" | tar -x -C "$dir/src"
    meson setup "$dir/build" "$dir/src" --buildtype=release >/dev/null && ninja -C "$dir/build" hookd >/dev/null \
      || { echo "baseline $BASELINE does not build: its rows are left out"; return 0; }
  fi
  BASE_HOOKD="$dir/build/hookd"
}

# node_ready: the reference receiver's package installed (npm registry); false if it cannot be.
node_ready() {
  [ -d bench/node/node_modules/telnyx ] || npm ci --prefix bench/node --no-audit --no-fund >/dev/null 2>&1
}

syscalls_countable() { perf stat -e raw_syscalls:sys_enter -o /dev/null -- true >/dev/null 2>&1; }

# disk_sectors: sectors written so far to the block device that holds $TMP (the stores), or
# nothing when it is not one (tmpfs, overlay).
disk_sectors() {
  local dev
  dev=$(df --output=source "$TMP" 2>/dev/null | tail -1)
  [ -r "/sys/class/block/${dev##*/}/stat" ] && awk '{print $7}' "/sys/class/block/${dev##*/}/stat"
}

# anat_start NAME: start it on a loopback port; sets SERVER and PORT.
anat_start() {
  local log="$TMP/anat-$1.log" db="$TMP/anat-$1.db"
  rm -f "$db"*
  if [ "$1" = nowait ]; then
    { printf '[server]\nlisten = 127.0.0.1:0\n[store]\nurl = sqlite:%s\ncommit_wait = 0\n' "$db"
      printf '[endpoint telnyx]\npath = /webhooks/telnyx\nscheme = telnyx\npublic_key = %s\n' "$K_public_key"
    } >"$TMP/anat-nowait.conf"
  fi
  case $1 in
    node) node bench/node/receiver.js "$K_public_key" >"$log" 2>&1 & ;;
    before) "$BASE_HOOKD" serve --listen 127.0.0.1:0 --db "$db" --telnyx-public-key "$K_public_key" --log-level warn 2>"$log" & ;;
    nowait) "$HOOKD" serve -c "$TMP/anat-nowait.conf" --log-level warn 2>"$log" & ;;
    after|calls) "$HOOKD" serve --listen 127.0.0.1:0 --db "$db" --telnyx-public-key "$K_public_key" --log-level warn 2>"$log" & ;;
  esac
  SERVER=$!
  for _ in $(seq 200); do grep -q -e '"msg":"started"' -e '^{"port"' "$log" && break; sleep 0.05; done
  PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$log" | head -1)
}

anat_stop() { kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; SERVER=; }

# anat_round NAME: one peak run; appends "rps p99 per_cpu bytes_per_req syscalls_per_req rss_mib
# disk_bytes_per_req" to $TMP/anat-NAME.
anat_round() {
  anat_start "$1"
  local w0 c0 out c1 w1 d0 d1 disk=- sc=- stat_pid=
  d0=$(disk_sectors)
  w0=$(awk '/^write_bytes/ {print $2}' "/proc/$SERVER/io"); c0=$(cpu_seconds "$SERVER")
  if [ -n "$COUNT_SYSCALLS" ]; then
    perf stat -e raw_syscalls:sys_enter -p "$SERVER" -o "$TMP/anat-sc.txt" & stat_pid=$!
  fi
  local events="$TMP/anat-events.tsv"
  [ "$1" = calls ] && events="$TMP/anat-calls.tsv"
  out=$(HOOKD_BENCH_EVENTS="$events" HOOKD_BENCH_THREADS=1 \
    wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s bench/deliver.lua "http://127.0.0.1:$PORT/webhooks/telnyx" | tail -1)
  c1=$(cpu_seconds "$SERVER")
  if [ -n "$stat_pid" ]; then kill -INT "$stat_pid"; wait "$stat_pid" 2>/dev/null || true; fi
  sleep 1 # the last commits' checkpoint
  w1=$(awk '/^write_bytes/ {print $2}' "/proc/$SERVER/io")
  d1=$(disk_sectors)
  local rss reqs secs
  rss=$(awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$SERVER/status")
  anat_stop
  reqs=$(json "$out" requests); secs=$(json "$out" seconds)
  [ -n "$d0" ] && [ -n "$d1" ] && disk=$(awk -v r="$reqs" -v a="$d0" -v b="$d1" 'BEGIN{printf "%.0f", 512*(b-a)/r}')
  [ -n "$stat_pid" ] && sc=$(awk -v r="$reqs" '/raw_syscalls:sys_enter/ {gsub(",", "", $1); printf "%.2f", $1 / r}' "$TMP/anat-sc.txt")
  echo "$(awk -v r="$reqs" -v s="$secs" 'BEGIN{printf "%.0f", r/s}') $(json "$out" p99_ms)" \
    "$(awk -v r="$reqs" -v a="$c0" -v b="$c1" 'BEGIN{printf "%.0f", r/(b-a)}')" \
    "$(awk -v r="$reqs" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", (b-a)/r}') $sc $rss $disk" >>"$TMP/anat-$1"
  [ "$(json "$out" non2xx)" = 0 ] || echo "anatomy $1: $(json "$out" non2xx) answers were not 2xx" >&2
}

# anat_profile NAME: one peak run under perf record; sets SPLIT_NAME (us per request by library)
# and SYS_NAME (us per request by system call) as "key=value" lines.
anat_profile() {
  anat_start "$1"
  local c0 c1 out
  c0=$(cpu_seconds "$SERVER")
  perf record -F 999 -g -p "$SERVER" -o "$TMP/anat-$1.perf" -- sleep "$SECS" >/dev/null 2>&1 &
  local perf_pid=$!
  out=$(HOOKD_BENCH_EVENTS="$TMP/anat-events.tsv" HOOKD_BENCH_THREADS=1 \
    wrk -t1 -c"$CONNS" -d"${SECS}s" -s bench/deliver.lua "http://127.0.0.1:$PORT/webhooks/telnyx" | tail -1)
  c1=$(cpu_seconds "$SERVER")
  wait "$perf_pid" 2>/dev/null || true
  anat_stop
  local us_per_req
  us_per_req=$(awk -v r="$(json "$out" requests)" -v a="$c0" -v b="$c1" 'BEGIN{printf "%.3f", 1e6*(b-a)/r}')
  echo "total=$us_per_req" >"$TMP/split-$1"
  perf report -i "$TMP/anat-$1.perf" --no-children --sort dso --stdio -g none 2>/dev/null \
    | awk -v u="$us_per_req" '/^ +[0-9.]+%/ { sub("%", "", $1); d = $2
        k = d ~ /libsodium/ ? "Ed25519 and SHA-512 (libsodium)" : d ~ /sqlite/ ? "SQLite" \
          : d ~ /kernel/ ? "kernel: system calls, I/O, network, interrupts" : d ~ /^libc/ ? "libc: malloc, memcpy, memset, locks" \
          : d ~ /jansson/ ? "jansson (JSON)" : d ~ /microhttpd/ ? "libmicrohttpd" : d ~ /hookd/ ? "hookd, libhookd" : "other"
        s[k] += $1 * u / 100 } END { for (k in s) printf "%s=%.1f\n", k, s[k] }' >>"$TMP/split-$1"
  perf report -i "$TMP/anat-$1.perf" --children --sort sym --stdio -g none 2>/dev/null \
    | awk -v u="$us_per_req" '$3 == "[k]" && $4 ~ /^(__x64_sys|__sys)_[a-z0-9]+$/ { sub("%", "", $1)
        n = $4; sub(/^(__x64_sys|__sys)_/, "", n); if ($1 > s[n]) s[n] = $1 }
        END { for (n in s) if (s[n] * u / 100 >= 0.5) printf "%s=%.1f\n", n, s[n] * u / 100 }' >"$TMP/sys-$1"
}

anat_med() { sort -n -k"$2" "$TMP/anat-$1" | sed -n "$(( (ANAT_ROUNDS + 1) / 2 ))p" | awk -v k="$2" '{print $k}'; }
kv() { awk -F= -v k="$2" '$1 == k { print $2; exit }' "$1" 2>/dev/null; }

anatomy_bench() {
  base_build
  NODE_OK=; node_ready && NODE_OK=1
  COUNT_SYSCALLS=; syscalls_countable && COUNT_SYSCALLS=1
  local names=()
  [ -n "$BASE_HOOKD" ] && names+=(before)
  names+=(after nowait calls)
  [ -n "$NODE_OK" ] && names+=(node)
  ./build-bench/bench/presign "$K_private_key" $((SECS * 20000)) >"$TMP/anat-events.tsv"
  ./build-bench/bench/presign "$K_private_key" $((SECS * 20000)) 10 >"$TMP/anat-calls.tsv"
  for n in "${names[@]}"; do : >"$TMP/anat-$n"; done
  for _ in $(seq "$ANAT_ROUNDS"); do for n in "${names[@]}"; do sync; anat_round "$n"; done; done
  for n in "${names[@]}"; do echo "anatomy $n: $(tr '\n' ';' <"$TMP/anat-$n")"; done
  ANAT_ROWS=()
  local label
  for n in "${names[@]}"; do
    case $n in
      before) label="hookd before ($BASELINE), durability = full" ;;
      after) label="**hookd now ($(git rev-parse --short HEAD 2>/dev/null || echo this tree)), durability = full**" ;;
      nowait) label="hookd now, \`[store] commit_wait = 0\` (every commit at once, as before this wait)" ;;
      calls) label="hookd now, the same deliveries as calls of 10 events, 500 calls at a time" ;;
      node) label="Node $(node --version) + telnyx $(node -p 'require("./bench/node/node_modules/telnyx/package.json").version'), stores nothing" ;;
    esac
    local per; per=$(anat_med "$n" 3)
    ANAT_ROWS+=("| $label | $(anat_med "$n" 1) | $(anat_med "$n" 2) | $per | $(awk -v p="$per" -v c="$CEILING" 'BEGIN{printf "%.2f", p/c}') | $(anat_med "$n" 4) | $(anat_med "$n" 7) | $(anat_med "$n" 5) | $(anat_med "$n" 6) |")
  done
  ANAT_VS_NODE=
  [ -n "$NODE_OK" ] && ANAT_VS_NODE=$(awk -v a="$(anat_med after 3)" -v b="$(anat_med node 3)" 'BEGIN{printf "%.2f", a/b}')
  ANAT_VS_BEFORE=
  [ -n "$BASE_HOOKD" ] && ANAT_VS_BEFORE=$(awk -v a="$(anat_med after 3)" -v b="$(anat_med before 3)" 'BEGIN{printf "%.2f", a/b}')
  SPLIT_ROWS=(); SYS_ROWS=()
  if command -v perf >/dev/null && [ -n "$BASE_HOOKD" ]; then
    anat_profile before; anat_profile after
    local k
    while IFS= read -r k; do
      # a library with no samples in one run (jansson once jsonview.c read the bodies) is 0.0
      SPLIT_ROWS+=("| $k | $(kv "$TMP/split-before" "$k" | grep . || echo 0.0) | $(kv "$TMP/split-after" "$k" | grep . || echo 0.0) |")
    done < <(cat "$TMP/split-before" "$TMP/split-after" | grep -v '^total=' | cut -d= -f1 | sort -u)
    SPLIT_ROWS+=("| **all (server CPU per request)** | **$(kv "$TMP/split-before" total)** | **$(kv "$TMP/split-after" total)** |")
    while IFS= read -r k; do
      SYS_ROWS+=("| $k | $(kv "$TMP/sys-before" "$k") | $(kv "$TMP/sys-after" "$k") |")
    done < <(cat "$TMP/sys-before" "$TMP/sys-after" | cut -d= -f1 | sort -u)
  fi
}

# ---- 8. queries on a store of a million events -------------------------------------------------

# query_store BIN DB: a store made by BIN's own migrations, filled with QUERY_EVENTS events of
# QUERY_EVENTS / 10 calls (10 events each, calls 1,000 at a time interleaved as they would arrive; 1 in 10
# calls has a siprec.failed, the rare type), bodies of 500 bytes. BIN migrate runs again after the
# fill, as opening a store does: from schema 8 it summarises the ids that SQL wrote (hookd serve
# does so as events arrive).
query_store() {
  "$1" migrate --db "$2" >/dev/null
  sqlite3 "$2" "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $QUERY_EVENTS - 1),
    e AS (SELECT i, (i / 10000) * 1000 + i % 1000 AS k, (i / 1000) % 10 AS j,
      $(date +%s)000000 - 86400000000 + i * 1000 AS us FROM c)
    INSERT INTO events (id, endpoint, scheme, event_type, occurred_at, occurred_at_us, received_at_us,
      last_received_at_us, call_session_id, call_control_id, call_leg_id, parse_status, body)
    SELECT lower(hex(randomblob(16))), 'telnyx', 'telnyx',
      CASE j WHEN 0 THEN 'call.initiated' WHEN 1 THEN 'call.answered' WHEN 2 THEN 'siprec.started'
        WHEN 3 THEN CASE WHEN k % 10 = 0 THEN 'siprec.failed' ELSE 'siprec.stopped' END
        WHEN 9 THEN 'call.hangup' ELSE 'call.dtmf.received' END,
      strftime('%Y-%m-%dT%H:%M:%fZ', us / 1e6, 'unixepoch'), us, us, us,
      'sess-' || k, 'v3:ctl-' || k, 'leg-' || k, 'parsed', printf('%.500c', 'x') FROM e;
    PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
  "$1" migrate --db "$2" >/dev/null
}

# q_ms CMD...: the median of 5 runs, in milliseconds.
q_ms() {
  local t
  for _ in 1 2 3 4 5; do
    t=$(date +%s%N); "$@" >/dev/null 2>&1; echo $(( ($(date +%s%N) - t) / 1000 ))
  done | sort -n | sed -n 3p | awk '{printf "%.1f", $1 / 1000}'
}

queries_bench() {
  [ -n "${BASE_HOOKD:-}" ] || base_build
  QUERY_ROWS=()
  local who db bins=()
  [ -n "$BASE_HOOKD" ] && bins+=(before)
  bins+=(after)
  declare -A ms
  local id last_k=$(( (QUERY_EVENTS / 10000 - 1) * 1000 + 999 ))
  for who in "${bins[@]}"; do
    local bin="$HOOKD"; [ "$who" = before ] && bin="$BASE_HOOKD"
    db="$TMP/q-$who.db"; rm -f "$db"*
    query_store "$bin" "$db"
    QUERY_SIZE=$(du -m "$db" | cut -f1)
    id=$(sqlite3 "$db" "SELECT id FROM events WHERE seq = $(( QUERY_EVENTS / 2 ))")
    sync
    ms[$who,1]=$(q_ms "$bin" events list --type siprec.failed --db "$db")
    ms[$who,2]=$(q_ms "$bin" events list --type call.hangup --db "$db")
    ms[$who,3]=$(q_ms "$bin" calls show "sess-$(( QUERY_EVENTS / 20 ))" --db "$db")
    ms[$who,4]=$(q_ms "$bin" calls show "v3:ctl-$last_k" --db "$db")
    ms[$who,5]=$(q_ms "$bin" calls show "v3:ctl-$(( QUERY_EVENTS / 20 ))" --db "$db")
    ms[$who,6]=$(q_ms "$bin" events show "$id" --db "$db")
    ms[$who,7]=$(q_ms "$bin" events list --type call.dtmf.received --call "sess-$(( QUERY_EVENTS / 20 ))" --db "$db")
    rm -f "$db"*
  done
  if [ -n "${PGDIR:-}" ]; then
    # The same store on PostgreSQL, with this build's schema.
    local url; url=$(pg_db queries)
    "$HOOKD" migrate --db "$url" >/dev/null
    psql -X -q -h "$PGDIR" -U hookd -d queries -c "INSERT INTO events (id, endpoint, scheme, event_type,
        occurred_at, occurred_at_us, received_at_us, last_received_at_us, call_session_id, call_control_id,
        call_leg_id, parse_status, body)
      SELECT md5(random()::text), 'telnyx', 'telnyx',
        CASE j WHEN 0 THEN 'call.initiated' WHEN 1 THEN 'call.answered' WHEN 2 THEN 'siprec.started'
          WHEN 3 THEN CASE WHEN k % 10 = 0 THEN 'siprec.failed' ELSE 'siprec.stopped' END
          WHEN 9 THEN 'call.hangup' ELSE 'call.dtmf.received' END,
        to_char(to_timestamp(us / 1e6) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), us, us, us,
        'sess-' || k, 'v3:ctl-' || k, 'leg-' || k, 'parsed', convert_to(repeat('x', 500), 'UTF8')
      FROM (SELECT i, (i / 10000) * 1000 + i % 1000 AS k, (i / 1000) % 10 AS j,
        (extract(epoch FROM now())::bigint - 86400) * 1000000 + i::bigint * 1000 AS us
        FROM generate_series(0, $QUERY_EVENTS - 1) AS i) AS e" >/dev/null
    psql -X -q -h "$PGDIR" -U hookd -d queries -c "VACUUM ANALYZE events" >/dev/null
    id=$(psql -X -A -t -q -h "$PGDIR" -U hookd -d queries -c "SELECT id FROM events WHERE seq = $(( QUERY_EVENTS / 2 ))")
    ms[pg,1]=$(q_ms "$HOOKD" events list --type siprec.failed --db "$url")
    ms[pg,2]=$(q_ms "$HOOKD" events list --type call.hangup --db "$url")
    ms[pg,3]=$(q_ms "$HOOKD" calls show "sess-$(( QUERY_EVENTS / 20 ))" --db "$url")
    ms[pg,4]=$(q_ms "$HOOKD" calls show "v3:ctl-$last_k" --db "$url")
    ms[pg,5]=$(q_ms "$HOOKD" calls show "v3:ctl-$(( QUERY_EVENTS / 20 ))" --db "$url")
    ms[pg,6]=$(q_ms "$HOOKD" events show "$id" --db "$url")
    ms[pg,7]=$(q_ms "$HOOKD" events list --type call.dtmf.received --call "sess-$(( QUERY_EVENTS / 20 ))" --db "$url")
    psql -X -q -h "$PGDIR" -U hookd -d postgres -c "DROP DATABASE queries" >/dev/null
  fi
  local what=("" "\`events list --type siprec.failed\` (1 event in 100)" "\`events list --type call.hangup\` (1 in 10)"
    "\`calls show SESSION_ID\`" "\`calls show CONTROL_ID\`, the newest call" "\`calls show CONTROL_ID\`, a call half way back"
    "\`events show ID\`" "\`events list --type call.dtmf.received --call SESSION_ID\` (5 in 10; the call's)")
  for i in 1 2 3 4 5 6 7; do
    QUERY_ROWS+=("| ${what[$i]} | ${ms[before,$i]:--} | ${ms[after,$i]} | ${ms[pg,$i]:--} |")
  done
}
