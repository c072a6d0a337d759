/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention of the log (redcar/retention.h): the front of the log, the
 * oldest events, is removed when the log exceeds a per-server limit on
 * age, count or bytes; a read that asks for a position retention removed
 * gets RC_TRIMMED naming the earliest stored seq, never a silent skip.
 *
 * Trimming is a transaction function (trim_fn) on the writer thread: one
 * chunk of at most RC_RETENTION_CHUNK events per transaction, so a large
 * trim never holds the writer for long and appends interleave with it.
 * Only a prefix of the log goes (seqs stay gapless: the store's counts and
 * the trimmed total, earliest seq - 1, depend on it) and never the newest
 * event (the writer recovers the next seq from the highest stored one).
 *
 * The runner is one thread that sleeps between checks. The count check
 * needs no SQL (the durable head and the earliest seq it trimmed to), so it
 * runs often and catches appends that cross the limit quickly; age and
 * bytes are checked by a pass every retention-interval.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redcar/log.h"
#include "redcar/retention.h"
#include "store/store_int.h"

#define QUICK_CHECK_MS 200 /* how often the runner compares the count with its limit */

int rc__log_first(sqlite3 *db, uint64_t *first, rc_err *err) {
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(db, "SELECT min(seq) FROM events", -1, &s, NULL);
    if (r != SQLITE_OK) return rc__sqlite_err(db, r, err, "reading the earliest seq");
    r = sqlite3_step(s);
    *first = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (r != SQLITE_ROW) return rc__sqlite_err(db, r, err, "reading the earliest seq");
    return RC_OK;
}

int rc__trimmed_check(sqlite3 *db, uint64_t pos, rc_err *err) {
    uint64_t first;
    int rc = rc__log_first(db, &first, err);
    if (rc) return rc;
    if (first > 1 && pos + 1 < first)
        return rc_err_set(err, RC_TRIMMED,
                          "seq %" PRIu64 " is no longer stored (retention); " RC_TRIMMED_EARLIEST
                          "%" PRIu64,
                          pos + 1, first);
    return RC_OK;
}

/* ---- one chunk on the writer ----------------------------------------------------- */

typedef struct trim_ctx {
    rc_store *st;
    const rc_retention_limits *lim;
    int64_t now_ms;
    uint64_t trimmed;         /* by this chunk */
    int more;                 /* the limits still want more trimmed */
} trim_ctx;

static int one_int(sqlite3 *db, const char *sql, int64_t bind, int64_t bind2, int64_t *out,
                   int *null, rc_err *err) {
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (r != SQLITE_OK) return rc__sqlite_err(db, r, err, "retention: preparing");
    if (sqlite3_bind_parameter_count(s) >= 1) sqlite3_bind_int64(s, 1, bind);
    if (sqlite3_bind_parameter_count(s) >= 2) sqlite3_bind_int64(s, 2, bind2);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (null) *null = sqlite3_column_type(s, 0) == SQLITE_NULL;
        *out = sqlite3_column_int64(s, 0);
    } else if (r == SQLITE_DONE) {
        if (null) *null = 1;
        *out = 0;
    }
    sqlite3_finalize(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return rc__sqlite_err(db, r, err, "retention: reading");
    return RC_OK;
}

static int trim_fn(rc_txn *tx, void *arg, rc_err *err) {
    trim_ctx *c = arg;
    sqlite3 *db = c->st->wdb;
    const rc_retention_limits *lim = c->lim;
    c->trimmed = 0;
    c->more = 0;
    uint64_t first;
    int rc = rc__log_first(db, &first, err);
    uint64_t head = rc_txn_last_seq(tx);
    if (rc || first == 0 || first >= head) return rc;
    /* cut: the first seq that stays. At most a chunk, never the head. */
    uint64_t room = first + RC_RETENTION_CHUNK < head ? first + RC_RETENTION_CHUNK : head;
    uint64_t cut = first;
    if (lim->max_events && head - first + 1 > lim->max_events) {
        uint64_t want = head - lim->max_events + 1;
        cut = want > cut ? want : cut;
    }
    if (lim->max_age_ms > 0) {
        /* The first event in the chunk's range that is new enough; none:
         * the whole range is too old. Front only, in seq order. */
        sqlite3_stmt *s = NULL;
        int r = sqlite3_prepare_v2(db,
                                   "SELECT seq FROM events WHERE seq>=?1 AND seq<?2 AND "
                                   "time_ms>=?3 ORDER BY seq LIMIT 1",
                                   -1, &s, NULL);
        if (r != SQLITE_OK) return rc__sqlite_err(db, r, err, "retention: preparing");
        sqlite3_bind_int64(s, 1, (sqlite3_int64)first);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)room);
        sqlite3_bind_int64(s, 3, c->now_ms - lim->max_age_ms);
        r = sqlite3_step(s);
        uint64_t want = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : room;
        sqlite3_finalize(s);
        if (r != SQLITE_ROW && r != SQLITE_DONE) return rc__sqlite_err(db, r, err, "retention: reading");
        cut = want > cut ? want : cut;
    }
    if (lim->max_bytes) {
        int64_t pages = 0, freel = 0, psize = 0;
        if ((rc = one_int(db, "PRAGMA page_count", 0, 0, &pages, NULL, err)) ||
            (rc = one_int(db, "PRAGMA freelist_count", 0, 0, &freel, NULL, err)) ||
            (rc = one_int(db, "PRAGMA page_size", 0, 0, &psize, NULL, err)))
            return rc;
        if ((uint64_t)((pages - freel) * psize) > lim->max_bytes) cut = room;
    }
    c->more = cut > room;
    if (cut > room) cut = room;
    if (cut <= first) return RC_OK;
    sqlite3_stmt *d = NULL;
    int r = sqlite3_prepare_v2(db, "DELETE FROM events WHERE seq<?1", -1, &d, NULL);
    if (r != SQLITE_OK) return rc__sqlite_err(db, r, err, "retention: preparing");
    sqlite3_bind_int64(d, 1, (sqlite3_int64)cut);
    r = sqlite3_step(d);
    sqlite3_finalize(d);
    if (r != SQLITE_DONE) return rc__sqlite_err(db, r, err, "retention: trimming");
    c->trimmed = (uint64_t)sqlite3_changes(db);
    /* A full chunk under the bytes or age limit: look again. */
    if (cut == room && room < head && (lim->max_bytes || lim->max_age_ms > 0)) c->more = 1;
    return RC_OK;
}

/* Whether the log is over a limit, judged from a read connection, so that
 * a check that finds nothing to do costs the writer nothing. 1 when in
 * doubt (the writer decides exactly). */
static int over_limit(rc_store *st, const rc_retention_limits *lim, int64_t now_ms) {
    rc__rconn *c = rc__rconn_get(st);
    sqlite3 *db = c->db;
    int over = 0;
    int64_t first = 0, t0 = 0, head = 0, pages = 0, freel = 0, psize = 0;
    int none = 0;
    if (one_int(db, "SELECT min(seq) FROM events", 0, 0, &first, &none, NULL) || none) goto out;
    head = (int64_t)atomic_load(&st->pub_head);
    if (head <= first) goto out; /* only the head left: never trimmed */
    if (lim->max_events && (uint64_t)(head - first + 1) > lim->max_events) over = 1;
    if (!over && lim->max_age_ms > 0) {
        if (one_int(db, "SELECT time_ms FROM events WHERE seq=?1", first, 0, &t0, &none, NULL) ||
            (!none && t0 < now_ms - lim->max_age_ms))
            over = 1;
    }
    if (!over && lim->max_bytes) {
        if (one_int(db, "PRAGMA page_count", 0, 0, &pages, NULL, NULL) ||
            one_int(db, "PRAGMA freelist_count", 0, 0, &freel, NULL, NULL) ||
            one_int(db, "PRAGMA page_size", 0, 0, &psize, NULL, NULL) ||
            (uint64_t)((pages - freel) * psize) > lim->max_bytes)
            over = 1;
    }
out:
    rc__rconn_put(st, c);
    return over;
}

int rc_store_retain(rc_store *st, const rc_retention_limits *lim, uint64_t *trimmed, rc_err *err) {
    if (trimmed) *trimmed = 0;
    if (!st || !lim) return rc_err_set(err, RC_INVALID, "retention: no store or limits");
    if (!lim->max_age_ms && !lim->max_events && !lim->max_bytes) return RC_OK;
    if (!over_limit(st, lim, rc__now_ms())) return RC_OK;
    trim_ctx c = {.st = st, .lim = lim, .now_ms = rc__now_ms()};
    uint64_t total = 0;
    for (;;) {
        int rc = rc_store_txn(st, trim_fn, &c, err);
        if (rc != RC_OK) {
            if (trimmed) *trimmed = total;
            return rc;
        }
        total += c.trimmed;
        if (!c.more || c.trimmed == 0) break;
    }
    if (trimmed) *trimmed = total;
    return RC_OK;
}

/* ---- the runner ------------------------------------------------------------------ */

struct rc_retention {
    rc_store *st;
    rc_config *cfg;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                 /* (mu) */
    _Atomic uint64_t passes, trimmed;
};

static void limits_of(rc_config *cfg, rc_retention_limits *l) {
    l->max_age_ms = rc_config_int(cfg, "retention-max-age");
    l->max_events = (uint64_t)rc_config_int(cfg, "retention-max-events");
    l->max_bytes = (uint64_t)rc_config_int(cfg, "retention-max-bytes");
}

static void *runner_main(void *arg) {
    rc_retention *r = arg;
    uint64_t first = 0;       /* earliest seq as of the last pass (0: unknown) */
    int64_t next_full = 0;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += QUICK_CHECK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->stop) break;
        pthread_mutex_unlock(&r->mu);
        rc_retention_limits lim;
        limits_of(r->cfg, &lim);
        int64_t now = rc__now_ms();
        uint64_t head = atomic_load(&r->st->pub_head);
        /* The count check without SQL: a pass when the log may be over. */
        int due = lim.max_events && head >= lim.max_events && (first == 0 || head - first + 1 > lim.max_events);
        if (now >= next_full) {
            next_full = now + rc_config_int(r->cfg, "retention-interval");
            due |= lim.max_age_ms > 0 || lim.max_bytes > 0 || lim.max_events > 0;
        }
        if (due) {
            rc_err err;
            rc_err_clear(&err);
            uint64_t n = 0;
            int rc = rc_store_retain(r->st, &lim, &n, &err);
            if (n) {
                atomic_fetch_add(&r->passes, 1);
                atomic_fetch_add(&r->trimmed, n);
                RC_DEBUG("retention", "trimmed %" PRIu64 " events", n);
            }
            if (rc != RC_OK && rc != RC_SHUTDOWN)
                RC_WARN("retention", "trimming the log failed: %s", rc_err_msg(&err));
            rc__rconn *c = rc__rconn_get(r->st);
            if (rc__log_first(c->db, &first, NULL) != RC_OK) first = 0;
            rc__rconn_put(r->st, c);
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int rc_retention_start(rc_retention **out, rc_store *st, rc_config *cfg, rc_err *err) {
    *out = NULL;
    rc_retention *r = calloc(1, sizeof *r);
    if (!r) return rc_err_set(err, RC_NOMEM, "out of memory");
    r->st = st;
    r->cfg = cfg;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->th, NULL, runner_main, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r);
        return rc_err_set(err, RC_NOMEM, "retention: cannot start its thread");
    }
    *out = r;
    return RC_OK;
}

void rc_retention_stop(rc_retention *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void rc_retention_stats_get(rc_retention *r, rc_retention_stats *out) {
    memset(out, 0, sizeof *out);
    if (!r) return;
    out->passes = atomic_load(&r->passes);
    out->trimmed = atomic_load(&r->trimmed);
}
