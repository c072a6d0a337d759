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
 * an error instead of acting on a key they cannot see. KEYS and SCAN list
 * both (below); DBSIZE and INFO keyspace count the KV keys only, in O(1)
 * (cmd_server.c, docs/streams.md).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redcar/consumer.h"
#include "redcar/log.h"
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
    int groups; /* DEL: the step runs once, so it may remove consumer groups */
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
            if (!rc && k->groups) rc = rc__r_stream_drop_groups(k->st, tx, a->v[i], NULL, err);
            n++;
        }
    }
    rc_buf_free(&v.v);
    if (!rc) rc_resp_w_int(w, n);
    return rc;
}

/* Removing consumer groups reaches beyond what a re-runnable step may do
 * (door.h), so a DEL that may meet a stream runs once: inside EXEC (which
 * runs once), when a key is a stream now, or when the client's own writes
 * are still in flight (one of them may be making a stream, e.g. a
 * pipelined XGROUP CREATE ... MKSTREAM). A DEL of KV keys only keeps the
 * cheaper re-runnable form. The step finds the groups itself, through the
 * transaction, so it sees what committed before it. */
static int del_may_meet_stream(rc__call *c, const keyarg *k) {
    if (c->tx || c->cl->pending > 0) return 1;
    for (size_t i = 0; i < k->a->n; i++) {
        int stream = 0;
        rc_err err;
        if (rc__r_stream_key(k->st, NULL, k->a->v[i], &stream, &err) != RC_OK || stream) return 1;
    }
    return 0;
}

void rc__r_cmd_del(rc__call *c) {
    for (size_t i = 1; i < c->argc; i++)
        if (!rc__r_key_ok(c, i)) return;
    keyarg *k = keyarg_new(c, 1, c->argc);
    k->groups = del_may_meet_stream(c, k);
    if (k->groups) rc__r_txn_once(c, del_step, k, keyarg_free);
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

/* ---- listing: KEYS, SCAN ------------------------------------------------------ */

/* The keyspace is two sorted sets of names: the KV view's keys (kv table)
 * and the log's subjects (events_subject), each walked in byte order. A
 * name is a KV key if the KV view has it; else a stream if the subject's
 * newest event says so (rc__r_stream_newest_live); a subject that is
 * neither (a KV key set and deleted, a DEL'ed stream) is no key. Merging
 * the two walks lists each name once, KV first, as streamkey.h decides. */
typedef struct nm {
    char *key;
    int kind;     /* an rc_kv_kind, 0: a subject only */
    int live;     /* subject only: a stream now */
    uint64_t seq; /* the subject's newest event, 0: not a subject */
} nm;

typedef struct nmlist {
    nm *v;
    size_t n, cap;
} nmlist;

static nm *nm_push(nmlist *l, const char *key, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    nm *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    e->key = rc__r_strndup(key, len);
    return e;
}

static void nm_free(nmlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].key);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int on_kv(const rc_kv_entry *e, void *arg) {
    nm_push(arg, e->key, e->key_len)->kind = (int)e->kind;
    return 0;
}

static int on_subject(const rc_stored *r, void *arg) {
    nm *e = nm_push(arg, r->subject, strlen(r->subject));
    e->seq = r->seq;
    e->live = rc__r_stream_newest_live(r);
    return 0;
}

/* The literal start of a glob ("user:*" -> "user:") and the first string
 * above everything it begins (*end, malloc'ed, NULL: none), to bound both
 * walks; NULL when the pattern starts with a wildcard. */
static char *glob_prefix(const char *glob, char **end) {
    *end = NULL;
    if (!glob) return NULL;
    size_t n = strcspn(glob, "*?[\\");
    if (n == 0) return NULL;
    char *p = rc__r_strndup(glob, n), *e = rc__r_strndup(glob, n);
    while (n > 0 && (unsigned char)e[n - 1] == 0xFF) e[--n] = '\0';
    if (n > 0) {
        e[n - 1] = (char)((unsigned char)e[n - 1] + 1);
        *end = e;
    } else {
        free(e);
    }
    return p;
}

/* One window of the merged walk: up to n KV keys from `from` (inclusive;
 * the exclusive form drops it) and up to n subjects, below `below`. */
static int window(rc_store *st, const char *from, int excl, const char *below, size_t n,
                  nmlist *kv, nmlist *sub, rc_err *err) {
    rc_kv_query q = {0};
    q.keys_only = 1;
    q.key = from;
    q.end = below;
    q.limit = n + (excl ? 1 : 0);
    int rc = rc_store_kv_range(st, &q, on_kv, kv, err);
    if (!rc && excl && kv->n && from && !strcmp(kv->v[0].key, from)) {
        free(kv->v[0].key);
        memmove(kv->v, kv->v + 1, --kv->n * sizeof *kv->v);
    }
    if (!rc && kv->n > n) {
        free(kv->v[n].key);
        kv->n = n;
    }
    if (!rc) rc = rc_store_subjects(st, from, excl, below, n, RC__R_STREAM_TRIMMED, on_subject, sub, err);
    return rc;
}

/* Merge step: the next distinct name of the two sorted lists (*ki, *si
 * advance past it). NULL when both are done. The KV entry wins a tie, and
 * its seq comes from the subject's entry. */
static const nm *merge_next(const nmlist *kv, size_t *ki, const nmlist *sub, size_t *si, nm *tmp) {
    const nm *a = *ki < kv->n ? &kv->v[*ki] : NULL, *b = *si < sub->n ? &sub->v[*si] : NULL;
    if (!a && !b) return NULL;
    int c = !a ? 1 : !b ? -1 : strcmp(a->key, b->key);
    if (c < 0) {
        (*ki)++;
        return a;
    }
    if (c > 0) {
        (*si)++;
        return b;
    }
    *tmp = *a;
    tmp->seq = b->seq;
    (*ki)++;
    (*si)++;
    return tmp;
}

static const char *nm_type(const nm *e) {
    return e->kind ? type_name((rc_kv_kind)e->kind) : e->live ? "stream" : NULL;
}

static int nm_match(const nm *e, const char *glob, const char *type) {
    const char *t = nm_type(e);
    if (!t || (type && strcasecmp(type, t) != 0)) return 0;
    return !glob || rc_glob_match(glob, strlen(glob), e->key, strlen(e->key), 0);
}

static void reply_list(rc_resp_w *w, const rc_buf *names, size_t n) {
    rc_resp_w_array(w, n);
    for (size_t i = 0, at = 0; i < n; i++) {
        size_t l = strlen(names->p + at);
        rc_resp_w_bulk(w, names->p + at, l);
        at += l + 1;
    }
}

/* KEYS: every name (within the pattern's literal prefix) in byte order.
 * O(keys + subjects); Redis's KEYS is O(keys) too. */
void rc__r_cmd_keys(rc__call *c) {
    int all = c->argvlen[1] == 1 && c->argv[1][0] == '*';
    const char *glob = all ? NULL : c->argv[1];
    char *below, *pre = glob_prefix(glob, &below);
    nmlist kv = {0}, sub = {0};
    rc_kv_query q = {0};
    q.keys_only = 1;
    q.glob = glob;
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_kv_range(c->door->st, &q, on_kv, &kv, &err);
    if (!rc)
        rc = rc_store_subjects(c->door->st, pre, 0, below, 0, RC__R_STREAM_TRIMMED, on_subject,
                               &sub, &err);
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else {
        rc_buf names = RC_BUF_INIT;
        size_t n = 0, ki = 0, si = 0;
        nm tmp;
        for (const nm *e; (e = merge_next(&kv, &ki, &sub, &si, &tmp));) {
            if (!nm_match(e, glob, NULL)) continue;
            rc_buf_append(&names, e->key, strlen(e->key) + 1);
            n++;
        }
        reply_list(&c->w, &names, n);
        rc_buf_free(&names);
    }
    nm_free(&kv);
    nm_free(&sub);
    free(pre);
    free(below);
}

/* The subject of the stored event seq: *out malloc'ed. */
static int subject_row(const rc_stored *r, void *arg) {
    if (r->subject) *(char **)arg = rc__r_strndup(r->subject, strlen(r->subject));
    return 1;
}

static int subject_of(rc_store *st, uint64_t seq, char **out, rc_err *err) {
    *out = NULL;
    int rc = rc_store_get(st, seq, subject_row, out, err);
    if (!rc && !*out) rc = rc_err_set(err, RC_NOT_FOUND, "no subject");
    return rc;
}

/* SCAN's cursor names a position in the merged walk (byte order of the
 * names), without state on the server: 0 is the start; any other cursor
 * is the seq of a stored event whose subject is the last name the
 * previous call visited, and the walk resumes after that name. An event
 * never changes, so the cursor means the same name whatever is added or
 * removed meanwhile: a name present from the first call to the last is
 * returned (at least once), as Redis promises. A call visits about COUNT
 * names (a hint, as in Redis; MATCH and TYPE filter what it visited, so a
 * reply may be empty while the cursor is not 0) and then needs a name
 * with a subject to end on: a KV key whose events are all gone (retention,
 * or a key renamed into whose own events never had its name) has none, so
 * the call ends on the last name of its window that has one (names after
 * it come again next time) or, when none has, walks on to the next one.
 * A cursor whose event retention removed meanwhile starts again at 0. */
void rc__r_cmd_scan(rc__call *c) {
    int64_t cur;
    if (!rc__r_parse_i64(c->argv[1], c->argvlen[1], &cur) || cur < 0) {
        rc_resp_w_error(&c->w, "ERR invalid cursor");
        return;
    }
    const char *glob = NULL, *type = NULL;
    int64_t count = 10;
    for (size_t i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            rc__r_err_syntax(c);
            return;
        }
        const char *o = c->argv[i], *v = c->argv[i + 1];
        if (rc__r_streq(o, "MATCH")) {
            glob = (c->argvlen[i + 1] == 1 && v[0] == '*') ? NULL : v;
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
            type = v; /* a type Redcar does not have matches nothing */
        } else {
            rc__r_err_syntax(c);
            return;
        }
    }
    size_t n = count > 10000 ? 10000 : (size_t)count;
    rc_store *st = c->door->st;
    rc_err err;
    rc_err_clear(&err);
    char *from = NULL; /* resume after this name; NULL: from the start */
    if (cur > 0 && subject_of(st, (uint64_t)cur, &from, &err) != RC_OK) {
        rc_err_clear(&err); /* gone: start again (names may come twice, none is missed) */
        from = NULL;
    }
    char *below, *pre = glob_prefix(glob, &below);
    int excl = from != NULL;
    if (pre && (!from || strcmp(from, pre) < 0)) { /* jump to the pattern's range */
        free(from);
        from = rc__r_strndup(pre, strlen(pre));
        excl = 0;
    }
    rc_buf names = RC_BUF_INIT;
    size_t nout = 0, visited = 0;
    uint64_t anchor = 0; /* the cursor: seq of the last visited name that has one */
    int more = 0, rc = RC_OK;
    for (;;) {
        nmlist kv = {0}, sub = {0};
        if ((rc = window(st, from, excl, below, n, &kv, &sub, &err))) break;
        /* A full list may go on past its last name: beyond the smaller such
         * edge the other list's names are not known in order yet. */
        const char *edge = kv.n == n ? kv.v[n - 1].key : NULL;
        if (sub.n == n && (!edge || strcmp(sub.v[n - 1].key, edge) < 0)) edge = sub.v[n - 1].key;
        size_t ki = 0, si = 0;
        nm tmp;
        const nm *e;
        int stopped = 0;
        while ((e = merge_next(&kv, &ki, &sub, &si, &tmp))) {
            if (edge && strcmp(e->key, edge) > 0) break;
            if (visited >= n && anchor) {
                stopped = 1;
                break;
            }
            visited++;
            if (e->seq) anchor = e->seq;
            if (nm_match(e, glob, type)) {
                rc_buf_append(&names, e->key, strlen(e->key) + 1);
                nout++;
            }
        }
        char *next = edge ? rc__r_strndup(edge, strlen(edge)) : NULL;
        nm_free(&kv);
        nm_free(&sub);
        if (stopped || (next && visited >= n && anchor)) {
            more = 1;
            free(next);
            break;
        }
        if (!next) break; /* the walk reached the end: cursor 0 */
        free(from);
        from = next; /* every name up to the edge was visited: the next window */
        excl = 1;
    }
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else {
        rc_resp_w_array(&c->w, 2);
        rc_resp_w_bulk_i64(&c->w, more ? (int64_t)anchor : 0);
        reply_list(&c->w, &names, nout);
    }
    rc_buf_free(&names);
    free(from);
    free(pre);
    free(below);
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

/* ---- FLUSHDB's streams --------------------------------------------------------------- */

typedef struct flusharg {
    rc_store *st;
    rc_event **evs; /* the KV keys' delete events; NULL once appended */
    size_t nevs;
    nmlist streams;
} flusharg;

static void flusharg_free(void *p) {
    flusharg *f = p;
    for (size_t i = 0; i < f->nevs; i++) rc_event_free(f->evs[i]);
    free(f->evs);
    nm_free(&f->streams);
    free(f);
}

/* Runs once (it removes consumer groups). The names that are streams when
 * it starts get DEL's tombstone and lose their groups after the KV
 * deletes: a name that is also a KV key (docs/streams.md, one name in two
 * views) then has its kv.delete hidden with its entries, so XLEN is 0. */
static int flush_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    flusharg *f = arg;
    int rc = RC_OK;
    for (size_t i = 0; i < f->streams.n && !rc; i++)
        rc = rc__r_stream_key(f->st, tx, f->streams.v[i].key, &f->streams.v[i].live, err);
    for (size_t i = 0; i < f->nevs && !rc; i++) {
        rc_event *ev = f->evs[i];
        f->evs[i] = NULL;
        rc = rc__r_tx_append(tx, ev, err);
    }
    for (size_t i = 0; i < f->streams.n && !rc; i++) {
        const char *key = f->streams.v[i].key;
        if (!f->streams.v[i].live) continue;
        if (!(rc = rc__r_stream_remove(tx, key, err))) rc = rc__r_stream_drop_groups(f->st, tx, key, NULL, err);
    }
    if (!rc) rc_resp_w_ok(w);
    return rc;
}

int rc__r_flush_streams(rc__call *c, rc_event **evs, size_t n) {
    rc_store *st = c->door->st;
    nmlist sub = {0};
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_subjects(st, NULL, 0, NULL, 0, RC__R_STREAM_TRIMMED, on_subject, &sub, &err);
    flusharg *f = calloc(1, sizeof *f);
    if (!f) abort();
    f->st = st;
    for (size_t i = 0; !rc && i < sub.n; i++)
        if (sub.v[i].live) nm_push(&f->streams, sub.v[i].key, strlen(sub.v[i].key));
    nm_free(&sub);
    if (rc || f->streams.n == 0) {
        flusharg_free(f);
        if (rc) {
            for (size_t i = 0; i < n; i++) rc_event_free(evs[i]); /* the caller frees the array */
            rc__r_reply_status(&c->w, rc, &err);
            return 1;
        }
        return 0;
    }
    f->evs = malloc((n ? n : 1) * sizeof *f->evs);
    if (!f->evs) abort();
    if (n) memcpy(f->evs, evs, n * sizeof *evs);
    f->nevs = n;
    RC_INFO("resp", "FLUSHDB: deleting %zu keys and %zu streams", n, f->streams.n);
    rc__r_txn_once(c, flush_step, f, flusharg_free);
    return 1;
}
