-- API keys: how data planes (and other machines) authenticate to one project. The key itself
-- is shown once at creation; only its SHA-256 (hex) and a short prefix for display are kept.
CREATE TABLE api_keys (
    id            UUID PRIMARY KEY,
    project_id    UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    sha256        TEXT NOT NULL UNIQUE,
    scopes        TEXT[] NOT NULL,
    expires_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now()),
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX api_keys_project ON api_keys (project_id);
