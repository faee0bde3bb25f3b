//! The `test-util` clock: `time::pause`, `advance`, `resume` and
//! `#[zokio::test(start_paused = true)]`, on `current_thread` runtimes of
//! both backends. (Each body runs under the harness's 30 s timeout, itself
//! a timer on the paused clock, so each moves the clock less than that.) With the clock paused, a sleep of a minute completes as
//! soon as nothing else can run (the runtime moves the clock to it), and
//! every instant the test sees is exact: virtual time only moves by the
//! timers' own deadlines (rounded up to the 1 ms resolution) or by
//! `advance`. Nothing here waits on the system's time except `resume`'s
//! 1 ms sleep.

use std::panic::catch_unwind;
use std::sync::mpsc;
use std::thread;

mod support;
use support::*;

use zokio::time::{self, Duration, Instant};

/// Aborts the process if it is still alive after `secs` seconds of the
/// system's time (a paused clock that stopped advancing would otherwise
/// leave a test asleep for an hour). Disarmed when dropped, also by a
/// panic.
struct Watchdog(#[allow(dead_code)] mpsc::Sender<()>);

fn watchdog(secs: u64) -> Watchdog {
    let (done, finished) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) =
            finished.recv_timeout(std::time::Duration::from_secs(secs))
        {
            eprintln!("time_paused: the paused clock did not advance within {secs} s");
            std::process::abort();
        }
    });
    Watchdog(done)
}

macro_rules! paused_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn sleeping_with_the_clock_paused_advances_it_to_the_deadline() {
                run_on::<Rt, _, _>(|| super::sleeping_with_the_clock_paused_advances_it_to_the_deadline());
            }

            #[test]
            fn advance_fires_the_timers_that_fall_due_and_no_others() {
                run_on::<Rt, _, _>(|| super::advance_fires_the_timers_that_fall_due_and_no_others());
            }

            #[test]
            fn timeout_and_interval_run_on_the_paused_clock() {
                run_on::<Rt, _, _>(|| super::timeout_and_interval_run_on_the_paused_clock());
            }

            #[test]
            fn resume_lets_the_clock_run_from_where_it_stood() {
                run_on::<Rt, _, _>(|| super::resume_lets_the_clock_run_from_where_it_stood());
            }

            #[test]
            fn a_blocking_job_holds_the_clock_back() {
                run_on::<Rt, _, _>(|| super::a_blocking_job_holds_the_clock_back());
            }

            #[test]
            fn io_still_wakes_tasks_while_the_clock_is_paused() {
                run_on::<Rt, _, _>(|| super::io_still_wakes_tasks_while_the_clock_is_paused());
            }
        }
    };
}

paused_suite!(mio, flavor = "current_thread", backend = "mio");
paused_suite!(io_uring, flavor = "current_thread", backend = "io_uring");

/// A 6 s sleep completes with the clock exactly 6 s on; two
/// sleeps of different lengths complete in deadline order.
async fn sleeping_with_the_clock_paused_advances_it_to_the_deadline() {
    time::pause();
    let start = Instant::now();
    assert_eq!(Instant::now(), start, "a paused clock stands still");
    time::sleep(Duration::from_secs(6)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(6));

    let start = Instant::now();
    let long = zokio::spawn(async {
        time::sleep(Duration::from_secs(4)).await;
        Instant::now()
    });
    let short = zokio::spawn(async {
        time::sleep(Duration::from_secs(2)).await;
        Instant::now()
    });
    let (long, short) = (long.await.unwrap(), short.await.unwrap());
    assert_eq!(short - start, Duration::from_secs(2));
    assert_eq!(long - start, Duration::from_secs(4));
}

/// `advance` by less than a sleep leaves it pending; advancing past its
/// deadline completes it before `advance` returns.
async fn advance_fires_the_timers_that_fall_due_and_no_others() {
    time::pause();
    let start = Instant::now();
    let sleeper = zokio::spawn(time::sleep(Duration::from_secs(10)));
    zokio::task::yield_now().await;
    time::advance(Duration::from_secs(5)).await;
    assert!(!sleeper.is_finished(), "5 s of a 10 s sleep");
    assert_eq!(Instant::now() - start, Duration::from_secs(5));
    time::advance(Duration::from_millis(4_999)).await;
    assert!(!sleeper.is_finished(), "1 ms short");
    time::advance(Duration::from_millis(1)).await;
    assert!(sleeper.is_finished(), "exactly 10 s of a 10 s sleep");
    sleeper.await.unwrap();
    assert_eq!(Instant::now() - start, Duration::from_secs(10));
}

/// `timeout` of a future that never completes elapses on the paused clock;
/// an `interval` ticks exactly a period apart.
async fn timeout_and_interval_run_on_the_paused_clock() {
    time::pause();
    let start = Instant::now();
    let result = time::timeout(Duration::from_secs(5), std::future::pending::<()>()).await;
    assert!(result.is_err(), "a pending future times out");
    assert_eq!(start.elapsed(), Duration::from_secs(5));

    let mut ticks = time::interval(Duration::from_secs(2));
    let first = ticks.tick().await;
    for n in 1..=4 {
        let at = ticks.tick().await;
        assert_eq!(at - first, Duration::from_secs(2 * n));
    }
}

/// After `resume` the clock runs on from where it stood: a real 1 ms sleep
/// moves it at least that far, and no less than the advance made while
/// paused.
async fn resume_lets_the_clock_run_from_where_it_stood() {
    time::pause();
    let start = Instant::now();
    time::advance(Duration::from_secs(10)).await;
    time::resume();
    let resumed = Instant::now();
    assert!(resumed - start >= Duration::from_secs(10));
    time::sleep(Duration::from_millis(1)).await;
    assert!(Instant::now() - resumed >= Duration::from_millis(1));
    // Pausing again works; resuming twice does not.
    time::pause();
    time::resume();
    let twice = catch_unwind(time::resume).expect_err("resuming a running clock panics");
    assert!(
        panic_text(&twice).contains("not paused"),
        "{}",
        panic_text(&twice)
    );
}

/// With the clock paused and a long timer pending, a socket's bytes still
/// wake the reader: the runtime polls I/O before it moves the clock on.
async fn io_still_wakes_tasks_while_the_clock_is_paused() {
    use zokio::io::{AsyncReadExt, AsyncWriteExt};
    time::pause();
    let (mut a, mut b) = zokio::net::UnixStream::pair().unwrap();
    let reader = zokio::spawn(async move {
        let mut buf = [0u8; 5];
        b.read_exact(&mut buf).await.unwrap();
        buf
    });
    a.write_all(b"hello").await.unwrap();
    assert_eq!(&reader.await.unwrap(), b"hello");
    // Auto-advance still happens once nothing else is ready.
    let start = Instant::now();
    time::sleep(Duration::from_secs(5)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

/// While a `spawn_blocking` job runs, the paused clock does not jump to
/// the next timer: a `timeout` of 5 s around the job (which waits for a
/// message from this test, sent only once the job has started) still
/// returns the job's result, and the clock has not moved.
async fn a_blocking_job_holds_the_clock_back() {
    time::pause();
    let start = Instant::now();
    let (started, on_start) = mpsc::channel::<()>();
    let (go, gate) = mpsc::channel::<()>();
    let job = zokio::task::spawn_blocking(move || {
        started.send(()).unwrap();
        gate.recv().unwrap();
        7
    });
    // Let the job start, then release it from a plain thread once it has.
    let releaser = thread::spawn(move || {
        on_start.recv().unwrap();
        go.send(()).unwrap();
    });
    let got = time::timeout(Duration::from_secs(5), job).await;
    assert_eq!(got.expect("the clock jumped past the timeout").unwrap(), 7);
    assert_eq!(Instant::now(), start, "nothing moved the clock");
    releaser.join().unwrap();
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

zokio::runtime! { Multi { flavor = "multi_thread", workers = 2 } }

/// `pause` on a `multi_thread` runtime, `pause` twice and `advance`
/// without `pause` panic, each saying what is wrong.
#[test]
fn misuse_panics_with_a_message() {
    run_on::<Multi, _, _>(|| async {
        let err = catch_unwind(time::pause).expect_err("multi_thread");
        assert!(panic_text(&err).contains("requires a `current_thread` runtime"));
    });
    zokio::runtime! { Ct { flavor = "current_thread" } }
    run_on::<Ct, _, _>(|| async {
        time::pause();
        let err = catch_unwind(time::pause).expect_err("paused twice");
        assert!(panic_text(&err).contains("already paused"));
        time::resume();
        let err = zokio::spawn(time::advance(Duration::from_secs(1)))
            .await
            .expect_err("advance unpaused");
        let text = panic_text(&err.into_panic());
        assert!(text.contains("not paused"), "{text}");
    });
    let err = catch_unwind(time::pause).expect_err("outside a runtime");
    assert!(panic_text(&err).contains("outside a zokio runtime"));
}

/// `#[zokio::test(start_paused = true)]` starts the body with the clock
/// paused; an hour's sleep takes exactly an hour of it. The watchdog
/// aborts the process if the auto-advance ever breaks, instead of letting
/// the test sleep for an hour.
#[zokio::test(start_paused = true)]
async fn start_paused_test_sleeps_an_hour_at_once() {
    let _watchdog = watchdog(60);
    let start = Instant::now();
    time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
    // `advance` by exactly a sleep's duration completes it.
    let sleeper = zokio::spawn(time::sleep(Duration::from_secs(1)));
    zokio::task::yield_now().await;
    time::advance(Duration::from_secs(1)).await;
    assert!(sleeper.is_finished());
}

/// A `spawn_blocking` job nobody awaits holds the clock still while it
/// runs; when it finishes, the runtime is woken and moves the clock on to
/// the sleep (without that wake-up it would sleep for an hour of the
/// system's time, and the watchdog would abort).
#[zokio::test(start_paused = true)]
async fn a_detached_blocking_job_wakes_the_paused_runtime_when_done() {
    let _watchdog = watchdog(60);
    // The job's own work; nothing waits on it.
    drop(zokio::task::spawn_blocking(|| {
        thread::sleep(std::time::Duration::from_millis(10))
    }));
    let start = Instant::now();
    time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
}
