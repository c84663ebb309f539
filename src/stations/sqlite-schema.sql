-- The embedded station catalog (`stations.db`), each station whole as a JSON document, and its
-- reservations. Every statement is IF NOT EXISTS: it runs at every start.
CREATE TABLE IF NOT EXISTS stations (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  doc TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS stations_lat ON stations (lat);
CREATE TABLE IF NOT EXISTS reservations (
  id TEXT PRIMARY KEY,
  station_id TEXT NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  cancelled_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS reservations_station_end ON reservations (station_id, ends_at);
CREATE INDEX IF NOT EXISTS reservations_end ON reservations (ends_at);
