/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Online backup (src/store/backup.c): the copy opens as a store with the
 * same log and KV view; appends keep committing while a backup runs (the
 * writer is never blocked by it) and the copy is one consistent snapshot;
 * cancelling leaves nothing behind; an existing file is never overwritten.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tmpdir.h"
#include "redcar/backup.h"
#include "redcar/log.h"
#include "redcar/store.h"
#include "check_main.h"

RC_TEST_TMPDIR("rc-backup-test")

static rc_store *open_at(const char *sub) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = path;
    o.fsync = RC_FSYNC_NORMAL;
    rc_store *st = NULL;
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_open(&st, &o, &err);
    ck_assert_msg(rc == RC_OK, "open %s: %s", path, rc_err_msg(&err));
    return st;
}

static rc_event *mkev(const char *id, const char *type, const char *subject, const char *data) {
    rc_event *ev = rc_event_new();
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(rc_event_set(ev, "specversion", "1.0"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "source", "/backup-test"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "id", id), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "type", type), RC_OK);
    if (subject) ck_assert_int_eq(rc_event_set(ev, "subject", subject), RC_OK);
    if (data)
        ck_assert_int_eq(rc_event_set_data(ev, "text/plain", data, strlen(data), RC_DATA_NONE),
                         RC_OK);
    return ev;
}

/* n events in batches of 100: every 10th a KV put of key k<i/10%50>. */
static void fill(rc_store *st, int from, int n) {
    char pad[400];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = from; i < from + n;) {
        rc_event *evs[100];
        size_t k = 0;
        for (; k < 100 && i < from + n; k++, i++) {
            char id[32], key[32];
            snprintf(id, sizeof id, "e%d", i);
            snprintf(key, sizeof key, "k%d", i / 10 % 50);
            evs[k] = i % 10 ? mkev(id, "com.example.t", "s", pad)
                            : mkev(id, "io.redcar.kv.put", key, id);
        }
        rc_err err;
        ck_assert_msg(rc_store_append(st, evs, k, NULL, NULL, &err) == RC_OK, "append: %s",
                      rc_err_msg(&err));
    }
}

typedef struct kv_seen {
    char value[64];
    int found;
} kv_seen;

static int kv_cb(const rc_kv_entry *e, void *arg) {
    kv_seen *s = arg;
    snprintf(s->value, sizeof s->value, "%.*s", (int)e->value_len, (const char *)e->value);
    s->found = 1;
    return 0;
}

static int row_cb(const rc_stored *row, void *arg) {
    uint64_t *expect = arg;
    ck_assert_uint_eq(row->seq, *expect);
    (*expect)++;
    return 0;
}

static void backup_path(char *out, size_t n, const char *sub) {
    snprintf(out, n, "%s/%s", dir, sub);
}

START_TEST(roundtrip) {
    rc_store *st = open_at("live");
    fill(st, 0, 2000);
    char path[256];
    mkdir((snprintf(path, sizeof path, "%s/restored", dir), path), 0755);
    backup_path(path, sizeof path, "restored/redcar.db");
    rc_backup_info info;
    rc_err err;
    ck_assert_msg(rc_store_backup_ex(st, path, NULL, &info, &err) == RC_OK, "%s", rc_err_msg(&err));
    ck_assert_uint_eq(info.head_seq, 2000);
    ck_assert_uint_eq(info.events, 2000);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, info.bytes);
    ck_assert_uint_gt(info.pages, 0);
    /* never overwritten */
    ck_assert_int_eq(rc_store_backup(st, path, &err), RC_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "already exists"));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, info.bytes);
    ck_assert_str_eq(rc_store_dir(st), (snprintf(path, sizeof path, "%s/live", dir), path));
    rc_store_close(st);

    rc_store *rs = open_at("restored");
    rc_store_stats s;
    ck_assert_int_eq(rc_store_stats_get(rs, &s), RC_OK);
    ck_assert_uint_eq(s.head_seq, 2000);
    ck_assert_uint_eq(s.events, 2000);
    ck_assert_uint_eq(s.keys, 50);
    kv_seen kv = {{0}, 0};
    ck_assert_int_eq(rc_store_kv_get(rs, "k7", 0, kv_cb, &kv, NULL), RC_OK);
    ck_assert_str_eq(kv.value, "e1570"); /* the last put of k7 */
    rc_query q;
    memset(&q, 0, sizeof q);
    uint64_t expect = 1;
    ck_assert_int_eq(rc_store_scan(rs, &q, row_cb, &expect, NULL), RC_OK);
    ck_assert_uint_eq(expect, 2001);
    /* the restored store takes appends and dedups against the copy */
    rc_event *dup = mkev("e5", "com.example.t", "s", NULL);
    rc_append_item it;
    ck_assert_int_eq(rc_store_append(rs, &dup, 1, NULL, &it, NULL), RC_OK);
    ck_assert_int_eq(it.duplicate, 1);
    ck_assert_uint_eq(it.seq, 6);
    rc_store_close(rs);
}
END_TEST

/* ---- appends during a backup ---------------------------------------------------------- */

typedef struct writer_arg {
    rc_store *st;
    atomic_int stop;
    atomic_int appended;
    int64_t max_gap_ms; /* longest time one append took */
} writer_arg;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *writer_main(void *p) {
    writer_arg *w = p;
    for (int i = 0; !atomic_load(&w->stop); i++) {
        char id[32];
        snprintf(id, sizeof id, "w%d", i);
        rc_event *ev = mkev(id, "com.example.w", "w", "during the backup");
        int64_t t0 = now_ms();
        rc_err err;
        if (rc_store_append(w->st, &ev, 1, NULL, NULL, &err) != RC_OK) break;
        int64_t dt = now_ms() - t0;
        if (dt > w->max_gap_ms) w->max_gap_ms = dt;
        atomic_fetch_add(&w->appended, 1);
    }
    return NULL;
}

typedef struct slow {
    writer_arg *w;
    int calls;
    int appended_at_first;
    int appended_at_last;
} slow;

/* Slows the copy down so that it lasts long enough to see the writer go on. */
static int slow_progress(void *arg, uint64_t done, uint64_t total) {
    slow *s = arg;
    ck_assert_uint_le(done, total);
    if (s->calls++ == 0) s->appended_at_first = atomic_load(&s->w->appended);
    s->appended_at_last = atomic_load(&s->w->appended);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
}

START_TEST(appends_continue) {
    rc_store *st = open_at("live");
    fill(st, 0, 5000);
    writer_arg w = {.st = st};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, writer_main, &w), 0);
    while (atomic_load(&w.appended) < 10) usleep(1000);
    char path[256];
    mkdir((snprintf(path, sizeof path, "%s/copy", dir), path), 0755);
    backup_path(path, sizeof path, "copy/redcar.db");
    slow s = {.w = &w};
    rc_backup_opts o = {.progress = slow_progress, .arg = &s, .step_pages = 16};
    rc_backup_info info;
    rc_err err;
    int64_t t0 = now_ms();
    ck_assert_msg(rc_store_backup_ex(st, path, &o, &info, &err) == RC_OK, "%s", rc_err_msg(&err));
    int64_t took = now_ms() - t0;
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    ck_assert_int_gt(s.calls, 10);
    /* The writer kept committing while the copy ran, and no append waited
     * for the whole backup. */
    ck_assert_int_gt(s.appended_at_last - s.appended_at_first, 10);
    ck_assert_msg(w.max_gap_ms < took / 2 || w.max_gap_ms < 200,
                  "an append took %lld ms of a %lld ms backup", (long long)w.max_gap_ms,
                  (long long)took);
    ck_assert_uint_ge(info.head_seq, 5010);
    rc_store_stats live;
    ck_assert_int_eq(rc_store_stats_get(st, &live), RC_OK);
    ck_assert_uint_gt(live.head_seq, info.head_seq);
    rc_store_close(st);

    /* The copy is the snapshot: gapless up to its head, nothing after. */
    rc_store *cs = open_at("copy");
    rc_store_stats cst;
    ck_assert_int_eq(rc_store_stats_get(cs, &cst), RC_OK);
    ck_assert_uint_eq(cst.head_seq, info.head_seq);
    ck_assert_uint_eq(cst.events, info.head_seq);
    rc_query q;
    memset(&q, 0, sizeof q);
    uint64_t expect = 1;
    ck_assert_int_eq(rc_store_scan(cs, &q, row_cb, &expect, NULL), RC_OK);
    ck_assert_uint_eq(expect, info.head_seq + 1);
    rc_store_close(cs);
}
END_TEST

static int cancel_after_two(void *arg, uint64_t done, uint64_t total) {
    (void)done, (void)total;
    return ++*(int *)arg >= 2;
}

START_TEST(cancel_and_bad_paths) {
    rc_store *st = open_at("live");
    fill(st, 0, 3000);
    char path[256];
    backup_path(path, sizeof path, "cancelled.db");
    int calls = 0;
    rc_backup_opts o = {.progress = cancel_after_two, .arg = &calls, .step_pages = 8};
    rc_err err;
    ck_assert_int_eq(rc_store_backup_ex(st, path, &o, NULL, &err), RC_SHUTDOWN);
    ck_assert_int_eq(access(path, F_OK), -1); /* removed */

    /* an empty file (mkstemp) is taken, and truncated back on failure */
    backup_path(path, sizeof path, "empty-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    calls = 0;
    ck_assert_int_eq(rc_store_backup_ex(st, path, &o, NULL, &err), RC_SHUTDOWN);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq((int)sb.st_size, 0);
    ck_assert_int_eq(rc_store_backup(st, path, &err), RC_OK);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_gt((int)sb.st_size, 0);

    backup_path(path, sizeof path, "no/such/dir/x.db");
    ck_assert_int_eq(rc_store_backup(st, path, &err), RC_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
    ck_assert_int_eq(rc_store_backup(st, "", &err), RC_INVALID);
    ck_assert_int_eq(rc_store_backup(NULL, "x", &err), RC_INVALID);
    rc_store_close(st);
}
END_TEST

Suite *backup_suite(void) {
    Suite *s = suite_create("store_backup");
    TCase *tc = tcase_create("backup");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, appends_continue);
    tcase_add_test(tc, cancel_and_bad_paths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rc_log_open("stderr", RC_LOG_ERROR, 0);
    return rc_test_run(backup_suite());
}
