//! What a middleware decides, and responses a plugin builds.

/// What [`crate::Middleware::on_request`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Go on with the next middleware, then the dispatcher.
    Continue,
    /// Answer now with this response; later middlewares and the dispatcher do not run, the
    /// `on_response` hooks of the middlewares that ran so far do.
    Respond(OutgoingResponse),
    /// Answer now with the response the gateway already holds for this request (one a host
    /// capability put there, such as a [`crate::cache`] hit, with the plugin's changes made
    /// through it), instead of a response built here.
    RespondAsIs,
}

/// A response built by a plugin: a dispatcher's answer, or a middleware's early answer.
///
/// ```
/// use barbacane_plugin_sdk::OutgoingResponse;
///
/// let r = OutgoingResponse::new(201)
///     .header("location", "/pets/7")
///     .body(r#"{"id":7}"#);
/// assert_eq!(r.status, 201);
/// assert_eq!(r.headers, vec![("location".to_owned(), "/pets/7".to_owned())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingResponse {
    /// Status code (100-599).
    pub status: u16,
    /// Headers, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl OutgoingResponse {
    /// An empty response with `status`.
    pub fn new(status: u16) -> OutgoingResponse {
        OutgoingResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header (repeating a name adds another value).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON response (`content-type: application/json`).
    pub fn json(status: u16, value: &serde_json::Value) -> OutgoingResponse {
        OutgoingResponse::new(status)
            .header("content-type", "application/json")
            .body(value.to_string())
    }

    /// An RFC 9457 problem response in the gateway's style: `type` is
    /// `urn:barbacane:error:<name>`, `title` says what went wrong in general.
    ///
    /// ```
    /// use barbacane_plugin_sdk::OutgoingResponse;
    ///
    /// let r = OutgoingResponse::problem(413, "payload-too-large", "The request body is too large");
    /// let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    /// assert_eq!(body["type"], "urn:barbacane:error:payload-too-large");
    /// assert_eq!(body["status"], 413);
    /// assert_eq!(r.headers[0].1, "application/problem+json");
    /// ```
    pub fn problem(status: u16, name: &str, title: &str) -> OutgoingResponse {
        OutgoingResponse::problem_with_detail(status, name, title, None)
    }

    /// [`OutgoingResponse::problem`] with a `detail` member about this occurrence.
    pub fn problem_with_detail(
        status: u16,
        name: &str,
        title: &str,
        detail: Option<&str>,
    ) -> OutgoingResponse {
        let mut body = serde_json::json!({
            "type": format!("urn:barbacane:error:{name}"),
            "title": title,
            "status": status,
        });
        if let (Some(detail), Some(map)) = (detail, body.as_object_mut()) {
            map.insert("detail".into(), detail.into());
        }
        OutgoingResponse::new(status)
            .header("content-type", "application/problem+json")
            .body(body.to_string())
    }
}
