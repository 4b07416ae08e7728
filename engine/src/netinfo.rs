//! What a running container's network looks like from inside: its addresses and interface
//! counters, read through `/proc/PID/net` (which shows init's network namespace); and, for
//! an interface with a host side (a veth), that side's name and counters, as lxc-info shows.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use corral_hooks::NetworkPlan;

use crate::net::netlink::Netlink;

/// An interface's traffic counters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceStats {
    /// The name inside the container.
    pub name: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// The addresses of the network namespace of `pid`, loopback and link-local left out.
pub fn addresses(pid: i32) -> Vec<IpAddr> {
    let mut addrs: Vec<IpAddr> = ipv4_addresses(pid).into_iter().map(IpAddr::V4).collect();
    addrs.extend(ipv6_addresses(pid).into_iter().map(IpAddr::V6));
    addrs
}

/// The addresses of the network namespace of `pid` with the interface each is on, loopback
/// and link-local left out. An IPv4 address is put on the interface whose connected route
/// covers it (`/proc/PID/net/route`); one no route covers has an empty name.
pub fn interface_addresses(pid: i32) -> Vec<(String, IpAddr)> {
    let routes = ipv4_connected_routes(pid);
    let mut found: Vec<(String, IpAddr)> = ipv4_addresses(pid)
        .into_iter()
        .map(|addr| {
            let bits = u32::from(addr);
            let iface = routes
                .iter()
                .filter(|(_, dest, mask)| bits & mask == *dest)
                .max_by_key(|(_, _, mask)| mask.count_ones())
                .map(|(name, _, _)| name.clone())
                .unwrap_or_default();
            (iface, IpAddr::V4(addr))
        })
        .collect();
    if let Ok(text) = crate::procfs::read(format!("/proc/{pid}/net/if_inet6")) {
        found.extend(text.lines().filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [hex, _, _, scope, _, name] = fields.as_slice() else {
                return None;
            };
            let addr = Ipv6Addr::from(u128::from_str_radix(hex, 16).ok()?);
            (*scope == "00" && !addr.is_loopback()).then(|| ((*name).to_owned(), IpAddr::V6(addr)))
        }));
    }
    found
}

/// The connected (non-default) IPv4 routes: interface, destination and mask, host order.
fn ipv4_connected_routes(pid: i32) -> Vec<(String, u32, u32)> {
    let Ok(text) = crate::procfs::read(format!("/proc/{pid}/net/route")) else {
        return Vec::new();
    };
    // The kernel prints each address as the hex of its in-memory (network order) bytes.
    let parse = |hex: &str| {
        u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (name, dest, mask) = (
                fields.first()?,
                parse(fields.get(1)?)?,
                parse(fields.get(7)?)?,
            );
            (mask != 0).then(|| ((*name).to_owned(), dest, mask))
        })
        .collect()
}

/// Local IPv4 addresses, from the routing trie: each `/32 host LOCAL` leaf is one.
fn ipv4_addresses(pid: i32) -> Vec<Ipv4Addr> {
    let Ok(trie) = crate::procfs::read(format!("/proc/{pid}/net/fib_trie")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in trie.lines() {
        let text = line.trim_start_matches([' ', '|', '+', '-']);
        if let Ok(addr) = text.trim().parse::<Ipv4Addr>() {
            last = Some(addr);
        } else if text.trim() == "/32 host LOCAL"
            && let Some(addr) = last
            && !addr.is_loopback()
            && !found.contains(&addr)
        {
            found.push(addr);
        }
    }
    found
}

/// Global IPv6 addresses, from `if_inet6` (`address ifindex prefix scope flags name`).
fn ipv6_addresses(pid: i32) -> Vec<Ipv6Addr> {
    let Ok(text) = crate::procfs::read(format!("/proc/{pid}/net/if_inet6")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let hex = fields.next()?;
            let scope = fields.nth(2)?;
            (scope == "00")
                .then(|| u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from))
                .flatten()
        })
        .filter(|a| !a.is_loopback())
        .collect()
}

/// Counters of every interface but loopback, from `/proc/PID/net/dev`.
pub fn interfaces(pid: i32) -> Vec<InterfaceStats> {
    let Ok(text) = crate::procfs::read(format!("/proc/{pid}/net/dev")) else {
        return Vec::new();
    };
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let counters: Vec<u64> = counters
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            let name = name.trim().to_owned();
            (name != "lo").then(|| InterfaceStats {
                name,
                rx_bytes: counters.first().copied().unwrap_or(0),
                tx_bytes: counters.get(8).copied().unwrap_or(0),
            })
        })
        .collect()
}

/// The container's links as lxc-info shows them: a veth by its host end, with the host end's
/// counters turned round to the container's view (what the host end received, the container
/// sent); any other interface by its name inside, with its own counters.
pub fn links(pid: i32, plan: Option<&NetworkPlan>) -> Vec<InterfaceStats> {
    let inside = interfaces(pid);
    let host_ends: Vec<(String, String)> = plan
        .into_iter()
        .flat_map(|p| &p.interfaces)
        .filter(|i| i.driver == "veth")
        .filter_map(|i| Some((i.name.clone(), i.host_name.clone()?)))
        .collect();
    if host_ends.is_empty() {
        return inside;
    }
    let Ok(mut host) = Netlink::open() else {
        return inside;
    };
    inside
        .into_iter()
        .map(|stats| {
            let end = host_ends.iter().find(|(name, _)| *name == stats.name);
            match end.and_then(|(_, host_name)| host.link(host_name).ok().flatten()) {
                Some(link) => InterfaceStats {
                    name: link.name,
                    rx_bytes: link.rx_tx_bytes.1,
                    tx_bytes: link.rx_tx_bytes.0,
                },
                None => stats,
            }
        })
        .collect()
}
