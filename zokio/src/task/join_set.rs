//! `JoinSet`: a collection of tasks awaited in completion order.

use std::fmt;
use std::future::{Future, poll_fn};
use std::task::{Context, Poll};

use super::{AbortHandle, JoinError, JoinHandle};

/// A set of tasks on the current runtime, joined in the order they finish.
/// Dropping the set aborts every task still in it.
///
/// `join_next` polls the members in turn, so one call costs O(len); keep
/// very large fan-outs in several sets or await the handles directly.
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// let total = Rt::block_on(async {
///     let mut set = zokio::task::JoinSet::new();
///     for i in 1..=4 {
///         set.spawn(async move { i * 10 });
///     }
///     let mut total = 0;
///     while let Some(result) = set.join_next().await {
///         total += result.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 100);
/// ```
pub struct JoinSet<T> {
    tasks: Vec<JoinHandle<T>>,
    /// Where `join_next` resumes, so early members do not starve later ones.
    cursor: usize,
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        JoinSet {
            tasks: Vec::new(),
            cursor: 0,
        }
    }

    /// Tasks in the set (finished ones count until they are joined).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Aborts every task in the set; they stay in it until joined.
    pub fn abort_all(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Removes every task from the set without aborting it.
    pub fn detach_all(&mut self) {
        self.tasks.clear();
    }

    /// Waits for the next task to finish and returns its result, or `None`
    /// when the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Aborts every task and waits until all of them have finished.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        self.tasks.push(handle);
        abort
    }

    /// The polling form of [`join_next`](Self::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        let n = self.tasks.len();
        if n == 0 {
            return Poll::Ready(None);
        }
        for step in 0..n {
            let i = (self.cursor + step) % n;
            if let Poll::Ready(result) = std::pin::Pin::new(&mut self.tasks[i]).poll(cx) {
                self.tasks.swap_remove(i);
                self.cursor = i;
                return Poll::Ready(Some(result));
            }
        }
        Poll::Pending
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns `future` on the current runtime and adds it to the set.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime, like [`spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(crate::spawn(future))
    }

    /// Spawns `future` on the runtime of `handle` and adds it to the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &crate::runtime::Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs the blocking function `f` on the blocking pool and adds it to the set.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert(crate::task::spawn_blocking(f))
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns `future`, which need not be `Send`, onto the
    /// [`LocalSet`](crate::task::LocalSet) being run on this thread (see
    /// [`spawn_local`](crate::task::spawn_local)) and adds it to the set.
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet`.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(crate::task::spawn_local(future))
    }

    /// Spawns `future`, which need not be `Send`, onto `local_set` and adds
    /// it to the set.
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, future: F, local_set: &crate::task::LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(local_set.spawn_local(future))
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
