/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subscriptions API filters: the exact, prefix, suffix, all, any, not and
 * sql dialects from JSON and from code, what is refused when a filter is
 * made (and the message that says why), the JSON written back, and
 * concurrent matching. CESQL itself has its own suite, test_filter_cesql.c.
 *
 * Fork mode; leaks are caught by LeakSanitizer in the ASan build.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/filter.h"
#include "check_main.h"

/* An event with context attributes, a string, an integer and a Boolean
 * extension, and no subject. */
static rc_event *event(void) {
    rc_event *ev = rc_event_new();
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(rc_event_set(ev, "specversion", "1.0"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "id", "evt-1"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "source", "https://github.com/cloudevents/spec/pull"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "type", "com.github.pull.created"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "region", "eu-west"), RC_OK);
    ck_assert_int_eq(rc_event_set_ext_int(ev, "size", 42), RC_OK);
    ck_assert_int_eq(rc_event_set_ext_int(ev, "neg", -7), RC_OK);
    ck_assert_int_eq(rc_event_set_ext_bool(ev, "urgent", 1), RC_OK);
    return ev;
}

/* Parse json (must succeed) and match it against ev. */
static int match_json(const char *json, const rc_event *ev) {
    rc_filter *f = NULL;
    rc_err err;
    int rc = rc_filter_parse_json(json, strlen(json), &f, &err);
    ck_assert_msg(rc == RC_OK, "%s: %s", json, err.msg);
    int m = rc_filter_match(f, ev);
    /* what to_json writes reads back into a filter that agrees */
    rc_buf b = RC_BUF_INIT;
    rc_filter_to_json(f, &b);
    rc_filter *g = NULL;
    ck_assert_msg(rc_filter_parse_json(b.p, b.len, &g, &err) == RC_OK, "%s: %s", b.p, err.msg);
    ck_assert_int_eq(rc_filter_match(g, ev), m);
    rc_buf c = RC_BUF_INIT;
    rc_filter_to_json(g, &c);
    ck_assert_str_eq(b.p, c.p);
    rc_buf_free(&b);
    rc_buf_free(&c);
    rc_filter_free(g);
    rc_filter_free(f);
    return m;
}

static void expect_refused(const char *json, int code, const char *msg) {
    rc_filter *f = (rc_filter *)1;
    rc_err err;
    int rc = rc_filter_parse_json(json, strlen(json), &f, &err);
    ck_assert_msg(rc == code, "%s: got %s (%s)", json, rc_status_name(rc), err.msg);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err.msg, msg), "%s: message '%s' lacks '%s'", json, err.msg, msg);
}

/* ---- the three attribute dialects ------------------------------------------------ */

START_TEST(exact_prefix_suffix) {
    rc_event *ev = event();
    static const struct {
        const char *json;
        int m;
    } c[] = {
        {"[{\"exact\":{\"type\":\"com.github.pull.created\"}}]", 1},
        {"[{\"exact\":{\"type\":\"com.github.pull\"}}]", 0},
        {"[{\"exact\":{\"type\":\"COM.GITHUB.PULL.CREATED\"}}]", 0}, /* values are case-sensitive */
        {"[{\"prefix\":{\"type\":\"com.github.\"}}]", 1},
        {"[{\"prefix\":{\"type\":\"com.gitlab.\"}}]", 0},
        {"[{\"suffix\":{\"type\":\".created\"}}]", 1},
        {"[{\"suffix\":{\"type\":\".deleted\"}}]", 0},
        {"[{\"prefix\":{\"type\":\"com.github.pull.created.and.more\"}}]", 0},
        /* several attributes: all must match */
        {"[{\"exact\":{\"type\":\"com.github.pull.created\",\"id\":\"evt-1\"}}]", 1},
        {"[{\"exact\":{\"type\":\"com.github.pull.created\",\"id\":\"evt-2\"}}]", 0},
        {"[{\"prefix\":{\"type\":\"com.\",\"source\":\"https://github.com/\"}}]", 1},
        /* extensions of any type, by their canonical string form */
        {"[{\"exact\":{\"region\":\"eu-west\"}}]", 1},
        {"[{\"exact\":{\"size\":\"42\"}}]", 1},
        {"[{\"exact\":{\"size\":\"042\"}}]", 0},
        {"[{\"prefix\":{\"neg\":\"-\"}}]", 1},
        {"[{\"exact\":{\"urgent\":\"true\"}}]", 1},
        {"[{\"suffix\":{\"urgent\":\"rue\"}}]", 1},
        /* attribute names fold to lower case, as in CESQL */
        {"[{\"exact\":{\"Type\":\"com.github.pull.created\"}}]", 1},
        /* a missing attribute never matches, whatever the dialect */
        {"[{\"exact\":{\"subject\":\"x\"}}]", 0},
        {"[{\"prefix\":{\"subject\":\"x\"}}]", 0},
        {"[{\"suffix\":{\"nosuchext\":\"x\"}}]", 0},
        {"[{\"not\":{\"exact\":{\"subject\":\"x\"}}}]", 1},
        /* one filter object without the array */
        {"{\"prefix\":{\"type\":\"com.github.\"}}", 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ck_assert_msg(match_json(c[i].json, ev) == c[i].m, "%s", c[i].json);
    rc_event_free(ev);
}
END_TEST

START_TEST(all_any_not) {
    rc_event *ev = event();
    static const struct {
        const char *json;
        int m;
    } c[] = {
        {"[]", 1}, /* no filters: every event */
        {"[{\"exact\":{\"id\":\"evt-1\"}},{\"exact\":{\"region\":\"eu-west\"}}]", 1},
        {"[{\"exact\":{\"id\":\"evt-1\"}},{\"exact\":{\"region\":\"us\"}}]", 0},
        {"[{\"all\":[{\"prefix\":{\"type\":\"com.\"}},{\"suffix\":{\"type\":\".created\"}}]}]", 1},
        {"[{\"all\":[{\"prefix\":{\"type\":\"com.\"}},{\"suffix\":{\"type\":\".gone\"}}]}]", 0},
        {"[{\"any\":[{\"exact\":{\"id\":\"x\"}},{\"exact\":{\"id\":\"evt-1\"}}]}]", 1},
        {"[{\"any\":[{\"exact\":{\"id\":\"x\"}},{\"exact\":{\"id\":\"y\"}}]}]", 0},
        {"[{\"any\":[{\"exact\":{\"subject\":\"x\"}}]}]", 0},
        {"[{\"not\":{\"exact\":{\"id\":\"evt-1\"}}}]", 0},
        {"[{\"not\":{\"not\":{\"exact\":{\"id\":\"evt-1\"}}}}]", 1},
        {"[{\"not\":{\"any\":[{\"exact\":{\"id\":\"x\"}},{\"all\":[{\"exact\":{\"size\":\"42\"}},"
         "{\"not\":{\"exact\":{\"urgent\":\"false\"}}}]}]}}]",
         0},
        {"[{\"any\":[{\"sql\":\"size > 100\"},{\"all\":[{\"sql\":\"urgent\"},"
         "{\"prefix\":{\"region\":\"eu-\"}}]}]}]",
         1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ck_assert_msg(match_json(c[i].json, ev) == c[i].m, "%s", c[i].json);
    rc_event_free(ev);
}
END_TEST

START_TEST(sql_dialect) {
    rc_event *ev = event();
    ck_assert_int_eq(rc_event_set(ev, "subject", "orders/123"), RC_OK);
    static const struct {
        const char *json;
        int m;
    } c[] = {
        {"[{\"sql\":\"subject LIKE 'orders/%' AND size > 10\"}]", 1},
        {"[{\"sql\":\"subject LIKE 'orders/%' AND size > 100\"}]", 0},
        {"[{\"exact\":{\"type\":\"com.github.pull.created\"}},"
         "{\"sql\":\"subject LIKE 'orders/%' AND size > 10\"}]",
         1},
        {"[{\"sql\":\"urgent\"}]", 1},
        {"[{\"sql\":\"region = 'eu-west' XOR urgent\"}]", 0},
        {"[{\"sql\":\"EXISTS subject AND NOT EXISTS other\"}]", 1},
        /* evaluation errors make the expression false */
        {"[{\"sql\":\"nosuchext = 'x'\"}]", 0},
        {"[{\"not\":{\"sql\":\"nosuchext = 'x'\"}}]", 1},
        {"[{\"sql\":\"size / 0 = 0\"}]", 0},
        {"[{\"sql\":\"INT(region) = 0\"}]", 0},
        {"[{\"sql\":\"region\"}]", 0}, /* a String that is not a Boolean */
        {"[{\"sql\":\"type IN ('a', 'com.github.pull.created') AND LENGTH(id) = 5\"}]", 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ck_assert_msg(match_json(c[i].json, ev) == c[i].m, "%s", c[i].json);
    rc_event_free(ev);
}
END_TEST

/* ---- refused at creation ------------------------------------------------------------ */

START_TEST(refused) {
    expect_refused("", RC_INVALID, "filters: empty");
    expect_refused("[", RC_INVALID, "invalid JSON");
    expect_refused("[] x", RC_INVALID, "invalid JSON near byte 3");
    expect_refused("\"exact\"", RC_INVALID, "must be an array of filters or one filter");
    expect_refused("[1]", RC_INVALID, "filters[0]: a filter must be an object");
    expect_refused("[{}]", RC_INVALID, "filters[0]: a filter must have exactly one dialect, has 0");
    expect_refused("[{\"exact\":{\"a\":\"b\"},\"prefix\":{\"a\":\"b\"}}]", RC_INVALID,
                   "exactly one dialect, has 2");
    expect_refused("[{\"regex\":{\"a\":\"b\"}}]", RC_INVALID,
                   "filters[0]: unsupported filter dialect \"regex\"");
    expect_refused("[{\"EXACT\":{\"a\":\"b\"}}]", RC_INVALID, "unsupported filter dialect");
    expect_refused("[{\"exact\":{}}]", RC_INVALID, "filters[0].exact: needs at least one attribute");
    expect_refused("[{\"exact\":[]}]", RC_INVALID, "filters[0].exact: must be an object");
    expect_refused("[{\"exact\":\"type\"}]", RC_INVALID, "must be an object");
    expect_refused("[{\"prefix\":{\"type\":\"\"}}]", RC_INVALID,
                   "filters[0].prefix.type: value must be a non-empty string");
    expect_refused("[{\"suffix\":{\"size\":42}}]", RC_INVALID,
                   "filters[0].suffix.size: value must be a non-empty string");
    expect_refused("[{\"exact\":{\"\":\"x\"}}]", RC_INVALID, "attribute name must not be empty");
    expect_refused("[{\"exact\":{\"my-ext\":\"x\"}}]", RC_INVALID,
                   "\"my-ext\" is not an attribute name");
    expect_refused("[{\"all\":[]}]", RC_INVALID, "filters[0].all: needs at least one filter");
    expect_refused("[{\"any\":{}}]", RC_INVALID, "filters[0].any: must be an array of filters");
    expect_refused("[{\"not\":[]}]", RC_INVALID, "filters[0].not: a filter must be an object");
    expect_refused("[{\"all\":[{\"exact\":{\"a\":\"b\"}},{\"any\":[{\"nope\":1}]}]}]", RC_INVALID,
                   "filters[0].all[1].any[0]: unsupported filter dialect \"nope\"");
    expect_refused("[{\"sql\":5}]", RC_INVALID, "filters[0].sql: must be a string");
    expect_refused("[{\"exact\":{\"a\":\"b\"}},{\"sql\":\"subject LIKE\"}]", RC_INVALID,
                   "filters[1].sql: at byte 12: expected a string literal pattern after LIKE, "
                   "found end of input");
    expect_refused("[{\"sql\":\"1 + 2\"}]", RC_INVALID, "filters[0].sql: a filter expression must be Boolean");
    expect_refused("[{\"sql\":\"NOSUCH(type)\"}]", RC_INVALID,
                   "filters[0].sql: no such function: NOSUCH");
    expect_refused("[{\"sql\":\"\"}]", RC_INVALID, "expected an expression, found end of input");
    expect_refused("[{\"exact\":{\"type\":\"a\\u0000b\"}}]", RC_INVALID,
                   "\\u0000 in a string at byte 20");
}
END_TEST

START_TEST(limits) {
    /* nesting: 32 levels of not are fine, 33 are not */
    rc_buf b = RC_BUF_INIT;
    for (int depth = 31; depth <= 33; depth++) {
        rc_buf_reset(&b);
        rc_buf_putc(&b, '[');
        for (int i = 0; i < depth - 1; i++) rc_buf_puts(&b, "{\"not\":");
        rc_buf_puts(&b, "{\"exact\":{\"id\":\"evt-1\"}}");
        for (int i = 0; i < depth - 1; i++) rc_buf_putc(&b, '}');
        rc_buf_putc(&b, ']');
        rc_filter *f;
        rc_err err;
        int rc = rc_filter_parse_json(b.p, b.len, &f, &err);
        if (depth <= RC_FILTER_MAX_DEPTH) {
            ck_assert_msg(rc == RC_OK, "depth %d: %s", depth, err.msg);
            rc_event *ev = event();
            ck_assert_int_eq(rc_filter_match(f, ev), depth % 2);
            rc_event_free(ev);
            rc_filter_free(f);
        } else {
            ck_assert_int_eq(rc, RC_INVALID);
            ck_assert_msg(strstr(err.msg, "nest more than 32 deep"), "%s", err.msg);
        }
    }
    /* cJSON's own nesting limit (1000) and deeper hostile input */
    rc_buf_reset(&b);
    for (int i = 0; i < 5000; i++) rc_buf_puts(&b, "{\"not\":");
    expect_refused(b.p, RC_INVALID, "");
    /* node count */
    rc_buf_reset(&b);
    rc_buf_putc(&b, '[');
    for (int i = 0; i < RC_FILTER_MAX_NODES + 1; i++) rc_buf_puts(&b, i ? ",{\"exact\":{\"a\":\"b\"}}" : "{\"exact\":{\"a\":\"b\"}}");
    rc_buf_putc(&b, ']');
    expect_refused(b.p, RC_INVALID, "more than 1024 filter expressions");
    /* size */
    char *big = malloc(RC_FILTER_MAX_JSON + 2);
    memset(big, ' ', RC_FILTER_MAX_JSON + 1);
    big[0] = '[';
    big[RC_FILTER_MAX_JSON] = ']';
    big[RC_FILTER_MAX_JSON + 1] = '\0';
    expect_refused(big, RC_TOO_LARGE, "the limit is 65536");
    free(big);
    /* bytes past len are never looked at */
    rc_filter *f;
    rc_err err;
    ck_assert_int_eq(rc_filter_parse_json("[]]]]", 2, &f, &err), RC_OK);
    rc_filter_free(f);
    rc_buf_free(&b);
}
END_TEST

/* ---- built in code ------------------------------------------------------------------- */

START_TEST(programmatic) {
    rc_event *ev = event();
    rc_filter *a, *b, *c, *all, *any, *not_;
    rc_err err;
    ck_assert_int_eq(rc_filter_new_attr(RC_FILTER_EXACT, "id", "evt-1", &a, &err), RC_OK);
    ck_assert_int_eq(rc_filter_new_attr(RC_FILTER_PREFIX, "type", "com.gitlab.", &b, &err), RC_OK);
    ck_assert_int_eq(rc_filter_new_sql("size = 42", 9, &c, &err), RC_OK);
    ck_assert_int_eq(rc_filter_match(a, ev), 1);
    ck_assert_int_eq(rc_filter_match(b, ev), 0);
    ck_assert_int_eq(rc_filter_match(c, ev), 1);
    rc_filter *subs[] = {a, b};
    ck_assert_int_eq(rc_filter_new_all_any(0, subs, 2, &any, &err), RC_OK);
    ck_assert_int_eq(rc_filter_match(any, ev), 1);
    ck_assert_int_eq(rc_filter_new_not(any, &not_, &err), RC_OK);
    ck_assert_int_eq(rc_filter_match(not_, ev), 0);
    rc_filter *subs2[] = {not_, c};
    ck_assert_int_eq(rc_filter_new_all_any(1, subs2, 2, &all, &err), RC_OK);
    ck_assert_int_eq(rc_filter_match(all, ev), 0);
    rc_buf out = RC_BUF_INIT;
    rc_filter_to_json(all, &out);
    ck_assert_str_eq(out.p, "[{\"all\":[{\"not\":{\"any\":[{\"exact\":{\"id\":\"evt-1\"}},"
                            "{\"prefix\":{\"type\":\"com.gitlab.\"}}]}},{\"sql\":\"size = 42\"}]}]");
    rc_buf_free(&out);
    rc_filter_free(all);

    /* refusals; combinators free what they were given */
    rc_filter *f = (rc_filter *)1;
    ck_assert_int_eq(rc_filter_new_attr(RC_FILTER_SUFFIX, "type", "", &f, &err), RC_INVALID);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(rc_filter_new_attr(RC_FILTER_EXACT, "a.b", "x", &f, &err), RC_INVALID);
    ck_assert_int_eq(rc_filter_new_attr((rc_filter_attr_kind)7, "a", "x", &f, &err), RC_INVALID);
    ck_assert_int_eq(rc_filter_new_sql("size +", 6, &f, &err), RC_INVALID);
    ck_assert_msg(strstr(err.msg, "sql: at byte 6: expected an expression"), "%s", err.msg);
    ck_assert_int_eq(rc_filter_new_all_any(1, NULL, 0, &f, &err), RC_INVALID);
    ck_assert_int_eq(rc_filter_new_attr(RC_FILTER_EXACT, "id", "x", &a, &err), RC_OK);
    rc_filter *bad[] = {a, NULL};
    ck_assert_int_eq(rc_filter_new_all_any(1, bad, 2, &f, &err), RC_INVALID);
    ck_assert_int_eq(rc_filter_new_not(NULL, &f, &err), RC_INVALID);
    /* NULL filter matches everything and writes [] */
    ck_assert_int_eq(rc_filter_match(NULL, ev), 1);
    rc_filter_to_json(NULL, &out);
    ck_assert_str_eq(out.p, "[]");
    rc_buf_free(&out);
    rc_event_free(ev);
}
END_TEST

START_TEST(json_escapes) {
    rc_event *ev = event();
    ck_assert_int_eq(rc_event_set(ev, "subject", "a\"b\\c\n\xc3\xa9"), RC_OK);
    const char *json = "[{\"exact\":{\"subject\":\"a\\\"b\\\\c\\n\\u00e9\"}},"
                       "{\"sql\":\"subject LIKE 'a\\\"%'\"}]";
    ck_assert_int_eq(match_json(json, ev), 1);
    rc_filter *f;
    rc_err err;
    ck_assert_int_eq(rc_filter_parse_json(json, strlen(json), &f, &err), RC_OK);
    rc_buf b = RC_BUF_INIT;
    rc_filter_to_json(f, &b);
    ck_assert_str_eq(b.p, "[{\"exact\":{\"subject\":\"a\\\"b\\\\c\\u000a\xc3\xa9\"}},"
                          "{\"sql\":\"subject LIKE 'a\\\"%'\"}]");
    rc_buf_free(&b);
    rc_filter_free(f);
    rc_event_free(ev);
}
END_TEST

/* ---- threads --------------------------------------------------------------------------- */

typedef struct {
    const rc_filter *f;
    const rc_event *ev;
    int want;
    int bad;
} job;

static void *worker(void *arg) {
    job *j = arg;
    for (int i = 0; i < 20000; i++)
        if (rc_filter_match(j->f, j->ev) != j->want) j->bad++;
    return NULL;
}

START_TEST(concurrent_matching) {
    const char *json = "[{\"prefix\":{\"type\":\"com.github.\"}},"
                       "{\"sql\":\"UPPER(region) LIKE 'EU-%' AND size * 2 = 84\"}]";
    rc_filter *f;
    rc_err err;
    ck_assert_int_eq(rc_filter_parse_json(json, strlen(json), &f, &err), RC_OK);
    rc_event *yes = event(), *no = event();
    ck_assert_int_eq(rc_event_set(no, "region", "us-east"), RC_OK);
    pthread_t t[4];
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){f, i % 2 ? yes : no, i % 2, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(jobs[i].bad, 0);
    }
    rc_filter_free(f);
    rc_event_free(yes);
    rc_event_free(no);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("filter");
    TCase *tc = tcase_create("dialects");
    tcase_add_test(tc, exact_prefix_suffix);
    tcase_add_test(tc, all_any_not);
    tcase_add_test(tc, sql_dialect);
    suite_add_tcase(s, tc);
    tc = tcase_create("refusals");
    tcase_add_test(tc, refused);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_add_test(tc, programmatic);
    tcase_add_test(tc, json_escapes);
    tcase_add_test(tc, concurrent_matching);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return rc_test_run(suite());
}
