//! The runtime: building it from a [`Spec`], running futures on it, and the
//! [`Handle`] that reaches it from anywhere.

mod blocking;
pub(crate) mod io;
mod park;
pub(crate) mod queue;
pub(crate) mod scheduler;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

use crate::metrics::{Monitor, RuntimeMetrics, TaskDump};
use crate::spec::{self, Flavor, Spec};
use crate::task::JoinHandle;
use crate::task::raw::{Schedule, new_task};
use blocking::{BlockingPool, PoolConfig};
use park::ThreadWaker;
use scheduler::{SchedulerHandle, Shared};

pub use blocking::BlockingPoolState;
pub use io::ActiveBackend;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// Whether this thread drives a runtime: it is a worker, or it is inside
    /// `block_on`. Blocking-pool threads and [`Handle::enter`] only set
    /// `CURRENT`, so they may still call `block_on` (as in tokio).
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// Makes `handle` the current runtime of this thread until the guard drops.
pub(crate) struct CurrentGuard {
    previous: Option<Handle>,
    /// `DRIVING` before [`enter_driving`]; `None` for [`enter`].
    was_driving: Option<bool>,
}

/// Makes `handle` current (for `spawn`, sockets, timers), without marking
/// the thread as driving a runtime.
pub(crate) fn enter(handle: Handle) -> CurrentGuard {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(handle));
    CurrentGuard {
        previous,
        was_driving: None,
    }
}

/// [`enter`], and marks the thread as driving the runtime (a worker, or
/// `block_on`), so a nested `block_on` is refused.
fn enter_driving(handle: Handle) -> CurrentGuard {
    let mut guard = enter(handle);
    guard.was_driving = Some(DRIVING.replace(true));
    guard
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        if let Some(was) = self.was_driving {
            DRIVING.set(was);
        }
    }
}

/// The runtime flavor [`Handle::runtime_flavor`] reports (tokio's name for
/// [`spec::Flavor`]).
pub use crate::spec::Flavor as RuntimeFlavor;

/// Returned by [`Handle::enter`] and [`Runtime::enter`]: while it lives,
/// the runtime is this thread's current one (so `zokio::spawn`, sockets and
/// timers work outside `block_on`); dropping it restores the previous one.
///
/// Guards must be dropped in the reverse order of their creation, on the
/// thread that created them (the guard is not `Send`).
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard<'a> {
    _current: CurrentGuard,
    _handle: PhantomData<&'a Handle>,
    /// Restores a thread-local: must drop on the thread it was made on.
    _not_send: PhantomData<*const ()>,
}

impl EnterGuard<'_> {
    /// Makes `handle` current; the lifetime ties the guard to the borrow of
    /// the `Handle` or `Runtime` it was made from.
    fn new(handle: Handle) -> Self {
        EnterGuard {
            _current: enter(handle),
            _handle: PhantomData,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

/// A reference to a running runtime: spawn onto it from any thread.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<dyn SchedulerHandle>,
}

/// Returned by [`Handle::try_current`] outside a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no zokio runtime is running on this thread")
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    /// The runtime running on this thread.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime, with a message saying how to get one. Use
    /// [`Handle::try_current`] to get an error instead.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(_) => no_runtime(),
        }
    }

    /// The runtime running on this thread, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        CURRENT
            .with(|c| c.borrow().clone())
            .ok_or(TryCurrentError(()))
    }

    /// Runs `f` with the current runtime's handle, borrowed (no reference
    /// count traffic), or `None` outside a runtime.
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
        CURRENT.with(|c| f(c.borrow().as_ref()))
    }

    /// [`with_current`](Self::with_current), or `None` while this thread's
    /// locals are being destroyed.
    #[cfg(feature = "test-util")]
    pub(crate) fn try_with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> Option<R> {
        CURRENT.try_with(|c| f(c.borrow().as_ref())).ok()
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_at(future, Location::caller())
    }

    /// [`spawn`](Self::spawn), recording `location` as the spawn site.
    pub(crate) fn spawn_at<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let scheduler: Arc<dyn Schedule> = self.shared.clone();
        let (owned, join, notified) = new_task(future, scheduler, crate::task::next_id(), location);
        self.shared.spawn_task(owned, notified);
        // SAFETY: `join` carries the JoinHandle's reference; the output type is F::Output.
        unsafe { JoinHandle::new(join) }
    }

    /// Runs the blocking function `f` on the runtime's blocking pool.
    ///
    /// The pool starts at most `blocking.max_threads` threads; when all are
    /// busy, `f` waits in a queue. If the runtime shuts down before `f`
    /// starts, the handle reports a cancelled [`JoinError`](crate::task::JoinError).
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.blocking().spawn(f)
    }

    /// The runtime's timer driver.
    pub(crate) fn time_driver(&self) -> &Arc<crate::time::driver::TimeDriver> {
        self.shared.time()
    }

    /// The I/O backend the runtime runs (see [`Runtime::backend`]).
    pub fn backend(&self) -> ActiveBackend {
        self.shared.io().backend()
    }

    /// Threads, idle threads and queued jobs of the blocking pool now.
    pub fn blocking_pool_state(&self) -> BlockingPoolState {
        self.shared.blocking().state()
    }

    /// A snapshot of the runtime's counters and gauges (see
    /// [`metrics`](crate::metrics)); the counters are zero unless the
    /// runtime was declared with `metrics = true`.
    ///
    /// ```
    /// zokio::runtime! { Rt { flavor = "current_thread", metrics = true } }
    ///
    /// Rt::block_on(async {
    ///     zokio::spawn(async {}).await.unwrap();
    ///     let m = zokio::runtime::Handle::current().metrics();
    ///     assert_eq!(m.spawned_tasks(), 1);
    /// });
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.shared.metrics()
    }

    /// The tasks alive now: id, spawn location, state and (with metrics on)
    /// poll count and time since the last poll. See
    /// [`TaskDump`].
    pub fn dump(&self) -> TaskDump {
        self.shared.dump()
    }

    /// Runs `future` to completion on the calling thread with this runtime as
    /// the current one. Spawned tasks run on the runtime's own threads (or,
    /// for `current_thread`, on whichever thread is in `Runtime::block_on`).
    ///
    /// This is how synchronous code reaches async code: from a
    /// [`spawn_blocking`](crate::task::spawn_blocking) closure or any other
    /// thread that is not a worker, `Handle::current().block_on(...)`.
    ///
    /// # Panics
    ///
    /// Panics when called on a thread that drives a runtime (a worker, or
    /// inside another `block_on`), which it would block; `.await` the future
    /// there instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert_not_in_runtime();
        let _guard = enter_driving(self.clone());
        park_on(future, || false)
    }

    /// Makes this runtime the current one of this thread until the guard
    /// drops, as tokio's `Handle::enter` does: `zokio::spawn`, sockets and
    /// timers then work from code that is not inside `block_on` or a task.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard::new(self.clone())
    }

    /// Whether this runtime is `current_thread` or `multi_thread`.
    pub fn runtime_flavor(&self) -> RuntimeFlavor {
        self.shared.flavor()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("flavor", &self.shared.flavor())
            .finish()
    }
}

/// The panic for runtime-only calls made outside a runtime.
#[track_caller]
pub(crate) fn no_runtime() -> ! {
    panic!(
        "there is no zokio runtime running on this thread: call this from inside \
         `Runtime::block_on`, a `#[zokio::main]` or `#[zokio::test]` function, or a task \
         spawned on a runtime; from another thread, pass it a `Handle` \
         (`runtime.handle().clone()`)"
    )
}

#[track_caller]
fn assert_not_in_runtime() {
    if DRIVING.get() {
        panic!(
            "cannot block on a future from inside a zokio runtime: this thread is already \
             driving one (it is a worker, or inside `block_on`); `.await` the future instead, \
             or move the blocking call into `zokio::task::spawn_blocking` or \
             `std::thread::spawn`"
        );
    }
}

/// Polls `future` on this thread, parking when it is not ready. Between
/// polls `run_other_work` runs; it returns whether it made progress (so the
/// thread must not park yet).
fn park_on<F: Future>(future: F, mut run_other_work: impl FnMut() -> bool) -> F::Output {
    let mut future = pin!(future);
    let notify = ThreadWaker::current();
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if notify.take_woken()
            && let Poll::Ready(out) = future.as_mut().poll(&mut cx)
        {
            return out;
        }
        if !run_other_work() && !notify.is_woken() {
            std::thread::park();
        }
    }
}

/// A runtime generated from the configuration `S`.
///
/// Build it with `AppRuntime::build()` (or `Runtime::<AppRuntime>::build()`)
/// and drop it to shut it down: every unfinished task is cancelled and its
/// destructor runs, and worker threads are joined.
pub struct Runtime<S: Spec> {
    shared: Arc<Shared<S>>,
    workers: Vec<ThreadHandle<()>>,
    /// Set by `shutdown_timeout`/`shutdown_background`, which already decided
    /// how long to wait for the blocking pool.
    blocking_released: bool,
    /// The blocked-worker detector's thread (`detect_blocking` set).
    monitor: Option<Monitor>,
    _spec: PhantomData<S>,
}

impl<S: Spec> Runtime<S> {
    /// Checks `S` at compile time (see [`spec::assert_valid`]).
    const VALID: () = spec::assert_valid::<S>();

    /// Starts the runtime: for `multi_thread`, its worker threads.
    pub fn build() -> std::io::Result<Self> {
        Self::build_with(false)
    }

    /// Builds a runtime that only the calling thread will ever drive (one
    /// `block_on`, then the drop, on this thread: `#[zokio::main]`,
    /// `#[zokio::test]` and `AppRuntime::block_on`). A `current_thread`
    /// io_uring ring can then be single-issuer with deferred completion
    /// work, as a `multi_thread` worker's is; a runtime built with
    /// [`build`](Self::build) may be driven by any thread's `block_on`, so
    /// its ring cannot.
    pub(crate) fn build_single_driver() -> std::io::Result<Self> {
        Self::build_with(true)
    }

    fn build_with(single_driver: bool) -> std::io::Result<Self> {
        let () = Self::VALID;
        let blocking = BlockingPool::new(PoolConfig {
            name: S::NAME,
            max_threads: S::BLOCKING_MAX_THREADS,
            keep_alive: S::BLOCKING_KEEP_ALIVE,
            stack_size: S::THREAD_STACK_SIZE,
        });
        let workers = match S::FLAVOR {
            Flavor::CurrentThread => 1,
            Flavor::MultiThread => S::WORKERS.resolve(),
        };
        let shared = Shared::<S>::new(workers, blocking.clone(), single_driver)?;
        let as_handle: Arc<dyn SchedulerHandle> = shared.clone();
        blocking.set_runtime(&as_handle);
        let mut runtime = Runtime {
            shared,
            workers: Vec::new(),
            blocking_released: false,
            monitor: None,
            _spec: PhantomData,
        };
        if let Some(threshold) = S::DETECT_BLOCKING {
            runtime.monitor = Some(Monitor::start(
                S::NAME,
                threshold,
                runtime.shared.activity().clone(),
            )?);
        }
        if S::FLAVOR == Flavor::MultiThread {
            for index in 0..workers {
                let handle = runtime.handle();
                let shared = runtime.shared.clone();
                let worker = std::thread::Builder::new()
                    .name(format!("{}-worker-{index}", S::NAME))
                    .stack_size(S::THREAD_STACK_SIZE)
                    .spawn(move || {
                        let _runtime = enter_driving(handle);
                        shared.run_worker(index);
                    })?;
                // On error `runtime` drops here and shuts down the workers started so far.
                runtime.workers.push(worker);
            }
        }
        Ok(runtime)
    }

    /// A handle to spawn onto this runtime from anywhere.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// Makes this runtime the current one of this thread until the guard
    /// drops (see [`Handle::enter`]).
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard::new(self.handle())
    }

    /// Spawns a task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn(future)
    }

    /// Runs the blocking function `f` on the blocking pool (see
    /// [`Handle::spawn_blocking`]).
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle().spawn_blocking(f)
    }

    /// Shuts down, waiting at most `timeout` for blocking-pool work that is
    /// already running; threads still busy after that are left to finish on
    /// their own. Unfinished async tasks are cancelled either way.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown_tasks();
        self.shared.blocking().shutdown(Some(timeout));
        self.blocking_released = true;
    }

    /// Shuts down without waiting for blocking-pool work that is running.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    /// Runs `future` to completion on the calling thread, with this runtime
    /// as the current one. On a `current_thread` runtime the calling thread
    /// also runs the spawned tasks.
    ///
    /// # Panics
    ///
    /// Panics when called on a thread that drives a runtime (a worker, or
    /// inside another `block_on`), which it would block; `.await` the future
    /// there instead. Threads of the blocking pool (`spawn_blocking`) and
    /// threads in [`Runtime::enter`] may call it, as in tokio.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert_not_in_runtime();
        let _guard = enter_driving(self.handle());
        if S::FLAVOR == Flavor::CurrentThread
            && let Some(_driver) = self.shared.claim_driver()
        {
            return drive_current_thread(&self.shared, future);
        }
        park_on(future, || false)
    }

    /// A readable summary of the configuration (see [`spec::describe`]),
    /// with the I/O backend this runtime actually runs (what `auto`
    /// resolved to).
    pub fn describe(&self) -> String {
        let mut out = spec::describe::<S>();
        out.push_str(&format!(
            "\n  backend in use        = {}",
            self.shared.io().backend().as_str()
        ));
        let features = self.shared.io().optional_features();
        if !features.is_empty() {
            out.push_str(&format!(" ({})", features.join(", ")));
        }
        if let Some(why) = self.shared.io().fallback() {
            out.push_str(&format!(" (io_uring rings could not be created: {why})"));
        }
        out
    }

    /// The I/O backend this runtime runs: the configured one, or for
    /// `backend = "auto"` what the start-up probe chose.
    pub fn backend(&self) -> ActiveBackend {
        self.shared.io().backend()
    }

    /// A snapshot of the runtime's counters and gauges (see
    /// [`Handle::metrics`]).
    pub fn metrics(&self) -> RuntimeMetrics {
        self.shared.metrics()
    }

    /// The tasks alive now (see [`Handle::dump`]).
    pub fn dump(&self) -> TaskDump {
        self.shared.dump()
    }
}

/// Wakes the `current_thread` driver for its main future.
struct MainWaker<S: Spec> {
    woken: AtomicBool,
    shared: Arc<Shared<S>>,
}

impl<S: Spec> Wake for MainWaker<S> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.shared.driver_parker().unpark();
    }
}

/// The `current_thread` loop: the main future, then a batch of tasks, then
/// sleep when neither has anything to do.
fn drive_current_thread<S: Spec, F: Future>(shared: &Arc<Shared<S>>, future: F) -> F::Output {
    let mut future = pin!(future);
    let main = Arc::new(MainWaker {
        woken: AtomicBool::new(true),
        shared: shared.clone(),
    });
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut tick = 0;
    let mut last_io = 0;
    loop {
        if main.woken.swap(false, Ordering::AcqRel)
            && let Poll::Ready(out) =
                crate::task::coop::with_budget(S::BUDGET, || future.as_mut().poll(&mut cx))
        {
            return out;
        }
        let ran = shared.run_batch(&mut tick, || main.woken.load(Ordering::Acquire));
        if !ran && !main.woken.load(Ordering::Acquire) && !shared.has_local_work() {
            shared.park_driver(|| main.woken.load(Ordering::Acquire));
        } else {
            shared.maintenance(tick, &mut last_io);
        }
    }
}

impl<S: Spec> Runtime<S> {
    /// Cancels every task and joins the workers; idempotent.
    fn shutdown_tasks(&mut self) {
        // No more warnings about polls cut short by the shutdown.
        drop(self.monitor.take());
        self.shared.begin_shutdown();
        for worker in self.workers.drain(..) {
            // A worker only exits by returning (task panics are caught).
            let _ = worker.join();
        }
        // Tasks a worker was running while shutdown began are cancelled now.
        let _guard = CURRENT
            .with(|c| c.borrow().is_none())
            .then(|| enter(self.handle()));
        self.shared.finish_shutdown();
    }
}

impl<S: Spec> Drop for Runtime<S> {
    /// Cancels every task, joins the workers and waits for running
    /// blocking-pool work, like tokio.
    fn drop(&mut self) {
        self.shutdown_tasks();
        if !self.blocking_released {
            self.shared.blocking().shutdown(None);
        }
    }
}

impl<S: Spec> fmt::Debug for Runtime<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("spec", &S::NAME)
            .field("flavor", &S::FLAVOR)
            .field("worker_threads", &self.workers.len())
            .finish()
    }
}
