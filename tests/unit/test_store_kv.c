/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KV view: metadata (create/mod/version), ranges, prefixes, counts,
 * keys-only, globs, as-of reads rebuilt from the log, history, hashes,
 * lists, expiry, renames, and the private JSON reader and glob matcher.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "redcar/log.h"
#include "redcar/store.h"
#include "store/store_int.h"
#include "check_main.h"

static char dir[64];
static rc_store *st;
static int idn;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void setup(void) {
    strcpy(dir, "/tmp/rc-store-kv-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    o.fsync = RC_FSYNC_NORMAL;
    ck_assert_int_eq(rc_store_open(&st, &o, NULL), RC_OK);
}

static void teardown(void) {
    rc_store_close(st);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static rc_event *kvev(const char *op, const char *key, const char *data, const char *ctype) {
    rc_event *ev = rc_event_new();
    char id[32], type[64];
    snprintf(id, sizeof id, "kv-%d", ++idn);
    snprintf(type, sizeof type, "io.redcar.kv.%s", op);
    rc_event_set(ev, "specversion", "1.0");
    rc_event_set(ev, "source", "/test");
    rc_event_set(ev, "id", id);
    rc_event_set(ev, "type", type);
    if (key) rc_event_set(ev, "subject", key);
    if (data) rc_event_set_data(ev, ctype, data, strlen(data), RC_DATA_NONE);
    return ev;
}

static int do_append(rc_event *ev, uint64_t *seq, rc_err *err) {
    rc_append_item it = {0, 0};
    int rc = rc_store_append(st, &ev, 1, NULL, &it, err);
    if (seq) *seq = it.seq;
    return rc;
}

static uint64_t app(rc_event *ev) {
    uint64_t seq;
    rc_err err;
    int rc = do_append(ev, &seq, &err);
    ck_assert_msg(rc == RC_OK, "append: %s", rc_err_msg(&err));
    return seq;
}

static uint64_t put(const char *key, const char *val) { return app(kvev("put", key, val, "text/plain")); }

typedef struct got {
    int n;
    char key[8][64];
    char val[8][64];
    rc_kv_entry e; /* last one (pointers invalid after the call) */
    char ctype[64];
    int value_null;
} got;

static int got_cb(const rc_kv_entry *e, void *arg) {
    got *g = arg;
    if (g->n < 8) {
        snprintf(g->key[g->n], 64, "%.*s", (int)e->key_len, e->key);
        if (e->value) snprintf(g->val[g->n], 64, "%.*s", (int)e->value_len, (const char *)e->value);
        else g->val[g->n][0] = '\0';
    }
    g->value_null = e->value == NULL;
    g->e = *e;
    snprintf(g->ctype, sizeof g->ctype, "%s", e->ctype ? e->ctype : "(null)");
    g->n++;
    return 0;
}

static int get(const char *key, uint64_t as_of, got *g) {
    memset(g, 0, sizeof *g);
    return rc_store_kv_get(st, key, as_of, got_cb, g, NULL);
}

START_TEST(metadata) {
    got g;
    uint64_t s1 = put("k", "v1");
    ck_assert_int_eq(get("k", 0, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "v1");
    ck_assert_str_eq(g.ctype, "text/plain");
    ck_assert_int_eq(g.e.kind, RC_KV_STRING);
    ck_assert_uint_eq(g.e.create_seq, s1);
    ck_assert_uint_eq(g.e.mod_seq, s1);
    ck_assert_uint_eq(g.e.version, 1);
    ck_assert_int_eq(g.e.expire_ms, 0);
    uint64_t s2 = put("k", "v2");
    ck_assert_int_eq(get("k", 0, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "v2");
    ck_assert_uint_eq(g.e.create_seq, s1);
    ck_assert_uint_eq(g.e.mod_seq, s2);
    ck_assert_uint_eq(g.e.version, 2);
    uint64_t s3 = app(kvev("delete", "k", NULL, NULL));
    ck_assert_int_eq(get("k", 0, &g), RC_NOT_FOUND);
    app(kvev("delete", "k", NULL, NULL)); /* absent: no error */
    uint64_t s4 = put("k", "v3");
    ck_assert_int_eq(get("k", 0, &g), RC_OK);
    ck_assert_uint_eq(g.e.create_seq, s4);
    ck_assert_uint_eq(g.e.version, 1);
    /* as-of */
    ck_assert_int_eq(get("k", s1, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "v1");
    ck_assert_uint_eq(g.e.version, 1);
    ck_assert_int_eq(get("k", s2, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "v2");
    ck_assert_uint_eq(g.e.create_seq, s1);
    ck_assert_uint_eq(g.e.mod_seq, s2);
    ck_assert_uint_eq(g.e.version, 2);
    ck_assert_str_eq(g.ctype, "text/plain");
    ck_assert_int_eq(get("k", s3, &g), RC_NOT_FOUND);
    ck_assert_int_eq(get("k", s4 + 100, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "v3");
    /* binary value */
    rc_event *ev = kvev("put", "bin", NULL, NULL);
    rc_event_set_data(ev, "application/octet-stream", "\x00\x01\xff", 3, RC_DATA_BINARY);
    app(ev);
    ck_assert_int_eq(get("bin", 0, &g), RC_OK);
    ck_assert_uint_eq(g.e.value_len, 3);
}
END_TEST

static int hist_cb(const rc_stored *row, void *arg) {
    got *g = arg;
    if (g->n < 8) snprintf(g->val[g->n], 64, "%s", row->type + strlen("io.redcar.kv."));
    g->n++;
    return 0;
}

START_TEST(history) {
    put("h", "1");
    app(kvev("delete", "h", NULL, NULL));
    put("other", "x");
    put("h", "2");
    got g;
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(rc_store_kv_history(st, "h", 0, hist_cb, &g, NULL), RC_OK);
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.val[0], "put");
    ck_assert_str_eq(g.val[1], "delete");
    ck_assert_str_eq(g.val[2], "put");
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(rc_store_kv_history(st, "h", 2, hist_cb, &g, NULL), RC_OK);
    ck_assert_int_eq(g.n, 2);
}
END_TEST

static int range(rc_kv_query *q, got *g) {
    memset(g, 0, sizeof *g);
    return rc_store_kv_range(st, q, got_cb, g, NULL);
}

START_TEST(ranges) {
    const char *keys[] = {"a", "app:1", "app:2", "app:3", "b", "user:1", "user:2"};
    for (size_t i = 0; i < 7; i++) put(keys[i], keys[i]);
    app(kvev("hset", "app:h", "{\"f\":\"v\"}", "application/json"));
    rc_kv_query q;
    got g;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 8);
    ck_assert_str_eq(g.key[0], "a");
    q.prefix = "app:";
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 4);
    ck_assert_str_eq(g.key[0], "app:1");
    ck_assert_str_eq(g.val[0], "app:1");
    q.kind = RC_KV_HASH;
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.key[0], "app:h");
    ck_assert_uint_eq(g.e.value_len, 1);
    q.kind = 0;
    q.desc = 1;
    q.limit = 2;
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.key[0], "app:h");
    ck_assert_str_eq(g.key[1], "app:3");
    /* [key, end) */
    memset(&q, 0, sizeof q);
    q.key = "app:2";
    q.end = "user:1";
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 4);
    ck_assert_str_eq(g.key[0], "app:2");
    ck_assert_str_eq(g.key[3], "b");
    q.keys_only = 1;
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.value_null, 1);
    /* glob */
    memset(&q, 0, sizeof q);
    q.glob = "*:[12]";
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 4);
    q.limit = 3;
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 3);
    /* count */
    uint64_t n;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 8);
    q.prefix = "user:";
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 2);
    q.prefix = NULL;
    q.glob = "app:?";
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 4);
    q.glob = NULL;
    q.limit = 5;
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 5);
    /* multi-byte UTF-8 prefixes bound correctly (byte order) */
    put("\xc3\xa9-1", "1"); /* é-1 */
    put("\xc3\xa9-2", "2");
    put("\xc3\xaa", "3");   /* ê */
    memset(&q, 0, sizeof q);
    q.prefix = "\xc3\xa9";
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 2);
    q.kind = 9;
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_INVALID);
}
END_TEST

START_TEST(range_as_of) {
    put("a", "a1");
    uint64_t s = put("b", "b1");
    put("a", "a2");
    app(kvev("delete", "b", NULL, NULL));
    put("c", "c1");
    rc_kv_query q;
    got g;
    memset(&q, 0, sizeof q);
    q.as_of = s;
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.key[0], "a");
    ck_assert_str_eq(g.val[0], "a1");
    ck_assert_str_eq(g.key[1], "b");
    uint64_t n;
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 2);
    q.desc = 1;
    q.limit = 1;
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.key[0], "b");
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(range(&q, &g), RC_OK);
    ck_assert_int_eq(g.n, 2); /* a, c */
    ck_assert_str_eq(g.val[0], "a2");
}
END_TEST

/* ---- hashes and lists ---- */

typedef struct items {
    int n;
    char a[8][32], b[8][32];
    size_t alen[8];
} items;

static int items_cb(const void *a, size_t alen, const void *b, size_t blen, void *arg) {
    items *it = arg;
    if (it->n < 8) {
        memcpy(it->a[it->n], a, alen < 31 ? alen : 31);
        it->a[it->n][alen < 31 ? alen : 31] = '\0';
        it->alen[it->n] = alen;
        if (b) snprintf(it->b[it->n], 32, "%.*s", (int)blen, (const char *)b);
    }
    it->n++;
    return 0;
}

START_TEST(hashes) {
    items it;
    uint64_t s1 = app(kvev("hset", "h", "{\"a\":\"1\",\"b\":\"2\"}", "application/json"));
    app(kvev("hset", "h", "{\"b\":\"3\",\"c\":\"4\",\"bin\":{\"base64\":\"AAEC\"}}", "application/json"));
    got g;
    ck_assert_int_eq(get("h", 0, &g), RC_OK);
    ck_assert_int_eq(g.e.kind, RC_KV_HASH);
    ck_assert_uint_eq(g.e.value_len, 4);
    ck_assert_ptr_null(g.e.value);
    ck_assert_uint_eq(g.e.version, 2);
    ck_assert_uint_eq(g.e.create_seq, s1);
    memset(&it, 0, sizeof it);
    ck_assert_int_eq(rc_store_hash_scan(st, "h", items_cb, &it, NULL), RC_OK);
    ck_assert_int_eq(it.n, 4);
    ck_assert_str_eq(it.a[0], "a");
    ck_assert_str_eq(it.b[0], "1");
    ck_assert_str_eq(it.a[1], "b");
    ck_assert_str_eq(it.b[1], "3");
    ck_assert_str_eq(it.a[2], "bin");
    ck_assert_int_eq(it.b[2][0], 0); /* bytes 00 01 02 */
    /* as-of counts fields */
    ck_assert_int_eq(get("h", s1, &g), RC_OK);
    ck_assert_uint_eq(g.e.value_len, 2);
    app(kvev("hdel", "h", "[\"a\",\"zz\",{\"base64\":\"Yml1\"}]", "application/json"));
    ck_assert_int_eq(get("h", 0, &g), RC_OK);
    ck_assert_uint_eq(g.e.value_len, 3);
    app(kvev("hdel", "h", "[\"b\",\"c\",\"bin\"]", "application/json"));
    ck_assert_int_eq(get("h", 0, &g), RC_NOT_FOUND);
    ck_assert_int_eq(rc_store_hash_scan(st, "h", items_cb, &it, NULL), RC_NOT_FOUND);
    uint64_t n;
    rc_kv_query q;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 0);
    /* wrong types and bad data */
    put("s", "x");
    rc_err err;
    ck_assert_int_eq(do_append(kvev("hset", "s", "{\"a\":\"1\"}", "application/json"), NULL, &err),
                     RC_WRONGTYPE);
    ck_assert_int_eq(rc_store_hash_scan(st, "s", items_cb, &it, NULL), RC_WRONGTYPE);
    ck_assert_int_eq(do_append(kvev("hset", "h2", "{\"a\":1}", "application/json"), NULL, &err),
                     RC_INVALID);
    ck_assert_int_eq(do_append(kvev("hset", "h2", "{}", "application/json"), NULL, &err), RC_INVALID);
    ck_assert_int_eq(do_append(kvev("hset", "h2", NULL, NULL), NULL, &err), RC_INVALID);
    ck_assert_int_eq(do_append(kvev("hdel", "h2", "{\"a\":\"1\"}", "application/json"), NULL, &err),
                     RC_INVALID);
    /* put replaces a hash */
    app(kvev("hset", "h3", "{\"a\":\"1\"}", "application/json"));
    put("h3", "now a string");
    ck_assert_int_eq(get("h3", 0, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "now a string");
    ck_assert_uint_eq(g.e.version, 2);
    rc_event *h3 = kvev("hset", "h3", "{\"z\":\"1\"}", "application/json");
    ck_assert_int_eq(do_append(h3, NULL, &err), RC_WRONGTYPE);
}
END_TEST

static int lrange(const char *key, int64_t a, int64_t b, items *it) {
    memset(it, 0, sizeof *it);
    return rc_store_list_range(st, key, a, b, items_cb, it, NULL);
}

START_TEST(lists) {
    items it;
    got g;
    app(kvev("rpush", "l", "[\"a\",\"b\"]", "application/json"));
    uint64_t s2 = app(kvev("lpush", "l", "[\"x\",\"y\"]", "application/json"));
    ck_assert_int_eq(lrange("l", 0, -1, &it), RC_OK);
    ck_assert_int_eq(it.n, 4);
    ck_assert_str_eq(it.a[0], "y");
    ck_assert_str_eq(it.a[1], "x");
    ck_assert_str_eq(it.a[2], "a");
    ck_assert_str_eq(it.a[3], "b");
    ck_assert_int_eq(lrange("l", -2, -1, &it), RC_OK);
    ck_assert_int_eq(it.n, 2);
    ck_assert_str_eq(it.a[0], "a");
    ck_assert_int_eq(lrange("l", 1, 100, &it), RC_OK);
    ck_assert_int_eq(it.n, 3);
    ck_assert_int_eq(lrange("l", 3, 1, &it), RC_OK);
    ck_assert_int_eq(it.n, 0);
    ck_assert_int_eq(lrange("l", 10, 20, &it), RC_OK);
    ck_assert_int_eq(it.n, 0);
    ck_assert_int_eq(lrange("l", -100, 0, &it), RC_OK);
    ck_assert_int_eq(it.n, 1);
    ck_assert_str_eq(it.a[0], "y");
    ck_assert_int_eq(get("l", 0, &g), RC_OK);
    ck_assert_int_eq(g.e.kind, RC_KV_LIST);
    ck_assert_uint_eq(g.e.value_len, 4);
    app(kvev("lpop", "l", NULL, NULL));
    ck_assert_int_eq(lrange("l", 0, -1, &it), RC_OK);
    ck_assert_int_eq(it.n, 3);
    ck_assert_str_eq(it.a[0], "x");
    rc_event *ev = kvev("rpop", "l", NULL, NULL);
    rc_event_set_ext_int(ev, "count", 2);
    app(ev);
    ck_assert_int_eq(lrange("l", 0, -1, &it), RC_OK);
    ck_assert_int_eq(it.n, 1);
    ck_assert_str_eq(it.a[0], "x");
    ck_assert_int_eq(get("l", 0, &g), RC_OK);
    ck_assert_uint_eq(g.e.version, 4);
    /* as-of */
    ck_assert_int_eq(get("l", s2, &g), RC_OK);
    ck_assert_uint_eq(g.e.value_len, 4);
    app(kvev("rpush", "l", "[\"z\"]", "application/json"));
    ck_assert_int_eq(lrange("l", 0, -1, &it), RC_OK);
    ck_assert_int_eq(it.n, 2);
    ck_assert_str_eq(it.a[1], "z");
    ev = kvev("lpop", "l", NULL, NULL);
    rc_event_set_ext_int(ev, "count", 10);
    app(ev);
    ck_assert_int_eq(get("l", 0, &g), RC_NOT_FOUND);
    ck_assert_int_eq(lrange("l", 0, -1, &it), RC_NOT_FOUND);
    app(kvev("lpop", "l", NULL, NULL)); /* empty: no-op */
    rc_err err;
    ev = kvev("lpop", "l", NULL, NULL);
    rc_event_set_ext_int(ev, "count", -1);
    ck_assert_int_eq(do_append(ev, NULL, &err), RC_INVALID);
    put("s", "x");
    ck_assert_int_eq(do_append(kvev("rpush", "s", "[\"a\"]", "application/json"), NULL, &err),
                     RC_WRONGTYPE);
    ck_assert_int_eq(lrange("s", 0, -1, &it), RC_WRONGTYPE);
    ck_assert_int_eq(do_append(kvev("lpop", "s", NULL, NULL), NULL, &err), RC_WRONGTYPE);
    ck_assert_int_eq(do_append(kvev("rpush", "l2", "[]", "application/json"), NULL, &err), RC_INVALID);
    ck_assert_int_eq(do_append(kvev("rpush", "l2", "[\"a\",[\"b\"]]", "application/json"), NULL, &err),
                     RC_INVALID);
}
END_TEST

/* ---- expiry ---- */

static int64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static rc_event *put_exp(const char *key, const char *val, int64_t at) {
    rc_event *ev = kvev("put", key, val, "text/plain");
    char t[40];
    rc_time_format(at, t, sizeof t);
    rc_event_set_ext_string(ev, "expires", RC_EXT_TIME, t);
    return ev;
}

START_TEST(expiry) {
    got g;
    int64_t now = now_ms();
    /* 2 s: long enough that the reads below still see e1 on a loaded
     * machine; the test then waits for the expiry time itself */
    app(put_exp("e1", "v", now + 2000));
    app(put_exp("e2", "v", now + 60000));
    put("keep", "v");
    ck_assert_int_eq(get("e1", 0, &g), RC_OK);
    ck_assert(g.e.expire_ms >= now + 1999 && g.e.expire_ms <= now + 2000);
    /* keepttl keeps it, a plain put clears it */
    rc_event *ev = kvev("put", "e2", "v2", "text/plain");
    rc_event_set_ext_bool(ev, "keepttl", 1);
    app(ev);
    ck_assert_int_eq(get("e2", 0, &g), RC_OK);
    ck_assert(g.e.expire_ms > now);
    put("e2", "v3");
    ck_assert_int_eq(get("e2", 0, &g), RC_OK);
    ck_assert_int_eq(g.e.expire_ms, 0);
    /* expire sets and clears */
    ev = kvev("expire", "keep", NULL, NULL);
    char t[40];
    rc_time_format(now + 100000, t, sizeof t);
    rc_event_set_ext_string(ev, "expires", RC_EXT_TIME, t);
    app(ev);
    ck_assert_int_eq(get("keep", 0, &g), RC_OK);
    ck_assert_int_eq(g.e.expire_ms, now + 100000);
    ck_assert_uint_eq(g.e.version, 2);
    app(kvev("expire", "keep", NULL, NULL));
    ck_assert_int_eq(get("keep", 0, &g), RC_OK);
    ck_assert_int_eq(g.e.expire_ms, 0);
    app(kvev("expire", "nokey", NULL, NULL));
    ck_assert_int_eq(get("nokey", 0, &g), RC_NOT_FOUND);
    ev = kvev("expire", "keep", NULL, NULL);
    rc_event_set(ev, "expires", "not a time");
    rc_err err;
    ck_assert_int_eq(do_append(ev, NULL, &err), RC_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "expires"));

    while (now_ms() <= now + 2000 + 20) usleep(20 * 1000);
    /* invisible before active expiry */
    ck_assert_int_eq(get("e1", 0, &g), RC_NOT_FOUND);
    uint64_t n;
    rc_kv_query q;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(rc_store_kv_count(st, &q, &n, NULL), RC_OK);
    ck_assert_uint_eq(n, 2);
    rc_store_stats s;
    rc_store_stats_get(st, &s);
    ck_assert_uint_eq(s.keys, 2);
    /* active expiry appends io.redcar.kv.expired events */
    ck_assert_int_eq(rc_store_expire_due(st, 100, &err), 1);
    ck_assert_int_eq(rc_store_expire_due(st, 100, &err), 0);
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(rc_store_kv_history(st, "e1", 0, hist_cb, &g, NULL), RC_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.val[1], "expired");
    /* a new put after expiry starts over */
    uint64_t s1 = put("e1", "again");
    ck_assert_int_eq(get("e1", 0, &g), RC_OK);
    ck_assert_uint_eq(g.e.version, 1);
    ck_assert_uint_eq(g.e.create_seq, s1);
    /* lazily expired keys are replaced, not updated */
    app(put_exp("e3", "v", now_ms() + 50));
    usleep(100 * 1000);
    uint64_t s3 = put("e3", "fresh");
    ck_assert_int_eq(get("e3", 0, &g), RC_OK);
    ck_assert_uint_eq(g.e.create_seq, s3);
    ck_assert_uint_eq(g.e.version, 1);
}
END_TEST

/* ---- rename ---- */

static rc_event *rename_ev(const char *from, const char *to) {
    rc_event *ev = kvev("rename", from, NULL, NULL);
    rc_event_set_ext_string(ev, "newkey", RC_EXT_STRING, to);
    return ev;
}

START_TEST(renames) {
    got g;
    items it;
    put("a", "va");
    uint64_t s_old = put("b", "vb-old");
    uint64_t sr = app(rename_ev("a", "b"));
    ck_assert_int_eq(get("a", 0, &g), RC_NOT_FOUND);
    ck_assert_int_eq(get("b", 0, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "va");
    ck_assert_uint_eq(g.e.create_seq, sr);
    ck_assert_uint_eq(g.e.version, 1);
    /* as-of through the rename */
    ck_assert_int_eq(get("b", s_old, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "vb-old");
    ck_assert_int_eq(get("b", sr, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "va");
    ck_assert_int_eq(get("a", sr - 1, &g), RC_OK);
    ck_assert_int_eq(get("a", sr, &g), RC_NOT_FOUND);
    /* hashes and lists move with their key */
    app(kvev("hset", "h", "{\"f\":\"1\"}", "application/json"));
    app(rename_ev("h", "h2"));
    memset(&it, 0, sizeof it);
    ck_assert_int_eq(rc_store_hash_scan(st, "h2", items_cb, &it, NULL), RC_OK);
    ck_assert_int_eq(it.n, 1);
    ck_assert_int_eq(rc_store_hash_scan(st, "h", items_cb, &it, NULL), RC_NOT_FOUND);
    app(kvev("rpush", "l", "[\"1\",\"2\"]", "application/json"));
    app(rename_ev("l", "h2")); /* replaces the hash */
    ck_assert_int_eq(lrange("h2", 0, -1, &it), RC_OK);
    ck_assert_int_eq(it.n, 2);
    ck_assert_int_eq(get("h2", 0, &g), RC_OK);
    ck_assert_int_eq(g.e.kind, RC_KV_LIST);
    /* missing source: no-op; missing newkey: refused */
    app(rename_ev("nothing", "b"));
    ck_assert_int_eq(get("b", 0, &g), RC_OK);
    rc_err err;
    ck_assert_int_eq(do_append(kvev("rename", "b", NULL, NULL), NULL, &err), RC_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "newkey"));
    /* range as-of sees renamed-in keys */
    rc_kv_query q;
    memset(&q, 0, sizeof q);
    q.as_of = sr;
    q.prefix = "b";
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(rc_store_kv_range(st, &q, got_cb, &g, NULL), RC_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.val[0], "va");
}
END_TEST

START_TEST(invalid_kv_events) {
    rc_err err;
    ck_assert_int_eq(do_append(kvev("put", NULL, "v", "text/plain"), NULL, &err), RC_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "subject"));
    ck_assert_int_eq(do_append(kvev("frobnicate", "k", NULL, NULL), NULL, &err), RC_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown"));
    rc_store_stats s;
    rc_store_stats_get(st, &s);
    ck_assert_uint_eq(s.head_seq, 0);
}
END_TEST

START_TEST(reopen_keeps_kv) {
    uint64_t s1 = put("k", "v1");
    put("k", "v2");
    app(kvev("hset", "h", "{\"f\":\"1\"}", "application/json"));
    app(kvev("rpush", "l", "[\"a\",\"b\"]", "application/json"));
    rc_store_close(st);
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    ck_assert_int_eq(rc_store_open(&st, &o, NULL), RC_OK);
    got g;
    items it;
    ck_assert_int_eq(get("k", 0, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "v2");
    ck_assert_uint_eq(g.e.version, 2);
    ck_assert_int_eq(get("k", s1, &g), RC_OK);
    ck_assert_str_eq(g.val[0], "v1");
    memset(&it, 0, sizeof it);
    ck_assert_int_eq(rc_store_hash_scan(st, "h", items_cb, &it, NULL), RC_OK);
    ck_assert_int_eq(it.n, 1);
    ck_assert_int_eq(lrange("l", 0, -1, &it), RC_OK);
    ck_assert_int_eq(it.n, 2);
    /* the log continues where it was */
    ck_assert_uint_eq(app(kvev("rpush", "l", "[\"c\"]", "application/json")), 5);
    ck_assert_int_eq(lrange("l", -1, -1, &it), RC_OK);
    ck_assert_str_eq(it.a[0], "c");
}
END_TEST

/* ---- private helpers ---- */

START_TEST(kvjson) {
    rc__kvitems it;
    rc_err err;
    const char *doc = " [ \"a\\\"b\" , \"\\u00e9\\ud83d\\ude00\", {\"base64\":\"AP8=\"}, \"\" ] ";
    ck_assert_int_eq(rc__kvjson_parse(doc, strlen(doc), 0, &it, &err), RC_OK);
    ck_assert_uint_eq(it.n, 4);
    ck_assert_str_eq(it.p[0], "a\"b");
    ck_assert_str_eq(it.p[1], "\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_uint_eq(it.len[2], 2);
    ck_assert_int_eq((unsigned char)it.p[2][1], 0xff);
    ck_assert_uint_eq(it.len[3], 0);
    rc__kvitems_free(&it);
    doc = "{\"f\":\"v\",\"g\":{\"base64\":\"\"}}";
    ck_assert_int_eq(rc__kvjson_parse(doc, strlen(doc), 1, &it, &err), RC_OK);
    ck_assert_uint_eq(it.n, 4);
    ck_assert_str_eq(it.p[0], "f");
    ck_assert_str_eq(it.p[2], "g");
    rc__kvitems_free(&it);
    static const char *bad[] = {
        "", "[", "[\"a\"", "[\"a\",]", "[1]", "[null]", "[\"a\"] x", "[\"\\ud83d\"]", "[\"\\x\"]",
        "[\"a\nb\"]", "[{\"b64\":\"AA\"}]", "[{\"base64\":\"!!\"}]", "{\"a\"}", "[[\"a\"]]", "{}x",
        "[\"\\u12\"]", "{\"a\":\"b\",}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = rc__kvjson_parse(bad[i], strlen(bad[i]), bad[i][0] == '{', &it, &err);
        ck_assert_msg(rc == RC_INVALID, "accepted %s", bad[i]);
        rc__kvitems_free(&it);
    }
    /* an array where an object is wanted and vice versa */
    ck_assert_int_eq(rc__kvjson_parse("[]", 2, 1, &it, &err), RC_INVALID);
    rc__kvitems_free(&it);
    ck_assert_int_eq(rc__kvjson_parse("{}", 2, 0, &it, &err), RC_INVALID);
    rc__kvitems_free(&it);
    /* every truncation of a valid document fails cleanly */
    doc = "[\"ab\\u00e9\",{\"base64\":\"AAEC\"}]";
    for (size_t n = 0; n < strlen(doc); n++) {
        ck_assert_int_eq(rc__kvjson_parse(doc, n, 0, &it, &err), RC_INVALID);
        rc__kvitems_free(&it);
    }
}
END_TEST

static int g(const char *p, const char *s) { return rc__glob(p, strlen(p), s, strlen(s)); }

START_TEST(glob) {
    ck_assert(g("*", ""));
    ck_assert(g("*", "anything"));
    ck_assert(g("h?llo", "hello"));
    ck_assert(!g("h?llo", "hllo"));
    ck_assert(g("h*llo", "heeeello"));
    ck_assert(g("h[ae]llo", "hallo"));
    ck_assert(!g("h[ae]llo", "hillo"));
    ck_assert(g("h[^e]llo", "hallo"));
    ck_assert(!g("h[^e]llo", "hello"));
    ck_assert(g("h[a-b]llo", "hbllo"));
    ck_assert(g("h[b-a]llo", "hbllo"));
    ck_assert(g("h\\*llo", "h*llo"));
    ck_assert(!g("h\\*llo", "hxllo"));
    ck_assert(g("a*b*c", "aXXbYYc"));
    ck_assert(!g("a*b*c", "aXXbYY"));
    ck_assert(g("*:[12]", "user:1"));
    ck_assert(g("[\\]]", "]"));
    ck_assert(g("user:*", "user:"));
    ck_assert(!g("", "a"));
    ck_assert(g("", ""));
    ck_assert(g("[abc", "b")); /* unterminated class, like Redis */
    /* hostile pattern: must finish quickly */
    char s[4001];
    memset(s, 'a', 4000);
    s[4000] = '\0';
    ck_assert(!g("*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
    char out[8];
    ck_assert_int_eq(rc__prefix_end("ab", out), 1);
    ck_assert_str_eq(out, "ac");
    ck_assert_int_eq(rc__prefix_end("a\xff", out), 1);
    ck_assert_str_eq(out, "b");
    ck_assert_int_eq(rc__prefix_end("\xff\xff", out), 0);
    ck_assert_int_eq(rc__prefix_end("", out), 0);
}
END_TEST

Suite *store_kv_suite(void) {
    Suite *s = suite_create("store_kv");
    TCase *tc = tcase_create("kv");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, metadata);
    tcase_add_test(tc, history);
    tcase_add_test(tc, ranges);
    tcase_add_test(tc, range_as_of);
    tcase_add_test(tc, hashes);
    tcase_add_test(tc, lists);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, renames);
    tcase_add_test(tc, invalid_kv_events);
    tcase_add_test(tc, reopen_keeps_kv);
    tcase_add_test(tc, kvjson);
    tcase_add_test(tc, glob);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    rc_log_open("stderr", RC_LOG_ERROR, 0);
    return rc_test_run(store_kv_suite());
}
