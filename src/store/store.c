/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening and closing the store: the data directory and its lock, the
 * SQLite write connection (WAL, durability), forward schema migration, the
 * statement table, the read pool and the writer thread; plus statistics.
 *
 * Invariants: one process owns a data directory (flock on LOCK, released
 * by the kernel if the process dies); the database's user_version is the
 * number of migrations applied, and a database newer than this build is
 * refused rather than guessed at.
 */
#include <errno.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "redcar/log.h"
#include "store/consumer_int.h"
#include "store/store_int.h"

static const char schema_sql[] = {
#include "store_schema.inc"
};

const char *rc__store_schema(void) { return schema_sql; }

static const char schema_v2_sql[] = {
#include "store_schema_v2.inc"
};

const char *rc__store_schema_v2(void) { return schema_v2_sql; }

const char *rc__store_schema_v3(void); /* src/store/pushsub.c */
const char *rc__store_schema_v4(void); /* src/store/consumer.c */

/* Forward migrations: entry i brings user_version i to i+1. v1 is the
 * initial schema (schemas/store.sql), v2 the consumer tables
 * (schemas/store_v2.sql). Append, never edit. */
static const struct {
    int version;
    const char *(*sql)(void);
    const char *what;
} migrations[] = {
    {1, rc__store_schema, "initial schema"},
    {2, rc__store_schema_v2, "durable consumers"},
    {3, rc__store_schema_v3, "push subscriptions"}, /* schemas/store_v3.sql, src/store/pushsub.c */
    {4, rc__store_schema_v4, "consumer members"},   /* schemas/store_v4.sql, src/store/consumer.c */
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* SQLite primary result code -> rc_status. */
static const struct { int sqlite; int status; } sqlite_map[] = {
    {SQLITE_FULL, RC_DISK_FULL},     {SQLITE_READONLY, RC_READONLY}, {SQLITE_IOERR, RC_IO},
    {SQLITE_CORRUPT, RC_IO},         {SQLITE_NOTADB, RC_IO},        {SQLITE_CANTOPEN, RC_IO},
    {SQLITE_NOMEM, RC_NOMEM},        {SQLITE_BUSY, RC_BUSY},        {SQLITE_LOCKED, RC_BUSY},
    {SQLITE_TOOBIG, RC_TOO_LARGE},   {SQLITE_PERM, RC_READONLY},    {SQLITE_AUTH, RC_NOPERM},
    {SQLITE_INTERRUPT, RC_SHUTDOWN}, {SQLITE_NOTFOUND, RC_NOT_FOUND},
};

int rc__sqlite_status(int rc) {
    int prim = rc & 0xff;
    if (prim == SQLITE_OK || prim == SQLITE_DONE || prim == SQLITE_ROW) return RC_OK;
    for (size_t i = 0; i < sizeof sqlite_map / sizeof sqlite_map[0]; i++)
        if (sqlite_map[i].sqlite == prim) return sqlite_map[i].status;
    return RC_INTERNAL;
}

/* SQLite reports a full disk as SQLITE_FULL only when it notices itself; a
 * write that fails with ENOSPC/EDQUOT/EFBIG (file-size limit) inside a
 * commit comes back as SQLITE_IOERR, and the OS errno is often gone by then.
 * So for an I/O error on a database file we look at the filesystem: no space
 * left, or a file at the process's size limit, means "disk full" (HTTP 507),
 * a read-only filesystem means read-only. */
static int os_status(sqlite3 *db, int status) {
    if (!db || status != RC_IO) return status;
    switch (sqlite3_system_errno(db)) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return RC_DISK_FULL;
    case EROFS: return RC_READONLY;
    default: break;
    }
    const char *path = sqlite3_db_filename(db, "main");
    if (!path || !*path) return status;
    struct statvfs vfs;
    if (statvfs(path, &vfs) == 0) {
        if (vfs.f_flag & ST_RDONLY) return RC_READONLY;
        if ((uint64_t)vfs.f_bavail * vfs.f_frsize < 1024 * 1024) return RC_DISK_FULL;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        char wal[4096];
        snprintf(wal, sizeof wal, "%s-wal", path);
        struct stat sb;
        /* within 64 KiB of the limit: the next page write is what failed */
        if ((stat(path, &sb) == 0 && (uint64_t)sb.st_size + 65536 >= rl.rlim_cur) ||
            (stat(wal, &sb) == 0 && (uint64_t)sb.st_size + 65536 >= rl.rlim_cur))
            return RC_DISK_FULL;
    }
    return status;
}

int rc__sqlite_err(sqlite3 *db, int rc, rc_err *err, const char *what) {
    int status = os_status(db, rc__sqlite_status(rc));
    return rc_err_set(err, status, "%s: %s (sqlite: %s)", what, rc_strerror(status),
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int64_t rc__now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void rc_store_opts_default(rc_store_opts *o) {
    o->dir = "./redcar-data";
    o->fsync = RC_FSYNC_ALWAYS;
    o->max_group = 4096;
    o->read_conns = 8;
}

static int mkdirs(const char *path, rc_err *err) {
    char *p = strdup(path);
    if (!p) return RC_NOMEM;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                rc_err_set(err, RC_IO, "cannot create data directory %s: %s", p, strerror(e));
                free(p);
                return RC_IO;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return rc_err_set(err, RC_IO, "data directory %s is not a directory", path);
    return RC_OK;
}

static int lock_dir(rc_store *st, rc_err *err) {
    size_t n = strlen(st->dir) + 8;
    char *path = malloc(n);
    if (!path) return RC_NOMEM;
    snprintf(path, n, "%s/LOCK", st->dir);
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->lock_fd < 0) {
        int e = errno;
        rc_err_set(err, RC_IO, "cannot open lock file %s: %s", path, strerror(e));
        free(path);
        return RC_IO;
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        int code = (e == EWOULDBLOCK) ? RC_LOCKED : RC_IO;
        if (code == RC_LOCKED)
            rc_err_set(err, RC_LOCKED,
                       "data directory %s is locked by another process (lock file %s)", st->dir,
                       path);
        else
            rc_err_set(err, RC_IO, "cannot lock %s: %s", path, strerror(e));
        close(st->lock_fd);
        st->lock_fd = -1;
        free(path);
        return code;
    }
    free(path);
    return RC_OK;
}

static int exec(sqlite3 *db, const char *sql, rc_err *err, const char *what) {
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int status = rc__sqlite_status(rc);
        rc_err_set(err, status, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return status;
    }
    return RC_OK;
}

static int user_version(sqlite3 *db, int *out, rc_err *err) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) return rc__sqlite_err(db, rc, err, "reading schema version");
    return RC_OK;
}

static int migrate(rc_store *st, rc_err *err) {
    int v = 0, rc;
    if ((rc = user_version(st->wdb, &v, err))) return rc;
    if (v > N_MIGRATIONS)
        return rc_err_set(err, RC_UNSUPPORTED,
                          "database %s has schema version %d, newer than this build of redcar "
                          "understands (%d): refusing to open it",
                          st->db_path, v, N_MIGRATIONS);
    if (v < 0) return rc_err_set(err, RC_IO, "database %s: bad schema version %d", st->db_path, v);
    for (; v < N_MIGRATIONS; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", migrations[v].version);
        if ((rc = exec(st->wdb, "BEGIN IMMEDIATE", err, "migration"))) return rc;
        if ((rc = exec(st->wdb, migrations[v].sql(), err, migrations[v].what)) ||
            (rc = exec(st->wdb, bump, err, "migration"))) {
            sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if ((rc = exec(st->wdb, "COMMIT", err, "migration"))) {
            sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        RC_INFO("store", "migrated %s to schema version %d (%s)", st->db_path,
                migrations[v].version, migrations[v].what);
    }
    return RC_OK;
}

static int open_writer(rc_store *st, rc_err *err) {
    int rc = sqlite3_open_v2(st->db_path, &st->wdb,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             rc__wal_vfs());
    if (rc != SQLITE_OK) return rc__sqlite_err(st->wdb, rc, err, "opening database");
    sqlite3_extended_result_codes(st->wdb, 1);
    sqlite3_busy_timeout(st->wdb, 5000);
    /* journal_mode answers with a row: "wal" or the mode it kept. */
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(st->wdb, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        return rc__sqlite_err(st->wdb, rc, err, "opening database");
    }
    int wal = sqlite3_stricmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
    sqlite3_finalize(s);
    if (!wal) return rc_err_set(err, RC_IO, "database %s: cannot switch to WAL mode", st->db_path);
    const char *sync = st->opts.fsync == RC_FSYNC_NORMAL ? "PRAGMA synchronous=NORMAL"
                                                         : "PRAGMA synchronous=FULL";
    if ((rc = exec(st->wdb, sync, err, "opening database"))) return rc;
    /* A group commit touches many index pages; a cache that holds them
     * avoids spilling dirty pages to the WAL in the middle of a group. */
    if ((rc = exec(st->wdb, RC__WRITER_PRAGMAS, err, "opening database"))) return rc;
    if ((rc = migrate(st, err))) return rc;
    static const char *const sql[WS__COUNT] = {
#define RC__WSQL(name, text) text,
        RC_WSTMT_MAP(RC__WSQL)
#undef RC__WSQL
    };
    for (int i = 0; i < WS__COUNT; i++) {
        rc = sqlite3_prepare_v3(st->wdb, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->ws[i], NULL);
        if (rc != SQLITE_OK) return rc__sqlite_err(st->wdb, rc, err, "preparing statements");
    }
    sqlite3_stmt *h = st->ws[WS_HEAD];
    rc = sqlite3_step(h);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(h);
        return rc__sqlite_err(st->wdb, rc, err, "reading the log head");
    }
    st->head = (uint64_t)sqlite3_column_int64(h, 0);
    sqlite3_reset(h);
    atomic_store(&st->pub_head, st->head);
    return RC_OK;
}

/* SQLite's memory statistics take a global mutex around every allocation
 * (a savepoint's journal allocates per KB): the store reads none of them.
 * sqlite3_config only works before SQLite initialises; later it refuses
 * harmlessly. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void sqlite_config(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

int rc_store_open(rc_store **out, const rc_store_opts *opts, rc_err *err) {
    pthread_once(&sqlite_once, sqlite_config);
    rc_store_opts def;
    rc_store_opts_default(&def);
    *out = NULL;
    rc_store *st = calloc(1, sizeof *st);
    if (!st) return rc_err_set(err, RC_NOMEM, "out of memory");
    st->lock_fd = -1;
    st->opts = opts ? *opts : def;
    if (!st->opts.dir || !*st->opts.dir) st->opts.dir = def.dir;
    if (st->opts.max_group == 0) st->opts.max_group = def.max_group;
    if (st->opts.read_conns <= 0) st->opts.read_conns = def.read_conns;
    if (st->opts.fsync != RC_FSYNC_ALWAYS && st->opts.fsync != RC_FSYNC_NORMAL) {
        free(st);
        return rc_err_set(err, RC_INVALID, "store: unknown fsync mode %d", (int)opts->fsync);
    }
    pthread_mutex_init(&st->qmu, NULL);
    pthread_cond_init(&st->qcv, NULL);
    pthread_cond_init(&st->qspace, NULL);
    pthread_mutex_init(&st->rmu, NULL);
    pthread_cond_init(&st->rcv, NULL);
    int rc;
    st->dir = strdup(st->opts.dir);
    size_t n = strlen(st->opts.dir) + 16;
    st->db_path = malloc(n);
    if (!st->dir || !st->db_path) {
        rc = rc_err_set(err, RC_NOMEM, "out of memory");
        goto fail;
    }
    st->opts.dir = st->dir;
    snprintf(st->db_path, n, "%s/redcar.db", st->dir);
    if ((rc = mkdirs(st->dir, err))) goto fail;
    if ((rc = lock_dir(st, err))) goto fail;
    if ((rc = open_writer(st, err))) goto fail;
    if ((rc = rc__rpool_open(st, err))) goto fail;
    if ((rc = rc__writer_start(st, err))) goto fail;
    RC_INFO("store", "opened %s (head seq %llu, fsync %s)", st->db_path,
            (unsigned long long)st->head, st->opts.fsync == RC_FSYNC_NORMAL ? "normal" : "always");
    *out = st;
    return RC_OK;
fail:
    rc_store_close(st);
    return rc;
}

void rc_store_close(rc_store *st) {
    if (!st) return;
    rc__writer_stop(st);
    rc__rpool_close(st);
    for (int i = 0; i < WS__COUNT; i++) sqlite3_finalize(st->ws[i]);
    if (st->wdb) sqlite3_close(st->wdb);
    if (st->lock_fd >= 0) {
        flock(st->lock_fd, LOCK_UN);
        close(st->lock_fd);
    }
    rc_buf_free(&st->scratch);
    free(st->fresh);
    pthread_mutex_destroy(&st->qmu);
    pthread_cond_destroy(&st->qcv);
    pthread_cond_destroy(&st->qspace);
    pthread_mutex_destroy(&st->rmu);
    pthread_cond_destroy(&st->rcv);
    free(st->dir);
    free(st->db_path);
    free(st);
}

void rc_store_set_commit_hook(rc_store *st, rc_commit_hook fn, void *arg) {
    st->hook = fn;
    st->hook_arg = arg;
}

static uint64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

int rc_store_stats_get(rc_store *st, rc_store_stats *out) {
    memset(out, 0, sizeof *out);
    out->head_seq = atomic_load(&st->pub_head);
    out->commits = atomic_load(&st->commits);
    out->appended = atomic_load(&st->appended);
    out->syncs = atomic_load(&st->syncs);
    size_t n = strlen(st->db_path) + 8;
    char *wal = malloc(n);
    if (wal) {
        snprintf(wal, n, "%s-wal", st->db_path);
        out->bytes = file_size(st->db_path) + file_size(wal);
        free(wal);
    }
    rc__rconn *c = rc__rconn_get(st);
    sqlite3_stmt *s = NULL;
    int rc = RC_OK;
    /* One read transaction so head, first and counts agree. */
    if ((rc = rc__rconn_stmt(c, "BEGIN", &s, NULL)) == RC_OK) {
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    if (!rc && (rc = rc__rconn_stmt(c, "SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events)", &s, NULL)) == RC_OK) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            out->first_seq = (uint64_t)sqlite3_column_int64(s, 0);
            out->head_seq = (uint64_t)sqlite3_column_int64(s, 1);
            /* seqs are gapless and retention only trims the front */
            out->events = out->head_seq ? out->head_seq - out->first_seq + 1 : 0;
        }
        sqlite3_reset(s);
    }
    if (!rc && (rc = rc__rconn_stmt(c, "SELECT count(*) FROM kv WHERE expire_ms=0 OR expire_ms>?1",
                                    &s, NULL)) == RC_OK) {
        sqlite3_bind_int64(s, 1, rc__now_ms());
        if (sqlite3_step(s) == SQLITE_ROW) out->keys = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    if (rc__rconn_stmt(c, "COMMIT", &s, NULL) == RC_OK) {
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    rc__rconn_put(st, c);
    return rc;
}
