/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RESP request parser: a pure function over bytes (hiredis read.c,
 * Redis networking.c processMultibulkBuffer/processInlineBuffer).
 *
 * Feed it the bytes read from a socket, then call next() until it stops
 * returning RC_RESP_CMD. It knows nothing of sockets, replies or server
 * state. Requests are multibulk (`*N\r\n$len\r\narg\r\n...`) or inline
 * (`SET k "v w"\n`, as typed in telnet).
 *
 * Trust boundary: the input is untrusted network bytes. The parser never
 * reads past what it was fed, bounds every count and length by the limits,
 * and once it returns RC_RESP_ERROR it keeps returning it (sticky): the
 * caller answers "-ERR Protocol error: <msg>" and closes the connection,
 * exactly like Redis.
 *
 * Lifetime: a returned command's argv points into the parser's buffer. Each
 * argv[i] is NUL-terminated at argv[i][argvlen[i]] (the parser writes the
 * terminator over the consumed CR), so handlers may pass keys to C string
 * APIs; the bytes themselves may still contain NULs. The command stays valid
 * until the next call to feed() or next().
 */
#ifndef RC_RESP_PARSER_H
#define RC_RESP_PARSER_H

#include <stddef.h>
#include <stdint.h>

typedef struct rc_resp_parser rc_resp_parser;

enum { RC_RESP_NEED_MORE = 0, RC_RESP_CMD = 1, RC_RESP_ERROR = -1 };

typedef struct rc_resp_limits {
    size_t max_args;     /* most arguments in one multibulk (proto-max-multibulk) */
    size_t max_bulk;     /* longest bulk argument (proto-max-bulk-len) */
    size_t max_inline;   /* longest inline request / count line (Redis: 64 KiB) */
    size_t max_buffer;   /* most bytes buffered for one request (client-query-buffer-limit) */
} rc_resp_limits;

/* Redis's defaults; the pre-authentication limits are Redis's too
 * (10 arguments, 16 KiB bulks). */
void rc_resp_limits_default(rc_resp_limits *l);
void rc_resp_limits_unauth(rc_resp_limits *l);

typedef struct rc_resp_cmd {
    size_t argc;
    char **argv;          /* borrowed, see "Lifetime" above */
    const size_t *argvlen;
    int inline_form;      /* 1 when the request was inline */
} rc_resp_cmd;

rc_resp_parser *rc_resp_parser_new(const rc_resp_limits *lim); /* NULL on OOM */
void rc_resp_parser_free(rc_resp_parser *p);                   /* NULL-safe */
/* Limits apply from the next request on (e.g. after AUTH). */
void rc_resp_parser_set_limits(rc_resp_parser *p, const rc_resp_limits *lim);

/* Append bytes. Returns RC_RESP_NEED_MORE, or RC_RESP_ERROR when the
 * buffered bytes exceed max_buffer or the parser already failed. */
int rc_resp_parser_feed(rc_resp_parser *p, const void *buf, size_t len);
/* Next complete command. */
int rc_resp_parser_next(rc_resp_parser *p, rc_resp_cmd *cmd);
/* The error after RC_RESP_ERROR, without the "Protocol error: " prefix,
 * e.g. "invalid multibulk length". */
const char *rc_resp_parser_error(const rc_resp_parser *p);
/* Bytes fed but not yet returned as commands. */
size_t rc_resp_parser_pending(const rc_resp_parser *p);

/* Zero-copy read: room for at least `want` more bytes at *space (returns its
 * size); after writing n bytes there, commit them. Same checks as feed(). */
size_t rc_resp_parser_space(rc_resp_parser *p, size_t want, char **space);
int rc_resp_parser_commit(rc_resp_parser *p, size_t n);

/* Serialise argv as one multibulk request (for tests, the fuzzer, clients). */
struct rc_buf;
void rc_resp_encode_argv(struct rc_buf *out, size_t argc, const char *const *argv,
                         const size_t *argvlen);

#endif
