//! The clock a runtime's timers read (`test-util`): the system's, unless
//! [`pause`](super::pause)d, when it stands still except when
//! [`advance`](super::advance)d (by hand, or by the runtime when it has
//! nothing to do but wait for a timer).

use std::sync::Mutex;
use std::time::Duration;

use super::Instant;
use crate::task::lock;

pub(crate) struct Clock {
    state: Mutex<State>,
}

struct State {
    /// Where the clock stands when paused, or stood when it last resumed.
    base: Instant,
    /// The system's time when the clock last resumed; `None` while paused.
    running_since: Option<std::time::Instant>,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let now = std::time::Instant::now();
        Clock {
            state: Mutex::new(State {
                base: Instant::from_std(now),
                running_since: Some(now),
            }),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        let state = lock(&self.state);
        match state.running_since {
            Some(since) => state.base + since.elapsed(),
            None => state.base,
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        lock(&self.state).running_since.is_none()
    }

    /// Stops the clock. `false` if it was already paused.
    pub(crate) fn pause(&self) -> bool {
        let mut state = lock(&self.state);
        let Some(since) = state.running_since.take() else {
            return false;
        };
        state.base += since.elapsed();
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
