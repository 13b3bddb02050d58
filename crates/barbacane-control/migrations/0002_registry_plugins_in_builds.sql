-- Registry plugins in remote builds.

-- `config-schema.json` exactly as uploaded (`config_schema` is JSONB, which does not keep the
-- bytes): the file laid out for the compiler, so artifact hashes match a local build of the
-- same files. NULL for versions registered before this migration (their JSONB is serialized
-- instead).
ALTER TABLE plugins ADD COLUMN config_schema_raw BYTEA;

-- The plugin versions a compilation used, `{"<name>": "<version>"}`.
ALTER TABLE compilations ADD COLUMN plugins JSONB NOT NULL DEFAULT '{}';
