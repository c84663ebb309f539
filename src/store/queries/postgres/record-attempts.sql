-- Callback attempts for distinct requests, one or many at once: one array per column ($1
-- request … $10 snippet, in `AttemptValues` order in postgres.ts). One statement, so one
-- transaction: an attempt row is written only when its session's callback state moved, and a
-- late duplicate leaves no trace. GREATEST skips NULL and keeps "last attempt" from moving back
-- in time.
WITH v AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
      $6::integer[], $7::integer[], $8::integer[], $9::text[], $10::text[])
      AS v (request_id, state, next_attempt_at, at, started_at, attempt, duration_ms,
        status_code, error, response_snippet)
  ), moved AS (
    UPDATE ${sessions} AS s SET ${move_callback},
      callback_attempts = s.callback_attempts + 1,
      last_attempt_at = GREATEST(s.last_attempt_at, v.started_at)
    FROM v WHERE s.request_id = v.request_id AND s.${callback_not_terminal}
    RETURNING s.request_id
  )
  INSERT INTO ${attempts} (request_id, attempt, started_at, duration_ms, status_code, error,
    response_snippet)
  SELECT v.request_id, v.attempt, v.started_at, v.duration_ms, v.status_code, v.error,
    v.response_snippet
  FROM v JOIN moved USING (request_id)
