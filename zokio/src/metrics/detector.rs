//! The blocked-worker detector: workers say which task they are polling; a
//! monitor thread notices a poll that stays in progress for too long and
//! logs it while it is still stuck.
//!
//! Each worker publishes its polls in an [`Activity`], a sequence number
//! that is odd during a poll, with the task's id and spawn location written
//! just before it turns odd (a seqlock, one writer). The monitor looks every
//! half threshold; when it sees the same odd number three times in a row,
//! that one poll has run for at least two half-thresholds, and it logs a
//! warning naming the task, once per task.

use std::collections::HashSet;
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::task::Id;
use crate::task::lock;

/// One worker's current poll, as published to the monitor.
#[repr(align(64))]
pub(crate) struct Activity {
    /// Odd while a poll is in progress; bumped at its start and its end.
    seq: AtomicU64,
    /// The polled task's id (written before `seq` turns odd).
    id: AtomicU64,
    /// The polled task's spawn location (always a `&'static Location`).
    location: AtomicPtr<Location<'static>>,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Activity {
            seq: AtomicU64::new(0),
            id: AtomicU64::new(0),
            location: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// A poll of task `id`, spawned at `location`, begins. Called only by
    /// the thread that is this worker.
    #[inline]
    pub(crate) fn start(&self, id: Id, location: &'static Location<'static>) {
        // Release: a monitor that reads these values also sees the `seq`
        // they belong to or a later one (the seqlock's check).
        self.id.store(id.0, Ordering::Release);
        self.location.store(
            location as *const Location<'static> as *mut Location<'static>,
            Ordering::Release,
        );
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Release);
    }

    /// The poll ended.
    #[inline]
    pub(crate) fn end(&self) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Release);
    }

    /// The poll in progress: its sequence number, task id and location.
    fn observe(&self) -> Option<(u64, u64, &'static Location<'static>)> {
        let seq = self.seq.load(Ordering::Acquire);
        if seq.is_multiple_of(2) {
            return None;
        }
        let id = self.id.load(Ordering::Relaxed);
        let location = self.location.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != seq || location.is_null() {
            return None;
        }
        // SAFETY: `location` is only ever stored from a `&'static Location`
        // (`start`), and it is not null.
        Some((seq, id, unsafe { &*location }))
    }
}

/// The monitor thread; stopped and joined when dropped.
pub(crate) struct Monitor {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Starts watching `activities` (one per worker of runtime `name`).
    pub(crate) fn start(
        name: &'static str,
        threshold: Duration,
        activities: Arc<[Activity]>,
    ) -> std::io::Result<Monitor> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("{name}-blocking-detector"))
                .stack_size(64 * 1024)
                .spawn(move || watch(name, threshold, &activities, &stop))?
        };
        Ok(Monitor {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(name: &str, threshold: Duration, activities: &[Activity], stop: &(Mutex<bool>, Condvar)) {
    let period = threshold / 2;
    // Per worker: the poll last seen in progress and how many looks in a
    // row found it still there.
    let mut seen = vec![(0u64, 0u32); activities.len()];
    let mut warned = HashSet::new();
    loop {
        {
            let stopped = lock(&stop.0);
            // Waits the whole period unless stopped (spurious wake-ups
            // resume the wait), so looks are at least `period` apart.
            let (stopped, _) = stop
                .1
                .wait_timeout_while(stopped, period, |stopped| !*stopped)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *stopped {
                return;
            }
        }
        for (worker, (activity, seen)) in activities.iter().zip(seen.iter_mut()).enumerate() {
            match activity.observe() {
                Some((seq, id, location)) if seq == seen.0 => {
                    seen.1 += 1;
                    if seen.1 == 2 && warned.insert(id) {
                        log::warn!(
                            target: "zokio",
                            "task {id} (spawned at {location}) has been running one poll for \
                             more than {threshold:?} on worker {worker} of runtime `{name}`, \
                             blocking that worker: move blocking calls into \
                             `zokio::task::spawn_blocking`"
                        );
                    }
                }
                Some((seq, ..)) => *seen = (seq, 0),
                None => *seen = (0, 0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observe_sees_a_poll_in_progress_only() {
        let a = Activity::new();
        assert!(a.observe().is_none());
        let here = Location::caller();
        a.start(Id(7), here);
        let (seq, id, at) = a.observe().unwrap();
        assert_eq!((seq % 2, id), (1, 7));
        assert_eq!(at, here);
        a.end();
        assert!(a.observe().is_none());
    }
}
