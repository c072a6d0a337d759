-- SPDX-License-Identifier: Apache-2.0
-- Redcar store schema, migration v2 (PRAGMA user_version = 2): durable
-- consumers. Embedded into the store at build time like store.sql and run
-- once, in one transaction, on a database at version 1.
--
-- One model for both kinds of consumer: a named cursor is a consumer group
-- whose ack is cumulative. The log itself is never touched; these tables
-- only record positions and leases, written by the store's writer thread
-- in the same transactions (and with the same fsync rule) as appends.

-- A consumer. read_seq: every event <= read_seq has been examined (handed
-- out, filtered away or dead-lettered); new events are > read_seq.
-- ack_seq: every event <= ack_seq is finished (acknowledged, filtered away
-- or dead-lettered); it only grows. mode: 1 cursor, 2 group. filter: the
-- canonical JSON of the filter ({} = every event). start: the start
-- position as given at creation ("beginning", "end", "seq:N", "time:T").
-- ack_wait_ms: lease length (0: due again at once, the cursor default).
-- max_deliver: deliveries before an event is dead-lettered (0: no limit).
-- The counters are totals since creation.
CREATE TABLE consumers (
    name        TEXT    NOT NULL PRIMARY KEY,
    mode        INTEGER NOT NULL,
    filter      TEXT    NOT NULL,
    start       TEXT    NOT NULL,
    read_seq    INTEGER NOT NULL,
    ack_seq     INTEGER NOT NULL,
    ack_wait_ms INTEGER NOT NULL,
    max_deliver INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    delivered   INTEGER NOT NULL DEFAULT 0,
    redelivered INTEGER NOT NULL DEFAULT 0,
    acked       INTEGER NOT NULL DEFAULT 0,
    dead        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Events handed out and not yet acknowledged: the lease of one event to
-- one member. due_ms: when it may be handed out again (lease expiry, or
-- the end of a nack delay). last_ms: when it was last handed out (idle
-- time = now - last_ms).
CREATE TABLE consumer_pending (
    consumer   TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    member     TEXT    NOT NULL,
    deliveries INTEGER NOT NULL,
    last_ms    INTEGER NOT NULL,
    due_ms     INTEGER NOT NULL,
    PRIMARY KEY (consumer, seq)
) WITHOUT ROWID;
CREATE INDEX consumer_pending_due ON consumer_pending (consumer, due_ms);
