#!/bin/sh
# siprec-alert.sh - an exec handler: one clear alert line for each siprec.failed.
#
#   [handler siprec-alert]
#   on = siprec.failed
#   endpoint = telnyx
#   exec = /usr/local/share/hookd/examples/siprec-alert.sh
#
# The line goes to stdout (hookd keeps the start of it with the attempt: hookd deliveries list)
# and, when HOOKD_ALERT_FILE is set, is appended to that file. Exit 0 tells hookd it is done.
# Event fields are the sender's text: control characters (a newline would forge a second alert
# line) are dropped.
set -eu
clean() { printf '%s' "$1" | tr -d '\000-\037\177'; }
line="ALERT siprec.failed call_control_id=$(clean "${HOOKD_CALL_CONTROL_ID:--}") call_session_id=$(clean "${HOOKD_CALL_SESSION_ID:--}") cause=$(clean "${HOOKD_FAILURE_CAUSE:-unknown}") occurred_at=$(clean "${HOOKD_OCCURRED_AT:--}") event=$(clean "${HOOKD_EVENT_ID:--}") attempt=${HOOKD_DELIVERY_ATTEMPT:-1}"
echo "$line"
if [ -n "${HOOKD_ALERT_FILE:-}" ]; then
  echo "$line" >>"$HOOKD_ALERT_FILE"
fi
