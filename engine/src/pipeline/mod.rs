//! The pipeline: every container runs through the stages of [`corral_hooks::Stage::ALL`],
//! each first planning, then applying.
//!
//! The monitor (here, the `corral` process itself for `execute`) clones the container's init
//! into its namespaces and then, stage by stage, applies the host's part and hands init the
//! stage's plan over the sync socket; init applies its part and answers. Init runs nothing of
//! the container's until the exec gate, after the last stage.

mod channel;
mod clone;
mod init;
mod rollback;
mod state;
mod terminal;

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use corral_hooks::{NamespaceKind, Plan, ProcessPlan, Stage};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, isatty};

pub use channel::ChannelError;
pub use state::{clean_stale, kill};

use self::channel::{Channel, FromInit, ToInit};
use self::clone::Forked;
use self::rollback::{Rollback, Undo};
use self::terminal::{Pty, RawMode};
use crate::config::ContainerConfig;
use crate::container::{Container, ContainerError};
use crate::stages::cgroups::{self, Cgroup, CgroupError, Layout};
use crate::stages::{self, OpError, PlanError};

/// Why a stage failed.
#[derive(Debug, thiserror::Error)]
pub enum StageFailure {
    /// A system call in the container's init.
    #[error(transparent)]
    Init(#[from] OpError),
    /// A cgroup operation.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// Talking to init.
    #[error("init stopped answering")]
    Channel(#[from] ChannelError),
    /// A system call in the monitor.
    #[error("{0}")]
    Monitor(String, #[source] std::io::Error),
}

/// An error running a container.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The container or its config.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// Setting up the monitor, before the first stage.
    #[error("{0}")]
    Setup(String, #[source] std::io::Error),
    /// A stage failed; everything done so far was undone.
    #[error("stage {stage} failed")]
    Stage {
        /// The stage.
        stage: Stage,
        /// Why.
        #[source]
        source: StageFailure,
    },
    /// The program could not be executed.
    #[error("cannot start the container's program")]
    Exec(#[source] OpError),
}

impl PipelineError {
    fn stage(stage: Stage) -> impl FnOnce(StageFailure) -> PipelineError {
        move |source| PipelineError::Stage { stage, source }
    }
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds every stage's plan, in stage order, plus the process plan. `args` replaces the
/// config's command when not empty.
pub fn plan(
    container: &Container<'_>,
    config: &ContainerConfig,
    console: Option<&Path>,
    args: &[String],
) -> Result<Plan, PlanError> {
    let name = container.name();
    let namespaces = stages::namespaces::plan(config, name)?;
    let mounts = stages::mounts::plan(config, &container.dir(), console)?;
    let network = stages::network::plan(config);
    let security = stages::security::plan(config, config.init.uid)?;
    let cgroups = cgroups::plan(config, name, &container.corral().global.cgroup.parent);
    cgroups::validate(&cgroups.limits).map_err(|m| PlanError::new("cgroup", m))?;
    if cgroups.mount != corral_hooks::CgroupMount::Off && !cgroups.namespace {
        return Err(PlanError::new(
            "mounts.auto.cgroup",
            "mounting cgroups needs namespaces.cgroup = \"new\"",
        ));
    }
    let args = if args.is_empty() {
        config.init.cmd.clone()
    } else {
        args.to_vec()
    };
    if args.is_empty() {
        return Err(PlanError::new("init.cmd", "no command to run"));
    }
    let mut env = vec![DEFAULT_PATH.to_owned(), "container=corral".to_owned()];
    if config.init.uid == 0 {
        env.push("HOME=/root".to_owned());
    }
    if console.is_some() {
        env.push(format!(
            "TERM={}",
            std::env::var("TERM").unwrap_or_else(|_| "xterm".to_owned())
        ));
    }
    for (key, value) in &config.init.env {
        env.retain(|e| e.split_once('=').is_none_or(|(k, _)| k != key));
        env.push(format!("{key}={value}"));
    }
    let process = ProcessPlan {
        args,
        env,
        cwd: config.init.cwd.clone(),
        uid: config.init.uid,
        gid: config.init.gid,
        additional_gids: config.init.groups.clone(),
        terminal: console.is_some(),
    };
    Ok(Plan {
        name: name.to_owned(),
        namespaces,
        mounts,
        network,
        security,
        cgroups,
        process,
    })
}

/// Runs the container in the foreground through the whole pipeline and returns the
/// program's exit status (128+N for signal N).
pub fn execute(container: &Container<'_>, args: &[String]) -> Result<i32, PipelineError> {
    tracing::debug!(container = container.name(), "starting");
    let _lock = container.lock()?;
    let config = container.config()?;
    let stdin = std::io::stdin();
    let pty =
        if isatty(stdin.as_fd()).unwrap_or(false) {
            Some(Pty::open(stdin.as_fd()).map_err(|e| {
                PipelineError::Setup("cannot open a pseudo-terminal".into(), e.into())
            })?)
        } else {
            None
        };
    let plan = pipeline_plan(container, &config, pty.as_ref(), args)?;
    let layout = Layout::detect()
        .map_err(|e| PipelineError::stage(Stage::Cgroups)(CgroupError::Detect(e).into()))?;

    // Signals for the container are read from a signalfd and passed on; init inherits the
    // mask and keeps everything blocked.
    let mut forwarded = SigSet::empty();
    for signal in FORWARDED {
        forwarded.add(signal);
    }
    forwarded.add(Signal::SIGCHLD);
    let mut old_mask = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded), Some(&mut old_mask))
        .map_err(|e| PipelineError::Setup("cannot block signals".into(), e.into()))?;
    let signals = SignalFd::with_flags(&forwarded, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| PipelineError::Setup("cannot create a signalfd".into(), e.into()))?;

    let mut rollback = Rollback::default();
    let result =
        start(container, &plan, &layout, pty.as_ref(), &mut rollback).map(|(pid, chan)| {
            drop(chan);
            let code = wait(pid, &signals, pty.as_ref());
            tracing::debug!(code, "init ended");
            code
        });
    if let Some(cgroup) = rollback.cgroup() {
        tracing::info!(container = container.name(), usage = ?cgroup.usage(), "container ended");
    }
    rollback.undo();
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    result
}

fn pipeline_plan(
    container: &Container<'_>,
    config: &ContainerConfig,
    pty: Option<&Pty>,
    args: &[String],
) -> Result<Plan, PipelineError> {
    plan(container, config, pty.map(|p| p.slave_path.as_path()), args).map_err(|e| {
        ContainerError::Config(crate::config::ConfigError::invalid(
            container.config_file(),
            &e.key,
            e.message,
        ))
        .into()
    })
}

/// Signals the monitor passes on to the container.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Applies every stage in order, then passes the exec gate. Every change is recorded in
/// `rollback`.
fn start(
    container: &Container<'_>,
    plan: &Plan,
    layout: &Layout,
    pty: Option<&Pty>,
    rollback: &mut Rollback,
) -> Result<(Pid, Channel), PipelineError> {
    let runtime_dir = container.corral().paths.runtime_dir(container.name());
    std::fs::create_dir_all(&runtime_dir)
        .map_err(|e| PipelineError::Setup(format!("cannot create {}", runtime_dir.display()), e))?;
    rollback.push(None, Undo::RuntimeDir(runtime_dir.clone()));
    let (ours, theirs) =
        Channel::pair().map_err(|e| PipelineError::stage(Stage::Namespaces)(e.into()))?;

    let mut pid = None;
    for stage in Stage::ALL {
        let fail = PipelineError::stage(stage);
        let message = match stage {
            Stage::Namespaces => {
                let flags = stages::namespaces::clone_flags(&plan.namespaces);
                let forked = clone::fork_into(flags)
                    .map_err(|e| {
                        StageFailure::Monitor(
                            "cannot clone init into its namespaces".into(),
                            e.into(),
                        )
                    })
                    .map_err(PipelineError::stage(stage))?;
                match forked {
                    Forked::Child => {
                        drop(ours);
                        let console = pty.and_then(|p| p.slave.try_clone().ok());
                        init::run(&theirs, console);
                    }
                    Forked::Parent(child, pidfd) => {
                        rollback.push(Some(stage), Undo::Init { pid: child, pidfd });
                        pid = Some(child);
                    }
                }
                ToInit::Namespaces(plan.namespaces.clone())
            }
            Stage::Mounts => ToInit::Mounts(plan.mounts.clone()),
            Stage::Network => ToInit::Network(plan.network.clone()),
            Stage::Security => ToInit::Security(plan.security.clone()),
            Stage::Cgroups => {
                let limits = &plan.cgroups.limits;
                let cgroup = Cgroup::create(layout, &plan.cgroups.path, limits)
                    .map_err(|e| fail(e.into()))?;
                rollback.push(Some(stage), Undo::Cgroup(cgroup.clone()));
                cgroup
                    .apply_limits(limits)
                    .map_err(|e| PipelineError::stage(stage)(e.into()))?;
                cgroups::devices::apply(&cgroup, &plan.security.devices)
                    .map_err(|e| PipelineError::stage(Stage::Security)(e.into()))?;
                let join = cgroup
                    .join_files()
                    .map_err(|e| PipelineError::stage(stage)(e.into()))?;
                tracing::debug!(path = %cgroup.path, version = %cgroup.version, "cgroup created");
                state::save(&runtime_dir, pid.map_or(0, Pid::as_raw), &cgroup);
                let message = ToInit::Cgroups {
                    namespace: plan.cgroups.namespace,
                    views: cgroups::mount_view(layout, plan.cgroups.mount),
                    readonly: plan.cgroups.mount == corral_hooks::CgroupMount::Ro,
                };
                let fds: Vec<_> = join.iter().map(AsFd::as_fd).collect();
                ours.send_with_fds(&message, &fds)
                    .map_err(|e| PipelineError::stage(stage)(e.into()))?;
                expect_done(&ours, stage)?;
                continue;
            }
        };
        tracing::debug!(%stage, "applying");
        ours.send(&message)
            .map_err(|e| PipelineError::stage(stage)(e.into()))?;
        expect_done(&ours, stage)?;
    }
    ours.send(&ToInit::Exec {
        process: plan.process.clone(),
        security: plan.security.clone(),
        time_namespace: plan.namespaces.is_new(NamespaceKind::Time),
    })
    .map_err(|e| PipelineError::stage(Stage::Security)(e.into()))?;
    match ours.recv_with_fds::<FromInit>() {
        Ok((FromInit::Started, listeners)) => {
            tracing::debug!("program started");
            stages::security::supervise(listeners);
        }
        Ok((FromInit::Failed(e), _)) => return Err(PipelineError::Exec(e)),
        Ok((FromInit::Done, _)) | Err(_) => {
            return Err(PipelineError::Exec(OpError {
                operation: "start the program".into(),
                errno: libc::EPIPE,
            }));
        }
    }
    let never_cloned = || std::io::Error::from_raw_os_error(libc::ESRCH);
    let pid =
        pid.ok_or_else(|| PipelineError::Setup("init was never cloned".into(), never_cloned()))?;
    Ok((pid, ours))
}

/// Waits for init to finish its part of `stage`.
fn expect_done(chan: &Channel, stage: Stage) -> Result<(), PipelineError> {
    match chan
        .recv()
        .map_err(|e| PipelineError::stage(stage)(e.into()))?
    {
        FromInit::Failed(e) => Err(PipelineError::stage(stage)(e.into())),
        FromInit::Done | FromInit::Started => Ok(()),
    }
}

/// Waits for init to end, passing on signals and relaying the terminal. Returns its status.
fn wait(pid: Pid, signals: &SignalFd, pty: Option<&Pty>) -> i32 {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = pty.and_then(|_| RawMode::enter(stdin.as_fd()).ok());
    let mut stdin_open = pty.is_some();
    let mut master_open = pty.is_some();
    loop {
        if let Some(code) = reaped(pid) {
            if let Some(p) = pty {
                // Drain what the program printed last.
                while poll_one(p.master.as_fd()) && terminal::pump(p.master.as_fd(), stdout.as_fd())
                {
                }
            }
            return code;
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = pty.filter(|_| master_open) {
            fds.push(PollFd::new(p.master.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0]
            && let Ok(Some(info)) = signals.read_signal()
        {
            forward(pid, info.ssi_signo, pty);
        }
        if let Some(p) = pty.filter(|_| master_open) {
            if ready[1] && !terminal::pump(p.master.as_fd(), stdout.as_fd()) {
                // The container closed its terminal; init's exit follows.
                master_open = false;
            }
            if stdin_open
                && ready.get(2) == Some(&true)
                && !terminal::pump(stdin.as_fd(), p.master.as_fd())
            {
                stdin_open = false;
            }
        }
    }
}

fn poll_one(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}

fn forward(pid: Pid, signo: u32, pty: Option<&Pty>) {
    let Ok(signal) = Signal::try_from(signo.cast_signed()) else {
        return;
    };
    match signal {
        Signal::SIGCHLD => {}
        Signal::SIGWINCH => {
            if let Some(p) = pty {
                p.copy_size(std::io::stdin().as_fd());
            }
        }
        _ => {
            let _ = nix::sys::signal::kill(pid, signal);
        }
    }
}

/// Init's status if it has ended.
fn reaped(pid: Pid) -> Option<i32> {
    match waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => None,
        Ok(status) => status_code(status),
        Err(_) => Some(125),
    }
}

fn status_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(128 + signal as i32),
        _ => None,
    }
}
