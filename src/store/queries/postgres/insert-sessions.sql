-- Sessions, one or many at once: one parameter array per column (`InsertValues` in
-- postgres.ts); the ones stored come back, a taken idempotency key skipped. The conflict target
-- names the partial index, so a duplicate request id still fails loudly. `started_at` is on the
-- server's clock, as `accept_by`: the write's own time measures `accept_ms`, and a session
-- whose `accept_by` has passed is not stored at all.
INSERT INTO ${sessions} (request_id, station_id, token_hash, callback_url,
    accepted_at, idempotency_key, request_hash, client_id, accept_ms)
  SELECT request_id, station_id, token_hash, callback_url, accepted_at, idempotency_key,
    request_hash, client_id,
    round(extract(epoch FROM clock_timestamp()) * 1000 - v.started_at)::integer
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
    $7::text[], $8::float8[], $9::text[], $10::float8[])
    AS v (request_id, station_id, token_hash, callback_url, accepted_at, idempotency_key,
      request_hash, accept_by, client_id, started_at)
  WHERE v.accept_by IS NULL
    OR extract(epoch FROM clock_timestamp()) * 1000 <= v.accept_by
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING request_id
