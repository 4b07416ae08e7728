//! Dispatching the subcommands.

use std::io::Write;

use anyhow::Context;
use corral::attach::{self, AttachOptions};
use corral::config;
use corral::container::Corral;
use corral::monitor::{self, Mode};
use corral::templates::{self, Source};

use super::{Cli, Command, PlanFormat, console, info, lifecycle, ls, net, plugins};

/// Runs the command line and returns the exit status.
///
/// The commands that become a container's monitor run apart from the others: a monitor
/// lives on under the frames that led to it, resident for as long as its container runs,
/// and the frame that dispatches every other command is a large one (6 KiB).
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Execute { .. } | Command::Start { .. } | Command::MonitorDaemon { .. } => {
            run_monitor(cli)
        }
        _ => run_other(cli),
    }
}

/// The global config and paths the command line names; boxed and out of line, to keep
/// both off the frame a monitor lives under.
#[inline(never)]
fn corral(cli: &Cli) -> anyhow::Result<Box<Corral>> {
    let config_given = std::env::var_os("CORRAL_CONFIG").is_some()
        || cli.global.config != std::path::Path::new(super::DEFAULT_CONFIG);
    let global = config::load_global(&cli.global.config, config_given)?;
    Ok(Box::new(Corral::new(
        global,
        cli.global.root.clone(),
        cli.global.run_dir.clone(),
    )))
}

/// `execute`, `start` and the monitor daemon.
#[inline(never)]
fn run_monitor(cli: Cli) -> anyhow::Result<u8> {
    let corral = corral(&cli)?;
    match cli.command {
        Command::Execute { name, command } => {
            let container = corral.container(name.get()?)?;
            match monitor::run(&container, Mode::Execute { args: command }, None) {
                Ok(code) => Ok(u8::try_from(code).unwrap_or(255)),
                Err(e) => {
                    eprintln!("corral: error: {}", corral::error_chain(&e));
                    Ok(e.execute_status())
                }
            }
        }
        Command::Start {
            name,
            daemon: _,
            foreground,
        } => {
            let container = corral.container(name.get()?)?;
            lifecycle::start(&container, foreground)?;
            Ok(0)
        }
        Command::MonitorDaemon { name } => {
            let container = corral.container(&name)?;
            lifecycle::monitor_daemon(&container)?;
            Ok(0)
        }
        _ => run_other(cli),
    }
}

/// Every other command.
#[inline(never)]
fn run_other(cli: Cli) -> anyhow::Result<u8> {
    let corral = corral(&cli)?;
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
        Command::Ls {
            fancy,
            fancy_format,
            running,
            stopped,
            frozen,
            groups,
            json,
        } => {
            let filter = ls::Filter {
                running,
                stopped,
                frozen,
                groups,
            };
            ls::run(
                &corral,
                &mut stdout,
                &filter,
                fancy || !fancy_format.is_empty(),
                &fancy_format,
                json,
            )?;
        }
        Command::Plan {
            name,
            format,
            command,
        } => {
            let container = corral.container(name.get()?)?;
            let plan = container.plan(&command)?;
            match format {
                PlanFormat::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &plan)?;
                    writeln!(stdout)?;
                }
                PlanFormat::Toml => {
                    let text =
                        toml::to_string_pretty(&plan).context("cannot print the plan as TOML")?;
                    write!(stdout, "{text}")?;
                }
            }
        }
        Command::Stop {
            name,
            timeout,
            kill,
            reboot,
        } => {
            let container = corral.container(name.get()?)?;
            return lifecycle::stop(&container, timeout, kill, reboot);
        }
        Command::Info {
            name,
            no_humanize,
            json,
        } => {
            let container = corral.container(name.get()?)?;
            info::run(&container, &mut stdout, !no_humanize, json)?;
        }
        Command::Attach {
            name,
            keep_env,
            set_var,
            command,
        } => {
            let container = corral.container(name.get()?)?;
            drop(stdout);
            let options = AttachOptions {
                command,
                keep_env,
                set_vars: set_var,
                ..AttachOptions::default()
            };
            let code = attach::attach(&container, &options)?;
            return Ok(u8::try_from(code).unwrap_or(255));
        }
        Command::Console { name, tty } => {
            let container = corral.container(name.get()?)?;
            drop(stdout);
            console::run(&container, tty)?;
        }
        Command::Freeze { name } => lifecycle::freeze(&corral.container(name.get()?)?, true)?,
        Command::Unfreeze { name } => lifecycle::freeze(&corral.container(name.get()?)?, false)?,
        Command::Wait {
            name,
            state,
            timeout,
        } => {
            let container = corral.container(name.get()?)?;
            return lifecycle::wait(&container, &state, timeout);
        }
        Command::Monitor { name, json } => {
            lifecycle::watch_states(&corral, &mut stdout, name.as_deref(), json)?;
        }
        Command::Autostart {
            groups,
            shutdown,
            kill,
            list,
        } => {
            lifecycle::autostart(&corral, &mut stdout, &groups, shutdown, kill, list)?;
        }
        Command::Cgroup { name, args } => {
            let (name, rest) = match name {
                Some(name) => (name, &args[..]),
                None => (args[0].clone(), &args[1..]),
            };
            let container = corral.container(&name)?;
            let (key, value) = match rest {
                [key] => (key, None),
                [key, value] => (key, Some(value.as_str())),
                _ => anyhow::bail!("usage: corral cgroup [-n] NAME KEY [VALUE]"),
            };
            if let Some(text) = lifecycle::cgroup(&container, key, value)? {
                writeln!(stdout, "{text}")?;
            }
        }
        Command::Net { action } => net::run(&corral, &action, &mut stdout)?,
        Command::Plugins => plugins::list(&corral, &mut stdout)?,
        Command::NetSupervise { dir } => corral::net::dnsmasq::supervise(&dir)?,
        Command::Execute { .. } | Command::Start { .. } | Command::MonitorDaemon { .. } => {
            return run_monitor(cli);
        }
    }
    Ok(0)
}
