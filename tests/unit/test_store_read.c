/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the log: every scan filter, order, limits, from/after/to,
 * single gets, RC_TRIMMED after retention, readers on many threads, and
 * the query plans (every filtered scan is served from an index).
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redcar/log.h"
#include "redcar/store.h"
#include "store/store_int.h"
#include "check_main.h"

static char dir[64];
static rc_store *st;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void open_it(void) {
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    o.fsync = RC_FSYNC_NORMAL;
    o.read_conns = 2;
    ck_assert_int_eq(rc_store_open(&st, &o, NULL), RC_OK);
}

/* 40 events: seq i has type t.a (odd) / t.b (even), subject order/<i%4>
 * (order/0 -> no subject), source /s<i%2>, time 1000*i ms. */
static void setup(void) {
    strcpy(dir, "/tmp/rc-store-read-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    open_it();
    rc_event *evs[40];
    for (int i = 1; i <= 40; i++) {
        rc_event *ev = rc_event_new();
        char id[16], t[40], subj[16], src[8];
        snprintf(id, sizeof id, "%d", i);
        snprintf(subj, sizeof subj, "order/%d", i % 4);
        snprintf(src, sizeof src, "/s%d", i % 2);
        rc_time_format((int64_t)i * 1000, t, sizeof t);
        rc_event_set(ev, "specversion", "1.0");
        rc_event_set(ev, "id", id);
        rc_event_set(ev, "source", src);
        rc_event_set(ev, "type", i % 2 ? "t.a" : "t.b");
        rc_event_set(ev, "time", t);
        if (i % 4) rc_event_set(ev, "subject", subj);
        evs[i - 1] = ev;
    }
    ck_assert_int_eq(rc_store_append(st, evs, 40, NULL, NULL, NULL), RC_OK);
}

static void teardown(void) {
    rc_store_close(st);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct seen {
    size_t n;
    uint64_t seq[64];
    int stop_after;
} seen;

static int seen_cb(const rc_stored *row, void *arg) {
    seen *s = arg;
    ck_assert_ptr_nonnull(row->json);
    ck_assert_uint_eq(strlen(row->json), row->json_len);
    ck_assert_ptr_null(strstr(row->json, "\"seq\""));
    if (s->n < 64) s->seq[s->n] = row->seq;
    s->n++;
    return s->stop_after && (int)s->n >= s->stop_after;
}

static seen scan(const rc_query *q) {
    seen s;
    memset(&s, 0, sizeof s);
    rc_err err;
    int rc = rc_store_scan(st, q, seen_cb, &s, &err);
    ck_assert_msg(rc == RC_OK, "scan: %s", rc_err_msg(&err));
    return s;
}

START_TEST(filters) {
    rc_query q;
    seen s;
    memset(&q, 0, sizeof q);
    s = scan(&q);
    ck_assert_uint_eq(s.n, 40);
    ck_assert_uint_eq(s.seq[0], 1);
    q.type = "t.a";
    s = scan(&q);
    ck_assert_uint_eq(s.n, 20);
    ck_assert_uint_eq(s.seq[1], 3);
    memset(&q, 0, sizeof q);
    q.source = "/s0";
    s = scan(&q);
    ck_assert_uint_eq(s.n, 20);
    ck_assert_uint_eq(s.seq[0], 2);
    memset(&q, 0, sizeof q);
    q.subject = "order/1";
    s = scan(&q);
    ck_assert_uint_eq(s.n, 10);
    ck_assert_uint_eq(s.seq[0], 1);
    ck_assert_uint_eq(s.seq[1], 5);
    memset(&q, 0, sizeof q);
    q.subject_prefix = "order/";
    s = scan(&q);
    ck_assert_uint_eq(s.n, 30);
    for (size_t i = 1; i < 30; i++) ck_assert(s.seq[i] > s.seq[i - 1]); /* seq order */
    q.subject_prefix = "order/3";
    s = scan(&q);
    ck_assert_uint_eq(s.n, 10);
    q.subject_prefix = "";
    s = scan(&q);
    ck_assert_uint_eq(s.n, 30);
    memset(&q, 0, sizeof q);
    q.since_ms = 10000;
    q.until_ms = 20000;
    s = scan(&q);
    ck_assert_uint_eq(s.n, 10);
    ck_assert_uint_eq(s.seq[0], 10);
    ck_assert_uint_eq(s.seq[9], 19);
    /* combined */
    memset(&q, 0, sizeof q);
    q.type = "t.a";
    q.subject = "order/3";
    q.source = "/s1";
    q.since_ms = 5000;
    s = scan(&q);
    ck_assert_uint_eq(s.n, 9); /* 7, 11, ..., 39 */
    ck_assert_uint_eq(s.seq[0], 7);
}
END_TEST

START_TEST(order_and_bounds) {
    rc_query q;
    seen s;
    memset(&q, 0, sizeof q);
    q.desc = 1;
    q.limit = 3;
    s = scan(&q);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(s.seq[0], 40);
    ck_assert_uint_eq(s.seq[2], 38);
    memset(&q, 0, sizeof q);
    q.after = 35;
    s = scan(&q);
    ck_assert_uint_eq(s.n, 5);
    ck_assert_uint_eq(s.seq[0], 36);
    memset(&q, 0, sizeof q);
    q.from = 10;
    q.to = 12;
    s = scan(&q);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(s.seq[0], 10);
    q.desc = 1;
    s = scan(&q);
    ck_assert_uint_eq(s.seq[0], 12);
    memset(&q, 0, sizeof q);
    q.after = 40;
    s = scan(&q);
    ck_assert_uint_eq(s.n, 0);
    /* the callback stops the scan */
    memset(&q, 0, sizeof q);
    memset(&s, 0, sizeof s);
    s.stop_after = 4;
    ck_assert_int_eq(rc_store_scan(st, &q, seen_cb, &s, NULL), RC_OK);
    ck_assert_uint_eq(s.n, 4);
    /* get */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_store_get(st, 17, seen_cb, &s, NULL), RC_OK);
    ck_assert_uint_eq(s.seq[0], 17);
    rc_err err;
    ck_assert_int_eq(rc_store_get(st, 41, seen_cb, &s, &err), RC_NOT_FOUND);
    ck_assert_int_eq(rc_store_get(st, 0, seen_cb, &s, &err), RC_INVALID);
    ck_assert_int_eq(rc_store_scan(st, NULL, seen_cb, &s, &err), RC_INVALID);
}
END_TEST

static int row_fields(const rc_stored *row, void *arg) {
    (void)arg;
    ck_assert_str_eq(row->type, "t.a");
    ck_assert_str_eq(row->source, "/s1");
    ck_assert_str_eq(row->id, "5");
    ck_assert_str_eq(row->subject, "order/1");
    ck_assert_int_eq(row->time_ms, 5000);
    rc_event *ev = NULL;
    ck_assert_int_eq(rc_event_decode_json(row->json, row->json_len, &ev, NULL), RC_OK);
    ck_assert_str_eq(ev->id, "5");
    rc_event_free(ev);
    return 0;
}

START_TEST(row_contents) {
    ck_assert_int_eq(rc_store_get(st, 5, row_fields, NULL, NULL), RC_OK);
}
END_TEST

START_TEST(trimmed) {
    rc_store_close(st);
    st = NULL;
    /* retention removed the front of the log */
    char path[128];
    snprintf(path, sizeof path, "%s/redcar.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "DELETE FROM events WHERE seq<10", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    open_it();
    rc_query q;
    memset(&q, 0, sizeof q);
    q.from = 5;
    seen s;
    memset(&s, 0, sizeof s);
    rc_err err;
    ck_assert_int_eq(rc_store_scan(st, &q, seen_cb, &s, &err), RC_TRIMMED);
    ck_assert_ptr_nonnull(strstr(err.msg, "earliest stored seq is 10"));
    q.from = 0;
    q.after = 8;
    ck_assert_int_eq(rc_store_scan(st, &q, seen_cb, &s, &err), RC_TRIMMED);
    q.after = 9;
    s = scan(&q);
    ck_assert_uint_eq(s.n, 31);
    q.after = 0;
    s = scan(&q); /* from the start: whatever is stored */
    ck_assert_uint_eq(s.n, 31);
    ck_assert_int_eq(rc_store_get(st, 3, seen_cb, &s, &err), RC_TRIMMED);
    rc_store_stats stats;
    rc_store_stats_get(st, &stats);
    ck_assert_uint_eq(stats.first_seq, 10);
    ck_assert_uint_eq(stats.events, 31);
    /* appends continue after the head */
    rc_event *ev = rc_event_new();
    rc_event_set(ev, "specversion", "1.0");
    rc_event_set(ev, "id", "new");
    rc_event_set(ev, "source", "/s");
    rc_event_set(ev, "type", "t");
    rc_append_item it;
    ck_assert_int_eq(rc_store_append(st, &ev, 1, NULL, &it, NULL), RC_OK);
    ck_assert_uint_eq(it.seq, 41);
}
END_TEST

/* Readers on many threads with a 2-connection pool while a writer runs. */
static void *reader(void *arg) {
    (void)arg;
    for (int i = 0; i < 200; i++) {
        rc_query q;
        memset(&q, 0, sizeof q);
        q.subject = "order/2";
        seen s;
        memset(&s, 0, sizeof s);
        if (rc_store_scan(st, &q, seen_cb, &s, NULL) != RC_OK || s.n < 10) return (void *)1;
    }
    return NULL;
}

START_TEST(concurrent_readers) {
    pthread_t th[6];
    for (int i = 0; i < 6; i++) pthread_create(&th[i], NULL, reader, NULL);
    for (int i = 0; i < 200; i++) {
        rc_event *ev = rc_event_new();
        char id[16];
        snprintf(id, sizeof id, "w%d", i);
        rc_event_set(ev, "specversion", "1.0");
        rc_event_set(ev, "id", id);
        rc_event_set(ev, "source", "/w");
        rc_event_set(ev, "type", "t");
        rc_event_set(ev, "subject", "order/2");
        rc_event **one = &ev;
        ck_assert_int_eq(rc_store_append_async(st, one, 1, NULL, NULL, NULL, NULL), RC_OK);
    }
    for (int i = 0; i < 6; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        ck_assert_ptr_null(ret);
    }
}
END_TEST

/* ---- query plans ---- */

static void plan_of(sqlite3 *db, const char *sql, char *out, size_t n) {
    char q[700];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s;
    ck_assert_msg(sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    out[0] = '\0';
    while (sqlite3_step(s) == SQLITE_ROW) {
        strncat(out, (const char *)sqlite3_column_text(s, 3), n - strlen(out) - 2);
        strncat(out, "; ", n - strlen(out) - 1);
    }
    sqlite3_finalize(s);
}

static void expect_index(sqlite3 *db, const rc_query *q, const char *index, int sorted) {
    char sql[512], plan[1024];
    rc__scan_sql(q, sql, sizeof sql);
    plan_of(db, sql, plan, sizeof plan);
    ck_assert_msg(strstr(plan, index) != NULL, "%s\n  plan: %s\n  expected index %s", sql, plan, index);
    if (sorted) ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "%s\n  plan sorts: %s", sql, plan);
}

START_TEST(query_plans) {
    char path[128];
    snprintf(path, sizeof path, "%s/redcar.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    rc_query q;
    memset(&q, 0, sizeof q);
    q.subject = "s";
    expect_index(db, &q, "events_subject (subject=?", 1);
    q.after = 10;
    q.limit = 5;
    expect_index(db, &q, "events_subject (subject=? AND rowid>?", 1);
    q.desc = 1;
    expect_index(db, &q, "events_subject", 1);
    memset(&q, 0, sizeof q);
    q.type = "t";
    q.from = 3;
    expect_index(db, &q, "events_type (type=? AND rowid>?", 1);
    memset(&q, 0, sizeof q);
    q.subject_prefix = "order/";
    expect_index(db, &q, "events_subject (subject>? AND subject<?)", 0);
    memset(&q, 0, sizeof q);
    q.since_ms = 5;
    q.until_ms = 10;
    expect_index(db, &q, "events_time (time_ms>? AND time_ms<?)", 0);
    memset(&q, 0, sizeof q);
    q.source = "/s";
    expect_index(db, &q, "INDEX sqlite_autoindex_events_1 (source=?)", 0);
    memset(&q, 0, sizeof q);
    q.from = 5;
    q.limit = 10;
    expect_index(db, &q, "INTEGER PRIMARY KEY (rowid>?)", 1);
    /* history of a key and as-of replays */
    char plan[1024];
    plan_of(db, RC__HISTORY_SQL, plan, sizeof plan);
    ck_assert_msg(strstr(plan, "events_subject (subject=?)") && !strstr(plan, "TEMP B-TREE"), "%s", plan);
    /* the subject walk: two seeks, no scan, no sort */
    plan_of(db, RC__SUBJECTS_SQL(">"), plan, sizeof plan);
    ck_assert_msg(strstr(plan, "events_subject (subject=?)") && strstr(plan, "events_subject (subject>?)") &&
                      !strstr(plan, "TEMP B-TREE") && !strstr(plan, "SCAN"),
                  "%s", plan);
    plan_of(db, "SELECT key FROM kv WHERE expire_ms>0 AND expire_ms<=?1 ORDER BY expire_ms LIMIT ?2",
            plan, sizeof plan);
    ck_assert_msg(strstr(plan, "kv_expiry"), "%s", plan);
    sqlite3_close(db);
}
END_TEST

/* rc_store_subjects: each subject once, in order, with its newest event;
 * bounds, limit, and the payload only for the type asked. */
typedef struct subj {
    size_t n;
    char name[8][16];
    uint64_t seq[8];
    int json[8];
} subj;

static int subj_cb(const rc_stored *row, void *arg) {
    subj *s = arg;
    ck_assert_uint_lt(s->n, 8);
    snprintf(s->name[s->n], sizeof s->name[0], "%s", row->subject);
    s->seq[s->n] = row->seq;
    s->json[s->n] = row->json != NULL;
    s->n++;
    return 0;
}

START_TEST(subjects_walk) {
    subj s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_store_subjects(st, NULL, 0, NULL, 0, "t.b", subj_cb, &s, NULL), RC_OK);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_str_eq(s.name[0], "order/1");
    ck_assert_str_eq(s.name[2], "order/3");
    ck_assert_uint_eq(s.seq[0], 37); /* the newest of each */
    ck_assert_uint_eq(s.seq[1], 38);
    ck_assert_uint_eq(s.seq[2], 39);
    ck_assert(!s.json[0] && s.json[1] && !s.json[2]); /* 38 is a t.b */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_store_subjects(st, "order/1", 1, NULL, 1, NULL, subj_cb, &s, NULL), RC_OK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_str_eq(s.name[0], "order/2");
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_store_subjects(st, "order/1", 0, "order/3", 0, NULL, subj_cb, &s, NULL), RC_OK);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_str_eq(s.name[1], "order/2");
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(rc_store_subjects(st, "order/3", 1, NULL, 0, NULL, subj_cb, &s, NULL), RC_OK);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_int_eq(rc_store_subjects(st, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL), RC_INVALID);
}
END_TEST

/* rc_store_count agrees with what rc_store_scan hands out, for the index
 * shapes the doors use (subject alone, subject with a type, bounds). */
START_TEST(count_matches_scan) {
    static const char *const subjects[] = {"order/1", "order/2", "order/3", NULL};
    static const char *const types[] = {NULL, "t.a", "t.b"};
    static const uint64_t froms[] = {0, 1, 17, 41};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 4; c++) {
                rc_query q;
                memset(&q, 0, sizeof q);
                q.subject = subjects[a];
                q.type = types[b];
                q.from = froms[c];
                q.to = c == 2 ? 33 : 0;
                seen sn;
                memset(&sn, 0, sizeof sn);
                ck_assert_int_eq(rc_store_scan(st, &q, seen_cb, &sn, NULL), RC_OK);
                uint64_t n = 99;
                ck_assert_int_eq(rc_store_count(st, &q, &n, NULL), RC_OK);
                ck_assert_uint_eq(n, sn.n);
            }
    rc_query q;
    memset(&q, 0, sizeof q);
    q.subject_prefix = "order/";
    uint64_t n = 0;
    ck_assert_int_eq(rc_store_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 30);
    ck_assert_int_eq(rc_store_count(st, NULL, &n, NULL), RC_INVALID);
}
END_TEST

Suite *store_read_suite(void) {
    Suite *s = suite_create("store_read");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, filters);
    tcase_add_test(tc, order_and_bounds);
    tcase_add_test(tc, row_contents);
    tcase_add_test(tc, trimmed);
    tcase_add_test(tc, concurrent_readers);
    tcase_add_test(tc, query_plans);
    tcase_add_test(tc, count_matches_scan);
    tcase_add_test(tc, subjects_walk);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rc_log_open("stderr", RC_LOG_ERROR, 0);
    return rc_test_run(store_read_suite());
}
