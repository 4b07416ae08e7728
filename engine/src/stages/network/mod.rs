//! The network stage: the container's network namespace and its interfaces.
//!
//! `none` leaves the container on the host's network. Otherwise it has a namespace of its
//! own with loopback up, plus the interfaces of `[[network.interface]]`, each made by a
//! [`driver::Driver`] (veth, macvlan, phys, cni, or a plugin's). The stage runs in three
//! steps:
//!
//! 1. [`plan`] checks every setting and resolves every name, hardware address and gateway,
//!    before anything exists: a bad config is refused naming the interface and the key.
//! 2. [`attach`], in the monitor: brings corral's default bridge up on first use, then each
//!    driver creates its interface from the host side into the container's namespace. Each
//!    is recorded in the rollback as it is made, so a failure halfway removes what was made.
//! 3. [`apply`], in init: loopback up, then for each interface its hardware address, MTU,
//!    addresses, link state and default routes, from the plan alone.

mod addressing;
mod cni;
pub mod driver;
mod inside;
mod macvlan;
mod phys;
mod veth;

use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use corral_hooks::{InterfacePlan, NetworkMode, NetworkPlan};

pub use self::inside::{apply, loopback_up};

use self::driver::{AttachContext, Attached, Driver, PlanContext};
use super::PlanError;
use crate::config::{BridgeConfig, ContainerConfig, InterfaceConfig};
use crate::container::Container;
use crate::net::bridge::{self, BridgeError};
use crate::net::netlink::{Netlink, NetlinkError};
use crate::net::netns;
use crate::paths::Paths;

/// A failure setting up or tearing down the container's interfaces on the host side.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A netlink request.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// Bringing corral's default bridge up.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// A CNI plugin failed.
    #[error("CNI plugin {plugin} ({command}): {message}")]
    Cni {
        /// The plugin's type.
        plugin: String,
        /// ADD or DEL.
        command: String,
        /// What it said.
        message: String,
    },
    /// A file or namespace operation.
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// An interface of the plan has a driver nobody registered.
    #[error("interface {0}: no driver `{1}`")]
    NoDriver(String, String),
    /// A driver's own failure.
    #[error("interface {interface}: {message}")]
    Driver {
        /// The interface inside the container.
        interface: String,
        /// What went wrong.
        message: String,
    },
}

/// Builds the stage's plan, checking every interface.
pub fn plan(
    config: &ContainerConfig,
    container: &str,
    bridge: &BridgeConfig,
) -> Result<NetworkPlan, PlanError> {
    let mode = config.network.mode;
    let wanted = &config.network.interface;
    if mode == NetworkMode::None && !wanted.is_empty() {
        return Err(PlanError::new(
            "network.interface",
            "a container on the host's network (type = \"none\") has no interfaces of its own",
        ));
    }
    let mut ctx = PlanContext::new(container, bridge);
    let mut interfaces = Vec::with_capacity(wanted.len());
    let mut names = HashSet::new();
    let mut host_names = HashSet::new();
    let mut hwaddrs = HashSet::new();
    for (index, cfg) in wanted.iter().enumerate() {
        ctx.index = index;
        let iface = plan_interface(cfg, &mut ctx)?;
        if !names.insert(iface.name.clone()) || iface.name == "lo" {
            return Err(ctx.error("name", format!("{} is used twice", iface.name)));
        }
        if let Some(host) = &iface.host_name
            && iface.driver != "phys"
            && !host_names.insert(host.clone())
        {
            return Err(ctx.error("host_name", format!("{host} is used twice")));
        }
        if let Some(mac) = iface.hwaddr
            && !hwaddrs.insert(mac)
        {
            return Err(ctx.error("hwaddr", format!("{mac} is used twice")));
        }
        interfaces.push(iface);
    }
    let default_bridge = interfaces
        .iter()
        .any(|i| i.driver == "veth" && i.link.as_deref() == Some(bridge.name.as_str()))
        .then(|| bridge.name.clone());
    Ok(NetworkPlan {
        mode,
        loopback_up: mode == NetworkMode::Empty,
        interfaces,
        default_bridge,
    })
}

fn plan_interface(
    cfg: &InterfaceConfig,
    ctx: &mut PlanContext<'_>,
) -> Result<InterfacePlan, PlanError> {
    let driver = driver::find(&cfg.driver).ok_or_else(|| {
        ctx.error(
            "type",
            format!(
                "unknown interface type `{}` (types: {})",
                cfg.driver,
                driver::names().join(", ")
            ),
        )
    })?;
    let name = match (&cfg.name, cfg.driver.as_str(), &cfg.link) {
        (Some(name), _, _) => name.clone(),
        // A moved interface keeps its name unless told otherwise, as in LXC.
        (None, "phys", Some(link)) => link.clone(),
        (None, _, _) => format!("eth{}", ctx.index),
    };
    addressing::check_name(ctx, "name", &name)?;
    if let Some(link) = &cfg.link {
        addressing::check_name(ctx, "link", link)?;
    }
    if cfg.mtu.is_some_and(|m| !(68..=65535).contains(&m)) {
        return Err(ctx.error("mtu", "must be 68 to 65535"));
    }
    let mut addresses = addressing::addresses(ctx, "ipv4", &cfg.ipv4, true)?;
    addresses.extend(addressing::addresses(ctx, "ipv6", &cfg.ipv6, false)?);
    let mut iface = InterfacePlan {
        driver: cfg.driver.clone(),
        name,
        host_name: cfg.host_name.clone(),
        link: cfg.link.clone(),
        mtu: cfg.mtu,
        hwaddr: cfg
            .hwaddr
            .as_deref()
            .map(|t| addressing::hwaddr(ctx, t))
            .transpose()?,
        up: cfg.up,
        addresses,
        ipv4_gateway: None,
        ipv6_gateway: None,
        macvlan_mode: cfg.macvlan_mode,
        options: serde_json::to_value(&cfg.options)
            .map_err(|e| ctx.error("options", e.to_string()))?,
    };
    if cfg.options.is_empty() {
        iface.options = serde_json::Value::Null;
    }
    if cfg.macvlan_mode.is_some() && cfg.driver != "macvlan" {
        return Err(ctx.error("macvlan_mode", "only a macvlan has a mode"));
    }
    driver.plan(&mut iface, ctx)?;
    let v4 = cfg.ipv4_gateway.as_deref();
    iface.ipv4_gateway = addressing::gateway(ctx, &iface, "ipv4_gateway", v4, true)?;
    let v6 = cfg.ipv6_gateway.as_deref();
    iface.ipv6_gateway = addressing::gateway(ctx, &iface, "ipv6_gateway", v6, false)?;
    Ok(iface)
}

/// One interface made on the host side, and how to remove it: an entry of the rollback.
pub struct Attachment {
    driver: Arc<dyn Driver>,
    iface: InterfacePlan,
    attached: Attached,
    netns: Arc<OwnedFd>,
    container: String,
    paths: Paths,
    bridge: BridgeConfig,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("driver", &self.driver.name())
            .field("iface", &self.iface.name)
            .field("attached", &self.attached)
            .finish_non_exhaustive()
    }
}

impl Attachment {
    /// Removes the interface (or gives it back), as its driver does.
    pub fn detach(self) -> Result<(), NetworkError> {
        let mut host = Netlink::open()?;
        let mut ctx = AttachContext {
            container: &self.container,
            netns: self.netns.as_fd(),
            host: &mut host,
            paths: &self.paths,
            bridge: &self.bridge,
        };
        self.driver.detach(&self.iface, &self.attached, &mut ctx)
    }

    /// The interface's name inside the container.
    pub fn name(&self) -> &str {
        &self.iface.name
    }
}

/// The host side of the stage, in the monitor: brings corral's default bridge up if an
/// interface needs it, then creates every interface into the namespace of `pid`. Each one
/// made goes to `record` at once; a failed one is undone here, half-made as it may be.
pub fn attach(
    container: &Container<'_>,
    plan: &NetworkPlan,
    pid: i32,
    record: &mut dyn FnMut(Attachment),
) -> Result<(), NetworkError> {
    if plan.interfaces.is_empty() {
        return Ok(());
    }
    let (paths, bridge) = (
        &container.corral().paths,
        &container.corral().global.network.bridge,
    );
    let container = container.name();
    if plan.default_bridge.is_some() {
        bridge::ensure_up(bridge, paths)?;
    }
    let netns = Arc::new(
        netns::of_process(pid)
            .map_err(|e| NetworkError::Io("open the container's network namespace".into(), e))?,
    );
    let mut host = Netlink::open()?;
    for iface in &plan.interfaces {
        let driver = driver::find(&iface.driver)
            .ok_or_else(|| NetworkError::NoDriver(iface.name.clone(), iface.driver.clone()))?;
        let mut ctx = AttachContext {
            container,
            netns: netns.as_fd(),
            host: &mut host,
            paths,
            bridge,
        };
        match driver.attach(iface, &mut ctx) {
            Ok(attached) => record(Attachment {
                driver,
                iface: iface.clone(),
                attached,
                netns: Arc::clone(&netns),
                container: container.to_owned(),
                paths: paths.clone(),
                bridge: bridge.clone(),
            }),
            Err(e) => {
                if let Err(undo) = driver.detach(iface, &Attached::default(), &mut ctx) {
                    tracing::warn!(interface = %iface.name, error = %crate::error_chain(&undo), "cannot undo a failed attach");
                }
                return Err(e);
            }
        }
        tracing::debug!(interface = %iface.name, driver = %iface.driver, "attached");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver as a plugin would register it.
    struct Fake;

    impl Driver for Fake {
        fn name(&self) -> &str {
            "test-fake"
        }

        fn plan(
            &self,
            iface: &mut InterfacePlan,
            _ctx: &mut PlanContext<'_>,
        ) -> Result<(), PlanError> {
            iface.host_name = Some("fake0".into());
            Ok(())
        }

        fn attach(
            &self,
            _iface: &InterfacePlan,
            _ctx: &mut AttachContext<'_>,
        ) -> Result<Attached, NetworkError> {
            Ok(Attached::default())
        }
    }

    fn config(text: &str) -> ContainerConfig {
        toml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn a_registered_driver_plans_interfaces_of_its_type() {
        driver::register(Arc::new(Fake));
        let cfg = config("[[network.interface]]\ntype = \"test-fake\"\nipv6 = [\"fd00::5/64\"]\n");
        let plan = plan(&cfg, "c", &BridgeConfig::default()).unwrap();
        let iface = &plan.interfaces[0];
        assert_eq!(
            (iface.driver.as_str(), iface.name.as_str()),
            ("test-fake", "eth0")
        );
        assert_eq!(iface.host_name.as_deref(), Some("fake0"));
        assert_eq!(iface.addresses[0].to_string(), "fd00::5/64");
        assert_eq!(plan.default_bridge, None);
    }

    #[test]
    fn the_default_bridge_is_planned_with_its_gateway() {
        let cfg = config(
            "[[network.interface]]\ntype = \"veth\"\nipv4 = [\"10.77.0.9/24\"]\n\
             ipv4_gateway = \"auto\"\nhwaddr = \"10:66:6a:xx:xx:xx\"\n",
        );
        let bridge = BridgeConfig::default();
        let plan = plan(&cfg, "c", &bridge).unwrap();
        let iface = &plan.interfaces[0];
        assert_eq!(plan.default_bridge.as_deref(), Some("corralbr0"));
        assert_eq!(iface.link.as_deref(), Some("corralbr0"));
        assert_eq!(iface.ipv4_gateway, Some(bridge.address.address));
        assert!(
            iface
                .host_name
                .as_deref()
                .is_some_and(|h| h.starts_with("crl"))
        );
        assert!(iface.hwaddr.is_some());
    }

    #[test]
    fn bad_settings_name_the_interface_and_the_key() {
        let host = config("[network]\ntype = \"none\"\n[[network.interface]]\ntype = \"veth\"\n");
        let err = plan(&host, "c", &BridgeConfig::default()).unwrap_err();
        assert_eq!(err.key, "network.interface");
        let cfg = config(
            "[[network.interface]]\ntype = \"veth\"\n\
             [[network.interface]]\ntype = \"veth\"\nname = \"eth0\"\n",
        );
        let err = plan(&cfg, "c", &BridgeConfig::default()).unwrap_err();
        assert_eq!(err.key, "network.interface[1].name");
        let cfg = config("[[network.interface]]\ntype = \"veth\"\nmacvlan_mode = \"vepa\"\n");
        let err = plan(&cfg, "c", &BridgeConfig::default()).unwrap_err();
        assert_eq!(err.key, "network.interface[0].macvlan_mode");
    }
}
