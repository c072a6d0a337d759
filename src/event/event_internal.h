/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private helpers shared by the files of the event module (model, validator,
 * JSON codec). Not part of the public contract: other modules use
 * redcar/event.h only. The unit tests of this module may include it.
 */
#ifndef REDCAR_EVENT_INTERNAL_H
#define REDCAR_EVENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/event.h"

/* Append an extension without looking for an existing one of that name (the
 * decoder checks uniqueness itself, in O(n log n)). Takes ownership of name
 * and s (either may be NULL for s). RC_OK or RC_NOMEM (ownership is then
 * released: both are freed). */
int rc__event_push_ext(rc_event *ev, char *name, rc_ext_type type, int b, int64_t i, char *s);

/* Append s (n bytes) as the contents of a JSON string (no quotes): escapes
 * " \ and control characters, passes valid UTF-8 through and replaces
 * invalid UTF-8 with U+FFFD so that the output is always valid JSON. */
void rc__json_escape(rc_buf *out, const char *s, size_t n);

/* Check n bytes as one JSON value (rc__json_syntax) and return a copy with
 * the insignificant whitespace removed, as the decoder keeps JSON data:
 * everything else (strings with their escapes, numbers) byte for byte.
 * malloc'd, NUL-terminated; NULL when the bytes are not JSON (or on OOM).
 * *outlen gets the length. */
char *rc__json_minify(const void *p, size_t n, size_t *outlen);

/* RFC 2046 / RFC 6838 media type: type "/" subtype *(";" parameter). */
int rc__valid_media_type(const char *s);
/* A media type whose bytes are text (text/..., JSON, XML, ...). */
int rc__is_textual_ctype(const char *s);
/* Strict RFC 4648 base64 text with padding and zero pad bits. */
int rc__valid_base64(const char *s, size_t n);

/* How deep arrays and objects may nest. The same as cJSON's default limit,
 * so that cJSON-based readers of what Redcar serves (redcar-ctl) can read
 * every event it accepts. */
#define RC_JSON_MAX_DEPTH 1000
/* How long a number may be: cJSON (and so redcar-ctl) cannot read a number
 * longer than 63 characters, and no CloudEvents producer needs one. */
#define RC_JSON_MAX_NUMBER 63

/* Strict RFC 8259 check of len bytes (UTF-8, no \u0000, nesting within
 * RC_JSON_MAX_DEPTH, numbers within RC_JSON_MAX_NUMBER characters). RC_OK or
 * RC_INVALID with err->msg "invalid JSON at byte N: why". */
int rc__json_syntax(const void *buf, size_t len, rc_err *err);

/* Index of the first extension (in order) whose name an earlier one already
 * has; -1 when names are unique, -2 on OOM. O(n log n) for many extensions,
 * so a hostile event with thousands of them costs no quadratic time. */
long rc__ext_duplicate(const rc_event *ev);

/* Attribute-by-attribute equality (seq included); for tests and fuzzers. */
int rc__event_equal(const rc_event *a, const rc_event *b);

#endif
