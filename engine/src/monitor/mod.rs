//! The monitor: one process per running container, which owns it for its whole life.
//!
//! It takes the container's lock, runs the pipeline, holds the console and ttys (logging the
//! console), serves the control socket (state, info, stop, freeze, console, state events),
//! reaps init, tears everything down and, when init asked for a reboot, starts it again.
//! `corral start` runs it as a daemon of its own (`[corral monitor] NAME` in `ps`);
//! `corral start -F` and `corral execute` run it in the foreground.

mod client;
mod console;
mod protocol;
mod server;
mod trim;

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use corral_hooks::Plan;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, isatty, read};

pub use client::{Client, ClientError};
pub use protocol::{Event, Request, Response, State, StopMode};

use self::console::Terminals;
use self::server::{Incoming, Role, Server};
use crate::config::ContainerConfig;
use crate::container::{Container, ContainerError};
use crate::hooks::{self, HookSet};
use crate::lock::LockError;
use crate::pipeline::{self, InitMode, PipelineError, Rollback, Started};
use crate::runtime;
use crate::stages;
use crate::terminal::{self, RawMode};

/// How the monitor runs the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// An application container in the foreground: corral's init runs `args` (or the
    /// config's command), stdio passes through, and the program's status is returned.
    Execute {
        /// The program and its arguments; empty for the config's command.
        args: Vec<String>,
    },
    /// A system container: its own init is PID 1, with a console and ttys.
    Start {
        /// Whether the console is relayed to this terminal (`start -F`).
        foreground: bool,
    },
}

/// An error running a container under the monitor.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The container is running already.
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    /// Starting it failed; everything done was undone.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The monitor could not set itself up.
    #[error("{0}")]
    Setup(String, #[source] io::Error),
}

impl MonitorError {
    /// Why `corral execute` failed, as its exit status: 126 when the program cannot run,
    /// 127 when it was not found, 125 for any other failure, as `docker run` and `env` do.
    pub fn execute_status(&self) -> u8 {
        match self {
            MonitorError::Pipeline(PipelineError::Exec(e)) if e.errno == libc::ENOENT => 127,
            MonitorError::Pipeline(PipelineError::Exec(_)) => 126,
            _ => 125,
        }
    }
}

impl From<ContainerError> for MonitorError {
    fn from(e: ContainerError) -> Self {
        match e {
            ContainerError::Lock(LockError::Busy(name)) => MonitorError::AlreadyRunning(name),
            e => MonitorError::Pipeline(PipelineError::Container(e)),
        }
    }
}

/// Signals the monitor handles through its signalfd.
const SIGNALS: [Signal; 8] = [
    Signal::SIGCHLD,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The default time a clean shutdown gets when the monitor itself is asked to stop.
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a container under a monitor until it ends. Returns the program's exit status for
/// [`Mode::Execute`], 0 for [`Mode::Start`]. `status`, when given, hears `RUNNING` once the
/// container runs, or `ERROR <why>`: it is how `corral start` learns the outcome.
pub fn run(
    container: &Container<'_>,
    mode: Mode,
    status: Option<File>,
) -> Result<i32, MonitorError> {
    let mut status = StatusPipe(status);
    let result = run_inner(container, mode, &mut status);
    if let Err(e) = &result {
        status.send(&format!("ERROR {}", crate::error_chain(e)));
    }
    result
}

fn run_inner(
    container: &Container<'_>,
    mode: Mode,
    status: &mut StatusPipe,
) -> Result<i32, MonitorError> {
    let lock = container.lock()?;
    let runtime_dir = container.corral().paths.runtime_dir(container.name());
    fs::create_dir_all(&runtime_dir)
        .map_err(|e| MonitorError::Setup(format!("cannot create {}", runtime_dir.display()), e))?;
    let mut monitor = match Monitor::new(container, mode, &runtime_dir) {
        Ok(monitor) => monitor,
        Err(e) => {
            remove_runtime_dir(&runtime_dir);
            return Err(e);
        }
    };
    let result = monitor.life(status);
    remove_runtime_dir(&runtime_dir);
    drop(lock);
    // Clients waiting for the end (`corral stop`) see it only once all is cleaned up.
    monitor.close();
    result
}

fn remove_runtime_dir(dir: &Path) {
    if let Err(e) = fs::remove_dir_all(dir)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(%e, dir = %dir.display(), "cannot remove the runtime directory");
    }
}

/// The pipe to the `corral start` that spawned this monitor.
struct StatusPipe(Option<File>);

impl StatusPipe {
    fn send(&mut self, line: &str) {
        if let Some(mut pipe) = self.0.take() {
            let _ = writeln!(pipe, "{line}");
        }
    }
}

/// A pending stop: when to give up on a clean shutdown.
#[derive(Debug, Clone, Copy)]
struct Stopping {
    kill_at: Option<Instant>,
}

struct Monitor<'a> {
    container: &'a Container<'a>,
    mode: Mode,
    server: Option<Server>,
    terminals: Option<Terminals>,
    signals: SignalFd,
    old_mask: SigSet,
    state: State,
    stopping: Option<Stopping>,
    reboot: bool,
    halt_signal: i32,
    reboot_signal: i32,
    /// The config read to set the monitor up, for the first boot; a reboot reads it again.
    config: Option<Box<ContainerConfig>>,
    /// The container's mount namespace (see [`Started::mount_namespace`]): released by
    /// [`Monitor::close`], once every client connection is closed.
    mount_namespace: Option<OwnedFd>,
}

impl<'a> Monitor<'a> {
    #[inline(never)]
    fn new(
        container: &'a Container<'a>,
        mode: Mode,
        runtime_dir: &Path,
    ) -> Result<Monitor<'a>, MonitorError> {
        let config = container.config()?;
        let stdin = terminal::stdin();
        let terminals = match &mode {
            Mode::Execute { .. } if isatty(stdin).unwrap_or(false) => {
                Some(Terminals::open(0, None))
            }
            Mode::Execute { .. } => None,
            Mode::Start { .. } => {
                let log = (
                    runtime::console_log_path(runtime_dir),
                    config.console.log_size.0,
                );
                Some(Terminals::open(config.console.ttys, Some(log)))
            }
        }
        .transpose()
        .map_err(|e| {
            MonitorError::Setup("cannot open the container's terminals".into(), e.into())
        })?;
        if let (Some(t), Mode::Execute { .. }) = (&terminals, &mode) {
            t.resize(0, stdin);
        }
        let mut set = SigSet::empty();
        for signal in SIGNALS {
            set.add(signal);
        }
        let mut old_mask = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old_mask))
            .map_err(|e| MonitorError::Setup("cannot block signals".into(), e.into()))?;
        let signals = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| MonitorError::Setup("cannot create a signalfd".into(), e.into()))?;
        let socket = runtime::socket_path(runtime_dir);
        let server = Server::bind(&socket).map_err(|e| {
            MonitorError::Setup(format!("cannot listen on {}", socket.display()), e)
        })?;
        Ok(Monitor {
            container,
            mode,
            server: Some(server),
            terminals,
            signals,
            old_mask,
            state: State::Stopped,
            stopping: None,
            reboot: false,
            halt_signal: libc::SIGPWR,
            reboot_signal: config.signals.reboot.0,
            config: Some(Box::new(config)),
            mount_namespace: None,
        })
    }

    /// Boots the container, watches it, tears it down; again after a reboot.
    fn life(&mut self, status: &mut StatusPipe) -> Result<i32, MonitorError> {
        let result = loop {
            self.set_state(State::Starting);
            let rollback = Rollback::default();
            let abort = self.abort_on_hook_timeout(&rollback, status);
            let (started, hooks, plan) = match self.boot(&rollback) {
                Ok(booted) => booted,
                Err(e) => break Err(e),
            };
            // Only stop hooks still need the plan; without them it is given back now, with
            // the rest of what the start took.
            let end_points = [
                corral_hooks::HookPoint::Stop,
                corral_hooks::HookPoint::PostStop,
            ];
            let mut plan = end_points
                .into_iter()
                .any(|point| hooks.fires(point))
                .then_some(plan);
            let Started {
                pid,
                mut notify,
                mount_namespace,
            } = started;
            // The last boot's, if this one follows a reboot, is torn down now.
            self.mount_namespace = mount_namespace;
            self.set_state(State::Running);
            status.send("RUNNING");
            // `corral start` returns once the pipe closes: the handler keeps no copy of it.
            drop(abort);
            let _abort = self.abort_on_hook_timeout(&rollback, status);
            let ended = self.watch(pid, &rollback, &mut notify);
            if self.state != State::Stopping {
                self.set_state(State::Stopping);
            }
            if let Some(cgroup) = rollback.cgroup() {
                tracing::info!(container = self.container.name(), usage = ?cgroup.usage(), "container ended");
            }
            // A reboot in a PID namespace ends its init with SIGHUP.
            let rebooting =
                self.reboot || ended == WaitStatus::Signaled(pid, Signal::SIGHUP, false);
            let target = Some(if rebooting { "reboot" } else { "stop" });
            let end_hook = |point, plan: &mut Option<Plan>| {
                let all = &corral_hooks::Stage::ALL;
                let pid = Some(pid.as_raw());
                // As in LXC, a failing stop hook is reported and changes nothing.
                if let Some(plan) = plan
                    && let Err(e) = hooks.fire(point, self.container, plan, pid, all, target)
                {
                    tracing::error!(error = %crate::error_chain(&e), "hook failed");
                }
            };
            end_hook(corral_hooks::HookPoint::Stop, &mut plan);
            rollback.undo();
            end_hook(corral_hooks::HookPoint::PostStop, &mut plan);
            if rebooting && matches!(self.mode, Mode::Start { .. }) {
                self.reboot = false;
                self.stopping = None;
                continue;
            }
            break Ok(exit_code(ended));
        };
        self.set_state(State::Stopped);
        result
    }

    /// Closes every client connection, releases the container's mount namespace and
    /// restores the signal mask.
    fn close(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
        // Only now, with no client waiting, are the container's mounts torn down.
        drop(self.mount_namespace.take());
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }

    /// Makes the hook watchdog end this monitor as a failed start ends: what `rollback`
    /// records is undone, the runtime directory removed, and the error reported.
    fn abort_on_hook_timeout(
        &self,
        rollback: &Rollback,
        status: &StatusPipe,
    ) -> hooks::AbortRegistration {
        let rollback = rollback.clone();
        let runtime_dir = self.container.runtime_dir();
        let mut status = StatusPipe(status.0.as_ref().and_then(|f| f.try_clone().ok()));
        let execute = matches!(self.mode, Mode::Execute { .. });
        hooks::on_abort(Box::new(move |error| {
            let error = MonitorError::Pipeline(PipelineError::Hook(error));
            rollback.undo();
            remove_runtime_dir(&runtime_dir);
            let message = crate::error_chain(&error);
            status.send(&format!("ERROR {message}"));
            eprintln!("corral: error: {message}");
            if execute {
                i32::from(error.execute_status())
            } else {
                1
            }
        }))
    }

    /// Plans and applies every stage, running the hooks, recording in `rollback` what it
    /// changes. On failure, that is undone. Returns the plan as applied, with the hooks that
    /// run when it ends.
    // Out of line, like `new`: their frames are gone once the container runs, while the
    // frames on the way to the watch loop stay resident as long as the monitor lives.
    #[inline(never)]
    fn boot(&mut self, rollback: &Rollback) -> Result<(Started, HookSet, Plan), MonitorError> {
        let config = match self.config.take() {
            Some(config) => *config,
            None => self.container.config()?,
        };
        let hooks = HookSet::load(&config, &self.container.corral().global.plugins)
            .map_err(PipelineError::Hook)?;
        let (init, args) = match &self.mode {
            Mode::Execute { args } => (InitMode::Corral, args.clone()),
            Mode::Start { .. } => (InitMode::Program, Vec::new()),
        };
        let paths = self
            .terminals
            .as_ref()
            .map(Terminals::paths)
            .unwrap_or_default();
        let mut plan = pipeline::plan_for(self.container, &config, &paths, init, &args)?;
        self.halt_signal = halt_signal(&config, &plan);
        let stdio = self.terminals.as_ref().and_then(Terminals::console_slave);
        match pipeline::start(self.container, &mut plan, &hooks, stdio, rollback) {
            Ok(started) => Ok((started, hooks, plan)),
            Err(e) => {
                self.set_state(State::Aborting);
                rollback.undo();
                Err(e.into())
            }
        }
    }

    fn set_state(&mut self, state: State) {
        self.state = state;
        tracing::debug!(
            container = self.container.name(),
            state = state.as_str(),
            "state"
        );
        if let Some(server) = &mut self.server {
            server.broadcast(&Event {
                name: self.container.name().to_owned(),
                state,
            });
        }
    }

    /// Serves clients, relays terminals and handles signals until init ends; returns how.
    /// `notify` holds the seccomp listeners to answer; each is dropped once nothing is left
    /// under its filter.
    fn watch(&mut self, pid: Pid, rollback: &Rollback, notify: &mut Vec<OwnedFd>) -> WaitStatus {
        let stdin = terminal::stdin();
        let relay = match self.mode {
            Mode::Execute { .. } | Mode::Start { foreground: true } => self.terminals.is_some(),
            Mode::Start { foreground: false } => false,
        };
        let _raw = relay.then(|| RawMode::enter(stdin).ok()).flatten();
        let mut stdin_open = relay;
        // A daemon's memory counts once per running container; one in the foreground is
        // there for a while only.
        let mut trim =
            matches!(self.mode, Mode::Start { foreground: false }).then(trim::IdleTrim::start);
        loop {
            if let Some(ended) = reaped(pid) {
                self.drain_terminals(relay);
                return ended;
            }
            let timeout = self.poll_timeout(trim.as_ref().and_then(trim::IdleTrim::wait));
            let mut incoming = Vec::new();
            let (ready, n_server, n_terms) = {
                let server = self
                    .server
                    .as_ref()
                    .map(Server::poll_fds)
                    .unwrap_or_default();
                let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
                for (fd, write) in &server {
                    let mut events = PollFlags::POLLIN;
                    if *write {
                        events |= PollFlags::POLLOUT;
                    }
                    fds.push(PollFd::new(*fd, events));
                }
                let n_terms = self.terminals.as_ref().map_or(0, Terminals::count);
                for i in 0..n_terms {
                    if let Some(fd) = self.terminals.as_ref().and_then(|t| t.master(i)) {
                        fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    }
                }
                if stdin_open {
                    fds.push(PollFd::new(stdin, PollFlags::POLLIN));
                }
                for listener in notify.iter() {
                    fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
                }
                let Ok(events) = poll(&mut fds, timeout) else {
                    continue;
                };
                if let Some(trim) = &mut trim {
                    trim.waited(events > 0);
                }
                let ready: Vec<PollFlags> = fds
                    .iter()
                    .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                    .collect();
                (ready, server.len(), n_terms)
            };
            if !ready[0].is_empty() {
                self.handle_signals(pid, rollback);
            }
            if let Some(server) = &mut self.server {
                if !ready[1].is_empty() {
                    server.accept();
                }
                for i in 1..n_server {
                    let r = ready[1 + i];
                    if r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                        server.read(i - 1, &mut incoming);
                    }
                    if r.contains(PollFlags::POLLOUT) {
                        server.flush(i - 1);
                    }
                }
            }
            for i in 0..n_terms {
                if ready[1 + n_server + i].intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
                    self.terminal_output(i, relay && i == 0);
                }
            }
            let first_notify = 1 + n_server + n_terms + usize::from(stdin_open);
            if stdin_open && ready.get(first_notify - 1).is_some_and(|r| !r.is_empty()) {
                stdin_open = self.forward_stdin(stdin);
            }
            let notify_ready: Vec<PollFlags> =
                ready.get(first_notify..).unwrap_or_default().to_vec();
            let mut done = Vec::new();
            for (i, r) in notify_ready.iter().enumerate() {
                if r.contains(PollFlags::POLLIN) {
                    stages::security::answer_notification(&notify[i]);
                } else if !r.is_empty() {
                    // POLLHUP: nothing is left under the filter.
                    done.push(i);
                }
            }
            for i in done.into_iter().rev() {
                notify.remove(i);
            }
            for item in incoming {
                match item {
                    Incoming::Request(id, request) => {
                        self.handle_request(id, &request, pid, rollback);
                    }
                    Incoming::Console(tty, bytes) => {
                        if let Some(master) = self.terminals.as_ref().and_then(|t| t.master(tty)) {
                            let _ = terminal::write_all(master, &bytes);
                        }
                    }
                }
            }
            if let Some(server) = &mut self.server {
                server.prune();
            }
            if let Some(Stopping { kill_at: Some(at) }) = self.stopping
                && Instant::now() >= at
            {
                tracing::info!(
                    container = self.container.name(),
                    "clean shutdown timed out: killing"
                );
                self.signal_init(rollback, libc::SIGKILL);
                self.stopping = Some(Stopping { kill_at: None });
            }
        }
    }

    /// How long to wait for work: until a pending stop's kill, or `trim`, whichever is
    /// sooner; without either, for ever.
    fn poll_timeout(&self, trim: Option<Duration>) -> PollTimeout {
        let kill = match self.stopping {
            Some(Stopping { kill_at: Some(at) }) => {
                Some(at.saturating_duration_since(Instant::now()))
            }
            _ => None,
        };
        match kill.into_iter().chain(trim).min() {
            // Rounded up: a wait that ends early only comes back to wait again.
            Some(left) => PollTimeout::try_from(left.as_micros().div_ceil(1000).min(60_000) as i32)
                .unwrap_or(PollTimeout::ZERO),
            None => PollTimeout::NONE,
        }
    }

    fn handle_signals(&mut self, pid: Pid, rollback: &Rollback) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            let Ok(signal) = Signal::try_from(info.ssi_signo.cast_signed()) else {
                continue;
            };
            match (signal, &self.mode) {
                (Signal::SIGCHLD, _) => {}
                (Signal::SIGWINCH, _) => {
                    if let Some(t) = &self.terminals {
                        t.resize(0, terminal::stdin());
                    }
                }
                // An application container hears the signals its monitor gets.
                (_, Mode::Execute { .. }) => {
                    let _ = nix::sys::signal::kill(pid, signal);
                }
                (Signal::SIGINT | Signal::SIGTERM | Signal::SIGHUP, Mode::Start { .. }) => {
                    self.stop(
                        StopMode::Halt {
                            timeout_secs: Some(DEFAULT_STOP_TIMEOUT.as_secs()),
                        },
                        rollback,
                    );
                }
                _ => {}
            }
        }
    }

    fn handle_request(&mut self, id: u64, request: &Request, pid: Pid, rollback: &Rollback) {
        let cgroup = rollback.cgroup();
        let (response, role) = match request {
            Request::State => (
                Response::State {
                    state: self.state,
                    pid: pid.as_raw(),
                },
                Role::Waiting,
            ),
            Request::Info => {
                let usage = cgroup.map(|c| c.usage()).unwrap_or_default();
                (
                    Response::Info {
                        state: self.state,
                        pid: pid.as_raw(),
                        usage,
                    },
                    Role::Waiting,
                )
            }
            Request::Stop(mode) => {
                self.stop(*mode, rollback);
                (Response::Ok, Role::Waiting)
            }
            Request::Freeze | Request::Unfreeze => {
                let freeze = matches!(request, Request::Freeze);
                (self.freeze(freeze, rollback), Role::Waiting)
            }
            Request::Subscribe => (Response::Ok, Role::Subscriber),
            Request::Console { tty } => {
                let tty = *tty as usize;
                if self.terminals.as_ref().is_some_and(|t| tty < t.count()) {
                    (Response::Ok, Role::Console(tty))
                } else {
                    (
                        Response::Error(format!(
                            "container {} has no tty {tty}",
                            self.container.name()
                        )),
                        Role::Waiting,
                    )
                }
            }
        };
        if let Some(server) = &mut self.server {
            server.reply_as(id, &response, role);
            if role == Role::Subscriber {
                // A new subscriber learns where things stand before any change.
                let event = Event {
                    name: self.container.name().to_owned(),
                    state: self.state,
                };
                server.send_event(id, &event);
            }
        }
    }

    fn stop(&mut self, mode: StopMode, rollback: &Rollback) {
        if matches!(self.state, State::Frozen | State::Freezing) {
            // A frozen init cannot act on a signal.
            let _ = self.freeze(false, rollback);
        }
        match mode {
            StopMode::Kill => {
                // A halt or kill overrides a reboot init never acted on.
                self.reboot = false;
                self.signal_init(rollback, libc::SIGKILL);
                self.stopping = Some(Stopping { kill_at: None });
            }
            StopMode::Halt { timeout_secs } => {
                self.reboot = false;
                self.signal_init(rollback, self.halt_signal);
                let kill_at = timeout_secs.map(|s| Instant::now() + Duration::from_secs(s));
                self.stopping = Some(Stopping { kill_at });
            }
            StopMode::Reboot => {
                self.reboot = true;
                self.signal_init(rollback, self.reboot_signal);
                return;
            }
        }
        if self.state != State::Stopping {
            self.set_state(State::Stopping);
        }
    }

    fn freeze(&mut self, freeze: bool, rollback: &Rollback) -> Response {
        let Some(cgroup) = rollback.cgroup() else {
            return Response::Error("the container has no cgroup".into());
        };
        match (freeze, self.state) {
            (true, State::Frozen) | (false, State::Running) => return Response::Ok,
            (_, State::Running | State::Frozen) => {}
            (_, state) => {
                return Response::Error(format!(
                    "cannot freeze or thaw a {} container",
                    state.as_str()
                ));
            }
        }
        if freeze {
            self.set_state(State::Freezing);
        }
        match cgroup.freeze(freeze) {
            Ok(()) => {
                self.set_state(if freeze {
                    State::Frozen
                } else {
                    State::Running
                });
                Response::Ok
            }
            Err(e) => {
                let _ = cgroup.freeze(false);
                self.set_state(State::Running);
                Response::Error(crate::error_chain(&e))
            }
        }
    }

    fn signal_init(&self, rollback: &Rollback, signal: i32) {
        if let Err(e) = rollback.signal_init(signal) {
            tracing::warn!(%e, signal, "cannot signal init");
        }
    }

    /// Reads what terminal `index` printed: into the log, to attached clients and, when
    /// relayed, to standard output.
    // Out of line, with its buffer: see `boot`.
    #[inline(never)]
    fn terminal_output(&mut self, index: usize, relay: bool) {
        let Some(terminals) = &mut self.terminals else {
            return;
        };
        let mut buf = [0u8; 16384];
        loop {
            let Some(master) = terminals.master(index) else {
                return;
            };
            let n = match read(master, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            terminals.log(index, &buf[..n]);
            if let Some(server) = &mut self.server {
                server.console_output(index, &buf[..n]);
            }
            if relay {
                let mut out = io::stdout();
                let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
            }
        }
    }

    fn drain_terminals(&mut self, relay: bool) {
        for i in 0..self.terminals.as_ref().map_or(0, Terminals::count) {
            self.terminal_output(i, relay && i == 0);
        }
    }

    /// Passes the user's keystrokes to the console. Returns false at end of input.
    fn forward_stdin(&self, stdin: BorrowedFd<'_>) -> bool {
        let Some(master) = self.terminals.as_ref().and_then(|t| t.master(0)) else {
            return false;
        };
        terminal::pump(stdin, master)
    }
}

/// The halt signal: the config's, else SIGRTMIN+3 for systemd, else SIGPWR (which corral's
/// own init passes on as SIGTERM).
fn halt_signal(config: &ContainerConfig, plan: &Plan) -> i32 {
    if let Some(signal) = config.signals.halt {
        return signal.0;
    }
    let program = plan
        .process
        .args
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    if !plan.process.corral_init && is_systemd(&plan.mounts.rootfs.path, program) {
        libc::SIGRTMIN() + 3
    } else {
        libc::SIGPWR
    }
}

/// Whether `program` inside `rootfs` is systemd, following symlinks within the rootfs.
fn is_systemd(rootfs: &Path, program: &str) -> bool {
    let mut path = PathBuf::from(program);
    for _ in 0..8 {
        let on_host = rootfs.join(path.strip_prefix("/").unwrap_or(&path));
        match fs::read_link(&on_host) {
            Ok(target) if target.is_absolute() => path = target,
            Ok(target) => path = path.parent().unwrap_or(Path::new("/")).join(target),
            Err(_) => break,
        }
    }
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().contains("systemd"))
}

/// Init's end, if it has ended.
fn reaped(pid: Pid) -> Option<WaitStatus> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => None,
        Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => Some(status),
        Ok(_) => None,
        Err(_) => Some(WaitStatus::Exited(pid, 125)),
    }
}

fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        _ => 125,
    }
}
