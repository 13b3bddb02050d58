//! AWS Secrets Manager: `GetSecretValue` over the AWS JSON 1.1 protocol, signed with SigV4.

use barbacane_wasm::{HttpClient, OutboundRequest};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::sigv4::{self, Signing};
use super::{Settings, field};

const TARGET: &str = "secretsmanager.GetSecretValue";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The region of an ARN (`arn:aws:secretsmanager:<region>:...`).
fn arn_region(name: &str) -> Option<&str> {
    let mut parts = name.strip_prefix("arn:")?.split(':');
    let _partition = parts.next()?;
    (parts.next()? == "secretsmanager").then_some(())?;
    parts.next().filter(|r| !r.is_empty())
}

pub(super) async fn resolve(
    client: &dyn HttpClient,
    settings: &Settings,
    name: &str,
    key: Option<&str>,
) -> Result<Vec<u8>, String> {
    let creds = settings
        .aws_credentials
        .as_ref()
        .ok_or("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")?;
    let region = settings
        .aws_region
        .as_deref()
        .or_else(|| arn_region(name))
        .ok_or("AWS_REGION (or AWS_DEFAULT_REGION) is not set")?;
    let endpoint = settings
        .aws_endpoint
        .clone()
        .unwrap_or_else(|| format!("https://secretsmanager.{region}.amazonaws.com"));
    let uri: http::Uri = format!("{}/", endpoint.trim_end_matches('/'))
        .parse()
        .map_err(|e| format!("the Secrets Manager endpoint `{endpoint}` is not a URL ({e})"))?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| format!("the Secrets Manager endpoint `{endpoint}` has no host"))?;
    let body =
        serde_json::to_vec(&serde_json::json!({ "SecretId": name })).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = sigv4::amz_date(now);
    let mut signed: Vec<(&str, &str)> = vec![
        ("content-type", CONTENT_TYPE),
        ("host", &host),
        ("x-amz-date", &date),
    ];
    if let Some(token) = &creds.session_token {
        signed.push(("x-amz-security-token", token.as_str()));
    }
    signed.push(("x-amz-target", TARGET));
    let authorization = sigv4::authorization(
        creds,
        &Signing {
            method: "POST",
            path: "/",
            headers: &signed,
            payload: &body,
            region,
            service: "secretsmanager",
            amz_date: &date,
        },
    );
    let mut headers = HeaderMap::new();
    for (name, value) in signed
        .iter()
        .chain([&("authorization", authorization.as_str())])
    {
        let mut value =
            HeaderValue::from_str(value).map_err(|_| format!("invalid `{name}` header value"))?;
        if matches!(*name, "authorization" | "x-amz-security-token") {
            value.set_sensitive(true);
        }
        headers.insert(HeaderName::from_static(name), value);
    }
    let response = client
        .send(OutboundRequest {
            method: Method::POST,
            uri,
            headers,
            body: Bytes::from(body),
            timeout: settings.timeout,
        })
        .await
        .map_err(|e| format!("Secrets Manager at {endpoint}: {}", e.message()))?;
    let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    if response.status != StatusCode::OK {
        let kind = answer
            .get("__type")
            .and_then(|t| t.as_str())
            .map(|t| t.rsplit('#').next().unwrap_or(t))
            .unwrap_or("error");
        let message = answer
            .get("message")
            .or_else(|| answer.get("Message"))
            .and_then(|m| m.as_str())
            .unwrap_or("");
        return Err(format!(
            "Secrets Manager answered {} {kind}{}{message}",
            response.status.as_u16(),
            if message.is_empty() { "" } else { ": " }
        ));
    }
    let string = answer.get("SecretString").and_then(|s| s.as_str());
    match (string, key) {
        (Some(text), None) => Ok(text.as_bytes().to_vec()),
        (Some(text), Some(key)) => {
            let json: serde_json::Value = serde_json::from_str(text)
                .map_err(|_| format!("the SecretString is not JSON, so it has no field `{key}`"))?;
            field(&json, key)
        }
        (None, None) => answer
            .get("SecretBinary")
            .and_then(|b| b.as_str())
            .ok_or("the answer has neither SecretString nor SecretBinary")
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|_| "SecretBinary is not base64")
            })
            .map_err(str::to_owned),
        (None, Some(key)) => Err(format!("the secret is binary, so it has no field `{key}`")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn region_comes_from_an_arn() {
        assert_eq!(
            super::arn_region("arn:aws:secretsmanager:eu-west-3:123:secret:db-x1Y2"),
            Some("eu-west-3")
        );
        assert_eq!(super::arn_region("prod/db"), None);
        assert_eq!(super::arn_region("arn:aws:s3:eu-west-3:1:x"), None);
    }
}
