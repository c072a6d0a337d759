/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: one structured CloudEvent in the JSON format.
 *
 * Properties checked on every input (a failure aborts):
 *  - decoding never crashes and returns an event or an error, never both;
 *  - a decoded event passes rc_event_validate() and equals its clone;
 *  - encode then decode succeeds and gives the same event attribute by
 *    attribute, and re-encoding it is byte-identical to the first encoding;
 *  - JSON data is valid JSON text that minifying leaves unchanged (it was
 *    kept minified), and minifying any input that is JSON is idempotent and
 *    never makes it longer.
 * The input is also fed, NUL-terminated, to the string checks the validator
 * is made of; a timestamp that parses must survive format/parse.
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
            fprintf(stderr, "fuzz_event_json: %s (%s)\n", what, #cond);     \
            abort();                                                        \
        }                                                                   \
    } while (0)

static void helpers(const uint8_t *data, size_t size) {
    if (size > 256) return;
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    (void)rc_valid_uri_ref(s);
    (void)rc_valid_uri_abs(s);
    (void)rc_valid_ext_name(s);
    (void)rc_is_json_ctype(s);
    (void)rc__valid_media_type(s);
    int64_t ms, again;
    if (rc_time_parse(s, &ms) == RC_OK) {
        char buf[40];
        rc_time_format(ms, buf, sizeof buf);
        CHECK(rc_time_parse(buf, &again) == RC_OK, "formatted time does not parse");
        CHECK(again == ms, "time format/parse changed the instant");
    }
    unsigned char *bin;
    size_t n;
    if (rc_base64_decode(s, size, &bin, &n) == RC_OK) {
        rc_buf b = RC_BUF_INIT;
        rc_base64_encode(bin, n, &b);
        CHECK(b.len == size && !memcmp(b.p, s, size), "base64 is not canonical");
        rc_buf_free(&b);
        free(bin);
    }
}

/* Minified text is valid JSON that minifies to itself. */
static void check_minified(const void *p, size_t n, const char *what) {
    size_t m;
    char *again = rc__json_minify(p, n, &m);
    CHECK(again != NULL, what);
    CHECK(m == n && !memcmp(again, p, n), what);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    helpers(data, size);
    size_t mlen;
    char *min = rc__json_minify(data, size, &mlen);
    if (min) {
        CHECK(mlen <= size && min[mlen] == '\0', "minify grew the text");
        check_minified(min, mlen, "minify is not idempotent");
        free(min);
    }

    rc_event *ev = (rc_event *)&ev; /* must be overwritten */
    rc_err err;
    int rc = rc_event_decode_json(data, size, &ev, &err);
    if (rc != RC_OK) {
        CHECK(ev == NULL, "error with an event");
        CHECK(err.code == rc && err.msg[0], "error without a message");
        return 0;
    }
    CHECK(ev != NULL, "success without an event");
    CHECK(rc_event_validate(ev, &err) == RC_OK, "decoded event does not validate");
    if (ev->data_form == RC_DATA_JSON) check_minified(ev->data, ev->data_len, "JSON data not kept minified");
    rc_event *c = rc_event_clone(ev);
    CHECK(c && rc__event_equal(ev, c), "clone differs");
    rc_event_free(c);

    rc_buf e1 = RC_BUF_INIT, e2 = RC_BUF_INIT;
    rc_event_encode_json(ev, RC_ENC_SEQ, &e1);
    rc_event *back = NULL;
    rc = rc_event_decode_json(e1.p, e1.len, &back, &err);
    if (rc != RC_OK) fprintf(stderr, "re-decode failed: %s\n%s\n", err.msg, e1.p);
    CHECK(rc == RC_OK, "encoding does not decode");
    CHECK(rc__event_equal(ev, back), "round trip changed the event");
    rc_event_encode_json(back, RC_ENC_SEQ, &e2);
    CHECK(e1.len == e2.len && !memcmp(e1.p, e2.p, e1.len), "re-encoding differs");

    rc_buf_free(&e1);
    rc_buf_free(&e2);
    rc_event_free(back);
    rc_event_free(ev);
    return 0;
}
