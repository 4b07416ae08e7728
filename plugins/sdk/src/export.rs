//! The plugin's side of a call: decode, dispatch to the [`Plugin`], encode, catch panics.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::{Buffer, STATUS_ERROR, STATUS_OK, STATUS_PANIC};
use crate::{Plugin, Request};

/// Handles one request for the plugin `get` returns. Used by [`export_plugin!`](crate::export_plugin).
///
/// # Safety
///
/// `req` must point to `len` readable bytes and `out` to a writable [`Buffer`].
pub unsafe fn dispatch<P: Plugin>(
    get: impl FnOnce() -> &'static P,
    req: *const u8,
    len: usize,
    out: *mut Buffer,
) -> i32 {
    let bytes = if req.is_null() || len == 0 {
        &[][..]
    } else {
        // SAFETY: the caller promises `len` readable bytes at `req`.
        unsafe { std::slice::from_raw_parts(req, len) }
    };
    let (status, answer) = match catch_unwind(AssertUnwindSafe(|| handle(get(), bytes))) {
        Ok(Ok(json)) => (STATUS_OK, json),
        Ok(Err(message)) => (STATUS_ERROR, message.into_bytes()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            (STATUS_PANIC, message.into_bytes())
        }
    };
    if !out.is_null() {
        // SAFETY: the caller promises `out` is writable.
        unsafe { out.write(Buffer::from_vec(answer)) };
    }
    status
}

fn handle<P: Plugin>(plugin: &P, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let request: Request =
        serde_json::from_slice(bytes).map_err(|e| format!("bad request from the engine: {e}"))?;
    match request {
        Request::Describe => Ok(json(&plugin.info())),
        Request::HookPoints { args } => Ok(json(&plugin.hook_points(&args)?)),
        Request::Hook {
            mut context,
            args,
            timeout_ms,
            plan_id,
        } => {
            if context.plan.is_none() && plan_id != 0 {
                context.plan = Some(kept_plan::take(plan_id)?);
            }
            let timeout = std::time::Duration::from_millis(timeout_ms);
            let outcome = plugin.hook_within(&context, &args, timeout);
            if let Some(plan) = context.plan.take().filter(|_| plan_id != 0) {
                kept_plan::keep(plan_id, plan);
            }
            Ok(json(&outcome?))
        }
        Request::Policy { policy, mut plan } => {
            plugin.policy(&policy, &mut plan)?;
            Ok(json(&plan))
        }
        Request::Template(req) => Ok(json(&plugin.template(&req)?)),
        Request::DriverPlan(req) => Ok(json(&plugin.driver_plan(&req)?)),
        Request::DriverAttach(req) => Ok(json(&plugin.driver_attach(&req)?)),
        Request::DriverDetach(req) => {
            plugin.driver_detach(&req)?;
            Ok(b"null".to_vec())
        }
    }
}

/// Serialises an answer. Plain data types always serialise; `null` stands in should one not.
fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec())
}

/// The plan of the last hook call, which the engine does not send again while it is unchanged.
mod kept_plan {
    use std::sync::{Mutex, PoisonError};

    use crate::hooks::Plan;

    static KEPT: Mutex<Option<(u64, Plan)>> = Mutex::new(None);

    /// The plan numbered `id`, taken out until [`keep`] puts it back.
    pub fn take(id: u64) -> Result<Plan, String> {
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
    pub fn keep(id: u64, plan: Plan) {
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.as_ref().is_none_or(|(kept_id, _)| *kept_id < id) {
            *kept = Some((id, plan));
        }
    }
}
