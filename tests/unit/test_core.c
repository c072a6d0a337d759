/* SPDX-License-Identifier: Apache-2.0 */
/* Core: status table, rc_buf, settings table (parsing, bounds, file, flags). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "redcar/buf.h"
#include "redcar/config.h"
#include "redcar/status.h"
#include "check_main.h"

START_TEST(status_table) {
    ck_assert_str_eq(rc_status_name(RC_CONFLICT), "CONFLICT");
    ck_assert_int_eq(rc_status_http(RC_CONFLICT), 409);
    ck_assert_int_eq(rc_status_http(RC_DISK_FULL), 507);
    ck_assert_str_eq(rc_status_resp(RC_WRONGTYPE), "WRONGTYPE");
    ck_assert_int_eq(rc_status_http(9999), 500);
    rc_err e;
    rc_err_clear(&e);
    ck_assert_str_eq(rc_err_msg(&e), "ok");
    ck_assert_int_eq(rc_err_set(&e, RC_INVALID, "x=%d", 5), RC_INVALID);
    ck_assert_str_eq(e.msg, "x=5");
}
END_TEST

START_TEST(buf_ops) {
    rc_buf b = RC_BUF_INIT;
    rc_buf_puts(&b, "abc");
    rc_buf_put_u64(&b, 18446744073709551615ULL);
    rc_buf_put_i64(&b, -9223372036854775807LL - 1);
    rc_buf_printf(&b, "|%0300d|", 7);
    ck_assert_uint_eq(b.len, 3 + 20 + 20 + 302);
    ck_assert(!strncmp(b.p, "abc18446744073709551615-9223372036854775808|000", 47));
    rc_buf_consume(&b, 3);
    ck_assert(b.p[0] == '1');
    size_t n;
    char *p = rc_buf_detach(&b, &n);
    ck_assert_uint_eq(n, 20 + 20 + 302);
    ck_assert_ptr_null(b.p);
    free(p);
}
END_TEST

START_TEST(config_defaults_and_set) {
    rc_config *c = rc_config_new();
    char v[64];
    ck_assert_str_eq(rc_config_str(c, "http", v, sizeof v), "127.0.0.1:8519");
    ck_assert_str_eq(rc_config_str(c, "resp", v, sizeof v), "127.0.0.1:6379");
    ck_assert_int_eq(rc_config_int(c, "http-max-body"), 16 * 1024 * 1024);
    ck_assert_int_eq(rc_config_int(c, "http-timeout"), 30000);
    rc_err e;
    ck_assert_int_eq(rc_config_set(c, "maxclients", "12", 1, &e), RC_OK);
    ck_assert_int_eq(rc_config_int(c, "maxclients"), 12);
    ck_assert_int_eq(rc_config_set(c, "maxclients", "0", 1, &e), RC_INVALID);
    ck_assert(strstr(e.msg, "out of range"));
    ck_assert_int_eq(rc_config_set(c, "maxclients", "12x", 1, &e), RC_INVALID);
    ck_assert_int_eq(rc_config_set(c, "http-max-body", "2kb", 1, &e), RC_OK);
    ck_assert_int_eq(rc_config_int(c, "http-max-body"), 2048);
    ck_assert_int_eq(rc_config_set(c, "fsync", "sometimes", 0, &e), RC_INVALID);
    ck_assert(strstr(e.msg, "always|normal"));
    ck_assert_int_eq(rc_config_set(c, "dir", "/tmp/x", 1, &e), RC_INVALID); /* start-up only */
    ck_assert_int_eq(rc_config_set(c, "nosuch", "1", 0, &e), RC_NOT_FOUND);
    ck_assert_int_eq(rc_config_set(c, "http", "localhost:99999", 0, &e), RC_INVALID);
    ck_assert_int_eq(rc_config_set(c, "protected-mode", "maybe", 0, &e), RC_INVALID);
    rc_config_free(c);
}
END_TEST

/* TLS listeners: off by default, [HOST:]PORT (a bare port as Redis's
 * tls-port); "" turns any listener off; tls-auth-clients is an enum. */
START_TEST(config_tls_settings) {
    rc_config *c = rc_config_new();
    char v[64];
    rc_err e;
    ck_assert_str_eq(rc_config_str(c, "tls-port", v, sizeof v), "");
    ck_assert_str_eq(rc_config_str(c, "https", v, sizeof v), "");
    ck_assert_str_eq(rc_config_str(c, "tls-auth-clients", v, sizeof v), "no");
    ck_assert_int_eq(rc_config_set(c, "tls-port", "6380", 0, &e), RC_OK);
    ck_assert_int_eq(rc_config_set(c, "tls-port", "0", 0, &e), RC_OK);
    ck_assert_int_eq(rc_config_set(c, "https", "[::1]:8443", 0, &e), RC_OK);
    ck_assert_int_eq(rc_config_set(c, "https", "70000", 0, &e), RC_INVALID);
    ck_assert_int_eq(rc_config_set(c, "tls-port", "x", 0, &e), RC_INVALID);
    ck_assert(strstr(e.msg, "port must be"));
    ck_assert_int_eq(rc_config_set(c, "http", "8519", 0, &e), RC_INVALID); /* plain doors: HOST:PORT */
    ck_assert_int_eq(rc_config_set(c, "http", "", 0, &e), RC_OK);
    ck_assert_int_eq(rc_config_set(c, "resp", "", 0, &e), RC_OK);
    ck_assert_int_eq(rc_config_set(c, "tls-auth-clients", "OPTIONAL", 0, &e), RC_OK);
    ck_assert_str_eq(rc_config_str(c, "tls-auth-clients", v, sizeof v), "optional");
    ck_assert_int_eq(rc_config_set(c, "tls-auth-clients", "maybe", 0, &e), RC_INVALID);
    ck_assert(strstr(e.msg, "no|optional|yes"));
    ck_assert_int_eq(rc_config_set(c, "tls-cert-file", "/x.pem", 1, &e), RC_INVALID); /* start-up only */
    rc_config_free(c);
}
END_TEST

static void count(void *arg, const char *n, const char *v) {
    (void)n;
    (void)v;
    (*(int *)arg)++;
}

START_TEST(config_file_and_flags) {
    char path[] = "/tmp/redcar-conf-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "# comment\n\n  dir /var/lib/x\nloglevel debug\nrequirepass \"p a\\\"ss\"\nmaxclients 5\n";
    ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    rc_config *c = rc_config_new();
    char a0[] = "redcar", a2[] = "-a", a3[] = "127.0.0.1:0", a4[] = "--maxclients", a5[] = "7";
    char *argv[] = {a0, path, a2, a3, a4, a5, NULL};
    int exit_now;
    rc_err e;
    ck_assert_int_eq(rc_config_parse_args(c, 6, argv, &exit_now, &e), RC_OK);
    char v[80];
    ck_assert_str_eq(rc_config_str(c, "dir", v, sizeof v), "/var/lib/x");
    /* quoted value with an escaped quote; a password is kept only as its SHA-256 */
    ck_assert_str_eq(rc_config_str(c, "requirepass", v, sizeof v),
                     "#86a8573939fb79dc86aebcf98fdbe954945a50c152c02ee69adabee1beb05347");
    ck_assert_str_eq(rc_config_str(c, "http", v, sizeof v), "127.0.0.1:0");
    ck_assert_int_eq(rc_config_int(c, "maxclients"), 7); /* flag overrides file */
    int n = 0;
    rc_config_each(c, "max*", count, &n);
    ck_assert_int_eq(n, 3);
    rc_config_free(c);

    c = rc_config_new();
    char b1[] = "--bogus", b2[] = "1";
    char *bad[] = {a0, b1, b2, NULL};
    ck_assert_int_eq(rc_config_parse_args(c, 3, bad, &exit_now, &e), RC_INVALID);
    char c1[] = "-l", c2[] = "loud";
    char *badv[] = {a0, c1, c2, NULL};
    ck_assert_int_eq(rc_config_parse_args(c, 3, badv, &exit_now, &e), RC_INVALID);
    ck_assert(strstr(e.msg, "loglevel"));
    rc_config_free(c);

    fd = open(path, O_WRONLY | O_TRUNC);
    const char *broken = "dir /x\nmaxclients lots\n";
    ck_assert(write(fd, broken, strlen(broken)) > 0);
    close(fd);
    c = rc_config_new();
    ck_assert_int_eq(rc_config_load_file(c, path, &e), RC_INVALID);
    ck_assert(strstr(e.msg, ":2:"));
    rc_config_free(c);
    unlink(path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, status_table);
    tcase_add_test(tc, buf_ops);
    tcase_add_test(tc, config_defaults_and_set);
    tcase_add_test(tc, config_tls_settings);
    tcase_add_test(tc, config_file_and_flags);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
