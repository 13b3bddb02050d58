//! Percent-decoding and -encoding of single path segments.
//!
//! Templates and request paths share these so that a template literal and a request segment
//! are compared in the same (decoded) form.

use std::borrow::Cow;

/// Why a segment could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A `%` not followed by two hex digits.
    Malformed,
    /// The decoded bytes are not UTF-8.
    InvalidUtf8,
    /// A NUL byte, raw or encoded: upstreams written in C would truncate there.
    Nul,
}

/// Decodes `%XX` escapes; borrows when there is nothing to decode.
pub(crate) fn percent_decode(s: &str) -> Result<Cow<'_, str>, DecodeError> {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == 0) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            0 => return Err(DecodeError::Nul),
            b'%' => {
                let value = match tail {
                    [hi, lo, ..] => hex(*hi).zip(hex(*lo)).map(|(h, l)| (h << 4) | l),
                    _ => None,
                };
                match value {
                    Some(0) => return Err(DecodeError::Nul),
                    Some(v) => out.push(v),
                    None => return Err(DecodeError::Malformed),
                }
                rest = tail.get(2..).unwrap_or_default();
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::InvalidUtf8)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends `segment` to `out`, percent-encoding every byte that is not a `pchar` of
/// RFC 3986 (§3.3), so that decoding the result gives `segment` back and a `/` inside a
/// segment stays inside it.
pub(crate) fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in segment.as_bytes() {
        if is_pchar(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0x0f] {
                if let Some(&h) = HEX.get(usize::from(nibble)) {
                    out.push(char::from(h));
                }
            }
        }
    }
}

fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        assert!(matches!(percent_decode("abc"), Ok(Cow::Borrowed("abc"))));
        assert_eq!(percent_decode("a%20b").as_deref(), Ok("a b"));
        assert_eq!(percent_decode("%2f%2F").as_deref(), Ok("//"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Ok("é"));
        assert_eq!(percent_decode("%"), Err(DecodeError::Malformed));
        assert_eq!(percent_decode("%4"), Err(DecodeError::Malformed));
        assert_eq!(percent_decode("%zz"), Err(DecodeError::Malformed));
        assert_eq!(percent_decode("%C3"), Err(DecodeError::InvalidUtf8));
        assert_eq!(percent_decode("a%00"), Err(DecodeError::Nul));
        assert_eq!(percent_decode("a\0"), Err(DecodeError::Nul));
    }

    #[test]
    fn encode() {
        let mut out = String::new();
        encode_segment("a b/c%{}é~:@", &mut out);
        assert_eq!(out, "a%20b%2Fc%25%7B%7D%C3%A9~:@");
        assert_eq!(percent_decode(&out).as_deref(), Ok("a b/c%{}é~:@"));
    }
}
