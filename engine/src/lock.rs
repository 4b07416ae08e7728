//! The per-container lock that serialises commands on one container.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// An error taking the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another command holds the lock.
    #[error("container {0} is busy: another corral command is using it")]
    Busy(String),
    /// The lock file could not be opened.
    #[error("cannot open lock file {}", .0.display())]
    Open(PathBuf, #[source] io::Error),
    /// flock(2) failed.
    #[error("cannot lock {}", .0.display())]
    Lock(PathBuf, #[source] Errno),
}

/// An exclusive lock on a container, held until dropped.
#[derive(Debug)]
pub struct ContainerLock {
    lock: Flock<File>,
    path: PathBuf,
}

impl ContainerLock {
    /// Takes the lock without waiting.
    pub fn try_acquire(path: &Path, name: &str) -> Result<ContainerLock, LockError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| LockError::Open(path.to_owned(), e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| LockError::Open(path.to_owned(), e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(ContainerLock {
                lock,
                path: path.to_owned(),
            }),
            Err((_, Errno::EWOULDBLOCK)) => Err(LockError::Busy(name.to_owned())),
            Err((_, e)) => Err(LockError::Lock(path.to_owned(), e)),
        }
    }

    /// Whether some command holds the container's lock right now.
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = File::open(path) else {
            return false;
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(_) => false,
            Err((_, e)) => e == Errno::EWOULDBLOCK,
        }
    }

    /// Removes the lock file while holding the lock, for a destroyed container.
    pub fn remove(self) -> io::Result<()> {
        let _fd = self.lock.as_fd();
        fs::remove_file(&self.path)
    }
}
