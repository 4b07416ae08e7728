//! Giving back, once the container runs, the memory its start took and the watch does not
//! need. A monitor lives as long as its container: what it holds counts once per container.

use std::fs;
use std::ops::Range;

/// Returns the freed heap, the resident pages of read-only file mappings (code and
/// constants, which fault back in from the page cache when touched) and the stack pages
/// well below the current frame (zero-filled again if ever reached).
///
/// Never inlined: its frame must be its own, below every caller's, so that what lies below
/// it belongs to no live frame.
#[inline(never)]
pub fn trim_memory() {
    let here = 0u8;
    let below = std::ptr::addr_of!(here).addr();
    let ranges = fs::read_to_string("/proc/self/smaps")
        .map(|smaps| droppable(&smaps, below))
        .unwrap_or_default();
    for range in ranges {
        // SAFETY: each range is either a private, read-only file mapping of this process
        // without a page of its own (as smaps says), whose pages the next access maps again,
        // unchanged, from the file; or stack well below this frame (see MARGIN), which holds
        // nothing live.
        unsafe {
            libc::madvise(
                range.start as *mut libc::c_void,
                range.len(),
                libc::MADV_DONTNEED,
            )
        };
    }
    // Last, once the list above is freed too.
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
}

const PAGE: usize = 4096;

/// Stack kept below the current frame: more than the frames and red zone the calls made
/// from here (madvise, malloc_trim) can use.
const MARGIN: usize = 16 * 1024;

/// The address ranges, in `/proc/self/smaps`, that hold nothing to keep: file mappings
/// that are not writable and have no anonymous page (code and constants, never relocated
/// data), and the part of the main stack more than [`MARGIN`] below `sp`.
fn droppable(smaps: &str, sp: usize) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut read_only_file: Option<Range<usize>> = None;
    for line in smaps.lines() {
        if let Some(anon) = line.strip_prefix("Anonymous:") {
            if let Some(range) = read_only_file.take()
                && anon.trim() == "0 kB"
            {
                found.push(range);
            }
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let path = fields.nth(3).unwrap_or("");
        read_only_file = (path.starts_with('/') && !perms.contains('w') && perms.ends_with('p'))
            .then_some(start..end);
        let unused_stack_end = (sp & !(PAGE - 1)).saturating_sub(MARGIN);
        if path == "[stack]" && (start..end).contains(&sp) && unused_stack_end > start {
            found.push(start..unused_stack_end);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
00400000-00500000 r-xp 00000000 08:01 12 /usr/bin/corral
Size:               1024 kB
Anonymous:             0 kB
00500000-00520000 r--p 00100000 08:01 12 /usr/bin/corral
Anonymous:            16 kB
00520000-00530000 rw-p 00120000 08:01 12 /usr/bin/corral
Anonymous:             8 kB
00530000-00540000 rw-p 00000000 00:00 0 [heap]
Anonymous:            64 kB
7f0000000000-7f0000010000 r--s 00000000 00:05 9 /dev/shm/x
Anonymous:             0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
Anonymous:           132 kB
";

    #[test]
    fn only_code_constants_and_dead_stack_are_dropped() {
        let sp = 0x7ffd_0001_8123;
        assert_eq!(
            droppable(SMAPS, sp),
            [0x0040_0000..0x0050_0000, 0x7ffd_0000_0000..0x7ffd_0001_4000]
        );
    }
}
