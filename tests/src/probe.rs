//! The in-container probe (`tests/probe`): built once as a static binary, copied into test
//! containers, run there.
//!
//! Static, because a container's rootfs (busybox) has no C library: it is built for the host
//! triple with `+crt-static`, in a target directory of its own so that the flag never
//! reaches the workspace's other builds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::World;

/// The static probe: `$CORRAL_PROBE`, or built on first use under `target/probe`.
pub fn probe_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CORRAL_PROBE") {
            return PathBuf::from(bin);
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the repository")
            .to_owned();
        let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let target_dir = repo.join("target/probe");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "corral-probe",
                "--target",
                &triple,
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .current_dir(&repo)
            .status()
            .expect("run cargo to build the probe");
        assert!(status.success(), "building the static probe failed");
        target_dir.join(triple).join("release/corral-probe")
    })
    .clone()
}

impl World {
    /// Creates a busybox container like [`World::busybox`], with the probe at `/probe`.
    pub fn probed(&self, name: &str, config: &str) -> PathBuf {
        let path = self.busybox(name, config);
        let target = self.root().join(name).join("rootfs/probe");
        std::fs::copy(probe_bin(), &target).expect("copy the probe into the rootfs");
        path
    }
}
