/* SPDX-License-Identifier: Apache-2.0 */
/* The RESP command table: lookup is case-insensitive and exact, every row
 * is well-formed, and the flags the dispatcher relies on are consistent. */
#include <check.h>
#include <string.h>
#include <strings.h>

#include "resp/door.h"
#include "check_main.h"

START_TEST(lookup) {
    ck_assert_ptr_nonnull(rc__r_cmd_find("GET", 3));
    ck_assert_ptr_nonnull(rc__r_cmd_find("gEt", 3));
    ck_assert_str_eq(rc__r_cmd_find("SeT", 3)->name, "set");
    ck_assert_ptr_null(rc__r_cmd_find("GETX", 4));
    ck_assert_ptr_null(rc__r_cmd_find("GE", 2));
    ck_assert_ptr_null(rc__r_cmd_find("", 0));
    ck_assert_ptr_null(rc__r_cmd_find("get\0", 4));
    /* a name longer than any command */
    ck_assert_ptr_null(rc__r_cmd_find("getgetgetgetgetgetgetgetgetgetgetget", 36));
}
END_TEST

START_TEST(rows) {
    size_t n;
    const rc__cmd *t = rc__r_cmd_table(&n);
    ck_assert_uint_gt(n, 80);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(t[i].fn);
        ck_assert_int_ne(t[i].arity, 0);
        ck_assert(t[i].summary && *t[i].summary);
        for (const char *p = t[i].name; *p; p++) ck_assert(*p >= 'a' && *p <= 'z');
        ck_assert_ptr_eq(rc__r_cmd_find(t[i].name, strlen(t[i].name)), &t[i]);
        for (size_t j = i + 1; j < n; j++) ck_assert_str_ne(t[i].name, t[j].name);
        /* commands that read outside a transaction cannot be queued by MULTI */
        if (t[i].flags & RC_CF_LOOPONLY) ck_assert(!(t[i].flags & RC_CF_TXCTL));
    }
    ck_assert(rc__r_cmd_find("set", 3)->flags & RC_CF_WRITE);
    ck_assert(!(rc__r_cmd_find("get", 3)->flags & RC_CF_WRITE));
    ck_assert(rc__r_cmd_find("auth", 4)->flags & RC_CF_NOAUTH);
    ck_assert(rc__r_cmd_find("subscribe", 9)->flags & RC_CF_PUBSUB);
    ck_assert_int_eq(rc__r_cmd_find("get", 3)->arity, 2);
    ck_assert_int_eq(rc__r_cmd_find("set", 3)->arity, -3);
}
END_TEST

START_TEST(numbers) {
    int64_t v;
    ck_assert(rc__r_parse_i64("0", 1, &v) && v == 0);
    ck_assert(rc__r_parse_i64("-9223372036854775808", 20, &v) && v == INT64_MIN);
    ck_assert(rc__r_parse_i64("9223372036854775807", 19, &v) && v == INT64_MAX);
    ck_assert(!rc__r_parse_i64("9223372036854775808", 19, &v));
    ck_assert(!rc__r_parse_i64("01", 2, &v));
    ck_assert(!rc__r_parse_i64("+1", 2, &v));
    ck_assert(!rc__r_parse_i64(" 1", 2, &v));
    ck_assert(!rc__r_parse_i64("-", 1, &v));
    ck_assert(!rc__r_parse_i64("", 0, &v));
    long double d;
    ck_assert(rc__r_parse_ld("1.5", 3, &d) && d == 1.5L);
    ck_assert(!rc__r_parse_ld("1.5x", 4, &d));
    ck_assert(!rc__r_parse_ld("nan", 3, &d));
    ck_assert(!rc__r_parse_ld(" 1", 2, &d));
}
END_TEST

int main(void) {
    Suite *s = suite_create("resp_table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lookup);
    tcase_add_test(tc, rows);
    tcase_add_test(tc, numbers);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
