/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streams as keys: what the keyspace commands (cmd_keys.c) ask of the
 * Streams family (cmd_stream.c). Not a public header.
 *
 * A stream is a subject of the log (docs/streams.md). As a key, a subject
 * is a stream when its newest stored event is neither an event of the KV
 * view (io.redcar.kv.*: that name is the KV view's, which answers for it)
 * nor the tombstone DEL leaves. So an XADD, an HTTP event or a PUBLISH
 * makes one, XDEL and XTRIM leave it (empty, as in Redis), DEL removes it,
 * and a KV key set and deleted again never was one.
 *
 * The keyspace commands that list (KEYS, SCAN) walk the log's distinct
 * subjects (rc_store_subjects) and keep those whose newest
 * event says "stream" and that are not KV keys; see cmd_keys.c.
 *
 * Reads go through tx when it is non-NULL (a step on the store's writer
 * thread, which sees its own appends), else through the read pool.
 */
#ifndef RC_RESP_STREAMKEY_H
#define RC_RESP_STREAMKEY_H

#include <stddef.h>

#include "redcar/buf.h"
#include "redcar/store.h"
#include "resp/door.h"

/* *is_stream = 1 when key names a stream now. RC_OK or a store error. */
int rc__r_stream_key(rc_store *st, rc_txn *tx, const char *key, int *is_stream, rc_err *err);

/* Inside a step: remove the stream key: one io.redcar.stream.trimmed
 * tombstone that hides every entry so far and marks the key as gone. */
int rc__r_stream_remove(rc_txn *tx, const char *key, rc_err *err);

/* Inside a step: remove key's consumer groups (their durable consumers),
 * as DEL of a stream does; *n (may be NULL) receives how many. Consumer
 * changes must not run twice: only from a step submitted with
 * rc__r_txn_once (or inside EXEC). */
int rc__r_stream_drop_groups(rc_store *st, rc_txn *tx, const char *key, size_t *n, rc_err *err);

/* The newest stored event of a subject says whether it is a stream key
 * (above): 1 when it is. r->json is needed only for RC__R_STREAM_TRIMMED
 * (the walks of rc_store_subjects read no other payload). */
#define RC__R_STREAM_TRIMMED "io.redcar.stream.trimmed"
int rc__r_stream_newest_live(const rc_stored *r);

/* The seq of the newest stored event whose subject is key (0: none): any
 * write to a stream appends one (an entry or a tombstone), which is what
 * WATCH compares. */
int rc__r_subject_head(rc_store *st, rc_txn *tx, const char *key, uint64_t *seq, rc_err *err);

/* Keyspace notification of a committed event on a stream subject: "xadd"
 * (an entry), "xdel", "xtrim", "del" (*generic set: class g, else t), or
 * NULL (no notification: KV events, MKSTREAM's empty stream). */
const char *rc__r_stream_event_name(const rc_event *ev, int *generic);


/* FLUSHDB with streams: when there are stream keys, one step (run once)
 * appends evs (the KV keys' delete events, n of them; taken) and removes
 * every stream with its groups, answers +OK and returns 1. 0 when there
 * is no stream (evs untouched: the caller appends them as a batch) or on
 * an error (answered). */
int rc__r_flush_streams(rc__call *c, rc_event **evs, size_t n);

#endif
