//! The container's side of the pipeline: the cloned process that becomes PID 1.
//!
//! It never runs hook or plugin code. It waits on the sync socket, applies each stage's part
//! of the plan (the one it was cloned with, or a part the monitor sends when hooks changed
//! it since), and at the exec gate starts the program, then stays as a small
//! init: it forwards signals to the program, reaps zombies and exits with the program's
//! status (128+N for signal N).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use corral_hooks::{NamespaceKind, Plan, ProcessPlan};
use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, chdir, dup2_stderr, dup2_stdin, dup2_stdout, execve, setsid, write};

use super::channel::{Channel, FromInit, ToInit};
use crate::stages::cgroups::CgroupView;
use crate::stages::mounts::{ParentDirs, Root, fd_path};
use crate::stages::{self, Op, OpError};

/// Runs init. `chan` is the only descriptor it keeps, besides `console` as its stdio;
/// `cloned` is the plan as it was when init was cloned, which the monitor's messages refer to.
pub fn run(chan: &Channel, console: Option<OwnedFd>, cloned: &Plan) -> ! {
    let code = match serve(chan, console, cloned) {
        Ok(code) => code,
        Err(e) => {
            // The monitor learns what failed, then kills us: this exit is a fallback.
            let _ = chan.send(&FromInit::Failed(e));
            1
        }
    };
    // SAFETY: _exit skips the destructors and atexit handlers of the monitor's image this
    // process was forked from; nothing here needs flushing.
    unsafe { libc::_exit(code) }
}

fn serve(chan: &Channel, console: Option<OwnedFd>, cloned: &Plan) -> Result<i32, OpError> {
    crate::proctitle::set("corral-init");
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).op(|| "set the parent-death signal".into())?;
    if let Some(tty) = console {
        dup2_stdin(&tty).op(|| "attach the terminal".into())?;
        dup2_stdout(&tty).op(|| "attach the terminal".into())?;
        dup2_stderr(&tty).op(|| "attach the terminal".into())?;
    }
    close_other_fds(chan.fd().as_raw_fd());
    // Its last steps are at the exec gate.
    let mut security = None;
    loop {
        let (message, fds): (ToInit, _) = chan.recv_with_fds().map_err(|_| OpError {
            operation: "read from the monitor".into(),
            errno: libc::EPIPE,
        })?;
        let result = match message {
            ToInit::Namespaces(plan) => {
                stages::namespaces::apply(plan.as_ref().unwrap_or(&cloned.namespaces))
            }
            ToInit::Mounts(plan) => stages::mounts::apply(plan.as_ref().unwrap_or(&cloned.mounts)),
            ToInit::Network(plan) => stages::network::apply(
                plan.as_ref().unwrap_or(&cloned.network),
                cloned.namespaces.is_new(NamespaceKind::Net),
            ),
            ToInit::Security(plan) => {
                let applied = stages::security::apply(plan.as_deref().unwrap_or(&cloned.security));
                security = Some(plan);
                applied
            }
            ToInit::Cgroups {
                namespace,
                views,
                readonly,
            } => enter_cgroup(&fds, namespace, &views, readonly),
            ToInit::Exec {
                process,
                time_namespace,
            } => {
                let sent = security.take().ok_or_else(|| OpError {
                    operation: "start the program before the security stage".into(),
                    errno: libc::EPROTO,
                })?;
                let security = sent.as_deref().unwrap_or(&cloned.security);
                let process = process.as_ref().unwrap_or(&cloned.process);
                // Before the security step, which may forbid it and drops CAP_SYS_ADMIN.
                if time_namespace {
                    unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
                        .op(|| "enter a new time namespace".into())?;
                }
                let listener = stages::security::enter(security, process)?;
                let fds: Vec<_> = listener.iter().map(AsFd::as_fd).collect();
                if !process.corral_init {
                    // The program replaces init; the close-on-exec socket closing tells the
                    // monitor that it runs. The seccomp listener goes first.
                    if !fds.is_empty() {
                        let _ = chan.send_with_fds(&FromInit::Started, &fds);
                    }
                    let errno = exec(process);
                    return Err(exec_error(process, errno));
                }
                let child = spawn(process)?;
                let _ = chan.send_with_fds(&FromInit::Started, &fds);
                drop(fds);
                drop(listener);
                return Ok(reap(child));
            }
        };
        // A failed stage ends init: the monitor may have sent the next stages already.
        result?;
        chan.send(&FromInit::Done).map_err(|_| OpError {
            operation: "answer the monitor".into(),
            errno: libc::EPIPE,
        })?;
    }
}

/// Closes every descriptor but stdio and `keep`: nothing of the host leaks in.
pub(crate) fn close_other_fds(keep: i32) {
    let keep = keep.cast_unsigned();
    if keep > 3 {
        // SAFETY: close_range only closes descriptors: those between stdio and `keep`.
        unsafe { libc::close_range(3, keep - 1, 0) };
    }
    // SAFETY: as above, every descriptor above `keep`.
    unsafe { libc::close_range(keep + 1, u32::MAX, 0) };
}

/// The cgroups stage's part: join the cgroup, enter a cgroup namespace rooted there, and
/// mount the container's view of it at `/sys/fs/cgroup`.
fn enter_cgroup(
    join: &[OwnedFd],
    namespace: bool,
    views: &[CgroupView],
    readonly: bool,
) -> Result<(), OpError> {
    // "0" moves the writer itself: on a v1 `tasks` file the kernel then skips the global
    // threadgroup lock whose RCU sync costs milliseconds when another process is moved.
    for fd in join {
        write(fd.as_fd(), b"0").op(|| "join the container's cgroup".into())?;
    }
    if namespace {
        unshare(CloneFlags::CLONE_NEWCGROUP).op(|| "enter a new cgroup namespace".into())?;
    }
    if views.is_empty() {
        return Ok(());
    }
    let root = Root::open(Path::new("/")).op(|| "open /".into())?;
    let ro = if readonly {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let v1 = views.iter().any(|v| v.fstype == "cgroup");
    let base = root
        .create_dir_all(Path::new("/sys/fs/cgroup"))
        .op(|| "find /sys/fs/cgroup".into())?;
    if v1 {
        // v1 hierarchies each need a directory: they go on a tmpfs of their own.
        mount(
            Some("tmpfs"),
            &fd_path(&base),
            Some("tmpfs"),
            flags,
            Some("mode=755"),
        )
        .op(|| "mount a tmpfs on /sys/fs/cgroup".into())?;
    }
    // Made after the tmpfs, so that their directory resolves into it, once for all.
    let mut parents = ParentDirs::new(&root);
    for view in views {
        let target = parents
            .create_dir(Path::new(&view.target))
            .op(|| format!("create {}", view.target))?;
        let data = (!view.data.is_empty()).then_some(view.data.as_str());
        mount(
            Some("cgroup"),
            &fd_path(&target),
            Some(view.fstype.as_str()),
            flags | ro,
            data,
        )
        .op(|| format!("mount {} on {}", view.fstype, view.target))?;
    }
    if v1 && readonly {
        let base = root
            .resolve(Path::new("/sys/fs/cgroup"))
            .op(|| "find /sys/fs/cgroup".into())?;
        mount(
            None::<&str>,
            &fd_path(&base),
            None::<&str>,
            MsFlags::MS_REMOUNT | flags | ro,
            Some("mode=755"),
        )
        .op(|| "remount /sys/fs/cgroup read-only".into())?;
    }
    Ok(())
}

/// Starts the program as init's child. The child shares init's memory until it execs
/// (`CLONE_VM | CLONE_VFORK`, as posix_spawn does): nothing is copied, and a failed exec
/// leaves its error where init reads it.
fn spawn(process: &ProcessPlan) -> Result<Pid, OpError> {
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None).op(|| "block signals".into())?;
    let mut stack = vec![0u8; 256 * 1024];
    let mut failed: i32 = 0;
    let failed_at: *mut i32 = &raw mut failed;
    let child = Box::new(move || {
        let errno = exec(process);
        // SAFETY: the child shares init's memory, and init is suspended until this child
        // execs or exits: nothing else touches `failed` meanwhile.
        unsafe { failed_at.write_volatile(errno as i32) };
        127
    });
    let flags = CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK;
    // SAFETY: the child runs on its own stack, only until it execs or exits, while init
    // waits (CLONE_VFORK); it calls exec(), which makes system calls and builds C strings.
    let pid = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }
        .op(|| "start the program".into())?;
    // SAFETY: the child has exec'd or exited: `failed` is ours again.
    let errno = unsafe { failed_at.read_volatile() };
    if errno != 0 {
        let _ = waitpid(pid, None);
        return Err(exec_error(process, Errno::from_raw(errno)));
    }
    Ok(pid)
}

fn exec_error(process: &ProcessPlan, errno: Errno) -> OpError {
    let program = process.args.first().map_or("", String::as_str);
    OpError {
        operation: format!("execute {program}"),
        errno: errno as i32,
    }
}

/// Prepares the session and execs the program. Returns only on failure.
pub fn exec(process: &ProcessPlan) -> Errno {
    default_dispositions();
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    let _ = setsid();
    if process.terminal {
        // SAFETY: TIOCSCTTY takes an integer argument; stdin is the container's terminal.
        unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    }
    if let Err(e) = chdir(&process.cwd) {
        return e;
    }
    let to_c = |s: &str| CString::new(s).map_err(|_| Errno::EINVAL);
    let Ok(args) = process
        .args
        .iter()
        .map(|a| to_c(a))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Errno::EINVAL;
    };
    let Ok(env) = process
        .env
        .iter()
        .map(|e| to_c(e))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Errno::EINVAL;
    };
    let Some(program) = process.args.first() else {
        return Errno::ENOENT;
    };
    if program.contains('/') {
        return execve(&args[0], &args, &env)
            .err()
            .unwrap_or(Errno::ENOEXEC);
    }
    let path = process
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/bin:/bin");
    let mut error = Errno::ENOENT;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let Ok(candidate) = to_c(&format!("{dir}/{program}")) else {
            continue;
        };
        match execve(&candidate, &args, &env)
            .err()
            .unwrap_or(Errno::ENOEXEC)
        {
            Errno::ENOENT | Errno::ENOTDIR => {}
            e => error = e,
        }
    }
    error
}

/// Gives every signal its default action. An ignored signal stays ignored across exec, and
/// corral ignores `SIGPIPE` (Rust programs do, to get `EPIPE` instead), as may whoever
/// started corral (`nohup`): the program must start as it would on a fresh system, where a
/// shell pipeline ends its writer with `SIGPIPE`. The system call itself, because the C
/// library refuses the two signals it keeps for its threads, which may be ignored too.
fn default_dispositions() {
    // The kernel's `struct sigaction` all zero: SIG_DFL, no flags, an empty mask.
    let default = [0u64; 4];
    let mask_size = size_of::<u64>();
    for signal in 1..=libc::SIGRTMAX() {
        // SAFETY: `default` is a valid kernel sigaction for a mask of `mask_size` bytes, and
        // the old action is not asked for. SIGKILL and SIGSTOP fail, harmlessly.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                default.as_ptr(),
                std::ptr::null_mut::<libc::c_void>(),
                mask_size,
            )
        };
    }
}

/// Init's life once the program runs: forward signals to it, reap every child, and return
/// the program's status once it ends.
fn reap(program: Pid) -> i32 {
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    loop {
        let Ok(signal) = all.wait() else { continue };
        if signal != Signal::SIGCHLD {
            // SIGPWR is how `corral stop` asks init to halt: the program hears SIGTERM.
            let signal = if signal == Signal::SIGPWR {
                Signal::SIGTERM
            } else {
                signal
            };
            let _ = kill(program, signal);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == program => return code,
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == program => {
                    stages::security::explain_death(sig as i32);
                    return 128 + sig as i32;
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}
