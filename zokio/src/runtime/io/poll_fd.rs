//! Readiness of a descriptor used with plain non-blocking calls (an
//! inotify instance, a pipe, an `AsyncFd`'s descriptor), on either backend:
//! a mio registration, or one-shot `POLL_ADD`s on io_uring.

use std::io;
use std::os::fd::RawFd;
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

pub(crate) use super::scheduled::Direction;
use super::scheduled::{ReadyEvent, Registration, Wait};
use super::{ActiveBackend, IoHandle};

/// A descriptor's read and write readiness, registered with the runtime.
/// It does not own the descriptor: the caller passes it to each call and
/// calls [`release`](Self::release) or [`close`](Self::close) at the end.
pub(crate) struct FdReadiness {
    backend: Backend,
}

enum Backend {
    /// Waits join the registration's shared list, so several tasks may
    /// wait for the same descriptor, as in tokio.
    Mio { registration: Registration },
    #[cfg(target_os = "linux")]
    Uring {
        read: super::uring::file::UringPoll,
        write: super::uring::file::UringPoll,
    },
}

/// Readiness a caller saw, to pass back to
/// [`clear_ready`](FdReadiness::clear_ready) when a call finds it stale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadyToken(Option<ReadyEvent>);

impl ReadyToken {
    /// What the wait in `direction` saw: the registration's bits on mio;
    /// on io_uring, where a poll reports only that it fired, the
    /// direction's readiness.
    pub(crate) fn ready(self, direction: Direction) -> crate::io::Ready {
        match (self.0, direction) {
            (Some(event), _) => crate::io::Ready::from_bits(event.bits()),
            (None, Direction::Read) => crate::io::Ready::READABLE,
            (None, Direction::Write) => crate::io::Ready::WRITABLE,
        }
    }
}

impl FdReadiness {
    /// Registers `fd` (which must be non-blocking and stay open until
    /// [`release`](Self::release)) with `io`.
    pub(crate) fn new(io: &Arc<IoHandle>, fd: RawFd) -> io::Result<FdReadiness> {
        let backend = match io.backend() {
            ActiveBackend::Mio => Backend::Mio {
                registration: Registration::new(io, fd)?,
            },
            #[cfg(target_os = "linux")]
            ActiveBackend::IoUring => {
                let (read, write) = super::uring::file::UringPoll::pair(io)?;
                Backend::Uring { read, write }
            }
            #[cfg(not(target_os = "linux"))]
            ActiveBackend::IoUring => unreachable!("io_uring is never chosen off Linux"),
        };
        Ok(FdReadiness { backend })
    }

    /// `Ready` once `fd` may be ready in `direction` (it may still turn out
    /// not to be: readiness can be stale, as with epoll).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        fd: RawFd,
    ) -> Poll<io::Result<ReadyToken>> {
        // Only io_uring's polls name the descriptor.
        #[cfg(not(target_os = "linux"))]
        let _ = fd;
        match &self.backend {
            Backend::Mio { registration } => registration
                .poll_ready_event(cx, direction, Wait::Shared)
                .map_ok(|event| ReadyToken(Some(event))),
            #[cfg(target_os = "linux")]
            Backend::Uring { read, write } => {
                let poll = match direction {
                    Direction::Read => read,
                    Direction::Write => write,
                };
                poll.poll_ready(cx, fd).map_ok(|()| ReadyToken(None))
            }
        }
    }

    /// A call in `direction` failed with `WouldBlock` after `token`: forget
    /// that readiness (unless newer readiness arrived meanwhile).
    pub(crate) fn clear_ready(&self, token: ReadyToken, direction: Direction) {
        match &self.backend {
            Backend::Mio { registration, .. } => {
                if let Some(event) = token.0 {
                    registration.clear_readiness(event, direction);
                }
            }
            #[cfg(target_os = "linux")]
            Backend::Uring { read, write } => match direction {
                Direction::Read => read.clear_ready(),
                Direction::Write => write.clear_ready(),
            },
        }
    }

    /// Runs `op` (a non-blocking call on `fd`) once `fd` is ready in
    /// `direction`, until it stops failing with `WouldBlock`.
    #[cfg(target_os = "linux")]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        fd: RawFd,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let token = std::task::ready!(self.poll_ready(cx, direction, fd))?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_ready(token, direction);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Deregisters `fd` and cancels pending polls; the caller keeps the
    /// descriptor (and may close it at once: an io_uring poll holds its own
    /// reference to the file until the cancellation completes).
    pub(crate) fn release(&self, fd: RawFd) {
        match &self.backend {
            Backend::Mio { registration, .. } => registration.deregister(fd),
            #[cfg(target_os = "linux")]
            Backend::Uring { read, write } => {
                read.cancel();
                write.cancel();
            }
        }
    }

    /// Deregisters and closes `fd` (on io_uring, once the rings hold nothing
    /// naming it).
    #[cfg(target_os = "linux")]
    pub(crate) fn close(&self, fd: OwnedFd) {
        match &self.backend {
            Backend::Mio { registration, .. } => {
                registration.deregister(fd.as_raw_fd());
                drop(fd);
            }
            #[cfg(target_os = "linux")]
            Backend::Uring { read, write } => {
                write.cancel();
                read.close(fd);
            }
        }
    }
}

/// A non-blocking descriptor registered with the runtime for reading, and
/// closed by it (inotify's, for `fs::watch`).
#[cfg(target_os = "linux")]
pub(crate) struct PollFd {
    fd: Option<OwnedFd>,
    readiness: FdReadiness,
}

#[cfg(target_os = "linux")]
impl PollFd {
    /// Registers `fd` (which must already be non-blocking) with `io`.
    pub(crate) fn new(io: &Arc<IoHandle>, fd: OwnedFd) -> io::Result<PollFd> {
        Ok(PollFd {
            readiness: FdReadiness::new(io, fd.as_raw_fd())?,
            fd: Some(fd),
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_ref().expect("open until drop").as_raw_fd()
    }

    /// Runs `op` (a non-blocking read of the descriptor) once the
    /// descriptor is readable, until it stops failing with `WouldBlock`.
    pub(crate) fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.readiness.poll_io(cx, Direction::Read, self.raw(), op)
    }
}

#[cfg(target_os = "linux")]
impl Drop for PollFd {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            self.readiness.close(fd);
        }
    }
}
