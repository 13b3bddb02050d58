//! AWS Signature Version 4, header form (`Authorization: AWS4-HMAC-SHA256 ...`), following
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>.
//!
//! The steps are public so that each can be checked against the published test suite
//! (`tests/sigv4_vectors.rs`):
//!
//! 1. [`canonical_request`]: method, canonical URI, canonical query, canonical headers,
//!    signed header names and the payload hash, one per line;
//! 2. [`string_to_sign`]: algorithm, time, [`Scope`], hash of the canonical request;
//! 3. [`signing_key`]: HMAC-SHA256 chain over date, region, service and `aws4_request`,
//!    keyed by `AWS4` + the secret access key; [`signature`] is the hex HMAC of step 2;
//! 4. [`authorization`]: the header value.
//!
//! [`sign`] runs them all over an outbound request and adds the headers.
//!
//! Paths are taken as they go on the wire (percent-encoded already). Every AWS service but S3
//! normalizes the path (`.`/`..` segments, repeated `/`) and encodes it once more before
//! signing ([`Options::SERVICES`]); S3 does neither and expects the path as sent, which
//! [`Options::double_encode_path`] `false` approximates by decoding each segment before
//! encoding it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::encoding::{hex, percent_decode, percent_encode, percent_encode_into};
use crate::time::Utc;

/// The only algorithm implemented.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Hex SHA-256 of `data` (the payload hash, and the hash of the canonical request).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// How the canonical URI is derived from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Remove `.` and `..` segments and collapse repeated `/` first.
    pub normalize_path: bool,
    /// Percent-encode the (already encoded) path once more, as every service but S3 expects.
    /// When `false`, each segment is decoded and encoded again (a single encoding).
    pub double_encode_path: bool,
}

impl Options {
    /// The rules of every service but S3, Lambda included.
    pub const SERVICES: Options = Options {
        normalize_path: true,
        double_encode_path: true,
    };
}

/// AWS credentials. `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id (`AKID...`, `ASIA...`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials, sent as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The signing time, as `X-Amz-Date` writes it: `20150830T123600Z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate(String);

impl AmzDate {
    /// From Unix milliseconds.
    pub fn from_unix_ms(ms: i64) -> AmzDate {
        AmzDate(Utc::from_unix_ms(ms).amz_date())
    }

    /// From its text, `YYYYMMDD'T'HHMMSS'Z'` (the text is not checked to be a real date).
    pub fn parse(stamp: &str) -> Option<AmzDate> {
        let b = stamp.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let ok = b.len() == 16 && digits(0..8) && b[8] == b'T' && digits(9..15) && b[15] == b'Z';
        ok.then(|| AmzDate(stamp.to_owned()))
    }

    /// `20150830T123600Z`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `20150830`.
    pub fn day(&self) -> &str {
        &self.0[..8]
    }
}

/// The credential scope: what a signature is valid for.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Signing time.
    pub date: &'a AmzDate,
    /// Region, e.g. `eu-west-1`.
    pub region: &'a str,
    /// Service signing name, e.g. `lambda`.
    pub service: &'a str,
}

impl Scope<'_> {
    /// `20150830/us-east-1/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date.day(),
            self.region,
            self.service
        )
    }
}

/// Removes `.` and `..` segments (RFC 3986 §5.2.4) and empty segments, keeping a final `/`.
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut ends_as_directory = false;
    for segment in path.split('/') {
        ends_as_directory = true;
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            name => {
                segments.push(name);
                ends_as_directory = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if segments.is_empty() || ends_as_directory {
        out.push('/');
    }
    out
}

/// The canonical URI of a wire path (`/` when empty).
pub fn canonical_uri(path: &str, options: Options) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let normalized;
    let path = if options.normalize_path {
        normalized = normalize_path(path);
        normalized.as_str()
    } else {
        path
    };
    if options.double_encode_path {
        return percent_encode(path.as_bytes(), true);
    }
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        percent_encode_into(&mut out, &percent_decode(segment, false), false);
    }
    out
}

/// The parameters of a query string as `(name, value, had '=')`, in order, each decoded
/// (`%XY`, and `+` as a space) then encoded the SigV4 way. Empty pieces (`a=1&&b=2`) are
/// skipped.
fn encoded_parameters(query: &str) -> impl Iterator<Item = (String, String, bool)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|piece| {
        let (name, value, has_value) = match piece.split_once('=') {
            Some((name, value)) => (name, value, true),
            None => (piece, "", false),
        };
        let encode = |s: &str| percent_encode(&percent_decode(s, true), false);
        (encode(name), encode(value), has_value)
    })
}

/// The canonical query string: parameters encoded, sorted by name then value,
/// `name=value` joined with `&` (a parameter without a value gets `name=`).
pub fn canonical_query(query: &str) -> String {
    let mut parameters: Vec<(String, String)> =
        encoded_parameters(query).map(|(n, v, _)| (n, v)).collect();
    parameters.sort();
    let mut out = String::with_capacity(query.len());
    for (i, (name, value)) in parameters.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The query string re-encoded the way SigV4 encodes it, parameters kept in their order: a
/// query sent like this is read the same by any server, whatever decoding it applies before
/// canonicalizing (`+` and raw characters are gone). Same meaning for form decoding.
pub fn wire_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, (name, value, has_value)) in encoded_parameters(query).enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&name);
        if has_value {
            out.push('=');
            out.push_str(&value);
        }
    }
    out
}

/// A header value with leading and trailing spaces removed and runs of spaces collapsed to
/// one (spaces only, as AWS does; other whitespace stays).
fn trim_all(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A canonical request and the `SignedHeaders` list it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    /// The text that is hashed into the string to sign.
    pub text: String,
    /// Lowercase header names, sorted, joined with `;`.
    pub signed_headers: String,
}

/// Builds the canonical request. Every header in `headers` is signed: names lowercased and
/// sorted, values of a repeated name joined with `,` in order, each value trimmed.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
    options: Options,
) -> CanonicalRequest {
    let mut canonical: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = trim_all(value);
        canonical
            .entry(name.to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    let signed_headers = canonical
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";");
    let mut text = String::with_capacity(256);
    text.push_str(method);
    text.push('\n');
    text.push_str(&canonical_uri(path, options));
    text.push('\n');
    text.push_str(&canonical_query(query));
    text.push('\n');
    for (name, value) in &canonical {
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&signed_headers);
    text.push('\n');
    text.push_str(payload_hash);
    CanonicalRequest {
        text,
        signed_headers,
    }
}

/// The string to sign.
pub fn string_to_sign(scope: &Scope<'_>, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        scope.date.as_str(),
        scope.credential_scope(),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signing key derived from the secret access key for `scope`.
pub fn signing_key(secret_access_key: &str, scope: &Scope<'_>) -> [u8; 32] {
    let secret = format!("AWS4{secret_access_key}");
    let date = hmac_sha256(secret.as_bytes(), scope.date.day().as_bytes());
    let region = hmac_sha256(&date, scope.region.as_bytes());
    let service = hmac_sha256(&region, scope.service.as_bytes());
    hmac_sha256(&service, b"aws4_request")
}

/// The signature: hex HMAC-SHA256 of the string to sign.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex(&hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// The `Authorization` header value.
pub fn authorization(
    access_key_id: &str,
    scope: &Scope<'_>,
    signed_headers: &str,
    signature: &str,
) -> String {
    format!(
        "{ALGORITHM} Credential={access_key_id}/{}, SignedHeaders={signed_headers}, Signature={signature}",
        scope.credential_scope()
    )
}

/// An outbound request as far as signing is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Method.
    pub method: &'a str,
    /// The `Host` the client will send (host, and port when not the scheme's default).
    pub host: &'a str,
    /// Path as sent.
    pub path: &'a str,
    /// Query string as sent, without `?`.
    pub query: &'a str,
    /// Hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// The intermediate results of [`sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The canonical request.
    pub canonical_request: CanonicalRequest,
    /// The string to sign.
    pub string_to_sign: String,
    /// The signature.
    pub signature: String,
}

/// Signs `request`: adds `x-amz-date`, `x-amz-security-token` (with a session token) and
/// `authorization` to `headers`. Signed are `host` (not added: the client derives it from
/// the URL) and the headers for which `include(lowercase name)` holds, which must be true
/// for `x-amz-*` names.
pub fn sign(
    request: &Request<'_>,
    headers: &mut Vec<(String, String)>,
    credentials: &Credentials,
    scope: &Scope<'_>,
    options: Options,
    include: impl Fn(&str) -> bool,
) -> Signed {
    headers.push(("x-amz-date".to_owned(), scope.date.as_str().to_owned()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    let mut to_sign = vec![("host".to_owned(), request.host.to_owned())];
    to_sign.extend(
        headers
            .iter()
            .filter(|(name, _)| include(&name.to_ascii_lowercase()))
            .cloned(),
    );
    let canonical = canonical_request(
        request.method,
        request.path,
        request.query,
        &to_sign,
        request.payload_hash,
        options,
    );
    let string_to_sign = string_to_sign(scope, &canonical.text);
    let key = signing_key(&credentials.secret_access_key, scope);
    let signature = signature(&key, &string_to_sign);
    headers.push((
        "authorization".to_owned(),
        authorization(
            &credentials.access_key_id,
            scope,
            &canonical.signed_headers,
            &signature,
        ),
    ));
    Signed {
        canonical_request: canonical,
        string_to_sign,
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_and_hmac_match_published_vectors() {
        // FIPS 180-2 appendix B.1 and RFC 4231 test case 2.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        // The key derivation example of the SigV4 documentation ("Examples of how to derive
        // a signing key"): secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215,
        // us-east-1, iam.
        let date = AmzDate::parse("20120215T000000Z").unwrap();
        let scope = Scope {
            date: &date,
            region: "us-east-1",
            service: "iam",
        };
        assert_eq!(
            hex(&signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                &scope
            )),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn paths_normalize_like_rfc3986_and_merge_slashes() {
        let cases = [
            ("/", "/"),
            ("", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("//a//b//", "/a/b/"),
            ("/a/./b", "/a/b"),
            ("/a/.", "/a/"),
            ("/a/..", "/"),
            ("/a/b/../c", "/a/c"),
            ("/../a", "/a"),
            ("/a/..b/.c", "/a/..b/.c"),
        ];
        for (path, expected) in cases {
            assert_eq!(normalize_path(path), expected, "{path}");
        }
    }

    #[test]
    fn canonical_uri_encodes_once_more_or_once() {
        let double = Options::SERVICES;
        let single = Options {
            normalize_path: false,
            double_encode_path: false,
        };
        assert_eq!(canonical_uri("/a%20b/c:d", double), "/a%2520b/c%3Ad");
        assert_eq!(canonical_uri("/a%20b/c:d", single), "/a%20b/c%3Ad");
        assert_eq!(canonical_uri("/a%2Fb", single), "/a%2Fb");
        assert_eq!(canonical_uri("/a%2fb/./", single), "/a%2Fb/./");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(canonical_query("flag&x="), "flag=&x=");
        assert_eq!(canonical_query("q=a+b%2Bc&e=%7e"), "e=~&q=a%20b%2Bc");
        assert_eq!(canonical_query("&&a=1&"), "a=1");
        // Sorted on the encoded names: `%` (0x25) before letters, upper before lower case.
        assert_eq!(canonical_query("b=1&B=2&%C3%A9=3"), "%C3%A9=3&B=2&b=1");
        assert_eq!(
            wire_query("q=a+b&flag&é=ü&&z=%7e"),
            "q=a%20b&flag&%C3%A9=%C3%BC&z=~"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_repeats_joined() {
        let headers = vec![
            ("X-B".to_owned(), "  two   words ".to_owned()),
            ("x-a".to_owned(), "1".to_owned()),
            ("X-A".to_owned(), " 2".to_owned()),
            ("x-c".to_owned(), "\ttab\t".to_owned()),
        ];
        let c = canonical_request("GET", "/", "", &headers, "h", Options::SERVICES);
        assert_eq!(
            c.text,
            "GET\n/\n\nx-a:1,2\nx-b:two words\nx-c:\ttab\t\n\nx-a;x-b;x-c\nh"
        );
        assert_eq!(c.signed_headers, "x-a;x-b;x-c");
    }

    #[test]
    fn amz_dates_are_checked() {
        assert!(AmzDate::parse("20150830T123600Z").is_some());
        for bad in [
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "2015083OT123600Z",
            "",
        ] {
            assert!(AmzDate::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(AmzDate::from_unix_ms(1_440_938_160_000).day(), "20150830");
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token-secret".into()),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("very-secret") && !shown.contains("token-secret"));
    }
}
