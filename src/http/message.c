/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests and responses of the HTTP door, independent of libmicrohttpd:
 * header/query lookup, answer builders, RFC 9457 problem documents, the
 * parking primitive behind deferred answers and streams, and the small pure
 * codecs (percent-encoding, media types, JSON strings) the handlers share.
 *
 * Everything here may see untrusted bytes (headers, query strings): decoders
 * bound every read by an explicit length and report bad input as RC_INVALID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/http_internal.h"
#include "redcar/retention.h"

int64_t rc__http_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- parking ---------------------------------------------------------------- */

void rc__http_park_init(rc_http_park *p) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
}

void rc__http_park_destroy(rc_http_park *p) {
    /* A waker may have resumed us and not yet left park_wake(): taking the
     * lock once waits for it, and nobody wakes a finished request again. */
    pthread_mutex_lock(&p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_destroy(&p->mu);
}

int rc__http_park_begin(rc_http_park *p) {
    pthread_mutex_lock(&p->mu);
    if (p->pending) {
        p->pending = 0;
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    /* Suspend under the lock: a waker that sees parked == 1 must find the
     * connection suspended, or its resume would be lost. */
    p->parked = 1;
    if (p->suspend) p->suspend(p->arg);
    pthread_mutex_unlock(&p->mu);
    return 1;
}

void rc__http_park_wake(rc_http_park *p) {
    void (*release)(void *) = NULL;
    void *arg = p->arg;
    pthread_mutex_lock(&p->mu);
    if (p->parked) {
        p->parked = 0;
        if (p->resume) p->resume(p->arg);
    } else if (p->release) {
        release = p->release; /* abandoned: nobody will read the answer */
    } else {
        p->pending = 1;
    }
    pthread_mutex_unlock(&p->mu);
    if (release) release(arg); /* frees p: after the unlock */
}

int rc__http_park_abandon(rc_http_park *p, void (*release)(void *arg)) {
    pthread_mutex_lock(&p->mu);
    int owed = !p->pending;
    if (owed) p->release = release;
    pthread_mutex_unlock(&p->mu);
    return owed;
}

/* ---- request ------------------------------------------------------------------ */

void rc__http_req_init(rc_http_req *req, rc_http_env *env) {
    memset(req, 0, sizeof *req);
    req->env = env;
    rc_buf_init(&req->param_store);
}

void rc__http_req_free(rc_http_req *req) { rc_buf_free(&req->param_store); }

void rc__http_req_reset(rc_http_req *req) {
    rc_buf keep = req->param_store;
    rc_http_env *env = req->env;
    const struct sockaddr *peer = req->peer; /* the connection's, for its next request */
    memset(req, 0, sizeof *req);
    req->env = env;
    req->peer = peer;
    req->param_store = keep;
    rc_buf_reset(&req->param_store);
}

const char *rc__http_req_header(const rc_http_req *req, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        const rc_http_header *h = &req->headers[i];
        if (h->name_len == n && !strncasecmp(h->name, name, n)) return h->value;
    }
    return NULL;
}

const char *rc__http_req_query(const rc_http_req *req, const char *name) {
    for (size_t i = 0; i < req->n_query; i++)
        if (!strcmp(req->query[i].name, name)) return req->query[i].value;
    return NULL;
}

/* ---- response ----------------------------------------------------------------- */

void rc__http_res_init(rc_http_res *res) {
    memset(res, 0, sizeof *res);
    rc_buf_init(&res->headers);
    rc_buf_init(&res->body);
    rc__http_park_init(&res->park);
}

void rc__http_res_free(rc_http_res *res) {
    rc__http_res_finish(res);
    rc_buf_free(&res->headers);
    rc_buf_free(&res->body);
    if (res->stream) res->stream->free(res->stream);
    res->stream = NULL;
    rc__http_park_destroy(&res->park);
}

/* Buffers beyond this are freed rather than kept for the connection's next
 * request: an idle keep-alive connection should not pin a large answer. */
#define RES_KEEP (16 * 1024)

static void buf_recycle(rc_buf *b) {
    if (b->cap > RES_KEEP) {
        rc_buf_free(b);
        rc_buf_init(b);
    } else {
        rc_buf_reset(b);
    }
}

void rc__http_res_reset(rc_http_res *res) {
    rc__http_res_finish(res);
    buf_recycle(&res->headers);
    buf_recycle(&res->body);
    if (res->stream) res->stream->free(res->stream);
    res->stream = NULL;
    res->status = 0;
    res->deferred = 0;
    /* Under the lock: a waker that resumed the previous request may still
     * be inside rc__http_park_wake(); it leaves before we clear its state. */
    pthread_mutex_lock(&res->park.mu);
    res->park.parked = 0;
    res->park.pending = 0;
    pthread_mutex_unlock(&res->park.mu);
}

void rc__http_res_header(rc_http_res *res, const char *name, const char *value) {
    rc_buf_append(&res->headers, name, strlen(name) + 1);
    rc_buf_append(&res->headers, value, strlen(value) + 1);
}

void rc__http_res_send(rc_http_res *res, int status, const char *ctype, const void *body,
                       size_t len) {
    res->status = status;
    if (ctype) rc__http_res_header(res, "Content-Type", ctype);
    rc_buf_reset(&res->body);
    rc_buf_append(&res->body, body, len);
}

void rc__http_res_problem_http(rc_http_res *res, int http, const char *slug, const char *title,
                               const char *detail) {
    rc_buf b = RC_BUF_INIT;
    /* A relative reference (RFC 9457 3.1.1): resolved against the server's
     * own address, so the type never points at a domain we do not own. */
    rc_buf_puts(&b, "{\"type\":\"/problems/");
    rc_buf_puts(&b, slug);
    rc_buf_puts(&b, "\",\"title\":");
    rc__http_json_str(&b, title, strlen(title));
    rc_buf_printf(&b, ",\"status\":%d,\"detail\":", http);
    /* Details may quote client bytes; keep the document valid JSON. */
    if (detail && rc_valid_utf8(detail, strlen(detail))) rc__http_json_str(&b, detail, strlen(detail));
    else rc__http_json_str(&b, title, strlen(title));
    rc_buf_putc(&b, '}');
    rc_buf_free(&res->headers);
    rc_buf_init(&res->headers);
    rc__http_res_send(res, http, "application/problem+json", b.p, b.len);
    rc_buf_free(&b);
}

void rc__http_res_problem(rc_http_res *res, int code, const char *detail) {
    char slug[48];
    const char *name = rc_status_name(code);
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof slug; i++)
        slug[i] = name[i] == '_' ? '-' : (char)(name[i] | 0x20);
    slug[i] = '\0';
    rc__http_res_problem_http(res, rc_status_http(code), slug, rc_strerror(code),
                              detail && *detail ? detail : rc_strerror(code));
    /* Retention: name the earliest stored seq as a member too, so that a
     * client can resume from it without parsing the detail. */
    const char *e = code == RC_TRIMMED && detail ? strstr(detail, RC_TRIMMED_EARLIEST) : NULL;
    if (e && res->body.len && res->body.p[res->body.len - 1] == '}') {
        unsigned long long first = strtoull(e + strlen(RC_TRIMMED_EARLIEST), NULL, 10);
        res->body.len--;
        rc_buf_printf(&res->body, ",\"earliest_seq\":%llu}", first);
    }
}

void rc__http_res_defer(rc_http_res *res) { res->deferred = 1; }

void rc__http_res_defer_finish(rc_http_res *res, void (*finish)(rc_http_res *, void *), void *arg) {
    res->deferred = 1;
    res->finish = finish;
    res->finish_arg = arg;
}

void rc__http_res_finish(rc_http_res *res) {
    void (*f)(rc_http_res *, void *) = res->finish;
    if (!f) return;
    res->finish = NULL;
    f(res, res->finish_arg);
}

void rc__http_res_complete(rc_http_res *res) { rc__http_park_wake(&res->park); }

/* ---- pure codecs ---------------------------------------------------------------- */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rc__http_pct_decode(const char *s, size_t n, int plus_space, rc_buf *out) {
    rc_buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) return RC_INVALID;
            c = (unsigned char)(hi * 16 + lo);
            if (c == 0) return RC_INVALID;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == 0) {
            return RC_INVALID;
        }
        rc_buf_putc(out, (char)c);
    }
    rc_buf_append(out, "", 0); /* NUL-terminated even when nothing was decoded */
    return RC_OK;
}

void rc__http_pct_encode_header(const char *s, size_t n, rc_buf *out) {
    static const char hex[] = "0123456789ABCDEF";
    rc_buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '%') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc_buf_append(out, e, 3);
        } else {
            rc_buf_putc(out, (char)c);
        }
    }
}

int rc__http_split_target(const char *target, rc_buf *store, char **path, rc_http_param **params,
                          size_t *n) {
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    size_t count = 0;
    *params = NULL;
    *n = 0;
    rc_buf_reset(store);
    /* Offsets first, pointers at the end: the store may move while it grows. */
    size_t offs[64][2];
    rc_buf_append(store, target, plen);
    rc_buf_putc(store, '\0');
    if (q) {
        const char *p = q + 1;
        while (*p && count < 64) {
            const char *amp = strchr(p, '&');
            size_t len = amp ? (size_t)(amp - p) : strlen(p);
            if (len) {
                const char *eq = memchr(p, '=', len);
                size_t kl = eq ? (size_t)(eq - p) : len;
                offs[count][0] = store->len;
                if (rc__http_pct_decode(p, kl, 1, store)) return RC_INVALID;
                rc_buf_putc(store, '\0');
                offs[count][1] = store->len;
                if (eq && rc__http_pct_decode(eq + 1, len - kl - 1, 1, store)) return RC_INVALID;
                rc_buf_putc(store, '\0');
                count++;
            }
            if (!amp) break;
            p = amp + 1;
        }
    }
    *path = store->p;
    if (count) {
        *params = calloc(count, sizeof **params);
        if (!*params) return RC_NOMEM;
        for (size_t i = 0; i < count; i++) {
            (*params)[i].name = store->p + offs[i][0];
            (*params)[i].value = store->p + offs[i][1];
        }
    }
    *n = count;
    return RC_OK;
}

void rc__http_json_str(rc_buf *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    rc_buf_reserve(out, n + 2);
    rc_buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        rc_buf_append(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': rc_buf_append(out, "\\\"", 2); break;
        case '\\': rc_buf_append(out, "\\\\", 2); break;
        case '\n': rc_buf_append(out, "\\n", 2); break;
        case '\r': rc_buf_append(out, "\\r", 2); break;
        case '\t': rc_buf_append(out, "\\t", 2); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc_buf_append(out, e, 6);
        }
        }
    }
    rc_buf_append(out, s + run, n - run);
    rc_buf_putc(out, '"');
}

void rc__http_media_type(const char *v, size_t n, char *out, size_t outlen) {
    size_t i = 0, o = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    while (i < n && v[i] != ';' && v[i] != ',' && v[i] != ' ' && v[i] != '\t' && o + 1 < outlen) {
        char c = v[i++];
        out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
    out[o] = '\0';
}

int rc__http_accepts(const char *accept, const char *mt) {
    if (!accept) return 0;
    const char *slash = strchr(mt, '/');
    size_t tlen = slash ? (size_t)(slash - mt) : strlen(mt);
    const char *p = accept;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        rc__http_media_type(p, len, item, sizeof item);
        if (!strcmp(item, mt)) return 1;
        if (slash && !strncmp(item, mt, tlen) && !strcmp(item + tlen, "/*")) return 1;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

void rc__http_put_stored(rc_buf *out, const char *json, size_t len, uint64_t seq) {
    /* The stored form is an object without seq: splice it in before the
     * closing brace rather than decoding and re-encoding. */
    while (len && json[len - 1] != '}') len--;
    if (len < 2) {
        rc_buf_puts(out, "{\"seq\":");
        rc_buf_put_u64(out, seq);
        rc_buf_putc(out, '}');
        return;
    }
    size_t body = len - 1;
    int empty = 1;
    for (size_t i = 1; i < body; i++)
        if (json[i] != ' ' && json[i] != '\n' && json[i] != '\t' && json[i] != '\r') empty = 0;
    rc_buf_reserve(out, len + 32);
    rc_buf_append(out, json, body);
    rc_buf_append(out, empty ? "\"seq\":" : ",\"seq\":", empty ? 6 : 7);
    rc_buf_put_u64(out, seq);
    rc_buf_putc(out, '}');
}

int rc__http_parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!s || !*s || strlen(s) > 20) return RC_INVALID;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return RC_INVALID;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return RC_INVALID;
        v = v * 10 + d;
    }
    *out = v;
    return RC_OK;
}

/* ---- env ---------------------------------------------------------------------- */

int rc__http_env_init(rc_http_env *env, rc_store *st, rc_hub *hub, rc_config *cfg) {
    memset(env, 0, sizeof *env);
    env->st = st;
    env->hub = hub;
    env->cfg = cfg;
    atomic_init(&env->stopping, 0);
    atomic_init(&env->inflight, 0);
    pthread_mutex_init(&env->sse_mu, NULL);
    if (!(env->metrics = rc__http_metrics_new())) {
        pthread_mutex_destroy(&env->sse_mu);
        return RC_NOMEM;
    }
    rc__http_env_refresh(env);
    return RC_OK;
}

void rc__http_env_refresh(rc_http_env *env) {
    if (!env->cfg) return;
    atomic_store_explicit(&env->max_event, rc_config_int(env->cfg, "max-event-size"),
                          memory_order_relaxed);
    atomic_store_explicit(&env->max_batch, rc_config_int(env->cfg, "max-batch"),
                          memory_order_relaxed);
}

void rc__http_env_destroy(rc_http_env *env) {
    rc__http_metrics_free(env->metrics);
    pthread_mutex_destroy(&env->sse_mu);
    env->metrics = NULL;
}
