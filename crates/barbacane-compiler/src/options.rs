use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to compile and what to record about it.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Root spec files (order does not matter for the fingerprint).
    pub specs: Vec<PathBuf>,
    /// The project manifest (`barbacane.yaml`), if any.
    pub manifest: Option<PathBuf>,
    /// `--base-path`: prefixes every route; overrides `x-barbacane-base-path`.
    pub base_path: Option<String>,
    /// `--provenance-commit`.
    pub provenance_commit: Option<String>,
    /// `--provenance-source`.
    pub provenance_source: Option<String>,
    /// `--provenance KEY=VALUE` pairs.
    pub metadata: BTreeMap<String, String>,
    /// Build time in seconds since the Unix epoch (`SOURCE_DATE_EPOCH` or now).
    pub build_time: u64,
    /// `--allow-plaintext-upstream`: accept `http://` upstreams (E1031 otherwise).
    pub allow_plaintext_upstream: bool,
    /// `--lenient-patterns`: a schema `pattern` that cannot be compiled (even after dialect
    /// translation) is a W1003 warning and that one check is skipped (listed in the
    /// artifact's `skipped_checks`), instead of an E1005 error. An input of the fingerprint.
    pub lenient_patterns: bool,
    /// `--allow-unenforced-security`: an operation whose OpenAPI `security` no middleware of
    /// its chain can check compiles (one W1004 warning per spec) instead of E1032, for
    /// gateways in front of upstreams that authenticate themselves. An input of the
    /// fingerprint.
    pub allow_unenforced_security: bool,
    /// Sign the header with this key.
    pub signing_key: Option<barbacane_artifact::PrivateKey>,
}
