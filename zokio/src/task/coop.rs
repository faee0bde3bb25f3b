//! Cooperative scheduling budget.
//!
//! Each time the scheduler polls a task it grants `scheduler.budget` units.
//! Runtime resources (a `JoinHandle`, [`consume_budget`]; timers and sockets
//! as they land) spend one unit per ready poll; when the budget is spent they
//! return `Pending` and wake the task at once, so it goes to the back of the
//! run queue. A task that keeps finding ready work therefore cannot keep a
//! worker from its other tasks. Outside a scheduler poll there is no budget.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Context, Poll};

thread_local! {
    static BUDGET: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Runs `f` (one task poll) with `budget` units, restoring the previous
/// budget afterwards (polls can nest: `block_on` inside a blocking task).
pub(crate) fn with_budget<R>(budget: u32, f: impl FnOnce() -> R) -> R {
    let _restore = SetBudget::new(Some(budget));
    f()
}

/// Sets this thread's budget (`None`: unlimited) until dropped, then puts
/// the previous one back (also when the poll in between panics).
struct SetBudget(Option<u32>);

impl SetBudget {
    fn new(budget: Option<u32>) -> SetBudget {
        SetBudget(BUDGET.with(|b| b.replace(budget)))
    }
}

impl Drop for SetBudget {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set(self.0));
    }
}

/// Spends one unit, or (budget spent) wakes the task and returns `Pending`.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|b| match b.get() {
        Some(0) => {
            crate::metrics::budget_forced_yield();
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            b.set(Some(n - 1));
            Poll::Ready(())
        }
        None => Poll::Ready(()),
    })
}

/// Gives back the unit spent by a poll that turned out `Pending`.
pub(crate) fn refund() {
    BUDGET.with(|b| {
        if let Some(n) = b.get() {
            b.set(Some(n + 1));
        }
    });
}

/// Spends one unit of the task's budget, yielding first if it is spent.
///
/// Call it in a loop that does a lot of work without awaiting anything that
/// could be `Pending`, so the task still lets others run every
/// `scheduler.budget` iterations.
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread", scheduler(budget = 32) } }
///
/// Rt::block_on(async {
///     let mut sum = 0u64;
///     for i in 0..1_000u64 {
///         zokio::task::consume_budget().await;
///         sum += i;
///     }
///     assert_eq!(sum, 499_500);
/// });
/// ```
pub async fn consume_budget() {
    poll_fn(poll_proceed).await
}

/// Runs `future` outside the cooperative budget: runtime resources never
/// make it yield (tokio's `unconstrained`). Use it sparingly: a future that
/// keeps finding ready work then keeps its worker from every other task.
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread", scheduler(budget = 4) } }
///
/// Rt::block_on(async {
///     // 100 units in one poll: the budget of 4 does not apply.
///     zokio::task::unconstrained(async {
///         for _ in 0..100 {
///             zokio::task::consume_budget().await;
///         }
///     })
///     .await;
/// });
/// ```
pub fn unconstrained<F: std::future::Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

/// The future of [`unconstrained`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Unconstrained<F> {
    future: F,
}

impl<F: std::future::Future> std::future::Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _restore = SetBudget::new(None);
        // SAFETY: `future` is structurally pinned: `Unconstrained` never
        // moves it out (it has no other method and no `Drop`).
        let future = unsafe { self.map_unchecked_mut(|this| &mut this.future) };
        future.poll(cx)
    }
}
