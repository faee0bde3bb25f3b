//! The schedulers.
//!
//! Both flavors share one structure, monomorphized on the runtime's
//! [`Spec`]: a set of workers, each with a bounded local run queue of
//! `S::LocalQueue` slots ([`Local`]) and a LIFO slot, plus a global injection
//! queue for tasks scheduled from outside the workers.
//!
//! - `multi_thread`: `S::WORKERS` threads. A worker takes the LIFO slot
//!   (a task woken by the task it just ran, at most three times in a row),
//!   then its local queue, then the global queue, then steals half of another
//!   worker's queue, starting from a random victim. Every
//!   `S::GLOBAL_QUEUE_INTERVAL` ticks it checks the global queue first so
//!   remote spawns are not starved. A full local queue moves half of itself
//!   to the global queue. An idle worker with I/O registered, and no other
//!   worker already waiting in its driver, parks in that driver: at once on
//!   io_uring (its ring), after up to `POLLS_BEFORE_PARK` rounds of a yield
//!   and a poll that does not wait on mio (its epoll, shared by the workers
//!   when there are several). Otherwise it yields the CPU up to
//!   `SPINS_BEFORE_PARK` times, re-checking the queues, then parks (in the
//!   driver, or on its own condition variable when another worker waits
//!   there). Scheduling work wakes one parked worker.
//! - `current_thread`: one worker, driven by the thread in `block_on`, which
//!   interleaves the main future with batches of up to `S::EVENT_INTERVAL`
//!   tasks.
//!
//! No lost wake-ups: a worker registers as idle, then (after a `SeqCst`
//! fence) checks every queue once more before sleeping; a producer pushes,
//! fences, then reads the idle count. One of the two always sees the other
//! (`park.rs` has the protocol and its loom models).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::blocking::BlockingPool;
use super::io::{DriverConfig, IoHandle, OwnerGuard};
use super::park::{Idle, Parker, WorkerSleeper};
use super::queue::Local;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::{UnsafeCell, lock};
use crate::metrics::{Activity, Event, Gathered, RuntimeMetrics, TaskDump, WorkerCounters};
use crate::spec::{Flavor, MetricsMode, Spec};
use crate::task::coop;
use crate::task::owned::OwnedTasks;
use crate::task::raw::{Notified, Schedule, TaskRef};
use crate::time::driver::TimeDriver;

/// What a `Handle` needs from a scheduler, whatever its `Spec`.
pub(crate) trait SchedulerHandle: Schedule {
    fn flavor(&self) -> Flavor;
    fn blocking(&self) -> &Arc<BlockingPool>;
    fn time(&self) -> &Arc<TimeDriver>;
    fn io(&self) -> &Arc<IoHandle>;
    /// Lists a new task and queues it (one call for both on the spawn path).
    fn spawn_task(&self, owned: TaskRef, notified: Notified);
    /// The counters and gauges, summed.
    fn metrics(&self) -> RuntimeMetrics;
    /// The live tasks.
    fn dump(&self) -> TaskDump;
}

/// The counters a worker of `S` keeps (zero-sized with metrics off).
type CountersOf<S> = <<S as Spec>::Metrics as MetricsMode>::Counters;

thread_local! {
    /// The worker this thread is: (scheduler address, worker index).
    static WORKER: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// Marks the calling thread as worker `index` of `shared` until dropped.
pub(crate) struct WorkerGuard {
    previous: Option<(usize, usize)>,
    /// The worker owns its I/O driver while it is the worker.
    _io: OwnerGuard,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.with(|w| w.set(self.previous));
    }
}

/// A worker loop's polls not yet added to its counters: counted in a local
/// and added once per batch, so the loop keeps no per-poll counter in
/// memory (all zero, and compiled away, with metrics off).
struct PollTally {
    /// The counters' poll count at the last flush.
    counted: u64,
    /// Polls since.
    pending: u64,
}

impl PollTally {
    #[inline(always)]
    fn new(metrics: &impl WorkerCounters) -> Self {
        PollTally {
            counted: metrics.polls(),
            pending: 0,
        }
    }

    /// Counts a poll; returns its number (the worker's polls before it).
    #[inline(always)]
    fn next(&mut self) -> u64 {
        let nth = self.counted.wrapping_add(self.pending);
        self.pending += 1;
        nth
    }

    /// Adds the pending polls to the counters.
    #[inline(always)]
    fn flush(&mut self, metrics: &impl WorkerCounters) {
        metrics.polls_ran(self.pending);
        self.counted = self.counted.wrapping_add(self.pending);
        self.pending = 0;
    }
}

/// The global injection queue. Generic and on the `crate::loom` types only
/// for the park models, which push `usize`s through it.
pub(super) struct Inject<T> {
    queue: Mutex<InjectQueue<T>>,
    /// A copy of the length, read without the lock to skip empty checks.
    len: AtomicUsize,
}

struct InjectQueue<T> {
    tasks: VecDeque<T>,
    closed: bool,
}

impl<T> Inject<T> {
    pub(super) fn new() -> Self {
        Inject {
            queue: Mutex::new(InjectQueue {
                tasks: VecDeque::new(),
                closed: false,
            }),
            len: AtomicUsize::new(0),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    pub(super) fn push(&self, task: T) {
        let mut q = lock(&self.queue);
        if q.closed {
            // Shut down: the task was (or is being) cancelled through the
            // owned list; only this queue reference goes.
            drop(q);
            drop(task);
            return;
        }
        q.tasks.push_back(task);
        self.len.store(q.tasks.len(), Ordering::Release);
    }

    fn push_batch(&self, batch: Vec<T>) {
        let mut q = lock(&self.queue);
        if q.closed {
            drop(q);
            drop(batch);
            return;
        }
        q.tasks.extend(batch);
        self.len.store(q.tasks.len(), Ordering::Release);
    }

    pub(super) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut q = lock(&self.queue);
        let task = q.tasks.pop_front();
        self.len.store(q.tasks.len(), Ordering::Release);
        task
    }

    /// Takes up to `max` tasks in one lock: the first to run now, the rest
    /// for the caller's local queue.
    fn pop_batch(&self, max: usize, mut rest: impl FnMut(T)) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut q = lock(&self.queue);
        let first = q.tasks.pop_front()?;
        let take = max.saturating_sub(1).min(q.tasks.len());
        for task in q.tasks.drain(..take) {
            rest(task);
        }
        self.len.store(q.tasks.len(), Ordering::Release);
        Some(first)
    }

    /// Closes the queue and returns what was in it.
    fn close(&self) -> VecDeque<T> {
        let mut q = lock(&self.queue);
        q.closed = true;
        self.len.store(0, Ordering::Release);
        std::mem::take(&mut q.tasks)
    }
}

/// Aligned to two cache lines so neighbouring workers' queue indices and
/// LIFO slots never share a line (adjacent-line prefetch included): each
/// worker writes its own queue's indices on every push and pop.
#[repr(align(128))]
struct Worker<S: Spec> {
    queue: Local<Notified, S::LocalQueue>,
    /// The task woken by the running task; touched only by the owner.
    lifo: UnsafeCell<Option<Notified>>,
    /// Consecutive LIFO picks, to bound how long the LIFO slot can keep the
    /// local queue waiting. Owner only.
    lifo_streak: Cell<u8>,
    /// Set while the worker dispatches its I/O driver's events. Owner only.
    in_driver: Cell<bool>,
    /// xorshift state for picking a steal victim. Owner only.
    rng: Cell<u32>,
    parker: Parker<WorkerSleeper>,
    /// Written by the owner (`add`) and, for wake-ups, by others
    /// (`add_shared`); zero-sized with metrics off.
    metrics: CountersOf<S>,
}

// SAFETY: `lifo`, `lifo_streak` and `rng` are touched only by the thread
// that currently is this worker (the WORKER thread-local proves it, and one
// thread at a time holds a worker); `queue` is Sync itself.
unsafe impl<S: Spec> Sync for Worker<S> {}

/// How many times an idle worker yields and re-checks the queues before it
/// sleeps.
const SPINS_BEFORE_PARK: usize = 16;

/// How many times an idle worker that would wait in a mio driver first
/// yields and polls the driver without waiting (see `park_worker`).
const POLLS_BEFORE_PARK: usize = 8;

pub(crate) struct Shared<S: Spec> {
    flavor: Flavor,
    owned: OwnedTasks,
    inject: Inject<Notified>,
    workers: Box<[Worker<S>]>,
    idle: Idle,
    /// Workers currently trying to steal.
    num_searching: AtomicUsize,
    shutdown: AtomicBool,
    /// `current_thread`: whether some thread is driving worker 0.
    driving: AtomicBool,
    blocking: Arc<BlockingPool>,
    /// The timing wheel; processed by workers every `S::EVENT_INTERVAL`
    /// ticks and whenever they wake from a park timed to its next deadline.
    time: Arc<TimeDriver>,
    /// The I/O drivers: a ring per worker on io_uring, each worker parking
    /// in its own; on mio one epoll the workers share.
    io: Arc<IoHandle>,
    /// Counts what happens off the workers (spawns from other threads).
    remote: CountersOf<S>,
    /// One per worker with `detect_blocking` set (read by the monitor
    /// thread); empty otherwise.
    activity: Arc<[Activity]>,
}

impl<S: Spec> Shared<S> {
    /// `single_driver`: only the building thread will drive a
    /// `current_thread` runtime (see `Runtime::build_single_driver`).
    pub(crate) fn new(
        workers: usize,
        blocking: Arc<BlockingPool>,
        single_driver: bool,
    ) -> std::io::Result<Arc<Self>> {
        let io = Arc::new(IoHandle::new(
            S::BACKEND,
            workers,
            DriverConfig {
                events_per_tick: S::EVENTS_PER_TICK,
                uring_entries: <S::UringEntries as crate::spec::UringCapacity>::ENTRIES,
                uring_sqpoll: S::URING_SQPOLL,
                // A worker thread drives its own driver, and only it; a
                // `current_thread` runtime is driven by whichever thread
                // calls `block_on`, unless it is built for one.
                single_issuer: S::FLAVOR == Flavor::MultiThread || single_driver,
            },
        )?);
        Ok(Arc::new_cyclic(|me: &Weak<Self>| {
            let me = me.clone();
            // A new earliest deadline: wake a sleeper so it re-times its park.
            let unpark: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                if let Some(shared) = me.upgrade() {
                    shared.wake_for_timer();
                }
            });
            Self::with_drivers(
                workers,
                blocking,
                Arc::new(TimeDriver::new(S::TIMER_RESOLUTION, unpark)),
                io,
            )
        }))
    }

    fn with_drivers(
        workers: usize,
        blocking: Arc<BlockingPool>,
        time: Arc<TimeDriver>,
        io: Arc<IoHandle>,
    ) -> Self {
        Shared {
            flavor: S::FLAVOR,
            owned: OwnedTasks::new(),
            inject: Inject::new(),
            workers: (0..workers)
                .map(|i| Worker {
                    queue: Local::new(),
                    lifo: UnsafeCell::new(None),
                    lifo_streak: Cell::new(0),
                    in_driver: Cell::new(false),
                    rng: Cell::new(0x9E37_79B9 ^ (i as u32).wrapping_mul(0x85EB_CA6B) | 1),
                    parker: Parker::new(WorkerSleeper::new(io.driver(i).clone())),
                    metrics: CountersOf::<S>::default(),
                })
                .collect(),
            idle: Idle::new(workers),
            num_searching: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            driving: AtomicBool::new(false),
            blocking,
            time,
            io,
            remote: CountersOf::<S>::default(),
            activity: (0..if S::DETECT_BLOCKING.is_some() {
                workers
            } else {
                0
            })
                .map(|_| Activity::new())
                .collect(),
        }
    }

    /// The workers' poll records, for the blocked-worker monitor.
    pub(crate) fn activity(&self) -> &Arc<[Activity]> {
        &self.activity
    }

    /// Wakes worker `index` if it sleeps.
    fn unpark(&self, index: usize) {
        let worker = &self.workers[index];
        if worker.parker.unpark() {
            worker.metrics.add_shared(Event::Unparks, 1);
        }
    }

    /// Polls `task` on worker `index` (the caller is that worker), with the
    /// budget, the counters and the blocked-worker record around it. `nth`
    /// is the worker's poll number (its polls before this one, from the
    /// caller's [`PollTally`]).
    #[inline(always)]
    fn run_task(&self, index: usize, task: Notified, nth: u64) {
        let worker = &self.workers[index];
        match worker.metrics.poll_started(nth) {
            None => {}
            Some((now, false)) => task.task().header().record_poll(now),
            // One poll in `POLL_TIME_SAMPLE` is timed, out of line, so the
            // clock reads and the histogram stay out of this loop's code.
            Some((now, true)) => return self.run_task_timed(index, task, now),
        }
        let completed = self.poll_task(index, task);
        worker.metrics.poll_ended(completed);
    }

    /// [`run_task`](Self::run_task) for a poll whose duration is sampled.
    #[cold]
    #[inline(never)]
    fn run_task_timed(&self, index: usize, task: Notified, now: u64) {
        let worker = &self.workers[index];
        task.task().header().record_poll(now);
        let start = Instant::now();
        let completed = self.poll_task(index, task);
        worker.metrics.timed_poll(start, Instant::now());
        worker.metrics.poll_ended(completed);
    }

    /// One poll of `task` with the budget and the blocked-worker record.
    #[inline(always)]
    fn poll_task(&self, index: usize, task: Notified) -> bool {
        if S::DETECT_BLOCKING.is_some() {
            let task = task.task();
            let header = task.header();
            self.activity[index].start(header.id, header.spawned_at);
        }
        let completed = coop::with_budget(S::BUDGET, || task.run());
        if S::DETECT_BLOCKING.is_some() {
            self.activity[index].end();
        }
        completed
    }

    /// Moves a local queue's overflow to the global queue.
    fn overflow(&self, index: usize, batch: Vec<Notified>) {
        let metrics = &self.workers[index].metrics;
        metrics.add(Event::Overflows, 1);
        metrics.add(Event::OverflowedTasks, batch.len() as u64);
        self.inject.push_batch(batch);
    }

    fn wake_for_timer(&self) {
        match self.flavor {
            Flavor::CurrentThread => self.unpark(0),
            Flavor::MultiThread => self.notify_parked(),
        }
    }

    /// How long a parking worker may sleep: until the next timer.
    fn park_timeout(&self) -> Option<Duration> {
        self.time
            .next_expiration()
            .map(|at| at.saturating_duration_since(self.time.now()))
    }

    /// Fires the timers that are due (on worker `index`, the caller).
    fn process_timers(&self, index: usize) {
        if self
            .time
            .next_expiration()
            .is_some_and(|at| at <= self.time.now())
        {
            let fired = self.time.process(self.time.now());
            self.workers[index]
                .metrics
                .add(Event::TimersFired, fired as u64);
        }
    }

    fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// The worker index of the calling thread, if it is one of ours.
    fn current_index(&self) -> Option<usize> {
        match WORKER.with(Cell::get) {
            Some((addr, index)) if addr == self.addr() => Some(index),
            _ => None,
        }
    }

    fn enter_worker(&self, index: usize) -> WorkerGuard {
        let previous = WORKER.with(|w| w.replace(Some((self.addr(), index))));
        WorkerGuard {
            previous,
            _io: self.io.enter_owner(index),
        }
    }

    /// Pushes to worker `index`'s queue (the caller is that worker).
    fn push_local(&self, index: usize, task: Notified, lifo: bool) {
        self.push_local_inner(index, task, lifo, true);
    }

    /// `notify`: whether to wake a parked worker to steal. A task that
    /// yielded does not need one: this worker is awake and takes a task next,
    /// and the wake check costs a `SeqCst` fence per push (15% of
    /// `yield_many` samples in a `perf record` profile).
    fn push_local_inner(&self, index: usize, task: Notified, lifo: bool, notify: bool) {
        let worker = &self.workers[index];
        let task = if S::LIFO_SLOT && lifo {
            // SAFETY: only the owner touches its LIFO slot.
            let previous = worker
                .lifo
                .with_mut(|slot| unsafe { (*slot).replace(task) });
            match previous {
                Some(previous) => previous,
                // The LIFO slot is not stealable, so nobody needs waking.
                None => return,
            }
        } else {
            task
        };
        // SAFETY: the caller is this worker's owner.
        unsafe {
            worker
                .queue
                .push_back(task, |batch| self.overflow(index, batch))
        };
        // Tasks woken by this worker's driver wait until the dispatch pass
        // ends (`after_driver`): one decision for the batch instead of a
        // wake-up of another worker per event, most of which find the work
        // already done.
        if notify && !worker.in_driver.get() {
            self.notify_parked();
        }
    }

    fn push_remote(&self, task: Notified) {
        self.inject.push(task);
        match self.flavor {
            Flavor::CurrentThread => self.unpark(0),
            Flavor::MultiThread => self.notify_parked(),
        }
    }

    /// Wakes one parked worker, if any (multi_thread).
    fn notify_parked(&self) {
        if self.flavor == Flavor::CurrentThread {
            return;
        }
        if let Some(index) = self.idle.pop() {
            self.unpark(index);
        }
    }

    fn next_task(&self, index: usize, tick: u32) -> Option<Notified> {
        let worker = &self.workers[index];
        if tick.is_multiple_of(S::GLOBAL_QUEUE_INTERVAL)
            && let Some(task) = self.inject.pop()
        {
            return Some(task);
        }
        if S::LIFO_SLOT {
            // SAFETY: only the owner touches its LIFO slot.
            let lifo = worker.lifo.with_mut(|slot| unsafe { (*slot).take() });
            if let Some(task) = lifo {
                if worker.lifo_streak.get() < 3 {
                    worker.lifo_streak.set(worker.lifo_streak.get() + 1);
                    worker.metrics.add(Event::LifoHits, 1);
                    return Some(task);
                }
                // Give the queue a turn; the LIFO task goes to its back.
                worker.lifo_streak.set(0);
                // SAFETY: the caller is this worker's owner.
                unsafe {
                    worker
                        .queue
                        .push_back(task, |batch| self.overflow(index, batch))
                };
            } else {
                worker.lifo_streak.set(0);
            }
        }
        // SAFETY: the caller is this worker's owner.
        if let Some(task) = unsafe { worker.queue.pop() } {
            return Some(task);
        }
        if let Some(task) = self.pop_global_batch(index) {
            return Some(task);
        }
        self.steal(index)
    }

    /// Takes a fair share of the global queue into worker `index`'s (empty)
    /// local queue: one lock for many tasks.
    fn pop_global_batch(&self, index: usize) -> Option<Notified> {
        let worker = &self.workers[index];
        let share = self.inject.len.load(Ordering::Acquire) / self.workers.len() + 1;
        let max = share.min(<S::LocalQueue as crate::spec::LocalQueueCapacity>::DEPTH / 2);
        // The local queue is empty, but a stealer preempted in the middle of
        // a steal still holds its claimed slots, so the batch can overflow
        // it. The overflow must not go back to the global queue from inside
        // `pop_batch`, which holds that queue's lock (a self-deadlock):
        // it is set aside and pushed after the lock is released.
        let mut spill = Vec::new();
        let first = self.inject.pop_batch(max, |task| {
            // SAFETY: the caller is this worker's owner.
            unsafe { worker.queue.push_back(task, |batch| spill.extend(batch)) }
        });
        if !spill.is_empty() {
            self.inject.push_batch(spill);
        }
        first
    }

    /// Steals for worker `index`; at most half the workers search at once,
    /// so a burst of idleness does not have every worker scanning every queue.
    fn steal(&self, index: usize) -> Option<Notified> {
        let n = self.workers.len();
        if n < 2 {
            return None;
        }
        let searching = self.num_searching.fetch_add(1, Ordering::AcqRel);
        if 2 * searching >= n {
            self.num_searching.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let worker = &self.workers[index];
        // Read only with metrics on (the owner's own queue: exact).
        let before = if <S::Metrics as MetricsMode>::ENABLED {
            worker.queue.len()
        } else {
            0
        };
        let found = self.steal_from_others(index, n);
        self.num_searching.fetch_sub(1, Ordering::AcqRel);
        worker.metrics.add(Event::StealAttempts, 1);
        if found.is_some() {
            worker.metrics.add(Event::StealSuccesses, 1);
            if <S::Metrics as MetricsMode>::ENABLED {
                let moved = worker.queue.len().saturating_sub(before) + 1;
                worker.metrics.add(Event::TasksStolen, moved as u64);
            }
        }
        found
    }

    fn steal_from_others(&self, index: usize, n: usize) -> Option<Notified> {
        let worker = &self.workers[index];
        let mut x = worker.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        worker.rng.set(x);
        let start = x as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == index {
                continue;
            }
            // SAFETY: the caller owns `worker.queue`, the destination.
            if let Some(task) = unsafe { self.workers[victim].queue.steal_into(&worker.queue) } {
                return Some(task);
            }
        }
        None
    }

    /// Whether any queue another worker could take from is non-empty.
    fn has_stealable_work(&self) -> bool {
        !self.inject.is_empty() || self.workers.iter().any(|w| !w.queue.is_empty())
    }

    /// After a driver pass: wake another worker only if this one now has
    /// more than it will run next (a queued task besides the LIFO slot's),
    /// like tokio's `should_notify_others`.
    fn after_driver(&self, index: usize) {
        let worker = &self.workers[index];
        worker.in_driver.set(false);
        if !worker.queue.is_empty() {
            self.notify_parked();
        }
    }

    /// An idle worker takes the ready events of the other workers' drivers
    /// (each is polled by its owner only between tasks, every
    /// `EVENT_INTERVAL` ticks, so a busy owner would leave them waiting):
    /// the tasks they wake land in this worker's queue. A driver whose owner
    /// is waiting in it (or polling it) is skipped. Returns whether this
    /// worker now has work.
    fn poll_other_drivers(&self, index: usize) -> bool {
        let n = self.workers.len();
        let worker = &self.workers[index];
        if self.io.driver(index).is_shared() {
            // One driver for all: parking polls it (and returns at once if
            // events are ready), so a poll here would be a second system
            // call for the same events.
            return false;
        }
        let mut polled = false;
        for k in 1..n {
            let driver = self.io.driver((index + k) % n);
            if driver.io_active() {
                worker.in_driver.set(true);
                driver.poll_foreign();
                polled = true;
            }
        }
        if !polled {
            return false;
        }
        self.after_driver(index);
        self.has_own_work(index)
    }

    /// Whether worker `index` (the caller) has a task in its LIFO slot or
    /// its queue.
    fn has_own_work(&self, index: usize) -> bool {
        let worker = &self.workers[index];
        // SAFETY: only the owner touches its LIFO slot.
        let lifo = worker.lifo.with(|slot| unsafe { (*slot).is_some() });
        lifo || !worker.queue.is_empty()
    }

    /// Takes the ready I/O events of worker `index`'s driver without
    /// waiting (its own ring, or the shared epoll).
    fn poll_driver_now(&self, index: usize) {
        self.workers[index].in_driver.set(true);
        self.io.driver(index).poll_now();
        self.after_driver(index);
    }

    /// Parks worker `index` until there may be work.
    fn park_worker(&self, index: usize) {
        if self.poll_other_drivers(index) {
            return;
        }
        let driver = self.io.driver(index);
        if driver.io_active() && !driver.waiter_claimed() {
            // I/O is flowing and this worker would be the one waiting for
            // it. On mio, yield the CPU and poll without waiting a few times
            // first: the next events are usually a moment away (the peer is
            // running, often on this CPU, and the yield lets it get on), and
            // finding them here saves a sleep in `epoll_wait` and the
            // wake-up out of it, which is what leaves a CPU idle between
            // the two sides of a request. Bounded, so an idle runtime still
            // sleeps: at most `POLLS_BEFORE_PARK` `sched_yield` and
            // `epoll_wait` calls each time a worker runs out of work.
            // (Not on io_uring: there the busy worker seldom sleeps, and
            // spinning on its ring before sleeping measured no gain.)
            // A timer that falls due ends the polls: the park below then
            // returns at once and fires it.
            if driver.waits_in_epoll() {
                let next_timer = self.time.next_expiration();
                for _ in 0..POLLS_BEFORE_PARK {
                    if next_timer.is_some_and(|at| at <= self.time.now()) {
                        break;
                    }
                    std::thread::yield_now();
                    self.poll_driver_now(index);
                    if self.has_own_work(index)
                        || self.has_stealable_work()
                        || self.shutdown.load(Ordering::Acquire)
                    {
                        return;
                    }
                }
            }
        } else {
            // Work often arrives a moment later (a spawn loop on another
            // thread): yield the core a few times before paying for a sleep
            // and a wake-up. With I/O flowing and another worker already
            // waiting in the shared driver, that worker gets the events and
            // hands this one work.
            for _ in 0..SPINS_BEFORE_PARK {
                std::thread::yield_now();
                if self.has_stealable_work() || self.shutdown.load(Ordering::Acquire) {
                    return;
                }
            }
        }
        let may_sleep = self.idle.register(index, || {
            self.has_stealable_work() || self.shutdown.load(Ordering::SeqCst)
        });
        if !may_sleep {
            return;
        }
        let worker = &self.workers[index];
        worker.in_driver.set(true);
        worker.metrics.parking();
        worker.parker.park(self.park_timeout());
        worker.metrics.unparked();
        self.after_driver(index);
        self.idle.unregister(index);
        self.process_timers(index);
    }

    /// The body of a `multi_thread` worker thread.
    pub(crate) fn run_worker(&self, index: usize) {
        let _worker = self.enter_worker(index);
        self.workers[index].metrics.unparked();
        let metrics = &self.workers[index].metrics;
        let mut tick: u32 = 0;
        let mut polls = PollTally::new(metrics);
        while !self.shutdown.load(Ordering::Acquire) {
            tick = tick.wrapping_add(1);
            if tick.is_multiple_of(S::EVENT_INTERVAL) {
                polls.flush(metrics);
                self.process_timers(index);
                self.poll_driver_now(index);
                metrics.harvest_thread_counts();
            }
            match self.next_task(index, tick) {
                Some(task) => self.run_task(index, task, polls.next()),
                None => {
                    polls.flush(metrics);
                    self.park_worker(index);
                }
            }
        }
        polls.flush(metrics);
        metrics.parking();
        // Shutting down: cancel this worker's share of the unfinished tasks
        // here, so their destructors run on a runtime thread with the
        // runtime still current.
        self.owned.shutdown_shards(index, self.workers.len());
        // Then its ring, if only this thread can cancel what is in flight
        // there (see `UringDriver::owner_leaving`).
        self.io.driver(index).owner_leaving();
    }

    /// `current_thread`: claims worker 0 for the calling thread. `None` when
    /// another thread is driving.
    pub(crate) fn claim_driver(&self) -> Option<(WorkerGuard, DriverGuard<'_, S>)> {
        if self.driving.swap(true, Ordering::Acquire) {
            return None;
        }
        Some((self.enter_worker(0), DriverGuard(self)))
    }

    /// `current_thread`: runs up to `S::EVENT_INTERVAL` tasks; returns
    /// whether any ran. The caller holds the driver claim.
    pub(crate) fn run_batch(&self, tick: &mut u32, stop: impl Fn() -> bool) -> bool {
        let metrics = &self.workers[0].metrics;
        let mut polls = PollTally::new(metrics);
        let mut ran = 0;
        // At least one task per batch, even when the main future is ready
        // again, so a main future that keeps yielding cannot starve tasks.
        while ran < S::EVENT_INTERVAL {
            *tick = tick.wrapping_add(1);
            let Some(task) = self.next_task(0, *tick) else {
                break;
            };
            self.run_task(0, task, polls.next());
            ran += 1;
            if stop() {
                break;
            }
        }
        if ran > 0 {
            polls.flush(metrics);
            metrics.harvest_thread_counts();
        }
        ran > 0
    }

    /// `current_thread`: whether worker 0 has anything to run.
    pub(crate) fn has_local_work(&self) -> bool {
        // SAFETY: only called by the driving thread, which owns the slot.
        let lifo = self.workers[0]
            .lifo
            .with(|slot| unsafe { (*slot).is_some() });
        lifo || self.has_stealable_work()
    }

    pub(crate) fn driver_parker(&self) -> &Parker<WorkerSleeper> {
        &self.workers[0].parker
    }

    /// `current_thread`: sleeps until woken or the next timer, then fires
    /// the timers that are due. `main_woken` says whether the future given
    /// to `block_on` (not a task) was woken.
    #[cfg_attr(not(feature = "test-util"), allow(unused_variables))]
    pub(crate) fn park_driver(&self, main_woken: impl Fn() -> bool) {
        let metrics = &self.workers[0].metrics;
        #[cfg_attr(not(feature = "test-util"), allow(unused_mut))]
        let mut timeout = self.park_timeout();
        // A paused clock (`test-util`) with nothing to run but a timer to
        // wait for: take the I/O events that are ready without waiting, and
        // if they woke nothing, move the clock to that timer instead of
        // sleeping until it (tokio's auto-advance). Not while blocking-pool
        // jobs are in flight (as tokio): their completion is what the
        // runtime waits for then.
        #[cfg(feature = "test-util")]
        let auto_advance = match timeout {
            Some(wait)
                if !wait.is_zero()
                    && self.time.clock().is_paused()
                    && self.blocking.in_flight() == 0 =>
            {
                timeout = Some(Duration::ZERO);
                Some(wait)
            }
            _ => None,
        };
        metrics.parking();
        self.workers[0].parker.park(timeout);
        metrics.unparked();
        #[cfg(feature = "test-util")]
        if let Some(wait) = auto_advance {
            // The park may only have taken a pending wake-up without looking
            // at the I/O driver: this poll does.
            self.io.driver(0).poll_now();
            if !self.has_local_work() && !main_woken() {
                self.time.clock().advance(wait);
            }
        }
        self.process_timers(0);
    }

    /// `current_thread`: between batches, fires due timers and, once every
    /// `S::EVENT_INTERVAL` ticks, takes the I/O events that are ready.
    pub(crate) fn maintenance(&self, tick: u32, last_io: &mut u32) {
        self.process_timers(0);
        if tick.wrapping_sub(*last_io) >= S::EVENT_INTERVAL {
            *last_io = tick;
            self.io.driver(0).poll_now();
            self.workers[0].metrics.harvest_thread_counts();
        }
    }

    /// Stops the workers (the caller joins them), then cancels every task
    /// and drops every queued notification. Runs on the thread dropping the
    /// runtime.
    pub(crate) fn begin_shutdown(&self) {
        // Closed first, so no task slips in after the workers' sweep.
        self.owned.close();
        self.shutdown.store(true, Ordering::SeqCst);
        self.io.begin_shutdown();
        for index in 0..self.workers.len() {
            self.unpark(index);
        }
    }

    /// After the worker threads have exited.
    pub(crate) fn finish_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        // Pending sleeps complete; later ones complete at once.
        self.time.shutdown();
        // Pending I/O fails with a "shut down" error; in-flight io_uring
        // operations are cancelled and their buffers released (a
        // `multi_thread` worker's single-issuer ring was already shut down
        // by its worker, see `run_worker`).
        self.io.shutdown();
        // Whatever the workers did not cancel (current_thread, or tasks
        // that were running during their sweep) is cancelled here.
        self.owned.close_and_shutdown_all();
        drop(self.inject.close());
        for worker in self.workers.iter() {
            // SAFETY: the workers have exited, so this thread is the only
            // one touching their queues and slots.
            let lifo = worker.lifo.with_mut(|slot| unsafe { (*slot).take() });
            drop(lifo);
            // SAFETY: as above.
            while let Some(task) = unsafe { worker.queue.pop() } {
                drop(task);
            }
        }
    }
}

/// Releases the `current_thread` driver claim when dropped.
pub(crate) struct DriverGuard<'a, S: Spec>(&'a Shared<S>);

impl<S: Spec> Drop for DriverGuard<'_, S> {
    fn drop(&mut self) {
        self.0.driving.store(false, Ordering::Release);
    }
}

impl<S: Spec> Schedule for Shared<S> {
    fn schedule(&self, task: Notified) {
        match self.current_index() {
            Some(index) => self.push_local(index, task, true),
            None => self.push_remote(task),
        }
    }

    fn yield_now(&self, task: Notified) {
        match self.current_index() {
            // Behind the other ready tasks, never in the LIFO slot.
            Some(index) => self.push_local_inner(index, task, false, false),
            None => self.push_remote(task),
        }
    }

    fn release(&self, task: TaskRef) -> bool {
        self.owned.remove(task)
    }
}

impl<S: Spec> SchedulerHandle for Shared<S> {
    fn flavor(&self) -> Flavor {
        self.flavor
    }

    fn blocking(&self) -> &Arc<BlockingPool> {
        &self.blocking
    }

    fn time(&self) -> &Arc<TimeDriver> {
        &self.time
    }

    fn io(&self) -> &Arc<IoHandle> {
        &self.io
    }

    fn spawn_task(&self, owned: TaskRef, notified: Notified) {
        let Some(notified) = self.owned.bind(owned, notified) else {
            return;
        };
        // `schedule`, with the spawn counted where it happens.
        match self.current_index() {
            Some(index) => {
                self.workers[index].metrics.add(Event::Spawned, 1);
                self.push_local(index, notified, true);
            }
            None => {
                self.remote.add_shared(Event::Spawned, 1);
                self.push_remote(notified);
            }
        }
    }

    fn metrics(&self) -> RuntimeMetrics {
        let gathered = Gathered {
            enabled: <S::Metrics as MetricsMode>::ENABLED,
            remote: self.remote.read(),
            workers: self
                .workers
                .iter()
                .map(|w| (w.queue.len(), w.metrics.read()))
                .collect(),
            alive_tasks: self.owned.len(),
            global_queue_depth: self.inject.len.load(Ordering::Acquire),
        };
        RuntimeMetrics::assemble(
            gathered,
            self.io.backend(),
            self.time.registrations(),
            self.blocking.state(),
        )
    }

    fn dump(&self) -> TaskDump {
        TaskDump {
            tasks: self.owned.dump(<S::Metrics as MetricsMode>::ENABLED),
        }
    }
}
