//! `zokio::task_local!`: a value set by `scope` is seen by every poll of
//! that future, on whichever worker it runs, and by nothing else (other
//! tasks on the same workers, code outside the scope); scopes nest; the
//! value is in place while the scoped future is dropped and is taken back
//! out when a poll panics. Also `task::unconstrained`.

use std::panic::{AssertUnwindSafe, catch_unwind};

mod support;
use support::*;

zokio::task_local! {
    static ID: u32;
    static NAME: String;
}

zokio::runtime! { Mt { flavor = "multi_thread", workers = 2, backend = "auto" } }

#[test]
fn each_task_sees_its_own_value_across_polls_and_workers() {
    run_on::<Mt, _, _>(|| async {
        let tasks: Vec<_> = (0..64u32)
            .map(|i| {
                zokio::spawn(ID.scope(i, async move {
                    for _ in 0..50 {
                        // Other tasks run (and set their own values)
                        // between these polls, perhaps on another worker.
                        zokio::task::yield_now().await;
                        assert_eq!(ID.get(), i);
                    }
                    ID.get()
                }))
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), i as u32);
        }
        assert!(ID.try_with(|_| ()).is_err(), "set outside every scope");
    });
}

#[test]
fn scopes_nest_and_sync_scope_sets_a_value_for_a_call() {
    run_on::<Mt, _, _>(|| async {
        NAME.scope("outer".to_string(), async {
            assert_eq!(NAME.get(), "outer");
            NAME.scope("inner".to_string(), async {
                zokio::task::yield_now().await;
                assert_eq!(NAME.get(), "inner");
            })
            .await;
            assert_eq!(NAME.get(), "outer", "the outer value is back");
            let len = NAME.sync_scope("sync".to_string(), || NAME.with(|n| n.len()));
            assert_eq!(len, 4);
            assert_eq!(NAME.get(), "outer");
        })
        .await;
    });
}

/// Reads the key when dropped.
struct ReadsOnDrop(std::sync::Arc<std::sync::Mutex<Option<u32>>>);

impl Drop for ReadsOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = ID.try_with(|id| *id).ok();
    }
}

#[test]
fn the_value_is_set_while_the_scoped_future_drops_and_unset_after_a_panic() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let guard = ReadsOnDrop(seen.clone());
    let future = ID.scope(9, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    drop(future);
    assert_eq!(*seen.lock().unwrap(), Some(9));

    let mut panicking = Box::pin(ID.scope(5, async {
        panic!("inside the scope");
    }));
    let polled = catch_unwind(AssertUnwindSafe(|| {
        let waker = std::task::Waker::noop();
        let _ = panicking
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
    }));
    assert!(polled.is_err());
    assert!(
        ID.try_with(|_| ()).is_err(),
        "the value stayed set after the panic"
    );
    let e = catch_unwind(|| ID.with(|id| *id)).unwrap_err();
    let message = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("not set"), "{message}");
}

zokio::runtime! { Budget4 { flavor = "current_thread", scheduler(budget = 4), backend = "auto" } }

/// Counts the polls of the future it wraps.
struct CountPolls<F> {
    future: std::pin::Pin<Box<F>>,
    polls: usize,
}

impl<F: std::future::Future> std::future::Future for CountPolls<F> {
    type Output = usize;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<usize> {
        self.polls += 1;
        match self.future.as_mut().poll(cx) {
            std::task::Poll::Ready(_) => std::task::Poll::Ready(self.polls),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

/// `unconstrained`: 100 budget units in one poll, where the same loop in a
/// budget of 4 yields about every fourth unit.
#[test]
fn unconstrained_futures_do_not_spend_the_budget() {
    let spend = || async {
        for _ in 0..100 {
            zokio::task::consume_budget().await;
        }
    };
    run_on::<Budget4, _, _>(move || async move {
        let constrained = zokio::spawn(CountPolls {
            future: Box::pin(spend()),
            polls: 0,
        });
        let free = zokio::spawn(CountPolls {
            future: Box::pin(zokio::task::unconstrained(spend())),
            polls: 0,
        });
        let constrained = constrained.await.unwrap();
        assert!(
            constrained >= 25,
            "a budget of 4 let 100 units through in {constrained} polls"
        );
        assert_eq!(free.await.unwrap(), 1, "unconstrained, it still yielded");
    });
}
