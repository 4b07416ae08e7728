//! `clone3(2)` as a fork into new namespaces, with a pidfd for race-free tracking.

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// The kernel's `struct clone_args` (linux/sched.h), version 0 fields.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// Which side of the fork this is.
#[derive(Debug)]
pub enum Forked {
    /// The parent, with the child's PID and a pidfd for it.
    Parent(Pid, OwnedFd),
    /// The child.
    Child,
}

/// Forks into the namespaces in `flags`. The child runs on a copy of the caller's stack, as
/// after fork(2), so the caller must be single-threaded.
pub fn fork_into(flags: CloneFlags) -> nix::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        flags: u64::from(flags.bits().cast_unsigned()) | libc::CLONE_PIDFD as u64,
        pidfd: &raw mut pidfd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed; without a stack the child
    // continues on a copy-on-write copy of this stack, like fork(2), and the caller
    // guarantees no other thread exists whose locks the child could inherit.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &raw const args, size_of::<CloneArgs>()) };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => {
            // SAFETY: the kernel stored a new pidfd, owned by nobody else, in `pidfd`.
            let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            let pid = i32::try_from(pid).map_err(|_| Errno::EOVERFLOW)?;
            Ok(Forked::Parent(Pid::from_raw(pid), fd))
        }
    }
}
