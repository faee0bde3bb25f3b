//! A spin lock for the owned-task list's shards.
//!
//! Every spawn and every completion takes one shard's lock for a few
//! stores, and a shard is almost never contended (16 shards, critical
//! sections of a few nanoseconds). There `std::sync::Mutex` pays two locked
//! instructions per section (the acquiring compare-exchange and the
//! releasing swap, which must learn whether a sleeper needs waking); this
//! lock pays one, and releases with a plain store. Measured on
//! `spawn_many_local` (see `benches/RESULTS.md`).
//!
//! A thread that finds the lock held spins briefly, then yields its core
//! until the holder is done: no sleeping, so only for sections that never
//! block (the holder must not wait for anything, and must not take the
//! same lock again).

use std::hint::spin_loop;

use crate::loom::UnsafeCell;
use crate::loom::sync::atomic::AtomicBool;
use crate::loom::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::loom::thread::yield_now;

/// Spins with the pause hint this many times before yielding the core.
const SPINS: u32 = 64;

pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with`, which holds the lock,
// so at most one thread accesses it at a time; moving it between threads
// needs `T: Send`.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: as above: shared access to the lock hands out exclusive access to
// the value, one thread at a time, so `T: Send` suffices.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Releases the lock when dropped, also when the section panics (the
/// runtime's sections are plain field updates, consistent at every step, so
/// there is nothing to poison).
struct Unlock<'a>(&'a AtomicBool);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        // Release: the section's writes happen before the next holder's
        // Acquire of the lock word.
        self.0.store(false, Release);
    }
}

impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with exclusive access to the value.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: this thread holds the lock (taken above with Acquire, so
        // the previous holder's writes are visible), and no other `&mut`
        // to the value exists until `_unlock` releases it after `f`.
        self.value.with_mut(|value| f(unsafe { &mut *value }))
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            // Wait with plain loads, so waiting threads do not bounce the
            // cache line between them; try again once it looks free.
            while self.locked.load(Relaxed) {
                if cfg!(not(loom)) && spins < SPINS {
                    spins += 1;
                    spin_loop();
                } else {
                    yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::SpinLock;
    use loom::sync::Arc;
    use loom::thread;

    /// Two threads update a pair under the lock and read it back: a torn
    /// or lost update would fail the asserts, and loom checks the cell's
    /// accesses for races (two holders at once, or a missing
    /// happens-before between one holder's writes and the next's reads).
    #[test]
    fn loom_spin_lock_mutual_exclusion() {
        loom::model(|| {
            let lock = Arc::new(SpinLock::new((0u32, 0u32)));
            let other = {
                let lock = lock.clone();
                thread::spawn(move || {
                    lock.with(|(a, b)| {
                        *a += 1;
                        *b += 1;
                        (*a, *b)
                    })
                })
            };
            let (a, b) = lock.with(|(a, b)| {
                *a += 1;
                *b += 1;
                (*a, *b)
            });
            assert_eq!(a, b);
            let (c, d) = other.join().unwrap();
            assert_eq!(c, d);
            assert_eq!(lock.with(|pair| *pair), (2, 2));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn a_panicking_section_releases_the_lock() {
        let lock = SpinLock::new(1);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lock.with(|v| {
                *v = 2;
                panic!("in the section");
            })
        }));
        assert!(caught.is_err());
        assert_eq!(lock.with(|v| *v), 2);
    }

    #[test]
    fn threads_take_turns() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        lock.with(|v| *v += 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(lock.with(|v| *v), 40_000);
    }
}
