/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: an append-only CloudEvents log on SQLite, and the key/value view
 * derived from it. The only module that speaks SQL.
 *
 * Invariants
 *  - Every stored event has a seq: strictly increasing and gapless, assigned
 *    by the single writer thread at commit. Nothing is updated in place.
 *  - (source, id) is unique: appending a stored (source, id) returns the
 *    stored seq and appends nothing (idempotent retries).
 *  - A request (one event, a batch, or a transaction function) is applied
 *    all-or-nothing, and acknowledged only after its commit is durable
 *    according to the fsync setting.
 *  - The KV view is updated in the same SQLite transaction as the events that
 *    change it, so it always equals a replay of the log.
 *
 * Threads
 *  - One writer thread owns the write connection. Producers on any thread
 *    submit requests (and pay for encoding them); the writer takes every
 *    request that is waiting, runs them in one SQLite transaction (group
 *    commit) and commits. Once the commit is durable the commit hook and
 *    then each request's completion are called on a store thread: with
 *    fsync always the sync thread (after its fdatasync of the WAL), else
 *    the writer. They are called on one thread at a time, in seq order;
 *    blocking store calls (rc_store_append, rc_store_txn) are refused there.
 *  - Reads may be called from any thread; each uses a pooled read-only
 *    connection (WAL: readers never block the writer).
 *
 * Reserved event types applied to the KV view (subject = the key):
 *  io.redcar.kv.put      data = the value, datacontenttype = its type;
 *                        extension `expires` (Timestamp) sets expiry,
 *                        `keepttl` (Boolean) keeps the current one.
 *  io.redcar.kv.delete   removes the key (no error when absent).
 *  io.redcar.kv.expired  removes the key; emitted by active expiry.
 *  io.redcar.kv.expire   sets (`expires`) or clears (no `expires`) expiry.
 *  io.redcar.kv.rename   moves the key to extension `newkey` (replacing it).
 *  io.redcar.kv.hset     data: JSON object {"field":"value",...}
 *  io.redcar.kv.hdel     data: JSON array ["field",...]
 *  io.redcar.kv.lpush / io.redcar.kv.rpush   data: JSON array of values, pushed in order
 *  io.redcar.kv.lpop / io.redcar.kv.rpop     extension `count` (Integer, default 1)
 * Field and list values that are not valid UTF-8 are written as
 * {"base64":"..."} objects in those arrays/objects.
 */
#ifndef REDCAR_STORE_H
#define REDCAR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/event.h"
#include "redcar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_store rc_store;

typedef enum {
    RC_FSYNC_ALWAYS = 0, /* synchronous=FULL: a commit survives power loss (default) */
    RC_FSYNC_NORMAL      /* synchronous=NORMAL in WAL: survives a process crash */
} rc_fsync_mode;

typedef struct rc_store_opts {
    const char *dir;          /* data directory, created if missing (default ./redcar-data) */
    rc_fsync_mode fsync;
    size_t max_group;         /* most requests per group commit (default 4096) */
    int read_conns;           /* pooled read connections (default 8) */
} rc_store_opts;

void rc_store_opts_default(rc_store_opts *o);

/* Open (create, migrate) the store under opts->dir and start its writer.
 * Takes an exclusive lock on the directory: RC_LOCKED if another process has it. */
int rc_store_open(rc_store **out, const rc_store_opts *opts, rc_err *err);
/* Finish queued requests, stop the writer, close. NULL-safe. */
void rc_store_close(rc_store *st);

/* ---- append ------------------------------------------------------------- */

#define RC_EXPECT_ANY (-1)

/* Outcome of one event of a request. */
typedef struct rc_append_item {
    uint64_t seq;      /* assigned or (duplicate) stored seq */
    int duplicate;     /* 1 when (source, id) was already stored */
} rc_append_item;

/* Completion, called once on a store thread (see Threads) after the request
 * committed durably (status RC_OK) or failed (nothing of it was applied).
 * items has one entry per appended event, valid only during the call.
 * Must not block. */
typedef void (*rc_append_done)(void *arg, int status, const rc_err *err,
                               const rc_append_item *items, size_t n);

typedef struct rc_append_opts {
    /* Optimistic concurrency: the seq the caller expects as the latest event
     * of `expect_subject` (default: the first event's subject); 0 means "the
     * subject has no events". RC_EXPECT_ANY (default) disables the check.
     * A mismatch fails the request with RC_CONFLICT and appends nothing. */
    int64_t expect_seq;
    const char *expect_subject;
} rc_append_opts;
#define RC_APPEND_OPTS_INIT {RC_EXPECT_ANY, NULL}

/* Asynchronous append of n validated events (a batch is all-or-nothing).
 * The store takes ownership of evs[i] (and not of the array) whatever the
 * result; if `time` is absent the store stamps the commit time. A `seq`
 * value in the events is ignored. done is never called if this returns an
 * error (RC_SHUTDOWN, RC_NOMEM, RC_INVALID). */
int rc_store_append_async(rc_store *st, rc_event **evs, size_t n, const rc_append_opts *opts,
                          rc_append_done done, void *arg, rc_err *err);

/* A batch of async submissions from an event loop thread. Between begin
 * and end, rc_store_append_async and rc_store_txn_async queue without
 * waking the writer thread; end then runs the queued group on the calling
 * thread when the writer is idle and no earlier group awaits its sync
 * (commit, fsync, commit hook and completions, all inline: no thread
 * hand-off), and otherwise wakes the writer. That is Redis's own model for
 * appendfsync always: the loop itself writes and syncs before answering.
 * Completions may therefore run inside rc_store_batch_end. A blocking
 * call (rc_store_append, rc_store_txn) made with a batch open closes the
 * batch first, so it is never left waiting behind a batch nobody runs. */
void rc_store_batch_begin(rc_store *st);
void rc_store_batch_end(rc_store *st);

/* Blocking append: waits for the commit. items (may be NULL) receives n entries. */
int rc_store_append(rc_store *st, rc_event **evs, size_t n, const rc_append_opts *opts,
                    rc_append_item *items, rc_err *err);

/* ---- transactions: read-modify-write on the writer thread --------------- */

/* A transaction function runs on the writer thread inside the group's SQLite
 * transaction (in a savepoint of its own), so its reads and the events it
 * appends are atomic with respect to every other writer. It may read the KV
 * view and append events; returning non-RC_OK rolls back whatever it appended.
 * It must not block. */
typedef struct rc_txn rc_txn;
typedef int (*rc_txn_fn)(rc_txn *tx, void *arg, rc_err *err);
/* Called like an append's completion after the commit (or failure); items
 * are the events the function appended. */
typedef rc_append_done rc_txn_done;

int rc_store_txn_async(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_txn_done done, void *arg,
                       rc_err *err);
/* The same for a function that has no effect outside the store (its
 * outcome reaches the caller only through the store and `done`), so that
 * it may run twice: consecutive such transactions then share the group's
 * undo instead of a savepoint each (a savepoint journals every page it
 * touches), and if one fails they are undone and run again one savepoint
 * each, which yields exactly the per-transaction outcome. */
int rc_store_txn_async_rerun(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_txn_done done,
                             void *arg, rc_err *err);
int rc_store_txn(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_err *err);

/* Append inside a transaction; takes ownership of ev. The KV view reflects
 * it immediately for later reads in the same transaction. */
int rc_txn_append(rc_txn *tx, rc_event *ev, rc_append_item *item, rc_err *err);
uint64_t rc_txn_last_seq(rc_txn *tx);   /* head of the log as seen in the txn */
int64_t rc_txn_now_ms(rc_txn *tx);     /* the clock of this group commit */

/* ---- key/value view ----------------------------------------------------- */

typedef enum { RC_KV_STRING = 1, RC_KV_HASH = 2, RC_KV_LIST = 3 } rc_kv_kind;

/* A key as read. Pointers are borrowed: valid only during the callback
 * (or until the next call on the same rc_txn). */
typedef struct rc_kv_entry {
    const char *key;
    size_t key_len;
    rc_kv_kind kind;
    const void *value;        /* strings only; NULL for hash/list */
    size_t value_len;         /* strings: bytes; hash: fields; list: length */
    const char *ctype;        /* datacontenttype of the put, or NULL */
    uint64_t create_seq, mod_seq, version;
    int64_t expire_ms;        /* 0 = no expiry */
} rc_kv_entry;

typedef int (*rc_kv_fn)(const rc_kv_entry *e, void *arg); /* non-zero stops */

/* Expired keys are invisible to every read even before active expiry runs. */
int rc_txn_kv_get(rc_txn *tx, const char *key, rc_kv_entry *out, rc_err *err); /* RC_NOT_FOUND */
int rc_txn_hash_get(rc_txn *tx, const char *key, const char *field, const void **val,
                    size_t *len, rc_err *err);
int rc_txn_list_get(rc_txn *tx, const char *key, int64_t index, const void **val, size_t *len,
                    rc_err *err);

int rc_store_kv_get(rc_store *st, const char *key, uint64_t as_of, rc_kv_fn fn, void *arg,
                    rc_err *err); /* as_of 0 = now; RC_NOT_FOUND */

typedef struct rc_kv_query {
    const char *key;          /* range start (inclusive); NULL = first key */
    const char *end;          /* range end (exclusive); NULL = open */
    const char *prefix;       /* alternative to key/end */
    size_t limit;             /* 0 = no limit */
    int desc;                 /* sort by key descending */
    int keys_only;            /* value pointers left NULL */
    uint64_t as_of;           /* 0 = now */
    const char *glob;         /* Redis glob pattern on the key (KEYS/SCAN) */
    int kind;                 /* 0 = any, else an rc_kv_kind */
} rc_kv_query;

int rc_store_kv_range(rc_store *st, const rc_kv_query *q, rc_kv_fn fn, void *arg, rc_err *err);
int rc_store_kv_count(rc_store *st, const rc_kv_query *q, uint64_t *count, rc_err *err);

/* Hash fields / list elements of a key, in field order / list order. */
typedef int (*rc_kv_item_fn)(const void *a, size_t alen, const void *b, size_t blen, void *arg);
int rc_store_hash_scan(rc_store *st, const char *key, rc_kv_item_fn fn, void *arg, rc_err *err);
int rc_store_list_range(rc_store *st, const char *key, int64_t start, int64_t stop,
                        rc_kv_item_fn fn, void *arg, rc_err *err); /* Redis LRANGE indexes */

/* ---- reading the log ---------------------------------------------------- */

/* A stored event as read. `json` is its structured JSON encoding without the
 * seq attribute; all pointers are borrowed for the duration of the callback. */
typedef struct rc_stored {
    uint64_t seq;
    const char *json;
    size_t json_len;
    const char *type;
    const char *source;
    const char *id;
    const char *subject;      /* NULL when absent */
    int64_t time_ms;
} rc_stored;

typedef int (*rc_stored_fn)(const rc_stored *row, void *arg); /* non-zero stops */

typedef struct rc_query {
    uint64_t from;            /* first seq (inclusive); 0 = from the start */
    uint64_t after;           /* alternative: first seq > after */
    uint64_t to;              /* last seq (inclusive); 0 = no bound */
    size_t limit;             /* 0 = no limit */
    int desc;                 /* newest first */
    const char *type;
    const char *source;
    const char *subject;
    const char *subject_prefix;
    int64_t since_ms;         /* time >= since (0 = none) */
    int64_t until_ms;         /* time < until (0 = none) */
} rc_query;

/* Scan served from indexes. RC_TRIMMED when from/after asks for a seq that
 * retention removed (err names the earliest stored seq). */
int rc_store_scan(rc_store *st, const rc_query *q, rc_stored_fn fn, void *arg, rc_err *err);
int rc_store_get(rc_store *st, uint64_t seq, rc_stored_fn fn, void *arg, rc_err *err);
/* How many stored events rc_store_scan(q) would hand out, counted from the
 * indexes without reading an event (limit and desc are ignored). Never
 * RC_TRIMMED: bounds below the earliest stored seq count what is left. With
 * both type and subject the type index is used (suited to rare types within
 * a busy subject, such as a stream's tombstones). */
int rc_store_count(rc_store *st, const rc_query *q, uint64_t *count, rc_err *err);
/* The distinct subjects of the log in byte order, each handed to fn with
 * its newest stored event: subjects >= from (> from when excl; NULL: from
 * the first), below `below` when non-NULL, at most limit of them (0: no
 * limit). row->json is read only when the event's type is json_type (else
 * NULL, length 0), so a walk reads no payload it does not need. Each
 * subject is one seek of the subject index: O(subjects x log events),
 * however many events a subject has. One read snapshot for the walk. */
int rc_store_subjects(rc_store *st, const char *from, int excl, const char *below, size_t limit,
                      const char *json_type, rc_stored_fn fn, void *arg, rc_err *err);
/* Events of one key (subject) with io.redcar.kv.* types, oldest first. */
int rc_store_kv_history(rc_store *st, const char *key, size_t limit, rc_stored_fn fn, void *arg,
                        rc_err *err);

typedef struct rc_store_stats {
    uint64_t head_seq;        /* latest seq, 0 when empty */
    uint64_t first_seq;       /* earliest stored seq */
    uint64_t events;
    uint64_t keys;
    uint64_t bytes;           /* database + WAL file size */
    uint64_t commits;         /* group commits since open */
    uint64_t appended;        /* events appended since open */
    uint64_t syncs;           /* fdatasyncs of the log by the sync thread since open */
} rc_store_stats;
int rc_store_stats_get(rc_store *st, rc_store_stats *out);

/* ---- fan-out hook ------------------------------------------------------- */

/* Called once per group commit on a store thread (see Threads), after the
 * commit is durable and before its completions, with the newly stored
 * events in seq order (each has ev->seq and ev->time set; borrowed for the
 * call). Set once, before any append. */
typedef void (*rc_commit_hook)(void *arg, rc_event *const *evs, size_t n);
void rc_store_set_commit_hook(rc_store *st, rc_commit_hook fn, void *arg);

/* Active expiry: append io.redcar.kv.expired events for keys whose expiry
 * has passed (at most max per call). Returns the number expired. */
int rc_store_expire_due(rc_store *st, size_t max, rc_err *err);

/* ---- cluster mode (src/store/apply.c, docs/cluster.md) ------------------ */

/* With a replicator set, appends and transaction functions do not go to the
 * local writer: they are published (one message per request) and complete
 * when the local store has applied their message from the stream. Their
 * completions may then run on the replicator's threads as well as on the
 * writer thread. Without one (single node) nothing below is used. */
typedef struct rc_repl_pub {
    uint64_t token;           /* names the request in rc_store_published/the apply */
    const char *msgid;        /* Nats-Msg-Id: derived from the events' (source, id) */
    const void *body;         /* JSON array of structured CloudEvents [+ state] */
    size_t len;
    size_t state_len;         /* the last state_len bytes of body: replicated consumer state
                               * (an SQLite changeset of the consumer tables), 0: none */
    /* Coalesced plain appends (several requests in one message): "token:n,..."
     * naming each request and its number of events, in body order; NULL for
     * a message of one request (token names it). */
    const char *parts;
    int has_expect_last;      /* publish only if the stream's last seq is expect_last */
    uint64_t expect_last;
    int64_t expect_seq;       /* RC_EXPECT_ANY or the append's expected seq (checked at apply) */
    const char *expect_subject;
} rc_repl_pub;

typedef struct rc_replicator {
    /* Publish asynchronously; unless it returns an error, the replicator
     * then calls rc_store_published exactly once for p->token. */
    int (*publish)(void *ctx, const rc_repl_pub *p, rc_err *err);
    void *ctx;
    /* Optional, for rc_store_cluster_info_get: connected to the log now, and
     * the log's last sequence as last seen. */
    void (*state)(void *ctx, int *connected, uint64_t *stream_last);
} rc_replicator;

/* Set once, before the doors start. Creates the stream-position table and
 * reads the local position. */
int rc_store_set_replicator(rc_store *st, const rc_replicator *r, rc_err *err);
/* The replicator's answer for a token: status RC_OK with the stream seq
 * (duplicate: the stream already held that Nats-Msg-Id), RC_CONFLICT when
 * the expected last sequence did not match, or another error. */
void rc_store_published(rc_store *st, uint64_t token, int status, uint64_t stream_seq,
                        int duplicate, const rc_err *err);

/* One message of the stream, as the apply loop hands it over. */
typedef struct rc_repl_msg {
    uint64_t stream_seq;
    int64_t time_ms;          /* the stream's timestamp: apply's clock */
    int mine;                 /* published by this process: token names a waiting request */
    uint64_t token;
    int64_t expect_seq;       /* RC_EXPECT_ANY or as published */
    const char *expect_subject;
    const void *body;
    size_t len;
    size_t state_len;         /* as published (rc_repl_pub.state_len) */
    const char *parts;        /* as published (rc_repl_pub.parts), or NULL */
} rc_repl_msg;

/* Queue the message for the writer (blocks while the queue is full). Messages
 * must be given in stream order; one at or below the local position is
 * skipped, one beyond position + 1 fails at apply (a gap). */
int rc_store_apply(rc_store *st, const rc_repl_msg *m, rc_err *err);
/* Last stream seq applied and durable (0: none). */
uint64_t rc_store_applied(rc_store *st);
/* 1 (and why) when an apply failed since the last call: the apply loop must
 * start again from rc_store_applied() + 1. */
int rc_store_apply_failed(rc_store *st, rc_err *why);
/* Refuse (status, message) or accept (status RC_OK) new writes, e.g. while
 * the local store is ahead of the stream. */
void rc_store_refuse_writes(rc_store *st, int status, const char *why);
/* Fail (RC_TIMEOUT) the requests published more than max_age_ms ago
 * that no apply answered: a stuck apply must not hold clients forever.
 * Returns how many. */
int rc_store_sweep_pending(rc_store *st, int64_t max_age_ms);
/* The refusal in force (0 when writes are accepted or not in cluster
 * mode); why (may be NULL) receives its reason. For /health. */
int rc_store_refusing(rc_store *st, char *why, size_t n);

/* Cluster state for /info, INFO and /metrics. */
typedef struct rc_store_cluster_info {
    int connected;            /* to a NATS server now */
    uint64_t applied;         /* local stream position (last applied, durable) */
    uint64_t stream_last;     /* the stream's last seq as last seen */
    uint64_t lag;             /* stream_last - applied (0 when not behind) */
    uint64_t published;       /* messages this node published */
    uint64_t coalesced;       /* requests that shared a message with others */
    uint64_t waiting;         /* requests published or queued, not yet answered */
    int refusing;             /* status refusing writes, 0 = serving */
    char why[160];            /* the refusal's reason */
} rc_store_cluster_info;
/* 0 when not in cluster mode (out untouched), 1 when out is filled. */
int rc_store_cluster_info_get(rc_store *st, rc_store_cluster_info *out);

#ifdef __cplusplus
}
#endif
#endif
