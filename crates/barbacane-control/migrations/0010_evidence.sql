-- Supply-chain evidence recorded with each build: the CycloneDX SBOM and the DSSE envelope
-- of the in-toto / SLSA provenance attestation, as the exact bytes served. NULL for artifacts
-- built before this migration (their SBOM is derived from the stored bytes on request; they
-- have no attestation).
ALTER TABLE artifacts ADD COLUMN sbom BYTEA;
ALTER TABLE artifacts ADD COLUMN attestation BYTEA;
