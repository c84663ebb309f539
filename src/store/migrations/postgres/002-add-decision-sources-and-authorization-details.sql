-- What a decision came with: its source and what an OCPI service returned. Decisions made
-- before this version all came from the authorization service.
ALTER TABLE sessions
  ADD COLUMN decision_source text
    CHECK (decision_source IN ('service', 'cache', 'offline_last_known')),
  ADD COLUMN authorization_reference text,
  ADD COLUMN allowed_evses jsonb,
  ADD COLUMN display_text jsonb;
UPDATE sessions SET decision_source = 'service' WHERE decision <> 'pending';
