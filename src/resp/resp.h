/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RESP door: Redis clients on the event log. One thread runs an epoll
 * loop over non-blocking sockets; writes go to the store's writer thread and
 * come back through a completion queue; live messages come from the hub.
 */
#ifndef RC_RESP_H
#define RC_RESP_H

#include "redcar/config.h"
#include "redcar/hub.h"
#include "redcar/status.h"
#include "redcar/store.h"
#include "redcar/tls.h"

typedef struct rc_resp rc_resp;
typedef struct rc_resp_opts {
    const char *host; /* NULL: no plain listener (TLS only) */
    int port;         /* 0 = pick a free port */
    rc_config *cfg;
    /* RESP over TLS on a second listener (tls-port); tls NULL = none. tls is
     * borrowed and must outlive the door. */
    const rc_tls *tls;
    const char *tls_host;
    int tls_port;
} rc_resp_opts;
int rc_resp_start(rc_resp **out, const rc_resp_opts *o, rc_store *st, rc_hub *hub, rc_err *err); /* own thread */
int rc_resp_port(const rc_resp *r);      /* the bound port */
int rc_resp_tls_port(const rc_resp *r);  /* the bound TLS port; 0 if none */
void rc_resp_stop(rc_resp *r);           /* stop accepting, finish in-flight writes, close clients, join */

#endif
