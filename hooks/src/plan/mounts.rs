//! The mounts stage's plan.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Mount propagation of the container's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// No events cross in either direction.
    Private,
    /// Host mount events reach the container; none go back.
    Slave,
}

/// The container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootfsPlan {
    /// The directory that becomes `/`.
    pub path: PathBuf,
    /// Whether `/` is remounted read-only once everything is mounted.
    pub readonly: bool,
    /// Propagation of every mount in the container's mount namespace.
    pub propagation: Propagation,
}

/// What to create at a mount target that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileCreate {
    /// A directory (with its parents).
    Dir,
    /// An empty file (with its parent directories).
    File,
}

/// One mount, in the order the stage performs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountEntry {
    /// The source: a host path for binds, otherwise the device or a label such as `proc`.
    pub source: String,
    /// The target, an absolute path inside the container.
    pub target: PathBuf,
    /// The filesystem type; `bind` (with `bind` or `rbind` in options) for bind mounts.
    pub fstype: String,
    /// fstab-style options: flags such as `ro`, `nosuid`, `rbind`; anything else is passed
    /// to the filesystem as data (`size=64m`, `mode=755`).
    pub options: Vec<String>,
    /// What to create at the target when it is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<FileCreate>,
    /// Whether a failure to mount is ignored.
    #[serde(default)]
    pub optional: bool,
}

/// The kind of a device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    /// A character device.
    Char,
    /// A block device.
    Block,
}

/// A device node created in the container's `/dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceNode {
    /// The path inside the container.
    pub path: PathBuf,
    /// Character or block.
    pub kind: DeviceType,
    /// The major number.
    pub major: u32,
    /// The minor number.
    pub minor: u32,
    /// The permission bits.
    pub mode: u32,
}

/// A symbolic link created inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Symlink {
    /// Where the link points.
    pub target: PathBuf,
    /// The link's path inside the container.
    pub path: PathBuf,
}

/// What the mounts stage does, in order: make the rootfs a private (or slave) mount, perform
/// `mounts`, create `devices` and `symlinks`, bind the console, `pivot_root` into the rootfs
/// and detach the old root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountsPlan {
    /// The root filesystem.
    pub rootfs: RootfsPlan,
    /// Every mount, auto mounts and `/dev` first, then the config's entries.
    pub mounts: Vec<MountEntry>,
    /// Device nodes created in `/dev`.
    pub devices: Vec<DeviceNode>,
    /// Symbolic links created after the mounts (`/dev/fd`, `/dev/ptmx`, ...).
    pub symlinks: Vec<Symlink>,
}
