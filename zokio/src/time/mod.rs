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

pub(crate) mod driver;
pub mod error;
mod interval;
mod sleep;
mod timeout;
mod wheel;

use std::sync::Arc;

pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Timeout, timeout, timeout_at};

/// A measurement of a monotonically nondecreasing clock: `std`'s, re-exported
/// so that deadlines computed with `std` and with zokio mix freely.
///
/// ```
/// use zokio::time::{Duration, Instant};
///
/// let now = Instant::now();
/// let later = now + Duration::from_millis(5);
/// assert!(later > now);
/// let _std: std::time::Instant = later;
/// ```
pub use std::time::Instant;

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
