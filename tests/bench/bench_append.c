/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Append throughput: the store (group commit, producers on several threads
 * keeping a window of async appends in flight) against a plain SQLite
 * program doing the same inserts (same schema and indexes, same pragmas,
 * same encoded payloads) in transactions of 1,000 rows.
 *
 *   bench_append [-n events] [-p producers] [-w window] [-s always|normal|both]
 *                [-o plain|lib|all] [-r repeats] [-d dir] [-k kind] [-a]
 *
 * The plain program is measured twice: with payloads encoded beforehand
 * (pure SQLite insert speed, the strict baseline) and with the events built
 * and encoded inside the timed loop (what an application would do; the
 * library's producers do this work too). The ratio printed is against the
 * strict baseline. Variants run interleaved, best of -r repeats; CPU time
 * per event (all threads) is printed too, as it is robust to other load.
 *
 * -k picks what the library run appends (the plain runs always insert the
 * plain events, the figure the KV paths are held against):
 *   events      plain events (default)
 *   notime      plain events without `time`, stamped by the store (what a
 *               curl or wrk POST /events usually sends)
 *   put         io.redcar.kv.put of one key (a RESP SET without -r)
 *   put-random  io.redcar.kv.put of keys out of 100,000 (SET -r 100000)
 *   incr        a transaction per event reading one key and putting it
 *               back incremented (a RESP INCR)
 * The writer thread's own CPU per event (CLOCK_THREAD_CPUTIME_ID of the
 * rc-writer thread) and the sync thread's are printed too.
 *
 * -a models the doors (many clients, one request each in flight): every
 * producer is a client with -w requests in flight (use -w 1), and
 * completions are handed to one answer thread, woken once per batch of
 * answers, which wakes the clients (the HTTP door's answer thread, the RESP
 * loop). The plain SQLite run then inserts the same rows (for put kinds the
 * KV row too) in transactions of the size the store's group commits had,
 * synchronous=FULL: what SQLite alone costs for that commit pattern.
 *
 *   single-event requests from 50 clients (issues 3 and 4):
 *   bench_append -a -p 50 -w 1 -n 100000 -s always -k events|notime|put|put-random
 */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "redcar/log.h"
#include "redcar/store.h"
#include "store/store_int.h"

static size_t n_events = 1000000;
static int n_producers = 2;
static size_t window = 8192;
static const char *base = NULL;
static const char *only = "all"; /* plain | lib | all */
static int repeats = 1;
typedef enum { K_EVENTS, K_NOTIME, K_PUT, K_PUT_RANDOM, K_INCR } kind_t;
static kind_t kind = K_EVENTS;
static const char *const kind_names[] = {"events", "notime", "put", "put-random", "incr"};
static int door = 0;       /* -a: completions through an answer thread */
static size_t plain_txn = 1000;

/* Wall-clock throughput and CPU seconds of the whole process (all
 * threads), so a loaded machine can be told apart from a slow store. */
typedef struct result {
    double evs;      /* events per second */
    double cpu_us;   /* CPU microseconds per event */
    double writer_us; /* of which the store's writer thread */
    double sync_us;   /* and the sync thread */
} result;

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void fresh_dir(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", base, name);
    nftw(out, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(out, 0755);
}

/* The benchmark event: small, with a subject from 100 and a JSON datum. */
static rc_event *make_event_t(size_t i, int with_time) {
    rc_event *ev = rc_event_new();
    char id[32], subj[32], data[48];
    snprintf(id, sizeof id, "bench-%zu", i);
    snprintf(subj, sizeof subj, "sensor/%zu", i % 100);
    int dl = snprintf(data, sizeof data, "{\"n\":%zu,\"v\":%zu}", i, (i * 7919) % 1000);
    if (!ev || rc_event_set(ev, "specversion", "1.0") || rc_event_set(ev, "id", id) ||
        rc_event_set(ev, "source", "/bench/producer") || rc_event_set(ev, "type", "bench.reading") ||
        rc_event_set(ev, "subject", subj) ||
        (with_time && rc_event_set(ev, "time", "2026-11-21T05:00:00.000Z")) ||
        rc_event_set_data(ev, "application/json", data, (size_t)dl, RC_DATA_JSON)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return ev;
}

static rc_event *make_event(size_t i) { return make_event_t(i, 1); }

/* A RESP-like KV put: what rc_api_kv_put_event builds for SET key value. */
static rc_event *make_put(size_t i, const char *key, const char *val, size_t vlen) {
    rc_event *ev = rc_event_new();
    char id[32];
    snprintf(id, sizeof id, "kv-%zu", i);
    if (!ev || rc_event_set(ev, "specversion", "1.0") || rc_event_set(ev, "id", id) ||
        rc_event_set(ev, "source", "redcar://resp") || rc_event_set(ev, "type", "io.redcar.kv.put") ||
        rc_event_set(ev, "subject", key) || rc_event_set(ev, "time", "2026-11-21T05:00:00.000Z") ||
        rc_event_set_data(ev, "text/plain; charset=utf-8", val, vlen, RC_DATA_TEXT)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return ev;
}

static rc_event *make_kv(size_t i) {
    char key[32];
    if (kind == K_PUT_RANDOM) snprintf(key, sizeof key, "key:%012zu", (i * 2654435761u) % 100000);
    else snprintf(key, sizeof key, "key:__rand_int__");
    return make_put(i, key, "xxx", 3);
}

/* CPU seconds of one of the store's threads so far. */
static double thread_cpu_s(pthread_t th) {
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(th, &cid) != 0 || clock_gettime(cid, &ts) != 0) return 0;
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- plain SQLite ------------------------------------------------------- */

static void must(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static int is_put(void) { return kind == K_PUT || kind == K_PUT_RANDOM; }

/* Plain SQLite inserting the benchmark rows, plain_txn rows per
 * transaction. same_rows: the rows of the library run's kind (for put
 * kinds the KV row is upserted too, as the store's view does); otherwise
 * the plain events. */
static result plain(rc_fsync_mode mode, int encode_in_loop, int same_rows) {
    char d[512], path[600];
    fresh_dir(d, sizeof d, "plain");
    snprintf(path, sizeof path, "%s/plain.db", d);
    int kv = same_rows && is_put();
    rc_event *(*make)(size_t) = kv ? make_kv : make_event;
    /* payloads prepared outside the timed section when !encode_in_loop */
    rc_buf all = RC_BUF_INIT;
    size_t *off = NULL;
    int64_t tms = 0;
    rc_time_parse("2026-11-21T05:00:00.000Z", &tms);
    if (!encode_in_loop) {
        off = malloc((n_events + 1) * sizeof *off);
        for (size_t i = 0; i < n_events; i++) {
            rc_event *ev = make(i);
            off[i] = all.len;
            rc_event_encode_json(ev, 0, &all);
            rc_event_free(ev);
        }
        off[n_events] = all.len;
    }
    sqlite3 *db;
    must(sqlite3_open(path, &db), db, "open");
    must(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), db, "wal");
    must(sqlite3_exec(db, mode == RC_FSYNC_NORMAL ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
                      NULL, NULL, NULL), db, "sync");
    must(sqlite3_exec(db, RC__WRITER_PRAGMAS, NULL, NULL, NULL), db, "pragmas");
    must(sqlite3_exec(db, rc__store_schema(), NULL, NULL, NULL), db, "schema");
    sqlite3_stmt *ins, *begin, *commit, *put = NULL;
    must(sqlite3_prepare_v2(db, "INSERT INTO events(seq,source,id,type,subject,time_ms,payload) "
                                "VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &ins, NULL), db, "prepare");
    must(sqlite3_prepare_v2(db, "INSERT INTO kv(key,kind,value,ctype,size,create_seq,mod_seq,version) "
                                "VALUES(?1,1,?2,?3,?4,?5,?5,1) ON CONFLICT(key) DO UPDATE SET "
                                "value=excluded.value,ctype=excluded.ctype,size=excluded.size,"
                                "mod_seq=excluded.mod_seq,version=version+1", -1, &put, NULL), db, "prepare");
    must(sqlite3_prepare_v2(db, "BEGIN", -1, &begin, NULL), db, "prepare");
    must(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), db, "prepare");
    rc_buf one = RC_BUF_INIT;
    double c0 = cpu_s(), t0 = now_s();
    for (size_t i = 0; i < n_events; i++) {
        if (i % plain_txn == 0) {
            must(sqlite3_step(begin), db, "begin");
            sqlite3_reset(begin);
        }
        char id[32], subj[32];
        const char *json;
        size_t len;
        rc_event *ev = NULL;
        if (encode_in_loop) {
            ev = make(i);
            if (rc_time_parse(ev->time, &tms)) exit(1);
            rc_buf_reset(&one);
            rc_event_encode_json(ev, 0, &one);
            json = one.p;
            len = one.len;
        } else {
            json = all.p + off[i];
            len = off[i + 1] - off[i];
        }
        if (kv) {
            snprintf(id, sizeof id, "kv-%zu", i);
            if (kind == K_PUT_RANDOM) snprintf(subj, sizeof subj, "key:%012zu", (i * 2654435761u) % 100000);
            else snprintf(subj, sizeof subj, "key:__rand_int__");
        } else {
            snprintf(id, sizeof id, "bench-%zu", i);
            snprintf(subj, sizeof subj, "sensor/%zu", i % 100);
        }
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
        sqlite3_bind_text(ins, 2, kv ? "redcar://resp" : "/bench/producer", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, kv ? "io.redcar.kv.put" : "bench.reading", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, subj, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 6, tms);
        sqlite3_bind_text(ins, 7, json, (int)len, SQLITE_STATIC);
        must(sqlite3_step(ins), db, "insert");
        sqlite3_reset(ins);
        if (kv) {
            sqlite3_bind_text(put, 1, subj, -1, SQLITE_STATIC);
            sqlite3_bind_blob(put, 2, "xxx", 3, SQLITE_STATIC);
            sqlite3_bind_text(put, 3, "text/plain; charset=utf-8", -1, SQLITE_STATIC);
            sqlite3_bind_int64(put, 4, 3);
            sqlite3_bind_int64(put, 5, (sqlite3_int64)i + 1);
            must(sqlite3_step(put), db, "kv upsert");
            sqlite3_reset(put);
        }
        rc_event_free(ev);
        if (i % plain_txn == plain_txn - 1 || i + 1 == n_events) {
            must(sqlite3_step(commit), db, "commit");
            sqlite3_reset(commit);
        }
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    sqlite3_finalize(ins);
    sqlite3_finalize(put);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    rc_buf_free(&one);
    rc_buf_free(&all);
    free(off);
    nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return (result){(double)n_events / dt, dc * 1e6 / (double)n_events, 0, 0};
}

/* ---- the library -------------------------------------------------------- */

typedef struct producer {
    rc_store *st;
    size_t first, count;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t inflight;
    size_t failed;
    size_t answered;          /* (-a) answers queued for this client */
    struct producer *next;    /* (-a) in the answer queue */
    int queued;
} producer;

/* -a: the door's answer thread. Completions only queue the client and wake
 * this thread when it sleeps, as the doors do. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    producer *head;
    int sleeping, stop;
} answers = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0};

static void answer(producer *p, size_t n) {
    pthread_mutex_lock(&p->mu);
    /* wake the producer only where it may wait: a full window, or the end */
    size_t before = p->inflight;
    p->inflight -= n;
    int wake = before == window || p->inflight == 0;
    pthread_mutex_unlock(&p->mu);
    if (wake) pthread_cond_signal(&p->cv);
}

static void *answer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&answers.mu);
    for (;;) {
        while (!answers.head && !answers.stop) {
            answers.sleeping = 1;
            pthread_cond_wait(&answers.cv, &answers.mu);
            answers.sleeping = 0;
        }
        if (!answers.head) break;
        producer *list = answers.head;
        answers.head = NULL;
        for (producer *p = list; p; p = p->next) p->queued = 0;
        /* counts taken under the lock, answers given outside it */
        size_t counts[256], k = 0;
        producer *ps[256];
        for (producer *p = list; p && k < 256; p = p->next, k++) {
            ps[k] = p;
            counts[k] = p->answered;
            p->answered = 0;
        }
        pthread_mutex_unlock(&answers.mu);
        for (size_t i = 0; i < k; i++) answer(ps[i], counts[i]);
        pthread_mutex_lock(&answers.mu);
    }
    pthread_mutex_unlock(&answers.mu);
    return NULL;
}

static void done(void *arg, int status, const rc_err *err, const rc_append_item *items, size_t n) {
    (void)items, (void)n;
    producer *p = arg;
    if (status != RC_OK) {
        pthread_mutex_lock(&p->mu);
        if (p->failed++ == 0) fprintf(stderr, "append failed: %s\n", rc_err_msg(err));
        pthread_mutex_unlock(&p->mu);
    }
    if (door) {
        pthread_mutex_lock(&answers.mu);
        p->answered++;
        if (!p->queued) {
            p->queued = 1;
            p->next = answers.head;
            answers.head = p;
        }
        int wake = answers.sleeping;
        answers.sleeping = 0; /* one wake per batch of answers */
        pthread_mutex_unlock(&answers.mu);
        if (wake) pthread_cond_signal(&answers.cv);
        return;
    }
    answer(p, 1);
}

static _Atomic size_t next_id; /* see make_lib */

/* INCR of one key, as the RESP door's step does it. */
static int incr_fn(rc_txn *tx, void *arg, rc_err *err) {
    (void)arg;
    size_t i = atomic_fetch_add(&next_id, 1);
    rc_kv_entry e;
    long long cur = 0;
    int rc = rc_txn_kv_get(tx, "counter", &e, err);
    if (rc == RC_OK) {
        char num[32];
        size_t n = e.value_len < sizeof num - 1 ? e.value_len : sizeof num - 1;
        memcpy(num, e.value, n);
        num[n] = '\0';
        cur = strtoll(num, NULL, 10);
    } else if (rc != RC_NOT_FOUND) {
        return rc;
    }
    char val[32];
    int vl = snprintf(val, sizeof val, "%lld", cur + 1);
    return rc_txn_append(tx, make_put(i, "counter", val, (size_t)vl), NULL, err);
}

/* Ids (and, for plain events, the datum) follow one counter in submission
 * order, as the RESP door's ids (one counter) and a load generator's do,
 * rather than each producer's own range: otherwise every event of a group
 * lands on its own leaf of the (source, id) index. Keys and subjects still
 * follow i. */
static rc_event *make_lib(size_t i) {
    size_t n = atomic_fetch_add(&next_id, 1);
    rc_event *ev;
    switch (kind) {
    case K_EVENTS: ev = make_event_t(n, 1); break;
    case K_NOTIME: ev = make_event_t(n, 0); break;
    default: {
        ev = make_kv(i);
        char id[32];
        snprintf(id, sizeof id, "kv-%zu", n);
        if (rc_event_set(ev, "id", id)) exit(1);
    }
    }
    return ev;
}

static void *produce(void *arg) {
    producer *p = arg;
    for (size_t i = p->first; i < p->first + p->count; i++) {
        if (kind == K_INCR) {
            pthread_mutex_lock(&p->mu);
            while (p->inflight >= window) pthread_cond_wait(&p->cv, &p->mu);
            p->inflight++;
            pthread_mutex_unlock(&p->mu);
            rc_err err;
            int rc;
            while ((rc = rc_store_txn_async(p->st, incr_fn, (void *)(uintptr_t)i, done, p, &err)) ==
                   RC_BUSY)
                usleep(100);
            if (rc != RC_OK) {
                fprintf(stderr, "submit: %s\n", rc_err_msg(&err));
                exit(1);
            }
            continue;
        }
        rc_event *ev = make_lib(i);
        pthread_mutex_lock(&p->mu);
        while (p->inflight >= window) pthread_cond_wait(&p->cv, &p->mu);
        p->inflight++;
        pthread_mutex_unlock(&p->mu);
        rc_err err;
        int rc;
        while ((rc = rc_store_append_async(p->st, &ev, 1, NULL, done, p, &err)) == RC_BUSY) {
            /* queue full: cannot happen with the window below the cap, but
             * be correct anyway (the event was consumed: rebuild it) */
            usleep(100);
            ev = make_lib(i);
        }
        if (rc != RC_OK) {
            fprintf(stderr, "submit: %s\n", rc_err_msg(&err));
            exit(1);
        }
    }
    pthread_mutex_lock(&p->mu);
    while (p->inflight) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static uint64_t last_syncs;

static result library(rc_fsync_mode mode, uint64_t *commits) {
    char d[512];
    fresh_dir(d, sizeof d, "lib");
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = d;
    o.fsync = mode;
    rc_store *st;
    rc_err err;
    if (rc_store_open(&st, &o, &err) != RC_OK) {
        fprintf(stderr, "open: %s\n", rc_err_msg(&err));
        exit(1);
    }
    pthread_t answerer;
    answers.stop = 0;
    atomic_store(&next_id, 0);
    if (door) pthread_create(&answerer, NULL, answer_main, NULL);
    producer *ps = calloc((size_t)n_producers, sizeof *ps);
    pthread_t *th = calloc((size_t)n_producers, sizeof *th);
    size_t per = n_events / (size_t)n_producers;
    double w0 = thread_cpu_s(st->thread), s0 = st->sync_started ? thread_cpu_s(st->sync_thread) : 0;
    double c0 = cpu_s(), t0 = now_s();
    for (int i = 0; i < n_producers; i++) {
        ps[i].st = st;
        ps[i].first = per * (size_t)i;
        ps[i].count = i == n_producers - 1 ? n_events - per * (size_t)i : per;
        pthread_mutex_init(&ps[i].mu, NULL);
        pthread_cond_init(&ps[i].cv, NULL);
        pthread_create(&th[i], NULL, produce, &ps[i]);
    }
    for (int i = 0; i < n_producers; i++) pthread_join(th[i], NULL);
    double dt = now_s() - t0, dc = cpu_s() - c0;
    double wc = thread_cpu_s(st->thread) - w0;
    double sc = st->sync_started ? thread_cpu_s(st->sync_thread) - s0 : 0;
    if (door) {
        pthread_mutex_lock(&answers.mu);
        answers.stop = 1;
        pthread_cond_signal(&answers.cv);
        pthread_mutex_unlock(&answers.mu);
        pthread_join(answerer, NULL);
    }
    size_t failed = 0;
    for (int i = 0; i < n_producers; i++) failed += ps[i].failed;
    rc_store_stats s;
    rc_store_stats_get(st, &s);
    *commits = s.commits;
    last_syncs = s.syncs;
    if (failed || s.head_seq != n_events) {
        fprintf(stderr, "library run wrong: %zu failed, head %llu\n", failed,
                (unsigned long long)s.head_seq);
        exit(1);
    }
    rc_store_close(st);
    free(ps);
    free(th);
    nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    double n = (double)n_events;
    return (result){n / dt, dc * 1e6 / n, wc * 1e6 / n, sc * 1e6 / n};
}

static void best(result *b, result r) {
    if (r.evs > b->evs) b->evs = r.evs;
    if (b->cpu_us == 0 || r.cpu_us < b->cpu_us) b->cpu_us = r.cpu_us;
    if (b->writer_us == 0 || r.writer_us < b->writer_us) b->writer_us = r.writer_us;
    if (b->sync_us == 0 || r.sync_us < b->sync_us) b->sync_us = r.sync_us;
}

/* Variants interleaved, best of `repeats` each: other load on the machine
 * only ever slows a run down. */
static void run(rc_fsync_mode mode) {
    const char *name = mode == RC_FSYNC_NORMAL ? "normal" : "always";
    int do_plain = strcmp(only, "lib") != 0, do_lib = strcmp(only, "plain") != 0;
    result ps = {0, 0, 0, 0}, pa = {0, 0, 0, 0}, lib = {0, 0, 0, 0}, same = {0, 0, 0, 0};
    uint64_t commits = 0;
    size_t group = 0;
    for (int r = 0; r < repeats; r++) {
        if (do_plain && !door) best(&ps, plain(mode, 0, 0));
        if (do_lib) {
            best(&lib, library(mode, &commits));
            group = (size_t)((double)n_events / (double)(commits ? commits : 1) + 0.5);
        }
        if (do_plain && !door) best(&pa, plain(mode, 1, 0));
        if (do_plain && door) {
            /* the same rows in transactions as large as the store's groups */
            size_t keep = plain_txn;
            if (group) plain_txn = group;
            best(&same, plain(mode, 0, 1));
            plain_txn = keep;
        }
    }
    if (do_plain && !door) {
        printf("fsync=%-6s plain sqlite, pre-encoded, %zu/txn:    %9.0f ev/s  %6.2f cpu-us/ev\n",
               name, plain_txn, ps.evs, ps.cpu_us);
        printf("fsync=%-6s plain sqlite, encode in loop, %zu/txn: %9.0f ev/s  %6.2f cpu-us/ev\n",
               name, plain_txn, pa.evs, pa.cpu_us);
    }
    if (do_plain && door)
        printf("fsync=%-6s plain sqlite, same rows (%s), %zu/txn:  %9.0f ev/s  %6.2f cpu-us/ev\n",
               name, is_put() ? "event + kv row" : "event", group ? group : plain_txn, same.evs,
               same.cpu_us);
    if (do_lib)
        printf("fsync=%-6s redcar store (%s), %d %s x window %zu: %9.0f ev/s  %6.2f cpu-us/ev "
               "(writer %.2f, sync %.2f)  (%llu group commits, %.1f ev/commit, %llu syncs)\n",
               name, kind_names[kind], n_producers, door ? "clients" : "producers", window, lib.evs,
               lib.cpu_us, lib.writer_us, lib.sync_us, (unsigned long long)commits,
               (double)n_events / (double)(commits ? commits : 1), (unsigned long long)last_syncs);
    if (do_plain && do_lib && !door)
        printf("fsync=%-6s RATIO store/plain(pre-encoded) = %.2f   (store/plain(encode in loop) = %.2f)\n",
               name, lib.evs / ps.evs, lib.evs / pa.evs);
    if (do_plain && do_lib && door)
        printf("fsync=%-6s RATIO store/plain(same rows, same txn size) = %.2f ev/s; writer cpu/plain cpu = %.2f\n",
               name, lib.evs / same.evs, lib.writer_us / same.cpu_us);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *sync = "both";
    int c;
    while ((c = getopt(argc, argv, "n:p:w:s:d:o:r:k:a")) != -1) {
        switch (c) {
        case 'n': n_events = strtoull(optarg, NULL, 10); break;
        case 'p': n_producers = atoi(optarg); break;
        case 'w': window = strtoull(optarg, NULL, 10); break;
        case 's': sync = optarg; break;
        case 'd': base = optarg; break;
        case 'o': only = optarg; break;
        case 'r': repeats = atoi(optarg); break;
        case 'a': door = 1; break;
        case 'k': {
            size_t k = 0;
            while (k < sizeof kind_names / sizeof kind_names[0] && strcmp(optarg, kind_names[k]) != 0) k++;
            if (k == sizeof kind_names / sizeof kind_names[0]) {
                fprintf(stderr, "-k: one of events, notime, put, put-random, incr\n");
                return 2;
            }
            kind = (kind_t)k;
            break;
        }
        default:
            fprintf(stderr, "usage: %s [-n events] [-p producers] [-w window] "
                            "[-s always|normal|both] [-o plain|lib|all] [-r repeats] [-d dir] [-k kind] [-a]\n", argv[0]);
            return 2;
        }
    }
    if (n_events == 0 || n_producers <= 0 || window == 0 || repeats <= 0) return 2;
    char tmp[] = "/tmp/rc-bench-XXXXXX";
    if (!base && !(base = mkdtemp(tmp))) return 1;
    rc_log_open("stderr", RC_LOG_WARN, 0);
    printf("bench_append: %zu events, sqlite %s\n", n_events, sqlite3_libversion());
    if (strcmp(sync, "normal") != 0) run(RC_FSYNC_ALWAYS);
    if (strcmp(sync, "always") != 0) run(RC_FSYNC_NORMAL);
    if (base == tmp) rmdir(tmp);
    return 0;
}
