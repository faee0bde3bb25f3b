//! Stress tests (issue 8), ignored by default: `scripts/stress.sh` runs them
//! in release mode, one at a time, and `docs/RELIABILITY.md` records a run.
//!
//! * **tasks**: many tasks spawned in batches, each woken from another
//!   thread, a random share aborted (from the runtime or from another thread,
//!   before or after their wake-up) and every one joined. Each task has a slot
//!   that counts how often its body finished and how often its future was
//!   dropped: at the end every task finished once or was cancelled, its future
//!   was dropped exactly once, and its `JoinHandle` said which. Resident
//!   memory after the runtime is dropped must be back near its level before.
//! * **connections**: short TCP connections on loopback, a bounded number in
//!   flight: connect, send a number, read it echoed, read the server's close.
//!   Every connection is served and no file descriptor is left open.
//! * **timers**: timers that fire, timers dropped while registered, timers
//!   cancelled by a `timeout` and timers in tasks aborted from outside; every
//!   batch ends with no timer entry left registered.
//!
//! Every test runs on both flavors and both backends. The counts are
//! parameters (`ZOKIO_STRESS_TASKS`, `ZOKIO_STRESS_CONNECTIONS`,
//! `ZOKIO_STRESS_TIMERS`; `ZOKIO_STRESS_SEED` for the random choices); they
//! default to the figures: 10 M tasks, 100 k connections and 1 M
//! timers per flavor and backend. Nothing here synchronises by sleeping and
//! nothing asserts on timing.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

mod support;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};
use zokio::sync::{Semaphore, oneshot};
use zokio::task::{AbortHandle, JoinHandle};

/// Tasks spawned per batch (the tasks of one batch are alive at once).
const TASK_BATCH: usize = 10_000;
/// Timers set per batch.
const TIMER_BATCH: usize = 10_000;
/// Connections in flight at once.
const CONCURRENT_CONNECTIONS: usize = 64;
/// How far resident memory may be above its starting level after a run: far
/// less than what leaking one allocation per task or timer would cost (a
/// million tasks of ~100 bytes), far more than allocator noise.
const RSS_SLACK: usize = 32 << 20;

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a count")),
        Err(_) => default,
    }
}

/// A small deterministic generator (xorshift64*), seeded from
/// `ZOKIO_STRESS_SEED`, so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn from_env() -> Self {
        let seed = env_count("ZOKIO_STRESS_SEED", 0x2545_f491_4f6c_dd1d) as u64;
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Resident memory in bytes, after returning freed heap memory to the kernel,
/// so what remains is memory still allocated rather than memory malloc keeps.
fn resident_bytes() -> usize {
    // SAFETY: `malloc_trim` only releases free memory held by the allocator;
    // it has no preconditions.
    unsafe { libc::malloc_trim(0) };
    let statm = std::fs::read_to_string("/proc/self/statm").expect("reading /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("the second field of /proc/self/statm");
    // SAFETY: `sysconf` with a valid name has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * usize::try_from(page_size).expect("a positive page size")
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Checks that resident memory is back near `before`, and reports both.
fn assert_memory_returned(what: &str, before: usize) {
    let after = resident_bytes();
    println!(
        "{what}: resident memory {:.1} MiB before, {:.1} MiB after",
        mib(before),
        mib(after)
    );
    assert!(
        after <= before + RSS_SLACK,
        "{what}: resident memory grew from {:.1} MiB to {:.1} MiB",
        mib(before),
        mib(after)
    );
}

// ---------------------------------------------------------------------------
// Tasks

/// What happened to one task: how often its body finished and how often its
/// future was dropped.
#[derive(Default)]
struct Slot {
    finished: AtomicU8,
    dropped: AtomicU8,
}

/// Lives inside a task's future and counts the future's drop in its slot.
struct DropGuard {
    slots: Arc<Vec<Slot>>,
    index: usize,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.slots[self.index]
            .dropped
            .fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default, Debug)]
struct TaskTally {
    finished: usize,
    cancelled: usize,
}

/// Threads that fire wake-ups and aborts from outside the runtime.
struct Outsiders {
    wakers: Vec<mpsc::Sender<oneshot::Sender<()>>>,
    aborter: mpsc::Sender<AbortHandle>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Outsiders {
    fn start() -> Self {
        let mut threads = Vec::new();
        let mut wakers = Vec::new();
        for _ in 0..2 {
            let (tx, rx) = mpsc::channel::<oneshot::Sender<()>>();
            wakers.push(tx);
            threads.push(thread::spawn(move || {
                for wake in rx {
                    // The task may have been aborted, its receiver gone.
                    let _ = wake.send(());
                }
            }));
        }
        let (aborter, rx) = mpsc::channel::<AbortHandle>();
        threads.push(thread::spawn(move || {
            for handle in rx {
                handle.abort();
            }
        }));
        Outsiders {
            wakers,
            aborter,
            threads,
        }
    }

    fn stop(self) {
        drop(self.wakers);
        drop(self.aborter);
        for thread in self.threads {
            thread.join().expect("an outside thread panicked");
        }
    }
}

/// Spawns `total` tasks in batches on a fresh runtime `S` and checks each
/// batch's bookkeeping.
fn run_tasks<S: zokio::Spec>(total: usize, rng: &mut Rng) -> TaskTally {
    let rt = zokio::Runtime::<S>::build().expect("building the runtime");
    let outsiders = Outsiders::start();
    let mut tally = TaskTally::default();
    let mut done = 0;
    while done < total {
        let batch = TASK_BATCH.min(total - done);
        let slots: Arc<Vec<Slot>> = Arc::new((0..batch).map(|_| Slot::default()).collect());
        let mut handles: Vec<JoinHandle<usize>> = Vec::with_capacity(batch);
        rt.block_on(async {
            for index in 0..batch {
                let (wake, woken) = oneshot::channel::<()>();
                let guard = DropGuard {
                    slots: slots.clone(),
                    index,
                };
                let handle = zokio::spawn(async move {
                    let guard = guard;
                    let _ = woken.await;
                    guard.slots[index].finished.fetch_add(1, Ordering::SeqCst);
                    index
                });
                match rng.below(16) {
                    // Aborted here, most likely before its first poll.
                    0 | 1 => handle.abort(),
                    // Aborted from another thread, racing its wake-up.
                    2 | 3 => outsiders.aborter.send(handle.abort_handle()).unwrap(),
                    // Aborted after yielding, so it may be running elsewhere.
                    4 => {
                        zokio::task::yield_now().await;
                        handle.abort();
                    }
                    _ => {}
                }
                outsiders.wakers[index % 2].send(wake).unwrap();
                handles.push(handle);
            }
            for (index, handle) in handles.drain(..).enumerate() {
                let finished = match handle.await {
                    Ok(output) => {
                        assert_eq!(output, index);
                        tally.finished += 1;
                        1
                    }
                    Err(err) if err.is_cancelled() => {
                        tally.cancelled += 1;
                        0
                    }
                    Err(err) => panic!("task {index}: {err}"),
                };
                // The handle's answer matches what the task did.
                let slot = &slots[index];
                assert_eq!(
                    slot.finished.load(Ordering::SeqCst),
                    finished,
                    "task {index}"
                );
            }
        });
        for (index, slot) in slots.iter().enumerate() {
            assert_eq!(
                slot.dropped.load(Ordering::SeqCst),
                1,
                "task {index} of a batch: its future was dropped a wrong number of times"
            );
        }
        done += batch;
    }
    drop(rt);
    outsiders.stop();
    assert_eq!(tally.finished + tally.cancelled, total);
    tally
}

fn task_stress<S: zokio::Spec>(what: &str) {
    let total = env_count("ZOKIO_STRESS_TASKS", 10_000_000);
    let mut rng = Rng::from_env();
    // One batch first, so lazily created statics and the allocator's arenas
    // exist before the baseline is taken.
    run_tasks::<S>(TASK_BATCH.min(total), &mut rng);
    let before = resident_bytes();
    let start = Instant::now();
    let tally = run_tasks::<S>(total, &mut rng);
    println!(
        "{what}: {total} tasks: {} finished, {} cancelled, each dropped once ({:.1?})",
        tally.finished,
        tally.cancelled,
        start.elapsed()
    );
    assert_memory_returned(what, before);
}

// ---------------------------------------------------------------------------
// Connections

fn connection_stress<S: zokio::Spec>(what: &str) {
    let total = env_count("ZOKIO_STRESS_CONNECTIONS", 100_000);
    let fds_before = support::open_fds();
    let start = Instant::now();
    let rt = zokio::Runtime::<S>::build().expect("building the runtime");
    let (served, completed) = rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let server = zokio::spawn({
            let served = served.clone();
            async move {
                loop {
                    let (mut stream, _) = match listener.accept().await {
                        Ok(accepted) => accepted,
                        // A client that gave up before the accept.
                        Err(err) if err.kind() == std::io::ErrorKind::ConnectionAborted => {
                            continue;
                        }
                        Err(err) => panic!("accept: {err}"),
                    };
                    let served = served.clone();
                    zokio::spawn(async move {
                        let mut number = [0; 8];
                        stream.read_exact(&mut number).await.unwrap();
                        stream.write_all(&number).await.unwrap();
                        served.fetch_add(1, Ordering::SeqCst);
                        // Dropping the stream closes it: the server closes
                        // first, so TIME_WAIT stays on the listener's side.
                    });
                }
            }
        });
        let completed = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(Semaphore::new(CONCURRENT_CONNECTIONS));
        for n in 0..total as u64 {
            let permit = in_flight.clone().acquire_owned().await.unwrap();
            let completed = completed.clone();
            zokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.write_all(&n.to_le_bytes()).await.unwrap();
                let mut echoed = [0; 8];
                stream.read_exact(&mut echoed).await.unwrap();
                assert_eq!(u64::from_le_bytes(echoed), n);
                let mut rest = Vec::new();
                assert_eq!(stream.read_to_end(&mut rest).await.unwrap(), 0);
                completed.fetch_add(1, Ordering::SeqCst);
                drop(permit);
            });
        }
        // Every permit back: every client task has finished.
        let _all = in_flight
            .acquire_many(CONCURRENT_CONNECTIONS as u32)
            .await
            .unwrap();
        server.abort();
        assert!(server.await.unwrap_err().is_cancelled());
        (
            served.load(Ordering::SeqCst),
            completed.load(Ordering::SeqCst),
        )
    });
    drop(rt);
    println!(
        "{what}: {total} connections: {completed} completed, {served} served ({:.1?})",
        start.elapsed()
    );
    assert_eq!(completed, total);
    assert_eq!(served, total);
    support::assert_same_fds(&fds_before, &support::open_fds(), what);
}

// ---------------------------------------------------------------------------
// Timers

#[derive(Default, Debug)]
struct TimerTally {
    fired: usize,
    dropped_registered: usize,
    timed_out: usize,
    aborted: usize,
}

/// Polls `future` once and reports whether it was still pending.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> bool {
    poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *future).poll(cx).is_pending())).await
}

fn run_timers<S: zokio::Spec>(total: usize, rng: &mut Rng) -> TimerTally {
    let rt = zokio::Runtime::<S>::build().expect("building the runtime");
    let mut tally = TimerTally::default();
    let mut done = 0;
    while done < total {
        let batch = TIMER_BATCH.min(total - done);
        rt.block_on(async {
            let mut handles = Vec::with_capacity(batch);
            for _ in 0..batch {
                let r = rng.next();
                let delay = Duration::from_micros(r % 5_000);
                let kind = (r >> 32) % 4;
                let handle = zokio::spawn(async move {
                    match kind {
                        0 => zokio::time::sleep(delay).await,
                        1 => {
                            // Registered, then dropped before its deadline.
                            let mut sleep =
                                pin!(zokio::time::sleep(delay + Duration::from_secs(60)));
                            assert!(poll_once(&mut sleep).await);
                        }
                        2 => {
                            // The long inner sleep is cancelled when the
                            // timeout fires.
                            let long = zokio::time::sleep(Duration::from_secs(60));
                            assert!(zokio::time::timeout(delay, long).await.is_err());
                        }
                        _ => zokio::time::sleep(Duration::from_secs(60)).await,
                    }
                    kind
                });
                if kind == 3 {
                    // Aborted now or after it registered its timer.
                    if r & 1 == 0 {
                        zokio::task::yield_now().await;
                    }
                    handle.abort();
                }
                handles.push(handle);
            }
            for handle in handles {
                match handle.await {
                    Ok(0) => tally.fired += 1,
                    Ok(1) => tally.dropped_registered += 1,
                    Ok(2) => tally.timed_out += 1,
                    Err(err) if err.is_cancelled() => tally.aborted += 1,
                    other => panic!("unexpected timer task result {other:?}"),
                }
            }
            assert_eq!(
                zokio::time::__live_timer_entries(),
                0,
                "timer entries left registered after a batch"
            );
        });
        done += batch;
    }
    drop(rt);
    tally
}

fn timer_stress<S: zokio::Spec>(what: &str) {
    let total = env_count("ZOKIO_STRESS_TIMERS", 1_000_000);
    let mut rng = Rng::from_env();
    run_timers::<S>(TIMER_BATCH.min(total), &mut rng);
    let before = resident_bytes();
    let start = Instant::now();
    let tally = run_timers::<S>(total, &mut rng);
    println!(
        "{what}: {total} timers: {tally:?} ({:.1?})",
        start.elapsed()
    );
    assert_eq!(
        tally.fired + tally.dropped_registered + tally.timed_out + tally.aborted,
        total
    );
    assert_memory_returned(what, before);
}

macro_rules! stress_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            zokio::runtime! { Rt { $($config)* } }

            const WHAT: &str = module_path!();

            #[test]
            #[ignore = "stress: run by scripts/stress.sh"]
            fn tasks() {
                super::task_stress::<Rt>(WHAT);
            }

            #[test]
            #[ignore = "stress: run by scripts/stress.sh"]
            fn connections() {
                super::connection_stress::<Rt>(WHAT);
            }

            #[test]
            #[ignore = "stress: run by scripts/stress.sh"]
            fn timers() {
                super::timer_stress::<Rt>(WHAT);
            }
        }
    };
}

stress_suite!(
    current_thread_mio,
    flavor = "current_thread",
    backend = "mio"
);
stress_suite!(
    current_thread_io_uring,
    flavor = "current_thread",
    backend = "io_uring"
);
stress_suite!(
    multi_thread_mio,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
stress_suite!(
    multi_thread_io_uring,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);
