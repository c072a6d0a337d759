/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the log: a pool of read connections shared by all threads, and
 * the scans (by seq, subject, subject prefix, type, source, time), single
 * events and the history of a key.
 *
 * Every read runs in one read transaction (WAL snapshot), so a scan never
 * sees half of a group commit. Queries are shaped so that SQLite serves them
 * from an index (tests/unit/test_store_read.c checks the query plans).
 * Callbacks run while a pooled connection is held: they must not call back
 * into the store's read functions more than read_conns deep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- pool --------------------------------------------------------------- */

int rc__rpool_open(rc_store *st, rc_err *err) {
    st->rconns = calloc((size_t)st->opts.read_conns, sizeof *st->rconns);
    if (!st->rconns) return rc_err_set(err, RC_NOMEM, "out of memory");
    st->n_rconns = st->opts.read_conns;
    for (int i = 0; i < st->n_rconns; i++) {
        rc__rconn *c = &st->rconns[i];
        int rc = sqlite3_open_v2(st->db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                 NULL);
        if (rc != SQLITE_OK) return rc__sqlite_err(c->db, rc, err, "opening read connection");
        sqlite3_busy_timeout(c->db, 5000);
        /* Read-only by construction: the writer thread is the only writer. */
        rc = sqlite3_exec(c->db, "PRAGMA query_only=1", NULL, NULL, NULL);
        if (rc != SQLITE_OK) return rc__sqlite_err(c->db, rc, err, "opening read connection");
    }
    return RC_OK;
}

void rc__rpool_close(rc_store *st) {
    for (int i = 0; st->rconns && i < st->n_rconns; i++) {
        rc__rconn *c = &st->rconns[i];
        for (size_t k = 0; k < sizeof c->cache / sizeof c->cache[0]; k++) {
            sqlite3_finalize(c->cache[k].st);
            free(c->cache[k].sql);
        }
        if (c->db) sqlite3_close(c->db);
    }
    free(st->rconns);
    st->rconns = NULL;
    st->n_rconns = 0;
}

rc__rconn *rc__rconn_get(rc_store *st) {
    pthread_mutex_lock(&st->rmu);
    for (;;) {
        for (int i = 0; i < st->n_rconns; i++) {
            if (!st->rconns[i].busy) {
                st->rconns[i].busy = 1;
                pthread_mutex_unlock(&st->rmu);
                return &st->rconns[i];
            }
        }
        pthread_cond_wait(&st->rcv, &st->rmu);
    }
}

void rc__rconn_put(rc_store *st, rc__rconn *c) {
    pthread_mutex_lock(&st->rmu);
    c->busy = 0;
    pthread_cond_signal(&st->rcv);
    pthread_mutex_unlock(&st->rmu);
}

int rc__rconn_stmt(rc__rconn *c, const char *sql, sqlite3_stmt **out, rc_err *err) {
    size_t n = sizeof c->cache / sizeof c->cache[0], victim = 0;
    c->tick++;
    for (size_t i = 0; i < n; i++) {
        if (c->cache[i].sql && strcmp(c->cache[i].sql, sql) == 0) {
            c->cache[i].used = c->tick;
            sqlite3_reset(c->cache[i].st);
            sqlite3_clear_bindings(c->cache[i].st);
            *out = c->cache[i].st;
            return RC_OK;
        }
        if (c->cache[i].used < c->cache[victim].used) victim = i;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) return rc__sqlite_err(c->db, rc, err, "preparing query");
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(s);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    sqlite3_finalize(c->cache[victim].st);
    free(c->cache[victim].sql);
    c->cache[victim].sql = copy;
    c->cache[victim].st = s;
    c->cache[victim].used = c->tick;
    *out = s;
    return RC_OK;
}

int rc__rconn_exec(rc__rconn *c, const char *sql, rc_err *err) {
    sqlite3_stmt *s;
    int rc = rc__rconn_stmt(c, sql, &s, err);
    if (rc) return rc;
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE && r != SQLITE_ROW) return rc__sqlite_err(c->db, r, err, sql);
    return RC_OK;
}

/* A read transaction on a pooled connection: one snapshot for the whole
 * read. */
rc__rconn *rc__rconn_begin(rc_store *st, rc_err *err, int *rc) {
    rc__rconn *c = rc__rconn_get(st);
    if ((*rc = rc__rconn_exec(c, "BEGIN", err)) != RC_OK) {
        rc__rconn_put(st, c);
        return NULL;
    }
    return c;
}

void rc__rconn_end(rc_store *st, rc__rconn *c) {
    rc__rconn_exec(c, "COMMIT", NULL);
    rc__rconn_put(st, c);
}

static int first_seq(rc__rconn *c, uint64_t *out, rc_err *err) {
    sqlite3_stmt *s;
    int rc = rc__rconn_stmt(c, "SELECT min(seq) FROM events", &s, err);
    if (rc) return rc;
    int r = sqlite3_step(s);
    *out = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (r != SQLITE_ROW) return rc__sqlite_err(c->db, r, err, "reading first seq");
    return RC_OK;
}

/* RC_TRIMMED when `want` is older than the oldest stored event after
 * retention removed the front of the log. */
static int check_trimmed(rc__rconn *c, uint64_t want, rc_err *err) {
    uint64_t first;
    int rc = first_seq(c, &first, err);
    if (rc) return rc;
    if (first > 1 && want < first)
        return rc_err_set(err, RC_TRIMMED,
                          "seq %llu is no longer stored (retention); the earliest stored seq is %llu",
                          (unsigned long long)want, (unsigned long long)first);
    return RC_OK;
}

#define ROW_COLS "seq,payload,type,source,id,subject,time_ms"

void rc__stored_row(sqlite3_stmt *s, rc_stored *row) {
    row->seq = (uint64_t)sqlite3_column_int64(s, 0);
    row->json = (const char *)sqlite3_column_text(s, 1);
    row->json_len = (size_t)sqlite3_column_bytes(s, 1);
    row->type = (const char *)sqlite3_column_text(s, 2);
    row->source = (const char *)sqlite3_column_text(s, 3);
    row->id = (const char *)sqlite3_column_text(s, 4);
    row->subject = (const char *)sqlite3_column_text(s, 5);
    row->time_ms = sqlite3_column_int64(s, 6);
}

/* Step s and hand each row to fn; returns RC_OK or a read error. */
static int emit_rows(rc__rconn *c, sqlite3_stmt *s, rc_stored_fn fn, void *arg, size_t *count,
                     rc_err *err) {
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc_stored row;
        rc__stored_row(s, &row);
        if (count) (*count)++;
        if (fn(&row, arg)) {
            r = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE) return rc__sqlite_err(c->db, r, err, "reading the log");
    return RC_OK;
}

int rc__prefix_end(const char *prefix, char *out) {
    size_t n = strlen(prefix);
    memcpy(out, prefix, n + 1);
    while (n > 0) {
        unsigned char b = (unsigned char)out[n - 1];
        if (b != 0xFF) {
            out[n - 1] = (char)(b + 1);
            out[n] = '\0';
            return 1;
        }
        out[--n] = '\0';
    }
    return 0;
}

static uint64_t scan_lo(const rc_query *q) {
    uint64_t lo = q->from;
    if (q->after && q->after + 1 > lo) lo = q->after + 1;
    return lo;
}

/* A prefix has an upper bound unless it is empty or all 0xFF bytes. */
static int prefix_bounded(const char *p) {
    for (; *p; p++)
        if ((unsigned char)*p != 0xFF) return 1;
    return 0;
}

/* Fixed parameter numbers; only the filters present appear in the SQL, so
 * each shape is one cached statement. */
void rc__scan_sql(const rc_query *q, char *sql, size_t n) {
    snprintf(sql, n,
             "SELECT " ROW_COLS " FROM events WHERE 1%s%s%s%s%s%s%s%s%s ORDER BY seq%s%s",
             scan_lo(q) ? " AND seq>=?1" : "", q->to ? " AND seq<=?2" : "",
             q->type ? " AND type=?3" : "", q->source ? " AND source=?4" : "",
             q->subject ? " AND subject=?5" : "", q->subject_prefix ? " AND subject>=?6" : "",
             q->subject_prefix && prefix_bounded(q->subject_prefix) ? " AND subject<?7" : "",
             q->since_ms ? " AND time_ms>=?8" : "", q->until_ms ? " AND time_ms<?9" : "",
             q->desc ? " DESC" : "", q->limit ? " LIMIT ?10" : "");
}

/* The end of q's subject prefix (*pend malloc'ed, *bounded 0 if the
 * prefix has none), for subject<?7. */
static int prefix_end_of(const rc_query *q, char **pend, int *bounded, rc_err *err) {
    if (!q->subject_prefix) return RC_OK;
    *pend = malloc(strlen(q->subject_prefix) + 1);
    if (!*pend) return rc_err_set(err, RC_NOMEM, "out of memory");
    *bounded = rc__prefix_end(q->subject_prefix, *pend);
    return RC_OK;
}

void rc__scan_bind(sqlite3_stmt *s, const rc_query *q, const char *pend) {
    uint64_t lo = scan_lo(q);
    if (lo) sqlite3_bind_int64(s, 1, (sqlite3_int64)lo);
    if (q->to) sqlite3_bind_int64(s, 2, (sqlite3_int64)q->to);
    if (q->type) sqlite3_bind_text(s, 3, q->type, -1, SQLITE_STATIC);
    if (q->source) sqlite3_bind_text(s, 4, q->source, -1, SQLITE_STATIC);
    if (q->subject) sqlite3_bind_text(s, 5, q->subject, -1, SQLITE_STATIC);
    if (q->subject_prefix) sqlite3_bind_text(s, 6, q->subject_prefix, -1, SQLITE_STATIC);
    if (pend) sqlite3_bind_text(s, 7, pend, -1, SQLITE_STATIC);
    if (q->since_ms) sqlite3_bind_int64(s, 8, q->since_ms);
    if (q->until_ms) sqlite3_bind_int64(s, 9, q->until_ms);
}

int rc_store_scan(rc_store *st, const rc_query *q, rc_stored_fn fn, void *arg, rc_err *err) {
    if (!st || !q || !fn) return rc_err_set(err, RC_INVALID, "scan: missing argument");
    uint64_t lo = scan_lo(q);
    int rc;
    char *pend = NULL;
    int has_pend = 0;
    if ((rc = prefix_end_of(q, &pend, &has_pend, err))) return rc;
    char sql[512];
    rc__scan_sql(q, sql, sizeof sql);
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) {
        free(pend);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    if (lo) rc = check_trimmed(c, lo, err);
    if (!rc) rc = rc__rconn_stmt(c, sql, &s, err);
    if (!rc) {
        rc__scan_bind(s, q, has_pend ? pend : NULL);
        if (q->limit) sqlite3_bind_int64(s, 10, q->limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)q->limit);
        rc = emit_rows(c, s, fn, arg, NULL, err);
    }
    rc__rconn_end(st, c);
    free(pend);
    return rc;
}

int rc_store_count(rc_store *st, const rc_query *q, uint64_t *count, rc_err *err) {
    if (!st || !q || !count) return rc_err_set(err, RC_INVALID, "count: missing argument");
    *count = 0;
    uint64_t lo = scan_lo(q);
    int rc;
    char *pend = NULL;
    int has_pend = 0;
    if ((rc = prefix_end_of(q, &pend, &has_pend, err))) return rc;
    /* Same filters and parameter numbers as rc__scan_sql. "+subject" keeps
     * the planner (no ANALYZE statistics) on the type index when both are
     * given; a subject alone is served by events_subject (subject, seq),
     * which covers the count. */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE 1%s%s%s%s%s%s%s%s%s",
             lo ? " AND seq>=?1" : "", q->to ? " AND seq<=?2" : "", q->type ? " AND type=?3" : "",
             q->source ? " AND source=?4" : "",
             q->subject ? (q->type ? " AND +subject=?5" : " AND subject=?5") : "",
             q->subject_prefix ? " AND subject>=?6" : "", has_pend ? " AND subject<?7" : "",
             q->since_ms ? " AND time_ms>=?8" : "", q->until_ms ? " AND time_ms<?9" : "");
    rc__rconn *c = rc__rconn_get(st);
    sqlite3_stmt *s = NULL;
    rc = rc__rconn_stmt(c, sql, &s, err);
    if (!rc) {
        rc__scan_bind(s, q, has_pend ? pend : NULL);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) *count = (uint64_t)sqlite3_column_int64(s, 0);
        else rc = rc__sqlite_err(c->db, r, err, "counting the log");
        sqlite3_reset(s);
    }
    rc__rconn_put(st, c);
    free(pend);
    return rc;
}

int rc_store_get(rc_store *st, uint64_t seq, rc_stored_fn fn, void *arg, rc_err *err) {
    if (!st || !fn) return rc_err_set(err, RC_INVALID, "get: missing argument");
    if (seq == 0) return rc_err_set(err, RC_INVALID, "seq must be >= 1");
    int rc;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    sqlite3_stmt *s;
    size_t n = 0;
    if (!(rc = check_trimmed(c, seq, err)) &&
        !(rc = rc__rconn_stmt(c, "SELECT " ROW_COLS " FROM events WHERE seq=?1", &s, err))) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
        rc = emit_rows(c, s, fn, arg, &n, err);
        if (!rc && n == 0) rc = rc_err_set(err, RC_NOT_FOUND, "no event with seq %llu", (unsigned long long)seq);
    }
    rc__rconn_end(st, c);
    return rc;
}

int rc_store_kv_history(rc_store *st, const char *key, size_t limit, rc_stored_fn fn, void *arg,
                        rc_err *err) {
    if (!st || !key || !fn) return rc_err_set(err, RC_INVALID, "history: missing argument");
    int rc;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    sqlite3_stmt *s;
    if (!(rc = rc__rconn_stmt(c,
                              RC__HISTORY_SQL, &s, err))) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, limit ? (sqlite3_int64)limit : -1);
        rc = emit_rows(c, s, fn, arg, NULL, err);
    }
    rc__rconn_end(st, c);
    return rc;
}

/* A skip scan over events_subject: the next subject is one seek past the
 * previous one, and its newest event one more seek (the index ends with
 * seq), so the walk never visits a subject's other events. */
int rc_store_subjects(rc_store *st, const char *from, int excl, const char *below, size_t limit,
                      const char *json_type, rc_stored_fn fn, void *arg, rc_err *err) {
    if (!st || !fn) return rc_err_set(err, RC_INVALID, "subjects: missing argument");
    static const char *const sql[2] = {RC__SUBJECTS_SQL(">="), RC__SUBJECTS_SQL(">")};
    int rc;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    char *at = strdup(from ? from : "");
    if (!at) {
        rc__rconn_end(st, c);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    int ex = from ? excl : 0; /* "" is below every subject: >= "" is all of them */
    for (size_t n = 0; !limit || n < limit; n++) {
        sqlite3_stmt *s;
        if ((rc = rc__rconn_stmt(c, sql[ex], &s, err))) break;
        sqlite3_bind_text(s, 1, at, -1, SQLITE_TRANSIENT);
        if (json_type) sqlite3_bind_text(s, 2, json_type, -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r != SQLITE_ROW) {
            sqlite3_reset(s);
            if (r != SQLITE_DONE) rc = rc__sqlite_err(c->db, r, err, "walking the subjects");
            break;
        }
        rc_stored row;
        rc__stored_row(s, &row);
        if (!row.subject || (below && strcmp(row.subject, below) >= 0)) {
            sqlite3_reset(s);
            break;
        }
        char *next = strdup(row.subject);
        int stop = !next || fn(&row, arg);
        sqlite3_reset(s);
        free(at);
        at = next;
        ex = 1;
        if (!next) rc = rc_err_set(err, RC_NOMEM, "out of memory");
        if (stop) break;
    }
    free(at);
    rc__rconn_end(st, c);
    return rc;
}
