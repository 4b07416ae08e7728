//! Running a command inside a running container: its namespaces, its cgroup and the same
//! security as its init, a clean environment, a pseudo-terminal when interactive.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use corral_hooks::{NamespaceKind, ProcessPlan};
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, isatty};

use crate::container::Container;
use crate::runtime::{self, RuntimeState};
use crate::stages::{self, OpError};
use crate::terminal::{self, Pty, RawMode};

/// What to run, and how.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// The command and its arguments; empty for the user's shell.
    pub command: Vec<String>,
    /// Keep the caller's environment instead of the container's clean one.
    pub keep_env: bool,
    /// Extra variables, as `NAME=VALUE`.
    pub set_vars: Vec<String>,
    /// The user ID to run as, instead of init's.
    pub uid: Option<u32>,
    /// The group ID to run as, instead of init's.
    pub gid: Option<u32>,
    /// The working directory inside the container, instead of init's.
    pub cwd: Option<PathBuf>,
    /// Which of init's namespaces to enter, as `CLONE_NEW*` bits; none enters them all.
    pub namespaces: Option<i32>,
    /// Descriptors to use as the command's stdin, stdout and stderr instead of the caller's.
    pub stdio: [Option<RawFd>; 3],
}

/// An error attaching.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The container does not run.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// A variable is not `NAME=VALUE`.
    #[error("`{0}` is not NAME=VALUE")]
    BadVariable(String),
    /// Setting up failed before the command ran.
    #[error("cannot attach to {name}: {what}")]
    Setup {
        /// The container.
        name: String,
        /// What failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Entering the container failed.
    #[error("cannot enter {0}")]
    Enter(String, #[source] OpError),
}

/// Runs `options.command` in the running container and returns its exit status (128+N
/// for signal N).
pub fn attach(container: &Container<'_>, options: &AttachOptions) -> Result<i32, AttachError> {
    let name = container.name().to_owned();
    let state = runtime::load(&container.runtime_dir())
        .filter(RuntimeState::init_alive)
        .ok_or_else(|| AttachError::NotRunning(name.clone()))?;
    let setup = |what: &str| {
        let name = name.clone();
        let what = what.to_owned();
        move |source: io::Error| AttachError::Setup { name, what, source }
    };
    let process = process_plan(&state, options)?;
    // Everything on the host is opened before entering: afterwards, host paths are gone.
    let pidfd = pidfd_open(state.pid).map_err(setup("open init's pidfd"))?;
    if !state.init_alive() {
        return Err(AttachError::NotRunning(name));
    }
    let join: Vec<fs::File> = state
        .cgroup
        .join_files()
        .map_err(|e| io::Error::other(crate::error_chain(&e)))
        .map_err(setup("open the container's cgroup"))?;
    let stdin = terminal::stdin();
    // Descriptors handed over are used as they are, without a pseudo-terminal.
    let pty = if options.stdio.iter().all(Option::is_none) && isatty(stdin).unwrap_or(false) {
        Some(Pty::open(Some(stdin)).map_err(|e| setup("open a pseudo-terminal")(e.into()))?)
    } else {
        None
    };
    let mut flags = enter_flags(&state);
    if let Some(wanted) = options.namespaces {
        flags &= CloneFlags::from_bits_truncate(wanted);
    }
    // SAFETY: the child only duplicates descriptors, makes system calls, forks and execs or
    // exits; in a threaded caller (the Python package) it touches no lock another thread
    // could hold but the allocator's, which glibc resets in a forked child.
    match unsafe { fork() }.map_err(|e| setup("fork")(e.into()))? {
        ForkResult::Child => {
            for (target, fd) in options.stdio.iter().enumerate() {
                if let (Some(fd), Ok(target)) = (fd, RawFd::try_from(target)) {
                    // SAFETY: dup2 on descriptors the caller handed over; checked below.
                    if unsafe { libc::dup2(*fd, target) } < 0 {
                        // SAFETY: leave the forked copy without running its destructors.
                        unsafe { libc::_exit(125) }
                    }
                }
            }
            let code = match enter_and_run(&pidfd, flags, &join, pty.as_ref(), &state, &process) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("corral: error: cannot enter {name}: {e}");
                    125
                }
            };
            // SAFETY: leave the forked copy of the CLI without running its destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(join);
            let status = match &pty {
                Some(pty) => {
                    let child_fd = pidfd_open(child.as_raw()).ok();
                    let _raw = RawMode::enter(stdin).ok();
                    terminal::relay(
                        pty.master.as_fd(),
                        child_fd.as_ref().map(AsFd::as_fd),
                        false,
                        &[],
                    );
                    waitpid(child, None)
                }
                None => waitpid(child, None),
            };
            Ok(match status {
                Ok(WaitStatus::Exited(_, code)) => code,
                Ok(WaitStatus::Signaled(_, signal, _)) => 128 + signal as i32,
                _ => 125,
            })
        }
    }
}

/// The namespaces init has of its own.
fn enter_flags(state: &RuntimeState) -> CloneFlags {
    let ns = &state.plan.namespaces;
    [
        (NamespaceKind::Mnt, CloneFlags::CLONE_NEWNS),
        (NamespaceKind::Pid, CloneFlags::CLONE_NEWPID),
        (NamespaceKind::Uts, CloneFlags::CLONE_NEWUTS),
        (NamespaceKind::Ipc, CloneFlags::CLONE_NEWIPC),
        (NamespaceKind::Net, CloneFlags::CLONE_NEWNET),
        (NamespaceKind::Cgroup, CloneFlags::CLONE_NEWCGROUP),
    ]
    .into_iter()
    .filter(|(kind, _)| ns.is_new(*kind))
    .fold(CloneFlags::empty(), |flags, (_, flag)| flags | flag)
}

/// In the forked child: join the cgroup and the namespaces, then fork once more (a PID
/// namespace only takes children) and run the command there.
fn enter_and_run(
    pidfd: &OwnedFd,
    flags: CloneFlags,
    join: &[fs::File],
    pty: Option<&Pty>,
    state: &RuntimeState,
    process: &ProcessPlan,
) -> Result<i32, OpError> {
    use stages::Op;
    use std::io::Write;
    for mut file in join {
        file.write_all(b"0")
            .op(|| "join the container's cgroup".into())?;
    }
    // SAFETY: setns with a pidfd and namespace flags; the kernel enters them all or none.
    if unsafe { libc::setns(pidfd.as_raw_fd(), flags.bits()) } < 0 {
        return Err(OpError {
            operation: "enter the container's namespaces".into(),
            errno: nix::errno::Errno::last_raw(),
        });
    }
    if let Some(pty) = pty {
        nix::unistd::dup2_stdin(&pty.slave).op(|| "attach the terminal".into())?;
        nix::unistd::dup2_stdout(&pty.slave).op(|| "attach the terminal".into())?;
        nix::unistd::dup2_stderr(&pty.slave).op(|| "attach the terminal".into())?;
    }
    // SAFETY: still single-threaded; the grandchild execs or exits.
    match unsafe { fork() }.op(|| "fork into the container".into())? {
        ForkResult::Child => {
            // Masks, read-only paths and sysctls are init's, in the container's mount
            // namespace: attaching only restricts itself.
            let result = stages::security::restrict_process(&state.plan.security)
                .and_then(|()| stages::security::enter(&state.plan.security, process));
            let errno = match result {
                // Nobody serves a notify listener for an attached process: its calls fail.
                Ok(listener) => {
                    drop(listener);
                    crate::pipeline::exec(process)
                }
                Err(e) => {
                    eprintln!("corral: error: {e}");
                    // SAFETY: leave without running destructors.
                    unsafe { libc::_exit(125) }
                }
            };
            let program = process.args.first().map_or("", String::as_str);
            eprintln!(
                "corral: error: cannot execute {program}: {}",
                io::Error::from(errno)
            );
            // SAFETY: as above.
            unsafe {
                libc::_exit(if errno == nix::errno::Errno::ENOENT {
                    127
                } else {
                    126
                })
            }
        }
        ForkResult::Parent { child } => Ok(match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => code,
            Ok(WaitStatus::Signaled(_, signal, _)) => 128 + signal as i32,
            _ => 125,
        }),
    }
}

/// What runs: the command (or the user's shell), with the container's environment.
fn process_plan(state: &RuntimeState, options: &AttachOptions) -> Result<ProcessPlan, AttachError> {
    let base = &state.plan.process;
    let mut env: Vec<String> = if options.keep_env {
        std::env::vars().map(|(k, v)| format!("{k}={v}")).collect()
    } else {
        base.env.clone()
    };
    if !options.keep_env && isatty(terminal::stdin()).unwrap_or(false) {
        env.push(format!(
            "TERM={}",
            std::env::var("TERM").unwrap_or_else(|_| "linux".into())
        ));
    }
    for var in &options.set_vars {
        let Some((key, _)) = var.split_once('=') else {
            return Err(AttachError::BadVariable(var.clone()));
        };
        env.retain(|e| e.split_once('=').is_none_or(|(k, _)| k != key));
        env.push(var.clone());
    }
    let args = if options.command.is_empty() {
        vec![login_shell(state, base.uid)]
    } else {
        options.command.clone()
    };
    Ok(ProcessPlan {
        args,
        env,
        terminal: isatty(terminal::stdin()).unwrap_or(false),
        corral_init: false,
        uid: options.uid.unwrap_or(base.uid),
        gid: options.gid.unwrap_or(base.gid),
        cwd: options.cwd.clone().unwrap_or_else(|| base.cwd.clone()),
        ..base.clone()
    })
}

/// The shell of `uid` in the container's `/etc/passwd`, or `/bin/sh`.
fn login_shell(state: &RuntimeState, uid: u32) -> String {
    let passwd = state.plan.mounts.rootfs.path.join("etc/passwd");
    fs::read_to_string(passwd)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.get(2) == Some(&uid.to_string().as_str()))
                    .then(|| fields.get(6).map(|s| (*s).to_owned()))
                    .flatten()
            })
        })
        .filter(|shell| !shell.is_empty() && CString::new(shell.as_str()).is_ok())
        .unwrap_or_else(|| "/bin/sh".to_owned())
}

pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a PID and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
