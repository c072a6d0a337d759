/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RESP parser and reply writer: pure functions, so every case runs with
 * the input split at every byte boundary, and errors are compared with
 * Redis's exact texts.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/buf.h"
#include "resp/parser.h"
#include "resp/reply.h"
#include "check_main.h"

/* Parse `in` fed in two pieces split at `cut`; render commands as
 * "a|b|c;" lines into out; returns the final status (CMD never). */
static int parse_split(const char *in, size_t len, size_t cut, const rc_resp_limits *lim, rc_buf *out) {
    rc_resp_parser *p = rc_resp_parser_new(lim);
    ck_assert_ptr_nonnull(p);
    int rc = RC_RESP_NEED_MORE;
    size_t pieces[2][2] = {{0, cut}, {cut, len - cut}};
    for (int k = 0; k < 2 && rc != RC_RESP_ERROR; k++) {
        rc = rc_resp_parser_feed(p, in + pieces[k][0], pieces[k][1]);
        if (rc == RC_RESP_ERROR) break;
        rc_resp_cmd cmd;
        while ((rc = rc_resp_parser_next(p, &cmd)) == RC_RESP_CMD) {
            for (size_t i = 0; i < cmd.argc; i++) {
                if (i) rc_buf_putc(out, '|');
                rc_buf_append(out, cmd.argv[i], cmd.argvlen[i]);
                ck_assert_int_eq(cmd.argv[i][cmd.argvlen[i]], '\0');
            }
            rc_buf_putc(out, ';');
        }
    }
    if (rc == RC_RESP_ERROR) {
        rc_buf_puts(out, "ERR:");
        rc_buf_puts(out, rc_resp_parser_error(p));
        /* sticky */
        rc_resp_cmd cmd;
        ck_assert_int_eq(rc_resp_parser_next(p, &cmd), RC_RESP_ERROR);
        ck_assert_int_eq(rc_resp_parser_feed(p, "*1\r\n$4\r\nPING\r\n", 14), RC_RESP_ERROR);
    }
    rc_resp_parser_free(p);
    return rc;
}

/* Same result whatever the split point. */
static void expect(const char *in, const char *want, const rc_resp_limits *lim) {
    size_t len = strlen(in);
    for (size_t cut = 0; cut <= len; cut++) {
        rc_buf out = RC_BUF_INIT;
        parse_split(in, len, cut, lim, &out);
        ck_assert_msg(strcmp(out.p ? out.p : "", want) == 0, "input %s cut %zu: got '%s' want '%s'",
                      in, cut, out.p ? out.p : "", want);
        rc_buf_free(&out);
    }
}

START_TEST(multibulk) {
    expect("*1\r\n$4\r\nPING\r\n", "PING;", NULL);
    expect("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", "SET|k|;", NULL);
    expect("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", "GET|a;GET|b;", NULL);
    /* binary-safe: CR LF inside a bulk */
    expect("*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n", "ECHO|\r\n\r\n;", NULL);
    /* empty and negative multibulks are skipped, like Redis */
    expect("*0\r\n*-10\r\n*1\r\n$4\r\nPING\r\n", "PING;", NULL);
}
END_TEST

START_TEST(inline_cmds) {
    expect("PING\r\n", "PING;", NULL);
    expect("PING\n", "PING;", NULL);
    expect("set k \"a b\"\r\nget k\r\n", "set|k|a b;get|k;", NULL);
    expect("echo \"\\x41\\n\" 'it\\'s'\n", "echo|A\n|it's;", NULL);
    expect("\r\n\n   \nPING\n", "PING;", NULL);
    expect("a\"b c\" d\n", "ab c|d;", NULL);
    expect("\r\n*1\r\n$4\r\nPING\r\n\nPING\n", "PING;PING;", NULL);
}
END_TEST

START_TEST(errors) {
    expect("*abc\r\n", "ERR:invalid multibulk length", NULL);
    expect("*1\r\n$-1\r\n", "ERR:invalid bulk length", NULL);
    expect("*1\r\n$x\r\n", "ERR:invalid bulk length", NULL);
    expect("*1\r\nfoo\r\n", "ERR:expected '$', got 'f'", NULL);
    expect("*2\r\n$3\r\nGET\r\n:1\r\n", "ERR:expected '$', got ':'", NULL);
    expect("set k \"abc\n", "ERR:unbalanced quotes in request", NULL);
    expect("set k \"abc\"x\n", "ERR:unbalanced quotes in request", NULL);
    expect("set k 'abc\n", "ERR:unbalanced quotes in request", NULL);
    expect("*+1\r\n", "ERR:invalid multibulk length", NULL);
    expect("*01\r\n", "ERR:invalid multibulk length", NULL);
    expect("*9999999999999999999999\r\n", "ERR:invalid multibulk length", NULL);
    rc_resp_limits l;
    rc_resp_limits_default(&l);
    l.max_args = 3;
    l.max_bulk = 5;
    expect("*4\r\n", "ERR:invalid multibulk length", &l);
    expect("*1\r\n$6\r\n", "ERR:invalid bulk length", &l);
    expect("*1\r\n$5\r\nhello\r\n", "hello;", &l);
}
END_TEST

START_TEST(limits) {
    rc_resp_limits l;
    rc_resp_limits_unauth(&l);
    ck_assert_uint_eq(l.max_args, 10);
    ck_assert_uint_eq(l.max_bulk, 16384);
    expect("*11\r\n", "ERR:invalid multibulk length", &l);
    expect("*1\r\n$16385\r\n", "ERR:invalid bulk length", &l);
    /* a count line / inline request without newline past 64 KiB */
    size_t n = 70 * 1024;
    char *big = malloc(n + 1);
    memset(big, '1', n);
    big[0] = '*';
    big[n] = 0;
    rc_buf out = RC_BUF_INIT;
    parse_split(big, n, n / 2, NULL, &out);
    ck_assert_str_eq(out.p, "ERR:too big mbulk count string");
    rc_buf_reset(&out);
    memcpy(big, "*1\r\n$", 5);
    parse_split(big, n, 3, NULL, &out);
    ck_assert_str_eq(out.p, "ERR:too big bulk count string");
    rc_buf_reset(&out);
    memset(big, 'a', n);
    parse_split(big, n, 7, NULL, &out);
    ck_assert_str_eq(out.p, "ERR:too big inline request");
    rc_buf_free(&out);
    free(big);
    /* buffered bytes ceiling */
    rc_resp_limits_default(&l);
    l.max_buffer = 100;
    rc_resp_parser *p = rc_resp_parser_new(&l);
    char chunk[64];
    memset(chunk, 'x', sizeof chunk);
    ck_assert_int_eq(rc_resp_parser_feed(p, "*1\r\n$1000\r\n", 11), RC_RESP_NEED_MORE);
    rc_resp_cmd cmd;
    ck_assert_int_eq(rc_resp_parser_next(p, &cmd), RC_RESP_NEED_MORE);
    ck_assert_int_eq(rc_resp_parser_feed(p, chunk, sizeof chunk), RC_RESP_NEED_MORE);
    ck_assert_int_eq(rc_resp_parser_feed(p, chunk, sizeof chunk), RC_RESP_ERROR);
    ck_assert_str_eq(rc_resp_parser_error(p), "query buffer limit reached");
    rc_resp_parser_free(p);
}
END_TEST

START_TEST(byte_by_byte_and_space_api) {
    const char *in = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nPING\r\n";
    rc_resp_parser *p = rc_resp_parser_new(NULL);
    rc_buf out = RC_BUF_INIT;
    for (size_t i = 0; in[i]; i++) {
        char *sp;
        ck_assert_uint_ge(rc_resp_parser_space(p, 1, &sp), 1);
        *sp = in[i];
        ck_assert_int_eq(rc_resp_parser_commit(p, 1), RC_RESP_NEED_MORE);
        rc_resp_cmd cmd;
        while (rc_resp_parser_next(p, &cmd) == RC_RESP_CMD) {
            for (size_t k = 0; k < cmd.argc; k++) {
                rc_buf_append(&out, cmd.argv[k], cmd.argvlen[k]);
                rc_buf_putc(&out, ' ');
            }
        }
    }
    ck_assert_str_eq(out.p, "SET key value PING ");
    ck_assert_uint_eq(rc_resp_parser_pending(p), 0);
    rc_buf_free(&out);
    rc_resp_parser_free(p);
}
END_TEST

START_TEST(encode_roundtrip) {
    const char *argv[] = {"SET", "k\r\n", "", "\0x"};
    size_t lens[] = {3, 3, 0, 2};
    rc_buf b = RC_BUF_INIT;
    rc_resp_encode_argv(&b, 4, argv, lens);
    rc_resp_parser *p = rc_resp_parser_new(NULL);
    rc_resp_parser_feed(p, b.p, b.len);
    rc_resp_cmd cmd;
    ck_assert_int_eq(rc_resp_parser_next(p, &cmd), RC_RESP_CMD);
    ck_assert_uint_eq(cmd.argc, 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(cmd.argvlen[i], lens[i]);
        ck_assert(memcmp(cmd.argv[i], argv[i], lens[i]) == 0);
    }
    rc_resp_parser_free(p);
    rc_buf_free(&b);
}
END_TEST

START_TEST(writer) {
    rc_buf b = RC_BUF_INIT;
    rc_resp_w w2 = {&b, 2};
    rc_resp_w_ok(&w2);
    rc_resp_w_int(&w2, -42);
    rc_resp_w_bulk(&w2, "ab", 2);
    rc_resp_w_null(&w2);
    rc_resp_w_null_array(&w2);
    rc_resp_w_map(&w2, 1);
    rc_resp_w_bool(&w2, 1);
    rc_resp_w_double(&w2, 1.5);
    rc_resp_w_error(&w2, "ERR bad\r\nthing");
    ck_assert_str_eq(b.p, "+OK\r\n:-42\r\n$2\r\nab\r\n$-1\r\n*-1\r\n*2\r\n:1\r\n$3\r\n1.5\r\n-ERR bad  thing\r\n");
    rc_buf_reset(&b);
    rc_resp_w w3 = {&b, 3};
    rc_resp_w_null(&w3);
    rc_resp_w_map(&w3, 2);
    rc_resp_w_set(&w3, 1);
    rc_resp_w_push(&w3, 3);
    rc_resp_w_bool(&w3, 0);
    rc_resp_w_double(&w3, 2.5);
    rc_resp_w_verbatim(&w3, "hi", 2);
    ck_assert_str_eq(b.p, "_\r\n%2\r\n~1\r\n>3\r\n#f\r\n,2.5\r\n=6\r\ntxt:hi\r\n");
    rc_buf_reset(&b);
    rc_resp_w_status(&w2, RC_WRONGTYPE, NULL);
    ck_assert_str_eq(b.p, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    char t[64];
    rc_resp_fmt_ld(t, sizeof t, 10.5L);
    ck_assert_str_eq(t, "10.5");
    rc_resp_fmt_ld(t, sizeof t, 3.0L);
    ck_assert_str_eq(t, "3");
    rc_buf_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("resp_parser");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, multibulk);
    tcase_add_test(tc, inline_cmds);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, byte_by_byte_and_space_api);
    tcase_add_test(tc, encode_roundtrip);
    tcase_add_test(tc, writer);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
