//! Threads started with `pthread_create` itself, for work that must not allocate: a thread
//! of the standard library allocates as it starts, and the monitor clones init with a raw
//! `clone3`, which does not take malloc's locks first (a thread in malloc then would leave
//! init a lock that no one releases).
//!
//! A thread that ends before its process does runs on a stack of its own ([`Joinable`]):
//! glibc keeps the stacks of the threads it allocated for reuse after they end, touched
//! pages and all, which a monitor would then hold for the life of its container.

use std::io;
use std::mem::MaybeUninit;

/// A thread's entry point, with its argument; what it returns is `pthread_join`'s.
pub type Entry = extern "C" fn(*mut libc::c_void) -> *mut libc::c_void;

/// Where a thread's stack is.
#[derive(Debug, Clone, Copy)]
pub enum Stack {
    /// Allocated by glibc, of this many bytes.
    Size(usize),
    /// Memory of the caller's, of this many bytes, that the thread owns until it is joined.
    At(*mut libc::c_void, usize),
}

/// Starts `entry(arg)` on a new thread.
///
/// # Safety
///
/// `entry` must be sound to run with `arg` on another thread, for as long as it runs; with
/// [`Stack::At`], the memory must be writable, of that size, and used by nothing else until
/// the thread is joined.
pub unsafe fn spawn(
    stack: Stack,
    entry: Entry,
    arg: *mut libc::c_void,
) -> io::Result<libc::pthread_t> {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: initialises the attribute object.
    let code = unsafe { libc::pthread_attr_init(attr.as_mut_ptr()) };
    if code != 0 {
        return Err(io::Error::from_raw_os_error(code));
    }
    let mut code = match stack {
        // SAFETY: the attributes were initialised.
        Stack::Size(size) => unsafe { libc::pthread_attr_setstacksize(attr.as_mut_ptr(), size) },
        // SAFETY: the attributes were initialised; the caller hands over the memory.
        Stack::At(base, size) => unsafe {
            libc::pthread_attr_setstack(attr.as_mut_ptr(), base, size)
        },
    };
    let mut id = MaybeUninit::<libc::pthread_t>::uninit();
    if code == 0 {
        // SAFETY: the attributes were initialised; the caller vouches for `entry(arg)`.
        code = unsafe { libc::pthread_create(id.as_mut_ptr(), attr.as_ptr(), entry, arg) };
    }
    // SAFETY: the attributes were initialised and are not used again.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    if code != 0 {
        return Err(io::Error::from_raw_os_error(code));
    }
    // SAFETY: pthread_create succeeded, so it stored the new thread's id.
    Ok(unsafe { id.assume_init() })
}

/// A thread on a stack mapped for it alone, unmapped when it is joined.
#[derive(Debug)]
pub struct Joinable {
    id: libc::pthread_t,
    stack: *mut libc::c_void,
    size: usize,
}

// SAFETY: the stack is only unmapped, by whoever joins the thread; nothing else touches it.
unsafe impl Send for Joinable {}

impl Joinable {
    /// Starts `entry(arg)` on a new thread with a stack of `size` bytes (its frames, and
    /// glibc's thread block and static TLS at the top).
    ///
    /// # Safety
    ///
    /// As for [`spawn`]: `entry` must be sound to run with `arg` on another thread until
    /// the thread is joined.
    pub unsafe fn spawn(size: usize, entry: Entry, arg: *mut libc::c_void) -> io::Result<Joinable> {
        // SAFETY: a new anonymous mapping, placed where nothing else is.
        let stack = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if stack == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the mapping is the thread's until `join`; the caller vouches for the rest.
        match unsafe { spawn(Stack::At(stack, size), entry, arg) } {
            Ok(id) => Ok(Joinable { id, stack, size }),
            Err(e) => {
                // SAFETY: no thread was started on the mapping: it is ours alone.
                unsafe { libc::munmap(stack, size) };
                Err(e)
            }
        }
    }

    /// In a child forked while the thread ran, which has no copy of the thread: gives back
    /// the child's copy of its stack without waiting.
    ///
    /// # Safety
    ///
    /// Only in such a child: where the thread runs, its stack would go from under it.
    pub unsafe fn abandon_after_fork(self) {
        // SAFETY: the caller guarantees no thread of this process uses the mapping.
        unsafe { libc::munmap(self.stack, self.size) };
    }

    /// Waits for the thread to end and gives back its stack; what `entry` returned.
    pub fn join(self) -> io::Result<*mut libc::c_void> {
        let mut ret = std::ptr::null_mut();
        // SAFETY: the thread was started by `spawn` and is joined once: `self` is consumed.
        let code = unsafe { libc::pthread_join(self.id, &raw mut ret) };
        if code != 0 {
            // Still running, perhaps: its stack must stay.
            return Err(io::Error::from_raw_os_error(code));
        }
        // SAFETY: the thread has ended: nothing uses its stack any more.
        unsafe { libc::munmap(self.stack, self.size) };
        Ok(ret)
    }
}
