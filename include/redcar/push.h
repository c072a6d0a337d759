/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push subscriptions (webhooks): Redcar delivers the events a subscription
 * selects to its sink URL, as CloudEvents over HTTP in binary content mode
 * (ce-* headers percent-encoded, body = data, Content-Type =
 * datacontenttype), with libcurl.
 *
 * A subscription has the shape of the CloudEvents Subscriptions API:
 *   {"id": "...",                 optional; generated (16 hex digits) when absent
 *    "sink": "http://host/path",  required; http or https only
 *    "protocol": "HTTP",          optional; HTTP is the only protocol
 *    "filters": [ ... ],          optional; Subscriptions API filters (redcar/filter.h)
 *    "protocolsettings": {"headers": {"Name": "value"}},   optional; extra request headers
 *    "config": {"max_attempts": 5, "timeout_ms": 10000,
 *               "backoff_base_ms": 1000, "backoff_max_ms": 60000,
 *               "start": "end"}}  optional; start as for consumers (redcar/consumer.h)
 * Unknown members are refused, so a typo is an error and not a default.
 *
 * Delivery (per subscription, strictly in log order: an event is sent only
 * after the one before it was acknowledged or dead-lettered):
 *   2xx                    -> acknowledged;
 *   408, 429, 5xx, a timeout or a connection failure -> retried after a
 *                             delay: the response's Retry-After (seconds or
 *                             an HTTP date, at most retry_after_max_ms) when
 *                             it has one, else exponential backoff
 *                             min(backoff_max, backoff_base * 2^(n-1)) with
 *                             equal jitter (a delay in [d/2, d]);
 *   any other status (3xx: redirects are not followed, 4xx) -> dead-lettered
 *                             at once: retrying cannot change the answer;
 *   max_attempts attempts that all failed -> dead-lettered.
 * A dead letter is an io.redcar.deadletter event (redcar/pushsub.h) whose
 * data names the seq, the attempts and the reason ("HTTP 503 after 5
 * attempts"); then delivery moves on.
 *
 * Durability: a subscription is a durable consumer named "push.<id>" in
 * cursor mode with max_deliver = max_attempts, plus its document in the
 * store (schema v3): both survive restarts, and so do its position and
 * the attempt count of the event in flight. Delivery is at least once: an
 * event whose 2xx arrived but whose acknowledgement did not commit before
 * a crash is sent again. Each request carries ce-seq (the log position) so
 * a sink can drop duplicates.
 *
 * Threads: rc_push_start() runs a supervisor thread, which re-reads the
 * subscription table every poll_ms and starts or stops one delivery thread
 * per subscription (so a slow sink delays only its own subscription). A
 * delivery thread waits for new events with rc_hub_wait(), never spins.
 * rc_push_stop() returns within about a second: transfers are aborted from
 * curl's progress callback, backoff sleeps are interruptible.
 *
 * The subscription functions take the store, not the rc_push handle, so
 * a door needs nothing but the store: the running rc_push picks changes up
 * within poll_ms, and deletion stops delivery at once (the consumer is
 * gone, so the next acknowledgement or fetch fails and the thread ends).
 *
 * Trust boundary: request bodies, ids and sink URLs come from clients and
 * are validated here; responses from sinks are untrusted too (only the
 * status line and Retry-After are read, the body is discarded).
 */
#ifndef REDCAR_PUSH_H
#define REDCAR_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/hub.h"
#include "redcar/status.h"
#include "redcar/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_PUSH_CONSUMER_PREFIX "push."
#define RC_PUSH_ID_MAX 64            /* bytes of a subscription id */
#define RC_PUSH_SINK_MAX 2048        /* bytes of a sink URL */
#define RC_PUSH_MAX_SUBSCRIPTIONS 256
#define RC_PUSH_MAX_HEADERS 32       /* protocolsettings.headers */

/* Per-subscription defaults (config members) and their bounds. */
#define RC_PUSH_DEFAULT_ATTEMPTS 5
#define RC_PUSH_MAX_ATTEMPTS 100
#define RC_PUSH_DEFAULT_TIMEOUT_MS 10000
#define RC_PUSH_MAX_TIMEOUT_MS 300000
#define RC_PUSH_DEFAULT_BACKOFF_BASE_MS 1000
#define RC_PUSH_DEFAULT_BACKOFF_MAX_MS 60000
#define RC_PUSH_MAX_BACKOFF_MS 3600000

typedef struct rc_push rc_push;

typedef struct rc_push_opts {
    int64_t connect_timeout_ms;  /* per request (5000) */
    int64_t retry_after_max_ms;  /* longest Retry-After honoured (600000) */
    int64_t poll_ms;             /* subscription table re-read period (250) */
} rc_push_opts;

void rc_push_opts_default(rc_push_opts *o);

/* Start delivering every stored subscription. st and hub are borrowed and
 * must outlive the handle. opts NULL = defaults. */
int rc_push_start(rc_push **out, rc_store *st, rc_hub *hub, const rc_push_opts *opts, rc_err *err);
/* Stop every delivery (an event in flight stays pending and is sent again
 * after the next start), join the threads, free. NULL-safe. */
void rc_push_stop(rc_push *p);

/* ---- subscriptions (for the doors) ------------------------------------------ */

/* Create from a request body (the shape above). RC_OK, id (may be NULL) =
 * its id and out (may be NULL) = the subscription as JSON (rc_push_sub_get); RC_INVALID (err names the
 * member), RC_CONFLICT (id exists), RC_TOO_LARGE; RC_INVALID too when
 * RC_PUSH_MAX_SUBSCRIPTIONS exist already. */
int rc_push_sub_create(rc_store *st, const char *json, size_t len, rc_buf *out,
                       char id[RC_PUSH_ID_MAX + 1], rc_err *err);
/* The subscription as JSON: id, protocol, sink, filters, protocolsettings,
 * config, plus "consumer" and a read-only "status" (the consumer's
 * positions and counters). RC_NOT_FOUND. */
int rc_push_sub_get(rc_store *st, const char *id, rc_buf *out, rc_err *err);
/* A JSON array of every subscription, by id. */
int rc_push_sub_list(rc_store *st, rc_buf *out, rc_err *err);
/* Delete the subscription and its consumer. RC_NOT_FOUND. */
int rc_push_sub_delete(rc_store *st, const char *id, rc_err *err);

/* ---- pure parts (exported for the tests) ------------------------------------- */

/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date
 * (IMF-fixdate, RFC 850 or asctime form). RC_OK and *delay_ms (a date in
 * the past gives 0), or RC_INVALID. */
int rc_push_retry_after(const char *value, int64_t now_ms, int64_t *delay_ms);

/* Backoff before attempt n+1 after n (>= 1) failed attempts:
 * d = min(max_ms, base_ms * 2^(n-1)), then equal jitter: d/2 + rnd % (d - d/2 + 1),
 * a delay in [d/2, d]. */
int64_t rc_push_backoff_ms(uint32_t n, int64_t base_ms, int64_t max_ms, uint64_t rnd);

typedef enum {
    RC_PUSH_DELIVERED = 0,  /* 2xx */
    RC_PUSH_RETRY,          /* 408, 429, 5xx, timeout, connection failure */
    RC_PUSH_REJECTED        /* anything else: dead-letter at once */
} rc_push_outcome;

/* Outcome of one attempt: http_status (0 when there was no response) and
 * whether the transfer failed (transport_error != 0). */
rc_push_outcome rc_push_classify(long http_status, int transport_error);

/* A ce-* header value, percent-encoded (CloudEvents HTTP binding 3.1.3.2:
 * space, '"', '%' and bytes outside 0x21..0x7E). Appends to out. */
void rc_push_pct_encode(const char *s, size_t n, rc_buf *out);

/* RC_OK when url is an absolute http or https URL with a host and no
 * whitespace or control bytes, else RC_INVALID with err saying why. */
int rc_push_check_sink(const char *url, rc_err *err);

#ifdef __cplusplus
}
#endif
#endif
