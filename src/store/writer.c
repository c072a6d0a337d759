/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The write path: the request queue, the single writer thread and group
 * commit, idempotent appends, optimistic concurrency and transactions.
 *
 * Producers prepare a request on their own thread (strip `seq`, parse
 * `time`, encode the JSON payload, with a stand-in time the writer patches
 * in place when the event has none) so that the writer only binds and
 * steps. The write connection's VFS (walvfs.c) writes a commit's WAL
 * frames in one pwrite.
 * The writer takes every waiting request (up to max_group) and runs them in
 * one BEGIN IMMEDIATE..COMMIT. Consecutive plain appends run as one batch
 * without a SAVEPOINT each (a savepoint journals a copy of every page it
 * touches: measured, that was most of a KV write's cost); if one of them
 * fails the batch is undone and replayed one request per savepoint. A
 * transaction opens its savepoint at its first append.
 *
 * Durability (fsync always): the write connection runs synchronous=NORMAL,
 * so COMMIT writes the WAL without syncing it, and a sync thread
 * fdatasyncs the WAL; the writer meanwhile runs the next group. A committed
 * group is parked, unanswered, until a sync that began after its COMMIT
 * returned; then the sync thread calls the commit hook with its events in
 * seq order and the completions, and frees the requests: that work is per
 * request, and the writer is the one thread every request goes through.
 * One sync covers every group committed before it, so groups that pile up
 * behind a slow disk share one flush; and as a request that arrives during
 * a sync while a group already waits for the next one can only be made
 * durable by that next sync too, the writer holds such requests and
 * commits them as one group when the sync returns (the sync thread waiting
 * for that commit before it starts the next sync): fewer, larger groups,
 * each commit having ~40 us of its own cost. Readers of the database may see a commit up to one flush before
 * it is durable
 * (as Redis readers see a write before its AOF fsync); answers, fan-out and
 * stats.head_seq never do. If a sync fails, the parked requests fail with
 * RC_IO and every later write too (the kernel may have dropped the pages):
 * what is on disk is recovered by a restart. Without the sync thread
 * (fsync normal, or it could not start) COMMIT is the durability point.
 *
 * Batches (rc_store_batch_begin/end): an event loop that submits a round
 * of requests may run their group itself, as Redis's loop writes and
 * fsyncs its AOF before answering: it waits for the writer thread's group
 * to finish if one runs, commits, waits until every parked group is
 * answered, fdatasyncs the WAL, then calls the hook and the completions,
 * all on its own thread. No hand-off to the writer and the sync thread and
 * back: measured with redis-benchmark SET -c 50, that took redcar's CPU
 * per write from ~21 to ~17.5 us and context switches from ~20k/s to ~4k/s.
 * group_busy (under qmu) makes the writer thread and such a batch take
 * turns; every writer-only field is touched only by whoever holds it.
 *
 * Checkpoints run on a helper thread with its own connection (PASSIVE: it
 * never blocks the writer), kicked every CKPT_STEP frames; the writer only
 * finishes the job itself, after answering its group, once the WAL is
 * WAL_RESTART frames long, so that its next transaction rewinds the WAL to
 * the start instead of letting it grow while appends never pause.
 *
 * Invariants: st->head is the seq of the last event written in the open
 * transaction; it is restored whenever a request or the whole group rolls
 * back, so seqs stay gapless. A request is acknowledged only after its
 * commit is durable per the fsync setting.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redcar/log.h"
#include "store/store_int.h"

/* Most requests waiting in the queue: beyond this async submitters get
 * RC_BUSY and blocking ones wait, so memory stays bounded under overload. */
#define QUEUE_CAP 65536

/* The helper checkpoints each time the WAL grew by this many frames
 * (SQLite's own autocheckpoint default). */
#define CKPT_STEP 1000
/* From this WAL length on, the writer completes the checkpoint itself
 * after each group, provided the helper already copied all but the last
 * CKPT_STEP frames (so it is cheap). When a long reader (a backup, a big
 * export) pinned its snapshot, the helper could not copy past it and the
 * WAL grew behind it: the first pass after the reader left has the whole
 * backlog to copy and two fsyncs to run, which must happen on the helper,
 * not in front of the writer's next group. */
#define WAL_RESTART 4096

struct rc_txn {
    rc_store *st;
    rc__req *req;
    rc_buf key, val, ctype;   /* storage behind the pointers rc_txn_* return */
};

/* ---- requests ----------------------------------------------------------- */

/* A transaction request: its arrays grow as the function appends. */
static rc__req *req_new_txn(void) {
    rc__req *r = calloc(1, sizeof *r);
    if (r) r->expect_seq = RC_EXPECT_ANY;
    return r;
}

void rc__req_free(rc__req *r) {
    for (size_t i = 0; i < r->n; i++) rc_event_free(r->evs[i]);
    if (!r->one_block) {
        free(r->evs);
        free(r->items);
    }
    free(r->expect_subject);
    free(r);
}

/* Checks the store cannot leave to the caller without corrupting the log. */
static int check_event(const rc_event *ev, size_t i, rc_err *err) {
    if (!ev) return rc_err_set(err, RC_INVALID, "[%zu] event is NULL", i);
    if (!ev->id || !*ev->id) return rc_err_set(err, RC_EVENT_INVALID, "[%zu] id: required", i);
    if (!ev->source || !*ev->source)
        return rc_err_set(err, RC_EVENT_INVALID, "[%zu] source: required", i);
    if (!ev->type || !*ev->type) return rc_err_set(err, RC_EVENT_INVALID, "[%zu] type: required", i);
    if (!ev->specversion) return rc_err_set(err, RC_EVENT_INVALID, "[%zu] specversion: required", i);
    /* KV events are decoded again for as-of reads: they must be valid
     * CloudEvents, whatever the caller checked. */
    if (rc__is_kv_type(ev->type)) {
        rc_err verr;
        if (rc_event_validate(ev, &verr) != RC_OK)
            return rc_err_set(err, RC_EVENT_INVALID, "[%zu] %s", i, rc_err_msg(&verr));
    }
    return RC_OK;
}

/* An event without `time` gets the commit time, known only on the writer.
 * The producer encodes it with this stand-in, as wide as every time
 * rc_time_format writes for years 0000-9999, and the writer overwrites
 * the stand-in in place (in the encoding and in ev->time): no encoding and
 * no allocation on the writer. */
#define TIME_STANDIN "0000-00-00T00:00:00.000Z"
#define TIME_STANDIN_LEN (sizeof TIME_STANDIN - 1)
#define TIME_KEY "\"time\":\""

/* Producer side: strip seq, parse time, encode onto out. */
static int prep_event(rc_event *ev, size_t i, int standin, struct rc__enc *enc, rc_buf *out,
                      rc_err *err) {
    int rc = check_event(ev, i, err);
    if (rc) return rc;
    if (ev->n_ext) rc_event_remove_ext(ev, "seq");
    ev->seq = 0;
    enc->stamp = SIZE_MAX;
    if (!ev->time) {
        enc->off = SIZE_MAX;
        if (!standin || rc_event_set(ev, "time", TIME_STANDIN) != RC_OK)
            return RC_OK; /* the writer (or the cluster's publish) stamps it */
        enc->off = out->len;
        rc_event_encode_json(ev, 0, out);
        enc->len = out->len - enc->off;
        /* The first `"time":"` is the attribute: the core attributes come
         * first and their string values are escaped (a quote is \"). */
        const char *p = memmem(out->p + enc->off, enc->len, TIME_KEY TIME_STANDIN "\"",
                               sizeof TIME_KEY TIME_STANDIN "\"" - 1);
        if (p) {
            enc->stamp = (size_t)(p - out->p) + sizeof TIME_KEY - 1;
            return RC_OK;
        }
        out->len = enc->off; /* not found (cannot happen): the writer encodes */
        enc->off = SIZE_MAX;
        rc_event_set(ev, "time", NULL);
        return RC_OK;
    }
    if (rc_time_parse(ev->time, &enc->time_ms) != RC_OK)
        return rc_err_set(err, RC_EVENT_INVALID, "[%zu] time: must be an RFC 3339 timestamp", i);
    enc->off = out->len;
    rc_event_encode_json(ev, 0, out);
    enc->len = out->len - enc->off;
    return RC_OK;
}

/* Per-thread scratch for encoding on the producer side, so a request costs
 * one allocation (freed by the writer) however many events it carries. */
static pthread_key_t enc_key;
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;

static void enc_buf_free(void *p) {
    rc_buf_free(p);
    free(p);
}
static void enc_key_init(void) { pthread_key_create(&enc_key, enc_buf_free); }

static rc_buf *enc_buf(void) {
    pthread_once(&enc_once, enc_key_init);
    rc_buf *b = pthread_getspecific(enc_key);
    if (!b && (b = calloc(1, sizeof *b)) && pthread_setspecific(enc_key, b) != 0) {
        free(b);
        b = NULL;
    }
    return b;
}

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* Prepare the n events and build the request in one block:
 * [rc__req | evs | enc | items | payload]. Frees the events on failure. */
static int req_build(rc_event **evs, size_t n, int standin, rc__req **out, rc_err *err) {
    rc_buf local = RC_BUF_INIT, *b = enc_buf();
    if (!b) b = &local;
    rc_buf_reset(b);
    struct rc__enc small[8], *enc = n <= 8 ? small : malloc(n * sizeof *enc);
    int rc = enc ? RC_OK : rc_err_set(err, RC_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) rc = prep_event(evs[i], i, standin, &enc[i], b, err);
    rc__req *r = NULL;
    if (!rc) {
        size_t o_evs = ALIGN8(sizeof *r), o_enc = o_evs + ALIGN8(n * sizeof *evs),
               o_items = o_enc + ALIGN8(n * sizeof *enc), o_pay = o_items + n * sizeof(rc_append_item);
        char *blk = malloc(o_pay + b->len + 1);
        if (!blk) {
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
        } else {
            r = (rc__req *)blk;
            memset(r, 0, sizeof *r);
            r->one_block = 1;
            r->expect_seq = RC_EXPECT_ANY;
            r->evs = (rc_event **)(blk + o_evs);
            r->enc = (struct rc__enc *)(blk + o_enc);
            r->items = (rc_append_item *)(blk + o_items);
            r->payload = blk + o_pay;
            memcpy(r->evs, evs, n * sizeof *evs);
            memcpy(r->enc, enc, n * sizeof *enc);
            if (b->len) memcpy(r->payload, b->p, b->len);
            r->n = r->cap = r->n_items = r->cap_items = n;
        }
    }
    if (enc != small) free(enc);
    rc_buf_free(&local);
    /* keep the per-thread buffer from pinning a huge batch's memory */
    if (b != &local && b->cap > (1u << 20)) rc_buf_free(b);
    if (rc) {
        for (size_t i = 0; i < n; i++) rc_event_free(evs[i]);
        return rc;
    }
    *out = r;
    return RC_OK;
}

/* The store whose batch this thread has open (rc_store_batch_begin), and
 * whether this thread is running a group inline (rc_store_batch_end). */
static _Thread_local rc_store *tl_batch;
static _Thread_local int tl_in_group;

static int enqueue(rc_store *st, rc__req *r, int wait, rc_err *err) {
    pthread_mutex_lock(&st->qmu);
    while (!st->stopping && st->qlen >= QUEUE_CAP) {
        if (!wait) {
            pthread_mutex_unlock(&st->qmu);
            return rc_err_set(err, RC_BUSY, "store: %d requests already queued", QUEUE_CAP);
        }
        pthread_cond_wait(&st->qspace, &st->qmu);
    }
    if (st->stopping) {
        pthread_mutex_unlock(&st->qmu);
        return rc_err_set(err, RC_SHUTDOWN, "store is closing");
    }
    int was_empty = st->qhead == NULL;
    if (st->qtail) st->qtail->next = r;
    else st->qhead = r;
    st->qtail = r;
    st->qlen++;
    /* The writer sleeps on an empty queue, or holding requests during a
     * sync until they make a full group (checked under qmu). Inside a
     * batch, rc_store_batch_end decides. */
    if (tl_batch != st && (was_empty || (st->writer_waits && st->qlen == st->opts.max_group)))
        pthread_cond_signal(&st->qcv);
    pthread_mutex_unlock(&st->qmu);
    return RC_OK;
}

static int submit_append(rc_store *st, rc_event **evs, size_t n, const rc_append_opts *opts,
                         rc_append_done done, void *arg, int wait, rc_err *err) {
    if (!st || (!evs && n)) {
        for (size_t i = 0; evs && i < n; i++) rc_event_free(evs[i]);
        return rc_err_set(err, RC_INVALID, "store: no store or events");
    }
    if (n == 0) return rc_err_set(err, RC_INVALID, "store: empty append");
    rc__req *r;
    /* In cluster mode the publish stamps events without time itself (the
     * local request is not what gets stored): no stand-in there. */
    int rc = req_build(evs, n, st->cl == NULL, &r, err);
    if (rc) return rc;
    r->done = done;
    r->arg = arg;
    if (opts && opts->expect_seq != RC_EXPECT_ANY) {
        if (opts->expect_seq < 0)
            rc = rc_err_set(err, RC_INVALID, "expected seq must be >= 0 (or any)");
        r->expect_seq = opts->expect_seq;
        if (!rc && opts->expect_subject && !(r->expect_subject = strdup(opts->expect_subject)))
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
    }
    if (!rc) rc = st->cl ? rc__cl_append(st, r, err) : enqueue(st, r, wait, err);
    if (rc) rc__req_free(r);
    return rc;
}

int rc_store_append_async(rc_store *st, rc_event **evs, size_t n, const rc_append_opts *opts,
                          rc_append_done done, void *arg, rc_err *err) {
    return submit_append(st, evs, n, opts, done, arg, 0, err);
}

/* ---- blocking wrappers -------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
    rc_err *err;
    rc_append_item *items;
    size_t n;
} waiter;

static void waiter_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                        size_t n) {
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->status = status;
    if (w->err && err) *w->err = *err;
    if (w->err && !err && status) rc_err_set(w->err, status, "%s", rc_strerror(status));
    if (status == RC_OK && w->items && items) memcpy(w->items, items, (n < w->n ? n : w->n) * sizeof *items);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int waiter_wait(waiter *w) {
    pthread_mutex_lock(&w->mu);
    while (!w->done) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return w->status;
}

/* The threads that run transaction functions, hooks and completions: a
 * blocking call there would wait for itself. */
static int on_writer(rc_store *st) {
    return tl_in_group || (st->thread_started && pthread_equal(pthread_self(), st->thread)) ||
           (st->sync_started && pthread_equal(pthread_self(), st->sync_thread));
}

/* A blocking call from a thread with a batch open: its request would queue
 * behind the batch's without waking anyone. Close the batch first (its
 * group runs here, in submission order); the caller's own batch_end later
 * finds nothing to do. */
static void end_batch_before_blocking(rc_store *st) {
    if (tl_batch == st) rc_store_batch_end(st);
}

int rc_store_append(rc_store *st, rc_event **evs, size_t n, const rc_append_opts *opts,
                    rc_append_item *items, rc_err *err) {
    if (st && on_writer(st)) {
        for (size_t i = 0; evs && i < n; i++) rc_event_free(evs[i]);
        return rc_err_set(err, RC_BUSY, "store: blocking append on a store thread would deadlock");
    }
    end_batch_before_blocking(st);
    waiter w = {.status = RC_OK, .err = err, .items = items, .n = n};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = submit_append(st, evs, n, opts, waiter_done, &w, 1, err);
    if (rc) {
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        return rc;
    }
    return waiter_wait(&w);
}

static int txn_async(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_txn_done done, void *arg,
                     int rerun, rc_err *err) {
    if (!st || !fn) return rc_err_set(err, RC_INVALID, "store: no store or function");
    rc__req *r = req_new_txn();
    if (!r) return rc_err_set(err, RC_NOMEM, "out of memory");
    r->rerun = rerun;
    r->fn = fn;
    r->fn_arg = fn_arg;
    r->done = done;
    r->arg = arg;
    int rc = st->cl ? rc__cl_txn(st, r, err) : enqueue(st, r, 0, err);
    if (rc) rc__req_free(r);
    return rc;
}

int rc_store_txn_async(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_txn_done done, void *arg,
                       rc_err *err) {
    return txn_async(st, fn, fn_arg, done, arg, 0, err);
}

int rc_store_txn_async_rerun(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_txn_done done,
                             void *arg, rc_err *err) {
    return txn_async(st, fn, fn_arg, done, arg, 1, err);
}

/* The same without the replicator: the cluster's own apply and dry runs. */
int rc__enqueue_txn(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_append_done done, void *arg,
                    int wait, rc_err *err) {
    rc__req *r = req_new_txn();
    if (!r) return rc_err_set(err, RC_NOMEM, "out of memory");
    r->fn = fn;
    r->fn_arg = fn_arg;
    r->done = done;
    r->arg = arg;
    int rc = enqueue(st, r, wait, err);
    if (rc) rc__req_free(r);
    return rc;
}

int rc_store_txn(rc_store *st, rc_txn_fn fn, void *fn_arg, rc_err *err) {
    if (!st || !fn) return rc_err_set(err, RC_INVALID, "store: no store or function");
    if (on_writer(st))
        return rc_err_set(err, RC_BUSY, "store: blocking transaction on a store thread would deadlock");
    end_batch_before_blocking(st);
    rc__req *r = req_new_txn();
    if (!r) return rc_err_set(err, RC_NOMEM, "out of memory");
    waiter w = {.status = RC_OK, .err = err};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    r->fn = fn;
    r->fn_arg = fn_arg;
    r->done = waiter_done;
    r->arg = &w;
    int rc = st->cl ? rc__cl_txn(st, r, err) : enqueue(st, r, 1, err);
    if (rc) {
        rc__req_free(r);
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        return rc;
    }
    return waiter_wait(&w);
}

/* ---- the writer --------------------------------------------------------- */

static int wstep(rc_store *st, int which) {
    sqlite3_stmt *s = st->ws[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Room for one more fresh event, made before the insert so that nothing
 * can fail between storing a row and recording it. */
static int reserve_fresh(rc_store *st) {
    if (st->n_fresh == st->cap_fresh) {
        size_t cap = st->cap_fresh ? st->cap_fresh * 2 : 256;
        rc_event **p = realloc(st->fresh, cap * sizeof *p);
        if (!p) return RC_NOMEM;
        st->fresh = p;
        st->cap_fresh = cap;
    }
    return RC_OK;
}

/* Insert one prepared event at head+1 (or find its duplicate) and apply it
 * to the KV view. On failure the caller rolls back. */
static int store_event(rc_store *st, rc_event *ev, const char *json, size_t len, int64_t time_ms,
                       rc_append_item *item, rc_err *err) {
    uint64_t seq = st->head + 1;
    if (len > INT_MAX) return rc_err_set(err, RC_TOO_LARGE, "event %s: encoded event too large", ev->id);
    if (reserve_fresh(st)) return rc_err_set(err, RC_NOMEM, "out of memory");
    sqlite3_stmt *s = st->ws[WS_INSERT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    sqlite3_bind_text(s, 2, ev->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, ev->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, ev->type, -1, SQLITE_STATIC);
    if (ev->subject) sqlite3_bind_text(s, 5, ev->subject, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 5);
    sqlite3_bind_int64(s, 6, time_ms);
    sqlite3_bind_text(s, 7, json, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return rc__sqlite_err(st->wdb, rc, err, "appending event");
    if (sqlite3_changes(st->wdb) == 0) {
        /* (source, id) is stored: idempotent retry. */
        sqlite3_stmt *d = st->ws[WS_FIND_DUP];
        sqlite3_bind_text(d, 1, ev->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(d, 2, ev->id, -1, SQLITE_STATIC);
        rc = sqlite3_step(d);
        uint64_t found = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(d, 0) : 0;
        sqlite3_reset(d);
        if (rc != SQLITE_ROW) return rc__sqlite_err(st->wdb, rc, err, "finding duplicate");
        item->seq = found;
        item->duplicate = 1;
        return RC_OK;
    }
    st->head = seq;
    ev->seq = seq;
    item->seq = seq;
    item->duplicate = 0;
    if (rc__is_kv_type(ev->type) && (rc = rc__kv_apply(st, ev, seq, err))) return rc;
    st->fresh[st->n_fresh++] = ev;
    return RC_OK;
}

/* The group's clock as RFC 3339, formatted when an event first needs it
 * (again if the clock was set meanwhile: a cluster apply runs on the
 * stream's time). */
static const char *group_time(rc_store *st) {
    if (!st->now_len || st->now_fmt_ms != st->now_ms) {
        rc_time_format(st->now_ms, st->now_str, sizeof st->now_str);
        st->now_len = strlen(st->now_str);
        st->now_fmt_ms = st->now_ms;
    }
    return st->now_str;
}

/* An event without `time` gets the group's commit time, encoded here. */
static int stamp_and_encode(rc_store *st, rc_event *ev, int64_t *time_ms, rc_err *err) {
    if (rc_event_set(ev, "time", group_time(st)) != RC_OK)
        return rc_err_set(err, RC_NOMEM, "out of memory");
    *time_ms = st->now_ms;
    rc_buf_reset(&st->scratch);
    rc_event_encode_json(ev, 0, &st->scratch);
    return RC_OK;
}

static int check_expect(rc_store *st, rc__req *r, rc_err *err) {
    const char *subject = r->expect_subject ? r->expect_subject : r->evs[0]->subject;
    uint64_t latest = st->head;
    /* Without any subject, the expectation is about the whole log. */
    if (subject) {
        sqlite3_stmt *s = st->ws[WS_SUBJ_HEAD];
        sqlite3_bind_text(s, 1, subject, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        latest = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) return rc__sqlite_err(st->wdb, rc, err, "checking expected seq");
    }
    if ((uint64_t)r->expect_seq != latest)
        return rc_err_set(err, RC_CONFLICT, "expected seq %lld for %s%s, but the latest is %llu",
                          (long long)r->expect_seq, subject ? "subject " : "the log",
                          subject ? subject : "", (unsigned long long)latest);
    return RC_OK;
}

static int run_append(rc_store *st, rc__req *r) {
    int rc = RC_OK;
    if (r->expect_seq != RC_EXPECT_ANY && (rc = check_expect(st, r, &r->err))) return rc;
    for (size_t i = 0; i < r->n; i++) {
        rc_event *ev = r->evs[i];
        int64_t tms = r->enc[i].time_ms;
        const char *json;
        size_t len;
        if (r->enc[i].stamp != SIZE_MAX && group_time(st) && st->now_len == TIME_STANDIN_LEN) {
            memcpy(r->payload + r->enc[i].stamp, st->now_str, TIME_STANDIN_LEN);
            memcpy(ev->time, st->now_str, TIME_STANDIN_LEN);
            tms = st->now_ms;
            json = r->payload + r->enc[i].off;
            len = r->enc[i].len;
        } else if (r->enc[i].off == SIZE_MAX || r->enc[i].stamp != SIZE_MAX) {
            if ((rc = stamp_and_encode(st, ev, &tms, &r->err))) return rc;
            json = st->scratch.p;
            len = st->scratch.len;
        } else {
            json = r->payload + r->enc[i].off;
            len = r->enc[i].len;
        }
        if ((rc = store_event(st, ev, json, len, tms, &r->items[i], &r->err))) return rc;
    }
    return RC_OK;
}

static int run_txn(rc_store *st, rc__req *r) {
    /* A transaction run again (rc_store_txn_async_rerun) starts afresh:
     * what it appended the first time was rolled back. */
    for (size_t i = 0; i < r->n; i++) rc_event_free(r->evs[i]);
    r->n = r->n_items = 0;
    r->txn_failed = 0;
    rc_txn tx = {.st = st, .req = r};
    rc_buf_init(&tx.key);
    rc_buf_init(&tx.val);
    rc_buf_init(&tx.ctype);
    int rc = r->fn(&tx, r->fn_arg, &r->err);
    rc_buf_free(&tx.key);
    rc_buf_free(&tx.val);
    rc_buf_free(&tx.ctype);
    return rc;
}

/* A request on its own needs a savepoint when it could fail half-way:
 * several events, a check before them, a KV event (insert, then apply).
 * A transaction opens its savepoint itself, at its first append. */
static int need_savepoint(const rc__req *r) {
    return r->n > 1 || r->expect_seq != RC_EXPECT_ANY ||
           (r->n == 1 && rc__is_kv_type(r->evs[0]->type));
}

/* Run one request, in a savepoint of its own when it needs one, so that a
 * failure undoes exactly this request. */
static void run_request(rc_store *st, rc__req *r) {
    uint64_t saved_head = st->head;
    size_t saved_fresh = st->n_fresh;
    int sp = !r->fn && need_savepoint(r);
    int rc;
    rc_err_clear(&r->err);
    r->sp_open = 0;
    if (sp && (rc = wstep(st, WS_SAVE)) != SQLITE_OK) {
        r->status = rc__sqlite_err(st->wdb, rc, &r->err, "starting request");
        return;
    }
    r->sp_open = sp;
    rc = r->fn ? run_txn(st, r) : run_append(st, r);
    if (rc == RC_OK && r->sp_open) {
        int s = wstep(st, WS_RELEASE);
        if (s != SQLITE_OK) rc = rc__sqlite_err(st->wdb, s, &r->err, "finishing request");
    }
    if (rc != RC_OK) {
        /* Without a savepoint the request wrote nothing that stayed:
         * a single statement that fails is undone by SQLite itself. */
        if (r->sp_open && !sqlite3_get_autocommit(st->wdb)) {
            wstep(st, WS_UNDO);
            wstep(st, WS_RELEASE);
        }
        st->head = saved_head;
        st->n_fresh = saved_fresh;
        if (r->err.code != rc || !r->err.msg[0]) {
            if (!r->err.msg[0]) rc_err_set(&r->err, rc, "%s", rc_strerror(rc));
            r->err.code = rc;
        }
    }
    r->sp_open = 0;
    r->status = rc;
}

/* A run of plain appends [from, to) without a savepoint per request: they
 * are data, not code, so they can run again (and so can the transactions
 * of rc_store_txn_async_rerun: the run holds both). Optimistically all of them
 * go in one step, inside one savepoint (none when the run opens the group:
 * then the group's own transaction is the undo); SQLite journals each page
 * once per savepoint, not once per request. If one fails, the run is undone
 * and played again request by request, each in its own savepoint, which
 * yields exactly the per-request outcome. Returns the request that aborted
 * the whole transaction, if one did. */
static rc__req *run_batch(rc_store *st, rc__req *from, rc__req *to, int opens_group) {
    if (from->next == to && !from->fn && !need_savepoint(from)) { /* nothing to batch */
        run_request(st, from);
        return sqlite3_get_autocommit(st->wdb) ? from : NULL;
    }
    uint64_t saved_head = st->head;
    size_t saved_fresh = st->n_fresh;
    int rc = RC_OK;
    rc__req *r;
    if (!opens_group && (rc = wstep(st, WS_SAVE)) != SQLITE_OK) {
        rc_err_clear(&from->err);
        from->status = rc__sqlite_err(st->wdb, rc, &from->err, "starting request");
        return sqlite3_get_autocommit(st->wdb) ? from : NULL;
    }
    for (r = from; r != to; r = r->next) {
        rc_err_clear(&r->err);
        if (r->fn) { /* re-runnable: inside the run's undo, no savepoint */
            r->own_sp = 1;
            rc = run_txn(st, r);
            r->own_sp = 0;
            /* an append that failed may have left half its writes, even
             * if the function went on: replay it in a savepoint */
            if (rc == RC_OK && r->txn_failed) rc = RC_IO;
        } else {
            rc = run_append(st, r);
        }
        if (rc != RC_OK) break;
        r->status = RC_OK;
    }
    if (rc == RC_OK) {
        if (opens_group) return NULL;
        int s = wstep(st, WS_RELEASE);
        if (s == SQLITE_OK) return NULL;
        rc = rc__sqlite_err(st->wdb, s, &from->err, "finishing request");
        r = from;
    }
    if (sqlite3_get_autocommit(st->wdb)) { /* SQLite rolled everything back */
        r->status = rc;
        return r;
    }
    /* Undo the run, then play it again one request at a time. */
    RC_DEBUG("store", "batch of appends failed (%s): replaying it request by request",
             rc_err_msg(&r->err));
    int s;
    if (opens_group) {
        s = wstep(st, WS_ROLLBACK);
        if (s == SQLITE_OK) s = wstep(st, WS_BEGIN);
    } else {
        s = wstep(st, WS_UNDO);
        if (s == SQLITE_OK) s = wstep(st, WS_RELEASE);
    }
    st->head = saved_head;
    st->n_fresh = saved_fresh;
    if (s != SQLITE_OK) {
        rc_err_clear(&from->err);
        from->status = rc__sqlite_err(st->wdb, s, &from->err, "undoing a batch of appends");
        if (!sqlite3_get_autocommit(st->wdb)) wstep(st, WS_ROLLBACK);
        return from;
    }
    for (r = from; r != to; r = r->next) {
        run_request(st, r);
        if (sqlite3_get_autocommit(st->wdb)) return r;
    }
    return NULL;
}

/* Completions of a finished group, in submission order; frees it. */
static void complete_all(rc__req *list) {
    while (list) {
        rc__req *r = list;
        list = r->next;
        if (r->done) {
            if (r->status == RC_OK) r->done(r->arg, RC_OK, NULL, r->items, r->n_items);
            else r->done(r->arg, r->status, &r->err, NULL, 0);
        }
        rc__req_free(r);
    }
}

/* Every request of the group that had succeeded gets the group's failure. */
static void fail_all(rc__req *list, int status, const rc_err *err) {
    for (rc__req *r = list; r; r = r->next)
        if (r->status == RC_OK) {
            r->status = status;
            r->err = *err;
        }
}

static int wait_sync(rc_store *st, rc__req *list);

/* The sync thread lets a group being committed join the sync it is about
 * to start (see writer_main): these bracket the writer's group. */
static void commit_begin(rc_store *st) {
    if (!st->sync_started) return;
    pthread_mutex_lock(&st->smu);
    st->committing = 1;
    pthread_mutex_unlock(&st->smu);
}

static void commit_end(rc_store *st) {
    if (!st->sync_started) return;
    pthread_mutex_lock(&st->smu);
    st->committing = 0;
    if (st->sync_waits) pthread_cond_signal(&st->scv);
    pthread_mutex_unlock(&st->smu);
}

static void run_group(rc_store *st, rc__req *list, int inline_sync) {
    uint64_t saved = st->head;
    int gstatus = RC_OK;
    rc_err gerr;
    rc_err_clear(&gerr);
    st->now_ms = rc__now_ms();
    st->now_len = 0; /* formatted when an event needs it (group_time) */
    st->n_fresh = 0;
    int rc = SQLITE_OK;
    if (atomic_load(&st->broken)) {
        gstatus = rc_err_set(&gerr, RC_IO, "store: an fsync of the log failed earlier; restart "
                                           "the server to recover what is on disk");
    } else if ((rc = wstep(st, WS_BEGIN)) != SQLITE_OK) {
        gstatus = rc__sqlite_err(st->wdb, rc, &gerr, "starting group commit");
    } else {
        for (rc__req *r = list, *next; r; r = next) {
            rc__req *aborted;
            if (r->fn && !r->rerun) {
                next = r->next;
                run_request(st, r);
                aborted = sqlite3_get_autocommit(st->wdb) ? r : NULL;
            } else { /* plain appends and re-runnable transactions */
                for (next = r->next; next && (!next->fn || next->rerun); next = next->next) continue;
                aborted = run_batch(st, r, next, r == list);
            }
            if (aborted) {
                /* SQLite rolled the whole transaction back (I/O error,
                 * disk full): nothing of this group survives. */
                gstatus = aborted->status ? aborted->status : RC_IO;
                gerr = aborted->err;
                if (!gerr.msg[0]) rc_err_set(&gerr, gstatus, "group commit aborted");
                break;
            }
        }
        if (gstatus == RC_OK) {
            rc = wstep(st, WS_COMMIT);
            if (rc != SQLITE_OK) gstatus = rc__sqlite_err(st->wdb, rc, &gerr, "committing");
        }
        if (gstatus != RC_OK && !sqlite3_get_autocommit(st->wdb)) wstep(st, WS_ROLLBACK);
    }
    if (gstatus != RC_OK) {
        st->head = saved;
        st->n_fresh = 0;
        fail_all(list, gstatus, &gerr);
        RC_WARN("store", "group commit failed: %s", rc_err_msg(&gerr));
    } else {
        atomic_fetch_add(&st->commits, 1);
        atomic_fetch_add(&st->appended, st->n_fresh);
        int e = 0;
        if (st->sync_started) {
            if (!inline_sync && wait_sync(st, list) == RC_OK) return;
            /* Run inline (rc_store_batch_end), or no memory to park the
             * group: let the sync thread answer every parked group first (hooks and answers stay in seq
             * order and on one thread at a time), then sync here. */
            commit_end(st);
            pthread_mutex_lock(&st->qmu);
            while (atomic_load(&st->n_waiting) > 0) {
                if (!inline_sync) st->writer_waits = 1; /* (the writer's flag) */
                pthread_cond_wait(&st->qcv, &st->qmu);
            }
            if (!inline_sync) st->writer_waits = 0;
            pthread_mutex_unlock(&st->qmu);
            if (atomic_load(&st->broken)) e = EIO;
            else
                while (fdatasync(st->wal_fd) != 0 && (e = errno) == EINTR) e = 0;
            if (e) atomic_store(&st->broken, 1);
            atomic_fetch_add(&st->syncs, 1);
        }
        if (e) {
            rc_err_set(&gerr, RC_IO, "store: fsync of the log failed (%s): the write may be lost",
                       strerror(e));
            fail_all(list, RC_IO, &gerr);
        } else {
            /* durable: synchronous=FULL synced in COMMIT, or synced above */
            atomic_store(&st->pub_head, st->head);
            if (st->hook && st->n_fresh) st->hook(st->hook_arg, st->fresh, st->n_fresh);
        }
    }
    complete_all(list);
    st->n_fresh = 0;
}

/* ---- durability: the sync thread ---------------------------------------- */

/* A committed group waiting for the sync (fsync always). */
typedef struct rc__group {
    struct rc__group *next;
    rc__req *list;
    rc_event **fresh;         /* the group's new events, for the commit hook */
    size_t n_fresh, n_reqs;
    uint64_t gen, head;
} rc__group;

/* Park the committed group until a sync covers it, and ask for one. */
static int wait_sync(rc_store *st, rc__req *list) {
    rc__group *g = calloc(1, sizeof *g);
    if (!g) return RC_NOMEM; /* (then answered now, after a sync of our own) */
    g->list = list;
    g->fresh = st->fresh;
    g->n_fresh = st->n_fresh;
    g->head = st->head;
    g->gen = ++st->gen;
    for (rc__req *r = list; r; r = r->next) g->n_reqs++;
    st->fresh = NULL; /* the next group gets a new array */
    st->n_fresh = st->cap_fresh = 0;
    atomic_fetch_add(&st->n_waiting, g->n_reqs);
    pthread_mutex_lock(&st->smu);
    int was_idle = st->wait_h == NULL;
    if (st->wait_t) st->wait_t->next = g;
    else st->wait_h = g;
    st->wait_t = g;
    atomic_fetch_add(&st->n_parked, 1);
    /* A busy sync thread takes every parked group when it comes back. */
    if (was_idle) pthread_cond_signal(&st->scv);
    pthread_mutex_unlock(&st->smu);
    return RC_OK;
}

/* Sync thread: answer and fan out groups a sync covered (or fail them
 * all if it failed: their data may not be on disk), in seq order; then
 * let a writer that waits for room go on. */
static void finish_groups(rc_store *st, rc__group *g, int sync_errno) {
    size_t answered = 0;
    while (g) {
        rc__group *next = g->next;
        if (sync_errno) {
            rc_err e;
            rc_err_set(&e, RC_IO, "store: fsync of the log failed (%s): the write may be lost",
                       strerror(sync_errno));
            fail_all(g->list, RC_IO, &e);
        } else {
            atomic_store(&st->pub_head, g->head);
            if (st->hook && g->n_fresh) st->hook(st->hook_arg, g->fresh, g->n_fresh);
        }
        complete_all(g->list);
        answered += g->n_reqs;
        free(g->fresh);
        free(g);
        g = next;
    }
    atomic_fetch_sub(&st->n_waiting, answered);
    /* the writer waiting for room, or a batch waiting for these answers
     * (run_group); a broadcast without waiters costs no system call */
    pthread_mutex_lock(&st->qmu);
    pthread_cond_broadcast(&st->qcv);
    pthread_mutex_unlock(&st->qmu);
}

/* fdatasync of the WAL file covers every frame written before it began:
 * all groups parked by then. After a failed sync nothing later is synced
 * again (the kernel may have dropped the pages): every group fails. */
static void *sync_main(void *arg) {
    rc_store *st = arg;
    pthread_setname_np(pthread_self(), "rc-sync");
    int sync_errno = 0;
    pthread_mutex_lock(&st->smu);
    for (;;) {
        while (!st->wait_h && !st->sync_stop) pthread_cond_wait(&st->scv, &st->smu);
        if (!st->wait_h) break; /* stopping, nothing left */
        /* A group being committed now would otherwise wait for the sync
         * after this one: a commit is short next to a sync. */
        while (st->committing) {
            st->sync_waits = 1;
            pthread_cond_wait(&st->scv, &st->smu);
        }
        st->sync_waits = 0;
        rc__group *g = st->wait_h;
        st->wait_h = st->wait_t = NULL;
        atomic_store(&st->n_parked, 0);
        atomic_store(&st->syncing, 1);
        pthread_mutex_unlock(&st->smu);
        while (!sync_errno && fdatasync(st->wal_fd) != 0) {
            if (errno == EINTR) continue;
            sync_errno = errno;
            atomic_store(&st->broken, 1);
            RC_ERROR("store", "fsync of %s-wal failed: %s", st->db_path, strerror(sync_errno));
        }
        atomic_store(&st->syncing, 0);
        atomic_fetch_add(&st->syncs, 1);
        /* a writer holding requests for the next sync commits them now,
         * while this thread answers */
        pthread_mutex_lock(&st->qmu);
        if (st->writer_waits) pthread_cond_broadcast(&st->qcv);
        pthread_mutex_unlock(&st->qmu);
        finish_groups(st, g, sync_errno);
        pthread_mutex_lock(&st->smu);
    }
    pthread_mutex_unlock(&st->smu);
    return NULL;
}

/* With fsync always: let the sync thread flush the WAL (synchronous=NORMAL
 * on the write connection writes without syncing). On any failure stay
 * with synchronous=FULL, where COMMIT itself syncs (slower, never wrong). */
static void sync_start(rc_store *st) {
    st->wal_fd = -1;
    if (st->opts.fsync != RC_FSYNC_ALWAYS) return;
    char path[4096];
    snprintf(path, sizeof path, "%s-wal", st->db_path);
    /* The WAL exists (open_writer wrote in WAL mode) and stays while the
     * write connection is open: SQLite deletes it only when the last
     * connection closes. Its directory entry must be durable too. */
    const char *why = "cannot open and sync the WAL and its directory";
    st->wal_fd = open(path, O_RDWR | O_CLOEXEC);
    int dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->wal_fd < 0 || dfd < 0 || fsync(dfd) != 0 || fdatasync(st->wal_fd) != 0) goto fail;
    close(dfd);
    dfd = -1;
    pthread_mutex_init(&st->smu, NULL);
    pthread_cond_init(&st->scv, NULL);
    st->wait_h = st->wait_t = NULL;
    st->gen = 0;
    st->sync_stop = st->committing = st->sync_waits = 0;
    atomic_store(&st->syncing, 0);
    atomic_store(&st->n_parked, 0);
    atomic_store(&st->n_waiting, 0);
    atomic_store(&st->broken, 0);
    why = "cannot start a thread";
    if (pthread_create(&st->sync_thread, NULL, sync_main, st) != 0) {
        pthread_mutex_destroy(&st->smu);
        pthread_cond_destroy(&st->scv);
        goto fail;
    }
    why = "cannot set synchronous=NORMAL";
    if (sqlite3_exec(st->wdb, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        pthread_mutex_lock(&st->smu);
        st->sync_stop = 1;
        pthread_cond_signal(&st->scv);
        pthread_mutex_unlock(&st->smu);
        pthread_join(st->sync_thread, NULL);
        pthread_mutex_destroy(&st->smu);
        pthread_cond_destroy(&st->scv);
        goto fail;
    }
    st->sync_started = 1;
    return;
fail:
    RC_WARN("store", "no sync thread (%s): COMMIT syncs the log itself", why);
    if (dfd >= 0) close(dfd);
    if (st->wal_fd >= 0) close(st->wal_fd);
    st->wal_fd = -1;
}

/* After the writer finished (nothing waits for a sync any more). */
static void sync_stop(rc_store *st) {
    if (!st->sync_started) return;
    pthread_mutex_lock(&st->smu);
    st->sync_stop = 1;
    pthread_cond_signal(&st->scv);
    pthread_mutex_unlock(&st->smu);
    pthread_join(st->sync_thread, NULL);
    pthread_mutex_destroy(&st->smu);
    pthread_cond_destroy(&st->scv);
    sqlite3_exec(st->wdb, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    close(st->wal_fd);
    st->wal_fd = -1;
    st->sync_started = 0;
}

/* ---- checkpoints -------------------------------------------------------- */

/* Replaces SQLite's autocheckpoint hook on the write connection: only
 * record the length; the writer acts on it after answering the group. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
    (void)db, (void)name;
    ((rc_store *)arg)->wal_frames = frames;
    return SQLITE_OK;
}

static void *ckpt_main(void *arg) {
    rc_store *st = arg;
    pthread_setname_np(pthread_self(), "rc-checkpoint"); /* for top -H / perf */
    pthread_mutex_lock(&st->cmu);
    for (;;) {
        while (!st->ckpt_want && !st->ckpt_stop) pthread_cond_wait(&st->ccv, &st->cmu);
        if (st->ckpt_stop) break;
        st->ckpt_want = 0;
        pthread_mutex_unlock(&st->cmu);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(st->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc == SQLITE_OK) {
            atomic_store(&st->ckpt_backfilled, done);
            atomic_fetch_add(&st->ckpt_bg, 1);
        }
        else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            RC_WARN("store", "checkpoint: %s", sqlite3_errmsg(st->cdb));
        pthread_mutex_lock(&st->cmu);
    }
    pthread_mutex_unlock(&st->cmu);
    return NULL;
}

/* After a group was answered: kick the helper, or finish the checkpoint
 * here when the WAL is long (see the file comment). */
static void after_group(rc_store *st) {
    int frames = st->wal_frames;
    if (frames < st->wal_kicked) { /* the WAL was rewound */
        st->wal_kicked = 0;
        atomic_store(&st->ckpt_backfilled, 0);
    }
    if (!st->ckpt_started) return; /* SQLite's autocheckpoint runs */
    /* Left to copy; negative when a pass of the helper over the old WAL
     * raced the rewind: unknown, so leave it to the helper. */
    int left = frames - atomic_load(&st->ckpt_backfilled);
    if (frames >= WAL_RESTART && left >= 0 && left <= CKPT_STEP) {
        int log = 0, done = 0;
        /* PASSIVE: SQLITE_BUSY while the helper holds the checkpoint lock;
         * the next group tries again. */
        if (sqlite3_wal_checkpoint_v2(st->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
            SQLITE_OK) {
            atomic_store(&st->ckpt_backfilled, done);
            atomic_fetch_add(&st->ckpt_writer, 1);
            st->wal_kicked = 0;
            return;
        }
    }
    if (frames - st->wal_kicked >= CKPT_STEP) {
        st->wal_kicked = frames;
        pthread_mutex_lock(&st->cmu);
        st->ckpt_want = 1;
        pthread_cond_signal(&st->ccv);
        pthread_mutex_unlock(&st->cmu);
    }
}

/* Start the helper; on any failure keep SQLite's autocheckpoint on the
 * writer (slower, never wrong). */
static void ckpt_start(rc_store *st) {
    const char *sync = st->opts.fsync == RC_FSYNC_NORMAL ? "PRAGMA synchronous=NORMAL"
                                                         : "PRAGMA synchronous=FULL";
    if (sqlite3_open_v2(st->db_path, &st->cdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(st->cdb, sync, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    pthread_mutex_init(&st->cmu, NULL);
    pthread_cond_init(&st->ccv, NULL);
    st->ckpt_want = st->ckpt_stop = 0;
    if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) != 0) {
        pthread_mutex_destroy(&st->cmu);
        pthread_cond_destroy(&st->ccv);
        goto fail;
    }
    st->ckpt_started = 1;
    sqlite3_wal_hook(st->wdb, wal_hook, st);
    return;
fail:
    RC_WARN("store", "no checkpoint thread (%s): checkpointing on the writer",
            st->cdb ? sqlite3_errmsg(st->cdb) : "out of memory");
    sqlite3_close(st->cdb);
    st->cdb = NULL;
}

static void ckpt_stop(rc_store *st) {
    if (!st->ckpt_started) return;
    pthread_mutex_lock(&st->cmu);
    st->ckpt_stop = 1;
    pthread_cond_signal(&st->ccv);
    pthread_mutex_unlock(&st->cmu);
    pthread_join(st->ckpt_thread, NULL);
    pthread_mutex_destroy(&st->cmu);
    pthread_cond_destroy(&st->ccv);
    sqlite3_close(st->cdb);
    st->cdb = NULL;
    st->ckpt_started = 0;
    /* Back to SQLite's hook: closing the last connection checkpoints. */
    sqlite3_wal_autocheckpoint(st->wdb, 1000);
}

/* ---- the writer loop ---------------------------------------------------- */

/* Most requests waiting for a sync; past it the writer waits too, so
 * memory stays bounded however slow the disk is. */
#define WAIT_CAP QUEUE_CAP

/* Under qmu, with requests queued: take a group (up to max_group). */
static rc__req *take_group(rc_store *st) {
    rc__req *list = st->qhead, *last;
    size_t k;
    if (st->qlen <= st->opts.max_group) {
        /* the usual case: take everything without walking the list */
        k = st->qlen;
        st->qhead = st->qtail = NULL;
    } else {
        last = list;
        for (k = 1; k < st->opts.max_group; k++) last = last->next;
        st->qhead = last->next;
        last->next = NULL;
    }
    int was_full = st->qlen >= QUEUE_CAP;
    st->qlen -= k;
    if (was_full) pthread_cond_broadcast(&st->qspace);
    return list;
}

static void *writer_main(void *arg) {
    rc_store *st = arg;
    pthread_setname_np(pthread_self(), "rc-writer");
    for (;;) {
        pthread_mutex_lock(&st->qmu);
        int take;
        for (;;) {
            take = st->qhead && !st->group_busy && atomic_load(&st->n_waiting) < WAIT_CAP;
            /* While a sync is in flight and a group already waits for the
             * next one, requests committed now would only join that next
             * sync too, which the sync thread starts after this one
             * returned and after waiting for a commit in progress. So hold
             * them until this sync returns and commit them as one group
             * then: fewer groups (a commit costs ~40 us of its own,
             * whatever its size). Without a parked group the writer
             * commits at once: the next sync then has work ready when this
             * one returns, and on a fast disk commit and sync overlap
             * instead of taking turns. A full group goes at once. */
            if (take && atomic_load(&st->syncing) && atomic_load(&st->n_parked) > 0 &&
                st->qlen < st->opts.max_group)
                take = 0;
            if (take || (st->stopping && !st->qhead)) break;
            st->writer_waits = st->qhead != NULL; /* full: the sync thread wakes us */
            pthread_cond_wait(&st->qcv, &st->qmu);
        }
        st->writer_waits = 0;
        if (!take) { /* stopping and drained: the sync thread answers the rest */
            pthread_mutex_unlock(&st->qmu);
            break;
        }
        rc__req *list = take_group(st);
        st->group_busy = 1;
        pthread_mutex_unlock(&st->qmu);
        commit_begin(st);
        run_group(st, list, 0);
        commit_end(st);
        after_group(st);
        pthread_mutex_lock(&st->qmu);
        st->group_busy = 0;
        pthread_cond_broadcast(&st->qcv); /* a batch_end may wait (no waiter: no syscall) */
        pthread_mutex_unlock(&st->qmu);
    }
    return NULL;
}

/* ---- batches run by the submitting thread -------------------------------- */

void rc_store_batch_begin(rc_store *st) { tl_batch = st; }

void rc_store_batch_end(rc_store *st) {
    tl_batch = NULL;
    if (!st) return;
    pthread_mutex_lock(&st->qmu);
    if (!st->qhead) {
        pthread_mutex_unlock(&st->qmu);
        return;
    }
    if (st->stopping || st->cl || tl_in_group) {
        pthread_cond_broadcast(&st->qcv);
        pthread_mutex_unlock(&st->qmu);
        return;
    }
    /* The writer thread may be running a group (HTTP's): it is short,
     * SQLite time only; its sync runs on the sync thread, which this
     * group waits for before answering (run_group), to keep hooks and
     * answers in seq order. */
    while (st->group_busy) {
        st->batch_waiters++;
        pthread_cond_wait(&st->qcv, &st->qmu);
        st->batch_waiters--;
    }
    if (!st->qhead) { /* another closer's group took our requests: they are answered */
        pthread_mutex_unlock(&st->qmu);
        return;
    }
    rc__req *list = take_group(st);
    st->group_busy = 1;
    pthread_mutex_unlock(&st->qmu);
    tl_in_group = 1;
    run_group(st, list, 1);
    after_group(st);
    tl_in_group = 0;
    pthread_mutex_lock(&st->qmu);
    st->group_busy = 0;
    /* The writer for what is queued; and a closer waiting for its turn,
     * even when this group took its requests and left the queue empty. */
    if (st->qhead || st->batch_waiters) pthread_cond_broadcast(&st->qcv);
    pthread_mutex_unlock(&st->qmu);
}

int rc__writer_start(rc_store *st, rc_err *err) {
    ckpt_start(st);
    sync_start(st);
    if (pthread_create(&st->thread, NULL, writer_main, st) != 0) {
        sync_stop(st);
        ckpt_stop(st);
        return rc_err_set(err, RC_NOMEM, "store: cannot start the writer thread");
    }
    st->thread_started = 1;
    return RC_OK;
}

void rc__writer_stop(rc_store *st) {
    pthread_mutex_lock(&st->qmu);
    st->stopping = 1;
    pthread_cond_broadcast(&st->qcv);
    pthread_cond_broadcast(&st->qspace);
    pthread_mutex_unlock(&st->qmu);
    if (st->thread_started) {
        pthread_join(st->thread, NULL);
        st->thread_started = 0;
    }
    sync_stop(st);
    ckpt_stop(st);
    rc__cl_free(st);
}

/* ---- transactions ------------------------------------------------------- */

int rc_txn_append(rc_txn *tx, rc_event *ev, rc_append_item *item, rc_err *err) {
    rc_store *st = tx->st;
    rc__req *r = tx->req;
    if (!ev) return rc_err_set(err, RC_INVALID, "txn: event is NULL");
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        rc_event **p = realloc(r->evs, cap * sizeof *p);
        if (!p) {
            rc_event_free(ev);
            return rc_err_set(err, RC_NOMEM, "out of memory");
        }
        r->evs = p;
        r->cap = cap;
    }
    if (r->n_items == r->cap_items) {
        size_t cap = r->cap_items ? r->cap_items * 2 : 4;
        rc_append_item *p = realloc(r->items, cap * sizeof *p);
        if (!p) {
            rc_event_free(ev);
            return rc_err_set(err, RC_NOMEM, "out of memory");
        }
        r->items = p;
        r->cap_items = cap;
    }
    r->evs[r->n++] = ev; /* owned by the request from here on */
    int rc = check_event(ev, 0, err);
    if (rc) return rc;
    if (sqlite3_get_autocommit(st->wdb))
        return rc_err_set(err, RC_IO, "txn: the group transaction was aborted");
    if (ev->n_ext) rc_event_remove_ext(ev, "seq");
    ev->seq = 0;
    int64_t tms;
    if (ev->time) {
        if (rc_time_parse(ev->time, &tms) != RC_OK)
            return rc_err_set(err, RC_EVENT_INVALID, "time: must be an RFC 3339 timestamp");
        rc_buf_reset(&st->scratch);
        rc_event_encode_json(ev, 0, &st->scratch);
    } else if ((rc = stamp_and_encode(st, ev, &tms, err))) {
        return rc;
    }
    uint64_t saved_head = st->head;
    size_t saved_fresh = st->n_fresh;
    /* The request's savepoint opens at its first append: until then the
     * function has only read, so rolling back to it undoes exactly this
     * append. Later appends nest a savepoint of their own. */
    int nested = r->sp_open, own = r->own_sp;
    int s = own ? SQLITE_OK : wstep(st, WS_SAVE);
    if (s != SQLITE_OK) return rc__sqlite_err(st->wdb, s, err, "txn append");
    if (!own) r->sp_open = 1;
    rc_append_item it = {0, 0};
    rc = store_event(st, ev, st->scratch.p, st->scratch.len, tms, &it, err);
    if (rc == RC_OK && nested && !own && (s = wstep(st, WS_RELEASE)) != SQLITE_OK)
        rc = rc__sqlite_err(st->wdb, s, err, "txn append");
    if (rc != RC_OK) {
        r->txn_failed = 1;
        if (!own && !sqlite3_get_autocommit(st->wdb)) {
            wstep(st, WS_UNDO);
            if (nested) wstep(st, WS_RELEASE);
        }
        st->head = saved_head;
        st->n_fresh = saved_fresh;
        ev->seq = 0;
        return rc;
    }
    r->items[r->n_items++] = it;
    if (item) *item = it;
    return RC_OK;
}

uint64_t rc_txn_last_seq(rc_txn *tx) { return tx->st->head; }
rc__req *rc__txn_req(rc_txn *tx) { return tx->req; }
rc_store *rc__txn_store(rc_txn *tx) { return tx->st; }
int64_t rc_txn_now_ms(rc_txn *tx) { return tx->st->now_ms; }

/* Reads inside a transaction use the write connection, so they see the
 * transaction's own effects. Strings are copied into the rc_txn so they
 * survive until the next call. */
static void copy_col(sqlite3_stmt *s, int col, rc_buf *b, const void **p, size_t *len) {
    const void *v = sqlite3_column_blob(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    rc_buf_reset(b);
    rc_buf_append(b, v ? v : "", n);
    *p = b->p;
    *len = n;
}

typedef struct kvhead {
    int kind;
    int64_t size;
} kvhead;

/* The live row of key (NULL/absent/expired -> RC_NOT_FOUND); leaves KV_GET
 * stepped on the row for the caller to read and reset. */
static int txn_row(rc_txn *tx, const char *key, rc_err *err) {
    rc_store *st = tx->st;
    if (!key) return rc_err_set(err, RC_INVALID, "key is NULL");
    sqlite3_stmt *s = st->ws[WS_KV_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int64_t exp = sqlite3_column_int64(s, 7);
        if (exp > 0 && exp <= st->now_ms) rc = SQLITE_DONE;
        else return RC_OK;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) return rc_err_set(err, RC_NOT_FOUND, "no such key");
    return rc__sqlite_err(st->wdb, rc, err, "reading key");
}

int rc_txn_kv_get(rc_txn *tx, const char *key, rc_kv_entry *out, rc_err *err) {
    int rc = txn_row(tx, key, err);
    if (rc) return rc;
    sqlite3_stmt *s = tx->st->ws[WS_KV_GET];
    memset(out, 0, sizeof *out);
    rc_buf_reset(&tx->key);
    rc_buf_puts(&tx->key, key);
    out->key = tx->key.p;
    out->key_len = tx->key.len;
    out->kind = (rc_kv_kind)sqlite3_column_int(s, 0);
    if (out->kind == RC_KV_STRING) {
        copy_col(s, 1, &tx->val, &out->value, &out->value_len);
    } else {
        out->value = NULL;
        out->value_len = (size_t)sqlite3_column_int64(s, 3);
    }
    if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
        const void *c;
        size_t cl;
        copy_col(s, 2, &tx->ctype, &c, &cl);
        out->ctype = c;
    }
    out->create_seq = (uint64_t)sqlite3_column_int64(s, 4);
    out->mod_seq = (uint64_t)sqlite3_column_int64(s, 5);
    out->version = (uint64_t)sqlite3_column_int64(s, 6);
    out->expire_ms = sqlite3_column_int64(s, 7);
    sqlite3_reset(s);
    return RC_OK;
}

static int txn_kind(rc_txn *tx, const char *key, int want, int64_t *size, rc_err *err) {
    int rc = txn_row(tx, key, err);
    if (rc) return rc;
    sqlite3_stmt *s = tx->st->ws[WS_KV_GET];
    int kind = sqlite3_column_int(s, 0);
    *size = sqlite3_column_int64(s, 3);
    sqlite3_reset(s);
    if (kind != want) return rc_err_set(err, RC_WRONGTYPE, "%s", rc_strerror(RC_WRONGTYPE));
    return RC_OK;
}

int rc_txn_hash_get(rc_txn *tx, const char *key, const char *field, const void **val, size_t *len,
                    rc_err *err) {
    int64_t size;
    int rc = txn_kind(tx, key, RC_KV_HASH, &size, err);
    if (rc) return rc;
    if (!field) return rc_err_set(err, RC_INVALID, "field is NULL");
    sqlite3_stmt *s = tx->st->ws[WS_HASH_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, field, (int)strlen(field), SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) copy_col(s, 0, &tx->val, val, len);
    sqlite3_reset(s);
    if (r == SQLITE_ROW) return RC_OK;
    if (r == SQLITE_DONE) return rc_err_set(err, RC_NOT_FOUND, "no such field");
    return rc__sqlite_err(tx->st->wdb, r, err, "reading hash field");
}

int rc_txn_list_get(rc_txn *tx, const char *key, int64_t index, const void **val, size_t *len,
                    rc_err *err) {
    int64_t size;
    int rc = txn_kind(tx, key, RC_KV_LIST, &size, err);
    if (rc) return rc;
    if (index < 0) index += size;
    if (index < 0 || index >= size) return rc_err_set(err, RC_NOT_FOUND, "index out of range");
    rc_store *st = tx->st;
    sqlite3_stmt *h = st->ws[WS_LIST_HEAD];
    sqlite3_bind_text(h, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(h);
    int64_t head = r == SQLITE_ROW ? sqlite3_column_int64(h, 0) : 0;
    sqlite3_reset(h);
    if (r != SQLITE_ROW) return rc__sqlite_err(st->wdb, r, err, "reading list");
    sqlite3_stmt *s = st->ws[WS_LIST_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, head + index);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) copy_col(s, 0, &tx->val, val, len);
    sqlite3_reset(s);
    if (r == SQLITE_ROW) return RC_OK;
    if (r == SQLITE_DONE) return rc_err_set(err, RC_NOT_FOUND, "index out of range");
    return rc__sqlite_err(st->wdb, r, err, "reading list");
}

/* ---- active expiry ------------------------------------------------------ */

typedef struct expire_ctx {
    size_t max;
    int expired;
} expire_ctx;

static int expire_fn(rc_txn *tx, void *arg, rc_err *err) {
    expire_ctx *x = arg;
    rc_store *st = tx->st;
    char **keys = NULL;
    size_t n = 0;
    int rc = RC_OK;
    sqlite3_stmt *s = st->ws[WS_DUE];
    sqlite3_bind_int64(s, 1, st->now_ms);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)x->max);
    keys = calloc(x->max ? x->max : 1, sizeof *keys);
    if (!keys) {
        sqlite3_reset(s);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    int r;
    while (n < x->max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        keys[n] = strdup((const char *)sqlite3_column_text(s, 0));
        if (!keys[n]) break;
        n++;
    }
    sqlite3_reset(s);
    char t[40];
    rc_time_format(st->now_ms, t, sizeof t);
    for (size_t i = 0; i < n && rc == RC_OK; i++) {
        char id[32];
        /* The seq this event will take is never reused once committed, so
         * it makes a unique id for the store's own source. */
        snprintf(id, sizeof id, "%llu", (unsigned long long)(st->head + 1));
        rc_event *ev = rc_event_new();
        if (!ev || rc_event_set(ev, "specversion", "1.0") || rc_event_set(ev, "id", id) ||
            rc_event_set(ev, "source", "/redcar/store/expiry") ||
            rc_event_set(ev, "type", RC_KV_PREFIX "expired") ||
            rc_event_set(ev, "subject", keys[i]) || rc_event_set(ev, "time", t)) {
            rc_event_free(ev);
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
            break;
        }
        rc_append_item it;
        if ((rc = rc_txn_append(tx, ev, &it, err)) == RC_OK && !it.duplicate) x->expired++;
    }
    for (size_t i = 0; i < n; i++) free(keys[i]);
    free(keys);
    return rc;
}

int rc_store_expire_due(rc_store *st, size_t max, rc_err *err) {
    /* Bounded work per call keeps one group commit short; callers loop. */
    if (max > 10000) max = 10000;
    expire_ctx x = {max, 0};
    if (!st) return -rc_err_set(err, RC_INVALID, "store is NULL");
    if (max == 0) return 0;
    /* Callers poll this often: look on a read connection first and leave
     * the writer alone when nothing is due. */
    int due = 1;
    rc__rconn *c = rc__rconn_get(st);
    sqlite3_stmt *s;
    if (rc__rconn_stmt(c, "SELECT 1 FROM kv WHERE expire_ms>0 AND expire_ms<=?1 LIMIT 1", &s, NULL) ==
        RC_OK) {
        sqlite3_bind_int64(s, 1, rc__now_ms());
        due = sqlite3_step(s) != SQLITE_DONE; /* a row, or an error: let the writer decide */
        sqlite3_reset(s);
    }
    rc__rconn_put(st, c);
    if (!due) return 0;
    int rc = rc_store_txn(st, expire_fn, &x, err);
    if (rc) return -rc;
    return x.expired;
}
