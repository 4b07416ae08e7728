//! Finding the cgroup hierarchies this host has mounted: v1, hybrid or unified.

use std::io;
use std::path::PathBuf;

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted (`/sys/fs/cgroup/memory`).
    pub mount: PathBuf,
    /// Its controllers (`memory`; `cpu`, `cpuacct`; `name=systemd`); empty for cgroup2.
    pub controllers: Vec<String>,
}

impl Hierarchy {
    /// Whether this v1 hierarchy carries `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The host's cgroup layout, detected at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1 controllers (a hybrid host's empty v2 tree is not used).
    V1(Vec<Hierarchy>),
    /// The unified cgroup v2 hierarchy.
    V2(PathBuf),
}

impl Layout {
    /// Reads `/proc/self/mountinfo`. Controllers mounted as v1 decide: a host with any v1
    /// controller is driven through v1, because a controller lives in one version only.
    pub fn detect() -> io::Result<Layout> {
        let mountinfo = crate::procfs::read("/proc/self/mountinfo")?;
        Self::from_mountinfo(&mountinfo).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no cgroup hierarchy is mounted")
        })
    }

    fn from_mountinfo(mountinfo: &str) -> Option<Layout> {
        let mut v1 = Vec::new();
        let mut v2 = None;
        for line in mountinfo.lines() {
            // Fields: id parent major:minor root mountpoint options [optional...] - type source super
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut right = right.split(' ');
            let (Some(fstype), Some(_source), Some(super_opts)) =
                (right.next(), right.next(), right.next())
            else {
                continue;
            };
            let Some(mount) = left.split(' ').nth(4) else {
                continue;
            };
            let mount = PathBuf::from(unescape(mount));
            match fstype {
                "cgroup2" if v2.is_none() => v2 = Some(mount),
                "cgroup" => {
                    let controllers: Vec<String> = super_opts
                        .split(',')
                        .filter(|o| {
                            !V1_MOUNT_OPTIONS.contains(o) && !o.starts_with("release_agent=")
                        })
                        .map(str::to_owned)
                        .collect();
                    if !v1.iter().any(|h: &Hierarchy| h.controllers == controllers) {
                        v1.push(Hierarchy { mount, controllers });
                    }
                }
                _ => {}
            }
        }
        let has_v1_controller = v1
            .iter()
            .any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
        if has_v1_controller {
            Some(Layout::V1(v1))
        } else {
            v2.map(Layout::V2)
        }
    }

    /// A short name for logs and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::V1(_) => "v1",
            Layout::V2(_) => "v2",
        }
    }
}

/// Super options of a v1 cgroup mount that are not controllers.
const V1_MOUNT_OPTIONS: [&str; 6] = [
    "rw",
    "ro",
    "noprefix",
    "clone_children",
    "xattr",
    "cpuset_v2_mode",
];

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            match u8::from_str_radix(&code, 8) {
                Ok(byte) => out.push(char::from(byte)),
                Err(_) => {
                    out.push('\\');
                    out.push_str(&code);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn hybrid_hosts_use_v1() {
        let Some(Layout::V1(h)) = Layout::from_mountinfo(HYBRID) else {
            panic!("not v1")
        };
        assert_eq!(h.len(), 3);
        assert!(h[1].has("memory"));
        assert_eq!(h[2].mount, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(h[2].has("cpu") && h[2].has("cpuacct"));
        assert_eq!(h[0].controllers, ["name=systemd"]);
    }

    #[test]
    fn unified_hosts_use_v2() {
        let info = "31 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Layout::from_mountinfo(info),
            Some(Layout::V2("/sys/fs/cgroup".into()))
        );
        assert_eq!(
            Layout::from_mountinfo("1 2 0:1 / / rw - ext4 /dev/vda rw\n"),
            None
        );
    }

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
