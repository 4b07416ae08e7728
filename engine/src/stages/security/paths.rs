//! Masked and read-only paths, made once the container's root is in place.
//!
//! Every path is resolved inside the new root with `openat2(RESOLVE_IN_ROOT)` and the mount
//! targets the resolved descriptor, so a symlink planted in the rootfs cannot turn a mask
//! onto a host path. A path the kernel does not have needs no protection and is skipped.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};

use crate::config::{ContainerConfig, ProcMount};
use crate::stages::mounts::{Root, fd_path};
use crate::stages::{Op, OpError};

/// What `proc:mixed` leaves read-only, as LXC and OCI runtimes do.
const PROC_READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The masked and read-only paths of the config, in the order they apply.
pub fn plan(config: &ContainerConfig) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let masked = config.security.masked_paths.clone();
    let mut readonly: Vec<PathBuf> = Vec::new();
    if config.mounts.auto.proc == ProcMount::Mixed {
        readonly.extend(PROC_READONLY.iter().map(PathBuf::from));
    }
    for path in &config.security.readonly_paths {
        if !readonly.contains(path) {
            readonly.push(path.clone());
        }
    }
    (masked, readonly)
}

/// Resolves `path` in `root`; `None` when it does not exist.
fn resolve(root: &Root, path: &Path) -> Result<Option<std::os::fd::OwnedFd>, OpError> {
    match root.resolve(path) {
        Err(Errno::ENOENT) => Ok(None),
        result => result
            .map(Some)
            .op(|| format!("resolve {}", path.display())),
    }
}

/// Hides each path: `/dev/null` over a file, an empty read-only tmpfs over a directory. The
/// first directory gets the tmpfs, the others a bind of it: one filesystem to make (and to
/// tear down when the container ends) rather than one per directory.
pub fn mask(root: &Root, paths: &[PathBuf]) -> Result<(), OpError> {
    let mut null = None;
    let mut empty = None;
    for path in paths {
        let Some(fd) = resolve(root, path)? else {
            continue;
        };
        let is_dir = nix::sys::stat::fstat(&fd)
            .op(|| format!("stat {}", path.display()))?
            .st_mode
            & libc::S_IFMT
            == libc::S_IFDIR;
        let target = fd_path(&fd);
        let describe = || format!("mask {}", path.display());
        let source = match (is_dir, &empty) {
            (true, None) => {
                mount(
                    Some("tmpfs"),
                    &target,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC,
                    Some("size=0,mode=555"),
                )
                .op(describe)?;
                // The tmpfs is on top now: resolving again reaches it.
                empty = Some(root.resolve(path).op(describe)?);
                continue;
            }
            (true, Some(empty)) => empty,
            (false, _) => match &null {
                Some(null) => null,
                None => null.insert(
                    root.resolve(Path::new("/dev/null"))
                        .op(|| "find /dev/null".into())?,
                ),
            },
        };
        mount(
            Some(&fd_path(source)),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .op(describe)?;
    }
    Ok(())
}

/// Binds each path read-only onto itself.
pub fn make_readonly(root: &Root, paths: &[PathBuf]) -> Result<(), OpError> {
    for path in paths {
        let describe = || format!("make {} read-only", path.display());
        let Some(fd) = resolve(root, path)? else {
            continue;
        };
        let target = fd_path(&fd);
        mount(
            Some(&target),
            &target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .op(describe)?;
        // The bind is a new mount on top: resolve again to reach it, not the one beneath.
        let fd = root.resolve(path).op(describe)?;
        mount(
            None::<&str>,
            &fd_path(&fd),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .op(describe)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_mixed_makes_proc_sys_read_only() {
        let mut config = ContainerConfig::default();
        let (masked, readonly) = plan(&config);
        assert!(masked.contains(&PathBuf::from("/proc/kcore")));
        assert!(masked.contains(&PathBuf::from("/sys/firmware")));
        assert!(readonly.contains(&PathBuf::from("/proc/sys")));
        config.mounts.auto.proc = ProcMount::Rw;
        config.security.readonly_paths = vec![PathBuf::from("/etc")];
        assert_eq!(plan(&config).1, [PathBuf::from("/etc")]);
    }
}
