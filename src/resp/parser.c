/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RESP request parser (see parser.h for the contract).
 *
 * Invariants: bytes [start, len) of buf are unconsumed input; a request in
 * progress begins at `start` and its arguments so far are recorded as
 * offsets from buf (never pointers: feed() may move the buffer). Only feed()
 * and space() move memory, and they first drop [0, start). The parser keeps
 * Redis's semantics byte for byte, including its error texts, because
 * clients and Redis's own test-suite compare them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/buf.h"
#include "resp/parser.h"

#define INLINE_MAX (64 * 1024)

struct rc_resp_parser {
    rc_resp_limits lim;
    char *buf;
    size_t len, cap;
    size_t start;          /* first unconsumed byte */
    size_t pos;            /* parse position inside the current request */
    /* multibulk state */
    int in_mbulk;
    size_t want_args;      /* from the *N header */
    long long bulklen;     /* -1: expecting a $ line */
    size_t nargs;
    size_t *off, *alen;
    size_t cap_args;
    char **argv;           /* pointers handed out with a command */
    /* inline arguments live here (escapes make them differ from the input) */
    char *ibuf;
    size_t ibuf_cap;
    const char *err;
    char errbuf[64];
};

void rc_resp_limits_default(rc_resp_limits *l) {
    l->max_args = 1024 * 1024;
    l->max_bulk = 512ull * 1024 * 1024;
    l->max_inline = INLINE_MAX;
    l->max_buffer = 1024ull * 1024 * 1024;
}

void rc_resp_limits_unauth(rc_resp_limits *l) {
    rc_resp_limits_default(l);
    l->max_args = 10;
    l->max_bulk = 16384;
}

rc_resp_parser *rc_resp_parser_new(const rc_resp_limits *lim) {
    rc_resp_parser *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (lim) p->lim = *lim;
    else rc_resp_limits_default(&p->lim);
    p->bulklen = -1;
    return p;
}

void rc_resp_parser_free(rc_resp_parser *p) {
    if (!p) return;
    free(p->buf);
    free(p->off);
    free(p->alen);
    free(p->argv);
    free(p->ibuf);
    free(p);
}

void rc_resp_parser_set_limits(rc_resp_parser *p, const rc_resp_limits *lim) { p->lim = *lim; }

const char *rc_resp_parser_error(const rc_resp_parser *p) { return p->err ? p->err : ""; }
size_t rc_resp_parser_pending(const rc_resp_parser *p) { return p->len - p->start; }

static int fail(rc_resp_parser *p, const char *msg) {
    p->err = msg;
    return RC_RESP_ERROR;
}

/* Drop consumed bytes so that offsets stay small and memory is reused. */
static void compact(rc_resp_parser *p) {
    if (p->start == 0) return;
    size_t s = p->start;
    memmove(p->buf, p->buf + s, p->len - s);
    p->len -= s;
    p->pos -= s;
    for (size_t i = 0; i < p->nargs; i++) p->off[i] -= s;
    p->start = 0;
}

static int reserve(rc_resp_parser *p, size_t extra) {
    if (p->len + extra + 1 <= p->cap) return 0;
    size_t cap = p->cap ? p->cap : 16384;
    while (cap < p->len + extra + 1) cap *= 2;
    char *nb = realloc(p->buf, cap);
    if (!nb) return -1;
    p->buf = nb;
    p->cap = cap;
    return 0;
}

static int check_buffer(rc_resp_parser *p) {
    if (p->len - p->start > p->lim.max_buffer) return fail(p, "query buffer limit reached");
    return RC_RESP_NEED_MORE;
}

int rc_resp_parser_feed(rc_resp_parser *p, const void *buf, size_t len) {
    if (p->err) return RC_RESP_ERROR;
    compact(p);
    if (reserve(p, len)) return fail(p, "out of memory");
    if (len) memcpy(p->buf + p->len, buf, len);
    p->len += len;
    return check_buffer(p);
}

size_t rc_resp_parser_space(rc_resp_parser *p, size_t want, char **space) {
    compact(p);
    if (reserve(p, want)) {
        *space = NULL;
        return 0;
    }
    *space = p->buf + p->len;
    return p->cap - p->len - 1;
}

int rc_resp_parser_commit(rc_resp_parser *p, size_t n) {
    if (p->err) return RC_RESP_ERROR;
    p->len += n;
    return check_buffer(p);
}

/* Redis string2ll: optional '-', no leading zeros, no '+', no spaces. */
static int parse_ll(const char *s, size_t n, long long *out) {
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;
    if (n == 0 || n > 20) return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1) return 0;
    }
    if (s[i] < '1' || s[i] > '9') return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (~0ull - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)INT64_MAX + 1) return 0;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)INT64_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

static int grow_args(rc_resp_parser *p, size_t need) {
    if (need <= p->cap_args) return 0;
    size_t cap = p->cap_args ? p->cap_args : 16;
    while (cap < need) cap *= 2;
    size_t *o = realloc(p->off, cap * sizeof *o);
    if (!o) return -1;
    p->off = o;
    size_t *a = realloc(p->alen, cap * sizeof *a);
    if (!a) return -1;
    p->alen = a;
    char **v = realloc(p->argv, cap * sizeof *v);
    if (!v) return -1;
    p->argv = v;
    p->cap_args = cap;
    return 0;
}

/* A line ending in \r\n starting at `at`. Returns the CR offset, or -1 when
 * more bytes are needed (the caller checks the line length limit). */
static long long find_crlf(rc_resp_parser *p, size_t at) {
    const char *cr = memchr(p->buf + at, '\r', p->len - at);
    if (!cr) return -1;
    size_t o = (size_t)(cr - p->buf);
    if (o + 1 >= p->len) return -1; /* the \n has not arrived */
    return (long long)o;
}

static void finish_request(rc_resp_parser *p, rc_resp_cmd *cmd, int inl) {
    for (size_t i = 0; i < p->nargs && !inl; i++) p->argv[i] = p->buf + p->off[i];
    cmd->argc = p->nargs;
    cmd->argv = p->argv;
    cmd->argvlen = p->alen;
    cmd->inline_form = inl;
    p->start = p->pos;
    p->in_mbulk = 0;
    p->bulklen = -1;
    p->nargs = 0;
}

static int is_space(int c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* sdssplitargs() over [s, e): Redis's inline tokenizer, quotes and escapes
 * included. Arguments are written NUL-terminated into p->ibuf. Returns 0, or
 * -1 on unbalanced quotes. A NUL byte ends the line, as in Redis. */
static int split_inline(rc_resp_parser *p, const char *s, const char *e) {
    size_t need = (size_t)(e - s) * 2 + 2; /* each byte at most once plus a NUL per arg */
    if (need > p->ibuf_cap) {
        char *nb = realloc(p->ibuf, need);
        if (!nb) return -2;
        p->ibuf = nb;
        p->ibuf_cap = need;
    }
    size_t w = 0;
    p->nargs = 0;
#define AT(q) ((q) < e ? *(q) : '\0')
    for (;;) {
        while (s < e && *s && is_space((unsigned char)*s)) s++;
        if (s >= e || !*s) return 0;
        int inq = 0, insq = 0, done = 0;
        size_t begin = w;
        while (!done) {
            char c = AT(s);
            if (inq) {
                if (c == '\\' && AT(s + 1) == 'x' && hexval(AT(s + 2)) >= 0 &&
                    hexval(AT(s + 3)) >= 0) {
                    p->ibuf[w++] = (char)(hexval(AT(s + 2)) * 16 + hexval(AT(s + 3)));
                    s += 3;
                } else if (c == '\\' && AT(s + 1)) {
                    s++;
                    char d = *s;
                    switch (d) {
                    case 'n': d = '\n'; break;
                    case 'r': d = '\r'; break;
                    case 't': d = '\t'; break;
                    case 'b': d = '\b'; break;
                    case 'a': d = '\a'; break;
                    default: break;
                    }
                    p->ibuf[w++] = d;
                } else if (c == '"') {
                    /* the closing quote must be followed by a space or the end */
                    if (AT(s + 1) && !is_space((unsigned char)AT(s + 1))) return -1;
                    done = 1;
                } else if (!c) {
                    return -1; /* unterminated quotes */
                } else {
                    p->ibuf[w++] = c;
                }
            } else if (insq) {
                if (c == '\\' && AT(s + 1) == '\'') {
                    s++;
                    p->ibuf[w++] = '\'';
                } else if (c == '\'') {
                    if (AT(s + 1) && !is_space((unsigned char)AT(s + 1))) return -1;
                    done = 1;
                } else if (!c) {
                    return -1;
                } else {
                    p->ibuf[w++] = c;
                }
            } else {
                switch (c) {
                case ' ': case '\n': case '\r': case '\t': case '\0': done = 1; break;
                case '"': inq = 1; break;
                case '\'': insq = 1; break;
                default: p->ibuf[w++] = c; break;
                }
            }
            if (s < e && *s) s++;
        }
        if (grow_args(p, p->nargs + 1)) return -2;
        p->ibuf[w++] = '\0';
        p->off[p->nargs] = begin;
        p->alen[p->nargs] = w - begin - 1;
        p->nargs++;
    }
#undef AT
}

static int next_inline(rc_resp_parser *p, rc_resp_cmd *cmd) {
    {
        size_t at = p->start;
        if (at >= p->len) return RC_RESP_NEED_MORE;
        const char *nl = memchr(p->buf + at, '\n', p->len - at);
        if (!nl) {
            if (p->len - at > p->lim.max_inline) return fail(p, "too big inline request");
            return RC_RESP_NEED_MORE;
        }
        const char *s = p->buf + at, *e = nl;
        if ((size_t)(e - s) > p->lim.max_inline) return fail(p, "too big inline request");
        if (e > s && e[-1] == '\r') e--;
        int rc = split_inline(p, s, e);
        if (rc == -1) return fail(p, "unbalanced quotes in request");
        if (rc == -2) return fail(p, "out of memory");
        p->pos = (size_t)(nl - p->buf) + 1;
        if (p->nargs == 0) { /* empty line: nothing to run; the next may be multibulk */
            p->start = p->pos;
            return 2;
        }
        if (p->nargs > p->lim.max_args) return fail(p, "invalid multibulk length");
        for (size_t i = 0; i < p->nargs; i++) p->argv[i] = p->ibuf + p->off[i];
        finish_request(p, cmd, 1);
        return RC_RESP_CMD;
    }
}

static int next_mbulk(rc_resp_parser *p, rc_resp_cmd *cmd) {
    if (!p->in_mbulk) {
        long long cr = find_crlf(p, p->start);
        if (cr < 0) {
            if (p->len - p->start > p->lim.max_inline) return fail(p, "too big mbulk count string");
            return RC_RESP_NEED_MORE;
        }
        if ((size_t)cr - p->start > p->lim.max_inline) return fail(p, "too big mbulk count string");
        long long n;
        if (!parse_ll(p->buf + p->start + 1, (size_t)cr - p->start - 1, &n) ||
            (n > 0 && (unsigned long long)n > p->lim.max_args))
            return fail(p, "invalid multibulk length");
        p->pos = (size_t)cr + 2;
        if (n <= 0) { /* Redis ignores empty and negative multibulks */
            p->start = p->pos;
            return 2;
        }
        p->in_mbulk = 1;
        p->want_args = (size_t)n;
        p->nargs = 0;
        p->bulklen = -1;
        /* do not trust the count for allocation: grow as arguments arrive */
        if (grow_args(p, n < 1024 ? (size_t)n : 1024)) return fail(p, "out of memory");
    }
    while (p->nargs < p->want_args) {
        if (p->bulklen < 0) {
            long long cr = find_crlf(p, p->pos);
            if (cr < 0) {
                if (p->len - p->pos > p->lim.max_inline) return fail(p, "too big bulk count string");
                return RC_RESP_NEED_MORE;
            }
            if ((size_t)cr - p->pos > p->lim.max_inline) return fail(p, "too big bulk count string");
            if (p->buf[p->pos] != '$') {
                snprintf(p->errbuf, sizeof p->errbuf, "expected '$', got '%c'", p->buf[p->pos]);
                return fail(p, p->errbuf);
            }
            long long n;
            if (!parse_ll(p->buf + p->pos + 1, (size_t)cr - p->pos - 1, &n) || n < 0 ||
                (unsigned long long)n > p->lim.max_bulk)
                return fail(p, "invalid bulk length");
            p->bulklen = n;
            p->pos = (size_t)cr + 2;
        }
        if (p->len - p->pos < (size_t)p->bulklen + 2) return RC_RESP_NEED_MORE;
        if (grow_args(p, p->nargs + 1)) return fail(p, "out of memory");
        p->off[p->nargs] = p->pos;
        p->alen[p->nargs] = (size_t)p->bulklen;
        /* Like Redis, the two bytes after the data are skipped unchecked.
         * They are consumed, so the terminator may overwrite the first. */
        p->buf[p->pos + (size_t)p->bulklen] = '\0';
        p->pos += (size_t)p->bulklen + 2;
        p->nargs++;
        p->bulklen = -1;
    }
    finish_request(p, cmd, 0);
    return RC_RESP_CMD;
}

int rc_resp_parser_next(rc_resp_parser *p, rc_resp_cmd *cmd) {
    if (p->err) return RC_RESP_ERROR;
    for (;;) {
        if (!p->in_mbulk) {
            if (p->start >= p->len) {
                /* everything consumed: rewind for free */
                p->start = p->pos = p->len = 0;
                return RC_RESP_NEED_MORE;
            }
        }
        int rc = (!p->in_mbulk && p->buf[p->start] != '*') ? next_inline(p, cmd) : next_mbulk(p, cmd);
        if (rc != 2) return rc; /* 2: skipped an empty request, go on */
    }
}

void rc_resp_encode_argv(rc_buf *out, size_t argc, const char *const *argv, const size_t *argvlen) {
    rc_buf_putc(out, '*');
    rc_buf_put_u64(out, argc);
    rc_buf_append(out, "\r\n", 2);
    for (size_t i = 0; i < argc; i++) {
        rc_buf_putc(out, '$');
        rc_buf_put_u64(out, argvlen[i]);
        rc_buf_append(out, "\r\n", 2);
        rc_buf_append(out, argv[i], argvlen[i]);
        rc_buf_append(out, "\r\n", 2);
    }
}
