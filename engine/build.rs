//! Links the `corral` program at a fixed address (not as a position-independent
//! executable).
//!
//! Measured on the development machine: a PIE corral spends about 1 ms of every `execute`
//! (about a ninth of it) relocating its 136 KiB of pointer tables at start and on the page
//! faults of those copies, and every monitor keeps them as private memory for the life of
//! its container. Without PIE they stay shared, read-only pages of the file. The cost is
//! that corral's own code is not placed at a random address; its libraries, heap, stack
//! and threads still are. Delete this file to build a PIE.

fn main() {
    println!("cargo:rustc-link-arg-bin=corral=-no-pie");
}
