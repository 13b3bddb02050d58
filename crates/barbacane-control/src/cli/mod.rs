//! The `barbacane-control` command line: `serve`, and client subcommands that talk to a
//! running control plane's API (`--server`, token from `BARBACANE_CONTROL_ADMIN_TOKEN`).

mod api_key;
mod artifact;
mod client;
mod compile;
mod drift;
mod fleet;
mod output;
mod plugin;
mod project;
mod serve;
mod spec;

use clap::{Args, Parser, Subcommand};

pub use client::{CliError, Client};
pub use serve::ServeArgs;

/// Exit codes (see `docs/control-plane.md`).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Invalid command line (clap's own code for the errors it finds).
    pub const USAGE: i32 = 2;
    /// The API answered an error, or a compilation failed.
    pub const FAILED: i32 = 1;
    /// Invalid configuration (a bad CIDR, DATABASE_URL or flag value), or a bad local file.
    pub const CONFIG: i32 = 10;
    /// The listen address cannot be bound.
    pub const BIND: i32 = 14;
    /// Non-loopback listen address without a token.
    pub const POSTURE: i32 = 15;
    /// Postgres unreachable at start, or the migrations failed.
    pub const DATABASE: i32 = 20;
    /// The server cannot be reached (client commands).
    pub const UNREACHABLE: i32 = 21;
    /// `drift status --exit-code`: drift is present.
    pub const DRIFT: i32 = 2;
}

/// The control plane: REST API, compile workers and plugin registry, and a client for them.
#[derive(Debug, Parser)]
#[command(name = "barbacane-control", version, about, after_help = ENVIRONMENT)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The environment, listed under every `--help` that uses it.
const ENVIRONMENT: &str = "\
Environment:
  BARBACANE_CONTROL_ADMIN_TOKEN  The admin token: `serve` requires it on a non-loopback
                                 --listen; client commands send it as a bearer token
  DATABASE_URL                   `serve`: the Postgres URL (same as --database-url)
  BARBACANE_CONTROL_SERVER       Client commands: the server URL (same as --server)";

/// What client subcommands read from the environment.
const CLIENT_ENVIRONMENT: &str = "\
Environment:
  BARBACANE_CONTROL_ADMIN_TOKEN  The admin token, sent as `Authorization: Bearer`
  BARBACANE_CONTROL_SERVER       The server URL (same as --server)
  BARBACANE_CONTROL_CA           A CA (PEM) to trust for an https:// server (same as --ca-cert)";

/// Options of every client subcommand.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The control plane's URL. The admin token is read from BARBACANE_CONTROL_ADMIN_TOKEN.
    #[arg(
        long,
        global = true,
        env = "BARBACANE_CONTROL_SERVER",
        default_value = "http://127.0.0.1:9090"
    )]
    pub server: String,
    /// For an https:// server: trust only this CA (PEM) [default: the system's roots].
    #[arg(long, global = true, env = "BARBACANE_CONTROL_CA", value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control-plane server.
    #[command(after_help = serve::ENVIRONMENT)]
    Serve(ServeArgs),
    /// Projects.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Project {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: project::ProjectCmd,
    },
    /// API keys of a project (for data planes).
    #[command(after_help = CLIENT_ENVIRONMENT)]
    ApiKey {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: api_key::ApiKeyCmd,
    },
    /// Drift: each node's sync and health, findings and their history.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Drift {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: drift::DriftCmd,
    },
    /// Data planes: register standalone nodes for the drift engine to observe; list nodes.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    DataPlane {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: fleet::DataPlaneCmd,
    },
    /// Known-good: bless what a project's nodes should run.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    KnownGood {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: fleet::KnownGoodCmd,
    },
    /// Webhooks: signed deliveries of drift and remediation events.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Webhook {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: fleet::WebhookCmd,
    },
    /// Specs and their revisions.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Spec {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: spec::SpecCmd,
    },
    /// Compile a spec (or a project) on the server.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Compile {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to compile.
        #[command(flatten)]
        args: compile::CompileArgs,
    },
    /// Compilations: status and diagnostics.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Compilation {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: compile::CompilationCmd,
    },
    /// Artifacts.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Artifact {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: artifact::ArtifactCmd,
    },
    /// The plugin registry.
    #[command(after_help = CLIENT_ENVIRONMENT)]
    Plugin {
        /// Client options.
        #[command(flatten)]
        client: ClientArgs,
        /// What to do.
        #[command(subcommand)]
        cmd: plugin::PluginCmd,
    },
}

/// What a client subcommand needs.
#[derive(Debug)]
pub struct Ctx {
    client: Client,
    json: bool,
}

/// Runs a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> i32 {
    let (client_args, command) = match cli.command {
        Command::Serve(args) => return serve::run(args),
        Command::Project { client, cmd } => (client, ClientCommand::Project(cmd)),
        Command::ApiKey { client, cmd } => (client, ClientCommand::ApiKey(cmd)),
        Command::Drift { client, cmd } => (client, ClientCommand::Drift(cmd)),
        Command::DataPlane { client, cmd } => (client, ClientCommand::DataPlane(cmd)),
        Command::KnownGood { client, cmd } => (client, ClientCommand::KnownGood(cmd)),
        Command::Webhook { client, cmd } => (client, ClientCommand::Webhook(cmd)),
        Command::Spec { client, cmd } => (client, ClientCommand::Spec(cmd)),
        Command::Compile { client, args } => (client, ClientCommand::Compile(args)),
        Command::Compilation { client, cmd } => (client, ClientCommand::Compilation(cmd)),
        Command::Artifact { client, cmd } => (client, ClientCommand::Artifact(cmd)),
        Command::Plugin { client, cmd } => (client, ClientCommand::Plugin(cmd)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::CONFIG;
        }
    };
    let client = match Client::new(&client_args.server, client_args.ca_cert.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    let ctx = Ctx {
        client,
        json: client_args.json,
    };
    // `drift status --exit-code` speaks terraform's dialect: 0, 2 for drift, 1 for any error.
    let detailed = matches!(
        command,
        ClientCommand::Drift(drift::DriftCmd::Status {
            exit_code: true,
            ..
        })
    );
    let result = runtime.block_on(async {
        match command {
            ClientCommand::Project(cmd) => project::run(&ctx, cmd).await,
            ClientCommand::ApiKey(cmd) => api_key::run(&ctx, cmd).await,
            ClientCommand::Drift(cmd) => drift::run(&ctx, cmd).await,
            ClientCommand::DataPlane(cmd) => fleet::data_plane(&ctx, cmd).await,
            ClientCommand::KnownGood(cmd) => fleet::known_good(&ctx, cmd).await,
            ClientCommand::Webhook(cmd) => fleet::webhook(&ctx, cmd).await,
            ClientCommand::Spec(cmd) => spec::run(&ctx, cmd).await,
            ClientCommand::Compile(args) => compile::run(&ctx, args).await,
            ClientCommand::Compilation(cmd) => compile::show(&ctx, cmd).await,
            ClientCommand::Artifact(cmd) => artifact::run(&ctx, cmd).await,
            ClientCommand::Plugin(cmd) => plugin::run(&ctx, cmd).await,
        }
    });
    match result {
        Ok(()) => exit::OK,
        Err(CliError::DriftPresent) => exit::DRIFT,
        Err(e) if detailed => {
            eprintln!("error: {e}");
            exit::FAILED
        }
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                CliError::Unreachable { .. } => exit::UNREACHABLE,
                CliError::Usage(_) => exit::CONFIG,
                CliError::Api { .. } | CliError::CompilationFailed | CliError::TimedOut(_) => {
                    exit::FAILED
                }
                CliError::DriftPresent => exit::DRIFT,
            }
        }
    }
}

/// A client subcommand, separated from its shared options.
enum ClientCommand {
    Project(project::ProjectCmd),
    ApiKey(api_key::ApiKeyCmd),
    Drift(drift::DriftCmd),
    DataPlane(fleet::DataPlaneCmd),
    KnownGood(fleet::KnownGoodCmd),
    Webhook(fleet::WebhookCmd),
    Spec(spec::SpecCmd),
    Compile(compile::CompileArgs),
    Compilation(compile::CompilationCmd),
    Artifact(artifact::ArtifactCmd),
    Plugin(plugin::PluginCmd),
}
