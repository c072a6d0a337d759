/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's write path: gapless seqs, idempotent appends, atomic
 * batches, optimistic concurrency, transactions, group commit under many
 * threads, the commit hook, reopening, the directory lock, schema
 * migration and failing commits. Each test runs in a fresh temp dir.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>

#include "tmpdir.h"
#include "redcar/log.h"
#include "redcar/store.h"
#include "check_main.h"

RC_TEST_TMPDIR("rc-store-test")

static rc_event *mkev(const char *source, const char *id, const char *type, const char *subject) {
    rc_event *ev = rc_event_new();
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(rc_event_set(ev, "specversion", "1.0"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "source", source), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "id", id), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "type", type), RC_OK);
    if (subject) ck_assert_int_eq(rc_event_set(ev, "subject", subject), RC_OK);
    return ev;
}

/* mode 0: fsync always (the sync thread), 1: fsync normal */
static rc_store *open_store_mode(int mode) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    o.fsync = mode ? RC_FSYNC_NORMAL : RC_FSYNC_ALWAYS;
    rc_store *st = NULL;
    ck_assert_int_eq(rc_store_open(&st, &o, NULL), RC_OK);
    return st;
}

static rc_store *open_store(void) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    rc_store *st = NULL;
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_open(&st, &o, &err);
    ck_assert_msg(rc == RC_OK, "open: %s", rc_err_msg(&err));
    return st;
}

static uint64_t append1(rc_store *st, rc_event *ev, int *dup) {
    rc_append_item it = {0, 0};
    rc_err err;
    int rc = rc_store_append(st, &ev, 1, NULL, &it, &err);
    ck_assert_msg(rc == RC_OK, "append: %s", rc_err_msg(&err));
    if (dup) *dup = it.duplicate;
    return it.seq;
}

static int count_cb(const rc_stored *row, void *arg) {
    (void)row;
    (*(size_t *)arg)++;
    return 0;
}

static size_t count_all(rc_store *st) {
    rc_query q;
    memset(&q, 0, sizeof q);
    size_t n = 0;
    ck_assert_int_eq(rc_store_scan(st, &q, count_cb, &n, NULL), RC_OK);
    return n;
}

START_TEST(gapless_and_dedup) {
    rc_store *st = open_store();
    char id[32];
    for (int i = 1; i <= 20; i++) {
        snprintf(id, sizeof id, "e%d", i);
        int dup;
        ck_assert_uint_eq(append1(st, mkev("/t", id, "t.a", "s"), &dup), (uint64_t)i);
        ck_assert_int_eq(dup, 0);
    }
    int dup;
    ck_assert_uint_eq(append1(st, mkev("/t", "e7", "t.a", "s"), &dup), 7);
    ck_assert_int_eq(dup, 1);
    /* same id, other source: a different event */
    ck_assert_uint_eq(append1(st, mkev("/u", "e7", "t.a", "s"), &dup), 21);
    ck_assert_int_eq(dup, 0);
    ck_assert_uint_eq(count_all(st), 21);
    rc_store_stats s;
    ck_assert_int_eq(rc_store_stats_get(st, &s), RC_OK);
    ck_assert_uint_eq(s.head_seq, 21);
    ck_assert_uint_eq(s.first_seq, 1);
    ck_assert_uint_eq(s.events, 21);
    ck_assert_uint_eq(s.appended, 21);
    ck_assert(s.bytes > 0);
    rc_store_close(st);
    /* across reopen */
    st = open_store();
    ck_assert_uint_eq(append1(st, mkev("/t", "e3", "t.a", "s"), &dup), 3);
    ck_assert_int_eq(dup, 1);
    ck_assert_uint_eq(append1(st, mkev("/t", "new", "t.a", "s"), &dup), 22);
    rc_store_close(st);
}
END_TEST

START_TEST(batch_atomic_and_dedup_within) {
    rc_store *st = open_store();
    rc_event *evs[4] = {mkev("/t", "a", "t", "s"), mkev("/t", "b", "t", "s"),
                        mkev("/t", "a", "t", "s"), mkev("/t", "c", "t", "s")};
    rc_append_item it[4];
    rc_err err;
    ck_assert_int_eq(rc_store_append(st, evs, 4, NULL, it, &err), RC_OK);
    ck_assert_uint_eq(it[0].seq, 1);
    ck_assert_uint_eq(it[1].seq, 2);
    ck_assert_uint_eq(it[2].seq, 1);
    ck_assert_int_eq(it[2].duplicate, 1);
    ck_assert_uint_eq(it[3].seq, 3);
    /* a batch with a bad KV event fails as a whole, nothing appended */
    rc_event *bad[3] = {mkev("/t", "d", "t", "s"), mkev("/t", "e", "io.redcar.kv.hset", "k"),
                        mkev("/t", "f", "t", "s")};
    ck_assert_int_eq(rc_event_set_data(bad[1], "application/json", "[1,2]", 5, RC_DATA_JSON), RC_OK);
    ck_assert_int_eq(rc_store_append(st, bad, 3, NULL, it, &err), RC_INVALID);
    ck_assert_uint_eq(count_all(st), 3);
    /* the next append continues gaplessly */
    ck_assert_uint_eq(append1(st, mkev("/t", "d", "t", "s"), NULL), 4);
    /* an event missing required attributes is refused up front */
    rc_event *noid = rc_event_new();
    rc_event_set(noid, "specversion", "1.0");
    rc_event_set(noid, "source", "/t");
    rc_event_set(noid, "type", "t");
    ck_assert_int_eq(rc_store_append(st, &noid, 1, NULL, NULL, &err), RC_EVENT_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "id"));
    ck_assert_int_eq(rc_store_append(st, NULL, 0, NULL, NULL, &err), RC_INVALID);
    rc_store_close(st);
}
END_TEST

START_TEST(conflict) {
    rc_store *st = open_store();
    rc_err err;
    rc_append_opts o = RC_APPEND_OPTS_INIT;
    o.expect_seq = 0; /* subject has no events */
    rc_event *ev = mkev("/t", "1", "t", "order-1");
    ck_assert_int_eq(rc_store_append(st, &ev, 1, &o, NULL, &err), RC_OK);
    ev = mkev("/t", "2", "t", "order-1");
    ck_assert_int_eq(rc_store_append(st, &ev, 1, &o, NULL, &err), RC_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "order-1"));
    append1(st, mkev("/t", "x", "t", "other"), NULL); /* seq 2 */
    o.expect_seq = 1;
    ev = mkev("/t", "3", "t", "order-1");
    rc_append_item it;
    ck_assert_int_eq(rc_store_append(st, &ev, 1, &o, &it, &err), RC_OK);
    ck_assert_uint_eq(it.seq, 3);
    /* explicit expect_subject */
    o.expect_seq = 2;
    o.expect_subject = "other";
    ev = mkev("/t", "4", "t", "order-1");
    ck_assert_int_eq(rc_store_append(st, &ev, 1, &o, &it, &err), RC_OK);
    ck_assert_uint_eq(it.seq, 4);
    ck_assert_uint_eq(count_all(st), 4);
    rc_store_close(st);
}
END_TEST

/* Two requests for the same subject with the same expectation in one
 * group: the second must see the first and conflict. */
typedef struct res {
    pthread_mutex_t mu;
    int done, status[4];
    uint64_t seq[4];
} res;

static void res_done(void *arg, int status, const rc_err *err, const rc_append_item *items, size_t n) {
    (void)err;
    res **pp = arg;
    res *r = pp[0];
    int idx = (int)(intptr_t)pp[1];
    pthread_mutex_lock(&r->mu);
    r->status[idx] = status;
    r->seq[idx] = n ? items[0].seq : 0;
    r->done++;
    pthread_mutex_unlock(&r->mu);
}

static int slow_txn(rc_txn *tx, void *arg, rc_err *err) {
    (void)tx, (void)err, (void)arg;
    usleep(200 * 1000); /* keeps the writer busy so the next requests queue up */
    return RC_OK;
}

START_TEST(conflict_within_group) {
    rc_store *st = open_store();
    res r = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, {0}};
    void *args[3][2] = {{&r, (void *)0}, {&r, (void *)1}, {&r, (void *)2}};
    rc_err err;
    ck_assert_int_eq(rc_store_txn_async(st, slow_txn, NULL, NULL, NULL, &err), RC_OK);
    usleep(50 * 1000);
    rc_append_opts o = RC_APPEND_OPTS_INIT;
    o.expect_seq = 0;
    rc_event *a = mkev("/t", "a", "t", "acct"), *b = mkev("/t", "b", "t", "acct");
    ck_assert_int_eq(rc_store_append_async(st, &a, 1, &o, res_done, args[0], &err), RC_OK);
    ck_assert_int_eq(rc_store_append_async(st, &b, 1, &o, res_done, args[1], &err), RC_OK);
    rc_store_close(st); /* drains the queue */
    ck_assert_int_eq(r.done, 2);
    ck_assert_int_eq(r.status[0], RC_OK);
    ck_assert_uint_eq(r.seq[0], 1);
    ck_assert_int_eq(r.status[1], RC_CONFLICT);
}
END_TEST

/* ---- transactions ---- */

static int txn_two(rc_txn *tx, void *arg, rc_err *err) {
    int fail = *(int *)arg;
    rc_append_item it;
    int rc = rc_txn_append(tx, mkev("/t", fail ? "t1f" : "t1", "t", "s"), &it, err);
    if (rc) return rc;
    ck_assert_uint_eq(rc_txn_last_seq(tx), it.seq);
    rc = rc_txn_append(tx, mkev("/t", fail ? "t2f" : "t2", "t", "s"), &it, err);
    if (rc) return rc;
    ck_assert(rc_txn_now_ms(tx) > 0);
    if (fail) return rc_err_set(err, RC_CONFLICT, "changed my mind");
    return RC_OK;
}

static int txn_kv(rc_txn *tx, void *arg, rc_err *err) {
    (void)arg;
    rc_kv_entry e;
    /* read-modify-write: increment a counter */
    long v = 0;
    if (rc_txn_kv_get(tx, "ctr", &e, err) == RC_OK) v = strtol(e.value, NULL, 10);
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v + 1);
    static int n;
    char id[32];
    snprintf(id, sizeof id, "inc-%d-%d", getpid(), n++);
    rc_event *ev = mkev("/t", id, "io.redcar.kv.put", "ctr");
    rc_event_set_data(ev, "text/plain", buf, strlen(buf), RC_DATA_TEXT);
    int rc = rc_txn_append(tx, ev, NULL, err);
    if (rc) return rc;
    /* its effect is visible inside the transaction */
    ck_assert_int_eq(rc_txn_kv_get(tx, "ctr", &e, err), RC_OK);
    ck_assert_int_eq(strtol(e.value, NULL, 10), v + 1);
    return RC_OK;
}

static int txn_wrongtype(rc_txn *tx, void *arg, rc_err *err) {
    (void)arg;
    rc_event *ev = mkev("/t", "wt", "io.redcar.kv.rpush", "ctr");
    rc_event_set_data(ev, "application/json", "[\"x\"]", 5, RC_DATA_JSON);
    int rc = rc_txn_append(tx, ev, NULL, err);
    ck_assert_int_eq(rc, RC_WRONGTYPE);
    const void *v;
    size_t n;
    ck_assert_int_eq(rc_txn_list_get(tx, "ctr", 0, &v, &n, err), RC_WRONGTYPE);
    ck_assert_int_eq(rc_txn_hash_get(tx, "nokey", "f", &v, &n, err), RC_NOT_FOUND);
    /* the failed append was rolled back alone; go on */
    return rc_txn_append(tx, mkev("/t", "after-wt", "t", "s"), NULL, err);
}

START_TEST(transactions) {
    rc_store *st = open_store();
    rc_err err;
    int fail = 1;
    append1(st, mkev("/t", "first", "t", "s"), NULL);
    ck_assert_int_eq(rc_store_txn(st, txn_two, &fail, &err), RC_CONFLICT);
    ck_assert_str_eq(err.msg, "changed my mind");
    ck_assert_uint_eq(count_all(st), 1);
    fail = 0;
    ck_assert_int_eq(rc_store_txn(st, txn_two, &fail, &err), RC_OK);
    ck_assert_uint_eq(count_all(st), 3);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(rc_store_txn(st, txn_kv, NULL, &err), RC_OK);
    ck_assert_int_eq(rc_store_txn(st, txn_wrongtype, NULL, &err), RC_OK);
    ck_assert_uint_eq(count_all(st), 9);
    ck_assert_int_eq(rc_store_txn(st, NULL, NULL, &err), RC_INVALID);
    rc_store_close(st);
}
END_TEST

/* ---- concurrency ---- */

#define THREADS 8
#define PER_THREAD 2000

typedef struct prod {
    rc_store *st;
    int t;
    uint64_t *seqs;
} prod;

static void *producer(void *arg) {
    prod *p = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char id[32];
        snprintf(id, sizeof id, "t%d-%d", p->t, i);
        rc_event *ev = mkev("/p", id, "t", i % 2 ? "odd" : "even");
        rc_append_item it;
        rc_err err;
        int rc = rc_store_append(p->st, &ev, 1, NULL, &it, &err);
        if (rc) return (void *)1;
        p->seqs[p->t * PER_THREAD + i] = it.seq;
    }
    return NULL;
}

static int check_seq(const rc_stored *row, void *arg) {
    uint64_t *next = arg;
    ck_assert_uint_eq(row->seq, *next);
    (*next)++;
    return 0;
}

START_TEST(many_threads) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    o.fsync = RC_FSYNC_NORMAL;
    rc_store *st;
    ck_assert_int_eq(rc_store_open(&st, &o, NULL), RC_OK);
    uint64_t *seqs = calloc(THREADS * PER_THREAD, sizeof *seqs);
    pthread_t th[THREADS];
    prod p[THREADS];
    for (int t = 0; t < THREADS; t++) {
        p[t] = (prod){st, t, seqs};
        pthread_create(&th[t], NULL, producer, &p[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        ck_assert_ptr_null(ret);
    }
    /* every seq 1..N exactly once */
    const size_t n = THREADS * PER_THREAD;
    unsigned char *seen = calloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert(seqs[i] >= 1 && seqs[i] <= n);
        ck_assert_int_eq(seen[seqs[i]], 0);
        seen[seqs[i]] = 1;
    }
    uint64_t next = 1;
    rc_query q;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(rc_store_scan(st, &q, check_seq, &next, NULL), RC_OK);
    ck_assert_uint_eq(next, n + 1);
    rc_store_stats s;
    rc_store_stats_get(st, &s);
    ck_assert_uint_eq(s.appended, n);
    ck_assert(s.commits < n); /* grouped */
    free(seen);
    free(seqs);
    rc_store_close(st);
}
END_TEST

/* ---- commit hook ---- */

typedef struct hooklog {
    uint64_t seqs[64];
    size_t n;
    int calls;
    int acked_before_hook;
} hooklog;

static hooklog *hl;

static void hook(void *arg, rc_event *const *evs, size_t n) {
    hooklog *h = arg;
    h->calls++;
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(evs[i]->time); /* stamped */
        h->seqs[h->n++] = evs[i]->seq;
    }
}

static void ack(void *arg, int status, const rc_err *err, const rc_append_item *items, size_t n) {
    (void)err, (void)items, (void)n, (void)status;
    int *acked = arg;
    /* the hook ran before any completion of its group */
    ck_assert_int_gt(hl->n, 0);
    (*acked)++;
}

START_TEST(commit_hook_order) {
    rc_store *st = open_store();
    hooklog h;
    memset(&h, 0, sizeof h);
    hl = &h;
    rc_store_set_commit_hook(st, hook, &h);
    int acked = 0;
    rc_err err;
    ck_assert_int_eq(rc_store_txn_async(st, slow_txn, NULL, NULL, NULL, &err), RC_OK);
    usleep(50 * 1000);
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "h%d", i % 7); /* 3 duplicates */
        rc_event *ev = mkev("/t", id, "t", "s");
        ck_assert_int_eq(rc_store_append_async(st, &ev, 1, NULL, ack, &acked, &err), RC_OK);
    }
    rc_store_close(st);
    ck_assert_int_eq(acked, 10);
    ck_assert_uint_eq(h.n, 7); /* duplicates are not published */
    for (size_t i = 0; i < h.n; i++) ck_assert_uint_eq(h.seqs[i], i + 1);
    ck_assert_int_ge(h.calls, 1);
}
END_TEST

/* ---- seq and time handling ---- */

static int grab_json(const rc_stored *row, void *arg) {
    char **out = arg;
    *out = strdup(row->json);
    return 1;
}

START_TEST(seq_stripped_time_stamped) {
    rc_store *st = open_store();
    rc_event *ev = mkev("/t", "x", "t", "s");
    rc_event_set_ext_int(ev, "seq", 99);
    ev->seq = 1234;
    ck_assert_uint_eq(append1(st, ev, NULL), 1);
    char *json = NULL;
    ck_assert_int_eq(rc_store_get(st, 1, grab_json, &json, NULL), RC_OK);
    ck_assert_ptr_null(strstr(json, "\"seq\""));
    ck_assert_ptr_nonnull(strstr(json, "\"time\""));
    rc_event *back = NULL;
    ck_assert_int_eq(rc_event_decode_json(json, strlen(json), &back, NULL), RC_OK);
    ck_assert_ptr_nonnull(back->time);
    rc_event_free(back);
    free(json);
    /* a given time is kept */
    ev = mkev("/t", "y", "t", "s");
    rc_event_set(ev, "time", "2020-01-02T03:04:05Z");
    append1(st, ev, NULL);
    json = NULL;
    ck_assert_int_eq(rc_store_get(st, 2, grab_json, &json, NULL), RC_OK);
    ck_assert_ptr_nonnull(strstr(json, "2020-01-02T03:04:05"));
    free(json);
    /* a bad time is refused with a clear error */
    ev = mkev("/t", "z", "t", "s");
    rc_event_set(ev, "time", "yesterday");
    rc_err err;
    ck_assert_int_eq(rc_store_append(st, &ev, 1, NULL, NULL, &err), RC_EVENT_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "time"));
    ck_assert_int_eq(rc_store_get(st, 3, grab_json, &json, &err), RC_NOT_FOUND);
    rc_store_close(st);
}
END_TEST

/* An event without time is encoded on the producer with a stand-in time
 * that the writer overwrites: the stored JSON, the event the hook sees and
 * the row's time_ms all carry the commit time, and a stand-in lookalike in
 * the data or the subject is left alone. */
typedef struct stamped {
    char time[64];
    int n;
} stamped;

static void stamp_hook(void *arg, rc_event *const *evs, size_t n) {
    stamped *s = arg;
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(evs[i]->time);
        snprintf(s->time, sizeof s->time, "%s", evs[i]->time);
        s->n++;
    }
}

typedef struct row_copy {
    char *json;
    int64_t time_ms;
} row_copy;

static int grab_row(const rc_stored *row, void *arg) {
    row_copy *c = arg;
    c->json = strdup(row->json);
    c->time_ms = row->time_ms;
    return 1;
}

START_TEST(stamp_standin_replaced) {
    rc_store *st = open_store();
    stamped sh;
    memset(&sh, 0, sizeof sh);
    rc_store_set_commit_hook(st, stamp_hook, &sh);
    static const char standin[] = "0000-00-00T00:00:00.000Z";
    const char *data = "{\"time\":\"0000-00-00T00:00:00.000Z\",\"n\":1}";
    rc_event *evs[3];
    evs[0] = mkev("/t", "a", "t", "x\"time\":\"0000-00-00T00:00:00.000Z");
    ck_assert_int_eq(rc_event_set_data(evs[0], "application/json", data, strlen(data), RC_DATA_JSON),
                     RC_OK);
    evs[1] = mkev("/t", "b", "io.redcar.kv.put", "k");
    ck_assert_int_eq(rc_event_set_data(evs[1], "text/plain", "v", 1, RC_DATA_NONE), RC_OK);
    evs[2] = mkev("/t", "c", "t", "s");
    ck_assert_int_eq(rc_event_set_ext_string(evs[2], "note", RC_EXT_STRING, standin), RC_OK);
    int64_t before = 0;
    rc_event *probe = mkev("/t", "probe", "t", NULL);
    ck_assert_uint_eq(append1(st, probe, NULL), 1);
    row_copy c = {NULL, 0};
    ck_assert_int_eq(rc_store_get(st, 1, grab_row, &c, NULL), RC_OK);
    before = c.time_ms;
    free(c.json);
    rc_err err;
    ck_assert_msg(rc_store_append(st, evs, 3, NULL, NULL, &err) == RC_OK, "%s", err.msg);
    for (uint64_t seq = 2; seq <= 4; seq++) {
        c.json = NULL;
        ck_assert_int_eq(rc_store_get(st, seq, grab_row, &c, NULL), RC_OK);
        rc_event *back = NULL;
        ck_assert_int_eq(rc_event_decode_json(c.json, strlen(c.json), &back, NULL), RC_OK);
        ck_assert_ptr_nonnull(back->time);
        ck_assert_str_ne(back->time, standin);
        int64_t ms = 0;
        ck_assert_int_eq(rc_time_parse(back->time, &ms), RC_OK);
        ck_assert_int_eq(ms, c.time_ms);
        ck_assert_int_ge(ms, before);
        ck_assert_str_eq(back->time, sh.time); /* the hook saw the same time */
        if (seq == 2) {
            ck_assert_str_eq(back->subject, "x\"time\":\"0000-00-00T00:00:00.000Z");
            ck_assert_ptr_nonnull(strstr((const char *)back->data, standin));
        }
        if (seq == 4) ck_assert_str_eq(rc_event_ext(back, "note")->s, standin);
        rc_event_free(back);
        free(c.json);
    }
    ck_assert_int_eq(sh.n, 4);
    rc_store_close(st);
}
END_TEST

/* One commit far larger than the write connection's WAL buffer and than
 * one write of the VFS: every event is readable at once and after a
 * reopen (the WAL is recovered from the file, not from memory). */
START_TEST(large_commit_through_wal_buffer) {
    rc_store *st = open_store();
    ck_assert_ptr_nonnull(sqlite3_vfs_find("redcar-wal"));
    enum { N = 600 };
    size_t big = 8000;
    char *data = malloc(big + 1);
    memset(data, 'q', big);
    data[big] = '\0';
    rc_event *evs[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "L%d", i);
        evs[i] = mkev("/t", id, "t", "s");
        data[0] = (char)('a' + i % 26);
        ck_assert_int_eq(rc_event_set_data(evs[i], "text/plain", data, big, RC_DATA_TEXT), RC_OK);
    }
    rc_err err;
    ck_assert_msg(rc_store_append(st, evs, N, NULL, NULL, &err) == RC_OK, "%s", err.msg);
    ck_assert_uint_eq(count_all(st), N);
    ck_assert_uint_eq(append1(st, mkev("/t", "after", "t", "s"), NULL), N + 1);
    rc_store_close(st);
    st = open_store();
    ck_assert_uint_eq(count_all(st), N + 1);
    row_copy c = {NULL, 0};
    ck_assert_int_eq(rc_store_get(st, 300, grab_row, &c, NULL), RC_OK);
    ck_assert_ptr_nonnull(strstr(c.json, "\"id\":\"L299\""));
    free(c.json);
    free(data);
    rc_store_close(st);
}
END_TEST

/* ---- lifecycle ---- */

START_TEST(lock_refusal) {
    rc_store *st = open_store();
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    rc_store *st2 = NULL;
    rc_err err;
    ck_assert_int_eq(rc_store_open(&st2, &o, &err), RC_LOCKED);
    ck_assert_ptr_null(st2);
    ck_assert_ptr_nonnull(strstr(err.msg, "locked"));
    ck_assert_ptr_nonnull(strstr(err.msg, dir));
    rc_store_close(st);
    ck_assert_int_eq(rc_store_open(&st2, &o, &err), RC_OK);
    rc_store_close(st2);
}
END_TEST

START_TEST(creates_nested_dir) {
    char sub[128];
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = sub;
    rc_store *st;
    ck_assert_int_eq(rc_store_open(&st, &o, NULL), RC_OK);
    append1(st, mkev("/t", "1", "t", NULL), NULL);
    rc_store_close(st);
    char file[160];
    snprintf(file, sizeof file, "%s/redcar.db", sub);
    ck_assert_int_eq(access(file, F_OK), 0);
    /* a file where the directory should be */
    snprintf(sub, sizeof sub, "%s/a/b/c/redcar.db", dir);
    o.dir = sub;
    rc_err err;
    ck_assert_int_ne(rc_store_open(&st, &o, &err), RC_OK);
}
END_TEST

static sqlite3 *raw_db(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/redcar.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static int raw_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

START_TEST(migration) {
    /* an empty (v0) database file is migrated */
    sqlite3 *db = raw_db();
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 0);
    sqlite3_close(db);
    rc_store *st = open_store();
    append1(st, mkev("/t", "1", "t", NULL), NULL);
    rc_store_close(st);
    db = raw_db();
    /* v2: consumers, v3: push subscriptions, v4: consumer members */
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 4);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('events','kv','kv_hash','kv_list','kv_renames',"
                                 "'events_subject','events_type','events_time')"),
                     8);
    ck_assert_str_eq((const char *)sqlite3_db_filename(db, "main") + strlen(dir), "/redcar.db");
    /* journal mode is WAL, persistently */
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    sqlite3_step(s);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    /* a newer schema is refused */
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version=42", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    rc_err err;
    ck_assert_int_eq(rc_store_open(&st, &o, &err), RC_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "42"));
    ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
    /* a file that is not a database */
    char path[128];
    snprintf(path, sizeof path, "%s/redcar.db", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/redcar.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/redcar.db", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not an sqlite database, not at all, no no no no no no no no no no no", f);
    fclose(f);
    ck_assert_int_eq(rc_store_open(&st, &o, &err), RC_IO);
}
END_TEST

/* The embedded schema is exactly the migrations' files (schemas/store.sql,
 * schemas/store_v2.sql, schemas/store_v3.sql, schemas/store_v4.sql): every CREATE in them appears in
 * sqlite_master. */
START_TEST(schema_matches_file) {
    rc_store *st = open_store();
    rc_store_close(st);
    sqlite3 *db = raw_db();
    int creates = 0;
    static const char *const files[] = {"schemas/store.sql", "schemas/store_v2.sql",
                                        "schemas/store_v3.sql", "schemas/store_v4.sql"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        /* this file is <src>/tests/unit/test_store.c */
        char path[512];
        snprintf(path, sizeof path, "%s", __FILE__);
        char *cut = strstr(path, "tests/unit/test_store.c");
        ck_assert_ptr_nonnull(cut);
        strcpy(cut, files[i]);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "cannot read %s", path);
        char text[16384];
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        for (char *p = strstr(text, "CREATE "); p; p = strstr(p + 1, "CREATE ")) {
            char name[64];
            if (sscanf(p, "CREATE TABLE %63s", name) == 1 ||
                sscanf(p, "CREATE INDEX %63s", name) == 1) {
                char sql[160];
                snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name='%s'",
                         name);
                ck_assert_msg(raw_int(db, sql) == 1, "%s missing", name);
                creates++;
            }
        }
    }
    ck_assert_int_eq(creates, raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"));
    sqlite3_close(db);
}
END_TEST

/* ---- failing commits ---- */

START_TEST(io_failure_restores_seq) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    rc_store *st;
    ck_assert_int_eq(rc_store_open(&st, &o, NULL), RC_OK);
    append1(st, mkev("/t", "1", "t", "s"), NULL);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    struct rlimit small = {2 * 1024 * 1024, rl.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    /* a batch far bigger than the file size limit */
    size_t big = 256 * 1024;
    char *data = malloc(big);
    memset(data, 'x', big);
    rc_event *evs[16];
    for (int i = 0; i < 16; i++) {
        char id[16];
        snprintf(id, sizeof id, "big%d", i);
        evs[i] = mkev("/t", id, "t", "s");
        rc_event_set_data(evs[i], "text/plain", data, big, RC_DATA_TEXT);
    }
    rc_err err;
    int rc = rc_store_append(st, evs, 16, NULL, NULL, &err);
    ck_assert_msg(rc == RC_IO || rc == RC_DISK_FULL, "got %s: %s", rc_status_name(rc), err.msg);
    /* space returns: the writer is still running and seqs stay gapless */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ck_assert_uint_eq(append1(st, mkev("/t", "2", "t", "s"), NULL), 2);
    free(data);
    rc_store_close(st);
    st = open_store();
    ck_assert_uint_eq(count_all(st), 2);
    rc_store_close(st);
}
END_TEST

/* Completions and the hook run on a store thread (the sync thread with
 * fsync always): a blocking call from there would wait for itself and is
 * refused; an asynchronous one is fine. Both fsync modes. */
typedef struct reentry {
    rc_store *st;
    int blocking_rc, async_rc, done, second_done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} reentry;

static void reentry_second(void *arg, int status, const rc_err *err, const rc_append_item *items,
                           size_t n) {
    (void)err, (void)items, (void)n;
    reentry *r = arg;
    pthread_mutex_lock(&r->mu);
    r->second_done = status == RC_OK ? 1 : -1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void reentry_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                         size_t n) {
    (void)err, (void)items, (void)n;
    reentry *r = arg;
    ck_assert_int_eq(status, RC_OK);
    rc_event *ev = mkev("/t", "inner", "t", "s");
    r->blocking_rc = rc_store_append(r->st, &ev, 1, NULL, NULL, NULL);
    ev = mkev("/t", "inner-async", "t", "s");
    r->async_rc = rc_store_append_async(r->st, &ev, 1, NULL, reentry_second, r, NULL);
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

START_TEST(completion_reentry) {
    for (int mode = 0; mode < 2; mode++) {
        reentry r;
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.mu, NULL);
        pthread_cond_init(&r.cv, NULL);
        r.st = open_store_mode(mode);
        char id[16];
        snprintf(id, sizeof id, "outer%d", mode);
        rc_event *ev = mkev("/t", id, "t", "s");
        ck_assert_int_eq(rc_store_append_async(r.st, &ev, 1, NULL, reentry_done, &r, NULL), RC_OK);
        pthread_mutex_lock(&r.mu);
        while (!r.done || !r.second_done) pthread_cond_wait(&r.cv, &r.mu);
        pthread_mutex_unlock(&r.mu);
        ck_assert_int_eq(r.blocking_rc, RC_BUSY);
        ck_assert_int_eq(r.async_rc, RC_OK);
        ck_assert_int_eq(r.second_done, 1);
        rc_store_close(r.st);
        pthread_mutex_destroy(&r.mu);
        pthread_cond_destroy(&r.cv);
    }
}
END_TEST

START_TEST(close_drains_and_refuses) {
    rc_store *st = open_store();
    int acked = 0;
    hooklog h;
    memset(&h, 0, sizeof h);
    hl = &h;
    h.n = 1;
    rc_err err;
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        rc_event *ev = mkev("/t", id, "t", "s");
        ck_assert_int_eq(rc_store_append_async(st, &ev, 1, NULL, ack, &acked, &err), RC_OK);
    }
    rc_store_close(st);
    ck_assert_int_eq(acked, 100);
    rc_store_close(NULL);
}
END_TEST


/* ---- batches run by the submitting thread (rc_store_batch_begin/end) ---- */

typedef struct inl {
    pthread_t self;
    int done, on_self, blocking_rc;
    rc_store *st;
} inl;

static void inl_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                     size_t n) {
    (void)err, (void)items, (void)n;
    inl *x = arg;
    ck_assert_int_eq(status, RC_OK);
    x->done++;
    if (pthread_equal(pthread_self(), x->self)) x->on_self++;
    /* a completion run inline must not block on the store either */
    rc_event *ev = mkev("/t", "reentry", "t", "s");
    x->blocking_rc = rc_store_append(x->st, &ev, 1, NULL, NULL, NULL);
}

static int incr_txn(rc_txn *tx, void *arg, rc_err *err) {
    (void)arg;
    rc_event *ev = mkev("/t", "from-txn", "t", "s");
    return rc_txn_append(tx, ev, NULL, err);
}

START_TEST(batch_runs_inline) {
    for (int mode = 0; mode < 2; mode++) {
        rc_store *st = open_store_mode(mode);
        hooklog h;
        memset(&h, 0, sizeof h);
        rc_store_set_commit_hook(st, hook, &h);
        inl x = {.self = pthread_self(), .st = st};
        rc_err err;
        /* Let the writer thread go idle first (it takes whatever it finds
         * queued when it wakes: then the group is simply not inline). */
        char warm[16];
        snprintf(warm, sizeof warm, "warm%d", mode);
        ck_assert_uint_eq(append1(st, mkev("/t", warm, "t", "s"), NULL), 1);
        usleep(100 * 1000);
        memset(&h, 0, sizeof h);
        rc_store_batch_begin(st);
        for (int i = 0; i < 10; i++) {
            char id[16];
            snprintf(id, sizeof id, "b%d-%d", mode, i);
            rc_event *ev = mkev("/t", id, "t", "s");
            ck_assert_int_eq(rc_store_append_async(st, &ev, 1, NULL, inl_done, &x, &err), RC_OK);
        }
        ck_assert_int_eq(rc_store_txn_async(st, incr_txn, NULL, inl_done, &x, &err), RC_OK);
        ck_assert_int_eq(x.done, 0); /* nothing runs before the batch closes */
        rc_store_batch_end(st);
        /* the writer was idle: the group ran here, durable and answered */
        ck_assert_int_eq(x.done, 11);
        ck_assert_int_eq(x.on_self, 11);
        ck_assert_int_eq(x.blocking_rc, RC_BUSY);
        ck_assert_uint_eq(h.n, 11);
        for (size_t i = 0; i < h.n; i++) ck_assert_uint_eq(h.seqs[i], i + 2);
        ck_assert_int_eq(h.calls, 1); /* one group */
        rc_store_stats s;
        rc_store_stats_get(st, &s);
        ck_assert_uint_eq(s.commits, 2);
        ck_assert_uint_eq(s.head_seq, 12);
        rc_store_batch_end(st); /* nothing queued: a no-op */
        rc_store_close(st);
        teardown(); /* the next mode starts from an empty store */
        setup();
    }
}
END_TEST

/* Batches on two threads while other threads append through the writer
 * thread, fsync always: they take turns and every hook call still comes
 * in seq order, each seq exactly once. A batch whose requests another
 * closer's group took must not wait for a wake-up nobody sends. */
#define BATCHES 300
#define PER_BATCH 8

typedef struct seqlog {
    pthread_mutex_t mu;
    uint64_t last;
    size_t n;
    int out_of_order;
} seqlog;

static void seq_hook(void *arg, rc_event *const *evs, size_t n) {
    seqlog *l = arg;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->seq != l->last + 1) l->out_of_order++;
        l->last = evs[i]->seq;
        l->n++;
    }
    pthread_mutex_unlock(&l->mu);
}

static void count_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                       size_t n) {
    (void)err, (void)items, (void)n;
    ck_assert_int_eq(status, RC_OK);
    __atomic_fetch_add((int *)arg, 1, __ATOMIC_SEQ_CST);
}

typedef struct batcher_arg {
    rc_store *st;
    int k;
} batcher_arg;

static void *batcher(void *arg) {
    rc_store *st = ((batcher_arg *)arg)->st;
    int k = ((batcher_arg *)arg)->k;
    static int done;
    for (int b = 0; b < BATCHES; b++) {
        rc_store_batch_begin(st);
        for (int i = 0; i < PER_BATCH; i++) {
            char id[48];
            snprintf(id, sizeof id, "batch%d-%d-%d", k, b, i);
            rc_event *ev = mkev("/b", id, "t", "s");
            ck_assert_int_eq(rc_store_append_async(st, &ev, 1, NULL, count_done, &done, NULL),
                             RC_OK);
        }
        rc_store_batch_end(st);
    }
    return NULL;
}

/* nb batching threads and np threads appending through the writer. */
static void run_batchers(int nb, int np) {
    rc_store *st = open_store(); /* fsync always */
    seqlog l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    rc_store_set_commit_hook(st, seq_hook, &l);
    uint64_t *seqs = calloc(4 * PER_THREAD, sizeof *seqs);
    pthread_t th[4], bt[3];
    prod p[4];
    batcher_arg ba[3];
    for (int k = 0; k < nb; k++) {
        ba[k] = (batcher_arg){st, k};
        pthread_create(&bt[k], NULL, batcher, &ba[k]);
    }
    for (int t = 0; t < np; t++) {
        p[t] = (prod){st, t, seqs};
        pthread_create(&th[t], NULL, producer, &p[t]);
    }
    for (int t = 0; t < np; t++) pthread_join(th[t], NULL);
    for (int k = 0; k < nb; k++) pthread_join(bt[k], NULL);
    rc_store_close(st);
    const size_t n = (size_t)np * PER_THREAD + (size_t)nb * BATCHES * PER_BATCH;
    ck_assert_int_eq(l.out_of_order, 0);
    ck_assert_uint_eq(l.n, n);
    ck_assert_uint_eq(l.last, n);
    free(seqs);
}

/* A blocking append made with a batch open runs the batch first and does
 * not wait for ever behind requests that nobody would run. */
START_TEST(blocking_call_inside_batch) {
    rc_store *st = open_store();
    rc_err err = {0};
    int done = 0;
    rc_store_batch_begin(st);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "a%d", i);
        rc_event *ev = mkev("/bb", id, "t", "s");
        ck_assert_int_eq(rc_store_append_async(st, &ev, 1, NULL, count_done, &done, &err), RC_OK);
    }
    rc_event *ev = mkev("/bb", "blocking", "t", "s");
    rc_append_item it;
    ck_assert_int_eq(rc_store_append(st, &ev, 1, NULL, &it, &err), RC_OK);
    ck_assert_uint_eq(it.seq, 4); /* after the batch's three */
    ck_assert_int_eq(__atomic_load_n(&done, __ATOMIC_SEQ_CST), 3);
    rc_store_batch_end(st); /* nothing left: a no-op */
    rc_store_close(st);
}
END_TEST

START_TEST(batch_takes_turns_with_writer) { run_batchers(2, 4); }
END_TEST

/* Batches only, on three threads: when one closer's group takes the
 * requests of a closer waiting for its turn, that one must still wake
 * (nothing else would: no writer-thread group broadcasts). */
START_TEST(batches_on_three_threads) { run_batchers(3, 0); }
END_TEST

Suite *store_suite(void) {
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("write");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gapless_and_dedup);
    tcase_add_test(tc, batch_atomic_and_dedup_within);
    tcase_add_test(tc, conflict);
    tcase_add_test(tc, conflict_within_group);
    tcase_add_test(tc, transactions);
    tcase_add_test(tc, many_threads);
    tcase_add_test(tc, commit_hook_order);
    tcase_add_test(tc, seq_stripped_time_stamped);
    tcase_add_test(tc, stamp_standin_replaced);
    tcase_add_test(tc, large_commit_through_wal_buffer);
    tcase_add_test(tc, lock_refusal);
    tcase_add_test(tc, creates_nested_dir);
    tcase_add_test(tc, migration);
    tcase_add_test(tc, schema_matches_file);
    tcase_add_test(tc, io_failure_restores_seq);
    tcase_add_test(tc, completion_reentry);
    tcase_add_test(tc, close_drains_and_refuses);
    tcase_add_test(tc, batch_runs_inline);
    tcase_add_test(tc, batch_takes_turns_with_writer);
    tcase_add_test(tc, batches_on_three_threads);
    tcase_add_test(tc, blocking_call_inside_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rc_log_open("stderr", RC_LOG_ERROR, 0);
    return rc_test_run(store_suite());
}
