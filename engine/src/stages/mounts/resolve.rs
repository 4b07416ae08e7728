//! Paths inside the container's rootfs, resolved without ever leaving it.
//!
//! A hostile rootfs may plant symlinks where corral mounts or writes (`/proc -> /etc`).
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT)`, so `..` and symlinks, absolute or
//! not, stay inside the rootfs; the mount then targets the resolved `/proc/self/fd/N`. A
//! directory corral has just made is opened by its name in its parent, resolved so already,
//! and never through a symlink (`O_NOFOLLOW`).

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use corral_hooks::FileCreate;
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, mkdirat};

/// An open directory that paths are resolved in, as if it were `/`.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens `path` as the root of resolution.
    pub fn open(path: &Path) -> nix::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// Opens `path` (absolute inside the root) as an `O_PATH` descriptor.
    pub fn resolve(&self, path: &Path) -> nix::Result<OwnedFd> {
        self.open_in_root(path, OFlag::O_PATH)
    }

    fn open_in_root(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        /// Tries past `EAGAIN`: a walk through `..` fails so when a rename or mount anywhere on
        /// the host raced it (the kernel cannot then rule out an escape); openat2(2) says to
        /// try again. Bounded, for a rootfs that keeps racing it on purpose.
        const TRIES: usize = 64;
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let path = relative(path);
        let mut result = openat2(self.fd.as_fd(), &path, how);
        for _ in 1..TRIES {
            if !matches!(result, Err(Errno::EAGAIN)) {
                break;
            }
            result = openat2(self.fd.as_fd(), &path, how);
        }
        result
    }

    /// Resolves `path`, creating it (and its parent directories) when it is missing and
    /// `create` says what to make.
    pub fn resolve_or_create(
        &self,
        path: &Path,
        create: Option<FileCreate>,
    ) -> nix::Result<OwnedFd> {
        match (self.resolve(path), create) {
            (Err(Errno::ENOENT), Some(FileCreate::Dir)) => self.create_missing_dir(path),
            (Err(Errno::ENOENT), Some(FileCreate::File)) => {
                let (parent, name) = self.parent_dir(path)?;
                drop(openat(
                    parent.as_fd(),
                    name.as_path(),
                    OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o644),
                )?);
                self.resolve(path)
            }
            (result, _) => result,
        }
    }

    /// Creates `path` and its missing parents as directories.
    ///
    /// A path that exists costs one lookup; a missing one walks back only to its deepest
    /// existing ancestor.
    pub fn create_dir_all(&self, path: &Path) -> nix::Result<OwnedFd> {
        match self.resolve(path) {
            Err(Errno::ENOENT) => self.create_missing_dir(path),
            found => found,
        }
    }

    /// Creates `path`, just found missing, and its missing parents.
    fn create_missing_dir(&self, path: &Path) -> nix::Result<OwnedFd> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Errno::ENOENT);
        };
        let dir = self.create_dir_all(parent)?;
        self.make_dir_in(dir.as_fd(), name, path)
    }

    /// Makes directory `name` in `dir`, which is `path`'s parent resolved in the root, and
    /// opens it.
    fn make_dir_in(&self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> nix::Result<OwnedFd> {
        match mkdirat(dir, name, Mode::from_bits_truncate(0o755)) {
            // The directory made here is opened where it was made, a single component in a
            // directory already resolved inside the root: no walk from the root again.
            Ok(()) => openat(
                dir,
                name,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ),
            // Made meanwhile, perhaps as a symlink: resolved inside the root like any path.
            Err(Errno::EEXIST) => self.resolve(path),
            Err(e) => Err(e),
        }
    }

    /// The parent directory of `path` (created if missing) and the last component's name.
    pub fn parent_dir(&self, path: &Path) -> nix::Result<(OwnedFd, PathBuf)> {
        let name = path.file_name().ok_or(Errno::EINVAL)?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        Ok((self.create_dir_all(parent)?, PathBuf::from(name)))
    }
}

/// The directories files are made in, each resolved once (see [`Root::parent_dir`]): a
/// plan's device nodes and symlinks are nearly all in `/dev`.
#[derive(Debug)]
pub struct ParentDirs<'a> {
    root: &'a Root,
    last: Option<(PathBuf, OwnedFd)>,
}

impl<'a> ParentDirs<'a> {
    /// Resolves parents in `root`.
    pub fn new(root: &'a Root) -> ParentDirs<'a> {
        ParentDirs { root, last: None }
    }

    /// The parent directory of `path` (created if missing) and the last component's name.
    pub fn of<'p>(&mut self, path: &'p Path) -> nix::Result<(BorrowedFd<'_>, &'p OsStr)> {
        let name = path.file_name().ok_or(Errno::EINVAL)?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = match self.last.take() {
            Some((last, dir)) if last == parent => dir,
            _ => self.root.create_dir_all(parent)?,
        };
        let (_, dir) = &*self.last.insert((parent.to_owned(), dir));
        Ok((dir.as_fd(), name))
    }

    /// Makes directory `path` (its parents too, if missing) and opens it.
    pub fn create_dir(&mut self, path: &Path) -> nix::Result<OwnedFd> {
        let root = self.root;
        let (dir, name) = self.of(path)?;
        root.make_dir_in(dir, name, path)
    }
}

/// The magic link through which a descriptor's file can be mounted on.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_through_dot_dot_survives_renames_racing_it() {
        // Every rename on the host can make openat2 give up on a `..` with EAGAIN.
        let dir = tempfile::tempdir().expect("tempdir");
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("a/b")).unwrap();
        std::os::unix::fs::symlink("../../a/b/../../a", rootfs.join("a/b/up")).unwrap();
        let root = Root::open(&rootfs).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let (x, y) = (dir.path().join("x"), dir.path().join("y"));
                std::fs::write(&x, "").unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::rename(&x, &y);
                    let _ = std::fs::rename(&y, &x);
                }
            });
            let resolved =
                (0..20_000).try_for_each(|_| root.resolve(Path::new("/a/b/up/b/up")).map(drop));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(resolved, Ok(()));
        });
    }
}
