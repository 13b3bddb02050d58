use barbacane_compiler::{LocalFs, Severity, validate};

use super::{EXIT_DIAGNOSTICS, compile_options};
use crate::cli::SpecArgs;
use crate::report;

pub fn run(args: SpecArgs) -> i32 {
    let options = match compile_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return barbacane_proxy::exit_code::USAGE;
        }
    };
    let diags = validate(&LocalFs, &options);
    report::diagnostics(&diags, args.json);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        EXIT_DIAGNOSTICS
    } else {
        0
    }
}
