/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Online backup of a store: a consistent copy of the whole database (the
 * log, the KV view, durable consumers) taken while appends continue.
 *
 * The copy is one read transaction (a WAL snapshot) on a connection of its
 * own, copied page by page with SQLite's backup API. Readers never block
 * the writer in WAL mode, so appends keep committing during the copy; they
 * are simply not part of it. The WAL grows meanwhile (checkpoints cannot
 * pass the snapshot) and shrinks back after.
 *
 * Restore: the copy is a complete Redcar database. Put it in an empty data
 * directory as redcar.db and start redcar with -d on that directory.
 *
 * Trust boundary: `path` comes from the operator (or from the HTTP door,
 * which only ever passes a temporary file it created); it is never taken
 * from the network.
 */
#ifndef REDCAR_BACKUP_H
#define REDCAR_BACKUP_H

#include <stdint.h>

#include "redcar/status.h"
#include "redcar/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a finished backup holds. */
typedef struct rc_backup_info {
    uint64_t head_seq;   /* latest seq in the copy (0 = empty log) */
    uint64_t events;     /* events in the copy */
    uint64_t bytes;      /* size of the file written */
    uint64_t pages;      /* database pages copied */
} rc_backup_info;

/* Progress, called between steps on the backing-up thread: pages copied
 * so far and in all. Return non-zero to cancel (the backup then fails
 * with RC_SHUTDOWN and removes its file). */
typedef int (*rc_backup_progress)(void *arg, uint64_t done, uint64_t total);

typedef struct rc_backup_opts {
    rc_backup_progress progress; /* may be NULL */
    void *arg;
    int step_pages;              /* pages per step (default 1024) */
    int no_sync;                 /* 1: skip the final fsync (a file about to be streamed) */
} rc_backup_opts;

/* Copy the database to `path`, which must not exist or be an empty file
 * (as mkstemp() leaves it): an existing file with content is never
 * overwritten (RC_INVALID). The file is fsync'ed before success is
 * returned. On failure nothing is left at path (an empty file given by
 * the caller is truncated back to empty). Callable from any thread while
 * the store is open; blocks for the duration of the copy. */
int rc_store_backup(rc_store *st, const char *path, rc_err *err);
/* Same with options; info (may be NULL) receives what was copied. */
int rc_store_backup_ex(rc_store *st, const char *path, const rc_backup_opts *opts,
                       rc_backup_info *info, rc_err *err);

/* The store's data directory (borrowed; valid while the store is open):
 * where the HTTP door puts the temporary file of a streamed backup. */
const char *rc_store_dir(const rc_store *st);

#ifdef __cplusplus
}
#endif
#endif
