//! `select!`, `join!`, `try_join!` and `pin!` on zokio tasks: which branch
//! wins, in which order branches are polled, that losers are dropped (drop
//! guards), `else` once every branch is disabled, and short-circuiting.
//!
//! Every test is written once and instantiated on both flavors. This crate
//! depends on zokio only (not on tokio), so it also shows that the macros
//! expand in a user crate that cannot name tokio. Nothing here sleeps to
//! synchronise or asserts on timing; each body runs under a timeout so that
//! a lost wake-up fails instead of hanging.

use std::future::{Future, poll_fn, ready};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use zokio::sync::{mpsc, oneshot};

/// How long a test body may run before it fails as hung.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Iterations for the fairness and ordering tests. With two always-ready
/// branches, random order leaves one branch never chosen in 1,000 tries with
/// probability 2^-999.
const ROUNDS: usize = 1_000;

/// Sets its flag when dropped.
struct DropGuard(Arc<AtomicBool>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future that owns a [`DropGuard`], runs `on_first_poll` when first
/// polled, and never completes.
fn guarded_pending<T>(
    dropped: &Arc<AtomicBool>,
    on_first_poll: impl FnOnce() + Send + 'static,
) -> impl Future<Output = T> + Send + 'static {
    let guard = DropGuard(dropped.clone());
    let mut on_first_poll = Some(on_first_poll);
    poll_fn(move |_| {
        let _owned = &guard;
        if let Some(f) = on_first_poll.take() {
            f();
        }
        Poll::Pending
    })
}

/// A future that appends `name` to `log` each time it is polled, and is
/// ready with `name` if `ready`.
fn logged(
    log: &Arc<Mutex<Vec<&'static str>>>,
    name: &'static str,
    is_ready: bool,
) -> impl Future<Output = &'static str> {
    let log = log.clone();
    poll_fn(move |_| {
        log.lock().unwrap().push(name);
        if is_ready {
            Poll::Ready(name)
        } else {
            Poll::Pending
        }
    })
}

// ---------------------------------------------------------------------------
// select!
// ---------------------------------------------------------------------------

/// The winner's handler runs after the loser, which had started, was
/// dropped.
async fn select_drops_the_losing_branch() {
    let loser_dropped = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = oneshot::channel::<()>();
    // The loser, once polled, is what lets the winner complete: so it has
    // certainly started when the winner wins.
    let loser = guarded_pending::<&str>(&loser_dropped, move || {
        started_tx.send(()).unwrap();
    });
    let winner = async move {
        started_rx.await.unwrap();
        "winner"
    };
    let outcome = zokio::select! {
        w = winner => {
            assert!(
                loser_dropped.load(Ordering::SeqCst),
                "the losing branch is still alive in the winner's handler"
            );
            w
        }
        l = loser => l,
    };
    assert_eq!(outcome, "winner");
    assert!(loser_dropped.load(Ordering::SeqCst));
}

/// A losing branch that is a spawned task's `JoinHandle` is only dropped,
/// not aborted (the task runs on), while a losing branch that owns its work
/// is cancelled: what it would have done after its `.await` never happens.
async fn select_cancels_owned_work_but_not_detached_tasks() {
    let effects = Arc::new(AtomicUsize::new(0));
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let (finished_tx, finished_rx) = oneshot::channel::<()>();
    let task = {
        let effects = effects.clone();
        zokio::spawn(async move {
            gate_rx.await.unwrap();
            effects.fetch_add(1, Ordering::SeqCst);
            finished_tx.send(()).unwrap();
        })
    };
    let (owned_gate_tx, owned_gate_rx) = oneshot::channel::<()>();
    let owned = {
        let effects = effects.clone();
        async move {
            // Never opened while this future is alive.
            let _ = owned_gate_rx.await;
            effects.fetch_add(100, Ordering::SeqCst);
        }
    };
    // `biased;`: the handle and the owned work are polled (and start
    // waiting) before the ready branch wins.
    zokio::select! {
        biased;
        _ = task => unreachable!("the gate is closed"),
        () = owned => unreachable!("the owned gate is closed"),
        () = ready(()) => {}
    }
    // The owned work is gone: its receiver was dropped with it.
    assert!(owned_gate_tx.send(()).is_err());
    gate_tx.send(()).unwrap();
    finished_rx
        .await
        .expect("the detached task ran to completion");
    assert_eq!(effects.load(Ordering::SeqCst), 1);
}

/// Without `biased;`, the branch polled first is random: over many rounds
/// with both branches ready, each wins some.
async fn select_is_fair_between_ready_branches() {
    let (mut first, mut second) = (0, 0);
    for _ in 0..ROUNDS {
        zokio::select! {
            () = ready(()) => first += 1,
            () = ready(()) => second += 1,
        }
    }
    assert_eq!(first + second, ROUNDS);
    assert!(first > 0 && second > 0, "first {first}, second {second}");
}

/// `biased;` polls in the order written, every time, and stops at the
/// first ready branch.
async fn select_biased_polls_in_order() {
    for _ in 0..ROUNDS {
        let log = Arc::new(Mutex::new(Vec::new()));
        let won = zokio::select! {
            biased;
            v = logged(&log, "a", false) => v,
            v = logged(&log, "b", false) => v,
            v = logged(&log, "c", true) => v,
            v = logged(&log, "d", true) => v,
        };
        assert_eq!(won, "c");
        assert_eq!(*log.lock().unwrap(), ["a", "b", "c"]);
    }
}

/// A branch whose precondition is false is disabled: its future is created
/// (as tokio documents) but never polled, even when it would be ready.
async fn select_precondition_disables_a_branch() {
    let log = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..ROUNDS {
        let v = zokio::select! {
            v = logged(&log, "disabled", true), if false => v,
            v = logged(&log, "enabled", true) => v,
        };
        assert_eq!(v, "enabled");
    }
    let log = log.lock().unwrap();
    assert_eq!(log.len(), ROUNDS);
    assert!(log.iter().all(|name| *name == "enabled"));
}

/// `else` runs when every branch is disabled: by preconditions before
/// anything is polled, or by outputs that do not match their patterns.
async fn select_else_when_all_branches_are_disabled() {
    let by_precondition = zokio::select! {
        v = ready(1), if false => v,
        v = ready(2), if false => v,
        else => 0,
    };
    assert_eq!(by_precondition, 0);

    let polled = Arc::new(AtomicUsize::new(0));
    let none_after_poll = || {
        let polled = polled.clone();
        async move {
            polled.fetch_add(1, Ordering::SeqCst);
            None::<u32>
        }
    };
    let by_pattern = zokio::select! {
        Some(v) = none_after_poll() => v,
        Some(v) = none_after_poll() => v,
        else => 7,
    };
    assert_eq!(by_pattern, 7);
    assert_eq!(
        polled.load(Ordering::SeqCst),
        2,
        "both branches ran to a mismatch"
    );

    // A mismatch disables only its branch: the other can still win later.
    let (tx, rx) = oneshot::channel();
    zokio::spawn(async move { tx.send(5).unwrap() });
    let v = zokio::select! {
        Some(v) = ready(None::<u32>) => v,
        Ok(v) = rx => v,
        else => 0,
    };
    assert_eq!(v, 5);
}

/// Every branch disabled and no `else`: `select!` panics, saying so.
async fn select_without_else_panics_when_all_disabled() {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut polled = Box::pin(async {
            zokio::select! {
                Some(v) = ready(None::<u32>) => v,
                v = ready(1), if false => v,
            }
        });
        // The branches complete at once, so one poll decides.
        polled
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    }));
    let panic = outcome.expect_err("select! with every branch disabled returned");
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(message.contains("all branches are disabled"), "{message}");
}

/// A receive loop over two channels fed by tasks on (with `multi_thread`)
/// other workers: wake-ups reach the selecting task, every item arrives
/// once, and the loop ends through `else` when both channels close.
async fn select_loop_over_channels_fed_by_tasks() {
    const ITEMS: u64 = 2_000;
    let (tx_a, mut a) = mpsc::channel::<u64>(16);
    let (tx_b, mut b) = mpsc::channel::<u64>(16);
    zokio::spawn(async move {
        for i in 0..ITEMS {
            tx_a.send(i).await.unwrap();
        }
    });
    zokio::spawn(async move {
        for i in 0..ITEMS {
            tx_b.send(i * 1_000_000).await.unwrap();
        }
    });
    let (mut sum, mut count) = (0u64, 0u64);
    loop {
        zokio::select! {
            Some(i) = a.recv() => { sum += i; count += 1; }
            Some(i) = b.recv() => { sum += i; count += 1; }
            else => break,
        }
    }
    let total: u64 = (0..ITEMS).sum();
    assert_eq!(count, 2 * ITEMS);
    assert_eq!(sum, total + total * 1_000_000);
}

/// Ready on its `n`th poll, waking itself before that.
struct Countdown(u32);

impl Future for Countdown {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        self.0 -= 1;
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A future pinned with `pin!` outside a loop keeps its progress across
/// `select!` iterations: a countdown of 3 polls finishes on the third
/// iteration (a future re-created each iteration would never finish).
async fn pin_keeps_a_future_across_select_iterations() {
    // An `async` block is not `Unpin`: selecting on `&mut` it needs a pin.
    let countdown = async {
        Countdown(3).await;
    };
    zokio::pin!(countdown);
    let mut iterations = 0;
    loop {
        zokio::select! {
            biased;
            () = &mut countdown => break,
            () = ready(()) => iterations += 1,
        }
    }
    assert_eq!(iterations, 2);

    // The `let` form pins several at once.
    zokio::pin! {
        let a = async { 3 };
        let b = async { 4 };
    }
    assert_eq!(a.as_mut().await + b.as_mut().await, 7);
}

// ---------------------------------------------------------------------------
// join! and try_join!
// ---------------------------------------------------------------------------

/// `join!` runs its futures concurrently on one task: each waits for a
/// message only the other sends, which would deadlock if they ran one after
/// the other.
async fn join_runs_futures_concurrently() {
    let (to_b, from_a) = oneshot::channel::<u32>();
    let (to_a, from_b) = oneshot::channel::<u32>();
    let a = async move {
        to_b.send(1).unwrap();
        from_b.await.unwrap() + 10
    };
    let b = async move {
        let got = from_a.await.unwrap();
        to_a.send(got + 1).unwrap();
        got * 100
    };
    let c = async { "c" };
    assert_eq!(zokio::join!(a, b, c), (12, 100, "c"));
}

/// Ready after `pending_polls` pending polls (waking itself meanwhile),
/// appending `name` to `log` on every poll.
fn logged_after(
    log: &Arc<Mutex<Vec<&'static str>>>,
    name: &'static str,
    mut pending_polls: u32,
) -> impl Future<Output = &'static str> {
    let log = log.clone();
    poll_fn(move |cx| {
        log.lock().unwrap().push(name);
        if pending_polls == 0 {
            Poll::Ready(name)
        } else {
            pending_polls -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// `join!` polls every unfinished future each time it is polled, starting
/// from a different one each time, and never polls a finished one again.
async fn join_polls_all_unfinished_and_rotates() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let out = zokio::join!(
        logged_after(&log, "a", 2),
        logged_after(&log, "b", 2),
        logged_after(&log, "c", 2),
    );
    assert_eq!(out, ("a", "b", "c"));
    {
        let log = log.lock().unwrap();
        // Three rounds of three polls: each future pending twice, then ready.
        assert_eq!(log.len(), 9, "{log:?}");
        let rounds: Vec<&[&str]> = log.chunks(3).collect();
        for round in &rounds {
            let mut names = round.to_vec();
            names.sort();
            assert_eq!(
                names,
                ["a", "b", "c"],
                "each round polls each once: {log:?}"
            );
        }
        let firsts: Vec<&str> = rounds.iter().map(|round| round[0]).collect();
        assert!(
            firsts.iter().any(|first| *first != firsts[0]),
            "every round started with the same future: {log:?}"
        );
    }

    // A future that finished early is not polled again while another waits.
    let log2 = Arc::new(Mutex::new(Vec::new()));
    let _ = zokio::join!(
        logged_after(&log2, "fast", 0),
        logged_after(&log2, "slow", 5)
    );
    let log2 = log2.lock().unwrap();
    assert_eq!(log2.iter().filter(|n| **n == "fast").count(), 1, "{log2:?}");
    assert_eq!(log2.iter().filter(|n| **n == "slow").count(), 6, "{log2:?}");
}

/// `join!(biased; ..)` polls in the order written.
async fn join_biased_polls_in_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let out = zokio::join!(
        biased;
        logged(&log, "a", true),
        logged(&log, "b", true),
        logged(&log, "c", true),
    );
    assert_eq!(out, ("a", "b", "c"));
    assert_eq!(*log.lock().unwrap(), ["a", "b", "c"]);
}

/// `try_join!` gives every output when all succeed.
async fn try_join_all_ok() {
    let (tx, rx) = oneshot::channel::<u32>();
    zokio::spawn(async move { tx.send(2).unwrap() });
    let out: Result<(u32, u32, &str), String> = zokio::try_join!(
        async { Ok(1) },
        async { rx.await.map_err(|e| e.to_string()) },
        async { Ok("three") },
    );
    assert_eq!(out, Ok((1, 2, "three")));
}

/// The first error ends `try_join!` at once: the futures still pending are
/// dropped, not awaited, and none is polled after the error.
async fn try_join_short_circuits_on_the_first_error() {
    let pending_dropped = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let never = guarded_pending::<Result<u32, &str>>(&pending_dropped, move || {
        started_tx.send(()).unwrap();
    });
    let fails = async move {
        // Fails only once the other future has started.
        started_rx.await.unwrap();
        Err::<u32, _>("boom")
    };
    let out = zokio::try_join!(never, fails);
    assert_eq!(out, Err("boom"));
    assert!(pending_dropped.load(Ordering::SeqCst));

    // An `Ok` result that was already produced is discarded along with the
    // rest; a later future is never polled after the error.
    let polled_after = Arc::new(AtomicUsize::new(0));
    let counter = polled_after.clone();
    let out: Result<(u32, (), u32), &str> = zokio::try_join!(
        biased;
        async { Ok(1) },
        async { Err("first") },
        poll_fn(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(Ok(3))
        }),
    );
    assert_eq!(out, Err("first"));
    assert_eq!(polled_after.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// Instantiation
// ---------------------------------------------------------------------------

/// Instantiates every test as module `$module` on the runtime configured
/// by the `runtime!` keys in braces.
macro_rules! macro_suite {
    ($module:ident { $($config:tt)* }) => {
        macro_suite!(@tests $module { $($config)* }
            select_drops_the_losing_branch,
            select_cancels_owned_work_but_not_detached_tasks,
            select_is_fair_between_ready_branches,
            select_biased_polls_in_order,
            select_precondition_disables_a_branch,
            select_else_when_all_branches_are_disabled,
            select_without_else_panics_when_all_disabled,
            select_loop_over_channels_fed_by_tasks,
            pin_keeps_a_future_across_select_iterations,
            join_runs_futures_concurrently,
            join_polls_all_unfinished_and_rotates,
            join_biased_polls_in_order,
            try_join_all_ok,
            try_join_short_circuits_on_the_first_error,
        );
    };
    (@tests $module:ident { $($config:tt)* } $($name:ident,)*) => {
        mod $module {
            zokio::runtime! { Rt { $($config)* } }

            /// Runs `body` as a task (so that the macros run on a zokio
            /// task, not only in `block_on`) under the body timeout.
            fn run<Fut>(body: fn() -> Fut)
            where
                Fut: std::future::Future<Output = ()> + Send + 'static,
            {
                Rt::block_on(async move {
                    let task = zokio::spawn(body());
                    match zokio::time::timeout(super::BODY_TIMEOUT, task).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Ok(Err(e)) => panic!("the test task failed: {e}"),
                        Err(_) => panic!(
                            "the test body did not finish within {:?}",
                            super::BODY_TIMEOUT
                        ),
                    }
                });
            }

            $(
                #[test]
                fn $name() {
                    run(super::$name);
                }
            )*
        }
    };
}

macro_suite!(current_thread { flavor = "current_thread" });
macro_suite!(multi_thread { flavor = "multi_thread", workers = 2 });
