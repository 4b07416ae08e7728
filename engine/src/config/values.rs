//! Value types that parse themselves from config text: sizes and signals.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A size in bytes, written as an integer or with a binary suffix (`512K`, `256M`, `2G`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `"256M"`, `"1g"`, `"4096"`: suffixes K, M, G, T are powers of 1024.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, suffix) = text.split_at(split);
        let number: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a size (examples: 4096, 512K, 256M, 2G)"))?;
        let shift = match suffix
            .trim()
            .to_ascii_uppercase()
            .trim_end_matches(['B', 'I'])
        {
            "" => 0,
            "K" => 10,
            "M" => 20,
            "G" => 30,
            "T" => 40,
            _ => {
                return Err(format!(
                    "`{text}` has an unknown size suffix (use K, M, G or T)"
                ));
            }
        };
        number
            .checked_mul(1u64 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes or a string such as \"256M\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A signal, written as a name (`SIGPWR`, `PWR`, `SIGRTMIN+3`) or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub i32);

const SIGNAL_NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

impl Signal {
    /// Parses a signal name or number.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a signal (examples: SIGPWR, TERM, SIGRTMIN+3, 15)");
        let upper = text.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        let number = if let Ok(n) = name.parse::<i32>() {
            n
        } else if let Some(rt) = name.strip_prefix("RTMIN") {
            let offset: i32 = if rt.is_empty() {
                0
            } else {
                rt.parse().map_err(|_| bad())?
            };
            libc::SIGRTMIN() + offset
        } else if let Some(rt) = name.strip_prefix("RTMAX") {
            let offset: i32 = if rt.is_empty() {
                0
            } else {
                rt.parse().map_err(|_| bad())?
            };
            libc::SIGRTMAX() + offset
        } else {
            SIGNAL_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
                .ok_or_else(bad)?
        };
        if (1..=libc::SIGRTMAX()).contains(&number) {
            Ok(Signal(number))
        } else {
            Err(bad())
        }
    }

    /// The signal's conventional name (`SIGPWR`, `SIGRTMIN+3`).
    pub fn name(self) -> String {
        match SIGNAL_NAMES.iter().find(|(_, s)| *s == self.0) {
            Some((name, _)) => format!("SIG{name}"),
            None => format!("SIGRTMIN+{}", self.0 - libc::SIGRTMIN()),
        }
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SignalVisitor;
        impl Visitor<'_> for SignalVisitor {
            type Value = Signal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signal name such as \"SIGPWR\" or a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Signal, E> {
                Signal::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Signal, E> {
                Signal::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Signal, E> {
                Signal::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SignalVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(ByteSize::parse("4096"), Ok(ByteSize(4096)));
        assert_eq!(ByteSize::parse("512K"), Ok(ByteSize(512 << 10)));
        assert_eq!(ByteSize::parse("256m"), Ok(ByteSize(256 << 20)));
        assert_eq!(ByteSize::parse("2GiB"), Ok(ByteSize(2 << 30)));
        assert!(ByteSize::parse("12X").is_err());
        assert!(ByteSize::parse("lots").is_err());
        assert!(ByteSize::parse("99999999999999T").is_err());
    }

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(Signal::parse("SIGPWR"), Ok(Signal(libc::SIGPWR)));
        assert_eq!(Signal::parse("term"), Ok(Signal(libc::SIGTERM)));
        assert_eq!(Signal::parse("9"), Ok(Signal(9)));
        assert_eq!(
            Signal::parse("SIGRTMIN+3").map(Signal::name),
            Ok("SIGRTMIN+3".into())
        );
        assert!(Signal::parse("SIGNOPE").is_err());
        assert!(Signal::parse("0").is_err());
    }
}
