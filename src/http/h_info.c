/* SPDX-License-Identifier: Apache-2.0 */
/* /health, /info and /metrics: what an operator or a load balancer asks. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/http_internal.h"
#include "redcar/procstats.h"

void rc__h_health(const rc_http_req *req, rc_http_res *res) {
    rc_store_stats s;
    int rc = rc_store_stats_get(req->env->st, &s);
    if (rc != RC_OK) {
        rc_buf b = RC_BUF_INIT;
        rc_buf_puts(&b, "{\"status\":");
        const char *why = rc_strerror(rc);
        rc__http_json_str(&b, why, strlen(why));
        rc_buf_putc(&b, '}');
        rc__http_res_send(res, 503, "application/json", b.p, b.len);
        rc_buf_free(&b);
        return;
    }
    char why[200];
    if (rc_store_refusing(req->env->st, why, sizeof why)) { /* cluster mode: see docs/cluster.md */
        rc_buf b = RC_BUF_INIT;
        rc_buf_puts(&b, "{\"status\":\"refusing writes\",\"reason\":");
        rc__http_json_str(&b, why, strlen(why));
        rc_buf_putc(&b, '}');
        rc__http_res_send(res, 503, "application/json", b.p, b.len);
        rc_buf_free(&b);
        return;
    }
    rc__http_res_send(res, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

/* The listeners /info reports: field, then the setting holding its address.
 * Each field comes from its own setting, never from the door that happens
 * to answer: asked over HTTPS, "http" must still be the plain listener. */
static const struct {
    const char *field, *setting;
} listeners[] = {{"http", "http"}, {"https", "https"}, {"resp", "resp"}, {"resp_tls", "tls-port"}};

/* ,"field":"HOST:PORT", or null when the listener is off (setting ""). The
 * server records the bound address in the setting once it listens, so a
 * port 0 reads as the port picked. */
static void put_listener(rc_buf *b, rc_config *cfg, const char *field, const char *setting) {
    char addr[300];
    rc_config_str(cfg, setting, addr, sizeof addr);
    rc_buf_printf(b, ",\"%s\":", field);
    if (addr[0]) rc__http_json_str(b, addr, strlen(addr));
    else rc_buf_puts(b, "null");
}

void rc__h_info(const rc_http_req *req, rc_http_res *res) {
    rc_http_env *env = req->env;
    rc_store_stats s;
    memset(&s, 0, sizeof s);
    int rc = rc_store_stats_get(env->st, &s);
    if (rc != RC_OK) {
        rc__http_res_problem(res, rc, "store statistics unavailable");
        return;
    }
    rc_buf b = RC_BUF_INIT;
    rc_buf_puts(&b, "{\"version\":\"" RC_VERSION "\"");
    rc_buf_printf(&b, ",\"uptime_s\":%" PRId64, rc_procstats_uptime_ms() / 1000);
    rc_buf_printf(&b, ",\"seq\":%" PRIu64 ",\"events\":%" PRIu64 ",\"keys\":%" PRIu64, s.head_seq,
                  s.events, s.keys);
    rc_buf_printf(&b, ",\"subscribers\":%zu", rc_hub_subscribers(env->hub));
    for (size_t i = 0; i < sizeof listeners / sizeof *listeners; i++)
        put_listener(&b, env->cfg, listeners[i].field, listeners[i].setting);
    rc_store_cluster_info ci;
    if (rc_store_cluster_info_get(env->st, &ci)) { /* cluster mode: docs/cluster.md */
        rc_buf_printf(&b, ",\"cluster\":{\"connected\":%s,\"serving\":%s,\"applied_seq\":%" PRIu64
                          ",\"stream_last_seq\":%" PRIu64 ",\"lag\":%" PRIu64
                          ",\"published_messages\":%" PRIu64 ",\"coalesced_requests\":%" PRIu64
                          ",\"waiting_requests\":%" PRIu64 ",\"refusing_reason\":",
                      ci.connected ? "true" : "false", ci.refusing ? "false" : "true", ci.applied,
                      ci.stream_last, ci.lag, ci.published, ci.coalesced, ci.waiting);
        if (ci.refusing) rc__http_json_str(&b, ci.why, strlen(ci.why));
        else rc_buf_puts(&b, "null");
        rc_buf_putc(&b, '}');
    }
    rc_buf_putc(&b, '}');
    rc__http_res_send(res, 200, "application/json", b.p, b.len);
    rc_buf_free(&b);
}

void rc__h_metrics(const rc_http_req *req, rc_http_res *res) {
    rc_buf b = RC_BUF_INIT;
    rc__http_metrics_write(req->env->metrics, req->env, &b);
    rc__http_res_send(res, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
    rc_buf_free(&b);
}
