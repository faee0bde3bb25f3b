//! The `io_uring` backend: one ring per worker, sockets gathered on one.
//!
//! # Shape
//!
//! - [`driver`]: a worker's ring. Submissions are batched: an operation's
//!   SQE is staged and reaches the kernel in one `io_uring_enter` when the
//!   worker parks or polls (or at once when a submission queue's worth is
//!   staged). Completions are dispatched to the operations' wakers, which
//!   schedule the tasks wherever they now run. Threads that do not own a
//!   ring (the thread in a `multi_thread` runtime's `block_on`, the
//!   blocking pool, a socket dropped on another worker) hand work to the
//!   ring's *remote queue* and unpark its owner, which stages it, in order,
//!   before anything it submits itself. `park` waits in `io_uring_enter`
//!   (with a timeout through `IORING_FEAT_EXT_ARG`, or a timeout SQE on
//!   older kernels); `unpark` writes an eventfd on which the ring keeps a
//!   read pending.
//! - [`op`]: one operation's state: a heap allocation shared by its starter
//!   and the ring, holding the memory the kernel reads or writes; a
//!   *multishot* operation (one SQE, many completions) queues its results
//!   there until they are taken.
//! - [`bufring`]: a ring's provided buffers, which its multishot receives
//!   fill.
//! - [`fixed`]: registered buffers (`FixedBufPool`'s memory in every ring's
//!   registered-buffer table).
//! - [`socket`]: a socket's side: the `AsyncRead`/`AsyncWrite` adapters
//!   (through per-socket buffers, since the kernel needs memory that
//!   outlives a `poll_read` call), datagram and accept slots, one-shot
//!   operations (`connect`, owned-buffer reads and writes) and closing.
//!
//! # Why a dropped future can never leave the kernel writing freed memory
//!
//! 1. Every operation's kernel-visible memory (buffer, socket address,
//!    `msghdr`/`iovec`) lives inside its [`op::Op`] allocation, or in heap
//!    buffers the op owns (an owned `IoBufMut` moves *into* the op).
//! 2. The ring takes a strong reference to the op before the SQE can reach
//!    the kernel (the remote queue holds one, then the ring's slab), and
//!    the SQE's `user_data` names that slab entry.
//! 3. The ring drops its reference only when it reaps the op's completion.
//!    A CQE is the kernel's last word on an operation: after it, the kernel
//!    does not touch the op's memory. So the allocation is alive whenever
//!    the kernel may use it, whoever else has gone away.
//! 4. Dropping a future (or a socket) only *requests* cancellation
//!    (`AsyncCancel` through the owning ring, or a synchronous cancel from
//!    another thread): the memory stays with the ring until the cancelled
//!    op's completion arrives. (The request itself is synchronous where
//!    the kernel allows: when the drop returns, the op will not consume
//!    data that arrives afterwards; see `driver` for the bounds of that
//!    on single-issuer rings.)
//! 5. Rust code touches an op's data only while the op is not pending:
//!    before it starts, or after its starter observed the completion under
//!    the op's lock (see [`op`]).
//! 6. At shutdown every pending op is cancelled (by the ring's owner, for
//!    a single-issuer ring) and the driver waits, with a bound, for the
//!    completions; an op the kernel never completes (or that only an owner
//!    no longer there could have cancelled) is
//!    *leaked* (its reference forgotten) rather than freed, and its starter
//!    gets a shutdown error without its data.
//!
//! Closing a socket is the other hazard: see [`socket::UringIo::close`].
//!
//! Multishot receives write into the ring's provided buffers instead of an
//! operation's own memory. Those buffers belong to a [`bufring::BufRing`]
//! shared (`Arc`) by the driver and the sockets, so they too outlive every
//! operation that may fill them; a buffer the kernel filled is the
//! socket's until it gives the buffer back, and shutdown leaks the buffer
//! ring together with any operation the kernel never completed.
//!
//! # Optional kernel features
//!
//! Probed when a ring is created, used only where present, and listed by
//! `Runtime::describe()` (`backend in use = io_uring (multishot accept,
//! ...)`):
//!
//! - **Multishot accept** (Linux 5.19): a listener keeps one accept armed,
//!   which takes connections as they arrive; once 32 wait untaken its ring
//!   cancels it (what the kernel accepted before the cancel reached it
//!   still arrives; the rest wait in the kernel's backlog, which is the
//!   backpressure a single-shot accept has) and the next `accept` re-arms
//!   it.
//! - **Multishot receive into a provided-buffer ring** (Linux 6.0; the
//!   buffer ring is registered with `IORING_REGISTER_PBUF_RING`, whose
//!   success is the probe): a stream socket keeps one receive armed, so a
//!   read costs no submission. It stops at 16 filled buffers (64 KiB)
//!   the application has not read, and falls back to one receive into
//!   the socket's own buffer when the ring's 256 buffers are all taken.
//!   Owned-buffer reads (`read_owned`) on a socket whose receive is armed
//!   take its data from the provided buffers (one copy); on a socket that
//!   only uses owned reads the kernel writes straight into the caller's
//!   buffer.
//! - **Registered buffers** (a sparse table of 64 slots per ring,
//!   `IORING_REGISTER_BUFFERS2` with `IORING_RSRC_REGISTER_SPARSE`, Linux
//!   5.19; the registration is the probe): a `zokio::io::FixedBufPool`
//!   puts its memory in one slot of every ring, and file reads and writes
//!   with its buffers go out as `READ_FIXED`/`WRITE_FIXED`, which skip the
//!   per-operation page pinning (see [`fixed`] for why the kernel can never
//!   write into memory the pool freed). Sockets keep `RECV`/`SEND`.
//! - **Submission polling** (`SQPOLL`), only when asked for with
//!   `io(uring_sqpoll = "2ms")` (the thread's idle time before it sleeps):
//!   one kernel thread, shared by the runtime's rings (`ATTACH_WQ`), takes
//!   their submissions without a system call. It is not the default: the
//!   thread spins on a core of its own, which pays off only with a core to
//!   spare, and completions then run in that thread instead of the
//!   workers'. A kernel that refuses it (unprivileged before 5.11, or
//!   without `IORING_FEAT_SQPOLL_NONFIXED`) gets ordinary rings, and
//!   `describe()` does not list it. A flush still waits until the thread has
//!   taken every submission (`driver::UringDriver::enter_polled`), so the
//!   cancel and close rules above hold unchanged.
//! - Deferred completion work (`SINGLE_ISSUER | DEFER_TASKRUN`, Linux
//!   6.1), for `multi_thread` workers' rings: the kernel queues the work
//!   that finishes a completion (copying a received message, posting the
//!   CQE) for the ring's owner and runs it in one batch when the owner next
//!   enters the ring, instead of in task work on its next return from any
//!   system call. That cut the TCP echo server's CPU per round trip by
//!   about 10% (`benches/RESULTS.md`, session 8). The price: only the
//!   owner may enter the ring or change its registrations, so another
//!   thread's synchronous cancel and registered-buffer updates go through
//!   the owner (`driver::UringDriver::cancel`, `set_fixed`, `empty_fixed`),
//!   and each worker shuts its ring down before it exits. `current_thread`
//!   rings, which whichever thread calls `block_on` drives, use
//!   `COOP_TASKRUN` instead. `describe()` lists "deferred completion work".
//! - Setup flags (`SUBMIT_ALL`, `COOP_TASKRUN`, `TASKRUN_FLAG`, and the
//!   above): see `driver::build_ring`.
//!
//! Where the kernel lacks a feature, the runtime does what it did without
//! it (one accept or receive SQE per call). The backend's own tests run
//! both (`tests.rs`: the runtimes built by `without_optional_features`);
//! the `net` suite runs what this kernel has.
//!
//! # Ring affinity
//!
//! A socket's operations go to one ring at a time (its *home*, see
//! [`op::Home`]), and the home moves only while none is outstanding. In a
//! `multi_thread` runtime it moves to the *primary* ring, worker 0's,
//! whenever that ring's owner is attentive (waiting in it, or looked at it
//! within the last millisecond), and to the starting thread's own ring
//! otherwise (`Submitter::settle_ring` says why: a waiting receive
//! completes through work the kernel queues for the thread that submitted
//! it, so gathering the sockets on one ring lets one worker take their
//! completions in batches instead of waking every worker in turn). An
//! armed multishot receive keeps its socket where it started; one started
//! on another ring (its primary's owner was busy then) is stopped when the
//! primary is attentive again, and re-armed there by the next read. Files
//! *roam*: each operation goes to the starting thread's ring.

mod bufring;
mod driver;
pub(crate) mod file;
pub(crate) mod fixed;
mod op;
mod socket;
mod submit;
#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use driver::FAIL_RING_SETUP;
use driver::Features;
pub(crate) use driver::{FIXED_SLOTS, UringDriver};
pub(crate) use socket::UringIo;

use io_uring::{IoUring, Probe, opcode};

/// Makes every ring of a runtime use the optional features all of them
/// have (a provided-buffer ring may fail to register on one ring only, for
/// lack of memory), so a socket may move between rings freely and a
/// registered buffer is valid on whichever ring a file's operation goes to.
/// (Whether a ring polls its submissions is its own: any mix works.)
pub(crate) fn agree_on_features(drivers: &mut [super::Driver]) {
    let rings = || {
        drivers.iter().filter_map(|d| match d {
            super::Driver::Uring(u) => Some(u.features()),
            super::Driver::Mio(_) => None,
        })
    };
    let all = Features {
        multishot_accept: rings().all(|f| f.multishot_accept),
        multishot_recv: rings().all(|f| f.multishot_recv),
        sqpoll: false,
        fixed_buffers: rings().all(|f| f.fixed_buffers),
        // Each ring's own (see `Features::defer_taskrun`).
        defer_taskrun: false,
    };
    for d in drivers.iter_mut() {
        if let super::Driver::Uring(u) = d {
            u.restrict_features(all);
        }
    }
}

/// Creates a tiny ring and checks the opcodes the backend needs.
pub(crate) fn probe_ring() -> Result<(), String> {
    let ring = IoUring::new(4).map_err(|e| describe_setup_error(&e))?;
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|e| {
        format!("IORING_REGISTER_PROBE failed: {e} (io_uring on Linux 5.6 or newer is needed)")
    })?;
    let needed = [
        (opcode::Accept::CODE, "ACCEPT"),
        (opcode::Connect::CODE, "CONNECT"),
        (opcode::Recv::CODE, "RECV"),
        (opcode::Send::CODE, "SEND"),
        (opcode::RecvMsg::CODE, "RECVMSG"),
        (opcode::SendMsg::CODE, "SENDMSG"),
        (opcode::Close::CODE, "CLOSE"),
        (opcode::PollAdd::CODE, "POLL_ADD"),
        (opcode::Read::CODE, "READ"),
        (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
        (opcode::Timeout::CODE, "TIMEOUT"),
        (opcode::TimeoutRemove::CODE, "TIMEOUT_REMOVE"),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(code, _)| !probe.is_supported(*code))
        .map(|(_, name)| *name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the kernel's io_uring does not support {} (Linux 5.6 or newer is needed)",
            missing.join(", ")
        ))
    }
}

pub(crate) fn describe_setup_error(e: &std::io::Error) -> String {
    let why = match e.raw_os_error() {
        Some(libc::EPERM) => {
            " (a seccomp filter or kernel.io_uring_disabled = 1 may forbid it; with 1, only \
             members of kernel.io_uring_group may create rings)"
        }
        Some(libc::ENOSYS) => {
            " (the kernel is built without io_uring, or a seccomp filter blocks the system call)"
        }
        Some(libc::ENOMEM) => " (the locked-memory limit, RLIMIT_MEMLOCK, may be too low)",
        _ => "",
    };
    format!("io_uring_setup failed: {e}{why}")
}
