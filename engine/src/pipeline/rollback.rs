//! What the monitor has changed on the host, and how to undo it, in reverse order. The
//! same list tears a container down when it ends and rolls a start back when it fails.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use corral_hooks::Stage;
use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::stages::cgroups::Cgroup;
use crate::stages::network::Attachment;

/// One change to undo.
#[derive(Debug)]
pub enum Undo {
    /// The container's init: kill it and reap it.
    Init {
        /// Its PID.
        pid: Pid,
        /// Its pidfd, so the kill cannot hit a recycled PID.
        pidfd: OwnedFd,
    },
    /// The container's cgroup: kill what is left in it and remove it.
    Cgroup(Cgroup),
    /// The runtime directory.
    RuntimeDir(PathBuf),
    /// An interface of the container: remove its host side, or give it back to the host.
    Network(Box<Attachment>),
}

/// Changes made so far, each with the stage that made it. Clones share one list, so that
/// the hook watchdog can undo a start whose thread is stuck in a plugin (see
/// [`crate::hooks`]); whoever undoes first undoes everything, once.
#[derive(Debug, Default, Clone)]
pub struct Rollback {
    steps: Arc<Mutex<Vec<Step>>>,
}

/// A change, and the stage that made it (none: the monitor).
type Step = (Option<Stage>, Undo);

impl Rollback {
    fn lock(&self) -> MutexGuard<'_, Vec<Step>> {
        self.steps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a change.
    pub fn push(&self, stage: Option<Stage>, undo: Undo) {
        self.lock().push((stage, undo));
    }

    /// The cgroup, once the cgroups stage made it: the last one made, where a hook moved it.
    pub fn cgroup(&self) -> Option<Cgroup> {
        self.lock().iter().rev().find_map(|(_, u)| match u {
            Undo::Cgroup(c) => Some(c.clone()),
            _ => None,
        })
    }

    /// Sends `signal` to init, once the namespaces stage cloned it (`ESRCH` before).
    pub fn signal_init(&self, signal: i32) -> Result<(), Errno> {
        let steps = self.lock();
        let pidfd = steps.iter().find_map(|(_, u)| match u {
            Undo::Init { pidfd, .. } => Some(pidfd),
            _ => None,
        });
        pidfd.map_or(Err(Errno::ESRCH), |pidfd| pidfd_kill(pidfd, signal))
    }

    /// Undoes every change, newest first. Failures are logged: each later step still runs.
    pub fn undo(&self) {
        let steps = std::mem::take(&mut *self.lock());
        for (stage, step) in steps.into_iter().rev() {
            let stage = stage.map_or("monitor", Stage::name);
            match step {
                Undo::Init { pid, pidfd } => {
                    if let Err(e) = pidfd_kill(&pidfd, libc::SIGKILL)
                        && e != Errno::ESRCH
                    {
                        tracing::warn!(stage, %pid, %e, "cannot kill init");
                    }
                    match waitpid(pid, None) {
                        Ok(_) | Err(Errno::ECHILD) => {}
                        Err(e) => tracing::warn!(stage, %pid, %e, "cannot reap init"),
                    }
                }
                Undo::Cgroup(cgroup) => {
                    let result = cgroup.remove();
                    if let Err(e) = result {
                        tracing::warn!(stage, error = %crate::error_chain(&e), "cannot remove cgroup");
                    }
                }
                Undo::Network(attachment) => {
                    let name = attachment.name().to_owned();
                    if let Err(e) = attachment.detach() {
                        tracing::warn!(stage, interface = %name, error = %crate::error_chain(&e), "cannot remove interface");
                    }
                }
                Undo::RuntimeDir(dir) => {
                    if let Err(e) = fs::remove_dir_all(&dir)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(stage, dir = %dir.display(), %e, "cannot remove runtime dir");
                    }
                }
            }
        }
    }
}

/// Sends a signal through a pidfd.
pub fn pidfd_kill(pidfd: &OwnedFd, signal: i32) -> Result<(), Errno> {
    // SAFETY: pidfd_send_signal with a valid pidfd, a null siginfo and no flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 { Err(Errno::last()) } else { Ok(()) }
}
