/* SPDX-License-Identifier: Apache-2.0 */
/* Events that Redcar itself produces on behalf of a door (KV writes, messages). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "redcar/api.h"

static int64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Boot time makes ids unique across restarts (a restart takes longer than
 * a millisecond); the counter makes them unique within one run. */
static atomic_uint_fast64_t counter;
static int64_t boot_ms;
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static void boot(void) { boot_ms = now_ms(); }

void rc_api_new_id(char out[RC_ID_MAX]) {
    pthread_once(&boot_once, boot);
    uint64_t n = atomic_fetch_add(&counter, 1) + 1;
    snprintf(out, RC_ID_MAX, "%" PRIx64 "-%" PRIu64, (uint64_t)boot_ms, n);
}

rc_event *rc_api_event_new(const char *source, const char *type) {
    rc_event *ev = rc_event_new();
    char id[RC_ID_MAX], t[40];
    if (!ev) return NULL;
    rc_api_new_id(id);
    rc_time_format(now_ms(), t, sizeof t);
    if (rc_event_set(ev, "specversion", "1.0") || rc_event_set(ev, "id", id) ||
        rc_event_set(ev, "source", source) || rc_event_set(ev, "type", type) ||
        rc_event_set(ev, "time", t)) {
        rc_event_free(ev);
        return NULL;
    }
    return ev;
}

rc_event *rc_api_kv_event(const char *source, const char *op, const char *key, const void *val,
                          size_t len, const char *ctype) {
    char type[64];
    snprintf(type, sizeof type, RC_KV_TYPE_PREFIX "%s", op);
    rc_event *ev = rc_api_event_new(source, type);
    if (!ev) return NULL;
    if (rc_event_set(ev, "subject", key) ||
        (val && rc_event_set_data(ev, ctype, val, len, RC_DATA_NONE))) {
        rc_event_free(ev);
        return NULL;
    }
    return ev;
}
