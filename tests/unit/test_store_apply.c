/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster mode's store side (src/store/apply.c) without NATS: two stores
 * share one ordered in-process log that implements the replicator
 * interface with JetStream's rules (sequence = position in the log,
 * Nats-Msg-Id dedup, expected last sequence), and each store is fed the log
 * in order through rc_store_apply, as the apply loop does. Checks that both
 * stores derive the same seqs, that a write completes only once applied,
 * that retries are idempotent, that expectations are decided in stream order
 * on both alike, that racing transaction functions are serialised, and
 * that redelivery and gaps are handled, and that consumer state (cursors,
 * groups, leases, acks, dead-lettering) changed on one store is the same on
 * the other. tests/integration/test_cluster.py
 * runs the same code against a real JetStream cluster.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"
#include "redcar/consumer.h"
#include "redcar/store.h"
#include "check_main.h"

RC_TEST_TMPDIR("rc-store-apply")

/* ---- the shared log ------------------------------------------------------ */

typedef struct msg {
    int from;                 /* index of the publishing store */
    uint64_t token;
    char msgid[64];
    char *body;
    size_t len;
    size_t state_len;
    char parts[4096];
    int64_t expect_seq;
    char expect_subject[64];
} msg;

/* Acks held back (a slow stream), to see appends queue and coalesce. */
static int hold_acks;
static struct held {
    int from;
    uint64_t token, seq;
} held[64];
static size_t n_held;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static msg msgs[256];
static size_t n_msgs;
static rc_store *stores[2];
static int ids[2] = {0, 1};

static int publish(void *ctx, const rc_repl_pub *p, rc_err *err) {
    int from = *(int *)ctx;
    (void)err;
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < n_msgs; i++)
        if (!strcmp(msgs[i].msgid, p->msgid)) { /* the dedup window */
            pthread_mutex_unlock(&log_mu);
            rc_store_published(stores[from], p->token, RC_OK, i + 1, 1, NULL);
            return RC_OK;
        }
    if (p->has_expect_last && p->expect_last != n_msgs) {
        pthread_mutex_unlock(&log_mu);
        rc_err e;
        rc_err_set(&e, RC_CONFLICT, "wrong last sequence");
        rc_store_published(stores[from], p->token, RC_CONFLICT, 0, 0, &e);
        return RC_OK;
    }
    ck_assert_uint_lt(n_msgs, 256);
    msg *m = &msgs[n_msgs++];
    m->from = from;
    m->token = p->token;
    snprintf(m->msgid, sizeof m->msgid, "%s", p->msgid);
    m->body = malloc(p->len);
    memcpy(m->body, p->body, p->len);
    m->len = p->len;
    m->state_len = p->state_len;
    snprintf(m->parts, sizeof m->parts, "%s", p->parts ? p->parts : "");
    m->expect_seq = p->expect_seq;
    snprintf(m->expect_subject, sizeof m->expect_subject, "%s", p->expect_subject ? p->expect_subject : "");
    uint64_t seq = n_msgs;
    if (hold_acks) {
        ck_assert_uint_lt(n_held, 64);
        held[n_held++] = (struct held){from, p->token, seq};
        pthread_mutex_unlock(&log_mu);
        return RC_OK;
    }
    pthread_mutex_unlock(&log_mu);
    rc_store_published(stores[from], p->token, RC_OK, seq, 0, NULL);
    return RC_OK;
}

/* Feed store i the log from its position on; wait until it applied all. */
static void pump(int i) {
    rc_store *st = stores[i];
    pthread_mutex_lock(&log_mu);
    size_t n = n_msgs;
    pthread_mutex_unlock(&log_mu);
    for (size_t k = rc_store_applied(st); k < n; k++) {
        msg *m = &msgs[k];
        rc_repl_msg rm = {.stream_seq = k + 1,
                          .time_ms = 1700000000000LL + (int64_t)k,
                          .mine = m->from == i,
                          .token = m->token,
                          .expect_seq = m->expect_seq,
                          .expect_subject = m->expect_subject[0] ? m->expect_subject : NULL,
                          .body = m->body,
                          .len = m->len,
                          .state_len = m->state_len,
                          .parts = m->parts[0] ? m->parts : NULL};
        rc_err err;
        ck_assert_int_eq(rc_store_apply(st, &rm, &err), RC_OK);
    }
    for (int w = 0; w < 500 && rc_store_applied(st) < n; w++) usleep(10000);
    ck_assert_uint_eq(rc_store_applied(st), n);
}

/* The apply loops of both stores, in the background: for the blocking
 * calls (consumer operations wait for their message's apply). */
static atomic_int pumping;
static size_t fed[2];

static void *pumper(void *arg) {
    (void)arg;
    while (atomic_load(&pumping)) {
        for (int i = 0; i < 2; i++) {
            pthread_mutex_lock(&log_mu);
            size_t n = n_msgs;
            pthread_mutex_unlock(&log_mu);
            for (; fed[i] < n; fed[i]++) {
                msg *m = &msgs[fed[i]];
                rc_repl_msg rm = {.stream_seq = fed[i] + 1,
                                  .time_ms = 1700000000000LL + (int64_t)fed[i],
                                  .mine = m->from == i,
                                  .token = m->token,
                                  .expect_seq = m->expect_seq,
                                  .expect_subject = m->expect_subject[0] ? m->expect_subject : NULL,
                                  .body = m->body,
                                  .len = m->len,
                                  .state_len = m->state_len,
                                  .parts = m->parts[0] ? m->parts : NULL};
                rc_err err;
                if (rc_store_apply(stores[i], &rm, &err) != RC_OK) break;
            }
        }
        usleep(2000);
    }
    return NULL;
}

static void pump_all(void) {
    pump(0);
    pump(1);
}

static void open_two(void) {
    for (int i = 0; i < 2; i++) {
        char d[128];
        snprintf(d, sizeof d, "%s/n%d", dir, i);
        rc_store_opts o;
        rc_store_opts_default(&o);
        o.dir = d;
        rc_err err;
        ck_assert_int_eq(rc_store_open(&stores[i], &o, &err), RC_OK);
        rc_replicator r = {publish, &ids[i], NULL};
        ck_assert_int_eq(rc_store_set_replicator(stores[i], &r, &err), RC_OK);
    }
}

static void close_two(void) {
    for (int i = 0; i < 2; i++) rc_store_close(stores[i]);
    for (size_t i = 0; i < n_msgs; i++) free(msgs[i].body);
    n_msgs = 0;
}

/* ---- completions ------------------------------------------------------------ */

typedef struct outcome {
    atomic_int done;
    int status;
    uint64_t seq;
    int duplicate;
} outcome;

static void on_done(void *arg, int status, const rc_err *err, const rc_append_item *items, size_t n) {
    (void)err;
    outcome *o = arg;
    o->status = status;
    if (status == RC_OK && n) {
        o->seq = items[0].seq;
        o->duplicate = items[0].duplicate;
    }
    atomic_store(&o->done, 1);
}

static rc_event *ev(const char *id, const char *subject) {
    rc_event *e = rc_event_new();
    ck_assert_int_eq(rc_event_set(e, "specversion", "1.0"), RC_OK);
    ck_assert_int_eq(rc_event_set(e, "source", "/test/apply"), RC_OK);
    ck_assert_int_eq(rc_event_set(e, "id", id), RC_OK);
    ck_assert_int_eq(rc_event_set(e, "type", "test.apply"), RC_OK);
    if (subject) ck_assert_int_eq(rc_event_set(e, "subject", subject), RC_OK);
    return e;
}

static void append(int i, const char *id, const char *subject, int64_t expect, outcome *o) {
    rc_event *e = ev(id, subject);
    rc_append_opts ao = RC_APPEND_OPTS_INIT;
    ao.expect_seq = expect;
    rc_err err;
    memset(o, 0, sizeof *o);
    ck_assert_int_eq(rc_store_append_async(stores[i], &e, 1, &ao, on_done, o, &err), RC_OK);
}

/* The events of a store as "seq:id," text. */
static int collect(const rc_stored *row, void *arg) {
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 4096 - n, "%llu:%s,", (unsigned long long)row->seq, row->id);
    return 0;
}

static void log_of(int i, char out[4096]) {
    out[0] = '\0';
    rc_query q;
    memset(&q, 0, sizeof q);
    rc_err err;
    ck_assert_int_eq(rc_store_scan(stores[i], &q, collect, out, &err), RC_OK);
}

/* ---- tests --------------------------------------------------------------------- */

START_TEST(test_same_seqs_and_completion_after_apply) {
    open_two();
    outcome a, b;
    append(0, "e1", "s", RC_EXPECT_ANY, &a);
    append(1, "e2", "s", RC_EXPECT_ANY, &b);
    usleep(20000);
    ck_assert_int_eq(atomic_load(&a.done), 0); /* published, not yet applied */
    pump(1);
    ck_assert_int_eq(atomic_load(&b.done), 1); /* B applied its own message */
    ck_assert_int_eq(atomic_load(&a.done), 0); /* A has not applied anything */
    pump(0);
    ck_assert_int_eq(atomic_load(&a.done), 1);
    ck_assert_int_eq(a.status, RC_OK);
    ck_assert_uint_eq(a.seq, 1);
    ck_assert_uint_eq(b.seq, 2);
    char la[4096], lb[4096];
    log_of(0, la);
    log_of(1, lb);
    ck_assert_str_eq(la, "1:e1,2:e2,");
    ck_assert_str_eq(la, lb);
    /* a retry is deduplicated by message id and answers the stored seq */
    outcome r;
    append(1, "e1", "s", RC_EXPECT_ANY, &r);
    for (int w = 0; w < 200 && !atomic_load(&r.done); w++) usleep(10000);
    ck_assert_int_eq(r.status, RC_OK);
    ck_assert_uint_eq(r.seq, 1);
    ck_assert_int_eq(r.duplicate, 1);
    close_two();
}
END_TEST

START_TEST(test_expectation_decided_in_stream_order) {
    open_two();
    outcome a, b;
    append(0, "x1", "acct", 0, &a); /* both expect an empty subject */
    append(1, "x2", "acct", 0, &b);
    pump_all();
    ck_assert_int_eq(a.status, RC_OK);
    ck_assert_int_eq(b.status, RC_CONFLICT);
    char la[4096], lb[4096];
    log_of(0, la);
    log_of(1, lb);
    ck_assert_str_eq(la, "1:x1,");
    ck_assert_str_eq(la, lb);
    /* the same event with the right expectation is a new request */
    append(1, "x2", "acct", 1, &b);
    pump_all();
    ck_assert_int_eq(b.status, RC_OK);
    ck_assert_uint_eq(b.seq, 2);
    close_two();
}
END_TEST

/* INCR of key "n": read, append a put of the value + 1. */
static int incr_fn(rc_txn *tx, void *arg, rc_err *err) {
    (void)arg;
    rc_kv_entry e;
    long v = 0;
    if (rc_txn_kv_get(tx, "n", &e, err) == RC_OK) v = strtol(e.value, NULL, 10);
    static atomic_int idn;
    char id[32], val[32];
    snprintf(id, sizeof id, "i%d", atomic_fetch_add(&idn, 1));
    snprintf(val, sizeof val, "%ld", v + 1);
    rc_event *p = ev(id, "n");
    rc_event_set(p, "type", "io.redcar.kv.put");
    rc_event_set_data(p, "text/plain", val, strlen(val), RC_DATA_TEXT);
    return rc_txn_append(tx, p, NULL, err);
}

static int value_fn(const rc_kv_entry *e, void *arg) {
    snprintf(arg, 16, "%.*s", (int)e->value_len, (const char *)e->value);
    return 0;
}

START_TEST(test_racing_transactions_serialised) {
    open_two();
    outcome o[4];
    rc_err err;
    for (int k = 0; k < 4; k++) {
        memset(&o[k], 0, sizeof o[k]);
        ck_assert_int_eq(rc_store_txn_async(stores[k % 2], incr_fn, NULL, on_done, &o[k], &err), RC_OK);
    }
    for (int round = 0; round < 50; round++) {
        usleep(20000);
        pump_all();
        int all = 1;
        for (int k = 0; k < 4; k++) all &= atomic_load(&o[k].done);
        if (all) break;
    }
    for (int k = 0; k < 4; k++) ck_assert_int_eq(o[k].status, RC_OK);
    /* four increments, each on the value the one before wrote, on both */
    for (int i = 0; i < 2; i++) {
        char v[16] = "";
        ck_assert_int_eq(rc_store_kv_get(stores[i], "n", 0, value_fn, v, &err), RC_OK);
        ck_assert_str_eq(v, "4");
    }
    char la[4096], lb[4096];
    log_of(0, la);
    log_of(1, lb);
    ck_assert_str_eq(la, lb);
    close_two();
}
END_TEST

START_TEST(test_redelivery_skipped_gap_fails) {
    open_two();
    outcome a;
    append(0, "g1", NULL, RC_EXPECT_ANY, &a);
    pump(0);
    rc_repl_msg again = {.stream_seq = 1, .time_ms = 1, .expect_seq = RC_EXPECT_ANY,
                         .body = msgs[0].body, .len = msgs[0].len};
    rc_err err;
    ck_assert_int_eq(rc_store_apply(stores[0], &again, &err), RC_OK); /* delivered twice */
    rc_repl_msg gap = again;
    gap.stream_seq = 5;
    ck_assert_int_eq(rc_store_apply(stores[0], &gap, &err), RC_OK);
    int failed = 0;
    for (int w = 0; w < 200 && !(failed = rc_store_apply_failed(stores[0], &err)); w++) usleep(10000);
    ck_assert_int_eq(failed, 1);
    ck_assert_ptr_nonnull(strstr(rc_err_msg(&err), "gap"));
    ck_assert_uint_eq(rc_store_applied(stores[0]), 1);
    char la[4096];
    log_of(0, la);
    ck_assert_str_eq(la, "1:g1,");
    /* a body that is not a batch of events only moves the position */
    rc_repl_msg junk = {.stream_seq = 2, .time_ms = 1, .expect_seq = RC_EXPECT_ANY, .body = "nope", .len = 4};
    ck_assert_int_eq(rc_store_apply(stores[0], &junk, &err), RC_OK);
    for (int w = 0; w < 200 && rc_store_applied(stores[0]) < 2; w++) usleep(10000);
    ck_assert_uint_eq(rc_store_applied(stores[0]), 2);
    close_two();
}
END_TEST

START_TEST(test_refusal_fails_waiting_writes) {
    open_two();
    outcome a;
    append(0, "r1", NULL, RC_EXPECT_ANY, &a);
    rc_store_refuse_writes(stores[0], RC_BUSY, "local store is ahead of the stream");
    ck_assert_int_eq(atomic_load(&a.done), 1);
    ck_assert_int_eq(a.status, RC_BUSY);
    char why[200];
    ck_assert_int_eq(rc_store_refusing(stores[0], why, sizeof why), RC_BUSY);
    ck_assert_str_eq(why, "local store is ahead of the stream");
    rc_event *e = ev("r2", NULL);
    rc_err err;
    ck_assert_int_eq(rc_store_append_async(stores[0], &e, 1, NULL, on_done, &a, &err), RC_BUSY);
    rc_store_refuse_writes(stores[0], RC_OK, NULL);
    ck_assert_int_eq(rc_store_refusing(stores[0], NULL, 0), 0);
    close_two();
}
END_TEST


/* ---- consumer state ------------------------------------------------------------ */

typedef struct cinfo {
    uint64_t read_seq, ack_seq, pending, acked, dead;
    int found;
} cinfo;

static int info_fn(const rc_consumer_info *c, void *arg) {
    cinfo *o = arg;
    o->found = 1;
    o->read_seq = c->read_seq;
    o->ack_seq = c->ack_seq;
    o->pending = c->pending;
    o->acked = c->acked;
    o->dead = c->dead;
    return 0;
}

static cinfo info_of(int i, const char *name) {
    cinfo o;
    memset(&o, 0, sizeof o);
    rc_err err;
    int rc = rc_consumer_get(stores[i], name, info_fn, &o, &err);
    ck_assert_int_eq(rc, o.found ? RC_OK : RC_NOT_FOUND);
    return o;
}

static int pend_fn(const rc_consumer_pending *p, void *arg) {
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 1024 - n, "%llu:%s:%u:%lld,", (unsigned long long)p->seq, p->member,
             p->deliveries, (long long)p->due_ms);
    return 0;
}

static void pending_of(int i, const char *name, char out[1024]) {
    out[0] = '\0';
    rc_err err;
    ck_assert_int_eq(rc_consumer_pending_list(stores[i], name, NULL, 0, 0, pend_fn, out, &err),
                     RC_OK);
}

/* Both stores applied the whole log. */
static void settled(void) {
    for (int w = 0; w < 500; w++) {
        pthread_mutex_lock(&log_mu);
        size_t n = n_msgs;
        pthread_mutex_unlock(&log_mu);
        if (rc_store_applied(stores[0]) == n && rc_store_applied(stores[1]) == n) return;
        usleep(10000);
    }
    ck_abort_msg("the stores did not apply the log");
}

START_TEST(test_consumer_state_replicated) {
    open_two();
    memset(fed, 0, sizeof fed);
    atomic_store(&pumping, 1);
    pthread_t th;
    pthread_create(&th, NULL, pumper, NULL);
    rc_err err;
    for (int k = 0; k < 3; k++) {
        char id[8];
        snprintf(id, sizeof id, "c%d", k + 1);
        rc_event *e = ev(id, "s");
        rc_append_item it;
        ck_assert_int_eq(rc_store_append(stores[k % 2], &e, 1, NULL, &it, &err), RC_OK);
    }
    /* a cursor created and acknowledged on store 0 resumes on store 1 */
    rc_consumer_opts co = RC_CONSUMER_OPTS_INIT;
    co.name = "cur";
    ck_assert_int_eq(rc_consumer_create(stores[0], &co, NULL, NULL, &err), RC_OK);
    settled();
    ck_assert_int_eq(info_of(1, "cur").found, 1);
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    ck_assert_int_eq(rc_consumer_fetch(stores[0], "cur", NULL, 2, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 2);
    uint64_t top = b.msgs[1].seq;
    ck_assert_int_eq(rc_consumer_ack(stores[0], "cur", NULL, &top, 1, NULL, &err), RC_OK);
    settled();
    ck_assert_uint_eq(info_of(1, "cur").ack_seq, 2);
    ck_assert_int_eq(rc_consumer_fetch(stores[1], "cur", NULL, 10, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_uint_eq(b.msgs[0].seq, 3);

    /* a group: leases taken on one store are held on the other */
    co.name = "grp";
    co.mode = RC_CONSUMER_GROUP;
    co.ack_wait_ms = 60000;
    ck_assert_int_eq(rc_consumer_create(stores[1], &co, NULL, NULL, &err), RC_OK);
    settled(); /* read-your-writes holds on the node that took the write; store 0 may lag */
    ck_assert_int_eq(rc_consumer_fetch(stores[0], "grp", "a", 2, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 2);
    uint64_t a_first = b.msgs[0].seq;
    ck_assert_int_eq(rc_consumer_fetch(stores[1], "grp", "b", 10, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_uint_eq(b.msgs[0].seq, 3);
    /* a late ack through the other store counts (once it applied the lease) */
    settled();
    size_t done = 0;
    ck_assert_int_eq(rc_consumer_ack(stores[1], "grp", "b", &a_first, 1, &done, &err), RC_OK);
    ck_assert_uint_eq(done, 1);
    settled();
    char p0[1024], p1[1024];
    pending_of(0, "grp", p0);
    pending_of(1, "grp", p1);
    ck_assert_str_eq(p0, p1);
    ck_assert_ptr_null(strstr(p0, "1:a:"));
    cinfo g0 = info_of(0, "grp"), g1 = info_of(1, "grp");
    ck_assert_uint_eq(g0.pending, 2);
    ck_assert_uint_eq(g1.pending, 2);
    ck_assert_uint_eq(g0.acked, 1);
    ck_assert_uint_eq(g1.acked, 1);

    /* dead-lettering: the event and the end of the lease on both */
    co.name = "dl";
    co.ack_wait_ms = 20;
    co.max_deliver = 1;
    ck_assert_int_eq(rc_consumer_create(stores[0], &co, NULL, NULL, &err), RC_OK);
    ck_assert_int_eq(rc_consumer_fetch(stores[0], "dl", "x", 1, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 1);
    settled();
    usleep(50000); /* the lease ends */
    ck_assert_int_eq(rc_consumer_fetch(stores[1], "dl", "y", 1, &b, &err), RC_OK);
    ck_assert_uint_eq(b.dead, 1);
    settled();
    for (int i = 0; i < 2; i++) {
        cinfo d = info_of(i, "dl");
        ck_assert_uint_eq(d.dead, 1);
        pending_of(i, "dl", p0);
        ck_assert_ptr_null(strstr(p0, "1:x:"));
    }
    char la[4096], lb[4096];
    log_of(0, la);
    log_of(1, lb);
    ck_assert_str_eq(la, lb);
    ck_assert_uint_eq(strlen(la) > 0, 1);

    /* delete on one store: gone on both */
    ck_assert_int_eq(rc_consumer_delete(stores[1], "cur", &err), RC_OK);
    settled();
    ck_assert_int_eq(info_of(0, "cur").found, 0);
    rc_consumer_batch_free(&b);
    atomic_store(&pumping, 0);
    pthread_join(th, NULL);
    close_two();
}
END_TEST

START_TEST(test_appends_coalesce_while_acks_wait) {
    open_two();
    hold_acks = 1;
    n_held = 0;
    outcome o[40];
    for (int k = 0; k < 40; k++) {
        char id[8];
        snprintf(id, sizeof id, "q%d", k + 1);
        append(0, id, "s", RC_EXPECT_ANY, &o[k]);
    }
    /* 16 in flight, one message each; the rest queued behind them */
    ck_assert_uint_eq(n_msgs, 16);
    hold_acks = 0;
    size_t n = n_held;
    n_held = 0;
    for (size_t i = 0; i < n; i++) /* the acks arrive: the queue goes as one message */
        rc_store_published(stores[held[i].from], held[i].token, RC_OK, held[i].seq, 0, NULL);
    ck_assert_uint_eq(n_msgs, 17);
    ck_assert_ptr_nonnull(strchr(msgs[16].parts, ','));
    pump_all();
    for (int k = 0; k < 40; k++) {
        ck_assert_int_eq(atomic_load(&o[k].done), 1);
        ck_assert_int_eq(o[k].status, RC_OK);
        ck_assert_uint_eq(o[k].seq, (uint64_t)k + 1); /* each request its own seq */
        ck_assert_int_eq(o[k].duplicate, 0);
    }
    char la[4096], lb[4096];
    log_of(0, la);
    log_of(1, lb);
    ck_assert_str_eq(la, lb);
    /* a client's retry of one coalesced event: stored once, answered duplicate */
    outcome r;
    append(1, "q20", "s", RC_EXPECT_ANY, &r);
    pump_all();
    ck_assert_int_eq(r.status, RC_OK);
    ck_assert_uint_eq(r.seq, 20);
    ck_assert_int_eq(r.duplicate, 1);
    log_of(0, la);
    ck_assert_str_eq(la, lb);
    close_two();
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("store_apply");
    TCase *tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_same_seqs_and_completion_after_apply);
    tcase_add_test(tc, test_expectation_decided_in_stream_order);
    tcase_add_test(tc, test_racing_transactions_serialised);
    tcase_add_test(tc, test_redelivery_skipped_gap_fails);
    tcase_add_test(tc, test_refusal_fails_waiting_writes);
    tcase_add_test(tc, test_consumer_state_replicated);
    tcase_add_test(tc, test_appends_coalesce_while_acks_wait);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return rc_test_run(suite());
}
