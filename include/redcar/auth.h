/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access control shared by both doors: who may connect, and whether they may
 * write. Credentials are the `requirepass` setting (the password of the
 * `default` user, read-write, as in Redis) and any number of `user`
 * settings (a name, a role ro|rw and a password). Both doors ask the same
 * two questions: rc_auth_required() ("is anything configured?") and
 * rc_auth_check() ("does this name and password hold, and with which
 * role?").
 *
 * Secrets: passwords are kept only as SHA-256 digests, written as text
 * "#<64 lowercase hex>" (Redis ACL's notation); a setting whose value is
 * already in that form is taken as a digest, so config files need not hold
 * plaintext. Checks hash the candidate once and compare digests with a
 * constant-time compare against every configured user, so neither the
 * answer's timing nor its wording tells a wrong name from a wrong password.
 *
 * Trust boundary: names, passwords and tokens come from the network; they
 * are treated as bytes (lengths given), never as format strings.
 */
#ifndef REDCAR_AUTH_H
#define REDCAR_AUTH_H

#include <stddef.h>

#include "redcar/config.h"
#include "redcar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RC_AUTH_NONE = 0, /* not authenticated (or wrong credentials) */
    RC_AUTH_RO = 1,   /* reads only: every write is refused (NOPERM / 403) */
    RC_AUTH_RW = 2    /* reads and writes */
} rc_auth_role;

#define RC_SHA256_LEN 32
/* "#" + 64 hex digits */
#define RC_AUTH_SECRET_LEN 65
/* Longest user name; names are [A-Za-z0-9._@-]+ and "default" is reserved
 * for requirepass. */
#define RC_AUTH_NAME_MAX 32
/* Most `user` entries (the whole list must stay a short setting value). */
#define RC_AUTH_MAX_USERS 64

/* ---- pure helpers -------------------------------------------------------------- */

/* FIPS 180-4 SHA-256 of data[0..len). */
void rc_sha256(const void *data, size_t len, unsigned char out[RC_SHA256_LEN]);
/* 1 when a[0..n) == b[0..n); the time taken depends on n only. */
int rc_auth_ct_equal(const void *a, const void *b, size_t n);
/* "none", "ro", "rw". */
const char *rc_auth_role_name(rc_auth_role r);

/* The stored form of a password: "" stays "" (no password); a value that is
 * already "#<64 hex>" is kept (lowercased); anything else becomes
 * "#" + hex(SHA-256(pass)). out holds RC_AUTH_SECRET_LEN + 1 bytes. */
void rc_auth_secret(const char *pass, char out[RC_AUTH_SECRET_LEN + 1]);

/* The `user` setting. Its stored value is a space-separated list of
 * "NAME:ROLE:#digest" entries. rc_auth_users_merge() applies one value
 * given to the setting to the list `old` and returns the new list in *out
 * (malloc'd, caller frees). A value is one of:
 *   ""                          no users at all (clears the list);
 *   "NAME ROLE PASSWORD"        one user; PASSWORD is the rest of the value
 *                               and may hold spaces and colons;
 *   "NAME:ROLE:PASSWORD ..."    one or more users separated by spaces (the
 *                               form --user and CONFIG GET use); a password
 *                               here may hold colons but not spaces.
 * A user whose name is already listed is replaced in place; others are
 * appended. RC_OK, RC_NOMEM, or RC_INVALID with a message naming the
 * problem (never echoing a password); *out is untouched on error. */
int rc_auth_users_merge(const char *old, const char *value, char **out, rc_err *err);

/* ---- checks against a configuration ---------------------------------------------- */

/* 1 when any credential is configured (requirepass or a user). */
int rc_auth_required(rc_config *cfg);

/* Does user/pass hold? user NULL (AUTH <password>) or "default" means the
 * requirepass. RC_OK with *role set, or RC_NOAUTH with *role = RC_AUTH_NONE
 * (wrong name, wrong password, or the default user has no password while
 * other users exist: it is disabled then). */
int rc_auth_check(rc_config *cfg, const char *user, size_t ulen, const char *pass, size_t plen,
                  rc_auth_role *role);

/* An HTTP Authorization header value: "Bearer <token>", where the token is
 * "NAME:PASSWORD" or just the requirepass (the default user). Leading and
 * trailing spaces around the token are ignored; the scheme is
 * case-insensitive. NULL or another scheme: RC_NOAUTH. On RC_OK *role is
 * set and, when user is non-NULL, the user's name ("default" for the
 * requirepass) is copied there (userlen > RC_AUTH_NAME_MAX). */
int rc_auth_check_bearer(rc_config *cfg, const char *header, rc_auth_role *role, char *user,
                         size_t userlen);

#ifdef __cplusplus
}
#endif
#endif
