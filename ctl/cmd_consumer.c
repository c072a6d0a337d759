/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `redcar-ctl cursor ...`, `redcar-ctl group ...` and `tail --cursor`:
 * durable consumers over /cursors (see schemas/openapi.yaml).
 *
 * Both commands drive the same resource; `group` creates consumers in
 * group mode and insists on --member where the server needs one. Each
 * subcommand is a row of a table (name, handler, operand bounds), so the
 * dispatch and the usage text come from one place.
 *
 * `tail --cursor NAME` follows a consumer by long polling its fetch and
 * acknowledging each batch once printed, so an interrupted tail resumes
 * after the last event it printed (and --count N consumes exactly N).
 *
 * Trust boundary: answers are parsed with cJSON and printed through the
 * sanitising table writer (output.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "client.h"
#include "ctl.h"
#include "output.h"

const ctl_opt ctl_consumer_opts[] = {
    {"start", 0, 1, "POS", "create: beginning (default), end, seq:N or time:RFC3339"},
    {"type", 0, 1, "TYPE", "create: only events of this type"},
    {"source", 0, 1, "SOURCE", "create: only events from this source"},
    {"subject", 0, 1, "SUBJECT", "create: only events with this subject"},
    {"subject-prefix", 0, 1, "PREFIX", "create: only subjects starting with PREFIX"},
    {"filters", 0, 1, "JSON", "create: Subscriptions API filters (a JSON array)"},
    {"ack-wait", 0, 1, "MS", "create: lease length (group default 30000, cursor 0)"},
    {"max-deliver", 0, 1, "N", "create: deliveries before dead-lettering (0 = no limit)"},
    {"member", 'm', 1, "NAME", "the member fetching, acking or claiming (groups)"},
    {"limit", 'n', 1, "N", "fetch: most events (default 100)"},
    {"wait", 0, 1, "MS", "fetch: wait up to MS for events when none is due (long poll)"},
    {"delay", 0, 1, "MS", "nack: due again after MS (default 0)"},
    {"min-idle", 0, 1, "MS", "claim: only events idle at least MS (default 0)"},
    {"count", 0, 1, "N", "claim: most events (default 100)"},
    {0}};

typedef int (*sub_fn)(ctl_ctx *ctx, const ctl_args *a, int group);

typedef struct sub_cmd {
    const char *name;
    sub_fn fn;
    int min_ops, max_ops; /* operands after the subcommand; max -1 = any */
    int group_only;
} sub_cmd;

static void consumer_path(rc_buf *p, const char *name, const char *tail) {
    rc_buf_puts(p, "/cursors/");
    ctl_put_escaped(p, name);
    if (tail) rc_buf_puts(p, tail);
}

/* Send and check: the body of a 2xx answer is left in resp. */
static int call(ctl_ctx *ctx, const char *method, const char *path, const char *accept,
                cJSON *body, ctl_resp *resp) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    ctl_req req = {.method = method, .path = path, .accept = accept,
                   .ctype = text ? "application/json" : NULL, .body = text,
                   .body_len = text ? strlen(text) : 0};
    int rc = ctl_client_call(ctx->client, &req, resp);
    cJSON_free(text);
    return rc;
}

static int need_member(const ctl_args *a, int group, const char **member) {
    *member = ctl_opt_str(a, "member");
    if (group && !*member) return ctl_usage_error("--member NAME is required for a group");
    return CTL_EXIT_OK;
}

/* ---- info ------------------------------------------------------------------- */

static const char *const info_cols[] = {"NAME", "MODE", "ACK_SEQ", "HEAD", "LAG", "PENDING",
                                        "DELIVERED", "REDELIVERED", "DEAD", "START", NULL};

static void info_row(ctl_table *t, const cJSON *c) {
    static const char *const keys[] = {"name", "mode", "ack_seq", "head_seq", "lag", "pending",
                                       "delivered", "redelivered", "dead_lettered", "start"};
    char tmp[256];
    ctl_table_row(t);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ctl_table_cell(t, ctl_json_text(c, keys[i], tmp, sizeof tmp));
}

static int print_info(ctl_ctx *ctx, const ctl_resp *resp) {
    if (ctx->out == CTL_OUT_JSON) {
        ctl_print_raw_json(resp->body.p, resp->body.len);
        return CTL_EXIT_OK;
    }
    cJSON *j = ctl_resp_json(resp);
    if (!j) return CTL_EXIT_SERVER;
    ctl_table *t = ctl_table_new(info_cols);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "cursors"), *c;
    if (cJSON_IsArray(list)) {
        cJSON_ArrayForEach(c, list) info_row(t, c);
    } else {
        info_row(t, j);
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
    cJSON_Delete(j);
    return CTL_EXIT_OK;
}

static int sub_create(ctl_ctx *ctx, const ctl_args *a, int group) {
    uint64_t ack_wait = 0, max_deliver = 0;
    int rc;
    if ((rc = ctl_opt_u64(a, "ack-wait", 0, 604800000, &ack_wait)) ||
        (rc = ctl_opt_u64(a, "max-deliver", 0, 1000000, &max_deliver)))
        return rc;
    cJSON *body = cJSON_CreateObject(), *filter = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", a->pos[1]);
    cJSON_AddStringToObject(body, "mode", group ? "group" : "cursor");
    if (ctl_opt_str(a, "start")) cJSON_AddStringToObject(body, "start", ctl_opt_str(a, "start"));
    if (ctl_opt_has(a, "ack-wait")) cJSON_AddNumberToObject(body, "ack_wait_ms", (double)ack_wait);
    if (ctl_opt_has(a, "max-deliver"))
        cJSON_AddNumberToObject(body, "max_deliver", (double)max_deliver);
    static const char *const fields[][2] = {{"type", "type"}, {"source", "source"},
                                            {"subject", "subject"},
                                            {"subject-prefix", "subject_prefix"}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (ctl_opt_str(a, fields[i][0]))
            cJSON_AddStringToObject(filter, fields[i][1], ctl_opt_str(a, fields[i][0]));
    const char *fs = ctl_opt_str(a, "filters");
    if (fs) {
        cJSON *f = cJSON_Parse(fs);
        if (!f) {
            cJSON_Delete(body);
            cJSON_Delete(filter);
            return ctl_usage_error("--filters: not valid JSON");
        }
        cJSON_AddItemToObject(filter, "filters", f);
    }
    cJSON_AddItemToObject(body, "filter", filter);
    ctl_resp resp;
    ctl_resp_init(&resp);
    rc = call(ctx, "POST", "/cursors", NULL, body, &resp);
    if (rc == CTL_EXIT_OK) rc = print_info(ctx, &resp);
    cJSON_Delete(body);
    ctl_resp_free(&resp);
    return rc;
}

static int sub_list(ctl_ctx *ctx, const ctl_args *a, int group) {
    (void)a;
    (void)group;
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = call(ctx, "GET", "/cursors", NULL, NULL, &resp);
    if (rc == CTL_EXIT_OK) rc = print_info(ctx, &resp);
    ctl_resp_free(&resp);
    return rc;
}

static int sub_get(ctl_ctx *ctx, const ctl_args *a, int group) {
    (void)group;
    rc_buf p = RC_BUF_INIT;
    consumer_path(&p, a->pos[1], NULL);
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = call(ctx, "GET", p.p, NULL, NULL, &resp);
    if (rc == CTL_EXIT_OK) rc = print_info(ctx, &resp);
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

static int sub_delete(ctl_ctx *ctx, const ctl_args *a, int group) {
    (void)group;
    rc_buf p = RC_BUF_INIT;
    consumer_path(&p, a->pos[1], NULL);
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = call(ctx, "DELETE", p.p, NULL, NULL, &resp);
    if (rc == CTL_EXIT_OK && ctx->out != CTL_OUT_JSON) printf("deleted %s\n", a->pos[1]);
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

/* ---- fetch / claim ------------------------------------------------------------- */

/* Print an NDJSON batch; *last = highest seq, *seqs (may be NULL) gets all. */
static int print_events(ctl_ctx *ctx, const ctl_resp *resp, int *header, uint64_t *last,
                        cJSON *seqs, size_t *n) {
    ctl_table *t = NULL;
    *n = 0;
    for (const char *p = resp->body.p, *end = p + resp->body.len; p && p < end;) {
        const char *line = p, *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cJSON *ev = len ? cJSON_ParseWithLength(line, len) : NULL;
        p = nl ? nl + 1 : end;
        if (!cJSON_IsObject(ev)) {
            cJSON_Delete(ev);
            continue;
        }
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(ev, "seq");
        if (cJSON_IsNumber(s)) {
            if ((uint64_t)s->valuedouble > *last) *last = (uint64_t)s->valuedouble;
            if (seqs) cJSON_AddItemToArray(seqs, cJSON_CreateNumber(s->valuedouble));
        }
        (*n)++;
        if (ctx->out == CTL_OUT_JSON) {
            fwrite(line, 1, len, stdout);
            fputc('\n', stdout);
        } else if (header) {
            ctl_event_line(stdout, ev, !*header);
            *header = 1;
        } else {
            if (!t) t = ctl_events_table_new();
            ctl_events_table_add(t, ev);
        }
        cJSON_Delete(ev);
    }
    if (t) {
        ctl_table_print(t, stdout);
        ctl_table_free(t);
    }
    fflush(stdout);
    return CTL_EXIT_OK;
}

static int sub_fetch(ctl_ctx *ctx, const ctl_args *a, int group) {
    uint64_t limit = 100, wait = 0, last = 0;
    const char *member;
    int rc;
    if ((rc = need_member(a, group, &member)) ||
        (rc = ctl_opt_u64(a, "limit", 1, 10000, &limit)) ||
        (rc = ctl_opt_u64(a, "wait", 0, 300000, &wait)))
        return rc;
    rc_buf p = RC_BUF_INIT;
    char tmp[32];
    consumer_path(&p, a->pos[1], "/events");
    ctl_query_add(&p, "member", member);
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)limit);
    ctl_query_add(&p, "limit", tmp);
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)wait);
    if (wait) ctl_query_add(&p, "wait_ms", tmp);
    ctl_resp resp;
    ctl_resp_init(&resp);
    size_t n;
    rc = call(ctx, "GET", p.p, "application/x-ndjson", NULL, &resp);
    if (rc == CTL_EXIT_OK) rc = print_events(ctx, &resp, NULL, &last, NULL, &n);
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

static int sub_claim(ctl_ctx *ctx, const ctl_args *a, int group) {
    uint64_t idle = 0, count = 100, last = 0;
    const char *member;
    int rc;
    if ((rc = need_member(a, group, &member)) ||
        (rc = ctl_opt_u64(a, "min-idle", 0, 604800000, &idle)) ||
        (rc = ctl_opt_u64(a, "count", 1, 10000, &count)))
        return rc;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "member", member);
    cJSON_AddNumberToObject(body, "min_idle_ms", (double)idle);
    cJSON_AddNumberToObject(body, "count", (double)count);
    rc_buf p = RC_BUF_INIT;
    consumer_path(&p, a->pos[1], "/claim");
    ctl_resp resp;
    ctl_resp_init(&resp);
    size_t n;
    rc = call(ctx, "POST", p.p, "application/x-ndjson", body, &resp);
    if (rc == CTL_EXIT_OK) rc = print_events(ctx, &resp, NULL, &last, NULL, &n);
    cJSON_Delete(body);
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

/* ---- ack / nack -------------------------------------------------------------- */

static int ack_common(ctl_ctx *ctx, const ctl_args *a, int group, int nack) {
    const char *member;
    uint64_t delay = 0;
    int rc;
    if ((rc = need_member(a, group, &member)) ||
        (rc = ctl_opt_u64(a, "delay", 0, 604800000, &delay)))
        return rc;
    cJSON *body = cJSON_CreateObject(), *seqs = cJSON_AddArrayToObject(body, "seqs");
    if (member) cJSON_AddStringToObject(body, "member", member);
    if (nack) cJSON_AddNumberToObject(body, "delay_ms", (double)delay);
    for (int i = 2; i < a->npos; i++) {
        char *end;
        unsigned long long v = strtoull(a->pos[i], &end, 10);
        if (a->pos[i][0] < '1' || a->pos[i][0] > '9' || *end) {
            cJSON_Delete(body);
            return ctl_usage_error("'%s' is not a sequence number", a->pos[i]);
        }
        cJSON_AddItemToArray(seqs, cJSON_CreateNumber((double)v));
    }
    rc_buf p = RC_BUF_INIT;
    consumer_path(&p, a->pos[1], nack ? "/nack" : "/ack");
    ctl_resp resp;
    ctl_resp_init(&resp);
    rc = call(ctx, "POST", p.p, NULL, body, &resp);
    if (rc == CTL_EXIT_OK) {
        if (ctx->out == CTL_OUT_JSON) {
            ctl_print_raw_json(resp.body.p, resp.body.len);
        } else {
            cJSON *j = ctl_resp_json(&resp);
            char tmp[32];
            printf("%s %s\n", nack ? "nacked" : "acked",
                   ctl_json_text(j, nack ? "nacked" : "acked", tmp, sizeof tmp));
            cJSON_Delete(j);
        }
    }
    cJSON_Delete(body);
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

static int sub_ack(ctl_ctx *ctx, const ctl_args *a, int group) { return ack_common(ctx, a, group, 0); }
static int sub_nack(ctl_ctx *ctx, const ctl_args *a, int group) { return ack_common(ctx, a, group, 1); }

static int sub_pending(ctl_ctx *ctx, const ctl_args *a, int group) {
    (void)group;
    rc_buf p = RC_BUF_INIT;
    consumer_path(&p, a->pos[1], "/pending");
    ctl_query_add(&p, "member", ctl_opt_str(a, "member"));
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = call(ctx, "GET", p.p, NULL, NULL, &resp);
    if (rc == CTL_EXIT_OK) {
        if (ctx->out == CTL_OUT_JSON) {
            ctl_print_raw_json(resp.body.p, resp.body.len);
        } else {
            cJSON *j = ctl_resp_json(&resp);
            static const char *const cols[] = {"SEQ", "MEMBER", "DELIVERIES", "IDLE_MS", "DUE",
                                               NULL};
            static const char *const keys[] = {"seq", "member", "deliveries", "idle_ms", "due"};
            ctl_table *t = ctl_table_new(cols);
            const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "pending"), *e;
            char tmp[256];
            cJSON_ArrayForEach(e, list) {
                ctl_table_row(t);
                for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                    ctl_table_cell(t, ctl_json_text(e, keys[i], tmp, sizeof tmp));
            }
            ctl_table_print(t, stdout);
            ctl_table_free(t);
            printf("total pending: %s\n", ctl_json_text(j, "total", tmp, sizeof tmp));
            cJSON_Delete(j);
        }
    }
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------- */

static const sub_cmd subs[] = {
    {"create", sub_create, 1, 1, 0},  {"list", sub_list, 0, 0, 0},
    {"get", sub_get, 1, 1, 0},        {"delete", sub_delete, 1, 1, 0},
    {"fetch", sub_fetch, 1, 1, 0},    {"ack", sub_ack, 2, -1, 0},
    {"nack", sub_nack, 2, -1, 1},     {"pending", sub_pending, 1, 1, 0},
    {"claim", sub_claim, 1, 1, 1},
};

static int dispatch(ctl_ctx *ctx, const ctl_args *a, int group) {
    const char *what = group ? "group" : "cursor";
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        const sub_cmd *s = &subs[i];
        if (strcmp(a->pos[0], s->name)) continue;
        int ops = a->npos - 1;
        if (s->group_only && !group)
            return ctl_usage_error("'%s %s': only for groups (use: redcar-ctl group %s)", what,
                                   s->name, s->name);
        if (ops < s->min_ops || (s->max_ops >= 0 && ops > s->max_ops))
            return ctl_usage_error("'%s %s': expected %s", what, s->name,
                                   s->min_ops == 0 ? "no operand"
                                   : s->max_ops < 0 ? "NAME SEQ..."
                                                    : "NAME");
        return s->fn(ctx, a, group);
    }
    return ctl_usage_error("unknown %s subcommand '%s' (see redcar-ctl %s --help)", what, a->pos[0],
                           what);
}

int ctl_cmd_cursor(ctl_ctx *ctx, const ctl_args *a) { return dispatch(ctx, a, 0); }
int ctl_cmd_group(ctl_ctx *ctx, const ctl_args *a) { return dispatch(ctx, a, 1); }

/* ---- tail --cursor ------------------------------------------------------------- */

static volatile sig_atomic_t cursor_stop;
static void on_stop(int sig) {
    (void)sig;
    cursor_stop = 1;
}

int ctl_cmd_tail_cursor(ctl_ctx *ctx, const ctl_args *a) {
    const char *name = ctl_opt_str(a, "cursor"), *member = ctl_opt_str(a, "member");
    uint64_t max = 0, done = 0;
    int rc = ctl_opt_u64(a, "count", 1, UINT64_MAX, &max), header = 0;
    if (rc) return rc;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* Each poll waits at most half the request timeout. */
    long wait = ctx->timeout_ms / 2 > 20000 ? 20000 : ctx->timeout_ms / 2;
    if (wait < 100) wait = 100;
    rc_buf p = RC_BUF_INIT, ap = RC_BUF_INIT;
    consumer_path(&ap, name, "/ack");
    ctl_resp resp;
    while (!cursor_stop && (!max || done < max)) {
        char tmp[32];
        rc_buf_reset(&p);
        consumer_path(&p, name, "/events");
        ctl_query_add(&p, "member", member);
        uint64_t want = max ? (max - done > 100 ? 100 : max - done) : 100;
        snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)want);
        ctl_query_add(&p, "limit", tmp);
        snprintf(tmp, sizeof tmp, "%ld", wait);
        ctl_query_add(&p, "wait_ms", tmp);
        ctl_resp_init(&resp);
        rc = call(ctx, "GET", p.p, "application/x-ndjson", NULL, &resp);
        if (rc != CTL_EXIT_OK) {
            ctl_resp_free(&resp);
            break;
        }
        uint64_t last = 0;
        size_t n;
        cJSON *seqs = cJSON_CreateArray();
        print_events(ctx, &resp, &header, &last, seqs, &n);
        ctl_resp_free(&resp);
        done += n;
        if (n) {
            /* Printed: acknowledge (a cursor's ack is cumulative, a group's
             * names each event). */
            cJSON *body = cJSON_CreateObject();
            if (member) cJSON_AddStringToObject(body, "member", member);
            cJSON_AddItemToObject(body, "seqs", seqs);
            seqs = NULL;
            ctl_resp_init(&resp);
            rc = call(ctx, "POST", ap.p, NULL, body, &resp);
            ctl_resp_free(&resp);
            cJSON_Delete(body);
            if (rc != CTL_EXIT_OK) break;
        }
        cJSON_Delete(seqs);
    }
    if (cursor_stop) rc = CTL_EXIT_OK;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    rc_buf_free(&p);
    rc_buf_free(&ap);
    return rc;
}
