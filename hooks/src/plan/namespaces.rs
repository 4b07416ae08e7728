//! The namespaces stage's plan.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of Linux namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceKind {
    /// Mount namespace.
    Mnt,
    /// PID namespace.
    Pid,
    /// UTS namespace (hostname, domain name).
    Uts,
    /// System V IPC and POSIX message queue namespace.
    Ipc,
    /// Network namespace.
    Net,
    /// User namespace.
    User,
    /// Cgroup namespace.
    Cgroup,
    /// Time namespace.
    Time,
}

impl NamespaceKind {
    /// Every namespace kind.
    pub const ALL: [NamespaceKind; 8] = [
        NamespaceKind::Mnt,
        NamespaceKind::Pid,
        NamespaceKind::Uts,
        NamespaceKind::Ipc,
        NamespaceKind::Net,
        NamespaceKind::User,
        NamespaceKind::Cgroup,
        NamespaceKind::Time,
    ];

    /// The name used in `/proc/PID/ns/` and in configs.
    pub const fn name(self) -> &'static str {
        match self {
            NamespaceKind::Mnt => "mnt",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Net => "net",
            NamespaceKind::User => "user",
            NamespaceKind::Cgroup => "cgroup",
            NamespaceKind::Time => "time",
        }
    }
}

impl fmt::Display for NamespaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the container gets a namespace of its own or shares the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceMode {
    /// A new namespace, created for the container.
    New,
    /// The namespace of the process that starts the container.
    Host,
}

/// What the namespaces stage does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespacesPlan {
    /// Every namespace kind with its mode.
    pub namespaces: BTreeMap<NamespaceKind, NamespaceMode>,
    /// The hostname set in a new UTS namespace.
    pub hostname: Option<String>,
}

impl NamespacesPlan {
    /// Whether the container gets a new namespace of this kind.
    pub fn is_new(&self, kind: NamespaceKind) -> bool {
        self.namespaces.get(&kind) == Some(&NamespaceMode::New)
    }
}
