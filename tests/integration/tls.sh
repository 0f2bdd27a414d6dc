#!/usr/bin/env bash
# tls.sh - TLS on the listener (issue #10): a plain and a TLS listener side by side; curl trusts the
# certificate openssl made (--cacert) and a signed delivery is stored through it; TLS 1.1 is
# refused and 1.2 and 1.3 are served; a key file others can read, a certificate without its key
# and a key that is not the certificate's are refused with the reason; SIGHUP reads a renewed
# certificate without a restart, and a broken renewal leaves the old one serving.
. "$(dirname "$0")/lib.sh"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"

# make_cert NAME CN: a self-signed P-256 certificate for 127.0.0.1, its key private.
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$TMP/$1.key" -out "$TMP/$1.crt" 2>/dev/null
  chmod 600 "$TMP/$1.key"
}
make_cert a hookd-test-a
make_cert b hookd-test-b
cp "$TMP/a.crt" "$TMP/live.crt"; cp "$TMP/a.key" "$TMP/live.key"; chmod 600 "$TMP/live.key"
conf() {
  cat <<CONF
[server]
listen = 127.0.0.1:0, tls:127.0.0.1:0
tls_cert = $TMP/$1.crt
tls_key = $TMP/$2.key
[store]
url = sqlite:$TMP/hookd.db
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
CONF
}
conf live live >"$TMP/hookd.conf"
expect_exit 0 "check-config accepts a plain and a tls: listener" "$HOOKD" check-config -c "$TMP/hookd.conf"

# --- refusals --------------------------------------------------------------------------------
chmod 644 "$TMP/a.key"
conf a a >"$TMP/bad1.conf"
expect_exit 1 "a key file others can read is refused" "$HOOKD" check-config -c "$TMP/bad1.conf"
expect_match "$TMP/err" 'tls_key .*a.key: readable by others \(mode 644\)' "  naming the file and its mode"
chmod 600 "$TMP/a.key"
conf a b >"$TMP/bad2.conf"
start_server "$TMP/bad2.log" -c "$TMP/bad2.conf" >/dev/null 2>&1
expect_match "$TMP/bad2.log" 'the key does not belong to the certificate' "a key that is not the certificate's is refused at start"
printf '[server]\nlisten = tls:127.0.0.1:0\n[endpoint t]\nscheme = telnyx\npublic_key = %s\n' "$K_public_key" >"$TMP/bad3.conf"
expect_exit 1 "a tls: listener without tls_cert and tls_key is refused" "$HOOKD" check-config -c "$TMP/bad3.conf"
expect_match "$TMP/err" 'a tls: address needs tls_cert and tls_key' "  saying so"

# --- serving ---------------------------------------------------------------------------------
start_server "$TMP/serve.log" -c "$TMP/hookd.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
PLAIN=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\),"tls":false.*/\1/p' "$TMP/serve.log")
TLS=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\),"tls":true.*/\1/p' "$TMP/serve.log")
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PLAIN/healthz")" 200 "the plain listener answers"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/a.crt" "https://127.0.0.1:$TLS/healthz")" 200 \
  "the TLS listener answers, its certificate trusted through curl --cacert"
expect_exit 60 "curl without the CA refuses the self-signed certificate (it is really TLS)" curl -s "https://127.0.0.1:$TLS/healthz"
printf '{"data":{"event_type":"siprec.failed","id":"tls-1","payload":{"failure_cause":"no_answer"}}}' >"$TMP/e.json"
TS_SIG=$("$NODE" "$CLIENT" sign "$K_private_key" "$TMP/e.json")
expect_eq "$(curl -s --cacert "$TMP/a.crt" -X POST --data-binary "@$TMP/e.json" -H "telnyx-timestamp: ${TS_SIG% *}" \
  -H "telnyx-signature-ed25519: ${TS_SIG#* }" "https://127.0.0.1:$TLS/webhooks/telnyx")" '{"status":"accepted","id":"tls-1"}' \
  "a signed delivery over TLS is stored"
expect_eq "$(sqlite3 "$TMP/hookd.db" "SELECT count(*) FROM events WHERE id = 'tls-1'")" 1 "  (its row)"
handshake() { echo | timeout 5 openssl s_client -connect "127.0.0.1:$TLS" "$@" 2>&1; }
handshake -tls1_2 >"$TMP/t12"; expect_match "$TMP/t12" '^New, TLSv1.2, Cipher is ECDHE' "TLS 1.2 is served (ECDHE)"
handshake -tls1_3 >"$TMP/t13"; expect_match "$TMP/t13" '^New, TLSv1.3, Cipher is TLS_' "TLS 1.3 is served"
# The client side allows 1.1 here (SECLEVEL=0): the refusal is the server's.
handshake -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' >"$TMP/t11"
expect_match "$TMP/t11" '^New, \(NONE\), Cipher is \(NONE\)' "TLS 1.1 is refused: no session"
expect_match "$TMP/t11" 'no peer certificate available' "  and no certificate shown"
subject() { handshake -tls1_3 | sed -n 's/^subject=.*CN *= *\([^,]*\).*/\1/p' | head -1; }
expect_eq "$(subject)" hookd-test-a "the certificate served is the configured one"

# --- renewal on SIGHUP -----------------------------------------------------------------------
cp "$TMP/b.crt" "$TMP/live.crt"; cp "$TMP/b.key" "$TMP/live.key"
kill -HUP "$SERVER_PID"
for _ in $(seq 100); do grep -q 'TLS certificate read again' "$TMP/serve.log" && break; sleep 0.05; done
expect_eq "$(subject)" hookd-test-b "after SIGHUP the renewed certificate is served, without a restart"
cp "$TMP/a.crt" "$TMP/live.crt" # a renewal gone wrong: certificate a with key b
kill -HUP "$SERVER_PID"
for _ in $(seq 100); do grep -q 'keeping the TLS certificate in use' "$TMP/serve.log" && break; sleep 0.05; done
expect_logged "$TMP/serve.log" 'keeping the TLS certificate in use.*does not belong' "a broken renewal is refused and logged"
expect_eq "$(subject)" hookd-test-b "  and the certificate in use keeps serving"
stop_server
expect_eq $? 0 "SIGTERM: exit 0"

# --- the console over TLS, with only the console on tls: ------------------------------------------
printf '[server]\nlisten = 127.0.0.1:0\ntls_cert = %s\ntls_key = %s\n[store]\nurl = sqlite:%s\n[console]\nlisten = tls:127.0.0.1:0\ntoken = console-token-over-tls-1234\n[endpoint telnyx]\nscheme = telnyx\npublic_key = %s\n' \
  "$TMP/a.crt" "$TMP/a.key" "$TMP/hookd.db" "$K_public_key" >"$TMP/console.conf"
start_server "$TMP/console.log" -c "$TMP/console.conf" || exit 1
CPORT=$(sed -n 's/.*"msg":"console listening".*"port":\([0-9]*\),"tls":true.*/\1/p' "$TMP/console.log")
curl -s -D "$TMP/ch" -o /dev/null --cacert "$TMP/a.crt" -X POST --data-urlencode token=console-token-over-tls-1234 \
  -H "Origin: https://127.0.0.1:$CPORT" "https://127.0.0.1:$CPORT/login"
expect_match "$TMP/ch" '^HTTP/1.1 303' "the console on tls: signs in over HTTPS (tls_cert used by the console alone)"
expect_match "$TMP/ch" '^Set-Cookie: hookd_console=.*; Secure' "  its cookie is Secure"
expect_match "$TMP/ch" '^Strict-Transport-Security: max-age=' "  and HSTS is sent"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/a.crt" -H 'Authorization: Bearer console-token-over-tls-1234' "https://127.0.0.1:$CPORT/api/v1/events")" 200 "  the API answers over HTTPS"
stop_server
finish
