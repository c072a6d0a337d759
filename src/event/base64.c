/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 (RFC 4648 section 4, standard alphabet, with padding), used for
 * data_base64 and Binary extensions. The decoder is strict: no whitespace,
 * no missing padding, and the unused bits before the padding must be zero,
 * so that every byte string has exactly one accepted encoding.
 */
#include <stdlib.h>

#include "event/event_internal.h"
#include "redcar/event.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void rc_base64_encode(const void *p, size_t n, rc_buf *out) {
    const unsigned char *s = p;
    rc_buf_reserve(out, (n + 2) / 3 * 4);
    char *o = out->p + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    out->len = (size_t)(o - out->p);
    out->p[out->len] = '\0';
}

static int val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int rc_base64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen) {
    if (!s || !out || !rc__valid_base64(s, n)) return RC_INVALID;
    size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
    size_t len = n / 4 * 3 - pad;
    unsigned char *d = malloc(len + 1);
    if (!d) return RC_NOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        for (size_t k = 0; k < 4; k++) {
            int x = s[i + k] == '=' ? 0 : val((unsigned char)s[i + k]);
            v = v << 6 | (unsigned)x;
        }
        if (j < len) d[j++] = (unsigned char)(v >> 16);
        if (j < len) d[j++] = (unsigned char)(v >> 8);
        if (j < len) d[j++] = (unsigned char)v;
    }
    d[len] = '\0';
    *out = d;
    if (outlen) *outlen = len;
    return RC_OK;
}
