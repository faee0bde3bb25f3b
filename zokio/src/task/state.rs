//! A task's lifecycle and reference count, packed in one atomic word.
//!
//! ```text
//!  bit  0  RUNNING        a thread is polling (or cancelling) the future
//!  bit  1  COMPLETE       the future is gone; the output (if any) is stored
//!  bit  2  NOTIFIED       the task is in a run queue (or will be put in one)
//!  bit  3  JOIN_INTEREST  a JoinHandle exists and wants the output
//!  bit  4  JOIN_WAKER     the join waker slot is set and owned by the task side
//!  bit  5  CANCELLED      abort() or shutdown asked for cancellation
//!  bits 6.. reference count (REF_ONE = 1 << 6)
//! ```
//!
//! Who holds a reference: the runtime's owned-task list (until completion),
//! the `JoinHandle`, each `AbortHandle`, each `Waker`, and the run queue
//! while `NOTIFIED` is set (that reference becomes the poller's while it runs).
//!
//! Ownership of the future/output slot follows the bits: whoever moved the
//! task into `RUNNING` owns it until it clears `RUNNING` or sets `COMPLETE`;
//! after `COMPLETE` the `JoinHandle` owns the output if `JOIN_INTEREST` was
//! set at that moment, otherwise the completing thread drops it. The join
//! waker slot is written only by the `JoinHandle` while `JOIN_WAKER` is clear
//! and `COMPLETE` is not set; the task side only reads it, after `COMPLETE`.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};

pub(crate) const RUNNING: usize = 1 << 0;
pub(crate) const COMPLETE: usize = 1 << 1;
pub(crate) const NOTIFIED: usize = 1 << 2;
pub(crate) const JOIN_INTEREST: usize = 1 << 3;
pub(crate) const JOIN_WAKER: usize = 1 << 4;
pub(crate) const CANCELLED: usize = 1 << 5;
pub(crate) const REF_SHIFT: usize = 6;
pub(crate) const REF_ONE: usize = 1 << REF_SHIFT;
const LIFECYCLE: usize = RUNNING | COMPLETE;

/// A new task: queued, with a JoinHandle, referenced by the owned list, the
/// JoinHandle and the run queue.
const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

pub(crate) struct State {
    val: AtomicUsize,
}

/// A copy of the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(pub(crate) usize);

impl Snapshot {
    pub(crate) fn is(self, bit: usize) -> bool {
        self.0 & bit == bit
    }

    pub(crate) fn is_idle(self) -> bool {
        self.0 & LIFECYCLE == 0
    }

    pub(crate) fn refs(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll it.
    Success,
    /// Cancel it instead of polling (it is now RUNNING).
    Cancelled,
    /// Already running or complete: just drop the notification's reference.
    Failed,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Idle; drop the poller's reference.
    Ok,
    /// Woken while running: the poller's reference goes back to the queue.
    OkNotified,
    /// Aborted while running: still RUNNING, cancel it now.
    Cancelled,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Nothing to do (the waker's reference, if by value, was dropped and
    /// this was not the last one).
    DoNothing,
    /// Put the task in a run queue; the queue owns one reference.
    Submit,
    /// By value only: the waker held the last reference.
    Dealloc,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// Runs `f` in a CAS loop; `f` returns the next word (or `None` to
    /// leave it) and a result.
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<usize>, R)) -> R {
        let mut curr = self.val.load(Acquire);
        loop {
            let (next, result) = f(Snapshot(curr));
            let Some(next) = next else { return result };
            match self.val.compare_exchange_weak(curr, next, AcqRel, Acquire) {
                Ok(_) => return result,
                Err(actual) => curr = actual,
            }
        }
    }

    /// NOTIFIED → RUNNING, consuming the notification.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            debug_assert!(
                s.is(NOTIFIED) || !s.is_idle(),
                "running a task that was not notified"
            );
            if !s.is_idle() {
                // Shutdown claimed it, or it completed: the queue's reference goes.
                return (None, ToRunning::Failed);
            }
            let next = (s.0 & !NOTIFIED) | RUNNING;
            let result = if s.is(CANCELLED) {
                ToRunning::Cancelled
            } else {
                ToRunning::Success
            };
            (Some(next), result)
        })
    }

    /// RUNNING → idle after a `Pending` poll.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s.is(RUNNING));
            if s.is(CANCELLED) {
                return (None, ToIdle::Cancelled);
            }
            let next = s.0 & !RUNNING;
            if s.is(NOTIFIED) {
                (Some(next), ToIdle::OkNotified)
            } else {
                (Some(next), ToIdle::Ok)
            }
        })
    }

    /// RUNNING → COMPLETE. Returns the word after the change.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.val.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is(RUNNING) && !prev.is(COMPLETE));
        Snapshot(prev.0 ^ (RUNNING | COMPLETE))
    }

    /// A wake through a waker that owns a reference.
    pub(crate) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.update(|s| {
            debug_assert!(s.refs() > 0);
            if s.is(RUNNING) {
                // The poller reschedules it; the waker's reference goes (the
                // poller still holds one, so this is not the last).
                (Some((s.0 | NOTIFIED) - REF_ONE), ToNotified::DoNothing)
            } else if s.is(COMPLETE) || s.is(NOTIFIED) {
                let next = s.0 - REF_ONE;
                let action = if Snapshot(next).refs() == 0 {
                    ToNotified::Dealloc
                } else {
                    ToNotified::DoNothing
                };
                (Some(next), action)
            } else {
                // The waker's reference moves to the queue.
                (Some(s.0 | NOTIFIED), ToNotified::Submit)
            }
        })
    }

    /// A wake through a borrowed waker.
    pub(crate) fn transition_to_notified_by_ref(&self) -> ToNotified {
        self.update(|s| {
            if s.is(COMPLETE) || s.is(NOTIFIED) {
                // Still a write (of the same word): the poll that consumes
                // the pending notification then reads from this RMW, so it
                // sees everything the waker did before waking. A plain load
                // here would let that poll miss it (loom found this).
                (Some(s.0), ToNotified::DoNothing)
            } else if s.is(RUNNING) {
                (Some(s.0 | NOTIFIED), ToNotified::DoNothing)
            } else {
                (Some((s.0 | NOTIFIED) + REF_ONE), ToNotified::Submit)
            }
        })
    }

    /// `abort()`: returns whether the caller must submit the task (a
    /// reference was added for the queue).
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.update(|s| {
            if s.is(COMPLETE) || s.is(CANCELLED) {
                (None, false)
            } else if s.is(RUNNING) || s.is(NOTIFIED) {
                // The poller (or the coming run) sees CANCELLED.
                (Some(s.0 | NOTIFIED | CANCELLED), false)
            } else {
                (Some((s.0 | NOTIFIED | CANCELLED) + REF_ONE), true)
            }
        })
    }

    /// Shutdown: marks the task cancelled and claims it if no thread is
    /// running it. Returns whether the caller now owns it (RUNNING).
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s.is_idle() {
                (Some(s.0 | CANCELLED | RUNNING), true)
            } else {
                (Some(s.0 | CANCELLED), false)
            }
        })
    }

    /// The JoinHandle goes away. `Err` when the task is already complete:
    /// then the handle owns the output and must drop it. On `Ok` the handle
    /// owns the join waker slot (JOIN_WAKER is cleared too) and must clear it.
    pub(crate) fn unset_join_interest(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s.is(JOIN_INTEREST));
            if s.is(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 & !(JOIN_INTEREST | JOIN_WAKER)), Ok(s))
            }
        })
    }

    /// Hands the freshly written join waker to the task side. `Err` when
    /// the task completed first: the output can be read.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s.is(JOIN_INTEREST) && !s.is(JOIN_WAKER));
            if s.is(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 | JOIN_WAKER), Ok(s))
            }
        })
    }

    /// Takes the join waker slot back to replace the waker. `Err` when the
    /// task completed first.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|s| {
            debug_assert!(s.is(JOIN_INTEREST) && s.is(JOIN_WAKER));
            if s.is(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 & !JOIN_WAKER), Ok(s))
            }
        })
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        // Overflowing the count would be a use-after-free later; abort like Arc.
        if prev > usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// Drops `n` references; returns whether they were the last.
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        let prev = Snapshot(self.val.fetch_sub(n * REF_ONE, AcqRel));
        debug_assert!(prev.refs() >= n, "task reference count underflow");
        prev.refs() == n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn poll_cycle() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Success);
        assert!(s.load().is(RUNNING) && !s.load().is(NOTIFIED));
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::DoNothing);
        assert_eq!(s.transition_to_idle(), ToIdle::OkNotified);
        assert_eq!(s.transition_to_running(), ToRunning::Success);
        assert_eq!(s.transition_to_idle(), ToIdle::Ok);
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::Submit);
        assert_eq!(s.load().refs(), 4);
    }

    #[test]
    fn abort_while_running_cancels_at_idle() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Success);
        assert!(!s.transition_to_notified_and_cancel());
        assert_eq!(s.transition_to_idle(), ToIdle::Cancelled);
        let after = s.transition_to_complete();
        assert!(after.is(COMPLETE) && !after.is(RUNNING));
    }

    #[test]
    fn join_waker_protocol_sees_completion() {
        let s = State::new();
        assert!(s.set_join_waker().is_ok());
        assert!(s.unset_join_waker().is_ok());
        assert_eq!(s.transition_to_running(), ToRunning::Success);
        s.transition_to_complete();
        assert!(s.set_join_waker().is_err());
        assert!(s.unset_join_interest().is_err());
    }

    #[test]
    fn last_reference_is_reported_once() {
        let s = State::new();
        assert!(!s.ref_dec(2));
        assert!(s.ref_dec(1));
    }
}

/// Model checks of the transitions that race (run with
/// `RUSTFLAGS="--cfg loom" cargo test -p zokio --lib loom_`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize as Counter, Ordering};
    use loom::thread;

    /// A task that is notified and owned by its run queue, like a new one.
    fn queued() -> Arc<State> {
        Arc::new(State::new())
    }

    /// A wake is never lost: either the poll that follows it already
    /// observes it (it landed before the poll began), or the poller sees
    /// NOTIFIED and requeues, or the waker submits the idle task.
    #[test]
    fn loom_task_wake_while_running() {
        loom::model(|| {
            let state = queued();
            let waker = state.clone();
            let woke = Arc::new(loom::sync::atomic::AtomicBool::new(false));
            let w = woke.clone();
            let wake = thread::spawn(move || {
                w.store(true, Ordering::SeqCst);
                waker.transition_to_notified_by_ref() == ToNotified::Submit
            });
            assert_eq!(state.transition_to_running(), ToRunning::Success);
            // The poll happens here: it sees everything before this point.
            let observed = woke.load(Ordering::SeqCst);
            let requeued = state.transition_to_idle() == ToIdle::OkNotified;
            let submitted = wake.join().unwrap();
            assert!(!(requeued && submitted), "rescheduled twice");
            assert!(
                observed || requeued || submitted,
                "a wake after the poll began was lost"
            );
        });
    }

    /// A wake (by value) after completion neither submits nor frees early;
    /// the last reference is reported exactly once.
    #[test]
    fn loom_task_wake_after_complete() {
        loom::model(|| {
            let state = queued();
            state.ref_inc(); // the waker's reference
            let waker = state.clone();
            let frees = Arc::new(Counter::new(0));
            let f = frees.clone();
            let wake = thread::spawn(move || match waker.transition_to_notified_by_val() {
                ToNotified::Submit => {
                    panic!("a completing task must not be submitted after completion")
                }
                ToNotified::Dealloc => {
                    f.fetch_add(1, Ordering::SeqCst);
                }
                ToNotified::DoNothing => {}
            });
            assert_eq!(state.transition_to_running(), ToRunning::Success);
            state.transition_to_complete();
            // The poller's, the owned list's and the JoinHandle's references.
            if state.ref_dec(3) {
                frees.fetch_add(1, Ordering::SeqCst);
            }
            wake.join().unwrap();
            assert_eq!(frees.load(Ordering::SeqCst), 1);
        });
    }

    /// abort() racing the final poll: the task completes exactly once, and
    /// if abort asked for a submit it added the queue's reference.
    #[test]
    fn loom_task_abort_racing_completion() {
        loom::model(|| {
            let state = queued();
            let aborter = state.clone();
            let abort = thread::spawn(move || aborter.transition_to_notified_and_cancel());
            // Aborted before the run starts: the run cancels instead of polling.
            assert_ne!(state.transition_to_running(), ToRunning::Failed);
            let after = state.transition_to_complete();
            assert!(after.is(COMPLETE) && !after.is(RUNNING));
            let submitted = abort.join().unwrap();
            // Completed while abort ran: a submit is only possible when the
            // task was idle, which it never was here.
            assert!(!submitted);
            // Owned + JoinHandle + poller references remain; nothing extra.
            assert_eq!(state.load().refs(), 3);
        });
    }

    /// The JoinHandle dropped racing completion: the output is dropped by
    /// exactly one side.
    #[test]
    fn loom_task_join_handle_dropped_racing_completion() {
        loom::model(|| {
            let state = queued();
            let drops = Arc::new(Counter::new(0));
            let join = state.clone();
            let d = drops.clone();
            let handle = thread::spawn(move || {
                if join.unset_join_interest().is_err() {
                    // Complete first: the handle owns and drops the output.
                    d.fetch_add(1, Ordering::SeqCst);
                }
            });
            assert_eq!(state.transition_to_running(), ToRunning::Success);
            let after = state.transition_to_complete();
            if !after.is(JOIN_INTEREST) {
                // The handle left first: the task side drops the output.
                drops.fetch_add(1, Ordering::SeqCst);
            }
            handle.join().unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), 1);
        });
    }

    /// The join waker is handed over or the completion is seen, never both
    /// missed.
    #[test]
    fn loom_task_join_waker_vs_completion() {
        loom::model(|| {
            let state = queued();
            let join = state.clone();
            let handle = thread::spawn(move || join.set_join_waker().is_err());
            assert_eq!(state.transition_to_running(), ToRunning::Success);
            let after = state.transition_to_complete();
            let saw_complete = handle.join().unwrap();
            // Either the handle saw COMPLETE (it reads the output now), or the
            // task side saw JOIN_WAKER (it wakes the handle).
            assert!(saw_complete || after.is(JOIN_WAKER));
        });
    }
}
