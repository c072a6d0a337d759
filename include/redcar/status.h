/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status codes shared by every Redcar module and both doors.
 *
 * One X-macro table generates the enum, the names, the default messages and
 * the mapping to an HTTP status and a RESP error prefix, so that a door never
 * has to invent its own translation (libuv's UV_ERRNO_MAP).
 *
 * Functions return an rc_status; details go into a caller-provided rc_err.
 */
#ifndef REDCAR_STATUS_H
#define REDCAR_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/*      name              http  resp prefix   default message */
#define RC_STATUS_MAP(X)                                                              \
    X(OK,               200, "",          "ok")                                       \
    X(INVALID,          400, "ERR",       "invalid argument")                         \
    X(EVENT_INVALID,    400, "ERR",       "invalid CloudEvent")                       \
    X(NOT_FOUND,        404, "ERR",       "not found")                                \
    X(CONFLICT,         409, "ERR",       "expected sequence does not match")         \
    X(WRONGTYPE,        409, "WRONGTYPE", "Operation against a key holding the wrong kind of value") \
    X(NOT_INTEGER,      400, "ERR",       "value is not an integer or out of range")  \
    X(TOO_LARGE,        413, "ERR",       "payload too large")                        \
    X(UNSUPPORTED,      415, "ERR",       "unsupported media type")                   \
    X(TRIMMED,          410, "ERR",       "position no longer stored (retention)")    \
    X(TIMEOUT,          504, "ERR",       "timed out")                                \
    X(NOAUTH,           401, "NOAUTH",    "Authentication required.")                 \
    X(NOPERM,           403, "NOPERM",    "permission denied")                        \
    X(BUSY,             503, "BUSY",      "server busy")                              \
    X(SHUTDOWN,         503, "ERR",       "server is shutting down")                  \
    X(DISK_FULL,        507, "ERR",       "disk full: write refused")                 \
    X(READONLY,         507, "READONLY",  "store is read-only: write refused")        \
    X(LOCKED,           423, "ERR",       "data directory is locked by another process") \
    X(NOMEM,            500, "ERR",       "out of memory")                            \
    X(IO,               500, "ERR",       "I/O error")                                \
    X(INTERNAL,         500, "ERR",       "internal error")

typedef enum {
#define RC__ENUM(name, http, resp, msg) RC_##name,
    RC_STATUS_MAP(RC__ENUM)
#undef RC__ENUM
    RC__STATUS_COUNT
} rc_status;

/* Error detail. msg is always NUL-terminated; empty when there is no detail. */
typedef struct rc_err {
    int code;       /* an rc_status */
    char msg[160];
} rc_err;

const char *rc_status_name(int code);   /* "EVENT_INVALID" */
const char *rc_strerror(int code);      /* default message */
int rc_status_http(int code);           /* 400, 404, ... */
const char *rc_status_resp(int code);   /* "ERR", "WRONGTYPE", ... */

/* Fill err (may be NULL) and return code. printf-style message. */
int rc_err_set(rc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rc_err_clear(rc_err *err);
/* err->msg if set, else the default message of err->code. */
const char *rc_err_msg(const rc_err *err);

#ifdef __cplusplus
}
#endif
#endif
