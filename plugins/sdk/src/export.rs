//! The plugin's side of a call: decode, dispatch to the [`Plugin`], encode, catch panics.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::{Buffer, STATUS_ERROR, STATUS_OK, STATUS_PANIC};
use crate::call::HookBody;
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

/// A request as first read: a hook's body with its plan left as JSON (see [`HookCall`]);
/// any other request is read again as a [`Request`].
#[derive(serde::Deserialize)]
#[serde(tag = "request", content = "body", rename_all = "snake_case")]
enum Incoming {
    Hook(Box<HookBody>),
    #[serde(other)]
    Other,
}

fn handle<P: Plugin>(plugin: &P, bytes: &[u8]) -> Result<Vec<u8>, String> {
    if let Ok(Incoming::Hook(mut body)) = serde_json::from_slice(bytes) {
        let call = body.call()?;
        let timeout = std::time::Duration::from_millis(body.timeout_ms);
        let outcome = plugin.hook_within(&call, &body.args, timeout);
        body.keep(call);
        return Ok(json(&outcome?));
    }
    let request: Request =
        serde_json::from_slice(bytes).map_err(|e| format!("bad request from the engine: {e}"))?;
    match request {
        Request::Describe => Ok(json(&plugin.info())),
        Request::HookPoints { args } => Ok(json(&plugin.hook_points(&args)?)),
        Request::Hook { .. } => Err("bad hook request from the engine".into()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookOutcome;
    use crate::{HookCall, Info};

    #[derive(Default)]
    struct Quiet;

    impl Plugin for Quiet {
        fn info(&self) -> Info {
            Info {
                name: "quiet".into(),
                ..Info::default()
            }
        }

        fn hook(&self, call: &HookCall, args: &[String]) -> Result<HookOutcome, String> {
            if args.iter().any(|a| a == "read") {
                call.plan()?;
            }
            Ok(HookOutcome::Continue)
        }
    }

    fn hook(args: &str) -> Vec<u8> {
        format!(
            r#"{{"request": "hook", "body": {{"context": {{"point": "start", "container": "c",
                "config_file": "/c.toml", "rootfs": "/r", "plan": {{"not": "a plan"}}}},
                "args": [{args}], "timeout_ms": 5}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn hooks_and_other_requests_reach_the_plugin() {
        let describe = handle(&Quiet, br#"{"request": "describe"}"#).unwrap();
        let info: Info = serde_json::from_slice(&describe).unwrap();
        assert_eq!(info.name, "quiet");
        let template = br#"{"request": "template", "body": {"template": "t", "container": "c",
            "rootfs": "/r", "args": []}}"#;
        let error = handle(&Quiet, template).unwrap_err();
        assert!(error.contains("no template `t`"), "{error}");
        // A hook that does not read the plan never parses it.
        let answer = handle(&Quiet, &hook("")).unwrap();
        assert_eq!(answer, br#"{"action":"continue"}"#);
        let error = handle(&Quiet, &hook(r#""read""#)).unwrap_err();
        assert!(error.starts_with("the plan from the engine"), "{error}");
    }
}
