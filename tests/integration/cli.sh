#!/usr/bin/env bash
# cli.sh - hookd keygen / sign / verify, cross-checked against the openssl command line.
#
# Ed25519 signatures are deterministic, so for a key made by openssl, `hookd sign` must print the
# very bytes `openssl pkeyutl -sign -rawin` does, and each side must verify the other's.
. "$(dirname "$0")/lib.sh"

NOW=$(date +%s)
printf '%s' '{"data":{"record_type":"event","event_type":"siprec.failed","id":"25dc3731-e51e-4927-a50d-a61cc25984b1","occurred_at":"2021-12-15T14:11:24.613295Z","payload":{"call_control_id":"31f19208-5db0-11ec-9ea7-02420a0d3a69","call_session_id":"31f19208-5db0-11ec-9ea7-02420a0d3a69","failure_cause":"no_answer"}},"meta":{"attempt":1,"delivered_to":"http://127.0.0.1/webhooks/telnyx"}}' >"$TMP/body.json"

# --- an openssl key, in Telnyx's text forms ---------------------------------------------------
openssl genpkey -algorithm ed25519 -out "$TMP/key.pem" 2>/dev/null
openssl pkey -in "$TMP/key.pem" -pubout -out "$TMP/pub.pem"
PUB=$(openssl pkey -in "$TMP/key.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
SEED=$(openssl pkey -in "$TMP/key.pem" -outform DER | tail -c 32 | base64 -w0)

# openssl signs "timestamp|body"; hookd verify must accept it.
{ printf '%s|' "$NOW"; cat "$TMP/body.json"; } >"$TMP/msg"
OSSL_SIG=$(openssl pkeyutl -sign -inkey "$TMP/key.pem" -rawin -in "$TMP/msg" | base64 -w0)
expect_exit 0 "verify accepts an openssl-signed Telnyx delivery" \
  "$HOOKD" verify --scheme telnyx --public-key "$PUB" --timestamp "$NOW" --signature "$OSSL_SIG" --file "$TMP/body.json"
expect_match "$TMP/out" '^valid telnyx .*event_type=siprec.failed id=25dc3731-e51e-4927-a50d-a61cc25984b1 .*failure_cause=no_answer' \
  "verify prints a one-line summary of the event"

# hookd sign with the same seed must give the same bytes, which openssl verifies.
expect_exit 0 "sign --scheme telnyx" "$HOOKD" sign --scheme telnyx --private-key "$SEED" --timestamp "$NOW" --file "$TMP/body.json"
cp "$TMP/out" "$TMP/headers"
expect_eq "$(header telnyx-signature-ed25519 "$TMP/headers")" "$OSSL_SIG" "hookd sign equals openssl pkeyutl -sign, byte for byte"
expect_eq "$(header telnyx-timestamp "$TMP/headers")" "$NOW" "sign prints telnyx-timestamp"
header telnyx-signature-ed25519 "$TMP/headers" | base64 -d >"$TMP/sig.bin"
expect_exit 0 "openssl verifies what hookd signed" \
  openssl pkeyutl -verify -pubin -inkey "$TMP/pub.pem" -rawin -in "$TMP/msg" -sigfile "$TMP/sig.bin"

# stdin is the default body source.
"$HOOKD" sign --private-key "$SEED" --timestamp "$NOW" <"$TMP/body.json" >"$TMP/stdin-headers"
expect_eq "$(header telnyx-signature-ed25519 "$TMP/stdin-headers")" "$OSSL_SIG" "sign reads the body from stdin"

# --- rejections, each with its reason and exit 1 ----------------------------------------------
printf ' ' >>"$TMP/body.json"
expect_exit 1 "one added byte of body fails" \
  "$HOOKD" verify --scheme telnyx --public-key "$PUB" --timestamp "$NOW" --signature "$OSSL_SIG" --file "$TMP/body.json"
expect_match "$TMP/err" 'signature_mismatch' "reason: signature_mismatch"
expect_no_match "$TMP/err" "$OSSL_SIG" "the reason never shows a signature"
truncate -s -1 "$TMP/body.json"

expect_exit 1 "a timestamp 301 s old fails" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "$NOW" --signature "$OSSL_SIG" --now $((NOW + 301)) --file "$TMP/body.json"
expect_match "$TMP/err" 'timestamp is too old: 301 s before now, window 300 s \(timestamp_too_old\)' "reason: too old, with the skew"
expect_exit 0 "exactly 300 s passes" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "$NOW" --signature "$OSSL_SIG" --now $((NOW + 300)) --file "$TMP/body.json"
expect_exit 1 "301 s in the future fails" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "$NOW" --signature "$OSSL_SIG" --now $((NOW - 301)) --file "$TMP/body.json"
expect_match "$TMP/err" 'timestamp_in_future' "reason: timestamp_in_future"
expect_exit 0 "--tolerance widens the window" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "$NOW" --signature "$OSSL_SIG" --now $((NOW + 3600)) --tolerance 3600 --file "$TMP/body.json"
expect_exit 1 "a malformed timestamp fails" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "+$NOW" --signature "$OSSL_SIG" --file "$TMP/body.json"
expect_match "$TMP/err" 'timestamp_malformed' "reason: timestamp_malformed"
expect_exit 1 "an unpadded signature fails" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "$NOW" --signature "${OSSL_SIG%==}" --file "$TMP/body.json"
expect_match "$TMP/err" 'signature_malformed' "reason: signature_malformed"
expect_exit 1 "an empty signature is a missing header" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "$NOW" --signature "" --file "$TMP/body.json"
expect_match "$TMP/err" 'missing header telnyx-signature-ed25519' "reason names the header"

# Key rotation: a wrong key first, the right one second.
OTHER=$("$HOOKD" keygen | sed -n 's/^public_key=//p')
expect_exit 0 "any of several --public-key verifies" \
  "$HOOKD" verify --public-key "$OTHER" --public-key "$PUB" --timestamp "$NOW" --signature "$OSSL_SIG" --file "$TMP/body.json"
expect_match "$TMP/out" 'key=1' "the summary says which key verified"

# --- usage errors: exit 2 ---------------------------------------------------------------------
expect_exit 2 "a key of the wrong size is a usage error" \
  "$HOOKD" verify --public-key "${PUB%?}" --timestamp "$NOW" --signature "$OSSL_SIG" --file "$TMP/body.json"
expect_exit 2 "verify without a key" "$HOOKD" verify --timestamp "$NOW" --signature "$OSSL_SIG"
expect_exit 2 "an unknown option" "$HOOKD" verify --bogus
expect_exit 2 "an unknown scheme" "$HOOKD" sign --scheme hmac --private-key "$SEED"
expect_exit 2 "an unknown command" "$HOOKD" frobnicate
expect_exit 2 "--id with a dot" "$HOOKD" sign --scheme standard --id a.b --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
expect_exit 2 "--now must be digits" "$HOOKD" verify --public-key "$PUB" --timestamp 1 --signature x --now yesterday
for cmd in keygen sign verify send; do
  expect_exit 0 "hookd $cmd --help" "$HOOKD" "$cmd" --help
  expect_match "$TMP/out" "^usage: hookd $cmd" "hookd $cmd --help prints its usage"
done
expect_exit 0 "hookd --help" "$HOOKD" --help
"$HOOKD" keygen >/dev/full 2>"$TMP/err"
expect_eq "$?" 1 "output lost to a full disk is a failure, not a silent success"
expect_match "$TMP/err" 'cannot write output' "and says so"

# --- keygen -----------------------------------------------------------------------------------
"$HOOKD" keygen --scheme telnyx >"$TMP/kp"
expect_match "$TMP/kp" '^public_key=[A-Za-z0-9+/]{43}=$' "keygen prints a 44-character public key"
expect_match "$TMP/kp" '^private_key=[A-Za-z0-9+/]{43}=$' "keygen prints a 44-character seed"
"$HOOKD" keygen --scheme standard >"$TMP/kps"
expect_match "$TMP/kps" '^public_key=whpk_' "standard keygen prints whpk_"
expect_match "$TMP/kps" '^private_key=whsk_' "standard keygen prints whsk_"
"$HOOKD" keygen --secret >"$TMP/sec"
expect_match "$TMP/sec" '^secret=whsec_[A-Za-z0-9+/]{43}=$' "keygen --secret prints whsec_"

# The seed keygen prints is one openssl takes: wrap it in PKCS#8 and compare public keys.
KP_PUB=$(sed -n 's/^public_key=//p' "$TMP/kp")
KP_SEED=$(sed -n 's/^private_key=//p' "$TMP/kp")
{ printf '302e020100300506032b657004220420' | xxd -r -p; printf '%s' "$KP_SEED" | base64 -d; } >"$TMP/kp.der"
OSSL_PUB=$(openssl pkey -inform DER -in "$TMP/kp.der" -pubout -outform DER | tail -c 32 | base64 -w0)
expect_eq "$OSSL_PUB" "$KP_PUB" "openssl derives the same public key from keygen's seed"

# --- Standard Webhooks ------------------------------------------------------------------------
printf '%s' '{"test": 2432232314}' >"$TMP/sw.json"
"$HOOKD" sign --scheme standard --id msg_p5jXN8AQM9LWM0D4loKWxJek --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
  --timestamp 1614265330 --file "$TMP/sw.json" >"$TMP/swh"
expect_eq "$(header webhook-signature "$TMP/swh")" "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" "sign reproduces the published v1 vector"

# HMAC by openssl over "id.ts.body" with a fresh secret.
SECRET_RAW=$(openssl rand 32 | base64 -w0)
SECRET_HEX=$(printf '%s' "$SECRET_RAW" | base64 -d | xxd -p -c 256)
ID=msg_$(openssl rand -hex 8)
{ printf '%s.%s.' "$ID" "$NOW"; cat "$TMP/body.json"; } >"$TMP/swmsg"
MAC=$(openssl dgst -sha256 -mac HMAC -macopt "hexkey:$SECRET_HEX" -binary "$TMP/swmsg" | base64 -w0)
expect_exit 0 "verify accepts an openssl HMAC (v1)" \
  "$HOOKD" verify --scheme standard --id "$ID" --timestamp "$NOW" --signature "v1,$MAC" --secret "whsec_$SECRET_RAW" --file "$TMP/body.json"
expect_exit 0 "a bare base64 secret works too" \
  "$HOOKD" verify --scheme standard --id "$ID" --timestamp "$NOW" --signature "v2,zzz  v1,$MAC" --secret "$SECRET_RAW" --file "$TMP/body.json"

# v1a by openssl, verified with whpk_ raw and DER forms.
OSSL_V1A=$(openssl pkeyutl -sign -inkey "$TMP/key.pem" -rawin -in "$TMP/swmsg" | base64 -w0)
DER=$(openssl pkey -in "$TMP/key.pem" -pubout -outform DER | base64 -w0)
expect_exit 0 "verify accepts an openssl Ed25519 (v1a), raw whpk_" \
  "$HOOKD" verify --scheme standard --id "$ID" --timestamp "$NOW" --signature "v1a,$OSSL_V1A" --public-key "whpk_$PUB" --file "$TMP/body.json"
expect_exit 0 "verify accepts v1a with a DER whpk_" \
  "$HOOKD" verify --scheme standard --id "$ID" --timestamp "$NOW" --signature "v1a,$OSSL_V1A" --public-key "whpk_$DER" --file "$TMP/body.json"

# hookd sign with both a secret and a private key gives both entries, each matching openssl.
"$HOOKD" sign --scheme standard --id "$ID" --secret "whsec_$SECRET_RAW" --private-key "whsk_$SEED" \
  --timestamp "$NOW" --file "$TMP/body.json" >"$TMP/both"
expect_eq "$(header webhook-signature "$TMP/both")" "v1,$MAC v1a,$OSSL_V1A" "sign prints v1 and v1a entries equal to openssl's"
expect_eq "$(header webhook-id "$TMP/both")" "$ID" "sign prints webhook-id"
# hookd sign -> hookd verify, both entries, with keys from hookd keygen.
SW_SECRET=$("$HOOKD" keygen --secret | sed -n 's/^secret=//p')
eval "$("$HOOKD" keygen --scheme standard | sed 's/^/SW_/')"
"$HOOKD" sign --scheme standard --id msg_roundtrip --secret "$SW_SECRET" --private-key "$SW_private_key" \
  --file "$TMP/body.json" >"$TMP/rt"
for k in "--secret $SW_SECRET" "--public-key $SW_public_key"; do
  # shellcheck disable=SC2086
  expect_exit 0 "hookd verify accepts what hookd sign made (${k%% *})" \
    "$HOOKD" verify --scheme standard --id msg_roundtrip --timestamp "$(header webhook-timestamp "$TMP/rt")" \
    --signature "$(header webhook-signature "$TMP/rt")" $k --file "$TMP/body.json"
done
expect_match "$TMP/out" 'signature=v1a' "the v1a entry verified with the whpk_ key"

expect_exit 1 "v1 with a wrong secret fails" \
  "$HOOKD" verify --scheme standard --id "$ID" --timestamp "$NOW" --signature "v1,$MAC" --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --file "$TMP/body.json"
expect_exit 1 "only unknown versions: unsupported" \
  "$HOOKD" verify --scheme standard --id "$ID" --timestamp "$NOW" --signature "v2,$MAC" --secret "whsec_$SECRET_RAW" --file "$TMP/body.json"
expect_match "$TMP/err" 'signature_unsupported' "reason: signature_unsupported"
expect_exit 1 "'v1,' alone is malformed, not a match" \
  "$HOOKD" verify --scheme standard --id "$ID" --timestamp "$NOW" --signature "v1," --secret "whsec_$SECRET_RAW" --file "$TMP/body.json"
expect_match "$TMP/err" 'signature_malformed' "reason: signature_malformed"

# --- a verified body that is not JSON is still valid, and says so ----------------------------
printf 'CallSid=CA123&CallStatus=completed' >"$TMP/form"
"$HOOKD" sign --private-key "$SEED" --timestamp "$NOW" --file "$TMP/form" >"$TMP/fh"
expect_exit 0 "a signed form body verifies" \
  "$HOOKD" verify --public-key "$PUB" --timestamp "$NOW" --signature "$(header telnyx-signature-ed25519 "$TMP/fh")" --file "$TMP/form"
expect_match "$TMP/out" 'body=unparsed reason=json_syntax' "and is reported unparsed, with the reason"

finish
