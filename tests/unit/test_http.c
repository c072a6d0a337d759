/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP door without sockets: the pure helpers (percent-decoding, media
 * types, the binary-mode header decoder with input split at every byte),
 * the route table, and every handler called directly against a real store
 * and hub in a fresh temporary directory.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_internal.h"
#include "redcar/log.h"
#include "check_main.h"

/* ---- fixture: a store, a hub, a config, an env ---------------------------------- */

static char dir[64];
static rc_store *st;
static rc_hub *hub;
static rc_config *cfg;
static rc_http_env env;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void setup(void) {
    rc_log_open("stderr", RC_LOG_OFF, 0);
    strcpy(dir, "/tmp/rc-http-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    rc_store_opts o;
    rc_store_opts_default(&o);
    o.dir = dir;
    o.fsync = RC_FSYNC_NORMAL;
    rc_err err;
    ck_assert_int_eq(rc_store_open(&st, &o, &err), RC_OK);
    hub = rc_hub_new();
    rc_store_set_commit_hook(st, rc_hub_publish_hook, hub);
    cfg = rc_config_new();
    ck_assert_int_eq(rc__http_env_init(&env, st, hub, cfg), RC_OK);
}

static void teardown(void) {
    rc__http_env_destroy(&env);
    rc_store_close(st);
    rc_hub_free(hub);
    rc_config_free(cfg);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- calling a handler like the glue does ------------------------------------------ */

static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int woken;

static void t_resume(void *arg) {
    (void)arg;
    pthread_mutex_lock(&wmu);
    woken = 1;
    pthread_cond_signal(&wcv);
    pthread_mutex_unlock(&wmu);
}

/* SSE wakes go to their own flag: a POST's completion must not eat them. */
static atomic_int sse_woken;
static void sse_resume(void *arg) {
    (void)arg;
    atomic_store(&sse_woken, 1);
}

static void wait_woken(void) {
    pthread_mutex_lock(&wmu);
    while (!woken) pthread_cond_wait(&wcv, &wmu);
    woken = 0;
    pthread_mutex_unlock(&wmu);
}

typedef struct reply {
    int status;
    rc_buf body;      /* the whole body, streamed ones drained */
    rc_buf headers;   /* "name\0value\0" */
} reply;

static const char *rh(const reply *r, const char *name) {
    for (size_t off = 0; off < r->headers.len;) {
        const char *n = r->headers.p + off, *v = n + strlen(n) + 1;
        if (!strcasecmp(n, name)) return v;
        off = (size_t)(v + strlen(v) + 1 - r->headers.p);
    }
    return NULL;
}

static void reply_free(reply *r) {
    rc_buf_free(&r->body);
    rc_buf_free(&r->headers);
}

/* hdrs: "Name: value" strings, NULL-terminated. */
static reply call(const char *method, const char *target, const char *const *hdrs,
                  const char *body, size_t blen) {
    rc_http_req req;
    rc_http_res res;
    rc_buf store = RC_BUF_INIT;
    rc_http_param *params = NULL;
    size_t np = 0;
    char *path;
    rc_http_header h[32];
    size_t nh = 0;
    for (; hdrs && hdrs[nh]; nh++) {
        const char *colon = strchr(hdrs[nh], ':');
        const char *v = colon + 1;
        while (*v == ' ') v++;
        h[nh] = (rc_http_header){hdrs[nh], (size_t)(colon - hdrs[nh]), v, strlen(v)};
    }
    ck_assert_int_eq(rc__http_split_target(target, &store, &path, &params, &np), RC_OK);
    rc__http_req_init(&req, &env);
    rc__http_res_init(&res);
    res.park.resume = t_resume;
    req.method = method;
    req.path = path;
    req.query = params;
    req.n_query = np;
    req.headers = h;
    req.n_headers = nh;
    req.body = body ? body : "";
    req.body_len = body ? (blen ? blen : strlen(body)) : 0;
    rc__http_dispatch(&req, &res);
    if (res.deferred && rc__http_park_begin(&res.park)) wait_woken();
    rc__http_res_finish(&res);
    reply r = {res.status, RC_BUF_INIT, RC_BUF_INIT};
    rc_buf_append(&r.headers, res.headers.p ? res.headers.p : "", res.headers.len);
    rc_buf_append(&r.body, res.body.p ? res.body.p : "", res.body.len);
    if (res.stream) {
        char buf[4096];
        long n;
        while ((n = res.stream->read(res.stream, buf, sizeof buf)) > 0)
            rc_buf_append(&r.body, buf, (size_t)n);
        ck_assert_int_eq(n, RC_HTTP_STREAM_END);
    }
    rc__http_res_free(&res);
    rc__http_req_free(&req);
    free(params);
    rc_buf_free(&store);
    return r;
}

static const char *const CE_JSON[] = {"Content-Type: application/cloudevents+json", NULL};
static const char *const CE_BATCH[] = {"Content-Type: application/cloudevents-batch+json", NULL};

static void post_simple(const char *id, const char *type, const char *subject) {
    char b[512];
    snprintf(b, sizeof b,
             "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/t\",\"type\":\"%s\"%s%s%s,"
             "\"data\":{\"n\":1}}",
             id, type, subject ? ",\"subject\":\"" : "", subject ? subject : "", subject ? "\"" : "");
    reply r = call("POST", "/events", CE_JSON, b, 0);
    ck_assert_msg(r.status == 201, "status %d: %s", r.status, r.body.p);
    reply_free(&r);
}

/* ---- pure helpers ------------------------------------------------------------------------ */

START_TEST(pct_decode) {
    rc_buf b = RC_BUF_INIT;
    ck_assert_int_eq(rc__http_pct_decode("a%20b+c", 7, 0, &b), RC_OK);
    ck_assert_str_eq(b.p, "a b+c");
    rc_buf_reset(&b);
    ck_assert_int_eq(rc__http_pct_decode("a%20b+c", 7, 1, &b), RC_OK);
    ck_assert_str_eq(b.p, "a b c");
    rc_buf_reset(&b);
    ck_assert_int_eq(rc__http_pct_decode("%e2%82%AC", 9, 0, &b), RC_OK);
    ck_assert_str_eq(b.p, "\xe2\x82\xac");
    const char *bad[] = {"%", "%4", "%zz", "%4g", "a%00b", "%%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc_buf_reset(&b);
        ck_assert_msg(rc__http_pct_decode(bad[i], strlen(bad[i]), 0, &b) == RC_INVALID, "%s", bad[i]);
    }
    /* Decoding never reads past n: "%41" cut at 2 is a truncated escape. */
    rc_buf_reset(&b);
    ck_assert_int_eq(rc__http_pct_decode("%41", 2, 0, &b), RC_INVALID);
    rc_buf_reset(&b);
    rc__http_pct_encode_header("a b\"%\xc3\xa9~", 8, &b);
    ck_assert_str_eq(b.p, "a%20b%22%25%C3%A9~");
    rc_buf_free(&b);
}
END_TEST

START_TEST(media_types) {
    char mt[64];
    rc__http_media_type(" Application/CloudEvents+JSON ; charset=utf-8", 46, mt, sizeof mt);
    ck_assert_str_eq(mt, "application/cloudevents+json");
    ck_assert(rc__http_accepts("text/html, application/x-ndjson;q=0.9", "application/x-ndjson"));
    ck_assert(rc__http_accepts("image/*", "image/png"));
    ck_assert(!rc__http_accepts("image/*", "text/plain"));
    ck_assert(!rc__http_accepts(NULL, "text/plain"));
    rc_buf b = RC_BUF_INIT;
    rc__http_put_stored(&b, "{\"id\":\"x\"}", 10, 42);
    ck_assert_str_eq(b.p, "{\"id\":\"x\",\"seq\":42}");
    rc_buf_reset(&b);
    rc__http_put_stored(&b, "{}", 2, 7);
    ck_assert_str_eq(b.p, "{\"seq\":7}");
    rc_buf_reset(&b);
    rc__http_json_str(&b, "a\"\\\n\x01", 5);
    ck_assert_str_eq(b.p, "\"a\\\"\\\\\\n\\u0001\"");
    rc_buf_free(&b);
    uint64_t v;
    ck_assert_int_eq(rc__http_parse_u64("18446744073709551615", &v), RC_OK);
    ck_assert_int_eq(rc__http_parse_u64("18446744073709551616", &v), RC_INVALID);
    ck_assert_int_eq(rc__http_parse_u64("-1", &v), RC_INVALID);
    ck_assert_int_eq(rc__http_parse_u64("", &v), RC_INVALID);
}
END_TEST

static rc_http_header H(const char *n, const char *v) {
    return (rc_http_header){n, strlen(n), v, strlen(v)};
}

START_TEST(binary_decode_ok) {
    rc_http_header h[] = {
        H("CE-SpecVersion", "1.0"), H("ce-id", "a%20b"), H("ce-source", "%2Fs%3Fq%3D1"),
        H("ce-type", "t.%C3%A9"), H("ce-subject", "%22q%22"), H("ce-myext", "v%25"),
        H("Content-Type", "application/json"), H("Host", "x"),
    };
    rc_event *ev = NULL;
    rc_err err;
    rc_err_clear(&err);
    ck_assert_msg(rc__http_binary_decode(h, 8, "{\"a\":1}", 7, &ev, &err) == RC_OK, "%s", err.msg);
    ck_assert_str_eq(ev->id, "a b");
    ck_assert_str_eq(ev->source, "/s?q=1");
    ck_assert_str_eq(ev->type, "t.\xc3\xa9");
    ck_assert_str_eq(ev->subject, "\"q\"");
    ck_assert_str_eq(ev->datacontenttype, "application/json");
    ck_assert_str_eq(rc_event_ext(ev, "myext")->s, "v%");
    ck_assert_int_eq(ev->data_form, RC_DATA_JSON);
    ck_assert_uint_eq(ev->data_len, 7);
    rc_event_free(ev);
    /* No body, no Content-Type: no data. */
    ck_assert_int_eq(rc__http_binary_decode(h, 6, "", 0, &ev, &err), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_NONE);
    rc_event_free(ev);
}
END_TEST

static void expect_bad(rc_http_header *h, size_t n, const char *needle) {
    rc_event *ev = (rc_event *)1;
    rc_err err;
    rc_err_clear(&err);
    int rc = rc__http_binary_decode(h, n, "x", 1, &ev, &err);
    ck_assert_msg(rc != RC_OK, "accepted, expected error with '%s'", needle);
    ck_assert_ptr_null(ev);
    ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
}

START_TEST(binary_decode_errors) {
    rc_http_header base[] = {H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                             H("ce-type", "t"), H("x", "y")};
    rc_http_header h[5];
    memcpy(h, base, sizeof h);
    h[4] = H("ce-subject", "%FF%FE");
    expect_bad(h, 5, "ce-subject: value is not valid UTF-8");
    h[4] = H("ce-subject", "abc%2");
    expect_bad(h, 5, "ce-subject: invalid percent-encoding");
    h[4] = H("ce-subject", "a%00");
    expect_bad(h, 5, "ce-subject");
    h[4] = H("ce-bad_name", "v");
    expect_bad(h, 5, "attribute name");
    h[4] = H("ce-", "v");
    expect_bad(h, 5, "attribute name");
    h[4] = H("ce-ID", "2");
    expect_bad(h, 5, "ce-id: given more than once");
    h[4] = H("ce-data", "v");
    expect_bad(h, 5, "ce-data");
    h[4] = H("ce-datacontenttype", "text/plain");
    expect_bad(h, 5, "contradicts Content-Type");
    expect_bad(h + 1, 3, "specversion");
    h[4] = H("ce-specversion", "1.0");
    expect_bad(h, 5, "more than once");
    rc_http_header bad_src[] = {H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", ""),
                                H("ce-type", "t")};
    expect_bad(bad_src, 4, "source");
    rc_http_header bad_ver[] = {H("ce-specversion", "0.3"), H("ce-id", "1"), H("ce-source", "/s"),
                                H("ce-type", "t")};
    expect_bad(bad_ver, 4, "specversion");
}
END_TEST

/* Every prefix of a value with escapes: either decodes or fails cleanly,
 * never reads past the given length (ASan checks the copies). */
START_TEST(binary_decode_splits) {
    const char *full = "%E2%82%AC-%41%42+x%C3%A9";
    size_t n = strlen(full);
    for (size_t cut = 0; cut <= n; cut++) {
        char *v = malloc(cut ? cut : 1);
        memcpy(v, full, cut);
        rc_http_header h[] = {H("ce-specversion", "1.0"), H("ce-id", "1"), H("ce-source", "/s"),
                              H("ce-type", "t"), {"ce-subject", 10, v, cut}};
        rc_event *ev = NULL;
        rc_err err;
        int rc = rc__http_binary_decode(h, 5, NULL, 0, &ev, &err);
        /* Cuts inside an escape or inside a UTF-8 sequence must fail. */
        int complete = cut > 0;
        for (size_t i = 0; i < cut; i++)
            if (full[i] == '%' && i + 2 >= cut) complete = 0;
        if (complete && (cut == 3 || cut == 6)) complete = 0; /* partial euro sign */
        if (complete && cut == 21) complete = 0;               /* partial e-acute */
        if (complete) {
            ck_assert_msg(rc == RC_OK, "cut %zu: %s", cut, err.msg);
            rc_event_free(ev);
        } else {
            ck_assert_msg(rc != RC_OK && !ev, "cut %zu accepted", cut);
        }
        free(v);
    }
}
END_TEST

START_TEST(routes_table) {
    char allowed[64];
    ck_assert_int_ge(rc__http_route_find("GET", "/events/stream", allowed, sizeof allowed), 0);
    ck_assert_ptr_eq(rc__http_routes[rc__http_route_find("GET", "/events/stream", NULL, 0)].handler,
                     rc__h_events_stream);
    ck_assert_ptr_eq(rc__http_routes[rc__http_route_find("GET", "/events/12", NULL, 0)].handler,
                     rc__h_event_get);
    ck_assert_ptr_eq(rc__http_routes[rc__http_route_find("HEAD", "/health", NULL, 0)].handler,
                     rc__h_health);
    ck_assert_int_eq(rc__http_route_find("PATCH", "/kv/a", allowed, sizeof allowed), -1);
    ck_assert_str_eq(allowed, "GET, PUT, DELETE");
    ck_assert_int_eq(rc__http_route_find("GET", "/nope", allowed, sizeof allowed), -1);
    ck_assert_str_eq(allowed, "");
    ck_assert_int_eq(rc__http_route_find("GET", "/events/", allowed, sizeof allowed), -1);
    ck_assert_int_eq(rc__http_route_find("GET", "/kv/a/b", allowed, sizeof allowed), -1);
}
END_TEST

/* The finish step of a deferred answer runs exactly once: by whoever
 * sends the answer, or by reset/free when nobody does (connection gone). */
static int finished;
static void count_finish(rc_http_res *res, void *arg) {
    (void)arg;
    finished++;
    res->status = 201;
}

START_TEST(deferred_finish_once) {
    rc_http_res res;
    rc__http_res_init(&res);
    finished = 0;
    rc__http_res_defer_finish(&res, count_finish, NULL);
    ck_assert_int_eq(res.deferred, 1);
    rc__http_res_finish(&res);
    rc__http_res_finish(&res);
    ck_assert_int_eq(finished, 1);
    ck_assert_int_eq(res.status, 201);
    rc__http_res_reset(&res);
    ck_assert_int_eq(finished, 1);
    rc__http_res_defer_finish(&res, count_finish, NULL);
    rc__http_res_reset(&res); /* never sent: reset runs it (it frees its context) */
    ck_assert_int_eq(finished, 2);
    rc__http_res_defer_finish(&res, count_finish, NULL);
    rc__http_res_free(&res);
    ck_assert_int_eq(finished, 3);
}
END_TEST

/* A connection gone before its deferred answer came (loop mode answers
 * without suspending, so libmicrohttpd may close it meanwhile): whoever
 * comes last, the closing glue or the producer's wake, frees the context,
 * exactly once, and the finish step still runs. */
typedef struct orphan {
    rc_http_res res;
    int *freed;
} orphan;

static void orphan_release(void *arg) {
    orphan *o = arg;
    (*o->freed)++;
    rc__http_res_free(&o->res); /* runs the pending finish step */
    free(o);
}

static void *wake_later(void *arg) {
    rc__http_park_wake(arg);
    return NULL;
}

START_TEST(park_abandon) {
    int freed = 0;
    finished = 0;
    /* the wake is still owed: it frees */
    orphan *o = calloc(1, sizeof *o);
    rc__http_res_init(&o->res);
    o->freed = &freed;
    o->res.park.arg = o;
    rc__http_res_defer_finish(&o->res, count_finish, NULL);
    ck_assert_int_eq(rc__http_park_abandon(&o->res.park, orphan_release), 1);
    ck_assert_int_eq(freed, 0);
    rc__http_park_wake(&o->res.park);
    ck_assert_int_eq(freed, 1);
    ck_assert_int_eq(finished, 1);
    /* the wake came first: the caller frees */
    o = calloc(1, sizeof *o);
    rc__http_res_init(&o->res);
    o->freed = &freed;
    o->res.park.arg = o;
    rc__http_res_defer_finish(&o->res, count_finish, NULL);
    rc__http_park_wake(&o->res.park);
    ck_assert_int_eq(rc__http_park_abandon(&o->res.park, orphan_release), 0);
    ck_assert_int_eq(freed, 1);
    orphan_release(o);
    ck_assert_int_eq(freed, 2);
    ck_assert_int_eq(finished, 2);
    /* racing: one of the two frees, whatever the order */
    for (int i = 0; i < 200; i++) {
        o = calloc(1, sizeof *o);
        rc__http_res_init(&o->res);
        o->freed = &freed;
        o->res.park.arg = o;
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, wake_later, &o->res.park), 0);
        if (!rc__http_park_abandon(&o->res.park, orphan_release)) {
            pthread_join(t, NULL);
            orphan_release(o);
        } else {
            pthread_join(t, NULL);
        }
    }
    ck_assert_int_eq(freed, 202);
}
END_TEST

/* ---- handlers ---------------------------------------------------------------------------- */

/* Access control needs only the request line and Authorization, so the
 * glue can run it before reading a body; the dispatcher runs it for
 * requests the glue did not check. */
START_TEST(authorize_before_body) {
    rc_http_res res;
    rc__http_res_init(&res);
    ck_assert_int_eq(rc__http_authorize(&env, "POST", "/events", NULL, &res), RC_OK);
    ck_assert_int_eq(rc_config_set(cfg, "requirepass", "pw", 0, NULL), RC_OK);
    ck_assert_int_eq(rc_config_set(cfg, "user", "ro:ro:rpw", 0, NULL), RC_OK);
    ck_assert_int_eq(rc__http_authorize(&env, "POST", "/events", NULL, &res), RC_NOAUTH);
    ck_assert_int_eq(res.status, 401);
    rc__http_res_reset(&res);
    ck_assert_int_eq(rc__http_authorize(&env, "GET", "/health", NULL, &res), RC_OK);
    ck_assert_int_eq(rc__http_authorize(&env, "POST", "/events", "Bearer pw", &res), RC_OK);
    ck_assert_int_eq(rc__http_authorize(&env, "GET", "/events", "Bearer ro:rpw", &res), RC_OK);
    ck_assert_int_eq(rc__http_authorize(&env, "POST", "/events", "Bearer ro:rpw", &res), RC_NOPERM);
    ck_assert_int_eq(res.status, 403);
    rc__http_res_free(&res);
    /* not checked by the glue: the dispatcher refuses */
    reply r = call("GET", "/info", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 401);
    reply_free(&r);
}
END_TEST

START_TEST(errors_404_405_415) {
    reply r = call("GET", "/nope", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(rh(&r, "Content-Type"), "application/problem+json");
    ck_assert(strstr(r.body.p, "\"status\":404"));
    /* A relative type URI: never a domain we do not own (RFC 9457 3.1.1). */
    ck_assert_msg(strstr(r.body.p, "\"type\":\"/problems/not-found\""), "%s", r.body.p);
    reply_free(&r);
    r = call("DELETE", "/events", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(rh(&r, "Allow"), "POST, GET");
    reply_free(&r);
    const char *const ct[] = {"Content-Type: text/plain", NULL};
    r = call("POST", "/events", ct, "hello", 0);
    ck_assert_int_eq(r.status, 415);
    ck_assert(strstr(r.body.p, "unsupported"));
    reply_free(&r);
}
END_TEST

START_TEST(post_structured_and_duplicate) {
    const char *ev = "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/s\",\"type\":\"t\"}";
    reply r = call("POST", "/events", CE_JSON, ev, 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.body.p, "{\"seq\":1,\"duplicate\":false}");
    ck_assert_str_eq(rh(&r, "Location"), "/events/1");
    reply_free(&r);
    r = call("POST", "/events", CE_JSON, ev, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.p, "{\"seq\":1,\"duplicate\":true}");
    reply_free(&r);
    r = call("POST", "/events", CE_JSON, "{\"specversion\":\"1.0\",\"id\":\"e2\",\"type\":\"t\"}", 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body.p, "source"), "%s", r.body.p);
    reply_free(&r);
    r = call("POST", "/events", CE_JSON, "{not json", 0);
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
}
END_TEST

START_TEST(post_binary_and_get_back) {
    const char *const h[] = {"ce-specversion: 1.0", "ce-id: b1",           "ce-source: /bin",
                             "ce-type: t.bin",      "ce-subject: caf%C3%A9", "Content-Type: text/plain",
                             NULL};
    reply r = call("POST", "/events", h, "hello", 0);
    ck_assert_int_eq(r.status, 201);
    reply_free(&r);
    r = call("GET", "/events/1", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(rh(&r, "Content-Type"), "application/cloudevents+json");
    ck_assert_msg(strstr(r.body.p, "\"seq\":1}"), "%s", r.body.p);
    ck_assert(strstr(r.body.p, "\"data\":\"hello\""));
    reply_free(&r);
    const char *const acc[] = {"Accept: text/plain", NULL};
    r = call("GET", "/events/1", acc, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.p, "hello");
    ck_assert_str_eq(rh(&r, "ce-id"), "b1");
    ck_assert_str_eq(rh(&r, "ce-subject"), "caf%C3%A9");
    ck_assert_str_eq(rh(&r, "ce-seq"), "1");
    reply_free(&r);
    r = call("GET", "/events/99", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    r = call("GET", "/events/abc", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
    const char *const bad[] = {"ce-specversion: 1.0", "ce-id: b2", "ce-source: /bin",
                               "ce-type: t", "ce-subject: %FF", NULL};
    r = call("POST", "/events", bad, "x", 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body.p, "ce-subject"), "%s", r.body.p);
    reply_free(&r);
}
END_TEST

START_TEST(post_batch) {
    const char *b = "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/b\",\"type\":\"t\"},"
                    "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/b\",\"type\":\"t\"}]";
    reply r = call("POST", "/events", CE_BATCH, b, 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.body.p, "{\"items\":[{\"seq\":1,\"duplicate\":false},{\"seq\":2,\"duplicate\":false}]}");
    ck_assert_str_eq(rh(&r, "Location"), "/events/1");
    reply_free(&r);
    r = call("POST", "/events", CE_BATCH, b, 0);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = call("POST", "/events", CE_BATCH,
             "[{\"specversion\":\"1.0\",\"id\":\"3\",\"source\":\"/b\",\"type\":\"t\"},{\"id\":4}]", 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body.p, "[1]"), "%s", r.body.p);
    reply_free(&r);
    r = call("GET", "/events?limit=10", NULL, NULL, 0);
    ck_assert_msg(strstr(r.body.p, "\"seq\":2}]"), "%s", r.body.p);
    ck_assert(!strstr(r.body.p, "\"seq\":3"));
    reply_free(&r);
    ck_assert_int_eq(rc_config_set(cfg, "max-batch", "1", 1, NULL), RC_OK);
    rc__http_env_refresh(&env); /* the glue's heartbeat does this */
    r = call("POST", "/events", CE_BATCH, b, 0);
    ck_assert_int_eq(r.status, 413);
    reply_free(&r);
}
END_TEST

START_TEST(expect_seq_conflict) {
    post_simple("a", "t", "acct");
    reply r = call("POST", "/events?expect_seq=5", CE_JSON,
                   "{\"specversion\":\"1.0\",\"id\":\"b\",\"source\":\"/t\",\"type\":\"t\",\"subject\":\"acct\"}", 0);
    ck_assert_int_eq(r.status, 409);
    reply_free(&r);
    const char *const h[] = {"Content-Type: application/cloudevents+json", "Redcar-Expect-Seq: 1", NULL};
    r = call("POST", "/events", h,
             "{\"specversion\":\"1.0\",\"id\":\"b\",\"source\":\"/t\",\"type\":\"t\",\"subject\":\"acct\"}", 0);
    ck_assert_int_eq(r.status, 201);
    reply_free(&r);
    r = call("POST", "/events?expect_seq=x", CE_JSON, "{}", 0);
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
}
END_TEST

START_TEST(list_filters_pages) {
    for (int i = 1; i <= 25; i++) {
        char id[16];
        snprintf(id, sizeof id, "i%d", i);
        post_simple(id, i % 2 ? "odd" : "even", i <= 10 ? "a/1" : "b/2");
    }
    reply r = call("GET", "/events?limit=10", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(rh(&r, "Content-Type"), "application/cloudevents-batch+json");
    ck_assert_str_eq(rh(&r, "Redcar-Next"), "/events?after=10&limit=10");
    ck_assert_str_eq(rh(&r, "Link"), "</events?after=10&limit=10>; rel=\"next\"");
    ck_assert(r.body.p[0] == '[' && r.body.p[r.body.len - 1] == ']');
    reply_free(&r);
    r = call("GET", "/events?after=20&limit=10", NULL, NULL, 0);
    ck_assert_ptr_null(rh(&r, "Redcar-Next"));
    ck_assert(strstr(r.body.p, "\"seq\":21"));
    ck_assert(!strstr(r.body.p, "\"seq\":20}"));
    reply_free(&r);
    const char *const nd[] = {"Accept: application/x-ndjson", NULL};
    r = call("GET", "/events?type=odd&subject_prefix=b/", nd, NULL, 0);
    ck_assert_str_eq(rh(&r, "Content-Type"), "application/x-ndjson");
    int lines = 0;
    for (size_t i = 0; i < r.body.len; i++) lines += r.body.p[i] == '\n';
    ck_assert_int_eq(lines, 8); /* 11,13,...,25 */
    ck_assert(strstr(r.body.p, "\"seq\":25}\n"));
    reply_free(&r);
    r = call("GET", "/events?order=desc&limit=3", NULL, NULL, 0);
    ck_assert_msg(!strncmp(r.body.p, "[{", 2) && strstr(r.body.p, "\"seq\":25}"), "%s", r.body.p);
    ck_assert_str_eq(rh(&r, "Redcar-Next"), "/events?before=23&limit=3&order=desc");
    reply_free(&r);
    r = call("GET", "/events?before=23&limit=3&order=desc", NULL, NULL, 0);
    ck_assert(strstr(r.body.p, "\"seq\":22}") && strstr(r.body.p, "\"seq\":20}"));
    reply_free(&r);
    r = call("GET", "/events?from=5&limit=2", NULL, NULL, 0);
    ck_assert_msg(strstr(r.body.p, "\"seq\":5}") && strstr(r.body.p, "\"seq\":6}]"), "%s", r.body.p);
    reply_free(&r);
    r = call("GET", "/events?limit=0", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert(strstr(r.body.p, "limit"));
    reply_free(&r);
    r = call("GET", "/events?since=yesterday", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
    r = call("GET", "/events?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&limit=100", NULL, NULL, 0);
    ck_assert(strstr(r.body.p, "\"seq\":25}"));
    reply_free(&r);
}
END_TEST

/* A listing longer than one store page streams in pages and stays exact. */
START_TEST(list_many_pages) {
    rc_buf b = RC_BUF_INIT;
    rc_buf_putc(&b, '[');
    for (int i = 1; i <= 2500; i++)
        rc_buf_printf(&b, "%s{\"specversion\":\"1.0\",\"id\":\"%d\",\"source\":\"/m\",\"type\":\"t\"}",
                      i > 1 ? "," : "", i);
    rc_buf_putc(&b, ']');
    reply r = call("POST", "/events", CE_BATCH, b.p, b.len);
    ck_assert_int_eq(r.status, 201);
    reply_free(&r);
    rc_buf_free(&b);
    const char *const nd[] = {"Accept: application/x-ndjson", NULL};
    r = call("GET", "/events?limit=2400", nd, NULL, 0);
    int lines = 0;
    for (size_t i = 0; i < r.body.len; i++) lines += r.body.p[i] == '\n';
    ck_assert_int_eq(lines, 2400);
    ck_assert_str_eq(rh(&r, "Redcar-Next"), "/events?after=2400&limit=2400");
    reply_free(&r);
    r = call("GET", "/events?after=1500&limit=5000", NULL, NULL, 0);
    ck_assert_ptr_null(rh(&r, "Redcar-Next"));
    ck_assert(strstr(r.body.p, "{\"specversion\"") == r.body.p + 1);
    ck_assert(strstr(r.body.p, "\"seq\":2500}]"));
    reply_free(&r);
}
END_TEST

START_TEST(kv_routes) {
    const char *const ct[] = {"Content-Type: text/plain", NULL};
    reply r = call("PUT", "/kv/user%2F1", ct, "alice", 0);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.body.p, "{\"key\":\"user/1\",\"seq\":1,\"version\":1}");
    reply_free(&r);
    r = call("PUT", "/kv/user%2F1?ttl=100", ct, "bob", 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.p, "{\"key\":\"user/1\",\"seq\":2,\"version\":2}");
    reply_free(&r);
    r = call("GET", "/kv/user%2F1", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.p, "bob");
    ck_assert_str_eq(rh(&r, "Content-Type"), "text/plain");
    ck_assert_str_eq(rh(&r, "Redcar-Create-Seq"), "1");
    ck_assert_str_eq(rh(&r, "Redcar-Mod-Seq"), "2");
    ck_assert_str_eq(rh(&r, "Redcar-Version"), "2");
    ck_assert_ptr_nonnull(rh(&r, "Redcar-Expires"));
    reply_free(&r);
    r = call("GET", "/kv/user%2F1?as_of=1", NULL, NULL, 0);
    ck_assert_str_eq(r.body.p, "alice");
    reply_free(&r);
    r = call("PUT", "/kv/bin", NULL, "\xff\x00\x01", 3);
    ck_assert_int_eq(r.status, 201);
    reply_free(&r);
    r = call("GET", "/kv/bin", NULL, NULL, 0);
    ck_assert_str_eq(rh(&r, "Content-Type"), "application/octet-stream");
    ck_assert_uint_eq(r.body.len, 3);
    reply_free(&r);
    r = call("GET", "/kv?prefix=user", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body.p, "\"key\":\"user/1\",\"value\":\"bob\",\"content_type\":\"text/plain\",\"create_seq\":1,\"mod_seq\":2,\"version\":2"), "%s", r.body.p);
    reply_free(&r);
    r = call("GET", "/kv", NULL, NULL, 0);
    ck_assert_msg(strstr(r.body.p, "\"value_base64\":\"/wAB\""), "%s", r.body.p);
    ck_assert(!strncmp(r.body.p, "{\"count\":2", 10));
    reply_free(&r);
    r = call("GET", "/kv?count_only=true", NULL, NULL, 0);
    ck_assert_str_eq(r.body.p, "{\"count\":2}");
    reply_free(&r);
    r = call("GET", "/kv?keys_only=true&sort=desc&limit=1", NULL, NULL, 0);
    ck_assert_msg(strstr(r.body.p, "\"key\":\"user/1\"") && !strstr(r.body.p, "value"), "%s", r.body.p);
    reply_free(&r);
    r = call("GET", "/kv/user%2F1/history", NULL, NULL, 0);
    ck_assert_msg(strstr(r.body.p, "io.redcar.kv.put") && strstr(r.body.p, "\"seq\":2}]"), "%s", r.body.p);
    ck_assert_msg(strstr(r.body.p, "\"source\":\"redcar://http\""), "%s", r.body.p);
    reply_free(&r);
    r = call("DELETE", "/kv/user%2F1", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.p, "{\"key\":\"user/1\",\"seq\":4,\"deleted\":true}");
    reply_free(&r);
    r = call("DELETE", "/kv/user%2F1", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    r = call("GET", "/kv/user%2F1", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(rh(&r, "Content-Type"), "application/problem+json");
    reply_free(&r);
    r = call("PUT", "/kv/x?ttl=abc", NULL, "v", 0);
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
}
END_TEST

START_TEST(health_info_metrics) {
    post_simple("m1", "t", NULL);
    reply r = call("GET", "/health", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.p, "{\"status\":\"ok\"}");
    reply_free(&r);
    r = call("GET", "/info", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body.p, "\"version\":\"" RC_VERSION "\"") && strstr(r.body.p, "\"seq\":1,"),
                  "%s", r.body.p);
    reply_free(&r);
    rc__http_metrics_observe(env.metrics, 0, 201, 0.002);
    r = call("GET", "/metrics", NULL, NULL, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert(strstr(r.body.p, "redcar_appends_total 1\n"));
    ck_assert(strstr(r.body.p, "redcar_http_requests_total{method=\"POST\",route=\"/events\",code=\"201\"} 1\n"));
    ck_assert(strstr(r.body.p, "redcar_http_request_duration_seconds_bucket{method=\"POST\",route=\"/events\",le=\"0.0025\"} 1\n"));
    ck_assert(strstr(r.body.p, "redcar_head_seq 1\n"));
    reply_free(&r);
}
END_TEST

/* SSE: replay from the store, then live from the hub, no gap, no duplicate. */
static long sse_read_some(rc_http_stream *s, rc_buf *out, int allow_wait) {
    char buf[8192];
    for (;;) {
        long n = s->read(s, buf, sizeof buf);
        if (n > 0) {
            rc_buf_append(out, buf, (size_t)n);
            continue;
        }
        if (n == RC_HTTP_STREAM_WAIT && allow_wait) return n;
        return n;
    }
}

START_TEST(sse_replay_then_live) {
    for (int i = 1; i <= 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        post_simple(id, i == 2 ? "skip" : "keep", NULL);
    }
    rc_http_req req;
    rc_http_res res;
    rc_buf store = RC_BUF_INIT;
    rc_http_param *params;
    size_t np;
    char *path;
    ck_assert_int_eq(rc__http_split_target("/events/stream?from=1&type=keep", &store, &path, &params, &np), RC_OK);
    rc__http_req_init(&req, &env);
    rc__http_res_init(&res);
    req.method = "GET";
    req.path = path;
    req.query = params;
    req.n_query = np;
    rc__http_dispatch(&req, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_nonnull(res.stream);
    rc_http_stream *s = res.stream;
    s->park.resume = sse_resume;
    rc_buf out = RC_BUF_INIT;
    ck_assert_int_eq(sse_read_some(s, &out, 1), RC_HTTP_STREAM_WAIT);
    ck_assert_msg(strstr(out.p, "id: 1\nevent: keep\ndata: {") && strstr(out.p, "id: 3\n") &&
                      !strstr(out.p, "id: 2\n"), "%s", out.p);
    ck_assert_int_eq(rc__http_park_begin(&s->park), 1);
    post_simple("s4", "keep", NULL);
    /* The hub delivers before the append completes. */
    ck_assert_int_eq(atomic_load(&sse_woken), 1);
    rc_buf_reset(&out);
    ck_assert_int_eq(sse_read_some(s, &out, 1), RC_HTTP_STREAM_WAIT);
    ck_assert_msg(strstr(out.p, "id: 4\nevent: keep\ndata: {") && strstr(out.p, "\"seq\":4") && strstr(out.p, "}\n\n"), "%s", out.p);
    post_simple("s5", "skip", NULL);
    rc_buf_reset(&out);
    ck_assert_int_eq(sse_read_some(s, &out, 1), RC_HTTP_STREAM_WAIT);
    ck_assert_uint_eq(out.len, 0);
    /* Heartbeat */
    rc__http_sse_tick(&env, rc__http_now_ms() + 3600 * 1000);
    ck_assert_int_eq(sse_read_some(s, &out, 1), RC_HTTP_STREAM_WAIT);
    ck_assert_str_eq(out.p, ": heartbeat\n\n");
    ck_assert_uint_eq(rc__http_sse_count(&env), 1);
    ck_assert_uint_eq(rc_hub_subscribers(hub), 1);
    /* Shutdown ends the stream. */
    atomic_store(&env.stopping, 1);
    ck_assert_int_eq(sse_read_some(s, &out, 1), RC_HTTP_STREAM_END);
    rc__http_res_free(&res);
    ck_assert_uint_eq(rc__http_sse_count(&env), 0);
    ck_assert_uint_eq(rc_hub_subscribers(hub), 0);
    rc__http_req_free(&req);
    free(params);
    rc_buf_free(&store);
    rc_buf_free(&out);
}
END_TEST

/* A live client that never reads is cut off when its queue overflows. */
START_TEST(sse_overflow_disconnects) {
    ck_assert_int_eq(rc_config_set(cfg, "client-output-buffer-limit-pubsub", "1kb", 1, NULL), RC_OK);
    reply dummy = {0, RC_BUF_INIT, RC_BUF_INIT};
    (void)dummy;
    rc_http_req req;
    rc_http_res res;
    rc__http_req_init(&req, &env);
    rc__http_res_init(&res);
    req.method = "GET";
    req.path = "/events/stream";
    rc__http_dispatch(&req, &res);
    ck_assert_ptr_nonnull(res.stream);
    res.stream->park.resume = sse_resume;
    for (int i = 0; i < 20; i++) {
        char id[8];
        snprintf(id, sizeof id, "o%d", i);
        post_simple(id, "t", NULL);
    }
    rc_buf out = RC_BUF_INIT;
    ck_assert_int_eq(sse_read_some(res.stream, &out, 1), RC_HTTP_STREAM_ERROR);
    rc__http_res_free(&res);
    rc__http_req_free(&req);
    rc_buf_free(&out);
}
END_TEST

Suite *http_suite(void) {
    Suite *s = suite_create("http");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, pct_decode);
    tcase_add_test(pure, media_types);
    tcase_add_test(pure, binary_decode_ok);
    tcase_add_test(pure, binary_decode_errors);
    tcase_add_test(pure, binary_decode_splits);
    tcase_add_test(pure, routes_table);
    tcase_add_test(pure, deferred_finish_once);
    tcase_add_test(pure, park_abandon);
    suite_add_tcase(s, pure);
    TCase *h = tcase_create("handlers");
    tcase_add_checked_fixture(h, setup, teardown);
    tcase_set_timeout(h, 60);
    tcase_add_test(h, authorize_before_body);
    tcase_add_test(h, errors_404_405_415);
    tcase_add_test(h, post_structured_and_duplicate);
    tcase_add_test(h, post_binary_and_get_back);
    tcase_add_test(h, post_batch);
    tcase_add_test(h, expect_seq_conflict);
    tcase_add_test(h, list_filters_pages);
    tcase_add_test(h, list_many_pages);
    tcase_add_test(h, kv_routes);
    tcase_add_test(h, health_info_metrics);
    tcase_add_test(h, sse_replay_then_live);
    tcase_add_test(h, sse_overflow_disconnects);
    suite_add_tcase(s, h);
    return s;
}

int main(void) {
    return rc_test_run(http_suite());
}
