/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the RESP request parser. Properties:
 *  - no crash, no read past the input, whatever the bytes and the split;
 *  - every command parsed, re-serialised as a multibulk request, parses
 *    back to the same argv (decode . encode round trip);
 *  - feeding the input whole or in two pieces gives the same commands.
 * The first input byte chooses the split point and the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/buf.h"
#include "resp/parser.h"

static void check_roundtrip(const rc_resp_cmd *cmd) {
    rc_buf enc = RC_BUF_INIT;
    rc_resp_encode_argv(&enc, cmd->argc, (const char *const *)cmd->argv, cmd->argvlen);
    rc_resp_parser *q = rc_resp_parser_new(NULL);
    if (!q) abort();
    if (rc_resp_parser_feed(q, enc.p, enc.len) != RC_RESP_NEED_MORE) abort();
    rc_resp_cmd back;
    if (rc_resp_parser_next(q, &back) != RC_RESP_CMD) abort();
    if (back.argc != cmd->argc) abort();
    for (size_t i = 0; i < back.argc; i++)
        if (back.argvlen[i] != cmd->argvlen[i] || memcmp(back.argv[i], cmd->argv[i], back.argvlen[i]))
            abort();
    if (rc_resp_parser_next(q, &back) != RC_RESP_NEED_MORE) abort();
    rc_resp_parser_free(q);
    rc_buf_free(&enc);
}

/* Parse data in two pieces; fingerprint every command into out. */
static int run(const uint8_t *data, size_t size, size_t cut, const rc_resp_limits *lim, rc_buf *out) {
    rc_resp_parser *p = rc_resp_parser_new(lim);
    if (!p) abort();
    int rc = RC_RESP_NEED_MORE;
    size_t at[2][2] = {{0, cut}, {cut, size - cut}};
    for (int k = 0; k < 2 && rc != RC_RESP_ERROR; k++) {
        rc = rc_resp_parser_feed(p, data + at[k][0], at[k][1]);
        rc_resp_cmd cmd;
        while (rc != RC_RESP_ERROR && (rc = rc_resp_parser_next(p, &cmd)) == RC_RESP_CMD) {
            check_roundtrip(&cmd);
            rc_resp_encode_argv(out, cmd.argc, (const char *const *)cmd.argv, cmd.argvlen);
        }
    }
    if (rc == RC_RESP_ERROR) rc_buf_puts(out, rc_resp_parser_error(p));
    rc_resp_parser_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    data++;
    size--;
    rc_resp_limits lim;
    if (ctl & 0x80) rc_resp_limits_unauth(&lim);
    else rc_resp_limits_default(&lim);
    lim.max_inline = 1024; /* small, so the fuzzer reaches the line limits */
    lim.max_buffer = 1u << 20;
    size_t cut = size ? (size_t)(ctl & 0x7f) * size / 127 : 0;
    if (cut > size) cut = size;
    rc_buf a = RC_BUF_INIT, b = RC_BUF_INIT;
    int ra = run(data, size, 0, &lim, &a);
    int rb = run(data, size, cut, &lim, &b);
    /* The split must not change the outcome. The one exception is the line
     * limit, which is checked on buffered bytes and so may fire earlier. */
    if (ra == rb && (a.len != b.len || (a.len && memcmp(a.p, b.p, a.len)))) {
        if (!strstr(a.p ? a.p : "", "too big") && !strstr(b.p ? b.p : "", "too big") &&
            !strstr(a.p ? a.p : "", "query buffer") && !strstr(b.p ? b.p : "", "query buffer"))
            abort();
    }
    rc_buf_free(&a);
    rc_buf_free(&b);
    return 0;
}
