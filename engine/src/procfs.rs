//! Reading `/proc/PID/stat`.

use std::fs;

/// The fields of `/proc/PID/stat` (`PID` may be `self`) from the third, the state, on,
/// separated by spaces: field N of proc(5) is item N - 3. The command name before them may
/// hold spaces and parentheses, so they are found after its last `)`.
pub fn stat_fields(pid: &str) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
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
