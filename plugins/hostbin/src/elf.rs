//! The files a program needs to run, from its ELF headers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use goblin::elf::Elf;

/// Where the dynamic loader looks when no `RUNPATH` says otherwise (Debian's multiarch
/// directories first).
const SYSTEM_DIRS: [&str; 6] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// Every file `programs` need: themselves, their ELF interpreter and the shared libraries
/// their `DT_NEEDED` entries name, recursively, each by its host path.
pub fn closure(programs: &[PathBuf]) -> Result<BTreeSet<PathBuf>, String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<PathBuf> = programs.to_vec();
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let elf = match Elf::parse(&bytes) {
            Ok(elf) => elf,
            // A script or data file: it needs no libraries (a script's interpreter is the
            // caller's to list).
            Err(_) => continue,
        };
        if let Some(interp) = elf.interpreter {
            todo.push(PathBuf::from(interp));
        }
        let origin = path.parent().unwrap_or(Path::new("/"));
        let mut dirs: Vec<PathBuf> = elf
            .runpaths
            .iter()
            .chain(&elf.rpaths)
            .flat_map(|p| p.split(':'))
            .map(|d| PathBuf::from(d.replace("$ORIGIN", &origin.to_string_lossy())))
            .collect();
        dirs.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
        for lib in &elf.libraries {
            let found = dirs.iter().map(|d| d.join(lib)).find(|p| p.is_file());
            match found {
                Some(found) => todo.push(found),
                None => return Err(format!("{}: cannot find {lib}", path.display())),
            }
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_needs_its_loader_and_libc() {
        let files = closure(&[PathBuf::from("/bin/ls")]).expect("closure");
        let names: Vec<String> = files
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert!(names.iter().any(|n| n.starts_with("libc.so")), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("ld-linux")), "{names:?}");
    }
}
