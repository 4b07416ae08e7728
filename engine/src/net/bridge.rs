//! corral's default bridge, as lxc-net makes LXC's lxcbr0: the bridge with its address,
//! dnsmasq for DHCP and DNS, NAT in corral's own nftables table and IP forwarding.
//!
//! There is no daemon to ask: the state is in `<run>/net/<bridge>/` (`state.json`, the
//! leases, dnsmasq's log) and a lock there serialises bring-up and tear-down. The bridge
//! comes up with `corral net up` or at the first container start that needs it, and stays
//! up, shared by every container on it, until `corral net down`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::netlink::{Netlink, NetlinkError};
use super::{dnsmasq, nft};
use crate::config::BridgeConfig;
use crate::paths::Paths;

/// A failure bringing the bridge up or down.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A netlink request.
    #[error("bridge {0}")]
    Netlink(String, #[source] NetlinkError),
    /// A file, the nftables program or dnsmasq.
    #[error("bridge {0}: {1}")]
    Io(String, String, #[source] io::Error),
    /// The bridge exists but corral did not make it: it is left alone.
    #[error("bridge {0} exists but corral did not create it: it is left as it is")]
    NotOurs(String),
    /// Containers still use it.
    #[error("bridge {0} still has interfaces: {1} (stop their containers, or use --force)")]
    InUse(String, String),
}

/// What corral made, to undo exactly that.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// The bridge's index.
    index: u32,
    /// The forwarding sysctl's value before corral set it, to restore at `down`.
    forwarding_was: Option<String>,
    /// The nftables table corral created.
    nft_table: Option<String>,
}

/// What `corral net status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The bridge's name.
    pub name: String,
    /// Whether it exists.
    pub up: bool,
    /// Whether corral made it (and so manages it).
    pub managed: bool,
    /// Its address.
    pub address: String,
    /// The dnsmasq supervisor's PID.
    pub dnsmasq: Option<i32>,
    /// Whether corral's NAT table exists.
    pub nat: bool,
    /// Whether IP forwarding is on.
    pub forwarding: bool,
    /// The interfaces in the bridge.
    pub ports: Vec<String>,
    /// DHCP leases: expiry, hardware address, IP address, hostname.
    pub leases: Vec<[String; 4]>,
}

/// Where the bridge's state lives.
pub fn state_dir(bridge: &BridgeConfig, paths: &Paths) -> PathBuf {
    paths.net_dir().join(&bridge.name)
}

/// Brings the bridge up unless it is: called at every container start that needs it, so
/// the common case (up, dnsmasq running) costs a lookup and a lock test.
pub fn ensure_up(bridge: &BridgeConfig, paths: &Paths) -> Result<(), BridgeError> {
    let dir = state_dir(bridge, paths);
    if dnsmasq::running(&dir) && load(&dir).is_some_and(|s| is_ours(bridge, &s)) {
        return Ok(());
    }
    up(bridge, paths)
}

/// Brings the bridge up: the bridge and its address, forwarding, NAT, dnsmasq. What is up
/// already is kept; a failure removes what this call made.
pub fn up(bridge: &BridgeConfig, paths: &Paths) -> Result<(), BridgeError> {
    let dir = state_dir(bridge, paths);
    let io = |what: &str| {
        let name = bridge.name.clone();
        let what = what.to_owned();
        move |e| BridgeError::Io(name, what, e)
    };
    fs::create_dir_all(&dir).map_err(io("create the state directory"))?;
    let _lock = lock(&dir).map_err(io("lock the state directory"))?;
    let mut nl = Netlink::open().map_err(|e| BridgeError::Netlink(bridge.name.clone(), e))?;
    let nl_err = |e| BridgeError::Netlink(bridge.name.clone(), e);
    let mut state = load(&dir).unwrap_or_default();
    match nl.link(&bridge.name).map_err(nl_err)? {
        Some(link) if link.index == state.index => {}
        Some(_) => return Err(BridgeError::NotOurs(bridge.name.clone())),
        None => {
            nl.create_bridge(&bridge.name).map_err(nl_err)?;
            let link = nl.require(&bridge.name).map_err(nl_err)?;
            state.index = link.index;
            save(&dir, &state).map_err(io("save the state"))?;
            nl.add_address(link.index, bridge.address.address, bridge.address.prefix)
                .map_err(|e| fail_up(bridge, paths, nl_err(e)))?;
        }
    }
    if bridge.nat {
        if state.forwarding_was.is_none() {
            let sysctl = forwarding_sysctl(bridge.address.address);
            let was = fs::read_to_string(sysctl).map_err(io("read the forwarding sysctl"))?;
            if was.trim() != "1" {
                state.forwarding_was = Some(was.trim().to_owned());
                save(&dir, &state).map_err(io("save the state"))?;
                fs::write(sysctl, "1")
                    .map_err(|e| fail_up(bridge, paths, io("turn IP forwarding on")(e)))?;
            }
        }
        state.nft_table = Some(bridge.nft_table.clone());
        save(&dir, &state).map_err(io("save the state"))?;
        nft::masquerade(&bridge.nft_table, bridge.address)
            .map_err(|e| fail_up(bridge, paths, io("add the NAT table")(e)))?;
    }
    if !dnsmasq::running(&dir) {
        dnsmasq::start(bridge, &dir).map_err(|e| fail_up(bridge, paths, io("start dnsmasq")(e)))?;
    }
    tracing::info!(bridge = %bridge.name, "bridge up");
    Ok(())
}

/// Undoes a half-done `up` and passes its error on.
fn fail_up(bridge: &BridgeConfig, paths: &Paths, error: BridgeError) -> BridgeError {
    if let Err(e) = teardown(bridge, &state_dir(bridge, paths)) {
        tracing::warn!(error = %crate::error_chain(&e), "cannot undo a failed bridge bring-up");
    }
    error
}

/// Takes the bridge down: dnsmasq, the NAT table, the bridge, and forwarding as it was.
/// A bridge with interfaces still in it is refused unless `force`.
pub fn down(bridge: &BridgeConfig, paths: &Paths, force: bool) -> Result<(), BridgeError> {
    let dir = state_dir(bridge, paths);
    if !dir.exists() {
        return Ok(());
    }
    let _lock = lock(&dir)
        .map_err(|e| BridgeError::Io(bridge.name.clone(), "lock the state directory".into(), e))?;
    if !force {
        // The host ends of containers just stopped go with their namespaces, which the
        // kernel removes in the background: they get a moment before they count as in use.
        let index = load(&dir).unwrap_or_default().index;
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut busy = ports(bridge, index)?;
        while !busy.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            busy = ports(bridge, index)?;
        }
        if !busy.is_empty() {
            return Err(BridgeError::InUse(bridge.name.clone(), busy.join(", ")));
        }
    }
    teardown(bridge, &dir)
}

/// Removes what the state says corral made, then the state.
fn teardown(bridge: &BridgeConfig, dir: &Path) -> Result<(), BridgeError> {
    let io = |what: &str| {
        let name = bridge.name.clone();
        let what = what.to_owned();
        move |e| BridgeError::Io(name, what, e)
    };
    dnsmasq::stop(dir).map_err(io("stop dnsmasq"))?;
    let state = load(dir).unwrap_or_default();
    if let Some(table) = &state.nft_table {
        nft::delete(table).map_err(io("delete the NAT table"))?;
    }
    if state.index != 0 {
        let mut nl = Netlink::open().map_err(|e| BridgeError::Netlink(bridge.name.clone(), e))?;
        nl.delete_link(state.index, &bridge.name)
            .map_err(|e| BridgeError::Netlink(bridge.name.clone(), e))?;
    }
    if let Some(was) = &state.forwarding_was {
        fs::write(forwarding_sysctl(bridge.address.address), was)
            .map_err(io("restore IP forwarding"))?;
    }
    // The leases go too: a bridge brought up again starts afresh, as lxc-net's does.
    fs::remove_dir_all(dir).map_err(io("remove the state directory"))?;
    tracing::info!(bridge = %bridge.name, "bridge down");
    Ok(())
}

/// Makes the static addresses of a container's interface on the bridge resolvable by the
/// container's name, as DHCP clients' are.
pub fn publish_names(
    bridge: &BridgeConfig,
    paths: &Paths,
    entry: &str,
    name: &str,
    addresses: &[IpAddr],
) -> io::Result<()> {
    let dir = state_dir(bridge, paths);
    let text: String = addresses.iter().map(|a| format!("{a} {name}\n")).collect();
    // Written whole under another name first: dnsmasq must never read half of it.
    let hosts = dnsmasq::hosts_dir(&dir);
    let tmp = hosts.with_file_name(format!(".{entry}.tmp"));
    fs::write(&tmp, text)?;
    fs::rename(tmp, hosts.join(entry))
}

/// Withdraws what [`publish_names`] published.
pub fn withdraw_names(bridge: &BridgeConfig, paths: &Paths, entry: &str) -> io::Result<()> {
    let dir = state_dir(bridge, paths);
    match fs::remove_file(dnsmasq::hosts_dir(&dir).join(entry)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The bridge's state, as `corral net status` shows it.
pub fn status(bridge: &BridgeConfig, paths: &Paths) -> Result<Status, BridgeError> {
    let dir = state_dir(bridge, paths);
    let state = load(&dir);
    let mut nl = Netlink::open().map_err(|e| BridgeError::Netlink(bridge.name.clone(), e))?;
    let link = nl
        .link(&bridge.name)
        .map_err(|e| BridgeError::Netlink(bridge.name.clone(), e))?;
    let managed = state.as_ref().is_some_and(|s| is_ours(bridge, s))
        && link
            .as_ref()
            .is_some_and(|l| Some(l.index) == state.as_ref().map(|s| s.index));
    let ports = match &link {
        Some(l) => ports(bridge, l.index)?,
        None => Vec::new(),
    };
    let leases = fs::read_to_string(dnsmasq::leases_file(&dir))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 4).then(|| [f[0], f[1], f[2], f[3]].map(str::to_owned))
        })
        .collect();
    Ok(Status {
        name: bridge.name.clone(),
        up: link.is_some(),
        managed,
        address: bridge.address.to_string(),
        dnsmasq: dnsmasq::pid(&dir),
        nat: state.as_ref().is_some_and(|s| s.nft_table.is_some())
            && nft::exists(&bridge.nft_table),
        forwarding: fs::read_to_string(forwarding_sysctl(bridge.address.address))
            .is_ok_and(|v| v.trim() == "1"),
        ports,
        leases,
    })
}

fn is_ours(bridge: &BridgeConfig, state: &State) -> bool {
    Netlink::open()
        .and_then(|mut nl| nl.link(&bridge.name))
        .ok()
        .flatten()
        .is_some_and(|l| l.index == state.index)
}

fn ports(bridge: &BridgeConfig, index: u32) -> Result<Vec<String>, BridgeError> {
    if index == 0 {
        return Ok(Vec::new());
    }
    let mut nl = Netlink::open().map_err(|e| BridgeError::Netlink(bridge.name.clone(), e))?;
    let links = nl
        .links()
        .map_err(|e| BridgeError::Netlink(bridge.name.clone(), e))?;
    Ok(links
        .into_iter()
        .filter(|l| l.controller == Some(index))
        .map(|l| l.name)
        .collect())
}

fn forwarding_sysctl(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "/proc/sys/net/ipv4/ip_forward",
        IpAddr::V6(_) => "/proc/sys/net/ipv6/conf/all/forwarding",
    }
}

fn lock(dir: &Path) -> io::Result<Flock<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("bridge.lock"))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e.into())
}

fn load(dir: &Path) -> Option<State> {
    serde_json::from_slice(&fs::read(dir.join("state.json")).ok()?).ok()
}

fn save(dir: &Path, state: &State) -> io::Result<()> {
    let tmp = dir.join(".state.json.tmp");
    fs::write(&tmp, serde_json::to_vec(state).map_err(io::Error::other)?)?;
    fs::rename(tmp, dir.join("state.json"))
}
