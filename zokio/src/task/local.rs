//! Tasks that are not `Send`: [`LocalSet`] and [`spawn_local`], as in
//! tokio.
//!
//! A local task is an ordinary task cell (the same state machine, wakers and
//! `JoinHandle`) whose scheduler is its `LocalSet`: waking it, from any
//! thread, puts it on the set's queue, and only the thread that owns the set
//! polls it, while that thread drives the set (`run_until`, `block_on`, or
//! the set awaited). Its future, and its output unless that is `Send`, are
//! therefore only ever touched on that thread: the set is `!Send`, polls its
//! tasks only inside its own `poll`, and cancels every task it still owns
//! when it is dropped, on that thread. A waker that outlives the set may
//! still free a cell elsewhere, but by then the cell holds neither the
//! future nor a `!Send` output.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::owned::OwnedTasks;
use super::raw::{Notified, Schedule, TaskRef, new_local_task};
use super::{JoinHandle, coop, lock, next_id};

/// Local tasks polled per poll of the set before it yields to the runtime
/// (as tokio's `LocalSet` does), so one set cannot hold a worker forever.
const TASKS_PER_TICK: usize = 61;

/// The budget each local task's poll gets (tokio's default; see `coop`).
const LOCAL_BUDGET: u32 = 128;

thread_local! {
    /// The set that `spawn_local` spawns onto: the innermost one being run
    /// or entered on this thread.
    static CURRENT: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// A set of tasks that run on the current thread and need not be `Send`.
///
/// Spawn onto it with [`spawn_local`](Self::spawn_local) (or, inside it,
/// the free function [`spawn_local`](crate::task::spawn_local)); its tasks
/// make progress while the thread that made it drives it:
/// [`run_until`](Self::run_until) a future completes, [`block_on`](Self::block_on)
/// a runtime, or `.await` the set itself, which completes when every task
/// spawned onto it has.
///
/// ```
/// use std::rc::Rc;
/// use zokio::task::{self, LocalSet};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// let rt = Rt::build().unwrap();
/// let local = LocalSet::new();
/// let total = local.block_on(&rt, async {
///     let shared = Rc::new(20); // not `Send`: no `zokio::spawn` for it
///     let a = task::spawn_local({ let s = shared.clone(); async move { *s + 1 } });
///     let b = task::spawn_local(async move { *shared + 1 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(total, 42);
/// ```
///
/// Differences from tokio: local tasks are not in the runtime's task dumps
/// or its `alive_tasks` count, each poll of one gets tokio's default budget
/// (128) whatever the runtime's `scheduler(budget)` says, and there is no
/// `LocalRuntime` or `task::Builder`.
pub struct LocalSet {
    shared: Arc<Shared>,
    /// Neither `Send` nor `Sync`: the set, its context and its tasks stay
    /// on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

/// What a set's tasks hold (as their scheduler) and what wakers reach from
/// any thread.
struct Shared {
    /// Woken tasks, not yet polled. `None` once the set is dropped: a task
    /// woken after that is not queued (its notification is dropped).
    queue: Mutex<Option<VecDeque<Notified>>>,
    /// Tasks spawned and not complete, each with its owned reference.
    owned: OwnedTasks,
    /// The task driving the set, woken when a local task is.
    waker: Mutex<Option<Waker>>,
}

impl Schedule for Shared {
    fn schedule(&self, task: Notified) {
        {
            let mut queue = lock(&self.queue);
            match queue.as_mut() {
                Some(queue) => queue.push_back(task),
                None => {
                    // The set is gone and has cancelled its tasks: this
                    // notification only holds a reference to a cell whose
                    // future is already dropped.
                    drop(queue);
                    drop(task);
                    return;
                }
            }
        }
        // Taken, not cloned: no waker code runs under the lock. The driving
        // task registers its waker again on each poll.
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn release(&self, task: TaskRef) -> bool {
        self.owned.remove(task)
    }
}

impl Shared {
    /// Polls up to [`TASKS_PER_TICK`] queued tasks; returns whether more
    /// are waiting.
    fn tick(&self) -> bool {
        for _ in 0..TASKS_PER_TICK {
            let next = lock(&self.queue).as_mut().and_then(VecDeque::pop_front);
            let Some(task) = next else {
                return false;
            };
            coop::with_budget(LOCAL_BUDGET, || task.run());
        }
        lock(&self.queue).as_ref().is_some_and(|q| !q.is_empty())
    }

    /// Makes `waker` the one woken when a local task is. The clone and
    /// the drop of the one it replaces run outside the lock (waker code
    /// may call back into `schedule`).
    fn register(&self, waker: &Waker) {
        if lock(&self.waker)
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            return;
        }
        let waker = waker.clone();
        let previous = lock(&self.waker).replace(waker);
        drop(previous);
    }

    #[track_caller]
    fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let scheduler: Arc<dyn Schedule> = self.clone();
        // SAFETY: the set polls its tasks only inside its own `poll`, on the
        // thread that owns it (`LocalSet` is neither `Send` nor `Sync`, and
        // this is reached only through it or through this thread's
        // `CURRENT`), and its `Drop` cancels the tasks it still owns on that
        // thread before the queue stops taking notifications. The
        // `JoinHandle` is `Send` only when the output is.
        let (owned, join, notified) =
            unsafe { new_local_task(future, scheduler, next_id(), std::panic::Location::caller()) };
        if let Some(notified) = self.owned.bind(owned, notified) {
            self.schedule(notified);
        }
        // SAFETY: `join` carries the JoinHandle's reference; the output type
        // is `F::Output`.
        unsafe { JoinHandle::new(join) }
    }
}

/// Makes a set this thread's current one until dropped, then restores the
/// previous one. Does nothing while the thread's locals are being destroyed
/// (a set kept in a `thread_local!` is dropped then).
struct Entered {
    previous: Option<Arc<Shared>>,
    entered: bool,
}

impl Entered {
    fn new(shared: &Arc<Shared>) -> Entered {
        match CURRENT.try_with(|c| c.replace(Some(shared.clone()))) {
            Ok(previous) => Entered {
                previous,
                entered: true,
            },
            Err(_) => Entered {
                previous: None,
                entered: false,
            },
        }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.entered {
            let previous = self.previous.take();
            let _ = CURRENT.try_with(|c| c.replace(previous));
        }
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            shared: Arc::new(Shared {
                queue: Mutex::new(Some(VecDeque::new())),
                owned: OwnedTasks::new(),
                waker: Mutex::new(None),
            }),
            _not_send: PhantomData,
        }
    }

    /// Spawns `future` onto this set; it runs when the set is driven. The
    /// returned handle is `Send` only when the output is.
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.shared.spawn(future)
    }

    /// Runs `future` to completion, driving the set's tasks meanwhile;
    /// inside it, [`spawn_local`](crate::task::spawn_local) spawns onto this
    /// set. Tasks still running when `future` completes stay in the set
    /// (they run again the next time it is driven).
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        RunUntil {
            set: self,
            future: std::pin::pin!(future),
        }
        .await
    }

    /// `rt.block_on(self.run_until(future))`: runs `future` on `rt` from
    /// this thread, with this set's tasks.
    #[track_caller]
    pub fn block_on<S: crate::spec::Spec, F: Future>(
        &self,
        rt: &crate::runtime::Runtime<S>,
        future: F,
    ) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// Makes this the set [`spawn_local`](crate::task::spawn_local) spawns
    /// onto, until the guard is dropped (the tasks run when the set is
    /// driven).
    pub fn enter(&self) -> LocalEnterGuard<'_> {
        LocalEnterGuard {
            _entered: Entered::new(&self.shared),
            _set: PhantomData,
        }
    }

    /// Whether `poll`-ing the set found it done: no task left.
    fn is_empty(&self) -> bool {
        self.shared.owned.len() == 0
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &self.shared.owned.len())
            .finish()
    }
}

/// Awaiting a set runs its tasks until every one has completed.
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _entered = Entered::new(&self.shared);
        self.shared.register(cx.waker());
        if self.shared.tick() {
            // More are queued: let the runtime's other tasks run first.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        // Destructors of the tasks' futures may spawn: onto a closed set,
        // which cancels at once.
        let _entered = Entered::new(&self.shared);
        // Every task still owned is cancelled here, on the owning thread
        // (idle ones are dropped now; none can be running: only this
        // thread polls them, and it is here).
        self.shared.owned.close_and_shutdown_all();
        // Then the queue closes; notifications in it are dropped here and
        // later ones where they happen (they no longer own a future).
        let queued = lock(&self.shared.queue).take();
        drop(queued);
        let waker = lock(&self.shared.waker).take();
        drop(waker);
    }
}

/// The guard of [`LocalSet::enter`].
pub struct LocalEnterGuard<'a> {
    _entered: Entered,
    _set: PhantomData<&'a LocalSet>,
}

impl fmt::Debug for LocalEnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEnterGuard").finish_non_exhaustive()
    }
}

struct RunUntil<'a, F> {
    set: &'a LocalSet,
    future: Pin<&'a mut F>,
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let set = self.set;
        let shared = &set.shared;
        let _entered = Entered::new(shared);
        shared.register(cx.waker());
        if let Poll::Ready(output) = self.future.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        if shared.tick() {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// Spawns a task that need not be `Send` onto the [`LocalSet`] being run
/// (or entered) on this thread.
///
/// # Panics
///
/// Outside a `LocalSet`'s `run_until`, `block_on` or `enter`, or outside
/// one being awaited.
///
/// ```
/// use zokio::task::{self, LocalSet};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let local = LocalSet::new();
///     local
///         .run_until(async {
///             let text = std::rc::Rc::new("not Send".to_string());
///             let len = task::spawn_local(async move { text.len() }).await.unwrap();
///             assert_eq!(len, 8);
///         })
///         .await;
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let current = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten();
    match current {
        Some(shared) => shared.spawn(future),
        // tokio's words first, so an `expected` written for tokio's panic
        // still matches.
        None => panic!(
            "`spawn_local` called from outside of a `task::LocalSet` or \
             LocalRuntime: run the code that spawns inside \
             `LocalSet::run_until` (or `LocalSet::block_on`, \
             `LocalSet::enter`), or use `zokio::spawn` for a `Send` future"
        ),
    }
}
