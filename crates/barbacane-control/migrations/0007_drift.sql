-- Drift detection (connected nodes). Append-only history: observations and finding events
-- are inserted, never updated, so "what was drifted at time T" has an answer. A finding's
-- first_seen, last_seen, resolved_at and count are derived from its events.
CREATE TABLE drift_observations (
    id             BIGSERIAL PRIMARY KEY,
    data_plane_id  UUID NOT NULL REFERENCES data_planes (id) ON DELETE CASCADE,
    observed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    result         TEXT NOT NULL CHECK (result IN ('serving', 'unreachable', 'invalid')),
    artifact_hash  TEXT,
    content_hash   TEXT,
    sync           TEXT NOT NULL,
    health         TEXT NOT NULL
);
CREATE INDEX drift_observations_node ON drift_observations (data_plane_id, observed_at DESC);

CREATE TABLE drift_findings (
    id             UUID PRIMARY KEY,
    project_id     UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    data_plane_id  UUID NOT NULL REFERENCES data_planes (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    desired_hash   TEXT,
    observed_hash  TEXT,
    opened_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX drift_findings_node ON drift_findings (data_plane_id);

CREATE TABLE drift_finding_events (
    finding_id  UUID NOT NULL REFERENCES drift_findings (id) ON DELETE CASCADE,
    event       TEXT NOT NULL CHECK (event IN ('opened', 'observed', 'resolved')),
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX drift_finding_events_finding ON drift_finding_events (finding_id, at);

-- The node's current axes (the latest assessment), for listings.
ALTER TABLE data_planes ADD COLUMN sync TEXT NOT NULL DEFAULT 'Unknown';
ALTER TABLE data_planes ADD COLUMN health TEXT NOT NULL DEFAULT 'Unknown';
