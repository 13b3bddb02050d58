-- Drift engine, second slice: standalone nodes (polled), known-good blessings, webhooks with
-- a delivery outbox, and human-gated remediations.

-- Standalone nodes: registered by the operator, observed by polling their admin listener.
-- The token is a reference (`env://VAR`, `file:///path`) resolved at poll time, never the
-- token itself.
ALTER TABLE data_planes ADD COLUMN mode TEXT NOT NULL DEFAULT 'connected'
    CHECK (mode IN ('connected', 'standalone'));
ALTER TABLE data_planes ADD COLUMN admin_url TEXT;
ALTER TABLE data_planes ADD COLUMN admin_token_ref TEXT;
-- The latest poll of a standalone node: `serving`, `unreachable` or `invalid`, and why.
ALTER TABLE data_planes ADD COLUMN observation TEXT;
ALTER TABLE data_planes ADD COLUMN observation_error TEXT;
ALTER TABLE drift_observations ADD COLUMN error TEXT;

-- Operator-blessed desired state for a project's nodes (newest wins over older deployments
-- and blessings). `content_source` says where `content_hash` came from: given in the request,
-- recorded when the control plane built the artifact, or pinned by the first observation
-- after the blessing (`pending` until then).
CREATE TABLE known_good (
    id                 UUID PRIMARY KEY,
    project_id         UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    artifact_hash      TEXT NOT NULL,
    artifact_id        UUID REFERENCES artifacts (id) ON DELETE SET NULL,
    content_hash       TEXT,
    content_source     TEXT NOT NULL
                       CHECK (content_source IN ('given', 'recorded', 'observation', 'pending')),
    note               TEXT NOT NULL DEFAULT '',
    created_by         TEXT,
    token_fingerprint  TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX known_good_project ON known_good (project_id, created_at DESC);

CREATE TABLE webhooks (
    id          UUID PRIMARY KEY,
    url         TEXT NOT NULL,
    secret_ref  TEXT NOT NULL,
    events      TEXT[] NOT NULL,
    project_id  UUID REFERENCES projects (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The outbox: a delivery is inserted in the same transaction as the event it reports, so an
-- event is never lost; the sender retries with backoff. Each attempt is logged.
CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    webhook_id       UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    payload          JSONB NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id  UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      INT NOT NULL,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    status       INT,
    error        TEXT,
    duration_ms  INT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- Remediations: a proposal with its dry run, then one recorded decision. Only an approved
-- decision can act: a deployment made by a remediation references the decision row, and
-- the composite foreign key only admits `approved` ones.
CREATE TABLE remediations (
    id                 UUID PRIMARY KEY,
    finding_id         UUID NOT NULL REFERENCES drift_findings (id) ON DELETE CASCADE,
    project_id         UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    data_plane_id      UUID NOT NULL REFERENCES data_planes (id) ON DELETE CASCADE,
    from_hash          TEXT,
    to_hash            TEXT NOT NULL,
    to_artifact_id     UUID REFERENCES artifacts (id) ON DELETE SET NULL,
    dry_run            JSONB NOT NULL,
    proposed_by        TEXT,
    token_fingerprint  TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX remediations_finding ON remediations (finding_id);

CREATE TABLE remediation_decisions (
    remediation_id     UUID PRIMARY KEY REFERENCES remediations (id) ON DELETE CASCADE,
    decision           TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    decided_by         TEXT NOT NULL,
    comment            TEXT NOT NULL DEFAULT '',
    token_fingerprint  TEXT,
    outcome            JSONB NOT NULL DEFAULT '{}',
    decided_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (remediation_id, decision)
);

-- A deployment may target one node (a remediation) instead of a label selector, and then
-- carries the approval it acts on.
ALTER TABLE deployments ADD COLUMN data_plane_id UUID REFERENCES data_planes (id) ON DELETE CASCADE;
ALTER TABLE deployments ADD COLUMN remediation_id UUID;
ALTER TABLE deployments ADD COLUMN remediation_decision TEXT
    CHECK (remediation_decision = 'approved');
ALTER TABLE deployments ADD CONSTRAINT deployments_remediation_approved
    FOREIGN KEY (remediation_id, remediation_decision)
    REFERENCES remediation_decisions (remediation_id, decision);
ALTER TABLE deployments ADD CONSTRAINT deployments_remediation_both
    CHECK ((remediation_id IS NULL) = (remediation_decision IS NULL));
