/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics of the HTTP door. Counters are relaxed atomics in
 * fixed arrays indexed by route and status code, so that recording costs a
 * few atomic adds on the request path and no lock; /metrics reads them.
 * Store-wide figures (appends, bytes, head) come from the store itself, so
 * they count both doors.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http/h_consumers.h"
#include "http/http_internal.h"
#include "redcar/procstats.h"

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
#define NB (sizeof bounds / sizeof bounds[0])
#define NROUTES_MAX 64 /* rows of the route table counted apart; more share "unmatched" */
#define NCODES 600

typedef struct route_hist {
    atomic_uint_fast64_t bucket[NB + 1]; /* last: +Inf */
    atomic_uint_fast64_t sum_ns;
} route_hist;

struct rc_http_metrics {
    atomic_uint_fast64_t requests[NROUTES_MAX + 1][NCODES];
    route_hist hist[NROUTES_MAX + 1];
    atomic_uint_fast64_t appended_events;
    atomic_uint_fast64_t appended_bytes;
};

rc_http_metrics *rc__http_metrics_new(void) { return calloc(1, sizeof(rc_http_metrics)); }

void rc__http_metrics_free(rc_http_metrics *m) { free(m); }

static size_t slot(int route) {
    return route >= 0 && (size_t)route < rc__http_nroutes && route < NROUTES_MAX ? (size_t)route
                                                                                   : NROUTES_MAX;
}

void rc__http_metrics_observe(rc_http_metrics *m, int route, int status, double seconds) {
    if (!m) return;
    size_t r = slot(route);
    if (status < 100 || status >= NCODES) status = 599;
    atomic_fetch_add_explicit(&m->requests[r][status], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < NB && seconds > bounds[b]) b++;
    atomic_fetch_add_explicit(&m->hist[r].bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->hist[r].sum_ns, (uint_fast64_t)(seconds * 1e9),
                              memory_order_relaxed);
}

void rc__http_metrics_appended(rc_http_metrics *m, uint64_t events, uint64_t bytes) {
    if (!m) return;
    atomic_fetch_add_explicit(&m->appended_events, events, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->appended_bytes, bytes, memory_order_relaxed);
}

static void route_label(size_t r, rc_buf *out) {
    if (r == NROUTES_MAX) {
        rc_buf_puts(out, "method=\"\",route=\"unmatched\"");
        return;
    }
    rc_buf_printf(out, "method=\"%s\",route=\"%s\"", rc__http_routes[r].method,
                  rc__http_routes[r].pattern);
}

void rc__http_metrics_write(rc_http_metrics *m, rc_http_env *env, rc_buf *out) {
    rc_store_stats s;
    memset(&s, 0, sizeof s);
    rc_store_stats_get(env->st, &s);
    rc_buf_puts(out, "# HELP redcar_appends_total Events appended to the log since start (all doors).\n"
                     "# TYPE redcar_appends_total counter\n");
    rc_buf_printf(out, "redcar_appends_total %" PRIu64 "\n", s.appended);
    rc_buf_puts(out, "# HELP redcar_append_bytes_total Request bytes of events appended through HTTP.\n"
                     "# TYPE redcar_append_bytes_total counter\n");
    rc_buf_printf(out, "redcar_append_bytes_total %" PRIu64 "\n",
                  (uint64_t)atomic_load(&m->appended_bytes));
    rc_buf_puts(out, "# HELP redcar_http_appends_total Events appended through HTTP.\n"
                     "# TYPE redcar_http_appends_total counter\n");
    rc_buf_printf(out, "redcar_http_appends_total %" PRIu64 "\n",
                  (uint64_t)atomic_load(&m->appended_events));
    rc_buf_puts(out, "# HELP redcar_http_requests_total HTTP requests by route and status code.\n"
                     "# TYPE redcar_http_requests_total counter\n");
    size_t nr = rc__http_nroutes < NROUTES_MAX ? rc__http_nroutes : NROUTES_MAX;
    for (size_t r = 0; r <= NROUTES_MAX; r++) {
        if (r >= nr && r != NROUTES_MAX) continue;
        for (int c = 100; c < NCODES; c++) {
            uint64_t v = atomic_load_explicit(&m->requests[r][c], memory_order_relaxed);
            if (!v) continue;
            rc_buf_puts(out, "redcar_http_requests_total{");
            route_label(r, out);
            rc_buf_printf(out, ",code=\"%d\"} %" PRIu64 "\n", c, v);
        }
    }
    rc_buf_puts(out, "# HELP redcar_http_request_duration_seconds Time from request headers to the answer.\n"
                     "# TYPE redcar_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= NROUTES_MAX; r++) {
        if (r >= nr && r != NROUTES_MAX) continue;
        uint64_t cum = 0;
        for (size_t b = 0; b <= NB; b++) {
            cum += atomic_load_explicit(&m->hist[r].bucket[b], memory_order_relaxed);
            rc_buf_puts(out, "redcar_http_request_duration_seconds_bucket{");
            route_label(r, out);
            if (b < NB) rc_buf_printf(out, ",le=\"%g\"} %" PRIu64 "\n", bounds[b], cum);
            else rc_buf_printf(out, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        rc_buf_puts(out, "redcar_http_request_duration_seconds_sum{");
        route_label(r, out);
        rc_buf_printf(out, "} %.9f\n",
                      (double)atomic_load_explicit(&m->hist[r].sum_ns, memory_order_relaxed) / 1e9);
        rc_buf_puts(out, "redcar_http_request_duration_seconds_count{");
        route_label(r, out);
        rc_buf_printf(out, "} %" PRIu64 "\n", cum);
    }
    rc_store_cluster_info ci;
    if (rc_store_cluster_info_get(env->st, &ci)) { /* cluster mode: docs/cluster.md */
        rc_buf_printf(out, "# HELP redcar_cluster_connected 1 while connected to a NATS server.\n"
                           "# TYPE redcar_cluster_connected gauge\nredcar_cluster_connected %d\n"
                           "# HELP redcar_cluster_serving 0 while the node refuses writes (see /health).\n"
                           "# TYPE redcar_cluster_serving gauge\nredcar_cluster_serving %d\n"
                           "# HELP redcar_cluster_applied_seq Last stream sequence applied locally.\n"
                           "# TYPE redcar_cluster_applied_seq gauge\nredcar_cluster_applied_seq %" PRIu64 "\n"
                           "# HELP redcar_cluster_stream_last_seq The stream's last sequence as last seen.\n"
                           "# TYPE redcar_cluster_stream_last_seq gauge\n"
                           "redcar_cluster_stream_last_seq %" PRIu64 "\n"
                           "# HELP redcar_cluster_lag Stream messages not yet applied locally.\n"
                           "# TYPE redcar_cluster_lag gauge\nredcar_cluster_lag %" PRIu64 "\n"
                           "# HELP redcar_cluster_published_messages_total Messages this node published.\n"
                           "# TYPE redcar_cluster_published_messages_total counter\n"
                           "redcar_cluster_published_messages_total %" PRIu64 "\n"
                           "# HELP redcar_cluster_coalesced_requests_total Requests that shared a message.\n"
                           "# TYPE redcar_cluster_coalesced_requests_total counter\n"
                           "redcar_cluster_coalesced_requests_total %" PRIu64 "\n"
                           "# HELP redcar_cluster_waiting_requests Requests published or queued, not answered.\n"
                           "# TYPE redcar_cluster_waiting_requests gauge\n"
                           "redcar_cluster_waiting_requests %" PRIu64 "\n",
                      ci.connected, !ci.refusing, ci.applied, ci.stream_last, ci.lag, ci.published,
                      ci.coalesced, ci.waiting);
    }
    rc_buf_puts(out, "# HELP redcar_subscribers Live subscribers of the hub (both doors).\n"
                     "# TYPE redcar_subscribers gauge\n");
    rc_buf_printf(out, "redcar_subscribers %zu\n", rc_hub_subscribers(env->hub));
    rc_buf_puts(out, "# HELP redcar_sse_streams Open SSE streams.\n# TYPE redcar_sse_streams gauge\n");
    rc_buf_printf(out, "redcar_sse_streams %zu\n", rc__http_sse_count(env));
    rc_buf_puts(out, "# HELP redcar_store_bytes Size of the database and its WAL.\n"
                     "# TYPE redcar_store_bytes gauge\n");
    rc_buf_printf(out, "redcar_store_bytes %" PRIu64 "\n", s.bytes);
    rc_buf_puts(out, "# HELP redcar_head_seq Latest sequence number of the log.\n"
                     "# TYPE redcar_head_seq gauge\n");
    rc_buf_printf(out, "redcar_head_seq %" PRIu64 "\n", s.head_seq);
    rc_buf_puts(out, "# HELP redcar_store_commits_total Group commits since start.\n"
                     "# TYPE redcar_store_commits_total counter\n");
    rc_buf_printf(out, "redcar_store_commits_total %" PRIu64 "\n", s.commits);
    rc_buf_puts(out, "# HELP redcar_events Events stored.\n# TYPE redcar_events gauge\n");
    rc_buf_printf(out, "redcar_events %" PRIu64 "\n", s.events);
    /* The figures below are the ones RESP INFO also shows, from the same
     * sources (tests/integration/test_metrics_info.py holds them equal). */
    rc_buf_puts(out, "# HELP redcar_keys Keys in the KV view (not expired).\n# TYPE redcar_keys gauge\n");
    rc_buf_printf(out, "redcar_keys %" PRIu64 "\n", s.keys);
    rc_buf_puts(out, "# HELP redcar_uptime_seconds Seconds since the process started.\n"
                     "# TYPE redcar_uptime_seconds gauge\n");
    rc_buf_printf(out, "redcar_uptime_seconds %" PRId64 "\n", rc_procstats_uptime_ms() / 1000);
    rc_buf_puts(out, "# HELP redcar_connected_clients Clients connected, by door (resp: connections; "
                     "sse: event streams).\n# TYPE redcar_connected_clients gauge\n");
    rc_buf_printf(out, "redcar_connected_clients{door=\"resp\"} %" PRIu64 "\n",
                  rc_procstats_get(RC_PROC_RESP_CLIENTS));
    rc_buf_printf(out, "redcar_connected_clients{door=\"sse\"} %" PRIu64 "\n",
                  rc_procstats_get(RC_PROC_SSE_CLIENTS));
    rc__http_consumer_metrics(env, out);
}
