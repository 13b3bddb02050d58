//! `barbacane`: the compiler CLI and the data plane in one binary. This file only wires.

mod cli;
mod cmd;
mod report;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // Held until `main` returns: dropping it flushes the log lines still queued.
    let _logs = cmd::init_tracing(cli.log_level.as_deref(), cli.log_format);
    let code = match cli.command {
        cli::Command::Compile(args) => cmd::compile::run(args),
        cli::Command::Validate(args) => cmd::validate::run(args),
        cli::Command::Inspect(args) => cmd::inspect::run(args),
        cli::Command::Serve(args) => cmd::serve::run(args),
        cli::Command::Dev(args) => cmd::dev::run(args),
        cli::Command::Keygen(args) => cmd::keys::keygen(args),
        cli::Command::Verify(args) => cmd::keys::verify(args),
        cli::Command::Sbom(args) => cmd::evidence::sbom(args),
        cli::Command::OciLabels(args) => cmd::evidence::oci_labels(args),
        cli::Command::OciLayout(args) => cmd::evidence::oci_layout(args),
    };
    barbacane_proxy::access_log::flush();
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
