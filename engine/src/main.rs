//! The `corral` command.
//!
//! Its entry point is the C library's `main`, not Rust's: a container's start runs two
//! corral commands (`start`, `stop`), and the standard library's start-up (the main thread's
//! stack guard, found by reading `/proc/self/maps`, and its signal stack) cost a tenth of a
//! millisecond of each. What of it corral needs is done here: `SIGPIPE` ignored, standard
//! descriptors open, panics reported with status 101, standard output flushed at the end.
//! A stack overflow on the main thread then ends corral with a plain `SIGSEGV`.
#![cfg_attr(not(test), no_main)]

mod cli;

/// The command line. Out of line: clap's locals stay off `main`'s frame, under which a
/// monitor lives for as long as its container runs.
#[inline(never)]
fn parse() -> cli::Cli {
    cli::Cli::from_command_line()
}

/// The entry point. The unit tests have the test harness's instead.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    /// The status of a command that panicked, as Rust's own `main` gives it.
    const PANICKED: libc::c_int = 101;
    start_up();
    let status = match std::panic::catch_unwind(run) {
        Ok(code) => libc::c_int::from(code),
        // The panic hook printed the message.
        Err(_) => PANICKED,
    };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    status
}

/// What the standard library's start-up does that corral relies on.
#[cfg_attr(test, allow(dead_code, reason = "called by the entry point only"))]
fn start_up() {
    // A reader that goes away (`corral ls | head`) makes writes fail with EPIPE, which
    // `run` treats as the end of the output, instead of killing corral.
    // SAFETY: SIG_IGN needs no handler; nothing else sets SIGPIPE's action meanwhile.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // A closed standard descriptor would be taken by the first file corral opens, which a
    // print would then write into: /dev/null takes its place.
    for fd in 0..=2 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: a NUL-terminated path; the lowest free descriptor is `fd` itself.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

#[cfg_attr(test, allow(dead_code, reason = "called by the entry point only"))]
fn run() -> u8 {
    // `corral execute` and `start` clone init into a new network namespace, the costliest
    // part of the clone: one is made now, on the other CPU, while the command parses and
    // plans (and, for `start`, forks the monitor, which is handed it).
    if cli::subcommand(std::env::args_os()).is_some_and(|c| c == "execute" || c == "start") {
        corral::pipeline::netns::make_ahead();
    }
    let args = parse();
    if let Err(e) = cli::logging::init(&args.global) {
        eprintln!("corral: error: {e:#}");
        return 1;
    }
    match cli::run(args) {
        Ok(code) => code,
        // A reader that went away (`corral ls | head`) is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            0
        }
        Err(e) => {
            tracing::debug!(error = ?e, "command failed");
            eprintln!("corral: error: {e:#}");
            1
        }
    }
}
