/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `redcar-ctl sub create|list|get|delete`: push subscriptions (webhooks)
 * over /subscriptions (see schemas/openapi.yaml).
 *
 * create builds the Subscriptions API document from flags: the sink URL,
 * exact filters from --type/--source/--subject (prefix: --subject-prefix),
 * any further filter expressions from --filters JSON, extra sink headers
 * from repeatable --header NAME:VALUE, and the delivery config. The server
 * validates everything; this only assembles JSON. Subcommands are a table,
 * as in cmd_consumer.c.
 *
 * Trust boundary: answers are parsed with cJSON and printed through the
 * sanitising table writer (output.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "client.h"
#include "ctl.h"
#include "output.h"

const ctl_opt ctl_sub_opts[] = {
    {"id", 0, 1, "ID", "create: the subscription's id (default: generated)"},
    {"type", 0, 1, "TYPE", "create: only events of this type"},
    {"source", 0, 1, "SOURCE", "create: only events from this source"},
    {"subject", 0, 1, "SUBJECT", "create: only events with this subject"},
    {"subject-prefix", 0, 1, "PREFIX", "create: only subjects starting with PREFIX"},
    {"filters", 0, 1, "JSON", "create: more Subscriptions API filters (a JSON array)"},
    {"header", 'H', 1, "NAME:VALUE", "create: an extra header for the sink (repeatable)"},
    {"start", 0, 1, "POS", "create: end (default), beginning, seq:N or time:RFC3339"},
    {"max-attempts", 0, 1, "N", "create: attempts before dead-lettering (default 5)"},
    {"attempt-timeout", 0, 1, "MS", "create: limit of one delivery attempt (default 10000)"},
    {"backoff-base", 0, 1, "MS", "create: first retry delay (default 1000)"},
    {"backoff-max", 0, 1, "MS", "create: longest retry delay (default 60000)"},
    {0}};

static int call(ctl_ctx *ctx, const char *method, const char *path, cJSON *body,
                ctl_resp *resp) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    ctl_req req = {.method = method, .path = path, .ctype = text ? "application/json" : NULL,
                   .body = text, .body_len = text ? strlen(text) : 0};
    int rc = ctl_client_call(ctx->client, &req, resp);
    cJSON_free(text);
    return rc;
}

static void sub_path(rc_buf *p, const char *id) {
    rc_buf_puts(p, "/subscriptions");
    if (id) {
        rc_buf_putc(p, '/');
        ctl_put_escaped(p, id);
    }
}

/* ---- printing ------------------------------------------------------------------ */

static const char *const cols[] = {"ID", "SINK", "ACK_SEQ", "LAG", "DELIVERED", "REDELIVERED",
                                   "DEAD", "CREATED", NULL};

static void row(ctl_table *t, const cJSON *s) {
    char tmp[512];
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "status");
    static const char *const status_keys[] = {"ack_seq", "lag", "delivered", "redelivered", "dead"};
    ctl_table_row(t);
    ctl_table_cell(t, ctl_json_text(s, "id", tmp, sizeof tmp));
    ctl_table_cell(t, ctl_json_text(s, "sink", tmp, sizeof tmp));
    for (size_t i = 0; i < sizeof status_keys / sizeof *status_keys; i++)
        ctl_table_cell(t, cJSON_IsObject(st) ? ctl_json_text(st, status_keys[i], tmp, sizeof tmp)
                                             : "-");
    ctl_table_cell(t, ctl_json_text(s, "created", tmp, sizeof tmp));
}

static int print_subs(ctl_ctx *ctx, const ctl_resp *resp) {
    if (ctx->out == CTL_OUT_JSON) {
        ctl_print_raw_json(resp->body.p, resp->body.len);
        return CTL_EXIT_OK;
    }
    cJSON *j = ctl_resp_json(resp);
    if (!j) return CTL_EXIT_SERVER;
    ctl_table *t = ctl_table_new(cols);
    const cJSON *s;
    if (cJSON_IsArray(j)) {
        cJSON_ArrayForEach(s, j) row(t, s);
    } else {
        row(t, j);
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
    cJSON_Delete(j);
    return CTL_EXIT_OK;
}

/* ---- subcommands ------------------------------------------------------------------- */

static void add_filter(cJSON *filters, const char *dialect, const char *attr, const char *value) {
    cJSON *f = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(f, dialect);
    cJSON_AddStringToObject(d, attr, value);
    cJSON_AddItemToArray(filters, f);
}

static int sub_create(ctl_ctx *ctx, const ctl_args *a) {
    static const struct { const char *opt, *key; uint64_t lo, hi; } nums[] = {
        {"max-attempts", "max_attempts", 1, 100},
        {"attempt-timeout", "timeout_ms", 100, 300000},
        {"backoff-base", "backoff_base_ms", 0, 3600000},
        {"backoff-max", "backoff_max_ms", 0, 3600000},
    };
    cJSON *body = cJSON_CreateObject(), *config = cJSON_CreateObject();
    cJSON *filters = cJSON_CreateArray(), *headers = cJSON_CreateObject();
    int rc = CTL_EXIT_OK;
    cJSON_AddStringToObject(body, "sink", a->pos[1]);
    cJSON_AddStringToObject(body, "protocol", "HTTP");
    if (ctl_opt_str(a, "id")) cJSON_AddStringToObject(body, "id", ctl_opt_str(a, "id"));
    static const char *const exact[] = {"type", "source", "subject"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (ctl_opt_str(a, exact[i])) add_filter(filters, "exact", exact[i], ctl_opt_str(a, exact[i]));
    if (ctl_opt_str(a, "subject-prefix"))
        add_filter(filters, "prefix", "subject", ctl_opt_str(a, "subject-prefix"));
    const char *fs = ctl_opt_str(a, "filters");
    if (fs) {
        cJSON *more = cJSON_Parse(fs), *f;
        if (!cJSON_IsArray(more)) {
            cJSON_Delete(more);
            rc = ctl_usage_error("--filters: not a JSON array");
            goto done;
        }
        while ((f = cJSON_DetachItemFromArray(more, 0))) cJSON_AddItemToArray(filters, f);
        cJSON_Delete(more);
    }
    for (int i = 0; i < a->nopt; i++) {
        if (strcmp(a->opt[i].opt->name, "header")) continue;
        const char *h = a->opt[i].val, *colon = strchr(h, ':');
        if (!colon || colon == h) {
            rc = ctl_usage_error("--header '%s': expected NAME:VALUE", h);
            goto done;
        }
        char name[256];
        size_t n = (size_t)(colon - h);
        if (n >= sizeof name) {
            rc = ctl_usage_error("--header: name too long");
            goto done;
        }
        memcpy(name, h, n);
        name[n] = '\0';
        const char *v = colon + 1;
        while (*v == ' ') v++;
        cJSON_DeleteItemFromObjectCaseSensitive(headers, name);
        cJSON_AddStringToObject(headers, name, v);
    }
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        uint64_t v = 0;
        if ((rc = ctl_opt_u64(a, nums[i].opt, nums[i].lo, nums[i].hi, &v))) goto done;
        if (ctl_opt_has(a, nums[i].opt)) cJSON_AddNumberToObject(config, nums[i].key, (double)v);
    }
    if (ctl_opt_str(a, "start")) cJSON_AddStringToObject(config, "start", ctl_opt_str(a, "start"));
    if (cJSON_GetArraySize(filters)) {
        cJSON_AddItemToObject(body, "filters", filters);
        filters = NULL;
    }
    if (cJSON_GetArraySize(headers)) {
        cJSON *ps = cJSON_AddObjectToObject(body, "protocolsettings");
        cJSON_AddItemToObject(ps, "headers", headers);
        headers = NULL;
    }
    if (cJSON_GetArraySize(config)) {
        cJSON_AddItemToObject(body, "config", config);
        config = NULL;
    }
    ctl_resp resp;
    ctl_resp_init(&resp);
    rc = call(ctx, "POST", "/subscriptions", body, &resp);
    if (rc == CTL_EXIT_OK) rc = print_subs(ctx, &resp);
    ctl_resp_free(&resp);
done:
    cJSON_Delete(body);
    cJSON_Delete(config);
    cJSON_Delete(filters);
    cJSON_Delete(headers);
    return rc;
}

static int sub_list(ctl_ctx *ctx, const ctl_args *a) {
    (void)a;
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = call(ctx, "GET", "/subscriptions", NULL, &resp);
    if (rc == CTL_EXIT_OK) rc = print_subs(ctx, &resp);
    ctl_resp_free(&resp);
    return rc;
}

static int sub_get(ctl_ctx *ctx, const ctl_args *a) {
    rc_buf p = RC_BUF_INIT;
    sub_path(&p, a->pos[1]);
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = call(ctx, "GET", p.p, NULL, &resp);
    if (rc == CTL_EXIT_OK) rc = print_subs(ctx, &resp);
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

static int sub_delete(ctl_ctx *ctx, const ctl_args *a) {
    rc_buf p = RC_BUF_INIT;
    sub_path(&p, a->pos[1]);
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = call(ctx, "DELETE", p.p, NULL, &resp);
    if (rc == CTL_EXIT_OK && ctx->out != CTL_OUT_JSON) printf("deleted %s\n", a->pos[1]);
    ctl_resp_free(&resp);
    rc_buf_free(&p);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*fn)(ctl_ctx *ctx, const ctl_args *a);
    int ops;        /* operands after the subcommand */
    const char *operand;
} subs[] = {
    {"create", sub_create, 1, "SINK"},
    {"list", sub_list, 0, NULL},
    {"get", sub_get, 1, "ID"},
    {"delete", sub_delete, 1, "ID"},
};

int ctl_cmd_sub(ctl_ctx *ctx, const ctl_args *a) {
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        if (strcmp(a->pos[0], subs[i].name)) continue;
        if (a->npos - 1 != subs[i].ops)
            return ctl_usage_error("'sub %s': expected %s", subs[i].name,
                                   subs[i].operand ? subs[i].operand : "no operand");
        return subs[i].fn(ctx, a);
    }
    return ctl_usage_error("unknown sub subcommand '%s' (see redcar-ctl sub --help)", a->pos[0]);
}
