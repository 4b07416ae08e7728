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

mod convert;

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::sync::{Condvar, Mutex, MutexGuard, Once, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use corral_plugin::HookCall;
use corral_plugin::hooks::{HookOutcome, HookPoint, Plan};
use corral_plugin::{Info, Plugin, export_plugin};
use pyo3::ffi;
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

/// Runs `f` with the GIL, starting the interpreter on first use; a Python error it returns
/// becomes its message with the traceback, after `what`.
fn attach<R>(what: &str, f: impl for<'py> FnOnce(Python<'py>) -> PyResult<R>) -> Result<R, String> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED.get_or_init(start_interpreter).clone()?;
    Python::attach(|py| f(py).map_err(|e| format!("{what}: {}", python_error(py, &e))))
}

/// Starts the interpreter for hooks.
fn start_interpreter() -> Result<(), String> {
    // The engine loads plugins with their symbols kept local, but CPython's extension
    // modules (`_json`, `math`, `_socket`...) look up libpython's symbols globally: without
    // making libpython global they fail to import.
    // SAFETY: a zeroed Dl_info is a valid out-parameter for dladdr.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let in_libpython = ffi::Py_IsInitialized as *const std::ffi::c_void;
    // SAFETY: dladdr only reads the loader's tables for an address of libpython's code.
    let found = unsafe { libc::dladdr(in_libpython, &raw mut info) } != 0;
    if found && !info.dli_fname.is_null() {
        // SAFETY: dli_fname is the loader's NUL-terminated path of a library already loaded;
        // RTLD_NOLOAD only changes its flags. The handle is kept: never unloaded.
        unsafe {
            libc::dlopen(
                info.dli_fname,
                libc::RTLD_NOW | libc::RTLD_GLOBAL | libc::RTLD_NOLOAD,
            )
        };
    }
    let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
    // SAFETY: PyConfig_InitPythonConfig fills the whole struct.
    unsafe { ffi::PyConfig_InitPythonConfig(config.as_mut_ptr()) };
    // SAFETY: initialised just above.
    let config = unsafe { config.assume_init_mut() };
    // The monitor owns its signals.
    config.install_signal_handlers = 0;
    let program = c_str(env!("CORRAL_PYTHON_EXECUTABLE"));
    let name = &raw mut config.program_name;
    // SAFETY: `name` is a field of the valid config, `program` a NUL-terminated string; on
    // failure the default name stays and initialisation goes on with it.
    let _ = unsafe { ffi::PyConfig_SetBytesString(config, name, program.as_ptr()) };
    config.site_import = 0;
    // SAFETY: the config is valid; nothing else in this process has used the interpreter.
    let status = unsafe { ffi::Py_InitializeFromConfig(config) };
    // SAFETY: the config is not used again.
    unsafe { ffi::PyConfig_Clear(config) };
    // SAFETY: reads the status just returned.
    if unsafe { ffi::PyStatus_Exception(status) } != 0 {
        let message = if status.err_msg.is_null() {
            "unknown error".into()
        } else {
            // SAFETY: a failed status carries a static NUL-terminated message.
            unsafe { std::ffi::CStr::from_ptr(status.err_msg) }.to_string_lossy()
        };
        return Err(format!("cannot start the Python interpreter: {message}"));
    }
    // Release the GIL this thread holds after initialisation, for `Python::attach`.
    // SAFETY: this thread holds the GIL, since Py_InitializeFromConfig succeeded.
    unsafe { ffi::PyEval_SaveThread() };
    Ok(())
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
        let found: Vec<String> = attach(path, |py| {
            runner(py)?.call_method1("points", (path, names))?.extract()
        })?;
        found
            .iter()
            .map(|name| name.parse().map_err(|e| format!("{e}")))
            .collect()
    }

    fn hook(&self, call: &HookCall, args: &[String]) -> Result<HookOutcome, String> {
        self.hook_within(call, args, Duration::from_secs(10))
    }

    fn hook_within(
        &self,
        call: &HookCall,
        args: &[String],
        timeout: Duration,
    ) -> Result<HookOutcome, String> {
        let path = script(args)?;
        let ctx = &call.context;
        let plan = call.plan()?;
        let source = PlanSource {
            plan: plan.cloned(),
        };
        let fields = serde_json::to_value(ctx).map_err(|e| e.to_string())?;
        let (error, answer, left) = attach(path, |py| {
            let _armed = WATCHDOG.arm(timeout);
            let fields = convert::to_python(py, &fields)?;
            let source = Bound::new(py, source)?;
            let (error, answer, left): (Option<String>, Bound<'_, PyAny>, Bound<'_, PyAny>) =
                runner(py)?
                    .call_method1("run", (path, fields, &source))?
                    .extract()?;
            let answer = answer.extract::<Option<String>>().ok().flatten();
            // A before-hook that read the plan may have changed it.
            let left = match ctx.point {
                HookPoint::Before(_) if !left.is_none() => Some(convert::from_python(&left)?),
                _ => None,
            };
            Ok((error, answer, left))
        })?;
        if let Some(trace) = error {
            return Err(format!("Python exception in {path}:\n{trace}"));
        }
        if let Some(reason) = answer {
            return Ok(HookOutcome::Refuse { reason });
        }
        let Some(left) = left else {
            return Ok(HookOutcome::Continue);
        };
        let new: Plan = serde_json::from_value(left).map_err(|e| format!("ctx.plan: {e}"))?;
        if plan == Some(&new) {
            return Ok(HookOutcome::Continue);
        }
        Ok(HookOutcome::Change {
            plan: Box::new(new),
        })
    }
}

/// The plan of a hook's context, made into Python objects only if the hook reads it.
#[pyclass(frozen)]
struct PlanSource {
    plan: Option<Plan>,
}

#[pymethods]
impl PlanSource {
    fn __call__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = serde_json::to_value(&self.plan)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        convert::to_python(py, &value)
    }
}

unsafe extern "C" {
    /// CPython's id of the calling thread (not bound by this PyO3 version's `ffi`).
    fn PyThread_get_thread_ident() -> std::ffi::c_ulong;
}

/// Raises `TimeoutError` in a hook's thread once its time is up. One thread serves every
/// call, started with the first: a thread of its own per call cost more than a small hook.
struct Watchdog {
    state: Mutex<WatchState>,
    changed: Condvar,
}

struct WatchState {
    /// Whether the thread is in its loop, where it allocates nothing.
    running: bool,
    calls: u64,
    alarm: Option<Alarm>,
}

/// A running hook's deadline.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Alarm {
    call: u64,
    deadline: Instant,
    thread: std::ffi::c_ulong,
}

static WATCHDOG: Watchdog = Watchdog {
    state: Mutex::new(WatchState {
        running: false,
        calls: 0,
        alarm: None,
    }),
    changed: Condvar::new(),
};

/// Disarms the watchdog when dropped, which must happen with the GIL held: the watchdog
/// checks under the GIL that the hook still runs before it interrupts it.
struct Armed;

impl Drop for Armed {
    fn drop(&mut self) {
        WATCHDOG.lock().alarm = None;
    }
}

impl Watchdog {
    fn lock(&self) -> MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Arms the watchdog for the calling thread, which holds the GIL.
    fn arm(&'static self, timeout: Duration) -> Armed {
        static STARTED: Once = Once::new();
        STARTED.call_once(|| {
            // Without the thread, hooks simply run without a time limit.
            let spawned = std::thread::Builder::new()
                .name("python watchdog".into())
                .spawn(|| self.watch());
            // The engine may clone a process from this one with a raw `clone3`, which does
            // not take malloc's locks as `fork()` does: the new thread must be past its own
            // start, where it allocates, before this call returns.
            if spawned.is_ok() {
                let state = self.lock();
                let running = self.changed.wait_while(state, |state| !state.running);
                drop(running.unwrap_or_else(PoisonError::into_inner));
            }
        });
        // A timeout too far away to be a time is none.
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            return Armed;
        };
        // SAFETY: called with the GIL held (inside `Python::attach`); returns this thread's id.
        let thread = unsafe { PyThread_get_thread_ident() };
        let mut state = self.lock();
        state.calls += 1;
        state.alarm = Some(Alarm {
            call: state.calls,
            deadline,
            thread,
        });
        self.changed.notify_one();
        Armed
    }

    fn watch(&self) {
        let mut state = self.lock();
        state.running = true;
        self.changed.notify_all();
        loop {
            let Some(alarm) = state.alarm else {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let now = Instant::now();
            if now < alarm.deadline {
                let wait = self.changed.wait_timeout(state, alarm.deadline - now);
                state = wait.unwrap_or_else(PoisonError::into_inner).0;
                continue;
            }
            // The GIL first, then the lock: the order in which a hook's thread disarms.
            drop(state);
            Python::attach(|_py| {
                let mut state = self.lock();
                if state.alarm == Some(alarm) {
                    state.alarm = None;
                    // CPython's thread ids are unsigned longs, passed here as signed.
                    let id = alarm.thread.cast_signed();
                    // SAFETY: read with the GIL held, after initialisation set it.
                    let timeout_error = unsafe { ffi::PyExc_TimeoutError };
                    // SAFETY: the GIL is held; `id` is a live thread's id (its hook still
                    // runs: it disarms with the GIL) and the exception type a valid class.
                    unsafe { ffi::PyThreadState_SetAsyncExc(id, timeout_error) };
                }
            });
            state = self.lock();
        }
    }
}

export_plugin!(PythonHooks);
