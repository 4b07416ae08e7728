//! Compiling a plan to BPF with libseccomp, keeping it for init, and loading it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Seek};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::Mutex;

use corral_hooks::{SeccompAction, SeccompOp, SeccompPlan};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

use super::{SeccompError, arch, cache};
use crate::stages::OpError;

/// A compiled filter and the key of the plan it came from.
struct Compiled {
    key: u64,
    program: Vec<libc::sock_filter>,
}

/// The filter compiled when planning, which init inherits by being forked.
static PREPARED: Mutex<Option<Compiled>> = Mutex::new(None);

fn key(plan_json: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    plan_json.hash(&mut hasher);
    hasher.finish()
}

/// The plan's JSON: its identity, since every field that shapes the filter is in it.
fn identity(plan: &SeccompPlan) -> String {
    serde_json::to_string(plan).unwrap_or_default()
}

/// Readies `plan`'s filter now, in the monitor, and keeps it for init: from the on-disk
/// `cache` when it holds it, else compiled and put there.
pub fn prepare(plan: &SeccompPlan, cache: &Path) -> Result<(), SeccompError> {
    let json = identity(plan);
    let cached = cache::Identity::new(&json);
    let bytes = match cache::read(cache, &cached) {
        Some(bytes) => bytes,
        None => {
            let bytes = compile(plan)?;
            cache::write(cache, &cached, &bytes);
            bytes
        }
    };
    if let Ok(mut slot) = PREPARED.lock() {
        *slot = Some(Compiled {
            key: key(&json),
            program: decode(&bytes),
        });
    }
    Ok(())
}

fn action(action: SeccompAction) -> ScmpAction {
    match action {
        SeccompAction::Allow => ScmpAction::Allow,
        SeccompAction::Log => ScmpAction::Log,
        SeccompAction::Errno(n) => ScmpAction::Errno(n.into()),
        SeccompAction::KillProcess => ScmpAction::KillProcess,
        SeccompAction::KillThread => ScmpAction::KillThread,
        SeccompAction::Trap => ScmpAction::Trap,
        SeccompAction::Trace(n) => ScmpAction::Trace(n),
        SeccompAction::Notify => ScmpAction::Notify,
    }
}

fn scmp(what: String) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    move |e| SeccompError::Compile(what, e)
}

/// Compiles the plan: one libseccomp context per architecture, each with the rules for it,
/// merged into one filter as LXC does, so that a rule can be for one architecture only.
/// Returns the program as libseccomp exports it (see [`decode`]).
fn compile(plan: &SeccompPlan) -> Result<Vec<u8>, SeccompError> {
    if plan.default_action == SeccompAction::Notify {
        return Err(SeccompError::Invalid(
            "notify cannot be the default action".into(),
        ));
    }
    let default = action(plan.default_action);
    let mut merged: Option<ScmpFilterContext> = None;
    for name in &plan.architectures {
        let arch = arch(name)
            .ok_or_else(|| SeccompError::Invalid(format!("unknown architecture `{name}`")))?;
        let mut ctx = ScmpFilterContext::new(default).map_err(scmp("create a filter".into()))?;
        // Level 2 sorts the calls into a binary tree: a call is found in a few comparisons
        // instead of one per rule, and loading the filter takes less of the kernel's time
        // (it tries every call number against the filter to cache what is always allowed).
        ctx.set_act_badarch(ScmpAction::KillProcess)
            .and_then(|c| c.set_ctl_nnp(false))
            .and_then(|c| c.set_ctl_optimize(2))
            .map_err(scmp("set the filter's attributes".into()))?;
        if arch != ScmpArch::native() {
            ctx.add_arch(arch)
                .and_then(|c| c.remove_arch(ScmpArch::native()))
                .map_err(scmp(format!("select architecture {name}")))?;
        }
        for rule in &plan.rules {
            // libseccomp refuses a rule that does what the default does.
            if rule.action == plan.default_action
                || !(rule.arches.is_empty() || rule.arches.contains(name))
            {
                continue;
            }
            let cmps: Vec<ScmpArgCompare> = rule
                .args
                .iter()
                .map(|a| {
                    let op = match a.op {
                        SeccompOp::Ne => ScmpCompareOp::NotEqual,
                        SeccompOp::Lt => ScmpCompareOp::Less,
                        SeccompOp::Le => ScmpCompareOp::LessOrEqual,
                        SeccompOp::Eq => ScmpCompareOp::Equal,
                        SeccompOp::Ge => ScmpCompareOp::GreaterEqual,
                        SeccompOp::Gt => ScmpCompareOp::Greater,
                        SeccompOp::MaskedEq => ScmpCompareOp::MaskedEqual(a.mask),
                    };
                    ScmpArgCompare::new(a.index, op, a.value)
                })
                .collect();
            for syscall in &rule.syscalls {
                // A native number (or libseccomp's pseudo number): libseccomp translates it
                // for each architecture of the context.
                let nr = ScmpSyscall::from_name(syscall)
                    .map_err(scmp(format!("unknown system call {syscall}")))?;
                if ScmpSyscall::from_name_by_arch(syscall, arch).is_err() {
                    continue; // this architecture has no such call
                }
                ctx.add_rule_conditional(action(rule.action), nr, &cmps)
                    .map_err(scmp(format!("add the rule for {syscall} on {name}")))?;
            }
        }
        merged = Some(match merged {
            None => ctx,
            Some(mut m) => {
                m.merge(ctx)
                    .map_err(scmp(format!("merge architecture {name}")))?;
                m
            }
        });
    }
    let Some(ctx) = merged else {
        return Ok(Vec::new());
    };
    let mut memfd = std::fs::File::from(
        nix::sys::memfd::memfd_create(c"corral-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| SeccompError::Export(e.into()))?,
    );
    ctx.export_bpf(&memfd)
        .map_err(scmp("export the filter".into()))?;
    let mut bytes = Vec::new();
    memfd
        .rewind()
        .and_then(|()| memfd.read_to_end(&mut bytes))
        .map_err(SeccompError::Export)?;
    Ok(bytes)
}

/// A program as libseccomp exports it (struct sock_filter, in this machine's byte order).
fn decode(bytes: &[u8]) -> Vec<libc::sock_filter> {
    bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// Loads the plan's filter into this process: the one prepared by the monitor if it is the
/// plan's, else one compiled now. Returns the listener of `notify` rules, if any.
pub fn load(plan: &SeccompPlan) -> Result<Option<OwnedFd>, OpError> {
    let wanted = key(&identity(plan));
    let prepared = PREPARED
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .filter(|c| c.key == wanted);
    let mut program = match prepared {
        Some(c) => c.program,
        None => decode(&compile(plan).map_err(|e| OpError {
            operation: crate::error_chain(&e),
            errno: libc::EINVAL,
        })?),
    };
    if program.is_empty() {
        return Ok(None);
    }
    let notify = plan.rules.iter().any(|r| r.action == SeccompAction::Notify);
    let flags = if notify {
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| OpError {
            operation: "load the seccomp filter: too many instructions".into(),
            errno: libc::E2BIG,
        })?,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &raw const prog,
        )
    };
    if rc < 0 {
        return Err(OpError {
            operation: "load the seccomp filter".into(),
            errno: nix::errno::Errno::last_raw(),
        });
    }
    if !notify {
        return Ok(None);
    }
    let fd = i32::try_from(rc).map_err(|_| OpError {
        operation: "take the seccomp listener".into(),
        errno: libc::EBADF,
    })?;
    // SAFETY: with NEW_LISTENER, seccomp(2) returned a new descriptor that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(test)]
mod tests {
    use corral_hooks::SeccompRule;

    use super::*;

    #[test]
    fn calls_are_found_through_a_binary_tree() {
        // A list of denied calls, as in the default policy.
        let denied = [
            "kexec_load",
            "init_module",
            "finit_module",
            "delete_module",
            "iopl",
            "ioperm",
            "swapon",
            "swapoff",
            "syslog",
            "acct",
            "quotactl",
            "bpf",
        ];
        let plan = SeccompPlan {
            source: "test".into(),
            default_action: SeccompAction::Allow,
            architectures: vec!["x86_64".into()],
            rules: denied
                .iter()
                .map(|name| SeccompRule {
                    syscalls: vec![(*name).to_owned()],
                    action: SeccompAction::Errno(1),
                    args: Vec::new(),
                    arches: Vec::new(),
                })
                .collect(),
        };
        let program = decode(&compile(&plan).expect("compile"));
        // A chain compares the call number for equality with each denied call in turn; a
        // tree splits the numbers with greater-than comparisons (the x32 check aside, whose
        // constant is above every call number).
        let splits = program
            .iter()
            .filter(|i| {
                let jump = u32::from(i.code) & 0xf0;
                u32::from(i.code) & 0x07 == libc::BPF_JMP
                    && (jump == libc::BPF_JGT || jump == libc::BPF_JGE)
                    && i.k < 0x4000_0000
            })
            .count();
        assert!(
            splits > 0,
            "a chain of {} instructions, no split",
            program.len()
        );
    }
}
