//! [`Instant`]: a point in time on the runtime's clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of a monotonically nondecreasing clock, as tokio's
/// `time::Instant`: std's `Instant`, read through the runtime's clock.
///
/// Normally that clock is the system's and `Instant::now()` is
/// `std::time::Instant::now()`. With the `test-util` feature, a
/// `current_thread` runtime's clock can be paused ([`pause`](super::pause)),
/// moved by hand ([`advance`](super::advance)) and resumed; `Instant::now()`
/// inside such a runtime then reads the paused clock, so deadlines and
/// elapsed times computed with it agree with the runtime's timers.
/// Convert from and to std's with [`from_std`](Self::from_std),
/// [`into_std`](Self::into_std) or `From`.
///
/// ```
/// use zokio::time::{Duration, Instant};
///
/// let now = Instant::now();
/// let later = now + Duration::from_millis(5);
/// assert!(later > now);
/// assert_eq!(later - now, Duration::from_millis(5));
/// let std_later: std::time::Instant = later.into_std();
/// assert_eq!(Instant::from_std(std_later), later);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// Now, on the clock of the runtime running on this thread (the
    /// system's clock outside a runtime, or without `test-util`).
    pub fn now() -> Instant {
        #[cfg(feature = "test-util")]
        if let Some(Some(now)) =
            crate::runtime::Handle::try_with_current(|h| h.map(|h| h.time_driver().now()))
        {
            return now;
        }
        Instant(std::time::Instant::now())
    }

    /// The same instant as std's `instant`.
    pub fn from_std(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }

    /// This instant as std's.
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time since this instant ([`Instant::now`] minus `self`).
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, or `None` if that cannot be represented.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` if that cannot be represented.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// When the result cannot be represented, as std's.
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// When the result cannot be represented, as std's.
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0 - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        self.0 -= rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// The time from `rhs` to `self`; zero if `rhs` is later (as
    /// [`duration_since`](Instant::duration_since)).
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
