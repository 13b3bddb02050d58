//! `multipart/form-data` bodies (RFC 7578) split into named parts.
//!
//! Written here rather than taken from `multer`: the body is already buffered and
//! size-limited when it is validated, so a synchronous splitter over a byte slice is all that
//! is needed, and `multer`'s streaming design would pull an async runtime into request
//! validation. Part headers are parsed with `httparse`.

use memchr::memmem;

/// One part of a form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Part<'b> {
    /// The `name` of its `Content-Disposition: form-data`.
    pub(crate) name: String,
    /// Its `Content-Type`, lowercase essence, when given.
    pub(crate) content_type: Option<String>,
    /// Whether it is a file (`filename` given).
    pub(crate) is_file: bool,
    pub(crate) body: &'b [u8],
}

/// Most parts one body may hold; more is refused rather than allocated.
const MAX_PARTS: usize = 1_000;
/// Most header fields per part.
const MAX_PART_HEADERS: usize = 16;

/// The `boundary` parameter of a `multipart/*` content type.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(v);
        // RFC 2046: 1 to 70 characters.
        (!v.is_empty() && v.len() <= 70).then_some(v)
    })
}

/// Splits `body` into its parts, or says why it cannot.
pub(crate) fn parse<'b>(body: &'b [u8], boundary: &str) -> Result<Vec<Part<'b>>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The first delimiter may start the body or follow a preamble line.
    let mut at = match memmem::find(body, delimiter) {
        Some(0) => 0,
        Some(_) => memmem::find(body, &[b"\r\n", delimiter].concat())
            .map(|i| i + 2)
            .ok_or("multipart body does not start with its boundary")?,
        None => return Err("multipart body has no boundary delimiter".into()),
    };
    let next_delimiter = [b"\r\n", delimiter].concat();
    let mut parts = Vec::new();
    loop {
        let after = body
            .get(at + delimiter.len()..)
            .ok_or("multipart body is truncated")?;
        if after.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        let line_end = memmem::find(after, b"\r\n").ok_or("multipart body is truncated")?;
        if after[..line_end].iter().any(|b| !matches!(b, b' ' | b'\t')) {
            return Err("multipart delimiter line has trailing data".into());
        }
        let start = at + delimiter.len() + line_end + 2;
        let rest = body.get(start..).ok_or("multipart body is truncated")?;
        let end =
            memmem::find(rest, &next_delimiter).ok_or("multipart body has no closing boundary")?;
        if parts.len() == MAX_PARTS {
            return Err(format!("multipart body has more than {MAX_PARTS} parts"));
        }
        parts.push(part(&rest[..end])?);
        at = start + end + 2;
    }
}

fn part(raw: &[u8]) -> Result<Part<'_>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
    let (consumed, headers) = match httparse::parse_headers(raw, &mut headers) {
        Ok(httparse::Status::Complete((n, h))) => (n, h),
        Ok(httparse::Status::Partial) => return Err("multipart part headers are truncated".into()),
        Err(e) => return Err(format!("multipart part headers are malformed: {e}")),
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let disposition =
        header("content-disposition").ok_or("multipart part has no Content-Disposition")?;
    let mut params = disposition.split(';');
    if !params
        .next()
        .is_some_and(|d| d.trim().eq_ignore_ascii_case("form-data"))
    {
        return Err("multipart part is not `form-data`".into());
    }
    let mut name = None;
    let mut is_file = false;
    for param in params {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(v);
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v.to_owned()),
            "filename" | "filename*" => is_file = true,
            _ => {}
        }
    }
    Ok(Part {
        name: name.ok_or("multipart part has no `name`")?,
        content_type: header("content-type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        }),
        is_file,
        body: &raw[consumed..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ  \r\nContent-Disposition: form-data; name=\"doc\"; filename=\"d.json\"\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{\"k\":\r\n2}\r\n--XyZ--\r\nepilogue";

    #[test]
    fn boundaries_are_read_from_the_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=XyZ"), Some("XyZ"));
        assert_eq!(
            boundary("multipart/form-data; charset=x; Boundary=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }

    #[test]
    fn parts_are_split_with_their_headers() {
        let parts = parse(FORM, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "a");
        assert_eq!(parts[0].body, b"1");
        assert!(!parts[0].is_file);
        assert_eq!(parts[1].name, "doc");
        assert!(parts[1].is_file);
        assert_eq!(parts[1].content_type.as_deref(), Some("application/json"));
        assert_eq!(parts[1].body, b"{\"k\":\r\n2}");
        assert_eq!(parse(b"--b--", "b").unwrap(), []);
    }

    #[test]
    fn malformed_bodies_are_errors_never_panics() {
        for body in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\n",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1",
            b"--XyZ\r\n\r\n1\r\n--XyZ--",
            b"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--XyZ--",
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--",
            b"--XyZjunk\r\n",
        ] {
            assert!(
                parse(body, "XyZ").is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        // Every prefix of a valid body is handled without panicking.
        for n in 0..FORM.len() {
            let _ = parse(&FORM[..n], "XyZ");
        }
    }
}
