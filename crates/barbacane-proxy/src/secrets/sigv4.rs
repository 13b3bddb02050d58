//! AWS Signature Version 4 for the one request shape the gateway sends to AWS: a `POST` of
//! a JSON body to `/` with no query string (`secretsmanager.GetSecretValue`). HMAC and
//! SHA-256 from ring, the workspace's crypto library.

use ring::{digest, hmac};

/// Credentials from the standard variables.
pub(crate) struct Credentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: zeroize::Zeroizing<String>,
    pub(crate) session_token: Option<zeroize::Zeroizing<String>>,
}

/// What one signature covers.
pub(crate) struct Signing<'a> {
    pub(crate) method: &'a str,
    /// The canonical path (already URI-encoded; `/` for AWS JSON protocols).
    pub(crate) path: &'a str,
    /// `(lowercase name, trimmed value)`, sorted by name, every header to sign.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) payload: &'a [u8],
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) amz_date: &'a str,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn mac(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// The canonical request (step 1 of the AWS process).
pub(crate) fn canonical_request(s: &Signing<'_>) -> String {
    let mut out = format!("{}\n{}\n\n", s.method, s.path);
    for (name, value) in s.headers {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push('\n');
    out.push_str(&signed_headers(s));
    out.push('\n');
    out.push_str(&sha256_hex(s.payload));
    out
}

fn signed_headers(s: &Signing<'_>) -> String {
    s.headers
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(";")
}

fn scope(s: &Signing<'_>) -> String {
    format!(
        "{}/{}/{}/aws4_request",
        s.amz_date.get(..8).unwrap_or(""),
        s.region,
        s.service
    )
}

/// The string to sign (step 2).
pub(crate) fn string_to_sign(s: &Signing<'_>) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        s.amz_date,
        scope(s),
        sha256_hex(canonical_request(s).as_bytes())
    )
}

/// The derived signing key (step 3): HMAC chain over date, region, service.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Tag {
    let k_date = mac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = mac(k_date.as_ref(), region.as_bytes());
    let k_service = mac(k_region.as_ref(), service.as_bytes());
    mac(k_service.as_ref(), b"aws4_request")
}

/// The `Authorization` header value (step 4).
pub(crate) fn authorization(creds: &Credentials, s: &Signing<'_>) -> String {
    let key = signing_key(
        &creds.secret_access_key,
        s.amz_date.get(..8).unwrap_or(""),
        s.region,
        s.service,
    );
    let signature = hex(mac(key.as_ref(), string_to_sign(s).as_bytes()).as_ref());
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={signature}",
        creds.access_key_id,
        scope(s),
        signed_headers(s)
    )
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time.
pub(crate) fn amz_date(unix_secs: u64) -> String {
    barbacane_artifact::rfc3339(unix_secs).replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    //! Checked against AWS's published values: the signing-key example of the SigV4
    //! documentation, and cases of the AWS SigV4 test suite that the `lambda` plugin keeps
    //! in `plugins/lambda/tests/vectors/v4/` (read from there, not copied).
    use super::*;

    fn creds(session: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: zeroize::Zeroizing::new(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            ),
            session_token: session.map(|t| zeroize::Zeroizing::new(t.to_owned())),
        }
    }

    fn vector(case: &str, file: &str) -> String {
        let path = format!(
            "{}/../../plugins/lambda/tests/vectors/v4/{case}/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim_end()
            .to_owned()
    }

    #[test]
    fn signing_key_matches_the_documented_example() {
        // AWS SigV4 documentation, "derive a signing key": secret
        // wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(key.as_ref()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn post_form_case_of_the_suite_signs_identically() {
        let case = "post-x-www-form-urlencoded";
        let body_hash = sha256_hex(b"Param1=value1");
        let headers = [
            ("content-length", "13"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "example.amazonaws.com"),
            ("x-amz-content-sha256", body_hash.as_str()),
            ("x-amz-date", "20150830T123600Z"),
        ];
        let s = Signing {
            method: "POST",
            path: "/",
            headers: &headers,
            payload: b"Param1=value1",
            region: "us-east-1",
            service: "service",
            amz_date: "20150830T123600Z",
        };
        assert_eq!(
            canonical_request(&s),
            vector(case, "header-canonical-request.txt")
        );
        assert_eq!(
            string_to_sign(&s),
            vector(case, "header-string-to-sign.txt")
        );
        let authorization_line = vector(case, "header-signed-request.txt")
            .lines()
            .find_map(|l| l.strip_prefix("Authorization:").map(str::to_owned))
            .unwrap();
        assert_eq!(authorization(&creds(None), &s), authorization_line);
    }

    #[test]
    fn session_token_case_of_the_suite_signs_identically() {
        let case = "get-vanilla-with-session-token";
        let context = vector(case, "context.json");
        let context: serde_json::Value = serde_json::from_str(&context).unwrap();
        let token = context["credentials"]["token"].as_str().unwrap();
        let headers = [
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            ("x-amz-security-token", token),
        ];
        let s = Signing {
            method: "GET",
            path: "/",
            headers: &headers,
            payload: b"",
            region: "us-east-1",
            service: "service",
            amz_date: "20150830T123600Z",
        };
        assert_eq!(
            canonical_request(&s),
            vector(case, "header-canonical-request.txt")
        );
        let expected = vector(case, "header-signature.txt");
        assert!(authorization(&creds(Some(token)), &s).ends_with(&format!("Signature={expected}")));
    }

    #[test]
    fn dates_are_in_the_basic_format() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    }
}
