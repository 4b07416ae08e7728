//! Hook calls: the context, and the plan only when the plugin does not hold it already.
//!
//! A start calls a plugin's hooks up to fifteen times with a plan that rarely changes
//! between them, and the plan (its seccomp policy above all) is most of a request. So a
//! plan is numbered when sent, the plugin's side of the SDK keeps it, and a later call
//! with the same version of the plan sends only its number (see
//! [`corral_plugin::Request::Hook`]). Only hooks change a plan once it is made, so the hook
//! set that runs them tells its version ([`PlanVersion`]): nothing is copied or compared.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use corral_hooks::{HookContext, HookOutcome, Plan};
use serde::Serialize;

use super::{Plugin, PluginError};
use crate::hooks::ContextRef;

/// The number of the next plan sent; 0 means "no plan".
static NEXT_PLAN: AtomicU64 = AtomicU64::new(1);

/// Which plan, as changed so far: the plan of one hook set (a start's, or `corral plan`'s),
/// after its hooks changed it `changes` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanVersion {
    /// The hook set, unique in this process.
    pub set: u64,
    /// How many changes its hooks made.
    pub changes: u32,
}

/// [`corral_plugin::Request::Hook`], borrowed: serialised where it lies, never copied.
#[derive(Serialize)]
struct HookRequest<'a> {
    request: &'static str,
    body: HookBody<'a>,
}

#[derive(Serialize)]
struct HookBody<'a> {
    context: ContextRef<'a>,
    args: &'a [String],
    timeout_ms: u64,
    plan_id: u64,
}

impl Plugin {
    /// Runs the plugin's hook for `ctx` with `plan` at `version`, on this thread; `args` are
    /// the hook entry's, and `timeout` tells the plugin how long it has (the caller enforces
    /// it, see [`crate::hooks`]).
    pub fn hook(
        &self,
        ctx: &HookContext,
        plan: Option<(&Plan, PlanVersion)>,
        args: &[String],
        timeout: Duration,
    ) -> Result<HookOutcome, PluginError> {
        let mut held = self.lock_held_plan();
        let (plan_id, send) = match (plan, *held) {
            (None, _) => (0, None),
            (Some((_, version)), Some((id, kept))) if kept == version => (id, None),
            (Some((plan, _)), _) => (NEXT_PLAN.fetch_add(1, Ordering::Relaxed), Some(plan)),
        };
        let request = HookRequest {
            request: "hook",
            body: HookBody {
                context: ContextRef {
                    base: ctx,
                    plan: send,
                },
                args,
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                plan_id,
            },
        };
        let answer = self.call(&request)?;
        // Only a call that was answered leaves the plugin holding the plan: one that failed
        // may have lost it.
        *held = plan.map(|(_, version)| (plan_id, version));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use corral_hooks::HookPoint;
    use corral_plugin::Request;

    use super::*;

    #[test]
    fn the_borrowed_hook_request_is_what_plugins_read() {
        let ctx = crate::hooks::context(HookPoint::Stop, "c", "/c.toml".into(), "/r".into());
        let args = vec!["a".to_owned()];
        // The plan's own round trip is the integration tests' (tests/integration/hooks.rs).
        let json = serde_json::to_vec(&HookRequest {
            request: "hook",
            body: HookBody {
                context: ContextRef {
                    base: &ctx,
                    plan: None,
                },
                args: &args,
                timeout_ms: 5,
                plan_id: 7,
            },
        })
        .expect("serialise");
        let request: Request = serde_json::from_slice(&json).expect("a plugin's request");
        assert_eq!(
            request,
            Request::Hook {
                context: Box::new(ctx),
                args,
                timeout_ms: 5,
                plan_id: 7,
            }
        );
    }
}
