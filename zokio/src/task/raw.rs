//! The interim task representation: an `Arc<Task>` holding the boxed future,
//! scheduled through [`std::task::Wake`].

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::JoinError;
use crate::runtime::scheduler::Shared;

/// Locks a mutex whose data stays consistent even if a holder panicked (every
/// critical section here is a plain field update).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A spawned task as the scheduler sees it.
pub(crate) struct Task {
    pub(crate) id: u64,
    /// `None` once the task has completed or been cancelled.
    future: Mutex<Option<BoxFuture>>,
    /// Set while the task is in a run queue, so a burst of wakes queues it once.
    scheduled: AtomicBool,
    scheduler: Arc<Shared>,
}

impl Task {
    pub(crate) fn new(id: u64, future: BoxFuture, scheduler: Arc<Shared>) -> Arc<Self> {
        Arc::new(Task {
            id,
            future: Mutex::new(Some(future)),
            scheduled: AtomicBool::new(true),
            scheduler,
        })
    }

    /// Polls the task once. Returns `true` when it has finished.
    pub(crate) fn run(self: &Arc<Self>) -> bool {
        // Cleared before polling so a wake during the poll queues it again.
        self.scheduled.store(false, Ordering::Release);
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut slot = lock(&self.future);
        let Some(future) = slot.as_mut() else {
            return true;
        };
        // The wrapper catches panics itself, so polling never unwinds here.
        if future.as_mut().poll(&mut cx).is_ready() {
            *slot = None;
            return true;
        }
        false
    }

    /// Drops the future (its destructors run on this thread).
    pub(crate) fn cancel(&self) {
        let future = lock(&self.future).take();
        drop(future);
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.scheduler.schedule(self.clone());
        }
    }
}

/// What the task and its `JoinHandle` share.
pub(crate) struct JoinState<T> {
    inner: Mutex<JoinSlot<T>>,
    aborted: AtomicBool,
    /// Wakes the task so it notices an abort.
    task_waker: Mutex<Option<Waker>>,
}

struct JoinSlot<T> {
    output: Option<Result<T, JoinError>>,
    finished: bool,
    join_waker: Option<Waker>,
}

impl<T> JoinState<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(JoinState {
            inner: Mutex::new(JoinSlot {
                output: None,
                finished: false,
                join_waker: None,
            }),
            aborted: AtomicBool::new(false),
            task_waker: Mutex::new(None),
        })
    }

    pub(crate) fn complete(&self, output: Result<T, JoinError>) {
        let waker = {
            let mut slot = lock(&self.inner);
            if slot.finished {
                return;
            }
            slot.output = Some(output);
            slot.finished = true;
            slot.join_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        if let Some(w) = lock(&self.task_waker).take() {
            w.wake();
        }
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.inner).finished
    }

    pub(crate) fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut slot = lock(&self.inner);
        if let Some(out) = slot.output.take() {
            return Poll::Ready(out);
        }
        assert!(
            !slot.finished,
            "`JoinHandle` polled after it returned its output"
        );
        slot.join_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The future stored in a [`Task`]: runs the user's future, catches its
/// panics, honours aborts, and hands the output to the `JoinHandle`.
pub(crate) struct Harness<F: Future> {
    future: Option<Pin<Box<F>>>,
    state: Arc<JoinState<F::Output>>,
}

impl<F: Future> Harness<F> {
    pub(crate) fn new(future: F, state: Arc<JoinState<F::Output>>) -> Self {
        Harness {
            future: Some(Box::pin(future)),
            state,
        }
    }
}

impl<F: Future> Future for Harness<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.state.aborted.load(Ordering::Acquire) {
            this.future = None;
            this.state.complete(Err(JoinError::cancelled()));
            return Poll::Ready(());
        }
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(());
        };
        *lock(&this.state.task_waker) = Some(cx.waker().clone());
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => {
                this.future = None;
                this.state.complete(Ok(out));
                Poll::Ready(())
            }
            Err(payload) => {
                // Dropping a panicking future may panic again; the task is
                // already failed, so that second panic is contained too.
                let future = this.future.take();
                let _ = catch_unwind(AssertUnwindSafe(move || drop(future)));
                this.state.complete(Err(JoinError::panic(payload)));
                Poll::Ready(())
            }
        }
    }
}

impl<F: Future> Drop for Harness<F> {
    fn drop(&mut self) {
        // Dropped before completing: the runtime shut down or the task was
        // cancelled. The future's destructor runs first, then the handle
        // learns the task was cancelled.
        if self.future.is_some() {
            let future = self.future.take();
            let _ = catch_unwind(AssertUnwindSafe(move || drop(future)));
            self.state.complete(Err(JoinError::cancelled()));
        }
    }
}
