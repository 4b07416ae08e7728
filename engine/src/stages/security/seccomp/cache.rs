//! Compiled filters kept on disk between starts, so that a start loads its filter instead of
//! compiling it (libseccomp takes a quarter of a millisecond for the default policy).
//!
//! A file holds one line naming what it was compiled from (this format, libseccomp's
//! version and the plan as JSON), then the program. It is used only when that line is the
//! plan's, and only from a directory that root owns and nobody else may write: the program
//! is loaded into containers as their seccomp filter. Failing to read or write the cache
//! only costs a compilation.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a compiled program came from, as the first line of its file.
pub struct Identity(String);

impl Identity {
    /// The identity of the filter compiled from `plan_json` by this libseccomp.
    pub fn new(plan_json: &str) -> Identity {
        let v = libseccomp::ScmpVersion::current().ok();
        let (major, minor, micro) = v.map_or((0, 0, 0), |v| (v.major, v.minor, v.micro));
        Identity(format!(
            "corral-seccomp 2 libseccomp {major}.{minor}.{micro} {plan_json}"
        ))
    }

    fn file(&self, dir: &Path) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        self.0.hash(&mut hasher);
        dir.join(format!("{:016x}.bpf", hasher.finish()))
    }
}

/// The program compiled for `identity`, if `dir` holds it and may be trusted.
pub fn read(dir: &Path, identity: &Identity) -> Option<Vec<u8>> {
    let meta = fs::symlink_metadata(dir).ok()?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o022 != 0 {
        tracing::warn!(dir = %dir.display(), "seccomp cache not owned by us alone: not used");
        return None;
    }
    let bytes = fs::read(identity.file(dir)).ok()?;
    let program = bytes
        .strip_prefix(identity.0.as_bytes())?
        .strip_prefix(b"\n")?;
    (program.len() % 8 == 0).then(|| program.to_vec())
}

/// Keeps `program`, compiled for `identity`, in `dir`; written whole or not at all.
pub fn write(dir: &Path, identity: &Identity, program: &[u8]) {
    let file = identity.file(dir);
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let result = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| {
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            out.write_all(identity.0.as_bytes())?;
            out.write_all(b"\n")?;
            out.write_all(program)
        })
        .and_then(|()| fs::rename(&tmp, &file));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        tracing::debug!(file = %file.display(), %e, "cannot keep the compiled seccomp filter");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_only_for_its_own_plan_and_in_a_private_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("cache");
        let (a, b) = (Identity::new("{\"a\":1}"), Identity::new("{\"a\":2}"));
        assert_eq!(read(&dir, &a), None);
        write(&dir, &a, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(read(&dir, &a), Some(vec![1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(read(&dir, &b), None);
        // Another plan whose file name collided would still not be taken.
        fs::rename(a.file(&dir), b.file(&dir)).expect("rename");
        assert_eq!(read(&dir, &b), None);
        write(&dir, &a, &[9; 8]);
        let mut perms = fs::metadata(&dir).expect("dir").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
        fs::set_permissions(&dir, perms).expect("chmod");
        assert_eq!(
            read(&dir, &a),
            None,
            "a world-writable cache is not trusted"
        );
    }
}
