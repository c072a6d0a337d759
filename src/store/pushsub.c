/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stored push subscriptions (redcar/pushsub.h): table push_subscriptions of
 * schema v3, changed together with the subscription's durable consumer.
 *
 * Changes are transaction functions (rc_store_txn) that run on the writer
 * thread and use the writer's connection directly, like consumer.c: their
 * statements are prepared per call and finalized before they return, and
 * the consumer half goes through consumer.h's rc_consumer_txn_* steps, so
 * row and consumer commit or roll back together. Reads use the read pool.
 *
 * Trust boundary: the push module validated ids and documents; this file
 * only refuses empty or oversized strings.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/pushsub.h"
#include "store/store_int.h"

/* The text of schemas/store_v3.sql (migration v3), for store.c. */
static const char schema_v3_sql[] = {
#include "store_schema_v3.inc"
};

const char *rc__store_schema_v3(void);
const char *rc__store_schema_v3(void) { return schema_v3_sql; }

static int check_str(const char *what, const char *s, size_t max, rc_err *err) {
    if (!s || !*s) return rc_err_set(err, RC_INVALID, "%s: required", what);
    if (strlen(s) > max) return rc_err_set(err, RC_INVALID, "%s: longer than %zu bytes", what, max);
    return RC_OK;
}

/* One statement on the writer's connection (inside a transaction function
 * only): prepared, bound by the caller through bind(), stepped once. */
typedef struct wstmt {
    sqlite3 *db;
    sqlite3_stmt *s;
} wstmt;

static int wprep(wstmt *w, rc_store *st, const char *sql, rc_err *err) {
    w->db = st->wdb;
    int rc = sqlite3_prepare_v2(w->db, sql, -1, &w->s, NULL);
    if (rc != SQLITE_OK) return rc__sqlite_err(w->db, rc, err, "push subscription: preparing");
    return RC_OK;
}

/* SQLITE_ROW / SQLITE_DONE, or an rc_status error set in err (negative
 * return so it cannot be mistaken for a row). */
static int wstep(wstmt *w, rc_err *err, const char *what) {
    int rc = sqlite3_step(w->s);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    rc__sqlite_err(w->db, rc, err, what);
    return -1;
}

static void wdone(wstmt *w) {
    sqlite3_finalize(w->s);
    w->s = NULL;
}

/* ---- create / delete ---------------------------------------------------- */

typedef struct create_ctx {
    rc_store *st;
    const char *id;
    const rc_consumer_opts *c;
    const char *doc;
} create_ctx;

static int create_fn(rc_txn *tx, void *arg, rc_err *err) {
    create_ctx *c = arg;
    wstmt w = {0};
    int rc = wprep(&w, c->st, "SELECT 1 FROM push_subscriptions WHERE id=?1 OR consumer=?2", err);
    if (rc) return rc;
    sqlite3_bind_text(w.s, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(w.s, 2, c->c->name, -1, SQLITE_STATIC);
    int r = wstep(&w, err, "push subscription: reading");
    wdone(&w);
    if (r < 0) return err->code;
    if (r == SQLITE_ROW)
        return rc_err_set(err, RC_CONFLICT, "a subscription with id %s already exists", c->id);
    if ((rc = rc_consumer_txn_create(c->st, tx, c->c, err))) return rc;
    if ((rc = wprep(&w, c->st,
                    "INSERT INTO push_subscriptions(id,consumer,doc,created_ms) VALUES(?1,?2,?3,?4)",
                    err)))
        return rc;
    sqlite3_bind_text(w.s, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(w.s, 2, c->c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(w.s, 3, c->doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w.s, 4, rc_txn_now_ms(tx));
    r = wstep(&w, err, "push subscription: creating");
    wdone(&w);
    return r < 0 ? err->code : RC_OK;
}

int rc_pushsub_create(rc_store *st, const char *id, const rc_consumer_opts *c, const char *doc,
                      rc_err *err) {
    rc_err local;
    if (!err) err = &local; /* the steps below read err->code */
    int rc;
    if (!st || !c) return rc_err_set(err, RC_INVALID, "push subscription: no store or consumer");
    if ((rc = check_str("id", id, RC_PUSHSUB_ID_MAX, err)) ||
        (rc = check_str("document", doc, RC_PUSHSUB_DOC_MAX, err)))
        return rc;
    create_ctx cc = {st, id, c, doc};
    return rc_store_txn(st, create_fn, &cc, err);
}

typedef struct id_ctx {
    rc_store *st;
    const char *id;
} id_ctx;

static int delete_fn(rc_txn *tx, void *arg, rc_err *err) {
    id_ctx *c = arg;
    wstmt w = {0};
    int rc = wprep(&w, c->st, "SELECT consumer FROM push_subscriptions WHERE id=?1", err);
    if (rc) return rc;
    sqlite3_bind_text(w.s, 1, c->id, -1, SQLITE_STATIC);
    int r = wstep(&w, err, "push subscription: reading");
    char *consumer = r == SQLITE_ROW ? strdup((const char *)sqlite3_column_text(w.s, 0)) : NULL;
    wdone(&w);
    if (r < 0) return err->code;
    if (r == SQLITE_DONE) return rc_err_set(err, RC_NOT_FOUND, "no subscription with id %s", c->id);
    if (!consumer) return rc_err_set(err, RC_NOMEM, "out of memory");
    /* A consumer already deleted on its own (DELETE /cursors/...) is no
     * reason to keep the row. */
    rc = rc_consumer_txn_delete(c->st, tx, consumer, err);
    free(consumer);
    if (rc && rc != RC_NOT_FOUND) return rc;
    rc_err_clear(err);
    if ((rc = wprep(&w, c->st, "DELETE FROM push_subscriptions WHERE id=?1", err))) return rc;
    sqlite3_bind_text(w.s, 1, c->id, -1, SQLITE_STATIC);
    r = wstep(&w, err, "push subscription: deleting");
    wdone(&w);
    return r < 0 ? err->code : RC_OK;
}

int rc_pushsub_delete(rc_store *st, const char *id, rc_err *err) {
    rc_err local;
    if (!err) err = &local; /* the steps below read err->code */
    int rc = check_str("id", id, RC_PUSHSUB_ID_MAX, err);
    if (rc) return rc;
    id_ctx c = {st, id};
    return rc_store_txn(st, delete_fn, &c, err);
}

/* ---- reads -------------------------------------------------------------- */

#define READ_SQL                                                                          \
    "SELECT id,consumer,doc,created_ms,"                                                  \
    "EXISTS(SELECT 1 FROM consumers c WHERE c.name=p.consumer) FROM push_subscriptions p"

static int read_rows(rc_store *st, const char *id, rc_pushsub_fn fn, void *arg, rc_err *err) {
    rc__rconn *c = rc__rconn_get(st);
    sqlite3_stmt *s;
    int rc = rc__rconn_stmt(c, id ? READ_SQL " WHERE id=?1" : READ_SQL " ORDER BY id", &s, err);
    size_t found = 0;
    if (rc == RC_OK) {
        if (id) sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            rc_pushsub p = {
                .id = (const char *)sqlite3_column_text(s, 0),
                .consumer = (const char *)sqlite3_column_text(s, 1),
                .doc = (const char *)sqlite3_column_text(s, 2),
                .created_ms = sqlite3_column_int64(s, 3),
                .has_consumer = sqlite3_column_int(s, 4),
            };
            found++;
            if (fn && fn(&p, arg)) break;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = rc__sqlite_err(c->db, r, err, "push subscription: reading");
        sqlite3_reset(s);
    }
    rc__rconn_put(st, c);
    if (rc == RC_OK && id && !found) rc = rc_err_set(err, RC_NOT_FOUND, "no subscription with id %s", id);
    return rc;
}

int rc_pushsub_get(rc_store *st, const char *id, rc_pushsub_fn fn, void *arg, rc_err *err) {
    rc_err local;
    if (!err) err = &local; /* the steps below read err->code */
    int rc = check_str("id", id, RC_PUSHSUB_ID_MAX, err);
    return rc ? rc : read_rows(st, id, fn, arg, err);
}

int rc_pushsub_list(rc_store *st, rc_pushsub_fn fn, void *arg, rc_err *err) {
    rc_err local;
    if (!err) err = &local; /* the steps below read err->code */
    return read_rows(st, NULL, fn, arg, err);
}

/* ---- dead letters ------------------------------------------------------- */

typedef struct dl_ctx {
    rc_store *st;
    const char *consumer;
    uint64_t seq;
    uint32_t deliveries;
    const char *reason;
    uint64_t dl_seq;
} dl_ctx;

/* Append "name":<JSON string of s> to out. */
static int put_str(rc_buf *out, const char *name, const char *s) {
    cJSON *j = cJSON_CreateString(s ? s : "");
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!t) return RC_NOMEM;
    rc_buf_printf(out, "\"%s\":%s", name, t);
    cJSON_free(t);
    return RC_OK;
}

static int dead_letter_fn(rc_txn *tx, void *arg, rc_err *err) {
    dl_ctx *c = arg;
    wstmt w = {0};
    rc_buf data = RC_BUF_INIT, src = RC_BUF_INIT;
    rc_event *ev = NULL;
    int rc = wprep(&w, c->st, "SELECT created_ms FROM consumers WHERE name=?1", err);
    if (rc) return rc;
    sqlite3_bind_text(w.s, 1, c->consumer, -1, SQLITE_STATIC);
    int r = wstep(&w, err, "push subscription: reading the consumer");
    int64_t created = r == SQLITE_ROW ? sqlite3_column_int64(w.s, 0) : 0;
    wdone(&w);
    if (r < 0) return err->code;
    if (r == SQLITE_DONE) return rc_err_set(err, RC_NOT_FOUND, "no consumer named %s", c->consumer);

    rc_buf_putc(&data, '{');
    if (put_str(&data, "consumer", c->consumer)) goto nomem;
    rc_buf_printf(&data, ",\"seq\":%" PRIu64 ",\"deliveries\":%" PRIu32 ",", c->seq, c->deliveries);
    if (put_str(&data, "reason", c->reason)) goto nomem;
    if ((rc = wprep(&w, c->st, "SELECT type,source,id FROM events WHERE seq=?1", err))) goto done;
    sqlite3_bind_int64(w.s, 1, (sqlite3_int64)c->seq);
    r = wstep(&w, err, "push subscription: reading the event");
    if (r == SQLITE_ROW) {
        /* The original's identity, as the consumer's dead letters give it. */
        static const char *const keys[] = {"type", "source", "id"};
        rc_buf_puts(&data, ",\"event\":{");
        for (int i = 0; i < 3; i++) {
            if (i) rc_buf_putc(&data, ',');
            if (put_str(&data, keys[i], (const char *)sqlite3_column_text(w.s, i))) {
                wdone(&w);
                goto nomem;
            }
        }
        rc_buf_putc(&data, '}');
    }
    wdone(&w);
    if (r < 0) {
        rc = err->code;
        goto done;
    }
    rc_buf_putc(&data, '}');
    char id[64], seqs[24];
    snprintf(id, sizeof id, "%" PRId64 "-%" PRIu64, created, c->seq);
    snprintf(seqs, sizeof seqs, "%" PRIu64, c->seq);
    rc_buf_printf(&src, "/redcar/consumers/%s", c->consumer);
    if (!(ev = rc_event_new()) || rc_event_set(ev, "specversion", "1.0") ||
        rc_event_set(ev, "id", id) || rc_event_set(ev, "source", src.p) ||
        rc_event_set(ev, "type", RC_DEADLETTER_TYPE) || rc_event_set(ev, "subject", c->consumer) ||
        rc_event_set_ext_string(ev, "originalseq", RC_EXT_STRING, seqs) ||
        rc_event_set_data(ev, "application/json", data.p, data.len, RC_DATA_JSON)) {
        rc_event_free(ev);
        goto nomem;
    }
    rc_append_item item;
    if ((rc = rc_txn_append(tx, ev, &item, err))) goto done; /* owns ev */
    c->dl_seq = item.seq;
    size_t acked = 0;
    if ((rc = rc_consumer_txn_ack(c->st, tx, c->consumer, &c->seq, 1, &acked, err))) goto done;
    if (acked == 0) {
        /* Finished meanwhile: returning an error rolls the dead letter back. */
        rc = rc_err_set(err, RC_CONFLICT, "seq %" PRIu64 " is not pending for %s", c->seq,
                        c->consumer);
        goto done;
    }
    /* The ack counted the event as acknowledged; it was dead-lettered. */
    if ((rc = wprep(&w, c->st, "UPDATE consumers SET acked=acked-?2,dead=dead+?2 WHERE name=?1",
                    err)))
        goto done;
    sqlite3_bind_text(w.s, 1, c->consumer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w.s, 2, (sqlite3_int64)acked);
    r = wstep(&w, err, "push subscription: counting a dead letter");
    wdone(&w);
    rc = r < 0 ? err->code : RC_OK;
    goto done;
nomem:
    rc = rc_err_set(err, RC_NOMEM, "out of memory");
done:
    rc_buf_free(&data);
    rc_buf_free(&src);
    return rc;
}

int rc_pushsub_dead_letter(rc_store *st, const char *consumer, uint64_t seq, uint32_t deliveries,
                           const char *reason, uint64_t *dl_seq, rc_err *err) {
    rc_err local;
    if (!err) err = &local; /* the steps below read err->code */
    int rc = check_str("consumer", consumer, RC_CONSUMER_NAME_MAX, err);
    if (rc) return rc;
    if (seq == 0 || seq > (uint64_t)INT64_MAX)
        return rc_err_set(err, RC_INVALID, "seq: must be a positive sequence number");
    dl_ctx c = {st, consumer, seq, deliveries, reason ? reason : "", 0};
    rc = rc_store_txn(st, dead_letter_fn, &c, err);
    if (rc == RC_OK && dl_seq) *dl_seq = c.dl_seq;
    return rc;
}
