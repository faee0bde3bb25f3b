//! [`Interval`]: ticks at a fixed period.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use super::driver::TimeDriver;
use super::{Duration, Instant, Sleep, current_driver, far_future};

/// How late a tick may be and still count as on time; later than this, the
/// [`MissedTickBehavior`] decides the next deadline (as tokio does).
const ON_TIME_TOLERANCE: Duration = Duration::from_millis(5);

/// Creates an [`Interval`] that ticks every `period`, the first tick
/// completing immediately.
///
/// Missed ticks are made up in a burst by default; see
/// [`MissedTickBehavior`].
///
/// # Panics
///
/// Panics if `period` is zero, or when called outside a zokio runtime.
///
/// ```
/// use zokio::time::{Duration, interval};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let mut ticks = interval(Duration::from_millis(10));
///     let first = ticks.tick().await; // immediately
///     let second = ticks.tick().await; // 10 ms later
///     assert_eq!(second - first, Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    assert_period(period);
    interval_at(Instant::now(), period)
}

/// Creates an [`Interval`] whose first tick completes at `start` and that
/// then ticks every `period`.
///
/// # Panics
///
/// Panics if `period` is zero, or when called outside a zokio runtime.
///
/// ```
/// use zokio::time::{Duration, Instant, interval_at};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut ticks = interval_at(start, Duration::from_millis(10));
///     assert_eq!(ticks.tick().await, start);
///     assert_eq!(ticks.tick().await, start + Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert_period(period);
    Interval::new_with(current_driver(), start, period)
}

#[track_caller]
fn assert_period(period: Duration) {
    assert!(
        !period.is_zero(),
        "`interval` period must be non-zero: pass `interval`/`interval_at` a `Duration` \
         greater than zero"
    );
}

/// What an [`Interval`] does when a tick is taken late (by more than a few
/// milliseconds), for example because the task was busy.
///
/// With a period of 50 ms, ticks due at 0, 50, 100, ... and the tick due at
/// 100 only taken at 160:
///
/// | behaviour | ticks complete at (ms) | [`tick`](Interval::tick) returns (ms) |
/// |---|---|---|
/// | `Burst` | 0, 50, 160, 160, 200, 250 | 0, 50, 100, 150, 200, 250 |
/// | `Delay` | 0, 50, 160, 210, 260, 310 | 0, 50, 100, 210, 260, 310 |
/// | `Skip`  | 0, 50, 160, 200, 250, 300 | 0, 50, 100, 200, 250, 300 |
///
/// ```
/// use zokio::time::{Duration, MissedTickBehavior, interval};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let mut ticks = interval(Duration::from_millis(10));
///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
///     ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
///     ticks.tick().await;
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTickBehavior {
    /// Catch up: the missed ticks complete at once, one per call, until the
    /// interval is back on its original schedule. The default.
    #[default]
    Burst,
    /// Start over: the next tick is one period after the late one was taken,
    /// and every later tick keeps that spacing.
    Delay,
    /// Drop the missed ticks: the next tick is the next one on the original
    /// schedule that is still in the future.
    Skip,
}

/// The deadline of the tick after the one scheduled at `scheduled` and
/// taken at `now`.
pub(crate) fn next_tick(
    behavior: MissedTickBehavior,
    scheduled: Instant,
    now: Instant,
    period: Duration,
) -> Instant {
    let lateness = now.saturating_duration_since(scheduled);
    if lateness <= ON_TIME_TOLERANCE {
        return add(scheduled, period);
    }
    match behavior {
        MissedTickBehavior::Burst => add(scheduled, period),
        MissedTickBehavior::Delay => add(now, period),
        MissedTickBehavior::Skip => {
            // How far `now` is into the current period; the next aligned tick
            // is the rest of that period away.
            let into_period = lateness.as_nanos() % period.as_nanos();
            add(now, period - nanos(into_period))
        }
    }
}

fn add(instant: Instant, duration: Duration) -> Instant {
    instant.checked_add(duration).unwrap_or_else(far_future)
}

/// `nanos` (less than some `Duration`'s nanoseconds) as a `Duration`.
fn nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

/// Ticks at a fixed period; created by [`interval`] or [`interval_at`].
///
/// Each [`tick`](Interval::tick) completes at the next scheduled instant and
/// returns it (the schedule, not the moment the tick was taken). Dropping
/// the interval cancels its timer.
///
/// ```
/// use zokio::time::{Duration, interval};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let mut ticks = interval(Duration::from_millis(5));
///     let mut last = ticks.tick().await;
///     for _ in 0..3 {
///         let now = ticks.tick().await;
///         assert!(now >= last + ticks.period());
///         last = now;
///     }
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    /// Completes at the next scheduled tick.
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    pub(crate) fn new_with(driver: Arc<TimeDriver>, start: Instant, period: Duration) -> Self {
        Interval {
            delay: Sleep::new_with(driver, start),
            period,
            missed_tick_behavior: MissedTickBehavior::default(),
        }
    }

    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// Cancel safe: if the returned future is dropped before completing, no
    /// tick is lost.
    ///
    /// ```
    /// use zokio::time::{Duration, Instant, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(5));
    ///     let scheduled = ticks.tick().await;
    ///     assert!(scheduled <= Instant::now());
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; the instant it was scheduled for once it is
    /// due. `cx`'s waker is woken when it is.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use zokio::time::{Duration, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(5));
    ///     let first = poll_fn(|cx| ticks.poll_tick(cx)).await;
    ///     let second = poll_fn(|cx| ticks.poll_tick(cx)).await;
    ///     assert_eq!(second - first, Duration::from_millis(5));
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.delay).poll(cx));
        let scheduled = self.delay.deadline();
        let next = next_tick(
            self.missed_tick_behavior,
            scheduled,
            self.delay.now(),
            self.period,
        );
        self.delay.reset(next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// use zokio::time::{Duration, Instant, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(5));
    ///     ticks.tick().await;
    ///     let before = Instant::now();
    ///     ticks.reset();
    ///     assert!(ticks.tick().await >= before + Duration::from_millis(5));
    /// });
    /// ```
    pub fn reset(&mut self) {
        self.reset_at(add(self.delay.now(), self.period));
    }

    /// Restarts the schedule with a tick due now.
    ///
    /// ```
    /// use zokio::time::{Duration, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(3600));
    ///     ticks.tick().await;
    ///     ticks.reset_immediately();
    ///     ticks.tick().await; // does not wait an hour
    /// });
    /// ```
    pub fn reset_immediately(&mut self) {
        self.reset_at(self.delay.now());
    }

    /// Restarts the schedule with the next tick `after` from now.
    ///
    /// ```
    /// use zokio::time::{Duration, Instant, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(3600));
    ///     ticks.tick().await;
    ///     let before = Instant::now();
    ///     ticks.reset_after(Duration::from_millis(5));
    ///     assert!(ticks.tick().await >= before + Duration::from_millis(5));
    /// });
    /// ```
    pub fn reset_after(&mut self, after: Duration) {
        self.reset_at(add(self.delay.now(), after));
    }

    /// Restarts the schedule with the next tick at `deadline`.
    ///
    /// ```
    /// use zokio::time::{Duration, Instant, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(3600));
    ///     ticks.tick().await;
    ///     let at = Instant::now() + Duration::from_millis(5);
    ///     ticks.reset_at(at);
    ///     assert_eq!(ticks.tick().await, at);
    /// });
    /// ```
    pub fn reset_at(&mut self, deadline: Instant) {
        self.delay.reset(deadline);
    }

    /// How missed ticks are handled.
    ///
    /// ```
    /// use zokio::time::{Duration, MissedTickBehavior, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let ticks = interval(Duration::from_millis(5));
    ///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// });
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets how missed ticks are handled from the next tick on.
    ///
    /// ```
    /// use zokio::time::{Duration, MissedTickBehavior, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(5));
    ///     ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Delay);
    /// });
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The period.
    ///
    /// ```
    /// use zokio::time::{Duration, interval};
    ///
    /// zokio::runtime! { Rt { flavor = "current_thread" } }
    ///
    /// Rt::block_on(async {
    ///     assert_eq!(interval(Duration::from_millis(5)).period(), Duration::from_millis(5));
    /// });
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

/// With the `stream` feature, an `Interval` is a never-ending
/// [`Stream`](futures_core::Stream) of the instants its ticks were scheduled
/// for: `poll_next` is [`poll_tick`](Interval::poll_tick), so stream
/// combinators (`StreamExt::take`, `zip`, ...) can drive it.
///
/// ```
/// use std::future::poll_fn;
/// use std::pin::Pin;
/// use futures_core::Stream;
/// use zokio::time::{Duration, interval};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let mut ticks = interval(Duration::from_millis(5));
///     let first = poll_fn(|cx| Pin::new(&mut ticks).poll_next(cx)).await.unwrap();
///     let second = poll_fn(|cx| Pin::new(&mut ticks).poll_next(cx)).await.unwrap();
///     assert_eq!(second - first, Duration::from_millis(5));
///     assert_eq!(ticks.size_hint(), (usize::MAX, None));
/// });
/// ```
#[cfg(feature = "stream")]
impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    const MS: Duration = Duration::from_millis(1);

    /// Plays a schedule: the consumer asks for tick `k` no earlier than
    /// `asks[k]` ms (and right after the previous tick otherwise); a tick
    /// completes at the later of its deadline and the ask. Returns, per tick,
    /// `(completed at, returned)` in ms from `t0`.
    fn play(behavior: MissedTickBehavior, period_ms: u64, asks: &[u64]) -> Vec<(u64, u64)> {
        let t0 = Instant::now();
        let ms = |t: Instant| (t - t0).as_millis() as u64;
        let period = Duration::from_millis(period_ms);
        let mut scheduled = t0;
        let mut clock = t0;
        let mut out = Vec::new();
        for &ask in asks {
            clock = clock.max(t0 + Duration::from_millis(ask));
            let completed = clock.max(scheduled);
            clock = completed;
            out.push((ms(completed), ms(scheduled)));
            scheduled = next_tick(behavior, scheduled, completed, period);
        }
        out
    }

    #[test]
    fn on_time_ticks_follow_the_period_for_every_behavior() {
        for behavior in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            assert_eq!(
                play(behavior, 10, &[0, 0, 0, 0]),
                [(0, 0), (10, 10), (20, 20), (30, 30)],
                "{behavior:?}"
            );
            // A few milliseconds late still counts as on time.
            assert_eq!(
                play(behavior, 10, &[0, 14, 0]),
                [(0, 0), (14, 10), (20, 20)],
                "{behavior:?}"
            );
        }
    }

    #[test]
    fn burst_catches_up_on_missed_ticks() {
        assert_eq!(
            play(MissedTickBehavior::Burst, 50, &[0, 0, 160, 0, 0, 0]),
            [
                (0, 0),
                (50, 50),
                (160, 100),
                (160, 150),
                (200, 200),
                (250, 250)
            ]
        );
    }

    #[test]
    fn delay_restarts_the_schedule_from_the_late_tick() {
        assert_eq!(
            play(MissedTickBehavior::Delay, 50, &[0, 0, 160, 0, 0, 0]),
            [
                (0, 0),
                (50, 50),
                (160, 100),
                (210, 210),
                (260, 260),
                (310, 310)
            ]
        );
    }

    #[test]
    fn skip_drops_missed_ticks_and_keeps_the_alignment() {
        assert_eq!(
            play(MissedTickBehavior::Skip, 50, &[0, 0, 160, 0, 0, 0]),
            [
                (0, 0),
                (50, 50),
                (160, 100),
                (200, 200),
                (250, 250),
                (300, 300)
            ]
        );
    }

    #[test]
    fn next_tick_arithmetic() {
        let s = Instant::now();
        let p = 10 * MS;
        use MissedTickBehavior::*;
        // 25 ms late.
        assert_eq!(next_tick(Burst, s, s + 25 * MS, p), s + 10 * MS);
        assert_eq!(next_tick(Delay, s, s + 25 * MS, p), s + 35 * MS);
        assert_eq!(next_tick(Skip, s, s + 25 * MS, p), s + 30 * MS);
        // Exactly on a later tick of the schedule: the one after it.
        assert_eq!(next_tick(Skip, s, s + 30 * MS, p), s + 40 * MS);
        // Taken early (cannot happen, but must not go backwards).
        assert_eq!(next_tick(Delay, s + 5 * MS, s, p), s + 15 * MS);
        // A period too long to add saturates far in the future.
        assert!(next_tick(Burst, s, s, Duration::MAX) > s + Duration::from_secs(86_400 * 365));
    }

    #[test]
    fn an_interval_ticks_on_a_manual_driver() {
        let driver = Arc::new(TimeDriver::new(MS, Arc::new(|| {})));
        // Far ahead of the real clock, so ticks are never late.
        let start = driver.origin() + Duration::from_secs(3_600);
        let mut ticks = Interval::new_with(driver.clone(), start, 10 * MS);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(ticks.poll_tick(&mut cx).is_pending());
        driver.process(start);
        assert_eq!(ticks.poll_tick(&mut cx), Poll::Ready(start));
        assert!(ticks.poll_tick(&mut cx).is_pending());
        driver.process(start + 9 * MS);
        assert!(ticks.poll_tick(&mut cx).is_pending());
        driver.process(start + 10 * MS);
        assert_eq!(ticks.poll_tick(&mut cx), Poll::Ready(start + 10 * MS));
        ticks.reset_at(start + 15 * MS);
        assert!(ticks.poll_tick(&mut cx).is_pending());
        driver.process(start + 15 * MS);
        assert_eq!(ticks.poll_tick(&mut cx), Poll::Ready(start + 15 * MS));
        drop(ticks);
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    #[should_panic(expected = "period must be non-zero")]
    fn a_zero_period_panics() {
        interval(Duration::ZERO);
    }
}
