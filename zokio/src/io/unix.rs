//! Readiness of any Unix file descriptor, as tokio's `io::unix`.
//!
//! [`AsyncFd`] registers a descriptor the runtime knows nothing about (a
//! pipe, a tty, a `timerfd`, a device, a socket made by another library)
//! and tells tasks when it may be readable or writable; the task then makes
//! the non-blocking call itself. On mio the descriptor is registered with
//! epoll (kqueue on macOS); on io_uring each wait is a one-shot `POLL_ADD`
//! on the ring. Both report readiness the same way: a descriptor counts as
//! ready until a call on it fails with `WouldBlock` (report that with
//! [`AsyncFdReadyGuard::clear_ready`], or let
//! [`try_io`](AsyncFdReadyGuard::try_io) do it), and readiness may be stale,
//! so the call must be non-blocking.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use zokio::io::unix::AsyncFd;
//!
//! #[zokio::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let (a, mut b) = UnixStream::pair()?;
//!     a.set_nonblocking(true)?;
//!     let a = AsyncFd::new(a)?;
//!     b.write_all(b"ping")?;
//!     let mut buf = [0; 4];
//!     let n = loop {
//!         let mut guard = a.readable().await?;
//!         match guard.try_io(|fd| fd.get_ref().read(&mut buf)) {
//!             Ok(result) => break result?,
//!             Err(_would_block) => continue,
//!         }
//!     };
//!     assert_eq!(&buf[..n], b"ping");
//!     Ok(())
//! }
//! ```

use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll, ready};

use super::{Interest, Ready};
use crate::runtime::io::poll_fd::{Direction, FdReadiness, ReadyToken};

/// A file descriptor registered with the runtime for readiness, as tokio's
/// `AsyncFd`.
///
/// The descriptor must be in non-blocking mode, and must stay open while
/// the `AsyncFd` lives (it is `inner`'s to close: dropping the `AsyncFd`
/// deregisters it, then drops `inner`). Any number of tasks may wait for
/// readiness at the same time.
///
/// # Panics
///
/// [`AsyncFd::new`], [`with_interest`](AsyncFd::with_interest),
/// [`try_new`](AsyncFd::try_new) and
/// [`try_with_interest`](AsyncFd::try_with_interest) panic outside a
/// runtime.
pub struct AsyncFd<T: AsRawFd> {
    readiness: FdReadiness,
    /// The directions that may be waited for.
    interest: Interest,
    /// `None` only inside `into_inner`.
    inner: Option<T>,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner`'s descriptor (non-blocking) with the current
    /// runtime, for both directions.
    ///
    /// On failure `inner` is dropped; [`try_new`](Self::try_new) gives it
    /// back.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        Ok(AsyncFd::try_new(inner)?)
    }

    /// Registers `inner`'s descriptor (non-blocking) with the current
    /// runtime, for the directions of `interest` only.
    ///
    /// Waiting for a direction that is not in `interest` fails at once
    /// with [`InvalidInput`](io::ErrorKind::InvalidInput)
    /// ([`writable`](Self::writable) on an `AsyncFd` registered for
    /// [`READABLE`](Interest::READABLE), say); a [`ready`](Self::ready) or
    /// [`async_io`](Self::async_io) whose interest has some registered
    /// direction waits for those directions only. tokio instead lets such a
    /// wait hang until the descriptor reports a hang-up or an error.
    ///
    /// On mio the descriptor is registered with epoll (kqueue) for both
    /// directions whatever `interest` says: `interest` only limits which
    /// directions may be waited for. On io_uring a direction costs nothing
    /// until it is waited for.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use zokio::io::Interest;
    /// use zokio::io::unix::AsyncFd;
    ///
    /// #[zokio::main(flavor = "current_thread")]
    /// async fn main() -> std::io::Result<()> {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     let a = AsyncFd::with_interest(a, Interest::READABLE)?;
    ///     b.write_all(b"ping")?;
    ///     let mut buf = [0; 4];
    ///     let n = a.async_io(Interest::READABLE, |mut s| s.read(&mut buf)).await?;
    ///     assert_eq!(&buf[..n], b"ping");
    ///     // Not registered for writing: an error, not a wait.
    ///     let err = a.writable().await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
        Ok(AsyncFd::try_with_interest(inner, interest)?)
    }

    /// [`new`](Self::new), giving `inner` back if the descriptor cannot be
    /// registered.
    ///
    /// On mio, registration fails for what epoll (kqueue) cannot wait for,
    /// such as a regular file with epoll (`EPERM`). On io_uring nothing is
    /// asked of the kernel until the first wait, so such a descriptor
    /// registers, and counts as ready (a poll of a regular file says so at
    /// once).
    ///
    /// ```
    /// use zokio::io::unix::AsyncFd;
    ///
    /// #[zokio::main(flavor = "current_thread", backend = "mio")]
    /// async fn main() -> std::io::Result<()> {
    ///     let file = std::fs::File::open(std::env::current_exe()?)?;
    ///     let file = match AsyncFd::try_new(file) {
    ///         // kqueue takes a regular file.
    ///         Ok(fd) => fd.into_inner(),
    ///         // epoll does not: the file comes back with the reason.
    ///         Err(e) => {
    ///             let (file, err) = e.into_parts();
    ///             eprintln!("not registered: {err}");
    ///             file
    ///         }
    ///     };
    ///     assert!(file.metadata()?.is_file());
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn try_new(inner: T) -> Result<AsyncFd<T>, AsyncFdTryNewError<T>> {
        AsyncFd::try_with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// [`with_interest`](Self::with_interest), giving `inner` back if the
    /// descriptor cannot be registered (see [`try_new`](Self::try_new)).
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn try_with_interest(
        inner: T,
        interest: Interest,
    ) -> Result<AsyncFd<T>, AsyncFdTryNewError<T>> {
        let io = crate::runtime::io::current_io();
        match FdReadiness::new(&io, inner.as_raw_fd()) {
            Ok(readiness) => Ok(AsyncFd {
                readiness,
                interest,
                inner: Some(inner),
            }),
            Err(cause) => Err(AsyncFdTryNewError { inner, cause }),
        }
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("present until into_inner")
    }

    /// The wrapped value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("present until into_inner")
    }

    /// Deregisters the descriptor and gives the value back.
    pub fn into_inner(mut self) -> T {
        let inner = self.inner.take().expect("present until into_inner");
        self.readiness.release(inner.as_raw_fd());
        inner
    }

    /// Waits until the descriptor may be readable.
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    /// Waits until the descriptor may be writable.
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        poll_fn(|cx| self.poll_write_ready(cx)).await
    }

    /// [`readable`](Self::readable), with a guard that lends `&mut T`.
    pub async fn readable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::READABLE).await
    }

    /// [`writable`](Self::writable), with a guard that lends `&mut T`.
    pub async fn writable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::WRITABLE).await
    }

    /// Waits until the descriptor may be ready in any direction of
    /// `interest`; the guard's [`ready`](AsyncFdReadyGuard::ready) says
    /// which (on io_uring, only readable and writable are reported).
    pub async fn ready(&self, interest: Interest) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let seen = poll_fn(|cx| self.poll_interest(cx, interest)).await?;
        Ok(AsyncFdReadyGuard { fd: self, seen })
    }

    /// [`ready`](Self::ready), with a guard that lends `&mut T`.
    pub async fn ready_mut(
        &mut self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        let seen = poll_fn(|cx| self.poll_interest(cx, interest)).await?;
        Ok(AsyncFdReadyMutGuard { fd: self, seen })
    }

    /// Runs `f` (a non-blocking call on the value) each time the
    /// descriptor may be ready for `interest`, until it does not fail with
    /// `WouldBlock` (each `WouldBlock` clears the readiness, so the next
    /// wait waits for the kernel); returns its result.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready(interest).await?;
            if let Ok(result) = guard.try_io(|fd| f(fd.get_ref())) {
                return result;
            }
        }
    }

    /// [`async_io`](Self::async_io) with `&mut T`.
    pub async fn async_io_mut<R>(
        &mut self,
        interest: Interest,
        mut f: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready_mut(interest).await?;
            if let Ok(result) = guard.try_io(|fd| f(fd.get_mut())) {
                return result;
            }
        }
    }

    /// Polls for read readiness (for hand-written futures); when pending,
    /// the task is woken once the descriptor may be readable.
    pub fn poll_read_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_interest(cx, Interest::READABLE)
            .map_ok(|seen| AsyncFdReadyGuard { fd: self, seen })
    }

    /// [`poll_read_ready`](Self::poll_read_ready), with a guard that lends
    /// `&mut T` (for a hand-written `poll_read` on `&mut self`).
    ///
    /// Unlike tokio, where only the waker of the latest `poll_read_ready`
    /// or `poll_read_ready_mut` is woken, every task that polls is woken,
    /// as with [`readable`](Self::readable).
    pub fn poll_read_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let seen = ready!(self.poll_interest(cx, Interest::READABLE))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard { fd: self, seen }))
    }

    /// Polls for write readiness (see [`poll_read_ready`](Self::poll_read_ready)).
    pub fn poll_write_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.poll_interest(cx, Interest::WRITABLE)
            .map_ok(|seen| AsyncFdReadyGuard { fd: self, seen })
    }

    /// [`poll_write_ready`](Self::poll_write_ready), with a guard that
    /// lends `&mut T` (see [`poll_read_ready_mut`](Self::poll_read_ready_mut)).
    pub fn poll_write_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let seen = ready!(self.poll_interest(cx, Interest::WRITABLE))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard { fd: self, seen }))
    }

    /// Ready once any direction of `interest` that the `AsyncFd` was
    /// registered for is: the readiness seen, in each direction that was
    /// ready. An error at once if it was registered for none of them.
    fn poll_interest(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<Seen>> {
        let mut seen = Seen::none();
        let mut waits = false;
        for (asked, registered, direction) in [
            (
                interest.is_readable(),
                self.interest.is_readable(),
                Direction::Read,
            ),
            (
                interest.is_writable(),
                self.interest.is_writable(),
                Direction::Write,
            ),
        ] {
            if !(asked && registered) {
                continue;
            }
            waits = true;
            match self.poll_ready(cx, direction) {
                Poll::Ready(Ok(token)) => seen.add(direction, token),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if !waits {
            Poll::Ready(Err(not_registered(interest, self.interest)))
        } else if seen.ready().is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(seen))
        }
    }

    fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyToken>> {
        self.readiness
            .poll_ready(cx, direction, self.get_ref().as_raw_fd())
    }

    fn clear(&self, token: ReadyToken, direction: Direction) {
        self.readiness.clear_ready(token, direction);
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd> AsFd for AsyncFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor belongs to `inner`, which stays open at
        // least as long as this borrow of `self`.
        unsafe { BorrowedFd::borrow_raw(self.as_raw_fd()) }
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            self.readiness.release(inner.as_raw_fd());
        }
    }
}

/// The error of [`AsyncFdReadyGuard::try_io`] when the call would block;
/// the readiness has been cleared, so wait again.
#[derive(Debug)]
pub struct TryIoError(());

impl fmt::Display for TryIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operation would block; readiness was cleared")
    }
}

impl Error for TryIoError {}

/// The error of [`AsyncFd::try_new`] and [`AsyncFd::try_with_interest`]:
/// why the descriptor could not be registered, and the value it belongs
/// to, as tokio's type of the same name.
pub struct AsyncFdTryNewError<T> {
    inner: T,
    cause: io::Error,
}

impl<T> AsyncFdTryNewError<T> {
    /// The value passed to `try_new` (or `try_with_interest`), and the
    /// error registering its descriptor gave.
    pub fn into_parts(self) -> (T, io::Error) {
        (self.inner, self.cause)
    }
}

/// The cause's message.
impl<T> fmt::Display for AsyncFdTryNewError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cause, f)
    }
}

/// The cause, as `io::Error` shows it (`T` need not be `Debug`).
impl<T> fmt::Debug for AsyncFdTryNewError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.cause, f)
    }
}

/// The source is the cause.
impl<T> Error for AsyncFdTryNewError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}

/// The cause (the value is dropped): `?` in a function returning
/// `io::Result`.
impl<T> From<AsyncFdTryNewError<T>> for io::Error {
    fn from(error: AsyncFdTryNewError<T>) -> io::Error {
        error.cause
    }
}

/// The error of a wait for readiness in no direction an `AsyncFd` was
/// registered for (see [`AsyncFd::with_interest`]).
fn not_registered(asked: Interest, registered: Interest) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "waiting for {asked:?} readiness of an AsyncFd registered for {registered:?} \
             only (see AsyncFd::with_interest)"
        ),
    )
}

/// `try_io`'s result: a `WouldBlock` clears the readiness and becomes
/// `TryIoError`.
fn would_block_clears<R>(
    result: io::Result<R>,
    clear: impl FnOnce(),
) -> Result<io::Result<R>, TryIoError> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            clear();
            Err(TryIoError(()))
        }
        result => Ok(result),
    }
}

/// Readiness of an [`AsyncFd`], from [`readable`](AsyncFd::readable),
/// [`writable`](AsyncFd::writable) or [`ready`](AsyncFd::ready) (which may
/// see both directions: [`ready`](Self::ready) says which).
///
/// Dropping it keeps the readiness: the next wait returns at once. Call
/// [`clear_ready`](Self::clear_ready) when a call found the descriptor not
/// ready, or use [`try_io`](Self::try_io), which does.
#[must_use = "call `try_io` or `clear_ready` after a call that would block"]
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    seen: Seen,
}

/// The readiness a guard stands for, per direction (read, write): what the
/// wait saw, until it is cleared, and the token to clear it with, until it
/// is cleared or retained.
struct Seen {
    tokens: [Option<ReadyToken>; 2],
    ready: [Ready; 2],
}

impl Seen {
    fn none() -> Seen {
        Seen {
            tokens: [None, None],
            ready: [Ready::EMPTY, Ready::EMPTY],
        }
    }

    fn add(&mut self, direction: Direction, token: ReadyToken) {
        self.tokens[direction as usize] = Some(token);
        self.ready[direction as usize] = token.ready(direction);
    }

    /// What the guard still stands for, in either direction.
    fn ready(&self) -> Ready {
        self.ready[0] | self.ready[1]
    }

    fn clear<T: AsRawFd>(&mut self, fd: &AsyncFd<T>) {
        for direction in [Direction::Read, Direction::Write] {
            self.clear_direction(fd, direction);
        }
    }

    /// Clears each direction that saw any of `matching`, entirely (the
    /// registration keeps readiness per direction, and clears what a
    /// `WouldBlock` in that direction proves stale).
    fn clear_matching<T: AsRawFd>(&mut self, fd: &AsyncFd<T>, matching: Ready) {
        for direction in [Direction::Read, Direction::Write] {
            if overlap(self.ready[direction as usize], matching) {
                self.clear_direction(fd, direction);
            }
        }
    }

    fn clear_direction<T: AsRawFd>(&mut self, fd: &AsyncFd<T>, direction: Direction) {
        self.ready[direction as usize] = Ready::EMPTY;
        if let Some(token) = self.tokens[direction as usize].take() {
            fd.clear(token, direction);
        }
    }

    fn retain(&mut self) {
        self.tokens = [None, None];
    }
}

/// Whether `a` and `b` have a readiness in common.
fn overlap(a: Ready, b: Ready) -> bool {
    let has = |set: Ready, bit: Ready| set | bit == set;
    [
        Ready::READABLE,
        Ready::WRITABLE,
        Ready::READ_CLOSED,
        Ready::WRITE_CLOSED,
        Ready::ERROR,
    ]
    .into_iter()
    .any(|bit| has(a, bit) && has(b, bit))
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    /// Forgets the readiness (in every direction the guard saw): the next
    /// wait waits for the kernel. [`ready`](Self::ready) is then empty.
    pub fn clear_ready(&mut self) {
        self.seen.clear(self.fd);
    }

    /// Forgets the readiness of the directions that saw any of `ready`,
    /// keeping the others: with a guard from [`AsyncFd::ready`] for both
    /// directions, `Ready::READABLE` after a read that would block, or
    /// `Ready::WRITABLE` after a write that would block.
    /// [`ready`](Self::ready) then leaves out what was cleared.
    ///
    /// Readiness is kept per direction, so this forgets all that a direction
    /// saw: `READABLE` also clears a `READ_CLOSED` or `ERROR` the read side
    /// saw (as a read's `WouldBlock` does), where tokio clears only the bits
    /// named, and never the closed ones; `ERROR` clears each direction that
    /// saw it.
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        self.seen.clear_matching(self.fd, ready);
    }

    /// Keeps the readiness (what dropping the guard does).
    pub fn retain_ready(&mut self) {
        self.seen.retain();
    }

    /// The readiness the wait saw, less what was cleared since.
    pub fn ready(&self) -> Ready {
        self.seen.ready()
    }

    /// Runs `f` (a non-blocking call); if it fails with `WouldBlock`, clears
    /// the readiness and returns `Err(TryIoError)`, so the caller waits
    /// again.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let result = f(self.fd);
        would_block_clears(result, || self.clear_ready())
    }

    /// The `AsyncFd` this guard is for.
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.fd
    }

    /// The wrapped value.
    pub fn get_inner(&self) -> &'a T {
        self.fd.get_ref()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("fd", self.fd)
            .field("ready", &self.seen.ready())
            .finish()
    }
}

/// [`AsyncFdReadyGuard`] from [`readable_mut`](AsyncFd::readable_mut) or
/// [`writable_mut`](AsyncFd::writable_mut): it lends the `AsyncFd` mutably.
#[must_use = "call `try_io` or `clear_ready` after a call that would block"]
pub struct AsyncFdReadyMutGuard<'a, T: AsRawFd> {
    fd: &'a mut AsyncFd<T>,
    seen: Seen,
}

impl<T: AsRawFd> AsyncFdReadyMutGuard<'_, T> {
    /// Forgets the readiness (in every direction the guard saw): the next
    /// wait waits for the kernel. [`ready`](Self::ready) is then empty.
    pub fn clear_ready(&mut self) {
        self.seen.clear(self.fd);
    }

    /// Forgets the readiness of the directions that saw any of `ready`,
    /// keeping the others, as
    /// [`AsyncFdReadyGuard::clear_ready_matching`] does (which says how
    /// this differs from tokio).
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        self.seen.clear_matching(self.fd, ready);
    }

    /// Keeps the readiness (what dropping the guard does).
    pub fn retain_ready(&mut self) {
        self.seen.retain();
    }

    /// The readiness the wait saw, less what was cleared since.
    pub fn ready(&self) -> Ready {
        self.seen.ready()
    }

    /// Runs `f` (a non-blocking call); if it fails with `WouldBlock`, clears
    /// the readiness and returns `Err(TryIoError)`.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&mut AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let result = f(self.fd);
        would_block_clears(result, || self.clear_ready())
    }

    /// The `AsyncFd` this guard is for.
    pub fn get_ref(&self) -> &AsyncFd<T> {
        self.fd
    }

    /// The `AsyncFd` this guard is for, mutably.
    pub fn get_mut(&mut self) -> &mut AsyncFd<T> {
        self.fd
    }

    /// The wrapped value.
    pub fn get_inner(&self) -> &T {
        self.fd.get_ref()
    }

    /// The wrapped value, mutably.
    pub fn get_inner_mut(&mut self) -> &mut T {
        self.fd.get_mut()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyMutGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyMutGuard")
            .field("fd", &*self.fd)
            .field("ready", &self.seen.ready())
            .finish()
    }
}
