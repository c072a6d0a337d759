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

/* ---- KV events (src/api/kv_events.c), shared by both doors ------------------
 * Each returns a new event owned by the caller, or NULL (out of memory, or a
 * hash field name that is not UTF-8). expire_ms is an absolute Unix time in
 * milliseconds; 0 means none. */
/* io.redcar.kv.put; keepttl: keep the key's current expiry. */
rc_event *rc_api_kv_put_event(const char *source, const char *key, const void *val, size_t len,
                              int64_t expire_ms, int keepttl);
/* io.redcar.kv.expire: set (expire_ms > 0) or clear (0) the expiry. */
rc_event *rc_api_kv_expire_event(const char *source, const char *key, int64_t expire_ms);
rc_event *rc_api_kv_rename_event(const char *source, const char *key, const char *newkey);
rc_event *rc_api_kv_hset_event(const char *source, const char *key, size_t n,
                               const char *const *fields, const size_t *flens,
                               const char *const *vals, const size_t *vlens);
rc_event *rc_api_kv_hdel_event(const char *source, const char *key, size_t n,
                               const char *const *fields, const size_t *flens);
/* io.redcar.kv.lpush (left) / rpush, values pushed in order. */
rc_event *rc_api_kv_push_event(const char *source, const char *key, int left, size_t n,
                               const char *const *vals, const size_t *vlens);
/* io.redcar.kv.lpop (left) / rpop with extension count (omitted when 1). */
rc_event *rc_api_kv_pop_event(const char *source, const char *key, int left, int64_t count);
/* io.redcar.message: subject = channel, data = the message bytes. */
rc_event *rc_api_message_event(const char *source, const char *channel, const void *data,
                               size_t len);
/* A JSON string for bytes, or {"base64":"..."} when they are not UTF-8. */
void rc_api_json_value(rc_buf *out, const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
