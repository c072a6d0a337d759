/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: per-server limits on the age, count and bytes of the log.
 *
 * Trimming removes a prefix of the log, oldest seq first, and never the
 * newest event (the head's seq must survive a restart so that seqs are
 * never reused). The KV view keeps current values whatever was trimmed:
 * it is a table of its own, not a replay of the log. Reads that ask for a
 * position retention removed fail with RC_TRIMMED and a message naming
 * the earliest stored seq (RC_TRIMMED_EARLIEST below), never a silent
 * skip; "from the beginning" means from the earliest stored event.
 *
 * Since seqs are gapless and only the front is trimmed, the events
 * trimmed in the store's lifetime are the earliest stored seq - 1.
 *
 * Threads: rc_store_retain blocks (its work runs on the store's writer
 * thread in transactions of at most RC_RETENTION_CHUNK events, so appends
 * interleave with a long trim); it must not be called on the writer thread.
 */
#ifndef REDCAR_RETENTION_H
#define REDCAR_RETENTION_H

#include <stdint.h>

#include "redcar/config.h"
#include "redcar/status.h"
#include "redcar/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_RETENTION_CHUNK 2000
/* The phrase before the earliest stored seq in an RC_TRIMMED message. */
#define RC_TRIMMED_EARLIEST "the earliest stored seq is "

typedef struct rc_retention_limits {
    int64_t max_age_ms;   /* 0: none. Events whose time is older than now - max_age_ms */
    uint64_t max_events;  /* 0: none */
    uint64_t max_bytes;   /* 0: none. Pages in use by the database (the log with its
                           * indexes, and the KV view and consumer tables, which are
                           * not trimmed: they only count) */
} rc_retention_limits;

/* One pass: trim the front of the log until it is within every limit.
 * *trimmed (may be NULL) = events removed. */
int rc_store_retain(rc_store *st, const rc_retention_limits *lim, uint64_t *trimmed, rc_err *err);

/* A background runner: checks the limits (read from cfg at each check:
 * retention-max-age, retention-max-events, retention-max-bytes,
 * retention-interval) every interval, and the event count also right after
 * appends pass the limit (within a fraction of a second), then trims. */
typedef struct rc_retention rc_retention;
int rc_retention_start(rc_retention **out, rc_store *st, rc_config *cfg, rc_err *err);
void rc_retention_stop(rc_retention *r); /* NULL-safe; waits for a pass in progress */

typedef struct rc_retention_stats {
    uint64_t passes;      /* passes that trimmed something, since start */
    uint64_t trimmed;     /* events trimmed since start */
} rc_retention_stats;
void rc_retention_stats_get(rc_retention *r, rc_retention_stats *out);

#ifdef __cplusplus
}
#endif
#endif
