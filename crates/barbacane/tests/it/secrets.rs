//! Secret references end to end (`docs/secrets.md`): a gateway whose `apikey-auth` keys
//! live in Vault and in AWS Secrets Manager (stand-ins speaking the real wire protocols,
//! `barbacane_test::secret_stores`), exit 13 for a reference that does not resolve, a
//! reload refused for one, and the values nowhere: logs, `inspect`, the artifact, problem
//! responses, provenance.

use std::path::{Path, PathBuf};

use barbacane_test::secret_stores::{
    AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY, SecretsManagerStandIn, VaultStandIn,
};

use crate::support::{
    Launch, Server, artifact_hash, assert_problem, barbacane, compile_in, free_port, replace_file,
    run,
};

const VAULT_TOKEN: &str = "s.stand-in-token";
const VAULT_VALUE: &str = "vk-7f3a9c1e-from-vault";
const SM_VALUE: &str = "sm-91b2d4e6-from-secrets-manager";

struct Stores {
    vault: VaultStandIn,
    sm: SecretsManagerStandIn,
}

fn stores() -> Stores {
    Stores {
        vault: VaultStandIn::start(
            VAULT_TOKEN,
            &[(
                "secret/gateway/keys",
                serde_json::json!({"partner": VAULT_VALUE}),
            )],
        ),
        sm: SecretsManagerStandIn::start(&[(
            "prod/api-keys",
            &serde_json::json!({"ops": SM_VALUE}).to_string(),
        )]),
    }
}

impl Stores {
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VAULT_ADDR", self.vault.url()),
            ("VAULT_TOKEN", VAULT_TOKEN.into()),
            ("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY.into()),
            ("AWS_REGION", AWS_REGION.into()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.sm.url()),
        ]
    }

    fn launch(&self) -> Launch {
        self.env()
            .into_iter()
            .fold(Launch::default().log_level("debug"), |l, (k, v)| {
                l.env(k, &v)
            })
    }
}

/// Compiles `GET /a` behind `apikey-auth` with the two keys `vault_ref` and `sm_ref`.
fn artifact(dir: &Path, stem: &str, vault_ref: &str, sm_ref: &str) -> PathBuf {
    let spec = dir.join(format!("{stem}.yaml"));
    std::fs::write(
        &spec,
        format!(
            "openapi: 3.1.0\ninfo: {{title: T, version: \"1\"}}\npaths:\n  /a:\n    get:\n      \
             x-barbacane-middlewares:\n        - name: apikey-auth\n          config:\n            \
             keys:\n              - {{key: '{vault_ref}', id: partner}}\n              \
             - {{key: '{sm_ref}', id: ops}}\n      \
             x-barbacane-dispatch:\n        name: mock\n        config: {{status: 200, body: '{{\"v\":\"{stem}\"}}'}}\n      \
             responses: {{\"200\": {{description: ok}}}}\n"
        ),
    )
    .expect("write spec");
    let out = dir.join(format!("{stem}.bca"));
    let compiled = compile_in(dir, &[&spec], &out, &[]);
    assert!(
        !compiled.stderr.contains("W1001"),
        "references are not literals: {}",
        compiled.stderr
    );
    out
}

const GOOD_VAULT: &str = "vault://secret/gateway/keys#partner";
const GOOD_SM: &str = "aws-sm://prod/api-keys#ops";

#[track_caller]
fn assert_hidden(what: &str, text: &str) {
    for value in [VAULT_VALUE, SM_VALUE, VAULT_TOKEN, AWS_SECRET_ACCESS_KEY] {
        assert!(
            !text.contains(value),
            "{what} shows a secret value:\n{text}"
        );
    }
}

#[test]
fn keys_from_vault_and_secrets_manager_authenticate_and_never_show() {
    let stores = stores();
    let dir = tempfile::tempdir().expect("tempdir");
    let bca = artifact(dir.path(), "live", GOOD_VAULT, GOOD_SM);
    let server = Server::start_with(
        dir.path(),
        &["serve", "--artifact", "live.bca"],
        &stores.launch(),
    );
    for (key, id) in [(VAULT_VALUE, "partner"), (SM_VALUE, "ops")] {
        let r = crate::support::request(server.port, "GET", "/a", &[("x-api-key", key)])
            .expect("GET /a");
        assert_eq!(r.status, 200, "{id}: {r:?}\n{}", server.stderr());
    }
    let refused = crate::support::request(server.port, "GET", "/a", &[("x-api-key", "nope")])
        .expect("GET /a");
    let problem = assert_problem(&refused, 401, "unauthorized");
    assert_hidden("the 401 problem", &format!("{refused:?} {problem}"));
    // The references are the configuration's, the reference-named keys are not keys.
    for reference in [GOOD_VAULT, GOOD_SM] {
        let r = crate::support::request(server.port, "GET", "/a", &[("x-api-key", reference)])
            .expect("GET /a");
        assert_eq!(r.status, 401, "{reference}");
    }
    // Resolved once at load: requests (and new pool instances) never reach the stores.
    assert_eq!(stores.vault.requests().len(), 1);
    assert_eq!(stores.sm.requests().len(), 1);

    assert_hidden("the provenance", &server.provenance(None).to_string());
    let logs = server.stderr();
    assert!(logs.contains("secrets_resolved"), "{logs}");
    assert_hidden("the logs", &logs);
    assert_hidden(
        "the artifact",
        &String::from_utf8_lossy(&std::fs::read(&bca).expect("read artifact")),
    );
    for args in [&["inspect"][..], &["inspect", "--json"]] {
        let out = run(barbacane().args(args).arg(&bca));
        out.assert_code(0);
        assert_hidden("inspect", &format!("{}{}", out.stdout, out.stderr));
    }
}

#[test]
fn an_unresolvable_reference_stops_startup_with_exit_13() {
    let stores = stores();
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = "vault://secret/gateway/keys#nobody";
    let bca = artifact(dir.path(), "bad", missing, GOOD_SM);
    let out = run(barbacane()
        .current_dir(dir.path())
        .envs(stores.env())
        .arg("serve")
        .arg("--artifact")
        .arg(&bca)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--admin-listen", "127.0.0.1:0"]));
    out.assert_code(13);
    assert!(
        out.stderr.contains(missing) && out.stderr.contains("no field `nobody`"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains(GOOD_SM),
        "only failures are named: {}",
        out.stderr
    );
    assert_hidden("the startup error", &out.stderr);

    // Without the store's settings, the reason names the missing variable.
    let out = run(barbacane()
        .current_dir(dir.path())
        .env_remove("VAULT_ADDR")
        .envs(stores.env().into_iter().filter(|(k, _)| *k != "VAULT_ADDR"))
        .args(["serve", "--artifact"])
        .arg(&bca)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--admin-listen", "127.0.0.1:0"]));
    out.assert_code(13);
    assert!(
        out.stderr.contains("VAULT_ADDR is not set"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_reload_with_an_unresolvable_reference_is_refused_and_the_old_keys_keep_working() {
    let stores = stores();
    let dir = tempfile::tempdir().expect("tempdir");
    let good = artifact(dir.path(), "live", GOOD_VAULT, GOOD_SM);
    let gone = "aws-sm://prod/rotated-away#ops";
    let bad = artifact(dir.path(), "next", GOOD_VAULT, gone);
    let server = Server::start_with(
        dir.path(),
        &["serve", "--artifact", "live.bca"],
        &stores.launch(),
    );
    let hash = artifact_hash(&good);
    replace_file(&good, &std::fs::read(&bad).expect("read"));
    let r = server.admin("POST", "/_admin/reload", &[]);
    let problem = assert_problem(&r, 422, "reload-rejected");
    assert!(problem.to_string().contains(gone), "{problem}");
    assert_hidden("the reload problem", &problem.to_string());
    let doc = server.provenance(None);
    assert_eq!(doc["artifact_hash"], hash.as_str(), "{doc}");
    let error = doc["last_reload_error"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains(gone) && error.contains("ResourceNotFoundException"),
        "{doc}"
    );
    for key in [VAULT_VALUE, SM_VALUE] {
        let r = crate::support::request(server.port, "GET", "/a", &[("x-api-key", key)])
            .expect("GET /a");
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body, r#"{"v":"live"}"#);
    }
    assert_hidden("the logs", &server.stderr());
}

#[test]
fn the_tls_key_can_live_in_vault() {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).expect("params");
    let cert = params.self_signed(&key).expect("certificate");
    let key_pem = key.serialize_pem();
    let vault = VaultStandIn::start(
        VAULT_TOKEN,
        &[("secret/tls", serde_json::json!({"key": key_pem}))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write cert");
    let artifact = crate::support::compile_petstore(dir.path());
    let launch = Launch::default()
        .env("VAULT_ADDR", &vault.url())
        .env("VAULT_TOKEN", VAULT_TOKEN);
    let server = Server::start_with(
        dir.path(),
        &[
            "serve",
            "--artifact",
            artifact.to_str().expect("UTF-8 path"),
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "vault://secret/tls#key",
        ],
        &launch,
    );
    let status = crate::tls::https_get(server.port, cert.der()).expect("HTTPS");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let key_body = key_pem.lines().nth(1).expect("a base64 line");
    assert!(!server.stderr().contains(key_body), "{}", server.stderr());
    drop(server);

    let out = run(barbacane()
        .current_dir(dir.path())
        .env("VAULT_ADDR", vault.url())
        .env("VAULT_TOKEN", VAULT_TOKEN)
        .arg("serve")
        .arg("--artifact")
        .arg(&artifact)
        .args([
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "vault://secret/tls#nothing",
        ])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--admin-listen", "127.0.0.1:0"]));
    out.assert_code(13);
    assert!(
        out.stderr.contains("vault://secret/tls#nothing"),
        "{}",
        out.stderr
    );
}

#[test]
fn dev_exits_13_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("api.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.1.0\ninfo: {title: T, version: \"1\"}\npaths:\n  /a:\n    get:\n      \
         x-barbacane-middlewares:\n        - name: apikey-auth\n          config:\n            \
         keys: [{key: 'env://BARBACANE_TEST_UNSET_KEY', id: a}]\n      \
         x-barbacane-dispatch: {name: mock, config: {status: 200}}\n      \
         responses: {\"200\": {description: ok}}\n",
    )
    .expect("write spec");
    let out = run(barbacane()
        .current_dir(dir.path())
        .env_remove("BARBACANE_TEST_UNSET_KEY")
        .args(["dev", "--spec", "api.yaml"])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--admin-listen", "127.0.0.1:0"]));
    out.assert_code(13);
    assert!(
        out.stderr.contains("env://BARBACANE_TEST_UNSET_KEY") && out.stderr.contains("not set"),
        "{}",
        out.stderr
    );
}
