use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Value, json};

/// RFC 7617, section 2: user-id `Aladdin`, password `open sesame`.
const ALADDIN: &str = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";

/// Made by the reference implementation (libargon2, through argon2-cffi's
/// `low_level.hash_secret`), salt `barbacane-salt16`: the password `correct horse` with
/// `m=64,t=2,p=2` in the three variants, and `pässwörd:with:colons` with argon2id,
/// `m=128,t=1,p=1` and a 24-byte output.
const ARGON2ID: &str = "$argon2id$v=19$m=64,t=2,p=2$YmFyYmFjYW5lLXNhbHQxNg$WK9/oB5QiuSF1kRzH2EWLgcHzT+jMAR6jKS/L1tr9Xw";
const ARGON2I: &str =
    "$argon2i$v=19$m=64,t=2,p=2$YmFyYmFjYW5lLXNhbHQxNg$VcvwQtHWqrSSazyMrVBbvbQhoS3DV+aAmGfY6j5hAn0";
const ARGON2D: &str =
    "$argon2d$v=19$m=64,t=2,p=2$YmFyYmFjYW5lLXNhbHQxNg$qzNcHUr8Y9N3kwjbjXKfh4Rbfm6Qqx+WlUfLST2mZUs";
const ARGON2ID_COLONS: &str =
    "$argon2id$v=19$m=128,t=1,p=1$YmFyYmFjYW5lLXNhbHQxNg$Z66BoeXJ1Obcxz5BrgCOZY1MgVXD36jH";

const CONTEXT_KEYS: [&str; 4] = ["auth.sub", "auth.consumer", "auth.roles", "auth.method"];

fn auth(config: Value) -> BasicAuth {
    middleware_from(&config).unwrap()
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Aladdin (plain password, two roles) and an argon2id user.
fn users() -> BasicAuth {
    auth(json!({
        "credentials": [
            {"username": "Aladdin", "password": "open sesame", "roles": ["admin", "ops"]},
            {"username": "jasmine", "password": ARGON2ID},
        ],
    }))
}

/// Runs a request carrying `authorization` (when given) through `p`.
fn run(p: &mut BasicAuth, authorization: Option<&str>) -> (FakeHost, Action) {
    let mut host = FakeHost::new();
    if let Some(value) = authorization {
        host.header("authorization", value);
    }
    let action = host.on_request(p);
    (host, action)
}

/// Asserts the request was refused with the 401 and left no identity behind.
fn assert_unauthorized(host: &FakeHost, action: &Action, challenge: &str) {
    let Action::Respond(r) = action else {
        panic!("expected a 401, got {action:?}");
    };
    assert_eq!(r.status, 401);
    assert_eq!(host.response_status(), Some(401));
    assert_eq!(host.response_headers("www-authenticate"), vec![challenge]);
    assert_eq!(
        host.response_header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "urn:barbacane:error:unauthorized",
            "title": "Authentication required",
            "status": 401,
            "detail": "The request needs valid credentials.",
        })
    );
    for key in CONTEXT_KEYS {
        assert_eq!(host.context_value(key), None, "{key}");
    }
}

const API_CHALLENGE: &str = r#"Basic realm="api", charset="UTF-8""#;

// --- accepted ------------------------------------------------------------------------

#[test]
fn the_rfc_7617_example_is_accepted_and_stripped() {
    let mut p = users();
    let (host, action) = run(&mut p, Some(ALADDIN));
    assert_eq!(action, Action::Continue);
    assert_eq!(host.response_status(), None);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("Aladdin"));
    assert_eq!(
        host.context_value("auth.consumer").as_deref(),
        Some("Aladdin")
    );
    assert_eq!(
        host.context_value("auth.roles").as_deref(),
        Some("admin ops")
    );
    assert_eq!(host.context_value("auth.method").as_deref(), Some("basic"));
    // The upstream never sees the password.
    assert_eq!(host.request_headers("authorization"), Vec::<String>::new());
}

#[test]
fn strip_credentials_false_keeps_the_authorization_header() {
    let mut p = auth(json!({
        "strip_credentials": false,
        "credentials": [{"username": "Aladdin", "password": "open sesame"}],
    }));
    let (host, action) = run(&mut p, Some(ALADDIN));
    assert_eq!(action, Action::Continue);
    assert_eq!(host.request_headers("authorization"), vec![ALADDIN]);
    assert_eq!(host.context_value("auth.roles").as_deref(), Some(""));
}

#[test]
fn the_scheme_is_case_insensitive_and_padding_optional() {
    let mut p = users();
    let token = STANDARD_NO_PAD.encode("Aladdin:open sesame");
    for value in [
        "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_owned(),
        "BASIC QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_owned(),
        "Basic    QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_owned(),
        format!("Basic {token}"),
        format!("Basic {token}="),
    ] {
        let (host, action) = run(&mut p, Some(&value));
        assert_eq!(action, Action::Continue, "{value}");
        assert_eq!(host.context_value("auth.sub").as_deref(), Some("Aladdin"));
    }
}

#[test]
fn the_user_id_ends_at_the_first_colon() {
    let mut p = auth(json!({
        "credentials": [
            {"username": "ops", "password": "a:b::c"},
            {"username": "Jos\u{e9}", "password": "\u{1f511} cl\u{e9}"},
        ],
    }));
    let (host, action) = run(&mut p, Some(&basic("ops", "a:b::c")));
    assert_eq!(action, Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("ops"));
    let (host, action) = run(&mut p, Some(&basic("Jos\u{e9}", "\u{1f511} cl\u{e9}")));
    assert_eq!(action, Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("Jos\u{e9}"));
    // `ops:a` + `b::c` is the same token: `ops` + `a:b::c`.
    let (host, action) = run(&mut p, Some(&basic("ops:a", "b::c")));
    assert_eq!(action, Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("ops"));
    for (user, password) in [("ops", "a:b:"), ("ops", "a:b::c:"), ("ops:a:b", "c")] {
        let (host, action) = run(&mut p, Some(&basic(user, password)));
        assert_unauthorized(&host, &action, API_CHALLENGE);
    }
}

// --- refused -------------------------------------------------------------------------

#[test]
fn anything_but_valid_credentials_gets_the_same_401() {
    let mut p = users();
    let (host, action) = run(&mut p, None);
    assert_unauthorized(&host, &action, API_CHALLENGE);

    let no_colon = format!("Basic {}", STANDARD.encode("Aladdinopen sesame"));
    for value in [
        String::new(),
        "Basic".to_owned(),
        "Basic ".to_owned(),
        "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_owned(),
        "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_owned(),
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== ".to_owned(),
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==,".to_owned(),
        "Basic Aladdin:open sesame".to_owned(),
        no_colon,
        basic("Aladdin", "open sesam"),
        basic("Aladdin", "open sesame "),
        basic("Aladdin", "OPEN SESAME"),
        basic("aladdin", "open sesame"),
        basic("Aladdin ", "open sesame"),
        basic("Aladdin", ""),
        basic("", "open sesame"),
        basic("nobody", "open sesame"),
        basic("jasmine", "open sesame"),
        basic("jasmine", ARGON2ID),
        basic("jasmine", "correct horse "),
    ] {
        let (host, action) = run(&mut p, Some(&value));
        assert_unauthorized(&host, &action, API_CHALLENGE);
        // A refused request keeps its header (the answer is the plugin's anyway).
        if !value.is_empty() {
            assert_eq!(host.request_headers("authorization"), vec![value]);
        }
    }
}

#[test]
fn only_the_first_authorization_value_is_read() {
    let mut p = users();
    let mut host = FakeHost::new();
    host.header("authorization", ALADDIN)
        .header("authorization", "Bearer x");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    // Every value is stripped.
    assert_eq!(host.request_headers("authorization"), Vec::<String>::new());

    let mut host = FakeHost::new();
    host.header("authorization", "Bearer x")
        .header("authorization", ALADDIN);
    let action = host.on_request(&mut p);
    assert_unauthorized(&host, &action, API_CHALLENGE);
}

#[test]
fn the_realm_is_a_quoted_string() {
    let mut p = auth(json!({
        "realm": "Staff \"only\" \\ area",
        "credentials": [{"username": "Aladdin", "password": "open sesame"}],
    }));
    let (host, action) = run(&mut p, None);
    assert_unauthorized(
        &host,
        &action,
        r#"Basic realm="Staff \"only\" \\ area", charset="UTF-8""#,
    );
    assert_eq!(challenge(""), r#"Basic realm="", charset="UTF-8""#);
    assert_eq!(
        challenge("caf\u{e9}\tbar"),
        "Basic realm=\"caf\u{e9}\tbar\", charset=\"UTF-8\""
    );
}

// --- password forms ------------------------------------------------------------------

#[test]
fn argon2_hashes_from_the_reference_implementation_verify() {
    let mut p = auth(json!({
        "credentials": [
            {"username": "id", "password": ARGON2ID},
            {"username": "i", "password": ARGON2I},
            {"username": "d", "password": ARGON2D},
            {"username": "colons", "password": ARGON2ID_COLONS},
        ],
    }));
    for user in ["id", "i", "d"] {
        let (host, action) = run(&mut p, Some(&basic(user, "correct horse")));
        assert_eq!(action, Action::Continue, "{user}");
        assert_eq!(host.context_value("auth.sub").as_deref(), Some(user));
        let (host, action) = run(&mut p, Some(&basic(user, "correct horsf")));
        assert_unauthorized(&host, &action, API_CHALLENGE);
    }
    let (host, action) = run(
        &mut p,
        Some(&basic("colons", "p\u{e4}ssw\u{f6}rd:with:colons")),
    );
    assert_eq!(action, Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("colons"));
    // Another user's hash is not yours.
    let (host, action) = run(&mut p, Some(&basic("colons", "correct horse")));
    assert_unauthorized(&host, &action, API_CHALLENGE);
}

#[test]
fn secret_references_are_resolved_once_by_init() {
    let mut host = FakeHost::new();
    host.secret("env://OPS_PASSWORD", "from-env")
        .secret("file:///run/secrets/ci", "from-file");
    host.secret("env://HASH", ARGON2ID);
    let mut p = auth(json!({
        "credentials": [
            {"username": "ops", "password": "env://OPS_PASSWORD"},
            {"username": "ci", "password": "file:///run/secrets/ci"},
            // A secret's value is a password, never read as a hash.
            {"username": "hashed", "password": "env://HASH"},
        ],
    }));
    // Changed after `init`: this instance keeps what it resolved.
    host.secret("env://OPS_PASSWORD", "rotated");
    for (user, password, ok) in [
        ("ops", "from-env", true),
        ("ops", "rotated", false),
        ("ops", "env://OPS_PASSWORD", false),
        ("ci", "from-file", true),
        ("hashed", ARGON2ID, true),
        ("hashed", "correct horse", false),
    ] {
        host.next_request();
        host.header("authorization", &basic(user, password));
        let action = host.on_request(&mut p);
        if ok {
            assert_eq!(action, Action::Continue, "{user}");
            assert_eq!(host.context_value("auth.sub").as_deref(), Some(user));
        } else {
            assert_unauthorized(&host, &action, API_CHALLENGE);
        }
    }
}

#[test]
fn an_unresolvable_reference_fails_init_naming_the_reference_only() {
    let mut host = FakeHost::new();
    host.secret("env://EMPTY", "")
        .secret("env://GOOD", "s3cr3t-value");
    for (reference, needle) in [
        ("env://MISSING", "`env://MISSING` does not resolve"),
        ("file:///nowhere", "`file:///nowhere` does not resolve"),
        ("env://EMPTY", "`env://EMPTY` resolves to an empty value"),
    ] {
        let config = json!({
            "credentials": [
                {"username": "good", "password": "env://GOOD"},
                {"username": "ops", "password": reference},
            ],
        });
        let err = middleware_from::<BasicAuth>(&config).unwrap_err();
        assert!(err.contains("credentials[1] (username `ops`)"), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("s3cr3t-value"), "{err}");
    }
}

// --- timing and cache ----------------------------------------------------------------

#[test]
fn unknown_users_are_checked_against_a_dummy_of_the_first_hash() {
    let p = auth(json!({
        "credentials": [
            {"username": "plain", "password": "x"},
            {"username": "colons", "password": ARGON2ID_COLONS},
            {"username": "id", "password": ARGON2ID},
        ],
    }));
    let Verifier::Argon2(dummy) = &p.policy.dummy else {
        panic!("expected an argon2 dummy, got {:?}", p.policy.dummy);
    };
    let real = PasswordHash::new(ARGON2ID_COLONS).unwrap();
    // Same algorithm, version, parameters, salt and output length: the same cost.
    assert_eq!(dummy.algorithm, real.algorithm);
    assert_eq!(dummy.version, real.version);
    assert_eq!(dummy.params, real.params);
    assert_eq!(dummy.salt, real.salt);
    assert_eq!(dummy.hash.unwrap().len(), 24);
    assert_ne!(dummy.hash, real.hash);
    // And nothing passes it, not even the password of the hash it copies.
    assert!(
        !p.policy
            .dummy
            .verify("p\u{e4}ssw\u{f6}rd:with:colons".as_bytes())
    );
    assert!(Verifier::Argon2(Box::new(real)).verify("p\u{e4}ssw\u{f6}rd:with:colons".as_bytes()));

    // Without hashes, a digest nothing matches.
    let p = auth(json!({"credentials": [{"username": "plain", "password": "x"}]}));
    assert_eq!(p.policy.dummy, Verifier::Digest([0; 32]));
    assert!(!p.policy.dummy.verify(b""));
    assert!(!p.policy.dummy.verify(b"x"));
}

#[test]
fn verified_hashes_are_cached_per_instance() {
    let mut p = users();
    let jasmine = basic("jasmine", "correct horse");
    assert_eq!(run(&mut p, Some(&jasmine)).1, Action::Continue);
    assert_eq!(p.cache.entries.len(), 1);
    // Failures and plain passwords are not cached.
    run(&mut p, Some(&basic("jasmine", "wrong")));
    run(&mut p, Some(&basic("nobody", "correct horse")));
    run(&mut p, Some(ALADDIN));
    assert_eq!(p.cache.entries.len(), 1);

    // The next request is answered from the cache: with the hash gone, it still passes.
    p.policy.verifiers[1] = Verifier::Digest([0; 32]);
    let (host, action) = run(&mut p, Some(&jasmine));
    assert_eq!(action, Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("jasmine"));
    // Only those exact credentials.
    let (host, action) = run(&mut p, Some(&basic("jasmine", "correct horse ")));
    assert_unauthorized(&host, &action, API_CHALLENGE);

    // Another instance has its own cache, and its own salt.
    let _host = FakeHost::new();
    let (q, r) = (users(), users());
    assert!(q.cache.entries.is_empty());
    assert_ne!(q.cache.salt, r.cache.salt);
    assert_ne!(
        q.cache.key(b"jasmine", b"correct horse"),
        r.cache.key(b"jasmine", b"correct horse")
    );
}

#[test]
fn the_cache_is_emptied_when_full() {
    let mut cache = Cache::default();
    for i in 0..CACHE_CAPACITY {
        cache.insert(cache.key(b"u", i.to_string().as_bytes()), i);
    }
    assert_eq!(cache.entries.len(), CACHE_CAPACITY);
    let first = cache.key(b"u", b"0");
    assert_eq!(cache.get(&first), Some(0));
    let extra = cache.key(b"u", b"extra");
    cache.insert(extra, 7);
    assert_eq!(cache.entries.len(), 1);
    assert_eq!(cache.get(&extra), Some(7));
    assert_eq!(cache.get(&first), None);
    // The user-id is part of the key (a user-id never contains `:`, so the key is
    // unambiguous).
    assert_ne!(cache.key(b"a", b"b"), cache.key(b"c", b"b"));
}

// --- configuration -------------------------------------------------------------------

#[test]
fn defaults_apply() {
    let p = auth(json!({"credentials": [{"username": "u", "password": "p"}]}));
    assert_eq!(p.realm, "api");
    assert!(p.strip_credentials);
    assert_eq!(p.policy.challenge, API_CHALLENGE);
    assert_eq!(p.policy.users, vec![sha256(b"u")]);
    assert_eq!(p.policy.verifiers, vec![Verifier::Digest(sha256(b"p"))]);
    assert_eq!(
        p.policy.identities,
        vec![Identity {
            username: "u".into(),
            roles: String::new(),
        }]
    );
}

#[test]
fn debug_output_shows_no_password() {
    let p = auth(json!({
        "credentials": [
            {"username": "u", "password": "literal-password"},
            {"username": "v", "password": ARGON2ID},
        ],
    }));
    let debug = format!("{p:?}");
    assert!(debug.contains("\"u\""), "{debug}");
    assert!(!debug.contains("literal-password"), "{debug}");
    assert!(!debug.contains("WK9/oB5Q"), "{debug}");
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    let user = |u: &str, p: &str| json!({"username": u, "password": p});
    let costly = "$2b$13$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
    let over = "$argon2id$v=19$m=8193,t=1,p=1$YmFyYmFjYW5lLXNhbHQxNg$WK9/oB5QiuSF1kRzH2EWLgcHzT+jMAR6jKS/L1tr9Xw";
    for (config, needle) in [
        (json!({}), "missing field `credentials`"),
        (json!({"credentials": []}), "credentials is empty"),
        (
            json!({"credentials": [{"username": "u"}]}),
            "missing field `password`",
        ),
        (
            json!({"credentials": [{"password": "p"}]}),
            "missing field `username`",
        ),
        (
            json!({"credentials": [user("", "p")]}),
            "credentials[0]: the username is empty",
        ),
        (
            json!({"credentials": [user("a:b", "p")]}),
            "credentials[0]: the username `a:b` contains `:`",
        ),
        (
            json!({"credentials": [user("u", "p"), user("u", "q")]}),
            "credentials[1]: the username `u` is already the username of credentials[0]",
        ),
        (
            json!({"credentials": [user("u", "")]}),
            "credentials[0] (username `u`): the password is empty",
        ),
        (
            json!({"credentials": [user("u", costly)]}),
            "credentials[0] (username `u`): bcrypt cost 13 is outside 4..=12",
        ),
        (
            json!({"credentials": [user("u", "$2y$04$abc")]}),
            "credentials[0] (username `u`): not a valid bcrypt hash",
        ),
        (
            json!({"credentials": [user("u", "$2b$1x$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy")]}),
            "not a valid bcrypt hash",
        ),
        (
            json!({"credentials": [user("u", "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhW!")]}),
            "not a valid bcrypt hash",
        ),
        (
            json!({"credentials": [user("u", "$argon2id$v=19$m=64,t=2,p=2")]}),
            "credentials[0] (username `u`): not a valid argon2 PHC hash",
        ),
        (
            json!({"credentials": [user("u", "$argon2id$v=19$m=64,t=2,p=2$YmFyYmFjYW5lLXNhbHQxNg")]}),
            "it has no salt or no hash",
        ),
        (
            json!({"credentials": [user("u", "$argon2id$garbage")]}),
            "not a valid argon2 PHC hash",
        ),
        (
            json!({"credentials": [user("u", "$argon2x$v=19$m=64,t=2,p=2$YmFyYmFjYW5lLXNhbHQxNg$WK9/oB5QiuSF1kRzH2EWLgcHzT+jMAR6jKS/L1tr9Xw")]}),
            "not a valid argon2 PHC hash",
        ),
        (
            json!({"credentials": [user("u", "$argon2id$v=19$m=64,t=0,p=2$YmFyYmFjYW5lLXNhbHQxNg$WK9/oB5QiuSF1kRzH2EWLgcHzT+jMAR6jKS/L1tr9Xw")]}),
            "not a valid argon2 PHC hash",
        ),
        (
            json!({"credentials": [user("u", over)]}),
            "the argon2 memory cost m=8193 is over 8192 (KiB)",
        ),
        (
            json!({"credentials": [{"username": "u", "password": "p", "roles": ["a b"]}]}),
            "credentials[0] (username `u`): the role `a b` is empty or contains whitespace",
        ),
        (
            json!({"credentials": [{"username": "u", "password": "p", "roles": [""]}]}),
            "the role `` is empty",
        ),
        (
            json!({"realm": "a\nb", "credentials": [user("u", "p")]}),
            "realm contains the control character '\\n'",
        ),
        (
            json!({"realm": "a\u{7f}", "credentials": [user("u", "p")]}),
            "realm contains the control character",
        ),
        (
            json!({"credentials": [{"username": "u", "password": "p", "scopes": []}]}),
            "unknown field `scopes`",
        ),
        (
            json!({"credentials": [user("u", "p")], "hide_credentials": true}),
            "unknown field `hide_credentials`",
        ),
        (
            json!({"credentials": [user("u", "p")], "strip_credentials": "yes"}),
            "invalid configuration",
        ),
    ] {
        let err = middleware_from::<BasicAuth>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
        assert!(!err.contains("N9qo8uLO"), "{config}: {err}");
    }
}

#[test]
fn a_memory_cost_of_8192_kib_is_accepted() {
    let _host = FakeHost::new();
    let at_limit = "$argon2id$v=19$m=8192,t=1,p=1$YmFyYmFjYW5lLXNhbHQxNg$WK9/oB5QiuSF1kRzH2EWLgcHzT+jMAR6jKS/L1tr9Xw";
    assert!(
        middleware_from::<BasicAuth>(
            &json!({"credentials": [{"username": "u", "password": at_limit}]})
        )
        .is_ok()
    );
}

// --- bcrypt ---------------------------------------------------------------------------

/// A real bcrypt behind the fake host's `crypto.bcrypt_verify`; returns how many checks ran.
fn real_bcrypt(host: &mut FakeHost) -> std::rc::Rc<std::cell::Cell<u32>> {
    let checks = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = std::rc::Rc::clone(&checks);
    host.bcrypt_checker(move |password, hash| {
        seen.set(seen.get() + 1);
        let hash = std::str::from_utf8(hash).map_err(|e| e.to_string())?;
        bcrypt::verify(password, hash).map_err(|e| e.to_string())
    });
    checks
}

#[test]
fn bcrypt_hashes_are_checked_by_the_gateway_and_remembered() {
    let hash = bcrypt::hash_with_salt("open sesame", 4, *b"barbacane-salt16")
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let mut host = FakeHost::new();
    let checks = real_bcrypt(&mut host);
    let mut p = auth(json!({
        "credentials": [
            {"username": "Aladdin", "password": hash, "roles": ["admin"]},
            // Accepted forms: another version prefix, the highest cost.
            {"username": "other", "password": "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
        ],
    }));
    assert_eq!(format!("{:?}", p.policy.verifiers[1]), "Bcrypt(cost 12)");

    host.header("authorization", ALADDIN);
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("Aladdin"));
    assert_eq!(host.context_value("auth.roles").as_deref(), Some("admin"));
    assert_eq!(checks.get(), 1);

    // The same credentials again: from the instance's cache, no second check.
    host.next_request();
    host.header("authorization", ALADDIN);
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(checks.get(), 1);

    // A wrong password is checked in full and refused.
    host.next_request();
    host.header("authorization", &basic("Aladdin", "open sesamE"));
    assert!(matches!(host.on_request(&mut p), Action::Respond(r) if r.status == 401));
    assert_eq!(checks.get(), 2);

    // An unknown user goes through a dummy of the same version, cost and salt.
    host.next_request();
    host.header("authorization", &basic("nobody", "open sesame"));
    assert!(matches!(host.on_request(&mut p), Action::Respond(r) if r.status == 401));
    assert_eq!(checks.get(), 3);
    let Verifier::Bcrypt(dummy, 4) = &p.policy.dummy else {
        panic!("expected a bcrypt dummy, got {:?}", p.policy.dummy);
    };
    assert_eq!(dummy.len(), 60);
    assert_eq!(dummy[..29], hash[..29]);
    assert_ne!(*dummy, hash);
    assert!(!bcrypt::verify("open sesame", dummy).unwrap());
}

#[test]
fn a_bcrypt_hash_the_gateway_cannot_check_refuses() {
    let mut host = FakeHost::new();
    host.bcrypt_checker(|_, _| Err("not a bcrypt hash".into()));
    let mut p = auth(json!({
        "credentials": [{"username": "Aladdin", "password": "$2b$04$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}],
    }));
    host.header("authorization", ALADDIN);
    assert!(matches!(host.on_request(&mut p), Action::Respond(r) if r.status == 401));
}
