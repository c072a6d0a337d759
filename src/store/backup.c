/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Online backup (include/redcar/backup.h): the database copied page by page
 * with SQLite's backup API from one read snapshot.
 *
 * Why a connection of its own and not one of the read pool: a backup holds
 * its connection for as long as the copy takes, and a pool slot held for
 * seconds would starve short reads. Why an explicit read transaction around
 * the steps: the backup API restarts from page 1 whenever another
 * connection changes the source between steps; inside one read transaction
 * the source never changes (WAL snapshot), so the copy is consistent and
 * finishes however fast the writer appends, while the writer never waits
 * for it (readers do not block writers, and the store's checkpoints are
 * all PASSIVE).
 *
 * The destination is written without a journal and without syncs (a
 * half-written copy is deleted, never used), its write-back started after
 * every step so that it reaches the disk at an even pace, then fsync'ed
 * once at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "redcar/backup.h"
#include "store/store_int.h"

#define DEFAULT_STEP_PAGES 1024
#define BUSY_RETRIES 500 /* x 10 ms: the destination is ours, so BUSY is rare */

const char *rc_store_dir(const rc_store *st) { return st ? st->dir : NULL; }

int rc_store_backup(rc_store *st, const char *path, rc_err *err) {
    return rc_store_backup_ex(st, path, NULL, NULL, err);
}

/* errno of a failed open/write -> status. */
static int errno_status(int e) {
    switch (e) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return RC_DISK_FULL;
    case EROFS: return RC_READONLY;
    case EACCES:
    case EPERM: return RC_NOPERM;
    case ENOENT:
    case ENOTDIR: return RC_NOT_FOUND;
    default: return RC_IO;
    }
}

/* Open the destination: create it, or take an empty regular file. */
static int open_dest(const char *path, int *fd, int *created, rc_err *err) {
    *created = 0;
    *fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (*fd >= 0) {
        *created = 1;
        return RC_OK;
    }
    int e = errno;
    if (e != EEXIST)
        return rc_err_set(err, errno_status(e), "backup: cannot create %s: %s", path, strerror(e));
    *fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (*fd < 0 || fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size != 0) {
        if (*fd >= 0) close(*fd);
        *fd = -1;
        return rc_err_set(err, RC_INVALID,
                          "backup: %s already exists (refusing to overwrite it)", path);
    }
    return RC_OK;
}

static int exec1(sqlite3 *db, const char *sql, rc_err *err, const char *what) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? RC_OK : rc__sqlite_err(db, rc, err, what);
}

/* Make the copy durable: the file, and its name in the directory. */
static int sync_dest(int fd, const char *path, rc_err *err) {
    if (fsync(fd) != 0) {
        int e = errno;
        return rc_err_set(err, errno_status(e), "backup: fsync %s: %s", path, strerror(e));
    }
    char *copy = strdup(path);
    if (!copy) return rc_err_set(err, RC_NOMEM, "out of memory");
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (dfd >= 0) { /* best effort: some filesystems refuse fsync on directories */
        (void)fsync(dfd);
        close(dfd);
    }
    return RC_OK;
}

int rc_store_backup_ex(rc_store *st, const char *path, const rc_backup_opts *opts,
                       rc_backup_info *info, rc_err *err) {
    if (!st || !path || !*path) return rc_err_set(err, RC_INVALID, "backup: missing argument");
    rc_backup_opts o = {0};
    if (opts) o = *opts;
    if (o.step_pages <= 0) o.step_pages = DEFAULT_STEP_PAGES;
    rc_backup_info got;
    memset(&got, 0, sizeof got);

    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    sqlite3_stmt *s = NULL;
    int fd = -1, created = 0, in_txn = 0, rc;
    if ((rc = open_dest(path, &fd, &created, err))) return rc;

    int r = sqlite3_open_v2(st->db_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        rc = rc__sqlite_err(src, r, err, "backup: opening the database");
        goto fail;
    }
    sqlite3_extended_result_codes(src, 1);
    sqlite3_busy_timeout(src, 5000);
    if ((rc = exec1(src, "BEGIN", err, "backup: read transaction"))) goto fail;
    in_txn = 1;
    /* The first read fixes the snapshot that every step then copies. */
    r = sqlite3_prepare_v2(src, "SELECT min(seq), max(seq) FROM events", -1, &s, NULL);
    if (r == SQLITE_OK) r = sqlite3_step(s);
    if (r != SQLITE_ROW) {
        rc = rc__sqlite_err(src, r, err, "backup: reading the log head");
        goto fail;
    }
    got.head_seq = (uint64_t)sqlite3_column_int64(s, 1);
    got.events = got.head_seq ? got.head_seq - (uint64_t)sqlite3_column_int64(s, 0) + 1 : 0;
    sqlite3_finalize(s);
    s = NULL;

    r = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        rc = rc__sqlite_err(dst, r, err, "backup: opening the destination");
        goto fail;
    }
    sqlite3_extended_result_codes(dst, 1);
    if ((rc = exec1(dst, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", err,
                    "backup: preparing the destination")))
        goto fail;
    if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
        rc = rc__sqlite_err(dst, sqlite3_errcode(dst), err, "backup");
        goto fail;
    }
    for (int busy = 0;;) {
        r = sqlite3_backup_step(b, o.step_pages);
        if (r == SQLITE_DONE) break;
        if (r == SQLITE_BUSY || r == SQLITE_LOCKED) {
            if (++busy > BUSY_RETRIES) {
                rc = rc_err_set(err, RC_BUSY, "backup: the destination stayed locked");
                goto fail;
            }
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (r != SQLITE_OK) {
            rc = rc__sqlite_err(dst, r, err, "backup");
            goto fail;
        }
        busy = 0;
#ifdef SYNC_FILE_RANGE_WRITE
        /* Start writing back what this step spilled, without waiting: dirty
         * pages left to pile up would be flushed in one burst that the
         * writer's next fsync on the same disk has to queue behind. */
        (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
        int total = sqlite3_backup_pagecount(b);
        if (o.progress &&
            o.progress(o.arg, (uint64_t)(total - sqlite3_backup_remaining(b)), (uint64_t)total)) {
            rc = rc_err_set(err, RC_SHUTDOWN, "backup: cancelled");
            goto fail;
        }
    }
    got.pages = (uint64_t)sqlite3_backup_pagecount(b);
    r = sqlite3_backup_finish(b);
    b = NULL;
    if (r != SQLITE_OK) {
        rc = rc__sqlite_err(dst, r, err, "backup");
        goto fail;
    }
    if (o.progress) o.progress(o.arg, got.pages, got.pages);
    r = sqlite3_close(dst);
    dst = NULL;
    if (r != SQLITE_OK) {
        rc = rc_err_set(err, RC_IO, "backup: closing %s: %s", path, sqlite3_errstr(r));
        goto fail;
    }
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    in_txn = 0;
    sqlite3_close(src);
    src = NULL;
    if (!o.no_sync && (rc = sync_dest(fd, path, err))) goto fail;
    struct stat sb;
    if (fstat(fd, &sb) == 0) got.bytes = (uint64_t)sb.st_size;
    close(fd);
    if (info) *info = got;
    return RC_OK;

fail:
    sqlite3_finalize(s);
    if (b) sqlite3_backup_finish(b);
    if (dst) sqlite3_close(dst);
    if (in_txn) sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    if (src) sqlite3_close(src);
    if (created) unlink(path);
    else if (ftruncate(fd, 0) != 0) { /* leave it; the error already says why */
    }
    close(fd);
    return rc;
}
