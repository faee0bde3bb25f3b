//! The clock a runtime's timers read (`test-util`): the system's, unless
//! [`pause`](super::pause)d, when it stands still except when
//! [`advance`](super::advance)d (by hand, or by the runtime when it has
//! nothing to do but wait for a timer).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Instant;
use crate::task::lock;

pub(crate) struct Clock {
    state: Mutex<State>,
    /// Set by the first `pause`: until then the clock is the system's and
    /// `now` takes no lock.
    ever_paused: AtomicBool,
}

struct State {
    /// Where the clock stands when paused, or stood when it last resumed.
    base: Instant,
    /// The system's time when the clock last resumed; `None` while paused.
    running_since: Option<std::time::Instant>,
}

impl Clock {
    /// A running clock that reads the system's time, starting at `origin`
    /// (the timer wheel's tick 0).
    pub(crate) fn new(origin: Instant) -> Clock {
        Clock {
            state: Mutex::new(State {
                base: origin,
                running_since: Some(origin.into_std()),
            }),
            ever_paused: AtomicBool::new(false),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        if !self.ever_paused.load(Ordering::Acquire) {
            return Instant::from_std(std::time::Instant::now());
        }
        let state = lock(&self.state);
        match state.running_since {
            Some(since) => state.base + since.elapsed(),
            None => state.base,
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        lock(&self.state).running_since.is_none()
    }

    /// Stops the clock, on the next tick of the timer wheel (`origin` plus
    /// a whole number of `resolution`s): a sleep of whole ticks started
    /// while paused then ends exactly on a tick, so `advance` by its
    /// duration fires it and the time it took reads exactly its duration.
    /// `false` if it was already paused.
    pub(crate) fn pause(&self, origin: Instant, resolution: Duration) -> bool {
        let mut state = lock(&self.state);
        let Some(since) = state.running_since.take() else {
            return false;
        };
        let now = state.base + since.elapsed();
        let res = resolution.as_nanos().max(1);
        let ticks = (now - origin).as_nanos().div_ceil(res);
        let nanos = u64::try_from(ticks * res).unwrap_or(u64::MAX);
        state.base = origin + Duration::from_nanos(nanos);
        self.ever_paused.store(true, Ordering::Release);
        true
    }

    /// Lets the clock run again from where it stands. `false` if it was
    /// not paused.
    pub(crate) fn resume(&self) -> bool {
        let mut state = lock(&self.state);
        if state.running_since.is_some() {
            return false;
        }
        state.running_since = Some(std::time::Instant::now());
        true
    }

    /// Moves a paused clock forward. `false` if it is not paused.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let mut state = lock(&self.state);
        if state.running_since.is_some() {
            return false;
        }
        state.base += by;
        true
    }
}
