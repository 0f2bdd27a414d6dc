/*
 * presign.c - N distinct, signed siprec.failed deliveries for the wrk benchmark, one a line:
 *   TIMESTAMP <TAB> SIGNATURE <TAB> BODY
 * Usage: presign PRIVATE_KEY N > file. Signed "now", so the file is good for the 300 s window.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/hookd.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: presign PRIVATE_KEY N\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    hookd_signer *s = NULL;
    if (n <= 0 || hookd_signer_new(HOOKD_SCHEME_TELNYX, argv[1], &s) != HOOKD_OK) {
        fprintf(stderr, "presign: bad key or count\n");
        return 2;
    }
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    for (long i = 0; i < n; i++) {
        char id[HOOKD_UUID_BUFSIZE], call[HOOKD_UUID_BUFSIZE], at[HOOKD_ISO8601_BUFSIZE];
        char body[1024], sig[HOOKD_SIGNATURE_BUFSIZE];
        hookd_uuid_v4(id, sizeof id);
        hookd_uuid_v4(call, sizeof call);
        hookd_iso8601_format(us + i, at, sizeof at);
        int len = snprintf(body, sizeof body,
                           "{\"data\":{\"record_type\":\"event\",\"event_type\":\"siprec.failed\","
                           "\"id\":\"%s\",\"occurred_at\":\"%s\",\"payload\":{"
                           "\"call_control_id\":\"v3:%s\",\"connection_id\":\"1494404757140276705\","
                           "\"call_leg_id\":\"%s\",\"call_session_id\":\"%s\","
                           "\"client_state\":\"aGF2ZSBhIG5pY2UgZGF5ID1d\",\"failure_cause\":\"no_answer\"}},"
                           "\"meta\":{\"attempt\":1,\"delivered_to\":\"http://127.0.0.1/webhooks/telnyx\"}}",
                           id, at, call, call, call);
        if (hookd_sign(s, NULL, ts, body, (size_t)len, sig, sizeof sig) != HOOKD_OK)
            return 1;
        printf("%s\t%s\t%s\n", ts, sig, body);
    }
    hookd_signer_free(s);
    return 0;
}
