//! The task cell: header, scheduler, future/output and join waker in one
//! heap allocation, driven through a per-future-type vtable.
//!
//! A [`TaskRef`] is a pointer to the header; whether it owns a reference is
//! said by the type that wraps it ([`Notified`] owns one; a bare `TaskRef`
//! does not).

use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
// Diagnostics only (task dumps), never part of the synchronization: std's
// atomics even under loom.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::JoinError;
use super::state::{JOIN_INTEREST, JOIN_WAKER, Snapshot, State, ToIdle, ToNotified, ToRunning};
use crate::loom::UnsafeCell;

/// What a task needs from the scheduler that owns it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queue a task that was woken.
    fn schedule(&self, task: Notified);
    /// Queue a task that woke itself while running (`yield_now`); it goes
    /// behind other ready work.
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }
    /// The task completed: remove it from the owned list. Returns whether
    /// the list's reference was released to the caller (it was still there).
    fn release(&self, task: TaskRef) -> bool;
}

/// A task's id, unique within the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub(crate) u64);

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub(crate) struct Vtable {
    /// Returns whether the task completed.
    poll: unsafe fn(NonNull<Header>) -> bool,
    dealloc: unsafe fn(NonNull<Header>),
    /// Writes `Poll<Result<T, JoinError>>` to the pointer if the output is ready,
    /// else registers the waker.
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Drops the output (the JoinHandle went away after completion).
    drop_output: unsafe fn(NonNull<Header>),
    /// Drops the join waker (the JoinHandle went away before completion).
    drop_join_waker: unsafe fn(NonNull<Header>),
    /// Shutdown: cancel if idle; always drops the owned list's reference.
    shutdown: unsafe fn(NonNull<Header>),
    schedule: unsafe fn(NonNull<Header>, Notified),
}

/// The first field of every task cell.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) id: Id,
    /// Where `spawn` was called, for task dumps and diagnostics.
    pub(crate) spawned_at: &'static Location<'static>,
    /// Slot in the owned-task list, written once before the task is shared.
    pub(crate) owned_slot: UnsafeCell<usize>,
    /// For task dumps, kept only with metrics on (written by the thread that
    /// polls, read by dumps): the number of polls so far in the high 32 bits
    /// and when the last one began, in milliseconds on the metrics clock
    /// (wrapping), in the low 32. One word, so the header stays at six words
    /// and a poll records itself with one store.
    poll_record: AtomicU64,
}

// Six words: the header, the scheduler pointer and the join waker fit the
// first two cache lines with room for a small future.
#[cfg(all(not(loom), target_pointer_width = "64"))]
const _: () = assert!(std::mem::size_of::<Header>() == 48);

impl Header {
    /// A poll begins at `now_ms` (metrics clock, milliseconds). Called by
    /// the poller only.
    #[inline]
    pub(crate) fn record_poll(&self, now_ms: u64) {
        let polls = (self.poll_record.load(Relaxed) >> 32).wrapping_add(1);
        self.poll_record
            .store((polls << 32) | (now_ms & u64::from(u32::MAX)), Relaxed);
    }

    /// Polls so far and the time of the last one's start (milliseconds on
    /// the metrics clock, modulo 2^32).
    pub(crate) fn poll_record(&self) -> (u32, u32) {
        let record = self.poll_record.load(Relaxed);
        ((record >> 32) as u32, record as u32)
    }
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    scheduler: Arc<dyn Schedule>,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

/// A pointer to a task's header. Copyable; owns nothing by itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a TaskRef is only dereferenced while some reference to the task is
// held (by the wrapper type that owns one), and the header's fields are
// either atomics or written before the task is shared.
unsafe impl Send for TaskRef {}
// SAFETY: as above; shared access goes through atomics.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the caller holds a reference (see the type's invariant), so
        // the allocation is alive.
        unsafe { self.0.as_ref() }
    }

    /// Drops one reference, deallocating on the last.
    ///
    /// # Safety
    ///
    /// The caller must own the reference it drops.
    pub(crate) unsafe fn drop_ref(self) {
        if self.header().state.ref_dec(1) {
            // SAFETY: that was the last reference; nobody else can reach the cell.
            unsafe { (self.header().vtable.dealloc)(self.0) }
        }
    }

    /// Cancels the task if it is idle and drops the owned list's reference.
    ///
    /// # Safety
    ///
    /// The caller must own the owned list's reference to this task.
    pub(crate) unsafe fn shutdown(self) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.header().vtable.shutdown)(self.0) }
    }
}

/// A task in (or on its way to) a run queue; owns one reference.
pub(crate) struct Notified(TaskRef);

impl Notified {
    pub(crate) fn task(&self) -> TaskRef {
        self.0
    }

    /// Gives up ownership of the reference (to `poll`, which takes it over).
    fn into_raw(self) -> TaskRef {
        let task = self.0;
        std::mem::forget(self);
        task
    }

    /// Polls the task once (or cancels it), consuming the notification.
    /// Returns whether the task completed (with an output, a panic or a
    /// cancellation).
    pub(crate) fn run(self) -> bool {
        let task = self.into_raw();
        #[cfg(feature = "tracing")]
        let _span = {
            let header = task.header();
            tracing::trace_span!(
                target: "zokio::task",
                "poll",
                task_id = header.id.0,
                spawned_at = %header.spawned_at,
            )
            .entered()
        };
        // SAFETY: the notification's reference moves into `poll`, which
        // drops or requeues it.
        unsafe { (task.header().vtable.poll)(task.0) }
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // SAFETY: a Notified owns one reference.
        unsafe { self.0.drop_ref() }
    }
}

/// Allocates a task. Returns the owned-list reference, the JoinHandle's
/// reference, and the queue's notification (the state starts with three).
pub(crate) fn new_task<F>(
    future: F,
    scheduler: Arc<dyn Schedule>,
    id: Id,
    spawned_at: &'static Location<'static>,
) -> (TaskRef, TaskRef, Notified)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: the future and its output are `Send`, so any thread may poll
    // and drop them.
    unsafe { new_local_task(future, scheduler, id, spawned_at) }
}

/// [`new_task`] for a future that need not be `Send` (`spawn_local`).
///
/// # Safety
///
/// Unless `F` and `F::Output` are `Send`, the caller must see to it that the
/// future is polled and dropped, and the output dropped, only on one thread:
/// `scheduler` runs the task there only, and cancels every task it owns
/// there before it goes away; the `JoinHandle` (which is `!Send` unless the
/// output is `Send`) stays on that thread. The cell itself may then be
/// freed anywhere (by the last waker): by then its stage holds neither.
pub(crate) unsafe fn new_local_task<F>(
    future: F,
    scheduler: Arc<dyn Schedule>,
    id: Id,
    spawned_at: &'static Location<'static>,
) -> (TaskRef, TaskRef, Notified)
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[cfg(feature = "tracing")]
    tracing::trace!(
        target: "zokio::task",
        task_id = id.0,
        spawned_at = %spawned_at,
        "spawn"
    );
    let cell = Cell {
        header: Header {
            state: State::new(),
            vtable: vtable::<F>(),
            id,
            spawned_at,
            owned_slot: UnsafeCell::new(usize::MAX),
            poll_record: AtomicU64::new(0),
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    };
    // `Cell` is repr(C) with the header first, so the cell pointer is a
    // header pointer.
    let ptr = allocate(cell).cast::<Header>();
    let task = TaskRef(ptr);
    (task, task, Notified(task))
}

fn vtable<F>() -> &'static Vtable
where
    F: Future + 'static,
    F::Output: 'static,
{
    &Vtable {
        poll: poll::<F>,
        dealloc: dealloc::<F>,
        try_read_output: try_read_output::<F>,
        drop_output: drop_output::<F>,
        drop_join_waker: drop_join_waker::<F>,
        shutdown: shutdown::<F>,
        schedule: schedule::<F>,
    }
}

/// # Safety
///
/// `ptr` must point to a live `Cell<F>`.
unsafe fn cell<'a, F: Future>(ptr: NonNull<Header>) -> &'a Cell<F> {
    // SAFETY: the header is the first field of a repr(C) Cell<F>, and the
    // vtable this is called from was built for this F.
    unsafe { ptr.cast::<Cell<F>>().as_ref() }
}

unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<F>>();
    // A user destructor (future or output) may panic; the runtime must not.
    // SAFETY: called once, on the last reference: the cell is initialized
    // and nobody else can reach it.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        std::ptr::drop_in_place(cell.as_ptr())
    }));
    // SAFETY: the memory came from `allocate::<Cell<F>>` and is not used again.
    unsafe { release::<Cell<F>>(cell) };
}

/// Allocates a task cell. (Per-thread caches of freed cells were measured
/// and did not beat the system allocator: `benches/RESULTS.md`.)
fn allocate<T>(value: T) -> NonNull<T> {
    NonNull::from(Box::leak(Box::new(value)))
}

/// Frees a cell's memory (its contents were already dropped).
///
/// # Safety
///
/// `ptr` came from [`allocate`] and its value was dropped in place.
unsafe fn release<T>(ptr: NonNull<T>) {
    // SAFETY: the memory came from a Box<T> whose value was dropped;
    // reinterpreting it as Box<ManuallyDrop<T>> frees it without a second drop.
    drop(unsafe { Box::from_raw(ptr.as_ptr().cast::<ManuallyDrop<T>>()) });
}

unsafe fn schedule<F: Future>(ptr: NonNull<Header>, task: Notified) {
    // SAFETY: the caller holds a reference (inside `task`).
    let cell = unsafe { cell::<F>(ptr) };
    cell.scheduler.schedule(task);
}

/// Polls (or cancels) the task; consumes the notification's reference.
/// Returns whether this call completed it.
unsafe fn poll<F: Future>(ptr: NonNull<Header>) -> bool {
    let task = TaskRef(ptr);
    // SAFETY: the notification's reference keeps the cell alive here.
    let cell = unsafe { cell::<F>(ptr) };
    match cell.header.state.transition_to_running() {
        ToRunning::Failed => {
            // SAFETY: the notification's reference is ours to drop.
            unsafe { task.drop_ref() };
            return false;
        }
        ToRunning::Cancelled => {
            cancel(cell);
            // SAFETY: RUNNING is ours; one reference (the notification's) is held.
            unsafe { complete(cell, task, true) };
            return true;
        }
        ToRunning::Success => {}
    }
    // A borrowed waker: cloning it takes a reference, this one takes none.
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the vtable's functions follow the RawWaker contract (see below).
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
    let mut cx = Context::from_waker(&waker);
    let polled = cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING gives this thread exclusive access to the stage.
        let stage = unsafe { &mut *stage };
        let Stage::Running(future) = stage else {
            unreachable!("a task in RUNNING always holds its future")
        };
        // SAFETY: the future lives inside the heap cell and never moves
        // until it is dropped in place.
        let future = unsafe { Pin::new_unchecked(future) };
        catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx)))
    });
    match polled {
        Ok(Poll::Ready(output)) => {
            // Storing the output drops the future. A panic in its
            // destructor is contained here instead of unwinding out of the
            // scheduler with the task left RUNNING; the output is stored
            // all the same (an assignment writes the new value even when
            // dropping the old one unwinds).
            let _ = catch_unwind(AssertUnwindSafe(|| store(cell, Ok(output))));
            // SAFETY: as above.
            unsafe { complete(cell, task, true) };
            true
        }
        Err(panic) => {
            clear_stage(cell);
            store(cell, Err(JoinError::panic(cell.header.id, panic)));
            // SAFETY: as above.
            unsafe { complete(cell, task, true) };
            true
        }
        Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
            ToIdle::Ok => {
                // SAFETY: the poller's reference is ours to drop.
                unsafe { task.drop_ref() };
                false
            }
            ToIdle::OkNotified => {
                cell.scheduler.yield_now(Notified(task));
                false
            }
            ToIdle::Cancelled => {
                cancel(cell);
                // SAFETY: still RUNNING; the poller's reference is held.
                unsafe { complete(cell, task, true) };
                true
            }
        },
    }
}

fn store<F: Future>(cell: &Cell<F>, output: Result<F::Output, JoinError>) {
    // SAFETY: only called by the thread that holds RUNNING.
    cell.stage
        .with_mut(|stage| unsafe { *stage = Stage::Finished(output) });
}

/// Drops whatever the stage holds (the future or the output) in place,
/// containing a panic from its destructor. The caller must own the stage
/// (see the ownership rules in `state.rs`).
fn clear_stage<F: Future>(cell: &Cell<F>) {
    cell.stage.with_mut(|stage| {
        // SAFETY: the caller owns the stage: it holds RUNNING, or the task is
        // complete and the caller is the side the rules give the output to.
        let stage = unsafe { &mut *stage };
        let _ = catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed));
    });
}

fn cancel<F: Future>(cell: &Cell<F>) {
    clear_stage(cell);
    store(cell, Err(JoinError::cancelled(cell.header.id)));
}

/// RUNNING → COMPLETE: hand the output over, wake the JoinHandle, leave the
/// owned list, and drop the poller's reference.
///
/// # Safety
///
/// The caller holds RUNNING and owns one reference (`task`'s). With
/// `release` false the caller has already removed the task from the owned
/// list.
unsafe fn complete<F: Future>(cell: &Cell<F>, task: TaskRef, release: bool) {
    let after: Snapshot = cell.header.state.transition_to_complete();
    if !after.is(JOIN_INTEREST) {
        // Nobody will read the output: drop it here (the JoinHandle left
        // before completion, so this thread owns the stage).
        clear_stage(cell);
    } else if after.is(JOIN_WAKER) {
        cell.join_waker.with(|waker| {
            // SAFETY: with COMPLETE set the JoinHandle no longer writes the slot.
            if let Some(waker) = unsafe { &*waker } {
                // A waker is user code: a panic in it must not unwind out
                // of the completion half-way (the references and the owned
                // list below must still be settled). The JoinHandle's
                // owner finds the output when it polls again.
                let _ = catch_unwind(AssertUnwindSafe(|| waker.wake_by_ref()));
            }
        });
    }
    let mut refs = 1;
    if release && cell.scheduler.release(task) {
        refs += 1;
    }
    if cell.header.state.ref_dec(refs) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F>(task.0) };
    }
}

unsafe fn shutdown<F: Future>(ptr: NonNull<Header>) {
    let task = TaskRef(ptr);
    // SAFETY: the caller owns the owned list's reference.
    let cell = unsafe { cell::<F>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        cancel(cell);
        // SAFETY: RUNNING is ours now; the owned reference is the one dropped.
        unsafe { complete(cell, task, false) };
    } else {
        // Running elsewhere (it will see CANCELLED) or complete.
        // SAFETY: the owned list's reference is ours to drop.
        unsafe { task.drop_ref() };
    }
}

unsafe fn try_read_output<F: Future>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the JoinHandle holds a reference.
    let cell = unsafe { cell::<F>(ptr) };
    if can_read_output(cell, waker) {
        let output = cell.stage.with_mut(|stage| {
            // SAFETY: COMPLETE with JOIN_INTEREST: the JoinHandle owns the stage.
            match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
                Stage::Finished(output) => output,
                _ => panic!("`JoinHandle` polled after it returned its output"),
            }
        });
        // SAFETY: the JoinHandle passes a `*mut Poll<Result<F::Output, JoinError>>`.
        unsafe { *(dst as *mut Poll<Result<F::Output, JoinError>>) = Poll::Ready(output) };
    }
}

/// The join-waker protocol: returns true when the output is ready, else
/// leaves `waker` where the completing thread will find it.
fn can_read_output<F: Future>(cell: &Cell<F>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is(super::state::COMPLETE) {
        return true;
    }
    if snapshot.is(JOIN_WAKER) {
        // SAFETY: while JOIN_WAKER is set nobody writes the slot.
        let same = cell
            .join_waker
            .with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)));
        if same {
            return false;
        }
        if state.unset_join_waker().is_err() {
            return true;
        }
    }
    // SAFETY: JOIN_WAKER is clear and the task is not complete, so the
    // JoinHandle (this thread) owns the slot.
    cell.join_waker
        .with_mut(|w| unsafe { *w = Some(waker.clone()) });
    if state.set_join_waker().is_err() {
        // Completed meanwhile; the slot stays ours and is dropped with the cell.
        return true;
    }
    false
}

unsafe fn drop_output<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle holds a reference and, the task being
    // complete, owns the stage.
    clear_stage(unsafe { cell::<F>(ptr) });
}

unsafe fn drop_join_waker<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle holds a reference and, having cleared
    // JOIN_INTEREST before completion, owns the slot.
    let cell = unsafe { cell::<F>(ptr) };
    // SAFETY: as above.
    let waker = cell.join_waker.with_mut(|w| unsafe { (*w).take() });
    drop(waker);
}

/// Reads the output into `dst` if ready, else registers `waker`.
///
/// # Safety
///
/// The caller is the JoinHandle of a task whose output type is `T`.
pub(crate) unsafe fn join_poll<T>(
    task: TaskRef,
    dst: &mut Poll<Result<T, JoinError>>,
    waker: &Waker,
) {
    // SAFETY: forwarded from the caller.
    unsafe { (task.header().vtable.try_read_output)(task.0, dst as *mut _ as *mut (), waker) }
}

/// The JoinHandle is dropped.
///
/// # Safety
///
/// The caller is the JoinHandle and gives up its reference.
pub(crate) unsafe fn join_drop(task: TaskRef) {
    let vtable = task.header().vtable;
    match task.header().state.unset_join_interest() {
        // SAFETY: JOIN_INTEREST is gone before completion: the slot is ours.
        Ok(_) => unsafe { (vtable.drop_join_waker)(task.0) },
        // SAFETY: complete: the output is ours.
        Err(_) => unsafe { (vtable.drop_output)(task.0) },
    }
    // SAFETY: the JoinHandle's reference.
    unsafe { task.drop_ref() };
}

/// Requests cancellation (`abort`).
pub(crate) fn remote_abort(task: TaskRef) {
    if task.header().state.transition_to_notified_and_cancel() {
        // SAFETY: the transition added the queue's reference.
        let notified = Notified(task);
        // SAFETY: the caller holds a reference, so the cell is alive.
        unsafe { (task.header().vtable.schedule)(task.0, notified) }
    }
}

// ---- Waker vtable: data is a header pointer; each Waker owns a reference.

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live task's header (the waker being cloned holds
    // or borrows a reference).
    let header = unsafe { &*(data as *const Header) };
    header.state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: `data` is non-null: it came from a header pointer.
    let task = TaskRef(unsafe { NonNull::new_unchecked(data as *mut Header) });
    match task.header().state.transition_to_notified_by_val() {
        ToNotified::DoNothing => {}
        // SAFETY: the waker's reference moved to the queue.
        ToNotified::Submit => unsafe { (task.header().vtable.schedule)(task.0, Notified(task)) },
        // SAFETY: the waker held the last reference.
        ToNotified::Dealloc => unsafe { (task.header().vtable.dealloc)(task.0) },
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: `data` is non-null: it came from a header pointer.
    let task = TaskRef(unsafe { NonNull::new_unchecked(data as *mut Header) });
    if task.header().state.transition_to_notified_by_ref() == ToNotified::Submit {
        // SAFETY: the transition added the queue's reference.
        unsafe { (task.header().vtable.schedule)(task.0, Notified(task)) }
    }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: `data` is non-null and the waker owns a reference.
    unsafe { TaskRef(NonNull::new_unchecked(data as *mut Header)).drop_ref() }
}

/// A panic payload, as `JoinError` stores it.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;
