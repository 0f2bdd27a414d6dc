#!/usr/bin/env bash
# config.sh - hookd check-config and hookd serve say precisely what is wrong in a config file
# (FILE:LINE: [section] key: what), and refuse to start an endpoint that would accept forgeries.
. "$(dirname "$0")/lib.sh"

PUB=$("$HOOKD" keygen | sed -n 's/^public_key=//p')
n=0
# bad "DESCRIPTION" "EXPECTED MESSAGE REGEX" <<CONF ... CONF
bad() {
  n=$((n + 1))
  cat >"$TMP/c$n.conf"
  expect_exit 1 "check-config: $1" "$HOOKD" check-config -c "$TMP/c$n.conf"
  expect_match "$TMP/err" "^$TMP/c$n.conf:?$2" "  says: $2"
}

bad "an endpoint without keys fails closed" '1: \[endpoint t\] public_key: scheme telnyx needs at least one key \(fail closed' <<CONF
[endpoint t]
scheme = telnyx
CONF
bad "a key that is not a key, at its line" '3: \[endpoint t\] key 1: not a valid telnyx key \(bad_key\)' <<CONF
[endpoint t]
scheme = telnyx
public_key = ${PUB%?}
CONF
bad "a Standard Webhooks private key where the public one belongs" '3: \[endpoint s\] key 1: not a valid standard key' <<CONF
[endpoint s]
scheme = standard
public_key = $("$HOOKD" keygen --scheme standard | sed -n 's/^private_key=//p')
CONF
bad "max_size on a PostgreSQL store is refused, not ignored" ': \[store\] max_size works with sqlite: stores only' <<CONF
[store]
url = postgresql://db.internal/hookd
max_size = 1G
[endpoint t]
scheme = telnyx
public_key = $PUB
CONF
bad "durability = process on PostgreSQL is refused (every 200 follows a synchronous commit)" ': \[store\] durability = process works with sqlite: stores only' <<CONF
[store]
url = postgres://db.internal/hookd
durability = process
[endpoint t]
scheme = telnyx
public_key = $PUB
CONF
bad "a node name with a blank" '2: \[server\] node: expected a name' <<CONF
[server]
node = edge 1
[endpoint t]
scheme = telnyx
public_key = $PUB
CONF
bad "tls_cert must be an absolute path" '2: \[server\] tls_cert: expected an absolute path' <<CONF
[server]
tls_cert = cert.pem
[endpoint t]
scheme = telnyx
public_key = $PUB
CONF
bad "a certificate without a tls: listener is a mistake said out loud" ': \[server\] tls_cert/tls_key: no listen address is tls:HOST:PORT' <<CONF
[server]
listen = 127.0.0.1:8080
tls_cert = /etc/hookd/cert.pem
tls_key = /etc/hookd/key.pem
[endpoint t]
scheme = telnyx
public_key = $PUB
CONF
bad "lease_grace is at most 30 s" '2: \[store\] lease_grace: expected seconds from 1 to 30' <<CONF
[store]
lease_grace = 90
[endpoint t]
scheme = telnyx
public_key = $PUB
CONF
bad "commit_wait is a short wait in us or ms" '2: \[store\] commit_wait: expected 0 or a wait up to 100ms in us or ms' <<CONF
[store]
commit_wait = 1s
CONF
bad "commit_wait over 100 ms" '2: \[store\] commit_wait: expected 0 or a wait' <<CONF
[store]
commit_wait = 101ms
CONF
bad "commit_wait without a unit (a bare 0 is the only one)" '2: \[store\] commit_wait: expected 0 or a wait' <<CONF
[store]
commit_wait = 500
CONF
bad "no scheme" '1: \[endpoint t\] scheme: missing' <<CONF
[endpoint t]
public_key = $PUB
CONF
bad "an unknown scheme" '2: \[endpoint t\] scheme: expected telnyx, standard or none' <<CONF
[endpoint t]
scheme = hmac
CONF
bad "an unknown key (a typo must not pass)" '4: \[endpoint t\] pubic_key: unknown key' <<CONF
[endpoint t]
scheme = telnyx
public_key = $PUB
pubic_key = $PUB
CONF
bad "an unknown section" '1: unknown section \[endpoints\]' <<CONF
[endpoints]
CONF
bad "a value out of range" '2: \[server\] threads: expected a number from 1 to 64' <<CONF
[server]
threads = 0
CONF
bad "a bad size" '2: \[server\] max_body: expected a size' <<CONF
[server]
max_body = lots
CONF
bad "a bad durability" '2: \[store\] durability: expected full or process' <<CONF
[store]
durability = maybe
CONF
bad "an env: secret that is not set" '3: \[endpoint s\] secret: environment variable HOOKD_TEST_UNSET is not set' <<CONF
[endpoint s]
scheme = standard
secret = env:HOOKD_TEST_UNSET
CONF
bad "a file: secret that cannot be read" "3: \\[endpoint s\\] secret: cannot read $TMP/missing" <<CONF
[endpoint s]
scheme = standard
secret = file:$TMP/missing
CONF
head -c 5000 /dev/zero | tr '\0' a >"$TMP/huge-secret"
bad "a file: secret over 4096 bytes" "3: \\[endpoint s\\] secret: $TMP/huge-secret is larger than 4096 bytes" <<CONF
[endpoint s]
scheme = standard
secret = file:$TMP/huge-secret
CONF
bad "a bad CIDR" "4: \\[endpoint t\\] allow: '10.0.0.0/33' is not a CIDR" <<CONF
[endpoint t]
scheme = telnyx
public_key = $PUB
allow = telnyx, 10.0.0.0/33
CONF
bad "two endpoints on one path" '4: \[endpoint b\] path: /x is already \[endpoint a\]' <<CONF
[endpoint a]
scheme = none
path = /x
[endpoint b]
scheme = none
path = /x
CONF
bad "the same endpoint twice" '3: \[endpoint a\] appears twice \(first at line 1\)' <<CONF
[endpoint a]
scheme = none
[endpoint a]
CONF
bad "a line that is not INI" '2: not an INI line' <<CONF
[endpoint a]
this is not a setting
CONF
bad "keys on an unsigned endpoint" '3: \[endpoint a\] public_key: scheme none takes no keys' <<CONF
[endpoint a]
scheme = none
public_key = $PUB
CONF
bad "no endpoint at all" ' no \[endpoint NAME\] section' <<CONF
[server]
listen = 127.0.0.1:0
CONF
{ echo "[endpoint a]"; printf 'scheme = none ; %0300d\n' 0; } >"$TMP/long.conf"
expect_exit 1 "a line longer than libinih reads is an error, not a silent cut" "$HOOKD" check-config -c "$TMP/long.conf"
expect_match "$TMP/err" ':2: line longer than' "  at its line"

# hookd serve refuses the same files, with the same words, before opening anything.
expect_exit 2 "serve refuses a config with a keyless telnyx endpoint" "$HOOKD" serve -c "$TMP/c1.conf"
expect_match "$TMP/err" 'needs at least one key' "  with the reason"
expect_exit 2 "serve without -c or a key" "$HOOKD" serve --listen 127.0.0.1:0

# What passes: secrets from the environment and from files, and scheme = none.
export HOOKD_TEST_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
printf 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n' >"$TMP/secret"
cat >"$TMP/good.conf" <<CONF
[endpoint s]
scheme = standard
secret = env:HOOKD_TEST_SECRET
; the file's trailing newline is dropped
secret = file:$TMP/secret
[endpoint open]
scheme = none
CONF
expect_exit 0 "env: and file: secrets, and scheme = none, are valid" "$HOOKD" check-config -c "$TMP/good.conf"
expect_match "$TMP/out" 'scheme=standard keys=2' "  both secrets are read"
expect_match "$TMP/out" 'durability full, commit_wait 1000us' "  commit_wait defaults to 1 ms"
for w in 0:0 250us:250 2ms:2000 100ms:100000; do
  printf '[store]\ncommit_wait = %s\n[endpoint open]\nscheme = none\n' "${w%%:*}" >"$TMP/wait.conf"
  expect_exit 0 "commit_wait = ${w%%:*} is valid" "$HOOKD" check-config -c "$TMP/wait.conf"
  expect_match "$TMP/out" "commit_wait ${w#*:}us" "  and read as ${w#*:} us"
done
expect_exit 0 "the shipped example config is valid" env TELNYX_PUBLIC_KEY="$PUB" STD_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
  "$HOOKD" check-config -c "$(dirname "$0")/../../examples/hookd.conf"
# --- no inline comments: a ';' after a blank is refused, never cut (issue #7, item 21) ----------
bad "a ';' after a blank in a value is refused, not cut" '3: \[endpoint t\] bearer_token: a .;. after a blank: hookd.conf has no inline comments' <<CONF
[endpoint t]
scheme = none
bearer_token = tok ;en
CONF
bad "an old-style inline comment is refused at its line" '2: \[endpoint t\] scheme: a .;. after a blank' <<CONF
[endpoint t]
scheme = none   ; accepts anything
CONF
cat >"$TMP/semi.conf" <<CONF
[endpoint t]
scheme = none
bearer_token = tok;en
[handler h]
on = *
exec = /bin/echo "a ; b" c;d
CONF
expect_exit 0 "';' without a blank before it, and inside quotes in exec, is part of the value" "$HOOKD" check-config -c "$TMP/semi.conf"
expect_match "$TMP/out" '\[handler h\] endpoint=\* exec \[/bin/echo\] \[a ; b\] \[c;d\]' "  exec gets the words whole"

# --- file: secrets: regular files only, no NUL, a warning when others can read (item 20) --------
mkfifo "$TMP/fifo"
bad "a FIFO as a file: secret is refused (it would block)" '3: \[endpoint s\] secret: .*fifo is not a regular file' <<CONF
[endpoint s]
scheme = standard
secret = file:$TMP/fifo
CONF
printf 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\0junk' >"$TMP/nul"
bad "a file: secret with a NUL byte is refused" '3: \[endpoint s\] secret: .*nul holds a NUL byte' <<CONF
[endpoint s]
scheme = standard
secret = file:$TMP/nul
CONF
chmod 644 "$TMP/secret"
expect_exit 0 "a secret file others can read still works" "$HOOKD" check-config -c "$TMP/good.conf"
expect_match "$TMP/err" "^warning: $TMP/good.conf:5: \\[endpoint s\\] secret: $TMP/secret can be read by its group or others \\(mode 644\\)" "  with a warning naming the file and line"
chmod 600 "$TMP/secret"
expect_exit 0 "mode 600: no warning" "$HOOKD" check-config -c "$TMP/good.conf"
expect_no_match "$TMP/err" 'warning' "  (none printed)"

# --- exec handlers: env_clear / env_pass (item 23) -----------------------------------------------
cat >"$TMP/env.conf" <<CONF
[endpoint s]
scheme = standard
secret = env:HOOKD_TEST_SECRET
[handler inherit]
on = *
exec = /usr/bin/env
[handler clean]
on = *
exec = /usr/bin/env
env_pass = PATH, LANG
[handler empty]
on = *
exec = /usr/bin/env
env_clear = yes
CONF
expect_exit 0 "env_clear and env_pass are valid" "$HOOKD" check-config -c "$TMP/env.conf"
expect_match "$TMP/out" '\[handler inherit\] .* env=inherited$' "  a handler inherits the environment by default"
expect_match "$TMP/out" '\[handler clean\] .* env=PATH,LANG$' "  env_pass names what passes"
expect_match "$TMP/out" '\[handler empty\] .* env=$' "  env_clear = yes passes nothing"
bad "env_pass takes variable names" '5: \[handler h\] env_pass: expected up to 32 variable names' <<CONF
[endpoint t]
scheme = none
[handler h]
on = *
env_pass = PATH, 1BAD
exec = /bin/true
CONF
# --- the [server] keys of issue #7 refuse what they cannot use ------------------------------------
bad "max_buffered below 64k" '2: \[server\] max_buffered: expected a size of at least 64k' <<CONF
[server]
max_buffered = 1k
[endpoint t]
scheme = none
CONF
bad "header_timeout 0" '2: \[server\] header_timeout: expected seconds from 1 to 3600' <<CONF
[server]
header_timeout = 0
[endpoint t]
scheme = none
CONF
bad "ops_allow that is not a CIDR" "2: \\[server\\] ops_allow: 'everyone' is not a CIDR" <<CONF
[server]
ops_allow = everyone
[endpoint t]
scheme = none
CONF
finish
