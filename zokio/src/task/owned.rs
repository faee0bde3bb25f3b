//! Every task a runtime has spawned and that has not completed, so shutdown
//! can cancel them all. Sharded by task id so spawns and completions on
//! different workers rarely meet on one lock.

use std::time::Duration;

use super::raw::{Notified, TaskRef};
use super::spin::SpinLock;
use super::state::{COMPLETE, NOTIFIED, RUNNING};
use crate::metrics::{TaskInfo, TaskState};

const SHARDS: usize = 16;

pub(crate) struct OwnedTasks {
    /// Spin locks: every spawn and completion takes one for a few stores
    /// (see `spin.rs`); no section waits for anything or runs user code.
    shards: Box<[SpinLock<Shard>]>,
}

#[derive(Default)]
struct Shard {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
    live: usize,
    closed: bool,
}

impl OwnedTasks {
    pub(crate) fn new() -> Self {
        OwnedTasks {
            shards: (0..SHARDS)
                .map(|_| SpinLock::new(Shard::default()))
                .collect(),
        }
    }

    fn shard(&self, task: TaskRef) -> &SpinLock<Shard> {
        &self.shards[(task.header().id.0 as usize) % SHARDS]
    }

    /// Records a new task (taking the owned reference). Returns the
    /// notification back, or `None` when the list is closed: then the task
    /// was cancelled on the spot and its handle reports that.
    pub(crate) fn bind(&self, owned: TaskRef, notified: Notified) -> Option<Notified> {
        let bound = self.shard(owned).with(|shard| {
            if shard.closed {
                return false;
            }
            let index = match shard.free.pop() {
                Some(i) => i,
                None => {
                    shard.slots.push(None);
                    shard.slots.len() - 1
                }
            };
            // SAFETY: written before the task is shared (it is not in any
            // queue yet) and read only under this shard's lock.
            owned
                .header()
                .owned_slot
                .with_mut(|slot| unsafe { *slot = index });
            shard.slots[index] = Some(owned);
            shard.live += 1;
            true
        });
        if !bound {
            // Closed. Drop the queue's reference first, then let shutdown
            // cancel the task and drop the owned reference (outside the
            // lock: that runs the future's destructor).
            drop(notified);
            // SAFETY: `owned` carries the owned-list reference, which is ours.
            unsafe { owned.shutdown() };
            return None;
        }
        Some(notified)
    }

    /// Removes a completed task. Returns whether it was still listed (its
    /// owned reference is then the caller's to drop).
    pub(crate) fn remove(&self, task: TaskRef) -> bool {
        self.shard(task).with(|shard| {
            // SAFETY: written once in `bind` before the task was shared; we
            // hold the lock.
            let index = task.header().owned_slot.with(|slot| unsafe { *slot });
            match shard.slots.get(index) {
                Some(Some(t)) if *t == task => {
                    shard.slots[index] = None;
                    shard.free.push(index);
                    shard.live -= 1;
                    true
                }
                _ => false,
            }
        })
    }

    /// Closes the list: tasks spawned from now on are cancelled at once.
    pub(crate) fn close(&self) {
        for shard in self.shards.iter() {
            shard.with(|shard| shard.closed = true);
        }
    }

    /// Cancels the listed tasks of shards `first`, `first + step`, ...:
    /// idle ones here, on the calling thread; running ones see the flag when
    /// their poll ends. Workers split the shards this way at shutdown so
    /// futures are dropped on the runtime's threads.
    pub(crate) fn shutdown_shards(&self, first: usize, step: usize) {
        for shard in self.shards.iter().skip(first).step_by(step.max(1)) {
            let slots = shard.with(|shard| {
                shard.free.clear();
                shard.live = 0;
                std::mem::take(&mut shard.slots)
            });
            // Outside the lock: cancelling runs the futures' destructors.
            for task in slots.into_iter().flatten() {
                // SAFETY: taking the task out of the list gave us its owned reference.
                unsafe { task.shutdown() };
            }
        }
    }

    /// [`close`](Self::close), then cancel every listed task on this thread.
    pub(crate) fn close_and_shutdown_all(&self) {
        self.close();
        self.shutdown_shards(0, 1);
    }

    /// Tasks listed now.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.with(|s| s.live)).sum()
    }

    /// Describes every listed task; `with_polls`: the headers' poll records
    /// are kept (metrics on).
    pub(crate) fn dump(&self, with_polls: bool) -> Vec<TaskInfo> {
        let now_ms = crate::metrics::now_millis();
        let mut tasks = Vec::new();
        for shard in self.shards.iter() {
            // A listed task is alive: the list holds a reference to it, and
            // the shard's lock keeps it listed while its header is read.
            // Only the headers are read under the lock: no allocation but
            // the output vector's, no user code.
            shard.with(|shard| {
                for task in shard.slots.iter().flatten() {
                    let header = task.header();
                    let snapshot = header.state.load();
                    let state = if snapshot.is(COMPLETE) {
                        TaskState::Complete
                    } else if snapshot.is(RUNNING) {
                        TaskState::Running
                    } else if snapshot.is(NOTIFIED) {
                        TaskState::Scheduled
                    } else {
                        TaskState::Idle
                    };
                    let (polls, last_poll_ms) = header.poll_record();
                    let polls = with_polls.then_some(polls);
                    // Wrapping: right for any task polled in the last 49 days.
                    let since_last_poll = polls.filter(|&n| n > 0).map(|_| {
                        Duration::from_millis(u64::from((now_ms as u32).wrapping_sub(last_poll_ms)))
                    });
                    tasks.push(TaskInfo {
                        id: header.id,
                        location: header.spawned_at,
                        state,
                        polls,
                        since_last_poll,
                    });
                }
            });
        }
        tasks.sort_by_key(|t| t.id);
        tasks
    }
}
