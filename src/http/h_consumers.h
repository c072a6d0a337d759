/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP door's durable-consumer routes (h_consumers.c): the handlers
 * the route table names and the lines they add to /metrics.
 */
#ifndef REDCAR_HTTP_H_CONSUMERS_H
#define REDCAR_HTTP_H_CONSUMERS_H

#include "http/http_internal.h"

void rc__h_cursors_create(const rc_http_req *req, rc_http_res *res);
void rc__h_cursors_list(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_get(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_delete(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_fetch(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_ack(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_nack(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_pending(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_claim(const rc_http_req *req, rc_http_res *res);
void rc__h_cursor_stream(const rc_http_req *req, rc_http_res *res);

/* Per-consumer gauges and counters (lag, pending, deliveries,
 * redeliveries, acks, dead letters) in Prometheus text format. */
void rc__http_consumer_metrics(rc_http_env *env, rc_buf *out);

#endif
