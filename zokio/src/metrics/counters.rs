//! The per-worker counters and their zero-sized stand-in.
//!
//! `S::Metrics` (chosen by the `metrics` key) picks the type a worker keeps:
//! [`Counters`] when metrics are on, [`NoCounters`] when they are off. Every
//! call site in the scheduler calls the same methods on either; the
//! `NoCounters` ones are empty and `#[inline(always)]`, and the type has no
//! fields, so with `metrics = false` nothing is stored and no instruction is
//! emitted.
//!
//! A worker's counters are written only by the thread that currently is
//! that worker (a relaxed load and a relaxed store: no read-modify-write, no
//! contended cache line) and read by whoever takes a snapshot. Events that
//! happen off the workers (a spawn from a plain thread, the wake-up of a
//! parked worker by another thread) go to `add_shared`, a relaxed
//! `fetch_add`.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// What a worker counts. An index into [`Counters`]' array.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Event {
    /// A task was spawned (from this worker, or off the workers for the
    /// runtime-wide set).
    Spawned,
    /// A task was polled.
    Polls,
    /// A poll completed its task (output, panic or cancellation).
    Completed,
    /// The worker looked for tasks in other workers' queues.
    StealAttempts,
    /// ... and found some.
    StealSuccesses,
    /// Tasks moved by those steals.
    TasksStolen,
    /// A task was taken from the LIFO slot.
    LifoHits,
    /// The local queue was full and moved tasks to the global queue.
    Overflows,
    /// Tasks moved by those overflows.
    OverflowedTasks,
    /// The worker went to sleep.
    Parks,
    /// Another thread woke the sleeping worker.
    Unparks,
    /// A task's budget ran out and it was made to yield.
    BudgetForcedYields,
    /// Timers that fired on this worker.
    TimersFired,
    /// Events dispatched by the I/O driver on this worker.
    IoEvents,
    /// io_uring submissions made on this worker.
    IoSubmissions,
    /// io_uring completions taken on this worker.
    IoCompletions,
    /// Nanoseconds spent not parked.
    BusyNanos,
}

/// Number of [`Event`]s.
pub(crate) const EVENTS: usize = Event::BusyNanos as usize + 1;

/// Upper bounds (inclusive, nanoseconds) of the poll-time histogram's
/// buckets, each four times the last, from 1µs to about 1s; a last bucket
/// takes everything longer.
pub const POLL_TIME_BUCKETS: [u64; 11] = [
    1_000,
    4_000,
    16_000,
    64_000,
    256_000,
    1_024_000,
    4_096_000,
    16_384_000,
    65_536_000,
    262_144_000,
    1_048_576_000,
];

/// Every how many polls one is timed for the poll-time histogram (and the
/// tasks' "last polled" time refreshed). Reading the clock costs about 23 ns
/// here, more than a short poll (`yield_many`: about 16 ns a poll): timing
/// one poll in 16 cost 4-13% on that benchmark, one in 256 about 1.5% of
/// the 3% budget (with 1024: +2.2% in all against +3.95% for 256, in the
/// same interleaved runs, benches/RESULTS.md). A worker's "last polled"
/// times are then at most 1024 of its polls old, 20 µs of 16 ns polls.
pub const POLL_TIME_SAMPLE: u64 = 1024;

/// Buckets of the histogram, the overflow bucket included.
pub(crate) const BUCKETS: usize = POLL_TIME_BUCKETS.len() + 1;

/// The instant all the counters' timestamps count from.
pub(crate) fn anchor() -> Instant {
    static ANCHOR: OnceLock<Instant> = OnceLock::new();
    *ANCHOR.get_or_init(Instant::now)
}

/// Nanoseconds since [`anchor`].
pub(crate) fn now_nanos() -> u64 {
    u64::try_from(anchor().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Milliseconds since [`anchor`]: the unit of a task's "last polled" time.
pub(crate) fn now_millis() -> u64 {
    now_nanos() / 1_000_000
}

thread_local! {
    /// I/O events, submissions and completions of the drivers this thread
    /// ran since the last harvest, and budget-forced yields: the drivers and
    /// the budget are not generic over the `Spec`, so they count into this
    /// thread's cells and the worker moves the counts into its counters.
    static THREAD_COUNTS: [Cell<u64>; 4] = const {
        [Cell::new(0), Cell::new(0), Cell::new(0), Cell::new(0)]
    };
}

/// Counts `n` I/O events dispatched by a driver on this thread.
#[inline]
pub(crate) fn io_events(n: usize) {
    THREAD_COUNTS.with(|c| c[0].set(c[0].get() + n as u64));
}

/// Counts `n` io_uring submissions made on this thread.
#[inline]
#[cfg(target_os = "linux")]
pub(crate) fn io_submissions(n: usize) {
    THREAD_COUNTS.with(|c| c[1].set(c[1].get() + n as u64));
}

/// Counts `n` io_uring completions taken on this thread.
#[inline]
#[cfg(target_os = "linux")]
pub(crate) fn io_completions(n: usize) {
    THREAD_COUNTS.with(|c| c[2].set(c[2].get() + n as u64));
}

/// Counts a task made to yield because its budget ran out.
#[inline]
pub(crate) fn budget_forced_yield() {
    THREAD_COUNTS.with(|c| c[3].set(c[3].get() + 1));
}

mod sealed {
    pub trait Sealed {}
}

/// The counters a worker keeps: [`Counters`] or [`NoCounters`], chosen by
/// [`MetricsMode`](crate::spec::MetricsMode). Sealed; the scheduler is the
/// only caller.
pub trait WorkerCounters: sealed::Sealed + Default + Send + Sync + 'static {
    /// Adds `n` to `event`. Only the thread that is the worker calls it.
    #[doc(hidden)]
    fn add(&self, event: Event, n: u64);

    /// Adds `n` to `event` from any thread.
    #[doc(hidden)]
    fn add_shared(&self, event: Event, n: u64);

    /// A poll begins on this worker, the worker's poll number `nth` (its
    /// polls before this one: [`polls`](Self::polls) plus those the
    /// scheduler has not added yet). With metrics on, returns a recent time
    /// (milliseconds since the anchor) for the task's "last polled" and
    /// whether this poll is one to time (then the scheduler reports its
    /// duration to `timed_poll`).
    #[doc(hidden)]
    fn poll_started(&self, nth: u64) -> Option<(u64, bool)>;

    /// The polls counted so far (0 with metrics off).
    #[doc(hidden)]
    fn polls(&self) -> u64;

    /// `n` more polls ran. The scheduler counts a batch's polls in a local
    /// and adds them once per batch.
    #[doc(hidden)]
    fn polls_ran(&self, n: u64);

    /// The sampled poll ran from `start` to `end`.
    #[doc(hidden)]
    fn timed_poll(&self, start: Instant, end: Instant);

    /// That poll ended; `completed`: the task finished.
    #[doc(hidden)]
    fn poll_ended(&self, completed: bool);

    /// The worker stops running tasks to sleep.
    #[doc(hidden)]
    fn parking(&self);

    /// The worker woke up and runs tasks again.
    #[doc(hidden)]
    fn unparked(&self);

    /// Moves this thread's I/O and budget counts into the counters.
    #[doc(hidden)]
    fn harvest_thread_counts(&self);

    /// The counters now, or `None` when metrics are off.
    #[doc(hidden)]
    fn read(&self) -> Option<CountersSnapshot>;
}

/// A copy of one set of counters.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct CountersSnapshot {
    pub(crate) events: [u64; EVENTS],
    pub(crate) poll_times: [u64; BUCKETS],
    /// Nanoseconds of all sampled polls.
    pub(crate) poll_time_sum: u64,
}

impl CountersSnapshot {
    pub(crate) fn get(&self, event: Event) -> u64 {
        self.events[event as usize]
    }
}

/// Counters for `metrics = true`.
#[derive(Debug)]
pub struct Counters {
    events: [AtomicU64; EVENTS],
    poll_times: [AtomicU64; BUCKETS],
    poll_time_sum: AtomicU64,
    /// When the worker last started running tasks (nanoseconds since the
    /// anchor), for the busy time; `u64::MAX` while parked.
    active_since: AtomicU64,
    /// A recent time (milliseconds since the anchor), refreshed on every
    /// timed poll and wake-up: what a task's "last polled" records.
    coarse_now_ms: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            events: std::array::from_fn(|_| AtomicU64::new(0)),
            poll_times: std::array::from_fn(|_| AtomicU64::new(0)),
            poll_time_sum: AtomicU64::new(0),
            active_since: AtomicU64::new(u64::MAX),
            coarse_now_ms: AtomicU64::new(now_millis()),
        }
    }
}

impl Counters {
    #[inline(always)]
    fn bump(cell: &AtomicU64, n: u64) {
        // One writer: a plain add, no locked instruction.
        cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

impl sealed::Sealed for Counters {}

impl WorkerCounters for Counters {
    #[inline(always)]
    fn add(&self, event: Event, n: u64) {
        Self::bump(&self.events[event as usize], n);
    }

    #[inline(always)]
    fn add_shared(&self, event: Event, n: u64) {
        self.events[event as usize].fetch_add(n, Relaxed);
    }

    #[inline(always)]
    fn poll_started(&self, nth: u64) -> Option<(u64, bool)> {
        Some((
            self.coarse_now_ms.load(Relaxed),
            nth.is_multiple_of(POLL_TIME_SAMPLE),
        ))
    }

    #[inline(always)]
    fn polls(&self) -> u64 {
        self.events[Event::Polls as usize].load(Relaxed)
    }

    #[inline(always)]
    fn polls_ran(&self, n: u64) {
        self.add(Event::Polls, n);
    }

    fn timed_poll(&self, start: Instant, end: Instant) {
        let took = u64::try_from(end.duration_since(start).as_nanos()).unwrap_or(u64::MAX);
        let bucket = POLL_TIME_BUCKETS
            .iter()
            .position(|&bound| took <= bound)
            .unwrap_or(BUCKETS - 1);
        Self::bump(&self.poll_times[bucket], 1);
        Self::bump(&self.poll_time_sum, took);
        let now_ms = u64::try_from(end.duration_since(anchor()).as_millis()).unwrap_or(u64::MAX);
        self.coarse_now_ms.store(now_ms, Relaxed);
    }

    #[inline(always)]
    fn poll_ended(&self, completed: bool) {
        if completed {
            self.add(Event::Completed, 1);
        }
    }

    fn parking(&self) {
        let now = now_nanos();
        let since = self.active_since.swap(u64::MAX, Relaxed);
        if since != u64::MAX {
            self.add(Event::BusyNanos, now.saturating_sub(since));
        }
        self.add(Event::Parks, 1);
        self.harvest_thread_counts();
    }

    fn unparked(&self) {
        let now = now_nanos();
        self.active_since.store(now, Relaxed);
        self.coarse_now_ms.store(now / 1_000_000, Relaxed);
        self.harvest_thread_counts();
    }

    fn harvest_thread_counts(&self) {
        let counts = THREAD_COUNTS.with(|c| c.each_ref().map(Cell::take));
        for (event, n) in [
            Event::IoEvents,
            Event::IoSubmissions,
            Event::IoCompletions,
            Event::BudgetForcedYields,
        ]
        .into_iter()
        .zip(counts)
        {
            if n != 0 {
                self.add(event, n);
            }
        }
    }

    fn read(&self) -> Option<CountersSnapshot> {
        let mut snapshot = CountersSnapshot {
            events: std::array::from_fn(|i| self.events[i].load(Relaxed)),
            poll_times: std::array::from_fn(|i| self.poll_times[i].load(Relaxed)),
            poll_time_sum: self.poll_time_sum.load(Relaxed),
        };
        // A worker busy right now has not added its current stretch yet.
        let since = self.active_since.load(Relaxed);
        if since != u64::MAX {
            snapshot.events[Event::BusyNanos as usize] += now_nanos().saturating_sub(since);
        }
        Some(snapshot)
    }
}

/// Counters for `metrics = false`: no fields, no code.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCounters;

impl sealed::Sealed for NoCounters {}

impl WorkerCounters for NoCounters {
    #[inline(always)]
    fn add(&self, _: Event, _: u64) {}

    #[inline(always)]
    fn add_shared(&self, _: Event, _: u64) {}

    #[inline(always)]
    fn poll_started(&self, _: u64) -> Option<(u64, bool)> {
        None
    }

    #[inline(always)]
    fn polls(&self) -> u64 {
        0
    }

    #[inline(always)]
    fn polls_ran(&self, _: u64) {}

    fn timed_poll(&self, _: Instant, _: Instant) {}

    #[inline(always)]
    fn poll_ended(&self, _: bool) {}

    #[inline(always)]
    fn parking(&self) {}

    #[inline(always)]
    fn unparked(&self) {}

    #[inline(always)]
    fn harvest_thread_counts(&self) {}

    #[inline(always)]
    fn read(&self) -> Option<CountersSnapshot> {
        None
    }
}

/// Converts nanoseconds to a `Duration`.
pub(crate) fn nanos(n: u64) -> Duration {
    Duration::from_nanos(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_counters_take_no_space() {
        assert_eq!(std::mem::size_of::<NoCounters>(), 0);
    }

    #[test]
    fn thread_counts_are_harvested_once() {
        let c = Counters::default();
        io_events(3);
        io_submissions(2);
        io_completions(1);
        budget_forced_yield();
        c.harvest_thread_counts();
        c.harvest_thread_counts();
        let s = c.read().unwrap();
        assert_eq!(s.get(Event::IoEvents), 3);
        assert_eq!(s.get(Event::IoSubmissions), 2);
        assert_eq!(s.get(Event::IoCompletions), 1);
        assert_eq!(s.get(Event::BudgetForcedYields), 1);
    }
}
