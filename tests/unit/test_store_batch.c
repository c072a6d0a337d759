/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer's fast paths and their fallbacks: plain appends of one group
 * run as one batch without a savepoint per request, and a failure inside
 * the batch replays it request by request with exactly the per-request
 * outcome; a transaction opens its savepoint at its first append, and a
 * failed append inside it undoes only itself. Each test forces one group
 * by holding the writer with a slow transaction while the requests queue.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"
#include "redcar/log.h"
#include "redcar/store.h"
#include "check_main.h"

RC_TEST_TMPDIR("rc-store-batch")

static rc_store *open_store(void) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    rc_store *st = NULL;
    rc_err err;
    int rc = rc_store_open(&st, &o, &err);
    ck_assert_msg(rc == RC_OK, "open: %s", rc_err_msg(&err));
    return st;
}

static rc_event *kv(const char *id, const char *op, const char *key, const char *data,
                    const char *ctype) {
    rc_event *ev = rc_event_new();
    char type[64];
    snprintf(type, sizeof type, "io.redcar.kv.%s", op);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(rc_event_set(ev, "specversion", "1.0"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "source", "/test/batch"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "id", id), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "type", type), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "subject", key), RC_OK);
    if (data)
        ck_assert_int_eq(rc_event_set_data(ev, ctype, data, strlen(data),
                                           ctype && strstr(ctype, "json") ? RC_DATA_JSON : RC_DATA_TEXT),
                         RC_OK);
    return ev;
}

static rc_event *put(const char *id, const char *key, const char *val) {
    return kv(id, "put", key, val, "text/plain");
}

/* ---- completions ---------------------------------------------------------- */

typedef struct outcome {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
    uint64_t seq;
    int duplicate;
    char msg[160];
} outcome;

static void outcome_init(outcome *o) {
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
}

static void on_done(void *arg, int status, const rc_err *err, const rc_append_item *items, size_t n) {
    outcome *o = arg;
    pthread_mutex_lock(&o->mu);
    o->status = status;
    if (err) snprintf(o->msg, sizeof o->msg, "%s", rc_err_msg(err));
    if (status == RC_OK && n > 0) {
        o->seq = items[n - 1].seq;
        o->duplicate = items[n - 1].duplicate;
    }
    o->done = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static void wait_for(outcome *o) {
    pthread_mutex_lock(&o->mu);
    while (!o->done) pthread_cond_wait(&o->cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
}

static void submit(rc_store *st, rc_event *ev, outcome *o) {
    rc_err err;
    int rc = rc_store_append_async(st, &ev, 1, NULL, on_done, o, &err);
    ck_assert_msg(rc == RC_OK, "submit: %s", rc_err_msg(&err));
}

/* Holds the writer so that what is submitted next queues into one group. */
static int slow_fn(rc_txn *tx, void *arg, rc_err *err) {
    (void)tx, (void)arg, (void)err;
    usleep(200 * 1000);
    return RC_OK;
}

static void hold_writer(rc_store *st, outcome *o) {
    rc_err err;
    ck_assert_int_eq(rc_store_txn_async(st, slow_fn, NULL, on_done, o, &err), RC_OK);
    usleep(50 * 1000); /* the writer has taken it */
}

/* ---- reading back ------------------------------------------------------------- */

typedef struct got {
    char val[64], ctype[64];
    rc_kv_entry e; /* its pointers are dead after the callback */
} got;

static int got_cb(const rc_kv_entry *e, void *arg) {
    got *g = arg;
    g->e = *e;
    size_t n = e->value_len < sizeof g->val - 1 ? e->value_len : sizeof g->val - 1;
    if (e->value) memcpy(g->val, e->value, n);
    g->val[n] = '\0';
    snprintf(g->ctype, sizeof g->ctype, "%s", e->ctype ? e->ctype : "");
    return 1;
}

static int get(rc_store *st, const char *key, got *g) {
    memset(g, 0, sizeof *g);
    rc_err err;
    return rc_store_kv_get(st, key, 0, got_cb, g, &err);
}

static int seq_cb(const rc_stored *row, void *arg) {
    uint64_t *next = arg;
    ck_assert_uint_eq(row->seq, *next); /* gapless, in order */
    (*next)++;
    return 0;
}

/* Every seq from 1 to head is stored, and nothing else. */
static void assert_gapless(rc_store *st) {
    rc_query q;
    memset(&q, 0, sizeof q);
    uint64_t next = 1;
    ck_assert_int_eq(rc_store_scan(st, &q, seq_cb, &next, NULL), RC_OK);
    rc_store_stats s;
    ck_assert_int_eq(rc_store_stats_get(st, &s), RC_OK);
    ck_assert_uint_eq(s.head_seq, next - 1);
}

/* ---- plain appends: batch, failure, replay ------------------------------------ */

/* appends a put of x inside a transaction, to put a transaction ahead of
 * the batch in the group (then the batch needs a savepoint of its own) */
static int put_x_fn(rc_txn *tx, void *arg, rc_err *err) {
    (void)arg;
    return rc_txn_append(tx, put("tx-x", "x", "10"), NULL, err);
}

static void batch_failure(int after_txn) {
    rc_store *st = open_store();
    /* a string, so that an hset on it fails at apply time (WRONGTYPE) */
    rc_err err;
    rc_event *ev = put("pre-s", "s", "str");
    ck_assert_int_eq(rc_store_append(st, &ev, 1, NULL, NULL, &err), RC_OK);

    outcome hold, tx, o[6];
    outcome_init(&hold);
    outcome_init(&tx);
    for (int i = 0; i < 6; i++) outcome_init(&o[i]);
    rc_store_stats s0, s1;
    ck_assert_int_eq(rc_store_stats_get(st, &s0), RC_OK);
    hold_writer(st, &hold);
    if (after_txn) ck_assert_int_eq(rc_store_txn_async(st, put_x_fn, NULL, on_done, &tx, &err), RC_OK);
    submit(st, put("a1", "a", "1"), &o[0]);
    submit(st, put("b1", "b", "2"), &o[1]);
    submit(st, kv("h1", "hset", "s", "{\"f\":\"v\"}", "application/json"), &o[2]); /* fails */
    submit(st, put("c1", "c", "3"), &o[3]);
    submit(st, put("a1", "a", "1"), &o[4]); /* the same (source, id): a duplicate */
    submit(st, put("a2", "a", "4"), &o[5]);
    wait_for(&hold);
    if (after_txn) wait_for(&tx);
    for (int i = 0; i < 6; i++) wait_for(&o[i]);
    ck_assert_int_eq(rc_store_stats_get(st, &s1), RC_OK);
    ck_assert_uint_eq(s1.commits - s0.commits, 2); /* the holder's group, then one group */

    ck_assert_int_eq(hold.status, RC_OK);
    if (after_txn) ck_assert_int_eq(tx.status, RC_OK);
    ck_assert_msg(o[0].status == RC_OK, "%s", o[0].msg);
    ck_assert_int_eq(o[1].status, RC_OK);
    ck_assert_int_eq(o[2].status, RC_WRONGTYPE);
    ck_assert_int_eq(o[3].status, RC_OK);
    ck_assert_int_eq(o[4].status, RC_OK);
    ck_assert_int_eq(o[4].duplicate, 1);
    ck_assert_uint_eq(o[4].seq, o[0].seq);
    ck_assert_int_eq(o[5].status, RC_OK);
    /* seqs follow submission order, without the failed request's */
    uint64_t first = after_txn ? 3 : 2; /* 1 = the string s, then x */
    ck_assert_uint_eq(o[0].seq, first);
    ck_assert_uint_eq(o[1].seq, first + 1);
    ck_assert_uint_eq(o[3].seq, first + 2);
    ck_assert_uint_eq(o[5].seq, first + 3);
    if (after_txn) ck_assert_uint_eq(tx.seq, 2);
    assert_gapless(st);

    got g;
    ck_assert_int_eq(get(st, "a", &g), RC_OK);
    ck_assert_str_eq(g.val, "4");
    ck_assert_uint_eq(g.e.version, 2);
    ck_assert_uint_eq(g.e.create_seq, o[0].seq);
    ck_assert_uint_eq(g.e.mod_seq, o[5].seq);
    ck_assert_int_eq(get(st, "b", &g), RC_OK);
    ck_assert_str_eq(g.val, "2");
    ck_assert_int_eq(get(st, "c", &g), RC_OK);
    ck_assert_str_eq(g.val, "3");
    ck_assert_int_eq(get(st, "s", &g), RC_OK);
    ck_assert_int_eq(g.e.kind, RC_KV_STRING);
    ck_assert_str_eq(g.val, "str");
    ck_assert_int_eq(get(st, "x", &g), after_txn ? RC_OK : RC_NOT_FOUND);
    rc_store_close(st);

    /* and the log replays to the same view after reopening */
    st = open_store();
    ck_assert_int_eq(get(st, "a", &g), RC_OK);
    ck_assert_str_eq(g.val, "4");
    assert_gapless(st);
    rc_store_close(st);
}

START_TEST(batch_opening_group_replays_after_failure) { batch_failure(0); }
END_TEST

START_TEST(batch_after_txn_replays_after_failure) { batch_failure(1); }
END_TEST

/* A whole group of puts to one key: the fast path (UPDATE in place) must
 * keep the metadata a replay would produce. */
START_TEST(batch_same_key_metadata) {
    rc_store *st = open_store();
    outcome hold, o[50];
    outcome_init(&hold);
    hold_writer(st, &hold);
    for (int i = 0; i < 50; i++) {
        char id[16], val[16];
        snprintf(id, sizeof id, "k%d", i);
        snprintf(val, sizeof val, "%d", i);
        outcome_init(&o[i]);
        submit(st, put(id, "k", val), &o[i]);
    }
    wait_for(&hold);
    for (int i = 0; i < 50; i++) {
        wait_for(&o[i]);
        ck_assert_int_eq(o[i].status, RC_OK);
        ck_assert_uint_eq(o[i].seq, (uint64_t)i + 1);
    }
    got g;
    ck_assert_int_eq(get(st, "k", &g), RC_OK);
    ck_assert_str_eq(g.val, "49");
    ck_assert_uint_eq(g.e.create_seq, 1);
    ck_assert_uint_eq(g.e.mod_seq, 50);
    ck_assert_uint_eq(g.e.version, 50);
    ck_assert_str_eq(g.ctype, "text/plain");
    rc_store_close(st);
}
END_TEST

/* ---- transactions: lazy savepoint ------------------------------------------- */

/* The first append fails (hset on a string), the function goes on and
 * appends again: only the failed append is undone. */
static int first_fails_fn(rc_txn *tx, void *arg, rc_err *err) {
    (void)arg;
    rc_err e2;
    int rc = rc_txn_append(tx, kv("t-h", "hset", "s", "{\"f\":\"v\"}", "application/json"), NULL, &e2);
    ck_assert_int_eq(rc, RC_WRONGTYPE);
    rc_kv_entry e;
    ck_assert_int_eq(rc_txn_kv_get(tx, "s", &e, err), RC_OK); /* untouched */
    ck_assert_int_eq(e.kind, RC_KV_STRING);
    return rc_txn_append(tx, put("t-t", "t", "1"), NULL, err);
}

/* A later append fails: the earlier one stays; the function then fails
 * itself: everything of it goes. */
static int second_fails_fn(rc_txn *tx, void *arg, rc_err *err) {
    int fail = *(int *)arg;
    int rc = rc_txn_append(tx, put(fail ? "u-u" : "v-v", fail ? "u" : "v", "1"), NULL, err);
    ck_assert_int_eq(rc, RC_OK);
    rc_err e2;
    rc = rc_txn_append(tx, kv(fail ? "u-h" : "v-h", "hset", "s", "{\"f\":\"v\"}", "application/json"),
                       NULL, &e2);
    ck_assert_int_eq(rc, RC_WRONGTYPE);
    rc_kv_entry e;
    ck_assert_int_eq(rc_txn_kv_get(tx, fail ? "u" : "v", &e, err), RC_OK);
    if (fail) return rc_err_set(err, RC_CONFLICT, "the function gives up");
    return RC_OK;
}

/* rerun: the same through rc_store_txn_async_rerun, where the three
 * functions share the group's undo and the failures replay them one
 * savepoint each: the outcome must be exactly the same. */
static void txn_failed_append(int rerun) {
    int (*txn)(rc_store *, rc_txn_fn, void *, rc_txn_done, void *, rc_err *) =
        rerun ? rc_store_txn_async_rerun : rc_store_txn_async;
    rc_store *st = open_store();
    rc_err err;
    rc_event *ev = put("pre-s", "s", "str");
    ck_assert_int_eq(rc_store_append(st, &ev, 1, NULL, NULL, &err), RC_OK);
    outcome hold, a, b, c, d;
    outcome_init(&hold);
    outcome_init(&a);
    outcome_init(&b);
    outcome_init(&c);
    outcome_init(&d);
    int yes = 1, no = 0;
    hold_writer(st, &hold);
    ck_assert_int_eq(txn(st, first_fails_fn, NULL, on_done, &a, &err), RC_OK);
    ck_assert_int_eq(txn(st, second_fails_fn, &yes, on_done, &b, &err), RC_OK);
    ck_assert_int_eq(txn(st, second_fails_fn, &no, on_done, &c, &err), RC_OK);
    submit(st, put("after", "w", "1"), &d);
    wait_for(&hold);
    wait_for(&a);
    wait_for(&b);
    wait_for(&c);
    wait_for(&d);
    ck_assert_msg(a.status == RC_OK, "%s", a.msg);
    ck_assert_int_eq(b.status, RC_CONFLICT);
    ck_assert_msg(c.status == RC_OK, "%s", c.msg);
    ck_assert_int_eq(d.status, RC_OK);
    ck_assert_uint_eq(a.seq, 2);
    ck_assert_uint_eq(c.seq, 3);
    ck_assert_uint_eq(d.seq, 4);
    assert_gapless(st);
    got g;
    ck_assert_int_eq(get(st, "t", &g), RC_OK);
    ck_assert_int_eq(get(st, "u", &g), RC_NOT_FOUND);
    ck_assert_int_eq(get(st, "v", &g), RC_OK);
    ck_assert_int_eq(get(st, "w", &g), RC_OK);
    ck_assert_int_eq(get(st, "s", &g), RC_OK);
    ck_assert_int_eq(g.e.kind, RC_KV_STRING);
    ck_assert_uint_eq(g.e.version, 1);
    rc_store_close(st);
}

START_TEST(txn_failed_append_undoes_only_itself) { txn_failed_append(0); }
END_TEST

START_TEST(rerun_txn_failed_append_undoes_only_itself) { txn_failed_append(1); }
END_TEST

/* Re-runnable read-modify-writes in one group (as the RESP door sends
 * INCR): each sees the ones before it, and one that fails after its
 * append leaves nothing while the others keep their results. */
typedef struct incr_arg {
    int fail;
    int runs;
} incr_arg;

static int incr_fn(rc_txn *tx, void *arg, rc_err *err) {
    incr_arg *a = arg;
    a->runs++;
    rc_kv_entry e;
    long v = 0;
    int rc = rc_txn_kv_get(tx, "n", &e, err);
    if (rc == RC_OK) v = strtol(e.value, NULL, 10);
    else if (rc != RC_NOT_FOUND) return rc;
    char val[24], id[32];
    snprintf(val, sizeof val, "%ld", v + 1);
    snprintf(id, sizeof id, "incr-%ld-%d", v + 1, a->fail);
    if ((rc = rc_txn_append(tx, put(id, "n", val), NULL, err))) return rc;
    return a->fail ? rc_err_set(err, RC_CONFLICT, "gives up after its append") : RC_OK;
}

START_TEST(rerun_txns_share_a_group) {
    rc_store *st = open_store();
    for (int round = 0; round < 2; round++) {
        incr_arg a[6] = {{0, 0}};
        outcome o[6];
        a[3].fail = round; /* the second round has a failure in the middle */
        rc_store_stats s0, s1;
        ck_assert_int_eq(rc_store_stats_get(st, &s0), RC_OK);
        rc_store_batch_begin(st); /* one group, run here */
        for (int i = 0; i < 6; i++) {
            outcome_init(&o[i]);
            rc_err err;
            ck_assert_int_eq(rc_store_txn_async_rerun(st, incr_fn, &a[i], on_done, &o[i], &err), RC_OK);
        }
        rc_store_batch_end(st);
        for (int i = 0; i < 6; i++) wait_for(&o[i]);
        ck_assert_int_eq(rc_store_stats_get(st, &s1), RC_OK);
        ck_assert_uint_eq(s1.commits - s0.commits, 1);
        for (int i = 0; i < 6; i++) {
            if (round && i == 3) {
                ck_assert_int_eq(o[i].status, RC_CONFLICT);
                ck_assert_int_ge(a[i].runs, 2); /* once in the run, once in its savepoint */
            } else {
                ck_assert_msg(o[i].status == RC_OK, "%d: %s", i, o[i].msg);
            }
        }
        got g;
        ck_assert_int_eq(get(st, "n", &g), RC_OK);
        ck_assert_str_eq(g.val, round ? "11" : "6");
        ck_assert_uint_eq(g.e.version, round ? 11 : 6);
    }
    assert_gapless(st);
    rc_store_close(st);
}
END_TEST

Suite *store_batch_suite(void);
Suite *store_batch_suite(void) {
    Suite *s = suite_create("store_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, batch_opening_group_replays_after_failure);
    tcase_add_test(tc, batch_after_txn_replays_after_failure);
    tcase_add_test(tc, batch_same_key_metadata);
    tcase_add_test(tc, txn_failed_append_undoes_only_itself);
    tcase_add_test(tc, rerun_txn_failed_append_undoes_only_itself);
    tcase_add_test(tc, rerun_txns_share_a_group);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rc_log_open("stderr", RC_LOG_ERROR, 0);
    return rc_test_run(store_batch_suite());
}
