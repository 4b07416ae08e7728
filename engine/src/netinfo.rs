//! What a running container's network looks like from inside: its addresses and interface
//! counters, read through `/proc/PID/net` (which shows init's network namespace).

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// Local IPv4 addresses, from the routing trie: each `/32 host LOCAL` leaf is one.
fn ipv4_addresses(pid: i32) -> Vec<Ipv4Addr> {
    let Ok(trie) = fs::read_to_string(format!("/proc/{pid}/net/fib_trie")) else {
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
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/if_inet6")) else {
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
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/dev")) else {
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
