#!/usr/bin/env bash
# shutdown.sh - SIGTERM while requests are still arriving (issue #7, item 9): a request that
# completes its body while hookd stops must get a 503 or nothing, never a 200 without a row, and
# never touch the store after it was freed (this script runs on the sanitizer build too, where a
# use-after-free aborts the daemon).
. "$(dirname "$0")/lib.sh"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"
cat >"$TMP/hookd.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = sqlite:$TMP/hookd.db
[endpoint open]
scheme = none
CONF
for round in 1 2 3 4 5; do
  start_server "$TMP/serve.$round.log" -c "$TMP/hookd.conf" || exit 1
  CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
  # An idle keep-alive connection is open when SIGTERM arrives; 20 ms later it sends a request's
  # headers and all but 10 bytes of its body, the rest $((round * 150)) ms after that.
  "$NODE" -e "
const net = require('net');
const body = JSON.stringify({ round: $round, pad: 'x'.repeat(200) });
const s = net.connect($PORT, '127.0.0.1', () => {
  process.kill($SERVER_PID, 'SIGTERM');
  setTimeout(() => {
    s.write('POST /webhooks/open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ' + body.length + '\r\n\r\n' + body.slice(0, -10));
    setTimeout(() => s.write(body.slice(-10)), $((round * 150)));
  }, 20);
});
let got = '';
s.on('data', (d) => { got += d; });
s.on('error', () => {});
s.on('close', () => { console.log((got.split('\r\n')[0] || 'closed').trim()); process.exit(0); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);
" >"$TMP/answer.$round"
  wait "$SERVER_PID"; rc=$?
  CLEANUP=
  answer=$(cat "$TMP/answer.$round")
  rows=$(sqlite3 "$TMP/hookd.db" "SELECT count(*) FROM events WHERE body LIKE '{\"round\":$round,%'")
  echo "# round $round: answer '$answer', rows $rows, exit $rc"
  expect_eq "$rc" 0 "round $round: SIGTERM with a request arriving: exit 0 (no crash)"
  case "$answer" in
    *" 200 "*) expect_eq "$rows" 1 "round $round: a 200 only with its row stored" ;;
    *) expect_eq "$rows" 0 "round $round: not acknowledged ($answer), and not stored" ;;
  esac
  expect_no_match "$TMP/serve.$round.log" 'AddressSanitizer|runtime error' "round $round: no sanitizer report"
done
finish
