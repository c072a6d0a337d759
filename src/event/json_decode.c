/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CloudEvents JSON format, decoding side (structured events and batches).
 * The only file of Redcar that builds cJSON trees.
 *
 * Trust boundary: the bytes come from the network. They are first checked by
 * rc__json_syntax (strict RFC 8259, bounded nesting, exact length), then
 * parsed by cJSON, then mapped member by member onto an rc_event: this file
 * checks JSON shape (a member's JSON type), rc_event_validate() the spec's
 * rules. An error names the member and the rule.
 *
 * Data: under a JSON content type (or none) `data` is any JSON value and is
 * kept as its compact JSON text (a JSON string stays a JSON string, quotes
 * included); under any other content type a JSON string is text (its
 * contents), another JSON value is still kept as JSON; `data_base64` is
 * binary. The encoder emits each form back the same way, so decode(encode(e))
 * gives e back.
 *
 * Strings are taken out of the cJSON tree rather than copied (cJSON uses
 * malloc, and nothing in Redcar changes its hooks).
 *
 * Threads: decoding is reentrant. cJSON's parser resets a global error
 * record on every call; Redcar never reads it (cJSON_GetErrorPtr), so those
 * stores, made inside the uninstrumented shared library, carry no state
 * between threads.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_internal.h"
#include "redcar/event.h"

/* Largest seq accepted: every integer up to 2^53 is exact in a double. */
#define SEQ_MAX 9007199254740992.0

typedef enum { M_ATTR, M_DATA, M_DATA64, M_SEQ } member_kind;

static const struct {
    const char *name;
    member_kind kind;
    size_t off; /* M_ATTR: the field */
} members[] = {
    {"specversion", M_ATTR, offsetof(rc_event, specversion)},
    {"id", M_ATTR, offsetof(rc_event, id)},
    {"source", M_ATTR, offsetof(rc_event, source)},
    {"type", M_ATTR, offsetof(rc_event, type)},
    {"datacontenttype", M_ATTR, offsetof(rc_event, datacontenttype)},
    {"dataschema", M_ATTR, offsetof(rc_event, dataschema)},
    {"subject", M_ATTR, offsetof(rc_event, subject)},
    {"time", M_ATTR, offsetof(rc_event, time)},
    {"data", M_DATA, 0},
    {"data_base64", M_DATA64, 0},
    {"seq", M_SEQ, 0},
};
#define NMEMBERS (sizeof members / sizeof members[0])

static int member_index(const char *name) {
    for (size_t i = 0; i < NMEMBERS; i++)
        if (!strcmp(members[i].name, name)) return (int)i;
    return -1;
}

/* Names come from the input; messages cut them short (the validator does
 * the same for its own messages). */
static int shape_err(rc_err *err, const char *name, const char *rule) {
    char lb[48];
    size_t j = 0;
    const char *p = name;
    for (; *p && j + 4 < sizeof lb; p++) lb[j++] = (*p > 0x20 && *p < 0x7F) ? *p : '?';
    if (*p) {
        memcpy(lb + j, "...", 3);
        j += 3;
    }
    lb[j] = '\0';
    return rc_err_set(err, RC_EVENT_INVALID, "%s: %s", lb, rule);
}

static char *steal_string(cJSON *item) {
    char *s = item->valuestring;
    item->valuestring = NULL;
    return s;
}

/* An integral double within [lo, hi]? */
static int integral_in(double d, double lo, double hi) {
    return isfinite(d) && d == floor(d) && d >= lo && d <= hi;
}

static int add_extension(rc_event *ev, cJSON *item, rc_err *err) {
    const char *name = item->string;
    rc_ext_type type;
    int b = 0;
    int64_t i = 0;
    char *s = NULL;
    if (cJSON_IsNull(item)) return RC_OK; /* null means absent */
    if (cJSON_IsString(item)) {
        type = RC_EXT_STRING;
        s = steal_string(item);
    } else if (cJSON_IsBool(item)) {
        type = RC_EXT_BOOL;
        b = cJSON_IsTrue(item);
    } else if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;
        if (!isfinite(d) || d != floor(d)) return shape_err(err, name, "must be a string, boolean or integer");
        /* Keep what fits in int64 so the validator can report the range. */
        if (!integral_in(d, -9.2e18, 9.2e18)) return shape_err(err, name, "integer out of int32 range");
        type = RC_EXT_INT;
        i = (int64_t)d;
    } else {
        return shape_err(err, name, "must be a string, boolean or integer");
    }
    char *n = item->string;
    item->string = NULL;
    return rc__event_push_ext(ev, n, type, b, i, s) ? rc_err_set(err, RC_NOMEM, "out of memory") : RC_OK;
}

static int check_unique(const rc_event *ev, rc_err *err) {
    long dup = rc__ext_duplicate(ev);
    if (dup == -2) return rc_err_set(err, RC_NOMEM, "out of memory");
    return dup >= 0 ? shape_err(err, ev->ext[dup].name, "duplicate member") : RC_OK;
}

static int set_data(rc_event *ev, cJSON *data, cJSON *data64, rc_err *err) {
    if (data64) {
        if (data) return shape_err(err, "data_base64", "must not be present together with data");
        if (!cJSON_IsString(data64)) return shape_err(err, "data_base64", "must be a string");
        const char *s = data64->valuestring;
        int rc = rc_base64_decode(s, strlen(s), &ev->data, &ev->data_len);
        if (rc == RC_NOMEM) return rc_err_set(err, RC_NOMEM, "out of memory");
        if (rc) return shape_err(err, "data_base64", "must be base64 (RFC 4648)");
        ev->data_form = RC_DATA_BINARY;
        return RC_OK;
    }
    if (!data) return RC_OK;
    if (cJSON_IsString(data) && !rc_is_json_ctype(ev->datacontenttype)) {
        char *s = steal_string(data);
        ev->data = (unsigned char *)s;
        ev->data_len = strlen(s);
        ev->data_form = RC_DATA_TEXT;
        return RC_OK;
    }
    /* cJSON prints an overflowing number (1e999) as null, which would come
     * back as "no data"; nested ones stay stable as null. */
    if (cJSON_IsNumber(data) && !isfinite(data->valuedouble))
        return shape_err(err, "data", "number out of range");
    char *text = cJSON_PrintUnformatted(data);
    if (!text) return rc_err_set(err, RC_NOMEM, "out of memory");
    ev->data = (unsigned char *)text;
    ev->data_len = strlen(text);
    ev->data_form = RC_DATA_JSON;
    return RC_OK;
}

/* One event from a parsed object. On error *out is untouched. */
static int decode_object(cJSON *obj, rc_event **out, rc_err *err) {
    if (!cJSON_IsObject(obj)) return rc_err_set(err, RC_EVENT_INVALID, "event: must be a JSON object");
    rc_event *ev = rc_event_new();
    if (!ev) return rc_err_set(err, RC_NOMEM, "out of memory");
    cJSON *data = NULL, *data64 = NULL;
    unsigned seen = 0;
    int rc = RC_OK;
    for (cJSON *item = obj->child; item; item = item->next) {
        int m = member_index(item->string);
        if (m < 0) {
            if ((rc = add_extension(ev, item, err))) goto fail;
            continue;
        }
        if (seen & (1u << m)) {
            rc = shape_err(err, item->string, "duplicate member");
            goto fail;
        }
        seen |= 1u << m;
        if (cJSON_IsNull(item)) continue; /* null means absent */
        switch (members[m].kind) {
        case M_ATTR:
            if (!cJSON_IsString(item)) {
                rc = shape_err(err, item->string, "must be a string");
                goto fail;
            }
            *(char **)((char *)ev + members[m].off) = steal_string(item);
            break;
        case M_DATA:
            data = item;
            break;
        case M_DATA64:
            data64 = item;
            break;
        case M_SEQ:
            if (!cJSON_IsNumber(item) || !integral_in(item->valuedouble, 0, SEQ_MAX)) {
                rc = shape_err(err, "seq", "must be an integer 0..2^53");
                goto fail;
            }
            ev->seq = (uint64_t)item->valuedouble;
            break;
        }
    }
    if ((rc = check_unique(ev, err)) || (rc = set_data(ev, data, data64, err)) ||
        (rc = rc_event_validate(ev, err)))
        goto fail;
    *out = ev;
    return RC_OK;
fail:
    rc_event_free(ev);
    return rc;
}

static int parse(const void *buf, size_t len, cJSON **root, rc_err *err) {
    if (!buf) len = 0;
    int rc = rc__json_syntax(buf, len, err);
    if (rc) return rc;
    /* Only memory can make cJSON fail on input that passed the check. */
    if (!(*root = cJSON_ParseWithLength(buf, len))) return rc_err_set(err, RC_NOMEM, "out of memory");
    return RC_OK;
}

int rc_event_decode_json(const void *buf, size_t len, rc_event **out, rc_err *err) {
    rc_err_clear(err);
    if (!out) return rc_err_set(err, RC_INVALID, "no output");
    *out = NULL;
    cJSON *root;
    int rc = parse(buf, len, &root, err);
    if (rc) return rc;
    rc = decode_object(root, out, err);
    cJSON_Delete(root);
    return rc;
}

int rc_event_decode_batch(const void *buf, size_t len, rc_event ***out, size_t *n, rc_err *err) {
    rc_err_clear(err);
    if (!out || !n) return rc_err_set(err, RC_INVALID, "no output");
    *out = NULL;
    *n = 0;
    cJSON *root;
    int rc = parse(buf, len, &root, err);
    if (rc) return rc;
    rc_event **evs = NULL;
    size_t count = 0, i = 0;
    if (!cJSON_IsArray(root)) {
        rc = rc_err_set(err, RC_EVENT_INVALID, "batch: must be a JSON array of events");
        goto done;
    }
    for (cJSON *it = root->child; it; it = it->next) count++;
    evs = calloc(count ? count : 1, sizeof *evs);
    if (!evs) {
        rc = rc_err_set(err, RC_NOMEM, "out of memory");
        goto done;
    }
    for (cJSON *it = root->child; it; it = it->next, i++) {
        rc_err one;
        rc_err_clear(&one);
        if ((rc = decode_object(it, &evs[i], &one))) {
            rc_err_set(err, rc, "[%zu] %s", i, rc_err_msg(&one));
            rc_event_free_array(evs, i);
            evs = NULL;
            goto done;
        }
    }
    *out = evs;
    *n = count;
done:
    cJSON_Delete(root);
    return rc;
}

char *rc__json_normalize(const void *p, size_t n, size_t *outlen) {
    if (!p || rc__json_syntax(p, n, NULL)) return NULL;
    cJSON *root = cJSON_ParseWithLength(p, n);
    if (!root) return NULL;
    char *text = NULL;
    if (!(cJSON_IsNumber(root) && !isfinite(root->valuedouble))) text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text && outlen) *outlen = strlen(text);
    return text;
}
