//! How the `corral` program is linked.
//!
//! At a fixed address, not as a position-independent executable: a PIE corral relocates
//! 136 KiB of pointer tables at every start, and every monitor then keeps those copies as
//! private memory for the life of its container; without PIE they stay shared, read-only
//! pages of the file. Measured on the development machine: 136 KiB less private memory per
//! monitor (a third of it), and about 0.3 ms less per `execute`. The cost is that corral's
//! own code is not placed at a random address; its libraries, heap, stack and threads still
//! are.
//!
//! With GCC's unwinder linked in (`libgcc_eh`), not loaded as `libgcc_s.so.1`: one library
//! less to map and relocate at every start, whose constructor also probes the CPU with
//! `cpuid`, an instruction that traps to the hypervisor in a virtual machine. Measured:
//! 0.06 ms less per corral command. Panics unwind as before; a plugin keeps its own
//! `libgcc_s`, which no unwinding crosses (its exports catch their panics).
//!
//! Delete a line to build the other way.

fn main() {
    println!("cargo:rustc-link-arg-bin=corral=-no-pie");
    println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
}
