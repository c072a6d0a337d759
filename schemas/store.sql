-- SPDX-License-Identifier: Apache-2.0
-- Redcar store schema, version 1 (PRAGMA user_version = 1).
--
-- This file is embedded into the store at build time and executed as
-- migration v1 on an empty database; later versions are forward
-- migrations in src/store/store.c. The log (events) is append-only; every
-- other table is the key/value view derived from it and is updated in the
-- same transaction as the events that change it.

-- The log. seq is assigned by the single writer from an in-memory counter,
-- so it is gapless. payload is the structured JSON encoding without `seq`.
-- Every index implicitly ends with the rowid (= seq), so
-- events_subject serves "subject = ? ORDER BY seq" and the other two likewise.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    source   TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    subject  TEXT,
    time_ms  INTEGER NOT NULL,
    payload  TEXT    NOT NULL,
    UNIQUE (source, id)
);
CREATE INDEX events_subject ON events (subject);
CREATE INDEX events_type ON events (type);
CREATE INDEX events_time ON events (time_ms);

-- One row per live key. kind: 1 string, 2 hash, 3 list. size: bytes of a
-- string, fields of a hash, elements of a list. etcd-like metadata:
-- create_seq/mod_seq are the seqs of the creating and of the latest
-- modifying event, version counts modifications since creation (1 = just
-- created). expire_ms = 0: no expiry.
CREATE TABLE kv (
    key        TEXT    NOT NULL PRIMARY KEY,
    kind       INTEGER NOT NULL,
    value      BLOB,
    ctype      TEXT,
    size       INTEGER NOT NULL DEFAULT 0,
    create_seq INTEGER NOT NULL,
    mod_seq    INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    expire_ms  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX kv_expiry ON kv (expire_ms) WHERE expire_ms > 0;

-- Hash fields, ordered by field bytes.
CREATE TABLE kv_hash (
    key   TEXT NOT NULL,
    field BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (key, field)
) WITHOUT ROWID;

-- List elements. Positions of one list are contiguous integers: LPUSH
-- writes head-1, RPUSH tail+1, pops remove from the ends, so element i is
-- at head+i and every operation is an index seek.
CREATE TABLE kv_list (
    key   TEXT    NOT NULL,
    pos   INTEGER NOT NULL,
    value BLOB    NOT NULL,
    PRIMARY KEY (key, pos)
) WITHOUT ROWID;

-- Rename events that moved a key INTO newkey (their subject is the old
-- key), so that as-of reads and history of newkey can find them.
CREATE TABLE kv_renames (
    newkey TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (newkey, seq)
) WITHOUT ROWID;
