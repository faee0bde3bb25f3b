//! [`Timeout`]: a future with a deadline.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::Elapsed;
use super::{Duration, Instant, Sleep, deadline_after, sleep_until};

/// Requires `future` to complete within `duration`.
///
/// Resolves to `Ok` with the future's output if it completes first, or to
/// `Err(Elapsed)` once `duration` has passed (and the future is dropped with
/// the `Timeout`). The future is polled before the deadline is checked, so a
/// future that is ready when the deadline passes still wins, and
/// `timeout(Duration::ZERO, ready_future)` is `Ok`. The deadline check does
/// not spend the task's cooperative budget, so a future that spends all of
/// it still times out.
///
/// A duration too large to represent never times out (in practice).
///
/// # Panics
///
/// Panics when called outside a zokio runtime.
///
/// ```
/// use std::future::pending;
/// use zokio::time::{Duration, timeout};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let ok = timeout(Duration::from_millis(10), async { 7 }).await;
///     assert_eq!(ok, Ok(7));
///     let late = timeout(Duration::from_millis(10), pending::<()>()).await;
///     assert!(late.is_err());
/// });
/// ```
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    timeout_at(deadline_after(duration), future)
}

/// Requires `future` to complete before `deadline`. See [`timeout`].
///
/// # Panics
///
/// Panics when called outside a zokio runtime.
///
/// ```
/// use std::future::pending;
/// use zokio::time::{Duration, Instant, timeout_at};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     let err = timeout_at(deadline, pending::<()>()).await.unwrap_err();
///     assert!(Instant::now() >= deadline);
///     assert_eq!(err.to_string(), "deadline has elapsed");
/// });
/// ```
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new_with(future.into_future(), sleep_until(deadline))
}

/// Future returned by [`timeout`] and [`timeout_at`].
///
/// ```
/// use zokio::time::{Duration, timeout};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let guarded: zokio::time::Timeout<_> = timeout(Duration::from_millis(10), async { "done" });
///     assert_eq!(guarded.await, Ok("done"));
/// });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct Timeout<F> {
    /// Structurally pinned: see `poll`.
    value: F,
    delay: Sleep,
}

impl<F> Timeout<F> {
    pub(crate) fn new_with(value: F, delay: Sleep) -> Self {
        Timeout { value, delay }
    }

    /// The wrapped future.
    ///
    /// ```
    /// use zokio::time::{Duration, timeout};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let guarded = timeout(Duration::from_millis(10), std::future::ready(3));
    ///     let _inner: &std::future::Ready<i32> = guarded.get_ref();
    /// });
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.value
    }

    /// The wrapped future, mutably. Only reachable while the `Timeout` is not
    /// pinned (or `F` is `Unpin`).
    ///
    /// ```
    /// use zokio::time::{Duration, timeout};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut guarded = timeout(Duration::from_millis(10), std::future::ready(3));
    ///     let _inner: &mut std::future::Ready<i32> = guarded.get_mut();
    /// });
    /// ```
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.value
    }

    /// Unwraps the future, dropping the deadline.
    ///
    /// ```
    /// use zokio::time::{Duration, timeout};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let guarded = timeout(Duration::from_millis(1), async { 5 });
    ///     assert_eq!(guarded.into_inner().await, 5);
    /// });
    /// ```
    pub fn into_inner(self) -> F {
        self.value
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `value` is structurally pinned and `delay` is not: nothing
        // moves `value` out of a pinned `Timeout` (`get_mut` and `into_inner`
        // need an unpinned `Timeout`, i.e. `&mut Self`/`Self`, which a pinned
        // one only gives out when `F: Unpin`), `Timeout` has no `Drop` impl,
        // and it is `Unpin` only when `F` is (`Sleep` is `Unpin`). So `value`
        // is only ever reached through the `Pin` below, and `delay` may be
        // used by plain `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `value` stays where it is until it is dropped.
        let value = unsafe { Pin::new_unchecked(&mut this.value) };
        if let Poll::Ready(output) = value.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        // Not budgeted: if `value` spent the task's budget, the deadline must
        // still be noticed.
        match this.delay.poll_deadline(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::driver::TimeDriver;
    use std::future::{pending, ready};
    use std::sync::Arc;
    use std::task::Waker;

    const MS: Duration = Duration::from_millis(1);

    fn poll<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
    }

    fn setup() -> (Arc<TimeDriver>, Instant) {
        let driver = Arc::new(TimeDriver::new(MS, Arc::new(|| {})));
        let base = driver.origin() + Duration::from_secs(3_600);
        (driver, base)
    }

    #[test]
    fn a_ready_future_wins_even_after_the_deadline() {
        let (driver, _) = setup();
        let past = Instant::now();
        let mut t = Timeout::new_with(ready(1), Sleep::new_with(driver.clone(), past));
        assert_eq!(poll(&mut t), Poll::Ready(Ok(1)));
        assert_eq!(driver.live_entries(), 0, "the delay was never registered");
    }

    #[test]
    fn a_pending_future_times_out_when_the_deadline_is_processed() {
        let (driver, base) = setup();
        let mut t = Timeout::new_with(pending::<()>(), Sleep::new_with(driver.clone(), base + MS));
        assert!(poll(&mut t).is_pending());
        assert_eq!(driver.live_entries(), 1);
        driver.process(base);
        assert!(poll(&mut t).is_pending());
        driver.process(base + MS);
        assert_eq!(poll(&mut t), Poll::Ready(Err(Elapsed::new())));
    }

    #[test]
    fn the_deadline_is_noticed_with_the_budget_spent() {
        let (driver, _) = setup();
        let past = Instant::now();
        let mut t = Timeout::new_with(pending::<()>(), Sleep::new_with(driver, past));
        crate::task::coop::with_budget(0, || {
            assert_eq!(poll(&mut t), Poll::Ready(Err(Elapsed::new())));
        });
    }

    #[test]
    fn dropping_a_timeout_cancels_its_delay() {
        let (driver, base) = setup();
        let mut t = Timeout::new_with(pending::<()>(), Sleep::new_with(driver.clone(), base + MS));
        assert!(poll(&mut t).is_pending());
        drop(t);
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    fn a_not_unpin_future_is_polled_in_place() {
        let (driver, base) = setup();
        let inner = async {
            let local = 5;
            let r = &local;
            std::future::ready(()).await;
            *r
        };
        let t = Timeout::new_with(inner, Sleep::new_with(driver, base + MS));
        let mut t = Box::pin(t);
        let out = t.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert_eq!(out, Poll::Ready(Ok(5)));
    }
}
