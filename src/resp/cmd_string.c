/* SPDX-License-Identifier: Apache-2.0 */
/*
 * String commands. Every write is an io.redcar.kv.put (or delete/expire)
 * event with the key as subject. Blind writes (SET, SETEX, MSET) are plain
 * appends; read-modify-write commands (INCR, APPEND, SET NX/XX/GET, GETSET,
 * ...) are transaction steps on the store's writer thread, so they are
 * atomic against every other writer.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "resp/door.h"

#define MAX_STRING (512LL * 1024 * 1024)

static int kind_string(rc_resp_w *w, const rc__val *v) {
    if (v->kind != RC_KV_STRING) {
        rc__r_err_wrongtype(w);
        return 0;
    }
    return 1;
}

/* ---- reads ------------------------------------------------------------------ */

void rc__r_cmd_get(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__cache *cache = c->tx ? NULL : c->door->cache;
    uint64_t gen = 0;
    if (cache) {
        int hit = rc__r_cache_get(cache, c->argv[1], c->argvlen[1], &c->w, rc__r_now_ms());
        if (hit) {
            if (hit == 1) c->door->st_keyspace_hits++;
            else c->door->st_keyspace_misses++;
            return;
        }
        gen = rc__r_cache_gen(cache);
    }
    rc__val v = {0};
    rc_err err;
    int rc = rc__r_get(c->door->st, c->tx, c->argv[1], &v, &err);
    if (rc == RC_NOT_FOUND) {
        rc_resp_w_null(&c->w);
        if (cache) {
            c->door->st_keyspace_misses++;
            rc__r_cache_put(cache, c->argv[1], c->argvlen[1], NULL, 0, 0, 0, gen);
        }
    } else if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else if (kind_string(&c->w, &v)) {
        rc_resp_w_bulk(&c->w, v.v.p ? v.v.p : "", v.v.len);
        if (cache) {
            c->door->st_keyspace_hits++;
            rc__r_cache_put(cache, c->argv[1], c->argvlen[1], v.v.p, v.v.len, 1, v.expire_ms, gen);
        }
    }
    rc_buf_free(&v.v);
}

void rc__r_cmd_mget(rc__call *c) {
    rc__val v = {0};
    rc_resp_w_array(&c->w, c->argc - 1);
    for (size_t i = 1; i < c->argc; i++) {
        rc_err err;
        int rc = memchr(c->argv[i], 0, c->argvlen[i])
                     ? RC_NOT_FOUND
                     : rc__r_get(c->door->st, c->tx, c->argv[i], &v, &err);
        if (rc == RC_OK && v.kind == RC_KV_STRING) rc_resp_w_bulk(&c->w, v.v.p ? v.v.p : "", v.v.len);
        else rc_resp_w_null(&c->w);
    }
    rc_buf_free(&v.v);
}

void rc__r_cmd_strlen(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__val v = {0};
    rc_err err;
    int rc = rc__r_get(c->door->st, c->tx, c->argv[1], &v, &err);
    if (rc == RC_NOT_FOUND) rc_resp_w_int(&c->w, 0);
    else if (rc) rc__r_reply_status(&c->w, rc, &err);
    else if (kind_string(&c->w, &v)) rc_resp_w_int(&c->w, (int64_t)v.n);
    rc_buf_free(&v.v);
}

void rc__r_cmd_getrange(rc__call *c) {
    int64_t start, end;
    if (!rc__r_key_ok(c, 1)) return;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &start) ||
        !rc__r_parse_i64(c->argv[3], c->argvlen[3], &end)) {
        rc__r_err_int(c);
        return;
    }
    rc__val v = {0};
    rc_err err;
    int rc = rc__r_get(c->door->st, c->tx, c->argv[1], &v, &err);
    if (rc == RC_NOT_FOUND) {
        rc_resp_w_bulk(&c->w, "", 0);
    } else if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else if (kind_string(&c->w, &v)) {
        int64_t len = (int64_t)v.v.len;
        if (start < 0 && end < 0 && start > end) {
            rc_resp_w_bulk(&c->w, "", 0);
        } else {
            if (start < 0) start += len;
            if (end < 0) end += len;
            if (start < 0) start = 0;
            if (end < 0) end = 0;
            if (end >= len) end = len - 1;
            if (len == 0 || start > end) rc_resp_w_bulk(&c->w, "", 0);
            else rc_resp_w_bulk(&c->w, v.v.p + start, (size_t)(end - start + 1));
        }
    }
    rc_buf_free(&v.v);
}

/* ---- SET and friends ------------------------------------------------------------ */

enum { S_NX = 1, S_XX = 2, S_GET = 4, S_KEEPTTL = 8 };

/* args: v[0]=key v[1]=value; i[0]=expire_ms (0 none); flags S_* */
static int set_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    if (rc) goto out;
    if ((a->flags & S_GET) && exists && v.kind != RC_KV_STRING) {
        rc__r_err_wrongtype(w);
        goto out;
    }
    int doit = !((a->flags & S_NX) && exists) && !((a->flags & S_XX) && !exists);
    if (doit) {
        rc = rc__r_tx_append(tx, rc_api_kv_put_event(RC__SOURCE, a->v[0], a->v[1], a->len[1], a->i[0],
                                                     (a->flags & S_KEEPTTL) != 0), err);
        if (rc) goto out;
    }
    if (a->flags & S_GET) {
        if (exists) rc_resp_w_bulk(w, v.v.p ? v.v.p : "", v.v.len);
        else rc_resp_w_null(w);
    } else if (doit) {
        rc_resp_w_ok(w);
    } else {
        rc_resp_w_null(w);
    }
out:
    rc_buf_free(&v.v);
    return rc;
}

/* Relative or absolute expiry in ms or s -> absolute ms. 0 on a bad value
 * (the caller answers "invalid expire time"). */
static int64_t expire_at(int64_t v, int unit_ms, int absolute) {
    if (v <= 0) return 0;
    if (!unit_ms) {
        if (v > INT64_MAX / 1000) return 0;
        v *= 1000;
    }
    if (!absolute) {
        int64_t now = rc__r_now_ms();
        if (v > INT64_MAX - now) return 0;
        v += now;
    }
    return v;
}

static void submit_set(rc__call *c, int64_t exp, unsigned flags) {
    if (!(flags & (S_NX | S_XX | S_GET))) { /* a blind write: plain append */
        rc_event *ev = rc_api_kv_put_event(RC__SOURCE, c->argv[1], c->argv[2], c->argvlen[2], exp,
                                           (flags & S_KEEPTTL) != 0);
        if (!ev) {
            rc_resp_w_error(&c->w, "ERR out of memory");
            return;
        }
        rc__r_append(c, &ev, 1, RC__R_OK, 0);
        return;
    }
    rc__args *a = rc__r_args(c, 1, 3);
    a->i[0] = exp;
    a->flags = flags;
    rc__r_txn(c, set_step, a, free);
}

void rc__r_cmd_set(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    unsigned flags = 0;
    int have_exp = 0, unit_ms = 0, absolute = 0;
    int64_t expv = 0;
    for (size_t i = 3; i < c->argc; i++) {
        const char *o = c->argv[i];
        int more = i + 1 < c->argc;
        if (rc__r_streq(o, "NX") && !(flags & S_XX)) flags |= S_NX;
        else if (rc__r_streq(o, "XX") && !(flags & S_NX)) flags |= S_XX;
        else if (rc__r_streq(o, "GET")) flags |= S_GET;
        else if (rc__r_streq(o, "KEEPTTL") && !have_exp) flags |= S_KEEPTTL;
        else if ((rc__r_streq(o, "EX") || rc__r_streq(o, "PX") || rc__r_streq(o, "EXAT") ||
                  rc__r_streq(o, "PXAT")) && more && !have_exp && !(flags & S_KEEPTTL)) {
            have_exp = 1;
            unit_ms = (o[0] == 'P' || o[0] == 'p');
            absolute = c->argvlen[i] == 4;
            i++;
            if (!rc__r_parse_i64(c->argv[i], c->argvlen[i], &expv)) {
                rc__r_err_int(c);
                return;
            }
        } else {
            rc__r_err_syntax(c);
            return;
        }
    }
    int64_t exp = 0;
    if (have_exp && !(exp = expire_at(expv, unit_ms, absolute))) {
        rc_resp_w_error(&c->w, "ERR invalid expire time in 'set' command");
        return;
    }
    submit_set(c, exp, flags);
}


static int setnx_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    rc_buf_free(&v.v);
    if (rc) return rc;
    if (exists) {
        rc_resp_w_int(w, 0);
        return RC_OK;
    }
    rc = rc__r_tx_append(tx, rc_api_kv_put_event(RC__SOURCE, a->v[0], a->v[1], a->len[1], 0, 0), err);
    if (!rc) rc_resp_w_int(w, 1);
    return rc;
}

void rc__r_cmd_setnx(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    /* SET NX with an integer reply */
    rc__args *a = rc__r_args(c, 1, 3);
    a->flags = S_NX;
    rc__r_txn(c, setnx_step, a, free);
}

static void setex_common(rc__call *c, int unit_ms, const char *name) {
    int64_t t;
    if (!rc__r_key_ok(c, 1)) return;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &t)) {
        rc__r_err_int(c);
        return;
    }
    int64_t exp = expire_at(t, unit_ms, 0);
    if (!exp) {
        rc_resp_w_errorf(&c->w, "ERR invalid expire time in '%s' command", name);
        return;
    }
    rc_event *ev = rc_api_kv_put_event(RC__SOURCE, c->argv[1], c->argv[3], c->argvlen[3], exp, 0);
    if (!ev) {
        rc_resp_w_error(&c->w, "ERR out of memory");
        return;
    }
    rc__r_append(c, &ev, 1, RC__R_OK, 0);
}

void rc__r_cmd_setex(rc__call *c) { setex_common(c, 0, "setex"); }
void rc__r_cmd_psetex(rc__call *c) { setex_common(c, 1, "psetex"); }

void rc__r_cmd_mset(rc__call *c) {
    if (c->argc % 2 == 0) {
        rc__r_err_arity(c);
        return;
    }
    for (size_t i = 1; i < c->argc; i += 2)
        if (!rc__r_key_ok(c, i)) return;
    size_t n = (c->argc - 1) / 2;
    rc_event **evs = calloc(n, sizeof *evs);
    if (!evs) abort();
    for (size_t i = 0; i < n; i++) {
        evs[i] = rc_api_kv_put_event(RC__SOURCE, c->argv[1 + 2 * i], c->argv[2 + 2 * i],
                                     c->argvlen[2 + 2 * i], 0, 0);
        if (!evs[i]) {
            rc_event_free_array(evs, i);
            rc_resp_w_error(&c->w, "ERR out of memory");
            return;
        }
    }
    rc__r_append(c, evs, n, RC__R_OK, 0); /* one batch: all or nothing */
    free(evs);
}

static int msetnx_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int rc = RC_OK, exists = 0;
    for (size_t i = 0; i < a->n && !rc; i += 2) {
        rc = rc__r_tx_load(tx, a->v[i], &v, &exists, err);
        if (exists) break;
    }
    rc_buf_free(&v.v);
    if (rc) return rc;
    if (exists) {
        rc_resp_w_int(w, 0);
        return RC_OK;
    }
    for (size_t i = 0; i < a->n && !rc; i += 2)
        rc = rc__r_tx_append(tx, rc_api_kv_put_event(RC__SOURCE, a->v[i], a->v[i + 1], a->len[i + 1], 0, 0), err);
    if (!rc) rc_resp_w_int(w, 1);
    return rc;
}

void rc__r_cmd_msetnx(rc__call *c) {
    if (c->argc % 2 == 0) {
        rc__r_err_arity(c);
        return;
    }
    for (size_t i = 1; i < c->argc; i += 2)
        if (!rc__r_key_ok(c, i)) return;
    rc__r_txn(c, msetnx_step, rc__r_args(c, 1, c->argc), free);
}

void rc__r_cmd_getset(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    submit_set(c, 0, S_GET);
}

/* ---- GETDEL / GETEX ------------------------------------------------------------- */

enum { GX_NONE, GX_DEL, GX_EXPIRE, GX_PERSIST };

/* v[0]=key; i[0]=GX_*; i[1]=expire_ms */
static int getx_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    if (rc) goto out;
    if (!exists) {
        rc_resp_w_null(w);
        goto out;
    }
    if (!kind_string(w, &v)) goto out;
    switch (a->i[0]) {
    case GX_DEL:
        rc = rc__r_tx_append(tx, rc_api_kv_event(RC__SOURCE, "delete", a->v[0], NULL, 0, NULL), err);
        break;
    case GX_EXPIRE:
        if (a->i[1] <= rc_txn_now_ms(tx))
            rc = rc__r_tx_append(tx, rc_api_kv_event(RC__SOURCE, "delete", a->v[0], NULL, 0, NULL), err);
        else
            rc = rc__r_tx_append(tx, rc_api_kv_expire_event(RC__SOURCE, a->v[0], a->i[1]), err);
        break;
    case GX_PERSIST:
        if (v.expire_ms) rc = rc__r_tx_append(tx, rc_api_kv_expire_event(RC__SOURCE, a->v[0], 0), err);
        break;
    default: break;
    }
    if (!rc) rc_resp_w_bulk(w, v.v.p ? v.v.p : "", v.v.len);
out:
    rc_buf_free(&v.v);
    return rc;
}

void rc__r_cmd_getdel(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__args *a = rc__r_args(c, 1, 2);
    a->i[0] = GX_DEL;
    rc__r_txn(c, getx_step, a, free);
}

void rc__r_cmd_getex(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    int mode = GX_NONE;
    int64_t exp = 0;
    for (size_t i = 2; i < c->argc; i++) {
        const char *o = c->argv[i];
        if (rc__r_streq(o, "PERSIST") && mode == GX_NONE) {
            mode = GX_PERSIST;
        } else if ((rc__r_streq(o, "EX") || rc__r_streq(o, "PX") || rc__r_streq(o, "EXAT") ||
                    rc__r_streq(o, "PXAT")) && i + 1 < c->argc && mode == GX_NONE) {
            int64_t t;
            int unit_ms = (o[0] == 'P' || o[0] == 'p'), absolute = c->argvlen[i] == 4;
            i++;
            if (!rc__r_parse_i64(c->argv[i], c->argvlen[i], &t)) {
                rc__r_err_int(c);
                return;
            }
            if (!(exp = expire_at(t, unit_ms, absolute))) {
                rc_resp_w_error(&c->w, "ERR invalid expire time in 'getex' command");
                return;
            }
            mode = GX_EXPIRE;
        } else {
            rc__r_err_syntax(c);
            return;
        }
    }
    rc__args *a = rc__r_args(c, 1, 2);
    a->i[0] = mode;
    a->i[1] = exp;
    rc__r_txn(c, getx_step, a, free);
}

/* ---- counters ------------------------------------------------------------------- */

/* v[0]=key; i[0]=delta */
static int incr_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    if (rc) goto out;
    int64_t cur = 0;
    if (exists) {
        if (!kind_string(w, &v)) goto out;
        if (!rc__r_parse_i64(v.v.p ? v.v.p : "", v.v.len, &cur)) {
            rc_resp_w_error(w, "ERR value is not an integer or out of range");
            goto out;
        }
    }
    int64_t d = a->i[0];
    if ((d < 0 && cur < 0 && d < INT64_MIN - cur) || (d > 0 && cur > 0 && d > INT64_MAX - cur)) {
        rc_resp_w_error(w, "ERR increment or decrement would overflow");
        goto out;
    }
    cur += d;
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)cur);
    rc = rc__r_tx_append(tx, rc_api_kv_put_event(RC__SOURCE, a->v[0], buf, (size_t)n, 0, 1), err);
    if (!rc) rc_resp_w_int(w, cur);
out:
    rc_buf_free(&v.v);
    return rc;
}

static void incr_common(rc__call *c, int64_t delta) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__args *a = rc__r_args(c, 1, 2);
    a->i[0] = delta;
    rc__r_txn(c, incr_step, a, free);
}

void rc__r_cmd_incr(rc__call *c) { incr_common(c, 1); }
void rc__r_cmd_decr(rc__call *c) { incr_common(c, -1); }

void rc__r_cmd_incrby(rc__call *c) {
    int64_t d;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &d)) {
        rc__r_err_int(c);
        return;
    }
    incr_common(c, d);
}

void rc__r_cmd_decrby(rc__call *c) {
    int64_t d;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &d)) {
        rc__r_err_int(c);
        return;
    }
    if (d == INT64_MIN) {
        rc_resp_w_error(&c->w, "ERR decrement would overflow");
        return;
    }
    incr_common(c, -d);
}

/* v[0]=key v[1]=increment text */
static int incrfloat_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    if (rc) goto out;
    long double cur = 0, inc = 0;
    if (exists) {
        if (!kind_string(w, &v)) goto out;
        if (!rc__r_parse_ld(v.v.p ? v.v.p : "", v.v.len, &cur)) {
            rc_resp_w_error(w, "ERR value is not a valid float");
            goto out;
        }
    }
    rc__r_parse_ld(a->v[1], a->len[1], &inc);
    cur += inc;
    if (cur != cur || cur == 1.0L / 0.0L || cur == -1.0L / 0.0L) {
        rc_resp_w_error(w, "ERR increment would produce NaN or Infinity");
        goto out;
    }
    char buf[128];
    size_t n = rc_resp_fmt_ld(buf, sizeof buf, cur);
    rc = rc__r_tx_append(tx, rc_api_kv_put_event(RC__SOURCE, a->v[0], buf, n, 0, 1), err);
    if (!rc) rc_resp_w_bulk(w, buf, n);
out:
    rc_buf_free(&v.v);
    return rc;
}

void rc__r_cmd_incrbyfloat(rc__call *c) {
    long double inc;
    if (!rc__r_key_ok(c, 1)) return;
    if (!rc__r_parse_ld(c->argv[2], c->argvlen[2], &inc) || inc != inc || inc == 1.0L / 0.0L ||
        inc == -1.0L / 0.0L) {
        rc_resp_w_error(&c->w, "ERR value is not a valid float");
        return;
    }
    rc__r_txn(c, incrfloat_step, rc__r_args(c, 1, 3), free);
}

/* ---- APPEND / SETRANGE ---------------------------------------------------------- */

/* v[0]=key, last v = the bytes; i[0]=offset (SETRANGE) or -1 (APPEND) */
static int splice_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    const char *data = a->v[a->n - 1];
    size_t dlen = a->len[a->n - 1];
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    if (rc) goto out;
    if (exists && !kind_string(w, &v)) goto out;
    size_t cur = exists ? v.v.len : 0;
    int64_t off = a->i[0] < 0 ? (int64_t)cur : a->i[0];
    if (a->i[0] >= 0 && dlen == 0) { /* SETRANGE with nothing to write */
        rc_resp_w_int(w, (int64_t)cur);
        goto out;
    }
    if (off + (int64_t)dlen > MAX_STRING) {
        rc_resp_w_error(w, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        goto out;
    }
    size_t need = (size_t)off + dlen;
    if (need < cur) need = cur;
    rc_buf nv = RC_BUF_INIT;
    rc_buf_reserve(&nv, need);
    if (cur) rc_buf_append(&nv, v.v.p, cur);
    while (nv.len < (size_t)off) rc_buf_putc(&nv, '\0');
    memcpy(nv.p + off, data, dlen);
    if (nv.len < need) nv.len = need;
    rc = rc__r_tx_append(tx, rc_api_kv_put_event(RC__SOURCE, a->v[0], nv.p, nv.len, 0, 1), err);
    if (!rc) rc_resp_w_int(w, (int64_t)nv.len);
    rc_buf_free(&nv);
out:
    rc_buf_free(&v.v);
    return rc;
}

void rc__r_cmd_append(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__args *a = rc__r_args(c, 1, 3);
    a->i[0] = -1;
    rc__r_txn(c, splice_step, a, free);
}

void rc__r_cmd_setrange(rc__call *c) {
    int64_t off;
    if (!rc__r_key_ok(c, 1)) return;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &off)) {
        rc__r_err_int(c);
        return;
    }
    if (off < 0) {
        rc_resp_w_error(&c->w, "ERR offset is out of range");
        return;
    }
    if (off + (int64_t)c->argvlen[3] > MAX_STRING) {
        rc_resp_w_error(&c->w, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    rc__args *a = rc__r_args(c, 1, 4);
    a->i[0] = off;
    rc__r_txn(c, splice_step, a, free);
}
