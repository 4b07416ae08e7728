//! Creating, listing, planning and destroying containers, and what config errors say.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use std::fs;

use corral_tests::World;

#[test]
fn create_list_plan_destroy() {
    let w = World::new();
    w.corral(&["create", "-t", "busybox", "-n", "alpha"]).ok();
    w.corral(&["create", "-t", "busybox", "beta"]).ok();
    assert_eq!(w.corral(&["ls"]).ok(), "alpha\nbeta\n");
    let list: serde_json::Value = serde_json::from_str(w.corral(&["ls", "--json"]).ok()).unwrap();
    assert_eq!(list[0]["name"], "alpha");
    assert_eq!(list[0]["state"], "STOPPED");

    let again = w.corral(&["create", "-t", "busybox", "-n", "alpha"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("container alpha already exists"),
        "{}",
        again.stderr
    );

    let plan: serde_json::Value =
        serde_json::from_str(w.corral(&["plan", "-n", "alpha"]).ok()).unwrap();
    assert_eq!(plan["namespaces"]["hostname"], "alpha");
    assert_eq!(plan["namespaces"]["namespaces"]["pid"], "new");
    assert_eq!(plan["network"]["mode"], "empty");
    assert_eq!(plan["process"]["args"][0], "/sbin/init");
    assert_eq!(
        plan["cgroups"]["path"],
        format!("{}/alpha", w.cgroup_parent)
    );
    let targets: Vec<&str> = plan["mounts"]["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [
            "/proc",
            "/sys",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue"
        ]
    );
    let toml = w.corral(&["plan", "--format", "toml", "-n", "alpha", "--", "/bin/sh"]);
    assert!(
        toml.ok().contains("args = [\"/bin/sh\"]"),
        "{}",
        toml.stdout
    );

    assert_eq!(
        w.corral(&["destroy", "-n", "alpha"]).ok(),
        "Destroyed container alpha\n"
    );
    assert!(!w.root().join("alpha").exists());
    assert!(!w.run_dir().join("alpha.lock").exists());
    assert_eq!(w.corral(&["ls"]).ok(), "beta\n");
    let missing = w.corral(&["destroy", "-n", "alpha"]);
    assert_eq!(
        (missing.code, missing.stderr.trim()),
        (1, "corral: error: container alpha does not exist")
    );
}

#[test]
fn template_none_uses_an_existing_rootfs_and_keeps_it() {
    let w = World::new();
    w.corral(&["create", "-t", "busybox", "-n", "src"]).ok();
    let rootfs = w.root().join("src/rootfs");
    w.corral(&[
        "create",
        "-t",
        "none",
        "-n",
        "other",
        "--rootfs",
        rootfs.to_str().unwrap(),
    ])
    .ok();
    let config = fs::read_to_string(w.root().join("other/config.toml")).unwrap();
    assert!(
        config.contains(&format!("path = \"{}\"", rootfs.display())),
        "{config}"
    );
    assert_eq!(w.execute("other", &["/bin/hostname"]).ok(), "other\n");
    w.corral(&["destroy", "-n", "other"]).ok();
    assert!(
        rootfs.join("bin/busybox").exists(),
        "destroy must not remove a rootfs it does not own"
    );

    let bad = w.corral(&[
        "create",
        "-t",
        "none",
        "-n",
        "x",
        "--rootfs",
        "/nonexistent/dir",
    ]);
    assert!(
        bad.code != 0 && bad.stderr.contains("is not a directory"),
        "{bad:?}"
    );
    assert!(
        !w.root().join("x").exists(),
        "a failed create leaves nothing"
    );
    let unknown = w.corral(&["create", "-t", "nosuch", "-n", "y"]);
    assert!(
        unknown.stderr.contains("unknown template `nosuch`"),
        "{unknown:?}"
    );
    let bad_name = w.corral(&["create", "-t", "busybox", "-n", "../evil"]);
    assert!(
        bad_name.stderr.contains("may use letters, digits"),
        "{bad_name:?}"
    );
}

#[test]
fn config_errors_name_file_line_column_and_key() {
    let w = World::new();
    let config = w.busybox("conf", "[cgroup]\nmemroy = \"64M\"\n");
    let out = w.execute("conf", &["/bin/true"]);
    assert_eq!(out.code, 125);
    let line = config_line(&config, "memroy");
    let expected = format!(
        "{}:{line}:1: key `cgroup.memroy`: unknown field `memroy`",
        config.display()
    );
    assert!(
        out.stderr.contains(&expected),
        "{}\nexpected: {expected}",
        out.stderr
    );
    assert!(
        out.stderr.contains("(did you mean `memory`?)"),
        "{}",
        out.stderr
    );

    let config = w.busybox("conf2", "[cgroup]\npids = \"many\"\n");
    let out = w.corral(&["plan", "-n", "conf2"]);
    let line = config_line(&config, "pids");
    assert!(
        out.stderr
            .contains(&format!("config.toml:{line}:8: key `cgroup.pids`")),
        "{}",
        out.stderr
    );

    let config = w.busybox(
        "conf3",
        "[[mounts.entry]]\nsource = \"relative/path\"\ntarget = \"/mnt\"\n",
    );
    let out = w.corral(&["plan", "-n", "conf3"]);
    assert!(
        out.stderr.contains(&format!(
            "{}: key `mounts.entry[0].source`: bind source `relative/path` is not an absolute path",
            config.display()
        )),
        "{}",
        out.stderr
    );

    let global = w.root().parent().unwrap().join("global.toml");
    fs::write(&global, "[cgroup]\nparnt = \"x\"\n").unwrap();
    let out = w.corral(&["ls"]);
    assert!(
        out.stderr.contains("global.toml:2:1: key `cgroup.parnt`")
            && out.stderr.contains("`parent`?"),
        "{}",
        out.stderr
    );
}

fn config_line(path: &std::path::Path, key: &str) -> usize {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.starts_with(key))
        .unwrap()
        + 1
}

#[test]
fn global_defaults_layer_under_container_configs() {
    let w = World::new();
    let global = w.root().parent().unwrap().join("global.toml");
    let text = fs::read_to_string(&global).unwrap();
    fs::write(&global, format!("{text}[defaults]\nhostname = \"from-defaults\"\n[defaults.init.env]\nGREETING = \"hello\"\n")).unwrap();
    w.busybox("layered", "");
    // The template's own hostname wins; the environment comes from the defaults.
    assert_eq!(
        w.execute("layered", &["/bin/sh", "-c", "echo $GREETING $(hostname)"])
            .ok(),
        "hello layered\n"
    );
}

#[test]
fn one_container_one_command_at_a_time() {
    let w = World::new();
    w.busybox("busy", "");
    let mut first = w
        .cmd()
        .args([
            "execute",
            "-n",
            "busy",
            "--",
            "/bin/sh",
            "-c",
            "echo up; sleep 30",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 3];
    std::io::Read::read_exact(first.stdout.as_mut().unwrap(), &mut buf).unwrap();
    let second = w.execute("busy", &["/bin/true"]);
    assert_eq!(second.code, 125);
    assert!(
        second.stderr.contains("container busy is already running"),
        "{second:?}"
    );
    let list: serde_json::Value = serde_json::from_str(w.corral(&["ls", "--json"]).ok()).unwrap();
    assert_eq!(list[0]["state"], "RUNNING");
    let refused = w.corral(&["destroy", "-n", "busy"]);
    assert!(
        refused.stderr.contains("container busy is running"),
        "{refused:?}"
    );
    w.corral(&["destroy", "-f", "-n", "busy"]).ok();
    assert_eq!(first.wait().unwrap().code(), Some(128 + 9));
    assert!(!w.root().join("busy").exists());
    w.assert_clean("busy");
}

#[test]
fn the_command_line_copes_with_closed_and_broken_standard_streams() {
    let w = World::new();
    w.corral(&["create", "-t", "busybox", "-n", "alpha"]).ok();

    // Started with standard output closed: what corral prints goes to /dev/null, not into
    // the first file it opens (here its log file, which would get the listing).
    let log = w.dir().join("ls.log");
    let closed = w.cmd_shell(&format!(
        r#""$CORRAL_BIN" --log-file {} ls >&-; echo "status $?" >&2"#,
        log.display()
    ));
    assert!(closed.stderr.contains("status 0"), "{}", closed.stderr);
    let logged = fs::read_to_string(&log).unwrap();
    assert!(
        !logged.contains("alpha"),
        "the listing went into the log: {logged}"
    );

    // A reader that went away (`corral ls | head -0`): the write fails with EPIPE, which is
    // not an error, instead of killing corral with SIGPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = w.cmd().arg("ls").stdout(writer).status().unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
}
