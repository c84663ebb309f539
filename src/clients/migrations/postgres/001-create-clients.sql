-- The API clients, each stored whole as a JSON document beside the columns that find it.
CREATE TABLE clients (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  doc jsonb NOT NULL
);
