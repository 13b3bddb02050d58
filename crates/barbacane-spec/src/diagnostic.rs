use serde::Serialize;
use std::fmt;

/// Stable diagnostic codes. `Display` prints the code (`E1010`); the table in
/// `docs/diagnostics.md` explains each one. Never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Code {
    /// The document is not an OpenAPI document (no `openapi` field, not a mapping).
    E1001,
    /// The `openapi` version is not 3.0.x or 3.1.x.
    E1002,
    /// The file is not valid YAML/JSON, or cannot be read.
    E1003,
    /// A `$ref` cannot be resolved.
    E1004,
    /// A schema cannot be compiled into a validator.
    E1005,
    /// A structural error in the spec (invalid path template, malformed parameter...).
    E1006,
    /// Two operations claim the same route.
    E1010,
    /// An operation has no `x-barbacane-dispatch`.
    E1011,
    /// A dispatcher or middleware names an unknown plugin.
    E1012,
    /// An `x-barbacane-*` extension has the wrong shape.
    E1013,
    /// A plugin's configuration is invalid.
    E1014,
    /// The manifest (`barbacane.yaml`) is invalid.
    E1015,
    /// A middleware names a plugin that is not declared.
    E1020,
    /// A plugin reference's version requirement is not satisfied (or malformed).
    E1021,
    /// A plugin's configuration does not match its `config-schema.json`.
    E1022,
    /// A plugin is used in the wrong position (middleware as dispatcher, or the reverse).
    E1023,
    /// A plugin imports host functions of a capability it does not declare.
    E1024,
    /// An upstream URL is plaintext `http://` without `--allow-plaintext-upstream`.
    E1031,
    /// `x-barbacane-sunset` on an operation that is not `deprecated: true`, or a date, key
    /// or link in it that is not valid.
    E1030,
    /// Warning: a configuration field meant for a secret holds a literal value (it ends up in
    /// the artifact in clear); use a secret reference (`env://`, `file://`) or a hash.
    W1001,
    /// An operation requires an OpenAPI security scheme that no middleware of its chain can
    /// satisfy (e.g. `http` `bearer` without `jwt-auth`, `oidc-auth` or `oauth2-auth`).
    E1032,
    /// `x-barbacane-ratelimit` is malformed: not a mapping or a list of mappings, an unknown
    /// key, `quota` or `window` missing.
    E1040,
    /// A value of `x-barbacane-ratelimit` is out of range: `quota` or `window` not a positive
    /// integer (window at most 31 days), a `partition_key` that is not `client_ip`,
    /// `header:<name>` or `context:<key>`, an invalid `policy_name` or proxy CIDR.
    E1041,
    /// `x-barbacane-cache` is not `true`, `false` or a mapping of `cache` keys.
    E1042,
    /// `x-barbacane-observability` is not a mapping, has an unknown key, or a value out of
    /// range (`trace_sampling` outside 0..=1, `latency_slo_ms` not a positive integer,
    /// `detailed_validation_logs` not a boolean).
    E1050,
    /// An `opa-authz` `policy` cannot be read, holds no `.rego` file, does not compile
    /// (regorus's message with the `.rego` file, line and column), or its `query` names no
    /// rule of it.
    E1060,
    /// Warning: a path template has empty segments (`//openapi`); they are removed, as
    /// request normalization removes them from every request path.
    W1002,
    /// Warning (`--lenient-patterns` only): a schema `pattern` cannot be compiled even after
    /// dialect translation; that one check is skipped and listed in the artifact.
    W1003,
    /// Warning (`--allow-unenforced-security` only): operations of a spec declare a
    /// `security` requirement that no middleware of their chain checks.
    W1004,
    /// Warning: an AsyncAPI message's payload is in a schema format that is not JSON Schema
    /// (Avro, RAML, Protobuf...); its payloads are not validated by the gateway.
    W1005,
    /// Warning: an operation declares `x-barbacane-middlewares: []` while a `security`
    /// requirement applies to it (E1032 otherwise): it is served without authentication.
    W1006,
}

impl Code {
    /// Code as text, e.g. `E1010`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::E1001 => "E1001",
            Code::E1002 => "E1002",
            Code::E1003 => "E1003",
            Code::E1004 => "E1004",
            Code::E1005 => "E1005",
            Code::E1006 => "E1006",
            Code::E1010 => "E1010",
            Code::E1011 => "E1011",
            Code::E1012 => "E1012",
            Code::E1013 => "E1013",
            Code::E1014 => "E1014",
            Code::E1015 => "E1015",
            Code::E1020 => "E1020",
            Code::E1021 => "E1021",
            Code::E1022 => "E1022",
            Code::E1023 => "E1023",
            Code::E1024 => "E1024",
            Code::E1031 => "E1031",
            Code::E1030 => "E1030",
            Code::W1001 => "W1001",
            Code::E1032 => "E1032",
            Code::E1040 => "E1040",
            Code::E1041 => "E1041",
            Code::E1042 => "E1042",
            Code::E1050 => "E1050",
            Code::E1060 => "E1060",
            Code::W1002 => "W1002",
            Code::W1003 => "W1003",
            Code::W1004 => "W1004",
            Code::W1005 => "W1005",
            Code::W1006 => "W1006",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How bad a diagnostic is: errors stop the build, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the build.
    Error,
    /// Reported, build continues.
    Warning,
}

/// One problem found in the inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// The file, as the user named it (or its logical name).
    pub file: String,
    /// JSON pointer to the offending node (`""` is the whole document).
    pub json_pointer: String,
    /// What is wrong.
    pub message: String,
    /// One line on how to fix it.
    pub hint: String,
    /// 1-based line and column, when known (parse errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_column: Option<(u64, u64)>,
}

impl Diagnostic {
    /// A warning: reported, the build goes on.
    pub fn warning(
        code: Code,
        file: impl Into<String>,
        json_pointer: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, json_pointer, message, hint)
        }
    }

    /// An error diagnostic.
    pub fn error(
        code: Code,
        file: impl Into<String>,
        json_pointer: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            file: file.into(),
            json_pointer: json_pointer.into(),
            message: message.into(),
            hint: hint.into(),
            line_column: None,
        }
    }

    /// Whether this diagnostic stops the build.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `error[E1004]: message\n  --> file#/pointer\n  = hint: ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{severity}[{}]: {}", self.code, self.message)?;
        match self.line_column {
            Some((line, column)) => writeln!(f, "  --> {}:{line}:{column}", self.file)?,
            None => writeln!(f, "  --> {}#{}", self.file, self.json_pointer)?,
        }
        write!(f, "  = hint: {}", self.hint)
    }
}
