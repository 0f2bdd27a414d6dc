# lib.sh - a few assertions for the integration tests, which drive the real hookd binary.
# Each script sources this, calls the checks, and ends with `finish`.
set -u
: "${HOOKD:?HOOKD must point at the hookd binary}"
TMP=$(mktemp -d)
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)"
# Daemons first (CLEANUP, set by the scripts), then the databases, then the files.
trap '[ -n "${CLEANUP:-}" ] && eval "$CLEANUP"; pg_down; rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# expect_exit CODE DESCRIPTION COMMAND...: run COMMAND, compare its exit status.
# Its stdout and stderr are kept in $TMP/out and $TMP/err for later checks.
expect_exit() {
  local want=$1 desc=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass "$desc"; else
    fail "$desc" "exit $got, wanted $want" "stdout: $(head -c 400 "$TMP/out")" "stderr: $(head -c 400 "$TMP/err")"
    # A command that runs checks of its own (console.js): its failures first, not its first lines.
    if grep -q '^not ok' "$TMP/out"; then
      echo "#   its failures: $(grep -A4 '^not ok' "$TMP/out" | head -c 2000)"
    fi
  fi
}

# expect_match FILE REGEX DESCRIPTION
expect_match() {
  if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3" "no /$2/ in: $(head -c 400 "$1")"; fi
}

# expect_logged LOG REGEX DESCRIPTION: expect_match for a daemon's log, waiting up to 5 s for the
# line. A request is logged when its connection completes, which can be just after the client
# has read its response.
expect_logged() {
  for _ in $(seq 50); do grep -Eq -- "$2" "$1" && break; sleep 0.1; done
  expect_match "$@"
}

expect_no_match() {
  if grep -Eq -- "$2" "$1"; then fail "$3" "found /$2/ in: $(head -c 400 "$1")"; else pass "$3"; fi
}

expect_eq() {
  if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "got '$1'" "wanted '$2'"; fi
}

# header NAME FILE: the value of "NAME: value" in FILE.
header() { sed -n "s/^$1: //p" "$2"; }

finish() {
  echo "$(basename "$0" .sh): $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# ---- the daemon ----------------------------------------------------------------------------
: "${NODE:=node}"
CLIENT="$(dirname "${BASH_SOURCE[0]}")/client.js"

# start_server LOG ARGS...: hookd serve ARGS in the background (listen on port 0 in ARGS or the
# config); sets SERVER_PID and PORT once it logs "started".
start_server() {
  local log=$1; shift
  "$HOOKD" serve "$@" 2>"$log" &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 400); do
    if grep -Eq -e '"msg":"started"' -e ' notice +started ' "$log"; then # JSON, or --log-format text
      PORT=$(sed -n -e 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' -e 's/.* notice \+listening .*port=\([0-9]*\).*/\1/p' "$log" | tail -1)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "hookd serve exited: $(cat "$log")"; return 1; }
    sleep 0.05
  done
  echo "hookd serve did not start: $(cat "$log")"
  kill -9 "$SERVER_PID" 2>/dev/null
  return 1
}

# stop_server: SIGTERM and wait; the exit status is returned.
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID"
}

# post PATH BODY_FILE [curl args...]: POST, body in $TMP/resp, status in $TMP/status.
post() {
  local path=$1 file=$2; shift 2
  curl -s -o "$TMP/resp" -w '%{http_code}' -X POST --data-binary "@$file" \
    -H 'Content-Type: application/json' "$@" "http://127.0.0.1:$PORT$path" >"$TMP/status"
}

# post_telnyx PATH BODY_FILE SEED [TIMESTAMP]: sign with Node's crypto, then post.
post_telnyx() {
  local ts_sig
  ts_sig=$("$NODE" "$CLIENT" sign "$3" "$2" ${4:+"$4"})
  post "$1" "$2" -H "telnyx-timestamp: ${ts_sig% *}" -H "telnyx-signature-ed25519: ${ts_sig#* }"
}

# sql QUERY: on the store new_store made last (or the SQLite file $DB).
sql() { if [ -n "${STORE_NAME:-}" ]; then sql_in "$STORE_NAME" "$1"; else sqlite3 "$DB" "$1"; fi; }

# ---- the store under test --------------------------------------------------------------------
# HOOKD_TEST_STORE=postgres runs a suite on PostgreSQL: on the server scripts/test started
# (HOOKD_TEST_PG, its socket directory), or on one of the suite's own (scripts/pg-tmp). Each
# store_url is a database of its own, dropped at the end.
# A suite that restarts the server (PG_PRIVATE=1 before sourcing lib.sh) gets one of its own.
STORE=${HOOKD_TEST_STORE:-sqlite}
PG_HOST=${HOOKD_TEST_PG:-}
[ -n "${PG_PRIVATE:-}" ] && PG_HOST=
PG_OWN=
PG_DBS=
pg_down() {
  [ -z "$PG_HOST" ] && return 0
  if [ -n "$PG_OWN" ]; then "$SCRIPTS/pg-tmp" stop "$PG_HOST"; return 0; fi
  for d in $PG_DBS; do psql -X -q -h "$PG_HOST" -U hookd -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1; done
}
if [ "$STORE" = postgres ] && [ -z "$PG_HOST" ]; then
  PG_HOST=$(mktemp -d -t hookd-pg.XXXXXX) # not under $TMP (0700): the server's user must reach it
  PG_OWN=1
  "$SCRIPTS/pg-tmp" start "$PG_HOST" || { echo "cannot start a PostgreSQL server for the test"; exit 1; }
fi
pg_db() { echo "t$$_$1"; }

# new_store NAME: a fresh, empty store of the backend under test; sets STORE_URL.
# SQLite's file is $TMP/NAME.db. On PostgreSQL, the test database also gets group_concat and
# hex(), so the SQLite queries of the checks run unchanged.
new_store() {
  if [ "$STORE" = postgres ]; then
    local db; db=$(pg_db "$1")
    psql -X -q -h "$PG_HOST" -U hookd -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1 || return 1
    PG_DBS="$PG_DBS $db"
    psql -X -q -h "$PG_HOST" -U hookd -d "$db" >/dev/null <<'SQL' || return 1
CREATE FUNCTION gc_step(acc text, v text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v ELSE acc || ',' || v END $$;
CREATE AGGREGATE group_concat(text) (SFUNC = gc_step, STYPE = text);
CREATE FUNCTION hex(bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(encode($1, 'hex')) $$;
SQL
    STORE_URL="postgresql:///$db?host=$PG_HOST&user=hookd"
    STORE_NAME=$1
  else
    STORE_NAME=$1
    rm -f "$TMP/$1.db" "$TMP/$1.db-wal" "$TMP/$1.db-shm"
    STORE_URL="sqlite:$TMP/$1.db"
  fi
}

# sql_in NAME QUERY: rows of QUERY on store NAME, columns joined by | (as sqlite3 prints them).
sql_in() {
  if [ "$STORE" = postgres ]; then psql -X -A -t -q -h "$PG_HOST" -U hookd -d "$(pg_db "$1")" -c "$2"
  else sqlite3 "$TMP/$1.db" "$2"; fi
}

# stored_of NAME IDS_FILE: "N M": N ids in the file (one per line), M of them stored in NAME.
stored_of() {
  if [ "$STORE" = postgres ]; then
    psql -X -A -t -q -h "$PG_HOST" -U hookd -d "$(pg_db "$1")" <<SQL
CREATE TEMP TABLE ok (id text);
\copy ok FROM '$2'
SELECT (SELECT count(*) FROM ok) || ' ' || (SELECT count(*) FROM ok WHERE id IN (SELECT id FROM events));
SQL
  else
    sqlite3 "$TMP/$1.db" <<SQL
CREATE TEMP TABLE ok(id TEXT);
.import $2 ok
SELECT (SELECT count(*) FROM ok) || ' ' || (SELECT count(*) FROM ok WHERE id IN (SELECT id FROM events));
SQL
  fi
}

# console_conf TOKEN_VALUE: the head of a config with a console (token = TOKEN_VALUE) and one
# Telnyx endpoint (key $K_public_key) on the store new_store made last; handlers follow it.
console_conf() {
  cat <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = $STORE_URL
[console]
listen = 127.0.0.1:0
token = $1
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
tolerance = 3600
CONF
}

# console_port LOG: the console's port, from the daemon's "console listening" line.
console_port() { sed -n 's/.*"msg":"console listening".*"port":\([0-9]*\).*/\1/p' "$1"; }

# metric NAME: the value of one sample of the running daemon's /metrics (NAME with its labels).
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
