//! Hook programs, run the way LXC runs `lxc.hook.*`: with `LXC_NAME`, `LXC_ROOTFS_PATH`,
//! `LXC_HOOK_TYPE`... in the environment; LXC-style ones get `NAME lxc TYPE` as arguments.
//! The context goes to standard input as JSON; a before-hook may print a
//! [`HookOutcome`] as JSON on standard output.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use corral_hooks::{HookContext, HookOutcome, HookPoint};

use super::HookFailure;

/// Runs `path` for `ctx`, with `input` (the context and its plan) on its standard input,
/// killing it after `timeout`.
pub(super) fn run(
    path: &Path,
    lxc: bool,
    args: &[String],
    timeout: Duration,
    ctx: &HookContext,
    input: &impl serde::Serialize,
) -> Result<HookOutcome, HookFailure> {
    let mut cmd = Command::new(path);
    if lxc {
        cmd.args([ctx.container.as_str(), "lxc", ctx.point.name()]);
    }
    cmd.args(args)
        .env("LXC_NAME", &ctx.container)
        .env("LXC_ROOTFS_MOUNT", &ctx.rootfs)
        .env("LXC_ROOTFS_PATH", &ctx.rootfs)
        .env("LXC_CONFIG_FILE", &ctx.config_file)
        .env("LXC_HOOK_TYPE", ctx.point.name())
        .env("LXC_HOOK_SECTION", ctx.point.section())
        .env("LXC_HOOK_VERSION", if lxc { "0" } else { "1" })
        .env("CORRAL_HOOK_POINT", ctx.point.name())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some(pid) = ctx.pid {
        cmd.env("LXC_PID", pid.to_string());
    }
    if let Some(target) = &ctx.target {
        cmd.env("LXC_TARGET", target);
    }
    // LXC runs start hooks inside the container, just before its init; here they enter the
    // container's namespaces from the monitor, so the cloned init never runs hook code.
    let _pidfd;
    if let (HookPoint::Start, Some(pid)) = (ctx.point, ctx.pid) {
        let fd = crate::attach::pidfd_open(pid).map_err(HookFailure::Spawn)?;
        let raw = fd.as_raw_fd();
        _pidfd = fd;
        let flags = libc::CLONE_NEWNS
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWCGROUP;
        let enter = move || {
            // SAFETY: setns only reads its arguments; the descriptor stays open until exec.
            if unsafe { libc::setns(raw, flags) } == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        // SAFETY: the closure runs in the forked child before exec and makes one
        // async-signal-safe system call, allocating nothing.
        unsafe { cmd.pre_exec(enter) };
    }
    let mut child = cmd.spawn().map_err(HookFailure::Spawn)?;
    let input = serde_json::to_vec(input).map_err(|e| HookFailure::BadAnswer(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its input must not block the monitor: write on the side.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(timeout) {
        Ok(output) => output.map_err(HookFailure::Spawn)?,
        Err(_) => {
            // The waiting thread has not reaped it: the PID is still the hook's.
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill has no memory effects; see above for why the PID is ours.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let _ = rx.recv();
            return Err(HookFailure::Timeout(timeout));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(HookFailure::Exit(format!(
            "{} ({})",
            output.status,
            stdout.trim()
        )));
    }
    let answer = stdout.trim();
    match ctx.point {
        HookPoint::Before(_) if answer.starts_with('{') => serde_json::from_str(answer)
            .map_err(|e| HookFailure::BadAnswer(format!("{e} in its output"))),
        _ => {
            if !answer.is_empty() {
                tracing::debug!(hook = %path.display(), output = answer, "hook output");
            }
            Ok(HookOutcome::Continue)
        }
    }
}
