//! A network namespace made ahead, on a thread, while `corral execute` still parses, reads
//! its config and plans: of everything init is cloned into, a new network namespace costs
//! the most (about 0.45 ms of the clone's 0.65 on the development machine), and the second
//! CPU is idle meanwhile. Init is then cloned inside it rather than into a new one.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use std::thread::JoinHandle;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;

use super::clone::{self, Forked};

/// The thread making the namespace. It is process-wide because a process starts one
/// container at a time, and it is taken (joined) before init is cloned: no thread of ours
/// may be running then.
static AHEAD: Mutex<Option<JoinHandle<nix::Result<OwnedFd>>>> = Mutex::new(None);

/// Starts making a network namespace for the container this process is about to start.
/// Only for a process that clones init itself, without forking first (`corral execute`):
/// a fork would copy the handle but not the thread.
pub fn make_ahead() {
    let made = std::thread::Builder::new()
        .name("corral-netns".into())
        .stack_size(64 * 1024)
        .spawn(|| {
            // A thread's namespaces are its own: only this one moves.
            unshare(CloneFlags::CLONE_NEWNET)?;
            own_namespace()
        });
    if let (Ok(handle), Ok(mut ahead)) = (made, AHEAD.lock()) {
        *ahead = Some(handle);
    }
}

/// Forks into the namespaces in `flags` (see [`clone::fork_into`]); for a new network
/// namespace, into the one made ahead if there is one.
pub fn fork_into(mut flags: CloneFlags) -> nix::Result<Forked> {
    let ahead = AHEAD.lock().ok().and_then(|mut ahead| ahead.take());
    let made = ahead.and_then(|thread| thread.join().ok()?.ok());
    let Some(made) = made.filter(|_| flags.contains(CloneFlags::CLONE_NEWNET)) else {
        return clone::fork_into(flags);
    };
    flags.remove(CloneFlags::CLONE_NEWNET);
    let own = own_namespace()?;
    setns(made.as_fd(), CloneFlags::CLONE_NEWNET)?;
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
