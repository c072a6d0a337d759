/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/store: the pieces of durable consumers (consumer.c) that
 * store.c and the unit tests need.
 */
#ifndef REDCAR_CONSUMER_INT_H
#define REDCAR_CONSUMER_INT_H

#include "redcar/buf.h"
#include "redcar/consumer.h"
#include "redcar/filter.h"

/* The text of schemas/store_v2.sql (migration v2: consumer tables). */
const char *rc__store_schema_v2(void);

/* A consumer's filter, parsed: exact matches (NULL = any) served by the
 * log's indexes, and the Subscriptions API filters applied to decoded
 * events (NULL = none). */
typedef struct rc__cfilter {
    char *type, *source, *subject, *subject_prefix;
    rc_filter *f;
} rc__cfilter;

/* Parse a filter object (see consumer.h); canon (may be NULL) receives its
 * canonical JSON. json NULL or "" is the empty filter. */
int rc__cfilter_parse(const char *json, size_t len, rc__cfilter *out, rc_buf *canon, rc_err *err);
void rc__cfilter_free(rc__cfilter *f);

/* Start position: "beginning", "end", "seq:N", "time:T". kind 0..3. */
enum { RC__START_BEGIN, RC__START_END, RC__START_SEQ, RC__START_TIME };
int rc__start_parse(const char *s, int *kind, int64_t *value, rc_err *err);

#endif
