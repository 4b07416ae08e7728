//! Hook calls: the context, and the plan only when the plugin does not hold it already.
//!
//! A start calls a plugin's hooks up to fifteen times with a plan that rarely changes
//! between them, and the plan (its seccomp policy above all) is most of a request. So a
//! plan is numbered when sent, the plugin's side of the SDK keeps it, and a later call
//! with an equal plan sends only its number (see [`corral_plugin::Request::Hook`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use corral_hooks::{HookContext, HookOutcome, Plan};
use serde::Serialize;

use super::{Plugin, PluginError};
use crate::hooks::ContextRef;

/// The number of the next plan sent; 0 means "no plan".
static NEXT_PLAN: AtomicU64 = AtomicU64::new(1);

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
    /// Runs the plugin's hook for `ctx` with `plan`, on this thread; `args` are the hook
    /// entry's, and `timeout` tells the plugin how long it has (the caller enforces it, see
    /// [`crate::hooks`]).
    pub fn hook(
        &self,
        ctx: &HookContext,
        plan: Option<&Plan>,
        args: &[String],
        timeout: Duration,
    ) -> Result<HookOutcome, PluginError> {
        let mut held = self.lock_held_plan();
        let (plan_id, send) = match (plan, held.take()) {
            (None, _) => (0, None),
            (Some(plan), Some((id, kept))) if kept == *plan => (id, Some((kept, false))),
            (Some(plan), _) => (
                NEXT_PLAN.fetch_add(1, Ordering::Relaxed),
                Some((plan.clone(), true)),
            ),
        };
        let request = HookRequest {
            request: "hook",
            body: HookBody {
                context: ContextRef {
                    base: ctx,
                    plan: send.as_ref().filter(|(_, full)| *full).map(|(p, _)| p),
                },
                args,
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                plan_id,
            },
        };
        let answer = self.call(&request)?;
        // Only a call that was answered leaves the plugin holding the plan: one that failed
        // may have lost it.
        *held = send.map(|(plan, _)| (plan_id, plan));
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
