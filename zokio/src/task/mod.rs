//! Tasks: spawning, joining, aborting.
//!
//! A task is one heap allocation (header, scheduler, future or output, join
//! waker) whose lifecycle and reference count share one atomic word (see
//! `state.rs`).

pub(crate) mod coop;
mod join;
mod join_set;
mod local;
pub(crate) mod owned;
pub(crate) mod raw;
mod spin;
pub(crate) mod state;
mod task_local;

pub use coop::{Unconstrained, consume_budget, unconstrained};
pub use join::{AbortHandle, JoinError, JoinHandle};
pub use join_set::JoinSet;
pub use local::{LocalEnterGuard, LocalSet, spawn_local};
pub use raw::Id;
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex whose data stays consistent even if a holder panicked
/// (every critical section in the runtime is a plain field update).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Ids a thread takes from the global counter at a time.
const ID_BLOCK: u64 = 256;

/// A fresh task id: unique in the process, increasing in spawn order on
/// each thread. Each thread hands out ids from its own block and takes a new
/// block from the global counter once every `ID_BLOCK` spawns, so a spawn
/// does not pay a locked instruction on a counter every thread shares.
pub(crate) fn next_id() -> Id {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        /// The next id of this thread's block and the block's end.
        static BLOCK: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    BLOCK.with(|block| {
        let (mut next, mut end) = block.get();
        if next == end {
            next = NEXT.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        block.set((next + 1, end));
        Id(next)
    })
}

use std::future::Future;

use crate::runtime::Handle;

/// Spawns a task on the current runtime and returns a handle to its output.
///
/// The task starts running in the background; awaiting the handle is not
/// needed for it to make progress.
///
/// # Panics
///
/// Panics when called outside a zokio runtime (see
/// [`Handle::current`](crate::runtime::Handle::current)).
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// let out = Rt::block_on(async {
///     let handle = zokio::spawn(async { 40 + 2 });
///     handle.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = std::panic::Location::caller();
    let spawned = Handle::with_current(|handle| match handle {
        Some(handle) => Ok(handle.spawn_at(future, location)),
        None => Err(()),
    });
    match spawned {
        Ok(join) => join,
        // Outside the closure, so the panic names the caller's line.
        Err(()) => crate::runtime::no_runtime(),
    }
}

/// Runs the blocking function `f` on the current runtime's blocking pool and
/// returns a handle to its result.
///
/// # Panics
///
/// Panics when called outside a zokio runtime.
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread", blocking(max_threads = 4) } }
///
/// let len = Rt::block_on(async {
///     zokio::task::spawn_blocking(|| std::fs::read_to_string("Cargo.toml").map(|s| s.len()))
///         .await
///         .unwrap()
/// });
/// assert!(len.unwrap() > 0);
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Handle::current().spawn_blocking(f)
}

/// Yields once to the scheduler: the task is woken at once and queued behind
/// the tasks that are ready, so a long computation can let others run.
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     for _ in 0..3 {
///         zokio::task::yield_now().await;
///     }
/// });
/// ```
pub async fn yield_now() {
    struct YieldNow {
        yielded: bool,
    }

    impl Future for YieldNow {
        type Output = ();

        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.yielded {
                return std::task::Poll::Ready(());
            }
            self.yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }

    YieldNow { yielded: false }.await
}

#[cfg(all(test, not(loom)))]
mod tests {
    crate::runtime! { Rt { flavor = "current_thread" } }

    #[test]
    fn spawn_records_the_callers_location() {
        let (line, file) = Rt::block_on(async {
            let line = line!() + 1;
            let handle = crate::spawn(async {});
            let at = handle.spawned_at();
            (line == at.line(), at.file().to_owned())
        });
        assert!(line, "recorded the wrong line");
        assert!(file.ends_with("task/mod.rs"), "{file}");
    }

    #[test]
    fn ids_are_unique_across_threads_and_increase_on_each() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..1_000).map(|_| super::next_id().0).collect::<Vec<_>>())
            })
            .collect();
        let mut all = Vec::new();
        for t in threads {
            let ids: Vec<u64> = t.join().unwrap();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "not increasing on one thread"
            );
            all.extend(ids);
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "an id was handed out twice");
        assert!(!all.contains(&0), "0 is not an id");
    }
}
