//! The native `http-upstream` dispatcher against real upstream servers on loopback:
//! proxying rules, HTTP/2, TLS and mTLS, faults and the circuit breaker, streaming, and the
//! compile-time checks of its configuration.

mod config;
mod faults;
mod overload;
mod proxy;
mod servers;
mod streaming;
mod tls;

use barbacane_proxy::ServeConfig;
use barbacane_test::{TestGateway, compile_yaml_with};

/// A spec whose operations are `(method, path template, http-upstream config as YAML flow)`.
/// Path parameters are declared as required strings.
pub fn spec(ops: &[(&str, &str, &str)]) -> String {
    let mut out = String::from("openapi: 3.1.0\ninfo: {title: Upstream, version: \"1\"}\npaths:\n");
    let mut paths: Vec<&str> = Vec::new();
    for (_, path, _) in ops {
        if !paths.contains(path) {
            paths.push(path);
        }
    }
    for path in paths {
        out.push_str(&format!("  {path}:\n"));
        let params: Vec<String> = path
            .split('{')
            .skip(1)
            .filter_map(|s| {
                s.split_once('}')
                    .map(|(name, _)| name.trim_end_matches('+').to_owned())
            })
            .collect();
        if !params.is_empty() {
            out.push_str("    parameters:\n");
            for name in params {
                out.push_str(&format!(
                    "      - {{name: {name}, in: path, required: true, schema: {{type: string}}}}\n"
                ));
            }
        }
        for (method, _, config) in ops.iter().filter(|(_, p, _)| *p == path) {
            out.push_str(&format!(
                "    {method}:\n      x-barbacane-dispatch: {{name: http-upstream, config: {config}}}\n      responses: {{\"200\": {{description: ok}}}}\n"
            ));
        }
    }
    out
}

/// `{url: "<url>"}` plus `extra` settings (YAML flow, without braces).
pub fn cfg(url: &str, extra: &str) -> String {
    if extra.is_empty() {
        format!("{{url: \"{url}\"}}")
    } else {
        format!("{{url: \"{url}\", {extra}}}")
    }
}

/// Compiles with `allow_plaintext_upstream` (the test upstreams are mostly `http://`).
pub fn compile(spec: &str) -> Vec<u8> {
    compile_yaml_with(&[("api.yaml", spec)], |o| o.allow_plaintext_upstream = true)
        .unwrap_or_else(|d| panic!("spec does not compile: {d:#?}\n{spec}"))
}

/// A gateway serving `spec` with default settings.
pub async fn gateway(spec: &str) -> TestGateway {
    gateway_with(spec, ServeConfig::default()).await
}

/// A gateway serving `spec` with `config`.
pub async fn gateway_with(spec: &str, config: ServeConfig) -> TestGateway {
    TestGateway::from_artifact(&compile(spec), config).await
}
