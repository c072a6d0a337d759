/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /events/stream: Server-Sent Events. Optionally replays the log from
 * `from=`/`after=`/Last-Event-ID, then follows the live tail from the hub.
 *
 * Replay-then-live without gaps or duplicates: the stream subscribes to the
 * hub first, then replays from the store page by page until a page comes
 * back short (the head), then drops the live events it buffered meanwhile
 * whose seq it already replayed. Events committed before the subscription
 * are in the store; events committed after it are delivered by the hub; the
 * seq decides where the two meet. If the live buffer overflows while the
 * replay is still running nothing is lost: the buffer is dropped and the
 * replay simply continues from the store. Once live, a client that lets its
 * bounded queue overflow is disconnected (Redis's pubsub output limit).
 *
 * Threads: deliver() runs on the store's writer thread with the hub locked
 * and only formats into the queue and wakes the connection; read() runs on
 * an HTTP thread. Lock order: env->sse_mu -> sse->mu -> park.mu, and
 * hub lock -> sse->mu.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "redcar/procstats.h"

#define REPLAY_PAGE 1000

typedef struct pending {
    uint64_t seq;
    size_t start; /* offset of its message in live */
} pending;

struct rc_sse {
    rc_http_stream base;
    rc_http_env *env;
    rc_sse *prev, *next;
    rc_sub *sub;
    rc_query q;
    char *strs;
    pthread_mutex_t mu;
    rc_buf live;          /* formatted live messages not yet taken by read() */
    pending *pend;        /* index of live while replaying */
    size_t npend, cappend;
    int replaying, lost, overflow;
    uint64_t last_sent;   /* replay cursor */
    uint64_t live_floor;  /* (mu) live events at or below it were replayed */
    size_t page_rows;
    size_t max_queue;
    int heartbeat_due;
    int64_t next_heartbeat;
    rc_buf out;           /* bytes being handed out */
    size_t out_off;
};

static void put_message(rc_buf *b, uint64_t seq, const char *type, const char *json, size_t len,
                        int stored) {
    rc_buf_puts(b, "id: ");
    rc_buf_put_u64(b, seq);
    rc_buf_puts(b, "\nevent: ");
    /* A type is any string: keep line breaks from ending the field. */
    for (const char *t = type ? type : ""; *t; t++)
        rc_buf_putc(b, (*t == '\n' || *t == '\r') ? ' ' : *t);
    rc_buf_puts(b, "\ndata: ");
    if (stored) rc__http_put_stored(b, json, len, seq);
    else rc_buf_append(b, json, len);
    rc_buf_puts(b, "\n\n");
}

/* ---- hub side (writer thread) ----------------------------------------------------- */

static int str_match(const char *want, const char *have) {
    return !want || (have && !strcmp(want, have));
}

static int sse_filter(void *arg, const rc_event *ev) {
    rc_sse *s = arg;
    const rc_query *q = &s->q;
    if (!str_match(q->type, ev->type) || !str_match(q->source, ev->source) ||
        !str_match(q->subject, ev->subject))
        return 0;
    if (q->subject_prefix &&
        (!ev->subject || strncmp(ev->subject, q->subject_prefix, strlen(q->subject_prefix))))
        return 0;
    if (q->since_ms || q->until_ms) {
        int64_t t = 0;
        if (!ev->time || rc_time_parse(ev->time, &t) != RC_OK) return 0;
        if (q->since_ms && t < q->since_ms) return 0;
        if (q->until_ms && t >= q->until_ms) return 0;
    }
    return 1;
}

static void sse_deliver(void *arg, const rc_delivery *d) {
    rc_sse *s = arg;
    const rc_event *ev = d->ev;
    int wake = 0;
    pthread_mutex_lock(&s->mu);
    if (s->overflow || (s->replaying && s->lost)) goto out;
    /* A reader may see a commit before its fan-out (the store answers and
     * fans out only after the flush), so the replay can already have sent
     * an event that the hub delivers after the switch to live. */
    if (ev->seq <= s->live_floor) goto out;
    if (s->replaying) {
        if (s->npend == s->cappend) {
            size_t cap = s->cappend ? s->cappend * 2 : 64;
            pending *p = realloc(s->pend, cap * sizeof *p);
            if (!p) {
                s->lost = 1;
                goto out;
            }
            s->pend = p;
            s->cappend = cap;
        }
        s->pend[s->npend].seq = ev->seq;
        s->pend[s->npend].start = s->live.len;
        s->npend++;
    }
    rc_buf json = RC_BUF_INIT;
    rc_event_encode_json(ev, RC_ENC_SEQ, &json);
    put_message(&s->live, ev->seq, ev->type, json.p, json.len, 0);
    rc_buf_free(&json);
    if (s->live.len > s->max_queue) {
        if (s->replaying) {
            /* Still replaying: the store has these events too. */
            s->lost = 1;
            rc_buf_free(&s->live);
            s->npend = 0;
        } else {
            s->overflow = 1;
            rc_buf_free(&s->live);
            wake = 1;
        }
        goto out;
    }
    wake = !s->replaying;
out:
    pthread_mutex_unlock(&s->mu);
    if (wake) rc__http_park_wake(&s->base.park);
}

/* ---- HTTP side ------------------------------------------------------------------------- */

static int replay_row(const rc_stored *row, void *arg) {
    rc_sse *s = arg;
    put_message(&s->out, row->seq, row->type, row->json, row->json_len, 1);
    s->last_sent = row->seq;
    s->page_rows++;
    return 0;
}

/* One replay page into out; returns its rows, or -1 on a store error
 * (left in err). */
static long replay_page(rc_sse *s, rc_err *err) {
    rc_query q = s->q;
    if (s->last_sent) {
        q.from = 0;
        q.after = s->last_sent;
    }
    q.limit = REPLAY_PAGE;
    q.desc = 0;
    s->page_rows = 0;
    if (rc_store_scan(s->env->st, &q, replay_row, s, err) != RC_OK) return -1;
    return (long)s->page_rows;
}

/* The replay reached the head: hand over to the live queue. Called with mu. */
static void switch_to_live(rc_sse *s) {
    size_t i = 0;
    while (i < s->npend && s->pend[i].seq <= s->last_sent) i++;
    if (i == s->npend) rc_buf_reset(&s->live);
    else rc_buf_consume(&s->live, s->pend[i].start);
    s->npend = 0;
    s->replaying = 0;
    s->live_floor = s->last_sent;
}

/* A replay page came back short: the replay reached the head. */
static void caught_up(rc_sse *s) {
    pthread_mutex_lock(&s->mu);
    if (s->lost) {
        /* Live events were dropped meanwhile: replay on until none are. */
        s->lost = 0;
        rc_buf_reset(&s->live);
        s->npend = 0;
    } else {
        switch_to_live(s);
    }
    pthread_mutex_unlock(&s->mu);
}

static long take(rc_sse *s, char *buf, size_t max) {
    size_t n = s->out.len - s->out_off;
    if (n > max) n = max;
    memcpy(buf, s->out.p + s->out_off, n);
    s->out_off += n;
    if (s->out_off == s->out.len) {
        rc_buf_reset(&s->out);
        s->out_off = 0;
    }
    return (long)n;
}

static long sse_read(rc_http_stream *base, char *buf, size_t max) {
    rc_sse *s = (rc_sse *)base;
    for (;;) {
        if (s->out.len > s->out_off) return take(s, buf, max);
        if (atomic_load(&s->env->stopping)) return RC_HTTP_STREAM_END;
        pthread_mutex_lock(&s->mu);
        if (s->overflow) {
            pthread_mutex_unlock(&s->mu);
            return RC_HTTP_STREAM_ERROR;
        }
        if (s->replaying) {
            pthread_mutex_unlock(&s->mu);
            rc_err err;
            long rows = replay_page(s, &err);
            if (rows < 0) return RC_HTTP_STREAM_ERROR;
            if (rows < REPLAY_PAGE) caught_up(s);
            continue;
        }
        if (s->live.len) {
            /* Swap buffers: the writer keeps appending to a fresh one. */
            rc_buf t = s->out;
            s->out = s->live;
            s->live = t;
            rc_buf_reset(&s->live);
            s->out_off = 0;
            s->heartbeat_due = 0;
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        if (s->heartbeat_due) {
            s->heartbeat_due = 0;
            pthread_mutex_unlock(&s->mu);
            rc_buf_puts(&s->out, ": heartbeat\n\n");
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        return RC_HTTP_STREAM_WAIT;
    }
}

static void sse_free(rc_http_stream *base) {
    rc_sse *s = (rc_sse *)base;
    rc_http_env *env = s->env;
    pthread_mutex_lock(&env->sse_mu);
    if (s->prev) s->prev->next = s->next;
    else if (env->sse_head == s) env->sse_head = s->next;
    if (s->next) s->next->prev = s->prev;
    env->sse_count--;
    rc_procstats_add(RC_PROC_SSE_CLIENTS, -1);
    pthread_mutex_unlock(&env->sse_mu);
    if (s->sub) rc_hub_unsubscribe(env->hub, s->sub); /* no delivery after this */
    rc_buf_free(&s->live);
    rc_buf_free(&s->out);
    free(s->pend);
    free(s->strs);
    pthread_mutex_destroy(&s->mu);
    rc__http_park_destroy(&s->base.park);
    free(s);
}

static char *copy_strings(rc_query *q, const char *name, const char **name_out) {
    const char **f[] = {&q->type, &q->source, &q->subject, &q->subject_prefix, &name};
    size_t total = 1;
    for (size_t i = 0; i < 5; i++) total += *f[i] ? strlen(*f[i]) + 1 : 0;
    char *strs = malloc(total), *p = strs;
    if (!strs) return NULL;
    for (size_t i = 0; i < 5; i++) {
        if (!*f[i]) continue;
        size_t l = strlen(*f[i]) + 1;
        memcpy(p, *f[i], l);
        *f[i] = p;
        p += l;
    }
    *name_out = name;
    return strs;
}

void rc__h_events_stream(const rc_http_req *req, rc_http_res *res) {
    rc_http_env *env = req->env;
    rc_err err;
    rc_err_clear(&err);
    rc_query q;
    memset(&q, 0, sizeof q);
    if (rc__http_query_filters(req, &q, &err)) {
        rc__http_res_problem(res, err.code, err.msg);
        return;
    }
    int replay = rc__http_req_query(req, "from") || rc__http_req_query(req, "after");
    const char *lei = rc__http_req_header(req, "Last-Event-ID");
    if (lei && *lei) {
        uint64_t id;
        if (rc__http_parse_u64(lei, &id)) {
            rc__http_res_problem(res, RC_INVALID, "Last-Event-ID: must be a sequence number");
            return;
        }
        q.from = 0;
        q.after = id;
        replay = 1;
    }
    rc_sse *s = calloc(1, sizeof *s);
    if (!s) {
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    const char *name = rc__http_req_query(req, "name");
    s->base.read = sse_read;
    s->base.free = sse_free;
    rc__http_park_init(&s->base.park);
    pthread_mutex_init(&s->mu, NULL);
    rc_buf_init(&s->live);
    rc_buf_init(&s->out);
    s->env = env;
    s->q = q;
    if (!(s->strs = copy_strings(&s->q, name, &name))) {
        pthread_mutex_destroy(&s->mu);
        rc__http_park_destroy(&s->base.park);
        free(s);
        rc__http_res_problem(res, RC_NOMEM, NULL);
        return;
    }
    s->max_queue = (size_t)rc_config_int(env->cfg, "client-output-buffer-limit-pubsub");
    if (s->max_queue == 0) s->max_queue = (size_t)32 << 20;
    s->replaying = replay;
    s->next_heartbeat = rc__http_now_ms() + rc_config_int(env->cfg, "sse-heartbeat");
    /* On the list before subscribing: sse_free() expects to find it there. */
    pthread_mutex_lock(&env->sse_mu);
    s->next = env->sse_head;
    if (env->sse_head) env->sse_head->prev = s;
    env->sse_head = s;
    env->sse_count++;
    rc_procstats_add(RC_PROC_SSE_CLIENTS, 1);
    pthread_mutex_unlock(&env->sse_mu);
    /* Subscribe before replaying (see the file header). */
    rc_sub_opts so;
    memset(&so, 0, sizeof so);
    so.name = name;
    so.deliver = sse_deliver;
    so.arg = s;
    so.filter = sse_filter;
    so.filter_arg = s;
    so.match_all = 1;
    if (!(s->sub = rc_hub_subscribe(env->hub, &so))) {
        sse_free(&s->base);
        rc__http_res_problem(res, RC_BUSY, "cannot subscribe to the live tail");
        return;
    }
    /* Validate the replay position now, while an error can still be a
     * status code (410 for a trimmed position). */
    if (replay) {
        rc_err_clear(&err);
        long rows = replay_page(s, &err);
        if (rows < 0) {
            sse_free(&s->base);
            rc__http_res_problem(res, err.code ? err.code : RC_IO, err.msg);
            return;
        }
        if (rows < REPLAY_PAGE) caught_up(s);
    }
    /* A first line so that clients see the headers at once. */
    rc_buf b = RC_BUF_INIT;
    rc_buf_puts(&b, ": redcar event stream\nretry: 2000\n\n");
    rc_buf_append(&b, s->out.p ? s->out.p : "", s->out.len);
    rc_buf_free(&s->out);
    s->out = b;
    s->out_off = 0;
    res->status = 200;
    rc__http_res_header(res, "Content-Type", "text/event-stream");
    rc__http_res_header(res, "Cache-Control", "no-cache");
    rc__http_res_header(res, "X-Accel-Buffering", "no");
    res->stream = &s->base;
}

void rc__http_sse_tick(rc_http_env *env, int64_t now_ms) {
    int stopping = atomic_load(&env->stopping);
    int64_t every = rc_config_int(env->cfg, "sse-heartbeat");
    pthread_mutex_lock(&env->sse_mu);
    for (rc_sse *s = env->sse_head; s; s = s->next) {
        int wake = stopping;
        pthread_mutex_lock(&s->mu);
        if (now_ms >= s->next_heartbeat) {
            s->heartbeat_due = 1;
            s->next_heartbeat = now_ms + every;
            wake = 1;
        }
        pthread_mutex_unlock(&s->mu);
        if (wake) rc__http_park_wake(&s->base.park);
    }
    pthread_mutex_unlock(&env->sse_mu);
}

size_t rc__http_sse_count(rc_http_env *env) {
    pthread_mutex_lock(&env->sse_mu);
    size_t n = env->sse_count;
    pthread_mutex_unlock(&env->sse_mu);
    return n;
}
