/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subscriptions API filters (3.2.4): the exact, prefix, suffix, all, any,
 * not and sql dialects, built from JSON or by hand, matched against events.
 *
 * The JSON comes from subscribers (untrusted). Everything is judged here,
 * once, when the subscription is made: shapes, non-empty names and values,
 * known dialects, CESQL syntax and static checks, and limits on size,
 * nesting and node count. What comes out is an immutable tree that matching
 * only reads, so any number of threads may match at once, and matching
 * never fails: a sql expression that errors is simply false.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/cesql_int.h"
#include "redcar/filter.h"

typedef enum { F_LIST, F_EXACT, F_PREFIX, F_SUFFIX, F_ALL, F_ANY, F_NOT, F_SQL } fkind;

typedef struct {
    char *attr;
    char *value;
    size_t vlen;
} fpair;

struct rc_filter {
    fkind kind;
    fpair *pairs;          /* EXACT/PREFIX/SUFFIX */
    size_t npairs;
    rc_filter **kids;      /* LIST/ALL/ANY: n >= 0 / 1; NOT: 1 */
    size_t nkids;
    rc_cesql *sql;         /* SQL */
    char *text;            /* SQL: the expression as given */
    size_t textlen;
};

/* The dialect names, indexed by fkind. */
static const char *const dialects[] = {
    [F_EXACT] = "exact", [F_PREFIX] = "prefix", [F_SUFFIX] = "suffix", [F_ALL] = "all",
    [F_ANY] = "any",     [F_NOT] = "not",       [F_SQL] = "sql",
};

void rc_filter_free(rc_filter *f) {
    if (!f) return;
    for (size_t i = 0; i < f->npairs; i++) {
        free(f->pairs[i].attr);
        free(f->pairs[i].value);
    }
    free(f->pairs);
    for (size_t i = 0; i < f->nkids; i++) rc_filter_free(f->kids[i]);
    free(f->kids);
    rc_cesql_free(f->sql);
    free(f->text);
    free(f);
}

static rc_filter *filter_new(fkind kind) {
    rc_filter *f = calloc(1, sizeof *f);
    if (f) f->kind = kind;
    return f;
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Attribute names: CloudEvents names are [a-z0-9]+; upper case is folded
 * (as CESQL does) so that "Type" means type rather than never matching. */
static int attr_name(const char *in, char **out, const char *where, rc_err *err) {
    size_t n = strlen(in);
    if (!n) return rc_err_set(err, RC_INVALID, "%s: attribute name must not be empty", where);
    char *p = dup_n(in, n);
    if (!p) return rc_err_set(err, RC_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            free(p);
            return rc_err_set(err, RC_INVALID,
                              "%s: \"%.40s\" is not an attribute name (letters and digits only)",
                              where, in);
        }
        p[i] = c;
    }
    *out = p;
    return RC_OK;
}

static int add_pair(rc_filter *f, const char *attr, const char *value, const char *where,
                    rc_err *err) {
    fpair *pp = realloc(f->pairs, (f->npairs + 1) * sizeof *pp);
    if (!pp) return rc_err_set(err, RC_NOMEM, "out of memory");
    f->pairs = pp;
    fpair *p = &pp[f->npairs];
    int rc = attr_name(attr, &p->attr, where, err);
    if (rc != RC_OK) return rc;
    if (!value || !*value) {
        rc = rc_err_set(err, RC_INVALID, "%s.%s: value must be a non-empty string", where,
                        p->attr);
        free(p->attr);
        return rc;
    }
    p->vlen = strlen(value);
    p->value = dup_n(value, p->vlen);
    if (!p->value) {
        free(p->attr);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    f->npairs++;
    return RC_OK;
}

static int sql_build(const char *expr, size_t len, const char *where, rc_filter **out,
                     rc_err *err) {
    rc_filter *f = filter_new(F_SQL);
    if (!f) return rc_err_set(err, RC_NOMEM, "out of memory");
    rc_err e;
    rc_err_clear(&e);
    int rc = rc_cesql_parse(expr, len, &f->sql, &e);
    if (rc == RC_OK) rc = rc_cesql_check_filter(f->sql, &e);
    if (rc != RC_OK) {
        rc_filter_free(f);
        return rc_err_set(err, rc, "%s: %s", where, e.msg);
    }
    f->text = dup_n(expr, len);
    f->textlen = len;
    if (!f->text) {
        rc_filter_free(f);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    *out = f;
    return RC_OK;
}

/* ---- programmatic construction -------------------------------------------- */

int rc_filter_new_attr(rc_filter_attr_kind kind, const char *attr, const char *value,
                       rc_filter **out, rc_err *err) {
    static const fkind kinds[] = {[RC_FILTER_EXACT] = F_EXACT, [RC_FILTER_PREFIX] = F_PREFIX,
                                  [RC_FILTER_SUFFIX] = F_SUFFIX};
    *out = NULL;
    if ((unsigned)kind > RC_FILTER_SUFFIX || !attr)
        return rc_err_set(err, RC_INVALID, "invalid attribute filter");
    rc_filter *f = filter_new(kinds[kind]);
    if (!f) return rc_err_set(err, RC_NOMEM, "out of memory");
    int rc = add_pair(f, attr, value, dialects[f->kind], err);
    if (rc != RC_OK) {
        rc_filter_free(f);
        return rc;
    }
    *out = f;
    return RC_OK;
}

int rc_filter_new_sql(const char *expr, size_t len, rc_filter **out, rc_err *err) {
    *out = NULL;
    return sql_build(expr, len, "sql", out, err);
}

/* Depth of a finished tree (for hand-built ones; JSON checks as it goes). */
static size_t filter_depth(const rc_filter *f) {
    size_t d = 0;
    for (size_t i = 0; i < f->nkids; i++) {
        size_t k = filter_depth(f->kids[i]);
        if (k > d) d = k;
    }
    return d + 1;
}

int rc_filter_new_all_any(int and_, rc_filter **subs, size_t n, rc_filter **out, rc_err *err) {
    *out = NULL;
    const char *name = and_ ? "all" : "any";
    rc_filter *f = NULL;
    int rc;
    if (!n || !subs) {
        rc = rc_err_set(err, RC_INVALID, "%s: needs at least one filter", name);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (!subs[i]) {
            rc = rc_err_set(err, RC_INVALID, "%s[%zu]: no filter", name, i);
            goto fail;
        }
    }
    f = filter_new(and_ ? F_ALL : F_ANY);
    rc_filter **kids = f ? malloc(n * sizeof *kids) : NULL;
    if (!kids) {
        rc = rc_err_set(err, RC_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(kids, subs, n * sizeof *kids);
    f->kids = kids;
    f->nkids = n;
    if (filter_depth(f) > RC_FILTER_MAX_DEPTH) {
        rc_filter_free(f);
        return rc_err_set(err, RC_INVALID, "%s: nested more than %d deep", name,
                          RC_FILTER_MAX_DEPTH);
    }
    *out = f;
    return RC_OK;
fail:
    free(f);
    for (size_t i = 0; subs && i < n; i++) rc_filter_free(subs[i]);
    return rc;
}

int rc_filter_new_not(rc_filter *sub, rc_filter **out, rc_err *err) {
    *out = NULL;
    if (!sub) return rc_err_set(err, RC_INVALID, "not: no filter");
    rc_filter *f = filter_new(F_NOT);
    rc_filter **kids = f ? malloc(sizeof *kids) : NULL;
    if (!kids) {
        free(f);
        rc_filter_free(sub);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    kids[0] = sub;
    f->kids = kids;
    f->nkids = 1;
    if (filter_depth(f) > RC_FILTER_MAX_DEPTH) {
        rc_filter_free(f);
        return rc_err_set(err, RC_INVALID, "not: nested more than %d deep", RC_FILTER_MAX_DEPTH);
    }
    *out = f;
    return RC_OK;
}

/* ---- JSON ------------------------------------------------------------------ */

typedef struct {
    rc_err *err;
    size_t nodes;
} jctx;

static int parse_one(jctx *j, const cJSON *obj, const char *where, int depth, rc_filter **out);

static int parse_array(jctx *j, const cJSON *arr, const char *where, int depth, fkind kind,
                       rc_filter **out) {
    int n = cJSON_GetArraySize(arr);
    if (kind != F_LIST && n == 0)
        return rc_err_set(j->err, RC_INVALID, "%s: needs at least one filter", where);
    rc_filter *f = filter_new(kind);
    if (!f) return rc_err_set(j->err, RC_NOMEM, "out of memory");
    if (n > 0 && !(f->kids = calloc((size_t)n, sizeof *f->kids))) {
        free(f);
        return rc_err_set(j->err, RC_NOMEM, "out of memory");
    }
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%.100s[%zu]", where, i);
        int rc = parse_one(j, e, sub, depth + 1, &f->kids[i]);
        if (rc != RC_OK) {
            rc_filter_free(f);
            return rc;
        }
        f->nkids = i + 1;
    }
    *out = f;
    return RC_OK;
}

static int parse_attrs(jctx *j, const cJSON *obj, const char *where, fkind kind, rc_filter **out) {
    if (!cJSON_IsObject(obj))
        return rc_err_set(j->err, RC_INVALID, "%s: must be an object of attribute names to strings",
                          where);
    if (!obj->child)
        return rc_err_set(j->err, RC_INVALID, "%s: needs at least one attribute", where);
    rc_filter *f = filter_new(kind);
    if (!f) return rc_err_set(j->err, RC_NOMEM, "out of memory");
    for (const cJSON *e = obj->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            rc_filter_free(f);
            return rc_err_set(j->err, RC_INVALID, "%s.%.40s: value must be a non-empty string",
                              where, e->string);
        }
        int rc = add_pair(f, e->string, e->valuestring, where, j->err);
        if (rc != RC_OK) {
            rc_filter_free(f);
            return rc;
        }
    }
    *out = f;
    return RC_OK;
}

static int parse_one(jctx *j, const cJSON *obj, const char *where, int depth, rc_filter **out) {
    *out = NULL;
    if (depth > RC_FILTER_MAX_DEPTH)
        return rc_err_set(j->err, RC_INVALID, "%s: filters nest more than %d deep", where,
                          RC_FILTER_MAX_DEPTH);
    if (++j->nodes > RC_FILTER_MAX_NODES)
        return rc_err_set(j->err, RC_INVALID, "%s: more than %d filter expressions", where,
                          RC_FILTER_MAX_NODES);
    if (!cJSON_IsObject(obj))
        return rc_err_set(j->err, RC_INVALID, "%s: a filter must be an object with one dialect",
                          where);
    const cJSON *d = obj->child;
    if (!d || d->next)
        return rc_err_set(j->err, RC_INVALID, "%s: a filter must have exactly one dialect, has %d",
                          where, cJSON_GetArraySize(obj));
    fkind kind = F_LIST;
    for (size_t k = F_EXACT; k <= F_SQL; k++)
        if (!strcmp(d->string, dialects[k])) kind = (fkind)k;
    /* where.dialect, the path that error messages name */
    char sub[128];
    snprintf(sub, sizeof sub, "%.100s.%s", where, kind == F_LIST ? "?" : d->string);
    switch (kind) {
    case F_EXACT:
    case F_PREFIX:
    case F_SUFFIX: return parse_attrs(j, d, sub, kind, out);
    case F_ALL:
    case F_ANY:
        if (!cJSON_IsArray(d))
            return rc_err_set(j->err, RC_INVALID, "%s: must be an array of filters", sub);
        return parse_array(j, d, sub, depth, kind, out);
    case F_NOT: {
        rc_filter *k;
        int rc = parse_one(j, d, sub, depth + 1, &k);
        if (rc != RC_OK) return rc;
        rc_filter *f = filter_new(F_NOT);
        rc_filter **kids = f ? malloc(sizeof *kids) : NULL;
        if (!kids) {
            free(f);
            rc_filter_free(k);
            return rc_err_set(j->err, RC_NOMEM, "out of memory");
        }
        kids[0] = k;
        f->kids = kids;
        f->nkids = 1;
        *out = f;
        return RC_OK;
    }
    case F_SQL:
        if (!cJSON_IsString(d))
            return rc_err_set(j->err, RC_INVALID, "%s: must be a string (a CESQL expression)", sub);
        return sql_build(d->valuestring, strlen(d->valuestring), sub, out, j->err);
    default:
        return rc_err_set(j->err, RC_INVALID,
                          "%s: unsupported filter dialect \"%.40s\" (exact, prefix, suffix, all, "
                          "any, not, sql)",
                          where, d->string);
    }
}

/* Offset of a \u0000 escape inside a JSON string, or -1. cJSON would cut
 * the string there without a word, and a filter value that silently lost
 * its tail would match the wrong events. */
static long nul_escape(const char *json, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            in_string = json[i] == '"';
        } else if (json[i] == '"') {
            in_string = 0;
        } else if (json[i] == '\\' && i + 1 < len) {
            if (json[i + 1] == 'u' && i + 5 < len && !memcmp(json + i + 2, "0000", 4))
                return (long)i;
            i++;
        }
    }
    return -1;
}

int rc_filter_parse_json(const char *json, size_t len, rc_filter **out, rc_err *err) {
    *out = NULL;
    if (len > RC_FILTER_MAX_JSON)
        return rc_err_set(err, RC_TOO_LARGE, "filters: %zu bytes, the limit is %d", len,
                          RC_FILTER_MAX_JSON);
    if (!json || !len) return rc_err_set(err, RC_INVALID, "filters: empty");
    long nul = nul_escape(json, len);
    if (nul >= 0)
        return rc_err_set(err, RC_INVALID, "filters: \\u0000 in a string at byte %ld", nul);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return rc_err_set(err, RC_INVALID, "filters: invalid JSON near byte %zu", at);
    }
    /* only whitespace may follow the value */
    for (size_t i = (size_t)(end - json); i < len; i++) {
        char c = json[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            cJSON_Delete(root);
            return rc_err_set(err, RC_INVALID, "filters: invalid JSON near byte %zu", i);
        }
    }
    jctx j = {.err = err};
    int rc;
    if (cJSON_IsArray(root)) rc = parse_array(&j, root, "filters", 0, F_LIST, out);
    else if (cJSON_IsObject(root)) rc = parse_one(&j, root, "filter", 1, out);
    else rc = rc_err_set(err, RC_INVALID, "filters: must be an array of filters or one filter");
    cJSON_Delete(root);
    if (rc == RC_OK) rc_err_clear(err);
    return rc;
}

/* ---- matching -------------------------------------------------------------- */

static int match_pair(fkind kind, const fpair *p, const rc_event *ev) {
    char tmp[32];
    const char *v = rc_event_get(ev, p->attr, tmp, sizeof tmp);
    if (!v) return 0; /* a missing attribute never matches */
    size_t n = strlen(v);
    switch (kind) {
    case F_EXACT: return n == p->vlen && !memcmp(v, p->value, n);
    case F_PREFIX: return n >= p->vlen && !memcmp(v, p->value, p->vlen);
    default: return n >= p->vlen && !memcmp(v + n - p->vlen, p->value, p->vlen);
    }
}

int rc_filter_match(const rc_filter *f, const rc_event *ev) {
    if (!f) return 1;
    if (!ev) return 0;
    switch (f->kind) {
    case F_EXACT:
    case F_PREFIX:
    case F_SUFFIX:
        for (size_t i = 0; i < f->npairs; i++)
            if (!match_pair(f->kind, &f->pairs[i], ev)) return 0;
        return 1;
    case F_LIST:
    case F_ALL:
        for (size_t i = 0; i < f->nkids; i++)
            if (!rc_filter_match(f->kids[i], ev)) return 0;
        return 1;
    case F_ANY:
        for (size_t i = 0; i < f->nkids; i++)
            if (rc_filter_match(f->kids[i], ev)) return 1;
        return 0;
    case F_NOT: return !rc_filter_match(f->kids[0], ev);
    case F_SQL: return rc_cesql_match(f->sql, ev);
    }
    return 0;
}

/* ---- JSON out -------------------------------------------------------------- */

static void json_string(rc_buf *b, const char *s, size_t n) {
    rc_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            rc_buf_putc(b, '\\');
            rc_buf_putc(b, (char)c);
        } else if (c < 0x20) {
            rc_buf_printf(b, "\\u%04x", c);
        } else {
            rc_buf_putc(b, (char)c);
        }
    }
    rc_buf_putc(b, '"');
}

static void to_json(const rc_filter *f, rc_buf *b) {
    if (f->kind == F_LIST) {
        rc_buf_putc(b, '[');
        for (size_t i = 0; i < f->nkids; i++) {
            if (i) rc_buf_putc(b, ',');
            to_json(f->kids[i], b);
        }
        rc_buf_putc(b, ']');
        return;
    }
    rc_buf_printf(b, "{\"%s\":", dialects[f->kind]);
    switch (f->kind) {
    case F_EXACT:
    case F_PREFIX:
    case F_SUFFIX:
        rc_buf_putc(b, '{');
        for (size_t i = 0; i < f->npairs; i++) {
            if (i) rc_buf_putc(b, ',');
            json_string(b, f->pairs[i].attr, strlen(f->pairs[i].attr));
            rc_buf_putc(b, ':');
            json_string(b, f->pairs[i].value, f->pairs[i].vlen);
        }
        rc_buf_putc(b, '}');
        break;
    case F_ALL:
    case F_ANY:
        rc_buf_putc(b, '[');
        for (size_t i = 0; i < f->nkids; i++) {
            if (i) rc_buf_putc(b, ',');
            to_json(f->kids[i], b);
        }
        rc_buf_putc(b, ']');
        break;
    case F_NOT: to_json(f->kids[0], b); break;
    default: json_string(b, f->text, f->textlen); break;
    }
    rc_buf_putc(b, '}');
}

void rc_filter_to_json(const rc_filter *f, rc_buf *out) {
    if (!f) {
        rc_buf_puts(out, "[]");
        return;
    }
    if (f->kind != F_LIST) rc_buf_putc(out, '[');
    to_json(f, out);
    if (f->kind != F_LIST) rc_buf_putc(out, ']');
}
