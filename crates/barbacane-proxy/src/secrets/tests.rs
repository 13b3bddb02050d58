use super::*;

fn settings(k8s_root: PathBuf) -> Settings {
    Settings {
        vault_addr: None,
        vault_token: None,
        vault_namespace: None,
        vault_cacert: None,
        aws_credentials: None,
        aws_region: None,
        aws_endpoint: None,
        k8s_root,
        timeout: Duration::from_secs(2),
    }
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn local_references_resolve_and_failures_name_the_reference_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "file-value-1\r\n").unwrap();
    let k8s = dir.path().join("k8s/payments/api-keys");
    std::fs::create_dir_all(&k8s).unwrap();
    std::fs::write(k8s.join("partner"), "k8s-value-2").unwrap();
    let file_ref = format!("file://{}/token", dir.path().display());
    let refs = BTreeSet::from([
        file_ref.clone(),
        "env://PATH".to_owned(),
        "k8s://payments/api-keys/partner".to_owned(),
    ]);
    let secrets = block(resolve_with(&settings(dir.path().join("k8s")), refs)).unwrap();
    let get = |r: &str| secrets.get(r).map(|v| v.expose().to_vec());
    assert_eq!(get(&file_ref).as_deref(), Some(&b"file-value-1"[..]));
    assert_eq!(
        get("k8s://payments/api-keys/partner").as_deref(),
        Some(&b"k8s-value-2"[..])
    );
    assert_eq!(
        get("env://PATH"),
        Some(std::env::var("PATH").unwrap().into_bytes())
    );

    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let bad = BTreeSet::from([
        "env://BARBACANE_SURELY_UNSET_VARIABLE".to_owned(),
        format!("file://{}/missing", dir.path().display()),
        format!("file://{}/empty", dir.path().display()),
        "k8s://payments/api-keys/other".to_owned(),
        "vault://secret/app".to_owned(),
        "vault://secret/app#key".to_owned(),
        file_ref.clone(),
    ]);
    let errors = block(resolve_with(&settings(dir.path().join("k8s")), bad))
        .unwrap_err()
        .0;
    let reasons: HashMap<&str, &str> = errors
        .iter()
        .map(|e| (e.reference.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(errors.len(), 6, "{errors:?}");
    assert!(reasons["env://BARBACANE_SURELY_UNSET_VARIABLE"].contains("not set"));
    assert!(reasons[format!("file://{}/empty", dir.path().display()).as_str()].contains("empty"));
    assert!(reasons["k8s://payments/api-keys/other"].contains("api-keys"));
    assert!(reasons["vault://secret/app"].contains("#key"));
    assert!(reasons["vault://secret/app#key"].contains("VAULT_ADDR"));
    let all = SecretErrors(errors).to_string();
    assert!(!all.contains("file-value-1"), "{all}");
}

#[test]
fn every_reference_of_every_plugin_configuration_is_collected() {
    let config: CompiledConfig = serde_json::from_value(serde_json::json!({
        "operations": [{
            "spec": "a.yaml", "pointer": "/paths/~1a/get", "method": "GET", "path": "/a",
            "parameters": [],
            "middlewares": [{"name": "apikey-auth", "config": {"keys": [
                {"key": "vault://secret/app#k", "id": "a"},
                {"key": "literal", "id": "b"},
                {"key": "sha256:00", "id": "c"}
            ]}}],
            "dispatch": {"name": "lambda", "config": {"nested": {"list": ["aws-sm://db#pw", 3]}}}
        }]
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        collect(&config).into_iter().collect::<Vec<_>>(),
        ["aws-sm://db#pw", "vault://secret/app#k"]
    );
}
