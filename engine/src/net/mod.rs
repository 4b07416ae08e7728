//! Host networking corral manages itself: the netlink client and namespace helpers the
//! network stage uses, and the default bridge with its dnsmasq and NAT (LXC's lxc-net).

pub mod bridge;
pub mod dnsmasq;
pub mod netlink;
pub mod netns;
mod nft;

use std::os::unix::process::CommandExt;
use std::process::Command;

/// `cmd` with an empty signal mask in the child: the monitor and the dnsmasq supervisor
/// block the signals they wait for, and a blocked mask is inherited across exec, where
/// dnsmasq or a CNI plugin would never hear SIGTERM.
pub fn unblocked(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs between fork and exec and calls only sigprocmask, which is
    // async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )
            .map_err(std::io::Error::from)
        })
    }
}
