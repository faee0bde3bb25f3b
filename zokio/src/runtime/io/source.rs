//! One socket's connection to the runtime's backend: a readiness
//! registration (`mio`) or a completion state (`io_uring`). The `net` types
//! own the file descriptor and call through here for every operation that
//! can wait, so each type is written once for both backends.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use socket2::{SockAddr, SockRef};
use tokio::io::ReadBuf;

use super::scheduled::{Direction, Registration, Wait};
use super::sys::{recv_buf, recv_from_buf};
use super::{ActiveBackend, IoHandle, current_io};
use crate::buf::{IoBuf, IoBufMut};

// One per socket, inside the socket's own allocation: boxing the larger
// io_uring state would add a pointer chase to every operation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum IoSource {
    Mio(Registration),
    #[cfg(target_os = "linux")]
    Uring(super::uring::UringIo),
}

impl IoSource {
    /// Connects `fd` to the current runtime's backend, setting the blocking
    /// mode that backend needs.
    ///
    /// # Panics
    ///
    /// Outside a runtime, like tokio's sockets.
    #[track_caller]
    pub(crate) fn new(fd: &OwnedFd) -> io::Result<IoSource> {
        Self::with_handle(&current_io(), fd)
    }

    pub(crate) fn with_handle(io: &Arc<IoHandle>, fd: &OwnedFd) -> io::Result<IoSource> {
        match io.backend() {
            ActiveBackend::Mio => {
                SockRef::from(fd).set_nonblocking(true)?;
                #[cfg(target_vendor = "apple")]
                if SockRef::from(fd).r#type()? != socket2::Type::DGRAM {
                    SockRef::from(fd).set_nosigpipe(true)?;
                }
                Ok(IoSource::Mio(Registration::new(io, fd.as_raw_fd())?))
            }
            #[cfg(target_os = "linux")]
            ActiveBackend::IoUring => Ok(IoSource::Uring(super::uring::UringIo::new(
                io,
                fd.as_raw_fd(),
            )?)),
            #[cfg(not(target_os = "linux"))]
            ActiveBackend::IoUring => unreachable!("io_uring is never chosen off Linux"),
        }
    }

    /// A stream read (`recv`).
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self {
            IoSource::Mio(reg) => {
                let wanted = buf.remaining();
                reg.poll_read_stream(cx, wanted, || recv_buf(fd, buf, 0))
                    .map_ok(drop)
            }
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_read(cx, fd, buf),
        }
    }

    /// A stream read that leaves the bytes for the next read (`MSG_PEEK`).
    pub(crate) fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self {
            IoSource::Mio(reg) => reg
                .poll_io_shared(cx, Direction::Read, || recv_buf(fd, buf, libc::MSG_PEEK))
                .map_ok(drop),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_peek(cx, fd, buf),
        }
    }

    /// A stream read that does not wait: `WouldBlock` when nothing is
    /// there to read.
    pub(crate) fn try_read(&self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        match self {
            IoSource::Mio(reg) => reg
                .try_io(Direction::Read, || recv_buf(fd, buf, 0))
                .map(drop),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.try_read(fd, buf),
        }
    }

    /// A scattering read that does not wait. On mio one `readv`; on
    /// io_uring, where bytes may already be held in the stream, the first
    /// non-empty slice is filled as [`try_read`](Self::try_read) fills a
    /// buffer (a shorter count is allowed by `read_vectored`'s contract).
    pub(crate) fn try_read_vectored(
        &self,
        fd: RawFd,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> io::Result<usize> {
        match self {
            IoSource::Mio(reg) => reg.try_io(Direction::Read, || super::sys::readv(fd, bufs)),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => {
                let Some(first) = bufs.iter_mut().find(|b| !b.is_empty()) else {
                    return Ok(0);
                };
                let mut buf = ReadBuf::new(first);
                u.try_read(fd, &mut buf)?;
                Ok(buf.filled().len())
            }
        }
    }

    /// A write that does not wait: `WouldBlock` when the socket buffer is
    /// full.
    pub(crate) fn try_write(&self, fd: RawFd, buf: &[u8]) -> io::Result<usize> {
        self.try_write_vectored(fd, &[IoSlice::new(buf)])
    }

    /// A gathering write that does not wait (the slices' bytes in order, as
    /// one write): `WouldBlock` when the socket buffer is full.
    pub(crate) fn try_write_vectored(&self, fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            IoSource::Mio(reg) => reg.try_io(Direction::Write, || send_vectored(fd, bufs)),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.try_write_vectored(fd, bufs),
        }
    }

    /// Ready when a read may not have to wait (it may still find nothing:
    /// then `try_read` says `WouldBlock` and the next wait is a real one).
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        match self {
            IoSource::Mio(reg) => reg.poll_ready(cx, Direction::Read, Wait::Shared),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_read_ready(cx, fd),
        }
    }

    /// Ready when a write may not have to wait (as `poll_read_ready`).
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        match self {
            IoSource::Mio(reg) => reg.poll_ready(cx, Direction::Write, Wait::Shared),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_write_ready(cx, fd),
        }
    }

    /// A datagram `recv` on a connected socket.
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self {
            IoSource::Mio(reg) => reg
                .poll_io(cx, Direction::Read, || recv_buf(fd, buf, 0))
                .map_ok(drop),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_recv_from(cx, fd, buf).map_ok(|_| ()),
        }
    }

    /// A write (`send`, without `SIGPIPE`).
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self {
            IoSource::Mio(reg) => reg.poll_io(cx, Direction::Write, || send(fd, buf)),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_write(cx, fd, buf),
        }
    }

    /// A gathering write (`sendmsg` of `bufs`, without `SIGPIPE`): the
    /// slices' bytes go out in order, as one write; returns how many.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self {
            IoSource::Mio(reg) => reg.poll_io(cx, Direction::Write, || send_vectored(fd, bufs)),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_write_vectored(cx, fd, bufs),
        }
    }

    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SockAddr>> {
        match self {
            IoSource::Mio(reg) => reg.poll_io(cx, Direction::Read, || recv_from_buf(fd, buf, 0)),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_recv_from(cx, fd, buf),
        }
    }

    /// A datagram receive that leaves the datagram for the next receive
    /// (`MSG_PEEK`); returns its sender.
    pub(crate) fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SockAddr>> {
        match self {
            IoSource::Mio(reg) => reg.poll_io_shared(cx, Direction::Read, || {
                recv_from_buf(fd, buf, libc::MSG_PEEK)
            }),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_peek_from(cx, fd, buf),
        }
    }

    /// A datagram peek that does not wait: `WouldBlock` when none is
    /// there.
    pub(crate) fn try_peek_from(&self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<SockAddr> {
        match self {
            IoSource::Mio(reg) => {
                reg.try_io(Direction::Read, || recv_from_buf(fd, buf, libc::MSG_PEEK))
            }
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.try_peek_from(fd, buf),
        }
    }

    /// A datagram receive that does not wait: `WouldBlock` when none is
    /// there.
    pub(crate) fn try_recv_from(&self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<SockAddr> {
        match self {
            IoSource::Mio(reg) => reg.try_io(Direction::Read, || recv_from_buf(fd, buf, 0)),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.try_recv_from(fd, buf),
        }
    }

    /// A datagram send that does not wait: `WouldBlock` when the socket
    /// buffer is full.
    pub(crate) fn try_send_to(
        &self,
        fd: RawFd,
        buf: &[u8],
        addr: Option<&SockAddr>,
    ) -> io::Result<usize> {
        match self {
            IoSource::Mio(reg) => reg.try_io(Direction::Write, || {
                super::sys::send_to(fd, buf, SEND_FLAGS, addr)
            }),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.try_send_to(fd, buf, addr),
        }
    }

    /// Ready once any direction of `interest` may not have to wait: what
    /// was seen. `datagram` picks the datagram forms of the io_uring
    /// waits (a `recvmsg`, a `POLLOUT` poll) over the stream ones.
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        interest: crate::io::Interest,
        datagram: bool,
    ) -> Poll<io::Result<crate::io::Ready>> {
        use crate::io::Ready;
        let mut seen = Ready::EMPTY;
        for (wanted, direction) in [
            (interest.is_readable(), Direction::Read),
            (interest.is_writable(), Direction::Write),
        ] {
            if !wanted {
                continue;
            }
            let poll = match self {
                IoSource::Mio(reg) => reg
                    .poll_ready_event(cx, direction, Wait::Shared)
                    .map_ok(|event| Ready::from_bits(event.bits())),
                #[cfg(target_os = "linux")]
                IoSource::Uring(_) => {
                    let poll = match (direction, datagram) {
                        (Direction::Read, false) => self.poll_read_ready(cx, fd),
                        (Direction::Write, false) => self.poll_write_ready(cx, fd),
                        (Direction::Read, true) => self.poll_recv_ready(cx, fd),
                        (Direction::Write, true) => self.poll_send_ready(cx, fd),
                    };
                    poll.map_ok(|()| match direction {
                        Direction::Read => Ready::READABLE,
                        Direction::Write => Ready::WRITABLE,
                    })
                }
            };
            match poll {
                Poll::Ready(Ok(ready)) => seen |= ready,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if seen.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(seen))
        }
    }

    /// Ready when a datagram receive may not have to wait.
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub(crate) fn poll_recv_ready(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        match self {
            IoSource::Mio(reg) => reg.poll_ready(cx, Direction::Read, Wait::Shared),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_recv_ready(cx, fd),
        }
    }

    /// Ready when a datagram send may not have to wait.
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub(crate) fn poll_send_ready(&self, cx: &mut Context<'_>, fd: RawFd) -> Poll<io::Result<()>> {
        match self {
            IoSource::Mio(reg) => reg.poll_ready(cx, Direction::Write, Wait::Shared),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_writable(cx, fd),
        }
    }

    /// `sendto` (or `send` when `addr` is `None`), for datagrams.
    pub(crate) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        buf: &[u8],
        addr: Option<&SockAddr>,
    ) -> Poll<io::Result<usize>> {
        match self {
            IoSource::Mio(reg) => reg.poll_io(cx, Direction::Write, || {
                super::sys::send_to(fd, buf, SEND_FLAGS, addr)
            }),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_send_to(cx, fd, buf, addr),
        }
    }

    /// Accepts a connection; the new socket is close-on-exec.
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
    ) -> Poll<io::Result<(OwnedFd, SockAddr)>> {
        match self {
            IoSource::Mio(reg) => reg.poll_io(cx, Direction::Read, || accept(fd)),
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.poll_accept(cx, fd),
        }
    }

    /// Finishes connecting a socket: on mio the caller started a
    /// non-blocking `connect` before registering (see [`Socket::connect`]),
    /// so this waits for the handshake; on io_uring it submits the connect.
    async fn connect(&self, fd: RawFd, addr: &SockAddr) -> io::Result<()> {
        match self {
            IoSource::Mio(reg) => {
                let _ = addr;
                poll_fn(|cx| reg.poll_ready(cx, Direction::Write, Wait::Slot)).await?;
                // Writable means the handshake ended; the socket error says
                // how.
                match with_sock(fd, |s| s.take_error())? {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.connect(fd, addr).await,
        }
    }

    /// Reads into `buf`'s spare part and gives it back.
    pub(crate) async fn read_owned<B: IoBufMut>(
        &self,
        fd: RawFd,
        mut buf: B,
    ) -> (io::Result<usize>, B) {
        match self {
            IoSource::Mio(reg) => {
                let init = buf.bytes_init();
                let total = buf.bytes_total();
                let result = poll_fn(|cx| {
                    // SAFETY: `IoBufMut` promises `total` bytes of allocation
                    // at `stable_mut_ptr`; the slice covers the uninitialized
                    // tail only and lives for this call.
                    let spare = unsafe {
                        std::slice::from_raw_parts_mut(
                            buf.stable_mut_ptr().add(init).cast::<MaybeUninit<u8>>(),
                            total - init,
                        )
                    };
                    reg.poll_read_stream(cx, total - init, || super::sys::recv(fd, spare, 0))
                })
                .await;
                if let Ok(n) = result {
                    // SAFETY: the kernel initialized `n` bytes after `init`.
                    unsafe { buf.set_init(init + n) };
                }
                (result, buf)
            }
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.read_owned(fd, buf).await,
        }
    }

    /// Writes `buf`'s initialized bytes (some of them) and gives it back.
    pub(crate) async fn write_owned<B: IoBuf>(&self, fd: RawFd, buf: B) -> (io::Result<usize>, B) {
        match self {
            IoSource::Mio(reg) => {
                // SAFETY: `IoBuf` promises `bytes_init` initialized bytes at
                // `stable_ptr`, valid while `buf` is not mutated (it is not).
                let bytes =
                    unsafe { std::slice::from_raw_parts(buf.stable_ptr(), buf.bytes_init()) };
                let result =
                    poll_fn(|cx| reg.poll_io(cx, Direction::Write, || send(fd, bytes))).await;
                (result, buf)
            }
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.write_owned(fd, buf).await,
        }
    }

    /// Detaches from the backend and closes `fd`.
    pub(crate) fn close(&self, fd: OwnedFd) {
        match self {
            IoSource::Mio(reg) => {
                reg.deregister(fd.as_raw_fd());
                drop(fd);
            }
            #[cfg(target_os = "linux")]
            IoSource::Uring(u) => u.close(fd),
        }
    }
}

/// Runs `f` with socket2's view of `fd`.
pub(crate) fn with_sock<R>(fd: RawFd, f: impl FnOnce(SockRef<'_>) -> R) -> R {
    // SAFETY: callers pass the fd of a socket they own and keep open for the
    // duration of the call; the view does not outlive `f`.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    f(SockRef::from(&borrowed))
}

/// `send` flags: never raise `SIGPIPE` (a closed peer is an `EPIPE` error).
/// macOS has no `MSG_NOSIGNAL`; there the socket carries `SO_NOSIGPIPE`
/// instead (set in [`IoSource::with_handle`]).
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(target_vendor = "apple")]
const SEND_FLAGS: libc::c_int = 0;

fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    super::sys::send_to(fd, buf, SEND_FLAGS, None)
}

/// The most slices one `sendmsg` takes (`IOV_MAX` on Linux and macOS); the
/// rest of a longer list waits for the next write, as with `writev` in std.
pub(crate) const MAX_IOVECS: usize = 1024;

/// `sendmsg` of `bufs` (at most [`MAX_IOVECS`] of them) with [`SEND_FLAGS`],
/// or `send` when they fit one small buffer (see [`with_contiguous`]).
fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    if let Some(result) = with_contiguous(bufs, |buf| send(fd, buf)) {
        return result;
    }
    let bufs = &bufs[..bufs.len().min(MAX_IOVECS)];
    with_sock(fd, |s| s.send_vectored_with_flags(bufs, SEND_FLAGS))
}

/// The largest gathered write [`with_contiguous`] copies into one buffer.
pub(crate) const GATHER_LIMIT: usize = 1024;

/// Calls `send` with `bufs` as one slice when sending them needs no
/// `sendmsg`: a single slice as it is, or several totalling at most
/// [`GATHER_LIMIT`] bytes copied, in order, into a buffer on the stack (an
/// HTTP response's head and small body, say). `send` of one buffer skips
/// the `msghdr` copy and `iovec` import that `sendmsg` makes the kernel do,
/// which costs more than copying a few hundred bytes (benches/RESULTS.md).
/// `None` (without calling `send`): use `sendmsg`.
pub(crate) fn with_contiguous<R>(bufs: &[IoSlice<'_>], send: impl FnOnce(&[u8]) -> R) -> Option<R> {
    if let [buf] = bufs {
        return Some(send(buf));
    }
    let total = bufs.iter().try_fold(0usize, |sum, b| {
        Some(sum + b.len()).filter(|&t| t <= GATHER_LIMIT)
    })?;
    let mut scratch = [0u8; GATHER_LIMIT];
    let mut at = 0;
    for b in bufs {
        scratch[at..at + b.len()].copy_from_slice(b);
        at += b.len();
    }
    Some(send(&scratch[..total]))
}

#[cfg(not(target_vendor = "apple"))]
fn accept(fd: RawFd) -> io::Result<(OwnedFd, SockAddr)> {
    // SAFETY: `SockAddr::try_init` hands a zeroed storage and its length to
    // `accept4`, which writes at most that many bytes and the length.
    let (new, addr) = unsafe {
        SockAddr::try_init(|storage, len| {
            let new = libc::accept4(
                fd,
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            if new < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(new)
            }
        })?
    };
    // SAFETY: `accept4` returned a new descriptor that nothing else owns.
    Ok((unsafe { std::os::fd::FromRawFd::from_raw_fd(new) }, addr))
}

/// macOS has no `accept4`: socket2's `accept` sets close-on-exec, and the
/// new socket is made non-blocking (and `SIGPIPE`-free) by its `IoSource`.
#[cfg(target_vendor = "apple")]
fn accept(fd: RawFd) -> io::Result<(OwnedFd, SockAddr)> {
    let (socket, addr) = with_sock(fd, |s| s.accept())?;
    Ok((socket.into(), addr))
}

/// A socket descriptor and its backend state; closes through the backend on
/// drop (so an io_uring can first finish what still targets it).
pub(crate) struct Socket {
    fd: Option<OwnedFd>,
    pub(crate) source: IoSource,
}

impl Socket {
    /// Takes `fd` into the current runtime.
    #[track_caller]
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Socket> {
        let source = IoSource::new(&fd)?;
        Ok(Socket {
            fd: Some(fd),
            source,
        })
    }

    /// Connects the new socket `fd` to `addr` in the current runtime.
    ///
    /// On mio the non-blocking `connect` starts *before* the socket is
    /// registered: a socket that is not yet connecting reports hang-up to
    /// epoll, and an edge-triggered registration would record that stale
    /// "closed" readiness for good.
    #[track_caller]
    pub(crate) fn connect(
        fd: OwnedFd,
        addr: &SockAddr,
    ) -> impl std::future::Future<Output = io::Result<Socket>> + use<'_> {
        let io = current_io();
        async move {
            let mut pending = true;
            if io.backend() == ActiveBackend::Mio {
                let sock = SockRef::from(&fd);
                sock.set_nonblocking(true)?;
                match sock.connect(addr) {
                    Ok(()) => pending = false,
                    Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                    Err(e) => return Err(e),
                }
            }
            let source = IoSource::with_handle(&io, &fd)?;
            let socket = Socket {
                fd: Some(fd),
                source,
            };
            if pending {
                socket.source.connect(socket.raw(), addr).await?;
            }
            Ok(socket)
        }
    }

    /// Sends one datagram, to `addr` or (when `None`) the connected peer.
    pub(crate) async fn send_datagram(
        &self,
        buf: &[u8],
        addr: Option<&SockAddr>,
    ) -> io::Result<usize> {
        poll_fn(|cx| self.source.poll_send_to(cx, self.raw(), buf, addr)).await
    }

    /// Receives one datagram from the connected peer; its length.
    pub(crate) async fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        poll_fn(|cx| self.source.poll_recv(cx, self.raw(), &mut buf)).await?;
        Ok(buf.filled().len())
    }

    /// Receives one datagram; its length and its sender.
    pub(crate) async fn recv_datagram_from(&self, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
        let mut buf = ReadBuf::new(buf);
        let addr = poll_fn(|cx| self.source.poll_recv_from(cx, self.raw(), &mut buf)).await?;
        Ok((buf.filled().len(), addr))
    }

    pub(crate) fn raw(&self) -> RawFd {
        match &self.fd {
            Some(fd) => fd.as_raw_fd(),
            None => -1,
        }
    }

    /// socket2's view, for options and addresses.
    pub(crate) fn sock(&self) -> SockRef<'_> {
        match &self.fd {
            Some(fd) => SockRef::from(fd),
            // `fd` is taken only by `into_owned_fd`, which consumes `self`.
            None => unreachable!("socket used after its descriptor was taken"),
        }
    }

    /// Detaches from the backend and returns the descriptor (for
    /// `into_std`).
    pub(crate) fn into_owned_fd(mut self) -> OwnedFd {
        let fd = self.fd.take().expect("descriptor present until taken");
        // Off Linux, mio is the only backend.
        #[allow(irrefutable_let_patterns)]
        if let IoSource::Mio(reg) = &self.source {
            reg.deregister(fd.as_raw_fd());
        }
        fd
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            self.source.close(fd);
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

#[cfg(test)]
mod tests {
    use super::{GATHER_LIMIT, with_contiguous};
    use std::io::IoSlice;

    #[test]
    fn contiguous_gathers_only_small_writes() {
        let copy = |bufs: &[IoSlice<'_>]| with_contiguous(bufs, |b| (b.as_ptr(), b.to_vec()));
        // One slice is used in place, whatever its size.
        let big = vec![7u8; 4 * GATHER_LIMIT];
        let (ptr, got) = copy(&[IoSlice::new(&big)]).unwrap();
        assert_eq!(ptr, big.as_ptr());
        assert_eq!(got, big);
        // Several totalling the limit are copied, in order.
        let head = vec![1u8; GATHER_LIMIT - 3];
        let (_, got) =
            copy(&[IoSlice::new(&head), IoSlice::new(b""), IoSlice::new(b"end")]).unwrap();
        assert_eq!(got.len(), GATHER_LIMIT);
        assert_eq!(&got[..GATHER_LIMIT - 3], &head[..]);
        assert_eq!(&got[GATHER_LIMIT - 3..], b"end");
        // One byte more takes `sendmsg`.
        assert!(copy(&[IoSlice::new(&head), IoSlice::new(b"ends")]).is_none());
        // Nothing at all is an empty write.
        assert_eq!(copy(&[]).unwrap().1, b"");
    }
}
