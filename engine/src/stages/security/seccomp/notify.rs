//! The monitor's side of `notify` rules: it holds the filter's listener and answers each
//! call. Until plugins can take these decisions, every call is logged and refused with
//! `EPERM`; a container whose monitor is gone gets `ENOSYS` from the kernel instead.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Serves the listeners init handed over, each on a thread of its own that ends when the
/// last process under the filter has.
pub fn supervise(listeners: Vec<OwnedFd>) {
    for listener in listeners {
        let spawned = std::thread::Builder::new()
            .name("seccomp-notify".into())
            .spawn(move || serve(&listener));
        if let Err(e) = spawned {
            tracing::warn!(%e, "cannot serve seccomp notifications: the calls fail with ENOSYS");
        }
    }
}

fn serve(listener: &OwnedFd) {
    loop {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
            Ok(_) => {}
        }
        let events = fds[0].revents().unwrap_or(PollFlags::empty());
        if !events.contains(PollFlags::POLLIN) {
            // POLLHUP: nothing is left under the filter.
            return;
        }
        let Ok(request) = ScmpNotifReq::receive(listener.as_raw_fd()) else {
            // The caller died or was interrupted before we took its call.
            continue;
        };
        let syscall = request
            .data
            .syscall
            .get_name_by_arch(request.data.arch)
            .unwrap_or_else(|_| "?".into());
        tracing::info!(
            pid = request.pid,
            syscall,
            "seccomp notification: refused with EPERM"
        );
        let response =
            ScmpNotifResp::new_error(request.id, -libc::EPERM, ScmpNotifRespFlags::empty());
        // The caller may have died meanwhile: nothing to answer then.
        let _ = response.respond(listener.as_raw_fd());
    }
}
