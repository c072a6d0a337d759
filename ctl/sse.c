/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text/event-stream parser (see sse.h). Follows the standard's processing
 * model: a field line "name: value" (one optional space after the colon),
 * a line without a colon is a field with an empty value, unknown fields and
 * comments are ignored, and a blank line dispatches when data was seen.
 */
#include "sse.h"

#include <string.h>

void ctl_sse_init(ctl_sse *p, size_t max_bytes, ctl_sse_cb cb, void *arg) {
    memset(p, 0, sizeof *p);
    rc_buf_init(&p->line);
    rc_buf_init(&p->data);
    rc_buf_init(&p->event);
    rc_buf_init(&p->last_id);
    p->max_bytes = max_bytes;
    p->cb = cb;
    p->arg = arg;
}

void ctl_sse_free(ctl_sse *p) {
    rc_buf_free(&p->line);
    rc_buf_free(&p->data);
    rc_buf_free(&p->event);
    rc_buf_free(&p->last_id);
}

const char *ctl_sse_last_id(const ctl_sse *p) { return p->last_id.p ? p->last_id.p : ""; }

static void set_buf(rc_buf *b, const char *v, size_t n) {
    rc_buf_reset(b);
    rc_buf_append(b, v, n);
}

/* One complete line (without terminator). */
static int process_line(ctl_sse *p) {
    const char *s = p->line.p ? p->line.p : "";
    size_t n = p->line.len;
    if (n == 0) {
        int rc = CTL_SSE_OK;
        if (p->has_data) {
            rc_buf_putc(&p->data, '\0'); /* make sure p is non-NULL */
            p->data.len--;
            if (p->cb(p->arg, ctl_sse_last_id(p), p->event.len ? p->event.p : "message",
                      p->data.p, p->data.len))
                rc = CTL_SSE_STOP;
        }
        rc_buf_reset(&p->data);
        rc_buf_reset(&p->event);
        p->has_data = 0;
        return rc;
    }
    if (s[0] == ':') return CTL_SSE_OK; /* comment, e.g. ": heartbeat" */
    const char *colon = memchr(s, ':', n);
    size_t nlen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen && v[0] == ' ') v++, vlen--;
    if (nlen == 4 && memcmp(s, "data", 4) == 0) {
        if (p->has_data) rc_buf_putc(&p->data, '\n');
        rc_buf_append(&p->data, v, vlen);
        p->has_data = 1;
    } else if (nlen == 5 && memcmp(s, "event", 5) == 0) {
        set_buf(&p->event, v, vlen);
    } else if (nlen == 2 && memcmp(s, "id", 2) == 0) {
        if (!memchr(v, '\0', vlen)) set_buf(&p->last_id, v, vlen);
    } /* "retry" and unknown fields: ignored */
    return CTL_SSE_OK;
}

int ctl_sse_feed(ctl_sse *p, const char *buf, size_t len) {
    if (p->failed) return CTL_SSE_ERROR;
    size_t i = 0;
    while (i < len) {
        char c = buf[i];
        if (p->after_cr) {
            p->after_cr = 0;
            if (c == '\n') { i++; continue; }
        }
        if (c == '\r' || c == '\n') {
            p->after_cr = (c == '\r');
            i++;
            int rc = process_line(p);
            rc_buf_reset(&p->line);
            if (rc != CTL_SSE_OK) return rc;
            continue;
        }
        /* Copy the run of ordinary bytes at once. */
        size_t j = i;
        while (j < len && buf[j] != '\r' && buf[j] != '\n') j++;
        if (p->line.len + (j - i) + p->data.len > p->max_bytes) {
            p->failed = 1;
            return CTL_SSE_ERROR;
        }
        rc_buf_append(&p->line, buf + i, j - i);
        i = j;
    }
    return CTL_SSE_OK;
}
