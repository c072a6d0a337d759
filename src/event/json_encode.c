/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CloudEvents JSON format, encoding side, written by hand into an rc_buf.
 *
 * The store encodes every event it appends, so this is on the hot path: no
 * cJSON tree, no allocation beyond the output buffer, runs of plain bytes
 * copied with one memcpy, JSON data spliced in as the stored text.
 *
 * The output is always valid JSON, even for an event that would not pass
 * rc_event_validate(): strings are escaped, invalid UTF-8 becomes U+FFFD.
 * For a valid event, rc_event_decode_json() of the output gives the event
 * back (see json_decode.c for how each data form travels).
 */
#include <string.h>

#include "event/event_internal.h"
#include "redcar/event.h"

/* 0: copy as is; 1: needs an escape or a UTF-8 check. */
static const unsigned char special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x5C '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80.. */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Length of the valid UTF-8 sequence at s (first byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, size_t left) {
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t k;
    if (c >= 0xC2 && c <= 0xDF) k = 1;
    else if (c == 0xE0) { k = 2; lo = 0xA0; }
    else if (c == 0xED) { k = 2; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) k = 2;
    else if (c == 0xF0) { k = 3; lo = 0x90; }
    else if (c == 0xF4) { k = 3; hi = 0x8F; }
    else if (c >= 0xF1 && c <= 0xF3) k = 3;
    else return 0;
    if (left <= k || s[1] < lo || s[1] > hi) return 0;
    for (size_t j = 2; j <= k; j++)
        if ((s[j] & 0xC0) != 0x80) return 0;
    return k + 1;
}

/* Escape n bytes straight into out's memory. The caller has reserved 6n:
 * the longest expansion is one byte to "\u00XX". Returns the new end. */
static char *escape_into(char *o, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    static const char short_esc[32] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    };
    const unsigned char *e = s + n;
    while (s < e) {
        const unsigned char *run = s;
        while (s < e && !special[*s]) s++;
        memcpy(o, run, (size_t)(s - run));
        o += s - run;
        if (s == e) break;
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            s++;
        } else if (c < 0x20) {
            *o++ = '\\';
            if (short_esc[c]) {
                *o++ = short_esc[c];
            } else {
                memcpy(o, "u00", 3);
                o[3] = hex[c >> 4];
                o[4] = hex[c & 15];
                o += 5;
            }
            s++;
        } else {
            size_t k = utf8_len(s, (size_t)(e - s));
            if (k) {
                memcpy(o, s, k);
                o += k;
                s += k;
            } else {
                memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD for an invalid byte */
                o += 3;
                s++;
            }
        }
    }
    return o;
}

/* Large strings go in chunks so that the 6x reservation stays small; a
 * chunk never ends inside a UTF-8 sequence. */
#define CHUNK 65536

void rc__json_escape(rc_buf *out, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    while (n) {
        size_t k = n;
        if (k > CHUNK) {
            k = CHUNK;
            for (int back = 0; back < 3 && (s[k] & 0xC0) == 0x80; back++) k--;
        }
        rc_buf_reserve(out, k * 6);
        char *o = escape_into(out->p + out->len, s, k);
        out->len = (size_t)(o - out->p);
        s += k;
        n -= k;
    }
    rc_buf_reserve(out, 0);
    out->p[out->len] = '\0';
}

/* "s" with its quotes. */
static void put_string_n(rc_buf *out, const char *s, size_t n) {
    if (n > CHUNK) {
        rc_buf_putc(out, '"');
        rc__json_escape(out, s, n);
        rc_buf_putc(out, '"');
        return;
    }
    rc_buf_reserve(out, n * 6 + 2);
    char *o = out->p + out->len;
    *o++ = '"';
    o = escape_into(o, (const unsigned char *)s, n);
    *o++ = '"';
    out->len = (size_t)(o - out->p);
    out->p[out->len] = '\0';
}

static void put_string(rc_buf *out, const char *s) { put_string_n(out, s, strlen(s)); }

/* `,"name":` — every member but the first starts with a comma. */
static void put_key(rc_buf *out, const char *name, int *first) {
    if (!*first) rc_buf_putc(out, ',');
    *first = 0;
    put_string(out, name);
    rc_buf_putc(out, ':');
}

/* The same for a fixed name: `,"name":` as a literal, comma included. */
static void put_lit_key(rc_buf *out, const char *lit, size_t n, int *first) {
    if (*first) {
        lit++;
        n--;
    }
    *first = 0;
    rc_buf_append(out, lit, n);
}
#define LIT_KEY(out, name, first) put_lit_key(out, ",\"" name "\":", sizeof(",\"" name "\":") - 1, first)

#define ATTR(name) {",\"" #name "\":", sizeof(",\"" #name "\":") - 1, offsetof(rc_event, name)}
static const struct {
    const char *key; /* `,"name":` */
    size_t keylen;
    size_t off;
} attrs[] = {
    ATTR(specversion), ATTR(id), ATTR(source), ATTR(type),
    ATTR(datacontenttype), ATTR(dataschema), ATTR(subject), ATTR(time),
};
#undef ATTR

void rc_event_encode_json(const rc_event *ev, unsigned flags, rc_buf *out) {
    int first = 1;
    rc_buf_putc(out, '{');
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const char *v = *(char *const *)((const char *)ev + attrs[i].off);
        if (!v) continue;
        put_lit_key(out, attrs[i].key, attrs[i].keylen, &first);
        put_string(out, v);
    }
    for (size_t i = 0; i < ev->n_ext; i++) {
        const rc_ext *x = &ev->ext[i];
        if (!x->name) continue;
        put_key(out, x->name, &first);
        switch (x->type) {
        case RC_EXT_BOOL:
            rc_buf_puts(out, x->b ? "true" : "false");
            break;
        case RC_EXT_INT:
            rc_buf_put_i64(out, x->i);
            break;
        default:
            if (x->s) put_string(out, x->s);
            else rc_buf_puts(out, "null");
        }
    }
    if ((flags & RC_ENC_SEQ) && ev->seq) {
        LIT_KEY(out, "seq", &first);
        rc_buf_put_u64(out, ev->seq);
    }
    switch (ev->data_form) {
    case RC_DATA_JSON:
        LIT_KEY(out, "data", &first);
        if (ev->data_len) rc_buf_append(out, ev->data, ev->data_len);
        else rc_buf_puts(out, "null");
        break;
    case RC_DATA_TEXT:
        LIT_KEY(out, "data", &first);
        put_string_n(out, (const char *)ev->data, ev->data_len);
        break;
    case RC_DATA_BINARY:
        LIT_KEY(out, "data_base64", &first);
        rc_buf_putc(out, '"');
        rc_base64_encode(ev->data, ev->data_len, out);
        rc_buf_putc(out, '"');
        break;
    default:
        break;
    }
    rc_buf_putc(out, '}');
}

void rc_event_encode_batch(rc_event *const *evs, size_t n, unsigned flags, rc_buf *out) {
    rc_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) rc_buf_putc(out, ',');
        rc_event_encode_json(evs[i], flags, out);
    }
    rc_buf_putc(out, ']');
}
