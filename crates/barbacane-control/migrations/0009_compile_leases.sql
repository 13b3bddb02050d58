-- Compile claims are leases, so that N control planes can share one database: a running
-- compilation belongs to `lease_owner` (a process's instance id) until `lease_expires_at`;
-- the owner renews it while compiling. Only expired leases are requeued (by any process, at
-- any time), and an outcome is written only by the current owner.
ALTER TABLE compilations ADD COLUMN lease_owner UUID;
ALTER TABLE compilations ADD COLUMN lease_expires_at TIMESTAMPTZ;
CREATE INDEX compilations_running_lease ON compilations (lease_expires_at) WHERE status = 'running';

-- Artifact bytes are stored just before the build is recorded; a process killed in between
-- leaves bytes no artifact row references. They are swept once older than a few leases.
ALTER TABLE artifact_blobs ADD COLUMN stored_at TIMESTAMPTZ NOT NULL DEFAULT now();
