//! A small synchronous rtnetlink client: links, addresses and routes.
//!
//! A netlink socket acts on the network namespace it was created in, so one [`Netlink`] per
//! namespace: [`Netlink::open`] in the caller's, [`Netlink::open_in`] in another's. Requests
//! are answered one at a time (no async runtime: the monitor forks, and init is one thread).

use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use super::netns;

/// A netlink request that failed, with what it was doing.
#[derive(Debug, thiserror::Error)]
#[error("{operation}")]
pub struct NetlinkError {
    /// What was being done (`create veth crl1 in bridge corralbr0`).
    pub operation: String,
    /// The kernel's answer, or the socket's failure.
    #[source]
    pub source: std::io::Error,
}

impl NetlinkError {
    /// The OS error number, for errors that cross the sync socket.
    pub fn errno(&self) -> i32 {
        self.source.raw_os_error().unwrap_or(libc::EIO)
    }
}

/// What a link is, as far as corral needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its index.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// Its kind (`bridge`, `veth`...), when it has one.
    pub kind: Option<String>,
    /// Its hardware address.
    pub hwaddr: Option<[u8; 6]>,
    /// The bridge (or other controller) it is a port of.
    pub controller: Option<u32>,
    /// Bytes received and sent.
    pub rx_tx_bytes: (u64, u64),
}

/// A veth pair to create: the host end in this namespace, the peer in the container's.
#[derive(Debug)]
pub struct VethSpec<'a> {
    /// The host end's name.
    pub host: &'a str,
    /// The peer's name, inside the container.
    pub peer: &'a str,
    /// The container's network namespace.
    pub netns: BorrowedFd<'a>,
    /// The bridge the host end joins, if any.
    pub bridge: Option<u32>,
    /// The MTU of both ends (init sets the peer's again, with the rest of its settings).
    pub mtu: Option<u32>,
}

/// The rtnetlink socket of one network namespace.
#[derive(Debug)]
pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink, NetlinkError> {
        let fail = |source| NetlinkError {
            operation: "open a netlink socket".into(),
            source,
        };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(fail)?;
        socket.bind_auto().map_err(fail)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(fail)?;
        Ok(Netlink {
            socket,
            sequence: 0,
        })
    }

    /// A socket in the network namespace `netns`: the thread enters it only to create the
    /// socket, which keeps acting there.
    pub fn open_in(netns: BorrowedFd<'_>) -> Result<Netlink, NetlinkError> {
        netns::within(netns, Netlink::open).map_err(|source| NetlinkError {
            operation: "enter the container's network namespace".into(),
            source,
        })?
    }

    /// Sends one request and collects the answers, until the ACK or the end of a dump.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        operation: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        let fail = |source| NetlinkError {
            operation: operation(),
            source,
        };
        self.sequence = self.sequence.wrapping_add(1);
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), message.into());
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = self.sequence;
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(fail)?;
        let mut answers = Vec::new();
        let mut received = vec![0u8; 1 << 16];
        loop {
            let size = self.socket.recv(&mut &mut received[..], 0).map_err(fail)?;
            let mut offset = 0;
            while offset < size {
                let reply =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&received[offset..size])
                        .map_err(|e| fail(std::io::Error::other(e.to_string())))?;
                let length = reply.header.length as usize;
                if reply.header.sequence_number == self.sequence {
                    match reply.payload {
                        NetlinkPayload::Done(_) => return Ok(answers),
                        NetlinkPayload::Error(e) => {
                            return match e.code {
                                None => Ok(answers),
                                Some(code) => {
                                    Err(fail(std::io::Error::from_raw_os_error(-code.get())))
                                }
                            };
                        }
                        NetlinkPayload::InnerMessage(m) => answers.push(m),
                        _ => {}
                    }
                }
                if length == 0 {
                    break;
                }
                offset += length;
            }
            if flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 {
                return Ok(answers);
            }
        }
    }

    /// The link named `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>, NetlinkError> {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(message), 0, || {
            format!("look up interface {name}")
        }) {
            Ok(answers) => Ok(answers.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(describe(&link)),
                _ => None,
            })),
            Err(e) if e.errno() == libc::ENODEV => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>, NetlinkError> {
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            || "list interfaces".into(),
        )?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(describe(link)),
                _ => None,
            })
            .collect())
    }

    /// The link named `name`, or an error saying it does not exist.
    pub fn require(&mut self, name: &str) -> Result<Link, NetlinkError> {
        self.link(name)?.ok_or_else(|| NetlinkError {
            operation: format!("find interface {name}"),
            source: std::io::Error::from_raw_os_error(libc::ENODEV),
        })
    }

    fn create(&mut self, message: LinkMessage, what: &str) -> Result<(), NetlinkError> {
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            || format!("create {what}"),
        )
        .map(drop)
    }

    /// Creates a veth pair in one request: the peer is born in the container's namespace
    /// with its final name, and the host end joins its bridge and comes up.
    pub fn create_veth(&mut self, spec: &VethSpec<'_>) -> Result<(), NetlinkError> {
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(spec.peer.into()));
        peer.attributes
            .push(LinkAttribute::NetNsFd(spec.netns.as_raw_fd()));
        let mut host = up(LinkMessage::default());
        host.attributes
            .push(LinkAttribute::IfName(spec.host.into()));
        if let Some(mtu) = spec.mtu {
            peer.attributes.push(LinkAttribute::Mtu(mtu));
            host.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(bridge) = spec.bridge {
            host.attributes.push(LinkAttribute::Controller(bridge));
        }
        host.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.create(host, &format!("veth pair {}/{}", spec.host, spec.peer))
    }

    /// Creates a macvlan on `parent`, born in the namespace `netns` as `name`.
    pub fn create_macvlan(
        &mut self,
        name: &str,
        parent: u32,
        mode: MacVlanMode,
        netns: BorrowedFd<'_>,
    ) -> Result<(), NetlinkError> {
        let mut message = LinkMessage::default();
        message.attributes.extend([
            LinkAttribute::IfName(name.into()),
            LinkAttribute::Link(parent),
            LinkAttribute::NetNsFd(netns.as_raw_fd()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::MacVlan),
                LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(mode)])),
            ]),
        ]);
        self.create(message, &format!("macvlan {name}"))
    }

    /// Creates a bridge, up.
    pub fn create_bridge(&mut self, name: &str) -> Result<(), NetlinkError> {
        let mut message = up(LinkMessage::default());
        message.attributes.extend([
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ]);
        self.create(message, &format!("bridge {name}"))
    }

    /// Moves link `index` into the namespace `netns`, renamed to `name` there.
    pub fn move_link(
        &mut self,
        index: u32,
        netns: BorrowedFd<'_>,
        name: &str,
    ) -> Result<(), NetlinkError> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.attributes.extend([
            LinkAttribute::NetNsFd(netns.as_fd().as_raw_fd()),
            LinkAttribute::IfName(name.into()),
        ]);
        self.request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK, || {
            format!("move interface {index} as {name}")
        })
        .map(drop)
    }

    /// Sets a link's MTU and hardware address, and brings it up if `bring_up`: one request,
    /// in which the kernel changes the address before the flags.
    pub fn configure(
        &mut self,
        index: u32,
        bring_up: bool,
        mtu: Option<u32>,
        hwaddr: Option<[u8; 6]>,
    ) -> Result<(), NetlinkError> {
        let mut message = LinkMessage::default();
        if bring_up {
            message = up(message);
        }
        message.header.index = index;
        if let Some(mtu) = mtu {
            message.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = hwaddr {
            message
                .attributes
                .push(LinkAttribute::Address(mac.to_vec()));
        }
        self.request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK, || {
            format!("configure interface {index}")
        })
        .map(drop)
    }

    /// Deletes link `index`, but only if it still bears `name`: an index can be reused, and
    /// an interface corral did not create is never touched. Returns whether it was there.
    pub fn delete_link(&mut self, index: u32, name: &str) -> Result<bool, NetlinkError> {
        if self.link(name)?.is_none_or(|link| link.index != index) {
            return Ok(false);
        }
        let mut message = LinkMessage::default();
        message.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(message), NLM_F_ACK, || {
            format!("delete interface {name}")
        }) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == libc::ENODEV => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Adds an address to link `index`.
    pub fn add_address(
        &mut self,
        index: u32,
        address: IpAddr,
        prefix: u8,
    ) -> Result<(), NetlinkError> {
        let mut message = AddressMessage::default();
        message.header.family = family(address);
        message.header.prefix_len = prefix;
        message.header.index = index;
        message.attributes.push(AddressAttribute::Local(address));
        message.attributes.push(AddressAttribute::Address(address));
        if address.is_ipv6() {
            // A configured address is usable at once: duplicate detection would keep it
            // tentative for a second or two, and a duplicate is the config's error.
            message.header.flags |= AddressHeaderFlags::Nodad;
        }
        if let IpAddr::V4(v4) = address
            && prefix < 31
        {
            let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let broadcast = std::net::Ipv4Addr::from(u32::from(v4) | host_bits);
            message
                .attributes
                .push(AddressAttribute::Broadcast(broadcast));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            || format!("add address {address}/{prefix}"),
        )
        .map(drop)
    }

    /// The addresses of link `index`, with their prefix lengths.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<(IpAddr, u8)>, NetlinkError> {
        let answers = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
            || "list addresses".into(),
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => {
                    a.attributes.iter().find_map(|attr| match attr {
                        AddressAttribute::Address(ip) => Some((*ip, a.header.prefix_len)),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Adds a default route through `gateway`, on link `index` (a gateway outside every
    /// subnet of the link is reached on it directly, as LXC does).
    pub fn add_default_route(&mut self, index: u32, gateway: IpAddr) -> Result<(), NetlinkError> {
        let mut message = RouteMessage::default();
        message.header.address_family = family(gateway);
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot;
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        let via = match gateway {
            IpAddr::V4(a) => RouteAddress::Inet(a),
            IpAddr::V6(a) => RouteAddress::Inet6(a),
        };
        message.attributes.push(RouteAttribute::Gateway(via));
        message.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            || format!("add a default route via {gateway}"),
        )
        .map(drop)
    }

    /// Adds a route to `gateway` alone, on link `index`, for a gateway outside the link's
    /// subnets.
    pub fn add_host_route(&mut self, index: u32, gateway: IpAddr) -> Result<(), NetlinkError> {
        let mut message = RouteMessage::default();
        message.header.address_family = family(gateway);
        message.header.destination_prefix_length = if gateway.is_ipv4() { 32 } else { 128 };
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot;
        message.header.scope = RouteScope::Link;
        message.header.kind = RouteType::Unicast;
        let dst = match gateway {
            IpAddr::V4(a) => RouteAddress::Inet(a),
            IpAddr::V6(a) => RouteAddress::Inet6(a),
        };
        message.attributes.push(RouteAttribute::Destination(dst));
        message.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            || format!("add a route to {gateway}"),
        )
        .map(drop)
    }
}

/// `message` with `IFF_UP` set.
fn up(mut message: LinkMessage) -> LinkMessage {
    message.header.flags |= LinkFlags::Up;
    message.header.change_mask |= LinkFlags::Up;
    message
}

fn family(address: IpAddr) -> AddressFamily {
    match address {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn describe(message: &LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        kind: None,
        hwaddr: None,
        controller: None,
        rx_tx_bytes: (0, 0),
    };
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name.clone_from(name),
            LinkAttribute::Address(mac) => link.hwaddr = <[u8; 6]>::try_from(&mac[..]).ok(),
            LinkAttribute::Controller(index) => link.controller = Some(*index),
            LinkAttribute::Stats64(stats) => link.rx_tx_bytes = (stats.rx_bytes, stats.tx_bytes),
            LinkAttribute::LinkInfo(infos) => {
                link.kind = infos.iter().find_map(|i| match i {
                    LinkInfo::Kind(kind) => Some(kind.to_string()),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    link
}
