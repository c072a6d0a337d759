/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd glue: the only file that includes microhttpd.h.
 *
 * It collects a request (headers, query, body capped at http-max-body),
 * calls the dispatcher, and turns the handler's rc_http_res into an MHD
 * response. It decides nothing about the API.
 *
 * Threading, http-event-loop loop (the default): http-threads threads of
 * ours, each running a daemon of its own in external epoll mode, all on one
 * listening socket (the first daemon's, as MHD's own pool shares it). A
 * round is a poll() on the daemon's epoll set and our wake-up eventfd,
 * then MHD_run. Appends (routes flagged RC_ROUTE_ASYNC) submitted during a
 * round go into one store batch (rc_store_batch_begin); closing it after
 * MHD_run runs the group commit on this thread when the writer is idle:
 * commit, fdatasync, commit hook and completions, no thread hand-off, as
 * the RESP loop does. The handler returns without an answer and without
 * suspending: libmicrohttpd keeps such a request in its ready list and
 * calls it again in the next run, by when the completion has recorded the
 * result, and that second call queues the answer (conn_ctx.retry; a second
 * call that finds no result yet suspends until the completion resumes it).
 * That saves what suspend/resume costs in epoll mode, two epoll_ctl calls
 * and a recv that finds nothing per request: bench_mhd_ceiling measured
 * 13.4 us of CPU per request with suspend/resume against 8.5 answering in
 * the next run, the same as answering at once. Everything else that waits
 * (SSE, long-polls, appends that a group of another thread or the writer
 * completes) parks with suspend/resume, and a resume from another thread
 * wakes the loop through its eventfd: in external mode libmicrohttpd has
 * no wake-up channel of its own.
 *
 * One loop runs a request at about 3/4 of the CPU of the thread pool below
 * (tests/bench/run_http.sh: 22-27 us against 27-34 per single-event POST
 * on 2 cores), for the same events/s: the loop thread is then busy, half
 * of it libmicrohttpd and the kernel's TCP, half the store's group commit.
 * More loops take turns at the group commit (the store runs one group at
 * a time) and on 2 cores measured no faster.
 *
 * http-event-loop epoll or poll: MHD's internal thread pool of
 * http-threads, waiting in epoll or poll. A handler that appends defers
 * its answer; the connection is suspended (MHD_suspend_connection)
 * instead of holding a thread, and the store's completion (on the sync
 * thread) resumes it once the group commit is durable.
 *
 * In both, the answer is built on the HTTP thread that sends it
 * (rc_http_res.finish). Suspended connections do not time out in MHD, so
 * stop() first drains them (finishes appends, ends streams) and only then
 * stops MHD.
 *
 * Blocking instead of suspend/resume was measured and rejected, with a
 * trivial handler in tests/bench/bench_mhd_ceiling.c answering after
 * another thread's signal: the thread pool with the handler blocking on
 * the completion cost 18.7 us of CPU per request against 14.8 for
 * suspend/resume (and a blocked pool thread stalls its other connections,
 * so a group commit would hold at most http-threads appends);
 * thread-per-connection cost 31 us (a thread switch per request, one
 * thread per SSE subscriber). bench_mhd_ceiling.c runs the same daemon
 * options as here, in each mode; keep them in step.
 *
 * Per-request cost: each connection has one conn_ctx (MHD's socket
 * context) reused by its keep-alive requests, so collecting a request
 * allocates nothing of ours once the connection has warmed up.
 *
 * Trust boundary: everything from the socket. As soon as the headers are
 * in (MHD's first call), before any body byte is read: the connection cap
 * (http-maxclients: 503), header count and size (http-max-headers,
 * http-max-header-size: 431), access control (401/403) and the body size
 * from Content-Length (http-max-body: 413); the body is capped again while
 * it streams. Time: MHD_OPTION_CONNECTION_TIMEOUT is an idle timeout
 * (http-timeout) that every byte re-arms, so a request trickling in is
 * also held to a whole-request deadline (http-request-timeout): checked on
 * each body chunk, and for the header phase (where MHD calls nothing of
 * ours) by the sweeper on the heartbeat thread, which shuts the socket
 * down. The sweeper also closes connections whose client is gone while a
 * request was half-sent: libmicrohttpd 0.9.75 in epoll mode misses a FIN
 * that arrives with the last bytes of an incomplete request (edge-triggered
 * epoll reports it once, with the data, and MHD then waits for more), so
 * those sat in CLOSE_WAIT until http-timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <microhttpd.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/http_internal.h"
#include "http/mhd_tls.h"
#include "redcar/auth.h"
#include "redcar/log.h"

/* Past the cap we keep reading (and dropping) a little so that a 413 can
 * still be answered; beyond that the client is cut off. */
#define DISCARD_SLACK ((size_t)1 << 20)
#define STREAM_BLOCK (64 * 1024)
/* libmicrohttpd's per-connection memory pool holds the request line and
 * headers (parsed in place in its read buffer, which starts at half the
 * pool), a second copy of any Cookie header (MHD parses cookies, always),
 * one 48-byte record per header, and the answer's headers; bodies do not
 * live here. Measured: the largest cookie that passes is pool/2 - 250
 * bytes. So the pool is sized from http-max-header-size (L) and
 * http-max-headers (N) as max(L + 48 N, 2 L) plus room for the answer:
 * a header block within the settings reaches our check (and one past
 * them gets our 431, problem+json) unless it overflows the pool, where
 * MHD answers its own 431 or closes: far past the settings, or a block
 * near L that is half cookie and half many small fields. MHD zeroes the
 * whole pool for every request, so its size is paid per request (~0.04 us
 * per KB), and it mallocs pools of up to 32 KB, whose freed memory the
 * heap keeps after a burst of connections: 20 KB with the defaults (8 KB,
 * 100 headers), which tests/bench/bench_mhd_ceiling.c uses too. */
#define POOL_HEADER_REC 48
#define POOL_ROOM (4 * 1024)
static size_t pool_size(size_t max_header_size, size_t max_headers) {
    size_t a = max_header_size + max_headers * POOL_HEADER_REC, b = 2 * max_header_size;
    size_t n = (a > b ? a : b) + POOL_ROOM;
    return (n + 4095) & ~(size_t)4095;
}

/* Connections over http-maxclients are still accepted, up to this many more,
 * to be answered 503 instead of waiting unanswered in the listen backlog;
 * past that libmicrohttpd stops accepting. */
#define OVER_LIMIT_SLACK 64
/* The sweeper's period, and the first look at a connection whose request
 * is still incomplete (then at doubling intervals). */
#define SWEEP_MS 100
#define PEEK_FIRST_MS 200
/* Memory trim after connection bursts (see sweep()). */
#define TRIM_MIN_PEAK 64
#define TRIM_EVERY_MS 2000

typedef struct conn_ctx conn_ctx;
typedef struct http_loop http_loop;

/* One daemon and, in loop mode, the thread that runs it (see the file
 * comment). Fields marked (l) are the loop thread's own. */
struct http_loop {
    rc_http *h;
    struct MHD_Daemon *d;
    int own;                  /* our thread runs MHD_run (http-event-loop loop) */
    pthread_t thread;
    int started;
    int wake_fd;              /* eventfd: another thread resumed a connection */
    atomic_int wake_pending;  /* a wake is written and not yet read */
    atomic_int quiesce, quiesced, exit;
    int again;                /* (l) run MHD again without waiting */
    int batch;                /* (l) a store batch is open (rc_store_batch_begin) */
    size_t deferred;          /* (l) answers deferred in this round (on_request) */
    size_t answered;          /* (l) ... in the batch closed last, answered in the next round */
    unsigned gen;             /* (l) batches closed so far */
    long long batch_t0;       /* (l) when the open batch took its first deferred answer (ms) */
};

struct rc_http {
    http_loop *loops;
    size_t nloops;
    MHD_socket listen_fd;     /* loop mode: the daemons' shared socket, after quiesce */
    const rc_tls *tls; /* HTTPS door; NULL for plain HTTP */
    rc_http_env env;
    int port;
    size_t max_body;
    size_t max_header_size, max_headers;
    long maxclients;
    /* http-request-timeout (ms), refreshed by the sweeper: CONFIG SET may
     * change it, and a config lookup per body chunk is not free. */
    atomic_llong request_timeout;
    /* Open connections, for the cap and the sweeper (conns_mu). */
    pthread_mutex_t conns_mu;
    conn_ctx *conns;
    long nconns;
    long peak_conns;          /* most open since the last trim */
    long long last_trim_ms;
    pthread_t hb;
    int hb_started, hb_stop;
    pthread_mutex_t hb_mu;
    pthread_cond_t hb_cv;
};

/* One per connection (MHD's socket context), reused by each request on it,
 * so a keep-alive request allocates nothing of its own here. */
struct conn_ctx {
    rc_http *h;
    http_loop *loop;
    struct MHD_Connection *conn;
    /* Sweeper's view (list under h->conns_mu). recv_since: monotonic ms
     * since when a request is being received (from the connection's start
     * or its previous answer; 0 once the request is complete). */
    conn_ctx *prev, *next;
    int fd;
    int over_limit;
    atomic_llong recv_since;
    long long peek_base, next_peek, peek_step; /* sweeper-owned */
    int route;
    int wants_body;
    int too_large;
    int dispatched;
    int retry;      /* loop mode: answer deferred without suspending (see on_request) */
    unsigned gen;   /* loop mode: the loop's batch generation when deferred */
    int status;
    struct timespec t0;
    size_t seen;
    rc_buf body;
    rc_http_header *hdrs;
    size_t nh, caph;
    rc_http_param *qp;
    size_t nq, capq;
    rc_buf qstore;
    rc_http_req req;
    rc_http_res res;
};

static long long mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The loop this thread runs (loop mode), else NULL. */
static _Thread_local http_loop *tl_loop;

/* Make a loop run MHD again soon: a resumed connection is only picked up
 * by the next MHD_run, and an external loop may be asleep in poll(). */
static void loop_wake(http_loop *l) {
    if (!l->own) return; /* MHD's own threads: its ITC wakes them */
    if (tl_loop == l) {
        l->again = 1;
        return;
    }
    if (!atomic_exchange(&l->wake_pending, 1)) {
        uint64_t one = 1;
        if (write(l->wake_fd, &one, sizeof one) < 0) { /* full counter: a wake is pending anyway */
        }
    }
}

/* A store batch collects the round's appends (rc_store_batch_begin/end):
 * closing it runs their group commit on this thread, completions
 * included, without waking the writer and the sync thread. Only routes
 * flagged RC_ROUTE_ASYNC run inside one: a blocking write queued in an
 * open batch would wait for a writer nobody wakes. */
static void batch_open(http_loop *l) {
    if (l->batch) return;
    l->batch = 1;
    rc_store_batch_begin(l->h->env.st);
}

/* Closing the batch runs the group commit on this thread when the writer
 * and other closers (another loop, the RESP door) are idle; when another
 * closer's group took this loop's requests, they are answered already. */
static void batch_close(http_loop *l) {
    if (!l || !l->batch) return;
    l->batch = 0;
    l->gen++;
    rc_store_batch_end(l->h->env.st);
}

static void do_suspend(void *arg) {
    conn_ctx *c = arg;
    MHD_suspend_connection(c->conn);
}

static void do_resume(void *arg) {
    conn_ctx *c = arg;
    MHD_resume_connection(c->conn);
    loop_wake(c->loop);
}

/* A request body buffer beyond this is not kept for the next request. */
#define BODY_KEEP (64 * 1024)

static conn_ctx *conn_new(http_loop *l, struct MHD_Connection *conn) {
    conn_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->h = l->h;
    c->loop = l;
    c->conn = conn;
    c->route = -1;
    rc_buf_init(&c->body);
    rc_buf_init(&c->qstore);
    rc__http_req_init(&c->req, &l->h->env);
    rc__http_res_init(&c->res);
    c->res.park.suspend = do_suspend;
    c->res.park.resume = do_resume;
    c->res.park.arg = c;
    c->fd = -1;
    atomic_init(&c->recv_since, mono_ms());
    return c;
}

/* Back to the state conn_new() left, keeping small buffers. */
static void conn_reset(conn_ctx *c) {
    c->route = -1;
    c->wants_body = c->too_large = c->dispatched = c->retry = c->status = 0;
    c->seen = 0;
    if (c->body.cap > BODY_KEEP) {
        rc_buf_free(&c->body);
        rc_buf_init(&c->body);
    } else {
        rc_buf_reset(&c->body);
    }
    c->nh = 0;
    free(c->qp);
    c->qp = NULL;
    c->nq = c->capq = 0;
    rc_buf_reset(&c->qstore);
    rc__http_req_reset(&c->req);
    rc__http_res_reset(&c->res);
}

static void conn_free(conn_ctx *c) {
    rc__http_res_free(&c->res);
    rc__http_req_free(&c->req);
    rc_buf_free(&c->body);
    rc_buf_free(&c->qstore);
    free(c->hdrs);
    free(c->qp);
    free(c);
}

static void conn_release(void *arg) { conn_free(arg); }

static double since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}


/* ---- responses ------------------------------------------------------------------- */

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    rc_http_stream *s = cls;
    (void)pos;
    batch_close(tl_loop); /* a producer may write to the store, and block */
    for (;;) {
        long n = s->read(s, buf, max);
        if (n > 0) return (ssize_t)n;
        if (n == RC_HTTP_STREAM_END) return MHD_CONTENT_READER_END_OF_STREAM;
        if (n != RC_HTTP_STREAM_WAIT) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (rc__http_park_begin(&s->park)) return 0; /* suspended until woken */
    }
}

static void stream_free(void *cls) {
    rc_http_stream *s = cls;
    s->free(s);
}

static enum MHD_Result queue(conn_ctx *c) {
    rc_http_res *res = &c->res;
    struct MHD_Response *r;
    rc__http_res_finish(res); /* a deferred answer's last step, on this thread */
    if (res->stream) {
        rc_http_stream *s = res->stream;
        res->stream = NULL;
        s->park.suspend = do_suspend;
        s->park.resume = do_resume;
        s->park.arg = c;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_reader, s,
                                              stream_free);
        if (!r) stream_free(s);
    } else {
        size_t len;
        char *p = rc_buf_detach(&res->body, &len);
        r = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
        if (!r) free(p);
    }
    if (!r) return MHD_NO;
    for (size_t off = 0; off < res->headers.len;) {
        const char *name = res->headers.p + off;
        const char *val = name + strlen(name) + 1;
        MHD_add_response_header(r, name, val);
        off = (size_t)(val + strlen(val) + 1 - res->headers.p);
    }
    c->status = res->status ? res->status : 500;
    enum MHD_Result ok = MHD_queue_response(c->conn, (unsigned)c->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_problem(conn_ctx *c, int code, const char *detail) {
    rc__http_res_problem(&c->res, code, detail);
    return queue(c);
}

/* ---- collecting the request ---------------------------------------------------------- */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size) {
    conn_ctx *c = cls;
    (void)kind;
    if (c->nh == c->caph) {
        size_t cap = c->caph ? c->caph * 2 : 16;
        rc_http_header *p = realloc(c->hdrs, cap * sizeof *p);
        if (!p) return MHD_NO;
        c->hdrs = p;
        c->caph = cap;
    }
    c->hdrs[c->nh++] = (rc_http_header){key, key_size, value ? value : "", value ? value_size : 0};
    return MHD_YES;
}

typedef struct qcollect {
    conn_ctx *c;
    size_t offs[256][2];
    size_t n;
    int bad;
} qcollect;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               size_t key_size, const char *value, size_t value_size) {
    qcollect *q = cls;
    (void)kind;
    if (q->n == sizeof q->offs / sizeof q->offs[0]) {
        q->bad = 2;
        return MHD_NO;
    }
    rc_buf *s = &q->c->qstore;
    q->offs[q->n][0] = s->len;
    if (rc__http_pct_decode(key, key_size, 1, s)) q->bad = 1;
    rc_buf_putc(s, '\0');
    q->offs[q->n][1] = s->len;
    if (value && rc__http_pct_decode(value, value_size, 1, s)) q->bad = 1;
    rc_buf_putc(s, '\0');
    q->n++;
    return q->bad ? MHD_NO : MHD_YES;
}

static int collect(conn_ctx *c, const char *method, const char *url) {
    qcollect qc; /* on the stack: no allocation and no zeroing per request */
    qcollect *q = &qc;
    q->c = c;
    q->n = 0;
    q->bad = 0;
    MHD_get_connection_values_n(c->conn, MHD_GET_ARGUMENT_KIND, add_arg, q);
    int bad = q->bad;
    if (!bad && q->n) {
        c->qp = calloc(q->n, sizeof *c->qp);
        if (!c->qp) bad = 3;
        for (size_t i = 0; !bad && i < q->n; i++) {
            c->qp[i].name = c->qstore.p + q->offs[i][0];
            c->qp[i].value = c->qstore.p + q->offs[i][1];
        }
        c->nq = q->n;
    }
    if (bad) return bad == 3 ? RC_NOMEM : RC_INVALID;
    rc_http_req *req = &c->req;
    req->method = method;
    req->path = url;
    req->headers = c->hdrs;
    req->n_headers = c->nh;
    req->query = c->qp;
    req->n_query = c->nq;
    req->body = c->body.p ? c->body.p : "";
    req->body_len = c->body.len;
    return RC_OK;
}

/* ---- the access handler ---------------------------------------------------------------- */

static int deadline_passed(rc_http *h, conn_ctx *c) {
    long long since = atomic_load_explicit(&c->recv_since, memory_order_relaxed);
    return since && mono_ms() - since > atomic_load_explicit(&h->request_timeout, memory_order_relaxed);
}

/* MHD's first call for a request: the request line and headers are in, no
 * body byte has been read. Everything that can refuse the request without
 * its body does so here (the body is then never read: MHD closes after
 * the answer). */
static enum MHD_Result first_call(rc_http *h, conn_ctx *c, const char *url, const char *method) {
    if (c->over_limit) {
        char d[128];
        snprintf(d, sizeof d, "%ld HTTP connections are open (http-maxclients); retry later",
                 h->maxclients);
        rc__http_res_problem_http(&c->res, 503, "too-many-connections", "Service Unavailable", d);
        rc__http_res_header(&c->res, "Retry-After", "1");
        rc__http_res_header(&c->res, "Connection", "close");
        return queue(c);
    }
    /* The headers stay in MHD's pool for the request's life: keep pointers. */
    MHD_get_connection_values_n(c->conn, MHD_HEADER_KIND, add_header, c);
    c->req.headers = c->hdrs;
    c->req.n_headers = c->nh;
    size_t hsize = strlen(method) + strlen(url) + 11; /* "M U HTTP/1.1\r\n" */
    for (size_t i = 0; i < c->nh; i++) hsize += c->hdrs[i].name_len + c->hdrs[i].value_len + 4;
    if (c->nh > h->max_headers || hsize > h->max_header_size) {
        char d[160];
        if (c->nh > h->max_headers)
            snprintf(d, sizeof d, "%zu header fields, more than http-max-headers (%zu)", c->nh,
                     h->max_headers);
        else
            snprintf(d, sizeof d, "request line and headers of %zu bytes exceed "
                     "http-max-header-size (%zu)", hsize, h->max_header_size);
        rc__http_res_problem_http(&c->res, 431, "header-too-large",
                                  "Request Header Fields Too Large", d);
        rc__http_res_header(&c->res, "Connection", "close");
        return queue(c);
    }
    c->req.authorized = 1;
    c->route = rc__http_route_find(method, url, NULL, 0);
    c->req.route = c->route + 1;
    if (rc_auth_required(h->env.cfg) &&
        rc__http_authorize(&h->env, method, url, rc__http_req_header(&c->req, "Authorization"),
                           &c->res) != RC_OK)
        return queue(c); /* before the body: an unauthenticated upload is never read */
    c->wants_body = c->route >= 0 && (rc__http_routes[c->route].flags & RC_ROUTE_BODY);
    const char *cl = rc__http_req_header(&c->req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t len = 0;
    if (cl && rc__http_parse_u64(cl, &len) == RC_OK) {
        if (len > h->max_body) {
            char d[96];
            snprintf(d, sizeof d, "body of %llu bytes exceeds http-max-body (%zu)",
                     (unsigned long long)len, h->max_body);
            return answer_problem(c, RC_TOO_LARGE, d); /* MHD closes after it */
        }
        if (c->wants_body) rc_buf_reserve(&c->body, (size_t)len);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    http_loop *l = cls;
    rc_http *h = l->h;
    conn_ctx *c = *con_cls;
    (void)version;
    if (!c) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (!ci || !(c = ci->socket_context)) return MHD_NO; /* out of memory at accept */
        clock_gettime(CLOCK_MONOTONIC, &c->t0);
        *con_cls = c;
        return first_call(h, c, url, method);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (deadline_passed(h, c)) return MHD_NO; /* a body trickling in: cut */
        c->seen += n;
        if (!c->too_large && c->seen > h->max_body) {
            c->too_large = 1;
            rc_buf_free(&c->body);
        }
        if (c->too_large) return c->seen > h->max_body + DISCARD_SLACK ? MHD_NO : MHD_YES;
        if (c->wants_body) rc_buf_append(&c->body, upload, n);
        return MHD_YES;
    }
    if (c->dispatched) {
        /* Loop mode's second call (see below): the answer is usually in,
         * the round's group having run when the round closed its batch;
         * if not, suspend now until the completion resumes us. */
        if (c->retry) {
            /* Its batch is still open (held while more requests came in,
             * see loop_main): stay in libmicrohttpd's ready list. */
            if (l->batch && c->gen == l->gen) return MHD_YES;
            c->retry = 0;
            if (rc__http_park_begin(&c->res.park)) return MHD_YES;
        }
        return queue(c); /* answered, or resumed after a deferred answer */
    }
    c->dispatched = 1;
    atomic_store_explicit(&c->recv_since, 0, memory_order_relaxed); /* received whole */
    if (c->too_large) {
        char d[96];
        snprintf(d, sizeof d, "body exceeds http-max-body (%zu bytes)", h->max_body);
        return answer_problem(c, RC_TOO_LARGE, d);
    }
    int rc = collect(c, method, url);
    if (rc != RC_OK)
        return answer_problem(c, rc, rc == RC_INVALID ? "query: invalid percent-encoding or too many parameters" : NULL);
    if (l->own) {
        if (c->route >= 0 && (rc__http_routes[c->route].flags & RC_ROUTE_ASYNC)) batch_open(l);
        else batch_close(l);
    }
    c->route = rc__http_dispatch(&c->req, &c->res);
    if (c->res.deferred && l->own) {
        /* No suspend: returning without an answer leaves the connection in
         * libmicrohttpd's ready list, so the next MHD_run, right after this
         * round's batch has run the group, calls us again (c->retry).
         * Suspending and resuming costs two epoll_ctl calls and a wasted
         * recv per request (tests/bench/bench_mhd_ceiling.c). */
        c->retry = 1;
        c->gen = l->gen;
        l->again = 1;
        if (!l->deferred++) l->batch_t0 = mono_ms();
        return MHD_YES;
    }
    if (c->res.deferred && rc__http_park_begin(&c->res.park)) return MHD_YES;
    return queue(c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    rc_http *h = ((http_loop *)cls)->h;
    conn_ctx *c = *con_cls;
    (void)conn;
    if (!c) return;
    int status = c->status ? c->status : (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499);
    rc__http_metrics_observe(h->env.metrics, c->route, status, since(&c->t0));
    /* Gone between a loop-mode deferral and its second call: the answer
     * may still be owed by the store, which holds the response. Keep it
     * all for on_connection's CLOSED (the connection does not outlive a
     * request that ends unanswered). */
    if (c->retry) {
        *con_cls = NULL;
        return;
    }
    conn_reset(c);
    atomic_store_explicit(&c->recv_since, mono_ms(), memory_order_relaxed);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    http_loop *l = cls;
    rc_http *h = l->h;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (h->tls) rc__http_tls_connection(h->tls, conn);
        conn_ctx *c = conn_new(l, conn);
        *socket_context = c;
        if (!c) return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        /* libmicrohttpd keeps the address for the connection's life */
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->req.peer = ci ? ci->client_addr : NULL;
        pthread_mutex_lock(&h->conns_mu);
        c->next = h->conns;
        if (h->conns) h->conns->prev = c;
        h->conns = c;
        c->over_limit = ++h->nconns > h->maxclients;
        if (h->nconns > h->peak_conns) h->peak_conns = h->nconns;
        pthread_mutex_unlock(&h->conns_mu);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        /* MHD has reported the last request complete (on_completed) by now,
         * and closes the socket only after this returns: the sweeper, which
         * holds conns_mu while it touches a socket, never sees a reused fd. */
        conn_ctx *c = *socket_context;
        pthread_mutex_lock(&h->conns_mu);
        if (c->prev) c->prev->next = c->next;
        else h->conns = c->next;
        if (c->next) c->next->prev = c->prev;
        h->nconns--;
        pthread_mutex_unlock(&h->conns_mu);
        /* a completion still owed (see on_completed) frees it when it comes */
        if (!c->retry || !rc__http_park_abandon(&c->res.park, conn_release)) conn_free(c);
        *socket_context = NULL;
    }
}

/* The sweeper (heartbeat thread): connections whose request is still being
 * received are cut once past http-request-timeout, or as soon as the client
 * has gone (a peek reads end of stream: the request can never complete).
 * shutdown() wakes MHD's thread on that socket, which then reads the end
 * and closes it the ordinary way. Peeks come at doubling intervals, so an
 * idle keep-alive connection costs O(log age) system calls. */
static void sweep(rc_http *h) {
    long long now = mono_ms();
    long long deadline = rc_config_int(h->env.cfg, "http-request-timeout");
    atomic_store_explicit(&h->request_timeout, deadline, memory_order_relaxed);
    pthread_mutex_lock(&h->conns_mu);
    for (conn_ctx *c = h->conns; c; c = c->next) {
        long long since = atomic_load_explicit(&c->recv_since, memory_order_relaxed);
        if (!since || c->fd < 0) continue;
        if (since != c->peek_base) { /* a new request: a new schedule */
            c->peek_base = since;
            c->peek_step = PEEK_FIRST_MS;
            c->next_peek = since + PEEK_FIRST_MS;
        }
        int cut = now - since > deadline;
        if (!cut && now >= c->next_peek) {
            char b;
            cut = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
            c->peek_step *= 2;
            c->next_peek = now + c->peek_step;
        }
        if (cut) {
            shutdown(c->fd, SHUT_RDWR);
            c->fd = -1; /* once */
        }
    }
    /* After a burst of connections, hand their memory back: libmicrohttpd
     * mallocs each connection's pool (20 KB by default), and the heap keeps
     * what was freed (a soak test of 1,500 connections left ~20 MB). */
    int trim = h->peak_conns >= TRIM_MIN_PEAK && h->nconns < h->peak_conns / 2 &&
               now - h->last_trim_ms >= TRIM_EVERY_MS;
    if (trim) {
        h->peak_conns = h->nconns;
        h->last_trim_ms = now;
    }
    pthread_mutex_unlock(&h->conns_mu);
#ifdef __GLIBC__
    if (trim) malloc_trim(0);
#endif
}

/* Keep the raw path and query: the dispatcher decodes path parameters
 * after matching (so %2F stays inside one segment) and the query itself. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char line[256];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = '\0';
    RC_DEBUG("http", "libmicrohttpd: %s", line);
}

/* ---- heartbeats --------------------------------------------------------------------------- */

static void *heartbeat_main(void *arg) {
    rc_http *h = arg;
    pthread_setname_np(pthread_self(), "rc-http-beat");
    pthread_mutex_lock(&h->hb_mu);
    while (!h->hb_stop) {
        int64_t every = rc_config_int(h->env.cfg, "sse-heartbeat");
        int64_t step = every / 4;
        if (step < 10) step = 10;
        if (step > SWEEP_MS) step = SWEEP_MS;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(step % 1000) * 1000000L;
        ts.tv_sec += (time_t)(step / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&h->hb_cv, &h->hb_mu, &ts);
        if (h->hb_stop) break;
        pthread_mutex_unlock(&h->hb_mu);
        rc__http_sse_tick(&h->env, rc__http_now_ms());
        rc__http_env_refresh(&h->env);
        sweep(h);
        pthread_mutex_lock(&h->hb_mu);
    }
    pthread_mutex_unlock(&h->hb_mu);
    return NULL;
}

/* ---- loop mode --------------------------------------------------------------------------- */

/* One loop thread: wait on the daemon's epoll set (and our wake), then one
 * MHD_run (a round), then close the round's store batch, which commits,
 * syncs and completes its appends right here; their connections, left in
 * libmicrohttpd's ready list unanswered (on_request), answer in the next
 * round.
 *
 * While more requests are already waiting on the sockets, the batch is
 * held open across rounds (up to HOLD_MAX answers or HOLD_MS), so that one
 * commit and one fdatasync serve all of them: with 256 wrk connections
 * (tests/bench/run_http.sh) a commit took ~200 single-event POSTs instead
 * of ~125, the loop's CPU per POST fell from 23-30 us to 19-24 and
 * events/s rose 10-25%, p99 latency lower too. A held request costs a
 * call per round (libmicrohttpd calls it again, on_request), nothing
 * else; when no request is waiting the batch closes at once, so a lone
 * request is never held. */
#define HOLD_MAX 1024
#define HOLD_MS 10

static int more_input(struct pollfd *epfd) {
    epfd->revents = 0;
    return poll(epfd, 1, 0) > 0;
}

static void *loop_main(void *arg) {
    http_loop *l = arg;
    char name[16];
    snprintf(name, sizeof name, "rc-http-%zu", (size_t)(l - l->h->loops));
    pthread_setname_np(pthread_self(), name);
    tl_loop = l;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
    struct pollfd pf[2] = {{di ? di->epoll_fd : -1, POLLIN, 0}, {l->wake_fd, POLLIN, 0}};
    while (!atomic_load(&l->exit)) {
        int ms = -1;
        MHD_UNSIGNED_LONG_LONG to;
        if (l->again) ms = 0;
        else if (MHD_get_timeout(l->d, &to) == MHD_YES) ms = to > INT_MAX ? INT_MAX : (int)to;
        l->again = 0;
        if (poll(pf, 2, ms) > 0 && pf[1].revents) {
            uint64_t v;
            if (read(l->wake_fd, &v, sizeof v) < 0) { /* EAGAIN: drained already */
            }
            /* After the read, which drains every wake so far: a waker that
             * still saw the flag set is served by the MHD_run below, and
             * the next one writes again. */
            atomic_store(&l->wake_pending, 0);
        }
        /* Quiesce here, not from the stopping thread: in this mode nothing
         * in libmicrohttpd guards the daemon against two threads. */
        if (atomic_load(&l->quiesce) && !atomic_load(&l->quiesced)) {
            MHD_socket fd = MHD_quiesce_daemon(l->d);
            if (l == l->h->loops) l->h->listen_fd = fd;
            atomic_store(&l->quiesced, 1);
        }
        MHD_run(l->d);
        /* The previous round deferred answers, and its group ran when it
         * closed its batch: the run above called those requests again and
         * queued their answers, which libmicrohttpd writes only in the
         * following run. Do it now, not one group commit later. */
        if (l->answered) MHD_run(l->d);
        l->answered = 0;
        if (l->batch && l->deferred && l->deferred < HOLD_MAX &&
            !atomic_load(&l->quiesce) && more_input(&pf[0]) &&
            mono_ms() - l->batch_t0 < HOLD_MS) {
            l->again = 1;
            continue;
        }
        l->answered = l->deferred;
        l->deferred = 0;
        batch_close(l);
    }
    batch_close(l);
    return NULL;
}

static void loop_signal(http_loop *l, atomic_int *flag) {
    atomic_store(flag, 1);
    loop_wake(l);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* Everything a daemon is started with; loop mode starts one per loop. */
typedef struct daemon_opts {
    unsigned flags;
    uint16_t port;
    const struct sockaddr *sa;  /* bind here, or */
    MHD_socket shared;          /* share this listening socket (MHD_INVALID_SOCKET: bind) */
    unsigned pool_threads;      /* MHD's own thread pool (0: none) */
    unsigned limit, timeout_s;
    size_t pool;
    const struct MHD_OptionItem *tls;
} daemon_opts;

static struct MHD_Daemon *daemon_start(http_loop *l, const daemon_opts *o) {
    struct MHD_OptionItem v[3];
    size_t n = 0;
    if (o->shared != MHD_INVALID_SOCKET)
        v[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, (intptr_t)o->shared, NULL};
    else
        v[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)o->sa};
    if (o->pool_threads)
        v[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)o->pool_threads, NULL};
    v[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return MHD_start_daemon(
        o->flags, o->port, NULL, NULL, on_request, l,
        MHD_OPTION_ARRAY, v,
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, o->limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->pool,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_ARRAY, o->tls,
        MHD_OPTION_END);
}

/* Stop what rc_http_start started, threads first (they run the daemons). */
static void loops_free(rc_http *h) {
    for (size_t i = 0; i < h->nloops; i++) {
        http_loop *l = &h->loops[i];
        if (l->started) {
            loop_signal(l, &l->exit);
            pthread_join(l->thread, NULL);
        }
    }
    for (size_t i = 0; i < h->nloops; i++) {
        http_loop *l = &h->loops[i];
        if (l->d) MHD_stop_daemon(l->d);
        if (l->wake_fd >= 0) close(l->wake_fd);
    }
    free(h->loops);
    h->loops = NULL;
    h->nloops = 0;
}

int rc_http_start(rc_http **out, const rc_http_opts *o, rc_store *st, rc_hub *hub, rc_err *err) {
    *out = NULL;
    rc_http *h = calloc(1, sizeof *h);
    if (!h) return rc_err_set(err, RC_NOMEM, "out of memory");
    pthread_mutex_init(&h->hb_mu, NULL);
    pthread_cond_init(&h->hb_cv, NULL);
    pthread_mutex_init(&h->conns_mu, NULL);
    h->listen_fd = MHD_INVALID_SOCKET;
    if (rc__http_env_init(&h->env, st, hub, o->cfg) != RC_OK) {
        free(h);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    h->max_body = (size_t)rc_config_int(o->cfg, "http-max-body");
    int64_t timeout_ms = rc_config_int(o->cfg, "http-timeout");
    int64_t threads = rc_config_int(o->cfg, "http-threads");
    h->maxclients = (long)rc_config_int(o->cfg, "http-maxclients");
    atomic_init(&h->request_timeout, rc_config_int(o->cfg, "http-request-timeout"));
    h->max_header_size = (size_t)rc_config_int(o->cfg, "http-max-header-size");
    h->max_headers = (size_t)rc_config_int(o->cfg, "http-max-headers");
    if (threads < 1) threads = 1;

    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    daemon_opts d = {.shared = MHD_INVALID_SOCKET};
    /* loop: our threads run the daemons (see the file comment). epoll,
     * poll: MHD's thread pool. With MHD's epoll, suspend/resume take the
     * socket out of the epoll set and put it back (two epoll_ctl calls per
     * deferred answer, and a recv that finds nothing after the resume:
     * measured 2.3 more system calls per append than poll with 256 busy
     * connections); poll: none of that, but each wait costs
     * O(connections of the thread). */
    char loop[16];
    rc_config_str(o->cfg, "http-event-loop", loop, sizeof loop);
    int own = !strcmp(loop, "loop");
    d.flags = (own ? MHD_USE_EPOLL
                   : !strcmp(loop, "poll") ? MHD_USE_POLL_INTERNAL_THREAD
                                           : MHD_USE_EPOLL_INTERNAL_THREAD) |
              MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)o->port);
        d.sa = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)o->port);
        d.sa = (struct sockaddr *)&a6;
        d.flags |= MHD_USE_IPv6;
    } else {
        rc__http_env_destroy(&h->env);
        free(h);
        return rc_err_set(err, RC_INVALID, "http: '%s' is not an IP address", host);
    }
    d.port = (uint16_t)o->port;
    d.timeout_s = (unsigned)((timeout_ms + 999) / 1000);
    if (d.timeout_s == 0) d.timeout_s = 1;
    d.pool = pool_size(h->max_header_size, h->max_headers);
    struct MHD_OptionItem tls_opts[RC__HTTP_TLS_NOPTS];
    h->tls = o->tls;
    rc__http_tls_options(o->tls, &d.flags, tls_opts);
    d.tls = tls_opts;
    /* One daemon per loop, sharing the first one's listening socket (as
     * MHD's own thread pool does); the connection limit is split between
     * them as that pool splits it. */
    h->nloops = own ? (size_t)threads : 1;
    unsigned limit = (unsigned)(h->maxclients + OVER_LIMIT_SLACK);
    d.limit = own ? (unsigned)((limit + h->nloops - 1) / h->nloops) : limit;
    d.pool_threads = own || threads < 2 ? 0 : (unsigned)threads; /* MHD warns about a pool of 1 */
    h->loops = calloc(h->nloops, sizeof *h->loops);
    int e = 0;
    const char *why = NULL;
    for (size_t i = 0; h->loops && i < h->nloops && !why; i++) {
        http_loop *l = &h->loops[i];
        l->h = h;
        l->own = own;
        l->wake_fd = -1;
        if (own && (l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
            e = errno;
            why = "eventfd";
            break;
        }
        if (i > 0) {
            const union MHD_DaemonInfo *li = MHD_get_daemon_info(h->loops[0].d, MHD_DAEMON_INFO_LISTEN_FD);
            d.shared = li ? li->listen_fd : MHD_INVALID_SOCKET;
        }
        errno = 0;
        if (!(l->d = daemon_start(l, &d))) {
            e = errno;
            why = "libmicrohttpd refused to start";
        }
    }
    if (!h->loops) why = "out of memory";
    if (!why) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->loops[0].d, MHD_DAEMON_INFO_BIND_PORT);
        h->port = info ? info->port : o->port;
    }
    for (size_t i = 0; own && !why && i < h->nloops; i++) {
        http_loop *l = &h->loops[i];
        if ((e = pthread_create(&l->thread, NULL, loop_main, l)) != 0) why = "cannot start a thread";
        else l->started = 1;
    }
    if (why) {
        if (h->loops) loops_free(h);
        rc__http_env_destroy(&h->env);
        free(h);
        return rc_err_set(err, RC_IO, "cannot listen on %s:%d: %s", host, o->port,
                          e ? strerror(e) : why);
    }
    if (pthread_create(&h->hb, NULL, heartbeat_main, h) == 0) h->hb_started = 1;
    *out = h;
    return RC_OK;
}

int rc_http_port(const rc_http *h) { return h ? h->port : 0; }

static void wait_until(rc_http *h, int (*done)(rc_http *), int max_ms) {
    for (int waited = 0; !done(h) && waited < max_ms; waited += 5) {
        rc__http_sse_tick(&h->env, rc__http_now_ms());
        usleep(5000);
    }
}

static int no_inflight(rc_http *h) { return atomic_load(&h->env.inflight) == 0; }
static int no_streams(rc_http *h) { return rc__http_sse_count(&h->env) == 0; }

static int all_quiesced(rc_http *h) {
    for (size_t i = 0; i < h->nloops; i++)
        if (!atomic_load(&h->loops[i].quiesced)) return 0;
    return 1;
}

void rc_http_stop(rc_http *h) {
    if (!h) return;
    /* Stop accepting: each loop quiesces its own daemon (loop_main). */
    if (h->loops[0].own) {
        for (size_t i = 0; i < h->nloops; i++) loop_signal(&h->loops[i], &h->loops[i].quiesce);
        wait_until(h, all_quiesced, 5000);
    } else {
        h->listen_fd = MHD_quiesce_daemon(h->loops[0].d);
        atomic_store(&h->loops[0].quiesced, 1);
    }
    atomic_store(&h->env.stopping, 1);
    /* Appends already handed to the store finish and answer; their
     * connections must be resumed before MHD may stop. */
    wait_until(h, no_inflight, 60000);
    /* SSE streams see `stopping`, end their response and are freed. */
    wait_until(h, no_streams, 5000);
    if (h->hb_started) {
        pthread_mutex_lock(&h->hb_mu);
        h->hb_stop = 1;
        pthread_cond_signal(&h->hb_cv);
        pthread_mutex_unlock(&h->hb_mu);
        pthread_join(h->hb, NULL);
    }
    if (!no_inflight(h) || !no_streams(h) || !all_quiesced(h)) {
        /* Stopping MHD with suspended connections is undefined behaviour:
         * leak the daemon rather than crash the shutdown. */
        RC_WARN("http", "connections still suspended at stop; not stopping libmicrohttpd");
        return;
    }
    loops_free(h);
    if (h->listen_fd != MHD_INVALID_SOCKET) close(h->listen_fd);
    rc__http_env_destroy(&h->env);
    pthread_cond_destroy(&h->hb_cv);
    pthread_mutex_destroy(&h->hb_mu);
    pthread_mutex_destroy(&h->conns_mu);
    free(h);
}
