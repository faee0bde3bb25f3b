//! Each worker's local run queue: a fixed ring of `D::DEPTH` slots (the
//! const from `scheduler(local_queue = N)`), pushed and popped by its owner
//! without locks and stolen from by other workers, half at a time.
//!
//! `head` packs two indices: `real`, the next slot the owner pops, and
//! `steal`, the first slot a stealer is still copying out (equal to `real`
//! when nobody steals). A stealer claims slots by advancing `real` while
//! leaving `steal` behind, copies them, then moves `steal` up; the owner
//! never writes a slot before `steal`, so a claimed slot stays intact until
//! it is copied. Indices are `u32` and wrap; the ring position is
//! `index & MASK`.

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::loom::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use crate::spec::LocalQueueCapacity;

pub(crate) struct Local<T, D: LocalQueueCapacity> {
    head: AtomicU64,
    tail: AtomicU32,
    buffer: Box<[UnsafeCell<MaybeUninit<T>>]>,
    _depth: PhantomData<D>,
}

// SAFETY: the slots are handed between threads only through the head/tail
// protocol above, which gives each slot one owner at a time; T moves across
// threads, so it must be Send.
unsafe impl<T: Send, D: LocalQueueCapacity> Send for Local<T, D> {}
// SAFETY: as above: shared access is the stealer side of the protocol.
unsafe impl<T: Send, D: LocalQueueCapacity> Sync for Local<T, D> {}

fn pack(steal: u32, real: u32) -> u64 {
    (u64::from(steal) << 32) | u64::from(real)
}

fn unpack(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

impl<T, D: LocalQueueCapacity> Local<T, D> {
    const CAP: u32 = D::DEPTH as u32;
    const MASK: u32 = D::MASK as u32;

    pub(crate) fn new() -> Self {
        Local {
            head: AtomicU64::new(0),
            tail: AtomicU32::new(0),
            buffer: (0..D::DEPTH)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            _depth: PhantomData,
        }
    }

    fn slot(&self, index: u32) -> &UnsafeCell<MaybeUninit<T>> {
        &self.buffer[(index & Self::MASK) as usize]
    }

    /// Tasks in the queue (a snapshot; exact for the owner).
    pub(crate) fn len(&self) -> usize {
        let (_, real) = unpack(self.head.load(Acquire));
        self.tail.load(Acquire).wrapping_sub(real) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes at the back. When the ring is full, half of it plus `task`
    /// go to `overflow` in one batch (the global queue).
    ///
    /// # Safety
    ///
    /// Only the queue's owner (one thread at a time) may push or pop.
    pub(crate) unsafe fn push_back(&self, task: T, overflow: impl FnOnce(Vec<T>)) {
        loop {
            let (steal, real) = unpack(self.head.load(Acquire));
            // Only the owner writes `tail`.
            let tail = self.tail.load(Relaxed);
            if tail.wrapping_sub(steal) < Self::CAP {
                // SAFETY: slots from `tail` up to `steal + CAP` belong to the
                // owner: stealers only read slots below `real`.
                self.slot(tail)
                    .with_mut(|p| unsafe { p.write(MaybeUninit::new(task)) });
                self.tail.store(tail.wrapping_add(1), Release);
                return;
            }
            if steal != real {
                // A stealer is copying out and will free room; don't wait.
                overflow(vec![task]);
                return;
            }
            match self.take_half(real, tail) {
                Some(mut batch) => {
                    batch.push(task);
                    overflow(batch);
                    return;
                }
                // A stealer took some tasks meanwhile: there is room now.
                None => continue,
            }
        }
    }

    /// Claims the older half of a full ring for the owner and moves it out.
    fn take_half(&self, head: u32, tail: u32) -> Option<Vec<T>> {
        let half = Self::CAP / 2;
        debug_assert_eq!(tail.wrapping_sub(head), Self::CAP);
        let claimed = pack(head.wrapping_add(half), head.wrapping_add(half));
        self.head
            .compare_exchange(pack(head, head), claimed, Release, Relaxed)
            .ok()?;
        let mut batch = Vec::with_capacity(half as usize + 1);
        for i in 0..half {
            // SAFETY: the CAS above claimed these slots for the owner, and
            // each held an initialized task.
            batch.push(
                self.slot(head.wrapping_add(i))
                    .with(|p| unsafe { p.read().assume_init() }),
            );
        }
        Some(batch)
    }

    /// Pops from the front.
    ///
    /// # Safety
    ///
    /// Only the queue's owner may push or pop.
    pub(crate) unsafe fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Acquire);
        loop {
            let (steal, real) = unpack(head);
            if real == self.tail.load(Relaxed) {
                return None;
            }
            let next_real = real.wrapping_add(1);
            let next = if steal == real {
                pack(next_real, next_real)
            } else {
                pack(steal, next_real)
            };
            match self.head.compare_exchange(head, next, AcqRel, Acquire) {
                // SAFETY: the CAS claimed slot `real`, which held a task.
                Ok(_) => return Some(self.slot(real).with(|p| unsafe { p.read().assume_init() })),
                Err(actual) => head = actual,
            }
        }
    }

    /// Steals about half of `self`'s tasks into `dst`, returning one of them
    /// to run now.
    ///
    /// # Safety
    ///
    /// The caller must be `dst`'s owner.
    pub(crate) unsafe fn steal_into(&self, dst: &Self) -> Option<T> {
        let dst_tail = dst.tail.load(Relaxed);
        let (dst_steal, _) = unpack(dst.head.load(Acquire));
        if dst_tail.wrapping_sub(dst_steal) > Self::CAP / 2 {
            // Not enough room for half a queue.
            return None;
        }
        let mut n = self.steal_into2(dst, dst_tail);
        if n == 0 {
            return None;
        }
        n -= 1;
        // SAFETY: slot `dst_tail + n` was just written by steal_into2 and is
        // not yet published, so it is ours.
        let task = dst
            .slot(dst_tail.wrapping_add(n))
            .with(|p| unsafe { p.read().assume_init() });
        if n > 0 {
            dst.tail.store(dst_tail.wrapping_add(n), Release);
        }
        Some(task)
    }

    fn steal_into2(&self, dst: &Self, dst_tail: u32) -> u32 {
        let mut prev = self.head.load(Acquire);
        let (first, n, claimed) = loop {
            let (steal, real) = unpack(prev);
            if steal != real {
                // Another stealer is at work here.
                return 0;
            }
            let available = self.tail.load(Acquire).wrapping_sub(real);
            let n = available - available / 2;
            if n == 0 {
                return 0;
            }
            let next = pack(steal, real.wrapping_add(n));
            match self.head.compare_exchange(prev, next, AcqRel, Acquire) {
                Ok(_) => break (real, n, next),
                Err(actual) => prev = actual,
            }
        };
        for i in 0..n {
            // SAFETY: slots first..first+n are claimed by this stealer (the
            // owner does not overwrite below `steal`); dst's slots from
            // dst_tail on are unpublished and belong to dst's owner, the caller.
            let task = self
                .slot(first.wrapping_add(i))
                .with(|p| unsafe { p.read() });
            let dst_slot = dst.slot(dst_tail.wrapping_add(i));
            // SAFETY: as above: the destination slot is unpublished and ours.
            dst_slot.with_mut(|p| unsafe { p.write(task) });
        }
        // Done copying: move `steal` up to `real`.
        let mut prev = claimed;
        loop {
            let (_, real) = unpack(prev);
            match self
                .head
                .compare_exchange(prev, pack(real, real), AcqRel, Acquire)
            {
                Ok(_) => return n,
                Err(actual) => prev = actual,
            }
        }
    }
}

impl<T, D: LocalQueueCapacity> Drop for Local<T, D> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can touch the queue.
        while let Some(task) = unsafe { self.pop() } {
            drop(task);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::spec::QueueDepth;

    type Q = Local<usize, QueueDepth<8>>;

    #[test]
    fn fifo_push_pop() {
        let q = Q::new();
        let mut spilled = Vec::new();
        for i in 0..5 {
            // SAFETY: single-threaded test: this thread is the owner.
            unsafe { q.push_back(i, |b| spilled.extend(b)) };
        }
        assert!(spilled.is_empty());
        // SAFETY: as above.
        let popped: Vec<_> = std::iter::from_fn(|| unsafe { q.pop() }).collect();
        assert_eq!(popped, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn overflow_moves_half_plus_one() {
        let q = Q::new();
        let mut spilled = Vec::new();
        for i in 0..9 {
            // SAFETY: single-threaded test: this thread is the owner.
            unsafe { q.push_back(i, |b| spilled.extend(b)) };
        }
        assert_eq!(spilled, [0, 1, 2, 3, 8]);
        assert_eq!(q.len(), 4);
    }

    #[test]
    fn steal_takes_half() {
        let src = Q::new();
        let dst = Q::new();
        for i in 0..6 {
            // SAFETY: single-threaded test.
            unsafe { src.push_back(i, |_| unreachable!()) };
        }
        // SAFETY: single-threaded test: this thread owns dst.
        let got = unsafe { src.steal_into(&dst) };
        assert_eq!(got, Some(2));
        assert_eq!(src.len(), 3);
        assert_eq!(dst.len(), 2);
        // SAFETY: as above.
        assert_eq!(unsafe { dst.pop() }, Some(0));
        // SAFETY: as above.
        assert_eq!(unsafe { src.pop() }, Some(3));
    }

    #[test]
    fn indices_wrap() {
        let q = Q::new();
        for round in 0..10_000usize {
            // SAFETY: single-threaded test.
            unsafe { q.push_back(round, |_| unreachable!()) };
            // SAFETY: as above.
            assert_eq!(unsafe { q.pop() }, Some(round));
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::spec::QueueDepth;
    use loom::sync::Arc;
    use loom::thread;

    type Q = Local<usize, QueueDepth<4>>;

    /// A second worker steals once from `src` and drains what it got.
    fn steal_once(src: &Q) -> Vec<usize> {
        let dst = Q::new();
        let mut got = Vec::new();
        // SAFETY: this thread owns `dst`.
        if let Some(t) = unsafe { src.steal_into(&dst) } {
            got.push(t);
        }
        // SAFETY: as above.
        while let Some(t) = unsafe { dst.pop() } {
            got.push(t);
        }
        got
    }

    /// Owner pushes and pops while another worker steals: every task is
    /// taken exactly once.
    #[test]
    fn loom_queue_push_pop_steal() {
        loom::model(|| {
            let src = Arc::new(Q::new());
            let stealer_src = src.clone();
            let stealer = thread::spawn(move || steal_once(&stealer_src));
            let mut got = Vec::new();
            let mut spilled = Vec::new();
            for i in 0..3 {
                // SAFETY: this thread owns `src`.
                unsafe { src.push_back(i, |b| spilled.extend(b)) };
            }
            // SAFETY: as above.
            if let Some(t) = unsafe { src.pop() } {
                got.push(t);
            }
            let stolen = stealer.join().unwrap();
            // SAFETY: as above.
            while let Some(t) = unsafe { src.pop() } {
                got.push(t);
            }
            got.extend(stolen);
            got.extend(spilled);
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2]);
        });
    }

    /// Overflow races a steal: nothing is lost or duplicated.
    #[test]
    fn loom_queue_overflow_vs_steal() {
        loom::model(|| {
            let src = Arc::new(Q::new());
            for i in 0..4 {
                // SAFETY: the model's main thread owns `src`.
                unsafe { src.push_back(i, |_| unreachable!()) };
            }
            let stealer_src = src.clone();
            let stealer = thread::spawn(move || steal_once(&stealer_src));
            let mut spilled = Vec::new();
            // SAFETY: this thread owns `src`.
            unsafe { src.push_back(4, |b| spilled.extend(b)) };
            let mut got = stealer.join().unwrap();
            // SAFETY: as above.
            while let Some(t) = unsafe { src.pop() } {
                got.push(t);
            }
            got.extend(spilled);
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2, 3, 4]);
        });
    }
}
