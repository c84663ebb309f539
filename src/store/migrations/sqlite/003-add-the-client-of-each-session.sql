-- The API client (its id) that made each request, when API clients are configured.
ALTER TABLE sessions ADD COLUMN client_id TEXT;
