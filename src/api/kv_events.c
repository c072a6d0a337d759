/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builders for the reserved io.redcar.kv.* events (see store.h for their
 * shape), shared by both doors so that a Redis HSET and an HTTP request
 * produce the same event. Hash and list payloads are JSON documents of
 * strings; bytes that are not UTF-8 travel as {"base64":"..."}.
 */
#include <stdio.h>
#include <string.h>

#include "redcar/api.h"

void rc_api_json_value(rc_buf *out, const void *p, size_t n) {
    if (!rc_valid_utf8(p, n)) {
        rc_buf_puts(out, "{\"base64\":\"");
        rc_base64_encode(p, n, out);
        rc_buf_puts(out, "\"}");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = p;
    rc_buf_reserve(out, n + 2);
    rc_buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        switch (c) {
        case '"': rc_buf_append(out, "\\\"", 2); break;
        case '\\': rc_buf_append(out, "\\\\", 2); break;
        case '\n': rc_buf_append(out, "\\n", 2); break;
        case '\r': rc_buf_append(out, "\\r", 2); break;
        case '\t': rc_buf_append(out, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                rc_buf_append(out, u, 6);
            } else {
                rc_buf_putc(out, (char)c);
            }
        }
    }
    rc_buf_putc(out, '"');
}

/* Data for a value from a client that gives no content type (Redis). The
 * bytes must come back exactly: JSON is kept only when the JSON form holds
 * the very same bytes (the JSON form normalises, e.g. "1.0" -> "1"); other
 * UTF-8 without NUL becomes text/plain (a string in the JSON event format);
 * anything else application/octet-stream (data_base64). */
static int set_value(rc_event *ev, const void *val, size_t len) {
    int rc = rc_event_set_data(ev, NULL, val, len, RC_DATA_NONE);
    if (rc) return rc;
    if (ev->data_form == RC_DATA_JSON && ev->data_len == len && memcmp(ev->data, val, len) == 0)
        return RC_OK;
    if (rc_valid_utf8(val, len) && !memchr(val, 0, len))
        return rc_event_set_data(ev, "text/plain; charset=utf-8", val, len, RC_DATA_TEXT);
    return rc_event_set_data(ev, "application/octet-stream", val, len, RC_DATA_BINARY);
}

static int set_expires(rc_event *ev, int64_t expire_ms) {
    char t[40];
    rc_time_format(expire_ms, t, sizeof t);
    return rc_event_set_ext_string(ev, "expires", RC_EXT_TIME, t);
}

rc_event *rc_api_kv_put_event(const char *source, const char *key, const void *val, size_t len,
                              int64_t expire_ms, int keepttl) {
    rc_event *ev = rc_api_kv_event(source, "put", key, NULL, 0, NULL);
    if (!ev) return NULL;
    if (set_value(ev, val ? val : "", len) || (expire_ms > 0 && set_expires(ev, expire_ms)) ||
        (keepttl && rc_event_set_ext_bool(ev, "keepttl", 1))) {
        rc_event_free(ev);
        return NULL;
    }
    return ev;
}

rc_event *rc_api_kv_expire_event(const char *source, const char *key, int64_t expire_ms) {
    rc_event *ev = rc_api_kv_event(source, "expire", key, NULL, 0, NULL);
    if (ev && expire_ms > 0 && set_expires(ev, expire_ms)) {
        rc_event_free(ev);
        return NULL;
    }
    return ev;
}

rc_event *rc_api_kv_rename_event(const char *source, const char *key, const char *newkey) {
    rc_event *ev = rc_api_kv_event(source, "rename", key, NULL, 0, NULL);
    if (ev && rc_event_set_ext_string(ev, "newkey", RC_EXT_STRING, newkey)) {
        rc_event_free(ev);
        return NULL;
    }
    return ev;
}

static rc_event *json_event(const char *source, const char *op, const char *key, rc_buf *doc) {
    rc_event *ev = rc_api_kv_event(source, op, key, doc->p, doc->len, "application/json");
    rc_buf_free(doc);
    return ev;
}

rc_event *rc_api_kv_hset_event(const char *source, const char *key, size_t n,
                               const char *const *fields, const size_t *flens,
                               const char *const *vals, const size_t *vlens) {
    rc_buf doc = RC_BUF_INIT;
    rc_buf_putc(&doc, '{');
    for (size_t i = 0; i < n; i++) {
        if (!rc_valid_utf8(fields[i], flens[i])) {
            rc_buf_free(&doc);
            return NULL;
        }
        if (i) rc_buf_putc(&doc, ',');
        rc_api_json_value(&doc, fields[i], flens[i]);
        rc_buf_putc(&doc, ':');
        rc_api_json_value(&doc, vals[i], vlens[i]);
    }
    rc_buf_putc(&doc, '}');
    return json_event(source, "hset", key, &doc);
}

static rc_event *array_event(const char *source, const char *op, const char *key, size_t n,
                             const char *const *vals, const size_t *vlens) {
    rc_buf doc = RC_BUF_INIT;
    rc_buf_putc(&doc, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) rc_buf_putc(&doc, ',');
        rc_api_json_value(&doc, vals[i], vlens[i]);
    }
    rc_buf_putc(&doc, ']');
    return json_event(source, op, key, &doc);
}

rc_event *rc_api_kv_hdel_event(const char *source, const char *key, size_t n,
                               const char *const *fields, const size_t *flens) {
    for (size_t i = 0; i < n; i++)
        if (!rc_valid_utf8(fields[i], flens[i])) return NULL;
    return array_event(source, "hdel", key, n, fields, flens);
}

rc_event *rc_api_kv_push_event(const char *source, const char *key, int left, size_t n,
                               const char *const *vals, const size_t *vlens) {
    return array_event(source, left ? "lpush" : "rpush", key, n, vals, vlens);
}

rc_event *rc_api_kv_pop_event(const char *source, const char *key, int left, int64_t count) {
    rc_event *ev = rc_api_kv_event(source, left ? "lpop" : "rpop", key, NULL, 0, NULL);
    if (ev && count != 1 && rc_event_set_ext_int(ev, "count", count)) {
        rc_event_free(ev);
        return NULL;
    }
    return ev;
}

rc_event *rc_api_message_event(const char *source, const char *channel, const void *data,
                               size_t len) {
    rc_event *ev = rc_api_event_new(source, RC_MESSAGE_TYPE);
    if (!ev) return NULL;
    if (rc_event_set(ev, "subject", channel) || set_value(ev, data ? data : "", len)) {
        rc_event_free(ev);
        return NULL;
    }
    return ev;
}
