//! The monitor's side of `notify` rules: it holds the filter's listener, polls it with its
//! other descriptors, and answers each call. Until plugins can take these decisions, every
//! call is logged and refused with `EPERM`; a container whose monitor is gone gets `ENOSYS`
//! from the kernel instead.

use std::os::fd::{AsRawFd, OwnedFd};

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};

/// Answers the call waiting on `listener` (the monitor polls it readable first).
pub fn answer(listener: &OwnedFd) {
    let Ok(request) = ScmpNotifReq::receive(listener.as_raw_fd()) else {
        // The caller died or was interrupted before we took its call.
        return;
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
    let response = ScmpNotifResp::new_error(request.id, -libc::EPERM, ScmpNotifRespFlags::empty());
    // The caller may have died meanwhile: nothing to answer then.
    let _ = response.respond(listener.as_raw_fd());
}
