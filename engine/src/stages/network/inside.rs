//! The container side of the stage, in init: loopback, then every interface's hardware
//! address, MTU, addresses, link state and default routes, from the plan alone (init runs
//! no driver code).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use corral_hooks::{InterfacePlan, NetworkPlan};

use crate::net::netlink::{Netlink, NetlinkError};
use crate::stages::OpError;

/// Applies the plan inside init, in its network namespace; `new_namespace` says whether
/// that is one of the container's own, which may have been made ahead with its loopback up
/// (see [`crate::pipeline::netns`]).
pub fn apply(plan: &NetworkPlan, new_namespace: bool) -> Result<(), OpError> {
    if plan.loopback_up {
        interface_up("lo")?;
    } else if new_namespace {
        set_up("lo", false).map_err(|errno| OpError {
            operation: "take lo down".into(),
            errno,
        })?;
    }
    let configured: Vec<&InterfacePlan> = plan
        .interfaces
        .iter()
        .filter(|i| i.up || !i.addresses.is_empty() || i.hwaddr.is_some() || i.mtu.is_some())
        .collect();
    if configured.is_empty() {
        return Ok(());
    }
    let op = |e: NetlinkError| OpError {
        operation: e.operation.clone(),
        errno: e.errno(),
    };
    let mut nl = Netlink::open().map_err(op)?;
    for iface in configured {
        let link = nl.require(&iface.name).map_err(op)?;
        nl.configure(link.index, iface.up, iface.mtu, iface.hwaddr.map(|m| m.0))
            .map_err(op)?;
        for cidr in &iface.addresses {
            nl.add_address(link.index, cidr.address, cidr.prefix)
                .map_err(op)?;
        }
        for gateway in [iface.ipv4_gateway, iface.ipv6_gateway]
            .into_iter()
            .flatten()
        {
            if !iface.addresses.iter().any(|c| c.contains(gateway)) {
                nl.add_host_route(link.index, gateway).map_err(op)?;
            }
            nl.add_default_route(link.index, gateway).map_err(op)?;
        }
    }
    Ok(())
}

/// `IFF_UP` as the `short` that `ifreq` holds.
const IFF_UP: libc::c_short = 1;

/// Sets `IFF_UP` on an interface of the current network namespace.
fn interface_up(name: &str) -> Result<(), OpError> {
    set_up(name, true).map_err(|errno| OpError {
        operation: format!("bring {name} up"),
        errno,
    })
}

/// Brings the loopback interface of the current network namespace up, if it can, for a
/// thread that makes a namespace ahead: system calls only, no allocation. Init's network
/// stage brings it up anyway, and reports what fails.
pub fn loopback_up() {
    let _ = set_up("lo", true);
}

/// Sets or clears `IFF_UP` on an interface of the current network namespace, with an
/// ioctl: a container without interfaces needs no netlink socket. Allocates nothing; an
/// error is the errno.
fn set_up(name: &str, up: bool) -> Result<(), i32> {
    let errno = || nix::errno::Errno::last_raw();
    // SAFETY: socket() takes no pointers; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(errno());
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
        return Err(errno());
    }
    // SAFETY: SIOCGIFFLAGS just initialised the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    let wanted = if up { flags | IFF_UP } else { flags & !IFF_UP };
    if wanted == flags {
        return Ok(());
    }
    req.ifr_ifru.ifru_flags = wanted;
    // SAFETY: as above; the kernel reads the flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(errno());
    }
    Ok(())
}
