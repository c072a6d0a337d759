/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rc_event value: lifetime, attribute access, extensions and data.
 *
 * Invariants: every string an event points to is owned by it (one malloc
 * each); extension names are unique and kept in insertion order; data is
 * NUL-terminated past data_len so text users can treat it as a string;
 * data_form is RC_DATA_NONE exactly when there is no data. Nothing here
 * validates against the spec (rc_event_validate does); the setters only
 * refuse what would break those invariants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_internal.h"
#include "redcar/event.h"

/* The required and optional attributes that live in fields, by name. The
 * table drives set/get/clone/equality so that adding an attribute is one row. */
static const struct {
    const char *name;
    size_t off;
} fields[] = {
    {"id", offsetof(rc_event, id)},
    {"source", offsetof(rc_event, source)},
    {"specversion", offsetof(rc_event, specversion)},
    {"type", offsetof(rc_event, type)},
    {"datacontenttype", offsetof(rc_event, datacontenttype)},
    {"dataschema", offsetof(rc_event, dataschema)},
    {"subject", offsetof(rc_event, subject)},
    {"time", offsetof(rc_event, time)},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static char **field_ptr(rc_event *ev, size_t i) { return (char **)((char *)ev + fields[i].off); }
static char *const *field_cptr(const rc_event *ev, size_t i) {
    return (char *const *)((const char *)ev + fields[i].off);
}

static int field_index(const char *name) {
    for (size_t i = 0; i < NFIELDS; i++)
        if (!strcmp(fields[i].name, name)) return (int)i;
    return -1;
}

int rc_event_attr_index(const char *name) { return field_index(name); }

const char *rc_event_attr_at(const rc_event *ev, int index) {
    return index >= 0 && (size_t)index < NFIELDS ? *field_cptr(ev, (size_t)index) : NULL;
}

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

rc_event *rc_event_new(void) { return calloc(1, sizeof(rc_event)); }

static void ext_clear(rc_ext *x) {
    free(x->name);
    free(x->s);
}

static void data_clear(rc_event *ev) {
    free(ev->data);
    ev->data = NULL;
    ev->data_len = 0;
    ev->data_form = RC_DATA_NONE;
}

void rc_event_free(rc_event *ev) {
    if (!ev) return;
    for (size_t i = 0; i < NFIELDS; i++) free(*field_ptr(ev, i));
    for (size_t i = 0; i < ev->n_ext; i++) ext_clear(&ev->ext[i]);
    free(ev->ext);
    free(ev->data);
    free(ev);
}

void rc_event_free_array(rc_event **evs, size_t n) {
    if (!evs) return;
    for (size_t i = 0; i < n; i++) rc_event_free(evs[i]);
    free(evs);
}

rc_event *rc_event_clone(const rc_event *ev) {
    if (!ev) return NULL;
    rc_event *c = rc_event_new();
    if (!c) return NULL;
    c->seq = ev->seq;
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *s = *field_cptr(ev, i);
        if (s && !(*field_ptr(c, i) = dup_str(s))) goto fail;
    }
    if (ev->data_form != RC_DATA_NONE) {
        c->data = malloc(ev->data_len + 1);
        if (!c->data) goto fail;
        if (ev->data_len) memcpy(c->data, ev->data, ev->data_len);
        c->data[ev->data_len] = '\0';
        c->data_len = ev->data_len;
        c->data_form = ev->data_form;
    }
    if (ev->n_ext) {
        c->ext = calloc(ev->n_ext, sizeof(rc_ext));
        if (!c->ext) goto fail;
        c->cap_ext = ev->n_ext;
        for (size_t i = 0; i < ev->n_ext; i++) {
            const rc_ext *x = &ev->ext[i];
            rc_ext *y = &c->ext[i];
            *y = *x;
            y->name = dup_str(x->name);
            y->s = dup_str(x->s);
            c->n_ext = i + 1; /* y is now owned by c, even half-built */
            if (!y->name || (x->s && !y->s)) goto fail;
        }
    }
    return c;
fail:
    rc_event_free(c);
    return NULL;
}

/* ---- extensions ---------------------------------------------------------- */

static rc_ext *ext_find(const rc_event *ev, const char *name) {
    for (size_t i = 0; i < ev->n_ext; i++)
        if (!strcmp(ev->ext[i].name, name)) return &ev->ext[i];
    return NULL;
}

const rc_ext *rc_event_ext(const rc_event *ev, const char *name) {
    return ev && name ? ext_find(ev, name) : NULL;
}

int rc__event_push_ext(rc_event *ev, char *name, rc_ext_type type, int b, int64_t i, char *s) {
    if (ev->n_ext == ev->cap_ext) {
        size_t cap = ev->cap_ext ? ev->cap_ext * 2 : 4;
        rc_ext *p = realloc(ev->ext, cap * sizeof(rc_ext));
        if (!p) {
            free(name);
            free(s);
            return RC_NOMEM;
        }
        ev->ext = p;
        ev->cap_ext = cap;
    }
    rc_ext *x = &ev->ext[ev->n_ext++];
    x->name = name;
    x->type = type;
    x->b = b;
    x->i = i;
    x->s = s;
    return RC_OK;
}

/* Replace the value of an existing extension in place (keeping its position)
 * or append a new one. s is copied. */
static int ext_put(rc_event *ev, const char *name, rc_ext_type type, int b, int64_t i,
                   const char *s) {
    if (!ev || !name) return RC_INVALID;
    char *sc = NULL;
    if (s && !(sc = dup_str(s))) return RC_NOMEM;
    rc_ext *x = ext_find(ev, name);
    if (x) {
        free(x->s);
        x->type = type;
        x->b = b;
        x->i = i;
        x->s = sc;
        return RC_OK;
    }
    char *nc = dup_str(name);
    if (!nc) {
        free(sc);
        return RC_NOMEM;
    }
    return rc__event_push_ext(ev, nc, type, b, i, sc);
}

int rc_event_set_ext_bool(rc_event *ev, const char *name, int v) {
    return ext_put(ev, name, RC_EXT_BOOL, v ? 1 : 0, 0, NULL);
}

int rc_event_set_ext_int(rc_event *ev, const char *name, int64_t v) {
    return ext_put(ev, name, RC_EXT_INT, 0, v, NULL);
}

int rc_event_set_ext_string(rc_event *ev, const char *name, rc_ext_type type, const char *v) {
    if (type == RC_EXT_BOOL || type == RC_EXT_INT || !v) return RC_INVALID;
    return ext_put(ev, name, type, 0, 0, v);
}

int rc_event_remove_ext(rc_event *ev, const char *name) {
    rc_ext *x = ev && name ? ext_find(ev, name) : NULL;
    if (!x) return RC_NOT_FOUND;
    ext_clear(x);
    size_t at = (size_t)(x - ev->ext);
    memmove(x, x + 1, (ev->n_ext - at - 1) * sizeof(rc_ext));
    ev->n_ext--;
    return RC_OK;
}

/* ---- attributes by name ---------------------------------------------------- */

int rc_event_set(rc_event *ev, const char *name, const char *value) {
    if (!ev || !name) return RC_INVALID;
    int f = field_index(name);
    if (f < 0) {
        if (!value) {
            rc_event_remove_ext(ev, name);
            return RC_OK;
        }
        return ext_put(ev, name, RC_EXT_STRING, 0, 0, value);
    }
    char *v = NULL;
    if (value && !(v = dup_str(value))) return RC_NOMEM;
    char **slot = field_ptr(ev, (size_t)f);
    free(*slot);
    *slot = v;
    return RC_OK;
}

const char *rc_event_get(const rc_event *ev, const char *name, char *tmp, size_t tmplen) {
    if (!ev || !name) return NULL;
    int f = field_index(name);
    if (f >= 0) return *field_cptr(ev, (size_t)f);
    const rc_ext *x = ext_find(ev, name);
    if (!x) return NULL;
    switch (x->type) {
    case RC_EXT_BOOL:
        return x->b ? "true" : "false";
    case RC_EXT_INT:
        if (!tmp || !tmplen) return NULL;
        snprintf(tmp, tmplen, "%lld", (long long)x->i);
        return tmp;
    default:
        return x->s;
    }
}

/* ---- data ----------------------------------------------------------------- */

static int data_store(rc_event *ev, const void *p, size_t n, rc_data_form form) {
    unsigned char *d = malloc(n + 1);
    if (!d) return RC_NOMEM;
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    data_clear(ev);
    ev->data = d;
    ev->data_len = n;
    ev->data_form = form;
    return RC_OK;
}

/* JSON data is kept as the caller's text without insignificant whitespace,
 * exactly as the decoder keeps it, so that an event built here equals the
 * same event after an encode/decode trip (numbers and escapes untouched). */
static int data_store_json(rc_event *ev, const void *p, size_t n) {
    size_t len;
    char *min = rc__json_minify(p, n, &len);
    if (!min) return RC_INVALID;
    data_clear(ev);
    ev->data = (unsigned char *)min;
    ev->data_len = len;
    ev->data_form = RC_DATA_JSON;
    return RC_OK;
}

static int choose_and_store(rc_event *ev, const char *ct, const void *data, size_t len,
                            rc_data_form form) {
    switch (form) {
    case RC_DATA_JSON:
        return data_store_json(ev, data, len);
    case RC_DATA_TEXT:
        /* NUL cannot travel: the decoder refuses \u0000. */
        if (!rc_valid_utf8(data, len) || memchr(data, 0, len)) return RC_INVALID;
        return data_store(ev, data, len, RC_DATA_TEXT);
    case RC_DATA_BINARY:
        return data_store(ev, data, len, RC_DATA_BINARY);
    case RC_DATA_NONE:
        break;
    default:
        return RC_INVALID;
    }
    /* Choose. Under a JSON content type, bytes that are not JSON go to
     * data_base64: carried as a string they would come back as JSON text. */
    if (rc_is_json_ctype(ct)) {
        int rc = data_store_json(ev, data, len);
        if (rc != RC_INVALID) return rc;
        return data_store(ev, data, len, RC_DATA_BINARY);
    }
    if (rc__is_textual_ctype(ct) && rc_valid_utf8(data, len) && !memchr(data, 0, len))
        return data_store(ev, data, len, RC_DATA_TEXT);
    return data_store(ev, data, len, RC_DATA_BINARY);
}

int rc_event_set_data(rc_event *ev, const char *ctype, const void *data, size_t len,
                      rc_data_form form) {
    if (!ev) return RC_INVALID;
    /* The content type is only stored once the data is: an error leaves the
     * event as it was. */
    char *ct = NULL;
    if (ctype && !(ct = dup_str(ctype))) return RC_NOMEM;
    int rc = RC_OK;
    if (!data) data_clear(ev);
    else rc = choose_and_store(ev, ct ? ct : ev->datacontenttype, data, len, form);
    if (rc) {
        free(ct);
        return rc;
    }
    if (ct) {
        free(ev->datacontenttype);
        ev->datacontenttype = ct;
    }
    return RC_OK;
}

/* ---- equality --------------------------------------------------------------- */

static int str_eq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return !strcmp(a, b);
}

int rc__event_equal(const rc_event *a, const rc_event *b) {
    if (!a || !b) return a == b;
    if (a->seq != b->seq) return 0;
    for (size_t i = 0; i < NFIELDS; i++)
        if (!str_eq(*field_cptr(a, i), *field_cptr(b, i))) return 0;
    if (a->data_form != b->data_form || a->data_len != b->data_len) return 0;
    if (a->data_len && memcmp(a->data, b->data, a->data_len)) return 0;
    if (a->n_ext != b->n_ext) return 0;
    for (size_t i = 0; i < a->n_ext; i++) {
        const rc_ext *x = &a->ext[i], *y = &b->ext[i];
        if (strcmp(x->name, y->name) || x->type != y->type) return 0;
        switch (x->type) {
        case RC_EXT_BOOL:
            if (x->b != y->b) return 0;
            break;
        case RC_EXT_INT:
            if (x->i != y->i) return 0;
            break;
        default:
            if (!str_eq(x->s, y->s)) return 0;
        }
    }
    return 1;
}
