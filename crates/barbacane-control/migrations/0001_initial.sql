-- The control plane's schema, version 1. Migrations are forward-only: never edit a released
-- file, add the next one.

CREATE TABLE projects (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A spec is one root document of a project; its content lives in revisions.
CREATE TABLE specs (
    id                UUID PRIMARY KEY,
    project_id        UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    current_revision  INTEGER NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- Revisions are immutable: a PUT adds one, nothing updates one.
CREATE TABLE spec_revisions (
    id          UUID PRIMARY KEY,
    spec_id     UUID NOT NULL REFERENCES specs (id) ON DELETE CASCADE,
    revision    INTEGER NOT NULL,
    -- Names of the x-barbacane-* plugins the revision uses (for plugin deletion checks).
    plugins     TEXT[] NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now()),
    UNIQUE (spec_id, revision)
);

-- The files of a revision: the root spec and every file its $refs reach, named by their
-- path relative to the project root, exactly as they are laid out for compilation.
CREATE TABLE spec_files (
    revision_id  UUID NOT NULL REFERENCES spec_revisions (id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    is_root      BOOLEAN NOT NULL,
    sha256       TEXT NOT NULL,
    content      BYTEA NOT NULL,
    PRIMARY KEY (revision_id, path)
);

CREATE TABLE artifacts (
    id                UUID PRIMARY KEY,
    project_id        UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    artifact_hash     TEXT NOT NULL,
    sha256            TEXT NOT NULL,
    size              BIGINT NOT NULL,
    compiler_version  TEXT NOT NULL,
    header            JSONB NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_project ON artifacts (project_id);

-- Which spec revisions an artifact was built from (no foreign key: the record outlives a
-- deleted spec, like the artifact itself).
CREATE TABLE artifact_revisions (
    artifact_id  UUID NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    spec_id      UUID NOT NULL,
    revision_id  UUID NOT NULL,
    revision     INTEGER NOT NULL,
    PRIMARY KEY (artifact_id, revision_id)
);

-- Artifact bytes for the Postgres artifact store (keyed by artifact id, written before the
-- metadata row, so no foreign key).
CREATE TABLE artifact_blobs (
    artifact_id  UUID PRIMARY KEY,
    bytes        BYTEA NOT NULL
);

CREATE TABLE compilations (
    id            UUID PRIMARY KEY,
    project_id    UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    spec_id       UUID REFERENCES specs (id) ON DELETE SET NULL,
    -- The revisions to compile, pinned when the compilation was requested.
    revision_ids  UUID[] NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    artifact_id   UUID REFERENCES artifacts (id) ON DELETE SET NULL,
    diagnostics   JSONB NOT NULL DEFAULT '[]',
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ
);
CREATE INDEX compilations_pending ON compilations (created_at) WHERE status = 'pending';

-- Where an artifact is deployed. Nothing writes here yet but tests; it exists so that an
-- artifact in use cannot be deleted (ON DELETE RESTRICT).
CREATE TABLE deployments (
    id           UUID PRIMARY KEY,
    artifact_id  UUID NOT NULL REFERENCES artifacts (id) ON DELETE RESTRICT,
    target       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE plugins (
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    plugin_type    TEXT NOT NULL CHECK (plugin_type IN ('middleware', 'dispatcher')),
    description    TEXT,
    capabilities   TEXT[] NOT NULL,
    manifest       TEXT NOT NULL,
    config_schema  JSONB NOT NULL,
    wasm           BYTEA NOT NULL,
    wasm_sha256    TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);
