//! Write corral plugins in safe Rust.
//!
//! Implement [`Plugin`] (every method but [`Plugin::info`] has a default that says "not
//! provided") and export it with [`export_plugin!`]; build the crate as a `cdylib` and put the
//! library in a plugin directory (`/usr/lib/corral/plugins`, or `CORRAL_PLUGIN_PATH`).
//!
//! ```
//! use corral_plugin::{HookCall, Info, Plugin, export_plugin};
//! use corral_plugin::hooks::{HookOutcome, HookPoint, Stage};
//!
//! #[derive(Default)]
//! struct Limit;
//!
//! impl Plugin for Limit {
//!     fn info(&self) -> Info {
//!         Info { name: "limit".into(), version: "1.0".into(), hooks: true, ..Info::default() }
//!     }
//!     fn hook(&self, call: &HookCall, _: &[String]) -> Result<HookOutcome, String> {
//!         if call.context.point != HookPoint::Before(Stage::Cgroups) {
//!             return Ok(HookOutcome::Continue);
//!         }
//!         let Some(plan) = call.plan()? else {
//!             return Ok(HookOutcome::Continue);
//!         };
//!         let mut plan = plan.clone();
//!         plan.cgroups.limits.memory = Some(64 << 20);
//!         Ok(HookOutcome::Change { plan: Box::new(plan) })
//!     }
//! }
//!
//! export_plugin!(Limit);
//! ```
//!
//! Underneath is a plain C ABI ([`abi`]): one entry symbol, a version and size handshake,
//! JSON across the boundary, every panic caught before it reaches the engine.

pub mod abi;
mod call;
mod export;
mod protocol;

pub use call::HookCall;
pub use corral_hooks as hooks;
pub use protocol::{DriverRequest, Info, Request, TemplateRequest};

#[doc(hidden)]
pub use export::dispatch;

use corral_hooks::{HookOutcome, HookPoint, InterfacePlan, Plan};

/// A plugin. Each method answers one kind of [`Request`]; errors are messages for the user.
pub trait Plugin: Send + Sync + 'static {
    /// What the plugin is and provides.
    fn info(&self) -> Info;

    /// The points a `[[hooks]]` entry without a `point` runs at; every point by default.
    fn hook_points(&self, args: &[String]) -> Result<Vec<HookPoint>, String> {
        let _ = args;
        Ok(HookPoint::ALL.to_vec())
    }

    /// Runs a hook configured with `[[hooks]] plugin = NAME`; `args` are the entry's. The
    /// plan is read only if the hook asks for it ([`HookCall::plan`]).
    fn hook(&self, call: &HookCall, args: &[String]) -> Result<HookOutcome, String> {
        let _ = args;
        Err(format!(
            "{}: no hooks (at {})",
            self.info().name,
            call.context.point
        ))
    }

    /// Runs a hook that has `timeout` to finish: what the engine calls. By default
    /// [`Plugin::hook`]; a plugin that can interrupt its own work overrides this, since past
    /// the timeout (and a grace of half a second) the engine's watchdog ends the process,
    /// undoing the start.
    fn hook_within(
        &self,
        call: &HookCall,
        args: &[String],
        timeout: std::time::Duration,
    ) -> Result<HookOutcome, String> {
        let _ = timeout;
        self.hook(call, args)
    }

    /// Applies the policy `name` to a whole plan.
    fn policy(&self, name: &str, plan: &mut Plan) -> Result<(), String> {
        let _ = plan;
        Err(format!("{}: no policy `{name}`", self.info().name))
    }

    /// Fills a rootfs and returns the config settings the container starts with.
    fn template(&self, req: &TemplateRequest) -> Result<serde_json::Value, String> {
        Err(format!(
            "{}: no template `{}`",
            self.info().name,
            req.template
        ))
    }

    /// Completes an interface's plan before anything is created.
    fn driver_plan(&self, req: &DriverRequest) -> Result<InterfacePlan, String> {
        Ok(req.interface.clone())
    }

    /// Creates an interface in the container's network namespace.
    fn driver_attach(&self, req: &DriverRequest) -> Result<serde_json::Value, String> {
        Err(format!(
            "{}: no network driver `{}`",
            self.info().name,
            req.interface.driver
        ))
    }

    /// Removes what [`Plugin::driver_attach`] created; must cope with half of it.
    fn driver_detach(&self, req: &DriverRequest) -> Result<(), String> {
        let _ = req;
        Ok(())
    }
}

/// Exports a [`Plugin`] (a type with `Default`) as this library's plugin: writes the entry
/// symbol, the vtable and the glue that catches panics.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        // A panic is caught at the ABI boundary and reported; with abort, it would take the
        // engine down with it.
        #[cfg(panic = "abort")]
        compile_error!("a corral plugin must be built with panic = \"unwind\"");
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub extern "C" fn corral_plugin_entry() -> *const $crate::abi::VTable {
            unsafe extern "C" fn call(
                req: *const u8,
                len: usize,
                out: *mut $crate::abi::Buffer,
            ) -> i32 {
                static PLUGIN: ::std::sync::OnceLock<$plugin> = ::std::sync::OnceLock::new();
                // SAFETY: the engine passes `len` readable bytes at `req` and a writable
                // `out`, as the ABI requires.
                unsafe {
                    $crate::dispatch(
                        || PLUGIN.get_or_init(<$plugin as ::std::default::Default>::default),
                        req,
                        len,
                        out,
                    )
                }
            }
            unsafe extern "C" fn free(buf: $crate::abi::Buffer) {
                // SAFETY: the engine gives back only buffers `call` made, once each.
                drop(unsafe { buf.into_vec() });
            }
            static VTABLE: $crate::abi::VTable = $crate::abi::VTable {
                abi_version: $crate::abi::ABI_VERSION,
                struct_size: ::std::mem::size_of::<$crate::abi::VTable>() as u32,
                call,
                free,
            };
            &VTABLE
        }
    };
}
