/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CloudEvents v1.0.2 event model, its validator and its JSON format.
 *
 * An rc_event is a plain value: every string it points to is owned by it and
 * released by rc_event_free(). Strings are NUL-terminated UTF-8. Data is kept
 * as bytes plus a form that says how the JSON format carries it, so that
 * encode(decode(x)) gives back the same event.
 *
 * Trust boundary: the decoders take untrusted bytes from the network. They
 * never crash, never read past len, and return an event or an error, never
 * both. The decoder checks JSON shape (types of members); rc_event_validate()
 * checks the spec's rules. rc_event_decode_json() runs both.
 */
#ifndef REDCAR_EVENT_H
#define REDCAR_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CloudEvents type system for extension attributes. In the JSON format
 * Binary, URI, URI-reference and Timestamp travel as strings: a decoded
 * string extension is RC_EXT_STRING; the other string kinds exist so that
 * producers inside Redcar can state (and have validated) what they mean. */
typedef enum {
    RC_EXT_BOOL,
    RC_EXT_INT,       /* int32 */
    RC_EXT_STRING,
    RC_EXT_BINARY,    /* value.s holds base64 text */
    RC_EXT_URI,
    RC_EXT_URIREF,
    RC_EXT_TIME       /* RFC 3339 */
} rc_ext_type;

typedef struct rc_ext {
    char *name;       /* a-z0-9, 1..20 chars recommended, never "data" */
    rc_ext_type type;
    int b;            /* RC_EXT_BOOL */
    int64_t i;        /* RC_EXT_INT: validated to be within int32 */
    char *s;          /* every string kind */
} rc_ext;

/* How `data` is carried in the JSON format. */
typedef enum {
    RC_DATA_NONE = 0, /* no data */
    RC_DATA_JSON,     /* data bytes are JSON text (a JSON content type or none) */
    RC_DATA_TEXT,     /* data bytes are the contents of a JSON string ("data": "...") */
    RC_DATA_BINARY    /* arbitrary bytes ("data_base64") */
} rc_data_form;

typedef struct rc_event {
    uint64_t seq;            /* log position; 0 when not stored. Never an extension. */
    /* required */
    char *id;
    char *source;            /* URI-reference */
    char *specversion;       /* "1.0" */
    char *type;
    /* optional (NULL when absent) */
    char *datacontenttype;
    char *dataschema;        /* absolute URI */
    char *subject;
    char *time;              /* RFC 3339 */
    /* data */
    rc_data_form data_form;
    unsigned char *data;     /* data_len bytes, NUL-terminated past the end */
    size_t data_len;
    /* extensions, in insertion order, names unique */
    rc_ext *ext;
    size_t n_ext;
    size_t cap_ext;
} rc_event;

/* ---- lifetime ----------------------------------------------------------- */
rc_event *rc_event_new(void);                      /* zeroed; specversion unset */
void rc_event_free(rc_event *ev);                  /* NULL-safe */
rc_event *rc_event_clone(const rc_event *ev);
void rc_event_free_array(rc_event **evs, size_t n);/* frees each and the array */

/* ---- attributes --------------------------------------------------------- */
/* Set a context attribute by name: the required and optional attributes go
 * to their fields, any other name becomes a String extension. value NULL
 * removes the attribute. Copies value. Returns RC_OK or RC_NOMEM. */
int rc_event_set(rc_event *ev, const char *name, const char *value);
/* The value of a context attribute as a string (NULL when absent). Integer
 * and Boolean extensions are formatted into tmp (>= 24 bytes). */
const char *rc_event_get(const rc_event *ev, const char *name, char *tmp, size_t tmplen);
int rc_event_set_ext_bool(rc_event *ev, const char *name, int v);
int rc_event_set_ext_int(rc_event *ev, const char *name, int64_t v);
int rc_event_set_ext_string(rc_event *ev, const char *name, rc_ext_type type, const char *v);
const rc_ext *rc_event_ext(const rc_event *ev, const char *name);
/* Context attributes kept in fields (id, source, specversion, type,
 * datacontenttype, dataschema, subject, time): the index of a name (-1 for
 * any other name, i.e. an extension), and the value at an index (NULL when
 * absent). Lets hot paths (filters) resolve a name once, not per event. */
int rc_event_attr_index(const char *name);
const char *rc_event_attr_at(const rc_event *ev, int index);
int rc_event_remove_ext(rc_event *ev, const char *name); /* RC_OK or RC_NOT_FOUND */

/* Set data bytes (copied). form RC_DATA_NONE means "choose": JSON when the
 * content type is a JSON type (or absent) and the bytes parse as JSON, TEXT
 * when the bytes are valid UTF-8 and the content type is textual, else
 * BINARY. ctype is also stored as datacontenttype (NULL leaves it unchanged). */
int rc_event_set_data(rc_event *ev, const char *ctype, const void *data, size_t len,
                      rc_data_form form);

/* ---- validation (CloudEvents v1.0.2) ------------------------------------ */
/* RC_OK or RC_EVENT_INVALID with err->msg naming the attribute and the rule,
 * e.g. "source: must be a non-empty URI-reference". */
int rc_event_validate(const rc_event *ev, rc_err *err);

/* Helpers the validator uses, exported for the doors and the tests. */
int rc_valid_uri_ref(const char *s);         /* RFC 3986 URI-reference */
int rc_valid_uri_abs(const char *s);         /* absolute URI (has a scheme) */
int rc_valid_ext_name(const char *s);        /* [a-z0-9]+, not "data" */
int rc_valid_utf8(const void *p, size_t n);
/* RFC 3339 date-time -> milliseconds since the epoch (UTC). RC_OK/RC_INVALID. */
int rc_time_parse(const char *s, int64_t *ms_out);
/* milliseconds since the epoch -> "2026-11-21T05:02:06.123Z" (buf >= 32). */
void rc_time_format(int64_t ms, char *buf, size_t buflen);
int rc_is_json_ctype(const char *ctype);     /* application/json, +json, NULL */

/* ---- JSON event format -------------------------------------------------- */
/* One structured event. Validates. *out is owned by the caller. */
int rc_event_decode_json(const void *buf, size_t len, rc_event **out, rc_err *err);
/* A batch (JSON array of events). All or nothing: on error nothing is
 * returned and err names the index, e.g. "[3] id: must be a non-empty string". */
int rc_event_decode_batch(const void *buf, size_t len, rc_event ***out, size_t *n, rc_err *err);

/* Encoding flags. */
#define RC_ENC_SEQ 1u   /* add the `seq` extension from ev->seq (when non-zero) */

/* Append the structured JSON form (one line, no trailing newline) to out. */
void rc_event_encode_json(const rc_event *ev, unsigned flags, rc_buf *out);
/* Append a JSON array of events. */
void rc_event_encode_batch(rc_event *const *evs, size_t n, unsigned flags, rc_buf *out);

/* Base64 (RFC 4648, with padding). decode returns RC_OK or RC_INVALID;
 * *out is malloc'd and NUL-terminated. */
void rc_base64_encode(const void *p, size_t n, rc_buf *out);
int rc_base64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif
