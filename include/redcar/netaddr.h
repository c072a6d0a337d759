/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket addresses as text, the one way both doors show a peer (CLIENT
 * LIST, the slow log): "ip:port", with the IPv6 address as inet_ntop
 * writes it, as Redis shows it.
 */
#ifndef REDCAR_NETADDR_H
#define REDCAR_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes "ip:port" (or "?:0" for a family other than IPv4/IPv6, or a NULL
 * address) into out, always NUL-terminated. */
void rc_sockaddr_str(const struct sockaddr *sa, char *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
