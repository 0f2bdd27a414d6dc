# lib.sh - a few assertions for the integration tests, which drive the real hookd binary.
# Each script sources this, calls the checks, and ends with `finish`.
set -u
: "${HOOKD:?HOOKD must point at the hookd binary}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; [ -n "${CLEANUP:-}" ] && eval "$CLEANUP"' EXIT
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
  fi
}

# expect_match FILE REGEX DESCRIPTION
expect_match() {
  if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3" "no /$2/ in: $(head -c 400 "$1")"; fi
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
    if grep -q '"msg":"started"' "$log"; then
      PORT=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | tail -1)
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

sql() { sqlite3 "$DB" "$1"; }

# metric NAME: the value of one sample of the running daemon's /metrics (NAME with its labels).
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
