//! [`ZokioIo`]: tokio's I/O traits on one side, hyper's on the other.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps an I/O object so that it implements the other family of I/O
/// traits: hyper's [`Read`](::hyper::rt::Read)/[`Write`](::hyper::rt::Write)
/// for anything implementing zokio's (that is, tokio's)
/// [`AsyncRead`]/[`AsyncWrite`], such as [`TcpStream`](crate::net::TcpStream)
/// or [`UnixStream`](crate::net::UnixStream); and the reverse, tokio's traits
/// for anything implementing hyper's, such as an
/// [`Upgraded`](::hyper::upgrade::Upgraded) connection.
///
/// The wrapper adds no buffering and no copies: each call goes straight to
/// the wrapped object.
///
/// ```
/// use zokio::compat::hyper::ZokioIo;
/// use zokio::io::{AsyncReadExt, AsyncWriteExt};
/// use zokio::net::UnixStream;
///
/// fn takes_hyper_io<T: hyper::rt::Read + hyper::rt::Write + Unpin>(_: &T) {}
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     // What hyper's `serve_connection`/`handshake` take.
///     let a = ZokioIo::new(a);
///     takes_hyper_io(&a);
///     // Wrapping twice gives tokio's traits back.
///     let mut a = ZokioIo::new(a);
///     let mut b = b;
///     a.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZokioIo<T> {
    inner: T,
}

impl<T> ZokioIo<T> {
    /// Wraps `inner`.
    ///
    /// ```
    /// use zokio::compat::hyper::ZokioIo;
    ///
    /// let io = ZokioIo::new(std::io::empty());
    /// let _: &std::io::Empty = io.inner();
    /// ```
    pub fn new(inner: T) -> Self {
        ZokioIo { inner }
    }

    /// The wrapped object.
    ///
    /// ```
    /// use zokio::compat::hyper::ZokioIo;
    ///
    /// let io = ZokioIo::new(vec![1u8, 2, 3]);
    /// assert_eq!(io.inner().len(), 3);
    /// ```
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped object, mutably.
    ///
    /// ```
    /// use zokio::compat::hyper::ZokioIo;
    ///
    /// let mut io = ZokioIo::new(vec![1u8, 2, 3]);
    /// io.inner_mut().push(4);
    /// assert_eq!(io.inner().len(), 4);
    /// ```
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the object.
    ///
    /// ```
    /// use zokio::compat::hyper::ZokioIo;
    ///
    /// assert_eq!(ZokioIo::new(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }

    fn project(self: Pin<&mut Self>) -> Pin<&mut T> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of a
        // pinned `ZokioIo` (no method takes it by value from a `Pin`, and
        // `ZokioIo` has no `Drop` impl), and `ZokioIo<T>` is `Unpin` only
        // when `T` is.
        unsafe { self.map_unchecked_mut(|io| &mut io.inner) }
    }
}

/// hyper reads from a tokio-trait object: tokio's [`ReadBuf`] is laid over
/// the unfilled part of hyper's buffer, so bytes land in place.
impl<T: AsyncRead> ::hyper::rt::Read for ZokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ::hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: tokio's `ReadBuf` never de-initialises bytes, and the
        // reader may only write initialised bytes into it (`AsyncRead`'s
        // contract), so no byte hyper knew as initialised becomes
        // uninitialised.
        let unfilled: &mut [MaybeUninit<u8>] = unsafe { buf.as_mut() };
        let start = unfilled.as_ptr();
        let mut tokio_buf = ReadBuf::uninit(unfilled);
        match self.project().poll_read(cx, &mut tokio_buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let filled = tokio_buf.filled();
        // A reader could swap in another `ReadBuf` (it has `&mut`); then the
        // bytes it reports are not in hyper's buffer.
        assert!(
            filled.is_empty() || std::ptr::eq(filled.as_ptr().cast(), start),
            "an AsyncRead implementation replaced the ReadBuf it was given"
        );
        let n = filled.len();
        // SAFETY: the first `n` bytes of the unfilled part are `filled()`,
        // which tokio's `ReadBuf` guarantees are initialised, and the assert
        // above checked that they are this buffer's bytes.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> ::hyper::rt::Write for ZokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().poll_write_vectored(cx, bufs)
    }
}

/// tokio-trait code reads from a hyper-trait object (an upgraded
/// connection, say): hyper's `ReadBuf` is laid over the unfilled part of
/// tokio's.
impl<T: ::hyper::rt::Read> AsyncRead for ZokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: hyper's `ReadBuf` never de-initialises bytes and its
        // cursor only lets the reader write initialised bytes, so no byte
        // tokio knew as initialised becomes uninitialised.
        let unfilled = unsafe { buf.unfilled_mut() };
        let mut hyper_buf = ::hyper::rt::ReadBuf::uninit(unfilled);
        match ::hyper::rt::Read::poll_read(self.project(), cx, hyper_buf.unfilled()) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        // hyper's cursor cannot be swapped for another buffer, so these are
        // bytes of tokio's buffer.
        let n = hyper_buf.filled().len();
        // SAFETY: the first `n` bytes of the unfilled part are hyper's
        // `filled()`, which it guarantees are initialised.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: ::hyper::rt::Write> AsyncWrite for ZokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ::hyper::rt::Write::poll_write(self.project(), cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ::hyper::rt::Write::poll_flush(self.project(), cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ::hyper::rt::Write::poll_shutdown(self.project(), cx)
    }

    fn is_write_vectored(&self) -> bool {
        ::hyper::rt::Write::is_write_vectored(&self.inner)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ::hyper::rt::Write::poll_write_vectored(self.project(), cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// A tokio-trait reader that hands out `data` in chunks of `chunk`.
    struct Chunks {
        data: Vec<u8>,
        chunk: usize,
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.chunk.min(self.data.len()).min(buf.remaining());
            let rest = self.data.split_off(n);
            buf.put_slice(&self.data);
            self.data = rest;
            Poll::Ready(Ok(()))
        }
    }

    /// Reads `io` to the end through hyper's trait, with a small buffer.
    fn read_all_hyper(io: &mut ZokioIo<Chunks>) -> Vec<u8> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        loop {
            let mut storage = [MaybeUninit::<u8>::uninit(); 5];
            let mut buf = ::hyper::rt::ReadBuf::uninit(&mut storage);
            let polled = ::hyper::rt::Read::poll_read(Pin::new(&mut *io), &mut cx, buf.unfilled());
            assert!(matches!(polled, Poll::Ready(Ok(()))));
            if buf.filled().is_empty() {
                return out;
            }
            out.extend_from_slice(buf.filled());
        }
    }

    #[test]
    fn hyper_reads_through_tokio_traits() {
        let data: Vec<u8> = (0..=255).collect();
        let mut io = ZokioIo::new(Chunks {
            data: data.clone(),
            chunk: 3,
        });
        assert_eq!(read_all_hyper(&mut io), data);
    }

    #[test]
    fn tokio_reads_through_hyper_traits() {
        let data: Vec<u8> = (0..100).collect();
        // Twice wrapped: tokio trait -> hyper trait -> tokio trait.
        let mut io = ZokioIo::new(ZokioIo::new(Chunks {
            data: data.clone(),
            chunk: 7,
        }));
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        loop {
            let mut storage = [0u8; 10];
            let mut buf = ReadBuf::new(&mut storage);
            let polled = Pin::new(&mut io).poll_read(&mut cx, &mut buf);
            assert!(matches!(polled, Poll::Ready(Ok(()))));
            if buf.filled().is_empty() {
                break;
            }
            assert!(buf.filled().len() <= 7);
            out.extend_from_slice(buf.filled());
        }
        assert_eq!(out, data);
    }

    /// A reader that breaks the rules: it fills a `ReadBuf` of its own.
    struct Swapper(Box<[u8; 4]>);

    impl AsyncRead for Swapper {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let own: &'static mut [u8; 4] = Box::leak(std::mem::take(&mut self.0));
            *buf = ReadBuf::new(own);
            buf.put_slice(b"evil");
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    #[should_panic(expected = "replaced the ReadBuf")]
    fn a_reader_that_swaps_the_buffer_is_caught() {
        let mut io = ZokioIo::new(Swapper(Box::new([0; 4])));
        let mut cx = Context::from_waker(Waker::noop());
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = ::hyper::rt::ReadBuf::uninit(&mut storage);
        let _ = ::hyper::rt::Read::poll_read(Pin::new(&mut io), &mut cx, buf.unfilled());
    }
}
