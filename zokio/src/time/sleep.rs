//! [`Sleep`]: a future that completes at a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use super::driver::{ResetOutcome, TimeDriver};
use super::wheel::EntryKey;
use super::{Duration, Instant, current_driver, deadline_after};
use crate::task::coop;

/// Waits until `duration` has elapsed.
///
/// Equivalent to `sleep_until(Instant::now() + duration)`. The sleep
/// completes no earlier than `duration` after this call, at the first tick of
/// the runtime's timer (`timer.resolution`, 1 ms by default) at or after
/// that. Nothing happens until the returned [`Sleep`] is awaited; dropping it
/// cancels the timer.
///
/// A duration too large to represent sleeps for about 30 years.
///
/// # Panics
///
/// Panics when called outside a zokio runtime.
///
/// ```
/// use zokio::time::{Duration, Instant, sleep};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// let start = Instant::now();
/// Rt::block_on(async {
///     sleep(Duration::from_millis(10)).await;
/// });
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(deadline_after(duration))
}

/// Waits until `deadline` is reached.
///
/// A deadline in the past completes at once. See [`sleep`].
///
/// # Panics
///
/// Panics when called outside a zokio runtime.
///
/// ```
/// use zokio::time::{Duration, Instant, sleep_until};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// let deadline = Instant::now() + Duration::from_millis(10);
/// Rt::block_on(async move {
///     sleep_until(deadline).await;
/// });
/// assert!(Instant::now() >= deadline);
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new_with(current_driver(), deadline)
}

/// Future returned by [`sleep`] and [`sleep_until`].
///
/// It registers with the runtime's timer when first polled and unregisters
/// when dropped (in O(1)). `Sleep` is [`Unpin`], so it can be polled by
/// `&mut` reference without pinning, e.g. in a `select!` loop, and moved
/// after it has been polled.
///
/// ```
/// use zokio::time::{Duration, Instant, sleep};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let mut delay = sleep(Duration::from_millis(50));
///     // Changed our mind: wake up sooner.
///     delay.reset(Instant::now() + Duration::from_millis(5));
///     (&mut delay).await;
///     assert!(delay.is_elapsed());
/// });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    driver: Arc<TimeDriver>,
    deadline: Instant,
    registration: Registration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registration {
    /// Not polled since creation or the last reset.
    Unregistered,
    /// Waiting in the timer.
    Registered(EntryKey),
    /// Completed.
    Elapsed,
}

impl Sleep {
    /// A sleep on an explicit driver (the public constructors use the current
    /// runtime's).
    pub(crate) fn new_with(driver: Arc<TimeDriver>, deadline: Instant) -> Sleep {
        Sleep {
            driver,
            deadline,
            registration: Registration::Unregistered,
        }
    }

    /// Now on this sleep's runtime clock (not the current thread's: a
    /// sleep may be polled from another runtime or none).
    pub(crate) fn now(&self) -> Instant {
        self.driver.now()
    }

    /// The instant at which this sleep completes.
    ///
    /// ```
    /// use zokio::time::{Duration, Instant, sleep_until};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let deadline = Instant::now() + Duration::from_millis(5);
    ///     let delay = sleep_until(deadline);
    ///     assert_eq!(delay.deadline(), deadline);
    /// });
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached, that is, whether polling would
    /// complete at once.
    ///
    /// ```
    /// use zokio::time::{Duration, sleep};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut delay = sleep(Duration::from_millis(5));
    ///     assert!(!delay.is_elapsed());
    ///     (&mut delay).await;
    ///     assert!(delay.is_elapsed());
    /// });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        match self.registration {
            Registration::Elapsed => true,
            Registration::Registered(key) => !self.driver.is_registered(key),
            Registration::Unregistered => {
                self.deadline <= self.driver.now() || self.driver.is_due(self.deadline)
            }
        }
    }

    /// Changes the deadline, whether or not the sleep has completed: it
    /// completes again at `deadline`. A pending registration is moved in
    /// O(1); if `deadline` has already passed, the task waiting on this sleep
    /// is woken.
    ///
    /// `Sleep` is `Unpin`, so a pinned sleep resets through `as_mut()` as
    /// well: `sleep.as_mut().reset(deadline)`.
    ///
    /// ```
    /// use zokio::time::{Duration, Instant, sleep};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut delay = sleep(Duration::from_millis(1));
    ///     (&mut delay).await;
    ///     let again = Instant::now() + Duration::from_millis(5);
    ///     delay.reset(again);
    ///     assert!(!delay.is_elapsed());
    ///     delay.await;
    ///     assert!(Instant::now() >= again);
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.registration = match self.registration {
            Registration::Registered(key) => match self.driver.reset(key, deadline) {
                ResetOutcome::Moved => Registration::Registered(key),
                ResetOutcome::Elapsed => Registration::Elapsed,
                // It fired and its waker was woken; the next poll registers
                // the new deadline.
                ResetOutcome::NotRegistered => Registration::Unregistered,
            },
            Registration::Unregistered | Registration::Elapsed => Registration::Unregistered,
        };
    }
}

impl Sleep {
    /// `poll` without the cooperative budget: for [`Timeout`](super::Timeout),
    /// whose inner future may have spent the budget, which must not keep the
    /// deadline from being noticed.
    pub(crate) fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.registration {
            Registration::Elapsed => Poll::Ready(()),
            Registration::Unregistered => {
                // A deadline that has already passed needs no timer round trip.
                let key = if self.deadline <= self.driver.now() {
                    None
                } else {
                    self.driver.register(self.deadline, cx.waker())
                };
                match key {
                    Some(key) => {
                        self.registration = Registration::Registered(key);
                        Poll::Pending
                    }
                    None => {
                        self.registration = Registration::Elapsed;
                        Poll::Ready(())
                    }
                }
            }
            Registration::Registered(key) => {
                if self.driver.poll_registered(key, cx.waker()) {
                    Poll::Pending
                } else {
                    self.registration = Registration::Elapsed;
                    Poll::Ready(())
                }
            }
        }
    }
}

/// Completing spends one unit of the task's cooperative budget (see
/// `scheduler.budget`): with the budget spent, a due sleep yields first, so
/// a loop of short sleeps cannot keep a worker from its other tasks.
impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready!(coop::poll_proceed(cx));
        let polled = self.get_mut().poll_deadline(cx);
        if polled.is_pending() {
            coop::refund();
        }
        polled
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Registration::Registered(key) = self.registration {
            self.driver.cancel(key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    const MS: Duration = Duration::from_millis(1);
    /// Test deadlines sit an hour after the driver's origin, so the real clock
    /// never reaches them and only `process` decides.
    const HOUR: Duration = Duration::from_secs(3_600);

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Waker, Arc<CountWakes>) {
        let count = Arc::new(CountWakes(AtomicUsize::new(0)));
        (Waker::from(count.clone()), count)
    }

    fn driver() -> (Arc<TimeDriver>, Instant) {
        let driver = Arc::new(TimeDriver::new(MS, Arc::new(|| {})));
        let base = driver.origin() + HOUR;
        (driver, base)
    }

    fn poll(sleep: &mut Sleep, waker: &Waker) -> Poll<()> {
        Pin::new(sleep).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn sleep_is_unpin_send_and_sync() {
        fn assert_traits<T: Unpin + Send + Sync>() {}
        assert_traits::<Sleep>();
    }

    #[test]
    fn a_sleep_registers_on_first_poll_and_completes_when_processed() {
        let (driver, base) = driver();
        let (waker, wakes) = counting_waker();
        let mut sleep = Sleep::new_with(driver.clone(), base + 5 * MS);
        assert_eq!(driver.live_entries(), 0, "nothing until polled");
        assert!(poll(&mut sleep, &waker).is_pending());
        assert!(poll(&mut sleep, &waker).is_pending());
        assert_eq!(driver.live_entries(), 1);
        assert!(!sleep.is_elapsed());
        driver.process(base + 4 * MS);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        assert!(poll(&mut sleep, &waker).is_pending());
        driver.process(base + 5 * MS);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(sleep.is_elapsed());
        assert!(poll(&mut sleep, &waker).is_ready());
        assert!(poll(&mut sleep, &waker).is_ready(), "stays complete");
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    fn a_deadline_between_ticks_completes_on_the_tick_after_it() {
        let (driver, base) = driver();
        let (waker, wakes) = counting_waker();
        let mut sleep = Sleep::new_with(driver.clone(), base + Duration::from_micros(1_500));
        assert!(poll(&mut sleep, &waker).is_pending());
        assert!(driver.next_expiration().unwrap() <= base + 2 * MS);
        driver.process(base + Duration::from_micros(1_999));
        assert!(!sleep.is_elapsed());
        assert!(poll(&mut sleep, &waker).is_pending());
        driver.process(base + 2 * MS);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(poll(&mut sleep, &waker).is_ready());
    }

    #[test]
    fn a_due_sleep_yields_once_the_budget_is_spent() {
        let (driver, _) = driver();
        let (waker, wakes) = counting_waker();
        let mut sleep = Sleep::new_with(driver, Instant::now());
        coop::with_budget(0, || assert!(poll(&mut sleep, &waker).is_pending()));
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "woken to run again");
        coop::with_budget(1, || assert!(poll(&mut sleep, &waker).is_ready()));
    }

    #[test]
    fn a_pending_sleep_does_not_spend_the_budget() {
        let (driver, base) = driver();
        let (waker, _) = counting_waker();
        let mut pending = Sleep::new_with(driver.clone(), base + MS);
        let mut due = Sleep::new_with(driver, Instant::now());
        coop::with_budget(1, || {
            assert!(poll(&mut pending, &waker).is_pending());
            assert!(poll(&mut due, &waker).is_ready());
        });
    }

    #[test]
    fn a_past_deadline_completes_without_registering() {
        let (driver, _) = driver();
        let (waker, _) = counting_waker();
        let mut sleep = Sleep::new_with(driver.clone(), Instant::now());
        assert!(poll(&mut sleep, &waker).is_ready());
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    fn dropping_a_registered_sleep_cancels_it() {
        let (driver, base) = driver();
        let (waker, wakes) = counting_waker();
        let mut sleep = Sleep::new_with(driver.clone(), base + MS);
        assert!(poll(&mut sleep, &waker).is_pending());
        drop(sleep);
        assert_eq!(driver.live_entries(), 0);
        assert_eq!(driver.process(base + MS), 0);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_million_dropped_sleeps_leave_no_registration() {
        let (driver, base) = driver();
        let waker = Waker::noop();
        // One after another...
        for i in 0..1_000_000u32 {
            let mut sleep = Sleep::new_with(driver.clone(), base + i % 10_000 * MS);
            assert!(poll(&mut sleep, waker).is_pending());
        }
        assert_eq!(driver.live_entries(), 0);
        // ...and all pending at once.
        let mut sleeps: Vec<Sleep> = (0..1_000_000u32)
            .map(|i| {
                let offset = Duration::from_millis(u64::from(i) * 7_919 % 3_600_000);
                Sleep::new_with(driver.clone(), base + offset)
            })
            .collect();
        for sleep in &mut sleeps {
            assert!(poll(sleep, waker).is_pending());
        }
        assert_eq!(driver.live_entries(), 1_000_000);
        drop(sleeps);
        assert_eq!(driver.live_entries(), 0);
        assert_eq!(driver.next_expiration(), None);
        assert_eq!(
            Arc::strong_count(&driver),
            1,
            "every sleep let go of the driver"
        );
    }

    #[test]
    fn reset_moves_a_pending_sleep() {
        let (driver, base) = driver();
        let (waker, wakes) = counting_waker();
        let mut sleep = Sleep::new_with(driver.clone(), base + 10 * MS);
        assert!(poll(&mut sleep, &waker).is_pending());
        sleep.reset(base + 20 * MS);
        assert_eq!(sleep.deadline(), base + 20 * MS);
        assert_eq!(driver.live_entries(), 1, "moved, not duplicated");
        driver.process(base + 10 * MS);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        assert!(poll(&mut sleep, &waker).is_pending());
        sleep.reset(base + 15 * MS);
        assert_eq!(driver.next_expiration(), Some(base + 15 * MS));
        driver.process(base + 15 * MS);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(poll(&mut sleep, &waker).is_ready());
    }

    #[test]
    fn reset_into_the_past_wakes_the_waiting_task() {
        let (driver, base) = driver();
        let (waker, wakes) = counting_waker();
        driver.process(base);
        let mut sleep = Sleep::new_with(driver.clone(), base + 10 * MS);
        assert!(poll(&mut sleep, &waker).is_pending());
        sleep.reset(base - MS);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(sleep.is_elapsed());
        assert_eq!(driver.live_entries(), 0);
        assert!(poll(&mut sleep, &waker).is_ready());
    }

    #[test]
    fn reset_after_completion_rearms() {
        let (driver, base) = driver();
        let (waker, _) = counting_waker();
        let mut sleep = Sleep::new_with(driver.clone(), base + MS);
        assert!(poll(&mut sleep, &waker).is_pending());
        driver.process(base + MS);
        // Reset before the completion was observed, then after.
        sleep.reset(base + 2 * MS);
        assert!(!sleep.is_elapsed());
        assert!(poll(&mut sleep, &waker).is_pending());
        driver.process(base + 2 * MS);
        assert!(poll(&mut sleep, &waker).is_ready());
        sleep.reset(base + 3 * MS);
        assert!(poll(&mut sleep, &waker).is_pending());
        driver.process(base + 3 * MS);
        assert!(poll(&mut sleep, &waker).is_ready());
    }

    #[test]
    fn the_latest_waker_is_woken() {
        let (driver, base) = driver();
        let (first, first_wakes) = counting_waker();
        let (second, second_wakes) = counting_waker();
        let mut sleep = Sleep::new_with(driver.clone(), base + MS);
        assert!(poll(&mut sleep, &first).is_pending());
        assert!(poll(&mut sleep, &second).is_pending());
        driver.process(base + MS);
        assert_eq!(first_wakes.0.load(Ordering::SeqCst), 0);
        assert_eq!(second_wakes.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn shutdown_completes_pending_and_new_sleeps() {
        let (driver, base) = driver();
        let (waker, wakes) = counting_waker();
        let mut pending = Sleep::new_with(driver.clone(), base + MS);
        assert!(poll(&mut pending, &waker).is_pending());
        driver.shutdown();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(poll(&mut pending, &waker).is_ready());
        let mut late = Sleep::new_with(driver.clone(), base + MS);
        assert!(late.is_elapsed());
        assert!(poll(&mut late, &waker).is_ready());
    }
}

/// Model checks of a [`Sleep`] racing the timer firing it on another worker
/// (run with `scripts/loom.sh timer`). The driver's `state` and `firing`
/// locks come from the loom shim; time advances only through explicit
/// `process` calls an hour after the driver's origin, so the real clock
/// never decides.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::task::Waker;

    use loom::thread;

    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const HOUR: Duration = Duration::from_secs(3_600);

    use crate::loom::model::{task, wakes};

    /// A driver, and the instant of its tick 0 as far as the models go.
    fn driver() -> (Arc<TimeDriver>, Instant) {
        let driver = Arc::new(TimeDriver::new(MS, Arc::new(|| {})));
        let base = driver.origin() + HOUR;
        (driver, base)
    }

    fn poll(sleep: &mut Sleep, waker: &Waker) -> Poll<()> {
        Pin::new(sleep).poll(&mut Context::from_waker(waker))
    }

    /// A registered sleep is dropped (cancelled by key) while a worker fires
    /// its tick and then registers a new sleep, whose wheel entry reuses the
    /// slot the first one left: the dropped sleep is woken once or not at
    /// all, a late cancel does not remove the new entry, and every waker
    /// the wheel held is released.
    #[test]
    fn loom_timer_sleep_dropped_while_firing() {
        loom::model(|| {
            let (driver, base) = driver();
            let (dropped, waker) = task();
            let mut sleep = Sleep::new_with(driver.clone(), base + MS);
            assert!(poll(&mut sleep, &waker).is_pending());
            drop(waker);
            let (d, (later, later_waker)) = (driver.clone(), task());
            let worker = thread::spawn(move || {
                let fired = d.process(base + MS);
                let mut next = Sleep::new_with(d, base + 2 * MS);
                assert!(poll(&mut next, &later_waker).is_pending());
                (fired, next, later_waker)
            });
            drop(sleep);
            let (fired, mut next, later_waker) = worker.join().unwrap();
            assert!(fired <= 1);
            assert_eq!(wakes(&dropped), fired, "woken without firing, or twice");
            assert_eq!(
                driver.live_entries(),
                1,
                "the new sleep's entry was removed"
            );
            assert_eq!(driver.process(base + 2 * MS), 1);
            assert_eq!(wakes(&later), 1);
            assert!(poll(&mut next, &later_waker).is_ready());
            drop((next, later_waker));
            assert_eq!(driver.live_entries(), 0);
            assert_eq!(Arc::strong_count(&dropped), 1, "a waker was leaked");
            assert_eq!(Arc::strong_count(&later), 1, "a waker was leaked");
        });
    }

    /// The task resets its sleep to a later deadline and polls it again
    /// (from another worker: a new waker) while the old deadline fires: the
    /// sleep neither completes at the old deadline nor loses the new one,
    /// and the last waker it was polled with is woken once at the new one.
    #[test]
    fn loom_timer_sleep_reset_while_firing() {
        loom::model(|| {
            let (driver, base) = driver();
            let (first, waker) = task();
            let mut sleep = Sleep::new_with(driver.clone(), base + MS);
            assert!(poll(&mut sleep, &waker).is_pending());
            drop(waker);
            let d = driver.clone();
            let worker = thread::spawn(move || d.process(base + MS));
            let (second, waker) = task();
            sleep.reset(base + 3 * MS);
            assert!(poll(&mut sleep, &waker).is_pending(), "completed early");
            let fired = worker.join().unwrap();
            assert_eq!(wakes(&first), fired);
            driver.process(base + 2 * MS);
            assert!(poll(&mut sleep, &waker).is_pending(), "completed early");
            assert_eq!(wakes(&second), 0);
            assert_eq!(driver.process(base + 3 * MS), 1);
            assert_eq!(wakes(&second), 1, "the reset sleep was lost");
            assert!(poll(&mut sleep, &waker).is_ready());
            drop((sleep, waker));
            assert_eq!(driver.live_entries(), 0);
            assert_eq!(Arc::strong_count(&first), 1, "a waker was leaked");
            assert_eq!(Arc::strong_count(&second), 1, "a waker was leaked");
        });
    }

    /// A sleep's first poll (registration) races the worker processing its
    /// deadline: either the poll completes it or the worker wakes it, never
    /// neither.
    #[test]
    fn loom_timer_first_poll_while_firing() {
        loom::model(|| {
            let (driver, base) = driver();
            let (task, waker) = task();
            let mut sleep = Sleep::new_with(driver.clone(), base + MS);
            let d = driver.clone();
            let worker = thread::spawn(move || d.process(base + MS));
            let first = poll(&mut sleep, &waker);
            let fired = worker.join().unwrap();
            if first.is_ready() {
                assert_eq!((fired, wakes(&task)), (0, 0));
            } else {
                assert_eq!((fired, wakes(&task)), (1, 1), "the wake was lost");
                assert!(poll(&mut sleep, &waker).is_ready());
            }
            drop((sleep, waker));
            assert_eq!(driver.live_entries(), 0);
            assert_eq!(Arc::strong_count(&task), 1, "a waker was leaked");
        });
    }

    /// The runtime shuts the timer down while another worker processes a
    /// tick and a task drops one sleep and polls a new one: both workers
    /// take `firing` then `state`, so none deadlocks; every sleep completes
    /// (at once, or woken once), and nothing stays registered.
    #[test]
    fn loom_timer_shutdown_while_firing() {
        loom::model(|| {
            let (driver, base) = driver();
            let (dropped, waker) = task();
            let mut sleep = Sleep::new_with(driver.clone(), base + MS);
            assert!(poll(&mut sleep, &waker).is_pending());
            drop(waker);
            let d = driver.clone();
            let worker = thread::spawn(move || d.process(base + MS));
            let d = driver.clone();
            let shutdown = thread::spawn(move || d.shutdown());
            drop(sleep);
            let (task, waker) = task();
            let mut late = Sleep::new_with(driver.clone(), base + 2 * MS);
            let first = poll(&mut late, &waker);
            worker.join().unwrap();
            shutdown.join().unwrap();
            assert!(wakes(&dropped) <= 1);
            if first.is_pending() {
                assert_eq!(wakes(&task), 1, "shutdown lost a sleep");
            }
            assert!(poll(&mut late, &waker).is_ready());
            drop((late, waker));
            assert_eq!(driver.live_entries(), 0);
            assert_eq!(Arc::strong_count(&dropped), 1, "a waker was leaked");
            assert_eq!(Arc::strong_count(&task), 1, "a waker was leaked");
        });
    }
}
