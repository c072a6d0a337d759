/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster mode on NATS JetStream (docs/cluster.md): the stream is the system
 * of record; this module connects to it, makes sure the stream exists, is
 * the store's replicator (publishes requests, hands the acks back) and runs
 * the apply loop that feeds the stream, in order, into the local store.
 *
 * Lifetime: start after the store is open and before the doors; stop after
 * the doors and before the store closes. One per process.
 */
#ifndef REDCAR_CLUSTER_H
#define REDCAR_CLUSTER_H

#include <stdint.h>

#include "redcar/status.h"
#include "redcar/store.h"

typedef struct rc_cluster rc_cluster;

typedef struct rc_cluster_opts {
    const char *urls;         /* "nats://h:p[,nats://h:p...]" */
    const char *node;         /* this node's name (unique in the cluster) */
    int replicas;             /* of the stream when this node creates it (1..5) */
    int64_t connect_wait_ms;  /* how long start-up waits for NATS and the stream */
} rc_cluster_opts;

/* Connect, ensure the stream, set the store's replicator and start the apply
 * loop. Waits for the connection and the stream up to connect_wait_ms. */
int rc_cluster_start(rc_cluster **out, const rc_cluster_opts *o, rc_store *st, rc_err *err);
/* Refuse new writes, stop the apply loop, wait briefly for publish acks,
 * disconnect. NULL-safe. */
void rc_cluster_stop(rc_cluster *c);

typedef struct rc_cluster_health {
    int connected;            /* to a NATS server now */
    int serving;              /* writes accepted (0: see why) */
    uint64_t applied;         /* local stream position */
    uint64_t stream_last;     /* the stream's last seq when last asked */
    char why[200];            /* empty when serving */
} rc_cluster_health;
void rc_cluster_health_get(rc_cluster *c, rc_cluster_health *h);

/* Before the store opens: when dir holds no database yet, download a
 * peer's snapshot (url: its HTTP GET /backup) as dir/redcar.db. The copy
 * carries the peer's stream position, so the apply loop continues from
 * there: how a new node catches up once the stream no longer holds the
 * start of the log. RC_OK without doing anything when a database exists. */
int rc_cluster_seed(const char *url, const char *dir, rc_err *err);

#endif
