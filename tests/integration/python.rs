//! Python hooks: functions named after hook points fire once each, in order, with their
//! context; a ten-line policy is enforced and shows in `corral plan`; an exception at any
//! point aborts with the traceback and leaves nothing behind; a hook past its timeout is
//! stopped.

#![allow(clippy::expect_used, reason = "tests fail by panicking")]

use std::fs;
use std::path::PathBuf;

use corral_hooks::HookPoint;
use corral_tests::World;

fn script(world: &World, name: &str, body: &str) -> PathBuf {
    let path = world.dir().join(name);
    fs::write(&path, body).expect("write script");
    path
}

fn python_hook(path: &std::path::Path, extra: &str) -> String {
    format!("[[hooks]]\npython = \"{}\"\n{extra}", path.display())
}

#[test]
fn every_point_fires_once_in_order_with_its_context() {
    let world = World::new();
    let log = world.dir().join("py.log");
    let mut body = format!("LOG = {:?}\n", log.display().to_string());
    body.push_str(
        "def _log(ctx):\n    with open(LOG, 'a') as f:\n        \
         f.write(f\"{ctx.point} {ctx.container} pid={ctx.pid is not None} \
         applied={len(ctx.applied)} plan={ctx.plan is not None} target={ctx.target}\\n\")\n",
    );
    let mut points = HookPoint::START.to_vec();
    points.extend([HookPoint::Stop, HookPoint::PostStop]);
    for point in &points {
        body.push_str(&format!("{} = _log\n", point.name().replace('-', "_")));
    }
    let path = script(&world, "all.py", &body);
    world.busybox("py", &python_hook(&path, ""));
    world.execute("py", &["/bin/true"]).ok();
    let text = fs::read_to_string(&log).expect("log");
    let fired: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    let expected: Vec<&str> = points.iter().map(|p| p.name()).collect();
    assert_eq!(fired, expected, "{text}");
    assert!(
        text.lines()
            .all(|l| l.contains(" py ") && l.contains("plan=True")),
        "{text}"
    );
    assert!(
        text.contains("after-cgroups py pid=True applied=5"),
        "{text}"
    );
    assert!(
        text.contains("post-stop py pid=True applied=5 plan=True target=stop"),
        "{text}"
    );
    world.assert_clean("py");
}

#[test]
fn a_before_security_hook_changes_the_device_rules_enforced() {
    // The cgroup is made while init mounts; its device rules wait for this hook.
    let world = World::new();
    let path = script(
        &world,
        "devices.py",
        "def before_security(ctx):\n    ctx.plan['security']['devices'] = []\n",
    );
    world.busybox("dev", &python_hook(&path, ""));
    let disk = ["/bin/sh", "-c", "mknod /tmp/sda b 8 0 && head -c1 /tmp/sda"];
    let run = world.execute("dev", &disk);
    assert!(!run.stderr.contains("Operation not permitted"), "{run:?}");
    world.busybox("kept", "");
    let run = world.execute("kept", &disk);
    assert!(run.stderr.contains("Operation not permitted"), "{run:?}");
    world.assert_clean("dev");
}

#[test]
fn a_before_network_hook_may_keep_the_loopback_down() {
    // The namespace is made ahead with its loopback up; the plan as the hook leaves it wins.
    let world = World::new();
    let path = script(
        &world,
        "lo.py",
        "def before_network(ctx):\n    ctx.plan['network']['loopback_up'] = False\n",
    );
    world.busybox("down", &python_hook(&path, ""));
    let flags = ["/bin/cat", "/sys/class/net/lo/flags"];
    // IFF_LOOPBACK is 0x8, IFF_UP 0x1.
    assert_eq!(world.execute("down", &flags).ok().trim(), "0x8");
    world.busybox("up", "");
    assert_eq!(world.execute("up", &flags).ok().trim(), "0x9");
    world.assert_clean("down");
}

#[test]
fn a_ten_line_policy_is_enforced_and_planned() {
    let world = World::new();
    let path = script(
        &world,
        "policy.py",
        "# 64 MiB of memory and no CAP_NET_RAW.\n\
         def before_security(ctx):\n\
         \x20   caps = ctx.plan['security']['capabilities']\n\
         \x20   for name in ('bounding', 'effective', 'permitted', 'inheritable', 'ambient'):\n\
         \x20       caps[name] = [c for c in caps[name] if c != 'CAP_NET_RAW']\n\
         \n\
         def before_cgroups(ctx):\n\
         \x20   ctx.plan['cgroups']['limits']['memory'] = 64 * 1024 * 1024\n",
    );
    world.busybox("pol", &python_hook(&path, ""));
    let plan: serde_json::Value =
        serde_json::from_str(world.corral(&["plan", "-n", "pol"]).ok()).expect("plan");
    assert_eq!(plan["cgroups"]["limits"]["memory"], 64 * 1024 * 1024);
    let bounding = plan["security"]["capabilities"]["bounding"].to_string();
    assert!(!bounding.contains("CAP_NET_RAW"), "{bounding}");
    let run = world.execute(
        "pol",
        &[
            "/bin/sh",
            "-c",
            "grep CapBnd /proc/self/status; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        ],
    );
    let out = run.ok();
    assert_eq!(
        cap_bounding(out) & NET_RAW,
        0,
        "CAP_NET_RAW is still in the bounding set"
    );
    assert!(out.contains("67108864"), "{out}");
}

#[test]
fn a_change_made_after_init_is_cloned_reaches_it() {
    // Init is cloned at the namespaces stage with the plan as it then is; a later before-hook's
    // change must be sent to it.
    let world = World::new();
    let path = script(
        &world,
        "mount.py",
        "def before_mounts(ctx):\n\
         \x20   ctx.plan['mounts']['mounts'].append({'source': 'hooked', 'target': '/hooked',\n\
         \x20       'fstype': 'tmpfs', 'options': ['size=1m'], 'create': 'dir', 'optional': False})\n",
    );
    world.busybox("mnt", &python_hook(&path, ""));
    let run = world.execute("mnt", &["/bin/grep", " /hooked ", "/proc/mounts"]);
    assert!(run.ok().starts_with("hooked /hooked tmpfs"), "{}", run.ok());
}

/// CAP_NET_RAW's bit in a capability set.
const NET_RAW: u64 = 1 << 13;

/// The bounding set in `grep CapBnd /proc/self/status` output.
fn cap_bounding(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .expect("CapBnd")
}

#[test]
fn attach_enters_with_the_security_the_hooks_left() {
    // The runtime state is first saved while init mounts; a later change that leaves the
    // cgroup as it was made (here, no device rule changes) must be saved too, since attach
    // takes the container's security from it.
    let world = World::new();
    let path = script(
        &world,
        "noraw.py",
        "def before_security(ctx):\n\
         \x20   caps = ctx.plan['security']['capabilities']\n\
         \x20   caps['bounding'] = [c for c in caps['bounding'] if c != 'CAP_NET_RAW']\n",
    );
    world.busybox("noraw", &python_hook(&path, ""));
    world.corral(&["start", "-n", "noraw"]).ok();
    let attached = world.corral(&[
        "attach",
        "-n",
        "noraw",
        "--",
        "grep",
        "CapBnd",
        "/proc/self/status",
    ]);
    world.corral(&["stop", "-k", "-n", "noraw"]).ok();
    assert_eq!(
        cap_bounding(attached.ok()) & NET_RAW,
        0,
        "attach kept CAP_NET_RAW"
    );
    world.assert_clean("noraw");
}

#[test]
fn an_exception_at_any_point_aborts_with_the_traceback() {
    let world = World::new();
    for point in HookPoint::START {
        let function = point.name().replace('-', "_");
        let path = script(
            &world,
            "bad.py",
            &format!("def {function}(ctx):\n    raise ValueError('no {function} today')\n"),
        );
        let name = format!("e{}", point.index());
        world.busybox(&name, &python_hook(&path, ""));
        let run = world.execute(&name, &["/bin/true"]);
        assert_eq!(run.code, 125, "{point}: {run:?}");
        for needle in [
            format!("hook {point}"),
            "Traceback (most recent call last)".to_owned(),
            format!("ValueError: no {function} today"),
        ] {
            assert!(run.stderr.contains(&needle), "{point}: {}", run.stderr);
        }
        world.assert_clean(&name);
    }
}

#[test]
fn a_refusal_and_a_hook_past_its_timeout_abort_the_start() {
    let world = World::new();
    let path = script(
        &world,
        "no.py",
        "def pre_start(ctx):\n    return 'not today'\n",
    );
    world.busybox("r", &python_hook(&path, ""));
    let run = world.execute("r", &["/bin/true"]);
    assert!(run.stderr.contains("refused: not today"), "{}", run.stderr);
    let path = script(
        &world,
        "hang.py",
        "def before_network(ctx):\n    while True:\n        pass\n",
    );
    world.busybox("h", &python_hook(&path, "timeout = \"300ms\"\n"));
    let run = world.execute("h", &["/bin/true"]);
    assert_eq!(run.code, 125, "{run:?}");
    assert!(run.stderr.contains("TimeoutError"), "{}", run.stderr);
    world.assert_clean("h");
}

#[test]
fn hooks_import_extension_modules_and_installed_packages() {
    let world = World::new();
    let out = world.dir().join("imports.out");
    let path = script(
        &world,
        "imports.py",
        &format!(
            "import sys\n\
             def pre_start(ctx):\n\
             \x20   import json, math\n\
             \x20   from json import decoder\n\
             \x20   accelerated = decoder.c_scanstring is not None\n\
             \x20   try:\n\
             \x20       import corral_test_no_such_module\n\
             \x20   except ImportError:\n\
             \x20       pass\n\
             \x20   installed = [p for p in sys.path if p.endswith(('dist-packages', 'site-packages'))]\n\
             \x20   with open({:?}, 'w') as f:\n\
             \x20       f.write(f'{{math.sqrt(16)}} {{accelerated}} {{bool(installed)}}')\n",
            out.display().to_string()
        ),
    );
    world.busybox("imp", &python_hook(&path, ""));
    world.execute("imp", &["/bin/true"]).ok();
    // C extension modules (math, json's accelerator) load from the embedded interpreter, and
    // the installed packages' directories are searched once the standard library has no
    // module of the name.
    assert_eq!(
        fs::read_to_string(&out).expect("hook output"),
        "4.0 True True"
    );
    world.assert_clean("imp");
}
