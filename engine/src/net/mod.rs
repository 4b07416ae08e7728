//! Host networking corral manages itself: the netlink client and namespace helpers the
//! network stage uses, and the default bridge with its dnsmasq and NAT (LXC's lxc-net).

pub mod bridge;
pub mod dnsmasq;
pub mod netlink;
pub mod netns;
mod nft;
