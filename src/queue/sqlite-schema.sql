-- The embedded queue's schema as it is now (SCHEMA_VERSION in sqlite.ts): it creates a new
-- file, and whatever a migrated file still lacks. Every statement is IF NOT EXISTS.
--
-- A message's rowid is one more than the largest in the table when it is published, so ids
-- follow publish order; one may be reused once the newest message is gone, but every write to a
-- message also names its lease token, so a stale delivery never touches a newer message.
-- Dead letters keep AUTOINCREMENT: an id there is a page cursor, and must never name another.
-- A message costs the table and one index: no AUTOINCREMENT counter, and no age index (the
-- oldest message is the one with the smallest id).
CREATE TABLE IF NOT EXISTS messages (
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
CREATE INDEX IF NOT EXISTS messages_ready ON messages (topic, available_at, id);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  published_at INTEGER NOT NULL,
  dead_lettered_at INTEGER NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS dead_letters_page ON dead_letters (topic, id);
CREATE INDEX IF NOT EXISTS dead_letters_age ON dead_letters (topic, dead_lettered_at);
