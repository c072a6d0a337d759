/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP door's push-subscription routes (h_subscriptions.c): the
 * handlers the route table names for /subscriptions.
 */
#ifndef REDCAR_HTTP_H_SUBSCRIPTIONS_H
#define REDCAR_HTTP_H_SUBSCRIPTIONS_H

#include "http/http_internal.h"

void rc__h_subscriptions_create(const rc_http_req *req, rc_http_res *res);
void rc__h_subscriptions_list(const rc_http_req *req, rc_http_res *res);
void rc__h_subscription_get(const rc_http_req *req, rc_http_res *res);
void rc__h_subscription_delete(const rc_http_req *req, rc_http_res *res);

#endif
