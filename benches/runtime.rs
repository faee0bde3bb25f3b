//! Scheduler benchmarks: zokio against tokio on the same workloads, in the
//! same run, on the same machine.
//!
//! The workloads mirror tokio's own `benches/rt_multi_threaded.rs` and
//! `benches/rt_current_thread.rs` (see DESIGN.md, "How performance is
//! judged"). Each criterion group is one workload; its bench ids are the
//! runtimes (`zokio_mt2`, `tokio_mt2`, `zokio_ct`, `tokio_ct`), so criterion
//! reports them side by side and `benches/compare.py` turns the medians into
//! a zokio/tokio table.
//!
//! Every workload is written once, generic over [`BenchRuntime`], so both
//! runtimes run exactly the same code: the same tokio `Notify`/`oneshot`
//! (which are runtime-agnostic) for completion, the same allocation pattern.
//! Tokio's own benches wait on a blocking `std::sync::mpsc` receiver inside
//! `block_on`; that deadlocks a current-thread runtime, so here the waiting is
//! asynchronous, which lets every workload run on both flavors.
//!
//! A watchdog thread ends the process with a message naming the benchmark if
//! an iteration makes no progress for `ZOKIO_BENCH_STALL_SECS` seconds
//! (default 60), so a scheduler deadlock is reported instead of hanging.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tokio::sync::{Notify, oneshot};

zokio::runtime! {
    /// zokio, `multi_thread` with 2 workers, like the tokio runtime it is
    /// compared with (`worker_threads(2)`).
    Mt2 { flavor = "multi_thread", workers = 2 }
}

zokio::runtime! {
    /// zokio, `current_thread`.
    Ct { flavor = "current_thread" }
}

zokio::runtime! {
    /// `Mt2` with the runtime metrics on (issue 7: their cost).
    Mt2Metrics { flavor = "multi_thread", workers = 2, metrics = true }
}

zokio::runtime! {
    /// `Ct` with the runtime metrics on.
    CtMetrics { flavor = "current_thread", metrics = true }
}

zokio::runtime! {
    /// `Ct` again, metrics off: run after `CtMetrics`, so the metrics-on run
    /// sits between two metrics-off runs. The two off runs show what "no
    /// difference" measures as on this machine, and their mean cancels a
    /// drift across the three.
    CtControl { flavor = "current_thread" }
}

/// The workloads the metrics-on variants also run (issue 7's overhead
/// budget names these two).
const METRICS_WORKLOADS: [&str; 2] = ["spawn_many_local", "yield_many"];

/// Tasks spawned by `spawn_many_local` and `spawn_many_remote_idle`.
const NUM_SPAWN: usize = 10_000;
/// Tasks in `yield_many`.
const YIELD_TASKS: usize = 200;
/// `yield_now` calls per task in `yield_many`.
const NUM_YIELD: usize = 1_000;
/// Ping-pong rounds in `ping_pong`.
const NUM_PINGS: usize = 1_000;
/// Length of the spawn chain in `chained_spawn`.
const CHAIN: usize = 1_000;

/// What a workload needs from a runtime. Implemented for zokio's and tokio's
/// runtimes with thin forwarding, so the workloads themselves are shared.
trait BenchRuntime {
    /// A spawned `()` task's join handle; resolves when the task finished and
    /// panics if it did not complete (a benchmark must not hide a failure).
    type Join: Future<Output = ()> + Send + 'static;

    /// Runs `future` to completion with this runtime as the current one.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Spawns onto this runtime from outside it (`rt.spawn`).
    fn spawn_remote<F>(&self, future: F) -> Self::Join
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns onto the current runtime from inside it (`zokio::spawn` /
    /// `tokio::spawn`).
    fn spawn<F>(future: F) -> Self::Join
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime's `yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

/// A join handle whose error is turned into a panic.
struct Joined<H>(H);

impl<H, E> Future for Joined<H>
where
    H: Future<Output = Result<(), E>> + Unpin,
    E: std::fmt::Debug,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|res| res.expect("benchmark task failed"))
    }
}

impl<S: zokio::Spec> BenchRuntime for zokio::Runtime<S> {
    type Join = Joined<zokio::task::JoinHandle<()>>;

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        zokio::Runtime::block_on(self, future)
    }

    fn spawn_remote<F>(&self, future: F) -> Self::Join
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Joined(zokio::Runtime::spawn(self, future))
    }

    fn spawn<F>(future: F) -> Self::Join
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Joined(zokio::spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        zokio::task::yield_now()
    }
}

impl BenchRuntime for tokio::runtime::Runtime {
    type Join = Joined<tokio::task::JoinHandle<()>>;

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Runtime::block_on(self, future)
    }

    fn spawn_remote<F>(&self, future: F) -> Self::Join
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Joined(tokio::runtime::Runtime::spawn(self, future))
    }

    fn spawn<F>(future: F) -> Self::Join
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Joined(tokio::spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

/// Detaches a spawned task: its handle is dropped, the task keeps running.
fn detach<J>(join: J) {
    drop(join);
}

// ---------------------------------------------------------------------------
// Watchdog

/// Iterations finished so far, across all benchmarks.
static PROGRESS: AtomicU64 = AtomicU64::new(0);
/// The benchmark running now, for the watchdog's message.
static CURRENT: Mutex<String> = Mutex::new(String::new());

/// Marks one finished iteration.
fn tick() {
    PROGRESS.fetch_add(1, Ordering::Relaxed);
}

/// Starts the watchdog thread (once).
fn start_watchdog() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let limit = std::env::var("ZOKIO_BENCH_STALL_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60u64);
        let limit = Duration::from_secs(limit);
        std::thread::Builder::new()
            .name("bench-watchdog".into())
            .spawn(move || {
                let mut seen = PROGRESS.load(Ordering::Relaxed);
                let mut since = Instant::now();
                loop {
                    std::thread::sleep(Duration::from_millis(500));
                    let now = PROGRESS.load(Ordering::Relaxed);
                    if now != seen {
                        seen = now;
                        since = Instant::now();
                    } else if since.elapsed() >= limit {
                        let current = CURRENT.lock().map(|s| s.clone()).unwrap_or_default();
                        eprintln!(
                            "\nwatchdog: benchmark `{current}` made no progress for {:?} \
                             (one iteration never finished: deadlock or lost wake-up?); aborting",
                            since.elapsed(),
                        );
                        std::process::exit(2);
                    }
                }
            })
            .expect("spawn the watchdog thread");
    });
}

/// Runs `f(b)` as the benchmark `group/id`, under the watchdog.
fn bench<F>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, id: &str, mut f: F)
where
    F: FnMut(&mut criterion::Bencher<'_>),
{
    start_watchdog();
    if let Ok(mut current) = CURRENT.lock() {
        *current = format!("{name}/{id}");
    }
    // Counts as progress: a new benchmark starts with a full allowance.
    tick();
    group.bench_function(id, |b| f(b));
}

// ---------------------------------------------------------------------------
// Workloads

/// From inside `block_on`, spawn `NUM_SPAWN` tasks that each decrement a
/// counter; the last one signals a `Notify` that `block_on` awaits.
fn spawn_many_local<R: BenchRuntime>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, rt: R) {
    let rem = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    bench(g, "spawn_many_local", id, |b| {
        b.iter(|| {
            rem.store(NUM_SPAWN, Ordering::Relaxed);
            rt.block_on(async {
                for _ in 0..NUM_SPAWN {
                    let rem = rem.clone();
                    let done = done.clone();
                    detach(R::spawn(async move {
                        if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                            done.notify_one();
                        }
                    }));
                }
                done.notified().await;
            });
            tick();
        });
    });
}

/// From outside the runtime, spawn `NUM_SPAWN` empty tasks, then `block_on`
/// awaiting all their handles.
fn spawn_many_remote_idle<R: BenchRuntime>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, rt: R) {
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    bench(g, "spawn_many_remote_idle", id, |b| {
        b.iter(|| {
            for _ in 0..NUM_SPAWN {
                handles.push(rt.spawn_remote(async {}));
            }
            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await;
                }
            });
            tick();
        });
    });
}

/// From outside the runtime, spawn `YIELD_TASKS` tasks that each call
/// `yield_now` `NUM_YIELD` times, then `block_on` awaiting their handles.
fn yield_many<R: BenchRuntime>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, rt: R) {
    let mut handles = Vec::with_capacity(YIELD_TASKS);
    bench(g, "yield_many", id, |b| {
        b.iter(|| {
            for _ in 0..YIELD_TASKS {
                handles.push(rt.spawn_remote(async {
                    for _ in 0..NUM_YIELD {
                        R::yield_now().await;
                    }
                }));
            }
            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await;
                }
            });
            tick();
        });
    });
}

/// `NUM_PINGS` rounds, as in tokio's bench: a spawned task spawns the rounds;
/// each round is a task that spawns a partner, sends it a ping over a
/// `oneshot` and awaits the pong on another. The last round to finish
/// signals a `Notify` that `block_on` awaits.
fn ping_pong<R: BenchRuntime>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, rt: R) {
    let rem = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    bench(g, "ping_pong", id, |b| {
        b.iter(|| {
            rem.store(NUM_PINGS, Ordering::Relaxed);
            rt.block_on(async {
                let rem = rem.clone();
                let signal = done.clone();
                detach(R::spawn(async move {
                    for _ in 0..NUM_PINGS {
                        let rem = rem.clone();
                        let signal = signal.clone();
                        detach(R::spawn(async move {
                            let (ping_tx, ping_rx) = oneshot::channel::<()>();
                            let (pong_tx, pong_rx) = oneshot::channel::<()>();
                            detach(R::spawn(async move {
                                ping_rx.await.expect("ping");
                                pong_tx.send(()).expect("pong");
                            }));
                            ping_tx.send(()).expect("ping");
                            pong_rx.await.expect("pong");
                            if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                                signal.notify_one();
                            }
                        }));
                    }
                }));
                done.notified().await;
            });
            tick();
        });
    });
}

/// Each link of the chain spawns the next; the last sends on `done`.
fn chain<R: BenchRuntime>(done: oneshot::Sender<()>, n: usize) {
    if n == 0 {
        done.send(()).expect("chain receiver dropped");
    } else {
        detach(R::spawn(async move { chain::<R>(done, n - 1) }));
    }
}

/// A chain of `CHAIN` spawns started from inside `block_on`, which awaits
/// the `oneshot` the last one sends on.
fn chained_spawn<R: BenchRuntime>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, rt: R) {
    bench(g, "chained_spawn", id, |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, rx) = oneshot::channel();
                detach(R::spawn(async move { chain::<R>(tx, CHAIN) }));
                rx.await.expect("chain sender dropped");
            });
            tick();
        });
    });
}

// ---------------------------------------------------------------------------
// Runtimes and groups

fn zokio_mt2() -> zokio::Runtime<Mt2> {
    Mt2::build().expect("build the zokio multi_thread runtime")
}

fn zokio_ct() -> zokio::Runtime<Ct> {
    Ct::build().expect("build the zokio current_thread runtime")
}

fn tokio_mt2() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("build the tokio multi_thread runtime")
}

fn tokio_ct() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("build the tokio current_thread runtime")
}

/// One workload, run on each runtime.
trait Workload {
    /// The criterion group name.
    const NAME: &'static str;

    /// Benchmarks the workload on `rt` as `group/id`.
    fn run<R: BenchRuntime>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, rt: R);
}

macro_rules! workload {
    ($ty:ident, $f:ident) => {
        struct $ty;
        impl Workload for $ty {
            const NAME: &'static str = stringify!($f);
            fn run<R: BenchRuntime>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, rt: R) {
                $f(g, id, rt);
            }
        }
    };
}

workload!(SpawnManyLocal, spawn_many_local);
workload!(SpawnManyRemoteIdle, spawn_many_remote_idle);
workload!(YieldMany, yield_many);
workload!(PingPong, ping_pong);
workload!(ChainedSpawn, chained_spawn);

/// Runs workload `W` on every runtime, each built once for its benchmark and
/// dropped before the next one starts (so they never compete for the cores).
fn compare<W: Workload>(c: &mut Criterion) {
    let mut g = c.benchmark_group(W::NAME);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    W::run(&mut g, "zokio_mt2", zokio_mt2());
    W::run(&mut g, "tokio_mt2", tokio_mt2());
    W::run(&mut g, "zokio_ct", zokio_ct());
    W::run(&mut g, "tokio_ct", tokio_ct());
    if METRICS_WORKLOADS.contains(&W::NAME) {
        W::run(
            &mut g,
            "zokio_mt2_metrics",
            Mt2Metrics::build().expect("build"),
        );
        W::run(
            &mut g,
            "zokio_ct_metrics",
            CtMetrics::build().expect("build"),
        );
        W::run(
            &mut g,
            "zokio_ct_control",
            CtControl::build().expect("build"),
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    compare::<SpawnManyLocal>,
    compare::<SpawnManyRemoteIdle>,
    compare::<YieldMany>,
    compare::<PingPong>,
    compare::<ChainedSpawn>,
);
criterion_main!(benches);
