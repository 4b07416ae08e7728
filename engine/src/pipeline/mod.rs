//! The pipeline: every container runs through the stages of [`corral_hooks::Stage::ALL`],
//! each first planning, then applying.
//!
//! The monitor (see [`crate::monitor`]) clones the container's init into its namespaces and
//! then, stage by stage, applies the host's part and hands init the stage's plan over the
//! sync socket; init applies its part and answers. The monitor waits for the answers only
//! where a hook must see a stage's result, and at the exec gate: without such hooks, init
//! works through the stages back to back while the monitor does its own part. Init runs
//! nothing of the container's until the exec gate, after the last stage.

mod cgroup;
mod channel;
mod clone;
mod init;
pub mod netns;
mod rollback;

use std::cell::OnceCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use corral_hooks::{HookPoint, NamespaceKind, Plan, ProcessPlan, Stage};
use nix::unistd::Pid;

pub use channel::ChannelError;
pub(crate) use init::close_other_fds;
pub use init::exec;
pub use rollback::{Rollback, Undo, pidfd_kill};

use self::cgroup::{CgroupSite, EarlyCgroup};
use self::channel::{Channel, FromInit, ToInit};
use self::clone::Forked;
use crate::config::ContainerConfig;
use crate::container::{Container, ContainerError};
use crate::hooks::{HookError, HookSet};
use crate::stages::cgroups::{self, CgroupError, Layout};
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
    /// Setting up the container's interfaces on the host side.
    #[error(transparent)]
    Network(#[from] stages::network::NetworkError),
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
    /// A hook failed or refused; everything done so far was undone.
    #[error(transparent)]
    Hook(#[from] HookError),
}

impl PipelineError {
    fn stage(stage: Stage) -> impl FnOnce(StageFailure) -> PipelineError {
        move |source| PipelineError::Stage { stage, source }
    }
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host terminals a container gets: its console and its ttys, bound at `/dev/console`
/// and `/dev/ttyN`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terminals {
    /// The console, which is also init's standard input and output.
    pub console: Option<PathBuf>,
    /// `/dev/tty1`, `/dev/tty2`...
    pub ttys: Vec<PathBuf>,
}

/// Who is PID 1 in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitMode {
    /// corral's small init, which runs the program as its child (`corral execute`).
    Corral,
    /// The program itself, a system's own init (`corral start`).
    Program,
}

/// Builds every stage's plan, in stage order, plus the process plan. `args` replaces the
/// config's command when not empty.
pub fn plan(
    container: &Container<'_>,
    config: &ContainerConfig,
    terminals: &Terminals,
    init: InitMode,
    args: &[String],
) -> Result<Plan, PlanError> {
    let name = container.name();
    let plugins = crate::plugins::for_plan(config, &container.corral().global.plugins)?;
    let namespaces = stages::namespaces::plan(config, name)?;
    let mounts = stages::mounts::plan(config, &container.dir(), terminals)?;
    let network = stages::network::plan(config, name, &container.corral().global.network.bridge)?;
    let cache = container.corral().paths.seccomp_cache();
    let security = stages::security::plan(config, config.init.uid, &cache)?;
    let cgroups = cgroups::plan(config, name, &container.corral().global.cgroup.parent);
    cgroups::validate(&cgroups.limits).map_err(|m| PlanError::new("cgroup", m))?;
    if cgroups.mount != corral_hooks::CgroupMount::Off && !cgroups.namespace {
        return Err(PlanError::new(
            "mounts.auto.cgroup",
            "mounting cgroups needs namespaces.cgroup = \"new\"",
        ));
    }
    let command = if args.is_empty() {
        &config.init.cmd
    } else {
        args
    };
    let args: Vec<String> = config
        .init
        .entrypoint
        .iter()
        .chain(command)
        .cloned()
        .collect();
    if args.is_empty() {
        return Err(PlanError::new("init.cmd", "no command to run"));
    }
    let mut env = vec![DEFAULT_PATH.to_owned(), "container=corral".to_owned()];
    if config.init.uid == 0 {
        env.push("HOME=/root".to_owned());
    }
    if terminals.console.is_some() {
        env.push(format!(
            "TERM={}",
            std::env::var("TERM").unwrap_or_else(|_| "linux".to_owned())
        ));
    }
    if init == InitMode::Program && !terminals.ttys.is_empty() {
        // systemd starts gettys only on the ttys a container manager names here.
        let ttys: Vec<String> = (1..=terminals.ttys.len())
            .map(|n| format!("tty{n}"))
            .collect();
        env.push(format!("container_ttys={}", ttys.join(" ")));
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
        terminal: terminals.console.is_some(),
        corral_init: init == InitMode::Corral,
    };
    let plan = Plan {
        name: name.to_owned(),
        namespaces,
        mounts,
        network,
        security,
        cgroups,
        process,
    };
    crate::plugins::apply_policies(&plugins, &config.policies, plan)
}

/// Builds the plan, naming the config file in errors.
pub fn plan_for(
    container: &Container<'_>,
    config: &ContainerConfig,
    terminals: &Terminals,
    init: InitMode,
    args: &[String],
) -> Result<Plan, PipelineError> {
    plan(container, config, terminals, init, args).map_err(|e| {
        let file = container.config_file();
        ContainerError::Config(crate::config::ConfigError::invalid(file, &e.key, e.message)).into()
    })
}

/// A container whose program runs.
#[derive(Debug)]
pub struct Started {
    /// Init's PID on the host.
    pub pid: Pid,
    /// Listeners of the seccomp filter's `notify` rules, for the monitor to answer.
    pub notify: Vec<OwnedFd>,
    /// Init's mount namespace, held open: when init ends, the container's mounts are not
    /// torn down in its exit (each a superblock to shut down, before its parent hears of
    /// the exit) but when this is dropped, which the monitor does once it has told its
    /// clients that the container stopped.
    pub mount_namespace: Option<OwnedFd>,
}

/// Applies every stage in order, then passes the exec gate: the container runs when this
/// returns. Every change to the host is recorded in `rollback`, which the
/// caller undoes when the container ends or when this fails. `stdio` becomes init's
/// standard input, output and error (the console), if given. `hooks` run at the points of
/// [`HookPoint::START`], here in the monitor; before-hooks' changes land in `plan`.
pub fn start(
    container: &Container<'_>,
    plan: &mut Plan,
    hooks: &HookSet,
    stdio: Option<&OwnedFd>,
    rollback: &Rollback,
) -> Result<Started, PipelineError> {
    // Everything init mounts must stay in a namespace of its own, whatever hooks did to the
    // plan: in the host's, masks and read-only paths would land on the host's /proc.
    if !plan.namespaces.is_new(NamespaceKind::Mnt) {
        return Err(PipelineError::Stage {
            stage: Stage::Namespaces,
            source: StageFailure::Init(OpError {
                operation: "run without a mount namespace of its own".into(),
                errno: libc::EPERM,
            }),
        });
    }
    let runtime_dir = container.corral().paths.runtime_dir(container.name());
    // The host's cgroup hierarchies, read once init is cloned (while it mounts): nothing
    // needs them before.
    let layout = OnceCell::new();
    let site = |layout| CgroupSite {
        runtime_dir: &runtime_dir,
        layout,
        rollback,
    };
    // A piece of the early cgroup's work, done while the monitor waits for init.
    let step = |made: &mut Option<EarlyCgroup>| match (made, layout.get()) {
        (Some(early), Some(layout)) => early.step(&site(layout)),
        _ => false,
    };
    let (ours, theirs) =
        Channel::pair().map_err(|e| PipelineError::stage(Stage::Namespaces)(e.into()))?;
    let mut init_end = Some(theirs);
    let mut pid = None;
    let mut made = None;
    let mut mount_namespace = None;
    let raw = |pid: Option<Pid>| pid.map(Pid::as_raw);
    // Init has the plan as it was when cloned: it is sent a part only if hooks changed it.
    let mut cloned_at = 0;
    let mut sent = Sent::new(&ours);
    hooks.fire(HookPoint::PreStart, container, plan, None, &[], None)?;
    for (done, stage) in Stage::ALL.into_iter().enumerate() {
        let before = HookPoint::Before(stage);
        if hooks.fires(before) {
            sent.answered_while(&mut || step(&mut made))?;
        }
        hooks.fire(before, container, plan, raw(pid), &Stage::ALL[..done], None)?;
        let fail = PipelineError::stage(stage);
        let message = match stage {
            Stage::Namespaces => {
                crate::proctitle::prepare();
                let flags = stages::namespaces::clone_flags(&plan.namespaces);
                let forked = netns::fork_into(flags).map_err(|e| {
                    fail(StageFailure::Monitor(
                        "cannot clone init into its namespaces".into(),
                        e.into(),
                    ))
                })?;
                match forked {
                    Forked::Child => {
                        // Init closes every descriptor but its own end of the channel.
                        if let Some(chan) = &init_end {
                            init::run(chan, stdio.and_then(|fd| fd.try_clone().ok()), plan);
                        }
                        // SAFETY: a forked copy of the monitor must never return into it.
                        unsafe { libc::_exit(1) }
                    }
                    Forked::Parent(child, pidfd) => {
                        rollback.push(Some(stage), Undo::Init { pid: child, pidfd });
                        pid = Some(child);
                    }
                }
                // Init's end must close when init execs or dies: no copy stays here.
                drop(init_end.take());
                cloned_at = hooks.changes();
                Some(ToInit::Namespaces(None))
            }
            Stage::Mounts => Some(ToInit::Mounts(
                (hooks.changes() != cloned_at).then(|| plan.mounts.clone()),
            )),
            Stage::Network => {
                let (init, net) = (pid.map_or(0, Pid::as_raw), &plan.network);
                let record = &mut |a| rollback.push(Some(stage), Undo::Network(Box::new(a)));
                stages::network::attach(container, net, init, record)
                    .map_err(|e| sent.first_failure(fail(e.into())))?;
                Some(ToInit::Network(
                    (hooks.changes() != cloned_at).then(|| net.clone()),
                ))
            }
            Stage::Security => Some(ToInit::Security(
                (hooks.changes() != cloned_at).then(|| Box::new(plan.security.clone())),
            )),
            Stage::Cgroups => {
                let layout = hierarchies(&layout).map_err(|e| sent.first_failure(e))?;
                let early = match made.take() {
                    Some(early) => early,
                    None => EarlyCgroup::begin(&site(layout), pid, plan, hooks.changes()),
                };
                let join = early
                    .finish(&site(layout), pid, plan, hooks.changes())
                    .map_err(|e| sent.first_failure(e))?;
                let message = ToInit::Cgroups {
                    namespace: plan.cgroups.namespace,
                    views: cgroups::mount_view(layout, plan.cgroups.mount),
                    readonly: plan.cgroups.mount == corral_hooks::CgroupMount::Ro,
                };
                let fds: Vec<_> = join.iter().map(AsFd::as_fd).collect();
                sent.send(stage, &message, &fds)?;
                None
            }
        };
        if let Some(message) = message {
            tracing::debug!(%stage, "applying");
            sent.send(stage, &message, &[])?;
            // The cgroup, with its limits and device rules, is made while init works through
            // the stages before its own: recorded now, made a piece at a time while the monitor
            // waits for init (for a hook), and whatever is left at the cgroups stage, once
            // every stage before it is sent. On two CPUs this takes its cost off the start. A
            // hook that changes what it was made for has it made again.
            if stage == Stage::Mounts {
                let layout = hierarchies(&layout).map_err(|e| sent.first_failure(e))?;
                made = Some(EarlyCgroup::begin(
                    &site(layout),
                    pid,
                    plan,
                    hooks.changes(),
                ));
            }
            if stage == Stage::Namespaces {
                mount_namespace = pid.and_then(mount_namespace_of);
            }
        }
        let after = HookPoint::After(stage);
        if hooks.fires(after) {
            sent.answered_while(&mut || step(&mut made))?;
        }
        hooks.fire(after, container, plan, raw(pid), &Stage::ALL[..=done], None)?;
    }
    for point in [HookPoint::StartHost, HookPoint::Start] {
        if hooks.fires(point) {
            sent.answered()?;
        }
        hooks.fire(point, container, plan, raw(pid), &Stage::ALL, None)?;
    }
    let exec = ToInit::Exec {
        process: (hooks.changes() != cloned_at).then(|| plan.process.clone()),
        time_namespace: plan.namespaces.is_new(NamespaceKind::Time),
    };
    ours.send(&exec)
        .map_err(|e| sent.first_failure(PipelineError::stage(Stage::Security)(e.into())))?;
    sent.answered()?;
    // Init hands over seccomp listeners with `Started`; a program that replaces init
    // (`start`) then execs, which closes the socket.
    let mut notify = Vec::new();
    loop {
        match ours.recv_with_fds::<FromInit>() {
            Ok((FromInit::Started, listeners)) => {
                notify.extend(listeners);
                if plan.process.corral_init {
                    break;
                }
            }
            Err(ChannelError::Closed) if !plan.process.corral_init => break,
            Ok((FromInit::Failed(e), _)) => return Err(PipelineError::Exec(e)),
            Ok((FromInit::Done, _)) | Err(_) => {
                return Err(PipelineError::Exec(OpError {
                    operation: "start the program".into(),
                    errno: libc::EPIPE,
                }));
            }
        }
    }
    tracing::debug!("program started");
    let never_cloned = || std::io::Error::from_raw_os_error(libc::ESRCH);
    let pid =
        pid.ok_or_else(|| PipelineError::Setup("init was never cloned".into(), never_cloned()))?;
    Ok(Started {
        pid,
        notify,
        mount_namespace,
    })
}

/// The host's cgroup hierarchies, read the first time they are needed.
fn hierarchies(layout: &OnceCell<Layout>) -> Result<&Layout, PipelineError> {
    if let Some(layout) = layout.get() {
        return Ok(layout);
    }
    let detected = Layout::detect().map_err(|e| PipelineError::Stage {
        stage: Stage::Cgroups,
        source: CgroupError::Detect(e).into(),
    })?;
    Ok(layout.get_or_init(|| detected))
}

/// The mount namespace of process `pid`, if it can be opened (holding it only saves time).
fn mount_namespace_of(pid: Pid) -> Option<OwnedFd> {
    std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .map(OwnedFd::from)
        .ok()
}

/// The stages sent to init and not yet answered, oldest first. Init works through them back
/// to back; the monitor waits for its answers only where a hook must see what a stage did,
/// and at the exec gate.
struct Sent<'a> {
    chan: &'a Channel,
    stages: Vec<Stage>,
}

impl<'a> Sent<'a> {
    fn new(chan: &'a Channel) -> Sent<'a> {
        Sent {
            chan,
            stages: Vec::new(),
        }
    }

    /// Sends init its part of `stage`.
    fn send(
        &mut self,
        stage: Stage,
        message: &ToInit,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), PipelineError> {
        self.chan
            .send_with_fds(message, fds)
            .map_err(|e| self.first_failure(PipelineError::stage(stage)(e.into())))?;
        self.stages.push(stage);
        Ok(())
    }

    /// As [`Sent::answered`], doing pieces of `work` (each says whether more is left) while
    /// init has not answered yet.
    fn answered_while(&mut self, work: &mut dyn FnMut() -> bool) -> Result<(), PipelineError> {
        while !self.stages.is_empty() && !self.chan.ready() && work() {}
        self.answered()
    }

    /// Waits until init has finished every stage it was sent; an error is the first
    /// stage's that failed.
    fn answered(&mut self) -> Result<(), PipelineError> {
        for stage in self.stages.drain(..) {
            match self
                .chan
                .recv()
                .map_err(|e| PipelineError::stage(stage)(e.into()))?
            {
                FromInit::Failed(e) => return Err(PipelineError::stage(stage)(e.into())),
                FromInit::Done | FromInit::Started => {}
            }
        }
        Ok(())
    }

    /// What to report for `later`, a failure after the stages sent: init's own failure in
    /// one of them comes first (a network that cannot be attached because init already
    /// failed to mount is a mount failure).
    fn first_failure(&mut self, later: PipelineError) -> PipelineError {
        self.answered().err().unwrap_or(later)
    }
}
