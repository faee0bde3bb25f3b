//! Utilities for tracking time: sleeping, deadlines and periodic ticks.
//!
//! Shaped like `tokio::time`:
//!
//! * [`sleep`] and [`sleep_until`] wait for a duration or until an instant;
//! * [`timeout`] and [`timeout_at`] put a deadline on any future;
//! * [`interval`] and [`interval_at`] tick at a fixed period, with a choice
//!   of [`MissedTickBehavior`].
//!
//! Every runtime has one timer, a hierarchical timing wheel whose tick is
//! the runtime's `timer.resolution` (1 ms by default): deadlines are rounded
//! up to the next tick, so timers never complete early, and complete on the
//! first tick processed at or after their deadline. Registering and
//! cancelling a timer are O(1); dropping a [`Sleep`], [`Timeout`] or
//! [`Interval`] cancels its timer and releases its memory.
//!
//! These functions use the runtime running on the current thread and panic
//! outside one.
//!
//! ```
//! use zokio::time::{Duration, Instant, sleep, timeout};
//!
//! zokio::runtime! { Rt { flavor = "current_thread" } }
//!
//! Rt::block_on(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_millis(10)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(10));
//!
//!     let slow = sleep(Duration::from_secs(60));
//!     assert!(timeout(Duration::from_millis(5), slow).await.is_err());
//! });
//! ```

#[cfg(feature = "test-util")]
mod clock;
pub(crate) mod driver;
pub mod error;
mod instant;
mod interval;
mod sleep;
mod timeout;
mod wheel;

use std::sync::Arc;

pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Timeout, timeout, timeout_at};

pub use instant::Instant;

/// A span of time: `std`'s `Duration`, re-exported.
///
/// ```
/// use zokio::time::Duration;
///
/// assert_eq!(Duration::from_millis(1_500).as_secs_f64(), 1.5);
/// ```
pub use std::time::Duration;

use crate::runtime::Handle;
use driver::TimeDriver;

/// The timer of the runtime running on this thread.
#[track_caller]
fn current_driver() -> Arc<TimeDriver> {
    // Borrowed: no reference-count traffic on the runtime's handle, which
    // every worker shares (one sleep per request in a hyper server).
    match Handle::with_current(|h| h.map(|h| h.time_driver().clone())) {
        Some(driver) => driver,
        None => crate::runtime::no_runtime(),
    }
}

/// The clock of the `current_thread` runtime running on this thread, for
/// `pause`, `resume` and `advance` (named by `what` in the panics).
#[cfg(feature = "test-util")]
#[track_caller]
fn paused_clock_driver(what: &str) -> Arc<TimeDriver> {
    let Some(handle) = Handle::with_current(|h| h.cloned()) else {
        panic!("`time::{what}` called outside a zokio runtime");
    };
    if handle.runtime_flavor() != crate::runtime::RuntimeFlavor::CurrentThread {
        panic!(
            "`time::{what}` requires a `current_thread` runtime (the clock of a \
             `multi_thread` one cannot be paused); `#[zokio::test]` uses one \
             by default"
        );
    }
    handle.time_driver().clone()
}

/// Stops the clock of the current runtime (`test-util`): `Instant::now()`
/// stands still, and timers fire only when the clock is moved, by
/// [`advance`] or by the runtime itself: with nothing to run, it moves the
/// clock to the next timer instead of sleeping until then, so a test that
/// sleeps an hour finishes at once. As tokio's `time::pause`.
///
/// ```
/// use zokio::time::{self, Duration, Instant};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     time::pause();
///     let start = Instant::now();
///     time::sleep(Duration::from_secs(3600)).await;
///     assert!(start.elapsed() >= Duration::from_secs(3600));
/// });
/// ```
///
/// # Panics
///
/// Outside a runtime, on a `multi_thread` runtime, or if the clock is
/// already paused.
#[cfg(feature = "test-util")]
#[track_caller]
pub fn pause() {
    if !paused_clock_driver("pause").pause_clock() {
        panic!("`time::pause` called while the clock is already paused");
    }
}

/// Lets a paused clock run again from where it stands (`test-util`).
///
/// # Panics
///
/// Outside a runtime, on a `multi_thread` runtime, or if the clock is not
/// paused.
#[cfg(feature = "test-util")]
#[track_caller]
pub fn resume() {
    if !paused_clock_driver("resume").clock().resume() {
        panic!("`time::resume` called while the clock is not paused");
    }
}

/// Moves a paused clock forward by `duration`, fires the timers that fall
/// due (waking their tasks), then yields once (`test-util`; tokio's
/// `time::advance`). A timer's deadline is rounded up to the runtime's
/// timer resolution (1 ms by default); the clock pauses on a multiple of
/// it, so a sleep of whole milliseconds started while paused is due
/// exactly when `advance` has moved the clock by its duration.
///
/// # Panics
///
/// Outside a runtime, on a `multi_thread` runtime, or if the clock is not
/// paused.
#[cfg(feature = "test-util")]
pub async fn advance(duration: Duration) {
    let driver = paused_clock_driver("advance");
    if !driver.clock().advance(duration) {
        panic!("`time::advance` called while the clock is not paused");
    }
    driver.process(driver.now());
    crate::task::yield_now().await;
}

/// `duration` from now, or [`far_future`] when that is not representable.
fn deadline_after(duration: Duration) -> Instant {
    Instant::now()
        .checked_add(duration)
        .unwrap_or_else(far_future)
}

/// An instant about 30 years away: "never" for a timer.
fn far_future() -> Instant {
    Instant::now()
        .checked_add(Duration::from_secs(86_400 * 365 * 30))
        .expect("the clock cannot represent an instant 30 years from now")
}

/// Timer registrations pending in the current runtime. For tests.
#[doc(hidden)]
#[track_caller]
pub fn __live_timer_entries() -> usize {
    Handle::current().time_driver().live_entries()
}
