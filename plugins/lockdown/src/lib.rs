//! The `lockdown` policy, a starting point for isolation research. With
//! `plugins = ["lockdown"]` and `policies = ["lockdown"]` a container gets:
//!
//! - a read-only rootfs and `no_new_privs`;
//! - no network: a namespace of its own with loopback only, every interface dropped;
//! - capabilities cut to a small set (Docker's default minus `NET_RAW`, `MKNOD`,
//!   `AUDIT_WRITE` and `SETFCAP`), in every set;
//! - a seccomp filter that refuses (`EPERM`) the calls that reach kernel surfaces a
//!   confined program has no use for: namespaces, mounts, modules, keyrings, BPF, perf,
//!   ptrace, userfaultfd, kexec and reboot. An existing filter keeps its rules and gets these;
//! - tight limits, never loosened: 256 MiB of memory and no swap beyond it, 128 tasks,
//!   half a CPU's default weight.
//!
//! `corral plan` shows all of it before anything runs; change the constants to experiment.

use corral_plugin::hooks::{
    NamespaceKind, NamespaceMode, NetworkMode, Plan, SeccompAction, SeccompPlan, SeccompRule,
};
use corral_plugin::{Info, Plugin, export_plugin};

/// The capabilities a locked-down container keeps.
const CAPABILITIES: [&str; 9] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// System calls refused with `EPERM`.
const REFUSED: [&str; 26] = [
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsmount",
    "init_module",
    "finit_module",
    "delete_module",
    "add_key",
    "request_key",
    "keyctl",
    "bpf",
    "perf_event_open",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
];

const MEMORY: u64 = 256 << 20;
const PIDS: u64 = 128;
const CPU_WEIGHT: u64 = 50;

/// Applies the policy.
fn lock_down(plan: &mut Plan) {
    plan.mounts.rootfs.readonly = true;
    plan.security.no_new_privs = true;

    plan.namespaces
        .namespaces
        .insert(NamespaceKind::Net, NamespaceMode::New);
    plan.network.mode = NetworkMode::Empty;
    plan.network.loopback_up = true;
    plan.network.interfaces.clear();
    plan.network.default_bridge = None;

    let caps = &mut plan.security.capabilities;
    for set in [
        &mut caps.bounding,
        &mut caps.effective,
        &mut caps.permitted,
        &mut caps.inheritable,
        &mut caps.ambient,
    ] {
        set.retain(|c| CAPABILITIES.contains(&c.as_str()));
    }

    let seccomp = plan.security.seccomp.get_or_insert_with(|| SeccompPlan {
        source: "lockdown".into(),
        default_action: SeccompAction::Allow,
        architectures: Vec::new(),
        rules: Vec::new(),
    });
    seccomp.rules.push(SeccompRule {
        syscalls: REFUSED.iter().map(|s| (*s).to_owned()).collect(),
        action: SeccompAction::Errno(1),
        args: Vec::new(),
        arches: Vec::new(),
    });

    let limits = &mut plan.cgroups.limits;
    let tighten = |limit: &mut Option<u64>, most: u64| {
        *limit = Some(limit.map_or(most, |l| l.min(most)));
    };
    tighten(&mut limits.memory, MEMORY);
    tighten(&mut limits.memory_swap, MEMORY);
    tighten(&mut limits.pids, PIDS);
    tighten(&mut limits.cpu_weight, CPU_WEIGHT);
}

#[derive(Default)]
struct Lockdown;

impl Plugin for Lockdown {
    fn info(&self) -> Info {
        Info {
            name: "lockdown".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "read-only, offline, strict seccomp, tight limits".into(),
            policies: vec!["lockdown".into()],
            ..Info::default()
        }
    }

    fn policy(&self, name: &str, plan: &mut Plan) -> Result<(), String> {
        match name {
            "lockdown" => {
                lock_down(plan);
                Ok(())
            }
            _ => Err(format!("no policy `{name}` (this plugin has `lockdown`)")),
        }
    }
}

export_plugin!(Lockdown);
