#!/bin/sh
# siprec-restart.sh - an exec handler: when a SIPREC session fails, ask Telnyx's Call Control API
# to start it again.
#
#   [handler siprec-restart]
#   on = siprec.failed
#   endpoint = telnyx
#   exec = /usr/local/share/hookd/examples/siprec-restart.sh
#   max_attempts = 5
#
# Environment (set where hookd runs; hookd passes its environment on):
#   TELNYX_API_KEY           required: the API key (sent as a bearer token)
#   TELNYX_SIPREC_CONNECTOR  optional: the SIPREC connector name to record with
#   TELNYX_API_BASE          optional: default https://api.telnyx.com (tests point it elsewhere)
#
# POST {base}/v2/calls/{call_control_id}/actions/siprec_start with a command_id derived from the
# event id: Telnyx ignores a repeated command_id within 60 s, so hookd's retries cannot start two
# sessions. Any non-2xx answer exits 1, and hookd retries with backoff. The JSON is built by jq:
# event fields are data, and a quote in one cannot add keys to a request made with your API key.
set -eu
: "${TELNYX_API_KEY:?TELNYX_API_KEY is not set}"
base=${TELNYX_API_BASE:-https://api.telnyx.com}
call=${HOOKD_CALL_CONTROL_ID:-}
case "$call" in
  "" | *[!A-Za-z0-9:_.-]*) echo "siprec-restart: no usable call_control_id in event ${HOOKD_EVENT_ID:-?}" >&2; exit 1 ;;
esac
command_id="hookd-siprec-restart-${HOOKD_EVENT_ID:?}"
client_state=$(printf 'hookd restart after %s' "${HOOKD_FAILURE_CAUSE:-failure}" | base64 | tr -d '\n')
body=$(jq -cn --arg command_id "$command_id" --arg client_state "$client_state" \
  --arg connector "${TELNYX_SIPREC_CONNECTOR:-}" \
  '{command_id: $command_id, client_state: $client_state}
   + (if $connector == "" then {} else {connector_name: $connector} end)')
status=$(curl -sS -o /dev/stderr -w '%{http_code}' --max-time 10 -X POST \
  -H "Authorization: Bearer $TELNYX_API_KEY" -H 'Content-Type: application/json' \
  --data "$body" "$base/v2/calls/$call/actions/siprec_start")
case "$status" in
  2??) echo "siprec-restart: restart requested for $call (command_id $command_id)"; exit 0 ;;
  *) echo "siprec-restart: Telnyx answered HTTP $status for $call" >&2; exit 1 ;;
esac
