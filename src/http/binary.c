/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CloudEvents HTTP binding, binary content mode: context attributes travel
 * as ce-<name> headers (values percent-encoded, section 3.1.3.2), the body
 * is the data and Content-Type is datacontenttype.
 *
 * The decoder is a pure function over header name/value bytes taken from
 * the network: it bounds every read by the given lengths, refuses bad
 * escapes, decoded NULs and invalid UTF-8, and returns a validated event or
 * an error naming the header and the rule, never both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_internal.h"

#define ATTR_MAX 64

static int is_ce_header(const rc_http_header *h) {
    return h->name_len >= 3 && !strncasecmp(h->name, "ce-", 3);
}

/* Header names are case-insensitive; attribute names are lowercase
 * a-z0-9. Print a name we refuse without its control bytes. */
static void safe_name(const rc_http_header *h, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < h->name_len && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)h->name[i];
        out[o++] = (c >= 0x21 && c <= 0x7e && c != '"' && c != '\\') ? (char)c : '?';
    }
    out[o] = '\0';
}

int rc__http_binary_decode(const rc_http_header *h, size_t n, const void *body, size_t len,
                           rc_event **out, rc_err *err) {
    rc_event *ev = rc_event_new();
    rc_buf val = RC_BUF_INIT;
    const char *ctype = NULL;
    size_t ctype_len = 0;
    char shown[ATTR_MAX + 8];
    int rc = RC_OK;
    *out = NULL;
    if (!ev) return rc_err_set(err, RC_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len == 12 && !strncasecmp(h[i].name, "content-type", 12)) {
            if (ctype) {
                rc = rc_err_set(err, RC_EVENT_INVALID, "Content-Type: given more than once");
                goto fail;
            }
            ctype = h[i].value ? h[i].value : "";
            ctype_len = h[i].value ? h[i].value_len : 0;
            continue;
        }
        if (!is_ce_header(&h[i])) continue;
        char attr[ATTR_MAX + 1];
        size_t alen = h[i].name_len - 3;
        safe_name(&h[i], shown, sizeof shown);
        if (alen == 0 || alen > ATTR_MAX) {
            rc = rc_err_set(err, RC_EVENT_INVALID,
                            "%s: attribute name must be 1..%d lowercase letters or digits", shown,
                            ATTR_MAX);
            goto fail;
        }
        for (size_t k = 0; k < alen; k++) {
            char c = h[i].name[3 + k];
            if (c >= 'A' && c <= 'Z') c = (char)(c | 0x20);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                rc = rc_err_set(err, RC_EVENT_INVALID,
                                "%s: attribute name must be lowercase letters or digits", shown);
                goto fail;
            }
            attr[k] = c;
        }
        attr[alen] = '\0';
        if (!strcmp(attr, "data")) {
            rc = rc_err_set(err, RC_EVENT_INVALID, "ce-data: 'data' is not an attribute; send it as the body");
            goto fail;
        }
        rc_buf_reset(&val);
        if (rc__http_pct_decode(h[i].value ? h[i].value : "", h[i].value ? h[i].value_len : 0, 0,
                                &val)) {
            rc = rc_err_set(err, RC_EVENT_INVALID,
                            "ce-%s: invalid percent-encoding (or an encoded NUL)", attr);
            goto fail;
        }
        if (!rc_valid_utf8(val.p ? val.p : "", val.len)) {
            rc = rc_err_set(err, RC_EVENT_INVALID, "ce-%s: value is not valid UTF-8", attr);
            goto fail;
        }
        if (!strcmp(attr, "datacontenttype")) {
            /* Binary mode maps datacontenttype to Content-Type only; accept a
             * redundant copy that agrees, refuse one that contradicts it. */
            continue;
        }
        char tmp[32];
        if (rc_event_get(ev, attr, tmp, sizeof tmp)) {
            rc = rc_err_set(err, RC_EVENT_INVALID, "ce-%s: given more than once", attr);
            goto fail;
        }
        if (rc_event_set(ev, attr, val.p ? val.p : "") != RC_OK) {
            rc = rc_err_set(err, RC_NOMEM, "out of memory");
            goto fail;
        }
    }
    /* Second look at ce-datacontenttype, now that Content-Type is known. */
    for (size_t i = 0; i < n; i++) {
        if (!is_ce_header(&h[i]) || h[i].name_len != 18 ||
            strncasecmp(h[i].name + 3, "datacontenttype", 15))
            continue;
        char a[128], b[128];
        rc__http_media_type(h[i].value ? h[i].value : "", h[i].value ? h[i].value_len : 0, a,
                            sizeof a);
        rc__http_media_type(ctype ? ctype : "", ctype_len, b, sizeof b);
        if (strcmp(a, b)) {
            rc = rc_err_set(err, RC_EVENT_INVALID,
                            "ce-datacontenttype: contradicts Content-Type (binary mode carries "
                            "datacontenttype in Content-Type)");
            goto fail;
        }
    }
    if (!rc_event_get(ev, "specversion", NULL, 0)) {
        rc = rc_err_set(err, RC_EVENT_INVALID, "specversion: required (header ce-specversion)");
        goto fail;
    }
    if (ctype) {
        while (ctype_len && (ctype[ctype_len - 1] == ' ' || ctype[ctype_len - 1] == '\t')) ctype_len--;
        while (ctype_len && (*ctype == ' ' || *ctype == '\t')) ctype++, ctype_len--;
        if (!rc_valid_utf8(ctype, ctype_len) || memchr(ctype, 0, ctype_len)) {
            rc = rc_err_set(err, RC_EVENT_INVALID, "datacontenttype: Content-Type is not valid UTF-8");
            goto fail;
        }
        rc_buf_reset(&val);
        rc_buf_append(&val, ctype, ctype_len);
    }
    if (len) {
        rc = rc_event_set_data(ev, ctype && ctype_len ? val.p : NULL, body, len, RC_DATA_NONE);
        if (rc != RC_OK) {
            rc_err_set(err, rc, "data: %s", rc_strerror(rc));
            goto fail;
        }
    } else if (ctype && ctype_len && rc_event_set(ev, "datacontenttype", val.p) != RC_OK) {
        rc = rc_err_set(err, RC_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = rc_event_validate(ev, err)) != RC_OK) goto fail;
    rc_buf_free(&val);
    *out = ev;
    return RC_OK;
fail:
    rc_buf_free(&val);
    rc_event_free(ev);
    return rc;
}

static void put_attr(rc_http_res *res, rc_buf *name, rc_buf *val, const char *attr,
                     const char *v) {
    if (!v) return;
    rc_buf_reset(name);
    rc_buf_puts(name, "ce-");
    rc_buf_puts(name, attr);
    rc_buf_reset(val);
    rc__http_pct_encode_header(v, strlen(v), val);
    rc__http_res_header(res, name->p, val->p ? val->p : "");
}

void rc__http_binary_encode(const rc_event *ev, rc_http_res *res) {
    static const char *const attrs[] = {"specversion", "id",   "source",    "type",
                                        "subject",     "time", "dataschema"};
    rc_buf name = RC_BUF_INIT, val = RC_BUF_INIT;
    char tmp[32];
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        put_attr(res, &name, &val, attrs[i], rc_event_get(ev, attrs[i], tmp, sizeof tmp));
    for (size_t i = 0; i < ev->n_ext; i++)
        put_attr(res, &name, &val, ev->ext[i].name,
                 rc_event_get(ev, ev->ext[i].name, tmp, sizeof tmp));
    if (ev->seq) {
        snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)ev->seq);
        put_attr(res, &name, &val, "seq", tmp);
    }
    const char *ct = ev->datacontenttype;
    if (!ct && ev->data_form == RC_DATA_JSON) ct = "application/json";
    if (!ct) ct = ev->data_form == RC_DATA_TEXT ? "text/plain; charset=utf-8" : "application/octet-stream";
    res->status = 200;
    rc__http_res_header(res, "Content-Type", ct);
    rc_buf_reset(&res->body);
    if (ev->data_form != RC_DATA_NONE) rc_buf_append(&res->body, ev->data, ev->data_len);
    rc_buf_free(&name);
    rc_buf_free(&val);
}
