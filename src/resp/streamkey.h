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
 * Reads go through tx when it is non-NULL (a step on the store's writer
 * thread, which sees its own appends), else through the read pool.
 */
#ifndef RC_RESP_STREAMKEY_H
#define RC_RESP_STREAMKEY_H

#include <stddef.h>

#include "redcar/buf.h"
#include "redcar/store.h"

/* *is_stream = 1 when key names a stream now. RC_OK or a store error. */
int rc__r_stream_key(rc_store *st, rc_txn *tx, const char *key, int *is_stream, rc_err *err);

/* Inside a step: remove the stream key: one io.redcar.stream.trimmed
 * tombstone that hides every entry so far and marks the key as gone. */
int rc__r_stream_remove(rc_txn *tx, const char *key, rc_err *err);

/* The durable consumer names of key's consumer groups (committed ones, read
 * through the pool), each NUL-terminated one after the other in out; *n of
 * them. */
int rc__r_stream_groups(rc_store *st, const char *key, size_t klen, rc_buf *out, size_t *n,
                        rc_err *err);

#endif
