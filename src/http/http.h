/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP door: CloudEvents over HTTP (binary, structured and batched
 * modes), log reads, Server-Sent Events, the KV view, health, info and
 * metrics, served by libmicrohttpd.
 *
 * The door translates HTTP into store/hub calls and decides nothing about
 * the log. Everything it reads from the network is untrusted: bodies are
 * capped (http-max-body), slow clients time out (http-timeout), and bad
 * input gets a problem+json answer, never a crash or a hang.
 *
 * Ownership: rc_http_start() borrows st, hub and o->cfg; they must outlive
 * the handle. rc_http_stop() is NULL-safe and frees the handle.
 */
#ifndef REDCAR_HTTP_H
#define REDCAR_HTTP_H

#include "redcar/config.h"
#include "redcar/hub.h"
#include "redcar/status.h"
#include "redcar/store.h"
#include "redcar/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_http rc_http;
typedef struct rc_http_opts {
    const char *host;
    int port; /* 0 = pick a free port */
    rc_config *cfg;
    const rc_tls *tls; /* non-NULL: serve HTTPS with it (borrowed; must outlive the door) */
} rc_http_opts;
int rc_http_start(rc_http **out, const rc_http_opts *o, rc_store *st, rc_hub *hub, rc_err *err);
int rc_http_port(const rc_http *h);
void rc_http_stop(rc_http *h);   /* stop accepting, finish in-flight appends, close */

#ifdef __cplusplus
}
#endif
#endif
