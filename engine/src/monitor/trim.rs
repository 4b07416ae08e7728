//! Giving back, shortly after the container runs, the memory its start took and the watch
//! does not need, and again whenever the monitor goes quiet after work (a console's burst of
//! output, clients served). A monitor lives as long as its container: what it holds counts
//! once per container.

use std::ops::Range;
use std::time::{Duration, Instant};

use crate::bare_thread::Joinable;

/// Trims once the monitor has been quiet for [`IdleTrim::FIRST_QUIET`] after the start,
/// then once quiet for [`IdleTrim::QUIET`] after work (a boot's last output often comes
/// after the first trim), and from then on no sooner than [`IdleTrim::GAP`] after the last:
/// a trim reads `/proc/self/smaps` (about 0.1 ms), and a monitor may be asked something
/// every second (`watch corral ls -f`).
#[derive(Debug)]
pub struct IdleTrim {
    due: Option<Instant>,
    /// Whether the first trim is done.
    started: bool,
    /// When the last trim after the first was.
    last: Option<Instant>,
}

impl IdleTrim {
    /// How long the monitor must have been idle.
    const QUIET: Duration = Duration::from_secs(1);
    /// The least time between two trims after work.
    const GAP: Duration = Duration::from_secs(10);
    /// How long the monitor must have been idle for the first trim, from the container's
    /// start on. Not at once: `corral start` returns when the monitor says the container
    /// runs, and on a machine busy with the container's boot, a trim then kept the command
    /// from its exit for 0.7 ms (measured on two CPUs); a container stopped sooner needs no
    /// trim.
    const FIRST_QUIET: Duration = Duration::from_millis(100);

    /// The trim for a container that has just started running.
    pub fn start() -> IdleTrim {
        IdleTrim {
            due: Some(Instant::now() + Self::FIRST_QUIET),
            started: false,
            last: None,
        }
    }

    /// How long the monitor may wait for work before the trim is due, if one is.
    pub fn wait(&self) -> Option<Duration> {
        self.due
            .map(|due| due.saturating_duration_since(Instant::now()))
    }

    /// Records a wait that ended: with work done, the trim is due once quiet again;
    /// without, it is done if due.
    pub fn waited(&mut self, worked: bool) {
        let now = Instant::now();
        if worked {
            self.due = Some(match (self.started, self.last) {
                (false, _) => now + Self::FIRST_QUIET,
                (true, None) => now + Self::QUIET,
                (true, Some(last)) => (now + Self::QUIET).max(last + Self::GAP),
            });
        } else if self.due.is_some_and(|due| due <= now) {
            self.due = None;
            self.last = self.started.then_some(now);
            self.started = true;
            trim_memory();
        }
    }
}

/// Returns the freed heap, the resident pages of read-only file mappings (code and
/// constants, which fault back in from the page cache when touched) and the stack pages
/// below the current frame (zero-filled again if ever reached).
fn trim_memory() {
    let found = crate::procfs::read("/proc/self/smaps")
        .map(|smaps| droppable(&smaps))
        .unwrap_or_default();
    flush_thread_cache();
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    // Code last, so that little runs after: a page of it touched again maps 64 KiB back
    // (the kernel's fault-around), and the flush above ran plenty.
    for range in found.files() {
        // SAFETY: a private, read-only file mapping of this process without a page of its
        // own (as smaps says), whose pages the next access maps again, unchanged, from the
        // file.
        unsafe { madvise_dontneed(range) };
    }
    // Last: everything above ran deeper down the stack.
    if let Some(stack) = found.stack {
        drop_dead_stack(stack);
    }
}

/// # Safety
///
/// Nothing in `range` may be needed again: its pages read as zeros or as their file's.
unsafe fn madvise_dontneed(range: Range<usize>) {
    // SAFETY: the caller vouches for the range.
    unsafe {
        libc::madvise(
            range.start as *mut libc::c_void,
            range.len(),
            libc::MADV_DONTNEED,
        )
    };
}

/// Drops the pages of `stack`, the main stack's mapping, below this function's frame.
///
/// Never inlined: its frame must be its own, below every caller's, so that what lies below
/// it belongs to no live frame.
#[inline(never)]
fn drop_dead_stack(stack: Range<usize>) {
    let here = 0u8;
    if let Some(dead) = dead_stack(stack, std::ptr::addr_of!(here).addr()) {
        // SAFETY: stack more than MARGIN below this frame, which holds nothing live: only
        // the madvise call runs below this frame (within MARGIN), and what ran deeper
        // before has returned.
        unsafe { madvise_dontneed(dead) };
    }
}

const PAGE: usize = 4096;

/// Stack kept below a frame: more than the rest of [`drop_dead_stack`]'s frame and the
/// madvise call's.
const MARGIN: usize = 1024;

/// The whole pages of `stack` more than [`MARGIN`] below `sp`.
fn dead_stack(stack: Range<usize>, sp: usize) -> Option<Range<usize>> {
    let end = sp.saturating_sub(MARGIN) & !(PAGE - 1);
    (stack.contains(&sp) && end > stack.start).then_some(stack.start..end)
}

/// The most file mappings a trim drops; a monitor has about a dozen.
const MAX_FILES: usize = 32;

/// What a trim may drop, kept on the stack: memory the heap held when the trim began stays
/// resident.
#[derive(Debug, Default)]
struct Droppable {
    /// Start and end of file mappings that are not writable and have no anonymous page
    /// (code and constants, never relocated data).
    files: [(usize, usize); MAX_FILES],
    count: usize,
    /// The main stack's mapping.
    stack: Option<Range<usize>>,
}

impl Droppable {
    fn files(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.files[..self.count]
            .iter()
            .map(|&(start, end)| start..end)
    }
}

/// What `/proc/self/smaps` shows may be dropped.
fn droppable(smaps: &str) -> Droppable {
    let mut found = Droppable::default();
    let mut read_only_file: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(anon) = line.strip_prefix("Anonymous:") {
            if let Some(range) = read_only_file.take()
                && anon.trim() == "0 kB"
                && found.count < MAX_FILES
            {
                found.files[found.count] = range;
                found.count += 1;
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
            .then_some((start, end));
        if path == "[stack]" {
            found.stack = Some(start..end);
        }
    }
    found
}

/// glibc's per-thread cache of freed chunks: up to [`CACHED`] chunks of each of
/// [`CACHED_SIZES`] sizes, 32 to 1040 bytes.
const CACHED_SIZES: usize = 64;
const CACHED: usize = 7;

/// Gives the chunks in this thread's malloc cache back to the heap. To malloc they are in
/// use, so `malloc_trim` keeps every page they lie on; scattered over a monitor's heap,
/// they held 12 KiB of its 68 (measured). Allocating takes them out of the cache, and a
/// thread's cache is emptied into the heap when it ends: a thread that frees them and ends
/// at once leaves them free.
fn flush_thread_cache() {
    // Into the main heap: a thread allocating on its own would get an arena of its own,
    // which outlives it.
    // SAFETY: mallopt only changes a setting of malloc's.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    let mut chunks: Vec<*mut libc::c_void> = Vec::with_capacity(CACHED_SIZES * CACHED);
    for size in 0..CACHED_SIZES {
        for _ in 0..CACHED {
            // SAFETY: a plain allocation, freed below.
            chunks.push(unsafe { libc::malloc(16 * size + 24) });
        }
    }
    let arg = (&raw mut chunks).cast();
    // SAFETY: `free_all` reads the vector, which outlives the thread: it is joined here.
    match unsafe { Joinable::spawn(THREAD_STACK, free_all, arg) } {
        Ok(thread) => {
            if thread.join().is_err() {
                // It may still be freeing them: leave them to it.
                std::mem::forget(chunks);
            }
        }
        // Freed here, into the cache again: only a missed saving.
        Err(_) => {
            free_all(arg);
        }
    }
}

/// The stack of the thread freeing the chunks: a few frames of `free`'s.
const THREAD_STACK: usize = 64 * 1024;

/// Frees every chunk in the `Vec<*mut c_void>` at `chunks`, and leaves it empty.
extern "C" fn free_all(chunks: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `flush_thread_cache` passes its vector, which no one else uses meanwhile.
    let chunks = unsafe { &mut *chunks.cast::<Vec<*mut libc::c_void>>() };
    for chunk in chunks.drain(..) {
        // SAFETY: allocated by malloc in `flush_thread_cache`, and freed once: drained.
        unsafe { libc::free(chunk) };
    }
    std::ptr::null_mut()
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
    fn a_trim_is_due_once_quiet_after_work() {
        let due_now = |trim: &mut IdleTrim| trim.due = Some(Instant::now());
        // The first: shortly after the start, and after the boot's output.
        let mut trim = IdleTrim::start();
        let wait = trim.wait().expect("a trim is due after the start");
        assert!(wait <= IdleTrim::FIRST_QUIET);
        trim.waited(true);
        let wait = trim.wait().expect("still due after the boot's output");
        assert!(wait <= IdleTrim::FIRST_QUIET && wait > Duration::ZERO);
        trim.waited(false);
        assert!(
            trim.wait().is_some(),
            "trimmed before the quiet time was over"
        );
        due_now(&mut trim);
        trim.waited(false);
        assert_eq!(trim.wait(), None, "not trimmed once quiet");
        // The second: a second of quiet after work, however soon after the first.
        trim.waited(true);
        let wait = trim.wait().expect("a trim is due after work");
        assert!(wait <= IdleTrim::QUIET && wait > IdleTrim::FIRST_QUIET);
        due_now(&mut trim);
        trim.waited(false);
        assert_eq!(trim.wait(), None, "not trimmed the second time");
        // Later ones: no sooner than GAP after the last.
        trim.waited(true);
        let wait = trim.wait().expect("a trim is due after more work");
        assert!(
            wait > IdleTrim::GAP - IdleTrim::QUIET,
            "trimmed again {wait:?} after the last trim"
        );
        trim.last = Instant::now().checked_sub(IdleTrim::GAP);
        trim.waited(true);
        let wait = trim.wait().expect("a trim is due after work");
        assert!(wait <= IdleTrim::QUIET && wait > IdleTrim::FIRST_QUIET);
    }

    #[test]
    fn only_code_constants_and_dead_stack_are_dropped() {
        let stack = 0x7ffd_0000_0000..0x7ffd_0002_1000;
        let found = droppable(SMAPS);
        let files: Vec<_> = found.files().collect();
        assert!(
            matches!(files.as_slice(), [code] if *code == (0x0040_0000..0x0050_0000)),
            "{files:x?}"
        );
        assert_eq!(found.stack, Some(stack.clone()));
        // The page of `sp` is kept, and the one below while `sp` is near its start.
        assert_eq!(
            dead_stack(stack.clone(), 0x7ffd_0001_8800),
            Some(0x7ffd_0000_0000..0x7ffd_0001_8000)
        );
        assert_eq!(
            dead_stack(stack.clone(), 0x7ffd_0001_8123),
            Some(0x7ffd_0000_0000..0x7ffd_0001_7000)
        );
        assert_eq!(dead_stack(stack, 0x7ffd_0000_0200), None);
        assert_eq!(dead_stack(0x1000..0x2000, 0x7ffd_0001_8800), None);
    }

    /// Bytes malloc counts as in use, the chunks in a thread's cache included.
    fn in_use() -> usize {
        // SAFETY: mallinfo2 only reads malloc's counters.
        unsafe { libc::mallinfo2() }.uordblks
    }

    /// Caches chunks of five sizes, 10.5 KiB in all, and flushes: malloc must count them
    /// free.
    fn flushing_frees_the_cached_chunks() -> bool {
        let mut chunks = Vec::with_capacity(5 * CACHED);
        for size in [100, 200, 300, 400, 500] {
            // SAFETY: plain allocations, freed below.
            chunks.extend((0..CACHED).map(|_| unsafe { libc::malloc(size) }));
        }
        for chunk in chunks {
            // SAFETY: allocated above, freed once: into this thread's cache.
            unsafe { libc::free(chunk) };
        }
        let before = in_use();
        flush_thread_cache();
        before.saturating_sub(in_use()) >= 8 * 1024
    }

    #[test]
    fn a_flush_frees_the_chunks_the_cache_held() {
        // In a child, alone: the harness's other threads allocate meanwhile.
        // SAFETY: the child only allocates (glibc's fork leaves malloc usable) and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let freed = flushing_frees_the_cached_chunks();
                // SAFETY: the child must not return into the test harness.
                unsafe { libc::_exit(i32::from(!freed)) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(
                    status,
                    nix::sys::wait::WaitStatus::Exited(child, 0),
                    "the cached chunks were still in use after the flush"
                );
            }
        }
    }
}
