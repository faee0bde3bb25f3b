//! The interim scheduler: one run queue shared by the `block_on` thread
//! (`current_thread`) or a pool of workers (`multi_thread`).
//!
//! The runtime-core work replaces this with per-worker local queues, a LIFO
//! slot, work stealing and a cooperative budget.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::Thread;

use super::blocking::BlockingPool;
use crate::spec::Flavor;
use crate::task::JoinHandle;
use crate::task::raw::{Harness, JoinState, Task, lock};

pub(crate) struct Shared {
    pub(crate) flavor: Flavor,
    pub(crate) blocking: Arc<BlockingPool>,
    queue: Mutex<Queue>,
    /// `multi_thread` workers sleep here when the queue is empty.
    work_available: Condvar,
    next_id: AtomicU64,
    /// Every task that has not finished, so shutdown can cancel them all.
    live: Mutex<HashMap<u64, Arc<Task>>>,
}

struct Queue {
    tasks: VecDeque<Arc<Task>>,
    shutdown: bool,
    /// The thread driving a `current_thread` runtime, woken on every schedule.
    driver: Option<Thread>,
}

impl Shared {
    pub(crate) fn new(flavor: Flavor, blocking: Arc<BlockingPool>) -> Arc<Self> {
        Arc::new(Shared {
            flavor,
            blocking,
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
                shutdown: false,
                driver: None,
            }),
            work_available: Condvar::new(),
            next_id: AtomicU64::new(1),
            live: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let state = JoinState::new();
        let harness = Harness::new(future, state.clone());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let task = Task::new(id, Box::pin(harness), self.clone());
        lock(&self.live).insert(id, task.clone());
        self.schedule(task);
        JoinHandle::new(state)
    }

    pub(crate) fn schedule(&self, task: Arc<Task>) {
        let mut q = lock(&self.queue);
        if q.shutdown {
            drop(q);
            self.finish(&task);
            task.cancel();
            return;
        }
        q.tasks.push_back(task);
        match self.flavor {
            Flavor::CurrentThread => {
                if let Some(driver) = &q.driver {
                    driver.unpark();
                }
            }
            Flavor::MultiThread => self.work_available.notify_one(),
        }
    }

    fn finish(&self, task: &Task) {
        lock(&self.live).remove(&task.id);
    }

    /// Polls one task; forgets it once it has finished.
    pub(crate) fn run(&self, task: Arc<Task>) {
        if task.run() {
            self.finish(&task);
        }
    }

    pub(crate) fn pop(&self) -> Option<Arc<Task>> {
        lock(&self.queue).tasks.pop_front()
    }

    /// Blocks a `multi_thread` worker until there is a task or the runtime
    /// shuts down (`None`).
    pub(crate) fn next_for_worker(&self) -> Option<Arc<Task>> {
        let mut q = lock(&self.queue);
        loop {
            if q.shutdown {
                return None;
            }
            if let Some(t) = q.tasks.pop_front() {
                return Some(t);
            }
            q = self
                .work_available
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Registers the calling thread as the `current_thread` driver. Returns
    /// `false` when another thread is already driving.
    pub(crate) fn claim_driver(&self) -> bool {
        let mut q = lock(&self.queue);
        if q.driver.is_some() {
            return false;
        }
        q.driver = Some(std::thread::current());
        true
    }

    pub(crate) fn release_driver(&self) {
        lock(&self.queue).driver = None;
    }

    pub(crate) fn has_queued(&self) -> bool {
        !lock(&self.queue).tasks.is_empty()
    }

    /// Stops accepting tasks and cancels every task that has not finished:
    /// queued ones and ones waiting on a waker alike. Futures are dropped on
    /// the calling thread.
    pub(crate) fn shutdown(&self) {
        let queued = {
            let mut q = lock(&self.queue);
            q.shutdown = true;
            std::mem::take(&mut q.tasks)
        };
        self.work_available.notify_all();
        drop(queued);
        // Cancelling may wake or spawn (rejected now) and so re-enter `live`;
        // take the map first.
        let live = std::mem::take(&mut *lock(&self.live));
        for task in live.into_values() {
            task.cancel();
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        lock(&self.queue).shutdown
    }
}
