/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Webhooks (redcar/push.h): the pure parts (Retry-After in its four
 * forms and malformed ones, exponential backoff with jitter bounds and
 * cap, outcome classification, ce-* percent-encoding, sink URL checks),
 * then subscription documents against a real store in a fresh temp dir
 * (create/get/list/delete, validation, the consumer behind them) and the
 * store's dead-letter step (redcar/pushsub.h).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"
#include "redcar/consumer.h"
#include "redcar/push.h"
#include "redcar/pushsub.h"
#include "redcar/store.h"
#include "check_main.h"

/* ---- Retry-After --------------------------------------------------------------- */

START_TEST(retry_after_seconds) {
    int64_t d = -1;
    ck_assert_int_eq(rc_push_retry_after("1", 0, &d), RC_OK);
    ck_assert_int_eq(d, 1000);
    ck_assert_int_eq(rc_push_retry_after("  120 \r\n", 0, &d), RC_OK);
    ck_assert_int_eq(d, 120000);
    ck_assert_int_eq(rc_push_retry_after("0", 0, &d), RC_OK);
    ck_assert_int_eq(d, 0);
    /* a huge value saturates instead of overflowing */
    ck_assert_int_eq(rc_push_retry_after("99999999999999999999999", 0, &d), RC_OK);
    ck_assert(d > 0);
    const char *bad[] = {"", " ", "1.5", "-1", "+1", "1s", "abc", "1 2", NULL};
    for (int i = 0; bad[i]; i++) ck_assert_msg(rc_push_retry_after(bad[i], 0, &d) == RC_INVALID, "%s", bad[i]);
    ck_assert_int_eq(rc_push_retry_after(NULL, 0, &d), RC_INVALID);
}
END_TEST

START_TEST(retry_after_dates) {
    /* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT */
    const int64_t at = 784111777LL * 1000;
    int64_t d = -1;
    ck_assert_int_eq(rc_push_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 5000, &d), RC_OK);
    ck_assert_int_eq(d, 5000);
    ck_assert_int_eq(rc_push_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", at - 2500, &d), RC_OK);
    ck_assert_int_eq(d, 2500);
    ck_assert_int_eq(rc_push_retry_after("Sun Nov  6 08:49:37 1994", at - 1000, &d), RC_OK);
    ck_assert_int_eq(d, 1000);
    /* in the past: retry now */
    ck_assert_int_eq(rc_push_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 60000, &d), RC_OK);
    ck_assert_int_eq(d, 0);
    const char *bad[] = {"Sun, 06 Nov 1994 08:49:37 UTC",  "Sun, 32 Nov 1994 08:49:37 GMT",
                         "Sun, 06 Foo 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 25:49:37 GMT",
                         "Xyz, 06 Nov 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 08:49:37 GMT x",
                         "Sun, 06 Nov 1994",               "Sunday, 06-Nov-94 08:49:37",
                         "Sun Nov  6 08:49:37",            NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(rc_push_retry_after(bad[i], at, &d) == RC_INVALID, "%s", bad[i]);
}
END_TEST

/* ---- backoff and outcome ------------------------------------------------------------- */

START_TEST(backoff) {
    /* without jitter's low end (rnd 0) and high end (rnd = d/2) */
    ck_assert_int_eq(rc_push_backoff_ms(1, 1000, 60000, 0), 500);
    ck_assert_int_eq(rc_push_backoff_ms(1, 1000, 60000, 500), 1000);
    ck_assert_int_eq(rc_push_backoff_ms(2, 1000, 60000, 1000), 2000);
    ck_assert_int_eq(rc_push_backoff_ms(3, 1000, 60000, 2000), 4000);
    ck_assert_int_eq(rc_push_backoff_ms(6, 1000, 60000, 16000), 32000);
    ck_assert_int_eq(rc_push_backoff_ms(7, 1000, 60000, 30000), 60000); /* capped */
    ck_assert_int_eq(rc_push_backoff_ms(1000, 1000, 60000, 30000), 60000);
    ck_assert_int_eq(rc_push_backoff_ms(UINT32_MAX, INT64_MAX / 2, INT64_MAX / 2, 0), INT64_MAX / 4);
    ck_assert_int_eq(rc_push_backoff_ms(0, 1000, 60000, 0), 500); /* n 0 counts as 1 */
    ck_assert_int_eq(rc_push_backoff_ms(3, 0, 60000, 12345), 0);
    ck_assert_int_eq(rc_push_backoff_ms(3, 1000, 0, 12345), 0);
    /* every jitter value stays within [d/2, d] */
    for (uint32_t n = 1; n < 12; n++)
        for (uint64_t r = 0; r < 5000; r += 7) {
            int64_t d = rc_push_backoff_ms(n, 100, 50000, r * 2654435761u);
            int64_t full = 100LL << (n - 1) > 50000 ? 50000 : 100LL << (n - 1);
            ck_assert(d >= full / 2 && d <= full);
        }
}
END_TEST

START_TEST(classify) {
    static const struct { long status; int transport; rc_push_outcome want; } rows[] = {
        {200, 0, RC_PUSH_DELIVERED}, {201, 0, RC_PUSH_DELIVERED}, {204, 0, RC_PUSH_DELIVERED},
        {299, 0, RC_PUSH_DELIVERED}, {408, 0, RC_PUSH_RETRY},     {429, 0, RC_PUSH_RETRY},
        {500, 0, RC_PUSH_RETRY},     {503, 0, RC_PUSH_RETRY},     {599, 0, RC_PUSH_RETRY},
        {0, 1, RC_PUSH_RETRY},       {200, 1, RC_PUSH_RETRY},     {0, 0, RC_PUSH_RETRY},
        {400, 0, RC_PUSH_REJECTED},  {401, 0, RC_PUSH_REJECTED},  {404, 0, RC_PUSH_REJECTED},
        {410, 0, RC_PUSH_REJECTED},  {413, 0, RC_PUSH_REJECTED},  {301, 0, RC_PUSH_REJECTED},
        {100, 0, RC_PUSH_REJECTED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(rc_push_classify(rows[i].status, rows[i].transport) == rows[i].want,
                      "status %ld", rows[i].status);
}
END_TEST

START_TEST(pct_encode) {
    rc_buf b = RC_BUF_INIT;
    const char in[] = "a b\"%\xc3\xbc/~\x7f\t!";
    rc_push_pct_encode(in, sizeof in - 1, &b);
    ck_assert_str_eq(b.p, "a%20b%22%25%C3%BC/~%7F%09!");
    rc_buf_reset(&b);
    rc_push_pct_encode("", 0, &b);
    ck_assert_uint_eq(b.len, 0);
    rc_buf_free(&b);
}
END_TEST

START_TEST(sinks) {
    rc_err err;
    const char *good[] = {"http://127.0.0.1:8080/x", "https://example.com", "HTTP://h/p?q=1#f",
                          "http://[::1]:9/", NULL};
    for (int i = 0; good[i]; i++) ck_assert_msg(rc_push_check_sink(good[i], &err) == RC_OK, "%s: %s", good[i], err.msg);
    const char *bad[] = {"", "ftp://h/x", "file:///etc/passwd", "http://", "http:///x",
                         "http://h/a b", "http://h/\r\nX: y", "//h/x", "h/x", "gopher://h", NULL};
    for (int i = 0; bad[i]; i++) {
        rc_err_clear(&err);
        ck_assert_msg(rc_push_check_sink(bad[i], &err) == RC_INVALID, "%s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "sink"));
    }
    ck_assert_int_eq(rc_push_check_sink(NULL, &err), RC_INVALID);
    char *big = malloc(RC_PUSH_SINK_MAX + 32);
    strcpy(big, "http://h/");
    memset(big + 9, 'a', RC_PUSH_SINK_MAX);
    big[RC_PUSH_SINK_MAX + 9] = '\0';
    ck_assert_int_eq(rc_push_check_sink(big, &err), RC_INVALID);
    free(big);
}
END_TEST

/* ---- documents against a store ------------------------------------------------------- */

RC_TEST_TMPDIR("rc-push-test")

static rc_store *open_store(void) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    o.fsync = RC_FSYNC_NORMAL;
    rc_store *st = NULL;
    rc_err err;
    ck_assert_int_eq(rc_store_open(&st, &o, &err), RC_OK);
    return st;
}

static uint64_t append(rc_store *st, const char *id, const char *type) {
    rc_event *ev = rc_event_new();
    rc_event_set(ev, "specversion", "1.0");
    rc_event_set(ev, "source", "/t");
    rc_event_set(ev, "id", id);
    rc_event_set(ev, "type", type);
    rc_append_item it;
    rc_err err;
    ck_assert_int_eq(rc_store_append(st, &ev, 1, NULL, &it, &err), RC_OK);
    return it.seq;
}

static int create(rc_store *st, const char *json, rc_buf *out, rc_err *err) {
    rc_err_clear(err);
    return rc_push_sub_create(st, json, strlen(json), out, NULL, err);
}

static int consumer_fn(const rc_consumer_info *c, void *arg) {
    ck_assert_int_eq(c->mode, RC_CONSUMER_CURSOR);
    ck_assert_int_eq(c->ack_wait_ms, 0);
    ck_assert_str_eq(c->start, "beginning");
    *(int64_t *)arg = c->max_deliver;
    return 0;
}

START_TEST(documents) {
    rc_store *st = open_store();
    rc_err err;
    rc_buf out = RC_BUF_INIT;
    ck_assert_int_eq(create(st,
                            "{\"id\":\"a\",\"sink\":\"http://127.0.0.1:1/x\",\"protocol\":\"http\","
                            "\"filters\":[{\"prefix\":{\"type\":\"com.\"}}],"
                            "\"config\":{\"max_attempts\":3,\"start\":\"beginning\"}}",
                            &out, &err),
                     RC_OK);
    ck_assert_ptr_nonnull(strstr(out.p, "\"id\":\"a\""));
    ck_assert_ptr_nonnull(strstr(out.p, "\"protocol\":\"HTTP\""));
    ck_assert_ptr_nonnull(strstr(out.p, "\"filters\":[{\"prefix\":{\"type\":\"com.\"}}]"));
    ck_assert_ptr_nonnull(strstr(out.p, "\"max_attempts\":3"));
    ck_assert_ptr_nonnull(strstr(out.p, "\"timeout_ms\":10000"));
    ck_assert_ptr_nonnull(strstr(out.p, "\"consumer\":\"push.a\""));
    ck_assert_ptr_nonnull(strstr(out.p, "\"status\":{"));
    /* the consumer behind it: a cursor, lease 0, max_deliver = max_attempts */
    int64_t md = 0;
    ck_assert_int_eq(rc_consumer_get(st, "push.a", consumer_fn, &md, &err), RC_OK);
    ck_assert_int_eq(md, 3);
    ck_assert_int_eq(create(st, "{\"id\":\"a\",\"sink\":\"http://h/\"}", NULL, &err), RC_CONFLICT);
    ck_assert_int_eq(create(st, "{\"sink\":\"http://h/\"}", NULL, &err), RC_OK);
    rc_buf_reset(&out);
    ck_assert_int_eq(rc_push_sub_list(st, &out, &err), RC_OK);
    ck_assert(out.p[0] == '[' && strstr(out.p, "\"id\":\"a\"") && strstr(out.p, "\"sink\":\"http://h/\""));
    /* validation names the member */
    static const struct { const char *json; const char *word; } bad[] = {
        {"[]", "body"},
        {"{\"sink\":\"ftp://h/\"}", "sink"},
        {"{\"sink\":\"http://h/\",\"config\":{\"timeout_ms\":5}}", "config.timeout_ms"},
        {"{\"sink\":\"http://h/\",\"config\":{\"backoff_base_ms\":10,\"backoff_max_ms\":5}}",
         "backoff_max_ms"},
        {"{\"sink\":\"http://h/\",\"filters\":[{\"sql\":\"1 +\"}]}", "sql"},
        {"{\"sink\":\"http://h/\",\"protocolsettings\":{\"method\":\"GET\"}}", "method"},
        {"{\"sink\":\"http://h/\",\"protocolsettings\":{\"headers\":{\"Content-Type\":\"x\"}}}",
         "Content-Type"},
        {"{\"sink\":\"http://h/\",\"protocolsettings\":{\"headers\":{\"A B\":\"x\"}}}", "name"},
        {"{\"sink\":\"http://h/\",\"id\":\"\"}", "id"},
        {"{\"sink\":\"http://h/\",\"sink\":\"http://h/\"}", "twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = create(st, bad[i].json, NULL, &err);
        ck_assert_msg(rc == RC_INVALID && strstr(err.msg, bad[i].word), "%s -> %d %s", bad[i].json,
                      rc, err.msg);
    }
    ck_assert_int_eq(rc_push_sub_get(st, "nope", &out, &err), RC_NOT_FOUND);
    ck_assert_int_eq(rc_push_sub_get(st, "../x", &out, &err), RC_NOT_FOUND);
    ck_assert_int_eq(rc_push_sub_delete(st, "a", &err), RC_OK);
    ck_assert_int_eq(rc_push_sub_delete(st, "a", &err), RC_NOT_FOUND);
    ck_assert_int_eq(rc_consumer_get(st, "push.a", NULL, NULL, &err), RC_NOT_FOUND);
    rc_buf_free(&out);
    rc_store_close(st);
}
END_TEST

typedef struct seen_dl {
    int n;
    char json[1024];
} seen_dl;

static int dl_fn(const rc_stored *row, void *arg) {
    seen_dl *s = arg;
    s->n++;
    snprintf(s->json, sizeof s->json, "%.*s", (int)row->json_len, row->json);
    return 0;
}

START_TEST(dead_letter_step) {
    rc_store *st = open_store();
    rc_err err;
    ck_assert_int_eq(create(st, "{\"id\":\"d\",\"sink\":\"http://h/\",\"config\":{\"start\":\"beginning\"}}",
                            NULL, &err),
                     RC_OK);
    uint64_t s1 = append(st, "e1", "t"), s2 = append(st, "e2", "t");
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    ck_assert_int_eq(rc_consumer_fetch(st, "push.d", NULL, 10, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 2);
    uint64_t dl = 0;
    ck_assert_int_eq(rc_pushsub_dead_letter(st, "push.d", s1, 4, "HTTP 503 after 4 attempts", &dl, &err),
                     RC_OK);
    ck_assert(dl > s2);
    /* not pending any more: refused, and nothing appended */
    ck_assert_int_eq(rc_pushsub_dead_letter(st, "push.d", s1, 4, "again", NULL, &err), RC_CONFLICT);
    ck_assert_int_eq(rc_pushsub_dead_letter(st, "push.nope", s2, 1, "x", NULL, &err), RC_NOT_FOUND);
    seen_dl s = {0};
    rc_query q = {0};
    q.type = RC_DEADLETTER_TYPE;
    ck_assert_int_eq(rc_store_scan(st, &q, dl_fn, &s, &err), RC_OK);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_nonnull(strstr(s.json, "\"subject\":\"push.d\""));
    ck_assert_ptr_nonnull(strstr(s.json, "\"reason\":\"HTTP 503 after 4 attempts\""));
    ck_assert_ptr_nonnull(strstr(s.json, "\"deliveries\":4"));
    ck_assert_ptr_nonnull(strstr(s.json, "\"id\":\"e1\""));
    /* the consumer moved past it (and never hands out its own dead letter) */
    ck_assert_int_eq(rc_consumer_fetch(st, "push.d", NULL, 10, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_uint_eq(b.msgs[0].seq, s2);
    rc_consumer_batch_free(&b);
    rc_store_close(st);
}
END_TEST

static Suite *push_suite(void) {
    Suite *s = suite_create("push");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, retry_after_seconds);
    tcase_add_test(tc, retry_after_dates);
    tcase_add_test(tc, backoff);
    tcase_add_test(tc, classify);
    tcase_add_test(tc, pct_encode);
    tcase_add_test(tc, sinks);
    suite_add_tcase(s, tc);
    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, documents);
    tcase_add_test(tc, dead_letter_step);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return rc_test_run(push_suite());
}
