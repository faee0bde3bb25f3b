//! A runtime's metrics in a `prometheus-client` registry (feature
//! `prometheus`): every scrape takes a fresh [`RuntimeMetrics`] snapshot.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::{POLL_TIME_BUCKETS, RuntimeMetrics, WorkerMetrics};
use crate::runtime::Handle;

/// Registers the metrics of the runtime behind `handle` in `registry`.
///
/// Families are prefixed `zokio_`; per-worker ones carry a `worker` label.
/// Gauges (alive tasks, queue depths, blocking pool, pending timers) are
/// always there; counters read zero unless the runtime has `metrics = true`.
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread", metrics = true } }
///
/// let rt = Rt::build().unwrap();
/// rt.block_on(async { zokio::spawn(async {}).await.unwrap() });
/// let mut registry = prometheus_client::registry::Registry::default();
/// zokio::metrics::register(&mut registry, rt.handle());
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains("zokio_spawned_tasks_total 1"));
/// ```
pub fn register(registry: &mut Registry, handle: Handle) {
    registry.register_collector(Box::new(RuntimeCollector { handle }));
}

/// A per-worker counter family: name, help, and the field it reads.
type Family = (&'static str, &'static str, fn(&WorkerMetrics) -> u64);

#[derive(Debug)]
struct RuntimeCollector {
    handle: Handle,
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

/// A counter family with one series per worker.
fn per_worker(
    encoder: &mut DescriptorEncoder<'_>,
    m: &RuntimeMetrics,
    name: &str,
    help: &str,
    value: impl Fn(&WorkerMetrics) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for w in &m.per_worker {
        let labels = [("worker", w.index.to_string())];
        ConstCounter::new(value(w)).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = self.handle.metrics();
        let e = &mut encoder;
        gauge(e, "zokio_workers", "Worker threads.", to_i64(m.workers))?;
        gauge(
            e,
            "zokio_alive_tasks",
            "Tasks spawned and not yet completed.",
            to_i64(m.alive_tasks),
        )?;
        gauge(
            e,
            "zokio_global_queue_depth",
            "Tasks in the global injection queue.",
            to_i64(m.global_queue_depth),
        )?;
        {
            let mut metric = e.encode_descriptor(
                "zokio_local_queue_depth",
                "Tasks in a worker's local run queue.",
                None,
                MetricType::Gauge,
            )?;
            for w in &m.per_worker {
                let labels = [("worker", w.index.to_string())];
                ConstGauge::new(to_i64(w.local_queue_depth))
                    .encode(metric.encode_family(&labels)?)?;
            }
        }
        gauge(
            e,
            "zokio_blocking_threads",
            "Blocking-pool threads alive.",
            to_i64(m.blocking_threads),
        )?;
        gauge(
            e,
            "zokio_blocking_idle_threads",
            "Blocking-pool threads waiting for work.",
            to_i64(m.blocking_idle_threads),
        )?;
        gauge(
            e,
            "zokio_blocking_queue_depth",
            "Blocking jobs waiting for a thread.",
            to_i64(m.blocking_queue_depth),
        )?;
        gauge(
            e,
            "zokio_timers_pending",
            "Timers waiting to fire.",
            to_i64(m.timers_pending),
        )?;
        counter(
            e,
            "zokio_timers_registered",
            "Timers registered.",
            m.timers_registered,
        )?;
        counter(
            e,
            "zokio_spawned_tasks",
            "Tasks spawned, from workers and other threads.",
            m.spawned_tasks(),
        )?;
        counter(
            e,
            "zokio_remote_spawned_tasks",
            "Tasks spawned from threads that are not workers.",
            m.remote_spawned,
        )?;
        let families: [Family; 15] = [
            ("zokio_polls", "Task polls.", |w| w.polls),
            (
                "zokio_completed_tasks",
                "Polls that completed their task.",
                |w| w.completed,
            ),
            (
                "zokio_steal_attempts",
                "Searches of other workers' queues.",
                |w| w.steal_attempts,
            ),
            ("zokio_steal_successes", "Searches that found tasks.", |w| {
                w.steal_successes
            }),
            (
                "zokio_stolen_tasks",
                "Tasks moved from other workers' queues.",
                |w| w.tasks_stolen,
            ),
            ("zokio_lifo_hits", "Tasks taken from the LIFO slot.", |w| {
                w.lifo_hits
            }),
            (
                "zokio_overflows",
                "Full local queues moved to the global queue.",
                |w| w.overflows,
            ),
            ("zokio_overflowed_tasks", "Tasks moved by overflows.", |w| {
                w.overflowed_tasks
            }),
            ("zokio_parks", "Times a worker went to sleep.", |w| w.parks),
            ("zokio_unparks", "Times a worker was woken.", |w| w.unparks),
            (
                "zokio_budget_forced_yields",
                "Tasks made to yield by the cooperative budget.",
                |w| w.budget_forced_yields,
            ),
            ("zokio_timers_fired", "Timers fired.", |w| w.timers_fired),
            ("zokio_io_events", "I/O readiness events dispatched.", |w| {
                w.io_events
            }),
            ("zokio_io_submissions", "io_uring submissions.", |w| {
                w.io_submissions
            }),
            ("zokio_io_completions", "io_uring completions.", |w| {
                w.io_completions
            }),
        ];
        for (name, help, value) in families {
            per_worker(e, &m, name, help, value)?;
        }
        {
            let mut metric = e.encode_descriptor(
                "zokio_busy",
                "Time a worker spent running tasks and drivers.",
                Some(&Unit::Seconds),
                MetricType::Counter,
            )?;
            for w in &m.per_worker {
                let labels = [("worker", w.index.to_string())];
                ConstCounter::new(w.busy.as_secs_f64()).encode(metric.encode_family(&labels)?)?;
            }
        }
        let histogram = m.totals().poll_time_histogram;
        let mut buckets: Vec<(f64, u64)> = POLL_TIME_BUCKETS
            .iter()
            .map(|&ns| ns as f64 / 1e9)
            .chain([f64::INFINITY])
            .zip(histogram.buckets().map(|(_, n)| n))
            .collect();
        if buckets.is_empty() {
            // Metrics off: an empty histogram still has its +Inf bucket.
            buckets.push((f64::INFINITY, 0));
        }
        let metric = e.encode_descriptor(
            "zokio_poll_time",
            "Durations of task polls (one poll in zokio::metrics::POLL_TIME_SAMPLE is timed).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        let mut metric = metric;
        metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            histogram.sum().as_secs_f64(),
            histogram.sampled(),
            &buckets,
            None,
        )
    }
}
