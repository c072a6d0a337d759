-- SPDX-License-Identifier: Apache-2.0
-- Redcar store schema, migration v4 (PRAGMA user_version = 4): the members
-- of a durable consumer. Embedded into the store at build time like the
-- others and run once, in one transaction, on a database at version 3.
--
-- A member holding pending events is known from consumer_pending; this
-- table also keeps the ones that hold nothing (a Redis stream consumer
-- created with XGROUP CREATECONSUMER, or that acknowledged everything), so
-- they survive restarts. Rows are written in the transaction of the read or
-- claim that used the member (src/store/consumer.c) and deleted with the
-- member (drop) or the consumer. active_ms -1: never handed an event.
CREATE TABLE consumer_members (
    consumer  TEXT    NOT NULL,
    member    TEXT    NOT NULL,
    seen_ms   INTEGER NOT NULL,
    active_ms INTEGER NOT NULL,
    PRIMARY KEY (consumer, member)
) WITHOUT ROWID;
