//! Read and write halves of a stream socket, borrowed and owned; one macro
//! stamps them out for TCP and Unix streams, which share the socket layer.

use std::io::{self, IoSlice};
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

        #[doc = concat!("The read half of [`", stringify!($stream), "::split`].")]
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a Socket);

        #[doc = concat!("The write half of [`", stringify!($stream), "::split`].")]
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a Socket);

        $crate::net::split::impl_async_read!(ReadHalf<'_>, s => s.0);
        $crate::net::split::impl_async_write!(WriteHalf<'_>, s => s.0);

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

pub(crate) use {impl_async_read, impl_async_write, stream_socket};
