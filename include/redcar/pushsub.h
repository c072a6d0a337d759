/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stored push subscriptions (schema v3, schemas/store_v3.sql): the store
 * side of webhooks. The push module (redcar/push.h) decides what a
 * subscription means; the store only keeps it, next to its durable
 * consumer (redcar/consumer.h), and changes both in one transaction:
 *  - create inserts the row and creates the consumer, or does neither;
 *  - delete removes the row and the consumer (with its pending list);
 *  - dead_letter appends an io.redcar.deadletter event for one pending
 *    event and finishes it, atomically, with a reason the caller chose
 *    (the consumer's own dead-letter path only knows "too many
 *    deliveries"; a webhook also knows "the sink answered 404").
 *
 * The document (doc) is opaque JSON here: written and read only by the
 * push module.
 *
 * Threads: every function blocks and is thread-safe; none may run on the
 * store's writer thread. Changes are as durable as an append.
 *
 * Trust boundary: ids and documents were validated by the push module;
 * the store checks lengths and that the strings are non-empty.
 */
#ifndef REDCAR_PUSHSUB_H
#define REDCAR_PUSHSUB_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/consumer.h"
#include "redcar/status.h"
#include "redcar/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_PUSHSUB_ID_MAX 64        /* bytes of an id */
#define RC_PUSHSUB_DOC_MAX 131072    /* bytes of a document */

/* A stored subscription. Strings are borrowed for the callback. */
typedef struct rc_pushsub {
    const char *id;
    const char *consumer;     /* name of its durable consumer */
    const char *doc;          /* the push module's JSON */
    int64_t created_ms;
    int has_consumer;         /* 0: the consumer was deleted behind its back */
} rc_pushsub;

typedef int (*rc_pushsub_fn)(const rc_pushsub *s, void *arg); /* non-zero stops */

/* Insert the row and create the consumer c (c->name is the consumer's
 * name) in one transaction. RC_CONFLICT when the id or the consumer name
 * exists; the consumer's validation errors otherwise. */
int rc_pushsub_create(rc_store *st, const char *id, const rc_consumer_opts *c, const char *doc,
                      rc_err *err);
/* Remove the row and its consumer. RC_NOT_FOUND. */
int rc_pushsub_delete(rc_store *st, const char *id, rc_err *err);
/* RC_NOT_FOUND when there is no such id. */
int rc_pushsub_get(rc_store *st, const char *id, rc_pushsub_fn fn, void *arg, rc_err *err);
/* Every subscription, by id. */
int rc_pushsub_list(rc_store *st, rc_pushsub_fn fn, void *arg, rc_err *err);

/* Dead-letter pending event seq of consumer: append an io.redcar.deadletter
 * event in the consumer's shape (source /redcar/consumers/<consumer>,
 * subject = consumer, extension originalseq, data {"consumer","seq",
 * "deliveries","reason","event":{"type","source","id"}}) and acknowledge
 * seq, in one transaction. The event id is "<consumer created_ms>-<seq>",
 * as the consumer's own dead letters, so the two paths never write two
 * dead letters for one event. *dl_seq (may be NULL) = the dead letter's
 * seq. RC_NOT_FOUND when the consumer is gone. */
int rc_pushsub_dead_letter(rc_store *st, const char *consumer, uint64_t seq, uint32_t deliveries,
                           const char *reason, uint64_t *dl_seq, rc_err *err);

#ifdef __cplusplus
}
#endif
#endif
