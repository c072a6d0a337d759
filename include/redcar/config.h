/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Settings: one table row per setting (name, type, bounds, default, flags,
 * help). Command-line parsing, the config file (redis.conf style: one
 * `name value` per line, # comments, quoted values), --help, RESP CONFIG
 * GET/SET and HTTP /info all read the same table (Redis config.c).
 *
 * Settings (name: default):
 *   http 127.0.0.1:8519 (-a), resp 127.0.0.1:6379 (-r), dir ./redcar-data (-d),
 *   logfile stderr (-o), loglevel info (-l), log-format text, fsync always,
 *   requirepass "", user "" (a list: see redcar/auth.h), maxclients 10000, protected-mode yes,
 *   http-max-body 16mb, http-timeout 30s, http-threads 4, sse-heartbeat 15s,
 *   proto-max-bulk-len 512mb, proto-max-multibulk 1048576, client-query-buffer-limit 1gb,
 *   client-output-buffer-limit-pubsub 32mb, notify-keyspace-events "",
 *   max-batch 10000, max-event-size 1mb, slowlog-log-slower-than 10000 (µs), slowlog-max-len 128
 *   TLS: tls-port "" and https "" (off; [HOST:]PORT), tls-cert-file, tls-key-file,
 *   tls-ca-cert-file "", tls-auth-clients no (no|optional|yes); "" also turns http or resp off
 *
 * Thread-safe: getters and setters take the handle's lock, so a door may read
 * a setting on every use and see CONFIG SET changes at once.
 */
#ifndef REDCAR_CONFIG_H
#define REDCAR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "redcar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_config rc_config;

rc_config *rc_config_new(void);            /* every setting at its default */
void rc_config_free(rc_config *cfg);

/* Set by name (config-file key), validating type and bounds. Sizes accept
 * k/kb/m/mb/g/gb suffixes, durations ms/s/m/h, booleans yes/no/true/false.
 * RC_NOT_FOUND for an unknown name; RC_INVALID with a message otherwise.
 * runtime != 0 refuses settings that cannot change while running. */
int rc_config_set(rc_config *cfg, const char *name, const char *value, int runtime, rc_err *err);
/* Current value formatted as text. RC_OK or RC_NOT_FOUND. */
int rc_config_get(rc_config *cfg, const char *name, char *out, size_t outlen);
/* Changes with every successful rc_config_set(): cheap (one atomic load),
 * for code that caches settings on a hot path and re-reads them when it moves. */
uint64_t rc_config_generation(rc_config *cfg);
/* Typed reads of known names; abort()s on an unknown name (a programming error). */
int64_t rc_config_int(rc_config *cfg, const char *name);   /* ints, sizes (bytes), durations (ms), bools */
/* A malloc'd copy of a setting's text, whatever its length (the `user`
 * list can be long); the caller frees it. NULL for an unknown name or when
 * out of memory. */
char *rc_config_dup(rc_config *cfg, const char *name);
/* Copies the string value into out; returns out. */
char *rc_config_str(rc_config *cfg, const char *name, char *out, size_t outlen);

/* Every setting whose name matches the Redis glob (NULL = all), in table order. */
typedef void (*rc_config_fn)(void *arg, const char *name, const char *value);
void rc_config_each(rc_config *cfg, const char *glob, rc_config_fn fn, void *arg);

/* redis.conf-style file; err names the file and line. */
int rc_config_load_file(rc_config *cfg, const char *path, rc_err *err);
/* The same parser over text in memory (no I/O; text need not be
 * NUL-terminated, len bytes are read). name labels errors ("name:line: ...").
 * Lines are applied in order; on error, lines before it stay applied. A line
 * longer than 4094 bytes or holding a NUL byte is an error. */
int rc_config_load_string(rc_config *cfg, const char *text, size_t len, const char *name, rc_err *err);
/* Command line: flags (short and long) override the file; a single
 * positional argument is the config file. --help / --version set *exit_now
 * after printing. */
int rc_config_parse_args(rc_config *cfg, int argc, char **argv, int *exit_now, rc_err *err);
/* Usage text generated from the table. */
void rc_config_usage(FILE *out);
/* A commented config file with every setting at its default. */
void rc_config_write_default(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
