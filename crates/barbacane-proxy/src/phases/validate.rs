//! Phase 3: request validation (400, 415, 413 while reading the body).

use barbacane_router::Params;
use barbacane_validator::{OperationValidator, RequestParts};
use bytes::Bytes;
use http::request::Parts;
use http_body::Body as HttpBody;
use http_body_util::{BodyExt, Limited};

use crate::{GatewayError, Limits};

/// Validates parameters and content type, then — only if the operation's rules need it —
/// buffers the body (bounded by the limit) and validates it. Returns the body, read or not.
pub(crate) async fn validate<B>(
    validator: &OperationValidator,
    params: &Params<'_, '_>,
    parts: &Parts,
    body: B,
    limits: &Limits,
) -> Result<Validated<B>, GatewayError>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let head = RequestParts {
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    validator
        .validate_head(|name| params.get(name), head)
        .map_err(GatewayError::Validation)?;
    if !validator.needs_body() {
        return Ok(Validated::Unread(body));
    }
    let limit = usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX);
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(GatewayError::BodyTooLarge {
                limit: limits.max_body_bytes,
            });
        }
        Err(e) if e.is::<crate::conn::BodyStalled>() => return Err(GatewayError::BodyTimeout),
        Err(e) => return Err(GatewayError::BodyRead(e.to_string())),
    };
    validator
        .validate_body(&parts.headers, &bytes)
        .map_err(GatewayError::Validation)?;
    Ok(Validated::Buffered(bytes))
}

/// The request body after validation.
pub(crate) enum Validated<B> {
    /// Validation read the whole body.
    Buffered(Bytes),
    /// Validation did not need it; it is still unread.
    Unread(B),
}
