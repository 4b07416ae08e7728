//! start, stop, wait, freeze, autostart, cgroup and the monitor daemon.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use anyhow::{Context, bail};
use corral::container::{Container, Corral};
use corral::control::{self, STATUS_FD_VAR};
use corral::monitor::{self, ClientError, Event, Mode, Request, State, StopMode};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};

/// Starts a system container: in the foreground, or under a daemon monitor whose outcome
/// (RUNNING, or why not) comes back through a pipe.
pub fn start(container: &Container<'_>, foreground: bool) -> anyhow::Result<()> {
    if foreground {
        if !container.exists() {
            bail!("container {} does not exist", container.name());
        }
        monitor::run(container, Mode::Start { foreground: true }, None)?;
        return Ok(());
    }
    // SAFETY: the CLI runs on one thread, and the one `main` started to make a network
    // namespace ahead.
    unsafe { control::start_daemon_forked(container) }?;
    Ok(())
}

/// The monitor daemon: detaches from the caller, then runs the container.
pub fn monitor_daemon(container: &Container<'_>) -> anyhow::Result<()> {
    let status = std::env::var(STATUS_FD_VAR)
        .ok()
        .and_then(|fd| fd.parse::<i32>().ok())
        .filter(|fd| *fd > 2)
        .context("the monitor is started by `corral start`")?;
    // SAFETY: `corral start` passed this descriptor, open and ours alone, in the variable.
    let status = unsafe { OwnedFd::from_raw_fd(status) };
    fcntl(&status, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).context("status pipe")?;
    // SAFETY: single-threaded here; the parent exits at once so that `corral start` can reap
    // it, and the child, reparented, lives on as the monitor.
    match unsafe { nix::unistd::fork() }.context("cannot fork the monitor")? {
        nix::unistd::ForkResult::Parent { .. } => {
            // SAFETY: leave without running destructors that belong to the child now.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Child => {}
    }
    corral::pipeline::netns::make_ahead();
    control::run_monitor_daemon(container, File::from(status))?;
    Ok(())
}

/// Stops a container. Exit status 2 when it is not running.
pub fn stop(
    container: &Container<'_>,
    timeout: i64,
    kill: bool,
    reboot: bool,
) -> anyhow::Result<u8> {
    let timeout_secs = u64::try_from(timeout).ok();
    let mode = if kill {
        StopMode::Kill
    } else if reboot {
        StopMode::Reboot
    } else {
        StopMode::Halt { timeout_secs }
    };
    let grace = timeout_secs.map(|s| Duration::from_secs(s + 30));
    match control::stop(container, mode, grace) {
        Ok(true) => Ok(0),
        Ok(false) => bail!("container {} did not stop", container.name()),
        Err(ClientError::NotRunning(name)) => {
            eprintln!("corral: container {name} is not running");
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}

/// Freezes or thaws a container.
pub fn freeze(container: &Container<'_>, freeze: bool) -> anyhow::Result<()> {
    let request = if freeze {
        Request::Freeze
    } else {
        Request::Unfreeze
    };
    container.client()?.request(&request)?;
    Ok(())
}

/// Waits until the container is in one of `states` (`RUNNING|FROZEN`). Exit status 1 when
/// the time ran out.
pub fn wait(container: &Container<'_>, states: &str, timeout: i64) -> anyhow::Result<u8> {
    let wanted: Vec<State> = states
        .split('|')
        .map(|s| State::parse(s.trim()).with_context(|| format!("`{s}` is not a state")))
        .collect::<anyhow::Result<_>>()?;
    let timeout = u64::try_from(timeout).ok().map(Duration::from_secs);
    Ok(if control::wait(container, &wanted, timeout)? {
        0
    } else {
        1
    })
}

/// Prints state changes as they happen, of one container or of all (also those started
/// later), as LXC's lxc-monitor does.
pub fn watch_states(
    corral: &Corral,
    out: &mut impl Write,
    only: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    let (tx, rx) = mpsc::channel::<Event>();
    let mut watching: HashMap<String, std::thread::JoinHandle<()>> = HashMap::new();
    loop {
        let names = match only {
            Some(name) => vec![name.to_owned()],
            None => corral.list()?,
        };
        for name in names {
            if watching.get(&name).is_some_and(|h| !h.is_finished()) {
                continue;
            }
            let container = corral.container(&name)?;
            let Ok(mut client) = container.client() else {
                continue;
            };
            if client.request(&Request::Subscribe).is_err() {
                continue;
            }
            let tx = tx.clone();
            let thread_name = name.clone();
            let handle = std::thread::spawn(move || {
                let (stream, early) = client.into_stream();
                let early = String::from_utf8_lossy(&early).into_owned();
                let lines = early
                    .lines()
                    .map(|l| Ok(l.to_owned()))
                    .chain(BufReader::new(stream).lines());
                let mut last = None;
                for line in lines {
                    let Ok(line) = line else { break };
                    if let Ok(event) = serde_json::from_str::<Event>(&line) {
                        last = Some(event.state);
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                }
                // A monitor that died says nothing: its container is stopped all the same.
                if last != Some(State::Stopped) {
                    let _ = tx.send(Event {
                        name: thread_name,
                        state: State::Stopped,
                    });
                }
            });
            watching.insert(name, handle);
        }
        while let Ok(event) = rx.recv_timeout(Duration::from_millis(250)) {
            if json {
                writeln!(out, "{}", serde_json::to_string(&event)?)?;
            } else {
                writeln!(
                    out,
                    "'{}' changed state to [{}]",
                    event.name,
                    event.state.as_str()
                )?;
            }
            out.flush()?;
        }
    }
}

/// Starts (or stops) the containers with `autostart.enabled`, highest order first, waiting
/// each one's delay; stopping goes in reverse.
pub fn autostart(
    corral: &Corral,
    out: &mut impl Write,
    groups: &[String],
    shutdown: bool,
    kill: bool,
    list: bool,
) -> anyhow::Result<()> {
    let mut chosen = Vec::new();
    for name in corral.list()? {
        let container = corral.container(&name)?;
        let Ok(config) = container.config() else {
            continue;
        };
        let auto = config.autostart;
        let in_group = if groups.is_empty() {
            auto.groups.is_empty()
        } else {
            auto.groups.iter().any(|g| groups.contains(g))
                || (groups.iter().any(String::is_empty) && auto.groups.is_empty())
        };
        if auto.enabled && in_group {
            chosen.push((auto.order, auto.delay, name));
        }
    }
    chosen.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
    if shutdown || kill {
        chosen.reverse();
    }
    for (_, delay, name) in chosen {
        let container = corral.container(&name)?;
        if list {
            writeln!(out, "{name} {delay}")?;
            continue;
        }
        let result = if shutdown || kill {
            stop(&container, 60, kill, false).map(|_| ())
        } else if container.state() == State::Stopped {
            start(&container, false).map(|()| std::thread::sleep(Duration::from_secs(delay)))
        } else {
            Ok(())
        };
        if let Err(e) = result {
            eprintln!("corral: error: {name}: {e:#}");
        }
    }
    Ok(())
}

/// Reads `key` in the running container's cgroup, or writes `value` to it.
pub fn cgroup(
    container: &Container<'_>,
    key: &str,
    value: Option<&str>,
) -> anyhow::Result<Option<String>> {
    match value {
        Some(value) => {
            control::cgroup_set(container, key, value)?;
            Ok(None)
        }
        None => Ok(Some(control::cgroup_get(container, key)?)),
    }
}
