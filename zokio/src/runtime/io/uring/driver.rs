//! One worker's ring: submission batching, completion dispatch, the remote
//! queue, parking and unparking, cancellation and shutdown.
//!
//! # Who touches what
//!
//! The submission and completion queues are touched only under `ring` (a
//! mutex that only the owner takes in practice, so it is never contended;
//! it also makes a mistaken second caller safe). Threads that do not own
//! the ring hand their work to the owner: they push to `remote` and unpark
//! it, and it moves the entries into its submission queue, in order, the
//! next time it parks or polls. (The one exception, under the lock: an
//! idle worker reaping a busy owner's completions, `poll_foreign`, which
//! may stage what those completions call for; on a single-issuer ring it
//! does nothing.) The kernel calls other threads make on the
//! ring are `io_uring_register`s that do not use the queues: the
//! synchronous cancel (`IORING_REGISTER_SYNC_CANCEL`) and registered-buffer
//! updates. A single-issuer ring (`Features::defer_taskrun`, the
//! `multi_thread` workers') refuses even those from other threads, so they
//! ask the owner through the remote queue instead and wait for its answer
//! (bounded), and its owner shuts it down before exiting, since no other
//! thread could cancel what is still in flight.
//!
//! # Staging, and what a cancel from another thread can rely on
//!
//! The owner does not write SQEs into the submission queue as operations
//! start: it stages them in a list and moves them to the queue only inside
//! `flush`, right before `io_uring_enter`. Moving an operation's SQE checks,
//! under the operation's lock, that its starter has not cancelled it, and
//! gives it a submission number (`seq`). So an operation is, at any time,
//! either not yet submitted (remote queue or staging list: a cancel just
//! flags it and the owner drops it unsubmitted), or in the middle of the
//! owner's `flush` (a short window: the canceller waits until the ring's
//! `entered` counter reaches the operation's number), or in the kernel (the
//! canceller cancels it synchronously). Either way, when a drop returns, the
//! operation can no longer consume data that arrives afterwards. On a
//! single-issuer ring "synchronously" means the owner cancels it while the
//! canceller waits: the guarantee then holds when the owner gets to the
//! request within `SYNC_CANCEL_WAIT`, and not during shutdown, when the
//! owners are busy cancelling their own tasks (the cancel still happens,
//! later).
//!
//! # `user_data` and the slab
//!
//! An operation's `user_data` is `generation << 32 | index` of its entry in
//! the ring's slab, which holds the ring's strong reference to the
//! operation until its completion is reaped. The generation (never 0) makes
//! a stale cancel (for an operation whose slot was since reused) miss
//! instead of hitting the new operation, and keeps every operation's
//! `user_data` above `1 << 32`, clear of the small tags used for the
//! driver's own SQEs.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use io_uring::types::{CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, opcode, squeue};

use super::bufring::BufRing;
use super::op::{InFlight, SHUTDOWN_RESULT};
use crate::runtime::io::DriverConfig;
use crate::task::lock;

/// `user_data` of the eventfd read that `unpark` completes.
const EVENTFD_TAG: u64 = 1;
/// `user_data` of cancel SQEs (their own results do not matter).
const CANCEL_TAG: u64 = 2;
/// `user_data` of close SQEs.
const CLOSE_TAG: u64 = 3;
/// `user_data` of park timeouts, on kernels without `IORING_FEAT_EXT_ARG`:
/// `TIMEOUT_BASE + n` for the `n`th (mod 2^30).
const TIMEOUT_BASE: u64 = 1 << 30;

/// How long shutdown waits for the kernel to complete cancelled operations
/// before it leaks their memory instead.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);
/// How long a synchronous cancel from another thread may wait (for the
/// kernel, or for the owner of a single-issuer ring).
const SYNC_CANCEL_WAIT: Duration = Duration::from_millis(20);
/// How long another thread waits for the owner of a single-issuer ring to
/// update its registered-buffer table (registering pins the pages, which
/// for a large pool takes a while).
const FIXED_WAIT: Duration = Duration::from_secs(1);
/// How long another thread waits for the owner to finish a `flush` (the
/// window between an SQE getting its submission number and the kernel
/// taking it) before it falls back to asking through the remote queue.
const FLUSH_WAIT: Duration = Duration::from_millis(50);

/// A short wait for another thread (or the kernel's polling thread): spins,
/// then yields, until `limit` (by default `FLUSH_WAIT`) has passed.
struct Backoff {
    spins: u32,
    limit: Duration,
    deadline: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::for_at_most(FLUSH_WAIT)
    }
}

impl Backoff {
    fn for_at_most(limit: Duration) -> Backoff {
        Backoff {
            spins: 0,
            limit,
            deadline: None,
        }
    }

    /// Waits a little; `false` once `limit` has passed.
    fn snooze(&mut self) -> bool {
        self.spins += 1;
        if self.spins < 64 {
            std::hint::spin_loop();
            return true;
        }
        let limit = self.limit;
        let deadline = *self.deadline.get_or_insert_with(|| Instant::now() + limit);
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
        true
    }
}

/// Parker states (the same protocol as the scheduler's `Parker`).
const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// Work handed to the ring by a thread that does not own it.
pub(super) enum Remote {
    /// Queue this operation's SQE (its `user_data` is set by the owner).
    Submit(Arc<dyn InFlight>, squeue::Entry),
    /// Cancel this operation if the ring still holds it.
    Cancel(Arc<dyn InFlight>),
    /// Close this descriptor after every SQE queued before.
    Close(OwnedFd),
    /// Update a slot of the registered-buffer table (only the owner of a
    /// single-issuer ring may) and report to the waiting thread.
    SetFixed(u32, Region, Arc<FixedReply>),
    /// Empty a slot of the registered-buffer table, for a thread that did
    /// not wait (see [`Emptying`]).
    EmptyFixed(u32, Arc<Emptying>),
}

/// A registered-buffer slot being emptied on every ring of a runtime
/// without the asking thread waiting: each ring reports when it has
/// emptied it, and the last report gives the slot back, if every ring
/// managed (a slot that could not be emptied is never reused).
pub(super) struct Emptying {
    handle: std::sync::Weak<crate::runtime::io::IoHandle>,
    slot: u32,
    /// Reports still due, and whether one was a failure.
    state: Mutex<(usize, bool)>,
}

impl Emptying {
    /// For `rings` reports; with none due, the slot goes back at once.
    pub(super) fn new(
        handle: &Arc<crate::runtime::io::IoHandle>,
        slot: u32,
        rings: usize,
    ) -> Arc<Emptying> {
        if rings == 0 {
            handle.release_fixed_slot(slot);
        }
        Arc::new(Emptying {
            handle: Arc::downgrade(handle),
            slot,
            state: Mutex::new((rings, false)),
        })
    }

    /// One ring's result.
    fn report(&self, result: io::Result<()>) {
        let all_emptied = {
            let mut state = lock(&self.state);
            state.0 -= 1;
            state.1 |= result.is_err();
            state.0 == 0 && !state.1
        };
        if all_emptied && let Some(handle) = self.handle.upgrade() {
            handle.release_fixed_slot(self.slot);
        }
    }
}

/// A registered-buffer table entry (`iovec`): an address and a length.
#[derive(Clone, Copy)]
pub(super) struct Region(pub(super) libc::iovec);

// SAFETY: only an address and a length, handed to the kernel; Rust code
// never reads or writes through the pointer.
unsafe impl Send for Region {}

impl Region {
    pub(super) const EMPTY: Region = Region(libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    });

    fn is_empty(self) -> bool {
        self.0.iov_len == 0
    }
}

/// The answer to a [`Remote::SetFixed`], which the asking thread waits for.
pub(super) struct FixedReply {
    state: Mutex<FixedState>,
    done: Condvar,
}

#[derive(Default)]
struct FixedState {
    result: Option<io::Result<()>>,
    /// The asking thread stopped waiting: a registration is not made any
    /// more (the asker treats the pool as unregistered); emptying still is.
    abandoned: bool,
}

impl FixedReply {
    fn new() -> Arc<FixedReply> {
        Arc::new(FixedReply {
            state: Mutex::new(FixedState::default()),
            done: Condvar::new(),
        })
    }

    /// Owner: makes the update with `update` (unless it is a registration
    /// its asker abandoned) and answers. Under the reply's lock, so the
    /// asker either gets the result or abandoned the request before.
    fn apply(&self, region: Region, update: impl FnOnce() -> io::Result<()>) {
        let mut state = lock(&self.state);
        if state.abandoned && !region.is_empty() {
            return;
        }
        let result = update();
        if !state.abandoned {
            state.result = Some(result);
            self.done.notify_all();
        }
    }

    /// Shutdown: the request will not be applied.
    fn refuse(&self) {
        self.apply(Region::EMPTY, || {
            Err(io::Error::other("the runtime's I/O driver has shut down"))
        });
    }

    /// Waits up to `limit` for the answer; abandons the request after.
    /// Calls `help` about every millisecond meanwhile, without holding
    /// anything: a worker thread waiting for another worker drives its own
    /// ring there, so two workers waiting for each other both get answered.
    fn wait(&self, limit: Duration, help: &mut dyn FnMut()) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            {
                let mut state = lock(&self.state);
                if let Some(result) = state.result.take() {
                    return result;
                }
                let now = Instant::now();
                if now >= deadline {
                    state.abandoned = true;
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the ring's owner did not update its registered-buffer table in time",
                    ));
                }
                let slice = (deadline - now).min(Duration::from_millis(1));
                let mut state = self
                    .done
                    .wait_timeout(state, slice)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
                if let Some(result) = state.result.take() {
                    return result;
                }
            }
            help();
        }
    }
}

struct RemoteQueue {
    entries: Vec<Remote>,
    /// Set by shutdown (under this lock): later pushes are refused.
    closed: bool,
}

/// The ring's references to its pending operations, by `user_data`.
struct Slab {
    entries: Vec<SlabEntry>,
    /// Head of the free list (`u32::MAX`: none).
    free: u32,
    len: usize,
}

struct SlabEntry {
    generation: u32,
    op: Option<Arc<dyn InFlight>>,
    next_free: u32,
}

impl Slab {
    fn new() -> Slab {
        Slab {
            entries: Vec::new(),
            free: u32::MAX,
            len: 0,
        }
    }

    fn insert(&mut self, op: Arc<dyn InFlight>) -> u64 {
        let index = if self.free != u32::MAX {
            let index = self.free;
            self.free = self.entries[index as usize].next_free;
            index
        } else {
            self.entries.push(SlabEntry {
                generation: 0,
                op: None,
                next_free: u32::MAX,
            });
            (self.entries.len() - 1) as u32
        };
        let entry = &mut self.entries[index as usize];
        entry.generation = entry.generation.wrapping_add(1).max(1);
        entry.op = Some(op);
        self.len += 1;
        (u64::from(entry.generation) << 32) | u64::from(index)
    }

    fn split(user_data: u64) -> (u32, usize) {
        (
            (user_data >> 32) as u32,
            (user_data & u64::from(u32::MAX)) as usize,
        )
    }

    fn get(&self, user_data: u64) -> Option<&Arc<dyn InFlight>> {
        let (generation, index) = Self::split(user_data);
        let entry = self.entries.get(index)?;
        if entry.generation == generation {
            entry.op.as_ref()
        } else {
            None
        }
    }

    fn remove(&mut self, user_data: u64) -> Option<Arc<dyn InFlight>> {
        let (generation, index) = Self::split(user_data);
        let entry = self.entries.get_mut(index)?;
        if entry.generation != generation {
            return None;
        }
        let op = entry.op.take()?;
        entry.next_free = self.free;
        self.free = index as u32;
        self.len -= 1;
        Some(op)
    }

    fn user_datas(&self) -> Vec<u64> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.op.is_some())
            .map(|(i, e)| (u64::from(e.generation) << 32) | i as u64)
            .collect()
    }

    fn take_all(&mut self) -> Vec<Arc<dyn InFlight>> {
        self.len = 0;
        self.free = u32::MAX;
        std::mem::take(&mut self.entries)
            .into_iter()
            .filter_map(|e| e.op)
            .collect()
    }
}

/// The 8 bytes the eventfd read writes into; allocated once per driver,
/// freed only when no read is armed (else leaked, see `Drop`).
struct EventfdBuf(NonNull<u64>);

// SAFETY: the pointer is to a heap allocation owned by the driver; Rust
// code never reads or writes through it (only the kernel does), so moving
// it between threads is harmless.
unsafe impl Send for EventfdBuf {}

/// What only the owner (under the `ring` lock) touches.
struct RingState {
    slab: Slab,
    /// SQEs waiting for the next `flush`, in order.
    staged: Vec<squeue::Entry>,
    /// Staged entries that trigger a `flush` (the submission queue's size).
    flush_at: usize,
    /// Operation SQEs moved to the submission queue so far (see
    /// `UringDriver::pushed`).
    pushed: u64,
    eventfd_buf: EventfdBuf,
    eventfd_armed: bool,
    /// The `user_data` of the armed park timeout (no `EXT_ARG` only).
    timeout: Option<u64>,
    timeout_seq: u64,
    /// The timeout's duration, read by the kernel when it takes the SQE.
    timespec: Box<Timespec>,
    /// A spare vector swapped with the remote queue's, to drain it without
    /// holding its lock and without allocating.
    spare: Vec<Remote>,
    /// Shutdown has run: the ring takes nothing more.
    shut_down: bool,
    /// Shutdown is cancelling: `-ECANCELED` results mean "shut down".
    cancelling_all: bool,
    /// Wait with a timeout SQE even when `EXT_ARG` is available (tests).
    use_timeout_sqe: bool,
}

/// One worker's ring.
pub(crate) struct UringDriver {
    uring: IoUring,
    ring: Mutex<RingState>,
    remote: Mutex<RemoteQueue>,
    has_remote: AtomicBool,
    /// Operations the slab holds (a copy of its length, for `io_active`).
    in_flight: AtomicUsize,
    state: AtomicUsize,
    eventfd: OwnedFd,
    shut_down: AtomicBool,
    /// The submission number of the last operation SQE moved to the
    /// submission queue (published before the operation records it), and
    /// of the last one the kernel has taken. `pushed > entered` only while
    /// the owner is inside `flush`. When `entered >= pushed`, no SQE waits
    /// in the submission queue, so none can still name a descriptor by
    /// number: another thread may `close(2)` one (see `close`).
    pushed: AtomicU64,
    entered: AtomicU64,
    sync_cancel: AtomicBool,
    /// The optional kernel features this ring uses (probed in `new`).
    features: Features,
    /// The provided buffers of the ring's multishot receives (with
    /// `features.multishot_recv`).
    buf_ring: Option<Arc<BufRing>>,
    /// When ([`visit_stamp`]) the owner last looked at the ring (entered it to
    /// submit, poll or wait), or when another thread woke it from a park.
    /// Read by [`is_attentive`](Self::is_attentive).
    visited: AtomicU64,
    /// The ring is `SINGLE_ISSUER | DEFER_TASKRUN` (`features.defer_taskrun`):
    /// the thread that enabled it (its owner, in [`adopt`](Self::adopt)) is
    /// the only one the kernel lets enter it or change its registrations.
    issuer: OnceLock<ThreadId>,
    /// The runtime is shutting down: `cancel_through_owner` does not wait.
    closing: AtomicBool,
    /// `adopt` could not enable the ring, so it was shut down at once.
    unusable: AtomicBool,
}

/// Optional io_uring features, probed when a ring is created and used only
/// where present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Features {
    /// `IORING_ACCEPT_MULTISHOT` (Linux 5.19): one accept SQE takes
    /// connections until cancelled (or its bound is reached).
    pub(crate) multishot_accept: bool,
    /// `IORING_RECV_MULTISHOT` (Linux 6.0) into the ring's provided-buffer
    /// ring (`IORING_REGISTER_PBUF_RING`, 5.19; see `bufring.rs`): one
    /// receive SQE per stream socket, armed until cancelled.
    pub(crate) multishot_recv: bool,
    /// `SQPOLL` (`io(uring_sqpoll = ...)`, and the kernel allowed it): a
    /// kernel thread takes the submissions.
    pub(crate) sqpoll: bool,
    /// A sparse table of [`FIXED_SLOTS`] registered buffers
    /// (`IORING_REGISTER_BUFFERS2` with `IORING_RSRC_REGISTER_SPARSE`,
    /// Linux 5.19), which `FixedBufPool`s fill (see `fixed.rs`).
    pub(crate) fixed_buffers: bool,
    /// `SINGLE_ISSUER | DEFER_TASKRUN` (Linux 6.1; `multi_thread` workers'
    /// rings): the kernel finishes completions only when the owner asks for
    /// them, in a batch, instead of in task work on any return to user
    /// space. Another thread cannot enter the ring or register with it,
    /// so it asks the owner (see [`UringDriver::cancel`] and
    /// [`UringDriver::set_fixed`]), and the owner shuts the ring down
    /// before it exits. A property of each ring, not agreed on.
    pub(crate) defer_taskrun: bool,
}

impl Features {
    /// The features in use, for `describe()`.
    pub(crate) fn names(self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.multishot_accept {
            names.push("multishot accept");
        }
        if self.multishot_recv {
            names.push("multishot recv with a provided-buffer ring");
        }
        if self.fixed_buffers {
            names.push("registered buffers");
        }
        if self.sqpoll {
            names.push("SQPOLL");
        }
        if self.defer_taskrun {
            names.push("deferred completion work");
        }
        names
    }
}

/// The size of every ring's registered-buffer table: how many
/// `FixedBufPool`s a runtime can have registered at once (each takes one
/// slot). A sparse table costs the kernel a pointer per slot.
pub(crate) const FIXED_SLOTS: u32 = 64;

// Tests: ring creation fails as it does when the locked-memory limit is
// too low (`ENOMEM`). Per thread: runtimes create their rings on the
// thread that builds them, so tests running in parallel are not affected.
#[cfg(test)]
thread_local! {
    pub(crate) static FAIL_RING_SETUP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tests: create rings as if the kernel had no optional feature.
#[cfg(test)]
pub(super) static NO_OPTIONAL_FEATURES: AtomicBool = AtomicBool::new(false);

/// The running kernel's `(major, minor)` version (`uname`), `(0, 0)` if it
/// cannot be read. Multishot flags are not in the opcode probe (they are
/// flags of existing opcodes, which older kernels reject with `EINVAL`),
/// so the release decides.
fn kernel_release() -> (u32, u32) {
    #[cfg(test)]
    if NO_OPTIONAL_FEATURES.load(Ordering::SeqCst) {
        return (0, 0);
    }
    // SAFETY: all-zero bytes are a valid `utsname`.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uname` fills the struct it is given.
    if unsafe { libc::uname(&raw mut name) } != 0 {
        return (0, 0);
    }
    // SAFETY: `release` is NUL-terminated by `uname`.
    let release = unsafe { std::ffi::CStr::from_ptr(name.release.as_ptr()) };
    parse_release(&release.to_string_lossy())
}

/// `"6.8.0-45-generic"` -> `(6, 8)`.
fn parse_release(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

/// How long a ring's owner may go without looking at its ring and still
/// count as attentive: an operation handed to it through the remote queue
/// waits at most about this long before it reaches the kernel. A busy
/// owner looks every `EVENT_INTERVAL` tasks, well inside this.
const ATTENTIVE_FOR: Duration = Duration::from_millis(1);

/// A stamp for `visited`: nanoseconds on the metrics clock, plus one, so
/// that 0 can mean "never".
fn visit_stamp() -> u64 {
    crate::metrics::now_nanos().saturating_add(1)
}

/// Creates a ring with the optional setup flags the kernel accepts.
///
/// - `SUBMIT_ALL` (5.18): keep submitting the batch after an SQE fails to
///   prepare, instead of leaving the rest in the queue.
/// - `COOP_TASKRUN` and `TASKRUN_FLAG` (5.19): a completion does not
///   interrupt the owner with an inter-processor interrupt while it runs
///   tasks; the kernel finishes it when the owner next enters it (its next
///   poll or park, which the flag tells to enter) or, at the latest, on its
///   next return to user space (a timer tick). Measured on the TCP echo
///   benchmark (`multi_thread`, 2 workers): reschedule interrupts 41.7k ->
///   8k per 3 s at the same CPU per round trip.
///
/// With `single_issuer` (a ring only its owner thread will enter, as a
/// `multi_thread` worker's is), first `SINGLE_ISSUER | DEFER_TASKRUN |
/// TASKRUN_FLAG` (6.1), created disabled (`R_DISABLED`) so that the owner,
/// not the thread building the runtime, becomes its issuer when it enables
/// it ([`UringDriver::adopt`]). The kernel then queues completion work for
/// the owner and runs it in a batch when the owner enters the ring to
/// submit, poll or wait, with no task work on other system calls and no
/// wake-up before a waiter has something to take. Measured on the TCP echo
/// benchmark: server CPU per round trip 4.27-4.37 against 4.77-4.86 µs with
/// `COOP_TASKRUN` (`benches/RESULTS.md`, session 8).
///
/// Older kernels reject unknown flags with `EINVAL`; each set is tried in
/// turn.
///
/// With `sqpoll` (`io(uring_sqpoll = ...)`), first a ring whose submission
/// queue a kernel thread polls (`SQPOLL`, sleeping after `sqpoll` without
/// work), attached to `attach`'s thread when given (`ATTACH_WQ`: one
/// polling thread for the runtime). `COOP_TASKRUN` does not combine with
/// it (the polling thread runs the completion work). A kernel that refuses
/// (before 5.11 it needs privileges, and without
/// `IORING_FEAT_SQPOLL_NONFIXED` it only takes registered files) gets the
/// ring below instead. Returns the ring, whether it polls and whether it
/// defers its completion work.
fn build_ring(
    entries: u32,
    sqpoll: Option<Duration>,
    attach: Option<std::os::fd::RawFd>,
    single_issuer: bool,
) -> io::Result<(IoUring, bool, bool)> {
    if let Some(idle) = sqpoll {
        let idle_ms = u32::try_from(idle.as_millis()).unwrap_or(u32::MAX).max(1);
        for submit_all in [true, false] {
            let mut builder = IoUring::builder();
            builder.setup_sqpoll(idle_ms);
            if submit_all {
                builder.setup_submit_all();
            }
            if let Some(fd) = attach {
                builder.setup_attach_wq(fd);
            }
            if let Ok(ring) = builder.build(entries)
                && ring.params().is_feature_sqpoll_nonfixed()
            {
                return Ok((ring, true, false));
            }
        }
    } else if single_issuer {
        let mut builder = IoUring::builder();
        builder
            .setup_submit_all()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .setup_r_disabled();
        match builder.build(entries) {
            Ok(ring) => return Ok((ring, false, true)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    let attempts: [fn(&mut io_uring::Builder); 3] = [
        |b| {
            b.setup_submit_all()
                .setup_coop_taskrun()
                .setup_taskrun_flag();
        },
        |b| {
            b.setup_submit_all();
        },
        |_| {},
    ];
    let mut last = None;
    for configure in attempts {
        let mut builder = IoUring::builder();
        configure(&mut builder);
        match builder.build(entries) {
            Ok(ring) => return Ok((ring, false, false)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

fn cancel_sqe(user_data: u64) -> squeue::Entry {
    opcode::AsyncCancel::new(user_data)
        .build()
        .user_data(CANCEL_TAG)
}

impl UringDriver {
    /// A ring on its own (tests; runtimes create theirs with `attached`).
    #[cfg(test)]
    pub(crate) fn new(config: DriverConfig) -> io::Result<UringDriver> {
        Self::attached(config, None)
    }

    /// A ring whose submission-polling thread (with `uring_sqpoll`) is
    /// `first`'s, so a runtime's rings share one.
    pub(crate) fn attached(
        config: DriverConfig,
        first: Option<&UringDriver>,
    ) -> io::Result<UringDriver> {
        let entries = config.uring_entries.max(2);
        let attach = first
            .filter(|f| f.features.sqpoll)
            .map(|f| f.uring.as_raw_fd());
        #[cfg(test)]
        if FAIL_RING_SETUP.get() {
            let e = io::Error::from_raw_os_error(libc::ENOMEM);
            return Err(io::Error::new(e.kind(), super::describe_setup_error(&e)));
        }
        #[cfg(test)]
        let single_issuer = config.single_issuer && !NO_OPTIONAL_FEATURES.load(Ordering::SeqCst);
        #[cfg(not(test))]
        let single_issuer = config.single_issuer;
        let (uring, sqpoll, defer_taskrun) =
            build_ring(entries, config.uring_sqpoll, attach, single_issuer)
                .map_err(|e| io::Error::new(e.kind(), super::describe_setup_error(&e)))?;
        let release = kernel_release();
        // Registration is the probe for provided-buffer rings; a kernel or
        // a memory limit that refuses it leaves the receives single-shot.
        let buf_ring = (release >= (6, 0))
            .then(|| BufRing::register(&uring).ok().map(Arc::new))
            .flatten();
        // The sparse table's registration is its probe (`EINVAL` before
        // 5.19).
        let fixed_buffers = release >= (5, 19)
            && uring
                .submitter()
                .register_buffers_sparse(FIXED_SLOTS)
                .is_ok();
        let features = Features {
            multishot_accept: release >= (5, 19),
            multishot_recv: buf_ring.is_some(),
            sqpoll,
            fixed_buffers,
            defer_taskrun,
        };
        // Blocking: io_uring waits on it for us (an O_NONBLOCK eventfd
        // would make the read fail with EAGAIN instead).
        // SAFETY: plain syscall; the result is checked.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if efd < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("eventfd failed: {e}")));
        }
        // SAFETY: `eventfd` returned a new descriptor nothing else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(efd) };
        let buf = NonNull::from(Box::leak(Box::new(0u64)));
        Ok(UringDriver {
            uring,
            ring: Mutex::new(RingState {
                slab: Slab::new(),
                staged: Vec::new(),
                flush_at: entries as usize,
                pushed: 0,
                eventfd_buf: EventfdBuf(buf),
                eventfd_armed: false,
                timeout: None,
                timeout_seq: 0,
                timespec: Box::new(Timespec::new()),
                spare: Vec::new(),
                shut_down: false,
                cancelling_all: false,
                use_timeout_sqe: false,
            }),
            remote: Mutex::new(RemoteQueue {
                entries: Vec::new(),
                closed: false,
            }),
            has_remote: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            state: AtomicUsize::new(EMPTY),
            eventfd,
            shut_down: AtomicBool::new(false),
            pushed: AtomicU64::new(0),
            entered: AtomicU64::new(0),
            visited: AtomicU64::new(visit_stamp()),
            sync_cancel: AtomicBool::new(true),
            features,
            buf_ring,
            issuer: OnceLock::new(),
            closing: AtomicBool::new(false),
            unusable: AtomicBool::new(false),
        })
    }

    /// See [`IoHandle::begin_shutdown`](crate::runtime::io::IoHandle::begin_shutdown).
    pub(crate) fn begin_shutdown(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Called by the thread that owns this ring from now on (a
    /// `multi_thread` worker, as it starts): enables a single-issuer ring,
    /// which makes that thread its issuer. Once per ring; a no-op for
    /// other rings.
    pub(crate) fn adopt(&self) {
        if !self.features.defer_taskrun || self.issuer.get().is_some() {
            return;
        }
        match self.uring.submitter().register_enable_rings() {
            Ok(()) => {
                let _ = self.issuer.set(std::thread::current().id());
            }
            Err(e) => {
                // Not expected (the ring was created disabled, and only
                // its owner enables it). A disabled ring cannot be
                // entered, so its operations fail with the shutdown error
                // rather than wait forever.
                log::error!(target: "zokio", "enabling an io_uring ring failed: {e}");
                self.make_unusable();
            }
        }
    }

    /// A ring its owner could not enable: shut down, and parked on without
    /// the ring (see `park_without_ring`).
    fn make_unusable(&self) {
        self.unusable.store(true, Ordering::Relaxed);
        self.shutdown();
    }

    /// Tests: as if `adopt` had failed.
    #[cfg(test)]
    pub(super) fn fail_adoption(&self) {
        self.make_unusable();
    }

    /// For a single-issuer ring: `None` while it is not enabled, else
    /// whether the calling thread is its issuer.
    pub(super) fn caller_is_issuer(&self) -> Option<bool> {
        self.issuer
            .get()
            .map(|id| *id == std::thread::current().id())
    }

    /// Whether the calling thread may change this ring's registrations:
    /// any thread, unless the ring is single-issuer and enabled; then only
    /// its issuer.
    fn may_register(&self) -> bool {
        !self.features.defer_taskrun || self.caller_is_issuer().unwrap_or(true)
    }

    /// Whether the calling thread may enter this ring: any thread, unless
    /// the ring is single-issuer; then only its issuer (a disabled ring
    /// cannot be entered, and nothing was submitted to it).
    fn may_enter(&self) -> bool {
        !self.features.defer_taskrun || self.caller_is_issuer().unwrap_or(false)
    }

    /// The optional kernel features this ring uses.
    pub(crate) fn features(&self) -> Features {
        self.features
    }

    /// Uses a feature only where every ring of the runtime has it (see
    /// `agree_on_features`).
    pub(super) fn restrict_features(&mut self, all: Features) {
        self.features.multishot_accept &= all.multishot_accept;
        self.features.multishot_recv &= all.multishot_recv;
        self.features.fixed_buffers &= all.fixed_buffers;
    }

    /// Points slot `slot` of the registered-buffer table at `region` (a null
    /// base with length 0 empties it).
    ///
    /// # Safety
    ///
    /// A non-empty `region` must be memory the caller keeps allocated, and
    /// lets the kernel write into, for as long as operations may name the
    /// slot (until it is emptied again, and every operation that named it
    /// has completed).
    ///
    /// On a single-issuer ring only its owner may update the table: another
    /// thread asks the owner through the remote queue and waits for the
    /// answer, at most `FIXED_WAIT` (a registration it stops waiting for is
    /// not made). `help` runs meanwhile (see [`FixedReply::wait`]).
    pub(super) unsafe fn set_fixed(
        &self,
        slot: u32,
        region: libc::iovec,
        help: &mut dyn FnMut(),
    ) -> io::Result<()> {
        let region = Region(region);
        if self.may_register() {
            // SAFETY: the caller's promise about `region`.
            match unsafe { self.update_fixed(slot, region) } {
                // A single-issuer ring its owner enabled meanwhile.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                result => return result,
            }
        }
        // Only the owner may: ask it, and wait for the answer.
        let reply = FixedReply::new();
        if self
            .push_remote(Remote::SetFixed(slot, region, reply.clone()))
            .is_err()
        {
            return Err(io::Error::other("the runtime's I/O driver has shut down"));
        }
        reply.wait(FIXED_WAIT, help)
    }

    /// Empties `slot` of the registered-buffer table: now where the calling
    /// thread may, else by the owner, the next time it looks at its remote
    /// queue, without waiting for it. Reports to `emptying` either way.
    pub(super) fn empty_fixed(&self, slot: u32, emptying: &Arc<Emptying>) {
        if self.may_register() {
            // SAFETY: an empty entry names no memory.
            match unsafe { self.update_fixed(slot, Region::EMPTY) } {
                // A single-issuer ring its owner enabled meanwhile.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                result => return emptying.report(result),
            }
        }
        if let Err(Remote::EmptyFixed(_, emptying)) =
            self.push_remote(Remote::EmptyFixed(slot, emptying.clone()))
        {
            emptying.report(Err(io::Error::other(
                "the runtime's I/O driver has shut down",
            )));
        }
    }

    /// `IORING_REGISTER_BUFFERS_UPDATE` for one slot.
    ///
    /// # Safety
    ///
    /// As for [`set_fixed`](Self::set_fixed).
    unsafe fn update_fixed(&self, slot: u32, region: Region) -> io::Result<()> {
        // SAFETY: the caller's promise about `region`; the kernel
        // serialises table updates with the ring's submissions, and an
        // operation already in flight keeps the buffer it started with
        // pinned until it completes.
        unsafe {
            self.uring
                .submitter()
                .register_buffers_update(slot, &[region.0], None)
        }
    }

    /// The ring's provided buffers, where multishot receives are used.
    pub(super) fn buf_ring(&self) -> Option<&Arc<BufRing>> {
        self.buf_ring.as_ref()
    }

    /// Tests: the ring's descriptor (for its `fdinfo`).
    #[cfg(test)]
    pub(super) fn ring_fd(&self) -> std::os::fd::RawFd {
        self.uring.as_raw_fd()
    }

    /// Tests: the error number of a register call (a synchronous cancel
    /// of an operation that does not exist) made by the calling thread:
    /// `ENOENT` where the kernel let it look, `EEXIST` where only the
    /// ring's issuer may.
    #[cfg(test)]
    pub(super) fn register_errno(&self) -> Option<i32> {
        self.uring
            .submitter()
            .register_sync_cancel(Some(Timespec::new()), CancelBuilder::user_data(u64::MAX))
            .err()
            .and_then(|e| e.raw_os_error())
    }

    /// Tests: wait with a timeout SQE, as on kernels without `EXT_ARG`.
    #[cfg(test)]
    pub(super) fn force_timeout_sqe(&self) {
        lock(&self.ring).use_timeout_sqe = true;
    }

    pub(super) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Whether completions can arrive through this ring (operations in
    /// flight or queued for it). An idle worker whose ring is active parks
    /// in it at once: spinning first would also hold back the submissions
    /// it has staged, which only a park or poll sends.
    pub(crate) fn io_active(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0 || self.has_remote.load(Ordering::Relaxed)
    }

    // ----- submission ----------------------------------------------------

    /// Hands `op` (already `Pending`) with its SQE to the ring: directly when
    /// `local` (the calling thread owns this ring), else through the remote
    /// queue. Fails only when the driver has shut down; the operation then
    /// never reached the kernel.
    pub(super) fn submit(
        &self,
        local: bool,
        op: Arc<dyn InFlight>,
        sqe: squeue::Entry,
    ) -> Result<(), ()> {
        if local && let Ok(mut ring) = self.ring.try_lock() {
            if ring.shut_down {
                return Err(());
            }
            // Whatever other threads queued before goes first, so the
            // ring sees each socket's SQEs in the order they were made.
            self.drain_remote(&mut ring);
            self.queue_op(&mut ring, op, sqe);
            return Ok(());
        }
        // Not the owner, or the owner re-entered from inside its own
        // dispatch (a waker or a destructor run by a completion).
        self.push_remote(Remote::Submit(op, sqe)).map_err(drop)
    }

    /// Cancels the operation `op`, which went to the kernel in this ring as
    /// `user_data`, submission number `seq`. `local`: the calling thread
    /// owns this ring.
    ///
    /// The owner submits an `AsyncCancel` and enters the kernel at once;
    /// another thread waits for a `flush` in progress to end (so the
    /// operation is in the kernel) and cancels it synchronously with
    /// `IORING_REGISTER_SYNC_CANCEL`, or, on a single-issuer ring (which
    /// only its owner may enter or register with), asks the owner through
    /// the remote queue and waits until the operation has completed. Either
    /// way, when this returns, the operation will not consume more data (a
    /// cancelled socket read leaves the bytes for the next read). Where
    /// that is not possible (kernels before 6.0, the owner re-entering from
    /// its own dispatch, or an owner that does not get to the request
    /// within `SYNC_CANCEL_WAIT`), the cancel still happens, later.
    pub(super) fn cancel(&self, local: bool, op: &Arc<dyn InFlight>, user_data: u64, seq: u64) {
        if local {
            match self.ring.try_lock() {
                Ok(mut ring) => {
                    if !ring.shut_down && self.holds(&ring, user_data, op) {
                        self.stage(&mut ring, cancel_sqe(user_data));
                        self.flush(&mut ring);
                    }
                }
                // Re-entered from the owner's own dispatch.
                Err(_) => {
                    let _ = self.push_remote(Remote::Cancel(op.clone()));
                }
            }
            return;
        }
        if self.shut_down.load(Ordering::Acquire) {
            return;
        }
        if !self.may_register() {
            return self.cancel_through_owner(op);
        }
        if self.sync_cancel.load(Ordering::Relaxed) && self.wait_entered(seq) {
            let timeout = Timespec::from(SYNC_CANCEL_WAIT);
            match self
                .uring
                .submitter()
                .register_sync_cancel(Some(timeout), CancelBuilder::user_data(user_data))
            {
                Ok(()) => return,
                // Kernels before 6.0.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.sync_cancel.store(false, Ordering::Relaxed);
                }
                // A single-issuer ring its owner enabled meanwhile.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    return self.cancel_through_owner(op);
                }
                // ENOENT: already completed. ETIME, EALREADY: the cancel is
                // under way. Either way the completion comes.
                Err(_) => return,
            }
        }
        let _ = self.push_remote(Remote::Cancel(op.clone()));
    }

    /// The synchronous cancel of a single-issuer ring, for another thread:
    /// asks the owner to cancel `op` and waits (at most `SYNC_CANCEL_WAIT`)
    /// until its completion has been taken, so it consumes no data that
    /// arrives after this returns.
    fn cancel_through_owner(&self, op: &Arc<dyn InFlight>) {
        if self.push_remote(Remote::Cancel(op.clone())).is_err() {
            return;
        }
        if self.closing.load(Ordering::Acquire) {
            // The owner is cancelling its own share of the tasks, not
            // looking at its queue; the runtime's data goes nowhere now.
            return;
        }
        let mut backoff = Backoff::for_at_most(SYNC_CANCEL_WAIT);
        while op.header().is_pending()
            && !self.shut_down.load(Ordering::Acquire)
            && backoff.snooze()
        {}
    }

    /// Waits until the kernel has taken submission number `seq` (the owner
    /// is inside `flush` when it has not); `false` if that takes longer
    /// than `FLUSH_WAIT` or the driver shut down.
    fn wait_entered(&self, seq: u64) -> bool {
        let mut backoff = Backoff::default();
        while self.entered.load(Ordering::SeqCst) < seq {
            if self.shut_down.load(Ordering::Acquire) || !backoff.snooze() {
                return false;
            }
        }
        true
    }

    /// Closes `fd` once no SQE that may name it waits to reach the kernel
    /// (an SQE names a descriptor by number until the kernel takes it, and
    /// the number could be reused by a new descriptor meanwhile). The
    /// caller has cancelled every operation of the socket, so none of them
    /// is submitted any more. `local`: the calling thread owns this ring.
    pub(super) fn close(&self, local: bool, fd: OwnedFd) {
        if self.shut_down.load(Ordering::Acquire) {
            drop(fd);
            return;
        }
        if local {
            match self.ring.try_lock() {
                Ok(mut ring) => {
                    // Whatever names the descriptor goes to the kernel
                    // first.
                    self.drain_remote(&mut ring);
                    self.flush(&mut ring);
                    if self.submission_empty() {
                        drop(fd);
                    } else {
                        self.push_close(&mut ring, fd);
                    }
                }
                Err(_) => {
                    if let Err(Remote::Close(fd)) = self.push_remote(Remote::Close(fd)) {
                        drop(fd);
                    }
                }
            }
            return;
        }
        if self.wait_entered(self.pushed.load(Ordering::SeqCst)) {
            drop(fd);
        } else if let Err(Remote::Close(fd)) = self.push_remote(Remote::Close(fd)) {
            drop(fd);
        }
    }

    /// Closes `fd` with an `IORING_OP_CLOSE` on this ring, without waiting
    /// for it: staged now when the calling thread owns the ring (`local`)
    /// and can take it, otherwise handed to the owner through the remote
    /// queue. The caller guarantees no SQE names `fd` any more (a file
    /// whose operations were all released). After shutdown, a plain
    /// `close(2)`.
    pub(super) fn close_on_ring(&self, local: bool, fd: OwnedFd) {
        if self.shut_down.load(Ordering::Acquire) {
            drop(fd);
            return;
        }
        if local && let Ok(mut ring) = self.ring.try_lock() {
            if ring.shut_down {
                drop(fd);
            } else {
                self.push_close(&mut ring, fd);
            }
            return;
        }
        if let Err(Remote::Close(fd)) = self.push_remote(Remote::Close(fd)) {
            drop(fd);
        }
    }

    fn push_remote(&self, entry: Remote) -> Result<(), Remote> {
        {
            let mut queue = lock(&self.remote);
            if queue.closed {
                return Err(entry);
            }
            queue.entries.push(entry);
            self.has_remote.store(true, Ordering::Release);
        }
        self.unpark();
        Ok(())
    }

    /// Moves the remote queue's entries into the submission queue, in order.
    fn drain_remote(&self, ring: &mut RingState) {
        if !self.has_remote.load(Ordering::Acquire)
            || !self.has_remote.swap(false, Ordering::AcqRel)
        {
            return;
        }
        let mut batch = std::mem::take(&mut ring.spare);
        std::mem::swap(&mut lock(&self.remote).entries, &mut batch);
        for entry in batch.drain(..) {
            match entry {
                Remote::Submit(op, sqe) => self.queue_op(ring, op, sqe),
                Remote::Cancel(op) => {
                    if let Some(user_data) = op.header().pending_user_data()
                        && self.holds(ring, user_data, &op)
                    {
                        self.stage(ring, cancel_sqe(user_data));
                    }
                }
                Remote::Close(fd) => self.push_close(ring, fd),
                Remote::SetFixed(slot, region, reply) => {
                    reply.apply(region, || {
                        // SAFETY: the asker's promise (`set_fixed`), kept
                        // while it waits; a registration it stopped
                        // waiting for is not made (`apply`).
                        unsafe { self.update_fixed(slot, region) }
                    });
                }
                Remote::EmptyFixed(slot, emptying) => {
                    // SAFETY: an empty entry names no memory.
                    emptying.report(unsafe { self.update_fixed(slot, Region::EMPTY) });
                }
            }
        }
        ring.spare = batch;
    }

    /// Whether the slab holds `op` as `user_data` (its completion has not
    /// been reaped).
    fn holds(&self, ring: &RingState, user_data: u64, op: &Arc<dyn InFlight>) -> bool {
        ring.slab
            .get(user_data)
            .is_some_and(|held| std::ptr::addr_eq(Arc::as_ptr(held), Arc::as_ptr(op)))
    }

    /// Stages an operation's SQE, unless its starter already cancelled it.
    fn queue_op(&self, ring: &mut RingState, op: Arc<dyn InFlight>, sqe: squeue::Entry) {
        let user_data = ring.slab.insert(op.clone());
        self.in_flight.store(ring.slab.len, Ordering::Relaxed);
        if !op.header().assign(user_data) {
            // Cancelled while it waited in the remote queue: it never
            // reaches the kernel.
            ring.slab.remove(user_data);
            op.header().complete(-libc::ECANCELED);
            return;
        }
        self.stage(ring, sqe.user_data(user_data));
    }

    fn push_close(&self, ring: &mut RingState, fd: OwnedFd) {
        let sqe = opcode::Close::new(Fd(fd.into_raw_fd()))
            .build()
            .user_data(CLOSE_TAG);
        self.stage(ring, sqe);
    }

    /// Adds an SQE to the staging list; a full list is flushed at once.
    fn stage(&self, ring: &mut RingState, sqe: squeue::Entry) {
        ring.staged.push(sqe);
        // Not on a thread that may not enter the ring (another worker
        // reaping a single-issuer ring's completions, `poll_foreign`): the
        // owner's next flush takes the whole list.
        if ring.staged.len() >= ring.flush_at && self.may_enter() {
            self.flush(ring);
        }
    }

    /// Moves the staged SQEs to the submission queue (entering the kernel
    /// whenever it fills up), dropping those of operations cancelled
    /// meanwhile and numbering the others.
    fn transfer(&self, ring: &mut RingState) {
        if ring.staged.is_empty() {
            return;
        }
        let mut staged = std::mem::take(&mut ring.staged);
        // The operations below get numbers up to `last`. Publishing that
        // bound first keeps `pushed` at or above every number an operation
        // records (see `pushed`); `entered` reaches it once the kernel has
        // taken the batch.
        let last = ring.pushed + staged.len() as u64;
        self.pushed.store(last, Ordering::SeqCst);
        let mut seq = ring.pushed;
        let mut next = 0;
        while next < staged.len() {
            {
                // SAFETY: the `ring` lock (held through `ring`) makes this
                // the only submission queue handle. The SQEs' pointers
                // target memory owned by operations the slab holds until
                // their completions are reaped, or by the driver (eventfd
                // buffer, timespec), which outlives the ring's use of it.
                let mut sq = unsafe { self.uring.submission_shared() };
                while next < staged.len() && !sq.is_full() {
                    let sqe = &staged[next];
                    next += 1;
                    let user_data = sqe.get_user_data();
                    if user_data >= 1 << 32 {
                        seq += 1;
                        let submitted = ring
                            .slab
                            .get(user_data)
                            .is_some_and(|op| op.header().mark_submitted(seq));
                        if !submitted {
                            // Cancelled while staged: it never reaches the
                            // kernel.
                            if let Some(op) = ring.slab.remove(user_data) {
                                op.header().complete(-libc::ECANCELED);
                            }
                            continue;
                        }
                    }
                    // SAFETY: as above; the queue has room (checked).
                    let pushed = unsafe { sq.push(sqe) };
                    debug_assert!(pushed.is_ok());
                }
                // Dropping `sq` publishes the new tail to the kernel.
            }
            if next < staged.len() {
                self.enter(ring);
            }
        }
        ring.pushed = last;
        staged.clear();
        debug_assert!(ring.staged.is_empty(), "staged during a transfer");
        ring.staged = staged;
    }

    fn submission_empty(&self) -> bool {
        // SAFETY: called with the `ring` lock held (exclusive queue access).
        unsafe { self.uring.submission_shared() }.is_empty()
    }

    /// Sends the staged SQEs to the kernel (one `io_uring_enter`, more only
    /// if the queue fills or the kernel pushes back); no system call when
    /// there is nothing to do.
    fn flush(&self, ring: &mut RingState) {
        self.transfer(ring);
        self.enter(ring);
    }

    /// Enters the kernel for what the submission queue holds (or for
    /// completions the kernel holds back).
    fn enter(&self, ring: &mut RingState) {
        if self.features.sqpoll {
            return self.enter_polled(ring);
        }
        // Only the owner flushes a single-issuer ring: `stage` leaves a
        // full list to it, `poll_foreign` does nothing there, and
        // `shutdown` cancels through the ring only on the owner.
        debug_assert!(
            self.may_enter(),
            "entering a single-issuer ring off its owner"
        );
        for _ in 0..16 {
            let (empty, needs_enter) = {
                // SAFETY: the `ring` lock is held (exclusive queue access).
                let sq = unsafe { self.uring.submission_shared() };
                (sq.is_empty(), sq.cq_overflow() || sq.taskrun())
            };
            if empty && !needs_enter {
                break;
            }
            match self.uring.submitter().submit() {
                Ok(n) => crate::metrics::io_submissions(n),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                // The completion queue is full: make room, then retry.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EAGAIN)) => {
                    self.reap(ring);
                    continue;
                }
                Err(e) => {
                    eprintln!("zokio: io_uring submission failed: {e}");
                    break;
                }
            }
            if empty {
                break;
            }
        }
        self.note_entered(ring);
    }

    /// [`enter`](Self::enter) on an `SQPOLL` ring: the kernel thread takes
    /// the submissions (woken by `submit` if it sleeps). Waits until it has
    /// taken every SQE, which it issues before it moves the queue's head, so
    /// a flush means what it means without `SQPOLL`: a cancel flushed by the
    /// owner has run, and `entered` (which the cancel and close rules of
    /// other threads read) stays exact. If the thread does not get to them
    /// within `FLUSH_WAIT`, `entered` stays behind and those rules fall back
    /// to the remote queue, as they do for a slow owner.
    fn enter_polled(&self, ring: &mut RingState) {
        let before = self.submission_len();
        let mut backoff = Backoff::default();
        while self.submission_len() > 0 {
            match self.uring.submitter().submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EAGAIN)) => {
                    self.reap(ring);
                }
                Err(e) => {
                    eprintln!("zokio: io_uring submission failed: {e}");
                    break;
                }
            }
            if !backoff.snooze() {
                break;
            }
        }
        crate::metrics::io_submissions(before - self.submission_len());
        self.note_entered(ring);
    }

    /// SQEs in the submission queue that the kernel has not taken yet.
    fn submission_len(&self) -> usize {
        // SAFETY: called with the `ring` lock held (exclusive queue access).
        unsafe { self.uring.submission_shared() }.len()
    }

    fn note_entered(&self, ring: &RingState) {
        if self.submission_empty() {
            self.entered.store(ring.pushed, Ordering::SeqCst);
        }
        self.visited.store(visit_stamp(), Ordering::Relaxed);
    }

    /// Tests: as if the owner had never looked at the ring.
    #[cfg(test)]
    pub(super) fn forget_visit(&self) {
        self.visited.store(0, Ordering::Relaxed);
    }

    /// Whether an operation handed to this ring from another thread would
    /// reach the kernel soon: the owner waits in the ring (the hand-over's
    /// `unpark` wakes it) or looked at it within [`ATTENTIVE_FOR`]. A
    /// heuristic for choosing a ring (see `Submitter::settle_ring`); any
    /// answer is safe.
    pub(crate) fn is_attentive(&self) -> bool {
        if self.state.load(Ordering::Relaxed) == PARKED {
            return true;
        }
        let visited = self.visited.load(Ordering::Relaxed);
        visited != 0 && visit_stamp().saturating_sub(visited) < ATTENTIVE_FOR.as_nanos() as u64
    }

    // ----- completion ----------------------------------------------------

    /// Takes every completion from the queue and dispatches it.
    fn reap(&self, ring: &mut RingState) {
        let mut batch = [(0u64, 0i32, 0u32); 32];
        loop {
            let mut n = 0;
            {
                // SAFETY: the `ring` lock is held (exclusive queue access).
                let mut cq = unsafe { self.uring.completion_shared() };
                for cqe in &mut cq {
                    batch[n] = (cqe.user_data(), cqe.result(), cqe.flags());
                    n += 1;
                    if n == batch.len() {
                        break;
                    }
                }
                // Dropping `cq` hands the slots back to the kernel.
            }
            if n == 0 {
                return;
            }
            crate::metrics::io_completions(n);
            for &(user_data, result, flags) in &batch[..n] {
                self.dispatch(ring, user_data, result, flags);
            }
            self.in_flight.store(ring.slab.len, Ordering::Relaxed);
        }
    }

    fn dispatch(&self, ring: &mut RingState, user_data: u64, result: i32, flags: u32) {
        match user_data {
            EVENTFD_TAG => ring.eventfd_armed = false,
            CANCEL_TAG | CLOSE_TAG => {}
            t if t < 1 << 32 => {
                if ring.timeout == Some(t) {
                    ring.timeout = None;
                }
            }
            _ if io_uring::cqueue::more(flags) => {
                // One item of a multishot operation; more will follow, so
                // the slab keeps it.
                let Some(op) = ring.slab.get(user_data) else {
                    debug_assert!(false, "a completion for an unknown operation");
                    return;
                };
                if op.header().deliver(result, flags) {
                    // Its bound is reached: stop it until its starter has
                    // taken what waits.
                    self.stage(ring, cancel_sqe(user_data));
                }
            }
            _ => {
                let Some(op) = ring.slab.remove(user_data) else {
                    debug_assert!(false, "a completion for an unknown operation");
                    return;
                };
                let result = if ring.cancelling_all && result == -libc::ECANCELED {
                    SHUTDOWN_RESULT
                } else {
                    result
                };
                // The kernel is done with the operation's memory; the
                // slab's reference goes when `op` drops, after the starter
                // has been told.
                op.header().finish(result, flags);
            }
        }
    }

    // ----- parking -------------------------------------------------------

    /// Flushes the submissions, waits for a completion, an `unpark` or
    /// `timeout`, and dispatches the completions.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        let mut ring = lock(&self.ring);
        if ring.shut_down {
            drop(ring);
            if self.unusable.load(Ordering::Relaxed) {
                self.park_without_ring(timeout);
            }
            return;
        }
        let notified =
            match self
                .state
                .compare_exchange(EMPTY, PARKED, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => false,
                Err(_) => {
                    // A swap, not a store: an `unpark` landing between the
                    // failed exchange and this write is read (and its
                    // writes acquired) instead of overwritten unseen, as in
                    // the scheduler's `Parker` (see its loom models).
                    self.state.swap(EMPTY, Ordering::SeqCst);
                    true
                }
            };
        // From here on an `unpark` (which every remote push makes) sees
        // PARKED and writes the eventfd, so an entry pushed after this
        // drain ends the wait below.
        self.drain_remote(&mut ring);
        // SAFETY: the `ring` lock is held (exclusive queue access).
        let ready = !unsafe { self.uring.completion_shared() }.is_empty();
        if notified || ready || timeout == Some(Duration::ZERO) {
            self.state.store(EMPTY, Ordering::SeqCst);
            self.flush(&mut ring);
        } else {
            self.arm_eventfd(&mut ring);
            self.wait(&mut ring, timeout);
            self.state.store(EMPTY, Ordering::SeqCst);
            // What other threads queued while this one slept (their
            // unpark ended the wait) goes to the kernel now.
            if self.has_remote.load(Ordering::Acquire) {
                self.drain_remote(&mut ring);
                self.flush(&mut ring);
            }
        }
        self.reap(&mut ring);
        self.finish_deferred(&mut ring);
    }

    /// `park` on a ring that could not be enabled (its worker keeps running
    /// tasks until the runtime stops; a park on any other shut-down ring
    /// returns at once): waits on the eventfd directly, so the worker
    /// sleeps instead of spinning.
    fn park_without_ring(&self, timeout: Option<Duration>) {
        if self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // Notified: consume it and return (as `park` does).
            self.state.swap(EMPTY, Ordering::SeqCst);
            return;
        }
        let mut fd = libc::pollfd {
            fd: self.eventfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.map_or(-1, |t| {
            i32::try_from(t.as_millis().max(1)).unwrap_or(i32::MAX)
        });
        // SAFETY: one valid `pollfd`; the result is only inspected.
        let ready = unsafe { libc::poll(&raw mut fd, 1, ms) } > 0;
        self.state.store(EMPTY, Ordering::SeqCst);
        if ready {
            let mut value: u64 = 0;
            // SAFETY: reads 8 bytes into a live local from our eventfd,
            // which has a value (poll said so), so it does not block.
            let _ = unsafe {
                libc::read(
                    self.eventfd.as_raw_fd(),
                    (&raw mut value).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }

    /// Flushes the submissions and dispatches the completions that are
    /// ready, without blocking.
    pub(crate) fn poll_now(&self) {
        let Ok(mut ring) = self.ring.try_lock() else {
            return;
        };
        if ring.shut_down {
            return;
        }
        // Entries pushed from now on notify again.
        let _ = self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst);
        self.drain_remote(&mut ring);
        self.flush(&mut ring);
        self.reap(&mut ring);
        self.finish_deferred(&mut ring);
    }

    /// A single-issuer ring: the kernel finishes at most a few (20, Linux
    /// 6.13 and later) deferred completions per enter and flags the ring
    /// when more wait. Enters again for those, reaping in between so the
    /// completion queue does not fill, a bounded number of times (the
    /// rest wait for the next poll or park).
    fn finish_deferred(&self, ring: &mut RingState) {
        if !self.features.defer_taskrun {
            return;
        }
        for _ in 0..8 {
            // SAFETY: the `ring` lock is held (exclusive queue access).
            if !unsafe { self.uring.submission_shared() }.taskrun() {
                return;
            }
            self.enter(ring);
            self.reap(ring);
        }
    }

    /// For a thread that does not own the ring (an idle worker taking a
    /// busy owner's completions): dispatches the completions already in
    /// the completion queue, with no system call. It leaves the owner's
    /// pending wake-up (`NOTIFIED`) for the owner, whose next park must
    /// still return at once, and leaves submissions to the owner: entering
    /// the ring from here would not run the owner's deferred completion
    /// work (`COOP_TASKRUN` runs it in the task that submitted), so it
    /// would be a wasted system call on every idle moment.
    ///
    /// Nothing for a single-issuer ring: its completions are posted only
    /// when its owner enters it, which reaps them right after, so there is
    /// nothing to take here (and taking the lock would only make the
    /// owner's next poll skip).
    pub(crate) fn poll_foreign(&self) {
        if self.features.defer_taskrun {
            return;
        }
        let Ok(mut ring) = self.ring.try_lock() else {
            return;
        };
        if ring.shut_down {
            return;
        }
        self.reap(&mut ring);
    }

    /// Ends a `park` in progress, or makes the next one return at once.
    pub(crate) fn unpark(&self) {
        if self.state.swap(NOTIFIED, Ordering::SeqCst) == PARKED {
            // The owner is about to look at its ring again.
            self.visited.store(visit_stamp(), Ordering::Relaxed);
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live local to our eventfd.
            let n = unsafe {
                libc::write(
                    self.eventfd.as_raw_fd(),
                    (&raw const one).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
            // Fails only if the counter would overflow (then a read is
            // already due) or the fd is gone (driver being dropped).
            let _ = n;
        }
    }

    /// Keeps one read pending on the eventfd, so that `unpark` completes it
    /// and ends the wait.
    fn arm_eventfd(&self, ring: &mut RingState) {
        if ring.eventfd_armed {
            return;
        }
        let sqe = opcode::Read::new(
            Fd(self.eventfd.as_raw_fd()),
            ring.eventfd_buf.0.as_ptr().cast(),
            std::mem::size_of::<u64>() as u32,
        )
        .build()
        .user_data(EVENTFD_TAG);
        self.stage(ring, sqe);
        ring.eventfd_armed = true;
    }

    fn wait(&self, ring: &mut RingState, timeout: Option<Duration>) {
        if let Some(t) = timeout
            && (!self.uring.params().is_feature_ext_arg() || ring.use_timeout_sqe)
        {
            self.arm_timeout(ring, t);
        }
        self.transfer(ring);
        if !self.submission_empty() {
            // Submitted in an enter of its own, which publishes `entered`
            // before the sleep: a thread cancelling or closing waits for
            // that, and must not wait for the sleep to end.
            self.enter(ring);
            // Often the submission itself completes something (a send,
            // a receive with data waiting): no need to sleep then.
            // SAFETY: the `ring` lock is held (exclusive queue access).
            if !unsafe { self.uring.completion_shared() }.is_empty() {
                return;
            }
        }
        let submitter = self.uring.submitter();
        let result = match timeout {
            None => submitter.submit_and_wait(1),
            Some(t) if self.uring.params().is_feature_ext_arg() && !ring.use_timeout_sqe => {
                let ts = Timespec::from(t);
                let args = SubmitArgs::new().timespec(&ts);
                submitter.submit_with_args(1, &args)
            }
            Some(_) => submitter.submit_and_wait(1),
        };
        match result {
            Ok(n) => crate::metrics::io_submissions(n),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
                ) => {}
            Err(e) => eprintln!("zokio: waiting on the io_uring failed: {e}"),
        }
        self.note_entered(ring);
    }

    /// Older kernels: a timeout SQE ends the wait. One is armed at a time;
    /// a new park replaces the previous one's.
    fn arm_timeout(&self, ring: &mut RingState, t: Duration) {
        if let Some(previous) = ring.timeout.take() {
            let sqe = opcode::TimeoutRemove::new(previous)
                .build()
                .user_data(CANCEL_TAG);
            self.stage(ring, sqe);
        }
        // The kernel copies the timespec when it takes the SQE, which the
        // wait right after does; it stays in the box until then.
        *ring.timespec = Timespec::from(t);
        ring.timeout_seq = (ring.timeout_seq + 1) % TIMEOUT_BASE;
        let user_data = TIMEOUT_BASE + ring.timeout_seq;
        let sqe = opcode::Timeout::new(&*ring.timespec)
            .build()
            .user_data(user_data);
        self.stage(ring, sqe);
        ring.timeout = Some(user_data);
    }

    // ----- shutdown ------------------------------------------------------

    /// Called by the owner as it exits: a single-issuer ring is shut down
    /// now, because no other thread can enter it to cancel what is in
    /// flight. Other rings are shut down with the runtime.
    pub(crate) fn owner_leaving(&self) {
        if self.features.defer_taskrun {
            self.shutdown();
        }
    }

    /// Cancels everything in flight, waits (boundedly) for the kernel to
    /// finish with it, fails what it never finished and leaks that memory,
    /// and closes the descriptors queued for closing. Idempotent. On a
    /// single-issuer ring only its owner can cancel (see `owner_leaving`);
    /// another thread leaks what is still in flight instead (sound, and
    /// not expected: the owner shuts its ring down before it exits).
    pub(crate) fn shutdown(&self) {
        let mut ring = lock(&self.ring);
        if ring.shut_down {
            return;
        }
        ring.shut_down = true;
        ring.cancelling_all = true;
        let queued = {
            let mut queue = lock(&self.remote);
            queue.closed = true;
            self.shut_down.store(true, Ordering::Release);
            std::mem::take(&mut queue.entries)
        };
        let mut closes = Vec::new();
        for entry in queued {
            match entry {
                // Never reached the kernel: fails now, memory free to go.
                Remote::Submit(op, _) => op.header().complete(SHUTDOWN_RESULT),
                Remote::Cancel(_) => {}
                Remote::Close(fd) => closes.push(fd),
                Remote::SetFixed(_, _, reply) => reply.refuse(),
                Remote::EmptyFixed(_, emptying) => emptying.report(Err(io::Error::other(
                    "the runtime's I/O driver has shut down",
                ))),
            }
        }
        if self.may_enter() {
            self.cancel_everything(&mut ring);
        }
        // The kernel never completed these: their memory may still be
        // written, so it is leaked (the references are forgotten) and the
        // starters are told the runtime shut down.
        for op in ring.slab.take_all() {
            op.header().lose();
            std::mem::forget(op);
            // A lost receive may still write into a provided buffer.
            if let Some(buf_ring) = &self.buf_ring {
                std::mem::forget(buf_ring.clone());
            }
        }
        self.in_flight.store(0, Ordering::Relaxed);
        if ring.eventfd_armed {
            // Leaked for the same reason; `Drop` frees it otherwise.
            ring.eventfd_buf = EventfdBuf(NonNull::from(Box::leak(Box::new(0u64))));
            ring.eventfd_armed = false;
        }
        drop(ring);
        drop(closes);
    }

    /// Shutdown, on a thread that may enter the ring: cancels every
    /// operation in flight (everything queued reaches the kernel first, so
    /// each can be cancelled by `user_data`) and waits, at most
    /// `SHUTDOWN_WAIT`, for the kernel to complete them.
    fn cancel_everything(&self, ring: &mut RingState) {
        self.flush(ring);
        for user_data in ring.slab.user_datas() {
            self.stage(ring, cancel_sqe(user_data));
        }
        if ring.eventfd_armed {
            self.stage(ring, cancel_sqe(EVENTFD_TAG));
        }
        if let Some(timeout) = ring.timeout {
            self.stage(ring, cancel_sqe(timeout));
        }
        self.flush(ring);
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        loop {
            self.reap(ring);
            // A timeout SQE left armed names no memory of ours (the
            // kernel copied its timespec), so it does not hold shutdown up.
            if ring.slab.len == 0 && !ring.eventfd_armed {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.wait(ring, Some((deadline - now).min(Duration::from_millis(10))));
        }
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        self.shutdown();
        let ring = lock(&self.ring);
        if !ring.eventfd_armed {
            // SAFETY: allocated with `Box::new` in `new` (or `shutdown`),
            // and no read is armed, so the kernel holds no pointer to it.
            drop(unsafe { Box::from_raw(ring.eventfd_buf.0.as_ptr()) });
        }
    }
}

#[cfg(test)]
mod release_tests {
    use super::parse_release;

    #[test]
    fn kernel_releases_parse_to_major_and_minor() {
        assert_eq!(parse_release("6.8.0-45-generic"), (6, 8));
        assert_eq!(parse_release("5.19.17"), (5, 19));
        assert_eq!(parse_release("6.1"), (6, 1));
        assert_eq!(parse_release("garbage"), (0, 0));
        assert!(parse_release("5.10.0") < (5, 19));
        assert!(parse_release("6.0.0") >= (5, 19));
    }
}
