/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal reader for the data of io.redcar.kv.hset/hdel/lpush/rpush: a
 * JSON array of values or a JSON object of field -> value, where a value is
 * a JSON string or {"base64":"..."} (bytes that are not UTF-8). Nothing
 * else is accepted (numbers, nesting, ...): the doors produce these
 * documents, and anything else in a reserved KV event is a client error.
 *
 * src/event is the only module that includes cJSON.h; this grammar is small
 * enough that a dedicated reader is simpler than widening event.h.
 * Trust boundary: the bytes come from stored/appended events (untrusted);
 * the reader never reads past len and fails with RC_INVALID.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

typedef struct jr {
    const unsigned char *p, *end;
    rc_err *err;
} jr;

static void ws(jr *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int fail(jr *r, const char *what) {
    return rc_err_set(r->err, RC_INVALID, "KV data: %s", what);
}

static int hex4(jr *r, unsigned *out) {
    if (r->end - r->p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = r->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    r->p += 4;
    *out = v;
    return 0;
}

static void put_utf8(rc_buf *b, unsigned cp) {
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | cp >> 6); t[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | cp >> 12); t[1] = (char)(0x80 | (cp >> 6 & 63));
        t[2] = (char)(0x80 | (cp & 63)); n = 3;
    } else {
        t[0] = (char)(0xF0 | cp >> 18); t[1] = (char)(0x80 | (cp >> 12 & 63));
        t[2] = (char)(0x80 | (cp >> 6 & 63)); t[3] = (char)(0x80 | (cp & 63)); n = 4;
    }
    rc_buf_append(b, t, n);
}

/* A JSON string at r->p, decoded onto b. */
static int string(jr *r, rc_buf *b) {
    if (r->p >= r->end || *r->p != '"') return fail(r, "expected a string");
    r->p++;
    for (;;) {
        const unsigned char *s = r->p;
        while (r->p < r->end && *r->p != '"' && *r->p != '\\' && *r->p >= 0x20) r->p++;
        rc_buf_append(b, s, (size_t)(r->p - s));
        if (r->p >= r->end) return fail(r, "unterminated string");
        unsigned char c = *r->p++;
        if (c == '"') return RC_OK;
        if (c < 0x20) return fail(r, "control character in string");
        if (r->p >= r->end) return fail(r, "unterminated escape");
        c = *r->p++;
        switch (c) {
        case '"': case '\\': case '/': rc_buf_putc(b, (char)c); break;
        case 'b': rc_buf_putc(b, '\b'); break;
        case 'f': rc_buf_putc(b, '\f'); break;
        case 'n': rc_buf_putc(b, '\n'); break;
        case 'r': rc_buf_putc(b, '\r'); break;
        case 't': rc_buf_putc(b, '\t'); break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(r, &cp)) return fail(r, "bad \\u escape");
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(r, "lone surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
                    return fail(r, "lone surrogate");
                r->p += 2;
                if (hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF) return fail(r, "bad surrogate pair");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(b, cp);
            break;
        }
        default: return fail(r, "bad escape");
        }
    }
}

static int push(rc__kvitems *it, size_t off, size_t len) {
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 8;
        size_t *o = realloc(it->off, cap * sizeof *o);
        if (!o) return RC_NOMEM;
        it->off = o;
        size_t *l = realloc(it->len, cap * sizeof *l);
        if (!l) return RC_NOMEM;
        it->len = l;
        it->cap = cap;
    }
    it->off[it->n] = off;
    it->len[it->n] = len;
    it->n++;
    return RC_OK;
}

/* A value: a string or {"base64":"..."}; appended to the arena. */
static int value(jr *r, rc__kvitems *it, int allow_b64) {
    size_t off = it->arena.len;
    int rc;
    ws(r);
    if (r->p < r->end && *r->p == '{' && allow_b64) {
        rc_buf name = RC_BUF_INIT, text = RC_BUF_INIT;
        r->p++;
        ws(r);
        rc = string(r, &name);
        if (!rc && (name.len != 6 || memcmp(name.p, "base64", 6) != 0))
            rc = fail(r, "object values must be {\"base64\":\"...\"}");
        if (!rc) {
            ws(r);
            if (r->p >= r->end || *r->p != ':') rc = fail(r, "expected ':'");
            else r->p++;
        }
        if (!rc) {
            ws(r);
            rc = string(r, &text);
        }
        if (!rc) {
            ws(r);
            if (r->p >= r->end || *r->p != '}') rc = fail(r, "expected '}'");
            else r->p++;
        }
        if (!rc) {
            unsigned char *bytes = NULL;
            size_t n = 0;
            if (rc_base64_decode(text.p ? text.p : "", text.len, &bytes, &n) != RC_OK) {
                rc = fail(r, "invalid base64");
            } else {
                rc_buf_append(&it->arena, bytes, n);
                free(bytes);
            }
        }
        rc_buf_free(&name);
        rc_buf_free(&text);
        if (rc) return rc;
    } else {
        rc = string(r, &it->arena);
        if (rc) return rc;
    }
    size_t len = it->arena.len - off;
    rc_buf_putc(&it->arena, '\0');
    return push(it, off, len);
}

int rc__kvjson_parse(const void *buf, size_t len, int object, rc__kvitems *it, rc_err *err) {
    jr r = {(const unsigned char *)buf, (const unsigned char *)buf + len, err};
    int rc;
    memset(it, 0, sizeof *it);
    if (!buf) return fail(&r, object ? "expected a JSON object" : "expected a JSON array");
    ws(&r);
    if (r.p >= r.end || *r.p != (object ? '{' : '['))
        return fail(&r, object ? "expected a JSON object" : "expected a JSON array");
    r.p++;
    ws(&r);
    if (r.p < r.end && *r.p == (object ? '}' : ']')) {
        r.p++;
    } else {
        for (;;) {
            if (object) {
                ws(&r);
                size_t off = it->arena.len;
                if ((rc = string(&r, &it->arena))) return rc;
                size_t flen = it->arena.len - off;
                rc_buf_putc(&it->arena, '\0');
                if ((rc = push(it, off, flen))) return rc;
                ws(&r);
                if (r.p >= r.end || *r.p != ':') return fail(&r, "expected ':'");
                r.p++;
            }
            if ((rc = value(&r, it, 1))) return rc;
            ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                continue;
            }
            if (r.p < r.end && *r.p == (object ? '}' : ']')) {
                r.p++;
                break;
            }
            return fail(&r, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    ws(&r);
    if (r.p != r.end) return fail(&r, "trailing characters");
    it->p = malloc((it->n ? it->n : 1) * sizeof *it->p);
    if (!it->p) return RC_NOMEM;
    for (size_t i = 0; i < it->n; i++) it->p[i] = it->arena.p + it->off[i];
    return RC_OK;
}

void rc__kvitems_free(rc__kvitems *it) {
    free(it->p);
    free(it->off);
    free(it->len);
    rc_buf_free(&it->arena);
    memset(it, 0, sizeof *it);
}
