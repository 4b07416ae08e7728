//! The container's terminals as the monitor holds them: the console, logged to a file with
//! a size bound, and the ttys.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use crate::terminal::Pty;

/// The container's console and ttys.
#[derive(Debug)]
pub struct Terminals {
    /// Index 0 is the console; N is `/dev/ttyN`.
    ptys: Vec<Pty>,
    log: Option<ConsoleLog>,
}

impl Terminals {
    /// Opens the console and `ttys` ttys; the console's output is logged to `log` (rotated
    /// once at `log_limit` bytes) when given.
    pub fn open(ttys: u32, log: Option<(PathBuf, u64)>) -> nix::Result<Terminals> {
        let mut ptys = Vec::new();
        for _ in 0..=ttys {
            let pty = Pty::open(None)?;
            // The monitor must never block on a terminal the container stopped reading.
            let flags = OFlag::from_bits_truncate(fcntl(&pty.master, FcntlArg::F_GETFL)?);
            fcntl(&pty.master, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
            ptys.push(pty);
        }
        let log = log.and_then(|(path, limit)| ConsoleLog::open(path, limit));
        Ok(Terminals { ptys, log })
    }

    /// The host paths of the console and ttys, for the mounts stage.
    pub fn paths(&self) -> crate::pipeline::Terminals {
        crate::pipeline::Terminals {
            console: self.ptys.first().map(|p| p.slave_path.clone()),
            ttys: self
                .ptys
                .iter()
                .skip(1)
                .map(|p| p.slave_path.clone())
                .collect(),
        }
    }

    /// The console's slave side: init's stdio.
    pub fn console_slave(&self) -> Option<&OwnedFd> {
        self.ptys.first().map(|p| &p.slave)
    }

    /// The monitor's side of terminal `index`.
    pub fn master(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.ptys.get(index).map(|p| p.master.as_fd())
    }

    /// How many terminals there are (the console and the ttys).
    pub fn count(&self) -> usize {
        self.ptys.len()
    }

    /// Records console output.
    pub fn log(&mut self, index: usize, bytes: &[u8]) {
        if index == 0
            && let Some(log) = &mut self.log
        {
            log.write(bytes);
        }
    }

    /// Sets terminal `index`'s window size.
    pub fn resize(&self, index: usize, from: BorrowedFd<'_>) {
        if let Some(pty) = self.ptys.get(index) {
            pty.copy_size(from);
        }
    }
}

/// A console log that keeps at most two files of `limit` bytes: the log and its predecessor.
#[derive(Debug)]
struct ConsoleLog {
    path: PathBuf,
    file: File,
    written: u64,
    limit: u64,
}

impl ConsoleLog {
    fn open(path: PathBuf, limit: u64) -> Option<ConsoleLog> {
        let file = OpenOptions::new().create(true).append(true).open(&path);
        match file {
            Ok(file) => {
                let written = file.metadata().map_or(0, |m| m.len());
                Some(ConsoleLog {
                    path,
                    file,
                    written,
                    limit,
                })
            }
            Err(e) => {
                tracing::warn!(%e, path = %path.display(), "cannot open the console log");
                None
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.written + bytes.len() as u64 > self.limit && self.rotate().is_err() {
            return;
        }
        if self.file.write_all(bytes).is_ok() {
            self.written += bytes.len() as u64;
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        fs::rename(&self.path, rotated(&self.path))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}
