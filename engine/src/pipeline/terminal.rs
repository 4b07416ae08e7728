//! The container's pseudo-terminal when `corral` runs on one: the host terminal in raw mode,
//! bytes relayed both ways, the window size passed on.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::pty::{OpenptyResult, Winsize, openpty};
use nix::sys::termios::{self, SetArg, Termios};
use nix::unistd::{read, write};

nix::ioctl_read_bad!(get_winsize, libc::TIOCGWINSZ, Winsize);
nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, Winsize);

/// A pseudo-terminal pair for the container.
#[derive(Debug)]
pub struct Pty {
    /// The side the monitor keeps.
    pub master: OwnedFd,
    /// The side that becomes the container's console and stdio.
    pub slave: OwnedFd,
    /// The slave's path on the host, bound at `/dev/console`.
    pub slave_path: PathBuf,
}

impl Pty {
    /// Opens a pair sized like the host terminal on `stdin`.
    pub fn open(stdin: BorrowedFd<'_>) -> nix::Result<Pty> {
        let OpenptyResult { master, slave } = openpty(None, None)?;
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd()))
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let pty = Pty {
            master,
            slave,
            slave_path,
        };
        pty.copy_size(stdin);
        Ok(pty)
    }

    /// Gives the container's terminal the host terminal's window size.
    pub fn copy_size(&self, stdin: BorrowedFd<'_>) {
        let mut size = Winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills a Winsize; both descriptors are open terminals.
        if unsafe { get_winsize(stdin.as_raw_fd(), &mut size) }.is_ok() {
            // SAFETY: TIOCSWINSZ reads a valid Winsize.
            let _ = unsafe { set_winsize(self.master.as_raw_fd(), &size) };
        }
    }
}

/// The host terminal in raw mode, restored when dropped.
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    /// Puts the terminal into raw mode.
    pub fn enter(fd: BorrowedFd<'a>) -> nix::Result<RawMode<'a>> {
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, SetArg::TCSAFLUSH, &self.saved);
    }
}

/// Copies what is readable from `from` to `to`. Returns false at end of input.
pub fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    match read(from, &mut buf) {
        Ok(0) | Err(Errno::EIO) => false,
        Ok(n) => write_all(to, &buf[..n]),
        Err(Errno::EINTR | Errno::EAGAIN) => true,
        Err(_) => false,
    }
}

fn write_all(to: BorrowedFd<'_>, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match write(to.as_fd(), bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => return false,
        }
    }
    true
}
