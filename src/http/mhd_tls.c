/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS glue (see mhd_tls.h). Beside mhd.c, the only other file that
 * includes microhttpd.h: it keeps TLS out of the request path.
 *
 * libmicrohttpd loads the certificate and key from memory (the PEM text
 * rc_tls read and checked at start-up) and, given a trust list, asks for
 * client certificates but never verifies them; rc_tls_session_policy()
 * makes GnuTLS verify them inside the handshake and, with
 * tls-auth-clients yes, require one.
 */
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/mhd_tls.h"
#include "redcar/log.h"

void rc__http_tls_options(const rc_tls *t, unsigned *flags, struct MHD_OptionItem *opts) {
    size_t n = 0;
    if (t) {
        *flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)rc_tls_cert_pem(t)};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)rc_tls_key_pem(t)};
        if (rc_tls_auth_mode(t) != RC_TLS_AUTH_NO && rc_tls_ca_pem(t))
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)(uintptr_t)rc_tls_ca_pem(t)};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

void rc__http_tls_connection(const rc_tls *t, struct MHD_Connection *conn) {
    if (rc_tls_auth_mode(t) == RC_TLS_AUTH_NO) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci && ci->tls_session && rc_tls_session_policy(t, ci->tls_session) == RC_OK) return;
    /* Fail closed: without the policy the client would go unchecked. */
    RC_WARN("http", "https: cannot apply tls-auth-clients to a new connection; closing it");
    const union MHD_ConnectionInfo *fi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (fi) shutdown(fi->connect_fd, SHUT_RDWR);
}
