//! The same code runs under std or under loom (`RUSTFLAGS="--cfg loom"`), so
//! lock-free structures can be model checked. Everything atomic or
//! `UnsafeCell` in the runtime comes from here.

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

/// What a spin loop does between looks at the lock word: yield the core
/// (under loom, a point where the model may switch threads).
#[cfg(not(loom))]
pub(crate) mod thread {
    pub(crate) use std::thread::yield_now;
}

#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::yield_now;
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

/// `UnsafeCell` with loom's closure API, so accesses are tracked under loom.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the value.
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable pointer to the value.
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Locks a shim mutex, ignoring poisoning like `task::lock` (every critical
/// section in the runtime is a plain field update).
pub(crate) fn lock<T>(m: &sync::Mutex<T>) -> sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Helpers the loom models share.
#[cfg(all(test, loom))]
pub(crate) mod model {
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::sync::atomic::{AtomicUsize, Ordering};

    /// A task's waker, counting its wakes where loom sees them.
    #[derive(Default)]
    pub(crate) struct Task {
        wakes: AtomicUsize,
    }

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A counting task and a waker for it.
    pub(crate) fn task() -> (Arc<Task>, Waker) {
        let task = Arc::new(Task::default());
        (task.clone(), Waker::from(task))
    }

    /// How often `task`'s waker was woken.
    pub(crate) fn wakes(task: &Task) -> usize {
        task.wakes.load(Ordering::SeqCst)
    }
}
