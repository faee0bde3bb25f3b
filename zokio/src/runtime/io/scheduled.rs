//! Readiness of one I/O resource on the `mio` backend, and the tasks
//! waiting for it.
//!
//! The driver ORs the readiness an event reports into [`ScheduledIo`] and
//! wakes the reader and/or writer. An operation that then fails with
//! `WouldBlock` clears the readiness it acted on, but only if no event has
//! arrived since it looked (the *tick* in the same word changes with every
//! event), so an edge that lands between the failed syscall and the clear is
//! never lost: with edge-triggered epoll there would be no second edge.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::mio_driver::MioDriver;
use super::{Driver, IoHandle, shutdown_error};
use crate::task::lock;

/// Readiness bits (low 16 bits of the state word).
pub(crate) const READABLE: usize = 1 << 0;
pub(crate) const WRITABLE: usize = 1 << 1;
/// The peer will send no more (EOF or reset): reads do not block.
pub(crate) const READ_CLOSED: usize = 1 << 2;
/// Writes would fail: writes do not block.
pub(crate) const WRITE_CLOSED: usize = 1 << 3;
/// An error is pending on the socket: both directions do not block.
pub(crate) const ERROR: usize = 1 << 4;
/// The driver is gone: every operation fails.
pub(crate) const SHUTDOWN: usize = 1 << 5;
const READY_MASK: usize = (1 << 16) - 1;
/// The event counter lives above the readiness bits.
const TICK_SHIFT: usize = 16;

/// Which way an operation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

impl Direction {
    /// The readiness that lets an operation in this direction proceed.
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }

    /// The bits a drained read or write proves stale: readiness only.
    fn clearable_on_drain(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }

    /// The bits a `WouldBlock` proves stale: all of this direction's. The
    /// kernel just said the operation would wait, so neither readiness nor a
    /// pending error (an ICMP error on a UDP socket is consumed by the call
    /// that reports it) nor a hang-up holds any more; a new edge re-sets
    /// whatever becomes true again.
    fn clearable(self) -> usize {
        self.mask()
    }
}

/// Readiness observed by an operation, to clear if it turns out stale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadyEvent {
    tick: usize,
    ready: usize,
}

impl ReadyEvent {
    /// The readiness bits seen (`READABLE`, `WRITABLE`, ...).
    pub(crate) fn bits(self) -> usize {
        self.ready
    }
}

#[derive(Default)]
struct Waiters {
    /// The read and the write operation's task (`poll_read`, `poll_io`,
    /// `poll_*_ready`): one each, the last to wait.
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// Any number of tasks waiting for readiness alone (a stream's
    /// `readable`/`writable`, an `AsyncFd`), each woken by the next event
    /// in its direction, as tokio's waiter list is.
    shared: Vec<(Direction, Waker)>,
}

/// Where [`ScheduledIo::poll_ready`] keeps the waiting task's waker.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The direction's one operation slot (the task replaces whoever was
    /// there).
    Slot,
    /// The shared list, beside every other task waiting there.
    Shared,
}

/// More shared waiters than this are all woken at once (they poll again
/// and join again), so abandoned waits cannot grow the list without
/// bound.
const MAX_SHARED: usize = 64;

/// The shared state of one registered resource. Its address is the mio
/// token.
pub(crate) struct ScheduledIo {
    /// `tick << TICK_SHIFT | readiness bits`.
    state: AtomicUsize,
    waiters: Mutex<Waiters>,
}

impl ScheduledIo {
    pub(crate) fn new() -> Self {
        ScheduledIo {
            state: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Driver side: records `ready` from an event and wakes whoever waits
    /// for it.
    pub(crate) fn set_readiness(&self, ready: usize) {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let tick = (current >> TICK_SHIFT).wrapping_add(1);
            let next = (tick << TICK_SHIFT) | (current & READY_MASK) | ready;
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        self.wake(ready);
    }

    /// Wakes the waiters `ready` concerns.
    pub(crate) fn wake(&self, ready: usize) {
        let concerns = |direction: Direction| ready & (direction.mask() | SHUTDOWN) != 0;
        let (reader, writer, shared) = {
            let mut waiters = lock(&self.waiters);
            let reader = if concerns(Direction::Read) {
                waiters.reader.take()
            } else {
                None
            };
            let writer = if concerns(Direction::Write) {
                waiters.writer.take()
            } else {
                None
            };
            let shared: Vec<(Direction, Waker)> = if waiters.shared.is_empty() {
                Vec::new()
            } else {
                waiters
                    .shared
                    .extract_if(.., |(direction, _)| concerns(*direction))
                    .collect()
            };
            (reader, writer, shared)
        };
        if let Some(w) = reader {
            w.wake();
        }
        if let Some(w) = writer {
            w.wake();
        }
        for (_, w) in shared {
            w.wake();
        }
    }

    /// Driver shutdown: every operation fails from now on.
    pub(crate) fn shut_down(&self) {
        self.state.fetch_or(SHUTDOWN, Ordering::AcqRel);
        self.wake(SHUTDOWN);
    }

    /// Ready when an operation in `direction` may proceed; otherwise stores
    /// the task's waker where `wait` says.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        wait: Wait,
    ) -> Poll<io::Result<ReadyEvent>> {
        let state = self.state.load(Ordering::Acquire);
        if let Some(ready) = Self::check(state, direction) {
            return Poll::Ready(ready);
        }
        let mut waiters = lock(&self.waiters);
        if wait == Wait::Shared {
            let waker = cx.waker();
            if !waiters
                .shared
                .iter()
                .any(|(d, w)| *d == direction && w.will_wake(waker))
            {
                if waiters.shared.len() >= MAX_SHARED {
                    for (_, w) in waiters.shared.drain(..) {
                        w.wake();
                    }
                }
                waiters.shared.push((direction, waker.clone()));
            }
        } else {
            let slot = match direction {
                Direction::Read => &mut waiters.reader,
                Direction::Write => &mut waiters.writer,
            };
            match slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        // The driver sets readiness before taking this lock to wake; checked
        // again under the lock, an event cannot slip between the two.
        let state = self.state.load(Ordering::Acquire);
        match Self::check(state, direction) {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    /// The readiness `direction` has now, without waiting (`None`: not
    /// ready).
    fn ready_now(&self, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        Self::check(self.state.load(Ordering::Acquire), direction)
    }

    fn check(state: usize, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        if state & SHUTDOWN != 0 {
            return Some(Err(shutdown_error()));
        }
        let ready = state & direction.mask();
        (ready != 0).then_some(Ok(ReadyEvent {
            tick: state >> TICK_SHIFT,
            ready,
        }))
    }

    /// An operation saw `WouldBlock` after `event`: forget that readiness,
    /// unless a newer event arrived meanwhile.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent, direction: Direction) {
        self.clear_bits(event, direction.clearable());
    }

    /// Forgets the bits of `mask` that `event` saw, unless a newer event
    /// arrived meanwhile.
    fn clear_bits(&self, event: ReadyEvent, mask: usize) {
        let clear = event.ready & mask;
        let mut current = self.state.load(Ordering::Acquire);
        while current >> TICK_SHIFT == event.tick {
            let next = current & !clear;
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

/// A resource registered with a mio driver; deregisters on drop.
pub(crate) struct Registration {
    io: Arc<ScheduledIo>,
    driver: Arc<Driver>,
}

impl Registration {
    /// Registers `fd` for read and write readiness with the runtime's mio
    /// driver (see [`IoHandle::readiness_driver`]).
    pub(crate) fn new(handle: &IoHandle, fd: std::os::fd::RawFd) -> io::Result<Registration> {
        let driver = handle.readiness_driver();
        let io = mio_of(driver).register(fd)?;
        Ok(Registration {
            io,
            driver: driver.clone(),
        })
    }

    /// Runs `op` once the resource is ready in `direction`, until it stops
    /// failing with `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_then(cx, direction, Wait::Slot, op, |_| false)
    }

    /// [`poll_io`](Self::poll_io) whose wait joins the shared list (see
    /// [`Wait::Shared`]), for calls any number of tasks may make at once
    /// (`peek`).
    pub(crate) fn poll_io_shared<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_then(cx, direction, Wait::Shared, op, |_| false)
    }

    /// Runs `op` if the resource is ready in `direction`, without waiting:
    /// `WouldBlock` when it is not (no system call), or when `op` says so
    /// (the readiness is then cleared, as [`poll_io`](Self::poll_io) does).
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let event = match self.ready_now(direction) {
            Some(ready) => ready?,
            None => return Err(io::ErrorKind::WouldBlock.into()),
        };
        let result = op();
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.io.clear_readiness(event, direction);
        }
        result
    }

    /// Like [`poll_io`](Self::poll_io) for a stream read that filled less
    /// than `wanted` bytes: with edge-triggered readiness a short read means
    /// the socket is drained, so readiness is cleared now and the next read
    /// waits for an event instead of paying for a `WouldBlock` syscall.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        wanted: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io_then(cx, Direction::Read, Wait::Slot, op, |&n| {
            n > 0 && n < wanted
        })
    }

    /// The loop of [`poll_io`](Self::poll_io); `drained` says whether a
    /// successful result proves the resource has nothing more for now, so
    /// its readiness (but not a hang-up that came with it: the next read must
    /// see end of stream without another edge) is cleared.
    fn poll_io_then<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        wait: Wait,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = match self.io.poll_ready(cx, direction, wait) {
                Poll::Ready(Ok(event)) => event,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.io.clear_readiness(event, direction);
                }
                Ok(r) if drained(&r) => {
                    self.io.clear_bits(event, direction.clearable_on_drain());
                    return Poll::Ready(Ok(r));
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Waits until `direction` is ready, the waker kept where `wait` says
    /// (the operation slot for operations that report completion as
    /// readiness, like a non-blocking `connect`; the shared list for
    /// readiness calls several tasks may wait in).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        wait: Wait,
    ) -> Poll<io::Result<()>> {
        self.poll_ready_event(cx, direction, wait).map_ok(|_| ())
    }

    /// Like [`poll_ready`](Self::poll_ready), returning the readiness seen,
    /// for [`clear_readiness`](Self::clear_readiness).
    pub(crate) fn poll_ready_event(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        wait: Wait,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready(cx, direction, wait)
    }

    /// The readiness `direction` has now, without registering a waker
    /// (`None`: not ready).
    pub(crate) fn ready_now(&self, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        self.io.ready_now(direction)
    }

    /// A call in `direction` failed with `WouldBlock` after `event`.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent, direction: Direction) {
        self.io.clear_readiness(event, direction);
    }

    /// Deregisters `fd`; the caller closes it afterwards.
    pub(crate) fn deregister(&self, fd: std::os::fd::RawFd) {
        mio_of(&self.driver).deregister(fd, &self.io);
    }
}

fn mio_of(driver: &Driver) -> &MioDriver {
    match driver {
        Driver::Mio(d) => d,
        #[cfg(target_os = "linux")]
        Driver::Uring(_) => unreachable!("a mio registration on an io_uring runtime"),
    }
}
