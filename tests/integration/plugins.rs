//! The first-party plugins end to end: the hostbin template, the p2p network driver and the
//! lockdown policy.

#![allow(clippy::expect_used, reason = "tests fail by panicking")]

use std::process::Command;

use corral_tests::World;

/// Puts `top` (top-level keys) before the config `busybox` wrote.
fn with_top(world: &World, name: &str, top: &str, rest: &str) {
    world.busybox(name, &format!("{top}{rest}"));
}

#[test]
fn plugins_lists_the_first_party_plugins() {
    let world = World::new();
    let out = world.corral(&["plugins"]);
    let text = out.ok();
    for line in [
        "template:hostbin",
        "driver:p2p",
        "policy:lockdown",
        "python-hooks",
    ] {
        assert!(text.contains(line), "{text}");
    }
}

#[test]
fn hostbin_runs_python_from_the_host() {
    let world = World::new();
    world
        .corral(&[
            "create",
            "-t",
            "hostbin",
            "-n",
            "t",
            "--",
            "/usr/bin/python3",
        ])
        .ok();
    let out = world.execute("t", &["-c", "print(1)"]);
    assert_eq!(out.ok(), "1\n");
    let out = world.execute("t", &["-c", "import os; print(sorted(os.listdir('/')))"]);
    assert!(out.ok().contains("'usr'"), "{}", out.stdout);
    world.assert_clean("t");
    world.corral(&["destroy", "-n", "t"]).ok();
    let run = world.corral(&["create", "-t", "hostbin", "-n", "u"]);
    assert!(
        run.stderr.contains("usage: create -t hostbin"),
        "{}",
        run.stderr
    );
    assert!(!world.root().join("u").exists());
}

#[test]
fn p2p_links_the_container_to_the_host_without_a_bridge() {
    let world = World::new();
    let host = format!("p2p-{}", std::process::id() % 100_000);
    with_top(
        &world,
        "n",
        "plugins = [\"p2p\"]\n",
        &format!(
            "[[network.interface]]\ntype = \"p2p\"\nhost_name = \"{host}\"\nipv4 = [\"10.99.7.2/30\"]\noptions = {{ host_address = \"10.99.7.1/30\" }}\n"
        ),
    );
    let out = world.execute(
        "n",
        &[
            "/bin/sh",
            "-c",
            "ip -4 addr show eth0; ping -c1 -W2 10.99.7.1",
        ],
    );
    let text = out.ok();
    assert!(text.contains("10.99.7.2/30"), "{text}");
    assert!(text.contains("1 packets received"), "{text}");
    let gone = Command::new("ip")
        .args(["link", "show", &host])
        .output()
        .expect("ip");
    assert!(
        !gone.status.success(),
        "the host end {host} was left behind"
    );
    world.assert_clean("n");
    with_top(
        &world,
        "bad",
        "plugins = [\"p2p\"]\n",
        "[[network.interface]]\ntype = \"p2p\"\nipv4 = [\"10.99.8.2/30\"]\n",
    );
    let run = world.execute("bad", &["/bin/true"]);
    assert!(
        run.stderr.contains("options.host_address"),
        "{}",
        run.stderr
    );
}

#[test]
fn lockdown_is_planned_and_enforced() {
    let world = World::new();
    with_top(
        &world,
        "l",
        "plugins = [\"lockdown\"]\npolicies = [\"lockdown\"]\n",
        "[[network.interface]]\ntype = \"veth\"\n",
    );
    let plan: serde_json::Value =
        serde_json::from_str(world.corral(&["plan", "-n", "l"]).ok()).expect("plan");
    assert_eq!(plan["mounts"]["rootfs"]["readonly"], true);
    assert_eq!(plan["network"]["interfaces"], serde_json::json!([]));
    assert_eq!(plan["cgroups"]["limits"]["pids"], 128);
    let out = world.execute(
        "l",
        &[
            "/bin/sh",
            "-c",
            "touch /x 2>/dev/null && echo writable; ip -o link | wc -l; \
             unshare -n true 2>/dev/null || echo refused; grep CapBnd /proc/self/status",
        ],
    );
    let text = out.ok();
    assert!(!text.contains("writable"), "{text}");
    assert!(text.contains("refused"), "{text}");
    assert_eq!(text.lines().next().map(str::trim), Some("1"), "{text}");
    world.assert_clean("l");
    with_top(
        &world,
        "m",
        "plugins = [\"lockdown\"]\npolicies = [\"nosuch\"]\n",
        "",
    );
    let run = world.corral(&["plan", "-n", "m"]);
    assert!(
        run.stderr
            .contains("no plugin in `plugins` provides `nosuch`"),
        "{}",
        run.stderr
    );
}
