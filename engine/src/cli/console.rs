//! `corral console`: the container's console or a tty, through its monitor.

use std::io::Write;
use std::os::fd::AsFd;

use corral::container::Container;
use corral::monitor::Request;
use corral::terminal::{self, RawMode, RelayEnd};

/// Attaches this terminal to tty `tty` (0: the console) until Ctrl+a q or the container
/// stops.
pub fn run(container: &Container<'_>, tty: u32) -> anyhow::Result<()> {
    let mut client = container.client()?;
    client.request(&Request::Console { tty })?;
    let (stream, early) = client.into_stream();
    let which = if tty == 0 {
        "console".to_owned()
    } else {
        format!("tty{tty}")
    };
    eprintln!(
        "Connected to the {which} of {}; type Ctrl+a q to detach.\r",
        container.name()
    );
    let stdin = terminal::stdin();
    let end = {
        // Without a terminal (a script feeding stdin), bytes pass through as they are.
        let _raw = RawMode::enter(stdin).ok();
        terminal::relay(stream.as_fd(), None, true, &early)
    };
    let mut err = std::io::stderr();
    match end {
        RelayEnd::Detached => writeln!(err, "\nDetached from {}.", container.name())?,
        RelayEnd::Closed => writeln!(err, "\nThe console of {} closed.", container.name())?,
    }
    Ok(())
}
