//! One io_uring operation: the state shared by whoever started it (a future,
//! or a socket's read or write slot) and the ring that runs it.
//!
//! An [`Op`] is one heap allocation (`Arc`) holding a header (phase, wakers,
//! the ring's `user_data`) and the operation's data: the memory the kernel
//! reads or writes (buffers, socket addresses, `msghdr`/`iovec`). While the
//! operation is [`Phase::Pending`] the ring holds a strong reference in its
//! slab (see `driver.rs`), so the allocation, and with it every byte the
//! kernel may touch, outlives the operation however early its starter goes
//! away. The ring drops its reference only after it has reaped the
//! operation's completion (CQE), which is the kernel's promise that it is
//! done with the memory.
//!
//! The data sits in an `UnsafeCell` and is accessed under this protocol:
//!
//! - the starter fills it while the phase is `Idle` (nobody else holds a
//!   pointer into it: the previous operation, if any, completed);
//! - from `Pending` until the completion, only the kernel touches it; Rust
//!   code does not (the ring only holds the `Arc` and the header);
//! - after the starter has *observed* `Done` (under the header's lock, which
//!   the ring took to publish the result after reaping the CQE), the data is
//!   the starter's again.
//!
//! `Lost` (shutdown gave up waiting for a completion) never hands the data
//! back: the kernel may still write into it, so it is leaked instead.
//!
//! # Multishot operations
//!
//! A *multishot* operation (`IORING_ACCEPT_MULTISHOT`,
//! `IORING_RECV_MULTISHOT`) is one SQE that completes many times: every CQE
//! flagged `IORING_CQE_F_MORE` carries one *item* (an accepted descriptor, or
//! a received buffer's id and length) and says more will follow; the CQE
//! without the flag is the last. The ring queues each item in the header
//! ([`OpHeader::deliver`]) and wakes the waiters; the operation stays
//! `Pending` (and in the ring's slab, and counted by its home) until the last
//! CQE, which [`OpHeader::finish`] turns into an item (when it carries one)
//! and the end (`Done`). The starter takes items with
//! [`OpHeader::poll_item`]; items nobody took are released by the op's data
//! ([`OpData::unclaimed_item`]) when the op is freed, so no descriptor or
//! buffer is lost. A multishot op's items never point into its data (the
//! kernel writes into a provided-buffer ring, or returns a descriptor), so
//! taking items while the op is pending touches nothing the kernel uses.
//!
//! A multishot op may carry a *bound*: when that many items wait untaken,
//! the ring cancels it (`OpHeader::deliver` says so), so a producer faster
//! than its consumer (a connection flood, a sender outrunning its reader)
//! cannot queue without limit. The starter re-arms it once it has taken
//! everything.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::task::{Poll, Waker};

// From the loom shim, so the models at the bottom check these very types.
use crate::loom::UnsafeCell;
use crate::loom::lock;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicU64, Ordering};

/// A result code that means "failed because the runtime shut down" (never a
/// kernel result: those are `-4095..=i32::MAX`).
pub(super) const SHUTDOWN_RESULT: i32 = i32::MIN;

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not started, or its result was consumed: the data is the starter's.
    Idle,
    /// Handed to a ring (its remote queue, its submission queue or the
    /// kernel): only the kernel may touch the data.
    Pending,
    /// The completion arrived with this result (a byte count, a descriptor,
    /// or `-errno`); the kernel is done with the data.
    Done(i32),
    /// The runtime shut down without the kernel ever completing the
    /// operation: the data must never be touched or freed.
    Lost,
}

/// What a canceller must do after [`OpHeader::request_cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CancelRequest {
    /// The operation already completed (or was already cancelled).
    Nothing,
    /// The operation has not reached the kernel (it waits in a ring's
    /// remote queue or staging list): the ring will skip it.
    Skipped,
    /// The operation went to the kernel in ring `ring`'s submission number
    /// `seq`, as `user_data`: ask that ring.
    InRing {
        ring: usize,
        user_data: u64,
        seq: u64,
    },
}

struct OpState {
    phase: Phase,
    /// The starter went away: a ring that has not queued it yet skips it.
    cancelled: bool,
    /// The ring this operation was handed to.
    ring: usize,
    /// The ring's `user_data` for it once the owner queued it; 0 before.
    user_data: u64,
    /// Its number in the ring's submissions once the owner moved its SQE to
    /// the submission queue (on its way to the kernel); 0 before.
    seq: u64,
    /// The task that started it (or polled it last).
    waker: Option<Waker>,
    /// Other tasks waiting for it (several tasks accepting on one listener,
    /// or receiving on one datagram socket).
    others: Vec<Waker>,
    /// Multishot: items delivered and not yet taken (result, CQE flags);
    /// `bound`: how many may wait before the ring cancels the operation
    /// (0: not multishot).
    items: VecDeque<(i32, u32)>,
    bound: usize,
}

/// What [`OpHeader::poll_item`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Item {
    /// One completion of a multishot operation: its result and CQE flags.
    Next(i32, u32),
    /// The operation ended (every item was taken) with this result: 0, or
    /// `-errno` (`-ECANCELED` after a cancel, its bound's included). It is
    /// idle again and may be re-armed.
    Ended(i32),
    /// Lost at shutdown.
    Lost,
}

/// More waiting tasks than this are all woken at once (they poll again and
/// re-register), so an abandoned waiter cannot grow the list without bound.
const MAX_OTHERS: usize = 64;

/// Counts a socket's operations that a ring may still hold, and which ring
/// its operations go to.
///
/// The word is `ring << 32 | outstanding`. While `outstanding > 0` every new
/// operation of the socket goes to the same ring, so one ring sees all of
/// them in order (what makes closing the descriptor safe, see
/// [`UringIo::close`](super::socket::UringIo::close)). When none is
/// outstanding the socket may move: to the ring the starter picks
/// (`Submitter::settle_ring`: in a `multi_thread` runtime the primary ring
/// while its owner is attentive, otherwise the starter's own).
///
/// A *roaming* home (files) sends every operation to the ring of the thread
/// that starts it, even while others are outstanding elsewhere, so many
/// tasks on different workers can share one file and all submit locally.
/// Its descriptor is then closed only once no operation is outstanding
/// anywhere ([`close_when_idle`](Home::close_when_idle)): a count of zero
/// means no SQE naming it waits in any queue.
///
/// `C` is what closing the descriptor takes: [`Closing`] in the runtime; the
/// loom model substitutes a recorder, since no ring runs under loom.
pub(super) struct Home<C = Closing> {
    word: AtomicU64,
    roaming: bool,
    /// A roaming home's descriptor, closed by the release that ends the
    /// last outstanding operation (through the ring of the thread that
    /// does it, see [`Closing`]).
    closing: Mutex<Option<C>>,
}

const COUNT_MASK: u64 = u32::MAX as u64;

/// In a roaming home's count: the descriptor is waiting to be closed.
const CLOSING: u64 = 1 << 31;

/// A descriptor waiting to be closed, and the drivers whose ring closes it.
pub(super) struct Closing {
    pub(super) fd: std::os::fd::OwnedFd,
    pub(super) handle: Arc<crate::runtime::io::IoHandle>,
}

/// Closes a roaming home's descriptor (see [`Home`]'s `C`).
pub(super) trait Close {
    fn close(self);
}

impl Close for Closing {
    /// `IORING_OP_CLOSE` on the calling worker's ring (or, off the
    /// workers, one chosen round robin).
    fn close(self) {
        let (_, driver, local) = self.handle.pick();
        super::submit::uring_of(driver).close_on_ring(local, self.fd);
    }
}

impl<C: Close> Home<C> {
    pub(super) fn new(ring: usize) -> Self {
        Home {
            word: AtomicU64::new((ring as u64) << 32),
            roaming: false,
            closing: Mutex::new(None),
        }
    }

    /// A roaming home (see the type's docs) starting on ring `ring`.
    pub(super) fn roaming(ring: usize) -> Self {
        Home {
            roaming: true,
            ..Self::new(ring)
        }
    }

    /// Counts one more operation and returns the ring it must go to.
    /// `mine` is the ring the calling thread owns, if any; `settle` says
    /// which ring a home with nothing outstanding moves to (`None`: it
    /// stays). It is asked at most once, and only when it matters.
    pub(super) fn acquire(
        &self,
        mine: Option<usize>,
        settle: impl FnOnce() -> Option<usize>,
    ) -> usize {
        let mut settle = Some(settle);
        let mut settled = None;
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let count = current & COUNT_MASK;
            let ring = match mine {
                Some(mine) if self.roaming => mine as u64,
                _ if count == 0 => {
                    let to = *settled.get_or_insert_with(|| settle.take().and_then(|f| f()));
                    to.map_or(current >> 32, |r| r as u64)
                }
                _ => current >> 32,
            };
            let next = (ring << 32) | (count + 1);
            match self.word.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return ring as usize,
                Err(actual) => current = actual,
            }
        }
    }

    /// One operation is out of its ring for good (reaped, or never
    /// submitted).
    pub(super) fn release(&self) {
        let previous = self.word.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(
            previous & COUNT_MASK & !CLOSING > 0,
            "Home released more than acquired"
        );
        if previous & COUNT_MASK == CLOSING | 1 {
            // The last outstanding operation of a descriptor waiting to
            // close: nothing names it any more.
            let closing = lock(&self.closing).take();
            if let Some(c) = closing {
                c.close();
            }
        }
    }

    /// Roaming homes: closes the descriptor now if no operation is
    /// outstanding, otherwise when the last one is released; either way
    /// through a ring (`IORING_OP_CLOSE`).
    pub(super) fn close_when_idle(&self, closing: C) {
        debug_assert!(self.roaming);
        *lock(&self.closing) = Some(closing);
        let previous = self.word.fetch_or(CLOSING, Ordering::AcqRel);
        if previous & COUNT_MASK == 0 {
            let closing = lock(&self.closing).take();
            if let Some(c) = closing {
                c.close();
            }
        }
    }

    /// The ring operations go to now, and how many a ring still holds.
    pub(super) fn snapshot(&self) -> (usize, u32) {
        let word = self.word.load(Ordering::Acquire);
        ((word >> 32) as usize, (word & COUNT_MASK) as u32)
    }
}

/// The part of an operation the ring needs, whatever its data.
pub(super) struct OpHeader {
    state: Mutex<OpState>,
    home: Arc<Home>,
}

impl OpHeader {
    fn new(home: Arc<Home>) -> OpHeader {
        OpHeader {
            state: Mutex::new(OpState {
                phase: Phase::Idle,
                cancelled: false,
                ring: 0,
                user_data: 0,
                seq: 0,
                waker: None,
                others: Vec::new(),
                items: VecDeque::new(),
                bound: 0,
            }),
            home,
        }
    }

    /// Starter: the operation is about to be handed to ring `ring`; `waker`
    /// is woken when it completes. `bound` 0: a single-shot operation;
    /// otherwise multishot, cancelled by its ring when `bound` items wait
    /// untaken (see the module docs).
    pub(super) fn prepare(&self, ring: usize, waker: &Waker, bound: usize) {
        let mut st = lock(&self.state);
        debug_assert_eq!(st.phase, Phase::Idle, "an operation started twice");
        st.phase = Phase::Pending;
        st.cancelled = false;
        st.ring = ring;
        st.user_data = 0;
        st.seq = 0;
        st.bound = bound;
        match &st.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => st.waker = Some(waker.clone()),
        }
    }

    /// Ring: a CQE flagged `IORING_CQE_F_MORE` (`result`, `flags`) for a
    /// multishot operation: queues the item and wakes the waiters. Returns
    /// whether the ring must cancel the operation now (its bound is
    /// reached, and nobody cancelled it before).
    pub(super) fn deliver(&self, result: i32, flags: u32) -> bool {
        let (waker, others, stop) = {
            let mut st = lock(&self.state);
            debug_assert_eq!(st.phase, Phase::Pending, "an item for an idle operation");
            debug_assert!(st.bound > 0, "an item for a single-shot operation");
            st.items.push_back((result, flags));
            let stop = !st.cancelled && st.items.len() >= st.bound;
            if stop {
                // The cancel is the ring's own; the waiters stay, to take
                // the items and then the end.
                st.cancelled = true;
                #[cfg(test)]
                BOUND_STOPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            (st.waker.clone(), std::mem::take(&mut st.others), stop)
        };
        if let Some(w) = waker {
            w.wake();
        }
        for w in others {
            w.wake();
        }
        stop
    }

    /// Ring: the last CQE (`result`, `flags`) of an operation, single-shot
    /// or multishot (whose last CQE may carry one more item).
    pub(super) fn finish(&self, result: i32, flags: u32) {
        let end = {
            let mut st = lock(&self.state);
            if st.bound > 0 && (result >= 0 || io_uring::cqueue::buffer_select(flags).is_some()) {
                // Queued before the end, so the taker sees it first.
                st.items.push_back((result, flags));
                0
            } else {
                result
            }
        };
        self.complete(end);
    }

    /// Starter of a multishot operation: the next item, or its end (then it
    /// is idle again), or `Pending` with `waker` registered.
    pub(super) fn poll_item(&self, waker: &Waker) -> Poll<Item> {
        self.poll_item_with(Some(waker))
    }

    /// [`poll_item`](Self::poll_item); without a waker (a `try_*` call),
    /// `Pending` registers nothing.
    pub(super) fn poll_item_with(&self, waker: Option<&Waker>) -> Poll<Item> {
        let mut st = lock(&self.state);
        match Self::next_item(&mut st) {
            Some(item) => Poll::Ready(item),
            None => {
                if let Some(waker) = waker {
                    Self::register(&mut st, waker);
                }
                Poll::Pending
            }
        }
    }

    /// Like [`poll_item`](Self::poll_item) without taking anything:
    /// `Ready` once an item or the end waits to be taken.
    pub(super) fn poll_item_ready(&self, waker: &Waker) -> Poll<()> {
        let mut st = lock(&self.state);
        if st.items.is_empty() && st.phase == Phase::Pending {
            Self::register(&mut st, waker);
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    fn next_item(st: &mut OpState) -> Option<Item> {
        if let Some((result, flags)) = st.items.pop_front() {
            return Some(Item::Next(result, flags));
        }
        match st.phase {
            Phase::Done(end) => {
                st.phase = Phase::Idle;
                st.waker = None;
                Some(Item::Ended(end))
            }
            Phase::Lost => Some(Item::Lost),
            Phase::Pending => None,
            Phase::Idle => {
                debug_assert!(false, "polled an operation that was not started");
                Some(Item::Lost)
            }
        }
    }

    /// Starter: the ring refused the operation (shut down); it never
    /// reached the kernel.
    pub(super) fn unprepare(&self) {
        let mut st = lock(&self.state);
        st.phase = Phase::Idle;
        st.waker = None;
    }

    /// Ring owner, when queuing the operation's SQE: records its
    /// `user_data`, unless the starter already gave up on it (then `false`:
    /// the ring must skip it).
    pub(super) fn assign(&self, user_data: u64) -> bool {
        let mut st = lock(&self.state);
        if st.cancelled {
            return false;
        }
        st.user_data = user_data;
        true
    }

    /// Ring owner, moving the operation's SQE to the submission queue as
    /// submission `seq`: `false` if the starter gave up on it meanwhile (the
    /// ring must skip it).
    pub(super) fn mark_submitted(&self, seq: u64) -> bool {
        let mut st = lock(&self.state);
        if st.cancelled {
            return false;
        }
        st.seq = seq;
        true
    }

    /// The `user_data` the ring queued this operation as, if it is still
    /// pending.
    pub(super) fn pending_user_data(&self) -> Option<u64> {
        let st = lock(&self.state);
        (st.phase == Phase::Pending && st.user_data != 0).then_some(st.user_data)
    }

    /// Ring: the operation finished with `result` (a CQE's `res`, or a
    /// synthetic code for one that never reached the kernel). Releases the
    /// home count and wakes the waiters.
    pub(super) fn complete(&self, result: i32) {
        // Released first, so a task that sees `Done` also sees the count
        // drop (and may move the socket to its own ring).
        self.home.release();
        let (waker, others) = {
            let mut st = lock(&self.state);
            debug_assert_eq!(st.phase, Phase::Pending, "completed twice");
            st.phase = Phase::Done(result);
            (st.waker.take(), std::mem::take(&mut st.others))
        };
        if let Some(w) = waker {
            w.wake();
        }
        for w in others {
            w.wake();
        }
    }

    /// Shutdown: the kernel never completed the operation; it is leaked.
    pub(super) fn lose(&self) {
        let (waker, others) = {
            let mut st = lock(&self.state);
            st.phase = Phase::Lost;
            (st.waker.take(), std::mem::take(&mut st.others))
        };
        if let Some(w) = waker {
            w.wake();
        }
        for w in others {
            w.wake();
        }
    }

    /// Starter: the result, consuming it (the phase goes back to `Idle` and
    /// the data is the caller's again), or `Pending` with `waker`
    /// registered. `Err(())` when the operation was lost at shutdown.
    pub(super) fn poll_result(&self, waker: &Waker) -> Poll<Result<i32, Lost>> {
        self.poll_result_with(Some(waker))
    }

    /// [`poll_result`](Self::poll_result); without a waker (a `try_*`
    /// call), `Pending` registers nothing.
    pub(super) fn poll_result_with(&self, waker: Option<&Waker>) -> Poll<Result<i32, Lost>> {
        let mut st = lock(&self.state);
        match Self::result(&mut st) {
            Some(result) => Poll::Ready(result),
            None => {
                if let Some(waker) = waker {
                    Self::register(&mut st, waker);
                }
                Poll::Pending
            }
        }
    }

    fn result(st: &mut OpState) -> Option<Result<i32, Lost>> {
        match st.phase {
            Phase::Done(result) => {
                st.phase = Phase::Idle;
                st.waker = None;
                Some(Ok(result))
            }
            Phase::Lost => Some(Err(Lost)),
            Phase::Pending => None,
            Phase::Idle => {
                debug_assert!(false, "polled an operation that was not started");
                Some(Err(Lost))
            }
        }
    }

    /// Like [`poll_result`](Self::poll_result), for an operation that may
    /// not have been started: `None` when it is idle.
    pub(super) fn try_poll_result(&self, waker: &Waker) -> Option<Poll<Result<i32, Lost>>> {
        if lock(&self.state).phase == Phase::Idle {
            return None;
        }
        Some(self.poll_result(waker))
    }

    /// Like [`poll_result`](Self::poll_result) without consuming a result:
    /// `Ready` once the operation is no longer pending.
    pub(super) fn poll_finished(&self, waker: &Waker) -> Poll<()> {
        let mut st = lock(&self.state);
        if st.phase == Phase::Pending {
            Self::register(&mut st, waker);
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    fn register(st: &mut OpState, waker: &Waker) {
        match &st.waker {
            None => st.waker = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) => {
                if st.others.iter().any(|w| w.will_wake(waker)) {
                    return;
                }
                if st.others.len() >= MAX_OTHERS {
                    for w in st.others.drain(..) {
                        w.wake();
                    }
                }
                st.others.push(waker.clone());
            }
        }
    }

    /// Starter going away: marks the operation cancelled and says what the
    /// ring must be asked.
    pub(super) fn request_cancel(&self) -> CancelRequest {
        let mut st = lock(&self.state);
        if st.phase != Phase::Pending || st.cancelled {
            return CancelRequest::Nothing;
        }
        st.cancelled = true;
        st.waker = None;
        st.others.clear();
        if st.seq == 0 {
            CancelRequest::Skipped
        } else {
            CancelRequest::InRing {
                ring: st.ring,
                user_data: st.user_data,
                seq: st.seq,
            }
        }
    }

    fn phase(&self) -> Phase {
        lock(&self.state).phase
    }

    /// Whether the operation is still with a ring (not yet completed, nor
    /// lost at shutdown).
    pub(super) fn is_pending(&self) -> bool {
        self.phase() == Phase::Pending
    }

    /// The ring the operation was last handed to.
    pub(super) fn ring(&self) -> usize {
        lock(&self.state).ring
    }
}

/// The operation was lost at shutdown (see [`Phase::Lost`]).
#[derive(Debug)]
pub(super) struct Lost;

/// What the ring holds: any operation, whatever its data.
pub(super) trait InFlight: Send + Sync {
    fn header(&self) -> &OpHeader;
}

/// The data of an operation.
pub(super) trait OpData: Send + 'static {
    /// The operation completed with `result` and nobody consumed it (its
    /// starter went away): release what the result holds (an accepted
    /// descriptor).
    fn unclaimed(&mut self, _result: i32) {}

    /// A multishot operation's item (`result`, CQE `flags`) nobody took,
    /// from ring `ring`: release what it holds (an accepted descriptor, a
    /// provided buffer).
    fn unclaimed_item(&mut self, _result: i32, _flags: u32, _ring: usize) {}
}

/// An operation with data `T`.
pub(super) struct Op<T: OpData> {
    header: OpHeader,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is accessed by one party at a time under the protocol in
// the module docs (starter while not pending, kernel while pending), with
// the header's mutex ordering the hand-overs; `T: Send` lets it be dropped
// or used on whichever thread holds the last reference or the result.
unsafe impl<T: OpData> Sync for Op<T> {}

/// Tests: how many multishot operations their rings stopped at the bound.
#[cfg(test)]
pub(super) static BOUND_STOPS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

#[cfg(test)]
pub(super) static LIVE_OPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl<T: OpData> Op<T> {
    pub(super) fn new(home: Arc<Home>, data: T) -> Arc<Op<T>> {
        #[cfg(test)]
        LIVE_OPS.fetch_add(1, Ordering::SeqCst);
        Arc::new(Op {
            header: OpHeader::new(home),
            data: UnsafeCell::new(data),
        })
    }

    /// The data, for reading.
    ///
    /// # Safety
    ///
    /// As for [`data_mut`](Self::data_mut), except that other shared
    /// references may exist.
    pub(super) unsafe fn data(&self) -> &T {
        debug_assert!(!matches!(self.header.phase(), Phase::Pending | Phase::Lost));
        // SAFETY: the caller guarantees nobody writes the data meanwhile.
        self.data.with(|p| unsafe { &*p })
    }

    /// The data, for reading and writing.
    ///
    /// # Safety
    ///
    /// The caller is the operation's starter, the operation is not
    /// `Pending` or `Lost` (it was never started, or the caller observed
    /// its result through [`OpHeader::poll_result`] or
    /// [`OpHeader::poll_finished`]), and no other reference to the data is
    /// alive (the starter serializes its own accesses, e.g. under a socket
    /// slot's lock).
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn data_mut(&self) -> &mut T {
        debug_assert!(!matches!(self.header.phase(), Phase::Pending | Phase::Lost));
        // SAFETY: the caller guarantees exclusive access (see above).
        self.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: OpData> InFlight for Op<T> {
    fn header(&self) -> &OpHeader {
        &self.header
    }
}

impl<T: OpData> Drop for Op<T> {
    fn drop(&mut self) {
        #[cfg(test)]
        LIVE_OPS.fetch_sub(1, Ordering::SeqCst);
        let (phase, items, ring, multishot) = {
            let mut st = lock(&self.header.state);
            (
                st.phase,
                std::mem::take(&mut st.items),
                st.ring,
                st.bound > 0,
            )
        };
        debug_assert!(
            !matches!(phase, Phase::Pending | Phase::Lost),
            "an operation freed while the kernel may use it"
        );
        if matches!(phase, Phase::Done(_)) || !items.is_empty() {
            // SAFETY: `&mut self`: no other reference exists, and the
            // kernel completed the operation.
            let data = self.data.with_mut(|p| unsafe { &mut *p });
            for (result, flags) in items {
                data.unclaimed_item(result, flags, ring);
            }
            if let Phase::Done(result) = phase
                && !multishot
            {
                data.unclaimed(result);
            }
        }
    }
}

/// The error for a completion result (`-errno`, or the shutdown code).
pub(super) fn result_error(result: i32) -> io::Error {
    if result == SHUTDOWN_RESULT {
        super::super::shutdown_error()
    } else {
        io::Error::from_raw_os_error(-result)
    }
}

/// A completion result as an `io::Result` of a count.
pub(super) fn to_io(result: i32) -> io::Result<usize> {
    if result >= 0 {
        Ok(result as usize)
    } else {
        Err(result_error(result))
    }
}

#[cfg(test)]
mod home_tests {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::Arc;

    use super::{Closing, Home};
    use crate::runtime::io::{DriverConfig, IoHandle};
    use crate::spec::Backend;

    /// A pipe; the read end tells whether the write end is closed (a read
    /// returns 0 only then; with the write end open it would wait, so the
    /// read end is non-blocking and reports `WouldBlock`).
    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) };
        assert_eq!(rc, 0);
        // SAFETY: `pipe2` returned two new descriptors nobody else owns.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// Runs the ring (so a staged or remote close reaches the kernel), then
    /// says whether the pipe's write end is closed.
    fn write_end_closed(handle: &IoHandle, read: &OwnedFd) -> bool {
        use std::os::fd::AsRawFd;
        handle.driver(0).poll_now();
        let mut byte = 0u8;
        // SAFETY: one byte into a valid local.
        let n = unsafe { libc::read(read.as_raw_fd(), (&raw mut byte).cast(), 1) };
        n == 0
    }

    fn handle() -> Arc<IoHandle> {
        let config = DriverConfig {
            events_per_tick: 64,
            uring_entries: 8,
            uring_sqpoll: None,
            single_issuer: false,
        };
        Arc::new(IoHandle::new(Backend::IoUring, 1, config).expect("an io_uring driver"))
    }

    #[test]
    fn roaming_home_closes_through_the_ring_after_the_last_outstanding_operation() {
        let handle = handle();
        let home = Home::roaming(0);
        assert_eq!(
            home.acquire(Some(1), || Some(1)),
            1,
            "roaming: the starter's ring"
        );
        assert_eq!(
            home.acquire(Some(0), || Some(0)),
            0,
            "even with one outstanding elsewhere"
        );
        let (read, fd) = pipe();
        let handle2 = handle.clone();
        home.close_when_idle(Closing {
            fd,
            handle: handle2,
        });
        assert!(
            !write_end_closed(&handle, &read),
            "two operations outstanding"
        );
        home.release();
        assert!(
            !write_end_closed(&handle, &read),
            "one operation outstanding"
        );
        home.release();
        assert!(
            write_end_closed(&handle, &read),
            "closed after the last release"
        );
        handle.shutdown();
    }

    #[test]
    fn roaming_home_closes_at_once_when_idle() {
        let handle = handle();
        let home = Home::roaming(0);
        home.acquire(None, || None);
        home.release();
        let (read, fd) = pipe();
        home.close_when_idle(Closing {
            fd,
            handle: handle.clone(),
        });
        // Off the ring's owner, the close waits in the ring's remote queue
        // (it is an IORING_OP_CLOSE, not a close(2) on this thread).
        let mut byte = 0u8;
        // SAFETY: one byte into a valid local.
        let n = unsafe {
            libc::read(
                std::os::fd::AsRawFd::as_raw_fd(&read),
                (&raw mut byte).cast(),
                1,
            )
        };
        assert_eq!(n, -1, "still open until the ring runs");
        assert!(write_end_closed(&handle, &read));
        handle.shutdown();
    }

    #[test]
    fn fixed_home_keeps_its_ring_while_operations_are_outstanding() {
        let home: Home = Home::new(0);
        assert_eq!(
            home.acquire(Some(1), || Some(1)),
            1,
            "none outstanding: moves"
        );
        assert_eq!(
            home.acquire(Some(0), || Some(0)),
            1,
            "one outstanding: stays"
        );
        home.release();
        home.release();
        assert_eq!(home.acquire(Some(0), || Some(0)), 0);
    }
}

/// Model checks of an operation shared by its starter and its ring (run
/// with `scripts/loom.sh uring`). No ring runs under loom: each model plays
/// the ring by calling the same `OpHeader` and `Home` functions the driver
/// calls (see `RingStandIn`), and the kernel by writing into the op's data
/// through its `UnsafeCell`, so loom also checks that no Rust access to the
/// data races the kernel's.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::sync::Arc;
    use std::task::{Poll, Waker};

    use loom::thread;

    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, AtomicUsize};

    /// The `user_data` and submission number the model's ring gives the op.
    const USER_DATA: u64 = (1 << 32) | 7;
    const SEQ: u64 = 1;
    /// The byte count the kernel reports for a read it completes.
    const BYTES: u32 = 5;

    /// What the model observes about one op's data.
    #[derive(Default)]
    struct Probe {
        /// The ring saw the op's CQE (or dropped it unsubmitted): the
        /// kernel no longer touches the data.
        kernel_done: AtomicBool,
        drops: AtomicUsize,
        unclaimed: AtomicUsize,
    }

    /// An op's data: a read's byte count, written by the "kernel". A loom
    /// `Arc` inside, so an op that is never freed is reported as a leak.
    struct Buf {
        filled: u32,
        probe: loom::sync::Arc<Probe>,
    }

    impl Drop for Buf {
        fn drop(&mut self) {
            assert!(
                self.probe.kernel_done.load(Ordering::SeqCst),
                "an operation's data freed while the kernel may write it"
            );
            self.probe.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl OpData for Buf {
        fn unclaimed(&mut self, _result: i32) {
            self.probe.unclaimed.fetch_add(1, Ordering::SeqCst);
        }
    }

    use crate::loom::model::{task, wakes};

    /// An op started the way `Submitter::start` starts one: the home counts
    /// it, the starter fills the data and registers its waker, and the ring
    /// takes its reference (the remote queue's, then the slab's).
    fn started(waker: &Waker) -> (Arc<Op<Buf>>, RingStandIn, loom::sync::Arc<Probe>) {
        let probe = loom::sync::Arc::new(Probe::default());
        let home = Arc::new(Home::new(0));
        assert_eq!(home.acquire(Some(0), || Some(0)), 0);
        let op = Op::new(
            home,
            Buf {
                filled: 0,
                probe: probe.clone(),
            },
        );
        op.header().prepare(0, waker, 0);
        let ring = RingStandIn {
            slab: op.clone(),
            kernel: op.clone(),
            probe: probe.clone(),
        };
        (op, ring, probe)
    }

    /// The owning ring, reduced to what it does with one op (`driver.rs`):
    /// `queue_op` assigns it a `user_data`, `transfer` moves it to the
    /// submission queue as number `SEQ`, the kernel runs it, and `dispatch`
    /// completes it on its CQE and then drops the slab's reference. An op
    /// cancelled before it reaches the kernel is completed with
    /// `-ECANCELED` instead.
    struct RingStandIn {
        slab: Arc<dyn InFlight>,
        /// The kernel's view: the data's address, from the SQE.
        kernel: Arc<Op<Buf>>,
        probe: loom::sync::Arc<Probe>,
    }

    impl RingStandIn {
        /// Runs the op to its completion; `cancels` holds the `user_data`s
        /// the starters asked this ring to cancel. Whether the op reached
        /// the kernel.
        fn run(self, cancels: &Mutex<Vec<u64>>) -> bool {
            let RingStandIn {
                slab,
                kernel,
                probe,
            } = self;
            let header = slab.header();
            if !header.assign(USER_DATA) || !header.mark_submitted(SEQ) {
                probe.kernel_done.store(true, Ordering::SeqCst);
                drop(kernel);
                header.complete(-libc::ECANCELED);
                return false;
            }
            // In the kernel: a cancel asked for by now (and still meant for
            // this op, as `drain_remote` checks) ends it early, otherwise it
            // fills the buffer.
            let cancelled = lock(cancels)
                .iter()
                .any(|&asked| header.pending_user_data() == Some(asked));
            let result = if cancelled {
                -libc::ECANCELED
            } else {
                kernel.data.with_mut(|buf| {
                    // SAFETY: this is the kernel's access: the op is
                    // pending, so no Rust code touches the data (which loom
                    // checks).
                    unsafe { (*buf).filled = BYTES };
                });
                BYTES as i32
            };
            probe.kernel_done.store(true, Ordering::SeqCst);
            drop(kernel);
            // The CQE.
            header.complete(result);
            drop(slab);
            true
        }
    }

    /// The starter's side of a completed read: the result, then the data.
    fn consume(op: &Op<Buf>, result: Result<i32, Lost>) {
        assert_eq!(result.unwrap(), BYTES as i32);
        // SAFETY: the starter observed the result: the data is its own
        // again (loom checks that the kernel's write happened before).
        assert_eq!(unsafe { op.data_mut() }.filled, BYTES);
    }

    /// The future owning an in-flight op (`OneShot`) is polled once more,
    /// from another worker (a new waker), and dropped (`Submitter::cancel`)
    /// while its ring submits and completes the op: the data is freed
    /// exactly once, only after the ring is done with it; a result nobody
    /// consumed goes to `unclaimed`; a cancel that took effect wakes nobody;
    /// and nothing leaks (the home's count, the wakers).
    #[test]
    fn loom_uring_op_dropped_while_in_flight() {
        loom::model(|| {
            let (starter, waker) = task();
            let (op, ring, probe) = started(&waker);
            let cancels = loom::sync::Arc::new(Mutex::new(Vec::new()));
            let ring_cancels = cancels.clone();
            let ring = thread::spawn(move || ring.run(&ring_cancels));
            drop(waker);

            let (moved, waker) = task();
            let request = match op.header().poll_result(&waker) {
                Poll::Ready(result) => {
                    consume(&op, result);
                    None
                }
                // The drop of a future whose op is in flight: mark it
                // cancelled and ask its ring to cancel it if it may be in
                // the kernel.
                Poll::Pending => {
                    let request = op.header().request_cancel();
                    if let CancelRequest::InRing { user_data, .. } = request {
                        lock(&cancels).push(user_data);
                    }
                    Some(request)
                }
            };
            let home = op.header.home.clone();
            drop((op, waker));

            let reached_kernel = ring.join().unwrap();
            let woken = (wakes(&starter), wakes(&moved));
            match request {
                None => {
                    assert!(reached_kernel);
                    assert_eq!(probe.unclaimed.load(Ordering::SeqCst), 0);
                }
                // Completed before the cancel: both wakers were registered.
                Some(CancelRequest::Nothing) => assert_eq!(woken, (1, 1)),
                Some(CancelRequest::Skipped) => {
                    assert!(!reached_kernel, "a skipped op reached the kernel");
                    assert_eq!(woken, (0, 0), "a cancelled op woke a task");
                }
                Some(CancelRequest::InRing {
                    ring,
                    user_data,
                    seq,
                }) => {
                    assert!(reached_kernel);
                    assert_eq!((ring, user_data, seq), (0, USER_DATA, SEQ));
                    assert_eq!(woken, (0, 0), "a cancelled op woke a task");
                }
            }
            if request.is_some() {
                assert_eq!(probe.unclaimed.load(Ordering::SeqCst), 1);
            }
            assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
            assert_eq!(home.snapshot(), (0, 0), "the home still counts the op");
            assert_eq!(Arc::strong_count(&starter), 1, "a waker was leaked");
            assert_eq!(Arc::strong_count(&moved), 1, "a waker was leaked");
        });
    }

    /// The completion races the starter's first `poll_result` (the waker it
    /// registered when starting may be all there is) and a second task
    /// waiting on the same op (`poll_finished`, as a socket slot's other
    /// users do): every poll that returns `Pending` is followed by a wake,
    /// and the starter reads what the kernel wrote, after it wrote it.
    #[test]
    fn loom_uring_op_completes_around_the_first_poll() {
        loom::model(|| {
            let (starter, waker) = task();
            let (op, ring, probe) = started(&waker);
            let cancels = Mutex::new(Vec::new());
            let ring = thread::spawn(move || ring.run(&cancels));
            let other_op = op.clone();
            let other = thread::spawn(move || {
                let (other, waker) = task();
                let pending = other_op.header().poll_finished(&waker).is_pending();
                (other, pending)
            });

            // The starter reads the data as soon as it sees the result,
            // while the ring may still be running.
            let pending = match op.header().poll_result(&waker) {
                Poll::Ready(result) => {
                    consume(&op, result);
                    false
                }
                Poll::Pending => true,
            };
            assert!(ring.join().unwrap());
            let (other, other_pending) = other.join().unwrap();
            if other_pending {
                assert_eq!(wakes(&other), 1, "a waiting task was not woken");
            }
            if pending {
                assert_eq!(wakes(&starter), 1, "the starter was not woken");
                let Poll::Ready(result) = op.header().poll_result(&waker) else {
                    panic!("woken, but the op is still pending");
                };
                consume(&op, result);
            }
            drop((op, waker));
            assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
            assert_eq!(probe.unclaimed.load(Ordering::SeqCst), 0);
            assert_eq!(Arc::strong_count(&starter), 1, "a waker was leaked");
            assert_eq!(Arc::strong_count(&other), 1, "a waker was leaked");
        });
    }

    /// A multishot op's data: counts the items released untaken.
    struct Items {
        released: loom::sync::Arc<AtomicUsize>,
    }

    impl OpData for Items {
        fn unclaimed_item(&mut self, _result: i32, _flags: u32, _ring: usize) {
            self.released.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A multishot op with bound 2, in the kernel, and its ring's side: two
    /// items (the second reaches the bound, so the ring cancels it), then
    /// the cancel's last CQE.
    fn multishot() -> Multishot {
        let released = loom::sync::Arc::new(AtomicUsize::new(0));
        let home = Arc::new(Home::new(0));
        assert_eq!(home.acquire(Some(0), || Some(0)), 0);
        let op = Op::new(
            home,
            Items {
                released: released.clone(),
            },
        );
        let (starter, waker) = task();
        op.header().prepare(0, &waker, 2);
        assert!(op.header().assign(USER_DATA) && op.header().mark_submitted(SEQ));
        let slab: Arc<dyn InFlight> = op.clone();
        let ring = thread::spawn(move || {
            let header = slab.header();
            let stops = (header.deliver(10, 0), header.deliver(11, 0));
            header.finish(-libc::ECANCELED, 0);
            stops
        });
        Multishot {
            op,
            ring,
            released,
            starter,
            waker,
        }
    }

    /// What [`multishot`] sets up.
    struct Multishot {
        op: Arc<Op<Items>>,
        /// The ring's thread; returns what its two deliveries said.
        ring: thread::JoinHandle<(bool, bool)>,
        released: loom::sync::Arc<AtomicUsize>,
        starter: Arc<crate::loom::model::Task>,
        waker: Waker,
    }

    /// The starter takes a multishot op's items while its ring delivers
    /// them: it sees both, in order, then the end, and every `Pending` is
    /// followed by a wake; the ring stops the op when (and only when) its
    /// bound of items waits untaken.
    #[test]
    fn loom_uring_multishot_items_arrive_in_order_then_the_end() {
        loom::model(|| {
            let Multishot {
                op,
                ring,
                released,
                starter,
                waker,
            } = multishot();
            let mut seen = Vec::new();
            let mut ended = None;
            let mut pending = false;
            for _ in 0..2 {
                match op.header().poll_item(&waker) {
                    Poll::Ready(Item::Next(result, _)) => seen.push(result),
                    Poll::Ready(item) => panic!("{item:?} before the items"),
                    Poll::Pending => {
                        pending = true;
                        break;
                    }
                }
            }
            let stops = ring.join().unwrap();
            assert!(!stops.0, "stopped below its bound");
            if seen.is_empty() {
                // Both items waited untaken when the second arrived.
                assert!(stops.1, "not stopped at its bound");
            }
            if pending {
                assert!(wakes(&starter) >= 1, "a waiting starter was not woken");
            }
            while ended.is_none() {
                match op.header().poll_item(&waker) {
                    Poll::Ready(Item::Next(result, _)) => seen.push(result),
                    Poll::Ready(Item::Ended(end)) => ended = Some(end),
                    other => panic!("{other:?} after the last CQE"),
                }
            }
            assert_eq!(seen, [10, 11], "items lost, repeated or reordered");
            assert_eq!(ended, Some(-libc::ECANCELED));
            let home = op.header.home.clone();
            drop((op, waker));
            assert_eq!(released.load(Ordering::SeqCst), 0);
            assert_eq!(home.snapshot(), (0, 0), "the home still counts the op");
            assert_eq!(Arc::strong_count(&starter), 1, "a waker was leaked");
        });
    }

    /// The starter takes at most one item and goes away (cancelling) while
    /// the ring delivers: every item is taken or released, exactly once.
    #[test]
    fn loom_uring_multishot_items_left_behind_are_released() {
        loom::model(|| {
            let Multishot {
                op,
                ring,
                released,
                starter,
                waker,
            } = multishot();
            let taken = match op.header().poll_item(&waker) {
                Poll::Ready(Item::Next(..)) => 1,
                Poll::Ready(item) => panic!("{item:?} before the items"),
                Poll::Pending => 0,
            };
            // Whatever the cancel request says, the ring's last CQE comes.
            let _ = op.header().request_cancel();
            let home = op.header.home.clone();
            drop((op, waker));
            ring.join().unwrap();
            assert_eq!(taken + released.load(Ordering::SeqCst), 2);
            assert_eq!(home.snapshot(), (0, 0), "the home still counts the op");
            assert_eq!(Arc::strong_count(&starter), 1, "a waker was leaked");
        });
    }

    /// Stands in for [`Closing`] (the ring's `IORING_OP_CLOSE`): checks that
    /// no operation may still name the descriptor when it is closed.
    struct CloseProbe {
        /// Operations whose completions were reaped.
        reaped: loom::sync::Arc<AtomicUsize>,
        closes: loom::sync::Arc<AtomicUsize>,
    }

    impl Close for CloseProbe {
        fn close(self) {
            assert_eq!(
                self.reaped.load(Ordering::SeqCst),
                2,
                "the descriptor was closed while an operation was outstanding"
            );
            self.closes.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A file's shared part (`fs::File`'s `Inner`): the last handle to go
    /// queues the close of the descriptor.
    struct FileHandle {
        home: Arc<Home<CloseProbe>>,
        closing: Option<CloseProbe>,
    }

    impl Drop for FileHandle {
        fn drop(&mut self) {
            self.home
                .close_when_idle(self.closing.take().expect("dropped once"));
        }
    }

    /// A file's roaming home: an operation started on worker 1's ring while
    /// the other worker's ring reaps an earlier one and the last handle goes
    /// away: the descriptor is closed exactly once, after both completions.
    #[test]
    fn loom_uring_roaming_home_closes_after_the_last_operation() {
        loom::model(|| {
            let reaped = loom::sync::Arc::new(AtomicUsize::new(0));
            let closes = loom::sync::Arc::new(AtomicUsize::new(0));
            let home = Arc::new(Home::roaming(0));
            let file = loom::sync::Arc::new(FileHandle {
                home: home.clone(),
                closing: Some(CloseProbe {
                    reaped: reaped.clone(),
                    closes: closes.clone(),
                }),
            });
            // An operation started on worker 0, reaped by its ring.
            assert_eq!(home.acquire(Some(0), || Some(0)), 0);
            let (h, r) = (home.clone(), reaped.clone());
            let ring0 = thread::spawn(move || {
                r.fetch_add(1, Ordering::SeqCst);
                h.release();
            });
            // A task on worker 1 starts one through its own handle, drops
            // the handle, and worker 1's ring reaps the operation.
            let (h, r, f) = (home.clone(), reaped.clone(), file.clone());
            let worker1 = thread::spawn(move || {
                assert_eq!(h.acquire(Some(1), || Some(1)), 1);
                drop(f);
                r.fetch_add(1, Ordering::SeqCst);
                h.release();
            });
            drop(file);
            ring0.join().unwrap();
            worker1.join().unwrap();
            assert_eq!(closes.load(Ordering::SeqCst), 1, "closed never or twice");
            assert_eq!(home.snapshot().1, CLOSING as u32);
        });
    }
}
