/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: CESQL expressions and Subscriptions API filter JSON.
 *
 * Properties checked on every input (a failure aborts):
 *  - parsing never crashes and returns a tree or an error with a message,
 *    never both;
 *  - a tree evaluates (complete and fail-fast modes) against a sample event
 *    carrying every kind of attribute without crashing, within its budget;
 *  - printing the tree and parsing the text gives a tree that prints the
 *    same and evaluates to the same value and error;
 *  - input that is filter JSON builds a filter that matches without
 *    crashing, and its JSON form reads back into a filter with the same
 *    JSON form and the same verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/filter.h"

#define CHECK(cond, what)                                               \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz_cesql: %s (%s)\n", what, #cond);      \
            abort();                                                    \
        }                                                               \
    } while (0)

static rc_event *sample(void) {
    static rc_event *ev;
    if (ev) return ev;
    ev = rc_event_new();
    rc_event_set(ev, "specversion", "1.0");
    rc_event_set(ev, "id", "A234-1234-1234");
    rc_event_set(ev, "source", "https://github.com/cloudevents/spec/pull");
    rc_event_set(ev, "type", "com.github.pull_request.opened");
    rc_event_set(ev, "subject", "orders/123");
    rc_event_set(ev, "time", "2018-04-05T17:31:00Z");
    rc_event_set(ev, "datacontenttype", "text/xml");
    rc_event_set(ev, "region", "eu-west");
    rc_event_set(ev, "num", "42");
    rc_event_set(ev, "flag", "TRUE");
    rc_event_set(ev, "utf", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
    rc_event_set_ext_int(ev, "size", 2147483647);
    rc_event_set_ext_int(ev, "neg", -2147483647 - 1);
    rc_event_set_ext_bool(ev, "urgent", 1);
    rc_event_set_ext_bool(ev, "off", 0);
    char big[4097];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rc_event_set(ev, "big", big);
    return ev;
}

static char *print(const rc_cesql *q) {
    rc_buf b = RC_BUF_INIT;
    rc_cesql_print(q, &b);
    return rc_buf_detach(&b, NULL);
}

static int same_value(const rc_cesql_value *a, const rc_cesql_value *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case RC_CESQL_BOOL: return a->b == b->b;
    case RC_CESQL_INT: return a->i == b->i;
    default: return a->len == b->len && !memcmp(a->s, b->s, a->len);
    }
}

static void expression(const uint8_t *data, size_t size) {
    rc_event *ev = sample();
    rc_cesql *q = (rc_cesql *)1;
    rc_err err;
    if (rc_cesql_parse((const char *)data, size, &q, &err) != RC_OK) {
        CHECK(q == NULL, "failed parse returned a tree");
        CHECK(err.msg[0] != '\0', "failed parse without a message");
        return;
    }
    rc_cesql_value v;
    int e = rc_cesql_eval(q, ev, &v);
    CHECK(e >= RC_CESQL_ERR_NONE && e <= RC_CESQL_ERR_GENERIC, "unknown error kind");
    CHECK(v.type != RC_CESQL_STRING || (v.s && v.s[v.len] == '\0'), "string result");
    int m = rc_cesql_match(q, ev);
    CHECK(m == 0 || m == 1, "match is not 0/1");
    CHECK(!m || e == RC_CESQL_ERR_NONE, "matched despite an error");
    (void)rc_cesql_check_filter(q, &err);

    char *p1 = print(q);
    rc_cesql *q2 = NULL;
    if (rc_cesql_parse(p1, strlen(p1), &q2, &err) != RC_OK) {
        fprintf(stderr, "printed form does not parse: %s\n  %s\n", err.msg, p1);
        abort();
    }
    char *p2 = print(q2);
    if (strcmp(p1, p2)) {
        fprintf(stderr, "print is not a fixed point:\n  %s\n  %s\n", p1, p2);
        abort();
    }
    rc_cesql_value v2;
    int e2 = rc_cesql_eval(q2, ev, &v2);
    CHECK(e == e2 && same_value(&v, &v2), "printed form evaluates differently");
    CHECK(rc_cesql_match(q2, ev) == m, "printed form matches differently");
    rc_cesql_value_free(&v);
    rc_cesql_value_free(&v2);
    free(p1);
    free(p2);
    rc_cesql_free(q);
    rc_cesql_free(q2);
}

static void filter_json(const uint8_t *data, size_t size) {
    rc_event *ev = sample();
    rc_filter *f = (rc_filter *)1;
    rc_err err;
    if (rc_filter_parse_json((const char *)data, size, &f, &err) != RC_OK) {
        CHECK(f == NULL, "failed filter parse returned a filter");
        CHECK(err.msg[0] != '\0', "failed filter parse without a message");
        return;
    }
    int m = rc_filter_match(f, ev);
    rc_buf b1 = RC_BUF_INIT, b2 = RC_BUF_INIT;
    rc_filter_to_json(f, &b1);
    rc_filter *g = NULL;
    if (rc_filter_parse_json(b1.p, b1.len, &g, &err) != RC_OK) {
        fprintf(stderr, "written filter does not parse: %s\n  %s\n", err.msg, b1.p);
        abort();
    }
    rc_filter_to_json(g, &b2);
    CHECK(b1.len == b2.len && !memcmp(b1.p, b2.p, b1.len), "filter JSON is not a fixed point");
    CHECK(rc_filter_match(g, ev) == m, "written filter matches differently");
    rc_buf_free(&b1);
    rc_buf_free(&b2);
    rc_filter_free(f);
    rc_filter_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    expression(data, size);
    if (size && (data[0] == '[' || data[0] == '{')) filter_json(data, size);
    return 0;
}
