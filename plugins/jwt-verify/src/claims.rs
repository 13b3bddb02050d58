//! The registered claims (RFC 7519, section 4.1) checked against the clock and the
//! configuration.

use serde_json::{Map, Value};

/// What the claims of a token must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRules<'a> {
    /// When set, `iss` must equal it.
    pub issuer: Option<&'a str>,
    /// When set, `aud` must be it or an array containing it.
    pub audience: Option<&'a str>,
    /// Tolerance for `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_seconds: u64,
}

/// A NumericDate claim: `None` when absent, an error when not a number.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("`{name}` is not a number")),
    }
}

impl ClaimRules<'_> {
    /// Checks the registered claims at `now_ms` (Unix milliseconds): `exp` required and not
    /// passed, `nbf` and `iat` not in the future (all with the skew), then `iss` and `aud`.
    /// The error says why, for the debug log.
    pub fn check(&self, claims: &Map<String, Value>, now_ms: i64) -> Result<(), String> {
        let now = now_ms as f64;
        let skew = self.clock_skew_seconds as f64;
        let exp = numeric_date(claims, "exp")?.ok_or("the token has no `exp`")?;
        if now >= (exp + skew) * 1000.0 {
            return Err("expired (`exp`)".into());
        }
        for name in ["nbf", "iat"] {
            if let Some(at) = numeric_date(claims, name)?
                && now < (at - skew) * 1000.0
            {
                return Err(format!("`{name}` is in the future"));
            }
        }
        if let Some(issuer) = self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer)
        {
            return Err("`iss` is not the configured issuer".into());
        }
        if let Some(audience) = self.audience {
            let matches = |v: &Value| v.as_str() == Some(audience);
            let ok = match claims.get("aud") {
                Some(Value::Array(items)) => items.iter().any(matches),
                Some(aud) => matches(aud),
                None => false,
            };
            if !ok {
                return Err("`aud` does not contain the configured audience".into());
            }
        }
        Ok(())
    }
}
