/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route table of the HTTP door and the dispatcher that reads it.
 *
 * A pattern is a '/'-separated list of literal segments and {name}
 * parameters; a parameter matches one non-empty raw segment and is handed
 * to the handler percent-decoded (so a key containing '/' travels as %2F).
 * Rows are tried in order: literal routes that overlap a parameter route
 * (/events/stream and /events/{seq}) come first. The same table answers 405
 * with the Allow header, and OpenAPI (schemas/openapi.yaml) documents it.
 */
#include <stdio.h>
#include <string.h>

#include "http/h_backup.h"
#include "http/h_console.h"
#include "http/h_consumers.h"
#include "http/h_slowlog.h"
#include "http/h_subscriptions.h"
#include "http/http_internal.h"
#include "redcar/auth.h"
#include "redcar/netaddr.h"
#include "redcar/slowlog.h"

const rc_http_route rc__http_routes[] = {
    {"POST",   "/events",               rc__h_events_post,   RC_ROUTE_BODY | RC_ROUTE_ASYNC},
    {"GET",    "/events",               rc__h_events_list,   0},
    {"GET",    "/events/stream",        rc__h_events_stream, 0},
    {"GET",    "/events/{seq}",         rc__h_event_get,     0},
    {"GET",    "/kv",                   rc__h_kv_list,       0},
    {"GET",    "/kv/{key}/history",     rc__h_kv_history,    0},
    {"GET",    "/kv/{key}",             rc__h_kv_get,        0},
    {"PUT",    "/kv/{key}",             rc__h_kv_put,        RC_ROUTE_BODY | RC_ROUTE_ASYNC},
    {"DELETE", "/kv/{key}",             rc__h_kv_delete,     RC_ROUTE_ASYNC},
    {"GET",    "/health",               rc__h_health,        0},
    {"GET",    "/info",                 rc__h_info,          0},
    {"GET",    "/metrics",              rc__h_metrics,       0},
    {"GET",    "/backup",               rc__h_backup,        0},
    {"GET",    "/slowlog",              rc__h_slowlog_get,   0},
    {"DELETE", "/slowlog",              rc__h_slowlog_reset, 0},
    {"POST",   "/cursors",              rc__h_cursors_create, RC_ROUTE_BODY},
    {"GET",    "/cursors",              rc__h_cursors_list,  0},
    {"GET",    "/cursors/{name}",       rc__h_cursor_get,    0},
    {"DELETE", "/cursors/{name}",       rc__h_cursor_delete, 0},
    {"GET",    "/cursors/{name}/events", rc__h_cursor_fetch, 0},
    {"POST",   "/cursors/{name}/ack",   rc__h_cursor_ack,    RC_ROUTE_BODY},
    {"POST",   "/cursors/{name}/nack",  rc__h_cursor_nack,   RC_ROUTE_BODY},
    {"POST",   "/cursors/{name}/claim", rc__h_cursor_claim,  RC_ROUTE_BODY},
    {"GET",    "/cursors/{name}/pending", rc__h_cursor_pending, 0},
    {"GET",    "/cursors/{name}/stream", rc__h_cursor_stream, 0},
    {"POST",   "/subscriptions",        rc__h_subscriptions_create, RC_ROUTE_BODY},
    {"GET",    "/subscriptions",        rc__h_subscriptions_list, 0},
    {"GET",    "/subscriptions/{id}",   rc__h_subscription_get, 0},
    {"DELETE", "/subscriptions/{id}",   rc__h_subscription_delete, 0},
    {"GET",    "/",                     rc__h_console_redirect, 0},
    {"GET",    "/console",              rc__h_console_redirect, 0},
    {"GET",    "/console/",             rc__h_console_index, 0},
    {"GET",    "/console/{asset}",      rc__h_console_asset, 0},
};
const size_t rc__http_nroutes = sizeof rc__http_routes / sizeof rc__http_routes[0];

/* Match path against pattern. On success, when params is non-NULL, the
 * raw parameter segments are recorded as (start, len) pairs. */
static int match(const char *pattern, const char *path, size_t seg[][2], size_t *nseg) {
    const char *p = pattern, *s = path;
    size_t n = 0;
    if (*s != '/') return 0;
    for (;;) {
        if (*p == '/' && *s == '/') {
            p++;
            s++;
        } else if (!*p && !*s) {
            break;
        } else {
            return 0;
        }
        const char *pe = strchr(p, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        const char *se = strchr(s, '/');
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || n == RC_HTTP_MAX_PARAMS) return 0;
            if (seg) {
                seg[n][0] = (size_t)(s - path);
                seg[n][1] = slen;
            }
            n++;
        } else if (plen != slen || memcmp(p, s, plen)) {
            return 0;
        }
        p += plen;
        s += slen;
        if (!*p && !*s) break;
    }
    if (nseg) *nseg = n;
    return 1;
}

static int same_method(const char *route, const char *method) {
    /* HEAD is GET without a body (libmicrohttpd drops the body). */
    return !strcmp(route, method) || (!strcmp(method, "HEAD") && !strcmp(route, "GET"));
}

int rc__http_route_find(const char *method, const char *path, char *allowed, size_t alen) {
    size_t used = 0;
    if (alen) allowed[0] = '\0';
    for (size_t i = 0; i < rc__http_nroutes; i++) {
        const rc_http_route *r = &rc__http_routes[i];
        if (!match(r->pattern, path, NULL, NULL)) continue;
        if (same_method(r->method, method)) return (int)i;
        if (alen && !strstr(allowed, r->method)) {
            int w = snprintf(allowed + used, alen - used, "%s%s", used ? ", " : "", r->method);
            if (w > 0 && (size_t)w < alen - used) used += (size_t)w;
        }
    }
    return -1;
}

int rc__http_authorize(rc_http_env *env, const char *method, const char *path,
                       const char *authorization, rc_http_res *res) {
    /* Access control, in this one place for every route: when any
     * credential is configured, everything but GET /health (a load
     * balancer's probe, which tells nothing) needs a bearer token, checked
     * before routing so that a 404 or 405 does not reveal which paths
     * exist. A read-only token may not change anything: 403 on POST, PUT,
     * PATCH and DELETE. Missing and wrong tokens get the same answer. The
     * glue calls this as soon as the headers are in, before any body is
     * read; the dispatcher calls it for callers that did not. */
    if (!rc_auth_required(env->cfg)) return RC_OK;
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    /* ... and the web console's static files, which hold no data: the page
     * must load to ask for the token it then sends to the API. */
    int is_public = is_get && (!strcmp(path, "/health") || rc__http_console_path(path));
    if (is_public) return RC_OK;
    rc_auth_role role = RC_AUTH_RW;
    if (rc_auth_check_bearer(env->cfg, authorization, &role, NULL, 0) != RC_OK) {
        rc__http_res_problem(res, RC_NOAUTH,
                             "authentication required: send Authorization: Bearer <token> "
                             "(NAME:PASSWORD, or the requirepass)");
        rc__http_res_header(res, "WWW-Authenticate", "Bearer realm=\"redcar\"");
        return RC_NOAUTH;
    }
    if (role == RC_AUTH_RO && rc__http_route_find(method, path, NULL, 0) >= 0 &&
        (!strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH") ||
         !strcmp(method, "DELETE"))) {
        rc__http_res_problem(res, RC_NOPERM, "this token is read-only: it may not change anything");
        return RC_NOPERM;
    }
    return RC_OK;
}

int rc__http_dispatch(rc_http_req *req, rc_http_res *res) {
    if (!req->authorized &&
        rc__http_authorize(req->env, req->method, req->path,
                           rc__http_req_header(req, "Authorization"), res) != RC_OK)
        return rc__http_route_find(req->method, req->path, NULL, 0);
    char allowed[64] = "";
    /* The glue looked the route up already when it found one; otherwise
     * look again, for the Allow list of a 405. */
    int idx = req->route > 0 ? req->route - 1
                             : rc__http_route_find(req->method, req->path, allowed, sizeof allowed);
    if (idx < 0) {
        if (allowed[0]) {
            char detail[128];
            snprintf(detail, sizeof detail, "%s is not allowed here; allowed: %s", req->method,
                     allowed);
            rc__http_res_problem_http(res, 405, "method-not-allowed", "Method Not Allowed", detail);
            rc__http_res_header(res, "Allow", allowed);
        } else {
            rc__http_res_problem_http(res, 404, "not-found", "Not Found", "no such resource");
        }
        return -1;
    }
    const rc_http_route *r = &rc__http_routes[idx];
    size_t seg[RC_HTTP_MAX_PARAMS][2], n = 0;
    match(r->pattern, req->path, seg, &n);
    size_t offs[RC_HTTP_MAX_PARAMS];
    rc_buf_reset(&req->param_store);
    for (size_t i = 0; i < n; i++) {
        offs[i] = req->param_store.len;
        if (rc__http_pct_decode(req->path + seg[i][0], seg[i][1], 0, &req->param_store)) {
            rc__http_res_problem(res, RC_INVALID, "path: invalid percent-encoding");
            return idx;
        }
        rc_buf_putc(&req->param_store, '\0');
    }
    for (size_t i = 0; i < n; i++) req->params[i] = req->param_store.p + offs[i];
    req->n_params = n;
    if (atomic_load(&req->env->stopping)) {
        rc__http_res_problem(res, RC_SHUTDOWN, NULL);
        return idx;
    }
    /* Timed for the slow log around the handler only: a deferred answer
     * (an append waiting for durability) is not the handler's time. */
    rc_slowlog *sl = rc_slowlog_process();
    if (req->env->cfg) rc_slowlog_sync(sl, req->env->cfg);
    if (!rc_slowlog_enabled(sl)) {
        r->handler(req, res);
        return idx;
    }
    int64_t t0 = rc_slowlog_clock_us();
    r->handler(req, res);
    int64_t dur = rc_slowlog_clock_us() - t0;
    if (!rc_slowlog_is_slow(sl, dur)) return idx;
    const char *argv[2] = {req->method, req->path};
    size_t argvlen[2] = {strlen(req->method), strlen(req->path)};
    char peer[64] = "";
    if (req->peer) rc_sockaddr_str(req->peer, peer, sizeof peer);
    rc_slowlog_record(sl, RC_SLOWLOG_HTTP, dur, 2, argv, argvlen, peer,
                      rc__http_req_header(req, "User-Agent"));
    return idx;
}
