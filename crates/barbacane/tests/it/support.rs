//! Shared helpers: locating the binary and fixtures, running it with a bounded wait, a guard
//! that always kills spawned servers, and a minimal raw HTTP/1.1 client.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The `barbacane` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_barbacane");

/// `SOURCE_DATE_EPOCH` used wherever a reproducible build time is needed.
pub const EPOCH: &str = "1700000000";
/// `EPOCH` as RFC 3339.
pub const EPOCH_RFC3339: &str = "2023-11-14T22:13:20Z";

/// Longest time any short-lived command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A file under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// `examples/petstore/api.yaml`.
pub fn petstore() -> PathBuf {
    root().join("examples/petstore/api.yaml")
}

/// A command for the binary with a clean, deterministic environment.
pub fn barbacane() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("SOURCE_DATE_EPOCH")
        // Admin tokens only ever come from what a test sets explicitly.
        .env_remove("BARBACANE_ADMIN_TOKEN")
        .env_remove("BARBACANE_ADMIN_TOKENS_SECONDARY")
        // The default module cache lives under the target directory, not the user's home.
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .stdin(Stdio::null());
    cmd
}

/// What a finished command produced.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts exit code `expected`, printing both streams otherwise.
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "unexpected exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `cmd` to completion, failing the test if it takes longer than a minute.
#[track_caller]
pub fn run(cmd: &mut Command) -> Out {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn barbacane");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = match wait_exit(&mut child, COMMAND_TIMEOUT) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_reader.join().unwrap_or_default();
            panic!("command {cmd:?} did not exit within {COMMAND_TIMEOUT:?}\n--- stderr\n{stderr}");
        }
    };
    Out {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Runs the binary with `args` from the workspace root.
#[track_caller]
pub fn run_args<S: AsRef<OsStr>>(args: &[S]) -> Out {
    run(barbacane().current_dir(root()).args(args))
}

/// Polls `child` until it exits or `timeout` passes.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Compiles `specs` into `out` with `SOURCE_DATE_EPOCH` set, from `cwd`; asserts success.
#[track_caller]
pub fn compile_in<S: AsRef<OsStr>>(cwd: &Path, specs: &[S], out: &Path, extra: &[&str]) -> Out {
    let mut cmd = barbacane();
    cmd.current_dir(cwd)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("compile");
    for spec in specs {
        cmd.arg("--spec").arg(spec);
    }
    cmd.arg("--output").arg(out).args(extra);
    let result = run(&mut cmd);
    result.assert_code(0);
    result
}

/// Compiles the petstore example into `dir/petstore.bca`.
#[track_caller]
pub fn compile_petstore(dir: &Path) -> PathBuf {
    let out = dir.join("petstore.bca");
    compile_in(&root(), &[petstore()], &out, &[]);
    out
}

/// `barbacane inspect --json FILE`, parsed.
#[track_caller]
pub fn inspect_json(artifact: &Path) -> serde_json::Value {
    let out = run(barbacane().arg("inspect").arg("--json").arg(artifact));
    out.assert_code(0);
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("inspect --json is not JSON ({e}): {}", out.stdout))
}

/// The `artifact_hash` of an artifact, through `inspect --json`.
#[track_caller]
pub fn artifact_hash(artifact: &Path) -> String {
    inspect_json(artifact)["artifact_hash"]
        .as_str()
        .expect("artifact_hash is a string")
        .to_owned()
}

/// A loopback port nothing is listening on (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request over a fresh connection and reads the response to the end.
pub fn http(port: u16, method: &str, path: &str) -> std::io::Result<Response> {
    request(port, method, path, &[])
}

/// Sends one HTTP/1.1 request with extra `headers` to `127.0.0.1:port` (an empty body, with
/// `Content-Length: 0` for methods other than GET and HEAD).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    request_at(
        SocketAddr::from(([127, 0, 0, 1], port)),
        method,
        path,
        headers,
    )
}

/// [`request`] to any (loopback) address.
pub fn request_at(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if method != "GET" && method != "HEAD" {
        head.push_str("Content-Length: 0\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad response: {text:?}"),
        )
    };
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(bad)?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(bad());
    }
    let status = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// `GET path`.
pub fn get(port: u16, path: &str) -> std::io::Result<Response> {
    http(port, "GET", path)
}

/// How to start a `serve` process beyond its arguments (see [`Server::start_with`]).
#[derive(Debug, Clone)]
pub struct Launch {
    /// Extra environment variables of the child.
    pub env: Vec<(String, String)>,
    /// Host of the admin listener; a free port is picked and passed as `--admin-listen`.
    pub admin_host: String,
    /// `--log-level`.
    pub log_level: String,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            env: Vec::new(),
            admin_host: "127.0.0.1".into(),
            log_level: "info".into(),
        }
    }
}

impl Launch {
    /// Sets an environment variable on the child.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Binds the admin listener to `host` (e.g. `0.0.0.0`, `[::1]`).
    pub fn admin_host(mut self, host: &str) -> Self {
        self.admin_host = host.into();
        self
    }

    /// Sets `--log-level`.
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.into();
        self
    }
}

/// A running `serve` or `dev` process, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub port: u16,
    /// Where to reach the admin listener (only with [`Server::start_with`]).
    pub admin: Option<SocketAddr>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the binary with `args` (a subcommand and its flags), `--listen` on a free
    /// loopback port and info logging to a file, then waits until the health endpoint answers.
    /// If another process grabbed the port in between (exit 14), retries on a new port.
    #[track_caller]
    pub fn start<S: AsRef<OsStr>>(cwd: &Path, args: &[S]) -> Server {
        Server::spawn(cwd, args, None)
    }

    /// Like [`Server::start`] for `serve`, with the admin listener on a known free port (never
    /// the default 8081), extra environment variables and a log level; also waits for the
    /// admin health endpoint.
    #[track_caller]
    pub fn start_with<S: AsRef<OsStr>>(cwd: &Path, args: &[S], launch: &Launch) -> Server {
        Server::spawn(cwd, args, Some(launch))
    }

    #[track_caller]
    fn spawn<S: AsRef<OsStr>>(cwd: &Path, args: &[S], launch: Option<&Launch>) -> Server {
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let log = dir.path().join("stderr.log");
            let port = free_port();
            let mut command = barbacane();
            command
                .current_dir(cwd)
                .args(args)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"));
            let mut admin = None;
            if let Some(launch) = launch {
                let admin_port = free_port();
                let listen = format!("{}:{admin_port}", launch.admin_host);
                let bound: SocketAddr = listen.parse().expect("admin address");
                // Connect through loopback even when the listener binds every interface.
                let ip = if bound.ip().is_unspecified() {
                    std::net::IpAddr::from([127, 0, 0, 1])
                } else {
                    bound.ip()
                };
                admin = Some(SocketAddr::new(ip, admin_port));
                command.arg("--admin-listen").arg(listen);
                command.envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                command.args(["--log-level", launch.log_level.as_str()]);
            } else {
                // Tests run in parallel: never contend for the default admin port.
                if args
                    .first()
                    .is_some_and(|a| a.as_ref() == "serve" || a.as_ref() == "dev")
                {
                    command.args(["--admin-listen", "127.0.0.1:0"]);
                }
                command.args(["--log-level", "info"]);
            }
            let child = command
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("spawn barbacane");
            let mut server = Server {
                child,
                port,
                admin,
                log,
                _dir: dir,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(status) if status.code() == Some(14) => continue,
                Err(status) => panic!(
                    "server exited before becoming ready ({status})\n--- stderr\n{}",
                    server.stderr()
                ),
            }
        }
        panic!("could not bind a free port in three attempts");
    }

    /// Polls the health endpoint (200 x 50 ms); `Err` with the exit status if the process
    /// exits first, and a test failure if it never answers.
    #[track_caller]
    fn wait_ready(&mut self) -> Result<(), ExitStatus> {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(status);
            }
            // A TLS listener answers plaintext with 400 `tls-required`: listening too.
            let traffic = get(self.port, "/__barbacane/health")
                .is_ok_and(|r| r.status == 200 || r.body.contains("tls-required"));
            let admin = self.admin.is_none_or(|addr| {
                request_at(addr, "GET", "/_admin/health", &[]).is_ok_and(|r| r.status == 200)
            });
            if traffic && admin {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server never became ready on port {}\n--- stderr\n{}",
            self.port,
            self.stderr()
        );
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path`, failing the test on a connection error.
    #[track_caller]
    pub fn get(&self, path: &str) -> Response {
        get(self.port, path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n--- stderr\n{}", self.stderr()))
    }

    /// Sends SIGTERM through `kill -TERM <pid>`.
    #[track_caller]
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends `SIG<name>` through `kill -<name> <pid>`.
    #[track_caller]
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A request to the admin listener, failing the test on a connection error.
    #[track_caller]
    pub fn admin(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let addr = self.admin.expect("started with Server::start_with");
        request_at(addr, method, path, headers).unwrap_or_else(|e| {
            panic!(
                "{method} {path} (admin): {e}\n--- stderr\n{}",
                self.stderr()
            )
        })
    }

    /// A request to the admin listener with an optional raw `Authorization` value.
    #[track_caller]
    pub fn admin_as(&self, method: &str, path: &str, authorization: Option<&str>) -> Response {
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("Authorization", *a))
            .collect();
        self.admin(method, path, &headers)
    }

    /// `GET /_admin/provenance` with an optional bearer token, asserting 200; parsed.
    #[track_caller]
    pub fn provenance(&self, token: Option<&str>) -> serde_json::Value {
        let auth = token.map(|t| format!("Bearer {t}"));
        let r = self.admin_as("GET", "/_admin/provenance", auth.as_deref());
        assert_eq!(r.status, 200, "{r:?}\n--- stderr\n{}", self.stderr());
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("provenance JSON ({e}): {r:?}"))
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, timeout)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Polls `check` up to `tries` times, `every` apart; true as soon as it holds.
pub fn eventually(tries: usize, every: Duration, mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..tries {
        if check() {
            return true;
        }
        thread::sleep(every);
    }
    false
}

/// Writes a spec with one `GET route` answering 200 with `body` (JSON text) as `dir/name`.
pub fn one_route_spec(dir: &Path, name: &str, route: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let spec = format!(
        "openapi: 3.1.0\ninfo: {{title: T, version: \"1\"}}\npaths:\n  {route}:\n    get:\n      \
         x-barbacane-dispatch:\n        name: mock\n        config: {{status: 200, body: '{body}'}}\n      \
         responses: {{\"200\": {{description: ok}}}}\n"
    );
    std::fs::write(&path, spec).expect("write spec");
    path
}

/// Compiles a one-route spec (see [`one_route_spec`]) into `dir/<stem>.bca`.
#[track_caller]
pub fn one_route_artifact(
    dir: &Path,
    stem: &str,
    route: &str,
    body: &str,
    extra: &[&str],
) -> PathBuf {
    let spec = one_route_spec(dir, &format!("{stem}.yaml"), route, body);
    let out = dir.join(format!("{stem}.bca"));
    compile_in(dir, &[spec], &out, extra);
    out
}

/// Replaces `path` with `bytes` the way deploy tools do: write a temporary file, then rename.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("incoming");
    std::fs::write(&tmp, bytes).expect("write temporary file");
    std::fs::rename(&tmp, path).expect("rename over the artifact");
}

/// Parses a problem document, asserting its content type, status and `type`.
#[track_caller]
pub fn assert_problem(r: &Response, status: u16, kind: &str) -> serde_json::Value {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{r:?}"
    );
    let problem: serde_json::Value =
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("problem JSON ({e}): {r:?}"));
    assert_eq!(
        problem["type"],
        format!("urn:barbacane:error:{kind}"),
        "{problem}"
    );
    assert_eq!(problem["status"], status, "{problem}");
    problem
}

/// Whether `s` looks like the RFC 3339 UTC timestamps Barbacane writes (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}
