//! The OpenID Provider's configuration (OpenID Connect Discovery 1.0, RFC 8414): its
//! `issuer` checked against the configuration, its `jwks_uri`, then the JWK Set there.

use barbacane_plugin_sdk::log;
use jwt_verify::Key;
use jwt_verify::fetch::{self, check_url};
use serde_json::Value;

/// The well-known path appended to the issuer (OpenID Connect Discovery 1.0, section 4).
pub const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// Which document the last failed attempt could not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The discovery document.
    Discovery,
    /// The JWK Set at its `jwks_uri`.
    Jwks,
}

/// Where and how the provider's documents are fetched, and what they must say.
#[derive(Debug, Default)]
pub struct Provider {
    /// `<issuer_url without a trailing slash>/.well-known/openid-configuration`.
    pub discovery_url: String,
    /// The `issuer` values the discovery document may hold: `issuer_url`, and
    /// `issuer_override` when set.
    pub accepted_issuers: Vec<String>,
    /// `timeout`, in milliseconds.
    pub timeout_ms: u64,
    /// The `jwks_uri` of the last good discovery document.
    pub jwks_uri: Option<String>,
    /// What the last failed attempt could not get (`None` after a success).
    pub failed: Option<Stage>,
}

impl Provider {
    /// Fetches the discovery document, then the JWK Set it names. A discovery document that
    /// cannot be had is not fatal when one was had before: its `jwks_uri` is used again.
    pub fn fetch_keys(&mut self) -> Result<Vec<Key>, String> {
        match self.discover() {
            Ok(jwks_uri) => self.jwks_uri = Some(jwks_uri),
            Err(why) if self.jwks_uri.is_some() => log::warn(&format!(
                "fetching the discovery document {} failed: {why}; using its jwks_uri from \
                 before",
                self.discovery_url
            )),
            Err(why) => {
                self.failed = Some(Stage::Discovery);
                return Err(format!(
                    "the discovery document {}: {why}",
                    self.discovery_url
                ));
            }
        }
        let uri = self.jwks_uri.as_deref().unwrap_or_default();
        match fetch::fetch_jwks(uri, self.timeout_ms, "jwks_uri") {
            Ok(keys) => {
                self.failed = None;
                Ok(keys)
            }
            Err(why) => {
                self.failed = Some(Stage::Jwks);
                Err(format!("the JWK Set {uri}: {why}"))
            }
        }
    }

    /// The `jwks_uri` of a checked discovery document.
    fn discover(&self) -> Result<String, String> {
        let document = fetch::get_json(
            &self.discovery_url,
            "application/json",
            self.timeout_ms,
            "the discovery document",
        )?;
        let member = |name: &str| document.get(name).and_then(Value::as_str);
        let issuer = member("issuer").ok_or("no `issuer` string member")?;
        if !self.accepted_issuers.iter().any(|i| i == issuer) {
            return Err(format!(
                "its issuer {} is not the configured one ({}): refusing its keys",
                jwt_verify::keys::shown(issuer),
                self.accepted_issuers.join(" or ")
            ));
        }
        let jwks_uri = member("jwks_uri").ok_or("no `jwks_uri` string member")?;
        check_url("its jwks_uri", jwks_uri)?;
        Ok(jwks_uri.to_owned())
    }
}
