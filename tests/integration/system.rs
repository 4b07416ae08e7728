//! System containers under a monitor: start, stop, info, ls, attach, console, freeze, wait,
//! monitor, autostart, cgroup, and what happens when things die.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use corral_tests::{Run, World};

/// The PIDs of the processes whose command line is `[corral monitor] NAME`.
fn monitors(name: &str) -> Vec<i32> {
    let title = format!("[corral monitor] {name}");
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).trim_end_matches('\0') == title)
        })
        .collect()
}

/// The monitors of `name`, and the processes that will become one: a `corral start` forked
/// before it was killed execs the monitor a moment later.
fn starters(name: &str) -> Vec<i32> {
    let mut pids = monitors(name);
    pids.extend(
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                let starting =
                    args.contains(&b"start".as_slice()) || args.contains(&b"__monitor".as_slice());
                (starting && args.contains(&name.as_bytes())).then_some(pid)
            }),
    );
    pids
}

fn info_field(run: &Run, key: &str) -> Option<String> {
    run.stdout.lines().find_map(|l| {
        l.strip_prefix(&format!("{key}:"))
            .map(|v| v.trim().to_owned())
    })
}

#[test]
fn start_info_ls_attach_stop() {
    let w = World::new();
    w.busybox("sys", "[autostart]\ngroups = [\"web\"]\n");
    let started = Instant::now();
    w.corral(&["start", "-n", "sys"]).ok();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        monitors("sys").len(),
        1,
        "one `[corral monitor] sys` process"
    );

    let info = w.corral(&["info", "-n", "sys"]);
    info.ok();
    assert_eq!(info_field(&info, "Name").as_deref(), Some("sys"));
    assert_eq!(info_field(&info, "State").as_deref(), Some("RUNNING"));
    let pid: i32 = info_field(&info, "PID").unwrap().parse().unwrap();
    assert!(
        info_field(&info, "CPU use").unwrap().ends_with(" seconds"),
        "{}",
        info.stdout
    );
    let memory = info_field(&info, "Memory use").unwrap();
    assert!(
        memory.ends_with("KiB") || memory.ends_with("MiB"),
        "{memory}"
    );
    let raw = w.corral(&["info", "-H", "-n", "sys"]);
    assert!(
        info_field(&raw, "Memory use")
            .unwrap()
            .parse::<u64>()
            .is_ok(),
        "{}",
        raw.stdout
    );
    // Init is the container's own /sbin/init (busybox's, which renames itself `init`).
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&cmdline).trim_end_matches('\0'),
        "init"
    );

    let table = w.corral(&["ls", "-f"]);
    let lines: Vec<&str> = table.ok().lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "NAME",
            "STATE",
            "AUTOSTART",
            "GROUPS",
            "IPV4",
            "IPV6",
            "UNPRIVILEGED"
        ]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["sys", "RUNNING", "0", "web", "-", "-", "false"]
    );
    let pids = w.corral(&["ls", "--fancy-format", "name,pid,state"]);
    assert!(
        pids.ok().contains(&format!("sys  {pid}")),
        "{}",
        pids.stdout
    );
    assert_eq!(w.corral(&["ls", "--running"]).ok(), "sys\n");
    assert_eq!(w.corral(&["ls", "--stopped"]).ok(), "");
    assert_eq!(w.corral(&["ls", "-g", "web"]).ok(), "sys\n");
    assert_eq!(w.corral(&["ls", "-g", "db"]).ok(), "");

    // attach: the container's namespaces, a clean environment, the exit status.
    assert_eq!(
        w.corral(&["attach", "-n", "sys", "--", "hostname"]).ok(),
        "sys\n"
    );
    let ps = w.corral(&["attach", "-n", "sys", "--", "ps", "-o", "pid,args"]);
    assert!(
        ps.ok()
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .starts_with("1 /sbin/init")
            || ps.stdout.contains("    1 init"),
        "{}",
        ps.stdout
    );
    assert_eq!(
        w.corral(&["attach", "-n", "sys", "--", "sh", "-c", "exit 5"])
            .code,
        5
    );
    let env = w
        .cmd()
        .env("CORRAL_TEST_SECRET", "x")
        .args([
            "attach",
            "-n",
            "sys",
            "--set-var",
            "GREETING=hi",
            "--",
            "env",
        ])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout);
    assert!(
        env.contains("GREETING=hi") && env.contains("container=corral"),
        "{env}"
    );
    assert!(
        !env.contains("CORRAL_TEST_SECRET"),
        "the environment is clean by default: {env}"
    );
    let kept = w
        .cmd()
        .env("CORRAL_TEST_SECRET", "x")
        .args(["attach", "-n", "sys", "--keep-env", "--", "env"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&kept.stdout).contains("CORRAL_TEST_SECRET=x"));
    let status = w.corral(&["attach", "-n", "sys", "--", "cat", "/proc/self/status"]);
    let bnd = status
        .ok()
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap()
        .to_owned();
    assert_eq!(bnd.split_whitespace().nth(1).unwrap().len(), 16);
    assert_eq!(
        u64::from_str_radix(bnd.split_whitespace().nth(1).unwrap(), 16).unwrap() & (1 << 16),
        0,
        "attach keeps sys_module dropped"
    );
    let ignored = status
        .ok()
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(str::trim);
    assert_eq!(
        ignored,
        Some("0000000000000000"),
        "attach ignores no signal"
    );
    let missing = w.corral(&["attach", "-n", "sys", "--", "/no/such"]);
    assert_eq!(missing.code, 127, "{missing:?}");

    // A second start of a running container is refused clearly.
    let again = w.corral(&["start", "-n", "sys"]);
    assert!(
        again.code != 0 && again.stderr.contains("container sys is already running"),
        "{again:?}"
    );

    w.corral(&["stop", "-n", "sys"]).ok();
    // `stop` returns once all is cleaned up; the monitor exits right after.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !monitors("sys").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(monitors("sys").is_empty(), "the monitor is gone");
    assert_eq!(
        info_field(&w.corral(&["info", "-n", "sys"]), "State").as_deref(),
        Some("STOPPED")
    );
    let not_running = w.corral(&["stop", "-n", "sys"]);
    assert_eq!(not_running.code, 2, "{not_running:?}");
    assert!(
        w.corral(&["attach", "-n", "sys", "--", "true"])
            .stderr
            .contains("container sys is not running")
    );
    w.assert_clean("sys");
}

#[test]
fn each_started_container_has_a_network_namespace_of_its_own() {
    // `corral start` makes it as it starts and hands it to the monitor it forks.
    let w = World::new();
    let host = fs::read_link("/proc/self/ns/net").unwrap();
    let mut seen = vec![host.to_string_lossy().into_owned()];
    for name in ["net1", "net2"] {
        w.busybox(name, "");
        w.corral(&["start", "-n", name]).ok();
        let pid = info_field(&w.corral(&["info", "-n", name]), "PID").unwrap();
        let ns = fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
        let ns = ns.to_string_lossy().into_owned();
        assert!(
            !seen.contains(&ns),
            "{name} is in {ns}, seen already: {seen:?}"
        );
        seen.push(ns);
        let links = w.corral(&["attach", "-n", name, "--", "/sbin/ip", "-o", "link"]);
        let links: Vec<&str> = links.ok().lines().collect();
        assert_eq!(links.len(), 1, "only lo: {links:?}");
        assert!(links[0].contains(": lo: <LOOPBACK,UP"), "{links:?}");
    }
    for name in ["net1", "net2"] {
        w.corral(&["stop", "-k", "-n", name]).ok();
        w.assert_clean(name);
    }
}

#[test]
fn stop_kill_and_timeout_and_reboot() {
    let w = World::new();
    // This init ignores the halt signal: stop must fall back to SIGKILL after the timeout.
    w.busybox("stubborn", "[init]\ncmd = [\"/bin/sh\", \"-c\", \"trap '' USR1 TERM PWR; while :; do sleep 1; done\"]\n");
    w.corral(&["start", "-n", "stubborn"]).ok();
    let started = Instant::now();
    w.corral(&["stop", "-n", "stubborn", "-t", "1"]).ok();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
    w.assert_clean("stubborn");

    w.busybox("killed", "");
    w.corral(&["start", "-n", "killed"]).ok();
    let started = Instant::now();
    w.corral(&["stop", "-k", "-n", "killed"]).ok();
    assert!(started.elapsed() < Duration::from_secs(2));
    w.assert_clean("killed");

    w.busybox("reboots", "");
    w.corral(&["start", "-n", "reboots"]).ok();
    let pid = info_field(&w.corral(&["info", "-n", "reboots"]), "PID").unwrap();
    w.corral(&["stop", "-r", "-n", "reboots"]).ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = w.corral(&["info", "-n", "reboots"]);
        let now = info_field(&info, "PID");
        if info_field(&info, "State").as_deref() == Some("RUNNING")
            && now.is_some()
            && now.as_deref() != Some(&pid)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the container did not come back: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    w.corral(&["stop", "-k", "-n", "reboots"]).ok();
    w.assert_clean("reboots");
}

#[test]
fn freeze_unfreeze_wait_and_cgroup() {
    let w = World::new();
    w.busybox("ice", "[cgroup]\npids = 64\n");
    w.corral(&["start", "-n", "ice"]).ok();
    assert_eq!(
        w.corral(&["wait", "-n", "ice", "-s", "RUNNING", "-t", "5"])
            .code,
        0
    );
    w.corral(&["freeze", "-n", "ice"]).ok();
    assert_eq!(
        info_field(&w.corral(&["info", "-n", "ice"]), "State").as_deref(),
        Some("FROZEN")
    );
    assert_eq!(
        w.corral(&["wait", "-n", "ice", "-s", "FROZEN", "-t", "5"])
            .code,
        0
    );
    let frozen = w.corral(&["ls", "--frozen"]);
    assert_eq!(frozen.ok(), "ice\n");
    w.corral(&["unfreeze", "-n", "ice"]).ok();
    assert_eq!(
        info_field(&w.corral(&["info", "-n", "ice"]), "State").as_deref(),
        Some("RUNNING")
    );
    // A state that does not come within the timeout: exit status 1.
    assert_eq!(
        w.corral(&["wait", "-n", "ice", "-s", "FROZEN", "-t", "1"])
            .code,
        1
    );

    assert_eq!(w.corral(&["cgroup", "ice", "pids.max"]).ok(), "64\n");
    w.corral(&["cgroup", "-n", "ice", "pids.max", "32"]).ok();
    assert_eq!(w.corral(&["cgroup", "ice", "pids.max"]).ok(), "32\n");
    assert!(
        w.corral(&["cgroup", "ice", "no.such.file"])
            .stderr
            .contains("has no cgroup file no.such.file")
    );
    assert!(
        w.corral(&["cgroup", "ice", "../escape"])
            .stderr
            .contains("is not a cgroup file name")
    );

    // wait for STOPPED returns when the container stops.
    let waiter = w
        .cmd()
        .args(["wait", "-n", "ice", "-s", "STOPPED", "-t", "20"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    w.corral(&["stop", "-n", "ice"]).ok();
    assert_eq!(waiter.wait_with_output().unwrap().status.code(), Some(0));
    w.assert_clean("ice");
}

#[test]
fn console_attach_detach_reattach_and_log() {
    let w = World::new();
    w.busybox("con", "");
    w.corral(&["start", "-n", "con"]).ok();
    // busybox init asks for Enter on the console, then runs a shell there.
    let session = |input: &str| {
        w.cmd_shell(&format!("(sleep 0.3; printf '{input}'; sleep 0.7; printf '\\001q') | \"$CORRAL_BIN\" console -n con"))
    };
    let first = session("\\necho marker-$((40+2))\\n");
    assert!(first.stdout.contains("marker-42"), "{first:?}");
    assert!(first.stderr.contains("Detached from con."), "{first:?}");
    // Detached, the container runs on; a second client finds the same shell.
    let second = session("echo again-$((1+1))\\n");
    assert!(second.stdout.contains("again-2"), "{second:?}");
    let log = fs::read_to_string(w.run_dir().join("con/console.log")).unwrap();
    assert!(
        log.contains("marker-42") && log.contains("again-2"),
        "{log}"
    );
    let no_tty = w.corral(&["console", "-n", "con", "-t", "7"]);
    assert!(
        no_tty.stderr.contains("container con has no tty 7"),
        "{no_tty:?}"
    );
    w.corral(&["stop", "-k", "-n", "con"]).ok();
    w.assert_clean("con");
}

#[test]
fn monitor_streams_state_changes() {
    let w = World::new();
    w.busybox("watched", "");
    let mut watcher = w
        .cmd()
        .args(["monitor", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    std::thread::sleep(Duration::from_millis(300));
    w.corral(&["start", "-n", "watched"]).ok();
    // The watcher finds new containers within a moment, and first says where they stand.
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("RUNNING") {
        let line = lines.next().unwrap().unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push(event["state"].as_str().unwrap().to_owned());
    }
    w.corral(&["freeze", "-n", "watched"]).ok();
    w.corral(&["unfreeze", "-n", "watched"]).ok();
    w.corral(&["stop", "-k", "-n", "watched"]).ok();
    while seen.last().map(String::as_str) != Some("STOPPED") {
        let line = lines.next().unwrap().unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["name"], "watched");
        seen.push(event["state"].as_str().unwrap().to_owned());
    }
    // Only the PID this test started is signalled.
    let _ = Command::new("kill").arg(watcher.id().to_string()).status();
    let _ = watcher.wait();
    let after_start: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .skip_while(|s| *s != "FREEZING")
        .collect();
    assert_eq!(
        after_start,
        ["FREEZING", "FROZEN", "RUNNING", "STOPPING", "STOPPED"],
        "{seen:?}"
    );
}

#[test]
fn autostart_honours_order_groups_and_delay() {
    let w = World::new();
    w.busybox("late", "[autostart]\nenabled = true\norder = 1\n");
    w.busybox(
        "early",
        "[autostart]\nenabled = true\norder = 10\ndelay = 1\n",
    );
    w.busybox("other", "[autostart]\nenabled = true\ngroups = [\"db\"]\n");
    w.busybox("manual", "");
    assert_eq!(w.corral(&["autostart", "-L"]).ok(), "early 1\nlate 0\n");
    assert_eq!(w.corral(&["autostart", "-L", "-g", "db"]).ok(), "other 0\n");
    let started = Instant::now();
    w.corral(&["autostart"]).ok();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the delay after `early`"
    );
    assert_eq!(w.corral(&["ls", "--running"]).ok(), "early\nlate\n");
    w.corral(&["autostart", "-k"]).ok();
    assert_eq!(w.corral(&["ls", "--running"]).ok(), "");
    for name in ["early", "late", "other", "manual"] {
        w.assert_clean(name);
    }
}

#[test]
fn a_killed_monitor_takes_its_container_down_and_is_cleaned_up() {
    let w = World::new();
    w.busybox("orphan", "");
    w.corral(&["start", "-n", "orphan"]).ok();
    let info = w.corral(&["info", "-n", "orphan"]);
    let init: i32 = info_field(&info, "PID").unwrap().parse().unwrap();
    let monitor = monitors("orphan");
    assert_eq!(monitor.len(), 1);
    // Only the monitor this test started is killed, by its PID.
    Command::new("kill")
        .args(["-KILL", &monitor[0].to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while fs::metadata(format!("/proc/{init}")).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        fs::metadata(format!("/proc/{init}")).is_err(),
        "init died with its monitor"
    );
    assert_eq!(
        info_field(&w.corral(&["info", "-n", "orphan"]), "State").as_deref(),
        Some("STOPPED")
    );
    assert_eq!(w.corral(&["ls", "--stopped"]).ok(), "orphan\n");
    // The next start cleans the stale cgroup, socket and state, and works.
    w.corral(&["start", "-n", "orphan"]).ok();
    w.corral(&["stop", "-k", "-n", "orphan"]).ok();
    w.assert_clean("orphan");
}

#[test]
fn a_killed_cli_leaves_nothing_half_done() {
    let w = World::new();
    w.busybox("halfway", "");
    for delay_ms in [0u64, 2, 5, 10] {
        let mut cli = w.cmd().args(["start", "-n", "halfway"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        // Only the PID this test spawned is signalled.
        let _ = Command::new("kill")
            .args(["-KILL", &cli.id().to_string()])
            .status();
        let _ = cli.wait();
        // The monitor carries on alone: the container ends up running, or not at all.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state =
                info_field(&w.corral(&["info", "-n", "halfway"]), "State").unwrap_or_default();
            if state == "RUNNING" || (state == "STOPPED" && starters("halfway").is_empty()) {
                break;
            }
            assert!(Instant::now() < deadline, "still {state} after 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = w.corral(&["stop", "-k", "-n", "halfway"]);
        w.assert_clean("halfway");
    }
}

#[test]
fn the_monitor_keeps_no_descriptor_of_its_caller() {
    // `corral start` with a pipe on its descriptor 7: the pipe's reader (`cat`) ends as soon as
    // `start` does, unless the monitor still holds it, until the container stops.
    let world = World::new();
    world.busybox("fds", "");
    let began = Instant::now();
    let run = world.cmd_shell("{ \"$CORRAL_BIN\" start -n fds 7>&1 >/dev/null; } | timeout 10 cat");
    let took = began.elapsed();
    world.corral(&["stop", "-k", "-n", "fds"]).ok();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        took < Duration::from_secs(5),
        "the pipe stayed open for {took:?}"
    );
    world.assert_clean("fds");
}

#[test]
fn the_monitor_is_named_even_when_its_command_line_was_short() {
    // `./c start t` leaves less room than `[corral monitor] t` needs: the title runs on over
    // the environment's area.
    let world = World::new();
    world.busybox("t", "");
    std::os::unix::fs::symlink(corral_tests::corral_bin(), world.dir().join("c")).unwrap();
    let run = world.cmd_shell(&format!("cd '{}' && ./c start t", world.dir().display()));
    let titled = monitors("t").len();
    world.corral(&["stop", "-k", "-n", "t"]).ok();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(titled, 1, "no process titled `[corral monitor] t`");
    world.assert_clean("t");
}

#[test]
fn the_monitor_logs_to_the_log_file_of_its_start() {
    let world = World::new();
    world.busybox("lg", "");
    let log = world.dir().join("start.log");
    let log_arg = log.display().to_string();
    world
        .corral(&[
            "--log-file",
            &log_arg,
            "--log-level",
            "debug",
            "start",
            "-n",
            "lg",
        ])
        .ok();
    world.corral(&["stop", "-k", "-n", "lg"]).ok();
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("state=\"RUNNING\"") && text.contains("state=\"STOPPED\""),
        "the monitor's states are not in the log:\n{text}"
    );
    world.assert_clean("lg");
}

#[test]
fn two_starts_at_once_one_wins() {
    let w = World::new();
    w.busybox("race", "");
    let a = w
        .cmd()
        .args(["start", "-n", "race"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = w
        .cmd()
        .args(["start", "-n", "race"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.iter().any(|c| *c != Some(0)),
        "{a:?} {b:?}"
    );
    let loser = if a.status.success() { &b } else { &a };
    assert!(
        String::from_utf8_lossy(&loser.stderr).contains("container race is already running"),
        "{loser:?}"
    );
    w.corral(&["stop", "-k", "-n", "race"]).ok();
    w.assert_clean("race");
}

#[test]
fn fifty_containers_started_and_stopped_concurrently_leak_nothing() {
    let w = World::new();
    let names: Vec<String> = (0..50).map(|i| format!("many{i}")).collect();
    for name in &names {
        w.busybox(name, "");
    }
    for round in 0..2 {
        let starts: Vec<_> = names
            .iter()
            .map(|n| w.cmd().args(["start", "-n", n]).output_spawn())
            .collect();
        for (name, start) in names.iter().zip(starts) {
            let out = start.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: start {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(w.corral(&["ls", "--running"]).ok().lines().count(), 50);
        let stops: Vec<_> = names
            .iter()
            .map(|n| w.cmd().args(["stop", "-k", "-n", n]).output_spawn())
            .collect();
        for (name, stop) in names.iter().zip(stops) {
            let out = stop.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: stop {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    for name in &names {
        w.assert_clean(name);
        assert!(monitors(name).is_empty());
    }
}

/// Spawning with output captured, for commands run side by side.
trait OutputSpawn {
    fn output_spawn(&mut self) -> std::process::Child;
}

impl OutputSpawn for Command {
    fn output_spawn(&mut self) -> std::process::Child {
        self.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}
