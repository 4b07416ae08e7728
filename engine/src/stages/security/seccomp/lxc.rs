//! LXC's seccomp policy files (`lxc.seccomp.profile`), versions 1 and 2.
//!
//! Version 2, as LXC reads it: line 1 `2`; line 2 `allowlist` or `denylist` (or the legacy
//! `whitelist`, `blacklist`), optionally followed by the default action; then comments
//! (`#`), `reject_force_umount`, architecture sections (`[x86_64]`, `[all]`) and rules
//! `name [action] [[index,value,op(,mask)]...]`. A denylist allows by default and kills on a
//! rule; an allowlist kills by default and allows on a rule. corral also reads `?name` as a
//! system call that may be missing, `kill_thread`, `kill_process`, `log` and `trace N`, and
//! a `#` comment after a rule.
//!
//! Version 1: line 2 `allowlist`, then one system call number per line.

use std::path::Path;

use corral_hooks::{SeccompAction, SeccompArg, SeccompOp, SeccompRule};
use libseccomp::ScmpSyscall;

use super::{Parsed, Policy, SeccompError};

/// What `reject_force_umount` fails with, as LXC: `EACCES`.
const EACCES: u16 = 13;

/// Parses a policy file's text; `file` names it in errors.
pub(super) fn parse(file: &Path, text: &str) -> Result<Policy, SeccompError> {
    let error = |line: usize, reason: String| SeccompError::Policy {
        file: file.to_owned(),
        line,
        reason,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let version = lines.next().map(|(_, l)| l).unwrap_or_default();
    if version != "1" && version != "2" {
        return Err(error(
            1,
            format!("`{version}` is not a policy version (1 or 2)"),
        ));
    }
    let (n, kind) = lines
        .next()
        .ok_or_else(|| error(1, "the policy type (line 2) is missing".into()))?;
    let mut words = kind.split_whitespace();
    let allowlist = match words.next() {
        Some("allowlist" | "whitelist") => true,
        Some("denylist" | "blacklist") if version == "2" => false,
        Some("debug") => return Err(error(n, "`debug` policies are not supported".into())),
        other => {
            return Err(error(
                n,
                format!(
                    "`{}` is not a policy type (allowlist or denylist)",
                    other.unwrap_or("")
                ),
            ));
        }
    };
    let (default_action, rule_action) = if allowlist {
        (SeccompAction::KillProcess, SeccompAction::Allow)
    } else {
        (SeccompAction::Allow, SeccompAction::KillProcess)
    };
    let rest: Vec<&str> = words.collect();
    let default_action = if rest.is_empty() {
        default_action
    } else {
        action(&rest)
            .filter(|(_, used)| *used == rest.len())
            .map(|(a, _)| a)
            .ok_or_else(|| error(n, format!("`{}` is not an action", rest.join(" "))))?
    };
    let mut policy = Policy {
        default_action,
        architectures: None,
        rules: Vec::new(),
    };
    match version {
        "1" => {
            for (n, line) in lines.filter(|(_, l)| !l.is_empty() && !l.starts_with('#')) {
                let number: i32 = line
                    .parse()
                    .map_err(|_| error(n, format!("`{line}` is not a system call number")))?;
                let name = ScmpSyscall::from(number)
                    .get_name()
                    .map_err(|_| error(n, format!("{number} is not a system call here")))?;
                policy.rules.push(Parsed {
                    line: n,
                    rule: rule(name, rule_action, Vec::new(), Vec::new()),
                });
            }
        }
        _ => parse_v2(&mut policy, lines, rule_action).map_err(|(n, r)| error(n, r))?,
    }
    Ok(policy)
}

fn rule(
    name: String,
    action: SeccompAction,
    args: Vec<SeccompArg>,
    arches: Vec<String>,
) -> SeccompRule {
    SeccompRule {
        syscalls: vec![name],
        action,
        args,
        arches,
    }
}

/// The rules of a version 2 policy; an error is its line and reason.
fn parse_v2<'a>(
    policy: &mut Policy,
    lines: impl Iterator<Item = (usize, &'a str)>,
    rule_action: SeccompAction,
) -> Result<(), (usize, String)> {
    // `None`: every architecture; otherwise the section's (kept only if this host's).
    let mut section: Option<Vec<String>> = None;
    for (n, line) in lines {
        let line = line.split_once(" #").map_or(line, |(l, _)| l).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("reject_force_umount") {
            // As LXC: `umount2(_, MNT_FORCE)` fails with EACCES.
            let arg = SeccompArg {
                index: 1,
                op: SeccompOp::MaskedEq,
                value: libc::MNT_FORCE as u64,
                mask: libc::MNT_FORCE as u64,
            };
            let arches = section.clone().unwrap_or_default();
            policy.rules.push(Parsed {
                line: n,
                rule: rule(
                    "umount2".into(),
                    SeccompAction::Errno(EACCES),
                    vec![arg],
                    arches,
                ),
            });
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = section_arches(name).ok_or((n, format!("unknown section [{name}]")))?;
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, rest) = words.split_first().ok_or((n, "empty rule".to_owned()))?;
        let (action, used) = action(rest).unwrap_or((rule_action, 0));
        let args = rest[used..]
            .iter()
            .map(|a| {
                arg(a).ok_or((
                    n,
                    format!("`{a}` is not an argument filter [index,value,op]"),
                ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if args.len() > 6 {
            return Err((n, "more than 6 argument filters".into()));
        }
        policy.rules.push(Parsed {
            line: n,
            rule: rule(
                (*name).to_owned(),
                action,
                args,
                section.clone().unwrap_or_default(),
            ),
        });
    }
    Ok(())
}

/// The architectures of a section, `Some(None)` for `[all]`; `None` for an unknown name.
fn section_arches(name: &str) -> Option<Option<Vec<String>>> {
    let name = name.trim().to_ascii_lowercase();
    let arch = match name.as_str() {
        "all" => return Some(None),
        "arm64" => "aarch64",
        "x86" | "x32" | "x86_64" | "arm" | "aarch64" | "ppc64le" | "ppc64" | "ppc" | "mips64"
        | "mips64n32" | "mips" | "mipsel64" | "mipsel64n32" | "mipsel" | "s390x" | "s390"
        | "loongarch64" | "riscv64" => name.as_str(),
        _ => return None,
    };
    Some(Some(vec![arch.to_owned()]))
}

/// An action at the start of `words`, and how many words it took.
fn action(words: &[&str]) -> Option<(SeccompAction, usize)> {
    let number = |i: usize| words.get(i).and_then(|w| w.parse::<u16>().ok());
    Some(match *words.first()? {
        "allow" => (SeccompAction::Allow, 1),
        "kill" | "kill_process" => (SeccompAction::KillProcess, 1),
        "kill_thread" => (SeccompAction::KillThread, 1),
        "trap" => (SeccompAction::Trap, 1),
        "notify" => (SeccompAction::Notify, 1),
        "log" => (SeccompAction::Log, 1),
        "errno" => (SeccompAction::Errno(number(1)?), 2),
        "trace" => (SeccompAction::Trace(number(1)?), 2),
        _ => return None,
    })
}

/// `[index,value,op]` or `[index,value,op,mask]`.
fn arg(text: &str) -> Option<SeccompArg> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let number = |s: &str| match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    };
    let (index, value, op) = (parts.first()?, parts.get(1)?, parts.get(2)?);
    let op = match *op {
        "SCMP_CMP_NE" | "!=" => SeccompOp::Ne,
        "SCMP_CMP_LT" | "<" => SeccompOp::Lt,
        "SCMP_CMP_LE" | "<=" => SeccompOp::Le,
        "SCMP_CMP_EQ" | "==" => SeccompOp::Eq,
        "SCMP_CMP_GE" | ">=" => SeccompOp::Ge,
        "SCMP_CMP_GT" | ">" => SeccompOp::Gt,
        "SCMP_CMP_MASKED_EQ" | "&=" => SeccompOp::MaskedEq,
        _ => return None,
    };
    let mask = match (op, parts.get(3)) {
        (SeccompOp::MaskedEq, Some(m)) => number(m)?,
        (SeccompOp::MaskedEq, None) => return None,
        (_, None) => 0,
        (_, Some(_)) => return None,
    };
    if parts.len() > 4 {
        return None;
    }
    let index: u32 = index.parse().ok().filter(|i| *i < 6)?;
    Some(SeccompArg {
        index,
        op,
        value: number(value)?,
        mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Policy, String> {
        parse(Path::new("p.conf"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn version_2_sections_actions_and_args() {
        let policy = parse_text(
            "2\nallowlist errno 38\n# comment\n[x86_64]\nread\nwrite errno 5 [0,1,==]\n\
             [mips]\nfork\n[ALL]\nioctl notify [1,0x5401,SCMP_CMP_MASKED_EQ,0xffff] # tty\n",
        )
        .unwrap();
        assert_eq!(policy.default_action, SeccompAction::Errno(38));
        let rules: Vec<_> = policy.rules.iter().map(|p| (p.line, &p.rule)).collect();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[0].1.action, SeccompAction::Allow);
        assert_eq!(rules[0].1.arches, ["x86_64"]);
        assert_eq!(rules[1].1.action, SeccompAction::Errno(5));
        assert_eq!(rules[1].1.args[0].op, SeccompOp::Eq);
        assert_eq!(rules[2].1.arches, ["mips"]);
        assert_eq!(rules[3].0, 10);
        assert!(rules[3].1.arches.is_empty());
        assert_eq!(rules[3].1.args[0].mask, 0xffff);
        assert_eq!(rules[3].1.args[0].value, 0x5401);
    }

    #[test]
    fn malformed_policies_name_the_line() {
        for (text, expected) in [
            (
                "3\ndenylist\n",
                "p.conf:1: `3` is not a policy version (1 or 2)",
            ),
            ("2\n", "p.conf:1: the policy type (line 2) is missing"),
            (
                "2\ngreylist\n",
                "p.conf:2: `greylist` is not a policy type (allowlist or denylist)",
            ),
            (
                "2\ndenylist frobnicate\n",
                "p.conf:2: `frobnicate` is not an action",
            ),
            ("2\ndenylist\n[vax]\n", "p.conf:3: unknown section [vax]"),
            (
                "2\ndenylist\nmount errno x\n",
                "p.conf:3: `errno` is not an argument filter [index,value,op]",
            ),
            (
                "2\ndenylist\n\nmount kill [7,1,==]\n",
                "p.conf:4: `[7,1,==]` is not an argument filter [index,value,op]",
            ),
            (
                "1\nallowlist\n0\nread\n",
                "p.conf:4: `read` is not a system call number",
            ),
        ] {
            assert_eq!(parse_text(text).unwrap_err(), expected, "{text:?}");
        }
    }

    #[test]
    fn version_1_is_numbers() {
        let policy = parse_text("1\nallowlist\n0\n1\n").unwrap();
        assert_eq!(policy.rules[1].rule.syscalls, ["write"]);
        assert_eq!(policy.default_action, SeccompAction::KillProcess);
    }
}
