-- `content_hash` (the hash of an artifact's members, see docs/artifact-format.md): recorded
-- for every artifact the control plane builds, and observed from every connected node.
ALTER TABLE artifacts ADD COLUMN content_hash TEXT;
UPDATE artifacts SET content_hash = header->>'content_hash' WHERE content_hash IS NULL;
ALTER TABLE data_planes ADD COLUMN content_hash TEXT;
