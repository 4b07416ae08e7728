//! Records where libpython lives in the plugin (its rpath), so that corral finds it at run
//! time without `LD_LIBRARY_PATH`, whichever Python PyO3 built against (`PYO3_PYTHON`, or
//! `python3` on `PATH`).

fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = &config.lib_dir {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
