//! dnsmasq for the default bridge, and the small process that supervises it.
//!
//! `corral net up` (or the first container start that needs the bridge) starts the
//! supervisor, `corral __net-supervise DIR`: it detaches, holds `DIR/supervisor.lock` for
//! its whole life (that lock held is what "running" means: no PID can be mistaken for it),
//! runs dnsmasq in the foreground and starts it again if it dies. `corral net down` sends it
//! SIGTERM; it stops dnsmasq and exits. The leases stay in `DIR/dnsmasq.leases`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::unistd::{ForkResult, Pid, fork, setsid};

use crate::config::BridgeConfig;
use crate::lock::ContainerLock;

const LOCK: &str = "supervisor.lock";
const PID: &str = "supervisor.pid";
const COMMAND: &str = "dnsmasq.json";

/// The directory of hosts files dnsmasq answers from, besides its leases: one file per
/// interface with static addresses on the bridge. dnsmasq watches it (inotify): a file
/// written or removed there is in its answers or out of them at once, with no signal.
pub fn hosts_dir(dir: &Path) -> PathBuf {
    dir.join("hosts")
}

/// The leases file of the bridge whose state is in `dir`.
pub fn leases_file(dir: &Path) -> PathBuf {
    dir.join("dnsmasq.leases")
}

/// dnsmasq's command line: DHCP on the bridge's subnet, DNS for the containers' names (as
/// their DHCP clients give them) under the bridge's domain, and nothing read from the
/// host's dnsmasq config.
pub fn command(bridge: &BridgeConfig, dir: &Path) -> Vec<String> {
    let address = bridge.address.address;
    let mut args = vec![
        bridge.dnsmasq.display().to_string(),
        "--keep-in-foreground".into(),
        "--conf-file=/dev/null".into(),
        "--log-facility=-".into(),
        "--pid-file=".into(),
        "--strict-order".into(),
        "--bind-interfaces".into(),
        "--except-interface=lo".into(),
        format!("--interface={}", bridge.name),
        format!("--listen-address={address}"),
        format!("--domain={}", bridge.domain),
        format!("--local=/{}/", bridge.domain),
        "--expand-hosts".into(),
        "--dhcp-no-override".into(),
        "--dhcp-authoritative".into(),
        format!("--dhcp-leasefile={}", leases_file(dir).display()),
        format!("--hostsdir={}", hosts_dir(dir).display()),
    ];
    if let Some((first, last)) = dhcp_range(bridge) {
        args.push(format!("--dhcp-range={first},{last},1h"));
    }
    args
}

/// The addresses dnsmasq leases: the configured range, or the whole subnet but the bridge.
fn dhcp_range(bridge: &BridgeConfig) -> Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)> {
    if bridge.dhcp_range.is_some() {
        return bridge.dhcp_range;
    }
    let std::net::IpAddr::V4(own) = bridge.address.address else {
        return None;
    };
    let host_bits = u32::MAX
        .checked_shr(u32::from(bridge.address.prefix))
        .unwrap_or(0);
    if host_bits < 3 {
        return None;
    }
    let network = u32::from(own) & !host_bits;
    let (first, last) = (network + 1, network + host_bits - 1);
    // The range skips the bridge's own address when it sits at either end.
    let first = if first == u32::from(own) {
        first + 1
    } else {
        first
    };
    let last = if last == u32::from(own) {
        last - 1
    } else {
        last
    };
    Some((first.into(), last.into()))
}

/// Whether the supervisor of `dir` runs.
pub fn running(dir: &Path) -> bool {
    ContainerLock::is_held(&dir.join(LOCK))
}

/// The supervisor's PID, if it runs.
pub fn pid(dir: &Path) -> Option<i32> {
    running(dir)
        .then(|| fs::read_to_string(dir.join(PID)).ok()?.trim().parse().ok())
        .flatten()
}

/// Starts the supervisor for `bridge`, its state in `dir`; it runs once this returns.
pub fn start(bridge: &BridgeConfig, dir: &Path) -> io::Result<()> {
    let line = serde_json::to_vec(&command(bridge, dir)).map_err(io::Error::other)?;
    fs::write(dir.join(COMMAND), line)?;
    fs::create_dir_all(hosts_dir(dir))?;
    let exe = std::env::current_exe()?;
    let status = super::unblocked(&mut Command::new(exe))
        .arg("__net-supervise")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() || !running(dir) {
        return Err(io::Error::other(format!(
            "the dnsmasq supervisor did not start (see {})",
            dir.join("dnsmasq.log").display()
        )));
    }
    Ok(())
}

/// Stops the supervisor and its dnsmasq, waiting up to five seconds.
pub fn stop(dir: &Path) -> io::Result<()> {
    let Some(pid) = pid(dir) else {
        return Ok(());
    };
    kill(Pid::from_raw(pid), Signal::SIGTERM)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(dir) {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "the dnsmasq supervisor {pid} did not stop"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The supervisor (`corral __net-supervise DIR`): takes the lock, detaches and keeps dnsmasq
/// running until SIGTERM. The calling process returns once the detached one holds the lock.
pub fn supervise(dir: &Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))?;
    // The lock is taken before the fork: the detached child inherits it, so it is held
    // from the moment this process exits.
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| io::Error::other(format!("a supervisor runs already ({e})")))?;
    let command: Vec<String> =
        serde_json::from_slice(&fs::read(dir.join(COMMAND))?).map_err(io::Error::other)?;
    // SAFETY: this process is single-threaded (the CLI has started no thread), so the child
    // may run anything.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            fs::write(dir.join(PID), child.to_string())?;
            // The child owns the lock now; this copy goes without unlocking it.
            std::mem::forget(lock);
            Ok(())
        }
        ForkResult::Child => {
            setsid()?;
            // What the caller left open (its pipes) must not live on in a daemon.
            crate::pipeline::close_other_fds(lock.as_raw_fd());
            crate::proctitle::set("corral-net");
            let result = keep_running(&command, dir);
            drop(lock);
            result
        }
    }
}

/// Runs dnsmasq, again after it dies (at most five quick deaths in a row), until SIGTERM.
fn keep_running(command: &[String], dir: &Path) -> io::Result<()> {
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        signals.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None)?;
    let mut quick_deaths = 0;
    loop {
        let started = Instant::now();
        let mut child = spawn(command, dir)?;
        loop {
            match signals.wait()? {
                Signal::SIGCHLD if child.try_wait()?.is_some() => break,
                Signal::SIGHUP => signal(&child, Signal::SIGHUP),
                Signal::SIGTERM | Signal::SIGINT => {
                    signal(&child, Signal::SIGTERM);
                    child.wait()?;
                    return Ok(());
                }
                _ => {}
            }
        }
        if started.elapsed() < Duration::from_secs(2) {
            quick_deaths += 1;
            if quick_deaths >= 5 {
                return Err(io::Error::other("dnsmasq keeps dying: giving up"));
            }
            std::thread::sleep(Duration::from_secs(1));
        } else {
            quick_deaths = 0;
        }
    }
}

fn spawn(command: &[String], dir: &Path) -> io::Result<Child> {
    let log = File::options()
        .create(true)
        .append(true)
        .open(dir.join("dnsmasq.log"))?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| io::Error::other("empty dnsmasq command"))?;
    super::unblocked(&mut Command::new(program))
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

fn signal(child: &Child, signal: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_the_subnet_but_the_bridge() {
        let mut bridge = BridgeConfig::default();
        let (first, last) = dhcp_range(&bridge).unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("10.77.0.2".into(), "10.77.0.254".into())
        );
        bridge.address = "10.9.0.254/24".parse().unwrap();
        let (first, last) = dhcp_range(&bridge).unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("10.9.0.1".into(), "10.9.0.253".into())
        );
        let args = command(&bridge, Path::new("/run/corral/net/b")).join(" ");
        assert!(
            args.contains("--dhcp-range=10.9.0.1,10.9.0.253,1h"),
            "{args}"
        );
        assert!(
            args.contains("--dhcp-leasefile=/run/corral/net/b/dnsmasq.leases"),
            "{args}"
        );
    }
}
