//! The monitor's control socket: accepting root clients, reading their requests, and
//! writing answers, events and console output without ever blocking the monitor.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use super::protocol::{Event, Request, Response};

/// The most output a slow client may have queued before it is dropped.
const MAX_QUEUED: usize = 4 << 20;

/// What a connection is for, once its request has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Waiting for its request.
    Pending,
    /// Answered; kept open until the monitor exits (a `stop` waiting for the end).
    Waiting,
    /// Streams state changes.
    Subscriber,
    /// Attached to terminal N.
    Console(usize),
}

/// Something a client sent.
#[derive(Debug)]
pub enum Incoming {
    /// A request from connection `id`.
    Request(u64, Request),
    /// Keystrokes for terminal N.
    Console(usize, Vec<u8>),
}

#[derive(Debug)]
struct Conn {
    id: u64,
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    role: Role,
    closed: bool,
}

/// The listening socket and its connections.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    conns: Vec<Conn>,
    next_id: u64,
}

impl Server {
    /// Listens at `path`, replacing a stale socket; only root may connect.
    pub fn bind(path: &Path) -> io::Result<Server> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(path)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener,
            path: path.to_owned(),
            conns: Vec::new(),
            next_id: 0,
        })
    }

    /// Descriptors to poll: the listener, then every connection with what it waits for.
    pub fn poll_fds(&self) -> Vec<(BorrowedFd<'_>, bool)> {
        let mut fds = vec![(self.listener.as_fd(), false)];
        fds.extend(
            self.conns
                .iter()
                .map(|c| (c.stream.as_fd(), !c.output.is_empty())),
        );
        fds
    }

    /// Accepts waiting connections, keeping those whose peer is root.
    pub fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let root = getsockopt(&stream, PeerCredentials).is_ok_and(|c| c.uid() == 0);
            if !root || stream.set_nonblocking(true).is_err() {
                tracing::warn!("refused a control connection from a non-root peer");
                continue;
            }
            self.next_id += 1;
            self.conns.push(Conn {
                id: self.next_id,
                stream,
                input: Vec::new(),
                output: Vec::new(),
                role: Role::Pending,
                closed: false,
            });
        }
    }

    /// Reads from connection `index` (in `poll_fds` order, minus the listener).
    // Out of line: its buffer stays off the frame of the monitor's watch loop, which is
    // resident for the container's life.
    #[inline(never)]
    pub fn read(&mut self, index: usize, incoming: &mut Vec<Incoming>) {
        let Some(conn) = self.conns.get_mut(index) else {
            return;
        };
        let mut buf = [0u8; 8192];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    conn.closed = true;
                    break;
                }
                Ok(n) => match conn.role {
                    Role::Console(tty) => incoming.push(Incoming::Console(tty, buf[..n].to_vec())),
                    Role::Pending => conn.input.extend_from_slice(&buf[..n]),
                    // Nothing more is expected from these.
                    Role::Waiting | Role::Subscriber => {}
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    conn.closed = true;
                    break;
                }
            }
        }
        if conn.role == Role::Pending
            && let Some(end) = conn.input.iter().position(|b| *b == b'\n')
        {
            let line: Vec<u8> = conn.input.drain(..=end).collect();
            match serde_json::from_slice::<Request>(&line) {
                Ok(request) => {
                    conn.role = Role::Waiting;
                    incoming.push(Incoming::Request(conn.id, request));
                }
                Err(e) => {
                    let id = conn.id;
                    self.reply(id, &Response::Error(format!("bad request: {e}")));
                }
            }
        }
    }

    /// Flushes what is queued for connection `index`.
    pub fn flush(&mut self, index: usize) {
        if let Some(conn) = self.conns.get_mut(index) {
            flush(conn);
        }
    }

    /// Answers connection `id` and gives it its role.
    pub fn reply_as(&mut self, id: u64, response: &Response, role: Role) {
        if let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) {
            conn.role = role;
            queue_line(conn, response);
        }
    }

    /// Answers connection `id`, which then waits for the monitor to exit.
    pub fn reply(&mut self, id: u64, response: &Response) {
        self.reply_as(id, response, Role::Waiting);
    }

    /// Sends a state change to subscriber `id` alone.
    pub fn send_event(&mut self, id: u64, event: &Event) {
        if let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) {
            queue_line(conn, event);
        }
    }

    /// Sends a state change to every subscriber.
    pub fn broadcast(&mut self, event: &Event) {
        for conn in self.conns.iter_mut().filter(|c| c.role == Role::Subscriber) {
            queue_line(conn, event);
        }
    }

    /// Sends terminal output to the clients attached to terminal `tty`.
    pub fn console_output(&mut self, tty: usize, bytes: &[u8]) {
        for conn in self
            .conns
            .iter_mut()
            .filter(|c| c.role == Role::Console(tty))
        {
            conn.output.extend_from_slice(bytes);
            flush(conn);
        }
    }

    /// Drops closed connections and those too far behind.
    pub fn prune(&mut self) {
        self.conns
            .retain(|c| !c.closed && c.output.len() <= MAX_QUEUED);
    }

    /// Sends what is still queued (a final event), then closes every connection and removes
    /// the socket: clients waiting for the end see end-of-file.
    pub fn shutdown(mut self) {
        for conn in &mut self.conns {
            let _ = conn.stream.set_nonblocking(false);
            let _ = conn.stream.write_all(&conn.output);
        }
        self.conns.clear();
        let _ = fs::remove_file(&self.path);
    }
}

fn queue_line<T: serde::Serialize>(conn: &mut Conn, message: &T) {
    if let Ok(mut line) = serde_json::to_vec(message) {
        line.push(b'\n');
        conn.output.extend_from_slice(&line);
        flush(conn);
    }
}

fn flush(conn: &mut Conn) {
    while !conn.output.is_empty() {
        match conn.stream.write(&conn.output) {
            Ok(n) => {
                conn.output.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                conn.closed = true;
                return;
            }
        }
    }
}
