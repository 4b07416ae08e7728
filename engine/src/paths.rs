//! Where corral keeps things: configs and root filesystems under the root directory, runtime
//! files (locks, state) under the run directory.

use std::path::{Path, PathBuf};

/// The two directories of one corral world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Container configs and root filesystems (`/var/lib/corral`).
    pub root: PathBuf,
    /// Runtime files (`/run/corral`).
    pub run: PathBuf,
}

impl Paths {
    /// The container's directory: its config and, by default, its rootfs.
    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The container's config file.
    pub fn config_file(&self, name: &str) -> PathBuf {
        self.container_dir(name).join("config.toml")
    }

    /// The container's runtime directory, present while it runs.
    pub fn runtime_dir(&self, name: &str) -> PathBuf {
        self.run.join(name)
    }

    /// The lock that serialises commands on the container.
    pub fn lock_file(&self, name: &str) -> PathBuf {
        self.run.join(format!("{name}.lock"))
    }

    /// Compiled seccomp filters kept between starts. A container's name cannot start with
    /// `.`, so this never is a container's runtime directory.
    pub fn seccomp_cache(&self) -> PathBuf {
        self.run.join(".seccomp")
    }

    /// The state of corral's bridges, one directory each; named as
    /// [`Paths::seccomp_cache`] is, for the same reason.
    pub fn net_dir(&self) -> PathBuf {
        self.run.join(".net")
    }
}

/// Checks a container name: it becomes a directory, a cgroup and part of interface names.
pub fn validate_name(name: &str) -> Result<(), String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 {
        Err(format!(
            "container name `{name}` must be 1 to 64 characters long"
        ))
    } else if name.starts_with(['.', '-']) || !name.chars().all(valid_char) {
        Err(format!(
            "container name `{name}` may use letters, digits, `-`, `_` and `.`, and may not start with `.` or `-`"
        ))
    } else {
        Ok(())
    }
}

/// `path` made absolute against the current directory, without touching the filesystem.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("web-1.test_a").is_ok());
        for bad in ["", ".hidden", "-x", "a/b", "a b", "..", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn corrals_own_runtime_directories_are_no_containers() {
        let paths = Paths {
            root: "/var/lib/corral".into(),
            run: "/run/corral".into(),
        };
        for dir in [paths.seccomp_cache(), paths.net_dir()] {
            assert_eq!(dir.parent(), Some(paths.run.as_path()));
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            assert!(validate_name(name).is_err(), "{name} could be a container");
        }
    }
}
