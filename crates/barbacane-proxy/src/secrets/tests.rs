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

mod stores {
    //! Vault and Secrets Manager through their stand-ins (`barbacane_test::secret_stores`),
    //! which speak the real wire protocols.
    use super::*;
    use barbacane_test::secret_stores::{
        AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY, SecretsManagerStandIn, VaultStandIn,
    };

    fn vault_settings(vault: &VaultStandIn, token: &str) -> Settings {
        Settings {
            vault_addr: Some(vault.url()),
            vault_token: Some(Zeroizing::new(token.into())),
            vault_namespace: Some("team-a".into()),
            ..settings(PathBuf::from("/nonexistent"))
        }
    }

    fn aws_settings(sm: &SecretsManagerStandIn, secret: &str) -> Settings {
        Settings {
            aws_credentials: Some(sigv4::Credentials {
                access_key_id: AWS_ACCESS_KEY_ID.into(),
                secret_access_key: Zeroizing::new(secret.into()),
                session_token: None,
            }),
            aws_region: Some(AWS_REGION.into()),
            aws_endpoint: Some(sm.url()),
            ..settings(PathBuf::from("/nonexistent"))
        }
    }

    fn one(settings: &Settings, reference: &str) -> Result<Vec<u8>, String> {
        block(resolve_with(
            settings,
            BTreeSet::from([reference.to_owned()]),
        ))
        .map(|s| s.get(reference).unwrap().expose().to_vec())
        .map_err(|e| e.to_string())
    }

    #[test]
    fn vault_kv2_fields_resolve_with_the_token() {
        let vault = VaultStandIn::start(
            "s.test-token",
            &[(
                "secret/team/app",
                serde_json::json!({"password": "vault-pw-1", "port": 5432}),
            )],
        );
        let ok = vault_settings(&vault, "s.test-token");
        assert_eq!(
            one(&ok, "vault://secret/team/app#password").unwrap(),
            b"vault-pw-1"
        );
        assert_eq!(one(&ok, "vault://secret/team/app#port").unwrap(), b"5432");
        let seen = vault.requests();
        assert_eq!(seen[0].target, "/v1/secret/data/team/app");
        assert_eq!(seen[0].headers["x-vault-namespace"], "team-a");

        let missing_key = one(&ok, "vault://secret/team/app#user").unwrap_err();
        assert!(
            missing_key.contains("vault://secret/team/app#user")
                && missing_key.contains("no field `user`"),
            "{missing_key}"
        );
        let missing = one(&ok, "vault://secret/team/gone#password").unwrap_err();
        assert!(missing.contains("404"), "{missing}");
        let refused = one(
            &vault_settings(&vault, "s.wrong"),
            "vault://secret/team/app#password",
        )
        .unwrap_err();
        assert!(refused.contains("403"), "{refused}");
        assert!(
            !refused.contains("vault-pw-1") && !refused.contains("s.wrong"),
            "{refused}"
        );
    }

    #[test]
    fn secrets_manager_answers_signed_requests_only() {
        let sm = SecretsManagerStandIn::start(&[
            ("prod/db", r#"{"username":"app","password":"sm-pw-2"}"#),
            ("plain", "sm-plain-3"),
        ]);
        let ok = aws_settings(&sm, AWS_SECRET_ACCESS_KEY);
        assert_eq!(one(&ok, "aws-sm://prod/db#password").unwrap(), b"sm-pw-2");
        assert_eq!(one(&ok, "aws-sm://plain").unwrap(), b"sm-plain-3");
        let seen = &sm.requests()[0];
        assert_eq!(
            seen.headers["x-amz-target"],
            "secretsmanager.GetSecretValue"
        );
        assert_eq!(&seen.body[..], br#"{"SecretId":"prod/db"}"#);

        let not_json = one(&ok, "aws-sm://plain#password").unwrap_err();
        assert!(
            not_json.contains("not JSON") && !not_json.contains("sm-plain-3"),
            "{not_json}"
        );
        let unknown = one(&ok, "aws-sm://nope").unwrap_err();
        assert!(unknown.contains("ResourceNotFoundException"), "{unknown}");
        let forged = one(&aws_settings(&sm, "not-the-key"), "aws-sm://plain").unwrap_err();
        assert!(forged.contains("InvalidSignatureException"), "{forged}");
    }

    #[test]
    fn a_store_that_never_answers_times_out() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let settings = Settings {
            vault_addr: Some(format!("http://{}", silent.local_addr().unwrap())),
            vault_token: Some(Zeroizing::new("t".into())),
            timeout: Duration::from_millis(300),
            ..settings(PathBuf::from("/nonexistent"))
        };
        let err = one(&settings, "vault://secret/app#k").unwrap_err();
        assert!(err.contains("vault://secret/app#k"), "{err}");
    }
}
