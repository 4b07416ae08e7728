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
            context,
            args,
            timeout_ms,
        } => {
            let timeout = std::time::Duration::from_millis(timeout_ms);
            Ok(json(&plugin.hook_within(&context, &args, timeout)?))
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
