/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable consumers (redcar/consumer.h): cursors and consumer groups kept
 * in the consumer tables of schema v2, next to the log.
 *
 * Every change is a transaction function (rc_store_txn) so it runs on the
 * writer thread, inside the writer's group transaction, and returns only
 * after that commit is durable: an ack is as durable as an append, and a
 * fetch's leases and a dead-letter event commit together. The function
 * uses the writer's connection directly (wconn() below): that is safe only
 * on the writer thread, inside a transaction function, which is the only
 * place it is called. Its statements are prepared per call and finalized
 * before it returns, so the store's close never meets a statement it does
 * not know about.
 *
 * Redelivery needs no timer: a fetch first hands out pending events whose
 * due time passed (lease expired, nack delay over), dead-lettering those
 * that reached max_deliver, then new events after read_seq.
 *
 * Positions only grow: read_seq advances over every event a fetch
 * examined; ack_seq = max(ack_seq, lowest pending seq - 1, or read_seq
 * when nothing is pending). A cursor without leases (crow_plain) is the
 * exception: it keeps no pending rows, its fetches are reads on the read
 * pool (rc_consumer_read, recorded by one small update), and only an ack
 * moves its ack_seq.
 *
 * Trust boundary: names, members, filters and request bodies come from
 * clients and are validated here.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/retention.h"
#include "store/consumer_int.h"
#include "store/store_int.h"

#define GROUP_ACK_WAIT_MS 30000
#define GROUP_MAX_DELIVER 5
#define MAX_WAIT_MS ((int64_t)7 * 24 * 3600 * 1000)  /* ack_wait, nack delay, idle */
#define MAX_DELIVER_LIMIT 1000000
/* Rows a fetch may examine beyond what it hands out (filters that reject
 * most events): bounds the time one fetch holds the writer. */
#define SCAN_BUDGET 20000

/* ---- names and modes ------------------------------------------------------ */

static const char *const mode_names[] = {NULL, "cursor", "group"};

const char *rc_consumer_mode_name(int mode) {
    return mode == RC_CONSUMER_CURSOR || mode == RC_CONSUMER_GROUP ? mode_names[mode] : NULL;
}

int rc_consumer_mode_parse(const char *s, int *mode) {
    for (int m = RC_CONSUMER_CURSOR; s && m <= RC_CONSUMER_GROUP; m++)
        if (!strcmp(s, mode_names[m])) {
            *mode = m;
            return RC_OK;
        }
    return RC_INVALID;
}

static int check_name(const char *what, const char *s, rc_err *err) {
    if (!s || !*s) return rc_err_set(err, RC_INVALID, "%s: required", what);
    size_t n = strlen(s);
    if (n > RC_CONSUMER_NAME_MAX)
        return rc_err_set(err, RC_INVALID, "%s: longer than %d bytes", what, RC_CONSUMER_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || (c == ':' && what[0] == 'm') ||
              (c == '@' && what[0] == 'm')))
            return rc_err_set(err, RC_INVALID, "%s: only letters, digits and . _ -%s allowed",
                              what, what[0] == 'm' ? " : @" : "");
    }
    return RC_OK;
}

int rc__start_parse(const char *s, int *kind, int64_t *value, rc_err *err) {
    *value = 0;
    if (!s || !*s || !strcmp(s, "beginning")) {
        *kind = RC__START_BEGIN;
        return RC_OK;
    }
    if (!strcmp(s, "end")) {
        *kind = RC__START_END;
        return RC_OK;
    }
    if (!strncmp(s, "seq:", 4)) {
        const char *p = s + 4;
        uint64_t v = 0;
        if (!*p) goto bad;
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || v > (uint64_t)INT64_MAX / 10) goto bad;
            v = v * 10 + (uint64_t)(*p - '0');
        }
        if (v < 1 || v > (uint64_t)INT64_MAX) goto bad;
        *kind = RC__START_SEQ;
        *value = (int64_t)v;
        return RC_OK;
    }
    if (!strncmp(s, "time:", 5)) {
        if (rc_time_parse(s + 5, value) != RC_OK)
            return rc_err_set(err, RC_INVALID, "start: time:%.60s is not an RFC 3339 timestamp",
                              s + 5);
        *kind = RC__START_TIME;
        return RC_OK;
    }
bad:
    return rc_err_set(err, RC_INVALID,
                      "start: must be beginning, end, seq:N (N >= 1) or time:RFC3339");
}

/* ---- filters ------------------------------------------------------------------ */

static const char *const exact_names[] = {"type", "source", "subject", "subject_prefix"};

static char **exact_field(rc__cfilter *f, size_t i) {
    char **fields[] = {&f->type, &f->source, &f->subject, &f->subject_prefix};
    return fields[i];
}

void rc__cfilter_free(rc__cfilter *f) {
    if (!f) return;
    for (size_t i = 0; i < 4; i++) free(*exact_field(f, i));
    rc_filter_free(f->f);
    memset(f, 0, sizeof *f);
}

int rc__cfilter_parse(const char *json, size_t len, rc__cfilter *out, rc_buf *canon, rc_err *err) {
    memset(out, 0, sizeof *out);
    if (!json || len == 0) {
        if (canon) rc_buf_puts(canon, "{}");
        return RC_OK;
    }
    if (len > RC_FILTER_MAX_JSON)
        return rc_err_set(err, RC_TOO_LARGE, "filter: larger than %d bytes", RC_FILTER_MAX_JSON);
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = RC_OK;
    if (!root || !cJSON_IsObject(root)) {
        rc = rc_err_set(err, RC_INVALID, "filter: must be a JSON object");
        goto done;
    }
    cJSON *fs = NULL;
    for (cJSON *m = root->child; m; m = m->next) {
        size_t i = 0;
        while (i < 4 && strcmp(m->string, exact_names[i])) i++;
        if (i < 4) {
            if (!cJSON_IsString(m) || !*m->valuestring) {
                rc = rc_err_set(err, RC_INVALID, "filter.%s: must be a non-empty string",
                                exact_names[i]);
                goto done;
            }
            if (*exact_field(out, i)) {
                rc = rc_err_set(err, RC_INVALID, "filter.%s: given twice", exact_names[i]);
                goto done;
            }
            if (!(*exact_field(out, i) = strdup(m->valuestring))) {
                rc = rc_err_set(err, RC_NOMEM, "out of memory");
                goto done;
            }
        } else if (!strcmp(m->string, "filters")) {
            fs = m;
        } else {
            rc = rc_err_set(err, RC_INVALID,
                            "filter.%.40s: unknown member (type, source, subject, "
                            "subject_prefix, filters)",
                            m->string);
            goto done;
        }
    }
    if (fs) {
        char *text = cJSON_PrintUnformatted(fs);
        if (!text) {
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
            goto done;
        }
        rc_err ferr;
        rc_err_clear(&ferr);
        rc = rc_filter_parse_json(text, strlen(text), &out->f, &ferr);
        cJSON_free(text);
        if (rc != RC_OK) {
            rc_err_set(err, rc, "filter.filters: %s", rc_err_msg(&ferr));
            goto done;
        }
    }
    if (canon) {
        /* Canonical: exact members in a fixed order, then the filters as
         * the filter module writes them. */
        rc_buf_putc(canon, '{');
        int any = 0;
        for (size_t i = 0; i < 4; i++) {
            const char *v = *exact_field(out, i);
            if (!v) continue;
            cJSON *s = cJSON_CreateString(v);
            char *t = s ? cJSON_PrintUnformatted(s) : NULL;
            cJSON_Delete(s);
            if (!t) {
                rc = rc_err_set(err, RC_NOMEM, "out of memory");
                goto done;
            }
            rc_buf_printf(canon, "%s\"%s\":%s", any ? "," : "", exact_names[i], t);
            cJSON_free(t);
            any = 1;
        }
        if (out->f) {
            rc_buf_printf(canon, "%s\"filters\":", any ? "," : "");
            rc_filter_to_json(out->f, canon);
        }
        rc_buf_putc(canon, '}');
    }
done:
    cJSON_Delete(root);
    if (rc != RC_OK) rc__cfilter_free(out);
    return rc;
}

/* ---- the writer side ---------------------------------------------------------- */

/* The writer's connection. Only inside a transaction function (on the
 * writer thread, in its open transaction): see the file header. */
static sqlite3 *wconn(rc_store *st) { return st->wdb; }

/* The text of schemas/store_v4.sql (migration v4: consumer members), for
 * store.c. */
static const char schema_v4_sql[] = {
#include "store_schema_v4.inc"
};

const char *rc__store_schema_v4(void);
const char *rc__store_schema_v4(void) { return schema_v4_sql; }

/* Statements of one transaction function, prepared on first use. */
#define WQ_MAP(X)                                                                                 \
    X(LOAD, "SELECT mode,filter,read_seq,ack_seq,ack_wait_ms,max_deliver,created_ms "            \
            "FROM consumers WHERE name=?1")                                                       \
    X(EXISTS, "SELECT 1 FROM consumers WHERE name=?1")                                            \
    X(INSERT, "INSERT INTO consumers(name,mode,filter,start,read_seq,ack_seq,ack_wait_ms,"        \
              "max_deliver,created_ms) VALUES(?1,?2,?3,?4,?5,?5,?6,?7,?8)")                       \
    X(DELETE, "DELETE FROM consumers WHERE name=?1")                                              \
    X(DELETE_PENDING, "DELETE FROM consumer_pending WHERE consumer=?1")                           \
    X(FIRST_AT, "SELECT min(seq) FROM events WHERE time_ms>=?1")                                  \
    /* by the due index: ordering by seq through the primary key would read   \
     * every pending row of a long pending list on each fetch */               \
    X(DUE, "SELECT seq,deliveries FROM consumer_pending INDEXED BY consumer_pending_due "        \
           "WHERE consumer=?1 AND due_ms<=?2 "                                                    \
           "ORDER BY seq LIMIT ?3")                                                               \
    X(IDLE, "SELECT seq,deliveries FROM consumer_pending WHERE consumer=?1 AND last_ms<=?2 "      \
            "ORDER BY seq LIMIT ?3")                                                              \
    X(PAYLOAD, "SELECT payload FROM events WHERE seq=?1")                                         \
    X(ORIGIN, "SELECT type,source,id FROM events WHERE seq=?1")                                   \
    X(LEASE, "UPDATE consumer_pending SET member=?3,deliveries=deliveries+1,last_ms=?4,"          \
             "due_ms=?5 WHERE consumer=?1 AND seq=?2")                                            \
    X(PEND_INS, "INSERT OR REPLACE INTO consumer_pending(consumer,seq,member,deliveries,last_ms," \
                "due_ms) VALUES(?1,?2,?3,1,?4,?5)")                                               \
    X(PEND_DEL, "DELETE FROM consumer_pending WHERE consumer=?1 AND seq=?2")                      \
    X(PEND_DEL_UPTO, "DELETE FROM consumer_pending WHERE consumer=?1 AND seq<=?2")                \
    X(NACK, "UPDATE consumer_pending SET due_ms=?3 WHERE consumer=?1 AND seq=?2")                 \
    /* two subqueries: SQLite answers a lone min() from an index (O(log n));  \
     * min(a),min(b) in one SELECT would scan every pending row */             \
    X(MIN_PEND, "SELECT (SELECT min(seq) FROM consumer_pending WHERE consumer=?1),"              \
                "(SELECT min(due_ms) FROM consumer_pending WHERE consumer=?1)")                  \
    X(UPDATE, "UPDATE consumers SET read_seq=max(read_seq,?2),delivered=delivered+?3,"            \
              "redelivered=redelivered+?4,acked=acked+?5,dead=dead+?6 WHERE name=?1")            \
    X(SET_ACK, "UPDATE consumers SET ack_seq=max(ack_seq,?2) WHERE name=?1")                  \
    X(PEND_ONE, "SELECT deliveries,last_ms FROM consumer_pending WHERE consumer=?1 AND seq=?2")  \
    X(PEND_AFTER, "SELECT seq,deliveries,last_ms FROM consumer_pending WHERE consumer=?1 AND "   \
                  "seq>?2 ORDER BY seq LIMIT ?3")                                                 \
    X(CLAIM_SET, "UPDATE consumer_pending SET member=?3,deliveries=?4,last_ms=?5,due_ms=?6 "     \
                 "WHERE consumer=?1 AND seq=?2")                                                  \
    X(PEND_LIST, "SELECT seq,member,deliveries,last_ms,due_ms FROM consumer_pending WHERE "      \
                 "consumer=?1 AND seq>?2 AND (?4 IS NULL OR member=?4) ORDER BY seq LIMIT ?3")    \
    X(SEEK, "UPDATE consumers SET read_seq=?2,ack_seq=min(ack_seq,?2) WHERE name=?1")            \
    X(SEEK_FWD, "UPDATE consumers SET read_seq=max(read_seq,?2) WHERE name=?1")                  \
    X(DROP_MEMBER, "DELETE FROM consumer_pending WHERE consumer=?1 AND member=?2")              \
    X(MEMBER_GET, "SELECT 1 FROM consumer_members WHERE consumer=?1 AND member=?2")             \
    X(MEMBER_INS, "INSERT INTO consumer_members(consumer,member,seen_ms,active_ms) "             \
                  "VALUES(?1,?2,?3,?4)")                                                          \
    X(MEMBER_SEEN, "UPDATE consumer_members SET seen_ms=?3,"                                      \
                   "active_ms=CASE WHEN ?4>=0 THEN ?4 ELSE active_ms END "                        \
                   "WHERE consumer=?1 AND member=?2")                                             \
    X(MEMBER_DEL, "DELETE FROM consumer_members WHERE consumer=?1 AND member=?2")               \
    X(MEMBERS_DEL, "DELETE FROM consumer_members WHERE consumer=?1")

enum {
#define WQ_ENUM(name, sql) WQ_##name,
    WQ_MAP(WQ_ENUM)
#undef WQ_ENUM
    WQ__COUNT
};

typedef struct wq {
    rc_store *st;
    sqlite3_stmt *s[WQ__COUNT];
} wq;

static sqlite3_stmt *wq_get(wq *q, int which, rc_err *err) {
    static const char *const sql[WQ__COUNT] = {
#define WQ_SQL(name, text) text,
        WQ_MAP(WQ_SQL)
#undef WQ_SQL
    };
    if (!q->s[which]) {
        int rc = sqlite3_prepare_v2(wconn(q->st), sql[which], -1, &q->s[which], NULL);
        if (rc != SQLITE_OK) {
            rc__sqlite_err(wconn(q->st), rc, err, "consumer: preparing statement");
            return NULL;
        }
    } else {
        sqlite3_reset(q->s[which]);
        sqlite3_clear_bindings(q->s[which]);
    }
    return q->s[which];
}

static void wq_done(wq *q) {
    for (int i = 0; i < WQ__COUNT; i++) sqlite3_finalize(q->s[i]);
}

/* Step a statement that returns no rows (or whose rows are ignored). */
static int wq_exec(wq *q, sqlite3_stmt *s, rc_err *err, const char *what) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return rc__sqlite_err(wconn(q->st), rc, err, what);
    return RC_OK;
}

typedef struct crow {
    int mode;
    char *filter;
    uint64_t read_seq, ack_seq;
    int64_t ack_wait_ms, max_deliver, created_ms;
} crow;

static int load(wq *q, const char *name, crow *c, rc_err *err) {
    sqlite3_stmt *s = wq_get(q, WQ_LOAD, err);
    if (!s) return err->code;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return rc_err_set(err, RC_NOT_FOUND, "no consumer named %s", name);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc__sqlite_err(wconn(q->st), rc, err, "consumer: reading");
    }
    c->mode = sqlite3_column_int(s, 0);
    c->filter = strdup((const char *)sqlite3_column_text(s, 1));
    c->read_seq = (uint64_t)sqlite3_column_int64(s, 2);
    c->ack_seq = (uint64_t)sqlite3_column_int64(s, 3);
    c->ack_wait_ms = sqlite3_column_int64(s, 4);
    c->max_deliver = sqlite3_column_int64(s, 5);
    c->created_ms = sqlite3_column_int64(s, 6);
    sqlite3_reset(s);
    if (!c->filter) return rc_err_set(err, RC_NOMEM, "out of memory");
    return RC_OK;
}

/* A cursor without leases or a delivery limit keeps no pending list: its
 * events are "the ones after ack_seq" (the read path, see consumer.h), and
 * read_seq is bookkeeping only (what was handed out at least once). */
static int crow_plain(const crow *c) {
    return c->mode == RC_CONSUMER_CURSOR && c->ack_wait_ms == 0 && c->max_deliver == 0;
}

/* ack_seq = max(ack_seq, lowest pending - 1, or read_seq when none);
 * *next_due (may be NULL) = earliest due time of a pending event. */
static int settle(wq *q, const char *name, int64_t *next_due, rc_err *err) {
    sqlite3_stmt *s = wq_get(q, WQ_MIN_PEND, err);
    if (!s) return err->code;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc__sqlite_err(wconn(q->st), rc, err, "consumer: reading pending");
    }
    int none = sqlite3_column_type(s, 0) == SQLITE_NULL;
    int64_t low = sqlite3_column_int64(s, 0);
    if (next_due) *next_due = none ? 0 : sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    sqlite3_stmt *u = wq_get(q, WQ_SET_ACK, err);
    if (!u) return err->code;
    sqlite3_bind_text(u, 1, name, -1, SQLITE_STATIC);
    if (none) {
        /* Nothing pending: every examined event is finished. */
        sqlite3_stmt *r = wq_get(q, WQ_LOAD, err);
        if (!r) return err->code;
        sqlite3_bind_text(r, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(r);
        int64_t read_seq = rc == SQLITE_ROW ? sqlite3_column_int64(r, 2) : 0;
        sqlite3_reset(r);
        sqlite3_bind_int64(u, 2, read_seq);
    } else {
        sqlite3_bind_int64(u, 2, low - 1);
    }
    return wq_exec(q, u, err, "consumer: moving the ack position");
}

static int counters(wq *q, const char *name, uint64_t read_seq, int64_t delivered,
                    int64_t redelivered, int64_t acked, int64_t dead, rc_err *err) {
    sqlite3_stmt *s = wq_get(q, WQ_UPDATE, err);
    if (!s) return err->code;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)read_seq);
    sqlite3_bind_int64(s, 3, delivered);
    sqlite3_bind_int64(s, 4, redelivered);
    sqlite3_bind_int64(s, 5, acked);
    sqlite3_bind_int64(s, 6, dead);
    return wq_exec(q, s, err, "consumer: updating");
}

/* ---- create / delete -------------------------------------------------------- */

typedef struct create_ctx {
    rc_store *st;
    const rc_consumer_opts *o;
    int start_kind;
    int64_t start_val;
    const char *filter;
    int64_t ack_wait_ms, max_deliver;
} create_ctx;

static int create_fn(rc_txn *tx, void *arg, rc_err *err) {
    create_ctx *c = arg;
    wq q = {.st = c->st};
    int rc = RC_OK;
    sqlite3_stmt *s = wq_get(&q, WQ_EXISTS, err);
    if (!s) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, c->o->name, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r == SQLITE_ROW) {
        rc = rc_err_set(err, RC_CONFLICT, "a consumer named %s already exists", c->o->name);
        goto done;
    }
    uint64_t head = rc_txn_last_seq(tx), read_seq = 0, first = 0;
    /* Retention: "beginning" is the earliest stored event; an explicit
     * position that retention removed is an error naming it. */
    if ((rc = rc__log_first(wconn(c->st), &first, err))) goto done;
    switch (c->start_kind) {
    case RC__START_BEGIN: read_seq = first > 1 ? first - 1 : 0; break;
    case RC__START_END: read_seq = head; break;
    case RC__START_SEQ:
        read_seq = (uint64_t)c->start_val - 1;
        if ((rc = rc__trimmed_check(wconn(c->st), read_seq, err))) goto done;
        break;
    case RC__START_TIME:
        if (first > 1) {
            /* Events before the earliest stored one may have had a later
             * time: a start time before it cannot be answered exactly. */
            sqlite3_stmt *t = NULL;
            int64_t t0 = INT64_MAX;
            if (sqlite3_prepare_v2(wconn(c->st), "SELECT time_ms FROM events WHERE seq=?1", -1,
                                   &t, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(t, 1, (sqlite3_int64)first);
                if (sqlite3_step(t) == SQLITE_ROW) t0 = sqlite3_column_int64(t, 0);
            }
            sqlite3_finalize(t);
            if (c->start_val < t0) {
                rc = rc_err_set(err, RC_TRIMMED,
                                "start: events before the earliest stored one were removed "
                                "(retention); " RC_TRIMMED_EARLIEST "%" PRIu64,
                                first);
                goto done;
            }
        }
        if (!(s = wq_get(&q, WQ_FIRST_AT, err))) {
            rc = err->code;
            goto done;
        }
        sqlite3_bind_int64(s, 1, c->start_val);
        r = sqlite3_step(s);
        if (r != SQLITE_ROW) {
            sqlite3_reset(s);
            rc = rc__sqlite_err(wconn(c->st), r, err, "consumer: finding the start time");
            goto done;
        }
        read_seq = sqlite3_column_type(s, 0) == SQLITE_NULL
                       ? head
                       : (uint64_t)sqlite3_column_int64(s, 0) - 1;
        sqlite3_reset(s);
        break;
    default: break;
    }
    if (!(s = wq_get(&q, WQ_INSERT, err))) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, c->o->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, c->o->mode);
    sqlite3_bind_text(s, 3, c->filter, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c->o->start && *c->o->start ? c->o->start : "beginning", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)read_seq);
    sqlite3_bind_int64(s, 6, c->ack_wait_ms);
    sqlite3_bind_int64(s, 7, c->max_deliver);
    sqlite3_bind_int64(s, 8, rc_txn_now_ms(tx));
    rc = wq_exec(&q, s, err, "consumer: creating");
done:
    wq_done(&q);
    return rc;
}

/* Validate o and fill c (and canon, the filter's canonical JSON, which
 * c->filter points into) for create_fn. */
static int create_prepare(rc_store *st, const rc_consumer_opts *o, rc_consumer_opts *oo,
                          create_ctx *c, rc_buf *canon, rc_err *err) {
    if (!st || !o) return rc_err_set(err, RC_INVALID, "consumer: no store or options");
    *oo = *o;
    if (oo->mode == 0) oo->mode = RC_CONSUMER_CURSOR;
    int rc;
    if ((rc = check_name("name", oo->name, err))) return rc;
    if (!rc_consumer_mode_name(oo->mode))
        return rc_err_set(err, RC_INVALID, "mode: must be cursor or group");
    memset(c, 0, sizeof *c);
    c->st = st;
    c->o = oo;
    if ((rc = rc__start_parse(oo->start, &c->start_kind, &c->start_val, err))) return rc;
    int group = oo->mode == RC_CONSUMER_GROUP;
    c->ack_wait_ms = oo->ack_wait_ms < 0 ? (group ? GROUP_ACK_WAIT_MS : 0) : oo->ack_wait_ms;
    c->max_deliver = oo->max_deliver < 0 ? (group ? GROUP_MAX_DELIVER : 0) : oo->max_deliver;
    if (c->ack_wait_ms > MAX_WAIT_MS)
        return rc_err_set(err, RC_INVALID, "ack_wait_ms: must be from 0 to %" PRId64, MAX_WAIT_MS);
    if (group && c->ack_wait_ms == 0)
        return rc_err_set(err, RC_INVALID,
                          "ack_wait_ms: a group needs a lease longer than 0 ms (every fetch "
                          "would take back what the others hold)");
    if (c->max_deliver > MAX_DELIVER_LIMIT)
        return rc_err_set(err, RC_INVALID, "max_deliver: must be from 0 (no limit) to %d",
                          MAX_DELIVER_LIMIT);
    rc__cfilter f;
    const char *fj = oo->filter_json;
    if ((rc = rc__cfilter_parse(fj, fj ? strlen(fj) : 0, &f, canon, err))) return rc;
    rc__cfilter_free(&f);
    c->filter = canon->p;
    return RC_OK;
}

int rc_consumer_create(rc_store *st, const rc_consumer_opts *o, rc_consumer_fn fn, void *arg,
                       rc_err *err) {
    rc_consumer_opts oo;
    create_ctx c;
    rc_buf canon = RC_BUF_INIT;
    int rc = create_prepare(st, o, &oo, &c, &canon, err);
    if (rc == RC_OK) rc = rc_store_txn(st, create_fn, &c, err);
    rc_buf_free(&canon);
    if (rc == RC_OK && fn) rc = rc_consumer_get(st, oo.name, fn, arg, err);
    return rc;
}

typedef struct name_ctx {
    rc_store *st;
    const char *name;
} name_ctx;

static int delete_fn(rc_txn *tx, void *arg, rc_err *err) {
    (void)tx;
    name_ctx *c = arg;
    wq q = {.st = c->st};
    int rc;
    sqlite3_stmt *s = wq_get(&q, WQ_DELETE, err);
    if (!s) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
    if ((rc = wq_exec(&q, s, err, "consumer: deleting"))) goto done;
    if (sqlite3_changes(wconn(c->st)) == 0) {
        rc = rc_err_set(err, RC_NOT_FOUND, "no consumer named %s", c->name);
        goto done;
    }
    if (!(s = wq_get(&q, WQ_DELETE_PENDING, err))) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
    if ((rc = wq_exec(&q, s, err, "consumer: deleting"))) goto done;
    if (!(s = wq_get(&q, WQ_MEMBERS_DEL, err))) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
    rc = wq_exec(&q, s, err, "consumer: deleting");
done:
    wq_done(&q);
    return rc;
}

int rc_consumer_delete(rc_store *st, const char *name, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    name_ctx c = {st, name};
    return rc_store_txn(st, delete_fn, &c, err);
}

/* ---- fetch and claim ------------------------------------------------------------ */

void rc_consumer_batch_init(rc_consumer_batch *b) {
    memset(b, 0, sizeof *b);
    rc_buf_init(&b->json);
}

void rc_consumer_batch_free(rc_consumer_batch *b) {
    free(b->msgs);
    rc_buf_free(&b->json);
    memset(b, 0, sizeof *b);
}

static int batch_add(rc_consumer_batch *b, uint64_t seq, uint32_t deliveries, const void *json,
                     size_t len) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        rc_consumer_msg *m = realloc(b->msgs, cap * sizeof *m);
        if (!m) return RC_NOMEM;
        b->msgs = m;
        b->cap = cap;
    }
    rc_consumer_msg *m = &b->msgs[b->n++];
    m->seq = seq;
    m->deliveries = deliveries;
    m->off = b->json.len;
    m->len = len;
    rc_buf_append(&b->json, json, len);
    return RC_OK;
}

typedef struct fetch_ctx {
    rc_store *st;
    const char *name, *member;
    size_t limit;
    int claim;
    int64_t min_idle_ms;
    rc_consumer_batch *out;
} fetch_ctx;

/* Append the dead-letter event for seq and drop it from the pending list. */
static int dead_letter(rc_txn *tx, wq *q, fetch_ctx *c, const crow *cr, uint64_t seq,
                       int64_t deliveries, const char *why, rc_err *err) {
    rc_buf data = RC_BUF_INIT;
    rc_event *ev = NULL;
    char id[64], seqs[24];
    int rc = RC_OK;
    rc_buf_puts(&data, "{\"consumer\":\"");
    rc_buf_puts(&data, c->name); /* names are [A-Za-z0-9._-]: no escaping needed */
    rc_buf_printf(&data, "\",\"seq\":%" PRIu64 ",\"deliveries\":%" PRId64, seq, deliveries);
    if (why)
        rc_buf_printf(&data, ",\"reason\":\"%s\"", why);
    else
        rc_buf_printf(&data,
                      ",\"reason\":\"not acknowledged after %" PRId64 " deliveries "
                      "(max_deliver %" PRId64 ")\"",
                      deliveries, cr->max_deliver);
    sqlite3_stmt *s = wq_get(q, WQ_ORIGIN, err);
    if (!s) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    if (sqlite3_step(s) == SQLITE_ROW) {
        /* The original's identity, as JSON strings. */
        static const char *const keys[] = {"type", "source", "id"};
        rc_buf_puts(&data, ",\"event\":{");
        for (int i = 0; i < 3; i++) {
            cJSON *str = cJSON_CreateString((const char *)sqlite3_column_text(s, i));
            char *t = str ? cJSON_PrintUnformatted(str) : NULL;
            cJSON_Delete(str);
            if (!t) {
                sqlite3_reset(s);
                rc = rc_err_set(err, RC_NOMEM, "out of memory");
                goto done;
            }
            rc_buf_printf(&data, "%s\"%s\":%s", i ? "," : "", keys[i], t);
            cJSON_free(t);
        }
        rc_buf_putc(&data, '}');
    }
    sqlite3_reset(s);
    rc_buf_putc(&data, '}');
    snprintf(id, sizeof id, "%" PRId64 "-%" PRIu64, cr->created_ms, seq);
    snprintf(seqs, sizeof seqs, "%" PRIu64, seq);
    rc_buf src = RC_BUF_INIT;
    rc_buf_printf(&src, "/redcar/consumers/%s", c->name);
    if (!(ev = rc_event_new()) || rc_event_set(ev, "specversion", "1.0") ||
        rc_event_set(ev, "id", id) || rc_event_set(ev, "source", src.p) ||
        rc_event_set(ev, "type", RC_DEADLETTER_TYPE) || rc_event_set(ev, "subject", c->name) ||
        rc_event_set_ext_string(ev, "originalseq", RC_EXT_STRING, seqs) ||
        rc_event_set_data(ev, "application/json", data.p, data.len, RC_DATA_JSON)) {
        rc_buf_free(&src);
        rc_event_free(ev);
        rc = rc_err_set(err, RC_NOMEM, "out of memory");
        goto done;
    }
    rc_buf_free(&src);
    rc_append_item item;
    if ((rc = rc_txn_append(tx, ev, &item, err))) goto done; /* owns ev */
    if (!(s = wq_get(q, WQ_PEND_DEL, err))) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    rc = wq_exec(q, s, err, "consumer: dead-lettering");
    c->out->dead++;
done:
    rc_buf_free(&data);
    return rc;
}

/* Payload of seq into the batch; *gone when retention removed it. */
static int add_payload(wq *q, fetch_ctx *c, uint64_t seq, uint32_t deliveries, int *gone,
                       rc_err *err) {
    sqlite3_stmt *s = wq_get(q, WQ_PAYLOAD, err);
    if (!s) return err->code;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    int r = sqlite3_step(s);
    *gone = r == SQLITE_DONE;
    int rc = RC_OK;
    if (r == SQLITE_ROW) {
        if (batch_add(c->out, seq, deliveries, sqlite3_column_text(s, 0),
                      (size_t)sqlite3_column_bytes(s, 0)))
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
    } else if (r != SQLITE_DONE) {
        rc = rc__sqlite_err(wconn(q->st), r, err, "consumer: reading an event");
    }
    sqlite3_reset(s);
    return rc;
}

/* Pending events that are due (fetch) or idle (claim): lease them to the
 * member again, or dead-letter them. Adds to *redelivered, *dead. */
static int redeliver(rc_txn *tx, wq *q, fetch_ctx *c, const crow *cr, int64_t now,
                     int64_t *redelivered, rc_err *err) {
    struct { uint64_t seq; int64_t deliveries; } *due = NULL;
    int rc = RC_OK;
    for (;;) {
        size_t want = c->limit - c->out->n, n = 0;
        if (want == 0) break;
        sqlite3_stmt *s = wq_get(q, c->claim ? WQ_IDLE : WQ_DUE, err);
        if (!s) {
            rc = err->code;
            break;
        }
        sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, c->claim ? now - c->min_idle_ms : now);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)want);
        free(due);
        if (!(due = malloc(want * sizeof *due))) {
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
            break;
        }
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW && n < want) {
            due[n].seq = (uint64_t)sqlite3_column_int64(s, 0);
            due[n].deliveries = sqlite3_column_int64(s, 1);
            n++;
        }
        sqlite3_reset(s);
        if (r != SQLITE_DONE && r != SQLITE_ROW) {
            rc = rc__sqlite_err(wconn(q->st), r, err, "consumer: reading pending");
            break;
        }
        if (n == 0) break;
        size_t dropped = 0;
        for (size_t i = 0; i < n && rc == RC_OK; i++) {
            if (cr->max_deliver > 0 && due[i].deliveries >= cr->max_deliver) {
                rc = dead_letter(tx, q, c, cr, due[i].seq, due[i].deliveries, NULL, err);
                dropped++;
                continue;
            }
            int gone = 0;
            if ((rc = add_payload(q, c, due[i].seq, (uint32_t)due[i].deliveries + 1, &gone, err)))
                break;
            if (gone) {
                /* Retention removed it before it was acknowledged: nothing
                 * is left to deliver, and dropping it silently would hide
                 * the loss. It goes to the dead-letter log, saying why. */
                rc = dead_letter(tx, q, c, cr, due[i].seq, due[i].deliveries,
                                 "removed by retention before it was acknowledged", err);
                dropped++;
                continue;
            }
            if (!(s = wq_get(q, WQ_LEASE, err))) {
                rc = err->code;
                break;
            }
            sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)due[i].seq);
            sqlite3_bind_text(s, 3, c->member, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 4, now);
            sqlite3_bind_int64(s, 5, now + cr->ack_wait_ms);
            rc = wq_exec(q, s, err, "consumer: leasing");
            (*redelivered)++;
        }
        /* Another round only when dead letters freed room that due events
         * may fill; otherwise the due list is exhausted or the batch full. */
        if (rc != RC_OK || dropped == 0 || n < want) break;
    }
    free(due);
    return rc;
}

/* The log scan of a consumer: events after ?1 (and at most ?9 when upto is
 * given) that its exact filter parts select, in seq order, at most ?8,
 * leaving out the dead letters it produced itself. The exact parts are
 * served by the log's indexes; the decoded filter is applied per row
 * (row_passes). Shared by the writer's fetch and the read path. */
typedef struct scan_sql {
    rc_buf sql;
    char *pend;               /* exclusive end of subject_prefix, or NULL */
} scan_sql;

static int scan_build(const rc__cfilter *f, int upto, scan_sql *out, rc_err *err) {
    rc_buf_init(&out->sql);
    out->pend = NULL;
    rc_buf_puts(&out->sql, "SELECT seq,payload FROM events WHERE seq>?1 AND (type<>'" RC_DEADLETTER_TYPE
                           "' OR subject IS NOT ?2)");
    if (upto) rc_buf_puts(&out->sql, " AND seq<=?9");
    static const char *const cols[] = {"type=?3", "source=?4", "subject=?5"};
    for (size_t i = 0; i < 4; i++) {
        const char *v = *exact_field((rc__cfilter *)f, i);
        if (!v) continue;
        if (i == 3) {
            if (!(out->pend = malloc(strlen(v) + 1))) {
                rc_buf_free(&out->sql);
                return rc_err_set(err, RC_NOMEM, "out of memory");
            }
            if (!rc__prefix_end(v, out->pend)) {
                free(out->pend);
                out->pend = NULL;
            }
            rc_buf_puts(&out->sql, out->pend ? " AND subject>=?6 AND subject<?7" : " AND subject>=?6");
        } else {
            rc_buf_printf(&out->sql, " AND %s", cols[i]);
        }
    }
    rc_buf_puts(&out->sql, " ORDER BY seq LIMIT ?8");
    return RC_OK;
}

static void scan_bind(sqlite3_stmt *s, const scan_sql *q, const rc__cfilter *f, const char *name,
                      uint64_t after, uint64_t upto, size_t budget) {
    sqlite3_bind_int64(s, 1, (sqlite3_int64)after);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    for (size_t i = 0; i < 3; i++)
        if (*exact_field((rc__cfilter *)f, i))
            sqlite3_bind_text(s, 3 + (int)i, *exact_field((rc__cfilter *)f, i), -1, SQLITE_STATIC);
    if (f->subject_prefix) {
        sqlite3_bind_text(s, 6, f->subject_prefix, -1, SQLITE_STATIC);
        if (q->pend) sqlite3_bind_text(s, 7, q->pend, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 8, (sqlite3_int64)budget);
    if (upto) sqlite3_bind_int64(s, 9, (sqlite3_int64)upto);
}

static void scan_free(scan_sql *q) {
    rc_buf_free(&q->sql);
    free(q->pend);
}

/* Whether a stored event passes the decoded part of the filter. Stored
 * events were valid when appended; one that no longer decodes cannot
 * match and is skipped. */
static int row_passes(const rc__cfilter *f, uint64_t seq, const char *json, size_t len) {
    if (!f->f) return 1;
    rc_event *ev = NULL;
    rc_err derr;
    int match = rc_event_decode_json(json, len, &ev, &derr) == RC_OK &&
                (ev->seq = seq, rc_filter_match(f->f, ev));
    rc_event_free(ev);
    return match;
}

/* New events after read_seq that pass the filter: lease them. */
static int deliver_new(wq *q, fetch_ctx *c, const crow *cr, const rc__cfilter *f, uint64_t head,
                       int64_t now, uint64_t *read_seq, rc_err *err) {
    size_t want = c->limit - c->out->n;
    if (want == 0 || *read_seq >= head) return RC_OK;
    scan_sql sq;
    int rc = scan_build(f, 0, &sq, err);
    if (rc) return rc;
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(wconn(q->st), sq.sql.p, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        scan_free(&sq);
        return rc__sqlite_err(wconn(q->st), rc, err, "consumer: preparing the scan");
    }
    /* Without a decoded filter every row is delivered: no budget needed. */
    size_t budget = f->f ? (want > SCAN_BUDGET ? want : SCAN_BUDGET) : want;
    scan_bind(s, &sq, f, c->name, *read_seq, 0, budget);
    size_t rows = 0;
    uint64_t last = *read_seq;
    int r, stopped = 0;
    rc = RC_OK;
    sqlite3_stmt *ins = wq_get(q, WQ_PEND_INS, err);
    if (!ins) rc = err->code;
    while (rc == RC_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        rows++;
        uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0);
        const char *json = (const char *)sqlite3_column_text(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        last = seq;
        if (!row_passes(f, seq, json, len)) continue;
        if (batch_add(c->out, seq, 1, json, len)) {
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
            break;
        }
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, (sqlite3_int64)seq);
        sqlite3_bind_text(ins, 3, c->member, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, now);
        sqlite3_bind_int64(ins, 5, now + cr->ack_wait_ms);
        if ((rc = wq_exec(q, ins, err, "consumer: leasing"))) break;
        if (c->out->n == c->limit) {
            stopped = 1;
            break;
        }
    }
    if (rc == RC_OK && !stopped && r != SQLITE_DONE && r != SQLITE_ROW)
        rc = rc__sqlite_err(wconn(q->st), r, err, "consumer: scanning the log");
    sqlite3_finalize(s);
    scan_free(&sq);
    if (rc != RC_OK) return rc;
    /* A scan that ran dry examined everything up to the head. */
    *read_seq = (!stopped && rows < budget) ? head : last;
    return RC_OK;
}

static int fetch_fn(rc_txn *tx, void *arg, rc_err *err) {
    fetch_ctx *c = arg;
    wq q = {.st = c->st};
    crow cr = {0};
    rc__cfilter f;
    memset(&f, 0, sizeof f);
    /* A failed transaction is retried by nobody: start from empty. */
    c->out->n = 0;
    c->out->dead = 0;
    rc_buf_reset(&c->out->json);
    int rc = load(&q, c->name, &cr, err);
    if (rc) goto done;
    if (cr.mode == RC_CONSUMER_GROUP && !c->member) {
        rc = rc_err_set(err, RC_INVALID, "member: required for a consumer group");
        goto done;
    }
    if (!c->member) c->member = "cursor";
    /* New events after a position retention removed: an error, not a skip. */
    if (!c->claim && (rc = rc__trimmed_check(wconn(c->st), cr.read_seq, err))) goto done;
    if ((rc = rc__cfilter_parse(cr.filter, strlen(cr.filter), &f, NULL, err))) goto done;
    int64_t now = rc_txn_now_ms(tx), redelivered = 0;
    uint64_t read_seq = cr.read_seq;
    if ((rc = redeliver(tx, &q, c, &cr, now, &redelivered, err))) goto done;
    size_t first = c->out->n;
    uint64_t head = rc_txn_last_seq(tx);
    if (!c->claim && (rc = deliver_new(&q, c, &cr, &f, head, now, &read_seq, err))) goto done;
    int64_t fresh = (int64_t)(c->out->n - first);
    if ((rc = counters(&q, c->name, read_seq, fresh + redelivered, redelivered, 0,
                       (int64_t)c->out->dead, err)))
        goto done;
    if ((rc = settle(&q, c->name, &c->out->next_due_ms, err))) goto done;
    c->out->head_seq = rc_txn_last_seq(tx);
    c->out->read_seq = read_seq > cr.read_seq ? read_seq : cr.read_seq;
done:
    wq_done(&q);
    rc__cfilter_free(&f);
    free(cr.filter);
    return rc;
}

static int fetch_common(rc_store *st, fetch_ctx *c, rc_err *err) {
    int rc = check_name("name", c->name, err);
    if (rc) return rc;
    if (c->member && (rc = check_name("member", c->member, err))) return rc;
    if (c->limit < 1 || c->limit > RC_CONSUMER_FETCH_MAX)
        return rc_err_set(err, RC_INVALID, "limit: must be from 1 to %d", RC_CONSUMER_FETCH_MAX);
    rc_consumer_batch_free(c->out);
    rc_consumer_batch_init(c->out);
    rc = rc_store_txn(st, fetch_fn, c, err);
    if (rc != RC_OK) {
        rc_consumer_batch_free(c->out);
        rc_consumer_batch_init(c->out);
    }
    return rc;
}

typedef struct batch_acc {
    rc_consumer_batch *b;
    int oom;
} batch_acc;

static int batch_row(const rc_consumer_row *r, void *arg) {
    batch_acc *a = arg;
    return a->oom = batch_add(a->b, r->seq, r->deliveries, r->json, r->len) != RC_OK;
}

int rc_consumer_fetch(rc_store *st, const char *name, const char *member, size_t limit,
                      rc_consumer_batch *out, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    if (member && (rc = check_name("member", member, err))) return rc;
    if (limit < 1 || limit > RC_CONSUMER_FETCH_MAX)
        return rc_err_set(err, RC_INVALID, "limit: must be from 1 to %d", RC_CONSUMER_FETCH_MAX);
    /* A cursor without a pending list reads; everything else leases. */
    rc_consumer_batch_free(out);
    rc_consumer_batch_init(out);
    rc_consumer_read_opts o = {.limit = limit, .fetch = 1, .note = 1};
    rc_consumer_read_res r;
    batch_acc a = {out, 0};
    rc = rc_consumer_read(st, name, &o, batch_row, &a, &r, err);
    if (rc == RC_OK && a.oom) rc = rc_err_set(err, RC_NOMEM, "out of memory");
    if (rc != RC_OK || !r.plain) {
        rc_consumer_batch_free(out);
        rc_consumer_batch_init(out);
        if (rc != RC_OK) return rc;
        fetch_ctx c = {.st = st, .name = name, .member = member, .limit = limit, .out = out};
        return fetch_common(st, &c, err);
    }
    out->head_seq = r.head_seq;
    out->read_seq = r.read_seq;
    return RC_OK;
}

int rc_consumer_claim(rc_store *st, const char *name, const char *member, int64_t min_idle_ms,
                      size_t count, rc_consumer_batch *out, rc_err *err) {
    if (!member) return rc_err_set(err, RC_INVALID, "member: required");
    if (min_idle_ms < 0 || min_idle_ms > MAX_WAIT_MS)
        return rc_err_set(err, RC_INVALID, "min_idle_ms: must be from 0 to %" PRId64, MAX_WAIT_MS);
    fetch_ctx c = {.st = st, .name = name, .member = member, .limit = count, .claim = 1,
                   .min_idle_ms = min_idle_ms, .out = out};
    return fetch_common(st, &c, err);
}

/* ---- ack / nack ------------------------------------------------------------------ */

typedef struct ack_ctx {
    rc_store *st;
    const char *name;
    const uint64_t *seqs;
    size_t n;
    int nack;
    int64_t delay_ms;
    size_t done;
} ack_ctx;

static int ack_fn(rc_txn *tx, void *arg, rc_err *err) {
    ack_ctx *c = arg;
    wq q = {.st = c->st};
    crow cr = {0};
    int rc = load(&q, c->name, &cr, err);
    c->done = 0;
    if (rc) goto done;
    sqlite3_stmt *s;
    if (!c->nack && cr.mode == RC_CONSUMER_CURSOR) {
        uint64_t top = 0;
        for (size_t i = 0; i < c->n; i++)
            if (c->seqs[i] > top) top = c->seqs[i];
        if (!(s = wq_get(&q, WQ_PEND_DEL_UPTO, err))) {
            rc = err->code;
            goto done;
        }
        sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)top);
        if ((rc = wq_exec(&q, s, err, "consumer: acknowledging"))) goto done;
        c->done = (size_t)sqlite3_changes(wconn(c->st));
        /* Cumulative: the events up to top are finished whether or not a
         * fetch recorded them (a stream or a lease-free cursor reads
         * without pending rows), so the read position moves up to it too;
         * never past the head. */
        uint64_t head = rc_txn_last_seq(tx);
        if (top > head) top = head;
        if (top > cr.read_seq) {
            if (!(s = wq_get(&q, WQ_SEEK_FWD, err))) {
                rc = err->code;
                goto done;
            }
            sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)top);
            if ((rc = wq_exec(&q, s, err, "consumer: acknowledging"))) goto done;
        }
        /* A lease-free read keeps no rows: count the positions finished. */
        if (c->done == 0 && top > cr.ack_seq) c->done = (size_t)(top - cr.ack_seq);
        if (crow_plain(&cr)) {
            /* read_seq may be ahead (handed out, not confirmed): the ack
             * position is exactly what was acknowledged. */
            if (!(s = wq_get(&q, WQ_SET_ACK, err))) {
                rc = err->code;
                goto done;
            }
            sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)top);
            if ((rc = wq_exec(&q, s, err, "consumer: acknowledging"))) goto done;
            rc = counters(&q, c->name, 0, 0, 0, (int64_t)c->done, 0, err);
            goto done;
        }
    } else {
        for (size_t i = 0; i < c->n; i++) {
            if (!(s = wq_get(&q, c->nack ? WQ_NACK : WQ_PEND_DEL, err))) {
                rc = err->code;
                goto done;
            }
            sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)c->seqs[i]);
            if (c->nack) sqlite3_bind_int64(s, 3, rc_txn_now_ms(tx) + c->delay_ms);
            if ((rc = wq_exec(&q, s, err, c->nack ? "consumer: nack" : "consumer: acknowledging")))
                goto done;
            c->done += (size_t)sqlite3_changes(wconn(c->st));
        }
    }
    if (!c->nack && (rc = counters(&q, c->name, 0, 0, 0, (int64_t)c->done, 0, err))) goto done;
    if (!crow_plain(&cr)) rc = settle(&q, c->name, NULL, err);
done:
    wq_done(&q);
    free(cr.filter);
    return rc;
}

static int ack_common(rc_store *st, ack_ctx *c, const char *member, size_t *done, rc_err *err) {
    int rc = check_name("name", c->name, err);
    if (rc) return rc;
    if (member && (rc = check_name("member", member, err))) return rc;
    if (c->n > RC_CONSUMER_FETCH_MAX)
        return rc_err_set(err, RC_INVALID, "seqs: at most %d at once", RC_CONSUMER_FETCH_MAX);
    for (size_t i = 0; i < c->n; i++)
        if (c->seqs[i] == 0 || c->seqs[i] > (uint64_t)INT64_MAX)
            return rc_err_set(err, RC_INVALID, "seqs[%zu]: must be a positive sequence number", i);
    if (done) *done = 0;
    if (c->n == 0) return RC_OK;
    rc = rc_store_txn(st, ack_fn, c, err);
    if (rc == RC_OK && done) *done = c->done;
    return rc;
}

int rc_consumer_ack(rc_store *st, const char *name, const char *member, const uint64_t *seqs,
                    size_t n, size_t *done, rc_err *err) {
    ack_ctx c = {.st = st, .name = name, .seqs = seqs, .n = n};
    return ack_common(st, &c, member, done, err);
}

int rc_consumer_nack(rc_store *st, const char *name, const char *member, const uint64_t *seqs,
                     size_t n, int64_t delay_ms, size_t *done, rc_err *err) {
    if (delay_ms < 0 || delay_ms > MAX_WAIT_MS)
        return rc_err_set(err, RC_INVALID, "delay_ms: must be from 0 to %" PRId64, MAX_WAIT_MS);
    ack_ctx c = {.st = st, .name = name, .seqs = seqs, .n = n, .nack = 1, .delay_ms = delay_ms};
    return ack_common(st, &c, member, done, err);
}

/* ---- the same operations inside a caller's transaction ------------------------------ */

int rc_consumer_txn_create(rc_store *st, rc_txn *tx, const rc_consumer_opts *o, rc_err *err) {
    rc_consumer_opts oo;
    create_ctx c;
    rc_buf canon = RC_BUF_INIT;
    int rc = create_prepare(st, o, &oo, &c, &canon, err);
    if (rc == RC_OK) rc = create_fn(tx, &c, err);
    rc_buf_free(&canon);
    return rc;
}

int rc_consumer_txn_delete(rc_store *st, rc_txn *tx, const char *name, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    name_ctx c = {st, name};
    return delete_fn(tx, &c, err);
}

int rc_consumer_txn_position(rc_store *st, rc_txn *tx, const char *name, uint64_t *read_seq,
                             rc_err *err) {
    (void)tx;
    int rc = check_name("name", name, err);
    if (rc) return rc;
    wq q = {.st = st};
    crow cr = {0};
    rc = load(&q, name, &cr, err);
    if (rc == RC_OK && read_seq) *read_seq = cr.read_seq;
    wq_done(&q);
    free(cr.filter);
    return rc;
}

int rc_consumer_txn_fetch(rc_store *st, rc_txn *tx, const char *name, const char *member,
                          size_t limit, rc_consumer_batch *out, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    if (member && (rc = check_name("member", member, err))) return rc;
    if (limit < 1 || limit > RC_CONSUMER_FETCH_MAX)
        return rc_err_set(err, RC_INVALID, "limit: must be from 1 to %d", RC_CONSUMER_FETCH_MAX);
    fetch_ctx c = {.st = st, .name = name, .member = member, .limit = limit, .out = out};
    return fetch_fn(tx, &c, err);
}

int rc_consumer_txn_ack(rc_store *st, rc_txn *tx, const char *name, const uint64_t *seqs,
                        size_t n, size_t *done, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    if (n > RC_CONSUMER_FETCH_MAX)
        return rc_err_set(err, RC_INVALID, "seqs: at most %d at once", RC_CONSUMER_FETCH_MAX);
    if (done) *done = 0;
    if (n == 0) return RC_OK;
    ack_ctx c = {.st = st, .name = name, .seqs = seqs, .n = n};
    for (size_t i = 0; i < n; i++)
        if (seqs[i] == 0 || seqs[i] > (uint64_t)INT64_MAX)
            return rc_err_set(err, RC_INVALID, "seqs[%zu]: must be a positive sequence number", i);
    rc = ack_fn(tx, &c, err);
    if (rc == RC_OK && done) *done = c.done;
    return rc;
}

int rc_consumer_txn_seek(rc_store *st, rc_txn *tx, const char *name, uint64_t read_seq,
                         int forward_only, rc_err *err) {
    (void)tx;
    int rc = check_name("name", name, err);
    if (rc) return rc;
    if (read_seq > (uint64_t)INT64_MAX)
        return rc_err_set(err, RC_INVALID, "position: out of range");
    wq q = {.st = st};
    crow cr = {0};
    if ((rc = load(&q, name, &cr, err))) goto done;
    sqlite3_stmt *s = wq_get(&q, forward_only ? WQ_SEEK_FWD : WQ_SEEK, err);
    if (!s) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)read_seq);
    if ((rc = wq_exec(&q, s, err, "consumer: moving the read position"))) goto done;
    rc = settle(&q, name, NULL, err);
done:
    wq_done(&q);
    free(cr.filter);
    return rc;
}

int rc_consumer_txn_drop_member(rc_store *st, rc_txn *tx, const char *name, const char *member,
                                size_t *dropped, rc_err *err) {
    (void)tx;
    int rc = check_name("name", name, err);
    if (rc || (rc = check_name("member", member, err))) return rc;
    wq q = {.st = st};
    crow cr = {0};
    if ((rc = load(&q, name, &cr, err))) goto done;
    sqlite3_stmt *s = wq_get(&q, WQ_DROP_MEMBER, err);
    if (!s) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, member, -1, SQLITE_STATIC);
    if ((rc = wq_exec(&q, s, err, "consumer: dropping a member"))) goto done;
    size_t n = (size_t)sqlite3_changes(wconn(st));
    if (dropped) *dropped = n;
    if (!(s = wq_get(&q, WQ_MEMBER_DEL, err))) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, member, -1, SQLITE_STATIC);
    if ((rc = wq_exec(&q, s, err, "consumer: dropping a member"))) goto done;
    /* The dropped events count as finished, like an ack. */
    if ((rc = counters(&q, name, 0, 0, 0, (int64_t)n, 0, err))) goto done;
    rc = settle(&q, name, NULL, err);
done:
    wq_done(&q);
    free(cr.filter);
    return rc;
}

int rc_consumer_txn_member_touch(rc_store *st, rc_txn *tx, const char *name, const char *member,
                                 int active, int *fresh, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc || (rc = check_name("member", member, err))) return rc;
    if (fresh) *fresh = 0;
    wq q = {.st = st};
    int64_t now = rc_txn_now_ms(tx);
    sqlite3_stmt *s = wq_get(&q, WQ_EXISTS, err);
    if (!s) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? rc_err_set(err, RC_NOT_FOUND, "no consumer named %s", name)
                              : rc__sqlite_err(wconn(st), r, err, "consumer: reading");
        goto done;
    }
    if (!(s = wq_get(&q, WQ_MEMBER_GET, err))) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, member, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        rc = rc__sqlite_err(wconn(st), r, err, "consumer: reading members");
        goto done;
    }
    int is_new = r == SQLITE_DONE;
    if (!(s = wq_get(&q, is_new ? WQ_MEMBER_INS : WQ_MEMBER_SEEN, err))) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, member, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, active ? now : -1);
    if ((rc = wq_exec(&q, s, err, "consumer: recording a member"))) goto done;
    if (fresh) *fresh = is_new;
done:
    wq_done(&q);
    return rc;
}

int rc_consumer_txn_pending(rc_store *st, rc_txn *tx, const char *name, const char *member,
                            uint64_t after, size_t limit, rc_consumer_pending_fn fn, void *arg,
                            rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    if (member && (rc = check_name("member", member, err))) return rc;
    wq q = {.st = st};
    crow cr = {0};
    if ((rc = load(&q, name, &cr, err))) goto done;
    sqlite3_stmt *s = wq_get(&q, WQ_PEND_LIST, err);
    if (!s) {
        rc = err->code;
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(after > (uint64_t)INT64_MAX ? INT64_MAX : after));
    sqlite3_bind_int64(s, 3, limit ? (sqlite3_int64)limit : -1);
    if (member) sqlite3_bind_text(s, 4, member, -1, SQLITE_STATIC);
    int64_t now = rc_txn_now_ms(tx);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc_consumer_pending p;
        p.seq = (uint64_t)sqlite3_column_int64(s, 0);
        p.member = (const char *)sqlite3_column_text(s, 1);
        p.deliveries = (uint32_t)sqlite3_column_int64(s, 2);
        p.last_ms = sqlite3_column_int64(s, 3);
        p.due_ms = sqlite3_column_int64(s, 4);
        p.idle_ms = now > p.last_ms ? now - p.last_ms : 0;
        if (fn(&p, arg)) {
            r = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE) rc = rc__sqlite_err(wconn(st), r, err, "consumer: reading pending");
done:
    wq_done(&q);
    free(cr.filter);
    return rc;
}

/* Lease one pending event (already known to be pending, idle enough) to
 * the member and add it to the batch. */
static int claim_one(wq *q, const char *name, const char *member, const crow *cr,
                     const rc_consumer_claim_opts *o, uint64_t seq, int64_t deliveries,
                     int64_t now, rc_consumer_batch *out, rc_err *err) {
    int64_t d = o->set_deliveries >= 0 ? o->set_deliveries
                                       : deliveries + (o->no_count ? 0 : 1);
    int64_t last = now;
    if (o->set_last_ms >= 0) last = o->set_last_ms;
    sqlite3_stmt *s = wq_get(q, WQ_PAYLOAD, err);
    if (!s) return err->code;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    int r = sqlite3_step(s);
    int rc = RC_OK;
    if (r == SQLITE_ROW) {
        if (batch_add(out, seq, (uint32_t)d, sqlite3_column_text(s, 0),
                      (size_t)sqlite3_column_bytes(s, 0)))
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
    } else if (r == SQLITE_DONE) {
        /* Retention removed it: claim it as an empty entry (len 0) so the
         * caller can tell it is gone. */
        if (batch_add(out, seq, (uint32_t)d, "", 0)) rc = rc_err_set(err, RC_NOMEM, "out of memory");
    } else {
        rc = rc__sqlite_err(wconn(q->st), r, err, "consumer: reading an event");
    }
    sqlite3_reset(s);
    if (rc) return rc;
    if (!(s = wq_get(q, WQ_CLAIM_SET, err))) return err->code;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    sqlite3_bind_text(s, 3, member, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, d);
    sqlite3_bind_int64(s, 5, last);
    sqlite3_bind_int64(s, 6, now + cr->ack_wait_ms);
    return wq_exec(q, s, err, "consumer: claiming");
}

int rc_consumer_txn_claim(rc_store *st, rc_txn *tx, const char *name, const char *member,
                          const rc_consumer_claim_opts *o, rc_consumer_batch *out,
                          uint64_t *next, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc || (rc = check_name("member", member, err))) return rc;
    if (o->min_idle_ms < 0 || o->min_idle_ms > MAX_WAIT_MS)
        return rc_err_set(err, RC_INVALID, "min_idle_ms: must be from 0 to %" PRId64, MAX_WAIT_MS);
    if (!o->seqs && (o->count < 1 || o->count > RC_CONSUMER_FETCH_MAX))
        return rc_err_set(err, RC_INVALID, "count: must be from 1 to %d", RC_CONSUMER_FETCH_MAX);
    if (o->seqs && o->n_seqs > RC_CONSUMER_FETCH_MAX)
        return rc_err_set(err, RC_INVALID, "seqs: at most %d at once", RC_CONSUMER_FETCH_MAX);
    out->n = 0;
    out->dead = 0;
    rc_buf_reset(&out->json);
    if (next) *next = 0;
    wq q = {.st = st};
    crow cr = {0};
    if ((rc = load(&q, name, &cr, err))) goto done;
    int64_t now = rc_txn_now_ms(tx), claimed = 0;
    if (o->seqs) {
        for (size_t i = 0; i < o->n_seqs && rc == RC_OK; i++) {
            sqlite3_stmt *s = wq_get(&q, WQ_PEND_ONE, err);
            if (!s) {
                rc = err->code;
                break;
            }
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)(o->seqs[i] > (uint64_t)INT64_MAX ? 0 : o->seqs[i]));
            int r = sqlite3_step(s);
            int64_t deliveries = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
            int64_t last = r == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
            sqlite3_reset(s);
            if (r != SQLITE_ROW && r != SQLITE_DONE) {
                rc = rc__sqlite_err(wconn(st), r, err, "consumer: reading pending");
                break;
            }
            if (r == SQLITE_DONE || now - last < o->min_idle_ms) continue;
            rc = claim_one(&q, name, member, &cr, o, o->seqs[i], deliveries, now, out, err);
            claimed++;
        }
    } else {
        /* Scan the pending list from `after`, examining at most scan_max
         * entries; *next = the first seq not examined (0: the end). */
        size_t budget = o->scan_max ? o->scan_max : (size_t)-1;
        uint64_t pos = o->after;
        struct { uint64_t seq; int64_t deliveries, last; } row[256];
        while (rc == RC_OK && budget > 0 && out->n < o->count) {
            sqlite3_stmt *s = wq_get(&q, WQ_PEND_AFTER, err);
            if (!s) {
                rc = err->code;
                break;
            }
            size_t want = budget < 256 ? budget : 256, n = 0;
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)(pos > (uint64_t)INT64_MAX ? INT64_MAX : pos));
            sqlite3_bind_int64(s, 3, (sqlite3_int64)want);
            int r;
            while ((r = sqlite3_step(s)) == SQLITE_ROW && n < want) {
                row[n].seq = (uint64_t)sqlite3_column_int64(s, 0);
                row[n].deliveries = sqlite3_column_int64(s, 1);
                row[n].last = sqlite3_column_int64(s, 2);
                n++;
            }
            sqlite3_reset(s);
            if (r != SQLITE_ROW && r != SQLITE_DONE) {
                rc = rc__sqlite_err(wconn(st), r, err, "consumer: reading pending");
                break;
            }
            if (n == 0) {
                pos = 0;
                break;
            }
            size_t i = 0;
            for (; i < n && rc == RC_OK && out->n < o->count; i++) {
                budget--;
                pos = row[i].seq;
                if (now - row[i].last < o->min_idle_ms) continue;
                rc = claim_one(&q, name, member, &cr, o, row[i].seq, row[i].deliveries, now, out,
                               err);
                claimed++;
            }
            if (n < want && i == n) { /* ran off the end of the list */
                pos = 0;
                break;
            }
        }
        if (rc == RC_OK && next && pos) {
            /* The next cursor: the first pending seq after the last examined. */
            sqlite3_stmt *s = wq_get(&q, WQ_PEND_AFTER, err);
            if (!s) {
                rc = err->code;
            } else {
                sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, (sqlite3_int64)pos);
                sqlite3_bind_int64(s, 3, 1);
                if (sqlite3_step(s) == SQLITE_ROW) *next = (uint64_t)sqlite3_column_int64(s, 0);
                sqlite3_reset(s);
            }
        }
    }
    if (rc == RC_OK && !o->no_count)
        rc = counters(&q, name, 0, claimed, claimed, 0, 0, err);
    out->head_seq = rc_txn_last_seq(tx);
    out->read_seq = cr.read_seq;
done:
    wq_done(&q);
    free(cr.filter);
    return rc;
}

int rc_consumer_txn_names(rc_store *st, rc_txn *tx, const char *prefix, rc_consumer_mode mode,
                          int (*fn)(const char *name, void *arg), void *arg, rc_err *err) {
    (void)tx;
    if (!prefix || !fn) return rc_err_set(err, RC_INVALID, "txn names: missing argument");
    sqlite3_stmt *s = NULL;
    /* name is the primary key: one seek to the prefix, then in order */
    int r = sqlite3_prepare_v2(wconn(st),
                               "SELECT name FROM consumers WHERE name>=?1 AND mode=?2 ORDER BY name",
                               -1, &s, NULL);
    if (r != SQLITE_OK) return rc__sqlite_err(wconn(st), r, err, "txn names: preparing");
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)mode);
    size_t plen = strlen(prefix);
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        if (!name || strncmp(name, prefix, plen) != 0 || fn(name, arg)) {
            r = SQLITE_DONE;
            break;
        }
    }
    int rc = r == SQLITE_DONE ? RC_OK : rc__sqlite_err(wconn(st), r, err, "txn names");
    sqlite3_finalize(s);
    return rc;
}

int rc_consumer_txn_scan(rc_store *st, rc_txn *tx, const rc_query *qy, rc_stored_fn fn,
                         void *arg, rc_err *err) {
    (void)tx;
    if (!qy || !fn || qy->subject_prefix || qy->since_ms || qy->until_ms)
        return rc_err_set(err, RC_INVALID, "txn scan: only seq, type, source and subject bounds");
    char sql[512];
    rc__scan_sql(qy, sql, sizeof sql);
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(wconn(st), sql, -1, &s, NULL);
    if (r != SQLITE_OK) return rc__sqlite_err(wconn(st), r, err, "txn scan: preparing");
    rc__scan_bind(s, qy, NULL);
    if (qy->limit)
        sqlite3_bind_int64(s, 10, qy->limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)qy->limit);
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc_stored row;
        rc__stored_row(s, &row);
        if (fn(&row, arg)) {
            r = SQLITE_DONE;
            break;
        }
    }
    int rc = r == SQLITE_DONE ? RC_OK : rc__sqlite_err(wconn(st), r, err, "txn scan");
    sqlite3_finalize(s);
    return rc;
}

/* ---- reads -------------------------------------------------------------------------- */

#define INFO_SQL                                                                               \
    "SELECT name,mode,filter,start,read_seq,ack_seq,ack_wait_ms,max_deliver,created_ms,"       \
    "delivered,redelivered,acked,dead,"                                                        \
    "(SELECT count(*) FROM consumer_pending p WHERE p.consumer=c.name),"                       \
    "(SELECT max(seq) FROM events) FROM consumers c"

static int read_infos(rc_store *st, const char *name, rc_consumer_fn fn, void *arg, rc_err *err) {
    int rc;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    sqlite3_stmt *s;
    rc = rc__rconn_stmt(c, name ? INFO_SQL " WHERE name=?1" : INFO_SQL " ORDER BY name", &s, err);
    size_t found = 0;
    if (rc == RC_OK) {
        if (name) sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            rc_consumer_info in;
            memset(&in, 0, sizeof in);
            in.name = (const char *)sqlite3_column_text(s, 0);
            in.mode = sqlite3_column_int(s, 1);
            in.filter_json = (const char *)sqlite3_column_text(s, 2);
            in.start = (const char *)sqlite3_column_text(s, 3);
            in.read_seq = (uint64_t)sqlite3_column_int64(s, 4);
            in.ack_seq = (uint64_t)sqlite3_column_int64(s, 5);
            in.ack_wait_ms = sqlite3_column_int64(s, 6);
            in.max_deliver = sqlite3_column_int64(s, 7);
            in.created_ms = sqlite3_column_int64(s, 8);
            in.delivered = (uint64_t)sqlite3_column_int64(s, 9);
            in.redelivered = (uint64_t)sqlite3_column_int64(s, 10);
            in.acked = (uint64_t)sqlite3_column_int64(s, 11);
            in.dead = (uint64_t)sqlite3_column_int64(s, 12);
            in.pending = (uint64_t)sqlite3_column_int64(s, 13);
            in.head_seq = (uint64_t)sqlite3_column_int64(s, 14);
            in.lag = in.head_seq > in.ack_seq ? in.head_seq - in.ack_seq : 0;
            found++;
            if (fn && fn(&in, arg)) break;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = rc__sqlite_err(c->db, r, err, "consumer: reading");
        sqlite3_reset(s);
    }
    rc__rconn_end(st, c);
    if (rc == RC_OK && name && !found) rc = rc_err_set(err, RC_NOT_FOUND, "no consumer named %s", name);
    return rc;
}

int rc_consumer_get(rc_store *st, const char *name, rc_consumer_fn fn, void *arg, rc_err *err) {
    int rc = check_name("name", name, err);
    return rc ? rc : read_infos(st, name, fn, arg, err);
}

int rc_consumer_list(rc_store *st, rc_consumer_fn fn, void *arg, rc_err *err) {
    return read_infos(st, NULL, fn, arg, err);
}

/* A read of one consumer's rows on a pooled connection: BEGIN (one
 * snapshot for the existence check and the rows), then RC_NOT_FOUND if
 * there is no such consumer. On RC_OK the caller ends the transaction with
 * COMMIT and gives the connection back; on an error nothing is left open. */
static int read_consumer_begin(rc_store *st, const char *name, rc__rconn **out, rc_err *err) {
    int rc;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    *out = c;
    sqlite3_stmt *s;
    if ((rc = rc__rconn_stmt(c, "SELECT 1 FROM consumers WHERE name=?1", &s, err)) == RC_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_ROW) rc = rc_err_set(err, RC_NOT_FOUND, "no consumer named %s", name);
        sqlite3_reset(s);
    }
    if (rc) rc__rconn_end(st, c);
    return rc;
}

int rc_consumer_pending_list(rc_store *st, const char *name, const char *member, uint64_t after,
                             size_t limit, rc_consumer_pending_fn fn, void *arg, rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    if (member && (rc = check_name("member", member, err))) return rc;
    rc__rconn *c;
    if ((rc = read_consumer_begin(st, name, &c, err))) return rc;
    sqlite3_stmt *s;
    if ((rc = rc__rconn_stmt(c,
                             member ? "SELECT seq,member,deliveries,last_ms,due_ms FROM "
                                      "consumer_pending WHERE consumer=?1 AND seq>?2 AND "
                                      "member=?4 ORDER BY seq LIMIT ?3"
                                    : "SELECT seq,member,deliveries,last_ms,due_ms FROM "
                                      "consumer_pending WHERE consumer=?1 AND seq>?2 "
                                      "ORDER BY seq LIMIT ?3",
                             &s, err)) == RC_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)(after > (uint64_t)INT64_MAX ? INT64_MAX : after));
        sqlite3_bind_int64(s, 3, limit ? (sqlite3_int64)limit : -1);
        if (member) sqlite3_bind_text(s, 4, member, -1, SQLITE_STATIC);
        int64_t now = rc__now_ms();
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            rc_consumer_pending p;
            p.seq = (uint64_t)sqlite3_column_int64(s, 0);
            p.member = (const char *)sqlite3_column_text(s, 1);
            p.deliveries = (uint32_t)sqlite3_column_int64(s, 2);
            p.last_ms = sqlite3_column_int64(s, 3);
            p.due_ms = sqlite3_column_int64(s, 4);
            p.idle_ms = now > p.last_ms ? now - p.last_ms : 0;
            if (fn(&p, arg)) break;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = rc__sqlite_err(c->db, r, err, "consumer: reading pending");
        sqlite3_reset(s);
    }
    rc__rconn_end(st, c);
    return rc;
}

int rc_consumer_members(rc_store *st, const char *name, rc_consumer_member_fn fn, void *arg,
                        rc_err *err) {
    int rc = check_name("name", name, err);
    if (rc) return rc;
    rc__rconn *c;
    if ((rc = read_consumer_begin(st, name, &c, err))) return rc;
    sqlite3_stmt *s;
    if ((rc = rc__rconn_stmt(c, "SELECT member,seen_ms,active_ms FROM consumer_members "
                                "WHERE consumer=?1 ORDER BY member", &s, err)) == RC_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            rc_consumer_member m;
            m.member = (const char *)sqlite3_column_text(s, 0);
            m.seen_ms = sqlite3_column_int64(s, 1);
            m.active_ms = sqlite3_column_int64(s, 2);
            if (fn(&m, arg)) break;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = rc__sqlite_err(c->db, r, err, "consumer: reading members");
        sqlite3_reset(s);
    }
    rc__rconn_end(st, c);
    return rc;
}

/* ---- JSON request bodies ------------------------------------------------------------ */

void rc_consumer_req_free(rc_consumer_req *r) {
    free(r->seqs);
    rc_buf_free(&r->strs);
    memset(r, 0, sizeof *r);
}

static int allowed_member(const char *allowed, const char *name) {
    size_t n = strlen(name);
    for (const char *p = allowed; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !memcmp(p, name, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* An integer member: non-negative, integral, within max. */
static int json_int(const cJSON *m, int64_t max, int64_t *out, rc_err *err) {
    if (!cJSON_IsNumber(m) || m->valuedouble < 0 || m->valuedouble > (double)max ||
        m->valuedouble != (double)(int64_t)m->valuedouble)
        return rc_err_set(err, RC_INVALID, "%s: must be an integer from 0 to %" PRId64, m->string,
                          max);
    *out = (int64_t)m->valuedouble;
    return RC_OK;
}

int rc_consumer_req_parse(const char *json, size_t len, const char *allowed, rc_consumer_req *out,
                          rc_err *err) {
    memset(out, 0, sizeof *out);
    rc_consumer_opts def = RC_CONSUMER_OPTS_INIT;
    out->opts = def;
    out->delay_ms = out->min_idle_ms = out->count = -1;
    rc_buf_init(&out->strs);
    if (len > RC_FILTER_MAX_JSON + 4096)
        return rc_err_set(err, RC_TOO_LARGE, "body: larger than %d bytes", RC_FILTER_MAX_JSON + 4096);
    cJSON *root = len ? cJSON_ParseWithLength(json, len) : cJSON_CreateObject();
    int rc = RC_OK;
    /* String members are collected as offsets first: strs may move. */
    enum { S_NAME, S_MODE, S_START, S_FILTER, S_MEMBER, S__N };
    size_t soff[S__N];
    int have[S__N] = {0};
    if (!root || !cJSON_IsObject(root)) {
        rc = rc_err_set(err, RC_INVALID, "body: must be a JSON object");
        goto done;
    }
    for (cJSON *m = root->child; m; m = m->next) {
        if (!allowed_member(allowed, m->string)) {
            rc = rc_err_set(err, RC_INVALID, "%.40s: unknown member here (allowed: %s)", m->string,
                            allowed);
            goto done;
        }
        static const struct { const char *name; int slot; } strs[] = {
            {"name", S_NAME}, {"mode", S_MODE}, {"start", S_START}, {"member", S_MEMBER}};
        int slot = -1;
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
            if (!strcmp(m->string, strs[i].name)) slot = strs[i].slot;
        if (slot >= 0) {
            if (!cJSON_IsString(m)) {
                rc = rc_err_set(err, RC_INVALID, "%s: must be a string", m->string);
                goto done;
            }
            soff[slot] = out->strs.len;
            have[slot] = 1;
            rc_buf_append(&out->strs, m->valuestring, strlen(m->valuestring) + 1);
        } else if (!strcmp(m->string, "filter") || !strcmp(m->string, "filters")) {
            int whole = !strcmp(m->string, "filter");
            if (have[S_FILTER]) {
                rc = rc_err_set(err, RC_INVALID, "filter, filters: give one of them");
                goto done;
            }
            if (whole ? !cJSON_IsObject(m) : !(cJSON_IsArray(m) || cJSON_IsObject(m))) {
                rc = rc_err_set(err, RC_INVALID, whole ? "filter: must be an object"
                                                       : "filters: must be an array");
                goto done;
            }
            char *t = cJSON_PrintUnformatted(m);
            if (!t) {
                rc = rc_err_set(err, RC_NOMEM, "out of memory");
                goto done;
            }
            soff[S_FILTER] = out->strs.len;
            have[S_FILTER] = 1;
            if (!whole) rc_buf_puts(&out->strs, "{\"filters\":");
            rc_buf_puts(&out->strs, t);
            if (!whole) rc_buf_putc(&out->strs, '}');
            rc_buf_putc(&out->strs, '\0');
            cJSON_free(t);
        } else if (!strcmp(m->string, "seqs")) {
            int n = cJSON_GetArraySize(m);
            if (!cJSON_IsArray(m) || n > RC_CONSUMER_FETCH_MAX) {
                rc = rc_err_set(err, RC_INVALID, "seqs: must be an array of at most %d seqs",
                                RC_CONSUMER_FETCH_MAX);
                goto done;
            }
            free(out->seqs);
            if (!(out->seqs = calloc((size_t)n + 1, sizeof *out->seqs))) {
                rc = rc_err_set(err, RC_NOMEM, "out of memory");
                goto done;
            }
            int i = 0;
            for (cJSON *e = m->child; e; e = e->next, i++) {
                if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 9007199254740991.0 ||
                    e->valuedouble != (double)(int64_t)e->valuedouble) {
                    rc = rc_err_set(err, RC_INVALID, "seqs[%d]: must be a positive integer", i);
                    goto done;
                }
                out->seqs[i] = (uint64_t)e->valuedouble;
            }
            out->n_seqs = (size_t)n;
        } else {
            static const struct { const char *name; int64_t max; size_t off; } nums[] = {
                {"ack_wait_ms", MAX_WAIT_MS, offsetof(rc_consumer_req, opts.ack_wait_ms)},
                {"max_deliver", MAX_DELIVER_LIMIT, offsetof(rc_consumer_req, opts.max_deliver)},
                {"delay_ms", MAX_WAIT_MS, offsetof(rc_consumer_req, delay_ms)},
                {"min_idle_ms", MAX_WAIT_MS, offsetof(rc_consumer_req, min_idle_ms)},
                {"count", RC_CONSUMER_FETCH_MAX, offsetof(rc_consumer_req, count)},
            };
            size_t i = 0;
            while (i < sizeof nums / sizeof nums[0] && strcmp(nums[i].name, m->string)) i++;
            if (i == sizeof nums / sizeof nums[0]) {
                rc = rc_err_set(err, RC_INVALID, "%.40s: unknown member", m->string);
                goto done;
            }
            if ((rc = json_int(m, nums[i].max, (int64_t *)((char *)out + nums[i].off), err)))
                goto done;
        }
    }
    const char **dst[S__N] = {&out->opts.name, NULL, &out->opts.start, &out->opts.filter_json,
                              &out->member};
    for (int i = 0; i < S__N; i++)
        if (have[i] && dst[i]) *dst[i] = out->strs.p + soff[i];
    if (have[S_MODE] && rc_consumer_mode_parse(out->strs.p + soff[S_MODE], &out->opts.mode)) {
        rc = rc_err_set(err, RC_INVALID, "mode: must be cursor or group");
        goto done;
    }
done:
    cJSON_Delete(root);
    if (rc != RC_OK) rc_consumer_req_free(out);
    return rc;
}

/* ---- the read path --------------------------------------------------------------------- */

/* What a read records on the writer, after the fact (see consumer.h). */
typedef struct note_ctx {
    rc_store *st;
    uint64_t read_seq, ack_to;
    int64_t delivered, redelivered;
    char name[];
} note_ctx;

#define NOTE_SQL                                                                               \
    "UPDATE consumers SET read_seq=max(read_seq,?2),delivered=delivered+?3,"                  \
    "redelivered=redelivered+?4,ack_seq=max(ack_seq,?5) WHERE name=?1 AND mode=1 AND "         \
    "ack_wait_ms=0 AND max_deliver=0"

static int note_fn(rc_txn *tx, void *arg, rc_err *err) {
    (void)tx;
    note_ctx *c = arg;
    wq q = {.st = c->st};
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(wconn(c->st), NOTE_SQL, -1, &s, NULL);
    if (r != SQLITE_OK) return rc__sqlite_err(wconn(c->st), r, err, "consumer: recording a read");
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)c->read_seq);
    sqlite3_bind_int64(s, 3, c->delivered);
    sqlite3_bind_int64(s, 4, c->redelivered);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)c->ack_to);
    r = sqlite3_step(s);
    sqlite3_finalize(s);
    if (r != SQLITE_DONE) return rc__sqlite_err(wconn(c->st), r, err, "consumer: recording a read");
    int rc = RC_OK;
    if (c->ack_to) {
        /* Rows a lease fetch left below the new ack position are finished
         * (ack_seq never passes a pending event). */
        sqlite3_stmt *d = wq_get(&q, WQ_PEND_DEL_UPTO, err);
        if (!d) rc = err->code;
        else {
            sqlite3_bind_text(d, 1, c->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(d, 2, (sqlite3_int64)c->ack_to);
            rc = wq_exec(&q, d, err, "consumer: recording a read");
        }
    }
    wq_done(&q);
    return rc;
}

/* Record a read. A failure only loses bookkeeping (the position that
 * matters, ack_seq, moves on ack), so it is not reported. Synchronous, so
 * that the next read sees it (delivery counts). */
static void note_read(rc_store *st, const char *name, uint64_t read_seq, uint64_t ack_to,
                      int64_t delivered, int64_t redelivered) {
    size_t len = strlen(name) + 1;
    note_ctx *c = malloc(sizeof *c + len);
    if (!c) return;
    c->st = st;
    c->read_seq = read_seq;
    c->ack_to = ack_to;
    c->delivered = delivered;
    c->redelivered = redelivered;
    memcpy(c->name, name, len);
    rc_err e;
    rc_store_txn(st, note_fn, c, &e);
    free(c);
}

int rc_consumer_read(rc_store *st, const char *name, const rc_consumer_read_opts *o,
                     rc_consumer_row_fn fn, void *arg, rc_consumer_read_res *res, rc_err *err) {
    memset(res, 0, sizeof *res);
    int rc = check_name("name", name, err);
    if (rc) return rc;
    if (!o || !fn || o->limit < 1 || o->limit > RC_CONSUMER_FETCH_MAX)
        return rc_err_set(err, RC_INVALID, "limit: must be from 1 to %d", RC_CONSUMER_FETCH_MAX);
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    rc__cfilter f;
    memset(&f, 0, sizeof f);
    scan_sql sq = {RC_BUF_INIT, NULL};
    sqlite3_stmt *s;
    if ((rc = rc__rconn_stmt(c, "SELECT mode,filter,read_seq,ack_seq,ack_wait_ms,max_deliver "
                                "FROM consumers WHERE name=?1",
                             &s, err)))
        goto done;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r != SQLITE_ROW) {
        sqlite3_reset(s);
        rc = r == SQLITE_DONE ? rc_err_set(err, RC_NOT_FOUND, "no consumer named %s", name)
                              : rc__sqlite_err(c->db, r, err, "consumer: reading");
        goto done;
    }
    res->mode = sqlite3_column_int(s, 0);
    res->read_seq = (uint64_t)sqlite3_column_int64(s, 2);
    res->ack_seq = (uint64_t)sqlite3_column_int64(s, 3);
    res->plain = res->mode == RC_CONSUMER_CURSOR && sqlite3_column_int64(s, 4) == 0 &&
                 sqlite3_column_int64(s, 5) == 0;
    const char *fj = (const char *)sqlite3_column_text(s, 1);
    rc = rc__cfilter_parse(fj, strlen(fj), &f, NULL, err);
    sqlite3_reset(s);
    if (rc || (o->fetch && !res->plain)) goto done;
    uint64_t upto = atomic_load(&st->pub_head), after = o->after ? o->after : res->ack_seq;
    uint64_t old_read = res->read_seq;
    res->head_seq = upto;
    res->last = after;
    if ((rc = rc__trimmed_check(c->db, after, err))) goto done;
    if (after >= upto) goto done;
    if ((rc = scan_build(&f, 1, &sq, err)) || (rc = rc__rconn_stmt(c, sq.sql.p, &s, err))) goto done;
    size_t budget = f.f ? (o->limit > SCAN_BUDGET ? o->limit : SCAN_BUDGET) : o->limit;
    scan_bind(s, &sq, &f, name, after, upto, budget);
    size_t rows = 0, redone = 0;
    uint64_t first = 0, last = after;
    int stopped = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rows++;
        rc_consumer_row row;
        row.seq = (uint64_t)sqlite3_column_int64(s, 0);
        row.json = (const char *)sqlite3_column_text(s, 1);
        row.len = (size_t)sqlite3_column_bytes(s, 1);
        if (!row_passes(&f, row.seq, row.json, row.len)) {
            last = row.seq;
            continue;
        }
        row.deliveries = row.seq <= old_read ? 2 : 1;
        if (fn(&row, arg)) {
            stopped = 1;
            break;
        }
        last = row.seq;
        if (!first) first = row.seq;
        if (row.deliveries > 1) redone++;
        if (++res->n == o->limit) {
            stopped = 1;
            break;
        }
    }
    sqlite3_reset(s);
    if (!stopped && r != SQLITE_DONE) {
        rc = rc__sqlite_err(c->db, r, err, "consumer: scanning the log");
        goto done;
    }
    /* A scan that ran dry examined everything up to the head it read. */
    res->last = (!stopped && rows < budget) ? upto : last;
    if (res->last > res->read_seq) res->read_seq = res->last;
    /* Only a cursor without a pending list: for a leasing consumer read_seq
     * means "examined and leased", which a plain read must not claim. */
    if (o->note && res->plain) {
        /* A fetch from the ack position: the events before the first one
         * handed out were all skipped by the filter, so they are finished. */
        uint64_t ack_to = 0;
        if (o->fetch && !o->after) ack_to = res->n && !o->ack ? first - 1 : res->last;
        if (ack_to <= res->ack_seq) ack_to = 0;
        if (res->n || ack_to || res->read_seq > old_read)
            note_read(st, name, res->read_seq, ack_to, (int64_t)res->n, (int64_t)redone);
    }
done:
    scan_free(&sq);
    rc__cfilter_free(&f);
    rc__rconn_end(st, c);
    return rc;
}
