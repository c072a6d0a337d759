/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable consumers in the store (redcar/consumer.h): create/get/list/
 * delete and their validation, cursor fetch and cumulative ack, positions
 * that never move backwards and survive a reopen, group leases, lease
 * expiry and redelivery, max_deliver and dead letters, nack with delay,
 * claim, the pending list, filters (exact, prefix, Subscriptions API/CESQL),
 * start positions, and the JSON request parser. Each test runs in a fresh
 * temp dir.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"
#include "redcar/consumer.h"
#include "redcar/log.h"
#include "redcar/retention.h"
#include "redcar/store.h"
#include "check_main.h"

RC_TEST_TMPDIR("rc-cons-test")

static rc_store *open_store(void) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    o.fsync = RC_FSYNC_NORMAL;
    rc_store *st = NULL;
    rc_err err;
    int rc = rc_store_open(&st, &o, &err);
    ck_assert_msg(rc == RC_OK, "open: %s", rc_err_msg(&err));
    return st;
}

/* Append n events "<tag>-i" with the given subject and type; returns the first seq. */
static uint64_t append_n(rc_store *st, const char *tag, size_t n, const char *subject,
                         const char *type, const char *time) {
    uint64_t first = 0;
    for (size_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%zu", tag, i);
        rc_event *ev = rc_event_new();
        rc_event_set(ev, "specversion", "1.0");
        rc_event_set(ev, "source", "/t");
        rc_event_set(ev, "id", id);
        rc_event_set(ev, "type", type ? type : "t");
        if (subject) rc_event_set(ev, "subject", subject);
        if (time) rc_event_set(ev, "time", time);
        rc_append_item it;
        rc_err err;
        ck_assert_int_eq(rc_store_append(st, &ev, 1, NULL, &it, &err), RC_OK);
        if (!first) first = it.seq;
    }
    return first;
}

static int create(rc_store *st, const char *name, int mode, const char *start, const char *filter,
                  int64_t ack_wait, int64_t max_deliver, rc_err *err) {
    rc_consumer_opts o = RC_CONSUMER_OPTS_INIT;
    o.name = name;
    o.mode = mode;
    o.start = start;
    o.filter_json = filter;
    o.ack_wait_ms = ack_wait;
    o.max_deliver = max_deliver;
    return rc_consumer_create(st, &o, NULL, NULL, err);
}

static size_t fetch(rc_store *st, const char *name, const char *member, size_t limit,
                    uint64_t *seqs, uint32_t *deliveries) {
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    rc_err err;
    int rc = rc_consumer_fetch(st, name, member, limit, &b, &err);
    ck_assert_msg(rc == RC_OK, "fetch: %s", rc_err_msg(&err));
    for (size_t i = 0; i < b.n; i++) {
        if (seqs) seqs[i] = b.msgs[i].seq;
        if (deliveries) deliveries[i] = b.msgs[i].deliveries;
        /* The payload is the stored event's JSON. */
        ck_assert(b.msgs[i].len > 2 && b.json.p[b.msgs[i].off] == '{');
    }
    size_t n = b.n;
    rc_consumer_batch_free(&b);
    return n;
}

static int stop_row(const rc_consumer_row *r, void *arg) {
    (void)r, (void)arg;
    return 1;
}

static int info_cb(const rc_consumer_info *c, void *arg) {
    *(rc_consumer_info *)arg = *c;
    ((rc_consumer_info *)arg)->name = NULL; /* borrowed strings do not outlive the call */
    ((rc_consumer_info *)arg)->filter_json = NULL;
    ((rc_consumer_info *)arg)->start = NULL;
    return 0;
}

static rc_consumer_info info(rc_store *st, const char *name) {
    rc_consumer_info in;
    memset(&in, 0, sizeof in);
    rc_err err;
    ck_assert_int_eq(rc_consumer_get(st, name, info_cb, &in, &err), RC_OK);
    return in;
}

static size_t ack(rc_store *st, const char *name, const char *member, const uint64_t *seqs,
                  size_t n) {
    size_t done = 0;
    rc_err err;
    ck_assert_int_eq(rc_consumer_ack(st, name, member, seqs, n, &done, &err), RC_OK);
    return done;
}

static int count_info(const rc_consumer_info *c, void *arg) {
    (void)c;
    (*(size_t *)arg)++;
    return 0;
}

static int count_rows(const rc_stored *row, void *arg) {
    (void)row;
    (*(size_t *)arg)++;
    return 0;
}

START_TEST(create_get_list_delete) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 3, NULL, NULL, NULL);
    ck_assert_int_eq(create(st, "c1", 0, NULL, NULL, -1, -1, &err), RC_OK);
    ck_assert_int_eq(create(st, "g1", RC_CONSUMER_GROUP, "end", NULL, -1, -1, &err), RC_OK);
    ck_assert_int_eq(create(st, "c1", 0, NULL, NULL, -1, -1, &err), RC_CONFLICT);
    rc_consumer_info c = info(st, "c1");
    ck_assert_int_eq(c.mode, RC_CONSUMER_CURSOR);
    ck_assert_int_eq(c.ack_wait_ms, 0);
    ck_assert_int_eq(c.max_deliver, 0);
    ck_assert_uint_eq(c.lag, 3);
    rc_consumer_info g = info(st, "g1");
    ck_assert_int_eq(g.ack_wait_ms, 30000);
    ck_assert_int_eq(g.max_deliver, 5);
    ck_assert_uint_eq(g.ack_seq, 3);
    ck_assert_uint_eq(g.lag, 0);
    size_t n = 0;
    ck_assert_int_eq(rc_consumer_list(st, count_info, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(rc_consumer_delete(st, "c1", &err), RC_OK);
    ck_assert_int_eq(rc_consumer_delete(st, "c1", &err), RC_NOT_FOUND);
    ck_assert_int_eq(rc_consumer_get(st, "c1", info_cb, &c, &err), RC_NOT_FOUND);
    /* validation */
    ck_assert_int_eq(create(st, "", 0, NULL, NULL, -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "a/b", 0, NULL, NULL, -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", 7, NULL, NULL, -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", 0, "seq:0", NULL, -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", 0, "seq:12a", NULL, -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", 0, "time:soon", NULL, -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", 0, "middle", NULL, -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", RC_CONSUMER_GROUP, NULL, NULL, 0, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", 0, NULL, "[1]", -1, -1, &err), RC_INVALID);
    ck_assert_int_eq(create(st, "x", 0, NULL, "{\"typ\":\"a\"}", -1, -1, &err), RC_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "typ"));
    ck_assert_int_eq(create(st, "x", 0, NULL, "{\"filters\":[{\"sql\":\"type =\"}]}", -1, -1, &err),
                     RC_INVALID);
    ck_assert_int_eq(create(st, "x", 0, NULL, "{\"type\":\"\"}", -1, -1, &err), RC_INVALID);
    char longname[RC_CONSUMER_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(create(st, longname, 0, NULL, NULL, -1, -1, &err), RC_INVALID);
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    ck_assert_int_eq(rc_consumer_fetch(st, "nope", NULL, 10, &b, &err), RC_NOT_FOUND);
    ck_assert_int_eq(rc_consumer_fetch(st, "g1", NULL, 10, &b, &err), RC_INVALID);
    ck_assert_int_eq(rc_consumer_fetch(st, "g1", "m", 0, &b, &err), RC_INVALID);
    ck_assert_int_eq(rc_consumer_fetch(st, "g1", "bad member", 1, &b, &err), RC_INVALID);
    rc_consumer_batch_free(&b);
    rc_store_close(st);
}
END_TEST

START_TEST(cursor_fetch_ack_resume) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 10, NULL, NULL, NULL);
    ck_assert_int_eq(create(st, "c", 0, NULL, NULL, -1, -1, &err), RC_OK);
    uint64_t s[16];
    uint32_t d[16];
    ck_assert_uint_eq(fetch(st, "c", NULL, 4, s, d), 4);
    ck_assert_uint_eq(s[0], 1);
    ck_assert_uint_eq(s[3], 4);
    ck_assert_uint_eq(d[0], 1);
    /* Not acknowledged: the same events again (from the cursor). */
    ck_assert_uint_eq(fetch(st, "c", NULL, 4, s, d), 4);
    ck_assert_uint_eq(s[0], 1);
    ck_assert_uint_eq(d[0], 2);
    uint64_t three = 3;
    ck_assert_uint_eq(ack(st, "c", NULL, &three, 1), 3); /* cumulative */
    rc_consumer_info c = info(st, "c");
    ck_assert_uint_eq(c.ack_seq, 3);
    /* A cursor with the default ack_wait 0 / max_deliver 0 keeps no
     * pending list: 4 is "after the ack position", not a pending row. */
    ck_assert_uint_eq(c.pending, 0);
    ck_assert_uint_eq(c.read_seq, 4);
    ck_assert_uint_eq(c.redelivered, 4);
    /* Never backwards. */
    uint64_t one = 1;
    ck_assert_uint_eq(ack(st, "c", NULL, &one, 1), 0);
    ck_assert_uint_eq(info(st, "c").ack_seq, 3);
    rc_store_close(st);
    st = open_store();
    ck_assert_uint_eq(info(st, "c").ack_seq, 3);
    ck_assert_uint_eq(fetch(st, "c", NULL, 100, s, NULL), 7);
    ck_assert_uint_eq(s[0], 4);
    ck_assert_uint_eq(s[6], 10);
    uint64_t ten = 10;
    ck_assert_uint_eq(ack(st, "c", NULL, &ten, 1), 7);
    c = info(st, "c");
    ck_assert_uint_eq(c.ack_seq, 10);
    ck_assert_uint_eq(c.lag, 0);
    ck_assert_uint_eq(fetch(st, "c", NULL, 100, s, NULL), 0);
    rc_store_close(st);
}
END_TEST

START_TEST(group_leases_redelivery_deadletter) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 6, "s", NULL, NULL);
    ck_assert_int_eq(create(st, "g", RC_CONSUMER_GROUP, NULL, NULL, 150, 2, &err), RC_OK);
    uint64_t a[8], b[8];
    uint32_t d[8];
    ck_assert_uint_eq(fetch(st, "g", "a", 2, a, NULL), 2);
    ck_assert_uint_eq(fetch(st, "g", "b", 2, b, NULL), 2);
    ck_assert_uint_eq(a[0], 1);
    ck_assert_uint_eq(b[0], 3); /* leased to a: not handed to b */
    ck_assert_uint_eq(ack(st, "g", "b", b, 2), 2);
    ck_assert_uint_eq(ack(st, "g", "b", b, 2), 0); /* already finished */
    rc_consumer_info g = info(st, "g");
    ck_assert_uint_eq(g.ack_seq, 0); /* 1 and 2 still pending */
    ck_assert_uint_eq(g.pending, 2);
    usleep(200 * 1000);
    /* a's leases expired: redelivered first, to whoever fetches. */
    ck_assert_uint_eq(fetch(st, "g", "c", 3, a, d), 3);
    ck_assert_uint_eq(a[0], 1);
    ck_assert_uint_eq(d[0], 2);
    ck_assert_uint_eq(a[2], 5);
    ck_assert_uint_eq(d[2], 1);
    usleep(200 * 1000);
    /* 1 and 2 reached max_deliver: dead-lettered; 5 comes again. */
    ck_assert_uint_eq(fetch(st, "g", "c", 10, a, d), 2);
    ck_assert_uint_eq(a[0], 5);
    ck_assert_uint_eq(a[1], 6);
    g = info(st, "g");
    ck_assert_uint_eq(g.dead, 2);
    ck_assert_uint_eq(g.redelivered, 3);
    ck_assert_uint_eq(g.ack_seq, 4);
    /* The dead letters are in the log, name the seq, and are not handed
     * to the group that produced them. */
    rc_query q;
    memset(&q, 0, sizeof q);
    q.type = RC_DEADLETTER_TYPE;
    q.subject = "g";
    size_t n = 0;
    ck_assert_int_eq(rc_store_scan(st, &q, count_rows, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(ack(st, "g", "c", a, 2), 2);
    ck_assert_uint_eq(fetch(st, "g", "c", 10, a, d), 0);
    g = info(st, "g");
    ck_assert_uint_eq(g.pending, 0);
    ck_assert_uint_eq(g.ack_seq, g.head_seq);
    ck_assert_uint_eq(g.head_seq, 8);
    rc_store_close(st);
}
END_TEST

static int dl_cb(const rc_stored *row, void *arg) {
    (*(size_t *)arg)++;
    ck_assert_ptr_nonnull(strstr(row->json, "\"seq\":1"));
    ck_assert_ptr_nonnull(strstr(row->json, "max_deliver"));
    return 1;
}

START_TEST(deadletter_event_content) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 1, NULL, NULL, NULL);
    ck_assert_int_eq(create(st, "g", RC_CONSUMER_GROUP, NULL, NULL, 1, 1, &err), RC_OK);
    ck_assert_uint_eq(fetch(st, "g", "a", 1, NULL, NULL), 1);
    usleep(20 * 1000);
    ck_assert_uint_eq(fetch(st, "g", "a", 1, NULL, NULL), 0);
    rc_query q;
    memset(&q, 0, sizeof q);
    q.type = RC_DEADLETTER_TYPE;
    size_t n = 0;
    ck_assert_int_eq(rc_store_scan(st, &q, dl_cb, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 1);
    rc_store_close(st);
}
END_TEST

static int pend_cb(const rc_consumer_pending *p, void *arg) {
    char *out = arg;
    char one[64];
    snprintf(one, sizeof one, "%llu:%s:%u ", (unsigned long long)p->seq, p->member,
             (unsigned)p->deliveries);
    strcat(out, one);
    return 0;
}

START_TEST(nack_claim_pending) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 4, NULL, NULL, NULL);
    ck_assert_int_eq(create(st, "g", RC_CONSUMER_GROUP, NULL, NULL, 60000, 0, &err), RC_OK);
    uint64_t s[8];
    uint32_t d[8];
    ck_assert_uint_eq(fetch(st, "g", "a", 2, s, NULL), 2);
    size_t done = 0;
    uint64_t one = 1, two = 2;
    ck_assert_int_eq(rc_consumer_nack(st, "g", "a", &one, 1, 0, &done, &err), RC_OK);
    ck_assert_uint_eq(done, 1);
    ck_assert_int_eq(rc_consumer_nack(st, "g", "a", &two, 1, 100000, &done, &err), RC_OK);
    ck_assert_int_eq(rc_consumer_nack(st, "g", "a", &two, 1, -1, &done, &err), RC_INVALID);
    ck_assert_uint_eq(fetch(st, "g", "b", 1, s, d), 1);
    ck_assert_uint_eq(s[0], 1);
    ck_assert_uint_eq(d[0], 2);
    char buf[256] = "";
    ck_assert_int_eq(rc_consumer_pending_list(st, "g", NULL, 0, 0, pend_cb, buf, &err), RC_OK);
    ck_assert_str_eq(buf, "1:b:2 2:a:1 ");
    buf[0] = '\0';
    ck_assert_int_eq(rc_consumer_pending_list(st, "g", "a", 0, 0, pend_cb, buf, &err), RC_OK);
    ck_assert_str_eq(buf, "2:a:1 ");
    ck_assert_int_eq(rc_consumer_pending_list(st, "nope", NULL, 0, 0, pend_cb, buf, &err),
                     RC_NOT_FOUND);
    /* claim: only what was idle long enough, whoever holds it */
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    ck_assert_int_eq(rc_consumer_claim(st, "g", "c", 600000, 10, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 0);
    usleep(10 * 1000);
    ck_assert_int_eq(rc_consumer_claim(st, "g", "c", 5, 10, &b, &err), RC_OK);
    ck_assert_uint_eq(b.n, 2);
    ck_assert_uint_eq(b.msgs[1].seq, 2);
    ck_assert_uint_eq(b.msgs[1].deliveries, 2);
    ck_assert_int_eq(rc_consumer_claim(st, "g", NULL, 5, 10, &b, &err), RC_INVALID);
    rc_consumer_batch_free(&b);
    buf[0] = '\0';
    ck_assert_int_eq(rc_consumer_pending_list(st, "g", NULL, 0, 0, pend_cb, buf, &err), RC_OK);
    ck_assert_str_eq(buf, "1:c:3 2:c:2 ");
    rc_store_close(st);
}
END_TEST

START_TEST(filters_and_starts) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 3, "orders/1", "created", "2030-01-01T00:00:00Z");
    append_n(st, "b", 3, "users/1", "created", "2030-01-01T00:00:10Z");
    append_n(st, "c", 3, "orders/2", "paid", "2030-01-01T00:00:20Z");
    uint64_t s[16];
    ck_assert_int_eq(create(st, "pre", 0, NULL, "{\"subject_prefix\":\"orders/\"}", -1, -1, &err),
                     RC_OK);
    ck_assert_uint_eq(fetch(st, "pre", NULL, 100, s, NULL), 6);
    ck_assert_uint_eq(s[3], 7);
    ck_assert_int_eq(create(st, "ty", 0, NULL, "{\"type\":\"created\",\"source\":\"/t\"}", -1, -1,
                            &err),
                     RC_OK);
    ck_assert_uint_eq(fetch(st, "ty", NULL, 100, s, NULL), 6);
    ck_assert_uint_eq(s[5], 6);
    ck_assert_int_eq(create(st, "sql", 0, NULL,
                            "{\"filters\":[{\"sql\":\"subject LIKE 'orders/%' AND type = 'paid'\"}]}",
                            -1, -1, &err),
                     RC_OK);
    ck_assert_uint_eq(fetch(st, "sql", NULL, 2, s, NULL), 2);
    ck_assert_uint_eq(s[0], 7);
    ck_assert_uint_eq(info(st, "sql").read_seq, 8);
    ck_assert_int_eq(create(st, "seq", 0, "seq:5", NULL, -1, -1, &err), RC_OK);
    ck_assert_uint_eq(fetch(st, "seq", NULL, 100, s, NULL), 5);
    ck_assert_uint_eq(s[0], 5);
    ck_assert_int_eq(create(st, "tm", 0, "time:2030-01-01T00:00:10Z", NULL, -1, -1, &err), RC_OK);
    ck_assert_uint_eq(fetch(st, "tm", NULL, 100, s, NULL), 6);
    ck_assert_uint_eq(s[0], 4);
    ck_assert_int_eq(create(st, "late", 0, "time:2031-01-01T00:00:00Z", NULL, -1, -1, &err), RC_OK);
    ck_assert_uint_eq(fetch(st, "late", NULL, 100, s, NULL), 0);
    ck_assert_int_eq(create(st, "end", 0, "end", NULL, -1, -1, &err), RC_OK);
    ck_assert_uint_eq(fetch(st, "end", NULL, 100, s, NULL), 0);
    append_n(st, "d", 1, NULL, NULL, NULL);
    ck_assert_uint_eq(fetch(st, "end", NULL, 100, s, NULL), 1);
    ck_assert_uint_eq(s[0], 10);
    ck_assert_uint_eq(fetch(st, "late", NULL, 100, s, NULL), 1);
    rc_store_close(st);
}
END_TEST

START_TEST(request_parser) {
    rc_consumer_req r;
    rc_err err;
    const char *j = "{\"name\":\"g\",\"mode\":\"group\",\"start\":\"seq:3\",\"ack_wait_ms\":500,"
                    "\"max_deliver\":3,\"filter\":{\"type\":\"x\"}}";
    ck_assert_int_eq(rc_consumer_req_parse(j, strlen(j), "name,mode,start,filter,filters,ack_wait_ms,"
                                                         "max_deliver", &r, &err),
                     RC_OK);
    ck_assert_str_eq(r.opts.name, "g");
    ck_assert_int_eq(r.opts.mode, RC_CONSUMER_GROUP);
    ck_assert_str_eq(r.opts.start, "seq:3");
    ck_assert_str_eq(r.opts.filter_json, "{\"type\":\"x\"}");
    ck_assert_int_eq(r.opts.ack_wait_ms, 500);
    ck_assert_int_eq(r.opts.max_deliver, 3);
    ck_assert_int_eq(r.delay_ms, -1);
    rc_consumer_req_free(&r);
    j = "{\"member\":\"m\",\"seqs\":[1,2,3],\"delay_ms\":10}";
    ck_assert_int_eq(rc_consumer_req_parse(j, strlen(j), "member,seqs,delay_ms", &r, &err), RC_OK);
    ck_assert_uint_eq(r.n_seqs, 3);
    ck_assert_uint_eq(r.seqs[2], 3);
    ck_assert_str_eq(r.member, "m");
    rc_consumer_req_free(&r);
    j = "{\"filters\":[{\"exact\":{\"type\":\"a\"}}]}";
    ck_assert_int_eq(rc_consumer_req_parse(j, strlen(j), "filters", &r, &err), RC_OK);
    ck_assert_str_eq(r.opts.filter_json, "{\"filters\":[{\"exact\":{\"type\":\"a\"}}]}");
    rc_consumer_req_free(&r);
    static const char *const bad[] = {
        "[]", "{", "{\"seqs\":[0]}", "{\"seqs\":[1.5]}", "{\"seqs\":\"1\"}", "{\"seqs\":[-1]}",
        "{\"delay_ms\":-1}", "{\"member\":5}", "{\"other\":1}", "{\"mode\":\"queue\"}",
        "{\"filter\":[]}", "{\"filter\":{},\"filters\":[]}", "{\"delay_ms\":1e30}", "nul\0l"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(rc_consumer_req_parse(bad[i], strlen(bad[i]) + (i == 13), "seqs,delay_ms,member,mode,filter,filters",
                                            &r, &err) != RC_OK,
                      "accepted %s", bad[i]);
        rc_consumer_req_free(&r);
    }
    ck_assert_int_eq(rc_consumer_req_parse("", 0, "member", &r, &err), RC_OK);
    ck_assert_ptr_null(r.member);
    rc_consumer_req_free(&r);
}
END_TEST


/* ---- retention (redcar/retention.h) --------------------------------------------- */

static uint64_t first_seq(rc_store *st) {
    rc_store_stats s;
    ck_assert_int_eq(rc_store_stats_get(st, &s), RC_OK);
    return s.first_seq;
}

static int count_row(const rc_stored *row, void *arg) {
    (void)row;
    (*(size_t *)arg)++;
    return 0;
}

START_TEST(retention_count_and_errors) {
    rc_store *st = open_store();
    rc_err err;
    /* Consumers at the beginning, before anything is trimmed. */
    ck_assert_int_eq(create(st, "old", 0, NULL, NULL, -1, -1, &err), RC_OK);
    ck_assert_int_eq(create(st, "oldg", RC_CONSUMER_GROUP, NULL, NULL, 1000, 3, &err), RC_OK);
    append_n(st, "a", 50, NULL, NULL, NULL);
    rc_retention_limits lim = {0, 20, 0};
    uint64_t n = 0;
    ck_assert_int_eq(rc_store_retain(st, &lim, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 30);
    ck_assert_uint_eq(first_seq(st), 31);
    ck_assert_int_eq(rc_store_retain(st, &lim, &n, &err), RC_OK); /* within the limit now */
    ck_assert_uint_eq(n, 0);
    /* Reads below the earliest seq: an error naming it. */
    size_t rows = 0;
    rc_query q = {0};
    q.from = 1;
    ck_assert_int_eq(rc_store_scan(st, &q, count_row, &rows, &err), RC_TRIMMED);
    ck_assert_ptr_nonnull(strstr(err.msg, RC_TRIMMED_EARLIEST "31"));
    q.from = 0;
    q.after = 30;
    ck_assert_int_eq(rc_store_scan(st, &q, count_row, &rows, &err), RC_OK);
    ck_assert_uint_eq(rows, 20);
    /* Consumers whose position was trimmed away. */
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    ck_assert_int_eq(rc_consumer_fetch(st, "old", NULL, 10, &b, &err), RC_TRIMMED);
    ck_assert_ptr_nonnull(strstr(err.msg, RC_TRIMMED_EARLIEST "31"));
    ck_assert_int_eq(rc_consumer_fetch(st, "oldg", "m", 10, &b, &err), RC_TRIMMED);
    ck_assert_ptr_nonnull(strstr(err.msg, RC_TRIMMED_EARLIEST "31"));
    rc_consumer_read_opts ro = {.after = 5, .limit = 10};
    rc_consumer_read_res rr;
    ck_assert_int_eq(rc_consumer_read(st, "old", &ro, stop_row, NULL, &rr, &err), RC_TRIMMED);
    /* A cursor moves on by acknowledging up to the earliest seq - 1. */
    uint64_t upto = 30;
    ck_assert_uint_eq(ack(st, "old", NULL, &upto, 1), 30);
    uint64_t sq[64];
    ck_assert_uint_eq(fetch(st, "old", NULL, 5, sq, NULL), 5);
    ck_assert_uint_eq(sq[0], 31);
    /* Start positions. */
    ck_assert_int_eq(create(st, "s5", 0, "seq:5", NULL, -1, -1, &err), RC_TRIMMED);
    ck_assert_ptr_nonnull(strstr(err.msg, RC_TRIMMED_EARLIEST "31"));
    ck_assert_int_eq(create(st, "s31", 0, "seq:31", NULL, -1, -1, &err), RC_OK);
    ck_assert_int_eq(create(st, "t0", 0, "time:1970-01-02T00:00:00Z", NULL, -1, -1, &err),
                     RC_TRIMMED);
    ck_assert_int_eq(create(st, "beg", 0, "beginning", NULL, -1, -1, &err), RC_OK);
    ck_assert_uint_eq(fetch(st, "beg", NULL, 100, sq, NULL), 20);
    ck_assert_uint_eq(sq[0], 31);
    rc_consumer_batch_free(&b);
    rc_store_close(st);
}
END_TEST

START_TEST(retention_keeps_the_head_and_seqs) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 4500, NULL, NULL, NULL); /* more than two chunks */
    rc_retention_limits lim = {0, 1, 0};
    uint64_t n = 0;
    ck_assert_int_eq(rc_store_retain(st, &lim, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 4499);
    ck_assert_uint_eq(first_seq(st), 4500);
    rc_store_close(st);
    st = open_store();
    /* The head survived: seqs go on, never reused. */
    ck_assert_uint_eq(append_n(st, "b", 1, NULL, NULL, NULL), 4501);
    rc_store_close(st);
}
END_TEST

START_TEST(retention_age_front_only) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "old", 10, NULL, NULL, "2000-01-01T00:00:00Z");
    append_n(st, "new", 5, NULL, NULL, NULL); /* stamped now */
    append_n(st, "late", 3, NULL, NULL, "2000-01-01T00:00:00Z");
    rc_retention_limits lim = {3600 * 1000, 0, 0};
    uint64_t n = 0;
    ck_assert_int_eq(rc_store_retain(st, &lim, &n, &err), RC_OK);
    /* Only a prefix goes: the old events after a new one stay. */
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(first_seq(st), 11);
    rc_store_close(st);
}
END_TEST

START_TEST(retention_of_leased_events_dead_letters) {
    rc_store *st = open_store();
    rc_err err;
    append_n(st, "a", 2, "s", NULL, NULL);
    ck_assert_int_eq(create(st, "g", RC_CONSUMER_GROUP, NULL, "{\"subject\":\"s\"}", 100, 5, &err),
                     RC_OK);
    uint64_t sq[8];
    ck_assert_uint_eq(fetch(st, "g", "m", 2, sq, NULL), 2); /* 1 and 2 leased */
    append_n(st, "b", 10, "other", NULL, NULL);
    rc_retention_limits lim = {0, 10, 0};
    uint64_t n = 0;
    ck_assert_int_eq(rc_store_retain(st, &lim, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 2);
    usleep(150 * 1000);
    /* The leases expired, the events are gone: dead letters that say why,
     * not a silent skip. */
    ck_assert_uint_eq(fetch(st, "g", "m", 10, sq, NULL), 0);
    rc_consumer_info c = info(st, "g");
    ck_assert_uint_eq(c.dead, 2);
    ck_assert_uint_eq(c.pending, 0);
    size_t rows = 0;
    rc_query q = {0};
    q.type = RC_DEADLETTER_TYPE;
    ck_assert_int_eq(rc_store_scan(st, &q, count_row, &rows, &err), RC_OK);
    ck_assert_uint_eq(rows, 2);
    rc_store_close(st);
}
END_TEST

/* ---- members ---------------------------------------------------------------- */

typedef struct touch_arg {
    rc_store *st;
    const char *member;
    int active, fresh;
} touch_arg;

static int touch_fn(rc_txn *tx, void *arg, rc_err *err) {
    touch_arg *a = arg;
    return rc_consumer_txn_member_touch(a->st, tx, "grp", a->member, a->active, &a->fresh, err);
}

static int drop_fn(rc_txn *tx, void *arg, rc_err *err) {
    touch_arg *a = arg;
    size_t n = 0;
    return rc_consumer_txn_drop_member(a->st, tx, "grp", a->member, &n, err);
}

typedef struct mseen {
    char names[8][32];
    int64_t active[8];
    size_t n;
} mseen;

static int member_cb(const rc_consumer_member *m, void *arg) {
    mseen *s = arg;
    ck_assert_uint_lt(s->n, 8);
    snprintf(s->names[s->n], sizeof s->names[0], "%s", m->member);
    ck_assert_int_gt(m->seen_ms, 0);
    s->active[s->n++] = m->active_ms;
    return 0;
}

static int touch(rc_store *st, const char *member, int active, int *fresh) {
    touch_arg a = {st, member, active, -1};
    rc_err err;
    int rc = rc_store_txn(st, touch_fn, &a, &err);
    if (fresh) *fresh = a.fresh;
    return rc;
}

/* Members that hold nothing are kept, across a restart, until dropped or
 * until their consumer is deleted. */
START_TEST(members_durable) {
    rc_store *st = open_store();
    rc_err err;
    ck_assert_int_eq(touch(st, "m1", 0, NULL), RC_NOT_FOUND); /* no such consumer */
    ck_assert_int_eq(create(st, "grp", RC_CONSUMER_GROUP, NULL, NULL, -1, -1, &err), RC_OK);
    int fresh = -1;
    ck_assert_int_eq(touch(st, "m1", 0, &fresh), RC_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_int_eq(touch(st, "m1", 0, &fresh), RC_OK);
    ck_assert_int_eq(fresh, 0);
    ck_assert_int_eq(touch(st, "m0", 1, &fresh), RC_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_int_eq(touch(st, "bad name", 0, NULL), RC_INVALID);
    rc_store_close(st);

    st = open_store();
    mseen s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_consumer_members(st, "grp", member_cb, &s, &err), RC_OK);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_str_eq(s.names[0], "m0");
    ck_assert_int_gt(s.active[0], 0);
    ck_assert_str_eq(s.names[1], "m1");
    ck_assert_int_eq(s.active[1], -1);
    touch_arg d = {st, "m1", 0, 0};
    ck_assert_int_eq(rc_store_txn(st, drop_fn, &d, &err), RC_OK);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_consumer_members(st, "grp", member_cb, &s, &err), RC_OK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_int_eq(rc_consumer_delete(st, "grp", &err), RC_OK);
    ck_assert_int_eq(rc_consumer_members(st, "grp", member_cb, &s, &err), RC_NOT_FOUND);
    ck_assert_int_eq(create(st, "grp", RC_CONSUMER_GROUP, NULL, NULL, -1, -1, &err), RC_OK);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_consumer_members(st, "grp", member_cb, &s, &err), RC_OK);
    ck_assert_uint_eq(s.n, 0); /* a new consumer of the same name starts empty */
    rc_store_close(st);
}
END_TEST

static Suite *consumer_suite(void) {
    Suite *s = suite_create("store_consumer");
    TCase *tc = tcase_create("consumers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, create_get_list_delete);
    tcase_add_test(tc, cursor_fetch_ack_resume);
    tcase_add_test(tc, group_leases_redelivery_deadletter);
    tcase_add_test(tc, deadletter_event_content);
    tcase_add_test(tc, nack_claim_pending);
    tcase_add_test(tc, filters_and_starts);
    tcase_add_test(tc, request_parser);
    tcase_add_test(tc, members_durable);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("retention");
    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, retention_count_and_errors);
    tcase_add_test(tr, retention_keeps_the_head_and_seqs);
    tcase_add_test(tr, retention_age_front_only);
    tcase_add_test(tr, retention_of_leased_events_dead_letters);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) {
    rc_log_open("stderr", RC_LOG_ERROR, 0);
    return rc_test_run(consumer_suite());
}
