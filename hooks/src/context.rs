//! What a hook is given and what it answers.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{HookPoint, Plan, Stage};

/// What a hook sees: the same data reaches Rust plugins (as JSON), Python scripts (as
/// dicts and lists) and programs (as JSON on standard input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookContext {
    /// Where the hook runs.
    pub point: HookPoint,
    /// The container's name.
    pub container: String,
    /// The container's config file.
    pub config_file: PathBuf,
    /// The container's root filesystem on the host.
    pub rootfs: PathBuf,
    /// The container's init on the host, once cloned.
    #[serde(default)]
    pub pid: Option<i32>,
    /// Set when nothing is applied (`corral plan`): a before-hook should only edit the plan.
    #[serde(default)]
    pub dry_run: bool,
    /// The stages applied so far, in order.
    #[serde(default)]
    pub applied: Vec<Stage>,
    /// `stop` or `reboot`, at [`HookPoint::Stop`] and [`HookPoint::PostStop`].
    #[serde(default)]
    pub target: Option<String>,
    /// The plan, at the points of a start: before a stage, the plan it will apply; after it,
    /// the plan as applied. A Rust plugin reads it through `HookCall::plan` (corral's plugin
    /// SDK), which parses it only then; here it is `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

/// What a hook answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum HookOutcome {
    /// Carry on unchanged.
    Continue,
    /// Carry on with this plan. Only a before-hook's own stage part is taken from it; the
    /// rest of it is ignored.
    Change {
        /// The edited plan.
        plan: Box<Plan>,
    },
    /// Refuse the start (or the create, or the destroy).
    Refuse {
        /// Why, shown to the user.
        reason: String,
    },
}

impl Plan {
    /// Takes `stage`'s part of `other` into this plan: how a before-hook's change applies.
    pub fn take_stage(&mut self, stage: Stage, other: Plan) {
        match stage {
            Stage::Namespaces => self.namespaces = other.namespaces,
            Stage::Mounts => self.mounts = other.mounts,
            Stage::Network => self.network = other.network,
            Stage::Security => self.security = other.security,
            Stage::Cgroups => self.cgroups = other.cgroups,
        }
    }
}
