//! Starting and cancelling operations on a resource's home ring, and the
//! one-shot operation future (started on first poll, cancelled if dropped
//! before it completes) that sockets and files share.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use io_uring::squeue;

use super::driver::UringDriver;
use super::op::{CancelRequest, Home, InFlight, Op, OpData, to_io};
use crate::buf::{IoBuf, IoBufMut};
use crate::runtime::io::{Driver, IoHandle, shutdown_error};

/// Tests: dropping an operation does not cancel it, so the kernel completes
/// it into memory only the ring still holds.
#[cfg(test)]
pub(super) static SKIP_CANCEL: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The primary ring (see [`Submitter::settle_ring`]).
pub(super) const PRIMARY: usize = 0;

/// Tests: the ring `settle_ring` answers (`usize::MAX`: none forced).
#[cfg(test)]
pub(super) static FORCE_SETTLE: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(usize::MAX);

/// What a resource (a socket, a file, or one path operation) submits
/// through: the runtime's drivers and the resource's [`Home`].
pub(super) struct Submitter {
    pub(super) handle: Arc<IoHandle>,
    pub(super) home: Arc<Home>,
}

pub(super) fn uring_of(driver: &Driver) -> &UringDriver {
    match driver {
        Driver::Uring(d) => d,
        Driver::Mio(_) => unreachable!("an io_uring resource on a mio runtime"),
    }
}

impl Submitter {
    /// A submitter whose operations start on ring `ring`.
    pub(super) fn new(handle: Arc<IoHandle>, ring: usize) -> Submitter {
        Submitter {
            handle,
            home: Arc::new(Home::new(ring)),
        }
    }

    /// A submitter homed on the calling worker's ring (or, off the
    /// workers, one chosen round robin); fails if the runtime shut down.
    pub(super) fn here(handle: &Arc<IoHandle>) -> io::Result<Submitter> {
        let (index, driver, _) = handle.pick();
        if uring_of(driver).is_shut_down() {
            return Err(shutdown_error());
        }
        Ok(Submitter::new(handle.clone(), index))
    }

    /// Like [`here`](Self::here) with a roaming home (files: every
    /// operation goes to the starting thread's ring; the descriptor is
    /// closed with [`close_when_idle`](Self::close_when_idle)).
    pub(super) fn roaming(handle: &Arc<IoHandle>) -> io::Result<Submitter> {
        let mut sub = Self::here(handle)?;
        let (ring, _) = sub.home.snapshot();
        sub.home = Arc::new(Home::roaming(ring));
        Ok(sub)
    }

    /// Closes a roaming resource's `fd` once none of its operations is
    /// outstanding on any ring.
    pub(super) fn close_when_idle(&self, fd: std::os::fd::OwnedFd) {
        self.home.close_when_idle(super::op::Closing {
            fd,
            handle: self.handle.clone(),
        });
    }

    /// The ring a socket with no operation outstanding moves to when the
    /// thread owning ring `mine` (if any) starts one.
    ///
    /// With one ring, that ring. With several (`multi_thread`), the primary
    /// ring, ring 0, whenever its owner is attentive (waiting in it, or
    /// looked at it within the last millisecond), and otherwise the
    /// starter's own ring (or, off the workers, wherever the socket is).
    ///
    /// Why one ring: a socket operation that waits for data completes
    /// through work the kernel queues for the thread that submitted it, so
    /// that thread has to run (wake up, if it sleeps) for every completion
    /// it submitted. Spread over every worker's ring, a few connections'
    /// completions woke each worker in turn: 0.28 context switches per TCP
    /// echo round trip, against tokio's 0.04 with its one shared epoll.
    /// Gathered on one ring, one worker takes every completion in large
    /// batches, as tokio's epoll waiter does, and the others are woken only
    /// to share the tasks it wakes (benches/RESULTS.md). The attentiveness
    /// check keeps a primary that is stuck in a long poll from holding up
    /// everyone's operations: they go to their starters' rings meanwhile.
    pub(super) fn settle_ring(&self, mine: Option<usize>) -> Option<usize> {
        #[cfg(test)]
        {
            // Any ring is a safe answer, so other runtimes' sockets may
            // take it too while a test forces it.
            let forced = FORCE_SETTLE.load(std::sync::atomic::Ordering::SeqCst);
            if forced < self.handle.driver_count() {
                return Some(forced);
            }
        }
        if self.handle.driver_count() == 1
            || mine == Some(PRIMARY)
            || self.driver(PRIMARY).is_attentive()
        {
            return Some(PRIMARY);
        }
        mine
    }

    pub(super) fn driver(&self, ring: usize) -> &UringDriver {
        uring_of(self.handle.driver(ring))
    }

    /// Starts `op` (idle, owned by the caller): fills its data and builds
    /// its SQE with `build`, then hands it to the socket's ring. `waker` is
    /// woken on completion.
    pub(super) fn start<T: OpData>(
        &self,
        op: &Arc<Op<T>>,
        waker: &Waker,
        build: impl FnOnce(&mut T) -> squeue::Entry,
    ) -> io::Result<()> {
        self.start_multishot(op, waker, 0, build)
    }

    /// [`start`](Self::start) for a multishot operation, which its ring
    /// cancels when `bound` items wait untaken (see `op`'s module docs);
    /// `bound` 0 starts a single-shot one.
    pub(super) fn start_multishot<T: OpData>(
        &self,
        op: &Arc<Op<T>>,
        waker: &Waker,
        bound: usize,
        build: impl FnOnce(&mut T) -> squeue::Entry,
    ) -> io::Result<()> {
        let mine = self.handle.owned_index();
        let ring = self.home.acquire(mine, || self.settle_ring(mine));
        let driver = self.driver(ring);
        if driver.is_shut_down() {
            self.home.release();
            return Err(shutdown_error());
        }
        // SAFETY: `op` is idle and the caller is its only user (a slot under
        // its lock, or a one-shot future), so nobody else, kernel included,
        // touches the data now. The SQE's pointers into the data stay valid
        // while the op is pending: the data lives inside the op's `Arc`
        // allocation (or its heap buffers), which the ring keeps alive
        // until the completion is reaped.
        let sqe = build(unsafe { op.data_mut() });
        op.header().prepare(ring, waker, bound);
        let as_dyn: Arc<dyn InFlight> = op.clone();
        if driver.submit(mine == Some(ring), as_dyn, sqe).is_err() {
            op.header().unprepare();
            self.home.release();
            return Err(shutdown_error());
        }
        Ok(())
    }

    /// Closes `fd` once no operation of this resource targets it (see
    /// `UringIo::close` for why this matters and how it is done).
    pub(super) fn close(&self, fd: std::os::fd::OwnedFd) {
        let (ring, outstanding) = self.home.snapshot();
        if outstanding == 0 {
            drop(fd);
            return;
        }
        self.driver(ring)
            .close(self.handle.owned_index() == Some(ring), fd);
    }

    /// Cancels `op` if it is pending; its memory is released after the
    /// completion, by whoever drops the last reference.
    pub(super) fn cancel<T: OpData>(&self, op: &Arc<Op<T>>) {
        #[cfg(test)]
        if SKIP_CANCEL.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let CancelRequest::InRing {
            ring,
            user_data,
            seq,
        } = op.header().request_cancel()
        {
            let as_dyn: Arc<dyn InFlight> = op.clone();
            self.driver(ring).cancel(
                self.handle.owned_index() == Some(ring),
                &as_dyn,
                user_data,
                seq,
            );
        }
    }
}

/// How a one-shot operation ended.
pub(super) enum Outcome<T> {
    /// The completion's result, with the data back.
    Done(i32, T),
    /// The ring refused it (shut down); it never reached the kernel.
    Refused(io::Error, T),
    /// Lost at shutdown: the data stays with the kernel.
    Lost,
}

/// A one-shot operation: started on first poll, cancelled if dropped
/// before it completes.
pub(super) struct OneShot<'a, T: OpData + Default, F> {
    io: &'a Submitter,
    op: Arc<Op<T>>,
    build: Option<F>,
    /// Started and not yet completed: dropping must cancel.
    in_flight: bool,
    /// Dropping the future leaves the operation to finish (see
    /// [`detached`](Self::detached)).
    detached: bool,
}

impl<'a, T, F> OneShot<'a, T, F>
where
    T: OpData + Default,
    F: FnOnce(&mut T) -> squeue::Entry + Unpin,
{
    pub(super) fn new(io: &'a Submitter, data: T, build: F) -> Self {
        OneShot {
            io,
            op: Op::new(io.home.clone(), data),
            build: Some(build),
            in_flight: false,
            detached: false,
        }
    }

    /// Dropping this future does not cancel the operation: it runs to its
    /// completion (the ring keeps its memory until then) and its result is
    /// dropped. For file writes, which once started must not be lost.
    pub(super) fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    fn take_data(&self) -> T {
        // SAFETY: the op is not pending (never started, or its result was
        // just consumed) and this future is its only user.
        std::mem::take(unsafe { self.op.data_mut() })
    }
}

impl<T, F> Future for OneShot<'_, T, F>
where
    T: OpData + Default,
    F: FnOnce(&mut T) -> squeue::Entry + Unpin,
{
    type Output = Outcome<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        let this = self.get_mut();
        if let Some(build) = this.build.take() {
            if let Err(e) = this.io.start(&this.op, cx.waker(), build) {
                return Poll::Ready(Outcome::Refused(e, this.take_data()));
            }
            this.in_flight = true;
        }
        match ready!(this.op.header().poll_result(cx.waker())) {
            Ok(result) => {
                this.in_flight = false;
                Poll::Ready(Outcome::Done(result, this.take_data()))
            }
            Err(_lost) => {
                this.in_flight = false;
                Poll::Ready(Outcome::Lost)
            }
        }
    }
}

impl<T: OpData + Default, F> Drop for OneShot<'_, T, F> {
    fn drop(&mut self) {
        if self.in_flight && !self.detached {
            self.io.cancel(&self.op);
        }
    }
}

/// The buffer of an owned-buffer read or write.
pub(super) struct OwnedBuf<B>(pub(super) Option<B>);

impl<B> Default for OwnedBuf<B> {
    fn default() -> Self {
        OwnedBuf(None)
    }
}

impl<B: IoBuf> OpData for OwnedBuf<B> {}

/// Reads into `buf`'s spare capacity through the SQE `sqe(spare, len)`
/// builds; the kernel writes straight into the buffer. Dropping the future
/// cancels the read; `buf` is then freed after the completion.
pub(super) async fn read_owned<B: IoBufMut>(
    sub: &Submitter,
    buf: B,
    sqe: impl FnOnce(*mut u8, u32) -> squeue::Entry + Unpin,
) -> (io::Result<usize>, B) {
    let init = buf.bytes_init();
    let total = buf.bytes_total();
    if total <= init {
        return (Ok(0), buf);
    }
    let len = (total - init).min(u32::MAX as usize) as u32;
    let outcome = OneShot::new(sub, OwnedBuf(Some(buf)), move |d: &mut OwnedBuf<B>| {
        let b = d.0.as_mut().expect("set above");
        // SAFETY: `init < total`, so the pointer stays inside the
        // allocation `IoBufMut` promises.
        let spare = unsafe { b.stable_mut_ptr().add(init) };
        sqe(spare, len)
    })
    .await;
    match outcome {
        Outcome::Done(result, OwnedBuf(b)) => {
            let mut b = b.expect("the buffer comes back");
            if result > 0 {
                // SAFETY: the kernel wrote `result` bytes after `init`.
                unsafe { b.set_init(init + result as usize) };
            }
            (to_io(result), b)
        }
        Outcome::Refused(e, OwnedBuf(b)) => (Err(e), b.expect("the buffer comes back")),
        // The kernel never finished with the buffer: it cannot be given
        // back, and this future can never complete (it belongs to a
        // runtime that shut down).
        Outcome::Lost => std::future::pending().await,
    }
}

/// Writes `buf`'s initialized bytes (some of them) through the SQE
/// `sqe(data, len)` builds; the kernel reads straight from the buffer.
///
/// With `detach`, dropping the future leaves the write to finish instead of
/// cancelling it (see [`OneShot::detached`]).
pub(super) async fn write_owned<B: IoBuf>(
    sub: &Submitter,
    buf: B,
    detach: bool,
    sqe: impl FnOnce(*const u8, u32) -> squeue::Entry + Unpin,
) -> (io::Result<usize>, B) {
    let len = buf.bytes_init().min(u32::MAX as usize) as u32;
    let op = OneShot::new(sub, OwnedBuf(Some(buf)), move |d: &mut OwnedBuf<B>| {
        let b = d.0.as_ref().expect("set above");
        sqe(b.stable_ptr(), len)
    });
    let outcome = if detach { op.detached() } else { op }.await;
    match outcome {
        Outcome::Done(result, OwnedBuf(b)) => (to_io(result), b.expect("the buffer comes back")),
        Outcome::Refused(e, OwnedBuf(b)) => (Err(e), b.expect("the buffer comes back")),
        Outcome::Lost => std::future::pending().await,
    }
}
