//! Test support: an isolated Postgres database per test, the router driven with `oneshot`,
//! and request helpers.

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use barbacane_control::db::{self, PoolConfig};
use barbacane_control::routes;
use barbacane_control::state::{AppState, StateConfig};
use barbacane_control::storage::PgArtifactStore;
use barbacane_control::worker::Workers;
use barbacane_posture::{Allowlist, Posture, Tokens};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The server holding the test databases (`postgres` database of a trust-auth Postgres).
pub fn admin_url() -> String {
    std::env::var("BARBACANE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and dropped (with its connections) when dropped.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let name = format!("bbc_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_pool().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let base = admin_url();
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("bad admin url {base}"),
        };
        TestDb { name, url }
    }

    /// A migrated pool on this database.
    pub async fn pool(&self) -> PgPool {
        let pool = db::pool(&self.url, &PoolConfig::default()).expect("pool");
        db::migrate(&pool).await.expect("migrate");
        pool
    }

    /// Drops the database now (terminating its connections).
    pub async fn drop_now(&self) {
        drop_database(&self.name).await;
    }
}

pub async fn admin_pool() -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url())
        .await
        .expect("connect to the test Postgres (set BARBACANE_TEST_DATABASE_URL)")
}

async fn drop_database(name: &str) {
    let admin = admin_pool().await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    admin.close().await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside a test's runtime: use a private one on another thread.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&name));
            }
        })
        .join();
    }
}

/// Options of a test app.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub tokens: Vec<&'static str>,
    pub allow: Vec<&'static str>,
    pub peer: SocketAddr,
    pub max_upload_bytes: usize,
    pub workers: usize,
    pub heartbeat: std::time::Duration,
    /// The compile workers' `--signing-key`.
    pub signing_key: Option<Arc<barbacane_artifact::PrivateKey>>,
    /// How long an upload waits for a spec-check slot (503 `busy` after).
    pub spec_check_wait: Duration,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            tokens: vec![],
            allow: vec![],
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
            max_upload_bytes: 1024 * 1024,
            workers: 2,
            heartbeat: std::time::Duration::from_secs(30),
            signing_key: None,
            spec_check_wait: barbacane_control::state::SPEC_CHECK_WAIT,
        }
    }
}

/// The router on a fresh database, with workers running.
#[derive(Debug)]
pub struct TestApp {
    pub db: TestDb,
    pub pool: PgPool,
    pub router: Router,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with(AppOptions::default()).await
    }

    pub async fn with(options: AppOptions) -> TestApp {
        let db = TestDb::new().await;
        let pool = db.pool().await;
        Self::on(db, pool, options)
    }

    /// An app over an existing database and pool.
    pub fn on(db: TestDb, pool: PgPool, options: AppOptions) -> TestApp {
        let store = Arc::new(PgArtifactStore::new(pool.clone()));
        let wake = Arc::new(Notify::new());
        let state = AppState::new(
            pool.clone(),
            store.clone(),
            StateConfig {
                posture: Posture {
                    tokens: Tokens::from_values(options.tokens.iter().copied()),
                    allowlist: Allowlist::parse(options.allow.iter().copied()).unwrap(),
                },
                max_upload_bytes: options.max_upload_bytes,
                heartbeat: options.heartbeat,
                scheme: "http",
                spec_check_wait: options.spec_check_wait,
            },
            wake.clone(),
        );
        let (shutdown, rx) = watch::channel(false);
        let workers = if options.workers > 0 {
            Workers {
                pool: pool.clone(),
                store,
                wake,
                owner: uuid::Uuid::new_v4(),
                lease: barbacane_control::worker::DEFAULT_LEASE,
                signing_key: options.signing_key.clone(),
            }
            .spawn(options.workers, rx)
        } else {
            vec![]
        };
        let router = routes::router(state.clone()).layer(MockConnectInfo(options.peer));
        TestApp {
            db,
            pool,
            router,
            state,
            shutdown,
            workers,
        }
    }

    /// Serves the router on a real loopback socket (for WebSocket clients and the CLI); the
    /// API is still reachable in process.
    pub async fn listen(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        addr
    }

    pub async fn stop_workers(&mut self) {
        let _ = self.shutdown.send(true);
        for w in self.workers.drain(..) {
            let _ = w.await;
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(req(Method::GET, path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(req(Method::DELETE, path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Reply {
        self.send(
            req(Method::POST, path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    pub async fn post_empty(&self, path: &str) -> Reply {
        self.send(req(Method::POST, path).body(Body::empty()).unwrap())
            .await
    }

    /// `POST /projects` and returns the id.
    pub async fn project(&self, name: &str) -> String {
        let r = self
            .post_json("/projects", serde_json::json!({ "name": name }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Uploads a YAML spec; returns the reply.
    pub async fn upload_yaml(&self, project: &str, name: &str, text: &str) -> Reply {
        self.send(
            req(
                Method::POST,
                &format!("/projects/{project}/specs?name={name}"),
            )
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(text.to_owned()))
            .unwrap(),
        )
        .await
    }

    /// Uploads a YAML spec that must be accepted; returns its id.
    pub async fn spec(&self, project: &str, name: &str, text: &str) -> String {
        let r = self.upload_yaml(project, name, text).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Waits until a compilation has finished; returns it.
    pub async fn wait_compilation(&self, id: &str) -> Value {
        for _ in 0..600 {
            let r = self.get(&format!("/compilations/{id}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let c = r.json();
            if c["status"] == "succeeded" || c["status"] == "failed" {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("compilation {id} did not finish");
    }

    /// Compiles a spec and waits; returns the finished compilation.
    pub async fn compile(&self, spec: &str) -> Value {
        let r = self.post_empty(&format!("/specs/{spec}/compile")).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        self.wait_compilation(&id).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

pub fn req(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(path)
}

/// A collected response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status and type name.
    pub fn assert_problem(&self, status: u16, name: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let body = self.json();
        assert_eq!(
            body["type"],
            format!("urn:barbacane:error:{name}"),
            "{body}"
        );
        assert_eq!(body["status"], status);
        body
    }
}

/// The repository's `examples/petstore/api.yaml`.
pub fn petstore() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/petstore/api.yaml"
    ))
    .unwrap()
}

/// A small valid spec whose mock answers `body`.
pub fn mini_spec(path: &str, body: &str) -> String {
    format!(
        "openapi: 3.1.0\ninfo: {{title: mini, version: '1'}}\npaths:\n  {path}:\n    get:\n      \
         x-barbacane-dispatch: {{name: mock, config: {{status: 200, body: '{body}'}}}}\n      \
         responses: {{'200': {{description: ok}}}}\n"
    )
}

/// A gateway serving a locally compiled artifact whose `/hello` answers `body`, connected to
/// the control plane at `addr` as `name`.
pub async fn connected_gateway(
    addr: std::net::SocketAddr,
    key: &str,
    name: &str,
    body: &str,
) -> (
    barbacane_test::TestGateway,
    std::sync::Arc<barbacane_proxy::connected::Status>,
) {
    let artifact =
        barbacane_test::compile_yaml(&[("api.yaml", &mini_spec("/hello", body))]).unwrap();
    let gw = barbacane_test::TestGateway::from_artifact(&artifact, Default::default()).await;
    let status = barbacane_proxy::connected::spawn(
        barbacane_proxy::connected::ConnectConfig {
            url: format!("http://{addr}"),
            project_id: None,
            api_key: key.to_owned(),
            name: name.to_owned(),
            labels: Default::default(),
            load: Default::default(),
            ca: None,
        },
        gw.gateway().clone(),
        Default::default(),
    )
    .unwrap();
    for _ in 0..200 {
        if status.get().state == "connected" {
            return (gw, status);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{name} never connected: {:?}", status.get());
}
