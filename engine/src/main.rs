//! The `corral` command.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if let Err(e) = cli::init_logging(&args.global) {
        eprintln!("corral: error: {e:#}");
        return ExitCode::from(1);
    }
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::debug!(error = ?e, "command failed");
            eprintln!("corral: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
