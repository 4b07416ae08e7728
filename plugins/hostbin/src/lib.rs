//! The `hostbin` template: an application container built from host binaries.
//!
//! `corral create -t hostbin -n NAME -- /usr/bin/python3 [MORE...]` copies each program into
//! the rootfs at its host path, with every shared library its ELF headers need (the
//! interpreter, `DT_NEEDED` entries resolved through `DT_RUNPATH`/`DT_RPATH` and the
//! system's library directories, recursively), a basic `/etc`, and makes the first program
//! the container's entrypoint: `corral execute -n NAME -- ARGS` runs it with ARGS.
//! A Python interpreter's standard library is bound read-only from the host, since the
//! program cannot run without it and no ELF header names it.

mod elf;

use std::fs;
use std::path::{Path, PathBuf};

use corral_plugin::{Info, Plugin, TemplateRequest, export_plugin};
use serde_json::json;

use elf::closure;

#[derive(Default)]
struct Hostbin;

impl Plugin for Hostbin {
    fn info(&self) -> Info {
        Info {
            name: "hostbin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "application containers from host binaries".into(),
            templates: vec!["hostbin".into()],
            ..Info::default()
        }
    }

    fn template(&self, req: &TemplateRequest) -> Result<serde_json::Value, String> {
        let programs: Vec<PathBuf> = req.args.iter().map(PathBuf::from).collect();
        let Some(main) = programs.first() else {
            return Err(
                "usage: create -t hostbin -n NAME -- /path/to/program [more programs]".into(),
            );
        };
        for program in &programs {
            if !program.is_absolute() {
                return Err(format!(
                    "{}: give programs by absolute path",
                    program.display()
                ));
            }
        }
        for file in closure(&programs)? {
            copy_into(&req.rootfs, &file)?;
        }
        basic_etc(&req.rootfs, &req.container)?;
        let mut mounts = Vec::new();
        if let Some(stdlib) = python_stdlib(main) {
            fs::create_dir_all(req.rootfs.join(stdlib.strip_prefix("/").unwrap_or(&stdlib)))
                .map_err(|e| format!("{}: {e}", stdlib.display()))?;
            mounts.push(json!({
                "source": stdlib, "target": stdlib, "options": ["ro", "nosuid", "nodev"],
            }));
        }
        Ok(json!({
            "init": { "entrypoint": [main], "cmd": [] },
            "mounts": { "entry": mounts },
        }))
    }
}

/// Copies the host file `path` to the same path under `rootfs`, as a file (symlinks are
/// followed, so `/usr/bin/python3` arrives as the program itself), keeping its mode.
fn copy_into(rootfs: &Path, path: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot copy {}: {e}", path.display());
    let target = rootfs.join(path.strip_prefix("/").unwrap_or(path));
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(fail)?;
    }
    fs::copy(path, &target).map(drop).map_err(fail)
}

/// Writes the `/etc` files most programs look at, and the directories they expect.
fn basic_etc(rootfs: &Path, name: &str) -> Result<(), String> {
    let files = [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".to_owned()),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n".to_owned()),
        ("etc/hostname", format!("{name}\n")),
        ("etc/hosts", format!("127.0.0.1 localhost {name}\n::1 localhost\n")),
        ("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n".to_owned()),
        ("etc/resolv.conf", String::new()),
    ];
    for dir in ["etc", "tmp", "root", "proc", "sys", "dev"] {
        fs::create_dir_all(rootfs.join(dir)).map_err(|e| format!("cannot create /{dir}: {e}"))?;
    }
    for (path, text) in files {
        fs::write(rootfs.join(path), text).map_err(|e| format!("cannot write /{path}: {e}"))?;
    }
    Ok(())
}

/// The standard library of a CPython interpreter (`/usr/bin/python3` → `/usr/lib/python3.11`).
fn python_stdlib(program: &Path) -> Option<PathBuf> {
    let real = fs::canonicalize(program).ok()?;
    let name = real.file_name()?.to_str()?;
    let version = name.strip_prefix("python")?;
    let prefix = real.parent()?.parent()?;
    let stdlib = prefix.join("lib").join(format!("python{version}"));
    (!version.is_empty() && stdlib.join("os.py").is_file()).then_some(stdlib)
}

export_plugin!(Hostbin);
