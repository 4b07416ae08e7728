//! Seccomp: the policy (corral's default, an LXC policy file or an OCI/Docker JSON profile)
//! is planned as explicit rules, compiled to BPF with libseccomp and loaded last at the exec
//! gate, so that it binds init and everything it starts.
//!
//! The filter is compiled once, when planning in the monitor, kept on disk for later starts
//! (see `cache`) and in memory: init is a fork of the monitor and finds it there, so the
//! start path does not compile. A plan a hook changed after that no longer matches the
//! compiled filter's key, and init compiles it anew.

mod cache;
mod compile;
mod lxc;
mod notify;
mod oci;

use std::path::{Path, PathBuf};

use corral_hooks::{CapabilitySets, SeccompAction, SeccompPlan, SeccompRule};
use libseccomp::{ScmpArch, ScmpSyscall};

pub use compile::{load, prepare};
pub use notify::answer as answer_notification;

use crate::config::SeccompConfig;

/// An error planning or compiling a seccomp policy.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The policy file could not be read.
    #[error("cannot read {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    /// The policy is malformed, or names what this host does not know.
    #[error("{}:{line}: {reason}", file.display())]
    Policy {
        /// The policy file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The plan cannot be a filter.
    #[error("invalid seccomp plan: {0}")]
    Invalid(String),
    /// libseccomp refused the filter.
    #[error("cannot compile the seccomp filter: {0}")]
    Compile(String, #[source] libseccomp::error::SeccompError),
    /// The compiled filter could not be exported.
    #[error("cannot export the seccomp filter")]
    Export(#[source] std::io::Error),
}

/// A rule as a policy file states it, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    line: usize,
    rule: SeccompRule,
}

/// A policy as a file states it, before its names are checked against this host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    default_action: SeccompAction,
    /// `None` for this host's native and compatible architectures.
    architectures: Option<Vec<String>>,
    rules: Vec<Parsed>,
}

/// What corral applies unless told otherwise: LXC's common policy (`kexec_load`,
/// `open_by_handle_at`, module loading, forced unmounts) and more of the same kind, with
/// the kernel's keyrings, which are not namespaced, reported as absent, and `bpf` and
/// `userfaultfd`, frequent tools of kernel exploits, refused.
const DEFAULT_POLICY: &str = "2
denylist
reject_force_umount
[all]
kexec_load errno 1
kexec_file_load errno 1
open_by_handle_at errno 1
init_module errno 1
finit_module errno 1
delete_module errno 1
iopl errno 1
ioperm errno 1
swapon errno 1
swapoff errno 1
syslog errno 1
acct errno 1
quotactl errno 1
lookup_dcookie errno 1
uselib errno 1
nfsservctl errno 1
bpf errno 1
userfaultfd errno 1
keyctl errno 38
add_key errno 38
request_key errno 38
";

/// Plans the configured policy. `capabilities` decide the capability-dependent rules of
/// Docker profiles.
pub fn plan(
    config: &SeccompConfig,
    capabilities: &CapabilitySets,
) -> Result<Option<SeccompPlan>, SeccompError> {
    let (source, policy) = match config.profile.as_str() {
        "none" => return Ok(None),
        "default" => {
            let file = Path::new("default");
            ("default".to_owned(), lxc::parse(file, DEFAULT_POLICY)?)
        }
        path => {
            let file = Path::new(path);
            let text = std::fs::read_to_string(file)
                .map_err(|e| SeccompError::Read(file.to_owned(), e))?;
            let policy = if text.trim_start().starts_with('{') {
                oci::parse(file, &text, capabilities)?
            } else {
                lxc::parse(file, &text)?
            };
            (path.to_owned(), policy)
        }
    };
    let architectures = policy.architectures.unwrap_or_else(host_architectures);
    let mut rules = Vec::new();
    for parsed in policy.rules {
        let mut rule = parsed.rule;
        if !rule.arches.is_empty() {
            // A rule for other hosts' architectures only, as LXC skips their sections.
            rule.arches.retain(|a| architectures.contains(a));
            if rule.arches.is_empty() {
                continue;
            }
        }
        let names = std::mem::take(&mut rule.syscalls);
        for name in names {
            let (optional, name) = match name.strip_prefix('?') {
                Some(n) => (true, n.to_owned()),
                None => (config.optional.contains(&name), name),
            };
            // libseccomp resolves a name of any architecture it knows (to a pseudo number
            // where the native one lacks it): failing here means no architecture has it.
            if ScmpSyscall::from_name(&name).is_ok() {
                rule.syscalls.push(name);
            } else if !optional {
                return Err(SeccompError::Policy {
                    file: PathBuf::from(&source),
                    line: parsed.line,
                    reason: format!(
                        "unknown system call `{name}` (mark it optional with `?{name}` or \
                         security.seccomp.optional)"
                    ),
                });
            }
        }
        if !rule.syscalls.is_empty() {
            rules.push(rule);
        }
    }
    Ok(Some(SeccompPlan {
        source,
        default_action: policy.default_action,
        architectures,
        rules,
    }))
}

/// Architecture names as the plan writes them, and libseccomp's.
const ARCHES: [(&str, ScmpArch); 18] = [
    ("x86", ScmpArch::X86),
    ("x86_64", ScmpArch::X8664),
    ("x32", ScmpArch::X32),
    ("arm", ScmpArch::Arm),
    ("aarch64", ScmpArch::Aarch64),
    ("loongarch64", ScmpArch::Loongarch64),
    ("mips", ScmpArch::Mips),
    ("mips64", ScmpArch::Mips64),
    ("mips64n32", ScmpArch::Mips64N32),
    ("mipsel", ScmpArch::Mipsel),
    ("mipsel64", ScmpArch::Mipsel64),
    ("mipsel64n32", ScmpArch::Mipsel64N32),
    ("ppc", ScmpArch::Ppc),
    ("ppc64", ScmpArch::Ppc64),
    ("ppc64le", ScmpArch::Ppc64Le),
    ("s390", ScmpArch::S390),
    ("s390x", ScmpArch::S390X),
    ("riscv64", ScmpArch::Riscv64),
];

/// libseccomp's architecture for a plan's name.
fn arch(name: &str) -> Option<ScmpArch> {
    ARCHES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// The plan's name of libseccomp's architecture.
fn arch_name(arch: ScmpArch) -> Option<&'static str> {
    ARCHES.iter().find(|(_, a)| *a == arch).map(|(n, _)| *n)
}

/// This host's architecture and those it runs programs of, as LXC and Docker filter them:
/// a call through an architecture the filter does not list is killed.
fn host_architectures() -> Vec<String> {
    let native = ScmpArch::native();
    let compat: &[ScmpArch] = match native {
        ScmpArch::X8664 => &[ScmpArch::X86, ScmpArch::X32],
        ScmpArch::Aarch64 => &[ScmpArch::Arm],
        ScmpArch::S390X => &[ScmpArch::S390],
        ScmpArch::Ppc64 => &[ScmpArch::Ppc],
        _ => &[],
    };
    std::iter::once(native)
        .chain(compat.iter().copied())
        .filter_map(arch_name)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(profile: &str) -> Result<Option<SeccompPlan>, SeccompError> {
        let config = SeccompConfig {
            profile: profile.to_owned(),
            optional: Vec::new(),
        };
        plan(&config, &CapabilitySets::default())
    }

    #[test]
    fn default_policy_denies_what_lxc_does() {
        let plan = plan_of("default").unwrap().unwrap();
        assert_eq!(plan.default_action, SeccompAction::Allow);
        assert_eq!(plan.architectures, ["x86_64", "x86", "x32"]);
        let action = |name: &str| {
            plan.rules
                .iter()
                .find(|r| r.syscalls.iter().any(|s| s == name))
                .map(|r| r.action)
        };
        for name in [
            "kexec_load",
            "open_by_handle_at",
            "init_module",
            "delete_module",
        ] {
            assert_eq!(action(name), Some(SeccompAction::Errno(1)), "{name}");
        }
        assert_eq!(action("keyctl"), Some(SeccompAction::Errno(38)));
        assert_eq!(action("umount2"), Some(SeccompAction::Errno(13)));
        assert!(plan_of("none").unwrap().is_none());
    }

    #[test]
    fn lxcs_own_common_policy_reads_and_compiles() {
        let path = "/usr/share/lxc/config/common.seccomp";
        assert!(
            Path::new(path).exists(),
            "{path} is missing: install the lxc package (tests/setup.sh does)"
        );
        let plan = plan_of(path).unwrap().unwrap();
        assert_eq!(plan.rules.len(), 6);
        assert_eq!(plan.rules[1].syscalls, ["kexec_load"]);
        let cache = tempfile::tempdir().unwrap();
        prepare(&plan, cache.path()).unwrap();
    }

    #[test]
    fn unknown_names_fail_unless_optional() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.conf");
        std::fs::write(&file, "2\ndenylist\n# c\nnot_a_syscall errno 1\n").unwrap();
        let err = plan_of(file.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.ends_with(":4: unknown system call `not_a_syscall` (mark it optional with `?not_a_syscall` or security.seccomp.optional)"), "{err}");
        std::fs::write(&file, "2\ndenylist\n?not_a_syscall errno 1\nmount\n").unwrap();
        let plan = plan_of(file.to_str().unwrap()).unwrap().unwrap();
        assert_eq!(plan.rules.len(), 1);
        assert_eq!(plan.rules[0].syscalls, ["mount"]);
        assert_eq!(plan.rules[0].action, SeccompAction::KillProcess);
    }
}
