/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pure parser for the text/event-stream format (HTML Living Standard,
 * "Server-sent events"): bytes in, dispatched messages out through a
 * callback. No sockets. Lines may end in LF, CRLF or CR, also split across
 * feeds; comment lines (": heartbeat") are skipped; a blank line dispatches
 * the message collected so far. The field values are bounded by max_bytes:
 * a longer message is an error (sticky), never an unbounded allocation.
 *
 * Trust boundary: the input comes from the network.
 */
#ifndef REDCAR_CTL_SSE_H
#define REDCAR_CTL_SSE_H

#include <stddef.h>

#include "redcar/buf.h"

/* Return non-zero to stop: ctl_sse_feed() then returns CTL_SSE_STOP. */
typedef int (*ctl_sse_cb)(void *arg, const char *id, const char *event, const char *data,
                          size_t data_len);

typedef struct ctl_sse {
    rc_buf line;       /* current line, without its terminator */
    rc_buf data;       /* data lines of the message, joined by '\n' */
    rc_buf event;      /* event type of the message */
    rc_buf last_id;    /* last event id: persists across messages (spec) */
    int has_data;
    int after_cr;      /* the previous byte was CR: a following LF belongs to it */
    int failed;
    size_t max_bytes;
    ctl_sse_cb cb;
    void *arg;
} ctl_sse;

enum { CTL_SSE_OK = 0, CTL_SSE_STOP = 1, CTL_SSE_ERROR = -1 };

void ctl_sse_init(ctl_sse *p, size_t max_bytes, ctl_sse_cb cb, void *arg);
void ctl_sse_free(ctl_sse *p);
int ctl_sse_feed(ctl_sse *p, const char *buf, size_t len);
/* The id of the last message seen (empty string when none). */
const char *ctl_sse_last_id(const ctl_sse *p);

#endif
