-- The embedded API clients (`clients.db`), each stored whole as a JSON document beside the
-- columns that find it. Every statement is IF NOT EXISTS: it runs at every start.
CREATE TABLE IF NOT EXISTS clients (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  doc TEXT NOT NULL
) STRICT;
