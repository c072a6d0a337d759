/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The slow log (Redis SLOWLOG, over both doors): a bounded ring of the
 * operations that took longer than slowlog-log-slower-than microseconds,
 * newest first, at most slowlog-max-len of them. A RESP entry holds the
 * command and its arguments (at most 32, each cut at 128 bytes, as Redis
 * does); an HTTP entry holds the method and the path.
 *
 * What is timed is the command or handler itself, not the wait for a write
 * to become durable (an append is handed to the store and answered later):
 * the slow log finds work that holds up a door, like Redis's.
 *
 * Thread-safe: both doors record into one log from their own threads. The
 * process has one log (rc_slowlog_process()), as it has one logger; tests
 * may make their own with rc_slowlog_new().
 */
#ifndef REDCAR_SLOWLOG_H
#define REDCAR_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_SLOWLOG_MAX_ARGC 32
#define RC_SLOWLOG_MAX_ARGLEN 128

typedef enum { RC_SLOWLOG_RESP, RC_SLOWLOG_HTTP } rc_slowlog_door;

typedef struct rc_slowlog rc_slowlog;

/* One entry, as copied out by rc_slowlog_get(). */
typedef struct rc_slowlog_entry {
    uint64_t id;          /* increasing, never reused (RESET keeps counting) */
    int64_t ts_us;        /* wall clock at the end of the operation, µs since the epoch */
    int64_t duration_us;
    rc_slowlog_door door;
    size_t argc;          /* RESP: command + arguments; HTTP: 2 (method, path) */
    char **argv;          /* NUL-terminated, already shortened as described above */
    size_t *argvlen;
    char addr[64];        /* peer "ip:port" ("" when the door does not know it) */
    char name[64];        /* CLIENT SETNAME / User-Agent ("" when none) */
} rc_slowlog_entry;

rc_slowlog *rc_slowlog_new(void); /* threshold 10000 µs, 128 entries; NULL when out of memory */
void rc_slowlog_free(rc_slowlog *sl);
/* The process's log, shared by the doors. Never NULL, never freed. */
rc_slowlog *rc_slowlog_process(void);

/* Set the threshold (µs; -1 off, 0 everything) and the length (older
 * entries beyond it are dropped at once). */
void rc_slowlog_configure(rc_slowlog *sl, int64_t slower_than_us, size_t max_len);
/* Re-read slowlog-log-slower-than and slowlog-max-len from cfg when it
 * changed since the last call (one atomic load otherwise). */
void rc_slowlog_sync(rc_slowlog *sl, rc_config *cfg);

/* Monotonic microseconds, for timing an operation. */
int64_t rc_slowlog_clock_us(void);
/* 1 when the log is on at all: a door skips the clock when it is off. */
int rc_slowlog_enabled(rc_slowlog *sl);
/* 1 when an operation of duration_us would be recorded: a door may build
 * costly details (the peer's address as text) only then. */
int rc_slowlog_is_slow(rc_slowlog *sl, int64_t duration_us);
/* Record an operation that took duration_us, if it passes the threshold.
 * argv[i] need not be NUL-terminated; everything is copied (and cut).
 * addr and name may be NULL. */
void rc_slowlog_record(rc_slowlog *sl, rc_slowlog_door door, int64_t duration_us, size_t argc,
                       const char *const *argv, const size_t *argvlen, const char *addr,
                       const char *name);

/* Copies of the newest min(n, len) entries, newest first, into *out (the
 * caller frees them with rc_slowlog_entries_free). Returns the count;
 * 0 with *out NULL when empty or out of memory. */
size_t rc_slowlog_get(rc_slowlog *sl, size_t n, rc_slowlog_entry **out);
void rc_slowlog_entries_free(rc_slowlog_entry *e, size_t n);
size_t rc_slowlog_len(rc_slowlog *sl);
void rc_slowlog_reset(rc_slowlog *sl);
const char *rc_slowlog_door_name(rc_slowlog_door door); /* "resp", "http" */

#ifdef __cplusplus
}
#endif
#endif
