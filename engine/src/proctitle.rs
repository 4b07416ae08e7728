//! Renames the current process as `ps` shows it, for the container's init and the monitor.
//!
//! The title is written over the command line the process was started with. Where it needs
//! more room, as the monitor forked from `corral start NAME` does, it runs on over the
//! environment strings that follow the arguments in memory (the environment moves to the
//! heap first): the kernel reads a command line whose last byte is no longer a NUL on into
//! that area, for programs that do this (`setproctitle(3)`). Changing the area's bounds
//! instead (`PR_SET_MM`) needs CAP_SYS_RESOURCE, which hosts may withhold.

use std::ffi::{CStr, CString, c_char};
use std::sync::OnceLock;

/// Where the arguments and the environment strings lie.
#[derive(Debug, Clone, Copy)]
struct Areas {
    args: (usize, usize),
    env: (usize, usize),
}

/// The areas, found once: a process forked later has them at the same place, and reading
/// `/proc/self/stat` took a container's init a tenth of a millisecond.
static AREAS: OnceLock<Option<Areas>> = OnceLock::new();

/// Set once the environment was moved off its area, which the title may then use.
static ENVIRONMENT_MOVED: OnceLock<()> = OnceLock::new();

unsafe extern "C" {
    /// The C library's environment, which `getenv` (and so `std::env::var`) reads.
    static mut environ: *mut *mut c_char;
}

/// Finds the areas now, so that processes forked from this one set their title without
/// looking for them.
pub fn prepare() {
    AREAS.get_or_init(areas);
}

/// Sets the process title: the command line in `/proc/self/cmdline` (overwritten in place,
/// and truncated to the room there is) and the name in `/proc/self/comm`. The process must
/// have a single thread when the title needs the environment's room.
pub fn set(title: &str) {
    if let Ok(name) = CString::new(title.chars().take(15).collect::<String>()) {
        let _ = nix::sys::prctl::set_name(&name);
    }
    let Some(areas) = *AREAS.get_or_init(areas) else {
        return;
    };
    let (start, mut end) = areas.args;
    if title.len() >= end.saturating_sub(start) && areas.env.0 == end {
        ENVIRONMENT_MOVED.get_or_init(move_environment);
        end = areas.env.1;
    }
    let Some(len) = end.checked_sub(start).filter(|len| *len > 1) else {
        return;
    };
    let bytes = title.as_bytes();
    let n = bytes.len().min(len - 1);
    let area = start as *mut u8;
    // SAFETY: [start, end) is this process's argument area (and, once the environment is
    // moved off it, the environment area right after it), as the kernel reports it: mapped
    // and writable. Only its bytes change; nothing keeps references into it across this call
    // (std reads argv lazily, the callers no longer look at their arguments, and `environ`
    // no longer points there). `n < len`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), area, n) };
    // SAFETY: as above; the rest of the area, from `n` to `len`, is zeroed.
    unsafe { std::ptr::write_bytes(area.wrapping_add(n), 0, len - n) };
}

/// Copies the environment strings to the heap and points `environ` at the copies, so that
/// their area can hold the title. The copies live as long as the process.
fn move_environment() {
    // The process has a single thread (see `set`): nothing reads or changes the environment
    // meanwhile.
    // SAFETY: reading the C library's global; `environ` is a NULL-terminated array of C
    // strings, or NULL.
    let mut entry = unsafe { environ };
    let mut copies: Vec<*mut c_char> = Vec::new();
    while !entry.is_null() {
        // SAFETY: `entry` points into that array, which ends with NULL, not yet read.
        let string = unsafe { *entry };
        if string.is_null() {
            break;
        }
        // SAFETY: a non-NULL entry is a NUL-terminated string.
        let string = unsafe { CStr::from_ptr(string) };
        copies.push(CString::from(string).into_raw());
        // SAFETY: the array goes on at least to its NULL, not yet reached.
        entry = unsafe { entry.add(1) };
    }
    copies.push(std::ptr::null_mut());
    // SAFETY: the new array is NULL-terminated, of strings that live as long as the process.
    unsafe { environ = copies.leak().as_mut_ptr() };
}

/// `arg_start`, `arg_end`, `env_start` and `env_end` from `/proc/self/stat` (fields 48 to 51).
fn areas() -> Option<Areas> {
    let stat = crate::procfs::stat_fields("self")?;
    let mut fields = stat.split(' ').skip(45).map(|f| f.parse::<usize>().ok());
    let mut next = || fields.next().flatten();
    Some(Areas {
        args: (next()?, next()?),
        env: (next()?, next()?),
    })
}
