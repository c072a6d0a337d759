/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/store: the store handle, the request queue shared by the
 * producers and the writer thread, the write-side statement table and the
 * pool of read connections.
 *
 * Ownership: fields marked (writer) are touched only by the writer thread
 * (or by open/close while no writer runs); fields marked (q) only under
 * qmu, (smu) only under smu; the read pool only under its own mutex.
 */
#ifndef REDCAR_STORE_INT_H
#define REDCAR_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "redcar/buf.h"
#include "redcar/store.h"

#define RC_KV_PREFIX "io.redcar.kv."
#define RC_KV_PREFIX_LEN 13
/* Exclusive upper bound of every type that starts with RC_KV_PREFIX
 * ('/' follows '.' in ASCII). */
#define RC_KV_PREFIX_END "io.redcar.kv/"

/* Tuning of the write connection (the benchmark applies the same to its
 * plain SQLite baseline). temp_store=MEMORY keeps the savepoint journal
 * (original pages of everything a savepoint changes) in memory: spilled
 * to a temporary file past 64 KiB it cost a pwrite per page and request
 * (measured: a third of the writer's time on RESP SETs). */
#define RC__WRITER_PRAGMAS "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY"

/* The write connection's statements: name, SQL. Prepared once at open. */
#define RC_WSTMT_MAP(X)                                                                       \
    X(BEGIN, "BEGIN IMMEDIATE")                                                               \
    X(COMMIT, "COMMIT")                                                                       \
    X(ROLLBACK, "ROLLBACK")                                                                   \
    X(SAVE, "SAVEPOINT rq")                                                                   \
    X(RELEASE, "RELEASE rq")                                                                  \
    X(UNDO, "ROLLBACK TO rq")                                                                 \
    X(INSERT, "INSERT INTO events(seq,source,id,type,subject,time_ms,payload) "               \
              "VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(source,id) DO NOTHING")               \
    X(FIND_DUP, "SELECT seq FROM events WHERE source=?1 AND id=?2")                           \
    X(HEAD, "SELECT max(seq) FROM events")                                                    \
    X(SUBJ_HEAD, "SELECT max(seq) FROM events WHERE subject=?1")                              \
    X(KV_GET, "SELECT kind,value,ctype,size,create_seq,mod_seq,version,expire_ms "            \
              "FROM kv WHERE key=?1")                                                         \
    X(KV_PUT, "INSERT OR REPLACE INTO kv(key,kind,value,ctype,size,create_seq,mod_seq,"       \
              "version,expire_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)")                        \
    /* a put over a live string (kind 1 = RC_KV_STRING): kvapply.c */                        \
    X(KV_SETSTR, "UPDATE kv SET value=?2,ctype=?3,size=?4,mod_seq=?5,version=version+1,"       \
                 "expire_ms=CASE WHEN ?7 THEN expire_ms ELSE ?6 END "                         \
                 "WHERE key=?1 AND kind=1 AND (expire_ms=0 OR expire_ms>?8)")                 \
    X(KV_DEL, "DELETE FROM kv WHERE key=?1")                                                  \
    X(KV_TOUCH, "UPDATE kv SET size=?2,mod_seq=?3,version=version+1 WHERE key=?1")            \
    X(KV_EXPIRE, "UPDATE kv SET expire_ms=?2,mod_seq=?3,version=version+1 WHERE key=?1")      \
    X(KV_MOVE, "UPDATE kv SET key=?2,create_seq=?3,mod_seq=?3,version=1 WHERE key=?1")        \
    X(HASH_CLEAR, "DELETE FROM kv_hash WHERE key=?1")                                         \
    X(HASH_MOVE, "UPDATE kv_hash SET key=?2 WHERE key=?1")                                    \
    X(HASH_INS, "INSERT OR IGNORE INTO kv_hash(key,field,value) VALUES(?1,?2,?3)")            \
    X(HASH_UPD, "UPDATE kv_hash SET value=?3 WHERE key=?1 AND field=?2")                      \
    X(HASH_DEL, "DELETE FROM kv_hash WHERE key=?1 AND field=?2")                              \
    X(HASH_GET, "SELECT value FROM kv_hash WHERE key=?1 AND field=?2")                        \
    X(LIST_CLEAR, "DELETE FROM kv_list WHERE key=?1")                                         \
    X(LIST_MOVE, "UPDATE kv_list SET key=?2 WHERE key=?1")                                    \
    X(LIST_HEAD, "SELECT pos FROM kv_list WHERE key=?1 ORDER BY pos LIMIT 1")                 \
    X(LIST_TAIL, "SELECT pos FROM kv_list WHERE key=?1 ORDER BY pos DESC LIMIT 1")            \
    X(LIST_INS, "INSERT INTO kv_list(key,pos,value) VALUES(?1,?2,?3)")                        \
    X(LIST_DEL, "DELETE FROM kv_list WHERE key=?1 AND pos BETWEEN ?2 AND ?3")                 \
    X(LIST_GET, "SELECT value FROM kv_list WHERE key=?1 AND pos=?2")                          \
    X(RENAME_LOG, "INSERT OR IGNORE INTO kv_renames(newkey,seq) VALUES(?1,?2)")               \
    X(DUE, "SELECT key FROM kv WHERE expire_ms>0 AND expire_ms<=?1 ORDER BY expire_ms LIMIT ?2")

enum {
#define RC__WS(name, sql) WS_##name,
    RC_WSTMT_MAP(RC__WS)
#undef RC__WS
    WS__COUNT
};

/* One queued request: an append (evs) or a transaction (fn). */
typedef struct rc__req {
    struct rc__req *next;
    rc_event **evs;          /* owned events (txn: the ones it appended) */
    size_t n, cap;
    /* Per event of an append: its JSON encoding in `payload` (encoded on
     * the producer thread) and its time. stamp != SIZE_MAX: the event had
     * no time; the encoding holds a placeholder time at payload + stamp,
     * which the writer overwrites with the commit time (as it does the
     * event's `time`). off == SIZE_MAX: stamp and encode on the writer. */
    struct rc__enc { size_t off, len, stamp; int64_t time_ms; } *enc;
    char *payload;           /* the encodings, back to back */
    int one_block;           /* evs/enc/items/payload live in this allocation */
    int64_t expect_seq;
    char *expect_subject;
    rc_txn_fn fn;
    void *fn_arg;
    int sp_open;             /* (writer) the request's savepoint is open */
    int own_sp;              /* (writer) the function keeps one savepoint around all its
                              * appends and undoes them itself on failure: rc_txn_append
                              * opens none (cluster apply; a savepoint per event cost a
                              * third of the writer's time there) */
    int rerun;               /* fn may run twice (rc_store_txn_async_rerun) */
    int txn_failed;          /* (writer) an rc_txn_append of fn failed */
    rc_append_done done;
    void *arg;
    rc_append_item *items;
    size_t n_items, cap_items;
    int status;
    rc_err err;
} rc__req;

typedef struct rc__rconn {
    sqlite3 *db;
    int busy;
    /* Small statement cache keyed by SQL text (queries are built from a
     * handful of filter shapes). */
    struct { char *sql; sqlite3_stmt *st; unsigned long used; } cache[32];
    unsigned long tick;
} rc__rconn;

struct rc_store {
    rc_store_opts opts;
    char *dir;
    char *db_path;
    int lock_fd;

    /* writer */
    sqlite3 *wdb;
    sqlite3_stmt *ws[WS__COUNT];
    uint64_t head;            /* (writer) latest assigned seq */
    int64_t now_ms;           /* (writer) clock of the current group */
    char now_str[40];         /* (writer) now_fmt_ms as RFC 3339 (now_len bytes) */
    size_t now_len;
    int64_t now_fmt_ms;
    rc_event **fresh;         /* (writer) newly stored events of the group */
    size_t n_fresh, cap_fresh;
    rc_buf scratch;           /* (writer) encodings made on the writer */
    pthread_t thread;
    int thread_started;

    /* queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;       /* writer waits for work */
    pthread_cond_t qspace;    /* blocking producers wait for room */
    rc__req *qhead, *qtail;
    size_t qlen;
    int stopping;             /* (q) no new requests; writer drains and exits */
    int group_busy;           /* (q) a group is running: on the writer, or inline on
                               * the thread that closed a batch (rc_store_batch_end) */
    int batch_waiters;        /* (q) batch_end callers waiting for that group */

    rc_commit_hook hook;
    void *hook_arg;

    /* checkpoints (writer.c): a helper thread on its own connection copies
     * the WAL into the database (PASSIVE) so that the writer does not stall
     * on it; the writer only finishes the last few frames when the WAL is
     * long, which lets its next transaction restart the WAL from the top. */
    sqlite3 *cdb;             /* (checkpointer) */
    pthread_t ckpt_thread;
    int ckpt_started;         /* thread running; cmu/ccv initialised */
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    int ckpt_want, ckpt_stop; /* (cmu) */
    int wal_frames;           /* (writer) frames in the WAL after the last commit */
    int wal_kicked;           /* (writer) wal_frames when the helper was last asked */
    _Atomic uint64_t ckpt_bg, ckpt_writer; /* passes run by the helper / the writer */
    _Atomic int ckpt_backfilled; /* frames of the WAL already in the database (last pass) */

    /* durability (writer.c), with fsync always: the write connection runs
     * synchronous=NORMAL and a sync thread fdatasyncs the WAL, so that the
     * writer runs the next group while the disk flushes the last one. A
     * committed group waits in wait_h..wait_t, unanswered and not yet fanned
     * out, until a sync that began after its commit returned; then the sync
     * thread calls the commit hook and the completions (off the writer). */
    int wal_fd;               /* (sync) the WAL, for fdatasync; -1 = no sync thread */
    pthread_t sync_thread;
    int sync_started;
    pthread_mutex_t smu;
    pthread_cond_t scv;
    int sync_stop;            /* (smu) */
    int committing;           /* (smu) the writer runs a group */
    int sync_waits;           /* (smu) the sync thread waits for that group */
    _Atomic int syncing;      /* an fdatasync is in flight */
    _Atomic size_t n_parked;  /* groups in wait_h..wait_t */
    struct rc__group *wait_h, *wait_t; /* (smu) committed, waiting for the sync */
    _Atomic size_t n_waiting; /* requests in those groups (and being answered) */
    int writer_waits;         /* (q) the writer sleeps with requests queued */
    uint64_t gen;             /* (writer) groups committed */
    _Atomic int broken;       /* a sync failed: every later write fails */

    _Atomic uint64_t pub_head; /* head as of the last durable commit, for readers */
    _Atomic uint64_t commits, appended, syncs;

    struct rc__cluster *cl;   /* cluster mode (apply.c); NULL on a single node */

    /* read pool */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    rc__rconn *rconns;
    int n_rconns;
};

/* status.c-like mapping of SQLite result codes. */
int rc__sqlite_status(int rc);
int rc__sqlite_err(sqlite3 *db, int rc, rc_err *err, const char *what);

/* The schema text (schemas/store.sql), for migration v1 and the benchmark. */
const char *rc__store_schema(void);

/* walvfs.c: the write connection's VFS (combines a commit's WAL writes);
 * NULL when it could not be registered (then the default VFS serves). */
#define RC__WAL_VFS "redcar-wal"
const char *rc__wal_vfs(void);

/* writer.c */
int rc__writer_start(rc_store *st, rc_err *err);
void rc__writer_stop(rc_store *st);

/* writer.c, for apply.c: a transaction that bypasses the replicator,
 * the request under a running transaction, freeing a request. */
int rc__enqueue_txn(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_append_done done, void *arg,
                    int wait, rc_err *err);
rc__req *rc__txn_req(rc_txn *tx);
rc_store *rc__txn_store(rc_txn *tx);
void rc__req_free(rc__req *r);
/* apply.c: cluster mode. Each takes ownership of r on RC_OK. */
int rc__cl_append(rc_store *st, rc__req *r, rc_err *err);
int rc__cl_txn(rc_store *st, rc__req *r, rc_err *err);
void rc__cl_free(rc_store *st); /* after the writer stopped */

/* kvapply.c: apply a stored KV event at seq on the write connection. */
int rc__kv_apply(rc_store *st, const rc_event *ev, uint64_t seq, rc_err *err);
int rc__is_kv_type(const char *type);
/* Extension readers shared by apply and as-of replay. */
int rc__kv_expires(const rc_event *ev, int64_t *out, rc_err *err);
int rc__kv_ext_bool(const rc_event *ev, const char *name);
int rc__kv_ext_int(const rc_event *ev, const char *name, int64_t def, int64_t *out, rc_err *err);
/* Parse the small JSON documents of hset/hdel/lpush/rpush (kvjson.c).
 * Each item is a string (a/b pairs for objects). Items point into *arena. */
typedef struct rc__kvitems {
    size_t n;                 /* strings (object: 2 per member) */
    const char **p;
    size_t *len;
    rc_buf arena;
    size_t *off;
    size_t cap;
} rc__kvitems;
int rc__kvjson_parse(const void *buf, size_t len, int object, rc__kvitems *out, rc_err *err);
void rc__kvitems_free(rc__kvitems *it);

/* read.c */
int rc__rpool_open(rc_store *st, rc_err *err);
void rc__rpool_close(rc_store *st);
rc__rconn *rc__rconn_get(rc_store *st);
void rc__rconn_put(rc_store *st, rc__rconn *c);
int rc__rconn_stmt(rc__rconn *c, const char *sql, sqlite3_stmt **out, rc_err *err);
/* A pooled connection inside BEGIN..COMMIT: one snapshot for a whole read
 * (NULL with *rc set on failure); rc__rconn_end commits and returns it. */
rc__rconn *rc__rconn_begin(rc_store *st, rc_err *err, int *rc);
void rc__rconn_end(rc_store *st, rc__rconn *c);
/* One statement that returns nothing the caller needs (BEGIN, COMMIT...). */
int rc__rconn_exec(rc__rconn *c, const char *sql, rc_err *err);
/* The SQL rc_store_scan runs for q (exported for the query-plan test). */
void rc__scan_sql(const rc_query *q, char *sql, size_t n);
/* The current row of a statement selecting seq, payload, type, source, id,
 * subject, time_ms in that order (read.c's ROW_COLS); its strings point
 * into s until the statement's next step or reset. */
void rc__stored_row(sqlite3_stmt *s, rc_stored *row);
/* Binds q's filters, ?1..?9 of that SQL (pend: the end of q's subject
 * prefix, NULL if unbounded); ?10, the limit, is left to the caller. */
void rc__scan_bind(sqlite3_stmt *s, const rc_query *q, const char *pend);
/* The SQL of rc_store_kv_history. */
/* rc_store_subjects' step (read.c): the newest event of the first subject
 * >= ?1 (_FROM) or > ?1 (_AFTER), payload only when its type is ?2. Two
 * seeks of events_subject (tests/unit/test_store_read.c checks the plan). */
#define RC__SUBJECTS_SQL(op)                                                                  \
    "SELECT seq,CASE WHEN type=?2 THEN payload END,type,source,id,subject,time_ms FROM events " \
    "WHERE subject=(SELECT subject FROM events WHERE subject" op "?1 ORDER BY subject LIMIT 1) " \
    "ORDER BY seq DESC LIMIT 1"

#define RC__HISTORY_SQL                                                                       \
    "SELECT seq,payload,type,source,id,subject,time_ms FROM events WHERE subject=?1 AND "     \
    "type>='" RC_KV_PREFIX "' AND type<'" RC_KV_PREFIX_END "' ORDER BY seq LIMIT ?2"

/* A redis glob (kvread.c). */
int rc__glob(const char *p, size_t plen, const char *s, size_t slen);
/* The smallest string greater than every string starting with prefix:
 * the prefix with its last non-0xFF byte incremented. Returns 0 if there
 * is none (prefix empty or all 0xFF). out must hold strlen(prefix)+1. */
int rc__prefix_end(const char *prefix, char *out);

int64_t rc__now_ms(void);

/* retention.c. The earliest stored seq (0: empty log) on db. */
int rc__log_first(sqlite3 *db, uint64_t *first, rc_err *err);
/* RC_TRIMMED (err names the earliest stored seq) when a reader whose every
 * event <= pos is behind it would next need an event retention removed. */
int rc__trimmed_check(sqlite3 *db, uint64_t pos, rc_err *err);


#endif
