/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key-value commands of redcar-ctl: put, get, range, del, history.
 * Each maps onto one route of the HTTP API (/kv/{key}, /kv?...,
 * /kv/{key}/history); keys are percent-encoded into the path, so any byte
 * string but the empty one is a valid key here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "ctl.h"
#include "output.h"
#include "redcar/event.h"

#define MAX_VALUE (512u * 1024 * 1024)
#define VALUE_MAX_CHARS 60 /* characters of a value shown in a range table */

const ctl_opt ctl_put_opts[] = {
    {"file", 'f', 1, "FILE", "read the value from FILE (\"-\" = stdin) instead of VALUE"},
    {"content-type", 't', 1, "TYPE",
     "media type of the value (default: text/plain for VALUE, none for --file)"},
    {"ttl", 0, 1, "SECONDS", "expire the key after SECONDS"},
    {0}};
const ctl_opt ctl_get_opts[] = {
    {"as-of", 0, 1, "SEQ", "the value as it was at log position SEQ"},
    {0}};
const ctl_opt ctl_del_opts[] = {{0}};
const ctl_opt ctl_range_opts[] = {
    {"prefix", 'p', 0, NULL, "every key starting with KEY"},
    {"limit", 'l', 1, "N", "at most N keys"},
    {"order", 0, 1, "ORDER", "asc (default) or desc"},
    {"keys-only", 0, 0, NULL, "keys and metadata without values"},
    {"count-only", 0, 0, NULL, "only the number of keys"},
    {"as-of", 0, 1, "SEQ", "the keys as they were at log position SEQ"},
    {0}};
const ctl_opt ctl_history_opts[] = {{0}};

static int check_key(const char *key) {
    if (!key[0]) return ctl_usage_error("the key must not be empty");
    return CTL_EXIT_OK;
}

static void kv_path(rc_buf *path, const char *key, const char *suffix) {
    rc_buf_puts(path, "/kv/");
    ctl_put_escaped(path, key);
    if (suffix) rc_buf_puts(path, suffix);
}

/* A JSON number member printed into a table cell. */
static void num_cell(ctl_table *t, const cJSON *obj, const char *name) {
    char tmp[64];
    ctl_table_cell(t, ctl_json_text(obj, name, tmp, sizeof tmp));
}

/* ---- put ---------------------------------------------------------------- */

int ctl_cmd_put(ctl_ctx *ctx, const ctl_args *a) {
    const char *key = a->pos[0], *file = ctl_opt_str(a, "file");
    rc_buf value = RC_BUF_INIT, path = RC_BUF_INIT;
    ctl_resp resp;
    cJSON *j = NULL;
    uint64_t ttl = 0;
    int rc;
    ctl_resp_init(&resp);
    if ((rc = check_key(key)) != CTL_EXIT_OK) goto done;
    if ((a->npos == 2) == (file != NULL)) {
        rc = ctl_usage_error("put: give the value either as VALUE or with --file");
        goto done;
    }
    if ((rc = ctl_opt_u64(a, "ttl", 1, 100ull * 365 * 86400, &ttl)) != CTL_EXIT_OK) goto done;
    if (file) {
        if ((rc = ctl_read_file(file, MAX_VALUE, &value)) != CTL_EXIT_OK) goto done;
    } else {
        rc_buf_puts(&value, a->pos[1]);
    }
    kv_path(&path, key, NULL);
    if (ttl) {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)ttl);
        ctl_query_add(&path, "ttl", s);
    }
    /* A value typed on the command line is text; saying so lets events and
     * history show it as text rather than base64. A file's bytes carry no
     * such promise. */
    const char *ctype = ctl_opt_str(a, "content-type");
    if (!ctype && !file && (value.len == 0 || rc_valid_utf8(value.p, value.len)))
        ctype = "text/plain; charset=utf-8";
    ctl_req req = {.method = "PUT", .path = path.p, .ctype = ctype,
                   .body = value.p ? value.p : "", .body_len = value.len};
    if ((rc = ctl_client_call(ctx->client, &req, &resp)) != CTL_EXIT_OK) goto done;
    if (ctx->out == CTL_OUT_JSON) {
        ctl_print_raw_json(resp.body.p, resp.body.len);
        goto done;
    }
    if (!(j = ctl_resp_json(&resp))) {
        rc = CTL_EXIT_SERVER;
        goto done;
    }
    static const char *const cols[] = {"KEY", "SEQ", "VERSION", NULL};
    ctl_table *t = ctl_table_new(cols);
    ctl_table_row(t);
    ctl_table_cell(t, key);
    num_cell(t, j, "seq");
    num_cell(t, j, "version");
    ctl_table_print(t, stdout);
    ctl_table_free(t);
done:
    cJSON_Delete(j);
    ctl_resp_free(&resp);
    rc_buf_free(&value);
    rc_buf_free(&path);
    return rc;
}

/* ---- get ---------------------------------------------------------------- */

/* GET /kv/{key}; the value is the body, its metadata the Redcar-* headers. */
static int fetch_key(ctl_ctx *ctx, const ctl_args *a, const char *key, ctl_resp *resp) {
    rc_buf path = RC_BUF_INIT;
    uint64_t as_of = 0;
    int rc = check_key(key);
    if (rc == CTL_EXIT_OK) rc = ctl_opt_u64(a, "as-of", 0, INT64_MAX, &as_of);
    if (rc != CTL_EXIT_OK) return rc;
    kv_path(&path, key, NULL);
    ctl_query_add(&path, "as_of", ctl_opt_str(a, "as-of"));
    ctl_req req = {.method = "GET", .path = path.p};
    rc = ctl_client_call(ctx->client, &req, resp);
    rc_buf_free(&path);
    return rc;
}

static void add_header_number(cJSON *o, const ctl_resp *resp, const char *header,
                              const char *name) {
    char v[64], *end;
    if (!ctl_resp_header(resp, header, v, sizeof v)) return;
    double d = strtod(v, &end);
    if (end != v && !*end) cJSON_AddNumberToObject(o, name, d);
    else cJSON_AddStringToObject(o, name, v);
}

/* The same item shape as GET /kv?... returns. Caller owns the result. */
static cJSON *item_from_get(const char *key, const ctl_resp *resp) {
    char ct[256], exp[64];
    cJSON *o = cJSON_CreateObject();
    if (!o) abort();
    cJSON_AddStringToObject(o, "key", key);
    if (rc_valid_utf8(resp->body.p, resp->body.len) &&
        !memchr(resp->body.p, '\0', resp->body.len)) {
        cJSON_AddStringToObject(o, "value", resp->body.p);
    } else {
        rc_buf b = RC_BUF_INIT;
        rc_base64_encode(resp->body.p, resp->body.len, &b);
        rc_buf_putc(&b, '\0');
        cJSON_AddStringToObject(o, "value_base64", b.p);
        rc_buf_free(&b);
    }
    if (ctl_resp_header(resp, "content-type", ct, sizeof ct))
        cJSON_AddStringToObject(o, "content_type", ct);
    add_header_number(o, resp, "redcar-create-seq", "create_seq");
    add_header_number(o, resp, "redcar-mod-seq", "mod_seq");
    add_header_number(o, resp, "redcar-version", "version");
    if (ctl_resp_header(resp, "redcar-expires", exp, sizeof exp))
        cJSON_AddStringToObject(o, "expires", exp);
    return o;
}

static void print_json(const cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    if (!s) abort();
    puts(s);
    free(s);
}

int ctl_cmd_get(ctl_ctx *ctx, const ctl_args *a) {
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = fetch_key(ctx, a, a->pos[0], &resp);
    if (rc == CTL_EXIT_OK) {
        if (ctx->out == CTL_OUT_JSON) {
            cJSON *o = item_from_get(a->pos[0], &resp);
            print_json(o);
            cJSON_Delete(o);
        } else {
            /* The bytes as stored; a newline only for a person reading them. */
            fwrite(resp.body.p, 1, resp.body.len, stdout);
            if (isatty(STDOUT_FILENO) &&
                (resp.body.len == 0 || resp.body.p[resp.body.len - 1] != '\n'))
                fputc('\n', stdout);
        }
    }
    ctl_resp_free(&resp);
    return rc;
}

/* ---- range -------------------------------------------------------------- */

static void print_items(const cJSON *items, int keys_only) {
    static const char *const cols[] = {"KEY", "VALUE", "VERSION", "CREATE_SEQ", "MOD_SEQ", NULL};
    static const char *const kcols[] = {"KEY", "VERSION", "CREATE_SEQ", "MOD_SEQ", NULL};
    ctl_table *t = ctl_table_new(keys_only ? kcols : cols);
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "key");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "value");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "value_base64");
        ctl_table_row(t);
        ctl_table_cell(t, cJSON_IsString(k) ? k->valuestring : NULL);
        if (!keys_only) {
            if (cJSON_IsString(v)) {
                ctl_table_cell_bytes(t, v->valuestring, strlen(v->valuestring), VALUE_MAX_CHARS);
            } else if (cJSON_IsString(b)) {
                rc_buf s = RC_BUF_INIT;
                rc_buf_printf(&s, "base64:%s", b->valuestring);
                ctl_table_cell_bytes(t, s.p, s.len, VALUE_MAX_CHARS);
                rc_buf_free(&s);
            } else {
                ctl_table_cell(t, NULL);
            }
        }
        num_cell(t, it, "version");
        num_cell(t, it, "create_seq");
        num_cell(t, it, "mod_seq");
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
}

/* range KEY (one key): answered from GET /kv/{key}, printed like a range. */
static int range_one(ctl_ctx *ctx, const ctl_args *a) {
    ctl_resp resp;
    ctl_resp_init(&resp);
    int rc = fetch_key(ctx, a, a->pos[0], &resp);
    if (rc == CTL_EXIT_OK) {
        int count_only = ctl_opt_has(a, "count-only");
        cJSON *doc = cJSON_CreateObject(), *items = cJSON_CreateArray();
        if (!doc || !items) abort();
        cJSON_AddNumberToObject(doc, "count", 1);
        cJSON *item = item_from_get(a->pos[0], &resp);
        if (ctl_opt_has(a, "keys-only")) {
            cJSON_DeleteItemFromObjectCaseSensitive(item, "value");
            cJSON_DeleteItemFromObjectCaseSensitive(item, "value_base64");
        }
        cJSON_AddItemToArray(items, item);
        if (!count_only) cJSON_AddItemToObject(doc, "items", items);
        else cJSON_Delete(items);
        if (ctx->out == CTL_OUT_JSON) print_json(doc);
        else if (count_only) puts("COUNT\n1");
        else print_items(items, ctl_opt_has(a, "keys-only"));
        cJSON_Delete(doc);
    }
    ctl_resp_free(&resp);
    return rc;
}

int ctl_cmd_range(ctl_ctx *ctx, const ctl_args *a) {
    int prefix = ctl_opt_has(a, "prefix");
    const char *order = ctl_opt_str(a, "order");
    uint64_t n = 0;
    int rc;
    if (prefix && a->npos == 2) return ctl_usage_error("range: --prefix takes one KEY, not an END");
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
        return ctl_usage_error("--order: expected asc or desc, got '%s'", order);
    if ((rc = ctl_opt_u64(a, "limit", 1, 10000000, &n)) != CTL_EXIT_OK) return rc;
    if ((rc = ctl_opt_u64(a, "as-of", 0, INT64_MAX, &n)) != CTL_EXIT_OK) return rc;
    if (!prefix && a->npos == 1) return range_one(ctx, a);
    if (!prefix && (rc = check_key(a->pos[0])) != CTL_EXIT_OK) return rc;

    rc_buf path = RC_BUF_INIT;
    ctl_resp resp;
    cJSON *j = NULL;
    ctl_resp_init(&resp);
    rc_buf_puts(&path, "/kv");
    if (prefix) {
        ctl_query_add(&path, "prefix", a->pos[0]);
    } else {
        ctl_query_add(&path, "key", a->pos[0]);
        ctl_query_add(&path, "end", a->pos[1]);
    }
    ctl_query_add(&path, "limit", ctl_opt_str(a, "limit"));
    ctl_query_add(&path, "sort", order);
    ctl_query_add(&path, "as_of", ctl_opt_str(a, "as-of"));
    if (ctl_opt_has(a, "keys-only")) ctl_query_add(&path, "keys_only", "true");
    if (ctl_opt_has(a, "count-only")) ctl_query_add(&path, "count_only", "true");
    ctl_req req = {.method = "GET", .path = path.p};
    if ((rc = ctl_client_call(ctx->client, &req, &resp)) != CTL_EXIT_OK) goto done;
    if (ctx->out == CTL_OUT_JSON) {
        ctl_print_raw_json(resp.body.p, resp.body.len);
        goto done;
    }
    if (!(j = ctl_resp_json(&resp))) {
        rc = CTL_EXIT_SERVER;
        goto done;
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
    if (ctl_opt_has(a, "count-only") || !cJSON_IsArray(items)) {
        char tmp[32];
        const char *c = ctl_json_text(j, "count", tmp, sizeof tmp);
        if (!c) {
            fprintf(stderr, "redcar-ctl: unexpected answer: no items and no count\n");
            rc = CTL_EXIT_SERVER;
            goto done;
        }
        printf("COUNT\n%s\n", c);
    } else {
        print_items(items, ctl_opt_has(a, "keys-only"));
    }
done:
    cJSON_Delete(j);
    ctl_resp_free(&resp);
    rc_buf_free(&path);
    return rc;
}

/* ---- del ---------------------------------------------------------------- */

int ctl_cmd_del(ctl_ctx *ctx, const ctl_args *a) {
    rc_buf path = RC_BUF_INIT;
    ctl_resp resp;
    cJSON *j = NULL;
    int rc = check_key(a->pos[0]);
    ctl_resp_init(&resp);
    if (rc != CTL_EXIT_OK) goto done;
    kv_path(&path, a->pos[0], NULL);
    ctl_req req = {.method = "DELETE", .path = path.p};
    if ((rc = ctl_client_call(ctx->client, &req, &resp)) != CTL_EXIT_OK) goto done;
    if (ctx->out == CTL_OUT_JSON) {
        ctl_print_raw_json(resp.body.p, resp.body.len);
        goto done;
    }
    if (!(j = ctl_resp_json(&resp))) {
        rc = CTL_EXIT_SERVER;
        goto done;
    }
    static const char *const cols[] = {"KEY", "SEQ", "DELETED", NULL};
    ctl_table *t = ctl_table_new(cols);
    ctl_table_row(t);
    ctl_table_cell(t, a->pos[0]);
    num_cell(t, j, "seq");
    num_cell(t, j, "deleted");
    ctl_table_print(t, stdout);
    ctl_table_free(t);
done:
    cJSON_Delete(j);
    ctl_resp_free(&resp);
    rc_buf_free(&path);
    return rc;
}

/* ---- history ------------------------------------------------------------ */

int ctl_cmd_history(ctl_ctx *ctx, const ctl_args *a) {
    rc_buf path = RC_BUF_INIT;
    ctl_resp resp;
    cJSON *j = NULL;
    int rc = check_key(a->pos[0]);
    ctl_resp_init(&resp);
    if (rc != CTL_EXIT_OK) goto done;
    kv_path(&path, a->pos[0], "/history");
    ctl_req req = {.method = "GET", .path = path.p};
    if ((rc = ctl_client_call(ctx->client, &req, &resp)) != CTL_EXIT_OK) goto done;
    if (ctx->out == CTL_OUT_JSON) {
        ctl_print_raw_json(resp.body.p, resp.body.len);
        goto done;
    }
    if (!(j = ctl_resp_json(&resp)) || !cJSON_IsArray(j)) {
        if (j) fprintf(stderr, "redcar-ctl: unexpected answer: not a JSON array\n");
        rc = CTL_EXIT_SERVER;
        goto done;
    }
    ctl_table *t = ctl_events_table_new();
    const cJSON *ev;
    cJSON_ArrayForEach(ev, j) ctl_events_table_add(t, ev);
    ctl_table_print(t, stdout);
    ctl_table_free(t);
done:
    cJSON_Delete(j);
    ctl_resp_free(&resp);
    rc_buf_free(&path);
    return rc;
}
