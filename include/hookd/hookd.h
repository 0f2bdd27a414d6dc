/*
 * hookd/hookd.h - libhookd, the webhook verification library of hookd.
 *
 * Verify Telnyx (Ed25519 over "timestamp|body") and Standard Webhooks (v1 HMAC-SHA256, v1a
 * Ed25519) deliveries exactly as their senders sign them, sign like the senders do, and parse the
 * events they carry. Link with `pkg-config --libs hookd`.
 *
 *   hookd/error.h   hookd_err, hookd_strerror, hookd_init
 *   hookd/limits.h  every size limit
 *   hookd/codec.h   strict base64, timestamps, ISO 8601, UUIDs
 *   hookd/verify.h  hookd_verifier, hookd_verify
 *   hookd/sign.h    hookd_signer, hookd_sign, hookd_keygen
 *   hookd/event.h   hookd_event_parse_telnyx, hookd_event_parse_standard
 */
#ifndef HOOKD_HOOKD_H
#define HOOKD_HOOKD_H

#include "hookd/codec.h"
#include "hookd/error.h"
#include "hookd/event.h"
#include "hookd/limits.h"
#include "hookd/sign.h"
#include "hookd/verify.h"

#endif
