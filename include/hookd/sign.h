/*
 * hookd/sign.h - sign deliveries as Telnyx and Standard Webhooks senders do, and make keys.
 *
 * Used by the command line (hookd sign, hookd send), by dispatch (signed forwarding) and by tests.
 *
 * Private key text:
 *   telnyx    base64 of the 32-byte Ed25519 seed (or of the 64-byte seed || public key)
 *   standard  whsec_ + base64 secret (24 to 64 bytes) for "v1", or whsk_ + base64 of the 32-byte seed
 *             (or 64-byte seed || public key) for "v1a"
 */
#ifndef HOOKD_SIGN_H
#define HOOKD_SIGN_H

#include <stddef.h>

#include "hookd/error.h"
#include "hookd/limits.h"
#include "hookd/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hookd_signer hookd_signer;

HOOKD_API hookd_err hookd_signer_new(hookd_scheme scheme, const char *key_text, hookd_signer **out);
HOOKD_API void hookd_signer_free(hookd_signer *s);

/* Sign body as sent at timestamp (decimal text, used verbatim). id is the webhook-id (standard) and
 * ignored for telnyx. Writes the header value: telnyx: base64 signature; standard: "v1,..." or
 * "v1a,...". cap >= HOOKD_SIGNATURE_BUFSIZE. */
HOOKD_API hookd_err hookd_sign(const hookd_signer *s, const char *id, const char *timestamp,
                               const void *body, size_t len, char *out, size_t cap);

/* The public key matching an Ed25519 signer, in its scheme's text form (telnyx: base64; standard:
 * whpk_...). HOOKD_ERR_INVALID_ARGUMENT for an HMAC signer. */
HOOKD_API hookd_err hookd_signer_public_key(const hookd_signer *s, char *out, size_t cap);

/* A fresh Ed25519 key pair in the scheme's text forms (telnyx or standard). Buffers of
 * HOOKD_KEY_BUFSIZE. */
HOOKD_API hookd_err hookd_keygen(hookd_scheme scheme, char *public_out, size_t public_cap,
                                 char *private_out, size_t private_cap);

/* A fresh Standard Webhooks secret, "whsec_" + base64 of 32 random bytes. */
HOOKD_API hookd_err hookd_secret_generate(char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
