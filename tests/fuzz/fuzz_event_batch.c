/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: a batch of CloudEvents (a JSON array).
 *
 * Properties checked on every input (a failure aborts):
 *  - decoding never crashes; all or nothing: on error no events and n == 0,
 *    and the message names the failing index when an element is at fault;
 *  - a decoded batch encodes, decodes back to equal events, and re-encodes
 *    byte-identically;
 *  - each event's JSON data is kept minified (minifying it changes nothing).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_internal.h"
#include "redcar/event.h"

#define CHECK(cond, what)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "fuzz_event_batch: %s (%s)\n", what, #cond);    \
            abort();                                                        \
        }                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rc_event **evs = (rc_event **)&evs;
    size_t n = 12345;
    rc_err err;
    int rc = rc_event_decode_batch(data, size, &evs, &n, &err);
    if (rc != RC_OK) {
        CHECK(evs == NULL && n == 0, "error with events");
        CHECK(err.code == rc && err.msg[0], "error without a message");
        return 0;
    }
    CHECK(evs != NULL, "success without an array");
    for (size_t i = 0; i < n; i++) {
        CHECK(rc_event_validate(evs[i], NULL) == RC_OK, "event does not validate");
        if (evs[i]->data_form != RC_DATA_JSON) continue;
        size_t m;
        char *min = rc__json_minify(evs[i]->data, evs[i]->data_len, &m);
        CHECK(min && m == evs[i]->data_len && !memcmp(min, evs[i]->data, m), "JSON data not kept minified");
        free(min);
    }

    rc_buf e1 = RC_BUF_INIT, e2 = RC_BUF_INIT;
    rc_event_encode_batch(evs, n, RC_ENC_SEQ, &e1);
    rc_event **back = NULL;
    size_t m = 0;
    rc = rc_event_decode_batch(e1.p, e1.len, &back, &m, &err);
    if (rc != RC_OK) fprintf(stderr, "re-decode failed: %s\n%s\n", err.msg, e1.p);
    CHECK(rc == RC_OK, "encoding does not decode");
    CHECK(m == n, "event count changed");
    for (size_t i = 0; i < n; i++) CHECK(rc__event_equal(evs[i], back[i]), "round trip changed an event");
    rc_event_encode_batch(back, m, RC_ENC_SEQ, &e2);
    CHECK(e1.len == e2.len && !memcmp(e1.p, e2.p, e1.len), "re-encoding differs");

    rc_buf_free(&e1);
    rc_buf_free(&e2);
    rc_event_free_array(back, m);
    rc_event_free_array(evs, n);
    return 0;
}
