//! The socket between the monitor and the container's init, carrying plans one way and
//! results the other, as JSON in sequenced packets.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use corral_hooks::{MountsPlan, NamespacesPlan, NetworkPlan, ProcessPlan, SecurityPlan};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recv,
    recvmsg, sendmsg, socketpair,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::stages::OpError;
use crate::stages::cgroups::CgroupView;

/// The most a message may be: plans are small, but a config may list many mounts.
const MAX_MESSAGE: usize = 1 << 20;

/// The most descriptors one message carries: one per cgroup v1 hierarchy.
const MAX_FDS: usize = 16;

/// What the monitor asks init to do, in pipeline order. A part of the plan comes along only
/// if hooks changed the plan since init was cloned; `None` means the part as init has it,
/// in its copy of the monitor's memory: most starts send no plan at all.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// Apply the namespaces stage's part: the hostname.
    Namespaces(Option<NamespacesPlan>),
    /// Apply the mounts stage: everything up to `pivot_root`.
    Mounts(Option<MountsPlan>),
    /// Apply the network stage's part inside the namespace.
    Network(Option<NetworkPlan>),
    /// Apply the security stage's first step.
    Security(Option<Box<SecurityPlan>>),
    /// Join the cgroup through the descriptors sent along (its `tasks` or `cgroup.procs`
    /// files), enter the cgroup namespace and mount the view.
    Cgroups {
        /// Whether to enter a new cgroup namespace.
        namespace: bool,
        /// Filesystems to mount.
        views: Vec<CgroupView>,
        /// Whether the view is read-only.
        readonly: bool,
    },
    /// The exec gate: become the user, set the last capability sets (of the security
    /// stage's plan, which nothing changes after that stage) and start the program.
    Exec {
        /// The program.
        process: Option<ProcessPlan>,
        /// Whether the program gets a new time namespace.
        time_namespace: bool,
    },
}

/// What init answers.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// The step is done.
    Done,
    /// The program runs.
    Started,
    /// The step failed.
    Failed(OpError),
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A channel failure: the peer died, or sent something unreadable.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A socket call failed.
    #[error("sync socket: {0}")]
    Socket(#[source] nix::Error),
    /// The other end closed.
    #[error("the other end of the sync socket closed")]
    Closed,
    /// A message could not be encoded or decoded.
    #[error("sync message")]
    Codec(#[source] serde_json::Error),
}

impl Channel {
    /// A connected pair: one end for the monitor, one for init.
    pub fn pair() -> Result<(Channel, Channel), ChannelError> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(ChannelError::Socket)?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Sends one message.
    pub fn send<T: Serialize>(&self, message: &T) -> Result<(), ChannelError> {
        self.send_with_fds(message, &[])
    }

    /// Sends one message with descriptors attached.
    pub fn send_with_fds<T: Serialize>(
        &self,
        message: &T,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(message).map_err(ChannelError::Codec)?;
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &rights };
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[IoSlice::new(&bytes)],
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(ChannelError::Socket)?;
        Ok(())
    }

    /// Receives one message, waiting for it.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T, ChannelError> {
        self.recv_with_fds().map(|(message, _)| message)
    }

    /// Receives one message and the descriptors attached to it.
    pub fn recv_with_fds<T: DeserializeOwned>(&self) -> Result<(T, Vec<OwnedFd>), ChannelError> {
        let size = self.next_size()?;
        let (bytes, fds) = self.read_packet(size)?;
        let message = serde_json::from_slice(&bytes).map_err(ChannelError::Codec)?;
        Ok((message, fds))
    }

    /// The size of the next packet, waiting for it. Peeking with MSG_TRUNC tells it without
    /// a megabyte buffer each time.
    fn next_size(&self) -> Result<usize, ChannelError> {
        let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC;
        match retrying(|| recv(self.fd.as_raw_fd(), &mut [0u8; 1], flags))? {
            0 => Err(ChannelError::Closed),
            n => Ok(n.min(MAX_MESSAGE)),
        }
    }

    /// Reads the next packet, of at most `size` bytes, and the descriptors attached.
    fn read_packet(&self, size: usize) -> Result<(Vec<u8>, Vec<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; size];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let flags = MsgFlags::MSG_CMSG_CLOEXEC;
        // A loop, not `retrying`: the message borrows the buffers the call fills.
        let msg = loop {
            match recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, Some(&mut space), flags) {
                Err(e) if is_transient(e) => {}
                other => break other.map_err(ChannelError::Socket)?,
            }
        };
        let mut fds = Vec::new();
        for cmsg in msg.cmsgs().map_err(ChannelError::Socket)? {
            if let ControlMessageOwned::ScmRights(raw) = cmsg {
                // SAFETY: SCM_RIGHTS installed these descriptors in this process for us alone.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        buf.truncate(n);
        Ok((buf, fds))
    }

    /// The socket, for descriptor bookkeeping.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether a receive would not wait: a message is there, or the peer is gone.
    pub fn ready(&self) -> bool {
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
    }
}

/// Whether a receive should simply be tried again. Besides signals: a peer that closed with
/// messages of ours unread resets the connection, reported once to whichever receive comes
/// next (also between a peek and its read), and what it sent before closing is still there.
fn is_transient(e: nix::errno::Errno) -> bool {
    matches!(e, nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET)
}

/// Calls `op` until it fails with something other than [`is_transient`].
fn retrying<T>(mut op: impl FnMut() -> nix::Result<T>) -> Result<T, ChannelError> {
    loop {
        match op() {
            Err(e) if is_transient(e) => {}
            other => return other.map_err(ChannelError::Socket),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_peer_sent_before_closing_with_messages_unread_is_still_read() {
        let (monitor, init) = Channel::pair().unwrap();
        init.send(&FromInit::Done).unwrap();
        init.send(&FromInit::Started).unwrap();
        monitor.send(&ToInit::Mounts(None)).unwrap();
        drop(init);
        assert!(matches!(monitor.recv(), Ok(FromInit::Done)));
        assert!(matches!(monitor.recv(), Ok(FromInit::Started)));
        assert!(matches!(
            monitor.recv::<FromInit>(),
            Err(ChannelError::Closed)
        ));
    }

    #[test]
    fn a_reset_between_the_peek_and_the_read_is_read_past() {
        let (monitor, init) = Channel::pair().unwrap();
        init.send(&FromInit::Done).unwrap();
        monitor.send(&ToInit::Mounts(None)).unwrap();
        let size = monitor.next_size().unwrap();
        // The reset now waits for the next receive: the read after the peek.
        drop(init);
        let (bytes, _) = monitor.read_packet(size).unwrap();
        assert!(matches!(serde_json::from_slice(&bytes), Ok(FromInit::Done)));
        assert!(matches!(
            monitor.recv::<FromInit>(),
            Err(ChannelError::Closed)
        ));
    }
}
