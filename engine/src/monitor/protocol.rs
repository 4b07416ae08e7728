//! The monitor's control protocol: one JSON object per line over its Unix socket.
//!
//! A client sends one [`Request`] and reads one [`Response`]. After `Subscribe`, the
//! connection carries an [`Event`] line on every state change; after `Console`, it carries
//! the terminal's raw bytes both ways.

use serde::{Deserialize, Serialize};

use crate::stages::cgroups::Usage;

/// A container's state, as LXC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not running.
    Stopped,
    /// The pipeline is running.
    Starting,
    /// The container's program runs.
    Running,
    /// Asked to stop; waiting for init to end.
    Stopping,
    /// A start failed; what was done is being undone.
    Aborting,
    /// Being frozen.
    Freezing,
    /// Frozen.
    Frozen,
}

impl State {
    /// Every state, for parsing.
    pub const ALL: [State; 7] = [
        State::Stopped,
        State::Starting,
        State::Running,
        State::Stopping,
        State::Aborting,
        State::Freezing,
        State::Frozen,
    ];

    /// The state's name (`RUNNING`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Stopping => "STOPPING",
            State::Aborting => "ABORTING",
            State::Freezing => "FREEZING",
            State::Frozen => "FROZEN",
        }
    }

    /// Parses a state name, in any case.
    pub fn parse(name: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

/// How to stop a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopMode {
    /// Ask init to halt with the halt signal; kill it after `timeout_secs`.
    Halt {
        /// Seconds to wait before SIGKILL; none waits forever.
        timeout_secs: Option<u64>,
    },
    /// Kill init at once.
    Kill,
    /// Ask init to reboot with the reboot signal; the container comes back up.
    Reboot,
}

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// The state and init's PID.
    State,
    /// The state, init's PID, and resource usage.
    Info,
    /// Stop or reboot the container. The answer comes at once; the connection closes when
    /// the monitor is done.
    Stop(StopMode),
    /// Freeze every process of the container.
    Freeze,
    /// Thaw a frozen container.
    Unfreeze,
    /// Stream state changes.
    Subscribe,
    /// Attach to the console (0) or a tty (1...): the connection becomes the terminal.
    Console {
        /// 0 for the console, N for `/dev/ttyN`.
        tty: u32,
    },
}

/// What the monitor answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// Done.
    Ok,
    /// The container's state and init's PID.
    State {
        /// The state.
        state: State,
        /// Init's PID on the host.
        pid: i32,
    },
    /// The state, PID and usage.
    Info {
        /// The state.
        state: State,
        /// Init's PID on the host.
        pid: i32,
        /// What the container uses.
        usage: Usage,
    },
    /// The request failed.
    Error(String),
}

/// A state change, streamed to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// The container.
    pub name: String,
    /// Its new state.
    pub state: State,
}
