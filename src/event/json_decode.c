/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CloudEvents JSON format, decoding side (structured events and batches).
 *
 * Trust boundary: the bytes come from the network. They are first checked by
 * rc__json_syntax (strict RFC 8259, bounded nesting, exact length); only
 * then does this file read them, straight from the bytes, member by member
 * onto an rc_event: no JSON tree is built. This file checks JSON shape (a
 * member's JSON type), rc_event_validate() the spec's rules. An error names
 * the member and the rule.
 *
 * Because the input is known to be well-formed, the reader here need not
 * judge syntax again: it finds the ends of strings, numbers and containers
 * and trusts what lies between. It still never reads past the end (every
 * loop is bounded by it), so a bug in the syntax pass costs a wrong answer,
 * never a read out of bounds.
 *
 * Data: under a JSON content type (or none) `data` is any JSON value and is
 * kept as its own JSON text with insignificant whitespace removed (strings
 * byte for byte, escapes as written; numbers as written, so 1.0 stays 1.0,
 * 2^53+1 stays exact, and 1e400, valid JSON text, is kept although no double
 * holds it). Under any other content type a JSON string is text (its
 * decoded contents), another JSON value is still kept as JSON; `data_base64`
 * is binary. The encoder emits each form back the same way, so
 * decode(encode(e)) gives e back.
 *
 * Numbers of extensions and `seq` are read exactly from their text: 1.0 and
 * 1e2 are integers, 1e-400 is not (no rounding through a double).
 *
 * Threads: decoding is reentrant and keeps no state between calls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_internal.h"
#include "redcar/event.h"

/* Largest seq accepted: every integer up to 2^53 is exact in a double, so
 * JavaScript clients read it back unchanged. */
#define SEQ_MAX 9007199254740992ull
/* Extension integers kept for the validator to judge against int32 (so that
 * it can name the rule); beyond this the decoder reports the range itself. */
#define EXT_INT_MAX 9200000000000000000ull

typedef enum { M_ATTR, M_DATA, M_DATA64, M_SEQ } member_kind;

static const struct {
    const char *name;
    size_t len;
    member_kind kind;
    size_t off; /* M_ATTR: the field */
} members[] = {
#define M(name, kind, off) {name, sizeof name - 1, kind, off}
    M("specversion", M_ATTR, offsetof(rc_event, specversion)),
    M("id", M_ATTR, offsetof(rc_event, id)),
    M("source", M_ATTR, offsetof(rc_event, source)),
    M("type", M_ATTR, offsetof(rc_event, type)),
    M("datacontenttype", M_ATTR, offsetof(rc_event, datacontenttype)),
    M("dataschema", M_ATTR, offsetof(rc_event, dataschema)),
    M("subject", M_ATTR, offsetof(rc_event, subject)),
    M("time", M_ATTR, offsetof(rc_event, time)),
    M("data", M_DATA, 0),
    M("data_base64", M_DATA64, 0),
    M("seq", M_SEQ, 0),
#undef M
};
#define NMEMBERS (sizeof members / sizeof members[0])

static int member_index(const unsigned char *name, size_t n) {
    for (size_t i = 0; i < NMEMBERS; i++)
        if (members[i].len == n && !memcmp(members[i].name, name, n)) return (int)i;
    return -1;
}

/* Names come from the input; messages cut them short (the validator does
 * the same for its own messages). */
static int shape_err(rc_err *err, const char *name, const char *rule) {
    char lb[48];
    size_t j = 0;
    const char *p = name;
    for (; *p && j + 4 < sizeof lb; p++) lb[j++] = (*p > 0x20 && *p < 0x7F) ? *p : '?';
    if (*p) {
        memcpy(lb + j, "...", 3);
        j += 3;
    }
    lb[j] = '\0';
    return rc_err_set(err, RC_EVENT_INVALID, "%s: %s", lb, rule);
}

static int nomem(rc_err *err) { return rc_err_set(err, RC_NOMEM, "out of memory"); }

/* ---- reading well-formed JSON ------------------------------------------------ */

typedef struct {
    const unsigned char *p, *end;
} reader;

/* A JSON string's span: b..e are its contents (quotes excluded), esc says
 * whether it has a backslash escape. */
typedef struct {
    const unsigned char *b, *e;
    int esc;
} span;

static void ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

/* At an opening quote: the string's span; r->p ends after the closing quote. */
static void read_string(reader *r, span *s) {
    const unsigned char *p = r->p + 1, *end = r->end;
    s->b = p;
    s->esc = 0;
    for (;;) {
        const unsigned char *q = p;
        while (q < end && *q != '"' && *q != '\\') q++;
        if (q >= end) { /* cannot happen after the syntax pass */
            s->e = r->p = end;
            return;
        }
        if (*q == '"') {
            s->e = q;
            r->p = q + 1;
            return;
        }
        s->esc = 1;
        p = q + 2 <= end ? q + 2 : end; /* the escaped byte is never a quote that ends it */
    }
}

static unsigned hex4(const unsigned char *p) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k];
        v = v << 4 | (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* The decoded contents of a string that has escapes, into o (room for
 * e - b bytes: no escape decodes to more bytes than it is written with).
 * Returns the length. The syntax pass has checked every escape. */
static size_t unescape(const unsigned char *b, const unsigned char *e, unsigned char *o) {
    unsigned char *start = o;
    while (b < e) {
        const unsigned char *q = memchr(b, '\\', (size_t)(e - b));
        if (!q) q = e;
        memcpy(o, b, (size_t)(q - b));
        o += q - b;
        b = q;
        if (b + 1 >= e) break;
        unsigned char c = b[1];
        b += 2;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            if (e - b < 4) return (size_t)(o - start);
            unsigned u = hex4(b);
            b += 4;
            if (u >= 0xD800 && u <= 0xDBFF && e - b >= 6 && b[0] == '\\' && b[1] == 'u') {
                unsigned lo = hex4(b + 2);
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                b += 6;
            }
            if (u < 0x80) {
                *o++ = (unsigned char)u;
            } else if (u < 0x800) {
                *o++ = (unsigned char)(0xC0 | u >> 6);
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *o++ = (unsigned char)(0xE0 | u >> 12);
                *o++ = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            } else {
                *o++ = (unsigned char)(0xF0 | u >> 18);
                *o++ = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
                *o++ = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: /* " \ / */
            *o++ = c;
        }
    }
    return (size_t)(o - start);
}

/* A string's decoded contents, malloc'd and NUL-terminated. */
static char *new_string(const span *s, size_t *len) {
    size_t n = (size_t)(s->e - s->b);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (s->esc) n = unescape(s->b, s->e, (unsigned char *)d);
    else memcpy(d, s->b, n);
    d[n] = '\0';
    if (len) *len = n;
    return d;
}

/* Past one value of any kind; *had_ws says whether whitespace that
 * minifying would drop occurs inside it. */
static void skip_value(reader *r, int *had_ws) {
    const unsigned char *end = r->end;
    size_t depth = 0;
    *had_ws = 0;
    while (r->p < end) {
        unsigned char c = *r->p;
        switch (c) {
        case '"': {
            span s;
            read_string(r, &s);
            break;
        }
        case '{':
        case '[':
            depth++;
            r->p++;
            break;
        case '}':
        case ']':
            if (!depth) return; /* the end of the enclosing container */
            depth--;
            r->p++;
            break;
        case ',':
            if (!depth) return;
            r->p++;
            break;
        case ' ':
        case '\n':
        case '\r':
        case '\t':
            if (!depth) return;
            *had_ws = 1;
            r->p++;
            break;
        default: /* a number or literal byte, ':' */
            r->p++;
        }
        if (!depth && (c == '"' || c == '}' || c == ']')) return;
    }
}

/* b..e without the whitespace outside strings, into o (room for e - b). */
static size_t minify(const unsigned char *b, const unsigned char *e, unsigned char *o) {
    unsigned char *start = o;
    while (b < e) {
        unsigned char c = *b;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            b++;
        } else if (c == '"') {
            reader r = {b, e};
            span s;
            read_string(&r, &s);
            memcpy(o, b, (size_t)(r.p - b));
            o += r.p - b;
            b = r.p;
        } else {
            *o++ = c;
            b++;
        }
    }
    return (size_t)(o - start);
}

/* ---- numbers, exactly ------------------------------------------------------- */

typedef enum { NUM_INT, NUM_FRACTION, NUM_RANGE } num_class;

/* A JSON number (well-formed, b..e) as an integer of magnitude <= lim
 * (lim < 10^19), from its digits and exponent rather than through a double:
 * 1.0, 10e-1 and 0.1e1 are 1; 1e-400 is a fraction; 1e400 is out of range. */
static num_class json_integer(const unsigned char *b, const unsigned char *e, uint64_t lim, int *neg,
                              uint64_t *mag) {
    const unsigned char *p = b;
    *neg = p < e && *p == '-';
    p += *neg;
    const unsigned char *ib = p;
    while (p < e && *p >= '0' && *p <= '9') p++;
    size_t ni = (size_t)(p - ib), nf = 0;
    const unsigned char *fb = p;
    if (p < e && *p == '.') {
        fb = ++p;
        while (p < e && *p >= '0' && *p <= '9') p++;
        nf = (size_t)(p - fb);
    }
    long long x = 0; /* the exponent, saturated far beyond any digit count that matters */
    if (p < e && (*p == 'e' || *p == 'E')) {
        int xneg = 0;
        if (++p < e && (*p == '+' || *p == '-')) xneg = *p++ == '-';
        for (; p < e && *p >= '0' && *p <= '9'; p++)
            if (x < 100000000000000000LL) x = x * 10 + (*p - '0');
        if (xneg) x = -x;
    }
    /* The digits are the integer part then the fraction: value = D * 10^(x - nf). */
    size_t n = ni + nf, first = 0, last = n;
#define DIG(k) ((k) < ni ? ib[k] : fb[(k) - ni])
    while (first < n && DIG(first) == '0') first++;
    *mag = 0;
    if (first == n) return NUM_INT; /* zero, whatever the sign and exponent */
    while (DIG(last - 1) == '0') last--;
    /* Without its trailing zeros D is not a multiple of 10, so a negative
     * power of ten left over means a fraction. */
    long long k = x - (long long)nf + (long long)(n - last);
    if (k < 0) return NUM_FRACTION;
    if ((long long)(last - first) + k > 19) return NUM_RANGE; /* >= 10^19 > lim */
    uint64_t v = 0;
    for (size_t i = first; i < last; i++) v = v * 10 + (uint64_t)(DIG(i) - '0');
    for (long long i = 0; i < k; i++) v *= 10;
#undef DIG
    if (v > lim) return NUM_RANGE;
    *mag = v;
    return NUM_INT;
}

/* ---- one event ----------------------------------------------------------------- */

/* What a value starts with, once the syntax pass has vouched for it. */
typedef enum { V_STRING, V_NUMBER, V_TRUE, V_FALSE, V_NULL, V_OBJECT, V_ARRAY } vkind;

static vkind kind_of(unsigned char c) {
    switch (c) {
    case '"': return V_STRING;
    case 't': return V_TRUE;
    case 'f': return V_FALSE;
    case 'n': return V_NULL;
    case '{': return V_OBJECT;
    case '[': return V_ARRAY;
    default: return V_NUMBER;
    }
}

/* Past a value that is not a string (those are read with read_string). */
static void skip_scalar_or_container(reader *r, vkind k) {
    int had_ws;
    switch (k) {
    case V_TRUE:
    case V_NULL:
        r->p = r->end - r->p >= 4 ? r->p + 4 : r->end;
        break;
    case V_FALSE:
        r->p = r->end - r->p >= 5 ? r->p + 5 : r->end;
        break;
    default:
        skip_value(r, &had_ws);
    }
}

/* Where `data` / `data_base64` were, kept until every member is seen (the
 * content type may come after the data). */
typedef struct {
    vkind kind;
    const unsigned char *b, *e; /* the whole value's text */
    span str;                   /* V_STRING: its contents */
    int had_ws;
} held;

static int add_extension(rc_event *ev, const span *key, reader *r, rc_err *err) {
    vkind k = kind_of(*r->p);
    if (k == V_NULL) { /* null means absent */
        skip_scalar_or_container(r, k);
        return RC_OK;
    }
    char *name = new_string(key, NULL);
    if (!name) return nomem(err);
    rc_ext_type type = RC_EXT_STRING;
    int b = 0;
    int64_t i = 0;
    char *s = NULL;
    const char *rule = NULL;
    switch (k) {
    case V_STRING: {
        span v;
        read_string(r, &v);
        if (!(s = new_string(&v, NULL))) {
            free(name);
            return nomem(err);
        }
        break;
    }
    case V_TRUE:
    case V_FALSE:
        type = RC_EXT_BOOL;
        b = k == V_TRUE;
        skip_scalar_or_container(r, k);
        break;
    case V_NUMBER: {
        const unsigned char *nb = r->p;
        skip_scalar_or_container(r, k);
        int neg;
        uint64_t mag;
        switch (json_integer(nb, r->p, EXT_INT_MAX, &neg, &mag)) {
        case NUM_INT:
            type = RC_EXT_INT;
            i = neg ? -(int64_t)mag : (int64_t)mag;
            break;
        case NUM_FRACTION:
            rule = "must be a string, boolean or integer";
            break;
        case NUM_RANGE:
            rule = "integer out of int32 range";
        }
        break;
    }
    default:
        rule = "must be a string, boolean or integer";
    }
    if (rule) {
        shape_err(err, name, rule);
        free(name);
        return RC_EVENT_INVALID;
    }
    return rc__event_push_ext(ev, name, type, b, i, s) ? nomem(err) : RC_OK;
}

static int check_unique(const rc_event *ev, rc_err *err) {
    long dup = rc__ext_duplicate(ev);
    if (dup == -2) return nomem(err);
    return dup >= 0 ? shape_err(err, ev->ext[dup].name, "duplicate member") : RC_OK;
}

static int set_data(rc_event *ev, const held *data, const held *data64, rc_err *err) {
    if (data64) {
        if (data) return shape_err(err, "data_base64", "must not be present together with data");
        if (data64->kind != V_STRING) return shape_err(err, "data_base64", "must be a string");
        int rc;
        if (!data64->str.esc) {
            rc = rc_base64_decode((const char *)data64->str.b, (size_t)(data64->str.e - data64->str.b),
                                  &ev->data, &ev->data_len);
        } else {
            size_t n;
            char *s = new_string(&data64->str, &n);
            if (!s) return nomem(err);
            rc = rc_base64_decode(s, n, &ev->data, &ev->data_len);
            free(s);
        }
        if (rc == RC_NOMEM) return nomem(err);
        if (rc) return shape_err(err, "data_base64", "must be base64 (RFC 4648)");
        ev->data_form = RC_DATA_BINARY;
        return RC_OK;
    }
    if (!data) return RC_OK;
    if (data->kind == V_STRING && !rc_is_json_ctype(ev->datacontenttype)) {
        if (!(ev->data = (unsigned char *)new_string(&data->str, &ev->data_len))) return nomem(err);
        ev->data_form = RC_DATA_TEXT;
        return RC_OK;
    }
    size_t n = (size_t)(data->e - data->b);
    unsigned char *d = malloc(n + 1);
    if (!d) return nomem(err);
    if (data->had_ws) n = minify(data->b, data->e, d);
    else memcpy(d, data->b, n);
    d[n] = '\0';
    ev->data = d;
    ev->data_len = n;
    ev->data_form = RC_DATA_JSON;
    return RC_OK;
}

/* One event from the value at r->p (well-formed JSON); r->p ends after it.
 * On error *out is untouched and r->p is anywhere. */
static int decode_object(reader *r, rc_event **out, rc_err *err) {
    if (r->p >= r->end || *r->p != '{') return rc_err_set(err, RC_EVENT_INVALID, "event: must be a JSON object");
    rc_event *ev = rc_event_new();
    if (!ev) return nomem(err);
    held data, data64;
    int have_data = 0, have_data64 = 0;
    unsigned seen = 0;
    int rc = RC_OK;
    r->p++;
    ws(r);
    while (r->p < r->end && *r->p == '"') {
        span key;
        read_string(r, &key);
        ws(r);
        r->p++; /* ':' */
        ws(r);
        if (r->p >= r->end) break;
        int m;
        if (!key.esc) {
            m = member_index(key.b, (size_t)(key.e - key.b));
        } else {
            /* "d\u0061ta" is data: match the decoded name. */
            size_t n;
            char *name = new_string(&key, &n);
            if (!name) {
                rc = nomem(err);
                goto fail;
            }
            m = member_index((const unsigned char *)name, n);
            free(name);
        }
        if (m < 0) {
            if ((rc = add_extension(ev, &key, r, err))) goto fail;
            goto next;
        }
        if (seen & (1u << m)) {
            rc = shape_err(err, members[m].name, "duplicate member");
            goto fail;
        }
        seen |= 1u << m;
        vkind k = kind_of(*r->p);
        if (k == V_NULL) { /* null means absent */
            skip_scalar_or_container(r, k);
            goto next;
        }
        switch (members[m].kind) {
        case M_ATTR: {
            if (k != V_STRING) {
                rc = shape_err(err, members[m].name, "must be a string");
                goto fail;
            }
            span v;
            read_string(r, &v);
            char *s = new_string(&v, NULL);
            if (!s) {
                rc = nomem(err);
                goto fail;
            }
            *(char **)((char *)ev + members[m].off) = s;
            break;
        }
        case M_DATA:
        case M_DATA64: {
            held *h = members[m].kind == M_DATA ? &data : &data64;
            *(members[m].kind == M_DATA ? &have_data : &have_data64) = 1;
            h->kind = k;
            h->b = r->p;
            h->had_ws = 0;
            if (k == V_STRING) read_string(r, &h->str);
            else skip_value(r, &h->had_ws);
            h->e = r->p;
            break;
        }
        case M_SEQ: {
            int neg = 0;
            uint64_t mag = 0;
            const unsigned char *nb = r->p;
            skip_scalar_or_container(r, k);
            if (k != V_NUMBER || json_integer(nb, r->p, SEQ_MAX, &neg, &mag) != NUM_INT || (neg && mag)) {
                rc = shape_err(err, "seq", "must be an integer 0..2^53");
                goto fail;
            }
            ev->seq = mag;
            break;
        }
        }
    next:
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            ws(r);
        }
    }
    if (r->p < r->end) r->p++; /* '}' */
    if ((rc = check_unique(ev, err)) ||
        (rc = set_data(ev, have_data ? &data : NULL, have_data64 ? &data64 : NULL, err)) ||
        (rc = rc_event_validate(ev, err)))
        goto fail;
    *out = ev;
    return RC_OK;
fail:
    rc_event_free(ev);
    return rc;
}

/* The syntax pass, then a reader at the first byte of the value. */
static int start(const void *buf, size_t len, reader *r, rc_err *err) {
    if (!buf) len = 0;
    int rc = rc__json_syntax(buf, len, err);
    if (rc) return rc;
    r->p = buf;
    r->end = r->p + len;
    ws(r);
    return RC_OK;
}

int rc_event_decode_json(const void *buf, size_t len, rc_event **out, rc_err *err) {
    rc_err_clear(err);
    if (!out) return rc_err_set(err, RC_INVALID, "no output");
    *out = NULL;
    reader r;
    int rc = start(buf, len, &r, err);
    return rc ? rc : decode_object(&r, out, err);
}

int rc_event_decode_batch(const void *buf, size_t len, rc_event ***out, size_t *n, rc_err *err) {
    rc_err_clear(err);
    if (!out || !n) return rc_err_set(err, RC_INVALID, "no output");
    *out = NULL;
    *n = 0;
    reader r;
    int rc = start(buf, len, &r, err);
    if (rc) return rc;
    if (*r.p != '[') return rc_err_set(err, RC_EVENT_INVALID, "batch: must be a JSON array of events");
    size_t count = 0, cap = 16;
    rc_event **evs = malloc(cap * sizeof *evs);
    if (!evs) return nomem(err);
    r.p++;
    ws(&r);
    while (r.p < r.end && *r.p != ']') {
        if (count == cap) {
            rc_event **more = realloc(evs, 2 * cap * sizeof *evs);
            if (!more) {
                rc = nomem(err);
                goto fail;
            }
            evs = more;
            cap *= 2;
        }
        rc_err one;
        rc_err_clear(&one);
        if ((rc = decode_object(&r, &evs[count], &one))) {
            rc_err_set(err, rc, "[%zu] %s", count, rc_err_msg(&one));
            goto fail;
        }
        count++;
        ws(&r);
        if (r.p < r.end && *r.p == ',') {
            r.p++;
            ws(&r);
        }
    }
    *out = evs;
    *n = count;
    return RC_OK;
fail:
    rc_event_free_array(evs, count);
    return rc;
}

char *rc__json_minify(const void *p, size_t n, size_t *outlen) {
    if (!p || rc__json_syntax(p, n, NULL)) return NULL;
    const unsigned char *b = p, *e = b + n;
    unsigned char *d = malloc(n + 1);
    if (!d) return NULL;
    size_t len = minify(b, e, d);
    d[len] = '\0';
    if (outlen) *outlen = len;
    return (char *)d;
}
