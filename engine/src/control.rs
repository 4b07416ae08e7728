//! Driving a container from another program: starting it under a daemon monitor, waiting
//! for a state, stopping it, and its cgroup files. The CLI and the Python package share these.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};

use crate::container::{Container, Corral};
use crate::monitor::{
    self, ClientError, Event, Mode, MonitorError, Request, Response, State, StopMode,
};
use crate::pipeline::netns;
use crate::runtime::{self, RuntimeState};

/// The variable that hands the monitor its status pipe.
pub const STATUS_FD_VAR: &str = "CORRAL_MONITOR_STATUS_FD";

/// How to run the `corral` program as a container's monitor.
#[derive(Debug, Clone)]
pub struct MonitorCommand {
    /// The `corral` program.
    pub program: PathBuf,
    /// The global config file it reads.
    pub config: PathBuf,
    /// Its log level (`--log-level`).
    pub log_level: String,
    /// Its log file (`--log-file`); none logs to nowhere, as its stderr is closed.
    pub log_file: Option<PathBuf>,
}

impl MonitorCommand {
    /// The program with the global options that put it in `corral`'s world; the caller
    /// adds the subcommand.
    pub fn command(&self, corral: &Corral) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--root")
            .arg(&corral.paths.root)
            .arg("--run-dir")
            .arg(&corral.paths.run)
            .arg("--config")
            .arg(&self.config)
            .arg("--log-level")
            .arg(&self.log_level);
        if let Some(file) = &self.log_file {
            cmd.arg("--log-file").arg(file);
        }
        cmd
    }
}

/// An error starting a container under a daemon monitor.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No container of that name.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// The monitor could not be started.
    #[error("cannot start the monitor of {0}")]
    Spawn(String, #[source] io::Error),
    /// The monitor reported why the container did not start.
    #[error("{0}")]
    Failed(String),
    /// The monitor exited without a word.
    #[error("the monitor of {0} exited before the container ran")]
    Vanished(String),
}

/// Starts `container` under a daemon monitor: `monitor.program __monitor NAME`, a fresh
/// program image (never a fork of the caller, which may be threaded or large, as a Python
/// program is), and waits until it reports RUNNING or why not. The monitor's first process
/// forks the real one and exits; it is reaped here, so a long-lived caller is left no zombie.
pub fn start_daemon(
    corral: &Corral,
    container: &Container<'_>,
    monitor: &MonitorCommand,
) -> Result<(), StartError> {
    launch(container, |theirs| {
        let theirs_fd = theirs.as_raw_fd();
        let mut cmd = monitor.command(corral);
        cmd.arg0(format!("[corral monitor] {}", container.name()));
        cmd.arg("__monitor")
            .arg(container.name())
            .env(STATUS_FD_VAR, theirs_fd.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The monitor holds no descriptor of its caller's but its end of the pipe, made
        // inheritable in the child alone: in a threaded caller, another thread's monitor must
        // not inherit this one's end (it would hold the pipe open, and this start would wait
        // for ever), and a pipe its caller reads to the end must not stay open for the
        // container's life.
        let prepare = move || {
            // SAFETY: fcntl on a descriptor number this function owns; the result is checked.
            if unsafe { libc::fcntl(theirs_fd, libc::F_SETFD, 0) } < 0 {
                return Err(io::Error::last_os_error());
            }
            crate::pipeline::close_other_fds(theirs_fd);
            Ok(())
        };
        // SAFETY: the closure runs between fork and exec and only calls fcntl and
        // close_range, which are async-signal-safe.
        unsafe { cmd.pre_exec(prepare) };
        let child = cmd.spawn()?;
        let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
        Ok(Spawned::Starter(Pid::from_raw(pid)))
    })
}

/// Starts `container` as [`start_daemon`] does, with a fork of this process as its monitor
/// instead of a fresh program: the monitor is spared a program's start (about 1 ms of the
/// container's, measured). The monitor stays this process's child until this process ends,
/// which `corral start` does at once: no intermediate process is forked to reparent it.
///
/// # Safety
///
/// The process must run no thread but this one and the one making a network namespace
/// ahead ([`netns::make_ahead`], which takes no lock), as `corral start` does: a fork keeps
/// only the calling thread, and locks the others held would stay locked in the monitor.
pub unsafe fn start_daemon_forked(container: &Container<'_>) -> Result<(), StartError> {
    let handover = netns::handover();
    launch(container, |theirs| {
        // SAFETY: the caller guarantees no other thread but the one making a network
        // namespace ahead, which holds no lock; the child is handed what it makes.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => {
                if let Some(handover) = handover {
                    handover.send();
                }
                Ok(Spawned::Monitor(child))
            }
            ForkResult::Child => {
                match handover {
                    Some(handover) => handover.receive(),
                    None => netns::make_ahead(),
                }
                // Not even a panic may unwind into the caller's code.
                let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    detach_stdio().and_then(|()| {
                        close_inherited();
                        run_monitor_daemon(container, File::from(theirs)).map_err(io::Error::other)
                    })
                }));
                let status = i32::from(!matches!(ran, Ok(Ok(_))));
                // SAFETY: a forked copy of the caller must never return into it.
                unsafe { libc::_exit(status) }
            }
        }
    })
}

/// The process a start spawned.
enum Spawned {
    /// A process that forks the monitor and ends at once.
    Starter(Pid),
    /// The monitor itself, which ends when the container does, or when it fails to start.
    Monitor(Pid),
}

/// The part of a start the two ways of making a monitor share: `spawn` gets the monitor's
/// end of the status pipe; the monitor's answer decides. Whatever spawn started is reaped
/// once it has ended: a starter always, the monitor when the start failed.
fn launch(
    container: &Container<'_>,
    spawn: impl FnOnce(OwnedFd) -> io::Result<Spawned>,
) -> Result<(), StartError> {
    let name = container.name().to_owned();
    if !container.exists() {
        return Err(StartError::NotFound(name));
    }
    let spawn_err = |e: io::Error| StartError::Spawn(name.clone(), e);
    let (status, theirs) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| spawn_err(e.into()))?;
    // `spawn` consumes our copy of the monitor's end, so that the pipe ends when the monitor does.
    let spawned = spawn(theirs).map_err(spawn_err)?;
    // One line is the answer: the monitor, running on, need not close the pipe.
    let mut answer = String::new();
    let _ = BufReader::new(File::from(status)).read_line(&mut answer);
    let running = answer.trim_end() == "RUNNING";
    match spawned {
        Spawned::Starter(pid) => waitpid(pid, None).map(drop),
        Spawned::Monitor(pid) if !running => waitpid(pid, None).map(drop),
        Spawned::Monitor(_) => Ok(()),
    }
    .map_err(|e| spawn_err(e.into()))?;
    match answer.lines().next() {
        _ if running => Ok(()),
        Some(line) => Err(StartError::Failed(
            line.strip_prefix("ERROR ").unwrap_or(line).to_owned(),
        )),
        None => Err(StartError::Vanished(name)),
    }
}

/// The monitor daemon's life, in the process that becomes it: a session of its own, `/` as
/// its directory and its title, then the container's. `status` hears RUNNING or why not.
/// The caller has started making the container's network namespace (see
/// [`netns::make_ahead`]).
pub fn run_monitor_daemon(container: &Container<'_>, status: File) -> Result<i32, MonitorError> {
    let _ = nix::unistd::setsid();
    let _ = std::env::set_current_dir("/");
    crate::proctitle::set(&format!("[corral monitor] {}", container.name()));
    monitor::run(container, Mode::Start { foreground: false }, Some(status))
}

/// Points stdin, stdout and stderr at `/dev/null`.
fn detach_stdio() -> io::Result<()> {
    let null = File::options().read(true).write(true).open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Closes the descriptors above stderr this process inherited from its caller: those
/// without close-on-exec, which every descriptor corral opens has (its log file, the status
/// pipe), and none that survived the caller's exec of corral does.
fn close_inherited() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD only reads a descriptor's flags; a closed one gives -1.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            // SAFETY: the descriptor is the caller's, and nothing here uses it.
            unsafe { libc::close(fd) };
        }
    }
}

/// Asks the monitor to stop (or reboot) the container. For a halt or a kill, waits until
/// everything is torn down, for up to `grace` (none: forever); returns false when that time
/// ran out.
pub fn stop(
    container: &Container<'_>,
    mode: StopMode,
    grace: Option<Duration>,
) -> Result<bool, ClientError> {
    let mut client = container.client()?;
    client.request(&Request::Stop(mode))?;
    if mode == StopMode::Reboot {
        return Ok(true);
    }
    // The monitor closes the connection once everything is torn down.
    client.wait_closed(grace)
}

/// Waits until the container is in one of `wanted`, for up to `timeout` (none: forever).
/// Returns false when the time ran out.
pub fn wait(
    container: &Container<'_>,
    wanted: &[State],
    timeout: Option<Duration>,
) -> Result<bool, ClientError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    loop {
        if left() == Some(Duration::ZERO) {
            return Ok(false);
        }
        let mut client = match container.client() {
            Ok(client) => client,
            Err(ClientError::NotRunning(_)) => {
                // No monitor answers: stopped, or starting (its lock is taken already).
                if wanted.contains(&container.state()) {
                    return Ok(true);
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(e),
        };
        match client.request(&Request::State) {
            Ok(Response::State { state, .. }) if wanted.contains(&state) => return Ok(true),
            Ok(_) => {}
            Err(ClientError::NotRunning(_)) => continue,
            Err(e) => return Err(e),
        }
        let mut events = container.client()?;
        if events.request(&Request::Subscribe).is_err() {
            continue;
        }
        loop {
            let timeout = left().map(|d| d.max(Duration::from_millis(1)));
            match events.next_event(timeout) {
                Ok(Some(Event { state, .. })) if wanted.contains(&state) => return Ok(true),
                Ok(Some(_)) => {}
                Ok(None) if wanted.contains(&State::Stopped) => return Ok(true),
                Ok(None) => break,
                Err(_) if left() == Some(Duration::ZERO) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

/// An error reading or writing a cgroup file of a running container.
#[derive(Debug, thiserror::Error)]
pub enum CgroupItemError {
    /// The key is not a plain file name.
    #[error("`{0}` is not a cgroup file name")]
    BadKey(String),
    /// The container does not run.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// None of its cgroup directories has that file.
    #[error("container {0} has no cgroup file {1}")]
    NoSuchFile(String, String),
    /// Reading or writing failed.
    #[error("cannot {0} {1}")]
    Io(&'static str, String, #[source] io::Error),
}

/// The cgroup file `key` of the running container, in whichever of its hierarchies has it.
fn cgroup_file(container: &Container<'_>, key: &str) -> Result<PathBuf, CgroupItemError> {
    if key.is_empty() || key.contains('/') || key.starts_with('.') {
        return Err(CgroupItemError::BadKey(key.to_owned()));
    }
    let name = container.name().to_owned();
    let state = runtime::load(&container.runtime_dir())
        .filter(RuntimeState::init_alive)
        .ok_or_else(|| CgroupItemError::NotRunning(name.clone()))?;
    state
        .cgroup
        .dirs
        .iter()
        .map(|d| d.join(key))
        .find(|p| p.exists())
        .ok_or_else(|| CgroupItemError::NoSuchFile(name, key.to_owned()))
}

/// Reads the cgroup file `key` (`memory.max`, `pids.current`), trailing newlines removed.
pub fn cgroup_get(container: &Container<'_>, key: &str) -> Result<String, CgroupItemError> {
    let path = cgroup_file(container, key)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CgroupItemError::Io("read", display(&path), e))?;
    Ok(text.trim_end().to_owned())
}

/// Writes `value` to the cgroup file `key`.
pub fn cgroup_set(
    container: &Container<'_>,
    key: &str,
    value: &str,
) -> Result<(), CgroupItemError> {
    let path = cgroup_file(container, key)?;
    std::fs::write(&path, value).map_err(|e| CgroupItemError::Io("write", display(&path), e))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
