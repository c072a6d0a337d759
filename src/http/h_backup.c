/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /backup: an online, consistent backup of the whole database (log, KV
 * view, consumers) streamed to the client as an SQLite file
 * (application/vnd.sqlite3). Restore = start redcar on a directory holding
 * it as redcar.db.
 *
 * Shape: the handler defers its answer and a thread of its own runs
 * rc_store_backup_ex() into a temporary file in the data directory (a copy
 * can take seconds: neither an MHD thread nor the door's answer thread may
 * be held that long). When the copy is done the file is opened, unlinked
 * (a dropped connection or a crash leaves nothing behind but a file from a
 * copy cut short) and streamed from its descriptor; the answer says its
 * size in Redcar-Backup-Size (a streamed body has no Content-Length) and
 * the log head it holds in Redcar-Backup-Seq.
 *
 * Why streaming and not "write the backup to this server-side path": a
 * path taken from the network would let any client write files where the
 * server can. The only path here is one the server made itself.
 *
 * Limits: one backup at a time per process (each needs as much disk as
 * the database until its stream ends), answered 503 otherwise; shutdown
 * cancels a copy in progress. Access control is the door's, as for every
 * route (routes.c): with credentials configured, a bearer token is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/h_backup.h"
#include "redcar/backup.h"
#include "redcar/log.h"

/* Set while a backup is copied or streamed. */
static atomic_int backup_running;

/* ---- the streamed file ----------------------------------------------------------------- */

typedef struct file_stream {
    rc_http_stream base;
    int fd;
    int holds_flag; /* this stream still owns backup_running */
} file_stream;

/* The backup is over once its last byte is produced: the client may have
 * it (and start the next backup) before libmicrohttpd frees the stream. */
static void release_flag(file_stream *s) {
    if (!s->holds_flag) return;
    s->holds_flag = 0;
    atomic_store(&backup_running, 0);
}

static long file_read(rc_http_stream *base, char *buf, size_t max) {
    file_stream *s = (file_stream *)base;
    for (;;) {
        ssize_t n = read(s->fd, buf, max);
        if (n > 0) return (long)n;
        if (n == 0) {
            release_flag(s);
            return RC_HTTP_STREAM_END;
        }
        if (errno != EINTR) return RC_HTTP_STREAM_ERROR;
    }
}

static void file_free(rc_http_stream *base) {
    file_stream *s = (file_stream *)base;
    close(s->fd);
    rc__http_park_destroy(&s->base.park);
    release_flag(s);
    free(s);
}

/* ---- the copy ------------------------------------------------------------------------- */

typedef struct backup_job {
    rc_http_env *env;
    rc_http_res *res;
    char *path;
} backup_job;

static int stop_requested(void *arg, uint64_t done, uint64_t total) {
    (void)done, (void)total;
    return atomic_load(&((rc_http_env *)arg)->stopping);
}

/* Fill the answer from the finished copy. 1 when the answer streams the
 * file (which then owns the backup_running flag). */
static int answer(backup_job *j, const rc_backup_info *info, double secs) {
    rc_http_res *res = j->res;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    int e = errno;
    unlink(j->path);
    file_stream *s = fd >= 0 ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        if (fd >= 0) close(fd);
        char d[200];
        snprintf(d, sizeof d, "backup: cannot reopen the copy: %s", fd < 0 ? strerror(e) : "out of memory");
        rc__http_res_problem(res, fd < 0 ? RC_IO : RC_NOMEM, d);
        return 0;
    }
    s->fd = fd;
    s->holds_flag = 1; /* answer() returning 1 hands the flag to the stream */
    s->base.read = file_read;
    s->base.free = file_free;
    rc__http_park_init(&s->base.park);
    char v[96];
    res->status = 200;
    rc__http_res_header(res, "Content-Type", "application/vnd.sqlite3");
    snprintf(v, sizeof v, "attachment; filename=\"redcar-%" PRIu64 ".db\"", info->head_seq);
    rc__http_res_header(res, "Content-Disposition", v);
    snprintf(v, sizeof v, "%" PRIu64, info->bytes);
    rc__http_res_header(res, "Redcar-Backup-Size", v);
    snprintf(v, sizeof v, "%" PRIu64, info->head_seq);
    rc__http_res_header(res, "Redcar-Backup-Seq", v);
    snprintf(v, sizeof v, "%" PRIu64, info->events);
    rc__http_res_header(res, "Redcar-Backup-Events", v);
    rc__http_res_header(res, "Cache-Control", "no-store");
    res->stream = &s->base;
    RC_INFO("http", "backup: %" PRIu64 " events (head seq %" PRIu64 "), %" PRIu64
            " bytes copied in %.2f s; streaming",
            info->events, info->head_seq, info->bytes, secs);
    return 1;
}

static void *backup_main(void *arg) {
    backup_job *j = arg;
    rc_http_env *env = j->env;
    rc_backup_info info;
    rc_err err;
    rc_err_clear(&err);
    /* no_sync: the copy is read back at once and never kept. */
    rc_backup_opts o = {.progress = stop_requested, .arg = env, .no_sync = 1};
    int64_t t0 = rc__http_now_ms();
    int rc = rc_store_backup_ex(env->st, j->path, &o, &info, &err);
    int streaming = 0;
    if (rc == RC_OK) {
        streaming = answer(j, &info, (double)(rc__http_now_ms() - t0) / 1000.0);
    } else {
        unlink(j->path); /* the empty temporary file the handler made */
        RC_WARN("http", "backup failed: %s", rc_err_msg(&err));
        rc__http_res_problem(j->res, rc, err.msg[0] ? err.msg : NULL);
    }
    if (!streaming) atomic_store(&backup_running, 0);
    rc_http_res *res = j->res;
    free(j->path);
    free(j);
    rc__http_res_complete(res);
    /* Only now: stop waits for inflight == 0 before it may stop MHD, so
     * the resume above must have happened by then. */
    atomic_fetch_sub(&env->inflight, 1);
    return NULL;
}

/* ---- the handler ------------------------------------------------------------------------ */

void rc__h_backup(const rc_http_req *req, rc_http_res *res) {
    rc_http_env *env = req->env;
    if (atomic_exchange(&backup_running, 1)) {
        rc__http_res_problem(res, RC_BUSY, "backup: another backup is running; try again later");
        rc__http_res_header(res, "Retry-After", "5");
        return;
    }
    const char *dir = rc_store_dir(env->st);
    backup_job *j = calloc(1, sizeof *j);
    size_t n = strlen(dir) + 32;
    char *path = malloc(n);
    if (!j || !path) {
        free(j);
        free(path);
        atomic_store(&backup_running, 0);
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    /* The copy goes next to the database: same filesystem, same
     * permissions, and a full disk is reported as such (507). */
    snprintf(path, n, "%s/.backup-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        int e = errno;
        char d[200];
        snprintf(d, sizeof d, "backup: cannot create a temporary file in the data directory: %s",
                 strerror(e));
        free(j);
        free(path);
        atomic_store(&backup_running, 0);
        rc__http_res_problem(res, e == ENOSPC ? RC_DISK_FULL : RC_IO, d);
        return;
    }
    close(fd);
    j->env = env;
    j->res = res;
    j->path = path;
    rc__http_res_defer(res);
    atomic_fetch_add(&env->inflight, 1);
    pthread_attr_t attr;
    pthread_t th;
    int started = pthread_attr_init(&attr) == 0;
    if (started) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&th, &attr, backup_main, j) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        atomic_fetch_sub(&env->inflight, 1);
        unlink(path);
        free(path);
        free(j);
        atomic_store(&backup_running, 0);
        rc__http_res_problem(res, RC_INTERNAL, "backup: cannot start a thread");
        rc__http_res_complete(res);
    }
}
