//! The security stage's plan: every restriction the container's init and program get, spelt
//! out as it will be applied, so that two policies can be compared by diffing two plans.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The five capability sets of the container's init, by name (`CAP_SYS_ADMIN`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySets {
    /// Capabilities that may ever be gained again.
    pub bounding: Vec<String>,
    /// Capabilities in effect.
    pub effective: Vec<String>,
    /// Capabilities that may be made effective.
    pub permitted: Vec<String>,
    /// Capabilities kept across `execve` for programs with inheritable file capabilities.
    pub inheritable: Vec<String>,
    /// Capabilities kept across `execve` for unprivileged programs.
    pub ambient: Vec<String>,
}

/// What a seccomp filter does with a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompAction {
    /// The call runs.
    Allow,
    /// The call runs and is logged by the kernel's audit.
    Log,
    /// The call fails with this error number.
    Errno(u16),
    /// The whole process is killed with `SIGSYS`.
    KillProcess,
    /// The calling thread is killed with `SIGSYS`.
    KillThread,
    /// The process receives `SIGSYS` and the call does not run.
    Trap,
    /// A tracer is notified with this value; without one, the call fails with `ENOSYS`.
    Trace(u16),
    /// The monitor is asked, through the filter's listener, and answers.
    Notify,
}

/// How a system call argument is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompOp {
    /// `arg != value`
    Ne,
    /// `arg < value`
    Lt,
    /// `arg <= value`
    Le,
    /// `arg == value`
    Eq,
    /// `arg >= value`
    Ge,
    /// `arg > value`
    Gt,
    /// `arg & mask == value`
    MaskedEq,
}

/// A condition on one argument of a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompArg {
    /// The argument's position, 0 to 5.
    pub index: u32,
    /// The comparison.
    pub op: SeccompOp,
    /// The value compared with.
    pub value: u64,
    /// The mask of [`SeccompOp::MaskedEq`]; 0 otherwise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mask: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One rule: what happens to these system calls when every argument condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompRule {
    /// System call names, each known to this host's libseccomp.
    pub syscalls: Vec<String>,
    /// The action.
    pub action: SeccompAction,
    /// Conditions on arguments, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SeccompArg>,
    /// The architectures the rule is for (libseccomp names: `x86_64`, `x86`); empty for all
    /// of [`SeccompPlan::architectures`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
}

/// A seccomp filter, loaded last at the exec gate and inherited by everything in the
/// container, corral's init included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompPlan {
    /// Where the policy came from: `default`, or a policy file.
    pub source: String,
    /// The action for a call no rule matches.
    pub default_action: SeccompAction,
    /// The architectures the filter accepts (libseccomp names); a call made through any
    /// other is killed.
    pub architectures: Vec<String>,
    /// The rules, in the policy's order.
    pub rules: Vec<SeccompRule>,
}

/// What a Landlock rule grants beneath a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LandlockAccess {
    /// Read files, list directories and execute.
    Ro,
    /// Everything the kernel's Landlock ABI can restrict.
    Rw,
    /// Nothing: a hole in a granting parent's rule.
    None,
}

/// A Landlock filesystem rule: a path inside the container and what it grants beneath it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockRule {
    /// An absolute path inside the container.
    pub path: PathBuf,
    /// What it grants.
    pub access: LandlockAccess,
}

/// A Landlock ruleset restricting filesystem access, applied at the exec gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockPlan {
    /// The kernel's Landlock ABI version, detected when planning (0: none).
    pub abi: u32,
    /// Whether a kernel that cannot enforce every rule fails the start (strict), rather than
    /// enforcing what it can (best effort).
    pub strict: bool,
    /// The rules; what none grants is denied.
    pub rules: Vec<LandlockRule>,
}

/// The kind of device a rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Every device.
    All,
    /// Character devices.
    Char,
    /// Block devices.
    Block,
}

/// A device-access rule, as the cgroup devices controller (v1) or its eBPF program (v2)
/// enforces it. Rules apply in order and the last that matches decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRule {
    /// Whether a match allows or denies.
    pub allow: bool,
    /// The kind of device.
    pub kind: DeviceKind,
    /// The major number; `None` for any.
    pub major: Option<u32>,
    /// The minor number; `None` for any.
    pub minor: Option<u32>,
    /// Some of `r` (read), `w` (write), `m` (mknod).
    pub access: String,
}

/// A resource limit, set with `setrlimit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimit {
    /// The resource, as LXC names it (`nofile`, `nproc`, `core`).
    pub resource: String,
    /// The soft limit; `None` for unlimited.
    pub soft: Option<u64>,
    /// The hard limit; `None` for unlimited.
    pub hard: Option<u64>,
}

/// Linux security module labels the program is executed with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsmPlan {
    /// The AppArmor profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor: Option<String>,
    /// The SELinux context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
    /// Configured labels left out because the kernel does not have that module active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// What the security stage enforces, in the order it applies it. When the stage runs:
/// sysctls, rlimits, masked and read-only paths, the bounding set and `no_new_privs`; then
/// the device rules, with the cgroup; and at the exec gate the user, the other capability
/// sets, LSM labels, Landlock and, last, seccomp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityPlan {
    /// The capability sets of init and everything it starts.
    pub capabilities: CapabilitySets,
    /// Whether `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// Namespaced sysctls written under `/proc/sys`, by dotted name.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Resource limits.
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// Paths hidden: `/dev/null` bound over files, an empty read-only tmpfs over
    /// directories. Missing paths are skipped.
    #[serde(default)]
    pub masked_paths: Vec<PathBuf>,
    /// Paths bound read-only onto themselves. Missing paths are skipped.
    #[serde(default)]
    pub readonly_paths: Vec<PathBuf>,
    /// Device-access rules; empty for no restriction.
    #[serde(default)]
    pub devices: Vec<DeviceRule>,
    /// LSM labels.
    #[serde(default)]
    pub lsm: LsmPlan,
    /// The Landlock ruleset, if any.
    #[serde(default)]
    pub landlock: Option<LandlockPlan>,
    /// The seccomp filter, if any.
    #[serde(default)]
    pub seccomp: Option<SeccompPlan>,
}
