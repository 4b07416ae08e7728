//! The global config: default paths, the cgroup parent and default container settings.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use corral_hooks::Cidr;
use serde::{Deserialize, Serialize};

use super::container::ContainerConfig;

/// Where the global config is read from unless `--config` or `CORRAL_CONFIG` says otherwise.
pub const DEFAULT_GLOBAL_CONFIG: &str = "/etc/corral/corral.toml";

/// Where corral keeps its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// Container configs and root filesystems.
    pub root: PathBuf,
    /// Runtime files: locks, state, sockets.
    pub run: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            root: PathBuf::from("/var/lib/corral"),
            run: PathBuf::from("/run/corral"),
        }
    }
}

/// Where container cgroups are created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CgroupDefaults {
    /// The parent cgroup, relative to the root of each hierarchy.
    pub parent: String,
}

impl Default for CgroupDefaults {
    fn default() -> Self {
        CgroupDefaults {
            parent: "corral".to_owned(),
        }
    }
}

/// corral's default bridge, which veths without a `link` join (LXC's lxc-net): brought up
/// on first use or by `corral net up`, with dnsmasq for DHCP and DNS and NAT to the outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    /// The bridge's name.
    pub name: String,
    /// The bridge's own address and, by its prefix, the subnet containers get addresses in.
    pub address: Cidr,
    /// The first and last address dnsmasq leases; by default the whole subnet but the
    /// bridge's address.
    pub dhcp_range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// The DNS domain of containers' names (`web.corral`).
    pub domain: String,
    /// The nftables table (family `inet`) corral keeps its NAT rule in; no other is touched.
    pub nft_table: String,
    /// Whether traffic from the subnet to elsewhere is masqueraded (and forwarded).
    pub nat: bool,
    /// The dnsmasq program.
    pub dnsmasq: PathBuf,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        // A subnet of corral's own, not LXC's 10.0.3.0/24: both can run side by side.
        BridgeConfig {
            name: "corralbr0".to_owned(),
            address: Cidr {
                address: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1)),
                prefix: 24,
            },
            dhcp_range: None,
            domain: "corral".to_owned(),
            nft_table: "corral".to_owned(),
            nat: true,
            dnsmasq: PathBuf::from("/usr/sbin/dnsmasq"),
        }
    }
}

/// Network settings of the world.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkDefaults {
    /// The default bridge.
    pub bridge: BridgeConfig,
}

/// The global config file (`/etc/corral/corral.toml` by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    /// Default paths, overridden by the `--root`/`--run-dir` options and their variables.
    pub paths: PathsConfig,
    /// Where container cgroups go.
    pub cgroup: CgroupDefaults,
    /// The default bridge.
    pub network: NetworkDefaults,
    /// Where plugins are found.
    pub plugins: super::PluginsConfig,
    /// Container settings layered under every container's own config, as read: typed only
    /// to check them. [`load_global`](super::load_global) takes them out and keeps their
    /// table instead, for layering key by key, if they change anything; a process keeps
    /// none of this for the defaults built in.
    pub defaults: Option<Box<ContainerConfig>>,
    /// The `[defaults]` table as written, for layering key by key.
    #[serde(skip)]
    pub defaults_table: toml::Table,
}
