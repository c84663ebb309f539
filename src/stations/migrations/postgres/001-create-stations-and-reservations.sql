-- The station catalog (each station whole as a JSON document) and its reservations.
CREATE TABLE stations (
  id text PRIMARY KEY,
  status text NOT NULL,
  lat double precision NOT NULL,
  lon double precision NOT NULL,
  doc jsonb NOT NULL
);
CREATE INDEX stations_lat ON stations (lat);
CREATE TABLE reservations (
  id text PRIMARY KEY,
  station_id text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
  token_hash text NOT NULL,
  starts_at bigint NOT NULL,
  ends_at bigint NOT NULL,
  created_at bigint NOT NULL,
  cancelled_at bigint
);
CREATE INDEX reservations_station_end ON reservations (station_id, ends_at);
CREATE INDEX reservations_end ON reservations (ends_at);
