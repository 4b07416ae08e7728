//! The network stage: `empty` gives the container a network namespace with only loopback,
//! brought up; `none` leaves it on the host's network.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use corral_hooks::{NetworkMode, NetworkPlan};

use super::OpError;
use crate::config::ContainerConfig;

/// Builds the stage's plan.
pub fn plan(config: &ContainerConfig) -> NetworkPlan {
    NetworkPlan {
        mode: config.network.mode,
        loopback_up: config.network.mode == NetworkMode::Empty,
    }
}

/// Applies the plan inside init, in its network namespace.
pub fn apply(plan: &NetworkPlan) -> Result<(), OpError> {
    if plan.loopback_up {
        interface_up("lo")?;
    }
    Ok(())
}

/// `IFF_UP` as the `short` that `ifreq` holds.
const IFF_UP: libc::c_short = 1;

/// Sets `IFF_UP` on an interface of the current network namespace.
fn interface_up(name: &str) -> Result<(), OpError> {
    let fail = |errno: i32| OpError {
        operation: format!("bring {name} up"),
        errno,
    };
    // SAFETY: socket() takes no pointers; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(fail(nix::errno::Errno::last_raw()));
    }
    // SAFETY: `raw` is a descriptor socket() just returned, owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *dst = src.cast_signed();
    }
    // SAFETY: `req` is a valid ifreq naming the interface; the kernel fills in its flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(fail(nix::errno::Errno::last_raw()));
    }
    // SAFETY: SIOCGIFFLAGS just initialised the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= IFF_UP };
    // SAFETY: as above; the kernel reads the flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(fail(nix::errno::Errno::last_raw()));
    }
    Ok(())
}
