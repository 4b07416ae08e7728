//! OCI seccomp profiles (`linux.seccomp` of the runtime spec) and Docker's profile files,
//! which add an architecture map and rules that depend on capabilities, architecture or
//! kernel version.

use std::path::Path;

use corral_hooks::{CapabilitySets, SeccompAction, SeccompArg, SeccompOp, SeccompRule};
use serde::Deserialize;

use super::{Parsed, Policy, SeccompError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Profile {
    default_action: Action,
    default_errno_ret: Option<u16>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<Syscall>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(rename = "listenerPath")]
    _listener_path: Option<String>,
    #[serde(rename = "listenerMetadata")]
    _listener_metadata: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Syscall {
    #[serde(default)]
    names: Vec<String>,
    name: Option<String>,
    action: Action,
    errno_ret: Option<u16>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
    #[serde(rename = "comment")]
    _comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: Op,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    min_kernel: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
enum Action {
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_KILL", alias = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    #[serde(rename = "SCMP_ACT_NOTIFY")]
    Notify,
}

#[derive(Deserialize, Clone, Copy)]
enum Op {
    #[serde(rename = "SCMP_CMP_NE")]
    Ne,
    #[serde(rename = "SCMP_CMP_LT")]
    Lt,
    #[serde(rename = "SCMP_CMP_LE")]
    Le,
    #[serde(rename = "SCMP_CMP_EQ")]
    Eq,
    #[serde(rename = "SCMP_CMP_GE")]
    Ge,
    #[serde(rename = "SCMP_CMP_GT")]
    Gt,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEq,
}

/// The error number of `SCMP_ACT_ERRNO` without one, as runc and Docker use.
const DEFAULT_ERRNO: u16 = 1;

fn action(action: Action, errno: Option<u16>) -> SeccompAction {
    match action {
        Action::Allow => SeccompAction::Allow,
        Action::Log => SeccompAction::Log,
        Action::Errno => SeccompAction::Errno(errno.unwrap_or(DEFAULT_ERRNO)),
        Action::KillThread => SeccompAction::KillThread,
        Action::KillProcess => SeccompAction::KillProcess,
        Action::Trap => SeccompAction::Trap,
        Action::Trace => SeccompAction::Trace(errno.unwrap_or(DEFAULT_ERRNO)),
        Action::Notify => SeccompAction::Notify,
    }
}

fn arg(a: &Arg) -> SeccompArg {
    let op = match a.op {
        Op::Ne => SeccompOp::Ne,
        Op::Lt => SeccompOp::Lt,
        Op::Le => SeccompOp::Le,
        Op::Eq => SeccompOp::Eq,
        Op::Ge => SeccompOp::Ge,
        Op::Gt => SeccompOp::Gt,
        // OCI puts the mask in `value` and the value in `valueTwo`, as libseccomp takes them.
        Op::MaskedEq => {
            return SeccompArg {
                index: a.index,
                op: SeccompOp::MaskedEq,
                value: a.value_two,
                mask: a.value,
            };
        }
    };
    SeccompArg {
        index: a.index,
        op,
        value: a.value,
        mask: 0,
    }
}

/// This host as Docker's `includes` and `excludes` see it.
struct Host<'a> {
    goarch: &'static str,
    kernel: (u32, u32),
    capabilities: &'a [String],
}

impl Host<'_> {
    fn has_cap(&self, cap: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Whether a Docker rule applies here.
    fn applies(&self, call: &Syscall) -> bool {
        let inc = &call.includes;
        let exc = &call.excludes;
        inc.caps.iter().all(|c| self.has_cap(c))
            && (inc.arches.is_empty() || inc.arches.iter().any(|a| a == self.goarch))
            && inc
                .min_kernel
                .as_deref()
                .is_none_or(|v| kernel_version(v).is_some_and(|min| self.kernel >= min))
            && !exc.caps.iter().any(|c| self.has_cap(c))
            && !exc.arches.iter().any(|a| a == self.goarch)
            && exc
                .min_kernel
                .as_deref()
                .is_none_or(|v| kernel_version(v).is_some_and(|min| self.kernel < min))
    }
}

/// `6.1.0-18-amd64` → (6, 1).
fn kernel_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Go's name of this host's architecture, which Docker's profiles use.
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// `SCMP_ARCH_X86_64` → `x86_64`.
fn arch_name(scmp: &str) -> String {
    scmp.trim_start_matches("SCMP_ARCH_").to_ascii_lowercase()
}

/// Parses a profile's JSON; `capabilities` are the container's, for Docker's conditions.
pub(super) fn parse(
    file: &Path,
    text: &str,
    capabilities: &CapabilitySets,
) -> Result<Policy, SeccompError> {
    let profile: Profile = serde_json::from_str(text).map_err(|e| SeccompError::Policy {
        file: file.to_owned(),
        line: e.line(),
        reason: e
            .to_string()
            .rsplit_once(" at line ")
            .map_or_else(|| e.to_string(), |(reason, _)| reason.to_owned()),
    })?;
    if let Some(flag) = profile.flags.first() {
        return Err(SeccompError::Policy {
            file: file.to_owned(),
            line: line_of(text, 0, "\"flags\"").1,
            reason: format!("flag `{flag}` is not supported"),
        });
    }
    let uname = nix::sys::utsname::uname().ok();
    let release = uname
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let host = Host {
        goarch: goarch(),
        kernel: kernel_version(&release).unwrap_or((0, 0)),
        capabilities: &capabilities.bounding,
    };
    let native = std::env::consts::ARCH;
    let architectures = if let Some(map) = profile
        .arch_map
        .iter()
        .find(|m| arch_name(&m.architecture) == native)
    {
        Some(
            std::iter::once(&map.architecture)
                .chain(&map.sub_architectures)
                .map(|a| arch_name(a))
                .collect(),
        )
    } else if profile.architectures.is_empty() {
        None
    } else {
        Some(profile.architectures.iter().map(|a| arch_name(a)).collect())
    };
    let mut rules = Vec::new();
    let mut cursor = 0;
    for call in &profile.syscalls {
        let names: Vec<String> = call.names.iter().chain(&call.name).cloned().collect();
        let Some(first) = names.first() else { continue };
        let line;
        (cursor, line) = line_of(text, cursor, &format!("\"{first}\""));
        if !host.applies(call) {
            continue;
        }
        let action = action(call.action, call.errno_ret);
        let args: Vec<SeccompArg> = call.args.iter().map(arg).collect();
        let repeated = args
            .iter()
            .any(|a| args.iter().filter(|b| b.index == a.index).count() > 1);
        // libseccomp takes one condition per argument in a rule: conditions on the same
        // argument are alternatives, one rule each, as runc reads them.
        let groups: Vec<Vec<SeccompArg>> = if repeated {
            args.into_iter().map(|a| vec![a]).collect()
        } else {
            vec![args]
        };
        for args in groups {
            rules.push(Parsed {
                line,
                rule: SeccompRule {
                    syscalls: names.clone(),
                    action,
                    args,
                    arches: Vec::new(),
                },
            });
        }
    }
    Ok(Policy {
        default_action: action(profile.default_action, profile.default_errno_ret),
        architectures,
        rules,
    })
}

/// Finds `needle` from byte `from`: the offset after it, and its 1-based line.
fn line_of(text: &str, from: usize, needle: &str) -> (usize, usize) {
    let at = text
        .get(from..)
        .and_then(|rest| rest.find(needle))
        .map_or(from, |i| from + i);
    let line = text[..at].matches('\n').count() + 1;
    (at + needle.len().min(text.len() - at), line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER_LIKE: &str = r#"{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 1,
	"archMap": [
		{ "architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
		{ "architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"] }
	],
	"syscalls": [
		{ "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" },
		{ "names": ["personality"], "action": "SCMP_ACT_ALLOW",
		  "args": [ { "index": 0, "value": 0, "op": "SCMP_CMP_EQ" },
		            { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" } ] },
		{ "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"] } },
		{ "names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": { "caps": ["CAP_SYS_ADMIN"] },
		  "args": [ { "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" } ],
		  "comment": "s390 differs" },
		{ "names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["amd64"] } },
		{ "names": ["vm86"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["386"] } }
	]
}"#;

    #[test]
    fn docker_profiles_follow_caps_and_arches() {
        let caps = CapabilitySets::default();
        let policy = parse(Path::new("d.json"), DOCKER_LIKE, &caps).unwrap();
        assert_eq!(policy.default_action, SeccompAction::Errno(1));
        assert_eq!(
            policy.architectures.as_deref(),
            Some(&["x86_64".to_owned(), "x86".into(), "x32".into()][..])
        );
        let names: Vec<(&str, usize)> = policy
            .rules
            .iter()
            .map(|p| (p.rule.syscalls[0].as_str(), p.line))
            .collect();
        assert_eq!(
            names,
            [
                ("read", 9),
                ("personality", 10),
                ("personality", 10),
                ("clone", 14),
                ("arch_prctl", 17)
            ]
        );
        let clone = &policy.rules[3].rule.args[0];
        assert_eq!((clone.mask, clone.value), (2_114_060_288, 0));

        let admin = CapabilitySets {
            bounding: vec!["CAP_SYS_ADMIN".into()],
            ..CapabilitySets::default()
        };
        let policy = parse(Path::new("d.json"), DOCKER_LIKE, &admin).unwrap();
        assert!(policy.rules.iter().any(|p| p.rule.syscalls == ["mount"]));
        assert!(!policy.rules.iter().any(|p| p.rule.syscalls == ["clone"]));
    }

    #[test]
    fn malformed_profiles_name_the_line() {
        let caps = CapabilitySets::default();
        let err = |text: &str| {
            parse(Path::new("d.json"), text, &caps)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("{\n \"defaultAction\": \"SCMP_ACT_MAYBE\"\n}"),
            "d.json:2: unknown variant `SCMP_ACT_MAYBE`, expected one of `SCMP_ACT_ALLOW`, \
             `SCMP_ACT_LOG`, `SCMP_ACT_ERRNO`, `SCMP_ACT_KILL`, `SCMP_ACT_KILL_THREAD`, \
             `SCMP_ACT_KILL_PROCESS`, `SCMP_ACT_TRAP`, `SCMP_ACT_TRACE`, `SCMP_ACT_NOTIFY`"
        );
        assert_eq!(
            err("{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n\"syscals\": []}"),
            "d.json:2: unknown field `syscals`, expected one of `defaultAction`, \
             `defaultErrnoRet`, `architectures`, `archMap`, `syscalls`, `flags`, \
             `listenerPath`, `listenerMetadata`"
        );
        assert!(err("{\"defaultAction\": ").starts_with("d.json:1: EOF"));
    }
}
