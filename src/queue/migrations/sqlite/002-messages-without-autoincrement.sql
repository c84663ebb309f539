-- Messages without AUTOINCREMENT and without the age index. Copied row for row, ids and leases
-- included, so a delivery in flight during the upgrade still acks. The schema
-- (sqlite-schema.sql) then makes the index it lacks. Written out as it ran, not derived from
-- the schema: a later schema must not change what this step does.
CREATE TABLE messages_2 (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  published_at INTEGER NOT NULL,
  available_at INTEGER NOT NULL,
  lease_until INTEGER,
  lease_token TEXT
) STRICT;
INSERT INTO messages_2 SELECT id, topic, key, payload, attempt, published_at, available_at,
  lease_until, lease_token FROM messages;
DROP TABLE messages;
ALTER TABLE messages_2 RENAME TO messages;
DELETE FROM sqlite_sequence WHERE name = 'messages';
