//! [`ZokioExecutor`]: hyper spawns its background tasks on zokio.

use std::future::Future;

/// hyper's [`Executor`](::hyper::rt::Executor): runs each future hyper hands
/// it (HTTP/2 streams and connection tasks, client connection pools) as a
/// zokio task with [`zokio::spawn`](crate::spawn).
///
/// The tasks run on the runtime of the thread that calls `execute`; hyper
/// calls it while polling a connection, so that is the runtime serving the
/// connection. The [`JoinHandle`](crate::task::JoinHandle) is dropped: the
/// task runs detached, as hyper expects, and ends when hyper's future does
/// (or when the runtime shuts down).
///
/// # Panics
///
/// `execute` panics when called outside a zokio runtime.
///
/// ```
/// use hyper::rt::Executor;
/// use zokio::compat::hyper::ZokioExecutor;
/// use zokio::sync::oneshot;
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let (tx, rx) = oneshot::channel();
///     ZokioExecutor::new().execute(async move { tx.send(42).unwrap() });
///     assert_eq!(rx.await.unwrap(), 42);
/// });
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZokioExecutor {
    _private: (),
}

impl ZokioExecutor {
    /// An executor spawning on the current zokio runtime.
    ///
    /// ```
    /// let executor = zokio::compat::hyper::ZokioExecutor::new();
    /// # let _ = executor;
    /// ```
    pub fn new() -> Self {
        ZokioExecutor { _private: () }
    }
}

impl<F> ::hyper::rt::Executor<F> for ZokioExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        drop(crate::spawn(future));
    }
}
