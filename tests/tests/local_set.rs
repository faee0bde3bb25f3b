//! `task::LocalSet` and `task::spawn_local`: futures that are not `Send`
//! run on the thread that drives the set, woken from any thread; their
//! outputs need not be `Send`; awaiting the set waits for all of them;
//! dropping it cancels the rest on its own thread; an abort from another
//! thread cancels; `spawn_local` outside a set panics and says why. Each
//! test runs on a `current_thread` and a `multi_thread` runtime.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

mod support;
use support::*;

use zokio::sync::oneshot;
use zokio::task::{self, LocalSet};

/// Records, when dropped, the thread it was dropped on.
struct DropsOn(Arc<Mutex<Option<ThreadId>>>);

impl Drop for DropsOn {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(thread::current().id());
    }
}

macro_rules! local_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn not_send_tasks_share_state_and_return_not_send_outputs() {
                run_on::<Rt, _, _>(|| super::not_send_tasks_share_state_and_return_not_send_outputs());
            }

            #[test]
            fn a_local_task_woken_from_another_thread_runs_on_the_sets_thread() {
                run_on::<Rt, _, _>(|| super::a_local_task_woken_from_another_thread_runs_on_the_sets_thread());
            }

            #[test]
            fn awaiting_the_set_waits_for_every_task() {
                run_on::<Rt, _, _>(|| super::awaiting_the_set_waits_for_every_task());
            }

            #[test]
            fn dropping_the_set_cancels_its_tasks_on_its_thread() {
                run_on::<Rt, _, _>(|| super::dropping_the_set_cancels_its_tasks_on_its_thread());
            }

            #[test]
            fn an_abort_from_another_thread_cancels_a_local_task() {
                run_on::<Rt, _, _>(|| super::an_abort_from_another_thread_cancels_a_local_task());
            }

            #[test]
            fn join_set_spawns_local_tasks() {
                run_on::<Rt, _, _>(|| super::join_set_spawns_local_tasks());
            }

            #[test]
            fn more_tasks_than_one_tick_all_run() {
                run_on::<Rt, _, _>(|| super::more_tasks_than_one_tick_all_run());
            }

            #[test]
            fn a_task_spawned_while_the_set_is_dropped_is_cancelled() {
                run_on::<Rt, _, _>(|| super::a_task_spawned_while_the_set_is_dropped_is_cancelled());
            }

            #[test]
            fn a_panicking_local_task_reports_the_panic() {
                run_on::<Rt, _, _>(|| super::a_panicking_local_task_reports_the_panic());
            }

            /// `enter` lets `spawn_local` spawn before the set runs;
            /// `block_on` drives it on a runtime, and a local task woken by
            /// the runtime's timer completes.
            #[test]
            fn block_on_and_enter() {
                guarded(false, |stage| {
                    stage.set("block_on");
                    let rt = Rt::build().expect("building the runtime");
                    let local = LocalSet::new();
                    let early = {
                        let _guard = local.enter();
                        task::spawn_local(async { Rc::new(5) })
                    };
                    let got = local.block_on(&rt, async move {
                        let early = *early.await.unwrap();
                        let timer = task::spawn_local(async {
                            zokio::time::sleep(std::time::Duration::from_millis(1)).await;
                            Rc::new(37)
                        });
                        early + *timer.await.unwrap()
                    });
                    assert_eq!(got, 42);
                });
            }
        }
    };
}

local_suite!(current_thread, flavor = "current_thread", backend = "auto");
local_suite!(
    multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "auto"
);

/// Forty local tasks push into one `Rc<RefCell<Vec>>`, yielding between
/// pushes; each returns an `Rc` (not `Send`) through its `JoinHandle`.
async fn not_send_tasks_share_state_and_return_not_send_outputs() {
    let local = LocalSet::new();
    local
        .run_until(async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let handles: Vec<_> = (0..40)
                .map(|i| {
                    let log = log.clone();
                    task::spawn_local(async move {
                        for step in 0..5 {
                            log.borrow_mut().push((i, step));
                            task::yield_now().await;
                        }
                        Rc::new(i * 2)
                    })
                })
                .collect();
            for (i, handle) in handles.into_iter().enumerate() {
                assert_eq!(*handle.await.unwrap(), i * 2);
            }
            let mut log = log.borrow().clone();
            assert_eq!(log.len(), 200);
            log.sort_unstable();
            let expected: Vec<_> = (0..40).flat_map(|i| (0..5).map(move |s| (i, s))).collect();
            assert_eq!(log, expected);
        })
        .await;
}

/// A local task waits on a oneshot whose sender fires from a plain thread;
/// the task is woken and runs to completion on the thread driving the set.
async fn a_local_task_woken_from_another_thread_runs_on_the_sets_thread() {
    let local = LocalSet::new();
    let here = thread::current().id();
    local
        .run_until(async move {
            let (tx, rx) = oneshot::channel::<u32>();
            let ran_on = Rc::new(RefCell::new(None));
            let waiter = task::spawn_local({
                let ran_on = ran_on.clone();
                async move {
                    let v = rx.await.unwrap();
                    *ran_on.borrow_mut() = Some(thread::current().id());
                    v
                }
            });
            let sender = thread::spawn(move || tx.send(7).unwrap());
            assert_eq!(waiter.await.unwrap(), 7);
            sender.join().unwrap();
            assert_eq!(*ran_on.borrow(), Some(here));
        })
        .await;
}

/// Tasks spawned onto a set with `LocalSet::spawn_local` (no context
/// needed) run when the set is awaited, which completes once all have;
/// tasks they spawn with the free `spawn_local` are waited for too.
async fn awaiting_the_set_waits_for_every_task() {
    let local = LocalSet::new();
    let done = Rc::new(RefCell::new(0));
    for _ in 0..3 {
        let done = done.clone();
        local.spawn_local(async move {
            task::yield_now().await;
            let inner = done.clone();
            task::spawn_local(async move {
                task::yield_now().await;
                *inner.borrow_mut() += 10;
            });
            *done.borrow_mut() += 1;
        });
    }
    assert_eq!(*done.borrow(), 0, "nothing runs before the set is driven");
    local.await;
    assert_eq!(*done.borrow(), 33);
}

/// A local task that never completes is cancelled when the set is dropped:
/// its future is dropped then, on the set's thread, and its handle reports
/// the cancellation.
async fn dropping_the_set_cancels_its_tasks_on_its_thread() {
    let dropped_on = Arc::new(Mutex::new(None));
    let local = LocalSet::new();
    let started = Rc::new(RefCell::new(false));
    let handle = {
        let guard = DropsOn(dropped_on.clone());
        let started = started.clone();
        local.spawn_local(async move {
            let _guard = guard;
            *started.borrow_mut() = true;
            std::future::pending::<()>().await;
        })
    };
    local.run_until(task::yield_now()).await;
    assert!(*started.borrow(), "the task ran once");
    assert!(dropped_on.lock().unwrap().is_none());
    drop(local);
    assert_eq!(*dropped_on.lock().unwrap(), Some(thread::current().id()));
    assert!(handle.await.unwrap_err().is_cancelled());
}

/// `AbortHandle::abort` from a plain thread cancels a pending local task;
/// its future is dropped on the set's thread.
async fn an_abort_from_another_thread_cancels_a_local_task() {
    let dropped_on = Arc::new(Mutex::new(None));
    let local = LocalSet::new();
    let here = thread::current().id();
    let guard = DropsOn(dropped_on.clone());
    local
        .run_until(async move {
            let handle = task::spawn_local(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            task::yield_now().await;
            let abort = handle.abort_handle();
            thread::spawn(move || abort.abort()).join().unwrap();
            assert!(handle.await.unwrap_err().is_cancelled());
        })
        .await;
    assert_eq!(*dropped_on.lock().unwrap(), Some(here));
}

/// A panic in a local task is caught and reported by its handle; the set
/// and its other tasks go on. `spawn_local` outside a set panics with a
/// message that says what to do.
async fn a_panicking_local_task_reports_the_panic() {
    let local = LocalSet::new();
    local
        .run_until(async {
            let bad = task::spawn_local(async {
                panic!("local boom");
            });
            let good = task::spawn_local(async { 1 });
            let err = bad.await.unwrap_err();
            assert!(err.is_panic());
            assert!(err.to_string().contains("local boom"), "{err}");
            assert_eq!(good.await.unwrap(), 1);
        })
        .await;
    let outside = catch_unwind(AssertUnwindSafe(|| task::spawn_local(async {})));
    let message = outside.expect_err("spawn_local outside a set must panic");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| message.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    // tokio's words, so an `expected` written for tokio matches.
    assert!(
        message.contains("called from outside of a `task::LocalSet`"),
        "{message}"
    );
}

/// 500 tasks (more than one poll of the set runs, 61) spawned before the set
/// is driven: awaiting the set runs every one, though nothing else wakes
/// it; so does `run_until` waiting for the last task only.
async fn more_tasks_than_one_tick_all_run() {
    let local = LocalSet::new();
    let done = Rc::new(RefCell::new(0));
    for _ in 0..500 {
        let done = done.clone();
        local.spawn_local(async move { *done.borrow_mut() += 1 });
    }
    local.await;
    assert_eq!(*done.borrow(), 500);

    let local = LocalSet::new();
    let mut last = None;
    for i in 0..500 {
        let done = done.clone();
        last = Some(local.spawn_local(async move {
            *done.borrow_mut() += 1;
            i
        }));
    }
    let last = last.unwrap();
    assert_eq!(local.run_until(last).await.unwrap(), 499);
    assert_eq!(*done.borrow(), 1000, "the queue runs in spawn order");
}

/// A task's destructor that calls `spawn_local` while the set is being
/// dropped gets a handle to a task cancelled at once (the set is closed);
/// its future is dropped there and then.
async fn a_task_spawned_while_the_set_is_dropped_is_cancelled() {
    struct SpawnsOnDrop(Rc<RefCell<Option<task::JoinHandle<()>>>>, DropsOn);
    impl Drop for SpawnsOnDrop {
        fn drop(&mut self) {
            let late = DropsOn(self.1.0.clone());
            *self.0.borrow_mut() = Some(task::spawn_local(async move {
                let _late = late;
            }));
        }
    }
    let late_handle = Rc::new(RefCell::new(None));
    let late_dropped = Arc::new(Mutex::new(None));
    let local = LocalSet::new();
    let spawner = SpawnsOnDrop(late_handle.clone(), DropsOn(late_dropped.clone()));
    local.spawn_local(async move {
        let _spawner = spawner;
        std::future::pending::<()>().await;
    });
    local.run_until(task::yield_now()).await;
    drop(local);
    let handle = late_handle
        .borrow_mut()
        .take()
        .expect("the destructor spawned");
    assert!(handle.await.unwrap_err().is_cancelled());
    assert_eq!(*late_dropped.lock().unwrap(), Some(thread::current().id()));
}

/// A set kept in a `thread_local!` is dropped while the thread's locals are
/// destroyed: it cancels its tasks there without touching the (possibly
/// gone) current-set local, instead of aborting the process.
#[test]
fn a_set_in_a_thread_local_is_dropped_at_thread_exit() {
    thread_local! {
        static SET: LocalSet = LocalSet::new();
    }
    let dropped_on = Arc::new(Mutex::new(None));
    let flag = dropped_on.clone();
    let thread = thread::spawn(move || {
        SET.with(|set| {
            let guard = DropsOn(flag);
            set.spawn_local(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            // The current-set local is first used after `SET`, so it is
            // destroyed before `SET` is.
            drop(set.enter());
        });
        thread::current().id()
    });
    let id = thread.join().expect("the thread exits cleanly");
    assert_eq!(*dropped_on.lock().unwrap(), Some(id));
}

/// `JoinSet::spawn_local` (inside a set) and `spawn_local_on` (onto a set
/// given) hold local tasks with `!Send` outputs; `join_next` returns each.
async fn join_set_spawns_local_tasks() {
    let local = LocalSet::new();
    let mut joins = zokio::task::JoinSet::new();
    for i in 0..3 {
        joins.spawn_local_on(async move { Rc::new(i) }, &local);
    }
    local
        .run_until(async move {
            for i in 3..6 {
                joins.spawn_local(async move {
                    task::yield_now().await;
                    Rc::new(i)
                });
            }
            let mut got = Vec::new();
            while let Some(result) = joins.join_next().await {
                got.push(*result.unwrap());
            }
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        })
        .await;
}
