/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hash and list commands over the KV view: writes are io.redcar.kv.hset /
 * hdel / lpush / rpush / lpop / rpop events (JSON documents built by
 * src/api/kv_events.c); reads use the store's hash scan and list range in
 * the loop, or the transaction's point reads inside EXEC.
 */
#include <stdlib.h>
#include <string.h>

#include "resp/door.h"

/* Kind check for a read: returns 1 when the key exists with `kind`, 0 when
 * absent (reply not written), -1 when a reply (error) was written. */
static int check_kind(rc__call *c, rc_kv_kind kind, rc__val *v) {
    rc_err err;
    if (!rc__r_key_ok(c, 1)) return -1;
    int rc = rc__r_get(c->door->st, c->tx, c->argv[1], v, &err);
    if (rc == RC_NOT_FOUND) return 0;
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
        return -1;
    }
    if (v->kind != kind) {
        rc__r_err_wrongtype(&c->w);
        return -1;
    }
    return 1;
}

/* ---- hash reads ---------------------------------------------------------------- */

typedef struct fieldq {
    const char *field;
    size_t flen;
    rc_buf *out;
    int found;
} fieldq;

static int on_field(const void *a, size_t alen, const void *b, size_t blen, void *arg) {
    fieldq *q = arg;
    if (alen == q->flen && memcmp(a, q->field, alen) == 0) {
        rc_buf_reset(q->out);
        rc_buf_append(q->out, b, blen);
        q->found = 1;
        return 1;
    }
    return 0;
}

/* One field's value into out: 1 found, 0 absent, <0 -status. */
static int hash_field(rc__call *c, const char *field, size_t flen, rc_buf *out) {
    rc_err err;
    if (c->tx) {
        const void *p;
        size_t n;
        if (memchr(field, 0, flen)) return 0;
        int rc = rc_txn_hash_get(c->tx, c->argv[1], field, &p, &n, &err);
        if (rc == RC_NOT_FOUND) return 0;
        if (rc) return -rc;
        rc_buf_reset(out);
        rc_buf_append(out, p, n);
        return 1;
    }
    fieldq q = {field, flen, out, 0};
    int rc = rc_store_hash_scan(c->door->st, c->argv[1], on_field, &q, &err);
    if (rc && rc != RC_NOT_FOUND) return -rc;
    return q.found;
}

void rc__r_cmd_hget(rc__call *c) {
    rc__val v = {0};
    int k = check_kind(c, RC_KV_HASH, &v);
    if (k == 0) rc_resp_w_null(&c->w);
    if (k == 1) {
        int f = hash_field(c, c->argv[2], c->argvlen[2], &v.v);
        if (f == 1) rc_resp_w_bulk(&c->w, v.v.p ? v.v.p : "", v.v.len);
        else if (f == 0) rc_resp_w_null(&c->w);
        else rc__r_reply_status(&c->w, -f, NULL);
    }
    rc_buf_free(&v.v);
}

void rc__r_cmd_hexists(rc__call *c) {
    rc__val v = {0};
    int k = check_kind(c, RC_KV_HASH, &v);
    if (k == 0) rc_resp_w_int(&c->w, 0);
    if (k == 1) {
        int f = hash_field(c, c->argv[2], c->argvlen[2], &v.v);
        if (f >= 0) rc_resp_w_int(&c->w, f);
        else rc__r_reply_status(&c->w, -f, NULL);
    }
    rc_buf_free(&v.v);
}

void rc__r_cmd_hmget(rc__call *c) {
    rc__val v = {0};
    int k = check_kind(c, RC_KV_HASH, &v);
    if (k >= 0) {
        rc_resp_w_array(&c->w, c->argc - 2);
        for (size_t i = 2; i < c->argc; i++) {
            int f = k == 1 ? hash_field(c, c->argv[i], c->argvlen[i], &v.v) : 0;
            if (f == 1) rc_resp_w_bulk(&c->w, v.v.p ? v.v.p : "", v.v.len);
            else rc_resp_w_null(&c->w);
        }
    }
    rc_buf_free(&v.v);
}

void rc__r_cmd_hlen(rc__call *c) {
    rc__val v = {0};
    int k = check_kind(c, RC_KV_HASH, &v);
    if (k >= 0) rc_resp_w_int(&c->w, k ? (int64_t)v.n : 0);
    rc_buf_free(&v.v);
}

typedef struct pairs {
    rc_buf b; /* records: u64 alen, a, u64 blen, b */
    size_t n;
} pairs;

static int on_pair(const void *a, size_t alen, const void *b, size_t blen, void *arg) {
    pairs *p = arg;
    uint64_t l = alen;
    rc_buf_append(&p->b, &l, sizeof l);
    rc_buf_append(&p->b, a, alen);
    l = blen;
    rc_buf_append(&p->b, &l, sizeof l);
    rc_buf_append(&p->b, b, blen);
    p->n++;
    return 0;
}

/* what: 3 = fields and values (map), 1 = fields, 2 = values */
static void hash_all(rc__call *c, int what) {
    rc__val v = {0};
    int k = check_kind(c, RC_KV_HASH, &v);
    rc_buf_free(&v.v);
    if (k < 0) return;
    pairs p = {RC_BUF_INIT, 0};
    rc_err err;
    int rc = k ? rc_store_hash_scan(c->door->st, c->argv[1], on_pair, &p, &err) : RC_OK;
    if (rc && rc != RC_NOT_FOUND) {
        rc__r_reply_status(&c->w, rc, &err);
        rc_buf_free(&p.b);
        return;
    }
    if (what == 3) rc_resp_w_map(&c->w, p.n);
    else rc_resp_w_array(&c->w, p.n);
    const char *q = p.b.p;
    for (size_t i = 0; i < p.n; i++) {
        uint64_t al, bl;
        memcpy(&al, q, 8);
        const char *a = q + 8;
        memcpy(&bl, a + al, 8);
        const char *b = a + al + 8;
        if (what & 1) rc_resp_w_bulk(&c->w, a, al);
        if (what & 2) rc_resp_w_bulk(&c->w, b, bl);
        q = b + bl;
    }
    rc_buf_free(&p.b);
}

void rc__r_cmd_hgetall(rc__call *c) { hash_all(c, 3); }
void rc__r_cmd_hkeys(rc__call *c) { hash_all(c, 1); }
void rc__r_cmd_hvals(rc__call *c) { hash_all(c, 2); }

/* ---- hash writes -------------------------------------------------------------------- */

static int load_kind(rc_txn *tx, const char *key, rc_kv_kind kind, rc__val *v, int *exists,
                     rc_resp_w *w, rc_err *err, int *replied) {
    int rc = rc__r_tx_load(tx, key, v, exists, err);
    *replied = 0;
    if (!rc && *exists && v->kind != kind) {
        rc__r_err_wrongtype(w);
        *replied = 1;
    }
    return rc;
}

static int field_exists(rc_txn *tx, const char *key, const char *f, rc_err *err) {
    const void *p;
    size_t n;
    int rc = rc_txn_hash_get(tx, key, f, &p, &n, err);
    if (rc == RC_NOT_FOUND) {
        rc_err_clear(err);
        return 0;
    }
    return rc ? -rc : 1;
}

static int seen_before(const rc__args *a, size_t i, size_t step, size_t first) {
    for (size_t j = first; j < i; j += step)
        if (a->len[j] == a->len[i] && memcmp(a->v[j], a->v[i], a->len[i]) == 0) return 1;
    return 0;
}

/* v[0]=key, then field value pairs; flags 1 = HMSET (reply OK) */
static int hset_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, replied, rc = load_kind(tx, a->v[0], RC_KV_HASH, &v, &exists, w, err, &replied);
    rc_buf_free(&v.v);
    if (rc || replied) return rc;
    size_t np = (a->n - 1) / 2;
    int64_t added = 0;
    const char **f = malloc(np * sizeof *f), **vals = malloc(np * sizeof *vals);
    size_t *fl = malloc(np * sizeof *fl), *vl = malloc(np * sizeof *vl);
    if (!f || !vals || !fl || !vl) abort();
    for (size_t i = 0; i < np && !rc; i++) {
        size_t fi = 1 + 2 * i;
        f[i] = a->v[fi];
        fl[i] = a->len[fi];
        vals[i] = a->v[fi + 1];
        vl[i] = a->len[fi + 1];
        if (seen_before(a, fi, 2, 1)) continue;
        int e = exists ? field_exists(tx, a->v[0], a->v[fi], err) : 0;
        if (e < 0) rc = -e;
        else if (!e) added++;
    }
    if (!rc) {
        rc_event *ev = rc_api_kv_hset_event(RC__SOURCE, a->v[0], np, f, fl, vals, vl);
        if (!ev) rc_resp_w_error(w, "ERR hash field names must be UTF-8 text without NUL bytes");
        else if (!(rc = rc__r_tx_append(tx, ev, err))) {
            if (a->flags & 1) rc_resp_w_ok(w);
            else rc_resp_w_int(w, added);
        }
    }
    free(f);
    free(vals);
    free(fl);
    free(vl);
    return rc;
}

void rc__r_cmd_hset(rc__call *c) {
    if (c->argc % 2 != 0) {
        rc__r_err_arity(c);
        return;
    }
    if (!rc__r_key_ok(c, 1)) return;
    for (size_t i = 2; i < c->argc; i += 2)
        if (memchr(c->argv[i], 0, c->argvlen[i])) {
            rc_resp_w_error(&c->w, "ERR hash field names must be UTF-8 text without NUL bytes");
            return;
        }
    rc__args *a = rc__r_args(c, 1, c->argc);
    a->flags = rc__r_streq(c->argv[0], "hmset") ? 1 : 0;
    rc__r_txn(c, hset_step, a, free);
}

static int hdel_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, replied, rc = load_kind(tx, a->v[0], RC_KV_HASH, &v, &exists, w, err, &replied);
    rc_buf_free(&v.v);
    if (rc || replied) return rc;
    if (!exists) {
        rc_resp_w_int(w, 0);
        return RC_OK;
    }
    const char **f = malloc(a->n * sizeof *f);
    size_t *fl = malloc(a->n * sizeof *fl), n = 0;
    if (!f || !fl) abort();
    for (size_t i = 1; i < a->n && !rc; i++) {
        if (seen_before(a, i, 1, 1) || memchr(a->v[i], 0, a->len[i])) continue;
        int e = field_exists(tx, a->v[0], a->v[i], err);
        if (e < 0) rc = -e;
        else if (e) {
            f[n] = a->v[i];
            fl[n++] = a->len[i];
        }
    }
    if (!rc && n) {
        rc_event *ev = rc_api_kv_hdel_event(RC__SOURCE, a->v[0], n, f, fl);
        rc = rc__r_tx_append(tx, ev, err);
    }
    if (!rc) rc_resp_w_int(w, (int64_t)n);
    free(f);
    free(fl);
    return rc;
}

void rc__r_cmd_hdel(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__r_txn(c, hdel_step, rc__r_args(c, 1, c->argc), free);
}

/* v[0]=key v[1]=field; i[0]=delta */
static int hincrby_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, replied, rc = load_kind(tx, a->v[0], RC_KV_HASH, &v, &exists, w, err, &replied);
    rc_buf_free(&v.v);
    if (rc || replied) return rc;
    int64_t cur = 0;
    if (exists) {
        const void *p;
        size_t n;
        rc = rc_txn_hash_get(tx, a->v[0], a->v[1], &p, &n, err);
        if (rc == RC_OK) {
            if (!rc__r_parse_i64(p, n, &cur)) {
                rc_resp_w_error(w, "ERR hash value is not an integer");
                return RC_OK;
            }
        } else if (rc == RC_NOT_FOUND) {
            rc = RC_OK;
            rc_err_clear(err);
        } else {
            return rc;
        }
    }
    int64_t d = a->i[0];
    if ((d < 0 && cur < 0 && d < INT64_MIN - cur) || (d > 0 && cur > 0 && d > INT64_MAX - cur)) {
        rc_resp_w_error(w, "ERR increment or decrement would overflow");
        return RC_OK;
    }
    cur += d;
    char buf[24];
    int len = snprintf(buf, sizeof buf, "%lld", (long long)cur);
    const char *f[1] = {a->v[1]}, *vals[1] = {buf};
    size_t fl[1] = {a->len[1]}, vl[1] = {(size_t)len};
    rc_event *ev = rc_api_kv_hset_event(RC__SOURCE, a->v[0], 1, f, fl, vals, vl);
    if (!ev) {
        rc_resp_w_error(w, "ERR hash field names must be UTF-8 text without NUL bytes");
        return RC_OK;
    }
    rc = rc__r_tx_append(tx, ev, err);
    if (!rc) rc_resp_w_int(w, cur);
    return rc;
}

void rc__r_cmd_hincrby(rc__call *c) {
    int64_t d;
    if (!rc__r_key_ok(c, 1)) return;
    if (!rc__r_parse_i64(c->argv[3], c->argvlen[3], &d)) {
        rc__r_err_int(c);
        return;
    }
    if (memchr(c->argv[2], 0, c->argvlen[2])) {
        rc_resp_w_error(&c->w, "ERR hash field names must be UTF-8 text without NUL bytes");
        return;
    }
    rc__args *a = rc__r_args(c, 1, 3);
    a->i[0] = d;
    rc__r_txn(c, hincrby_step, a, free);
}

/* ---- lists ------------------------------------------------------------------------- */

/* v[0]=key, then values; flags 1 = left */
static int push_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, replied, rc = load_kind(tx, a->v[0], RC_KV_LIST, &v, &exists, w, err, &replied);
    rc_buf_free(&v.v);
    if (rc || replied) return rc;
    rc_event *ev = rc_api_kv_push_event(RC__SOURCE, a->v[0], a->flags & 1, a->n - 1,
                                        (const char *const *)a->v + 1, a->len + 1);
    rc = rc__r_tx_append(tx, ev, err);
    if (!rc) rc_resp_w_int(w, (int64_t)((exists ? v.n : 0) + a->n - 1));
    return rc;
}

static void push_common(rc__call *c, int left) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__args *a = rc__r_args(c, 1, c->argc);
    a->flags = (unsigned)left;
    rc__r_txn(c, push_step, a, free);
}

void rc__r_cmd_lpush(rc__call *c) { push_common(c, 1); }
void rc__r_cmd_rpush(rc__call *c) { push_common(c, 0); }

/* v[0]=key; i[0]=count (-1: no count given); flags 1 = left */
static int pop_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, replied, rc = load_kind(tx, a->v[0], RC_KV_LIST, &v, &exists, w, err, &replied);
    rc_buf_free(&v.v);
    if (rc || replied) return rc;
    int with_count = a->i[0] >= 0;
    if (!exists || v.n == 0) {
        if (with_count) rc_resp_w_null_array(w);
        else rc_resp_w_null(w);
        return RC_OK;
    }
    int64_t n = with_count ? a->i[0] : 1;
    if (n > (int64_t)v.n) n = (int64_t)v.n;
    rc_buf out = RC_BUF_INIT;
    rc_resp_w ow = {&out, w->proto};
    if (with_count) rc_resp_w_array(&ow, (size_t)n);
    for (int64_t i = 0; i < n && !rc; i++) {
        const void *p;
        size_t len;
        int64_t idx = (a->flags & 1) ? i : (int64_t)v.n - 1 - i;
        rc = rc_txn_list_get(tx, a->v[0], idx, &p, &len, err);
        if (!rc) rc_resp_w_bulk(&ow, p, len);
    }
    if (!rc && n > 0) rc = rc__r_tx_append(tx, rc_api_kv_pop_event(RC__SOURCE, a->v[0], a->flags & 1, n), err);
    if (!rc) rc_buf_append(w->b, out.p ? out.p : "", out.len);
    rc_buf_free(&out);
    return rc;
}

static void pop_common(rc__call *c, int left) {
    if (c->argc > 3) {
        rc__r_err_syntax(c);
        return;
    }
    if (!rc__r_key_ok(c, 1)) return;
    int64_t count = -1;
    if (c->argc == 3) {
        if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &count) || count < 0) {
            rc_resp_w_error(&c->w, "ERR value is out of range, must be positive");
            return;
        }
    }
    rc__args *a = rc__r_args(c, 1, 2);
    a->i[0] = count;
    a->flags = (unsigned)left;
    rc__r_txn(c, pop_step, a, free);
}

void rc__r_cmd_lpop(rc__call *c) { pop_common(c, 1); }
void rc__r_cmd_rpop(rc__call *c) { pop_common(c, 0); }

void rc__r_cmd_llen(rc__call *c) {
    rc__val v = {0};
    int k = check_kind(c, RC_KV_LIST, &v);
    if (k >= 0) rc_resp_w_int(&c->w, k ? (int64_t)v.n : 0);
    rc_buf_free(&v.v);
}

static int on_elem(const void *a, size_t alen, const void *b, size_t blen, void *arg) {
    (void)b;
    (void)blen;
    pairs *p = arg;
    uint64_t l = alen;
    rc_buf_append(&p->b, &l, sizeof l);
    rc_buf_append(&p->b, a, alen);
    p->n++;
    return 0;
}

/* Elements [start, stop] (Redis indexes) as an array. */
static void list_range(rc__call *c, int64_t start, int64_t stop, int single) {
    rc__val v = {0};
    int k = check_kind(c, RC_KV_LIST, &v);
    if (k < 0) goto out;
    int64_t len = k ? (int64_t)v.n : 0;
    if (start < 0) start += len;
    if (stop < 0) stop += len;
    if (start < 0) start = 0;
    if (stop >= len) stop = len - 1;
    if (start > stop || start >= len) {
        if (single) rc_resp_w_null(&c->w);
        else rc_resp_w_array(&c->w, 0);
        goto out;
    }
    pairs p = {RC_BUF_INIT, 0};
    rc_err err;
    int rc = RC_OK;
    if (c->tx) {
        for (int64_t i = start; i <= stop && !rc; i++) {
            const void *e;
            size_t el;
            rc = rc_txn_list_get(c->tx, c->argv[1], i, &e, &el, &err);
            if (!rc) on_elem(e, el, NULL, 0, &p);
        }
    } else {
        rc = rc_store_list_range(c->door->st, c->argv[1], start, stop, on_elem, &p, &err);
    }
    if (rc && rc != RC_NOT_FOUND) {
        rc__r_reply_status(&c->w, rc, &err);
    } else if (single) {
        if (p.n == 0) rc_resp_w_null(&c->w);
        else {
            uint64_t l;
            memcpy(&l, p.b.p, 8);
            rc_resp_w_bulk(&c->w, p.b.p + 8, l);
        }
    } else {
        rc_resp_w_array(&c->w, p.n);
        const char *q = p.b.p;
        for (size_t i = 0; i < p.n; i++) {
            uint64_t l;
            memcpy(&l, q, 8);
            rc_resp_w_bulk(&c->w, q + 8, l);
            q += 8 + l;
        }
    }
    rc_buf_free(&p.b);
out:
    rc_buf_free(&v.v);
}

void rc__r_cmd_lrange(rc__call *c) {
    int64_t s, e;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &s) || !rc__r_parse_i64(c->argv[3], c->argvlen[3], &e)) {
        rc__r_err_int(c);
        return;
    }
    list_range(c, s, e, 0);
}

void rc__r_cmd_lindex(rc__call *c) {
    int64_t i;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &i)) {
        rc__r_err_int(c);
        return;
    }
    if (!rc__r_key_ok(c, 1)) return;
    /* a negative index past the start must stay out of range */
    rc__val v = {0};
    if (i < 0) {
        rc_err err;
        if (rc__r_get(c->door->st, c->tx, c->argv[1], &v, &err) == RC_OK &&
            v.kind == RC_KV_LIST && i + (int64_t)v.n < 0) {
            rc_buf_free(&v.v);
            rc_resp_w_null(&c->w);
            return;
        }
        rc_buf_free(&v.v);
    }
    list_range(c, i, i, 1);
}
