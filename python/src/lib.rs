//! `corral._corral`: the engine in-process for Python, through PyO3.
//!
//! The wheel's `corral` package wraps this module (`python/pysrc/corral`); an embedding
//! binary, such as the hook runner, registers the same module with
//! `pyo3::append_to_inittab!(_corral)` so that scripts `import corral._corral` without the
//! wheel. Both see the engine's own types: nothing here copies them.

mod container;
mod errors;
mod keys;

use std::path::PathBuf;

use pyo3::prelude::*;

pub use container::{Container, Events, World, corral_program};
pub use errors::{
    ContainerNotFound, CorralError, Error, InvalidConfig, NotRunning, StageFailed, UnsupportedKey,
};

/// python3-lxc's `LXC_ATTACH_KEEP_ENV`: the command gets the caller's environment.
pub const LXC_ATTACH_KEEP_ENV: i32 = 0;
/// python3-lxc's `LXC_ATTACH_CLEAR_ENV`: the command gets the container's clean one.
pub const LXC_ATTACH_CLEAR_ENV: i32 = 1;

/// The names of the containers of a world (its root `config_path`): the `defined` ones, the
/// `active` ones (running in any state), or both. Sorted.
#[pyfunction]
#[pyo3(signature = (active=true, defined=true, config_path=None))]
fn container_names(
    py: Python<'_>,
    active: bool,
    defined: bool,
    config_path: Option<PathBuf>,
) -> PyResult<Vec<String>> {
    let world = World::open(config_path)?;
    py.detach(|| -> Result<Vec<String>, Error> {
        let names = world.corral.list()?;
        let mut chosen = Vec::new();
        for name in names {
            // Every listed container is defined; an active one also runs.
            if defined
                || (active
                    && world.corral.container(&name)?.state() != corral::monitor::State::Stopped)
            {
                chosen.push(name);
            }
        }
        Ok(chosen)
    })
    .map_err(PyErr::from)
}

/// The module.
#[pymodule]
pub fn _corral(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Container>()?;
    module.add_class::<Events>()?;
    module.add_function(wrap_pyfunction!(container_names, module)?)?;
    errors::register(module)?;
    module.add("version", env!("CARGO_PKG_VERSION"))?;
    for (name, value) in [
        ("CLONE_NEWNS", libc::CLONE_NEWNS),
        ("CLONE_NEWUTS", libc::CLONE_NEWUTS),
        ("CLONE_NEWIPC", libc::CLONE_NEWIPC),
        ("CLONE_NEWUSER", libc::CLONE_NEWUSER),
        ("CLONE_NEWPID", libc::CLONE_NEWPID),
        ("CLONE_NEWNET", libc::CLONE_NEWNET),
        ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP),
        ("LXC_ATTACH_KEEP_ENV", LXC_ATTACH_KEEP_ENV),
        ("LXC_ATTACH_CLEAR_ENV", LXC_ATTACH_CLEAR_ENV),
        ("LXC_ATTACH_MOVE_TO_CGROUP", 0x1),
        ("LXC_ATTACH_DROP_CAPABILITIES", 0x2),
        ("LXC_ATTACH_SET_PERSONALITY", 0x4),
        ("LXC_ATTACH_LSM_EXEC", 0x8),
        ("LXC_ATTACH_REMOUNT_PROC_SYS", 0x10000),
        ("LXC_ATTACH_LSM_NOW", 0x20000),
        ("LXC_ATTACH_DEFAULT", 0xFFFF),
        ("LXC_CREATE_QUIET", 1),
    ] {
        module.add(name, value)?;
    }
    Ok(())
}
