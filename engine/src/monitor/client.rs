//! The client side of the control socket, for the CLI and the Python package.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{Event, Request, Response};
use crate::runtime;

/// An error talking to a monitor.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No monitor runs for the container.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// The socket failed.
    #[error("monitor socket of {0}")]
    Io(String, #[source] io::Error),
    /// The monitor said something unreadable.
    #[error("unreadable answer from the monitor of {0}")]
    Protocol(String, #[source] serde_json::Error),
    /// The monitor refused the request.
    #[error("{0}")]
    Refused(String),
}

/// A connection to a container's monitor.
#[derive(Debug)]
pub struct Client {
    name: String,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the monitor of the container whose runtime directory is `runtime_dir`.
    pub fn connect(name: &str, runtime_dir: &Path) -> Result<Client, ClientError> {
        match UnixStream::connect(runtime::socket_path(runtime_dir)) {
            Ok(stream) => Ok(Client {
                name: name.to_owned(),
                reader: BufReader::new(stream),
            }),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                Err(ClientError::NotRunning(name.to_owned()))
            }
            Err(e) => Err(ClientError::Io(name.to_owned(), e)),
        }
    }

    /// Sends a request and reads the answer. A refusal is an error.
    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let io_err = |e| ClientError::Io(self.name.clone(), e);
        let mut line =
            serde_json::to_vec(request).map_err(|e| ClientError::Protocol(self.name.clone(), e))?;
        line.push(b'\n');
        self.reader.get_mut().write_all(&line).map_err(io_err)?;
        match self.read_line()? {
            Some(Response::Error(message)) => Err(ClientError::Refused(message)),
            Some(response) => Ok(response),
            None => Err(ClientError::NotRunning(self.name.clone())),
        }
    }

    fn read_line<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, ClientError> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Ok(None),
            Ok(_) => serde_json::from_str(&line)
                .map(Some)
                .map_err(|e| ClientError::Protocol(self.name.clone(), e)),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(None),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(ClientError::Io(self.name.clone(), e))
            }
            Err(e) => Err(ClientError::Io(self.name.clone(), e)),
        }
    }

    /// The next state change of a subscription; `None` once the monitor has exited.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<Event>, ClientError> {
        self.reader
            .get_ref()
            .set_read_timeout(timeout)
            .map_err(|e| ClientError::Io(self.name.clone(), e))?;
        self.read_line()
    }

    /// Waits until the monitor closes the connection (it has exited). Returns false if
    /// `timeout` passed first.
    pub fn wait_closed(&mut self, timeout: Option<Duration>) -> Result<bool, ClientError> {
        self.reader
            .get_ref()
            .set_read_timeout(timeout)
            .map_err(|e| ClientError::Io(self.name.clone(), e))?;
        let mut sink = Vec::new();
        loop {
            match self.reader.read_until(b'\n', &mut sink) {
                Ok(0) => return Ok(true),
                Ok(_) => sink.clear(),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(true),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(false);
                }
                Err(e) => return Err(ClientError::Io(self.name.clone(), e)),
            }
        }
    }

    /// The raw connection, once it has become a terminal (after `Console`), with the bytes
    /// already read past the answer.
    pub fn into_stream(self) -> (UnixStream, Vec<u8>) {
        let early = self.reader.buffer().to_vec();
        (self.reader.into_inner(), early)
    }
}
