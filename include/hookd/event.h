/*
 * hookd/event.h - read what a delivery says.
 *
 * Telnyx sends three shapes, all accepted:
 *   v2 wrapped  {"data":{"record_type":"event","event_type":"siprec.failed","id":...,
 *                "occurred_at":...,"payload":{...}},"meta":{"attempt":1,"delivered_to":...}}
 *   v2 bare     the inner "data" object alone (as the per-event reference pages show it)
 *   v1          the older unwrapped form: "call_initiated" style names and "created_at"
 * Standard Webhooks bodies are {"type":"a.b","timestamp":...,"data":{...}}; their event id comes
 * from the webhook-id header, not the body.
 *
 * Every field is optional and unknown fields and event types are accepted: new ones appear all the
 * time. A field of the wrong JSON type, an over-long value or an unparseable occurred_at is an error,
 * because a receiver must not guess at an event's identity. Only the raw body is authoritative;
 * parsing happens after verification and its failure never drops a verified delivery.
 */
#ifndef HOOKD_EVENT_H
#define HOOKD_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hookd_event_format {
    HOOKD_FORMAT_UNKNOWN = 0,
    HOOKD_FORMAT_TELNYX_V2,      /* wrapped in {"data":...,"meta":...} */
    HOOKD_FORMAT_TELNYX_V2_BARE, /* the inner data object alone */
    HOOKD_FORMAT_TELNYX_V1,      /* unwrapped, created_at */
    HOOKD_FORMAT_STANDARD,
} hookd_event_format;

HOOKD_API const char *hookd_event_format_name(hookd_event_format f);

/* A parsed event. Every string is NUL-terminated and owned by the event, or NULL when absent. */
typedef struct hookd_event {
    hookd_event_format format;
    char *record_type;
    char *event_type;
    char *id;
    char *occurred_at;         /* as sent (occurred_at, created_at or timestamp) */
    int64_t occurred_at_us;    /* the same, microseconds since the epoch; valid when occurred_at */
    char *call_control_id;
    char *call_leg_id;
    char *call_session_id;
    char *connection_id;
    char *client_state;        /* base64, as sent */
    uint8_t *client_state_raw; /* its decoding, or NULL when absent or not base64 */
    size_t client_state_raw_len;
    char *failure_cause;
    char *hangup_cause;
    char *hangup_source;
    char *sip_hangup_cause;
    int64_t attempt;           /* meta.attempt, 0 when absent */
    char *delivered_to;        /* meta.delivered_to */
} hookd_event;

/* Where parsing failed: the byte offset into the body (JSON syntax), or the field concerned. */
typedef struct hookd_parse_error {
    hookd_err err;
    size_t offset;
    const char *field;   /* e.g. "data.occurred_at", or NULL */
    char text[160];      /* one line, fit for a log */
} hookd_parse_error;

/* Parse a Telnyx body (any of the three shapes). On error, ev holds nothing to free and perr
 * (may be NULL) says where. */
HOOKD_API hookd_err hookd_event_parse_telnyx(const void *body, size_t len, hookd_event *ev,
                                             hookd_parse_error *perr);

/* Parse a Standard Webhooks body. Call fields (call_control_id, ...) are read from "data" when
 * present, so events from other senders about calls join the same timeline. */
HOOKD_API hookd_err hookd_event_parse_standard(const void *body, size_t len, hookd_event *ev,
                                               hookd_parse_error *perr);

HOOKD_API void hookd_event_free(hookd_event *ev);

/* Check that body is JSON no deeper than max_depth, without building it (a bounded scan that
 * tracks strings and brackets only). HOOKD_ERR_JSON_TOO_DEEP, with *offset at the first byte
 * beyond the depth. */
HOOKD_API hookd_err hookd_json_depth_check(const void *body, size_t len, unsigned max_depth,
                                           size_t *offset);

#ifdef __cplusplus
}
#endif
#endif
