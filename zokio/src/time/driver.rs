//! The time driver: a [`Wheel`] behind a mutex, converting between
//! `Instant`s and ticks, and the calls the scheduler makes.
//!
//! # How the scheduler uses it
//!
//! A worker about to park asks [`TimeDriver::next_expiration`] and parks no
//! longer than that; after waking (or every `event_interval` ticks) it calls
//! [`TimeDriver::process`] with the current time. `next_expiration` never
//! lies after the earliest deadline but may lie before it (see there), so a
//! wake-up can find nothing to fire; the worker just asks again. When a task registers a
//! deadline earlier than every pending one, the driver calls the `unpark`
//! callback given to [`TimeDriver::new`] so a worker parked with a longer
//! timeout recomputes it; the scheduler must make that unpark stick even if
//! it races with the worker going to sleep (the usual unpark token).
//!
//! # Time
//!
//! Ticks count `resolution`s since the `Instant` captured by `new`. A
//! deadline becomes the first tick at or after it (rounded up), and
//! `process(now)` fires ticks at or before `now` (rounded down), so a timer
//! never fires before its deadline.
//!
//! # Locks
//!
//! `state` guards the wheel and is held only for wheel operations; wakers are
//! cloned before it is taken and woken or dropped after it is released, so
//! no task code runs under it. `firing` is held for a whole `process` or
//! `shutdown`, so that when two workers process at once, the second waits and
//! wakers are still woken in deadline order. A waker must therefore not call
//! `process` or `shutdown` itself.

use std::fmt;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use super::Instant;

use super::wheel::{EntryKey, MAX_TICK, WakerUpdate, Wheel};
// From the loom shim, so the models in `sleep.rs` check these very locks.
use crate::loom::lock;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Capacity of the firing buffer kept between `process` calls.
const KEEP_FIRING_CAPACITY: usize = 1024;

/// The timer of one runtime. See the module documentation.
pub(crate) struct TimeDriver {
    origin: Instant,
    resolution: Duration,
    /// `resolution` in nanoseconds, at least 1.
    resolution_nanos: u128,
    state: Mutex<State>,
    /// The wheel's length, stored under `state`'s lock after every change:
    /// lets [`next_expiration`](Self::next_expiration) answer "nothing
    /// pending" without the lock, which workers ask between every batch of
    /// tasks. A stale non-zero only sends the caller to the lock; a stale
    /// zero cannot hide a new deadline, because the registration that makes
    /// the wheel non-empty always calls `unpark` after storing it.
    pending: AtomicUsize,
    /// Serializes firing; its buffer collects the wakers due in one `process`.
    firing: Mutex<Vec<Waker>>,
    unpark: Arc<dyn Fn() + Send + Sync>,
    /// The clock `now` reads (`test-util`: it can be paused).
    #[cfg(feature = "test-util")]
    clock: super::clock::Clock,
}

struct State {
    wheel: Wheel,
    /// Set by `shutdown`: nothing registers any more, every sleep completes.
    shutdown: bool,
    /// Registrations since start, for metrics (counted under the lock that
    /// registering takes anyway).
    registered: u64,
}

/// What [`TimeDriver::reset`] did with a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetOutcome {
    /// The entry now waits for the new deadline (same key).
    Moved,
    /// The new deadline has already passed: the entry was removed and its
    /// waker woken.
    Elapsed,
    /// The entry had already fired; nothing is registered any more.
    NotRegistered,
}

impl TimeDriver {
    /// A driver whose ticks are `resolution` long, counted from now.
    /// `unpark` is called (outside any lock) when a newly registered deadline
    /// is earlier than every deadline known before (precisely: earlier than
    /// what [`next_expiration`](Self::next_expiration) reported, so earlier
    /// than any worker parked on it would wake), so a worker parked with a
    /// longer timeout re-computes it. Moving a registration earlier does the
    /// same.
    pub(crate) fn new(resolution: Duration, unpark: Arc<dyn Fn() + Send + Sync>) -> Self {
        let origin = Instant::from_std(std::time::Instant::now());
        TimeDriver {
            origin,
            resolution,
            resolution_nanos: resolution.as_nanos().max(1),
            state: Mutex::new(State {
                wheel: Wheel::new(),
                shutdown: false,
                registered: 0,
            }),
            pending: AtomicUsize::new(0),
            firing: Mutex::new(Vec::new()),
            unpark,
            #[cfg(feature = "test-util")]
            clock: super::clock::Clock::new(origin),
        }
    }

    /// Now, on this runtime's clock: the system's, or with `test-util` a
    /// clock that may be paused.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        #[cfg(feature = "test-util")]
        return self.clock.now();
        #[cfg(not(feature = "test-util"))]
        Instant::from_std(std::time::Instant::now())
    }

    /// The pausable clock.
    #[cfg(feature = "test-util")]
    pub(crate) fn clock(&self) -> &super::clock::Clock {
        &self.clock
    }

    /// Pauses the clock on a tick of this driver's wheel (see
    /// `Clock::pause`). `false` if it was already paused.
    #[cfg(feature = "test-util")]
    pub(crate) fn pause_clock(&self) -> bool {
        self.clock.pause(self.origin, self.resolution)
    }

    /// Wakes the thread parked on this driver's timers, to look again
    /// (a blocking job finished while a paused clock waited for it).
    #[cfg(feature = "test-util")]
    pub(crate) fn wake_parked(&self) {
        (self.unpark)();
    }

    /// When `process` next has work, or `None` when nothing is pending: a
    /// worker may park until then and will not oversleep any deadline.
    ///
    /// It is the earliest pending deadline (rounded up to the resolution)
    /// when that deadline lies in the same 64-tick window as the last tick
    /// processed, and otherwise may be earlier:
    /// the instant at which the wheel moves the entry to a finer level (as in
    /// tokio, this costs at most one extra wake-up per level on the way to a
    /// far deadline, and keeps this call O(1)). It may be in the past: then
    /// `process` has work now.
    pub(crate) fn next_expiration(&self) -> Option<Instant> {
        if self.pending.load(Relaxed) == 0 {
            return None;
        }
        let tick = lock(&self.state).wheel.next_expiration_tick()?;
        self.tick_instant(tick)
    }

    /// Fires every registration whose deadline is at or before `now`, in
    /// deadline order, waking the wakers after releasing the wheel's lock;
    /// returns how many fired.
    pub(crate) fn process(&self, now: Instant) -> usize {
        let mut due = lock(&self.firing);
        let now_tick = self.now_tick(now);
        {
            let mut state = lock(&self.state);
            state.wheel.advance(now_tick, |waker| due.push(waker));
            self.pending.store(state.wheel.len(), Relaxed);
        }
        wake_all(&mut due)
    }

    /// Pending registrations.
    pub(crate) fn live_entries(&self) -> usize {
        lock(&self.state).wheel.len()
    }

    /// Registrations since start and pending now, for metrics.
    pub(crate) fn registrations(&self) -> (u64, usize) {
        let state = lock(&self.state);
        (state.registered, state.wheel.len())
    }

    /// Wakes every pending sleep (they complete) and makes later
    /// registrations complete immediately. Idempotent.
    pub(crate) fn shutdown(&self) {
        let mut due = lock(&self.firing);
        {
            let mut state = lock(&self.state);
            state.shutdown = true;
            state.wheel.drain(|waker| due.push(waker));
            self.pending.store(state.wheel.len(), Relaxed);
        }
        wake_all(&mut due);
    }

    /// Registers `waker` to be woken at `deadline`. `None` means the deadline
    /// has already been processed (or the driver is shut down): the caller is
    /// done waiting.
    pub(crate) fn register(&self, deadline: Instant, waker: &Waker) -> Option<EntryKey> {
        let tick = self.deadline_tick(deadline);
        let waker = waker.clone();
        let mut state = lock(&self.state);
        if state.shutdown || tick <= state.wheel.elapsed() {
            return None;
        }
        // What a parked worker is waiting for (never after any deadline).
        let earliest = state.wheel.next_expiration_tick();
        let key = state.wheel.insert(tick, waker);
        state.registered += 1;
        self.pending.store(state.wheel.len(), Relaxed);
        drop(state);
        if earliest.is_none_or(|earliest| tick < earliest) {
            (self.unpark)();
        }
        Some(key)
    }

    /// Whether `key` is still waiting; if so, makes sure it wakes `waker`.
    pub(crate) fn poll_registered(&self, key: EntryKey, waker: &Waker) -> bool {
        let update = lock(&self.state).wheel.update_waker(key, waker);
        match update {
            WakerUpdate::Gone => false,
            WakerUpdate::Kept => true,
            WakerUpdate::Replaced(previous) => {
                // Dropped outside the lock: a waker's drop may run task code.
                drop(previous);
                true
            }
        }
    }

    /// Whether `key` is still waiting.
    pub(crate) fn is_registered(&self, key: EntryKey) -> bool {
        lock(&self.state).wheel.is_live(key)
    }

    /// Whether a registration for `deadline` would complete immediately.
    pub(crate) fn is_due(&self, deadline: Instant) -> bool {
        let tick = self.deadline_tick(deadline);
        let state = lock(&self.state);
        state.shutdown || tick <= state.wheel.elapsed()
    }

    /// Moves `key`'s registration to `deadline` in O(1).
    pub(crate) fn reset(&self, key: EntryKey, deadline: Instant) -> ResetOutcome {
        let tick = self.deadline_tick(deadline);
        let mut state = lock(&self.state);
        if !state.wheel.is_live(key) {
            return ResetOutcome::NotRegistered;
        }
        if tick <= state.wheel.elapsed() {
            let waker = state.wheel.cancel(key);
            self.pending.store(state.wheel.len(), Relaxed);
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return ResetOutcome::Elapsed;
        }
        let earliest = state.wheel.next_expiration_tick();
        state.wheel.reschedule(key, tick);
        drop(state);
        if earliest.is_none_or(|earliest| tick < earliest) {
            (self.unpark)();
        }
        ResetOutcome::Moved
    }

    /// Removes `key`'s registration in O(1), if it is still pending.
    pub(crate) fn cancel(&self, key: EntryKey) {
        let waker = {
            let mut state = lock(&self.state);
            let waker = state.wheel.cancel(key);
            self.pending.store(state.wheel.len(), Relaxed);
            waker
        };
        // Dropped outside the lock.
        drop(waker);
    }

    /// The instant tick 0 starts at.
    #[cfg(test)]
    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    /// The first tick at or after `deadline`.
    fn deadline_tick(&self, deadline: Instant) -> u64 {
        let nanos = deadline.saturating_duration_since(self.origin).as_nanos();
        saturate(nanos.div_ceil(self.resolution_nanos))
    }

    /// The last tick at or before `now`.
    fn now_tick(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        saturate(nanos / self.resolution_nanos)
    }

    /// The instant a tick starts at; `None` if not representable.
    fn tick_instant(&self, tick: u64) -> Option<Instant> {
        let nanos = u128::from(tick) * self.resolution_nanos;
        let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
        let offset = Duration::new(secs, (nanos % 1_000_000_000) as u32);
        self.origin.checked_add(offset)
    }
}

impl fmt::Debug for TimeDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeDriver")
            .field("origin", &self.origin)
            .field("resolution", &self.resolution)
            .finish_non_exhaustive()
    }
}

fn saturate(ticks: u128) -> u64 {
    u64::try_from(ticks).unwrap_or(u64::MAX).min(MAX_TICK)
}

/// Wakes and empties `due`, keeping a modest buffer for next time.
fn wake_all(due: &mut Vec<Waker>) -> usize {
    let fired = due.len();
    for waker in due.drain(..) {
        waker.wake();
    }
    if due.capacity() > KEEP_FIRING_CAPACITY {
        due.shrink_to(KEEP_FIRING_CAPACITY);
    }
    fired
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    const MS: Duration = Duration::from_millis(1);

    struct Tagged {
        id: usize,
        log: Arc<Mutex<Vec<usize>>>,
    }

    impl Wake for Tagged {
        fn wake(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.id);
        }
    }

    fn tagged(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> Waker {
        Waker::from(Arc::new(Tagged {
            id,
            log: log.clone(),
        }))
    }

    fn take(log: &Arc<Mutex<Vec<usize>>>) -> Vec<usize> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    /// A driver with a 1 ms tick and a counter of `unpark` calls.
    fn driver() -> (TimeDriver, Arc<AtomicUsize>) {
        let unparks = Arc::new(AtomicUsize::new(0));
        let counter = unparks.clone();
        let unpark = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        (TimeDriver::new(MS, unpark), unparks)
    }

    #[test]
    fn the_driver_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TimeDriver>();
    }

    #[test]
    fn deadlines_round_up_and_never_fire_early() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        let us = Duration::from_micros;
        driver.register(t0 + us(1_500), &tagged(0, &log)).unwrap();
        driver.register(t0 + us(2_000), &tagged(1, &log)).unwrap();
        driver.register(t0 + us(2_001), &tagged(2, &log)).unwrap();
        assert_eq!(driver.next_expiration(), Some(t0 + 2 * MS));
        assert_eq!(driver.process(t0 + us(1_999)), 0);
        assert_eq!(driver.process(t0 + 2 * MS), 2);
        let mut fired = take(&log);
        fired.sort();
        assert_eq!(fired, [0, 1]);
        assert_eq!(driver.next_expiration(), Some(t0 + 3 * MS));
        assert_eq!(driver.process(t0 + us(2_999)), 0);
        assert_eq!(driver.process(t0 + us(3_000)), 1);
        assert_eq!(take(&log), [2]);
        assert_eq!(driver.next_expiration(), None);
    }

    #[test]
    fn a_deadline_already_processed_completes_at_once() {
        let (driver, unparks) = driver();
        let t0 = driver.origin;
        driver.process(t0 + 10 * MS);
        let log = Arc::default();
        assert!(driver.register(t0 + 10 * MS, &tagged(0, &log)).is_none());
        assert!(
            driver
                .register(t0.checked_sub(MS).unwrap_or(t0), &tagged(0, &log))
                .is_none()
        );
        assert!(driver.is_due(t0 + 10 * MS));
        assert!(!driver.is_due(t0 + 10 * MS + Duration::from_nanos(1)));
        assert!(driver.register(t0 + 11 * MS, &tagged(0, &log)).is_some());
        assert_eq!(driver.live_entries(), 1);
        assert_eq!(unparks.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn timers_fire_in_deadline_order_across_process_calls() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        // Distinct deadlines in a scrambled order, 1 ms to 1 hour.
        let offsets: Vec<u64> = (0..500u64).map(|i| 1 + (i * 7_919) % 3_600_000).collect();
        for (id, &ms) in offsets.iter().enumerate() {
            driver
                .register(t0 + Duration::from_millis(ms), &tagged(id, &log))
                .unwrap();
        }
        let mut now = t0;
        let mut order = Vec::new();
        while let Some(next) = driver.next_expiration() {
            assert!(next > now, "next expiration {next:?} is not after {now:?}");
            // Sometimes land exactly on it, sometimes overshoot.
            now = next + (order.len() as u32 % 3) * MS;
            driver.process(now);
            for id in take(&log) {
                assert!(
                    t0 + Duration::from_millis(offsets[id]) <= now,
                    "fired early"
                );
                order.push(id);
            }
        }
        let mut expected: Vec<usize> = (0..offsets.len()).collect();
        expected.sort_by_key(|&id| offsets[id]);
        assert_eq!(order, expected);
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    fn process_returns_the_number_fired() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        for id in 0..10 {
            driver
                .register(t0 + (id as u32 + 1) * MS, &tagged(id, &log))
                .unwrap();
        }
        assert_eq!(driver.process(t0 + 4 * MS), 4);
        assert_eq!(driver.process(t0 + 4 * MS), 0);
        assert_eq!(driver.process(t0 + 100 * MS), 6);
        assert_eq!(take(&log), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn unpark_is_called_only_when_the_earliest_deadline_moves_earlier() {
        let (driver, unparks) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        let count = || unparks.load(Ordering::SeqCst);
        driver.register(t0 + 100 * MS, &tagged(0, &log)).unwrap();
        assert_eq!(count(), 1, "the first deadline is the earliest");
        driver.register(t0 + 200 * MS, &tagged(1, &log)).unwrap();
        assert_eq!(count(), 1);
        driver.register(t0 + 100 * MS, &tagged(2, &log)).unwrap();
        assert_eq!(count(), 1, "equal is not earlier");
        // Earlier than 100 ms, but a parked worker already wakes at 64 ms,
        // when the 100 ms entry moves to a finer level: no need to unpark.
        assert_eq!(driver.next_expiration(), Some(t0 + 64 * MS));
        driver.register(t0 + 80 * MS, &tagged(6, &log)).unwrap();
        assert_eq!(count(), 1);
        let early = driver.register(t0 + 50 * MS, &tagged(3, &log)).unwrap();
        assert_eq!(count(), 2);
        // Moving a registration later does not unpark; moving one earlier than
        // everything does.
        assert_eq!(driver.reset(early, t0 + 300 * MS), ResetOutcome::Moved);
        assert_eq!(count(), 2);
        assert_eq!(driver.reset(early, t0 + 10 * MS), ResetOutcome::Moved);
        assert_eq!(count(), 3);
        // After the earliest fires, a deadline before the remaining ones is
        // earliest again.
        driver.process(t0 + 150 * MS);
        assert_eq!(take(&log).len(), 4);
        driver.register(t0 + 190 * MS, &tagged(4, &log)).unwrap();
        assert_eq!(count(), 4);
        driver.register(t0 + 195 * MS, &tagged(5, &log)).unwrap();
        assert_eq!(count(), 4);
    }

    #[test]
    fn reset_moves_an_entry_and_fires_one_moved_into_the_past() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        let key = driver.register(t0 + 10 * MS, &tagged(0, &log)).unwrap();
        assert_eq!(driver.reset(key, t0 + 5 * MS), ResetOutcome::Moved);
        assert_eq!(driver.next_expiration(), Some(t0 + 5 * MS));
        assert_eq!(driver.process(t0 + 5 * MS), 1);
        assert_eq!(driver.reset(key, t0 + 50 * MS), ResetOutcome::NotRegistered);

        let key = driver.register(t0 + 10 * MS, &tagged(1, &log)).unwrap();
        assert_eq!(driver.reset(key, t0 + 5 * MS), ResetOutcome::Elapsed);
        assert_eq!(take(&log), [0, 1]);
        assert!(!driver.is_registered(key));
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    fn poll_registered_keeps_the_latest_waker() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        let key = driver.register(t0 + MS, &tagged(0, &log)).unwrap();
        assert!(driver.poll_registered(key, &tagged(1, &log)));
        driver.process(t0 + MS);
        assert_eq!(take(&log), [1]);
        assert!(!driver.poll_registered(key, &tagged(2, &log)));
        assert!(!driver.is_registered(key));
    }

    #[test]
    fn cancel_removes_the_entry_and_a_stale_cancel_is_harmless() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        let a = driver.register(t0 + MS, &tagged(0, &log)).unwrap();
        let b = driver.register(t0 + MS, &tagged(1, &log)).unwrap();
        driver.cancel(a);
        driver.cancel(a);
        assert_eq!(driver.live_entries(), 1);
        driver.process(t0 + MS);
        driver.cancel(b);
        assert_eq!(take(&log), [1]);
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    fn shutdown_wakes_everything_and_later_registrations_complete() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        let key = driver.register(t0 + 10 * MS, &tagged(0, &log)).unwrap();
        driver
            .register(t0 + Duration::from_secs(86_400), &tagged(1, &log))
            .unwrap();
        driver.shutdown();
        let mut fired = take(&log);
        fired.sort();
        assert_eq!(fired, [0, 1]);
        assert_eq!(driver.live_entries(), 0);
        assert_eq!(driver.next_expiration(), None);
        assert!(!driver.is_registered(key));
        assert!(driver.register(t0 + 10 * MS, &tagged(2, &log)).is_none());
        assert!(driver.is_due(t0 + Duration::from_secs(1)));
        driver.shutdown();
        assert!(take(&log).is_empty());
    }

    #[test]
    fn far_deadlines_are_reported_and_fire_on_time() {
        let (driver, _) = driver();
        let t0 = driver.origin;
        let log = Arc::default();
        let day = Duration::from_secs(86_400);
        driver
            .register(t0 + 3 * 365 * day, &tagged(0, &log))
            .unwrap();
        driver.register(t0 + day, &tagged(1, &log)).unwrap();
        let mut rounds = 0;
        while let Some(next) = driver.next_expiration() {
            rounds += 1;
            assert!(rounds < 1_000);
            driver.process(next);
            for id in take(&log) {
                let deadline = t0 + if id == 0 { 3 * 365 * day } else { day };
                assert_eq!(next, deadline, "fires exactly at its deadline");
            }
        }
        assert_eq!(driver.live_entries(), 0);
    }

    #[test]
    fn coarse_resolutions_round_up_too() {
        let driver = TimeDriver::new(Duration::from_millis(10), Arc::new(|| {}));
        let t0 = driver.origin;
        let log = Arc::default();
        driver.register(t0 + MS, &tagged(0, &log)).unwrap();
        assert_eq!(driver.next_expiration(), Some(t0 + 10 * MS));
        assert_eq!(driver.process(t0 + 9 * MS), 0);
        assert_eq!(driver.process(t0 + 10 * MS), 1);
    }
}
