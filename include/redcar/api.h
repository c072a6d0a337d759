/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transport-neutral operations that both doors call, so that a Redis SET and
 * an HTTP PUT /kv produce the same event. A door translates its protocol into
 * these calls; it decides nothing about the log itself.
 */
#ifndef REDCAR_API_H
#define REDCAR_API_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/event.h"
#include "redcar/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_ID_MAX 48
#define RC_KV_TYPE_PREFIX "io.redcar.kv."
#define RC_MESSAGE_TYPE "io.redcar.message"

/* A fresh event id, unique across restarts of this data directory:
 * "<boot time ms, hex>-<process-wide counter>". Thread-safe. */
void rc_api_new_id(char out[RC_ID_MAX]);

/* A new event with specversion 1.0, a fresh id, the given source and type,
 * and `time` set to now. NULL on OOM. */
rc_event *rc_api_event_new(const char *source, const char *type);

/* The KV event for operation op ("put", "delete", "expire", ...) on key:
 * type io.redcar.kv.<op>, subject = key, data = val (may be NULL) with
 * content type ctype (NULL: none). NULL on OOM. */
rc_event *rc_api_kv_event(const char *source, const char *op, const char *key, const void *val,
                          size_t len, const char *ctype);

#ifdef __cplusplus
}
#endif
#endif
