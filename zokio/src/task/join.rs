//! `JoinHandle`, `AbortHandle` and `JoinError`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::raw::{self, Id, Panic, TaskRef};
use super::state::COMPLETE;

/// Why a task did not produce its output.
pub struct JoinError {
    id: Id,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Panic),
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> Self {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: Id, payload: Panic) -> Self {
        JoinError {
            id,
            repr: Repr::Panic(payload),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The task was aborted or its runtime shut down before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume the panic with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// Panics when the error is a cancellation; check [`is_panic`](Self::is_panic) first
    /// or use [`try_into_panic`](Self::try_into_panic).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a cancelled task; check `is_panic()` first")
    }

    /// The panic payload, or the error back when the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(p) => match panic_message(p.as_ref()) {
                Some(msg) => write!(f, "task {} panicked with message {msg:?}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(p) => match panic_message(p.as_ref()) {
                Some(msg) => write!(f, "JoinError::Panic({}, {msg:?})", self.id),
                None => write!(f, "JoinError::Panic({}, ..)", self.id),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    /// The error's message as an `io::Error` (the panic payload is not `Sync`,
    /// so it stays behind).
    fn from(e: JoinError) -> Self {
        std::io::Error::other(e.to_string())
    }
}

/// An owned permission to await a task's output. Dropping it detaches the
/// task (it keeps running); [`abort`](Self::abort) cancels it.
pub struct JoinHandle<T> {
    task: TaskRef,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output (T: Send) across threads; the
// task itself is shared through atomics.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows abort/is_finished/id, which use atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    ///
    /// `task` carries the JoinHandle's reference, and its output type is `T`.
    pub(crate) unsafe fn new(task: TaskRef) -> Self {
        JoinHandle {
            task,
            _output: PhantomData,
        }
    }

    /// Cancels the task. Awaiting the handle then returns a cancelled
    /// [`JoinError`], unless the task had already finished.
    pub fn abort(&self) {
        raw::remote_abort(self.task);
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.header().state.load().is(COMPLETE)
    }

    /// A handle that can abort the task but not await it.
    pub fn abort_handle(&self) -> AbortHandle {
        self.task.header().state.ref_inc();
        AbortHandle { task: self.task }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.task.header().id
    }

    /// Where the task was spawned (for diagnostics and task dumps).
    pub fn spawned_at(&self) -> &'static std::panic::Location<'static> {
        self.task.header().spawned_at
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, super::JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if super::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut out = Poll::Pending;
        // SAFETY: this is the task's JoinHandle and its output type is T.
        unsafe { raw::join_poll(self.task, &mut out, cx.waker()) };
        if out.is_pending() {
            super::coop::refund();
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle's reference is given up here, once.
        unsafe { raw::join_drop(self.task) }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Aborts a task without owning its output; cheap to clone.
pub struct AbortHandle {
    task: TaskRef,
}

impl AbortHandle {
    /// Cancels the task (see [`JoinHandle::abort`]).
    pub fn abort(&self) {
        raw::remote_abort(self.task);
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.task.header().state.load().is(COMPLETE)
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.task.header().id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        self.task.header().state.ref_inc();
        AbortHandle { task: self.task }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: each AbortHandle owns one reference.
        unsafe { self.task.drop_ref() }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
