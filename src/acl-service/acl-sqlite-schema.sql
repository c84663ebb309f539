-- The embedded ACL's entries. Times are epoch milliseconds. `stations` is a sorted JSON array
-- of lower-case station ids, so that an import can tell an unchanged entry by comparing
-- columns; NULL means every station. Every statement is IF NOT EXISTS: it runs at every start.
CREATE TABLE IF NOT EXISTS acl_entries (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('active', 'blocked', 'expired')),
  expires_at INTEGER,
  stations TEXT,
  note TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
