//! `corral execute` runs real application containers: what the program inside sees.

use corral_tests::World;

#[test]
fn init_is_pid_1_and_ps_sees_only_the_container() {
    let w = World::new();
    w.busybox("pids", "");
    let out = w.execute("pids", &["/bin/ps", "-o", "pid,args"]);
    let lines: Vec<&str> = out.ok().lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "only init and the program, ps: {lines:?}");
    assert!(lines[0].trim_start().starts_with("1 "), "{lines:?}");
    assert!(lines[0].contains("corral-init"), "{lines:?}");
    assert!(
        lines[1].trim_start().starts_with("2 ") && lines[1].contains("ps -o"),
        "{lines:?}"
    );
    w.assert_clean("pids");
}

#[test]
fn hostname_root_and_mounts_are_the_containers() {
    let w = World::new();
    w.busybox("web", "hostname = \"webhost\"\n");
    assert_eq!(w.execute("web", &["/bin/hostname"]).ok(), "webhost\n");
    // The rootfs is / : the marker file the template wrote is at /etc/hostname.
    assert_eq!(
        w.execute("web", &["/bin/cat", "/etc/hostname"]).ok(),
        "web\n"
    );
    let mounts = w.execute("web", &["/bin/cat", "/proc/self/mountinfo"]);
    let mounts = mounts.ok();
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // Host-only mount points must not show up inside.
    for line in host.lines() {
        let point = line.split(' ').nth(4).unwrap();
        if point.starts_with("/work") || point.starts_with("/boot") || point == "/run" {
            assert!(
                !mounts.contains(&format!(" {point} ")),
                "host mount {point} visible inside"
            );
        }
    }
    let root_line = mounts
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a root mount");
    // Field 4 is the mount's root within its filesystem: the rootfs directory.
    let source = root_line.split(' ').nth(3).unwrap_or_default();
    assert!(
        source.ends_with("/web/rootfs"),
        "/ is not the rootfs: {root_line}"
    );
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx", "pts", "shm",
        "mqueue", "fd", "stdin", "stdout", "stderr",
    ] {
        assert!(
            w.execute("web", &["/bin/ls", &format!("/dev/{dev}")]).code == 0,
            "/dev/{dev} missing"
        );
    }
    // The nodes have their modes whatever the umask, which the program still gets.
    let modes = w.execute(
        "web",
        &[
            "/bin/sh",
            "-c",
            "umask 027; stat -c %a /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty",
        ],
    );
    assert_eq!(modes.ok(), "666\n".repeat(6));
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(
        w.execute("web", &["/bin/sh", "-c", "umask"]).ok().trim(),
        status_field(&status, "Umask:"),
        "the umask corral execute was given"
    );
    assert_eq!(
        w.execute(
            "web",
            &[
                "/bin/sh",
                "-c",
                "echo hi > /dev/null && head -c 4 /dev/zero | wc -c"
            ]
        )
        .ok()
        .trim(),
        "4"
    );
    w.assert_clean("web");
}

fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn the_network_and_ipc_namespaces_are_the_containers_own() {
    // The network namespace is made ahead, on another thread, and entered for the clone.
    let w = World::new();
    w.busybox("ns", "");
    for kind in ["net", "ipc"] {
        let link = format!("/proc/self/ns/{kind}");
        let host = std::fs::read_link(&link).expect("the host's namespace");
        let inside = w.execute("ns", &["/bin/readlink", &link]);
        let inside = inside.ok().trim().to_owned();
        assert!(inside.starts_with(&format!("{kind}:[")), "{inside}");
        assert_ne!(inside, host.to_string_lossy(), "{kind}");
    }
    w.assert_clean("ns");
}

#[test]
fn the_program_starts_with_no_signal_ignored_or_blocked() {
    // corral itself ignores SIGPIPE, as Rust programs do; its programs must not inherit that.
    let w = World::new();
    w.busybox("signals", "");
    let status = w.execute("signals", &["/bin/cat", "/proc/self/status"]);
    let status = status.ok();
    assert_eq!(status_field(status, "SigIgn:"), "0000000000000000");
    assert_eq!(status_field(status, "SigBlk:"), "0000000000000000");
    // So a pipeline's writer ends with SIGPIPE when its reader leaves, as on the host.
    let piped = w.execute(
        "signals",
        &["/bin/sh", "-c", "(yes; echo $? >&2) | head -n 1"],
    );
    assert_eq!(piped.ok().trim(), "y");
    assert_eq!(piped.stderr.trim(), "141", "{piped:?}");
    w.assert_clean("signals");
}

#[test]
fn capability_sets_and_no_new_privs_follow_the_config() {
    let w = World::new();
    w.busybox("caps", "");
    let status = w.execute("caps", &["/bin/cat", "/proc/self/status"]);
    let status = status.ok();
    let bnd = u64::from_str_radix(&status_field(status, "CapBnd:"), 16).unwrap();
    for dropped in [
        16, /* sys_module */
        17, /* sys_rawio */
        25, /* sys_time */
        32, /* mac_override */
        33, /* mac_admin */
    ] {
        assert_eq!(
            bnd & (1 << dropped),
            0,
            "capability {dropped} is still in the bounding set"
        );
    }
    assert_ne!(
        bnd & (1 << 21),
        0,
        "sys_admin is kept by LXC's default list"
    );
    assert_eq!(
        status_field(status, "CapEff:"),
        status_field(status, "CapBnd:")
    );
    assert_eq!(status_field(status, "CapInh:"), "0000000000000000");
    assert_eq!(status_field(status, "NoNewPrivs:"), "0");

    w.busybox(
        "keep",
        "[security]\ncap_keep = [\"chown\", \"CAP_NET_BIND_SERVICE\"]\nno_new_privs = true\n",
    );
    let status = w.execute("keep", &["/bin/cat", "/proc/self/status"]);
    let status = status.ok();
    assert_eq!(
        status_field(status, "CapBnd:"),
        format!("{:016x}", (1u64 << 0) | (1 << 10))
    );
    assert_eq!(
        status_field(status, "CapEff:"),
        format!("{:016x}", (1u64 << 0) | (1 << 10))
    );
    assert_eq!(status_field(status, "NoNewPrivs:"), "1");

    w.busybox(
        "user",
        "[init]\nuid = 1000\ngid = 1000\ngroups = [5]\n[security]\ncap_keep = [\"net_bind_service\"]\n",
    );
    let status = w.execute("user", &["/bin/cat", "/proc/self/status"]);
    let status = status.ok();
    assert_eq!(
        status_field(status, "Uid:").split_whitespace().next(),
        Some("1000")
    );
    assert_eq!(
        status_field(status, "Gid:").split_whitespace().next(),
        Some("1000")
    );
    assert_eq!(status_field(status, "Groups:"), "5");
    let nbs = format!("{:016x}", 1u64 << 10);
    assert_eq!(
        status_field(status, "CapAmb:"),
        nbs,
        "a non-root init keeps its list through ambient"
    );
    assert_eq!(status_field(status, "CapEff:"), nbs);
    for name in ["caps", "keep", "user"] {
        w.assert_clean(name);
    }
}

#[test]
fn exit_codes_and_signals_propagate() {
    let w = World::new();
    w.busybox("codes", "");
    assert_eq!(w.execute("codes", &["/bin/true"]).code, 0);
    assert_eq!(w.execute("codes", &["/bin/sh", "-c", "exit 7"]).code, 7);
    assert_eq!(
        w.execute("codes", &["/bin/sh", "-c", "kill -TERM $$"]).code,
        128 + 15
    );
    assert_eq!(
        w.execute("codes", &["/bin/sh", "-c", "kill -KILL $$"]).code,
        128 + 9
    );
    let missing = w.execute("codes", &["/no/such/program"]);
    assert_eq!(missing.code, 127, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("execute /no/such/program: No such file or directory"),
        "{}",
        missing.stderr
    );
    let not_exec = w.execute("codes", &["/etc/passwd"]);
    assert_eq!(not_exec.code, 126, "{not_exec:?}");
    // Found through the container's PATH.
    assert_eq!(
        w.execute("codes", &["echo", "via", "PATH"]).ok(),
        "via PATH\n"
    );

    // A signal sent to corral reaches the program, whose status comes back.
    let mut child = w
        .cmd()
        .args([
            "execute",
            "-n",
            "codes",
            "--",
            "/bin/sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    // Only the PID this test spawned is signalled.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(child.wait().unwrap().code(), Some(42));
    w.assert_clean("codes");
}

#[test]
fn stdin_and_stdout_pass_through() {
    let w = World::new();
    w.busybox("pipe", "");
    let mut child = w
        .cmd()
        .args(["execute", "-n", "pipe", "--", "tr", "a-z", "A-Z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hello corral\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO CORRAL\n");
}

#[test]
fn a_terminal_gets_a_pty() {
    let w = World::new();
    w.busybox("tty", "");
    // script(1) gives corral a terminal on stdin.
    let bin = corral_tests::corral_bin();
    let inner = format!(
        "{} execute -n tty -- /bin/sh -c '[ -t 0 ] && [ -t 1 ] && echo is-a-tty; stty size'",
        bin.display()
    );
    let out = w.cmd_shell(&format!(
        "stty cols 91 rows 33 2>/dev/null; script -qec \"{inner}\" /dev/null"
    ));
    assert!(out.stdout.contains("is-a-tty"), "{out:?}");
    w.assert_clean("tty");
}

#[test]
fn memory_limit_oom_kills_and_pids_limit_stops_a_fork_bomb() {
    let w = World::new();
    w.busybox("limits", "[cgroup]\nmemory = \"32M\"\npids = 20\n");
    // tail buffers a line that never ends: it grows until the limit kills it.
    let oom = w.execute("limits", &["/bin/sh", "-c", "tail /dev/zero"]);
    assert_eq!(oom.code, 128 + 9, "{oom:?}");
    // Forty background sleeps: busybox sh gives up at the first fork that fails.
    let bomb = [
        "/bin/sh",
        "-c",
        "i=0; while [ $i -lt 40 ]; do sleep 1 & i=$((i+1)); done; echo all-forked",
    ];
    let stopped = w.execute("limits", &bomb);
    assert_eq!(stopped.code, 2, "{stopped:?}");
    assert!(
        stopped
            .stderr
            .contains("can't fork: Resource temporarily unavailable"),
        "{stopped:?}"
    );
    w.busybox("nolimit", "");
    assert_eq!(w.execute("nolimit", &bomb).ok(), "all-forked\n");
    w.assert_clean("limits");
}

#[test]
fn limits_are_written_to_the_cgroup() {
    let w = World::new();
    w.busybox(
        "cg",
        "[cgroup]\nmemory = \"48M\"\npids = 33\ncpu_weight = 100\ncpu_quota_us = 50000\n",
    );
    let own = w.execute("cg", &["/bin/cat", "/proc/self/cgroup"]);
    assert!(
        own.ok().lines().all(|l| l.ends_with(":/")),
        "cgroup namespace rooted at the container: {own:?}"
    );
    let out = w.execute("cg", &["/bin/ls", "/sys/fs/cgroup"]);
    let out = out.ok();
    // v1 hierarchies each have a directory; on v2 the files are at the top.
    let (mem, pids) = if out.contains("memory\n") {
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
        )
    } else {
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max")
    };
    assert_eq!(
        w.execute("cg", &["/bin/cat", mem]).ok().trim(),
        (48u64 << 20).to_string()
    );
    assert_eq!(w.execute("cg", &["/bin/cat", pids]).ok().trim(), "33");
    w.assert_clean("cg");
}

#[test]
fn network_empty_is_a_fresh_namespace_with_loopback_up_and_none_is_the_hosts() {
    let w = World::new();
    w.busybox("netempty", "");
    w.busybox("netempty2", "");
    w.busybox("nethost", "[network]\ntype = \"none\"\n");
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let script = "readlink /proc/self/ns/net; ip -o link | cut -d' ' -f2,3";
    // Twice at once as well: each container gets a namespace of its own.
    let a = w.cmd_shell(&format!(
        "\"$CORRAL_BIN\" execute -n netempty -- /bin/sh -c \"{script}\" & \
         \"$CORRAL_BIN\" execute -n netempty2 -- /bin/sh -c \"{script}\"; wait"
    ));
    let lines: Vec<&str> = a.ok().lines().collect();
    let namespaces: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("net:"))
        .collect();
    assert_eq!(namespaces.len(), 2, "{lines:?}");
    assert_ne!(
        namespaces[0], namespaces[1],
        "two containers, one namespace: {lines:?}"
    );
    for ns in &namespaces {
        assert_ne!(*ns, host.to_str().unwrap(), "the host's network namespace");
    }
    let links: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("net:"))
        .collect();
    assert_eq!(links.len(), 2, "only loopback in each: {lines:?}");
    for link in links {
        assert!(link.starts_with("lo: <LOOPBACK,UP"), "{link}");
    }
    let shared = w.execute("nethost", &["/bin/readlink", "/proc/self/ns/net"]);
    assert_eq!(shared.ok().trim(), host.to_str().unwrap());
    for name in ["netempty", "netempty2", "nethost"] {
        w.assert_clean(name);
    }
}
