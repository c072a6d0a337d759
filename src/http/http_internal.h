/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the HTTP door, shared by its files and its unit tests.
 *
 * Shape: the libmicrohttpd glue (mhd.c, the only file that includes
 * microhttpd.h) collects a request into an rc_http_req (headers, decoded
 * query, capped body) and calls rc__http_dispatch(), which picks a row of
 * the route table and calls its handler. A handler fills an rc_http_res:
 *  - a plain answer: status, headers, body;
 *  - a deferred answer (appends): rc__http_res_defer(), then, from any
 *    thread, fill the answer and rc__http_res_complete(); the glue suspends
 *    the connection meanwhile instead of blocking a thread;
 *  - a streamed body (log pages, SSE): an rc_http_stream whose read()
 *    produces bytes on demand and may say "nothing now" (WAIT), after which
 *    the producer wakes it with rc__http_park_wake().
 * Handlers never see a socket, so the unit tests call them directly.
 */
#ifndef REDCAR_HTTP_INTERNAL_H
#define REDCAR_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/config.h"
#include "redcar/event.h"
#include "redcar/hub.h"
#include "redcar/status.h"
#include "redcar/store.h"

/* ---- pieces of a request ------------------------------------------------- */

/* A header as received: not NUL-terminated in general; names compare
 * case-insensitively. */
typedef struct rc_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} rc_http_header;

/* A decoded query parameter (value "" when given without '='). */
typedef struct rc_http_param {
    const char *name;
    const char *value;
} rc_http_param;

/* ---- parking: suspend a connection until another thread wakes it -------- */

/* The glue sets suspend/resume (MHD_suspend/resume_connection); tests set
 * their own. park_begin() suspends unless a wake already came, so a wake
 * racing with the decision to sleep is never lost. */
typedef struct rc_http_park {
    pthread_mutex_t mu;
    int parked;
    int pending;
    void (*suspend)(void *arg);
    void (*resume)(void *arg);
    void (*release)(void *arg); /* set by rc__http_park_abandon() */
    void *arg;
} rc_http_park;

void rc__http_park_init(rc_http_park *p);
/* Waits for a waker still inside rc__http_park_wake(). */
void rc__http_park_destroy(rc_http_park *p);
/* 1: suspended (suspend() was called); 0: a wake was pending, go on. */
int rc__http_park_begin(rc_http_park *p);
void rc__http_park_wake(rc_http_park *p);
/* The connection went away unparked while a wake is still owed (a
 * deferred answer whose producer will call rc__http_park_wake): 1 when
 * that wake will call release(arg) instead of resuming (the caller must
 * leave arg alone), 0 when the wake came already (arg is the caller's to
 * free). */
int rc__http_park_abandon(rc_http_park *p, void (*release)(void *arg));

/* ---- streamed bodies ----------------------------------------------------- */

#define RC_HTTP_STREAM_WAIT 0L   /* nothing now: park until woken */
#define RC_HTTP_STREAM_END (-1L)
#define RC_HTTP_STREAM_ERROR (-2L)

typedef struct rc_http_stream rc_http_stream;
struct rc_http_stream {
    /* > 0 bytes written to buf, or one of the RC_HTTP_STREAM_* values. */
    long (*read)(rc_http_stream *s, char *buf, size_t max);
    void (*free)(rc_http_stream *s);
    rc_http_park park;  /* initialised by the producer, configured by the consumer */
};

/* ---- shared state of one door ------------------------------------------- */

typedef struct rc_http_metrics rc_http_metrics;
typedef struct rc_sse rc_sse;

typedef struct rc_http_env {
    rc_store *st;
    rc_hub *hub;
    rc_config *cfg;
    rc_http_metrics *metrics;
    atomic_int stopping;
    /* Live SSE streams, for heartbeats and shutdown. */
    pthread_mutex_t sse_mu;
    rc_sse *sse_head;
    size_t sse_count;
    /* Deferred answers not yet finished (stop waits for them). */
    atomic_long inflight;
    /* Settings read on every append, cached: a config lookup takes the
     * config's lock, which every HTTP thread would contend for. Reloaded
     * by rc__http_env_refresh() (the glue's heartbeat, every 100 ms), so a
     * CONFIG SET applies within that. */
    atomic_llong max_event, max_batch;
} rc_http_env;

int rc__http_env_init(rc_http_env *env, rc_store *st, rc_hub *hub, rc_config *cfg);
void rc__http_env_destroy(rc_http_env *env);
/* Reload the cached settings from env->cfg. */
void rc__http_env_refresh(rc_http_env *env);

/* ---- request and response ------------------------------------------------ */

#define RC_HTTP_MAX_PARAMS 4

typedef struct rc_http_req {
    rc_http_env *env;
    const char *method;             /* "GET", ... (HEAD is served as GET) */
    const char *path;               /* raw (still percent-encoded) path */
    const char *params[RC_HTTP_MAX_PARAMS]; /* decoded {name} path segments */
    size_t n_params;
    const rc_http_param *query;     /* decoded */
    size_t n_query;
    const rc_http_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    const struct sockaddr *peer;    /* the client's address, for the slow log (NULL: unknown) */
    int authorized;                 /* the glue ran rc__http_authorize() already */
    int route;                      /* the glue's route lookup + 1 (0: not looked up) */
    rc_buf param_store;             /* owns params[] */
} rc_http_req;

typedef struct rc_http_res rc_http_res;
struct rc_http_res {
    int status;
    rc_buf headers;                 /* "Name\0value\0" pairs */
    rc_buf body;
    rc_http_stream *stream;         /* when set, the body comes from it; the consumer frees it */
    int deferred;
    rc_http_park park;              /* for deferred answers */
    /* A deferred answer may leave its building to the consumer: the thread
     * that completes it (the store's writer, whose every microsecond delays
     * the next group commit) then only records a result and wakes the
     * connection, and finish() builds the answer on the HTTP thread that
     * sends it. Run exactly once, by rc__http_res_finish(), or by reset and
     * free when the answer is never sent (connection gone). */
    void (*finish)(rc_http_res *res, void *arg);
    void *finish_arg;
};

void rc__http_req_init(rc_http_req *req, rc_http_env *env);
void rc__http_req_free(rc_http_req *req);
void rc__http_res_init(rc_http_res *res);
void rc__http_res_free(rc_http_res *res); /* frees a stream still attached */
/* Ready for the next request on the same connection, keeping small buffers
 * (and the park's mutex and callbacks): no allocation per request. */
void rc__http_req_reset(rc_http_req *req);
void rc__http_res_reset(rc_http_res *res);

/* Header value (first of that name, case-insensitive) as a NUL-terminated
 * string (MHD gives those), or NULL. */
const char *rc__http_req_header(const rc_http_req *req, const char *name);
const char *rc__http_req_query(const rc_http_req *req, const char *name);

void rc__http_res_header(rc_http_res *res, const char *name, const char *value);
/* status + Content-Type + body */
void rc__http_res_send(rc_http_res *res, int status, const char *ctype, const void *body, size_t len);
/* RFC 9457 problem+json for an rc_status (HTTP status from the status map). */
void rc__http_res_problem(rc_http_res *res, int code, const char *detail);
/* Same for an HTTP-only condition (404 route, 405 method). */
void rc__http_res_problem_http(rc_http_res *res, int http, const char *slug, const char *title,
                              const char *detail);
void rc__http_res_defer(rc_http_res *res);
/* Defer with a finish step (see rc_http_res.finish). */
void rc__http_res_defer_finish(rc_http_res *res, void (*finish)(rc_http_res *, void *), void *arg);
void rc__http_res_complete(rc_http_res *res);
/* Run a pending finish step (after the wake; a no-op without one). */
void rc__http_res_finish(rc_http_res *res);

/* ---- routes --------------------------------------------------------------- */

typedef void (*rc_http_handler)(const rc_http_req *req, rc_http_res *res);

#define RC_ROUTE_BODY 1u    /* the handler reads a request body */
/* The handler's only writes are asynchronous (rc_store_append_async,
 * rc_store_txn_async): the glue may run it inside a store batch
 * (rc_store_batch_begin), where a blocking write would never be served. */
#define RC_ROUTE_ASYNC 2u

typedef struct rc_http_route {
    const char *method;
    const char *pattern;    /* "/events/{seq}": literal segments and {name} */
    rc_http_handler handler;
    unsigned flags;
} rc_http_route;

extern const rc_http_route rc__http_routes[];
extern const size_t rc__http_nroutes;

/* Find the route for method+path: its index, or -1 with *allowed set to a
 * comma list of the methods the path accepts ("" when no route has that
 * path: 404, else 405). */
int rc__http_route_find(const char *method, const char *path, char *allowed, size_t alen);
/* Access control for a request (bearer tokens, read-only roles): RC_OK, or
 * the 401/403 answer written to res and its status returned. Needs only the
 * request line and the Authorization header, so the glue runs it before it
 * reads a body. */
int rc__http_authorize(rc_http_env *env, const char *method, const char *path,
                       const char *authorization, rc_http_res *res);
/* Route, fill params, call the handler; answers 404/405/400 itself.
 * Returns the route index (-1 when none) for metrics. */
int rc__http_dispatch(rc_http_req *req, rc_http_res *res);

/* ---- pure helpers ---------------------------------------------------------- */

/* Percent-decode s[0..n) into out (appended, NUL-terminated). plus_space
 * maps '+' to ' ' (query strings). RC_OK, or RC_INVALID on a bad escape or
 * a decoded NUL. */
int rc__http_pct_decode(const char *s, size_t n, int plus_space, rc_buf *out);
/* Percent-encode for a ce-* header value (CloudEvents HTTP binding 3.1.3.2):
 * space, '"', '%' and bytes outside 0x21..0x7E. */
void rc__http_pct_encode_header(const char *s, size_t n, rc_buf *out);
/* Split "/a/b?x=1&y" into a path and decoded parameters (tests and tools:
 * the glue gets them from libmicrohttpd). Strings live in *store. */
int rc__http_split_target(const char *target, rc_buf *store, char **path, rc_http_param **params,
                          size_t *n);
/* JSON string literal (with quotes) of s[0..n), which must be UTF-8. */
void rc__http_json_str(rc_buf *out, const char *s, size_t n);
/* The media type of a Content-Type/Accept item, lowercased, parameters
 * dropped: "Application/JSON; charset=x" -> "application/json". */
void rc__http_media_type(const char *v, size_t n, char *out, size_t outlen);
/* 1 when an Accept header lists media type mt (exactly, or as type/ *). */
int rc__http_accepts(const char *accept, const char *mt);
/* A stored event's JSON with `seq` spliced in before its final '}'. */
void rc__http_put_stored(rc_buf *out, const char *json, size_t len, uint64_t seq);
/* The log filters of GET /events and SSE from the query: from, after,
 * type, source, subject, subject_prefix, since, until. Strings point into
 * the request. RC_OK or RC_INVALID with err naming the parameter. */
int rc__http_query_filters(const rc_http_req *req, rc_query *q, rc_err *err);
/* Strict unsigned decimal. RC_OK or RC_INVALID. */
int rc__http_parse_u64(const char *s, uint64_t *out);

/* Binary content mode (CloudEvents HTTP binding): ce-* headers + body ->
 * a validated event. Pure: untrusted header bytes in, event or error out.
 * Values are percent-decoded and must be UTF-8; Content-Type becomes
 * datacontenttype. */
int rc__http_binary_decode(const rc_http_header *h, size_t n, const void *body, size_t len,
                          rc_event **out, rc_err *err);
/* The reverse, for GET /events/{seq}: ce-* headers, Content-Type and body. */
void rc__http_binary_encode(const rc_event *ev, rc_http_res *res);

/* ---- metrics ---------------------------------------------------------------- */

rc_http_metrics *rc__http_metrics_new(void);
void rc__http_metrics_free(rc_http_metrics *m);
/* route: index into the table or -1 (unmatched). */
void rc__http_metrics_observe(rc_http_metrics *m, int route, int status, double seconds);
void rc__http_metrics_appended(rc_http_metrics *m, uint64_t events, uint64_t bytes);
void rc__http_metrics_write(rc_http_metrics *m, rc_http_env *env, rc_buf *out);

/* ---- SSE -------------------------------------------------------------------- */

/* Heartbeat pass: every live stream whose heartbeat is due (or all, at
 * shutdown) is woken. Called by the glue's timer thread. */
void rc__http_sse_tick(rc_http_env *env, int64_t now_ms);
/* Number of live SSE streams. */
size_t rc__http_sse_count(rc_http_env *env);

int64_t rc__http_now_ms(void);

/* ---- handlers (the route table's rows) ------------------------------------- */

void rc__h_events_post(const rc_http_req *req, rc_http_res *res);
void rc__h_events_list(const rc_http_req *req, rc_http_res *res);
void rc__h_event_get(const rc_http_req *req, rc_http_res *res);
void rc__h_events_stream(const rc_http_req *req, rc_http_res *res);
void rc__h_kv_put(const rc_http_req *req, rc_http_res *res);
void rc__h_kv_get(const rc_http_req *req, rc_http_res *res);
void rc__h_kv_delete(const rc_http_req *req, rc_http_res *res);
void rc__h_kv_list(const rc_http_req *req, rc_http_res *res);
void rc__h_kv_history(const rc_http_req *req, rc_http_res *res);
void rc__h_health(const rc_http_req *req, rc_http_res *res);
void rc__h_info(const rc_http_req *req, rc_http_res *res);
void rc__h_metrics(const rc_http_req *req, rc_http_res *res);

#endif
