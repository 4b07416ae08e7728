//! Network namespaces as descriptors: opening a process's, and running a little code in
//! another one.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sched::{CloneFlags, setns};

/// The network namespace of process `pid`. Holding it keeps the namespace alive, even once
/// the process is gone: teardown can still reach the interfaces inside.
pub fn of_process(pid: i32) -> io::Result<OwnedFd> {
    File::open(format!("/proc/{pid}/ns/net")).map(OwnedFd::from)
}

/// The calling thread's own network namespace.
pub fn current() -> io::Result<OwnedFd> {
    File::open("/proc/thread-self/ns/net").map(OwnedFd::from)
}

/// Runs `f` with the calling thread in the namespace `netns`, then returns the thread to
/// where it was. Only what `f` creates there (a socket) stays behind.
pub fn within<T>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> io::Result<T> {
    let home = current()?;
    setns(netns, CloneFlags::CLONE_NEWNET)?;
    let result = f();
    // Failing to come back would leave this thread acting in the container: the error
    // reaches the caller, whose operation fails rather than go on in the wrong place.
    setns(home.as_fd(), CloneFlags::CLONE_NEWNET)?;
    Ok(result)
}
