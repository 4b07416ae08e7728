//! fstab-style mount options, split into `mount(2)` flags and filesystem data.

use nix::mount::MsFlags;

/// Mount options after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedOptions {
    /// Flags for the first `mount(2)` call.
    pub flags: MsFlags,
    /// Propagation flags, applied by a call of their own.
    pub propagation: MsFlags,
    /// Whether this is a bind mount (`bind` or `rbind`).
    pub bind: bool,
    /// Data passed to the filesystem (`size=64m,mode=755`).
    pub data: String,
}

/// Flags that set a bit; their inverse clears it.
const FLAGS: [(&str, &str, MsFlags); 9] = [
    ("ro", "rw", MsFlags::MS_RDONLY),
    ("nosuid", "suid", MsFlags::MS_NOSUID),
    ("nodev", "dev", MsFlags::MS_NODEV),
    ("noexec", "exec", MsFlags::MS_NOEXEC),
    ("sync", "async", MsFlags::MS_SYNCHRONOUS),
    ("dirsync", "", MsFlags::MS_DIRSYNC),
    ("noatime", "atime", MsFlags::MS_NOATIME),
    ("nodiratime", "diratime", MsFlags::MS_NODIRATIME),
    ("strictatime", "", MsFlags::MS_STRICTATIME),
];

const PROPAGATION: [(&str, MsFlags); 8] = [
    ("private", MsFlags::MS_PRIVATE),
    ("slave", MsFlags::MS_SLAVE),
    ("shared", MsFlags::MS_SHARED),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Parses options; words that are not flags become filesystem data.
pub fn parse(options: &[String]) -> ParsedOptions {
    let mut parsed = ParsedOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        bind: false,
        data: String::new(),
    };
    let mut data = Vec::new();
    for option in options.iter().flat_map(|o| o.split(',')).map(str::trim) {
        match option {
            "" | "defaults" => {}
            "bind" => {
                parsed.bind = true;
                parsed.flags |= MsFlags::MS_BIND;
            }
            "rbind" => {
                parsed.bind = true;
                parsed.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
            }
            "relatime" => parsed.flags |= MsFlags::MS_RELATIME,
            "norelatime" => parsed.flags &= !MsFlags::MS_RELATIME,
            "lazytime" => parsed.flags |= MsFlags::MS_LAZYTIME,
            other => {
                if let Some((_, _, flag)) = FLAGS.iter().find(|(set, _, _)| *set == other) {
                    parsed.flags |= *flag;
                } else if let Some((_, _, flag)) = FLAGS
                    .iter()
                    .find(|(_, clear, _)| !clear.is_empty() && *clear == other)
                {
                    parsed.flags &= !*flag;
                } else if let Some((_, flag)) = PROPAGATION.iter().find(|(n, _)| *n == other) {
                    parsed.propagation |= *flag;
                } else {
                    data.push(option);
                }
            }
        }
    }
    parsed.data = data.join(",");
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn flags_data_and_propagation_separate() {
        let p = parse(&strings(&[
            "rbind,ro", "nosuid", "size=64m", "rslave", "mode=755",
        ]));
        assert!(p.bind);
        assert_eq!(
            p.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
        assert_eq!(p.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(p.data, "size=64m,mode=755");
    }

    #[test]
    fn inverse_flags_clear() {
        let p = parse(&strings(&["ro", "rw", "defaults"]));
        assert_eq!(p.flags, MsFlags::empty());
        assert!(!p.bind);
    }
}
