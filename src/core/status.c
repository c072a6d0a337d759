/* SPDX-License-Identifier: Apache-2.0 */
/* Status names, messages and door mappings, generated from RC_STATUS_MAP. */
#include <stdio.h>
#include <string.h>

#include "redcar/status.h"

static const struct {
    const char *name;
    int http;
    const char *resp;
    const char *msg;
} table[] = {
#define RC__ROW(name, http, resp, msg) {#name, http, resp, msg},
    RC_STATUS_MAP(RC__ROW)
#undef RC__ROW
};

static int known(int code) { return code >= 0 && code < RC__STATUS_COUNT; }

const char *rc_status_name(int code) { return known(code) ? table[code].name : "UNKNOWN"; }
const char *rc_strerror(int code) { return known(code) ? table[code].msg : "unknown error"; }
int rc_status_http(int code) { return known(code) ? table[code].http : 500; }
const char *rc_status_resp(int code) { return known(code) ? table[code].resp : "ERR"; }

int rc_err_set(rc_err *err, int code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void rc_err_clear(rc_err *err) {
    if (err) {
        err->code = RC_OK;
        err->msg[0] = '\0';
    }
}

const char *rc_err_msg(const rc_err *err) {
    if (!err) return "";
    return err->msg[0] ? err->msg : rc_strerror(err->code);
}
