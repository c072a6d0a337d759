/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the binary-mode header decoder of the HTTP door. Input: header
 * lines "name: value\n" up to an empty line, then the body. Properties:
 * the decoder never crashes or reads past its input, returns an event or
 * an error (never both), a decoded event validates, and encoding it back
 * to headers and decoding again gives the same attributes and data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

#define MAXH 64

static size_t split(const uint8_t *d, size_t n, rc_http_header *h, size_t *nh, size_t *body) {
    size_t i = 0;
    *nh = 0;
    while (i < n && *nh < MAXH) {
        const uint8_t *nl = memchr(d + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - d) : n;
        if (end == i) { /* empty line: the body follows */
            i++;
            break;
        }
        const uint8_t *colon = memchr(d + i, ':', end - i);
        if (colon) {
            size_t c = (size_t)(colon - d), v = c + 1;
            while (v < end && d[v] == ' ') v++;
            h[*nh] = (rc_http_header){(const char *)d + i, c - i, (const char *)d + v, end - v};
            (*nh)++;
        }
        i = nl ? end + 1 : n;
    }
    *body = i;
    return *nh;
}

static void same(const char *a, const char *b) {
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rc_http_header h[MAXH];
    size_t nh, body;
    split(data, size, h, &nh, &body);
    rc_event *ev = (rc_event *)(uintptr_t)1;
    rc_err err;
    int rc = rc__http_binary_decode(h, nh, data + body, size - body, &ev, &err);
    if (rc != RC_OK) {
        if (ev != NULL || !err.msg[0]) abort();
        return 0;
    }
    if (!ev || rc_event_validate(ev, &err) != RC_OK) abort();
    /* Round trip through the encoder used by GET /events/{seq}. */
    rc_http_res res;
    rc__http_res_init(&res);
    rc__http_binary_encode(ev, &res);
    rc_http_header h2[MAXH + 16];
    size_t n2 = 0;
    for (size_t off = 0; off < res.headers.len && n2 < MAXH + 16;) {
        const char *name = res.headers.p + off, *val = name + strlen(name) + 1;
        h2[n2++] = (rc_http_header){name, strlen(name), val, strlen(val)};
        off = (size_t)(val + strlen(val) + 1 - res.headers.p);
    }
    rc_event *back = NULL;
    if (rc__http_binary_decode(h2, n2, res.body.p, res.body.len, &back, &err) != RC_OK) abort();
    same(ev->id, back->id);
    same(ev->source, back->source);
    same(ev->type, back->type);
    same(ev->subject, back->subject);
    if (ev->data_len != back->data_len || (ev->data_len && memcmp(ev->data, back->data, ev->data_len)))
        abort();
    rc_event_free(back);
    rc__http_res_free(&res);
    rc_event_free(ev);
    return 0;
}
