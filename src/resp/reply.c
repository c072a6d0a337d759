/* SPDX-License-Identifier: Apache-2.0 */
/* RESP2/RESP3 reply encoding (see reply.h). Pure: buffer in, bytes out. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resp/reply.h"

static void hdr(rc_resp_w *w, char t, int64_t n) {
    rc_buf_reserve(w->b, 24);
    rc_buf_putc(w->b, t);
    rc_buf_put_i64(w->b, n);
    rc_buf_append(w->b, "\r\n", 2);
}

void rc_resp_w_simple(rc_resp_w *w, const char *s) {
    rc_buf_putc(w->b, '+');
    rc_buf_puts(w->b, s);
    rc_buf_append(w->b, "\r\n", 2);
}

void rc_resp_w_ok(rc_resp_w *w) { rc_buf_append(w->b, "+OK\r\n", 5); }

void rc_resp_w_error(rc_resp_w *w, const char *msg) {
    size_t at = w->b->len;
    rc_buf_putc(w->b, '-');
    rc_buf_puts(w->b, msg);
    for (size_t i = at; i < w->b->len; i++)
        if (w->b->p[i] == '\r' || w->b->p[i] == '\n') w->b->p[i] = ' ';
    rc_buf_append(w->b, "\r\n", 2);
}

void rc_resp_w_errorf(rc_resp_w *w, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rc_resp_w_error(w, msg);
}

void rc_resp_w_status(rc_resp_w *w, int code, const rc_err *err) {
    const char *msg = (err && err->code == code && err->msg[0]) ? err->msg : rc_strerror(code);
    rc_resp_w_errorf(w, "%s %s", rc_status_resp(code), msg);
}

void rc_resp_w_int(rc_resp_w *w, int64_t v) { hdr(w, ':', v); }

void rc_resp_w_bulk(rc_resp_w *w, const void *p, size_t n) {
    rc_buf_reserve(w->b, n + 32);
    hdr(w, '$', (int64_t)n);
    rc_buf_append(w->b, p, n);
    rc_buf_append(w->b, "\r\n", 2);
}

void rc_resp_w_bulkstr(rc_resp_w *w, const char *s) { rc_resp_w_bulk(w, s, strlen(s)); }

void rc_resp_w_bulk_i64(rc_resp_w *w, int64_t v) {
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    rc_resp_w_bulk(w, t, (size_t)n);
}

void rc_resp_w_null(rc_resp_w *w) {
    if (w->proto >= 3) rc_buf_append(w->b, "_\r\n", 3);
    else rc_buf_append(w->b, "$-1\r\n", 5);
}

void rc_resp_w_null_array(rc_resp_w *w) {
    if (w->proto >= 3) rc_buf_append(w->b, "_\r\n", 3);
    else rc_buf_append(w->b, "*-1\r\n", 5);
}

void rc_resp_w_array(rc_resp_w *w, size_t n) { hdr(w, '*', (int64_t)n); }
void rc_resp_w_map(rc_resp_w *w, size_t pairs) {
    if (w->proto >= 3) hdr(w, '%', (int64_t)pairs);
    else hdr(w, '*', (int64_t)pairs * 2);
}
void rc_resp_w_set(rc_resp_w *w, size_t n) { hdr(w, w->proto >= 3 ? '~' : '*', (int64_t)n); }
void rc_resp_w_push(rc_resp_w *w, size_t n) { hdr(w, w->proto >= 3 ? '>' : '*', (int64_t)n); }

void rc_resp_w_double(rc_resp_w *w, double d) {
    char t[64];
    if (isinf(d)) snprintf(t, sizeof t, "%s", d > 0 ? "inf" : "-inf");
    else if (isnan(d)) snprintf(t, sizeof t, "nan");
    else snprintf(t, sizeof t, "%.17g", d);
    if (w->proto >= 3) {
        rc_buf_putc(w->b, ',');
        rc_buf_puts(w->b, t);
        rc_buf_append(w->b, "\r\n", 2);
    } else {
        rc_resp_w_bulkstr(w, t);
    }
}

void rc_resp_w_bool(rc_resp_w *w, int v) {
    if (w->proto >= 3) rc_buf_append(w->b, v ? "#t\r\n" : "#f\r\n", 4);
    else rc_resp_w_int(w, v ? 1 : 0);
}

void rc_resp_w_verbatim(rc_resp_w *w, const char *p, size_t n) {
    if (w->proto < 3) {
        rc_resp_w_bulk(w, p, n);
        return;
    }
    hdr(w, '=', (int64_t)n + 4);
    rc_buf_append(w->b, "txt:", 4);
    rc_buf_append(w->b, p, n);
    rc_buf_append(w->b, "\r\n", 2);
}

size_t rc_resp_fmt_ld(char *out, size_t outlen, long double v) {
    int n = snprintf(out, outlen, "%.17Lf", v);
    if (n < 0 || (size_t)n >= outlen) return 0;
    if (strchr(out, '.')) { /* drop trailing zeros and a bare point */
        while (n > 0 && out[n - 1] == '0') n--;
        if (n > 0 && out[n - 1] == '.') n--;
        out[n] = '\0';
    }
    if (strcmp(out, "-0") == 0) {
        strcpy(out, "0");
        n = 1;
    }
    return (size_t)n;
}
