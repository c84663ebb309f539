-- An ACL import's upsert ($1: the entries as a JSON array). All CTEs share one snapshot, so
-- `existed` counts the tokens stored before this statement; `written` are the created rows
-- plus the changed ones (an equal row is left untouched, `updated_at` included).
WITH incoming AS (
    SELECT * FROM jsonb_populate_recordset(NULL::${acl_entries}, $1::jsonb)
  ), existed AS (
    SELECT count(*) AS n FROM ${acl_entries} JOIN incoming USING (token_hash)
  ), written AS (
    INSERT INTO ${acl_entries} AS a SELECT * FROM incoming
    ON CONFLICT (token_hash) DO UPDATE SET status = excluded.status,
      expires_at = excluded.expires_at, stations = excluded.stations, note = excluded.note,
      updated_at = excluded.updated_at
    WHERE (a.status, a.expires_at, a.stations, a.note)
      IS DISTINCT FROM (excluded.status, excluded.expires_at, excluded.stations, excluded.note)
    RETURNING 1
  )
  SELECT (SELECT n FROM existed) AS existed, (SELECT count(*) FROM written) AS written
