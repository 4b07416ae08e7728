//! The command line: one `corral` binary with LXC-style subcommands.

mod commands;

use std::fs::OpenOptions;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use corral::pipeline::PipelineError;

pub use commands::run;

/// corral: a Linux container manager. Every container runs through one pipeline of stages
/// (namespaces, mounts, network, security, cgroups) that plugins and scripts can extend.
#[derive(Debug, Parser)]
#[command(
    name = "corral",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory of container configs and root filesystems [default: /var/lib/corral]
    #[arg(long, global = true, env = "CORRAL_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Directory of runtime files: locks and state [default: /run/corral]
    #[arg(long, global = true, env = "CORRAL_RUN_DIR", value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// The global config file
    #[arg(
        long,
        global = true,
        env = "CORRAL_CONFIG",
        value_name = "FILE",
        default_value = "/etc/corral/corral.toml"
    )]
    pub config: PathBuf,
    /// Log level: error, warn, info, debug or trace (or a tracing filter)
    #[arg(
        long,
        global = true,
        env = "CORRAL_LOG",
        value_name = "LEVEL",
        default_value = "warn"
    )]
    pub log_level: String,
    /// Write logs to this file instead of standard error
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// The container a command acts on: `-n NAME` or the first positional argument.
#[derive(Debug, Args)]
pub struct NameArg {
    /// The container's name
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub flag: Option<String>,
    /// The container's name (instead of -n)
    #[arg(value_name = "NAME", conflicts_with = "flag")]
    pub positional: Option<String>,
}

impl NameArg {
    /// The name, whichever way it was given.
    pub fn get(&self) -> anyhow::Result<&str> {
        self.flag
            .as_deref()
            .or(self.positional.as_deref())
            .context("no container named: give it as -n NAME or as the first argument")
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a template
    #[command(
        after_help = "Examples:\n  corral create -t busybox -n box\n  corral create -t none -n mine --rootfs /srv/rootfs"
    )]
    Create {
        #[command(flatten)]
        name: NameArg,
        /// The template: busybox, or none for a config only
        #[arg(short = 't', long, value_name = "TEMPLATE")]
        template: String,
        /// With -t none: an existing directory to use as the rootfs
        #[arg(long, value_name = "DIR")]
        rootfs: Option<PathBuf>,
        /// Arguments for the template
        #[arg(last = true, value_name = "TEMPLATE-ARGS")]
        args: Vec<String>,
    },
    /// Destroy a container: its config and its rootfs
    Destroy {
        #[command(flatten)]
        name: NameArg,
        /// Kill the container first if it is running
        #[arg(short, long)]
        force: bool,
    },
    /// List containers
    Ls {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a command in a container in the foreground, through the whole pipeline
    #[command(
        after_help = "The exit status is the command's, or 128+N when signal N ended it;\n125 when corral failed, 126 when the command cannot run, 127 when it was not found.\n\nExample:\n  corral execute -n box -- /bin/sh -c 'echo hi'"
    )]
    Execute {
        #[command(flatten)]
        name: NameArg,
        /// The command and its arguments [default: the config's init.cmd]
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Print the full plan of every stage, without starting anything
    Plan {
        #[command(flatten)]
        name: NameArg,
        /// Output format
        #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
        format: PlanFormat,
        /// The command the plan runs [default: the config's init.cmd]
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

/// How `corral plan` prints.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// JSON
    Json,
    /// TOML
    Toml,
}

/// Sets up tracing from `--log-level` and `--log-file`.
pub fn init_logging(args: &GlobalArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("bad --log-level `{}`", args.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match &args.log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

/// The exit status for a failed command: 125/126/127 for `execute`, as `docker run` and
/// `env` use them, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<PipelineError>() {
        Some(PipelineError::Exec(e)) if e.errno == libc::ENOENT => 127,
        Some(PipelineError::Exec(_)) => 126,
        Some(_) => 125,
        None => 1,
    }
}
