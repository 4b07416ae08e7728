//! The corral engine: a Linux container manager in the line of LXC.
//!
//! Every container runs through one fixed pipeline of stages (see [`corral_hooks::Stage`]):
//!
//! | stage | module | owns |
//! |---|---|---|
//! | namespaces | [`stages::namespaces`] | which namespaces are new; the hostname |
//! | mounts | [`stages::mounts`] | rootfs, auto mounts, `/dev`, mount entries, `pivot_root` |
//! | network | [`stages::network`] | the network mode and interfaces |
//! | security | [`stages::security`] | capabilities, `no_new_privs`, seccomp, Landlock, masked and read-only paths, devices, sysctls, rlimits, LSM |
//! | cgroups | [`stages::cgroups`] | the container's cgroup and its limits |
//!
//! [`pipeline`] runs them in that order; [`config`] reads what they plan from; [`templates`]
//! build root filesystems; [`container`] ties a world's paths, configs and locks together.

pub mod attach;
pub mod bare_thread;
pub mod config;
pub mod container;
pub mod control;
pub mod hooks;
pub mod lock;
pub mod monitor;
pub mod net;
pub mod netinfo;
pub mod paths;
pub mod pipeline;
pub mod plugins;
pub mod procfs;
pub mod proctitle;
pub mod runtime;
pub mod stages;
pub mod templates;
pub mod terminal;

use std::error::Error;

/// An error and all its sources, joined with `: `, for one-line logs.
pub fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
