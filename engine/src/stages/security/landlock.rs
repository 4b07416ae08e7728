//! Landlock: filesystem rules per path inside the container (read-only, read-write, none),
//! applied at the exec gate after every mount, through the kernel's three system calls.
//!
//! Landlock only adds rights, beneath a rule's path; so a path that must get less than a
//! parent's rule grants (`none` or `ro` beneath `rw`) splits the parent: its other entries
//! get the parent's rule each, and the parent keeps only the right to list it (names in it
//! stay visible, contents do not). Entries created later directly in a split directory are
//! covered by no rule.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use corral_hooks::{LandlockAccess, LandlockPlan};

use crate::config::{LandlockConfig, LandlockMode};
use crate::stages::{Op, OpError, PlanError};

const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
/// What a rule on a file (not a directory) may grant.
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
/// The lowest ABI that strict mode accepts: before 3, a read-only file could be truncated.
const STRICT_MIN_ABI: u32 = 3;

const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: libc::c_int = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The filesystem rights ABI `abi` can restrict.
fn handled(abi: u32) -> u64 {
    let mut rights = (1 << 13) - 1;
    if abi >= 2 {
        rights |= 1 << 13; // REFER
    }
    if abi >= 3 {
        rights |= TRUNCATE;
    }
    if abi >= 5 {
        rights |= IOCTL_DEV;
    }
    rights
}

/// The kernel's Landlock ABI version; 0 when it has none.
pub fn abi() -> u32 {
    // SAFETY: with a null attribute and the VERSION flag the call only returns a number.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(rc).unwrap_or(0)
}

/// Plans the configured ruleset against this kernel's ABI.
pub fn plan(config: &LandlockConfig) -> Result<Option<LandlockPlan>, PlanError> {
    let strict = match config.mode {
        LandlockMode::Off => return Ok(None),
        LandlockMode::BestEffort => false,
        LandlockMode::Strict => true,
    };
    for rule in &config.rule {
        if !rule.path.is_absolute() {
            return Err(PlanError::new(
                "security.landlock.rule",
                format!("`{}` is not an absolute path", rule.path.display()),
            ));
        }
    }
    let abi = abi();
    if strict && abi < STRICT_MIN_ABI {
        return Err(PlanError::new(
            "security.landlock.mode",
            format!(
                "strict Landlock needs ABI {STRICT_MIN_ABI} or later, and this kernel has {}",
                if abi == 0 {
                    "none".to_owned()
                } else {
                    format!("ABI {abi}")
                }
            ),
        ));
    }
    Ok(Some(LandlockPlan {
        abi,
        strict,
        rules: config.rule.clone(),
    }))
}

fn rights(access: LandlockAccess, abi: u32) -> u64 {
    match access {
        LandlockAccess::Ro => EXECUTE | READ_FILE | READ_DIR,
        LandlockAccess::Rw => handled(abi),
        LandlockAccess::None => 0,
    }
}

/// The rules to add beneath `root`: the plan's, with parents split around the paths beneath
/// them that get less. A missing path is an error when strict and skipped otherwise.
fn expand_all(root: &Path, plan: &LandlockPlan) -> Result<Vec<(PathBuf, u64)>, OpError> {
    if plan.strict
        && let Some(missing) = plan.rules.iter().find(|r| !r.path.exists())
    {
        return Err(OpError {
            operation: format!("find the Landlock path {}", missing.path.display()),
            errno: libc::ENOENT,
        });
    }
    let mut out = Vec::new();
    expand(root, 0, plan, &mut out)?;
    Ok(out)
}

fn expand(
    dir: &Path,
    inherited: u64,
    plan: &LandlockPlan,
    out: &mut Vec<(PathBuf, u64)>,
) -> Result<(), OpError> {
    let access = plan
        .rules
        .iter()
        .rev()
        .find(|r| r.path == dir)
        .map_or(inherited, |r| rights(r.access, plan.abi));
    let beneath = plan
        .rules
        .iter()
        .any(|r| r.path != dir && r.path.starts_with(dir));
    let is_dir = match std::fs::symlink_metadata(dir) {
        Ok(m) => m.is_dir(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !plan.strict => return Ok(()),
        Err(e) => return Err(e).op(|| format!("find the Landlock path {}", dir.display())),
    };
    if !beneath || !is_dir {
        if access != 0 {
            out.push((dir.to_owned(), access));
        }
        return Ok(());
    }
    if access & READ_DIR != 0 {
        out.push((dir.to_owned(), READ_DIR));
    }
    let entries = std::fs::read_dir(dir).op(|| format!("list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.op(|| format!("list {}", dir.display()))?;
        expand(&entry.path(), access, plan, out)?;
    }
    Ok(())
}

/// Restricts this process, and what it starts, to the plan's rules.
pub fn apply(plan: &LandlockPlan) -> Result<(), OpError> {
    if plan.abi == 0 {
        tracing::info!("this kernel has no Landlock: the ruleset is not enforced");
        return Ok(());
    }
    let rules = expand_all(Path::new("/"), plan)?;
    let handled = handled(plan.abi);
    let attr = RulesetAttr {
        handled_access_fs: handled,
    };
    // SAFETY: `attr` is a valid ruleset attribute of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &raw const attr,
            size_of::<RulesetAttr>(),
            0u32,
        )
    };
    let fd = i32::try_from(fd)
        .ok()
        .filter(|fd| *fd >= 0)
        .ok_or_else(nix::errno::Errno::last)
        .op(|| "create the Landlock ruleset".into())?;
    // SAFETY: the kernel just returned this descriptor to us alone.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd) };
    for (path, access) in rules {
        let file = nix::fcntl::open(
            &path,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .op(|| format!("open the Landlock path {}", path.display()))?;
        let is_dir =
            nix::sys::stat::fstat(&file).is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR);
        let mask = if is_dir {
            handled
        } else {
            handled & FILE_RIGHTS
        };
        let beneath = PathBeneathAttr {
            allowed_access: access & mask,
            parent_fd: file.as_raw_fd(),
        };
        // SAFETY: `beneath` is a valid, packed path-beneath attribute; both descriptors are
        // open for the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                RULE_PATH_BENEATH,
                &raw const beneath,
                0u32,
            )
        };
        if rc < 0 {
            return Err(nix::errno::Errno::last())
                .op(|| format!("add the Landlock rule for {}", path.display()));
        }
    }
    // SAFETY: restrict_self takes the ruleset descriptor and flags only.
    let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) };
    if rc < 0 {
        return Err(nix::errno::Errno::last()).op(|| "enforce the Landlock ruleset".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_hooks::LandlockRule;

    fn rule(path: &str, access: LandlockAccess) -> LandlockRule {
        LandlockRule {
            path: PathBuf::from(path),
            access,
        }
    }

    #[test]
    fn parents_split_around_paths_that_get_less() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["a/hidden", "a/shown", "b"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let p = |s: &str| root.join(s).to_string_lossy().into_owned();
        let plan = LandlockPlan {
            abi: 5,
            strict: false,
            rules: vec![
                rule(&p(""), LandlockAccess::Ro),
                rule(&p("a/hidden"), LandlockAccess::None),
                rule(&p("b"), LandlockAccess::Rw),
                rule(&p("missing"), LandlockAccess::Rw),
            ],
        };
        let mut out = expand_all(root, &plan).unwrap();
        out.sort();
        let ro = EXECUTE | READ_FILE | READ_DIR;
        let expected = vec![
            (root.to_owned(), READ_DIR),
            (root.join("a"), READ_DIR),
            (root.join("a/shown"), ro),
            (root.join("b"), handled(5)),
        ];
        assert_eq!(out, expected);
        let strict = LandlockPlan {
            strict: true,
            ..plan
        };
        assert!(expand_all(root, &strict).is_err());
    }

    #[test]
    fn strict_mode_needs_a_recent_abi() {
        let config = LandlockConfig {
            mode: LandlockMode::Strict,
            rule: vec![rule("relative", LandlockAccess::Ro)],
        };
        assert_eq!(plan(&config).unwrap_err().key, "security.landlock.rule");
        let config = LandlockConfig {
            mode: LandlockMode::Off,
            rule: Vec::new(),
        };
        assert_eq!(plan(&config).unwrap(), None);
    }
}
