//! The io_uring side of one socket: the `poll_*` adapters (which keep their
//! operation in a per-socket slot, since a `poll_*` caller has no destructor
//! that could cancel it), the one-shot operations (`connect`, the
//! owned-buffer reads and writes, cancelled when their future is dropped),
//! and closing.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};

use io_uring::opcode;
use io_uring::squeue;
use io_uring::types::Fd;
use socket2::{SockAddr, SockAddrStorage};
use tokio::io::ReadBuf;

use super::bufring::{BufRing, GROUP};
use super::op::{InFlight, Item, Op, OpData, result_error, to_io};
use super::submit::{OneShot, Outcome, PRIMARY, Submitter, read_owned, uring_of, write_owned};
use crate::buf::{IoBuf, IoBufMut};
use crate::runtime::io::source::{MAX_IOVECS, with_contiguous};
use crate::runtime::io::sys::{recv_buf, recv_from_buf};
use crate::runtime::io::{IoHandle, shutdown_error};
use crate::task::lock;

/// The most a slot reads or writes per operation (also the most its buffer
/// grows to).
const MAX_SLOT_IO: usize = 64 * 1024;

/// The most connections a listener's multishot accept takes ahead of the
/// application: when this many wait untaken, the ring cancels the accept
/// (the rest stay in the kernel's backlog, as with a single-shot accept)
/// and the next `accept` re-arms it once they are taken. The bound is
/// where the ring stops it: what the kernel accepted before the cancel
/// reached it (one wake-up's worth of the backlog) still arrives.
pub(super) const ACCEPT_AHEAD: usize = 32;

/// The most received buffers a stream's multishot receive fills ahead of
/// the application (64 KiB of provided buffers): then the ring stops it,
/// the kernel's socket buffer takes the rest (and the sender slows down,
/// as with single-shot receives), and the next read re-arms it.
pub(super) const RECV_AHEAD: usize = 16;

/// Tests: how many multishot accepts were armed.
#[cfg(test)]
pub(super) static MULTISHOT_ACCEPTS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Tests: how many multishot receives ended for want of a provided buffer.
#[cfg(test)]
pub(super) static RECV_FALLBACKS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Tests: how many multishot receives were stopped to move their socket
/// to the primary ring.
#[cfg(test)]
pub(super) static RECV_MOVES: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Tests: how many `POLLOUT` polls `poll_writable` started.
#[cfg(test)]
pub(super) static WRITABLE_POLLS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// The io_uring side of one socket.
pub(crate) struct UringIo {
    sub: Submitter,
    /// Stream reads (`poll_read`), datagram receives or accepts.
    read: Mutex<Slot>,
    /// Stream writes (`poll_write`) or datagram sends.
    write: Mutex<Slot>,
    /// A pending `POLLOUT` poll, for datagram senders that found the socket
    /// buffer full while the write slot was busy with another's datagram.
    writable: Mutex<Option<Arc<Op<NoData>>>>,
}

/// A reusable operation for one direction of the `poll_*` adapters.
///
/// A `poll_*` caller that goes away while its operation is in flight
/// leaves it here (`busy`): the next caller picks up its result, so a
/// received datagram, connection or stream bytes are never lost, and the
/// operation's buffer lives as long as the operation (it is the op's).
#[derive(Default)]
struct Slot {
    op: Option<Arc<Op<SlotData>>>,
    /// The op was started and its result has not been consumed.
    busy: bool,
    /// Received stream bytes not yet handed out: `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// Datagram sends: who started the busy op, with which buffer
    /// (address and length) and destination.
    owner: Option<Waker>,
    ident: (usize, usize),
    dest: Option<SockAddr>,
    /// The slot's multishot operation (accepts, or stream receives), and
    /// whether it is armed (started, its end not yet taken).
    multi: Option<Arc<Op<MultiData>>>,
    multi_armed: bool,
    /// The ring the armed multishot operation went to (it stays there
    /// until it ends).
    multi_ring: usize,
    /// The armed multishot receive was stopped to move the socket to the
    /// primary ring (see `poll_multishot_recv`).
    multi_moving: bool,
    /// A provided buffer a multishot receive filled, and the bytes of it
    /// not yet handed out.
    held: Option<Held>,
    /// The provided buffers ran out (`ENOBUFS`): the next receive goes into
    /// the slot's own buffer.
    recv_fallback: bool,
    /// Datagram sockets: a datagram of this length waits in the slot's
    /// buffer (its sender in the slot's address), peeked and not yet taken.
    peeked: Option<i32>,
}

/// A provided buffer the slot holds: buffer `bid` of ring `ring`'s
/// provided buffers, with its bytes `pos..end` still to hand out.
struct Held {
    ring: usize,
    bid: u16,
    pos: usize,
    end: usize,
}

/// How [`UringIo::read_with`] hands out received bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadMode {
    /// Takes them; with none, starts a receive and waits (`poll_read`).
    Take,
    /// Copies them and leaves them for the next read; waits as `Take`
    /// does (`poll_peek`).
    Peek,
    /// Takes them, never waiting: `WouldBlock` where `Take` would wait,
    /// and with nothing received or in flight, one non-blocking `recv`
    /// (`try_read`).
    Try,
}

/// A multishot operation's data: nothing the kernel writes (a multishot
/// accept passes no address buffer and returns descriptors; a multishot
/// receive writes into the ring's provided buffers), only what releases an
/// item nobody took.
enum MultiData {
    Accept,
    Recv(Arc<IoHandle>),
}

impl OpData for MultiData {
    fn unclaimed_item(&mut self, result: i32, flags: u32, ring: usize) {
        match self {
            MultiData::Accept if result >= 0 => {
                // SAFETY: an accepted descriptor that nobody took.
                drop(unsafe { OwnedFd::from_raw_fd(result) });
            }
            MultiData::Accept => {}
            MultiData::Recv(handle) => {
                if let Some(bid) = io_uring::cqueue::buffer_select(flags)
                    && let Some(pool) = uring_of(handle.driver(ring)).buf_ring()
                {
                    pool.give_back(bid);
                }
            }
        }
    }
}

/// Everything the kernel reads or writes for a slot's operation.
struct SlotData {
    /// The op is an accept (its result is a descriptor to close if nobody
    /// takes it).
    accepting: bool,
    buf: Vec<u8>,
    /// Bytes submitted (sends).
    len: usize,
    addr: libc::sockaddr_storage,
    addr_len: libc::socklen_t,
    msg: libc::msghdr,
    iov: libc::iovec,
}

// SAFETY: the raw pointers in `msg` and `iov` point into this same value
// (`addr`, `iov`) or its `buf`'s heap allocation; they are plain data to
// Rust (only the kernel dereferences them, under the op protocol), so the
// value may move between threads like its owned parts.
unsafe impl Send for SlotData {}

impl SlotData {
    fn new() -> SlotData {
        SlotData {
            accepting: false,
            buf: Vec::new(),
            len: 0,
            // SAFETY: all-zero bytes are a valid `sockaddr_storage`,
            // `msghdr` (null pointers, zero lengths) and `iovec`.
            addr: unsafe { std::mem::zeroed() },
            addr_len: 0,
            // SAFETY: as above.
            msg: unsafe { std::mem::zeroed() },
            // SAFETY: as above.
            iov: unsafe { std::mem::zeroed() },
        }
    }

    /// Points `msg` at `iov` (covering `buf[..len]`) and, with `name`, at
    /// `addr` for an address of `name_len` bytes.
    fn set_msg(&mut self, len: usize, name: bool, name_len: libc::socklen_t) {
        self.iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: len,
        };
        // SAFETY: all-zero bytes are a valid `msghdr`.
        self.msg = unsafe { std::mem::zeroed() };
        self.msg.msg_iov = &raw mut self.iov;
        self.msg.msg_iovlen = 1;
        if name {
            self.msg.msg_name = (&raw mut self.addr).cast();
            self.msg.msg_namelen = name_len;
        }
    }

    /// The address the kernel wrote into `addr`.
    fn address(&self, len: libc::socklen_t) -> SockAddr {
        let mut storage = SockAddrStorage::zeroed();
        // SAFETY: `sockaddr_storage` is one of the platform's address
        // types, as `view_as` requires.
        unsafe { *storage.view_as::<libc::sockaddr_storage>() = self.addr };
        let len = len.min(std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t);
        // SAFETY: the kernel wrote an address of `len` bytes (at most the
        // storage's size) for the family it set.
        unsafe { SockAddr::new(storage, len) }
    }
}

impl OpData for SlotData {
    fn unclaimed(&mut self, result: i32) {
        if self.accepting && result >= 0 {
            // SAFETY: the accept's new descriptor, which nobody took.
            drop(unsafe { OwnedFd::from_raw_fd(result) });
        }
    }
}

/// A readiness poll touches no memory of ours.
struct NoData;

impl OpData for NoData {}

/// The address of a `connect`.
#[derive(Default)]
struct ConnectAddr(Option<SockAddr>);

impl OpData for ConnectAddr {}

/// Clears `O_NONBLOCK`: on a non-blocking socket io_uring fails with
/// `EAGAIN` instead of waiting.
fn set_blocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl on a descriptor the caller owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK != 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether the bytes of `bufs`, one after the other, begin with `prefix`.
fn gathered_starts_with(bufs: &[IoSlice<'_>], mut prefix: &[u8]) -> bool {
    for b in bufs {
        if prefix.is_empty() {
            break;
        }
        let k = b.len().min(prefix.len());
        if b[..k] != prefix[..k] {
            return false;
        }
        prefix = &prefix[k..];
    }
    prefix.is_empty()
}

/// `sendmsg` of `bufs` (at most [`MAX_IOVECS`] of them) without waiting
/// (the socket is in blocking mode; the flag makes this one call
/// non-blocking) and without `SIGPIPE`.
fn send_vectored_now(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // One slice, or a few small ones: `send` (see `with_contiguous`).
    if let Some(result) = with_contiguous(bufs, |buf| send_now(fd, buf, None)) {
        return result;
    }
    let bufs = &bufs[..bufs.len().min(MAX_IOVECS)];
    // SAFETY: all-zero bytes are a valid `msghdr` (no name, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is ABI-compatible with `iovec` on Unix; `sendmsg` only
    // reads through the pointer.
    msg.msg_iov = bufs.as_ptr().cast_mut().cast::<libc::iovec>();
    msg.msg_iovlen = bufs.len() as _;
    // SAFETY: `msg` points at `bufs.len()` live `iovec`s, each valid for
    // its length of reads, for the duration of the call.
    let n = unsafe { libc::sendmsg(fd, &raw const msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `sendto` without waiting (the socket is in blocking mode; the flag makes
/// this one call non-blocking).
fn send_now(fd: RawFd, buf: &[u8], dest: Option<&SockAddr>) -> io::Result<usize> {
    crate::runtime::io::sys::send_to(fd, buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL, dest)
}

impl UringIo {
    /// Connects `fd` to the calling worker's ring (or, off the workers, one
    /// chosen round robin), in blocking mode.
    pub(crate) fn new(handle: &Arc<IoHandle>, fd: RawFd) -> io::Result<UringIo> {
        let sub = Submitter::here(handle)?;
        set_blocking(fd)?;
        Ok(UringIo {
            sub,
            read: Mutex::default(),
            write: Mutex::default(),
            writable: Mutex::new(None),
        })
    }

    /// Starts `build`'s operation in the slot's reusable op (created on
    /// first use) and marks the slot busy.
    fn start_slot(
        &self,
        slot: &mut Slot,
        waker: &Waker,
        build: impl FnOnce(&mut SlotData) -> squeue::Entry,
    ) -> io::Result<()> {
        let op = slot
            .op
            .get_or_insert_with(|| Op::new(self.sub.home.clone(), SlotData::new()))
            .clone();
        self.sub.start(&op, waker, build)?;
        slot.busy = true;
        Ok(())
    }

    /// Whether the runtime shut down (the socket's home ring with it).
    fn shut_down(&self) -> bool {
        let (ring, _) = self.sub.home.snapshot();
        self.sub.driver(ring).is_shut_down()
    }

    /// Polls the slot's busy op: its raw result (consumed), or `None` when
    /// it was lost at shutdown (the slot then forgets it). Without a waker
    /// (`try_*` calls), `Pending` registers nothing.
    fn poll_slot(&self, slot: &mut Slot, waker: Option<&Waker>) -> Poll<Option<i32>> {
        let Some(op) = &slot.op else {
            slot.busy = false;
            return Poll::Ready(None);
        };
        match ready!(op.header().poll_result_with(waker)) {
            Ok(result) => {
                slot.busy = false;
                Poll::Ready(Some(result))
            }
            Err(_lost) => {
                slot.busy = false;
                slot.op = None;
                Poll::Ready(None)
            }
        }
    }

    /// The slot op's data. The caller holds the slot's lock and the op is
    /// not busy (never started or its result consumed).
    fn slot_data(slot: &Slot) -> &SlotData {
        debug_assert!(!slot.busy);
        let op = slot.op.as_ref().expect("a slot with data has an op");
        // SAFETY: the op is not pending (its result was consumed, under
        // this slot's lock, which the caller holds), and the slot's lock
        // serializes every Rust access to it.
        unsafe { op.data() }
    }

    /// A stream read, through the read slot's buffer.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.read_with(cx, fd, buf, ReadMode::Take)
    }

    /// [`poll_read`](Self::poll_read) that leaves the bytes for the next
    /// read (`MSG_PEEK`): they stay in the read slot.
    pub(crate) fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.read_with(cx, fd, buf, ReadMode::Peek)
    }

    /// [`poll_read`](Self::poll_read) without waiting: `WouldBlock` when
    /// nothing was received yet.
    pub(crate) fn try_read(&self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.read_with(&mut cx, fd, buf, ReadMode::Try) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Ready once a read would not wait: bytes already received, a
    /// finished receive, end of stream or an error. With nothing received
    /// or in flight it starts a receive (the multishot one where the kernel
    /// has it), so the wait ends when bytes arrive, and `try_read` then
    /// hands them out.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        let mut slot = lock(&self.read);
        loop {
            if slot.held.is_some() || slot.pos < slot.end {
                return Poll::Ready(Ok(()));
            }
            if slot.multi_armed {
                let op = slot.multi.as_ref().expect("an armed slot has an op");
                return op.header().poll_item_ready(cx.waker()).map(Ok);
            }
            if slot.busy {
                let op = slot.op.as_ref().expect("a busy slot has an op");
                return op.header().poll_finished(cx.waker()).map(Ok);
            }
            if self.shut_down() {
                return Poll::Ready(Err(shutdown_error()));
            }
            if !std::mem::take(&mut slot.recv_fallback) && self.multishot_recv() {
                self.arm_multishot_recv(&mut slot, cx.waker(), fd)?;
                continue;
            }
            self.start_slot(&mut slot, cx.waker(), |d| {
                d.accepting = false;
                if d.buf.len() < MAX_SLOT_IO {
                    d.buf.resize(MAX_SLOT_IO, 0);
                }
                opcode::Recv::new(Fd(fd), d.buf.as_mut_ptr(), MAX_SLOT_IO as u32).build()
            })?;
        }
    }

    /// Ready once a write may go through without waiting: with a send in
    /// the write slot (of a `poll_write` that found the socket buffer
    /// full), once that is done (the socket may still be full: then
    /// `try_write` says `WouldBlock` and the next call polls); otherwise
    /// once the socket is writable (a `POLLOUT` poll).
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        {
            let slot = lock(&self.write);
            if slot.busy {
                let op = slot.op.as_ref().expect("a busy slot has an op");
                return op.header().poll_finished(cx.waker()).map(Ok);
            }
        }
        self.poll_writable(cx, fd)
    }

    /// A non-blocking send of `bufs` (gathered), or `WouldBlock`. A send the write slot
    /// still has in flight (a `poll_write` that found the socket buffer
    /// full and returned `Pending`) goes first: these bytes must not
    /// overtake it. Once it is done, a caller that tries the same bytes
    /// again (a `write` abandoned to a timeout, then `writable` and
    /// `try_write` of the same buffer) gets that send's count, as a
    /// re-polled `poll_write` does, instead of sending them twice; other
    /// bytes go out now.
    pub(crate) fn try_write_vectored(&self, fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut slot = lock(&self.write);
        if slot.busy {
            let Poll::Ready(result) = self.poll_slot(&mut slot, None) else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            let Some(result) = result else {
                return Err(shutdown_error());
            };
            let data = Self::slot_data(&slot);
            if gathered_starts_with(bufs, &data.buf[..data.len]) {
                return to_io(result);
            }
        }
        if self.shut_down() {
            return Err(shutdown_error());
        }
        send_vectored_now(fd, bufs)
    }

    /// The loop behind [`poll_read`](Self::poll_read), `poll_peek` and
    /// `try_read`: bytes already received first (a held provided buffer,
    /// or the slot's own buffer), then the armed or busy receive's result,
    /// then a new receive.
    fn read_with(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
        mode: ReadMode,
    ) -> Poll<io::Result<()>> {
        let waker = (mode != ReadMode::Try).then_some(cx.waker());
        let mut slot = lock(&self.read);
        loop {
            if slot.held.is_some() {
                // SAFETY: `buf`'s unfilled part is valid for writes of its
                // length; `copy_held` initializes the bytes it counts.
                let n = unsafe {
                    self.copy_held(&mut slot, buf.unfilled_mut(), mode != ReadMode::Peek)
                };
                // SAFETY: the first `n` unfilled bytes were just written.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            if slot.pos < slot.end {
                let n = (slot.end - slot.pos).min(buf.remaining());
                let data = Self::slot_data(&slot);
                buf.put_slice(&data.buf[slot.pos..slot.pos + n]);
                if mode != ReadMode::Peek {
                    slot.pos += n;
                }
                return Poll::Ready(Ok(()));
            }
            if slot.multi_armed {
                match ready!(self.poll_multishot_recv(&mut slot, waker)) {
                    None => continue,
                    Some(result) => return Poll::Ready(result),
                }
            }
            if slot.busy {
                let Some(result) = ready!(self.poll_slot(&mut slot, waker)) else {
                    return Poll::Ready(Err(shutdown_error()));
                };
                if result <= 0 {
                    // End of stream (nothing filled) or an error.
                    return Poll::Ready(to_io(result).map(drop));
                }
                slot.pos = 0;
                slot.end = result as usize;
                continue;
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if mode == ReadMode::Try {
                // Nothing received and nothing in flight: the socket's own
                // next bytes, if it has any.
                if self.shut_down() {
                    return Poll::Ready(Err(shutdown_error()));
                }
                let received = recv_buf(fd, buf, libc::MSG_DONTWAIT);
                return Poll::Ready(received.map(drop));
            }
            if !std::mem::take(&mut slot.recv_fallback) && self.multishot_recv() {
                if let Err(e) = self.arm_multishot_recv(&mut slot, cx.waker(), fd) {
                    return Poll::Ready(Err(e));
                }
                continue;
            }
            let want = buf.remaining().min(MAX_SLOT_IO);
            if let Err(e) = self.start_slot(&mut slot, cx.waker(), |d| {
                d.accepting = false;
                if d.buf.len() < want {
                    d.buf.resize(want, 0);
                }
                opcode::Recv::new(Fd(fd), d.buf.as_mut_ptr(), want as u32).build()
            }) {
                return Poll::Ready(Err(e));
            }
            return Poll::Pending;
        }
    }

    /// A stream write, through the write slot's buffer: the bytes are
    /// copied, sent, and the count returned once the send completes.
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, fd, &[IoSlice::new(buf)])
    }

    /// A gathering stream write (the slices' bytes, in order, as one
    /// write).
    ///
    /// First a non-blocking `sendmsg`: when the socket buffer has room the
    /// kernel takes the bytes now and the count is returned at once, as on
    /// a readiness backend. A caller that polls a write once and never
    /// again (a TLS stack's last-gasp alert before it closes) still gets its
    /// bytes out, where an operation left in the slot would be cancelled by
    /// the close before it reached the kernel. When the buffer is full, up
    /// to [`MAX_SLOT_IO`] bytes are copied into the write slot's buffer and
    /// sent by the ring, and the count is returned once that send completes.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut slot = lock(&self.write);
        if slot.busy {
            let Some(result) = ready!(self.poll_slot(&mut slot, Some(cx.waker()))) else {
                return Poll::Ready(Err(shutdown_error()));
            };
            let data = Self::slot_data(&slot);
            // The same bytes: the send this caller started (polled again,
            // with the same slices or the same bytes sliced differently).
            // Other bytes: that caller went away (its bytes were sent all
            // the same), and this one's write starts now.
            if gathered_starts_with(bufs, &data.buf[..data.len]) {
                return Poll::Ready(to_io(result));
            }
        }
        let n = bufs.iter().map(|b| b.len()).sum::<usize>().min(MAX_SLOT_IO);
        if n == 0 {
            return Poll::Ready(Ok(0));
        }
        // The slot is idle (so no earlier bytes are still on their way):
        // this write may go straight to the socket, unless the runtime is
        // gone (every operation then fails, as on mio).
        if self.shut_down() {
            return Poll::Ready(Err(shutdown_error()));
        }
        match send_vectored_now(fd, bufs) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            result => return Poll::Ready(result),
        }
        if let Err(e) = self.start_slot(&mut slot, cx.waker(), |d| {
            d.accepting = false;
            d.buf.clear();
            for b in bufs {
                let room = n - d.buf.len();
                if room == 0 {
                    break;
                }
                d.buf.extend_from_slice(&b[..b.len().min(room)]);
            }
            d.len = n;
            opcode::Send::new(Fd(fd), d.buf.as_ptr(), n as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        }) {
            return Poll::Ready(Err(e));
        }
        Poll::Pending
    }

    /// A datagram receive (`recvmsg`), with the sender's address. A
    /// datagram longer than `buf` is truncated, as with `recvfrom`.
    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SockAddr>> {
        let mut slot = lock(&self.read);
        if let Some(len) = slot.peeked.take() {
            return Poll::Ready(Ok(Self::copy_datagram(&slot, len, buf)));
        }
        if slot.busy {
            let result = ready!(self.poll_slot(&mut slot, Some(cx.waker())));
            return Poll::Ready(Self::take_datagram(&slot, result, buf));
        }
        let want = buf.remaining().min(MAX_SLOT_IO);
        if let Err(e) = self.start_recv_msg(&mut slot, cx.waker(), fd, want) {
            return Poll::Ready(Err(e));
        }
        Poll::Pending
    }

    /// Starts a `recvmsg` of up to `want` bytes into the read slot.
    fn start_recv_msg(
        &self,
        slot: &mut Slot,
        waker: &Waker,
        fd: RawFd,
        want: usize,
    ) -> io::Result<()> {
        self.start_slot(slot, waker, |d| {
            d.accepting = false;
            if d.buf.len() < want {
                d.buf.resize(want, 0);
            }
            let name_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            d.set_msg(want, true, name_len);
            opcode::RecvMsg::new(Fd(fd), &raw mut d.msg).build()
        })
    }

    /// Hands out the datagram the read slot's finished `recvmsg` got
    /// (`result`, as [`poll_slot`](Self::poll_slot) gave it): its bytes (as
    /// many as fit) and its sender.
    fn take_datagram(
        slot: &Slot,
        result: Option<i32>,
        buf: &mut ReadBuf<'_>,
    ) -> io::Result<SockAddr> {
        let Some(result) = result else {
            return Err(shutdown_error());
        };
        if result < 0 {
            return Err(result_error(result));
        }
        Ok(Self::copy_datagram(slot, result, buf))
    }

    /// Copies the datagram of length `len` in the read slot's buffer (as
    /// much as fits) into `buf`; returns its sender.
    fn copy_datagram(slot: &Slot, len: i32, buf: &mut ReadBuf<'_>) -> SockAddr {
        let data = Self::slot_data(slot);
        let n = (len.max(0) as usize)
            .min(buf.remaining())
            .min(data.buf.len());
        buf.put_slice(&data.buf[..n]);
        data.address(data.msg.msg_namelen)
    }

    /// A datagram receive that leaves the datagram for the next receive
    /// (`MSG_PEEK`): it stays in the read slot's buffer (`peeked`) until a
    /// receive takes it. With nothing received or in flight, starts a
    /// `recvmsg` with room for the largest datagram.
    pub(crate) fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SockAddr>> {
        self.peek_from_with(Some(cx.waker()), fd, buf)
    }

    /// [`poll_peek_from`](Self::poll_peek_from) without waiting: the
    /// datagram already received into the slot, else one the kernel has
    /// (`MSG_PEEK | MSG_DONTWAIT`), else `WouldBlock`.
    pub(crate) fn try_peek_from(&self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<SockAddr> {
        match self.peek_from_with(None, fd, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// The peek behind both: with no waker, nothing is started and a
    /// receive in flight means `Pending`.
    fn peek_from_with(
        &self,
        waker: Option<&Waker>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SockAddr>> {
        let mut slot = lock(&self.read);
        loop {
            if let Some(len) = slot.peeked {
                return Poll::Ready(Ok(Self::copy_datagram(&slot, len, buf)));
            }
            if slot.busy {
                match ready!(self.poll_slot(&mut slot, waker)) {
                    Some(len) if len >= 0 => slot.peeked = Some(len),
                    // An error (consumed, as a peek consumes it in the
                    // kernel) or the runtime gone.
                    result => return Poll::Ready(Self::take_datagram(&slot, result, buf)),
                }
                continue;
            }
            if self.shut_down() {
                return Poll::Ready(Err(shutdown_error()));
            }
            let Some(waker) = waker else {
                let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
                return Poll::Ready(recv_from_buf(fd, buf, flags));
            };
            self.start_recv_msg(&mut slot, waker, fd, MAX_SLOT_IO)?;
        }
    }

    /// Ready once the read slot's `recvmsg` has a datagram (or an error);
    /// with none in flight, starts one with room for the largest datagram,
    /// which `try_recv_from` (or the next receive) then hands out.
    pub(crate) fn poll_recv_ready(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        let mut slot = lock(&self.read);
        if slot.peeked.is_some() {
            return Poll::Ready(Ok(()));
        }
        if !slot.busy {
            if self.shut_down() {
                return Poll::Ready(Err(shutdown_error()));
            }
            self.start_recv_msg(&mut slot, cx.waker(), fd, MAX_SLOT_IO)?;
        }
        let op = slot.op.as_ref().expect("a busy slot has an op");
        op.header().poll_finished(cx.waker()).map(Ok)
    }

    /// A datagram receive that does not wait: the read slot's finished
    /// `recvmsg`, or, with none in flight, a non-blocking `recvfrom`;
    /// `WouldBlock` while the slot's is still pending.
    pub(crate) fn try_recv_from(&self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<SockAddr> {
        let mut slot = lock(&self.read);
        if let Some(len) = slot.peeked.take() {
            return Ok(Self::copy_datagram(&slot, len, buf));
        }
        if slot.busy {
            let Poll::Ready(result) = self.poll_slot(&mut slot, None) else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            return Self::take_datagram(&slot, result, buf);
        }
        if self.shut_down() {
            return Err(shutdown_error());
        }
        recv_from_buf(fd, buf, libc::MSG_DONTWAIT)
    }

    /// A datagram send that does not wait (`WouldBlock` when the socket
    /// buffer is full). Datagrams of different senders have no order to
    /// keep, so it goes out directly even while the write slot holds
    /// another's, as `poll_send_to` does.
    pub(crate) fn try_send_to(
        &self,
        fd: RawFd,
        buf: &[u8],
        dest: Option<&SockAddr>,
    ) -> io::Result<usize> {
        if self.shut_down() {
            return Err(shutdown_error());
        }
        send_now(fd, buf, dest)
    }

    /// A datagram send (`sendmsg` to `dest`, or `send` on a connected
    /// socket when `None`).
    ///
    /// Several tasks may send on one socket at once: the slot holds one
    /// task's datagram; a task that finds the slot busy with another's
    /// sends directly with a non-blocking `sendto` instead of waiting.
    pub(crate) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &[u8],
        dest: Option<&SockAddr>,
    ) -> Poll<io::Result<usize>> {
        let mut slot = lock(&self.write);
        let ident = (buf.as_ptr() as usize, buf.len());
        if slot.busy {
            let same_task = slot.owner.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
            let mine = same_task && slot.ident == ident && slot.dest.as_ref() == dest;
            let op = slot.op.clone().expect("a busy slot has an op");
            if mine {
                let Some(result) = ready!(self.poll_slot(&mut slot, Some(cx.waker()))) else {
                    return Poll::Ready(Err(shutdown_error()));
                };
                slot.owner = None;
                return Poll::Ready(to_io(result));
            }
            if same_task && op.header().poll_finished(cx.waker()).is_ready() {
                // This task started the finished op for another datagram
                // and went away from it: reclaim the slot.
                let _ = self.poll_slot(&mut slot, Some(cx.waker()));
                slot.owner = None;
            } else {
                drop(slot);
                loop {
                    match send_now(fd, buf, dest) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            ready!(self.poll_writable(cx, fd))?;
                        }
                        result => return Poll::Ready(result),
                    }
                }
            }
        }
        let n = buf.len().min(MAX_SLOT_IO);
        if let Err(e) = self.start_slot(&mut slot, cx.waker(), |d| {
            d.accepting = false;
            d.buf.clear();
            d.buf.extend_from_slice(&buf[..n]);
            d.len = n;
            match dest {
                Some(dest) => {
                    // SAFETY: `dest` holds `dest.len()` bytes (at most the
                    // storage's size), copied into our storage.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            dest.as_ptr().cast::<u8>(),
                            (&raw mut d.addr).cast::<u8>(),
                            dest.len() as usize,
                        )
                    };
                    d.set_msg(n, true, dest.len());
                    opcode::SendMsg::new(Fd(fd), &raw const d.msg)
                        .flags(libc::MSG_NOSIGNAL as u32)
                        .build()
                }
                None => opcode::Send::new(Fd(fd), d.buf.as_ptr(), n as u32)
                    .flags(libc::MSG_NOSIGNAL)
                    .build(),
            }
        }) {
            return Poll::Ready(Err(e));
        }
        slot.owner = Some(cx.waker().clone());
        slot.ident = ident;
        slot.dest = dest.cloned();
        Poll::Pending
    }

    /// Waits until the socket is writable (a `POLLOUT` poll, shared by the
    /// tasks that wait).
    pub(crate) fn poll_writable(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        let mut writable = lock(&self.writable);
        let op = writable
            .get_or_insert_with(|| Op::new(self.sub.home.clone(), NoData))
            .clone();
        match op.header().try_poll_result(cx.waker()) {
            Some(Poll::Pending) => Poll::Pending,
            Some(Poll::Ready(Ok(result))) => Poll::Ready(to_io(result).map(drop)),
            Some(Poll::Ready(Err(_lost))) => {
                *writable = None;
                Poll::Ready(Err(shutdown_error()))
            }
            None => {
                #[cfg(test)]
                WRITABLE_POLLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.sub.start(&op, cx.waker(), |_| {
                    opcode::PollAdd::new(Fd(fd), libc::POLLOUT as u32).build()
                })?;
                Poll::Pending
            }
        }
    }

    /// Accepts a connection (close-on-exec, blocking mode): through a
    /// multishot accept where the kernel has it, otherwise one accept
    /// operation per connection.
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
    ) -> Poll<io::Result<(OwnedFd, SockAddr)>> {
        let mut slot = lock(&self.read);
        if !slot.busy && self.sub.driver(0).features().multishot_accept {
            return self.poll_accept_multishot(&mut slot, cx, fd);
        }
        if slot.busy {
            let Some(result) = ready!(self.poll_slot(&mut slot, Some(cx.waker()))) else {
                return Poll::Ready(Err(shutdown_error()));
            };
            if result < 0 {
                return Poll::Ready(Err(result_error(result)));
            }
            let data = Self::slot_data(&slot);
            // SAFETY: `accept4` returned this new descriptor, and consuming
            // the result made this the only owner (the op's `unclaimed` no
            // longer closes it).
            let fd = unsafe { OwnedFd::from_raw_fd(result) };
            return Poll::Ready(Ok((fd, data.address(data.addr_len))));
        }
        if let Err(e) = self.start_slot(&mut slot, cx.waker(), |d| {
            d.accepting = true;
            d.addr_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            opcode::Accept::new(
                Fd(fd),
                (&raw mut d.addr).cast::<libc::sockaddr>(),
                &raw mut d.addr_len,
            )
            .flags(libc::SOCK_CLOEXEC)
            .build()
        }) {
            return Poll::Ready(Err(e));
        }
        Poll::Pending
    }

    /// [`poll_accept`](Self::poll_accept) through the slot's multishot
    /// accept: takes the next connection it accepted, re-arming it when it
    /// ended (its bound, `EMFILE` and the like end it; the error is
    /// returned once and the next call re-arms).
    fn poll_accept_multishot(
        &self,
        slot: &mut Slot,
        cx: &mut Context<'_>,
        fd: RawFd,
    ) -> Poll<io::Result<(OwnedFd, SockAddr)>> {
        loop {
            if slot.multi_armed {
                let op = slot.multi.as_ref().expect("an armed slot has an op");
                match ready!(op.header().poll_item(cx.waker())) {
                    Item::Next(result, _) => {
                        if result < 0 {
                            return Poll::Ready(Err(result_error(result)));
                        }
                        // SAFETY: `accept4` returned this new descriptor,
                        // and taking the item made this its only owner.
                        let fd = unsafe { OwnedFd::from_raw_fd(result) };
                        // A multishot accept does not report the address.
                        let peer = socket2::SockRef::from(&fd).peer_addr();
                        return Poll::Ready(peer.map(|addr| (fd, addr)));
                    }
                    Item::Ended(end) => {
                        slot.multi_armed = false;
                        // Cancelled at its bound (or ended with the last
                        // connection it took): take more.
                        if end < 0 && end != -libc::ECANCELED {
                            return Poll::Ready(Err(result_error(end)));
                        }
                    }
                    Item::Lost => {
                        slot.multi_armed = false;
                        slot.multi = None;
                        return Poll::Ready(Err(shutdown_error()));
                    }
                }
            }
            let op = slot
                .multi
                .get_or_insert_with(|| Op::new(self.sub.home.clone(), MultiData::Accept))
                .clone();
            if let Err(e) = self
                .sub
                .start_multishot(&op, cx.waker(), ACCEPT_AHEAD, |_| {
                    opcode::AcceptMulti::new(Fd(fd))
                        .flags(libc::SOCK_CLOEXEC)
                        .build()
                })
            {
                return Poll::Ready(Err(e));
            }
            slot.multi_armed = true;
            #[cfg(test)]
            MULTISHOT_ACCEPTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Whether stream receives go through a multishot receive.
    fn multishot_recv(&self) -> bool {
        self.sub.driver(0).features().multishot_recv
    }

    /// The provided buffers of ring `ring` (which has them: the runtime's
    /// rings agree on their features).
    fn pool(&self, ring: usize) -> &Arc<BufRing> {
        self.sub
            .driver(ring)
            .buf_ring()
            .expect("a ring running multishot receives has provided buffers")
    }

    /// Arms the read slot's multishot receive.
    fn arm_multishot_recv(&self, slot: &mut Slot, waker: &Waker, fd: RawFd) -> io::Result<()> {
        let handle = &self.sub.handle;
        let op = slot
            .multi
            .get_or_insert_with(|| Op::new(self.sub.home.clone(), MultiData::Recv(handle.clone())))
            .clone();
        self.sub.start_multishot(&op, waker, RECV_AHEAD, |_| {
            opcode::RecvMulti::new(Fd(fd), GROUP).build()
        })?;
        slot.multi_armed = true;
        slot.multi_ring = op.header().ring();
        slot.multi_moving = false;
        Ok(())
    }

    /// Takes the next completion of the slot's armed multishot receive:
    /// `Ready(None)` when the caller should look again (a buffer is now
    /// held, or the receive ended and may be re-armed), `Ready(Some(_))`
    /// for what the read returns (end of stream, or an error).
    fn poll_multishot_recv(
        &self,
        slot: &mut Slot,
        waker: Option<&Waker>,
    ) -> Poll<Option<io::Result<()>>> {
        let op = slot.multi.as_ref().expect("an armed slot has an op");
        match ready!(op.header().poll_item_with(waker)) {
            Item::Next(result, flags) => {
                let ring = slot.multi_ring;
                let bid = io_uring::cqueue::buffer_select(flags);
                if result <= 0 {
                    if let Some(bid) = bid {
                        self.pool(ring).give_back(bid);
                    }
                    // 0: end of stream.
                    return Poll::Ready(Some(to_io(result).map(drop)));
                }
                let Some(bid) = bid else {
                    return Poll::Ready(Some(Err(io::Error::other(
                        "io_uring: a multishot receive reported data without a buffer",
                    ))));
                };
                slot.held = Some(Held {
                    ring,
                    bid,
                    pos: 0,
                    end: result as usize,
                });
                // An armed receive keeps its socket on the ring it started
                // on. One started while the primary ring's owner was not
                // attentive moves over once it is again (where a socket
                // re-settles at every single-shot receive): stopped here,
                // re-armed by the next read where `settle_ring` says.
                if ring != PRIMARY
                    && !slot.multi_moving
                    && self.sub.settle_ring(self.sub.handle.owned_index()) == Some(PRIMARY)
                {
                    slot.multi_moving = true;
                    #[cfg(test)]
                    RECV_MOVES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    self.sub.cancel(op);
                }
                Poll::Ready(None)
            }
            Item::Ended(end) => {
                slot.multi_armed = false;
                match end {
                    // Ended after its last item, or stopped at its bound:
                    // re-armed by the caller.
                    0 => Poll::Ready(None),
                    e if e == -libc::ECANCELED => Poll::Ready(None),
                    // No provided buffer was free: one receive into the
                    // slot's own buffer, then multishot again.
                    e if e == -libc::ENOBUFS => {
                        #[cfg(test)]
                        RECV_FALLBACKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        slot.recv_fallback = true;
                        Poll::Ready(None)
                    }
                    e => Poll::Ready(Some(Err(result_error(e)))),
                }
            }
            Item::Lost => {
                slot.multi_armed = false;
                slot.multi = None;
                Poll::Ready(Some(Err(shutdown_error())))
            }
        }
    }

    /// Copies the held buffer's next bytes into `dst` (as many as fit);
    /// with `take`, they are handed out, and the buffer is given back once
    /// all are out (without, a peek, they stay for the next read). Returns
    /// the count.
    ///
    /// # Safety
    ///
    /// `dst` is valid for writes of its length (the bytes counted are
    /// initialized on return).
    unsafe fn copy_held(&self, slot: &mut Slot, dst: &mut [MaybeUninit<u8>], take: bool) -> usize {
        let held = slot.held.as_mut().expect("a held buffer");
        let pool = self.pool(held.ring);
        let n = (held.end - held.pos).min(dst.len());
        // SAFETY: the slot holds buffer `bid` (its CQE reported `end`
        // bytes and it was not given back), so the kernel does not write
        // into it.
        let bytes = unsafe { pool.bytes(held.bid, held.end) };
        for (d, s) in dst[..n].iter_mut().zip(&bytes[held.pos..held.pos + n]) {
            d.write(*s);
        }
        if !take {
            return n;
        }
        held.pos += n;
        if held.pos == held.end {
            pool.give_back(held.bid);
            slot.held = None;
        }
        n
    }

    /// Gives back the provided buffer the read slot holds, if any.
    fn release_held(&self) {
        let mut slot = lock(&self.read);
        if let Some(held) = slot.held.take() {
            self.pool(held.ring).give_back(held.bid);
        }
    }

    /// Connects `fd` to `addr`.
    pub(crate) async fn connect(&self, fd: RawFd, addr: &SockAddr) -> io::Result<()> {
        let data = ConnectAddr(Some(addr.clone()));
        let outcome = OneShot::new(&self.sub, data, move |d: &mut ConnectAddr| {
            let addr = d.0.as_ref().expect("set above");
            opcode::Connect::new(Fd(fd), addr.as_ptr().cast(), addr.len()).build()
        })
        .await;
        match outcome {
            Outcome::Done(result, _) => to_io(result).map(drop),
            Outcome::Refused(e, _) => Err(e),
            Outcome::Lost => Err(shutdown_error()),
        }
    }

    /// Bytes the read slot already received (or its pending receive, which
    /// must finish first), copied into `dst`; `None` when there are none.
    fn poll_take_buffered(
        &self,
        cx: &mut Context<'_>,
        dst: &mut [MaybeUninit<u8>],
    ) -> Poll<Option<io::Result<usize>>> {
        let mut slot = lock(&self.read);
        loop {
            if slot.held.is_some() {
                // SAFETY: `dst` is valid for writes of its length.
                let n = unsafe { self.copy_held(&mut slot, dst, true) };
                return Poll::Ready(Some(Ok(n)));
            }
            if slot.pos < slot.end {
                let n = (slot.end - slot.pos).min(dst.len());
                let data = Self::slot_data(&slot);
                for (d, s) in dst[..n].iter_mut().zip(&data.buf[slot.pos..slot.pos + n]) {
                    d.write(*s);
                }
                slot.pos += n;
                return Poll::Ready(Some(Ok(n)));
            }
            if slot.multi_armed {
                match ready!(self.poll_multishot_recv(&mut slot, Some(cx.waker()))) {
                    None => continue,
                    Some(result) => return Poll::Ready(Some(result.map(|()| 0))),
                }
            }
            if !slot.busy {
                return Poll::Ready(None);
            }
            let Some(result) = ready!(self.poll_slot(&mut slot, Some(cx.waker()))) else {
                return Poll::Ready(Some(Err(shutdown_error())));
            };
            if result <= 0 {
                return Poll::Ready(Some(to_io(result)));
            }
            slot.pos = 0;
            slot.end = result as usize;
        }
    }

    /// Reads into `buf`'s spare capacity; the kernel writes straight into
    /// it. Dropping the future cancels the read; `buf` is then freed after
    /// the completion.
    pub(crate) async fn read_owned<B: IoBufMut>(
        &self,
        fd: RawFd,
        mut buf: B,
    ) -> (io::Result<usize>, B) {
        let init = buf.bytes_init();
        let total = buf.bytes_total();
        if total <= init {
            return (Ok(0), buf);
        }
        // What the `AsyncRead` adapter already received comes first.
        let buffered = {
            // SAFETY: `IoBufMut` promises `total` bytes of allocation at
            // `stable_mut_ptr`, stable while `buf` lives unmutated; the
            // slice covers the spare tail and is dropped in this block.
            let spare = unsafe {
                std::slice::from_raw_parts_mut(
                    buf.stable_mut_ptr().add(init).cast::<MaybeUninit<u8>>(),
                    total - init,
                )
            };
            poll_fn(|cx| self.poll_take_buffered(cx, spare)).await
        };
        if let Some(result) = buffered {
            if let Ok(n) = result {
                // SAFETY: `n` bytes after `init` were just written.
                unsafe { buf.set_init(init + n) };
            }
            return (result, buf);
        }
        // A registered buffer (`FixedBuf`) takes a plain receive too:
        // `READ_FIXED` on a non-blocking socket fails with `EAGAIN` instead
        // of waiting.
        read_owned(&self.sub, buf, |spare, len| {
            opcode::Recv::new(Fd(fd), spare, len).build()
        })
        .await
    }

    /// Writes `buf`'s initialized bytes (some of them); the kernel reads
    /// straight from it.
    pub(crate) async fn write_owned<B: IoBuf>(&self, fd: RawFd, buf: B) -> (io::Result<usize>, B) {
        let len = buf.bytes_init().min(u32::MAX as usize) as u32;
        // A write the `AsyncWrite` adapter started for a caller that went
        // away finishes first, so bytes go out in order.
        poll_fn(|cx| {
            let mut slot = lock(&self.write);
            if slot.busy {
                ready!(self.poll_slot(&mut slot, Some(cx.waker())));
            }
            Poll::Ready(())
        })
        .await;
        if len == 0 {
            return (Ok(0), buf);
        }
        // A registered buffer takes a plain send too (`WRITE_FIXED` would
        // not pass `MSG_NOSIGNAL`).
        write_owned(&self.sub, buf, false, |data, len| {
            opcode::Send::new(Fd(fd), data, len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        })
        .await
    }

    /// Cancels the slots' pending operations.
    fn cancel_slots(&self) {
        for slot in [&self.read, &self.write] {
            let slot = lock(slot);
            if slot.busy
                && let Some(op) = &slot.op
            {
                self.sub.cancel(op);
            }
            if slot.multi_armed
                && let Some(op) = &slot.multi
            {
                self.sub.cancel(op);
            }
        }
        if let Some(op) = &*lock(&self.writable) {
            self.sub.cancel(op);
        }
    }

    /// Closes `fd` once no operation of this socket targets it.
    ///
    /// The kernel holds its own reference to the file for every operation
    /// it has taken, so closing the descriptor is memory-safe at any time;
    /// what must not happen is an SQE still waiting in a submission or
    /// remote queue naming this descriptor *number* after it was closed and
    /// reused by a new socket. So: the slots' operations are cancelled
    /// (one-shot operations were cancelled when their futures dropped), and
    /// a cancelled operation that has not reached the kernel (remote queue,
    /// staging list) is never submitted. With none outstanding the
    /// descriptor is closed now. Otherwise they are all on the home ring:
    /// its owner submits everything staged first and then closes; another
    /// thread waits for a `flush` in progress on that ring to end (the only
    /// time an SQE sits in its submission queue) and closes. In both cases
    /// the descriptor is closed when `close` returns; only when the ring's
    /// owner re-enters from its own dispatch, or the flush does not end in
    /// time, is the close handed to the ring's remote queue instead.
    pub(crate) fn close(&self, fd: OwnedFd) {
        self.cancel_slots();
        self.sub.close(fd);
    }
}

impl Drop for UringIo {
    fn drop(&mut self) {
        // After `close` this finds nothing; after `into_std` (the
        // descriptor lives on) it stops what the slots still had pending.
        self.cancel_slots();
        self.release_held();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_bytes_are_compared_across_slice_boundaries() {
        let slices = |parts: &[&'static [u8]]| -> Vec<IoSlice<'static>> {
            parts.iter().map(|p| IoSlice::new(p)).collect()
        };
        let abcdef = slices(&[b"", b"ab", b"", b"cde", b"f"]);
        assert!(gathered_starts_with(&abcdef, b""));
        assert!(gathered_starts_with(&abcdef, b"abc"));
        assert!(gathered_starts_with(&abcdef, b"abcdef"));
        assert!(gathered_starts_with(&slices(&[b"abcdef"]), b"abcde"));
        assert!(!gathered_starts_with(&abcdef, b"abcdefg"));
        assert!(!gathered_starts_with(&abcdef, b"abd"));
        assert!(!gathered_starts_with(&slices(&[b"", b""]), b"a"));
        assert!(!gathered_starts_with(&[], b"a"));
    }
}
