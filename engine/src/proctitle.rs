//! Renames the current process as `ps` shows it, for the container's init and the monitor.

use std::ffi::CString;
use std::fs;
use std::sync::OnceLock;

/// The argument area, found once: a process forked later has it at the same place, and
/// reading `/proc/self/stat` took a container's init a tenth of a millisecond.
static AREA: OnceLock<Option<(usize, usize)>> = OnceLock::new();

/// Finds the argument area now, so that processes forked from this one set their title
/// without looking for it.
pub fn prepare() {
    AREA.get_or_init(argument_area);
}

/// Sets the process title: the command line in `/proc/self/cmdline` (overwritten in place,
/// truncated to the space the original arguments took) and the name in `/proc/self/comm`.
pub fn set(title: &str) {
    if let Ok(name) = CString::new(title.chars().take(15).collect::<String>()) {
        let _ = nix::sys::prctl::set_name(&name);
    }
    let Some((start, end)) = *AREA.get_or_init(argument_area) else {
        return;
    };
    let Some(len) = end.checked_sub(start).filter(|len| *len > 1) else {
        return;
    };
    let bytes = title.as_bytes();
    let n = bytes.len().min(len - 1);
    let area = start as *mut u8;
    // SAFETY: [start, end) is this process's argument area, as the kernel reports it: mapped
    // and writable. Only its bytes change; nothing keeps references into it across this call
    // (std reads argv lazily, and the callers no longer look at their arguments). `n < len`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), area, n) };
    // SAFETY: as above; the rest of the area, from `n` to `len`, is zeroed.
    unsafe { std::ptr::write_bytes(area.wrapping_add(n), 0, len - n) };
}

/// `arg_start` and `arg_end` from `/proc/self/stat` (fields 48 and 49).
fn argument_area() -> Option<(usize, usize)> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis,
    // where field 3 begins.
    let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ').skip(45);
    let start = fields.next()?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    Some((start, end))
}
