/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push subscriptions as documents: the request body of POST /subscriptions
 * (the Subscriptions API shape, see redcar/push.h) validated into a
 * canonical document, stored with its consumer (redcar/pushsub.h), and
 * rendered back with the consumer's positions.
 *
 * Trust boundary: request bodies come from clients. Every member is
 * checked (type, bounds, characters) and unknown members are refused with
 * a message that names them; header names and values that could split a
 * request (CR, LF) or override what binary mode sets are refused.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "push/push_int.h"
#include "redcar/consumer.h"
#include "redcar/filter.h"
#include "redcar/pushsub.h"

#define BODY_MAX (RC_FILTER_MAX_JSON + 16384)
#define HEADER_VALUE_MAX 1024

/* ---- validation ------------------------------------------------------------ */

static int check_id(const char *s, rc_err *err) {
    size_t n = strlen(s);
    if (n == 0 || n > RC_PUSH_ID_MAX)
        return rc_err_set(err, RC_INVALID, "id: must be 1 to %d bytes", RC_PUSH_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return rc_err_set(err, RC_INVALID, "id: only letters, digits and . _ - allowed");
    }
    return RC_OK;
}

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Headers binary mode or the transfer itself owns. */
static int reserved_header(const char *name) {
    static const char *const names[] = {"content-type",      "content-length", "host",
                                        "transfer-encoding", "expect",         "connection",
                                        "te",                "upgrade",        "trailer"};
    if (!strncasecmp(name, "ce-", 3) || !strncasecmp(name, "ce_", 3)) return 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(name, names[i])) return 1;
    return 0;
}

static int check_headers(const cJSON *h, rc_err *err) {
    if (!cJSON_IsObject(h))
        return rc_err_set(err, RC_INVALID, "protocolsettings.headers: must be an object");
    int n = 0;
    for (const cJSON *m = h->child; m; m = m->next, n++) {
        if (n >= RC_PUSH_MAX_HEADERS)
            return rc_err_set(err, RC_INVALID, "protocolsettings.headers: at most %d",
                              RC_PUSH_MAX_HEADERS);
        size_t nl = strlen(m->string);
        if (nl == 0 || nl > 64)
            return rc_err_set(err, RC_INVALID, "protocolsettings.headers: a name must be 1 to 64 bytes");
        for (size_t i = 0; i < nl; i++)
            if (!is_tchar((unsigned char)m->string[i]))
                return rc_err_set(err, RC_INVALID,
                                  "protocolsettings.headers.%.64s: not a valid header name",
                                  m->string);
        if (reserved_header(m->string))
            return rc_err_set(err, RC_INVALID,
                              "protocolsettings.headers.%.64s: set by Redcar (binary mode), "
                              "cannot be overridden",
                              m->string);
        if (!cJSON_IsString(m))
            return rc_err_set(err, RC_INVALID, "protocolsettings.headers.%.64s: must be a string",
                              m->string);
        size_t vl = strlen(m->valuestring);
        if (vl > HEADER_VALUE_MAX)
            return rc_err_set(err, RC_INVALID,
                              "protocolsettings.headers.%.64s: longer than %d bytes", m->string,
                              HEADER_VALUE_MAX);
        for (size_t i = 0; i < vl; i++) {
            unsigned char c = (unsigned char)m->valuestring[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return rc_err_set(err, RC_INVALID,
                                  "protocolsettings.headers.%.64s: control bytes (CR, LF, ...) "
                                  "are not allowed",
                                  m->string);
        }
    }
    return RC_OK;
}

typedef struct num_rule {
    const char *name;
    int64_t min, max, def;
} num_rule;

/* The config members, in document order. */
static const num_rule num_rules[] = {
    {"max_attempts", 1, RC_PUSH_MAX_ATTEMPTS, RC_PUSH_DEFAULT_ATTEMPTS},
    {"timeout_ms", 100, RC_PUSH_MAX_TIMEOUT_MS, RC_PUSH_DEFAULT_TIMEOUT_MS},
    {"backoff_base_ms", 0, RC_PUSH_MAX_BACKOFF_MS, RC_PUSH_DEFAULT_BACKOFF_BASE_MS},
    {"backoff_max_ms", 0, RC_PUSH_MAX_BACKOFF_MS, RC_PUSH_DEFAULT_BACKOFF_MAX_MS},
};
#define N_NUM (sizeof num_rules / sizeof num_rules[0])

static int json_int(const cJSON *m, const num_rule *r, int64_t *out, rc_err *err) {
    if (!cJSON_IsNumber(m) || m->valuedouble < (double)r->min || m->valuedouble > (double)r->max ||
        m->valuedouble != (double)(int64_t)m->valuedouble)
        return rc_err_set(err, RC_INVALID, "config.%s: must be an integer from %" PRId64 " to %" PRId64,
                          r->name, r->min, r->max);
    *out = (int64_t)m->valuedouble;
    return RC_OK;
}

/* ---- the request body -> document -------------------------------------------- */

typedef struct spec {
    char id[RC_PUSH_ID_MAX + 1];
    char *doc;              /* canonical document (cJSON_free) */
    char *filter_json;      /* {"filters":[...]} or NULL (free) */
    char *start;            /* NULL = "end" (free) */
    int64_t max_attempts;
} spec;

static void spec_free(spec *s) {
    cJSON_free(s->doc);
    free(s->filter_json);
    free(s->start);
    memset(s, 0, sizeof *s);
}

static void random_id(char *out) {
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* No entropy source: time and address still make a usable id. */
        uint64_t v = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)out;
        memcpy(r, &v, sizeof r);
    }
    for (size_t i = 0; i < sizeof r; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static int parse_spec(const char *json, size_t len, spec *sp, rc_err *err) {
    memset(sp, 0, sizeof *sp);
    if (len > BODY_MAX) return rc_err_set(err, RC_TOO_LARGE, "body: larger than %d bytes", BODY_MAX);
    cJSON *root = cJSON_ParseWithLength(json, len);
    cJSON *doc = NULL;
    rc_filter *f = NULL;
    int rc = RC_OK;
    if (!root || !cJSON_IsObject(root)) {
        rc = rc_err_set(err, RC_INVALID, "body: must be a JSON object (a subscription)");
        goto done;
    }
    const cJSON *id = NULL, *sink = NULL, *proto = NULL, *filters = NULL, *ps = NULL, *cfg = NULL;
    static const char *const members[] = {"id", "sink", "protocol", "filters", "protocolsettings",
                                          "config"};
    const cJSON **slots[] = {&id, &sink, &proto, &filters, &ps, &cfg};
    for (const cJSON *m = root->child; m; m = m->next) {
        size_t i = 0;
        while (i < 6 && strcmp(m->string, members[i])) i++;
        if (i == 6) {
            rc = rc_err_set(err, RC_INVALID,
                            "%.40s: unknown member (id, sink, protocol, filters, "
                            "protocolsettings, config)",
                            m->string);
            goto done;
        }
        if (*slots[i]) {
            rc = rc_err_set(err, RC_INVALID, "%s: given twice", members[i]);
            goto done;
        }
        *slots[i] = m;
    }
    if (id) {
        if (!cJSON_IsString(id)) {
            rc = rc_err_set(err, RC_INVALID, "id: must be a string");
            goto done;
        }
        if ((rc = check_id(id->valuestring, err))) goto done;
        snprintf(sp->id, sizeof sp->id, "%s", id->valuestring);
    } else {
        random_id(sp->id);
    }
    if (!sink || !cJSON_IsString(sink)) {
        rc = rc_err_set(err, RC_INVALID, "sink: required (an http or https URL string)");
        goto done;
    }
    if ((rc = rc_push_check_sink(sink->valuestring, err))) goto done;
    if (proto && (!cJSON_IsString(proto) || strcasecmp(proto->valuestring, "HTTP"))) {
        rc = rc_err_set(err, RC_INVALID, "protocol: only HTTP is supported");
        goto done;
    }
    if (!(doc = cJSON_CreateObject())) goto nomem;
    cJSON_AddStringToObject(doc, "id", sp->id);
    cJSON_AddStringToObject(doc, "protocol", "HTTP");
    cJSON_AddStringToObject(doc, "sink", sink->valuestring);
    /* Filters: parsed and written back in the filter module's canonical form. */
    rc_buf canon = RC_BUF_INIT;
    if (filters) {
        if (!cJSON_IsArray(filters)) {
            rc = rc_err_set(err, RC_INVALID, "filters: must be an array of filter expressions");
            goto done;
        }
        char *t = cJSON_PrintUnformatted(filters);
        if (!t) goto nomem;
        rc_err ferr;
        rc_err_clear(&ferr);
        rc = rc_filter_parse_json(t, strlen(t), &f, &ferr);
        cJSON_free(t);
        if (rc != RC_OK) {
            rc_err_set(err, rc, "%s", rc_err_msg(&ferr));
            goto done;
        }
        rc_filter_to_json(f, &canon);
    } else {
        rc_buf_puts(&canon, "[]");
    }
    cJSON *fj = cJSON_ParseWithLength(canon.p, canon.len);
    if (fj && cJSON_GetArraySize(fj) > 0) {
        rc_buf cf = RC_BUF_INIT;
        rc_buf_printf(&cf, "{\"filters\":%s}", canon.p);
        sp->filter_json = rc_buf_detach(&cf, NULL);
    }
    rc_buf_free(&canon);
    if (!fj) goto nomem;
    cJSON_AddItemToObject(doc, "filters", fj);
    /* protocolsettings: headers only (method is always POST). */
    cJSON *ops = cJSON_AddObjectToObject(doc, "protocolsettings");
    if (!ops) goto nomem;
    if (ps) {
        if (!cJSON_IsObject(ps)) {
            rc = rc_err_set(err, RC_INVALID, "protocolsettings: must be an object");
            goto done;
        }
        for (const cJSON *m = ps->child; m; m = m->next) {
            if (!strcmp(m->string, "headers")) {
                if ((rc = check_headers(m, err))) goto done;
                cJSON *copy = cJSON_Duplicate(m, 1);
                if (!copy) goto nomem;
                cJSON_AddItemToObject(ops, "headers", copy);
            } else if (!strcmp(m->string, "method")) {
                if (!cJSON_IsString(m) || strcmp(m->valuestring, "POST")) {
                    rc = rc_err_set(err, RC_INVALID, "protocolsettings.method: only POST is supported");
                    goto done;
                }
            } else {
                rc = rc_err_set(err, RC_INVALID,
                                "protocolsettings.%.40s: unknown member (headers, method)",
                                m->string);
                goto done;
            }
        }
    }
    /* config: every member written out, defaults included, so a later
     * change of a default never changes an existing subscription. */
    int64_t nums[N_NUM];
    for (size_t i = 0; i < N_NUM; i++) nums[i] = num_rules[i].def;
    const char *start = "end";
    if (cfg) {
        if (!cJSON_IsObject(cfg)) {
            rc = rc_err_set(err, RC_INVALID, "config: must be an object");
            goto done;
        }
        for (const cJSON *m = cfg->child; m; m = m->next) {
            size_t i = 0;
            while (i < N_NUM && strcmp(m->string, num_rules[i].name)) i++;
            if (i < N_NUM) {
                if ((rc = json_int(m, &num_rules[i], &nums[i], err))) goto done;
            } else if (!strcmp(m->string, "start")) {
                if (!cJSON_IsString(m)) {
                    rc = rc_err_set(err, RC_INVALID, "config.start: must be a string");
                    goto done;
                }
                start = m->valuestring;
            } else {
                rc = rc_err_set(err, RC_INVALID,
                                "config.%.40s: unknown member (max_attempts, timeout_ms, "
                                "backoff_base_ms, backoff_max_ms, start)",
                                m->string);
                goto done;
            }
        }
    }
    if (nums[3] < nums[2]) {
        rc = rc_err_set(err, RC_INVALID, "config.backoff_max_ms: must be >= backoff_base_ms");
        goto done;
    }
    cJSON *oc = cJSON_AddObjectToObject(doc, "config");
    if (!oc) goto nomem;
    for (size_t i = 0; i < N_NUM; i++) cJSON_AddNumberToObject(oc, num_rules[i].name, (double)nums[i]);
    cJSON_AddStringToObject(oc, "start", start);
    sp->max_attempts = nums[0];
    if (!(sp->start = strdup(start)) || !(sp->doc = cJSON_PrintUnformatted(doc))) goto nomem;
    goto done;
nomem:
    rc = rc_err_set(err, RC_NOMEM, "out of memory");
done:
    rc_filter_free(f);
    cJSON_Delete(doc);
    cJSON_Delete(root);
    if (rc != RC_OK) spec_free(sp);
    return rc;
}

/* ---- rendering ------------------------------------------------------------------ */

static int status_fn(const rc_consumer_info *c, void *arg) {
    cJSON *st = arg;
    static const char *const names[] = {"read_seq", "ack_seq",   "head_seq", "lag",
                                        "pending",  "delivered", "redelivered", "acked", "dead"};
    const uint64_t vals[] = {c->read_seq, c->ack_seq,   c->head_seq,    c->lag, c->pending,
                             c->delivered, c->redelivered, c->acked, c->dead};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cJSON_AddNumberToObject(st, names[i], (double)vals[i]);
    return 0;
}

typedef struct render_ctx {
    rc_store *st;
    rc_buf *out;
    size_t n;
    int rc;
} render_ctx;

static int render_fn(const rc_pushsub *s, void *arg) {
    render_ctx *r = arg;
    cJSON *doc = cJSON_Parse(s->doc);
    if (!doc || !cJSON_IsObject(doc)) {
        /* Stored by this module; unreadable means edited by hand. Show it
         * as broken rather than hiding it. */
        cJSON_Delete(doc);
        doc = cJSON_CreateObject();
        if (!doc) return r->rc = RC_NOMEM;
        cJSON_AddStringToObject(doc, "id", s->id);
        cJSON_AddStringToObject(doc, "error", "stored document is not valid JSON");
    }
    cJSON_AddStringToObject(doc, "consumer", s->consumer);
    char created[40];
    rc_time_format(s->created_ms, created, sizeof created);
    cJSON_AddStringToObject(doc, "created", created);
    cJSON *st = cJSON_CreateObject();
    rc_err err;
    rc_err_clear(&err);
    if (st && s->has_consumer && rc_consumer_get(r->st, s->consumer, status_fn, st, &err) == RC_OK) {
        cJSON_AddItemToObject(doc, "status", st);
    } else {
        cJSON_Delete(st);
        cJSON_AddNullToObject(doc, "status");
    }
    char *t = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!t) return r->rc = RC_NOMEM;
    if (r->n++) rc_buf_putc(r->out, ',');
    rc_buf_puts(r->out, t);
    cJSON_free(t);
    return 0;
}

int rc_push_sub_get(rc_store *st, const char *id, rc_buf *out, rc_err *err) {
    /* An id that could never have been created names nothing. */
    if (!id || check_id(id, NULL))
        return rc_err_set(err, RC_NOT_FOUND, "no subscription with id %.64s", id ? id : "");
    render_ctx r = {st, out, 0, RC_OK};
    int rc = rc_pushsub_get(st, id, render_fn, &r, err);
    if (rc == RC_OK && r.rc) rc = rc_err_set(err, r.rc, "out of memory");
    return rc;
}

int rc_push_sub_list(rc_store *st, rc_buf *out, rc_err *err) {
    render_ctx r = {st, out, 0, RC_OK};
    rc_buf_putc(out, '[');
    int rc = rc_pushsub_list(st, render_fn, &r, err);
    if (rc == RC_OK && r.rc) rc = rc_err_set(err, r.rc, "out of memory");
    rc_buf_putc(out, ']');
    return rc;
}

static int count_fn(const rc_pushsub *s, void *arg) {
    (void)s;
    (*(size_t *)arg)++;
    return 0;
}

int rc_push_sub_create(rc_store *st, const char *json, size_t len, rc_buf *out,
                       char id[RC_PUSH_ID_MAX + 1], rc_err *err) {
    spec sp;
    int rc = parse_spec(json, len, &sp, err);
    if (rc) return rc;
    size_t n = 0;
    if ((rc = rc_pushsub_list(st, count_fn, &n, err))) goto done;
    if (n >= RC_PUSH_MAX_SUBSCRIPTIONS) {
        rc = rc_err_set(err, RC_INVALID, "at most %d subscriptions; delete one first",
                        RC_PUSH_MAX_SUBSCRIPTIONS);
        goto done;
    }
    char name[sizeof RC_PUSH_CONSUMER_PREFIX + RC_PUSH_ID_MAX];
    snprintf(name, sizeof name, RC_PUSH_CONSUMER_PREFIX "%s", sp.id);
    rc_consumer_opts co = RC_CONSUMER_OPTS_INIT;
    co.name = name;
    co.mode = RC_CONSUMER_CURSOR;
    co.start = sp.start;
    co.filter_json = sp.filter_json;
    /* Cursor, lease 0: every fetch hands out the event in flight again
     * (counting an attempt) before anything new, which is exactly "retry
     * the head of the line". max_deliver backs the push module's own
     * dead-lettering across crashes. */
    co.ack_wait_ms = 0;
    co.max_deliver = sp.max_attempts;
    rc_err cerr;
    rc_err_clear(&cerr);
    rc = rc_pushsub_create(st, sp.id, &co, sp.doc, &cerr);
    if (rc == RC_CONFLICT) {
        rc = rc_err_set(err, RC_CONFLICT, "a subscription with id %s already exists (or a consumer "
                        "named %s)", sp.id, name);
        goto done;
    }
    if (rc) {
        /* The consumer names its fields as consumer fields ("start: ..."):
         * say where they came from. */
        rc = rc_err_set(err, rc, "%s%s", !strncmp(rc_err_msg(&cerr), "start", 5) ? "config." : "",
                        rc_err_msg(&cerr));
        goto done;
    }
    if (id) snprintf(id, RC_PUSH_ID_MAX + 1, "%s", sp.id);
    if (out) rc = rc_push_sub_get(st, sp.id, out, err);
done:
    spec_free(&sp);
    return rc;
}

int rc_push_sub_delete(rc_store *st, const char *id, rc_err *err) {
    if (!id || check_id(id, NULL))
        return rc_err_set(err, RC_NOT_FOUND, "no subscription with id %.64s", id ? id : "");
    return rc_pushsub_delete(st, id, err);
}

/* ---- document -> delivery settings ---------------------------------------------- */

void rc__push_cfg_free(rc__push_cfg *c) {
    free(c->sink);
    for (size_t i = 0; i < c->n_headers; i++) free(c->headers[i]);
    free(c->headers);
    memset(c, 0, sizeof *c);
}

int rc__push_cfg_parse(const char *doc, rc__push_cfg *out, rc_err *err) {
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_Parse(doc);
    int rc = RC_OK;
    const cJSON *sink = cJSON_GetObjectItemCaseSensitive(root, "sink");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "protocolsettings");
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(ps, "headers");
    if (!root || !cJSON_IsString(sink) || rc_push_check_sink(sink->valuestring, err)) {
        rc = rc_err_set(err, RC_INVALID, "stored subscription: no valid sink");
        goto done;
    }
    if (!(out->sink = strdup(sink->valuestring))) goto nomem;
    int64_t *dst[N_NUM] = {&out->max_attempts, &out->timeout_ms, &out->backoff_base_ms,
                           &out->backoff_max_ms};
    for (size_t i = 0; i < N_NUM; i++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(cfg, num_rules[i].name);
        *dst[i] = num_rules[i].def;
        if (m && (rc = json_int(m, &num_rules[i], dst[i], err))) goto done;
    }
    if (hs) {
        if ((rc = check_headers(hs, err))) goto done;
        size_t n = (size_t)cJSON_GetArraySize(hs);
        if (n && !(out->headers = calloc(n, sizeof *out->headers))) goto nomem;
        for (const cJSON *m = hs->child; m; m = m->next) {
            rc_buf line = RC_BUF_INIT;
            /* "Name:" alone would make curl drop the header: send it empty
             * with "Name;" as curl spells that. */
            if (*m->valuestring)
                rc_buf_printf(&line, "%s: %s", m->string, m->valuestring);
            else
                rc_buf_printf(&line, "%s;", m->string);
            out->headers[out->n_headers++] = rc_buf_detach(&line, NULL);
        }
    }
    goto done;
nomem:
    rc = rc_err_set(err, RC_NOMEM, "out of memory");
done:
    cJSON_Delete(root);
    if (rc) rc__push_cfg_free(out);
    return rc;
}
