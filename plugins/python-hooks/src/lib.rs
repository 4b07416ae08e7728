//! corral's Python hook runner, a plugin: `[[hooks]] python = "x.py"` entries run here.
//!
//! The interpreter is embedded with PyO3 and starts on the first call, so it lives only in a
//! monitor or CLI whose container has Python hooks; the engine loads this plugin only then.
//! A script's module-level function named after a hook point (`before_cgroups`,
//! `pre_start`) is called with a context object: `container`, `config_file`, `rootfs`,
//! `pid`, `applied`, `target`, `dry_run`, `point`, `stage`, and `plan`, the plan as dicts
//! and lists. A before-hook edits `ctx.plan` in place; returning a string refuses the start
//! with that reason; an exception aborts it with the traceback. A hook past its timeout gets
//! a `TimeoutError` raised in it.

use std::ffi::CString;
use std::sync::mpsc;
use std::time::Duration;

use corral_plugin::hooks::{HookContext, HookOutcome, HookPoint};
use corral_plugin::{Info, Plugin, export_plugin};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// The runner's Python half, compiled once per process.
static RUNNER: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn runner(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    RUNNER
        .get_or_try_init(py, || {
            PyModule::from_code(
                py,
                c_str(include_str!("runner.py")).as_c_str(),
                c"corral_runner.py",
                c"corral_runner",
            )
            .map(Bound::unbind)
        })
        .map(|m| m.bind(py))
}

fn c_str(text: &str) -> CString {
    // The runner's source has no NUL; were one there, an empty module fails loudly below.
    CString::new(text).unwrap_or_default()
}

fn script(args: &[String]) -> Result<&str, String> {
    args.first()
        .map(String::as_str)
        .ok_or_else(|| "no script given".to_owned())
}

fn python_error(py: Python<'_>, e: &PyErr) -> String {
    let trace = e
        .traceback(py)
        .and_then(|t| t.format().ok())
        .unwrap_or_default();
    format!("{trace}{e}")
}

#[derive(Default)]
struct PythonHooks;

impl Plugin for PythonHooks {
    fn info(&self) -> Info {
        Info {
            name: "python-hooks".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "runs hooks written in Python".into(),
            hooks: true,
            ..Info::default()
        }
    }

    fn hook_points(&self, args: &[String]) -> Result<Vec<HookPoint>, String> {
        let path = script(args)?;
        let names: Vec<&str> = HookPoint::ALL.iter().map(|p| p.name()).collect();
        let answer: String =
            Python::attach(|py| runner(py)?.call_method1("points", (path, names))?.extract())
                .map_err(|e| Python::attach(|py| format!("{path}: {}", python_error(py, &e))))?;
        serde_json::from_str(&answer).map_err(|e| e.to_string())
    }

    fn hook(&self, ctx: &HookContext, args: &[String]) -> Result<HookOutcome, String> {
        self.hook_within(ctx, args, Duration::from_secs(10))
    }

    fn hook_within(
        &self,
        ctx: &HookContext,
        args: &[String],
        timeout: Duration,
    ) -> Result<HookOutcome, String> {
        let path = script(args)?;
        let json = serde_json::to_string(ctx).map_err(|e| e.to_string())?;
        let answer: String = Python::attach(|py| {
            let _watchdog = Watchdog::arm(timeout);
            runner(py)?.call_method1("run", (path, json))?.extract()
        })
        .map_err(|e| Python::attach(|py| python_error(py, &e)))?;
        let value: serde_json::Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
        if let Some(trace) = value.get("error").and_then(|t| t.as_str()) {
            return Err(format!("Python exception in {path}:\n{trace}"));
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
}

unsafe extern "C" {
    /// CPython's id of the calling thread (not bound by this PyO3 version's `ffi`).
    fn PyThread_get_thread_ident() -> std::ffi::c_ulong;
}

/// Raises `TimeoutError` in the hook's thread once its time is up, unless disarmed first.
struct Watchdog {
    done: Option<mpsc::Sender<()>>,
}

impl Watchdog {
    fn arm(timeout: Duration) -> Watchdog {
        // SAFETY: called with the GIL held (inside `Python::attach`); returns this thread's id.
        let thread = unsafe { PyThread_get_thread_ident() };
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if rx.recv_timeout(timeout) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            Python::attach(|_py| {
                // Still running? The hook's thread drops the sender only with the GIL held,
                // so with the GIL here the answer cannot change under us.
                if rx.try_recv() == Err(mpsc::TryRecvError::Empty) {
                    // CPython's thread ids are unsigned longs, passed here as signed.
                    let id = thread.cast_signed();
                    // SAFETY: read with the GIL held, after initialisation set it.
                    let timeout_error = unsafe { pyo3::ffi::PyExc_TimeoutError };
                    // SAFETY: the GIL is held; `id` is a live thread's id and the exception
                    // type a valid class.
                    unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(id, timeout_error) };
                }
            });
        });
        Watchdog { done: Some(tx) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropped inside `Python::attach`, with the GIL: see `arm`.
        drop(self.done.take());
    }
}

export_plugin!(PythonHooks);
