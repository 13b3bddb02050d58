//! API lifecycle (seed 002 M10): `deprecated: true` and `x-barbacane-sunset` on an operation
//! become the `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and `Link` fields the data plane
//! adds to its responses.
//!
//! ```yaml
//! deprecated: true
//! x-barbacane-sunset: 2027-06-30                         # a date (midnight UTC)
//! x-barbacane-sunset: "Wed, 30 Jun 2027 00:00:00 GMT"    # or an HTTP-date
//! x-barbacane-sunset:                                    # or with a policy link
//!   date: 2027-06-30T12:00:00Z
//!   deprecated_since: 2026-01-01
//!   link: https://developer.example.com/deprecations/v1
//! ```
//!
//! `Deprecation` carries `deprecated_since` when given, else the artifact's build time (the
//! operation is deprecated at the latest when the artifact saying so was built). Problems
//! are E1030 at the offending key.

use barbacane_spec::{Code, Diagnostic, Extension};
use serde_json::Value;

/// What an operation's lifecycle fields say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Lifecycle {
    /// Seconds since the epoch for `Deprecation`, when deprecated.
    pub deprecated_since: Option<u64>,
    /// Seconds since the epoch for `Sunset`.
    pub sunset: Option<u64>,
    /// The policy `Link` (`rel="sunset"` and `rel="deprecation"`).
    pub link: Option<String>,
}

pub(crate) fn lifecycle(
    deprecated: bool,
    sunset: Option<&Extension>,
    build_time: u64,
    diags: &mut Vec<Diagnostic>,
) -> Lifecycle {
    let mut out = Lifecycle {
        deprecated_since: deprecated.then_some(build_time),
        ..Lifecycle::default()
    };
    let Some(ext) = sunset else {
        return out;
    };
    let mut error = |pointer: String, message: String, hint: &str| {
        diags.push(Diagnostic::error(
            Code::E1030,
            &ext.file,
            pointer,
            message,
            hint,
        ));
    };
    if !deprecated {
        error(
            ext.pointer.clone(),
            "`x-barbacane-sunset` on an operation that is not `deprecated: true`".into(),
            "add `deprecated: true`: an operation going away is deprecated first",
        );
        return out;
    }
    let date_hint = "write a date (2027-06-30), a date-time (2027-06-30T12:00:00Z) or an HTTP-date";
    let (date, since, link) = match &ext.value {
        Value::String(_) => (Some((ext.value.clone(), ext.pointer.clone())), None, None),
        Value::Object(map) => {
            for key in map
                .keys()
                .filter(|k| !["date", "deprecated_since", "link"].contains(&k.as_str()))
            {
                error(
                    format!("{}/{key}", ext.pointer),
                    format!("unknown `x-barbacane-sunset` key `{key}`"),
                    "known keys: date, deprecated_since, link",
                );
            }
            let at = |k: &str| {
                map.get(k)
                    .map(|v| (v.clone(), format!("{}/{k}", ext.pointer)))
            };
            if !map.contains_key("date") {
                error(
                    ext.pointer.clone(),
                    "`x-barbacane-sunset` needs a `date`".into(),
                    date_hint,
                );
            }
            (at("date"), at("deprecated_since"), at("link"))
        }
        _ => {
            error(
                ext.pointer.clone(),
                "`x-barbacane-sunset` is not a date or a mapping".into(),
                date_hint,
            );
            return out;
        }
    };
    let mut read = |field: Option<(Value, String)>| -> Option<u64> {
        let (value, pointer) = field?;
        let parsed = value.as_str().and_then(parse_date);
        if parsed.is_none() {
            error(pointer, format!("{value} is not a date"), date_hint);
        }
        parsed
    };
    out.sunset = read(date);
    if let Some(since) = read(since) {
        out.deprecated_since = Some(since);
    }
    if let Some((value, pointer)) = link {
        match value.as_str() {
            Some(s)
                if (s.starts_with("https://") || s.starts_with("http://"))
                    && s.bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'>' && b != b'<') =>
            {
                out.link = Some(s.to_owned());
            }
            _ => error(
                pointer,
                format!("{value} is not an absolute http(s) URL"),
                "the link is sent as `Link: <URL>; rel=\"sunset\"`",
            ),
        }
    }
    out
}

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 in UTC) or an HTTP-date, as seconds
/// since the epoch. Dates before 1970 are refused.
pub(crate) fn parse_date(s: &str) -> Option<u64> {
    if let Ok(t) = httpdate::parse_http_date(s) {
        return t
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs());
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (s, None),
    };
    let num = |t: &str, n: usize| {
        (t.len() == n && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<i64>().ok())
            .flatten()
    };
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?, 4)?,
        num(parts.next()?, 2)?,
        num(parts.next()?, 2)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=days_in(y, m)).contains(&d) {
        return None;
    }
    let seconds = match time {
        None => 0,
        Some(t) => {
            let mut hms = t.split(':');
            let (h, mi, se) = (
                num(hms.next()?, 2)?,
                num(hms.next()?, 2)?,
                num(hms.next()?, 2)?,
            );
            if hms.next().is_some() || h > 23 || mi > 59 || se > 59 {
                return None;
            }
            h * 3600 + mi * 60 + se
        }
    };
    u64::try_from(days_from_civil(y, m, d) * 86_400 + seconds).ok()
}

fn days_in(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's public-domain
/// algorithm, the inverse of `barbacane_artifact::time::rfc3339`'s).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_accepted_form() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_date("2026-11-25T14:14:26Z"), Some(1_795_616_066));
        assert_eq!(
            parse_date("Wed, 25 Nov 2026 14:14:26 GMT"),
            Some(1_795_616_066)
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-01-01",
            "2026-01-01T25:00:00Z",
            "2026-01-01T10:00:00+02:00",
            "soon",
            "1969-12-31",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
