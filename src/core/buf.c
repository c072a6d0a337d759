/* SPDX-License-Identifier: Apache-2.0 */
/* rc_buf: growable byte buffer. Grows geometrically; aborts on OOM (see buf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/buf.h"

void rc_buf_init(rc_buf *b) { b->p = NULL; b->len = b->cap = 0; }

void rc_buf_free(rc_buf *b) {
    free(b->p);
    rc_buf_init(b);
}

void rc_buf_reset(rc_buf *b) {
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

void rc_buf_reserve(rc_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
    b->p[b->len] = '\0'; /* a fresh buffer is an empty string too */
}

void rc_buf_append(rc_buf *b, const void *p, size_t n) {
    rc_buf_reserve(b, n);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void rc_buf_puts(rc_buf *b, const char *s) { rc_buf_append(b, s, strlen(s)); }

void rc_buf_putc(rc_buf *b, char c) {
    rc_buf_reserve(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

void rc_buf_printf(rc_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        rc_buf_append(b, small, (size_t)n);
        return;
    }
    rc_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rc_buf_put_u64(rc_buf *b, uint64_t v) {
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rc_buf_append(b, tmp + i, sizeof tmp - i);
}

void rc_buf_put_i64(rc_buf *b, int64_t v) {
    if (v < 0) {
        rc_buf_putc(b, '-');
        rc_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        rc_buf_put_u64(b, (uint64_t)v);
    }
}

void rc_buf_consume(rc_buf *b, size_t n) {
    if (n >= b->len) {
        rc_buf_reset(b);
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

char *rc_buf_detach(rc_buf *b, size_t *len) {
    if (!b->p) rc_buf_reserve(b, 0);
    char *p = b->p;
    if (len) *len = b->len;
    rc_buf_init(b);
    return p;
}
