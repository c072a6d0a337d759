-- SPDX-License-Identifier: Apache-2.0
-- Redcar store schema, migration v3 (PRAGMA user_version = 3): push
-- subscriptions (webhooks). Embedded into the store at build time like
-- store.sql and store_v2.sql and run once, in one transaction, on a
-- database at version 2.
--
-- A push subscription is a durable consumer (table consumers, named in
-- column consumer) plus what the consumer does not know: where and how to
-- deliver. Its position, pending event and delivery counts are the
-- consumer's; this table only adds the sink configuration. A row and its
-- consumer are created and deleted in one transaction.

-- id: the subscription id (Subscriptions API `id`). consumer: the name of
-- its durable consumer ("push.<id>"). doc: the subscription as JSON (sink,
-- protocol, filters, protocolsettings, config), written and read only by
-- the push module (src/push). created_ms: creation time.
CREATE TABLE push_subscriptions (
    id         TEXT    NOT NULL PRIMARY KEY,
    consumer   TEXT    NOT NULL UNIQUE,
    doc        TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
