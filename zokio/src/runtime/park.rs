//! How threads sleep and who wakes them.
//!
//! - [`ThreadWaker`]: unparks the thread blocked in `block_on`.
//! - [`Parker`]: a worker's sleep, in its I/O driver.
//! - [`Idle`]: the multi_thread scheduler's list of sleeping workers, so a
//!   producer of work can wake one.
//!
//! `Parker` and `Idle` use the `crate::loom` types and sleep through the
//! [`Sleeper`] trait, so the loom models at the bottom check this code, not a
//! copy of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Wake;
use std::thread::Thread;
use std::time::Duration;

use super::io::Driver;
use crate::loom::lock;
use crate::loom::sync::atomic::{
    AtomicBool as ShimAtomicBool, AtomicUsize, Ordering::SeqCst, fence,
};
use crate::loom::sync::{Condvar, Mutex};

pub(crate) struct ThreadWaker {
    thread: Thread,
    /// Set by a wake, cleared before each poll: tells `block_on` whether the
    /// main future needs polling again.
    woken: AtomicBool,
}

impl ThreadWaker {
    pub(crate) fn current() -> Arc<Self> {
        Arc::new(ThreadWaker {
            thread: std::thread::current(),
            // The first poll happens unconditionally.
            woken: AtomicBool::new(true),
        })
    }

    pub(crate) fn take_woken(&self) -> bool {
        self.woken.swap(false, Ordering::AcqRel)
    }

    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(Ordering::Acquire)
    }
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        // The park token persists, so an unpark that lands before the park
        // is not lost.
        self.thread.unpark();
    }
}

/// What a [`Parker`] sleeps in. A `wake` that lands before the `sleep` must
/// stay pending, so that `sleep` returns at once.
pub(crate) trait Sleeper {
    /// Blocks until woken or `timeout`; may return early.
    fn sleep(&self, timeout: Option<Duration>);
    /// Ends a `sleep` in progress, or the next one. Any thread.
    fn wake(&self);
}

/// Where a worker sleeps. With a driver of its own, in that driver. With
/// a driver all the workers share (mio `multi_thread`), in the driver if no
/// other worker waits there, else in a bed of its own (a flag and a condvar)
/// until a `wake`, the timeout, or the next time it parks: the one waiting in
/// the driver takes everyone's I/O events and wakes the others when it has
/// more work than it will run itself (the scheduler's `after_driver`).
pub(crate) struct WorkerSleeper<D: SharedWait = Arc<Driver>> {
    driver: D,
    shared: bool,
    /// Set while this worker is, or is about to be, waiting in the driver:
    /// a `wake` then also wakes the driver.
    in_driver: ShimAtomicBool,
    /// Set by `wake`, cleared by `sleep` as it ends.
    bed: Mutex<bool>,
    bed_cv: Condvar,
}

/// The driver as a [`WorkerSleeper`] sees it (a trait so the loom model can
/// stand in for it).
pub(crate) trait SharedWait {
    /// Whether several workers sleep in this driver.
    fn is_shared(&self) -> bool;
    /// Becomes the one worker allowed to wait in the driver; `false` when
    /// another worker is. Shared drivers only.
    fn try_claim(&self) -> bool;
    /// Gives the claim back.
    fn release(&self);
    /// Waits in the driver until an I/O event, `unpark` or `timeout`. On a
    /// shared driver, only with the claim.
    fn park(&self, timeout: Option<Duration>);
    /// Ends the wait in progress, or the next one. Any thread.
    fn unpark(&self);
}

impl SharedWait for Arc<Driver> {
    fn is_shared(&self) -> bool {
        Driver::is_shared(self)
    }

    #[inline]
    fn try_claim(&self) -> bool {
        Driver::try_claim_waiter(self)
    }

    #[inline]
    fn release(&self) {
        Driver::release_waiter(self);
    }

    #[inline]
    fn park(&self, timeout: Option<Duration>) {
        Driver::park(self, timeout);
    }

    #[inline]
    fn unpark(&self) {
        Driver::unpark(self);
    }
}

impl<D: SharedWait> WorkerSleeper<D> {
    pub(crate) fn new(driver: D) -> Self {
        WorkerSleeper {
            shared: driver.is_shared(),
            driver,
            in_driver: ShimAtomicBool::new(false),
            bed: Mutex::new(false),
            bed_cv: Condvar::new(),
        }
    }
}

impl<D: SharedWait> Sleeper for WorkerSleeper<D> {
    fn sleep(&self, timeout: Option<Duration>) {
        if !self.shared {
            self.driver.park(timeout);
            return;
        }
        if self.driver.try_claim() {
            // Only the claim holder waits in the driver, so the driver's
            // wake-up is always this worker's (or a stale one, which ends
            // one wait early). Announce it before looking at the bed (both
            // SeqCst): a `wake` either finds the flag set here or sees
            // `in_driver` and wakes the driver.
            self.in_driver.swap(true, SeqCst);
            let woken = *lock(&self.bed);
            if !woken {
                self.driver.park(timeout);
            }
            self.in_driver.store(false, SeqCst);
            self.driver.release();
            *lock(&self.bed) = false;
            return;
        }
        // Another worker waits in the driver: sleep in the bed.
        let mut bed = lock(&self.bed);
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        while !*bed {
            match deadline {
                None => {
                    bed = self
                        .bed_cv
                        .wait(bed)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        break;
                    }
                    bed = self
                        .bed_cv
                        .wait_timeout(bed, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        *bed = false;
    }

    fn wake(&self) {
        if !self.shared {
            self.driver.unpark();
            return;
        }
        *lock(&self.bed) = true;
        self.bed_cv.notify_one();
        fence(SeqCst);
        if self.in_driver.load(SeqCst) {
            // This worker holds the claim: it is (or is about to be) the
            // one waiting in the driver.
            self.driver.unpark();
        }
    }
}

/// A worker sleeps in its I/O driver, so I/O events and timers end the
/// sleep too.
impl Sleeper for Arc<Driver> {
    #[inline]
    fn sleep(&self, timeout: Option<Duration>) {
        self.park(timeout);
    }

    #[inline]
    fn wake(&self) {
        self.unpark();
    }
}

/// A worker's sleep, which is a wait in its I/O driver: an I/O event, a
/// timer deadline (the timeout) or an `unpark` ends it. `unpark` on a thread
/// that is not asleep is one atomic swap; only waking a sleeping thread
/// costs a syscall (the driver's eventfd or waker).
pub(crate) struct Parker<D: Sleeper = Arc<Driver>> {
    state: AtomicUsize,
    driver: D,
}

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

impl<D: Sleeper> Parker<D> {
    pub(crate) fn new(driver: D) -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            driver,
        }
    }

    /// Sleeps until unparked, an I/O event or `timeout`; consumes the
    /// wake-up. May return early (an I/O event that woke no task of ours).
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if self
            .state
            .compare_exchange(EMPTY, PARKED, SeqCst, SeqCst)
            .is_err()
        {
            // Notified in between. A swap, not a store: another unpark may
            // have landed since the failed exchange, and only a read
            // synchronizes with it, so that what its caller wrote before
            // unparking is visible when this returns.
            self.state.swap(EMPTY, SeqCst);
            return;
        }
        // An unpark that lands from here on sees PARKED and wakes the
        // driver; if that happens before the driver sleeps, the driver's
        // wake-up stays pending and its wait returns at once.
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "zokio::park", ?timeout, "park");
        self.driver.sleep(timeout);
        self.state.swap(EMPTY, SeqCst);
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "zokio::park", "unparked");
    }

    /// Returns whether the thread was asleep (and is now being woken).
    pub(crate) fn unpark(&self) -> bool {
        let asleep = self.state.swap(NOTIFIED, SeqCst) == PARKED;
        if asleep {
            #[cfg(feature = "tracing")]
            tracing::trace!(target: "zokio::park", "unpark");
            self.driver.wake();
        }
        asleep
    }
}

/// The workers that are asleep or about to be (multi_thread), so that new
/// work can wake one.
///
/// No lost wake-up: a worker [`register`](Self::register)s, then, after a
/// `SeqCst` fence, checks for work once more before sleeping; a producer
/// makes its work visible, then [`pop`](Self::pop) fences and reads the idle
/// count. Whichever fence comes second sees the other side's write, so
/// either the worker finds the work or the producer finds the worker.
pub(crate) struct Idle {
    list: Mutex<Vec<usize>>,
    /// `list.len()`, read without the lock: with nobody idle, waking costs a
    /// producer a fence and a load.
    num_idle: AtomicUsize,
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Self {
        Idle {
            list: Mutex::new(Vec::with_capacity(workers)),
            num_idle: AtomicUsize::new(0),
        }
    }

    /// Registers worker `index` as idle, then asks `has_work` (which must
    /// see every queue a producer pushes to before calling `pop`). Returns
    /// whether the worker may sleep; it must `unregister` when it wakes.
    /// When `has_work` says yes, the worker is unregistered again here.
    pub(crate) fn register(&self, index: usize, has_work: impl FnOnce() -> bool) -> bool {
        {
            let mut list = lock(&self.list);
            list.push(index);
            self.num_idle.store(list.len(), SeqCst);
        }
        // Pairs with the fence in `pop`: orders the registration before
        // `has_work`'s loads.
        fence(SeqCst);
        if has_work() {
            self.unregister(index);
            return false;
        }
        true
    }

    /// Takes worker `index` off the list, unless a producer already did.
    pub(crate) fn unregister(&self, index: usize) {
        let mut list = lock(&self.list);
        if let Some(pos) = list.iter().position(|&i| i == index) {
            list.swap_remove(pos);
            self.num_idle.store(list.len(), SeqCst);
        }
    }

    /// Takes one idle worker off the list for the caller to unpark. Call it
    /// after making the new work visible.
    // Inlined: every push that may need a helper runs this (a fence and a
    // load when nobody is idle), as it did when it was written out there.
    #[inline]
    pub(crate) fn pop(&self) -> Option<usize> {
        // Pairs with the fence in `register`: orders the producer's push
        // before the read of `num_idle`.
        fence(SeqCst);
        if self.num_idle.load(SeqCst) == 0 {
            return None;
        }
        let mut list = lock(&self.list);
        let index = list.pop();
        self.num_idle.store(list.len(), SeqCst);
        index
    }
}

/// Loom models of the code above; only the loops around it are written out
/// here. A lost wake-up leaves every thread blocked, which loom reports as a
/// deadlock.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::AtomicBool;
    use crate::loom::sync::{Arc, Condvar};
    use crate::runtime::scheduler::Inject;
    use loom::thread;

    /// Stands in for the I/O driver: a wake that lands before the sleep
    /// stays pending, like the driver's eventfd.
    struct Bed {
        woken: Mutex<bool>,
        cv: Condvar,
    }

    fn bed() -> Bed {
        Bed {
            woken: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    impl Sleeper for Bed {
        fn sleep(&self, _timeout: Option<Duration>) {
            let mut woken = lock(&self.woken);
            while !*woken {
                woken = self
                    .cv
                    .wait(woken)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            *woken = false;
        }

        fn wake(&self) {
            *lock(&self.woken) = true;
            self.cv.notify_one();
        }
    }

    /// The `Parker` contract: what a thread wrote before its `unpark` is
    /// visible once the parked thread returns, even when two unparks race
    /// with the park (the second lands while the first is being consumed).
    /// `current_thread`'s main-future waker relies on it: a flag stored
    /// with `Release`, then `unpark`.
    #[test]
    fn loom_park_unpark_publishes_prior_writes() {
        loom::model(|| {
            let parker = Arc::new(Parker::new(bed()));
            let flags = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
            let wakers: Vec<_> = (0..2)
                .map(|i| {
                    let (parker, flags) = (parker.clone(), flags.clone());
                    thread::spawn(move || {
                        flags[i].store(true, Ordering::Release);
                        parker.unpark();
                    })
                })
                .collect();
            while !flags.iter().all(|f| f.load(Ordering::Acquire)) {
                parker.park(None);
            }
            for waker in wakers {
                waker.join().unwrap();
            }
        });
    }

    // Two workers and remote spawns through the real `Idle`, `Parker` and
    // injection queue. The worker loop is the scheduler's `run_worker` and
    // `park_worker` without the I/O, timer, spinning and stealing steps,
    // which only end a park attempt early.

    const WORKERS: usize = 2;

    struct Runtime {
        inject: Inject<usize>,
        idle: Idle,
        parkers: [Parker<Bed>; WORKERS],
        shutdown: AtomicBool,
        ran: AtomicUsize,
        /// The task that makes `ran` this shuts the runtime down, so the
        /// workers exit only once every task ran.
        tasks: usize,
    }

    impl Runtime {
        fn new(tasks: usize) -> Arc<Self> {
            Arc::new(Runtime {
                inject: Inject::new(),
                idle: Idle::new(WORKERS),
                parkers: std::array::from_fn(|_| Parker::new(bed())),
                shutdown: AtomicBool::new(false),
                ran: AtomicUsize::new(0),
                tasks,
            })
        }

        /// `Shared::push_remote` + `notify_parked`.
        fn spawn(&self, task: usize) {
            self.inject.push(task);
            if let Some(index) = self.idle.pop() {
                self.parkers[index].unpark();
            }
        }

        /// `Shared::begin_shutdown`.
        fn shut_down(&self) {
            self.shutdown.store(true, SeqCst);
            for parker in &self.parkers {
                parker.unpark();
            }
        }

        /// `Shared::run_worker`.
        fn run_worker(&self, index: usize) {
            while !self.shutdown.load(Ordering::Acquire) {
                match self.inject.pop() {
                    Some(_task) => {
                        if self.ran.fetch_add(1, SeqCst) + 1 == self.tasks {
                            self.shut_down();
                        }
                    }
                    None => self.park_worker(index),
                }
            }
        }

        /// `Shared::park_worker`.
        fn park_worker(&self, index: usize) {
            let may_sleep = self.idle.register(index, || {
                !self.inject.is_empty() || self.shutdown.load(SeqCst)
            });
            if !may_sleep {
                return;
            }
            self.parkers[index].park(None);
            self.idle.unregister(index);
        }
    }

    fn start_workers(rt: &Arc<Runtime>) -> Vec<thread::JoinHandle<()>> {
        (0..WORKERS)
            .map(|index| {
                let rt = rt.clone();
                thread::spawn(move || rt.run_worker(index))
            })
            .collect()
    }

    /// A remote spawn while both workers go idle wakes one of them.
    #[test]
    fn loom_park_remote_spawn_wakes_a_worker() {
        loom::model(|| {
            let rt = Runtime::new(1);
            let workers = start_workers(&rt);
            rt.spawn(0);
            for worker in workers {
                worker.join().unwrap();
            }
            assert_eq!(rt.ran.load(SeqCst), 1);
        });
    }

    /// Two remote spawns in a row: the second can find the idle list
    /// emptied by the first, or the worker the first woke still on it, and
    /// both tasks still run. (From two spawner threads the model takes
    /// minutes at a preemption bound of 3.)
    #[test]
    fn loom_park_two_remote_spawns() {
        loom::model(|| {
            let rt = Runtime::new(2);
            let workers = start_workers(&rt);
            rt.spawn(0);
            rt.spawn(1);
            for worker in workers {
                worker.join().unwrap();
            }
            assert_eq!(rt.ran.load(SeqCst), 2);
        });
    }

    /// Shutdown while the workers go idle: every worker exits.
    #[test]
    fn loom_park_shutdown_stops_all_workers() {
        loom::model(|| {
            let rt = Runtime::new(0);
            let workers = start_workers(&rt);
            rt.shut_down();
            for worker in workers {
                worker.join().unwrap();
            }
            assert_eq!(rt.ran.load(SeqCst), 0);
        });
    }

    /// Stands in for a driver the workers share: one claim at a time, and
    /// a wake that lands before the wait stays pending, like the eventfd.
    struct SharedDriver {
        claimed: AtomicBool,
        pending: Mutex<bool>,
        cv: Condvar,
    }

    impl SharedWait for Arc<SharedDriver> {
        fn is_shared(&self) -> bool {
            true
        }

        fn try_claim(&self) -> bool {
            self.claimed
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_ok()
        }

        fn release(&self) {
            self.claimed.store(false, SeqCst);
        }

        fn park(&self, _timeout: Option<Duration>) {
            let mut pending = lock(&self.pending);
            while !*pending {
                pending = self
                    .cv
                    .wait(pending)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            *pending = false;
        }

        fn unpark(&self) {
            *lock(&self.pending) = true;
            self.cv.notify_all();
        }
    }

    /// Two workers share one driver: whichever gets it waits there, the
    /// other in its bed. A wake for each, from a third thread, must end
    /// both sleeps wherever they happen (loom reports a deadlock if a wake
    /// is lost: one sent to the driver while its worker went to bed, or to
    /// the bed while it waited in the driver).
    #[test]
    fn loom_park_shared_driver_wakes_reach_both_workers() {
        loom::model(|| {
            let driver = Arc::new(SharedDriver {
                claimed: AtomicBool::new(false),
                pending: Mutex::new(false),
                cv: Condvar::new(),
            });
            let sleepers: Vec<_> = (0..2)
                .map(|_| Arc::new(WorkerSleeper::new(driver.clone())))
                .collect();
            let threads: Vec<_> = sleepers
                .iter()
                .map(|sleeper| {
                    let sleeper = sleeper.clone();
                    thread::spawn(move || sleeper.sleep(None))
                })
                .collect();
            for sleeper in &sleepers {
                sleeper.wake();
            }
            for t in threads {
                t.join().unwrap();
            }
        });
    }
}
