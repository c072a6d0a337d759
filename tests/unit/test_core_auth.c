/* SPDX-License-Identifier: Apache-2.0 */
/* Core: access control (src/core/auth.c): SHA-256 against the FIPS 180-4
 * vectors, the stored form of passwords, the `user` list grammar, and the
 * checks both doors make (password, user, bearer token). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/auth.h"
#include "redcar/config.h"
#include "check_main.h"

static void hex(const unsigned char *d, char *out) {
    for (int i = 0; i < RC_SHA256_LEN; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static const char *sha_hex(const void *p, size_t n) {
    static char out[2 * RC_SHA256_LEN + 1];
    unsigned char d[RC_SHA256_LEN];
    rc_sha256(p, n, d);
    hex(d, out);
    return out;
}

START_TEST(sha256_fips_vectors) {
    /* FIPS 180-4 / NIST CSRC examples: one block, empty, two blocks. */
    ck_assert_str_eq(sha_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_str_eq(sha_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ck_assert_str_eq(sha_hex(two, strlen(two)),
                     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
                       "lmnopqrsmnopqrstnopqrstu";
    ck_assert_str_eq(sha_hex(four, strlen(four)),
                     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* one million 'a' */
    char *m = malloc(1000000);
    memset(m, 'a', 1000000);
    ck_assert_str_eq(sha_hex(m, 1000000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* padding boundaries: 55 fits one block, 56 needs two, 64 exactly one full */
    ck_assert_str_eq(sha_hex(m, 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    ck_assert_str_eq(sha_hex(m, 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    ck_assert_str_eq(sha_hex(m, 63), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
    ck_assert_str_eq(sha_hex(m, 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    ck_assert_str_eq(sha_hex(m, 119), "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb");
    free(m);
}
END_TEST

START_TEST(ct_equal_and_secret) {
    ck_assert(rc_auth_ct_equal("abcd", "abcd", 4));
    ck_assert(!rc_auth_ct_equal("abcd", "abce", 4));
    ck_assert(!rc_auth_ct_equal("xbcd", "abcd", 4));
    ck_assert(rc_auth_ct_equal("", "", 0));
    char s[RC_AUTH_SECRET_LEN + 1];
    rc_auth_secret("", s);
    ck_assert_str_eq(s, "");
    rc_auth_secret("s3cret", s);
    ck_assert_str_eq(s, "#1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0");
    /* a digest is kept (lowercased), so config files need no plaintext */
    rc_auth_secret("#1EC1C26B50D5D3C58D9583181AF8076655FE00756BF7285940BA3670F99FCBA0", s);
    ck_assert_str_eq(s, "#1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0");
    /* not quite a digest: hashed like any password */
    rc_auth_secret("#1ec1", s);
    ck_assert_str_eq(s + 1, sha_hex("#1ec1", 5));
    ck_assert_str_eq(rc_auth_role_name(RC_AUTH_RO), "ro");
    ck_assert_str_eq(rc_auth_role_name(RC_AUTH_RW), "rw");
    ck_assert_str_eq(rc_auth_role_name(RC_AUTH_NONE), "none");
}
END_TEST

START_TEST(users_grammar) {
    char *out = NULL;
    rc_err e;
    char want[300];
    ck_assert_int_eq(rc_auth_users_merge("", "alice ro s3cret", &out, &e), RC_OK);
    snprintf(want, sizeof want, "alice:ro:#%s", sha_hex("s3cret", 6));
    ck_assert_str_eq(out, want);
    /* list form, a password with colons; replacing alice in place */
    char *out2 = NULL;
    ck_assert_int_eq(rc_auth_users_merge(out, "bob:rw:a:b:c alice:RW:x", &out2, &e), RC_OK);
    snprintf(want, sizeof want, "alice:rw:#%s ", sha_hex("x", 1));
    snprintf(want + strlen(want), sizeof want - strlen(want), "bob:rw:#%s", sha_hex("a:b:c", 5));
    ck_assert_str_eq(out2, want);
    free(out);
    /* the stored form reads back as itself (CONFIG GET can be pasted back) */
    ck_assert_int_eq(rc_auth_users_merge("", out2, &out, &e), RC_OK);
    ck_assert_str_eq(out, out2);
    free(out);
    /* space form: the password is the rest of the value, spaces and all */
    ck_assert_int_eq(rc_auth_users_merge(out2, "carol ro pass word:x", &out, &e), RC_OK);
    ck_assert(strstr(out, sha_hex("pass word:x", 11)));
    ck_assert_ptr_eq(strstr(out, "carol:ro:#"), strrchr(out, ' ') + 1);
    free(out);
    /* "" clears */
    ck_assert_int_eq(rc_auth_users_merge(out2, "", &out, &e), RC_OK);
    ck_assert_str_eq(out, "");
    free(out);

    /* errors: clear, naming the problem, never echoing the password */
    static const struct {
        const char *value, *msg;
    } bad[] = {
        {"alice admin s3cretpw", "role must be ro or rw"},
        {"default rw s3cretpw", "requirepass"},
        {"al!ce ro s3cretpw", "name must be"},
        {"alice ro", "expected NAME ROLE PASSWORD"},
        {"alice:ro:", "empty password"},
        {"alice:ro", "expected NAME:ROLE:PASSWORD"},
        {"bob:rw:s3cretpw alice:xx:s3cretpw", "role must be"},
        {"abcdefghijabcdefghijabcdefghijabc ro s3cretpw", "name must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = (char *)"untouched";
        rc_err_clear(&e);
        ck_assert_int_eq(rc_auth_users_merge(out2, bad[i].value, &out, &e), RC_INVALID);
        ck_assert_msg(strstr(e.msg, bad[i].msg), "%s: %s", bad[i].value, e.msg);
        ck_assert_msg(!strstr(e.msg, "s3cretpw"), "password echoed: %s", e.msg);
        ck_assert_str_eq(out, "untouched");
    }
    free(out2);

    /* at most RC_AUTH_MAX_USERS */
    char *list = strdup("");
    for (int i = 0; i < RC_AUTH_MAX_USERS; i++) {
        char v[64];
        snprintf(v, sizeof v, "u%d ro pw%d", i, i);
        ck_assert_int_eq(rc_auth_users_merge(list, v, &out, &e), RC_OK);
        free(list);
        list = out;
    }
    ck_assert_int_eq(rc_auth_users_merge(list, "one-more ro pw", &out, &e), RC_INVALID);
    ck_assert(strstr(e.msg, "more than"));
    ck_assert_int_eq(rc_auth_users_merge(list, "u7 rw newpw", &out, &e), RC_OK); /* replacing is fine */
    free(out);
    free(list);
}
END_TEST

START_TEST(checks_against_config) {
    rc_config *c = rc_config_new();
    rc_auth_role role;
    rc_err e;
    char v[128], user[RC_AUTH_NAME_MAX + 1];
    ck_assert(!rc_auth_required(c));
    ck_assert_int_eq(rc_auth_check(c, NULL, 0, "", 0, &role), RC_NOAUTH);
    ck_assert_int_eq(role, RC_AUTH_NONE);

    ck_assert_int_eq(rc_config_set(c, "requirepass", "top secret", 1, &e), RC_OK);
    ck_assert(rc_auth_required(c));
    /* only the digest is kept */
    ck_assert_str_eq(rc_config_str(c, "requirepass", v, sizeof v) + 1, sha_hex("top secret", 10));
    ck_assert_int_eq(rc_auth_check(c, NULL, 0, "top secret", 10, &role), RC_OK);
    ck_assert_int_eq(role, RC_AUTH_RW);
    ck_assert_int_eq(rc_auth_check(c, "default", 7, "top secret", 10, &role), RC_OK);
    ck_assert_int_eq(rc_auth_check(c, NULL, 0, "top secreT", 10, &role), RC_NOAUTH);
    ck_assert_int_eq(rc_auth_check(c, NULL, 0, "top secret", 9, &role), RC_NOAUTH);
    ck_assert_int_eq(rc_auth_check(c, "nobody", 6, "top secret", 10, &role), RC_NOAUTH);
    /* knowing the digest is not knowing the password */
    ck_assert_int_eq(rc_auth_check(c, NULL, 0, v, strlen(v), &role), RC_NOAUTH);

    /* users: start-up only, from the file and flags */
    ck_assert_int_eq(rc_config_set(c, "user", "alice ro pw1", 1, &e), RC_INVALID);
    const char *text = "user alice ro pw1\nuser bob rw p w:2\n"; /* the rest of the line */
    ck_assert_int_eq(rc_config_load_string(c, text, strlen(text), "t", &e), RC_OK);
    char a0[] = "redcar", a1[] = "--user", a2[] = "carol:ro:pw3";
    char *argv[] = {a0, a1, a2, NULL};
    int exit_now;
    ck_assert_int_eq(rc_config_parse_args(c, 3, argv, &exit_now, &e), RC_OK);
    char *list = rc_config_dup(c, "user");
    ck_assert(!strstr(list, "pw1") && !strstr(list, "p w:2") && !strstr(list, "pw3"));
    ck_assert(!strncmp(list, "alice:ro:#", 10));
    free(list);

    ck_assert_int_eq(rc_auth_check(c, "alice", 5, "pw1", 3, &role), RC_OK);
    ck_assert_int_eq(role, RC_AUTH_RO);
    ck_assert_int_eq(rc_auth_check(c, "bob", 3, "p w:2", 5, &role), RC_OK);
    ck_assert_int_eq(role, RC_AUTH_RW);
    ck_assert_int_eq(rc_auth_check(c, "carol", 5, "pw3", 3, &role), RC_OK);
    ck_assert_int_eq(role, RC_AUTH_RO);
    ck_assert_int_eq(rc_auth_check(c, "alice", 5, "pw3", 3, &role), RC_NOAUTH); /* another's password */
    ck_assert_int_eq(rc_auth_check(c, "alic", 4, "pw1", 3, &role), RC_NOAUTH);
    ck_assert_int_eq(rc_auth_check(c, NULL, 0, "pw1", 3, &role), RC_NOAUTH);    /* not the default's */

    /* bearer tokens */
    ck_assert_int_eq(rc_auth_check_bearer(c, "Bearer top secret", &role, user, sizeof user), RC_OK);
    ck_assert_int_eq(role, RC_AUTH_RW);
    ck_assert_str_eq(user, "default");
    ck_assert_int_eq(rc_auth_check_bearer(c, "bearer   alice:pw1  ", &role, user, sizeof user), RC_OK);
    ck_assert_int_eq(role, RC_AUTH_RO);
    ck_assert_str_eq(user, "alice");
    ck_assert_int_eq(rc_auth_check_bearer(c, "Bearer default:top secret", &role, NULL, 0), RC_OK);
    ck_assert_int_eq(rc_auth_check_bearer(c, "Bearer bob:p w:2", &role, NULL, 0), RC_OK);
    ck_assert_int_eq(role, RC_AUTH_RW);
    static const char *const refused[] = {NULL, "", "Bearer", "Bearer ", "Bearer alice:pw2",
                                          "Basic YWxpY2U6cHcx", "Bearertop secret", "Bearer :pw1",
                                          "Bearer alice:", "Bearer top"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_int_eq(rc_auth_check_bearer(c, refused[i], &role, user, sizeof user), RC_NOAUTH);
        ck_assert_int_eq(role, RC_AUTH_NONE);
        ck_assert_str_eq(user, "");
    }

    /* a requirepass holding ':' still works as a bare token */
    ck_assert_int_eq(rc_config_set(c, "requirepass", "x:y", 1, &e), RC_OK);
    ck_assert_int_eq(rc_auth_check_bearer(c, "Bearer x:y", &role, user, sizeof user), RC_OK);
    ck_assert_str_eq(user, "default");

    /* users without requirepass: the default user is disabled, not open */
    ck_assert_int_eq(rc_config_set(c, "requirepass", "", 1, &e), RC_OK);
    ck_assert(rc_auth_required(c));
    ck_assert_int_eq(rc_auth_check(c, NULL, 0, "", 0, &role), RC_NOAUTH);
    ck_assert_int_eq(rc_auth_check(c, "default", 7, "", 0, &role), RC_NOAUTH);
    ck_assert_int_eq(rc_auth_check(c, "alice", 5, "pw1", 3, &role), RC_OK);
    rc_config_free(c);
}
END_TEST

START_TEST(help_and_default_file) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rc_config_usage(f);
    rc_config_write_default(f);
    fclose(f);
    ck_assert(strstr(buf, "--user NAME:ROLE:PASSWORD"));
    ck_assert(strstr(buf, "--requirepass PASSWORD"));
    ck_assert(strstr(buf, "\n# user \"\"\n"));
    ck_assert(strstr(buf, "user reader ro s3cret"));
    free(buf);
    /* the default file's user line loads (an empty list) */
    rc_config *c = rc_config_new();
    rc_err e;
    ck_assert_int_eq(rc_config_load_string(c, "user \"\"\n", 8, "t", &e), RC_OK);
    ck_assert(!rc_auth_required(c));
    rc_config_free(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("core_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, sha256_fips_vectors);
    tcase_add_test(tc, ct_equal_and_secret);
    tcase_add_test(tc, users_grammar);
    tcase_add_test(tc, checks_against_config);
    tcase_add_test(tc, help_and_default_file);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
