/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS for the doors, on GnuTLS: server credentials (certificate, key and an
 * optional CA for client certificates) and server sessions over a
 * non-blocking socket. Pure set-up and I/O helpers: no event loop, no
 * threads. The RESP door drives a session from its epoll loop; the HTTP door
 * hands the PEM text to libmicrohttpd, which runs GnuTLS itself.
 *
 * Client certificates (tls-auth-clients, Redis's setting): RC_TLS_AUTH_NO
 * never asks for one; OPTIONAL asks, and a certificate that is sent must
 * verify against the CA; YES refuses the handshake without a valid one.
 * Verification happens inside the handshake, so a refused client never gets
 * to send a command.
 *
 * Ownership: an rc_tls is immutable after rc_tls_new() and may be shared by
 * any number of threads and sessions; it must outlive them. An rc_tls_conn
 * belongs to one thread at a time and does not own its fd.
 */
#ifndef REDCAR_TLS_H
#define REDCAR_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "redcar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RC_TLS_AUTH_NO, RC_TLS_AUTH_OPTIONAL, RC_TLS_AUTH_YES } rc_tls_auth;

typedef struct rc_tls_opts {
    const char *cert_file; /* PEM: the server certificate, then any intermediates */
    const char *key_file;  /* PEM: its private key (unencrypted) */
    const char *ca_file;   /* PEM: CAs that sign client certificates; NULL or "" = none */
    rc_tls_auth auth;      /* OPTIONAL and YES need ca_file */
} rc_tls_opts;

typedef struct rc_tls rc_tls;

/* Reads and checks the files (certificate and key parse and match, the CA
 * parses). err names the file and GnuTLS's reason. */
int rc_tls_new(rc_tls **out, const rc_tls_opts *o, rc_err *err);
void rc_tls_free(rc_tls *t); /* NULL-safe */

/* "no" | "optional" | "yes" -> mode; RC_INVALID for anything else. */
int rc_tls_auth_parse(const char *s, rc_tls_auth *out);
rc_tls_auth rc_tls_auth_mode(const rc_tls *t);

/* The PEM text of the loaded files, NUL-terminated, owned by t (for
 * libmicrohttpd's MHD_OPTION_HTTPS_MEM_*). ca is NULL when none was given. */
const char *rc_tls_cert_pem(const rc_tls *t);
const char *rc_tls_key_pem(const rc_tls *t);
const char *rc_tls_ca_pem(const rc_tls *t);

/* Applies t's client-certificate policy to a server session that someone
 * else created (libmicrohttpd's): asks for a certificate and verifies it in
 * the handshake. session is a gnutls_session_t. RC_OK or RC_INTERNAL. */
int rc_tls_session_policy(const rc_tls *t, void *session);

/* ---- a server session over a non-blocking socket ---------------------------- */
typedef struct rc_tls_conn rc_tls_conn;

int rc_tls_conn_new(rc_tls_conn **out, const rc_tls *t, int fd, rc_err *err);
void rc_tls_conn_free(rc_tls_conn *c); /* NULL-safe; does not close fd */

/* One handshake step: RC_TLS_DONE, RC_TLS_AGAIN (call again when the socket
 * is ready in the direction rc_tls_conn_want_write() says), or RC_TLS_FAILED
 * with the reason in err (bad client certificate, not TLS, peer gone). */
enum { RC_TLS_DONE = 0, RC_TLS_AGAIN = 1, RC_TLS_FAILED = -1 };
int rc_tls_conn_handshake(rc_tls_conn *c, rc_err *err);
int rc_tls_conn_handshake_done(const rc_tls_conn *c);

/* Like read(2)/write(2) on the socket, through the session: > 0 bytes, 0 on
 * the peer's close (read only), -1 with errno EAGAIN (come back when the
 * socket is ready: rc_tls_conn_want_write() says which way) or EIO
 * (rc_tls_conn_error() has the reason). Before the handshake is done they
 * step it and answer EAGAIN until it is.
 * After a write answered EAGAIN, the next write must offer at least as many
 * bytes from the same position: GnuTLS already encrypted them and sends
 * those first; the count it then returns is of that earlier attempt. */
ssize_t rc_tls_conn_read(rc_tls_conn *c, void *buf, size_t n);
ssize_t rc_tls_conn_write(rc_tls_conn *c, const void *buf, size_t n);
/* Decrypted bytes buffered inside GnuTLS: the socket will not signal them,
 * so the caller must read again while this is > 0. */
size_t rc_tls_conn_pending(rc_tls_conn *c);
/* 1 when the last EAGAIN was waiting to send (poll for writable), 0 for receive. */
int rc_tls_conn_want_write(const rc_tls_conn *c);
/* GnuTLS's text for the last failure. */
const char *rc_tls_conn_error(const rc_tls_conn *c);
/* A best-effort close_notify that never blocks. */
void rc_tls_conn_bye(rc_tls_conn *c);

#ifdef __cplusplus
}
#endif
#endif
