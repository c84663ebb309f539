-- What a decision came with: its source and what an OCPI service returned (the EVSEs and the
-- display text are JSON). Decisions made before this version all came from the service.
ALTER TABLE sessions ADD COLUMN decision_source TEXT CHECK (decision_source IN ('service', 'cache', 'offline_last_known'));
ALTER TABLE sessions ADD COLUMN authorization_reference TEXT;
ALTER TABLE sessions ADD COLUMN allowed_evses TEXT;
ALTER TABLE sessions ADD COLUMN display_text TEXT;
UPDATE sessions SET decision_source = 'service' WHERE decision <> 'pending';
