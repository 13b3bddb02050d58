//! Compile-time checks of the `http-upstream` configuration: E1031 for plaintext upstreams
//! without the flag, E1014 for invalid settings; and whatever compiles must also load.

use barbacane_proxy::Snapshot;
use barbacane_test::{Code, Diagnostic, compile_yaml, compile_yaml_with};

use super::spec;

const POINTER: &str = "/paths/~1things/get/x-barbacane-dispatch/config";

fn one_op(config: &str) -> String {
    spec(&[("get", "/things", config)])
}

/// The single error diagnostic of compiling `config` (plaintext allowed).
fn error_of(config: &str) -> Diagnostic {
    let spec = one_op(config);
    let diags = compile_yaml_with(&[("api.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true
    })
    .err()
    .unwrap_or_else(|| panic!("`{config}` compiled"));
    assert_eq!(diags.len(), 1, "{diags:#?}");
    diags.into_iter().next().expect("one diagnostic")
}

#[test]
fn plaintext_upstreams_need_the_flag() {
    let plain = one_op(r#"{url: "http://127.0.0.1:9/api"}"#);
    let diags = compile_yaml(&[("api.yaml", &plain)]).expect_err("http:// refused by default");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, Code::E1031);
    assert_eq!(diags[0].json_pointer, format!("{POINTER}/url"));
    assert!(
        diags[0].message.contains("http://127.0.0.1:9/api"),
        "{diags:#?}"
    );
    compile_yaml_with(&[("api.yaml", &plain)], |o| {
        o.allow_plaintext_upstream = true
    })
    .expect("accepted with allow_plaintext_upstream");
    compile_yaml(&[(
        "api.yaml",
        &one_op(r#"{url: "https://api.example.com/v1"}"#),
    )])
    .expect("https:// needs no flag");
}

#[test]
fn invalid_settings_are_e1014() {
    let cases: &[(&str, &str)] = &[
        // Missing or malformed url.
        ("{}", ""),
        ("{timeout: 5}", ""),
        ("{url: 42}", ""),
        (r#"{url: "ftp://files.example.com"}"#, "/url"),
        (r#"{url: "https://"}"#, "/url"),
        (r#"{url: "api.example.com"}"#, "/url"),
        (r#"{url: "https://api.example.com/?q=1"}"#, "/url"),
        (r#"{url: "https://api.example.com/#top"}"#, "/url"),
        (r#"{url: "https://api example.com"}"#, "/url"),
        // Unknown key.
        (r#"{url: "https://a.example", retries: 3}"#, "/retries"),
        // Timeout.
        (r#"{url: "https://a.example", timeout: 0}"#, "/timeout"),
        (r#"{url: "https://a.example", timeout: -1}"#, "/timeout"),
        (r#"{url: "https://a.example", timeout: "5s"}"#, "/timeout"),
        // Path and http2.
        (r#"{url: "https://a.example", path: "users/{id}"}"#, "/path"),
        (r#"{url: "https://a.example", path: "/users/{id"}"#, "/path"),
        (r#"{url: "https://a.example", path: 7}"#, "/path"),
        (r#"{url: "https://a.example", http2: "yes"}"#, "/http2"),
        // TLS.
        (
            r#"{url: "https://a.example", tls: {client_cert: /etc/c.pem}}"#,
            "/tls",
        ),
        (
            r#"{url: "https://a.example", tls: {client_key: /etc/k.pem}}"#,
            "/tls",
        ),
        (
            r#"{url: "https://a.example", tls: {cert: /etc/c.pem}}"#,
            "/tls",
        ),
        (r#"{url: "https://a.example", tls: {ca: 5}}"#, "/tls"),
        (r#"{url: "https://a.example", tls: /etc/ca.pem}"#, "/tls"),
        // Circuit breaker.
        (
            r#"{url: "https://a.example", circuit_breaker: {threshold: 0}}"#,
            "/circuit_breaker",
        ),
        (
            r#"{url: "https://a.example", circuit_breaker: {threshold: 1.5}}"#,
            "/circuit_breaker",
        ),
        (
            r#"{url: "https://a.example", circuit_breaker: {window: 0}}"#,
            "/circuit_breaker",
        ),
        (
            r#"{url: "https://a.example", circuit_breaker: {window: "30s"}}"#,
            "/circuit_breaker",
        ),
        (
            r#"{url: "https://a.example", circuit_breaker: {limit: 5}}"#,
            "/circuit_breaker",
        ),
        (
            r#"{url: "https://a.example", circuit_breaker: 5}"#,
            "/circuit_breaker",
        ),
    ];
    for (config, at) in cases {
        let d = error_of(config);
        assert_eq!(d.code, Code::E1014, "`{config}`: {d:#?}");
        assert_eq!(
            d.json_pointer,
            format!("{POINTER}{at}"),
            "`{config}`: {d:#?}"
        );
        assert!(!d.hint.is_empty(), "`{config}`: {d:#?}");
    }
}

#[test]
fn valid_settings_compile_and_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = [
        r#"{url: "https://a.example"}"#.to_owned(),
        r#"{url: "https://a.example:8443/base/", path: "/x/{id}", timeout: 0.5, http2: true}"#
            .to_owned(),
        r#"{url: "http://127.0.0.1:9", circuit_breaker: {threshold: 3, window: 0.5}}"#.to_owned(),
        r#"{url: "http://127.0.0.1:9", circuit_breaker: {}}"#.to_owned(),
        format!(
            r#"{{url: "https://a.example", tls: {{ca: "{}"}}}}"#,
            write_ca(dir.path())
        ),
    ];
    for config in configs {
        let spec = spec(&[("get", "/things/{id}", &config)]);
        let artifact = compile_yaml_with(&[("api.yaml", &spec)], |o| {
            o.allow_plaintext_upstream = true
        })
        .unwrap_or_else(|d| panic!("`{config}`: {d:#?}"));
        Snapshot::from_bytes(&artifact).unwrap_or_else(|e| panic!("`{config}`: {e}"));
    }
}

/// A CA certificate PEM written into `dir`; returns its path.
fn write_ca(dir: &std::path::Path) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("certificate");
    let path = dir.join("ca.pem");
    std::fs::write(&path, cert.pem()).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

/// Compiled artifacts must load: either the compiler says E1014, or the data plane accepts
/// the configuration (a panic counts as neither).
fn assert_rejected_or_loads(config: &str) {
    let spec = spec(&[("get", "/things/{id}", config)]);
    let Ok(artifact) = compile_yaml_with(&[("api.yaml", &spec)], |o| {
        o.allow_plaintext_upstream = true
    }) else {
        return;
    };
    let loaded = std::panic::catch_unwind(|| Snapshot::from_bytes(&artifact).map(|_| ()));
    match loaded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("`{config}` compiles but does not load: {e}"),
        Err(_) => panic!("`{config}` compiles but loading it panics"),
    }
}

#[test]
fn huge_durations_are_refused_at_compile_time() {
    assert_rejected_or_loads(r#"{url: "https://a.example", timeout: 1e300}"#);
    assert_rejected_or_loads(r#"{url: "https://a.example", circuit_breaker: {window: 1e300}}"#);
}

#[test]
fn malformed_path_templates_are_refused_at_compile_time() {
    assert_rejected_or_loads(r#"{url: "https://a.example", path: "/x/{}"}"#);
    assert_rejected_or_loads(r#"{url: "https://a.example", path: "/x/}id{"}"#);
}

#[test]
fn path_template_parameters_must_exist() {
    let d = error_of(r#"{url: "https://a.example", path: "/users/{nope}"}"#);
    assert_eq!(d.code, Code::E1014);
    assert_eq!(d.json_pointer, format!("{POINTER}/path"));
}
