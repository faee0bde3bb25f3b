//! Readability of a descriptor that is read with plain non-blocking
//! `read(2)` (an inotify instance, a pipe), on either backend: a mio
//! registration, or one-shot `POLL_ADD`s on io_uring.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::scheduled::{Direction, Registration};
use super::{ActiveBackend, IoHandle};

/// A non-blocking descriptor registered with the runtime for reading.
pub(crate) struct PollFd {
    fd: Option<OwnedFd>,
    backend: Backend,
}

enum Backend {
    Mio(Registration),
    #[cfg(target_os = "linux")]
    Uring(super::uring::file::UringPollIn),
}

impl PollFd {
    /// Registers `fd` (which must already be non-blocking) with `io`.
    pub(crate) fn new(io: &Arc<IoHandle>, fd: OwnedFd) -> io::Result<PollFd> {
        let backend = match io.backend() {
            ActiveBackend::Mio => Backend::Mio(Registration::new(io, fd.as_raw_fd())?),
            #[cfg(target_os = "linux")]
            ActiveBackend::IoUring => Backend::Uring(super::uring::file::UringPollIn::new(io)?),
            #[cfg(not(target_os = "linux"))]
            ActiveBackend::IoUring => unreachable!("io_uring is never chosen off Linux"),
        };
        Ok(PollFd {
            fd: Some(fd),
            backend,
        })
    }

    pub(crate) fn raw(&self) -> std::os::fd::RawFd {
        self.fd.as_ref().expect("open until drop").as_raw_fd()
    }

    /// Runs `op` (a non-blocking read of the descriptor) once the
    /// descriptor is readable, until it stops failing with `WouldBlock`.
    pub(crate) fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        match &self.backend {
            Backend::Mio(reg) => reg.poll_io(cx, Direction::Read, op),
            #[cfg(target_os = "linux")]
            Backend::Uring(poll) => poll.poll_read_with(cx, self.raw(), op),
        }
    }
}

impl Drop for PollFd {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else { return };
        match &self.backend {
            Backend::Mio(reg) => {
                reg.deregister(fd.as_raw_fd());
                drop(fd);
            }
            #[cfg(target_os = "linux")]
            Backend::Uring(poll) => poll.close(fd),
        }
    }
}
