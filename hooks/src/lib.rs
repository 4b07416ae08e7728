//! The hook contract of corral.
//!
//! Every container runs through one fixed pipeline of [`Stage`]s. Before a stage touches the
//! system it builds a *plan*: plain data that says exactly what it will do. The plan types live
//! here, in a crate of their own, because the same shapes reach the engine, Rust plugins (as
//! JSON across the C ABI), Python scripts (as Python objects) and users (`corral plan`).
//!
//! Around the stages sit the [`HookPoint`]s: hooks get a [`HookContext`] and answer a
//! [`HookOutcome`]; [`HookPoint`] tells, for each point, where it runs, what it sees and what
//! it may change.
//!
//! ```
//! use corral_hooks::Stage;
//! let order: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
//! assert_eq!(order, ["namespaces", "mounts", "network", "security", "cgroups"]);
//! ```

mod context;
mod plan;
mod point;
mod stage;

pub use context::{HookContext, HookOutcome};
pub use point::{HookPoint, UnknownHookPoint};

pub use plan::Plan;
pub use plan::cgroups::{CgroupLimits, CgroupMount, CgroupsPlan};
pub use plan::mounts::{
    DeviceNode, DeviceType, FileCreate, MountEntry, MountsPlan, Propagation, RootfsPlan, Symlink,
};
pub use plan::namespaces::{NamespaceKind, NamespaceMode, NamespacesPlan};
pub use plan::network::{Cidr, InterfacePlan, MacAddr, MacvlanMode, NetworkMode, NetworkPlan};
pub use plan::process::ProcessPlan;
pub use plan::security::{
    CapabilitySets, DeviceKind, DeviceRule, LandlockAccess, LandlockPlan, LandlockRule, LsmPlan,
    Rlimit, SeccompAction, SeccompArg, SeccompOp, SeccompPlan, SeccompRule, SecurityPlan,
};
pub use stage::Stage;
