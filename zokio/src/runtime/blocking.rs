//! The blocking pool: threads for work that would stall a worker
//! (`spawn_blocking`). At most `blocking.max_threads` threads; a full pool
//! queues work instead of failing; a thread idle for `blocking.keep_alive`
//! exits.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use super::Handle;
use super::scheduler::SchedulerHandle;
use crate::task::JoinHandle;
use crate::task::lock;
use crate::task::owned::OwnedTasks;
use crate::task::raw::{Notified, Schedule, TaskRef, new_task};

/// A blocking function as a task: one poll runs it to completion on a pool
/// thread (the task harness catches its panic).
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self.0.take().expect("a blocking task runs once");
        Poll::Ready(f())
    }
}

/// Shape of a pool, from the `Spec`.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub(crate) name: &'static str,
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) stack_size: usize,
}

pub(crate) struct BlockingPool {
    config: PoolConfig,
    /// This pool, for the threads it starts (set by `Arc::new_cyclic`).
    me: Weak<BlockingPool>,
    /// The runtime, to make it current on pool threads (weak: the runtime
    /// owns the pool).
    runtime: std::sync::OnceLock<Weak<dyn SchedulerHandle>>,
    /// Blocking tasks not yet completed, so shutdown can cancel queued ones.
    owned: OwnedTasks,
    state: Mutex<State>,
    /// Idle threads wait here for work.
    work: Condvar,
    /// Signalled whenever a thread exits, for `shutdown_timeout`.
    exited: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Notified>,
    /// Threads alive, busy or idle.
    threads: usize,
    /// Threads waiting for work that nobody has claimed yet.
    idle: usize,
    /// Wake-ups handed to idle threads and not yet consumed; each stands for
    /// one queued job, so two spawns never count on the same idle thread.
    notified: usize,
    shutdown: bool,
    next_id: usize,
    handles: HashMap<usize, ThreadHandle<()>>,
}

/// A snapshot of the pool, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockingPoolState {
    /// Threads alive.
    pub threads: usize,
    /// Threads waiting for work.
    pub idle: usize,
    /// Jobs waiting for a thread.
    pub queued: usize,
}

impl BlockingPool {
    pub(crate) fn new(config: PoolConfig) -> Arc<Self> {
        Arc::new_cyclic(|me| BlockingPool {
            config,
            me: me.clone(),
            runtime: std::sync::OnceLock::new(),
            owned: OwnedTasks::new(),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            exited: Condvar::new(),
        })
    }

    /// Tells the pool which runtime its threads serve.
    pub(crate) fn set_runtime(&self, shared: &Arc<dyn SchedulerHandle>) {
        let _ = self.runtime.set(Arc::downgrade(shared));
    }

    pub(crate) fn state(&self) -> BlockingPoolState {
        let s = lock(&self.state);
        BlockingPoolState {
            threads: s.threads,
            idle: s.idle - s.notified,
            queued: s.queue.len(),
        }
    }

    /// Jobs spawned and not yet completed (queued or running).
    #[cfg(feature = "test-util")]
    pub(crate) fn in_flight(&self) -> usize {
        self.owned.len()
    }

    /// Runs `f` on a pool thread; the handle resolves to its result, or to a
    /// cancelled error if the runtime shuts down before it starts.
    #[track_caller]
    pub(crate) fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let me: Arc<dyn Schedule> = self.me.upgrade().expect("the pool is alive while spawning");
        let (owned, join, notified) = new_task(
            BlockingTask(Some(f)),
            me,
            crate::task::next_id(),
            Location::caller(),
        );
        if let Some(notified) = self.owned.bind(owned, notified) {
            self.schedule(notified);
        }
        // SAFETY: `join` carries the JoinHandle's reference; the output is R.
        unsafe { JoinHandle::new(join) }
    }

    fn submit(&self, task: Notified) -> io::Result<()> {
        let mut s = lock(&self.state);
        if s.shutdown {
            // The task is cancelled by `owned` at shutdown; this drops the
            // queue's reference.
            return Err(io::Error::other("the runtime is shutting down"));
        }
        s.queue.push_back(task);
        if s.idle > s.notified {
            s.notified += 1;
            self.work.notify_one();
            return Ok(());
        }
        if s.threads >= self.config.max_threads {
            // Full: the task waits for the next thread to free up.
            return Ok(());
        }
        let id = s.next_id;
        s.next_id += 1;
        let Some(pool) = self.me.upgrade() else {
            return Ok(());
        };
        let spawned = std::thread::Builder::new()
            .name(format!("{}-blocking-{id}", self.config.name))
            .stack_size(self.config.stack_size)
            .spawn(move || pool.run(id));
        match spawned {
            Ok(thread) => {
                s.threads += 1;
                s.handles.insert(id, thread);
                Ok(())
            }
            // With threads alive the task still runs when one frees up.
            Err(_) if s.threads > 0 => Ok(()),
            Err(e) => {
                // Nothing can run it: cancel it now so its handle says so.
                let queued = s.queue.pop_back();
                drop(s);
                if let Some(task) = queued {
                    let task_ref = task.task();
                    drop(task);
                    if self.owned.remove(task_ref) {
                        // SAFETY: removing it from the list gave us the owned reference.
                        unsafe { task_ref.shutdown() };
                    }
                }
                Err(e)
            }
        }
    }

    fn run(&self, id: usize) {
        let runtime = self.runtime.get().and_then(Weak::upgrade);
        let _guard = runtime.map(|shared| super::enter(Handle { shared }));
        let mut s = lock(&self.state);
        loop {
            if let Some(task) = s.queue.pop_front() {
                drop(s);
                task.run();
                s = lock(&self.state);
                continue;
            }
            if s.shutdown {
                break;
            }
            s.idle += 1;
            let deadline = Instant::now() + self.config.keep_alive;
            let timed_out = loop {
                let now = Instant::now();
                if now >= deadline {
                    break true;
                }
                let (guard, _) = self
                    .work
                    .wait_timeout(s, deadline - now)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                s = guard;
                if s.notified > 0 {
                    s.notified -= 1;
                    break false;
                }
                if s.shutdown {
                    break false;
                }
            };
            s.idle -= 1;
            if timed_out && s.queue.is_empty() {
                break;
            }
        }
        s.threads -= 1;
        // A thread that leaves on its own detaches itself; at shutdown the
        // handle is joined by whoever shuts down.
        if !s.shutdown {
            s.handles.remove(&id);
        }
        drop(s);
        self.exited.notify_all();
    }

    /// Stops the pool: queued jobs that have not started are cancelled,
    /// running ones finish. Waits up to `timeout` (forever for `None`) for
    /// the threads to exit; returns whether they all did.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let (queued, handles) = {
            let mut s = lock(&self.state);
            s.shutdown = true;
            (std::mem::take(&mut s.queue), std::mem::take(&mut s.handles))
        };
        self.work.notify_all();
        // Tasks that have not started are cancelled (their handles say so);
        // running ones finish.
        drop(queued);
        self.owned.close_and_shutdown_all();
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = lock(&self.state);
        while s.threads > 0 {
            match deadline {
                None => {
                    s = self
                        .exited
                        .wait(s)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    s = self
                        .exited
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        drop(s);
        for (_, thread) in handles {
            let _ = thread.join();
        }
        true
    }
}

impl Schedule for BlockingPool {
    fn schedule(&self, task: Notified) {
        // On failure the task was dropped from the queue; it stays in
        // `owned` and is cancelled at shutdown (or was already).
        let _ = self.submit(task);
    }

    fn release(&self, task: TaskRef) -> bool {
        let released = self.owned.remove(task);
        // A runtime whose paused clock holds still while jobs are in flight
        // (`test-util`) may be parked waiting for this one: let it look
        // again, and move its clock on if nothing else is left.
        #[cfg(feature = "test-util")]
        if let Some(runtime) = self.runtime.get().and_then(std::sync::Weak::upgrade) {
            runtime.time().wake_parked();
        }
        released
    }
}
