/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Webhook delivery (redcar/push.h): a supervisor thread that keeps one
 * delivery thread per stored subscription, and the delivery loop itself.
 *
 * Order: a delivery thread owns its subscription's consumer (a cursor with
 * lease 0). It fetches a batch, then sends the events one at a time; the
 * next is sent only once the one before it was acknowledged or
 * dead-lettered. Between attempts at one event it sleeps the backoff and
 * then fetches with limit 1, which hands out the same event again (the
 * lowest pending one) and counts the attempt in the store, so a restart
 * continues the count instead of starting over. The rest of the batch
 * stays in memory meanwhile, still pending, and is sent afterwards.
 *
 * Shutdown: every wait is interruptible. Sleeps wait on the handle's
 * condition variable, new events are awaited with rc_hub_wait() in slices
 * of WAIT_SLICE_MS, and a transfer in progress is aborted from curl's
 * progress callback (libcurl calls it at least once a second). An
 * aborted attempt leaves its event pending: it is sent again later.
 *
 * Trust boundary: sinks are untrusted servers. Only their status code and
 * Retry-After header are used; response bodies are discarded unread, and
 * every transfer is bounded by the subscription's timeout.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "push/push_int.h"
#include "redcar/consumer.h"
#include "redcar/log.h"
#include "redcar/pushsub.h"

#define BATCH 64                /* events fetched at once */
#define WAIT_SLICE_MS 250       /* rc_hub_wait() slice: bounds stop latency */
#define STORE_RETRY_MS 1000     /* after a store error (disk full, ...) */
#define RETRY_AFTER_MAX 64      /* bytes of a Retry-After value kept */

typedef struct worker worker;

struct rc_push {
    rc_store *st;
    rc_hub *hub;
    rc_push_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* stop, and naps */
    atomic_int stopping;
    pthread_t sup;
    int sup_started;
    worker *workers;            /* (supervisor thread) */
};

struct worker {
    worker *next;
    rc_push *p;
    char id[RC_PUSH_ID_MAX + 1];
    char consumer[RC_CONSUMER_NAME_MAX + 1];
    rc__push_cfg cfg;
    pthread_t th;
    int started;
    int bad;                    /* document unreadable: no thread, warned once */
    int seen;                   /* (supervisor) row still there */
    atomic_int stop;
    atomic_int ended;           /* the thread returned on its own */
    uint64_t rnd;
};

void rc_push_opts_default(rc_push_opts *o) {
    o->connect_timeout_ms = 5000;
    o->retry_after_max_ms = 600000;
    o->poll_ms = 250;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopped(const worker *w) {
    return atomic_load(&w->p->stopping) || atomic_load(&w->stop);
}

/* Sleep ms or until told to stop. Returns 1 when stopping. */
static int nap(rc_push *p, const worker *w, int64_t ms) {
    int64_t end = mono_ms() + ms;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (atomic_load(&p->stopping) || (w && atomic_load(&w->stop))) break;
        int64_t now = mono_ms();
        if (now >= end) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t left = end - now;
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return w ? stopped(w) : atomic_load(&p->stopping);
}

static void wake_all(rc_push *p) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static uint64_t next_rnd(worker *w) {
    /* xorshift64*: jitter only, not security. */
    uint64_t x = w->rnd;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rnd = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- one HTTP attempt ---------------------------------------------------------- */

typedef struct attempt {
    worker *w;
    long status;                /* 0: no response */
    CURLcode cc;
    int aborted;                /* stopped by us */
    char retry_after[RETRY_AFTER_MAX];
    char errbuf[CURL_ERROR_SIZE];
} attempt;

static size_t on_header(char *buf, size_t size, size_t n, void *arg) {
    attempt *a = arg;
    size_t len = size * n;
    /* A new status line (after 100 Continue, say) starts a new response. */
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) a->retry_after[0] = '\0';
    if (len > 12 && !strncasecmp(buf, "retry-after:", 12)) {
        size_t v = len - 12;
        if (v >= sizeof a->retry_after) v = sizeof a->retry_after - 1;
        memcpy(a->retry_after, buf + 12, v);
        a->retry_after[v] = '\0';
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg) {
    (void)buf;
    (void)arg;
    return size * n; /* discarded: only the status matters */
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt, (void)dn, (void)ut, (void)un;
    attempt *a = arg;
    if (stopped(a->w)) {
        a->aborted = 1;
        return 1;
    }
    return 0;
}

static void add_ce(struct curl_slist **h, rc_buf *line, const char *attr, const char *v) {
    if (!v) return;
    rc_buf_reset(line);
    rc_buf_printf(line, "ce-%s: ", attr);
    rc_push_pct_encode(v, strlen(v), line);
    *h = curl_slist_append(*h, line->p);
}

/* The binary-mode request headers of ev (as the HTTP door's
 * rc__http_binary_encode writes them for GET /events/{seq}). */
static struct curl_slist *binary_headers(const worker *w, const rc_event *ev) {
    static const char *const attrs[] = {"specversion", "id",   "source",    "type",
                                        "subject",     "time", "dataschema"};
    struct curl_slist *h = NULL;
    rc_buf line = RC_BUF_INIT;
    char tmp[32];
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        add_ce(&h, &line, attrs[i], rc_event_get(ev, attrs[i], tmp, sizeof tmp));
    for (size_t i = 0; i < ev->n_ext; i++)
        add_ce(&h, &line, ev->ext[i].name, rc_event_get(ev, ev->ext[i].name, tmp, sizeof tmp));
    snprintf(tmp, sizeof tmp, "%" PRIu64, ev->seq);
    add_ce(&h, &line, "seq", tmp);
    const char *ct = ev->datacontenttype;
    if (!ct && ev->data_form == RC_DATA_JSON) ct = "application/json";
    if (!ct && ev->data_form == RC_DATA_TEXT) ct = "text/plain; charset=utf-8";
    if (!ct && ev->data_form == RC_DATA_BINARY) ct = "application/octet-stream";
    rc_buf_reset(&line);
    /* No data and no datacontenttype: no Content-Type at all ("Name:"
     * removes the one curl would add for a POST). */
    rc_buf_printf(&line, "Content-Type:%s%s", ct ? " " : "", ct ? ct : "");
    h = curl_slist_append(h, line.p);
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    h = curl_slist_append(h, "User-Agent: redcar/" RC_VERSION);
    for (size_t i = 0; i < w->cfg.n_headers; i++) h = curl_slist_append(h, w->cfg.headers[i]);
    rc_buf_free(&line);
    return h;
}

static void post(worker *w, CURL *curl, const rc_event *ev, attempt *a) {
    memset(a, 0, sizeof *a);
    a->w = w;
    struct curl_slist *h = binary_headers(w, ev);
    curl_easy_reset(curl); /* keeps the connection cache: keep-alive to the sink */
    curl_easy_setopt(curl, CURLOPT_URL, w->cfg.sink);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, ev->data_form != RC_DATA_NONE && ev->data
                                                   ? (const char *)ev->data
                                                   : "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)(ev->data_form != RC_DATA_NONE ? ev->data_len : 0));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)w->p->o.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)w->cfg.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, a->errbuf);
    a->cc = curl_easy_perform(curl);
    if (a->cc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
    if (a->cc == CURLE_ABORTED_BY_CALLBACK) a->aborted = 1;
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
}

/* What went wrong, for logs and dead letters. */
static void describe(const attempt *a, char *out, size_t len) {
    if (a->cc == CURLE_OK)
        snprintf(out, len, "HTTP %ld", a->status);
    else if (a->cc == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, len, "timeout (%s)", a->errbuf[0] ? a->errbuf : curl_easy_strerror(a->cc));
    else
        snprintf(out, len, "%s", a->errbuf[0] ? a->errbuf : curl_easy_strerror(a->cc));
}

/* ---- the delivery loop ----------------------------------------------------------- */

enum { NEXT, REFETCH, STOP, GONE };

/* Store calls that must eventually succeed (an ack after a 2xx, a dead
 * letter) are retried until they do, the consumer disappears, or stop. */
static int ack(worker *w, uint64_t seq) {
    for (;;) {
        rc_err err;
        rc_err_clear(&err);
        int rc = rc_consumer_ack(w->p->st, w->consumer, NULL, &seq, 1, NULL, &err);
        if (rc == RC_OK) return NEXT;
        if (rc == RC_NOT_FOUND) return GONE;
        RC_WARN("push", "subscription %s: acknowledging seq %" PRIu64 ": %s", w->id, seq,
                rc_err_msg(&err));
        if (nap(w->p, w, STORE_RETRY_MS)) return STOP;
    }
}

static int dead_letter(worker *w, uint64_t seq, uint32_t attempts, const char *reason) {
    for (;;) {
        rc_err err;
        rc_err_clear(&err);
        uint64_t dl = 0;
        int rc = rc_pushsub_dead_letter(w->p->st, w->consumer, seq, attempts, reason, &dl, &err);
        if (rc == RC_OK) {
            RC_WARN("push", "subscription %s: seq %" PRIu64 " dead-lettered as seq %" PRIu64 ": %s",
                    w->id, seq, dl, reason);
            return NEXT;
        }
        if (rc == RC_NOT_FOUND) return GONE;
        if (rc == RC_CONFLICT) return REFETCH; /* no longer pending: someone finished it */
        RC_WARN("push", "subscription %s: dead-lettering seq %" PRIu64 ": %s", w->id, seq,
                rc_err_msg(&err));
        if (nap(w->p, w, STORE_RETRY_MS)) return STOP;
    }
}

/* Deliver one event until it is acknowledged, dead-lettered or we stop. */
static int deliver(worker *w, CURL *curl, const char *json, size_t len, uint64_t seq,
                   uint32_t deliveries) {
    rc_event *ev = NULL;
    rc_err err;
    rc_err_clear(&err);
    if (rc_event_decode_json(json, len, &ev, &err) != RC_OK) {
        char reason[200];
        snprintf(reason, sizeof reason, "stored event does not decode: %s", rc_err_msg(&err));
        return dead_letter(w, seq, deliveries, reason);
    }
    ev->seq = seq;
    uint32_t n = deliveries; /* this attempt's number */
    int res;
    for (;;) {
        attempt a;
        post(w, curl, ev, &a);
        if (a.aborted) {
            res = STOP;
            break;
        }
        char what[CURL_ERROR_SIZE + 32];
        describe(&a, what, sizeof what);
        rc_push_outcome o = rc_push_classify(a.status, a.cc != CURLE_OK);
        if (o == RC_PUSH_DELIVERED) {
            RC_DEBUG("push", "subscription %s: seq %" PRIu64 " delivered (%s, attempt %" PRIu32 ")",
                     w->id, seq, what, n);
            res = ack(w, seq);
            break;
        }
        char reason[CURL_ERROR_SIZE + 96];
        if (o == RC_PUSH_REJECTED) {
            snprintf(reason, sizeof reason, "%s: rejected by the sink (not retried)", what);
            res = dead_letter(w, seq, n, reason);
            break;
        }
        if ((int64_t)n >= w->cfg.max_attempts) {
            snprintf(reason, sizeof reason, "%s after %" PRIu32 " attempt%s", what, n,
                     n == 1 ? "" : "s");
            res = dead_letter(w, seq, n, reason);
            break;
        }
        int64_t delay = -1;
        if (a.retry_after[0] &&
            rc_push_retry_after(a.retry_after, (int64_t)time(NULL) * 1000, &delay) == RC_OK) {
            if (delay > w->p->o.retry_after_max_ms) delay = w->p->o.retry_after_max_ms;
        } else {
            delay = rc_push_backoff_ms(n, w->cfg.backoff_base_ms, w->cfg.backoff_max_ms,
                                       next_rnd(w));
        }
        RC_DEBUG("push", "subscription %s: seq %" PRIu64 " attempt %" PRIu32 " failed (%s), next in %" PRId64 " ms",
                 w->id, seq, n, what, delay);
        if (nap(w->p, w, delay)) {
            res = STOP;
            break;
        }
        /* Count the next attempt in the store: the event in flight is the
         * lowest pending one, so a fetch of one hands it out again. */
        rc_consumer_batch one;
        rc_consumer_batch_init(&one);
        rc_err_clear(&err);
        int rc = rc_consumer_fetch(w->p->st, w->consumer, NULL, 1, &one, &err);
        if (rc == RC_NOT_FOUND) {
            res = GONE;
        } else if (rc != RC_OK) {
            RC_WARN("push", "subscription %s: %s", w->id, rc_err_msg(&err));
            n++;
            res = -1; /* retry anyway: the count is only behind by one */
        } else if (one.n == 1 && one.msgs[0].seq == seq) {
            n = one.msgs[0].deliveries;
            res = -1;
        } else {
            /* Finished or dead-lettered meanwhile (the consumer's
             * max_deliver), or nothing pending: start over from the store. */
            res = REFETCH;
        }
        rc_consumer_batch_free(&one);
        if (res != -1) break;
    }
    rc_event_free(ev);
    return res;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    rc_push *p = w->p;
    CURL *curl = curl_easy_init();
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    size_t i = 0;
    int last_rc = RC_OK; /* a lasting store error is logged once, not every retry */
    if (!curl) {
        RC_ERROR("push", "subscription %s: cannot create a curl handle", w->id);
        goto out;
    }
    RC_INFO("push", "subscription %s: delivering to %s", w->id, w->cfg.sink);
    while (!stopped(w)) {
        if (i >= b.n) {
            rc_err err;
            rc_err_clear(&err);
            i = 0;
            int rc = rc_consumer_fetch(p->st, w->consumer, NULL, BATCH, &b, &err);
            if (rc == RC_NOT_FOUND) break;
            if (rc != RC_OK) {
                /* RC_TRIMMED: retention removed the subscription's next
                 * event; delivery waits (the subscription's lag shows it)
                 * until the consumer is moved on or the subscription is
                 * recreated. */
                if (rc != last_rc)
                    RC_WARN("push", "subscription %s: %s", w->id, rc_err_msg(&err));
                last_rc = rc;
                nap(p, w, STORE_RETRY_MS);
                continue;
            }
            last_rc = RC_OK;
            if (b.n == 0) {
                /* Scanned up to the head: wait for a newer event. (A fetch
                 * that stopped early at its scan budget goes on at once.) */
                if (b.read_seq >= b.head_seq)
                    while (!stopped(w) && rc_hub_wait(p->hub, b.head_seq, WAIT_SLICE_MS) <= b.head_seq)
                        ;
                continue;
            }
        }
        const rc_consumer_msg *m = &b.msgs[i];
        int r = deliver(w, curl, b.json.p + m->off, m->len, m->seq, m->deliveries);
        if (r == NEXT) {
            i++;
        } else if (r == REFETCH) {
            i = b.n;
        } else {
            if (r == GONE) RC_INFO("push", "subscription %s: deleted, delivery ends", w->id);
            break;
        }
    }
out:
    rc_consumer_batch_free(&b);
    if (curl) curl_easy_cleanup(curl);
    atomic_store(&w->ended, 1);
    return NULL;
}

/* ---- the supervisor --------------------------------------------------------------- */

static void worker_free(worker *w) {
    if (w->started) {
        atomic_store(&w->stop, 1);
        wake_all(w->p);
        pthread_join(w->th, NULL);
    }
    rc__push_cfg_free(&w->cfg);
    free(w);
}

typedef struct row {
    char id[RC_PUSH_ID_MAX + 1];
    char consumer[RC_CONSUMER_NAME_MAX + 1];
    char *doc;
    int has_consumer;
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
} rows;

static int collect(const rc_pushsub *s, void *arg) {
    rows *r = arg;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        row *v = realloc(r->v, cap * sizeof *v);
        if (!v) return 1;
        r->v = v;
        r->cap = cap;
    }
    row *x = &r->v[r->n];
    snprintf(x->id, sizeof x->id, "%s", s->id);
    snprintf(x->consumer, sizeof x->consumer, "%s", s->consumer);
    x->has_consumer = s->has_consumer;
    if (!(x->doc = strdup(s->doc))) return 1;
    r->n++;
    return 0;
}

static void start_worker(rc_push *p, const row *r) {
    worker *w = calloc(1, sizeof *w);
    if (!w) return;
    w->p = p;
    snprintf(w->id, sizeof w->id, "%s", r->id);
    snprintf(w->consumer, sizeof w->consumer, "%s", r->consumer);
    w->seen = 1;
    if (getrandom(&w->rnd, sizeof w->rnd, 0) != (ssize_t)sizeof w->rnd || !w->rnd)
        w->rnd = (uint64_t)mono_ms() * 0x9E3779B97F4A7C15ULL | 1;
    rc_err err;
    rc_err_clear(&err);
    if (rc__push_cfg_parse(r->doc, &w->cfg, &err) != RC_OK) {
        RC_ERROR("push", "subscription %s: %s; not delivering", w->id, rc_err_msg(&err));
        w->bad = 1;
    } else if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
        RC_ERROR("push", "subscription %s: cannot start a delivery thread", w->id);
        rc__push_cfg_free(&w->cfg);
        free(w);
        return; /* tried again on the next pass */
    } else {
        w->started = 1;
    }
    w->next = p->workers;
    p->workers = w;
}

/* One pass: start threads for new subscriptions, stop those deleted. */
static void reconcile(rc_push *p) {
    rows r = {0};
    rc_err err;
    rc_err_clear(&err);
    if (rc_pushsub_list(p->st, collect, &r, &err) != RC_OK) {
        RC_WARN("push", "reading subscriptions: %s", rc_err_msg(&err));
        goto done;
    }
    for (worker *w = p->workers; w; w = w->next) w->seen = 0;
    for (size_t i = 0; i < r.n; i++) {
        worker *w = p->workers;
        while (w && strcmp(w->id, r.v[i].id)) w = w->next;
        if (!r.v[i].has_consumer) {
            /* Its consumer was deleted on its own (DELETE /cursors/...):
             * without a position there is nothing left to deliver from. */
            RC_WARN("push", "subscription %s: consumer %s is gone; removing the subscription",
                    r.v[i].id, r.v[i].consumer);
            rc_pushsub_delete(p->st, r.v[i].id, NULL);
            continue;
        }
        if (w && w->started && atomic_load(&w->ended)) {
            /* Ended on its own while its row exists: start it again. */
            w->seen = 0;
            continue;
        }
        if (w) {
            w->seen = 1;
            continue;
        }
        start_worker(p, &r.v[i]);
    }
    for (worker **pw = &p->workers; *pw;) {
        worker *w = *pw;
        if (w->seen) {
            pw = &w->next;
            continue;
        }
        *pw = w->next;
        if (!atomic_load(&w->ended)) RC_INFO("push", "subscription %s: stopping delivery", w->id);
        worker_free(w);
    }
done:
    for (size_t i = 0; i < r.n; i++) free(r.v[i].doc);
    free(r.v);
}

static void *supervisor_main(void *arg) {
    rc_push *p = arg;
    while (!atomic_load(&p->stopping)) {
        reconcile(p);
        nap(p, NULL, p->o.poll_ms);
    }
    while (p->workers) {
        worker *w = p->workers;
        p->workers = w->next;
        worker_free(w);
    }
    return NULL;
}

int rc_push_start(rc_push **out, rc_store *st, rc_hub *hub, const rc_push_opts *opts, rc_err *err) {
    *out = NULL;
    if (!st || !hub) return rc_err_set(err, RC_INVALID, "push: no store or hub");
    rc_push *p = calloc(1, sizeof *p);
    if (!p) return rc_err_set(err, RC_NOMEM, "out of memory");
    p->st = st;
    p->hub = hub;
    if (opts)
        p->o = *opts;
    else
        rc_push_opts_default(&p->o);
    if (p->o.poll_ms <= 0) p->o.poll_ms = 250;
    if (p->o.connect_timeout_ms <= 0) p->o.connect_timeout_ms = 5000;
    if (p->o.retry_after_max_ms < 0) p->o.retry_after_max_ms = 0;
    /* Not thread-safe in older libcurl: once, here, before any thread. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(p);
        return rc_err_set(err, RC_INTERNAL, "push: libcurl initialisation failed");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->sup, NULL, supervisor_main, p) != 0) {
        rc_push_stop(p);
        return rc_err_set(err, RC_INTERNAL, "push: cannot start the supervisor thread");
    }
    p->sup_started = 1;
    *out = p;
    return RC_OK;
}

void rc_push_stop(rc_push *p) {
    if (!p) return;
    atomic_store(&p->stopping, 1);
    wake_all(p);
    if (p->sup_started) pthread_join(p->sup, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    curl_global_cleanup();
    free(p);
}
