//! Reading `/proc` files.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Reads a `/proc` file whole. Such files say they are empty, so `fs::read_to_string` starts
/// from a few bytes and reads again at every doubling; one page is read at once here.
pub fn read(path: impl AsRef<Path>) -> io::Result<String> {
    let mut text = String::with_capacity(4096);
    File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// The fields of `/proc/PID/stat` (`PID` may be `self`) from the third, the state, on,
/// separated by spaces: field N of proc(5) is item N - 3. The command name before them may
/// hold spaces and parentheses, so they are found after its last `)`.
pub fn stat_fields(pid: &str) -> Option<String> {
    let stat = read(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.get(stat.rfind(')')? + 2..)?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_start_at_the_state() {
        let fields = stat_fields("self").expect("our own stat");
        // Field 3, the state: one letter (the test's main thread waits, `S`).
        assert!(
            fields.split(' ').next().is_some_and(|s| s.len() == 1),
            "{fields}"
        );
        // Field 4, the parent's PID.
        let ppid: u32 = fields
            .split(' ')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("ppid");
        assert_eq!(ppid, std::os::unix::process::parent_id());
    }
}
