//! The container config file's schema.

use std::collections::BTreeMap;
use std::path::PathBuf;

use corral_hooks::{FileCreate, NamespaceMode, NetworkMode, Propagation};
use serde::{Deserialize, Serialize};

use super::values::{ByteSize, Signal};

/// A container's configuration (`config.toml`). Every key has a default, so a file needs only
/// what differs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainerConfig {
    /// The hostname; defaults to the container's name.
    pub hostname: Option<String>,
    /// The program run as the container's init and how.
    pub init: InitConfig,
    /// The root filesystem.
    pub rootfs: RootfsConfig,
    /// Auto mounts and mount entries.
    pub mounts: MountsConfig,
    /// Which namespaces are new and which are the host's.
    pub namespaces: NamespacesConfig,
    /// The network.
    pub network: NetworkConfig,
    /// Capabilities and privileges.
    pub security: SecurityConfig,
    /// Resource limits.
    pub cgroup: CgroupConfig,
    /// Console and terminals.
    pub console: ConsoleConfig,
    /// The signals used to halt, reboot and stop the container.
    pub signals: SignalsConfig,
    /// Starting with `corral autostart`.
    pub autostart: AutostartConfig,
    /// Plugins the container uses, by name: their network drivers, policies and hooks.
    pub plugins: Vec<String>,
    /// Policies of those plugins, applied in order to the whole plan as it is built.
    pub policies: Vec<String>,
    /// Hooks, in the order they run at each point.
    pub hooks: Vec<super::HookEntry>,
    /// LXC-style hook programs, by type.
    pub hook: super::LxcHooks,
}

/// The container's init program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitConfig {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// A program the command (or `execute`'s arguments) is handed to, like an OCI image's
    /// entrypoint: an application container built around one program.
    pub entrypoint: Vec<String>,
    /// The working directory inside the container.
    pub cwd: PathBuf,
    /// The user ID init runs as.
    pub uid: u32,
    /// The group ID init runs as.
    pub gid: u32,
    /// Supplementary group IDs.
    pub groups: Vec<u32>,
    /// Environment variables, added to a minimal default environment.
    pub env: BTreeMap<String, String>,
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            cmd: vec!["/sbin/init".to_owned()],
            entrypoint: Vec::new(),
            cwd: PathBuf::from("/"),
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            env: BTreeMap::new(),
        }
    }
}

/// The root filesystem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RootfsConfig {
    /// The directory; relative paths are relative to the container's directory.
    pub path: PathBuf,
    /// Whether `/` is read-only.
    pub readonly: bool,
    /// Mount propagation inside the container.
    pub propagation: Propagation,
}

impl Default for RootfsConfig {
    fn default() -> Self {
        RootfsConfig {
            path: PathBuf::from("rootfs"),
            readonly: false,
            propagation: Propagation::Slave,
        }
    }
}

/// How `/proc` is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcMount {
    /// Not mounted.
    Off,
    /// Read-write.
    Rw,
    /// Read-write, with `/proc/sys` and `/proc/sysrq-trigger` read-only.
    Mixed,
}

/// How `/sys` is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SysMount {
    /// Not mounted.
    Off,
    /// Read-only.
    Ro,
    /// Read-write.
    Rw,
}

/// The filesystems mounted automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoMounts {
    /// `/proc`.
    pub proc: ProcMount,
    /// `/sys`.
    pub sys: SysMount,
    /// `/sys/fs/cgroup`, showing the container's own cgroup.
    pub cgroup: corral_hooks::CgroupMount,
}

impl Default for AutoMounts {
    fn default() -> Self {
        AutoMounts {
            proc: ProcMount::Mixed,
            sys: SysMount::Ro,
            cgroup: corral_hooks::CgroupMount::Ro,
        }
    }
}

/// One mount entry (`[[mounts.entry]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountConfig {
    /// A host path for binds; the device or a label for other types.
    pub source: String,
    /// An absolute path inside the container.
    pub target: PathBuf,
    /// The filesystem type, `bind` by default.
    #[serde(default = "bind_type", rename = "type")]
    pub fstype: String,
    /// fstab-style options (`ro`, `nosuid`, `size=64m`).
    #[serde(default)]
    pub options: Vec<String>,
    /// What to create at a missing target: `dir` or `file`.
    #[serde(default)]
    pub create: Option<FileCreate>,
    /// Whether a failure to mount is ignored.
    #[serde(default)]
    pub optional: bool,
}

fn bind_type() -> String {
    "bind".to_owned()
}

/// Mounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MountsConfig {
    /// Auto mounts of `/proc`, `/sys` and `/sys/fs/cgroup`.
    pub auto: AutoMounts,
    /// Mount entries, in order.
    pub entry: Vec<MountConfig>,
}

/// Which namespaces the container gets. The network namespace follows `network.type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamespacesConfig {
    /// Mount namespace.
    pub mnt: NamespaceMode,
    /// PID namespace.
    pub pid: NamespaceMode,
    /// UTS namespace.
    pub uts: NamespaceMode,
    /// IPC namespace.
    pub ipc: NamespaceMode,
    /// Cgroup namespace.
    pub cgroup: NamespaceMode,
    /// Time namespace.
    pub time: NamespaceMode,
}

impl Default for NamespacesConfig {
    fn default() -> Self {
        NamespacesConfig {
            mnt: NamespaceMode::New,
            pid: NamespaceMode::New,
            uts: NamespaceMode::New,
            ipc: NamespaceMode::New,
            cgroup: NamespaceMode::New,
            time: NamespaceMode::Host,
        }
    }
}

/// The network: the namespace, and the interfaces in it (LXC's `lxc.net.N.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// `empty` (a network namespace of its own, with loopback up and the interfaces below)
    /// or `none` (the host's network, and no interfaces).
    #[serde(rename = "type")]
    pub mode: NetworkMode,
    /// The interfaces (`[[network.interface]]`), created in order.
    pub interface: Vec<InterfaceConfig>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            mode: NetworkMode::Empty,
            interface: Vec::new(),
        }
    }
}

/// One interface (`[[network.interface]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceConfig {
    /// The driver: `veth`, `macvlan`, `phys`, `cni`, or one a plugin provides.
    #[serde(rename = "type")]
    pub driver: String,
    /// The name inside the container; `ethN` by default (a `phys` keeps its own).
    #[serde(default)]
    pub name: Option<String>,
    /// The veth's host end; derived from the container's name by default.
    #[serde(default)]
    pub host_name: Option<String>,
    /// The bridge of a veth (corral's default bridge when unset), the parent of a macvlan,
    /// the host interface a `phys` moves in.
    #[serde(default)]
    pub link: Option<String>,
    /// The MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// The hardware address inside; each `x` is a hex digit derived from the container's
    /// name, so it stays the same at every start (`10:66:6a:xx:xx:xx`).
    #[serde(default)]
    pub hwaddr: Option<String>,
    /// Whether the interface is brought up (LXC's `flags = up`).
    #[serde(default = "yes")]
    pub up: bool,
    /// Static IPv4 addresses, `ADDRESS/PREFIX`.
    #[serde(default)]
    pub ipv4: Vec<String>,
    /// The IPv4 default gateway: an address, or `auto` for the bridge's own address.
    #[serde(default)]
    pub ipv4_gateway: Option<String>,
    /// Static IPv6 addresses, `ADDRESS/PREFIX`.
    #[serde(default)]
    pub ipv6: Vec<String>,
    /// The IPv6 default gateway: an address, or `auto` for the bridge's own address.
    #[serde(default)]
    pub ipv6_gateway: Option<String>,
    /// A macvlan's mode: `private`, `vepa`, `bridge` (the default) or `passthru`.
    #[serde(default)]
    pub macvlan_mode: Option<corral_hooks::MacvlanMode>,
    /// Driver settings: for `cni`, `config` (a `.conflist` or `.conf` file) or `network`
    /// (the configuration list inline) and `path` (plugin directories).
    #[serde(default)]
    pub options: toml::Table,
}

fn yes() -> bool {
    true
}

/// Capabilities and privileges: everything the security stage enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Capabilities to drop (`sys_module` or `CAP_SYS_MODULE`); LXC's default list by default.
    pub cap_drop: Vec<String>,
    /// Capabilities to keep, dropping every other; when set, `cap_drop` is ignored.
    pub cap_keep: Vec<String>,
    /// Whether `PR_SET_NO_NEW_PRIVS` is set for init.
    pub no_new_privs: bool,
    /// The seccomp policy.
    pub seccomp: SeccompConfig,
    /// The Landlock policy.
    pub landlock: LandlockConfig,
    /// Paths hidden from the container; OCI's default list by default.
    pub masked_paths: Vec<PathBuf>,
    /// Paths made read-only, besides those `mounts.auto.proc = "mixed"` protects.
    pub readonly_paths: Vec<PathBuf>,
    /// Device rules in LXC's words, applied in order (`deny a`, `allow c 1:3 rwm`,
    /// `allow c 136:* rwm`); LXC's default list by default, empty for no restriction.
    pub devices: Vec<String>,
    /// Namespaced sysctls (`"net.ipv4.ip_forward" = "1"`).
    pub sysctls: BTreeMap<String, String>,
    /// Resource limits by LXC's names: `nofile = "1024:4096"`, `core = 0`, `nproc = "unlimited"`.
    pub rlimits: BTreeMap<String, RlimitValue>,
    /// LSM labels.
    pub lsm: LsmConfig,
}

/// The capabilities LXC drops by default (`/usr/share/lxc/config/common.conf`).
pub const LXC_DEFAULT_CAP_DROP: [&str; 5] = [
    "mac_admin",
    "mac_override",
    "sys_time",
    "sys_module",
    "sys_rawio",
];

/// The paths runc and Docker mask by default.
pub const OCI_MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/firmware",
];

/// The device rules of LXC's `common.conf`: no device but the usual character devices, and
/// `mknod` of any (creating a node is harmless when it cannot be opened).
pub const LXC_DEFAULT_DEVICES: [&str; 13] = [
    "deny a",
    "allow c *:* m",
    "allow b *:* m",
    "allow c 1:3 rwm",
    "allow c 1:5 rwm",
    "allow c 1:7 rwm",
    "allow c 1:8 rwm",
    "allow c 1:9 rwm",
    "allow c 5:0 rwm",
    "allow c 5:1 rwm",
    "allow c 5:2 rwm",
    "allow c 136:* rwm",
    "allow c 10:229 rwm",
];

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            cap_drop: owned(&LXC_DEFAULT_CAP_DROP),
            cap_keep: Vec::new(),
            no_new_privs: false,
            seccomp: SeccompConfig::default(),
            landlock: LandlockConfig::default(),
            masked_paths: OCI_MASKED_PATHS.iter().map(PathBuf::from).collect(),
            readonly_paths: Vec::new(),
            devices: owned(&LXC_DEFAULT_DEVICES),
            sysctls: BTreeMap::new(),
            rlimits: BTreeMap::new(),
            lsm: LsmConfig::default(),
        }
    }
}

/// The seccomp policy (`[security.seccomp]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeccompConfig {
    /// `default` (LXC's common policy and more), `none`, or the absolute path of a policy
    /// file: LXC's format (first line `1` or `2`) or an OCI/Docker JSON profile.
    pub profile: String,
    /// System calls that may be unknown to this host (a newer kernel's): rules naming them
    /// drop them instead of failing. A name written `?name` in a policy is optional too.
    pub optional: Vec<String>,
}

impl Default for SeccompConfig {
    fn default() -> Self {
        SeccompConfig {
            profile: "default".to_owned(),
            optional: Vec::new(),
        }
    }
}

/// Whether and how strictly Landlock applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LandlockMode {
    /// No Landlock ruleset.
    #[default]
    Off,
    /// Enforce what the kernel's Landlock ABI can; nothing on a kernel without Landlock.
    BestEffort,
    /// Fail the start unless the kernel enforces every rule fully.
    Strict,
}

/// The Landlock policy (`[security.landlock]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LandlockConfig {
    /// Off, best-effort or strict.
    pub mode: LandlockMode,
    /// The rules (`[[security.landlock.rule]]`); what none grants is denied.
    pub rule: Vec<corral_hooks::LandlockRule>,
}

/// What to do with an LSM label the kernel cannot apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LsmMissing {
    /// Refuse to start.
    #[default]
    Error,
    /// Start without the label, and say so in the plan.
    Skip,
}

/// LSM labels (`[security.lsm]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LsmConfig {
    /// The AppArmor profile to execute the program under.
    pub apparmor: Option<String>,
    /// The SELinux context to execute the program in.
    pub selinux: Option<String>,
    /// What to do when the kernel does not have the module active.
    pub missing: LsmMissing,
}

/// A resource limit as written in the config: a number, `unlimited`, or `soft:hard`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RlimitValue {
    /// The same soft and hard limit.
    Number(u64),
    /// `unlimited`, `1024`, or `1024:4096`.
    Text(String),
}

/// Resource limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CgroupConfig {
    /// Memory limit (`256M`).
    pub memory: Option<ByteSize>,
    /// Memory plus swap limit; at least `memory`.
    pub memory_swap: Option<ByteSize>,
    /// CPU weight, 1 to 10000 (100 is the kernel's default).
    pub cpu_weight: Option<u64>,
    /// CPU time per period, in microseconds.
    pub cpu_quota_us: Option<u64>,
    /// The quota's period in microseconds (100000 by default).
    pub cpu_period_us: Option<u64>,
    /// CPUs, as a cpuset list (`0-1,3`).
    pub cpuset_cpus: Option<String>,
    /// Memory nodes, as a cpuset list.
    pub cpuset_mems: Option<String>,
    /// The most tasks at once.
    pub pids: Option<u64>,
}

/// Console and terminals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// How many ttys (`/dev/tty1`...) a system container gets.
    pub ttys: u32,
    /// The most pseudo-terminals the container's devpts allows.
    pub ptys: u32,
    /// The console log's size bound: the monitor keeps the log and one predecessor.
    pub log_size: ByteSize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            ttys: 1,
            ptys: 1024,
            log_size: ByteSize(1 << 20),
        }
    }
}

/// Whether and how a container starts with `corral autostart`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutostartConfig {
    /// Whether `corral autostart` starts it.
    pub enabled: bool,
    /// Seconds to wait after starting it, before the next.
    pub delay: u64,
    /// Higher orders start first.
    pub order: i64,
    /// The groups it belongs to (`corral ls -g`, `corral autostart -g`).
    pub groups: Vec<String>,
}

/// The signals that halt, reboot and stop the container's init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    /// Asks init to shut down cleanly; by default SIGRTMIN+3 for systemd, SIGPWR otherwise.
    pub halt: Option<Signal>,
    /// Asks init to reboot.
    pub reboot: Signal,
    /// Ends init when a clean shutdown takes too long.
    pub stop: Signal,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        SignalsConfig {
            halt: None,
            reboot: Signal(libc::SIGINT),
            stop: Signal(libc::SIGKILL),
        }
    }
}
