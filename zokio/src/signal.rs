//! Signals, as tokio's `signal`: [`ctrl_c`] and, on Unix,
//! [`unix::signal`] for any signal a process may handle.
//!
//! Each listener has its own self-pipe (a Unix socket pair): the handler,
//! installed through `signal-hook` (which keeps it async-signal-safe and
//! lets several handlers share a signal), writes one byte to it per
//! delivery, and the listener's end is an ordinary socket on the runtime,
//! so waiting for a signal is waiting for that socket to be readable, on
//! either backend. Deliveries that arrive before the listener looks are
//! coalesced into one, as in tokio. Once a listener for a signal exists, the
//! signal no longer has its default effect (a Ctrl-C no longer ends the
//! process), also after the listener is dropped, as in tokio.
//!
//! ```no_run
//! #[zokio::main]
//! async fn main() -> std::io::Result<()> {
//!     println!("press Ctrl-C");
//!     zokio::signal::ctrl_c().await?;
//!     println!("bye");
//!     Ok(())
//! }
//! ```

pub mod unix;

use std::io;

/// Waits for the next Ctrl-C (`SIGINT`).
///
/// The handler is installed when the future is first polled; a Ctrl-C
/// before that has its default effect.
///
/// # Panics
///
/// Outside a runtime.
pub async fn ctrl_c() -> io::Result<()> {
    let mut signal = unix::signal(unix::SignalKind::interrupt())?;
    match signal.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other("the signal listener closed")),
    }
}
