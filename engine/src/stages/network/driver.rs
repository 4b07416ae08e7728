//! The interface every network driver implements, and the registry that finds a driver by
//! the `type` of an interface. The built-in drivers register themselves; a plugin adds its
//! own with [`register`].

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, RwLock};

use corral_hooks::InterfacePlan;

use super::{NetworkError, cni, macvlan, phys, veth};
use crate::config::BridgeConfig;
use crate::net::netlink::{Link, Netlink};
use crate::paths::Paths;
use crate::stages::PlanError;

/// A kind of interface: how it is planned, created on the host side, and removed.
///
/// The container side is common to all drivers: init sets the interface's hardware address,
/// MTU and addresses, brings it up and adds the gateways' routes, all from the plan. A driver
/// that configures the inside itself (CNI) leaves those empty in the plan.
pub trait Driver: Send + Sync {
    /// The `type` it handles in `[[network.interface]]`.
    fn name(&self) -> &str;

    /// Checks the interface's settings and completes its plan (host-side names, the link it
    /// hangs off), before anything is created.
    fn plan(&self, iface: &mut InterfacePlan, ctx: &mut PlanContext<'_>) -> Result<(), PlanError>;

    /// Creates the interface from the host side and puts it in the container's namespace.
    fn attach(
        &self,
        iface: &InterfacePlan,
        ctx: &mut AttachContext<'_>,
    ) -> Result<Attached, NetworkError>;

    /// Removes what [`Driver::attach`] created or gives it back. Called at every stop, and
    /// after a failed attach with [`Attached::default`]: it must cope with half of it. By
    /// default nothing: an interface made inside the container's namespace goes with it.
    fn detach(
        &self,
        _iface: &InterfacePlan,
        _attached: &Attached,
        _ctx: &mut AttachContext<'_>,
    ) -> Result<(), NetworkError> {
        Ok(())
    }
}

/// What an attach created that its detach needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attached {
    /// The index of the host-side interface corral created: it is removed only if that index
    /// still bears its name, so an interface someone else made later is never touched.
    pub host_index: Option<u32>,
    /// The driver's own record (the CNI result).
    pub data: serde_json::Value,
}

/// What a driver's plan step may look at.
#[derive(Debug)]
pub struct PlanContext<'a> {
    /// The container's name.
    pub container: &'a str,
    /// The interface's position in `[[network.interface]]`.
    pub index: usize,
    /// corral's default bridge.
    pub bridge: &'a BridgeConfig,
    host: Option<Netlink>,
}

impl<'a> PlanContext<'a> {
    /// A context for the interfaces of `container`.
    pub fn new(container: &'a str, bridge: &'a BridgeConfig) -> Self {
        PlanContext {
            container,
            index: 0,
            bridge,
            host: None,
        }
    }

    /// The config key of a field of this interface, for errors.
    pub fn key(&self, field: &str) -> String {
        format!("network.interface[{}].{field}", self.index)
    }

    /// An error about a field of this interface.
    pub fn error(&self, field: &str, message: impl Into<String>) -> PlanError {
        PlanError::new(self.key(field), message)
    }

    /// The host's interface `name`, if it exists. The netlink socket opens on first use, so
    /// a plan without host-side lookups costs none.
    pub fn host_link(&mut self, name: &str) -> Result<Option<Link>, PlanError> {
        self.with_host(|nl| nl.link(name))
    }

    /// The addresses of the host's interface `index`.
    pub fn host_addresses(&mut self, index: u32) -> Result<Vec<(std::net::IpAddr, u8)>, PlanError> {
        self.with_host(|nl| nl.addresses(index))
    }

    fn with_host<T>(
        &mut self,
        f: impl FnOnce(&mut Netlink) -> Result<T, crate::net::netlink::NetlinkError>,
    ) -> Result<T, PlanError> {
        let fail = |e: crate::net::netlink::NetlinkError| {
            PlanError::new("network", crate::error_chain(&e))
        };
        if self.host.is_none() {
            self.host = Some(Netlink::open().map_err(fail)?);
        }
        match &mut self.host {
            Some(nl) => f(nl).map_err(fail),
            None => Err(PlanError::new("network", "no netlink socket")),
        }
    }
}

/// What a driver's attach and detach work with.
#[derive(Debug)]
pub struct AttachContext<'a> {
    /// The container's name.
    pub container: &'a str,
    /// The container's network namespace, held open by the monitor until teardown ends.
    pub netns: BorrowedFd<'a>,
    /// A netlink socket in the host's (the monitor's) network namespace.
    pub host: &'a mut Netlink,
    /// The world's directories.
    pub paths: &'a Paths,
    /// corral's default bridge.
    pub bridge: &'a BridgeConfig,
}

impl AttachContext<'_> {
    /// The container's runtime directory, for what a driver keeps (CNI results).
    pub fn runtime_dir(&self) -> PathBuf {
        self.paths.runtime_dir(self.container)
    }

    /// A path to the container's network namespace that outlives its init: the monitor's
    /// own descriptor, as programs like CNI plugins take a path.
    pub fn netns_path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.netns.as_raw_fd())
    }
}

type Registry = BTreeMap<String, Arc<dyn Driver>>;

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| {
    let builtin: [Arc<dyn Driver>; 4] = [
        Arc::new(veth::Veth),
        Arc::new(macvlan::Macvlan),
        Arc::new(phys::Phys),
        Arc::new(cni::Cni),
    ];
    RwLock::new(
        builtin
            .into_iter()
            .map(|d| (d.name().to_owned(), d))
            .collect(),
    )
});

/// Adds a driver, or replaces the one of the same name.
pub fn register(driver: Arc<dyn Driver>) {
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    registry.insert(driver.name().to_owned(), driver);
}

/// The driver for interfaces of type `name`.
pub fn find(name: &str) -> Option<Arc<dyn Driver>> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    registry.get(name).cloned()
}

/// The names of every driver, for errors.
pub fn names() -> Vec<String> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    registry.keys().cloned().collect()
}
