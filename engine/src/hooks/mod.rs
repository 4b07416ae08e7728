//! Running a container's hooks: `[[hooks]]` entries (plugins, Python scripts, programs) and
//! LXC-style `[hook]` programs, at the points of [`HookPoint`].
//!
//! A [`HookSet`] is built once per start from the config, loading the plugins it names
//! before init is cloned. With no hooks configured it is empty and every point costs one
//! bit test.

mod program;
mod watchdog;

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use corral_hooks::{HookContext, HookOutcome, HookPoint, Plan};
use corral_plugin::Request;

use crate::config::{ContainerConfig, HookEntry, PluginsConfig};
use crate::container::Container;
use crate::plugins::{self, PlanVersion, Plugin, PluginError};

pub use watchdog::{AbortHandler, AbortRegistration, on_abort};

/// The plugin that runs Python hooks (`plugins/python-hooks`).
const PYTHON_PLUGIN: &str = "python-hooks";

/// How long past its own timeout a plugin hook gets to report it: a runner that can stop
/// its hook (Python) says so itself, before the watchdog ends the process.
const GRACE: Duration = Duration::from_millis(500);

/// A hook that failed, refused or timed out, at a point.
#[derive(Debug, thiserror::Error)]
#[error("hook {point} ({hook})")]
pub struct HookError {
    /// Where.
    pub point: HookPoint,
    /// Which hook, as the config names it.
    pub hook: String,
    /// Why.
    #[source]
    pub cause: HookFailure,
}

/// Why a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// A `[[hooks]]` entry is wrong.
    #[error("{0}")]
    Config(String),
    /// Its plugin could not be loaded, failed, panicked or timed out.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Its program could not be run.
    #[error("cannot run it")]
    Spawn(#[source] std::io::Error),
    /// Its program failed.
    #[error("{0}")]
    Exit(String),
    /// It ran past its timeout and was killed.
    #[error("killed after its timeout of {0:?}")]
    Timeout(Duration),
    /// It refused.
    #[error("refused: {0}")]
    Refused(String),
    /// Its answer is not a hook outcome.
    #[error("bad answer: {0}")]
    BadAnswer(String),
}

enum Runner {
    Plugin(Arc<Plugin>),
    Program { path: PathBuf, lxc: bool },
}

struct Hook {
    point: HookPoint,
    runner: Arc<Runner>,
    args: Vec<String>,
    timeout: Duration,
    label: String,
}

/// The number of the next hook set made in this process.
static NEXT_SET: AtomicU64 = AtomicU64::new(0);

/// The hooks of one container, in the order they run at each point, for one plan: only
/// they change it once it is made (see [`PlanVersion`]).
pub struct HookSet {
    hooks: Vec<Hook>,
    points: u32,
    /// Which set this is, in this process.
    id: u64,
    /// How many changes its hooks made to the plan.
    changes: Cell<u32>,
}

impl Default for HookSet {
    fn default() -> HookSet {
        HookSet {
            hooks: Vec::new(),
            points: 0,
            id: NEXT_SET.fetch_add(1, Ordering::Relaxed),
            changes: Cell::new(0),
        }
    }
}

impl std::fmt::Debug for HookSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<_> = self.hooks.iter().map(|h| (h.point, &h.label)).collect();
        f.debug_struct("HookSet").field("hooks", &labels).finish()
    }
}

impl HookSet {
    /// Builds the hooks `config` names, loading the plugins it uses (and, for a Python
    /// hook, the Python runner). A container without hooks loads nothing.
    pub fn load(config: &ContainerConfig, dirs: &PluginsConfig) -> Result<HookSet, HookError> {
        let mut set = HookSet::default();
        if config.hooks.is_empty() && config.hook == Default::default() {
            return Ok(set);
        }
        let dirs = plugins::dirs(dirs);
        for (index, entry) in config.hooks.iter().enumerate() {
            let fail = |cause| HookError {
                point: entry.point.unwrap_or(HookPoint::PreStart),
                hook: format!("hooks[{index}]"),
                cause,
            };
            let (runner, label, mut args) = runner(entry, &config.plugins, &dirs).map_err(fail)?;
            args.extend(entry.args.iter().cloned());
            let points = match (entry.point, &runner) {
                (Some(point), _) => vec![point],
                (None, Runner::Plugin(plugin)) => plugin
                    .call(&Request::HookPoints { args: args.clone() })
                    .map_err(|e| fail(e.into()))?,
                (None, Runner::Program { .. }) => {
                    return Err(fail(HookFailure::Config(
                        "a program hook needs a `point`".into(),
                    )));
                }
            };
            let runner = Arc::new(runner);
            for point in points {
                set.push(Hook {
                    point,
                    runner: Arc::clone(&runner),
                    args: args.clone(),
                    timeout: entry.timeout.0,
                    label: label.clone(),
                });
            }
        }
        if set
            .hooks
            .iter()
            .any(|h| matches!(*h.runner, Runner::Plugin(_)))
        {
            watchdog::start();
        }
        for (point, path) in config.hook.entries() {
            set.push(Hook {
                point,
                runner: Arc::new(Runner::Program {
                    path: path.clone(),
                    lxc: true,
                }),
                args: Vec::new(),
                timeout: crate::config::Timeout::default().0,
                label: format!("hook.{point} {}", path.display()),
            });
        }
        Ok(set)
    }

    fn push(&mut self, hook: Hook) {
        self.points |= 1 << hook.point.index();
        self.hooks.push(hook);
    }

    /// How many times its hooks changed a plan: work done for a plan (the runtime state
    /// saved, a cgroup configured) is still right while this has not moved.
    pub fn changes(&self) -> u32 {
        self.changes.get()
    }

    /// Whether any hook runs at `point`: checked before a context is built.
    pub fn fires(&self, point: HookPoint) -> bool {
        self.points & (1 << point.index()) != 0
    }

    /// Runs the hooks of `point` for a start, if any, with the plan, init's PID and the
    /// stages `applied` so far; a before-hook's change lands in `plan`. Costs nothing when no
    /// hook runs at `point`.
    pub fn fire(
        &self,
        point: HookPoint,
        container: &Container<'_>,
        plan: &mut Plan,
        pid: Option<i32>,
        applied: &[corral_hooks::Stage],
        target: Option<&str>,
    ) -> Result<(), HookError> {
        if !self.fires(point) {
            return Ok(());
        }
        let rootfs = plan.mounts.rootfs.path.clone();
        let mut ctx = context(point, container.name(), container.config_file(), rootfs);
        ctx.pid = pid;
        ctx.applied = applied.to_vec();
        ctx.target = target.map(str::to_owned);
        self.run(&ctx, Some(plan))
    }

    /// Runs the hooks of `ctx.point` in order, showing them `plan` as the context's: the
    /// set's one plan, which only its hooks change. A before-hook's change to its stage's
    /// part of the plan is written into `plan`, which the next hook then sees. The plan is
    /// serialised where it lies, never copied, and only for a plugin that does not hold it
    /// as it is yet.
    pub fn run(&self, ctx: &HookContext, mut plan: Option<&mut Plan>) -> Result<(), HookError> {
        let point = ctx.point;
        for hook in self.hooks.iter().filter(|h| h.point == point) {
            let fail = |cause| HookError {
                point,
                hook: hook.label.clone(),
                cause,
            };
            tracing::debug!(%point, hook = %hook.label, "running hook");
            let outcome = match &*hook.runner {
                Runner::Plugin(plugin) => {
                    let late = PluginError::Timeout {
                        plugin: plugin.info.name.clone(),
                        after: hook.timeout,
                    };
                    let _watched =
                        watchdog::watch(hook.timeout.saturating_add(GRACE), fail(late.into()));
                    let version = PlanVersion {
                        set: self.id,
                        changes: self.changes(),
                    };
                    let plan = plan.as_deref().map(|p| (p, version));
                    plugin
                        .hook(ctx, plan, &hook.args, hook.timeout)
                        .map_err(|e| fail(e.into()))?
                }
                Runner::Program { path, lxc } => {
                    let input = ContextRef {
                        base: ctx,
                        plan: plan.as_deref(),
                    };
                    program::run(path, *lxc, &hook.args, hook.timeout, ctx, &input).map_err(fail)?
                }
            };
            if apply(point, plan.as_deref_mut(), outcome).map_err(fail)? {
                self.changes.set(self.changes.get().wrapping_add(1));
            }
        }
        Ok(())
    }
}

/// A [`HookContext`] with a borrowed plan, or none: serialises as one, without a copy.
#[derive(serde::Serialize)]
pub(crate) struct ContextRef<'a> {
    #[serde(flatten)]
    pub(crate) base: &'a HookContext,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plan: Option<&'a Plan>,
}

/// Takes a hook's outcome into the plan; true if it changed it.
fn apply(
    point: HookPoint,
    current: Option<&mut Plan>,
    outcome: HookOutcome,
) -> Result<bool, HookFailure> {
    match outcome {
        HookOutcome::Continue => Ok(false),
        HookOutcome::Refuse { reason } => Err(HookFailure::Refused(reason)),
        HookOutcome::Change { plan } => match (point, current) {
            (HookPoint::Before(stage), Some(current)) => {
                current.take_stage(stage, *plan);
                Ok(true)
            }
            _ => Err(HookFailure::BadAnswer(format!(
                "only a before-hook may change the plan, not a {point} hook"
            ))),
        },
    }
}

/// What runs a `[[hooks]]` entry, its label, and the arguments it gets first.
fn runner(
    entry: &HookEntry,
    named: &[String],
    dirs: &[PathBuf],
) -> Result<(Runner, String, Vec<String>), HookFailure> {
    match (&entry.plugin, &entry.python, &entry.program) {
        (Some(name), None, None) => {
            if !named.contains(name) {
                return Err(HookFailure::Config(format!(
                    "plugin `{name}` is not in the container's `plugins`"
                )));
            }
            let plugin = plugins::find(name, dirs)?;
            Ok((Runner::Plugin(plugin), format!("plugin {name}"), Vec::new()))
        }
        (None, Some(script), None) => {
            let plugin = plugins::find(PYTHON_PLUGIN, dirs)?;
            let label = format!("python {}", script.display());
            let script = crate::paths::absolute(script)
                .to_string_lossy()
                .into_owned();
            Ok((Runner::Plugin(plugin), label, vec![script]))
        }
        (None, None, Some(path)) => Ok((
            Runner::Program {
                path: path.clone(),
                lxc: false,
            },
            format!("program {}", path.display()),
            Vec::new(),
        )),
        _ => Err(HookFailure::Config(
            "a hook names exactly one of plugin, python and program".into(),
        )),
    }
}

/// A context for `point` with only the container's identity filled in.
pub fn context(point: HookPoint, name: &str, config_file: PathBuf, rootfs: PathBuf) -> HookContext {
    HookContext {
        point,
        container: name.to_owned(),
        config_file,
        rootfs,
        pid: None,
        dry_run: false,
        applied: Vec::new(),
        target: None,
        plan: None,
    }
}

/// Runs every before-hook on `plan` without applying anything, as `corral plan` shows it.
pub fn dry_run(hooks: &HookSet, base: &HookContext, plan: &mut Plan) -> Result<(), HookError> {
    for stage in corral_hooks::Stage::ALL {
        let point = HookPoint::Before(stage);
        if !hooks.fires(point) {
            continue;
        }
        let ctx = HookContext {
            point,
            dry_run: true,
            ..base.clone()
        };
        hooks.run(&ctx, Some(plan))?;
    }
    Ok(())
}
