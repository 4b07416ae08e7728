//! The debian template: a rootfs built with debootstrap from the host's apt sources and
//! cached, and a system container that boots systemd to `running` and shuts it down cleanly.
//!
//! The first create on a machine downloads and builds for a minute or two; every later one
//! unpacks the cache in `$CORRAL_CACHE_DIR/debian` (default `/var/cache/corral/debian`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use corral_tests::World;

/// A cached create only unpacks a tarball: seconds, where a build takes minutes.
const CACHED_CREATE_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn create_builds_then_reuses_a_cached_rootfs() {
    let w = World::new();
    w.corral(&["create", "-t", "debian", "-n", "first"]).ok();

    let started = Instant::now();
    let second = w.corral(&["create", "-t", "debian", "-n", "second"]);
    second.ok();
    assert!(
        second.stderr.contains("unpacking the cached rootfs"),
        "the second create did not use the cache:\n{}",
        second.stderr
    );
    assert!(
        started.elapsed() < CACHED_CREATE_LIMIT,
        "a cached create took {:?}",
        started.elapsed()
    );

    let config = fs::read_to_string(w.root().join("second/config.toml")).unwrap();
    for line in [
        "cmd = [\"/sbin/init\"]",
        "halt = \"SIGRTMIN+3\"",
        "reboot = \"SIGINT\"",
        "cgroup = \"rw\"",
    ] {
        assert!(config.contains(line), "{line} is not in:\n{config}");
    }

    let rootfs = w.root().join("second/rootfs");
    let read = |file: &str| fs::read_to_string(rootfs.join(file)).unwrap();
    assert_eq!(read("etc/hostname"), "second\n");
    assert!(read("etc/hosts").contains("127.0.1.1\tsecond\n"));
    assert_eq!(
        read("etc/machine-id"),
        "",
        "systemd must make a fresh machine ID"
    );
    assert!(!rootfs.join("var/lib/dbus/machine-id").exists());
    assert_eq!(
        fs::read_link(rootfs.join("usr/sbin/init")).unwrap(),
        Path::new("/lib/systemd/systemd")
    );
    assert!(read("etc/systemd/network/eth0.network").contains("DHCP=yes"));
    let units = rootfs.join("etc/systemd/system");
    assert_eq!(
        fs::read_link(units.join("systemd-udevd.service")).unwrap(),
        Path::new("/dev/null")
    );
    assert!(
        units
            .join("multi-user.target.wants/systemd-networkd.service")
            .is_symlink()
    );
    assert!(!units.join("network-online.target.wants").exists());
    // Root stays locked without --root-password.
    assert!(read("etc/shadow").starts_with("root:*:"));

    // The rootfs runs under corral as it is.
    let release = w.execute("second", &["/bin/cat", "/etc/debian_version"]);
    assert!(release.ok().starts_with("12."), "{}", release.stdout);
}

#[test]
fn bad_template_arguments_are_refused() {
    let w = World::new();
    for (args, expected) in [
        (&["--bogus"][..], "unknown argument `--bogus`"),
        (&["--release", "../x"], "not a release name"),
        (&["--packages", "vim;true"], "not a Debian package name"),
        (&["--mirror", "ftp://mirror/debian"], "not an http://"),
        (&["--release", "nosuchrelease"], "does not know the release"),
    ] {
        let mut cmd = vec!["create", "-t", "debian", "-n", "bad", "--"];
        cmd.extend_from_slice(args);
        let run = w.corral(&cmd);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(
            !w.root().join("bad").exists(),
            "{args:?} left the container"
        );
    }
}

#[test]
fn debian_boots_systemd_to_running_and_stops_cleanly() {
    let w = World::new();
    w.corral(&["create", "-t", "debian", "-n", "deb"]).ok();
    // A unit whose stop leaves a mark in the rootfs: it runs only in an orderly shutdown.
    let rootfs = w.root().join("deb/rootfs");
    let unit = rootfs.join("etc/systemd/system/corral-test-stop.service");
    fs::write(
        &unit,
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n\
         ExecStop=/bin/sh -c 'echo clean > /var/tmp/corral-stopped'\n\
         [Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    let wants = rootfs.join("etc/systemd/system/multi-user.target.wants");
    std::os::unix::fs::symlink(
        "../corral-test-stop.service",
        wants.join("corral-test-stop.service"),
    )
    .unwrap();

    w.corral(&["start", "-n", "deb"]).ok();
    let attach = |command: &[&str]| {
        let mut args = vec!["attach", "-n", "deb", "--"];
        args.extend_from_slice(command);
        w.corral(&args)
    };
    // systemd answers once its bus is up, a moment after init starts.
    let mut state = attach(&["timeout", "120", "systemctl", "is-system-running", "--wait"]);
    for _ in 0..100 {
        if !state.stdout.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        state = attach(&["timeout", "120", "systemctl", "is-system-running", "--wait"]);
    }
    if state.stdout.trim() != "running" {
        let failed = attach(&["systemctl", "--failed", "--no-pager"]);
        panic!(
            "systemd is {:?}, not running:\n{}{}",
            state.stdout.trim(),
            failed.stdout,
            state.stderr
        );
    }
    assert_eq!(attach(&["hostname"]).ok(), "deb\n");
    // The console's login prompt: a getty runs on /dev/console.
    assert_eq!(
        attach(&["systemctl", "is-active", "console-getty.service"]).ok(),
        "active\n"
    );

    // What a user sees on `corral console`: the login prompt (Ctrl+a q detaches).
    let console = w.cmd_shell(
        "(sleep 0.5; printf '\\n'; sleep 1.5; printf '\\001q') | \"$CORRAL_BIN\" console -n deb",
    );
    assert!(
        console.stdout.contains("deb login:"),
        "no login prompt on the console: {console:?}"
    );
    assert!(console.stderr.contains("Detached from deb."), "{console:?}");

    w.corral(&["stop", "-n", "deb"]).ok();
    assert_eq!(
        fs::read_to_string(rootfs.join("var/tmp/corral-stopped")).unwrap_or_default(),
        "clean\n",
        "systemd was not shut down in order"
    );
    w.assert_clean("deb");
}
