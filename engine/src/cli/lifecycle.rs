//! start, stop, wait, freeze, autostart, cgroup and the monitor daemon.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use corral::container::{Container, Corral};
use corral::monitor::{self, ClientError, Event, Mode, Request, Response, State, StopMode};
use corral::runtime;
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};

use super::GlobalArgs;

/// The variable that hands the monitor its status pipe.
const STATUS_FD_VAR: &str = "CORRAL_MONITOR_STATUS_FD";

/// Starts a system container: in the foreground, or under a daemon monitor whose outcome
/// (RUNNING, or why not) comes back through a pipe.
pub fn start(
    corral: &Corral,
    global: &GlobalArgs,
    container: &Container<'_>,
    foreground: bool,
) -> anyhow::Result<()> {
    if !container.exists() {
        bail!("container {} does not exist", container.name());
    }
    if foreground {
        monitor::run(container, Mode::Start { foreground: true }, None)?;
        return Ok(());
    }
    let (status, theirs) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    // The monitor inherits only its end of the pipe.
    fcntl(&theirs, FcntlArg::F_SETFD(FdFlag::empty())).context("cannot pass the status pipe")?;
    let exe = std::env::current_exe().context("cannot find the corral binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg0(format!("[corral monitor] {}", container.name()))
        .arg("--root")
        .arg(&corral.paths.root)
        .arg("--run-dir")
        .arg(&corral.paths.run)
        .arg("--config")
        .arg(&global.config)
        .arg("--log-level")
        .arg(&global.log_level);
    if let Some(file) = &global.log_file {
        cmd.arg("--log-file").arg(file);
    }
    cmd.arg("__monitor")
        .arg(container.name())
        .env(STATUS_FD_VAR, theirs.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let keep = theirs.as_raw_fd().cast_unsigned();
    let close_others = move || {
        // SAFETY: close_range only closes descriptors, and is async-signal-safe.
        unsafe { libc::close_range(3, keep - 1, 0) };
        // SAFETY: as above.
        unsafe { libc::close_range(keep + 1, u32::MAX, 0) };
        Ok(())
    };
    // SAFETY: between fork and exec only close_range runs: the monitor must hold no
    // descriptor of its caller's but the status pipe (a pipe its caller reads to the end
    // would otherwise stay open for the container's whole life).
    unsafe { cmd.pre_exec(close_others) };
    let mut child = cmd.spawn().context("cannot start the monitor")?;
    drop(theirs);
    // The first monitor process forks the real one and exits at once.
    child.wait().context("cannot wait for the monitor")?;
    let mut answer = String::new();
    let _ = File::from(status).read_to_string(&mut answer);
    match answer.lines().next() {
        Some("RUNNING") => Ok(()),
        Some(line) => bail!("{}", line.strip_prefix("ERROR ").unwrap_or(line)),
        None => bail!(
            "the monitor of {} exited before the container ran",
            container.name()
        ),
    }
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
    let _ = nix::unistd::setsid();
    let _ = std::env::set_current_dir("/");
    corral::proctitle::set(&format!("[corral monitor] {}", container.name()));
    monitor::run(
        container,
        Mode::Start { foreground: false },
        Some(File::from(status)),
    )?;
    Ok(())
}

/// Stops a container. Exit status 2 when it is not running.
pub fn stop(
    container: &Container<'_>,
    timeout: i64,
    kill: bool,
    reboot: bool,
) -> anyhow::Result<u8> {
    let mut client = match container.client() {
        Ok(client) => client,
        Err(ClientError::NotRunning(name)) => {
            eprintln!("corral: container {name} is not running");
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    let timeout_secs = u64::try_from(timeout).ok();
    let mode = if kill {
        StopMode::Kill
    } else if reboot {
        StopMode::Reboot
    } else {
        StopMode::Halt { timeout_secs }
    };
    match client.request(&Request::Stop(mode)) {
        Err(ClientError::NotRunning(name)) => {
            eprintln!("corral: container {name} is not running");
            return Ok(2);
        }
        result => result?,
    };
    if !reboot {
        // The monitor closes the connection once everything is torn down.
        let grace = timeout_secs.map(|s| Duration::from_secs(s + 30));
        if !client.wait_closed(grace)? {
            bail!("container {} did not stop", container.name());
        }
    }
    Ok(0)
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
    let deadline = u64::try_from(timeout)
        .ok()
        .map(|s| Instant::now() + Duration::from_secs(s));
    let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    loop {
        if left() == Some(Duration::ZERO) {
            return Ok(1);
        }
        let mut client = match container.client() {
            Ok(client) => client,
            Err(ClientError::NotRunning(_)) => {
                // No monitor answers: stopped, or starting (its lock is taken already).
                if wanted.contains(&container.state()) {
                    return Ok(0);
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match client.request(&Request::State) {
            Ok(Response::State { state, .. }) if wanted.contains(&state) => return Ok(0),
            Ok(_) => {}
            Err(ClientError::NotRunning(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        let mut events = container.client()?;
        if events.request(&Request::Subscribe).is_err() {
            continue;
        }
        loop {
            let timeout = left().map(|d| d.max(Duration::from_millis(1)));
            match events.next_event(timeout) {
                Ok(Some(Event { state, .. })) if wanted.contains(&state) => return Ok(0),
                Ok(Some(_)) => {}
                Ok(None) if wanted.contains(&State::Stopped) => return Ok(0),
                Ok(None) => break,
                Err(_) if left() == Some(Duration::ZERO) => return Ok(1),
                Err(e) => return Err(e.into()),
            }
        }
    }
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
    global: &GlobalArgs,
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
            start(corral, global, &container, false)
                .map(|()| std::thread::sleep(Duration::from_secs(delay)))
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
    if key.contains('/') || key.starts_with('.') {
        bail!("`{key}` is not a cgroup file name");
    }
    let state = runtime::load(&container.runtime_dir())
        .filter(runtime::RuntimeState::init_alive)
        .with_context(|| format!("container {} is not running", container.name()))?;
    let dir = state
        .cgroup
        .dirs
        .iter()
        .find(|d| d.join(key).exists())
        .with_context(|| format!("container {} has no cgroup file {key}", container.name()))?;
    let path = dir.join(key);
    match value {
        Some(value) => {
            std::fs::write(&path, value)
                .with_context(|| format!("cannot write `{value}` to {}", path.display()))?;
            Ok(None)
        }
        None => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Some(text.trim_end().to_owned()))
        }
    }
}
