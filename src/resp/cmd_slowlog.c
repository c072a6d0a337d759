/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SLOWLOG GET [count] | LEN | RESET | HELP, in Redis's reply shape: each
 * entry is [id, unix time (s), duration (µs), [args...], "ip:port", name].
 * The log is the process's (redcar/slowlog.h), so it shows slow HTTP
 * requests too: their arguments are the method and the path.
 */
#include <stdlib.h>

#include "redcar/slowlog.h"
#include "resp/door.h"

static const char *const help[] = {
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "    Redcar: HTTP requests are logged too, with arguments [METHOD, path].",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Print this help.",
};

static void get(rc__call *c, rc_slowlog *sl) {
    int64_t count = 10;
    if (c->argc == 3) {
        if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &count) || count < -1) {
            rc_resp_w_error(&c->w, "ERR count should be greater than or equal to -1");
            return;
        }
    }
    rc_slowlog_entry *e;
    size_t n = rc_slowlog_get(sl, count < 0 ? SIZE_MAX : (size_t)count, &e);
    rc_resp_w_array(&c->w, n);
    for (size_t i = 0; i < n; i++) {
        rc_resp_w_array(&c->w, 6);
        rc_resp_w_int(&c->w, (int64_t)e[i].id);
        rc_resp_w_int(&c->w, e[i].ts_us / 1000000);
        rc_resp_w_int(&c->w, e[i].duration_us);
        rc_resp_w_array(&c->w, e[i].argc);
        for (size_t k = 0; k < e[i].argc; k++) rc_resp_w_bulk(&c->w, e[i].argv[k], e[i].argvlen[k]);
        rc_resp_w_bulkstr(&c->w, e[i].addr);
        rc_resp_w_bulkstr(&c->w, e[i].name);
    }
    rc_slowlog_entries_free(e, n);
}

void rc__r_cmd_slowlog(rc__call *c) {
    rc_slowlog *sl = rc_slowlog_process();
    if (c->door->cfg) rc_slowlog_sync(sl, c->door->cfg);
    const char *sub = c->argv[1];
    if (rc__r_streq(sub, "GET") && c->argc <= 3) {
        get(c, sl);
    } else if (rc__r_streq(sub, "LEN") && c->argc == 2) {
        rc_resp_w_int(&c->w, (int64_t)rc_slowlog_len(sl));
    } else if (rc__r_streq(sub, "RESET") && c->argc == 2) {
        rc_slowlog_reset(sl);
        rc_resp_w_ok(&c->w);
    } else if (rc__r_streq(sub, "HELP") && c->argc == 2) {
        rc_resp_w_array(&c->w, sizeof help / sizeof help[0]);
        for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) rc_resp_w_simple(&c->w, help[i]);
    } else {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand or wrong number of arguments for '%.64s'. "
                                "Try SLOWLOG HELP.", sub);
    }
}
