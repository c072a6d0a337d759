/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the KV view: single keys, ranges and prefixes (optionally with a
 * Redis glob), counts, hash fields, list ranges, and reads "as of" a past
 * seq, which are rebuilt from the log by replaying the key's KV events with
 * the rules of kvapply.c.
 *
 * Keys whose expiry has passed are invisible even before active expiry
 * removes them. As-of reads judge expiry by the time of the event at the
 * as-of seq. Reads run in one read transaction on a pooled connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- Redis glob --------------------------------------------------------- */

/* Does the single-character token at p[*pi] match c? Advances *pi past the
 * token when it does. */
static int glob_one(const char *p, size_t plen, size_t *pi, unsigned char c) {
    size_t i = *pi;
    unsigned char t = (unsigned char)p[i];
    if (t == '?') {
        *pi = i + 1;
        return 1;
    }
    if (t == '\\' && i + 1 < plen) {
        if ((unsigned char)p[i + 1] != c) return 0;
        *pi = i + 2;
        return 1;
    }
    if (t != '[') {
        if (t != c) return 0;
        *pi = i + 1;
        return 1;
    }
    i++;
    int neg = 0, hit = 0;
    if (i < plen && p[i] == '^') {
        neg = 1;
        i++;
    }
    /* An unterminated class ends at the end of the pattern (as in Redis). */
    while (i < plen && p[i] != ']') {
        if (p[i] == '\\' && i + 1 < plen) {
            if ((unsigned char)p[i + 1] == c) hit = 1;
            i += 2;
        } else if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
            unsigned char a = (unsigned char)p[i], b = (unsigned char)p[i + 2];
            if (a > b) {
                unsigned char x = a;
                a = b;
                b = x;
            }
            if (c >= a && c <= b) hit = 1;
            i += 3;
        } else {
            if ((unsigned char)p[i] == c) hit = 1;
            i++;
        }
    }
    if (i < plen) i++; /* the ']' */
    if (neg) hit = !hit;
    if (!hit) return 0;
    *pi = i;
    return 1;
}

/* Iterative matcher: on a mismatch resume after the last '*', one more
 * character consumed by it. Linear in practice, O(plen*slen) worst case,
 * never exponential (hostile patterns come from clients). */
int rc__glob(const char *p, size_t plen, const char *s, size_t slen) {
    size_t pi = 0, si = 0, star = SIZE_MAX, star_si = 0;
    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            star = ++pi;
            star_si = si;
            continue;
        }
        if (pi < plen && glob_one(p, plen, &pi, (unsigned char)s[si])) {
            si++;
            continue;
        }
        if (star == SIZE_MAX) return 0;
        pi = star;
        si = ++star_si;
    }
    while (pi < plen && p[pi] == '*') pi++;
    return pi == plen;
}

/* ---- helpers ------------------------------------------------------------ */

static int int_query(rc__rconn *c, const char *sql, int64_t a, int64_t *out, rc_err *err) {
    sqlite3_stmt *s;
    int rc = rc__rconn_stmt(c, sql, &s, err);
    if (rc) return rc;
    sqlite3_bind_int64(s, 1, a);
    int r = sqlite3_step(s);
    *out = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return rc__sqlite_err(c->db, r, err, "reading");
    return RC_OK;
}

#define KV_COLS "key,kind,value,ctype,size,create_seq,mod_seq,version,expire_ms"
#define KV_COLS_NOVAL "key,kind,NULL,ctype,size,create_seq,mod_seq,version,expire_ms"
#define VISIBLE "(expire_ms=0 OR expire_ms>?1)"

static void entry_from_row(sqlite3_stmt *s, rc_kv_entry *e) {
    memset(e, 0, sizeof *e);
    e->key = (const char *)sqlite3_column_text(s, 0);
    e->key_len = (size_t)sqlite3_column_bytes(s, 0);
    e->kind = (rc_kv_kind)sqlite3_column_int(s, 1);
    if (e->kind == RC_KV_STRING && sqlite3_column_type(s, 2) != SQLITE_NULL) {
        e->value = sqlite3_column_blob(s, 2);
        e->value_len = (size_t)sqlite3_column_bytes(s, 2);
        if (!e->value) e->value = "";
    } else {
        e->value_len = (size_t)sqlite3_column_int64(s, 4);
    }
    e->ctype = (const char *)sqlite3_column_text(s, 3);
    e->create_seq = (uint64_t)sqlite3_column_int64(s, 5);
    e->mod_seq = (uint64_t)sqlite3_column_int64(s, 6);
    e->version = (uint64_t)sqlite3_column_int64(s, 7);
    e->expire_ms = sqlite3_column_int64(s, 8);
}

/* ---- as-of replay ------------------------------------------------------- */

typedef struct kvstate {
    int exists, kind;
    rc_buf value;
    char *ctype;
    int64_t size, create, mod, version, expire;
    char **fields;            /* hash field names (membership only) */
    size_t *flen;
    size_t nf, capf;
} kvstate;

static void state_clear(kvstate *k) {
    rc_buf_free(&k->value);
    free(k->ctype);
    for (size_t i = 0; i < k->nf; i++) free(k->fields[i]);
    free(k->fields);
    free(k->flen);
    memset(k, 0, sizeof *k);
}

static long field_find(const kvstate *k, const char *f, size_t n) {
    for (size_t i = 0; i < k->nf; i++)
        if (k->flen[i] == n && memcmp(k->fields[i], f, n) == 0) return (long)i;
    return -1;
}

static int field_add(kvstate *k, const char *f, size_t n) {
    if (field_find(k, f, n) >= 0) return 0;
    if (k->nf == k->capf) {
        size_t cap = k->capf ? k->capf * 2 : 8;
        char **a = realloc(k->fields, cap * sizeof *a);
        if (!a) return -1;
        k->fields = a;
        size_t *l = realloc(k->flen, cap * sizeof *l);
        if (!l) return -1;
        k->flen = l;
        k->capf = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, f, n);
    c[n] = '\0';
    k->fields[k->nf] = c;
    k->flen[k->nf++] = n;
    return 1;
}

typedef struct hrow {
    uint64_t seq;
    int64_t time_ms;
    char *subject;
    char *payload;
    size_t len;
} hrow;

static void hrows_free(hrow *h, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(h[i].subject);
        free(h[i].payload);
    }
    free(h);
}

#define REPLAY_SQL                                                                         \
    "SELECT seq,time_ms,subject,payload FROM events WHERE subject=?1 AND type>='" RC_KV_PREFIX \
    "' AND type<'" RC_KV_PREFIX_END "' AND seq<=?2 "                                        \
    "UNION ALL SELECT e.seq,e.time_ms,e.subject,e.payload FROM kv_renames r "               \
    "JOIN events e ON e.seq=r.seq WHERE r.newkey=?1 AND r.seq<=?2 ORDER BY 1"

/* Load the KV events touching key up to seq `upto` (owned copies, so that
 * replaying a rename source may reuse the statement). */
static int load_history(rc__rconn *c, const char *key, uint64_t upto, hrow **out, size_t *n,
                        rc_err *err) {
    sqlite3_stmt *s;
    int rc = rc__rconn_stmt(c, REPLAY_SQL, &s, err);
    *out = NULL;
    *n = 0;
    if (rc) return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)upto);
    size_t cap = 0;
    hrow *h = NULL;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            hrow *p = realloc(h, cap * sizeof *p);
            if (!p) {
                rc = rc_err_set(err, RC_NOMEM, "out of memory");
                break;
            }
            h = p;
        }
        hrow *row = &h[*n];
        row->seq = (uint64_t)sqlite3_column_int64(s, 0);
        row->time_ms = sqlite3_column_int64(s, 1);
        row->subject = strdup((const char *)sqlite3_column_text(s, 2));
        row->len = (size_t)sqlite3_column_bytes(s, 3);
        row->payload = malloc(row->len + 1);
        if (!row->subject || !row->payload) {
            free(row->subject);
            free(row->payload);
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
            break;
        }
        memcpy(row->payload, sqlite3_column_text(s, 3), row->len);
        row->payload[row->len] = '\0';
        (*n)++;
    }
    sqlite3_reset(s);
    if (!rc && r != SQLITE_DONE) rc = rc__sqlite_err(c->db, r, err, "reading key history");
    if (rc) {
        hrows_free(h, *n);
        *n = 0;
        return rc;
    }
    *out = h;
    return RC_OK;
}

static int replay(rc__rconn *c, const char *key, uint64_t upto, kvstate *k, rc_err *err);

/* Apply one stored event to the replayed state: kvapply.c's rules. */
static int replay_one(rc__rconn *c, const char *key, const hrow *h, const rc_event *ev,
                      kvstate *k, rc_err *err) {
    uint64_t seq = h->seq;
    const char *op = ev->type + RC_KV_PREFIX_LEN;
    int rc = RC_OK;
    if (k->exists && k->expire > 0 && k->expire <= h->time_ms) state_clear(k);
    if (strcmp(h->subject, key) != 0) {
        /* A rename that moved h->subject into key. */
        kvstate src;
        memset(&src, 0, sizeof src);
        if ((rc = replay(c, h->subject, seq - 1, &src, err))) return rc;
        if (src.exists && src.expire > 0 && src.expire <= h->time_ms) state_clear(&src);
        if (src.exists) {
            state_clear(k);
            *k = src;
            k->create = k->mod = (int64_t)seq;
            k->version = 1;
        } else {
            state_clear(&src);
        }
        return RC_OK;
    }
    if (strcmp(op, "put") == 0) {
        int64_t expire;
        if (rc__kv_expires(ev, &expire, err) != RC_OK) return RC_OK; /* was refused */
        if (k->exists && rc__kv_ext_bool(ev, "keepttl")) expire = k->expire;
        int existed = k->exists;
        int64_t create = k->create, version = k->version;
        state_clear(k);
        k->exists = 1;
        k->kind = RC_KV_STRING;
        rc_buf_append(&k->value, ev->data ? (const void *)ev->data : "", ev->data_len);
        k->ctype = ev->datacontenttype ? strdup(ev->datacontenttype) : NULL;
        k->size = (int64_t)ev->data_len;
        k->create = existed ? create : (int64_t)seq;
        k->version = existed ? version + 1 : 1;
        k->mod = (int64_t)seq;
        k->expire = expire;
    } else if (strcmp(op, "delete") == 0 || strcmp(op, "expired") == 0) {
        state_clear(k);
    } else if (strcmp(op, "expire") == 0) {
        int64_t expire;
        if (rc__kv_expires(ev, &expire, err) != RC_OK) return RC_OK;
        if (k->exists) {
            k->expire = expire;
            k->mod = (int64_t)seq;
            k->version++;
        }
    } else if (strcmp(op, "rename") == 0) {
        const rc_ext *x = rc_event_ext(ev, "newkey");
        if (k->exists && x && x->s && strcmp(x->s, key) != 0) state_clear(k);
    } else if (strcmp(op, "hset") == 0 || strcmp(op, "hdel") == 0) {
        int set = op[1] == 's';
        rc__kvitems it;
        if (rc__kvjson_parse(ev->data, ev->data_len, set, &it, err) != RC_OK) {
            rc__kvitems_free(&it);
            return RC_OK;
        }
        if (set) {
            if (!k->exists) {
                k->exists = 1;
                k->kind = RC_KV_HASH;
                k->create = (int64_t)seq;
                k->version = 0;
            }
            for (size_t i = 0; i + 1 < it.n; i += 2) {
                int a = field_add(k, it.p[i], it.len[i]);
                if (a < 0) rc = rc_err_set(err, RC_NOMEM, "out of memory");
                k->size += a > 0;
            }
            k->mod = (int64_t)seq;
            k->version++;
        } else if (k->exists) {
            int64_t removed = 0;
            for (size_t i = 0; i < it.n; i++) {
                long f = field_find(k, it.p[i], it.len[i]);
                if (f < 0) continue;
                free(k->fields[f]);
                k->fields[f] = k->fields[k->nf - 1];
                k->flen[f] = k->flen[k->nf - 1];
                k->nf--;
                removed++;
            }
            if (removed) {
                k->size -= removed;
                if (k->size <= 0) state_clear(k);
                else {
                    k->mod = (int64_t)seq;
                    k->version++;
                }
            }
        }
        rc__kvitems_free(&it);
    } else if (strcmp(op, "lpush") == 0 || strcmp(op, "rpush") == 0) {
        rc__kvitems it;
        if (rc__kvjson_parse(ev->data, ev->data_len, 0, &it, err) == RC_OK) {
            if (!k->exists) {
                k->exists = 1;
                k->kind = RC_KV_LIST;
                k->create = (int64_t)seq;
                k->version = 0;
            }
            k->size += (int64_t)it.n;
            k->mod = (int64_t)seq;
            k->version++;
        }
        rc__kvitems_free(&it);
    } else if (strcmp(op, "lpop") == 0 || strcmp(op, "rpop") == 0) {
        int64_t count;
        if (rc__kv_ext_int(ev, "count", 1, &count, err) != RC_OK || count <= 0 || !k->exists)
            return RC_OK;
        if (count >= k->size) state_clear(k);
        else {
            k->size -= count;
            k->mod = (int64_t)seq;
            k->version++;
        }
    }
    return rc;
}

static int replay(rc__rconn *c, const char *key, uint64_t upto, kvstate *k, rc_err *err) {
    hrow *h;
    size_t n;
    int rc = load_history(c, key, upto, &h, &n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        rc_event *ev = NULL;
        rc_err derr;
        if (rc_event_decode_json(h[i].payload, h[i].len, &ev, &derr) != RC_OK) {
            rc = rc_err_set(err, RC_IO, "seq %llu: stored event does not decode: %s",
                            (unsigned long long)h[i].seq, rc_err_msg(&derr));
            break;
        }
        rc = replay_one(c, key, &h[i], ev, k, err);
        rc_event_free(ev);
    }
    hrows_free(h, n);
    return rc;
}

/* Time of the as-of point: the time of the latest event at or before it. */
static int asof_time(rc__rconn *c, uint64_t as_of, int64_t *t, rc_err *err) {
    return int_query(c, "SELECT time_ms FROM events WHERE seq<=?1 ORDER BY seq DESC LIMIT 1",
                     (int64_t)as_of, t, err);
}

/* 1 when as_of is at or past the head (read the live view instead). */
static int asof_check(rc__rconn *c, uint64_t as_of, int *live, rc_err *err) {
    int64_t head, first;
    int rc;
    if ((rc = int_query(c, "SELECT max(seq) FROM events WHERE ?1", 1, &head, err)) ||
        (rc = int_query(c, "SELECT min(seq) FROM events WHERE ?1", 1, &first, err)))
        return rc;
    *live = as_of >= (uint64_t)head;
    if (first > 1 && as_of < (uint64_t)first)
        return rc_err_set(err, RC_TRIMMED,
                          "seq %llu is no longer stored (retention); the earliest stored seq is %lld",
                          (unsigned long long)as_of, (long long)first);
    return RC_OK;
}

static int state_visible(const kvstate *k, int64_t t) {
    return k->exists && !(k->expire > 0 && k->expire <= t);
}

static void entry_from_state(const char *key, const kvstate *k, int keys_only, rc_kv_entry *e) {
    memset(e, 0, sizeof *e);
    e->key = key;
    e->key_len = strlen(key);
    e->kind = (rc_kv_kind)k->kind;
    if (k->kind == RC_KV_STRING && !keys_only) {
        e->value = k->value.p ? k->value.p : "";
        e->value_len = k->value.len;
    } else {
        e->value_len = (size_t)k->size;
    }
    e->ctype = k->ctype;
    e->create_seq = (uint64_t)k->create;
    e->mod_seq = (uint64_t)k->mod;
    e->version = (uint64_t)k->version;
    e->expire_ms = k->expire;
}

/* ---- public reads ------------------------------------------------------- */

int rc_store_kv_get(rc_store *st, const char *key, uint64_t as_of, rc_kv_fn fn, void *arg,
                    rc_err *err) {
    if (!st || !key || !fn) return rc_err_set(err, RC_INVALID, "kv get: missing argument");
    int rc, live = 1;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    if (as_of && (rc = asof_check(c, as_of, &live, err))) goto out;
    if (live) {
        sqlite3_stmt *s;
        if ((rc = rc__rconn_stmt(c, "SELECT " KV_COLS " FROM kv WHERE key=?2 AND " VISIBLE, &s, err)))
            goto out;
        sqlite3_bind_int64(s, 1, rc__now_ms());
        sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            rc_kv_entry e;
            entry_from_row(s, &e);
            fn(&e, arg);
        } else if (r == SQLITE_DONE) {
            rc = rc_err_set(err, RC_NOT_FOUND, "no such key");
        } else {
            rc = rc__sqlite_err(c->db, r, err, "reading key");
        }
        sqlite3_reset(s);
    } else {
        kvstate k;
        int64_t t;
        memset(&k, 0, sizeof k);
        if (!(rc = asof_time(c, as_of, &t, err)) && !(rc = replay(c, key, as_of, &k, err))) {
            if (state_visible(&k, t)) {
                rc_kv_entry e;
                entry_from_state(key, &k, 0, &e);
                fn(&e, arg);
            } else {
                rc = rc_err_set(err, RC_NOT_FOUND, "no such key at seq %llu", (unsigned long long)as_of);
            }
        }
        state_clear(&k);
    }
out:
    rc__rconn_end(st, c);
    return rc;
}

typedef struct range_bounds {
    const char *lo, *hi;      /* key range */
    const char *plo;          /* prefix */
    char *phi;                /* prefix end (owned), NULL = open */
} range_bounds;

static int bounds_of(const rc_kv_query *q, range_bounds *b, rc_err *err) {
    memset(b, 0, sizeof *b);
    b->lo = q->key;
    b->hi = q->end;
    if (q->prefix) {
        b->plo = q->prefix;
        b->phi = malloc(strlen(q->prefix) + 1);
        if (!b->phi) return rc_err_set(err, RC_NOMEM, "out of memory");
        if (!rc__prefix_end(q->prefix, b->phi)) {
            free(b->phi);
            b->phi = NULL;
        }
    }
    return RC_OK;
}

/* Count or visit the keys of q. fn NULL: count only. */
static int kv_walk(rc_store *st, const rc_kv_query *q, rc_kv_fn fn, void *arg, uint64_t *count,
                   rc_err *err) {
    if (!st || !q) return rc_err_set(err, RC_INVALID, "kv range: missing argument");
    if (q->kind < 0 || q->kind > RC_KV_LIST) return rc_err_set(err, RC_INVALID, "kv range: bad kind");
    range_bounds b;
    int rc = bounds_of(q, &b, err);
    if (rc) return rc;
    size_t glen = q->glob ? strlen(q->glob) : 0;
    uint64_t seen = 0;
    int live = 1;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) {
        free(b.phi);
        return rc;
    }
    if (q->as_of && (rc = asof_check(c, q->as_of, &live, err))) goto out;
    char sql[512];
    sqlite3_stmt *s;
    if (live && !fn && !q->glob) {
        /* Plain count: let SQLite count in the index. */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT 1 FROM kv WHERE " VISIBLE
                 "%s%s%s%s%s%s)",
                 b.lo ? " AND key>=?2" : "", b.hi ? " AND key<?3" : "", b.plo ? " AND key>=?4" : "",
                 b.phi ? " AND key<?5" : "", q->kind ? " AND kind=?6" : "", q->limit ? " LIMIT ?7" : "");
    } else if (live) {
        snprintf(sql, sizeof sql, "SELECT %s FROM kv WHERE " VISIBLE "%s%s%s%s%s ORDER BY key%s%s",
                 q->keys_only || !fn ? KV_COLS_NOVAL : KV_COLS, b.lo ? " AND key>=?2" : "",
                 b.hi ? " AND key<?3" : "", b.plo ? " AND key>=?4" : "", b.phi ? " AND key<?5" : "",
                 q->kind ? " AND kind=?6" : "", q->desc ? " DESC" : "",
                 q->limit && !q->glob ? " LIMIT ?7" : "");
    } else {
        /* Every key that any KV event up to as_of touched, by subject or as
         * a rename target; each is then replayed. */
        snprintf(sql, sizeof sql,
                 "SELECT subject FROM events WHERE subject IS NOT NULL AND type>='" RC_KV_PREFIX
                 "' AND type<'" RC_KV_PREFIX_END "' AND seq<=?1%s%s%s%s "
                 "UNION SELECT newkey FROM kv_renames WHERE seq<=?1%s%s%s%s ORDER BY 1%s",
                 b.lo ? " AND subject>=?2" : "", b.hi ? " AND subject<?3" : "",
                 b.plo ? " AND subject>=?4" : "", b.phi ? " AND subject<?5" : "",
                 b.lo ? " AND newkey>=?2" : "", b.hi ? " AND newkey<?3" : "",
                 b.plo ? " AND newkey>=?4" : "", b.phi ? " AND newkey<?5" : "",
                 q->desc ? " DESC" : "");
    }
    if ((rc = rc__rconn_stmt(c, sql, &s, err))) goto out;
    sqlite3_bind_int64(s, 1, live ? rc__now_ms() : (sqlite3_int64)q->as_of);
    if (b.lo) sqlite3_bind_text(s, 2, b.lo, -1, SQLITE_STATIC);
    if (b.hi) sqlite3_bind_text(s, 3, b.hi, -1, SQLITE_STATIC);
    if (b.plo) sqlite3_bind_text(s, 4, b.plo, -1, SQLITE_STATIC);
    if (b.phi) sqlite3_bind_text(s, 5, b.phi, -1, SQLITE_STATIC);
    if (q->kind) sqlite3_bind_int(s, 6, q->kind);
    if (q->limit) sqlite3_bind_int64(s, 7, q->limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)q->limit);
    if (live && !fn && !q->glob) {
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) seen = (uint64_t)sqlite3_column_int64(s, 0);
        else rc = rc__sqlite_err(c->db, r, err, "counting keys");
        sqlite3_reset(s);
        goto out;
    }
    int64_t t = 0;
    if (!live && (rc = asof_time(c, q->as_of, &t, err))) {
        sqlite3_reset(s);
        goto out;
    }
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        rc_kv_entry e;
        kvstate k;
        memset(&k, 0, sizeof k);
        const char *key = (const char *)sqlite3_column_text(s, 0);
        size_t klen = (size_t)sqlite3_column_bytes(s, 0);
        if (q->glob && !rc__glob(q->glob, glen, key, klen)) continue;
        if (live) {
            entry_from_row(s, &e);
            if (q->keys_only) e.value = NULL;
        } else {
            /* key points into the statement's row: copy before replaying
             * (replay uses other statements on this connection). */
            char *kcopy = strdup(key);
            if (!kcopy) {
                rc = rc_err_set(err, RC_NOMEM, "out of memory");
                break;
            }
            rc = replay(c, kcopy, q->as_of, &k, err);
            int vis = !rc && state_visible(&k, t) && (!q->kind || k.kind == q->kind);
            if (vis) {
                seen++;
                entry_from_state(kcopy, &k, q->keys_only || !fn, &e);
                if (q->keys_only) e.value = NULL;
                int stop = fn ? fn(&e, arg) : 0;
                state_clear(&k);
                free(kcopy);
                if (stop || (q->limit && seen >= q->limit)) break;
                continue;
            }
            state_clear(&k);
            free(kcopy);
            if (rc) break;
            continue;
        }
        seen++;
        if (fn && fn(&e, arg)) break;
        if (q->limit && seen >= q->limit) break;
    }
    sqlite3_reset(s);
out:
    rc__rconn_end(st, c);
    free(b.phi);
    if (count) *count = seen;
    return rc;
}

int rc_store_kv_range(rc_store *st, const rc_kv_query *q, rc_kv_fn fn, void *arg, rc_err *err) {
    if (!fn) return rc_err_set(err, RC_INVALID, "kv range: missing callback");
    return kv_walk(st, q, fn, arg, NULL, err);
}

int rc_store_kv_count(rc_store *st, const rc_kv_query *q, uint64_t *count, rc_err *err) {
    uint64_t n = 0;
    int rc = kv_walk(st, q, NULL, NULL, &n, err);
    if (count) *count = rc ? 0 : n;
    return rc;
}

/* The live row of key must exist and be of `kind`; *size receives its
 * size (fields or elements). */
static int kind_check(rc__rconn *c, const char *key, int kind, int64_t *size, rc_err *err) {
    sqlite3_stmt *s;
    int rc = rc__rconn_stmt(c, "SELECT kind,size FROM kv WHERE key=?2 AND " VISIBLE, &s, err);
    if (rc) return rc;
    sqlite3_bind_int64(s, 1, rc__now_ms());
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    int k = r == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    *size = r == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    sqlite3_reset(s);
    if (r == SQLITE_DONE) return rc_err_set(err, RC_NOT_FOUND, "no such key");
    if (r != SQLITE_ROW) return rc__sqlite_err(c->db, r, err, "reading key");
    if (k != kind) return rc_err_set(err, RC_WRONGTYPE, "%s", rc_strerror(RC_WRONGTYPE));
    return RC_OK;
}

static int item_rows(rc__rconn *c, sqlite3_stmt *s, int pairs, rc_kv_item_fn fn, void *arg,
                     rc_err *err) {
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const void *a = sqlite3_column_blob(s, 0);
        size_t alen = (size_t)sqlite3_column_bytes(s, 0);
        const void *b = pairs ? sqlite3_column_blob(s, 1) : NULL;
        size_t blen = pairs ? (size_t)sqlite3_column_bytes(s, 1) : 0;
        if (fn(a ? a : "", alen, pairs ? (b ? b : "") : NULL, blen, arg)) {
            r = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE) return rc__sqlite_err(c->db, r, err, "reading items");
    return RC_OK;
}

int rc_store_hash_scan(rc_store *st, const char *key, rc_kv_item_fn fn, void *arg, rc_err *err) {
    if (!st || !key || !fn) return rc_err_set(err, RC_INVALID, "hash scan: missing argument");
    int rc;
    int64_t size;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    sqlite3_stmt *s;
    if (!(rc = kind_check(c, key, RC_KV_HASH, &size, err)) &&
        !(rc = rc__rconn_stmt(c, "SELECT field,value FROM kv_hash WHERE key=?1 ORDER BY field", &s,
                              err))) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        rc = item_rows(c, s, 1, fn, arg, err);
    }
    rc__rconn_end(st, c);
    return rc;
}

int rc_store_list_range(rc_store *st, const char *key, int64_t start, int64_t stop,
                        rc_kv_item_fn fn, void *arg, rc_err *err) {
    if (!st || !key || !fn) return rc_err_set(err, RC_INVALID, "list range: missing argument");
    int rc;
    int64_t size, head;
    rc__rconn *c = rc__rconn_begin(st, err, &rc);
    if (!c) return rc;
    sqlite3_stmt *s;
    if ((rc = kind_check(c, key, RC_KV_LIST, &size, err))) goto out;
    /* LRANGE: negative indexes count from the end; out-of-range ends are
     * clamped; an empty range is not an error. */
    if (start < 0) start += size;
    if (stop < 0) stop += size;
    if (start < 0) start = 0;
    if (stop >= size) stop = size - 1;
    if (start > stop || start >= size) goto out;
    if ((rc = rc__rconn_stmt(c, "SELECT pos FROM kv_list WHERE key=?1 ORDER BY pos LIMIT 1", &s, err)))
        goto out;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    head = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? RC_OK : rc__sqlite_err(c->db, r, err, "reading list");
        goto out;
    }
    if ((rc = rc__rconn_stmt(c,
                             "SELECT value FROM kv_list WHERE key=?1 AND pos>=?2 AND pos<=?3 "
                             "ORDER BY pos",
                             &s, err)))
        goto out;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, head + start);
    sqlite3_bind_int64(s, 3, head + stop);
    rc = item_rows(c, s, 0, fn, arg, err);
out:
    rc__rconn_end(st, c);
    return rc;
}
