use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value, json};

/// SHA-256 of `abc` (FIPS 180-2, appendix B.1).
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

const CONTEXT_KEYS: [&str; 5] = [
    "auth.sub",
    "auth.consumer",
    "auth.name",
    "auth.scopes",
    "auth.method",
];

fn auth(config: Value) -> ApiKeyAuth {
    middleware_from(&config).unwrap()
}

/// Two literal keys, read from the default header.
fn two_keys() -> ApiKeyAuth {
    auth(json!({
        "keys": [
            {"key": "k-alice-0001", "id": "alice", "name": "Alice", "scopes": ["pets:read", "pets:write"]},
            {"key": "k-bob-0002", "id": "bob"},
        ],
    }))
}

/// Asserts the request was refused with the 401 and left no identity behind.
fn assert_unauthorized(host: &FakeHost, action: Action) {
    let Action::Respond(r) = action else {
        panic!("expected a 401, got {action:?}");
    };
    assert_eq!(r.status, 401);
    assert_eq!(host.response_status(), Some(401));
    assert_eq!(
        host.response_headers("www-authenticate"),
        vec![r#"ApiKey realm="api""#]
    );
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
            "detail": "The request needs a valid API key.",
        })
    );
    for key in CONTEXT_KEYS {
        assert_eq!(host.context_value(key), None, "{key}");
    }
}

/// The context values of an accepted request.
fn identity(host: &FakeHost) -> Vec<Option<String>> {
    CONTEXT_KEYS.iter().map(|k| host.context_value(k)).collect()
}

fn some(values: [&str; 5]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

// --- header --------------------------------------------------------------------------

#[test]
fn a_known_key_in_the_header_is_accepted_and_identified() {
    let mut p = two_keys();
    let mut host = FakeHost::new();
    host.header("x-api-key", "k-alice-0001");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(
        identity(&host),
        some(["alice", "alice", "Alice", "pets:read pets:write", "apikey"])
    );
    // Nothing is removed: the key goes on to the upstream.
    assert_eq!(host.request_headers("x-api-key"), vec!["k-alice-0001"]);
    assert_eq!(host.response_status(), None);

    // The second key: no name, no scopes.
    host.next_request();
    host.header("X-API-KEY", "k-bob-0002");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("bob"));
    assert_eq!(host.context_value("auth.consumer").as_deref(), Some("bob"));
    assert_eq!(host.context_value("auth.name"), None);
    assert_eq!(host.context_value("auth.scopes").as_deref(), Some(""));
    assert_eq!(host.context_value("auth.method").as_deref(), Some("apikey"));
}

#[test]
fn a_missing_empty_or_wrong_key_gets_the_same_401() {
    let mut p = two_keys();
    let mut host = FakeHost::new();
    let action = host.on_request(&mut p);
    assert_unauthorized(&host, action);

    for wrong in [
        "",
        "k-alice-000",
        "k-alice-00011",
        "K-ALICE-0001",
        " k-alice-0001",
        "k-bob-0002k-alice-0001",
    ] {
        host.next_request();
        host.header("x-api-key", wrong);
        let action = host.on_request(&mut p);
        assert_unauthorized(&host, action);
    }

    // A key in another header, or in the query, is not read.
    host.next_request();
    host.header("authorization", "k-alice-0001")
        .query("api_key=k-alice-0001");
    let action = host.on_request(&mut p);
    assert_unauthorized(&host, action);
}

#[test]
fn only_the_first_header_value_is_read() {
    let mut p = two_keys();
    let mut host = FakeHost::new();
    host.header("x-api-key", "k-bob-0002")
        .header("x-api-key", "wrong");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("bob"));

    host.next_request();
    host.header("x-api-key", "wrong")
        .header("x-api-key", "k-bob-0002");
    let action = host.on_request(&mut p);
    assert_unauthorized(&host, action);
}

#[test]
fn header_name_is_configurable_and_case_insensitive() {
    let mut p = auth(json!({"header_name": "Api-Token", "keys": [{"key": "abc", "id": "svc"}]}));
    let mut host = FakeHost::new();
    host.header("api-token", "abc");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    host.next_request();
    host.header("x-api-key", "abc");
    let action = host.on_request(&mut p);
    assert_unauthorized(&host, action);
}

#[test]
fn every_key_identifies_its_own_holder() {
    let keys: Vec<Value> = (0..20)
        .map(|i| json!({"key": format!("key-{i:02}"), "id": format!("id-{i:02}")}))
        .collect();
    let mut p = auth(json!({"keys": keys}));
    let mut host = FakeHost::new();
    for i in [0, 1, 7, 18, 19] {
        host.next_request();
        host.header("x-api-key", &format!("key-{i:02}"));
        assert_eq!(host.on_request(&mut p), Action::Continue);
        assert_eq!(host.context_value("auth.sub"), Some(format!("id-{i:02}")));
    }
}

// --- query ---------------------------------------------------------------------------

#[test]
fn a_key_in_the_query_is_percent_decoded() {
    let mut p = auth(json!({
        "key_location": "query",
        "keys": [
            {"key": "a+b/c=d", "id": "plus"},
            {"key": "caf\u{e9} key", "id": "cafe"},
        ],
    }));
    let cases: &[(&str, Option<&str>)] = &[
        ("api_key=a%2Bb%2Fc%3Dd", Some("plus")),
        ("api_key=a%2bb%2fc%3dd", Some("plus")),
        // `+` is not a space.
        ("api_key=a+b/c=d", Some("plus")),
        ("page=2&api_key=caf%C3%A9%20key&sort=name", Some("cafe")),
        // The parameter's name is decoded too.
        ("api%5Fkey=a%2Bb%2Fc%3Dd", Some("plus")),
        // The first occurrence counts.
        ("api_key=a%2Bb%2Fc%3Dd&api_key=nope", Some("plus")),
        ("api_key=nope&api_key=a%2Bb%2Fc%3Dd", None),
        ("api_key=&api_key=a%2Bb%2Fc%3Dd", None),
        ("api_key", None),
        ("api_key=", None),
        ("API_KEY=a%2Bb%2Fc%3Dd", None),
        ("xapi_key=a%2Bb%2Fc%3Dd", None),
        ("api_key=a%2Bb%2Fc%3Dd%", None),
        ("", None),
    ];
    let mut host = FakeHost::new();
    for (query, id) in cases {
        host.next_request();
        host.query(query);
        let action = host.on_request(&mut p);
        match id {
            Some(id) => {
                assert_eq!(action, Action::Continue, "{query}");
                assert_eq!(host.context_value("auth.sub").as_deref(), Some(*id));
                // The query string is left as it was.
                assert_eq!(host.request_query().as_deref(), Some(*query));
            }
            None => assert_unauthorized(&host, action),
        }
    }

    // No query at all; a key in the header is not read.
    host.next_request();
    host.header("x-api-key", "a+b/c=d");
    let action = host.on_request(&mut p);
    assert_unauthorized(&host, action);
}

#[test]
fn query_param_is_configurable() {
    let mut p = auth(json!({
        "key_location": "query",
        "query_param": "token",
        "keys": [{"key": "abc", "id": "svc"}],
    }));
    let mut host = FakeHost::new();
    host.query("token=abc");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    host.next_request();
    host.query("api_key=abc");
    let action = host.on_request(&mut p);
    assert_unauthorized(&host, action);
}

#[test]
fn percent_decoding_keeps_what_is_not_an_escape() {
    assert_eq!(percent_decode("a%41%4a%4A"), b"aAJJ");
    assert_eq!(percent_decode("%"), b"%");
    assert_eq!(percent_decode("%4"), b"%4");
    assert_eq!(percent_decode("%zz%41"), b"%zzA");
    assert_eq!(percent_decode("100%"), b"100%");
    assert_eq!(percent_decode("%FF%00"), [0xff, 0x00]);
    assert_eq!(percent_decode("a+b"), b"a+b");
}

// --- key forms -----------------------------------------------------------------------

#[test]
fn a_sha256_key_is_compared_by_digest() {
    let mut p = auth(json!({"keys": [{"key": format!("sha256:{SHA256_ABC}"), "id": "svc"}]}));
    let mut host = FakeHost::new();
    host.header("x-api-key", "abc");
    assert_eq!(host.on_request(&mut p), Action::Continue);
    assert_eq!(host.context_value("auth.sub").as_deref(), Some("svc"));
    // The digest itself is not a key.
    for wrong in [SHA256_ABC.to_owned(), format!("sha256:{SHA256_ABC}")] {
        host.next_request();
        host.header("x-api-key", &wrong);
        let action = host.on_request(&mut p);
        assert_unauthorized(&host, action);
    }
}

#[test]
fn secret_references_are_resolved_once_by_init() {
    let mut host = FakeHost::new();
    host.secret("env://PARTNER_KEY", "from-env")
        .secret("file:///run/secrets/ops-key", "from-file");
    let mut p = auth(json!({
        "keys": [
            {"key": "env://PARTNER_KEY", "id": "partner"},
            {"key": "file:///run/secrets/ops-key", "id": "ops"},
        ],
    }));
    // Rotated after `init`: this instance keeps what it resolved.
    host.secret("env://PARTNER_KEY", "rotated");
    for (key, id) in [("from-env", "partner"), ("from-file", "ops")] {
        host.next_request();
        host.header("x-api-key", key);
        assert_eq!(host.on_request(&mut p), Action::Continue);
        assert_eq!(host.context_value("auth.sub").as_deref(), Some(id));
    }
    for wrong in [
        "rotated",
        "env://PARTNER_KEY",
        "file:///run/secrets/ops-key",
    ] {
        host.next_request();
        host.header("x-api-key", wrong);
        let action = host.on_request(&mut p);
        assert_unauthorized(&host, action);
    }
    // A new instance reads the rotated value.
    let mut p = auth(json!({"keys": [{"key": "env://PARTNER_KEY", "id": "partner"}]}));
    host.next_request();
    host.header("x-api-key", "rotated");
    assert_eq!(host.on_request(&mut p), Action::Continue);
}

#[test]
fn an_unresolvable_reference_fails_init_naming_the_reference_only() {
    let mut host = FakeHost::new();
    host.secret("env://EMPTY_KEY", "");
    host.secret("env://OTHER_KEY", "s3cr3t-value");
    for (reference, needle) in [
        ("env://MISSING_KEY", "`env://MISSING_KEY` does not resolve"),
        (
            "file:///nowhere/key",
            "`file:///nowhere/key` does not resolve",
        ),
        (
            "env://EMPTY_KEY",
            "`env://EMPTY_KEY` resolves to an empty value",
        ),
    ] {
        let config = json!({
            "keys": [
                {"key": "env://OTHER_KEY", "id": "other"},
                {"key": reference, "id": "svc"},
            ],
        });
        let err = middleware_from::<ApiKeyAuth>(&config).unwrap_err();
        assert!(err.contains("keys[1] (id `svc`)"), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("s3cr3t-value"), "{err}");
    }
}

#[test]
fn literal_keys_are_kept_for_compatibility() {
    // Not a reference, not a digest: the key itself, whatever it looks like.
    let mut p = auth(json!({
        "keys": [
            {"key": "vault:/kv/key", "id": "a"},
            {"key": "SHA256:abc", "id": "b"},
            {"key": "env:/X", "id": "c"},
        ],
    }));
    let mut host = FakeHost::new();
    for (key, id) in [("vault:/kv/key", "a"), ("SHA256:abc", "b"), ("env:/X", "c")] {
        host.next_request();
        host.header("x-api-key", key);
        assert_eq!(host.on_request(&mut p), Action::Continue);
        assert_eq!(host.context_value("auth.sub").as_deref(), Some(id));
    }
}

#[test]
fn store_references_are_references_too() {
    let mut host = FakeHost::new();
    host.secret("vault://kv/app#key", "from-vault")
        .secret("aws-sm://prod/keys#ops", "from-sm")
        .secret("k8s://ns/keys/mobile", "from-k8s");
    let mut p = auth(json!({
        "keys": [
            {"key": "vault://kv/app#key", "id": "v"},
            {"key": "aws-sm://prod/keys#ops", "id": "a"},
            {"key": "k8s://ns/keys/mobile", "id": "k"},
        ],
    }));
    for (key, id) in [("from-vault", "v"), ("from-sm", "a"), ("from-k8s", "k")] {
        host.next_request();
        host.header("x-api-key", key);
        assert_eq!(host.on_request(&mut p), Action::Continue);
        assert_eq!(host.context_value("auth.sub").as_deref(), Some(id));
    }
    host.next_request();
    host.header("x-api-key", "vault://kv/app#key");
    assert_ne!(host.on_request(&mut p), Action::Continue);
}

// --- configuration -------------------------------------------------------------------

#[test]
fn defaults_apply() {
    let p = auth(json!({"keys": [{"key": "abc", "id": "svc"}]}));
    assert_eq!(p.key_location, "header");
    assert_eq!(p.header_name, "X-API-Key");
    assert_eq!(p.query_param, "api_key");
    assert_eq!(p.policy.location, Location::Header);
    assert_eq!(p.policy.header, "x-api-key");
    assert_eq!(p.policy.digests, vec![parse_digest(SHA256_ABC).unwrap()]);
    assert_eq!(
        p.policy.identities,
        vec![Identity {
            id: "svc".into(),
            name: None,
            scopes: String::new(),
        }]
    );
}

#[test]
fn debug_output_shows_no_key() {
    let p = auth(json!({"keys": [{"key": "literal-secret-key", "id": "svc"}]}));
    let debug = format!("{p:?}");
    assert!(debug.contains("svc"), "{debug}");
    assert!(!debug.contains("literal-secret-key"), "{debug}");
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    let key = |k: &str, id: &str| json!({"key": k, "id": id});
    for (config, needle) in [
        (json!({}), "missing field `keys`"),
        (json!({"keys": []}), "keys is empty"),
        (json!({"keys": [{"key": "abc"}]}), "missing field `id`"),
        (json!({"keys": [{"id": "svc"}]}), "missing field `key`"),
        (
            json!({"keys": [key("", "svc")]}),
            "keys[0] (id `svc`): the key is empty",
        ),
        (
            json!({"keys": [key("abc", "")]}),
            "keys[0]: the id is empty",
        ),
        (
            json!({"keys": [key("abc", "svc"), key("abd", "svc")]}),
            "keys[1]: the id `svc` is already the id of keys[0]",
        ),
        (
            json!({"keys": [key("abc", "a"), key("x", "b"), key(&format!("sha256:{SHA256_ABC}"), "c")]}),
            "keys[2] (id `c`) is the same key as keys[0] (id `a`)",
        ),
        (
            json!({"keys": [key(&format!("sha256:{}", &SHA256_ABC[1..]), "svc")]}),
            "keys[0] (id `svc`): a `sha256:` key must be followed",
        ),
        (
            json!({"keys": [key(&format!("sha256:{SHA256_ABC}0"), "svc")]}),
            "64 lowercase hex digits",
        ),
        (
            json!({"keys": [key(&format!("sha256:{}", SHA256_ABC.to_uppercase()), "svc")]}),
            "64 lowercase hex digits",
        ),
        (
            json!({"keys": [key(&format!("sha256:{}g", &SHA256_ABC[1..]), "svc")]}),
            "64 lowercase hex digits",
        ),
        (
            json!({"keys": [key("sha256:", "svc")]}),
            "64 lowercase hex digits",
        ),
        (
            json!({"keys": [{"key": "abc", "id": "svc", "scopes": ["a b"]}]}),
            "keys[0] (id `svc`): the scope `a b` is empty or contains whitespace",
        ),
        (
            json!({"keys": [{"key": "abc", "id": "svc", "scopes": [""]}]}),
            "the scope `` is empty",
        ),
        (
            json!({"keys": [{"key": "abc", "id": "svc", "role": "x"}]}),
            "unknown field `role`",
        ),
        (
            json!({"key_location": "cookie", "keys": [key("abc", "svc")]}),
            "key_location `cookie`: expected `header` or `query`",
        ),
        (
            json!({"key_location": "Header", "keys": [key("abc", "svc")]}),
            "key_location `Header`",
        ),
        (
            json!({"header_name": "x api key", "keys": [key("abc", "svc")]}),
            "header_name `x api key` is not a valid header name",
        ),
        (
            json!({"header_name": "", "keys": [key("abc", "svc")]}),
            "header_name `` is not a valid header name",
        ),
        (
            json!({"query_param": "", "keys": [key("abc", "svc")]}),
            "query_param is empty",
        ),
        (
            json!({"keys": [key("abc", "svc")], "realm": "x"}),
            "unknown field `realm`",
        ),
        (json!({"keys": "abc"}), "invalid configuration"),
    ] {
        let err = middleware_from::<ApiKeyAuth>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
        assert!(!err.contains(SHA256_ABC), "{config}: {err}");
    }
}

#[test]
fn digests_parse_from_lowercase_hex_only() {
    let digest = parse_digest(SHA256_ABC).unwrap();
    assert_eq!(digest, sha256(b"abc"));
    assert_eq!(digest[0], 0xba);
    assert_eq!(digest[31], 0xad);
    assert_eq!(parse_digest(&SHA256_ABC.to_uppercase()), None);
    assert_eq!(parse_digest(&SHA256_ABC[2..]), None);
    assert_eq!(parse_digest(&format!("{SHA256_ABC}00")), None);
    assert_eq!(parse_digest(&"é".repeat(32)), None);
    assert_eq!(
        sha256(b""),
        parse_digest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap()
    );
}
