/*
 * presign.c - N distinct, signed siprec.failed deliveries for the wrk benchmark, one a line:
 *   TIMESTAMP <TAB> SIGNATURE <TAB> BODY
 * Usage: presign PRIVATE_KEY N [PER_CALL] > file. Signed "now", so the file is good for the 300 s
 * window. Each event is of a call of its own, or with PER_CALL, of calls of PER_CALL events each,
 * 500 calls at a time, their events interleaved as a busy application would receive them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/hookd.h"

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: presign PRIVATE_KEY N [PER_CALL]\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    long per_call = argc == 4 ? strtol(argv[3], NULL, 10) : 1;
    enum { AT_ONCE = 500 };
    static char calls[AT_ONCE][HOOKD_UUID_BUFSIZE];
    if (per_call < 1) {
        fprintf(stderr, "presign: PER_CALL must be 1 or more\n");
        return 2;
    }
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
        if (per_call == 1) {
            hookd_uuid_v4(call, sizeof call);
        } else { /* a new block of AT_ONCE calls every AT_ONCE * per_call events */
            if (i % (AT_ONCE * per_call) < AT_ONCE)
                hookd_uuid_v4(calls[i % AT_ONCE], sizeof calls[0]);
            memcpy(call, calls[i % AT_ONCE], sizeof call);
        }
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
