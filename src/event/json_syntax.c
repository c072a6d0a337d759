/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict RFC 8259 syntax check, the first pass of the JSON decoder.
 *
 * The decoder (json_decode.c) reads the bytes straight after this pass and
 * trusts their shape, so this is the one place that judges syntax. Being
 * strict matters: lenient parsers accept leading zeros, control bytes as
 * whitespace and inside strings, or cut strings at an escaped NUL (\u0000)
 * without saying so. Errors get a byte offset and a reason.
 *
 * Iterative (an explicit stack of container kinds), so hostile nesting costs
 * no C stack; every byte is looked at once; never reads past len.
 */
#include <stdio.h>
#include <string.h>

#include "event/event_internal.h"
#include "redcar/status.h"

typedef struct {
    const unsigned char *p;
    size_t n, i;
    rc_err *err;
} scan;

static int fail(scan *s, const char *why) {
    return rc_err_set(s->err, RC_INVALID, "invalid JSON at byte %zu: %s", s->i, why);
}

static void skip_ws(scan *s) {
    while (s->i < s->n) {
        unsigned char c = s->p[s->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        s->i++;
    }
}

static int hex4(scan *s, size_t at, unsigned *out) {
    if (at + 4 > s->n) return 0;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        unsigned char c = s->p[at + k];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

/* One UTF-8 sequence starting at s->i (first byte >= 0x80). */
static int utf8_seq(scan *s) {
    const unsigned char *q = s->p + s->i;
    size_t left = s->n - s->i, k;
    unsigned c = q[0], lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 1;
    else if (c == 0xE0) { k = 2; lo = 0xA0; }
    else if (c == 0xED) { k = 2; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) k = 2;
    else if (c == 0xF0) { k = 3; lo = 0x90; }
    else if (c == 0xF4) { k = 3; hi = 0x8F; }
    else if (c >= 0xF1 && c <= 0xF3) k = 3;
    else return fail(s, "invalid UTF-8");
    if (left <= k || q[1] < lo || q[1] > hi) return fail(s, "invalid UTF-8");
    for (size_t j = 2; j <= k; j++)
        if ((q[j] & 0xC0) != 0x80) return fail(s, "invalid UTF-8");
    s->i += k + 1;
    return RC_OK;
}

/* Bytes a string may hold as they are: printable ASCII but '"' and '\\'.
 * The loop over them is the hot path of the whole decoder. */
static const unsigned char plain[256] = {
    [0x20] = 1, [0x21] = 1, [0x23] = 1, [0x24] = 1, [0x25] = 1, [0x26] = 1, [0x27] = 1, [0x28] = 1,
    [0x29] = 1, [0x2A] = 1, [0x2B] = 1, [0x2C] = 1, [0x2D] = 1, [0x2E] = 1, [0x2F] = 1, [0x30] = 1,
    [0x31] = 1, [0x32] = 1, [0x33] = 1, [0x34] = 1, [0x35] = 1, [0x36] = 1, [0x37] = 1, [0x38] = 1,
    [0x39] = 1, [0x3A] = 1, [0x3B] = 1, [0x3C] = 1, [0x3D] = 1, [0x3E] = 1, [0x3F] = 1, [0x40] = 1,
    [0x41] = 1, [0x42] = 1, [0x43] = 1, [0x44] = 1, [0x45] = 1, [0x46] = 1, [0x47] = 1, [0x48] = 1,
    [0x49] = 1, [0x4A] = 1, [0x4B] = 1, [0x4C] = 1, [0x4D] = 1, [0x4E] = 1, [0x4F] = 1, [0x50] = 1,
    [0x51] = 1, [0x52] = 1, [0x53] = 1, [0x54] = 1, [0x55] = 1, [0x56] = 1, [0x57] = 1, [0x58] = 1,
    [0x59] = 1, [0x5A] = 1, [0x5B] = 1, [0x5D] = 1, [0x5E] = 1, [0x5F] = 1, [0x60] = 1, [0x61] = 1,
    [0x62] = 1, [0x63] = 1, [0x64] = 1, [0x65] = 1, [0x66] = 1, [0x67] = 1, [0x68] = 1, [0x69] = 1,
    [0x6A] = 1, [0x6B] = 1, [0x6C] = 1, [0x6D] = 1, [0x6E] = 1, [0x6F] = 1, [0x70] = 1, [0x71] = 1,
    [0x72] = 1, [0x73] = 1, [0x74] = 1, [0x75] = 1, [0x76] = 1, [0x77] = 1, [0x78] = 1, [0x79] = 1,
    [0x7A] = 1, [0x7B] = 1, [0x7C] = 1, [0x7D] = 1, [0x7E] = 1, [0x7F] = 1,
};

/* A string; s->i is at the opening quote. */
static int string(scan *s) {
    s->i++;
    for (;;) {
        while (s->i < s->n && plain[s->p[s->i]]) s->i++;
        if (s->i >= s->n) return fail(s, "unterminated string");
        unsigned char c = s->p[s->i];
        if (c == '"') {
            s->i++;
            return RC_OK;
        }
        if (c < 0x20) return fail(s, "control character in string");
        if (c >= 0x80) {
            if (utf8_seq(s)) return RC_INVALID;
            continue;
        }
        if (c != '\\') {
            s->i++;
            continue;
        }
        if (s->i + 1 >= s->n) return fail(s, "unterminated string");
        c = s->p[s->i + 1];
        if (c != 'u') {
            if (!c || !strchr("\"\\/bfnrt", c)) return fail(s, "invalid escape");
            s->i += 2;
            continue;
        }
        unsigned u, v;
        if (!hex4(s, s->i + 2, &u)) return fail(s, "invalid \\u escape");
        if (u == 0) return fail(s, "\\u0000 is not supported");
        if (u >= 0xDC00 && u <= 0xDFFF) return fail(s, "unpaired surrogate");
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (s->i + 7 >= s->n || s->p[s->i + 6] != '\\' || s->p[s->i + 7] != 'u' ||
                !hex4(s, s->i + 8, &v) || v < 0xDC00 || v > 0xDFFF)
                return fail(s, "unpaired surrogate");
            s->i += 6;
        }
        s->i += 6;
    }
}

static int number(scan *s) {
    size_t start = s->i;
    const unsigned char *p = s->p;
#define DIGIT_AT(k) ((k) < s->n && p[k] >= '0' && p[k] <= '9')
    if (s->i < s->n && p[s->i] == '-') s->i++;
    if (!DIGIT_AT(s->i)) return fail(s, "invalid number");
    if (p[s->i] == '0') s->i++;
    else
        while (DIGIT_AT(s->i)) s->i++;
    if (s->i < s->n && p[s->i] == '.') {
        s->i++;
        if (!DIGIT_AT(s->i)) return fail(s, "invalid number");
        while (DIGIT_AT(s->i)) s->i++;
    }
    if (s->i < s->n && (p[s->i] == 'e' || p[s->i] == 'E')) {
        s->i++;
        if (s->i < s->n && (p[s->i] == '+' || p[s->i] == '-')) s->i++;
        if (!DIGIT_AT(s->i)) return fail(s, "invalid number");
        while (DIGIT_AT(s->i)) s->i++;
    }
#undef DIGIT_AT
    if (s->i - start > RC_JSON_MAX_NUMBER) {
        s->i = start;
        return fail(s, "number too long");
    }
    return RC_OK;
}

static int literal(scan *s, const char *word) {
    size_t k = strlen(word);
    if (s->n - s->i < k || memcmp(s->p + s->i, word, k)) return fail(s, "invalid literal");
    s->i += k;
    return RC_OK;
}

int rc__json_syntax(const void *buf, size_t len, rc_err *err) {
    scan s = {buf, len, 0, err};
    /* One bit per open container: 1 = object, 0 = array. */
    unsigned char stack[(RC_JSON_MAX_DEPTH + 7) / 8];
    size_t depth = 0;

    skip_ws(&s);
    if (s.i >= s.n) return fail(&s, "empty input");
value:
    skip_ws(&s);
    if (s.i >= s.n) return fail(&s, "unexpected end of input");
    switch (s.p[s.i]) {
    case '{':
    case '[': {
        int obj = s.p[s.i] == '{';
        if (depth >= RC_JSON_MAX_DEPTH) return fail(&s, "nesting too deep");
        if (obj) stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
        else stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
        depth++;
        s.i++;
        skip_ws(&s);
        if (s.i < s.n && s.p[s.i] == (obj ? '}' : ']')) {
            s.i++;
            depth--;
            goto after;
        }
        if (obj) goto key;
        goto value;
    }
    case '"':
        if (string(&s)) return RC_INVALID;
        break;
    case 't':
        if (literal(&s, "true")) return RC_INVALID;
        break;
    case 'f':
        if (literal(&s, "false")) return RC_INVALID;
        break;
    case 'n':
        if (literal(&s, "null")) return RC_INVALID;
        break;
    default:
        if (s.p[s.i] != '-' && (s.p[s.i] < '0' || s.p[s.i] > '9')) return fail(&s, "unexpected character");
        if (number(&s)) return RC_INVALID;
    }
after:
    skip_ws(&s);
    if (depth == 0) {
        if (s.i != s.n) return fail(&s, "unexpected data after the value");
        return RC_OK;
    }
    if (s.i >= s.n) return fail(&s, "unexpected end of input");
    {
        int obj = (stack[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
        unsigned char c = s.p[s.i];
        if (c == ',') {
            s.i++;
            skip_ws(&s);
            if (obj) goto key;
            goto value;
        }
        if (c == (obj ? '}' : ']')) {
            s.i++;
            depth--;
            goto after;
        }
        return fail(&s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
key:
    if (s.i >= s.n || s.p[s.i] != '"') return fail(&s, "expected a member name");
    if (string(&s)) return RC_INVALID;
    skip_ws(&s);
    if (s.i >= s.n || s.p[s.i] != ':') return fail(&s, "expected ':'");
    s.i++;
    goto value;
}
