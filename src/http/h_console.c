/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serving the web console. The files are public (they hold no data; every
 * figure the page shows comes from the API, which asks for a token when
 * credentials are configured), revalidated by ETag on each load
 * (Cache-Control: no-cache, 304 on a match), and sent with a strict
 * Content-Security-Policy: scripts, styles and connections only from this
 * origin, no inline code, no frames.
 */
#include <string.h>

#include "http/h_console.h"
#include "redcar/console.h"

#define CSP                                                                                      \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

int rc__http_console_path(const char *path) {
    return !strcmp(path, "/") || !strcmp(path, "/console") || !strncmp(path, "/console/", 9);
}

void rc__h_console_redirect(const rc_http_req *req, rc_http_res *res) {
    (void)req;
    rc__http_res_header(res, "Location", "/console/");
    rc__http_res_send(res, 302, "text/plain; charset=utf-8", "see /console/\n", 14);
}

/* 1 when If-None-Match lists etag (or is "*"). */
static int etag_matches(const char *inm, const char *etag) {
    if (!inm) return 0;
    if (!strcmp(inm, "*")) return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ') return 1;
    }
    return 0;
}

static void serve(const rc_http_req *req, rc_http_res *res, const char *name) {
    const rc_console_asset *a = rc_console_find(name);
    if (!a) {
        rc__http_res_problem_http(res, 404, "not-found", "Not Found", "no such console file");
        return;
    }
    rc__http_res_header(res, "ETag", a->etag);
    rc__http_res_header(res, "Cache-Control", "no-cache");
    rc__http_res_header(res, "X-Content-Type-Options", "nosniff");
    rc__http_res_header(res, "Referrer-Policy", "no-referrer");
    rc__http_res_header(res, "Content-Security-Policy", CSP);
    if (etag_matches(rc__http_req_header(req, "If-None-Match"), a->etag)) {
        rc__http_res_send(res, 304, NULL, "", 0);
        return;
    }
    rc__http_res_send(res, 200, a->content_type, a->data, a->len);
}

void rc__h_console_index(const rc_http_req *req, rc_http_res *res) { serve(req, res, ""); }

void rc__h_console_asset(const rc_http_req *req, rc_http_res *res) { serve(req, res, req->params[0]); }
