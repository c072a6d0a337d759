/* SPDX-License-Identifier: Apache-2.0 */
/* Core: the slow log (threshold, ring order and bound, argument cutting as
 * Redis, config sync, concurrent recording) and the process figures. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "redcar/config.h"
#include "redcar/procstats.h"
#include "redcar/slowlog.h"
#include "check_main.h"

static void rec(rc_slowlog *sl, int64_t us, const char *a, const char *b) {
    const char *argv[2] = {a, b};
    size_t len[2] = {strlen(a), strlen(b)};
    rc_slowlog_record(sl, RC_SLOWLOG_RESP, us, 2, argv, len, "127.0.0.1:1", "n");
}

START_TEST(threshold_and_order) {
    rc_slowlog *sl = rc_slowlog_new();
    rc_slowlog_configure(sl, 100, 3);
    rec(sl, 99, "get", "fast");          /* below the threshold */
    ck_assert_uint_eq(rc_slowlog_len(sl), 0);
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        rec(sl, 100 + i, "get", k);
    }
    ck_assert_uint_eq(rc_slowlog_len(sl), 3); /* bounded: the oldest went */
    rc_slowlog_entry *e;
    size_t n = rc_slowlog_get(sl, 10, &e);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(e[0].argv[1], "k4");     /* newest first */
    ck_assert_str_eq(e[2].argv[1], "k2");
    ck_assert_uint_eq(e[0].id, 4);
    ck_assert_int_eq(e[0].duration_us, 104);
    ck_assert_str_eq(e[0].addr, "127.0.0.1:1");
    ck_assert_int_eq(e[0].door, RC_SLOWLOG_RESP);
    ck_assert(e[0].ts_us > 0);
    rc_slowlog_entries_free(e, n);
    ck_assert_uint_eq(rc_slowlog_get(sl, 1, &e), 1);
    rc_slowlog_entries_free(e, 1);

    rc_slowlog_configure(sl, 100, 2);         /* shrinking keeps the newest */
    n = rc_slowlog_get(sl, 10, &e);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(e[1].argv[1], "k3");
    rc_slowlog_entries_free(e, n);
    rc_slowlog_configure(sl, 100, 10);        /* growing keeps them all */
    rec(sl, 500, "set", "x");
    ck_assert_uint_eq(rc_slowlog_len(sl), 3);

    rc_slowlog_reset(sl);
    ck_assert_uint_eq(rc_slowlog_len(sl), 0);
    ck_assert_uint_eq(rc_slowlog_get(sl, 10, &e), 0);
    ck_assert_ptr_null(e);
    rec(sl, 500, "set", "y");                 /* ids go on after a reset */
    n = rc_slowlog_get(sl, 10, &e);
    ck_assert_uint_eq(e[0].id, 6);
    rc_slowlog_entries_free(e, n);

    rc_slowlog_configure(sl, -1, 10);         /* off */
    ck_assert(!rc_slowlog_enabled(sl));
    rec(sl, 1000000, "set", "z");
    ck_assert_uint_eq(rc_slowlog_len(sl), 1);
    rc_slowlog_configure(sl, 0, 0);           /* on, but nothing kept */
    rec(sl, 0, "set", "z");
    ck_assert_uint_eq(rc_slowlog_len(sl), 0);
    rc_slowlog_free(sl);
}
END_TEST

START_TEST(arguments_cut_as_redis) {
    rc_slowlog *sl = rc_slowlog_new();
    rc_slowlog_configure(sl, 0, 10);
    const char *argv[40];
    size_t len[40];
    char big[300];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 40; i++) {
        argv[i] = i == 1 ? big : "a";
        len[i] = i == 1 ? sizeof big : 1;
    }
    rc_slowlog_record(sl, RC_SLOWLOG_RESP, 5, 40, argv, len, NULL, NULL);
    rc_slowlog_entry *e;
    size_t n = rc_slowlog_get(sl, 1, &e);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(e[0].argc, 32);
    ck_assert_str_eq(e[0].argv[31], "... (9 more arguments)");
    ck_assert_uint_eq(e[0].argvlen[1], 128 + strlen("... (172 more bytes)"));
    ck_assert_str_eq(e[0].argv[1] + 128, "... (172 more bytes)");
    ck_assert_str_eq(e[0].addr, "");
    ck_assert_str_eq(e[0].name, "");
    rc_slowlog_entries_free(e, n);
    /* Binary arguments are kept as bytes (NUL included). */
    const char *bin[1] = {"a\0b"};
    size_t blen[1] = {3};
    rc_slowlog_record(sl, RC_SLOWLOG_HTTP, 5, 1, bin, blen, NULL, NULL);
    n = rc_slowlog_get(sl, 1, &e);
    ck_assert_uint_eq(e[0].argvlen[0], 3);
    ck_assert(!memcmp(e[0].argv[0], "a\0b", 3));
    ck_assert_str_eq(rc_slowlog_door_name(e[0].door), "http");
    rc_slowlog_entries_free(e, n);
    rc_slowlog_free(sl);
}
END_TEST

START_TEST(follows_config) {
    rc_config *c = rc_config_new();
    rc_slowlog *sl = rc_slowlog_new();
    rc_slowlog_sync(sl, c);
    rec(sl, 9999, "get", "a");
    ck_assert_uint_eq(rc_slowlog_len(sl), 0); /* default 10000 µs */
    rc_err err;
    ck_assert_int_eq(rc_config_set(c, "slowlog-log-slower-than", "0", 1, &err), RC_OK);
    ck_assert_int_eq(rc_config_set(c, "slowlog-max-len", "1", 1, &err), RC_OK);
    rc_slowlog_sync(sl, c);
    rec(sl, 0, "get", "a");
    rec(sl, 0, "get", "b");
    ck_assert_uint_eq(rc_slowlog_len(sl), 1);
    ck_assert_int_eq(rc_config_set(c, "slowlog-log-slower-than", "-1", 1, &err), RC_OK);
    ck_assert_int_eq(rc_config_set(c, "slowlog-log-slower-than", "-2", 1, &err), RC_INVALID);
    ck_assert_int_eq(rc_config_set(c, "slowlog-max-len", "-1", 1, &err), RC_INVALID);
    rc_slowlog_sync(sl, c);
    ck_assert(!rc_slowlog_enabled(sl));
    char v[32];
    ck_assert_str_eq(rc_config_str(c, "slowlog-log-slower-than", v, sizeof v), "-1");
    rc_slowlog_free(sl);
    rc_config_free(c);
}
END_TEST

static void *hammer(void *arg) {
    for (int i = 0; i < 2000; i++) rec(arg, 1, "set", "k");
    return NULL;
}

START_TEST(concurrent) {
    rc_slowlog *sl = rc_slowlog_new();
    rc_slowlog_configure(sl, 0, 64);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, hammer, sl);
    for (int i = 0; i < 200; i++) {
        rc_slowlog_entry *e;
        size_t n = rc_slowlog_get(sl, 64, &e);
        for (size_t k = 1; k < n; k++) ck_assert(e[k - 1].id > e[k].id);
        rc_slowlog_entries_free(e, n);
        if (i % 50 == 0) rc_slowlog_configure(sl, 0, (size_t)(16 + i % 64));
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    rc_slowlog_entry *e;
    size_t n = rc_slowlog_get(sl, 1, &e);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(e[0].id, 7999); /* every record got an id */
    rc_slowlog_entries_free(e, n);
    rc_slowlog_free(sl);
}
END_TEST

START_TEST(process_figures) {
    ck_assert(rc_procstats_uptime_ms() >= 0);
    uint64_t before = rc_procstats_get(RC_PROC_SSE_CLIENTS);
    rc_procstats_add(RC_PROC_SSE_CLIENTS, 2);
    rc_procstats_add(RC_PROC_SSE_CLIENTS, -1);
    ck_assert_uint_eq(rc_procstats_get(RC_PROC_SSE_CLIENTS), before + 1);
    ck_assert_ptr_eq(rc_slowlog_process(), rc_slowlog_process());
}
END_TEST

int main(void) {
    Suite *s = suite_create("core_slowlog");
    TCase *tc = tcase_create("slowlog");
    tcase_add_test(tc, threshold_and_order);
    tcase_add_test(tc, arguments_cut_as_redis);
    tcase_add_test(tc, follows_config);
    tcase_add_test(tc, concurrent);
    tcase_add_test(tc, process_figures);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
