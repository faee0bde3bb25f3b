//! Signals, as tokio's `signal`: [`ctrl_c`] and, on Unix,
//! [`unix::signal`] for any signal a process may handle.
//!
//! Each signal is registered once for the whole process (through
//! `signal-hook`, which keeps the handler async-signal-safe), however many
//! listeners it has; a helper thread wakes the listeners' tasks, in any
//! runtime (see [`unix`]). A listener costs no descriptor. Deliveries that
//! arrive before a listener looks are coalesced into one, as in tokio. Once
//! a signal has had a listener, it no longer has its default effect (a
//! Ctrl-C no longer ends the process), as in tokio.
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
pub async fn ctrl_c() -> io::Result<()> {
    let mut signal = unix::signal(unix::SignalKind::interrupt())?;
    match signal.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other("the signal listener closed")),
    }
}
