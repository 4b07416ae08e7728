//! Logging for `--log-level` and `--log-file`: one line an event, on standard error or
//! appended to the file, from `tracing` and from the `log` records of the netlink crates.
//!
//! Not `tracing-subscriber`: its span registry alone keeps 32 KiB in every process,
//! written at start, so in the monitor of every running container too; corral has no
//! spans to track.

use std::fmt::{self, Write as _};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use super::GlobalArgs;

/// Sets up logging from `--log-level` and `--log-file`.
pub fn init(args: &GlobalArgs) -> anyhow::Result<()> {
    let filter = Filter::parse(&args.log_level)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("bad --log-level `{}`", args.log_level))?;
    let out: Box<dyn Write + Send> = match &args.log_file {
        Some(path) => Box::new(open(path)?),
        None => Box::new(io::stderr()),
    };
    let sink = Arc::new(Sink {
        filter,
        out: Mutex::new(out),
    });
    log::set_max_level(match sink.filter.max() {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        LevelFilter::TRACE => log::LevelFilter::Trace,
    });
    log::set_boxed_logger(Box::new(LogRecords(Arc::clone(&sink))))
        .context("cannot set up logging")?;
    tracing::subscriber::set_global_default(Events(sink)).context("cannot set up logging")
}

fn open(path: &Path) -> anyhow::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log file {}", path.display()))
}

/// Which levels are logged: a default, and levels for targets (modules) and theirs.
#[derive(Debug, PartialEq, Eq)]
struct Filter {
    default: LevelFilter,
    /// By target, longest first: the first that matches decides.
    targets: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// Parses `LEVEL`, or comma-separated `TARGET=LEVEL` and `LEVEL` directives, as in
    /// `RUST_LOG`: `warn`, `info,corral::net=debug`.
    fn parse(text: &str) -> Result<Filter, String> {
        let mut filter = Filter {
            default: LevelFilter::ERROR,
            targets: Vec::new(),
        };
        for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let (target, level) = match directive.split_once('=') {
                Some((target, level)) => (Some(target.trim()), level.trim()),
                None => (None, directive),
            };
            let level: LevelFilter = level
                .parse()
                .ok()
                .filter(|_| !level.is_empty())
                .ok_or_else(|| {
                    format!("`{level}` is not a level (off, error, warn, info, debug or trace)")
                })?;
            match target {
                Some(target) if !target.is_empty() => filter.targets.push((target.into(), level)),
                Some(_) => return Err(format!("`{directive}` names no target")),
                None => filter.default = level,
            }
        }
        filter
            .targets
            .sort_by_key(|(target, _)| std::cmp::Reverse(target.len()));
        Ok(filter)
    }

    fn level(&self, target: &str) -> LevelFilter {
        self.targets
            .iter()
            .find(|(t, _)| {
                target
                    .strip_prefix(t.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
            .map_or(self.default, |(_, level)| *level)
    }

    fn max(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, level)| *level)
            .fold(self.default, LevelFilter::max)
    }
}

/// Where log lines go, and which.
struct Sink {
    filter: Filter,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Sink {
    fn enabled(&self, level: Level, target: &str) -> bool {
        level <= self.filter.level(target)
    }

    /// Writes one line; a log that cannot be written is not worth failing for.
    fn write(&self, level: Level, message: &str) {
        let line = format!("{} {level:>5} {message}\n", Timestamp(SystemTime::now()));
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = out.write_all(line.as_bytes());
    }
}

/// The `tracing` subscriber: events only (spans are not tracked).
struct Events(Arc<Sink>);

impl Subscriber for Events {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.enabled(*metadata.level(), metadata.target())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.0.filter.max())
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        self.0.write(*event.metadata().level(), &line.text);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's message, then its other fields as `name=value` (strings quoted).
#[derive(Default)]
struct Line {
    text: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let sep = if self.text.is_empty() { "" } else { " " };
        let _ = if field.name() == "message" {
            write!(self.text, "{sep}{value:?}")
        } else {
            write!(self.text, "{sep}{}={value:?}", field.name())
        };
    }
}

/// The `log` records of dependencies, into the same sink.
struct LogRecords(Arc<Sink>);

impl LogRecords {
    fn level(level: log::Level) -> Level {
        match level {
            log::Level::Error => Level::ERROR,
            log::Level::Warn => Level::WARN,
            log::Level::Info => Level::INFO,
            log::Level::Debug => Level::DEBUG,
            log::Level::Trace => Level::TRACE,
        }
    }
}

impl log::Log for LogRecords {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.0
            .enabled(Self::level(metadata.level()), metadata.target())
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let message = format!("{}: {}", record.target(), record.args());
            self.0.write(Self::level(record.level()), &message);
        }
    }

    fn flush(&self) {}
}

/// A time as RFC 3339 in UTC, to the microsecond: `2026-11-29T12:31:29.123456Z`.
struct Timestamp(SystemTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_date(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60,
            since.subsec_micros()
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_level_or_directives_choose_what_is_logged() {
        let filter = Filter::parse("warn").unwrap();
        assert_eq!(filter.level("corral::monitor"), LevelFilter::WARN);
        let filter = Filter::parse("info, corral=debug,corral::net=trace,netlink_sys=off").unwrap();
        assert_eq!(filter.level("corral::monitor"), LevelFilter::DEBUG);
        assert_eq!(filter.level("corral::net::bridge"), LevelFilter::TRACE);
        assert_eq!(filter.level("corralx"), LevelFilter::INFO);
        assert_eq!(filter.level("netlink_sys::socket"), LevelFilter::OFF);
        assert_eq!(filter.max(), LevelFilter::TRACE);
        for bad in ["loud", "corral=", "=debug"] {
            assert!(Filter::parse(bad).is_err(), "{bad} was taken");
        }
    }

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_event_is_one_line_with_its_fields_after_the_message() {
        let captured = Captured::default();
        let sink = Sink {
            filter: Filter::parse("info").unwrap(),
            out: Mutex::new(Box::new(captured.clone())),
        };
        tracing::subscriber::with_default(Events(Arc::new(sink)), || {
            tracing::info!(state = "RUNNING", pid = 42, "state");
            tracing::debug!("not logged at info");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let (stamp, rest) = text.split_once(' ').unwrap();
        assert!(stamp.ends_with('Z') && stamp.len() == 27, "{text}");
        assert_eq!(rest, " INFO state state=\"RUNNING\" pid=42\n");
    }

    #[test]
    fn timestamps_are_utc_dates() {
        let at = |secs| Timestamp(UNIX_EPOCH + Duration::from_micros(secs)).to_string();
        assert_eq!(at(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(1_795_954_289_123_456), "2026-11-29T12:11:29.123456Z");
    }
}
