/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP routes of push subscriptions (redcar/push.h), in the shape of the
 * CloudEvents Subscriptions API: POST /subscriptions creates one (201 with
 * the subscription and a Location), GET /subscriptions lists them (a JSON
 * array), GET and DELETE /subscriptions/{id} read and remove one. The
 * door translates; the push module validates and the store keeps them.
 * The running delivery (started by the server) notices a new subscription
 * within its poll period and stops delivering a deleted one at once.
 *
 * Trust boundary: bodies and ids come from clients; the push module
 * validates them (unknown members, non-http(s) sinks and bad filters get a
 * 400 naming the member).
 */
#include "http/h_subscriptions.h"
#include "redcar/push.h"

static void problem(rc_http_res *res, const rc_err *err, int rc) {
    rc__http_res_problem(res, rc, err->msg[0] ? err->msg : NULL);
}

void rc__h_subscriptions_create(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    rc_buf out = RC_BUF_INIT;
    char id[RC_PUSH_ID_MAX + 1];
    int rc = rc_push_sub_create(req->env->st, req->body ? req->body : "", req->body_len, &out, id,
                                &err);
    if (rc == RC_OK) {
        /* The id is [A-Za-z0-9._-]: it needs no escaping in a path. */
        rc_buf loc = RC_BUF_INIT;
        rc_buf_printf(&loc, "/subscriptions/%s", id);
        rc__http_res_header(res, "Location", loc.p);
        rc_buf_free(&loc);
        rc__http_res_send(res, 201, "application/json", out.p, out.len);
    } else {
        problem(res, &err, rc);
    }
    rc_buf_free(&out);
}

void rc__h_subscriptions_list(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    rc_buf out = RC_BUF_INIT;
    int rc = rc_push_sub_list(req->env->st, &out, &err);
    if (rc == RC_OK) rc__http_res_send(res, 200, "application/json", out.p, out.len);
    else problem(res, &err, rc);
    rc_buf_free(&out);
}

void rc__h_subscription_get(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    rc_buf out = RC_BUF_INIT;
    int rc = rc_push_sub_get(req->env->st, req->params[0], &out, &err);
    if (rc == RC_OK) rc__http_res_send(res, 200, "application/json", out.p, out.len);
    else problem(res, &err, rc);
    rc_buf_free(&out);
}

void rc__h_subscription_delete(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_push_sub_delete(req->env->st, req->params[0], &err);
    if (rc == RC_OK) rc__http_res_send(res, 204, NULL, "", 0);
    else problem(res, &err, rc);
}
