//! Hooks: every point fires once, in order, with its context, for plugins and programs
//! alike; before-hooks' changes are applied; a failing, panicking, refusing or hanging hook
//! at any point aborts the start and leaves nothing behind.

#![allow(clippy::expect_used, reason = "tests fail by panicking")]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use corral_hooks::HookPoint;
use corral_tests::World;

/// A program hook that appends `prog POINT` and LXC's variables to `log`.
fn program(world: &World, log: &Path) -> PathBuf {
    let path = world.dir().join("hook.sh");
    let script = format!(
        "#!/bin/sh\necho \"prog $LXC_HOOK_TYPE name=$LXC_NAME section=$LXC_HOOK_SECTION pid=${{LXC_PID:+yes}} target=$LXC_TARGET args=$*\" >> {}\n",
        log.display()
    );
    fs::write(&path, script).expect("write hook");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn points_of_a_run() -> Vec<HookPoint> {
    let mut points = HookPoint::START.to_vec();
    points.extend([HookPoint::Stop, HookPoint::PostStop]);
    points
}

/// `[[hooks]]` entries: at every point of a run, the test plugin with `args`.
fn plugin_hooks(args: &str, timeout: &str) -> String {
    let mut config = String::from("plugins = [\"testhooks\"]\n");
    for point in points_of_a_run() {
        config.push_str(&format!(
            "[[hooks]]\npoint = \"{point}\"\nplugin = \"testhooks\"\nargs = [{args}]\ntimeout = \"{timeout}\"\n"
        ));
    }
    config
}

#[test]
fn every_point_fires_once_in_order_for_plugins_and_programs() {
    let world = World::new();
    let log = world.dir().join("hooks.log");
    let prog = program(&world, &log);
    // Programs at `start` run inside the container: the world's directory is bound there.
    let dir = world.dir().display();
    let mut config = format!(
        "plugins = [\"testhooks\"]\n[[mounts.entry]]\nsource = \"{dir}\"\ntarget = \"{dir}\"\ncreate = \"dir\"\n"
    );
    for point in points_of_a_run() {
        config.push_str(&format!(
            "[[hooks]]\npoint = \"{point}\"\nplugin = \"testhooks\"\nargs = [\"log={}\"]\n\
             [[hooks]]\npoint = \"{point}\"\nprogram = \"{}\"\n",
            log.display(),
            prog.display()
        ));
    }
    world.busybox("h", &config);
    world.execute("h", &["/bin/true"]).ok();
    let text = fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    let points = points_of_a_run();
    assert_eq!(lines.len(), points.len() * 2, "{text}");
    for (i, point) in points.iter().enumerate() {
        let (plugin, prog) = (lines[2 * i], lines[2 * i + 1]);
        assert!(plugin.starts_with(&format!("{point} ")), "{plugin}");
        assert!(plugin.contains(" plan=yes "), "{plugin}");
        assert!(prog.starts_with(&format!("prog {point} name=h")), "{prog}");
        let cloned = !matches!(
            point,
            HookPoint::PreStart | HookPoint::Before(corral_hooks::Stage::Namespaces)
        );
        assert_eq!(plugin.contains("pid=true"), cloned, "{plugin}");
        assert_eq!(prog.contains("pid=yes"), cloned, "{prog}");
        let stopping = matches!(point, HookPoint::Stop | HookPoint::PostStop);
        assert_eq!(prog.contains("target=stop"), stopping, "{prog}");
    }
    world.assert_clean("h");
}

#[test]
fn lxc_style_hooks_get_lxc_arguments_and_a_failing_pre_start_aborts() {
    let world = World::new();
    let log = world.dir().join("lxc.log");
    let prog = program(&world, &log);
    let p = prog.display();
    world.busybox(
        "l",
        &format!("[hook]\npre-start = [\"{p}\"]\nstart-host = [\"{p}\"]\nstop = [\"{p}\"]\npost-stop = [\"{p}\"]\n"),
    );
    world.execute("l", &["/bin/true"]).ok();
    let text = fs::read_to_string(&log).expect("log");
    let types: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        ["pre-start", "start-host", "stop", "post-stop"],
        "{text}"
    );
    assert!(text.contains("section=lxc"), "{text}");
    assert!(text.contains("args=l lxc pre-start"), "{text}");
    world.busybox("f", "[hook]\npre-start = [\"/bin/false\"]\n");
    let run = world.execute("f", &["/bin/true"]);
    assert_eq!(run.code, 125, "{run:?}");
    assert!(run.stderr.contains("hook pre-start"), "{}", run.stderr);
    world.assert_clean("f");
}

#[test]
fn a_before_hook_changes_the_plan_that_is_applied_and_planned() {
    let world = World::new();
    let config = "plugins = [\"testhooks\"]\n[[hooks]]\npoint = \"before-cgroups\"\nplugin = \"testhooks\"\nargs = [\"memory=67108864\"]\n";
    world.busybox("m", config);
    let plan: serde_json::Value =
        serde_json::from_str(world.corral(&["plan", "-n", "m"]).ok()).expect("plan json");
    assert_eq!(plan["cgroups"]["limits"]["memory"], 67_108_864);
    let out = world.execute(
        "m",
        &["/bin/sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"],
    );
    assert_eq!(out.ok().trim(), "67108864");
}

#[test]
fn every_hook_sees_the_plan_as_changed_so_far() {
    let world = World::new();
    let log = world.dir().join("plans.log");
    // One entry at every point, changing the memory limit before the cgroups stage.
    let config = format!(
        "plugins = [\"testhooks\"]\n[[hooks]]\nplugin = \"testhooks\"\nargs = [\"log={}\", \"memory=67108864\"]\n",
        log.display()
    );
    world.busybox("s", &config);
    world.execute("s", &["/bin/true"]).ok();
    let text = fs::read_to_string(&log).expect("log");
    let seen: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| Some((l.split(' ').next()?, l.rsplit("memory=").next()?)))
        .collect();
    let changed_from = seen
        .iter()
        .position(|(point, _)| *point == "after-cgroups")
        .expect("after-cgroups fired");
    for (i, (point, memory)) in seen.iter().enumerate() {
        let expected = if i < changed_from { "none" } else { "67108864" };
        assert_eq!(*memory, expected, "{point}: {text}");
    }
    world.assert_clean("s");
}

#[test]
fn a_before_cgroups_hook_may_move_the_cgroup_and_change_its_limits() {
    // The cgroup is made while init mounts, before this hook runs: it follows the hook.
    let world = World::new();
    world.busybox(
        "m",
        "plugins = [\"testhooks\"]\n[[hooks]]\npoint = \"before-cgroups\"\nplugin = \"testhooks\"\n\
         args = [\"memory=67108864\", \"cgroup=-moved\"]\n",
    );
    world.corral(&["start", "-n", "m"]).ok();
    assert_eq!(world.cgroup_dirs("m"), Vec::<PathBuf>::new());
    let moved = world.cgroup_dirs("m-moved");
    let limit = moved
        .iter()
        .flat_map(|d| [d.join("memory.limit_in_bytes"), d.join("memory.max")])
        .find_map(|f| fs::read_to_string(f).ok());
    assert_eq!(
        limit.as_deref().map(str::trim),
        Some("67108864"),
        "{moved:?}"
    );
    // Later commands find the cgroup where it went.
    let key = if moved.iter().any(|d| d.join("memory.max").exists()) {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let read = world.corral(&["cgroup", "-n", "m", key]);
    assert_eq!(read.ok().trim(), "67108864");
    // The monitor works on the moved cgroup too.
    world.corral(&["freeze", "-n", "m"]).ok();
    world.corral(&["unfreeze", "-n", "m"]).ok();
    world.corral(&["stop", "-k", "-n", "m"]).ok();
    world.assert_clean("m");
    assert_eq!(world.cgroup_dirs("m-moved"), Vec::<PathBuf>::new());
}

#[test]
fn a_failing_panicking_or_refusing_hook_at_any_point_aborts_cleanly() {
    let world = World::new();
    for point in HookPoint::START {
        for (how, says) in [
            ("fail", "asked to fail"),
            ("panic", "panicked: asked to panic"),
            ("refuse", "refused: refused at"),
        ] {
            let name = format!("x{}", point.index());
            world.busybox(&name, &plugin_hooks(&format!("\"{how}={point}\""), "10s"));
            let run = world.execute(&name, &["/bin/true"]);
            assert_eq!(run.code, 125, "{how} at {point}: {run:?}");
            assert!(
                run.stderr.contains(&format!("hook {point}")) && run.stderr.contains(says),
                "{how} at {point}: {}",
                run.stderr
            );
            world.assert_clean(&name);
            world.corral(&["destroy", "-n", &name]).ok();
        }
    }
}

#[test]
fn a_program_failing_at_any_point_aborts_cleanly() {
    let world = World::new();
    for point in HookPoint::START {
        let name = format!("p{}", point.index());
        world.busybox(
            &name,
            &format!("[[hooks]]\npoint = \"{point}\"\nprogram = \"/bin/false\"\n"),
        );
        let run = world.execute(&name, &["/bin/true"]);
        assert_eq!(run.code, 125, "{point}: {run:?}");
        assert!(
            run.stderr.contains(&format!("hook {point}")),
            "{}",
            run.stderr
        );
        world.assert_clean(&name);
    }
}

#[test]
fn hooks_past_their_timeout_are_stopped() {
    let world = World::new();
    // A plugin cannot be stopped: the watchdog undoes what the start did and ends the
    // monitor, before init is cloned, once the cgroup exists, and once the program ran.
    for point in ["before-mounts", "after-cgroups", "stop"] {
        let name = format!("t-{point}");
        world.busybox(&name, &plugin_hooks(&format!("\"hang={point}\""), "300ms"));
        let run = world.execute(&name, &["/bin/true"]);
        assert_eq!(run.code, 125, "{point}: {run:?}");
        assert!(
            run.stderr
                .contains(&format!("hook {point} (plugin testhooks)"))
                && run.stderr.contains("did not answer within 300ms"),
            "{point}: {}",
            run.stderr
        );
        world.assert_clean(&name);
    }
    let run = world.corral(&["start", "-n", "t-after-cgroups"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("did not answer within"),
        "{}",
        run.stderr
    );
    world.assert_clean("t-after-cgroups");
    world.busybox(
        "s",
        "[[hooks]]\npoint = \"after-network\"\nprogram = \"/bin/sleep\"\nargs = [\"30\"]\ntimeout = \"300ms\"\n",
    );
    let run = world.execute("s", &["/bin/true"]);
    assert!(
        run.stderr.contains("killed after its timeout"),
        "{}",
        run.stderr
    );
    world.assert_clean("s");
}

#[test]
fn destroy_hooks_run_and_a_failing_one_keeps_the_container() {
    let world = World::new();
    world.busybox("d", "[hook]\ndestroy = [\"/bin/false\"]\n");
    let run = world.corral(&["destroy", "-n", "d"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("hook destroy"), "{}", run.stderr);
    assert!(world.root().join("d").exists());
    let log = world.dir().join("destroy.log");
    let prog = program(&world, &log);
    let config = format!("[hook]\ndestroy = [\"{}\"]\n", prog.display());
    fs::write(world.root().join("d/config.toml"), config).expect("config");
    world.corral(&["destroy", "-n", "d"]).ok();
    assert!(
        fs::read_to_string(&log)
            .expect("log")
            .starts_with("prog destroy name=d")
    );
}

#[test]
fn plugins_are_listed_and_broken_ones_refused_with_a_reason() {
    let world = World::new();
    let out = world.corral(&["plugins"]);
    assert!(out.ok().contains("testhooks"), "{}", out.stdout);
    let dir = world.dir().join("plugins");
    fs::create_dir(&dir).expect("mkdir");
    fs::write(dir.join("garbage.so"), b"not a library").expect("write");
    let libz = [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    if let Some(libz) = libz {
        fs::copy(libz, dir.join("libz.so")).expect("copy");
    }
    let out = world
        .cmd()
        .env("CORRAL_PLUGIN_PATH", &dir)
        .arg("plugins")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("garbage.so") && text.contains("cannot load plugin"),
        "{text}"
    );
    if libz.is_some() {
        assert!(text.contains("no `corral_plugin_entry` symbol"), "{text}");
    }
    world.busybox("n", "plugins = [\"nosuch\"]\n");
    let run = world.execute("n", &["/bin/true"]);
    assert!(
        run.stderr.contains("plugin `nosuch` not found"),
        "{}",
        run.stderr
    );
}

#[test]
fn create_hooks_run_in_the_cli_and_a_failing_one_removes_the_container() {
    let world = World::new();
    let log = world.dir().join("create.log");
    let prog = program(&world, &log);
    let global = world.dir().join("global.toml");
    let base = fs::read_to_string(&global).expect("global config");
    let with_hook = |program: &Path| {
        let hook = format!(
            "[[defaults.hooks]]\npoint = \"create\"\nprogram = \"{}\"\n",
            program.display()
        );
        fs::write(&global, format!("{base}{hook}")).expect("write global config");
    };
    with_hook(&prog);
    world.corral(&["create", "-t", "busybox", "-n", "c"]).ok();
    let text = fs::read_to_string(&log).expect("log");
    assert!(
        text.starts_with("prog create name=c section=lxc pid= "),
        "{text}"
    );
    with_hook(Path::new("/bin/false"));
    let run = world.corral(&["create", "-t", "busybox", "-n", "d"]);
    assert!(run.stderr.contains("hook create"), "{}", run.stderr);
    assert!(!world.root().join("d").exists());
    // A plugin's create hook past its timeout: the process ends, and the container with it.
    let hang = "[defaults]\nplugins = [\"testhooks\"]\n[[defaults.hooks]]\npoint = \"create\"\n\
                plugin = \"testhooks\"\nargs = [\"hang=create\"]\ntimeout = \"200ms\"\n";
    fs::write(&global, format!("{base}{hang}")).expect("write global config");
    let run = world.corral(&["create", "-t", "busybox", "-n", "e"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("hook create (plugin testhooks)")
            && run.stderr.contains("did not answer within 200ms"),
        "{}",
        run.stderr
    );
    assert!(!world.root().join("e").exists());
}
