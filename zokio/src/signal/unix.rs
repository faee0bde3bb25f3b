//! Unix signals: [`signal`] returns a [`Signal`] that yields once per
//! delivery (deliveries close together may be coalesced into one).

use std::fmt;
use std::io;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::task::{Context, Poll};

use signal_hook::SigId;
use signal_hook::low_level;

use crate::net::UnixStream;

/// Which signal to listen for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal by number (`libc::SIGUSR1`, ...). `SIGKILL`, `SIGSTOP`
    /// and the signals of program faults (`SIGSEGV`, `SIGBUS`, `SIGILL`,
    /// `SIGFPE`) cannot be listened for: [`signal`] refuses them.
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT` (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignalKind({})", self.0)
    }
}

/// A listener for one signal, from [`signal`]. Dropping it removes its
/// handler.
pub struct Signal {
    kind: SignalKind,
    /// The self-pipe's read end, on the runtime.
    read: UnixStream,
    id: SigId,
}

/// Starts listening for `kind`: from now on each delivery is counted for
/// [`Signal::recv`].
///
/// # Errors
///
/// `kind` is a signal that cannot be handled (`SIGKILL`, `SIGSTOP`, a fault
/// signal) or not a signal at all: an `InvalidInput` error naming it.
///
/// # Panics
///
/// Outside a runtime.
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signum = kind.0;
    if signum <= 0 || signal_hook::consts::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signum} cannot be listened for (SIGKILL, SIGSTOP and the fault \
                 signals SIGSEGV, SIGBUS, SIGILL, SIGFPE cannot be handled)"
            ),
        ));
    }
    let (read, write) = StdUnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    let read = UnixStream::from_std(read)?;
    // The handler `send`s one byte to `write` (without blocking: a full
    // pipe means a wake-up is pending anyway) on each delivery.
    let id = low_level::pipe::register(signum, write).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("installing a handler for signal {signum}: {e}"),
        )
    })?;
    Ok(Signal { kind, read, id })
}

impl Signal {
    /// Waits for the next delivery (deliveries since the last call count as
    /// one). `None` only if the listener can no longer receive.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a delivery is not lost if the future is dropped.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The `poll` form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let mut bytes = [0u8; 64];
        // Every byte written so far: they are all one notification.
        let mut got = false;
        loop {
            match self.read.try_read(&mut bytes) {
                Ok(0) => return Poll::Ready(got.then_some(())),
                Ok(n) => {
                    got = true;
                    if n < bytes.len() {
                        return Poll::Ready(Some(()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if got {
                        return Poll::Ready(Some(()));
                    }
                    if std::task::ready!(self.read.poll_read_ready(cx)).is_err() {
                        return Poll::Ready(None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Poll::Ready(got.then_some(())),
            }
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // Removes this listener's handler; the signal keeps a handler (so
        // its default effect stays off), as signal-hook and tokio do.
        low_level::unregister(self.id);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
