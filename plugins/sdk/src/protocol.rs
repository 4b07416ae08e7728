//! The JSON requests the engine sends and the answers a plugin gives.

use std::path::PathBuf;

use corral_hooks::{HookContext, InterfacePlan, Plan};
use serde::{Deserialize, Serialize};

/// What a plugin is and what it provides, as `corral plugins` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Its name, as containers name it in `plugins = [...]`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// One line on what it is for.
    #[serde(default)]
    pub description: String,
    /// Templates, by name (`create -t NAME`).
    #[serde(default)]
    pub templates: Vec<String>,
    /// Network drivers, by interface `type`.
    #[serde(default)]
    pub drivers: Vec<String>,
    /// Policies, by name (`policies = [...]`).
    #[serde(default)]
    pub policies: Vec<String>,
    /// Whether it has stage and lifecycle hooks (`[[hooks]] plugin = NAME`).
    #[serde(default)]
    pub hooks: bool,
}

/// What a template is asked to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRequest {
    /// The template's name.
    pub template: String,
    /// The container's name.
    pub container: String,
    /// The empty directory to fill.
    pub rootfs: PathBuf,
    /// The arguments after `--`.
    pub args: Vec<String>,
}

/// What a network driver is asked to do with one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverRequest {
    /// The container's name.
    pub container: String,
    /// The interface, as planned.
    pub interface: InterfacePlan,
    /// A path to the container's network namespace (for `ip -n`-style tools, or `setns`).
    pub netns: PathBuf,
    /// What the attach returned, at detach.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// A request from the engine: `{"request": NAME, "body": ...}`, the name first, so that the
/// body (a whole plan, for a hook) is read straight into its type, never buffered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", content = "body", rename_all = "snake_case")]
pub enum Request {
    /// Say what you are: answered with [`Info`].
    Describe,
    /// At which points a `[[hooks]]` entry without a `point` runs: answered with a list of
    /// [`corral_hooks::HookPoint`]s.
    HookPoints {
        /// Arguments from the config entry.
        #[serde(default)]
        args: Vec<String>,
    },
    /// Run a hook: answered with a [`corral_hooks::HookOutcome`].
    Hook {
        /// What the hook sees.
        context: Box<HookContext>,
        /// Arguments from the config entry (a Python hook runner gets its script here).
        #[serde(default)]
        args: Vec<String>,
        /// The hook's time budget, for plugins that can interrupt themselves.
        timeout_ms: u64,
        /// The number of the context's plan, 0 for none. The engine sends a plan once: a
        /// context without a plan but with a number has the plan last sent with that
        /// number, which the SDK keeps and puts back into the context before the hook sees
        /// it.
        #[serde(default)]
        plan_id: u64,
    },
    /// Apply a policy: answered with the changed [`Plan`].
    Policy {
        /// The policy's name.
        policy: String,
        /// The plan to change.
        plan: Box<Plan>,
    },
    /// Build a rootfs: answered with the config settings as a JSON object.
    Template(TemplateRequest),
    /// Complete an interface's plan: answered with the [`InterfacePlan`].
    DriverPlan(DriverRequest),
    /// Create an interface in the container's namespace: answered with any JSON, given back
    /// at detach.
    DriverAttach(DriverRequest),
    /// Remove what attach made: answered with `null`.
    DriverDetach(DriverRequest),
}
