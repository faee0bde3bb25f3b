//! Behaviour every flavor must share: spawn/join, panics, aborts, shutdown,
//! the current-runtime handle. The same suite runs on both flavors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Asserts that a panic payload is the refusal of a nested `block_on`.
fn assert_refused_block_on(payload: &(dyn std::any::Any + Send)) {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(
        text.contains("cannot block on a future from inside a zokio runtime"),
        "{text}"
    );
}

/// Counts its drops, to prove shutdown drops every task exactly once.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

macro_rules! flavor_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;
            use std::future::pending;
            use zokio::runtime::Handle;

            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn spawned_tasks_run_and_return_their_output() {
                let rt = Rt::build().unwrap();
                let sum = rt.block_on(async {
                    let handles: Vec<_> = (0..100u64).map(|i| zokio::spawn(async move { i })).collect();
                    let mut sum = 0;
                    for h in handles {
                        sum += h.await.unwrap();
                    }
                    sum
                });
                assert_eq!(sum, 4950);
            }

            #[test]
            fn a_hundred_thousand_tasks_spawned_inside_all_complete() {
                let rt = Rt::build().unwrap();
                let done = Arc::new(AtomicUsize::new(0));
                let d = done.clone();
                rt.block_on(async move {
                    let handles: Vec<_> = (0..100_000)
                        .map(|_| {
                            let d = d.clone();
                            zokio::spawn(async move {
                                d.fetch_add(1, Ordering::Relaxed);
                            })
                        })
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                });
                assert_eq!(done.load(Ordering::Relaxed), 100_000);
            }

            #[test]
            fn tasks_spawned_from_tasks_spawned_from_tasks_complete() {
                let rt = Rt::build().unwrap();
                let leaves = rt.block_on(async {
                    let mut outer = Vec::new();
                    for _ in 0..100 {
                        outer.push(zokio::spawn(async {
                            let inner: Vec<_> = (0..100).map(|i| zokio::spawn(async move { i % 2 })).collect();
                            let mut n = 0;
                            for h in inner {
                                n += h.await.unwrap();
                            }
                            n
                        }));
                    }
                    let mut total = 0;
                    for h in outer {
                        total += h.await.unwrap();
                    }
                    total
                });
                assert_eq!(leaves, 100 * 50);
            }

            #[test]
            fn join_set_joins_in_completion_order_and_aborts_on_drop() {
                let rt = Rt::build().unwrap();
                let drops = Arc::new(AtomicUsize::new(0));
                let d = drops.clone();
                let sum = rt.block_on(async move {
                    let mut set = zokio::task::JoinSet::new();
                    for i in 0..10u32 {
                        set.spawn(async move { i });
                    }
                    assert_eq!(set.len(), 10);
                    let mut sum = 0;
                    while let Some(r) = set.join_next().await {
                        sum += r.unwrap();
                    }
                    assert!(set.is_empty());
                    let mut pending_set = zokio::task::JoinSet::new();
                    for _ in 0..5 {
                        let guard = DropCounter(d.clone());
                        pending_set.spawn(async move {
                            let _guard = guard;
                            pending::<()>().await;
                        });
                    }
                    let mut abort_set = zokio::task::JoinSet::<()>::new();
                    abort_set.spawn(pending());
                    abort_set.abort_all();
                    assert!(abort_set.join_next().await.unwrap().unwrap_err().is_cancelled());
                    drop(pending_set);
                    sum
                });
                assert_eq!(sum, 45);
                // Dropping the set aborted its tasks; the runtime ran the aborts
                // or shutdown cancelled them: each guard dropped once.
                drop(rt);
                assert_eq!(drops.load(Ordering::SeqCst), 5);
            }

            #[test]
            fn abort_handle_cancels_and_reports_finish() {
                let rt = Rt::build().unwrap();
                let (err, finished) = rt.block_on(async {
                    let h = zokio::spawn(pending::<()>());
                    let abort = h.abort_handle();
                    let second = abort.clone();
                    assert_eq!(abort.id(), h.id());
                    second.abort();
                    let err = h.await.unwrap_err();
                    (err, abort.is_finished())
                });
                assert!(err.is_cancelled());
                assert!(finished);
            }

            #[test]
            fn many_tasks_from_outside_the_runtime_complete() {
                let rt = Rt::build().unwrap();
                let done = Arc::new(AtomicUsize::new(0));
                let handles: Vec<_> = (0..100_000)
                    .map(|_| {
                        let done = done.clone();
                        rt.spawn(async move {
                            done.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                    .collect();
                rt.block_on(async {
                    for h in handles {
                        h.await.unwrap();
                    }
                });
                assert_eq!(done.load(Ordering::Relaxed), 100_000);
            }

            #[test]
            fn a_panicking_task_reports_through_its_handle_and_the_runtime_survives() {
                let rt = Rt::build().unwrap();
                let err = rt.block_on(async { zokio::spawn(async { panic!("boom") }).await.unwrap_err() });
                assert!(err.is_panic());
                assert!(!err.is_cancelled());
                assert_eq!(err.to_string(), format!("task {} panicked with message \"boom\"", err.id()));
                let payload = err.into_panic();
                assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
                // The runtime still runs tasks afterwards.
                assert_eq!(rt.block_on(async { zokio::spawn(async { 1 }).await.unwrap() }), 1);
            }

            #[test]
            fn abort_cancels_a_pending_task_and_drops_its_future() {
                let rt = Rt::build().unwrap();
                let drops = Arc::new(AtomicUsize::new(0));
                let guard = DropCounter(drops.clone());
                let err = rt.block_on(async move {
                    let h = zokio::spawn(async move {
                        let _guard = guard;
                        pending::<()>().await;
                    });
                    h.abort();
                    h.await.unwrap_err()
                });
                assert!(err.is_cancelled());
                assert_eq!(drops.load(Ordering::SeqCst), 1);
            }

            #[test]
            fn abort_after_completion_keeps_the_output() {
                let rt = Rt::build().unwrap();
                let out = rt.block_on(async {
                    let h = zokio::spawn(async { 5 });
                    while !h.is_finished() {
                        zokio::spawn(async {}).await.unwrap();
                    }
                    h.abort();
                    h.await
                });
                assert_eq!(out.unwrap(), 5);
            }

            #[test]
            fn dropping_the_runtime_drops_every_unfinished_task_once() {
                let drops = Arc::new(AtomicUsize::new(0));
                let rt = Rt::build().unwrap();
                let mut handles = Vec::new();
                for _ in 0..50 {
                    let guard = DropCounter(drops.clone());
                    handles.push(rt.spawn(async move {
                        let _guard = guard;
                        pending::<()>().await;
                    }));
                }
                // Some of them get polled before shutdown, some never do.
                rt.block_on(async { zokio::spawn(async {}).await.unwrap() });
                drop(rt);
                assert_eq!(drops.load(Ordering::SeqCst), 50);
                for h in handles {
                    assert!(h.is_finished());
                }
            }

            #[test]
            fn handle_is_current_inside_and_absent_outside() {
                assert!(Handle::try_current().is_err());
                let rt = Rt::build().unwrap();
                let inside = rt.block_on(async {
                    zokio::spawn(async { Handle::try_current().is_ok() }).await.unwrap()
                });
                assert!(inside);
                assert!(Handle::try_current().is_err());
            }

            #[test]
            fn handle_spawns_from_another_thread() {
                let rt = Rt::build().unwrap();
                let handle = rt.handle();
                let out = rt.block_on(async move {
                    let join = std::thread::spawn(move || handle.spawn(async { 7 }));
                    let task = join.join().unwrap();
                    task.await.unwrap()
                });
                assert_eq!(out, 7);
            }

            #[test]
            fn a_yielding_task_is_polled_again_and_completes() {
                let rt = Rt::build().unwrap();
                let out = rt.block_on(async {
                    zokio::spawn(async {
                        for _ in 0..100 {
                            zokio::task::yield_now().await;
                        }
                        7
                    })
                    .await
                    .unwrap()
                });
                assert_eq!(out, 7);
            }

            #[test]
            fn nested_block_on_is_refused_with_advice() {
                let rt = Rt::build().unwrap();
                let rt2 = Rt::build().unwrap();
                let result = rt.block_on(async move {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt2.block_on(async {})))
                });
                let payload = result.unwrap_err();
                assert_refused_block_on(&*payload);
            }

            #[test]
            fn block_on_inside_a_task_is_refused() {
                let rt = Rt::build().unwrap();
                let err = rt.block_on(async {
                    zokio::spawn(async { Handle::current().block_on(async { 1 }) }).await.unwrap_err()
                });
                assert!(err.is_panic());
                let payload = err.into_panic();
                assert_refused_block_on(&*payload);
            }

            /// tokio's bridge from synchronous code: a blocking-pool thread is
            /// not driving the runtime, so it may block on a future.
            #[test]
            fn handle_block_on_works_from_spawn_blocking() {
                let rt = Rt::build().unwrap();
                let out = rt.block_on(async {
                    let handle = Handle::current();
                    zokio::task::spawn_blocking(move || {
                        handle.block_on(async {
                            let task = zokio::spawn(async { 40 });
                            zokio::task::yield_now().await;
                            task.await.unwrap() + 2
                        })
                    })
                    .await
                    .unwrap()
                });
                assert_eq!(out, 42);
            }

            #[test]
            fn enter_makes_the_runtime_current_until_the_guard_drops() {
                let rt = Rt::build().unwrap();
                assert!(Handle::try_current().is_err());
                let task = {
                    let _guard = rt.enter();
                    assert_eq!(Handle::current().runtime_flavor(), rt.handle().runtime_flavor());
                    // A thread in `enter` does not drive the runtime: it may block on it.
                    let four = Handle::current().block_on(async { 4 });
                    zokio::spawn(async move { four + 1 })
                };
                assert!(Handle::try_current().is_err(), "the guard restores the previous state");
                assert_eq!(rt.block_on(task).unwrap(), 5);
                let _outer = rt.handle().enter();
                {
                    let _inner = rt.enter();
                }
                assert!(Handle::try_current().is_ok(), "dropping the inner guard keeps the outer one");
            }
        }
    };
}

#[test]
fn runtime_flavor_names_the_flavor() {
    use zokio::runtime::RuntimeFlavor;
    zokio::runtime! { Ct { flavor = "current_thread" } }
    zokio::runtime! { Mt { flavor = "multi_thread", workers = 1 } }
    assert_eq!(
        Ct::build().unwrap().handle().runtime_flavor(),
        RuntimeFlavor::CurrentThread
    );
    assert_eq!(
        Mt::build().unwrap().handle().runtime_flavor(),
        RuntimeFlavor::MultiThread
    );
}

/// The panic for `spawn` outside a runtime names the caller's line, not a
/// line inside zokio (`#[track_caller]` all the way to the panic).
#[test]
fn spawn_outside_a_runtime_reports_the_callers_location() {
    use std::sync::Mutex;
    static SEEN: Mutex<Option<String>> = Mutex::new(None);
    const THREAD: &str = "spawn-location-probe";
    let previous = Arc::new(std::panic::take_hook());
    let forward = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(THREAD) {
            *SEEN.lock().unwrap() = info.location().map(|l| l.file().to_owned());
        } else {
            forward(info);
        }
    }));
    let outcome = std::thread::Builder::new()
        .name(THREAD.to_owned())
        .spawn(|| drop(zokio::spawn(async {})))
        .unwrap()
        .join();
    drop(std::panic::take_hook());
    std::panic::set_hook(Box::new(move |info| previous(info)));
    assert!(outcome.is_err(), "spawn outside a runtime must panic");
    let file = SEEN.lock().unwrap().take().expect("the hook saw the panic");
    assert!(
        file.ends_with("runtime_basics.rs"),
        "the panic points at {file}"
    );
}

flavor_suite!(current_thread, flavor = "current_thread");
flavor_suite!(multi_thread, flavor = "multi_thread", workers = 2);

#[test]
#[should_panic(expected = "there is no zokio runtime running on this thread")]
fn spawn_outside_a_runtime_panics_with_advice() {
    drop(zokio::spawn(async {}));
}

#[zokio::test]
async fn zokio_test_runs_on_current_thread() {
    let here = std::thread::current().id();
    let there = zokio::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_eq!(here, there);
}

#[zokio::test(flavor = "multi_thread", workers = 2)]
async fn zokio_test_can_use_workers() {
    let here = std::thread::current().id();
    let there = zokio::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_ne!(here, there);
}

#[test]
fn yield_now_lets_other_tasks_run_on_current_thread() {
    zokio::runtime! { Single { flavor = "current_thread" } }
    let flag = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = Single::block_on(async {
        let f = flag.clone();
        let setter = zokio::spawn(async move { f.store(1, Ordering::SeqCst) });
        // One thread runs everything: `setter` can only run if this task
        // yields. Bounded, so a broken yield fails instead of hanging.
        for _ in 0..10_000 {
            if flag.load(Ordering::SeqCst) == 1 {
                break;
            }
            zokio::task::yield_now().await;
        }
        let seen = flag.load(Ordering::SeqCst);
        setter.await.unwrap();
        seen
    });
    assert_eq!(seen, 1);
}

/// A task that always finds ready work cannot keep the only thread from the
/// other tasks for longer than its budget.
#[test]
fn a_task_that_never_waits_is_preempted_by_its_budget() {
    zokio::runtime! { Budgeted { flavor = "current_thread", scheduler(budget = 16) } }
    let rt = Budgeted::build().unwrap();
    let flag = Arc::new(AtomicUsize::new(0));
    let f = flag.clone();
    let iterations = rt.block_on(async move {
        let setter = flag.clone();
        let set = zokio::spawn(async move { setter.store(1, Ordering::SeqCst) });
        // Spawned last, the busy task takes the LIFO slot and runs first.
        let busy = zokio::spawn(async move {
            let mut n = 0usize;
            // Bounded, so a missing budget fails instead of spinning forever.
            while f.load(Ordering::SeqCst) == 0 && n < 1_000_000 {
                zokio::task::consume_budget().await;
                n += 1;
            }
            n
        });
        set.await.unwrap();
        busy.await.unwrap()
    });
    // The busy task ran first and was stopped after its 16 units; the
    // setter ran; the busy task's next poll finished the iteration it was
    // in (the 17th) and saw the flag.
    assert_eq!(iterations, 17);
}

/// JoinHandles spend budget too: awaiting many finished tasks in a row
/// still lets other tasks in after `budget` joins.
#[test]
fn awaiting_finished_handles_spends_budget() {
    zokio::runtime! { Budgeted2 { flavor = "current_thread", scheduler(budget = 8) } }
    let rt = Budgeted2::build().unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let o = order.clone();
    rt.block_on(async move {
        let handles: Vec<_> = (0..32).map(|_| zokio::spawn(async {})).collect();
        while !handles.iter().all(|h| h.is_finished()) {
            zokio::task::yield_now().await;
        }
        let o3 = o.clone();
        let other = zokio::spawn(async move { o3.lock().unwrap().push("other") });
        // Spawned last, the joiner runs first (it takes the LIFO slot).
        let o2 = o.clone();
        let joiner = zokio::spawn(async move {
            for h in handles {
                h.await.unwrap();
                o2.lock().unwrap().push("join");
            }
        });
        joiner.await.unwrap();
        other.await.unwrap();
    });
    let order = order.lock().unwrap();
    let other_at = order.iter().position(|s| *s == "other").unwrap();
    assert_eq!(other_at, 8, "{order:?}");
}

/// At shutdown a multi_thread runtime drops unfinished tasks on its worker
/// threads, with the runtime still current there.
#[test]
fn multi_thread_shutdown_drops_tasks_on_worker_threads() {
    zokio::runtime! { Pool { flavor = "multi_thread", workers = 2 } }
    struct RecordThread(Arc<std::sync::Mutex<Vec<(String, bool)>>>);
    impl Drop for RecordThread {
        fn drop(&mut self) {
            let name = std::thread::current().name().unwrap_or("?").to_owned();
            let in_runtime = zokio::runtime::Handle::try_current().is_ok();
            self.0.lock().unwrap().push((name, in_runtime));
        }
    }
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let rt = Pool::build().unwrap();
    let handles: Vec<_> = (0..40)
        .map(|_| {
            let guard = RecordThread(seen.clone());
            rt.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            })
        })
        .collect();
    // Give the workers time to poll some of them; polled (idle) or still
    // queued, the workers' shutdown sweep cancels them on their threads.
    rt.block_on(async {
        for _ in 0..1000 {
            zokio::task::yield_now().await;
        }
    });
    drop(rt);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 40, "every task dropped exactly once");
    for (name, in_runtime) in seen.iter() {
        assert!(name.starts_with("Pool-worker-"), "dropped on {name}");
        assert!(*in_runtime, "dropped outside the runtime context");
    }
    for h in handles {
        assert!(h.is_finished());
    }
}
