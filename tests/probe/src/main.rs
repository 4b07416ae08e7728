//! corral-probe: copied into test containers, it tries what an attacker would, and checks
//! that what is allowed still works.
//!
//! `corral-probe CHECK|GROUP...` runs checks and prints one line each, `ok NAME: what
//! happened` or `FAIL NAME: what happened`; it exits 1 if any failed. `corral-probe list`
//! names them. Built statically (see `tests/src/lib.rs`), it needs nothing from the rootfs.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;

/// What a check found: `Ok` when the container held, `Err` when it did not.
type Outcome = Result<String, String>;

/// A named check.
type Check = (&'static str, fn() -> Outcome);

/// The escape battery: each attempt must fail with the expected error.
const ESCAPE: &[Check] = &[
    ("mount", mount),
    ("umount", umount),
    ("umount-force", umount_force),
    ("pivot-root", pivot_root),
    ("load-module", load_module),
    ("kexec", kexec),
    ("open-by-handle", open_by_handle),
    ("raw-socket", raw_socket),
    ("ptrace-init", ptrace_init),
    ("sysrq", sysrq),
    ("proc-sys", proc_sys),
    ("kcore", kcore),
    ("masked", masked),
    ("sys-write", sys_write),
    ("block-device", block_device),
    ("mem-device", mem_device),
    ("hostname", hostname),
    ("clock", clock),
    ("proc-root", proc_root),
    ("fds", fds),
    ("init-fds", init_fds),
    ("init-exe", init_exe),
    ("keyring", keyring),
    ("bpf", bpf),
    ("userfaultfd", userfaultfd),
];

/// What a container may do, and must still be able to.
const WORKS: &[Check] = &[
    ("tmp", works_tmp),
    ("udp", works_udp),
    ("fork", works_fork),
    ("dev-null", works_dev_null),
    ("proc", works_proc),
];

/// A system call denied under each seccomp action, by `tests/integration/security.rs`'s
/// policy.
const SECCOMP: &[Check] = &[
    ("seccomp-errno", seccomp_errno),
    ("seccomp-kill", seccomp_kill),
    ("seccomp-trap", seccomp_trap),
    ("seccomp-log", seccomp_log),
    ("seccomp-notify", seccomp_notify),
    ("seccomp-args", seccomp_args),
];

/// Checks that need a particular config.
const OTHER: &[Check] = &[
    ("landlock", landlock),
    ("init-exe", init_exe),
    ("bind-80", bind_80),
    ("die-by-seccomp", die_by_seccomp),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let groups = [("escape", ESCAPE), ("works", WORKS), ("seccomp", SECCOMP)];
    if args.is_empty() || args[0] == "list" {
        for (name, checks) in groups.iter().chain(&[("other", OTHER)]) {
            let names: Vec<&str> = checks.iter().map(|(n, _)| *n).collect();
            println!("{name}: {}", names.join(" "));
        }
        return;
    }
    let mut failed = false;
    for arg in &args {
        let checks: Vec<Check> = match groups.iter().find(|(g, _)| g == arg) {
            Some((_, checks)) => checks.to_vec(),
            None => [ESCAPE, WORKS, SECCOMP, OTHER]
                .iter()
                .flat_map(|c| c.iter())
                .filter(|(n, _)| n == arg)
                .take(1)
                .copied()
                .collect(),
        };
        if checks.is_empty() {
            println!("FAIL {arg}: no such check");
            failed = true;
        }
        for (name, check) in checks {
            match check() {
                Ok(what) => println!("ok {name}: {what}"),
                Err(what) => {
                    println!("FAIL {name}: {what}");
                    failed = true;
                }
            }
        }
    }
    std::process::exit(i32::from(failed));
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn describe(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// `rc` is a failed call's result: `Ok` when it failed with one of `expected`.
fn expect(what: &str, rc: i64, expected: &[i32]) -> Outcome {
    if rc >= 0 {
        return Err(format!("{what} succeeded"));
    }
    let e = errno();
    if expected.contains(&e) {
        Ok(format!("{what}: {}", describe(e)))
    } else {
        Err(format!("{what} failed, but with {}", describe(e)))
    }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn open(path: &str, flags: i32) -> i64 {
    // SAFETY: a valid C string and flags; the mode is used only with O_CREAT.
    i64::from(unsafe { libc::open(c(path).as_ptr(), flags | libc::O_CLOEXEC, 0o600) })
}

fn close(fd: i64) {
    // Only what was opened: closing -1 would overwrite the errno the checks read.
    if let Ok(fd) = i32::try_from(fd)
        && fd >= 0
    {
        // SAFETY: closing a descriptor this probe opened.
        unsafe { libc::close(fd) };
    }
}

fn mount() -> Outcome {
    let (src, target, fstype) = (c("none"), c("/tmp"), c("tmpfs"));
    // SAFETY: valid C strings and no data.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    expect("mount tmpfs on /tmp", rc.into(), &[libc::EPERM])
}

fn umount() -> Outcome {
    // SAFETY: a valid C string.
    let rc = unsafe { libc::umount2(c("/proc").as_ptr(), 0) };
    expect("umount /proc", rc.into(), &[libc::EPERM])
}

fn umount_force() -> Outcome {
    // SAFETY: a valid C string.
    let rc = unsafe { libc::umount2(c("/proc").as_ptr(), libc::MNT_FORCE) };
    expect("umount -f /proc", rc.into(), &[libc::EACCES])
}

fn pivot_root() -> Outcome {
    let tmp = c("/tmp");
    // SAFETY: two valid C strings.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, tmp.as_ptr(), tmp.as_ptr()) };
    expect("pivot_root", rc, &[libc::EPERM])
}

fn load_module() -> Outcome {
    let empty = c("");
    // SAFETY: a null image of length 0 and a valid C string: the kernel reads nothing.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            std::ptr::null::<u8>(),
            0,
            empty.as_ptr(),
        )
    };
    expect("init_module", rc, &[libc::EPERM])?;
    // SAFETY: as above, with no descriptor.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, -1, empty.as_ptr(), 0) };
    expect("finit_module", rc, &[libc::EPERM])?;
    // SAFETY: a valid C string.
    let rc = unsafe { libc::syscall(libc::SYS_delete_module, c("loop").as_ptr(), 0) };
    expect("delete_module", rc, &[libc::EPERM])
        .map(|_| "init_module, finit_module, delete_module: EPERM".into())
}

fn kexec() -> Outcome {
    // SAFETY: no segments: the kernel reads nothing.
    let rc = unsafe { libc::syscall(libc::SYS_kexec_load, 0, 0, std::ptr::null::<u8>(), 0) };
    expect("kexec_load", rc, &[libc::EPERM])
}

fn open_by_handle() -> Outcome {
    let root = open("/", libc::O_RDONLY | libc::O_DIRECTORY);
    // struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[8]; }
    let handle = [8u32, 1, 2, 0];
    // SAFETY: `handle` is a file_handle with 8 bytes of handle.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            root,
            handle.as_ptr(),
            libc::O_RDONLY,
        )
    };
    close(root);
    expect("open_by_handle_at", rc, &[libc::EPERM])
}

fn raw_socket() -> Outcome {
    // SAFETY: plain integer arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    close(fd.into());
    expect("a raw ICMP socket", fd.into(), &[libc::EPERM])
}

fn ptrace_init() -> Outcome {
    // SAFETY: plain integer arguments.
    let rc = unsafe { libc::ptrace(libc::PTRACE_ATTACH, 1, 0, 0) };
    expect("ptrace PID 1 (corral-init)", rc, &[libc::EPERM])
}

fn sysrq() -> Outcome {
    // This kernel may have no /proc/sysrq-trigger: then there is nothing to write.
    let fd = open("/proc/sysrq-trigger", libc::O_WRONLY);
    close(fd);
    expect(
        "open /proc/sysrq-trigger for writing",
        fd,
        &[libc::EROFS, libc::ENOENT],
    )
}

fn proc_sys() -> Outcome {
    let fd = open("/proc/sys/kernel/hostname", libc::O_WRONLY);
    close(fd);
    expect(
        "open /proc/sys/kernel/hostname for writing",
        fd,
        &[libc::EROFS],
    )
}

/// Reads a file: `None` if it does not exist.
fn read(path: &str) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("read {path}: {e}")),
    }
}

fn kcore() -> Outcome {
    match read("/proc/kcore")? {
        None => Ok("/proc/kcore does not exist in this kernel".into()),
        Some(b) if b.is_empty() => Ok("/proc/kcore reads empty".into()),
        Some(b) => Err(format!("/proc/kcore gave {} bytes", b.len())),
    }
}

fn masked() -> Outcome {
    for path in ["/proc/keys", "/proc/timer_list", "/proc/sched_debug"] {
        if let Some(b) = read(path)?
            && !b.is_empty()
        {
            return Err(format!("{path} gave {} bytes", b.len()));
        }
    }
    // The first masked directory gets a read-only tmpfs, the next ones a bind of it.
    for dir in ["/proc/acpi", "/sys/firmware"] {
        let entries = std::fs::read_dir(dir).map_or(0, Iterator::count);
        if entries > 0 {
            return Err(format!("{dir} lists {entries} entries"));
        }
        let fd = open(
            &format!("{dir}/corral-probe"),
            libc::O_WRONLY | libc::O_CREAT,
        );
        close(fd);
        expect(
            &format!("create a file in {dir}"),
            fd,
            &[libc::EROFS, libc::ENOENT],
        )?;
    }
    Ok(
        "/proc/keys, /proc/timer_list, /proc/sched_debug, /proc/acpi and /sys/firmware are empty, \
        the directories read-only"
            .into(),
    )
}

fn sys_write() -> Outcome {
    let fd = open("/sys/kernel/corral-probe", libc::O_WRONLY | libc::O_CREAT);
    close(fd);
    expect("create a file in /sys", fd, &[libc::EROFS])?;
    let fd = open(
        "/sys/kernel/mm/transparent_hugepage/enabled",
        libc::O_WRONLY,
    );
    close(fd);
    expect(
        "open a /sys/kernel tunable for writing",
        fd,
        &[libc::EROFS, libc::ENOENT],
    )
}

/// Makes a device node and tries to open it; the node is removed after.
fn device(path: &str, kind: libc::mode_t, major: u32, minor: u32) -> Outcome {
    let name = c(path);
    // SAFETY: a valid C string and plain integers.
    let rc = unsafe { libc::mknod(name.as_ptr(), kind | 0o600, libc::makedev(major, minor)) };
    if rc < 0 {
        return expect(&format!("mknod {path}"), rc.into(), &[libc::EPERM]);
    }
    let fd = open(path, libc::O_RDONLY);
    close(fd);
    // SAFETY: a valid C string.
    unsafe { libc::unlink(name.as_ptr()) };
    expect(
        &format!("open the device {major}:{minor}"),
        fd,
        &[libc::EPERM],
    )
}

fn block_device() -> Outcome {
    device("/tmp/probe-sda", libc::S_IFBLK, 8, 0)
}

fn mem_device() -> Outcome {
    device("/tmp/probe-mem", libc::S_IFCHR, 1, 1)
}

fn hostname() -> Outcome {
    let name = b"probe-pwned";
    // SAFETY: a valid buffer and its length.
    let rc = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    expect("sethostname", rc.into(), &[libc::EPERM])
}

fn clock() -> Outcome {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &raw mut now) };
    // SAFETY: a valid timespec to read.
    let rc = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &raw const now) };
    expect("clock_settime", rc.into(), &[libc::EPERM])
}

fn proc_root() -> Outcome {
    let root = std::fs::metadata("/").map_err(|e| e.to_string())?;
    let mut seen = 0;
    for entry in std::fs::read_dir("/proc")
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        match std::fs::metadata(format!("/proc/{name}/root/")) {
            Ok(m) if (m.dev(), m.ino()) != (root.dev(), root.ino()) => {
                return Err(format!("/proc/{name}/root is another root"));
            }
            Ok(_) => seen += 1,
            Err(_) => {} // not ours to see, or gone
        }
    }
    Ok(format!("the {seen} visible /proc/*/root are all this root"))
}

fn fds() -> Outcome {
    let mut extra = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap_or(-1);
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        // The directory being listed is the one descriptor the listing itself opens.
        if fd > 2 && !target.starts_with("/proc") {
            extra.push(format!("{fd} -> {}", target.display()));
        }
    }
    if extra.is_empty() {
        Ok("only stdio is open".into())
    } else {
        Err(format!("inherited descriptors: {}", extra.join(", ")))
    }
}

fn init_fds() -> Outcome {
    let entries = match std::fs::read_dir("/proc/1/fd") {
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            return Ok("/proc/1/fd: permission denied (init is undumpable)".into());
        }
        Err(e) => return Err(format!("/proc/1/fd: {e}")),
        Ok(entries) => entries,
    };
    // The numbers are listable; where they lead takes CAP_SYS_PTRACE, init being undumpable.
    // Then: stdio, the socket to the monitor, and the pipe init's fork reported its exec on,
    // which init may not have closed yet. Nothing of the host's.
    let mut hidden = 0;
    for entry in entries.flatten() {
        let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap_or(-1);
        let Ok(target) = std::fs::read_link(entry.path()) else {
            hidden += 1;
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if fd > 2 && !target.starts_with("socket:") && !target.starts_with("pipe:") {
            return Err(format!("init holds {fd} -> {target}"));
        }
    }
    if hidden > 0 {
        Ok(format!("init's {hidden} descriptors cannot be followed"))
    } else {
        Ok("init holds only stdio, its socket and its exec pipe".into())
    }
}

fn init_exe() -> Outcome {
    let denied = [libc::EACCES, libc::ETXTBSY, libc::EPERM];
    let fd = open("/proc/1/exe", libc::O_WRONLY);
    close(fd);
    let direct = expect("open /proc/1/exe for writing", fd, &denied)?;
    let path = open("/proc/1/exe", libc::O_PATH);
    if path < 0 {
        return Ok(format!("{direct}; O_PATH: {}", describe(errno())));
    }
    let fd = open(&format!("/proc/self/fd/{path}"), libc::O_RDWR);
    close(fd);
    close(path);
    let reopened = expect("reopen it through /proc/self/fd for writing", fd, &denied)?;
    Ok(format!("{direct}; {reopened}"))
}

fn keyring() -> Outcome {
    // SAFETY: KEYCTL_GET_KEYRING_ID of the session keyring: integers only.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
    expect("keyctl", rc, &[libc::ENOSYS])
}

fn bpf() -> Outcome {
    // SAFETY: a null attribute of size 0: the kernel reads nothing.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, 0, std::ptr::null::<u8>(), 0) };
    expect("bpf", rc, &[libc::EPERM])
}

fn userfaultfd() -> Outcome {
    // SAFETY: flags only.
    let rc = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) };
    close(rc);
    expect("userfaultfd", rc, &[libc::EPERM])
}

fn works_tmp() -> Outcome {
    std::fs::write("/tmp/probe-file", b"probe")
        .and_then(|()| std::fs::read("/tmp/probe-file"))
        .map(|b| format!("wrote and read {} bytes in /tmp", b.len()))
        .map_err(|e| format!("/tmp: {e}"))
}

fn works_udp() -> Outcome {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .map(|_| "a UDP socket on loopback".into())
        .map_err(|e| format!("UDP socket: {e}"))
}

fn works_fork() -> Outcome {
    // SAFETY: the probe is single-threaded; the child only exits.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", describe(errno()))),
        // SAFETY: leaving the child at once.
        0 => unsafe { libc::_exit(0) },
        child => match wait(child) {
            Exit::Code(0) => Ok("fork and wait".into()),
            other => Err(format!("the child ended with {other:?}")),
        },
    }
}

fn works_dev_null() -> Outcome {
    std::fs::write("/dev/null", b"x")
        .map(|()| "write /dev/null".into())
        .map_err(|e| format!("/dev/null: {e}"))
}

fn works_proc() -> Outcome {
    match read("/proc/self/status")? {
        Some(b) if b.starts_with(b"Name:") => Ok("read /proc/self/status".into()),
        _ => Err("/proc/self/status is not readable".into()),
    }
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    Code(i32),
    Signal(i32),
}

fn wait(child: i32) -> Exit {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &raw mut status, 0) };
    if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    }
}

/// Runs `call` in a child and says how the child ended.
fn in_child(call: fn()) -> Exit {
    // SAFETY: the probe is single-threaded; the child runs `call` and exits.
    match unsafe { libc::fork() } {
        // SAFETY: leaving the child without the parent's destructors.
        0 => unsafe {
            call();
            libc::_exit(0)
        },
        child => wait(child),
    }
}

fn seccomp_errno() -> Outcome {
    // SAFETY: integers only.
    let rc = unsafe { libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0) };
    expect("getpriority (errno 42)", rc, &[42])
}

fn seccomp_kill() -> Outcome {
    let ended = in_child(|| {
        // SAFETY: integers only.
        unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) };
    });
    if ended == Exit::Signal(libc::SIGSYS) {
        Ok("sched_getscheduler killed the child with SIGSYS".into())
    } else {
        Err(format!(
            "sched_getscheduler: the child ended with {ended:?}"
        ))
    }
}

extern "C" fn on_sigsys(_: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo.
    let code = unsafe { (*info).si_code };
    // SAFETY: _exit is async-signal-safe. SYS_SECCOMP (1) says seccomp raised the signal.
    unsafe { libc::_exit(if code == 1 { 42 } else { 43 }) }
}

fn seccomp_trap() -> Outcome {
    let ended = in_child(|| {
        // SAFETY: an all-zero sigaction is a valid empty one.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigsys as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        // SAFETY: a valid action whose handler only exits.
        unsafe { libc::sigaction(libc::SIGSYS, &raw const action, std::ptr::null_mut()) };
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: a valid sched_param to fill.
        unsafe { libc::syscall(libc::SYS_sched_getparam, 0, &raw mut param) };
    });
    if ended == Exit::Code(42) {
        Ok("sched_getparam raised SIGSYS with SYS_SECCOMP".into())
    } else {
        Err(format!("sched_getparam: the child ended with {ended:?}"))
    }
}

fn seccomp_log() -> Outcome {
    // SAFETY: integers only.
    let rc = unsafe { libc::syscall(libc::SYS_sched_get_priority_max, libc::SCHED_OTHER) };
    if rc >= 0 {
        Ok("sched_get_priority_max ran (and was logged)".into())
    } else {
        Err(format!("sched_get_priority_max: {}", describe(errno())))
    }
}

fn seccomp_notify() -> Outcome {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    let rc = unsafe { libc::syscall(libc::SYS_sched_rr_get_interval, 0, &raw mut ts) };
    expect(
        "sched_rr_get_interval (the monitor answers EPERM)",
        rc,
        &[libc::EPERM],
    )
}

fn seccomp_args() -> Outcome {
    // SAFETY: integers only.
    let rc = unsafe { libc::syscall(libc::SYS_getpgid, 12345) };
    let denied = expect("getpgid(12345) (errno 7)", rc, &[libc::E2BIG])?;
    // SAFETY: integers only.
    if unsafe { libc::syscall(libc::SYS_getpgid, 0) } < 0 {
        return Err(format!("getpgid(0) failed too: {}", describe(errno())));
    }
    Ok(format!("{denied}; getpgid(0) works"))
}

fn landlock() -> Outcome {
    std::fs::write("/tmp/probe-landlock", b"x").map_err(|e| format!("/tmp is rw but: {e}"))?;
    std::fs::read("/bin/busybox").map_err(|e| format!("/ is ro but: {e}"))?;
    let fd = open("/etc/hostname", libc::O_RDONLY);
    close(fd);
    let hidden = expect("read /etc/hostname (none)", fd, &[libc::EACCES])?;
    let fd = open("/probe-landlock", libc::O_WRONLY | libc::O_CREAT);
    close(fd);
    let ro = expect("create /probe-landlock (ro)", fd, &[libc::EACCES])?;
    Ok(format!("/tmp writable, / readable; {hidden}; {ro}"))
}

fn bind_80() -> Outcome {
    std::net::TcpListener::bind("127.0.0.1:80")
        .map(|_| "bound port 80 (CAP_NET_BIND_SERVICE)".into())
        .map_err(|e| format!("bind port 80: {e}"))
}

fn die_by_seccomp() -> Outcome {
    // SAFETY: integers only; under the test's policy this call kills the process.
    unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) };
    Err("sched_getscheduler did not kill the probe".into())
}
