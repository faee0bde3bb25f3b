//! The blocking pool: threads for work that would stall a worker
//! (`spawn_blocking`). At most `blocking.max_threads` threads; a full pool
//! queues work instead of failing; a thread idle for `blocking.keep_alive`
//! exits.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use super::Handle;
use crate::task::JoinHandle;
use crate::task::raw::{JoinState, lock};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Shape of a pool, from the `Spec`.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub(crate) name: &'static str,
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) stack_size: usize,
}

struct CancelOnDrop<R>(Arc<JoinState<R>>);

impl<R> Drop for CancelOnDrop<R> {
    fn drop(&mut self) {
        self.0.complete(Err(crate::task::JoinError::cancelled()));
    }
}

pub(crate) struct BlockingPool {
    config: PoolConfig,
    state: Mutex<State>,
    /// Idle threads wait here for work.
    work: Condvar,
    /// Signalled whenever a thread exits, for `shutdown_timeout`.
    exited: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
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
        Arc::new(BlockingPool {
            config,
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            exited: Condvar::new(),
        })
    }

    pub(crate) fn state(&self) -> BlockingPoolState {
        let s = lock(&self.state);
        BlockingPoolState {
            threads: s.threads,
            idle: s.idle - s.notified,
            queued: s.queue.len(),
        }
    }

    /// Runs `f` on a pool thread; the handle resolves to its result, or to a
    /// cancelled error if the runtime shuts down before it starts.
    pub(crate) fn spawn<F, R>(self: &Arc<Self>, handle: &Handle, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let state = JoinState::new();
        let job_state = state.clone();
        // Completes the handle as cancelled if the job is dropped unrun
        // (shutdown); a no-op once the job has completed it.
        let on_drop = CancelOnDrop(state.clone());
        let job: Job = Box::new(move || {
            let _on_drop = on_drop;
            if job_state.is_aborted() {
                job_state.complete(Err(crate::task::JoinError::cancelled()));
                return;
            }
            let result = catch_unwind(AssertUnwindSafe(f)).map_err(crate::task::JoinError::panic);
            job_state.complete(result);
        });
        // On error (shut down, or the OS refused a thread while none exist)
        // the job is dropped unrun and its handle reports a cancellation.
        let _ = self.submit(handle, job);
        JoinHandle::new(state)
    }

    fn submit(self: &Arc<Self>, handle: &Handle, job: Job) -> io::Result<()> {
        let mut s = lock(&self.state);
        if s.shutdown {
            return Err(io::Error::other("the runtime is shutting down"));
        }
        s.queue.push_back(job);
        if s.idle > s.notified {
            s.notified += 1;
            self.work.notify_one();
            return Ok(());
        }
        if s.threads >= self.config.max_threads {
            // Full: the job waits for the next thread to free up.
            return Ok(());
        }
        let id = s.next_id;
        s.next_id += 1;
        let pool = self.clone();
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-blocking-{id}", self.config.name))
            .stack_size(self.config.stack_size)
            .spawn(move || pool.run(handle, id));
        match spawned {
            Ok(thread) => {
                s.threads += 1;
                s.handles.insert(id, thread);
                Ok(())
            }
            // With threads alive the job still runs when one frees up.
            Err(_) if s.threads > 0 => Ok(()),
            Err(e) => {
                s.queue.pop_back();
                Err(e)
            }
        }
    }

    fn run(&self, handle: Handle, id: usize) {
        let _guard = super::enter(handle);
        let mut s = lock(&self.state);
        loop {
            if let Some(job) = s.queue.pop_front() {
                drop(s);
                job();
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
        // Each dropped job's `CancelOnDrop` tells its handle it was cancelled.
        drop(queued);
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
