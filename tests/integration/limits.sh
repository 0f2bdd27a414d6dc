#!/usr/bin/env bash
# limits.sh - slow clients cannot starve the others: a client trickling its headers a byte at a
# time (slowloris) is cut off at request_timeout although it is never idle, and the connection
# limit holds while such clients hold every connection, then frees up.
. "$(dirname "$0")/lib.sh"
new_store limits

cat >"$TMP/hookd.conf" <<CONF
[server]
listen = 127.0.0.1:0
max_connections = 4
per_ip_connections = 4
request_timeout = 2
[store]
url = $STORE_URL
[endpoint open]
scheme = none
CONF
start_server "$TMP/serve.log" -c "$TMP/hookd.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"

# Four connections that each send one more byte of a request every 300 ms: never idle.
"$NODE" -e "
const net = require('net');
const req = 'POST /webhooks/open HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
const t0 = Date.now(); let open = 4;
for (let i = 0; i < 4; i++) {
  const s = net.connect($PORT, '127.0.0.1'); let n = 0;
  const tick = setInterval(() => { if (n < req.length) s.write(req[n++]); }, 300);
  s.on('error', () => {});
  s.on('close', () => { clearInterval(tick); console.log('closed after ' + ((Date.now() - t0) / 1000).toFixed(1) + ' s');
    if (--open === 0) process.exit(0); });
}
setTimeout(() => { console.log('still open after 10 s'); process.exit(1); }, 10000);
" >"$TMP/slow.out" &
SLOW=$!
sleep 0.7
# libmicrohttpd leaves connections over the limit in the listen backlog: not served, not dropped.
curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" >"$TMP/busy" 2>/dev/null
expect_eq "$(cat "$TMP/busy")" 000 "while max_connections = 4 are held, a fifth is not served"
wait "$SLOW"
expect_eq "$?" 0 "the trickling clients were cut off"
expect_eq "$(grep -c 'closed after [2-4]\.' "$TMP/slow.out")" 4 "all four within the 2 s deadline (+ the reaper's tick)"
expect_eq "$(curl -s -m 2 "http://127.0.0.1:$PORT/healthz")" '{"status":"alive"}' "then the service answers again"
expect_logged "$TMP/serve.log" '"msg":"connection cut","status":408,"reason":"header_timeout","remote":"127.0.0.1"' \
  "cut connections are logged as 408 header_timeout (their headers never completed)"
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
expect_match "$TMP/metrics" '^hookd_rejections_total\{reason="header_timeout"\} 4$' "and counted, once each"

# A keep-alive connection that sends requests in time is not cut: three requests 1.5 s apart.
expect_eq "$("$NODE" -e "
const http = require('http'); const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let ok = 0;
const one = (i) => http.get({ host: '127.0.0.1', port: $PORT, path: '/healthz', agent }, (res) => {
  res.resume(); res.on('end', () => { if (res.statusCode === 200) ok++;
    if (i < 3) setTimeout(() => one(i + 1), 1500); else { console.log(ok); agent.destroy(); } });
}).on('error', () => { console.log('error'); process.exit(); });
one(1);")" 3 "a connection that keeps completing requests keeps its deadline fresh"
stop_server
expect_eq "$?" 0 "SIGTERM: exit 0"
finish
