-- The ACL's entries. `id` is text in the "C" collation so that `ORDER BY id` and `id > $after`
-- compare bytes, as the port's string order demands, whatever the database's collation.
-- `stations` is a sorted JSON array (NULL: every station), so an import tells an unchanged
-- entry by comparing columns. Times are bigint epoch ms.
CREATE TABLE acl_entries (
  id text COLLATE "C" PRIMARY KEY
    CHECK (id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  token_hash text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('active', 'blocked', 'expired')),
  expires_at bigint,
  stations jsonb CHECK (jsonb_typeof(stations) = 'array'),
  note text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
