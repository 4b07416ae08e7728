//! A network namespace made ahead, on a thread, while `corral execute` (or a new monitor)
//! still parses, reads its config and plans: of everything init is cloned into, a new
//! network namespace costs the most (about 0.45 ms of the clone's 0.65 on the development
//! machine), and the second CPU is idle meanwhile. Its loopback is brought up there too,
//! which init's network stage would otherwise do (about 0.06 ms): init takes it down again
//! if its plan says so. Init is then cloned inside it rather than into a new one; if it
//! cannot be entered, into a new one after all.
//!
//! `corral start` makes it as it starts, before it forks the monitor: the thread is not the
//! monitor's, so the namespace is handed over on a socket once made ([`Handover`]).

use std::os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::{Mutex, PoisonError};

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;

use super::channel::Channel;
use super::clone::{self, Forked};
use crate::bare_thread::Joinable;

/// The thread's stack: its few frames, and glibc's thread block and static TLS at the top.
const STACK: usize = 64 * 1024;

/// The thread making the namespace. It is process-wide because a process starts one
/// container at a time, and it is joined before init is cloned: no thread of ours may be
/// running then.
static AHEAD: Mutex<Option<Joinable>> = Mutex::new(None);

/// Starts making a network namespace for the container this process is about to start.
/// Only for a process that clones init itself, without forking first (`corral execute`, a
/// monitor): a fork would copy the handle but not the thread.
pub fn make_ahead() {
    // SAFETY: `make` takes no argument and touches nothing of ours.
    if let Ok(thread) = unsafe { Joinable::spawn(STACK, make, std::ptr::null_mut()) } {
        *AHEAD.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread);
    }
}

/// The thread: moves itself (a thread's namespaces are its own) into a new network
/// namespace, brings its loopback up and returns a descriptor of it, or -1. System calls
/// only: no allocation, nothing that could unwind.
extern "C" fn make(_: *mut libc::c_void) -> *mut libc::c_void {
    let fd = unshare(CloneFlags::CLONE_NEWNET)
        .and_then(|()| {
            crate::stages::network::loopback_up();
            own_namespace()
        })
        .map_or(-1, IntoRawFd::into_raw_fd);
    fd as isize as *mut libc::c_void
}

/// The socket a namespace made ahead by the process this one was forked from comes on.
static HANDED_OVER: Mutex<Option<Channel>> = Mutex::new(None);

/// The namespace made ahead, if it could be: from this process's thread (waiting for it), or
/// from the process that forked this one (waiting for it to send it).
fn take() -> Option<OwnedFd> {
    let thread = AHEAD.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some(thread) = thread else {
        let channel = HANDED_OVER
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        // The parent sends nothing when its thread made nothing: the channel just closes.
        let ((), fds) = channel.recv_with_fds().ok()?;
        return fds.into_iter().next();
    };
    let ret = thread.join().ok()?;
    let fd = i32::try_from(ret as isize).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the thread opened this descriptor for us, and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A namespace being made ahead here, for a child about to be forked: the child cannot wait
/// for this process's thread, so the parent sends it the namespace once made.
#[derive(Debug)]
pub struct Handover {
    parent: Channel,
    child: Channel,
}

/// Before a fork: the hand-over of the namespace this process is making ahead, if it is.
pub fn handover() -> Option<Handover> {
    if AHEAD
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_none()
    {
        return None;
    }
    let (parent, child) = Channel::pair().ok()?;
    Some(Handover { parent, child })
}

impl Handover {
    /// In the parent, after the fork: waits for the thread and sends what it made. Sending
    /// nothing (the socket just closes) tells the child to make its own.
    pub fn send(self) {
        drop(self.child);
        if let Some(made) = take() {
            let _ = self.parent.send_with_fds(&(), &[made.as_fd()]);
        }
    }

    /// In the child, after the fork: the namespace comes from the parent. The thread making
    /// it runs there only: its stack, copied here, is given back.
    pub fn receive(self) {
        drop(self.parent);
        if let Some(thread) = AHEAD.lock().unwrap_or_else(PoisonError::into_inner).take() {
            // SAFETY: this is the child of the fork the hand-over was made for, which has
            // no copy of the thread.
            unsafe { thread.abandon_after_fork() };
        }
        *HANDED_OVER.lock().unwrap_or_else(PoisonError::into_inner) = Some(self.child);
    }
}

/// Forks into the namespaces in `flags` (see `clone::fork_into`); for a new network
/// namespace, into the one made ahead if there is one.
pub(super) fn fork_into(mut flags: CloneFlags) -> nix::Result<Forked> {
    let Some(made) = take().filter(|_| flags.contains(CloneFlags::CLONE_NEWNET)) else {
        return clone::fork_into(flags);
    };
    // A namespace made ahead only saves time: one that cannot be used is no failure.
    let Ok(own) = own_namespace() else {
        return clone::fork_into(flags);
    };
    if setns(made.as_fd(), CloneFlags::CLONE_NEWNET).is_err() {
        return clone::fork_into(flags);
    }
    flags.remove(CloneFlags::CLONE_NEWNET);
    let forked = clone::fork_into(flags);
    if let Ok(Forked::Child) = forked {
        return forked;
    }
    if let Err(e) = setns(own.as_fd(), CloneFlags::CLONE_NEWNET) {
        // Never go on in the container's namespace: interfaces would be made in it.
        if let Ok(Forked::Parent(child, _)) = forked {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
        }
        return Err(e);
    }
    forked
}

fn own_namespace() -> nix::Result<OwnedFd> {
    open(
        "/proc/thread-self/ns/net",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

#[cfg(test)]
mod tests {
    use nix::sys::stat::fstat;

    use super::*;

    #[test]
    fn the_namespace_made_ahead_is_a_new_one() {
        make_ahead();
        let made = take().expect("a network namespace made ahead (needs root)");
        let own = own_namespace().expect("this thread's network namespace");
        let inode = |fd: &OwnedFd| fstat(fd.as_fd()).expect("fstat").st_ino;
        assert_ne!(inode(&made), inode(&own));
        assert!(take().is_none(), "taken once");
    }
}
