/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The slow log over HTTP. GET /slowlog[?count=N] answers
 *   {"slower_than_us":N,"max_len":N,"len":N,"entries":[{"id","time",
 *    "ts_us","duration_us","door","args":[...],"addr","name"}...]}
 * newest first (all entries unless count is given); DELETE /slowlog
 * empties it (204). RESP arguments may be any bytes: those that are not
 * UTF-8 are shown with \xNN escapes, as redis-cli shows them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/h_slowlog.h"
#include "redcar/slowlog.h"

static void put_str(rc_buf *b, const char *s, size_t n) {
    if (rc_valid_utf8(s, n)) {
        rc__http_json_str(b, s, n);
        return;
    }
    rc_buf t = RC_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) rc_buf_printf(&t, "\\x%02x", c);
        else rc_buf_putc(&t, (char)c);
    }
    rc__http_json_str(b, t.p ? t.p : "", t.len);
    rc_buf_free(&t);
}

void rc__h_slowlog_get(const rc_http_req *req, rc_http_res *res) {
    rc_slowlog *sl = rc_slowlog_process();
    size_t want = SIZE_MAX;
    const char *cs = rc__http_req_query(req, "count");
    if (cs) {
        uint64_t v;
        if (rc__http_parse_u64(cs, &v) != RC_OK) {
            rc__http_res_problem(res, RC_INVALID, "count: expected a non-negative integer");
            return;
        }
        want = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
    }
    int64_t slower = req->env->cfg ? rc_config_int(req->env->cfg, "slowlog-log-slower-than") : -1;
    int64_t maxlen = req->env->cfg ? rc_config_int(req->env->cfg, "slowlog-max-len") : 0;
    rc_slowlog_entry *e;
    size_t n = rc_slowlog_get(sl, want, &e);
    rc_buf b = RC_BUF_INIT;
    rc_buf_printf(&b, "{\"slower_than_us\":%" PRId64 ",\"max_len\":%" PRId64 ",\"len\":%zu,\"entries\":[",
                  slower, maxlen, rc_slowlog_len(sl));
    for (size_t i = 0; i < n; i++) {
        time_t secs = (time_t)(e[i].ts_us / 1000000);
        struct tm tm;
        char ts[40];
        gmtime_r(&secs, &tm);
        size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + k, sizeof ts - k, ".%06dZ", (int)(e[i].ts_us % 1000000));
        rc_buf_printf(&b, "%s{\"id\":%" PRIu64 ",\"time\":\"%s\",\"ts_us\":%" PRId64
                          ",\"duration_us\":%" PRId64 ",\"door\":\"%s\",\"args\":[",
                      i ? "," : "", e[i].id, ts, e[i].ts_us, e[i].duration_us,
                      rc_slowlog_door_name(e[i].door));
        for (size_t a = 0; a < e[i].argc; a++) {
            if (a) rc_buf_putc(&b, ',');
            put_str(&b, e[i].argv[a], e[i].argvlen[a]);
        }
        rc_buf_puts(&b, "],\"addr\":");
        put_str(&b, e[i].addr, strlen(e[i].addr));
        rc_buf_puts(&b, ",\"name\":");
        put_str(&b, e[i].name, strlen(e[i].name));
        rc_buf_putc(&b, '}');
    }
    rc_buf_puts(&b, "]}");
    rc_slowlog_entries_free(e, n);
    rc__http_res_send(res, 200, "application/json", b.p, b.len);
    rc_buf_free(&b);
}

void rc__h_slowlog_reset(const rc_http_req *req, rc_http_res *res) {
    (void)req;
    rc_slowlog_reset(rc_slowlog_process());
    rc__http_res_send(res, 204, NULL, "", 0);
}
