/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event commands of redcar-ctl: emit (POST /events), events
 * (GET /events, following next-page links) and tail (the SSE stream
 * /events/stream, resumed with Last-Event-ID after a drop).
 *
 * An event built from flags goes through the project's own event model and
 * validator (redcar/event.h), so a mistake is reported before anything is
 * sent and the JSON is exactly what the server's codec expects. An event
 * read with -f is sent as written; the server validates it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "ctl.h"
#include "output.h"
#include "redcar/event.h"

#define MAX_EVENT_INPUT (64u * 1024 * 1024)

#define FILTER_OPTS                                                              \
    {"type", 0, 1, "TYPE", "only events of this type"},                          \
    {"source", 0, 1, "SOURCE", "only events from this source"},                  \
    {"subject", 0, 1, "SUBJECT", "only events with this subject"},               \
    {"subject-prefix", 0, 1, "PREFIX", "only events whose subject starts so"},   \
    {"since", 0, 1, "TIME", "only events with time >= TIME (RFC 3339)"},         \
    {"until", 0, 1, "TIME", "only events with time < TIME (RFC 3339)"}

const ctl_opt ctl_emit_opts[] = {
    {"type", 0, 1, "TYPE", "event type (required without -f)"},
    {"source", 0, 1, "URI", "event source (default /redcar-ctl)"},
    {"id", 0, 1, "ID", "event id (default: a random UUID)"},
    {"subject", 0, 1, "SUBJECT", "event subject"},
    {"time", 0, 1, "TIME", "event time, RFC 3339 (default: now)"},
    {"dataschema", 0, 1, "URI", "data schema URI"},
    {"data", 'd', 1, "DATA", "event data"},
    {"data-file", 0, 1, "FILE", "event data read from FILE (\"-\" = stdin)"},
    {"content-type", 't', 1, "TYPE", "datacontenttype of the data"},
    {"ext", 'x', 1, "NAME=VALUE", "extension attribute (repeatable; a string)"},
    {"file", 'f', 1, "FILE", "send the JSON event or array of events in FILE (\"-\" = stdin)"},
    {"expect-seq", 0, 1, "SEQ",
     "append only if the latest event of the subject is SEQ (0: none; else exit code 3)"},
    {"expect-subject", 0, 1, "SUBJECT",
     "with --expect-seq: check SUBJECT instead of the event's own"},
    {0}};

const ctl_opt ctl_events_opts[] = {
    {"from", 0, 1, "SEQ", "start at sequence number SEQ (inclusive)"},
    {"after", 0, 1, "SEQ", "start after sequence number SEQ"},
    {"limit", 'l', 1, "N", "events per page (server default 100, max 10000)"},
    {"order", 0, 1, "ORDER", "asc (default) or desc"},
    FILTER_OPTS,
    {"all", 'a', 0, NULL, "follow the next-page links to the end"},
    {0}};

const ctl_opt ctl_tail_opts[] = {
    {"from", 0, 1, "SEQ", "replay from sequence number SEQ first (default: only new events)"},
    FILTER_OPTS,
    {"name", 0, 1, "NAME", "durable subscription name (the server keeps its cursor)"},
    {"cursor", 0, 1, "NAME", "follow the durable consumer NAME (see `cursor`), acknowledging "
                             "what is printed"},
    {"member", 'm', 1, "NAME", "with --cursor on a group: the member name"},
    {"count", 'n', 1, "N", "exit after N events"},
    {"idle-timeout", 0, 1, "SECONDS", "reconnect when nothing (not even a heartbeat) arrives "
                                      "for SECONDS (default 60)"},
    {0}};

static const char *const filter_names[][2] = {
    {"type", "type"},       {"source", "source"}, {"subject", "subject"},
    {"subject-prefix", "subject_prefix"}, {"since", "since"}, {"until", "until"}};

static void add_filters(rc_buf *path, const ctl_args *a) {
    for (size_t i = 0; i < sizeof filter_names / sizeof *filter_names; i++)
        ctl_query_add(path, filter_names[i][1], ctl_opt_str(a, filter_names[i][0]));
}

/* ---- emit --------------------------------------------------------------- */

static void new_uuid(char out[37]) {
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { /* no entropy source: time and pid still make it unique enough */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            for (size_t i = got; i < sizeof r; i++)
                r[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (getpid() >> (i % 2 * 8)) ^ i);
            break;
        }
        got += (size_t)n;
    }
    r[6] = (unsigned char)((r[6] & 0x0F) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

static const char *const attr_flags[] = {"type", "source", "id", "subject", "time",
                                         "dataschema", "data", "data-file", "content-type", "ext"};

/* Build and validate the event described by the flags; body gets its JSON. */
static int event_from_flags(const ctl_args *a, rc_buf *body) {
    rc_event *ev = rc_event_new();
    rc_buf data = RC_BUF_INIT;
    rc_err err;
    char id[37], now[40];
    int rc = CTL_EXIT_USAGE;
    if (!ev) abort();
    const char *type = ctl_opt_str(a, "type"), *id_opt = ctl_opt_str(a, "id");
    const char *src = ctl_opt_str(a, "source"), *tm = ctl_opt_str(a, "time");
    const char *dfile = ctl_opt_str(a, "data-file"), *dtext = ctl_opt_str(a, "data");
    const char *ctype = ctl_opt_str(a, "content-type");
    if (!type) {
        ctl_usage_error("emit: --type is required (or give the event with -f FILE)");
        goto done;
    }
    if (dfile && dtext) {
        ctl_usage_error("emit: give --data or --data-file, not both");
        goto done;
    }
    if (!id_opt) new_uuid(id);
    if (!tm) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rc_time_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, now, sizeof now);
    }
    if (rc_event_set(ev, "specversion", "1.0") != RC_OK ||
        rc_event_set(ev, "type", type) != RC_OK ||
        rc_event_set(ev, "source", src ? src : "/redcar-ctl") != RC_OK ||
        rc_event_set(ev, "id", id_opt ? id_opt : id) != RC_OK ||
        rc_event_set(ev, "time", tm ? tm : now) != RC_OK ||
        rc_event_set(ev, "subject", ctl_opt_str(a, "subject")) != RC_OK ||
        rc_event_set(ev, "dataschema", ctl_opt_str(a, "dataschema")) != RC_OK)
        abort(); /* only RC_NOMEM can fail here */
    for (int i = 0; i < a->nopt; i++) {
        if (strcmp(a->opt[i].opt->name, "ext") != 0) continue;
        const char *nv = a->opt[i].val, *eq = strchr(nv, '=');
        char name[64];
        if (!eq || (size_t)(eq - nv) >= sizeof name) {
            ctl_usage_error("--ext: expected NAME=VALUE, got '%s'", nv);
            goto done;
        }
        memcpy(name, nv, (size_t)(eq - nv));
        name[eq - nv] = '\0';
        if (!rc_valid_ext_name(name) || rc_event_get(ev, name, now, sizeof now) ||
            strcmp(name, "seq") == 0) {
            ctl_usage_error("--ext: '%s' is not a usable extension name (lower-case a-z0-9, "
                            "not a standard attribute, not seq)", name);
            goto done;
        }
        if (rc_event_set_ext_string(ev, name, RC_EXT_STRING, eq + 1) != RC_OK) abort();
    }
    if (dfile) {
        if ((rc = ctl_read_file(dfile, MAX_EVENT_INPUT, &data)) != CTL_EXIT_OK) goto done;
        rc = CTL_EXIT_USAGE;
    } else if (dtext) {
        rc_buf_puts(&data, dtext);
    }
    if (dfile || dtext) {
        if (rc_event_set_data(ev, ctype, data.p ? data.p : "", data.len, RC_DATA_NONE) != RC_OK)
            abort();
    } else if (ctype && rc_event_set(ev, "datacontenttype", ctype) != RC_OK) {
        abort();
    }
    if (rc_event_validate(ev, &err) != RC_OK) {
        fprintf(stderr, "redcar-ctl: invalid event: %s\n", rc_err_msg(&err));
        rc = CTL_EXIT_SERVER;
        goto done;
    }
    rc_event_encode_json(ev, 0, body);
    rc = CTL_EXIT_OK;
done:
    rc_buf_free(&data);
    rc_event_free(ev);
    return rc;
}

static void emit_table(const cJSON *j) {
    static const char *const cols[] = {"SEQ", "DUPLICATE", NULL};
    ctl_table *t = ctl_table_new(cols);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items"), *it;
    char tmp[64];
    if (cJSON_IsArray(items)) {
        cJSON_ArrayForEach(it, items) {
            ctl_table_row(t);
            ctl_table_cell(t, ctl_json_text(it, "seq", tmp, sizeof tmp));
            ctl_table_cell(t, ctl_json_text(it, "duplicate", tmp, sizeof tmp));
        }
    } else {
        ctl_table_row(t);
        ctl_table_cell(t, ctl_json_text(j, "seq", tmp, sizeof tmp));
        ctl_table_cell(t, ctl_json_text(j, "duplicate", tmp, sizeof tmp));
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
}

int ctl_cmd_emit(ctl_ctx *ctx, const ctl_args *a) {
    rc_buf body = RC_BUF_INIT, path = RC_BUF_INIT;
    ctl_resp resp;
    cJSON *j = NULL;
    uint64_t seq = 0;
    const char *file = ctl_opt_str(a, "file");
    const char *ctype = "application/cloudevents+json";
    int rc;
    ctl_resp_init(&resp);
    if ((rc = ctl_opt_u64(a, "expect-seq", 0, INT64_MAX, &seq)) != CTL_EXIT_OK) goto done;
    if (ctl_opt_has(a, "expect-subject") && !ctl_opt_has(a, "expect-seq")) {
        rc = ctl_usage_error("emit: --expect-subject needs --expect-seq");
        goto done;
    }
    if (file) {
        for (size_t i = 0; i < sizeof attr_flags / sizeof *attr_flags; i++)
            if (ctl_opt_has(a, attr_flags[i])) {
                rc = ctl_usage_error("emit: --%s cannot be combined with -f (the file holds the "
                                     "whole event)", attr_flags[i]);
                goto done;
            }
        if ((rc = ctl_read_file(file, MAX_EVENT_INPUT, &body)) != CTL_EXIT_OK) goto done;
        size_t k = 0;
        while (k < body.len && strchr(" \t\r\n", body.p[k])) k++;
        if (k == body.len) {
            rc = ctl_usage_error("emit: %s is empty", strcmp(file, "-") ? file : "stdin");
            goto done;
        }
        if (body.p[k] == '[') ctype = "application/cloudevents-batch+json";
    } else if ((rc = event_from_flags(a, &body)) != CTL_EXIT_OK) {
        goto done;
    }
    rc_buf_puts(&path, "/events");
    ctl_query_add(&path, "expect_seq", ctl_opt_str(a, "expect-seq"));
    ctl_query_add(&path, "expect_subject", ctl_opt_str(a, "expect-subject"));
    ctl_req req = {.method = "POST", .path = path.p, .ctype = ctype, .body = body.p,
                   .body_len = body.len};
    if ((rc = ctl_client_call(ctx->client, &req, &resp)) != CTL_EXIT_OK) goto done;
    if (ctx->out == CTL_OUT_JSON) {
        ctl_print_raw_json(resp.body.p, resp.body.len);
    } else if ((j = ctl_resp_json(&resp))) {
        emit_table(j);
    } else {
        rc = CTL_EXIT_SERVER;
    }
done:
    cJSON_Delete(j);
    ctl_resp_free(&resp);
    rc_buf_free(&body);
    rc_buf_free(&path);
    return rc;
}

/* ---- events ------------------------------------------------------------- */

/* The inside of a JSON array text, trimmed: "[a,b]" -> "a,b". */
static void array_inner(const char *p, size_t n, const char **in, size_t *inlen) {
    while (n && strchr(" \t\r\n", p[n - 1])) n--;
    while (n && strchr(" \t\r\n", *p)) p++, n--;
    if (n >= 2) p++, n -= 2;
    while (n && strchr(" \t\r\n", p[n - 1])) n--;
    while (n && strchr(" \t\r\n", *p)) p++, n--;
    *in = p;
    *inlen = n;
}

int ctl_cmd_events(ctl_ctx *ctx, const ctl_args *a) {
    rc_buf path = RC_BUF_INIT;
    ctl_resp resp;
    ctl_table *t = NULL;
    uint64_t n;
    const char *order = ctl_opt_str(a, "order");
    int rc, all = ctl_opt_has(a, "all"), opened = 0, any = 0;
    ctl_resp_init(&resp);
    if ((rc = ctl_opt_u64(a, "from", 0, INT64_MAX, &n)) != CTL_EXIT_OK ||
        (rc = ctl_opt_u64(a, "after", 0, INT64_MAX, &n)) != CTL_EXIT_OK ||
        (rc = ctl_opt_u64(a, "limit", 1, 10000, &n)) != CTL_EXIT_OK)
        goto done;
    if (ctl_opt_has(a, "from") && ctl_opt_has(a, "after")) {
        rc = ctl_usage_error("events: give --from or --after, not both");
        goto done;
    }
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        rc = ctl_usage_error("--order: expected asc or desc, got '%s'", order);
        goto done;
    }
    rc_buf_puts(&path, "/events");
    ctl_query_add(&path, "from", ctl_opt_str(a, "from"));
    ctl_query_add(&path, "after", ctl_opt_str(a, "after"));
    ctl_query_add(&path, "limit", ctl_opt_str(a, "limit"));
    ctl_query_add(&path, "order", order);
    add_filters(&path, a);

    if (ctx->out == CTL_OUT_TABLE) t = ctl_events_table_new();
    for (;;) {
        ctl_req req = {.method = "GET", .path = path.p,
                       .accept = "application/cloudevents-batch+json"};
        if ((rc = ctl_client_call(ctx->client, &req, &resp)) != CTL_EXIT_OK) break;
        cJSON *j = ctl_resp_json(&resp);
        if (!j || !cJSON_IsArray(j)) {
            if (j) fprintf(stderr, "redcar-ctl: unexpected answer: not a JSON array\n");
            cJSON_Delete(j);
            rc = CTL_EXIT_SERVER;
            break;
        }
        if (t) {
            const cJSON *ev;
            cJSON_ArrayForEach(ev, j) ctl_events_table_add(t, ev);
        } else if (!all) {
            ctl_print_raw_json(resp.body.p, resp.body.len);
        } else {
            /* Pages are streamed out as one array, the server's bytes unchanged. */
            const char *in;
            size_t inlen;
            array_inner(resp.body.p, resp.body.len, &in, &inlen);
            if (!opened) fputs("[", stdout), opened = 1;
            if (inlen) {
                if (any) fputs(",\n", stdout);
                fwrite(in, 1, inlen, stdout);
                any = 1;
            }
        }
        int empty = cJSON_GetArraySize(j) == 0;
        cJSON_Delete(j);
        char next[2048];
        if (!all || empty || !ctl_resp_header(&resp, "redcar-next", next, sizeof next) ||
            next[0] != '/' || strcmp(next, path.p) == 0)
            break;
        rc_buf_reset(&path);
        rc_buf_puts(&path, next);
    }
    if (opened) fputs("]\n", stdout);
    if (t && rc == CTL_EXIT_OK) ctl_table_print(t, stdout);
done:
    ctl_table_free(t);
    ctl_resp_free(&resp);
    rc_buf_free(&path);
    return rc;
}

/* ---- tail --------------------------------------------------------------- */

static volatile sig_atomic_t tail_stop;

static void on_signal(int sig) {
    (void)sig;
    tail_stop = 1;
}

typedef struct tail_state {
    ctl_ctx *ctx;
    uint64_t count, max;     /* events printed; max 0 = unbounded */
    uint64_t last_seq;       /* highest seq printed (skip replays after a reconnect) */
    int have_seq;
    int header_done;
} tail_state;

static int on_event(void *arg, const char *id, const char *event, const char *data, size_t len) {
    tail_state *ts = arg;
    (void)event;
    cJSON *ev = cJSON_ParseWithLength(data, len);
    uint64_t seq = 0;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(ev, "seq");
    if (cJSON_IsNumber(s) && s->valuedouble >= 0 && s->valuedouble < 1e18)
        seq = (uint64_t)s->valuedouble;
    else if (id[0]) seq = strtoull(id, NULL, 10);
    if (!cJSON_IsObject(ev)) {
        rc_buf b = RC_BUF_INIT;
        ctl_sanitize(&b, data, len, 200);
        fprintf(stderr, "redcar-ctl: skipped a message that is not a JSON event: %s\n",
                b.p ? b.p : "");
        rc_buf_free(&b);
        cJSON_Delete(ev);
        return 0;
    }
    if (seq && ts->have_seq && seq <= ts->last_seq) { /* already printed before a reconnect */
        cJSON_Delete(ev);
        return 0;
    }
    if (seq) ts->last_seq = seq, ts->have_seq = 1;
    if (ts->ctx->out == CTL_OUT_JSON) {
        fwrite(data, 1, len, stdout);
        fputc('\n', stdout);
    } else {
        ctl_event_line(stdout, ev, !ts->header_done);
        ts->header_done = 1;
    }
    fflush(stdout);
    cJSON_Delete(ev);
    ts->count++;
    return ts->max && ts->count >= ts->max;
}

/* Sleep ms milliseconds unless a stop is requested. */
static void nap(long ms) {
    while (ms > 0 && !tail_stop) {
        struct timespec ts = {0, (ms > 100 ? 100 : ms) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= 100;
    }
}

int ctl_cmd_tail(ctl_ctx *ctx, const ctl_args *a) {
    if (ctl_opt_str(a, "cursor")) return ctl_cmd_tail_cursor(ctx, a);
    tail_state ts = {.ctx = ctx};
    uint64_t from = 0, idle = 60;
    int rc, ever_connected = 0;
    long backoff = 250;
    if ((rc = ctl_opt_u64(a, "from", 0, INT64_MAX, &from)) != CTL_EXIT_OK ||
        (rc = ctl_opt_u64(a, "count", 1, UINT64_MAX, &ts.max)) != CTL_EXIT_OK ||
        (rc = ctl_opt_u64(a, "idle-timeout", 1, 86400, &idle)) != CTL_EXIT_OK)
        return rc;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: wake up blocking calls */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    rc_buf path = RC_BUF_INIT;
    ctl_resp resp;
    ctl_resp_init(&resp);
    for (;;) {
        char from_s[32], last_id[32];
        rc_buf_reset(&path);
        rc_buf_puts(&path, "/events/stream");
        /* After a drop, resume right after the last event printed: both as
         * Last-Event-ID (the SSE way) and as from= (so that any server gives
         * the same answer). */
        if (ts.have_seq) {
            snprintf(from_s, sizeof from_s, "%llu", (unsigned long long)ts.last_seq + 1);
            snprintf(last_id, sizeof last_id, "%llu", (unsigned long long)ts.last_seq);
            ctl_query_add(&path, "from", from_s);
        } else {
            ctl_query_add(&path, "from", ctl_opt_str(a, "from"));
        }
        add_filters(&path, a);
        ctl_query_add(&path, "name", ctl_opt_str(a, "name"));
        int connected = 0;
        ctl_stream s = {.path = path.p, .last_event_id = ts.have_seq ? last_id : NULL,
                        .idle_timeout_ms = (long)idle * 1000, .stop = &tail_stop,
                        .fn = on_event, .arg = &ts};
        ctl_stream_end end = ctl_client_stream(ctx->client, &s, &resp, &connected);
        if (connected) {
            ever_connected = 1;
            backoff = 250;
        }
        if (end == CTL_STREAM_STOPPED || tail_stop) {
            rc = CTL_EXIT_OK;
            break;
        }
        if (end == CTL_STREAM_HTTP_ERROR) {
            rc = ctl_exit_for_http(resp.status);
            ctl_report_problem(&resp);
            break;
        }
        if (end == CTL_STREAM_BAD) {
            fprintf(stderr, "redcar-ctl: the server did not send a valid event stream\n");
            rc = CTL_EXIT_SERVER;
            break;
        }
        if (end == CTL_STREAM_NOCONNECT && !ever_connected) {
            rc = CTL_EXIT_CONNECT;
            break;
        }
        if (connected) fprintf(stderr, "redcar-ctl: stream interrupted, reconnecting\n");
        nap(backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    ctl_resp_free(&resp);
    rc_buf_free(&path);
    return rc;
}
