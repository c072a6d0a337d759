/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS for the HTTP door: libmicrohttpd runs GnuTLS itself; this hands it
 * the certificate from an rc_tls (redcar/tls.h) and applies the client
 * certificate policy to each new connection. Used only by mhd.c.
 */
#ifndef RC_HTTP_MHD_TLS_H
#define RC_HTTP_MHD_TLS_H

#include "redcar/tls.h"

struct MHD_OptionItem;
struct MHD_Connection;

/* Room rc__http_tls_options() needs in its array, MHD_OPTION_END included. */
#define RC__HTTP_TLS_NOPTS 4

/* Fills opts for MHD_OPTION_ARRAY and adds MHD_USE_TLS to *flags; with t
 * NULL, opts is just MHD_OPTION_END and the daemon stays plain HTTP. */
void rc__http_tls_options(const rc_tls *t, unsigned *flags, struct MHD_OptionItem *opts);
/* At MHD_CONNECTION_NOTIFY_STARTED: the TLS session exists and its
 * handshake has not begun, so the client certificate policy still applies. */
void rc__http_tls_connection(const rc_tls *t, struct MHD_Connection *conn);

#endif
