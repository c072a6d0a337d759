/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable consumers: named positions in the log, kept in the store.
 *
 * One model, two modes. A consumer remembers which events it has been
 * handed and which it has finished, in SQLite, so it survives restarts:
 *  - group:  members (any string naming a client) fetch; each event is
 *            leased to one member at a time. An event not acknowledged
 *            within ack_wait_ms is due again and handed to whichever member
 *            fetches next; after max_deliver deliveries it is dead-lettered
 *            instead: an event of type io.redcar.deadletter (subject = the
 *            consumer's name, data names the original seq and the reason)
 *            is appended to the log and the group moves on. Nack makes an
 *            event due again after a delay; claim takes over events idle
 *            for a while from another member.
 *  - cursor: one reader whose acknowledgement is cumulative (ack N
 *            finishes every event <= N, at most the head, and moves ack_seq
 *            to N). ack_wait_ms and max_deliver default to 0: such a cursor
 *            keeps no pending list, and a fetch hands out "the events after
 *            ack_seq" (again until acknowledged) from the read path below.
 *            A cursor with a lease or a delivery limit leases like a group.
 * A leasing fetch first hands out due pending events (lowest seq first),
 * then new events after the read position. Delivery is at least once.
 *
 * Positions: read_seq and ack_seq (every event <= it is finished) only
 * grow; ack_seq never passes a pending event. For a leasing consumer every
 * event <= read_seq was examined (leased, filtered away or dead-lettered);
 * for a cursor without a pending list read_seq is bookkeeping (the highest
 * event handed out at least once) and only ack_seq is its position.
 * Lag = head - ack_seq (log positions, including events the filter skips).
 *
 * Retention (redcar/retention.h): a consumer whose next event retention
 * removed (and a create at such a seq or time) fails with RC_TRIMMED naming
 * the earliest stored seq; "beginning" is the earliest stored event. A
 * pending event that retention removed is dead-lettered when it falls due
 * (reason: removed by retention), never dropped silently.
 *
 * Filter: a JSON object whose members are all optional:
 *   {"type": "...", "source": "...", "subject": "...", "subject_prefix": "...",
 *    "filters": [ Subscriptions API filters, see redcar/filter.h ]}
 * The string members are exact matches served by the log's indexes; all
 * given parts must match. A consumer never receives the dead-letter events
 * it produced itself.
 *
 * Threads and durability: every change runs as a transaction function on
 * the store's writer thread and returns after its commit is durable by the
 * store's fsync rule (an ack that returned RC_OK survives a crash). Reads
 * (get, list, pending) use the read pool. All functions are thread-safe and
 * block; none may be called on the writer thread.
 *
 * Trust boundary: names, members, start positions and filter JSON come
 * from clients; they are validated here and refused with RC_INVALID and a
 * message naming the field.
 */
#ifndef REDCAR_CONSUMER_H
#define REDCAR_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/status.h"
#include "redcar/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_DEADLETTER_TYPE "io.redcar.deadletter"
#define RC_CONSUMER_NAME_MAX 128   /* bytes of a consumer or member name */
#define RC_CONSUMER_FETCH_MAX 10000 /* most events in one fetch or claim */

typedef enum { RC_CONSUMER_CURSOR = 1, RC_CONSUMER_GROUP = 2 } rc_consumer_mode;

/* "cursor" / "group"; NULL for anything else. */
const char *rc_consumer_mode_name(int mode);
/* RC_OK and *mode, or RC_INVALID. */
int rc_consumer_mode_parse(const char *s, int *mode);

typedef struct rc_consumer_opts {
    const char *name;         /* [A-Za-z0-9._-], 1..RC_CONSUMER_NAME_MAX bytes */
    int mode;                 /* rc_consumer_mode; 0 = cursor */
    /* "beginning" (default), "end" (only events appended from now on),
     * "seq:N" (first event delivered: N), "time:RFC3339" (from the first
     * event, in log order, whose time is >= T; the end when there is none). */
    const char *start;
    const char *filter_json;  /* NULL or "" = every event */
    int64_t ack_wait_ms;      /* -1 = default: 0 for a cursor, 30000 for a group */
    int64_t max_deliver;      /* -1 = default: 0 (no limit) for a cursor, 5 for a group */
} rc_consumer_opts;
#define RC_CONSUMER_OPTS_INIT {NULL, 0, NULL, NULL, -1, -1}

/* A consumer as read. Strings are borrowed for the callback. */
typedef struct rc_consumer_info {
    const char *name;
    int mode;
    const char *filter_json;  /* canonical form */
    const char *start;
    uint64_t read_seq, ack_seq;
    uint64_t head_seq;        /* head of the log when read */
    uint64_t lag;             /* head_seq - ack_seq */
    uint64_t pending;         /* events handed out and not finished */
    int64_t ack_wait_ms, max_deliver, created_ms;
    uint64_t delivered;       /* deliveries, first ones and redeliveries */
    uint64_t redelivered;
    uint64_t acked;
    uint64_t dead;            /* dead-lettered */
} rc_consumer_info;

typedef int (*rc_consumer_fn)(const rc_consumer_info *c, void *arg); /* non-zero stops */

/* RC_CONFLICT when the name exists; fn (may be NULL) gets the new consumer. */
int rc_consumer_create(rc_store *st, const rc_consumer_opts *o, rc_consumer_fn fn, void *arg,
                       rc_err *err);
/* Removes the consumer and its pending list. RC_NOT_FOUND. */
int rc_consumer_delete(rc_store *st, const char *name, rc_err *err);
int rc_consumer_get(rc_store *st, const char *name, rc_consumer_fn fn, void *arg,
                    rc_err *err); /* RC_NOT_FOUND */
/* Every consumer, by name. */
int rc_consumer_list(rc_store *st, rc_consumer_fn fn, void *arg, rc_err *err);

/* ---- fetching ----------------------------------------------------------- */

typedef struct rc_consumer_msg {
    uint64_t seq;
    uint32_t deliveries;      /* 1 on the first delivery */
    size_t off, len;          /* the event's stored JSON (no seq) in batch->json */
} rc_consumer_msg;

/* The events of one fetch or claim. Owns its memory (rc_consumer_batch_free). */
typedef struct rc_consumer_batch {
    rc_consumer_msg *msgs;
    size_t n, cap;
    rc_buf json;
    uint64_t head_seq;        /* head of the log as seen by the fetch */
    uint64_t read_seq;        /* the consumer's read position after it */
    int64_t next_due_ms;      /* earliest time a pending event is due again (0: none) */
    size_t dead;              /* events dead-lettered by this call */
} rc_consumer_batch;

void rc_consumer_batch_init(rc_consumer_batch *b);
void rc_consumer_batch_free(rc_consumer_batch *b);

/* Hand out up to limit (1..RC_CONSUMER_FETCH_MAX) events to member
 * (cursor: may be NULL). Does not wait: an empty batch means nothing is
 * due now; wait with rc_hub_wait() (new events) and until next_due_ms.
 * A cursor without a pending list is served by rc_consumer_read(). */
int rc_consumer_fetch(rc_store *st, const char *name, const char *member, size_t limit,
                      rc_consumer_batch *out, rc_err *err);
/* Take over up to count pending events idle for at least min_idle_ms
 * (whoever holds them, due or not) and hand them to member; a claim is a
 * delivery (it counts towards max_deliver). */
int rc_consumer_claim(rc_store *st, const char *name, const char *member, int64_t min_idle_ms,
                      size_t count, rc_consumer_batch *out, rc_err *err);

/* Finish events. Group: each listed seq that is pending (held by any
 * member: a late ack still counts). Cursor: every pending event <= the
 * largest listed seq. *done (may be NULL) = events finished. Seqs that are
 * not pending are ignored. */
int rc_consumer_ack(rc_store *st, const char *name, const char *member, const uint64_t *seqs,
                    size_t n, size_t *done, rc_err *err);
/* Make pending events due again after delay_ms (0: at once). *done = events
 * found pending. */
int rc_consumer_nack(rc_store *st, const char *name, const char *member, const uint64_t *seqs,
                     size_t n, int64_t delay_ms, size_t *done, rc_err *err);

/* ---- the read path: no pending list -------------------------------------
 * A cursor whose ack_wait_ms and max_deliver are both 0 (the cursor
 * defaults) needs no per-event record: a fetch hands out "the events after
 * the ack position" and an ack moves that position. The read path serves
 * such a fetch from a pooled read connection, handing each event to a
 * callback straight from the read statement, and records it with one
 * asynchronous update (read_seq, counters, and the ack position over
 * events the filter skipped before the first one handed out), so a replay
 * writes no row per event and never waits for the writer. The SSE stream
 * of a cursor reads the same way from a position of its own (see
 * h_consumers.c): only what the client confirms moves the cursor.
 * Only durable events are read (the head as of the last durable commit). */

/* One event read. json is its stored JSON without seq, borrowed for the
 * callback. deliveries is 1, or 2 when an earlier read or fetch already
 * handed it out (the read path keeps no exact count). */
typedef struct rc_consumer_row {
    uint64_t seq;
    uint32_t deliveries;
    const char *json;
    size_t len;
} rc_consumer_row;
typedef int (*rc_consumer_row_fn)(const rc_consumer_row *r, void *arg); /* non-zero stops */

typedef struct rc_consumer_read_opts {
    uint64_t after;           /* events > after; 0 = after the consumer's ack position */
    size_t limit;             /* 1..RC_CONSUMER_FETCH_MAX events handed to fn */
    int fetch;                /* only for a consumer without a pending list (else res->plain
                               * is 0 and nothing is read): the caller falls back to
                               * rc_consumer_fetch */
    int note;                 /* record the read (read_seq, delivered, redelivered; for a
                               * fetch from the ack position also the skipped events);
                               * only for a consumer without a pending list */
    int ack;                  /* with fetch and note: acknowledge what was read (ack_seq
                               * moves to res->last in the same update: at most once) */
} rc_consumer_read_opts;

typedef struct rc_consumer_read_res {
    int mode;                 /* the consumer's mode */
    int plain;                /* a cursor with ack_wait_ms 0 and max_deliver 0 */
    size_t n;                 /* events handed to fn */
    uint64_t head_seq;        /* durable head when read */
    uint64_t ack_seq;         /* the consumer's ack position when read */
    uint64_t read_seq;        /* max(the consumer's read_seq, last) */
    uint64_t last;            /* every event <= last was examined: read on with after = last */
} rc_consumer_read_res;

/* RC_NOT_FOUND; RC_TRIMMED when the position is below the earliest stored
 * event (err names it). fn returning non-zero stops the read early (the
 * event it refused is not counted and last stays below it). */
int rc_consumer_read(rc_store *st, const char *name, const rc_consumer_read_opts *o,
                     rc_consumer_row_fn fn, void *arg, rc_consumer_read_res *res, rc_err *err);

/* ---- pending list ------------------------------------------------------- */

typedef struct rc_consumer_pending {
    uint64_t seq;
    const char *member;       /* borrowed for the callback */
    uint32_t deliveries;
    int64_t last_ms;          /* last handed out */
    int64_t idle_ms;          /* now - last_ms */
    int64_t due_ms;           /* due again at */
} rc_consumer_pending;

typedef int (*rc_consumer_pending_fn)(const rc_consumer_pending *p, void *arg);

/* Pending events with seq > after, lowest first, at most limit (0: all);
 * member (NULL: all) restricts to one member's. RC_NOT_FOUND. */
int rc_consumer_pending_list(rc_store *st, const char *name, const char *member, uint64_t after,
                             size_t limit, rc_consumer_pending_fn fn, void *arg, rc_err *err);

/* ---- members ------------------------------------------------------------ */

typedef struct rc_consumer_member {
    const char *member;       /* borrowed for the callback */
    int64_t seen_ms;          /* last read or claim */
    int64_t active_ms;        /* last handed events; -1: never */
} rc_consumer_member;
typedef int (*rc_consumer_member_fn)(const rc_consumer_member *m, void *arg);

/* The members recorded by rc_consumer_txn_member_touch, by name (members
 * that only hold pending events are in the pending list). RC_NOT_FOUND. */
int rc_consumer_members(rc_store *st, const char *name, rc_consumer_member_fn fn, void *arg,
                        rc_err *err);

/* ---- inside a caller's transaction function ------------------------------
 * The same operations as steps of the caller's own transaction function
 * (rc_store_txn / rc_store_txn_async), for a door that must not block its
 * thread and wants a consumer change atomic with its own reads and appends
 * (the RESP door's Redis Streams commands run them as asynchronous steps).
 * They run on the writer thread only, inside the function; st is the store
 * that runs it. Changes commit (or roll back) with the caller's transaction.
 * Same validation and errors as the blocking forms. */
int rc_consumer_txn_create(rc_store *st, rc_txn *tx, const rc_consumer_opts *o, rc_err *err);
int rc_consumer_txn_delete(rc_store *st, rc_txn *tx, const char *name, rc_err *err);
/* RC_NOT_FOUND, or RC_OK and the read position (may be NULL). */
int rc_consumer_txn_position(rc_store *st, rc_txn *tx, const char *name, uint64_t *read_seq,
                             rc_err *err);
int rc_consumer_txn_fetch(rc_store *st, rc_txn *tx, const char *name, const char *member,
                          size_t limit, rc_consumer_batch *out, rc_err *err);
/* Group ack: each listed seq that is pending, whoever holds it. */
int rc_consumer_txn_ack(rc_store *st, rc_txn *tx, const char *name, const uint64_t *seqs,
                        size_t n, size_t *done, rc_err *err);
/* Move the read position to read_seq (new events are > it); backwards too
 * unless forward_only. Pending events stay pending. */
int rc_consumer_txn_seek(rc_store *st, rc_txn *tx, const char *name, uint64_t read_seq,
                         int forward_only, rc_err *err);
/* Forget a member: its pending events (they count as finished) and its
 * record (rc_consumer_members). */
int rc_consumer_txn_drop_member(rc_store *st, rc_txn *tx, const char *name, const char *member,
                                size_t *dropped, rc_err *err);
/* Record that member used the consumer now (a read or a claim; active: it
 * was handed events). A consumer keeps its members, those holding nothing
 * too, until rc_consumer_txn_drop_member or its deletion, so they survive
 * restarts (Redis keeps a stream consumer until XGROUP DELCONSUMER).
 * *fresh (may be NULL) = 1 when the member was new. RC_NOT_FOUND. */
int rc_consumer_txn_member_touch(rc_store *st, rc_txn *tx, const char *name, const char *member,
                                 int active, int *fresh, rc_err *err);
/* Pending events as rc_consumer_pending_list(), seen from the transaction. */
int rc_consumer_txn_pending(rc_store *st, rc_txn *tx, const char *name, const char *member,
                            uint64_t after, size_t limit, rc_consumer_pending_fn fn, void *arg,
                            rc_err *err);

/* Claim by seq (seqs != NULL: each listed pending event idle for at least
 * min_idle_ms) or by scan (pending events > after, lowest first, at most
 * count claimed and scan_max examined (0: no bound); *next = the first
 * pending seq not examined, 0 when the scan reached the end). */
typedef struct rc_consumer_claim_opts {
    int64_t min_idle_ms;
    const uint64_t *seqs;
    size_t n_seqs;
    uint64_t after;
    size_t count;
    size_t scan_max;
    int no_count;            /* not a delivery: the delivery count stays (Redis JUSTID) */
    int64_t set_last_ms;     /* -1: now; else the new last-delivery time (Redis IDLE/TIME) */
    int64_t set_deliveries;  /* -1: +1 (or unchanged with no_count); else this (RETRYCOUNT) */
} rc_consumer_claim_opts;
#define RC_CONSUMER_CLAIM_OPTS_INIT {0, NULL, 0, 0, 0, 0, 0, -1, -1}
/* Claimed events go to out; one whose payload retention removed has len 0. */
int rc_consumer_txn_claim(rc_store *st, rc_txn *tx, const char *name, const char *member,
                          const rc_consumer_claim_opts *o, rc_consumer_batch *out,
                          uint64_t *next, rc_err *err);
/* The names of the consumers of mode `mode` whose names begin with
 * prefix, in name order, from inside the transaction (sees its own
 * changes). fn may not change consumers; collect and act afterwards. */
int rc_consumer_txn_names(rc_store *st, rc_txn *tx, const char *prefix, rc_consumer_mode mode,
                          int (*fn)(const char *name, void *arg), void *arg, rc_err *err);
/* Read the log from inside the transaction (sees its own appends): the
 * seq, type, source and subject bounds of rc_query (no prefix or time). */
int rc_consumer_txn_scan(rc_store *st, rc_txn *tx, const rc_query *q, rc_stored_fn fn,
                         void *arg, rc_err *err);

/* ---- JSON request bodies (shared by the doors) --------------------------- */

/* The members a door may receive in a consumer request body:
 *   create: name, mode, start, filter (object) or filters (array: the
 *           Subscriptions API part alone), ack_wait_ms, max_deliver
 *   ack/nack: member, seqs (array of positive integers), delay_ms
 *   claim:  member, min_idle_ms, count
 * Pure: untrusted bytes in, values out. Members not in `allowed` (a
 * comma-separated list of the names above) are refused, so a typo is an
 * error and not a silent default. Strings and seqs live in the request
 * (rc_consumer_req_free). Absent numbers are -1, absent strings NULL. */
typedef struct rc_consumer_req {
    rc_consumer_opts opts;    /* create */
    const char *member;
    uint64_t *seqs;
    size_t n_seqs;
    int64_t delay_ms, min_idle_ms, count;
    rc_buf strs;              /* storage behind the strings */
} rc_consumer_req;

int rc_consumer_req_parse(const char *json, size_t len, const char *allowed, rc_consumer_req *out,
                          rc_err *err);
void rc_consumer_req_free(rc_consumer_req *r);

#ifdef __cplusplus
}
#endif
#endif
