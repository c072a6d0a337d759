/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web console's routes (h_console.c): GET / and /console redirect to
 * /console/, which serves the embedded files (redcar/console.h).
 */
#ifndef REDCAR_HTTP_H_CONSOLE_H
#define REDCAR_HTTP_H_CONSOLE_H

#include "http/http_internal.h"

void rc__h_console_redirect(const rc_http_req *req, rc_http_res *res);
void rc__h_console_index(const rc_http_req *req, rc_http_res *res);
void rc__h_console_asset(const rc_http_req *req, rc_http_res *res);
/* 1 when path is one of the console's (public: the files hold no data, and
 * the page must load before it can ask for a token). */
int rc__http_console_path(const char *path);

#endif
