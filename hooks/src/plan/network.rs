//! The network stage's plan: every interface the container gets, by driver, with every
//! name, address and route resolved, so that the plan says exactly what will be created.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which network namespace the container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The host's network: no network namespace of its own, and no interfaces.
    None,
    /// A network namespace of its own: loopback plus the plan's interfaces.
    Empty,
}

/// What the network stage does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPlan {
    /// The network mode.
    pub mode: NetworkMode,
    /// Whether the loopback interface of a new network namespace is brought up.
    pub loopback_up: bool,
    /// The interfaces, created in this order and removed in the reverse order.
    #[serde(default)]
    pub interfaces: Vec<InterfacePlan>,
    /// The bridge corral manages that has to be up before the interfaces are created
    /// (brought up on first use), if any interface uses it.
    #[serde(default)]
    pub default_bridge: Option<String>,
}

/// One interface of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfacePlan {
    /// The driver that creates it: `veth`, `macvlan`, `phys`, `cni`, or a plugin's.
    pub driver: String,
    /// Its name inside the container (`eth0`).
    pub name: String,
    /// The name of its host side: the veth's host end, or the physical interface that is
    /// moved in (and given back under this name).
    pub host_name: Option<String>,
    /// The host interface it hangs off: the bridge of a veth, the parent of a macvlan.
    pub link: Option<String>,
    /// The MTU, when not the kernel's default.
    pub mtu: Option<u32>,
    /// The hardware address inside the container, when not the kernel's choice.
    pub hwaddr: Option<MacAddr>,
    /// Whether init brings it up.
    pub up: bool,
    /// Static addresses init adds, IPv4 and IPv6.
    pub addresses: Vec<Cidr>,
    /// The default IPv4 gateway init routes through.
    pub ipv4_gateway: Option<IpAddr>,
    /// The default IPv6 gateway init routes through.
    pub ipv6_gateway: Option<IpAddr>,
    /// The macvlan mode, for a macvlan.
    pub macvlan_mode: Option<MacvlanMode>,
    /// Driver settings with no field of their own, as JSON (the CNI network configuration
    /// list and its plugin path for `cni`; anything for a plugin's driver).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub options: serde_json::Value,
}

/// LXC's macvlan modes (`lxc.net.N.macvlan.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacvlanMode {
    /// No traffic between macvlans of one parent.
    Private,
    /// Traffic between macvlans goes out to the switch and back.
    Vepa,
    /// Macvlans of one parent talk to each other directly.
    Bridge,
    /// The one macvlan takes the parent over.
    Passthru,
}

/// An address with its prefix length: `10.0.3.5/24`, `fd00::5/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    /// The address.
    pub address: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Whether `other` lies in this address's subnet.
    pub fn contains(&self, other: IpAddr) -> bool {
        match (self.address, other) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not ADDRESS/PREFIX"))?;
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IP address"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("prefix `{prefix}` is out of range (0 to {max})"))?;
        Ok(Cidr { address, prefix })
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Cidr> for String {
    fn from(cidr: Cidr) -> String {
        cidr.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A hardware address: `02:42:ac:11:00:02`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{text}` is not a hardware address (like 02:42:ac:11:00:02)");
        let mut bytes = [0u8; 6];
        let mut parts = text.split(':');
        for byte in &mut bytes {
            let part = parts.next().filter(|p| p.len() == 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(bytes))
    }
}

impl TryFrom<String> for MacAddr {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<MacAddr> for String {
    fn from(mac: MacAddr) -> String {
        mac.to_string()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_checks_and_contains() {
        let net: Cidr = "10.0.3.5/24".parse().unwrap();
        assert!(net.contains("10.0.3.200".parse().unwrap()));
        assert!(!net.contains("10.0.4.1".parse().unwrap()));
        assert_eq!(net.to_string(), "10.0.3.5/24");
        assert!("10.0.3.5/33".parse::<Cidr>().is_err());
        assert!("10.0.3.5".parse::<Cidr>().is_err());
        let v6: Cidr = "fd00::5/64".parse().unwrap();
        assert!(v6.contains("fd00::1".parse().unwrap()));
        assert!(!v6.contains("10.0.3.1".parse().unwrap()));
    }

    #[test]
    fn mac_round_trips() {
        let mac: MacAddr = "02:42:AC:11:00:02".parse().unwrap();
        assert_eq!(mac.to_string(), "02:42:ac:11:00:02");
        assert!("02:42:ac:11:00".parse::<MacAddr>().is_err());
        assert!("02:42:ac:11:00:02:03".parse::<MacAddr>().is_err());
    }
}
