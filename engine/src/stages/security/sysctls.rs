//! Namespaced sysctls: only those that belong to a namespace the container has of its own
//! may be set, written under the container's `/proc/sys` before it becomes read-only.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use corral_hooks::{NamespaceMode, NetworkMode};

use crate::config::ContainerConfig;
use crate::stages::mounts::{Root, fd_path};
use crate::stages::{Op, OpError, PlanError};

/// The namespace a sysctl belongs to, if any.
fn namespace_of(name: &str) -> Option<&'static str> {
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&name) || name.starts_with("fs.mqueue.") {
        Some("ipc")
    } else if name.starts_with("net.") {
        Some("net")
    } else if name == "kernel.hostname" || name == "kernel.domainname" {
        Some("uts")
    } else {
        None
    }
}

/// Checks each sysctl against the container's namespaces.
pub fn plan(config: &ContainerConfig) -> Result<BTreeMap<String, String>, PlanError> {
    let ns = &config.namespaces;
    for name in config.security.sysctls.keys() {
        let key = format!("security.sysctls.{name}");
        let own = match namespace_of(name) {
            None => {
                return Err(PlanError::new(
                    key,
                    "not a namespaced sysctl: it would change the host",
                ));
            }
            Some("ipc") => ns.ipc == NamespaceMode::New,
            Some("uts") => ns.uts == NamespaceMode::New,
            Some(_) => config.network.mode != NetworkMode::None,
        };
        if !own {
            return Err(PlanError::new(
                key,
                "the container shares this sysctl's namespace with the host",
            ));
        }
        if name.contains("..") || name.contains('/') {
            return Err(PlanError::new(key, "not a sysctl name"));
        }
    }
    Ok(config.security.sysctls.clone())
}

/// Writes the sysctls through the container's `/proc/sys`.
pub fn apply(root: &Root, sysctls: &BTreeMap<String, String>) -> Result<(), OpError> {
    for (name, value) in sysctls {
        let path = PathBuf::from("/proc/sys").join(name.replace('.', "/"));
        let fd = root.resolve(&path).op(|| format!("find sysctl {name}"))?;
        let describe = || format!("set sysctl {name} to {value}");
        std::fs::OpenOptions::new()
            .write(true)
            .open(fd_path(&fd))
            .and_then(|mut f| f.write_all(value.as_bytes()))
            .op(describe)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_containers_own_namespaces() {
        let mut config = ContainerConfig::default();
        config
            .security
            .sysctls
            .insert("net.ipv4.ip_forward".into(), "1".into());
        config
            .security
            .sysctls
            .insert("kernel.shmmax".into(), "1000000".into());
        assert_eq!(plan(&config).unwrap().len(), 2);
        config.network.mode = NetworkMode::None;
        assert!(plan(&config).unwrap_err().message.contains("shares"));
        config.security.sysctls.clear();
        config
            .security
            .sysctls
            .insert("vm.swappiness".into(), "1".into());
        assert!(
            plan(&config)
                .unwrap_err()
                .message
                .contains("not a namespaced")
        );
    }
}
