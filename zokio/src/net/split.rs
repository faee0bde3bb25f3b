//! Read and write halves of a stream socket, borrowed and owned; one macro
//! stamps them out for TCP and Unix streams, which share the socket layer.

use std::io::{self, IoSlice, IoSliceMut};

use bytes::BufMut;
use std::net::Shutdown;
use std::task::{Context, Poll};

use tokio::io::ReadBuf;

use crate::buf::IoBuf;
use crate::runtime::io::source::Socket;

pub(crate) fn poll_read(
    socket: &Socket,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    socket.source.poll_read(cx, socket.raw(), buf)
}

pub(crate) fn poll_write(
    socket: &Socket,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    socket.source.poll_write(cx, socket.raw(), buf)
}

/// A gathering write: the slices' bytes go out in order as one write.
pub(crate) fn poll_write_vectored(
    socket: &Socket,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    socket.source.poll_write_vectored(cx, socket.raw(), bufs)
}

/// Shuts down the write direction (the peer reads end of stream).
pub(crate) fn shutdown_write(socket: &Socket) -> Poll<io::Result<()>> {
    match socket.sock().shutdown(Shutdown::Write) {
        // Already shut down, or the peer is gone: nothing left to flush.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
        r => Poll::Ready(r),
    }
}

pub(crate) fn poll_peek(
    socket: &Socket,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<usize>> {
    let before = buf.filled().len();
    std::task::ready!(socket.source.poll_peek(cx, socket.raw(), buf))?;
    Poll::Ready(Ok(buf.filled().len() - before))
}

pub(crate) async fn peek(socket: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    let mut buf = ReadBuf::new(buf);
    std::future::poll_fn(|cx| poll_peek(socket, cx, &mut buf)).await
}

pub(crate) fn try_read(socket: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    let mut buf = ReadBuf::new(buf);
    socket.source.try_read(socket.raw(), &mut buf)?;
    Ok(buf.filled().len())
}

pub(crate) fn try_write(socket: &Socket, buf: &[u8]) -> io::Result<usize> {
    socket.source.try_write(socket.raw(), buf)
}

pub(crate) fn try_write_vectored(socket: &Socket, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    socket.source.try_write_vectored(socket.raw(), bufs)
}

pub(crate) fn try_read_vectored(socket: &Socket, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    socket.source.try_read_vectored(socket.raw(), bufs)
}

/// Reads without waiting into `buf`'s spare capacity (a `Vec` grows for
/// it), advancing `buf` by the count.
pub(crate) fn try_read_buf<B: BufMut + ?Sized>(socket: &Socket, buf: &mut B) -> io::Result<usize> {
    with_spare(buf, |spare| socket.source.try_read(socket.raw(), spare)).map(|((), n)| n)
}

/// Runs `read` on a `ReadBuf` over `buf`'s spare capacity, then advances
/// `buf` by what `read` filled; returns `read`'s result and that count.
/// `read`'s error (nothing filled) is returned as is.
pub(crate) fn with_spare<B: BufMut + ?Sized, R>(
    buf: &mut B,
    read: impl FnOnce(&mut ReadBuf<'_>) -> io::Result<R>,
) -> io::Result<(R, usize)> {
    let chunk = buf.chunk_mut();
    // SAFETY: the slice is only written through the `ReadBuf`, which never
    // de-initializes memory; `read` fills a prefix of it and `filled` says
    // how much.
    let spare = unsafe { chunk.as_uninit_slice_mut() };
    let mut read_buf = ReadBuf::uninit(spare);
    let result = read(&mut read_buf)?;
    let n = read_buf.filled().len();
    // SAFETY: the first `n` bytes of the chunk were initialized by `read`
    // (a `ReadBuf`'s filled part is initialized).
    unsafe { buf.advance_mut(n) };
    Ok((result, n))
}

pub(crate) fn poll_read_ready(socket: &Socket, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    socket.source.poll_read_ready(cx, socket.raw())
}

pub(crate) fn poll_write_ready(socket: &Socket, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    socket.source.poll_write_ready(cx, socket.raw())
}

/// Writes all of `buf`'s initialized bytes, then gives it back.
pub(crate) async fn write_all_owned<B: IoBuf>(socket: &Socket, buf: B) -> (io::Result<()>, B) {
    let total = buf.bytes_init();
    let mut written = 0;
    let mut buf = buf;
    while written < total {
        // The whole buffer goes in; resend the tail after a short write by
        // copying the remainder (short writes are rare on a blocking-mode
        // socket and on a writable non-blocking one).
        if written == 0 {
            let (r, b) = socket.source.write_owned(socket.raw(), buf).await;
            buf = b;
            match r {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => written += n,
                Err(e) => return (Err(e), buf),
            }
        } else {
            // SAFETY: `IoBuf` promises `total` initialized bytes at
            // `stable_ptr`, and `buf` is not mutated while the slice lives.
            let rest =
                unsafe { std::slice::from_raw_parts(buf.stable_ptr(), total) }[written..].to_vec();
            let (r, _) = socket.source.write_owned(socket.raw(), rest).await;
            match r {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => written += n,
                Err(e) => return (Err(e), buf),
            }
        }
    }
    (Ok(()), buf)
}

/// `AsyncRead` for `$t`, reading from the socket `$sock` (with `$s` bound
/// to `&Self`).
macro_rules! impl_async_read {
    ($t:ty, $s:ident => $sock:expr) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let $s = &*self;
                $crate::net::split::poll_read($sock, cx, buf)
            }
        }
    };
}

/// `AsyncWrite` for `$t`, writing to the socket `$sock`, vectored writes
/// included (so a caller's several buffers go out in one write, not just the
/// first of them). Writes go straight to the kernel, so flushing has nothing
/// to do; shutting down shuts the write direction (the peer reads end of
/// stream).
macro_rules! impl_async_write {
    ($t:ty, $s:ident => $sock:expr) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $crate::net::split::poll_write($sock, cx, buf)
            }

            /// One `sendmsg` of the slices (on io_uring, when the socket
            /// buffer is full, up to 64 KiB of them gathered and sent by the
            /// ring).
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $crate::net::split::poll_write_vectored($sock, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $s = &*self;
                $crate::net::split::shutdown_write($sock)
            }
        }
    };
}

/// The read-side readiness methods (`readable`, `try_read`, `peek`, their
/// `poll_*` forms) for a type whose socket is `$sock` (with `$s` bound to
/// `&self`), documented once for streams and their read halves.
macro_rules! impl_read_readiness {
    ($t:ty, $s:ident => $sock:expr) => {
        impl $t {
            /// Waits until the stream may be readable: bytes to read, end of
            /// stream or an error. Then [`try_read`](Self::try_read) reads
            /// without waiting. Readiness can be spurious (another reader
            /// took the bytes): `try_read` then says `WouldBlock`, and the
            /// next `readable` waits for real.
            ///
            /// On io_uring this starts a receive when none is in flight; the
            /// bytes it brings in (up to 64 KiB) are kept in the stream for
            /// `try_read`, `peek` or the next read, in order. They have left
            /// the kernel: code that reads the descriptor itself (through
            /// `AsRawFd`) or asks the kernel how much is queued (`FIONREAD`)
            /// does not see them.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is read.
            pub async fn readable(&self) -> io::Result<()> {
                std::future::poll_fn(|cx| self.poll_read_ready(cx)).await
            }

            /// The `poll` form of [`readable`](Self::readable). Any number
            /// of tasks may wait at once; each is woken once.
            pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $s = self;
                $crate::net::split::poll_read_ready($sock, cx)
            }

            /// Reads what is there without waiting: the count (0 at end of
            /// stream), or a `WouldBlock` error when nothing is; wait with
            /// [`readable`](Self::readable), then try again.
            pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                let $s = self;
                $crate::net::split::try_read($sock, buf)
            }

            /// [`try_read`](Self::try_read) into several buffers, filled in
            /// order. On io_uring, where received bytes may already be held
            /// in the stream, only the first non-empty buffer is filled.
            pub fn try_read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> io::Result<usize> {
                let $s = self;
                $crate::net::split::try_read_vectored($sock, bufs)
            }

            /// [`try_read`](Self::try_read) into `buf`'s spare capacity,
            /// advancing it by the count (a `Vec` makes room for at least
            /// 64 bytes when it has none, as `BufMut::chunk_mut` does).
            pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                let $s = self;
                $crate::net::split::try_read_buf($sock, buf)
            }

            /// Reads into `buf` without taking the bytes: the next read
            /// returns them again. Waits until there is something; `Ok(0)`
            /// means end of stream. On io_uring the bytes are received into
            /// the stream and peeked there (see [`readable`](Self::readable)).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is taken.
            pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                let $s = self;
                $crate::net::split::peek($sock, buf).await
            }

            /// The `poll` form of [`peek`](Self::peek): the count, appended
            /// to `buf`'s filled part.
            pub fn poll_peek(
                &self,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<usize>> {
                let $s = self;
                $crate::net::split::poll_peek($sock, cx, buf)
            }
        }
    };
}

/// The write-side readiness methods (`writable`, `try_write`,
/// `poll_write_ready`), as [`impl_read_readiness`].
macro_rules! impl_write_readiness {
    ($t:ty, $s:ident => $sock:expr) => {
        impl $t {
            /// Waits until the stream may be writable (room in the socket
            /// buffer, or an error to report). Then
            /// [`try_write`](Self::try_write) writes without waiting.
            /// Readiness can be spurious: `try_write` then says
            /// `WouldBlock`, and the next `writable` waits for real.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is written.
            pub async fn writable(&self) -> io::Result<()> {
                std::future::poll_fn(|cx| self.poll_write_ready(cx)).await
            }

            /// The `poll` form of [`writable`](Self::writable). Any number
            /// of tasks may wait at once; each is woken once.
            pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $s = self;
                $crate::net::split::poll_write_ready($sock, cx)
            }

            /// Writes what the socket buffer takes now, without waiting: the
            /// count, or a `WouldBlock` error when it takes nothing; wait
            /// with [`writable`](Self::writable), then try again.
            ///
            /// On io_uring a `write` that returned `Pending` has already
            /// handed its bytes to the kernel; trying the same bytes again
            /// with `try_write` returns that write's count instead of
            /// sending them twice.
            pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                let $s = self;
                $crate::net::split::try_write($sock, buf)
            }

            /// [`try_write`](Self::try_write) of several buffers, their
            /// bytes in order as one write (with the same resend rule on
            /// io_uring).
            pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
                let $s = self;
                $crate::net::split::try_write_vectored($sock, bufs)
            }
        }
    };
}

/// `ready(interest)` for a stream type whose socket is `$sock` (with `$s`
/// bound to `&self`); `$datagram` picks the datagram sockets' waits.
macro_rules! impl_ready {
    ($t:ty, $s:ident => $sock:expr, $datagram:expr) => {
        impl $t {
            /// Waits until any direction of `interest` may not have to
            /// wait, and says which ([`Ready`](crate::io::Ready)); then the
            /// `try_*` calls of those directions go through without
            /// waiting (or say `WouldBlock` when the readiness was
            /// spurious). With [`Interest::READABLE`](crate::io::Interest)
            /// on io_uring this starts a receive, as `readable` does.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is read or written.
            pub async fn ready(
                &self,
                interest: crate::io::Interest,
            ) -> io::Result<crate::io::Ready> {
                let $s = self;
                let socket: &Socket = $sock;
                std::future::poll_fn(|cx| {
                    socket
                        .source
                        .poll_ready(cx, socket.raw(), interest, $datagram)
                })
                .await
            }
        }
    };
}

/// What TCP and Unix streams share, for a `$stream { socket: Arc<Socket> }`
/// whose addresses are `$addr` (converted by `$conv`): the owned-buffer
/// methods, `split`/`into_split` and their halves, and tokio's I/O traits.
macro_rules! stream_socket {
    ($stream:ident, $addr:ty, $conv:path) => {
        impl $stream {
            /// Reads into `buf`'s spare capacity (for a `Vec`, from `len()` to
            /// `capacity()`), extends its initialized length by the count, and
            /// gives the buffer back with the count. `Ok(0)` means end of
            /// stream (or a buffer with no spare capacity).
            ///
            /// On io_uring the kernel writes straight into `buf`; dropping the
            /// future before it completes cancels the read, and the buffer is
            /// freed only once the kernel is done with it.
            ///
            /// # Cancel safety
            ///
            /// Not cancel safe on io_uring: if the kernel completed the
            /// receive just before the future was dropped, the bytes it
            /// received are freed with the buffer. Where a read may be
            /// abandoned (a `select!` branch, a timeout), use
            /// `AsyncReadExt::read`, which keeps bytes received for a dropped
            /// read and returns them to the next one. On mio this method is
            /// cancel safe.
            pub async fn read_owned<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
                self.socket.source.read_owned(self.socket.raw(), buf).await
            }

            /// Writes some of `buf`'s initialized bytes; returns how many,
            /// with the buffer.
            pub async fn write_owned<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
                self.socket.source.write_owned(self.socket.raw(), buf).await
            }

            /// Writes all of `buf`'s initialized bytes, then gives it back.
            pub async fn write_all_owned<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
                $crate::net::split::write_all_owned(&self.socket, buf).await
            }

            /// Takes the socket's pending error (`SO_ERROR`), clearing it.
            pub fn take_error(&self) -> io::Result<Option<io::Error>> {
                self.socket.sock().take_error()
            }

            /// Borrowed read and write halves, usable at the same time (e.g.
            /// in `join!`), for the lifetime of the borrow.
            pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
                (ReadHalf(&self.socket), WriteHalf(&self.socket))
            }

            /// Owned read and write halves, each movable to its own task.
            /// Dropping the write half shuts down the write direction; the
            /// socket closes when both are dropped.
            /// [`OwnedReadHalf::reunite`] puts them back together.
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let socket = self.socket.clone();
                (
                    OwnedReadHalf {
                        socket: self.socket,
                    },
                    OwnedWriteHalf {
                        socket,
                        shutdown_on_drop: true,
                    },
                )
            }
        }

        $crate::net::split::impl_async_read!($stream, s => &s.socket);
        $crate::net::split::impl_async_write!($stream, s => &s.socket);
        $crate::net::split::impl_read_readiness!($stream, s => &s.socket);
        $crate::net::split::impl_write_readiness!($stream, s => &s.socket);
        $crate::net::split::impl_ready!($stream, s => &s.socket, false);

        #[doc = concat!("The read half of [`", stringify!($stream), "::split`].")]
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a Socket);

        #[doc = concat!("The write half of [`", stringify!($stream), "::split`].")]
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a Socket);

        $crate::net::split::impl_async_read!(ReadHalf<'_>, s => s.0);
        $crate::net::split::impl_async_write!(WriteHalf<'_>, s => s.0);
        $crate::net::split::impl_read_readiness!(ReadHalf<'_>, s => s.0);
        $crate::net::split::impl_write_readiness!(WriteHalf<'_>, s => s.0);

        #[doc = concat!("The owned read half of [`", stringify!($stream), "::into_split`].")]
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            socket: Arc<Socket>,
        }

        #[doc = concat!("The owned write half of [`", stringify!($stream), "::into_split`]; dropping it shuts")]
        /// down the write direction.
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            socket: Arc<Socket>,
            shutdown_on_drop: bool,
        }

        $crate::net::split::impl_async_read!(OwnedReadHalf, s => &s.socket);
        $crate::net::split::impl_async_write!(OwnedWriteHalf, s => &s.socket);
        $crate::net::split::impl_read_readiness!(OwnedReadHalf, s => &s.socket);
        $crate::net::split::impl_write_readiness!(OwnedWriteHalf, s => &s.socket);
        $crate::net::split::impl_ready!(OwnedReadHalf, s => &s.socket, false);
        $crate::net::split::impl_ready!(OwnedWriteHalf, s => &s.socket, false);

        /// The halves given to [`OwnedReadHalf::reunite`] came from different
        /// streams; both are handed back.
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        impl OwnedReadHalf {
            /// Puts the stream back together, if both halves are from it.
            pub fn reunite(self, mut other: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                if Arc::ptr_eq(&self.socket, &other.socket) {
                    other.shutdown_on_drop = false;
                    drop(other);
                    Ok($stream {
                        socket: self.socket,
                    })
                } else {
                    Err(ReuniteError(self, other))
                }
            }

            /// The address of the peer.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                $conv(self.socket.sock().peer_addr()?)
            }

            /// The local address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                $conv(self.socket.sock().local_addr()?)
            }

            #[doc = concat!("See [`", stringify!($stream), "::read_owned`].")]
            pub async fn read_owned<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
                self.socket.source.read_owned(self.socket.raw(), buf).await
            }
        }

        impl OwnedWriteHalf {
            /// The address of the peer.
            pub fn peer_addr(&self) -> io::Result<$addr> {
                $conv(self.socket.sock().peer_addr()?)
            }

            /// The local address.
            pub fn local_addr(&self) -> io::Result<$addr> {
                $conv(self.socket.sock().local_addr()?)
            }

            #[doc = concat!("See [`", stringify!($stream), "::write_owned`].")]
            pub async fn write_owned<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
                self.socket.source.write_owned(self.socket.raw(), buf).await
            }

            #[doc = concat!("See [`", stringify!($stream), "::write_all_owned`].")]
            pub async fn write_all_owned<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
                $crate::net::split::write_all_owned(&self.socket, buf).await
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                if self.shutdown_on_drop {
                    // Like tokio: the peer sees end of stream. A socket that is
                    // already closed by the peer has nothing to report.
                    let _ = self.socket.sock().shutdown(std::net::Shutdown::Write);
                }
            }
        }
    };
}

pub(crate) use {
    impl_async_read, impl_async_write, impl_read_readiness, impl_ready, impl_write_readiness,
    stream_socket,
};
