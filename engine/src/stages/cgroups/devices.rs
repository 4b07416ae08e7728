//! Device rules: written to the devices controller on cgroup v1, and compiled into a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the container's cgroup on v2 (written
//! by hand, as runc and crun do: a few instructions per rule do not need an eBPF toolchain).
//!
//! Rules apply in order and the last one that matches decides: an allow rule matches a
//! request whose every access it lists, a deny rule one that asks for any access it lists.
//! A request no rule matches is allowed, as in a new v1 cgroup; lists start with `deny a`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use corral_hooks::{DeviceKind, DeviceRule};

use super::{Cgroup, CgroupError};

/// Enforces `rules` on the container's cgroup; nothing when there are none.
pub fn apply(cgroup: &Cgroup, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    if rules.is_empty() {
        return Ok(());
    }
    if cgroup.version == "v1" {
        let dir = cgroup
            .dirs
            .iter()
            .find(|d| d.join("devices.allow").exists())
            .ok_or_else(|| {
                CgroupError::Unsupported(
                    "device rules need the devices controller, which this host has not mounted"
                        .into(),
                )
            })?;
        // Each file is opened once: the kernel takes one rule per write.
        let mut files: [Option<File>; 2] = [None, None];
        for rule in rules {
            let name = if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            let path = dir.join(name);
            let line = v1_line(rule);
            let slot = &mut files[usize::from(rule.allow)];
            let written = match slot {
                Some(file) => file.write_all(line.as_bytes()),
                None => OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|file| slot.insert(file).write_all(line.as_bytes())),
            };
            written.map_err(|source| CgroupError::Write {
                path,
                value: line,
                source,
            })?;
        }
        return Ok(());
    }
    let dir = cgroup.dir().to_owned();
    let program = program(rules);
    attach(&dir, &program).map_err(|source| CgroupError::Write {
        path: dir,
        value: "a device eBPF program".into(),
        source,
    })
}

/// A rule as v1's `devices.allow` and `devices.deny` take it: `c 1:3 rwm`.
fn v1_line(rule: &DeviceRule) -> String {
    let number = |n: Option<u32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
    match rule.kind {
        DeviceKind::All => "a".to_owned(),
        kind => format!(
            "{} {}:{} {}",
            if kind == DeviceKind::Char { 'c' } else { 'b' },
            number(rule.major),
            number(rule.minor),
            rule.access
        ),
    }
}

/// One eBPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// `BPF_DEVCG_ACC_*` bits of an access string.
fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    })
}

/// The program: r3 holds the device type, r4 the access, r5 the major, r6 the minor; the
/// rules are tested last first, and the first match returns its verdict.
fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major, minor; }
    let mut prog = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV_X, 3, 2, 0, 0),
        insn(AND_K, 3, 0, 0, 0xffff),
        insn(MOV_X, 4, 2, 0, 0),
        insn(RSH_K, 4, 0, 0, 16),
        insn(LDX_W, 5, 1, 4, 0),
        insn(LDX_W, 6, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        // Each test jumps past the block's end on a mismatch: offsets are filled below.
        let mut block: Vec<Insn> = Vec::new();
        match rule.kind {
            DeviceKind::All => {}
            DeviceKind::Block => block.push(insn(JNE_K, 3, 0, 0, 1)),
            DeviceKind::Char => block.push(insn(JNE_K, 3, 0, 0, 2)),
        }
        let bits = access_bits(&rule.access);
        block.push(insn(MOV_X, 7, 4, 0, 0));
        if rule.allow {
            block.push(insn(AND_K, 7, 0, 0, !bits & 7));
            block.push(insn(JNE_K, 7, 0, 0, 0));
        } else {
            block.push(insn(AND_K, 7, 0, 0, bits));
            block.push(insn(JEQ_K, 7, 0, 0, 0));
        }
        for (reg, number) in [(5, rule.major), (6, rule.minor)] {
            if let Some(n) = number.and_then(|n| i32::try_from(n).ok()) {
                block.push(insn(JNE_K, reg, 0, 0, n));
            }
        }
        block.push(insn(MOV_K, 0, 0, 0, i32::from(rule.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K || ins.code == JEQ_K {
                ins.off = i16::try_from(len - i - 1).unwrap_or(i16::MAX);
            }
        }
        prog.extend(block);
    }
    prog.push(insn(MOV_K, 0, 0, 0, 1));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The head of `union bpf_attr` for `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The head of `union bpf_attr` for `BPF_PROG_ATTACH`.
#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid attribute struct for `cmd`, of the size passed; the kernel
    // reads it (and what its pointers reach) during the call only.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_ref(attr), size_of::<T>()) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Loads the program into the kernel.
fn load(program: &[Insn]) -> std::io::Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"corral_device");
    let attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(program.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..ProgLoad::default()
    };
    let fd = i32::try_from(bpf(BPF_PROG_LOAD, &attr)?)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Loads the program and attaches it to the cgroup `dir`, which keeps it after we close it.
fn attach(dir: &PathBuf, program: &[Insn]) -> std::io::Result<()> {
    let prog = load(program)?;
    let cgroup = File::open(dir)?;
    let attr = ProgAttach {
        target_fd: cgroup.as_raw_fd().cast_unsigned(),
        attach_bpf_fd: prog.as_raw_fd().cast_unsigned(),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &attr).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, kind: DeviceKind, major: Option<u32>, access: &str) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor: None,
            access: access.into(),
        }
    }

    #[test]
    fn v1_lines_are_lxcs() {
        assert_eq!(v1_line(&rule(false, DeviceKind::All, None, "rwm")), "a");
        assert_eq!(
            v1_line(&rule(true, DeviceKind::Char, Some(136), "rw")),
            "c 136:* rw"
        );
    }

    /// Runs the program's logic in Rust, to check what it decides.
    fn decide(prog: &[Insn], kind: i64, access: i64, major: i64, minor: i64) -> i64 {
        let mut r = [0i64; 11];
        let mut pc = 0;
        loop {
            let i = prog[pc];
            let (dst, src) = (usize::from(i.regs & 0xf), usize::from(i.regs >> 4));
            pc += 1;
            match i.code {
                LDX_W => {
                    r[dst] =
                        [access << 16 | kind, major, minor][usize::try_from(i.off).unwrap() / 4];
                }
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = i64::from(i.imm),
                AND_K => r[dst] &= i64::from(i.imm),
                RSH_K => r[dst] >>= i.imm,
                JEQ_K if r[dst] == i64::from(i.imm) => pc += usize::try_from(i.off).unwrap(),
                JNE_K if r[dst] != i64::from(i.imm) => pc += usize::try_from(i.off).unwrap(),
                JEQ_K | JNE_K => {}
                EXIT => return r[0],
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_last_matching_rule_decides() {
        let rules = crate::stages::security::devices_plan(
            &crate::config::SecurityConfig::default().devices,
        )
        .unwrap();
        let prog = program(&rules);
        let (block, chr) = (1, 2);
        let (m, r, w) = (1, 2, 4);
        assert_eq!(decide(&prog, chr, r | w, 1, 3), 1, "/dev/null");
        assert_eq!(decide(&prog, chr, r | w, 136, 7), 1, "a pty");
        assert_eq!(decide(&prog, block, r, 8, 0), 0, "a disk");
        assert_eq!(decide(&prog, block, m, 8, 0), 1, "mknod of a disk");
        assert_eq!(decide(&prog, chr, w, 1, 1), 0, "/dev/mem");
        let deny_write = vec![rule(false, DeviceKind::Char, Some(1), "w")];
        assert_eq!(decide(&program(&deny_write), chr, r, 1, 3), 1);
        assert_eq!(decide(&program(&deny_write), chr, r | w, 1, 3), 0);
    }

    #[test]
    fn the_kernel_accepts_the_program() {
        // Loading needs root (CAP_BPF); the integration tests run as root, unit tests may not.
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let rules = crate::stages::security::devices_plan(
            &crate::config::SecurityConfig::default().devices,
        )
        .unwrap();
        load(&program(&rules)).unwrap();
    }
}
