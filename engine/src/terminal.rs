//! The container's pseudo-terminal when `corral` runs on one: the host terminal in raw mode,
//! bytes relayed both ways, the window size passed on.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::pty::{OpenptyResult, Winsize, openpty};
use nix::sys::termios::{self, SetArg, Termios};
use nix::unistd::{read, write};

nix::ioctl_read_bad!(
    /// Reads a terminal's window size.
    get_winsize,
    libc::TIOCGWINSZ,
    Winsize
);
nix::ioctl_write_ptr_bad!(
    /// Sets a terminal's window size.
    set_winsize,
    libc::TIOCSWINSZ,
    Winsize
);

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
    /// Opens a pair, sized like the terminal `size_from` when given.
    pub fn open(size_from: Option<BorrowedFd<'_>>) -> nix::Result<Pty> {
        let OpenptyResult { master, slave } = openpty(None, None)?;
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd()))
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let pty = Pty {
            master,
            slave,
            slave_path,
        };
        if let Some(from) = size_from {
            pty.copy_size(from);
        }
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

/// Writes all of `bytes`, retrying short writes. Returns false if the write failed.
pub fn write_all(to: BorrowedFd<'_>, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match write(to.as_fd(), bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => return false,
        }
    }
    true
}

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEnd {
    /// The other side closed, or `done` became readable.
    Closed,
    /// The user typed the escape sequence (Ctrl+a q).
    Detached,
}

/// Ctrl+a, the start of the escape sequence.
const ESCAPE: u8 = 0x01;

/// This process's standard input, as `io::stdin().as_fd()` gives it but without the 8 KiB
/// read buffer that `io::stdin()` allocates and keeps (in a monitor, for as long as its
/// container runs): corral only ever reads its descriptor.
pub fn stdin() -> BorrowedFd<'static> {
    // SAFETY: descriptor 0 is standard input for the whole life of the process, as std's
    // own `Stdin::as_fd` assumes.
    unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) }
}

/// Relays bytes between this process's terminal (stdin, stdout) and `remote` until `remote`
/// closes, `done` (a pidfd, say) becomes readable, or, when `escape` is set, the user types
/// Ctrl+a q. `early` is output already read from `remote`.
pub fn relay(
    remote: BorrowedFd<'_>,
    done: Option<BorrowedFd<'_>>,
    escape: bool,
    early: &[u8],
) -> RelayEnd {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdin = stdin();
    let stdout = std::io::stdout();
    if !early.is_empty() {
        let _ = write_all(stdout.as_fd(), early);
    }
    let mut stdin_open = true;
    let mut armed = false;
    loop {
        let mut fds = vec![PollFd::new(remote, PollFlags::POLLIN)];
        if let Some(done) = done {
            fds.push(PollFd::new(done, PollFlags::POLLIN));
        }
        if stdin_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0] && !pump(remote, stdout.as_fd()) {
            return RelayEnd::Closed;
        }
        if done.is_some() && ready[1] {
            // Whatever the program printed last is still to be shown.
            while poll_readable(remote) && pump(remote, stdout.as_fd()) {}
            return RelayEnd::Closed;
        }
        if stdin_open && ready.last() == Some(&true) {
            let mut buf = [0u8; 4096];
            match read(stdin, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let mut out = Vec::with_capacity(n);
                    for &b in &buf[..n] {
                        if escape && armed {
                            armed = false;
                            if b == b'q' {
                                return RelayEnd::Detached;
                            }
                            if b != ESCAPE {
                                out.push(ESCAPE);
                            }
                            out.push(b);
                        } else if escape && b == ESCAPE {
                            armed = true;
                        } else {
                            out.push(b);
                        }
                    }
                    let _ = write_all(remote, &out);
                }
            }
        }
    }
}

fn poll_readable(fd: BorrowedFd<'_>) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}
