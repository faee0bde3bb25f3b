// With `metrics = false` every metrics call site still compiles: the
// snapshot, the dump, their `Display`, and the counter type is the
// zero-sized `NoCounters`.
use zokio::Spec;
use zokio::metrics::{NoCounters, RuntimeMetrics, TaskDump, TaskState, WorkerMetrics};
use zokio::spec::MetricsMode;

zokio::runtime! {
    pub Quiet { flavor = "current_thread", metrics = false }
}

fn counters_of<S: Spec>() -> usize {
    std::mem::size_of::<<S::Metrics as MetricsMode>::Counters>()
}

fn is_no_counters(_: std::marker::PhantomData<NoCounters>) {}

fn main() {
    assert!(!Quiet::METRICS);
    assert_eq!(counters_of::<Quiet>(), 0);
    is_no_counters(std::marker::PhantomData::<<<Quiet as Spec>::Metrics as MetricsMode>::Counters>);

    let rt = Quiet::build().unwrap();
    let from_runtime: RuntimeMetrics = rt.metrics();
    let dump: TaskDump = rt.block_on(async {
        let handle = zokio::runtime::Handle::current();
        let m = handle.metrics();
        let totals: WorkerMetrics = m.totals();
        let _ = (
            m.spawned_tasks(),
            m.completed_tasks(),
            m.polls(),
            m.timers_fired(),
            m.local_queue_depth(),
            m.alive_tasks,
            m.global_queue_depth,
            m.blocking_threads,
            m.blocking_queue_depth,
            m.timers_registered,
            m.timers_pending,
            totals.steal_attempts,
            totals.steal_successes,
            totals.tasks_stolen,
            totals.lifo_hits,
            totals.overflows,
            totals.parks,
            totals.unparks,
            totals.busy,
            totals.budget_forced_yields,
            totals.io_events,
            totals.io_submissions,
            totals.io_completions,
            totals.poll_time_histogram.buckets().count(),
            totals.poll_time_histogram.sampled(),
        );
        let _ = m.to_string();
        handle.dump()
    });
    assert!(!from_runtime.enabled);
    assert_eq!(from_runtime.spawned_tasks(), 0);
    for task in &dump.tasks {
        let _: (TaskState, Option<u32>) = (task.state, task.polls);
    }
    let _ = dump.to_string();
}
