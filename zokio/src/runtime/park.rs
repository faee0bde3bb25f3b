//! A waker that unparks the thread blocked in `block_on`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Wake;
use std::thread::Thread;

pub(crate) struct ThreadWaker {
    thread: Thread,
    /// Set by a wake, cleared before each poll: tells `block_on` whether the
    /// main future needs polling again.
    woken: AtomicBool,
}

impl ThreadWaker {
    pub(crate) fn current() -> Arc<Self> {
        Arc::new(ThreadWaker {
            thread: std::thread::current(),
            // The first poll happens unconditionally.
            woken: AtomicBool::new(true),
        })
    }

    pub(crate) fn take_woken(&self) -> bool {
        self.woken.swap(false, Ordering::AcqRel)
    }

    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(Ordering::Acquire)
    }
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        // The park token persists, so an unpark that lands before the park
        // is not lost.
        self.thread.unpark();
    }
}
