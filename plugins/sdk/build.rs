//! Every plugin built with the SDK links GCC's unwinder in (`libgcc_eh`), as the `corral`
//! program does (see `engine/build.rs`): loading a plugin then loads no `libgcc_s.so.1`,
//! whose mapping, relocation and `cpuid`-probing constructor a start with hooks would
//! otherwise pay. A plugin's panics unwind with its own copy, and never past its exports,
//! which catch them.

fn main() {
    println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
}
