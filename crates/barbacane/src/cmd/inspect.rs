use barbacane_artifact::{Artifact, CompiledConfig, CONFIG_MEMBER};
use barbacane_proxy::exit_code;

use crate::cli::InspectArgs;

pub fn run(args: InspectArgs) -> i32 {
    let bytes = match std::fs::read(&args.artifact) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.artifact.display());
            return exit_code::ARTIFACT_INVALID;
        }
    };
    let artifact = match Artifact::from_bytes(&bytes) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {} is invalid or has been tampered with: {e}", args.artifact.display());
            return exit_code::ARTIFACT_INVALID;
        }
    };
    let header = artifact.header();
    if args.json {
        match serde_json::to_string_pretty(header) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
        return 0;
    }
    let config: CompiledConfig = match artifact.member_json(CONFIG_MEMBER) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::ARTIFACT_INVALID;
        }
    };
    println!("artifact:          {}", args.artifact.display());
    println!("format_version:    {}", header.format_version);
    println!("artifact_hash:     {}", header.artifact_hash);
    println!("build_timestamp:   {}", header.build_timestamp);
    println!("compiler_version:  {}", header.compiler_version);
    println!("provenance_commit: {}", header.provenance_commit.as_deref().unwrap_or("-"));
    println!("provenance_source: {}", header.provenance_source.as_deref().unwrap_or("-"));
    for (k, v) in &header.metadata {
        println!("metadata:          {k}={v}");
    }
    println!("\ninputs ({}):", header.inputs.len());
    for input in &header.inputs {
        println!("  {:<10} {:<40} {}", input.kind, input.name, input.sha256);
    }
    println!("\nroutes ({}):", config.operations.len());
    for op in &config.operations {
        let chain: Vec<&str> = op.middlewares.iter().map(|m| m.name.as_str()).collect();
        println!(
            "  {:<7} {:<40} -> {}{}{}",
            op.method,
            op.path,
            op.dispatch.name,
            if chain.is_empty() { String::new() } else { format!("  [{}]", chain.join(" > ")) },
            if op.deprecated { "  (deprecated)" } else { "" }
        );
    }
    println!("\nmembers ({}):", header.members.len());
    for m in &header.members {
        println!("  {:<50} {:>9} B  {}", m.name, m.size, m.sha256);
    }
    0
}
