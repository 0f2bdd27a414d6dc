#!/bin/sh
# siprec-alert.sh - an exec handler: one clear alert line for each siprec.failed.
#
#   [handler siprec-alert]
#   on = siprec.failed
#   exec = /usr/local/share/hookd/examples/siprec-alert.sh
#
# The line goes to stdout (hookd keeps the start of it with the attempt: hookd deliveries list)
# and, when HOOKD_ALERT_FILE is set, is appended to that file. Exit 0 tells hookd it is done.
set -eu
line="ALERT siprec.failed call_control_id=${HOOKD_CALL_CONTROL_ID:--} call_session_id=${HOOKD_CALL_SESSION_ID:--} cause=${HOOKD_FAILURE_CAUSE:-unknown} occurred_at=${HOOKD_OCCURRED_AT:--} event=${HOOKD_EVENT_ID:--} attempt=${HOOKD_DELIVERY_ATTEMPT:-1}"
echo "$line"
if [ -n "${HOOKD_ALERT_FILE:-}" ]; then
  echo "$line" >>"$HOOKD_ALERT_FILE"
fi
