-- Web UI sessions (docs/ui.md). In Postgres, not in a process's memory, so every control
-- plane sharing the database honours a login and a logout. Only digests are stored: the
-- cookie's SHA-256 (a database reader cannot replay a session) and the SHA-256 of the admin
-- token that opened it (the session ends when that token is rotated out).
CREATE TABLE ui_sessions (
    id_sha256 TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    token_sha256 TEXT,
    token_fingerprint TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ui_sessions_last_seen ON ui_sessions (last_seen);
