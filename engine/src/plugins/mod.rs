//! Rust plugins: shared libraries found in the plugin directories and loaded through the
//! SDK's C ABI ([`corral_plugin::abi`]).
//!
//! A library is loaded at most once per process and never unloaded (Rust libraries register
//! thread-local destructors that would run into unmapped code). Loading checks the ABI
//! version and the vtable's size before anything is called; every call catches the plugin's
//! panics on its side of the boundary, so a broken plugin fails the command, never the engine.

mod driver;
mod hook;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use corral_hooks::Plan;
use corral_plugin::abi::{self, Buffer, VTable};
use corral_plugin::{Info, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use hook::PlanVersion;
pub use template::PluginTemplate;

use crate::config::PluginsConfig;

/// An error finding, loading or calling a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No plugin of that name in the plugin directories.
    #[error("plugin `{name}` not found in {dirs}")]
    NotFound {
        /// The name.
        name: String,
        /// Where it was looked for.
        dirs: String,
    },
    /// The library would not load.
    #[error("cannot load plugin {}", path.display())]
    Load {
        /// The library.
        path: PathBuf,
        /// Why.
        #[source]
        source: libloading::Error,
    },
    /// The library is not a corral plugin.
    #[error("{} is not a corral plugin: it has no `corral_plugin_entry` symbol", path.display())]
    Symbol {
        /// The library.
        path: PathBuf,
        /// Why.
        #[source]
        source: libloading::Error,
    },
    /// The library was built for another ABI.
    #[error(
        "plugin {} speaks ABI {found} with a vtable of {size} bytes; this corral speaks ABI {} ({} bytes): rebuild it with this corral's plugin SDK",
        path.display(), abi::ABI_VERSION, size_of::<VTable>()
    )]
    Abi {
        /// The library.
        path: PathBuf,
        /// Its ABI version.
        found: u32,
        /// Its vtable size.
        size: u32,
    },
    /// The plugin reported an error.
    #[error("plugin {plugin}: {message}")]
    Failed {
        /// The plugin.
        plugin: String,
        /// Its message.
        message: String,
    },
    /// The plugin panicked; the panic was caught on its side.
    #[error("plugin {plugin} panicked: {message}")]
    Panicked {
        /// The plugin.
        plugin: String,
        /// The panic's message.
        message: String,
    },
    /// The plugin answered something that is not what was asked for.
    #[error("plugin {plugin} gave a bad answer")]
    BadAnswer {
        /// The plugin.
        plugin: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The plugin did not answer in time (see [`crate::hooks`]'s watchdog).
    #[error("plugin {plugin} did not answer within {after:?}")]
    Timeout {
        /// The plugin.
        plugin: String,
        /// The limit.
        after: Duration,
    },
}

/// A loaded plugin.
#[derive(Debug)]
pub struct Plugin {
    /// What it says it is.
    pub info: Info,
    /// Its library.
    pub path: PathBuf,
    vtable: &'static VTable,
    /// The number and version of the plan sent with the last hook call that was answered:
    /// what the plugin's side of the SDK holds.
    held_plan: Mutex<Option<(u64, PlanVersion)>>,
}

impl Plugin {
    /// Sends `request` (a [`Request`], or a borrowed form of one) and decodes the answer.
    pub fn call<T: DeserializeOwned>(&self, request: &impl Serialize) -> Result<T, PluginError> {
        let bytes = self.encode(request)?;
        self.decode(&raw_call(self.vtable, &bytes, &self.info.name)?)
    }

    fn lock_held_plan(&self) -> MutexGuard<'_, Option<(u64, PlanVersion)>> {
        self.held_plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn encode(&self, request: &impl Serialize) -> Result<Vec<u8>, PluginError> {
        serde_json::to_vec(request).map_err(|source| PluginError::BadAnswer {
            plugin: self.info.name.clone(),
            source,
        })
    }

    fn decode<T: DeserializeOwned>(&self, answer: &[u8]) -> Result<T, PluginError> {
        serde_json::from_slice(answer).map_err(|source| PluginError::BadAnswer {
            plugin: self.info.name.clone(),
            source,
        })
    }
}

fn raw_call(vtable: &VTable, req: &[u8], name: &str) -> Result<Vec<u8>, PluginError> {
    let mut out = Buffer::EMPTY;
    // SAFETY: `req` is `req.len()` readable bytes and `out` a valid buffer to write, as the
    // ABI asks; the vtable passed the version and size check when it was loaded.
    let status = unsafe { (vtable.call)(req.as_ptr(), req.len(), &mut out) };
    let bytes = if out.ptr.is_null() {
        Vec::new()
    } else {
        // SAFETY: `out` holds `len` bytes the plugin wrote and still owns.
        let copy = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
        // SAFETY: the buffer came from this plugin's `call` and is freed once, by the plugin.
        unsafe { (vtable.free)(out) };
        copy
    };
    let text = || String::from_utf8_lossy(&bytes).into_owned();
    match status {
        abi::STATUS_OK => Ok(bytes),
        abi::STATUS_PANIC => Err(PluginError::Panicked {
            plugin: name.to_owned(),
            message: text(),
        }),
        _ => Err(PluginError::Failed {
            plugin: name.to_owned(),
            message: text(),
        }),
    }
}

/// Plugins loaded in this process, by library path.
static LOADED: Mutex<BTreeMap<PathBuf, Arc<Plugin>>> = Mutex::new(BTreeMap::new());

/// Loads the library at `path` (once per process) and asks it what it is.
pub fn load(path: &Path) -> Result<Arc<Plugin>, PluginError> {
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(plugin) = loaded.get(path) {
        return Ok(Arc::clone(plugin));
    }
    let path = path.to_owned();
    // SAFETY: loading runs the library's initialisers; a plugin directory holds code the
    // administrator installed to run in corral, which is the trust this asks for.
    let library =
        unsafe { libloading::Library::new(&path) }.map_err(|source| PluginError::Load {
            path: path.clone(),
            source,
        })?;
    // Never unloaded: see the module's documentation.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: the symbol's type is the SDK's `Entry`, which every plugin exports.
    let entry = unsafe { library.get::<abi::Entry>(abi::ENTRY_SYMBOL) }.map_err(|source| {
        PluginError::Symbol {
            path: path.clone(),
            source,
        }
    })?;
    // SAFETY: the entry takes nothing and returns a pointer to a static vtable; the SDK's
    // macro writes it so that it cannot unwind.
    let vtable = unsafe { entry() };
    // SAFETY: a non-null pointer from the entry points to a static vtable whose first two
    // fields, read here, are the same in every ABI version.
    let head = unsafe { vtable.as_ref() }.map(|v| (v.abi_version, v.struct_size));
    let expected = u32::try_from(size_of::<VTable>()).unwrap_or(u32::MAX);
    let vtable = match head {
        Some((abi::ABI_VERSION, size)) if size >= expected => {
            // SAFETY: checked above: the vtable is this ABI's, and at least as large.
            unsafe { &*vtable }
        }
        other => {
            let (found, size) = other.unwrap_or((0, 0));
            return Err(PluginError::Abi { path, found, size });
        }
    };
    let describe = br#"{"request":"describe"}"#;
    let info: Info =
        serde_json::from_slice(&raw_call(vtable, describe, &path.display().to_string())?).map_err(
            |source| PluginError::BadAnswer {
                plugin: path.display().to_string(),
                source,
            },
        )?;
    let plugin = Arc::new(Plugin {
        info,
        path: path.clone(),
        vtable,
        held_plan: Mutex::new(None),
    });
    loaded.insert(path, Arc::clone(&plugin));
    Ok(plugin)
}

/// The plugin directories: `CORRAL_PLUGIN_PATH` (colon-separated) first, then the global
/// config's.
pub fn dirs(config: &PluginsConfig) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("CORRAL_PLUGIN_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(config.dirs.iter().cloned());
    dirs
}

/// The file names a plugin called `name` may have: `libcorral_plugin_NAME.so` (how cargo
/// names the crate `corral-plugin-NAME`), `libNAME.so` and `NAME.so`, with `-` as `_` in
/// library names.
fn file_names(name: &str) -> [String; 3] {
    let under = name.replace('-', "_");
    [
        format!("libcorral_plugin_{under}.so"),
        format!("lib{under}.so"),
        format!("{name}.so"),
    ]
}

/// Plugins found by name in this process, with the directories searched: a start names
/// its plugin once per hook entry, and each search costs a `stat` per candidate file.
static FOUND: Mutex<BTreeMap<String, Found>> = Mutex::new(BTreeMap::new());

/// A plugin found by name, and the directories searched for it.
type Found = (Vec<PathBuf>, Arc<Plugin>);

/// Finds and loads the plugin `name`.
pub fn find(name: &str, dirs: &[PathBuf]) -> Result<Arc<Plugin>, PluginError> {
    let mut found = FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((searched, plugin)) = found.get(name)
        && searched == dirs
    {
        return Ok(Arc::clone(plugin));
    }
    let plugin = search(name, dirs)?;
    found.insert(name.to_owned(), (dirs.to_vec(), Arc::clone(&plugin)));
    Ok(plugin)
}

fn search(name: &str, dirs: &[PathBuf]) -> Result<Arc<Plugin>, PluginError> {
    let path = dirs
        .iter()
        .flat_map(|d| file_names(name).map(|f| d.join(f)))
        .find(|p| p.is_file());
    match path {
        Some(path) => load(&path),
        None => Err(PluginError::NotFound {
            name: name.to_owned(),
            dirs: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
        }),
    }
}

/// Every library in the plugin directories, loaded, or why not: what `corral plugins` lists.
pub fn installed(dirs: &[PathBuf]) -> Vec<(PathBuf, Result<Arc<Plugin>, PluginError>)> {
    let mut libraries: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "so"))
        .collect();
    libraries.sort();
    libraries.dedup();
    libraries
        .into_iter()
        .map(|p| {
            let plugin = load(&p);
            (p, plugin)
        })
        .collect()
}

/// Loads the container's plugins and registers their network drivers.
pub fn load_named(names: &[String], dirs: &[PathBuf]) -> Result<Vec<Arc<Plugin>>, PluginError> {
    names
        .iter()
        .map(|name| {
            let plugin = find(name, dirs)?;
            driver::register(&plugin);
            Ok(plugin)
        })
        .collect()
}

/// Loads the plugins `config` names (registering their drivers), for planning.
pub fn for_plan(
    config: &crate::config::ContainerConfig,
    dirs: &PluginsConfig,
) -> Result<Vec<Arc<Plugin>>, crate::stages::PlanError> {
    if config.plugins.is_empty() {
        return Ok(Vec::new());
    }
    load_named(&config.plugins, &self::dirs(dirs))
        .map_err(|e| crate::stages::PlanError::new("plugins", crate::error_chain(&e)))
}

/// Applies the config's `policies`, in order, each by the plugin that provides it.
pub fn apply_policies(
    plugins: &[Arc<Plugin>],
    policies: &[String],
    mut plan: Plan,
) -> Result<Plan, crate::stages::PlanError> {
    for policy in policies {
        let fail = |m: String| crate::stages::PlanError::new("policies", m);
        let plugin = plugins
            .iter()
            .find(|p| p.info.policies.contains(policy))
            .ok_or_else(|| fail(format!("no plugin in `plugins` provides `{policy}`")))?;
        plan = plugin
            .call(&Request::Policy {
                policy: policy.clone(),
                plan: Box::new(plan),
            })
            .map_err(|e| fail(crate::error_chain(&e)))?;
    }
    Ok(plan)
}
