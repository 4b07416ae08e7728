//! Records where libpython lives in the plugin (its rpath), so that corral finds it at run
//! time without `LD_LIBRARY_PATH`, whichever Python PyO3 built against (`PYO3_PYTHON`, or
//! `python3` on `PATH`), and the path of that Python's program.

fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = &config.lib_dir {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    // The interpreter's standard library is found from this program's path: the one the
    // plugin is built against, not whichever `python3` comes first on PATH when it runs.
    let executable = config.executable.as_deref().unwrap_or("python3");
    println!("cargo:rustc-env=CORRAL_PYTHON_EXECUTABLE={executable}");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
