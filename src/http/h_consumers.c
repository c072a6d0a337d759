/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP routes of durable consumers (redcar/consumer.h): /cursors for both
 * modes (cursor and group), their fetch, ack, nack, claim, pending list and
 * an SSE stream bound to a consumer, plus their /metrics lines. The door
 * translates; the store decides (leases, redelivery, dead letters).
 *
 * Fetch: a cursor without a pending list (ack_wait_ms 0, max_deliver 0:
 * the defaults) is served by the store's read path, its events formatted
 * straight from the read statement into the answer; other consumers lease
 * on the writer (rc_consumer_fetch). `autoack=true` (such cursors only)
 * acknowledges what a fetch returns in the fetch's own update: at most
 * once, one round trip per batch.
 *
 * Long poll: GET /cursors/{name}/events?wait_ms=T first fetches on the
 * HTTP thread; when nothing is due, the answer is deferred and a helper
 * thread waits on the hub (new events) and on the earliest lease expiry,
 * fetching again on each wake, so no HTTP thread is held while a consumer
 * waits. The helper counts as an in-flight answer and gives up (empty
 * answer) when the door stops. A consumer's SSE stream counts as in flight
 * too, so that the door's stop waits for it to end.
 *
 * SSE (GET /cursors/{name}/stream): a helper thread per stream reads a
 * batch, queues it, and reads the next only after the connection took the
 * whole batch (stop-and-wait: one batch in memory per slow client). Nothing
 * is acknowledged for the client: handing bytes to a connection proves
 * nothing (the client may be gone while the connection is suspended).
 *  - cursor: the stream reads in seq order from a position of its own,
 *    starting at the cursor's ack position, and never moves the cursor's
 *    ack position itself (only read_seq, as bookkeeping). The client confirms with Last-Event-ID on reconnect
 *    (everything up to it is acknowledged before the stream resumes) or
 *    with POST /cursors/{name}/ack; a reconnect without either resends
 *    from the ack position (at least once).
 *  - group: the stream fetches for its member (leases); events stay leased
 *    until POST /cursors/{name}/ack and come back after ack_wait_ms.
 *
 * Trust boundary: query parameters and bodies come from clients; the
 * store's consumer module validates names, members and bodies.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/h_consumers.h"
#include "redcar/consumer.h"

#define FETCH_DEFAULT 100
#define WAIT_MAX_MS 300000
#define WAIT_SLICE_MS 250   /* how often a waiting helper looks at `stopping` */
#define STREAM_BATCH 100

static void problem(rc_http_res *res, const rc_err *err, int rc) {
    rc__http_res_problem(res, rc, err->msg[0] ? err->msg : NULL);
}

static int query_u64(const rc_http_req *req, const char *name, uint64_t def, uint64_t lo,
                     uint64_t hi, uint64_t *out, rc_err *err) {
    const char *v = rc__http_req_query(req, name);
    *out = def;
    if (!v) return RC_OK;
    if (rc__http_parse_u64(v, out) || *out < lo || *out > hi)
        return rc_err_set(err, RC_INVALID, "%s: must be an integer from %" PRIu64 " to %" PRIu64,
                          name, lo, hi);
    return RC_OK;
}

/* ---- consumer info ------------------------------------------------------------ */

static void put_info(rc_buf *b, const rc_consumer_info *c) {
    char t[40];
    rc_buf_puts(b, "{\"name\":");
    rc__http_json_str(b, c->name, strlen(c->name));
    rc_buf_printf(b, ",\"mode\":\"%s\",\"filter\":%s,\"start\":", rc_consumer_mode_name(c->mode),
                  c->filter_json);
    rc__http_json_str(b, c->start, strlen(c->start));
    rc_time_format(c->created_ms, t, sizeof t);
    rc_buf_printf(b,
                  ",\"read_seq\":%" PRIu64 ",\"ack_seq\":%" PRIu64 ",\"head_seq\":%" PRIu64
                  ",\"lag\":%" PRIu64 ",\"pending\":%" PRIu64 ",\"ack_wait_ms\":%" PRId64
                  ",\"max_deliver\":%" PRId64 ",\"delivered\":%" PRIu64
                  ",\"redelivered\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"dead_lettered\":%" PRIu64
                  ",\"created\":\"%s\"}",
                  c->read_seq, c->ack_seq, c->head_seq, c->lag, c->pending, c->ack_wait_ms,
                  c->max_deliver, c->delivered, c->redelivered, c->acked, c->dead, t);
}

typedef struct info_acc {
    rc_buf b;
    size_t n;
} info_acc;

static int info_one(const rc_consumer_info *c, void *arg) {
    info_acc *a = arg;
    if (a->n++) rc_buf_putc(&a->b, ',');
    put_info(&a->b, c);
    return 0;
}

void rc__h_cursors_create(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    rc_consumer_req r;
    int rc = rc_consumer_req_parse(req->body, req->body_len,
                                   "name,mode,start,filter,filters,ack_wait_ms,max_deliver", &r,
                                   &err);
    if (rc) {
        problem(res, &err, rc);
        return;
    }
    info_acc a = {RC_BUF_INIT, 0};
    rc = rc_consumer_create(req->env->st, &r.opts, info_one, &a, &err);
    if (rc == RC_OK) {
        rc_buf loc = RC_BUF_INIT;
        rc_buf_printf(&loc, "/cursors/%s", r.opts.name); /* names need no escaping */
        rc__http_res_header(res, "Location", loc.p);
        rc_buf_free(&loc);
        rc__http_res_send(res, 201, "application/json", a.b.p, a.b.len);
    } else {
        problem(res, &err, rc);
    }
    rc_buf_free(&a.b);
    rc_consumer_req_free(&r);
}

void rc__h_cursors_list(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    info_acc a = {RC_BUF_INIT, 0};
    rc_buf_puts(&a.b, "{\"cursors\":[");
    int rc = rc_consumer_list(req->env->st, info_one, &a, &err);
    rc_buf_puts(&a.b, "]}");
    if (rc == RC_OK) rc__http_res_send(res, 200, "application/json", a.b.p, a.b.len);
    else problem(res, &err, rc);
    rc_buf_free(&a.b);
}

void rc__h_cursor_get(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    info_acc a = {RC_BUF_INIT, 0};
    int rc = rc_consumer_get(req->env->st, req->params[0], info_one, &a, &err);
    if (rc == RC_OK) rc__http_res_send(res, 200, "application/json", a.b.p, a.b.len);
    else problem(res, &err, rc);
    rc_buf_free(&a.b);
}

void rc__h_cursor_delete(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_consumer_delete(req->env->st, req->params[0], &err);
    if (rc == RC_OK) rc__http_res_send(res, 204, NULL, "", 0);
    else problem(res, &err, rc);
}

/* ---- fetch ------------------------------------------------------------------------ */

/* An event as handed out: its JSON with `seq` and `deliverycount`. */
static void put_msg(rc_buf *b, const rc_consumer_batch *bt, const rc_consumer_msg *m) {
    size_t start = b->len;
    rc__http_put_stored(b, bt->json.p + m->off, m->len, m->seq);
    if (b->len > start && b->p[b->len - 1] == '}') {
        b->len--;
        rc_buf_printf(b, ",\"deliverycount\":%" PRIu32 "}", m->deliveries);
    }
}

static void put_batch(rc_buf *b, const rc_consumer_batch *bt, int ndjson) {
    rc_buf_reserve(b, bt->json.len + bt->n * 48 + 64);
    for (size_t i = 0; i < bt->n; i++) {
        if (i && !ndjson) rc_buf_putc(b, ',');
        put_msg(b, bt, &bt->msgs[i]);
        if (ndjson) rc_buf_putc(b, '\n');
    }
}

/* The answer to a fetch or claim whose events are already in res->body
 * (after the JSON opening when !ndjson). */
static void answer_events(rc_http_res *res, uint64_t head_seq, uint64_t read_seq, int ndjson) {
    if (!ndjson)
        rc_buf_printf(&res->body, "],\"head_seq\":%" PRIu64 ",\"read_seq\":%" PRIu64 "}",
                      head_seq, read_seq);
    char h[24];
    snprintf(h, sizeof h, "%" PRIu64, head_seq);
    res->status = 200;
    rc__http_res_header(res, "Content-Type", ndjson ? "application/x-ndjson" : "application/json");
    rc__http_res_header(res, "Redcar-Head-Seq", h);
}

static void answer_batch(rc_http_res *res, const rc_consumer_batch *bt, int ndjson) {
    rc_buf_reset(&res->body);
    if (!ndjson) rc_buf_puts(&res->body, "{\"events\":[");
    put_batch(&res->body, bt, ndjson);
    answer_events(res, bt->head_seq, bt->read_seq, ndjson);
}

/* The read path (consumer.h): rows formatted straight from the store's
 * read statement into the answer, no batch in between. */
typedef struct row_acc {
    rc_buf *b;
    int ndjson;
    size_t n;
} row_acc;

static int put_row(const rc_consumer_row *r, void *arg) {
    row_acc *a = arg;
    if (a->n++ && !a->ndjson) rc_buf_putc(a->b, ',');
    size_t start = a->b->len;
    rc__http_put_stored(a->b, r->json, r->len, r->seq);
    if (a->b->len > start && a->b->p[a->b->len - 1] == '}') {
        a->b->len--;
        rc_buf_puts(a->b, ",\"deliverycount\":");
        rc_buf_put_u64(a->b, r->deliveries);
        rc_buf_putc(a->b, '}');
    }
    if (a->ndjson) rc_buf_putc(a->b, '\n');
    return 0;
}

/* What one fetch found, for the long poll. */
typedef struct fetch_out {
    size_t n;
    uint64_t head_seq, read_seq;
    int64_t next_due_ms;
} fetch_out;

/* One fetch into res->body (events only, after the JSON opening unless
 * ndjson): the read path for a consumer without a pending list, else a
 * leasing fetch on the writer. */
static int fetch_body(rc_http_env *env, const char *name, const char *member, size_t limit,
                      int ndjson, int autoack, rc_http_res *res, fetch_out *fo, rc_err *err) {
    rc_buf *b = &res->body;
    rc_buf_reset(b);
    if (!ndjson) rc_buf_puts(b, "{\"events\":[");
    size_t mark = b->len;
    memset(fo, 0, sizeof *fo);
    row_acc a = {b, ndjson, 0};
    rc_consumer_read_opts o = {.limit = limit, .fetch = 1, .note = 1, .ack = autoack};
    rc_consumer_read_res r;
    int rc = rc_consumer_read(env->st, name, &o, put_row, &a, &r, err);
    if (rc != RC_OK) return rc;
    if (autoack && !r.plain)
        return rc_err_set(err, RC_INVALID,
                          "autoack: only for a cursor without a lease (ack_wait_ms 0, "
                          "max_deliver 0)");
    if (r.plain) {
        fo->n = r.n;
        fo->head_seq = r.head_seq;
        fo->read_seq = r.read_seq;
        return RC_OK;
    }
    b->len = mark;
    rc_consumer_batch bt;
    rc_consumer_batch_init(&bt);
    rc = rc_consumer_fetch(env->st, name, member, limit, &bt, err);
    if (rc == RC_OK) {
        put_batch(b, &bt, ndjson);
        fo->n = bt.n;
        fo->head_seq = bt.head_seq;
        fo->read_seq = bt.read_seq;
        fo->next_due_ms = bt.next_due_ms;
    }
    rc_consumer_batch_free(&bt);
    return rc;
}

typedef struct long_poll {
    rc_http_env *env;
    rc_http_res *res;
    char *name, *member;
    size_t limit;
    int ndjson, autoack;
    int64_t deadline;
    fetch_out fo;
} long_poll;

static void *long_poll_main(void *arg) {
    long_poll *lp = arg;
    rc_http_env *env = lp->env;
    rc_err err;
    rc_err_clear(&err);
    int rc = RC_OK;
    uint64_t head = lp->fo.head_seq;
    for (;;) {
        int64_t now = rc__http_now_ms();
        if (atomic_load(&env->stopping) || now >= lp->deadline) break;
        int64_t slice = lp->deadline - now;
        if (slice > WAIT_SLICE_MS) slice = WAIT_SLICE_MS;
        int64_t due = lp->fo.next_due_ms;
        if (due && due - now < slice) slice = due > now ? due - now : 0;
        uint64_t h = slice > 0 ? rc_hub_wait(env->hub, head, (int)slice) : head;
        now = rc__http_now_ms();
        if (h <= head && !(due && now >= due)) continue;
        rc = fetch_body(env, lp->name, lp->member, lp->limit, lp->ndjson, lp->autoack, lp->res,
                        &lp->fo, &err);
        if (rc != RC_OK || lp->fo.n) break;
        head = lp->fo.head_seq > h ? lp->fo.head_seq : h;
    }
    rc_http_res *res = lp->res;
    if (rc != RC_OK) problem(res, &err, rc);
    else answer_events(res, lp->fo.head_seq, lp->fo.read_seq, lp->ndjson);
    free(lp->name);
    free(lp->member);
    free(lp);
    rc__http_res_complete(res);
    atomic_fetch_sub(&env->inflight, 1);
    return NULL;
}

void rc__h_cursor_fetch(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    uint64_t limit, wait;
    int rc;
    if ((rc = query_u64(req, "limit", FETCH_DEFAULT, 1, RC_CONSUMER_FETCH_MAX, &limit, &err)) ||
        (rc = query_u64(req, "wait_ms", 0, 0, WAIT_MAX_MS, &wait, &err))) {
        problem(res, &err, rc);
        return;
    }
    const char *member = rc__http_req_query(req, "member"), *aa = rc__http_req_query(req, "autoack");
    int ndjson = rc__http_accepts(rc__http_req_header(req, "Accept"), "application/x-ndjson");
    int autoack = aa && (!*aa || !strcmp(aa, "true") || !strcmp(aa, "1"));
    if (aa && !autoack && strcmp(aa, "false") && strcmp(aa, "0")) {
        rc__http_res_problem(res, RC_INVALID, "autoack: must be true or false");
        return;
    }
    fetch_out fo;
    rc = fetch_body(req->env, req->params[0], member, (size_t)limit, ndjson, autoack, res, &fo,
                    &err);
    if (rc != RC_OK || fo.n || wait == 0) {
        if (rc != RC_OK) problem(res, &err, rc);
        else answer_events(res, fo.head_seq, fo.read_seq, ndjson);
        return;
    }
    long_poll *lp = calloc(1, sizeof *lp);
    if (!lp || !(lp->name = strdup(req->params[0])) ||
        (member && !(lp->member = strdup(member)))) {
        if (lp) free(lp->name);
        free(lp);
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    lp->env = req->env;
    lp->res = res;
    lp->limit = (size_t)limit;
    lp->ndjson = ndjson;
    lp->autoack = autoack;
    lp->deadline = rc__http_now_ms() + (int64_t)wait;
    lp->fo = fo;
    rc__http_res_defer(res);
    atomic_fetch_add(&req->env->inflight, 1);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, long_poll_main, lp) != 0) {
        /* No helper: answer now, empty. */
        answer_events(res, fo.head_seq, fo.read_seq, ndjson);
        free(lp->name);
        free(lp->member);
        free(lp);
        atomic_fetch_sub(&req->env->inflight, 1);
        rc__http_res_complete(res);
    }
    pthread_attr_destroy(&at);
}

void rc__h_cursor_claim(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    rc_consumer_req r;
    int rc = rc_consumer_req_parse(req->body, req->body_len, "member,min_idle_ms,count", &r, &err);
    if (rc) {
        problem(res, &err, rc);
        return;
    }
    rc_consumer_batch bt;
    rc_consumer_batch_init(&bt);
    rc = rc_consumer_claim(req->env->st, req->params[0], r.member,
                           r.min_idle_ms < 0 ? 0 : r.min_idle_ms,
                           r.count < 0 ? FETCH_DEFAULT : (size_t)r.count, &bt, &err);
    if (rc == RC_OK)
        answer_batch(res, &bt, rc__http_accepts(rc__http_req_header(req, "Accept"),
                                                "application/x-ndjson"));
    else problem(res, &err, rc);
    rc_consumer_batch_free(&bt);
    rc_consumer_req_free(&r);
}

/* ---- ack / nack -------------------------------------------------------------------- */

static void ack_or_nack(const rc_http_req *req, rc_http_res *res, int nack) {
    rc_err err;
    rc_err_clear(&err);
    rc_consumer_req r;
    int rc = rc_consumer_req_parse(req->body, req->body_len,
                                   nack ? "member,seqs,delay_ms" : "member,seqs", &r, &err);
    if (rc) {
        problem(res, &err, rc);
        return;
    }
    if (!r.seqs) {
        rc_consumer_req_free(&r);
        rc__http_res_problem(res, RC_INVALID, "seqs: required");
        return;
    }
    size_t done = 0;
    rc = nack ? rc_consumer_nack(req->env->st, req->params[0], r.member, r.seqs, r.n_seqs,
                                 r.delay_ms < 0 ? 0 : r.delay_ms, &done, &err)
              : rc_consumer_ack(req->env->st, req->params[0], r.member, r.seqs, r.n_seqs, &done,
                                &err);
    if (rc == RC_OK) {
        char b[64];
        int n = snprintf(b, sizeof b, "{\"%s\":%zu}", nack ? "nacked" : "acked", done);
        rc__http_res_send(res, 200, "application/json", b, (size_t)n);
    } else {
        problem(res, &err, rc);
    }
    rc_consumer_req_free(&r);
}

void rc__h_cursor_ack(const rc_http_req *req, rc_http_res *res) { ack_or_nack(req, res, 0); }
void rc__h_cursor_nack(const rc_http_req *req, rc_http_res *res) { ack_or_nack(req, res, 1); }

/* ---- pending ----------------------------------------------------------------------- */

typedef struct pend_acc {
    rc_buf b;
    size_t n;
} pend_acc;

static int pend_one(const rc_consumer_pending *p, void *arg) {
    pend_acc *a = arg;
    char last[40], due[40];
    rc_time_format(p->last_ms, last, sizeof last);
    rc_time_format(p->due_ms, due, sizeof due);
    if (a->n++) rc_buf_putc(&a->b, ',');
    rc_buf_printf(&a->b, "{\"seq\":%" PRIu64 ",\"member\":", p->seq);
    rc__http_json_str(&a->b, p->member, strlen(p->member));
    rc_buf_printf(&a->b,
                  ",\"deliveries\":%" PRIu32 ",\"idle_ms\":%" PRId64
                  ",\"last_delivered\":\"%s\",\"due\":\"%s\"}",
                  p->deliveries, p->idle_ms, last, due);
    return 0;
}

static int pend_total(const rc_consumer_info *c, void *arg) {
    *(uint64_t *)arg = c->pending;
    return 0;
}

void rc__h_cursor_pending(const rc_http_req *req, rc_http_res *res) {
    rc_err err;
    rc_err_clear(&err);
    uint64_t after, limit, total = 0;
    int rc;
    if ((rc = query_u64(req, "after", 0, 0, UINT64_MAX, &after, &err)) ||
        (rc = query_u64(req, "limit", 1000, 1, RC_CONSUMER_FETCH_MAX, &limit, &err))) {
        problem(res, &err, rc);
        return;
    }
    pend_acc a = {RC_BUF_INIT, 0};
    rc_buf_puts(&a.b, "{\"name\":");
    rc__http_json_str(&a.b, req->params[0], strlen(req->params[0]));
    rc_buf_puts(&a.b, ",\"pending\":[");
    rc = rc_consumer_pending_list(req->env->st, req->params[0], rc__http_req_query(req, "member"),
                                  after, (size_t)limit, pend_one, &a, &err);
    if (rc == RC_OK) rc = rc_consumer_get(req->env->st, req->params[0], pend_total, &total, &err);
    rc_buf_printf(&a.b, "],\"total\":%" PRIu64 "}", total);
    if (rc == RC_OK) rc__http_res_send(res, 200, "application/json", a.b.p, a.b.len);
    else problem(res, &err, rc);
    rc_buf_free(&a.b);
}

/* ---- SSE bound to a consumer ------------------------------------------------------- */

typedef struct cstream {
    rc_http_stream base;
    rc_http_env *env;
    char *name, *member;
    int cursor;               /* cursor mode: ordered reads from a position of its own */
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rc_buf q;                 /* (mu) formatted messages not yet taken */
    uint64_t q_last;          /* (mu) number of the last batch queued */
    uint64_t taken;           /* (mu) number of the last batch whose bytes were all handed out */
    int stop, failed, ended;  /* (mu) */
    rc_buf out;               /* (read side) bytes being handed out */
    size_t out_off;
    uint64_t out_last;
} cstream;

static void put_sse(rc_buf *b, uint64_t seq, uint32_t deliveries, const char *j, size_t len) {
    char type[128] = "";
    /* The event type for the SSE `event:` field, read from the stored JSON
     * cheaply: the stream only needs a label, the data carries the event. */
    const char *t = memmem(j, len, "\"type\":\"", 8);
    if (t) {
        t += 8;
        size_t i = 0;
        while (t < j + len && *t != '"' && *t != '\\' && i + 1 < sizeof type)
            type[i++] = (*t == '\n' || *t == '\r') ? ' ' : *t, t++;
        type[i] = '\0';
    }
    rc_buf_printf(b, "id: %" PRIu64 "\nevent: %s\ndata: ", seq, type);
    size_t start = b->len;
    rc__http_put_stored(b, j, len, seq);
    if (b->len > start && b->p[b->len - 1] == '}') {
        b->len--;
        rc_buf_printf(b, ",\"deliverycount\":%" PRIu32 "}", deliveries);
    }
    rc_buf_puts(b, "\n\n");
}

static int put_sse_row(const rc_consumer_row *r, void *arg) {
    put_sse(arg, r->seq, r->deliveries, r->json, r->len);
    return 0;
}

/* The next batch of the stream into b; *n events, *head the head seen,
 * *next_due the earliest lease expiry (group). A cursor reads from the
 * stream's own position *pos (0: the cursor's ack position) and moves
 * only that; a group fetches (leases to the member). */
static int stream_next(cstream *s, uint64_t *pos, rc_buf *b, size_t *n, uint64_t *head,
                       int64_t *next_due, rc_err *err) {
    rc_http_env *env = s->env;
    *next_due = 0;
    if (s->cursor) {
        rc_consumer_read_opts o = {.after = *pos, .limit = STREAM_BATCH, .note = 1};
        rc_consumer_read_res r;
        int rc = rc_consumer_read(env->st, s->name, &o, put_sse_row, b, &r, err);
        if (rc != RC_OK) return rc;
        *n = r.n;
        *head = r.head_seq;
        if (r.last > *pos) *pos = r.last;
        return RC_OK;
    }
    rc_consumer_batch bt;
    rc_consumer_batch_init(&bt);
    int rc = rc_consumer_fetch(env->st, s->name, s->member, STREAM_BATCH, &bt, err);
    if (rc == RC_OK) {
        for (size_t i = 0; i < bt.n; i++)
            put_sse(b, bt.msgs[i].seq, bt.msgs[i].deliveries, bt.json.p + bt.msgs[i].off,
                    bt.msgs[i].len);
        *n = bt.n;
        *head = bt.head_seq;
        *next_due = bt.next_due_ms;
    }
    rc_consumer_batch_free(&bt);
    return rc;
}

static void *cstream_main(void *arg) {
    cstream *s = arg;
    rc_http_env *env = s->env;
    rc_buf b = RC_BUF_INIT;
    uint64_t head = 0, pos = 0;
    int64_t every = rc_config_int(env->cfg, "sse-heartbeat");
    int64_t next_hb = rc__http_now_ms() + every;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        /* Stop-and-wait: the next batch only once the last one is out,
         * so a slow client holds one batch in memory, not the log. */
        while (!s->stop && !atomic_load(&env->stopping) && s->q_last > s->taken) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        int stop = s->stop || atomic_load(&env->stopping);
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        rc_err err;
        rc_err_clear(&err);
        size_t n = 0;
        uint64_t h = 0;
        int64_t due = 0;
        rc_buf_reset(&b);
        if (stream_next(s, &pos, &b, &n, &h, &due, &err) != RC_OK) break;
        int64_t now = rc__http_now_ms();
        if (n || now >= next_hb) {
            pthread_mutex_lock(&s->mu);
            if (n) {
                rc_buf_append(&s->q, b.p, b.len);
                s->q_last++; /* a batch number: taken catches up when it is out */
            } else {
                rc_buf_puts(&s->q, ": heartbeat\n\n");
            }
            pthread_mutex_unlock(&s->mu);
            next_hb = now + every;
            rc__http_park_wake(&s->base.park);
            if (n) continue;
        }
        head = h > head ? h : head;
        int64_t slice = WAIT_SLICE_MS;
        if (due && due - now < slice) slice = due > now ? due - now : 1;
        if (next_hb - now < slice) slice = next_hb > now ? next_hb - now : 1;
        rc_hub_wait(env->hub, head, (int)slice);
    }
    rc_buf_free(&b);
    pthread_mutex_lock(&s->mu);
    if (!s->stop && !atomic_load(&env->stopping)) s->failed = 1;
    s->ended = 1;
    pthread_mutex_unlock(&s->mu);
    rc__http_park_wake(&s->base.park);
    return NULL;
}

static long cstream_read(rc_http_stream *base, char *buf, size_t max) {
    cstream *s = (cstream *)base;
    for (;;) {
        if (s->out_off < s->out.len) {
            size_t n = s->out.len - s->out_off;
            if (n > max) n = max;
            memcpy(buf, s->out.p + s->out_off, n);
            s->out_off += n;
            return (long)n;
        }
        pthread_mutex_lock(&s->mu);
        if (s->out_last > s->taken) {
            s->taken = s->out_last;
            pthread_cond_signal(&s->cv);
        }
        if (s->q.len) {
            rc_buf t = s->out;
            s->out = s->q;
            s->q = t;
            rc_buf_reset(&s->q);
            s->out_off = 0;
            s->out_last = s->q_last;
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        int ended = s->ended, failed = s->failed;
        pthread_mutex_unlock(&s->mu);
        if (failed) return RC_HTTP_STREAM_ERROR;
        if (ended || atomic_load(&s->env->stopping)) return RC_HTTP_STREAM_END;
        return RC_HTTP_STREAM_WAIT;
    }
}

static void cstream_free(rc_http_stream *base) {
    cstream *s = (cstream *)base;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
    }
    rc_buf_free(&s->q);
    rc_buf_free(&s->out);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    rc__http_park_destroy(&s->base.park);
    rc_http_env *env = s->env;
    int counted = s->started;
    free(s->name);
    free(s->member);
    free(s);
    /* Last: the door may be waiting for this to stop (see the start). */
    if (counted) atomic_fetch_sub(&env->inflight, 1);
}

static int stop_at_first(const rc_consumer_row *r, void *arg) {
    (void)r, (void)arg;
    return 1;
}

typedef struct mode_pos {
    int mode;
    uint64_t read_seq;
} mode_pos;

static int mode_of(const rc_consumer_info *c, void *arg) {
    mode_pos *m = arg;
    m->mode = c->mode;
    m->read_seq = c->read_seq;
    return 0;
}

void rc__h_cursor_stream(const rc_http_req *req, rc_http_res *res) {
    rc_http_env *env = req->env;
    rc_err err;
    rc_err_clear(&err);
    mode_pos mp = {0, 0};
    int rc = rc_consumer_get(env->st, req->params[0], mode_of, &mp, &err), mode = mp.mode;
    if (rc != RC_OK) {
        problem(res, &err, rc);
        return;
    }
    const char *member = rc__http_req_query(req, "member");
    if (mode == RC_CONSUMER_GROUP && !member) {
        rc__http_res_problem(res, RC_INVALID, "member: required for a consumer group");
        return;
    }
    /* A cursor client reconnecting with Last-Event-ID confirms everything
     * up to it (a cursor's stream sends in seq order): acknowledge, then
     * resume after it. A group's stream sends redeliveries out of seq
     * order, so there the client acknowledges each event itself. */
    const char *lei = rc__http_req_header(req, "Last-Event-ID");
    if (lei && *lei) {
        uint64_t id;
        if (rc__http_parse_u64(lei, &id) || id == 0) {
            rc__http_res_problem(res, RC_INVALID, "Last-Event-ID: must be a sequence number");
            return;
        }
        if (mode == RC_CONSUMER_CURSOR &&
            (rc = rc_consumer_ack(env->st, req->params[0], NULL, &id, 1, NULL, &err)) != RC_OK) {
            problem(res, &err, rc);
            return;
        }
    }
    {
        /* A position retention removed is an error the client must see
         * as a status (410 naming the earliest seq), not a broken stream:
         * a cursor's stream reads from its ack position, a group's fetches
         * new events after its read position. */
        rc_consumer_read_opts o = {.limit = 1};
        if (mode == RC_CONSUMER_GROUP) o.after = mp.read_seq;
        rc_consumer_read_res r;
        if ((rc = rc_consumer_read(env->st, req->params[0], &o, stop_at_first, NULL, &r, &err))) {
            problem(res, &err, rc);
            return;
        }
    }
    cstream *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(req->params[0])) || (member && !(s->member = strdup(member)))) {
        if (s) free(s->name);
        free(s);
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    s->base.read = cstream_read;
    s->base.free = cstream_free;
    rc__http_park_init(&s->base.park);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    rc_buf_init(&s->q);
    rc_buf_init(&s->out);
    s->env = env;
    s->cursor = mode == RC_CONSUMER_CURSOR;
    rc_buf_puts(&s->out, ": redcar consumer stream\nretry: 2000\n\n");
    if (pthread_create(&s->th, NULL, cstream_main, s) != 0) {
        cstream_free(&s->base);
        rc__http_res_problem(res, RC_BUSY, "cannot start the stream");
        return;
    }
    s->started = 1;
    /* A live stream holds a connection that is suspended most of the time;
     * counting it as in flight makes the door's stop wait for its end
     * (the helper sees `stopping` and ends the response). */
    atomic_fetch_add(&env->inflight, 1);
    res->status = 200;
    rc__http_res_header(res, "Content-Type", "text/event-stream");
    rc__http_res_header(res, "Cache-Control", "no-cache");
    rc__http_res_header(res, "X-Accel-Buffering", "no");
    res->stream = &s->base;
}

/* ---- metrics ----------------------------------------------------------------------- */

typedef struct metric_row {
    const char *name, *type, *help;
    size_t off; /* uint64_t field of rc_consumer_info */
} metric_row;

static const metric_row metric_rows[] = {
    {"redcar_consumer_lag", "gauge", "Events between a consumer's ack position and the head.",
     offsetof(rc_consumer_info, lag)},
    {"redcar_consumer_pending", "gauge", "Events handed out and not yet acknowledged.",
     offsetof(rc_consumer_info, pending)},
    {"redcar_consumer_delivered_total", "counter", "Deliveries (first and repeated).",
     offsetof(rc_consumer_info, delivered)},
    {"redcar_consumer_redelivered_total", "counter", "Repeated deliveries (lease expired, nack, claim).",
     offsetof(rc_consumer_info, redelivered)},
    {"redcar_consumer_acked_total", "counter", "Events acknowledged.",
     offsetof(rc_consumer_info, acked)},
    {"redcar_consumer_dead_lettered_total", "counter", "Events given up after max_deliver.",
     offsetof(rc_consumer_info, dead)},
};
#define N_METRICS (sizeof metric_rows / sizeof metric_rows[0])

typedef struct metric_acc {
    rc_buf rows[N_METRICS];
} metric_acc;

static int metric_one(const rc_consumer_info *c, void *arg) {
    metric_acc *a = arg;
    for (size_t i = 0; i < N_METRICS; i++)
        rc_buf_printf(&a->rows[i], "%s{consumer=\"%s\",mode=\"%s\"} %" PRIu64 "\n",
                      metric_rows[i].name, c->name, rc_consumer_mode_name(c->mode),
                      *(const uint64_t *)((const char *)c + metric_rows[i].off));
    return 0;
}

void rc__http_consumer_metrics(rc_http_env *env, rc_buf *out) {
    /* Retention (redcar/retention.h): seqs are gapless and only the front
     * is trimmed, so the events trimmed so far are the earliest seq - 1. */
    rc_store_stats ss;
    if (rc_store_stats_get(env->st, &ss) == RC_OK) {
        rc_buf_printf(out,
                      "# HELP redcar_first_seq Earliest sequence number still stored.\n"
                      "# TYPE redcar_first_seq gauge\nredcar_first_seq %" PRIu64 "\n"
                      "# HELP redcar_retention_trimmed_total Events removed by retention.\n"
                      "# TYPE redcar_retention_trimmed_total counter\n"
                      "redcar_retention_trimmed_total %" PRIu64 "\n",
                      ss.first_seq, ss.first_seq > 1 ? ss.first_seq - 1 : 0);
    }
    metric_acc a;
    for (size_t i = 0; i < N_METRICS; i++) rc_buf_init(&a.rows[i]);
    rc_err err;
    if (rc_consumer_list(env->st, metric_one, &a, &err) == RC_OK) {
        /* Names are [A-Za-z0-9._-]: valid label values as they are. */
        for (size_t i = 0; i < N_METRICS; i++) {
            rc_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", metric_rows[i].name,
                          metric_rows[i].help, metric_rows[i].name, metric_rows[i].type);
            rc_buf_append(out, a.rows[i].p ? a.rows[i].p : "", a.rows[i].len);
        }
    }
    for (size_t i = 0; i < N_METRICS; i++) rc_buf_free(&a.rows[i]);
}
