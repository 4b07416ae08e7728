//! The command line: one `corral` binary with LXC-style subcommands.

mod commands;
mod console;
mod info;
mod lifecycle;
pub mod logging;
mod ls;
mod net;
mod plugins;

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

pub use commands::run;

/// Where the global config is read from unless `--config` says otherwise.
pub const DEFAULT_CONFIG: &str = corral::config::DEFAULT_GLOBAL_CONFIG;

/// The program's name, in usage lines.
const NAME: &str = "corral";

/// Help text wraps at the terminal's width, up to this.
const MAX_TERM_WIDTH: usize = 100;

/// corral: a Linux container manager. Every container runs through one pipeline of stages
/// (namespaces, mounts, network, security, cgroups) that plugins and scripts can extend.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    propagate_version = true,
    max_term_width = MAX_TERM_WIDTH
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line; on a mistake, or for `--help` and `--version`, prints what
    /// clap prints and exits, as [`Parser::parse`] does.
    ///
    /// Before it parses, clap gives every command the global options and the version (the
    /// commands' own arguments are built only for the one run, see [`Command`]). A command
    /// line that names a command is parsed against a tree that holds that command alone,
    /// which parses and reports alike: 0.06 ms less per corral command, measured. A line
    /// without one (`corral --help`), `help` and a mistaken name get the whole tree.
    pub fn from_command_line() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        let matches = Cli::command_for(&args).get_matches_from(args);
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The command tree to parse `args` against.
    fn command_for(args: &[OsString]) -> clap::Command {
        let full = Cli::command();
        let Some(only) = subcommand(args.iter().cloned())
            .and_then(|name| full.find_subcommand(name))
            .cloned()
        else {
            return full;
        };
        // What `Cli`'s attributes give the whole tree (the test below compares the two).
        // (The top level's own help text shows only in `corral --help`, which gets the whole
        // tree.)
        clap::Command::new(NAME)
            .version(env!("CARGO_PKG_VERSION"))
            .propagate_version(full.is_propagate_version_set())
            .max_term_width(MAX_TERM_WIDTH)
            .args(full.get_arguments().cloned())
            .subcommand(only)
    }
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
        default_value = DEFAULT_CONFIG
    )]
    pub config: PathBuf,
    /// Log level: off, error, warn, info, debug or trace; per module too: info,corral::net=debug
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

// The container a command acts on: `-n NAME` or the first positional argument. Not a doc
// comment: clap would make it the help text of every command that has the argument, since
// each builds its arguments after its own help is set (see `Command`).
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

/// The subcommands. Each one's arguments are built only when it is the one run: building
/// them all took a third of a millisecond of every command's start.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
    #[command(
        after_help = "Columns for --fancy-format: NAME STATE AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED PID RAM SWAP INTERFACE"
    )]
    Ls {
        /// A table with a line per container (LXC's lxc-ls -f)
        #[arg(short = 'f', long)]
        fancy: bool,
        /// The table's columns, comma-separated
        #[arg(short = 'F', long, value_name = "COLUMNS", value_delimiter = ',')]
        fancy_format: Vec<String>,
        /// Only running containers
        #[arg(long)]
        running: bool,
        /// Only stopped containers
        #[arg(long)]
        stopped: bool,
        /// Only frozen containers
        #[arg(long)]
        frozen: bool,
        /// Only containers in these groups (comma-separated)
        #[arg(short = 'g', long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Start a system container: its own init runs as PID 1 under a monitor
    #[command(
        after_help = "Returns once the container is RUNNING, or says which stage failed and why."
    )]
    Start {
        #[command(flatten)]
        name: NameArg,
        /// Run in the background (the default)
        #[arg(short = 'd', long, conflicts_with = "foreground")]
        daemon: bool,
        /// Run in the foreground, with the console on this terminal
        #[arg(short = 'F', long)]
        foreground: bool,
    },
    /// Stop a container: a clean shutdown with its halt signal, then SIGKILL
    #[command(after_help = "Exit status 2 when the container is not running.")]
    Stop {
        #[command(flatten)]
        name: NameArg,
        /// Seconds to wait for a clean shutdown before killing (-1: forever)
        #[arg(short = 't', long, default_value_t = 60, allow_negative_numbers = true)]
        timeout: i64,
        /// Kill at once
        #[arg(short = 'k', long, conflicts_with = "reboot")]
        kill: bool,
        /// Reboot: the container comes back up
        #[arg(short = 'r', long)]
        reboot: bool,
    },
    /// Show a container's state, PID, addresses and resource use
    Info {
        #[command(flatten)]
        name: NameArg,
        /// Raw numbers instead of human-readable sizes
        #[arg(short = 'H', long)]
        no_humanize: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside a running container (its shell by default)
    Attach {
        #[command(flatten)]
        name: NameArg,
        /// Keep this environment instead of a clean one
        #[arg(long)]
        keep_env: bool,
        /// Set a variable, as NAME=VALUE (repeatable)
        #[arg(short = 'v', long = "set-var", value_name = "NAME=VALUE")]
        set_var: Vec<String>,
        /// The command and its arguments [default: the container's shell]
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Attach to a container's console or one of its ttys (Ctrl+a q detaches)
    Console {
        #[command(flatten)]
        name: NameArg,
        /// The tty: 0 for the console
        #[arg(short = 't', long, default_value_t = 0)]
        tty: u32,
    },
    /// Freeze every process of a container
    Freeze {
        #[command(flatten)]
        name: NameArg,
    },
    /// Thaw a frozen container
    Unfreeze {
        #[command(flatten)]
        name: NameArg,
    },
    /// Wait for a container to reach a state
    Wait {
        #[command(flatten)]
        name: NameArg,
        /// The states to wait for, separated by `|` (RUNNING, STOPPED, FROZEN...)
        #[arg(short = 's', long)]
        state: String,
        /// Seconds to wait at most (-1: forever)
        #[arg(short = 't', long, default_value_t = -1, allow_negative_numbers = true)]
        timeout: i64,
    },
    /// Print the state changes of one container, or of all
    Monitor {
        /// Only this container
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        name: Option<String>,
        /// Print JSON lines
        #[arg(long)]
        json: bool,
    },
    /// Start (or stop) the containers marked for autostart, by order and group
    Autostart {
        /// Only these groups (comma-separated)
        #[arg(short = 'g', long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Stop them instead, in reverse order
        #[arg(short = 's', long)]
        shutdown: bool,
        /// Kill them instead
        #[arg(short = 'k', long, conflicts_with = "shutdown")]
        kill: bool,
        /// List what would be done
        #[arg(short = 'L', long)]
        list: bool,
    },
    /// Read or set a value in a running container's cgroup
    #[command(
        after_help = "Examples:\n  corral cgroup web memory.max\n  corral cgroup -n web pids.max 100"
    )]
    Cgroup {
        /// The container's name
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        name: Option<String>,
        /// [NAME] KEY [VALUE]: the cgroup file (memory.max, pids.max...) and the value to write
        #[arg(value_name = "ARGS", num_args = 1..=3, required = true)]
        args: Vec<String>,
    },
    /// Manage corral's default bridge: its dnsmasq, NAT and IP forwarding
    #[command(
        after_help = "The bridge and its subnet come from the global config's [network.bridge];\na container start that needs the bridge brings it up too."
    )]
    Net {
        #[command(subcommand)]
        action: NetAction,
    },
    /// List the installed plugins: their versions and what each provides
    #[command(
        after_help = "Plugins are found in $CORRAL_PLUGIN_PATH, then the global config's [plugins] dirs\n(default /usr/lib/corral/plugins)."
    )]
    Plugins,
    /// Keep the default bridge's dnsmasq running (used by `corral net up`)
    #[command(name = "__net-supervise", hide = true)]
    NetSupervise {
        /// The bridge's state directory
        dir: PathBuf,
    },
    /// Run a container's monitor (used by `corral start`)
    #[command(name = "__monitor", hide = true)]
    MonitorDaemon {
        /// The container
        name: String,
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

// What `corral net` does. Not a doc comment, for the reason given at `NameArg`.
#[derive(Debug, Subcommand)]
pub enum NetAction {
    /// Bring the bridge up: its address, IP forwarding, NAT and dnsmasq
    Up,
    /// Take the bridge down, and all of that with it
    Down {
        /// Even if containers' interfaces are still in it
        #[arg(short, long)]
        force: bool,
    },
    /// Show the bridge, dnsmasq, NAT, its ports and the DHCP leases
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
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

/// The global options that take a value (`--root DIR`): [`subcommand`] skips their values.
const VALUED_GLOBALS: [&str; 5] = [
    "--root",
    "--run-dir",
    "--config",
    "--log-level",
    "--log-file",
];

/// The command a command line names, found before clap parses it (which builds every
/// command's arguments first): the first argument after the program's that is neither an
/// option nor a global option's value.
pub fn subcommand(args: impl IntoIterator<Item = OsString>) -> Option<OsString> {
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            return Some(arg);
        };
        if VALUED_GLOBALS.contains(&text) {
            args.next();
        } else if !text.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_well_formed() {
        // Builds the deferred arguments of every command too.
        Cli::command().debug_assert();
    }

    /// What clap makes of `line` against the tree parsed for it, and against the whole tree.
    fn both_ways(line: &str) -> [String; 2] {
        let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        let outcome = |command: clap::Command| match command.try_get_matches_from(&args) {
            Ok(matches) => format!("{:?}", Cli::from_arg_matches(&matches)),
            Err(e) => format!("{:?} {}", e.kind(), e.render()),
        };
        [outcome(Cli::command_for(&args)), outcome(Cli::command())]
    }

    #[test]
    fn a_command_parsed_alone_parses_and_reports_as_in_the_whole_tree() {
        let alone = Cli::command_for(&["corral".into(), "stop".into()]);
        assert_eq!(alone.get_subcommands().count(), 1, "stop alone");
        for command in Cli::command().get_subcommands() {
            let name = command.get_name();
            for line in [
                format!("corral {name} --help"),
                format!("corral {name} -h"),
                format!("corral {name} --version"),
                format!("corral {name} --no-such-option"),
                format!("corral --root /w {name} -n c --log-level debug"),
                format!("corral {name} c"),
                format!("corral {name}"),
            ] {
                let [alone, whole] = both_ways(&line);
                assert_eq!(alone, whole, "{line}");
            }
        }
        let [alone, whole] = both_ways("corral stop -k -n c --root /w");
        assert!(alone.starts_with("Ok(Cli"), "{alone}");
        assert_eq!(alone, whole);
    }

    #[test]
    fn the_subcommand_is_found_past_global_options() {
        let found = |line: &str| subcommand(line.split(' ').map(OsString::from));
        assert_eq!(found("corral execute -n c"), Some("execute".into()));
        assert_eq!(
            found("corral --log-level debug --root=/w execute -n c"),
            Some("execute".into())
        );
        assert_eq!(
            found("corral --log-file execute start"),
            Some("start".into())
        );
        assert_eq!(found("corral -q start -n execute"), Some("start".into()));
        assert_eq!(found("corral --help"), None);
    }

    #[test]
    fn the_valued_globals_are_clap_s() {
        let command = Cli::command();
        let mut clap_s: Vec<String> = command
            .get_arguments()
            .filter(|a| a.is_global_set() && a.get_action().takes_values())
            .filter_map(|a| a.get_long().map(|long| format!("--{long}")))
            .collect();
        clap_s.sort();
        let mut ours = VALUED_GLOBALS.map(str::to_owned).to_vec();
        ours.sort();
        assert_eq!(ours, clap_s);
    }
}
