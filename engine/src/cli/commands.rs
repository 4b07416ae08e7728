//! What each subcommand does.

use std::io::Write;

use anyhow::Context;
use corral::config;
use corral::container::Corral;
use corral::pipeline;
use corral::templates::{self, Source};
use serde_json::json;

use super::{Cli, Command, PlanFormat};

/// Runs the command line and returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let global_required = std::env::var_os("CORRAL_CONFIG").is_some()
        || cli.global.config != std::path::Path::new("/etc/corral/corral.toml");
    let global = config::load_global(&cli.global.config, global_required)?;
    let corral = Corral::new(global, cli.global.root, cli.global.run_dir);
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Create {
            name,
            template,
            rootfs,
            args,
        } => {
            let container = corral.container(name.get()?)?;
            let source = match (template.as_str(), rootfs) {
                ("none", rootfs) => Source::Existing(rootfs),
                (_, Some(_)) => anyhow::bail!("--rootfs goes with -t none"),
                (t, None) => Source::Template(t.to_owned()),
            };
            let progress = |step: &str| eprintln!("corral: {}: {step}", container.name());
            templates::create(&container, &source, &args, &progress)?;
            writeln!(stdout, "Created container {}", container.name())?;
        }
        Command::Destroy { name, force } => {
            let container = corral.container(name.get()?)?;
            container.destroy(force)?;
            writeln!(stdout, "Destroyed container {}", container.name())?;
        }
        Command::Ls { json } => {
            let names = corral.list()?;
            if json {
                let list: Vec<_> = names
                    .iter()
                    .map(|n| {
                        corral
                            .container(n)
                            .map(|c| json!({ "name": n, "state": c.state() }))
                    })
                    .collect::<Result<_, _>>()?;
                serde_json::to_writer_pretty(&mut stdout, &list)?;
                writeln!(stdout)?;
            } else {
                for name in names {
                    writeln!(stdout, "{name}")?;
                }
            }
        }
        Command::Execute { name, command } => {
            let container = corral.container(name.get()?)?;
            drop(stdout);
            let code = pipeline::execute(&container, &command)?;
            return Ok(u8::try_from(code).unwrap_or(255));
        }
        Command::Plan {
            name,
            format,
            command,
        } => {
            let container = corral.container(name.get()?)?;
            let plan = container.plan(None, &command)?;
            match format {
                PlanFormat::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &plan)?;
                    writeln!(stdout)?;
                }
                PlanFormat::Toml => {
                    write!(
                        stdout,
                        "{}",
                        toml::to_string_pretty(&plan).context("cannot print the plan as TOML")?
                    )?;
                }
            }
        }
    }
    Ok(0)
}
