/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/push: a subscription's delivery settings as the delivery
 * threads use them, read back from the stored document (subs.c writes the
 * document, push.c delivers).
 */
#ifndef REDCAR_PUSH_INT_H
#define REDCAR_PUSH_INT_H

#include <stdint.h>

#include "redcar/push.h"

typedef struct rc__push_cfg {
    char *sink;
    char **headers;           /* "Name: value" lines, n_headers of them */
    size_t n_headers;
    int64_t max_attempts, timeout_ms, backoff_base_ms, backoff_max_ms;
} rc__push_cfg;

/* Read a stored document (as rc_push_sub_create wrote it). RC_OK or
 * RC_INVALID (a document edited behind Redcar's back). */
int rc__push_cfg_parse(const char *doc, rc__push_cfg *out, rc_err *err);
void rc__push_cfg_free(rc__push_cfg *c);

#endif
