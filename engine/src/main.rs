//! The `corral` command.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// The command line. Out of line: clap's locals stay off `main`'s frame, under which a
/// monitor lives for as long as its container runs.
#[inline(never)]
fn parse() -> cli::Cli {
    cli::Cli::parse()
}

fn main() -> ExitCode {
    // `corral execute` clones init into a new network namespace, the costliest part of the
    // clone: one is made now, on the other CPU, while the command parses and plans.
    if cli::subcommand(std::env::args_os()).is_some_and(|c| c == "execute") {
        corral::pipeline::netns::make_ahead();
    }
    let args = parse();
    if let Err(e) = cli::logging::init(&args.global) {
        eprintln!("corral: error: {e:#}");
        return ExitCode::from(1);
    }
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        // A reader that went away (`corral ls | head`) is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::debug!(error = ?e, "command failed");
            eprintln!("corral: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
