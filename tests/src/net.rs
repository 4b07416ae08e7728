//! Network labs: a corral world whose commands run in a network namespace the test made,
//! with its own default bridge, subnet and nftables table, so that nothing of the host's
//! network is seen or touched. Dropping the lab destroys its containers, takes the bridge
//! down and deletes the namespace (and with it anything left inside).

use std::fs;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::{Run, World, corral_bin};

static LABS: AtomicUsize = AtomicUsize::new(0);

/// A world in a network namespace of its own.
pub struct Lab {
    /// The world.
    pub world: World,
    /// The network namespace (`/run/netns/NAME`), or none for the host's.
    pub netns: Option<String>,
    /// The default bridge's name.
    pub bridge: String,
    /// The first three octets of the bridge's /24 (`10.209.0`).
    pub subnet: String,
    /// corral's nftables table in this lab.
    pub table: String,
}

impl Lab {
    /// A lab in a new network namespace, loopback up, with the bridge `crltst0` on
    /// 10.209.0.0/24: the namespace is the test's own, so these can be the same in every lab.
    pub fn new() -> Lab {
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let netns = format!("crltst-{}-{n}", std::process::id());
        run_ok(Command::new("ip").args(["netns", "add", &netns]));
        run_ok(Command::new("ip").args(["-n", &netns, "link", "set", "lo", "up"]));
        Lab::configure(Some(netns), "crltst0".into(), "10.209.0".into())
    }

    /// A lab on the host's own network (for traffic that must leave the machine), with a
    /// bridge and a subnet of its own named after this process.
    pub fn on_host() -> Lab {
        let pid = std::process::id();
        let bridge = format!("crltst{}", pid % 100_000);
        let subnet = format!("10.209.{}", 100 + pid % 150);
        Lab::configure(None, bridge, subnet)
    }

    fn configure(netns: Option<String>, bridge: String, subnet: String) -> Lab {
        let world = World::new();
        let table = format!("corral-test-{}", std::process::id());
        let global = world.root().with_file_name("global.toml");
        let mut text = fs::read_to_string(&global).expect("global config");
        text.push_str(&format!(
            "[network.bridge]\nname = \"{bridge}\"\naddress = \"{subnet}.1/24\"\n\
             nft_table = \"{table}\"\ndomain = \"lab\"\n"
        ));
        fs::write(&global, text).expect("global config");
        Lab {
            world,
            netns,
            bridge,
            subnet,
            table,
        }
    }

    /// An address of the lab's subnet.
    pub fn ip(&self, host: u8) -> String {
        format!("{}.{host}", self.subnet)
    }

    /// A command run in the lab's namespace.
    fn wrap(&self, program: &str) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut cmd = Command::new("nsenter");
                cmd.arg(format!("--net=/run/netns/{ns}"))
                    .arg("--")
                    .arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    /// Runs `corral ARGS` in the lab.
    pub fn corral(&self, args: &[&str]) -> Run {
        let template = self.world.cmd();
        let mut cmd = self.wrap(&corral_bin().to_string_lossy());
        for (key, value) in template.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run corral")
            .into()
    }

    /// Runs a shell command line in the lab's namespace (the lab's "host").
    pub fn sh(&self, line: &str) -> Run {
        self.wrap("/bin/sh")
            .args(["-c", line])
            .stdin(Stdio::null())
            .output()
            .expect("run sh")
            .into()
    }

    /// Creates a busybox container with `config`.
    pub fn busybox(&self, name: &str, config: &str) {
        self.world.busybox(name, config);
    }

    /// The names of the lab's links.
    pub fn links(&self) -> Vec<String> {
        let out = self.sh("ip -o link show | cut -d: -f2 | cut -d@ -f1");
        out.stdout.lines().map(|l| l.trim().to_owned()).collect()
    }

    /// Polls `check` every 200 ms for up to `secs` seconds.
    pub fn wait_for(&self, secs: u64, mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

impl Default for Lab {
    fn default() -> Lab {
        Lab::new()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in self.world.corral(&["ls"]).stdout.lines() {
            let _ = self.world.corral(&["destroy", "-f", "-n", name]);
        }
        let _ = self.corral(&["net", "down", "--force"]);
        if let Some(ns) = &self.netns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[track_caller]
fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
