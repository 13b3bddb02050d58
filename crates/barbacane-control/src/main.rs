//! `barbacane-control`: parses the command line and runs it.

use clap::Parser;

fn main() {
    let cli = barbacane_control::cli::Cli::parse();
    std::process::exit(barbacane_control::cli::run(cli));
}
