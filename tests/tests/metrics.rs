//! Observability (issue 7): counters that match known workloads exactly on
//! both flavors, gauges with metrics off, task dumps that find the tasks a
//! test left pending where it spawned them, and the blocked-worker detector
//! firing for a poll that sleeps and staying silent for one that does not;
//! and, through the park count, an idle worker taking ready I/O from its
//! mio driver before it sleeps.
//!
//! Multi-thread counters are written by the workers after the task they
//! count has woken its `JoinHandle`, so those tests wait (bounded) for the
//! counts to settle and then compare them exactly.

use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use zokio::Spec;
use zokio::metrics::{RuntimeMetrics, TaskState};
use zokio::runtime::Handle;

zokio::runtime! { CtOn { flavor = "current_thread", metrics = true } }
zokio::runtime! { MtOn { flavor = "multi_thread", workers = 2, metrics = true } }
zokio::runtime! { CtOff { flavor = "current_thread" } }
zokio::runtime! { MtOff { flavor = "multi_thread", workers = 2 } }
zokio::runtime! { CtDetect { flavor = "current_thread", detect_blocking = "20ms" } }
zokio::runtime! { MtDetect { flavor = "multi_thread", workers = 2, detect_blocking = "20ms" } }

/// Reads the metrics until `settled` holds (at most 10 s: a count that never
/// arrives fails the exact comparison that follows).
fn settled(rt: &Handle, settled: impl Fn(&RuntimeMetrics) -> bool) -> RuntimeMetrics {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let m = rt.metrics();
        if settled(&m) || Instant::now() > give_up {
            return m;
        }
        std::thread::yield_now();
    }
}

fn spawned_completed_and_alive<S: Spec>() {
    let rt = zokio::Runtime::<S>::build().unwrap();
    rt.block_on(async {
        let handles: Vec<_> = (0..100u64)
            .map(|i| zokio::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, 4950);
    });
    let from_outside = rt.spawn(async { 7 });
    assert_eq!(rt.block_on(from_outside).unwrap(), 7);
    let m = settled(&rt.handle(), |m| {
        m.completed_tasks() == 101 && m.alive_tasks == 0
    });
    assert!(m.enabled);
    assert_eq!(m.spawned_tasks(), 101, "{m}");
    assert_eq!(m.completed_tasks(), 101, "{m}");
    assert_eq!(m.alive_tasks, 0, "{m}");
    assert!(
        m.remote_spawned >= 1,
        "the spawn from outside is remote: {m}"
    );
    assert!(m.polls() >= 101, "{m}");
    assert_eq!(m.per_worker.len(), m.workers);
    // Every completed task was polled, and the tasks that never waited
    // completed in their first poll.
    assert_eq!(m.totals().polls, m.polls());
}

#[test]
fn spawned_completed_and_alive_current_thread() {
    spawned_completed_and_alive::<CtOn>();
}

#[test]
fn spawned_completed_and_alive_multi_thread() {
    spawned_completed_and_alive::<MtOn>();
}

/// Workers count their polls in a local and add them once per batch (and
/// before they park): the total still comes out exact.
fn polls_add_up_exactly<S: Spec>() {
    const TASKS: u64 = 40;
    const YIELDS: u64 = 9;
    let rt = zokio::Runtime::<S>::build().unwrap();
    let before = rt.metrics().polls();
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                zokio::spawn(async {
                    for _ in 0..YIELDS {
                        zokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    // Each task: one poll per yield, and the one that completes it.
    let want = before + TASKS * (YIELDS + 1);
    let m = settled(&rt.handle(), |m| m.polls() >= want && m.alive_tasks == 0);
    assert_eq!(m.polls(), want, "{m}");
    assert_eq!(m.totals().polls, want, "{m}");
}

#[test]
fn polls_add_up_exactly_current_thread() {
    polls_add_up_exactly::<CtOn>();
}

#[test]
fn polls_add_up_exactly_multi_thread() {
    polls_add_up_exactly::<MtOn>();
}

fn timers_registered_and_fired<S: Spec>() {
    let rt = zokio::Runtime::<S>::build().unwrap();
    // A sleep registers a timer when its first poll finds the deadline
    // ahead; one whose deadline has passed by then (a slow machine) is
    // ready at once and registers nothing. Each task reports which it was,
    // so the expected counts are exact whatever the timing.
    let registered: u64 = rt.block_on(async {
        let handles: Vec<_> = (1..=10u64)
            .map(|i| {
                zokio::spawn(async move {
                    let mut sleep = std::pin::pin!(zokio::time::sleep(Duration::from_millis(i)));
                    let pending = std::future::poll_fn(|cx| {
                        Poll::Ready(sleep.as_mut().poll(cx).is_pending())
                    })
                    .await;
                    if pending {
                        sleep.await;
                    }
                    u64::from(pending)
                })
            })
            .collect();
        let mut registered = 0;
        for h in handles {
            registered += h.await.unwrap();
        }
        registered
    });
    let m = settled(&rt.handle(), |m| m.timers_fired() == registered);
    assert_eq!(m.timers_registered, registered, "{m}");
    assert_eq!(m.timers_fired(), registered, "{m}");
    assert_eq!(m.timers_pending, 0, "{m}");
}

#[test]
fn timers_registered_and_fired_current_thread() {
    timers_registered_and_fired::<CtOn>();
}

#[test]
fn timers_registered_and_fired_multi_thread() {
    timers_registered_and_fired::<MtOn>();
}

#[test]
fn a_task_that_keeps_finding_work_is_made_to_yield() {
    zokio::runtime! { Small { flavor = "current_thread", metrics = true, scheduler(budget = 8) } }
    let rt = Small::build().unwrap();
    rt.block_on(async {
        zokio::spawn(async {
            for _ in 0..100 {
                zokio::task::consume_budget().await;
            }
        })
        .await
        .unwrap();
    });
    let m = rt.metrics();
    // 100 units at 8 per poll: at least 12 forced yields.
    assert!(m.totals().budget_forced_yields >= 12, "{m}");
}

#[test]
fn multi_thread_workers_park_and_record_busy_time() {
    let rt = MtOn::build().unwrap();
    rt.block_on(async {
        for _ in 0..10 {
            zokio::spawn(zokio::time::sleep(Duration::from_millis(2)))
                .await
                .unwrap();
        }
    });
    let m = rt.metrics();
    let t = m.totals();
    assert!(t.parks >= 1, "{m}");
    assert!(t.busy > Duration::ZERO, "{m}");
    assert!(m.per_worker.iter().any(|w| w.busy > Duration::ZERO), "{m}");
    assert!(t.poll_time_histogram.sampled() >= 1, "{m}");
}

zokio::runtime! { MtMioOne { flavor = "multi_thread", workers = 1, backend = "mio", metrics = true } }

/// An idle `multi_thread` worker with I/O registered yields and polls its
/// mio driver a few times before it sleeps, so I/O that is ready when it
/// runs out of tasks is taken without a park (which would be a wait in
/// `epoll_wait`, here one that returns at once). The bytes come from a
/// blocking `std` write into a Unix socket pair: the kernel has queued them,
/// and flagged the socket to epoll, before `write` returns. The reader was
/// polled once before the write and found no readiness recorded, so it
/// waits for the driver.
#[cfg(unix)]
#[test]
fn an_idle_worker_takes_ready_io_without_parking() {
    use std::io::Write;
    use zokio::io::AsyncReadExt;

    let rt = MtMioOne::build().unwrap();
    let (parked, waits) = rt.block_on(async {
        zokio::spawn(async {
            let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
            reader.set_nonblocking(true).unwrap();
            let mut reader = zokio::net::UnixStream::from_std(reader).unwrap();
            let mut buf = [0u8; 5];
            let mut read = std::pin::pin!(reader.read_exact(&mut buf));
            let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "nothing was written yet");
            writer.write_all(b"hello").unwrap();
            let parks = || Handle::current().metrics().per_worker[0].parks;
            let before = parks();
            let mut waits = 0;
            std::future::poll_fn(|cx| {
                let poll = read.as_mut().poll(cx);
                waits += usize::from(poll.is_pending());
                poll
            })
            .await
            .unwrap();
            (parks() - before, waits)
        })
        .await
        .unwrap()
    });
    // The read went through the driver (else the test shows nothing)...
    assert!(
        waits >= 1,
        "the read completed without waiting for the driver"
    );
    // ...and the worker found the event before it parked.
    assert_eq!(parked, 0, "the worker parked before taking the ready event");
}

fn off_keeps_gauges_only<S: Spec>() {
    let rt = zokio::Runtime::<S>::build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let pending = rt.block_on(async {
        let pending: Vec<_> = (0..3)
            .map(|_| zokio::spawn(std::future::pending::<()>()))
            .collect();
        zokio::spawn(async { 1 }).await.unwrap();
        pending
    });
    let blocking = rt.spawn_blocking(move || rx.recv());
    let m = settled(&rt.handle(), |m| {
        m.alive_tasks == 3 && m.blocking_threads >= 1
    });
    assert!(!m.enabled);
    assert_eq!(m.alive_tasks, 3, "{m}");
    assert!(m.blocking_threads >= 1, "{m}");
    assert_eq!(m.spawned_tasks(), 0, "{m}");
    assert_eq!(m.polls(), 0, "{m}");
    // Queue depths are gauges; every counter is zero.
    let mut totals = m.totals();
    totals.local_queue_depth = 0;
    assert_eq!(totals, zokio::metrics::WorkerMetrics::default());
    tx.send(()).unwrap();
    rt.block_on(blocking).unwrap().unwrap();
    drop(pending);
}

#[test]
fn metrics_off_keeps_the_gauges_current_thread() {
    off_keeps_gauges_only::<CtOff>();
}

#[test]
fn metrics_off_keeps_the_gauges_multi_thread() {
    off_keeps_gauges_only::<MtOff>();
}

/// Spawns three tasks that wait forever, at known lines, lets them reach
/// their wait, and returns the lines.
async fn leave_three_pending() -> [u32; 3] {
    let a_line = line!() + 1;
    let a = zokio::spawn(std::future::pending::<()>());
    let b_line = line!() + 1;
    let b = zokio::spawn(async { zokio::time::sleep(Duration::from_secs(3600)).await });
    let c_line = line!() + 1;
    let c = zokio::spawn(async {
        let (_tx, rx) = zokio::sync::oneshot::channel::<()>();
        rx.await.ok()
    });
    // The handles are dropped: the tasks stay, detached, until shutdown.
    drop((a, b, c));
    [a_line, b_line, c_line]
}

fn dump_lists_pending_tasks<S: Spec>() {
    let rt = zokio::Runtime::<S>::build().unwrap();
    let lines = rt.block_on(leave_three_pending());
    let handle = rt.handle();
    let mut dump = handle.dump();
    // Wait (bounded) for each to have been polled into its wait.
    for _ in 0..10_000 {
        if dump.tasks.len() == 3 && dump.tasks.iter().all(|t| t.state == TaskState::Idle) {
            break;
        }
        rt.block_on(zokio::task::yield_now());
        dump = handle.dump();
    }
    assert_eq!(dump.tasks.len(), 3, "{dump}");
    let text = dump.to_string();
    for line in lines {
        let task = dump
            .tasks
            .iter()
            .find(|t| t.location.line() == line)
            .unwrap_or_else(|| panic!("no task spawned at line {line}:\n{dump}"));
        assert!(task.location.file().ends_with("metrics.rs"), "{dump}");
        assert_eq!(task.state, TaskState::Idle, "{dump}");
        if S::METRICS {
            assert_eq!(task.polls, Some(1), "{dump}");
            assert!(task.since_last_poll.is_some(), "{dump}");
        } else {
            assert_eq!(task.polls, None, "{dump}");
        }
        let at = format!("spawned at {}:{line}:", task.location.file());
        assert!(text.contains(&at), "`{at}` missing from:\n{text}");
    }
    assert!(text.starts_with("3 live tasks"), "{text}");
}

#[test]
fn dump_lists_pending_tasks_current_thread() {
    dump_lists_pending_tasks::<CtOn>();
}

#[test]
fn dump_lists_pending_tasks_multi_thread() {
    dump_lists_pending_tasks::<MtOn>();
}

#[test]
fn dump_works_with_metrics_off() {
    dump_lists_pending_tasks::<CtOff>();
    dump_lists_pending_tasks::<MtOff>();
}

#[test]
fn dump_shows_a_task_not_yet_polled_as_scheduled() {
    CtOn::block_on(async {
        let line = line!() + 1;
        let task = zokio::spawn(async {});
        let dump = Handle::current().dump();
        let info = dump
            .tasks
            .iter()
            .find(|t| t.location.line() == line)
            .unwrap();
        assert_eq!(info.state, TaskState::Scheduled, "{dump}");
        assert_eq!(info.polls, Some(0));
        assert_eq!(info.since_last_poll, None);
        task.await.unwrap();
        assert!(Handle::current().dump().tasks.is_empty());
    });
}

// ---- the blocked-worker detector -----------------------------------------

/// Every `zokio` warning logged in this test binary.
fn warnings() -> &'static Mutex<Vec<String>> {
    struct Capture;
    static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static LOGGER: Capture = Capture;
    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.target() == "zokio" && m.level() <= log::Level::Warn
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                WARNINGS.lock().unwrap().push(record.args().to_string());
            }
        }
        fn flush(&self) {}
    }
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_logger(&LOGGER).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
    });
    &WARNINGS
}

/// The warnings about a task spawned at `line` on runtime `name`.
fn warnings_about(line: u32, name: &str) -> Vec<String> {
    let at = format!("metrics.rs:{line}:");
    let runtime = format!("of runtime `{name}`");
    warnings()
        .lock()
        .unwrap()
        .iter()
        .filter(|w| w.contains(&at) && w.contains(&runtime))
        .cloned()
        .collect()
}

fn detector_fires_only_for_the_blocking_poll<S: Spec>() {
    warnings();
    let threshold = S::DETECT_BLOCKING.unwrap();
    let rt = zokio::Runtime::<S>::build().unwrap();
    let (quiet_line, blocking_line) = rt.block_on(async move {
        let quiet_line = line!() + 1;
        let quiet = zokio::spawn(async {
            for _ in 0..100 {
                zokio::task::yield_now().await;
            }
        });
        let blocking_line = line!() + 1;
        let blocking = zokio::spawn(async move {
            zokio::task::yield_now().await;
            // Ten times the threshold, in one poll.
            std::thread::sleep(threshold * 10);
        });
        quiet.await.unwrap();
        blocking.await.unwrap();
        (quiet_line, blocking_line)
    });
    let fired = warnings_about(blocking_line, S::NAME);
    assert_eq!(fired.len(), 1, "once per task: {fired:?}");
    assert!(fired[0].contains("has been running one poll"), "{fired:?}");
    assert!(fired[0].contains("spawn_blocking"), "{fired:?}");
    assert!(fired[0].starts_with("task "), "{fired:?}");
    assert_eq!(warnings_about(quiet_line, S::NAME), Vec::<String>::new());
    drop(rt);
}

#[test]
fn detector_fires_for_a_sleeping_poll_current_thread() {
    detector_fires_only_for_the_blocking_poll::<CtDetect>();
}

#[test]
fn detector_fires_for_a_sleeping_poll_multi_thread() {
    detector_fires_only_for_the_blocking_poll::<MtDetect>();
}

#[test]
fn no_detector_no_warnings() {
    warnings();
    let line = line!() + 2;
    CtOn::block_on(async {
        zokio::spawn(async { std::thread::sleep(Duration::from_millis(100)) })
            .await
            .unwrap();
    });
    assert_eq!(warnings_about(line, "CtOn"), Vec::<String>::new());
}

// ---- Prometheus/OpenMetrics export -----------------------------------------

/// Checks the OpenMetrics text line by line (descriptors, samples with an
/// optional label set and a number, the closing `# EOF`) and returns the
/// families named by `# TYPE` lines with their types.
fn parse_openmetrics(text: &str) -> Vec<(String, String)> {
    let mut families = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "{text}");
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            families.push((name.to_owned(), kind.to_owned()));
        } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(
                value.parse::<f64>().is_ok() || value == "+Inf",
                "not a number in `{line}`"
            );
            let name_end = series.find('{').unwrap_or(series.len());
            let name = &series[..name_end];
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "bad name in `{line}`"
            );
            if name_end < series.len() {
                assert!(series.ends_with('}'), "unclosed labels in `{line}`");
            }
            assert!(
                families.iter().any(|(f, _)| name.starts_with(f.as_str())),
                "sample `{line}` before its # TYPE"
            );
        }
    }
    families
}

fn prometheus_text<S: Spec>() -> String {
    let rt = zokio::Runtime::<S>::build().unwrap();
    rt.block_on(async {
        for _ in 0..5 {
            zokio::spawn(async {}).await.unwrap();
        }
        zokio::time::sleep(Duration::from_millis(1)).await;
    });
    let mut registry = prometheus_client::registry::Registry::default();
    zokio::metrics::register(&mut registry, rt.handle());
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text
}

#[test]
fn prometheus_text_parses_and_has_the_families() {
    let text = prometheus_text::<MtOn>();
    let families = parse_openmetrics(&text);
    for (name, kind) in [
        ("zokio_workers", "gauge"),
        ("zokio_alive_tasks", "gauge"),
        ("zokio_global_queue_depth", "gauge"),
        ("zokio_local_queue_depth", "gauge"),
        ("zokio_blocking_threads", "gauge"),
        ("zokio_blocking_queue_depth", "gauge"),
        ("zokio_timers_pending", "gauge"),
        ("zokio_spawned_tasks", "counter"),
        ("zokio_polls", "counter"),
        ("zokio_completed_tasks", "counter"),
        ("zokio_steal_attempts", "counter"),
        ("zokio_parks", "counter"),
        ("zokio_timers_fired", "counter"),
        ("zokio_io_events", "counter"),
        ("zokio_busy_seconds", "counter"),
        ("zokio_poll_time_seconds", "histogram"),
    ] {
        assert!(
            families.iter().any(|(n, k)| n == name && k == kind),
            "no {kind} family {name} in:\n{text}"
        );
    }
    assert!(text.contains("zokio_workers 2\n"), "{text}");
    assert!(text.contains("zokio_spawned_tasks_total 5\n"), "{text}");
    assert!(text.contains("zokio_polls_total{worker=\"1\"}"), "{text}");
    assert!(
        text.contains("zokio_poll_time_seconds_bucket{le=\"+Inf\"}"),
        "{text}"
    );
}

#[test]
fn prometheus_text_with_metrics_off_still_parses() {
    let text = prometheus_text::<CtOff>();
    let families = parse_openmetrics(&text);
    assert!(families.iter().any(|(n, _)| n == "zokio_alive_tasks"));
    assert!(text.contains("zokio_spawned_tasks_total 0\n"), "{text}");
}
