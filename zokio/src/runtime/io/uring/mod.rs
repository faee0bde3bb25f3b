//! The `io_uring` backend: one ring per worker. (Being written.)

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::SockAddr;
use tokio::io::ReadBuf;

use super::{DriverConfig, IoHandle};
use crate::buf::{IoBuf, IoBufMut};

/// Creates a tiny ring and checks the opcodes the backend needs.
pub(crate) fn probe_ring() -> Result<(), String> {
    Err("the io_uring backend is not built yet".into())
}

/// One worker's ring.
pub(crate) struct UringDriver {}

impl UringDriver {
    pub(crate) fn new(_config: DriverConfig) -> io::Result<UringDriver> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring backend not built yet",
        ))
    }

    pub(crate) fn park(&self, _timeout: Option<Duration>) {}

    pub(crate) fn poll_now(&self) {}

    pub(crate) fn unpark(&self) {}

    pub(crate) fn shutdown(&self) {}
}

/// The io_uring side of one socket.
pub(crate) struct UringIo {}

impl UringIo {
    pub(crate) fn new(_handle: &std::sync::Arc<IoHandle>, _fd: RawFd) -> io::Result<UringIo> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring backend not built yet",
        ))
    }

    pub(crate) fn poll_read(
        &self,
        _cx: &mut Context<'_>,
        _fd: RawFd,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    pub(crate) fn poll_write(
        &self,
        _cx: &mut Context<'_>,
        _fd: RawFd,
        _buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    pub(crate) fn poll_recv_from(
        &self,
        _cx: &mut Context<'_>,
        _fd: RawFd,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SockAddr>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    pub(crate) fn poll_send_to(
        &self,
        _cx: &mut Context<'_>,
        _fd: RawFd,
        _buf: &[u8],
        _addr: Option<&SockAddr>,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    pub(crate) fn poll_accept(
        &self,
        _cx: &mut Context<'_>,
        _fd: RawFd,
    ) -> Poll<io::Result<(OwnedFd, SockAddr)>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    pub(crate) async fn connect(&self, _fd: RawFd, _addr: &SockAddr) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(crate) async fn read_owned<B: IoBufMut>(
        &self,
        _fd: RawFd,
        buf: B,
    ) -> (io::Result<usize>, B) {
        (Err(io::ErrorKind::Unsupported.into()), buf)
    }

    pub(crate) async fn write_owned<B: IoBuf>(&self, _fd: RawFd, buf: B) -> (io::Result<usize>, B) {
        (Err(io::ErrorKind::Unsupported.into()), buf)
    }

    /// Closes `fd` once no operation of this socket targets it.
    pub(crate) fn close(&self, fd: OwnedFd) {
        drop(fd);
    }
}
