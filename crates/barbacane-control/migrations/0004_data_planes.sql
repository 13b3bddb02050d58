-- Data planes connected to the control plane (connected mode). A node is identified by its
-- name within its project: a node that reconnects (or restarts) updates its own row.
CREATE TABLE data_planes (
    id             UUID PRIMARY KEY,
    project_id     UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    labels         JSONB NOT NULL DEFAULT '{}',
    status         TEXT NOT NULL DEFAULT 'offline'
                   CHECK (status IN ('online', 'offline', 'deploying')),
    -- What the node last said it serves.
    artifact_hash  TEXT,
    -- Gateway version, hostname, the provenance header it reported.
    metadata       JSONB NOT NULL DEFAULT '{}',
    api_key_id     UUID REFERENCES api_keys (id) ON DELETE SET NULL,
    connected_at   TIMESTAMPTZ,
    last_seen      TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX data_planes_project ON data_planes (project_id);
