//! The timeout of plugin hooks, which run on the caller's thread.
//!
//! A plugin is Rust (or C) code in this process: past its timeout it cannot be stopped,
//! only left behind. So a hook call runs on the thread that needs its answer (no hand-off
//! to another thread, which cost more than most hooks), and one watchdog thread per process
//! watches the call in progress. When a call overruns, the watchdog runs the process's
//! abort handler: the monitor's undoes the start and leaves, as a failed start would; with
//! none registered, the error is printed and the process exits with status 1.
//!
//! Arming costs two uncontended lock operations: the watchdog sleeps until the earliest
//! deadline it knows, and is woken only when a call's deadline comes before that.
//!
//! The watchdog is a [bare thread](crate::bare_thread) that allocates nothing until a call
//! overruns, so that init can be cloned at any time; it is started early ([`start`]), off
//! the first hook's path.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::HookError;
use crate::bare_thread::{self, Stack};

/// What the process does when a hook overruns: undo what it changed and report the error.
/// The process then exits with the status the handler returns.
pub type AbortHandler = Box<dyn FnOnce(HookError) -> i32 + Send>;

struct Watchdog {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// The call in progress: when it is late, and the error it then ends with.
    call: Option<(Instant, HookError)>,
    /// When the watchdog wakes next; `None` while it waits for a call.
    wakes_at: Option<Instant>,
}

/// The process's abort handler: kept apart from the watchdog, which only a process that
/// runs plugin hooks starts.
static HANDLER: Mutex<Option<AbortHandler>> = Mutex::new(None);

fn registered() -> MutexGuard<'static, Option<AbortHandler>> {
    HANDLER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process's watchdog, once started.
static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();

fn watchdog() -> &'static Watchdog {
    WATCHDOG.get_or_init(|| {
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }));
        if let Err(e) = spawn(watchdog) {
            // Hooks still run; only an endless one can then not be stopped.
            tracing::warn!(%e, "cannot start the hook watchdog: hook timeouts are not enforced");
        }
        watchdog
    })
}

/// The watchdog thread's stack: room for the abort handler, which tears a container down.
const STACK: usize = 1024 * 1024;

/// Starts the thread that watches over `watchdog`.
fn spawn(watchdog: &'static Watchdog) -> std::io::Result<()> {
    let arg = std::ptr::from_ref(watchdog)
        .cast_mut()
        .cast::<libc::c_void>();
    // SAFETY: `run` takes a `&'static Watchdog`, which lives for ever.
    let id = unsafe { bare_thread::spawn(Stack::Size(STACK), run, arg) }?;
    // The thread never ends: it is never joined.
    // SAFETY: `id` is a thread of ours, detached once.
    unsafe { libc::pthread_detach(id) };
    Ok(())
}

/// The thread's start: names itself and watches.
extern "C" fn run(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `spawn` passes a `&'static Watchdog`.
    let watchdog = unsafe { &*arg.cast_const().cast::<Watchdog>() };
    // SAFETY: PR_SET_NAME copies at most 16 bytes of a NUL-terminated name.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"hook watchdog".as_ptr()) };
    watchdog.watch()
}

/// Starts the watchdog thread, if it does not run yet: best before the first hook, so that
/// its start is off that hook's path.
pub fn start() {
    watchdog();
}

impl Watchdog {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for calls and their deadlines, allocating nothing, until one is late; then
    /// runs the abort handler and ends the process. A panic cannot leave it: the process
    /// aborts.
    fn watch(&self) -> ! {
        let mut state = self.lock();
        let error = loop {
            let now = Instant::now();
            if let Some((_, error)) = state.call.take_if(|(deadline, _)| *deadline <= now) {
                break error;
            }
            state.wakes_at = state.call.as_ref().map(|(deadline, _)| *deadline);
            state = match state.wakes_at {
                None => self
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let timeout = deadline.saturating_duration_since(now);
                    let waited = self.wake.wait_timeout(state, timeout);
                    waited.unwrap_or_else(PoisonError::into_inner).0
                }
            };
        };
        // The handler may take long (it tears a container down): nothing else needs the
        // state any more.
        drop(state);
        let handler = registered().take();
        tracing::error!(error = %crate::error_chain(&error), "a hook overran its timeout");
        let status = match handler {
            Some(handler) => handler(error),
            None => {
                eprintln!("corral: error: {}", crate::error_chain(&error));
                1
            }
        };
        // SAFETY: leaving at once is the point: the thread that would go on is stuck in the
        // plugin, and the handler cleaned up what it had to.
        unsafe { libc::_exit(status) }
    }
}

/// A hook call being watched; dropping it ends the watch.
#[must_use = "the call is watched until this is dropped"]
pub struct Watched(());

/// Watches a call that must end within `limit`, or else end the process with `error`.
pub fn watch(limit: Duration, error: HookError) -> Watched {
    let watchdog = watchdog();
    // A limit too far away to be a time is no limit.
    let Some(deadline) = Instant::now().checked_add(limit) else {
        return Watched(());
    };
    let mut state = watchdog.lock();
    state.call = Some((deadline, error));
    if state.wakes_at.is_none_or(|at| at > deadline) {
        watchdog.wake.notify_one();
    }
    Watched(())
}

impl Drop for Watched {
    fn drop(&mut self) {
        watchdog().lock().call = None;
    }
}

/// Makes `handler` what the process does when a hook overruns, until the returned guard is
/// dropped (the previous handler then comes back).
pub fn on_abort(handler: AbortHandler) -> AbortRegistration {
    let previous = registered().replace(handler);
    AbortRegistration { previous }
}

/// The registration of an abort handler; see [`on_abort`].
#[must_use = "the handler is unregistered when this is dropped"]
pub struct AbortRegistration {
    previous: Option<AbortHandler>,
}

impl Drop for AbortRegistration {
    fn drop(&mut self) {
        *registered() = self.previous.take();
    }
}

#[cfg(test)]
mod tests {
    use corral_hooks::HookPoint;

    use super::*;
    use crate::hooks::HookFailure;

    #[test]
    fn a_limit_beyond_any_time_is_no_limit() {
        let error = HookError {
            point: HookPoint::Stop,
            hook: "plugin p".into(),
            cause: HookFailure::Timeout(Duration::MAX),
        };
        drop(watch(Duration::MAX, error));
    }
}
