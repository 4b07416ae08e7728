//! The security stage, from inside real containers: the probe's escape battery, each seccomp
//! action, Landlock, a non-root init, planted symlinks, device rules, limits, and the errors
//! a bad policy gets.

#![allow(clippy::unwrap_used, reason = "test helpers panic to fail the test")]

use corral_tests::{Run, World};

/// The capabilities an attacker would want, dropped on top of LXC's defaults.
const HARDENED: &str = r#"
[security]
cap_drop = ["mac_admin", "mac_override", "sys_time", "sys_module", "sys_rawio",
            "sys_admin", "net_raw", "sys_ptrace", "sys_boot", "net_admin"]
no_new_privs = true
"#;

/// A denylist with one system call under each action.
const ACTIONS_POLICY: &str = "2
denylist
[all]
getpriority errno 42
sched_getscheduler kill
sched_getparam trap
sched_get_priority_max log
sched_rr_get_interval notify
getpgid errno 7 [0,12345,SCMP_CMP_EQ]
";

/// Asserts that the probe ran and every check held.
#[track_caller]
fn assert_held(run: &Run) {
    println!("{}{}", run.stdout, run.stderr);
    assert!(
        !run.stdout.is_empty(),
        "the probe printed nothing: {}",
        run.stderr
    );
    assert!(
        run.code == 0 && !run.stdout.contains("FAIL"),
        "some checks failed (exit {}):\n{}{}",
        run.code,
        run.stdout,
        run.stderr
    );
}

#[test]
fn every_escape_attempt_fails_and_what_is_allowed_works() {
    let w = World::new();
    w.probed("jail", HARDENED);
    assert_held(&w.execute("jail", &["/probe", "escape", "works"]));
    w.assert_clean("jail");
}

#[test]
fn corrals_binary_and_descriptors_stay_out_of_reach_with_cap_sys_ptrace() {
    let w = World::new();
    // LXC's defaults keep CAP_SYS_PTRACE: /proc/1 is readable, corral's binary is not
    // writable through it.
    w.probed("ptracer", "");
    assert_held(&w.execute(
        "ptracer",
        &["/probe", "init-exe", "init-fds", "fds", "proc-root"],
    ));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    w.execute("ptracer", &["/bin/hostname", "probe-pwned"]).ok();
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host,
        "the host's hostname changed"
    );
}

fn write_policy(w: &World, name: &str, text: &str) -> String {
    let path = w.root().join(name);
    std::fs::create_dir_all(w.root()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn each_seccomp_action_does_what_it_says() {
    let w = World::new();
    let policy = write_policy(&w, "actions.seccomp", ACTIONS_POLICY);
    w.probed(
        "actions",
        &format!("[security.seccomp]\nprofile = \"{policy}\"\n"),
    );
    let run: Run = w
        .cmd()
        .env("CORRAL_LOG", "info")
        .args([
            "execute", "-n", "actions", "--", "/probe", "seccomp", "works",
        ])
        .output()
        .unwrap()
        .into();
    assert_held(&run);
    assert!(
        run.stderr.contains("seccomp notification") && run.stderr.contains("sched_rr_get_interval"),
        "the monitor did not log the notification: {}",
        run.stderr
    );

    // The compiled filter is kept for later starts, in a directory only root may use.
    let cache = w.run_dir().join(".seccomp");
    let kept = std::fs::read_dir(&cache).unwrap().count();
    assert!(kept >= 1, "no compiled filter kept in {}", cache.display());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cache).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "{} is open to others", cache.display());

    let killed = w.execute("actions", &["/probe", "die-by-seccomp"]);
    assert_eq!(killed.code, 128 + 31, "{killed:?}");
    assert!(
        killed.stderr.contains("killed by seccomp (SIGSYS)"),
        "{}",
        killed.stderr
    );
    w.assert_clean("actions");
}

/// An LXC version 2 allowlist naming every x86_64 system call of the kernel headers (package
/// linux-libc-dev) but `mkdir` and `mkdirat`, with `default` as its default action (empty:
/// LXC's default, kill).
fn allowlist_but_mkdir(default: &str) -> String {
    let header = std::fs::read_to_string("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").unwrap();
    let mut policy = format!("2\nallowlist {default}\n[x86_64]\n");
    for name in header
        .lines()
        .filter_map(|l| l.strip_prefix("#define __NR_"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| !["mkdir", "mkdirat"].contains(name))
    {
        // Optional: a name this libseccomp does not know yet is dropped, not an error.
        policy.push_str(&format!("?{name}\n"));
    }
    policy
}

#[test]
fn an_allowlist_allows_what_it_names_and_nothing_else() {
    let w = World::new();
    for (name, default) in [("errno", "errno 1"), ("kill", "")] {
        let policy = write_policy(
            &w,
            &format!("{name}.seccomp"),
            &allowlist_but_mkdir(default),
        );
        w.busybox(
            name,
            &format!("[security.seccomp]\nprofile = \"{policy}\"\n"),
        );
    }
    // What the list names works; mkdir, not in it, gets the default action: EPERM...
    let script = "echo listed; mkdir /tmp/unlisted";
    let run = w.execute("errno", &["/bin/sh", "-c", script]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "listed\n", "{run:?}");
    assert!(run.stderr.contains("Operation not permitted"), "{run:?}");
    // ... or, by default, the kill.
    let run = w.execute("kill", &["/bin/sh", "-c", script]);
    assert_eq!(run.stdout, "listed\n", "{run:?}");
    assert!(run.stderr.contains("killed by seccomp (SIGSYS)"), "{run:?}");
    let plan: serde_json::Value =
        serde_json::from_str(w.corral(&["plan", "-n", "kill"]).ok()).unwrap();
    assert_eq!(
        plan["security"]["seccomp"]["default_action"],
        "kill_process"
    );
    for name in ["errno", "kill"] {
        w.assert_clean(name);
    }
}

#[test]
fn oci_and_docker_profiles_apply() {
    let w = World::new();
    let profile = write_policy(
        &w,
        "profile.json",
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "archMap": [{ "architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"] }],
  "syscalls": [
    { "names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42 },
    { "names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
      "args": [{ "index": 0, "value": 12345, "op": "SCMP_CMP_EQ" }] },
    { "names": ["?not_yet_a_syscall"], "action": "SCMP_ACT_ERRNO" }
  ]
}"#,
    );
    w.probed(
        "oci",
        &format!("[security.seccomp]\nprofile = \"{profile}\"\n"),
    );
    assert_held(&w.execute("oci", &["/probe", "seccomp-errno", "seccomp-args", "works"]));
    let plan = w.corral(&["plan", "-n", "oci"]);
    let plan: serde_json::Value = serde_json::from_str(plan.ok()).unwrap();
    assert_eq!(
        plan["security"]["seccomp"]["architectures"],
        serde_json::json!(["x86_64", "x86"])
    );
    assert_eq!(
        plan["security"]["seccomp"]["rules"][0]["action"],
        serde_json::json!({"errno": 42})
    );
}

#[test]
fn a_bad_policy_is_refused_with_its_file_line_and_reason() {
    let w = World::new();
    for (file, text, expected) in [
        (
            "typo.seccomp",
            "2\ndenylist\n\nmount errno 1\nkexec_lod errno 1\n",
            ":5: unknown system call `kexec_lod`",
        ),
        (
            "bad.seccomp",
            "2\ndenylist\nmount errno\n",
            ":3: `errno` is not an argument filter",
        ),
        (
            "bad.json",
            "{\n\"defaultAction\": \"SCMP_ACT_ALLOW\",\n\"syscalls\": [{\"names\": [\"mount\"], \"action\": \"ALLOW\"}]\n}",
            ":3: unknown variant `ALLOW`",
        ),
    ] {
        let policy = write_policy(&w, file, text);
        w.busybox(
            "bad",
            &format!("[security.seccomp]\nprofile = \"{policy}\"\n"),
        );
        for run in [
            w.execute("bad", &["/bin/true"]),
            w.corral(&["plan", "-n", "bad"]),
        ] {
            assert_ne!(run.code, 0);
            assert!(
                run.stderr.contains(&format!("{policy}{expected}")),
                "{file}: {}",
                run.stderr
            );
        }
        w.corral(&["destroy", "-n", "bad"]).ok();
    }
}

#[test]
fn landlock_confines_the_filesystem() {
    let w = World::new();
    w.probed(
        "landlocked",
        r#"
[security.landlock]
mode = "strict"
[[security.landlock.rule]]
path = "/"
access = "ro"
[[security.landlock.rule]]
path = "/tmp"
access = "rw"
[[security.landlock.rule]]
path = "/dev"
access = "rw"
[[security.landlock.rule]]
path = "/etc"
access = "none"
"#,
    );
    assert_held(&w.execute("landlocked", &["/probe", "landlock", "works"]));
    // The user's program was confined, and so is a shell's listing of what is hidden.
    let ls = w.execute("landlocked", &["/bin/cat", "/etc/hostname"]);
    assert_ne!(ls.code, 0, "{ls:?}");
}

#[test]
fn a_non_root_init_keeps_only_its_ambient_capabilities() {
    let w = World::new();
    w.probed(
        "user",
        "[init]\nuid = 1000\ngid = 1000\ngroups = [10, 20]\n[security]\ncap_keep = [\"net_bind_service\"]\n",
    );
    assert_held(&w.execute("user", &["/probe", "bind-80", "fds", "works"]));
    let status = w.execute("user", &["/bin/cat", "/proc/self/status"]);
    let status = status.ok();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    assert!(field("Uid:").starts_with("1000"), "{status}");
    assert_eq!(field("Groups:"), "10 20");
    for set in ["CapEff:", "CapPrm:", "CapAmb:", "CapBnd:"] {
        assert_eq!(field(set), "0000000000000400", "{set}");
    }
}

#[test]
fn symlinks_planted_at_mount_targets_stay_inside_the_rootfs() {
    let w = World::new();
    let outside = w.root().join("outside");
    std::fs::create_dir_all(outside.join("data")).unwrap();
    let source = w.root().join("bind-source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("marker"), "from the host").unwrap();
    w.busybox(
        "planted",
        &format!(
            "[[mounts.entry]]\nsource = \"{}\"\ntarget = \"/data\"\n",
            source.display()
        ),
    );
    let rootfs = w.root().join("planted/rootfs");
    let plant = |name: &str, target: &std::path::Path| {
        let link = rootfs.join(name);
        let _ = std::fs::remove_dir_all(&link);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link).unwrap();
    };
    // Absolute and ../-escaping links to a host directory.
    plant("proc", &outside.join("proc"));
    plant("dev", &outside.join("dev"));
    let up = "../".repeat(20);
    plant(
        "data",
        std::path::Path::new(&format!("{up}{}", outside.join("data").display())),
    );
    // The links lead nowhere inside the rootfs: the start is refused.
    let run = w.execute("planted", &["/bin/true"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("in the rootfs"), "{}", run.stderr);
    let host_side = || -> Vec<_> {
        std::fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect()
    };
    assert_eq!(host_side(), ["data"], "corral wrote outside the rootfs");
    // Where they lead somewhere inside, the mounts land there: contained.
    for name in ["proc", "dev"] {
        std::fs::remove_file(rootfs.join(name)).unwrap();
        std::fs::create_dir(rootfs.join(name)).unwrap();
    }
    let inside = rootfs.join(outside.strip_prefix("/").unwrap()).join("data");
    std::fs::create_dir_all(&inside).unwrap();
    let run = w.execute(
        "planted",
        &["/bin/cat", "/proc/self/mountinfo", "/data/marker"],
    );
    let out = run.ok();
    assert!(
        out.contains(&format!(" {} ", outside.join("data").display())),
        "{out}"
    );
    assert!(out.ends_with("from the host"), "{out}");
    assert_eq!(host_side(), ["data"], "corral wrote outside the rootfs");
    assert_eq!(std::fs::read_dir(outside.join("data")).unwrap().count(), 0);
    w.assert_clean("planted");
}

#[test]
fn device_rules_deny_disks_and_allow_the_usual_devices() {
    let w = World::new();
    w.busybox("devices", "");
    let run = w.execute(
        "devices",
        &["/bin/sh", "-c", "mknod /tmp/sda b 8 0 && head -c1 /tmp/sda"],
    );
    assert_ne!(run.code, 0, "read a disk: {run:?}");
    assert!(run.stderr.contains("Operation not permitted"), "{run:?}");
    let run = w.execute(
        "devices",
        &[
            "/bin/sh",
            "-c",
            "echo x > /dev/null && head -c1 /dev/zero | wc -c",
        ],
    );
    assert_eq!(run.ok().trim(), "1");
    // With no rules, the container may open what its capabilities allow.
    w.busybox("open", "[security]\ndevices = []\n");
    let run = w.execute(
        "open",
        &[
            "/bin/sh",
            "-c",
            "mknod /tmp/null c 1 3 && head -c1 /tmp/null",
        ],
    );
    run.ok();
    w.assert_clean("devices");
}

#[test]
fn limits_and_namespaced_sysctls_apply() {
    let w = World::new();
    w.busybox(
        "tuned",
        "[security.rlimits]\nnofile = \"100:200\"\n[security.sysctls]\n\"net.ipv4.ip_forward\" = \"1\"\n",
    );
    let run = w.execute(
        "tuned",
        &[
            "/bin/sh",
            "-c",
            "ulimit -n; ulimit -Hn; cat /proc/sys/net/ipv4/ip_forward",
        ],
    );
    assert_eq!(run.ok(), "100\n200\n1\n");
    w.busybox(
        "host-sysctl",
        "[security.sysctls]\n\"vm.swappiness\" = \"1\"\n",
    );
    let run = w.execute("host-sysctl", &["/bin/true"]);
    assert!(run.stderr.contains("not a namespaced sysctl"), "{run:?}");
}

#[test]
fn an_lsm_the_kernel_lacks_is_an_error_or_a_recorded_skip() {
    let w = World::new();
    let config = w.busybox("lsm", "[security.lsm]\napparmor = \"corral-default\"\n");
    let run = w.execute("lsm", &["/bin/true"]);
    assert!(
        run.stderr.contains("apparmor is not active in this kernel"),
        "{run:?}"
    );
    std::fs::write(
        config,
        "[security.lsm]\napparmor = \"corral-default\"\nmissing = \"skip\"\n",
    )
    .unwrap();
    w.execute("lsm", &["/bin/true"]).ok();
    let plan = w.corral(&["plan", "-n", "lsm", "--format", "toml"]);
    assert!(
        plan.ok()
            .contains("apparmor: corral-default (not active in this kernel)")
    );
}
