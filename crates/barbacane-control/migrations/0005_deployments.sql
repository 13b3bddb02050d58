-- Deployments in connected mode: a project's desired artifact (for every node, or for the
-- nodes whose labels include `labels`), and each node's outcome.
ALTER TABLE deployments ADD COLUMN project_id UUID REFERENCES projects (id);
ALTER TABLE deployments ADD COLUMN labels JSONB NOT NULL DEFAULT '{}';
ALTER TABLE deployments ADD COLUMN artifact_hash TEXT;
CREATE INDEX deployments_project ON deployments (project_id, created_at DESC);

-- The artifact a node last applied from a deployment (no foreign key: observed state).
ALTER TABLE data_planes ADD COLUMN artifact_id UUID;

CREATE TABLE deployment_nodes (
    deployment_id  UUID NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    data_plane_id  UUID NOT NULL REFERENCES data_planes (id) ON DELETE CASCADE,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'rejected', 'offline')),
    reason         TEXT,
    -- The hash the node said it serves after applying (flagged when not the announced one).
    reported_hash  TEXT,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (deployment_id, data_plane_id)
);
