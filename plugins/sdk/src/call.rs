//! One hook call as a plugin sees it: the context, and the plan read from the engine's
//! request only if the hook asks for it.
//!
//! The plan is most of a hook request (6 KB for a small container: a string per
//! capability and seccomp rule), and most hooks at most points never look at it; parsing it
//! was most of what a call cost a plugin.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use corral_hooks::{HookContext, HookPoint, Plan, Stage};
use serde::Deserialize;
use serde_json::value::RawValue;

/// What a hook is given: the context of the call, and its plan on demand.
#[derive(Debug)]
pub struct HookCall {
    /// Where the hook runs, for which container, and so on; its `plan` is always `None`:
    /// read the plan with [`HookCall::plan`].
    pub context: HookContext,
    plan: Option<LazyPlan>,
}

impl HookCall {
    /// The plan, at the points of a start (see [`HookContext::plan`]): read from the
    /// engine's request the first time a hook asks for it. Fails only if the engine sent a
    /// plan this SDK cannot read.
    pub fn plan(&self) -> Result<Option<&Plan>, String> {
        let Some(lazy) = &self.plan else {
            return Ok(None);
        };
        let parsed = lazy.parsed.get_or_init(|| match &lazy.raw {
            // From bytes, as requests are read: one copy of the plan's parser in a plugin.
            Some(raw) => serde_json::from_slice(raw.get().as_bytes())
                .map_err(|e| format!("the plan from the engine: {e}")),
            None => Err("the plan from the engine is missing".into()),
        });
        parsed.as_ref().map(Some).map_err(Clone::clone)
    }
}

/// A plan as the engine sent it, parsed once read.
#[derive(Debug)]
struct LazyPlan {
    raw: Option<Box<RawValue>>,
    parsed: OnceLock<Result<Plan, String>>,
}

/// The body of a hook request, the plan left as JSON.
#[derive(Deserialize)]
pub(crate) struct HookBody {
    context: Context,
    #[serde(default)]
    pub(crate) args: Vec<String>,
    pub(crate) timeout_ms: u64,
    #[serde(default)]
    plan_id: u64,
}

/// [`HookContext`], but the plan unparsed.
#[derive(Deserialize)]
struct Context {
    point: HookPoint,
    container: String,
    config_file: PathBuf,
    rootfs: PathBuf,
    #[serde(default)]
    pid: Option<i32>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    applied: Vec<Stage>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    plan: Option<Box<RawValue>>,
}

impl HookBody {
    /// The call, with the plan sent in it or, when the engine sent only its number, the one
    /// kept from an earlier call.
    pub(crate) fn call(&mut self) -> Result<HookCall, String> {
        let c = &mut self.context;
        let plan = match (c.plan.take(), self.plan_id) {
            (Some(raw), _) => Some(LazyPlan {
                raw: Some(raw),
                parsed: OnceLock::new(),
            }),
            (None, 0) => None,
            (None, id) => Some(kept::take(id)?),
        };
        let context = HookContext {
            point: c.point,
            container: std::mem::take(&mut c.container),
            config_file: std::mem::take(&mut c.config_file),
            rootfs: std::mem::take(&mut c.rootfs),
            pid: c.pid,
            dry_run: c.dry_run,
            applied: std::mem::take(&mut c.applied),
            target: c.target.take(),
            plan: None,
        };
        Ok(HookCall { context, plan })
    }

    /// Keeps the call's plan, as read or not, for the engine's next call to refer to.
    pub(crate) fn keep(&self, call: HookCall) {
        if let Some(plan) = call.plan.filter(|_| self.plan_id != 0) {
            kept::keep(self.plan_id, plan);
        }
    }
}

/// The plan of the last hook call, which the engine does not send again while it is
/// unchanged.
mod kept {
    use super::{LazyPlan, Mutex, PoisonError};

    static KEPT: Mutex<Option<(u64, LazyPlan)>> = Mutex::new(None);

    /// The plan numbered `id`, taken out until [`keep`] puts it back.
    pub(super) fn take(id: u64) -> Result<LazyPlan, String> {
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.take() {
            Some((kept_id, plan)) if kept_id == id => Ok(plan),
            other => {
                *kept = other;
                Err(format!(
                    "the engine referred to plan {id}, which this plugin does not hold"
                ))
            }
        }
    }

    /// Keeps `plan` as number `id`, unless a newer plan is kept already: the engine numbers
    /// plans in the order it sends them.
    pub(super) fn keep(id: u64, plan: LazyPlan) {
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.as_ref().is_none_or(|(kept_id, _)| *kept_id < id) {
            *kept = Some((id, plan));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(plan: &str, plan_id: u64) -> HookBody {
        let json = format!(
            r#"{{"context": {{"point": "before-cgroups", "container": "c",
                "config_file": "/c.toml", "rootfs": "/r"{plan}}},
                "args": [], "timeout_ms": 5, "plan_id": {plan_id}}}"#
        );
        serde_json::from_str(&json).expect("a hook request's body")
    }

    #[test]
    fn a_plan_is_read_only_when_asked_for_and_kept_as_it_is() {
        // Not a plan: a hook that never reads it does not notice.
        let mut sent = body(r#", "plan": {"not": "a plan"}"#, 41);
        let call = sent.call().unwrap();
        assert_eq!(call.context.container, "c");
        assert!(call.context.plan.is_none());
        sent.keep(call);
        // The next call refers to it by number; reading it now fails, and says why.
        let mut again = body("", 41);
        let call = again.call().unwrap();
        let error = call.plan().unwrap_err();
        assert!(error.starts_with("the plan from the engine"), "{error}");
        again.keep(call);
        // A call without a plan has none; one referring to a plan never sent fails.
        assert_eq!(body("", 0).call().unwrap().plan(), Ok(None));
        assert!(body("", 7).call().is_err());
    }
}
