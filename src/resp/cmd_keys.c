/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keyspace commands: DEL/UNLINK, EXISTS, KEYS, SCAN, TYPE, RENAME(NX), the
 * EXPIRE family, TTL family and PERSIST. Expiry is an `expires` timestamp on
 * io.redcar.kv.put / io.redcar.kv.expire events; an expired key is invisible
 * to reads at once and removed by an io.redcar.kv.expired event from active
 * expiry.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "resp/door.h"

static const char *type_name(rc_kv_kind k) {
    switch (k) {
    case RC_KV_STRING: return "string";
    case RC_KV_HASH: return "hash";
    case RC_KV_LIST: return "list";
    }
    return "none";
}

/* ---- DEL ---------------------------------------------------------------------- */

static int del_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int64_t n = 0;
    int rc = RC_OK;
    for (size_t i = 0; i < a->n && !rc; i++) {
        int exists;
        rc = rc__r_tx_load(tx, a->v[i], &v, &exists, err);
        if (!rc && exists) {
            rc = rc__r_tx_append(tx, rc_api_kv_event(RC__SOURCE, "delete", a->v[i], NULL, 0, NULL), err);
            n++;
        }
    }
    rc_buf_free(&v.v);
    if (!rc) rc_resp_w_int(w, n);
    return rc;
}

void rc__r_cmd_del(rc__call *c) {
    for (size_t i = 1; i < c->argc; i++)
        if (!rc__r_key_ok(c, i)) return;
    rc__r_txn(c, del_step, rc__r_args(c, 1, c->argc), free);
}

/* ---- reads ---------------------------------------------------------------------- */

void rc__r_cmd_exists(rc__call *c) {
    rc__val v = {0};
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++) {
        rc_err err;
        if (memchr(c->argv[i], 0, c->argvlen[i])) continue;
        if (rc__r_get(c->door->st, c->tx, c->argv[i], &v, &err) == RC_OK) n++;
    }
    rc_buf_free(&v.v);
    rc_resp_w_int(&c->w, n);
}

void rc__r_cmd_type(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__val v = {0};
    rc_err err;
    int rc = rc__r_get(c->door->st, c->tx, c->argv[1], &v, &err);
    if (rc == RC_OK) rc_resp_w_simple(&c->w, type_name(v.kind));
    else if (rc == RC_NOT_FOUND) rc_resp_w_simple(&c->w, "none");
    else rc__r_reply_status(&c->w, rc, &err);
    rc_buf_free(&v.v);
}

static void ttl_common(rc__call *c, int ms, int absolute) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__val v = {0};
    rc_err err;
    int rc = rc__r_get(c->door->st, c->tx, c->argv[1], &v, &err);
    rc_buf_free(&v.v);
    if (rc == RC_NOT_FOUND) {
        rc_resp_w_int(&c->w, -2);
    } else if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else if (!v.expire_ms) {
        rc_resp_w_int(&c->w, -1);
    } else if (absolute) {
        rc_resp_w_int(&c->w, ms ? v.expire_ms : v.expire_ms / 1000);
    } else {
        int64_t left = v.expire_ms - rc__r_now_ms();
        if (left < 0) left = 0;
        rc_resp_w_int(&c->w, ms ? left : (left + 500) / 1000);
    }
}

void rc__r_cmd_ttl(rc__call *c) { ttl_common(c, 0, 0); }
void rc__r_cmd_pttl(rc__call *c) { ttl_common(c, 1, 0); }
void rc__r_cmd_expiretime(rc__call *c) { ttl_common(c, 0, 1); }
void rc__r_cmd_pexpiretime(rc__call *c) { ttl_common(c, 1, 1); }

typedef struct keyacc {
    rc_buf names; /* NUL-separated */
    size_t n;
    size_t skip, count; /* SCAN window */
    size_t seen;
    int more;
} keyacc;

static int on_key(const rc_kv_entry *e, void *arg) {
    keyacc *k = arg;
    if (k->count) { /* SCAN: skip the cursor, take COUNT, note if more exist */
        if (k->seen++ < k->skip) return 0;
        if (k->n == k->count) {
            k->more = 1;
            return 1;
        }
    }
    rc_buf_append(&k->names, e->key, e->key_len);
    rc_buf_putc(&k->names, '\0');
    k->n++;
    return 0;
}

static void reply_names(rc_resp_w *w, keyacc *k) {
    const char *p = k->names.p;
    rc_resp_w_array(w, k->n);
    for (size_t i = 0; i < k->n; i++) {
        size_t l = strlen(p);
        rc_resp_w_bulk(w, p, l);
        p += l + 1;
    }
}

void rc__r_cmd_keys(rc__call *c) {
    keyacc k = {RC_BUF_INIT, 0, 0, 0, 0, 0};
    rc_kv_query q = {0};
    q.keys_only = 1;
    int all = c->argvlen[1] == 1 && c->argv[1][0] == '*';
    q.glob = all ? NULL : c->argv[1];
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_kv_range(c->door->st, &q, on_key, &k, &err);
    if (rc) rc__r_reply_status(&c->w, rc, &err);
    else reply_names(&c->w, &k);
    rc_buf_free(&k.names);
}

/* SCAN's cursor is the number of keys (in key order, after MATCH/TYPE)
 * already returned. Keys added or removed between calls may shift the
 * window: a key may be returned twice or, if keys before it were deleted,
 * missed; the guarantee Redis gives for keys present throughout is kept
 * only while the keyspace before the cursor does not shrink. */
void rc__r_cmd_scan(rc__call *c) {
    int64_t cur;
    if (!rc__r_parse_i64(c->argv[1], c->argvlen[1], &cur) || cur < 0) {
        rc_resp_w_error(&c->w, "ERR invalid cursor");
        return;
    }
    rc_kv_query q = {0};
    q.keys_only = 1;
    int64_t count = 10;
    for (size_t i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            rc__r_err_syntax(c);
            return;
        }
        const char *o = c->argv[i], *v = c->argv[i + 1];
        if (rc__r_streq(o, "MATCH")) {
            q.glob = (c->argvlen[i + 1] == 1 && v[0] == '*') ? NULL : v;
        } else if (rc__r_streq(o, "COUNT")) {
            if (!rc__r_parse_i64(v, c->argvlen[i + 1], &count)) {
                rc__r_err_int(c);
                return;
            }
            if (count < 1) {
                rc__r_err_syntax(c);
                return;
            }
        } else if (rc__r_streq(o, "TYPE")) {
            if (rc__r_streq(v, "string")) q.kind = RC_KV_STRING;
            else if (rc__r_streq(v, "hash")) q.kind = RC_KV_HASH;
            else if (rc__r_streq(v, "list")) q.kind = RC_KV_LIST;
            else q.kind = -1; /* a type Redcar does not have: nothing matches */
        } else {
            rc__r_err_syntax(c);
            return;
        }
    }
    keyacc k = {RC_BUF_INIT, 0, (size_t)cur, (size_t)count, 0, 0};
    rc_err err;
    rc_err_clear(&err);
    int rc = q.kind == -1 ? RC_OK : rc_store_kv_range(c->door->st, &q, on_key, &k, &err);
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else {
        rc_resp_w_array(&c->w, 2);
        rc_resp_w_bulk_i64(&c->w, k.more ? cur + (int64_t)k.n : 0);
        reply_names(&c->w, &k);
    }
    rc_buf_free(&k.names);
}

/* ---- RENAME ----------------------------------------------------------------------- */

static int rename_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    if (rc) goto out;
    if (!exists) {
        rc_resp_w_error(w, "ERR no such key");
        goto out;
    }
    if (a->flags) { /* RENAMENX */
        int dst;
        if ((rc = rc__r_tx_load(tx, a->v[1], &v, &dst, err))) goto out;
        if (dst) {
            rc_resp_w_int(w, 0);
            goto out;
        }
    }
    if (strcmp(a->v[0], a->v[1]) != 0)
        rc = rc__r_tx_append(tx, rc_api_kv_rename_event(RC__SOURCE, a->v[0], a->v[1]), err);
    if (!rc) {
        if (a->flags) rc_resp_w_int(w, 1);
        else rc_resp_w_ok(w);
    }
out:
    rc_buf_free(&v.v);
    return rc;
}

static void rename_common(rc__call *c, int nx) {
    if (!rc__r_key_ok(c, 1) || !rc__r_key_ok(c, 2)) return;
    rc__args *a = rc__r_args(c, 1, 3);
    a->flags = (unsigned)nx;
    rc__r_txn(c, rename_step, a, free);
}

void rc__r_cmd_rename(rc__call *c) { rename_common(c, 0); }
void rc__r_cmd_renamenx(rc__call *c) { rename_common(c, 1); }

/* ---- EXPIRE family ------------------------------------------------------------------ */

enum { X_NX = 1, X_XX = 2, X_GT = 4, X_LT = 8 };

/* v[0]=key; i[0]=when (ms, absolute or relative); i[1]=relative; flags X_* */
static int expire_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    rc_buf_free(&v.v);
    if (rc) return rc;
    if (!exists) {
        rc_resp_w_int(w, 0);
        return RC_OK;
    }
    int64_t now = rc_txn_now_ms(tx), when = a->i[0];
    if (a->i[1]) {
        if (when > 0 && when > INT64_MAX - now) {
            rc_resp_w_error(w, "ERR invalid expire time in 'expire' command");
            return RC_OK;
        }
        when += now;
    }
    int64_t cur = v.expire_ms; /* 0 = persistent, i.e. infinite for GT/LT */
    if (((a->flags & X_NX) && cur) || ((a->flags & X_XX) && !cur) ||
        ((a->flags & X_GT) && (!cur || when <= cur)) || ((a->flags & X_LT) && cur && when >= cur)) {
        rc_resp_w_int(w, 0);
        return RC_OK;
    }
    if (when <= now) /* Redis deletes a key given an expiry in the past */
        rc = rc__r_tx_append(tx, rc_api_kv_event(RC__SOURCE, "delete", a->v[0], NULL, 0, NULL), err);
    else
        rc = rc__r_tx_append(tx, rc_api_kv_expire_event(RC__SOURCE, a->v[0], when), err);
    if (!rc) rc_resp_w_int(w, 1);
    return rc;
}

static void expire_common(rc__call *c, int ms, int absolute) {
    int64_t t;
    if (!rc__r_key_ok(c, 1)) return;
    if (!rc__r_parse_i64(c->argv[2], c->argvlen[2], &t)) {
        rc__r_err_int(c);
        return;
    }
    unsigned flags = 0;
    for (size_t i = 3; i < c->argc; i++) {
        if (rc__r_streq(c->argv[i], "NX")) flags |= X_NX;
        else if (rc__r_streq(c->argv[i], "XX")) flags |= X_XX;
        else if (rc__r_streq(c->argv[i], "GT")) flags |= X_GT;
        else if (rc__r_streq(c->argv[i], "LT")) flags |= X_LT;
        else {
            rc_resp_w_errorf(&c->w, "ERR Unsupported option %.64s", c->argv[i]);
            return;
        }
    }
    if ((flags & X_NX) && (flags & (X_XX | X_GT | X_LT))) {
        rc_resp_w_error(&c->w, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & X_GT) && (flags & X_LT)) {
        rc_resp_w_error(&c->w, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    if (!ms) {
        if (t > INT64_MAX / 1000 || t < INT64_MIN / 1000) {
            rc_resp_w_errorf(&c->w, "ERR invalid expire time in '%s' command", c->cmd->name);
            return;
        }
        t *= 1000;
    }
    rc__args *a = rc__r_args(c, 1, 2);
    a->i[0] = t;
    a->i[1] = !absolute;
    a->flags = flags;
    rc__r_txn(c, expire_step, a, free);
}

void rc__r_cmd_expire(rc__call *c) { expire_common(c, 0, 0); }
void rc__r_cmd_pexpire(rc__call *c) { expire_common(c, 1, 0); }
void rc__r_cmd_expireat(rc__call *c) { expire_common(c, 0, 1); }
void rc__r_cmd_pexpireat(rc__call *c) { expire_common(c, 1, 1); }

static int persist_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    rc__args *a = arg;
    rc__val v = {0};
    int exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    rc_buf_free(&v.v);
    if (rc) return rc;
    if (!exists || !v.expire_ms) {
        rc_resp_w_int(w, 0);
        return RC_OK;
    }
    rc = rc__r_tx_append(tx, rc_api_kv_expire_event(RC__SOURCE, a->v[0], 0), err);
    if (!rc) rc_resp_w_int(w, 1);
    return rc;
}

void rc__r_cmd_persist(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__r_txn(c, persist_step, rc__r_args(c, 1, 2), free);
}
