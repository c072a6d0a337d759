/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /kv: the key/value view over HTTP. Writes are io.redcar.kv.* events built
 * by rc_api_kv_event (the same events a Redis SET or DEL produces) and run
 * as store transactions on the writer thread, so "did the key exist" and
 * "which version did this write make" are answered atomically with the
 * write itself. Reads go straight to the store's read connections.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "redcar/api.h"

#define KV_SOURCE "redcar://http" /* the RESP door writes redcar://resp */
#define KV_LIST_DEFAULT 1000
#define KV_LIST_MAX 100000

/* ---- writes ---------------------------------------------------------------------- */

typedef struct kv_write {
    rc_http_res *res;
    rc_http_env *env;
    rc_event *ev;          /* until handed to the transaction */
    char *key;
    int is_delete;
    int existed;
    uint64_t seq, version;
} kv_write;

static int kv_write_fn(rc_txn *tx, void *arg, rc_err *err) {
    kv_write *w = arg;
    rc_kv_entry e;
    rc_append_item it = {0, 0};
    int rc = rc_txn_kv_get(tx, w->key, &e, err);
    if (rc != RC_OK && rc != RC_NOT_FOUND) return rc;
    w->existed = rc == RC_OK;
    if (w->is_delete && !w->existed)
        return rc_err_set(err, RC_NOT_FOUND, "key not found");
    if (!w->ev) return rc_err_set(err, RC_INTERNAL, "transaction ran twice");
    rc_event *ev = w->ev;
    w->ev = NULL; /* rc_txn_append owns it whatever happens */
    if ((rc = rc_txn_append(tx, ev, &it, err)) != RC_OK) return rc;
    w->seq = it.seq;
    if (!w->is_delete && rc_txn_kv_get(tx, w->key, &e, NULL) == RC_OK) w->version = e.version;
    rc_err_clear(err);
    return RC_OK;
}

static void kv_write_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                          size_t n) {
    kv_write *w = arg;
    rc_http_res *res = w->res;
    (void)items;
    (void)n;
    if (status != RC_OK) {
        rc__http_res_problem(res, status, err ? rc_err_msg(err) : NULL);
    } else {
        rc_buf b = RC_BUF_INIT;
        rc_buf_puts(&b, "{\"key\":");
        rc__http_json_str(&b, w->key, strlen(w->key));
        rc_buf_puts(&b, ",\"seq\":");
        rc_buf_put_u64(&b, w->seq);
        if (w->is_delete) {
            rc_buf_puts(&b, ",\"deleted\":true}");
        } else {
            rc_buf_puts(&b, ",\"version\":");
            rc_buf_put_u64(&b, w->version);
            rc_buf_putc(&b, '}');
        }
        rc__http_res_send(res, w->is_delete || w->existed ? 200 : 201, "application/json", b.p,
                          b.len);
        rc_buf_free(&b);
        rc__http_metrics_appended(w->env->metrics, 1, 0);
    }
    rc_event_free(w->ev);
    atomic_fetch_sub(&w->env->inflight, 1);
    free(w->key);
    free(w);
    rc__http_res_complete(res);
}

static void kv_write_start(const rc_http_req *req, rc_http_res *res, rc_event *ev, int is_delete) {
    kv_write *w = calloc(1, sizeof *w);
    rc_err err;
    rc_err_clear(&err);
    if (!w || !(w->key = strdup(req->params[0]))) {
        free(w);
        rc_event_free(ev);
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    w->res = res;
    w->env = req->env;
    w->ev = ev;
    w->is_delete = is_delete;
    rc__http_res_defer(res);
    atomic_fetch_add(&req->env->inflight, 1);
    int rc = rc_store_txn_async(req->env->st, kv_write_fn, w, kv_write_done, w, &err);
    if (rc != RC_OK) {
        atomic_fetch_sub(&req->env->inflight, 1);
        rc_event_free(w->ev);
        free(w->key);
        free(w);
        rc__http_res_problem(res, rc, err.msg);
        rc__http_res_complete(res);
    }
}

static int valid_key(const rc_http_req *req, rc_http_res *res) {
    const char *k = req->params[0];
    if (!rc_valid_utf8(k, strlen(k))) {
        rc__http_res_problem(res, RC_INVALID, "key: must be valid UTF-8");
        return 0;
    }
    return 1;
}

void rc__h_kv_put(const rc_http_req *req, rc_http_res *res) {
    if (!valid_key(req, res)) return;
    int64_t max_event = atomic_load_explicit(&req->env->max_event, memory_order_relaxed);
    if ((int64_t)req->body_len > max_event) {
        rc__http_res_problem(res, RC_TOO_LARGE, "value: larger than max-event-size");
        return;
    }
    const char *ttl_s = rc__http_req_query(req, "ttl");
    uint64_t ttl = 0;
    if (ttl_s && (rc__http_parse_u64(ttl_s, &ttl) || ttl == 0 || ttl > 100ull * 365 * 86400)) {
        rc__http_res_problem(res, RC_INVALID, "ttl: must be a positive number of seconds");
        return;
    }
    const char *ct = rc__http_req_header(req, "Content-Type");
    if (ct && (!*ct || !rc_valid_utf8(ct, strlen(ct)))) ct = NULL;
    /* An empty value is still a value: give the factory a non-NULL pointer. */
    rc_event *ev = rc_api_kv_event(KV_SOURCE, "put", req->params[0],
                                   req->body ? req->body : "", req->body_len, ct);
    if (!ev) {
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    if (ttl) {
        char t[40];
        rc_time_format(rc__http_now_ms() + (int64_t)ttl * 1000, t, sizeof t);
        if (rc_event_set_ext_string(ev, "expires", RC_EXT_TIME, t) != RC_OK) {
            rc_event_free(ev);
            rc__http_res_problem(res, RC_NOMEM, NULL);
            return;
        }
    }
    rc_err err;
    if (rc_event_validate(ev, &err) != RC_OK) {
        rc_event_free(ev);
        rc__http_res_problem(res, err.code, err.msg);
        return;
    }
    kv_write_start(req, res, ev, 0);
}

void rc__h_kv_delete(const rc_http_req *req, rc_http_res *res) {
    if (!valid_key(req, res)) return;
    rc_event *ev = rc_api_kv_event(KV_SOURCE, "delete", req->params[0], NULL, 0, NULL);
    if (!ev) {
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    kv_write_start(req, res, ev, 1);
}

/* ---- reads -------------------------------------------------------------------------- */

static int parse_as_of(const rc_http_req *req, rc_http_res *res, uint64_t *as_of) {
    const char *v = rc__http_req_query(req, "as_of");
    *as_of = 0;
    if (v && (rc__http_parse_u64(v, as_of) || *as_of == 0)) {
        rc__http_res_problem(res, RC_INVALID, "as_of: must be a positive sequence number");
        return 0;
    }
    return 1;
}

static const char *kind_name(rc_kv_kind k) {
    return k == RC_KV_HASH ? "hash" : k == RC_KV_LIST ? "list" : "string";
}

typedef struct kv_one {
    rc_http_res *res;
    int found;
} kv_one;

static int kv_get_fn(const rc_kv_entry *e, void *arg) {
    kv_one *o = arg;
    rc_http_res *res = o->res;
    char num[32];
    o->found = 1;
    if (e->kind != RC_KV_STRING) {
        char d[96];
        snprintf(d, sizeof d, "key holds a %s; GET /kv/{key} reads strings", kind_name(e->kind));
        rc__http_res_problem(res, RC_WRONGTYPE, d);
        return 1;
    }
    snprintf(num, sizeof num, "%" PRIu64, e->create_seq);
    rc__http_res_header(res, "Redcar-Create-Seq", num);
    snprintf(num, sizeof num, "%" PRIu64, e->mod_seq);
    rc__http_res_header(res, "Redcar-Mod-Seq", num);
    snprintf(num, sizeof num, "%" PRIu64, e->version);
    rc__http_res_header(res, "Redcar-Version", num);
    if (e->expire_ms) {
        char t[40];
        rc_time_format(e->expire_ms, t, sizeof t);
        rc__http_res_header(res, "Redcar-Expires", t);
    }
    rc__http_res_send(res, 200, e->ctype && *e->ctype ? e->ctype : "application/octet-stream",
                      e->value, e->value_len);
    return 1;
}

void rc__h_kv_get(const rc_http_req *req, rc_http_res *res) {
    uint64_t as_of;
    if (!parse_as_of(req, res, &as_of)) return;
    kv_one o = {res, 0};
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_kv_get(req->env->st, req->params[0], as_of, kv_get_fn, &o, &err);
    if (rc == RC_OK && !o.found) rc = RC_NOT_FOUND;
    if (rc != RC_OK) {
        char d[200];
        if (rc == RC_NOT_FOUND) snprintf(d, sizeof d, "key not found");
        else snprintf(d, sizeof d, "%s", rc_err_msg(&err));
        rc__http_res_problem(res, rc, d);
    }
}

static void put_key_json(rc_buf *b, const char *name, const void *p, size_t n) {
    rc_buf_putc(b, '"');
    rc_buf_puts(b, name);
    if (rc_valid_utf8(p, n)) {
        rc_buf_puts(b, "\":");
        rc__http_json_str(b, p, n);
    } else {
        rc_buf_puts(b, "_base64\":\"");
        rc_base64_encode(p, n, b);
        rc_buf_putc(b, '"');
    }
}

typedef struct kv_list {
    rc_buf b;
    size_t count;
    int keys_only;
} kv_list;

static int kv_list_fn(const rc_kv_entry *e, void *arg) {
    kv_list *l = arg;
    rc_buf *b = &l->b;
    if (l->count++) rc_buf_putc(b, ',');
    rc_buf_putc(b, '{');
    put_key_json(b, "key", e->key, e->key_len);
    if (e->kind != RC_KV_STRING) {
        rc_buf_printf(b, ",\"kind\":\"%s\"", kind_name(e->kind));
    } else if (!l->keys_only && e->value) {
        rc_buf_putc(b, ',');
        put_key_json(b, "value", e->value, e->value_len);
    }
    if (e->ctype && *e->ctype) {
        rc_buf_puts(b, ",\"content_type\":");
        rc__http_json_str(b, e->ctype, strlen(e->ctype));
    }
    rc_buf_printf(b, ",\"create_seq\":%" PRIu64 ",\"mod_seq\":%" PRIu64 ",\"version\":%" PRIu64,
                  e->create_seq, e->mod_seq, e->version);
    if (e->expire_ms) {
        char t[40];
        rc_time_format(e->expire_ms, t, sizeof t);
        rc_buf_printf(b, ",\"expires\":\"%s\"", t);
    }
    rc_buf_putc(b, '}');
    return 0;
}

static int flag(const rc_http_req *req, const char *name, int *out) {
    const char *v = rc__http_req_query(req, name);
    *out = 0;
    if (!v) return RC_OK;
    if (!*v || !strcmp(v, "true") || !strcmp(v, "1")) *out = 1;
    else if (strcmp(v, "false") && strcmp(v, "0")) return RC_INVALID;
    return RC_OK;
}

void rc__h_kv_list(const rc_http_req *req, rc_http_res *res) {
    rc_kv_query q;
    memset(&q, 0, sizeof q);
    int count_only = 0;
    const char *v;
    q.prefix = rc__http_req_query(req, "prefix");
    q.key = rc__http_req_query(req, "key");
    q.end = rc__http_req_query(req, "end");
    if (q.prefix && (q.key || q.end)) {
        rc__http_res_problem(res, RC_INVALID, "prefix: cannot be combined with key/end");
        return;
    }
    q.limit = KV_LIST_DEFAULT;
    if ((v = rc__http_req_query(req, "limit"))) {
        uint64_t l;
        if (rc__http_parse_u64(v, &l) || l < 1 || l > KV_LIST_MAX) {
            rc__http_res_problem(res, RC_INVALID, "limit: must be an integer from 1 to 100000");
            return;
        }
        q.limit = (size_t)l;
    }
    if ((v = rc__http_req_query(req, "sort"))) {
        if (!strcmp(v, "desc")) q.desc = 1;
        else if (strcmp(v, "asc")) {
            rc__http_res_problem(res, RC_INVALID, "sort: must be asc or desc");
            return;
        }
    }
    if (flag(req, "keys_only", &q.keys_only) || flag(req, "count_only", &count_only)) {
        rc__http_res_problem(res, RC_INVALID, "keys_only, count_only: must be true or false");
        return;
    }
    if (!parse_as_of(req, res, &q.as_of)) return;
    rc_err err;
    rc_err_clear(&err);
    if (count_only) {
        uint64_t c = 0;
        q.limit = 0;
        int rc = rc_store_kv_count(req->env->st, &q, &c, &err);
        if (rc != RC_OK) {
            rc__http_res_problem(res, rc, err.msg);
            return;
        }
        char out[48];
        int n = snprintf(out, sizeof out, "{\"count\":%" PRIu64 "}", c);
        rc__http_res_send(res, 200, "application/json", out, (size_t)n);
        return;
    }
    kv_list l = {RC_BUF_INIT, 0, q.keys_only};
    rc_buf_puts(&l.b, "{\"count\":          ,\"items\":[");
    int rc = rc_store_kv_range(req->env->st, &q, kv_list_fn, &l, &err);
    if (rc != RC_OK) {
        rc_buf_free(&l.b);
        rc__http_res_problem(res, rc, err.msg);
        return;
    }
    rc_buf_puts(&l.b, "]}");
    /* The count is known only now: write it into the reserved spaces. */
    char num[16];
    int n = snprintf(num, sizeof num, "%zu", l.count);
    memcpy(l.b.p + 9, num, (size_t)n);
    rc__http_res_send(res, 200, "application/json", l.b.p, l.b.len);
    rc_buf_free(&l.b);
}

typedef struct hist {
    rc_buf b;
    size_t n;
} hist;

static int hist_fn(const rc_stored *row, void *arg) {
    hist *h = arg;
    if (h->n++) rc_buf_putc(&h->b, ',');
    rc__http_put_stored(&h->b, row->json, row->json_len, row->seq);
    return 0;
}

void rc__h_kv_history(const rc_http_req *req, rc_http_res *res) {
    const char *v = rc__http_req_query(req, "limit");
    uint64_t limit = 0;
    if (v && (rc__http_parse_u64(v, &limit) || limit == 0)) {
        rc__http_res_problem(res, RC_INVALID, "limit: must be a positive integer");
        return;
    }
    hist h = {RC_BUF_INIT, 0};
    rc_err err;
    rc_err_clear(&err);
    rc_buf_putc(&h.b, '[');
    int rc = rc_store_kv_history(req->env->st, req->params[0], (size_t)limit, hist_fn, &h, &err);
    if (rc != RC_OK) {
        rc_buf_free(&h.b);
        rc__http_res_problem(res, rc, err.msg);
        return;
    }
    rc_buf_putc(&h.b, ']');
    rc__http_res_send(res, 200, "application/cloudevents-batch+json", h.b.p, h.b.len);
    rc_buf_free(&h.b);
}
