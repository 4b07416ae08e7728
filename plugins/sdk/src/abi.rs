//! The C ABI between the engine and a plugin. Plugin authors never see it: the
//! [`export_plugin!`](crate::export_plugin) macro writes their side.
//!
//! A plugin exports one symbol, [`ENTRY_SYMBOL`], a function returning a pointer to a static
//! [`VTable`]. The engine checks `abi_version` and `struct_size` before calling anything else.
//! Every request and answer is JSON ([`Request`](crate::Request),
//! [`Response`](crate::Response)); a buffer the plugin returns is given back to its `free`.
//! Plugins are never unloaded.

/// The ABI version this SDK speaks. Bumped on any incompatible change.
pub const ABI_VERSION: u32 = 2;

/// The symbol the engine looks up, with its NUL.
pub const ENTRY_SYMBOL: &[u8] = b"corral_plugin_entry\0";

/// The plugin handled the request; the buffer holds the JSON answer.
pub const STATUS_OK: i32 = 0;
/// The plugin refused or failed; the buffer holds the message as UTF-8.
pub const STATUS_ERROR: i32 = 1;
/// The plugin panicked; the buffer holds the panic message.
pub const STATUS_PANIC: i32 = 2;

/// Bytes owned by the plugin, handed to the engine. Given back through [`VTable::free`].
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    /// The first byte.
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
    /// The allocation's capacity, for the plugin to free it.
    pub cap: usize,
}

impl Buffer {
    /// An empty buffer, owning nothing.
    pub const EMPTY: Buffer = Buffer {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };

    /// Hands `bytes` over; [`Buffer::into_vec`] takes them back.
    pub fn from_vec(bytes: Vec<u8>) -> Buffer {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        Buffer {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        }
    }

    /// Takes the bytes back.
    ///
    /// # Safety
    ///
    /// The buffer must come from [`Buffer::from_vec`] in this same library, and not have been
    /// taken back before.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the caller promises these are the parts of a Vec this library leaked.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }
}

/// What a plugin's entry returns. Fields are only ever appended, and `struct_size` says how
/// many the plugin knows.
#[repr(C)]
#[derive(Debug)]
pub struct VTable {
    /// [`ABI_VERSION`] of the SDK the plugin was built with.
    pub abi_version: u32,
    /// `size_of::<VTable>()` in the plugin.
    pub struct_size: u32,
    /// Handles one JSON request (`req`, `len` bytes) and writes the answer into `out`.
    /// Returns one of the `STATUS_` codes. Never unwinds.
    pub call: unsafe extern "C" fn(req: *const u8, len: usize, out: *mut Buffer) -> i32,
    /// Frees a buffer `call` wrote.
    pub free: unsafe extern "C" fn(buf: Buffer),
}

/// The type of the entry symbol.
pub type Entry = unsafe extern "C" fn() -> *const VTable;
