#!/usr/bin/env bash
# framing.sh - requests a proxy in front of hookd could frame differently are refused (issue #7,
# item 14): libmicrohttpd 0.9.75 ignores "Content-Length : N" and glues folded lines onto header
# names, so hookd checks the names and values it is given. Each case is sent byte for byte.
. "$(dirname "$0")/lib.sh"
RAW="python3 $(dirname "$0")/flood.py raw"

cat >"$TMP/hookd.conf" <<CONF
[server]
listen = 127.0.0.1:0
max_buffered = 64k
[store]
url = sqlite:$TMP/hookd.db
[endpoint open]
scheme = none
CONF
start_server "$TMP/serve.log" -c "$TMP/hookd.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"

# case WANT_STATUS DESCRIPTION REQUEST (printf format; the body "hello" is stored when accepted)
case_() {
  local want=$1 desc=$2 fmt=$3
  # shellcheck disable=SC2059
  got=$(printf "$fmt" | $RAW "$PORT" | cut -d' ' -f2)
  expect_eq "$got" "$want" "$desc"
}
H='POST /webhooks/open HTTP/1.1\r\nHost: x\r\n'
case_ 200 "a plain request is accepted" "${H}Content-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "Content-Length with a space before the colon" "${H}Content-Length : 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "a header name with a space inside" "${H}X Y: 1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "a name that only begins like Content-Length" "${H}Content-Lengthx: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "a name that only begins like Transfer-Encoding" "${H}Transfer-Encoding-X: chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "an obs-folded Content-Length" "${H}X-A: a\r\n Content-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "an obs-folded Transfer-Encoding" "${H}X-A: a\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "a fold that continues Content-Length's value" "${H}Content-Length: 5\r\n 0\r\nConnection: close\r\n\r\nhello"
case_ 400 "a bare CR inside a header value" "${H}X-A: a\rb\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "two Content-Length headers" "${H}Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 400 "Content-Length with Transfer-Encoding" "${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
case_ 501 "an unknown Transfer-Encoding" "${H}Transfer-Encoding: gzip\r\nConnection: close\r\n\r\nhello"
case_ 501 "Transfer-Encoding: gzip, chunked" "${H}Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
case_ 200 "Transfer-Encoding: chunked is accepted" "${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
case_ 400 "HTTP/1.1 without Host" 'POST /webhooks/open HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'
case_ 400 "HTTP/1.1 with two Host headers" "${H}Host: y\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
case_ 200 "HTTP/1.0 needs no Host" 'POST /webhooks/open HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello'
expect_eq "$(sqlite3 "$TMP/hookd.db" 'SELECT count(*), sum(attempts) FROM events')" "1|3" \
  "only the three accepted requests reached the store (one event, three copies)"
for r in bad_header_name bad_header_value ambiguous_length transfer_encoding_unsupported host_missing; do
  expect_logged "$TMP/serve.log" "\"reason\":\"$r\"" "the log names the reason $r"
done
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
expect_match "$TMP/metrics" '^hookd_rejections_total\{reason="bad_header_name"\} 7$' "and /metrics counts them (7 name cases, folds included)"
# max_buffered: a body that would take the bodies in progress past it is answered 503 mid-upload.
python3 - "$PORT" >"$TMP/busy.out" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
head = b"POST /webhooks/open HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n"
a = socket.create_connection(("127.0.0.1", port)); a.sendall(head + b"a" * 40000)
time.sleep(0.3)
b = socket.create_connection(("127.0.0.1", port), timeout=5); b.sendall(head + b"b" * 40000)
print(b.recv(4096).decode("latin-1"))
a.close(); b.close()
PY
expect_match "$TMP/busy.out" '^HTTP/1.1 503 ' "a second body past max_buffered (64k) gets 503 while it is arriving"
expect_match "$TMP/busy.out" '^Retry-After: 5' "  with Retry-After"
expect_match "$TMP/busy.out" '"reason":"server_busy"' "  and its reason"
# A client that closes in the middle of its body is logged and counted as client_closed (the
# first connection above did too, after the 503).
python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /webhooks/open HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"c" * 1000)
time.sleep(0.2)
s.close()
PY
for _ in $(seq 50); do grep -q 'after 1000 bytes of its body' "$TMP/serve.log" && break; sleep 0.1; done
expect_logged "$TMP/serve.log" '"status":400,"reason":"client_closed","message":"the client closed the connection after 1000 bytes of its body"' \
  "a body its client stopped sending is logged as client_closed, with how much arrived"
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/m2"
expect_match "$TMP/m2" '^hookd_rejections_total\{reason="client_closed"\} 2$' "  and counted (this one and the first of the max_buffered pair)"
stop_server; expect_eq $? 0 "SIGTERM: exit 0"
finish
