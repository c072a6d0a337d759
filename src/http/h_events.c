/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /events: append in the three CloudEvents HTTP modes (structured, batched,
 * binary), read the log in pages, read one event.
 *
 * Appends are asynchronous: the handler hands the events to the store's
 * writer and defers its answer; the completion (on the writer thread,
 * after the group commit is durable) only records the result and wakes the
 * connection, so the writer is back at the next group at once; the answer
 * is built by the finish step on the HTTP thread that sends it (no thread
 * in between: each hop costs a wake-up per request). Log reads are streamed page by page from the store with the
 * stored JSON copied through and `seq` spliced in, so a long replay never
 * materialises in memory and never re-encodes an event.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

/* ---- POST /events ----------------------------------------------------------------- */

typedef struct append_ctx {
    rc_http_res *res;
    rc_http_env *env;
    size_t n;
    int batch;
    uint64_t bytes;
    char *expect_subject;
    /* The store's result, recorded on the writer thread. */
    int status;
    rc_err err;
    rc_append_item one;       /* a single event's item: no allocation */
    rc_append_item *items;    /* &one, or a copy for batches */
    size_t n_items;
} append_ctx;

/* The finish step, on the HTTP thread once woken: build the answer. */
static void append_answer(rc_http_res *res, void *arg) {
    append_ctx *c = arg;
    const rc_append_item *items = c->items;
    size_t n = c->n_items;
    if (c->status != RC_OK) {
        rc__http_res_problem(res, c->status, c->err.msg[0] ? c->err.msg : NULL);
    } else {
        rc_buf b = RC_BUF_INIT;
        int all_dup = 1;
        uint64_t fresh = 0;
        for (size_t i = 0; i < n; i++) {
            if (!items[i].duplicate) {
                all_dup = 0;
                fresh++;
            }
        }
        if (c->batch) {
            rc_buf_reserve(&b, 16 + n * 36);
            rc_buf_puts(&b, "{\"items\":[");
            for (size_t i = 0; i < n; i++) {
                rc_buf_puts(&b, i ? ",{\"seq\":" : "{\"seq\":");
                rc_buf_put_u64(&b, items[i].seq);
                rc_buf_puts(&b, items[i].duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}");
            }
            rc_buf_puts(&b, "]}");
        } else if (n) {
            rc_buf_puts(&b, "{\"seq\":");
            rc_buf_put_u64(&b, items[0].seq);
            rc_buf_puts(&b, items[0].duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}");
        }
        if (n) { /* "/events/<seq>", without snprintf's format parsing */
            char loc[32] = "/events/";
            char *e = loc + sizeof loc - 1;
            *e = '\0';
            uint64_t v = items[0].seq;
            do *--e = (char)('0' + v % 10);
            while ((v /= 10));
            memmove(loc + 8, e, (size_t)(loc + sizeof loc - e));
            rc__http_res_header(res, "Location", loc);
        }
        /* The answer takes the buffer as is: no copy. */
        res->status = all_dup ? 200 : 201;
        rc__http_res_header(res, "Content-Type", "application/json");
        rc_buf_free(&res->body);
        res->body = b;
        if (fresh) rc__http_metrics_appended(c->env->metrics, fresh, fresh == n ? c->bytes : 0);
    }
    rc_http_env *env = c->env;
    if (c->items != &c->one) free(c->items);
    free(c->expect_subject);
    free(c);
    /* stop() waits for inflight == 0 before it may stop MHD: by then every
     * deferred connection has been resumed and answered. */
    atomic_fetch_sub(&env->inflight, 1);
}

/* On the store's writer thread, after the commit: record and hand over. */
static void append_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                        size_t n) {
    append_ctx *c = arg;
    c->status = status;
    c->items = &c->one;
    c->n_items = 0;
    if (status != RC_OK) {
        if (err) c->err = *err;
        else rc_err_clear(&c->err);
    } else if (n == 1) {
        c->one = items[0];
        c->n_items = 1;
    } else if (n > 1) {
        if ((c->items = malloc(n * sizeof *items))) {
            memcpy(c->items, items, n * sizeof *items);
            c->n_items = n;
        } else {
            c->items = &c->one;
            c->status = RC_NOMEM;
            rc_err_set(&c->err, RC_NOMEM, "committed, but out of memory for the answer");
        }
    }
    rc__http_res_complete(c->res);
}

/* Read the optimistic-concurrency precondition from the query or headers. */
static int read_expect(const rc_http_req *req, rc_append_opts *o, rc_err *err) {
    const char *s = rc__http_req_query(req, "expect_seq");
    if (!s) s = rc__http_req_header(req, "Redcar-Expect-Seq");
    const char *subj = rc__http_req_query(req, "expect_subject");
    if (!subj) subj = rc__http_req_header(req, "Redcar-Expect-Subject");
    if (s) {
        uint64_t v;
        if (rc__http_parse_u64(s, &v) || v > INT64_MAX)
            return rc_err_set(err, RC_INVALID, "expect_seq: must be a non-negative integer");
        o->expect_seq = (int64_t)v;
    }
    if (subj) {
        if (!s) return rc_err_set(err, RC_INVALID, "expect_subject: needs expect_seq");
        o->expect_subject = subj;
    }
    return RC_OK;
}

void rc__h_events_post(const rc_http_req *req, rc_http_res *res) {
    rc_http_env *env = req->env;
    rc_err err;
    rc_err_clear(&err);
    rc_append_opts ao = RC_APPEND_OPTS_INIT;
    if (read_expect(req, &ao, &err)) {
        rc__http_res_problem(res, err.code, err.msg);
        return;
    }
    const char *ct = rc__http_req_header(req, "Content-Type");
    char mt[128];
    /* The two structured types, exactly as CloudEvents SDKs send them,
     * skip the general media-type parse. */
    if (ct && !strcmp(ct, "application/cloudevents+json"))
        memcpy(mt, "application/cloudevents+json", sizeof "application/cloudevents+json");
    else if (ct && !strcmp(ct, "application/cloudevents-batch+json"))
        memcpy(mt, "application/cloudevents-batch+json", sizeof "application/cloudevents-batch+json");
    else
        rc__http_media_type(ct ? ct : "", ct ? strlen(ct) : 0, mt, sizeof mt);
    int64_t max_event = atomic_load_explicit(&env->max_event, memory_order_relaxed);
    int64_t max_batch = atomic_load_explicit(&env->max_batch, memory_order_relaxed);
    rc_event **evs = NULL, *one = NULL;
    size_t n = 0;
    int batch = 0, rc;
    if (!strcmp(mt, "application/cloudevents+json")) {
        if ((int64_t)req->body_len > max_event) {
            rc__http_res_problem(res, RC_TOO_LARGE, "event: larger than max-event-size");
            return;
        }
        rc = rc_event_decode_json(req->body, req->body_len, &one, &err);
        evs = &one;
        n = 1;
    } else if (!strcmp(mt, "application/cloudevents-batch+json")) {
        batch = 1;
        rc = rc_event_decode_batch(req->body, req->body_len, &evs, &n, &err);
        if (rc == RC_OK && (int64_t)n > max_batch) {
            rc_event_free_array(evs, n);
            char d[96];
            snprintf(d, sizeof d, "batch: %zu events, more than max-batch (%" PRId64 ")", n, max_batch);
            rc__http_res_problem(res, RC_TOO_LARGE, d);
            return;
        }
        /* max-event-size is the encoded size of each member. A body within
         * it holds no member beyond it (the common case: nothing to do);
         * otherwise each member is measured by encoding it. */
        if (rc == RC_OK && (int64_t)req->body_len > max_event) {
            rc_buf enc = RC_BUF_INIT;
            for (size_t i = 0; i < n; i++) {
                rc_buf_reset(&enc);
                rc_event_encode_json(evs[i], 0, &enc);
                if ((int64_t)enc.len > max_event) {
                    rc_buf_free(&enc);
                    rc_event_free_array(evs, n);
                    char d[112];
                    snprintf(d, sizeof d, "[%zu] event: %zu bytes encoded, larger than "
                             "max-event-size (%" PRId64 ")", i, enc.len, max_event);
                    rc__http_res_problem(res, RC_TOO_LARGE, d);
                    return;
                }
            }
            rc_buf_free(&enc);
        }
    } else {
        int binary = 0;
        for (size_t i = 0; i < req->n_headers && !binary; i++)
            binary = req->headers[i].name_len > 3 && !strncasecmp(req->headers[i].name, "ce-", 3);
        if (!binary) {
            char d[200];
            snprintf(d, sizeof d,
                     "Content-Type '%.60s' is not application/cloudevents+json or "
                     "application/cloudevents-batch+json, and no ce-* headers ask for binary mode",
                     mt[0] ? mt : "(none)");
            rc__http_res_problem(res, RC_UNSUPPORTED, d);
            return;
        }
        if ((int64_t)req->body_len > max_event) {
            rc__http_res_problem(res, RC_TOO_LARGE, "event: larger than max-event-size");
            return;
        }
        rc = rc__http_binary_decode(req->headers, req->n_headers, req->body, req->body_len, &one,
                                    &err);
        evs = &one;
        n = 1;
    }
    if (rc != RC_OK) {
        rc__http_res_problem(res, rc, err.msg);
        return;
    }
    if (n == 0) { /* an empty batch appends nothing: every (no) event is "already there" */
        rc__http_res_send(res, 200, "application/json", "{\"items\":[]}", 12);
        free(evs);
        return;
    }
    append_ctx *c = calloc(1, sizeof *c);
    if (!c || (ao.expect_subject && !(c->expect_subject = strdup(ao.expect_subject)))) {
        free(c);
        for (size_t i = 0; i < n; i++) rc_event_free(evs[i]);
        if (batch) free(evs);
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    c->res = res;
    c->env = env;
    c->n = n;
    c->batch = batch;
    c->bytes = req->body_len;
    ao.expect_subject = c->expect_subject;
    rc__http_res_defer_finish(res, append_answer, c);
    atomic_fetch_add(&env->inflight, 1);
    rc = rc_store_append_async(env->st, evs, n, &ao, append_done, c, &err);
    if (batch) free(evs); /* the store owns the events, not the array */
    if (rc != RC_OK) {
        res->finish = NULL;
        atomic_fetch_sub(&env->inflight, 1);
        free(c->expect_subject);
        free(c);
        rc__http_res_problem(res, rc, err.msg);
        rc__http_res_complete(res);
    }
}

/* ---- GET /events -------------------------------------------------------------------- */

#define PAGE_ROWS 1000
#define LIST_DEFAULT 100
#define LIST_MAX 10000

/* Filters shared by GET /events and the SSE stream. Strings point into the
 * request (valid for the request's life; the SSE stream copies them). */
typedef struct list_args {
    rc_query q;
    size_t limit;
    int ndjson;
} list_args;

int rc__http_query_filters(const rc_http_req *req, rc_query *q, rc_err *err) {
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        {"type", offsetof(rc_query, type)},
        {"source", offsetof(rc_query, source)},
        {"subject", offsetof(rc_query, subject)},
        {"subject_prefix", offsetof(rc_query, subject_prefix)},
    };
    const char *v;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if ((v = rc__http_req_query(req, strs[i].name)))
            *(const char **)((char *)q + strs[i].off) = v;
    if ((v = rc__http_req_query(req, "from")) && rc__http_parse_u64(v, &q->from))
        return rc_err_set(err, RC_INVALID, "from: must be a non-negative integer");
    if ((v = rc__http_req_query(req, "after")) && rc__http_parse_u64(v, &q->after))
        return rc_err_set(err, RC_INVALID, "after: must be a non-negative integer");
    if (rc__http_req_query(req, "from") && rc__http_req_query(req, "after"))
        return rc_err_set(err, RC_INVALID, "from, after: give one of them");
    if ((v = rc__http_req_query(req, "since")) && rc_time_parse(v, &q->since_ms))
        return rc_err_set(err, RC_INVALID, "since: must be an RFC 3339 timestamp");
    if ((v = rc__http_req_query(req, "until")) && rc_time_parse(v, &q->until_ms))
        return rc_err_set(err, RC_INVALID, "until: must be an RFC 3339 timestamp");
    return RC_OK;
}

static int list_args_parse(const rc_http_req *req, list_args *a, rc_err *err) {
    memset(a, 0, sizeof *a);
    a->limit = LIST_DEFAULT;
    if (rc__http_query_filters(req, &a->q, err)) return err->code;
    const char *v;
    if ((v = rc__http_req_query(req, "limit"))) {
        uint64_t l;
        if (rc__http_parse_u64(v, &l) || l < 1 || l > LIST_MAX)
            return rc_err_set(err, RC_INVALID, "limit: must be an integer from 1 to %d", LIST_MAX);
        a->limit = (size_t)l;
    }
    if ((v = rc__http_req_query(req, "order"))) {
        if (!strcmp(v, "desc")) a->q.desc = 1;
        else if (strcmp(v, "asc")) return rc_err_set(err, RC_INVALID, "order: must be asc or desc");
    }
    a->ndjson = rc__http_accepts(rc__http_req_header(req, "Accept"), "application/x-ndjson");
    return RC_OK;
}

/* The Redcar-Next link: the same query, continuing after the last seq. */
static void next_link(const rc_http_req *req, const list_args *a, uint64_t last, rc_buf *out) {
    rc_buf_puts(out, "/events?");
    rc_buf_puts(out, a->q.desc ? "before=" : "after=");
    rc_buf_put_u64(out, last);
    rc_buf_printf(out, "&limit=%zu", a->limit);
    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].name;
        if (!strcmp(k, "from") || !strcmp(k, "after") || !strcmp(k, "limit") ||
            !strcmp(k, "before"))
            continue;
        rc_buf_putc(out, '&');
        /* Re-encode: the values were decoded on the way in. */
        static const char hex[] = "0123456789ABCDEF";
        for (int part = 0; part < 2; part++) {
            const char *s = part ? req->query[i].value : k;
            if (part) rc_buf_putc(out, '=');
            for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '/') {
                    rc_buf_putc(out, (char)c);
                } else {
                    char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                    rc_buf_append(out, e, 3);
                }
            }
        }
    }
}

/* Streams the matching events as pages read from the store. */
typedef struct list_stream {
    rc_http_stream base;
    rc_store *st;
    rc_query q;           /* strings copied into strs */
    char *strs;
    size_t remaining;     /* events still to send */
    int ndjson;
    int started, finished, any;
    uint64_t last;        /* last seq sent (the page continues after it) */
    size_t page_rows;     /* rows of the current page */
    rc_buf buf;
    size_t off;
} list_stream;

static int list_row(const rc_stored *row, void *arg) {
    list_stream *s = arg;
    if (s->ndjson) {
        rc__http_put_stored(&s->buf, row->json, row->json_len, row->seq);
        rc_buf_putc(&s->buf, '\n');
    } else {
        if (s->any) rc_buf_putc(&s->buf, ',');
        rc__http_put_stored(&s->buf, row->json, row->json_len, row->seq);
    }
    s->any = 1;
    s->last = row->seq;
    s->page_rows++;
    return 0;
}

/* Read the next page into buf. RC_OK or the store's error. */
static int list_fill(list_stream *s, rc_err *err) {
    rc_query q = s->q;
    size_t want = s->remaining < PAGE_ROWS ? s->remaining : PAGE_ROWS;
    if (s->started) {
        /* Continue after the last row: keyset paging, no OFFSET. */
        if (q.desc) {
            if (s->last <= 1) {
                s->remaining = 0;
                return RC_OK;
            }
            q.to = s->last - 1;
        } else {
            q.from = 0;
            q.after = s->last;
        }
    }
    q.limit = want;
    s->page_rows = 0;
    int rc = rc_store_scan(s->st, &q, list_row, s, err);
    s->started = 1;
    if (rc != RC_OK) return rc;
    s->remaining -= s->page_rows;
    if (s->page_rows < want) s->remaining = 0;
    return RC_OK;
}

static long list_read(rc_http_stream *base, char *out, size_t max) {
    list_stream *s = (list_stream *)base;
    for (;;) {
        if (s->off < s->buf.len) {
            size_t n = s->buf.len - s->off;
            if (n > max) n = max;
            memcpy(out, s->buf.p + s->off, n);
            s->off += n;
            return (long)n;
        }
        if (s->finished) return RC_HTTP_STREAM_END;
        rc_buf_reset(&s->buf);
        s->off = 0;
        if (s->remaining) {
            rc_err err;
            if (list_fill(s, &err) != RC_OK) return RC_HTTP_STREAM_ERROR;
        }
        if (!s->remaining) {
            if (!s->ndjson) rc_buf_putc(&s->buf, ']');
            s->finished = 1;
        }
    }
}

static void list_free(rc_http_stream *base) {
    list_stream *s = (list_stream *)base;
    rc_buf_free(&s->buf);
    rc__http_park_destroy(&s->base.park);
    free(s->strs);
    free(s);
}

static char *copy_query_strings(rc_query *q) {
    const char **f[] = {&q->type, &q->source, &q->subject, &q->subject_prefix};
    size_t total = 0;
    for (size_t i = 0; i < 4; i++) total += *f[i] ? strlen(*f[i]) + 1 : 0;
    char *strs = malloc(total + 1), *p = strs;
    if (!strs) return NULL;
    for (size_t i = 0; i < 4; i++) {
        if (!*f[i]) continue;
        size_t l = strlen(*f[i]) + 1;
        memcpy(p, *f[i], l);
        *f[i] = p;
        p += l;
    }
    return strs;
}

/* Counts the page without encoding it: whether it is full decides the
 * next link, which must be in the headers before the body streams. */
typedef struct probe {
    size_t rows;
    uint64_t last;
} probe;

static int probe_row(const rc_stored *row, void *arg) {
    probe *p = arg;
    p->rows++;
    p->last = row->seq;
    return 0;
}

void rc__h_events_list(const rc_http_req *req, rc_http_res *res) {
    list_args a;
    rc_err err;
    rc_err_clear(&err);
    if (list_args_parse(req, &a, &err)) {
        rc__http_res_problem(res, err.code, err.msg);
        return;
    }
    /* `before` continues a descending listing (seq < before). */
    const char *before = rc__http_req_query(req, "before");
    if (before) {
        uint64_t b;
        if (rc__http_parse_u64(before, &b) || b == 0) {
            rc__http_res_problem(res, RC_INVALID, "before: must be a positive integer");
            return;
        }
        if (b <= 1) {
            rc__http_res_send(res, 200, a.ndjson ? "application/x-ndjson" : "application/cloudevents-batch+json",
                              a.ndjson ? "" : "[]", a.ndjson ? 0 : 2);
            return;
        }
        a.q.to = b - 1;
    }
    list_stream *s = calloc(1, sizeof *s);
    if (!s) {
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    s->base.read = list_read;
    s->base.free = list_free;
    rc__http_park_init(&s->base.park);
    s->st = req->env->st;
    s->q = a.q;
    s->ndjson = a.ndjson;
    s->remaining = a.limit;
    rc_buf_init(&s->buf);
    if (!(s->strs = copy_query_strings(&s->q))) {
        list_free(&s->base);
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    /* The first page is read now, so that a trimmed position or a store
     * error is still a proper status code and not a broken stream. */
    if (!a.ndjson) rc_buf_putc(&s->buf, '[');
    int rc = list_fill(s, &err);
    if (rc != RC_OK) {
        list_free(&s->base);
        rc__http_res_problem(res, rc, err.msg);
        return;
    }
    uint64_t last = s->last;
    int full = s->remaining == 0 && s->page_rows == a.limit;
    if (s->remaining) {
        probe p = {0, 0};
        rc_query q = s->q;
        q.limit = a.limit;
        if (rc_store_scan(s->st, &q, probe_row, &p, &err) == RC_OK && p.rows == a.limit) {
            full = 1;
            last = p.last;
        }
    }
    if (full) {
        rc_buf link = RC_BUF_INIT;
        next_link(req, &a, last, &link);
        rc__http_res_header(res, "Redcar-Next", link.p);
        rc_buf lh = RC_BUF_INIT;
        rc_buf_printf(&lh, "<%s>; rel=\"next\"", link.p);
        rc__http_res_header(res, "Link", lh.p);
        rc_buf_free(&lh);
        rc_buf_free(&link);
    }
    res->status = 200;
    rc__http_res_header(res, "Content-Type",
                        a.ndjson ? "application/x-ndjson" : "application/cloudevents-batch+json");
    res->stream = &s->base;
}

/* ---- GET /events/{seq} ------------------------------------------------------------- */

typedef struct one_row {
    rc_buf json;
    uint64_t seq;
    int found;
} one_row;

static int one_row_fn(const rc_stored *row, void *arg) {
    one_row *o = arg;
    rc_buf_append(&o->json, row->json, row->json_len);
    o->seq = row->seq;
    o->found = 1;
    return 1;
}

void rc__h_event_get(const rc_http_req *req, rc_http_res *res) {
    uint64_t seq;
    if (rc__http_parse_u64(req->params[0], &seq) || seq == 0) {
        rc__http_res_problem(res, RC_INVALID, "seq: must be a positive integer");
        return;
    }
    one_row o = {RC_BUF_INIT, 0, 0};
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_get(req->env->st, seq, one_row_fn, &o, &err);
    if (rc == RC_OK && !o.found) rc = rc_err_set(&err, RC_NOT_FOUND, "no event at seq %" PRIu64, seq);
    if (rc != RC_OK) {
        if (rc == RC_NOT_FOUND && !err.msg[0]) rc_err_set(&err, RC_NOT_FOUND, "no event at seq %" PRIu64, seq);
        rc__http_res_problem(res, rc, err.msg);
        rc_buf_free(&o.json);
        return;
    }
    const char *accept = rc__http_req_header(req, "Accept");
    if (accept && !rc__http_accepts(accept, "application/cloudevents+json")) {
        /* Binary mode when the client asks for the data's own media type. */
        rc_event *ev = NULL;
        if (rc_event_decode_json(o.json.p, o.json.len, &ev, &err) == RC_OK) {
            char mt[128];
            const char *ct = ev->datacontenttype;
            if (!ct && ev->data_form == RC_DATA_JSON) ct = "application/json";
            rc__http_media_type(ct ? ct : "", ct ? strlen(ct) : 0, mt, sizeof mt);
            if (mt[0] && ev->data_form != RC_DATA_NONE && rc__http_accepts(accept, mt)) {
                ev->seq = o.seq;
                rc__http_binary_encode(ev, res);
                rc_event_free(ev);
                rc_buf_free(&o.json);
                return;
            }
            rc_event_free(ev);
        }
    }
    rc_buf out = RC_BUF_INIT;
    rc__http_put_stored(&out, o.json.p, o.json.len, o.seq);
    rc__http_res_send(res, 200, "application/cloudevents+json", out.p, out.len);
    rc_buf_free(&out);
    rc_buf_free(&o.json);
}
