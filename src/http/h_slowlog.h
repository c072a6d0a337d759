/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /slowlog and DELETE /slowlog (h_slowlog.c): the process's slow log
 * (redcar/slowlog.h), the same one RESP SLOWLOG shows.
 */
#ifndef REDCAR_HTTP_H_SLOWLOG_H
#define REDCAR_HTTP_H_SLOWLOG_H

#include "http/http_internal.h"

void rc__h_slowlog_get(const rc_http_req *req, rc_http_res *res);
void rc__h_slowlog_reset(const rc_http_req *req, rc_http_res *res);

#endif
