/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server process: start-up and shut-down order around the store, the
 * hub and the two doors. main.c only parses arguments and calls this.
 *
 * Start-up: log -> store (lock, migrate) -> hub (commit hook) -> cluster
 * (with --cluster: replicator and apply loop) -> push (webhook delivery)
 * -> HTTP, HTTPS -> RESP (plain and TLS listeners; TLS credentials are read
 * before the store opens, so a bad file stops the start).
 * Shut-down (SIGINT/SIGTERM): doors stop accepting and finish in-flight
 * appends -> push stops delivering -> cluster stops applying -> store
 * drains its queue and closes -> hub.
 */
#ifndef REDCAR_SERVER_H
#define REDCAR_SERVER_H

#include "redcar/config.h"
#include "redcar/status.h"

/* Run until SIGINT/SIGTERM. Returns a process exit code. */
int rc_server_run(rc_config *cfg);

/* Split "HOST:PORT" (IPv6 as [::1]:PORT). RC_OK or RC_INVALID. */
int rc_server_split_addr(const char *addr, char *host, size_t hostlen, int *port);
/* 1 when host is a loopback address or name. */
int rc_server_is_loopback(const char *host);

#endif
