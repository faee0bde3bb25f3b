//! `futures-io`'s `AsyncRead`/`AsyncWrite` for the streams (feature
//! `futures-io`), so the `futures` ecosystem (e.g. `futures::io::copy`,
//! async-tungstenite) takes zokio sockets directly.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::ReadBuf;

use super::{TcpStream, UnixStream, tcp, unix};

macro_rules! futures_read {
    ($($t:ty)*) => {$(
        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let mut buf = ReadBuf::new(buf);
                std::task::ready!(tokio::io::AsyncRead::poll_read(self, cx, &mut buf))?;
                Poll::Ready(Ok(buf.filled().len()))
            }
        }
    )*};
}

macro_rules! futures_write {
    ($($t:ty)*) => {$(
        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                tokio::io::AsyncWrite::poll_flush(self, cx)
            }

            /// Shuts down the write direction, like tokio's `poll_shutdown`.
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                tokio::io::AsyncWrite::poll_shutdown(self, cx)
            }
        }
    )*};
}

futures_read!(TcpStream tcp::OwnedReadHalf UnixStream unix::OwnedReadHalf);
futures_write!(TcpStream tcp::OwnedWriteHalf UnixStream unix::OwnedWriteHalf);

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_futures_io<T: futures_io::AsyncRead + futures_io::AsyncWrite>() {}

    #[test]
    fn streams_implement_the_futures_traits() {
        assert_futures_io::<TcpStream>();
        assert_futures_io::<UnixStream>();
    }
}
