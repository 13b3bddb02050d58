use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn bearer_parsing() {
    assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
    assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
    assert_eq!(bearer(b"Basic abc"), None);
    assert_eq!(bearer(b"Bearer"), None);
    assert_eq!(bearer(b"Bearer "), None);
    assert_eq!(bearer(b"Bearerabc"), None);
}

#[test]
fn primary_and_secondary_tokens_are_accepted_others_not() {
    let tokens = Tokens::from_values(["old", "new"]);
    assert!(tokens.accepts(b"old") && tokens.accepts(b"new"));
    assert!(!tokens.accepts(b"ol") && !tokens.accepts(b"") && !tokens.accepts(b"newer"));
}

#[test]
fn a_digest_is_accepted_while_its_token_is() {
    let tokens = Tokens::from_values(["old", "new"]);
    assert!(tokens.accepts_digest(&digest(b"new")));
    assert!(!tokens.accepts_digest(&digest(b"gone")));
    let rotated = Tokens::from_values(["new"]);
    assert!(!rotated.accepts_digest(&digest(b"old")));
    assert!(!Tokens::default().accepts_digest(&digest(b"")));
}

#[test]
fn authorize_combines_allowlist_and_token() {
    let posture = Posture {
        tokens: Tokens::from_values(["t0k3n"]),
        allowlist: Allowlist::parse(["10.0.0.0/8", "fd00::/8", "192.168.1.7"]).unwrap(),
    };
    assert_eq!(
        posture.authorize(ip("10.1.2.3"), Some(b"Bearer t0k3n")),
        Decision::Allow
    );
    assert_eq!(
        posture.authorize(ip("::ffff:10.1.2.3"), Some(b"Bearer t0k3n")),
        Decision::Allow
    );
    assert_eq!(
        posture.authorize(ip("fd12::1"), Some(b"Bearer t0k3n")),
        Decision::Allow
    );
    assert_eq!(
        posture.authorize(ip("192.168.1.7"), Some(b"Bearer t0k3n")),
        Decision::Allow
    );
    assert_eq!(
        posture.authorize(ip("192.168.1.8"), Some(b"Bearer t0k3n")),
        Decision::Forbidden
    );
    assert_eq!(
        posture.authorize(ip("10.1.2.3"), Some(b"Bearer wrong")),
        Decision::Unauthorized
    );
    assert_eq!(
        posture.authorize(ip("10.1.2.3"), None),
        Decision::Unauthorized
    );
    // Allowlist is checked first: a wrong address with a good token is still refused.
    assert_eq!(posture.authorize(ip("8.8.8.8"), None), Decision::Forbidden);
}

#[test]
fn without_token_only_the_allowlist_applies() {
    let open = Posture::default();
    assert_eq!(open.authorize(ip("127.0.0.1"), None), Decision::Allow);
    let listed = Posture {
        tokens: Tokens::default(),
        allowlist: Allowlist::parse(["127.0.0.0/8"]).unwrap(),
    };
    assert_eq!(listed.authorize(ip("127.0.0.2"), None), Decision::Allow);
    assert_eq!(listed.authorize(ip("::1"), None), Decision::Forbidden);
}

#[test]
fn bad_cidrs_are_reported() {
    assert_eq!(
        Allowlist::parse(["10.0.0.0/33"]),
        Err(InvalidCidr("10.0.0.0/33".into()))
    );
    assert!(Allowlist::parse(["nope"]).is_err());
}

#[test]
fn non_loopback_bind_needs_a_token() {
    let none = Tokens::default();
    let some = Tokens::from_values(["x"]);
    assert!(check_bind("127.0.0.1:8081".parse().unwrap(), &none, "T").is_ok());
    assert!(check_bind("[::1]:8081".parse().unwrap(), &none, "T").is_ok());
    let refused = check_bind("0.0.0.0:8081".parse().unwrap(), &none, "T").unwrap_err();
    assert!(refused.to_string().contains("set T"));
    assert!(check_bind("[::]:8081".parse().unwrap(), &none, "T").is_err());
    assert!(check_bind("0.0.0.0:8081".parse().unwrap(), &some, "T").is_ok());
}
