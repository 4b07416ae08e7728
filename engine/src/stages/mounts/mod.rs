//! The mounts stage: the rootfs with private or slave propagation, auto mounts, a minimal
//! `/dev`, the config's mount entries, `pivot_root`, and the old root detached.
//!
//! It applies inside the container's init, in its new mount namespace, before anything of
//! the container's runs; the host's mounts are never touched.

mod options;
mod resolve;

use std::path::{Path, PathBuf};

use corral_hooks::{
    DeviceNode, DeviceType, FileCreate, MountEntry, MountsPlan, Propagation, RootfsPlan, Symlink,
};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknodat, umask};
use nix::unistd::{chdir, pivot_root, symlinkat};

pub use resolve::{ParentDirs, Root, fd_path};

use super::{Op, OpError, PlanError};
use crate::config::{ContainerConfig, ProcMount, SysMount};
use crate::pipeline::Terminals;

/// Builds the stage's plan. The host terminals in `terminals` are bound at `/dev/console`
/// and `/dev/ttyN`.
pub fn plan(
    config: &ContainerConfig,
    container_dir: &Path,
    terminals: &Terminals,
) -> Result<MountsPlan, PlanError> {
    let auto = &config.mounts.auto;
    let mut mounts = Vec::new();
    let entry = |source: &str, target: &str, fstype: &str, options: &[&str]| MountEntry {
        source: source.to_owned(),
        target: PathBuf::from(target),
        fstype: fstype.to_owned(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        create: Some(FileCreate::Dir),
        optional: false,
    };
    if auto.proc != ProcMount::Off {
        // proc:mixed's read-only paths are the security stage's.
        mounts.push(entry(
            "proc",
            "/proc",
            "proc",
            &["nosuid", "nodev", "noexec"],
        ));
    }
    match auto.sys {
        SysMount::Off => {}
        SysMount::Ro => mounts.push(entry(
            "sysfs",
            "/sys",
            "sysfs",
            &["ro", "nosuid", "nodev", "noexec"],
        )),
        SysMount::Rw => mounts.push(entry(
            "sysfs",
            "/sys",
            "sysfs",
            &["nosuid", "nodev", "noexec"],
        )),
    }
    if auto.sys == SysMount::Off && auto.cgroup != corral_hooks::CgroupMount::Off {
        return Err(PlanError::new(
            "mounts.auto.cgroup",
            "mounting cgroups needs mounts.auto.sys",
        ));
    }
    let ptys = format!("max={}", config.console.ptys);
    mounts.extend([
        entry(
            "tmpfs",
            "/dev",
            "tmpfs",
            &["nosuid", "noexec", "mode=755", "size=500k"],
        ),
        entry(
            "devpts",
            "/dev/pts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
                &ptys,
            ],
        ),
        entry(
            "shm",
            "/dev/shm",
            "tmpfs",
            &["nosuid", "nodev", "mode=1777"],
        ),
        entry(
            "mqueue",
            "/dev/mqueue",
            "mqueue",
            &["nosuid", "nodev", "noexec"],
        ),
    ]);
    let mut devices: Vec<DeviceNode> = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| char_device(name, major, minor))
    .collect();
    let bind_terminal = |tty: &Path, target: String| MountEntry {
        source: tty.to_string_lossy().into_owned(),
        target: PathBuf::from(target),
        fstype: "bind".to_owned(),
        options: vec!["bind".to_owned()],
        create: Some(FileCreate::File),
        optional: false,
    };
    match &terminals.console {
        Some(tty) => mounts.push(bind_terminal(tty, "/dev/console".to_owned())),
        // Without a terminal, the console is a null device: never the host's console.
        None => devices.push(char_device("console", 1, 3)),
    }
    for (i, tty) in terminals.ttys.iter().enumerate() {
        mounts.push(bind_terminal(tty, format!("/dev/tty{}", i + 1)));
    }
    for (i, m) in config.mounts.entry.iter().enumerate() {
        let key = |field: &str| format!("mounts.entry[{i}].{field}");
        if !m.target.is_absolute() {
            return Err(PlanError::new(
                key("target"),
                format!("`{}` is not an absolute path", m.target.display()),
            ));
        }
        let parsed = options::parse(&m.options);
        let is_bind = m.fstype == "bind" || parsed.bind;
        if is_bind && !Path::new(&m.source).is_absolute() {
            return Err(PlanError::new(
                key("source"),
                format!("bind source `{}` is not an absolute path", m.source),
            ));
        }
        let mut options = m.options.clone();
        if m.fstype == "bind" && !parsed.bind {
            options.insert(0, "rbind".to_owned());
        }
        mounts.push(MountEntry {
            source: m.source.clone(),
            target: m.target.clone(),
            fstype: m.fstype.clone(),
            options,
            create: m.create,
            optional: m.optional,
        });
    }
    let symlinks = [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ]
    .into_iter()
    .map(|(target, path)| Symlink {
        target: PathBuf::from(target),
        path: PathBuf::from(path),
    })
    .collect();
    let rootfs = if config.rootfs.path.is_absolute() {
        config.rootfs.path.clone()
    } else {
        container_dir.join(&config.rootfs.path)
    };
    Ok(MountsPlan {
        rootfs: RootfsPlan {
            path: rootfs,
            readonly: config.rootfs.readonly,
            propagation: config.rootfs.propagation,
        },
        mounts,
        devices,
        symlinks,
    })
}

fn char_device(name: &str, major: u32, minor: u32) -> DeviceNode {
    DeviceNode {
        path: PathBuf::from("/dev").join(name),
        kind: DeviceType::Char,
        major,
        minor,
        mode: 0o666,
    }
}

/// Applies the plan in the container's init: everything up to and including `pivot_root`.
pub fn apply(plan: &MountsPlan) -> Result<(), OpError> {
    let propagation = match plan.rootfs.propagation {
        Propagation::Private => MsFlags::MS_PRIVATE,
        Propagation::Slave => MsFlags::MS_SLAVE,
    };
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        propagation | MsFlags::MS_REC,
        None::<&str>,
    )
    .op(|| "make / a private or slave mount".to_owned())?;
    let rootfs = &plan.rootfs.path;
    // pivot_root needs the new root to be a mount point.
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .op(|| format!("bind the rootfs {} onto itself", rootfs.display()))?;
    let root = Root::open(rootfs).op(|| format!("open the rootfs {}", rootfs.display()))?;
    for entry in &plan.mounts {
        match mount_entry(&root, entry) {
            Err(e) if entry.optional => tracing::info!(%e, "optional mount skipped"),
            result => result?,
        }
    }
    let mut dirs = ParentDirs::new(&root);
    // Nodes get exactly their modes with the umask cleared meanwhile, not a chmod each.
    let old_umask = umask(Mode::empty());
    let made = plan
        .devices
        .iter()
        .try_for_each(|dev| make_device(&mut dirs, dev));
    umask(old_umask);
    made?;
    for link in &plan.symlinks {
        let (dir, name) = dirs
            .of(&link.path)
            .op(|| format!("create the directory of {}", link.path.display()))?;
        symlinkat(&link.target, dir, name).op(|| {
            format!(
                "symlink {} -> {}",
                link.path.display(),
                link.target.display()
            )
        })?;
    }
    chdir(rootfs).op(|| format!("chdir into {}", rootfs.display()))?;
    pivot_root(".", ".").op(|| format!("pivot_root into {}", rootfs.display()))?;
    // The old root is stacked under the new one: detaching "." removes it.
    umount2(".", MntFlags::MNT_DETACH).op(|| "detach the old root".to_owned())?;
    chdir("/").op(|| "chdir /".to_owned())?;
    if plan.rootfs.readonly {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .op(|| "remount / read-only".to_owned())?;
    }
    Ok(())
}

fn mount_entry(root: &Root, entry: &MountEntry) -> Result<(), OpError> {
    let parsed = options::parse(&entry.options);
    let describe = || {
        format!(
            "mount {} on {} ({})",
            entry.source,
            entry.target.display(),
            entry.fstype
        )
    };
    if parsed.bind && !Path::new(&entry.source).exists() {
        return Err(OpError {
            operation: describe(),
            errno: libc::ENOENT,
        });
    }
    let target = root
        .resolve_or_create(&entry.target, entry.create)
        .op(|| format!("resolve {} in the rootfs", entry.target.display()))?;
    let target = fd_path(&target);
    let fstype = (!parsed.bind).then_some(entry.fstype.as_str());
    let data = (!parsed.data.is_empty()).then_some(parsed.data.as_str());
    mount(
        Some(entry.source.as_str()),
        &target,
        fstype,
        parsed.flags,
        data,
    )
    .op(describe)?;
    // A bind mount ignores most flags until it is remounted.
    let remount_flags = parsed.flags
        & (MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOATIME
            | MsFlags::MS_NODIRATIME
            | MsFlags::MS_RELATIME);
    if parsed.bind && !remount_flags.is_empty() {
        let fd = root.resolve(&entry.target).op(describe)?;
        mount(
            None::<&str>,
            &fd_path(&fd),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | remount_flags,
            None::<&str>,
        )
        .op(|| format!("remount {} with its flags", entry.target.display()))?;
    }
    if !parsed.propagation.is_empty() {
        let fd = root.resolve(&entry.target).op(describe)?;
        mount(
            None::<&str>,
            &fd_path(&fd),
            None::<&str>,
            parsed.propagation,
            None::<&str>,
        )
        .op(|| format!("set the propagation of {}", entry.target.display()))?;
    }
    Ok(())
}

fn make_device(dirs: &mut ParentDirs<'_>, dev: &DeviceNode) -> Result<(), OpError> {
    let describe = || format!("create device {}", dev.path.display());
    let (dir, name) = dirs.of(&dev.path).op(describe)?;
    let kind = match dev.kind {
        DeviceType::Char => SFlag::S_IFCHR,
        DeviceType::Block => SFlag::S_IFBLK,
    };
    let mode = Mode::from_bits_truncate(dev.mode);
    mknodat(
        dir,
        name,
        kind,
        mode,
        makedev(dev.major.into(), dev.minor.into()),
    )
    .op(describe)
}
