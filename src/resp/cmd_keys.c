/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keyspace commands: DEL/UNLINK, EXISTS, KEYS, SCAN, TYPE, RENAME(NX), the
 * EXPIRE family, TTL family and PERSIST. Expiry is an `expires` timestamp on
 * io.redcar.kv.put / io.redcar.kv.expire events; an expired key is invisible
 * to reads at once and removed by an io.redcar.kv.expired event from active
 * expiry.
 *
 * A name is a KV key first; else it may be a stream (streamkey.h), which
 * EXISTS, TYPE, the TTL family and DEL/UNLINK treat as Redis does. Streams
 * cannot expire or be renamed (they are subjects of the log): those answer
 * an error instead of acting on a key they cannot see. KEYS, SCAN and
 * DBSIZE list the KV view only (docs/streams.md).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/consumer.h"
#include "resp/door.h"
#include "resp/streamkey.h"

static const char ERR_STREAM_EXPIRE[] =
    "ERR a stream cannot expire in Redcar (it is a subject of the event log): trim it with "
    "XTRIM or remove it with DEL";

static const char *type_name(rc_kv_kind k) {
    switch (k) {
    case RC_KV_STRING: return "string";
    case RC_KV_HASH: return "hash";
    case RC_KV_LIST: return "list";
    }
    return "none";
}

/* ---- DEL ---------------------------------------------------------------------- */

/* A step's arguments with the store (stream reads inside a step need it). */
typedef struct keyarg {
    rc_store *st;
    rc__args *a;
    /* DEL: the consumer groups of the keys that were streams when the
     * command arrived, as (key index, durable consumer name) */
    struct delgroup { size_t key; char *name; } *groups;
    size_t ngroups;
} keyarg;

static keyarg *keyarg_new(rc__call *c, size_t from, size_t to) {
    keyarg *k = calloc(1, sizeof *k);
    if (!k) abort();
    k->st = c->door->st;
    k->a = rc__r_args(c, from, to);
    return k;
}

static void keyarg_free(void *p) {
    keyarg *k = p;
    for (size_t i = 0; i < k->ngroups; i++) free(k->groups[i].name);
    free(k->groups);
    free(k->a);
    free(k);
}

/* A KV key gets an io.redcar.kv.delete event; a stream gets DEL's
 * tombstone, and its groups go with it as in Redis. */
static int del_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    keyarg *k = arg;
    rc__args *a = k->a;
    rc__val v = {0};
    int64_t n = 0;
    int rc = RC_OK;
    for (size_t i = 0; i < a->n && !rc; i++) {
        int exists, stream = 0;
        rc = rc__r_tx_load(tx, a->v[i], &v, &exists, err);
        if (!rc && exists) {
            rc = rc__r_tx_append(tx, rc_api_kv_event(RC__SOURCE, "delete", a->v[i], NULL, 0, NULL), err);
            n++;
        } else if (!rc && !(rc = rc__r_stream_key(k->st, tx, a->v[i], &stream, err)) && stream) {
            rc = rc__r_stream_remove(tx, a->v[i], err);
            n++;
        }
        for (size_t j = 0; j < k->ngroups && stream && !rc; j++) {
            if (k->groups[j].key != i) continue;
            rc = rc_consumer_txn_delete(k->st, tx, k->groups[j].name, err);
            if (rc == RC_NOT_FOUND) { /* destroyed meanwhile */
                rc_err_clear(err);
                rc = RC_OK;
            }
        }
    }
    rc_buf_free(&v.v);
    if (!rc) rc_resp_w_int(w, n);
    return rc;
}

/* A stream's groups are durable consumers, found by listing them, which
 * only the read pool does: here on the loop, before the step, for the keys
 * that are streams now. (Inside EXEC, on the writer thread, nothing is
 * listed: the stream goes, its groups stay; docs/streams.md.) */
static void del_list_groups(rc__call *c, keyarg *k) {
    for (size_t i = 0; !c->tx && i < k->a->n; i++) {
        int stream = 0;
        size_t n = 0;
        rc_err err;
        rc_buf names = RC_BUF_INIT;
        if (rc__r_stream_key(k->st, NULL, k->a->v[i], &stream, &err) == RC_OK && stream &&
            rc__r_stream_groups(k->st, k->a->v[i], k->a->len[i], &names, &n, &err) == RC_OK && n) {
            k->groups = realloc(k->groups, (k->ngroups + n) * sizeof *k->groups);
            if (!k->groups) abort();
            for (const char *p = names.p; n; n--, p += strlen(p) + 1) {
                k->groups[k->ngroups].key = i;
                k->groups[k->ngroups++].name = rc__r_strndup(p, strlen(p));
            }
        }
        rc_buf_free(&names);
    }
}

void rc__r_cmd_del(rc__call *c) {
    for (size_t i = 1; i < c->argc; i++)
        if (!rc__r_key_ok(c, i)) return;
    keyarg *k = keyarg_new(c, 1, c->argc);
    del_list_groups(c, k);
    /* Deleting consumers reaches beyond the store's undo: that step runs once. */
    if (k->ngroups) rc__r_txn_once(c, del_step, k, keyarg_free);
    else rc__r_txn(c, del_step, k, keyarg_free);
}

/* ---- reads ---------------------------------------------------------------------- */

/* The key at argv[i] as a KV key (v, RC_OK), else as a stream (*stream
 * set, RC_NOT_FOUND), else RC_NOT_FOUND; or a store error. */
static int lookup(rc__call *c, size_t i, rc__val *v, int *stream, rc_err *err) {
    *stream = 0;
    int rc = rc__r_get(c->door->st, c->tx, c->argv[i], v, err);
    if (rc == RC_NOT_FOUND) {
        int r2 = rc__r_stream_key(c->door->st, c->tx, c->argv[i], stream, err);
        if (r2) return r2;
    }
    return rc;
}

void rc__r_cmd_exists(rc__call *c) {
    rc__val v = {0};
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++) {
        rc_err err;
        int stream;
        if (memchr(c->argv[i], 0, c->argvlen[i])) continue;
        int rc = lookup(c, i, &v, &stream, &err);
        if (rc == RC_OK || (rc == RC_NOT_FOUND && stream)) n++;
    }
    rc_buf_free(&v.v);
    rc_resp_w_int(&c->w, n);
}

void rc__r_cmd_type(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__val v = {0};
    rc_err err;
    int stream;
    int rc = lookup(c, 1, &v, &stream, &err);
    if (rc == RC_OK) rc_resp_w_simple(&c->w, type_name(v.kind));
    else if (rc == RC_NOT_FOUND) rc_resp_w_simple(&c->w, stream ? "stream" : "none");
    else rc__r_reply_status(&c->w, rc, &err);
    rc_buf_free(&v.v);
}

static void ttl_common(rc__call *c, int ms, int absolute) {
    if (!rc__r_key_ok(c, 1)) return;
    rc__val v = {0};
    rc_err err;
    int stream;
    int rc = lookup(c, 1, &v, &stream, &err);
    rc_buf_free(&v.v);
    if (rc == RC_NOT_FOUND) {
        rc_resp_w_int(&c->w, stream ? -1 : -2); /* a stream never expires */
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

/* A stream's entries are the log's events under its subject, which keep
 * their subject: a stream can be neither renamed nor replaced by a rename. */
static int rename_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    keyarg *k = arg;
    rc__args *a = k->a;
    rc__val v = {0};
    int stream = 0, exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    if (rc) goto out;
    if (!exists) {
        if ((rc = rc__r_stream_key(k->st, tx, a->v[0], &stream, err))) goto out;
        rc_resp_w_error(w, stream ? "ERR a stream cannot be renamed in Redcar (its entries are "
                                    "events of the log under its name)"
                                  : "ERR no such key");
        goto out;
    }
    int dst;
    if ((rc = rc__r_tx_load(tx, a->v[1], &v, &dst, err))) goto out;
    if (!dst && (rc = rc__r_stream_key(k->st, tx, a->v[1], &stream, err))) goto out;
    if (a->flags && (dst || stream)) { /* RENAMENX: the destination exists */
        rc_resp_w_int(w, 0);
        goto out;
    }
    if (stream) {
        rc_resp_w_error(w, "ERR the destination is a stream, which Redcar cannot replace by a "
                           "rename: DEL it first");
        goto out;
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
    keyarg *k = keyarg_new(c, 1, 3);
    k->a->flags = (unsigned)nx;
    rc__r_txn(c, rename_step, k, keyarg_free);
}

void rc__r_cmd_rename(rc__call *c) { rename_common(c, 0); }
void rc__r_cmd_renamenx(rc__call *c) { rename_common(c, 1); }

/* ---- EXPIRE family ------------------------------------------------------------------ */

enum { X_NX = 1, X_XX = 2, X_GT = 4, X_LT = 8 };

/* v[0]=key; i[0]=when (ms, absolute or relative); i[1]=relative; flags X_* */
static int expire_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    keyarg *k = arg;
    rc__args *a = k->a;
    rc__val v = {0};
    int stream, exists, rc = rc__r_tx_load(tx, a->v[0], &v, &exists, err);
    rc_buf_free(&v.v);
    if (rc) return rc;
    if (!exists) {
        if ((rc = rc__r_stream_key(k->st, tx, a->v[0], &stream, err))) return rc;
        if (stream) rc_resp_w_error(w, ERR_STREAM_EXPIRE);
        else rc_resp_w_int(w, 0);
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
    keyarg *k = keyarg_new(c, 1, 2);
    k->a->i[0] = t;
    k->a->i[1] = !absolute;
    k->a->flags = flags;
    rc__r_txn(c, expire_step, k, keyarg_free);
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
