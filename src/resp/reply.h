/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RESP reply writer: appends RESP2 or RESP3 replies to a buffer. Command
 * handlers write through it and never touch a socket; the same call gives a
 * RESP2 array or a RESP3 map/set/push depending on the connection's protocol
 * (Redis networking.c addReply*).
 */
#ifndef RC_RESP_REPLY_H
#define RC_RESP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/status.h"

typedef struct rc_resp_w {
    rc_buf *b;
    int proto; /* 2 or 3 */
} rc_resp_w;

void rc_resp_w_simple(rc_resp_w *w, const char *s);             /* +s */
void rc_resp_w_ok(rc_resp_w *w);                                /* +OK */
/* -msg; msg starts with the error code ("ERR syntax error"). CR/LF in msg
 * are replaced by spaces so an error can never break framing. */
void rc_resp_w_error(rc_resp_w *w, const char *msg);
void rc_resp_w_errorf(rc_resp_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An rc_status as "-<RESP prefix> <message>". */
void rc_resp_w_status(rc_resp_w *w, int code, const rc_err *err);
void rc_resp_w_int(rc_resp_w *w, int64_t v);
void rc_resp_w_bulk(rc_resp_w *w, const void *p, size_t n);
void rc_resp_w_bulkstr(rc_resp_w *w, const char *s);
void rc_resp_w_bulk_i64(rc_resp_w *w, int64_t v);
void rc_resp_w_null(rc_resp_w *w);        /* $-1 / _ */
void rc_resp_w_null_array(rc_resp_w *w);  /* *-1 / _ */
void rc_resp_w_array(rc_resp_w *w, size_t n);
void rc_resp_w_map(rc_resp_w *w, size_t pairs); /* %n / *2n */
void rc_resp_w_set(rc_resp_w *w, size_t n);     /* ~n / *n */
void rc_resp_w_push(rc_resp_w *w, size_t n);    /* >n / *n */
void rc_resp_w_double(rc_resp_w *w, double d);  /* ,d / bulk */
void rc_resp_w_bool(rc_resp_w *w, int v);       /* #t / :1 */
void rc_resp_w_verbatim(rc_resp_w *w, const char *p, size_t n); /* =txt: / bulk */
/* A long double formatted like Redis INCRBYFLOAT (17 significant digits,
 * no exponent, trailing zeros removed) into out (>= 64 bytes). */
size_t rc_resp_fmt_ld(char *out, size_t outlen, long double v);

#endif
