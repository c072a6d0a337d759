/* SPDX-License-Identifier: Apache-2.0 */
/* Console: the embedded files are all there, with types and ETags, and the
 * lookup matches names exactly (no directories, no path tricks). */
#include <check.h>
#include <string.h>

#include "redcar/console.h"
#include "check_main.h"

START_TEST(assets_embedded) {
    size_t n;
    const rc_console_asset *all = rc_console_assets(&n);
    ck_assert_uint_ge(n, 5);
    for (size_t i = 0; i < n; i++) {
        ck_assert(all[i].len > 0);
        ck_assert(all[i].content_type[0]);
        /* "\"" + 20 hex + "\"" */
        ck_assert_uint_eq(strlen(all[i].etag), 22);
        ck_assert(all[i].etag[0] == '"' && all[i].etag[21] == '"');
        for (size_t j = 0; j < i; j++) ck_assert_str_ne(all[i].etag, all[j].etag);
        ck_assert(!strchr(all[i].name, '/'));
    }
    const rc_console_asset *idx = rc_console_find("");
    ck_assert_ptr_nonnull(idx);
    ck_assert_str_eq(idx->name, "index.html");
    ck_assert_str_eq(idx->content_type, "text/html; charset=utf-8");
    ck_assert(strstr((const char *)idx->data, "<!doctype html>"));
    ck_assert_uint_eq(strlen((const char *)idx->data), idx->len); /* NUL after the bytes */
    ck_assert_str_eq(rc_console_find("app.js")->content_type, "text/javascript; charset=utf-8");
    ck_assert_str_eq(rc_console_find("console.css")->content_type, "text/css; charset=utf-8");
    ck_assert_str_eq(rc_console_find("favicon.svg")->content_type, "image/svg+xml");
}
END_TEST

START_TEST(lookup_is_exact) {
    ck_assert_ptr_null(rc_console_find("nope.js"));
    ck_assert_ptr_null(rc_console_find("../index.html"));
    ck_assert_ptr_null(rc_console_find("INDEX.HTML"));
    ck_assert_ptr_null(rc_console_find("index.html/"));
    ck_assert_ptr_eq(rc_console_find(NULL), rc_console_find("index.html"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("console");
    TCase *tc = tcase_create("console");
    tcase_add_test(tc, assets_embedded);
    tcase_add_test(tc, lookup_is_exact);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
