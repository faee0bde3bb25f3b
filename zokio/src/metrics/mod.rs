//! What a runtime is doing: counters, a task dump and a detector for polls
//! that block a worker.
//!
//! # Metrics
//!
//! With `metrics = true` each worker keeps counters of its own (spawns,
//! polls, steals, parks, timers, I/O events, busy time, a poll-time
//! histogram), written only by that worker and summed on demand by
//! [`Handle::metrics`](crate::runtime::Handle::metrics) or
//! [`Runtime::metrics`](crate::Runtime::metrics) into a [`RuntimeMetrics`].
//! With `metrics = false` (the default) the counters are a zero-sized type
//! whose methods are empty, so the scheduler carries no code for them; the
//! snapshot then holds only what the runtime knows anyway (alive tasks,
//! queue depths, the blocking pool, pending timers).
//!
//! ```
//! zokio::runtime! { Rt { flavor = "current_thread", metrics = true } }
//!
//! let rt = Rt::build().unwrap();
//! rt.block_on(async {
//!     for _ in 0..10 {
//!         zokio::spawn(async {}).await.unwrap();
//!     }
//! });
//! let m = rt.metrics();
//! assert_eq!(m.spawned_tasks(), 10);
//! assert_eq!(m.completed_tasks(), 10);
//! assert_eq!(m.alive_tasks, 0);
//! println!("{m}");
//! ```
//!
//! # Task dump
//!
//! [`Handle::dump`](crate::runtime::Handle::dump) lists the tasks that are
//! alive, with their id, where they were spawned, their state and (with
//! metrics on) how often and how long ago they were polled. No special
//! build is needed.
//!
//! # Blocked-worker detector
//!
//! With `detect_blocking = "10ms"` a monitor thread looks at every worker
//! every half of that; a poll it sees running for at least the threshold is
//! logged once per task, while it is still stuck, as a warning on the `log`
//! target `"zokio"` naming the task and where it was spawned. Workers only
//! record which task they poll (three relaxed stores per poll); without the
//! key there is neither the recording nor the thread.

mod counters;
mod detector;
mod dump;
#[cfg(feature = "prometheus")]
mod prometheus;

use std::fmt;
use std::time::Duration;

pub use counters::{
    Counters, CountersSnapshot, Event, NoCounters, POLL_TIME_BUCKETS, POLL_TIME_SAMPLE,
    WorkerCounters,
};
pub(crate) use counters::{budget_forced_yield, io_events, now_millis};
// Used by the io_uring driver only.
#[cfg(target_os = "linux")]
pub(crate) use counters::{io_completions, io_submissions, now_nanos};
pub(crate) use detector::{Activity, Monitor};
pub use dump::{TaskDump, TaskInfo, TaskState};
#[cfg(feature = "prometheus")]
pub use prometheus::register;

use crate::runtime::ActiveBackend;

/// The number of polls per poll-time bucket, as seen by sampling one poll in
/// [`POLL_TIME_SAMPLE`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollTimeHistogram {
    counts: Vec<u64>,
    sum: Duration,
}

impl PollTimeHistogram {
    fn from_snapshot(s: &CountersSnapshot) -> Self {
        PollTimeHistogram {
            counts: s.poll_times.to_vec(),
            sum: counters::nanos(s.poll_time_sum),
        }
    }

    fn merge(&mut self, other: &PollTimeHistogram) {
        self.sum += other.sum;
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Each bucket's upper bound (`None` for the last, unbounded one) and
    /// the number of sampled polls that took at most that long (and longer
    /// than the previous bound). Empty with metrics off.
    pub fn buckets(&self) -> impl Iterator<Item = (Option<Duration>, u64)> + '_ {
        self.counts.iter().enumerate().map(|(i, &n)| {
            let bound = POLL_TIME_BUCKETS.get(i).map(|&ns| Duration::from_nanos(ns));
            (bound, n)
        })
    }

    /// Sampled polls in all buckets.
    pub fn sampled(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The time the sampled polls took together.
    pub fn sum(&self) -> Duration {
        self.sum
    }
}

macro_rules! worker_counters {
    ($($(#[$doc:meta])* $field:ident: $event:ident,)*) => {
        /// One worker's counters (all zero with metrics off).
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct WorkerMetrics {
            /// The worker's index.
            pub index: usize,
            /// Tasks in its local run queue now.
            pub local_queue_depth: usize,
            /// Time spent running tasks and drivers (not parked).
            pub busy: Duration,
            /// Durations of sampled polls.
            pub poll_time_histogram: PollTimeHistogram,
            $($(#[$doc])* pub $field: u64,)*
        }

        impl WorkerMetrics {
            fn from_snapshot(index: usize, local_queue_depth: usize, s: Option<CountersSnapshot>) -> Self {
                let Some(s) = s else {
                    return WorkerMetrics { index, local_queue_depth, ..WorkerMetrics::default() };
                };
                WorkerMetrics {
                    index,
                    local_queue_depth,
                    busy: counters::nanos(s.get(Event::BusyNanos)),
                    poll_time_histogram: PollTimeHistogram::from_snapshot(&s),
                    $($field: s.get(Event::$event),)*
                }
            }

            fn add(&mut self, other: &WorkerMetrics) {
                self.local_queue_depth += other.local_queue_depth;
                self.busy += other.busy;
                self.poll_time_histogram.merge(&other.poll_time_histogram);
                $(self.$field += other.$field;)*
            }
        }
    };
}

worker_counters! {
    /// Tasks spawned from this worker.
    spawned: Spawned,
    /// Task polls. A running worker adds its polls once per batch (of up
    /// to `scheduler.event_interval` tasks) and before it parks, so a
    /// snapshot taken while it runs may miss up to a batch.
    polls: Polls,
    /// Polls that completed their task (with an output, a panic or a
    /// cancellation).
    completed: Completed,
    /// Times it looked for work in other workers' queues.
    steal_attempts: StealAttempts,
    /// Of those, the times it found some.
    steal_successes: StealSuccesses,
    /// Tasks it moved out of other workers' queues.
    tasks_stolen: TasksStolen,
    /// Tasks taken from the LIFO slot.
    lifo_hits: LifoHits,
    /// Times its full local queue moved half of itself to the global queue.
    overflows: Overflows,
    /// Tasks moved by those overflows.
    overflowed_tasks: OverflowedTasks,
    /// Times it went to sleep.
    parks: Parks,
    /// Times another thread woke it.
    unparks: Unparks,
    /// Tasks made to yield because their budget ran out.
    budget_forced_yields: BudgetForcedYields,
    /// Timers it fired.
    timers_fired: TimersFired,
    /// I/O readiness events its drivers dispatched.
    io_events: IoEvents,
    /// io_uring submissions it made.
    io_submissions: IoSubmissions,
    /// io_uring completions it took.
    io_completions: IoCompletions,
}

/// A snapshot of a runtime: [`Handle::metrics`](crate::runtime::Handle::metrics).
///
/// The counters (`spawned_tasks()`, `per_worker[i].polls`, ...) are kept
/// only with `metrics = true` and read zero otherwise; the gauges (alive
/// tasks, queue depths, blocking pool, pending timers) are always filled.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Whether the runtime was built with `metrics = true`.
    pub enabled: bool,
    /// The I/O backend in use.
    pub backend: ActiveBackend,
    /// Worker count.
    pub workers: usize,
    /// Tasks spawned and not yet completed.
    pub alive_tasks: usize,
    /// Tasks spawned from threads that are not workers.
    pub remote_spawned: u64,
    /// Tasks in the global injection queue now.
    pub global_queue_depth: usize,
    /// Timers registered since start.
    pub timers_registered: u64,
    /// Timers waiting to fire now.
    pub timers_pending: usize,
    /// Blocking-pool threads alive.
    pub blocking_threads: usize,
    /// Blocking-pool threads waiting for work.
    pub blocking_idle_threads: usize,
    /// Blocking jobs waiting for a thread.
    pub blocking_queue_depth: usize,
    /// Each worker's counters.
    pub per_worker: Vec<WorkerMetrics>,
}

/// What a scheduler gathers for [`RuntimeMetrics`].
pub(crate) struct Gathered {
    pub(crate) enabled: bool,
    pub(crate) remote: Option<CountersSnapshot>,
    /// (local queue depth, counters) per worker.
    pub(crate) workers: Vec<(usize, Option<CountersSnapshot>)>,
    pub(crate) alive_tasks: usize,
    pub(crate) global_queue_depth: usize,
}

impl RuntimeMetrics {
    pub(crate) fn assemble(
        gathered: Gathered,
        backend: ActiveBackend,
        timers: (u64, usize),
        blocking: crate::runtime::BlockingPoolState,
    ) -> Self {
        let per_worker: Vec<WorkerMetrics> = gathered
            .workers
            .into_iter()
            .enumerate()
            .map(|(i, (depth, s))| WorkerMetrics::from_snapshot(i, depth, s))
            .collect();
        RuntimeMetrics {
            enabled: gathered.enabled,
            backend,
            workers: per_worker.len(),
            alive_tasks: gathered.alive_tasks,
            remote_spawned: gathered.remote.map_or(0, |s| s.get(Event::Spawned)),
            global_queue_depth: gathered.global_queue_depth,
            timers_registered: timers.0,
            timers_pending: timers.1,
            blocking_threads: blocking.threads,
            blocking_idle_threads: blocking.idle,
            blocking_queue_depth: blocking.queued,
            per_worker,
        }
    }

    /// Every worker's counters added up (`index` 0).
    pub fn totals(&self) -> WorkerMetrics {
        let mut sum = WorkerMetrics::default();
        for w in &self.per_worker {
            sum.add(w);
        }
        sum
    }

    /// Tasks spawned since start, from workers and from other threads.
    pub fn spawned_tasks(&self) -> u64 {
        self.remote_spawned + self.per_worker.iter().map(|w| w.spawned).sum::<u64>()
    }

    /// Tasks whose poll completed them since start.
    pub fn completed_tasks(&self) -> u64 {
        self.per_worker.iter().map(|w| w.completed).sum()
    }

    /// Task polls since start.
    pub fn polls(&self) -> u64 {
        self.per_worker.iter().map(|w| w.polls).sum()
    }

    /// Timers fired since start.
    pub fn timers_fired(&self) -> u64 {
        self.per_worker.iter().map(|w| w.timers_fired).sum()
    }

    /// Tasks in all local run queues now.
    pub fn local_queue_depth(&self) -> usize {
        self.per_worker.iter().map(|w| w.local_queue_depth).sum()
    }
}

impl fmt::Display for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.totals();
        writeln!(
            f,
            "runtime: {} workers, backend {}, metrics {}",
            self.workers,
            self.backend.as_str(),
            if self.enabled { "on" } else { "off" }
        )?;
        writeln!(
            f,
            "  tasks      alive {}, spawned {} ({} remote), completed {}, polls {}",
            self.alive_tasks,
            self.spawned_tasks(),
            self.remote_spawned,
            t.completed,
            t.polls
        )?;
        writeln!(
            f,
            "  queues     global {}, local {}, lifo hits {}, overflows {} ({} tasks)",
            self.global_queue_depth,
            t.local_queue_depth,
            t.lifo_hits,
            t.overflows,
            t.overflowed_tasks
        )?;
        writeln!(
            f,
            "  stealing   attempts {}, successes {}, tasks moved {}",
            t.steal_attempts, t.steal_successes, t.tasks_stolen
        )?;
        writeln!(
            f,
            "  sleeping   parks {}, unparks {}, budget-forced yields {}",
            t.parks, t.unparks, t.budget_forced_yields
        )?;
        writeln!(
            f,
            "  timers     registered {}, fired {}, pending {}",
            self.timers_registered, t.timers_fired, self.timers_pending
        )?;
        writeln!(
            f,
            "  io         events {}, submissions {}, completions {}",
            t.io_events, t.io_submissions, t.io_completions
        )?;
        writeln!(
            f,
            "  blocking   threads {} ({} idle), queued {}",
            self.blocking_threads, self.blocking_idle_threads, self.blocking_queue_depth
        )?;
        for w in &self.per_worker {
            writeln!(
                f,
                "  worker {:<3} busy {:?}, polls {}, local queue {}",
                w.index, w.busy, w.polls, w.local_queue_depth
            )?;
        }
        if t.poll_time_histogram.sampled() > 0 {
            write!(f, "  poll time (1 in {POLL_TIME_SAMPLE} polls):")?;
            for (bound, n) in t.poll_time_histogram.buckets() {
                match bound {
                    Some(b) => write!(f, " <={b:?}:{n}")?,
                    None => write!(f, " more:{n}")?,
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
