//! The `busybox` template: a rootfs made of the host's static busybox, with an inittab and
//! an rcS that bring up busybox's own init, so that it serves application and system
//! containers alike.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Template, TemplateContext, TemplateError, apt_install};

/// Where Debian's busybox-static puts the binary.
const BUSYBOX_PATHS: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];

/// The busybox template.
pub struct Busybox;

const INITTAB: &str = "\
::sysinit:/etc/init.d/rcS
console::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
";

const RCS: &str = "\
#!/bin/sh
# Brought up by busybox init at boot.
mkdir -p /var/run /var/log /run
[ -x /etc/init.d/network ] && /etc/init.d/network
exit 0
";

impl Template for Busybox {
    fn name(&self) -> &'static str {
        "busybox"
    }

    fn description(&self) -> &'static str {
        "a minimal rootfs from the host's static busybox, booting busybox init"
    }

    fn build(&self, ctx: &TemplateContext<'_>) -> Result<toml::Table, TemplateError> {
        if let Some(arg) = ctx.args.first() {
            return Err(TemplateError::Usage {
                template: "busybox".into(),
                message: format!("takes no arguments, got `{arg}`"),
            });
        }
        let busybox = find_static_busybox(ctx.progress)?;
        let root = ctx.rootfs;
        let io = |action, path: &Path| TemplateError::io("busybox", action, path);
        for (dir, mode) in [
            ("bin", 0o755),
            ("sbin", 0o755),
            ("usr/bin", 0o755),
            ("usr/sbin", 0o755),
            ("etc/init.d", 0o755),
            ("proc", 0o555),
            ("sys", 0o555),
            ("dev", 0o755),
            ("tmp", 0o1777),
            ("root", 0o700),
            ("var/log", 0o755),
            ("var/run", 0o755),
            ("run", 0o755),
            ("home", 0o755),
            ("mnt", 0o755),
            ("lib", 0o755),
        ] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(io("create", &path))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                .map_err(io("chmod", &path))?;
        }
        (ctx.progress)(&format!("copying {}", busybox.display()));
        let target = root.join("bin/busybox");
        fs::copy(&busybox, &target).map_err(io("copy busybox to", &target))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
            .map_err(io("chmod", &target))?;
        for applet in applets(&busybox)? {
            let link = root.join(&applet);
            if link == target || link.exists() {
                continue;
            }
            if let Some(parent) = link.parent() {
                fs::create_dir_all(parent).map_err(io("create", parent))?;
            }
            symlink("/bin/busybox", &link).map_err(io("link", &link))?;
        }
        let files: [(&str, String, u32); 9] = [
            ("etc/inittab", INITTAB.to_owned(), 0o644),
            ("etc/init.d/rcS", RCS.to_owned(), 0o755),
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n".to_owned(), 0o644),
            ("etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n".to_owned(), 0o644),
            // No password: log in with `corral attach`, as with LXC's images.
            ("etc/shadow", "root:*:19000:0:99999:7:::\n".to_owned(), 0o600),
            ("etc/hostname", format!("{}\n", ctx.name), 0o644),
            ("etc/hosts", format!("127.0.0.1 localhost\n127.0.1.1 {}\n::1 localhost\n", ctx.name), 0o644),
            ("etc/profile", "export PS1='\\u@\\h:\\w\\$ '\n".to_owned(), 0o644),
            ("etc/fstab", String::new(), 0o644),
        ];
        for (file, content, mode) in files {
            let path = root.join(file);
            fs::write(&path, content).map_err(io("write", &path))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                .map_err(io("chmod", &path))?;
        }
        let mut settings = toml::Table::new();
        let mut init = toml::Table::new();
        init.insert("cmd".into(), toml::Value::Array(vec!["/sbin/init".into()]));
        settings.insert("init".into(), init.into());
        // busybox init halts on SIGUSR1 and reboots on SIGTERM.
        let mut signals = toml::Table::new();
        signals.insert("halt".into(), "SIGUSR1".into());
        signals.insert("reboot".into(), "SIGTERM".into());
        settings.insert("signals".into(), signals.into());
        Ok(settings)
    }
}

/// The host's static busybox, installing Debian's busybox-static when there is none.
fn find_static_busybox(progress: &dyn Fn(&str)) -> Result<PathBuf, TemplateError> {
    let found = || {
        BUSYBOX_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| is_static_elf(p))
    };
    if let Some(path) = found() {
        return Ok(path);
    }
    apt_install("busybox", "busybox-static", progress)?;
    found().ok_or_else(|| TemplateError::Command {
        template: "busybox".into(),
        message: "busybox-static is installed but no static busybox was found".into(),
    })
}

/// Whether `path` is a 64-bit ELF executable without an interpreter (statically linked).
fn is_static_elf(path: &Path) -> bool {
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if bytes.get(..5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    let Ok(phoff) = usize::try_from(phoff) else {
        return false;
    };
    const PT_INTERP: u32 = 3;
    (0..usize::from(phnum)).all(|i| u32_at(phoff + i * usize::from(phentsize)) != Some(PT_INTERP))
}

/// The applet paths busybox knows (`bin/ls`, `sbin/init`), relative to `/`.
fn applets(busybox: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let output = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(TemplateError::io("busybox", "run", busybox))?;
    if !output.status.success() {
        return Err(TemplateError::Command {
            template: "busybox".into(),
            message: format!("{} --list-full failed", busybox.display()),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| PathBuf::from(l.trim().trim_start_matches('/')))
        .filter(|p| {
            !p.as_os_str().is_empty()
                && p.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_elf_detection() {
        assert!(!is_static_elf(Path::new("/bin/sh")), "dash is dynamic");
        assert!(!is_static_elf(Path::new("/etc/hostname")));
    }
}
