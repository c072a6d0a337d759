/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying the reserved io.redcar.kv.* events to the KV view, on the writer
 * thread, inside the transaction that stores the event.
 *
 * Rules (kvread.c replays the same rules for as-of reads, keep them in
 * step): a key whose expiry has passed counts as absent; an event that
 * changes an existing key sets mod_seq to its seq and bumps version; one
 * that creates a key sets create_seq = mod_seq = seq, version = 1; an event
 * that changes nothing (delete of a missing key, pop of an empty list)
 * leaves the metadata alone. Hash/list operations on a key of another kind
 * fail the request with RC_WRONGTYPE; put replaces any kind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int rc__is_kv_type(const char *type) {
    return strncmp(type, RC_KV_PREFIX, RC_KV_PREFIX_LEN) == 0;
}

typedef struct kvrow {
    int exists;
    int kind;
    int64_t size, create_seq, version, expire_ms;
} kvrow;

static int step_done(rc_store *st, sqlite3_stmt *s, rc_err *err, const char *what) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return rc__sqlite_err(st->wdb, rc, err, what);
    return RC_OK;
}

static int by_key(rc_store *st, int which, const char *key, rc_err *err) {
    sqlite3_stmt *s = st->ws[which];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return step_done(st, s, err, "updating KV view");
}

static int drop_key(rc_store *st, const char *key, rc_err *err) {
    int rc;
    if ((rc = by_key(st, WS_KV_DEL, key, err)) || (rc = by_key(st, WS_HASH_CLEAR, key, err)) ||
        (rc = by_key(st, WS_LIST_CLEAR, key, err)))
        return rc;
    return RC_OK;
}

/* The row of key; an expired row is removed here (lazily) and reported
 * absent, exactly as a read would see it. */
static int load(rc_store *st, const char *key, kvrow *row, rc_err *err) {
    sqlite3_stmt *s = st->ws[WS_KV_GET];
    memset(row, 0, sizeof *row);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        row->exists = 1;
        row->kind = sqlite3_column_int(s, 0);
        row->size = sqlite3_column_int64(s, 3);
        row->create_seq = sqlite3_column_int64(s, 4);
        row->version = sqlite3_column_int64(s, 6);
        row->expire_ms = sqlite3_column_int64(s, 7);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc__sqlite_err(st->wdb, rc, err, "reading KV view");
    if (row->exists && row->expire_ms > 0 && row->expire_ms <= st->now_ms) {
        memset(row, 0, sizeof *row);
        return drop_key(st, key, err);
    }
    return RC_OK;
}

static int put_row(rc_store *st, const char *key, int kind, const void *val, size_t len,
                   const char *ctype, int64_t size, int64_t create, uint64_t seq, int64_t version,
                   int64_t expire, rc_err *err) {
    sqlite3_stmt *s = st->ws[WS_KV_PUT];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, kind);
    if (kind == RC_KV_STRING) sqlite3_bind_blob(s, 3, val ? val : "", (int)len, SQLITE_STATIC);
    else sqlite3_bind_null(s, 3);
    if (ctype) sqlite3_bind_text(s, 4, ctype, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 4);
    sqlite3_bind_int64(s, 5, size);
    sqlite3_bind_int64(s, 6, create);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)seq);
    sqlite3_bind_int64(s, 8, version);
    sqlite3_bind_int64(s, 9, expire);
    return step_done(st, s, err, "updating KV view");
}

static int touch(rc_store *st, const char *key, int64_t size, uint64_t seq, rc_err *err) {
    sqlite3_stmt *s = st->ws[WS_KV_TOUCH];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, size);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)seq);
    return step_done(st, s, err, "updating KV view");
}

/* `expires` (Timestamp) -> ms; 0 when absent. */
int rc__kv_expires(const rc_event *ev, int64_t *out, rc_err *err) {
    const rc_ext *x = rc_event_ext(ev, "expires");
    *out = 0;
    if (!x) return RC_OK;
    if (!x->s || rc_time_parse(x->s, out) != RC_OK)
        return rc_err_set(err, RC_INVALID, "expires: must be an RFC 3339 timestamp");
    if (*out <= 0) *out = 1; /* before 1970: already expired, but 0 means "never" */
    return RC_OK;
}

int rc__kv_ext_bool(const rc_event *ev, const char *name) {
    const rc_ext *x = rc_event_ext(ev, name);
    if (!x) return 0;
    if (x->type == RC_EXT_BOOL) return x->b;
    return x->s && strcmp(x->s, "true") == 0;
}

/* Integer extension (Integer or decimal string); def when absent. */
int rc__kv_ext_int(const rc_event *ev, const char *name, int64_t def, int64_t *out, rc_err *err) {
    const rc_ext *x = rc_event_ext(ev, name);
    *out = def;
    if (!x) return RC_OK;
    if (x->type == RC_EXT_INT) {
        *out = x->i;
        return RC_OK;
    }
    char *end;
    if (x->s && *x->s) {
        long long v = strtoll(x->s, &end, 10);
        if (*end == '\0') {
            *out = v;
            return RC_OK;
        }
    }
    return rc_err_set(err, RC_INVALID, "%s: must be an integer", name);
}

typedef int (*kv_op_fn)(rc_store *st, const rc_event *ev, const char *key, uint64_t seq,
                        rc_err *err);

/* A put over a live string (SET of an existing key, INCR): one UPDATE in
 * place instead of a read and a delete + insert of the row. */
static int put_over_string(rc_store *st, const rc_event *ev, const char *key, uint64_t seq,
                           int64_t expire, int *done, rc_err *err) {
    sqlite3_stmt *s = st->ws[WS_KV_SETSTR];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, ev->data ? (const void *)ev->data : "", (int)ev->data_len, SQLITE_STATIC);
    if (ev->datacontenttype) sqlite3_bind_text(s, 3, ev->datacontenttype, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, (int64_t)ev->data_len);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)seq);
    sqlite3_bind_int64(s, 6, expire);
    sqlite3_bind_int(s, 7, rc__kv_ext_bool(ev, "keepttl"));
    sqlite3_bind_int64(s, 8, st->now_ms);
    int rc = step_done(st, s, err, "updating KV view");
    *done = rc == RC_OK && sqlite3_changes(st->wdb) == 1;
    return rc;
}

static int op_put(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    kvrow row = {0, 0, 0, 0, 0, 0};
    int64_t expire;
    int rc, done = 0;
    if ((rc = rc__kv_expires(ev, &expire, err)) ||
        (rc = put_over_string(st, ev, key, seq, expire, &done, err)) || done)
        return rc;
    /* absent, expired, or of another kind */
    if ((rc = load(st, key, &row, err))) return rc;
    if (row.exists && rc__kv_ext_bool(ev, "keepttl")) expire = row.expire_ms;
    if (row.exists && row.kind != RC_KV_STRING &&
        ((rc = by_key(st, WS_HASH_CLEAR, key, err)) || (rc = by_key(st, WS_LIST_CLEAR, key, err))))
        return rc;
    return put_row(st, key, RC_KV_STRING, ev->data, ev->data_len, ev->datacontenttype,
                   (int64_t)ev->data_len, row.exists ? row.create_seq : (int64_t)seq, seq,
                   row.exists ? row.version + 1 : 1, expire, err);
}

static int op_delete(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    (void)ev;
    (void)seq;
    kvrow row = {0, 0, 0, 0, 0, 0};
    int rc = load(st, key, &row, err);
    if (rc || !row.exists) return rc;
    return drop_key(st, key, err);
}

static int op_expire(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    kvrow row = {0, 0, 0, 0, 0, 0};
    int64_t expire;
    int rc;
    if ((rc = rc__kv_expires(ev, &expire, err)) || (rc = load(st, key, &row, err))) return rc;
    if (!row.exists) return RC_OK;
    sqlite3_stmt *s = st->ws[WS_KV_EXPIRE];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, expire);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)seq);
    return step_done(st, s, err, "updating KV view");
}

static int op_rename(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    const rc_ext *x = rc_event_ext(ev, "newkey");
    if (!x || !x->s || !*x->s)
        return rc_err_set(err, RC_INVALID, "rename: extension newkey (the new key) is required");
    const char *to = x->s;
    kvrow row, dst;
    int rc;
    if ((rc = load(st, key, &row, err))) return rc;
    if (!row.exists || strcmp(key, to) == 0) return RC_OK;
    if ((rc = load(st, to, &dst, err))) return rc;
    if (dst.exists && (rc = drop_key(st, to, err))) return rc;
    static const int moves[] = {WS_KV_MOVE, WS_HASH_MOVE, WS_LIST_MOVE};
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        sqlite3_stmt *s = st->ws[moves[i]];
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
        if (moves[i] == WS_KV_MOVE) sqlite3_bind_int64(s, 3, (sqlite3_int64)seq);
        if ((rc = step_done(st, s, err, "renaming key"))) return rc;
    }
    sqlite3_stmt *s = st->ws[WS_RENAME_LOG];
    sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    return step_done(st, s, err, "renaming key");
}

static int wrongtype(rc_err *err) {
    return rc_err_set(err, RC_WRONGTYPE, "%s", rc_strerror(RC_WRONGTYPE));
}

static int op_hset(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    rc__kvitems it;
    kvrow row = {0, 0, 0, 0, 0, 0};
    int rc = rc__kvjson_parse(ev->data, ev->data_len, 1, &it, err);
    if (!rc && it.n == 0) rc = rc_err_set(err, RC_INVALID, "hset: data must be a non-empty JSON object");
    if (!rc) rc = load(st, key, &row, err);
    if (!rc && row.exists && row.kind != RC_KV_HASH) rc = wrongtype(err);
    if (!rc && !row.exists)
        rc = put_row(st, key, RC_KV_HASH, NULL, 0, NULL, 0, (int64_t)seq, seq, 0, 0, err);
    int64_t size = row.exists ? row.size : 0;
    for (size_t i = 0; !rc && i + 1 < it.n; i += 2) {
        sqlite3_stmt *s = st->ws[WS_HASH_INS];
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, it.p[i], (int)it.len[i], SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, it.p[i + 1], (int)it.len[i + 1], SQLITE_STATIC);
        if ((rc = step_done(st, s, err, "hset"))) break;
        if (sqlite3_changes(st->wdb) == 1) {
            size++;
            continue;
        }
        s = st->ws[WS_HASH_UPD];
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, it.p[i], (int)it.len[i], SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, it.p[i + 1], (int)it.len[i + 1], SQLITE_STATIC);
        rc = step_done(st, s, err, "hset");
    }
    if (!rc) rc = touch(st, key, size, seq, err);
    rc__kvitems_free(&it);
    return rc;
}

static int op_hdel(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    rc__kvitems it;
    kvrow row = {0, 0, 0, 0, 0, 0};
    int rc = rc__kvjson_parse(ev->data, ev->data_len, 0, &it, err);
    if (!rc) rc = load(st, key, &row, err);
    if (!rc && row.exists && row.kind != RC_KV_HASH) rc = wrongtype(err);
    int64_t removed = 0;
    for (size_t i = 0; !rc && row.exists && i < it.n; i++) {
        sqlite3_stmt *s = st->ws[WS_HASH_DEL];
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, it.p[i], (int)it.len[i], SQLITE_STATIC);
        if (!(rc = step_done(st, s, err, "hdel"))) removed += sqlite3_changes(st->wdb);
    }
    if (!rc && removed) {
        if (row.size - removed <= 0) rc = drop_key(st, key, err);
        else rc = touch(st, key, row.size - removed, seq, err);
    }
    rc__kvitems_free(&it);
    return rc;
}

static int list_end(rc_store *st, const char *key, int tail, int64_t *pos, rc_err *err) {
    sqlite3_stmt *s = st->ws[tail ? WS_LIST_TAIL : WS_LIST_HEAD];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *pos = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc__sqlite_err(st->wdb, rc, err, "reading list");
    return RC_OK;
}

static int push(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, int right,
                rc_err *err) {
    rc__kvitems it;
    kvrow row = {0, 0, 0, 0, 0, 0};
    int64_t pos = 0;
    int rc = rc__kvjson_parse(ev->data, ev->data_len, 0, &it, err);
    if (!rc && it.n == 0)
        rc = rc_err_set(err, RC_INVALID, "%s: data must be a non-empty JSON array", right ? "rpush" : "lpush");
    if (!rc) rc = load(st, key, &row, err);
    if (!rc && row.exists && row.kind != RC_KV_LIST) rc = wrongtype(err);
    if (!rc && !row.exists)
        rc = put_row(st, key, RC_KV_LIST, NULL, 0, NULL, 0, (int64_t)seq, seq, 0, 0, err);
    if (!rc && row.exists) rc = list_end(st, key, right, &pos, err);
    for (size_t i = 0; !rc && i < it.n; i++) {
        if (row.exists || i > 0) pos += right ? 1 : -1;
        sqlite3_stmt *s = st->ws[WS_LIST_INS];
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, pos);
        sqlite3_bind_blob(s, 3, it.p[i], (int)it.len[i], SQLITE_STATIC);
        rc = step_done(st, s, err, "push");
    }
    if (!rc) rc = touch(st, key, row.size + (int64_t)it.n, seq, err);
    rc__kvitems_free(&it);
    return rc;
}

static int op_lpush(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    return push(st, ev, key, seq, 0, err);
}
static int op_rpush(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    return push(st, ev, key, seq, 1, err);
}

static int pop(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, int right,
               rc_err *err) {
    kvrow row = {0, 0, 0, 0, 0, 0};
    int64_t count, end;
    int rc;
    if ((rc = rc__kv_ext_int(ev, "count", 1, &count, err))) return rc;
    if (count < 0) return rc_err_set(err, RC_INVALID, "count: must be >= 0");
    if ((rc = load(st, key, &row, err))) return rc;
    if (!row.exists || count == 0) return RC_OK;
    if (row.kind != RC_KV_LIST) return wrongtype(err);
    if (count >= row.size) return drop_key(st, key, err);
    if ((rc = list_end(st, key, right, &end, err))) return rc;
    sqlite3_stmt *s = st->ws[WS_LIST_DEL];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, right ? end - count + 1 : end);
    sqlite3_bind_int64(s, 3, right ? end : end + count - 1);
    if ((rc = step_done(st, s, err, "pop"))) return rc;
    return touch(st, key, row.size - count, seq, err);
}

static int op_lpop(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    return pop(st, ev, key, seq, 0, err);
}
static int op_rpop(rc_store *st, const rc_event *ev, const char *key, uint64_t seq, rc_err *err) {
    return pop(st, ev, key, seq, 1, err);
}

static const struct {
    const char *op;
    kv_op_fn fn;
} kv_ops[] = {
    {"put", op_put},     {"delete", op_delete}, {"expired", op_delete}, {"expire", op_expire},
    {"rename", op_rename}, {"hset", op_hset},   {"hdel", op_hdel},      {"lpush", op_lpush},
    {"rpush", op_rpush}, {"lpop", op_lpop},     {"rpop", op_rpop},
};

int rc__kv_apply(rc_store *st, const rc_event *ev, uint64_t seq, rc_err *err) {
    const char *op = ev->type + RC_KV_PREFIX_LEN;
    if (!ev->subject || !*ev->subject)
        return rc_err_set(err, RC_INVALID, "%s: the key (subject) is required", ev->type);
    for (size_t i = 0; i < sizeof kv_ops / sizeof kv_ops[0]; i++)
        if (strcmp(op, kv_ops[i].op) == 0) return kv_ops[i].fn(st, ev, ev->subject, seq, err);
    return rc_err_set(err, RC_INVALID, "%s: unknown KV operation (reserved type prefix %s)",
                      ev->type, RC_KV_PREFIX);
}
